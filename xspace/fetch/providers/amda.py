"""AMDA provider: parameters of CDPP/AMDA through its REST interface, with the "in progress -> poll" flow.

Product paths are ``"amda/<parameter id>"`` — the ``xml:id`` of a ``parameter`` in AMDA's observatory
data tree, e.g. ``"amda/imf"`` (ACE IMF, GSE, 16 s). :func:`get` returns a DataArray ``(Epoch,)`` or
``(Epoch, component)`` with the parameter's units and description as ISTP attributes.

Protocol (base URL ``xspace.fetch.base_url("amda")``, by default https://amda.irap.omp.eu/php/rest):

1. ``GET {base}/auth.php`` -> a token (plain text), reused for :data:`TOKEN_LIFETIME` seconds;
2. ``GET {base}/getParameter.php?startTime=..&stopTime=..&parameterID=..&token=..&outputFormat=ASCII
   &timeFormat=ISO8601&gzip=0`` -> JSON: ``{"success": true, "dataFileURLs": "<url>"}`` when the file
   is ready, ``{"success": true, "status": "in progress", "id": "<process id>"}`` when AMDA is still
   computing it (batch mode), or ``{"success": false, "message": "..."}``;
3. while in progress: ``GET {base}/getStatus.php?id=<process id>&token=..`` with a growing delay
   (:data:`POLL_FIRST_DELAY` doubling up to :data:`POLL_MAX_DELAY`) and a bound on the total wait
   (:data:`POLL_TIMEOUT`, option ``poll_timeout``), until ``"status": "done"`` and ``dataFileURLs``;
4. ``GET <dataFileURLs>`` -> the ASCII file (``#`` header lines ``KEY : value``, ``DATA_COLUMNS``, then
   a time column and the values) or, with ``output_format="CDF"``, a CDF read with
   :func:`xspace.open_cdf`.

The inventory comes from ``GET {base}/getObsDataTree.php`` (the URL of the XML tree) and that XML.

Requests are split into pieces aligned on a fixed grid whose step depends on the dataset's sampling
(about :data:`TARGET_SAMPLES` samples per piece, between 1 hour and 32 days); each piece is cached under
``amda/<parameter>/<format>/`` in the cache folder: pieces that ended more than
:data:`IMMUTABLE_AFTER_DAYS` days ago are kept for good, recent ones re-requested after ``cache_ttl``.
A cached piece needs no data request (not even a token). Results are loaded (not dask-backed).

Examples
--------
Against the local stand-in (``xspace.testing.others_site``), which answers "in progress" once:

>>> import tempfile, xspace
>>> from xspace.testing.others_site import serve_others, amda_value
>>> with tempfile.TemporaryDirectory() as tmp, serve_others(amda_polls=1) as site, \\
...         xspace.set_options(cache_dir=tmp, **site.options()):
...     b = xspace.get_data("amda/imf", "2020-01-01T00:00", "2020-01-01T00:01")
...     b.shape, bool(b.values[0, 0] == amda_value(b.Epoch.values[0], 0)), site.count("getStatus.php")
((4, 3), True, 2)

Parsing an ASCII answer:

>>> text = '''# PARAMETER_ID : imf
... # PARAMETER_UNITS : nT
... # PARAMETER_COMPONENTS : bx,by,bz
... # DATA_COLUMNS : AMDA_TIME, imf[0], imf[1], imf[2]
... 2020-01-01T00:00:00.000 1.5 -2.0 3.25
... 2020-01-01T00:00:16.000 1.0 -2.5 3.0
... '''
>>> da = parse_ascii(text.encode(), "imf")
>>> da.dims, da.attrs["UNITS"], da.values[0].tolist(), da.component.values.tolist()
(('Epoch', 'component'), 'nT', [1.5, -2.0, 3.25], ['bx', 'by', 'bz'])
"""

from __future__ import annotations

import difflib
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import numpy as np
import xarray as xr

from ...errors import FetchError, InputError, ProductNotFound
from ...options import OPTIONS
from .._pieces import is_fresh, piece_lock, settled

NAME = "amda"

