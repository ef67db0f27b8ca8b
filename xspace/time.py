"""Time systems and leap seconds: CDF time types, TAI, GPS, Unix, JD/MJD, RDT and mission elapsed time.

All conversions are vectorised (any shape is kept) and work on numpy arrays, dask arrays and xarray
DataArrays (dask-backed inputs stay lazy). ``datetime64[ns]`` values are UTC with no leap seconds
(the POSIX convention numpy and pandas use).

The CDF codecs follow the NASA CDF library:

* ``CDF_TIME_TT2000``: int64 nanoseconds since J2000 (2000-01-01T12:00:00 TT), leap seconds counted;
* ``CDF_EPOCH``: float64 milliseconds since 0000-01-01T00:00:00;
* ``CDF_EPOCH16``: (seconds since 0000-01-01T00:00:00, picoseconds), stored as complex128.

Fill and pad values decode to NaT, NaT encodes to the fill value, values outside the
``datetime64[ns]`` range (1677-09-21 to 2262-04-11) decode to NaT with a :class:`TimeRangeWarning`.

Examples
--------
>>> import numpy as np
>>> from xspace.time import tt2000_to_datetime64, datetime64_to_tt2000
>>> tt2000_to_datetime64(np.array([0, 536500869184000000]))
array(['2000-01-01T11:58:55.816000000', '2017-01-01T00:00:00.000000000'],
      dtype='datetime64[ns]')
>>> datetime64_to_tt2000(np.datetime64("2000-01-01T11:58:55.816"))
array(0)
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import FileFormatError, InputError, OfflineError, TimeConversionError

__all__ = [
    "TimeRangeWarning",
    "TT2000_FILL",
    "TT2000_PAD",
    "EPOCH_FILL",
    "EPOCH_PAD",
    "EPOCH16_FILL",
    "tt2000_to_datetime64",
    "datetime64_to_tt2000",
    "epoch_to_datetime64",
    "datetime64_to_epoch",
    "epoch16_to_datetime64",
    "datetime64_to_epoch16",
    "leap_second_table",
    "update_leap_seconds",
]

TT2000_FILL = -9223372036854775808
"""TT2000 fill value (decodes to NaT; NaT encodes to it)."""
TT2000_PAD = -9223372036854775807
"""TT2000 pad value (decodes to NaT)."""
EPOCH_FILL = -1.0e31
"""CDF_EPOCH fill value."""
EPOCH_PAD = 0.0
"""CDF_EPOCH pad value."""
EPOCH16_FILL = complex(-1.0e31, -1.0e31)
"""CDF_EPOCH16 fill value (seconds, picoseconds)."""

LEAP_SECONDS_URL = "https://cdf.gsfc.nasa.gov/html/CDFLeapSeconds.txt"
_BUNDLED_TABLE = Path(__file__).resolve().parent / "data" / "CDFLeapSeconds.txt"
_CACHED_NAME = "CDFLeapSeconds.txt"

_NAT = np.iinfo(np.int64).min
_SEC = 1_000_000_000
_DAY_NS = 86_400 * _SEC
_EPOCH0_TO_UNIX_MS = 62_167_219_200_000  # milliseconds from 0000-01-01 to 1970-01-01
_EPOCH0_TO_UNIX_S = 62_167_219_200
_RANGE_TEXT = "1677-09-21T00:12:43.145224192 to 2262-04-11T23:47:16.854775807"


class TimeRangeWarning(UserWarning):
    """Times outside the ``datetime64[ns]`` range were replaced by NaT."""


# --------------------------------------------------------------------------- leap-second table
@dataclass(frozen=True)
class _LeapTable:
    """The parsed leap-second table as arrays the numba kernels take."""

    source: str
    entry_day: np.ndarray  # int64 Unix day of each row's date
    entry_ns: np.ndarray  # int64 Unix ns of each row's date
    offset: np.ndarray  # float64 TAI-UTC (s) at the row's reference
    mjd_ref: np.ndarray  # float64
    drift: np.ndarray  # float64 s/day
    era1: int  # index of the 1972-01-01 row (first whole-second row)
    nst: np.ndarray  # int64 TT2000 of each row's date (rows >= era1)

    def kernel_args(self):
        return self.entry_day, self.offset, self.mjd_ref, self.drift, self.era1


def _parse_leap_table(text: str, source: str) -> _LeapTable:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith(";"):
            continue
        fields = line.split()
        if len(fields) != 6:
            raise FileFormatError(
                f"leap-second table {source}, line {lineno}: expected 6 columns "
                f"(year month day TAI-UTC MJD-reference drift), got {len(fields)}: {line!r}"
            )
        try:
            year, month, day = (int(f) for f in fields[:3])
            offset, ref, drift = (float(f) for f in fields[3:])
        except ValueError:
            raise FileFormatError(
                f"leap-second table {source}, line {lineno}: non-numeric field in {line!r}"
            ) from None
        if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2300):
            raise FileFormatError(f"leap-second table {source}, line {lineno}: invalid date in {line!r}")
        rows.append((year, month, day, offset, ref, drift, lineno))
    if not rows:
        raise FileFormatError(f"leap-second table {source}: no data rows")
    dates = np.array([f"{y:04d}-{m:02d}-{d:02d}" for y, m, d, *_ in rows], dtype="datetime64[D]")
    if np.any(np.diff(dates.astype(np.int64)) <= 0):
        raise FileFormatError(f"leap-second table {source}: dates are not strictly increasing")
    era1 = [i for i, r in enumerate(rows) if (r[0], r[1], r[2]) >= (1972, 1, 1)]
    if not era1 or (rows[era1[0]][:3] != (1972, 1, 1)):
        raise FileFormatError(f"leap-second table {source}: the 1972-01-01 row (TAI-UTC = 10 s) is missing")
    era1 = era1[0]
    for y, m, d, offset, ref, drift, lineno in rows[era1:]:
        if drift != 0.0 or offset != round(offset):
            raise FileFormatError(
                f"leap-second table {source}, line {lineno}: rows from 1972 on must have a whole number "
                f"of seconds and zero drift"
            )
    entry_day = dates.astype(np.int64)
    table = _LeapTable(
        source=source,
        entry_day=entry_day,
        entry_ns=entry_day * _DAY_NS,
        offset=np.array([r[3] for r in rows], dtype=np.float64),
        mjd_ref=np.array([r[4] for r in rows], dtype=np.float64),
        drift=np.array([r[5] for r in rows], dtype=np.float64),
        era1=int(era1),
        nst=np.zeros(len(rows), dtype=np.int64),
    )
    # TT2000 of each whole-second row's date: Unix ns - 12 h + TAI-UTC + 32.184 s
    nst = table.nst
    nst[:era1] = _NAT
    nst[era1:] = (table.entry_ns[era1:] - 946_728_000 * _SEC) + (table.offset[era1:] * 1e9).astype(np.int64) + 32_184_000_000
    return table


_TABLE: _LeapTable | None = None
_TABLE_LOCK = threading.Lock()


def _cache_dir() -> Path:
    from .options import get_options

    configured = get_options().get("cache_dir") or os.environ.get("XSPACE_CACHE_DIR")
    if configured:
        return Path(configured)
    import pooch

    return Path(pooch.os_cache("xspace"))


def _table() -> _LeapTable:
    """The leap-second table in use: the user's updated copy if there is one, else the bundled one."""
    global _TABLE
    table = _TABLE
    if table is not None:
        return table
    with _TABLE_LOCK:
        if _TABLE is None:
            bundled = _parse_leap_table(_BUNDLED_TABLE.read_text(), str(_BUNDLED_TABLE))
            chosen = bundled
            cached = _cache_dir() / _CACHED_NAME
            if cached.is_file():
                try:
                    user = _parse_leap_table(cached.read_text(), str(cached))
                except (FileFormatError, OSError) as exc:
                    warnings.warn(f"ignoring the leap-second table {cached}: {exc}", stacklevel=3)
                else:
                    if user.entry_day[-1] >= bundled.entry_day[-1]:
                        chosen = user
            _TABLE = chosen
        return _TABLE


