"""SSCWeb provider: spacecraft trajectories from NASA's Satellite Situation Center.

Product paths are ``"sscweb/<observatory id>"`` (``"sscweb/ace"``, ``"sscweb/moon"``, the ``Id`` of
SSCWeb's observatory list). :func:`get` returns the position as a DataArray ``(Epoch, component)`` in km,
components ``X, Y, Z`` of the coordinate system asked for with the option ``coordinate_system``
(``"gse"`` by default; also ``"geo"``, ``"gm"``, ``"gsm"``, ``"sm"``, ``"gei_tod"``, ``"gei_j2000"``).

It speaks SSCWeb's REST interface (base URL ``xspace.fetch.base_url("sscweb")``, by default
https://sscweb.gsfc.nasa.gov/WS/sscr/2):

* ``GET {base}/observatories`` — the observatory list (XML ``ObservatoryResponse``), cached and
  revalidated after the ``cache_ttl`` option;
* ``GET {base}/locations/{id}/{start},{stop}/{coordinate system}/`` with times ``YYYYMMDDTHHMMSSZ`` —
  a ``DataResult`` document with ``StatusCode``, ``Data/Coordinates/X|Y|Z`` and ``Data/Time``.

Request size: SSCWeb computes every location on demand and bounds the size of one answer, so a request
is split into pieces of at most :data:`MAX_REQUEST_DAYS` day, aligned on UTC days. Each piece is
cached on its own (a later request overlapping it makes no request for it); pieces that ended more
than :data:`IMMUTABLE_AFTER_DAYS` days ago are never revalidated, more recent ones (predicted orbits
are refined) after ``cache_ttl``. The result is loaded (not dask-backed): a location answer is small.

Examples
--------
Parsing a ``DataResult`` document (no network):

>>> xml = (b'<Response xmlns="http://sscweb.gsfc.nasa.gov/schema"><Result><StatusCode>Success'
...        b'</StatusCode><Data><Id>ace</Id><Coordinates><CoordinateSystem>Gse</CoordinateSystem>'
...        b'<X>1.5</X><Y>2.0</Y><Z>-3.0</Z></Coordinates><Time>2020-01-01T00:00:00.000Z</Time>'
...        b'</Data></Result></Response>')
>>> r = parse_locations(xml)
>>> r["X"].tolist(), r["coordinate_system"], r["time"][0]
([1.5], 'Gse', np.datetime64('2020-01-01T00:00:00.000000000'))

A request (here against the local stand-in that ``xspace.testing.others_site`` provides):

>>> import tempfile, xspace
>>> from xspace.testing.others_site import serve_others
>>> with tempfile.TemporaryDirectory() as tmp, serve_others() as site, \\
...         xspace.set_options(cache_dir=tmp, **site.options()):
...     pos = xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-01T01:00", coordinate_system="gsm")
...     pos.shape, pos.attrs["UNITS"], pos.attrs["coordinate_system"]
((5, 3), 'km', 'GSM')
"""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ...errors import FetchError, InputError, ProductNotFound
from ...options import OPTIONS
from .._pieces import day_pieces, settled
from .._times import compact

NAME = "sscweb"

#: Longest piece of one location request, in days (requests are split on UTC day boundaries).
MAX_REQUEST_DAYS = 1
#: Pieces that ended more than this many days ago are cached for good.
IMMUTABLE_AFTER_DAYS = 60
#: Parallel location requests of one call (the per-host cap of the HTTP client still applies).
MAX_WORKERS = 4

_NS = "{http://sscweb.gsfc.nasa.gov/schema}"

#: option value -> (URL token, name SSCWeb gives the system in its answers)
COORDINATE_SYSTEMS = {
    "geo": "geo",
    "gm": "gm",
    "gse": "gse",
    "gsm": "gsm",
    "sm": "sm",
    "gei_tod": "geitod",
    "gei_j2000": "geij2000",
}
_DAY = np.timedelta64(1, "D")

__all__ = [
    "NAME",
    "get",
    "inventory",
    "observatories",
    "parse_observatories",
    "parse_locations",
    "observatories_to_node",
    "locations_url",
    "COORDINATE_SYSTEMS",
    "MAX_REQUEST_DAYS",
]


