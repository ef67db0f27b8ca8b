"""Global options, set with :func:`set_options` (the xarray/cf-xarray idiom).

Examples
--------
>>> import xspace
>>> with xspace.set_options(offline=True):
...     xspace.get_options()["offline"]
True
>>> xspace.get_options()["offline"]
False
"""

from __future__ import annotations

from typing import Any

from .errors import InputError

OPTIONS: dict[str, Any] = {
    # fetch: serve everything from the cache, never touch the network
    "offline": False,
    # fetch: cache folder; None = $XSPACE_CACHE_DIR or the platform cache folder
    "cache_dir": None,
    # io: default dask chunk size (records) for the CDF engine when chunks="auto"
    "cdf_chunk_records": 1_000_000,
    # fetch: maximum parallel downloads per host
    "max_connections_per_host": 4,
    # fetch: base URLs of the providers; None = $XSPACE_<NAME>_URL or the real service
    "cdaweb_url": None,
    "cdaweb_catalog_url": None,
    "hapi_url": None,
    "hapi_servers": None,
    "sscweb_url": None,
    "amda_url": None,
    "csa_url": None,
    # fetch: seconds before listings, catalogs and metadata are revalidated
    "cache_ttl": 3600.0,
    # fetch: time budget of the retries of one request: no retry starts past it (seconds)
    "fetch_timeout": 120.0,
    # fetch: progress bar for eager downloads (None = when stderr is a terminal)
    "progress": None,
}

_URL_OPTIONS = ("cdaweb_url", "cdaweb_catalog_url", "hapi_url", "sscweb_url", "amda_url", "csa_url")

_VALIDATORS = {
    "offline": lambda v: isinstance(v, bool),
    "cache_dir": lambda v: v is None or isinstance(v, str) or hasattr(v, "__fspath__"),
    "cdf_chunk_records": lambda v: isinstance(v, int) and v > 0,
    "max_connections_per_host": lambda v: isinstance(v, int) and 1 <= v <= 5,
    **{k: (lambda v: v is None or (isinstance(v, str) and v.startswith(("http://", "https://"))))
       for k in _URL_OPTIONS},
    "hapi_servers": lambda v: v is None or (
        isinstance(v, dict) and all(isinstance(a, str) and isinstance(u, str) for a, u in v.items())
    ),
    "cache_ttl": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "fetch_timeout": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    "progress": lambda v: v is None or isinstance(v, bool),
}


def get_options() -> dict[str, Any]:
    """Return a copy of the current options.

    Examples
    --------
    >>> import xspace
    >>> sorted(xspace.get_options())[:3]
    ['amda_url', 'cache_dir', 'cache_ttl']
    """
    return dict(OPTIONS)


class set_options:
    """Set global options, for good or (as a context manager) temporarily.

    Parameters
    ----------
    offline : bool
        Serve fetch requests from the cache only.
    cache_dir : str or path-like or None
        Folder of the download cache.
    cdf_chunk_records : int
        Default number of records per dask chunk when opening CDF files with ``chunks="auto"``.
    max_connections_per_host : int
        Parallel downloads per host (1-5).
    cdaweb_url, cdaweb_catalog_url, hapi_url, sscweb_url, amda_url, csa_url : str or None
        Base URL of a provider (``http://`` or ``https://``). ``None`` means the environment variable
        ``XSPACE_<NAME>_URL`` if set, else the real service (see :func:`xspace.fetch.base_url`).
    hapi_servers : dict or None
        Extra HAPI servers, alias -> URL, added to the built-in list.
    cache_ttl : float
        Seconds before cached listings, catalogs and metadata are revalidated (conditional GET).
    fetch_timeout : float
        Time budget of the retries of one request (seconds): no new attempt starts, and no backoff
        wait is begun, past it. A transfer in progress is not cut (each attempt has its own connect
        and read time-outs).
    progress : bool or None
        Progress bar for eager downloads; ``None`` shows it when stderr is a terminal.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(cdf_chunk_records=1000):
    ...     xspace.get_options()["cdf_chunk_records"]
    1000
    """

    def __init__(self, **kwargs: Any) -> None:
        self.old: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key not in OPTIONS:
                raise InputError(
                    f"set_options: unknown option {key!r}; expected one of {sorted(OPTIONS)}"
                )
            if not _VALIDATORS[key](value):
                raise InputError(f"set_options: invalid value {value!r} for option {key!r}")
            self.old[key] = OPTIONS[key]
        OPTIONS.update(kwargs)

    def __enter__(self) -> "set_options":
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self.old)
