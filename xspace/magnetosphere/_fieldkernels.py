"""numba kernels of the magnetic field models (centred dipole, IGRF, Tsyganenko 1989).

Imported lazily (first field evaluation) so ``import xspace`` compiles nothing.

Everything a kernel needs travels in one float64 ``params`` vector built by
:func:`xspace.magnetosphere.field.make_field_params` (or ``dipole_params``), so a kernel is a pure
function of (position, params) and can be called from other numba code (field-line tracing, L*):

=========================  ==================================================================
``params[0]``              model code: 0 centred dipole, 1 IGRF, 2 IGRF + T89, 4 dipole + uniform
``params[1]``              dipole tilt angle psi (rad), positive when the northern magnetic pole
                           leans towards the Sun
``params[2]``              B0 (nT): equatorial surface field of the centred dipole
``params[3:12]``           3x3 rotation GSM -> GEO, row-major (``v_geo = R @ v_gsm``)
``params[12]``             T89 IOPT (1..7), 0 when unused
``params[13]``             maximum IGRF degree used
``params[14:210]``         IGRF g[n, m] (14 x 14, row-major, nT)
``params[210:406]``        IGRF h[n, m]
``params[406:436]``        T89 coefficients a1..a30 of the IOPT level (code 4: params[406] = uniform Bz, nT)
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
MODEL_T89_EXTERNAL = 3  # private: the T89 external field alone (for t89_field)
# centred dipole (tilt 0) + a uniform field along GSM z of params[P_UNIFORM] nT: an axisymmetric
# field whose drift shells and L* are known in closed form (field.dipole_uniform_params)
MODEL_DIPOLE_UNIFORM = 4
P_UNIFORM = P_T89

# Tsyganenko (1989) coefficients a1..a30, one row per activity level IOPT = 1..7 (Kp 0,0+ | 1-,1,1+ |
# 2-,2,2+ | 3-,3,3+ | 4-,4,4+ | 5-,5,5+ | >= 6-), in the 1992 revision "T89c" that IRBEM and
# GEOPACK use (ISEE data added; a16, a17 modulate the two tail modes by the squared tilt).
# Meaning: a1, a2 tail modes 1 and 2; a3, a4 symmetric/antisymmetric closure currents; a5 ring
# current; a6..a15 magnetopause (Chapman-Ferraro) terms; a16, a17 tilt terms of the tail; a18 Dx
# (magnetopause e-folding length); a19 ring current radius; a20 D0 (half-thickness); a21 ring
# current thickening; a22 Rc (hinging distance); a23 G (warping); a24 tail current radius;
# a25 Dy (tail width); a26 delta (flank thickening); a27 Q (0); a28 x0 (tail inner edge);
# a29 gamma_T (thickening at the inner edge); a30 Dyc (closure current width).
T89_COEFFICIENTS = np.array(
    [
        [-116.53, -55.553, -101.34, -181.69, -436.54, -707.77, -1190.4],
        [-10719.0, -13198.0, -13480.0, -12320.0, -9001.0, -4471.9, 2749.9],
        [42.375, 60.647, 111.35, 173.79, 323.66, 432.81, 742.56],
        [59.753, 61.072, 12.386, -96.664, -410.08, -435.51, -1110.3],
        [-11363.0, -16064.0, -24699.0, -39051.0, -50340.0, -60400.0, -77193.0],
        [1.7844, 2.2534, 2.6459, 3.2633, 3.9932, 4.6229, 7.6727],
        [30.268, 34.407, 38.948, 44.968, 58.524, 68.178, 102.05],
        [-0.035372, -0.038887, -0.03408, -0.046377, -0.038519, -0.088245, -0.096015],
        [-0.066832, -0.094571, -0.12404, -0.16686, -0.26822, -0.21002, -0.74507],
        [0.016456, 0.027154, 0.029702, 0.048298, 0.074528, 0.11846, 0.11214],
        [-1.3024, -1.3901, -1.4052, -1.5473, -1.4268, -2.6711, -1.3614],
        [0.0016529, 0.001346, 0.0012103, 0.0010277, -0.0010985, 0.0022305, 0.0015157],
        [0.0020293, 0.0013238, 0.0016381, 0.0031632, 0.0096613, 0.01091, 0.022283],
        [20.289, 23.005, 24.49, 27.341, 27.557, 27.547, 23.164],
        [-0.025203, -0.030565, -0.037705, -0.050655, -0.056522, -0.05408, -0.074146],
        [224.91, 55.047, -298.32, -514.1, -867.03, -424.23, -2219.1],
        [-9234.8, -3875.7, 4400.9, 12482.0, 20652.0, 1100.2, 48253.0],
        [22.788, 20.178, 18.692, 16.257, 14.101, 13.954, 12.714],
        [7.8813, 7.9693, 7.9064, 8.5834, 8.3501, 7.5337, 7.6777],
        [1.8362, 1.4575, 1.3047, 1.0194, 0.72996, 0.89714, 0.57138],
        [-0.27228, 0.89471, 2.4541, 3.6148, 3.8149, 3.7813, 2.9633],
        [8.8184, 9.4039, 9.7012, 8.6042, 9.2908, 8.2945, 9.3909],
        [2.8714, 3.5215, 7.1624, 5.5057, 6.4674, 5.174, 9.7263],
        [14.468, 14.474, 14.288, 13.778, 13.729, 14.213, 11.123],
        [32.177, 36.555, 33.822, 32.373, 28.353, 25.237, 21.558],
        [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [7.0459, 7.0787, 6.7442, 7.3195, 7.4237, 7.0037, 4.4518],
        [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0],
        [20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0],
    ]
).T.copy()
T89_COEFFICIENTS.setflags(write=False)

# fixed shape constants of T89 (Tsyganenko 1989, section 3)
_T89_RC_SCALE2 = 25.0  # squared x-scale of the ring-current thickening (5 R_E)
_T89_TAIL_EDGE2 = 170.0  # squared x-scale of the tail current's inner-edge truncation
_T89_THICK_SCALE2 = 40.0  # squared x-scale of the tail sheet thickening near the inner edge
_T89_HINGE2 = 16.0  # squared scale of the current sheet hinging (4 R_E)
_T89_WARP4 = 1.0e4  # y^4 scale of the tail warping (10 R_E)
_T89_CLOSURE_X = 4.0  # x of the closure currents' truncation
_T89_CLOSURE_SCALE2 = 50.0  # squared x-scale of the closure currents' truncation
_T89_IMAGE_Z = 30.0  # |z| of the closure current images (R_E)


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


def _recursion_constants():
    d = np.zeros((NMAX + 1, NMAX + 1))
    e = np.zeros((NMAX + 1, NMAX + 1))
    for n in range(NMAX + 1):
        for m in range(n):
            d[n, m] = 1.0 / math.sqrt(n * n - m * m)
            e[n, m] = math.sqrt(max((n - 1) * (n - 1) - m * m, 0))
    sect = np.array([math.sqrt((2.0 * m - 1.0) / (2.0 * m)) if m >= 2 else 1.0 for m in range(NMAX + 1)])
    return d, e, sect


# constants of the Schmidt recursions: 1/sqrt(n^2-m^2), sqrt((n-1)^2-m^2), sqrt((2m-1)/(2m))
_INV_D, _E, _SECT = _recursion_constants()


@njit(cache=True, nogil=True)
def _igrf_core(r, ct, st, cp, sp, params):
    """IGRF (B_r, B_theta, B_phi) from cos/sin of colatitude and longitude; ``st`` > 0."""
    nmax = int(params[P_NMAX])
    a_r = 1.0 / r
    br = 0.0
    bt = 0.0
    bp = 0.0
    # sectoral terms P_m^m and derivatives, and cos/sin(m phi), carried along m
    pmm = 1.0
    dpmm = 0.0
    cm = 1.0
    sm = 0.0
    ratio_m = a_r * a_r
    for m in range(nmax + 1):
        if m == 1:
            pmm = st
            dpmm = ct
        elif m >= 2:
            k = _SECT[m]
            pmm, dpmm = k * st * pmm, k * (ct * pmm + st * dpmm)
        if m >= 1:
            cm, sm = cm * cp - sm * sp, sm * cp + cm * sp
        p_prev = 0.0
        dp_prev = 0.0
        p = pmm
        dp = dpmm
        ratio_m *= a_r
        ratio = ratio_m / a_r  # (a/r)^(m+2)
        for n in range(m, nmax + 1):
            if n > m:
                inv_d = _INV_D[n, m]
                e = _E[n, m]
                p_next = ((2.0 * n - 1.0) * ct * p - e * p_prev) * inv_d
                dp_next = ((2.0 * n - 1.0) * (ct * dp - st * p) - e * dp_prev) * inv_d
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
            if m > 0:
                bp += ratio * m * (g * sm - h * cm) * p
    return br, bt, bp / st


@njit(cache=True, nogil=True)
def igrf_geo_spherical(r, theta, phi, params):
    """IGRF in GEO spherical components (B_r, B_theta, B_phi), nT, at radius ``r`` (R_E),
    colatitude ``theta`` and east longitude ``phi`` (rad).

    Schmidt semi-normalised associated Legendre functions and their theta derivatives by the
    standard three-term recursions in n (fixed m) started from the sectoral terms P_m^m.
    """
    # the phi component needs P/sin(theta), finite at the poles (P_n^m ~ sin^m theta) but 0/0 there:
    # evaluate 1e-9 rad away from the pole (a relative change of the field ~1e-9)
    if theta < 1e-9:
        theta = 1e-9
    elif theta > math.pi - 1e-9:
        theta = math.pi - 1e-9
    return _igrf_core(r, math.cos(theta), math.sin(theta), math.cos(phi), math.sin(phi), params)


@njit(cache=True, nogil=True)
def igrf_geo(x, y, z, params):
    """IGRF in GEO cartesian components (nT) at GEO cartesian position (R_E)."""
    rho2 = x * x + y * y
    r = math.sqrt(rho2 + z * z)
    rho = math.sqrt(rho2)
    if rho > 1e-9 * r:
        st = rho / r
        ct = z / r
        cp = x / rho
        sp = y / rho
    else:  # on the axis: 1e-9 rad off the pole, longitude 0
        st = 1e-9
        ct = math.copysign(math.sqrt(1.0 - st * st), z)
        cp = 1.0
        sp = 0.0
    br, bt, bp = _igrf_core(r, ct, st, cp, sp, params)
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
def _curl_axial(x, y, w, w_r, f, f_z, f_r):
    """Curl of the vector potential ``w * f * (-y, x, 0)``.

    ``w_r`` = x dw/dx + y dw/dy (w does not depend on z), ``f_z`` = df/dz, ``f_r`` = x df/dx + y df/dy.
    Every T89 current system (ring current, the two tail modes, the closure currents) is of this
    form, which makes each of them divergence-free by construction.
    """
    return -x * w * f_z, -y * w * f_z, (2.0 * f + f_r) * w + w_r * f


@njit(cache=True, nogil=True)
def t89_gsm(x, y, z, params):
    """External field of Tsyganenko (1989), 1992 revision (T89c), at a GSM position; nT, GSM.

    Written from the model's equations (Tsyganenko 1989, Planet. Space Sci. 37, 5-20): a ring current
    and a two-mode tail current sheet in tilted (solar-magnetic-like) coordinates, hinged and warped
    by the dipole tilt; closure currents on image sheets at z = +-30 R_E; magnetopause (Chapman-
    Ferraro) field as exponentially decaying polynomials completed to zero divergence.
    """
    a = params[P_T89 : P_T89 + N_T89]
    psi = params[P_TILT]
    sps = math.sin(psi)
    cps = math.cos(psi)
    tps = sps / cps
    # --- tilted frame (rotation about y by psi), where the ring current and tail live
    xs = x * cps - z * sps
    zs_pos = x * sps + z * cps
    y2 = y * y
    rho2 = xs * xs + y2
    # current sheet surface z_s(xs, y): hinged at distance Rc, warped in y
    hinge = xs + a[21]
    hinge_root = math.sqrt(hinge * hinge + _T89_HINGE2)
    zs_hinge = 0.5 * tps * (hinge - hinge_root)
    y4 = y2 * y2
    warp_den = y4 + _T89_WARP4
    zsheet = zs_hinge - a[22] * sps * y4 / warp_den
    dzs_dx = -zs_hinge / hinge_root
    dzs_dy = -a[22] * sps * 4.0 * _T89_WARP4 * y2 * y / (warp_den * warp_den)
    zr = zs_pos - zsheet
    zs_r = xs * dzs_dx + y * dzs_dy  # x dz_s/dx + y dz_s/dy

    # --- ring current: f = S^-3, S^2 = rho^2 + (a_rc + xi)^2, xi^2 = zr^2 + D_rc^2
    root25 = math.sqrt(xs * xs + _T89_RC_SCALE2)
    h_rc = 0.5 * (1.0 + xs / root25)
    d_rc = a[19] + a[20] * h_rc
    dd_rc_dx = a[20] * 0.5 * _T89_RC_SCALE2 / (root25 * root25 * root25)
    xi = math.sqrt(zr * zr + d_rc * d_rc)
    u = a[18] + xi
    s2 = rho2 + u * u
    s = math.sqrt(s2)
    f = 1.0 / (s2 * s)
    f_u = -3.0 * u / (s2 * s2 * s)  # df/du
    # d xi/dz = zr/xi ; x dxi/dx + y dxi/dy = (-zr * zs_r + d_rc * xs * dD/dx) / xi
    xi_r = (-zr * zs_r + d_rc * xs * dd_rc_dx) / xi
    f_r = -3.0 * rho2 / (s2 * s2 * s) + f_u * xi_r
    bx1, by1, bz1 = _curl_axial(xs, y, 1.0, 0.0, f, f_u * zr / xi, f_r)
    brx = a[4] * bx1
    bry = a[4] * by1
    brz = a[4] * bz1

    # --- tail current sheet, modes f1 = 1/(S+u), f2 = 1/(S(S+u)), u = a_T + T, T^2 = zr^2 + D^2
    root40 = math.sqrt(xs * xs + _T89_THICK_SCALE2)
    h_t = 0.5 * (1.0 + xs / root40)
    d_t = a[19] + a[25] * y2 + a[28] * h_t
    d_r = y * 2.0 * a[25] * y + xs * a[28] * 0.5 * _T89_THICK_SCALE2 / (root40 * root40 * root40)
    t = math.sqrt(zr * zr + d_t * d_t)
    t_r = (-zr * zs_r + d_t * d_r) / t
    t_z = zr / t
    # truncation W(x, y) of the current near the Earth and on the flanks (a27 = Q is zero: unused)
    xe = xs - a[27]
    root170 = math.sqrt(xe * xe + _T89_TAIL_EDGE2)
    v = 0.5 * (1.0 - xe / root170)
    dv_dx = -0.5 * _T89_TAIL_EDGE2 / (root170 * root170 * root170)
    fy = 1.0 / (1.0 + y2 / (a[24] * a[24]))
    w = v * fy
    w_r = xs * dv_dx * fy - v * 2.0 * fy * fy * y2 / (a[24] * a[24])
    u = a[23] + t
    s2 = rho2 + u * u
    s = math.sqrt(s2)
    f1 = 1.0 / (s + u)
    f1_u = -f1 / s  # d f1/du
    f1_r = -rho2 * f1 * f1 / s + f1_u * t_r
    f2 = f1 / s
    f2_u = -1.0 / (s2 * s)
    f2_r = -rho2 * (2.0 * s + u) * f1 * f1 / (s2 * s) + f2_u * t_r
    tilt2 = psi * psi
    amp1 = a[0] + a[15] * tilt2
    amp2 = a[1] + a[16] * tilt2
    bx1, by1, bz1 = _curl_axial(xs, y, w, w_r, f1, f1_u * t_z, f1_r)
    bx2, by2, bz2 = _curl_axial(xs, y, w, w_r, f2, f2_u * t_z, f2_r)
    brx += amp1 * bx1 + amp2 * bx2
    bry += amp1 * by1 + amp2 * by2
    brz += amp1 * bz1 + amp2 * bz2
    # back from the tilted frame to GSM
    bx = brx * cps + brz * sps
    by = bry
    bz = brz * cps - brx * sps

    # --- closure currents (GSM): f+ = 1/(S+ + z + z0), f- = 1/(S- - z + z0), images at z = -+z0
    xc = x - _T89_CLOSURE_X
    rootc = math.sqrt(xc * xc + _T89_CLOSURE_SCALE2)
    fyc = 1.0 / (1.0 + y2 / (a[29] * a[29]))
    wc = 0.5 * (1.0 - xc / rootc) * fyc
    wc_r = x * (-0.5 * _T89_CLOSURE_SCALE2 / (rootc * rootc * rootc)) * fyc - y2 * 2.0 * wc * fyc / (a[29] * a[29])
    rg2 = x * x + y2
    zp = z + _T89_IMAGE_Z
    zm = z - _T89_IMAGE_Z
    sp = math.sqrt(zp * zp + rg2)
    sm = math.sqrt(zm * zm + rg2)
    fp = 1.0 / (sp + zp)
    fm = 1.0 / (sm - zm)
    # f+_z = -fp/sp ; x f+_x + y f+_y = -rg2 fp^2 / sp ; f-_z = +fm/sm ; x f-_x + y f-_y = -rg2 fm^2 / sm
    px, py, pz = _curl_axial(x, y, wc, wc_r, fp, -fp / sp, -rg2 * fp * fp / sp)
    mx, my, mz = _curl_axial(x, y, wc, wc_r, fm, fm / sm, -rg2 * fm * fm / sm)
    bx += a[2] * (px + mx) + a[3] * sps * (px - mx)
    by += a[2] * (py + my) + a[3] * sps * (py - my)
    bz += a[2] * (pz + mz) + a[3] * sps * (pz - mz)

    # --- magnetopause (Chapman-Ferraro) terms: e^(x/Dx) times polynomials; the z-component's extra
    # terms are fixed by div B = 0 (d/dx brings a 1/Dx factor)
    dx = a[17]
    e = math.exp(x / dx)
    ec = e * cps
    es = e * sps
    z2 = z * z
    bx += ec * a[5] * z + es * (a[6] + a[7] * y2 + a[8] * z2)
    by += ec * a[9] * y * z + es * y * (a[10] + a[11] * y2 + a[12] * z2)
    bz += ec * (a[13] + a[14] * y2)
    # div: ec z (a6/Dx + a10) + es (a7/Dx + a11) + es y^2 (a8/Dx + 3 a12) + es z^2 (a9/Dx + a13)
    # cancelled by bz terms whose z-derivatives are those with opposite sign
    bz -= ec * z2 * 0.5 * (a[5] / dx + a[9])
    bz -= es * z * ((a[6] / dx + a[10]) + y2 * (a[7] / dx + 3.0 * a[11]) + z2 * (a[8] / dx + a[12]) / 3.0)
    return bx, by, bz


@njit(cache=True, nogil=True)
def field_gsm(x, y, z, params):
    """B (bx, by, bz) in nT, GSM, at GSM position (x, y, z) in Earth radii (R_E = 6371.2 km).

    ``params``: 1-D float64 array from :func:`xspace.magnetosphere.field.make_field_params`.
    """
    code = int(params[P_CODE])
    if code == MODEL_DIPOLE:
        return dipole_gsm(x, y, z, params[P_TILT], params[P_B0])
    if code == MODEL_T89_EXTERNAL:
        return t89_gsm(x, y, z, params)
    if code == MODEL_DIPOLE_UNIFORM:
        bx, by, bz = dipole_gsm(x, y, z, params[P_TILT], params[P_B0])
        return bx, by, bz + params[P_UNIFORM]
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
def field_gsm_indexed(xyz, table, index, out):
    """Evaluate :func:`field_gsm` at each row of ``xyz`` with the parameters ``table[index[i]]``."""
    for i in range(xyz.shape[0]):
        bx, by, bz = field_gsm(xyz[i, 0], xyz[i, 1], xyz[i, 2], table[index[i]])
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
