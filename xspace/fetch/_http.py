"""The one HTTP client of xspace: retries, ``Retry-After``, a per-host cap, a ``User-Agent``, offline mode.

Every request of the fetch layer goes through :func:`request` (small answers, read whole) or
:func:`download` (a body streamed into a file). Both

* refuse to touch the network when ``xspace.set_options(offline=True)`` is set, or when the network was
  found unreachable less than :data:`NETWORK_RETRY_AFTER` seconds ago (name resolution failed, network
  unreachable) — raising :class:`~xspace.errors.OfflineError`, which the cache turns into "serve what is
  cached";
* fail at once with :class:`~xspace.errors.FetchError` when the connection is refused (a server that is
  down does not come back within a backoff);
* retry connection resets, time-outs, truncated bodies and HTTP 429/500/502/503/504 with exponential
  backoff, honouring ``Retry-After`` (seconds or an HTTP date), within a total time bound
  (option ``fetch_timeout``);
* hold one of ``max_connections_per_host`` (≤ 5) slots of the host for the whole transfer;
* send ``User-Agent: xspace/<version> (+python-requests)``.

Examples
--------
>>> from xspace.fetch import _http
>>> from xspace.testing import LocalServer, Reply
>>> with LocalServer() as srv:
...     srv.mount("/hello", lambda req: Reply(body=b"hi"))
...     _http.request("GET", srv.url + "/hello").content
b'hi'
"""

from __future__ import annotations

import email.utils
import errno
import random
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests

from ..errors import FetchError, OfflineError
from ..options import OPTIONS

__all__ = ["request", "download", "host_slot", "USER_AGENT", "HTTPStatusError"]

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 6
BACKOFF_BASE = 0.25  # seconds; doubled each attempt
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
NETWORK_RETRY_AFTER = 30.0  # seconds the network is believed unreachable after a resolution failure
CHUNK = 1 << 20


def _user_agent() -> str:
    from .. import __version__

    return f"xspace/{__version__} (+https://github.com/xspace; python-requests/{requests.__version__})"


USER_AGENT = _user_agent()


class HTTPStatusError(FetchError):
    """An HTTP error status that is not retried (4xx other than 429), or retries exhausted.

    ``status`` holds the HTTP status code and ``url`` the URL.
    """

    def __init__(self, message: str, status: int, url: str, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.url = url
        self.body = body


_local = threading.local()
_slots: dict[str, tuple[int, threading.BoundedSemaphore]] = {}
_slots_lock = threading.Lock()
_network_down_since: float | None = None


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.headers["User-Agent"] = USER_AGENT
        s.trust_env = True
        _local.session = s
    return s


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


@contextmanager
def host_slot(url: str):
    """Hold one of the ``max_connections_per_host`` slots of ``url``'s host.

    Examples
    --------
    >>> with host_slot("https://cdaweb.gsfc.nasa.gov/pub/data/"):
    ...     pass
    """
    host = _host(url)
    cap = int(OPTIONS["max_connections_per_host"])
    with _slots_lock:
        entry = _slots.get(host)
        if entry is None or entry[0] != cap:
            entry = (cap, threading.BoundedSemaphore(cap))
            _slots[host] = entry
    sem = entry[1]
    sem.acquire()
    try:
        yield
    finally:
        sem.release()


_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "").startswith(_LOOPBACK)


def _check_online(url: str) -> None:
    global _network_down_since
    if OPTIONS["offline"]:
        raise OfflineError(f"offline mode is on (xspace.set_options(offline=True)); not requesting {url}")
    if _network_down_since is not None and not _is_loopback(url):
        if time.monotonic() - _network_down_since < NETWORK_RETRY_AFTER:
            raise OfflineError(
                f"the network is unreachable (found {time.monotonic() - _network_down_since:.0f} s ago); "
                f"not requesting {url}"
            )
        _network_down_since = None


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while True:
        nxt = exc.__cause__ or exc.__context__
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, BaseException):
                nxt = nxt or arg
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            nxt = reason
        if nxt is None or id(nxt) in seen:
            return exc
        seen.add(id(exc))
        exc = nxt


def _classify_connection_error(exc: BaseException, url: str) -> Exception | None:
    """FetchError/OfflineError to raise at once, or None when the error is worth a retry."""
    global _network_down_since
    cause = _root_cause(exc)
    text = f"{exc} {cause}"
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text or (
        isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
    ):
        return FetchError(f"connection refused by {_host(url)} (server down?) for {url}")
    unreachable = isinstance(cause, socket.gaierror) or "NameResolutionError" in text or (
        isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH)
    )
    if unreachable:
        if not _is_loopback(url):  # a local server is reachable whatever the network does
            _network_down_since = time.monotonic()
        return OfflineError(f"the network is unreachable ({cause}); cannot request {url}")
    return None


def _retry_after(resp: requests.Response | None, attempt: int) -> float:
    delay = BACKOFF_BASE * (2**attempt) * (1 + 0.25 * random.random())
    if resp is not None:
        value = resp.headers.get("Retry-After")
        if value:
            value = value.strip()
            try:
                delay = max(float(value), 0.0)
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(value).timestamp()
                    delay = max(when - time.time(), 0.0)
                except (TypeError, ValueError):
                    pass
    return delay


