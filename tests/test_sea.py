"""Superposed epoch analysis: every statistic against a straightforward numpy implementation written
here (SpacePy's algorithm: nearest sample by argmin, slice of consecutive samples), the edge rules,
the bootstrap against exact enumeration and a naive resampling bootstrap, dask laziness, and the real
stream-interface study on the bundled Qin-Denton data."""

from __future__ import annotations

import itertools

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

from xspace.analysis import sea
from xspace.analysis._sea_kernels import boot_median_positions, match_indices
from xspace.errors import AnalysisError, FileFormatError, InputError

H = np.timedelta64(3600, "s").astype("timedelta64[ns]")
T0 = np.datetime64("2001-01-01T00:00", "ns")


# ------------------------------------------------------------------ reference (plain numpy) SEA
def ref_matrix(times, y, epochs, window, delta, tolerance=None):
    """Straightforward SEA matrix: epochs outside the data dropped (inclusive edges); per lag the nearest
    sample to epoch + k*delta by argmin (first = earlier on ties), NaN if farther than the tolerance."""
    t = times.astype(np.int64)
    d = int(delta)
    w = -(-int(window) // d)
    tol = d // 2 if tolerance is None else int(tolerance)
    used, dropped, rows = [], [], []
    for e in epochs.astype(np.int64):
        if e - w * d < t[0] or e + w * d > t[-1]:
            dropped.append(e)
            continue
        used.append(e)
        row = []
        for k in range(-w, w + 1):
            target = e + k * d
            i = int(np.argmin(np.abs(t - target)))
            row.append(y[i] if abs(t[i] - target) <= tol else np.full(y.shape[1:], np.nan))
        rows.append(row)
    return np.array(rows, dtype=float), np.array(used), np.array(dropped), w


def ref_stats(mat):
    """mean, median, q25, q75, count per lag (axis 1) over non-NaN values; NaN/0 for empty lags."""
    out = []
    for k in range(mat.shape[1]):
        col = mat[:, k]
        flat = col.reshape(col.shape[0], -1)
        res = np.full((5, flat.shape[1]), np.nan)
        for c in range(flat.shape[1]):
            v = flat[:, c][~np.isnan(flat[:, c])]
            res[4, c] = v.size
            if v.size:
                res[0, c] = v.mean()
                res[1, c] = np.median(v)
                res[2, c], res[3, c] = np.percentile(v, [25, 75])
        out.append(res.reshape((5,) + col.shape[1:]))
    return np.stack(out, axis=1)  # (stat, lag, ...)


def hourly(n, ncomp=None, seed=0, nan_frac=0.05):
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(n) * H
    shape = (n,) if ncomp is None else (n, ncomp)
    y = rng.normal(size=shape).cumsum(axis=0)
    y[rng.random(shape) < nan_frac] = np.nan
    dims = ("time",) if ncomp is None else ("time", "component")
    coords = {"time": t} if ncomp is None else {"time": t, "component": ["x", "y", "z"][:ncomp]}
    return xr.DataArray(y, dims=dims, coords=coords, name="b", attrs={"UNITS": "nT", "CATDESC": "B field"})


# ------------------------------------------------------------------------------------ 1-D SEA
def test_statistics_match_reference_with_vector_components():
    da = hourly(500, ncomp=3)
    rng = np.random.default_rng(3)
    epochs = T0 + rng.integers(-20, 520, 40) * H + rng.integers(0, 3600, 40) * np.timedelta64(1, "s")
    res = sea.superposed_epoch(da, epochs, "10h")
    mat, used, dropped, w = ref_matrix(da.time.values, da.values, epochs, 10 * H, H)
    expected = ref_stats(mat)
    assert res.dims == ("statistic", "lag", "component")
    assert list(res.statistic.values) == ["mean", "median", "q25", "q75", "count"]
    assert res.sizes["lag"] == 2 * w + 1 == 21
    np.testing.assert_array_equal(res.lag.values, np.arange(-10, 11) * H)
    np.testing.assert_allclose(res.values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.attrs["epochs"].astype(np.int64), used)
    np.testing.assert_array_equal(res.attrs["epochs_dropped"].astype(np.int64), dropped)
    assert len(used) + len(dropped) == 40 and len(dropped) > 0
    assert res.attrs["UNITS"] == "nT" and "B field" in res.attrs["CATDESC"]
    assert list(res.component.values) == ["x", "y", "z"]
    # SpacePy's own rule on regular data: the epoch's nearest sample (argmin), then a slice of 2W+1
    _, m = sea.superposed_epoch(da, epochs, "10h", return_matrix=True)
    t = da.time.values.astype(np.int64)
    spacepy = np.stack([da.values[(j := int(np.argmin(np.abs(t - e)))) - 10:j + 11] for e in used])
    np.testing.assert_array_equal(m.values, spacepy)


def test_window_edges_are_inclusive_and_dropped_epochs_listed():
    da = hourly(100, nan_frac=0)
    first_ok = T0 + 5 * H  # epoch - 5h == t[0]
    last_ok = T0 + 94 * H  # epoch + 5h == t[-1]
    eps = np.array([first_ok, first_ok - np.timedelta64(1, "ns"), last_ok, last_ok + np.timedelta64(1, "ns")])
    res = sea.superposed_epoch(da, eps, "5h", "1h")
    np.testing.assert_array_equal(res.attrs["epochs"], [first_ok, last_ok])
    np.testing.assert_array_equal(res.attrs["epochs_dropped"], eps[[1, 3]])
    assert res.attrs["n_epochs"] == 2
    # the windows are the first 11 and the last 11 samples
    y = da.values
    np.testing.assert_allclose(res.sel(statistic="mean").values, (y[:11] + y[-11:]) / 2)


def test_window_is_rounded_up_to_whole_steps():
    da = hourly(60, nan_frac=0)
    res = sea.superposed_epoch(da, [T0 + 30 * H], "2.5h", "1h")
    assert res.sizes["lag"] == 7  # ceil(2.5) = 3 steps each side
    np.testing.assert_allclose(res.sel(statistic="median").values, da.values[27:34])


def test_exact_tie_goes_to_the_earlier_sample():
    da = hourly(50, nan_frac=0)
    half = T0 + 20 * H + H // 2  # exactly between samples 20 and 21
    res = sea.superposed_epoch(da, [half], "2h")
    np.testing.assert_allclose(res.sel(statistic="mean").values, da.values[18:23])
    later = half + np.timedelta64(1, "ns")
    res = sea.superposed_epoch(da, [later], "2h")
    np.testing.assert_allclose(res.sel(statistic="mean").values, da.values[19:24])


def test_empty_lags_give_nan_and_count_zero_and_small_lags_nan_ci():
    t = T0 + np.arange(40) * H
    y = np.arange(40.0)
    y[[8, 18, 28]] = np.nan  # lag -2 of every epoch is NaN
    y[[19, 29]] = np.nan  # lag -1: only one value left
    y[[30]] = np.nan  # lag 0: two values left
    da = xr.DataArray(y, coords={"time": t}, dims="time")
    res = sea.superposed_epoch(da, T0 + np.array([10, 20, 30]) * H, "2h", ci=0.9, seed=1)
    count = res.sel(statistic="count").values
    np.testing.assert_array_equal(count, [0, 1, 2, 3, 3])
    assert np.isnan(res.sel(statistic=["mean", "median", "q25", "q75"]).values[:, 0]).all()
    np.testing.assert_array_equal(res.sel(statistic="median").values[1:], [9.0, 15.0, 21.0, 22.0])
    ci = res.sel(statistic=["ci_low", "ci_high"]).values
    assert np.isnan(ci[:, :3]).all()  # <= 2 values: no CI (SpacePy crashes)
    assert np.isfinite(ci[:, 3:]).all()


def test_tolerance_masks_gaps_and_matches_reference():
    full = hourly(300, nan_frac=0.02, seed=5)
    keep = np.ones(300, bool)
    keep[100:107] = False  # a 7-hour gap
    keep[200] = False
    da = full.isel(time=keep)
    eps = T0 + np.array([95, 103, 110, 199, 250]) * H + np.timedelta64(10, "m")
    for tol in (None, 2 * H):
        res = sea.superposed_epoch(da, eps, "12h", "1h", tolerance=tol)
        mat, used, dropped, _ = ref_matrix(da.time.values, da.values, eps, 12 * H, H, tol)
        np.testing.assert_allclose(res.values, ref_stats(mat), rtol=1e-12)
    res = sea.superposed_epoch(da, eps, "12h", "1h")
    # default tolerance (delta/2): lags falling into the gap have fewer values
    assert res.sel(statistic="count").min() < len(eps)


def test_return_matrix_and_dataset_per_variable():
    da = hourly(200)
    ds = xr.Dataset({"b": da, "n": da * 2 + 1, "label": ("k", ["a", "b"])})
    eps = T0 + np.array([30, 60, 90, 150]) * H
    res, mat = sea.superposed_epoch(ds, eps, "8h", return_matrix=True)
    assert set(res.data_vars) == {"b", "n"} and set(mat.data_vars) == {"b", "n"}
    ref, _, _, _ = ref_matrix(da.time.values, da.values, eps, 8 * H, H)
    np.testing.assert_allclose(mat["b"].values, ref)
    np.testing.assert_array_equal(mat["b"].epoch.values, eps)
    xr.testing.assert_allclose(res["b"], sea.superposed_epoch(da, eps, "8h"))
    np.testing.assert_allclose(res["n"].sel(statistic="median"), 2 * res["b"].sel(statistic="median") + 1)
    np.testing.assert_array_equal(res.attrs["epochs"], eps)


def test_bootstrap_positions_follow_the_exact_bootstrap_distribution():
    # enumerate every resample of n sorted positions: probability of each (ia, ib) middle pair
    for n in (4, 5):
        exact = {}
        for draw in itertools.product(range(n), repeat=n):
            s = sorted(draw)
            key = (s[(n - 1) // 2], s[n // 2])
            exact[key] = exact.get(key, 0) + 1
        nb = 100_000
        pos = boot_median_positions(n, nb, 12345)
        keys, counts = np.unique(pos, axis=0, return_counts=True)
        got = {tuple(k): c / nb for k, c in zip(keys, counts)}
        assert set(got) <= set(exact)
        for key, c in exact.items():
            p = c / n**n
            assert abs(got.get(key, 0.0) - p) < 5 * np.sqrt(p * (1 - p) / nb) + 1e-4, (n, key)


def test_bootstrap_ci_agrees_with_naive_resampling():
    rng = np.random.default_rng(7)
    n_ep = 401
    t = T0 + np.arange(n_ep * 10) * H
    y = rng.lognormal(size=t.size)
    da = xr.DataArray(y, coords={"time": t}, dims="time")
    eps = t[5::10][: n_ep - 1]
    res = sea.superposed_epoch(da, eps, "1h", ci=0.95, n_boot=4000, seed=3)
    res_mean = sea.superposed_epoch(da, eps, "1h", ci=0.9, n_boot=4000, seed=3, ci_statistic="mean")
    _, mat = sea.superposed_epoch(da, eps, "1h", return_matrix=True)
    for k in range(3):
        x = mat.values[:, k]
        idx = np.random.default_rng(100 + k).integers(0, x.size, (4000, x.size))
        med = np.median(x[idx], axis=1)
        mean = x[idx].mean(axis=1)
        lo, hi = np.percentile(med, [2.5, 97.5])
        got = res.sel(statistic=["ci_low", "ci_high"]).values[:, k]
        width = hi - lo
        assert abs(got[0] - lo) < 0.1 * width and abs(got[1] - hi) < 0.1 * width
        lo, hi = np.percentile(mean, [5, 95])
        got = res_mean.sel(statistic=["ci_low", "ci_high"]).values[:, k]
        assert abs(got[0] - lo) < 0.1 * (hi - lo) and abs(got[1] - hi) < 0.1 * (hi - lo)
    assert res_mean.attrs["ci_statistic"] == "mean" and res.attrs["ci_level"] == 0.95


def test_seed_reproducible_and_dask_chunking_independent():
    da = hourly(400, ncomp=2)
    eps = T0 + np.arange(20, 380, 17) * H
    a = sea.superposed_epoch(da, eps, "6h", ci=0.95, seed=42)
    b = sea.superposed_epoch(da, eps, "6h", ci=0.95, seed=42)
    c = sea.superposed_epoch(da, eps, "6h", ci=0.95, seed=43)
    xr.testing.assert_identical(a, b)
    assert not np.allclose(a.sel(statistic="ci_low"), c.sel(statistic="ci_low"))
    for chunks in ({"time": 50}, {"time": 33, "component": 1}):
        d = sea.superposed_epoch(da.chunk(chunks), eps, "6h", ci=0.95, seed=42)
        assert isinstance(d.data, dsa.Array)
        xr.testing.assert_allclose(d.compute(), a)


class _Recorder:
    """Array-like recording which slices dask reads."""

    def __init__(self, arr):
        self.arr, self.shape, self.dtype, self.ndim = arr, arr.shape, arr.dtype, arr.ndim
        self.reads = []

    def __getitem__(self, key):
        self.reads.append(key)
        return self.arr[key]


def test_dask_input_reads_only_the_windows():
    n, chunk = 100_000, 1000
    rng = np.random.default_rng(0)
    y = rng.normal(size=n)
    t = T0 + np.arange(n) * np.timedelta64(60, "s")
    rec = _Recorder(y)
    arr = dsa.from_array(rec, chunks=chunk, meta=np.array((), dtype=float))
    da = xr.DataArray(arr, coords={"time": t}, dims="time")
    eps = t[[5_500, 42_100, 77_777]]  # +/- 600 samples: chunks 4-6, 41-42, 77-78 of 100
    calls = []

    def counting_get(dsk, keys, **kw):
        calls.append(1)
        return dask.get(dsk, keys, **kw)

    with dask.config.set(scheduler=counting_get):
        res, mat = sea.superposed_epoch(da, eps, "10h", "1min", return_matrix=True)
        assert calls == [] and rec.reads == []  # building the graph computed and read nothing
        out = res.compute()
    chunks_read = sorted({k[0].start // chunk for k in rec.reads})
    assert chunks_read == [4, 5, 6, 41, 42, 77, 78]
    expected = sea.superposed_epoch(xr.DataArray(y, coords={"time": t}, dims="time"), eps, "10h", "1min")
    xr.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(mat.values, np.stack([y[i - 600:i + 601] for i in (5_500, 42_100, 77_777)]))


def test_bad_input_raises_clear_errors():
    da = hourly(50)
    with pytest.raises(InputError, match="'window'"):
        sea.superposed_epoch(da, [T0 + 10 * H], "soon")
    with pytest.raises(InputError, match="'epochs'"):
        sea.superposed_epoch(da, ["not a time"], "2h")
    with pytest.raises(InputError, match="NaT"):
        sea.superposed_epoch(da, np.array(["NaT"], "datetime64[ns]"), "2h")
    with pytest.raises(AnalysisError, match="none of the 1 epochs"):
        sea.superposed_epoch(da, [T0 + 49 * H], "2h")
    with pytest.raises(InputError, match="'ci'"):
        sea.superposed_epoch(da, [T0 + 10 * H], "2h", ci=95)
    with pytest.raises(InputError, match="strictly increasing"):
        sea.superposed_epoch(da.isel(time=slice(None, None, -1)), [T0 + 10 * H], "2h")
    with pytest.raises(InputError, match="numeric"):
        sea.superposed_epoch(xr.Dataset({"s": da.astype(str)}), [T0 + 10 * H], "2h")
    with pytest.raises(InputError, match="no time dimension"):
        sea.superposed_epoch(xr.DataArray(np.zeros(3)), [T0], "2h")
    numeric_time = xr.DataArray(np.zeros(3), dims="t", coords={"t": [1.0, 2.0, 3.0]}, attrs={"DEPEND_0": "t"})
    with pytest.raises(InputError, match="datetime64 times are expected"):
        sea.superposed_epoch(numeric_time, [T0], "2h")
    with pytest.raises(InputError, match="'delta'"):
        sea.superposed_epoch(da, [T0 + 10 * H], "2h", "-1h")


def test_match_indices_kernel_against_reference():
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.integers(1, 5, 300)).astype(np.int64)  # irregular
    eps = rng.integers(20, 1000, 50).astype(np.int64)
    idx = match_indices(t, eps, 4, 3, 1)
    for e, row in zip(eps, idx):
        for k, i in zip(range(-4, 5), row):
            target = e + 3 * k
            best = int(np.argmin(np.abs(t - target)))
            assert i == (best if abs(t[best] - target) <= 1 else -1)


# ------------------------------------------------------------------------------------ 2-D SEA
def ref_2d(mat, ybins_of, n_bins, min_count):
    """mat (epoch, lag, row) values, ybins_of (epoch, lag, row) bin numbers -> mean, median, count."""
    out = np.full((3, mat.shape[1], n_bins), np.nan)
    for k in range(mat.shape[1]):
        for b in range(n_bins):
            v = mat[:, k][(ybins_of[:, k] == b) & ~np.isnan(mat[:, k])]
            out[2, k, b] = v.size
            if v.size >= min_count and v.size:
                out[0, k, b], out[1, k, b] = v.mean(), np.median(v)
    return out


def test_sea_2d_fixed_grid_and_time_varying_y():
    rng = np.random.default_rng(2)
    n, nl = 300, 6
    t = T0 + np.arange(n) * H
    L = np.linspace(3, 6.5, nl)
    flux = rng.lognormal(size=(n, nl))
    flux[rng.random(flux.shape) < 0.1] = np.nan
    da = xr.DataArray(flux, dims=("time", "L"), coords={"time": t, "L": L}, name="flux")
    eps = T0 + np.array([20, 80, 150, 151, 280]) * H
    edges = np.array([2.5, 4.0, 5.0, 7.0])
    res = sea.superposed_epoch_2d(da, eps, "5h", y="L", y_bins=edges, min_count=3)
    mat, used, _, _ = ref_matrix(t, flux, eps, 5 * H, H)
    rowbin = np.digitize(L, edges) - 1
    exp = ref_2d(mat, np.broadcast_to(rowbin, mat.shape), 3, 3)
    assert res.dims == ("statistic", "lag", "L_bin")
    np.testing.assert_allclose(res.values, exp, rtol=1e-12)
    np.testing.assert_allclose(res.L_bin.values, [3.25, 4.5, 6.0])
    assert np.isnan(res.sel(statistic="mean").values[res.sel(statistic="count").values < 3]).all()
    # dask-backed gives the same, and building it computes nothing
    calls = []

    def counting_get(dsk, keys, **kw):
        calls.append(1)
        return dask.get(dsk, keys, **kw)

    with dask.config.set(scheduler=counting_get):
        lazy = sea.superposed_epoch_2d(da.chunk({"time": 40}), eps, "5h", y="L", y_bins=edges, min_count=3)
        assert calls == [] and isinstance(lazy.data, dsa.Array)
        xr.testing.assert_allclose(lazy.compute(), res)
    assert calls
    # y varying with time (e.g. flux along an orbit): L(t) for a 1-D flux
    Lt = xr.DataArray(3 + 3 * np.abs(np.sin(np.arange(n) / 7.0)), dims="time", coords={"time": t}, name="Lstar")
    f1 = da.isel(L=0, drop=True).assign_coords(Lstar=Lt)
    res1 = sea.superposed_epoch_2d(f1, eps, "5h", y="Lstar", y_bins=edges)
    mat1, _, _, _ = ref_matrix(t, flux[:, 0], eps, 5 * H, H)
    lmat, _, _, _ = ref_matrix(t, Lt.values, eps, 5 * H, H)
    ybin = np.digitize(lmat, edges) - 1
    ybin[(lmat < edges[0]) | (lmat > edges[-1])] = -1
    np.testing.assert_allclose(res1.values, ref_2d(mat1[..., None], ybin[..., None], 3, 1), rtol=1e-12)
    with pytest.raises(InputError, match="'y_bins'"):
        sea.superposed_epoch_2d(da, eps, "5h", y="L", y_bins=[3, 2])
    with pytest.raises(InputError, match="'y'"):
        sea.superposed_epoch_2d(da, eps, "5h", y="energy", y_bins=edges)


# ------------------------------------------------------------------------------- sea_compare
def test_sea_compare_two_sided_pvalues():
    from scipy import stats

    rng = np.random.default_rng(4)
    lag = np.arange(-3, 4) * H
    a = rng.normal(size=(30, 7))
    b = rng.normal(size=(25, 7)) + np.linspace(-1, 1, 7)
    a[:, 0] = np.nan  # no values at the first lag
    b[3, 2] = np.nan
    A = xr.DataArray(a, dims=("epoch", "lag"), coords={"lag": lag})
    B = xr.DataArray(b, dims=("epoch", "lag"), coords={"lag": lag})
    ks = sea.sea_compare(A, B, "ks")
    mw = sea.sea_compare(A, B, "mannwhitney")
    assert np.isnan(ks.p_value[0]) and int(ks.n_a[0]) == 0
    for k in range(1, 7):
        x, z = a[:, k][~np.isnan(a[:, k])], b[:, k][~np.isnan(b[:, k])]
        # KS distance by hand: largest gap between the two empirical CDFs
        grid = np.sort(np.concatenate([x, z]))
        d = np.max(np.abs(np.searchsorted(np.sort(x), grid, "right") / x.size
                          - np.searchsorted(np.sort(z), grid, "right") / z.size))
        assert ks.statistic[k] == pytest.approx(d)
        assert ks.p_value[k] == pytest.approx(stats.ks_2samp(x, z).pvalue)
        # Mann-Whitney U by hand and its two-sided normal-approximation p-value (no ties here)
        u = np.sum(x[:, None] > z[None, :])
        assert mw.statistic[k] == pytest.approx(u)
        mu, sd = x.size * z.size / 2, np.sqrt(x.size * z.size * (x.size + z.size + 1) / 12)
        zz = (abs(u - mu) - 0.5) / sd
        from math import erfc, sqrt

        assert mw.p_value[k] == pytest.approx(erfc(zz / sqrt(2)), rel=1e-6)
        assert 0 <= mw.p_value[k] <= 1
    assert ks.p_value[6] < 0.01  # shifted by 1 sigma with 25-30 samples
    with pytest.raises(InputError, match="'test'"):
        sea.sea_compare(A, B, "t")
    # the (result, matrix) tuples of return_matrix=True are accepted; identical SEAs give p = 1
    da = hourly(300, seed=9)
    pair = sea.superposed_epoch(da, T0 + np.arange(20, 280, 13) * H, "4h", return_matrix=True)
    same = sea.sea_compare(pair, pair, "ks")
    np.testing.assert_allclose(same.p_value.values, 1.0)
    np.testing.assert_array_equal(same.n_a.values, pair[0].sel(statistic="count").values)


# ------------------------------------------------------------------------------ epoch helpers
def test_read_epochs_formats_and_errors(tmp_path):
    from xspace.data import get_path

    path = get_path("stream_interface_epochs.txt")
    ep = sea.read_epochs(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    expected = np.array(
        [np.datetime64(f"{a}-{b}-{c}T{d}:{e}:{f}", "ns") for a, b, c, d, e, f in lines], dtype="datetime64[ns]"
    )
    np.testing.assert_array_equal(ep, expected)
    assert ep.size == 67 and str(ep[-1]).startswith("2008")
    p = tmp_path / "iso.txt"
    p.write_text("# storms\n2001-03-31T05:00\n\n2001-04-11T23:00:30  # second\n")
    np.testing.assert_array_equal(
        sea.read_epochs(p), np.array(["2001-03-31T05:00", "2001-04-11T23:00:30"], "datetime64[ns]")
    )
    p.write_text("2001 03 31 05 00 00\n2001 03 31 xx 00 00\n")
    with pytest.raises(FileFormatError, match="line 2"):
        sea.read_epochs(p)
    with pytest.raises(FileFormatError, match="cannot read"):
        sea.read_epochs(tmp_path / "missing.txt")


def test_random_epochs_uniform_and_reproducible():
    from scipy import stats

    a = sea.random_epochs(2000, "2000-01-01", "2010-01-01", seed=5)
    np.testing.assert_array_equal(a, sea.random_epochs(2000, "2000-01-01", "2010-01-01", seed=5))
    assert a.dtype == "datetime64[ns]" and (np.diff(a) >= np.timedelta64(0)).all()
    lo, hi = np.datetime64("2000-01-01", "ns"), np.datetime64("2010-01-01", "ns")
    assert a[0] >= lo and a[-1] < hi
    u = (a - lo) / (hi - lo)
    assert stats.kstest(u, "uniform").pvalue > 0.01
    with pytest.raises(InputError, match="stop"):
        sea.random_epochs(3, "2001", "2000")


def test_find_events_onsets_minima_and_separation():
    t = T0 + np.arange(30) * H
    dst = np.zeros(30)
    dst[0:2] = -60  # under way at the start: not an onset
    dst[5:9] = [-55, -80, -120, -70]
    dst[12:14] = [-51, -52]
    dst[25:27] = [-90, -60]
    da = xr.DataArray(dst, coords={"time": t}, dims="time")
    on = sea.find_events(da, lambda x: x < -50)
    np.testing.assert_array_equal(on.values, t[[5, 12, 25]])
    np.testing.assert_array_equal(sea.find_events(da, da < -50, "7h").values, t[[5, 12, 25]])
    np.testing.assert_array_equal(sea.find_events(da, da < -50, "8h").values, t[[5, 25]])
    mins = sea.find_events(da, da < -50, at="min")
    np.testing.assert_array_equal(mins.values, t[[0, 7, 13, 25]])
    # ranked: largest |Dst| first, 10 h apart
    big = sea.find_events(da, da < -50, "10h", rank=-da, at="all")
    np.testing.assert_array_equal(big.values, t[[7, 25]])
    np.testing.assert_array_equal(big.score.values, [120, 90])
    with pytest.raises(InputError, match="'condition'"):
        sea.find_events(da, da.values < -50)


# ---------------------------------------------------------------- the real study (Qin-Denton)
QD_NAME = "qindenton_hourly_1999-2001.h5"


@pytest.fixture(scope="module")
def qd(shared_data):
    import xspace

    ds = xspace.open_netcdf(shared_data / "omni" / QD_NAME)
    return ds[["velo", "Kp", "Dst"]].load()


def ref_stream_interfaces(v):
    """12-h mean after minus 12-h mean before >= 100 km/s, largest first, >= 96 h apart (plain loops)."""
    n = v.size
    jump = np.full(n, np.nan)
    for i in range(12, n - 11):
        jump[i] = (v[i:i + 12].sum() - v[i - 12:i].sum()) / 12
    cand = [i for i in range(n) if jump[i] >= 100]
    cand.sort(key=lambda i: (-jump[i], i))
    kept = []
    for i in cand:
        if all(abs(i - k) >= 96 for k in kept):
            kept.append(i)
    return np.array(sorted(kept)), jump


def test_real_stream_interface_sea(qd, shared_data):
    from h5py import File

    import xspace  # noqa: F401

    v = qd["velo"]
    roll = v.astype(float).rolling(UTC=12).sum()
    jump = (roll.shift(UTC=-11) - roll.shift(UTC=1)) / 12
    ev = sea.find_events(v, jump >= 100, "96h", rank=jump, at="all")
    # independent: raw HDF5 values via h5py and plain loops
    with File(shared_data / "omni" / QD_NAME, "r") as f:
        velo = f["velo"][:].astype(float)
        kp = f["Kp"][:].astype(float)
        dst = f["Dst"][:].astype(float)
        times = np.array([np.datetime64(s.decode(), "ns") for s in f["UTC"][:]])
    ref_idx, ref_jump = ref_stream_interfaces(velo)
    np.testing.assert_array_equal(ev.values, times[ref_idx])
    np.testing.assert_allclose(ev.score.values, ref_jump[ref_idx])
    assert 30 <= ev.size <= 120  # a few stream interfaces per 27-day rotation, 2.3 years
    res, mat = qd.space.sea(ev, "3D", "1h", ci=0.95, seed=0, return_matrix=True)
    for name, y in (("velo", velo), ("Kp", kp), ("Dst", dst)):
        m, used, dropped, w = ref_matrix(times, y, ev.values, 72 * H, H)
        assert w == 72
        np.testing.assert_allclose(mat[name].values, m)
        np.testing.assert_allclose(res[name].sel(statistic=["mean", "median", "q25", "q75", "count"]).values,
                                   ref_stats(m), rtol=1e-12)
    np.testing.assert_array_equal(res.attrs["epochs_dropped"], times[ref_idx][~np.isin(times[ref_idx], res.attrs["epochs"])])
    med = res.sel(statistic="median")
    lag_h = res.lag.values / H
    before, after = (lag_h >= -36) & (lag_h <= -12), (lag_h >= 12) & (lag_h <= 36)
    # physics: the speed rises by ~100+ km/s across the interface, Kp rises, Dst dips after it
    assert med["velo"][after].mean() - med["velo"][before].mean() > 100
    assert med["Kp"][after].mean() > med["Kp"][before].mean() + 1
    assert med["Dst"][after].mean() < med["Dst"][before].mean() - 5
    assert 0 <= lag_h[int(np.argmax(med["Kp"].values))] <= 24
    assert 0 < lag_h[int(np.argmin(med["Dst"].values))] <= 48
    ci = res["velo"].sel(statistic=["ci_low", "ci_high"])
    assert (ci.sel(statistic="ci_low") <= med["velo"]).all() and (med["velo"] <= ci.sel(statistic="ci_high")).all()
    # the bootstrap CI of the median against a naive numpy bootstrap (20000 resamples), within
    # Monte Carlo noise: a quarter of the CI width or one speed unit (velo is integer km/s)
    nrng = np.random.default_rng(17)
    for k in (0, 60, 72, 84, 144):
        x = mat["velo"].values[:, k]
        x = x[~np.isnan(x)]
        meds = np.median(x[nrng.integers(0, x.size, (20000, x.size))], axis=1)
        lo, hi = np.percentile(meds, [2.5, 97.5])
        got = ci.values[:, k]
        assert abs(got[0] - lo) <= max(0.25 * (hi - lo), 1.0) and abs(got[1] - hi) <= max(0.25 * (hi - lo), 1.0)
    # the same file opened lazily (dask): same events, same result including the bootstrap CI
    lazy = xspace.open_netcdf(shared_data / "omni" / QD_NAME, chunks={"UTC": 2000})[["velo", "Kp", "Dst"]]
    ev_lazy = sea.find_events(lazy["velo"], jump >= 100, "96h", rank=jump, at="all")
    np.testing.assert_array_equal(ev_lazy.values, ev.values)
    res_lazy = lazy.space.sea(ev, "3D", "1h", ci=0.95, seed=0)
    assert isinstance(res_lazy["Dst"].data, dsa.Array)
    xr.testing.assert_allclose(res_lazy.compute(), res)


def test_demo_step_prints_table_and_writes_figures(tmp_path, capsys):
    from xspace.demo import STEPS, step_sea

    assert step_sea in STEPS
    step_sea(tmp_path)
    out = capsys.readouterr().out
    assert "stream interfaces found" in out and "association peaks at lag +" in out
    assert len([ln for ln in out.splitlines() if ln.strip().startswith(("-48", "0 ", "48"))]) >= 2
    for name in ("sea_stream_interfaces.png", "association_kp_dst.png"):
        assert (tmp_path / name).stat().st_size > 20_000


def test_order_statistics_kernel_small_and_tied_samples():
    from xspace.analysis._sea_kernels import order_stats

    rng = np.random.default_rng(8)
    out = np.empty(3)
    for m in list(range(1, 40)) + [100, 257, 1000]:
        for values in (rng.normal(size=m), rng.integers(0, 4, m).astype(float), np.full(m, 2.5)):
            a = values.copy()
            order_stats(a, m, out)
            np.testing.assert_allclose(out, np.percentile(values, [25, 50, 75]), rtol=1e-14, err_msg=str(m))
            assert out[1] == np.median(values)
