"""Tests of xspace.analysis.spectra: dynamic spectra and wave polarisation (issue 4 §4)."""

from __future__ import annotations

import cdflib
import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xspace  # noqa: F401
from xspace.analysis import spectra
from xspace.errors import InputError

T0 = np.datetime64("2022-01-01T00:00:00", "ns")


from conftest import CountingScheduler, lazy  # noqa: E402,F401


def series(values, step_s=1.0, dim="Epoch", **attrs):
    values = np.asarray(values, dtype=float)
    t = T0 + (np.arange(values.shape[0]) * step_s * 1e9).astype("timedelta64[ns]")
    dims = (dim,) if values.ndim == 1 else (dim, "comp")
    return xr.DataArray(values, dims=dims, coords={dim: t}, attrs=attrs)


@pytest.fixture(scope="module")
def psp_b(cdf_dir):
    c = cdflib.CDF(str(cdf_dir / "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf"))
    t = np.asarray(cdflib.cdfepoch.to_datetime(c.varget("epoch_mag_RTN_1min"))).astype("datetime64[ns]")
    b = np.asarray(c.varget("psp_fld_l2_mag_RTN_1min"), float)
    b[b <= -1e30] = np.nan
    return xr.DataArray(b, dims=("epoch_mag_RTN_1min", "rtn"), coords={"epoch_mag_RTN_1min": t},
                        attrs={"UNITS": "nT", "DEPEND_0": "epoch_mag_RTN_1min", "COORDINATE_SYSTEM": "RTN"})


# ----------------------------------------------------------------------------- dynamic spectrum
def test_parseval_exact_for_boxcar_every_window():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 5000)
    s = series(x, UNITS="nT").space.dynamic_spectrum(nfft=256, step=100, window="boxcar", detrend="constant")
    integral = (s * s.bandwidth).sum("frequency").values
    expected = [x[k * 100:k * 100 + 256].var() for k in range(s.sizes["Epoch"])]
    np.testing.assert_allclose(integral, expected, rtol=1e-10)
    assert s.attrs["UNITS"] == "nT^2/Hz" and s.attrs["DISPLAY_TYPE"] == "spectrogram"
    assert s.frequency.attrs["UNITS"] == "Hz"


def test_parseval_hann_white_noise_and_sine_peak():
    rng = np.random.default_rng(1)
    fs = 8.0
    n = 2**15
    x = rng.normal(0, 2, n)
    s = series(x, step_s=1 / fs).space.dynamic_spectrum(nfft=512, step=256)
    total = float((s * s.bandwidth).sum("frequency").mean())
    assert total == pytest.approx(4.0, rel=0.03)
    # the PSD of white noise is flat at 2 sigma^2 / fs
    assert float(s.mean()) == pytest.approx(2 * 4.0 / fs, rel=0.03)
    # a sine of amplitude A carries A^2/2 in its peak
    k = np.arange(n)
    sine = series(3.0 * np.sin(2 * np.pi * 1.0 * k / fs), step_s=1 / fs)
    ss = spectra.dynamic_spectrum(sine, nfft=512, step=512, average_bins=1)
    peak_f = float(ss.frequency[int(ss.mean("Epoch").argmax("frequency"))])
    assert peak_f == pytest.approx(1.0)
    power = float((ss * ss.bandwidth).sum("frequency").mean())
    assert power == pytest.approx(4.5, rel=1e-3)


def test_segments_and_gap_columns_real_psp(psp_b):
    br = psp_b.isel(rtn=0)
    s = spectra.dynamic_spectrum(br, nfft=16, step=8, average_bins=1)
    t = psp_b.epoch_mag_RTN_1min.values
    gaps = psp_b.space.gaps()
    # every window lies inside one continuous block; each gap is marked by one all-NaN column
    nan_cols = np.isnan(s.values).all(axis=1)
    gap_times = [a + np.timedelta64(60, "s") for a, _ in gaps]
    for g in gap_times:
        assert g in s.epoch_mag_RTN_1min.values
        assert nan_cols[list(s.epoch_mag_RTN_1min.values).index(g)]
    assert np.all(np.diff(s.epoch_mag_RTN_1min.values) > np.timedelta64(0))
    # Parseval on the real data (boxcar, constant detrend): first window of the first block
    s2 = spectra.dynamic_spectrum(br, nfft=16, step=8, window="boxcar", detrend="constant", average_bins=1)
    col = int(np.flatnonzero(np.isfinite(s2.values).all(axis=1))[0])
    start = int(np.searchsorted(t, s2.epoch_mag_RTN_1min.values[col] - np.timedelta64(450, "s")))  # 7.5 samples
    win = br.values[start:start + 16]
    assert np.isfinite(win).all() and np.all(np.diff(t[start:start + 16]) == np.timedelta64(60, "s"))
    assert float((s2[col] * s2.bandwidth).sum()) == pytest.approx(win.var(), rel=1e-10)
    assert t.size == 118


