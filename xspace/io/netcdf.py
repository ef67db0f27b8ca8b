"""netCDF4/HDF5 files: write ISTP datasets to netCDF4 and read netCDF4/HDF5 files back.

netCDF attributes hold only strings and 1-D arrays of numbers, so ISTP datasets (with ``datetime64``
attribute entries, multi-entry global attributes, CDF encodings ...) cannot be written as they are.
:func:`to_netcdf` encodes every attribute netCDF cannot hold *reversibly* as a string starting with
``"xspace-json:"`` followed by a typed JSON document, and stores the CDF-specific encoding of each
variable (``FILLVAL``, CDF type, compression ...) in an ``_xspace_encoding`` attribute. :func:`open_netcdf`
undoes both, so ``open_netcdf(to_netcdf(ds))`` gives back the same Dataset, and a later
:func:`xspace.to_cdf` restores the original CDF types.

:func:`open_netcdf` also opens arbitrary netCDF4/HDF5 files (it is :func:`xarray.open_dataset` with this
decoding): plain HDF5 files without dimension scales get their subgroups flattened into the Dataset
(``group_name`` prefixes) and a variable of ISO-8601 time strings becomes a ``datetime64[ns]`` dimension
coordinate.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FileFormatError, InputError

__all__ = ["to_netcdf", "open_netcdf", "encode_attribute", "decode_attribute"]

JSON_PREFIX = "xspace-json:"
ENCODING_ATTR = "_xspace_encoding"
MARKER_ATTR = "_xspace_netcdf"
# attribute names xarray/netCDF interpret themselves: an ISTP attribute of that name is stored escaped
_RESERVED = {
    "_FillValue",
    "missing_value",
    "scale_factor",
    "add_offset",
    "units",
    "calendar",
    "coordinates",
    "_Unsigned",
    "_Encoding",
    "dtype",
    "compress",
    "bounds",
    "grid_mapping",
    "formula_terms",
    "cell_measures",
    "ancillary_variables",
}
_ESCAPE = "_xspace_attr:"
# encoding keys that belong to the CDF side (kept in _xspace_encoding, removed before xarray writes)
_CDF_ENCODING_KEYS = ("FILLVAL", "cdf_dtype", "cdf_compression", "cdf_compression_level", "record_varying")
# encoding keys of netCDF that may be kept when writing
_NETCDF_ENCODING_KEYS = ("zlib", "complevel", "shuffle", "chunksizes", "fletcher32", "contiguous")
_ISO_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d*)?)?)?Z?\s*$")


# ----------------------------------------------------------------------------- attribute codec
def _to_json(value: Any) -> Any:
    """A JSON-able, type-tagged form of ``value`` (inverse: :func:`_from_json`)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            unit = np.datetime_data(value.dtype)[0]
            return {"t": "datetime64", "u": unit, "v": None if np.isnat(value) else str(value)}
        if isinstance(value, np.timedelta64):
            unit = np.datetime_data(value.dtype)[0]
            return {"t": "timedelta64", "u": unit, "v": None if np.isnat(value) else int(value.astype(np.int64))}
        if isinstance(value, (np.str_, np.bytes_)):
            return {"t": "npstr", "d": value.dtype.str, "v": value.item() if isinstance(value, np.str_) else value.decode("latin-1")}
        if isinstance(value, np.complexfloating):
            return {"t": "np", "d": value.dtype.str, "v": [float(value.real), float(value.imag)]}
        return {"t": "np", "d": value.dtype.str, "v": value.item()}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, bytes):
        return {"t": "bytes", "v": value.decode("latin-1")}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "MmSUO" or value.dtype.kind == "c":
            return {"t": "ndo", "d": value.dtype.str, "s": list(value.shape), "v": [_to_json(v) for v in value.ravel()]}
        return {"t": "nd", "d": value.dtype.str, "s": list(value.shape), "v": value.ravel().tolist()}
    if isinstance(value, np.dtype):
        return {"t": "dtype", "v": value.str if value.names is None else str(value)}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [_to_json(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    raise InputError(f"cannot encode attribute value {value!r} of type {type(value).__name__} for netCDF")


def _from_json(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj["t"]
    if kind == "datetime64":
        return np.datetime64("NaT" if obj["v"] is None else obj["v"], obj["u"])
    if kind == "timedelta64":
        return np.timedelta64("NaT" if obj["v"] is None else obj["v"], obj["u"])
    if kind == "npstr":
        dtype = np.dtype(obj["d"])
        return dtype.type(obj["v"] if dtype.kind == "U" else obj["v"].encode("latin-1"))
    if kind == "np":
        dtype = np.dtype(obj["d"])
        if dtype.kind == "c":
            return dtype.type(complex(*obj["v"]))
        return dtype.type(obj["v"])
    if kind == "bytes":
        return obj["v"].encode("latin-1")
    if kind == "nd":
        return np.array(obj["v"], dtype=obj["d"]).reshape(obj["s"])
    if kind == "ndo":
        items = [_from_json(v) for v in obj["v"]]
        dtype = np.dtype(obj["d"])
        if dtype.kind == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(obj["s"])
        return np.array(items, dtype=dtype).reshape(obj["s"])
    if kind == "dtype":
        return np.dtype(obj["v"])
    if kind == "tuple":
        return tuple(_from_json(v) for v in obj["v"])
    if kind == "dict":
        return {_from_json(k): _from_json(v) for k, v in obj["v"]}
    raise FileFormatError(f"unknown xspace-json attribute tag {kind!r}")


def _netcdf_native(value: Any) -> bool:
    """True when netCDF4 stores ``value`` and gives back an equal value of the same kind."""
    if isinstance(value, str) and not isinstance(value, np.str_):
        return not value.startswith((JSON_PREFIX,))
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.generic):
        return value.dtype.kind in "iuf" and value.dtype.itemsize >= 1 and value.dtype != np.float16
    if isinstance(value, (int, float)):
        return isinstance(value, float) or -(2**63) <= value < 2**63
    if isinstance(value, np.ndarray):
        # a 1-element array would come back as a scalar
        return value.ndim == 1 and value.size > 1 and value.dtype.kind in "iuf" and value.dtype != np.float16
    return False


def encode_attribute(value: Any) -> Any:
    """Return ``value`` itself if netCDF can hold it, else a ``"xspace-json:..."`` string.

    Examples
    --------
    >>> import numpy as np
    >>> encode_attribute("nT")
    'nT'
    >>> encode_attribute(np.datetime64("2020-01-01T00:00:00", "ns"))
    'xspace-json:{"t": "datetime64", "u": "ns", "v": "2020-01-01T00:00:00.000000000"}'
    >>> decode_attribute(encode_attribute([1, "a", None]))
    [1, 'a', None]
    """
    if _netcdf_native(value):
        return value
    return JSON_PREFIX + json.dumps(_to_json(value))


def decode_attribute(value: Any) -> Any:
    """Inverse of :func:`encode_attribute` (values without the prefix are returned unchanged).

    Examples
    --------
    >>> decode_attribute('xspace-json:{"t": "np", "d": "<f4", "v": 1.5}')
    np.float32(1.5)
    >>> decode_attribute("nT")
    'nT'
    """
    if isinstance(value, str) and value.startswith(JSON_PREFIX):
        try:
            return _from_json(json.loads(value[len(JSON_PREFIX) :]))
        except (ValueError, KeyError, TypeError) as exc:
            raise FileFormatError(f"attribute value {value[:80]!r} is not a valid xspace-json encoding: {exc}") from exc
    return value


def _encode_attrs(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        key = str(key)
        name = _ESCAPE + key if key in _RESERVED or key.startswith(_ESCAPE) or key in (ENCODING_ATTR, MARKER_ATTR) else key
        out[name] = encode_attribute(value)
    return out


def _decode_attrs(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if key in (ENCODING_ATTR, MARKER_ATTR):
            continue
        if key.startswith(_ESCAPE):
            key = key[len(_ESCAPE) :]
        out[key] = decode_attribute(value)
    return out


# ----------------------------------------------------------------------------- writing
def _cdf_encoding(encoding: dict) -> dict:
    return {k: v for k, v in encoding.items() if k in _CDF_ENCODING_KEYS or str(k).startswith("cdf_")}


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise InputError(
            f"to_netcdf: {what} name {name!r} cannot be stored in netCDF (expected a non-empty string without '/')"
        )


def _prepare(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset that xarray writes: attributes encoded, CDF encodings moved into attributes."""
    for dim in ds.dims:
        _check_name(dim, "dimension")
    variables = {}
    for name, var in ds.variables.items():
        _check_name(name, "variable")
        attrs = _encode_attrs(var.attrs)
        cdf_enc = _cdf_encoding(var.encoding)
        if var.dtype.kind in "US":
            cdf_enc["_xspace_dtype"] = var.dtype
        if cdf_enc:
            attrs[ENCODING_ATTR] = JSON_PREFIX + json.dumps(_to_json(cdf_enc))
        encoding = {k: v for k, v in var.encoding.items() if k in _NETCDF_ENCODING_KEYS}
        chunks = encoding.get("chunksizes")
        if chunks is not None and (len(chunks) != var.ndim or any(c > max(s, 1) for c, s in zip(chunks, var.shape))):
            encoding.pop("chunksizes")  # left over from a file the data was sliced from
        if var.dtype.kind == "M" and var.encoding.get("units") and var.encoding.get("cdf_type") is None:
            encoding.update({k: var.encoding[k] for k in ("units", "calendar") if k in var.encoding})
        if var.dtype.kind == "M":
            encoding["units"] = encoding.get("units", "nanoseconds since 2000-01-01")
            encoding["dtype"] = np.dtype("int64")
        if var.dtype.kind == "U":
            encoding["dtype"] = str
        if var.dtype == bool:
            raise InputError(f"to_netcdf: variable {name!r} has dtype bool; convert it to int8 or uint8 first")
        variables[name] = xr.Variable(var.dims, var.data, attrs, encoding=encoding)
    out = xr.Dataset(variables, attrs={})
    out = out.set_coords([n for n in ds.coords])
    gattrs = _encode_attrs(ds.attrs)
    genc = {k: v for k, v in ds.encoding.items() if str(k).startswith("cdf_")}
    if genc:
        gattrs[ENCODING_ATTR] = JSON_PREFIX + json.dumps(_to_json(genc))
    gattrs[MARKER_ATTR] = "1"
    out.attrs = gattrs
    return out


def to_netcdf(ds: xr.Dataset | xr.DataArray, path: str | os.PathLike, *, overwrite: bool = True, **kwargs) -> Path:
    """Write a Dataset (e.g. an ISTP CDF opened with :func:`xspace.open_cdf`) to a netCDF4/HDF5 file.

    Attributes netCDF cannot hold (``datetime64`` entries, lists, bools, ``None`` ...) are encoded as
    ``"xspace-json:..."`` strings; each variable's CDF encoding (``FILLVAL``, ``cdf_type`` ...) goes to
    an ``_xspace_encoding`` attribute; ISTP attributes whose names netCDF interprets (``units``,
    ``_FillValue`` ...) are stored as ``_xspace_attr:<name>``. :func:`open_netcdf` undoes all of this.
    The file is written to a temporary name in the same folder and moved into place. Dask-backed data
    is computed chunk by chunk while writing.

    Parameters
    ----------
    ds : Dataset or DataArray
        What to write (a DataArray is written as a one-variable Dataset named after it, else ``"data"``).
    path : str or path-like
        Output file.
    overwrite : bool, default True
        If False, refuse to replace an existing file.
    **kwargs
        Passed to :meth:`xarray.Dataset.to_netcdf` (e.g. ``encoding={"B": {"zlib": True}}``).

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xspace
    >>> t = np.array(["2020-01-01T00:00", "2020-01-01T00:01"], "datetime64[ns]")
    >>> ds = xr.Dataset({"B": ("Epoch", [1.0, np.nan], {"UNITS": "nT", "VALIDMIN": np.float32(-100.0),
    ...                                                  "TEXT": ["line 1", "line 2"]})},
    ...                 coords={"Epoch": ("Epoch", t, {"VALIDMIN": t[0]})})
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "example.nc")
    >>> _ = to_netcdf(ds, path)
    >>> back = xspace.open_netcdf(path)
    >>> back.B.attrs["TEXT"], back.Epoch.attrs["VALIDMIN"] == t[0], back.identical(ds)
    (['line 1', 'line 2'], np.True_, True)
    >>> os.remove(path)
    """
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name if ds.name is not None else "data")
    if not isinstance(ds, xr.Dataset):
        raise InputError(f"to_netcdf: argument 'ds' must be an xarray Dataset or DataArray, got {type(ds).__name__}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"to_netcdf: {path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise InputError(f"to_netcdf: folder {path.parent} does not exist")
    prepared = _prepare(ds)
    kwargs.setdefault("format", "NETCDF4")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        prepared.to_netcdf(tmp, mode="w", **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# ----------------------------------------------------------------------------- reading
def _restore_xspace(ds: xr.Dataset) -> xr.Dataset:
    """Decode a file written by :func:`to_netcdf`."""
    variables = {}
    for name, var in ds.variables.items():
        raw_enc = var.attrs.get(ENCODING_ATTR)
        attrs = _decode_attrs(var.attrs)
        encoding = dict(var.encoding)
        data = var.data
        if raw_enc is not None:
            cdf_enc = decode_attribute(raw_enc)
            text_dtype = cdf_enc.pop("_xspace_dtype", None)
            if text_dtype is not None and var.dtype != text_dtype:
                data = np.asarray(var.values, dtype=text_dtype)  # text variables are small: load them
            # the raw (CDF) dtype replaces netCDF's: to_cdf needs it, and to_netcdf drops it again
            encoding.update(cdf_enc)
        variables[name] = xr.Variable(var.dims, data, attrs, encoding=encoding)
    out = xr.Dataset(variables).set_coords(list(ds.coords))
    out.attrs = _decode_attrs(ds.attrs)
    out.encoding = dict(ds.encoding)
    if ENCODING_ATTR in ds.attrs:
        out.encoding.update(decode_attribute(ds.attrs[ENCODING_ATTR]))
    return out


def _iso_times(values: np.ndarray) -> np.ndarray | None:
    """``values`` (strings/bytes) as datetime64[ns] if every non-empty one is an ISO-8601 time, else None."""
    import pandas as pd

    flat = values.ravel()
    if flat.size == 0:
        return None
    texts = [v.decode("ascii", "replace") if isinstance(v, bytes) else str(v) for v in flat]
    if not all(_ISO_TIME.match(t) for t in texts if t.strip()):
        return None
    cleaned = [t.strip().rstrip("Z") if t.strip() else "NaT" for t in texts]
    try:
        times = pd.to_datetime(cleaned, format="ISO8601")
    except (ValueError, TypeError):
        return None
    return np.asarray(times.values, dtype="datetime64[ns]").reshape(values.shape)


def _groups(path: Path) -> list[str]:
    import netCDF4

    found: list[str] = []

    def walk(group, prefix):
        for name, sub in group.groups.items():
            full = f"{prefix}/{name}"
            found.append(full)
            walk(sub, full)

    with netCDF4.Dataset(path) as nc:
        walk(nc, "")
    return found


def _decode_plain(ds: xr.Dataset) -> xr.Dataset:
    """ISO time-string variables of a foreign file → datetime64 dimension coordinates."""
    for name in list(ds.variables):
        var = ds[name]
        if var.ndim != 1 or var.dtype.kind not in "SUO" or name in ds.dims:
            continue
        times = _iso_times(var.values)
        if times is None:
            continue
        dim = var.dims[0]
        ds = ds.assign({name: (dim, times, var.attrs)})
        ds[name].encoding.update(var.encoding)
        ds = ds.set_coords(name)
        if dim not in ds.coords:  # the time strings label their axis: make them its coordinate
            ds = ds.swap_dims({dim: name})
    return ds


def _merge_group(root: xr.Dataset, sub: xr.Dataset, group: str) -> xr.Dataset:
    prefix = group.strip("/").replace("/", "_")
    renames: dict = {}
    for dim, size in sub.sizes.items():
        if str(dim).startswith("phony_dim"):
            same = [d for d, s in root.sizes.items() if s == size]
            # HDF5 without dimension scales: netCDF itself shares phony dimensions by size
            renames[dim] = same[0] if len(same) == 1 else f"{prefix}_{dim}"
    sub = sub.rename_dims(renames) if renames else sub
    sub = sub.rename_vars({v: f"{prefix}_{v}" for v in sub.variables if v not in sub.dims})
    for name, var in sub.variables.items():
        if name in root.variables:
            raise FileFormatError(f"group {group!r}: flattened variable name {name!r} collides with another variable")
        var = var.copy(deep=False)
        var.encoding["group"] = group
        root[name] = var
    return root


def open_netcdf(
    path: str | os.PathLike,
    *,
    group: str | None = None,
    flatten_groups: bool = True,
    decode_iso_times: bool = True,
    **kwargs,
) -> xr.Dataset:
    """Open a netCDF4/HDF5 file as an xarray Dataset (lazily), undoing :func:`to_netcdf`'s encodings.

    Files written by :func:`to_netcdf` come back with the original attributes (``datetime64`` entries,
    lists ...) and CDF encodings. Other files are opened with :func:`xarray.open_dataset`; in addition,
    when the file has sub-groups (and ``group`` is not given) their variables are added as
    ``<group>_<name>`` (phony HDF5 dimensions matched by size, as netCDF does), and a 1-D variable of
    ISO-8601 strings becomes a ``datetime64[ns]`` coordinate and the dimension of its axis (this loads
    that one variable).

    Parameters
    ----------
    path : str or path-like
        netCDF4 or HDF5 file.
    group : str, optional
        Open only this group (as :func:`xarray.open_dataset` does).
    flatten_groups : bool, default True
        Add the variables of sub-groups to the Dataset.
    decode_iso_times : bool, default True
        Convert ISO-8601 string variables of foreign files to ``datetime64[ns]``.
    **kwargs
        Passed to :func:`xarray.open_dataset` (e.g. ``chunks={}`` for dask arrays).

    Raises
    ------
    FileFormatError
        If the file does not exist or is not netCDF/HDF5.

    Examples
    --------
    >>> import xspace
    >>> from xspace.data import get_path
    >>> qd = xspace.open_netcdf(get_path("qindenton_hourly_1999-2001.h5"))
    >>> qd.sizes["UTC"], str(qd.UTC.values[0]), float(qd.Dst[0])
    (20002, '1999-07-01T14:00:00.000000000', 3.0)
    >>> "Qbits_Kp" in qd or "Qbits_velo" in qd
    True
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"open_netcdf: no such file {path}")
    kwargs.setdefault("engine", "netcdf4")
    # dimension names change while decoding (phony HDF5 dims, time axes): chunk at the end
    chunks = kwargs.pop("chunks", None)
    try:
        ds = xr.open_dataset(path, group=group, **kwargs)
    except OSError as exc:
        raise FileFormatError(f"open_netcdf: {path} is not a readable netCDF4/HDF5 file ({exc})") from exc
    if ds.attrs.get(MARKER_ATTR) is not None:
        out = _restore_xspace(ds)
        out.encoding["source"] = str(path)
        return out if chunks is None else out.chunk(chunks)
    if decode_iso_times:
        ds = _decode_plain(ds)
    if flatten_groups and group is None:
        for sub_name in _groups(path):
            sub = xr.open_dataset(path, group=sub_name, **kwargs)
            if decode_iso_times:
                sub = _decode_plain(sub)
            ds = _merge_group(ds, sub, sub_name)
    ds.encoding["source"] = str(path)
    return ds if chunks is None else ds.chunk(chunks)