#: Seconds an authentication token is reused.
TOKEN_LIFETIME = 600.0
#: First delay between two getStatus polls (seconds); doubled after each poll up to POLL_MAX_DELAY.
POLL_FIRST_DELAY = 1.0
POLL_MAX_DELAY = 10.0
#: Bound on the total wait for one in-progress request (seconds); option ``poll_timeout`` overrides it.
POLL_TIMEOUT = 600.0
#: Read time-out of getParameter (seconds): AMDA may compute for up to 4 minutes before it switches the
#: request to batch mode and answers "in progress".
GETPARAMETER_TIMEOUT = 250.0
#: Samples aimed at per request piece (sets the piece length from the dataset's sampling).
TARGET_SAMPLES = 20_000
#: Pieces that ended more than this many days ago are cached for good.
IMMUTABLE_AFTER_DAYS = 30
MAX_WORKERS = 4

_HOUR = 3600
_LADDER = [h * _HOUR for h in (1, 3, 6, 12, 24, 48, 96, 192, 384, 768)]  # 1 h ... 32 days
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

__all__ = [
    "NAME",
    "get",
    "inventory",
    "parse_ascii",
    "parse_status",
    "parameter_index",
    "request_file_url",
    "token",
]

_token_lock = threading.Lock()
_token: dict = {}


def _base() -> str:
    from .. import base_url

    return base_url(NAME).rstrip("/")


def _iso(t: np.datetime64) -> str:
    return str(np.datetime64(t, "ms")) + "Z"


# ---------------------------------------------------------------------------------------------------
# REST calls


def token(refresh: bool = False) -> str:
    """An AMDA authentication token (``auth.php``), reused for :data:`TOKEN_LIFETIME` seconds.

    Examples
    --------
    >>> token()  # doctest: +SKIP
    '5d0e6f2e...'
    """
    from .._http import request

    base = _base()
    with _token_lock:
        entry = _token.get(base)
        if entry and not refresh and time.monotonic() - entry[1] < TOKEN_LIFETIME:
            return entry[0]
        text = request("GET", f"{base}/auth.php").text.strip()
        if not text or text.startswith("<") or text.startswith("{") or " " in text:
            raise FetchError(f"AMDA: {base}/auth.php did not answer a token: {text[:200]!r}")
        _token[base] = (text, time.monotonic())
        return text


def _json(resp, url: str) -> dict:
    try:
        data = json.loads(resp.content)
    except ValueError:
        raise FetchError(f"AMDA: {url} did not answer JSON: {resp.content[:200]!r}") from None
    if not isinstance(data, dict):
        raise FetchError(f"AMDA: {url} answered {data!r}; expected a JSON object")
    return data


def _message(answer: dict) -> str:
    for key in ("message", "error", "msg", "status"):
        if answer.get(key):
            return str(answer[key])
    return json.dumps(answer)[:300]


def parse_status(answer: dict) -> tuple[str, object]:
    """Classify an AMDA ``getParameter``/``getStatus`` JSON answer.

    Returns
    -------
    ("done", file URL or list of URLs) | ("in progress", process id) | ("error", message)

    Examples
    --------
    >>> parse_status({"success": True, "status": "in progress", "id": "process_1"})
    ('in progress', 'process_1')
    >>> parse_status({"success": True, "status": "done", "dataFileURLs": "http://h/f.txt"})
    ('done', 'http://h/f.txt')
    >>> parse_status({"success": False, "message": "Unknown parameter"})
    ('error', 'Unknown parameter')
    """
    success = answer.get("success")
    if success is False or str(success).lower() == "false":
        return "error", _message(answer)
    urls = answer.get("dataFileURLs")
    if urls:
        return "done", urls
    status = str(answer.get("status", "")).lower()
    if status in ("in progress", "inprogress", "in_progress", "pending", "running"):
        ident = answer.get("id") or answer.get("processID") or answer.get("process_id")
        if not ident:
            return "error", f"AMDA said 'in progress' without a process id: {answer}"
        return "in progress", ident
    if status == "done":
        return "error", f"AMDA said 'done' without dataFileURLs: {answer}"
    return "error", _message(answer)


