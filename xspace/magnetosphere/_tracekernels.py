"""numba kernels: field-line tracing, adiabatic invariants and L*.

Everything here is a pure function of arrays and scalars; the field comes from
:func:`xspace.magnetosphere._fieldkernels.field_gsm` (positions GSM in R_E, fields in nT).

Tracing
    Dormand–Prince 5(4) Runge–Kutta along the unit field direction (arc length ``s`` in R_E) with a
    local error control on the position (``tol`` x max(1, r) R_E per step) and Hairer's 4th-order
    continuous extension, so positions (and through the field, B) are known at any ``s`` of the line
    without re-tracing. A traced line is stored "merged": nodes ordered along +B (south -> north) with
    coordinate ``u`` (R_E), the dense polynomial of each interval, its origin and (signed) step.

Invariants
    Bmin by golden-section search on the interpolated line, mirror points by bracketed root finding,
    I = int sqrt(1 - B/Bm) ds by Gauss–Legendre after the substitution s = c + w sin(phi), which
    removes the square-root singularity at the mirror points (the integrand becomes smooth).

L*
    For N meridians (SM azimuths uniformly spaced, starting at the SM-equator crossing of the
    particle's own field line) the SM-equator radius whose field line has the particle's Bm and I is
    found by safeguarded secant iterations; each shell line is traced to its northern footpoint on the
    r = r_foot sphere; the flux through the polar cap bounded by the footpoints is
    Phi = int dphi_eq  F(phi_f, theta_f) dphi_f/dphi_eq, F = int_0^theta_f (-B_r) sin(theta) dtheta,
    with the trapezoid rule in phi_eq (spectral for a periodic integrand), dphi_f/dphi_eq by a discrete
    Fourier derivative and F by Gauss–Legendre; L* = 2 pi B0 R_E^2 / Phi.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from numba import njit


def _drop_stale_cache() -> None:
    """Delete this module's numba cache when the field-model sources changed.

    numba's on-disk cache is keyed on this file only, but the compiled kernels embed the field model
    (``field_gsm`` and what it calls): a changed model would otherwise keep running the old code.
    """
    here = Path(__file__).resolve().parent
    cache = here / "__pycache__"
    try:
        # the field kernels live in private modules (_fieldkernels.py and what it may import)
        digest = hashlib.sha1()
        for f in sorted(here.glob("_*.py")):
            if f.name not in ("_tracekernels.py", "__init__.py"):
                digest.update(f.name.encode() + f.read_bytes())
        value = digest.hexdigest()
        stamp = cache / "_tracekernels.fieldsources.sha1"
        if stamp.is_file() and stamp.read_text() == value:
            return
        for f in cache.glob("_tracekernels.*.nb[ic]"):
            f.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(value)
    except OSError:  # read-only install: nothing to invalidate that we could write anyway
        pass


_drop_stale_cache()

from ._fieldkernels import P_B0, P_TILT, field_gsm  # noqa: E402

# --------------------------------------------------------------------------- status / flag codes
OK = 0
FLAG_INVALID_INPUT = 1  # NaN position, NaT time, T89 Kp missing/outside 0-9
FLAG_BELOW_SURFACE = 2  # position inside the footpoint sphere
FLAG_OPEN_LINE = 3  # the particle's own field line does not close within r_max
FLAG_LOSS_CONE = 4  # mirror point below the footpoint sphere (Bm larger than the footpoint field)
FLAG_SHABANSKY = 5  # more than one B-well below Bm on the particle's line or a shell line (bifurcated drift)
FLAG_OPEN_SHELL = 6  # a shell field line at some MLT is open: the drift shell is not closed
FLAG_DRIFT_LOSS_CONE = 7  # at some MLT the shell's mirror point is below the footpoint sphere
FLAG_NO_CONVERGENCE = 8  # tracing or shell root finding did not converge
FLAG_LM_LIMIT = 9  # irbem_compatible: |Lm| > lm_max, L* not computed

FLAG_MEANINGS = {
    OK: "ok",
    FLAG_INVALID_INPUT: "invalid input (NaN position, NaT time, or T89 Kp missing or outside 0-9)",
    FLAG_BELOW_SURFACE: "position below the footpoint sphere",
    FLAG_OPEN_LINE: "open field line (does not return to Earth within r_max)",
    FLAG_LOSS_CONE: "local mirror point below the footpoint sphere (loss cone)",
    FLAG_SHABANSKY: "Shabansky orbit: more than one magnetic-field well below Bmirr on the field line or on a drift-shell line",
    FLAG_OPEN_SHELL: "drift shell not closed (an open field line at some MLT)",
    FLAG_DRIFT_LOSS_CONE: "drift loss cone: mirror point below the footpoint sphere at some MLT",
    FLAG_NO_CONVERGENCE: "tracing or drift-shell root finding did not converge",
    FLAG_LM_LIMIT: "irbem_compatible: Lm beyond the limit, L* not computed",
}

# trace status
TR_FOOT = 0  # reached the footpoint sphere (last node exactly on it)
TR_WELL = 1  # well mode: passed B >= Bm with B increasing
TR_OPEN = 2  # went beyond r_max
TR_FAIL = 3  # step limit or step size underflow

# Dormand–Prince 5(4) tableau
A21 = 1.0 / 5.0
A31, A32 = 3.0 / 40.0, 9.0 / 40.0
A41, A42, A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
A51, A52, A53, A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
A61, A62, A63, A64, A65 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0
B1, B3, B4, B5, B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
E1, E3, E4, E5, E6, E7 = (
    71.0 / 57600.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
)
# Hairer's dense output (DOPRI5 continuous extension of order 4)
D1, D3, D4, D5, D6, D7 = (
    -12715105075.0 / 11282082432.0,
    87487479700.0 / 32700410799.0,
    -10690763975.0 / 1880347072.0,
    701980252875.0 / 199316789632.0,
    -1453857185.0 / 822651844.0,
    69997945.0 / 29380423.0,
)

GOLDEN = 0.5 * (math.sqrt(5.0) - 1.0)

# stage matrix; row 6 holds the 5th-order weights (FSAL: stage 7 is evaluated at the new point)
_A = np.zeros((7, 7))
_A[1, 0] = A21
_A[2, :2] = (A31, A32)
_A[3, :3] = (A41, A42, A43)
_A[4, :4] = (A51, A52, A53, A54)
_A[5, :5] = (A61, A62, A63, A64, A65)
_A[6, :6] = (B1, 0.0, B3, B4, B5, B6)


@njit(cache=True, nogil=True, error_model="numpy")
def field_magnitude(x, y, z, params):
    """|B| (nT) at a GSM position (R_E)."""
    bx, by, bz = field_gsm(x, y, z, params)
    return math.sqrt(bx * bx + by * by + bz * bz)


@njit(cache=True, nogil=True, error_model="numpy")
def _deriv(x, y, z, d, params):
    """d * unit B and |B|."""
    bx, by, bz = field_gsm(x, y, z, params)
    b = math.sqrt(bx * bx + by * by + bz * bz)
    f = d / b
    return bx * f, by * f, bz * f, b


@njit(cache=True, nogil=True, error_model="numpy")
def trace_direction(x0, y0, z0, d, params, well_mode, bm, tol, r_foot, r_max, max_steps, tt, tp, tb, tc, th, k):
    """Trace from (x0, y0, z0) along ``d`` * B (d = +1 north, -1 south) with DOPRI5.

    Stops on the footpoint sphere ``r_foot`` (last node refined onto it), beyond ``r_max``
    (open), after ``max_steps`` steps, or — when ``well_mode`` — at the first node with B >= bm where
    B increases. Fills tt (arc length), tp (positions), tb (|B|) per node and tc (dense
    coefficients), th (step) per step; ``k`` is a (7, 3) stage workspace.
    Returns (number of nodes, status).
    """
    k[0, 0], k[0, 1], k[0, 2], b = _deriv(x0, y0, z0, d, params)
    tt[0] = 0.0
    tp[0, 0] = x0
    tp[0, 1] = y0
    tp[0, 2] = z0
    tb[0] = b
    r = math.sqrt(x0 * x0 + y0 * y0 + z0 * z0)
    h = 0.02 * max(r, 1.0)
    n = 1
    t = 0.0
    px, py, pz = x0, y0, z0
    tries = 0
    while n < max_steps:
        tries += 1
        if tries > 4 * max_steps:
            return n, TR_FAIL
        hmax = 0.5 * max(r, 1.0)
        if h > hmax:
            h = hmax
        # stages 2..7 in one loop: a single call site of the field model keeps the compiled code small
        for st in range(1, 7):
            x = px
            y = py
            z = pz
            for j in range(st):
                a = _A[st, j]
                if a != 0.0:
                    x += h * a * k[j, 0]
                    y += h * a * k[j, 1]
                    z += h * a * k[j, 2]
            k[st, 0], k[st, 1], k[st, 2], bb = _deriv(x, y, z, d, params)
        nx = x
        ny = y
        nz = z
        bnew = bb
        err = 0.0
        for c in range(3):
            e = h * (E1 * k[0, c] + E3 * k[2, c] + E4 * k[3, c] + E5 * k[4, c] + E6 * k[5, c] + E7 * k[6, c])
            err += e * e
        err = math.sqrt(err) / (tol * max(r, 1.0))
        if not (err <= 1.0):
            if err != err:  # NaN: field undefined there, shrink hard
                h *= 0.1
            else:
                h *= max(0.1, 0.9 * err ** -0.2)
            if h < 1e-9 * max(r, 1.0):
                return n, TR_FAIL
            continue
        # accepted: dense coefficients of this step
        s = n - 1
        th[s] = h
        for c in range(3):
            y0c = tp[s, c]
            y1c = nx if c == 0 else (ny if c == 1 else nz)
            r2 = y1c - y0c
            r3 = h * k[0, c] - r2
            tc[s, 0, c] = y0c
            tc[s, 1, c] = r2
            tc[s, 2, c] = r3
            tc[s, 3, c] = r2 - h * k[6, c] - r3
            tc[s, 4, c] = h * (D1 * k[0, c] + D3 * k[2, c] + D4 * k[3, c] + D5 * k[4, c] + D6 * k[5, c] + D7 * k[6, c])
        rnew = math.sqrt(nx * nx + ny * ny + nz * nz)
        if rnew < r_foot:
            # refine the crossing of the footpoint sphere on the dense polynomial (bisection)
            lo = 0.0
            hi = 1.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                qx, qy, qz = _dense(tc, s, mid)
                if qx * qx + qy * qy + qz * qz > r_foot * r_foot:
                    lo = mid
                else:
                    hi = mid
            th_ = 0.5 * (lo + hi)
            qx, qy, qz = _dense(tc, s, th_)
            tt[n] = t + th_ * h
            tp[n, 0] = qx
            tp[n, 1] = qy
            tp[n, 2] = qz
            tb[n] = field_magnitude(qx, qy, qz, params)
            return n + 1, TR_FOOT
        t += h
        tt[n] = t
        tp[n, 0] = nx
        tp[n, 1] = ny
        tp[n, 2] = nz
        tb[n] = bnew
        n += 1
        if rnew > r_max:
            return n, TR_OPEN
        if well_mode and bnew >= bm and bnew > tb[n - 2]:
            return n, TR_WELL
        for c in range(3):
            k[0, c] = k[6, c]
        px, py, pz = nx, ny, nz
        r = rnew
        h *= min(5.0, max(0.2, 0.9 * max(err, 1e-10) ** -0.2))
    return n, TR_FAIL


@njit(cache=True, nogil=True, error_model="numpy")
def _dense(tc, s, theta):
    """Position on step ``s`` at fraction ``theta`` of the (full) step."""
    t1 = 1.0 - theta
    x = tc[s, 0, 0] + theta * (tc[s, 1, 0] + t1 * (tc[s, 2, 0] + theta * (tc[s, 3, 0] + t1 * tc[s, 4, 0])))
    y = tc[s, 0, 1] + theta * (tc[s, 1, 1] + t1 * (tc[s, 2, 1] + theta * (tc[s, 3, 1] + t1 * tc[s, 4, 1])))
    z = tc[s, 0, 2] + theta * (tc[s, 1, 2] + t1 * (tc[s, 2, 2] + theta * (tc[s, 3, 2] + t1 * tc[s, 4, 2])))
    return x, y, z


# --------------------------------------------------------------------------- merged lines
@njit(cache=True, nogil=True)
def new_work(max_steps):
    """Workspace arrays: two direction buffers and one merged line (tuple of arrays)."""
    m = max_steps + 2
    mm = 2 * m
    return (
        np.empty(m), np.empty((m, 3)), np.empty(m), np.empty((m, 5, 3)), np.empty(m),  # minus buffers
        np.empty(m), np.empty((m, 3)), np.empty(m), np.empty((m, 5, 3)), np.empty(m),  # plus buffers
        np.empty(mm), np.empty((mm, 3)), np.empty(mm), np.empty((mm, 5, 3)), np.empty(mm), np.empty(mm),  # merged
        np.empty((7, 3)),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def trace_line(x0, y0, z0, params, well_mode, bm, tol, r_foot, r_max, max_steps, w):
    """Trace both ways from a point and merge into w's line arrays (u increasing along +B, northward).

    Returns (n nodes, status south end, status north end).
    """
    mt, mp, mb, mc, mh, pt, pp, pb, pc, ph, lu, lp, lb, lc, lo, lh, k = w
    n1, st1 = trace_direction(x0, y0, z0, -1.0, params, well_mode, bm, tol, r_foot, r_max, max_steps, mt, mp, mb, mc, mh, k)
    n2, st2 = trace_direction(x0, y0, z0, 1.0, params, well_mode, bm, tol, r_foot, r_max, max_steps, pt, pp, pb, pc, ph, k)
    for i in range(n1):
        j = n1 - 1 - i
        lu[i] = -mt[j]
        lp[i, 0] = mp[j, 0]
        lp[i, 1] = mp[j, 1]
        lp[i, 2] = mp[j, 2]
        lb[i] = mb[j]
    for i in range(n1 - 1):
        s = n1 - 2 - i
        lc[i, :, :] = mc[s, :, :]
        lo[i] = -mt[s]
        lh[i] = -mh[s]
    for j in range(1, n2):
        i = n1 - 1 + j
        lu[i] = pt[j]
        lp[i, 0] = pp[j, 0]
        lp[i, 1] = pp[j, 1]
        lp[i, 2] = pp[j, 2]
        lb[i] = pb[j]
        lc[i - 1, :, :] = pc[j - 1, :, :]
        lo[i - 1] = pt[j - 1]
        lh[i - 1] = ph[j - 1]
    return n1 + n2 - 1, st1, st2


@njit(cache=True, nogil=True, error_model="numpy")
def line_position(u, n, lu, lc, lo, lh):
    """Position at coordinate ``u`` of a merged line (dense output of the containing step)."""
    lo_i = 0
    hi_i = n - 1
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        if lu[mid] <= u:
            lo_i = mid
        else:
            hi_i = mid
    theta = (u - lo[lo_i]) / lh[lo_i]
    return _dense(lc, lo_i, theta)


@njit(cache=True, nogil=True, error_model="numpy")
def line_field(u, n, w, params):
    lu, lc, lo, lh = w[10], w[13], w[14], w[15]
    x, y, z = line_position(u, n, lu, lc, lo, lh)
    return field_magnitude(x, y, z, params)


@njit(cache=True, nogil=True, error_model="numpy")
def line_bmin(n, w, params):
    """(u, Bmin) of the minimum of B along a merged line: golden section around the smallest node."""
    lu, lb = w[10], w[12]
    kmin = 0
    for i in range(1, n):
        if lb[i] < lb[kmin]:
            kmin = i
    if n < 2:
        return lu[0], lb[0]
    a = lu[max(kmin - 1, 0)]
    b = lu[min(kmin + 1, n - 1)]
    # Brent's minimisation (parabolic steps safeguarded by golden sections) on [a, b]
    cgold = 1.0 - GOLDEN
    x = lu[kmin]
    fx = lb[kmin]
    v = x
    wv = x
    fv = fx
    fw = fx
    d = 0.0
    e = 0.0
    tol = 1e-10 * max(1.0, abs(b - a))
    for _ in range(40):
        xm = 0.5 * (a + b)
        if abs(x - xm) <= 2.0 * tol - 0.5 * (b - a):
            break
        take_golden = True
        if abs(e) > tol:
            r = (x - wv) * (fx - fv)
            q = (x - v) * (fx - fw)
            pp = (x - v) * q - (x - wv) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                pp = -pp
            q = abs(q)
            if abs(pp) < abs(0.5 * q * e) and pp > q * (a - x) and pp < q * (b - x):
                e = d
                d = pp / q
                take_golden = False
                uu = x + d
                if uu - a < 2.0 * tol or b - uu < 2.0 * tol:
                    d = tol if xm >= x else -tol
        if take_golden:
            e = (a - x) if x >= xm else (b - x)
            d = cgold * e
        uu = x + d if abs(d) >= tol else x + (tol if d > 0 else -tol)
        fu = line_field(uu, n, w, params)
        if fu <= fx:
            if uu >= x:
                a = x
            else:
                b = x
            v, fv = wv, fw
            wv, fw = x, fx
            x, fx = uu, fu
        else:
            if uu < x:
                a = uu
            else:
                b = uu
            if fu <= fw or wv == x:
                v, fv = wv, fw
                wv, fw = uu, fu
            elif fu <= fv or v == x or v == wv:
                v, fv = uu, fu
    return x, fx


@njit(cache=True, nogil=True, error_model="numpy")
def _root_b(ua, ub, fa, fb, bm, n, w, params):
    """u in [ua, ub] where B(u) = bm, given f = B - bm of opposite signs at the ends (Illinois)."""
    side = 0
    xtol = 1e-12 * max(1.0, abs(ua) + abs(ub))
    c = ua
    for _ in range(60):
        c = (ua * fb - ub * fa) / (fb - fa)
        fc = line_field(c, n, w, params) - bm
        if fc == 0.0 or abs(ub - ua) < xtol:
            return c
        if (fc > 0.0) == (fb > 0.0):
            ub, fb = c, fc
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            ua, fa = c, fc
            if side == 1:
                fb *= 0.5
            side = 1
        if abs(fc) < 1e-13 * bm:
            return c
    return c


@njit(cache=True, nogil=True, error_model="numpy")
def line_mirror(n, w, params, u_min, b_min, bm, gl_x, gl_w):
    """Mirror points and second invariant on a merged line for mirror field ``bm``.

    Returns (u_south, u_north, I, status) with status 0 ok, 1 mirror point not reached on the traced
    part (the line ended with B < bm: loss cone or incomplete trace). I = 0 when bm <= Bmin.
    """
    lu, lb = w[10], w[12]
    if bm <= b_min:
        return u_min, u_min, 0.0, 0
    # interval k of the nodes containing u_min: lu[k] <= u_min <= lu[k + 1]
    k = 0
    while k < n - 2 and lu[k + 1] <= u_min:
        k += 1
    # southward: last node at or before k with B >= bm
    i = k
    while i >= 0 and lb[i] < bm:
        i -= 1
    if i < 0:
        return u_min, u_min, np.nan, 1
    if i < k:
        ub, fb = lu[i + 1], lb[i + 1] - bm
    else:
        ub, fb = u_min, b_min - bm
    u1 = _root_b(lu[i], ub, lb[i] - bm, fb, bm, n, w, params)
    # northward: first node after k with B >= bm
    j = k + 1
    while j < n and lb[j] < bm:
        j += 1
    if j >= n:
        return u_min, u_min, np.nan, 1
    if j > k + 1:
        ua, fa = lu[j - 1], lb[j - 1] - bm
    else:
        ua, fa = u_min, b_min - bm
    u2 = _root_b(ua, lu[j], fa, lb[j] - bm, bm, n, w, params)
    # I with s = c + hw sin(phi): smooth integrand
    cen = 0.5 * (u1 + u2)
    hw = 0.5 * (u2 - u1)
    total = 0.0
    for q in range(gl_x.shape[0]):
        phi = 0.5 * math.pi * gl_x[q]
        u = cen + hw * math.sin(phi)
        b = line_field(u, n, w, params)
        v = 1.0 - b / bm
        if v > 0.0:
            total += gl_w[q] * math.sqrt(v) * math.cos(phi)
    return u1, u2, total * hw * 0.5 * math.pi, 0


@njit(cache=True, nogil=True, error_model="numpy")
def count_wells(n, w, bm):
    """Number of separate runs of nodes with B < bm."""
    lb = w[12]
    wells = 0
    inside = False
    for i in range(n):
        below = lb[i] < bm
        if below and not inside:
            wells += 1
        inside = below
    return wells


@njit(cache=True, nogil=True, error_model="numpy")
def hilton_lm(i_re, bm, b0):
    """McIlwain's Lm from I (R_E), Bm (nT) and the dipole B0 (nT), Hilton (1971)'s approximation:
    L^3 Bm / B0 = 1 + 1.35047 X^(1/3) + 0.465376 X^(2/3) + 0.0475455 X, X = I^3 Bm / B0."""
    x = i_re * i_re * i_re * bm / b0
    x3 = x ** (1.0 / 3.0)
    f = 1.0 + 1.35047 * x3 + 0.465376 * x3 * x3 + 0.0475455 * x
    return (f * b0 / bm) ** (1.0 / 3.0)


@njit(cache=True, nogil=True, error_model="numpy")
def dipole_i_over_l(y, gl_x, gl_w):
    """I / L on a centred-dipole line for equatorial pitch-angle sine ``y`` (= sqrt(Bmin/Bm)):
    2 int_0^lm sqrt(1 - B/Bm) cos(l) sqrt(1 + 3 sin^2 l) dl with B/Bm = y^2 sqrt(1+3 sin^2 l)/cos^6 l."""
    if y >= 1.0:
        return 0.0
    y2 = y * y
    lo = 0.0
    hi = 0.5 * math.pi
    for _ in range(64):  # mirror latitude: cos^6 l = y^2 sqrt(1 + 3 sin^2 l)
        mid = 0.5 * (lo + hi)
        c = math.cos(mid)
        sn = math.sin(mid)
        if c**6 - y2 * math.sqrt(1.0 + 3.0 * sn * sn) > 0.0:
            lo = mid
        else:
            hi = mid
    lm = 0.5 * (lo + hi)
    total = 0.0
    for q in range(gl_x.shape[0]):
        phi = 0.5 * math.pi * gl_x[q]
        lam = lm * math.sin(phi)
        c = math.cos(lam)
        sn = math.sin(lam)
        root = math.sqrt(1.0 + 3.0 * sn * sn)
        v = 1.0 - y2 * root / c**6
        if v > 0.0:
            total += gl_w[q] * math.sqrt(v) * c * root * math.cos(phi)
    return total * lm * 0.5 * math.pi


@njit(cache=True, nogil=True, error_model="numpy")
def dipole_lm(i_re, bm, b0, gl_x, gl_w):
    """McIlwain's Lm by its definition: the L of the centred-dipole (moment B0) line on which a
    particle mirroring at ``bm`` has second invariant ``i_re``; solved by secant iterations from
    Hilton's approximation (which alone is only good to ~1e-4)."""
    if not (i_re > 0.0):
        return (b0 / bm) ** (1.0 / 3.0)
    l0 = hilton_lm(i_re, bm, b0)
    l1 = l0 * (1.0 + 1e-4)

    def mismatch(L):
        y2 = b0 / (L * L * L * bm)
        if y2 >= 1.0:
            return -i_re
        return L * dipole_i_over_l(math.sqrt(y2), gl_x, gl_w) - i_re

    f0 = mismatch(l0)
    f1 = mismatch(l1)
    for _ in range(30):
        if f1 == f0:
            break
        l2 = l1 - f1 * (l1 - l0) / (f1 - f0)
        l0, f0 = l1, f1
        l1 = l2
        if abs(l1 - l0) < 1e-13 * l1:
            break
        f1 = mismatch(l1)
    return l1


