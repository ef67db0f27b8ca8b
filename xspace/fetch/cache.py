"""The download cache: pooch downloads, immutable archive files, revalidated listings, locks, offline.

Layout: ``<cache_dir>/<host>/<url path>`` (a ``?query`` adds a hash to the name; a URL ending in ``/`` is
stored as ``_index``). Each entry may have a ``<name>.meta`` JSON side file with the URL, ``ETag``,
``Last-Modified``, size and the time it was last validated.

Two kinds of entries:

* **immutable** (``fetch_file(..., immutable=True)``, the default — version-named archive files such as
  ``ac_h0_mfi_20220101_v07.cdf``): once in the cache, a hit makes no request at all;
* **revalidated** (``immutable=False`` and :func:`fetch_bytes` — directory listings, catalogs, REST
  answers, master CDFs): served from the cache for ``ttl`` seconds, then revalidated with a conditional
  GET (``If-None-Match``/``If-Modified-Since``); a 304 extends the TTL.

Nothing partial is ever cached: pooch streams each download to a temporary name in the same folder; the
size (``Content-Length``, or the size the archive announced) and content (CDF magic number and internal
end-of-file, JSON/XML/HAPI/tar signatures; an HTML page where data was expected is an error even with
status 200) are checked before the atomic move into place. Errors are never cached.

Threads and processes sharing a cache download each file once: a lock file (``<name>.lock``, created
with ``O_EXCL``) is held during the download; waiters re-check the cache when it is released. A lock whose
holder process died (same host) or that was not refreshed for :data:`LOCK_EXPIRY` seconds is broken.

Offline (``xspace.set_options(offline=True)``, or the network found unreachable): cached entries are
served even when stale; what is not cached raises :class:`~xspace.errors.OfflineError`.

Examples
--------
>>> import xspace
>>> from xspace.fetch import cache
>>> from xspace.testing import LocalServer, Reply
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
...     srv.mount("/a.json", lambda req: Reply(body=b'{"x": 1}'))
...     first = cache.fetch_bytes(srv.url + "/a.json", kind="json")
...     second = cache.fetch_bytes(srv.url + "/a.json", kind="json")   # fresh: no request
...     first == second == b'{"x": 1}', srv.count("/a.json")
(True, 1)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import struct
import tarfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import pooch

from ..errors import CacheError, FetchError, OfflineError
from ..options import OPTIONS
from . import _http

__all__ = [
    "cache_dir",
    "path_for",
    "fetch_file",
    "fetch_bytes",
    "forget",
    "info",
    "clear",
    "verify",
    "check_content",
    "StaleWarning",
]

LOCK_EXPIRY = 120.0  # seconds without a refresh after which a lock is broken
LOCK_POLL = 0.02
PARTIAL_AGE = 600.0  # seconds after which a temporary download file without a holder is an orphan
KINDS = ("any", "cdf", "json", "xml", "hapi", "tar", "text", "html")

_pooch_quiet = False
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class StaleWarning(UserWarning):
    """A cached entry past its TTL was served because it could not be revalidated."""


# ---------------------------------------------------------------------------------------------- paths
def cache_dir() -> Path:
    """Folder of the cache: option ``cache_dir``, else ``$XSPACE_CACHE_DIR``, else the platform cache.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(cache_dir="/tmp/xs-cache"):
    ...     str(cache_dir())
    '/tmp/xs-cache'
    """
    opt = OPTIONS["cache_dir"]
    if opt is not None:
        return Path(opt)
    env = os.environ.get("XSPACE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(pooch.os_cache("xspace"))


def _safe(part: str) -> str:
    part = unquote(part)
    keep = "".join(c if (c.isalnum() or c in "-_.,+=@~") else "_" for c in part)
    if keep in ("", ".", ".."):
        keep = "_" + keep.replace(".", "_")
    return keep[:200]


def path_for(url: str, params=None, root=None) -> Path:
    """Where the cache stores the answer of ``url`` (with query ``params``).

    ``root`` overrides :func:`cache_dir` (dask tasks carry the client's cache folder this way, since a
    worker process does not share the client's options).

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(cache_dir="/c"):
    ...     str(path_for("https://cdaweb.gsfc.nasa.gov/pub/data/ace/ac_h0_mfi_20220101_v07.cdf"))
    '/c/cdaweb.gsfc.nasa.gov/pub/data/ace/ac_h0_mfi_20220101_v07.cdf'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"cache: expected an http(s) URL, got {url!r}")
    host = _safe(parts.netloc.replace(":", "_"))
    segs = [_safe(s) for s in parts.path.split("/") if s]
    if not segs or parts.path.endswith("/"):
        segs.append("_index")
    query = parts.query
    if params:
        items = sorted(params.items()) if isinstance(params, dict) else list(params)
        query = (query + "&" if query else "") + urlencode(items)
    if query:
        digest = hashlib.sha1(query.encode()).hexdigest()[:16]
        segs[-1] = f"{segs[-1]}@{digest}"
    return (Path(root) if root is not None else cache_dir()).joinpath(host, *segs)


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta")


