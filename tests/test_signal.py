"""Tests of xspace.analysis.signal: basics, vector helpers, filters (issue 4 §1-§2).

Real files are read with cdflib (independently of xspace's CDF engine); expected values come from
the files' contents, analytic results or straightforward reference implementations written here.
"""

from __future__ import annotations

import warnings

import cdflib
import dask
import dask.array as dsa
import numpy as np
import pytest
import scipy.signal
import xarray as xr

import xspace  # noqa: F401  (registers .space)
from xspace.analysis import signal
from xspace.analysis._signal_kernels import bin_nanmedian
from xspace.errors import InputError

T0 = np.datetime64("2022-01-01T00:00:00", "ns")


from conftest import CountingScheduler, lazy  # noqa: E402,F401


def is_dask(obj):
    if isinstance(obj, xr.Dataset):
        return any(isinstance(v.data, dsa.Array) for v in obj.data_vars.values())
    return isinstance(obj.data, dsa.Array)


def series(values, step_s=1.0, dim="Epoch", t0=T0, **attrs):
    values = np.asarray(values, dtype=float)
    t = t0 + (np.arange(values.shape[0]) * step_s * 1e9).astype("timedelta64[ns]")
    dims = (dim,) if values.ndim == 1 else (dim, "comp")
    return xr.DataArray(values, dims=dims, coords={dim: t}, attrs=attrs)


def read_cdf_var(path, var, time_var, label_var=None):
    c = cdflib.CDF(str(path))
    t = np.asarray(cdflib.cdfepoch.to_datetime(c.varget(time_var))).astype("datetime64[ns]")
    data = np.asarray(c.varget(var), dtype=float)
    attrs = dict(c.varattsget(var))
    fill = attrs.pop("FILLVAL", None)
    if fill is not None:
        data[data == fill] = np.nan
    for k in ("VALIDMIN", "VALIDMAX", "SCALEMIN", "SCALEMAX"):
        attrs.pop(k, None)
    dims = (time_var,) if data.ndim == 1 else (time_var, attrs.get("DEPEND_1", label_var or "component"))
    coords = {time_var: t}
    if label_var is not None:
        coords[label_var] = (dims[1], np.asarray(c.varget(label_var)).astype(str))
    return xr.DataArray(data, dims=dims, coords=coords, attrs=attrs, name=var)


@pytest.fixture(scope="module")
def ace_b(cdf_dir):
    return read_cdf_var(cdf_dir / "ac_k2_mfi_20220101_v03.cdf", "BGSEc", "Epoch", "label_BGSE")


@pytest.fixture(scope="module")
def psp_b(cdf_dir):
    return read_cdf_var(cdf_dir / "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf", "psp_fld_l2_mag_RTN_1min",
                        "epoch_mag_RTN_1min", "label_RTN")


@pytest.fixture(scope="module")
def hope_energy(cdf_dir):
    """HOPE L3 omnidirectional proton flux with the time-dependent energy coordinate."""
    path = cdf_dir / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    c = cdflib.CDF(str(path))
    t = np.asarray(cdflib.cdfepoch.to_datetime(c.varget("Epoch_Ion"))).astype("datetime64[ns]")
    flux = np.asarray(c.varget("FPDO"), dtype=float)
    flux[flux <= -1e30] = np.nan
    energy = np.asarray(c.varget("HOPE_ENERGY_Ion"), dtype=float)
    return xr.DataArray(flux, dims=("Epoch_Ion", "energy_bin"),
                        coords={"Epoch_Ion": t, "HOPE_ENERGY_Ion": (("Epoch_Ion", "energy_bin"), energy)},
                        attrs={"UNITS": "flux", "DEPEND_0": "Epoch_Ion"}, name="FPDO")


# ----------------------------------------------------------------------------- time dimension
def test_time_dim_found_from_depend0_and_dtype_not_name():
    x = series(np.arange(5.0), dim="my_time")
    assert signal.deriv(x).dims == ("my_time",)
    x2 = x.copy()
    x2.attrs["DEPEND_0"] = "my_time"
    assert x2.space.time_dim() == "my_time"
    with pytest.raises(InputError, match="no time dimension"):
        signal.deriv(xr.DataArray(np.arange(3.0), dims="x"))


