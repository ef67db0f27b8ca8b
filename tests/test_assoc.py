"""Association analysis against a straightforward implementation of PoPPy's algorithm written here
(bisect per event and lag), a naive resampling bootstrap, and the real Kp-onset / Dst-minimum study."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
import xarray as xr

from xspace.analysis.assoc import apply_refractory, association
from xspace.analysis.sea import find_events
from xspace.errors import InputError

H = np.timedelta64(3600, "s").astype("timedelta64[ns]")
T0 = np.datetime64("2000-01-01T00:00", "ns")


def ref_assoc(t1, t2, lags, w):
    """PoPPy's pure-python path: per lag and per series-1 event, bisect the closed window in series 2."""
    p1 = sorted(int(x) for x in t1.astype(np.int64))
    p2 = sorted(int(x) for x in t2.astype(np.int64))
    lags = [int(x) for x in lags.astype(np.int64)]
    w = int(w)
    n_assoc = np.array(
        [[bisect.bisect_right(p2, t + u + w) - bisect.bisect_left(p2, t + u - w) for t in p1] for u in lags]
    )
    total = n_assoc.sum(axis=1)
    left, right = int(np.round(len(lags) * 0.2)), int(np.round(len(lags) * 0.8))
    asym = np.mean([np.mean(total[:left]), np.mean(total[right:])])
    expected = []
    for u in lags:
        start = max(p1[0] + u, p2[0]) - w
        stop = min(p1[-1] + u, p2[-1]) + w
        if stop > start:
            n1 = bisect.bisect_right(p1, stop - u) - bisect.bisect_left(p1, start - u)
            n2 = bisect.bisect_right(p2, stop) - bisect.bisect_left(p2, start)
            expected.append(2.0 * n1 * n2 * w / (stop - start))
        else:
            expected.append(0.0)
    return n_assoc, total, asym, np.array(expected)


def value_percentile(seq, target):
    """PoPPy's value_percentile, written from its definition (seq sorted ascending)."""
    lo = bisect.bisect_left(seq, target)
    hi = bisect.bisect_right(seq, target, lo=lo)
    if hi == 0:
        return 0.0
    if lo == len(seq):
        return 100.0
    if lo == hi:
        idx = lo - 1 + (target - seq[lo - 1]) / (seq[lo] - seq[lo - 1])
    else:
        idx = (lo + hi - 1) / 2
    return idx * 100.0 / (len(seq) - 1)


def test_counts_asymptote_expected_match_reference():
    rng = np.random.default_rng(1)
    t1 = T0 + rng.integers(0, 2000, 300) * np.timedelta64(60, "m") + rng.integers(0, 60, 300) * np.timedelta64(1, "m")
    t2 = np.sort(np.concatenate([t1[:150] + rng.integers(0, 5, 150) * H, T0 + rng.integers(0, 2000, 100) * H]))
    lags = np.arange(-24, 25) * H
    res = association(t1, t2, lags, "1h")
    n_assoc, total, asym, expected = ref_assoc(t1, t2, lags, H)
    np.testing.assert_array_equal(res.n_assoc.values, total)
    assert res.attrs["asymptotic_association"] == pytest.approx(asym)
    np.testing.assert_allclose(res.expected.values, expected, rtol=1e-12)
    np.testing.assert_array_equal(res.lag.values, lags)
    peak = res.lag.values[int(np.argmax(res.n_assoc.values))] / H
    assert 0 <= peak <= 4  # series 2 follows series 1 by 0-4 h
    # a DataArray of times (numpy- or dask-backed) and unsorted input give the same
    res2 = association(xr.DataArray(t1[::-1]), xr.DataArray(t2).chunk(50), lags, np.timedelta64(1, "h"))
    np.testing.assert_array_equal(res2.n_assoc.values, total)
    np.testing.assert_array_equal(association(t1, t2, [str(x) + "h" for x in range(-24, 25)], 3600).n_assoc, total)


