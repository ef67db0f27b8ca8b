"""The progress bar of eager downloads (tqdm), shown by option or when stderr is a terminal.

Examples
--------
>>> import xspace
>>> with xspace.set_options(progress=False):
...     progress_bar(10, "cdaweb", "file") is None
True
"""

from __future__ import annotations

import importlib.util
import sys

from ..options import OPTIONS

__all__ = ["progress_bar"]


def _wanted(options, total: int, minimum: int) -> bool:
    p = (options or {}).get("progress", OPTIONS.get("progress"))
    if p is not None:
        return bool(p)
    return total > minimum and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def progress_bar(total: int, desc: str, unit: str, options=None, minimum: int = 3):
    """A tqdm progress bar, or None when it is not wanted.

    Parameters
    ----------
    total : int
        Number of steps (files, requests).
    desc, unit : str
        Label and unit of the bar.
    options : dict, optional
        Call options; their ``progress`` wins over the global option ``progress``.
    minimum : int
        With ``progress=None``, the bar appears only for more than this many steps, on a terminal.

    Notes
    -----
    In Jupyter the widget bar is used when ipywidgets is installed, the text bar otherwise (no
    "IProgress not found" warning).

    Examples
    --------
    >>> bar = progress_bar(2, "demo", "file", {"progress": True})
    >>> _ = bar.update(2); bar.close()
    """
    if not _wanted(options, total, minimum):
        return None
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False, mininterval=0, miniters=1)


# ------------------------------------------------------------------ progress of lazy results' downloads
_DOWNLOAD_PREFIX = "cdf-files-"  # names of the download tasks of lazy archive results (see _assemble)
_installed = None
_install_lock = __import__("threading").Lock()


def _is_download(key) -> bool:
    name = key[0] if isinstance(key, tuple) and key else key
    return isinstance(name, str) and name.startswith(_DOWNLOAD_PREFIX)


def _make_callback():
    from dask.callbacks import Callback

    class DownloadProgress(Callback):
        """A tqdm bar over the file downloads of a computation holding lazy fetch results.

        Registered once (by :func:`install`) for dask's local schedulers; a computation without
        download tasks, or with progress not wanted, costs one option check.
        """

        def __init__(self):
            super().__init__()
            self._bars = {}
            self._lock = __import__("threading").Lock()

        def _start_state(self, dsk, state):
            if not _wanted(None, 2, 0):
                return
            n = sum(1 for k in dsk if _is_download(k))
            if n:
                bar = progress_bar(n, "download", "file", minimum=0)
                if bar is not None:
                    with self._lock:
                        self._bars[id(state)] = bar

        def _posttask(self, key, result, dsk, state, worker_id):
            if self._bars and _is_download(key):
                bar = self._bars.get(id(state))
                if bar is not None:
                    with self._lock:
                        bar.update(1)

        def _finish(self, dsk, state, errored):
            with self._lock:
                bar = self._bars.pop(id(state), None)
            if bar is not None:
                bar.close()

    return DownloadProgress()


def install() -> None:
    """Show a progress bar over the downloads whenever a lazy fetch result is computed (``.load()``,
    ``.values``, ``.compute()``) with dask's local schedulers, under the same rule as ``load=True``
    (option ``progress``, else only on a terminal). Idempotent; dask.distributed has its own
    ``distributed.progress``.

    Examples
    --------
    >>> install(); install()
    """
    global _installed
    from dask.callbacks import Callback

    with _install_lock:
        if _installed is None:
            _installed = _make_callback()
        # checked at every call: dask swaps the set of active callbacks while a computation runs
        # (dask.callbacks.local_callbacks), so a registration made meanwhile in another thread is lost
        if _installed._callback not in Callback.active:
            Callback.active.add(_installed._callback)
