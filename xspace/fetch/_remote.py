"""Read the metadata of a remote CDF file with HTTP Range requests, without downloading it.

A lazy multi-file request needs, for every file, the file's structure (variables, types, shapes,
record counts, attributes) and the values of its time variable — a few kilobytes of a file that may
weigh megabytes. :class:`RangeSource` gives :class:`xspace.io._cdf.CDFFile`'s parser the same
``read``/``readinto`` interface as a local file, served from a cache of fixed-size blocks fetched
with ``Range: bytes=a-b`` requests (neighbouring missing blocks are fetched in one request).

:func:`open_remote` parses a remote file this way. The blocks it fetched are kept on disk beside
the cache entry the file would have (a hidden ``.<name>.ranges`` file), so the next lazy request of the same
(version-named, hence immutable) file parses it again with no request at all. Special cases:

* the server ignores ``Range`` (status 200): the whole body arrived anyway, so it is stored as the
  cached file and parsed locally;
* a whole-file-compressed CDF (CCR record): its records cannot be reached by offset, so the whole
  file is downloaded through the cache (:func:`xspace.fetch.cache.fetch_file`).

Examples
--------
>>> import shutil, tempfile, xspace
>>> from xspace.data import get_path
>>> from xspace.testing import LocalServer
>>> root = tempfile.mkdtemp()
>>> _ = shutil.copy(get_path("ac_k2_mfi_20220101_v03.cdf"), root)
>>> with LocalServer(root) as srv, xspace.set_options(cache_dir=tempfile.mkdtemp()):
...     f = open_remote(srv.url + "/ac_k2_mfi_20220101_v03.cdf", block_size=4096)
...     f.variables["BGSEc"].nrec, f.src.fetched > 0
(24, True)
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import threading
from pathlib import Path

from ..errors import CDFFormatError, FetchError
from ..io import _cdf

__all__ = [
    "RangeSource", "RemoteCDFFile", "open_remote", "save_ranges", "ranges_path", "forget_ranges", "DEFAULT_BLOCK_SIZE",
    "metadata_blocks",
]

DEFAULT_BLOCK_SIZE = 1 << 16  # 64 KiB
_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_STORE_MAGIC = b"XSRANGES1\n"


class WholeFileNeeded(CDFFormatError):
    """The file cannot be read by offset (whole-file compression): download it whole."""


class RangeSource:
    """Random access to the bytes of a remote file through HTTP Range requests (thread-safe).

    It has the interface of :class:`xspace.io._cdf._Source` (``path``, ``size``, ``check``,
    ``read``, ``readinto``, ``close``), so the CDF parser runs on it unchanged.

    Parameters
    ----------
    url : str
        Absolute URL of the file.
    block_size : int
        Size of the cached blocks (bytes); every request asks for whole blocks.
    blocks : dict, optional
        Blocks already known (block index -> bytes), e.g. loaded from disk.
    size : int, optional
        Total size of the file, when known.
    first_blocks : int
        Blocks asked for by the first request (when ``size`` is not given), e.g. as many as the
        metadata of a sibling file needed: one request then often reads all the metadata.

    Attributes
    ----------
    fetched : int
        Number of Range requests made.
    full_body : bytes or None
        The whole file, when the server ignored the Range header.

    Examples
    --------
    >>> src = RangeSource("http://127.0.0.1:9/never", blocks={0: b"0123456789"}, size=10, block_size=16)
    >>> src.read(2, 3, "three bytes")
    b'234'
    """

    _window = None  # the parser sets/resets this attribute of local sources; unused here

    def __init__(self, url: str, *, block_size: int = DEFAULT_BLOCK_SIZE, blocks: dict | None = None,
                 size: int | None = None, first_blocks: int = 1):
        self.path = url
        self.url = url
        self.block_size = int(block_size)
        self.blocks: dict[int, bytes] = dict(blocks or {})
        self.size = size
        self.fetched = 0
        self.full_body: bytes | None = None
        self.dirty = False
        self._store: Path | None = None  # blocks dropped from memory, to be reloaded from there
        self._lock = threading.Lock()
        if self.size is None:  # the first request also tells the size (Content-Range)
            self._fetch(0, max(int(first_blocks), 1) - 1)

    # --------------------------------------------------------------------------- fetching
    def _fetch(self, first: int, last: int) -> None:
        """Fetch blocks ``first..last`` (inclusive) with one request."""
        from . import _http

        a = first * self.block_size
        b = (last + 1) * self.block_size - 1
        if self.size is not None:
            b = min(b, self.size - 1)
        resp = _http.request("GET", self.url, headers={"Range": f"bytes={a}-{b}", "Accept-Encoding": "identity"})
        self.fetched += 1
        body = resp.content
        if resp.status_code == 200:  # Range ignored: this is the whole file
            self.full_body = body
            self.size = len(body)
            for i in range(0, max(len(body), 1), self.block_size):
                self.blocks[i // self.block_size] = body[i : i + self.block_size]
            self.dirty = True
            return
        if resp.status_code != 206:
            raise FetchError(f"{self.url}: unexpected HTTP {resp.status_code} to a Range request")
        m = _RANGE_RE.match(resp.headers.get("Content-Range", ""))
        if not m:
            raise FetchError(f"{self.url}: a 206 answer without a valid Content-Range header")
        got_a, got_b, total = int(m.group(1)), int(m.group(2)), m.group(3)
        if total != "*":
            total = int(total)
            if self.size is not None and total != self.size:
                raise FetchError(
                    f"{self.url}: the file changed size ({self.size} -> {total} bytes) while being read"
                )
            self.size = total
        if got_a != a or len(body) != got_b - got_a + 1:
            raise FetchError(f"{self.url}: asked bytes {a}-{b}, got {got_a}-{got_b} ({len(body)} bytes)")
        for i in range(first, last + 1):
            lo = (i - first) * self.block_size
            chunk = body[lo : lo + self.block_size]
            if chunk:
                self.blocks[i] = chunk
        self.dirty = True

    def _ensure(self, offset: int, size: int) -> None:
        if size <= 0:
            return
        first = offset // self.block_size
        last = (offset + size - 1) // self.block_size
        missing = [i for i in range(first, last + 1) if i not in self.blocks]
        if not missing:
            return
        with self._lock:
            if self._store is not None:  # reload what was saved before fetching anything
                saved = RangeSource.load(self.url, self._store)
                self._store = None
                if saved is not None and saved.block_size == self.block_size:
                    for i, b in saved.blocks.items():
                        self.blocks.setdefault(i, b)
            missing = [i for i in range(first, last + 1) if i not in self.blocks]
            # coalesce runs of missing blocks into single requests
            run_start = prev = None
            for i in missing + [None]:
                if run_start is None:
                    run_start = prev = i
                    continue
                if i is not None and i == prev + 1:
                    prev = i
                    continue
                self._fetch(run_start, prev)
                run_start = prev = i

    # --------------------------------------------------------------------------- _Source interface
    def check(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise CDFFormatError(
                f"{self.url}: {what} at byte {offset} (+{size}) lies outside the file "
                f"({self.size} bytes): the file is truncated or corrupted"
            )

    def read(self, offset: int, size: int, what: str) -> bytes:
        self.check(offset, size, what)
        self._ensure(offset, size)
        bs = self.block_size
        first = offset // bs
        last = (offset + size - 1) // bs if size else first
        if first == last:
            lo = offset - first * bs
            out = self.blocks.get(first, b"")[lo : lo + size]
        else:
            out = b"".join(self.blocks[i] for i in range(first, last + 1))
            lo = offset - first * bs
            out = out[lo : lo + size]
        if len(out) != size:
            raise CDFFormatError(f"{self.url}: short read of {what} at byte {offset}")
        return out

    def readinto(self, buffer: memoryview, offset: int, what: str) -> None:
        buffer[:] = self.read(offset, buffer.nbytes, what)

    def close(self) -> None:
        pass

    def drop(self, store: Path) -> None:
        """Free the blocks (they were saved at ``store``; reloaded from there on the next read)."""
        with self._lock:
            if not self.dirty:
                self.blocks = {}
                self._store = Path(store)

    # --------------------------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        """Write the known blocks to ``path`` (atomically)."""
        with self._lock:
            items = sorted(self.blocks.items())
            header = json.dumps({
                "url": self.url, "size": self.size, "block_size": self.block_size,
                "blocks": [[i, len(b)] for i, b in items],
            }).encode()
            self.dirty = False
        _write_atomically(path, ".ranges",
                          [_STORE_MAGIC + struct.pack(">I", len(header)) + header] + [b for _, b in items])

    @classmethod
    def load(cls, url: str, path: Path) -> "RangeSource | None":
        """The source saved at ``path`` for ``url``, or None when absent or unreadable."""
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        try:
            if not data.startswith(_STORE_MAGIC):
                return None
            pos = len(_STORE_MAGIC)
            (n,) = struct.unpack_from(">I", data, pos)
            pos += 4
            header = json.loads(data[pos : pos + n])
            pos += n
            if header["url"] != url:
                return None
            blocks = {}
            for i, length in header["blocks"]:
                blocks[int(i)] = data[pos : pos + length]
                pos += length
            if pos != len(data):
                return None
            return cls(url, block_size=header["block_size"], blocks=blocks, size=header["size"])
        except (ValueError, KeyError, TypeError, struct.error):
            return None


class RemoteCDFFile(_cdf.CDFFile):
    """A :class:`~xspace.io._cdf.CDFFile` parsed from any source with the ``_Source`` interface.

    Whole-file-compressed files raise :class:`WholeFileNeeded` (their records cannot be reached by
    offset).

    Examples
    --------
    >>> from xspace.data import get_path
    >>> from xspace.io._cdf import _Source
    >>> f = RemoteCDFFile(_Source(get_path("ac_k2_mfi_20220101_v03.cdf")))
    >>> f.variables["Magnitude"].nrec
    24
    """

    def __init__(self, source):
        super().__init__(source.path, source=source)

    def _decompress_whole_file(self, raw):
        raise WholeFileNeeded(f"{self.path}: whole-file compressed; it must be downloaded whole")


def ranges_path(url: str) -> Path:
    """Where the blocks of ``url`` fetched by Range requests are kept (beside its cache entry).

    Examples
    --------
    >>> import tempfile, xspace
    >>> with xspace.set_options(cache_dir=tempfile.mkdtemp()):
    ...     ranges_path("https://example.org/a_20200101_v01.cdf").name
    '.a_20200101_v01.cdf.ranges'
    """
    from . import cache

    p = Path(cache.path_for(url))
    return p.with_name(f".{p.name}.ranges")  # hidden: not a cache entry for cache.info/verify


def forget_ranges(url: str) -> None:
    """Remove the saved blocks of ``url`` (e.g. a superseded file version)."""
    try:
        os.unlink(ranges_path(url))
    except OSError:
        pass


def _store_full_body(url: str, body: bytes) -> Path | None:
    """Store a complete CDF body received by accident (Range ignored) as the cached file."""
    from . import cache

    if body[:4] not in (b"\xcd\xf3\x00\x01", b"\xcd\xf2\x60\x02", b"\x00\x00\xff\xff"):
        return None
    dest = Path(cache.path_for(url))
    if dest.exists():
        return dest
    if not _write_atomically(dest, ".part", [body], check=lambda tmp: cache.check_content(tmp, "cdf", url)):
        return None
    return dest


def _write_atomically(path: Path, suffix: str, pieces, check=None) -> bool:
    """Write the bytes ``pieces`` to a temporary file beside ``path`` and move it into place.

    ``check(tmp_path)`` (optional) runs before the move; when it raises :class:`FetchError` the temporary
    file is removed, ``path`` is left as it was and the answer is False.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in pieces:
                fh.write(piece)
        if check is not None:
            try:
                check(Path(tmp))
            except FetchError:
                os.unlink(tmp)
                return False
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