# --------------------------------------------------------------------------- SM helpers
@njit(cache=True, nogil=True, error_model="numpy")
def gsm_to_sm(x, y, z, tilt):
    c = math.cos(tilt)
    s = math.sin(tilt)
    return x * c - z * s, y, x * s + z * c


@njit(cache=True, nogil=True, error_model="numpy")
def sm_to_gsm(x, y, z, tilt):
    c = math.cos(tilt)
    s = math.sin(tilt)
    return x * c + z * s, y, -x * s + z * c


@njit(cache=True, nogil=True, error_model="numpy")
def _sm_equator_crossing(n, w, tilt):
    """u and SM (r, azimuth) where the merged line crosses z_SM = 0 (closest to its Bmin region);
    returns (found, r, phi)."""
    lu, lp, lc, lo, lh = w[10], w[11], w[13], w[14], w[15]
    c = math.cos(tilt)
    s = math.sin(tilt)
    for i in range(n - 1):
        za = lp[i, 0] * s + lp[i, 2] * c
        zb = lp[i + 1, 0] * s + lp[i + 1, 2] * c
        if (za <= 0.0 and zb > 0.0) or (za >= 0.0 and zb < 0.0):
            ua = lu[i]
            ub = lu[i + 1]
            for _ in range(60):
                um = 0.5 * (ua + ub)
                x, y, z = line_position(um, n, lu, lc, lo, lh)
                zm = x * s + z * c
                if (zm > 0.0) == (za > 0.0):
                    ua = um
                else:
                    ub = um
            x, y, z = line_position(0.5 * (ua + ub), n, lu, lc, lo, lh)
            xs, ys, zs = gsm_to_sm(x, y, z, tilt)
            return True, math.sqrt(xs * xs + ys * ys), math.atan2(ys, xs)
    return False, 0.0, 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def cap_flux(theta_f, phi_f, params, r_foot, gl_x, gl_w):
    """F = int_0^theta_f (-B_r) sin(theta) r^2 dtheta on the SM meridian phi_f of the r_foot sphere."""
    tilt = params[P_TILT]
    total = 0.0
    cp = math.cos(phi_f)
    sp = math.sin(phi_f)
    for q in range(gl_x.shape[0]):
        th = 0.5 * theta_f * (gl_x[q] + 1.0)
        st = math.sin(th)
        ux, uy, uz = sm_to_gsm(st * cp, st * sp, math.cos(th), tilt)
        bx, by, bz = field_gsm(r_foot * ux, r_foot * uy, r_foot * uz, params)
        total += gl_w[q] * (-(bx * ux + by * uy + bz * uz)) * st
    return total * 0.5 * theta_f * r_foot * r_foot


