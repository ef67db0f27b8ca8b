"""A real local HTTP/1.1 server with fault injection and request counting, for tests and demos.

:class:`LocalServer` listens on ``127.0.0.1`` on an ephemeral port and serves a folder of static
files the way an Apache archive does (directory index pages, ``Last-Modified``, strong ``ETag``,
``Accept-Ranges``, single byte ranges, conditional requests), plus Python handlers mounted under
URL prefixes (web-service stand-ins). It counts every request it receives and can be told to
misbehave like a real archive does: slow answers, 5xx/429 statuses with ``Retry-After``, truncated
bodies, "soft" HTML error pages sent with status 200, chunked streams cut before their end,
connections closed without an answer, answers that stall, and a port that stops accepting
connections.

It is a plain socket server (``http.server.ThreadingHTTPServer``), so any client — ``requests``,
``urllib``, ``curl`` or another process — talks to it exactly as it would to a real archive.

Examples
--------
>>> import tempfile, urllib.request
>>> from pathlib import Path
>>> from xspace.testing import LocalServer, Reply
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "hello.txt").write_bytes(b"hello, world")
>>> with LocalServer(folder) as srv:
...     srv.mount("/api", lambda req: Reply.json({"x": req.query.get("x")}))
...     urllib.request.urlopen(srv.url + "/hello.txt").read()
...     urllib.request.urlopen(srv.url + "/api/v1?x=3").read()
...     srv.count("/hello.txt")
b'hello, world'
b'{"x": "3"}'
1
"""

from __future__ import annotations

import collections
import collections.abc
import email.utils
import errno
import html
import json as _json
import mimetypes
import os
import socket
import threading
import time
import traceback
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..errors import InputError

__all__ = ["LocalServer", "Request", "Reply", "Faults", "FaultRule"]

_CONTENT_TYPES = {
    ".cdf": "application/x-cdf",
    ".json": "application/json",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".html": "text/html",
    ".binary": "application/octet-stream",
    ".nc": "application/x-netcdf",
    ".gz": "application/gzip",
    ".tar": "application/x-tar",
}


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # an HTTP date is always GMT
        import datetime as _dt

        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


def _error_page(status: int, message: str) -> str:
    """An Apache-style HTML error page."""
    phrase = _reason(status)
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head>\n<title>{status} {phrase}</title>\n</head><body>\n"
        f"<h1>{phrase}</h1>\n<p>{html.escape(message)}</p>\n</body></html>\n"
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# ---------------------------------------------------------------------------------------------
# Request / Reply
# ---------------------------------------------------------------------------------------------


class Request:
    """One HTTP request as a mounted handler sees it.

    Attributes
    ----------
    method : str
        ``"GET"``, ``"HEAD"``, ``"POST"`` ...
    path : str
        Percent-decoded path, without the query string (``"/pub/data/a b.cdf"``).
    query : dict of str to str
        Decoded query parameters; when a name is repeated the last value wins.
    raw_query : str
        The query string as received (still percent-encoded).
    headers : email.message.Message
        Request headers; lookups are case-insensitive (``req.headers.get("range")``).
    body : bytes
        Request body (empty for GET/HEAD).
    prefix : str
        The mount prefix that matched (``""`` for static files served from the root).
    subpath : str
        The part of ``path`` after ``prefix``, always starting with ``"/"``.
    url : str
        The full URL of the request (``http://127.0.0.1:port/path?query``).

    Examples
    --------
    >>> req = Request("GET", "/WS/cdasr/1/dataviews?x=1&x=2", prefix="/WS/cdasr/1")
    >>> req.path, req.query, req.subpath
    ('/WS/cdasr/1/dataviews', {'x': '2'}, '/dataviews')
    """

    def __init__(self, method: str, target: str, headers=None, body: bytes = b"", prefix: str = "",
                 base_url: str = ""):
        split = urllib.parse.urlsplit(target)
        self.method = method.upper()
        self.path = urllib.parse.unquote(split.path) or "/"
        self.raw_query = split.query
        self.query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        if headers is None:
            import email.message

            headers = email.message.Message()
        elif isinstance(headers, Mapping):
            import email.message

            message = email.message.Message()
            for name, value in headers.items():
                message[name] = value
            headers = message
        self.headers = headers
        self.body = body
        self.prefix = ""
        self.subpath = self.path
        self.set_prefix(prefix)
        self.url = base_url + split.path + (f"?{split.query}" if split.query else "")
        self.time = time.time()

    def set_prefix(self, prefix: str) -> None:
        """Record the mount prefix that matched and derive :attr:`subpath`."""
        prefix = prefix.rstrip("/")
        self.prefix = prefix
        rest = self.path[len(prefix):] if prefix and self.path.startswith(prefix) else self.path
        self.subpath = rest if rest.startswith("/") else "/" + rest

    @property
    def key(self) -> str:
        """The counting key, ``"METHOD /path?query"`` (path and query decoded)."""
        query = urllib.parse.unquote_plus(self.raw_query)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    def __repr__(self) -> str:
        return f"<Request {self.key}>"


