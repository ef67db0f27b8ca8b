"""Superposed epoch analysis (SEA) of xarray time series, after SpacePy's SeaPy.

The data around each epoch (a list of event times) are stacked on a common ``lag`` axis and summarised
per lag (mean, median, quartiles, count and optionally a bootstrap confidence interval of the median or
mean). Works on numpy- and dask-backed DataArrays and Datasets; for dask input only the samples inside
the epoch windows are read.

Semantics (SpacePy-compatible by default, see :func:`superposed_epoch`):

- ``W = ceil(window / delta)`` lag steps on each side, so ``2W + 1`` lags;
- an epoch is used only if ``epoch - W*delta >= t[0]`` and ``epoch + W*delta <= t[-1]`` (inclusive);
  the others are listed as dropped;
- the value at lag ``k`` is the sample nearest to ``epoch + k*delta`` (an exact tie goes to the earlier
  sample), without interpolation, or NaN if that sample is farther than ``tolerance`` (default
  ``delta / 2``) from that time; on regular data with ``delta`` equal to the cadence this is exactly
  SpacePy's rule (the epoch's nearest sample, tie to the earlier one, and the W samples on each side),
  while an epoch or lag falling in a data gap gets NaN instead of a shifted sample;
- statistics per lag over the non-NaN values; quartiles are numpy's "linear" percentiles; a lag
  without values has NaN statistics and count 0 (SpacePy crashes); a lag with 2 or fewer values has a
  NaN confidence interval.
"""

from __future__ import annotations

import os
from typing import Any, Hashable

import numpy as np
import xarray as xr

from .._utils import add_history, as_datetime64, as_timedelta, derived_attrs, time_dim
from ..errors import AnalysisError, FileFormatError, InputError

__all__ = [
    "superposed_epoch",
    "superposed_epoch_2d",
    "sea_compare",
    "read_epochs",
    "find_events",
    "random_epochs",
    "STATISTICS",
]

#: labels of the ``statistic`` dimension of a 1-D SEA result (``ci_low``/``ci_high`` only with ``ci``)
STATISTICS = ("mean", "median", "q25", "q75", "count", "ci_low", "ci_high")


# ----------------------------------------------------------------------------------------- helpers
def _is_dask(obj) -> bool:
    data = obj.data if isinstance(obj, (xr.DataArray, xr.Variable)) else None
    return data is not None and type(data).__module__.startswith("dask")


def _ns(td: np.timedelta64) -> int:
    return int(td.astype("timedelta64[ns]").astype(np.int64))


def _duration_ns(value: Any, name: str) -> int:
    """A duration argument in integer nanoseconds."""
    return _ns(as_timedelta(value, name))


