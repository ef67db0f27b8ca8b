"""L* benchmark: cost per point and the accuracy/cost curve.

Run: ``python benchmarks/bench_lstar.py`` (about 2-4 minutes on 2 cores); ``--curve-only`` or
``--speed-only`` for one part.

1. Cost per point (ms, after compilation) for 90 deg and for three pitch angles (90, 60, 30), IGRF
   and T89 (Kp 2+), on 1 thread and on all cores, and the ratio against a straightforward
   implementation (numpy + scipy ``solve_ivp`` tracing, ``brentq`` shell search, the same
   algorithm at the same N), measured in the same process on a few points.
2. Accuracy vs cost as the number of shell field lines N and the tracing tolerance vary: median and
   maximum relative L* error against a reference computed with N = 48 and tolerances 1e-10, over
   closed-shell points of T89 (Kp 2+ and 5-) at several pitch angles.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from xspace.magnetosphere import lstar
from xspace.magnetosphere.field import make_field_params, total_field

T = np.datetime64("2015-03-17T12:00")
RNG = np.random.default_rng(42)


def orbit_points(n):
    """Points between 3 and 6.5 R_E at latitudes within 20 deg, all MLTs (GSM)."""
    r = RNG.uniform(3.0, 6.5, n)
    lat = np.radians(RNG.uniform(-20, 20, n))
    lon = RNG.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(lat) * np.cos(lon), r * np.cos(lat) * np.sin(lon), r * np.sin(lat)], -1)


def timed(fn, cpu=False):
    """Wall time, or CPU time of this process (all threads) when ``cpu``: robust to other load."""
    clock = time.process_time if cpu else time.perf_counter
    t0 = clock()
    out = fn()
    return clock() - t0, out


# ----------------------------------------------------------------------------- baseline
def straightforward_lstar(model, kp, pos, n_lines=12):
    """L* of the particle mirroring at the B minimum of the line through ``pos`` (K = 0), the plain
    way: scipy solve_ivp (RK45) tracing through the public field function, bounded minimisation for
    Bmin, brentq for each meridian's equatorial radius with the same Bmin, trapezoid flux on r = 1
    (trapezoid in colatitude, then a periodic cubic spline over the footpoint longitudes).
    Returns (L*, the Bmin point)."""
    from scipy.integrate import solve_ivp
    from scipy.optimize import brentq, minimize_scalar

    p = make_field_params(model, T, kp)
    tilt, b0 = p[1], p[2]
    c, s = np.cos(tilt), np.sin(tilt)

    def field(x):
        return total_field(model, T, x, kp=kp)

    def rhs(_, y, d):
        b = field(y)
        return d * b / np.linalg.norm(b)

    def ground(_, y, d):
        return np.linalg.norm(y) - 1.0

    ground.terminal = True

    def trace(x0, d, smax=60.0):
        return solve_ivp(rhs, (0, smax), x0, args=(d,), events=ground, rtol=1e-8, atol=1e-8, dense_output=True)

    def bmin_of(x0, where=False):
        best, at = np.inf, None
        for d in (-1.0, 1.0):
            sol = trace(x0, d, smax=8.0)
            ss = np.linspace(0, sol.t[-1], 60)
            bs = np.linalg.norm(field(sol.sol(ss).T), axis=-1)
            k = int(np.argmin(bs))
            lo, hi = ss[max(k - 1, 0)], ss[min(k + 1, ss.size - 1)]
            res = minimize_scalar(lambda u: np.linalg.norm(field(sol.sol(u))), bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-8})
            if res.fun < best:
                best, at = res.fun, sol.sol(res.x)
        return (best, at) if where else best

    def sm_to_gsm(xs, ys):
        return np.array([xs * c, ys, -xs * s])

    # the particle mirrors at the minimum of B of its line (K = 0): move the point there
    bm, pos = bmin_of(pos, where=True)
    phi0 = np.arctan2(pos[1], pos[0] * c - pos[2] * s)
    feet = []
    for j in range(n_lines):
        phi = phi0 + 2 * np.pi * j / n_lines
        g = lambda r: bmin_of(sm_to_gsm(r * np.cos(phi), r * np.sin(phi))) - bm
        r0 = np.linalg.norm(pos)
        r_j = brentq(g, 0.6 * r0, 1.6 * r0, xtol=1e-6)
        sol = trace(sm_to_gsm(r_j * np.cos(phi), r_j * np.sin(phi)), 1.0)
        f = sol.y[:, -1]
        fs = np.array([f[0] * c - f[2] * s, f[1], f[0] * s + f[2] * c])
        th_f = np.arccos(fs[2] / np.linalg.norm(fs))
        ph_f = np.arctan2(fs[1], fs[0])
        th = np.linspace(0, th_f, 41)
        u = np.stack([np.sin(th) * np.cos(ph_f), np.sin(th) * np.sin(ph_f), np.cos(th)], -1)
        ug = np.stack([u[:, 0] * c + u[:, 2] * s, u[:, 1], -u[:, 0] * s + u[:, 2] * c], -1)
        br = np.sum(field(ug) * ug, -1)
        feet.append((ph_f, np.trapezoid(-br * np.sin(th), th)))
    # flux = closed integral of F over the footpoint longitude (periodic cubic spline through the footpoints)
    from scipy.interpolate import CubicSpline

    ph, fl = np.array(sorted(feet)).T
    spline = CubicSpline(np.append(ph, ph[0] + 2 * np.pi), np.append(fl, fl[0]), bc_type="periodic")
    flux = float(spline.integrate(ph[0], ph[0] + 2 * np.pi))
    return 2 * np.pi * b0 / flux, pos


def speed():
    ncores = os.cpu_count() or 1
    pts = orbit_points(24)
    print("== cost per point (ms), default settings, after compilation; 24 points at 3-6.5 R_E ==")
    print("(1 thread: CPU time of the process; all cores: wall time, sensitive to other load on the machine)")
    print(f"{'model':6s} {'pitch angles':14s} {'1 thread':>10s} {f'{ncores} threads':>10s}")
    for model in ("IGRF", "T89"):
        for pa in (90.0, [90.0, 60.0, 30.0]):
            lstar(T, pts[:2], model=model, kp=2.3, pitch_angle=pa)  # compile / warm
            t1, ds = timed(lambda: lstar(T, pts, model=model, kp=2.3, pitch_angle=pa, n_threads=1), cpu=True)
            tn, _ = timed(lambda: lstar(T, pts, model=model, kp=2.3, pitch_angle=pa, n_threads=ncores))
            ok = int((ds.flag.values == 0).sum())
            label = "90" if np.ndim(pa) == 0 else "90,60,30"
            print(f"{model:6s} {label:14s} {t1 / len(pts) * 1e3:10.2f} {tn / len(pts) * 1e3:10.2f}"
                  f"   (per core on {ncores}: {tn * ncores / len(pts) * 1e3:.2f}; valid {ok}/{ds.flag.size})")
    print("\n== vs a straightforward numpy + scipy implementation (90 deg, N = 12, same process) ==")
    for model in ("IGRF", "T89"):
        p = pts[:2]
        tb, res = timed(lambda: [straightforward_lstar(model, 2.3, x) for x in p], cpu=True)
        ref = np.array([r[0] for r in res])
        p_eq = np.array([r[1] for r in res])  # same particles: 90 deg at the minimum of B
        tx, ds = timed(lambda: lstar(T, p_eq, model=model, kp=2.3, n_threads=1), cpu=True)
        diff = np.abs(ds.Lstar.values / ref - 1)
        print(f"{model:5s} straightforward {tb / len(p) * 1e3:9.1f} ms/point, xspace {tx / len(p) * 1e3:7.2f} ms/point"
              f" -> x{tb / tx:.0f} faster; L* agree to {diff.max():.1e} (baseline: spline in longitude, 41-point trapezoid)")


def curve():
    print("\n== accuracy / cost: relative L* error vs reference (N = 48, tolerances 1e-10) ==")
    pts = orbit_points(10)
    cases = [(2.3, [90.0, 45.0, 20.0]), (4.7, [90.0, 45.0])]
    refs = []
    for kp, pa in cases:
        refs.append(lstar(T, pts, model="T89", kp=kp, pitch_angle=pa, n_lines=48, tolerance=1e-10,
                          shell_tolerance=1e-10, n_quad=64, n_flux=48).Lstar.values)
    print(f"{'N':>3s} {'tolerance':>9s} {'median':>9s} {'max':>9s} {'CPU ms/(point x pa)':>20s}")
    for n_lines, tol in [(6, 1e-6), (8, 1e-6), (12, 1e-6), (16, 1e-6), (24, 1e-6),
                         (12, 1e-4), (12, 1e-5), (12, 1e-7), (12, 1e-8), (8, 1e-5), (16, 1e-7)]:
        errs = []
        cost = 0.0
        count = 0
        for (kp, pa), ref in zip(cases, refs):
            dt, ds = timed(lambda: lstar(T, pts, model="T89", kp=kp, pitch_angle=pa, n_lines=n_lines, tolerance=tol,
                                         n_threads=1), cpu=True)
            cost += dt
            count += ds.Lstar.size
            e = np.abs(ds.Lstar.values / ref - 1)
            errs.append(e[np.isfinite(e)])
        e = np.concatenate(errs)
        print(f"{n_lines:3d} {tol:9.0e} {np.median(e):9.1e} {e.max():9.1e} {cost / count * 1e3:20.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--curve-only", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    a = ap.parse_args()
    if not a.curve_only:
        speed()
    if not a.speed_only:
        curve()
