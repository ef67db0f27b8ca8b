"""Tests of xspace.analysis.frames: field-aligned matrices, rotation with slerp, MVA (issue 4 §3)."""

from __future__ import annotations

import cdflib
import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xspace  # noqa: F401
from xspace.analysis import frames
from xspace.analysis._signal_kernels import fac_matrices, rotate_vectors, window_covariance
from xspace.errors import InputError

T0 = np.datetime64("2022-01-01T00:00:00", "ns")


from conftest import CountingScheduler, lazy  # noqa: E402,F401


def vec(values, step_s=1.0, dim="Epoch", t0=T0, **attrs):
    values = np.asarray(values, dtype=float)
    t = t0 + (np.arange(values.shape[0]) * step_s * 1e9).astype("timedelta64[ns]")
    return xr.DataArray(values, dims=(dim, "comp"), coords={dim: t}, attrs=attrs)


@pytest.fixture(scope="module")
def ace_b(cdf_dir):
    c = cdflib.CDF(str(cdf_dir / "ac_k2_mfi_20220101_v03.cdf"))
    t = np.asarray(cdflib.cdfepoch.to_datetime(c.varget("Epoch"))).astype("datetime64[ns]")
    return xr.DataArray(np.asarray(c.varget("BGSEc"), float), dims=("Epoch", "cartesian"),
                        coords={"Epoch": t, "label_BGSE": ("cartesian", c.varget("label_BGSE"))},
                        attrs={"UNITS": "nT", "DEPEND_0": "Epoch", "LABL_PTR_1": "label_BGSE",
                               "COORDINATE_SYSTEM": "GSE", "CATDESC": "Magnetic Field, Cartesian GSE coord"},
                        name="BGSEc")


