"""Benchmark of the time-series toolkit (issue 4) on 10 million samples.

Prints, for each operation, the xspace time, the time of the same computation done directly with
scipy/numpy in the same process, and their ratio (targets: xspace/scipy <= 1.3 for filters, bin
averages, interpolation and whole-interval MVA; numba FAC rotation and sliding MVA >= 5x faster than
a straightforward numpy version), then the dask scaling of a low-pass filter on a 2-worker
``LocalCluster``. Run: ``python benchmarks/bench_signal.py [n_samples]`` (about 2-3 minutes).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import scipy.signal
import xarray as xr

from xspace.analysis import frames, signal

N = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
FS = 16.0


def best(func, repeat=3):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def paired(ours, base, repeat=5):
    """Best-of-``repeat`` times of ``ours`` and ``base``, run alternately so that load from other
    processes on the machine affects both alike. Returns (t_ours, t_base, out_ours, out_base)."""
    to, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ob = base()
        tb.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        oo = ours()
        to.append(time.perf_counter() - t0)
    return min(to), min(tb), oo, ob


def report(name, ours, base, target, higher_is_better=False):
    ratio = ours / base
    if higher_is_better:
        speed = base / ours
        flag = "ok" if speed >= target else "MISSED"
        print(f"{name:<42s} xspace {ours:8.3f} s   numpy {base:8.3f} s   speed-up {speed:6.1f}x (target >= {target}x) {flag}")
    else:
        flag = "ok" if ratio <= target else "MISSED"
        print(f"{name:<42s} xspace {ours:8.3f} s   direct {base:7.3f} s   ratio {ratio:5.2f} (target <= {target}) {flag}")
    sys.stdout.flush()


def main():
    rng = np.random.default_rng(0)
    t = np.datetime64("2020-01-01", "ns") + (np.arange(N) * (1e9 / FS)).astype("timedelta64[ns]")
    x = np.cumsum(rng.normal(size=N))
    da = xr.DataArray(x, dims="Epoch", coords={"Epoch": t}, attrs={"UNITS": "nT"})
    print(f"{N:,} samples at {FS} Hz; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other processes skew the dask scaling figure)")

    # warm-up: numba compilation / caches, not timed
    small = da.isel(Epoch=slice(0, 5000))
    signal.bin_median(small, "10s")
    vs = xr.DataArray(rng.normal(size=(5000, 3)), dims=("Epoch", "c"), coords={"Epoch": t[:5000]})
    frames.to_field_aligned(vs)
    frames.mva(vs, window="60s", step="30s")

    # ---- filters
    sos = scipy.signal.butter(4, 0.5, "low", output="sos", fs=FS)
    to, tb, _, _ = paired(lambda: signal.lowpass(da, 0.5).data, lambda: scipy.signal.sosfiltfilt(sos, x))
    report("lowpass (4th order, zero phase)", to, tb, 1.3)

    # ---- bin averages (1-minute bins)
    cad = 60 * 10**9

    def numpy_bins():
        idx = (t.view("int64") - t.view("int64")[0] // cad * cad) // cad
        ok = np.isfinite(x)
        s = np.bincount(idx, weights=np.where(ok, x, 0.0))
        c = np.bincount(idx, weights=ok)
        return s / c

    to, tb, out, ref = paired(lambda: signal.bin_mean(da, "1min"), numpy_bins)
    assert np.allclose(out.values, ref)
    report("bin_mean 1 min (NaN-aware, with counts)", to, tb, 1.3)

    # ---- interpolation onto another time base (linear)
    tq = t[0] + (np.sort(rng.uniform(0, (N - 1) / FS, N)) * 1e9).astype("timedelta64[ns]")
    xs = (t - t[0]) / np.timedelta64(1, "s")
    xq = (tq - t[0]) / np.timedelta64(1, "s")
    to, tb, out, ref = paired(lambda: signal.interp_like(da, tq).values, lambda: np.interp(xq, xs, x))
    assert np.allclose(out, ref)
    report("interp_like linear (gap-aware) vs np.interp", to, tb, 1.3)
    del tq, xq

    # ---- FAC rotation: numba (fused) vs a straightforward numpy version
    B = np.stack([x, np.roll(x, 1000), 5.0 + np.roll(x, 3000)], -1)
    Bda = xr.DataArray(B, dims=("Epoch", "c"), coords={"Epoch": t})

    def numpy_fac():
        z = B / np.linalg.norm(B, axis=1, keepdims=True)
        y = np.cross(z, np.array([1.0, 0, 0]))
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        xx = np.cross(y, z)
        M = np.stack([xx, y, z], axis=1)
        return np.einsum("nij,nj->ni", M, B)

    tb, ref = best(numpy_fac, repeat=1)
    to, out = best(lambda: frames.to_field_aligned(Bda).values)
    assert np.allclose(out, ref, atol=1e-6)
    report("FAC rotation (numba) vs numpy", to, tb, 5, higher_is_better=True)

    # ---- whole-interval MVA vs numpy cov + eigh
    def numpy_mva():
        ok = np.isfinite(B).all(1)
        c = np.cov(B[ok].T, bias=True)
        return np.linalg.eigh(c)

    to, tb, _, _ = paired(lambda: frames.mva(Bda)["eigenvalues"].values, numpy_mva, repeat=3)
    report("MVA whole interval (+rotated) vs np.cov+eigh", to, tb, 1.3)

    # ---- sliding MVA: numba windows vs a straightforward numpy loop over windows
    win, step = 64, 32  # samples (4 s windows, 2 s steps)
    nsub = min(N, 1_000_000)
    Bs = B[:nsub]
    starts = np.arange(0, nsub - win + 1, step)

    def numpy_sliding():
        out = np.empty((starts.size, 3))
        for k, s0 in enumerate(starts):
            w = Bs[s0:s0 + win]
            vals, vecs = np.linalg.eigh(np.cov(w.T, bias=True))  # values and vectors, as mva returns
            out[k] = vals[::-1]
        return out

    tb, ref = best(numpy_sliding, repeat=1)
    sub = Bda.isel(Epoch=slice(0, nsub))
    to, res = best(lambda: frames.mva(sub, window=f"{win / FS}s", step=f"{step / FS}s",
                                      rotate=False)["eigenvalues"].values)
    assert np.allclose(res[: ref.shape[0]], ref, rtol=1e-6, atol=1e-9)
    report(f"sliding MVA ({nsub:,} samples, {starts.size:,} windows)", to, tb, 5, higher_is_better=True)
    del B, Bda, Bs

    # ---- dask scaling: the same lazy graph (data generated inside it) on 1 and on 2 workers
    import dask.array as dsa
    from dask.distributed import Client, LocalCluster

    del da, x
    chunk = N // 8

    def graph():
        rs = dsa.random.RandomState(1)
        xd = rs.normal(size=N, chunks=chunk)  # independent chunks (a cumsum would serialise them)
        lazy_in = xr.DataArray(xd, dims="Epoch", coords={"Epoch": t})
        return signal.lowpass(lazy_in, 0.5).sum()

    timings = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):
            graph().compute()  # warm-up: imports on the workers
            t0 = time.perf_counter()
            graph().compute()
            timings[workers] = time.perf_counter() - t0
    print(f"{'dask lowpass (8 chunks), 1 vs 2 workers':<42s} 1 worker {timings[1]:6.3f} s   2 workers "
          f"{timings[2]:6.3f} s   scaling {timings[1] / timings[2]:4.2f}x (ideal 2x on 2 free cores)")


if __name__ == "__main__":
    main()
