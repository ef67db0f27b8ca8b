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

import functools
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
    "leap_seconds",
    "to_tai",
    "from_tai",
    "to_gps",
    "from_gps",
    "to_unix",
    "from_unix",
    "to_jd",
    "from_jd",
    "to_mjd",
    "from_mjd",
    "to_rdt",
    "from_rdt",
    "met_to_datetime64",
    "datetime64_to_met",
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


_TABLE: tuple[str, _LeapTable] | None = None  # (cache folder it was chosen for, table)
_TABLE_LOCK = threading.Lock()


def _cache_dir() -> Path:
    from .options import get_options

    configured = get_options().get("cache_dir") or os.environ.get("XSPACE_CACHE_DIR")
    if configured:
        return Path(configured)
    return _default_cache_dir()


@functools.lru_cache(maxsize=1)
def _default_cache_dir() -> Path:
    import pooch

    return Path(pooch.os_cache("xspace"))


def _bundled() -> _LeapTable:
    return _parse_leap_table(_BUNDLED_TABLE.read_text(), str(_BUNDLED_TABLE))


def _table() -> _LeapTable:
    """The leap-second table in use: the user's updated copy in the cache folder if any, else the bundled one.

    Chosen again when the cache folder changes (``xspace.set_options(cache_dir=...)``).
    """
    global _TABLE
    folder = _cache_dir()
    current = _TABLE
    if current is not None and current[0] == str(folder):
        return current[1]
    with _TABLE_LOCK:
        bundled = _bundled()
        chosen = bundled
        cached = folder / _CACHED_NAME
        if cached.is_file():
            try:
                user = _parse_leap_table(cached.read_text(), str(cached))
            except (FileFormatError, OSError) as exc:
                warnings.warn(f"ignoring the leap-second table {cached}: {exc}", stacklevel=3)
            else:
                if user.entry_day[-1] >= bundled.entry_day[-1]:
                    chosen = user
        _TABLE = (str(folder), chosen)
        return chosen


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
    if new.entry_day[-1] < _bundled().entry_day[-1]:
        warnings.warn(
            f"update_leap_seconds: the table from {text_source} ends before the bundled one; "
            "the bundled table stays in use",
            stacklevel=2,
        )
    with _TABLE_LOCK:
        _TABLE = None  # chosen again (from the file just written) on the next conversion
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
def decode_tt2000_inplace(raw: np.ndarray) -> np.ndarray:
    """Decode a native-order, C-contiguous int64 TT2000 array in place; return its datetime64[ns] view.

    For readers that own a freshly read buffer (the CDF engine): decoding in place avoids allocating and
    page-faulting a second array of the same size, which is most of the cost on large variables.
    Other inputs (not int64, not contiguous, read-only) are decoded into a new array.

    Examples
    --------
    >>> import numpy as np
    >>> buf = np.array([536500867684000000, -9223372036854775808])
    >>> out = decode_tt2000_inplace(buf)
    >>> out, np.shares_memory(out, buf)
    (array(['2016-12-31T23:59:59.500000000', 'NaT'], dtype='datetime64[ns]'), True)
    """
    if raw.dtype != np.int64 or not raw.flags.c_contiguous or not raw.flags.writeable:
        return _tt2000_decode_np(raw)
    flat = raw.reshape(-1)
    table = _table()
    n_bad = _kernels().tt2000_to_unix_ns(flat, flat, table.nst, *table.kernel_args())
    _warn_range(int(n_bad), "tt2000_to_datetime64")
    return raw.view("datetime64[ns]")


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


# --------------------------------------------------------------------------- time scales
_DT_NS = 32_184_000_000  # TT - TAI
_UNIX_J2000_NOON_NS = 946_728_000 * _SEC  # 2000-01-01T12:00:00 as a (leap-second-free) clock reading
_TAI1958_TO_J2000_S = 1_325_419_200  # 1958-01-01T00:00 -> 2000-01-01T12:00 on a uniform clock
_GPS_MINUS_TAI_S = -19  # GPS = TAI - 19 s
_UNIX_DAY_RDT = 719_163  # RDT of 1970-01-01T00:00 (0001-01-01T00:00 is RDT 1.0)
_JD_J2000 = 2_451_545.0
_MJD_J2000 = 51_544.5
_SCALES = ("utc", "tai", "tt", "gps")


