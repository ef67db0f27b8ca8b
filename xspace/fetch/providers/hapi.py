"""HAPI client provider: any server speaking the Heliophysics API (HAPI 2.x and 3.x).

Product paths are ``"hapi/<server alias>/<dataset id>/<parameter>"`` (a DataArray) or
``"hapi/<server alias>/<dataset id>"`` (a Dataset of every parameter). Dataset ids may contain ``/``
(CDAWeb's do): the id is the longest leading part of the path found in the server's ``catalog``.
Server aliases come from the option ``hapi_servers`` (a dict alias -> URL ending in ``/hapi``) on top of
the built-in list of :func:`xspace.fetch.hapi_servers`; the option ``hapi_url`` (or ``$XSPACE_HAPI_URL``)
adds the alias ``"default"``.
Both are read at call time.

Protocol
--------
* ``capabilities`` (output formats, HAPI version), ``catalog`` (dataset ids), ``info`` (parameters,
  ``maxRequestDuration``) and ``data``. HAPI 3.x servers get ``dataset``/``start``/``stop``, 2.x servers
  ``id``/``time.min``/``time.max`` (the version is the one ``capabilities`` declares).
* ``format=binary`` when the server lists it in ``capabilities``, else CSV; always ``include=header``
  (each answer then describes itself and carries its HAPI status).
* The interval is ``[start, stop)`` exactly (HAPI ``stop`` is exclusive; records a server sends outside
  the request are dropped). Requests longer than ``maxRequestDuration`` are split; a ``1408`` answer
  ("too much time or data") re-splits the piece in halves. ``1201`` (no data) gives an empty result;
  other ``14xx``/``15xx`` raise :class:`HAPIError` (a :class:`~xspace.errors.FetchError`) carrying the
  server's code and message (``1406``/``1407`` raise :class:`~xspace.errors.ProductNotFound`).
* Caching: every sub-request's answer is one cache entry, ``cache.fetch_file(url, params=...,
  kind="hapi", ttl=option cache_ttl)`` — a repeated request is served from disk. Answers for pieces
  that ended more than :data:`IMMUTABLE_AFTER_DAYS` days ago are kept for good (no request at all, as
  for AMDA and CSA pieces); more recent ones are revalidated after the TTL (data still arriving).
  ``capabilities``/``catalog``/``info`` go through ``cache.fetch_bytes`` with the same TTL.

Results are **eager**: HAPI gives no record count or file layout before the data is fetched, so
:func:`get` downloads (in parallel, at most ``max_connections_per_host`` at once) and parses everything.

Decoding
--------
Parsing is vectorised: binary records are one numpy structured dtype (little-endian doubles and 4-byte
integers, fixed-length null-padded ``isotime``/``string`` fields) read with :func:`numpy.frombuffer`;
CSV goes through :func:`numpy.loadtxt` with the same structured dtype (quoted strings allowed). The result
is an :class:`xarray.Dataset` with a ``time`` coordinate (``datetime64[ns]``); each parameter keeps its
HAPI metadata as ISTP attributes (``UNITS``, ``CATDESC``, ``FIELDNAM``, ``LABLAXIS``, ``DEPEND_0``,
``DEPEND_i``, ``VAR_TYPE``); ``fill`` values become NaN (doubles; integers with a fill are promoted to
float64) or NaT (isotime) and the fill goes to ``.encoding["FILLVAL"]``; string fills stay in
``attrs["FILLVAL"]``. ``size`` adds dimensions (C order, last index fastest); ``bins`` become coordinates:
fixed ``centers`` a 1-D index coordinate named after the bin, fixed ``ranges`` a ``<bin>_ranges``
coordinate ``(bin, bounds)``, and time-varying bins (``centers``/``ranges`` naming another parameter) a
2-D ``(time, bin)`` (and 3-D ``(time, bin, bounds)``) coordinate named after that parameter.

Examples
--------
Parse a HAPI CSV answer (header included) without any server:

>>> from xspace.fetch.providers import hapi
>>> text = b'''#{"HAPI": "3.1", "status": {"code": 1200, "message": "OK"}, "format": "csv",
... #"parameters": [{"name": "Time", "type": "isotime", "units": "UTC", "fill": null, "length": 24},
... #  {"name": "B", "type": "double", "units": "nT", "fill": "-1e31", "size": [2]}]}
... 2020-01-01T00:00:00.000Z,1.5,-1e31
... 2020-01-01T00:00:01.000Z,2.5,3.0
... '''
>>> ds = hapi.parse_data(text)
>>> ds["B"].values.tolist(), str(ds.time.values[1])
([[1.5, nan], [2.5, 3.0]], '2020-01-01T00:00:01.000000000')

Read from a HAPI server (here the local stand-in of :mod:`xspace.testing.hapi_site`):

>>> import tempfile, xspace
>>> from xspace.testing import LocalServer
>>> from xspace.testing.hapi_site import HapiSite
>>> with tempfile.TemporaryDirectory() as tmp, LocalServer() as srv:
...     url = HapiSite().mount(srv)
...     with xspace.set_options(cache_dir=tmp, hapi_servers={"local": url}):
...         da = hapi.get(["local", "gen/scalar", "value"], np.datetime64("2020-01-01T00:00"),
...                       np.datetime64("2020-01-01T00:03"))
>>> da.values.tolist()
[26297280.0, 26297281.0, 26297282.0]
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr

from ...errors import FetchError, FileFormatError, InputError, OfflineError, ProductNotFound
from .._pieces import settled

__all__ = [
    "NAME",
    "STATUS_MESSAGES",
    "HAPIError",
    "HAPIFormatWarning",
    "servers",
    "server_url",
    "capabilities",
    "catalog",
    "info",
    "parse_header",
    "parse_isotime",
    "format_isotime",
    "parse_duration",
    "parse_data",
    "read_records",
    "to_dataset",
    "get",
    "inventory",
]

NAME = "hapi"

#: HAPI status codes and their standard messages (HAPI 3.1 §4.2).
STATUS_MESSAGES = {
    1200: "OK",
    1201: "OK - no data for time range",
    1400: "Bad request - user input error",
    1401: "Bad request - unknown API parameter name",
    1402: "Bad request - error in start time",
    1403: "Bad request - error in stop time",
    1404: "Bad request - start time equal to or after stop time",
    1405: "Bad request - time outside valid range",
    1406: "Bad request - unknown dataset id",
    1407: "Bad request - unknown dataset parameter",
    1408: "Bad request - too much time or data requested",
    1409: "Bad request - unsupported output format",
    1410: "Bad request - unsupported include value",
    1411: "Bad request - out of order or duplicate parameters",
    1412: "Bad request - unsupported resolve_references value",
    1413: "Bad request - unsupported depth value",
    1500: "Internal server error",
    1501: "Internal server error - upstream request error",
}

#: Answers for pieces that ended more than this many days ago are never revalidated.
IMMUTABLE_AFTER_DAYS = 30

_MIN_SPLIT = np.timedelta64(1, "s")  # 1408 re-splitting stops below this piece length
_MAX_SPLITS = 12  # ... or after this many halvings (at most 4096 pieces per piece of maxRequestDuration)


class HAPIError(FetchError):
    """A HAPI server answered with an error status.

    Attributes ``code`` (the HAPI status code, e.g. 1408, or None when only HTTP told), ``message``
    (the server's message), ``url`` and ``http_status``.
    """

    def __init__(self, message: str, code: int | None = None, server_message: str = "", url: str = "",
                 http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = server_message
        self.url = url
        self.http_status = http_status


class HAPINotFound(HAPIError, ProductNotFound):
    """HAPI 1406 (unknown dataset) or 1407 (unknown parameter)."""


class HAPIFormatWarning(UserWarning):
    """A HAPI answer broke the format but could still be read (e.g. a CSV row with missing columns)."""


# ---------------------------------------------------------------------------------------------- servers
def servers() -> dict[str, str]:
    """The HAPI servers known now: alias -> base URL (ending in ``/hapi``, no trailing slash).

    The same as :func:`xspace.fetch.hapi_servers`: the built-in list, the option ``hapi_url`` (or
    ``$XSPACE_HAPI_URL``) as ``"default"``, and the option ``hapi_servers`` on top; read at call time.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(hapi_servers={"mine": "http://127.0.0.1:8999/hapi/"}):
    ...     servers()["mine"]
    'http://127.0.0.1:8999/hapi'
    """
    from .. import hapi_servers

    return {alias: url.rstrip("/") for alias, url in hapi_servers().items()}


def server_url(alias: str) -> str:
    """Base URL of the server ``alias``; :class:`~xspace.errors.ProductNotFound` (with close matches) if unknown.

    Examples
    --------
    >>> server_url("cdaweb")
    'https://cdaweb.gsfc.nasa.gov/hapi'
    """
    known = servers()
    if alias in known:
        return known[alias]
    if alias.startswith(("http://", "https://")):
        return alias.rstrip("/")
    close = difflib.get_close_matches(alias, list(known), n=3)
    raise ProductNotFound(
        f"hapi: unknown server alias {alias!r}; known: {sorted(known)}"
        + (f" (did you mean {close}?)" if close else "")
        + "; add servers with xspace.set_options(hapi_servers={alias: url})"
    )


# ---------------------------------------------------------------------------------------------- JSON
def _status_error(doc: dict | None, url: str, http_status: int | None = None, text: str = "") -> HAPIError:
    status = (doc or {}).get("status") or {}
    code = status.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    if code is None:  # servers should say "HAPI 1406 ..." in the HTTP reason or body text
        m = re.search(r"HAPI\s+(1\d{3})", text)
        code = int(m.group(1)) if m else None
    message = str(status.get("message") or (STATUS_MESSAGES.get(code, "") if code else "") or text).strip()
    what = f"HAPI {code} " if code else ""
    full = f"{url}: {what}{message}".rstrip() + (f" (HTTP {http_status})" if http_status else "")
    cls = HAPINotFound if code in (1406, 1407) else HAPIError
    return cls(full, code, message, url, http_status)


def _doc_from_body(body: bytes) -> dict | None:
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("#"):
        try:
            return parse_header(body.lstrip())[0]
        except FileFormatError:
            return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _http_error(exc: Exception, url: str) -> FetchError:
    """Turn the cache's HTTP status error into a HAPIError when the body carries a HAPI status."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", b"") or b""
    if status is None:
        return exc  # connection refused, offline ...: keep as is
    doc = _doc_from_body(body)
    text = body.decode("utf-8", "replace") + " " + str(exc)
    if (doc is not None and isinstance(doc.get("status"), dict)) or re.search(r"HAPI\s+1\d{3}", text):
        return _status_error(doc, url, status, text)
    return exc


def _ttl() -> float:
    from ...options import get_options

    return float(get_options().get("cache_ttl", 3600.0))


def _get_json(base: str, endpoint: str, params: dict | None = None) -> dict:
    from .. import cache

    url = f"{base}/{endpoint}"
    try:
        content = cache.fetch_bytes(url, kind="json", ttl=_ttl(), params=params or None)
    except FetchError as exc:
        err = _http_error(exc, url)
        if err is exc:
            raise
        raise err from None
    try:
        doc = json.loads(content)
    except ValueError as exc:
        raise FetchError(f"{url}: expected a HAPI JSON answer, cannot parse it ({exc})") from None
    if not isinstance(doc, dict):
        raise FetchError(f"{url}: expected a HAPI JSON object, got {type(doc).__name__}")
    status = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    try:
        code = int(status.get("code", 1200))
    except (TypeError, ValueError):
        code = 1200
    if not 1200 <= code < 1300:
        cache.forget(cache.path_for(url, params or None))  # an error answered with HTTP 200: not kept
        raise _status_error(doc, url)
    return doc


def capabilities(alias_or_url: str) -> dict:
    """The server's ``capabilities`` answer (``outputFormats``, ``HAPI`` version), cached with a TTL.

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.testing.hapi_site import HapiSite
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
    ...     capabilities(HapiSite(version="2.1").mount(srv))["outputFormats"]
    ['csv', 'binary']
    """
    return _get_json(server_url(alias_or_url), "capabilities")


def _version(base: str) -> tuple[int, int]:
    text = str(capabilities(base).get("HAPI", "2.0"))
    m = re.match(r"(\d+)(?:\.(\d+))?", text)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else (2, 0)


def catalog(alias_or_url: str) -> list[dict]:
    """The datasets of a server: a list of ``{"id": ..., "title": ...}`` (cached with a TTL).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.testing.hapi_site import HapiSite
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
    ...     [d["id"] for d in catalog(HapiSite().mount(srv))][:2]
    ['gen/scalar', 'gen/vector']
    """
    return list(_get_json(server_url(alias_or_url), "catalog").get("catalog") or [])


def info(alias_or_url: str, dataset: str) -> dict:
    """The ``info`` answer of ``dataset`` (JSON references resolved), cached with a TTL.

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.testing.hapi_site import HapiSite
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
    ...     [p["name"] for p in info(HapiSite().mount(srv), "gen/vector")["parameters"]]
    ['Time', 'B']
    """
    base = server_url(alias_or_url)
    key = "dataset" if _version(base) >= (3, 0) else "id"
    return _resolve_refs(_get_json(base, "info", {key: dataset}))


def _resolve_refs(doc: dict) -> dict:
    """Replace HAPI 3 ``{"$ref": "#/definitions/name"}`` objects by their definitions."""
    defs = doc.get("definitions")
    if not isinstance(defs, dict):
        return doc

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/") and len(node) == 1:
                return walk(defs.get(ref[len("#/definitions/"):]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = {k: walk(v) for k, v in doc.items() if k != "definitions"}
    return out


# ---------------------------------------------------------------------------------------------- time
_ZERO, _NINE = ord("0"), ord("9")


def _digit(col: np.ndarray) -> np.ndarray:
    return (col >= _ZERO) & (col <= _NINE)


def parse_isotime(values) -> np.ndarray:
    """HAPI time strings (bytes or str, any truncation, year-month-day or year-day-of-year) -> datetime64[ns].

    Vectorised: the trailing ``Z`` is dropped in place, day-of-year dates are rewritten as January 1st
    plus an offset, hour 24 and leap seconds (``:60``) roll over to the next hour/minute.

    Examples
    --------
    >>> parse_isotime([b"2020-01-01T00:00:00.500Z", b"2020-032T12Z", b"2020-02Z", b"2016-12-31T23:59:60Z"])
    array(['2020-01-01T00:00:00.500000000', '2020-02-01T12:00:00.000000000',
           '2020-02-01T00:00:00.000000000', '2017-01-01T00:00:00.000000000'],
          dtype='datetime64[ns]')
    """
    a = np.asarray(values)
    if a.dtype.kind == "U":
        a = np.char.encode(a, "ascii")
    elif a.dtype.kind != "S":
        a = np.asarray([str(v) for v in a.ravel()], dtype="U").reshape(a.shape)
        a = np.char.encode(a, "ascii") if a.size else a.astype("S1")
    shape = a.shape
    a = a.ravel()
    n = a.size
    if n == 0:
        return np.empty(shape, "datetime64[ns]")
    width = max(a.dtype.itemsize, 20)
    buf = np.zeros((n, width + 2), np.uint8)
    raw = np.frombuffer(a.astype(f"S{width}").tobytes(), np.uint8).reshape(n, width)
    buf[:, :width] = raw
    # strip blanks/quotes anywhere at the ends is rare: only handle leading spaces by a slow path
    if (buf[:, 0] == ord(" ")).any():
        stripped = np.char.strip(a.astype(f"S{width}"))
        buf[:] = 0
        buf[:, :width] = np.frombuffer(stripped.astype(f"S{width}").tobytes(), np.uint8).reshape(n, width)
    buf[(buf == ord("Z")) | (buf == ord("z"))] = 0
    extra_days = None
    doy = (buf[:, 4] == ord("-")) & _digit(buf[:, 5]) & _digit(buf[:, 6]) & _digit(buf[:, 7]) & (
        (buf[:, 8] == 0) | (buf[:, 8] == ord("T"))
    )
    if doy.any():
        rows = buf[doy]
        days = (rows[:, 5] - _ZERO).astype(np.int64) * 100 + (rows[:, 6] - _ZERO) * 10 + (rows[:, 7] - _ZERO) - 1
        new = np.zeros_like(rows)
        new[:, :4] = rows[:, :4]
        new[:, 4:10] = np.frombuffer(b"-01-01", np.uint8)
        new[:, 10:] = rows[:, 8:-2]
        buf[doy] = new
        extra_days = np.zeros(n, np.int64)
        extra_days[doy] = days
    # hour 24 and leap seconds: numpy refuses them; roll over explicitly
    extra_ns = None
    h24 = (buf[:, 10] == ord("T")) & (buf[:, 11] == ord("2")) & (buf[:, 12] == ord("4"))
    leap = (buf[:, 16] == ord(":")) & (buf[:, 17] == ord("6")) & (buf[:, 18] == ord("0"))
    if h24.any() or leap.any():
        extra_ns = np.zeros(n, np.int64)
        buf[h24, 11:13] = np.frombuffer(b"23", np.uint8)
        extra_ns[h24] += 3600 * 10**9
        buf[leap, 17:19] = np.frombuffer(b"59", np.uint8)
        extra_ns[leap] += 10**9
    text = buf.view(f"S{width + 2}").ravel()
    try:
        out = text.astype("datetime64[ns]")
    except ValueError:
        bad = []
        for v in text[:1000]:
            try:
                np.datetime64(v.decode("ascii", "replace"), "ns")
            except ValueError:
                bad.append(v.decode("ascii", "replace"))
                break
        raise FileFormatError(
            f"hapi: cannot read {bad[:1] or text[:1]} as a HAPI time; expected ISO 8601 "
            "'yyyy-mm-ddThh:mm:ss.sssZ' or 'yyyy-dddThh:mm:ss.sssZ'"
        ) from None
    if extra_days is not None:
        out = out + extra_days.astype("timedelta64[D]")
    if extra_ns is not None:
        out = out + extra_ns.astype("timedelta64[ns]")
    return out.reshape(shape)


def format_isotime(t) -> str:
    """A HAPI request time: ``yyyy-mm-ddThh:mm:ss.sssZ``, with nanoseconds only when needed.

    Examples
    --------
    >>> format_isotime(np.datetime64("2020-01-01T00:00:01.5"))
    '2020-01-01T00:00:01.500Z'
    >>> format_isotime(np.datetime64("2020-01-01T00:00:01.000000001"))
    '2020-01-01T00:00:01.000000001Z'
    """
    t = np.datetime64(t, "ns")
    text = str(t)
    head, frac = text.split(".")
    frac = frac[:3] if frac[3:].strip("0") == "" else frac
    return f"{head}.{frac}Z"


_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> np.timedelta64:
    """An ISO 8601 duration (``maxRequestDuration``, ``cadence``) as timedelta64[ns].

    Months count 28 days and years 365 days, so a split by this duration never exceeds the real limit.

    Examples
    --------
    >>> int(parse_duration("P1DT12H") / np.timedelta64(1, "h"))
    36
    >>> int(parse_duration("PT0.5S") / np.timedelta64(1, "ms"))
    500
    """
    m = _DURATION.match(str(text).strip().upper())
    if not m or not any(m.groupdict().values()):
        raise InputError(f"hapi: cannot read {text!r} as an ISO 8601 duration (expected e.g. 'P1D', 'PT1H')")
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    seconds = (
        g["y"] * 365 * 86400 + g["mo"] * 28 * 86400 + g["w"] * 7 * 86400 + g["d"] * 86400
        + g["h"] * 3600 + g["mi"] * 60 + g["s"]
    )
    return np.timedelta64(int(round(seconds * 1e9)), "ns")


# ---------------------------------------------------------------------------------------------- parsing
def parse_header(content: bytes) -> tuple[dict | None, int]:
    """The ``#``-prefixed JSON header of a data answer and the offset where the data starts.

    Returns ``(None, 0)`` when there is no header.

    Examples
    --------
    >>> parse_header(b'#{"HAPI": "3.1",\\n# "parameters": []}\\n2020-01-01Z,1\\n')
    ({'HAPI': '3.1', 'parameters': []}, 37)
    """
    if not content[:1] == b"#":
        return None, 0
    lines = []
    pos = 0
    size = len(content)
    while pos < size and content[pos:pos + 1] == b"#":
        end = content.find(b"\n", pos)
        if end < 0:
            end = size
        lines.append(content[pos + 1:end])
        pos = end + 1
    pos = min(pos, size)
    text = b"\n".join(lines).decode("utf-8", "replace")
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise FileFormatError(f"hapi: the '#' header of the data answer is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise FileFormatError("hapi: the '#' header of the data answer is not a JSON object")
    return _resolve_refs(header), pos


def _size(p: dict) -> tuple[int, ...]:
    size = p.get("size")
    if size is None:
        return ()
    if isinstance(size, int):
        return (size,)
    return tuple(int(s) for s in size)


def _record_dtype(params: list[dict], fmt: str) -> np.dtype:
    fields = []
    for i, p in enumerate(params):
        t = str(p.get("type", "double")).lower()
        shape = _size(p)
        if t == "double":
            base = "<f8"
        elif t == "integer":
            base = "<i4"
        elif t in ("isotime", "string"):
            length = p.get("length")
            if fmt == "binary":
                if not length:
                    raise FileFormatError(
                        f"hapi: parameter {p.get('name')!r} of type {t} has no 'length': cannot read binary data"
                    )
                base = f"S{int(length)}"
            else:
                base = f"S{max(int(length or 0), 64)}" if t == "isotime" else f"U{max(int(length or 0), 32)}"
        else:
            raise FileFormatError(
                f"hapi: parameter {p.get('name')!r} has unknown type {t!r}; expected double, integer, string or isotime"
            )
        fields.append((f"f{i}", base, shape) if shape else (f"f{i}", base))
    return np.dtype(fields)


def _columns(dtype: np.dtype) -> int:
    n = 0
    for name in dtype.names:
        sub = dtype.fields[name][0]
        n += int(np.prod(sub.shape)) if sub.shape else 1
    return n


def _read_csv(payload: bytes, dtype: np.dtype, what: str) -> np.ndarray:
    text = payload.decode("utf-8", "replace")
    if not text.strip():
        return np.zeros(0, dtype)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    try:
        return np.loadtxt(io.StringIO(text), dtype=dtype, delimiter=",", quotechar='"', comments=None,
                          ndmin=1, encoding=None)
    except ValueError:
        pass
    # rows with a wrong number of columns (or odd values): the slow, tolerant path
    ncols = _columns(dtype)
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    short = sum(len(r) < ncols for r in rows)
    long = sum(len(r) > ncols for r in rows)
    if short or long:
        warnings.warn(
            f"hapi: {what}: {short} CSV row(s) with fewer and {long} with more than the {ncols} columns the "
            "header describes; missing values are read as fill (NaN), extra ones are dropped",
            HAPIFormatWarning,
            stacklevel=4,
        )
    table = np.array([(r + [""] * ncols)[:ncols] for r in rows], dtype=object).reshape(len(rows), ncols)
    out = np.zeros(len(rows), dtype)
    col = 0
    for name in dtype.names:
        sub = dtype.fields[name][0]
        shape = sub.shape
        k = int(np.prod(shape)) if shape else 1
        block = table[:, col:col + k]
        col += k
        base = sub.base if shape else sub
        if base.kind in "SU":
            vals = np.array([str(v).strip() for v in block.ravel()], dtype=base)
        else:
            flat = [str(v).strip() for v in block.ravel()]
            vals = np.array([float(v) if v else np.nan for v in flat], dtype=float)
            if base.kind == "i":
                vals = np.where(np.isnan(vals), 0, vals).astype(base)
        out[name] = vals.reshape((len(rows),) + shape) if shape else vals.reshape(len(rows))
    return out


def _sniff_binary(payload: bytes, dtype: np.dtype, ncols: int) -> bool:
    """Whether an answer of unknown format is binary: CSV is printable text with commas between values."""
    head = payload[:65536].lstrip(b"\r\n")
    if not head:
        return False
    line = head.split(b"\n", 1)[0]
    if b"\x00" in line:
        return True  # NUL padding or raw number bytes: not text
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if ncols > 1 and b"," in line:
        return False
    if ncols == 1 and len(line) <= 64:
        return False
    return len(payload) % dtype.itemsize == 0


def read_records(content: bytes, params: list[dict] | None = None, *, format: str | None = None,
                 what: str = "data") -> tuple[np.ndarray, list[dict], dict | None]:
    """Raw records of one HAPI data answer: ``(structured array, parameters, header)``.

    Field ``f<i>`` of the array holds parameter ``i`` (``isotime``/``string`` as bytes, not decoded).

    Parameters
    ----------
    content : bytes
        The answer, with or without its ``#`` header.
    params : list of dict, optional
        The parameters (time first) when the answer has no header.
    format : {"csv", "binary"}, optional
        Default: the header's ``format``, else sniffed (a header may say ``csv`` for a binary answer).

    Examples
    --------
    >>> recs, params, header = read_records(b"2020-01-01T00:00:00Z,1,2\\n", [
    ...     {"name": "Time", "type": "isotime", "length": 20}, {"name": "v", "type": "integer", "size": [2]}])
    >>> recs["f1"].tolist()
    [[1, 2]]
    """
    head = content[:64].lstrip()
    if head.startswith(b"{"):  # a JSON status (some servers answer errors with HTTP 200)
        doc = _doc_from_body(content)
        code = ((doc or {}).get("status") or {}).get("code")
        if code is not None and int(code) >= 1400:
            raise _status_error(doc, what)
        if code is not None and int(code) == 1201 and not (doc or {}).get("data"):
            content = b""
        else:
            raise FileFormatError(f"hapi: {what}: got a JSON answer; only the csv and binary formats are read")
    header, offset = parse_header(content)
    payload = memoryview(content)[offset:]
    if header is not None and header.get("parameters"):
        hparams = header["parameters"]
        if params is not None and [p.get("name") for p in params] != [p.get("name") for p in hparams]:
            params = hparams  # trust what the answer says it holds
        params = params or hparams
    if not params:
        raise FileFormatError(f"hapi: {what}: no header and no parameter list: cannot read the records")
    status = (header or {}).get("status") or {}
    if status.get("code") is not None and int(status["code"]) >= 1400:
        raise _status_error(header, what)
    payload = bytes(payload)
    dtype_csv = _record_dtype(params, "csv")
    said = (header or {}).get("format")
    if format is not None and said in ("csv", "binary") and said != format:
        format = None  # the answer contradicts the request (AMDA's binary says "csv"): look at the bytes
    if format is None:
        format = "binary" if _sniff_binary(payload, dtype_csv, _columns(dtype_csv)) else "csv"
    if format == "binary":
        dtype = _record_dtype(params, "binary")
        usable = len(payload) - len(payload) % dtype.itemsize
        if usable != len(payload):
            raise FileFormatError(
                f"hapi: {what}: binary answer of {len(payload)} bytes is not a whole number of "
                f"{dtype.itemsize}-byte records (truncated?)"
            )
        recs = np.frombuffer(payload, dtype=dtype)
    elif format == "csv":
        recs = _read_csv(payload, dtype_csv, what)
    else:
        raise InputError(f"hapi: format must be 'csv' or 'binary', got {format!r}")
    return recs, params, header


def _fill_value(p: dict):
    fill = p.get("fill")
    if fill is None:
        return None
    numeric = str(p.get("type", "double")).lower() in ("double", "integer")
    if numeric and isinstance(fill, str) and fill.strip().lower() in ("", "null", "none"):
        return None
    return fill


def _decode(p: dict, raw: np.ndarray) -> tuple[np.ndarray, Any, dict]:
    """Values of one parameter with fills decoded; returns (values, FILLVAL or None, encoding)."""
    t = str(p.get("type", "double")).lower()
    fill = _fill_value(p)
    enc: dict = {}
    if t == "double":
        values = np.array(raw, dtype=np.float64)
        if fill is not None:
            try:
                f = float(fill)
            except (TypeError, ValueError):
                raise FileFormatError(f"hapi: parameter {p.get('name')!r}: fill {fill!r} is not a number") from None
            if not np.isnan(f):
                mask = values == f
                if abs(f) >= 1e30:  # fills stored at float32 precision upstream
                    mask |= np.isclose(values, f, rtol=1e-6, atol=0.0)
                values[mask] = np.nan
            enc["FILLVAL"] = f
            enc["dtype"] = "float64"
        return values, fill, enc
    if t == "integer":
        values = np.array(raw, dtype=np.int32)
        if fill is not None:
            f = int(float(fill))
            out = values.astype(np.float64)
            out[values == f] = np.nan
            enc["FILLVAL"] = f
            enc["dtype"] = "int32"
            return out, fill, enc
        return values, None, enc
    if t == "isotime":
        text = np.asarray(raw)
        if text.dtype.kind == "U":
            text = np.char.encode(text, "ascii")
        mask = None
        if fill is not None:
            mask = np.char.strip(text) == str(fill).strip().encode("ascii", "replace")
            text = np.where(mask, b"1970-01-01T00:00:00Z", text)
        values = parse_isotime(text)
        if mask is not None and mask.any():
            values[mask] = np.datetime64("NaT")
        if fill is not None:
            enc["FILLVAL"] = str(fill)
        return values, fill, enc
    # string: bytes (binary, null-padded) or str (CSV)
    arr = np.asarray(raw)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8", "replace")
    return arr.astype(str), fill, enc


def _as_attr(value):
    if isinstance(value, (dict, list)) and not (
        isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)
    ):
        return json.dumps(value)
    if value is None:
        return ""
    return value


def _units(units):
    if isinstance(units, list):
        flat = list(np.ravel(np.array(units, dtype=object)))
        if len(set(map(str, flat))) == 1:
            return str(flat[0]) if flat[0] is not None else ""
        return [str(u) if u is not None else "" for u in flat]
    return "" if units is None else str(units)


_PARAM_KEYS = {"name", "type", "units", "size", "fill", "description", "bins", "length", "label"}


def _param_attrs(p: dict, var_type: str) -> dict:
    attrs = {"FIELDNAM": str(p.get("name", "")), "CATDESC": str(p.get("description") or p.get("name") or ""),
             "UNITS": _units(p.get("units")), "VAR_TYPE": var_type, "HAPI_type": str(p.get("type", "double"))}
    label = p.get("label")
    if isinstance(label, str):
        attrs["LABLAXIS"] = label
    elif isinstance(label, list):
        attrs["HAPI_label"] = [str(v) for v in np.ravel(np.array(label, dtype=object))]
    if p.get("length") is not None:
        attrs["HAPI_length"] = int(p["length"])
    for k, v in p.items():
        if k not in _PARAM_KEYS:
            attrs[k if k.startswith("x_") else f"HAPI_{k}"] = _as_attr(v)
    return attrs


def _unique(name: str, taken) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def to_dataset(records: np.ndarray, params: list[dict], header: dict | None = None,
               start=None, stop=None, times: np.ndarray | None = None) -> xr.Dataset:
    """Build the xarray Dataset of decoded records (see :func:`read_records`), optionally cut to ``[start, stop)``.

    ``times`` may give the already decoded time column.

    Examples
    --------
    >>> params = [{"name": "Time", "type": "isotime", "length": 24},
    ...           {"name": "flux", "type": "double", "size": [2], "units": "1/s", "fill": "-1",
    ...            "bins": [{"name": "energy", "units": "keV", "centers": [1.0, 2.0],
    ...                      "ranges": [[0.5, 1.5], [1.5, 2.5]]}]}]
    >>> recs, params, _ = read_records(b"2020-01-01T00:00:00.000Z,5,-1\\n", params)
    >>> ds = to_dataset(recs, params)
    >>> ds.flux.dims, ds.energy.values.tolist(), ds.flux.values.tolist(), ds.flux.attrs["DEPEND_1"]
    (('time', 'energy'), [1.0, 2.0], [[5.0, nan]], 'energy')
    """
    time_param = params[0]
    if times is None:
        times = _decode(time_param, records["f0"])[0]
    keep = None
    if start is not None:
        keep = times >= np.datetime64(start, "ns")
    if stop is not None:
        k2 = times < np.datetime64(stop, "ns")
        keep = k2 if keep is None else keep & k2
    if keep is not None and not keep.all():
        records = records[keep]
        times = times[keep]
    by_name = {p["name"]: (i, p) for i, p in enumerate(params)}

    # which parameters are the time-varying centers/ranges of another one, and on which dimension
    role: dict[str, tuple[str, str]] = {}  # name -> ("centers"|"ranges", dim)
    dims_of: dict[str, tuple[str, ...]] = {}
    dim_sig: dict[str, Any] = {}
    coords: dict[str, xr.Variable] = {}
    dep_attrs: dict[str, dict] = {}
    for i, p in enumerate(params[1:], start=1):
        shape = _size(p)
        bins = p.get("bins") or []
        dims = []
        dep = {}
        for j, n in enumerate(shape):
            b = bins[j] if j < len(bins) and isinstance(bins[j], dict) else {}
            centers, ranges = b.get("centers"), b.get("ranges")
            base = str(b.get("name") or f"{p['name']}_dim{j + 1}")
            sig = (n, json.dumps(centers), json.dumps(ranges), b.get("units"))
            dim = base
            if dim in by_name or dim == "time":  # a dimension (and its coordinate) cannot take a variable's name
                dim = _unique(f"{base}_bin", set(dim_sig) | set(by_name))
            if dim in dim_sig and dim_sig[dim] != sig:
                dim = _unique(f"{p['name']}_{base}", set(dim_sig) | set(by_name))
            dim_sig.setdefault(dim, sig)
            dims.append(dim)
            battrs = {"FIELDNAM": base, "CATDESC": str(b.get("description") or b.get("label") or base),
                      "UNITS": _units(b.get("units")), "VAR_TYPE": "support_data"}
            if b.get("label"):
                battrs["LABLAXIS"] = str(b["label"])
            if isinstance(centers, list) and centers and dim not in coords:
                vals = np.array([np.nan if c is None else c for c in centers], dtype=np.float64)
                if vals.size == n:
                    coords[dim] = xr.Variable((dim,), vals, battrs)
            if isinstance(ranges, list) and ranges and f"{dim}_ranges" not in coords:
                vals = np.array([[np.nan, np.nan] if r is None else r for r in ranges], dtype=np.float64)
                if vals.shape == (n, 2):
                    coords[f"{dim}_ranges"] = xr.Variable((dim, "bounds"), vals,
                                                          dict(battrs, CATDESC=f"{base} bin ranges"))
            if isinstance(centers, str) and centers in by_name:
                role.setdefault(centers, ("centers", dim))
                dep[f"DEPEND_{j + 1}"] = centers
            elif isinstance(centers, list) and dim in coords:
                dep[f"DEPEND_{j + 1}"] = dim
            if isinstance(ranges, str) and ranges in by_name:
                role.setdefault(ranges, ("ranges", dim))
        dims_of[p["name"]] = tuple(dims)
        dep_attrs[p["name"]] = dep

    data_vars = {}
    n = len(times)
    for i, p in enumerate(params[1:], start=1):
        name = p["name"]
        values, fill, enc = _decode(p, records[f"f{i}"])
        shape = _size(p)
        values = values.reshape((n,) + shape)
        if name in role:
            kind, dim = role[name]
            if kind == "centers" and values.ndim == 2:
                dims = ("time", dim)
            elif kind == "ranges" and values.ndim == 3 and values.shape[2] == 2:
                dims = ("time", dim, "bounds")
            else:
                dims = ("time",) + dims_of[name]
            attrs = _param_attrs(p, "support_data")
        else:
            dims = ("time",) + dims_of[name]
            attrs = _param_attrs(p, "data")
        attrs["DEPEND_0"] = "time"
        attrs.update(dep_attrs.get(name, {}))
        if p.get("bins") and len(shape) == 1 and name not in role:
            attrs["DISPLAY_TYPE"] = "spectrogram"
        elif name not in role:
            attrs["DISPLAY_TYPE"] = "time_series"
        if fill is not None and "FILLVAL" not in enc:
            attrs["FILLVAL"] = str(fill)
        var = xr.Variable(dims, values, attrs)
        var.encoding.update(enc)
        if name in role:
            coords[name] = var
        else:
            data_vars[name] = var
    tattrs = {"FIELDNAM": str(time_param.get("name", "Time")), "CATDESC": "time",
              "UNITS": _units(time_param.get("units") or "UTC"), "VAR_TYPE": "support_data",
              "HAPI_type": "isotime"}
    if time_param.get("length") is not None:
        tattrs["HAPI_length"] = int(time_param["length"])
    coords["time"] = xr.Variable(("time",), times, tattrs)
    gattrs = {}
    for k, v in (header or {}).items():
        if k in ("parameters", "status", "format", "definitions"):
            continue
        gattrs[k if k.startswith("x_") else ("HAPI" if k == "HAPI" else f"HAPI_{k}")] = _as_attr(v)
    if header and header.get("description"):
        gattrs["TEXT"] = str(header["description"])
    return xr.Dataset(data_vars, coords=coords, attrs=gattrs)


def parse_data(content: bytes, info: dict | None = None, *, format: str | None = None,
               parameters: list[str] | None = None, start=None, stop=None) -> xr.Dataset:
    """Parse one HAPI ``data`` answer (CSV or binary, with or without its ``#`` header) into a Dataset.

    Parameters
    ----------
    content : bytes
        The answer.
    info : dict, optional
        The dataset's ``info`` answer, needed when the answer has no header.
    format : {"csv", "binary"}, optional
        Default: the header's ``format``, else sniffed.
    parameters : list of str, optional
        Without a header: the parameters the answer holds (the time parameter is added).
    start, stop : datetime64, optional
        Keep only records in ``[start, stop)``.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> ds = parse_data(b"2020-001T00:00:00Z,abc,7\\n", {"parameters": [
    ...     {"name": "Time", "type": "isotime", "length": 18},
    ...     {"name": "tag", "type": "string", "length": 3, "fill": "???"},
    ...     {"name": "n", "type": "integer", "fill": None}]})
    >>> ds.tag.values.tolist(), ds.n.values.tolist(), ds.n.dtype
    (['abc'], [7], dtype('int32'))
    """
    params = None
    if info is not None:
        params = list(info.get("parameters") or [])
        if parameters:
            wanted = set(parameters)
            params = [params[0]] + [p for p in params[1:] if p["name"] in wanted]
    recs, params, header = read_records(content, params, format=format)
    meta = dict(info or {})
    if header:
        meta.update({k: v for k, v in header.items() if k not in meta or k in ("status",)})
    return to_dataset(recs, params, meta, start=start, stop=stop)


# ---------------------------------------------------------------------------------------------- requests
def _resolve(base: str, parts: list[str]) -> tuple[str, str | None, dict]:
    """(dataset id, parameter or None, info) for the path parts after the server alias."""
    if not parts or not any(parts):
        raise ProductNotFound(f"hapi: no dataset given after the server in {base}; expected "
                              "'hapi/<server>/<dataset>[/<parameter>]'")
    parts = [p for p in "/".join(parts).split("/")]
    ids = [str(d.get("id")) for d in catalog(base)]
    known = set(ids)
    for k in range(len(parts), 0, -1):
        cand = "/".join(parts[:k])
        if cand in known:
            dataset, rest = cand, parts[k:]
            break
    else:
        wanted = "/".join(parts)
        close = difflib.get_close_matches(wanted, ids, n=5) or difflib.get_close_matches(parts[0], ids, n=5)
        raise ProductNotFound(f"hapi: no dataset {wanted!r} in the catalog of {base}"
                              + (f"; close matches: {close}" if close else ""))
    meta = info(base, dataset)
    if not rest:
        return dataset, None, meta
    param = "/".join(rest)
    names = [p["name"] for p in meta.get("parameters", [])]
    if param not in names[1:]:
        close = difflib.get_close_matches(param, names[1:], n=5)
        raise ProductNotFound(f"hapi: dataset {dataset!r} of {base} has no parameter {param!r}"
                              + (f"; close matches: {close}" if close else f"; parameters: {names[1:]}"))
    return dataset, param, meta


def _needed(meta: dict, param: str | None) -> list[str] | None:
    """Parameter names to request (info order), with the parameters its time-varying bins name."""
    if param is None:
        return None
    params = meta["parameters"]
    byname = {p["name"]: p for p in params}
    need = {param}
    for b in byname[param].get("bins") or []:
        if isinstance(b, dict):
            for key in ("centers", "ranges"):
                if isinstance(b.get(key), str) and b[key] in byname:
                    need.add(b[key])
    return [p["name"] for p in params[1:] if p["name"] in need]


def _pieces(start: np.datetime64, stop: np.datetime64, max_duration: np.timedelta64 | None):
    if max_duration is None or max_duration <= np.timedelta64(0, "ns") or stop - start <= max_duration:
        return [(start, stop)]
    out = []
    t = start
    while t < stop:
        t1 = min(t + max_duration, stop)
        out.append((t, t1))
        t = t1
    return out


#: Data requests a server refused with 1408 (too much data) in this process: asked for in halves at once
_RESPLIT: set[str] = set()
_RESPLIT_LOCK = threading.Lock()


class _Request:
    def __init__(self, base: str, dataset: str, names: list[str] | None, meta: dict, fmt: str, v3: bool):
        self.base, self.dataset, self.names, self.meta, self.fmt, self.v3 = base, dataset, names, meta, fmt, v3
        params = meta["parameters"]
        self.params = params if names is None else [params[0]] + [p for p in params[1:] if p["name"] in names]

    def query(self, t0, t1) -> dict:
        q = {"dataset" if self.v3 else "id": self.dataset}
        if self.names is not None:
            q["parameters"] = ",".join(self.names)
        q["start" if self.v3 else "time.min"] = format_isotime(t0)
        q["stop" if self.v3 else "time.max"] = format_isotime(t1)
        if self.fmt != "csv":
            q["format"] = self.fmt
        q["include"] = "header"
        return q

    def _halves(self, t0, t1, depth: int, key: str | None = None):
        if key is not None:  # the server refused this piece with 1408: go to its halves next time at once
            with _RESPLIT_LOCK:
                if len(_RESPLIT) > 100_000:
                    _RESPLIT.clear()
                _RESPLIT.add(key)
        mid = t0 + (t1 - t0) // 2
        return self.fetch(t0, mid, depth + 1) + self.fetch(mid, t1, depth + 1)

    def fetch(self, t0, t1, depth: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """(records, times) of [t0, t1), re-split in halves on 1408."""
        splittable = t1 - t0 > _MIN_SPLIT and depth < _MAX_SPLITS
        from .. import cache

        url = f"{self.base}/data"
        q = self.query(t0, t1)
        key = f"{url}?{_qs(q)}"
        if splittable and key in _RESPLIT:
            return self._halves(t0, t1, depth)
        immutable = settled(t1, IMMUTABLE_AFTER_DAYS)
        try:
            path = cache.fetch_file(url, params=q, kind="hapi", immutable=immutable, ttl=_ttl())
        except OfflineError:
            # the server may have answered 1408 for this piece when online: its halves are then what the
            # cache holds (depth-first, so a piece cached nowhere fails after one look-up per level)
            if splittable:
                return self._halves(t0, t1, depth)
            raise
        except FetchError as exc:
            err = _http_error(exc, url)
            if isinstance(err, HAPIError) and err.code == 1201:
                return []
            if isinstance(err, HAPIError) and err.code == 1408 and splittable:
                return self._halves(t0, t1, depth, key)
            if err is exc:
                raise
            raise err from None
        content = path.read_bytes()
        try:
            recs, params, header = read_records(content, self.params, format=self.fmt, what=f"{url}?{_qs(q)}")
        except HAPIError as exc:
            cache.forget(path)
            if exc.code == 1408 and splittable:
                return self._halves(t0, t1, depth, key)
            raise
        except FileFormatError as exc:
            cache.forget(path)  # never keep an answer we cannot read
            raise FetchError(f"hapi: {url}?{_qs(q)}: {exc}") from None
        code = ((header or {}).get("status") or {}).get("code")
        if (code is not None and int(code) == 1201) or len(recs) == 0:
            return []
        if [p["name"] for p in params] != [p["name"] for p in self.params]:
            cache.forget(path)
            raise FetchError(f"hapi: {url}?{_qs(q)} answered parameters {[p['name'] for p in params]}, "
                             f"expected {[p['name'] for p in self.params]}")
        try:
            times = _decode(self.params[0], recs["f0"])[0]
        except FileFormatError as exc:
            cache.forget(path)
            raise FetchError(f"hapi: {url}?{_qs(q)}: {exc}") from None
        keep = (times >= t0) & (times < t1)  # servers that include stop (or pad) would duplicate records
        if not keep.all():
            recs, times = recs[keep], times[keep]
        return [(recs, times)]


def _fetch_parallel(req: _Request, pieces, what: str):
    """Fetch the pieces with at most ``max_connections_per_host`` threads, in order, with a progress bar."""
    from ...options import get_options

    opts = get_options()
    workers = max(1, min(len(pieces), int(opts.get("max_connections_per_host", 4))))
    from .._progress import progress_bar

    bar = progress_bar(len(pieces), f"hapi {what}", "request", minimum=1)

    def one(piece):
        out = req.fetch(*piece)
        if bar is not None:
            bar.update(1)
        return out

    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, pieces))
    finally:
        if bar is not None:
            bar.close()


def _qs(q: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(q)


def _empty_records(params: list[dict]) -> np.ndarray:
    return np.zeros(0, _record_dtype(params, "binary" if all(
        p.get("length") or str(p.get("type")).lower() not in ("isotime", "string") for p in params) else "csv"))


def get(parts: list[str], start, stop, *, load: bool = False, format: str | None = None, **options):
    """Data of ``hapi/<alias>/<dataset>[/<parameter>]`` in ``[start, stop)`` (eager: fetched and parsed now).

    Parameters
    ----------
    parts : list of str
        The product path after ``"hapi"``: ``[alias, *dataset id parts, parameter?]``.
    start, stop : numpy.datetime64
        The interval (``stop`` exclusive).
    load : bool
        Ignored: HAPI results are always loaded (the server gives no record count before the data).
    format : {"csv", "binary"}, optional
        Force a data format; default binary when the server offers it.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        A DataArray for a parameter, a Dataset for a dataset; empty (right dims and dtypes) when there is
        no data or ``start == stop``.

    Raises
    ------
    ProductNotFound
        Unknown server alias, dataset or parameter (with close matches).
    HAPIError
        The server answered a HAPI error (its code and message in ``.code`` and ``.message``).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.testing.hapi_site import HapiSite
    >>> with tempfile.TemporaryDirectory() as tmp, LocalServer() as srv:
    ...     url = HapiSite().mount(srv)
    ...     with xspace.set_options(cache_dir=tmp, hapi_servers={"local": url}):
    ...         ds = get(["local", "gen/vector"], np.datetime64("2020-01-01T00:00"),
    ...                  np.datetime64("2020-01-01T00:00:02"))
    >>> ds.B.dims, ds.B.values[0].tolist()
    (('time', 'component'), [26297280.0, -26297280.0, 0.0])
    """
    if not parts:
        raise ProductNotFound(f"hapi: no server given; expected 'hapi/<server>/<dataset>[/<parameter>]' "
                              f"with a server among {sorted(servers())}")
    start, stop = np.datetime64(start, "ns"), np.datetime64(stop, "ns")
    if stop < start:
        raise InputError(f"hapi: stop ({stop}) is before start ({start})")
    base = server_url(parts[0])
    dataset, param, meta = _resolve(base, list(parts[1:]))
    names = _needed(meta, param)
    caps = capabilities(base)
    v3 = _version(base) >= (3, 0)
    if format is None:
        formats = [str(f).lower() for f in caps.get("outputFormats") or ["csv"]]
        format = "binary" if "binary" in formats else "csv"
    if format not in ("csv", "binary"):
        raise InputError(f"hapi: format must be 'csv' or 'binary', got {format!r}")
    req = _Request(base, dataset, names, meta, format, v3)
    parts_: list[tuple[np.ndarray, np.ndarray]] = []
    if stop > start:
        mrd = meta.get("maxRequestDuration")
        max_duration = parse_duration(mrd) if mrd else None
        pieces = _pieces(start, stop, max_duration)
        if len(pieces) == 1:
            results = [req.fetch(*pieces[0])]
        else:
            results = _fetch_parallel(req, pieces, f"{dataset}")
        for r in results:
            parts_.extend(r)
    header = {k: v for k, v in meta.items() if k not in ("parameters", "status")}
    if parts_:
        first = parts_[0][0].dtype
        recs = np.concatenate([r if r.dtype == first else r.astype(first) for r, _ in parts_])
        times = np.concatenate([t for _, t in parts_])
    else:
        recs, times = _empty_records(req.params), None
    ds = to_dataset(recs, req.params, header, start=start, stop=stop, times=times)
    ds.attrs.update(Logical_source=dataset, HAPI_dataset=dataset, HAPI_server=base, HAPI_format=format)
    if param is None:
        return ds
    da = ds[param]
    da.attrs = dict(da.attrs)
    return da


# ---------------------------------------------------------------------------------------------- inventory
def inventory():
    """The provider's inventory node: one child per server, datasets from ``catalog``, parameters from ``info``.

    Children are loaded lazily (``catalog`` when a server node is opened, ``info`` when a dataset node is).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.testing.hapi_site import HapiSite
    >>> with tempfile.TemporaryDirectory() as tmp, LocalServer() as srv:
    ...     url = HapiSite().mount(srv)
    ...     with xspace.set_options(cache_dir=tmp, hapi_servers={"local": url}):
    ...         node = inventory()["local"]["gen/vector"]["B"]
    >>> node.path, node.meta["units"]
    ('hapi/local/gen/vector/B', 'nT')
    """
    from ..inventory import Node

    def server_children(alias):
        def load():
            out = []
            for d in catalog(alias):
                did = str(d.get("id"))
                meta = {"description": str(d.get("title") or did)}
                out.append(Node(did, f"{NAME}/{alias}/{did}", "dataset", meta=meta,
                                children=_dataset_children(alias, did)))
            return out
        return load

    def _dataset_children(alias, did):
        def load():
            meta = info(alias, did)
            out = []
            for p in (meta.get("parameters") or [])[1:]:
                pm = {"description": str(p.get("description") or ""), "units": _units(p.get("units")),
                      "type": str(p.get("type", "")), "size": list(_size(p))}
                for k in ("startDate", "stopDate", "cadence"):
                    if meta.get(k):
                        pm[{"startDate": "start", "stopDate": "stop"}.get(k, k)] = meta[k]
                if isinstance(pm["units"], list):
                    pm["units"] = ", ".join(pm["units"])
                out.append(Node(p["name"], f"{NAME}/{alias}/{did}/{p['name']}", "parameter", meta=pm))
            dm = {{"startDate": "start", "stopDate": "stop"}.get(k, k): meta[k]
                  for k in ("startDate", "stopDate", "cadence") if meta.get(k)}
            # a node as the answer: the dataset node adopts the coverage and cadence of ``info``
            return Node(did, f"{NAME}/{alias}/{did}", "dataset", meta=dm, children=out) if dm else out
        return load

    children = [Node(alias, f"{NAME}/{alias}", "group", meta={"url": url, "description": f"HAPI server {url}"},
                     children=server_children(alias))
                for alias, url in servers().items()]
    return Node(NAME, NAME, "provider", meta={"description": "HAPI servers"}, children=children)
