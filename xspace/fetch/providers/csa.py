"""CSA provider: ESA's Cluster Science Archive (TAP metadata, products as a tar of ISTP CDFs).

Product paths are ``"csa/<DATASET_ID>/<variable>"`` (e.g. ``"csa/C1_CP_FGM_SPIN/B_mag__C1_CP_FGM_SPIN"``)
or ``"csa/<DATASET_ID>"`` for every data variable of the dataset. :func:`get` returns a DataArray (or a
Dataset) read from the archive's CDF files with :func:`xspace.open_cdf`, dask-backed (lazy) unless
``load=True``, cut to ``[start, stop)`` exactly.

Protocol (base URL ``xspace.fetch.base_url("csa")``, by default https://csa.esac.esa.int/csa-sl-tap):

* metadata through TAP: ``GET {base}/tap/sync?REQUEST=doQuery&LANG=ADQL&FORMAT=json&QUERY=<ADQL>`` on
  the views ``csa.v_dataset`` (``dataset_id, title, start_date, end_date`` ...) and ``csa.v_parameter``;
  the JSON answer is ``{"metadata": [{"name": ...}, ...], "data": [[...], ...]}``; errors come back as
  a VOTable whose ``INFO name="QUERY_STATUS"`` holds the message;
* data: the synchronous product request ``GET {base}/data?RETRIEVAL_TYPE=product&DATASET_ID=..
  &START_DATE=yyyy-MM-ddTHH:mm:ssZ&END_DATE=..&DELIVERY_FORMAT=CDF_ISTP&DELIVERY_INTERVAL=all``, answered
  by a gzipped tar of CDF files (limit 1 GB compressed per request). The asynchronous flow
  (``RETRIEVAL_ACCESS=DEFERRED``, up to 50 GB) needs an authenticated CSA account and an e-mail
  round-trip, so it is not used: requests are split into pieces of :data:`PIECE_DAYS` day instead.

Each piece (aligned on UTC days) is downloaded once: the tar is extracted safely (only regular ``.cdf``
members, no absolute paths, no ``..``, no links; anything else is refused) into the cache folder, and
later requests open the extracted CDFs without any request. Pieces that ended more than
:data:`IMMUTABLE_AFTER_DAYS` days ago are kept for good, recent ones re-requested after ``cache_ttl``.

Examples
--------
Against the local stand-in (``xspace.testing.others_site``):

>>> import tempfile, xspace
>>> from xspace.testing.others_site import serve_others
>>> with tempfile.TemporaryDirectory() as tmp, serve_others() as site, \\
...         xspace.set_options(cache_dir=tmp, **site.options()):
...     mag = xspace.get_data("csa/C1_CP_FGM_SPIN/B_mag__C1_CP_FGM_SPIN", "2005-01-01", "2005-01-01T00:00:12")
...     mag.values.tolist()
[39463200.0, 39463201.0, 39463202.0]

Parsing a TAP answer:

>>> answer = b'{"metadata": [{"name": "dataset_id"}, {"name": "title"}], "data": [["C1_CP_FGM_SPIN", "FGM"]]}'
>>> parse_tap_json(answer)
[{'dataset_id': 'C1_CP_FGM_SPIN', 'title': 'FGM'}]
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import shutil
import tarfile
import threading
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
import xarray as xr

from ...errors import FetchError, InputError, ProductNotFound
from ...options import OPTIONS
from .._pieces import day_pieces, is_fresh, piece_lock, settled
from .._times import cut, time_dim

NAME = "csa"

#: Length of one product request, in days (pieces aligned on UTC days).
PIECE_DAYS = 1
#: Pieces that ended more than this many days ago are cached for good.
IMMUTABLE_AFTER_DAYS = 30
MAX_WORKERS = 4
#: ADQL of the dataset list (the inventory and the product check).
DATASETS_QUERY = ("SELECT dataset_id, title, start_date, end_date FROM csa.v_dataset "
                  "WHERE is_istp='true' ORDER BY dataset_id")

__all__ = [
    "NAME",
    "get",
    "inventory",
    "tap_query",
    "parse_tap_json",
    "datasets",
    "parameters",
    "product_params",
    "extract_cdfs",
    "PIECE_DAYS",
]

_DONE = ".complete"
_extract_lock = threading.Lock()


def _base() -> str:
    from .. import base_url

    return base_url(NAME).rstrip("/")


def _csa_time(t: np.datetime64) -> str:
    return str(np.datetime64(t, "s")) + "Z"


# ---------------------------------------------------------------------------------------------------
# TAP


def parse_tap_json(content: bytes) -> list[dict]:
    """Rows of a TAP answer in the ESAC JSON form (``metadata`` column list + ``data`` rows).

    Examples
    --------
    >>> parse_tap_json(b'{"metadata": [{"name": "a"}], "data": [[1], [2]]}')
    [{'a': 1}, {'a': 2}]
    """
    try:
        answer = json.loads(content)
    except ValueError:
        raise FetchError(f"CSA TAP: the answer is not JSON: {content[:200]!r}") from None
    if isinstance(answer, list):  # a plain list of row objects
        return [dict(r) for r in answer]
    if not isinstance(answer, dict) or "data" not in answer:
        raise FetchError(f"CSA TAP: expected {{'metadata': [...], 'data': [...]}}, got {str(answer)[:200]}")
    names = [c["name"] if isinstance(c, dict) else str(c) for c in answer.get("metadata", [])]
    rows = []
    for row in answer["data"]:
        if isinstance(row, dict):
            rows.append(row)
        else:
            rows.append(dict(zip(names, row)))
    return rows


def _tap_error(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        try:
            root = ET.fromstring(body)
            for node in root.iter():
                if node.tag.rsplit("}", 1)[-1] == "INFO" and node.attrib.get("name") == "QUERY_STATUS":
                    msg = (node.text or "").strip()
                    if msg:
                        return msg
        except ET.ParseError:
            pass
        return re.sub(r"<[^>]*>", " ", text).strip()[:300]
    return text.strip()[:300]


def tap_query(adql: str, ttl: float | None = None) -> list[dict]:
    """Run an ADQL query on the CSA TAP service (synchronous, JSON); cached and revalidated after ``ttl``.

    Raises
    ------
    FetchError
        The service refused the query (its ``QUERY_STATUS`` message is quoted).

    Examples
    --------
    >>> tap_query("SELECT TOP 1 dataset_id FROM csa.v_dataset")  # doctest: +SKIP
    [{'dataset_id': 'C1_CP_AUX_POSGSE_1M'}]
    """
    from .. import cache
    from .._http import HTTPStatusError

    url = f"{_base()}/tap/sync"
    params = {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "json", "QUERY": adql}
    try:
        content = cache.fetch_bytes(url, kind="any", params=params,
                                    ttl=OPTIONS["cache_ttl"] if ttl is None else ttl)
    except HTTPStatusError as exc:
        raise FetchError(f"CSA TAP: query {adql!r} failed (HTTP {exc.status}): {_tap_error(exc.body)}") from None
    if content.lstrip().startswith(b"<"):
        from .. import cache as _cache

        _cache.forget(_cache.path_for(url, params))
        raise FetchError(f"CSA TAP: query {adql!r} failed: {_tap_error(content)}")
    return parse_tap_json(content)


def _t64(text) -> np.datetime64 | None:
    if not text:
        return None
    text = str(text).strip().replace(" ", "T")
    text = re.sub(r"(Z|[+-]00(:?00)?)$", "", text)
    try:
        return np.datetime64(text, "ns")
    except ValueError:
        return None


def datasets() -> dict[str, dict]:
    """The archive's ISTP datasets: id -> ``{"title", "start", "stop"}`` (TAP ``csa.v_dataset``).

    Examples
    --------
    >>> datasets()["C1_CP_FGM_SPIN"]["title"]  # doctest: +SKIP
    'Spin Resolution Magnetic Field Vector, FGM, C1'
    """
    out = {}
    for row in tap_query(DATASETS_QUERY):
        ident = row.get("dataset_id")
        if ident:
            out[str(ident)] = {"title": row.get("title") or "", "start": _t64(row.get("start_date")),
                               "stop": _t64(row.get("end_date"))}
    return out


def parameters(dataset_id: str) -> list[dict]:
    """The parameters of one dataset (TAP ``csa.v_parameter``, data parameters only).

    Examples
    --------
    >>> [p["parameter_id"] for p in parameters("C1_CP_FGM_SPIN")]  # doctest: +SKIP
    ['B_vec_xyz_gse__C1_CP_FGM_SPIN', ...]
    """
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", dataset_id):
        raise ProductNotFound(f"csa/{dataset_id}: not a CSA dataset id")
    return tap_query(f"SELECT * FROM csa.v_parameter WHERE dataset_id='{dataset_id}' AND data_type='Data'")


# ---------------------------------------------------------------------------------------------------
# products


def product_params(dataset_id: str, start: np.datetime64, stop: np.datetime64) -> dict:
    """Query parameters of a synchronous CSA product request (CDF_ISTP, one file per dataset).

    Examples
    --------
    >>> product_params("C1_CP_FGM_SPIN", np.datetime64("2005-01-01"), np.datetime64("2005-01-02"))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'RETRIEVAL_TYPE': 'product', 'DATASET_ID': 'C1_CP_FGM_SPIN', 'START_DATE': '2005-01-01T00:00:00Z',
     'END_DATE': '2005-01-02T00:00:00Z', 'DELIVERY_FORMAT': 'CDF_ISTP', 'DELIVERY_INTERVAL': 'all'}
    """
    return {
        "RETRIEVAL_TYPE": "product",
        "DATASET_ID": dataset_id,
        "START_DATE": _csa_time(start),
        "END_DATE": _csa_time(stop),
        "DELIVERY_FORMAT": "CDF_ISTP",
        "DELIVERY_INTERVAL": "all",
    }


def extract_cdfs(archive: bytes, folder: str | os.PathLike) -> list[Path]:
    """Extract the ``.cdf`` members of a (gzipped) tar into ``folder``, safely; return their paths.

    Members are written flat (base names) into ``folder``. Absolute names, ``..`` components, links and
    device files make the whole archive refused; other regular files (README ...) are skipped.

    Raises
    ------
    FetchError
        Not a tar archive, or an unsafe member.

    Examples
    --------
    >>> import tarfile, io, tempfile
    >>> buf = io.BytesIO()
    >>> with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    ...     info = tarfile.TarInfo("../../evil.cdf"); info.size = 3
    ...     tar.addfile(info, io.BytesIO(b"abc"))
    >>> try:
    ...     extract_cdfs(buf.getvalue(), tempfile.mkdtemp())
    ... except FetchError as exc:
    ...     print(exc)
    CSA: refusing the archive: unsafe member '../../evil.cdf' (absolute path or '..')
    """
    folder = Path(folder)
    try:
        tar = tarfile.open(fileobj=io.BytesIO(archive), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FetchError(f"CSA: the product answer is not a tar archive ({exc})") from None
    out = []
    with tar:
        members = tar.getmembers()
        for m in members:
            name = PurePosixPath(m.name)
            if name.is_absolute() or ".." in name.parts or m.name.startswith(("/", "\\")) or "\\" in m.name:
                raise FetchError(f"CSA: refusing the archive: unsafe member {m.name!r} (absolute path or '..')")
            if m.issym() or m.islnk() or m.isdev() or m.isfifo():
                raise FetchError(f"CSA: refusing the archive: member {m.name!r} is a link or a device")
        names = set()
        for m in members:
            if not m.isfile() or not m.name.lower().endswith(".cdf"):
                continue
            base = PurePosixPath(m.name).name
            if base in names:
                raise FetchError(f"CSA: the archive holds two files named {base!r}")
            names.add(base)
            src = tar.extractfile(m)
            if src is None:
                continue
            target = folder / base
            with open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.append(target)
    return sorted(out)


def _piece_folder(dataset_id: str, t0: np.datetime64, t1: np.datetime64) -> Path:
    from urllib.parse import urlsplit

    from .. import cache

    host = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in urlsplit(_base()).netloc)
    compact = lambda t: str(np.datetime64(t, "s")).replace("-", "").replace(":", "")  # noqa: E731
    return cache.cache_dir() / host / "csa" / dataset_id / f"{compact(t0)}_{compact(t1)}"


def _fetch_piece(dataset_id: str, t0: np.datetime64, t1: np.datetime64) -> list[Path]:
    """Paths of the extracted CDFs of one piece (downloading and extracting it when needed)."""
    folder = _piece_folder(dataset_id, t0, t1)
    done = folder / _DONE
    immutable = settled(t1, IMMUTABLE_AFTER_DAYS)
    if is_fresh(done, immutable):
        return sorted(folder.glob("*.cdf"))
    with piece_lock(folder, ".download"):  # one download per piece across threads and processes
        if is_fresh(done, immutable):
            return sorted(folder.glob("*.cdf"))
        return _download_piece(dataset_id, t0, t1, folder)


def _download_piece(dataset_id: str, t0, t1, folder: Path) -> list[Path]:
    from .._http import HTTPStatusError, request

    url = f"{_base()}/data"
    params = product_params(dataset_id, t0, t1)
    try:
        resp = request("GET", url, params=params)
    except HTTPStatusError as exc:
        message = _tap_error(exc.body) if exc.body else str(exc)
        if exc.status == 404 or re.search(r"unknown dataset|no such dataset|not found", message, re.I):
            raise ProductNotFound(f"csa/{dataset_id}: the archive answered HTTP {exc.status}: {message}") from None
        raise FetchError(f"CSA: product request for {dataset_id} {params['START_DATE']}..{params['END_DATE']} "
                         f"failed (HTTP {exc.status}): {message}") from None
    content = resp.content
    no_content = resp.status_code == 204  # "no content": no file of the dataset in this interval
    stripped = content[:64].lstrip().lower()
    if not no_content and content[:2] != b"\x1f\x8b" and (not content or stripped.startswith((b"<", b"{")) or content[257:262] != b"ustar"
                                        and content[:1024] != bytes(1024)):
        text = re.sub(r"<[^>]*>", " ", content[:2000].decode("utf-8", "replace"))
        text = " ".join(text.split())[:300]
        raise FetchError(f"CSA: product request for {dataset_id} {params['START_DATE']}..{params['END_DATE']} "
                         f"answered no tar archive: {text or 'an empty answer'}")
    # extract into a temporary folder next to the final one, then move it into place
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        if not no_content:
            extract_cdfs(content, tmp)
        (tmp / _DONE).write_text(f"{url}?{params}\n")
        with _extract_lock:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(tmp, folder)
            except OSError:
                if not (folder / _DONE).exists():  # another process won the race with a complete copy
                    raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(folder.glob("*.cdf"))


def _pieces(start: np.datetime64, stop: np.datetime64):
    return day_pieces(start, stop, PIECE_DAYS)


def _open_piece(paths: list[Path], t0, t1) -> xr.Dataset | None:
    import xspace

    if not paths:
        return None
    ds = xspace.open_cdf([str(p) for p in paths] if len(paths) > 1 else str(paths[0]), chunks={})
    return cut(ds, t0, t1)


def _select(ds: xr.Dataset, dataset_id: str, variable: str | None):
    if variable is None:
        data = [v for v in ds.data_vars if ds[v].attrs.get("VAR_TYPE", "data") == "data"]
        return ds[data] if data else ds
    if variable in ds.variables:
        return ds[variable]
    suffixed = f"{variable}__{dataset_id}"
    if suffixed in ds.variables:
        return ds[suffixed]
    names = [str(v) for v in ds.data_vars]
    close = difflib.get_close_matches(variable, names, n=5, cutoff=0.5)
    hint = f"; close matches: {', '.join(f'csa/{dataset_id}/{c}' for c in close)}" if close else (
        f"; variables: {', '.join(names[:10])}")
    raise ProductNotFound(f"csa/{dataset_id}/{variable}: no such variable in the dataset{hint}")


def get(parts, start, stop, *, load: bool = False, **options):
    """One CSA variable (or dataset) over ``[start, stop)``.

    Parameters
    ----------
    parts : list of str
        ``[DATASET_ID, variable]`` or ``[DATASET_ID]`` (the product path after ``"csa/"``).
    start, stop : numpy.datetime64
        Time range, ``[start, stop)``.
    load : bool
        Load the data now (by default the result is dask-backed on the extracted CDF files).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ISTP-decoded by :func:`xspace.open_cdf`, cut to ``[start, stop)``.

    Raises
    ------
    ProductNotFound
        Unknown dataset (close matches from TAP) or variable (close matches from the files).
    FetchError
        The archive answered an error (message quoted) or an unsafe/invalid archive.

    Examples
    --------
    >>> import xspace
    >>> xspace.get_data("csa/C1_CP_FGM_SPIN/B_mag__C1_CP_FGM_SPIN", "2005-01-01", "2005-01-02")  # doctest: +SKIP
    """
    if options:
        raise InputError(f"csa: unknown option(s) {sorted(options)}; CSA products take none")
    if not 1 <= len(parts) <= 2 or not parts[0]:
        raise ProductNotFound(f"csa/{'/'.join(parts)}: expected 'csa/<DATASET_ID>/<variable>'")
    dataset_id = parts[0]
    variable = parts[1] if len(parts) == 2 else None
    known = datasets()
    if dataset_id not in known:
        close = difflib.get_close_matches(dataset_id, list(known), n=5, cutoff=0.6)
        hint = f"; close matches: {', '.join('csa/' + c for c in close)}" if close else ""
        raise ProductNotFound(f"csa/{dataset_id}: no such ISTP dataset in the Cluster Science Archive{hint}")
    info = known[dataset_id]
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    lo, hi = start, stop
    if info["start"] is not None and info["stop"] is not None and (stop <= info["start"] or start > info["stop"]):
        # outside the coverage: ask for the first piece of the dataset only to learn the structure
        lo = info["start"]
        hi = lo
    pieces = _pieces(lo, max(hi, lo + np.timedelta64(1, "ns")))
    if len(pieces) == 1:
        paths = [_fetch_piece(dataset_id, *pieces[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pieces))) as pool:
            paths = list(pool.map(lambda p: _fetch_piece(dataset_id, p[0], p[1]), pieces))
    parts_ds = [ds for ds in (_open_piece(p, a, b) for p, (a, b) in zip(paths, pieces)) if ds is not None]
    if not parts_ds and info["start"] is not None and pieces[0][0] > info["start"]:
        # no data in the range (a gap): the first piece of the dataset gives the structure of the empty result
        first = _pieces(info["start"], info["start"] + np.timedelta64(1, "ns"))[0]
        template = _open_piece(_fetch_piece(dataset_id, *first), *first)
        if template is not None:
            parts_ds = [cut(template, start, start)]
    if not parts_ds:
        raise FetchError(
            f"CSA: no CDF file for csa/{dataset_id} between {_csa_time(pieces[0][0])} and {_csa_time(pieces[-1][1])}"
            "; cannot build even an empty result (the archive delivered empty packages)"
        )
    selected = [_select(ds, dataset_id, variable) for ds in parts_ds]
    tdim = time_dim(selected[0])
    if len(selected) == 1 or tdim is None:
        result = selected[0]
    else:
        extra = {"data_vars": "minimal"} if isinstance(selected[0], xr.Dataset) else {}
        result = xr.concat(selected, dim=tdim, coords="minimal", compat="override",
                           combine_attrs="override", **extra)
    result = cut(result, start, stop)
    if load:
        from .._assemble import load_now

        result = load_now(result)
    return result


def _parameter_nodes(dataset_id: str, dataset_meta: dict | None = None) -> list:
    """Parameter nodes of one dataset (TAP ``csa.v_parameter``), made when the dataset node is expanded;
    they carry the dataset's time coverage (``start``/``stop`` of ``csa.v_dataset``)."""
    from ..inventory import Node

    out = []
    for p in parameters(dataset_id):
        pid = str(p.get("parameter_id") or "")
        if not pid:
            continue
        meta = {k: v for k, v in p.items()
                if isinstance(v, (str, int, float)) and k != "parameter_id" and v not in ("", None)}
        if "caption" in meta and "description" not in meta:
            meta["description"] = meta["caption"]
        for key in ("start", "stop"):
            if (dataset_meta or {}).get(key) and key not in meta:
                meta[key] = dataset_meta[key]
        out.append(Node(pid, f"csa/{dataset_id}/{pid}", "parameter", meta=meta))
    return out


