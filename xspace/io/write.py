"""Writing xarray Datasets to ISTP CDF files (:func:`to_cdf`).

The writer inverts the reader (:func:`xspace.open_cdf`): what decoding moved into ``.encoding``
(the CDF data type, ``FILLVAL``, compression, record variance, attribute entry types) is used to
write the same CDF variables back; NaN/NaT become ``FILLVAL`` again and ``datetime64`` values are
encoded to their original time type (CDF_TIME_TT2000 by default). A Dataset built from scratch gets
the ISTP attributes a CDF needs (``VAR_TYPE``, ``FIELDNAM``, ``CATDESC``, ``UNITS``, ``FILLVAL``,
``DEPEND_i``/``LABL_PTR_i``, ``FORMAT``, ``DISPLAY_TYPE``, ``LABLAXIS``, ``VALIDMIN``/``VALIDMAX``) and
placeholders for the required global attributes. The bytes are produced by :mod:`cdflib`'s writer.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InputError, ISTPError

__all__ = ["to_cdf", "CDF_TYPE_CODES", "ISTP_FILLVAL", "REQUIRED_GLOBAL_ATTRIBUTES"]

CDF_TYPE_CODES = {
    "CDF_INT1": 1,
    "CDF_INT2": 2,
    "CDF_INT4": 4,
    "CDF_INT8": 8,
    "CDF_UINT1": 11,
    "CDF_UINT2": 12,
    "CDF_UINT4": 14,
    "CDF_REAL4": 21,
    "CDF_REAL8": 22,
    "CDF_EPOCH": 31,
    "CDF_EPOCH16": 32,
    "CDF_TIME_TT2000": 33,
    "CDF_BYTE": 41,
    "CDF_FLOAT": 44,
    "CDF_DOUBLE": 45,
    "CDF_CHAR": 51,
    "CDF_UCHAR": 52,
}
_TYPE_NAMES = {code: name for name, code in CDF_TYPE_CODES.items()}
TIME_TYPES = (31, 32, 33)
CHAR_TYPES = (51, 52)
# numpy type of each CDF type's raw values
_RAW_DTYPE = {
    1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64, 11: np.uint8, 12: np.uint16, 14: np.uint32,
    21: np.float32, 22: np.float64, 31: np.float64, 32: np.complex128, 33: np.int64, 41: np.int8,
    44: np.float32, 45: np.float64,
}
# the ISTP/IACG standard fill value of each CDF type
ISTP_FILLVAL = {
    1: -128, 2: -32768, 4: -2147483648, 8: -9223372036854775808, 11: 255, 12: 65535, 14: 4294967295,
    21: -1e31, 22: -1e31, 31: -1e31, 32: complex(-1e31, -1e31), 33: -9223372036854775808, 41: -128,
    44: -1e31, 45: -1e31, 51: " ", 52: " ",
}
REQUIRED_GLOBAL_ATTRIBUTES = (
    "Project", "Source_name", "Discipline", "Data_type", "Descriptor", "Data_version", "Logical_file_id",
    "PI_name", "PI_affiliation", "TEXT", "Instrument_type", "Mission_group", "Logical_source",
    "Logical_source_description",
)
# attributes whose entries take the variable's own data type (ISTP)
_SAME_TYPE_ATTRS = ("FILLVAL", "VALIDMIN", "VALIDMAX", "SCALEMIN", "SCALEMAX")
_COMPRESSIONS = (None, "gzip", "none")


# ----------------------------------------------------------------------------- time encoding
def _encode_times(values: np.ndarray, cdf_type: int) -> np.ndarray:
    """datetime64 → raw CDF time values (NaT → the type's fill value)."""
    from .. import time as xtime

    values = np.asarray(values, dtype="datetime64[ns]")
    if cdf_type == 33:
        return np.asarray(xtime.datetime64_to_tt2000(values), dtype=np.int64)
    if cdf_type == 31:
        return np.asarray(xtime.datetime64_to_epoch(values), dtype=np.float64)
    return np.asarray(xtime.datetime64_to_epoch16(values), dtype=np.complex128)


# ----------------------------------------------------------------------------- type guessing
def _type_for_dtype(dtype: np.dtype, where: str) -> int:
    kind, size = dtype.kind, dtype.itemsize
    if kind == "M":
        return 33
    if kind == "i":
        return {1: 1, 2: 2, 4: 4, 8: 8}[size]
    if kind == "u" and size <= 4:
        return {1: 11, 2: 12, 4: 14}[size]
    if kind == "f" and size <= 8:
        return 21 if size <= 4 else 22
    if kind in "US":
        return 51
    hint = {
        "b": "CDF has no boolean type: convert with .astype('int8')",
        "u": "CDF has no unsigned 64-bit type: convert to int64 or float64",
        "c": "CDF has no complex type: write real and imaginary parts as two variables",
        "m": "CDF has no duration type: convert to seconds (float64) and set UNITS",
        "O": "CDF cannot hold Python objects: convert to a numeric or string dtype",
    }.get(kind, "expected integer, float, string or datetime64 values")
    raise InputError(f"to_cdf: {where} has dtype {dtype}, which CDF cannot hold; {hint}")


def _entry_type(value: Any, where: str) -> int:
    """CDF type of an attribute entry with no recorded type."""
    if isinstance(value, (str, np.str_)):
        return 51
    if isinstance(value, (bool, np.bool_)):
        return 1
    if isinstance(value, np.datetime64):
        return 33
    if isinstance(value, (np.generic, np.ndarray)):
        return _type_for_dtype(np.asarray(value).dtype, where)
    if isinstance(value, int):
        return 4 if -(2**31) <= value < 2**31 else 8
    if isinstance(value, float):
        return 22
    if isinstance(value, (list, tuple)) and value:
        arr = np.asarray(value)
        if arr.dtype.kind in "iu" and all(isinstance(v, (int, np.integer)) for v in value):
            return 4 if arr.min() >= -(2**31) and arr.max() < 2**31 else 8
        return _type_for_dtype(arr.dtype, where)
    raise InputError(f"to_cdf: {where}: cannot store {value!r} ({type(value).__name__}) in a CDF attribute")


def _entry(value: Any, cdf_type: int, where: str, as_list: bool = False) -> Any:
    """An attribute entry in cdflib's ``[data, "CDF_TYPE"]`` form."""
    if value is None:
        raise InputError(f"to_cdf: {where} is None; CDF attributes cannot be empty (remove it or set a value)")
    name = _TYPE_NAMES[cdf_type]
    if cdf_type in CHAR_TYPES:
        if isinstance(value, (list, tuple, np.ndarray)):
            raise InputError(f"to_cdf: {where} is a sequence of strings; a CDF attribute entry holds one string")
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        return [text, name] if text else text  # cdflib writes "" as an empty CHAR entry
    arr = np.asarray(value)
    if cdf_type in TIME_TYPES:
        if arr.dtype.kind == "M":
            arr = _encode_times(arr, cdf_type)
        elif arr.dtype.kind in "US":
            arr = _encode_times(arr.astype("datetime64[ns]"), cdf_type)
    if arr.dtype.kind not in "iufc" and arr.dtype.kind != "b":
        raise InputError(f"to_cdf: {where}: cannot store {value!r} as {name}")
    raw = _RAW_DTYPE[cdf_type]
    if arr.dtype.kind == "f" and np.dtype(raw).kind in "iu":
        if np.any(arr != np.round(arr)):
            raise InputError(f"to_cdf: {where}: non-integer value {value!r} cannot be stored as {name}")
    with np.errstate(invalid="ignore", over="ignore"):
        cast = arr.astype(raw)
    if np.dtype(raw).kind in "iu" and np.any(cast.astype(np.float64) != arr.astype(np.float64)):
        raise InputError(f"to_cdf: {where}: value {value!r} is out of the range of {name}")
    if cast.ndim == 0 and not as_list:
        return [cast[()], name]
    return [cast.ravel().tolist(), name] if as_list or cast.ndim else [cast[()], name]


# ----------------------------------------------------------------------------- ISTP defaults
def _format_for(dtype: np.dtype, values: np.ndarray) -> str:
    if dtype.kind in "iu":
        width = max(len(str(np.iinfo(dtype).min)), len(str(np.iinfo(dtype).max)))
        return f"I{width}"
    if dtype.kind in "US":
        width = max(1, max((len(str(v)) for v in values.ravel()), default=1))
        return f"A{width}"
    if dtype.kind == "M":
        return "A30"
    return "E12.4" if dtype.itemsize <= 4 else "E16.8"


def _time_dims(ds: xr.Dataset) -> set:
    dims = {d for d in ds.dims if d in ds.coords and ds[d].dtype.kind == "M"}
    for var in ds.variables.values():
        dep = var.attrs.get("DEPEND_0")
        if isinstance(dep, str) and dep in ds.variables and ds[dep].ndim == 1:
            dims.add(ds[dep].dims[0])
    return dims


def _istp_defaults(ds: xr.Dataset, name: str, var: xr.Variable, record_varying: bool, cdf_type: int,
                   values: np.ndarray, referenced: set) -> dict:
    """ISTP attributes for a variable that did not come from a CDF (existing attributes win)."""
    attrs: dict = {}
    is_data = name in ds.data_vars
    if cdf_type in CHAR_TYPES:
        var_type = "metadata" if not is_data else "data"
    elif is_data and name not in referenced:
        var_type = "data"
    else:
        var_type = "support_data"
    attrs["VAR_TYPE"] = var_type
    attrs["FIELDNAM"] = str(var.attrs.get("long_name", name))[:30]
    attrs["CATDESC"] = str(var.attrs.get("description", var.attrs.get("long_name", name)))[:80]
    if cdf_type in TIME_TYPES:
        attrs["UNITS"] = "ns" if cdf_type == 33 else "ms"
        if cdf_type == 33:
            attrs.update(TIME_BASE="J2000", TIME_SCALE="Terrestrial Time", REFERENCE_POSITION="Rotating Earth Geoid")
        attrs["MONOTON"] = "INCREASE"
    elif cdf_type not in CHAR_TYPES:
        attrs["UNITS"] = str(var.attrs.get("units", " "))
    if cdf_type not in CHAR_TYPES or record_varying:
        attrs["FILLVAL"] = ISTP_FILLVAL[cdf_type]
    attrs["FORMAT"] = _format_for(var.dtype, values)
    if cdf_type not in CHAR_TYPES and values.size:
        if cdf_type in TIME_TYPES:
            good = values[~np.isnat(values)]
        else:
            good = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if good.size:
            lo, hi = good.min(), good.max()
            attrs["VALIDMIN"], attrs["VALIDMAX"] = lo, hi
            if var_type == "data":
                attrs["SCALEMIN"], attrs["SCALEMAX"] = lo, hi
    # DEPEND_i / LABL_PTR_i from the dimensions
    for i, dim in enumerate(var.dims):
        if record_varying and i == 0:
            if dim in ds.coords and dim != name:
                attrs["DEPEND_0"] = dim
            continue
        index = i if record_varying else i + 1
        if dim in ds.coords and dim != name:
            if ds[dim].dtype.kind in "US":
                attrs[f"LABL_PTR_{index}"] = dim
            else:
                attrs[f"DEPEND_{index}"] = dim
    if var_type == "data":
        n_dims = var.ndim - (1 if record_varying else 0)
        if n_dims == 0:
            display = "time_series"
        elif n_dims == 1 and "DEPEND_1" in attrs:
            display = "spectrogram"
        elif n_dims == 1:
            display = "time_series"
        else:
            display = "no_plot"
        attrs["DISPLAY_TYPE"] = display
        if "LABL_PTR_1" not in attrs:
            attrs["LABLAXIS"] = str(var.attrs.get("long_name", name))[:30]
    return attrs


def _global_defaults(ds: xr.Dataset, path: Path) -> dict:
    from .. import __version__

    present = dict(ds.attrs)
    placeholders = {
        "Project": "unknown",
        "Source_name": "unknown",
        "Discipline": "Space Physics",
        "Data_type": "unknown",
        "Descriptor": "unknown",
        "Data_version": "1",
        "Logical_file_id": path.stem,
        "PI_name": "unknown",
        "PI_affiliation": "unknown",
        "TEXT": "Written by xspace from a Dataset without ISTP global attributes",
        "Instrument_type": "unknown",
        "Mission_group": "unknown",
        "Logical_source": path.stem,
        "Logical_source_description": "unknown",
    }
    out = {k: v for k, v in placeholders.items() if k not in present}
    out.setdefault("Generated_by", f"xspace {__version__}")
    out.setdefault("Generation_date", _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d"))
    return {k: v for k, v in out.items() if k not in present}


# ----------------------------------------------------------------------------- data
def _raw_data(name: str, var: xr.Variable, cdf_type: int, fill: Any) -> np.ndarray:
    """The variable's values as raw CDF values (NaN/NaT → fill). Loads the data."""
    values = np.asarray(var.values)
    tname = _TYPE_NAMES[cdf_type]
    if cdf_type in CHAR_TYPES:
        if values.dtype.kind == "U":
            return np.char.encode(values, "utf-8")
        if values.dtype.kind == "S":
            return values
        if values.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in values.ravel()):
            return np.char.encode(values.astype(str), "utf-8")
        raise InputError(f"to_cdf: variable {name!r} has CDF type {tname} but dtype {values.dtype}")
    if cdf_type in TIME_TYPES and values.dtype.kind == "M":
        raw = _encode_times(values, cdf_type)
        if fill is not None and np.any(np.isnat(values)):
            raw = np.where(np.isnat(values), np.asarray(fill, dtype=raw.dtype), raw)
        return raw
    if values.dtype.kind not in ("iufbc" if cdf_type == 32 else "iufb"):
        raise InputError(f"to_cdf: variable {name!r} has dtype {values.dtype}, which cannot be written as {tname}")
    raw_dtype = np.dtype(_RAW_DTYPE[cdf_type])
    missing = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, dtype=bool)
    if missing.any() and fill is None and raw_dtype.kind in "iu":
        raise InputError(
            f"to_cdf: variable {name!r} has NaN values but is written as {tname} and has no FILLVAL; "
            "set .encoding['FILLVAL'] or write it as a float type"
        )
    good = values[~missing]
    if raw_dtype.kind in "iu":
        if good.dtype.kind == "f" and np.any(good != np.round(good)):
            raise InputError(f"to_cdf: variable {name!r} has non-integer values; it cannot be written as {tname}")
        info = np.iinfo(raw_dtype)
        if good.size and (good.min() < info.min or good.max() > info.max):
            raise InputError(
                f"to_cdf: variable {name!r} has values outside [{info.min}, {info.max}], the range of {tname}"
            )
    elif raw_dtype.kind == "f" and good.size:
        with np.errstate(over="ignore"):
            overflow = np.isinf(good.astype(raw_dtype)) & np.isfinite(good)
        if overflow.any():
            raise InputError(f"to_cdf: variable {name!r} has values too large for {tname}")
    if raw_dtype.kind in "iu" and missing.any():
        out = np.where(missing, 0, values).astype(raw_dtype)
    else:
        out = values.astype(raw_dtype)  # NaN stays NaN in a float variable without FILLVAL
    if fill is not None:
        try:
            with np.errstate(invalid="ignore", over="ignore"):
                fill_raw = np.asarray(fill).astype(raw_dtype)
            if raw_dtype.kind in "iu":
                representable = bool(np.asarray(fill_raw, dtype=np.float64) == np.asarray(fill, dtype=np.float64))
            else:  # a float fill is stored at the variable's precision (-1e31 as REAL4)
                representable = bool(np.all(np.isfinite(fill_raw)))
        except (OverflowError, ValueError, TypeError):
            representable = False
        if not representable:
            if missing.any():
                raise InputError(
                    f"to_cdf: variable {name!r} has missing values but its FILLVAL {fill!r} cannot be stored as {tname}"
                )
            return out
        clash = ~missing & (out == fill_raw)
        if clash.any():
            raise InputError(
                f"to_cdf: variable {name!r} has {int(clash.sum())} valid value(s) equal to its FILLVAL {fill!r}, "
                "which would read back as missing; set another FILLVAL (attrs or .encoding['FILLVAL'])"
            )
        out[missing] = fill_raw
    return out