def leap_second_table() -> dict[str, Any]:
    """The leap-second table in use.

    Returns
    -------
    dict
        ``date`` (``datetime64[D]`` of each row, UTC), ``tai_minus_utc`` (s, before 1972 the value
        at the row's reference MJD), ``mjd_reference`` and ``drift`` (s/day; TAI-UTC before 1972 is
        ``tai_minus_utc + (MJD - mjd_reference) * drift``) and ``source`` (the file read).

    Examples
    --------
    >>> table = leap_second_table()
    >>> str(table["date"][-1]), float(table["tai_minus_utc"][-1])
    ('2017-01-01', 37.0)
    """
    t = _table()
    return {
        "date": t.entry_day.astype("datetime64[D]"),
        "tai_minus_utc": t.offset.copy(),
        "mjd_reference": t.mjd_ref.copy(),
        "drift": t.drift.copy(),
        "source": t.source,
    }


def update_leap_seconds(path_or_url: str | os.PathLike | None = None) -> Path:
    """Install a newer leap-second table (NASA ``CDFLeapSeconds.txt`` format) and use it.

    The table is read from a local file or downloaded from a URL (default: NASA's
    ``https://cdf.gsfc.nasa.gov/html/CDFLeapSeconds.txt``), checked, written atomically to the
    user's cache folder (``xspace.set_options(cache_dir=...)``, ``$XSPACE_CACHE_DIR`` or the
    platform cache) and used from then on, also in later sessions. A table that ends earlier than
    the bundled one is not used.

    Parameters
    ----------
    path_or_url : str or path-like, optional
        A local file or an ``http(s)://`` URL.

    Returns
    -------
    pathlib.Path
        Where the table was installed.

    Raises
    ------
    FileFormatError
        If the table is malformed (the message names the source and line).
    OfflineError
        If a download is needed while ``xspace.set_options(offline=True)``.

    Examples
    --------
    >>> import tempfile, pathlib, xspace
    >>> from xspace.data import get_path
    >>> with tempfile.TemporaryDirectory() as cache, xspace.set_options(cache_dir=cache):
    ...     installed = update_leap_seconds(get_path("CDFLeapSeconds.txt"))
    ...     print(installed.name, float(leap_second_table()["tai_minus_utc"][-1]))
    CDFLeapSeconds.txt 37.0
    """
    global _TABLE
    source = LEAP_SECONDS_URL if path_or_url is None else path_or_url
    text_source = str(source)
    if text_source.startswith(("http://", "https://")):
        from .options import get_options

        if get_options().get("offline"):
            raise OfflineError(f"update_leap_seconds: offline mode is on; cannot download {text_source}")
        import urllib.request

        try:
            with urllib.request.urlopen(text_source, timeout=30) as response:  # noqa: S310
                text = response.read().decode("ascii", errors="replace")
        except OSError as exc:
            from .errors import FetchError

            raise FetchError(f"update_leap_seconds: cannot download {text_source}: {exc}") from exc
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"update_leap_seconds: argument 'path_or_url': no such file {text_source!r}")
        text = path.read_text(errors="replace")
    new = _parse_leap_table(text, text_source)
    target_dir = _cache_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / _CACHED_NAME
    tmp = target.with_name(f".{_CACHED_NAME}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    with _TABLE_LOCK:
        bundled = _parse_leap_table(_BUNDLED_TABLE.read_text(), str(_BUNDLED_TABLE))
        if new.entry_day[-1] >= bundled.entry_day[-1]:
            _TABLE = _parse_leap_table(text, str(target))
        else:
            _TABLE = bundled
            warnings.warn(
                f"update_leap_seconds: the table from {text_source} ends before the bundled one; "
                "the bundled table stays in use",
                stacklevel=2,
            )
    return target


# --------------------------------------------------------------------------- helpers
def _map(func: Callable[[np.ndarray], np.ndarray], values: Any, out_dtype: Any) -> Any:
    """Apply a numpy function to numpy, dask or xarray input, keeping dask input lazy."""
    import xarray as xr

    if isinstance(values, xr.DataArray):
        return xr.apply_ufunc(func, values, dask="parallelized", output_dtypes=[np.dtype(out_dtype)])
    if type(values).__module__.startswith("dask."):
        return values.map_blocks(func, dtype=np.dtype(out_dtype))
    return func(np.asarray(values))


def _warn_range(n_bad: int, what: str) -> None:
    if n_bad:
        warnings.warn(
            f"{what}: {n_bad} value(s) outside the datetime64[ns] range ({_RANGE_TEXT}) were set to NaT",
            TimeRangeWarning,
            stacklevel=4,
        )


def _as_unix_ns(values: Any, name: str, func: str) -> np.ndarray:
    """datetime64 (any unit), ISO strings or datetimes -> int64 Unix ns (NaT = int64 min)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biufc":
        raise InputError(
            f"{func}: argument {name!r} must hold datetime64 values (or ISO strings/datetimes), "
            f"got numbers of dtype {arr.dtype}"
        )
    if arr.dtype.kind != "M":
        try:
            arr = np.asarray(values, dtype="datetime64[ns]")
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{func}: argument {name!r} must hold datetime64 values (or ISO strings/datetimes), "
                f"got dtype {arr.dtype}"
            ) from exc
    if arr.dtype != np.dtype("datetime64[ns]"):
        converted = arr.astype("datetime64[ns]")
        back = converted.astype(arr.dtype)
        bad = (back != arr) & ~np.isnat(arr)
        if np.any(bad):
            raise TimeConversionError(
                f"{func}: argument {name!r}: {np.count_nonzero(bad)} value(s) (first: {arr[bad].ravel()[0]}) "
                f"outside the datetime64[ns] range ({_RANGE_TEXT})"
            )
        arr = converted
    return arr.view(np.int64)


def _kernels():
    from . import _time_numba

    return _time_numba


# --------------------------------------------------------------------------- TT2000
def _tt2000_decode_np(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise InputError(
            f"tt2000_to_datetime64: argument 'values' must be integer TT2000 nanoseconds (int64), got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "u" and arr.size and np.any(arr > np.iinfo(np.int64).max):
        raise InputError("tt2000_to_datetime64: argument 'values': unsigned values above the int64 range")
    flat = np.ascontiguousarray(arr, dtype=np.int64).ravel()
    out = np.empty(flat.shape, dtype=np.int64)
    table = _table()
    n_bad = _kernels().tt2000_to_unix_ns(flat, out, table.nst, *table.kernel_args())
    _warn_range(int(n_bad), "tt2000_to_datetime64")
    return out.view("datetime64[ns]").reshape(arr.shape)


def tt2000_to_datetime64(values: Any) -> Any:
    """Decode CDF_TIME_TT2000 values into ``datetime64[ns]`` UTC.

    TT2000 counts SI nanoseconds since J2000 (2000-01-01T12:00:00 TT = 2000-01-01T11:58:55.816 UTC),
    leap seconds included. The result equals the NASA CDF library's breakdown to the nanosecond,
    using its leap-second table (before 1972, its drifting TAI-UTC).

    * An instant inside a leap second (e.g. 2016-12-31T23:59:60.5) becomes the last nanosecond of
      the day, ``2016-12-31T23:59:59.999999999``: ``datetime64`` has no second 60, and this keeps
      the result monotonic.
    * The fill value -9223372036854775808 and the pad value -9223372036854775807 become NaT.
    * Values after 2262-04-11T23:47:16.854775807 (the end of ``datetime64[ns]``) become NaT and a
      :class:`TimeRangeWarning` is issued; they never wrap around.

    Parameters
    ----------
    values : array-like of int64, dask array or xarray.DataArray
        TT2000 nanoseconds; any shape.

    Returns
    -------
    numpy.ndarray of datetime64[ns] (or the dask/xarray equivalent), same shape.

    Examples
    --------
    >>> import numpy as np
    >>> tt2000_to_datetime64(np.array([536500867684000000, 536500868684000000]))
    array(['2016-12-31T23:59:59.500000000', '2016-12-31T23:59:59.999999999'],
          dtype='datetime64[ns]')
    >>> tt2000_to_datetime64(np.array([-9223372036854775808]))
    array(['NaT'], dtype='datetime64[ns]')
    """
    return _map(_tt2000_decode_np, values, "datetime64[ns]")


def _tt2000_encode_np(values: np.ndarray) -> np.ndarray:
    unix = _as_unix_ns(values, "values", "datetime64_to_tt2000")
    flat = np.ascontiguousarray(unix).ravel()
    out = np.empty(flat.shape, dtype=np.int64)
    table = _table()
    n_bad = _kernels().unix_ns_to_tt2000(flat, out, table.entry_ns, *table.kernel_args())
    if n_bad:
        first = flat.view("datetime64[ns]")[(out == TT2000_FILL) & (flat != _NAT)][0]
        raise TimeConversionError(
            f"datetime64_to_tt2000: {n_bad} value(s) (first: {first}) before 1707-09-22T12:12:10.961224194, "
            "the start of the TT2000 range"
        )
    return out.reshape(unix.shape)


def datetime64_to_tt2000(values: Any) -> Any:
    """Encode UTC ``datetime64`` values (any unit) as CDF_TIME_TT2000 int64 nanoseconds.

    The inverse of :func:`tt2000_to_datetime64` (exact for every ``datetime64[ns]`` value); NaT
    becomes the fill value -9223372036854775808.

    Parameters
    ----------
    values : array-like of datetime64 (or ISO strings), dask array or xarray.DataArray

    Returns
    -------
    numpy.ndarray of int64, same shape.

    Raises
    ------
    TimeConversionError
        For times before 1707-09-22 (not representable in TT2000).

    Examples
    --------
    >>> import numpy as np
    >>> datetime64_to_tt2000(np.array(["2017-01-01T00:00:00", "NaT"], dtype="datetime64[ns]"))
    array([  536500869184000000, -9223372036854775808])
    """
    return _map(_tt2000_encode_np, values, np.int64)


# --------------------------------------------------------------------------- CDF_EPOCH
def _epoch_decode_np(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        raise InputError(
            f"epoch_to_datetime64: argument 'values' must be CDF_EPOCH float64 milliseconds, got dtype {arr.dtype}"
        )
    ms = arr.astype(np.float64, copy=False)
    missing = ~np.isfinite(ms) | (ms == EPOCH_FILL) | (ms == EPOCH_PAD)
    unix_ms = np.floor(ms) - _EPOCH0_TO_UNIX_MS  # exact: whole milliseconds
    # the datetime64[ns] range in whole milliseconds (a margin of one ms on each side)
    in_range = (unix_ms > -9_223_372_036_854.0) & (unix_ms < 9_223_372_036_853.0)
    bad = ~missing & ~in_range
    ok = ~missing & in_range
    out = np.full(arr.shape, _NAT, dtype=np.int64)
    whole = unix_ms[ok].astype(np.int64)
    frac_ns = np.rint((ms[ok] - np.floor(ms[ok])) * 1e6).astype(np.int64)
    out[ok] = whole * 1_000_000 + frac_ns
    _warn_range(int(np.count_nonzero(bad)), "epoch_to_datetime64")
    return out.view("datetime64[ns]")


def epoch_to_datetime64(values: Any) -> Any:
    """Decode CDF_EPOCH values (float64 milliseconds since 0000-01-01T00:00:00) into ``datetime64[ns]``.

    CDF_EPOCH ignores leap seconds. Whole milliseconds decode exactly (as the NASA CDF library's
    breakdown); a sub-millisecond fraction, which the NASA breakdown truncates, is kept here
    (rounded to the nanosecond). The fill value -1e31, the pad value 0.0 and NaN become NaT; values
    outside the ``datetime64[ns]`` range become NaT with a :class:`TimeRangeWarning`.

    Parameters
    ----------
    values : array-like of float64, dask array or xarray.DataArray

    Returns
    -------
    numpy.ndarray of datetime64[ns], same shape.

    Examples
    --------
    >>> import numpy as np
    >>> epoch_to_datetime64(np.array([63082368000000.0, 63082368000123.0, -1e31]))
    array(['1999-01-01T00:00:00.000000000', '1999-01-01T00:00:00.123000000',
           'NaT'], dtype='datetime64[ns]')
    """
    return _map(_epoch_decode_np, values, "datetime64[ns]")


def _epoch_encode_np(values: np.ndarray) -> np.ndarray:
    unix = _as_unix_ns(values, "values", "datetime64_to_epoch")
    nat = unix == _NAT
    whole_ms, rem_ns = np.divmod(unix, 1_000_000)
    out = (whole_ms + _EPOCH0_TO_UNIX_MS).astype(np.float64) + rem_ns / 1e6
    return np.where(nat, EPOCH_FILL, out)


def datetime64_to_epoch(values: Any) -> Any:
    """Encode ``datetime64`` values as CDF_EPOCH (float64 milliseconds since 0000-01-01T00:00:00).

    Whole milliseconds are exact; finer parts are kept as a fraction (float64 holds about 8 µs at
    present-day values). NaT becomes the fill value -1e31.

    Examples
    --------
    >>> import numpy as np
    >>> datetime64_to_epoch(np.array(["1999-01-01T00:00:00.123", "NaT"], dtype="datetime64[ns]")).tolist()
    [63082368000123.0, -1e+31]
    """
    return _map(_epoch_encode_np, values, np.float64)


# --------------------------------------------------------------------------- CDF_EPOCH16
def _as_epoch16(values: Any) -> Any:
    """Complex128 EPOCH16 from complex input or float input whose last dimension is (seconds, ps)."""
    dtype = np.dtype(getattr(values, "dtype", None) or np.asarray(values).dtype)
    if dtype.kind == "c":
        return values
    if dtype.kind in "fiu":
        shape = getattr(values, "shape", np.shape(values))
        if len(shape) == 0 or shape[-1] != 2:
            raise InputError(
                "epoch16_to_datetime64: argument 'values' must be complex128 (seconds + 1j * picoseconds) "
                f"or a float array whose last dimension has length 2, got shape {tuple(shape)}"
            )
        if not hasattr(values, "dtype"):
            values = np.asarray(values, dtype=np.float64)
        return values[..., 0] + 1j * values[..., 1]
    raise InputError(
        f"epoch16_to_datetime64: argument 'values' must be complex128 or float64 (..., 2), got dtype {dtype}"
    )


def _epoch16_decode_np(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.complex128)
    sec = arr.real
    ps = arr.imag
    missing = (
        ~np.isfinite(sec) | ~np.isfinite(ps) | (sec == EPOCH_FILL) | ((sec == 0.0) & (ps == 0.0))
    )
    whole = np.floor(sec)
    unix_s = whole - _EPOCH0_TO_UNIX_S
    in_range = (unix_s > -9_223_372_036.0) & (unix_s < 9_223_372_035.0) & (ps >= 0.0) & (ps < 1e13)
    ok = ~missing & in_range
    out = np.full(arr.shape, _NAT, dtype=np.int64)
    s_ok = unix_s[ok].astype(np.int64)
    frac_ns = np.rint((sec[ok] - whole[ok]) * 1e9).astype(np.int64)
    ps_ns = np.floor(ps[ok] / 1000.0).astype(np.int64)  # truncated to the nanosecond, as NASA's breakdown
    base = s_ok * _SEC
    extra = frac_ns + ps_ns
    over = (extra > 0) & (base > np.iinfo(np.int64).max - extra)
    vals = np.where(over, _NAT, base + np.where(over, 0, extra))
    out[ok] = vals
    n_bad = int(np.count_nonzero(~missing & ~in_range) + np.count_nonzero(over))
    _warn_range(n_bad, "epoch16_to_datetime64")
    return out.view("datetime64[ns]")


def epoch16_to_datetime64(values: Any) -> Any:
    """Decode CDF_EPOCH16 values into ``datetime64[ns]``.

    EPOCH16 is a pair (seconds since 0000-01-01T00:00:00, picoseconds), no leap seconds. It is
    given as complex128 (real = seconds, imaginary = picoseconds) or as a float array whose last
    dimension holds the pair. Picoseconds are truncated to the nanosecond (as the NASA breakdown
    does). The fill value (-1e31, -1e31), the pad value (0, 0) and NaN become NaT; values outside
    the ``datetime64[ns]`` range become NaT with a :class:`TimeRangeWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> epoch16_to_datetime64(np.array([63082368000.0 + 123456789012.0j, -1e31 - 1e31j]))
    array(['1999-01-01T00:00:00.123456789', 'NaT'], dtype='datetime64[ns]')
    >>> epoch16_to_datetime64(np.array([[63082368000.0, 5e11]]))
    array(['1999-01-01T00:00:00.500000000'], dtype='datetime64[ns]')
    """
    return _map(_epoch16_decode_np, _as_epoch16(values), "datetime64[ns]")


def _epoch16_encode_np(values: np.ndarray) -> np.ndarray:
    unix = _as_unix_ns(values, "values", "datetime64_to_epoch16")
    nat = unix == _NAT
    whole_s, rem_ns = np.divmod(unix, _SEC)
    out = np.empty(unix.shape, dtype=np.complex128)
    out.real = (whole_s + _EPOCH0_TO_UNIX_S).astype(np.float64)
    out.imag = rem_ns.astype(np.float64) * 1000.0
    out[nat] = EPOCH16_FILL
    return out


def datetime64_to_epoch16(values: Any) -> Any:
    """Encode ``datetime64`` values as CDF_EPOCH16 complex128 (seconds + 1j * picoseconds).

    Exact (both parts are whole numbers well inside float64 precision). NaT becomes the fill value
    (-1e31, -1e31).

    Examples
    --------
    >>> import numpy as np
    >>> datetime64_to_epoch16(np.array(["1999-01-01T00:00:00.123456789"], dtype="datetime64[ns]")).tolist()
    [(63082368000+123456789000j)]
    """
    return _map(_epoch16_encode_np, values, np.complex128)