def request_file_url(parameter: str, start: np.datetime64, stop: np.datetime64, *,
                     output_format: str = "ASCII", poll_timeout: float | None = None) -> tuple[str, int]:
    """Run getParameter (and the getStatus polls) for one piece; return the file URL and the poll count.

    Raises
    ------
    ProductNotFound
        AMDA does not know the parameter.
    FetchError
        AMDA answered an error (its message is quoted), or the request stayed in progress beyond the
        total wait bound.

    Examples
    --------
    >>> request_file_url("imf", np.datetime64("2020-01-01"), np.datetime64("2020-01-02"))  # doctest: +SKIP
    ('https://amda.irap.omp.eu/data/WSRESULT/imf_....txt', 0)
    """
    from .._http import HTTPStatusError, request

    base = _base()
    url = f"{base}/getParameter.php"
    params = {
        "startTime": _iso(start),
        "stopTime": _iso(stop),
        "parameterID": parameter,
        "outputFormat": output_format,
        "timeFormat": "ISO8601",
        "gzip": "0",
    }
    for attempt in range(2):  # once more with a fresh token when the token was refused
        params["token"] = token(refresh=attempt > 0)
        try:
            answer = _json(request("GET", url, params=params, timeout=GETPARAMETER_TIMEOUT), url)
        except HTTPStatusError as exc:
            raise FetchError(f"AMDA: getParameter for {parameter!r} failed: {exc}") from None
        kind, value = parse_status(answer)
        if kind == "error" and "token" in str(value).lower() and attempt == 0:
            continue
        break
    polls = 0
    if kind == "in progress":
        bound = float(POLL_TIMEOUT if poll_timeout is None else poll_timeout)
        deadline = time.monotonic() + bound
        delay = POLL_FIRST_DELAY
        status_url = f"{base}/getStatus.php"
        while kind == "in progress":
            if time.monotonic() + delay > deadline:
                raise FetchError(
                    f"AMDA: the request for {parameter!r} {_iso(start)}..{_iso(stop)} was still in progress "
                    f"after {polls} polls ({bound:g} s, option poll_timeout); process id {value}"
                )
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_DELAY)
            polls += 1
            try:
                answer = _json(request("GET", status_url, params={"id": value, "token": params["token"]}),
                               status_url)
            except HTTPStatusError as exc:
                raise FetchError(f"AMDA: getStatus for process {value} failed: {exc}") from None
            kind, new_value = parse_status(answer)
            if kind == "in progress":
                value = new_value or value
            else:
                value = new_value
    if kind == "error":
        text = str(value)
        if re.search(r"unknown|not found|no such|does not exist|invalid param", text, re.I):
            raise ProductNotFound(f"amda/{parameter}: AMDA answered: {text}")
        raise FetchError(f"AMDA: request for {parameter!r} {_iso(start)}..{_iso(stop)} failed: {text}")
    urls = value if isinstance(value, list) else [value]
    if len(urls) != 1:
        raise FetchError(f"AMDA: expected one data file for {parameter!r}, got {urls}")
    file_url = str(urls[0]).strip()
    if "<" in file_url and ">" in file_url:  # an XML-wrapped URL
        file_url = re.sub(r"<[^>]*>", "", file_url).strip()
    return urljoin(base + "/", file_url), polls


# ---------------------------------------------------------------------------------------------------
# ASCII output