def test_window_is_closed_on_both_ends():
    t1 = np.array([T0])
    t2 = np.array([T0 + 2 * H, T0 + 4 * H])
    res = association(t1, t2, np.array([0, 1, 3, 5, 6]) * H, "1h")
    # lag 1h: window [0h, 2h] contains 2h; lag 3h: [2h, 4h] contains both; lag 5h: [4h, 6h] one
    np.testing.assert_array_equal(res.n_assoc.values, [0, 1, 2, 1, 0])


def test_bootstrap_against_naive_resampling():
    rng = np.random.default_rng(2)
    t1 = T0 + np.sort(rng.integers(0, 5000, 400)) * H
    t2 = np.sort(np.concatenate([t1[::2] + 3 * H, T0 + rng.integers(0, 5000, 300) * H]))
    lags = np.arange(-30, 31) * H
    res = association(t1, t2, lags, "2h", n_boot=3000, ci=0.9, seed=5)
    again = association(t1, t2, lags, "2h", n_boot=3000, ci=0.9, seed=5)
    xr.testing.assert_identical(res, again)
    n_assoc, total, asym, _ = ref_assoc(t1, t2, lags, 2 * H)
    nrng = np.random.default_rng(99)
    for k in (0, 20, 33, 60):
        per_event = n_assoc[k]
        sums = np.sort(per_event[nrng.integers(0, per_event.size, (3000, per_event.size))].sum(axis=1))
        lo, hi = np.percentile(sums, [5, 95])
        width = hi - lo
        assert abs(res.ci_low.values[k] - lo) <= 0.1 * width + 1
        assert abs(res.ci_high.values[k] - hi) <= 0.1 * width + 1
        conf = 100 - value_percentile(list(sums), asym)
        assert abs(res.confidence_above_asymptote.values[k] - conf) < 5
    assert res.confidence_above_asymptote.values[33] == 100.0  # the peak at +3 h is far above
    assert (res.ci_low <= res.n_assoc + 1e-9).all() and (res.n_assoc <= res.ci_high + 1e-9).all()
    assert res.attrs["n_boot"] == 3000


def test_confidence_above_ties_follow_poppy_definition():
    # every event has exactly one partner at lag 0 and none elsewhere: all resampled totals are equal
    t1 = T0 + np.array([0, 100, 200]) * H
    res = association(t1, t1, np.arange(-5, 6) * H, "10min", n_boot=50, seed=1)
    np.testing.assert_array_equal(res.n_assoc.values, [0] * 5 + [3] + [0] * 5)
    assert res.attrs["asymptotic_association"] == 0.0
    reps_zero, reps_three = [0.0] * 50, [3.0] * 50
    expected = [100 - value_percentile(reps_zero, 0.0)] * 5 + [100 - value_percentile(reps_three, 0.0)] + [50.0] * 5
    np.testing.assert_allclose(res.confidence_above_asymptote.values, expected)
    assert res.confidence_above_asymptote.values[0] == 50.0 and res.confidence_above_asymptote.values[5] == 100.0
    np.testing.assert_array_equal(res.ci_low.values, res.n_assoc.values)


def test_apply_refractory():
    t = T0 + np.array([0, 30, 60, 119, 120, 300, 301], "timedelta64[m]")
    kept = apply_refractory(t[::-1], "2h")
    np.testing.assert_array_equal(kept, T0 + np.array([0, 120, 300], "timedelta64[m]"))
    assert apply_refractory(t[:1], "1h").size == 1  # PoPPy returns nothing for a single event


def test_bad_input():
    t = np.array([T0, T0 + H])
    with pytest.raises(InputError, match="'lags'"):
        association(t, t, np.array([1, 0]) * H, "1h")
    with pytest.raises(InputError, match="'times2'"):
        association(t, ["yesterday-ish"], np.array([0]) * H, "1h")
    with pytest.raises(InputError, match="'window'"):
        association(t, t, np.array([0]) * H, "a while")
    with pytest.raises(InputError, match="'ci'"):
        association(t, t, np.array([0]) * H, "1h", n_boot=10, ci=95)


