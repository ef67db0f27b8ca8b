"""xspace.plot: matplotlib figures of xspace results.

Functions are loaded on first use, so ``import xspace`` (and ``import xspace.plot``) does not import
matplotlib.

- :func:`sea` -- a superposed epoch analysis result (median, quartile band, CI band, mean).
- :func:`association` -- an association analysis result (CI band, asymptote).

Examples
--------
>>> import sys, xspace.plot
>>> callable(xspace.plot.sea)
True
"""

from __future__ import annotations

import importlib

_LAZY = {
    "sea": "xspace.plot.sea",
    "association": "xspace.plot.assoc",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xspace.plot' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
