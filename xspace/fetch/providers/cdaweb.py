"""CDAWeb: NASA's space-physics data archive, read file by file, lazily.

Product paths
-------------
=====================================  ====================================================================
``"cdaweb/AC_H0_MFI"``                 every variable of the dataset (:class:`xarray.Dataset`)
``"cdaweb/AC_H0_MFI/BGSEc"``           one variable (:class:`xarray.DataArray`, with its coordinates)
``"cdaweb/AC_H0_MFI/BGSEc,Magnitude"`` several variables (:class:`xarray.Dataset`)
=====================================  ====================================================================

Dataset identifiers are case-insensitive (CDAWeb's are upper case); variable names are not.

How a request is served
-----------------------
1. **File list.** By default from the CDAS REST ``orig_data`` endpoint
   (``{cdaweb_url}/WS/cdasr/1/dataviews/sp_phys/datasets/{ID}/orig_data/{start},{stop}``, asked for whole
   UTC days so neighbouring requests share the cached answer); with ``method="archive"`` — and
   automatically when the REST service fails — from the HTTPS archive's directory pages, whose layout
   (``/pub/data/...`` subdivided by year, year/month, year/day-of-year, or flat) comes from the catalog
   ``all.xml`` (access ``URL``, ``subdividedby``, ``filenaming``). Both answers are cached and revalidated
   after the TTL (option ``cache_ttl``, or ``ttl=`` here).
2. **Versions.** File names end in a version token compared numerically (``v10 > v9``,
   ``5.10.0 > 5.9.0``); only the newest version of each file is read. When a newer version appears
   (seen once the listing's TTL has expired), the cached copies of older versions are removed
   (:func:`xspace.fetch.cache.forget`).
3. **Metadata only.** For each file, the CDF header records and the time variables are read with HTTP
   Range requests (:mod:`xspace.fetch._remote`; a cached file is opened locally instead). The first
   file's metadata tells how many leading blocks it needed; the other files (same layout) are then
   asked for that many blocks in their first request: one request per file. The result is
   dask-backed: one chunk per file whose task downloads the file through the cache (once, wherever
   the task runs) and reads the records selected at build time (:mod:`xspace.fetch._assemble`).
   ``load=True`` downloads every needed file now, in parallel (``max_connections_per_host``), with a
   progress bar (``progress=True``, or automatically on a terminal for more than a few files), and
   reads them with dask's threaded scheduler (unless a scheduler or a ``distributed`` client is in use).
4. **Master CDF.** ``/pub/software/cdawlib/0MASTERS/<id>_00000000_v01.cdf`` (cached, revalidated;
   asked for while the file list is, to save a round trip):
   its variable attributes win over the data files' (as on CDAWeb); its structure gives the variables,
   dimensions and dtypes of an empty result.
5. **Virtual variables** (``VIRTUAL="TRUE"`` with a ``FUNCT`` attribute in the master: computed by
   CDAWeb's server, absent from the files) come from the REST ``data`` endpoint (a CDF the server
   generates for the interval). They are fetched **eagerly**, when asked for by name (or for a whole
   dataset with ``virtual=True``), and aligned on the time coordinate of the files.

Options of :func:`get`
----------------------
``method`` ("rest" | "archive"), ``ttl`` (seconds), ``block_size`` (bytes per Range request, default
64 KiB), ``include_ignore_data``, ``virtual``, ``progress``, ``max_connections_per_host``, ``boundary``
("next" | "first": which copy of the record two consecutive files hold is kept; default "next", the
copy of the file whose day it is).

Examples
--------
>>> import tempfile, xspace
>>> from xspace.testing.cdaweb_site import serve_cdaweb
>>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=2) as srv, \\
...         xspace.set_options(cdaweb_url=srv.url, cache_dir=tmp):
...     ramp = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:59", "2020-01-02T00:02")
...     ramp.values.tolist(), ramp.chunks     # one chunk per daily file
([10520639.0, 10520640.0, 10520641.0], ((1, 2),))
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import numpy as np
import xarray as xr

from ...errors import CacheError, FetchError, InputError, OfflineError, ProductNotFound
from ...options import OPTIONS
from .._times import compact

NAME = "cdaweb"

__all__ = ["NAME", "get", "inventory", "list_files", "catalog", "version_key", "newest_versions"]

log = logging.getLogger(__name__)

REST_PATH = "/WS/cdasr/1/dataviews/sp_phys"
MASTERS_PATH = "/pub/software/cdawlib/0MASTERS"
_REAL_HOSTS = ("https://cdaweb.gsfc.nasa.gov", "http://cdaweb.gsfc.nasa.gov", "https://spdf.gsfc.nasa.gov",
               "http://spdf.gsfc.nasa.gov", "https://cdaweb.sci.gsfc.nasa.gov")
_JSON = {"Accept": "application/json"}


# ------------------------------------------------------------------------------------------- URLs
def _base() -> str:
    from .. import base_url

    return base_url("cdaweb")


def _rest(path: str) -> str:
    return _base() + REST_PATH + path


def _catalog_url() -> str:
    """all.xml: option ``cdaweb_catalog_url``; else beside a non-default ``cdaweb_url``; else SPDF's."""
    from .. import DEFAULT_URLS, base_url

    if OPTIONS.get("cdaweb_catalog_url") or os.environ.get("XSPACE_CDAWEB_CATALOG_URL"):
        return base_url("cdaweb_catalog")
    base = _base()
    if base != DEFAULT_URLS["cdaweb"]:
        return base + "/pub/catalogs/all.xml"
    return DEFAULT_URLS["cdaweb_catalog"]


def _local_url(url: str) -> str:
    """Archive URLs of the catalog point at the real hosts: follow ``cdaweb_url`` when it is changed."""
    from .. import DEFAULT_URLS

    base = _base()
    if base == DEFAULT_URLS["cdaweb"]:
        return url
    for host in _REAL_HOSTS:
        if url.startswith(host + "/"):
            return base + url[len(host):]
    return url