def _base() -> str:
    from .. import base_url

    return base_url(NAME).rstrip("/")


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(content: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise FetchError(f"SSCWeb: {what} is not valid XML ({exc})") from None


def _time64(text: str) -> np.datetime64:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1]
    if len(text) > 6 and text[-6] in "+-" and text[-3] == ":":  # "+00:00" offset (JSON form)
        text = text[:-6]
    return np.datetime64(text, "ns")


# ---------------------------------------------------------------------------------------------------
# observatories


def parse_observatories(content: bytes) -> list[dict]:
    """Parse SSCWeb's ``observatories`` answer (XML ``ObservatoryResponse``).

    Parameters
    ----------
    content : bytes
        The XML document.

    Returns
    -------
    list of dict
        One dict per observatory: ``id``, ``name``, ``resolution`` (seconds, int), ``start``, ``stop``
        (datetime64[ns]) and ``resource_id`` (SPASE id, may be empty).

    Examples
    --------
    >>> xml = (b'<ObservatoryResponse xmlns="http://sscweb.gsfc.nasa.gov/schema"><Observatory>'
    ...        b'<Id>ace</Id><Name>ACE</Name><Resolution>720</Resolution>'
    ...        b'<StartTime>1997-08-25T17:48:00.000Z</StartTime><EndTime>2024-05-19T23:48:00.000Z'
    ...        b'</EndTime></Observatory></ObservatoryResponse>')
    >>> obs = parse_observatories(xml)[0]
    >>> obs["id"], obs["resolution"], str(obs["start"])
    ('ace', 720, '1997-08-25T17:48:00.000000000')
    """
    root = _parse_xml(content, "the observatory list")
    out = []
    for node in root.iter(f"{_NS}Observatory"):
        fields = {_strip(child.tag): (child.text or "").strip() for child in node}
        if not fields.get("Id"):
            continue
        try:
            resolution = int(float(fields.get("Resolution") or 60))
        except ValueError:
            resolution = 60
        out.append(
            {
                "id": fields["Id"],
                "name": fields.get("Name", fields["Id"]),
                "resolution": resolution,
                "start": _time64(fields["StartTime"]) if fields.get("StartTime") else None,
                "stop": _time64(fields["EndTime"]) if fields.get("EndTime") else None,
                "resource_id": fields.get("ResourceId", ""),
            }
        )
    if not out and _strip(root.tag) != "ObservatoryResponse":
        raise FetchError(
            f"SSCWeb: the observatory list has no Observatory element (root element {_strip(root.tag)!r})"
        )
    return out


def observatories() -> dict[str, dict]:
    """SSCWeb's observatories, id -> description (see :func:`parse_observatories`).

    Cached; revalidated (conditional GET) after the ``cache_ttl`` option.

    Examples
    --------
    >>> "ace" in observatories()  # doctest: +SKIP
    True
    """
    from .. import cache

    url = f"{_base()}/observatories"
    content = cache.fetch_bytes(
        url, kind="xml", ttl=OPTIONS["cache_ttl"], headers={"Accept": "application/xml"}
    )
    return {obs["id"]: obs for obs in parse_observatories(content)}


def _observatory(name: str) -> dict:
    known = observatories()
    if name in known:
        return known[name]
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return known[lowered[name.lower()]]
    by_name = {obs["name"].lower(): k for k, obs in known.items()}
    if name.lower() in by_name:
        return known[by_name[name.lower()]]
    close = difflib.get_close_matches(name.lower(), list(lowered) + list(by_name), n=5, cutoff=0.6)
    close = sorted({lowered.get(c) or by_name.get(c) for c in close})
    hint = f"; close matches: {', '.join('sscweb/' + c for c in close)}" if close else ""
    raise ProductNotFound(f"sscweb/{name}: no such SSCWeb observatory{hint}")


# ---------------------------------------------------------------------------------------------------
# locations


def locations_url(observatory: str, start, stop, coordinate_system: str = "gse") -> str:
    """URL of SSCWeb's location request for one observatory, time range and coordinate system.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(sscweb_url="https://sscweb.gsfc.nasa.gov/WS/sscr/2"):
    ...     locations_url("ace", np.datetime64("2020-01-01"), np.datetime64("2020-01-02"))
    'https://sscweb.gsfc.nasa.gov/WS/sscr/2/locations/ace/20200101T000000Z,20200102T000000Z/gse/'
    """
    token = COORDINATE_SYSTEMS[_coordinate_system(coordinate_system)]
    return f"{_base()}/locations/{observatory}/{compact(start)},{compact(stop)}/{token}/"