# --------------------------------------------------------------------------- drift shell
@njit(cache=True, nogil=True, error_model="numpy")
def _shell_g(r, phi, params, equatorial, bm, i0, tol, r_foot, r_max, max_steps, w, gl_x, gl_w):
    """Mismatch g(r) (increasing with r) of the SM-equator line at (r, phi) and a status code."""
    tilt = params[P_TILT]
    x, y, z = sm_to_gsm(r * math.cos(phi), r * math.sin(phi), 0.0, tilt)
    n, st1, st2 = trace_line(x, y, z, params, True, bm, tol, r_foot, r_max, max_steps, w)
    if st1 == TR_OPEN or st2 == TR_OPEN:
        return np.inf, FLAG_OPEN_SHELL
    if st1 == TR_FAIL or st2 == TR_FAIL:
        return np.nan, FLAG_NO_CONVERGENCE
    if count_wells(n, w, bm * (1.0 - 1e-9)) > 1:
        # two separate B-wells below Bm on this shell line (dayside double minimum): the drift bifurcates
        return np.nan, FLAG_SHABANSKY
    u_min, b_min = line_bmin(n, w, params)
    if equatorial:
        return 1.0 - b_min / bm, OK
    if b_min >= bm:
        # no mirror point: continue I(delta) below delta = 1 - Bmin/Bm = 0 with its slope at 0+,
        # dI/d(delta) = pi / (2 sqrt(B''/(2 Bm))) (parabolic well), so the secant sees a C1 function
        hh = 0.02 * r
        bpp = (line_field(u_min + hh, n, w, params) + line_field(u_min - hh, n, w, params) - 2.0 * b_min) / (hh * hh)
        slope = 0.5 * math.pi / math.sqrt(max(bpp, 1e-30) / (2.0 * bm)) if bpp > 0.0 else r
        return -i0 + slope * (1.0 - b_min / bm), OK
    u1, u2, i_val, st = line_mirror(n, w, params, u_min, b_min, bm, gl_x, gl_w)
    if st != 0:
        return np.nan, FLAG_DRIFT_LOSS_CONE
    return i_val - i0, OK


