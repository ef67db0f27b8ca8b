"""Time-series basics and filters on xarray objects with a datetime64 time dimension.

Every function takes a DataArray (most also a Dataset), finds the time dimension from the ISTP
``DEPEND_0`` attribute or the datetime64 dtype (:func:`xspace._utils.time_dim`), works on numpy- and
dask-backed data (dask inputs stay lazy: nothing is computed until the caller asks), and returns a
new object with ISTP attributes that stay true (new ``UNITS``/``CATDESC``, ``VAR_TYPE="data"``, a
``history`` line).

Functions: :func:`clip`, :func:`gaps`, :func:`bin_mean`, :func:`bin_median`, :func:`interp_like`,
:func:`deriv`, :func:`running_mean`, :func:`running_median`, :func:`despike`, :func:`detrend`, the
vector helpers :func:`magnitude`, :func:`dot`, :func:`cross`, :func:`angle_between`,
:func:`normalize`, the attribute-keeping :func:`apply` / :func:`power`, and the Butterworth filters
:func:`lowpass`, :func:`highpass`, :func:`bandpass`, :func:`bandstop`.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xspace.analysis import signal
>>> t = np.datetime64("2022-01-01") + np.arange(6) * np.timedelta64(10, "s")
>>> da = xr.DataArray([1.0, 2, 3, 4, 5, 6], dims="Epoch", coords={"Epoch": t}, attrs={"UNITS": "nT"})
>>> signal.deriv(da).values  # per second, always
array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._utils import add_history, as_datetime64, as_timedelta, derived_attrs, time_dim
from ..errors import InputError

__all__ = [
    "clip",
    "gaps",
    "bin_mean",
    "bin_median",
    "interp_like",
    "deriv",
    "running_mean",
    "running_median",
    "despike",
    "detrend",
    "magnitude",
    "dot",
    "cross",
    "angle_between",
    "normalize",
    "apply",
    "power",
    "lowpass",
    "highpass",
    "bandpass",
    "bandstop",
    "segments",
]

#: attributes that stay true when values change but the variable keeps its meaning and dimensions
KEEP_SAME_DIMS = ("DEPEND_0", "DEPEND_1", "DEPEND_2", "LABL_PTR_1", "LABL_PTR_2", "DISPLAY_TYPE",
                  "COORDINATE_SYSTEM", "SI_conversion", "SI_conv")
#: attributes that stay true when the component dimension is dropped
KEEP_SCALAR = ("DEPEND_0", "SI_conversion", "SI_conv")

DEFAULT_GAP_FACTOR = 1.5


# ----------------------------------------------------------------------------- small helpers
def _is_dask(data) -> bool:
    try:
        import dask.array as dsa
    except ImportError:  # pragma: no cover
        return False
    return isinstance(data, dsa.Array)


def _name(obj, name=None) -> str:
    if name:
        return name
    n = getattr(obj, "name", None)
    return f"variable {n!r}" if n is not None else "data"


def _check_obj(obj, name="data", dataset_ok=True):
    kinds = (xr.DataArray, xr.Dataset) if dataset_ok else (xr.DataArray,)
    if not isinstance(obj, kinds):
        expected = "an xarray DataArray or Dataset" if dataset_ok else "an xarray DataArray"
        raise InputError(f"argument {name!r}: expected {expected}, got {type(obj).__name__}")
    return time_dim(obj, name=_name(obj) if name == "data" else name)


def _times_ns(obj, dim) -> np.ndarray:
    """The time coordinate as int64 nanoseconds (index coordinates are always in memory)."""
    t = np.asarray(obj[dim].values)
    if t.dtype.kind != "M":
        raise InputError(f"time dimension {dim!r}: expected datetime64 values, got dtype {t.dtype}")
    t = t.astype("datetime64[ns]", copy=False).view("int64")
    if t.size > 1 and not _step_range(t)[0]:
        raise InputError(
            f"time dimension {dim!r}: times must be strictly increasing (sort and drop duplicates first, "
            "e.g. obj.sortby(dim).drop_duplicates(dim))"
        )
    return t


def _step_range(t):
    """(strictly increasing, min step, max step); numba for long series, numpy for short ones."""
    if t.size < 4096:
        d = np.diff(t)
        return (bool(np.all(d > 0)) if d.size else True), (int(d.min()) if d.size else 0), (int(d.max()) if d.size else 0)
    from ._signal_kernels import time_step_range

    ok, lo, hi = time_step_range(np.ascontiguousarray(t))
    return bool(ok), int(lo), int(hi)


def _cadence_ns(t: np.ndarray, dim) -> float:
    """Median time step (ns); a one-pass check first, as exactly regular series are common."""
    if t.size < 2:
        raise InputError(f"time dimension {dim!r}: at least 2 samples are needed to know the cadence")
    _, lo, hi = _step_range(t)
    if lo == hi:
        return float(lo)
    return float(np.median(np.diff(t)))


def segments(obj, gap_factor: float = DEFAULT_GAP_FACTOR, max_gap=None) -> list[tuple[int, int]]:
    """Index ranges ``(start, stop)`` of the continuous segments of ``obj`` (split at gaps).

    A gap is a time step larger than ``max_gap`` (default ``gap_factor`` × the median cadence).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2020-01-01") + np.array([0, 1, 2, 10, 11], "timedelta64[s]")
    >>> segments(xr.DataArray(np.zeros(5), dims="time", coords={"time": t}))
    [(0, 3), (3, 5)]
    """
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    return _segments_from_times(t, _max_gap_ns(t, dim, max_gap, gap_factor))


def _max_gap_ns(t, dim, max_gap, gap_factor) -> float:
    if max_gap is not None:
        return float(as_timedelta(max_gap, "max_gap").astype("int64"))
    if not (isinstance(gap_factor, (int, float)) and gap_factor > 1):
        raise InputError(f"argument 'gap_factor': expected a number > 1, got {gap_factor!r}")
    return gap_factor * _cadence_ns(t, dim)


def _segments_from_times(t, max_gap_ns) -> list[tuple[int, int]]:
    if t.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t) > max_gap_ns) + 1
    edges = np.concatenate([[0], breaks, [t.size]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _seconds(obj, dim) -> xr.DataArray:
    t = _times_ns(obj, dim)
    return xr.DataArray((t - t[0]) / 1e9 if t.size else t.astype(float), dims=dim, coords={dim: obj[dim]})


def _with_attrs(out, source, **kw):
    """Set derived ISTP attributes on a DataArray or on every variable of a Dataset."""
    keep = kw.pop("keep", KEEP_SAME_DIMS)
    if isinstance(out, xr.Dataset):
        for k in out.data_vars:
            src = source[k].attrs if isinstance(source, xr.Dataset) and k in source else {}
            out[k].attrs = derived_attrs(src, keep=keep, **kw)
        out.attrs = add_history(dict(source.attrs), kw["history"]) if kw.get("history") else dict(source.attrs)
        return out
    out.attrs = derived_attrs(source.attrs, keep=keep, **kw)
    return out


def _time_vars(ds: xr.Dataset, dim) -> list:
    return [k for k, v in ds.data_vars.items() if dim in v.dims]


def _numeric(v: xr.DataArray) -> bool:
    return v.dtype.kind in "biuf"


# ----------------------------------------------------------------------------- clip / gaps
def clip(obj, start=None, stop=None):
    """Select the closed interval ``start <= t <= stop``.

    Time-dependent coordinates (and, for a Dataset, every variable on the time dimension) are
    clipped too; nothing is loaded.

    Parameters
    ----------
    obj : DataArray or Dataset
    start, stop : datetime-like or None
        Interval ends (inclusive); ``None`` means open.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(5) * np.timedelta64(1, "h")
    >>> da = xr.DataArray(np.arange(5.0), dims="Epoch", coords={"Epoch": t})
    >>> clip(da, "2022-01-01T01", "2022-01-01T03").values
    array([1., 2., 3.])
    """
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    lo = 0 if start is None else int(np.searchsorted(t, as_datetime64(start, "start")[0].view("int64"), "left"))
    hi = t.size if stop is None else int(np.searchsorted(t, as_datetime64(stop, "stop")[0].view("int64"), "right"))
    if start is not None and stop is not None and as_datetime64(stop, "stop")[0] < as_datetime64(start, "start")[0]:
        raise InputError(f"clip: 'stop' ({stop}) is before 'start' ({start})")
    return obj.isel({dim: slice(lo, max(lo, hi))})


def gaps(obj, max_gap=None, gap_factor: float = DEFAULT_GAP_FACTOR) -> list[tuple[np.datetime64, np.datetime64]]:
    """List the data gaps: pairs (last time before, first time after) of every step > ``max_gap``.

    Parameters
    ----------
    max_gap : duration, optional
        Threshold; default ``gap_factor`` (1.5) × the median cadence.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.array([0, 60, 120, 600, 660], "timedelta64[s]")
    >>> gaps(xr.DataArray(np.zeros(5), dims="Epoch", coords={"Epoch": t}))
    [(np.datetime64('2022-01-01T00:02:00.000000000'), np.datetime64('2022-01-01T00:10:00.000000000'))]
    """
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    segs = _segments_from_times(t, _max_gap_ns(t, dim, max_gap, gap_factor))
    tt = t.view("datetime64[ns]")
    return [(tt[a - 1], tt[a]) for a, _ in segs[1:]]


# ----------------------------------------------------------------------------- bin averages
def _bin_layout(t, cadence_ns, origin_ns):
    idx = (t - origin_ns) // cadence_ns
    nbins = int(idx[-1] - idx[0] + 1) if t.size else 0
    first = int(idx[0]) if t.size else 0
    local = idx - first
    starts = np.searchsorted(local, np.arange(nbins), "left")
    stops = np.searchsorted(local, np.arange(nbins), "right")
    return first, nbins, starts, stops


def _bin_block(x, starts, stops, how):
    """Reduce a (n, ...) block over time bins -> (2, nbins, ...) stacked (value, count)."""
    x = np.asarray(x)
    shape = x.shape
    x2 = x.reshape(shape[0], -1).astype(np.float64, copy=False)
    finite = np.isfinite(x2)
    nb = starts.size
    nonempty = stops > starts
    count = np.zeros((nb, x2.shape[1]))
    val = np.full((nb, x2.shape[1]), np.nan)
    if nonempty.any():
        s = starts[nonempty]
        count[nonempty] = np.add.reduceat(finite, s, axis=0)
        if how == "mean":
            sums = np.add.reduceat(np.where(finite, x2, 0.0), s, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                v = sums / count[nonempty]
            v[count[nonempty] == 0] = np.nan
            val[nonempty] = v
        else:
            from ._signal_kernels import bin_nanmedian

            val = bin_nanmedian(np.ascontiguousarray(x2), starts.astype(np.int64), stops.astype(np.int64))
    return np.stack([val.reshape((nb,) + shape[1:]), count.reshape((nb,) + shape[1:])])


def _bin_array(data, axis, t, cadence_ns, origin_ns, how):
    """Bin an array along ``axis`` (numpy or dask). Returns (values, counts) with the bin axis first."""
    first, nbins, starts, stops = _bin_layout(t, cadence_ns, origin_ns)
    data = np.moveaxis(data, axis, 0) if not _is_dask(data) else data.transpose(
        (axis,) + tuple(i for i in range(data.ndim) if i != axis)
    )
    if not _is_dask(data):
        out = _bin_block(data, starts, stops, how)
        return out[0], out[1], first, nbins
    import dask.array as dsa

    # chunk boundaries moved onto bin starts, so no bin straddles two blocks
    wanted = np.cumsum(data.chunks[0])[:-1]
    bin_of = np.searchsorted(stops, wanted, "right")  # bin containing sample `wanted`
    bin_bounds = np.unique(np.concatenate([[0], bin_of[(bin_of > 0) & (bin_of < nbins)], [nbins]]))
    sample_bounds = np.concatenate([starts[bin_bounds[:-1]], [t.size]])
    sample_bounds[0] = 0
    in_chunks = tuple(int(c) for c in np.diff(sample_bounds))
    out_chunks = tuple(int(c) for c in np.diff(bin_bounds))
    data = data.rechunk((in_chunks,) + data.chunks[1:])
    if data.ndim > 1:
        data = data.rechunk({i: -1 for i in range(1, data.ndim)})

    def block(x, block_info=None):
        i = block_info[0]["chunk-location"][0]
        b0, b1 = bin_bounds[i], bin_bounds[i + 1]
        s0 = sample_bounds[i]
        return _bin_block(x, starts[b0:b1] - s0, stops[b0:b1] - s0, how)

    out = dsa.map_blocks(block, data, dtype=np.float64, chunks=((2,), out_chunks) + data.chunks[1:],
                         new_axis=0)
    return out[0], out[1], first, nbins


def _bin(obj, cadence, origin, how):
    dim = _check_obj(obj)
    cad = as_timedelta(cadence, "cadence")
    cad_ns = int(cad.astype("int64"))
    if cad_ns <= 0:
        raise InputError(f"argument 'cadence': expected a positive duration, got {cadence!r}")
    t = _times_ns(obj, dim)
    if t.size == 0:
        raise InputError(f"{_name(obj)}: no samples to bin")
    origin_ns = 0 if origin is None else int(as_datetime64(origin, "origin")[0].view("int64"))
    first = None

    def do(v: xr.DataArray):
        nonlocal first
        axis = v.dims.index(dim)
        vals, counts, first_, nb = _bin_array(v.data, axis, t, cad_ns, origin_ns, how)
        first = (first_, nb)
        dims = (dim,) + tuple(d for d in v.dims if d != dim)
        other = {k: c for k, c in v.coords.items() if dim not in c.dims}
        return (xr.DataArray(vals, dims=dims, coords=other).transpose(*v.dims),
                xr.DataArray(counts, dims=dims, coords=other).transpose(*v.dims))

    def centres():
        f, nb = first
        return ((origin_ns + (f + np.arange(nb)) * cad_ns + cad_ns // 2).astype("datetime64[ns]"))

    hist = f"xspace.analysis.signal.bin_{how}(cadence={cadence!r})"
    what = "Mean" if how == "mean" else "Median"
    if isinstance(obj, xr.DataArray):
        val, cnt = do(obj.astype(float) if obj.dtype.kind in "biu" else obj)
        time_coords = {}
        for k, c in obj.coords.items():
            if dim in c.dims and k != dim and _numeric(c):
                time_coords[k] = do(xr.DataArray(c.variable.to_base_variable()))[0]
        val = val.assign_coords({dim: centres()})
        cnt = cnt.assign_coords({dim: centres()})
        for k, c in time_coords.items():
            val = val.assign_coords({k: c.assign_coords({dim: centres()}) if dim in c.dims else c})
        val = val.assign_coords(count=cnt.astype(np.int64))
        val.name = obj.name
        val.attrs = derived_attrs(obj.attrs, keep=KEEP_SAME_DIMS,
                                  catdesc=f"{what} over {cadence} bins of {obj.attrs.get('CATDESC', obj.name or 'data')}",
                                  history=hist)
        val.coords["count"].attrs = {"CATDESC": "number of finite samples averaged in the bin", "UNITS": " ",
                                    "VAR_TYPE": "support_data"}
        return val
    out = {}
    for k, v in obj.data_vars.items():
        if dim not in v.dims or not _numeric(v):
            if dim not in v.dims:
                out[k] = v
            continue
        val, cnt = do(v.astype(float) if v.dtype.kind in "biu" else v)
        val.attrs = derived_attrs(v.attrs, keep=KEEP_SAME_DIMS,
                                  catdesc=f"{what} over {cadence} bins of {v.attrs.get('CATDESC', k)}", history=hist)
        out[k] = val.assign_coords({dim: centres()})
        out[f"{k}_count"] = cnt.astype(np.int64).assign_coords({dim: centres()})
        out[f"{k}_count"].attrs = {"CATDESC": f"number of finite samples of {k} in the bin",
                                   "VAR_TYPE": "support_data", "DEPEND_0": dim}
    coords = {}
    for k, c in obj.coords.items():
        if dim in c.dims and k != dim and _numeric(c):
            coords[k] = do(xr.DataArray(c.variable))[0].assign_coords({dim: centres()})
    res = xr.Dataset(out, attrs=add_history(dict(obj.attrs), hist))
    return res.assign_coords(coords) if coords else res


def bin_mean(obj, cadence, origin=None):
    """NaN-aware mean over fixed time bins, labelled at the bin centres.

    Bins are ``[origin + k·cadence, origin + (k+1)·cadence)`` (``origin`` default: the Unix epoch,
    so 1-minute bins start on whole minutes). Every bin between the first and the last sample is
    returned; bins without finite samples are NaN with count 0. The number of finite samples per
    bin comes as a ``count`` coordinate (DataArray) or ``<name>_count`` variables (Dataset).
    Numeric time-dependent coordinates are averaged too; in a Dataset, non-numeric variables on the
    time dimension (strings, times) cannot be averaged and are left out. dask inputs stay lazy
    (chunks are moved onto bin boundaries).

    Parameters
    ----------
    obj : DataArray or Dataset
    cadence : duration (``"1min"``, ``numpy.timedelta64``, seconds)
    origin : datetime-like, optional

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(6) * np.timedelta64(20, "s")
    >>> da = xr.DataArray([1.0, 2.0, np.nan, 4.0, 5.0, 6.0], dims="Epoch", coords={"Epoch": t})
    >>> m = bin_mean(da, "1min")
    >>> m.values, m["count"].values
    (array([1.5, 5. ]), array([2, 3]))
    >>> str(m.Epoch.values[0])
    '2022-01-01T00:00:30.000000000'
    """
    return _bin(obj, cadence, origin, "mean")


def bin_median(obj, cadence, origin=None):
    """NaN-aware median over fixed time bins; same layout as :func:`bin_mean`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(6) * np.timedelta64(20, "s")
    >>> da = xr.DataArray([1.0, 2.0, 9.0, 4.0, 5.0, 60.0], dims="Epoch", coords={"Epoch": t})
    >>> bin_median(da, "1min").values
    array([2., 5.])
    """
    return _bin(obj, cadence, origin, "median")


# ----------------------------------------------------------------------------- interpolation
def interp_like(obj, other, method: str = "linear", max_gap=None, gap_factor: float = DEFAULT_GAP_FACTOR,
                period: float | None = None):
    """Interpolate onto the times of ``other`` without ever bridging a data gap.

    A target time gets a value only when it coincides with a sample, or lies between two samples
    at most ``max_gap`` apart (default ``gap_factor`` × the median cadence of ``obj``); otherwise,
    and outside the data, the result is NaN. NaN samples are never treated as zero: a linear
    interpolant touching a NaN sample is NaN.

    Parameters
    ----------
    other : DataArray, Dataset or times
        Target time base. With an xarray object the result's time dimension takes ``other``'s name.
    method : {"linear", "nearest", "previous", "cubic"}
        ``cubic`` is a natural cubic spline per continuous segment (it loads the time axis of a dask
        array into one chunk).
    period : float, optional
        Interpolate a cyclic quantity along the shorter arc: 360 for angles in degrees, 24 for MLT.

    Numeric time-dependent coordinates are interpolated too; in a Dataset, non-numeric variables on
    the time dimension are left out. A numpy-backed DataArray with sorted target times takes a
    one-pass numba path; Datasets and dask arrays an equivalent lazy xarray path.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.array([0, 60, 120, 600], "timedelta64[s]")
    >>> da = xr.DataArray([0.0, 6.0, 12.0, 60.0], dims="Epoch", coords={"Epoch": t})
    >>> new = np.datetime64("2022-01-01") + np.array([30, 90, 300], "timedelta64[s]")
    >>> interp_like(da, new).values          # 300 s lies inside the 120-600 s gap
    array([ 3.,  9., nan])
    >>> mlt = xr.DataArray([23.0, 1.0], dims="Epoch", coords={"Epoch": t[:2]})
    >>> interp_like(mlt, new[:1], period=24).values
    array([0.])
    """
    dim = _check_obj(obj)
    methods = ("linear", "nearest", "previous", "cubic")
    if method not in methods:
        raise InputError(f"argument 'method': expected one of {methods}, got {method!r}")
    if isinstance(other, (xr.DataArray, xr.Dataset)):
        odim = time_dim(other, name="argument 'other'")
        target = np.asarray(other[odim].values).astype("datetime64[ns]")
    elif isinstance(other, np.ndarray) and other.dtype.kind == "M":
        odim = dim
        target = np.atleast_1d(other).astype("datetime64[ns]", copy=False)
    else:
        odim = dim
        target = as_datetime64(other, "other")
    src = _times_ns(obj, dim)
    dst = target.view("int64")
    gap = _max_gap_ns(src, dim, max_gap, gap_factor) if src.size > 1 else 0.0
    n = src.size
    if n == 0:
        raise InputError(f"{_name(obj)}: no samples to interpolate from")
    hist = f"xspace.analysis.signal.interp_like(method={method!r})"
    new_t = xr.DataArray(target, dims=odim)
    if (isinstance(obj, xr.DataArray) and not _is_dask(obj.data) and method != "cubic" and _numeric(obj)
            and (dst.size < 2 or _step_range(dst)[1] >= 0)):
        return _interp_fast(obj, dim, odim, src, dst, target, gap, method, period, hist)
    left = np.searchsorted(src, dst, "right") - 1
    exact = (left >= 0) & (src[np.clip(left, 0, n - 1)] == dst)
    inside = (left >= 0) & (left < n - 1)
    right = np.clip(left + 1, 0, n - 1)
    leftc = np.clip(left, 0, n - 1)
    span = (src[right] - src[leftc]).astype(float)
    valid = exact | (inside & (span <= gap))
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(exact | ~inside, 0.0, (dst - src[leftc]) / np.where(span > 0, span, 1.0))

    if isinstance(obj, xr.DataArray):
        name = obj.name
        ds = obj.to_dataset(name="__xspace_value__")
    else:
        ds = obj
    tcoords = [k for k, c in ds.coords.items() if dim in c.dims and k != dim and _numeric(c)]
    ds = ds.reset_coords(tcoords)
    keep_vars = [k for k, v in ds.data_vars.items() if dim not in v.dims]
    tvars = [k for k, v in ds.data_vars.items() if dim in v.dims and _numeric(v)]
    work = ds[tvars].drop_vars(dim)
    valid_da = xr.DataArray(valid, dims=dim)

    if method == "cubic":
        out = _cubic(work, dim, src, dst, valid, gap)
    else:
        if method == "previous":
            idx = leftc
        elif method == "nearest":
            idx = np.where((w > 0.5) & ~exact, right, leftc)
        else:
            idx = leftc
        a = work.isel({dim: xr.DataArray(idx, dims=dim)})
        if method == "linear":
            b = work.isel({dim: xr.DataArray(right, dims=dim)})
            wd = xr.DataArray(w, dims=dim)
            diff = b - a
            if period is not None:
                diff = (diff + period / 2) % period - period / 2
            out = a + xr.where(wd > 0, wd * diff, 0.0)
        else:
            out = a
        if period is not None:
            out = out % period
    out = out.where(valid_da)
    out = out.assign_coords({dim: target}) if dim == odim else out.rename({dim: odim}).assign_coords({odim: new_t})
    for k in tvars:
        out[k].attrs = derived_attrs(ds[k].attrs, keep=KEEP_SAME_DIMS, history=hist)
        if "DEPEND_0" in out[k].attrs:
            out[k].attrs["DEPEND_0"] = odim
    for k in keep_vars:
        out[k] = ds[k]
    out = out.set_coords([k for k in tcoords if k in out])
    if isinstance(obj, xr.DataArray):
        res = out["__xspace_value__"]
        res.name = name
        return res
    out.attrs = add_history(dict(obj.attrs), hist)
    return out


def _interp_fast(obj, dim, odim, src, dst, target, gap, method, period, hist):
    """numpy-backed DataArray, sorted targets: one numba merge pass (same results as the general path)."""
    from ._signal_kernels import interp_sorted

    code = {"linear": 0, "previous": 1, "nearest": 2}[method]

    def run(v, per):
        axis = v.dims.index(dim)
        x = np.moveaxis(np.asarray(v.values, dtype=np.float64), axis, 0)
        shape = x.shape
        res = interp_sorted(src, dst, np.ascontiguousarray(x.reshape(shape[0], -1)), float(gap), code,
                            float(per) if per else 0.0)
        return np.moveaxis(res.reshape((dst.size,) + shape[1:]), 0, axis)

    dims = tuple(odim if d == dim else d for d in obj.dims)
    coords = {}
    for k, c in obj.coords.items():
        if k == dim:
            continue
        if dim in c.dims:
            if _numeric(c):
                coords[k] = (tuple(odim if d == dim else d for d in c.dims), run(c, None), c.attrs)
            continue
        coords[k] = c
    coords[odim] = target
    out = xr.DataArray(run(obj, period), dims=dims, coords=coords, name=obj.name)
    out.attrs = derived_attrs(obj.attrs, keep=KEEP_SAME_DIMS, history=hist)
    if "DEPEND_0" in out.attrs:
        out.attrs["DEPEND_0"] = odim
    return out


def _cubic(work: xr.Dataset, dim, src, dst, valid, gap):
    from scipy.interpolate import CubicSpline

    segs = _segments_from_times(src, gap)

    def kernel(y):
        y = np.asarray(y, dtype=float)
        out = np.full(y.shape[:-1] + (dst.size,), np.nan)
        for a, b in segs:
            sel = (dst >= src[a]) & (dst <= src[b - 1]) & valid
            if not sel.any():
                continue
            ys = y[..., a:b]
            if b - a < 2:
                out[..., sel] = ys[..., :1]
                continue
            ok = np.all(np.isfinite(ys), axis=tuple(range(ys.ndim - 1))) if ys.ndim > 1 else np.isfinite(ys)
            xs = (src[a:b] - src[a]) / 1e9
            if ok.sum() < 2:
                continue
            spl = CubicSpline(xs[ok], ys[..., ok], axis=-1, bc_type="natural")
            out[..., sel] = spl((dst[sel] - src[a]) / 1e9)
        return out

    return xr.apply_ufunc(kernel, work, input_core_dims=[[dim]], output_core_dims=[["__new__"]],
                          exclude_dims={dim}, dask="parallelized", output_dtypes=[float],
                          dask_gufunc_kwargs={"output_sizes": {"__new__": dst.size}, "allow_rechunk": True},
                          keep_attrs=True).rename({"__new__": dim})


# ----------------------------------------------------------------------------- derivative, running
def deriv(obj, max_gap=None, gap_factor: float = DEFAULT_GAP_FACTOR):
    """Time derivative per second (never per nanosecond).

    The mean of the backward and forward difference quotients (the centred difference on a regular
    grid; one-sided at segment ends). Differences across a gap (> ``max_gap``, default 1.5 × the
    median cadence) or touching a NaN are not used; a sample with none left is NaN. Units become
    ``<UNITS>/s``. On a Dataset every numeric variable on the time dimension is differentiated.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.array([0, 2, 4, 100], "timedelta64[s]")
    >>> da = xr.DataArray([0.0, 4.0, 8.0, 9.0], dims="Epoch", coords={"Epoch": t}, attrs={"UNITS": "nT"})
    >>> d = deriv(da)
    >>> d.values, d.attrs["UNITS"]
    (array([ 2.,  2.,  2., nan]), 'nT/s')
    """
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    gap = _max_gap_ns(t, dim, max_gap, gap_factor)
    dt = np.diff(t) / 1e9
    fwd_dt = np.concatenate([dt, [np.nan]])
    fwd_dt[:-1][np.diff(t) > gap] = np.nan
    fwd_dt = xr.DataArray(fwd_dt, dims=dim)
    hist = "xspace.analysis.signal.deriv()"

    def one(v):
        x = xr.DataArray(v.variable.to_base_variable())
        fwd = (x.shift({dim: -1}) - x) / fwd_dt
        bwd = fwd.shift({dim: 1})
        out = xr.concat([fwd, bwd], dim="__pair__").mean("__pair__", skipna=True)
        out = out.transpose(*v.dims).assign_coords(v.coords)
        out.name = v.name
        units = v.attrs.get("UNITS")
        out.attrs = derived_attrs(v.attrs, keep=KEEP_SAME_DIMS,
                                  units=f"{units}/s" if units and units.strip() else "1/s",
                                  catdesc=f"Time derivative of {v.attrs.get('CATDESC', v.name or 'data')}",
                                  history=hist)
        return out

    if isinstance(obj, xr.DataArray):
        return one(obj)
    out = obj.copy(deep=False)
    for k, v in obj.data_vars.items():
        if dim in v.dims and _numeric(v):
            out[k] = one(v)
    out.attrs = add_history(dict(obj.attrs), hist)
    return out


def _window_samples(t, dim, window) -> int:
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        n = int(window)
    else:
        n = int(round(float(as_timedelta(window, "window").astype("int64")) / _cadence_ns(t, dim)))
    if n < 1:
        raise InputError(f"argument 'window': {window!r} is shorter than one sample")
    return n


def _per_segment(obj, dim, segs, func):
    parts = [func(obj.isel({dim: slice(a, b)})) for a, b in segs]
    return parts[0] if len(parts) == 1 else xr.concat(parts, dim=dim)


def _rolling(obj, window, how, gap_factor, min_fraction=0.5):
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    n = _window_samples(t, dim, window)
    segs = _segments_from_times(t, _max_gap_ns(t, dim, None, gap_factor))
    minp = max(1, int(np.ceil(n * min_fraction)))

    def f(part):
        r = part.rolling({dim: n}, center=True, min_periods=min(minp, part.sizes[dim]))
        return getattr(r, how)()

    with xr.set_options(keep_attrs=True):
        return _per_segment(obj, dim, segs, f), n


def running_mean(obj, window, gap_factor: float = DEFAULT_GAP_FACTOR):
    """Centred running mean over ``window`` (a duration, or a number of samples), NaN-aware.

    The window is converted to samples with the median cadence; windows never reach across gaps
    (> ``gap_factor`` × cadence) and need at least half their samples finite, else NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(5) * np.timedelta64(1, "s")
    >>> running_mean(xr.DataArray([0.0, 3, 6, 9, 12], dims="Epoch", coords={"Epoch": t}), "3s").values
    array([ 1.5,  3. ,  6. ,  9. , 10.5])
    """
    out, n = _rolling(obj, window, "mean", gap_factor)
    return _with_attrs(out, obj, history=f"xspace.analysis.signal.running_mean(window={window!r}) [{n} samples]")


def running_median(obj, window, gap_factor: float = DEFAULT_GAP_FACTOR):
    """Centred running median over ``window``; same rules as :func:`running_mean`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(5) * np.timedelta64(1, "s")
    >>> running_median(xr.DataArray([0.0, 3, 60, 9, 12], dims="Epoch", coords={"Epoch": t}), 3).values
    array([ 1.5,  3. ,  9. , 12. , 10.5])
    """
    out, n = _rolling(obj, window, "median", gap_factor)
    return _with_attrs(out, obj, history=f"xspace.analysis.signal.running_median(window={window!r}) [{n} samples]")


def despike(obj, window=7, threshold: float = 3.5, replace: str = "nan", gap_factor: float = DEFAULT_GAP_FACTOR):
    """Remove spikes with a Hampel filter.

    A sample is a spike when it differs from the running median (over ``window``) by more than
    ``threshold`` × 1.4826 × the running median absolute deviation. Spikes become NaN
    (``replace="nan"``) or the running median (``replace="median"``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(9) * np.timedelta64(1, "s")
    >>> x = xr.DataArray([1.0, 1.1, 0.9, 1.0, 50.0, 1.1, 0.9, 1.0, 1.05], dims="Epoch", coords={"Epoch": t})
    >>> despike(x, window=5).values
    array([1.  , 1.1 , 0.9 , 1.  ,  nan, 1.1 , 0.9 , 1.  , 1.05])
    """
    if replace not in ("nan", "median"):
        raise InputError(f"argument 'replace': expected 'nan' or 'median', got {replace!r}")
    if not threshold > 0:
        raise InputError(f"argument 'threshold': expected a positive number, got {threshold!r}")
    dim = _check_obj(obj)
    t = _times_ns(obj, dim)
    n = _window_samples(t, dim, window)
    segs = _segments_from_times(t, _max_gap_ns(t, dim, None, gap_factor))

    def mad_of(part):
        # median absolute deviation of each window's values about that window's median
        win = part.rolling({dim: n}, center=True).construct("__window__")
        med_ = win.median("__window__", skipna=True)
        return xr.concat([med_, abs(win - med_).median("__window__", skipna=True)], dim="__what__")

    both = _per_segment(obj, dim, segs, mad_of)
    med, mad = both.isel(__what__=0, drop=True), both.isel(__what__=1, drop=True)
    spike = abs(obj - med) > threshold * 1.4826 * mad
    with xr.set_options(keep_attrs=True):
        out = obj.where(~spike, np.nan if replace == "nan" else med)
    return _with_attrs(out, obj, history=f"xspace.analysis.signal.despike(window={window!r}, threshold={threshold})")


def detrend(obj, kind: str = "linear"):
    """Subtract the mean (``kind="constant"``) or a least-squares straight line (``"linear"``).

    NaN samples are ignored by the fit and stay NaN. Lazy on dask inputs.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(4) * np.timedelta64(1, "s")
    >>> detrend(xr.DataArray([1.0, 3.0, np.nan, 7.0], dims="Epoch", coords={"Epoch": t})).values.round(12)
    array([ 0.,  0., nan,  0.])
    """
    if kind not in ("linear", "constant"):
        raise InputError(f"argument 'kind': expected 'linear' or 'constant', got {kind!r}")
    dim = _check_obj(obj)
    s = _seconds(obj, dim)

    def one(v):
        if dim not in v.dims or not _numeric(v):
            return v
        ok = v.notnull()
        xm = v.mean(dim, skipna=True)
        if kind == "constant":
            return v - xm
        ts = s.where(ok)
        tm = ts.mean(dim)
        slope = ((ts - tm) * (v - xm)).sum(dim) / ((ts - tm) ** 2).sum(dim)
        return v - xm - slope * (s - tm)

    with xr.set_options(keep_attrs=True):
        out = one(obj) if isinstance(obj, xr.DataArray) else obj.map(one)
    if isinstance(out, xr.DataArray):
        out = out.transpose(*obj.dims)
    return _with_attrs(out, obj, history=f"xspace.analysis.signal.detrend(kind={kind!r})")


# ----------------------------------------------------------------------------- vectors
def _component_dim(da, component_dim=None, name="vector"):
    if not isinstance(da, xr.DataArray):
        raise InputError(f"argument {name!r}: expected a DataArray of 3-component vectors, got {type(da).__name__}")
    if component_dim is not None:
        if component_dim not in da.dims or da.sizes[component_dim] != 3:
            raise InputError(f"argument {name!r}: dimension {component_dim!r} of size 3 not found in {dict(da.sizes)}")
        return component_dim
    try:
        tdim = time_dim(da)
    except InputError:
        tdim = None
    cands = [d for d in da.dims if d != tdim and da.sizes[d] == 3]
    if len(cands) != 1:
        raise InputError(
            f"argument {name!r} ({_name(da)}): expected exactly one non-time dimension of size 3 (the vector "
            f"components), found {cands} among {dict(da.sizes)}; pass component_dim="
        )
    return cands[0]


def _label(da):
    return da.attrs.get("LABLAXIS") or da.attrs.get("FIELDNAM") or (str(da.name) if da.name is not None else "v")


def magnitude(vec, component_dim=None):
    """Euclidean norm of a 3-component vector (NaN if any component is NaN); units are kept.

    The component dimension and its labels (``LABL_PTR_1``/``DEPEND_1``) are dropped.

    Examples
    --------
    >>> import xarray as xr
    >>> b = xr.DataArray([[3.0, 4.0, 12.0]], dims=("Epoch", "comp"), attrs={"UNITS": "nT", "LABLAXIS": "B"})
    >>> m = magnitude(b)
    >>> float(m[0]), m.attrs["UNITS"], m.attrs["LABLAXIS"]
    (13.0, 'nT', '|B|')
    """
    c = _component_dim(vec, component_dim)
    out = np.sqrt((vec.drop_vars(c, errors="ignore") ** 2).sum(c, skipna=False))
    out = out.drop_vars([k for k, v in out.coords.items() if c in v.dims], errors="ignore")
    out.name = f"{vec.name}_magnitude" if vec.name is not None else None
    out.attrs = derived_attrs(vec.attrs, keep=KEEP_SCALAR, units=vec.attrs.get("UNITS"),
                              catdesc=f"Magnitude of {vec.attrs.get('CATDESC', _label(vec))}",
                              fieldnam=f"|{_label(vec)}|", lablaxis=f"|{_label(vec)}|",
                              history="xspace.analysis.signal.magnitude()", DISPLAY_TYPE="time_series")
    return out


def _product_units(a, b):
    ua, ub = a.attrs.get("UNITS"), b.attrs.get("UNITS")
    if ua and ub and ua.strip() and ub.strip():
        return f"{ua}^2" if ua == ub else f"{ua} {ub}"
    return (ua or ub or None)


def _pair(a, b, component_dim):
    ca = _component_dim(a, component_dim, "a")
    cb = _component_dim(b, component_dim, "b")
    bb = b.rename({cb: ca}) if cb != ca else b
    return ca, a.drop_vars(ca, errors="ignore"), bb.drop_vars(ca, errors="ignore")


def dot(a, b, component_dim=None):
    """Scalar product of two vector series (aligned on their shared coordinates).

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.DataArray([[1.0, 2.0, 3.0]], dims=("Epoch", "c"), attrs={"UNITS": "nT"})
    >>> d = dot(a, a)
    >>> float(d[0]), d.attrs["UNITS"]
    (14.0, 'nT^2')
    """
    c, a2, b2 = _pair(a, b, component_dim)
    out = (a2 * b2).sum(c, skipna=False)
    out = out.drop_vars([k for k, v in out.coords.items() if c in v.dims], errors="ignore")
    out.attrs = derived_attrs(a.attrs, keep=KEEP_SCALAR, units=_product_units(a, b),
                              catdesc=f"Scalar product {_label(a)}·{_label(b)}",
                              fieldnam=f"{_label(a)}·{_label(b)}", lablaxis=f"{_label(a)}·{_label(b)}",
                              history="xspace.analysis.signal.dot()", DISPLAY_TYPE="time_series")
    return out


def cross(a, b, component_dim=None):
    """Vector product ``a × b`` (components in the frame of ``a``; dimension of ``a`` kept).

    Examples
    --------
    >>> import xarray as xr
    >>> x = xr.DataArray([[1.0, 0, 0]], dims=("Epoch", "c"))
    >>> y = xr.DataArray([[0.0, 1, 0]], dims=("Epoch", "c"))
    >>> cross(x, y).values
    array([[0., 0., 1.]])
    """
    c, a2, b2 = _pair(a, b, component_dim)

    def k(u, v):
        return np.cross(u, v, axis=-1)

    a2 = a2.chunk({c: -1}) if _is_dask(a2.data) else a2
    b2 = b2.chunk({c: -1}) if _is_dask(b2.data) else b2
    out = xr.apply_ufunc(k, a2, b2, input_core_dims=[[c], [c]], output_core_dims=[[c]], dask="parallelized",
                         output_dtypes=[np.result_type(a.dtype, b.dtype, np.float64)])
    out = out.transpose(*[d for d in a.dims if d in out.dims] + [d for d in out.dims if d not in a.dims])
    if c in a.coords:
        out = out.assign_coords({c: a[c]})
    out.attrs = derived_attrs(a.attrs, keep=KEEP_SAME_DIMS, units=_product_units(a, b),
                              catdesc=f"Vector product {_label(a)}×{_label(b)}",
                              fieldnam=f"{_label(a)}×{_label(b)}", lablaxis=f"{_label(a)}×{_label(b)}",
                              history="xspace.analysis.signal.cross()")
    return out


def normalize(vec, component_dim=None):
    """Unit vector ``v/|v|`` (dimensionless; zero vectors give NaN).

    Examples
    --------
    >>> import xarray as xr
    >>> normalize(xr.DataArray([[3.0, 4.0, 0.0]], dims=("Epoch", "c"), attrs={"UNITS": "nT"})).values
    array([[0.6, 0.8, 0. ]])
    """
    c = _component_dim(vec, component_dim)
    m = np.sqrt((vec ** 2).sum(c, skipna=False))
    out = vec / m.where(m > 0)
    out.attrs = derived_attrs(vec.attrs, keep=KEEP_SAME_DIMS, units="1",
                              catdesc=f"Unit vector along {_label(vec)}", fieldnam=f"{_label(vec)} direction",
                              lablaxis=f"{_label(vec)}/|{_label(vec)}|", history="xspace.analysis.signal.normalize()")
    return out


def angle_between(a, b, component_dim=None, degrees: bool = True):
    """Angle between two vector series, in degrees (``degrees=False``: radians).

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.DataArray([[1.0, 0, 0]], dims=("Epoch", "c"))
    >>> b = xr.DataArray([[1.0, 1.0, 0]], dims=("Epoch", "c"))
    >>> float(angle_between(a, b)[0])
    45.0
    """
    d = dot(normalize(a, component_dim), normalize(b, component_dim), component_dim)
    ang = np.arccos(d.clip(-1.0, 1.0))
    if degrees:
        ang = np.degrees(ang)
    ang.attrs = derived_attrs(a.attrs, keep=KEEP_SCALAR, units="deg" if degrees else "rad",
                              catdesc=f"Angle between {_label(a)} and {_label(b)}",
                              fieldnam=f"angle({_label(a)}, {_label(b)})", lablaxis=f"angle({_label(a)}, {_label(b)})",
                              history="xspace.analysis.signal.angle_between()", DISPLAY_TYPE="time_series")
    return ang


# unit algebra for the attribute-keeping ufunc path
_SAME_UNITS = {"absolute", "negative", "positive", "fabs", "rint", "floor", "ceil", "trunc", "conjugate"}
_DIMENSIONLESS = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "log",
                  "log10", "log2", "log1p", "expm1", "sign", "isfinite", "isnan"}


def _power_units(units, p):
    if not units or not units.strip() or units.strip() == "1":
        return units
    if float(p) == 1:
        return units
    ptxt = f"{int(p)}" if float(p).is_integer() else f"{p:g}"
    u = units.strip()
    needs = any(ch in u for ch in " */^")
    return f"({u})^{ptxt}" if needs else f"{u}^{ptxt}"


def power(obj, exponent: float):
    """``obj ** exponent`` with ``UNITS`` raised to the power (nT → nT^2) and provenance recorded.

    Plain xarray arithmetic drops attributes (xarray's default); this is the attribute-keeping path.

    Examples
    --------
    >>> import xarray as xr
    >>> b2 = power(xr.DataArray([3.0], dims="Epoch", attrs={"UNITS": "nT", "CATDESC": "B"}), 2)
    >>> float(b2[0]), b2.attrs["UNITS"], b2.attrs["VAR_TYPE"]
    (9.0, 'nT^2', 'data')
    """
    out = obj ** exponent
    out.name = obj.name
    out.attrs = derived_attrs(obj.attrs, keep=KEEP_SAME_DIMS, units=_power_units(obj.attrs.get("UNITS"), exponent),
                              catdesc=f"({obj.attrs.get('CATDESC', _label(obj))})^{exponent:g}",
                              fieldnam=f"{_label(obj)}^{exponent:g}", lablaxis=f"{_label(obj)}^{exponent:g}",
                              history=f"xspace.analysis.signal.power({exponent!r})")
    return out


def apply(obj, func, *args, units: str | None = None, catdesc: str | None = None, **kwargs):
    """Apply a numpy ufunc (or any array function) keeping ISTP attributes sensibly.

    Units are derived for ``np.square`` (``u^2``), ``np.sqrt`` (``u^0.5``, or the base of a
    ``u^2``), sign-preserving ufuncs (unchanged) and transcendental ones (``1``), unless
    ``units=`` is given. ``CATDESC``/``FIELDNAM``/``LABLAXIS`` name the function, ``VAR_TYPE`` is
    ``data`` and a provenance line is appended.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> b = xr.DataArray([4.0], dims="Epoch", attrs={"UNITS": "nT", "LABLAXIS": "Bz"})
    >>> sq = apply(b, np.square)
    >>> sq.attrs["UNITS"], sq.attrs["LABLAXIS"]
    ('nT^2', 'square(Bz)')
    >>> apply(sq, np.sqrt).attrs["UNITS"]
    'nT'
    """
    fname = getattr(func, "__name__", "func")
    u = obj.attrs.get("UNITS")
    if units is None:
        if fname == "square":
            units = _power_units(u, 2)
        elif fname == "sqrt":
            units = u[:-2] if u and u.endswith("^2") and "(" not in u else _power_units(u, 0.5)
        elif fname in _SAME_UNITS:
            units = u
        elif fname in _DIMENSIONLESS:
            units = "1"
    out = xr.apply_ufunc(func, obj, *args, kwargs=kwargs, dask="allowed")
    out.attrs = derived_attrs(obj.attrs, keep=KEEP_SAME_DIMS, units=units,
                              catdesc=catdesc or f"{fname}({obj.attrs.get('CATDESC', _label(obj))})",
                              fieldnam=f"{fname}({_label(obj)})", lablaxis=f"{fname}({_label(obj)})",
                              history=f"xspace.analysis.signal.apply({fname})")
    if units is None:
        out.attrs.pop("UNITS", None)
    return out


# ----------------------------------------------------------------------------- filters
def _frequency(value, name) -> float:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        f = float(value)
        if not (np.isfinite(f) and f > 0):
            raise InputError(f"argument {name!r}: expected a positive frequency in Hz, got {value!r}")
        return f
    period = float(as_timedelta(value, name).astype("int64")) / 1e9
    if period <= 0:
        raise InputError(f"argument {name!r}: expected a positive period, got {value!r}")
    return 1.0 / period


def _impulse_length(sos, tol=1e-10) -> int:
    """Samples after which the impulse response stays below ``tol`` × its peak."""
    from scipy.signal import sosfilt

    n = 256
    while True:
        x = np.zeros(n)
        x[0] = 1.0
        h = np.abs(sosfilt(sos, x))
        above = np.flatnonzero(h > tol * h.max())
        last = int(above[-1]) + 1 if above.size else 1
        if last < 0.8 * n or n >= 2**24:
            return last
        n *= 2


def _filter_block(x, sos, zero_phase):
    from scipy.signal import sosfilt, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    padlen = 3 * (2 * len(sos) + 1)
    if zero_phase and n <= padlen:
        return np.full(x.shape, np.nan)
    bad = ~np.isfinite(x)
    has_bad = bool(bad.any())
    if has_bad:
        # bridge NaNs linearly (per column) for the filter; they are put back afterwards
        shape = x.shape
        x = x.reshape(n, -1).copy()
        b2 = bad.reshape(n, -1)
        idx = np.arange(n)
        for j in range(x.shape[1]):
            good = ~b2[:, j]
            if good.any() and not good.all():
                x[:, j] = np.interp(idx, idx[good], x[good, j])
            elif not good.any():
                x[:, j] = 0.0
        x = x.reshape(shape)
    y = sosfiltfilt(sos, x, axis=0) if zero_phase else sosfilt(sos, x, axis=0)
    if has_bad:
        y[bad] = np.nan
    return y


def _check_regular_segments(obj, t, gap_factor, rtol):
    """Median cadence and continuous segments; InputError if a segment is irregularly sampled."""
    steps = np.diff(t)
    cad = float(np.median(steps))
    if not (isinstance(gap_factor, (int, float)) and gap_factor > 1):
        raise InputError(f"argument 'gap_factor': expected a number > 1, got {gap_factor!r}")
    is_gap = steps > gap_factor * cad
    breaks = np.flatnonzero(is_gap) + 1
    edges = np.concatenate([[0], breaks, [t.size]])
    segs = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    irregular = (np.abs(steps - cad) > rtol * cad) & ~is_gap
    if irregular.any():
        d = steps[~is_gap]
        raise InputError(
            f"{_name(obj)}: irregular sampling (time steps from {d.min() / 1e9:g} s to {d.max() / 1e9:g} s "
            f"around a median cadence of {cad / 1e9:g} s, beyond rtol={rtol}); a digital filter needs a "
            "regular grid: resample first, e.g. obj.space.bin_mean(cadence)"
        )
    return cad, segs


def _filter(obj, btype, freqs, order, zero_phase, gap_factor, rtol, hist):
    from scipy.signal import butter

    dim = _check_obj(obj)
    if not (isinstance(order, (int, np.integer)) and order >= 1):
        raise InputError(f"argument 'order': expected a positive integer, got {order!r}")
    t = _times_ns(obj, dim)
    if t.size < 2:
        raise InputError(f"time dimension {dim!r}: at least 2 samples are needed to know the cadence")
    if not (isinstance(gap_factor, (int, float)) and gap_factor > 1):
        raise InputError(f"argument 'gap_factor': expected a number > 1, got {gap_factor!r}")
    _, smin, smax = _step_range(t)
    if smin == smax:  # exactly regular: one segment, nothing more to check
        cad = float(smin)
        segs = [(0, int(t.size))]
    else:
        cad, segs = _check_regular_segments(obj, t, gap_factor, rtol)
    fs = 1e9 / cad
    nyq = fs / 2
    for name, f in freqs.items():
        if not 0 < f < nyq:
            raise InputError(f"argument {name!r}: {f:g} Hz is outside (0, Nyquist = {nyq:g} Hz) for a cadence of "
                             f"{cad / 1e9:g} s")
    wn = list(freqs.values())
    if len(wn) == 2 and not wn[0] < wn[1]:
        raise InputError(f"arguments 'low' and 'high': expected low < high, got {wn[0]:g} Hz and {wn[1]:g} Hz")
    sos = butter(order, wn if len(wn) == 2 else wn[0], btype=btype, output="sos", fs=fs)
    depth = 2 * _impulse_length(sos)

    def one(v: xr.DataArray):
        if dim not in v.dims or not _numeric(v):
            return v
        axis = v.dims.index(dim)
        data = v.data
        if not _is_dask(data):
            x = np.moveaxis(np.asarray(data, dtype=np.float64), axis, 0)
            if len(segs) == 1:
                out = _filter_block(x, sos, zero_phase)
            else:
                out = np.empty_like(x)
                for a, b in segs:
                    out[a:b] = _filter_block(x[a:b], sos, zero_phase)
            out = np.moveaxis(out, 0, axis)
        else:
            import dask.array as dsa

            x = dsa.moveaxis(data.astype(np.float64), axis, 0)
            if x.ndim > 1:
                x = x.rechunk({i: -1 for i in range(1, x.ndim)})
            parts = []
            for a, b in segs:
                seg = x[a:b]
                if b - a <= depth or seg.numblocks[0] == 1:
                    seg = seg.rechunk({0: -1})
                    parts.append(seg.map_blocks(_filter_block, sos, zero_phase, dtype=np.float64))
                    continue
                chunks = seg.chunks[0]
                if min(chunks) < depth:
                    size = max(depth, max(chunks))
                    seg = seg.rechunk({0: size})
                    if len(seg.chunks[0]) > 1 and seg.chunks[0][-1] < depth:  # merge a short tail into its neighbour
                        c = list(seg.chunks[0])
                        tail = c.pop()
                        c[-1] += tail
                        seg = seg.rechunk({0: tuple(c)})
                d = {0: depth, **{i: 0 for i in range(1, seg.ndim)}}
                parts.append(dsa.map_overlap(_filter_block, seg, depth=d, boundary="none", sos=sos,
                                             zero_phase=zero_phase, dtype=np.float64))
            out = dsa.moveaxis(dsa.concatenate(parts, axis=0) if len(parts) > 1 else parts[0], 0, axis)
        res = v.copy(deep=False, data=out)
        res.attrs = derived_attrs(v.attrs, keep=KEEP_SAME_DIMS, history=hist,
                                  CATDESC=f"{v.attrs.get('CATDESC', v.name if v.name is not None else 'data')}, "
                                          f"{btype} filtered")
        return res

    if isinstance(obj, xr.DataArray):
        return one(obj)
    out = obj.copy(deep=False)
    for k, v in obj.data_vars.items():
        out[k] = one(v)
    out.attrs = add_history(dict(obj.attrs), hist)
    return out


_FILTER_DOC = """
    Butterworth of ``order`` (default 4) in second-order sections, applied forward and backward
    (``zero_phase=True``, no phase shift) or forward only. The forward-backward pass squares the
    magnitude response and the cutoff is **not** compensated: at a cutoff frequency the amplitude
    is multiplied by 0.5 (−6.02 dB) with ``zero_phase=True``, by 1/√2 (−3.01 dB) without.

    The filter runs per continuous segment (split where the time step exceeds ``gap_factor`` ×
    the median cadence); within a segment NaN samples are bridged linearly for the filter and put
    back as NaN in the output, so they never spread. Segments shorter than 3 × (2 × sections + 1)
    samples come out NaN (too short for the edge padding). Irregular sampling inside a segment
    (steps deviating from the median cadence by more than ``rtol``) raises
    :class:`~xspace.errors.InputError`: resample first (:func:`bin_mean`). dask inputs stay lazy;
    chunks overlap by twice the filter's impulse-response length (to 1e-10 of its peak), so a
    chunked series filters to the same values as the whole one.

    Cutoffs are frequencies in Hz (numbers) or periods (``"10min"``, ``numpy.timedelta64``,
    ``datetime.timedelta``).
"""


def lowpass(obj, cutoff, order: int = 4, zero_phase: bool = True, gap_factor: float = DEFAULT_GAP_FACTOR,
            rtol: float = 0.02):
    return _filter(obj, "lowpass", {"cutoff": _frequency(cutoff, "cutoff")}, order, zero_phase, gap_factor, rtol,
                   f"xspace.analysis.signal.lowpass(cutoff={cutoff!r}, order={order}, zero_phase={zero_phase})")


def highpass(obj, cutoff, order: int = 4, zero_phase: bool = True, gap_factor: float = DEFAULT_GAP_FACTOR,
             rtol: float = 0.02):
    return _filter(obj, "highpass", {"cutoff": _frequency(cutoff, "cutoff")}, order, zero_phase, gap_factor, rtol,
                   f"xspace.analysis.signal.highpass(cutoff={cutoff!r}, order={order}, zero_phase={zero_phase})")


def bandpass(obj, low, high, order: int = 4, zero_phase: bool = True, gap_factor: float = DEFAULT_GAP_FACTOR,
             rtol: float = 0.02):
    return _filter(obj, "bandpass", {"low": _frequency(low, "low"), "high": _frequency(high, "high")}, order,
                   zero_phase, gap_factor, rtol,
                   f"xspace.analysis.signal.bandpass(low={low!r}, high={high!r}, order={order})")


def bandstop(obj, low, high, order: int = 4, zero_phase: bool = True, gap_factor: float = DEFAULT_GAP_FACTOR,
             rtol: float = 0.02):
    return _filter(obj, "bandstop", {"low": _frequency(low, "low"), "high": _frequency(high, "high")}, order,
                   zero_phase, gap_factor, rtol,
                   f"xspace.analysis.signal.bandstop(low={low!r}, high={high!r}, order={order})")


lowpass.__doc__ = ("""Low-pass filter: keep frequencies below ``cutoff``.
""" + _FILTER_DOC + """
    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(2000) * np.timedelta64(1, "s")
    >>> x = xr.DataArray(np.sin(2 * np.pi * 0.01 * np.arange(2000)), dims="Epoch", coords={"Epoch": t})
    >>> y = lowpass(x, 0.01)                         # a sine at the cutoff is halved
    >>> round(float(np.abs(y[500:1500]).max()), 3)
    0.5
    >>> lowpass(x, "100s").equals(y)                 # the same cutoff as a period
    True
""")
highpass.__doc__ = ("""High-pass filter: keep frequencies above ``cutoff``.
""" + _FILTER_DOC + """
    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(2000) * np.timedelta64(1, "s")
    >>> x = xr.DataArray(5 + np.sin(2 * np.pi * 0.1 * np.arange(2000)), dims="Epoch", coords={"Epoch": t})
    >>> round(float(highpass(x, 0.01)[500:1500].mean()), 6)   # the constant is removed
    0.0
""")
bandpass.__doc__ = ("""Band-pass filter: keep frequencies between ``low`` and ``high`` (order per edge).
""" + _FILTER_DOC + """
    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(4000) * np.timedelta64(1, "s")
    >>> n = np.arange(4000)
    >>> x = xr.DataArray(np.sin(2 * np.pi * 0.05 * n) + np.sin(2 * np.pi * 0.3 * n), dims="Epoch", coords={"Epoch": t})
    >>> y = bandpass(x, 0.03, 0.08)
    >>> round(float(np.abs(y[1000:3000]).max()), 1)
    1.0
""")
bandstop.__doc__ = ("""Band-stop filter: remove frequencies between ``low`` and ``high``.
""" + _FILTER_DOC + """
    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(4000) * np.timedelta64(1, "s")
    >>> x = xr.DataArray(np.sin(2 * np.pi * 0.05 * np.arange(4000)), dims="Epoch", coords={"Epoch": t})
    >>> float(np.abs(bandstop(x, 0.03, 0.08)[1000:3000]).max()) < 0.01
    True
""")