def test_dynamic_spectrum_dask_lazy_and_equal():
    rng = np.random.default_rng(2)
    x = series(rng.normal(size=(3000, 3)), step_s=0.5, UNITS="nT")
    x[700:705, 0] = np.nan
    ref = spectra.dynamic_spectrum(x, nfft=128, step=64)
    out = lazy(lambda: x.chunk({"Epoch": 500}).space.dynamic_spectrum(nfft=128, step=64))
    assert isinstance(out.data, dsa.Array)
    np.testing.assert_allclose(out.values, ref.values, rtol=1e-10, equal_nan=True)
    assert out.dims == ("Epoch", "frequency", "comp")
    assert np.isnan(ref.values[:, :, 0]).any() and not np.isnan(ref.values[:, :, 1]).any()


def test_dynamic_spectrum_bad_inputs():
    x = series(np.zeros(100))
    with pytest.raises(InputError, match="nfft"):
        spectra.dynamic_spectrum(x, nfft=256)
    with pytest.raises(InputError, match="window"):
        spectra.dynamic_spectrum(x, nfft=32, window="nonsense")
    with pytest.raises(InputError, match="detrend"):
        spectra.dynamic_spectrum(x, nfft=32, detrend="cubic")


# ----------------------------------------------------------------------------- polarisation
def wave(kind, n=4096, f=0.1, fs=1.0, normal=(0.0, 0.0), noise=0.0, seed=0):
    """A synthetic wave; circular waves rotate right-handed about the wave normal for kind='rh'."""
    k = np.arange(n)
    ph = 2 * np.pi * f * k / fs
    if kind == "rh":
        e = np.stack([np.cos(ph), np.sin(ph), 0 * ph], -1)
    elif kind == "lh":
        e = np.stack([np.cos(ph), -np.sin(ph), 0 * ph], -1)
    elif kind == "ellipse":
        e = np.stack([np.cos(ph), 0.5 * np.sin(ph), 0 * ph], -1)
    else:
        e = np.stack([np.cos(ph), 0.6 * np.cos(ph), 0 * ph], -1)
    th, phi = np.radians(normal)
    # rotate the wave's (x, y, z=k) frame so that k is at polar angle th
    ry = np.array([[np.cos(th), 0, np.sin(th)], [0, 1, 0], [-np.sin(th), 0, np.cos(th)]])
    rzm = np.array([[np.cos(phi), -np.sin(phi), 0], [np.sin(phi), np.cos(phi), 0], [0, 0, 1]])
    b = e @ (rzm @ ry).T
    if noise:
        b = b + noise * np.random.default_rng(seed).normal(size=b.shape)
    return series(b, step_s=1 / fs, UNITS="nT", COORDINATE_SYSTEM="FAC")


def at_f(ds, f):
    return ds.sel(frequency=f, method="nearest").mean("Epoch")


@pytest.mark.parametrize("kind, ell", [("rh", 1.0), ("lh", -1.0), ("ellipse", 0.5), ("linear", 0.0)])
def test_polarization_of_analytic_waves(kind, ell):
    p = at_f(wave(kind).space.wave_polarization(nfft=256, step=128, bin_freq=3), 0.1)
    assert float(p.degree_of_polarization) == pytest.approx(1.0, abs=1e-6)
    assert float(p.ellipticity) == pytest.approx(ell, abs=1e-6)
    if kind == "linear":
        assert np.isnan(float(p.wave_normal_angle))  # k undefined for linear polarisation
    else:
        assert float(p.wave_normal_angle) == pytest.approx(0.0, abs=1e-4)


def test_oblique_wave_normal_angle_and_sign_convention():
    p = at_f(spectra.wave_polarization(wave("rh", normal=(30.0, 40.0))), 0.1)
    assert float(p.wave_normal_angle) == pytest.approx(30.0, abs=1e-4)
    assert float(p.ellipticity) == pytest.approx(1.0, abs=1e-6)  # still right-handed about +Z (k_z > 0)
    pr = at_f(spectra.wave_polarization(wave("rh", normal=(30.0, 40.0)), degrees=False), 0.1)
    assert float(pr.wave_normal_angle) == pytest.approx(np.radians(30.0), abs=1e-6)
    # the power is the trace: amplitude 1 on two axes -> 1/2 + 1/2 in the peak
    full = spectra.wave_polarization(wave("rh"), bin_freq=1)
    power = float((full.power.mean("Epoch") * full.bandwidth).sum())
    assert power == pytest.approx(1.0, rel=1e-3)
    assert full.power.attrs["UNITS"] == "nT^2/Hz"


def test_noise_is_unpolarized_and_dask_lazy():
    rng = np.random.default_rng(5)
    b = series(rng.normal(size=(2**13, 3)), UNITS="nT")
    dop = [float(spectra.wave_polarization(b, nfft=256, step=256, bin_freq=m).degree_of_polarization.mean())
           for m in (15, 31)]
    assert dop[0] < 0.25 and dop[1] < dop[0]  # unpolarised: only the finite-averaging bias remains
    w = wave("rh", noise=0.05)
    ref = spectra.wave_polarization(w)
    out = lazy(lambda: w.chunk({"Epoch": 2048}).space.wave_polarization())
    assert all(isinstance(v.data, dsa.Array) for v in out.data_vars.values())
    out = out.compute()
    for k in ("power", "degree_of_polarization", "wave_normal_angle", "ellipticity"):
        np.testing.assert_allclose(out[k].values, ref[k].values, rtol=1e-8, atol=1e-10, equal_nan=True)
    assert float(at_f(ref, 0.1).degree_of_polarization) > 0.95