def _records_to_keep(var: xr.Variable, enc: dict) -> int:
    """Number of records up to the last one that is not entirely missing (NaN/NaT when the values
    were fill-masked, or the pad value)."""
    values = np.asarray(var.values)
    flat = values.reshape(values.shape[0], -1)
    virtual = np.zeros(flat.shape, dtype=bool)
    if "FILLVAL" in enc and values.dtype.kind in "fM":
        virtual |= np.isnat(flat) if values.dtype.kind == "M" else np.isnan(flat)
    pad = enc.get("cdf_pad_value")
    if pad is not None and values.dtype.kind in "iuf" and np.ndim(pad) == 0:
        virtual |= flat == pad
    real = np.flatnonzero(~virtual.all(axis=1))
    return int(real[-1]) + 1 if real.size else 0


def _variable_data(name: str, var: xr.Variable, enc: dict, cdf_type: int, fill: Any, record_varying: bool,
                   trim: bool, majority: str) -> tuple[np.ndarray, int]:
    """Raw values of one variable as they go into the file, and the CDF number of elements."""
    var = xr.Variable(var.dims, np.asarray(var.values))  # a loaded copy; the Dataset is not changed
    if trim:
        # trailing virtual records (the reader pads a variable to its time base with fill or pad
        # values) are not written: the file keeps its record count, and reading pads them again
        keep = _records_to_keep(var, enc)
        if keep < var.shape[0]:
            var = var[:keep]
    raw = _raw_data(name, var, cdf_type, fill)
    num_elements = 1
    if cdf_type in CHAR_TYPES:
        num_elements = max(int(enc.get("cdf_num_elements") or 1), int(raw.dtype.itemsize), 1)
        raw = raw.astype(f"S{num_elements}")
    if majority == "column":
        raw = _column_major(raw, record_varying)
    return raw, num_elements


