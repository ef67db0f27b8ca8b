"""Time arguments of the fetch functions: anything a user types -> ``datetime64[ns]`` UTC.

Naive datetimes and ISO strings without an offset are UTC; aware ones are converted to UTC.

Examples
--------
>>> from xspace.fetch._times import to_utc64, iso
>>> to_utc64("2022-01-01T12:00+02:00")
np.datetime64('2022-01-01T10:00:00.000000000')
>>> iso(to_utc64("2022-01-01"))
'2022-01-01T00:00:00.000Z'
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..errors import InputError

__all__ = ["to_utc64", "iso", "compact", "normalise_range", "time_dim", "cut"]


def to_utc64(value, name: str = "start") -> np.datetime64:
    """Convert a time argument to ``numpy.datetime64[ns]`` in UTC.

    Parameters
    ----------
    value : datetime.datetime, datetime.date, str, numpy.datetime64 or pandas.Timestamp
        Naive values are taken as UTC; aware ones are converted to UTC. Strings are ISO 8601, with an
        optional trailing ``Z`` or ``+hh:mm`` offset.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.datetime64

    Examples
    --------
    >>> import datetime
    >>> to_utc64(datetime.datetime(2020, 1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))))
    np.datetime64('2020-01-01T00:00:00.000000000')
    """
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InputError(f"{name}: NaT is not a time")
        return value.astype("datetime64[ns]")
    if hasattr(value, "to_datetime64") and hasattr(value, "tzinfo"):  # pandas.Timestamp
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return np.datetime64(value.to_datetime64(), "ns")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1]
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return np.datetime64(text, "ns")
            except ValueError:
                raise InputError(
                    f"{name}: cannot read {value!r} as a time; expected ISO 8601 like "
                    "'2022-01-01T00:00:00Z'"
                ) from None
        value = parsed
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return np.datetime64(value, "ns")
    if isinstance(value, _dt.date):
        return np.datetime64(value, "ns")
    raise InputError(
        f"{name}: expected a datetime, an ISO string or a numpy.datetime64, got {type(value).__name__}"
    )


def iso(t: np.datetime64, digits: int = 3) -> str:
    """Format a time as ISO 8601 UTC with ``digits`` decimals and a ``Z``.

    Examples
    --------
    >>> iso(np.datetime64("2020-01-01T00:00:01.5"), digits=1)
    '2020-01-01T00:00:01.5Z'
    """
    text = str(np.datetime64(t, "ns"))
    head, frac = text.split(".")
    return f"{head}.{frac[:digits]}Z" if digits > 0 else f"{head}Z"


def compact(t: np.datetime64) -> str:
    """Format a time as ``YYYYMMDDTHHMMSSZ`` (the CDAS REST form).

    Examples
    --------
    >>> compact(np.datetime64("2022-01-01T10:20:30"))
    '20220101T102030Z'
    """
    text = str(np.datetime64(t, "s"))
    return text.replace("-", "").replace(":", "") + "Z"


def normalise_range(start, stop) -> tuple[np.datetime64, np.datetime64]:
    """Both ends of ``[start, stop)`` as datetime64[ns]; ``stop < start`` is an error.

    Examples
    --------
    >>> normalise_range("2020-01-02", "2020-01-03")[1]
    np.datetime64('2020-01-03T00:00:00.000000000')
    """
    t0, t1 = to_utc64(start, "start"), to_utc64(stop, "stop")
    if t1 < t0:
        raise InputError(f"stop ({t1}) is before start ({t0}); expected start <= stop")
    return t0, t1


def time_dim(obj) -> str | None:
    """The first dimension of ``obj`` indexed by a datetime64 coordinate, or None.

    Examples
    --------
    >>> import xarray as xr
    >>> time_dim(xr.DataArray([1, 2], coords={"t": np.array(["2020-01-01", "2020-01-02"], "M8[ns]")}, dims="t"))
    't'
    """
    for d in obj.dims:
        if d in obj.coords and np.issubdtype(obj[d].dtype, np.datetime64):
            return d
    return None


def cut(obj, t0, t1):
    """``obj`` restricted to ``[t0, t1)`` along every dimension indexed by a datetime64 coordinate.

    Sorted coordinates are sliced (a view, lazy arrays stay lazy); unsorted ones are masked.

    Examples
    --------
    >>> import xarray as xr
    >>> t = np.arange(np.datetime64("2020-01-01T00", "ns"), np.datetime64("2020-01-01T05", "ns"),
    ...               np.timedelta64(1, "h"))
    >>> cut(xr.DataArray(np.arange(5), coords={"t": t}, dims="t"), t[1], t[3]).values
    array([1, 2])
    """
    for dim in list(obj.dims):
        if dim in obj.coords and np.issubdtype(obj[dim].dtype, np.datetime64):
            t = obj[dim].values
            if t.size > 1 and not (t[1:] >= t[:-1]).all():
                obj = obj.isel({dim: np.flatnonzero((t >= t0) & (t < t1))})
            else:
                lo, hi = np.searchsorted(t, t0, "left"), np.searchsorted(t, t1, "left")
                if lo > 0 or hi < t.size:
                    obj = obj.isel({dim: slice(int(lo), int(hi))})
    return obj