def _ns_to_seconds(ns: np.ndarray, offset_s: int = 0) -> np.ndarray:
    """int64 nanoseconds (int64 min = missing) -> float64 seconds + offset, without int overflow."""
    whole, rem = np.divmod(ns, _SEC)
    out = (whole + offset_s).astype(np.float64) + rem / 1e9
    return np.where(ns == _NAT, np.nan, out)


def _seconds_to_ns(seconds: Any, offset_s: int, name: str, func: str) -> tuple[np.ndarray, np.ndarray]:
    """float or int seconds - offset -> int64 ns; returns (ns, bad) with bad = missing or overflow."""
    arr = np.asarray(seconds)
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{func}: argument {name!r} must be numbers of seconds, got dtype {arr.dtype}")
    if arr.dtype.kind in "iub":
        whole = arr.astype(np.int64) - offset_s
        frac_ns = np.zeros(arr.shape, dtype=np.int64)
        limit_ok = np.abs(whole) < 9_223_372_035
    else:
        sec = arr.astype(np.float64)
        finite = np.isfinite(sec)
        w = np.floor(np.where(finite, sec, 0.0))
        limit_ok = finite & (np.abs(w - offset_s) < 9_223_372_035)
        whole = np.where(limit_ok, w - offset_s, 0).astype(np.int64)
        frac_ns = np.where(limit_ok, np.rint((sec - w) * 1e9), 0).astype(np.int64)
        missing = ~finite
        out = np.where(limit_ok, whole * _SEC + frac_ns, _NAT)
        return out, ~limit_ok & ~missing
    out = np.where(limit_ok, whole * _SEC + frac_ns, _NAT)
    return out, ~limit_ok


def _tt2000_from_label_ns(label_ns: np.ndarray, scale: str) -> np.ndarray:
    """TT2000 from a clock reading (int64 ns on a 1970-based uniform clock) in a continuous scale."""
    if scale == "tt":
        shift = -_UNIX_J2000_NOON_NS
    elif scale == "tai":
        shift = -_UNIX_J2000_NOON_NS + _DT_NS
    else:  # gps
        shift = -_UNIX_J2000_NOON_NS + _DT_NS - _GPS_MINUS_TAI_S * _SEC
    return np.where(label_ns == _NAT, TT2000_FILL, label_ns + shift)


def _check_scale(scale: str, func: str, name: str = "scale", allowed: tuple[str, ...] = _SCALES) -> str:
    if scale not in allowed:
        raise InputError(f"{func}: argument {name!r} must be one of {list(allowed)}, got {scale!r}")
    return scale


def leap_seconds(times: Any) -> Any:
    """TAI - UTC in seconds at the given UTC times (NaN for NaT).

    From 1972 a whole number of seconds (37 s since 2017-01-01); 1960-1971 the drifting offsets of
    the NASA CDF library's table (evaluated at noon of the UTC day); 0 before 1960.

    Parameters
    ----------
    times : array-like of datetime64 (or ISO strings), dask array or xarray.DataArray

    Examples
    --------
    >>> leap_seconds(np.array(["1999-01-01", "2016-12-31T23:59:59", "2017-01-01"], dtype="datetime64[ns]"))
    array([32., 36., 37.])
    """

    def func(values):
        unix = _as_unix_ns(values, "times", "leap_seconds")
        tt = _tt2000_encode_np(unix.view("datetime64[ns]"))
        diff = tt - _DT_NS - (unix - _UNIX_J2000_NOON_NS)
        return np.where(unix == _NAT, np.nan, diff / 1e9)

    return _map(func, times, np.float64)