def _read_meta(path: Path) -> dict | None:
    try:
        with open(_meta_path(path), "rb") as f:
            meta = json.loads(f.read())
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError):
        return None


def _write_meta(path: Path, meta: dict) -> None:
    target = _meta_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, target)


# ---------------------------------------------------------------------------------------------- locks
@contextmanager
def _locked(path: Path, timeout: float | None = None):
    """Hold the lock of a cache entry (threads of this process and other processes)."""
    key = str(path)
    with _thread_locks_guard:
        tlock = _thread_locks.setdefault(key, threading.Lock())
    with tlock:
        lock = path.with_name(path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + (timeout if timeout is not None else float(OPTIONS["fetch_timeout"]) + LOCK_EXPIRY)
        ident = f"{socket.gethostname()} {os.getpid()} {time.time()}"
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if _lock_is_stale(lock):
                    try:
                        os.unlink(lock)
                    except FileNotFoundError:
                        pass
                    continue
                if time.monotonic() > deadline:
                    raise CacheError(f"cache: timed out waiting for the lock {lock} held by another process")
                time.sleep(LOCK_POLL)
                continue
            except OSError as exc:
                raise CacheError(f"cache: cannot create the lock {lock}: {exc}") from None
            with os.fdopen(fd, "w") as f:
                f.write(ident)
            break
        try:
            yield lock
        finally:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass


def _lock_is_stale(lock: Path) -> bool:
    try:
        st = lock.stat()
        text = lock.read_text()
    except (FileNotFoundError, OSError):
        return False
    if time.time() - st.st_mtime > LOCK_EXPIRY:
        return True
    fields = text.split()
    if len(fields) >= 2 and fields[0] == socket.gethostname():
        try:
            pid = int(fields[1])
        except ValueError:
            return False
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def _touch(lock: Path) -> None:
    try:
        os.utime(lock)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------- checks
def _cdf_problem(head: bytes, size: int) -> str | None:
    if len(head) < 8:
        return f"{size} bytes is too short for a CDF"
    m1, m2 = struct.unpack(">II", head[:8])
    if m1 not in (0xCDF30001, 0xCDF26002, 0x0000FFFF):
        return f"not a CDF file (magic number {m1:#010x})"
    v3 = m1 == 0xCDF30001
    o, fmt = (8, ">q") if v3 else (4, ">i")
    if m2 == 0xCCCC0001:  # whole-file compressed: the CCR must be whole
        if len(head) < 8 + o:
            return "truncated before the compressed-data record"
        ccr_size = struct.unpack_from(fmt, head, 8)[0]
        if 8 + ccr_size > size:
            return f"truncated: the compressed-data record ends at byte {8 + ccr_size}, file has {size}"
        return None
    if m2 != 0x0000FFFF:
        return f"unknown second magic number {m2:#010x}"
    if len(head) < 8 + o + 4 + o:
        return "truncated inside the CDF descriptor record"
    gdr = struct.unpack_from(fmt, head, 8 + o + 4)[0]
    return ("gdr", gdr, o, fmt)  # type: ignore[return-value]


def check_content(path: Path, kind: str, url: str = "") -> None:
    """Raise :class:`~xspace.errors.FetchError` unless the file at ``path`` looks like a whole ``kind``.

    Parameters
    ----------
    path : path-like
        Downloaded file.
    kind : {"any", "cdf", "json", "xml", "hapi", "tar", "text", "html"}
        What was expected. Every kind but ``"html"`` rejects an HTML page (a soft error served with
        status 200). ``"cdf"`` checks the magic numbers and that the file reaches the end-of-file offset
        its global descriptor record declares (or the end of the compressed-data record).
    url : str
        For the message.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = pathlib.Path(tmp) / "x.cdf"
    ...     _ = p.write_bytes(b"<html><body>Service unavailable</body></html>")
    ...     try:
    ...         check_content(p, "cdf", "http://host/x.cdf")
    ...     except FetchError as exc:
    ...         print(str(exc)[:60])
    http://host/x.cdf: expected a CDF file, got an HTML page (a
    """
    if kind not in KINDS:
        raise FetchError(f"cache: unknown content kind {kind!r}; expected one of {KINDS}")
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    where = url or str(path)
    stripped = head.lstrip()[:64].lower()
    if kind != "html" and (stripped.startswith(b"<!doctype html") or stripped.startswith(b"<html")):
        raise FetchError(f"{where}: expected a {kind.upper() if kind != 'any' else ''} file, got an HTML page "
                         "(a server error page served with status 200)".replace("a  file", "a file"))
    if kind == "cdf":
        problem = _cdf_problem(head, size)
        if isinstance(problem, tuple):
            _, gdr, o, fmt = problem
            problem = None
            if gdr <= 0 or gdr + o + 4 + 4 * o > size:
                problem = f"truncated: the global descriptor record at byte {gdr} is past the end ({size} bytes)"
            else:
                with open(path, "rb") as f:
                    f.seek(gdr)
                    rec = f.read(o + 4 + 4 * o)
                eof = struct.unpack_from(fmt, rec, o + 4 + 3 * o)[0]
                if eof > size:
                    problem = f"truncated: the CDF declares {eof} bytes, the file has {size}"
        if problem:
            raise FetchError(f"{where}: {problem}")
    elif kind == "json":
        try:
            json.loads(path.read_bytes())
        except ValueError as exc:
            raise FetchError(f"{where}: expected JSON, cannot parse it ({exc}): truncated or not JSON") from None
    elif kind == "xml":
        import xml.etree.ElementTree as ET

        try:
            ET.parse(path)
        except ET.ParseError as exc:
            raise FetchError(f"{where}: expected XML, cannot parse it ({exc}): truncated or not XML") from None
    elif kind == "hapi":
        text = head.lstrip()
        if text.startswith(b"{") or text.startswith(b"#"):
            return  # JSON answer or a data stream with its header
        if size and not (text[:1].isdigit() or text[:1] in b"-+\x00"):
            raise FetchError(f"{where}: expected a HAPI answer (JSON or data), got {head[:40]!r}")
    elif kind == "tar":
        if not tarfile.is_tarfile(path):
            raise FetchError(f"{where}: expected a tar archive: truncated or not a tar file")


# ---------------------------------------------------------------------------------------------- fetch
class _Downloader:
    """pooch downloader: our HTTP client, conditional headers, size and content checks."""

    def __init__(self, kind, expected_size, params, headers, progress=None):
        self.kind = kind
        self.expected_size = expected_size
        self.params = params
        self.headers = headers
        self.progress = progress
        self.response = None
        self.not_modified = False

    def __call__(self, url, output_file, pooch_obj=None, check_only=False):
        with open(output_file, "w+b") as out:
            resp = _http.download(url, out, params=self.params, headers=self.headers, progress=self.progress)
            size = out.tell()
        self.response = resp
        if resp.status_code == 304:
            self.not_modified = True
            raise _NotModified()
        if self.expected_size is not None and size != int(self.expected_size):
            raise _Truncated(
                f"{url}: received {size} bytes, the archive announced {self.expected_size}: truncated download"
            )
        try:
            check_content(Path(output_file), self.kind, url)
        except FetchError as exc:
            if "truncated" in str(exc):
                raise _Truncated(str(exc)) from None
            raise


class _NotModified(Exception):
    pass


class _Truncated(FetchError):
    """A body that ended early without the transport noticing: worth another attempt."""


TRUNCATION_ATTEMPTS = 3


def _quiet_pooch() -> None:
    global _pooch_quiet
    if not _pooch_quiet:
        pooch.get_logger().setLevel(logging.WARNING)
        _pooch_quiet = True


def _fresh(meta: dict | None, ttl: float) -> bool:
    return bool(meta) and time.time() - float(meta.get("validated", 0)) < ttl


def fetch_file(
    url: str,
    *,
    kind: str = "cdf",
    expected_size: int | None = None,
    immutable: bool = True,
    ttl: float | None = None,
    params=None,
    relpath=None,
    headers=None,
    progress=None,
    root=None,
) -> Path:
    """Path of the cached copy of ``url``, downloading it first when needed.

    Parameters
    ----------
    url : str
        Absolute URL.
    kind : str
        Content check (see :func:`check_content`).
    expected_size : int, optional
        Size the archive announced (e.g. CDAWeb ``orig_data`` ``Length``); a different size is an error.
    immutable : bool
        ``True``: a cached copy is returned with no request at all. ``False``: revalidated after ``ttl``.
    ttl : float, optional
        Seconds a revalidated entry stays fresh (default: option ``cache_ttl``).
    params : dict, optional
        Query parameters (part of the cache key).
    relpath : str, optional
        Store under ``cache_dir()/relpath`` instead of the URL-derived path.
    headers : dict, optional
        Extra request headers.
    progress : callable, optional
        Called with the size of each downloaded chunk.
    root : path-like, optional
        Cache folder to use instead of :func:`cache_dir` (for tasks running in other processes).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OfflineError
        Offline and not cached.
    FetchError
        The download failed or did not pass the checks (nothing is cached then).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer
    >>> from xspace.data import get_path
    >>> folder = get_path("ac_k2_mfi_20220101_v03.cdf").parent
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), \\
    ...         LocalServer(root=folder) as srv:
    ...     p = fetch_file(f"{srv.url}/ac_k2_mfi_20220101_v03.cdf")
    ...     p2 = fetch_file(f"{srv.url}/ac_k2_mfi_20220101_v03.cdf")     # immutable: no request
    ...     p == p2, p.stat().st_size, srv.count(".cdf")
    (True, 31252, 1)
    """
    if kind not in KINDS:
        raise FetchError(f"fetch_file: unknown content kind {kind!r}; expected one of {KINDS}")
    ttl = float(OPTIONS["cache_ttl"] if ttl is None else ttl)
    base = Path(root) if root is not None else cache_dir()
    path = base / relpath if relpath is not None else path_for(url, params, root=base)
    if path.exists():
        if immutable:
            return path
        if _fresh(_read_meta(path), ttl):
            return path
    if OPTIONS["offline"]:
        if path.exists():
            return path
        raise OfflineError(f"offline: {url} is not in the cache ({path})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cache: cannot create the folder {path.parent}: {exc}") from None
    with _locked(path) as lock:
        meta = _read_meta(path)
        if path.exists() and (immutable or _fresh(meta, ttl)):
            return path  # another thread or process got it while we waited
        cond = dict(headers or {})
        if path.exists() and meta:
            if meta.get("etag"):
                cond["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                cond["If-Modified-Since"] = meta["last_modified"]
        try:
            for attempt in range(TRUNCATION_ATTEMPTS):
                try:
                    _download_into(url, path, kind, expected_size, params, cond, lock, progress)
                    break
                except _Truncated:
                    if attempt == TRUNCATION_ATTEMPTS - 1:
                        raise
                    time.sleep(_http.BACKOFF_BASE * 2**attempt)
        except _NotModified:
            meta = dict(meta or {}, validated=time.time())
            _write_meta(path, meta)
            return path
        except OfflineError:
            if path.exists():
                warnings.warn(f"offline: serving the cached copy of {url} without revalidation", StaleWarning,
                              stacklevel=2)
                return path
            raise
        except FetchError as exc:
            if path.exists() and not isinstance(exc, _http.HTTPStatusError):
                warnings.warn(f"cannot revalidate {url} ({exc}); serving the cached copy", StaleWarning,
                              stacklevel=2)
                return path
            raise
    return path


def _download_into(url, path, kind, expected_size, params, headers, lock, progress) -> None:
    _quiet_pooch()
    calls = []

    def _progress(n):
        calls.append(n)
        if len(calls) % 16 == 0:
            _touch(lock)
        if progress is not None:
            progress(n)

    dl = _Downloader(kind, expected_size, params, headers, _progress)
    target = path if not path.exists() else path.with_name(path.name + ".new")
    if target.exists():
        target.unlink()
    try:
        pooch.retrieve(url, known_hash=None, fname=target.name, path=target.parent, downloader=dl,
                       progressbar=False)
    except _NotModified:
        raise
    except (FetchError, CacheError):
        raise
    except OSError as exc:
        raise CacheError(f"cache: cannot write {path}: {exc}") from None
    resp = dl.response
    if target != path:
        os.replace(target, path)
    meta = {
        "url": url,
        "etag": resp.headers.get("ETag"),
        "last_modified": resp.headers.get("Last-Modified"),
        "size": path.stat().st_size,
        "kind": kind,
        "validated": time.time(),
        "fetched": time.time(),
    }
    _write_meta(path, meta)


def fetch_bytes(url: str, *, kind: str = "any", ttl: float | None = None, params=None, headers=None) -> bytes:
    """Content of ``url``, cached and revalidated after ``ttl`` seconds (listings, catalogs, REST answers).

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer, Reply
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
    ...     srv.mount("/cat.xml", lambda req: Reply(body=b"<a/>", headers={"ETag": '"1"'}))
    ...     _ = fetch_bytes(srv.url + "/cat.xml", kind="xml", ttl=0)
    ...     fetch_bytes(srv.url + "/cat.xml", kind="xml", ttl=0)   # revalidated (handler has no 304)
    b'<a/>'
    """
    path = fetch_file(url, kind=kind, immutable=False, ttl=ttl, params=params, headers=headers)
    return path.read_bytes()


def forget(url_or_path) -> bool:
    """Remove one entry (and its side files) from the cache; return whether it existed.

    Examples
    --------
    >>> forget("https://example.org/never-cached.cdf")
    False
    """
    if isinstance(url_or_path, str) and url_or_path.startswith(("http://", "https://")):
        path = path_for(url_or_path)
    else:
        path = Path(url_or_path)
    existed = path.exists()
    for p in (path, _meta_path(path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    return existed


# ---------------------------------------------------------------------------------------------- admin
_PARTIAL = re.compile(r"tmp[a-z0-9_]{8}|.*\.new")  # pooch's temporary names; a revalidation's new copy


def _is_partial(path: Path) -> bool:
    """A download that a killed process left behind (never a cache entry: those have a .meta file)."""
    return bool(_PARTIAL.fullmatch(path.name)) and not _meta_path(path).exists()


def _entries(root: Path, partial: bool = False):
    if not root.is_dir():
        return
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith((".meta", ".lock", ".tmp")) or name.startswith("."):
                continue
            p = Path(dirpath) / name
            if _is_partial(p) != partial:
                continue
            yield p


def info() -> dict:
    """Summary of the cache: folder, number of files, bytes, per host.

    Examples
    --------
    >>> import tempfile, xspace
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp):
    ...     info()["files"]
    0
    """
    root = cache_dir()
    hosts: dict[str, dict] = {}
    total = files = 0
    for p in _entries(root):
        size = p.stat().st_size
        host = p.relative_to(root).parts[0]
        h = hosts.setdefault(host, {"files": 0, "bytes": 0})
        h["files"] += 1
        h["bytes"] += size
        total += size
        files += 1
    return {"path": str(root), "files": files, "bytes": total, "hosts": hosts}


def clear(host: str | None = None) -> int:
    """Delete the cache (or one host's part of it); return the number of data files removed.

    Examples
    --------
    >>> import tempfile, xspace
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp):
    ...     clear()
    0
    """
    root = cache_dir()
    target = root / _safe(host.replace(":", "_")) if host else root
    n = sum(1 for _ in _entries(target))
    if target.is_dir():
        for child in (list(target.iterdir()) if target == root else [target]):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    return n


def verify(remove: bool = True) -> list[tuple[str, str]]:
    """Check every cached file (size recorded at download time, content kind); return the problems.

    Temporary files of downloads that a killed process left behind (older than :data:`PARTIAL_AGE`
    seconds) are reported too. They were never cache entries: nothing reads them.

    Parameters
    ----------
    remove : bool
        Delete the bad entries (default), so the next request downloads them again.

    Returns
    -------
    list of (path, problem)

    Examples
    --------
    >>> import tempfile, xspace
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp):
    ...     verify()
    []
    """
    problems = []
    for p in _entries(cache_dir(), partial=True):
        try:
            if time.time() - p.stat().st_mtime < PARTIAL_AGE:
                continue  # maybe a download in progress in another process
        except FileNotFoundError:
            continue
        problems.append((str(p), "partial download left by an interrupted process"))
        if remove:
            p.unlink(missing_ok=True)
    for p in _entries(cache_dir()):
        meta = _read_meta(p)
        kind = (meta or {}).get("kind") or ("cdf" if p.suffix.lower() == ".cdf" else "any")
        try:
            if meta and meta.get("size") is not None and p.stat().st_size != meta["size"]:
                raise FetchError(f"size {p.stat().st_size} differs from the downloaded {meta['size']} bytes")
            check_content(p, kind)
        except (FetchError, OSError) as exc:
            problems.append((str(p), str(exc)))
            if remove:
                forget(p)
    return problems