_SMALL_FILE = 8 << 20


def open_local(path) -> _cdf.CDFFile:
    """Parse a cached file: small ones from memory (one read instead of many small preads)."""
    from ..io._cdfarray import cdf_file

    path = Path(path)
    try:
        size = path.stat().st_size
        if size <= _SMALL_FILE:
            data = path.read_bytes()
            if data[4:8] == b"\x00\x00\xff\xff":  # not whole-file compressed
                return RemoteCDFFile(_cdf._Source(str(path), data))
    except OSError:
        pass
    return cdf_file(str(path))


def release(f) -> None:
    """Free the bytes a parsed file holds: files parsed from memory (:func:`open_local`) read from disk
    from now on; Range blocks already saved (:func:`save_ranges`) are reloaded from disk when needed."""
    src = getattr(f, "src", None)
    if isinstance(src, _cdf._Source) and src.data is not None and os.path.exists(src.path):
        f.src = _cdf._Source(src.path)
    elif isinstance(src, RangeSource):
        path = ranges_path(src.url)
        if path.exists():
            src.drop(path)


def open_remote(url: str, *, block_size: int = DEFAULT_BLOCK_SIZE, expected_size: int | None = None,
                first_blocks: int = 1):
    """Parse the CDF file at ``url``: its cached copy if any, else its header records over HTTP Range.

    Parameters
    ----------
    url : str
        Absolute URL of a CDF file (version-named, i.e. immutable).
    block_size : int
        Range request granularity (bytes).
    expected_size : int, optional
        File size announced by the listing (checked against the server's).
    first_blocks : int
        Blocks the first Range request asks for (see :func:`metadata_blocks`): the files of one
        dataset share a layout, so the span of blocks one file's metadata needed usually serves the
        next file's metadata in a single request instead of two or more.

    Returns
    -------
    xspace.io._cdf.CDFFile
        A local parsed file (``f.src`` a local source) or a :class:`RemoteCDFFile` whose ``src`` is a
        :class:`RangeSource`. Call :func:`save_ranges` after reading what you need from it so a later
        call makes no request.
    """
    from ..io._cdfarray import cdf_file
    from . import cache

    local = Path(cache.path_for(url))
    if local.exists():
        return open_local(local)
    store = ranges_path(url)
    src = RangeSource.load(url, store)
    if src is not None and src.block_size != block_size:
        block_size = src.block_size
    if src is None:
        src = RangeSource(url, block_size=block_size, size=None, first_blocks=first_blocks)
    if expected_size is not None and src.size is not None and src.size != expected_size:
        raise FetchError(f"{url}: the server has {src.size} bytes, the listing announced {expected_size}")
    if src.full_body is not None:
        path = _store_full_body(url, src.full_body)
        if path is not None:
            return cdf_file(str(path))
    try:
        return RemoteCDFFile(src)
    except WholeFileNeeded:
        path = cache.fetch_file(url, kind="cdf", expected_size=src.size)
        return cdf_file(str(path))