def to_tai(times: Any) -> Any:
    """UTC ``datetime64`` -> TAI seconds since 1958-01-01T00:00:00 TAI (leap seconds counted).

    SpacePy's ``Ticktock.TAI``. NaT gives NaN. float64 seconds resolve about 0.5 µs today.

    Examples
    --------
    >>> to_tai(np.array(["1958-01-01", "1972-01-01", "2017-01-01"], dtype="datetime64[ns]")).tolist()
    [0.0, 441763210.0, 1861920037.0]
    """

    def func(values):
        tt = _tt2000_encode_np(values)
        return _ns_to_seconds(np.where(tt == TT2000_FILL, _NAT, tt - _DT_NS), _TAI1958_TO_J2000_S)

    return _map(func, times, np.float64)


def from_tai(seconds: Any) -> Any:
    """TAI seconds since 1958-01-01T00:00:00 -> UTC ``datetime64[ns]`` (inverse of :func:`to_tai`).

    A TAI instant inside a leap second gives the last nanosecond of the UTC day. NaN gives NaT.

    Examples
    --------
    >>> from_tai(np.array([441763210.0, 1861920036.5, 1861920037.0]))
    array(['1972-01-01T00:00:00.000000000', '2016-12-31T23:59:59.999999999',
           '2017-01-01T00:00:00.000000000'], dtype='datetime64[ns]')
    """

    def func(values):
        ns, bad = _seconds_to_ns(values, _TAI1958_TO_J2000_S, "seconds", "from_tai")
        tt = np.where(ns == _NAT, TT2000_FILL, ns + _DT_NS)
        _warn_range(int(np.count_nonzero(bad)), "from_tai")
        return _tt2000_decode_np(tt)

    return _map(func, seconds, "datetime64[ns]")


def _gps0_tt2000() -> int:
    return int(_tt2000_encode_np(np.array(["1980-01-06T00:00:00"], dtype="datetime64[ns]"))[0])


def to_gps(times: Any) -> Any:
    """UTC ``datetime64`` -> GPS seconds since 1980-01-06T00:00:00 UTC (no leap seconds: GPS = TAI - 19 s).

    Examples
    --------
    >>> to_gps(np.array(["1980-01-06", "2017-01-01"], dtype="datetime64[ns]")).tolist()
    [0.0, 1167264018.0]
    """

    def func(values):
        tt = _tt2000_encode_np(values)
        return _ns_to_seconds(np.where(tt == TT2000_FILL, _NAT, tt - _gps0_tt2000()))

    return _map(func, times, np.float64)


def from_gps(seconds: Any) -> Any:
    """GPS seconds since 1980-01-06T00:00:00 -> UTC ``datetime64[ns]`` (inverse of :func:`to_gps`).

    Examples
    --------
    >>> from_gps(np.array([0.0, 1167264018.0]))
    array(['1980-01-06T00:00:00.000000000', '2017-01-01T00:00:00.000000000'],
          dtype='datetime64[ns]')
    """

    def func(values):
        ns, bad = _seconds_to_ns(values, 0, "seconds", "from_gps")
        gps0 = _gps0_tt2000()
        tt = np.where(ns == _NAT, TT2000_FILL, ns + gps0)
        _warn_range(int(np.count_nonzero(bad)), "from_gps")
        return _tt2000_decode_np(tt)

    return _map(func, seconds, "datetime64[ns]")


def to_unix(times: Any) -> Any:
    """UTC ``datetime64`` -> Unix (POSIX) seconds since 1970-01-01, every day 86400 s. NaT gives NaN.

    Examples
    --------
    >>> to_unix(np.array(["1970-01-02", "2001-09-09T01:46:40"], dtype="datetime64[ns]"))
    array([8.64e+04, 1.00e+09])
    """

    def func(values):
        return _ns_to_seconds(_as_unix_ns(values, "times", "to_unix"))

    return _map(func, times, np.float64)