@njit(cache=True, nogil=True, error_model="numpy")
def solve_meridian(phi, r_guess, slope_guess, params, equatorial, bm, i0, tol, xtol, r_foot, r_max, max_steps, w, gl_x, gl_w):
    """SM-equator radius on azimuth ``phi`` whose line has the shell's (Bm, I): safeguarded secant.

    Returns (r, slope dg/dr, status).
    """
    lo = r_foot
    hi = r_max
    has_lo = False
    has_hi = False
    g_lo = 0.0
    g_hi = 0.0
    r = min(max(r_guess, r_foot * 1.0001), r_max * 0.999)
    r_prev = np.nan
    g_prev = np.nan
    slope = slope_guess
    for it in range(40):
        g, st = _shell_g(r, phi, params, equatorial, bm, i0, tol, r_foot, r_max, max_steps, w, gl_x, gl_w)
        if st == FLAG_OPEN_SHELL:
            hi = r
            has_hi = True
            g_hi = np.inf
            r_prev = np.nan
        elif st != OK:
            return r, slope, st
        else:
            if g == 0.0:
                return r, slope, OK
            if g < 0.0:
                lo = r
                g_lo = g
                has_lo = True
            else:
                hi = r
                g_hi = g
                has_hi = True
            if r_prev == r_prev and r != r_prev:
                sl = (g - g_prev) / (r - r_prev)
                if sl > 0.0:
                    slope = sl
            r_prev = r
            g_prev = g
        # proposal
        if st == OK and slope > 0.0:
            step = -g / slope
            if abs(step) < xtol * r:
                return r + step, slope, OK
            r_new = r + step
        elif st == OK and it == 0:
            r_new = r * (1.0 - 1e-3) if g > 0.0 else r * (1.0 + 1e-3)
        else:
            r_new = np.nan
        if has_lo and has_hi:
            if hi - lo < xtol * lo:
                if g_hi == np.inf:
                    return r, slope, FLAG_OPEN_SHELL
                return lo - g_lo * (hi - lo) / (g_hi - g_lo), slope, OK
            if not (r_new > lo and r_new < hi):
                if g_hi != np.inf:
                    r_new = lo - g_lo * (hi - lo) / (g_hi - g_lo)  # regula falsi
                    if not (r_new > lo + 0.05 * (hi - lo) and r_new < hi - 0.05 * (hi - lo)):
                        r_new = 0.5 * (lo + hi)
                else:
                    r_new = 0.5 * (lo + hi)
        elif has_lo:
            if not (r_new > lo) or r_new > 2.0 * lo:
                r_new = min(2.0 * lo, 0.5 * (lo + r_max)) if not (r_new > lo) else 2.0 * lo
        elif has_hi:
            if not (r_new < hi) or r_new < 0.5 * hi:
                r_new = max(0.5 * hi, 0.5 * (hi + r_foot))
        if r_new >= r_max:
            r_new = 0.5 * (r + r_max)
        if r_new <= r_foot:
            r_new = 0.5 * (r + r_foot)
        r = r_new
    return r, slope, FLAG_NO_CONVERGENCE