def metadata_blocks(f, limit: int = 8) -> int:
    """How many leading blocks to ask for at once when opening a sibling of the remote file ``f``.

    The blocks ``f``'s metadata (structure and times) needed, when they form one run from the start
    of the file of at most ``limit`` blocks (512 KiB by default): asking for that run at once costs no
    more bytes than the separate requests would, and saves their round trips. Otherwise 1 (metadata
    spread through a big file: asking for the span would download data nobody asked for).

    Examples
    --------
    >>> src = RangeSource("http://127.0.0.1:9/x", blocks={0: b"a", 1: b"b"}, size=2, block_size=1)
    >>> class F: pass
    >>> f = F(); f.src = src
    >>> metadata_blocks(f)
    2
    >>> src.blocks = {0: b"a", 5: b"b"}
    >>> metadata_blocks(f)
    1
    """
    src = getattr(f, "src", None)
    if not isinstance(src, RangeSource) or not src.blocks:
        return 1
    touched = sorted(src.blocks)
    n = touched[-1] + 1
    if touched[0] != 0 or len(touched) != n or n > limit:
        return 1
    return n


def save_ranges(f) -> None:
    """Persist the blocks a :class:`RemoteCDFFile` fetched (no-op for local files)."""
    src = getattr(f, "src", None)
    if isinstance(src, RangeSource) and src.dirty:
        try:
            src.save(ranges_path(src.url))
        except OSError:
            pass  # a read-only cache only costs requests next time