def _fmt_td(ns: int) -> str:
    """Compact duration string that pandas parses back: '3D', '2h', '30min', '90s', '1500ms' ..."""
    ns = int(ns)
    for unit, size in (("D", 86400 * 10**9), ("h", 3600 * 10**9), ("min", 60 * 10**9), ("s", 10**9),
                       ("ms", 10**6), ("us", 10**3)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


class _Plan:
    """Times, lags and the (epoch, lag) -> sample index matrix shared by all variables."""

    def __init__(self, obj, epochs, window, delta, tolerance, name="obj"):
        self.tdim = time_dim(obj, name)
        index = obj.indexes[self.tdim] if self.tdim in obj.indexes else None
        if index is None:
            raise InputError(f"{name}: the time dimension {self.tdim!r} has no coordinate")
        if np.dtype(index.dtype).kind != "M":
            raise InputError(
                f"{name}: the time coordinate {self.tdim!r} has dtype {index.dtype}; datetime64 times are expected"
            )
        if not (index.is_monotonic_increasing and index.is_unique):
            raise InputError(
                f"{name}: the time coordinate {self.tdim!r} must be strictly increasing (sort it and drop duplicates)"
            )
        times = np.asarray(index.values).astype("datetime64[ns]", copy=False).view(np.int64)
        if times.size >= 2**31:  # sample indices are int32 (halves the memory of the epoch x lag index)
            raise InputError(f"{name}: more than 2**31 samples along {self.tdim!r}; select a time range first")
        if times.size < 2:
            raise InputError(f"{name}: at least 2 samples along {self.tdim!r} are needed, got {times.size}")
        if delta is None:
            d = int(np.median(np.diff(times)))
        else:
            d = _duration_ns(delta, "delta")
        if d <= 0:
            raise InputError(f"argument 'delta': the lag step must be positive, got {_fmt_td(d)}")
        w = _duration_ns(window, "window")
        if w < 0:
            raise InputError(f"argument 'window': the half-width must not be negative, got {_fmt_td(w)}")
        tol = d // 2 if tolerance is None else _duration_ns(tolerance, "tolerance")
        if tol < 0:
            raise InputError(f"argument 'tolerance' must not be negative, got {_fmt_td(tol)}")
        ep = as_datetime64(epochs, "epochs").ravel()
        if np.isnat(ep).any():
            raise InputError("argument 'epochs': contains NaT (missing times)")
        if ep.size == 0:
            raise InputError("argument 'epochs': no epochs given")
        n_side = -(-w // d)  # ceil(window / delta), exact in integers
        half = n_side * d
        e_ns = ep.view(np.int64)
        keep = (e_ns - half >= times[0]) & (e_ns + half <= times[-1])
        self.epochs = ep[keep]
        self.dropped = ep[~keep]
        if self.epochs.size == 0:
            raise AnalysisError(
                f"superposed_epoch: none of the {ep.size} epochs has its whole window (+/- {_fmt_td(half)}) "
                f"inside the data ({times[:1].view('datetime64[ns]')[0]} to {times[-1:].view('datetime64[ns]')[0]})"
            )
        from ._sea_kernels import match_indices

        self.idx = match_indices(times, self.epochs.view(np.int64), n_side, d, tol)
        self.n_side, self.delta, self.window, self.tolerance = n_side, d, w, tol
        self.lags = (np.arange(-n_side, n_side + 1, dtype=np.int64) * d).astype("timedelta64[ns]")

    def attrs(self) -> dict:
        return {
            "epochs": self.epochs,
            "epochs_dropped": self.dropped,
            "n_epochs": int(self.epochs.size),
            "window": _fmt_td(self.n_side * self.delta),
            "delta": _fmt_td(self.delta),
            "tolerance": _fmt_td(self.tolerance),
        }

    def local(self, da: xr.DataArray):
        """Data to index and the index matrix: for dask input only the samples in the windows."""
        if not _is_dask(da):
            return da, self.idx
        valid = self.idx >= 0
        needed, inverse = np.unique(self.idx[valid], return_inverse=True)
        local = np.full(self.idx.shape, -1, np.int32)
        local[valid] = inverse
        sub = da.isel({self.tdim: needed})  # lazy: only chunks holding window samples enter the graph
        return sub, local


def _check_numeric(da: xr.DataArray, name: Hashable) -> None:
    if da.dtype.kind not in "biuf":
        raise InputError(
            f"variable {name!r}: superposed epoch analysis needs numeric data, got dtype {da.dtype}; "
            "select the numeric variables first"
        )


def _sea_one(da, plan: _Plan, name, *, ci, n_boot, ci_mode, seeds, return_matrix):
    from ._sea_kernels import sea_stats

    _check_numeric(da, name)
    tdim = plan.tdim
    sub, idx = plan.local(da)
    n_stat = 7 if ci_mode else 5
    n_lag = idx.shape[1]
    q_low = 50.0 * (1.0 - ci) if ci else 0.0
    q_high = 100.0 - q_low if ci else 0.0

    def kernel(arr):
        shape = arr.shape[:-1]
        y = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1, arr.shape[-1])
        out = sea_stats(y, idx, n_boot, ci_mode, q_low, q_high, seeds)
        return out.reshape(shape + (n_stat, n_lag))

    if _is_dask(sub):
        sub = sub.chunk({tdim: -1})
    res = xr.apply_ufunc(
        kernel,
        sub,
        input_core_dims=[[tdim]],
        output_core_dims=[["statistic", "lag"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"statistic": n_stat, "lag": n_lag}},
        keep_attrs=False,
    )
    extra = [d for d in da.dims if d != tdim]
    res = res.transpose("statistic", "lag", *extra)
    res = res.assign_coords(statistic=list(STATISTICS[:n_stat]), lag=plan.lags)
    label = da.attrs.get("CATDESC") or da.attrs.get("FIELDNAM") or name
    attrs = derived_attrs(
        da.attrs,
        catdesc=f"Superposed epoch statistics of {label}",
        history=f"superposed_epoch: {plan.epochs.size} epochs, window {_fmt_td(plan.n_side * plan.delta)}, "
        f"delta {_fmt_td(plan.delta)}",
        keep=("DISPLAY_TYPE", "SI_conversion", "LABLAXIS", "FIELDNAM", "SCALETYP"),
    )
    attrs.pop("DEPEND_0", None)
    attrs.update(plan.attrs())
    if ci:
        attrs.update(ci_level=ci, ci_statistic="median" if ci_mode == 1 else "mean", n_boot=int(n_boot))
    res.attrs = attrs
    res.name = name
    matrix = None
    if return_matrix:
        safe = np.where(idx >= 0, idx, 0)
        picked = sub.isel({tdim: xr.DataArray(safe, dims=("epoch", "lag"))}).astype(np.float64)
        matrix = picked.where(xr.DataArray(idx >= 0, dims=("epoch", "lag")))
        matrix = matrix.drop_vars(tdim, errors="ignore").transpose("epoch", "lag", *extra)
        matrix = matrix.assign_coords(epoch=plan.epochs, lag=plan.lags)
        matrix.attrs = derived_attrs(
            da.attrs, catdesc=f"{label} around each epoch", keep=("DISPLAY_TYPE", "LABLAXIS", "FIELDNAM")
        )
        matrix.name = name
    return res, matrix


# -------------------------------------------------------------------------------------- 1-D SEA
def superposed_epoch(
    obj: xr.DataArray | xr.Dataset,
    epochs: Any,
    window: Any,
    delta: Any = None,
    *,
    ci: float | None = None,
    n_boot: int = 800,
    ci_statistic: str = "median",
    seed: Any = None,
    tolerance: Any = None,
    return_matrix: bool = False,
):
    """Superposed epoch analysis of a time series around a set of epochs.

    Parameters
    ----------
    obj : DataArray or Dataset
        Time series with a datetime64 time dimension (found from ``DEPEND_0`` or the dtype); other
        dimensions (vector components, energies ...) are kept and analysed separately. For a Dataset,
        every data variable with the time dimension is analysed. numpy or dask backed; cast to float64.
    epochs : array of datetime64, list of datetimes/ISO strings, or DataArray of times
        Event times (zero epoch). Order is kept.
    window : timedelta, str or number of seconds
        Half-width of the window, e.g. ``"3D"``; rounded up to whole lag steps:
        ``W = ceil(window / delta)``.
    delta : timedelta, str or number of seconds, optional
        Lag step; default the median cadence of the data.
    ci : float, optional
        Confidence level (0 < ci < 1, e.g. 0.95) of a bootstrap confidence interval; adds the
        ``ci_low`` and ``ci_high`` statistics. NaN where a lag has 2 or fewer values.
    n_boot : int, default 800
        Number of bootstrap resamples (as SpacePy).
    ci_statistic : {"median", "mean"}
        Statistic whose confidence interval is bootstrapped. The median's resamples are drawn without
        materialising them (fast); the mean's cost ``n_boot`` x (values per lag) random draws per lag.
    seed : int or numpy.random.Generator, optional
        Makes the bootstrap reproducible (``numpy.random.default_rng(seed)``); the result does not
        depend on dask chunking.
    tolerance : timedelta or str, optional
        A lag whose nearest sample is farther than this from its time ``epoch + k*delta`` gets NaN
        (gaps in the data). Default ``delta / 2``: on regular data sampled at ``delta`` nothing is
        masked, and the result is SpacePy's.
    return_matrix : bool
        Also return the (epoch, lag, ...) matrix of the values that went into the statistics.

    Returns
    -------
    DataArray or Dataset
        Dimensions ``statistic`` (``mean``, ``median``, ``q25``, ``q75``, ``count`` [, ``ci_low``,
        ``ci_high``]), ``lag`` (timedelta64, 2W+1 values) and the non-time dimensions of the input.
        ``attrs["epochs"]`` and ``attrs["epochs_dropped"]`` list the epochs used and those whose window
        did not fit in the data. With ``return_matrix=True``, a tuple ``(result, matrix)``.
        Lazy (dask-backed) when the input is.

    Raises
    ------
    InputError
        Bad arguments (unparseable times or durations, unsorted time axis, non-numeric variables).
    AnalysisError
        If no epoch has its whole window inside the data.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange("2020-01-01", "2020-01-11", dtype="datetime64[h]").astype("datetime64[ns]")
    >>> da = xr.DataArray(np.arange(t.size, dtype=float), coords={"time": t}, dims="time")
    >>> res = superposed_epoch(da, ["2020-01-03", "2020-01-05T12:00", "2020-01-10T22:00"], "2h")
    >>> res.sel(statistic="median").values
    array([76., 77., 78., 79., 80.])
    >>> res.sel(statistic="count").values
    array([2., 2., 2., 2., 2.])
    >>> [str(t) for t in res.attrs["epochs_dropped"]]
    ['2020-01-10T22:00:00.000000000']
    """
    if ci is not None and not (isinstance(ci, (float, int)) and 0 < ci < 1):
        raise InputError(f"argument 'ci': a confidence level between 0 and 1 (e.g. 0.95) is expected, got {ci!r}")
    if ci_statistic not in ("median", "mean"):
        raise InputError(f"argument 'ci_statistic': expected 'median' or 'mean', got {ci_statistic!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InputError(f"argument 'n_boot': a positive integer is expected, got {n_boot!r}")
    if not isinstance(obj, (xr.DataArray, xr.Dataset)):
        raise InputError(f"argument 'obj': an xarray DataArray or Dataset is expected, got {type(obj).__name__}")
    plan = _Plan(obj, epochs, window, delta, tolerance, "obj")
    ci_mode = 0 if ci is None else (1 if ci_statistic == "median" else 2)
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**32, size=plan.lags.size, dtype=np.int64)
    kw = dict(ci=ci, n_boot=int(n_boot), ci_mode=ci_mode, seeds=seeds, return_matrix=return_matrix)
    if isinstance(obj, xr.DataArray):
        res, matrix = _sea_one(obj, plan, obj.name, **kw)
        return (res, matrix) if return_matrix else res
    results, matrices = {}, {}
    for name, var in obj.data_vars.items():
        if plan.tdim not in var.dims:
            continue
        results[name], matrices[name] = _sea_one(var, plan, name, **kw)
    if not results:
        raise InputError(f"argument 'obj': no data variable has the time dimension {plan.tdim!r}")
    out = xr.Dataset(results, attrs=add_history({**plan.attrs()}, "superposed_epoch"))
    if return_matrix:
        return out, xr.Dataset(matrices)
    return out


# -------------------------------------------------------------------------------------- 2-D SEA
def superposed_epoch_2d(
    da: xr.DataArray,
    epochs: Any,
    window: Any,
    delta: Any = None,
    *,
    y: str | xr.DataArray,
    y_bins: Any,
    min_count: int = 1,
    tolerance: Any = None,
) -> xr.DataArray:
    """Two-dimensional superposed epoch analysis: statistics per (lag, y-bin).

    For data with a second coordinate ``y``, e.g. a flux on an L grid (``y`` along a second
    dimension), an energy spectrum, or a flux measured along an orbit (``y`` varying with time). All
    values falling in a y-bin at a lag, over all epochs, are pooled.

    Parameters
    ----------
    da : DataArray
        Time series with a time dimension and at most one other dimension. numpy or dask backed.
    epochs, window, delta, tolerance
        As in :func:`superposed_epoch` (same epoch and lag rules).
    y : str or DataArray
        Name of a coordinate of ``da`` (or a DataArray) giving the y value of each element: its
        dimensions are a subset of ``da``'s (e.g. ``("L",)``, ``("time",)`` or ``("time", "L")``).
    y_bins : array-like
        Increasing bin edges; bins are ``[e_i, e_i+1)``, the last one closed. Values outside (or NaN)
        are ignored.
    min_count : int, default 1
        Mean and median are NaN where fewer values than this fell into the (lag, bin) cell.

    Returns
    -------
    DataArray
        Dimensions ``statistic`` (``mean``, ``median``, ``count``), ``lag`` and ``<y>_bin`` (bin
        centres, with ``<y>_bin_low`` / ``<y>_bin_high`` edge coordinates). Lazy for dask input.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange("2020-01-01", "2020-01-03", dtype="datetime64[h]").astype("datetime64[ns]")
    >>> L = np.array([3.0, 4.0, 5.0, 6.0])
    >>> flux = xr.DataArray(np.add.outer(np.arange(t.size), 10 * L), coords={"time": t, "L": L},
    ...                     dims=("time", "L"))
    >>> res = superposed_epoch_2d(flux, ["2020-01-01T12", "2020-01-02T00"], "1h", y="L", y_bins=[2.5, 4.5, 6.5])
    >>> res.sel(statistic="mean").values
    array([[52., 72.],
           [53., 73.],
           [54., 74.]])
    >>> res.sel(statistic="count").values[0]
    array([4., 4.])
    """
    from ._sea_kernels import sea2d_stats

    if not isinstance(da, xr.DataArray):
        raise InputError(f"argument 'da': a DataArray is expected, got {type(da).__name__}")
    _check_numeric(da, da.name)
    plan = _Plan(da, epochs, window, delta, tolerance, "da")
    tdim = plan.tdim
    others = [d for d in da.dims if d != tdim]
    if len(others) > 1:
        raise InputError(
            f"argument 'da': at most one dimension besides {tdim!r} is supported, got {list(da.dims)}; "
            "select or reduce the others first"
        )
    if isinstance(y, str):
        if y not in da.coords:
            raise InputError(f"argument 'y': {y!r} is not a coordinate of da (coordinates: {list(da.coords)})")
        yname, yda = y, da.coords[y]
    elif isinstance(y, xr.DataArray):
        yname, yda = (y.name or "y"), y
    else:
        raise InputError(f"argument 'y': a coordinate name or a DataArray is expected, got {type(y).__name__}")
    if not set(yda.dims) <= set(da.dims) or not yda.dims:
        raise InputError(f"argument 'y': its dimensions {yda.dims} must be a non-empty subset of da's {da.dims}")
    edges = np.asarray(y_bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise InputError("argument 'y_bins': at least two strictly increasing bin edges are expected")
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise InputError(f"argument 'min_count': a positive integer is expected, got {min_count!r}")
    n_bins = edges.size - 1
    n_lag = plan.lags.size
    y_has_time = tdim in yda.dims
    y_core = [d for d in (tdim, *others) if d in yda.dims]

    if _is_dask(da) or _is_dask(yda):
        valid = plan.idx >= 0
        needed, inverse = np.unique(plan.idx[valid], return_inverse=True)
        idx = np.full(plan.idx.shape, -1, np.int32)
        idx[valid] = inverse
        data = da.isel({tdim: needed}).chunk({d: -1 for d in da.dims})
        yv = yda.isel({tdim: needed}) if y_has_time else yda
        yv = yv.chunk({d: -1 for d in yv.dims})
    else:
        idx, data, yv = plan.idx, da, yda

    def kernel(arr, yarr):
        y2 = np.asarray(arr, dtype=np.float64)
        if y2.ndim == 1:
            y2 = y2[:, None]
        y2 = np.ascontiguousarray(y2)
        yy = np.asarray(yarr, dtype=np.float64)
        if not y_has_time:
            yy = yy.reshape(1, -1)
        elif yy.ndim == 1:
            yy = yy[:, None]
        b = np.searchsorted(edges, yy, side="right") - 1
        b[yy == edges[-1]] = n_bins - 1
        b[(b < 0) | (b >= n_bins) | np.isnan(yy)] = -1
        b = np.ascontiguousarray(np.broadcast_to(b, (b.shape[0], y2.shape[1])), dtype=np.int64)
        out = sea2d_stats(y2, b, idx, n_bins)
        low = out[2] < min_count
        out[0][low] = np.nan
        out[1][low] = np.nan
        return out

    bdim = f"{yname}_bin"
    res = xr.apply_ufunc(
        kernel,
        data,
        yv,
        input_core_dims=[[tdim, *others], y_core],
        output_core_dims=[["statistic", "lag", bdim]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"statistic": 3, "lag": n_lag, bdim: n_bins}},
        keep_attrs=False,
    )
    centres = 0.5 * (edges[:-1] + edges[1:])
    res = res.assign_coords(
        statistic=["mean", "median", "count"],
        lag=plan.lags,
        **{bdim: centres, f"{bdim}_low": (bdim, edges[:-1]), f"{bdim}_high": (bdim, edges[1:])},
    )
    label = da.attrs.get("CATDESC") or da.attrs.get("FIELDNAM") or da.name
    attrs = derived_attrs(
        da.attrs,
        catdesc=f"2-D superposed epoch statistics of {label} binned by {yname}",
        history=f"superposed_epoch_2d: {plan.epochs.size} epochs, {n_bins} bins of {yname}",
        keep=("SI_conversion", "LABLAXIS", "FIELDNAM", "SCALETYP"),
    )
    attrs.pop("DEPEND_0", None)
    attrs.update(plan.attrs(), min_count=int(min_count), y_bins=edges)
    res.attrs = attrs
    res.name = da.name
    return res


# ------------------------------------------------------------------------------- comparing SEAs
def sea_compare(a: xr.DataArray, b: xr.DataArray, test: str = "ks") -> xr.Dataset:
    """Per-lag two-sample test between two superposed epoch matrices.

    Parameters
    ----------
    a, b : DataArray or tuple
        Epoch x lag matrices as returned by ``superposed_epoch(..., return_matrix=True)`` (dimensions
        ``epoch`` and ``lag``, plus any others, equal in both), or the ``(result, matrix)`` tuples that
        call returns. Loaded into memory.
    test : {"ks", "mannwhitney"}
        Two-sample Kolmogorov-Smirnov or Mann-Whitney U test, both two-sided (p-values are those of
        :func:`scipy.stats.ks_2samp` / :func:`scipy.stats.mannwhitneyu` with
        ``alternative="two-sided"``; SpacePy doubled the already two-sided KS p-value).

    Returns
    -------
    Dataset
        ``statistic`` and ``p_value`` per lag (NaN where either sample has no value), with
        ``n_a`` and ``n_b``, the numbers of values compared.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> lag = np.array([0, 1], "timedelta64[h]").astype("timedelta64[ns]")
    >>> a = xr.DataArray([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], dims=("epoch", "lag"), coords={"lag": lag})
    >>> b = xr.DataArray([[1.5, 10.0], [2.5, 11.0], [3.5, 12.0]], dims=("epoch", "lag"), coords={"lag": lag})
    >>> res = sea_compare(a, b, test="ks")
    >>> res["statistic"].values, res["p_value"].values.round(3)
    (array([0.33333333, 1.        ]), array([1. , 0.1]))
    """
    from scipy import stats

    a = a[1] if isinstance(a, tuple) and len(a) == 2 else a
    b = b[1] if isinstance(b, tuple) and len(b) == 2 else b
    for nm, m in (("a", a), ("b", b)):
        if not isinstance(m, xr.DataArray) or "epoch" not in m.dims or "lag" not in m.dims:
            raise InputError(f"argument {nm!r}: an (epoch, lag) matrix DataArray is expected (use return_matrix=True)")
    if test not in ("ks", "mannwhitney"):
        raise InputError(f"argument 'test': expected 'ks' or 'mannwhitney', got {test!r}")
    if a.sizes["lag"] != b.sizes["lag"] or not np.array_equal(a["lag"].values, b["lag"].values):
        raise InputError("arguments 'a' and 'b': the lag coordinates differ; use the same window and delta")
    extra = [d for d in a.dims if d not in ("epoch", "lag")]
    if sorted(extra) != sorted(d for d in b.dims if d not in ("epoch", "lag")):
        raise InputError(f"arguments 'a' and 'b': dimensions differ ({a.dims} vs {b.dims})")
    av = np.asarray(a.transpose("lag", *extra, "epoch").values, dtype=np.float64)
    bv = np.asarray(b.transpose("lag", *extra, "epoch").values, dtype=np.float64)
    shape = av.shape[:-1]
    av = av.reshape(-1, av.shape[-1])
    bv = bv.reshape(-1, bv.shape[-1])
    stat = np.full(av.shape[0], np.nan)
    pval = np.full(av.shape[0], np.nan)
    na = np.zeros(av.shape[0], np.int64)
    nb = np.zeros(av.shape[0], np.int64)
    for i in range(av.shape[0]):
        x = av[i][~np.isnan(av[i])]
        z = bv[i][~np.isnan(bv[i])]
        na[i], nb[i] = x.size, z.size
        if x.size == 0 or z.size == 0:
            continue
        if test == "ks":
            r = stats.ks_2samp(x, z, alternative="two-sided")
        else:
            r = stats.mannwhitneyu(x, z, alternative="two-sided")
        stat[i], pval[i] = r.statistic, r.pvalue
    dims = ("lag", *extra)
    coords = {k: v for k, v in a.coords.items() if set(v.dims) <= set(dims)}
    name = "Kolmogorov-Smirnov D" if test == "ks" else "Mann-Whitney U"
    return xr.Dataset(
        {
            "statistic": (dims, stat.reshape(shape), {"long_name": name}),
            "p_value": (dims, pval.reshape(shape), {"long_name": "two-sided p-value"}),
            "n_a": (dims, na.reshape(shape)),
            "n_b": (dims, nb.reshape(shape)),
        },
        coords=coords,
        attrs={"test": test, "alternative": "two-sided"},
    )


# -------------------------------------------------------------------------------- epoch helpers
def read_epochs(path: str | os.PathLike) -> np.ndarray:
    """Read epoch times from a text file.

    One time per line, either ``YYYY MM DD hh mm ss`` (seconds may be fractional; the SpacePy/SeaPy
    format) or ISO 8601 (``2005-01-02T04:00:00``). Blank lines and ``#`` comments are ignored.

    Returns
    -------
    numpy.ndarray of datetime64[ns]

    Raises
    ------
    FileFormatError
        If the file is missing or a line is neither format (the message gives the line number).

    Examples
    --------
    >>> from xspace.data import get_path
    >>> ep = read_epochs(get_path("stream_interface_epochs.txt"))
    >>> ep.size, str(ep[0])
    (67, '2005-01-02T04:00:00.000000000')
    """
    import pandas as pd

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except OSError as exc:
        raise FileFormatError(f"read_epochs: cannot read {path!r}: {exc}") from exc
    out = []
    for no, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        try:
            if len(parts) == 6:
                y, mo, d, h, mi = (int(p) for p in parts[:5])
                sec = float(parts[5])
                ts = pd.Timestamp(year=y, month=mo, day=d, hour=h, minute=mi) + pd.Timedelta(seconds=sec)
            elif len(parts) == 1:
                ts = pd.Timestamp(parts[0])
                if ts.tzinfo is not None:
                    ts = ts.tz_convert("UTC").tz_localize(None)
            else:
                raise ValueError("wrong number of fields")
        except (ValueError, TypeError, OverflowError) as exc:
            raise FileFormatError(
                f"read_epochs: {path}, line {no}: cannot parse {text!r} as 'YYYY MM DD hh mm ss' or ISO 8601 ({exc})"
            ) from exc
        out.append(ts.to_datetime64())
    return np.array(out, dtype="datetime64[ns]")


def random_epochs(n: int, start: Any, stop: Any, seed: Any = None) -> np.ndarray:
    """``n`` random epochs, uniform in ``[start, stop)``, sorted (for a null distribution).

    Examples
    --------
    >>> ep = random_epochs(3, "2000-01-01", "2000-02-01", seed=1)
    >>> ep.dtype, bool((ep >= np.datetime64("2000-01-01")).all() and (np.diff(ep) >= np.timedelta64(0)).all())
    (dtype('<M8[ns]'), True)
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"argument 'n': a non-negative integer is expected, got {n!r}")
    t0 = int(as_datetime64(start, "start")[0].view(np.int64))
    t1 = int(as_datetime64(stop, "stop")[0].view(np.int64))
    if not t1 > t0:
        raise InputError(f"arguments 'start' and 'stop': stop ({stop!r}) must be after start ({start!r})")
    rng = np.random.default_rng(seed)
    return np.sort(rng.integers(t0, t1, size=n, dtype=np.int64)).view("datetime64[ns]")


def _greedy_separated(times: np.ndarray, order: np.ndarray, sep: int) -> np.ndarray:
    """Keep candidates in ``order``, each at least ``sep`` ns from every one kept before."""
    import bisect

    kept: list[int] = []
    for i in order:
        t = int(times[i])
        p = bisect.bisect_left(kept, t)
        if p < len(kept) and kept[p] - t < sep:
            continue
        if p > 0 and t - kept[p - 1] < sep:
            continue
        kept.insert(p, t)
    return np.array(kept, dtype=np.int64)


def find_events(
    da: xr.DataArray,
    condition: Any,
    min_separation: Any = None,
    *,
    rank: xr.DataArray | None = None,
    at: str = "onset",
) -> xr.DataArray:
    """Event times where a condition holds, e.g. onsets of ``Dst < -50`` nT.

    Parameters
    ----------
    da : DataArray
        Time series (its time dimension defines the samples).
    condition : DataArray of bool or callable
        Boolean series on the same time axis, or a function ``f(da)`` returning one
        (e.g. ``lambda x: x < -50``). Loaded into memory.
    min_separation : timedelta or str, optional
        Events closer than this to an already selected event are dropped (kept when the separation is
        exactly ``min_separation``).
    rank : DataArray, optional
        Score of each sample (same time axis). Without it, events are selected in time order (a
        refractory period); with it, largest score first (e.g. the biggest speed jumps).
    at : {"onset", "min", "max", "all"}, default "onset"
        Candidates: the first sample of each run of samples where the condition holds (a run already
        under way at the first sample is not an onset), the sample of the run where ``da`` is smallest
        (``"min"``, e.g. the Dst minimum of a storm) or largest (``"max"``) (first one on ties), or every
        sample where it holds (``"all"``).

    Returns
    -------
    DataArray
        Event times (datetime64, dimension ``event``, in time order); with ``rank``, its values at the
        events as coordinate ``score``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange("2000-01-01", "2000-01-02", dtype="datetime64[h]").astype("datetime64[ns]")
    >>> dst = xr.DataArray(np.where((np.arange(24) % 8) < 3, -80.0, -10.0), coords={"time": t}, dims="time")
    >>> ev = find_events(dst, lambda x: x < -50)
    >>> [str(v)[11:16] for v in ev.values]
    ['08:00', '16:00']
    >>> find_events(dst, lambda x: x < -50, "9h").size
    1
    >>> [str(v)[11:16] for v in find_events(dst, lambda x: x < -50, at="min").values]
    ['00:00', '08:00', '16:00']
    """
    if not isinstance(da, xr.DataArray):
        raise InputError(f"argument 'da': a DataArray is expected, got {type(da).__name__}")
    tdim = time_dim(da, "da")
    cond = condition(da) if callable(condition) else condition
    if not isinstance(cond, xr.DataArray) or cond.dims != (tdim,):
        raise InputError(
            f"argument 'condition': a boolean DataArray along {tdim!r} (or a function returning one) is expected"
        )
    if cond.dtype != bool:
        raise InputError(f"argument 'condition': boolean values are expected, got dtype {cond.dtype}")
    c = np.asarray(cond.values, dtype=bool)
    if cond.sizes[tdim] != da.sizes[tdim]:
        raise InputError(f"argument 'condition': {cond.sizes[tdim]} samples, but da has {da.sizes[tdim]}")
    times = np.asarray(da[tdim].values).astype("datetime64[ns]", copy=False).view(np.int64)
    if at not in ("onset", "min", "max", "all"):
        raise InputError(f"argument 'at': expected 'onset', 'min', 'max' or 'all', got {at!r}")
    if at == "all":
        cand = np.flatnonzero(c)
    else:
        starts = np.flatnonzero(c & ~np.concatenate([[False], c[:-1]]))
        if at == "onset":
            cand = starts[starts > 0]
        else:
            stops = np.flatnonzero(c & ~np.concatenate([c[1:], [False]])) + 1
            values = np.asarray(da.values, dtype=np.float64)  # loads da
            values = np.where(np.isnan(values), np.inf if at == "min" else -np.inf, values)
            pick = np.argmin if at == "min" else np.argmax
            cand = np.array([s + pick(values[s:e]) for s, e in zip(starts, stops)], dtype=np.int64)
    sep = 0 if min_separation is None else _duration_ns(min_separation, "min_separation")
    score = None
    if rank is not None:
        if not isinstance(rank, xr.DataArray) or rank.dims != (tdim,) or rank.sizes[tdim] != c.size:
            raise InputError(f"argument 'rank': a DataArray along {tdim!r} with {c.size} samples is expected")
        rv = np.asarray(rank.values, dtype=np.float64)
        cand = cand[~np.isnan(rv[cand])]
        order = cand[np.argsort(-rv[cand], kind="stable")]
    else:
        order = cand
    kept = _greedy_separated(times, order, sep) if sep > 0 else np.sort(times[cand])
    out = xr.DataArray(kept.view("datetime64[ns]"), dims="event", name="event_time")
    if rank is not None:
        pos = np.searchsorted(times, kept)
        out = out.assign_coords(score=("event", rv[pos]))
    out.attrs = {"CATDESC": "event times", "min_separation": _fmt_td(sep), "n_candidates": int(cand.size)}
    return out
