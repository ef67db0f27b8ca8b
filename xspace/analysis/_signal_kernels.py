"""numba kernels of the time-series toolkit (issue 4): small, pure functions on arrays.

Each kernel has a plain-numpy reference implementation in ``tests/test_signal.py`` or
``tests/test_frames.py``. Compiled on first call and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def bin_nanmedian(data, starts, stops):  # pragma: no cover - compiled
    """NaN-ignoring median of ``data[starts[k]:stops[k], j]`` for every bin ``k`` and column ``j``.

    ``data`` is (n, m) float64; empty or all-NaN bins give NaN.
    """
    nb = starts.shape[0]
    m = data.shape[1]
    out = np.full((nb, m), np.nan)
    for k in range(nb):
        s = starts[k]
        e = stops[k]
        if e <= s:
            continue
        buf = np.empty(e - s)
        for j in range(m):
            c = 0
            for i in range(s, e):
                v = data[i, j]
                if v == v:
                    buf[c] = v
                    c += 1
            if c == 0:
                continue
            srt = np.sort(buf[:c])
            if c % 2 == 1:
                out[k, j] = srt[c // 2]
            else:
                out[k, j] = 0.5 * (srt[c // 2 - 1] + srt[c // 2])
    return out


@njit(cache=True, nogil=True)
def rotate_vectors(matrices, vectors):  # pragma: no cover - compiled
    """``out[i] = matrices[i] @ vectors[i]`` for (n, 3, 3) matrices and (n, 3) vectors."""
    n = vectors.shape[0]
    out = np.empty((n, 3))
    for i in range(n):
        for r in range(3):
            out[i, r] = (matrices[i, r, 0] * vectors[i, 0] + matrices[i, r, 1] * vectors[i, 1]
                         + matrices[i, r, 2] * vectors[i, 2])
    return out


@njit(cache=True, nogil=True)
def _fac_one(bx, by, bz, rx, ry, rz, reference_is_y, m):  # pragma: no cover - compiled
    """Fill the (3, 3) buffer ``m`` with FAC rows for one sample (NaN when undefined)."""
    nb = np.sqrt(bx * bx + by * by + bz * bz)
    if not (nb > 0.0) or not np.isfinite(nb):
        m[:, :] = np.nan
        return
    zx = bx / nb
    zy = by / nb
    zz = bz / nb
    if reference_is_y:  # a = ref x z (the x axis)
        ax = ry * zz - rz * zy
        ay = rz * zx - rx * zz
        az = rx * zy - ry * zx
    else:  # a = z x ref (the y axis)
        ax = zy * rz - zz * ry
        ay = zz * rx - zx * rz
        az = zx * ry - zy * rx
    na = np.sqrt(ax * ax + ay * ay + az * az)
    if not (na > 1e-12) or not np.isfinite(na):
        m[:, :] = np.nan
        return
    ax /= na
    ay /= na
    az /= na
    if reference_is_y:  # x = a, y = z x x
        m[0, 0] = ax
        m[0, 1] = ay
        m[0, 2] = az
        m[1, 0] = zy * az - zz * ay
        m[1, 1] = zz * ax - zx * az
        m[1, 2] = zx * ay - zy * ax
    else:  # y = a, x = y x z
        m[0, 0] = ay * zz - az * zy
        m[0, 1] = az * zx - ax * zz
        m[0, 2] = ax * zy - ay * zx
        m[1, 0] = ax
        m[1, 1] = ay
        m[1, 2] = az
    m[2, 0] = zx
    m[2, 1] = zy
    m[2, 2] = zz


@njit(cache=True, nogil=True)
def fac_matrices(background, reference, reference_is_y):  # pragma: no cover - compiled
    """Field-aligned rotation matrices, rows (x, y, z) with z = unit(background).

    ``reference`` is (n, 3). If ``reference_is_y`` is False: y = unit(z x ref), x = y x z (x is the
    part of ref perpendicular to B); else x = unit(ref x z), y = z x x (y is the perpendicular
    part of ref). Rows with a zero, non-finite or field-parallel reference are NaN.
    """
    n = background.shape[0]
    out = np.empty((n, 3, 3))
    for i in range(n):
        _fac_one(background[i, 0], background[i, 1], background[i, 2], reference[i, 0], reference[i, 1],
                 reference[i, 2], reference_is_y, out[i])
    return out


@njit(cache=True, nogil=True)
def fac_rotate(background, reference, vectors, reference_is_y):  # pragma: no cover - compiled
    """``vectors`` rotated into the field-aligned frame of ``background`` in one pass.

    The same matrices as :func:`fac_matrices`, never stored: out[i] = M_i @ vectors[i].
    """
    n = vectors.shape[0]
    out = np.empty((n, 3))
    m = np.empty((3, 3))
    for i in range(n):
        _fac_one(background[i, 0], background[i, 1], background[i, 2], reference[i, 0], reference[i, 1],
                 reference[i, 2], reference_is_y, m)
        for r in range(3):
            out[i, r] = m[r, 0] * vectors[i, 0] + m[r, 1] * vectors[i, 1] + m[r, 2] * vectors[i, 2]
    return out


@njit(cache=True, nogil=True)
def window_covariance(data, starts, stops):  # pragma: no cover - compiled
    """Covariance matrices of the finite rows of ``data[starts[k]:stops[k]]`` (n, 3).

    Returns (covariance (nw, 3, 3) with divisor N (the MVA convention), counts (nw,)). Rows with any
    non-finite component are skipped; windows with fewer than 2 finite rows give NaN. Two passes
    (mean, then centred products) for accuracy.
    """
    nw = starts.shape[0]
    cov = np.full((nw, 3, 3), np.nan)
    counts = np.zeros(nw, dtype=np.int64)
    for k in range(nw):
        s = starts[k]
        e = stops[k]
        c = 0
        m0 = 0.0
        m1 = 0.0
        m2 = 0.0
        for i in range(s, e):
            a = data[i, 0]
            b = data[i, 1]
            d = data[i, 2]
            if np.isfinite(a) and np.isfinite(b) and np.isfinite(d):
                c += 1
                m0 += a
                m1 += b
                m2 += d
        counts[k] = c
        if c < 2:
            continue
        m0 /= c
        m1 /= c
        m2 /= c
        s00 = 0.0
        s01 = 0.0
        s02 = 0.0
        s11 = 0.0
        s12 = 0.0
        s22 = 0.0
        for i in range(s, e):
            a = data[i, 0]
            b = data[i, 1]
            d = data[i, 2]
            if np.isfinite(a) and np.isfinite(b) and np.isfinite(d):
                a -= m0
                b -= m1
                d -= m2
                s00 += a * a
                s01 += a * b
                s02 += a * d
                s11 += b * b
                s12 += b * d
                s22 += d * d
        cov[k, 0, 0] = s00 / c
        cov[k, 0, 1] = s01 / c
        cov[k, 0, 2] = s02 / c
        cov[k, 1, 0] = s01 / c
        cov[k, 1, 1] = s11 / c
        cov[k, 1, 2] = s12 / c
        cov[k, 2, 0] = s02 / c
        cov[k, 2, 1] = s12 / c
        cov[k, 2, 2] = s22 / c
    return cov, counts



@njit(cache=True, nogil=True)
def interp_sorted(src, dst, data, max_gap, method, period):  # pragma: no cover - compiled
    """Gap-aware interpolation of ``data`` (n, m) from sorted times ``src`` to sorted times ``dst``.

    ``method``: 0 linear, 1 previous, 2 nearest (ties to the earlier sample). A target gets a
    value when it equals a source time, or lies between two source samples at most ``max_gap``
    apart; otherwise NaN. ``period`` > 0 interpolates a cyclic quantity along the shorter arc and
    wraps the result into [0, period). One merge pass over both time arrays.
    """
    n = src.shape[0]
    nq = dst.shape[0]
    m = data.shape[1]
    out = np.empty((nq, m))
    j = 0
    half = 0.5 * period
    for i in range(nq):
        tq = dst[i]
        while j + 1 < n and src[j + 1] <= tq:
            j += 1
        k = -1  # sample to copy; -2: interpolate between j and j + 1
        w = 0.0
        if n > 0 and src[j] <= tq:
            if src[j] == tq:
                k = j
            elif j + 1 < n and src[j + 1] - src[j] <= max_gap:
                w = (tq - src[j]) / (src[j + 1] - src[j])
                if method == 0:
                    k = -2
                elif method == 2 and w > 0.5:
                    k = j + 1
                else:
                    k = j
        if k == -1:
            for c in range(m):
                out[i, c] = np.nan
        elif k == -2:
            for c in range(m):
                a = data[j, c]
                d = data[j + 1, c] - a
                if period > 0:
                    d = (d + half) % period - half
                    out[i, c] = (a + w * d) % period
                else:
                    out[i, c] = a + w * d
        else:
            for c in range(m):
                v = data[k, c]
                out[i, c] = v % period if period > 0 else v
    return out


@njit(cache=True, nogil=True)
def time_step_range(t):  # pragma: no cover - compiled
    """(strictly increasing?, smallest step, largest step) of int64 times, in one pass, no temporaries."""
    n = t.shape[0]
    if n < 2:
        return True, 0, 0
    smin = t[1] - t[0]
    smax = smin
    for i in range(1, n):
        d = t[i] - t[i - 1]
        if d < smin:
            smin = d
        if d > smax:
            smax = d
    return smin > 0, smin, smax