def from_unix(seconds: Any) -> Any:
    """Unix (POSIX) seconds -> ``datetime64[ns]`` (inverse of :func:`to_unix`). NaN gives NaT.

    Examples
    --------
    >>> from_unix(np.array([0, 1_000_000_000]))
    array(['1970-01-01T00:00:00.000000000', '2001-09-09T01:46:40.000000000'],
          dtype='datetime64[ns]')
    """

    def func(values):
        ns, bad = _seconds_to_ns(values, 0, "seconds", "from_unix")
        _warn_range(int(np.count_nonzero(bad)), "from_unix")
        return ns.view("datetime64[ns]")

    return _map(func, seconds, "datetime64[ns]")


def _to_days(values: Any, scale: str, reference: float, func: str) -> np.ndarray:
    """Days since 2000-01-01T12:00:00 *in the given scale* plus ``reference``."""
    if scale == "utc":
        unix = _as_unix_ns(values, "times", func)
        ns = np.where(unix == _NAT, _NAT, unix - _UNIX_J2000_NOON_NS)
    else:
        tt = _tt2000_encode_np(values)
        shift = {"tt": 0, "tai": -_DT_NS, "gps": -_DT_NS + _GPS_MINUS_TAI_S * _SEC}[scale]
        ns = np.where(tt == TT2000_FILL, _NAT, tt + shift)
    whole, rem = np.divmod(ns, _DAY_NS)
    out = whole.astype(np.float64) + reference + rem / _DAY_NS
    return np.where(ns == _NAT, np.nan, out)


def _from_days(days: Any, scale: str, reference: float, func: str) -> np.ndarray:
    arr = np.asarray(days)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{func}: argument 'days' must be numbers of days, got dtype {arr.dtype}")
    rel = arr.astype(np.float64) - reference  # days since 2000-01-01T12:00 in the scale
    finite = np.isfinite(rel)
    whole = np.floor(np.where(finite, rel, 0.0))
    ok = finite & (np.abs(whole) < 106_000)  # about +-290 years around 2000
    ns = np.where(ok, whole, 0).astype(np.int64) * _DAY_NS + np.where(
        ok, np.rint((rel - whole) * _DAY_NS), 0
    ).astype(np.int64)
    bad = finite & ~ok
    if scale == "utc":
        base = ns.astype(np.int64)
        limit = np.iinfo(np.int64).max - _UNIX_J2000_NOON_NS
        over = ok & (base > limit)
        bad |= over
        out = np.where(ok & ~over, base + _UNIX_J2000_NOON_NS, _NAT)
        _warn_range(int(np.count_nonzero(bad)), func)
        return out.view("datetime64[ns]")
    shift = {"tt": 0, "tai": _DT_NS, "gps": _DT_NS - _GPS_MINUS_TAI_S * _SEC}[scale]
    tt = np.where(ok, ns + shift, TT2000_FILL)
    _warn_range(int(np.count_nonzero(bad)), func)
    return _tt2000_decode_np(tt)


def to_jd(times: Any, scale: str = "utc") -> Any:
    """``datetime64`` UTC -> Julian Date in the time scale ``scale`` ("utc", "tai", "tt" or "gps").

    JD 2451545.0 is 2000-01-01T12:00:00 of the chosen scale (J2000.0 when ``scale="tt"``). With
    ``scale="utc"`` every day has 86400 s. float64 JDs resolve about 40 µs. NaT gives NaN.

    Examples
    --------
    >>> to_jd(np.array(["2000-01-01T12:00", "1970-01-01"], dtype="datetime64[ns]"))
    array([2451545. , 2440587.5])
    >>> to_jd(np.datetime64("2000-01-01T11:58:55.816", "ns"), scale="tt")
    array(2451545.)
    """
    _check_scale(scale, "to_jd")
    return _map(lambda v: _to_days(v, scale, _JD_J2000, "to_jd"), times, np.float64)