def _coordinate_system(value) -> str:
    key = str(value).lower().replace("-", "_")
    aliases = {"geitod": "gei_tod", "geij2000": "gei_j2000", "j2000": "gei_j2000", "gei": "gei_tod"}
    key = aliases.get(key, key)
    if key not in COORDINATE_SYSTEMS:
        raise InputError(
            f"sscweb: coordinate_system={value!r} is not one of {sorted(COORDINATE_SYSTEMS)}"
        )
    return key


def _status_message(root: ET.Element) -> tuple[str, str]:
    code = sub = ""
    texts = []
    for node in root.iter():
        tag = _strip(node.tag)
        if tag == "StatusCode" and not code:
            code = (node.text or "").strip()
        elif tag == "StatusSubCode" and not sub:
            sub = (node.text or "").strip()
        elif tag == "StatusText" and node.text:
            texts.append(node.text.strip())
    message = "; ".join(t for t in texts if t) or sub or code
    return code, message


def parse_locations(content: bytes) -> dict:
    """Parse an SSCWeb location answer (``Response/Result`` of type ``DataResult``).

    Parameters
    ----------
    content : bytes
        The XML document.

    Returns
    -------
    dict
        ``time`` (datetime64[ns] array), ``X``, ``Y``, ``Z`` (float64 arrays, km), ``coordinate_system``
        (as SSCWeb names it, e.g. ``"Gse"``), ``id`` (observatory), and when present ``Latitude``,
        ``Longitude`` (degrees), ``LocalTime`` (hours), ``RadialLength`` (km). An answer without data
        gives empty arrays.

    Raises
    ------
    FetchError
        The answer's ``StatusCode`` is not ``Success``; the message is SSCWeb's ``StatusText``.

    Examples
    --------
    >>> parse_locations(b'<Response><Result><StatusCode>Success</StatusCode></Result></Response>')["X"]
    array([], dtype=float64)
    """
    root = _parse_xml(content, "the location answer")
    code, message = _status_message(root)
    if code and code.lower() not in ("success", "conditional_success", "conditionalsuccess"):
        raise FetchError(f"SSCWeb answered {code}: {message}")
    out: dict = {"id": "", "coordinate_system": ""}
    data = next((n for n in root.iter() if _strip(n.tag) == "Data"), None)
    columns: dict[str, list[str]] = {}
    times: list[str] = []
    if data is not None:
        for node in data:
            tag = _strip(node.tag)
            if tag == "Id":
                out["id"] = (node.text or "").strip()
            elif tag == "Time":
                times.append(node.text or "")
            elif tag == "Coordinates":
                for child in node:
                    ctag = _strip(child.tag)
                    if ctag == "CoordinateSystem":
                        out["coordinate_system"] = (child.text or "").strip()
                    else:
                        columns.setdefault(ctag, []).append(child.text or "nan")
            elif tag in ("RadialLength",):
                columns.setdefault(tag, []).append(node.text or "nan")
    n = len(times)
    out["time"] = np.array([_time64(t) for t in times], dtype="datetime64[ns]")
    for key in ("X", "Y", "Z", "Latitude", "Longitude", "LocalTime", "RadialLength"):
        if key in columns or key in ("X", "Y", "Z"):
            values = np.array(columns.get(key, []), dtype=np.float64)
            if values.size != n:
                raise FetchError(
                    f"SSCWeb: the location answer has {n} times but {values.size} {key} values"
                )
            out[key] = values
    return out