class Reply:
    """What a mounted handler returns: status, body and headers.

    Parameters
    ----------
    status : int
        HTTP status code.
    body : bytes, str or iterable of bytes
        ``bytes``/``str`` bodies are sent with a ``Content-Length``; any other iterable of ``bytes``
        chunks is sent with ``Transfer-Encoding: chunked``, one HTTP chunk per item.
    headers : mapping, optional
        Extra response headers. A ``Content-Length`` given here is sent as is (used for HEAD).
    content_type : str, optional
        ``Content-Type``; default ``text/plain; charset=utf-8`` for ``str`` bodies and
        ``application/octet-stream`` otherwise.

    Examples
    --------
    >>> r = Reply(404, "no such dataset")
    >>> r.status, r.body, r.headers["Content-Type"]
    (404, b'no such dataset', 'text/plain; charset=utf-8')
    >>> Reply.json({"a": 1}).body
    b'{"a": 1}'
    """

    def __init__(self, status: int = 200, body: bytes | str | Iterable[bytes] = b"",
                 headers: Mapping[str, str] | None = None, content_type: str | None = None):
        self.status = int(status)
        self.headers = Headers(headers)
        if isinstance(body, str):
            body = body.encode("utf-8")
            default_type = "text/plain; charset=utf-8"
        else:
            default_type = "application/octet-stream"
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        self.body = body
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        else:
            self.headers.setdefault("Content-Type", default_type)

    @property
    def chunked(self) -> bool:
        """True when the body is an iterable of chunks (sent with chunked transfer encoding)."""
        return not isinstance(self.body, bytes)

    @classmethod
    def json(cls, obj, status: int = 200, headers: Mapping[str, str] | None = None) -> "Reply":
        """A JSON reply (``application/json``) of ``obj``."""
        return cls(status, _json.dumps(obj).encode("utf-8"), headers, content_type="application/json")

    @classmethod
    def html(cls, text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> "Reply":
        """An HTML reply (``text/html; charset=utf-8``)."""
        return cls(status, text.encode("utf-8"), headers, content_type="text/html; charset=utf-8")

    @classmethod
    def error(cls, status: int, message: str = "", headers: Mapping[str, str] | None = None) -> "Reply":
        """An Apache-style HTML error page with the given status."""
        return cls(status, _error_page(status, message or _reason(status)).encode("iso-8859-1", "replace"),
                   headers, content_type="text/html; charset=iso-8859-1")

    @classmethod
    def not_found(cls, path: str) -> "Reply":
        """The 404 page of a missing URL path."""
        return cls.error(404, f"The requested URL {path} was not found on this server.")

    @classmethod
    def file(cls, path: str | os.PathLike, req: Request | None = None) -> "Reply":
        """A static-file reply, as an archive's web server would send it.

        Sends ``Content-Length``, ``Last-Modified``, a strong ``ETag`` (file size and modification
        time in ns), ``Accept-Ranges: bytes``; honours ``If-None-Match`` / ``If-Modified-Since``
        (304), a single ``Range`` (206 with ``Content-Range``, 416 when unsatisfiable; ignored when
        ``If-Range`` does not match) and HEAD (the server then sends headers only).

        Parameters
        ----------
        path : path-like
            The file to send; a missing file gives a 404 page.
        req : Request, optional
            The request being answered (its method and conditional/range headers).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> p = Path(tempfile.mkdtemp()) / "x.bin"
        >>> _ = p.write_bytes(bytes(range(10)))
        >>> r = Reply.file(p, Request("GET", "/x.bin", {"Range": "bytes=2-4"}))
        >>> r.status, r.body, r.headers["Content-Range"]
        (206, b'\\x02\\x03\\x04', 'bytes 2-4/10')
        >>> Reply.file(p, Request("GET", "/x.bin", {"If-None-Match": r.headers["ETag"]})).status
        304
        """
        path = Path(path)
        req = req if req is not None else Request("GET", "/" + path.name)
        try:
            st = path.stat()
        except OSError:
            return cls.not_found(req.path)
        if not path.is_file():
            return cls.not_found(req.path)
        size = st.st_size
        etag = f'"{size:x}-{st.st_mtime_ns:x}"'
        mtime = int(st.st_mtime)
        validators = {"ETag": etag, "Last-Modified": _http_date(mtime), "Accept-Ranges": "bytes"}
        content_type = _content_type(path)

        # Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        inm = req.headers.get("If-None-Match")
        if req.method in ("GET", "HEAD"):
            if inm is not None:
                if _etag_matches(inm, etag, weak=True):
                    return cls(304, b"", validators, content_type=content_type)
            else:
                ims = _parse_http_date(req.headers.get("If-Modified-Since"))
                if ims is not None and mtime <= ims:
                    return cls(304, b"", validators, content_type=content_type)

        start, stop, status = 0, size, 200
        range_header = req.headers.get("Range")
        if range_header and req.method in ("GET", "HEAD") and _if_range_ok(req.headers.get("If-Range"), etag, mtime):
            parsed = _parse_range(range_header, size)
            if parsed == "unsatisfiable":
                headers = dict(validators)
                headers["Content-Range"] = f"bytes */{size}"
                return cls(416, _error_page(416, "Requested Range Not Satisfiable").encode(), headers,
                           content_type="text/html; charset=iso-8859-1")
            if parsed is not None:
                start, stop = parsed
                status = 206
                validators["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        length = stop - start
        headers = dict(validators)
        headers["Content-Length"] = str(length)
        if req.method == "HEAD":
            body = b""
        else:
            with open(path, "rb") as f:
                f.seek(start)
                body = f.read(length)
        return cls(status, body, headers, content_type=content_type)

    def __repr__(self) -> str:
        kind = "chunked" if self.chunked else f"{len(self.body)} bytes"
        return f"<Reply {self.status} {self.headers.get('Content-Type')} {kind}>"


class Headers(collections.abc.MutableMapping):
    """Response headers: a dict whose keys compare case-insensitively but keep their spelling."""

    def __init__(self, items: Mapping[str, str] | None = None):
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in (items or {}).items():
            self[name] = value

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __setitem__(self, name: str, value) -> None:
        self._items[name.lower()] = (name, str(value))

    def __delitem__(self, name: str) -> None:
        del self._items[name.lower()]

    def __iter__(self):
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _etag_matches(header: str, etag: str, weak: bool) -> bool:
    header = header.strip()
    if header == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if weak and candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _if_range_ok(value: str | None, etag: str, mtime: int) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # strong comparison only
    date = _parse_http_date(value)
    return date is not None and int(date) == mtime


def _parse_range(header: str, size: int):
    """``(start, stop)`` of a single ``bytes=`` range, ``"unsatisfiable"``, or None to ignore it."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # other units and multiple ranges: send the whole file (allowed by RFC 9110)
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            return max(size - suffix, 0), size
        start = int(first)
        stop = int(last) + 1 if last != "" else size
    except ValueError:
        return None
    if start < 0 or (last != "" and stop <= start):
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(stop, size)


# ---------------------------------------------------------------------------------------------
# Directory listings (Apache mod_autoindex look-alike)
# ---------------------------------------------------------------------------------------------


def apache_size(size: int) -> str:
    """A file size written the way Apache's directory index writes it (``"512 "``, ``"1.2K"``, ``" 24M"``).

    Examples
    --------
    >>> [apache_size(n) for n in (0, 972, 1000, 31252, 1818005, 5 * 2**30)]
    ['  0 ', '972 ', '1.0K', ' 31K', '1.7M', '5.0G']
    """
    if size < 973:
        return f"{size:3d} "
    for unit in "KMGTPE":
        remain = size & 1023
        size >>= 10
        if size >= 973:
            continue
        if size < 9 or (size == 9 and remain < 973):
            tenths = (remain * 5 + 256) // 512
            if tenths >= 10:
                size, tenths = size + 1, 0
            return f"{size}.{tenths}{unit}"
        if remain >= 512:
            size += 1
        return f"{size:3d}{unit}"
    return f"{size:3d}E"


def directory_listing(folder: str | os.PathLike, url_path: str, style: str = "table",
                      sizes: str = "human") -> str:
    """The HTML of an Apache ``Index of /path`` page for ``folder``.

    Parameters
    ----------
    folder : path-like
        The folder to list (entries sorted by name; hidden files omitted).
    url_path : str
        The URL path of the folder, ending in ``"/"``.
    style : {"table", "pre"}
        Apache's ``HTMLTable`` layout (as CDAWeb and SPDF serve) or the classic ``<pre>`` one.
    sizes : {"human", "bytes"}
        Sizes as Apache writes them (``1.2M``) or exact byte counts.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.cdf").write_bytes(b"x" * 2048); (d / "sub").mkdir()
    >>> page = directory_listing(d, "/pub/data/")
    >>> "<title>Index of /pub/data</title>" in page, '<a href="a.cdf">a.cdf</a>' in page
    (True, True)
    >>> '<a href="sub/">sub/</a>' in page, '2.0K' in page
    (True, True)
    """
    folder = Path(folder)
    if not url_path.endswith("/"):
        url_path += "/"
    title = url_path.rstrip("/") or "/"
    entries = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        try:
            st = entry.stat()
        except OSError:
            continue
        is_dir = entry.is_dir()
        name = entry.name + ("/" if is_dir else "")
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(st.st_mtime))
        if is_dir:
            size = "  - "
        else:
            size = apache_size(st.st_size) if sizes == "human" else str(st.st_size)
        href = urllib.parse.quote(entry.name) + ("/" if is_dir else "")
        entries.append((name, href, when, size, is_dir))
    parent = url_path.rstrip("/").rpartition("/")[0] + "/"
    head = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html>\n <head>\n'
        f"  <title>Index of {html.escape(title)}</title>\n </head>\n <body>\n"
        f"<h1>Index of {html.escape(title)}</h1>\n"
    )
    lines = [head]
    if style == "pre":
        lines.append(
            '<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>'
            + " " * 20 + '<a href="?C=M;O=A">Last modified</a>      <a href="?C=S;O=A">Size</a>  '
            '<a href="?C=D;O=A">Description</a><hr>'
        )
        if url_path != "/":
            lines.append(f'<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="{parent}">Parent Directory</a>'
                         + " " * 29 + "-   \n")
        for name, href, when, size, is_dir in entries:
            icon, alt = ("folder.gif", "[DIR]") if is_dir else ("unknown.gif", "[   ]")
            pad = " " * max(1, 25 - len(name))
            lines.append(f'<img src="/icons/{icon}" alt="{alt}"> <a href="{href}">{html.escape(name)}</a>'
                         f"{pad}{when}  {size:>4}  \n")
        lines.append("<hr></pre>\n</body></html>\n")
    else:
        lines.append(
            "  <table>\n"
            '   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
            '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
            '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n'
            '   <tr><th colspan="5"><hr></th></tr>\n'
        )
        if url_path != "/":
            lines.append(
                f'<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
                f'<td><a href="{parent}">Parent Directory</a></td><td>&nbsp;</td>'
                '<td align="right">  - </td><td>&nbsp;</td></tr>\n'
            )
        for name, href, when, size, is_dir in entries:
            icon, alt = ("folder.gif", "[DIR]") if is_dir else ("unknown.gif", "[   ]")
            lines.append(
                f'<tr><td valign="top"><img src="/icons/{icon}" alt="{alt}"></td>'
                f'<td><a href="{href}">{html.escape(name)}</a></td>'
                f'<td align="right">{when}  </td><td align="right">{size}</td><td>&nbsp;</td></tr>\n'
            )
        lines.append('   <tr><th colspan="5"><hr></th></tr>\n</table>\n</body></html>\n')
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


class FaultRule:
    """One injected fault: which requests it hits, what it does, and how many times it is left.

    Attributes
    ----------
    substring : str
        Matched against the request key ``"METHOD /path?query"`` (decoded).
    kind : {"status", "truncate", "soft_error", "abort_chunked", "drop", "stall"}
    remaining : int or None
        Requests it will still hit (None: every matching request).
    hits : int
        Requests it has hit so far.
    """

    def __init__(self, substring: str, kind: str, times: int | None, **params):
        self.substring = substring
        self.kind = kind
        self.remaining = times
        self.hits = 0
        self.params = params

    def __repr__(self) -> str:
        return f"<FaultRule {self.kind} {self.substring!r} remaining={self.remaining} hits={self.hits} {self.params}>"


class Faults:
    """The fault switches of a :class:`LocalServer` (``srv.faults``).

    Rules are tried in the order they were added; the first one that matches a request and has
    uses left is applied (and used up once). Faulted requests are still counted by the server.
    ``times=None`` makes a rule permanent until :meth:`clear`.

    Attributes
    ----------
    latency : float
        Seconds slept before answering every request.
    rules : list of FaultRule
        The rules added, in order (their ``hits`` and ``remaining`` show what happened).

    Examples
    --------
    >>> import requests
    >>> with LocalServer() as srv:
    ...     srv.mount("/data", lambda req: Reply(200, b"0123456789"))
    ...     rule = srv.faults.add("/data", status=503, times=1, retry_after=3)
    ...     _ = srv.faults.truncate("/data", keep=4, length_header=False)
    ...     srv.faults.soft_error("/data")
    ...     r = requests.get(srv.url + "/data"); (r.status_code, r.headers["Retry-After"])
    ...     requests.get(srv.url + "/data").content        # cut after 4 bytes, no Content-Length
    ...     requests.get(srv.url + "/data").text[:15]      # status 200, but an HTML error page
    ...     requests.get(srv.url + "/data").content        # rules used up: the real answer
    ...     rule.hits, srv.count("/data")
    <FaultRule soft_error '/data' remaining=1 hits=0 ...>
    (503, '3')
    b'0123'
    '<!DOCTYPE html>'
    b'0123456789'
    (1, 4)
    """

    def __init__(self):
        self.latency = 0.0
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def _add(self, rule: FaultRule) -> FaultRule:
        if rule.remaining is not None and rule.remaining < 1:
            raise InputError(f"times must be >= 1 or None, got {rule.remaining!r}")
        with self._lock:
            self.rules.append(rule)
        return rule

    def add(self, substring: str, status: int = 503, times: int | None = 1,
            retry_after: float | str | None = None, body: str | bytes | None = None) -> FaultRule:
        """Answer the next ``times`` matching requests with ``status`` (the handler is not called).

        ``retry_after`` (seconds or an HTTP date) is sent as ``Retry-After``.
        """
        return self._add(FaultRule(substring, "status", times, status=int(status), retry_after=retry_after,
                                   body=body))

    def truncate(self, substring: str, times: int | None = 1, keep: float | int = 0.5,
                 length_header: bool = True) -> FaultRule:
        """Send only part of the body of the next ``times`` matching responses, then close.

        ``keep`` is the fraction of the body sent (a float in [0, 1]) or a number of bytes (an int).
        With ``length_header`` the full ``Content-Length`` is announced (the client sees a short read);
        without it the response has no length and the early close looks like a normal end of body.
        HEAD requests are not affected.
        """
        return self._add(FaultRule(substring, "truncate", times, keep=keep, length_header=length_header))

    def soft_error(self, substring: str, times: int | None = 1, status_text: str = "502 Bad Gateway") -> FaultRule:
        """Answer the next ``times`` matching requests with status 200 and an HTML proxy error page."""
        return self._add(FaultRule(substring, "soft_error", times, status_text=status_text))

    def abort_chunked(self, substring: str, times: int | None = 1, keep: float | int = 0.5) -> FaultRule:
        """Send the next ``times`` matching responses chunked and close before the terminating chunk.

        HEAD requests are not affected.
        """
        return self._add(FaultRule(substring, "abort_chunked", times, keep=keep))

    def drop(self, substring: str, times: int | None = 1) -> FaultRule:
        """Close the connection of the next ``times`` matching requests without any response."""
        return self._add(FaultRule(substring, "drop", times))

    def stall(self, substring: str, seconds: float, times: int | None = 1) -> FaultRule:
        """Wait ``seconds`` before answering the next ``times`` matching requests (to trigger client timeouts)."""
        return self._add(FaultRule(substring, "stall", times, seconds=float(seconds)))

    def clear(self) -> None:
        """Remove every rule and set :attr:`latency` back to 0."""
        with self._lock:
            self.rules.clear()
            self.latency = 0.0

    def _take(self, req: Request) -> FaultRule | None:
        key = req.key
        with self._lock:
            for rule in self.rules:
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if rule.substring not in key:
                    continue
                if rule.kind in ("truncate", "abort_chunked") and req.method == "HEAD":
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule
        return None

    def __repr__(self) -> str:
        return f"<Faults latency={self.latency} rules={self.rules}>"


def _soft_error_page(status_text: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n<head><title>" + html.escape(status_text) + "</title></head>\n"
        "<body>\n<center><h1>" + html.escape(status_text) + "</h1></center>\n"
        "<hr><center>The upstream server is temporarily unavailable. Please try again later.</center>\n"
        "</body>\n</html>\n"
    ).encode()


def _keep_bytes(keep: float | int, total: int) -> int:
    if isinstance(keep, float):
        n = int(total * keep)
    else:
        n = int(keep)
    return max(0, min(n, total))


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------

Handler = Callable[[Request], Reply]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # LocalServer joins its own threads, with a timeout
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, owner: "LocalServer"):
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request, client_address):
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, OSError)):
            return  # clients going away, down() cutting connections
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache/2.4 (xspace LocalServer)"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after a minute
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def setup(self):
        super().setup()
        self.server.owner._register(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.owner._unregister(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def _dispatch(self):
        self.server.owner._serve(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


class LocalServer:
    """A threaded HTTP/1.1 server on ``127.0.0.1`` serving a folder and mounted handlers.

    Parameters
    ----------
    root : path-like, optional
        Folder served as static files under ``/`` (Apache-style index pages for folders). None: only
        mounted handlers answer; other paths are 404.
    host : str
        Interface to listen on (default ``127.0.0.1``).
    port : int
        Port; 0 (default) picks a free ephemeral port.
    listing : {"table", "pre"}
        Layout of directory index pages (Apache ``HTMLTable`` or ``<pre>``).
    listing_sizes : {"human", "bytes"}
        Sizes in index pages as Apache writes them (``1.2M``) or exact byte counts.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>`` (available once started).
    faults : Faults
        Fault switches (latency, statuses, truncation, soft errors, aborted chunked streams).
    history : collections.deque of Request
        The last 10000 requests received (to inspect headers clients sent).
    errors : list of str
        Tracebacks of exceptions raised by mounted handlers (answered with a 500).

    Examples
    --------
    >>> import urllib.request, urllib.error
    >>> srv = LocalServer().start()
    >>> srv.mount("/hapi", lambda req: Reply(200, "sub=" + req.subpath))
    >>> urllib.request.urlopen(srv.url + "/hapi/catalog").read()
    b'sub=/catalog'
    >>> srv.faults.add("/hapi", status=503, retry_after=2)
    <FaultRule status '/hapi' remaining=1 hits=0 ...>
    >>> try:
    ...     urllib.request.urlopen(srv.url + "/hapi/catalog")
    ... except urllib.error.HTTPError as e:
    ...     print(e.code, e.headers["Retry-After"])
    503 2
    >>> srv.count("/hapi/catalog"), srv.counts["GET /hapi/catalog"]
    (2, 2)
    >>> srv.stop()
    """

    def __init__(self, root: str | os.PathLike | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 listing: str = "table", listing_sizes: str = "human"):
        self.root = Path(root).resolve() if root is not None else None
        self.host = host
        self.port = int(port)
        self.listing = listing
        self.listing_sizes = listing_sizes
        self.faults = Faults()
        self.history: collections.deque[Request] = collections.deque(maxlen=10000)
        self.errors: list[str] = []
        self._mounts: dict[str, Handler | Path] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> "LocalServer":
        """Start listening (in a background thread); returns the server itself."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"LocalServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, cut open connections and join the threads (never hangs past ``timeout``)."""
        self._close_listener(timeout)
        self._cut_connections(timeout)

    def down(self) -> None:
        """Close the listening socket and open connections: new connections are refused."""
        self.stop(timeout=1.0)

    def up(self) -> None:
        """Listen again on the same port after :meth:`down`."""
        if self._httpd is not None:
            return
        deadline = time.monotonic() + 5.0
        while True:
            try:
                self.start()
                return
            except OSError as exc:  # the port can take a moment to be free again
                if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._httpd is not None

    @property
    def url(self) -> str:
        """Base URL ``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self.port == 0:
            raise RuntimeError("LocalServer has no port yet: call start() first")
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __del__(self):
        try:
            if self._httpd is not None:
                self.stop(timeout=0.5)
        except Exception:
            pass

    def __repr__(self) -> str:
        state = self.url if self.port else "not started"
        status = "up" if self.running else "down"
        return f"<LocalServer {state} root={self.root} mounts={sorted(self._mounts)} {status}>"

    def _close_listener(self, timeout: float) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        if thread is not None and thread.is_alive():
            httpd.shutdown()  # serve_forever polls every 0.05 s, so this returns quickly
            thread.join(timeout)
        httpd.server_close()

    def _cut_connections(self, timeout: float) -> None:
        with self._lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _register(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections[sock] = threading.current_thread()

    def _unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.pop(sock, None)

    # -- routing -----------------------------------------------------------------------------------

    def mount(self, prefix: str, handler: Handler | str | os.PathLike) -> None:
        """Serve URLs under ``prefix`` with ``handler(req) -> Reply`` (or a folder, as static files).

        The longest matching prefix wins; a prefix matches whole path segments (``/api`` matches
        ``/api`` and ``/api/x`` but not ``/apix``). Paths no mount matches are served from ``root``.
        """
        if not prefix.startswith("/"):
            raise InputError(f"mount prefix must start with '/', got {prefix!r}")
        if not callable(handler):
            handler = Path(handler).resolve()
            if not handler.is_dir():
                raise InputError(f"mount target must be a callable or a folder, got {handler}")
        with self._lock:
            self._mounts[prefix.rstrip("/")] = handler

    def unmount(self, prefix: str) -> None:
        """Remove the handler mounted at ``prefix``."""
        with self._lock:
            self._mounts.pop(prefix.rstrip("/"), None)

    def _route(self, path: str):
        with self._lock:
            mounts = dict(self._mounts)
        for prefix in sorted(mounts, key=len, reverse=True):
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                return prefix, mounts[prefix]
        return "", self.root

    # -- counting ----------------------------------------------------------------------------------

    @property
    def counts(self) -> collections.Counter:
        """A snapshot ``Counter`` of ``"METHOD /path?query"`` (decoded) for every request received."""
        with self._lock:
            return collections.Counter(self._counts)

    def count(self, path_substring: str = "", method: str | None = "GET") -> int:
        """Number of requests whose ``/path?query`` contains ``path_substring`` (``method=None``: any method)."""
        total = 0
        with self._lock:
            items = list(self._counts.items())
        for key, n in items:
            key_method, _, target = key.partition(" ")
            if method is not None and key_method != method.upper():
                continue
            if path_substring in target:
                total += n
        return total

    def requests(self, path_substring: str = "", method: str | None = None) -> list[Request]:
        """The received requests (oldest first) whose key ``"METHOD /path?query"`` contains ``path_substring``.

        Use it to check what a client sent (``srv.requests("/a.cdf")[-1].headers["If-None-Match"]``).
        """
        with self._lock:
            history = list(self.history)
        return [r for r in history
                if path_substring in r.key and (method is None or r.method == method.upper())]

    def reset_counts(self) -> None:
        """Forget all counted requests (and the request history)."""
        with self._lock:
            self._counts.clear()
            self.history.clear()

    # -- serving -----------------------------------------------------------------------------------

    def _serve(self, h: _RequestHandler) -> None:
        body = h.read_body()
        req = Request(h.command, h.path, h.headers, body, base_url=self.url)
        with self._lock:
            self._counts[req.key] += 1
            self.history.append(req)
        if self.faults.latency:
            time.sleep(self.faults.latency)
        rule = self.faults._take(req)
        if rule is not None and rule.kind == "stall":
            time.sleep(rule.params["seconds"])
            rule = None
        if rule is not None and rule.kind == "drop":
            h.close_connection = True
            _close_now(h.connection)
            return
        if rule is not None and rule.kind == "status":
            status = rule.params["status"]
            headers = {}
            if rule.params["retry_after"] is not None:
                retry_after = rule.params["retry_after"]
                if isinstance(retry_after, float) and retry_after.is_integer():
                    retry_after = int(retry_after)
                headers["Retry-After"] = str(retry_after)
            body = rule.params["body"]
            reply = (Reply(status, body, headers, content_type="text/html; charset=utf-8") if body is not None
                     else Reply.error(status, f"{_reason(status)} (injected fault)", headers))
            self._send(h, req, reply)
            return
        if rule is not None and rule.kind == "soft_error":
            self._send(h, req, Reply(200, _soft_error_page(rule.params["status_text"]),
                                     content_type="text/html; charset=utf-8"))
            return
        reply = self._reply_for(req)
        if rule is None:
            self._send(h, req, reply)
        elif rule.kind == "truncate":
            self._send_truncated(h, reply, rule)
        else:
            self._send_aborted_chunks(h, reply, rule)

    def _reply_for(self, req: Request) -> Reply:
        prefix, target = self._route(req.path)
        req.set_prefix(prefix)
        if callable(target):
            try:
                reply = target(req)
            except Exception:
                text = traceback.format_exc()
                self.errors.append(text)
                return Reply(500, text, content_type="text/plain; charset=utf-8")
            if not isinstance(reply, Reply):
                message = f"handler for {prefix!r} returned {type(reply).__name__}, expected Reply"
                self.errors.append(message)
                return Reply(500, message)
            return reply
        return self._static(req, target)

    def _static(self, req: Request, folder: Path | None) -> Reply:
        if folder is None:
            return Reply.not_found(req.path)
        if req.method not in ("GET", "HEAD"):
            return Reply.error(405, f"The requested method {req.method} is not allowed for {req.path}.",
                               {"Allow": "GET, HEAD"})
        parts = [p for p in req.subpath.split("/") if p not in ("", ".")]
        if ".." in parts or any("\x00" in p for p in parts):
            return Reply.not_found(req.path)
        target = folder.joinpath(*parts)
        if target.is_dir():
            if not req.path.endswith("/"):
                location = self.url + urllib.parse.quote(req.path) + "/"
                return Reply.error(301, f"The document has moved to {location}.", {"Location": location})
            return Reply.html(directory_listing(target, req.path, style=self.listing, sizes=self.listing_sizes))
        return Reply.file(target, req)

    def _start_headers(self, h: _RequestHandler, status: int, headers: Mapping[str, str]) -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()

    def _send(self, h: _RequestHandler, req: Request, reply: Reply) -> None:
        headers = Headers(reply.headers)
        no_body = req.method == "HEAD" or reply.status in (204, 304) or reply.status < 200
        if not reply.chunked:
            if reply.status not in (204, 304) and reply.status >= 200:
                headers.setdefault("Content-Length", str(len(reply.body)))
            if h.close_connection:
                headers["Connection"] = "close"
            self._start_headers(h, reply.status, headers)
            if not no_body and reply.body:
                h.wfile.write(reply.body)
            return
        headers.pop("Content-Length", None)
        if h.request_version == "HTTP/1.0":  # no chunked encoding: end of body = end of connection
            headers["Connection"] = "close"
            h.close_connection = True
            self._start_headers(h, reply.status, headers)
            if not no_body:
                for chunk in reply.body:
                    if chunk:
                        h.wfile.write(chunk)
            return
        headers["Transfer-Encoding"] = "chunked"
        self._start_headers(h, reply.status, headers)
        if no_body:
            return
        try:
            for chunk in reply.body:
                if chunk:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), bytes(chunk)))
        except OSError:
            raise  # the client went away
        except Exception:
            # a failing generator: headers are gone already, so end the stream without its final
            # chunk, which the client reports as an incomplete response
            self.errors.append(traceback.format_exc())
            h.close_connection = True
            _close_now(h.connection)
            return
        h.wfile.write(b"0\r\n\r\n")

    def _send_truncated(self, h: _RequestHandler, reply: Reply, rule: FaultRule) -> None:
        body = reply.body if not reply.chunked else b"".join(bytes(c) for c in reply.body)
        headers = Headers(reply.headers)
        headers.pop("Transfer-Encoding", None)
        headers["Connection"] = "close"
        if rule.params["length_header"]:
            headers["Content-Length"] = str(len(body))
        else:
            headers.pop("Content-Length", None)
        h.close_connection = True
        self._start_headers(h, reply.status, headers)
        h.wfile.write(body[:_keep_bytes(rule.params["keep"], len(body))])
        h.wfile.flush()
        _close_now(h.connection)

    def _send_aborted_chunks(self, h: _RequestHandler, reply: Reply, rule: FaultRule) -> None:
        body = reply.body if not reply.chunked else b"".join(bytes(c) for c in reply.body)
        headers = Headers(reply.headers)
        headers.pop("Content-Length", None)
        headers["Transfer-Encoding"] = "chunked"
        h.close_connection = True
        self._start_headers(h, reply.status, headers)
        sent = body[:_keep_bytes(rule.params["keep"], len(body))]
        step = max(1, len(sent) // 4) if sent else 1
        for i in range(0, len(sent), step):
            chunk = sent[i:i + step]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.flush()
        _close_now(h.connection)  # no terminating 0-size chunk


def main(argv: list[str] | None = None) -> None:
    """Serve a folder until interrupted: ``python -m xspace.testing.server FOLDER [--port N]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Serve a folder like an Apache archive, on 127.0.0.1.")
    parser.add_argument("root", nargs="?", default=".", help="folder to serve (default: current folder)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args(argv)
    srv = LocalServer(args.root, port=args.port).start()
    srv.faults.latency = args.latency
    print(srv.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


def _close_now(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