@njit(cache=True, nogil=True, error_model="numpy")
def north_footpoint(x, y, z, params, tol, r_foot, r_max, max_steps, w):
    """Trace north (+B) from a GSM point to the footpoint sphere; returns (status, x, y, z)."""
    pt, pp, pb, pc, ph, k = w[5], w[6], w[7], w[8], w[9], w[16]
    n, st = trace_direction(x, y, z, 1.0, params, False, 0.0, tol, r_foot, r_max, max_steps, pt, pp, pb, pc, ph, k)
    return st, pp[n - 1, 0], pp[n - 1, 1], pp[n - 1, 2]


@njit(cache=True, nogil=True, error_model="numpy")
def shell_flux(n_lines, phi0, foot_theta, foot_phi, fl, params, r_foot, gl_fx, gl_fw):
    """Polar-cap flux bounded by the shell footpoints (uniform SM-equator azimuths from phi0)."""
    dphi = 2.0 * math.pi / n_lines
    # psi = phi_foot - phi_eq (periodic); spectral derivative at the nodes
    psi = np.empty(n_lines)
    for j in range(n_lines):
        v = foot_phi[j] - (phi0 + j * dphi)
        v = (v + math.pi) % (2.0 * math.pi) - math.pi
        psi[j] = v
    total = 0.0
    kmax = (n_lines - 1) // 2
    for m in range(n_lines):
        dpsi = 0.0
        for kk in range(1, kmax + 1):
            a = 0.0
            b = 0.0
            for j in range(n_lines):
                a += psi[j] * math.cos(kk * j * dphi)
                b += psi[j] * math.sin(kk * j * dphi)
            a *= 2.0 / n_lines
            b *= 2.0 / n_lines
            dpsi += kk * (-a * math.sin(kk * m * dphi) + b * math.cos(kk * m * dphi))
        fl[m] = cap_flux(foot_theta[m], foot_phi[m], params, r_foot, gl_fx, gl_fw)
        total += fl[m] * (1.0 + dpsi)
    return total * dphi