# ----------------------------------------------------------------------------- clip / gaps
def test_clip_closed_interval_and_time_dependent_coords(hope_energy):
    t = hope_energy.Epoch_Ion.values
    out = hope_energy.space.clip(t[10], t[20])
    assert out.sizes["Epoch_Ion"] == 11  # both ends included
    assert out.Epoch_Ion.values[0] == t[10] and out.Epoch_Ion.values[-1] == t[20]
    np.testing.assert_array_equal(out.HOPE_ENERGY_Ion.values, hope_energy.HOPE_ENERGY_Ion.values[10:21])
    # between samples: nothing outside [start, stop]
    mid = t[10] + (t[11] - t[10]) // 2
    assert hope_energy.space.clip(mid, t[20]).Epoch_Ion.values[0] == t[11]
    with pytest.raises(InputError, match="before"):
        signal.clip(hope_energy, t[20], t[10])


def test_clip_dask_is_lazy(ace_b):
    d = ace_b.chunk({"Epoch": 5})
    out = lazy(lambda: d.space.clip("2022-01-01T03", "2022-01-01T05"))
    assert is_dask(out)
    np.testing.assert_array_equal(out.values, ace_b.values[3:6])


def test_gaps_real_psp(psp_b):
    g = psp_b.space.gaps()
    t = psp_b.epoch_mag_RTN_1min.values
    dt = np.diff(t)
    expected = [(t[i], t[i + 1]) for i in np.flatnonzero(dt > np.timedelta64(90, "s"))]
    assert g == expected and len(g) >= 2
    # the PSP record has gaps of 7.5 hours between 1-minute blocks
    assert all(b - a >= np.timedelta64(7, "h") for a, b in g)
    assert signal.gaps(psp_b, max_gap="10h") == []


