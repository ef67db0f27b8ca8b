"""CDF engine speed, as ratios against cdflib and numpy measured in the same run.

Synthetic file (written with cdflib's writer, cached in a temporary folder): TT2000 ``Epoch``
10 M records, ``B_GSE`` 10 M x 3 float32, ``flux`` 1 M x 32 float32 (on its own time base
``Epoch_flux``), once uncompressed and once with per-variable gzip.

Prints: open time; full-read throughput of each variable vs cdflib ``varget`` and vs a numpy copy
of the same size (the physical limit); a 1 % record-range subset (open + read) vs cdflib's open +
``varget(startrec, endrec)``; TT2000 decode rate vs cdflib; metadata open of the real files.

Run: ``python benchmarks/bench_cdf.py [--records 10000000] [--dir /tmp/xspace-bench]``
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time
from pathlib import Path

import cdflib
import numpy as np

import xspace
from xspace.io.backend import build_dataset
from xspace.io._cdfarray import _FILES


def best(func, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def _cdflib_metadata(path: str):
    """What cdflib needs to do to know what an open_cdf gives: every variable's description and attributes."""
    c = cdflib.CDF(path)
    info = c.cdf_info()
    return [(c.varinq(v), c.varattsget(v)) for v in info.zVariables + info.rVariables], c.globalattsget()


def make_file(path: Path, n: int, gzip: bool) -> None:
    from cdflib.cdfwrite import CDF as Writer

    if path.exists():
        return
    tmp = path.with_suffix(".tmp.cdf")
    if tmp.exists():
        tmp.unlink()
    rng = np.random.default_rng(0)
    t0 = 662731269184000000  # 2021-01-01T00:00:00 UTC in TT2000
    epoch = t0 + np.arange(n, dtype=np.int64) * 1_000_000_000
    nflux = n // 10
    w = Writer(str(tmp), cdf_spec={"rDim_sizes": [], "Compressed": False})
    comp = 6 if gzip else 0
    common = {"Num_Elements": 1, "Rec_Vary": True, "Compress": comp, "Block_Factor": 0}
    w.write_var({"Variable": "Epoch", "Data_Type": 33, "Dim_Sizes": [], **common},
                var_attrs={"VAR_TYPE": "support_data", "FILLVAL": [np.int64(-9223372036854775808), "CDF_TIME_TT2000"]},
                var_data=epoch)
    w.write_var({"Variable": "B_GSE", "Data_Type": 21, "Dim_Sizes": [3], **common},
                var_attrs={"VAR_TYPE": "data", "DEPEND_0": "Epoch", "FILLVAL": np.float32(-1e31), "UNITS": "nT"},
                var_data=rng.standard_normal((n, 3)).astype(np.float32))
    w.write_var({"Variable": "Epoch_flux", "Data_Type": 33, "Dim_Sizes": [], **common},
                var_attrs={"VAR_TYPE": "support_data"}, var_data=epoch[:nflux] * 1)
    w.write_var({"Variable": "flux", "Data_Type": 21, "Dim_Sizes": [32], **common},
                var_attrs={"VAR_TYPE": "data", "DEPEND_0": "Epoch_flux", "FILLVAL": np.float32(-1e31)},
                var_data=rng.random((nflux, 32), dtype=np.float32))
    w.close()
    os.replace(tmp, path)