def _ttl(options) -> float:
    ttl = options.get("ttl")
    return float(OPTIONS["cache_ttl"] if ttl is None else ttl)


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


# ------------------------------------------------------------------------------------------ versions
_VERSION_RE = re.compile(r"^(?P<key>.+?)[_-][vV](?P<ver>\d+(?:[._]\d+)*)(?P<ext>\.[A-Za-z0-9]+)$")


def version_key(name: str) -> tuple[str, tuple[int, ...]]:
    """(file name without its version, version as a tuple of ints) of an archive file name.

    Examples
    --------
    >>> version_key("ac_h0_mfi_20220101_v10.cdf") > version_key("ac_h0_mfi_20220101_v9.cdf")
    True
    >>> version_key("rbspa_rel04_ect-hope-PA-L3_20121201_v5.10.0.cdf")
    ('rbspa_rel04_ect-hope-PA-L3_20121201.cdf', (5, 10, 0))
    """
    base = name.rsplit("/", 1)[-1]
    m = _VERSION_RE.match(base)
    if not m:
        return base, ()
    return m.group("key") + m.group("ext"), tuple(int(x) for x in re.split(r"[._]", m.group("ver")))


@dataclass
class FileEntry:
    """One archive file: URL, nominal time span, size (when announced)."""

    url: str
    start: np.datetime64
    stop: np.datetime64
    size: int | None = None

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def newest_versions(entries: list[FileEntry]) -> tuple[list[FileEntry], list[FileEntry]]:
    """(newest version of each file, superseded entries), both in time order.

    Examples
    --------
    >>> t = np.datetime64("2020-01-01")
    >>> es = [FileEntry(f"h/x_20200101_v{v}.cdf", t, t) for v in ("9", "10", "1")]
    >>> [e.name for e in newest_versions(es)[0]]
    ['x_20200101_v10.cdf']
    """
    best: dict[str, tuple[tuple, FileEntry]] = {}
    old = []
    for e in entries:
        key, ver = version_key(e.name)
        cur = best.get(key)
        if cur is None or ver > cur[0]:
            if cur is not None:
                old.append(cur[1])
            best[key] = (ver, e)
        elif ver != cur[0] or e.url != cur[1].url:
            old.append(e)
    keep = sorted((e for _, e in best.values()), key=lambda e: (e.start, e.name))
    return keep, old


def _forget_superseded(chosen: list[FileEntry], superseded: list[FileEntry]) -> None:
    """Remove cached copies (and saved Range blocks) of versions older than the chosen ones."""
    from .. import _remote, cache

    for e in superseded:
        try:
            cache.forget(e.url)
        except FetchError:
            pass
        _remote.forget_ranges(e.url)
        _REFS.pop(e.url, None)
    by_dir: dict[str, list[FileEntry]] = {}
    for e in chosen:
        by_dir.setdefault(e.url.rsplit("/", 1)[0], []).append(e)
    by_folder: dict[Path, list[FileEntry]] = {}
    for es in by_dir.values():
        try:
            by_folder.setdefault(cache.path_for(es[0].url).parent, []).extend(es)
        except FetchError:
            continue
    for folder, es in by_folder.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        wanted = {version_key(e.name)[0]: version_key(e.name)[1] for e in es}
        for n in names:
            hidden = n.startswith(".") and n.endswith(".ranges")
            real = n[1:-len(".ranges")] if hidden else n
            if real.endswith((".meta", ".lock", ".tmp", ".part")) or (n.startswith(".") and not hidden):
                continue
            key, ver = version_key(real)
            if key in wanted and ver < wanted[key]:
                try:
                    if hidden:
                        os.unlink(folder / n)
                    else:
                        cache.forget(folder / n)
                except OSError:
                    pass


# ------------------------------------------------------------------------------------------- catalog
@dataclass
class DatasetInfo:
    """What all.xml says about one dataset."""

    id: str
    label: str = ""
    start: str = ""
    stop: str = ""
    mission: str = ""
    mission_label: str = ""
    instrument: str = ""
    instrument_type: str = ""
    url: str = ""
    subdividedby: str = ""
    filenaming: str = ""
    pi: str = ""
    notes: str = ""


_CATALOG_MEMO: dict[str, dict[str, DatasetInfo]] = {}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_catalog(data: bytes) -> dict[str, DatasetInfo]:
    """Datasets of a CDAWeb ``all.xml`` catalog, by identifier.

    Examples
    --------
    >>> xml = b'''<sites><datasite><dataset serviceprovider_ID="AC_K2_MFI" timerange_start="1997-09-02 00:00:00"
    ...   timerange_stop="2024-01-01 00:00:00"><observatory ID="ACE"/><mission_group ID="ACE"/>
    ...   <instrument ID="MAG"/><description short="ACE 1-hr mag"/>
    ...   <access subdividedby="%Y" filenaming="ac_k2_mfi_%Y%m%d_%Q.cdf">
    ...   <URL>https://cdaweb.gsfc.nasa.gov/pub/data/ace/mag/level_2_cdaweb/mfi_k2</URL></access>
    ...   </dataset></datasite></sites>'''
    >>> info = parse_catalog(xml)["AC_K2_MFI"]
    >>> info.mission, info.instrument, info.subdividedby, info.filenaming
    ('ACE', 'MAG', '%Y', 'ac_k2_mfi_%Y%m%d_%Q.cdf')
    """
    import xml.etree.ElementTree as ET

    digest = hashlib.sha1(data).hexdigest()
    hit = _CATALOG_MEMO.get(digest)
    if hit is not None:
        return hit
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FetchError(f"CDAWeb catalog (all.xml) cannot be parsed: {exc}") from None
    out: dict[str, DatasetInfo] = {}
    for el in root.iter():
        if _local(el.tag) != "dataset":
            continue
        a = el.attrib
        ident = (a.get("serviceprovider_ID") or a.get("ID") or a.get("id") or "").strip()
        if not ident:
            continue
        info = DatasetInfo(ident, start=a.get("timerange_start", ""), stop=a.get("timerange_stop", ""))
        for child in el:
            tag = _local(child.tag)
            ca = child.attrib
            short = ""
            for sub in child:
                if _local(sub.tag) == "description":
                    short = sub.attrib.get("short", "") or (sub.text or "").strip()
            if tag in ("mission_group", "observatorygroup"):
                info.mission = ca.get("ID") or ca.get("name") or short or (child.text or "").strip() or info.mission
            elif tag == "observatory":
                info.mission_label = short or ca.get("long_name") or ""
                if not info.mission:
                    info.mission = ca.get("ID") or ca.get("short") or ca.get("name") or ""
            elif tag == "instrument":
                info.instrument = ca.get("ID") or ca.get("short") or ca.get("name") or (child.text or "").strip()
            elif tag in ("instrument_type", "instrumenttype"):
                info.instrument_type = ca.get("ID") or ca.get("name") or (child.text or "").strip()
            elif tag == "description":
                info.label = ca.get("short") or (child.text or "").strip()
            elif tag == "data_producer":
                info.pi = ca.get("name") or ca.get("short") or ""
            elif tag == "access":
                if info.url and info.filenaming:
                    continue  # keep the first access (the HTTPS archive)
                url = ca.get("URL") or ""
                for sub in child:
                    if _local(sub.tag) == "URL" and (sub.text or "").strip():
                        url = sub.text.strip()
                info.url = url
                info.subdividedby = ca.get("subdividedby", "")
                info.filenaming = ca.get("filenaming", "")
        if ident in out and out[ident].url and not info.url:
            continue
        out[ident] = info
    _CATALOG_MEMO.clear()
    _CATALOG_MEMO[digest] = out
    return out


