"""L* (xspace.magnetosphere.lstar): analytic dipole shells, convergence, K conservation, symmetry,
smoothness along a real orbit, determinism under chunking/threads, flags, API and errors.

Independent references: the centred-dipole geometry (L* = Lm = L, Bmirr, and I by scipy quad in
latitude); physical symmetries of T89 with an aligned dipole; self-consistency checks that use a
different computation path (a fresh trace from another point of the shell).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.polynomial.legendre import leggauss

import xspace
from xspace.errors import FieldModelError, InputError
from xspace.magnetosphere import drift_shell, field_line_invariants, lstar, trace_field_line
from xspace.magnetosphere.field import make_field_params, total_field

from test_trace import T0, dipole_b, dipole_i, sm_point

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FINE = dict(n_lines=36, tolerance=1e-9, shell_tolerance=1e-10, n_quad=64, n_flux=48)


# --------------------------------------------------------------------------- centred dipole
def test_dipole_lstar_lm_k_analytic():
    b0 = float(make_field_params("dipole", T0)[2])
    cases = [(2.5, 0.0, 3.0), (4.0, 20.0, 11.0), (6.6, -10.0, 18.5)]
    pos = np.array([sm_point(L, np.radians(lat), m) for L, lat, m in cases])
    alphas = np.array([90.0, 50.0, 25.0])
    ds = lstar(T0, pos, frame="SM", pitch_angle=alphas, model="dipole")
    for k, (L, lat, m) in enumerate(cases):
        b_loc = dipole_b(np.radians(lat), L, b0)
        bm = b_loc / np.sin(np.radians(alphas)) ** 2
        lost = bm > b0 * np.sqrt(4 - 3 / L)
        i_ref = np.array([np.nan if x else dipole_i(L, b, b0) if b > b0 / L**3 * (1 + 1e-12) else 0.0 for b, x in zip(bm, lost)])
        expect = np.where(lost, np.nan, L)
        np.testing.assert_allclose(ds.Lstar.values[k], expect, rtol=1e-4)
        np.testing.assert_allclose(ds.Lm.values[k], expect, rtol=1e-4)
        np.testing.assert_allclose(ds.Bmirr.values[k], bm, rtol=1e-10)
        np.testing.assert_allclose(ds.I.values[k], i_ref, rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(ds.K.values[k], i_ref * np.sqrt(bm) / np.sqrt(1e5), rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(float(ds.Bmin[k]), b0 / L**3, rtol=1e-4)
        np.testing.assert_allclose(float(ds.MLT[k]), m, atol=1e-9)
        np.testing.assert_array_equal(ds.flag.values[k], np.where(lost, 4, 0))
    # actually much better than the 1e-4 the issue asks for
    assert np.nanmax(np.abs(ds.Lstar.values / np.array([[2.5], [4.0], [6.6]]) - 1)) < 1e-5


def _rotate(v, angle, about):
    about = about / np.linalg.norm(about)
    return v * np.cos(angle) + np.cross(about, v) * np.sin(angle) + about * np.dot(about, v) * (1 - np.cos(angle))


@pytest.mark.parametrize("misalignment_deg, n_lines", [(10.0, 12), (20.0, 36)])
def test_misaligned_dipole_analytic(misalignment_deg, n_lines):
    """A centred dipole whose axis is 10-20 deg away from the SM axis the kernel works in (IGRF
    coefficients of degree 1 only, rotated; same moment B0): the shells are still circles about the
    true axis, so L* = Lm = L and K is the dipole's, but the footprints are far from uniform in SM
    longitude and off-centre on the cap -- this exercises the footpoint Jacobian and the cap flux."""
    from xspace.magnetosphere import _fieldkernels as fk
    from xspace.magnetosphere import _tracekernels as tk

    p = make_field_params("IGRF", T0)
    b0 = p[fk.P_B0]
    g = p[fk.P_G : fk.P_G + fk.NCOEF].reshape(14, 14)
    h = p[fk.P_H : fk.P_H + fk.NCOEF].reshape(14, 14)
    axis = -np.array([g[1, 1], h[1, 1], g[1, 0]]) / b0  # northern dipole axis, GEO
    new_axis = _rotate(axis, np.radians(misalignment_deg), np.cross(axis, [0, 0, 1.0]) + [0.3, 0.2, 0.0])
    q = p.copy()
    q[fk.P_G : fk.P_H + fk.NCOEF] = 0.0
    q[fk.P_NMAX] = 1
    q[fk.P_G + 14 + 0] = -b0 * new_axis[2]  # g10
    q[fk.P_G + 14 + 1] = -b0 * new_axis[0]  # g11
    q[fk.P_H + 14 + 1] = -b0 * new_axis[1]  # h11
    rot = q[fk.P_ROT : fk.P_ROT + 9].reshape(3, 3)  # v_geo = rot @ v_gsm
    eq = np.cross(new_axis, [1.0, 0.0, 0.0])
    eq /= np.linalg.norm(eq)
    ells = np.array([4.0, 6.0])
    xyz = np.array([rot.T @ (4.0 * eq), rot.T @ (6.0 * _rotate(eq, 1.0, new_axis))])
    # the field at the first point is the dipole's equatorial field, along the new axis
    np.testing.assert_allclose(fk.field_gsm(*xyz[0], q), rot.T @ new_axis * b0 / 64.0, rtol=1e-12)
    alphas = np.array([90.0, 40.0])
    gx, gw = leggauss(32)
    fx, fw = leggauss(12)
    outs = [np.empty((2, 2)) for _ in range(5)] + [np.empty((2, 2), np.int32), np.empty((2, 9)), np.empty((2, 2, 6))]
    tk.lstar_batch(xyz, np.ascontiguousarray(np.tile(np.sin(np.radians(alphas)) ** 2, (2, 1))),
                   np.ascontiguousarray(np.tile(q, (2, 1))), n_lines, 1e-6, 1e-4, 1.0, 40.0, np.inf, False, 4000,
                   gx, gw, fx, fw, *outs, np.empty((1, 2, n_lines)), np.empty((1, 2, n_lines, 3)))
    ls, lm, k_nt, bm, flag = outs[0], outs[1], outs[2], outs[4], outs[5]
    assert (flag == 0).all()
    np.testing.assert_allclose(ls, np.repeat(ells[:, None], 2, 1), rtol=2e-5)
    np.testing.assert_allclose(lm, np.repeat(ells[:, None], 2, 1), rtol=1e-5)
    np.testing.assert_allclose(bm, (b0 / ells**3)[:, None] / np.sin(np.radians(alphas)) ** 2, rtol=1e-9)
    k_ref = np.array([[0.0, dipole_i(L, b0 / L**3 / np.sin(np.radians(40.0)) ** 2, b0)] for L in ells])
    k_ref *= np.sqrt(bm)
    np.testing.assert_allclose(k_nt, k_ref, rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- IGRF / T89 convergence
@pytest.mark.parametrize("model, kp", [("IGRF", None), ("T89", 2.3), ("T89", 5.0)])
def test_converged_against_fine_settings(model, kp):
    """Defaults vs 3x the field lines and 1000x tighter tolerances: L* within 0.1 % (in fact ~1e-5),
    Lm within 0.2 %, Bmin/Blocal/Bmirr within 1e-4."""
    pos = np.array([[-5.0, 1.0, 0.5], [3.0, 4.0, 1.0], [-4.0, -4.0, -1.5]])
    pa = [90.0, 45.0]
    a = lstar(T0, pos, model=model, kp=kp, pitch_angle=pa)
    b = lstar(T0, pos, model=model, kp=kp, pitch_angle=pa, **FINE)
    assert (a.flag.values == 0).all() and (b.flag.values == 0).all()
    err = np.abs(a.Lstar.values / b.Lstar.values - 1)
    assert err.max() < 1e-4, err
    assert np.abs(a.Lm.values / b.Lm.values - 1).max() < 1e-4
    for v in ("Bmin", "Blocal", "Bmirr"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-4)


def test_convergence_in_number_of_lines():
    """Errors shrink as N grows (spectral in MLT): |L*(N) - L*(48)| decreases from N = 6 to 24."""
    pos = np.array([-5.5, 2.0, 1.0])
    ref = float(lstar(T0, pos, model="T89", kp=3.0, pitch_angle=60, n_lines=48, tolerance=1e-9, shell_tolerance=1e-10).Lstar)
    errs = [abs(float(lstar(T0, pos, model="T89", kp=3.0, pitch_angle=60, n_lines=n, tolerance=1e-9,
                              shell_tolerance=1e-10).Lstar) / ref - 1) for n in (6, 12, 24)]
    assert errs[0] > errs[1] > errs[2] or errs[2] < 1e-7, errs
    assert errs[1] < 1e-4


# --------------------------------------------------------------------------- shell consistency
@pytest.mark.parametrize("model, kp", [("IGRF", None), ("T89", 3.0)])
def test_k_conserved_and_same_lstar_from_any_point_of_the_shell(model, kp):
    """Fresh traces from the shell's lines at other MLTs give the particle's K, and L* computed
    from such a point (with the pitch angle that keeps Bmirr) equals the particle's L*."""
    p0 = np.array([-4.5, 2.5, 1.0])
    alpha = 40.0
    sh = drift_shell(T0, p0, pitch_angle=alpha, model=model, kp=kp)
    assert int(sh.flag) == 0
    bm0 = float(sh.Bmirr)
    eq = sh.equator.values
    b_eq = field_line_invariants(T0, eq, model=model, kp=kp, pitch_angle=90).Blocal.values
    alphas = np.degrees(np.arcsin(np.sqrt(b_eq / bm0)))
    # one pitch angle per point: a diagonal of the (point, pitch_angle) result
    ks = np.array([float(field_line_invariants(T0, eq[j], model=model, kp=kp, pitch_angle=alphas[j]).K)
                   for j in range(0, len(eq), 3)])
    np.testing.assert_allclose(ks, float(sh.K), rtol=2e-5)
    j = len(eq) // 3
    other = lstar(T0, eq[j], model=model, kp=kp, pitch_angle=alphas[j])
    np.testing.assert_allclose(float(other.Lstar), float(sh.Lstar), rtol=1e-4)
    np.testing.assert_allclose(float(other.K), float(sh.K), rtol=2e-5)