def _header_dict(lines: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in lines:
        body = line.lstrip("#").strip()
        if ":" not in body:
            continue
        key, value = body.split(":", 1)
        key = key.strip()
        if key and re.fullmatch(r"[A-Za-z0-9_\[\]]+", key) and key not in meta:
            meta[key] = value.strip()
    return meta


def _parse_times(tokens: np.ndarray) -> np.ndarray:
    if tokens.size == 0:
        return tokens.astype("datetime64[ns]")
    first = str(tokens[0])
    if "T" in first or "-" in first[1:]:
        cleaned = np.char.rstrip(tokens.astype(str), "Z")
        return cleaned.astype("datetime64[ns]")
    seconds = tokens.astype(np.float64)  # UNIXTIME
    return (np.round(seconds * 1e6).astype(np.int64) * 1000).astype("datetime64[ns]")


def parse_ascii(content: bytes, parameter: str | None = None) -> xr.DataArray:
    """Parse AMDA's ASCII output (``#``-commented header, then a time column and the values).

    Parameters
    ----------
    content : bytes
        The file.
    parameter : str, optional
        Parameter id (the DataArray's name; default the header's ``PARAMETER_ID`` or the data column).

    Returns
    -------
    xarray.DataArray
        ``(Epoch,)`` for a scalar, ``(Epoch, component)`` otherwise; float64; ``UNITS``, ``CATDESC``,
        ``FIELDNAM`` ... from the header; the header's fill value (``PARAMETER_FILL_VALUE``) masked to NaN.

    Examples
    --------
    >>> da = parse_ascii(b"# DATA_COLUMNS : AMDA_TIME, dst\\n2020-01-01T00:00:00.000 -12\\n", "dst")
    >>> da.dims, float(da[0])
    (('Epoch',), -12.0)
    """
    text = content.decode("utf-8", "replace")
    lines = text.splitlines()
    header = [ln for ln in lines if ln.lstrip().startswith("#")]
    rows = [ln.split() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    meta = _header_dict(header)
    columns = [c.strip() for c in meta.get("DATA_COLUMNS", "").split(",") if c.strip()]
    width = max((len(r) for r in rows), default=len(columns))
    if rows and any(len(r) != width for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != width)
        raise FetchError(f"AMDA: ASCII data row {bad} has {len(rows[bad])} columns, expected {width}")
    if width == 0:
        width = 2
    ncomp = width - 1
    if rows:
        table = np.array(rows, dtype=object)
        times = _parse_times(np.array(table[:, 0], dtype=str))
        try:
            values = np.array(table[:, 1:], dtype=np.float64)
        except ValueError as exc:
            raise FetchError(f"AMDA: ASCII data values are not numbers ({exc})") from None
    else:
        times = np.array([], dtype="datetime64[ns]")
        values = np.empty((0, ncomp), dtype=np.float64)
    fill = meta.get("PARAMETER_FILL_VALUE", "")
    try:
        fill_value = float(fill)
    except ValueError:
        fill_value = None
    if fill_value is not None and not np.isnan(fill_value):
        values[values == fill_value] = np.nan
    name = parameter or meta.get("PARAMETER_ID") or (columns[1].split("[")[0] if len(columns) > 1 else "data")
    attrs = {
        "VAR_TYPE": "data",
        "DEPEND_0": "Epoch",
        "FIELDNAM": meta.get("PARAMETER_NAME", name),
        "CATDESC": meta.get("PARAMETER_DESCRIPTION") or meta.get("PARAMETER_NAME", name),
        "UNITS": meta.get("PARAMETER_UNITS", ""),
        "LABLAXIS": meta.get("PARAMETER_SHORT_NAME") or meta.get("PARAMETER_NAME", name),
        "DISPLAY_TYPE": "time_series",
        "source": "AMDA (CDPP)",
        "amda_parameter_id": name,
    }
    for key, attr in (("PARAMETER_COORDINATE_SYSTEM", "coordinate_system"),
                      ("PARAMETER_SI_CONVERSION", "SI_conversion"),
                      ("PARAMETER_UCD", "UCD"),
                      ("DATASET_ID", "amda_dataset_id"),
                      ("MISSION_NAME", "mission"),
                      ("INSTRUMENT_NAME", "instrument")):
        if meta.get(key) and meta[key].lower() != "none":
            attrs[attr] = meta[key]
    if fill and fill.lower() not in ("", "none"):
        attrs["amda_fill_value"] = fill
    epoch = xr.Variable("Epoch", times, attrs={"VAR_TYPE": "support_data", "FIELDNAM": "Epoch",
                                               "CATDESC": "Time (UTC)", "LABLAXIS": "Epoch"})
    if ncomp == 1 and meta.get("PARAMETER_SIZE", "1") in ("1", ""):
        return xr.DataArray(values[:, 0], dims=("Epoch",), coords={"Epoch": epoch}, name=name, attrs=attrs)
    labels = [c.strip() for c in meta.get("PARAMETER_COMPONENTS", "").split(",") if c.strip()]
    if len(labels) != ncomp:
        labels = columns[1:] if len(columns) - 1 == ncomp else [f"{name}[{i}]" for i in range(ncomp)]
    attrs["DEPEND_1"] = "component"
    component = xr.Variable("component", np.array(labels), attrs={"VAR_TYPE": "metadata"})
    return xr.DataArray(values, dims=("Epoch", "component"), coords={"Epoch": epoch, "component": component},
                        name=name, attrs=attrs)


def _read_cdf(path, parameter: str) -> xr.DataArray:
    import xspace

    ds = xspace.open_cdf(str(path)).load()
    if parameter in ds.data_vars:
        return ds[parameter]
    data = [v for v in ds.data_vars if ds[v].attrs.get("VAR_TYPE", "data") == "data"]
    if len(data) != 1:
        raise FetchError(f"AMDA: the CDF answer for {parameter!r} has data variables {data}; expected one")
    return ds[data[0]].rename(parameter)


# ---------------------------------------------------------------------------------------------------
# observatory data tree


def _obs_tree_bytes() -> bytes:
    from .. import cache

    return cache.fetch_bytes(_tree_url(), kind="xml", ttl=OPTIONS["cache_ttl"])


def _sampling_seconds(text: str | None) -> float | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*([0-9.]+)\s*([SMHD]?)\s*", text, re.I)
    if not m:
        return None
    scale = {"": 1, "S": 1, "M": 60, "H": 3600, "D": 86400}[m.group(2).upper()]
    return float(m.group(1)) * scale


def parameter_index(tree: bytes) -> dict[str, dict]:
    """Parameter id -> metadata (name, units, description, size, dataset sampling and coverage).

    Examples
    --------
    >>> tree = (b'<dataRoot><dataset xml:id="ace-imf-all" sampling="16S" dataStart="1997-09-02T00:00:12Z" '
    ...         b'dataStop="2025-01-11T23:59:50Z"><parameter xml:id="imf" name="b_gse" units="nT" size="3"/>'
    ...         b'</dataset></dataRoot>')
    >>> parameter_index(tree)["imf"]["sampling"]
    16.0
    >>> with_components = tree.replace(b'size="3"/>', b'size="3"><component name="bx"/></parameter>')
    >>> parameter_index(with_components)["imf"]["components"]
    ['bx']
    """
    index: dict[str, dict] = {}
    stack: list[dict] = []
    current: dict | None = None
    for event, elem in ET.iterparse(io.BytesIO(tree), events=("start", "end")):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "component":
            if event == "start" and current is not None:
                current["components"].append(elem.attrib.get("name", ""))
            continue
        if tag == "parameter" and event == "end":
            current = None
            continue
        if tag == "dataset":
            if event == "start":
                stack.append(dict(elem.attrib))
            else:
                stack.pop()
                elem.clear()
            continue
        if tag == "parameter" and event == "start":
            ident = elem.attrib.get(_XML_ID)
            if not ident:
                continue
            ds = stack[-1] if stack else {}
            index[ident] = {
                "name": elem.attrib.get("name", ident),
                "units": elem.attrib.get("units", ""),
                "description": elem.attrib.get("description", ""),
                "size": elem.attrib.get("size", "1"),
                "dataset": ds.get(_XML_ID, ""),
                "sampling": _sampling_seconds(ds.get("sampling")),
                "start": ds.get("dataStart"),
                "stop": ds.get("dataStop"),
                "components": [],
            }
            current = index[ident]
    return index


_index_cache: dict = {}


def _parameters() -> dict[str, dict] | None:
    """The parameter index of the (cached) tree, or None when the tree cannot be had."""
    from ...errors import OfflineError

    try:
        tree = _obs_tree_bytes()
    except (FetchError, OfflineError):
        return None
    key = (len(tree), hash(tree))
    if key not in _index_cache:
        _index_cache.clear()
        try:
            _index_cache[key] = parameter_index(tree)
        except ET.ParseError:
            return None
    return _index_cache[key]


# ---------------------------------------------------------------------------------------------------
# get


def _piece_seconds(sampling: float | None) -> int:
    if not sampling:
        return 24 * _HOUR
    want = TARGET_SAMPLES * sampling
    fitting = [s for s in _LADDER if s <= want]
    return fitting[-1] if fitting else _LADDER[0]


def _pieces(start: np.datetime64, stop: np.datetime64, seconds: int):
    step = np.timedelta64(seconds, "s").astype("timedelta64[ns]")
    origin = np.datetime64("1970-01-01", "ns")
    k0 = (start - origin) // step
    first = origin + k0 * step
    return [(a, a + step) for a in np.arange(first, stop, step)]


def _safe(text: str) -> str:
    return "".join(c if (c.isalnum() or c in "-_.,+=@") else "_" for c in text).strip(".") or "_"


def _piece_relpath(parameter: str, fmt: str, t0: np.datetime64, t1: np.datetime64) -> str:
    from urllib.parse import urlsplit

    host = _safe(urlsplit(_base()).netloc)
    compact = lambda t: str(np.datetime64(t, "s")).replace("-", "").replace(":", "")  # noqa: E731
    ext = "cdf" if fmt == "CDF" else "txt"
    return f"{host}/amda/{_safe(parameter)}/{fmt.lower()}/{compact(t0)}_{compact(t1)}.{ext}"


def _fetch_piece(parameter: str, t0, t1, fmt: str, poll_timeout) -> xr.DataArray:
    from .. import cache

    relpath = _piece_relpath(parameter, fmt, t0, t1)
    path = cache.cache_dir() / relpath
    immutable = settled(t1, IMMUTABLE_AFTER_DAYS)
    if not is_fresh(path, immutable):
        # one flow per piece across threads and processes sharing the cache
        with piece_lock(path, ".flow"):
            if not is_fresh(path, immutable):
                file_url, _polls = request_file_url(parameter, t0, t1, output_format=fmt,
                                                    poll_timeout=poll_timeout)
                if path.exists():
                    cache.forget(path)
                path = cache.fetch_file(file_url, kind="cdf" if fmt == "CDF" else "text", relpath=relpath)
    if fmt == "CDF":
        da = _read_cdf(path, parameter)
    else:
        try:
            da = parse_ascii(path.read_bytes(), parameter)
        except FetchError:
            cache.forget(path)
            raise
    times = da["Epoch"].values if "Epoch" in da.dims else da[da.dims[0]].values
    keep = (times >= t0) & (times < t1)
    return da.isel({da.dims[0]: np.flatnonzero(keep)})


def _t64(text) -> np.datetime64 | None:
    if not text:
        return None
    try:
        return np.datetime64(str(text).rstrip("Z"), "ns")
    except ValueError:
        return None


def _empty(parameter: str, info: dict) -> xr.DataArray:
    """The empty result of a parameter, shaped from its description in the data tree (no request)."""
    try:
        size = int(info.get("size") or 1)
    except ValueError:
        size = 1
    attrs = {"VAR_TYPE": "data", "DEPEND_0": "Epoch", "FIELDNAM": info.get("name", parameter),
             "CATDESC": info.get("description") or info.get("name", parameter), "UNITS": info.get("units", ""),
             "DISPLAY_TYPE": "time_series", "source": "AMDA (CDPP)", "amda_parameter_id": parameter}
    if info.get("dataset"):
        attrs["amda_dataset_id"] = info["dataset"]
    epoch = xr.Variable("Epoch", np.array([], dtype="datetime64[ns]"),
                        attrs={"VAR_TYPE": "support_data", "FIELDNAM": "Epoch"})
    if size == 1:
        return xr.DataArray(np.empty(0), dims=("Epoch",), coords={"Epoch": epoch}, name=parameter, attrs=attrs)
    labels = info.get("components") or []
    if len(labels) != size:
        labels = [f"{parameter}[{i}]" for i in range(size)]
    attrs["DEPEND_1"] = "component"
    return xr.DataArray(np.empty((0, size)), dims=("Epoch", "component"),
                        coords={"Epoch": epoch, "component": np.array(labels)}, name=parameter, attrs=attrs)


def get(parts, start, stop, *, load: bool = False, output_format: str = "ASCII",
        poll_timeout: float | None = None, **options):
    """One AMDA parameter (or every parameter of an AMDA dataset) over ``[start, stop)``.

    Parameters
    ----------
    parts : list of str
        ``[parameter id]`` or ``[dataset id]`` (the product path after ``"amda/"``).
    start, stop : numpy.datetime64
        Time range, ``[start, stop)``.
    load : bool
        Accepted for symmetry; the result is always loaded.
    output_format : {"ASCII", "CDF"}
        What AMDA is asked to produce (ASCII is parsed here, CDF with :func:`xspace.open_cdf`).
    poll_timeout : float, optional
        Bound on the wait for one in-progress request (seconds; default :data:`POLL_TIMEOUT`).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        A parameter: named after it, ``(Epoch,)`` or ``(Epoch, component)``. A dataset: a Dataset of its
        parameters (their second dimension named ``<parameter>_component``).

    Raises
    ------
    ProductNotFound
        The parameter is not in AMDA's tree (close matches listed), or AMDA says it does not know it.
    FetchError
        AMDA answered an error (message quoted) or the request stayed in progress too long.

    Examples
    --------
    >>> import xspace
    >>> xspace.get_data("amda/imf", "2020-01-01", "2020-01-02")  # doctest: +SKIP
    """
    if options:
        raise InputError(f"amda: unknown option(s) {sorted(options)}; expected output_format, poll_timeout")
    fmt = str(output_format).upper()
    if fmt not in ("ASCII", "CDF"):
        raise InputError(f"amda: output_format={output_format!r}; expected 'ASCII' or 'CDF'")
    if len(parts) != 1 or not parts[0]:
        raise ProductNotFound(f"amda/{'/'.join(parts)}: expected 'amda/<parameter id>' (e.g. 'amda/imf')")
    parameter = parts[0]
    index = _parameters()
    info: dict = {}
    if index is not None and parameter not in index:
        members = [p for p, i in index.items() if i.get("dataset") == parameter]
        if members:  # a dataset of the tree: its parameters, as one Dataset
            return _get_dataset(parameter, members, start, stop, fmt, poll_timeout)
    if index is not None:
        if parameter not in index:
            datasets = {i.get("dataset") for i in index.values() if i.get("dataset")}
            close = difflib.get_close_matches(parameter, list(index) + sorted(datasets), n=5, cutoff=0.6)
            hint = f"; close matches: {', '.join('amda/' + c for c in close)}" if close else ""
            raise ProductNotFound(f"amda/{parameter}: no such parameter in AMDA's data tree{hint}")
        info = index[parameter]
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    cover0, cover1 = _t64(info.get("start")), _t64(info.get("stop"))
    if info and (stop <= start or (cover0 is not None and stop <= cover0)
                 or (cover1 is not None and start > cover1)):
        return _empty(parameter, info)  # nothing to ask AMDA for
    pieces = _pieces(start, stop, _piece_seconds(info.get("sampling")))
    if len(pieces) == 1:
        results = [_fetch_piece(parameter, *pieces[0], fmt, poll_timeout)]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pieces))) as pool:
            results = list(pool.map(lambda p: _fetch_piece(parameter, p[0], p[1], fmt, poll_timeout), pieces))
    da = results[0] if len(results) == 1 else xr.concat(results, dim=results[0].dims[0],
                                                        combine_attrs="override")
    tdim = da.dims[0]
    times = da[tdim].values
    da = da.isel({tdim: np.flatnonzero((times >= start) & (times < stop))})
    if info:
        da.attrs.setdefault("UNITS", info.get("units", ""))
        if not da.attrs.get("UNITS"):
            da.attrs["UNITS"] = info.get("units", "")
        if info.get("description"):
            da.attrs["CATDESC"] = info["description"]
        if info.get("dataset"):
            da.attrs.setdefault("amda_dataset_id", info["dataset"])
    return da


