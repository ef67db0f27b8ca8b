"""Shared fixtures: paths of the real data in ../shared/data and of the bundled data."""

from __future__ import annotations

import os
from pathlib import Path

import dask
import numpy as np
import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XSPACE_SHARED_DATA", REPO.parent / "shared" / "data"))
CDF_DIR = SHARED_DATA / "cdf"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real data files (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data folder not found at {SHARED_DATA}; set XSPACE_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cdf_dir(shared_data) -> Path:
    return shared_data / "cdf"


class CountingScheduler:
    """A dask scheduler that counts how often it is asked to compute."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        return dask.get(dsk, keys, **kwargs)


def lazy(build):
    """Run ``build()`` under a counting scheduler; assert nothing was computed; return the result."""
    sched = CountingScheduler()
    with dask.config.set(scheduler=sched):
        out = build()
    assert sched.calls == 0, "building the dask graph computed something"
    return out


def same_value(x, y) -> bool:
    """Equal values of the same types (recursing into lists and dicts; NaN equals NaN)."""
    if isinstance(x, list) or isinstance(y, list):
        return isinstance(x, list) and isinstance(y, list) and len(x) == len(y) and all(map(same_value, x, y))
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same_value(x[k], y[k]) for k in x)
    xa, ya = np.asarray(x), np.asarray(y)
    if xa.dtype != ya.dtype or xa.shape != ya.shape:
        return False
    return bool(np.array_equal(xa, ya, equal_nan=xa.dtype.kind in "fcmM"))


# ------------------------------------------------------------------------------ no network in tests
import socket as _socket

_LOCAL_NAMES = ("127.", "localhost", "::1", "0.0.0.0", "")
_real_getaddrinfo = _socket.getaddrinfo
_real_connect = _socket.socket.connect


def _is_local(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host if host is not None else "")
    return host.startswith(_LOCAL_NAMES) or host == _socket.gethostname()


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise _socket.gaierror(_socket.EAI_NONAME, f"tests make no network request (asked for {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def _guarded_connect(self, address):
    if isinstance(address, tuple) and not _is_local(address[0]):
        raise OSError(101, f"tests make no network request (connect to {address!r})")  # ENETUNREACH
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Only 127.0.0.1 servers the tests start: anything else fails as if the network were down."""
    monkeypatch.setattr(_socket, "getaddrinfo", _guarded_getaddrinfo)
    monkeypatch.setattr(_socket.socket, "connect", _guarded_connect)
    from xspace.fetch import _http

    monkeypatch.setattr(_http, "_network_down_since", None)
    yield
