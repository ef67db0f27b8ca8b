"""Field evaluations per second: IGRF-14 and IGRF+T89 numba kernels vs straightforward baselines.

Baselines, measured in the same process:
* IGRF: a plain vectorised numpy synthesis over all points (scipy's associated Legendre functions
  with Schmidt normalisation, loops over n and m) - the "obvious" numpy implementation.
* T89: the same T89 equations run as pure Python, point by point (the kernel's ``py_func``), as a
  straightforward non-compiled implementation would (T89 is a long chain of scalar formulas).

Also: the public API (``igrf_field`` with one time per point, so one parameter vector per point) and the
kernel on 2 threads (the kernels release the GIL).

Run: ``python benchmarks/bench_field.py [n_points]``
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from math import factorial

import numpy as np
from numba import njit
from scipy.special import lpmv

from xspace.magnetosphere import _fieldkernels as fk
from xspace.magnetosphere import field


def best_of(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_igrf_geo(params, xyz):
    """Straightforward numpy IGRF (GEO cartesian in, GEO cartesian out), vectorised over points."""
    g = params[fk.P_G : fk.P_G + fk.NCOEF].reshape(14, 14)
    h = params[fk.P_H : fk.P_H + fk.NCOEF].reshape(14, 14)
    x, y, z = xyz.T
    r = np.sqrt(x * x + y * y + z * z)
    theta = np.arccos(z / r)
    phi = np.arctan2(y, x)
    ct = np.cos(theta)
    br = np.zeros_like(r)
    bt = np.zeros_like(r)
    bp = np.zeros_like(r)
    for n in range(1, 14):
        q = r ** -(n + 2)
        for m in range(n + 1):
            norm = (-1) ** m * np.sqrt((1.0 if m == 0 else 2.0) * factorial(n - m) / factorial(n + m))
            p = norm * lpmv(m, n, ct)
            if m == 0:
                dp = norm * lpmv(1, n, ct)
            else:
                dp = -0.5 * norm * ((n + m) * (n - m + 1) * lpmv(m - 1, n, ct) - lpmv(m + 1, n, ct))
            c, s = np.cos(m * phi), np.sin(m * phi)
            br += (n + 1) * q * (g[n, m] * c + h[n, m] * s) * p
            bt -= q * (g[n, m] * c + h[n, m] * s) * dp
            bp += q * m * (g[n, m] * s - h[n, m] * c) * p / np.sin(theta)
    st = np.sin(theta)
    bxy = br * st + bt * ct
    return np.stack([bxy * np.cos(phi) - bp * np.sin(phi), bxy * np.sin(phi) + bp * np.cos(phi), br * ct - bt * st], -1)


@njit(nogil=True)
def t89_many(xyz, params, out):
    for i in range(xyz.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = fk.t89_gsm(xyz[i, 0], xyz[i, 1], xyz[i, 2], params)


def main(n=200_000):
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(n, 3))
    xyz *= (rng.uniform(1.05, 8.0, n) / np.linalg.norm(xyz, axis=1))[:, None]
    xyz = np.ascontiguousarray(xyz)
    t = np.datetime64("2015-03-17T12:00")
    p_igrf = field.make_field_params("IGRF", t)
    p_t89 = field.make_field_params("T89", t, kp=3.0)
    out = np.empty_like(xyz)
    fk.igrf_geo_many(xyz[:10], p_igrf, out[:10])  # compile
    fk.field_gsm_many(xyz[:10], p_t89, out[:10])

    # correctness of the baselines against the kernels on a sample
    ref = numpy_igrf_geo(p_igrf, xyz[:1000])
    fk.igrf_geo_many(xyz[:1000], p_igrf, out[:1000])
    assert np.allclose(out[:1000], ref, rtol=1e-9, atol=1e-6)

    rows = []
    tk = best_of(lambda: fk.igrf_geo_many(xyz, p_igrf, out))
    m = min(n, 20_000)
    tn = best_of(lambda: numpy_igrf_geo(p_igrf, xyz[:m]), 2) * n / m
    rows.append(("IGRF (deg 13), numba kernel, 1 thread", n / tk, tn / tk))
    rows.append(("IGRF (deg 13), numpy + scipy.lpmv baseline", n / tn, 1.0))

    def threaded(params, kernel):
        halves = np.array_split(np.arange(n), 2)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda ix: kernel(xyz[ix[0] : ix[-1] + 1], params, out[ix[0] : ix[-1] + 1]), halves))

    t2 = best_of(lambda: threaded(p_igrf, fk.igrf_geo_many))
    rows.append(("IGRF, numba kernel, 2 threads", n / t2, tn / t2))

    tt = best_of(lambda: fk.field_gsm_many(xyz, p_t89, out))
    t89_many(xyz[:10], p_t89, out[:10])  # compile
    te = best_of(lambda: t89_many(xyz, p_t89, out))
    mp = 5_000
    py = fk.t89_gsm.py_func

    def pure_python():
        for i in range(mp):
            py(xyz[i, 0], xyz[i, 1], xyz[i, 2], p_t89)

    tp = best_of(pure_python, 2) * n / mp
    rows.append(("T89 external field, numba kernel, 1 thread", n / te, tp / te))
    rows.append(("T89 external field, pure-Python baseline (same equations)", n / tp, 1.0))
    rows.append(("IGRF + T89 (field_gsm), numba kernel, 1 thread", n / tt, None))

    times = np.datetime64("2015-03-17T00:00") + np.arange(n // 4) * np.timedelta64(1, "s")
    tapi = best_of(lambda: field.igrf_field(times, xyz[: n // 4], frame="GSM"), 2)
    rows.append(("igrf_field API, one distinct time per point (GSM)", (n // 4) / tapi, tn / tapi / 4))

    print(f"{'case':58s} {'points/s':>12s} {'vs baseline':>12s}")
    for name, rate, ratio in rows:
        print(f"{name:58s} {rate:12.3g} {('%.1fx' % ratio) if ratio else '':>12s}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
