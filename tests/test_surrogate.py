"""The L* surrogate (issue 5 §6) against the solver it was trained on; flags, dask, errors.

The shipped weights are used as they are (nothing is retrained here); reference values come from
:func:`xspace.magnetosphere.lstar` computed in the test on fresh random points of the domain.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xspace.errors import FieldModelError, InputError
from xspace.magnetosphere import lstar
from xspace.magnetosphere.coords import transform
from xspace.magnetosphere.surrogate import (
    FLAG_INVALID_INPUT,
    FLAG_OUTSIDE_DOMAIN,
    WEIGHTS_FILE,
    lstar_surrogate,
    surrogate_info,
)

# Bounds asserted on the test's own 96 samples, from what the shipped weights achieve on the held-out
# test set (7623 accepted samples: median 0.15 %, 95th percentile 0.52 %, max 2.15 %); the goal of
# issue 5 was median <= 1 %, max <= 3 %.
MEDIAN_BOUND = 0.004
MAX_BOUND = 0.022


def domain_points(seed, n):
    """Random (time, GSM position, Kp) inside the surrogate's domain (r <= 7, |latitude| <= 20 deg: dipole L < 8)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(3.0, 7.0, n)
    lat = np.radians(rng.uniform(-20, 20, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    sm = np.stack([r * np.cos(lat) * np.cos(phi), r * np.cos(lat) * np.sin(phi), r * np.sin(lat)], -1)
    t0 = np.datetime64("1996-01-01", "s").astype(np.int64)
    t1 = np.datetime64("2029-01-01", "s").astype(np.int64)
    times = rng.integers(t0, t1, n).astype("datetime64[s]").astype("datetime64[ns]")
    kp = rng.uniform(0, 6, n)
    return times, transform(sm, times, "SM", "GSM"), kp


@pytest.fixture(scope="module")
def reference():
    times, pos, kp = domain_points(2024, 32)
    exact = lstar(times, pos, pitch_angle=[90.0, 55.0, 25.0], model="T89", kp=kp)
    return times, pos, kp, exact


def test_weights_file_is_small_and_documented():
    from xspace.data import get_path

    path = get_path(WEIGHTS_FILE)
    assert path.stat().st_size < 1_000_000
    info = surrogate_info()
    assert info["domain"]["r"] == (3.0, 8.0)
    assert info["domain"]["kp"] == (0.0, 6.0)
    assert info["domain"]["dipole_L"] == (3.0, 8.0)
    assert info["n_train"] > 100_000
    held = info["heldout"]
    assert held["n"] > 5000
    assert held["median"] <= held["p95"] <= held["max"]
    assert held["median"] < 0.002 and held["p95"] < 0.006 and held["max"] < 0.022
    assert held["closed_rejected"] < 0.02


def test_against_solver_on_fresh_points(reference):
    times, pos, kp, exact = reference
    approx = lstar_surrogate(times, pos, pitch_angle=[90.0, 55.0, 25.0], kp=kp)
    assert approx.Lstar.dims == exact.Lstar.dims == ("time", "pitch_angle")
    both = (exact.flag == 0) & (approx.flag == 0)
    assert int(both.sum()) >= 80  # of 96: nearly all of these shells are closed and accepted
    err = np.abs(approx.Lstar / exact.Lstar - 1).where(both)
    assert float(err.median()) <= MEDIAN_BOUND
    assert float(err.max()) <= MAX_BOUND
    # where the surrogate gives a value, the solver's shell is closed (no open shell passes silently)
    accepted = approx.flag == 0
    assert int(((exact.flag != 0) & accepted).sum()) <= 1


def test_kp_enters_through_the_t89_level_and_pitch_angle_is_symmetric(reference):
    times, pos, kp, _ = reference
    a = lstar_surrogate(times[:5], pos[:5], pitch_angle=[45.0, 135.0], kp=2.0)
    b = lstar_surrogate(times[:5], pos[:5], pitch_angle=[135.0, 45.0], kp=2.3)  # 2 and 2+: same T89 level
    np.testing.assert_array_equal(a.Lstar.values, b.Lstar.values[:, ::-1])
    # the solver has the same properties
    ea = lstar(times[:2], pos[:2], pitch_angle=[45.0, 135.0], model="T89", kp=2.0)
    eb = lstar(times[:2], pos[:2], pitch_angle=[135.0, 45.0], model="T89", kp=2.3)
    np.testing.assert_allclose(ea.Lstar.values, eb.Lstar.values[:, ::-1], rtol=1e-6)


def test_frames_give_the_same_answer(reference):
    times, pos, kp, _ = reference
    geo = transform(pos[:8], times[:8], "GSM", "GEO")
    a = lstar_surrogate(times[:8], pos[:8], kp=kp[:8])
    b = lstar_surrogate(times[:8], geo, frame="GEO", kp=kp[:8])
    np.testing.assert_allclose(a.Lstar.values, b.Lstar.values, rtol=1e-9)


def test_time_series_rotation_interpolation_matches_exact_rotations():
    # 2000 one-second samples share a few 10-minute bins: rotations are interpolated between bin edges
    t = np.datetime64("2015-03-17T12:00", "ns") + np.arange(2000) * np.timedelta64(1, "s")
    pos = np.tile([[-5.0, 1.0, 0.5]], (2000, 1)) + np.linspace(0, 0.5, 2000)[:, None]
    series = lstar_surrogate(t, pos, kp=2.3).Lstar.values
    single = np.array([float(lstar_surrogate(t[i], pos[i], kp=2.3).Lstar) for i in (0, 777, 1999)])
    np.testing.assert_allclose(series[[0, 777, 1999]], single, rtol=1e-5)


def test_outside_domain_and_invalid_inputs_are_flagged():
    t = np.datetime64("2015-03-17T12:00")
    pos = np.array(
        [
            [-5.0, 1.0, 0.5],  # inside
            [-10.0, 0.0, 0.0],  # beyond 8 R_E
            [2.0, 0.0, 0.0],  # inside 3 R_E
            [3.0, 0.0, 4.0],  # magnetic latitude ~50 deg
            [6.8, 0.0, 3.17],  # r = 7.5, latitude 25 deg: dipole L = 9.1 > 8
            [np.nan, 0.0, 0.0],  # invalid
        ]
    )
    ds = lstar_surrogate(t, pos, frame="SM", kp=2.0)
    np.testing.assert_array_equal(ds.flag.values, [0, *[FLAG_OUTSIDE_DOMAIN] * 4, FLAG_INVALID_INPUT])
    assert np.isfinite(ds.Lstar.values[0]) and np.all(np.isnan(ds.Lstar.values[1:]))
    # Kp above the trained range, pitch angle below 10 deg, a year before 1995
    assert int(lstar_surrogate(t, pos[0], kp=7.0).flag) == FLAG_OUTSIDE_DOMAIN
    assert int(lstar_surrogate(t, pos[0], kp=np.nan).flag) == FLAG_INVALID_INPUT
    assert int(lstar_surrogate(t, pos[0], pitch_angle=5.0, kp=2.0).flag) == FLAG_OUTSIDE_DOMAIN
    assert int(lstar_surrogate(np.datetime64("1980-01-01"), pos[0], kp=2.0).flag) == FLAG_OUTSIDE_DOMAIN
    assert "outside the surrogate's domain" in ds.flag.attrs["flag_meanings"]


def test_numpy_and_dask_give_identical_results(reference):
    times, pos, kp, _ = reference
    tt = xr.DataArray(times, dims="time")
    pp = xr.DataArray(pos, dims=("time", "xyz"))
    kk = xr.DataArray(kp, dims="time")
    eager = lstar_surrogate(tt, pp, pitch_angle=[30, 80], kp=kk)
    lazy = lstar_surrogate(tt.chunk(7), pp.chunk({"time": 7}), pitch_angle=[30, 80], kp=kk.chunk(7))
    assert lazy.Lstar.chunks is not None
    computed = lazy.compute()
    # BLAS may sum in another order for another batch: equal to rounding (~1e-15)
    np.testing.assert_allclose(eager.Lstar.values, computed.Lstar.values, rtol=1e-12)
    np.testing.assert_array_equal(eager.flag.values, computed.flag.values)


def test_bad_inputs_raise_clear_errors():
    t = np.datetime64("2015-03-17T12:00")
    with pytest.raises(InputError, match="position"):
        lstar_surrogate(t, [1.0, 2.0], kp=2)
    with pytest.raises(InputError, match="pitch_angle"):
        lstar_surrogate(t, [-5.0, 0, 0], pitch_angle=0, kp=2)
    with pytest.raises(InputError, match="pitch_angle"):
        lstar_surrogate(t, [-5.0, 0, 0], pitch_angle=[[30, 40]], kp=2)
    with pytest.raises(InputError, match="time"):
        lstar_surrogate(xr.DataArray(1.0), [-5.0, 0, 0], kp=2)
    with pytest.raises(InputError, match="kp"):
        lstar_surrogate(t, [-5.0, 0, 0], kp="high")
    with pytest.raises(InputError, match="frame"):
        lstar_surrogate(t, [-5.0, 0, 0], frame="XYZ", kp=2)
    with pytest.raises(InputError, match="irbem_compatible"):
        lstar_surrogate(t, [-5.0, 0, 0], kp=2, irbem_compatible=True)
    with pytest.raises(FieldModelError, match="model"):
        lstar_surrogate(t, [-5.0, 0, 0], model="IGRF", kp=2)
    with pytest.raises(FieldModelError, match="kp"):
        lstar_surrogate(t, [-5.0, 0, 0])
    # lstar-compatible signature (same positional order): model="T89" and numerical options are accepted
    ds = lstar_surrogate(t, [-5.0, 0, 0], "GSM", 90, "t89", 2, False, n_lines=12, n_threads=1)
    assert int(ds.flag) == 0


def test_lstar_method_surrogate_is_the_surrogate():
    from xspace.errors import InputError
    from xspace.magnetosphere import lstar
    from xspace.magnetosphere.surrogate import lstar_surrogate

    t = np.array(["2013-03-01T06:00", "2015-07-01T18:00"], "datetime64[ns]")
    pos = np.array([[-5.0, 1.0, 0.5], [-4.0, -3.0, 0.3]])
    a = lstar(t, pos, model="T89", kp=2.3, method="surrogate")
    b = lstar_surrogate(t, pos, kp=2.3)
    np.testing.assert_array_equal(a["Lstar"].values, b["Lstar"].values)
    solver = lstar(t, pos, model="T89", kp=2.3)
    np.testing.assert_allclose(a["Lstar"].values, solver["Lstar"].values, rtol=0.03)
    with pytest.raises(InputError, match="'method'"):
        lstar(t, pos, model="T89", kp=2.3, method="neural")