def bench_file(path: Path, label: str, n: int) -> None:
    print(f"\n## {label}: {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
    _FILES.clear()
    t_open = best(lambda: (_FILES.clear(), xspace.open_cdf(path, create_default_indexes=False)), 5)
    # cdflib parses lazily: list the variables and their descriptions to compare the same work
    t_open_cdflib = best(lambda: _cdflib_metadata(str(path)), 5)
    print(f"open (metadata only):       xspace {t_open * 1e3:8.2f} ms   cdflib {t_open_cdflib * 1e3:8.2f} ms"
          f"   ratio {t_open_cdflib / t_open:5.1f}x")
    ds = xspace.open_cdf(path, create_default_indexes=False, cache=False)
    ref = cdflib.CDF(str(path))
    for var in ("Epoch", "B_GSE", "flux"):
        nbytes = ds[var].encoding["cdf_dtype"].itemsize * int(np.prod(ds[var].shape))
        raw_only = build_dataset(str(path), decode_times=False, mask_fill=False)[var]
        t_ours = best(lambda: ds[var].values, 3)
        t_raw = best(lambda: raw_only.values, 3)
        t_ref = best(lambda: ref.varget(var), 2)
        src = np.empty(nbytes, dtype=np.uint8)
        src[:] = 1
        t_copy = best(lambda: src.copy(), 3)
        gbs = lambda t: nbytes / t / 1e9  # noqa: E731
        print(f"full read {var:6s} {nbytes / 1e6:6.0f} MB: decoded {gbs(t_ours):6.2f} GB/s, raw {gbs(t_raw):6.2f} GB/s"
              f" | cdflib varget {gbs(t_ref):5.2f} GB/s (ratio {t_ref / t_ours:5.1f}x)"
              f" | numpy copy {gbs(t_copy):5.2f} GB/s")
    # 1 % subset by record range, including the open
    start, stop = n // 2, n // 2 + n // 100

    def ours_subset():
        _FILES.clear()
        return xspace.open_cdf(path, create_default_indexes=False)["B_GSE"].isel(Epoch=slice(start, stop)).values

    def ref_subset():
        return cdflib.CDF(str(path)).varget("B_GSE", startrec=start, endrec=stop - 1)

    a, b = ours_subset(), ref_subset()
    np.testing.assert_array_equal(a, b)
    t_a, t_b = best(ours_subset, 5), best(ref_subset, 3)
    print(f"open + 1 % subset of B_GSE: xspace {t_a * 1e3:8.2f} ms   cdflib {t_b * 1e3:8.2f} ms   ratio {t_b / t_a:5.1f}x")

    def ours_subset_warm():
        return ds["B_GSE"].isel(Epoch=slice(start, stop)).values

    print(f"1 % subset (file already open): xspace {best(ours_subset_warm, 5) * 1e3:8.2f} ms")


def bench_tt2000(n: int) -> None:
    values = 662731269184000000 + np.arange(n, dtype=np.int64) * 1_000_000_000
    xspace.time.tt2000_to_datetime64(values[:10])
    t_ours = best(lambda: xspace.time.tt2000_to_datetime64(values), 3)
    m = min(n, 1_000_000)
    t_ref = best(lambda: cdflib.cdfepoch.to_datetime(values[:m]), 2) * n / m
    print(f"\nTT2000 decode: xspace {n / t_ours / 1e6:7.1f} M values/s   cdflib {n / t_ref / 1e6:6.1f} M values/s"
          f"   ratio {t_ref / t_ours:5.1f}x")


def bench_real_files() -> None:
    from xspace.io import _cdf

    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdf"
    files = sorted(glob.glob(str(folder / "*.cdf")))
    if not files:
        return
    print("\nmetadata open of the real files (parse + Dataset, no index):")
    for f in files:
        t_parse = best(lambda: _cdf.CDFFile(f), 5)
        t_open = best(lambda: (_FILES.clear(), xspace.open_cdf(f, create_default_indexes=False)), 5)
        t_ref = best(lambda: _cdflib_metadata(f), 3)
        print(f"  {Path(f).name:48s} parse {t_parse * 1e3:6.2f} ms   open_cdf {t_open * 1e3:6.2f} ms"
              f"   cdflib CDF+varattsget {t_ref * 1e3:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "xspace-bench"))
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    n = args.records
    for gzip in (False, True):
        path = folder / f"bench_{n}_{'gzip' if gzip else 'plain'}.cdf"
        t0 = time.perf_counter()
        make_file(path, n, gzip)
        if time.perf_counter() - t0 > 1:
            print(f"(wrote {path} in {time.perf_counter() - t0:.1f} s)")
        bench_file(path, "per-variable gzip" if gzip else "uncompressed", n)
    bench_tt2000(n)
    bench_real_files()


if __name__ == "__main__":
    main()