def _status_error(resp: requests.Response, url: str, body: bytes = b"") -> HTTPStatusError:
    text = body[:300].decode("utf-8", "replace").strip() if body else ""
    reason = resp.reason or ""
    msg = f"HTTP {resp.status_code} {reason} for {url}"
    if text and not text.lstrip().startswith("<"):
        msg += f": {text}"
    return HTTPStatusError(msg, resp.status_code, url, body)


_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Retry(Exception):
    """Raised by one attempt to ask for another (retryable status)."""

    def __init__(self, reason: str, resp=None):
        super().__init__(reason)
        self.reason = reason
        self.resp = resp


def _with_retries(url: str, once, what: str = "request"):
    """Run ``once()`` until it returns, retrying transient failures with backoff within the time bound."""
    _check_online(url)
    deadline = time.monotonic() + float(OPTIONS["fetch_timeout"])
    last = "no attempt"
    for attempt in range(MAX_ATTEMPTS):
        try:
            return once()
        except _Retry as r:
            last, resp = r.reason, r.resp
        except _TRANSIENT as exc:
            fatal = _classify_connection_error(exc, url)
            if fatal is not None:
                raise fatal from None
            last, resp = f"{type(exc).__name__}: {exc}", None
        except requests.RequestException as exc:
            raise FetchError(f"cannot {what} {url}: {exc}") from None
        if attempt + 1 < MAX_ATTEMPTS:
            _wait(_retry_after(resp, attempt), deadline, url, last)
    raise FetchError(f"giving up on {url} after {MAX_ATTEMPTS} attempts; last error: {last}")


def _wait(delay: float, deadline: float, url: str, why: str) -> None:
    if time.monotonic() + delay > deadline:
        raise FetchError(
            f"giving up on {url}: {why}; the next retry would pass the total time bound "
            f"(option fetch_timeout={OPTIONS['fetch_timeout']} s)"
        )
    time.sleep(delay)


def request(
    method: str,
    url: str,
    *,
    params=None,
    headers=None,
    timeout: float | None = None,
    ok_status=(304,),
) -> requests.Response:
    """One HTTP request with the body read whole; retried as described in the module docstring.

    Parameters
    ----------
    method : str
        ``"GET"`` or ``"HEAD"`` (or any other verb).
    url : str
        Absolute ``http(s)`` URL.
    params, headers : dict, optional
        Query parameters and extra headers.
    timeout : float, optional
        Read time-out of one attempt (seconds).
    ok_status : tuple of int
        Non-2xx statuses returned instead of raised (default: 304).

    Returns
    -------
    requests.Response
        With ``.content`` loaded.

    Raises
    ------
    OfflineError
        Offline mode, or the network is unreachable.
    FetchError
        Connection refused, retries exhausted, or an HTTP error status (:class:`HTTPStatusError`).

    Examples
    --------
    >>> from xspace.testing import LocalServer, Reply
    >>> with LocalServer() as srv:
    ...     srv.mount("/x", lambda req: Reply(body=req.query.get("a", "")))
    ...     request("GET", srv.url + "/x", params={"a": "42"}).text
    '42'
    """

    def once():
        with host_slot(url):
            resp = _session().request(
                method,
                url,
                params=params,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, timeout or READ_TIMEOUT),
                allow_redirects=True,
            )
            body = resp.content  # read inside the slot
        if resp.status_code < 300 or resp.status_code in ok_status:
            return resp
        if resp.status_code in RETRY_STATUS:
            raise _Retry(f"HTTP {resp.status_code}", resp)
        raise _status_error(resp, url, body)

    return _with_retries(url, once)


def download(url: str, out, *, params=None, headers=None, timeout: float | None = None, progress=None):
    """Stream the body of ``url`` into the binary file object ``out`` (rewound on each retry).

    A body shorter than its ``Content-Length``, or a chunked stream that breaks off, is an error that
    is retried; the caller checks the content itself.

    Parameters
    ----------
    url : str
        Absolute URL.
    out : file object
        Opened ``"w+b"``; truncated before each attempt.
    params, headers : dict, optional
        Query parameters and extra headers (e.g. ``If-None-Match``).
    timeout : float, optional
        Read time-out of one attempt (seconds).
    progress : callable, optional
        Called with the number of bytes of each chunk written.

    Returns
    -------
    requests.Response
        The final response (status 2xx, or 304 with nothing written); ``.content`` is not available.

    Examples
    --------
    >>> import io
    >>> from xspace.testing import LocalServer, Reply
    >>> with LocalServer() as srv:
    ...     srv.mount("/f", lambda req: Reply(body=b"0123456789"))
    ...     buf = io.BytesIO()
    ...     download(srv.url + "/f", buf).status_code, buf.getvalue()
    (200, b'0123456789')
    """

    def once():
        with host_slot(url):
            resp = _session().get(
                url,
                params=params,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, timeout or READ_TIMEOUT),
                stream=True,
            )
            try:
                if resp.status_code == 304:
                    return resp
                if resp.status_code in RETRY_STATUS:
                    raise _Retry(f"HTTP {resp.status_code}", resp)
                if resp.status_code >= 300:
                    raise _status_error(resp, url, resp.raw.read(4096, decode_content=True))
                out.seek(0)
                out.truncate()
                written = 0
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
                expected = resp.headers.get("Content-Length")
                encoded = resp.headers.get("Content-Encoding", "identity") not in ("", "identity")
                if expected is not None and not encoded and written != int(expected):
                    raise requests.exceptions.ChunkedEncodingError(f"body ended after {written} of {expected} bytes")
                out.flush()
                return resp
            finally:
                resp.close()

    return _with_retries(url, once, "download")