@pytest.fixture(scope="module")
def hope_position(cdf_dir):
    c = cdflib.CDF(str(cdf_dir / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"))
    t = np.asarray(cdflib.cdfepoch.to_datetime(c.varget("Epoch_Ion"))).astype("datetime64[ns]")
    return xr.DataArray(np.asarray(c.varget("Position_Ion"), float), dims=("Epoch_Ion", "xyz"),
                        coords={"Epoch_Ion": t}, attrs={"UNITS": "km", "COORDINATE_SYSTEM": "GEO"})


def reference_fac(b, ref, ref_is_y=False):
    """Straightforward numpy FAC rows."""
    z = b / np.linalg.norm(b, axis=-1, keepdims=True)
    ref = np.broadcast_to(ref, b.shape)
    if ref_is_y:
        x = np.cross(ref, z)
        x /= np.linalg.norm(x, axis=-1, keepdims=True)
        y = np.cross(z, x)
    else:
        y = np.cross(z, ref)
        y /= np.linalg.norm(y, axis=-1, keepdims=True)
        x = np.cross(y, z)
    return np.stack([x, y, z], axis=-2)


# ----------------------------------------------------------------------------- FAC
def test_b_3_4_12_is_0_0_13_in_fac_numpy_and_dask():
    B = vec([[3.0, 4.0, 12.0]] * 4, COORDINATE_SYSTEM="GSE", UNITS="nT")
    out = B.space.to_field_aligned()
    np.testing.assert_allclose(out.values, [[0, 0, 13]] * 4, atol=1e-12)
    assert out.attrs["COORDINATE_SYSTEM"] == "FAC(xgse)" and out.attrs["UNITS"] == "nT"
    assert out.comp.values.tolist() == ["perp1", "perp2", "parallel"]
    lz = lazy(lambda: B.chunk({"Epoch": 2}).space.to_field_aligned())
    assert isinstance(lz.data, dsa.Array)
    np.testing.assert_allclose(lz.values, out.values, atol=1e-12)


def test_fac_real_ace_matches_numpy_reference(ace_b):
    M = ace_b.space.field_aligned_matrix()
    np.testing.assert_allclose(M.values, reference_fac(ace_b.values, np.array([1.0, 0, 0])), atol=1e-12)
    # orthonormal and right-handed
    eye = np.einsum("nij,nkj->nik", M.values, M.values)
    np.testing.assert_allclose(eye, np.broadcast_to(np.eye(3), eye.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(M.values), 1.0, atol=1e-12)
    # perp1 is the part of X_GSE perpendicular to B: positive X, no perp2 component of X_GSE
    assert (M.values[:, 0, 0] > 0).all()
    np.testing.assert_allclose(M.values[:, 1, 0], 0.0, atol=1e-12)
    fac = ace_b.space.to_field_aligned()
    np.testing.assert_allclose(fac.values[:, 2], np.linalg.norm(ace_b.values, axis=1), rtol=1e-12)
    np.testing.assert_allclose(fac.values[:, :2], 0.0, atol=1e-12)
    assert M.attrs["COORDINATE_SYSTEM"] == "FAC(xgse)" and M.attrs["FRAME_IN"] == "GSE"


def test_ygsm_reference_puts_y_along_projection():
    rng = np.random.default_rng(0)
    b = rng.normal(size=(50, 3))
    M = frames.field_aligned_matrix(vec(b), reference="ygsm").values
    np.testing.assert_allclose(M, reference_fac(b, np.array([0, 1.0, 0]), ref_is_y=True), atol=1e-12)
    np.testing.assert_allclose(M[:, 0, 1], 0.0, atol=1e-12)  # Y has no perp1 component
    assert (M[:, 1, 1] > 0).all()


def test_position_references_with_real_hope_positions(hope_position):
    # a field that is not radial: a southward field plus a rotation in the equatorial plane
    n = hope_position.sizes["Epoch_Ion"]
    ang = np.linspace(0, 1, n)
    b = np.stack([30 * np.cos(ang), 30 * np.sin(ang), np.full(n, -100.0)], -1)
    B = xr.DataArray(b, dims=("Epoch_Ion", "xyz"), coords={"Epoch_Ion": hope_position.Epoch_Ion})
    r = hope_position.values
    Mr = B.space.field_aligned_matrix(reference="rgeo", position=hope_position).values
    np.testing.assert_allclose(Mr, reference_fac(b, r / np.linalg.norm(r, axis=1, keepdims=True)), atol=1e-12)
    Mm = frames.field_aligned_matrix(B, reference="mrgeo", position=hope_position).values
    np.testing.assert_allclose(Mm[:, :2], -Mr[:, :2], atol=1e-12)
    phi = np.stack([-r[:, 1], r[:, 0], np.zeros(n)], -1)
    Mp = frames.field_aligned_matrix(B, reference="phigeo", position=hope_position).values
    np.testing.assert_allclose(Mp, reference_fac(b, phi, ref_is_y=True), atol=1e-12)  # SPEDAS: perp2 ~ phi
    Mmp = frames.field_aligned_matrix(B, reference="mphigeo", position=hope_position).values
    np.testing.assert_allclose(Mmp[:, :2], -Mp[:, :2], atol=1e-12)
    assert (np.einsum("ni,ni->n", Mp[:, 1], phi) > 0).all()
    # perp1 of rgeo points outward: positive projection on r
    assert (np.einsum("ni,ni->n", Mr[:, 0], r) > 0).all()
    with pytest.raises(InputError, match="position"):
        frames.field_aligned_matrix(B, reference="rgeo")
    with pytest.raises(InputError, match="reference"):
        frames.field_aligned_matrix(B, reference="zgse")


def test_position_on_other_time_grid_is_interpolated(hope_position):
    sub = hope_position.isel(Epoch_Ion=slice(0, None, 2))
    B = xr.DataArray(np.tile([10.0, 0, -50], (hope_position.sizes["Epoch_Ion"], 1)), dims=("Epoch_Ion", "xyz"),
                     coords={"Epoch_Ion": hope_position.Epoch_Ion})
    M = frames.field_aligned_matrix(B, reference="rgeo", position=sub).isel(Epoch_Ion=slice(0, 20, 2))
    Mfull = frames.field_aligned_matrix(B, reference="rgeo", position=hope_position).isel(Epoch_Ion=slice(0, 20, 2))
    np.testing.assert_allclose(M.values, Mfull.values, atol=1e-12)


def test_fac_kernels_against_numpy():
    rng = np.random.default_rng(1)
    b = rng.normal(size=(100, 3))
    ref = rng.normal(size=(100, 3))
    np.testing.assert_allclose(fac_matrices(b, ref, False), reference_fac(b, ref), atol=1e-12)
    np.testing.assert_allclose(fac_matrices(b, ref, True), reference_fac(b, ref, True), atol=1e-12)
    m = rng.normal(size=(100, 3, 3))
    np.testing.assert_allclose(rotate_vectors(m, b), np.einsum("nij,nj->ni", m, b), atol=1e-12)
    bad = fac_matrices(np.array([[0.0, 0, 0], [1.0, 0, 0]]), np.array([[1.0, 0, 0], [1.0, 0, 0]]), False)
    assert np.isnan(bad).all()  # zero field; field parallel to the reference


def test_fluctuations_about_background_running_mean_and_given_b0(ace_b):
    B0 = ace_b.space.running_mean("5h")
    dB = ace_b - B0
    out = dB.space.to_field_aligned(background=B0)
    bhat = B0.values / np.linalg.norm(B0.values, axis=1, keepdims=True)
    np.testing.assert_allclose(out.values[:, 2], np.sum(dB.values * bhat, axis=1), atol=1e-12)
    # the same background given as a window length
    out2 = ace_b.space.to_field_aligned(background="5h")
    np.testing.assert_allclose(out2.values[:, 2], np.sum(ace_b.values * bhat, axis=1), atol=1e-12)
    # a background on a coarser grid is interpolated onto the vectors' times
    coarse = B0.isel(Epoch=slice(0, None, 2))
    out3 = dB.space.to_field_aligned(background=coarse)
    np.testing.assert_allclose(out3.values[::2], out.values[::2], atol=1e-12)
    lz = lazy(lambda: dB.chunk({"Epoch": 6}).space.to_field_aligned(background=B0.chunk({"Epoch": 6})))
    np.testing.assert_allclose(lz.values, out.values, atol=1e-12)


# ----------------------------------------------------------------------------- rotate / slerp
def rz(a):
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def test_rotate_slerp_analytic_and_gaps():
    # matrices every hour for a rotation about z by 10 degrees per hour; vectors every 10 minutes
    hours = np.arange(6)
    mt = T0 + (hours * 3600e9).astype("timedelta64[ns]")
    M = xr.DataArray(np.stack([rz(np.radians(10 * h)) for h in hours]), dims=("t_att", "row", "col"),
                     coords={"t_att": mt, "row": ["a", "b", "c"]}, attrs={"COORDINATE_SYSTEM": "SPIN"})
    v = vec(np.tile([1.0, 0, 0.5], (40, 1)), step_s=600)
    out = v.space.rotate(M)
    minutes = np.arange(40) * 10
    ang = np.radians(minutes / 6.0)
    expected = np.stack([np.cos(ang), np.sin(ang), np.full(40, 0.5)], -1)
    inside = minutes <= 300
    np.testing.assert_allclose(out.values[inside], expected[inside], atol=1e-12)
    assert np.isnan(out.values[~inside]).all()  # after the last matrix: no extrapolation
    assert out.comp.values.tolist() == ["a", "b", "c"] and out.attrs["COORDINATE_SYSTEM"] == "SPIN"
    # a gap in the matrix times: no slerp across it
    Mg = M.isel(t_att=[0, 1, 4, 5])
    outg = frames.rotate(v, Mg)
    between = (minutes > 60) & (minutes < 240)
    assert np.isnan(outg.values[between]).all()
    lz = lazy(lambda: frames.rotate(v.chunk({"Epoch": 7}), M.chunk({"t_att": 2})))
    np.testing.assert_allclose(lz.values, out.values, atol=1e-12, equal_nan=True)


def test_quaternion_roundtrip_random_rotations():
    rng = np.random.default_rng(2)
    q = rng.normal(size=(200, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    m = frames._quaternion_to_matrix(q)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    m2 = frames._quaternion_to_matrix(frames._matrix_to_quaternion(m))
    np.testing.assert_allclose(m2, m, atol=1e-12)


def test_rotate_constant_matrix_and_bad_matrix(ace_b):
    out = ace_b.space.rotate(rz(np.pi / 2))
    np.testing.assert_allclose(out.values, ace_b.values @ rz(np.pi / 2).T, atol=1e-12)
    with pytest.raises(InputError, match="matrix"):
        ace_b.space.rotate(np.eye(2))


# ----------------------------------------------------------------------------- MVA
def current_sheet(n=400, normal_deg=(20.0, 35.0), noise=0.3, seed=3):
    """A Harris-like sheet: B_L = 10 tanh, B_M = 2 + bump, B_N = 1 + noise, in a tilted LMN frame."""
    rng = np.random.default_rng(seed)
    s = np.linspace(-4, 4, n)
    lmn = np.stack([10 * np.tanh(s), 2 + 3 / np.cosh(s), np.full(n, 1.0)], -1) + noise * rng.normal(size=(n, 3))
    th, ph = np.radians(normal_deg)
    N = np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
    L = np.cross([0, 1.0, 0], N)
    L /= np.linalg.norm(L)
    Mv = np.cross(N, L)
    R = np.stack([L, Mv, N], -1)  # columns
    return lmn @ R.T, N, L


def test_mva_recovers_planted_normal_within_one_degree():
    b, N, L = current_sheet()
    res = vec(b, UNITS="nT").space.mva()
    n_est = res.eigenvectors.sel(mva="min").values
    assert np.degrees(np.arccos(abs(n_est @ N))) < 1.0
    assert np.degrees(np.arccos(abs(res.eigenvectors.sel(mva="max").values @ L))) < 1.0
    ev = res.eigenvalues.values
    assert ev[0] > ev[1] > ev[2] > 0
    # against numpy directly
    w = np.linalg.eigvalsh(np.cov(b.T, bias=True))[::-1]
    np.testing.assert_allclose(ev, w, rtol=1e-10)
    # sign conventions
    V = res.eigenvectors.values
    assert V[2, 1] >= 0 and V[2, 2] >= 0
    assert np.linalg.det(V) == pytest.approx(1.0)
    np.testing.assert_allclose(res.rotated.values, b @ V, atol=1e-10)
    assert res.rotated.attrs["COORDINATE_SYSTEM"] == "MVA" and res.eigenvalues.attrs["UNITS"] == "nT^2"


def test_mva_drops_and_counts_nonfinite_rows():
    b, _, _ = current_sheet()
    bn = b.copy()
    bn[[3, 50, 51], 1] = np.nan
    bn[100, :] = np.inf
    res = frames.mva(vec(bn))
    ref = frames.mva(vec(np.delete(b, [3, 50, 51, 100], axis=0)))
    np.testing.assert_allclose(res.eigenvalues.values, ref.eigenvalues.values, rtol=1e-12)
    np.testing.assert_allclose(res.eigenvectors.values, ref.eigenvectors.values, atol=1e-12)
    assert int(res["count"]) == 396 and int(res["dropped"]) == 4
    empty = frames.mva(vec(np.full((5, 3), np.nan)))
    assert np.isnan(empty.eigenvectors.values).all() and int(empty["count"]) == 0


def test_mva_dask_lazy_equals_numpy():
    b, _, _ = current_sheet()
    ref = frames.mva(vec(b))
    out = lazy(lambda: frames.mva(vec(b).chunk({"Epoch": 64})))
    np.testing.assert_allclose(out.eigenvectors.values, ref.eigenvectors.values, atol=1e-10)
    np.testing.assert_allclose(out.rotated.values, ref.rotated.values, atol=1e-9)
    sl = lazy(lambda: frames.mva(vec(b).chunk({"Epoch": 64}), window="100s", step="50s"))
    slr = frames.mva(vec(b), window="100s", step="50s")
    np.testing.assert_allclose(sl.eigenvalues.values, slr.eigenvalues.values, rtol=1e-10, equal_nan=True)


def test_sliding_mva_windows_midpoints_and_empty_windows():
    b, _, _ = current_sheet(n=400)
    da = vec(b)
    t = da.Epoch.values.copy()
    t[200:] += np.timedelta64(300, "s")  # a hole: some windows are empty
    da = da.assign_coords(Epoch=t)
    res = da.space.mva(window="100s", step="50s")
    wdim = "Epoch_window"
    mids = res[wdim].values
    starts = T0 + (np.arange(mids.size) * 50e9).astype("timedelta64[ns]")
    np.testing.assert_array_equal(mids, starts + np.timedelta64(50, "s"))
    for k, s0 in enumerate(starts):
        sel = (t >= s0) & (t < s0 + np.timedelta64(100, "s"))
        assert int(res["count"][k]) == sel.sum()
        if sel.sum() >= 3:
            w = np.linalg.eigvalsh(np.cov(b[sel].T, bias=True))[::-1]
            np.testing.assert_allclose(res.eigenvalues.values[k], w, rtol=1e-9, atol=1e-12)
        else:
            assert np.isnan(res.eigenvalues.values[k]).all()
    assert np.isnan(res.eigenvectors.values).any()  # the empty windows


def test_window_covariance_kernel_against_numpy():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3))
    x[[5, 6]] = np.nan
    starts = np.array([0, 100, 250, 10], dtype=np.int64)
    stops = np.array([100, 250, 300, 11], dtype=np.int64)
    cov, cnt = window_covariance(x, starts, stops)
    for k, (a, b) in enumerate(zip(starts, stops)):
        rows = x[a:b][np.isfinite(x[a:b]).all(1)]
        assert cnt[k] == len(rows)
        if len(rows) >= 2:
            np.testing.assert_allclose(cov[k], np.cov(rows.T, bias=True), rtol=1e-12, atol=1e-14)
        else:
            assert np.isnan(cov[k]).all()


def test_field_aligned_matrix_rgeo_dask_lazy(hope_position):
    n = hope_position.sizes["Epoch_Ion"]
    B = xr.DataArray(np.tile([20.0, -5.0, -100.0], (n, 1)), dims=("Epoch_Ion", "xyz"),
                     coords={"Epoch_Ion": hope_position.Epoch_Ion})
    ref = frames.field_aligned_matrix(B, reference="mphigeo", position=hope_position)
    out = lazy(lambda: frames.field_aligned_matrix(B.chunk({"Epoch_Ion": 30}), reference="mphigeo",
                                                   position=hope_position.chunk({"Epoch_Ion": 30})))
    assert isinstance(out.data, dsa.Array)
    np.testing.assert_allclose(out.values, ref.values, atol=1e-12)


def test_fac_reference_from_position_in_another_frame():
    """rgeo/phigeo built in GEO from a GEO position and rotated into B's GSE frame (SPEDAS semantics)."""
    from xspace.magnetosphere.coords import transform

    t = np.array(["2020-03-01T00:00", "2020-03-01T06:00", "2020-03-01T12:00"], "datetime64[ns]")
    pos_geo = np.array([[5.0, 1.0, 0.5], [0.0, 5.0, 1.0], [-4.0, -2.0, 1.0]])
    B = xr.DataArray([[1.0, 2.0, 30.0], [3, -2, 25], [0.5, 0.5, 20]], dims=("Epoch", "c"), coords={"Epoch": t},
                     attrs={"COORDINATE_SYSTEM": "GSE"})
    P = xr.DataArray(pos_geo, dims=("Epoch", "p"), coords={"Epoch": t}, attrs={"COORDINATE_SYSTEM": "GEO"})
    b = B.values / np.linalg.norm(B.values, axis=1, keepdims=True)

    def perp_unit(v):
        p = v - (v * b).sum(1, keepdims=True) * b
        return p / np.linalg.norm(p, axis=1, keepdims=True)

    azimuth_gse = transform(np.stack([-pos_geo[:, 1], pos_geo[:, 0], np.zeros(3)], -1), t, "GEO", "GSE")
    np.testing.assert_allclose(frames.field_aligned_matrix(B, "phigeo", position=P).values[:, 1, :], perp_unit(azimuth_gse),
                               atol=1e-12)
    radial_gse = transform(pos_geo, t, "GEO", "GSE")
    np.testing.assert_allclose(frames.field_aligned_matrix(B, "rgeo", position=P).values[:, 0, :], perp_unit(radial_gse),
                               atol=1e-12)
    # without frame attributes the position is taken in B's frame
    same = frames.field_aligned_matrix(B.drop_attrs(), "phigeo", position=P.drop_attrs()).values[:, 1, :]
    np.testing.assert_allclose(same, perp_unit(np.stack([-pos_geo[:, 1], pos_geo[:, 0], np.zeros(3)], -1)), atol=1e-12)
