"""Open any file xspace reads, choosing the reader from the file's content (then its name).

Examples
--------
>>> from xspace.io.open import open_file
>>> from xspace.data import get_path
>>> open_file(get_path("QinDenton_20120901_hour.txt")).sizes["DateTime"]
24
"""

from __future__ import annotations

import os

import xarray as xr

from ..errors import FileFormatError

_CDF_MAGIC = (b"\xcd\xf3\x00\x01", b"\xcd\xf2\x60\x02", b"\x00\x00\xff\xff")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


def detect_format(path) -> str:
    """Return ``"cdf"``, ``"netcdf"`` (netCDF3/netCDF4/HDF5) or ``"json_ascii"`` for a file.

    Examples
    --------
    >>> from xspace.data import get_path
    >>> detect_format(get_path("ac_k2_mfi_20220101_v03.cdf")), detect_format(get_path("qindenton_hourly_1999-2001.h5"))
    ('cdf', 'netcdf')
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if head[:4] in _CDF_MAGIC:
        return "cdf"
    if head == _HDF5_MAGIC or head[:4] in _NETCDF3_MAGIC:
        return "netcdf"
    if head[:1] == b"#":
        return "json_ascii"
    ext = os.path.splitext(path)[1].lower()
    if ext == ".cdf":
        return "cdf"
    if ext in (".nc", ".h5", ".hdf5", ".nc4"):
        return "netcdf"
    raise FileFormatError(
        f"{path}: unrecognised file format (first bytes {head!r}); expected CDF, netCDF/HDF5 or JSON-headed ASCII"
    )


def open_file(path, **kwargs) -> xr.Dataset:
    """Open a CDF, netCDF/HDF5 or JSON-headed ASCII file as an ISTP-decoded Dataset.

    Parameters
    ----------
    path : str or path-like
    **kwargs
        Passed to :func:`xspace.open_cdf`, :func:`xspace.open_netcdf` or :func:`xspace.read_json_ascii`.

    Examples
    --------
    >>> from xspace.data import get_path
    >>> open_file(get_path("ac_k2_mfi_20220101_v03.cdf"))["BGSEc"].attrs["UNITS"]
    'nT'
    """
    kind = detect_format(path)
    if kind == "cdf":
        from .backend import open_cdf

        return open_cdf(path, **kwargs)
    if kind == "netcdf":
        from .netcdf import open_netcdf

        return open_netcdf(path, **kwargs)
    from .jsonascii import read_json_ascii

    return read_json_ascii(path, **kwargs)