def catalog(ttl: float | None = None) -> dict[str, DatasetInfo]:
    """The parsed CDAWeb catalog (all.xml), cached and revalidated after ``ttl`` seconds.

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing.cdaweb_site import serve_cdaweb
    >>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=1, real_files=False) as site, \\
    ...         xspace.set_options(cdaweb_url=site.url, cache_dir=tmp):
    ...     info = catalog()["XS_TEST_1MIN"]
    >>> info.subdividedby, info.filenaming
    ('%Y', 'xs_test_1min_%Y%m%d_%Q.cdf')
    """
    from .. import cache

    data = cache.fetch_bytes(_catalog_url(), kind="xml", ttl=ttl if ttl is not None else OPTIONS["cache_ttl"])
    return parse_catalog(data)


def _not_found(dataset: str, ttl: float, why: str = "") -> ProductNotFound:
    try:
        cat = catalog(ttl)
    except FetchError:
        cat = {}
    ids = list(cat)
    close = difflib.get_close_matches(dataset, ids, n=5, cutoff=0.6)
    # a mission node of the inventory (cdaweb/<Mission>/<Instrument>) is no dataset: name its datasets
    members = sorted(i.id for i in cat.values() if i.mission and i.mission.upper() == dataset.upper())
    if members:
        more = ", ..." if len(members) > 8 else ""
        mission = next(i.mission for i in cat.values() if i.id == members[0])
        return ProductNotFound(f"cdaweb/{mission}: a mission of the CDAWeb inventory, not a dataset; its "
                               f"datasets: {', '.join(members[:8])}{more}")
    hint = f"; close matches: {', '.join(close)}" if close else ""
    return ProductNotFound(f"cdaweb/{dataset}: no such CDAWeb dataset{why}{hint}")


# ------------------------------------------------------------------------------------------ listings
def _parse_time(text: str) -> np.datetime64:
    text = text.strip().rstrip("Z").replace(" ", "T")
    return np.datetime64(text, "ns")


def _canonical(url: str) -> str:
    """One URL per file: CDAWeb serves the archive as ``/sp_phys/data/...`` and ``/pub/data/...``."""
    parts = urlsplit(url)
    if parts.path.startswith("/sp_phys/data/"):
        return url.replace("/sp_phys/data/", "/pub/data/", 1)
    return url


def _list_rest(dataset: str, start, stop, ttl: float) -> list[FileEntry]:
    from .. import cache

    day = np.timedelta64(1, "D")
    t0 = np.datetime64(start, "D")
    t1 = np.datetime64(stop, "D")
    if np.datetime64(t1, "ns") < stop or t1 == t0:
        t1 = t1 + day
    url = _rest(f"/datasets/{dataset}/orig_data/{compact(t0)},{compact(t1)}")
    body = cache.fetch_bytes(url, kind="any", ttl=ttl, headers=_JSON)
    if not body.strip():
        return []
    try:
        doc = json.loads(body)
    except ValueError as exc:
        cache.forget(url)  # an answer we cannot read is not kept
        raise FetchError(f"{url}: expected a JSON orig_data answer ({exc})") from None
    if isinstance(doc, dict) and "FileDescription" not in doc and len(doc) == 1:
        inner = next(iter(doc.values()))
        doc = inner if isinstance(inner, dict) else doc
    entries = []
    for fd in (doc.get("FileDescription") or []) if isinstance(doc, dict) else []:
        name = fd.get("Name")
        if not name:
            continue
        try:
            a, b = _parse_time(fd["StartTime"]), _parse_time(fd["EndTime"])
        except (KeyError, ValueError):
            a = b = np.datetime64("NaT", "ns")
        size = fd.get("Length")
        entries.append(FileEntry(_canonical(urljoin(url, name)), a, b, int(size) if size is not None else None))
    return entries


_CODES = {"Y": r"(?P<Y>\d{4})", "y": r"(?P<y>\d{2})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})",
          "j": r"(?P<j>\d{3})", "H": r"(?P<H>\d{2})", "M": r"(?P<M>\d{2})", "S": r"(?P<S>\d{2})"}


_VERSION_IN_NAMING = re.compile(r"[_-]v\d+(?:\.\d+)*(?=\.cdf$)", re.IGNORECASE)


