"""numba kernels of the magnetic field models (centred dipole, IGRF, Tsyganenko 1989).

Imported lazily (first field evaluation) so ``import xspace`` compiles nothing.

Everything a kernel needs travels in one float64 ``params`` vector built by
:func:`xspace.magnetosphere.field.make_field_params` (or ``dipole_params``), so a kernel is a pure
function of (position, params) and can be called from other numba code (field-line tracing, L*):

=========================  ==================================================================
``params[0]``              model code: 0 centred dipole, 1 IGRF, 2 IGRF + T89
``params[1]``              dipole tilt angle psi (rad), positive when the northern magnetic pole
                           leans towards the Sun
``params[2]``              B0 (nT): equatorial surface field of the centred dipole
``params[3:12]``           3x3 rotation GSM -> GEO, row-major (``v_geo = R @ v_gsm``)
``params[12]``             T89 IOPT (1..7), 0 when unused
``params[13]``             maximum IGRF degree used
``params[14:210]``         IGRF g[n, m] (14 x 14, row-major, nT)
``params[210:406]``        IGRF h[n, m]
``params[406:436]``        T89 coefficients a1..a30 of the IOPT level
=========================  ==================================================================

Positions are in Earth radii (R_E = 6371.2 km), fields in nT.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NMAX = 13
NCOEF = (NMAX + 1) * (NMAX + 1)
P_CODE = 0
P_TILT = 1
P_B0 = 2
P_ROT = 3
P_IOPT = 12
P_NMAX = 13
P_G = 14
P_H = P_G + NCOEF
P_T89 = P_H + NCOEF
N_T89 = 30
N_PARAMS = P_T89 + N_T89

MODEL_DIPOLE = 0
MODEL_IGRF = 1
MODEL_T89 = 2

# Tsyganenko (1989) coefficients a1..a30 for IOPT = 1..7 (filled in with the T89 kernel)
T89_COEFFICIENTS = np.full((7, N_T89), np.nan)


@njit(cache=True, nogil=True)
def dipole_sm(x, y, z, b0):
    """Earth-like centred dipole in SM coordinates (moment along -z): B = (0, 0, b0) at (1, 0, 0)."""
    r2 = x * x + y * y + z * z
    r = math.sqrt(r2)
    f = b0 / (r2 * r2 * r)
    return -3.0 * x * z * f, -3.0 * y * z * f, (r2 - 3.0 * z * z) * f


@njit(cache=True, nogil=True)
def dipole_gsm(x, y, z, tilt, b0):
    """Centred dipole in GSM with tilt ``tilt`` (rad): moment along the SM z axis."""
    s = math.sin(tilt)
    c = math.cos(tilt)
    # GSM -> SM is a rotation about y: the SM z axis is (sin psi, 0, cos psi) in GSM
    xs = x * c - z * s
    zs = x * s + z * c
    bxs, bys, bzs = dipole_sm(xs, y, zs, b0)
    return bxs * c + bzs * s, bys, -bxs * s + bzs * c


@njit(cache=True, nogil=True)
def igrf_geo_spherical(r, theta, phi, params):
    """IGRF in GEO spherical components (B_r, B_theta, B_phi), nT, at radius ``r`` (R_E),
    colatitude ``theta`` and east longitude ``phi`` (rad).

    Schmidt semi-normalised associated Legendre functions and their theta derivatives by the
    standard three-term recursions in n (fixed m) started from the sectoral terms P_m^m.
    """
    nmax = int(params[P_NMAX])
    ct = math.cos(theta)
    st = math.sin(theta)
    # the phi component needs P/sin(theta); at the poles P_n^m (m >= 1) ~ sin^m so the limit is finite
    st_safe = st if st > 1e-12 else 1e-12
    a_r = 1.0 / r
    br = 0.0
    bt = 0.0
    bp = 0.0
    # sectoral terms P_m^m and derivatives, carried along m
    pmm = 1.0
    dpmm = 0.0
    for m in range(nmax + 1):
        if m == 1:
            pmm_new = st
            dpmm_new = ct
            pmm, dpmm = pmm_new, dpmm_new
        elif m >= 2:
            k = math.sqrt((2.0 * m - 1.0) / (2.0 * m))
            pmm, dpmm = k * st * pmm, k * (ct * pmm + st * dpmm)
        cm = math.cos(m * phi)
        sm = math.sin(m * phi)
        p_prev = 0.0
        dp_prev = 0.0
        p = pmm
        dp = dpmm
        ratio = a_r ** (m + 2)
        for n in range(m, nmax + 1):
            if n > m:
                d = math.sqrt(float(n * n - m * m))
                e = math.sqrt(float((n - 1) * (n - 1) - m * m))
                p_next = ((2.0 * n - 1.0) * ct * p - e * p_prev) / d
                dp_next = ((2.0 * n - 1.0) * (ct * dp - st * p) - e * dp_prev) / d
                p_prev, dp_prev = p, dp
                p, dp = p_next, dp_next
                ratio *= a_r
            if n == 0:
                continue
            g = params[P_G + n * (NMAX + 1) + m]
            h = params[P_H + n * (NMAX + 1) + m]
            gc = g * cm + h * sm
            br += (n + 1.0) * ratio * gc * p
            bt -= ratio * gc * dp
            bp += ratio * m * (g * sm - h * cm) * p / st_safe
    return br, bt, bp


@njit(cache=True, nogil=True)
def igrf_geo(x, y, z, params):
    """IGRF in GEO cartesian components (nT) at GEO cartesian position (R_E)."""
    rho2 = x * x + y * y
    r = math.sqrt(rho2 + z * z)
    rho = math.sqrt(rho2)
    theta = math.atan2(rho, z)
    phi = math.atan2(y, x)
    br, bt, bp = igrf_geo_spherical(r, theta, phi, params)
    st = math.sin(theta)
    ct = math.cos(theta)
    sp = math.sin(phi)
    cp = math.cos(phi)
    bxy = br * st + bt * ct
    return bxy * cp - bp * sp, bxy * sp + bp * cp, br * ct - bt * st


@njit(cache=True, nogil=True)
def igrf_gsm(x, y, z, params):
    """IGRF at a GSM position, in GSM components (nT)."""
    o = P_ROT
    xg = params[o] * x + params[o + 1] * y + params[o + 2] * z
    yg = params[o + 3] * x + params[o + 4] * y + params[o + 5] * z
    zg = params[o + 6] * x + params[o + 7] * y + params[o + 8] * z
    bx, by, bz = igrf_geo(xg, yg, zg, params)
    # transpose of the rotation: GEO -> GSM
    return (
        params[o] * bx + params[o + 3] * by + params[o + 6] * bz,
        params[o + 1] * bx + params[o + 4] * by + params[o + 7] * bz,
        params[o + 2] * bx + params[o + 5] * by + params[o + 8] * bz,
    )


@njit(cache=True, nogil=True)
def t89_gsm(x, y, z, params):
    """External field of Tsyganenko (1989) at a GSM position (nT); placeholder until T89 lands."""
    return 0.0, 0.0, 0.0


@njit(cache=True, nogil=True)
def field_gsm(x, y, z, params):
    """B (bx, by, bz) in nT, GSM, at GSM position (x, y, z) in Earth radii (R_E = 6371.2 km).

    ``params``: 1-D float64 array from :func:`xspace.magnetosphere.field.make_field_params`.
    """
    code = int(params[P_CODE])
    if code == MODEL_DIPOLE:
        return dipole_gsm(x, y, z, params[P_TILT], params[P_B0])
    bx, by, bz = igrf_gsm(x, y, z, params)
    if code == MODEL_T89:
        ex, ey, ez = t89_gsm(x, y, z, params)
        bx += ex
        by += ey
        bz += ez
    return bx, by, bz


@njit(cache=True, nogil=True)
def field_gsm_many(xyz, params, out):
    """Evaluate :func:`field_gsm` at each row of ``xyz`` (n, 3) into ``out`` (n, 3)."""
    for i in range(xyz.shape[0]):
        bx, by, bz = field_gsm(xyz[i, 0], xyz[i, 1], xyz[i, 2], params)
        out[i, 0] = bx
        out[i, 1] = by
        out[i, 2] = bz


@njit(cache=True, nogil=True)
def igrf_geo_many(xyz, params, out):
    """IGRF in GEO at each row of a GEO ``xyz`` (n, 3) into ``out`` (n, 3)."""
    for i in range(xyz.shape[0]):
        bx, by, bz = igrf_geo(xyz[i, 0], xyz[i, 1], xyz[i, 2], params)
        out[i, 0] = bx
        out[i, 1] = by
        out[i, 2] = bz


def empty_params() -> np.ndarray:
    """A zeroed parameter vector of the right length."""
    return np.zeros(N_PARAMS)