def from_jd(jd: Any, scale: str = "utc") -> Any:
    """Julian Date in ``scale`` -> ``datetime64[ns]`` UTC (inverse of :func:`to_jd`).

    Examples
    --------
    >>> from_jd(np.array([2451545.0, 2440587.5]))
    array(['2000-01-01T12:00:00.000000000', '1970-01-01T00:00:00.000000000'],
          dtype='datetime64[ns]')
    """
    _check_scale(scale, "from_jd")
    return _map(lambda v: _from_days(v, scale, _JD_J2000, "from_jd"), jd, "datetime64[ns]")


def to_mjd(times: Any, scale: str = "utc") -> Any:
    """``datetime64`` UTC -> Modified Julian Date (JD - 2400000.5; MJD 0 = 1858-11-17T00:00).

    Examples
    --------
    >>> to_mjd(np.array(["1858-11-17", "2000-01-01"], dtype="datetime64[ns]"))
    array([    0., 51544.])
    """
    _check_scale(scale, "to_mjd")
    return _map(lambda v: _to_days(v, scale, _MJD_J2000, "to_mjd"), times, np.float64)


def from_mjd(mjd: Any, scale: str = "utc") -> Any:
    """Modified Julian Date in ``scale`` -> ``datetime64[ns]`` UTC (inverse of :func:`to_mjd`).

    Examples
    --------
    >>> from_mjd(np.array([51544.0, 57754.5]))
    array(['2000-01-01T00:00:00.000000000', '2017-01-01T12:00:00.000000000'],
          dtype='datetime64[ns]')
    """
    _check_scale(scale, "from_mjd")
    return _map(lambda v: _from_days(v, scale, _MJD_J2000, "from_mjd"), mjd, "datetime64[ns]")


def to_rdt(times: Any) -> Any:
    """``datetime64`` UTC -> Rata Die days (SpacePy's ``RDT``): 0001-01-01T00:00 is day 1.0.

    The integer part is Python's ``date.toordinal()``; days have 86400 s (no leap seconds).

    Examples
    --------
    >>> to_rdt(np.array(["1999-07-01T14:00", "1970-01-01"], dtype="datetime64[ns]"))
    array([729936.58333333, 719163.        ])
    """
    reference = _UNIX_DAY_RDT + 10_957.5  # RDT of 2000-01-01T12:00
    return _map(lambda v: _to_days(v, "utc", reference, "to_rdt"), times, np.float64)


def from_rdt(rdt: Any) -> Any:
    """Rata Die days (SpacePy's ``RDT``) -> ``datetime64[ns]`` UTC (inverse of :func:`to_rdt`).

    Days outside the ``datetime64[ns]`` range (e.g. RDT 1.0, year 1) give NaT with a
    :class:`TimeRangeWarning`.

    Examples
    --------
    >>> from_rdt(np.array([729936.5, 719163.0]))
    array(['1999-07-01T12:00:00.000000000', '1970-01-01T00:00:00.000000000'],
          dtype='datetime64[ns]')
    """
    reference = _UNIX_DAY_RDT + 10_957.5
    return _map(lambda v: _from_days(v, "utc", reference, "from_rdt"), rdt, "datetime64[ns]")


def _epoch_tt2000(epoch: Any, epoch_scale: str, func: str) -> int:
    """TT2000 of a mission epoch written as a clock reading in ``epoch_scale``."""
    from ._utils import as_datetime64

    label = as_datetime64(epoch, name="epoch")
    if label.size != 1 or np.isnat(label[0]):
        raise InputError(f"{func}: argument 'epoch' must be one time (ISO string or datetime64), got {epoch!r}")
    label_ns = label.astype("datetime64[ns]").view(np.int64)
    if epoch_scale == "utc":
        return int(_tt2000_encode_np(label)[0])
    return int(_tt2000_from_label_ns(label_ns, epoch_scale)[0])


