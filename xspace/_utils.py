"""Small helpers shared by the analysis modules: argument parsing, the time dimension, derived attributes.

These are internal (leading underscore) but documented, so every module parses times and durations
and finds the time dimension the same way.
"""

from __future__ import annotations

from typing import Any, Hashable

import numpy as np
import xarray as xr

from .errors import InputError

__all__ = ["as_timedelta", "as_datetime64", "time_dim", "derived_attrs", "add_history"]


def as_timedelta(value: Any, name: str = "value") -> np.timedelta64:
    """Parse a duration into ``numpy.timedelta64[ns]``.

    Accepts ``timedelta64``, ``datetime.timedelta``, pandas-style strings (``"3D"``, ``"1h"``,
    ``"90s"``, ``"30min"``) and numbers of seconds.

    Examples
    --------
    >>> as_timedelta("3D")
    np.timedelta64(259200000000000,'ns')
    >>> as_timedelta(90)
    np.timedelta64(90000000000,'ns')
    >>> as_timedelta(np.timedelta64(2, "h"))
    np.timedelta64(7200000000000,'ns')
    """
    import pandas as pd

    if isinstance(value, np.timedelta64):  # numpy counts timedelta64 as an integer type: test it first
        if np.isnat(value):
            raise InputError(f"argument {name!r}: a duration is required, got NaT")
        return value.astype("timedelta64[ns]")
    try:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            if not np.isfinite(value):
                raise ValueError
            return np.timedelta64(int(round(float(value) * 1e9)), "ns")
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"argument {name!r}: cannot interpret {value!r} as a duration; "
            "expected e.g. '3D', '1h', '30min', a datetime.timedelta or numpy.timedelta64"
        ) from exc
    if td is pd.NaT:
        raise InputError(f"argument {name!r}: a duration is required, got NaT")
    return np.timedelta64(td.value, "ns")


def as_datetime64(value: Any, name: str = "value") -> np.ndarray:
    """Parse times into a ``datetime64[ns]`` array (UTC; timezone-aware inputs are converted).

    Accepts a scalar or a sequence of ``datetime``, ISO strings, ``datetime64`` or a DataArray of times.

    Examples
    --------
    >>> as_datetime64("2001-03-31T05:00")
    array(['2001-03-31T05:00:00.000000000'], dtype='datetime64[ns]')
    """
    import pandas as pd

    if isinstance(value, xr.DataArray):
        value = value.values
    arr = np.atleast_1d(np.asarray(value, dtype=object if not isinstance(value, np.ndarray) else None))
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]")
    try:
        out = []
        for v in arr.ravel():
            ts = pd.Timestamp(v)
            if ts.tzinfo is not None:
                ts = ts.tz_convert("UTC").tz_localize(None)
            out.append(ts.to_datetime64())
        return np.array(out, dtype="datetime64[ns]").reshape(arr.shape)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"argument {name!r}: cannot interpret {value!r} as times; expected datetime, ISO string or datetime64"
        ) from exc


def time_dim(obj: xr.DataArray | xr.Dataset, name: str = "data") -> Hashable:
    """Find the time dimension of an xarray object.

    Order: the ISTP ``DEPEND_0`` attribute of the object (or of its data variables) when it names a
    dimension; else the single dimension whose coordinate has a ``datetime64`` dtype.

    Raises
    ------
    InputError
        If no, or more than one candidate is found (several time bases: select a variable first).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros(3), dims="Epoch",
    ...                   coords={"Epoch": np.array(["2020-01-01", "2020-01-02", "2020-01-03"], "datetime64[ns]")})
    >>> time_dim(da)
    'Epoch'
    """
    attrs_sources = [obj.attrs]
    if isinstance(obj, xr.Dataset):
        attrs_sources += [v.attrs for v in obj.data_vars.values()]
    found = []
    for attrs in attrs_sources:
        dep = attrs.get("DEPEND_0")
        if isinstance(dep, str) and dep in obj.dims and dep not in found:
            found.append(dep)
    if len(found) == 1:
        return found[0]
    candidates = [
        d for d in obj.dims if d in obj.coords and obj.coords[d].dtype.kind == "M"
    ]
    if len(found) > 1:
        candidates = [d for d in candidates if d in found]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InputError(
            f"{name}: no time dimension found (no DEPEND_0 attribute naming a dimension and no "
            f"datetime64 dimension coordinate among {list(obj.dims)})"
        )
    raise InputError(
        f"{name}: several time dimensions {candidates}; select the variables of one time base first"
    )


def add_history(attrs: dict, entry: str) -> dict:
    """Return a copy of ``attrs`` with a provenance line appended to ``history``.

    Examples
    --------
    >>> add_history({"history": "a"}, "b")["history"]
    'a\\nb'
    """
    out = dict(attrs)
    old = out.get("history")
    out["history"] = f"{old}\n{entry}" if old else entry
    return out


def derived_attrs(
    source: dict | None,
    *,
    units: str | None = None,
    catdesc: str | None = None,
    fieldnam: str | None = None,
    lablaxis: str | None = None,
    history: str | None = None,
    keep: tuple[str, ...] = ("DEPEND_0", "DISPLAY_TYPE", "COORDINATE_SYSTEM", "SI_conversion"),
    **extra: Any,
) -> dict:
    """ISTP attributes for a variable derived from another one.

    Keeps only attributes that stay true after a transformation (``keep``), sets ``VAR_TYPE="data"``
    and the given ``UNITS``/``CATDESC``/``FIELDNAM``/``LABLAXIS``, and appends a provenance line.

    Examples
    --------
    >>> a = derived_attrs({"UNITS": "nT", "CATDESC": "B", "DEPEND_0": "Epoch", "FILLVAL": -1e31},
    ...                   units="nT^2", catdesc="B squared", history="B**2")
    >>> a["UNITS"], a["VAR_TYPE"], "FILLVAL" in a
    ('nT^2', 'data', False)
    """
    source = dict(source or {})
    out = {k: source[k] for k in keep if k in source}
    out["VAR_TYPE"] = "data"
    for key, value in (("UNITS", units), ("CATDESC", catdesc), ("FIELDNAM", fieldnam), ("LABLAXIS", lablaxis)):
        if value is not None:
            out[key] = value
        elif key in source and key != "UNITS":
            out[key] = source[key]
    if units is None and "UNITS" in source:
        out["UNITS"] = source["UNITS"]
    out.update(extra)
    if history:
        out = add_history({**out, "history": source.get("history")} if source.get("history") else out, history)
    return out