def _name_regex(filenaming: str) -> re.Pattern:
    """Regex matching the archive's file names (strftime codes as groups), whatever their version token.

    Examples
    --------
    >>> bool(_name_regex("ac_k2_mfi_%Y%m%d_%Q.cdf").match("ac_k2_mfi_20220101_v10.cdf"))
    True
    >>> bool(_name_regex("ac_k2_mfi_%Y%m%d_v01.cdf").match("ac_k2_mfi_20220101_v9.cdf"))
    True
    """
    m = _VERSION_IN_NAMING.search(filenaming)
    if m:
        filenaming = filenaming[: m.start()] + "\x00" + filenaming[m.end():]
    out, i, used = [], 0, set()
    while i < len(filenaming):
        c = filenaming[i]
        if c == "%" and i + 1 < len(filenaming) and filenaming[i + 1] == "Q":  # CDAWeb's version token
            out.append(r"[vV]?[0-9][0-9.]*")
            m = m or True
            i += 2
            continue
        if c == "%" and i + 1 < len(filenaming) and filenaming[i + 1] in _CODES:
            code = filenaming[i + 1]
            out.append(_CODES[code] if code not in used else r"\d+")
            used.add(code)
            i += 2
            continue
        out.append(r"[_-]v[0-9][0-9.]*" if c == "\x00" else re.escape(c))
        i += 1
    pattern = "".join(out)
    if not m:
        pattern = re.sub(r"\\\.cdf$", r"(?:[_-]v[0-9][0-9.]*)?\\.cdf", pattern)
    return re.compile("^" + pattern + "$", re.IGNORECASE)


def _time_of(m: re.Match) -> np.datetime64 | None:
    g = m.groupdict()
    try:
        year = int(g["Y"]) if g.get("Y") else (1900 + int(g["y"]) if int(g["y"]) >= 57 else 2000 + int(g["y"])) \
            if g.get("y") else 1900
        t = np.datetime64(f"{year:04d}-01-01", "ns")
        if g.get("j"):
            t = t + np.timedelta64(int(g["j"]) - 1, "D")
        else:
            t = np.datetime64(f"{year:04d}-{int(g.get('m') or 1):02d}-{int(g.get('d') or 1):02d}", "ns")
        t = t + np.timedelta64(int(g.get("H") or 0), "h") + np.timedelta64(int(g.get("M") or 0), "m") \
            + np.timedelta64(int(g.get("S") or 0), "s")
        return t
    except (TypeError, ValueError):
        return None


def _unit(filenaming: str) -> np.timedelta64:
    if "%S" in filenaming:
        return np.timedelta64(1, "s")
    if "%M" in filenaming:
        return np.timedelta64(1, "m")
    if "%H" in filenaming:
        return np.timedelta64(1, "h")
    if "%d" in filenaming or "%j" in filenaming:
        return np.timedelta64(1, "D")
    if "%m" in filenaming:
        return np.timedelta64(31, "D")
    return np.timedelta64(366, "D")


def _folders(subdividedby: str, start, stop) -> list[str]:
    """Sub-folder names (strftime of ``subdividedby``) of the days in ``[start, stop]``."""
    import datetime as dt

    if not subdividedby or subdividedby.lower() == "none":
        return [""]
    day = np.datetime64(start, "D")
    last = np.datetime64(stop, "D")
    out: list[str] = []
    seen = set()
    while day <= last:
        d = day.astype(dt.date)
        name = d.strftime(subdividedby)
        if name not in seen:
            seen.add(name)
            out.append(name)
        day = day + np.timedelta64(1, "D")
    return out