def met_to_datetime64(met: Any, epoch: Any, *, scale: str = "tai", epoch_scale: str = "utc") -> Any:
    """Mission elapsed time (seconds since ``epoch``) -> ``datetime64[ns]`` UTC.

    Parameters
    ----------
    met : array-like of seconds, dask array or xarray.DataArray
        Elapsed seconds (float or integer).
    epoch : str or datetime64
        The mission epoch, a clock reading in ``epoch_scale``.
    scale : {"tai", "utc"}
        How the elapsed seconds are counted. ``"tai"`` (default): SI seconds of a continuous clock,
        so the leap seconds inserted between the epoch and the time are counted (spacecraft clocks,
        e.g. Fermi MET). ``"utc"``: days of 86400 s, leap seconds not counted (like Unix time).
    epoch_scale : {"utc", "tai", "tt", "gps"}
        Time scale in which ``epoch`` is written (e.g. ``"tt"`` for an epoch given as J2000 TT).

    Returns
    -------
    datetime64[ns] UTC, the shape of ``met``. NaN gives NaT.

    Examples
    --------
    Fermi MET counts SI seconds from 2001-01-01T00:00:00 UTC; two leap seconds (end of 2005 and
    2008) fall before 2009-01-01:

    >>> met_to_datetime64(np.array([0.0, 252460802.0]), "2001-01-01")
    array(['2001-01-01T00:00:00.000000000', '2009-01-01T00:00:00.000000000'],
          dtype='datetime64[ns]')
    >>> met_to_datetime64(np.array([252460800.0]), "2001-01-01", scale="utc")
    array(['2009-01-01T00:00:00.000000000'], dtype='datetime64[ns]')
    """
    _check_scale(scale, "met_to_datetime64", allowed=("tai", "utc"))
    _check_scale(epoch_scale, "met_to_datetime64", name="epoch_scale")
    epoch_tt = _epoch_tt2000(epoch, epoch_scale, "met_to_datetime64")
    if scale == "utc":
        epoch_unix = int(_tt2000_decode_np(np.array([epoch_tt]))[0].view(np.int64))

    def func(values):
        ns, bad = _seconds_to_ns(values, 0, "met", "met_to_datetime64")
        if scale == "tai":
            limit = np.iinfo(np.int64).max - max(epoch_tt, 0)
            over = (ns != _NAT) & (ns > limit)
            tt = np.where((ns == _NAT) | over, TT2000_FILL, ns + epoch_tt)
            _warn_range(int(np.count_nonzero(bad | over)), "met_to_datetime64")
            return _tt2000_decode_np(tt)
        limit = np.iinfo(np.int64).max - max(epoch_unix, 0)
        over = (ns != _NAT) & (ns > limit)
        _warn_range(int(np.count_nonzero(bad | over)), "met_to_datetime64")
        return np.where((ns == _NAT) | over, _NAT, ns + epoch_unix).view("datetime64[ns]")

    return _map(func, met, "datetime64[ns]")


def datetime64_to_met(times: Any, epoch: Any, *, scale: str = "tai", epoch_scale: str = "utc") -> Any:
    """UTC ``datetime64`` -> mission elapsed seconds since ``epoch`` (inverse of :func:`met_to_datetime64`).

    Examples
    --------
    >>> datetime64_to_met(np.array(["2009-01-01"], dtype="datetime64[ns]"), "2001-01-01").tolist()
    [252460802.0]
    """
    _check_scale(scale, "datetime64_to_met", allowed=("tai", "utc"))
    _check_scale(epoch_scale, "datetime64_to_met", name="epoch_scale")
    epoch_tt = _epoch_tt2000(epoch, epoch_scale, "datetime64_to_met")

    def func(values):
        if scale == "tai":
            tt = _tt2000_encode_np(values)
            return _ns_to_seconds(np.where(tt == TT2000_FILL, _NAT, tt - epoch_tt))
        unix = _as_unix_ns(values, "times", "datetime64_to_met")
        epoch_unix = int(_tt2000_decode_np(np.array([epoch_tt]))[0].view(np.int64))
        return _ns_to_seconds(np.where(unix == _NAT, _NAT, unix - epoch_unix))

    return _map(func, times, np.float64)
