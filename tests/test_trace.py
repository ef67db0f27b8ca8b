"""Field-line tracing and single-line invariants (xspace.magnetosphere.trace, _tracekernels).

References used here are independent of the code under test: the analytic dipole field line
(r = L cos^2(lat)), the dipole I integral by scipy.integrate.quad in latitude, scipy's solve_ivp
(DOP853) tracing through the field engineer's public field functions.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

from xspace.errors import FieldModelError, InputError
from xspace.magnetosphere import field_line_invariants, trace_field_line
from xspace.magnetosphere.coords import transform
from xspace.magnetosphere.field import make_field_params, total_field

T0 = np.datetime64("2015-03-17T12:00")
R_E_KM = 6371.2


def _b0(time=T0):
    return float(make_field_params("dipole", time)[2])


def dipole_b(lam, L, b0):
    """Dipole |B| on the line of equatorial distance L at magnetic latitude lam (rad)."""
    return b0 / L**3 * np.sqrt(1 + 3 * np.sin(lam) ** 2) / np.cos(lam) ** 6


def dipole_i(L, bm, b0):
    """I = int sqrt(1 - B/Bm) ds on a dipole line, by quad in latitude (ds = L cos(l) sqrt(1+3 sin^2 l) dl)."""
    lam_m = brentq(lambda l: dipole_b(l, L, b0) - bm, 0.0, np.pi / 2 - 1e-9, xtol=1e-15)
    f = lambda l: np.sqrt(max(0.0, 1 - dipole_b(l, L, b0) / bm)) * L * np.cos(l) * np.sqrt(1 + 3 * np.sin(l) ** 2)
    return 2 * quad(f, 0.0, lam_m, epsabs=0, epsrel=1e-12, limit=200)[0]


def sm_point(L, lam, mlt_h=12.0):
    """Point on the dipole line L at SM latitude lam (rad) and MLT (hours), SM coordinates."""
    r = L * np.cos(lam) ** 2
    phi = np.radians(15.0 * mlt_h - 180.0)
    return np.array([r * np.cos(lam) * np.cos(phi), r * np.cos(lam) * np.sin(phi), r * np.sin(lam)])


# --------------------------------------------------------------------------- tracing
def test_dipole_line_follows_analytic_shape():
    """Every resampled point of a traced dipole line (dense output between RK nodes) lies on
    r = L cos^2(lat) in its SM meridian."""
    L = 5.0
    line = trace_field_line(T0, sm_point(L, 0.2, 3.0), model="dipole", frame="SM", step=0.05, tolerance=1e-9)
    sm = transform(line.position.values, T0, "GSM", "SM")
    r = np.linalg.norm(sm, axis=-1)
    lat = np.arcsin(sm[:, 2] / r)
    np.testing.assert_allclose(r, L * np.cos(lat) ** 2, rtol=2e-8)
    # stays in the meridian plane of MLT 3
    np.testing.assert_allclose(np.arctan2(sm[:, 1], sm[:, 0]), np.radians(15 * 3.0 - 180), atol=1e-7)
    # both ends on the r = 1 sphere at cos^2(lat) = 1/L
    assert int(line.status_north) == 0 and int(line.status_south) == 0
    np.testing.assert_allclose(r[[0, -1]], 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.abs(lat[[0, -1]]), np.arccos(np.sqrt(1 / L)), atol=1e-7)
    # arc length: analytic length of the dipole line between the footpoints
    lam_f = np.arccos(np.sqrt(1 / L))
    length = quad(lambda l: L * np.cos(l) * np.sqrt(1 + 3 * np.sin(l) ** 2), -lam_f, lam_f, epsrel=1e-13)[0]
    np.testing.assert_allclose(float(line.s[-1] - line.s[0]), length, rtol=1e-7)


def test_footpoint_altitude():
    L = 4.0
    alt = 100.0
    line = trace_field_line(T0, sm_point(L, 0.0), model="dipole", frame="SM", altitude_km=alt, tolerance=1e-9)
    sm = transform(line.position.values[[0, -1]], T0, "GSM", "SM")
    r_f = 1 + alt / R_E_KM
    np.testing.assert_allclose(np.linalg.norm(sm, axis=-1), r_f, rtol=1e-12)
    np.testing.assert_allclose(np.abs(sm[:, 2]) / r_f, np.sqrt(1 - r_f / L), rtol=1e-7)


def test_igrf_trace_matches_solve_ivp():
    """IGRF line from (-4, 2, 1) GSM to the northern footpoint vs scipy DOP853 on the public field function."""
    p0 = np.array([-4.0, 2.0, 1.0])
    line = trace_field_line(T0, p0, model="IGRF", tolerance=1e-8)

    def rhs(s, y):
        b = total_field("IGRF", T0, y)
        return b / np.linalg.norm(b)

    def ground(s, y):
        return np.linalg.norm(y) - 1.0

    ground.terminal = True
    sol = solve_ivp(rhs, (0, 40), p0, method="DOP853", rtol=1e-11, atol=1e-11, events=ground)
    north = sol.y_events[0][0]
    np.testing.assert_allclose(line.position.values[-1], north, atol=2e-6)
    np.testing.assert_allclose(float(line.s[-1]), sol.t_events[0][0], rtol=2e-6)
    # B along the line is the model field at those positions
    b = np.linalg.norm(total_field("IGRF", T0, line.position.values), axis=-1)
    np.testing.assert_allclose(line.B.values, b, rtol=1e-12)


def test_open_line_and_bad_inputs():
    line = trace_field_line(T0, [0.0, 0.0, 30.0], model="dipole", frame="SM", r_max=20.0)
    assert int(line.status_north) == 2  # the polar line leaves r_max
    with pytest.raises(InputError, match="position"):
        trace_field_line(T0, [1.0, 2.0], model="dipole")
    with pytest.raises(InputError, match="below"):
        trace_field_line(T0, [0.5, 0.0, 0.0], model="dipole")
    with pytest.raises(FieldModelError, match="kp"):
        trace_field_line(T0, [5.0, 0.0, 0.0], model="T89")
    with pytest.raises(FieldModelError, match="model"):
        trace_field_line(T0, [5.0, 0.0, 0.0], model="T96")
    with pytest.raises(InputError, match="step"):
        trace_field_line(T0, [5.0, 0.0, 0.0], model="dipole", step=-1)


# --------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("L, lam_deg", [(2.0, 0.0), (4.0, 15.0), (6.6, -25.0)])
def test_dipole_invariants_analytic(L, lam_deg):
    b0 = _b0()
    lam = np.radians(lam_deg)
    alphas = np.array([90.0, 60.0, 35.0, 15.0])
    ds = field_line_invariants(T0, sm_point(L, lam, 21.0), frame="SM", pitch_angle=alphas, model="dipole")
    b_loc = dipole_b(lam, L, b0)
    np.testing.assert_allclose(float(ds.Blocal), b_loc, rtol=1e-10)
    np.testing.assert_allclose(float(ds.Bmin), b0 / L**3, rtol=1e-6)
    np.testing.assert_allclose(float(ds.MLT), 21.0, atol=1e-9)
    bm = b_loc / np.sin(np.radians(alphas)) ** 2
    np.testing.assert_allclose(ds.Bmirr.values, bm, rtol=1e-12)
    # mirror points below the ground (B at the r = 1 footpoint is B0 sqrt(4 - 3/L)): loss cone
    lost = bm > b0 * np.sqrt(4 - 3 / L)
    i_ref = np.array([np.nan if x else dipole_i(L, b, b0) if b > b0 / L**3 * (1 + 1e-12) else 0.0 for b, x in zip(bm, lost)])
    np.testing.assert_allclose(ds.I.values, i_ref, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ds.K.values, i_ref * np.sqrt(bm) / np.sqrt(1e5), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ds.Lm.values, np.where(lost, np.nan, L), rtol=1e-5)
    # Hilton's approximation (irbem_compatible) is within ~1e-4 only
    hil = field_line_invariants(T0, sm_point(L, lam, 21.0), frame="SM", pitch_angle=alphas, model="dipole", irbem_compatible=True)
    np.testing.assert_array_equal(np.isnan(hil.Lm.values), lost)
    assert np.nanmax(np.abs(hil.Lm.values / L - 1)) < 2e-4
    np.testing.assert_array_equal(ds.flag.values, np.where(lost, 4, 0))
    assert "Lstar" not in ds


def test_flags_loss_cone_open_below_surface():
    pos = np.array([sm_point(4.0, 0.0), [0.0, 0.0, 50.0], [0.3, 0.2, 0.1]])
    ds = field_line_invariants(T0, pos, frame="SM", pitch_angle=[60.0, 2.0], model="dipole", r_max=40.0)
    # L = 4, 2 deg at the equator: Bm = B0/64/sin^2(2deg) exceeds the surface field -> loss cone
    assert ds.flag.values.tolist() == [[0, 4], [3, 3], [2, 2]]
    assert np.isnan(ds.I.values[0, 1]) and np.isfinite(ds.I.values[0, 0])


def test_igrf_bmin_is_minimum_of_resampled_line():
    p0 = np.array([2.0, -4.0, 1.5])
    ds = field_line_invariants(T0, p0, model="IGRF")
    line = trace_field_line(T0, p0, model="IGRF", step=0.002)
    b = line.B.values
    assert float(ds.Bmin) <= b.min() * (1 + 1e-12)
    np.testing.assert_allclose(float(ds.Bmin), b.min(), rtol=1e-6)
    np.testing.assert_allclose(float(ds.Blocal), np.linalg.norm(total_field("IGRF", T0, p0)), rtol=1e-12)


def test_igrf_I_matches_trapezoid_on_resampled_line():
    """I from Gauss–Legendre on the mirror interval vs a fine trapezoid on an independent resampling."""
    p0 = np.array([-3.0, 3.0, 2.0])
    alpha = 50.0
    ds = field_line_invariants(T0, p0, pitch_angle=alpha, model="IGRF")
    line = trace_field_line(T0, p0, model="IGRF", step=1e-4, tolerance=1e-9)
    bm = float(ds.Bmirr)
    s = line.s.values
    b = line.B.values
    # mirror points: linear interpolation of the crossings bounding the well around s = 0
    inside = b < bm
    i0 = np.argmin(np.abs(s))
    lo = i0
    while inside[lo - 1]:
        lo -= 1
    hi = i0
    while inside[hi + 1]:
        hi += 1
    s1 = np.interp(bm, [b[lo], b[lo - 1]], [s[lo], s[lo - 1]])
    s2 = np.interp(bm, [b[hi], b[hi + 1]], [s[hi], s[hi + 1]])
    ss = np.concatenate([[s1], s[lo : hi + 1], [s2]])
    f = np.sqrt(np.clip(1 - np.concatenate([[bm], b[lo : hi + 1], [bm]]) / bm, 0, None))
    i_ref = np.trapezoid(f, ss)
    np.testing.assert_allclose(float(ds.I), i_ref, rtol=2e-5)


def test_mirror_points_and_footpoints_dipole():
    """Mirror points at the analytic mirror latitude (B = Bmirr), footpoints at cos^2(lat) = 1/L,
    for numpy and dask-backed inputs."""
    L, b0 = 5.0, _b0()
    pos = np.array([sm_point(L, 0.0, 9.0), sm_point(L, np.radians(12.0), 15.0)])
    ds = field_line_invariants(T0, pos, frame="SM", pitch_angle=[60.0, 30.0], model="dipole")
    lazy = field_line_invariants(xr.DataArray(np.array([T0, T0]), dims="p").chunk({"p": 1}),
                                 xr.DataArray(pos, dims=("p", "c")).chunk({"p": 1}),
                                 frame="SM", pitch_angle=[60.0, 30.0], model="dipole").compute()
    np.testing.assert_array_equal(lazy.mirror_north.values, ds.mirror_north.values)
    for name, sign in (("mirror_north", 1), ("mirror_south", -1)):
        m = transform(ds[name].values, T0, "GSM", "SM")
        r = np.linalg.norm(m, axis=-1)
        lat = np.arcsin(m[..., 2] / r)
        np.testing.assert_allclose(r, L * np.cos(lat) ** 2, rtol=1e-5)  # on the line
        np.testing.assert_allclose(dipole_b(lat, L, b0), ds.Bmirr.values, rtol=1e-5)  # where B = Bmirr
        assert (np.sign(lat) == sign).all()
    for name, sign in (("foot_north", 1), ("foot_south", -1)):
        f = transform(ds[name].values, T0, "GSM", "SM")
        np.testing.assert_allclose(np.linalg.norm(f, axis=-1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(f[:, 2], sign * np.sqrt(1 - 1 / L), rtol=1e-5)
    assert ds.mirror_north.dims == ("time", "pitch_angle", "component")


def test_numpy_and_xarray_inputs_agree():
    t = np.array(["2015-03-17T12:00", "2015-03-17T13:00"], "datetime64[ns]")
    pos = np.array([[4.0, 1.0, 0.5], [-5.0, 0.0, 1.0]])
    a = field_line_invariants(t, pos, pitch_angle=[90, 40], model="IGRF")
    da_pos = xr.DataArray(pos, dims=("Epoch", "xyz"), coords={"Epoch": t})
    b = field_line_invariants(da_pos.Epoch, da_pos, pitch_angle=[90, 40], model="IGRF")
    assert b.Lm.dims == ("Epoch", "pitch_angle")
    np.testing.assert_array_equal(a.Lm.values, b.Lm.values)
    np.testing.assert_array_equal(a.Bmin.values, b.Bmin.values)