def _get_dataset(dataset: str, members: list[str], start, stop, fmt: str, poll_timeout) -> xr.Dataset:
    """Every parameter of an AMDA dataset over ``[start, stop)``, as one Dataset on the common time axis.

    A parameter's second dimension is named after it (``"<parameter>_component"``): the parameters of a
    dataset need not have the same components.
    """
    arrays = []
    for p in members:
        da = get([p], start, stop, output_format=fmt, poll_timeout=poll_timeout)
        da = da.rename(p)
        extra = [d for d in da.dims[1:]]
        if extra:
            da = da.rename({d: f"{p}_{d}" for d in extra})
        arrays.append(da)
    ds = xr.merge(arrays, join="outer", combine_attrs="drop_conflicts", compat="override")
    ds.attrs.update(amda_dataset_id=dataset, source="AMDA (CDPP)")
    return ds


def _tree_url() -> str:
    from .. import cache

    base = _base()
    answer = cache.fetch_bytes(f"{base}/getObsDataTree.php", kind="any", ttl=OPTIONS["cache_ttl"])
    text = answer.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
            text = str(data.get("url") or data.get("result") or data.get("WorkSpace") or "")
        except ValueError:
            pass
    url = re.sub(r"<[^>]*>", "", text).strip() if "<" in text else text
    if not url or " " in url:
        cache.forget(f"{base}/getObsDataTree.php")  # an answer we cannot use is not kept
        raise FetchError(f"AMDA: {base}/getObsDataTree.php did not answer a URL: {answer[:200]!r}")
    return urljoin(base + "/", url)


def inventory():
    """The provider's inventory node, built from AMDA's observatory data tree.

    ``getObsDataTree.php`` gives the URL of the XML tree, parsed by
    :func:`xspace.fetch.inventory.amda_tree_to_node`; the tree is persisted on disk and revalidated in
    the background when stale (:func:`xspace.fetch.inventory.cached_tree`).

    Examples
    --------
    >>> inventory().ACE  # doctest: +SKIP
    """
    from ..inventory import amda_tree_to_node, cached_tree

    return cached_tree(NAME, _tree_url(), amda_tree_to_node, ttl=OPTIONS["cache_ttl"], kind="xml")
