"""xspace: xarray-native space-physics data analysis.

Importing xspace registers the ``.space`` accessors and the ``engine="cdf"`` backend; it makes no
network request and compiles nothing. Public functions are loaded on first use.

Examples
--------
>>> import xspace
>>> callable(xspace.open_cdf)
True
"""

from __future__ import annotations

import importlib

from . import accessors as _accessors  # noqa: F401  (registers .space)
from . import errors
from .options import get_options, set_options

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily, PEP 562)
_LAZY = {
    "open_cdf": "xspace.io.backend",
    "to_cdf": "xspace.io.write",
    "to_netcdf": "xspace.io.netcdf",
    "open_netcdf": "xspace.io.netcdf",
    "read_json_ascii": "xspace.io.jsonascii",
    "to_json_ascii": "xspace.io.jsonascii",
    "open_file": "xspace.io.open",
    "superposed_epoch": "xspace.analysis.sea",
    "association": "xspace.analysis.assoc",
    "lstar": "xspace.magnetosphere",
    "get_data": "xspace.fetch",
    "register_product": "xspace.fetch",
}

__all__ = ["errors", "get_options", "set_options", "__version__", "inventory", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name == "inventory":  # the live inventory object (module: xspace.fetch.inventory)
        value = importlib.import_module("xspace.fetch.inventory").INVENTORY
        globals()[name] = value
        return value
    if name in {"time", "istp", "io", "analysis", "magnetosphere", "plot", "data", "fetch", "testing"}:
        return importlib.import_module(f"xspace.{name}")
    raise AttributeError(f"module 'xspace' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