def _fetch_piece(observatory: str, t0: np.datetime64, t1: np.datetime64, system: str) -> dict:
    from .. import cache
    from .._http import HTTPStatusError

    url = locations_url(observatory, t0, t1, system)
    immutable = settled(t1, IMMUTABLE_AFTER_DAYS)
    try:
        path = cache.fetch_file(
            url,
            kind="xml",
            immutable=immutable,
            ttl=None if immutable else OPTIONS["cache_ttl"],
            headers={"Accept": "application/xml"},
        )
    except HTTPStatusError as exc:
        message = str(exc)
        if exc.body and exc.body.lstrip().startswith(b"<"):
            try:
                _code, text = _status_message(ET.fromstring(exc.body))
                if text:
                    message = f"HTTP {exc.status} for {url}: {text}"
            except ET.ParseError:
                pass
        if exc.status == 404:
            raise ProductNotFound(f"sscweb/{observatory}: SSCWeb has no such observatory ({message})") from None
        raise FetchError(f"SSCWeb: {message}") from None
    content = path.read_bytes()
    try:
        piece = parse_locations(content)
    except FetchError as exc:
        cache.forget(url)  # an error answer is never kept
        raise FetchError(f"{exc} (request {url})") from None
    # each piece keeps [t0, t1) only, so consecutive pieces never repeat their common sample
    keep = (piece["time"] >= t0) & (piece["time"] < t1)
    for key, value in list(piece.items()):
        if isinstance(value, np.ndarray):
            piece[key] = value[keep]
    return piece


def _pieces(start: np.datetime64, stop: np.datetime64) -> list[tuple[np.datetime64, np.datetime64]]:
    return day_pieces(start, stop, MAX_REQUEST_DAYS)


def _empty_like_result(system: str) -> dict:
    return {
        "time": np.array([], dtype="datetime64[ns]"),
        "X": np.array([], dtype=np.float64),
        "Y": np.array([], dtype=np.float64),
        "Z": np.array([], dtype=np.float64),
        "coordinate_system": system.upper(),
    }


def _build(observatory: dict, result: dict, system: str) -> xr.DataArray:
    label = system.upper().replace("_", " ")
    values = np.stack([result["X"], result["Y"], result["Z"]], axis=1) if result["time"].size else (
        np.empty((0, 3), dtype=np.float64)
    )
    name = f"{observatory['id']}_{system}"
    epoch = xr.Variable(
        "Epoch",
        result["time"],
        attrs={"VAR_TYPE": "support_data", "FIELDNAM": "Epoch", "CATDESC": "Time of the position (UTC)",
               "UNITS": "ns", "LABLAXIS": "Epoch"},
    )
    component = xr.Variable(
        "component", np.array(["X", "Y", "Z"]),
        attrs={"VAR_TYPE": "metadata", "FIELDNAM": "component", "CATDESC": f"Cartesian axes of {label}"},
    )
    attrs = {
        "VAR_TYPE": "data",
        "FIELDNAM": f"{observatory['name']} position {label}",
        "CATDESC": f"{observatory['name']} position in {label} coordinates (SSCWeb)",
        "UNITS": "km",
        "DEPEND_0": "Epoch",
        "DEPEND_1": "component",
        "LABLAXIS": f"{label} position",
        "DISPLAY_TYPE": "time_series",
        "coordinate_system": label,
        "sscweb_coordinate_system": result.get("coordinate_system") or label,
        "observatory": observatory["id"],
        "observatory_name": observatory["name"],
        "Time_resolution": f"{observatory['resolution']} s",
        "source": "SSCWeb (NASA Satellite Situation Center)",
    }
    if observatory.get("resource_id"):
        attrs["spase_id"] = observatory["resource_id"]
    return xr.DataArray(
        values, dims=("Epoch", "component"), coords={"Epoch": epoch, "component": component},
        name=name, attrs=attrs,
    )


