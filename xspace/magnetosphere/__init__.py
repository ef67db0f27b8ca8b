"""xspace.magnetosphere: coordinates, magnetic field models, field-line tracing, invariants and L*.

Public functions are imported on first use (PEP 562), so ``import xspace.magnetosphere`` compiles
nothing and a module still being written does not break the others.

Examples
--------
>>> import numpy as np
>>> from xspace.magnetosphere import lstar
>>> float(lstar(np.datetime64("2020-01-01"), [5.0, 0.0, 0.0], frame="SM", model="dipole").Lstar.round(4))
5.0
"""

from __future__ import annotations

import importlib

# eager (cheap: no numba compilation happens at import) so that the function ``lstar`` always wins
# over the submodule of the same name as the package attribute
from .lstar import drift_shell, lstar

_LAZY = {
    "trace_field_line": "xspace.magnetosphere.trace",
    "field_line_invariants": "xspace.magnetosphere.trace",
    "transform": "xspace.magnetosphere.coords",
    "mlt": "xspace.magnetosphere.coords",
    "dipole_tilt": "xspace.magnetosphere.coords",
    "igrf_field": "xspace.magnetosphere.field",
    "t89_field": "xspace.magnetosphere.field",
    "dipole_field": "xspace.magnetosphere.field",
    "total_field": "xspace.magnetosphere.field",
    "make_field_params": "xspace.magnetosphere.field",
    "lstar_surrogate": "xspace.magnetosphere.surrogate",
}

__all__ = sorted([*_LAZY, "lstar", "drift_shell"])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xspace.magnetosphere' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