_HREF_RE = re.compile(r"""href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)


def _is_listing(text: str) -> bool:
    """Whether an HTML page is a directory index (Apache's "Index of /..." with its "Parent Directory").

    Examples
    --------
    >>> _is_listing("<html><head><title>Index of /pub/data/ace</title></head><body></body></html>")
    True
    >>> _is_listing("<html><body><h1>502 Bad Gateway</h1></body></html>")
    False
    """
    head = text[:4096].lower()
    return "index of" in head or "parent directory" in text.lower()


def _list_archive(dataset: str, start, stop, ttl: float) -> list[FileEntry]:
    from .. import cache

    cat = catalog(ttl)
    info = cat.get(dataset)
    if info is None:
        raise _not_found(dataset, ttl, " in the catalog")
    if not info.url or not info.filenaming:
        raise FetchError(f"cdaweb/{dataset}: the catalog gives no archive location (access URL/filenaming)")
    root = _local_url(info.url).rstrip("/") + "/"
    regex = _name_regex(info.filenaming)
    unit = _unit(info.filenaming)
    found: list[tuple[np.datetime64, str]] = []
    margin = unit if unit > np.timedelta64(1, "D") else np.timedelta64(0, "D")
    for folder in _folders(info.subdividedby, start - margin, stop):
        url = root + (folder.strip("/") + "/" if folder else "")
        try:
            page = cache.fetch_bytes(url, kind="html", ttl=ttl)
        except FetchError as exc:
            if _status(exc) == 404:
                continue  # no data that year/month/day
            raise
        text = page.decode("utf-8", "replace")
        matched = 0
        for href in _HREF_RE.findall(text):
            name = href.rstrip("/").rsplit("/", 1)[-1]
            m = regex.match(name)
            if not m:
                continue
            matched += 1
            t = _time_of(m)
            if t is not None:
                found.append((t, urljoin(url, href)))
        if not matched and not _is_listing(text):
            # an HTML page that is no directory index (a proxy's error page served with status 200):
            # not an empty folder, and not to be kept as one
            cache.forget(url)
            raise FetchError(f"{url}: expected the archive's directory listing (an 'Index of' page), got "
                             f"another HTML page: {' '.join(re.sub(r'<[^>]*>', ' ', text).split())[:200]!r}")
    found.sort()
    entries = []
    for i, (t, url) in enumerate(found):
        nxt = next((u for u, _ in found[i + 1:] if u > t), t + unit)
        entries.append(FileEntry(url, t, min(nxt, t + unit)))
    return entries


def list_files(dataset: str, start, stop, *, method: str | None = None, ttl: float | None = None) -> list[FileEntry]:
    """The newest version of each archive file of ``dataset`` that may hold data in ``[start, stop)``.

    Parameters
    ----------
    dataset : str
        CDAWeb dataset identifier.
    start, stop : numpy.datetime64
    method : {"rest", "archive", None}
        File list from the REST ``orig_data`` endpoint or from the archive's directory pages; None:
        REST, falling back to the archive when REST fails.
    ttl : float, optional
        Seconds the cached listing stays fresh (default: option ``cache_ttl``).

    Returns
    -------
    list of FileEntry

    Examples
    --------
    >>> import tempfile, numpy as np, xspace
    >>> from xspace.testing.cdaweb_site import serve_cdaweb
    >>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=2, real_files=False) as site, \\
    ...         xspace.set_options(cdaweb_url=site.url, cache_dir=tmp):
    ...     t0, t1 = np.datetime64("2020-01-02T06:00"), np.datetime64("2020-01-02T12:00")
    ...     [e.name for e in list_files("XS_TEST_1MIN", t0, t1)], \\
    ...         [e.name for e in list_files("XS_TEST_1MIN", t0, t1, method="archive")]
    (['xs_test_1min_20200102_v01.cdf'], ['xs_test_1min_20200102_v01.cdf'])
    """
    if method not in (None, "rest", "archive"):
        raise InputError(f"cdaweb: method={method!r}; expected 'rest' or 'archive'")
    ttl = float(OPTIONS["cache_ttl"] if ttl is None else ttl)
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    entries = None
    if method != "archive":
        try:
            entries = _list_rest(dataset, start, stop, ttl)
        except OfflineError:
            raise
        except FetchError as exc:
            body = getattr(exc, "body", b"") or b""
            if _status(exc) == 404 and b"no data" in body.lower():
                entries = []  # CDAS answers 404 "No data available." for an empty interval
            elif _status(exc) in (400, 404):
                try:
                    known = dataset in catalog(ttl)
                except FetchError:
                    known = False
                if not known:
                    raise _not_found(dataset, ttl) from None
                log.info("CDAWeb REST orig_data failed (%s); listing the archive instead", exc)
                entries = None
            else:
                log.info("CDAWeb REST orig_data failed (%s); listing the archive instead", exc)
                entries = None
    if entries is None:
        entries = _list_archive(dataset, start, stop, ttl)
    chosen, superseded = newest_versions(entries)
    _forget_superseded(chosen, superseded)
    out = []
    for e in chosen:
        if np.isnat(e.start) or np.isnat(e.stop):
            out.append(e)
        elif e.start < stop and e.stop >= start:
            out.append(e)
    return out


# ------------------------------------------------------------------------------------------- master
_MASTER_MISSING: dict[str, float] = {}


def _master(dataset: str, ttl: float):
    """The parsed master CDF of ``dataset``, or None when CDAWeb has none (or it is unreachable)."""
    import time

    from .. import cache
    from ...io._cdfarray import cdf_file

    url = f"{_base()}{MASTERS_PATH}/{dataset.lower()}_00000000_v01.cdf"
    miss = _MASTER_MISSING.get(url)
    if miss is not None and time.monotonic() - miss < ttl:
        return None
    try:
        path = cache.fetch_file(url, kind="cdf", immutable=False, ttl=ttl)
    except (FetchError, OSError) as exc:
        if _status(exc) == 404:
            _MASTER_MISSING[url] = time.monotonic()
        else:
            log.info("no master CDF for %s: %s", dataset, exc)
        return None
    return cdf_file(str(path))


def _is_virtual(v) -> bool:
    """A master variable computed by CDAWeb's server (VIRTUAL="TRUE" with a FUNCT/FUNCTION attribute)."""
    value = v.attrs.get("VIRTUAL")
    flagged = isinstance(value, str) and value.strip().upper() == "TRUE"
    return flagged and ("FUNCT" in v.attrs or "FUNCTION" in v.attrs)


# -------------------------------------------------------------------------------------- opening files
_REFS: "OrderedDict[str, object]" = OrderedDict()
_REFS_LOCK = threading.Lock()
_MAX_REFS = 1024


def _fetch_cdf(url: str, size, root: str | None = None):
    """dask task helper: local path of an archive file, downloaded through the cache if needed.

    ``root`` is the cache folder of the process that built the graph: a dask.distributed worker
    (another process, without that process's options) stores the file there too, so the client and
    every worker sharing the file system share one cache. When that folder cannot be used (a worker
    on another machine), the worker's own cache is used.
    """
    from .. import _remote, cache

    path = cache.path_for(url)
    if root is not None and Path(root) != cache.cache_dir():
        target = cache.path_for(url, root=root)
        if target.exists():
            return target
        try:
            return cache.fetch_file(url, kind="cdf", expected_size=size, root=root)
        except (CacheError, PermissionError):
            pass
    if path.exists():
        return path
    path = cache.fetch_file(url, kind="cdf", expected_size=size)
    _remote.forget_ranges(url)  # the whole file is here now: its Range blocks are useless
    return path


def _open_one(entry: FileEntry, block_size: int, first_blocks: int = 1, hint: list | None = None,
              local: bool = False):
    """FileRef of one file (memoised). ``local``: the file is about to be read whole; a memoised
    structure read over HTTP Range is replaced by the cached file's (the chunk tasks read through it)."""
    from .. import _remote, cache
    from .._assemble import FileRef, prefetch_times, remember_local

    with _REFS_LOCK:
        ref = _REFS.get(entry.url)
        if ref is not None:
            _REFS.move_to_end(entry.url)
    if ref is not None and not (local and isinstance(getattr(ref.cdf, "src", None), _remote.RangeSource)
                                and cache.path_for(entry.url).exists()):
        return ref
    f = _remote.open_remote(entry.url, block_size=block_size, expected_size=entry.size,
                            first_blocks=first_blocks)
    size = entry.size if entry.size is not None else getattr(f.src, "size", None)
    ref = FileRef(entry.url, f, size)
    prefetch_times(ref)
    if hint is not None:
        hint.append(_remote.metadata_blocks(f))
    _remote.save_ranges(f)
    _remote.release(f)  # the memo keeps structure and times, not whole files
    remember_local(f)  # chunk tasks of this process read a cached file through this parsed structure
    with _REFS_LOCK:
        _REFS[entry.url] = ref
        while len(_REFS) > _MAX_REFS:
            _REFS.popitem(last=False)
    return ref


def _parallel(func, items, workers: int):
    if len(items) <= 1 or workers <= 1:
        return [func(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="xspace-cdaweb") as pool:
        return list(pool.map(func, items))


def _open_all(entries: list[FileEntry], block: int, workers: int, local: bool = False):
    """FileRefs of ``entries`` (memoised, or parsed in parallel: local or over HTTP Range).

    Files read over HTTP Range: the first one alone, then the others with a first request as large as
    the run of blocks the first one's metadata needed (:func:`xspace.fetch._remote.metadata_blocks`) —
    the daily files of a dataset share their layout, so each then costs one request instead of two.
    """
    refs: list = [None] * len(entries)
    remote = []
    for i, e in enumerate(entries):
        if e.url in _REFS and not local:
            refs[i] = _open_one(e, block)
        else:
            remote.append(i)
    first_blocks = 1
    if len(remote) > 1 and not local:
        hint: list[int] = []
        refs[remote[0]] = _open_one(entries[remote[0]], block, hint=hint)
        remote = remote[1:]
        first_blocks = hint[0] if hint else 1
    opened = _parallel(lambda i: _open_one(entries[i], block, first_blocks, local=local), remote, workers)
    for i, ref in zip(remote, opened):
        refs[i] = ref
    return refs


def _download_all(refs, options) -> None:
    """Download the files ``refs`` (with ``url`` and ``size``) now: parallel, bounded per host, progress bar."""
    from .. import cache

    todo = [r for r in refs if not cache.path_for(r.url).exists()]
    if not todo:
        return
    workers = int(options.get("max_connections_per_host") or OPTIONS["max_connections_per_host"])
    from .._progress import progress_bar

    bar = progress_bar(len(todo), "cdaweb", "file", options)
    lock = threading.Lock()

    def one(r):
        _fetch_cdf(r.url, r.size)
        if bar is not None:
            with lock:
                bar.update(1)

    try:
        _parallel(one, todo, workers)
    finally:
        if bar is not None:
            bar.close()


# ------------------------------------------------------------------------------------------ virtual
def _virtual_variables(dataset: str, names: list[str], start, stop, ttl: float, ds: xr.Dataset,
                       master=None) -> xr.Dataset:
    """Add CDAWeb-computed (virtual) variables from the REST ``data`` endpoint, eagerly."""
    from .. import cache
    from ...io.backend import build_dataset

    url = _rest(f"/datasets/{dataset}/data/{compact(start)},{compact(stop)}/{','.join(names)}")
    body = cache.fetch_bytes(url, kind="json", ttl=ttl, params={"format": "cdf"}, headers=_JSON)
    try:
        doc = json.loads(body)
        files = [fd["Name"] for fd in doc.get("FileDescription") or []]
        if not files and isinstance(doc, dict) and (doc.get("Error") or doc.get("Status")):
            raise ValueError("; ".join(str(m) for key in ("Error", "Status", "Message") for m in doc.get(key) or []))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        cache.forget(cache.path_for(url, {"format": "cdf"}))  # an error answer is not kept
        raise FetchError(f"{url}: unexpected answer of the CDAS data endpoint: {exc}") from None
    parts = []
    for name in files:
        path = cache.fetch_file(urljoin(url, name), kind="cdf")
        parts.append(build_dataset(str(path)))
    for n in names:
        pieces = [p[n] for p in parts if n in p.variables]
        if not pieces:
            raise FetchError(f"cdaweb/{dataset}/{n}: the CDAS data endpoint returned no values for it")
        da_ = xr.concat(pieces, dim=pieces[0].dims[0]) if len(pieces) > 1 else pieces[0]
        tdim = da_.dims[0]
        t = da_[tdim].values if tdim in da_.coords else None
        if t is not None and np.issubdtype(t.dtype, np.datetime64):
            keep = (t >= start) & (t < stop)
            da_ = da_.isel({tdim: np.flatnonzero(keep)})
            da_ = da_.drop_duplicates(tdim)
            if tdim in ds.dims:
                da_ = da_.reindex({tdim: ds[tdim].values})
        da_ = da_.load()
        if master is not None and n in master.variables:  # the master's metadata, as for every variable
            from ...io.backend import _variable_attrs

            attrs = _variable_attrs(master.variables[n], True, ["FILLVAL"])
            da_.attrs.update(attrs)
        ds[n] = da_.variable if tdim in ds.dims else da_
    return ds


# --------------------------------------------------------------------------------------------- get
def _split(parts: list[str]) -> tuple[str, list[str] | None]:
    if not parts:
        raise ProductNotFound("cdaweb: a product path needs a dataset, e.g. 'cdaweb/AC_H0_MFI' or "
                              "'cdaweb/AC_H0_MFI/BGSEc'")
    if len(parts) > 2:
        raise ProductNotFound(f"cdaweb/{'/'.join(parts)}: expected 'cdaweb/<DATASET>' or 'cdaweb/<DATASET>/<var>'")
    dataset = parts[0].strip().upper()
    names = None
    if len(parts) == 2:
        names = [n.strip() for n in parts[1].split(",") if n.strip()]
        if not names:
            raise ProductNotFound(f"cdaweb/{'/'.join(parts)}: empty variable list")
    return dataset, names


def get(parts: list[str], start, stop, *, load: bool = False, **options):
    """Data of a CDAWeb dataset or variable(s) over ``[start, stop)`` (see the module docstring).

    Parameters
    ----------
    parts : list of str
        Product path after ``"cdaweb/"``: ``[DATASET]`` or ``[DATASET, "var"]`` or
        ``[DATASET, "var1,var2"]``.
    start, stop : numpy.datetime64
        The interval ``[start, stop)``.
    load : bool
        Download every needed file now (in parallel, with a progress bar) and return loaded data.
    **options
        ``method`` ("rest" or "archive"), ``ttl``, ``block_size``, ``include_ignore_data``, ``virtual``,
        ``progress``, ``max_connections_per_host``, ``boundary`` ("next", the default, or "first": which
        copy of a record two consecutive files hold is kept — "next" takes the copy of the file whose
        period the record belongs to, as CDAWeb's own data service does; see
        :func:`xspace.fetch._assemble.assemble`).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        dask-backed unless ``load``; empty (right variables, dims and dtypes) when no data.

    Raises
    ------
    ProductNotFound
        Unknown dataset or variable (with close matches).
    FetchError, OfflineError
    """
    known = {"method", "ttl", "block_size", "include_ignore_data", "virtual", "progress", "max_connections_per_host",
             "boundary"}
    unknown = set(options) - known
    if unknown:
        raise InputError(f"cdaweb: unknown option(s) {sorted(unknown)}; expected some of {sorted(known)}")
    from .. import _remote
    from .._assemble import assemble, load_now

    dataset, names = _split(parts)
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    ttl = _ttl(options)
    product = f"cdaweb/{'/'.join(parts)}"
    if stop > start:
        # the master CDF is asked for while the file list is: one round trip less on a cold call
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="xspace-cdaweb-master") as pool:
            pending = pool.submit(_master, dataset, ttl)
            try:
                entries = list_files(dataset, start, stop, method=options.get("method"), ttl=ttl)
            finally:
                master = pending.result()
    else:
        entries = []
        master = _master(dataset, ttl)
    block = int(options.get("block_size") or _remote.DEFAULT_BLOCK_SIZE)
    workers = int(options.get("max_connections_per_host") or OPTIONS["max_connections_per_host"])
    if load:  # everything is wanted now: whole files at once, no Range reads of their metadata first
        _download_all(entries, options)
    refs = _open_all(entries, block, workers, local=load)

    structure = refs[0].cdf if refs else master
    virtual: list[str] = []
    plain = names
    if structure is master and master is not None and names is None and not options.get("virtual"):
        # the master's structure (no file in range): without the server-computed variables, like files
        plain = [n for n, v in master.variables.items() if not _is_virtual(v)
                 and str(v.attrs.get("VAR_TYPE", "")).strip().lower() == "data"]
    if names is not None:
        svars = structure.variables if structure is not None else {}
        mvars = master.variables if master is not None else {}
        plain, missing = [], []
        for n in names:
            if n in svars and (structure is master or not (n in mvars and _is_virtual(mvars[n]))):
                plain.append(n)  # (no file in range: a virtual variable is the master's empty one)
            elif n in mvars and _is_virtual(mvars[n]):
                virtual.append(n)
            else:
                missing.append(n)
        if missing:
            pool = sorted(set(svars) | set(mvars))
            close = difflib.get_close_matches(missing[0], pool, n=5, cutoff=0.5)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise ProductNotFound(f"{product}: no variable {missing[0]!r} in CDAWeb dataset {dataset}{hint}")
    elif options.get("virtual") and master is not None:
        virtual = [n for n, v in master.variables.items() if _is_virtual(v)]
    if virtual and plain is not None and structure is not None:
        # the time axis of the server-computed variables comes from the files, cut exactly like theirs
        for n in virtual:
            dep0 = str(master.variables[n].attrs.get("DEPEND_0", "")).strip()
            if dep0 in structure.variables and dep0 not in plain:
                plain.append(dep0)

    if structure is None:
        # no file in range and no master CDF: nothing tells the structure; an empty answer all the same
        log.info("%s: no file in [%s, %s) and no master CDF", product, start, stop)
        empty = {n: xr.Variable(("Epoch",), np.empty(0)) for n in (names or [])}
        ds = xr.Dataset(empty, coords={"Epoch": np.empty(0, "datetime64[ns]")} if names else None)
    else:
        from functools import partial

        from .. import cache

        ds = assemble(
            refs, start, stop, fetch=partial(_fetch_cdf, root=str(cache.cache_dir())),
            variables=plain,
            master=master,
            include_ignore_data=bool(options.get("include_ignore_data", False)),
            product=product,
            boundary=options.get("boundary") or "next",
        )
    for ref in refs:  # blocks read while assembling (non-record-varying values) are worth keeping
        _remote.save_ranges(ref.cdf)
    if virtual and stop > start:
        tdims = {str(master.variables[n].attrs.get("DEPEND_0", "")).strip() for n in virtual}
        if all(d in ds.dims and ds.sizes[d] == 0 for d in tdims):
            # no record in range (a gap between samples): the master's empty variables, no request
            empty = assemble([], start, stop, fetch=_fetch_cdf, variables=virtual, master=master, product=product)
            for n in virtual:
                ds[n] = empty[n].variable
        else:
            ds = _virtual_variables(dataset, virtual, start, stop, ttl, ds, master)
    ds.attrs.setdefault("xspace_product", product)
    if load:
        ds = load_now(ds)
    if names is not None and len(names) == 1:
        out = ds[names[0]]
        out.attrs.setdefault("xspace_product", product)
        return out
    return ds


# ---------------------------------------------------------------------------------------- inventory
def _time_resolution(master) -> str:
    """The master's ``Time_resolution`` global attribute (ISTP; free text such as "1 minute"), or ""."""
    for key, values in getattr(master, "global_attrs", {}).items():
        if key.lower() == "time_resolution" and values:
            return str(values[0]).strip()
    return ""


def _variables_of(dataset: str, ttl: float, dataset_meta: dict | None = None):
    """Parameter nodes of a dataset: names and descriptions from REST ``variables`` (else the master CDF's
    data variables), overlaid with the master CDF's ``UNITS``/``CATDESC`` and ``Time_resolution`` (cadence)
    and the dataset's time coverage (catalog), so each node shows description, units, coverage, cadence."""
    from .. import cache
    from ..inventory import Node

    rows: list[tuple[str, dict]] = []
    try:
        body = cache.fetch_bytes(_rest(f"/datasets/{dataset}/variables"), kind="json", ttl=ttl, headers=_JSON)
        doc = json.loads(body)  # (kind="json": only a valid JSON answer is cached)
        for vd in doc.get("VariableDescription") or []:
            name = vd.get("Name")
            if name:
                rows.append((name, {"description": vd.get("LongDescription") or vd.get("ShortDescription") or ""}))
    except (FetchError, ValueError, AttributeError):
        rows = []
    master = _master(dataset, ttl)
    cadence = ""
    if master is not None:
        cadence = _time_resolution(master)
        if not rows:
            rows = [(name, {}) for name, v in master.variables.items()
                    if str(v.attrs.get("VAR_TYPE", "")).strip().lower() == "data"]
        for name, meta in rows:
            v = master.variables.get(name)
            if v is None:
                continue
            if not meta.get("description") and v.attrs.get("CATDESC"):
                meta["description"] = str(v.attrs["CATDESC"])
            units = v.attrs.get("UNITS")
            if units is not None and str(units).strip():
                meta["units"] = str(units).strip()
    coverage = dict(dataset_meta or {})
    if not coverage.get("start"):
        try:
            info = catalog(ttl).get(dataset)
        except FetchError:
            info = None
        if info is not None:
            coverage = {"start": _iso_catalog(info.start), "stop": _iso_catalog(info.stop)}
    out = []
    for name, meta in rows:
        for key in ("start", "stop"):
            if coverage.get(key):
                meta[key] = coverage[key]
        if cadence:
            meta["cadence"] = cadence
        out.append(Node(name, f"cdaweb/{dataset}/{name}", "parameter", meta=meta))
    if not cadence:
        return out
    # a node as the answer: the dataset node adopts its cadence along with the variables
    return Node(dataset, f"cdaweb/{dataset}", "dataset", meta={"cadence": cadence}, children=out)


def _iso_catalog(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    text = text.replace(" ", "T")
    return text if text.endswith("Z") else text + "Z"


def tree_from_catalog(data: bytes):
    """The inventory tree (Mission -> Instrument -> Dataset, variables lazy) of an all.xml document.

    Examples
    --------
    >>> xml = b'''<sites><datasite><dataset serviceprovider_ID="AC_K2_MFI" timerange_start="1997-09-02 00:00:00"
    ...   timerange_stop="2024-01-01 00:00:00"><mission_group ID="ACE"/><instrument ID="MAG"/>
    ...   <description short="ACE 1-hour magnetic field"/></dataset></datasite></sites>'''
    >>> root = tree_from_catalog(xml)
    >>> node = root.ACE.MAG.AC_K2_MFI
    >>> node.path, node.meta["start"], node.loaded
    ('cdaweb/AC_K2_MFI', '1997-09-02T00:00:00Z', False)
    """
    from ..inventory import Node

    cat = parse_catalog(data)
    tree: dict[str, dict[str, list[DatasetInfo]]] = {}
    labels: dict[str, str] = {}
    for info in cat.values():
        mission = info.mission or "Other"
        tree.setdefault(mission, {}).setdefault(info.instrument or "Other", []).append(info)
        if info.mission_label and mission not in labels:
            labels[mission] = info.mission_label
    missions = []
    for mission in sorted(tree):
        instruments = []
        for inst in sorted(tree[mission]):
            datasets = []
            for info in sorted(tree[mission][inst], key=lambda i: i.id):
                meta = {"description": info.label, "start": _iso_catalog(info.start),
                        "stop": _iso_catalog(info.stop)}
                if info.instrument_type:
                    meta["instrument_type"] = info.instrument_type
                if info.pi:
                    meta["pi"] = info.pi
                datasets.append(Node(info.id, f"cdaweb/{info.id}", "dataset", meta=meta,
                                     children=_LazyVariables(info.id, meta)))
            instruments.append(Node(inst, f"cdaweb/{mission}/{inst}", "instrument", children=datasets))
        meta = {"description": labels[mission]} if mission in labels else {}
        missions.append(Node(mission, f"cdaweb/{mission}", "mission", meta=meta, children=instruments))
    return Node("cdaweb", "cdaweb", "provider", meta={"description": "NASA CDAWeb (SPDF)"}, children=missions)


class _LazyVariables:
    """Loader of a dataset node's variables (REST ``variables``, else the master CDF)."""

    def __init__(self, dataset: str, meta: dict | None = None):
        self.dataset = dataset
        self.meta = meta

    def __call__(self, node=None):
        return _variables_of(self.dataset, float(OPTIONS["cache_ttl"]), getattr(node, "meta", self.meta))


def inventory():
    """The CDAWeb inventory: Mission -> Instrument -> Dataset -> variables (variables loaded on access).

    Built from the catalog all.xml (option ``cdaweb_catalog_url``, else beside ``cdaweb_url``), persisted
    by :func:`xspace.fetch.inventory.cached_tree` (no request and no parsing within the TTL, background
    revalidation after it).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing.cdaweb_site import serve_cdaweb
    >>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=1) as srv, \\
    ...         xspace.set_options(cdaweb_url=srv.url, cache_dir=tmp):
    ...     root = inventory()
    ...     [v.name for v in root.ACE.MAG.AC_K2_MFI][:2]
    ['Magnitude', 'BGSEc']
    """
    from ..inventory import cached_tree

    ttl = float(OPTIONS["cache_ttl"])
    return cached_tree("cdaweb", _catalog_url(), tree_from_catalog, ttl=ttl, kind="xml", version=2,
                       lazy=lambda node: _variables_of(node.name, float(OPTIONS["cache_ttl"]), node.meta))