@njit(cache=True, nogil=True, error_model="numpy")
def lstar_point(
    x0, y0, z0, sin2_alpha, params, n_lines, tol, xtol, r_foot, r_max, lm_max, lm_hilton, max_steps,
    gl_x, gl_w, gl_fx, gl_fw, w, ws,
    out_lstar, out_lm, out_k, out_i, out_bm, out_flag, out_scalar, out_mirror, shell_r, shell_foot,
):
    """Invariants and L* of one point for each sin^2(pitch angle) (0 -> invariants only, no L*).

    out_scalar receives (Blocal, Bmin, MLT, southern footpoint xyz, northern footpoint xyz) and
    out_mirror (n_alpha, 6) the southern and northern mirror points (GSM, R_E). shell_r (n_alpha, n_lines) and shell_foot
    (n_alpha, n_lines, 3) receive the shell's SM-equator radii, and footpoint SM colatitude and
    azimuth and the SM-equator azimuth of each shell line.
    ``w`` holds the particle's own line, ``ws`` is the scratch workspace of the shell traces.
    """
    na = sin2_alpha.shape[0]
    for a in range(na):
        out_lstar[a] = np.nan
        out_lm[a] = np.nan
        out_k[a] = np.nan
        out_i[a] = np.nan
        out_bm[a] = np.nan
        out_flag[a] = OK
    out_scalar[:] = np.nan
    out_mirror[:, :] = np.nan
    shell_r[:, :] = np.nan
    shell_foot[:, :, :] = np.nan
    tilt = params[P_TILT]
    b0 = params[P_B0]
    if not (x0 == x0 and y0 == y0 and z0 == z0):
        for a in range(na):
            out_flag[a] = FLAG_INVALID_INPUT
        return
    xs, ys, zs = gsm_to_sm(x0, y0, z0, tilt)
    out_scalar[2] = (12.0 + math.atan2(ys, xs) * 12.0 / math.pi) % 24.0
    r0 = math.sqrt(x0 * x0 + y0 * y0 + z0 * z0)
    if r0 < r_foot:
        for a in range(na):
            out_flag[a] = FLAG_BELOW_SURFACE
        return
    b_local = field_magnitude(x0, y0, z0, params)
    out_scalar[0] = b_local
    n, st1, st2 = trace_line(x0, y0, z0, params, False, 0.0, tol, r_foot, r_max, max_steps, w)
    if st1 != TR_FOOT or st2 != TR_FOOT:
        code = FLAG_OPEN_LINE if (st1 == TR_OPEN or st2 == TR_OPEN) else FLAG_NO_CONVERGENCE
        for a in range(na):
            out_flag[a] = code
        return
    lp, lb = w[11], w[12]
    for c in range(3):
        out_scalar[3 + c] = lp[0, c]
        out_scalar[6 + c] = lp[n - 1, c]
    u_min, b_min = line_bmin(n, w, params)
    out_scalar[1] = b_min
    b_foot = min(lb[0], lb[n - 1])
    fx, fy, fz = lp[n - 1, 0], lp[n - 1, 1], lp[n - 1, 2]
    found, r_cross, phi_cross = _sm_equator_crossing(n, w, tilt)
    if not found:
        r_cross = np.nan
        phi_cross = math.atan2(ys, xs)
    fxs, fys, fzs = gsm_to_sm(fx, fy, fz, tilt)
    foot_theta0 = math.acos(min(1.0, max(-1.0, fzs / math.sqrt(fxs * fxs + fys * fys + fzs * fzs))))
    foot_phi0 = math.atan2(fys, fxs)
    for a in range(na):
        s2 = sin2_alpha[a]
        if not (s2 > 0.0 and s2 <= 1.0):
            out_flag[a] = FLAG_INVALID_INPUT
            continue
        bm = b_local / s2
        if bm < b_min:  # 90 deg at a point a hair off the minimum: mirror at the minimum
            bm = b_min
        out_bm[a] = bm
        if bm >= b_foot:
            out_flag[a] = FLAG_LOSS_CONE
            continue
        if count_wells(n, w, bm * (1.0 - 1e-9)) > 1:
            out_flag[a] = FLAG_SHABANSKY
            continue
        u1, u2, i_val, st = line_mirror(n, w, params, u_min, b_min, bm, gl_x, gl_w)
        if st != 0:
            out_flag[a] = FLAG_LOSS_CONE
            continue
        out_i[a] = i_val
        out_k[a] = i_val * math.sqrt(bm)
        mx, my, mz = line_position(u1, n, w[10], w[13], w[14], w[15])
        out_mirror[a, 0] = mx
        out_mirror[a, 1] = my
        out_mirror[a, 2] = mz
        mx, my, mz = line_position(u2, n, w[10], w[13], w[14], w[15])
        out_mirror[a, 3] = mx
        out_mirror[a, 4] = my
        out_mirror[a, 5] = mz
        lm = hilton_lm(i_val, bm, b0) if lm_hilton else dipole_lm(i_val, bm, b0, gl_x, gl_w)
        out_lm[a] = lm
        if n_lines <= 0:
            continue
        if lm > lm_max:
            out_flag[a] = FLAG_LM_LIMIT
            continue
        if not found:
            out_flag[a] = FLAG_NO_CONVERGENCE
            continue
        equatorial = i_val <= 1e-9 * r_cross
        # drift shell: meridian 0 is the particle's own line
        dphi = 2.0 * math.pi / n_lines
        shell_r[a, 0] = r_cross
        shell_foot[a, 0, 0] = foot_theta0
        shell_foot[a, 0, 1] = foot_phi0
        shell_foot[a, 0, 2] = phi_cross
        slope = np.nan
        flag = OK
        for j in range(1, n_lines):
            phi = phi_cross + j * dphi
            if j >= 3:
                guess = 3.0 * shell_r[a, j - 1] - 3.0 * shell_r[a, j - 2] + shell_r[a, j - 3]
            elif j == 2:
                guess = 2.0 * shell_r[a, 1] - shell_r[a, 0]
            else:
                guess = r_cross
            r_j, slope, st = solve_meridian(phi, guess, slope, params, equatorial, bm, i_val, tol, xtol, r_foot, r_max, max_steps, ws, gl_x, gl_w)
            if st != OK:
                flag = st
                break
            shell_r[a, j] = r_j
            gx, gy, gz = sm_to_gsm(r_j * math.cos(phi), r_j * math.sin(phi), 0.0, tilt)
            stf, qx, qy, qz = north_footpoint(gx, gy, gz, params, tol, r_foot, r_max, max_steps, ws)
            if stf != TR_FOOT:
                flag = FLAG_OPEN_SHELL if stf == TR_OPEN else FLAG_NO_CONVERGENCE
                break
            qxs, qys, qzs = gsm_to_sm(qx, qy, qz, tilt)
            shell_foot[a, j, 0] = math.acos(min(1.0, max(-1.0, qzs / math.sqrt(qxs * qxs + qys * qys + qzs * qzs))))
            shell_foot[a, j, 1] = math.atan2(qys, qxs)
            shell_foot[a, j, 2] = phi
        if flag != OK:
            out_flag[a] = flag
            continue
        fl = np.empty(n_lines)
        phi_flux = shell_flux(n_lines, phi_cross, shell_foot[a, :, 0], shell_foot[a, :, 1], fl, params, r_foot, gl_fx, gl_fw)
        out_lstar[a] = 2.0 * math.pi * b0 / phi_flux