def get(parts, start, stop, *, load: bool = False, coordinate_system: str = "gse", **options):
    """Trajectory of one SSCWeb observatory over ``[start, stop)``.

    Parameters
    ----------
    parts : list of str
        ``[observatory id]`` (the product path after ``"sscweb/"``).
    start, stop : numpy.datetime64
        Time range, ``[start, stop)``.
    load : bool
        Accepted for symmetry with the other providers; the result is always loaded.
    coordinate_system : str
        ``"gse"`` (default), ``"geo"``, ``"gm"``, ``"gsm"``, ``"sm"``, ``"gei_tod"`` or ``"gei_j2000"``.

    Returns
    -------
    xarray.DataArray
        ``(Epoch, component)`` float64 in km, ``component`` = ``X, Y, Z``; ISTP attributes (``UNITS``,
        ``CATDESC``, ``DEPEND_0`` ...) and ``coordinate_system``. Empty (0 samples) when the range is
        empty or outside the observatory's coverage.

    Raises
    ------
    ProductNotFound
        Unknown observatory (with close matches) or a path with more than one component.
    FetchError
        SSCWeb answered an error (its ``StatusText`` is in the message).

    Examples
    --------
    >>> import xspace
    >>> xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-02", coordinate_system="gsm")  # doctest: +SKIP
    """
    if options:
        raise InputError(f"sscweb: unknown option(s) {sorted(options)}; expected coordinate_system")
    if len(parts) != 1 or not parts[0]:
        raise ProductNotFound(
            f"sscweb/{'/'.join(parts)}: expected 'sscweb/<observatory id>' (e.g. 'sscweb/ace')"
        )
    system = _coordinate_system(coordinate_system)
    obs = _observatory(parts[0])
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    lo = max(start, obs["start"]) if obs["start"] is not None else start
    hi = min(stop, obs["stop"] + np.timedelta64(1, "s")) if obs["stop"] is not None else stop
    if lo >= hi:
        return _build(obs, _empty_like_result(system), system)
    pieces = _pieces(lo, hi)
    if len(pieces) == 1:
        results = [_fetch_piece(obs["id"], *pieces[0], system)]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pieces))) as pool:
            results = list(pool.map(lambda p: _fetch_piece(obs["id"], p[0], p[1], system), pieces))
    merged = _empty_like_result(system)
    for key in ("time", "X", "Y", "Z"):
        merged[key] = np.concatenate([r[key] for r in results]) if results else merged[key]
    merged["coordinate_system"] = next((r["coordinate_system"] for r in results if r["coordinate_system"]),
                                       system.upper())
    keep = (merged["time"] >= start) & (merged["time"] < stop)
    for key in ("time", "X", "Y", "Z"):
        merged[key] = merged[key][keep]
    return _build(obs, merged, system)


def observatories_to_node(content: bytes):
    """Inventory node of SSCWeb's observatory list: one ``dataset`` child per observatory.

    Examples
    --------
    >>> xml = (b'<ObservatoryResponse xmlns="http://sscweb.gsfc.nasa.gov/schema"><Observatory>'
    ...        b'<Id>ace</Id><Name>ACE</Name><Resolution>720</Resolution>'
    ...        b'<StartTime>1997-08-25T17:48:00.000Z</StartTime><EndTime>2024-05-19T23:48:00.000Z'
    ...        b'</EndTime></Observatory></ObservatoryResponse>')
    >>> node = observatories_to_node(xml)
    >>> node.ace.path, node.ace.meta["cadence"], node.ace.meta["start"]
    ('sscweb/ace', 'PT720S', '1997-08-25T17:48:00Z')
    """
    from ..inventory import Node

    children = []
    for obs in sorted(parse_observatories(content), key=lambda o: o["id"]):
        meta = {
            "description": f"{obs['name']} trajectory (SSCWeb)",
            "name": obs["name"],
            "units": "km",
            "cadence": f"PT{obs['resolution']}S",
            "coordinate_systems": sorted(COORDINATE_SYSTEMS),
        }
        if obs["start"] is not None:
            meta["start"] = str(obs["start"].astype("datetime64[s]")) + "Z"
        if obs["stop"] is not None:
            meta["stop"] = str(obs["stop"].astype("datetime64[s]")) + "Z"
        if obs["resource_id"]:
            meta["spase_id"] = obs["resource_id"]
        children.append(Node(obs["id"], f"sscweb/{obs['id']}", "dataset", meta=meta))
    return Node("sscweb", "sscweb", "provider",
                meta={"description": "Spacecraft trajectories from NASA's Satellite Situation Center"},
                children=children)


def inventory():
    """The provider's inventory node: one ``dataset`` child per observatory (path ``"sscweb/<id>"``).

    Metadata: name, time coverage, cadence, units (km), coordinate systems. Persisted on disk and
    revalidated in the background when stale (:func:`xspace.fetch.inventory.cached_tree`).

    Examples
    --------
    >>> inventory().ace.meta["cadence"]  # doctest: +SKIP
    'PT720S'
    """
    from ..inventory import cached_tree

    return cached_tree(NAME, f"{_base()}/observatories", observatories_to_node, ttl=OPTIONS["cache_ttl"],
                       headers={"Accept": "application/xml"}, kind="xml")
