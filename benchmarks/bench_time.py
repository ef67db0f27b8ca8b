"""TT2000 decode/encode rate of xspace.time vs cdflib, measured in the same process.

Run:  python benchmarks/bench_time.py [--n 10000000] [--decode-baseline-n 2000000] [--encode-baseline-n 200000]

Decode: ``xspace.time.tt2000_to_datetime64`` vs ``cdflib.cdfepoch.to_datetime`` (the same
datetime64[ns] result) on N time-ordered TT2000 values spanning 2000-2030 (the usual shape of a CDF
Epoch variable) and on N random-order values. Encode: ``datetime64_to_tt2000`` vs
``cdflib.cdfepoch.compute_tt2000`` (a Python loop per value, so it is timed on a smaller sample and
reported as a rate). Prints values/s and the ratio xspace/cdflib.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _best_rate(func, arg, n, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func(arg)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="number of TT2000 values")
    parser.add_argument("--decode-baseline-n", type=int, default=2_000_000,
                        help="values for the cdflib decode baselines (memory-hungry: 9 int64 per value)")
    parser.add_argument("--encode-baseline-n", type=int, default=200_000,
                        help="values for the (slow, per-value) cdflib encode baseline")
    args = parser.parse_args(argv)

    from cdflib.epochs import CDFepoch

    from xspace import time as xt

    n = args.n
    rng = np.random.default_rng(0)
    lo, hi = 0, 30 * 365 * 86400 * 10**9
    ordered = np.sort(rng.integers(lo, hi, n, dtype=np.int64))
    shuffled = rng.permutation(ordered)

    xt.tt2000_to_datetime64(ordered[:10])  # compile (or load the numba cache) outside the timing
    xt.datetime64_to_tt2000(xt.tt2000_to_datetime64(ordered[:10]))

    ours_dec = _best_rate(xt.tt2000_to_datetime64, ordered, n)
    ours_dec_random = _best_rate(xt.tt2000_to_datetime64, shuffled, n)
    k = min(args.decode_baseline_n, n)
    cdflib_dec = _best_rate(CDFepoch.to_datetime, ordered[:k], k, repeat=1)
    cdflib_breakdown = _best_rate(CDFepoch.breakdown_tt2000, ordered[:k], k, repeat=1)
    check = xt.tt2000_to_datetime64(ordered[:100000])
    assert np.array_equal(check, CDFepoch.to_datetime(ordered[:100000])), "results differ from cdflib"

    times = xt.tt2000_to_datetime64(ordered)
    ours_enc = _best_rate(xt.datetime64_to_tt2000, times, n)
    m = min(args.encode_baseline_n, n)
    comps = np.atleast_2d(CDFepoch.breakdown_tt2000(ordered[:m]))
    t0 = time.perf_counter()
    ref = CDFepoch.compute_tt2000(comps)
    cdflib_enc = m / (time.perf_counter() - t0)
    assert np.array_equal(np.asarray(ref), xt.datetime64_to_tt2000(times[:m])), "encode differs from cdflib"

    print(f"TT2000 decode, {n:,} time-ordered values:")
    print(f"  xspace  {ours_dec / 1e6:8.1f} M values/s")
    print(f"  cdflib  {cdflib_dec / 1e6:8.2f} M values/s   (to_datetime -> datetime64, on {k:,} values)")
    print(f"  cdflib  {cdflib_breakdown / 1e6:8.2f} M values/s   (breakdown_tt2000 -> components only)")
    print(f"  ratio   {ours_dec / cdflib_dec:8.1f} x vs to_datetime, {ours_dec / cdflib_breakdown:.1f} x vs breakdown_tt2000")
    print(f"TT2000 decode, {n:,} random-order values: xspace {ours_dec_random / 1e6:.1f} M values/s "
          f"({ours_dec_random / cdflib_dec:.1f} x cdflib)")
    print(f"TT2000 encode, {n:,} values:")
    print(f"  xspace  {ours_enc / 1e6:8.1f} M values/s")
    print(f"  cdflib  {cdflib_enc / 1e6:8.3f} M values/s   (compute_tt2000 on {m:,} values)")
    print(f"  ratio   {ours_enc / cdflib_enc:8.1f} x")


if __name__ == "__main__":
    main()