@pytest.mark.parametrize("model, kp", [("IGRF", None), ("T89", 3.0)])
def test_flux_against_independent_cap_integration(model, kp):
    """L* from the kernel's flux (spectral in the equatorial azimuth, with the footpoint Jacobian)
    vs an independent integral: the shell's 48 footpoints joined by a periodic spline in footpoint
    longitude, -B_r of the public field function integrated over the cap on a fine grid."""
    from scipy.interpolate import CubicSpline

    from xspace.magnetosphere.field import total_field

    p0 = np.array([-3.0, -4.5, 0.8])
    sh = drift_shell(T0, p0, pitch_angle=70, model=model, kp=kp, n_lines=48)
    prm = make_field_params(model, T0, kp)
    tilt, b0 = prm[1], prm[2]
    th_f = np.radians(90 - sh.foot_latitude.values)
    ph_f = np.radians(15 * sh.foot_mlt.values - 180)
    o = np.argsort(ph_f)
    ph, th = ph_f[o], th_f[o]
    boundary = CubicSpline(np.append(ph, ph[0] + 2 * np.pi), np.append(th, th[0]), bc_type="periodic")
    n_phi = 360
    phg = ph[0] + (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    x, wq = np.polynomial.legendre.leggauss(24)
    tb = boundary(phg)[:, None]
    thq = 0.5 * tb * (x + 1)
    u = np.stack([np.sin(thq) * np.cos(phg)[:, None], np.sin(thq) * np.sin(phg)[:, None], np.cos(thq)], -1)
    c, s = np.cos(tilt), np.sin(tilt)
    ug = np.stack([u[..., 0] * c + u[..., 2] * s, u[..., 1], -u[..., 0] * s + u[..., 2] * c], -1).reshape(-1, 3)
    br = np.sum(total_field(model, T0, ug, kp=kp) * ug, -1).reshape(thq.shape)
    flux = np.sum((-br * np.sin(thq)) @ wq * 0.5 * tb[:, 0]) * 2 * np.pi / n_phi
    expected = 2 * np.pi * b0 / flux
    got = float(lstar(T0, p0, pitch_angle=70, model=model, kp=kp).Lstar)
    np.testing.assert_allclose(float(sh.Lstar), expected, rtol=2e-5)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def _aligned_t89_params(kp):
    """T89 with zero tilt over an axial centred dipole (GSM = GEO axes): symmetric in y and z."""
    p = make_field_params("T89", T0, kp)
    from xspace.magnetosphere import _fieldkernels as fk

    p[fk.P_TILT] = 0.0
    p[fk.P_ROT : fk.P_ROT + 9] = np.eye(3).ravel()
    p[fk.P_G : fk.P_G + fk.NCOEF] = 0.0
    p[fk.P_H : fk.P_H + fk.NCOEF] = 0.0
    p[fk.P_G + 1 * (fk.NMAX + 1) + 0] = -p[fk.P_B0]
    p[fk.P_NMAX] = 1
    return p


def test_symmetry_t89_aligned_dipole():
    """With zero tilt, T89 + axial dipole is symmetric under y -> -y and z -> -z: so is L*."""
    from xspace.magnetosphere import _tracekernels as tk

    p = _aligned_t89_params(2.3)
    base = np.array([-5.0, 2.0, 1.2])
    pts = np.array([base, base * [1, -1, 1], base * [1, 1, -1], base * [1, -1, -1]])
    sin2 = np.full((4, 2), np.sin(np.radians([90.0, 35.0])) ** 2)
    gx, gw = leggauss(32)
    fx, fw = leggauss(24)
    outs = [np.empty((4, 2)) for _ in range(5)] + [np.empty((4, 2), np.int32), np.empty((4, 9)), np.empty((4, 2, 6))]
    tk.lstar_batch(pts, sin2, np.ascontiguousarray(np.tile(p, (4, 1))), 12, 1e-6, 1e-6, 1.0, 40.0, np.inf, False,
                   4000, gx, gw, fx, fw, *outs, np.empty((1, 2, 12)), np.empty((1, 2, 12, 3)))
    ls, lm, flag = outs[0], outs[1], outs[5]
    assert (flag == 0).all()
    np.testing.assert_allclose(ls, ls[:1].repeat(4, 0), rtol=2e-5)
    np.testing.assert_allclose(lm, lm[:1].repeat(4, 0), rtol=2e-6)
    # MLT mirrors about midnight under y -> -y
    np.testing.assert_allclose(outs[6][1, 2], 24.0 - outs[6][0, 2], atol=1e-9)


def test_pitch_angle_supplement_is_identical():
    ds = lstar(T0, [-5.0, 1.0, 0.5], model="T89", kp=2.3, pitch_angle=[30.0, 150.0])
    np.testing.assert_array_equal(ds.Lstar.values[0], ds.Lstar.values[1])


# --------------------------------------------------------------------------- real orbit
def _rbsp_orbit(cdf_dir, n):
    import cdflib

    cdf = cdflib.CDF(str(cdf_dir / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"))
    pos = np.asarray(cdf.varget("Position_Ion"), dtype=np.float64)[:n] / 6371.2
    t = np.asarray(cdflib.cdfepoch.to_datetime(cdf.varget("Epoch_Ion")), dtype="datetime64[ns]")[:n]
    return t, pos


def test_smooth_along_real_orbit(cdf_dir):
    """Van Allen Probes A near apogee (GEO positions): L* varies smoothly, no staircase.

    Residuals from a cubic in time are below 1e-5 of L*, while IRBEM's default setting shows ~1 %
    steps; and the rate dL*/dt changes by less than 5 % between consecutive records (a staircase would
    make it jump by ~100 %; the file's cadence is irregular, 24 or 49 s)."""
    t, pos = _rbsp_orbit(cdf_dir, 24)
    ds = lstar(t, pos, frame="GEO", model="T89", kp=2.0, pitch_angle=[90.0, 45.0])
    assert (ds.flag.values == 0).all()
    x = (t - t[0]).astype(float) / 1e9 / 60.0
    for k in range(2):
        y = ds.Lstar.values[:, k]
        resid = y - np.polyval(np.polyfit(x, y, 3), x)
        assert np.abs(resid).max() < 1e-5 * y.mean(), np.abs(resid).max()
        rate = np.diff(y) / np.diff(x)
        assert np.abs(np.diff(rate)).max() < 0.05 * np.abs(rate).min()


# --------------------------------------------------------------------------- determinism, dask
def test_deterministic_under_chunking_order_and_threads():
    rng = np.random.default_rng(3)
    n = 6
    t = np.datetime64("2015-03-17T12:00") + np.arange(n) * np.timedelta64(20, "m")
    r = rng.uniform(3.5, 6.0, n)
    lon = rng.uniform(0, 2 * np.pi, n)
    pos = np.stack([r * np.cos(lon), r * np.sin(lon), rng.uniform(-1, 1, n)], -1)
    da = xr.DataArray(pos, dims=("Epoch", "xyz"), coords={"Epoch": t})
    ref = lstar(da.Epoch, da, model="T89", kp=3.0, pitch_angle=[90, 50], n_threads=1)
    two = lstar(da.Epoch, da, model="T89", kp=3.0, pitch_angle=[90, 50], n_threads=2)
    rev = lstar(da.Epoch[::-1], da[::-1], model="T89", kp=3.0, pitch_angle=[90, 50])
    lazy = lstar(da.Epoch.chunk({"Epoch": 4}), da.chunk({"Epoch": 4}), model="T89", kp=3.0, pitch_angle=[90, 50])
    assert lazy.Lstar.chunks is not None  # still lazy
    lazy = lazy.compute()
    for other in (two, rev.isel(Epoch=slice(None, None, -1)), lazy):
        for v in ref.data_vars:
            np.testing.assert_array_equal(ref[v].values, other[v].values)
    assert ref.Lstar.dims == ("Epoch", "pitch_angle")


def test_dask_input_is_not_computed_until_asked():
    import dask

    calls = {"n": 0}

    def counting_get(dsk, keys, **kwargs):
        calls["n"] += 1
        return dask.get(dsk, keys, **kwargs)

    t = np.datetime64("2015-03-17T12:00") + np.arange(4) * np.timedelta64(1, "h")
    pos = xr.DataArray(np.tile([4.0, 0.0, 0.0], (4, 1)), dims=("time", "c"), coords={"time": t}).chunk({"time": 2})
    kp = xr.DataArray([1.0, 2.0, 3.0, 4.0], dims="time").chunk({"time": 2})
    with dask.config.set(scheduler=counting_get):
        ds = lstar(pos.time, pos, model="T89", kp=kp)
        assert calls["n"] == 0
        out = ds.Lstar.compute()
        assert calls["n"] == 1
    assert np.isfinite(out.values).all()
    # Kp per time is used: a more active Kp lowers L* on the dayside meridian ring
    assert out.values[0] > out.values[-1]


# --------------------------------------------------------------------------- flags, modes, API
def test_flags_irbem_limit_open_shell_and_invalid():
    pos = np.array([sm_point(11.0, 0.0), sm_point(5.0, 0.0), [np.nan, 0.0, 0.0]])
    ds = lstar(T0, pos, frame="SM", model="dipole")
    np.testing.assert_allclose(ds.Lstar.values[:2], [11.0, 5.0], rtol=1e-5)
    assert ds.flag.values.tolist() == [0, 0, 1]
    irb = lstar(T0, pos, frame="SM", model="dipole", irbem_compatible=True)
    assert irb.flag.values.tolist() == [9, 0, 1]
    assert np.isnan(irb.Lstar.values[0]) and irb.Lm.values[0] > 10
    # nightside T89 at 10 R_E, Kp 5-: the drift shell is not closed in the model
    bad_kp = lstar(T0, [[-4.0, 0.0, 0.0]] * 3, model="T89", kp=[np.nan, 12.0, 2.0])
    assert bad_kp.flag.values.tolist() == [1, 1, 0]
    t89 = lstar(T0, [[-10.0, 0.0, 0.0], [-4.0, 0.0, 0.0]], model="T89", kp=4.7)
    assert t89.flag.values.tolist() == [6, 0]
    assert np.isnan(t89.Lstar.values[0]) and np.isfinite(t89.Lm.values[0])
    assert "6: drift shell not closed" in t89.flag.attrs["flag_meanings"]


def test_shabansky_flag_matches_two_minima_on_the_traced_line():
    """Dayside T89 (Kp 4): at 9 R_E the field line has two B minima off the equator, both below the
    local field at the equator -> a 90-deg particle's drift bifurcates (flag 5); at 6 R_E it has one."""
    from scipy.signal import argrelmin

    for p, expected in (([9.0, 0.0, 0.0], 5), ([6.0, 0.0, 0.0], 0)):
        line = trace_field_line(T0, p, model="T89", kp=4.0, step=0.01)
        b = line.B.values
        wells = b[argrelmin(b)[0]]
        ds = lstar(T0, p, model="T89", kp=4.0)
        b_local = np.linalg.norm(total_field("T89", T0, p, kp=4.0))
        assert int(ds.flag) == expected
        assert (np.sum(wells < b_local) == 2) == (expected == 5)
        assert np.isnan(float(ds.Lstar)) == (expected == 5)


def test_irbem_compatible_changes_only_the_epoch_convention():
    pos = [[-5.0, 1.0, 0.5]]
    a = lstar(T0, pos, model="IGRF")
    b = lstar(T0, pos, model="IGRF", irbem_compatible=True)
    d = abs(float(a.Lstar[0]) / float(b.Lstar[0]) - 1)
    assert 0 < d < 2e-3  # half a year of secular variation


def test_broadcasting_kp_and_scalar_time():
    pos = np.array([[-5.0, 1.0, 0.5], [-5.0, 1.0, 0.5]])
    ds = lstar(T0, pos, model="T89", kp=[1.0, 6.0])
    assert ds.Lstar.dims == ("time",)
    assert ds.Lstar.values[0] > ds.Lstar.values[1]  # stronger tail current: smaller L*
    times = xr.DataArray(np.array([T0, T0 + np.timedelta64(1, "h")]), dims="Epoch")
    mixed = lstar(times, pos, model="T89", kp=[1.0, 6.0])  # numpy positions along DataArray times
    assert mixed.Lstar.dims == ("Epoch",)
    np.testing.assert_allclose(mixed.Lstar.values, ds.Lstar.values, rtol=2e-3)  # 1 h of tilt change
    single = lstar(T0, pos[0], model="T89", kp=1.0)
    assert single.Lstar.dims == () and float(single.Lstar) == ds.Lstar.values[0]


def test_errors():
    with pytest.raises(InputError, match="position"):
        lstar(T0, [1.0, 2.0], model="dipole")
    with pytest.raises(InputError, match="pitch_angle"):
        lstar(T0, [4.0, 0.0, 0.0], model="dipole", pitch_angle=0)
    with pytest.raises(InputError, match="pitch_angle"):
        lstar(T0, [4.0, 0.0, 0.0], model="dipole", pitch_angle=[[30, 40]])
    with pytest.raises(FieldModelError, match="kp"):
        lstar(T0, [4.0, 0.0, 0.0], model="T89")
    with pytest.raises(FieldModelError, match="model"):
        lstar(T0, [4.0, 0.0, 0.0], model="TS05")
    with pytest.raises(InputError, match="n_lines"):
        lstar(T0, [4.0, 0.0, 0.0], model="dipole", n_lines=1)
    with pytest.raises(InputError, match="unknown option"):
        lstar(T0, [4.0, 0.0, 0.0], model="dipole", nlines=12)
    with pytest.raises(InputError, match="time"):
        lstar(["soon", "later"], [[4.0, 0.0, 0.0]] * 2, model="dipole")


def test_accessor_and_top_level_name(cdf_dir):
    t, pos = _rbsp_orbit(cdf_dir, 3)
    ds = xr.Dataset(
        {"Position_Ion": (("Epoch_Ion", "xyz"), pos * 6371.2, {"UNITS": "km", "COORDINATE_SYSTEM": "GEO", "DEPEND_0": "Epoch_Ion"})},
        coords={"Epoch_Ion": t},
    )
    out = ds.space.lstar(position="Position_Ion", kp=2.0, model="T89", pitch_angle=[90, 45])
    ref = xspace.lstar(t, pos, frame="GEO", model="T89", kp=2.0, pitch_angle=[90, 45])
    np.testing.assert_array_equal(out.Lstar.values, ref.Lstar.values)
    assert out.Lstar.dims == ("Epoch_Ion", "pitch_angle")
    ds["kp"] = ("Epoch_Ion", [2.0, 2.0, 2.0])
    out2 = ds.space.lstar(position="Position_Ion", kp="kp", model="T89", pitch_angle=[90, 45])
    np.testing.assert_array_equal(out2.Lstar.values, ref.Lstar.values)


def test_dipole_plus_uniform_field_analytic():
    """Centred dipole + uniform southward field (axisymmetric, tail-like stretching): the flux function
    r sin(theta) A_phi is constant on field lines, so L* = 1 / |1/r0 - Bz r0^2 / (2 B0)| for any pitch
    angle, and Bmin = B0/r0^3 + Bz at the equator -- an analytic non-dipolar check of the solver."""
    from xspace.magnetosphere import _tracekernels as tk
    from xspace.magnetosphere.field import dipole_uniform_params

    b0, bz = 30000.0, -20.0
    q = dipole_uniform_params(b0, bz)
    r0 = np.array([3.0, 5.0, 7.0])
    phi = np.array([0.3, 2.0, 4.0])  # any MLT: the field is axisymmetric
    xyz = np.stack([r0 * np.cos(phi), r0 * np.sin(phi), np.zeros(3)], -1)
    alphas = np.array([90.0, 40.0])
    n, n_lines = 3, 12
    gx, gw = leggauss(32)
    fx, fw = leggauss(12)
    outs = [np.empty((n, 2)) for _ in range(5)] + [np.empty((n, 2), np.int32), np.empty((n, 9)), np.empty((n, 2, 6))]
    tk.lstar_batch(xyz, np.ascontiguousarray(np.tile(np.sin(np.radians(alphas)) ** 2, (n, 1))),
                   np.ascontiguousarray(np.tile(q, (n, 1))), n_lines, 1e-6, 1e-4, 1.0, 40.0, np.inf, False, 4000,
                   gx, gw, fx, fw, *outs, np.empty((1, 2, n_lines)), np.empty((1, 2, n_lines, 3)))
    ls, flag, point = outs[0], outs[5], outs[6]
    assert (flag == 0).all()
    expected = 1.0 / np.abs(1.0 / r0 - bz * r0**2 / (2.0 * b0))
    assert np.all(np.abs(expected / r0 - 1) > 0.008)  # the uniform field moves L* well away from r0
    np.testing.assert_allclose(ls, np.repeat(expected[:, None], 2, 1), rtol=1e-4)
    np.testing.assert_allclose(point[:, 1], b0 / r0**3 + bz, rtol=1e-6)  # Bmin at the equator
