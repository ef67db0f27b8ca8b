"""Long requests cut into pieces cached one by one (AMDA, CSA, HAPI, SSCWeb providers).

A piece whose data ended long ago is *settled*: the archive no longer changes it, so its cached copy is
kept for good; a recent piece is asked again after the ``cache_ttl`` option (offline: any cached copy).

Examples
--------
>>> import numpy as np
>>> pieces = day_pieces(np.datetime64("2020-01-01T12:00", "ns"), np.datetime64("2020-01-02T06:00", "ns"), 1)
>>> [(str(t0.astype("datetime64[D]")), str(t1.astype("datetime64[D]"))) for t0, t1 in pieces]
[('2020-01-01', '2020-01-02'), ('2020-01-02', '2020-01-03')]
>>> settled(np.datetime64("2020-01-02", "ns"), days=30)
True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import time
from pathlib import Path

import numpy as np

from ..options import OPTIONS

__all__ = ["day_pieces", "settled", "is_fresh", "piece_lock"]


def day_pieces(start: np.datetime64, stop: np.datetime64, days: int) -> list[tuple[np.datetime64, np.datetime64]]:
    """Pieces ``(t0, t1)`` of ``days`` days covering ``[start, stop)``, the first starting at the UTC day
    of ``start``."""
    step = np.timedelta64(days, "D").astype("timedelta64[ns]")
    first = start.astype("datetime64[D]").astype("datetime64[ns]")
    return [(a, a + step) for a in np.arange(first, stop, step)]


def settled(stop: np.datetime64, days: int) -> bool:
    """True when ``stop`` is more than ``days`` days before now (UTC): data that ended then is final."""
    now = np.datetime64(_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None), "ns")
    return bool(stop < now - np.timedelta64(days, "D"))


def is_fresh(path: Path, settled: bool) -> bool:
    """Whether the cached piece marked by ``path`` can be used without a request: it exists and is
    settled, or younger than the ``cache_ttl`` option, or the session is offline (a stale piece beats
    nothing)."""
    return path.exists() and (settled or OPTIONS["offline"]
                              or time.time() - path.stat().st_mtime < float(OPTIONS["cache_ttl"]))


def piece_lock(path: Path, suffix: str):
    """The cache's entry lock (threads and processes) on the side name ``path`` + ``suffix``: one
    download of a piece at a time across every process sharing the cache."""
    from . import cache

    locked = getattr(cache, "_locked", None)
    if locked is None:
        return contextlib.nullcontext()
    path.parent.mkdir(parents=True, exist_ok=True)
    return locked(path.with_name(path.name + suffix))