def _column_major(raw: np.ndarray, record_varying: bool) -> np.ndarray:
    """Reorder each record's values into column-major (Fortran) order."""
    lead = 1 if record_varying else 0
    if raw.ndim - lead < 2:
        return raw
    axes = list(range(lead)) + list(range(raw.ndim - 1, lead - 1, -1))
    return np.ascontiguousarray(raw.transpose(axes))


def _writer_class():
    """cdflib's writer, with EPOCH16 variable data kept as one complex value per (seconds, ps) pair.

    cdflib splits complex EPOCH16 data into a float array of (seconds, picoseconds) and then casts
    that to complex again, doubling the records; pairing the floats back up fixes it.
    """
    from cdflib.cdfwrite import CDF

    class _Writer(CDF):
        def _numpy_to_bytes(self, data_type, num_values, num_elems, indata):
            if data_type == 32 and np.asarray(indata).dtype.kind == "f":
                indata = np.ascontiguousarray(indata, dtype=np.float64).view(np.complex128)
            return super()._numpy_to_bytes(data_type, num_values, num_elems, indata)

    return _Writer


# ----------------------------------------------------------------------------- main entry point
def to_cdf(
    ds: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    compression: str | None = None,
    compression_level: int = 6,
    overwrite: bool = False,
    istp_defaults: bool | None = None,
) -> Path:
    """Write a Dataset to an ISTP CDF file.

    A Dataset read with :func:`xspace.open_cdf` is written back with its original CDF types,
    ``FILLVAL`` (NaN/NaT → ``FILLVAL``), attribute entry types, record variance, zero-record variables,
    majority and compression, all taken from ``.encoding``; attributes are written verbatim (so the
    ``DEPEND_i``/``LABL_PTR_i`` links survive). ``datetime64`` variables are encoded to their original
    time type, CDF_TIME_TT2000 when there is none. A Dataset built from scratch gets ISTP attributes
    (``VAR_TYPE``, ``FIELDNAM``, ``CATDESC``, ``UNITS``, ``FILLVAL`` (the ISTP standard value of the type),
    ``DEPEND_i``/``LABL_PTR_i`` from the dimensions, ``FORMAT``, ``DISPLAY_TYPE``, ``LABLAXIS``,
    ``VALIDMIN``/``VALIDMAX`` from the data range), placeholders ``"unknown"`` for the missing required
    global attributes and ``Generated_by``/``Generation_date``. Existing attributes are never replaced.

    The file is written to a temporary name in the same folder and moved into place when complete.
    This loads the data, one variable at a time (dask-backed variables are computed one by one).

    Parameters
    ----------
    ds : Dataset or DataArray
        What to write (a DataArray is written as a one-variable Dataset named after it, else ``"data"``).
    path : str or path-like
        Output file name (kept as given).
    compression : {None, "gzip", "none"}, default None
        None restores each variable's compression from its encoding (GZIP; other algorithms are
        written as GZIP too); ``"gzip"`` compresses every variable with ``compression_level``;
        ``"none"`` writes everything uncompressed.
    compression_level : int, default 6
        GZIP level 1–9 for ``compression="gzip"``.
    overwrite : bool, default False
        Replace ``path`` if it exists.
    istp_defaults : bool, optional
        Add the ISTP attributes described above. Default: only for variables that did not come from a
        CDF (no ``cdf_type`` in their encoding), and global placeholders only when the Dataset did not.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        If a variable or attribute holds something CDF cannot store (booleans, complex numbers,
        NaN in an integer variable without ``FILLVAL`` ...), naming it; if ``path`` exists and
        ``overwrite`` is False.
    ISTPError
        If an attribute name is used both as a global and as a variable attribute (one CDF attribute
        has one scope).

    Examples
    --------
    >>> import numpy as np, xarray as xr, cdflib
    >>> t = np.array(["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02"], "datetime64[ns]")
    >>> ds = xr.Dataset({"B": (("Epoch", "component"), [[1.0, 2, 3], [np.nan, 5, 6], [7, 8, 9]])},
    ...                 coords={"Epoch": t, "component": ["Bx", "By", "Bz"]})
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "example.cdf")
    >>> _ = to_cdf(ds, path)
    >>> cdf = cdflib.CDF(path)
    >>> cdf.varinq("Epoch").Data_Type_Description, cdf.varinq("B").Data_Type_Description
    ('CDF_TIME_TT2000', 'CDF_REAL8')
    >>> attrs = cdf.varattsget("B")
    >>> attrs["DEPEND_0"], attrs["LABL_PTR_1"], attrs["VAR_TYPE"], float(attrs["FILLVAL"])
    ('Epoch', 'component', 'data', -1e+31)
    >>> cdf.varget("B")[1].tolist()
    [-1e+31, 5.0, 6.0]
    >>> os.remove(path)
    """
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name if ds.name is not None else "data")
    if not isinstance(ds, xr.Dataset):
        raise InputError(f"to_cdf: argument 'ds' must be an xarray Dataset or DataArray, got {type(ds).__name__}")
    if compression not in _COMPRESSIONS:
        raise InputError(f"to_cdf: argument 'compression' must be one of {_COMPRESSIONS}, got {compression!r}")
    if not (isinstance(compression_level, (int, np.integer)) and 1 <= compression_level <= 9):
        raise InputError(f"to_cdf: argument 'compression_level' must be an integer 1-9, got {compression_level!r}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"to_cdf: {path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise InputError(f"to_cdf: folder {path.parent} does not exist")

    from_cdf = any(k.startswith("cdf_") for k in ds.encoding) or any(
        "cdf_type" in v.encoding for v in ds.variables.values()
    )
    global_defaults = (not from_cdf) if istp_defaults is None else istp_defaults
    time_dims = _time_dims(ds)
    # a dimension without coordinate cannot be named in a CDF: give it a label variable
    # (VAR_TYPE metadata, "<dim> <i>"), pointed to by LABL_PTR_i, so its name survives
    labels = {}
    for name, var in ds.data_vars.items():
        wants = ("cdf_type" not in var.encoding) if istp_defaults is None else istp_defaults
        for i, dim in enumerate(var.dims):
            if wants and dim not in ds.variables and not (i == 0 and dim in time_dims) and isinstance(dim, str):
                labels[dim] = (dim, np.array([f"{dim} {k}" for k in range(ds.sizes[dim])]))
    if labels:
        ds = ds.assign_coords(labels)
    referenced = set()
    for var in ds.variables.values():
        for key, value in var.attrs.items():
            if isinstance(value, str) and (key.startswith(("DEPEND_", "LABL_PTR_", "DELTA_")) or key.endswith("_PTR")):
                referenced.add(value)

    # ---- variable specifications, data and attributes (validated before anything is written)
    specs = []
    majority = str(ds.encoding.get("cdf_majority", "row")).lower()
    if majority not in ("row", "column"):
        raise InputError(f"to_cdf: ds.encoding['cdf_majority'] must be 'row' or 'column', got {majority!r}")
    for name, var in ds.variables.items():
        if not isinstance(name, str) or not name or len(name) > 256:
            raise InputError(f"to_cdf: variable name {name!r} is not valid in CDF (a string of 1-256 characters)")
        enc = var.encoding
        cdf_type = enc.get("cdf_type")
        if cdf_type is None:
            cdf_type = _type_for_dtype(var.dtype, f"variable {name!r}")
        cdf_type = int(cdf_type)
        if cdf_type not in _TYPE_NAMES:
            raise InputError(f"to_cdf: variable {name!r}: unknown CDF type code {cdf_type}")
        record_varying = enc.get("record_varying")
        if record_varying is None:
            record_varying = var.ndim > 0 and var.dims[0] in time_dims
        record_varying = bool(record_varying)
        if record_varying and var.ndim == 0:
            raise InputError(f"to_cdf: variable {name!r} is marked record-varying but has no dimension")
        dim_sizes = list(var.shape[1:] if record_varying else var.shape)
        if len(dim_sizes) > 10 or any(s == 0 for s in dim_sizes):
            raise InputError(
                f"to_cdf: variable {name!r} has shape {var.shape}; CDF variables have at most 10 dimensions, "
                "none of size 0 (only the record dimension may be empty)"
            )
        if cdf_type == 32 and len(dim_sizes) > 0:
            raise InputError(
                f"to_cdf: variable {name!r}: CDF_EPOCH16 variables with dimensions are not supported; "
                "write them as CDF_TIME_TT2000 (set .encoding['cdf_type'] = 33)"
            )
        fill = enc.get("FILLVAL")
        add_defaults = ("cdf_type" not in enc) if istp_defaults is None else istp_defaults
        raw_fill = fill
        values = None
        attrs = dict(var.attrs)
        attr_types = dict(enc.get("cdf_attribute_types") or {})
        if add_defaults:
            values = np.asarray(var.values)
            defaults = _istp_defaults(ds, name, var, record_varying, cdf_type, values, referenced)
            attrs = {**defaults, **attrs}
            if fill is None and "FILLVAL" in defaults and "FILLVAL" not in var.attrs:
                raw_fill = defaults["FILLVAL"]
        elif fill is None and "FILLVAL" in attrs and cdf_type in TIME_TYPES and var.dtype.kind == "M":
            raw_fill = None  # a decoded FILLVAL attribute: NaT is encoded by the time conversion
        if fill is not None:
            attrs["FILLVAL"] = fill
        if raw_fill is not None and cdf_type in TIME_TYPES and isinstance(raw_fill, np.datetime64):
            raw_fill = _encode_times(np.asarray([raw_fill]), cdf_type)[0]
        trim = bool(record_varying and var.shape[0] and name != var.dims[0] and var.dims[0] in ds.variables)
        job = (name, var, enc, cdf_type, raw_fill, record_varying, trim)
        if compression == "gzip":
            level = int(compression_level)
        elif compression == "none":
            level = 0
        else:
            level = int(enc.get("cdf_compression_level") or 6) if enc.get("cdf_compression") else 0
        # attribute entries
        entries = {}
        for key, value in attrs.items():
            where = f"attribute {key!r} of variable {name!r}"
            if not isinstance(key, str) or not key or len(key) > 256:
                raise InputError(
                    f"to_cdf: variable {name!r} has an attribute named {key!r}; names must be strings of 1-256 characters"
                )
            atype = attr_types.get(key)
            if atype is None:
                if key in _SAME_TYPE_ATTRS and not isinstance(value, (str, np.str_)):
                    atype = cdf_type
                elif isinstance(value, np.datetime64) and cdf_type in TIME_TYPES:
                    atype = cdf_type
                else:
                    atype = _entry_type(value, where)
            entries[key] = _entry(value, int(atype), where)
        spec = {
            "Variable": name,
            "Data_Type": cdf_type,
            "Num_Elements": 1,
            "Rec_Vary": record_varying,
            "Dim_Sizes": dim_sizes,
            "Var_Type": "zVariable",
            "Compress": level,
        }
        if enc.get("cdf_zvariable") is False and enc.get("cdf_dims") is not None:
            # an rVariable: the reader dropped its non-varying dimensions, the file keeps them
            rdims = [int(n) for n in enc["cdf_dims"]]
            varys = [bool(x) for x in (enc.get("cdf_dim_variances") or [True] * len(rdims))]
            if len(varys) == len(rdims) and [n for n, vary in zip(rdims, varys) if vary] == dim_sizes:
                spec.update(Var_Type="rVariable", Dim_Vary=[-1 if vary else 0 for vary in varys], rdims=rdims)
        specs.append((spec, entries, job))

    # rVariables share the file's rDim sizes: keep them only if they agree, else write zVariables
    r_shapes = {tuple(spec["rdims"]) for spec, _, _ in specs if spec["Var_Type"] == "rVariable"}
    for spec, _, _ in specs:
        rdims = spec.pop("rdims", None)
        if len(r_shapes) > 1 and rdims is not None:
            spec["Var_Type"] = "zVariable"
            spec.pop("Dim_Vary")

    # ---- global attributes
    gattrs = dict(ds.attrs)
    if global_defaults:
        gattrs.update(_global_defaults(ds, path))
    gtypes = ds.encoding.get("cdf_global_attribute_types") or {}
    global_entries = {}
    variable_attr_names = {k for _, entries, _ in specs for k in entries}
    for key, value in gattrs.items():
        if not isinstance(key, str) or not key or len(key) > 256:
            raise InputError(f"to_cdf: global attribute name {key!r} is not valid (a string of 1-256 characters)")
        if key in variable_attr_names:
            users = [s["Variable"] for s, e, _ in specs if key in e]
            raise ISTPError(
                f"to_cdf: attribute {key!r} is both a global attribute and an attribute of variable(s) {users[:5]}; "
                "a CDF attribute has a single scope: rename one of them"
            )
        values = value if isinstance(value, list) else [value]
        types = list(gtypes.get(key, []))
        entry_map = {}
        for i, item in enumerate(values):
            where = f"global attribute {key!r} entry {i}"
            atype = types[i] if i < len(types) and types[i] is not None else _entry_type(item, where)
            entry_map[i] = _entry(item, int(atype), where, as_list=int(atype) not in CHAR_TYPES)
        global_entries[key] = entry_map

    # ---- write to a temporary file, then move it into place
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".cdf", dir=path.parent)
    os.close(fd)
    os.remove(tmp_name)
    tmp = Path(tmp_name)
    whole_file = 0
    if compression is None and str(ds.encoding.get("cdf_compression") or "none").lower() not in ("none", "no", "false"):
        whole_file = int(ds.encoding.get("cdf_compression_level") or 6)
    cdf_spec = {"Majority": f"{majority}_major", "Compressed": whole_file}
    if len(r_shapes) == 1:
        cdf_spec["rDim_sizes"] = list(next(iter(r_shapes)))
    try:
        writer = _writer_class()(str(tmp), cdf_spec=cdf_spec)
        try:
            if global_entries:
                writer.write_globalattrs(global_entries)
            for spec, entries, job in specs:
                # one variable in memory at a time
                raw, spec["Num_Elements"] = _variable_data(*job, majority=majority)
                # CHAR data go as bytes: cdflib would str() the elements of an "S" array
                data = raw.tobytes() if spec["Data_Type"] in CHAR_TYPES else raw
                writer.write_var(spec, var_attrs=entries or None, var_data=data)
        finally:
            writer.close()
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_suffix(".tmp")):
            if leftover.exists():
                leftover.unlink()
    return path