def test_real_kp_onsets_vs_dst_minima(shared_data):
    from h5py import File

    import xspace

    qd = xspace.open_netcdf(shared_data / "omni" / "qindenton_hourly_1999-2001.h5")[["Kp", "Dst"]].load()
    onsets = find_events(qd.Kp, qd.Kp >= 5)
    minima = find_events(qd.Dst, qd.Dst < -50, at="min")
    with File(shared_data / "omni" / "qindenton_hourly_1999-2001.h5", "r") as f:
        kp = f["Kp"][:].astype(float)
        dst = f["Dst"][:].astype(float)
        times = np.array([np.datetime64(s.decode(), "ns") for s in f["UTC"][:]])
    # independent event lists: Kp crossing to >= 5; minimum of each run of Dst < -50 nT
    ref_on = times[1:][(kp[1:] >= 5) & (kp[:-1] < 5)]
    ref_min = []
    i = 0
    while i < dst.size:
        if dst[i] < -50:
            j = i
            while j < dst.size and dst[j] < -50:
                j += 1
            ref_min.append(times[i + int(np.argmin(dst[i:j]))])
            i = j
        else:
            i += 1
    np.testing.assert_array_equal(onsets.values, ref_on)
    np.testing.assert_array_equal(minima.values, np.array(ref_min))
    assert onsets.size > 50 and minima.size > 50
    lags = np.arange(-72, 73) * H
    res = association(onsets, minima, lags, "2h", n_boot=1000, seed=0)
    n_assoc, total, asym, expected = ref_assoc(ref_on, np.array(ref_min), lags, 2 * H)
    np.testing.assert_array_equal(res.n_assoc.values, total)
    np.testing.assert_allclose(res.expected.values, expected, rtol=1e-12)
    assert res.attrs["asymptotic_association"] == pytest.approx(asym)
    peak = int(np.argmax(res.n_assoc.values))
    assert 0 < res.lag.values[peak] / H <= 24  # the Dst minimum follows the Kp >= 5 onset
    assert res.n_assoc.values[peak] > 3 * asym
    assert res.confidence_above_asymptote.values[peak] == 100.0
    assert res.ci_low.values[peak] > asym
    # bootstrap against a naive numpy resampling of the per-onset numbers
    nrng = np.random.default_rng(4)
    for k in (0, 40, peak, 100, 144):
        sums = np.sort(n_assoc[k][nrng.integers(0, n_assoc.shape[1], (5000, n_assoc.shape[1]))].sum(axis=1))
        lo, hi = np.percentile(sums, [2.5, 97.5])
        tol = max(0.15 * (hi - lo), 1.0)
        assert abs(res.ci_low.values[k] - lo) <= tol and abs(res.ci_high.values[k] - hi) <= tol
        assert abs(res.confidence_above_asymptote.values[k] - (100 - value_percentile(list(sums), asym))) < 6


def test_binomial_samplers_of_the_bootstrap_kernel():
    from scipy import stats

    from xspace.analysis._sea_kernels import _binom_small, _binom_table

    lo, cdf = _binom_table(5000, 0.011)
    k = np.arange(lo, lo + cdf.size)
    np.testing.assert_allclose(cdf, stats.binom.cdf(k, 5000, 0.011), atol=1e-12)
    assert stats.binom.cdf(lo - 1, 5000, 0.011) < 1e-15 and cdf[-1] == 1.0

    from numba import njit

    @njit
    def draws(n, p, m, seed):
        np.random.seed(seed)
        out = np.empty(m, np.int64)
        for i in range(m):
            out[i] = _binom_small(n, p)
        return out

    for n, p in ((40, 0.1), (300, 0.97), (7, 0.5)):
        x = draws(n, p, 200_000, 3)
        freq = np.bincount(x, minlength=n + 1) / x.size
        np.testing.assert_allclose(freq, stats.binom.pmf(np.arange(n + 1), n, p), atol=0.004)