# ----------------------------------------------------------------------------- bin averages
def reference_bins(t, x, cadence_ns, how):
    """Straightforward per-bin loop."""
    ti = t.astype("int64")
    b = ti // cadence_ns
    bins = np.arange(b[0], b[-1] + 1)
    vals, counts = [], []
    for k in bins:
        sel = x[b == k]
        counts.append(np.isfinite(sel).sum(axis=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins
            if sel.shape[0] == 0:
                vals.append(np.full(x.shape[1:], np.nan))
            else:
                vals.append(np.nanmean(sel, axis=0) if how == "mean" else np.nanmedian(sel, axis=0))
    centres = (bins * cadence_ns + cadence_ns // 2).astype("datetime64[ns]")
    return centres, np.array(vals), np.array(counts)


def test_bin_mean_real_ace_three_hours(ace_b):
    out = ace_b.space.bin_mean("3h")
    raw = ace_b.values
    np.testing.assert_allclose(out.values, raw.reshape(8, 3, 3).mean(axis=1), rtol=1e-12)
    assert str(out.Epoch.values[0]) == "2022-01-01T01:30:00.000000000"
    assert (out["count"].values == 3).all()
    assert out.attrs["UNITS"] == "nT" and out.attrs["VAR_TYPE"] == "data"
    assert "bin_mean" in out.attrs["history"]
    assert list(out.label_BGSE.values) == ["Bx GSE", "By GSE", "Bz GSE"]


def test_bin_mean_and_median_against_loop_with_nans_and_empty_bins():
    rng = np.random.default_rng(1)
    n = 500
    t = T0 + np.cumsum(rng.integers(1, 20, n)).astype("timedelta64[s]").astype("timedelta64[ns]")
    t[300:] += np.timedelta64(600, "s")  # an empty stretch
    x = rng.normal(size=(n, 3))
    x[rng.random((n, 3)) < 0.1] = np.nan
    da = xr.DataArray(x, dims=("time", "c"), coords={"time": t})
    for how in ("mean", "median"):
        out = getattr(signal, f"bin_{how}")(da, "1min")
        centres, vals, counts = reference_bins(t, x, 60 * 10**9, how)
        np.testing.assert_array_equal(out.time.values, centres)
        np.testing.assert_allclose(out.values, vals, rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(out["count"].values, counts)
        assert (out["count"].values == 0).any()  # empty bins are kept with count 0


def test_bin_mean_dask_equals_numpy_and_is_lazy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 3))
    x[::7, 1] = np.nan
    da = series(x, step_s=0.7)
    ref = signal.bin_mean(da, "10s")
    for chunk in (33, 100, 1000):
        out = lazy(lambda: signal.bin_mean(da.chunk({"Epoch": chunk}), "10s"))
        assert is_dask(out)
        np.testing.assert_allclose(out.values, ref.values, rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(out["count"].values, ref["count"].values)
    med = lazy(lambda: signal.bin_median(da.chunk({"Epoch": 77}), "10s"))
    np.testing.assert_allclose(med.values, signal.bin_median(da, "10s").values, equal_nan=True)


def test_bin_mean_dataset_counts_and_time_dependent_coords(hope_energy):
    ds = hope_energy.to_dataset()
    out = ds.space.bin_mean("5min")
    t = hope_energy.Epoch_Ion.values
    cad = 300 * 10**9
    centres, vals, counts = reference_bins(t, hope_energy.values, cad, "mean")
    np.testing.assert_allclose(out.FPDO.values, vals, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(out.FPDO_count.values, counts)
    _, energy, _ = reference_bins(t, hope_energy.HOPE_ENERGY_Ion.values, cad, "mean")
    np.testing.assert_allclose(out.HOPE_ENERGY_Ion.values, energy, rtol=1e-12)
    assert out.HOPE_ENERGY_Ion.dims == ("Epoch_Ion", "energy_bin")
    # the same on the DataArray: the time-dependent coordinate is averaged too
    da_out = hope_energy.space.bin_mean("5min")
    np.testing.assert_allclose(da_out.values, vals, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(da_out.HOPE_ENERGY_Ion.values, energy, rtol=1e-12)
    np.testing.assert_array_equal(da_out["count"].values, counts)


def test_bin_median_kernel_matches_numpy_reference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    x[rng.random((200, 2)) < 0.2] = np.nan
    starts = np.array([0, 10, 10, 50, 199], dtype=np.int64)
    stops = np.array([10, 10, 50, 199, 200], dtype=np.int64)
    got = bin_nanmedian(x, starts, stops)
    for k, (a, b) in enumerate(zip(starts, stops)):
        for j in range(2):
            col = x[a:b, j]
            col = col[np.isfinite(col)]
            expected = np.median(col) if col.size else np.nan
            np.testing.assert_equal(got[k, j], expected)


def test_bin_mean_bad_cadence():
    with pytest.raises(InputError, match="cadence"):
        signal.bin_mean(series(np.arange(4.0)), "banana")


# ----------------------------------------------------------------------------- interpolation
def test_interp_linear_never_across_gaps_real_psp(psp_b):
    t = psp_b.epoch_mag_RTN_1min.values
    target = t[:-1] + np.timedelta64(20, "s")  # 20 s after every sample
    out = psp_b.space.interp_like(target)
    step = np.diff(t)
    x = psp_b.values
    expected = x[:-1] + (x[1:] - x[:-1]) * (20 / (step / np.timedelta64(1, "s")))[:, None]
    expected[step > np.timedelta64(90, "s")] = np.nan  # inside a 7.5 h gap: nothing
    np.testing.assert_allclose(out.values, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(out.values).any(axis=1).sum() >= len(psp_b.space.gaps())
    assert out.attrs["UNITS"] == "nT"


def test_interp_methods_and_nan_neighbours():
    da = series([0.0, 10.0, np.nan, 30.0, 40.0], step_s=10)
    tq = T0 + np.array([0, 4, 6, 15, 25, 33, 40, 41], "timedelta64[s]").astype("timedelta64[ns]")
    lin = signal.interp_like(da, tq).values
    np.testing.assert_allclose(lin, [0, 4, 6, np.nan, np.nan, 33, 40, np.nan])
    nea = signal.interp_like(da, tq, method="nearest").values
    np.testing.assert_allclose(nea, [0, 0, 10, 10, np.nan, 30, 40, np.nan])  # ties go to the left sample
    prev = signal.interp_like(da, tq, method="previous").values
    np.testing.assert_allclose(prev, [0, 0, 0, 10, np.nan, 30, 40, np.nan])
    with pytest.raises(InputError, match="method"):
        signal.interp_like(da, tq, method="spline")


def test_interp_cubic_matches_scipy_per_segment():
    from scipy.interpolate import CubicSpline

    x = np.sin(np.arange(40) / 3.0)
    t = np.arange(40.0)
    t[20:] += 100  # a gap
    da = xr.DataArray(x, dims="Epoch", coords={"Epoch": T0 + (t * 1e9).astype("timedelta64[ns]")})
    tq = np.array([0.5, 5.25, 18.9, 50.0, 121.5, 138.0])
    out = signal.interp_like(da, T0 + (tq * 1e9).astype("timedelta64[ns]"), method="cubic").values
    s1 = CubicSpline(t[:20], x[:20], bc_type="natural")
    s2 = CubicSpline(t[20:] - t[20], x[20:], bc_type="natural")
    expected = [s1(0.5), s1(5.25), s1(18.9), np.nan, s2(121.5 - t[20]), s2(138.0 - t[20])]
    np.testing.assert_allclose(out, expected, rtol=1e-10, equal_nan=True)
    dd = lazy(lambda: signal.interp_like(da.chunk({"Epoch": 7}), T0 + (tq * 1e9).astype("timedelta64[ns]"),
                                         method="cubic"))
    np.testing.assert_allclose(dd.values, expected, rtol=1e-10, equal_nan=True)


def test_interp_wraps_angles_and_mlt():
    mlt = series([22.0, 2.0], step_s=60)
    tq = T0 + np.array([15, 30, 45], "timedelta64[s]").astype("timedelta64[ns]")
    np.testing.assert_allclose(signal.interp_like(mlt, tq, period=24).values, [23, 0, 1])
    ang = series([350.0, 30.0], step_s=60)
    np.testing.assert_allclose(signal.interp_like(ang, tq, period=360).values, [0, 10, 20])
    # without period it interpolates the long way round (the documented default)
    np.testing.assert_allclose(signal.interp_like(mlt, tq).values, [17, 12, 7])


def test_interp_like_other_object_renames_dim_and_dask_lazy(ace_b, psp_b):
    other = series(np.zeros(50), step_s=600, dim="t_other", t0=np.datetime64("2022-01-01T00:05", "ns"))
    out = lazy(lambda: ace_b.chunk({"Epoch": 6}).space.interp_like(other))
    assert is_dask(out) and out.dims == ("t_other", "cartesian")
    ref = ace_b.space.interp_like(other)
    np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    tt = (other.t_other.values - ace_b.Epoch.values[0]) / np.timedelta64(1, "h")
    for j in range(3):
        expect = np.interp(tt, np.arange(24.0), ace_b.values[:, j], right=np.nan)
        np.testing.assert_allclose(ref.values[:, j], expect, rtol=1e-12)


# ----------------------------------------------------------------------------- derivative etc.
def test_deriv_per_second_analytic_and_gap():
    n = np.arange(600)
    w = 2 * np.pi / 120.0
    da = series(np.sin(w * n * 0.5), step_s=0.5, UNITS="nT")
    d = da.space.deriv()
    expected = w * np.cos(w * n * 0.5)
    # centred difference error: 1 - sin(w h)/(w h)
    np.testing.assert_allclose(d.values[1:-1], expected[1:-1] * np.sin(w * 0.5) / (w * 0.5), atol=1e-12)
    assert d.attrs["UNITS"] == "nT/s"
    gap = series([0.0, 1.0, 2.0, 100.0, 101.0], step_s=1)
    gap = gap.assign_coords(Epoch=T0 + np.array([0, 1, 2, 60, 61], "timedelta64[s]").astype("timedelta64[ns]"))
    np.testing.assert_allclose(signal.deriv(gap).values, [1, 1, 1, 1, 1])  # the jump across the gap is not used
    dd = lazy(lambda: signal.deriv(da.chunk({"Epoch": 50})))
    np.testing.assert_allclose(dd.values, d.values)


def reference_running(x, n, func, min_count):
    out = np.full(x.shape, np.nan)
    h = n // 2
    for i in range(x.size):
        lo, hi = max(0, i - h), min(x.size, i - h + n)
        win = x[lo:hi]
        win = win[np.isfinite(win)]
        if win.size >= min_count:
            out[i] = func(win)
    return out


def test_running_mean_median_against_loop_and_not_across_gaps():
    rng = np.random.default_rng(4)
    x = rng.normal(size=120)
    x[[5, 40, 41]] = np.nan
    da = series(x, step_s=2)
    for name, f in (("running_mean", np.mean), ("running_median", np.median)):
        got = getattr(da.space, name)("10s")  # 5 samples
        np.testing.assert_allclose(got.values, reference_running(x, 5, f, 3), rtol=1e-12, equal_nan=True)
        lz = lazy(lambda: getattr(signal, name)(da.chunk({"Epoch": 25}), 5))
        np.testing.assert_allclose(lz.values, got.values, equal_nan=True)
    gapped = da.assign_coords(Epoch=da.Epoch.values + np.where(np.arange(120) >= 60, np.timedelta64(1, "h"),
                                                                 np.timedelta64(0, "h")))
    got = signal.running_mean(gapped, 5).values
    np.testing.assert_allclose(got[:60], reference_running(x[:60], 5, np.mean, 3), equal_nan=True)
    np.testing.assert_allclose(got[60:], reference_running(x[60:], 5, np.mean, 3), equal_nan=True)


def test_despike_removes_planted_spikes_only():
    rng = np.random.default_rng(5)
    x = np.sin(np.arange(300) / 20) + 0.01 * rng.normal(size=300)
    spikes = [17, 150, 151, 280]
    clean = x.copy()
    x[spikes] += np.array([5.0, -8.0, 7.0, 4.0])
    out = series(x).space.despike(window=11)
    assert np.isnan(out.values[spikes]).all()
    ok = np.setdiff1d(np.arange(300), spikes)
    np.testing.assert_array_equal(out.values[ok], clean[ok])
    rep = signal.despike(series(x), window=11, replace="median")
    assert np.all(np.abs(rep.values[spikes] - clean[spikes]) < 0.1)
    lz = lazy(lambda: signal.despike(series(x).chunk({"Epoch": 64}), window=11))
    np.testing.assert_array_equal(np.isnan(lz.values), np.isnan(out.values))


def test_detrend_linear_and_constant():
    t = np.arange(50.0)
    x = 3.0 + 0.25 * t + np.sin(t)
    x[10] = np.nan
    da = series(x, UNITS="nT")
    out = da.space.detrend()
    ok = np.isfinite(x)
    slope, icpt = np.polyfit(t[ok], x[ok], 1)
    np.testing.assert_allclose(out.values, x - (icpt + slope * t), atol=1e-10)
    assert np.isnan(out.values[10])
    np.testing.assert_allclose(signal.detrend(da, "constant").values, x - np.nanmean(x))
    lz = lazy(lambda: signal.detrend(da.chunk({"Epoch": 9})))
    np.testing.assert_allclose(lz.values, out.values, atol=1e-10)
    with pytest.raises(InputError, match="kind"):
        signal.detrend(da, "quadratic")


# ----------------------------------------------------------------------------- vectors and attributes
def test_magnitude_real_ace_attrs_and_labels_removed(ace_b):
    m = ace_b.space.magnitude()
    np.testing.assert_allclose(m.values, np.linalg.norm(ace_b.values, axis=1), rtol=1e-12)
    assert m.dims == ("Epoch",) and "label_BGSE" not in m.coords
    assert m.attrs["UNITS"] == "nT" and m.attrs["VAR_TYPE"] == "data"
    assert "LABL_PTR_1" not in m.attrs and "DEPEND_1" not in m.attrs
    assert m.attrs["CATDESC"].startswith("Magnitude of") and "history" in m.attrs
    lz = lazy(lambda: ace_b.chunk({"Epoch": 5}).space.magnitude())
    np.testing.assert_allclose(lz.values, m.values)


def test_dot_cross_angle_normalize_against_numpy(ace_b):
    a = ace_b
    b = ace_b.roll(Epoch=1, roll_coords=False)
    np.testing.assert_allclose(a.space.dot(b).values, np.sum(a.values * b.values, axis=1), rtol=1e-12)
    assert a.space.dot(b).attrs["UNITS"] == "nT^2"
    c = a.space.cross(b)
    np.testing.assert_allclose(c.values, np.cross(a.values, b.values), rtol=1e-12)
    assert c.dims == a.dims
    ang = a.space.angle_between(b)
    cosang = np.sum(a.values * b.values, 1) / np.linalg.norm(a.values, axis=1) / np.linalg.norm(b.values, axis=1)
    np.testing.assert_allclose(ang.values, np.degrees(np.arccos(cosang)), rtol=1e-10)
    assert ang.attrs["UNITS"] == "deg"
    u = a.space.normalize()
    np.testing.assert_allclose(np.linalg.norm(u.values, axis=1), 1.0)
    assert u.attrs["UNITS"] == "1"
    lz = lazy(lambda: a.chunk({"Epoch": 4}).space.cross(b.chunk({"Epoch": 4})))
    np.testing.assert_allclose(lz.values, c.values)
    with pytest.raises(InputError, match="size 3"):
        signal.magnitude(xr.DataArray(np.zeros((4, 2)), dims=("Epoch", "c")))


def test_ufunc_units_and_provenance(ace_b):
    b2 = ace_b.space.power(2)
    assert b2.attrs["UNITS"] == "nT^2" and b2.attrs["VAR_TYPE"] == "data"
    np.testing.assert_allclose(b2.values, ace_b.values ** 2)
    sq = ace_b.space.apply(np.square)
    assert sq.attrs["UNITS"] == "nT^2" and sq.attrs["CATDESC"].startswith("square(")
    assert sq.space.apply(np.sqrt).attrs["UNITS"] == "nT"
    assert ace_b.space.apply(np.cos).attrs["UNITS"] == "1"
    assert "FILLVAL" not in sq.attrs and "apply(square)" in sq.attrs["history"]
    # a dropped component dimension takes its labels with it
    assert "LABL_PTR_1" in sq.attrs  # still a vector: labels stay


# ----------------------------------------------------------------------------- filters
def tone(freq, n=20000, fs=10.0, amp=1.0):
    k = np.arange(n)
    return series(amp * np.sin(2 * np.pi * freq * k / fs), step_s=1 / fs, UNITS="nT")


@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
def test_attenuation_at_cutoff_matches_design(kind):
    fc = 0.5
    x = tone(fc)
    y = getattr(x.space, kind)(fc)
    amp = np.abs(y.values[5000:15000]).max()
    assert 20 * np.log10(amp) == pytest.approx(-6.02, abs=0.02)  # zero-phase: |H|^2 = 1/2
    yc = getattr(signal, kind)(x, fc, zero_phase=False)
    assert 20 * np.log10(np.abs(yc.values[5000:15000]).max()) == pytest.approx(-3.01, abs=0.02)
    # cutoff as a period is the same filter
    np.testing.assert_array_equal(getattr(signal, kind)(x, "2s").values, y.values)
    # far in the pass band nothing changes, far in the stop band (4th order, squared) almost everything goes
    passf, stopf = (0.05, 3.75) if kind == "lowpass" else (3.75, 0.05)
    assert np.abs(getattr(signal, kind)(tone(passf), fc).values[5000:15000]).max() == pytest.approx(1, abs=1e-3)
    assert np.abs(getattr(signal, kind)(tone(stopf), fc).values[5000:15000]).max() < 1e-6


def test_filter_response_equals_butterworth_design_squared():
    fs, fc, order = 10.0, 1.0, 4
    sos = scipy.signal.butter(order, fc, "low", output="sos", fs=fs)
    for f in (0.3, 0.8, 1.5):
        _, h = scipy.signal.sosfreqz(sos, worN=[f], fs=fs)
        y = signal.lowpass(tone(f), fc, order=order)
        assert np.abs(y.values[5000:15000]).max() == pytest.approx(np.abs(h[0]) ** 2, rel=2e-3)


def test_bandpass_bandstop():
    x = tone(0.2) + tone(2.0)
    bp = x.space.bandpass(0.1, 0.4).values[5000:15000]
    np.testing.assert_allclose(bp, tone(0.2).values[5000:15000], atol=0.01)
    bs = signal.bandstop(x, 0.1, 0.4).values[5000:15000]
    np.testing.assert_allclose(bs, tone(2.0).values[5000:15000], atol=0.01)
    with pytest.raises(InputError, match="low < high"):
        signal.bandpass(x, 0.4, 0.1)


def test_filter_per_segment_and_nans_do_not_spread():
    x = tone(0.05, n=6000) + tone(2.0, n=6000)
    t = x.Epoch.values.copy()
    t[3000:] += np.timedelta64(1, "h")
    xg = x.assign_coords(Epoch=t)
    y = signal.lowpass(xg, 0.5).values
    sos = scipy.signal.butter(4, 0.5, "low", output="sos", fs=10.0)
    np.testing.assert_allclose(y[:3000], scipy.signal.sosfiltfilt(sos, x.values[:3000]), rtol=1e-12)
    np.testing.assert_allclose(y[3000:], scipy.signal.sosfiltfilt(sos, x.values[3000:]), rtol=1e-12)
    xn = x.copy()
    xn[[1000, 1001, 1002, 4000]] = np.nan
    yn = signal.lowpass(xn, 0.5).values
    assert np.flatnonzero(np.isnan(yn)).tolist() == [1000, 1001, 1002, 4000]
    # away from the NaNs the output is the clean one
    clean = signal.lowpass(x, 0.5).values
    np.testing.assert_allclose(yn[:800], clean[:800], atol=1e-3)


def test_filter_bad_inputs():
    x = tone(0.1, n=500)
    with pytest.raises(InputError, match="Nyquist"):
        signal.lowpass(x, 6.0)
    with pytest.raises(InputError, match="cutoff"):
        signal.lowpass(x, -1.0)
    jitter = x.assign_coords(Epoch=x.Epoch.values + (np.arange(500) % 2 * 3e7).astype("timedelta64[ns]"))
    with pytest.raises(InputError, match="irregular sampling"):
        signal.highpass(jitter, 1.0)
    with pytest.raises(InputError, match="order"):
        signal.lowpass(x, 1.0, order=0)


@pytest.mark.parametrize("chunk", [97, 1000, 4096])
def test_filter_dask_chunked_equals_whole(chunk):
    rng = np.random.default_rng(6)
    x = series(np.cumsum(rng.normal(size=(20000, 3)), axis=0), step_s=0.1)
    x[5000:5003, 1] = np.nan
    t = x.Epoch.values.copy()
    t[12000:] += np.timedelta64(10, "s")  # a gap: two segments
    x = x.assign_coords(Epoch=t)
    for f, args in ((signal.lowpass, (0.3,)), (signal.bandpass, (0.05, 1.0)), (signal.highpass, (0.02,))):
        whole = f(x, *args).values
        chunked = lazy(lambda: f(x.chunk({"Epoch": chunk}), *args))
        assert is_dask(chunked)
        got = chunked.values
        scale = np.nanmax(np.abs(whole))
        np.testing.assert_allclose(got, whole, atol=1e-6 * scale, rtol=0)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(whole))


def test_filter_dataset_keeps_attrs(ace_b):
    ds = xr.Dataset({"B": ace_b})
    out = ds.space.lowpass("6h", order=2)
    assert out.B.attrs["UNITS"] == "nT" and "lowpass" in out.B.attrs["history"]
    assert out.B.attrs["LABL_PTR_1"] == "label_BGSE"
    np.testing.assert_allclose(out.B.values, signal.lowpass(ace_b, "6h", order=2).values)


def test_interp_numba_path_equals_general_xarray_path():
    """The numba merge pass (numpy DataArray) and the general path (Dataset / dask) agree."""
    rng = np.random.default_rng(7)
    t = T0 + np.cumsum(rng.integers(1, 4, 300)).astype("timedelta64[s]").astype("timedelta64[ns]")
    t[150:] += np.timedelta64(100, "s")
    x = rng.uniform(0, 360, (300, 2))
    x[rng.random((300, 2)) < 0.05] = np.nan
    da = xr.DataArray(x, dims=("Epoch", "c"), coords={"Epoch": t, "aux": ("Epoch", np.arange(300.0))})
    tq = np.sort(t[0] + rng.integers(-10, 900, 400).astype("timedelta64[s]").astype("timedelta64[ns]"))
    tq = np.concatenate([tq, t[::17]])
    tq.sort()
    for method in ("linear", "previous", "nearest"):
        for period in (None, 360.0):
            fast = signal.interp_like(da, tq, method=method, period=period)
            general = signal.interp_like(da.to_dataset(name="v"), tq, method=method, period=period)["v"]
            np.testing.assert_allclose(fast.values, general.values, rtol=1e-12, equal_nan=True)
            np.testing.assert_allclose(fast.aux.values, general.aux.values, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    "name, func",
    [
        ("dot", lambda b: signal.dot(b, b.roll(Epoch=1, roll_coords=False))),
        ("angle_between", lambda b: signal.angle_between(b, b.roll(Epoch=2, roll_coords=False))),
        ("normalize", signal.normalize),
        ("power", lambda b: signal.power(b, 3)),
        ("apply", lambda b: signal.apply(b, np.square)),
        ("bandstop", lambda b: signal.bandstop(b, "8h", "3h", order=2)),
        ("bin_median", lambda b: signal.bin_median(b, "4h")),
        ("bin_mean_dataset", lambda b: signal.bin_mean(b.to_dataset(name="B"), "4h")),
        ("interp_nearest", lambda b: signal.interp_like(b, b.Epoch.values[:-1] + np.timedelta64(20, "m"),
                                                        method="nearest")),
        ("interp_previous_dataset", lambda b: signal.interp_like(b.to_dataset(name="B"),
                                                                 b.Epoch.values[:-1] + np.timedelta64(20, "m"),
                                                                 method="previous")),
    ],
)
def test_every_function_numpy_and_dask(ace_b, name, func):
    ref = func(ace_b)
    out = lazy(lambda: func(ace_b.chunk({"Epoch": 7})))
    assert is_dask(out), f"{name}: the dask input was loaded"
    if isinstance(ref, xr.Dataset):
        for k in ref.data_vars:
            np.testing.assert_allclose(out[k].values, ref[k].values, rtol=1e-10, equal_nan=True)
    else:
        np.testing.assert_allclose(out.values, ref.values, rtol=1e-10, equal_nan=True)
        assert out.attrs == ref.attrs


def test_accessor_forwards_every_function(ace_b):
    from xspace.analysis import frames, spectra

    both = ["clip", "gaps", "segments", "bin_mean", "bin_median", "interp_like", "deriv", "running_mean",
            "running_median", "despike", "detrend", "lowpass", "highpass", "bandpass", "bandstop"]
    arrays_only = ["magnitude", "dot", "cross", "angle_between", "normalize", "apply", "power",
                   "field_aligned_matrix", "rotate", "to_field_aligned", "mva", "dynamic_spectrum",
                   "wave_polarization"]
    ds = ace_b.to_dataset()
    for name in both:
        assert callable(getattr(ace_b.space, name)) and callable(getattr(ds.space, name)), name
    for name in arrays_only:
        assert callable(getattr(ace_b.space, name)), name
    assert ace_b.space.bin_mean("2h").identical(signal.bin_mean(ace_b, "2h"))
    assert ace_b.space.mva().identical(frames.mva(ace_b))
    xb = ace_b.isel(cartesian=0)
    assert xb.space.dynamic_spectrum(nfft=8, step=4).identical(spectra.dynamic_spectrum(xb, nfft=8, step=4))


def test_deriv_on_dataset(ace_b):
    ds = xr.Dataset({"B": ace_b, "const": xr.DataArray(1.0)})
    out = ds.space.deriv()
    assert out.B.attrs["UNITS"] == "nT/s" and float(out.const) == 1.0
    np.testing.assert_allclose(out.B.values, signal.deriv(ace_b).values)
    np.testing.assert_allclose(out.B.values[1:-1], (ace_b.values[2:] - ace_b.values[:-2]) / 7200.0, rtol=1e-12)


def test_demo_step_signal_prints_real_numbers(tmp_path, capsys, ace_b, psp_b):
    from xspace.demo import STEPS, step_signal

    assert step_signal in STEPS
    step_signal(tmp_path)
    out = capsys.readouterr().out
    assert f"PSP B: {psp_b.sizes['epoch_mag_RTN_1min']} samples, 2 gaps" in out
    first = ace_b.values[:6].mean(axis=0)  # the first 6-hour bin, from cdflib
    assert "03:00 (" + ", ".join(f"{x:.2f}" for x in first) + ")" in out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), chunk=st.integers(1, 60), cadence_s=st.sampled_from([5, 17, 60]))
def test_bin_mean_dask_any_chunking_with_gaps(seed, chunk, cadence_s):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 150))
    steps = rng.integers(1, 8, n).astype(float)
    steps[rng.random(n) < 0.05] += 120  # gaps: empty bins, some at chunk edges
    t = T0 + (np.cumsum(steps) * 1e9).astype("timedelta64[ns]")
    x = rng.normal(size=(n, 2))
    x[rng.random((n, 2)) < 0.1] = np.nan
    da = xr.DataArray(x, dims=("Epoch", "c"), coords={"Epoch": t})
    ref = signal.bin_mean(da, cadence_s)
    out = signal.bin_mean(da.chunk({"Epoch": chunk}), cadence_s)
    centres, vals, counts = reference_bins(t, x, cadence_s * 10**9, "mean")
    np.testing.assert_array_equal(ref.Epoch.values, centres)
    np.testing.assert_allclose(ref.values, vals, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(out.values, ref.values, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(out["count"].values, counts)
