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
    >>> bar.update(2); bar.close()
    """
    if not _wanted(options, total, minimum):
        return None
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False)