def _lazy_children(node) -> list:
    parts = node.path.split("/")
    return _parameter_nodes(parts[1], node.meta) if len(parts) == 2 and node.kind == "dataset" else []


def _datasets_to_node(content: bytes):
    """Inventory tree of the TAP dataset list: prefix groups (``C1``, ``C2`` ...) -> datasets (lazy)."""
    from ..inventory import Node

    groups: dict[str, list] = {}
    for row in parse_tap_json(content):
        ident = str(row.get("dataset_id") or "")
        if not ident:
            continue
        meta = {"description": row.get("title") or ""}
        for key, out in (("start_date", "start"), ("end_date", "stop")):
            t = _t64(row.get(key))
            if t is not None:
                meta[out] = str(t.astype("datetime64[s]")) + "Z"
        group = ident.split("_", 1)[0] or "other"
        groups.setdefault(group, []).append(
            Node(ident, f"csa/{ident}", "dataset", meta=meta, children=lambda ident=ident, meta=meta: _parameter_nodes(ident, meta)))
    children = [Node(g, f"csa/{g}", "mission" if g[:1] in "CD" else "group",
                     children=sorted(v, key=lambda n: n.name)) for g, v in sorted(groups.items())]
    return Node("csa", "csa", "provider", meta={"description": "ESA Cluster Science Archive"}, children=children)


def inventory():
    """The provider's inventory node: datasets grouped by their prefix (``C1``, ``C2``, ``D1`` ...).

    Built from TAP (``csa.v_dataset``); each dataset's parameters are queried (``csa.v_parameter``) when
    the dataset node is first expanded. The dataset list is persisted on disk and revalidated in the
    background when stale.

    Examples
    --------
    >>> inventory().C1.C1_CP_FGM_SPIN  # doctest: +SKIP
    """
    from ..inventory import cached_tree

    params = {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "json", "QUERY": DATASETS_QUERY}
    return cached_tree(NAME, f"{_base()}/tap/sync", _datasets_to_node, ttl=OPTIONS["cache_ttl"],
                       params=params, kind="json", lazy=_lazy_children)
