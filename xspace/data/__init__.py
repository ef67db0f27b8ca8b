"""Small real data files shipped with xspace (for ``xspace demo``, the docs and the notebooks).

Examples
--------
>>> from xspace.data import get_path
>>> get_path("ac_k2_mfi_20220101_v03.cdf").name
'ac_k2_mfi_20220101_v03.cdf'
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

_HERE = Path(__file__).resolve().parent


def get_path(name: str) -> Path:
    """Return the path of a bundled data file.

    Parameters
    ----------
    name : str
        File name, e.g. ``"ac_k2_mfi_20220101_v03.cdf"``; see :func:`list_files`.

    Examples
    --------
    >>> get_path("igrf14coeffs.txt").exists()
    True
    """
    path = _HERE / name
    if not path.is_file() or name.endswith(".py"):
        raise InputError(f"get_path: no bundled data file {name!r}; available: {list_files()}")
    return path


def list_files() -> list[str]:
    """Names of the bundled data files.

    Examples
    --------
    >>> "stream_interface_epochs.txt" in list_files()
    True
    """
    return sorted(p.name for p in _HERE.iterdir() if p.is_file() and p.suffix != ".py" and not p.name.startswith("_"))
