"""L* surrogate benchmark: points per second against the solver (same run) and its error.

Run: ``python benchmarks/bench_lstar_surrogate.py`` (about a minute on 2 cores); ``--check N``
sets the number of fresh random points compared with the solver (default 300).

1. Throughput of :func:`xspace.magnetosphere.surrogate.lstar_surrogate` (T89, one pitch angle),
   best of 3, for (a) a 1-s cadence time series of 10^6 GSM positions (an ephemeris: the frame
   rotations are interpolated between 10-minute bins) and (b) 2x10^5 points at random distinct
   times (every point needs its own rotation matrices: the worst case), against the solver
   :func:`xspace.magnetosphere.lstar` (T89, default accuracy, all cores) on 200 points.
2. Error: the held-out statistics saved with the weights (9000 samples drawn by
   ``tools/train_lstar_surrogate.py`` with a fixed seed), and the same statistics on fresh
   random domain points computed here by the solver.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xspace.magnetosphere import lstar
from xspace.magnetosphere.coords import transform
from xspace.magnetosphere.surrogate import lstar_surrogate, surrogate_info


def domain_points(rng, n, distinct_times=True):
    r = rng.uniform(3.0, 8.0, n)
    lat = np.radians(rng.uniform(-30, 30, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    sm = np.stack([r * np.cos(lat) * np.cos(phi), r * np.cos(lat) * np.sin(phi), r * np.sin(lat)], -1)
    if distinct_times:
        t0 = np.datetime64("1996-01-01", "s").astype(np.int64)
        t1 = np.datetime64("2029-01-01", "s").astype(np.int64)
        times = rng.integers(t0, t1, n).astype("datetime64[s]").astype("datetime64[ns]")
    else:
        times = np.datetime64("2015-03-17T00:00", "ns") + np.arange(n) * np.timedelta64(1, "s")
    return times, transform(sm, times, "SM", "GSM"), rng.uniform(0, 6, n)


def best_of(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", type=int, default=300, help="fresh points compared with the solver")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(99)

    print("1. throughput (T89, pitch angle 90 deg)")
    lstar_surrogate(np.datetime64("2015-03-17"), [-5.0, 0, 0], kp=2)  # load the weights
    for label, n, distinct in (("time series, 1-s cadence", 1_000_000, False), ("random distinct times", 200_000, True)):
        t, pos, kp = domain_points(rng, n, distinct)
        dt = best_of(lambda: lstar_surrogate(t, pos, kp=kp))
        print(f"   surrogate, {label:26s}: {n / dt:12,.0f} points/s  ({n} points in {dt:.2f} s)")
    t, pos, kp = domain_points(rng, 200)
    lstar(t[:2], pos[:2], model="T89", kp=kp[:2])  # compiled/cached
    t0 = time.perf_counter()
    lstar(t, pos, model="T89", kp=kp)
    dt_solver = time.perf_counter() - t0
    solver_rate = len(t) / dt_solver
    t1, pos1, kp1 = domain_points(rng, 200_000)
    rate = len(t1) / best_of(lambda: lstar_surrogate(t1, pos1, kp=kp1))
    print(f"   solver (default accuracy, all cores)    : {solver_rate:12,.0f} points/s  ({dt_solver / len(t) * 1e3:.2f} ms per point)")
    print(f"   ratio surrogate / solver (distinct times): {rate / solver_rate:,.0f}x")

    print("2. relative L* error against the solver")
    held = surrogate_info()["heldout"]
    print(f"   held-out set ({held['n']:.0f} closed & accepted samples): median {held['median']:.3%}, "
          f"95th {held['p95']:.3%}, 99th {held['p99']:.3%}, max {held['max']:.3%}; "
          f"closed shells rejected {held['closed_rejected']:.2%}, open shells accepted {held['open_accepted']:.1%}")
    t, pos, kp = domain_points(rng, args.check)
    pa = rng.uniform(10, 90, args.check)
    exact = np.empty(args.check)
    flag = np.empty(args.check, int)
    approx = np.empty(args.check)
    aflag = np.empty(args.check, int)
    for i in range(args.check):  # a different pitch angle per point: one solver call per point
        e = lstar(t[i], pos[i], pitch_angle=pa[i], model="T89", kp=kp[i])
        a = lstar_surrogate(t[i], pos[i], pitch_angle=pa[i], kp=kp[i])
        exact[i], flag[i], approx[i], aflag[i] = float(e.Lstar), int(e.flag), float(a.Lstar), int(a.flag)
    inside = aflag != 2  # the surrogate's domain also bounds the dipole shell r / cos^2(latitude) <= 8
    both = (flag == 0) & (aflag == 0)
    err = np.abs(approx[both] / exact[both] - 1)
    print(f"   fresh points ({args.check} drawn, {inside.sum()} in the domain, {both.sum()} closed & accepted): "
          f"median {np.median(err):.3%}, 95th {np.percentile(err, 95):.3%}, max {err.max():.3%}; "
          f"closed rejected {np.sum(inside & (flag == 0) & (aflag != 0))}, "
          f"open accepted {np.sum(inside & (flag != 0) & (aflag == 0))} of {np.sum(inside & (flag != 0))}")


if __name__ == "__main__":
    main()