@njit(cache=True, nogil=True, error_model="numpy")
def lstar_batch(
    xyz, sin2_alpha, params, n_lines, tol, xtol, r_foot, r_max, lm_max, lm_hilton, max_steps, gl_x, gl_w, gl_fx, gl_fw,
    out_lstar, out_lm, out_k, out_i, out_bm, out_flag, out_scalar, out_mirror, shell_r, shell_foot,
):
    """Loop of :func:`lstar_point` over rows of ``xyz`` (n, 3) with per-row ``params`` (n, P) and
    ``sin2_alpha`` (n, n_alpha); out_scalar is (n, 9), out_mirror (n, n_alpha, 6). ``shell_r`` (m, n_alpha, n_lines) and ``shell_foot``
    (m, n_alpha, n_lines, 3) keep each point's drift shell when m = n, else (m = 1) are scratch."""
    w = new_work(max_steps)
    ws = new_work(max_steps)
    keep = shell_r.shape[0] == xyz.shape[0]
    for i in range(xyz.shape[0]):
        k = i if keep else 0
        lstar_point(
            xyz[i, 0], xyz[i, 1], xyz[i, 2], sin2_alpha[i], params[i], n_lines, tol, xtol, r_foot, r_max, lm_max,
            lm_hilton, max_steps, gl_x, gl_w, gl_fx, gl_fw, w, ws,
            out_lstar[i], out_lm[i], out_k[i], out_i[i], out_bm[i], out_flag[i], out_scalar[i], out_mirror[i],
            shell_r[k], shell_foot[k],
        )
