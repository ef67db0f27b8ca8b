"""The CDF engine: ``xr.open_dataset(path, engine="cdf")`` and :func:`open_cdf`.

ISTP structure comes from the attributes, never from shapes:

* ``VAR_TYPE`` decides the role: ``data`` variables become data variables, everything else
  (``support_data``, ``metadata``) becomes a coordinate; ``ignore_data`` is dropped unless
  ``include_ignore_data=True``. A file without any ``VAR_TYPE`` (not ISTP) makes every variable that
  no other variable references a data variable.
* Dimension names: the record dimension is named after ``DEPEND_0`` (a time variable names its own
  record dimension, so a file with several time bases, like HOPE's ``Epoch_Ion`` and ``Epoch_Ele``,
  gets several time dimensions); dimension ``i`` is named after ``DEPEND_i`` when that is a 1-D
  variable of the right size, after the last dimension of ``DEPEND_i`` when that is a 2-D
  coordinate (record-varying, e.g. HOPE's time-dependent energy table ``HOPE_ENERGY_Ion`` gives
  ``HOPE_ENERGY_Ion_dim1``; or a non-record-varying 2-D table), else after ``LABL_PTR_i``, else
  ``<var>_dim<i>``. Dimensions are never shared just because sizes match: a coordinate referenced by
  a variable takes that variable's dimension names.
* Values: ``FILLVAL`` → NaN (integers promoted to float64, REAL4 stays float32; compared at the
  FILLVAL's own precision) and NaT for times; ``VALIDMIN``/``VALIDMAX`` masking on request;
  CDF_EPOCH, CDF_EPOCH16 and CDF_TIME_TT2000 → ``datetime64[ns]`` UTC (see :mod:`xspace.time`).
  What decoding removed goes to ``.encoding``: ``FILLVAL``, ``cdf_type``, ``dtype``,
  ``compression``, ``record_varying`` ... so :func:`xspace.to_cdf` restores it.
* Records beyond a variable's last written record, where another variable of the same time base has
  more, read as fill (the CDF library's virtual records).

Nothing but metadata is read at open: data is read by record range on access (see
:mod:`xspace.io._cdf`).
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np
import xarray as xr
from xarray.backends import BackendEntrypoint
from xarray.core import indexing

from ..errors import CDFFormatError, InputError
from . import _cdf
from ._cdfarray import CDFVariableArray, Decoder, cdf_file

__all__ = ["open_cdf", "CDFBackendEntrypoint"]

_LINK_ATTRS_PREFIX = ("DEPEND_", "LABL_PTR_")
_DELTA_ATTRS = ("DELTA_PLUS_VAR", "DELTA_MINUS_VAR")


def _str_attr(attrs: dict, key: str) -> str | None:
    value = attrs.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


class _Layout:
    """Roles and dimension names of every variable of a parsed file."""

    def __init__(self, f: _cdf.CDFFile, include_ignore_data: bool):
        self.f = f
        self.vars = f.variables
        self.depend0_targets = {
            _str_attr(v.attrs, "DEPEND_0") for v in self.vars.values() if v.record_varying
        } - {None}
        self.referenced: set[str] = set()
        for v in self.vars.values():
            for key in v.attrs:
                if key.startswith(_LINK_ATTRS_PREFIX) or key in _DELTA_ATTRS:
                    target = _str_attr(v.attrs, key)
                    if target in self.vars and target != v.name:
                        self.referenced.add(target)
        any_var_type = any("VAR_TYPE" in v.attrs for v in self.vars.values())
        self.role: dict[str, str] = {}
        for name, v in self.vars.items():
            vt = (_str_attr(v.attrs, "VAR_TYPE") or "").lower()
            if vt == "ignore_data" and not include_ignore_data:
                self.role[name] = "drop"
            elif vt == "data" or (not any_var_type and name not in self.referenced):
                self.role[name] = "data"
            elif vt == "ignore_data":
                self.role[name] = "data"
            else:
                self.role[name] = "coord"
        self.dims: dict[str, list[str]] = {}
        for name in self.vars:
            self.dims[name] = self._own_dims(name, depth=0)
        self._align()

    # -- naming from a variable's own attributes
    def _record_dim(self, v: _cdf.VariableInfo) -> str:
        dep0 = _str_attr(v.attrs, "DEPEND_0")
        if dep0 and dep0 != v.name and dep0 in self.vars:
            t = self.vars[dep0]
            if t.record_varying and t.shape == ():
                return dep0
        if v.name in self.depend0_targets or (v.cdf_type in _cdf.TIME_TYPES and v.shape == ()):
            return v.name
        return f"{v.name}_dim0"

    def _axis_name(self, v: _cdf.VariableInfo, i: int, depth: int) -> str:
        """Name of CDF dimension i (1-based) of v."""
        size = v.shape[i - 1]
        dep = _str_attr(v.attrs, f"DEPEND_{i}")
        if dep and dep != v.name and dep in self.vars and depth < 4:
            d = self.vars[dep]
            if not d.record_varying and d.shape == (size,):
                return dep
            if len(d.shape) >= 1 and d.shape[-1] == size and (d.record_varying or len(d.shape) >= 2):
                return self._own_dims(dep, depth + 1)[-1]
        lab = _str_attr(v.attrs, f"LABL_PTR_{i}")
        if lab and lab != v.name and lab in self.vars:
            lv = self.vars[lab]
            if not lv.record_varying and lv.shape == (size,):
                return lab
        return f"{v.name}_dim{i}"

    def _own_dims(self, name: str, depth: int) -> list[str]:
        v = self.vars[name]
        dims = [self._record_dim(v)] if v.record_varying else []
        dims += [self._axis_name(v, i, depth) for i in range(1, len(v.shape) + 1)]
        return dims

    # -- coordinates take the dimension names of the variables that reference them
    def _align(self) -> None:
        locked: set[str] = set()
        order = [n for n in self.vars if self.role[n] == "data"] + [n for n in self.vars if self.role[n] == "coord"]
        for name in order:
            v = self.vars[name]
            vdims = self.dims[name]
            nrec_axes = 1 if v.record_varying else 0
            links = []
            for key in v.attrs:
                if key.startswith(_LINK_ATTRS_PREFIX) and key[-1].isdigit():
                    i = int(key.rsplit("_", 1)[1])
                    if i >= 1:
                        links.append((_str_attr(v.attrs, key), i))
            for key in _DELTA_ATTRS:
                links.append((_str_attr(v.attrs, key), None))
            for target, i in links:
                if not target or target == name or target not in self.vars or target in locked:
                    continue
                c = self.vars[target]
                if i is None:  # delta variable: same shape as the referencing variable
                    if c.shape == v.shape and c.record_varying == v.record_varying:
                        self.dims[target] = list(vdims)
                        locked.add(target)
                    continue
                k = len(c.shape)
                if k == 0 or i > len(v.shape) or k > i or c.shape != v.shape[i - k : i]:
                    continue
                new = list(vdims[nrec_axes + i - k : nrec_axes + i])
                if c.record_varying:
                    if not v.record_varying or self._record_dim(c) != vdims[0]:
                        continue
                    new = [vdims[0]] + new
                if len(new) == 1 and new[0] != target and self.dims[target] == [target]:
                    continue  # keep an index coordinate's own name
                if any(dn == target for dn in new) and len(new) > 1:
                    continue  # a multi-dimensional coordinate cannot share its name with a dimension
                self.dims[target] = new
                locked.add(target)


def _attr_value(value: Any, cdf_type: int, decode_times: bool):
    if decode_times and cdf_type in _cdf.TIME_TYPES:
        from .. import time as xtime

        arr = np.atleast_1d(np.asarray(value))
        try:
            if cdf_type == _cdf.CDF_TIME_TT2000:
                out = xtime.tt2000_to_datetime64(arr.astype(np.int64))
            elif cdf_type == _cdf.CDF_EPOCH:
                out = xtime.epoch_to_datetime64(arr.astype(np.float64))
            else:
                out = xtime.epoch16_to_datetime64(arr.astype(np.complex128))
        except Exception:  # an attribute we cannot decode stays raw
            return value
        return out[0] if np.ndim(value) == 0 else out
    return value


def _variable_attrs(v: _cdf.VariableInfo, decode_times: bool, moved: Iterable[str]) -> dict:
    attrs = {}
    for key, value in v.attrs.items():
        if key in moved:
            continue
        attrs[key] = _attr_value(value, v.attr_types.get(key, 0), decode_times)
    return attrs


def _variable_encoding(v: _cdf.VariableInfo, decoder: Decoder) -> dict:
    """The ``.encoding`` of a decoded variable: what :func:`xspace.to_cdf` needs to write it back as it
    was (CDF type, compression, pad value, and the ``FILLVAL`` that decoding turned into NaN/NaT)."""
    encoding: dict[str, Any] = {
        "cdf_type": v.cdf_type,
        "cdf_num_elements": v.num_elements,
        "cdf_dtype": decoder.raw_dtype,
        "cdf_compression": v.compression,
        "cdf_compression_level": v.compression_level,
        "record_varying": v.record_varying,
        "cdf_zvariable": v.zvariable,
        "cdf_dims": v.dims,
        "cdf_dim_variances": v.dim_varys,
        "cdf_attribute_types": dict(v.attr_types),
        "cdf_sparse_records": v.sparse_records,
        "cdf_blocking_factor": v.blocking_factor,
    }
    if v.pad is not None:
        encoding["cdf_pad_value"] = v.pad
    if decoder.removed_fill is not None:
        encoding["FILLVAL"] = v.attrs["FILLVAL"]
    return encoding


def build_dataset(
    path: str,
    *,
    decode_times: bool = True,
    mask_fill: bool = True,
    mask_valid_range: bool = False,
    include_ignore_data: bool = False,
    drop_variables: Iterable[str] | None = None,
) -> xr.Dataset:
    """Build the lazy, ISTP-decoded Dataset of a CDF file (no index is created here).

    This is what the ``engine="cdf"`` backend returns to xarray; use :func:`open_cdf` or
    ``xr.open_dataset(path, engine="cdf")`` for the usual options (chunks, indexes, several files).

    Examples
    --------
    >>> from xspace.data import get_path
    >>> ds = build_dataset(get_path("psp_fld_l2_mag_rtn_1min_20200104_v02.cdf"))
    >>> dict(ds.sizes)
    {'epoch_mag_RTN_1min': 118, 'component_index_RTN': 3, 'epoch_quality_flags': 1440}
    """
    f = cdf_file(path)
    layout = _Layout(f, include_ignore_data)
    drop = set(drop_variables or ())
    keep = [n for n in f.variables if layout.role[n] != "drop" and n not in drop]

    # record counts per record dimension (virtual records pad the shorter variables)
    nrec_of_dim: dict[str, int] = {}
    for name in keep:
        v = f.variables[name]
        if v.record_varying:
            d = layout.dims[name][0]
            nrec_of_dim[d] = max(nrec_of_dim.get(d, 0), v.nrec)

    data_vars, coords = {}, {}
    for name in keep:
        v = f.variables[name]
        dims = layout.dims[name]
        decoder = Decoder(v, decode_times=decode_times, mask_fill=mask_fill,
                          mask_valid_range=mask_valid_range, little=f.little)
        nrec = nrec_of_dim[dims[0]] if v.record_varying else None
        array = CDFVariableArray(f.path, name, nrec, decoder, v.shape)
        encoding = _variable_encoding(v, decoder)
        attrs = _variable_attrs(v, decode_times, ("FILLVAL",) if "FILLVAL" in encoding else ())
        var = xr.Variable(dims, indexing.LazilyIndexedArray(array), attrs)
        var.encoding = encoding
        (data_vars if layout.role[name] == "data" else coords)[name] = var

    ds_attrs = {}
    for key, values in f.global_attrs.items():
        types = f.global_attr_types.get(key, [])
        decoded = [_attr_value(val, t, decode_times) for val, t in zip(values, types)]
        ds_attrs[key] = decoded[0] if len(decoded) == 1 else decoded
    try:
        ds = xr.Dataset(data_vars, coords=xr.Coordinates(coords, indexes={}), attrs=ds_attrs)
    except ValueError as exc:  # a layout xarray cannot represent: say which file
        raise CDFFormatError(f"{path}: cannot build a Dataset from this file's ISTP structure: {exc}") from exc
    ds.encoding = {
        "source": f.path,
        "cdf_version": f.version,
        "cdf_majority": "row" if f.row_major else "column",
        "cdf_encoding": f.encoding,
        "cdf_compression": f.whole_file_compression,
        "cdf_compression_level": f.whole_file_compression_level,
        "cdf_global_attribute_types": {k: list(v) for k, v in f.global_attr_types.items()},
    }
    return ds


class CDFBackendEntrypoint(BackendEntrypoint):
    """xarray backend for NASA CDF files: ``xr.open_dataset(path, engine="cdf")``.

    Examples
    --------
    >>> import xarray as xr
    >>> from xspace.data import get_path
    >>> ds = xr.open_dataset(get_path("ac_k2_mfi_20220101_v03.cdf"), engine="cdf")
    >>> ds["BGSEc"].dims
    ('Epoch', 'cartesian')
    """

    description = "NASA CDF files with ISTP metadata (xspace)"
    url = "https://github.com/xspace/xspace"
    open_dataset_parameters = (
        "filename_or_obj", "drop_variables", "decode_times", "mask_fill", "mask_valid_range", "include_ignore_data",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj,
        *,
        drop_variables=None,
        decode_times=True,
        mask_fill=True,
        mask_valid_range=False,
        include_ignore_data=False,
    ) -> xr.Dataset:
        path = _as_path(filename_or_obj)
        return build_dataset(
            path,
            decode_times=True if decode_times is None else bool(decode_times),
            mask_fill=mask_fill,
            mask_valid_range=mask_valid_range,
            include_ignore_data=include_ignore_data,
            drop_variables=drop_variables,
        )

    def guess_can_open(self, filename_or_obj) -> bool:
        try:
            path = _as_path(filename_or_obj)
        except InputError:
            return False
        if path.lower().endswith(".cdf"):
            return True
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError:
            return False
        return magic in (b"\xcd\xf3\x00\x01", b"\xcd\xf2\x60\x02")


def _as_path(filename_or_obj) -> str:
    if isinstance(filename_or_obj, (str, os.PathLike)):
        return os.fspath(filename_or_obj)
    raise InputError(
        f"engine='cdf' needs a file path, got {type(filename_or_obj).__name__}; "
        "download remote files first (xspace.get_data does this with a cache)"
    )


def open_cdf(
    path_or_paths,
    *,
    decode_times: bool = True,
    mask_fill: bool = True,
    mask_valid_range: bool = False,
    include_ignore_data: bool = False,
    chunks=None,
    create_default_indexes: bool = True,
    **kwargs,
) -> xr.Dataset:
    """Open one CDF file, or several consecutive ones, as a lazy ISTP-decoded Dataset.

    Only metadata is read at open; values are read by record range when accessed (or per dask
    chunk when ``chunks`` is given). Several paths (e.g. daily files) are combined along their time
    dimensions with :func:`xarray.open_mfdataset` (dask-backed; non-record-varying variables are
    taken from the first file).

    Parameters
    ----------
    path_or_paths : str, path-like, or a sequence of them
        CDF file(s); a glob pattern string is expanded.
    decode_times : bool
        Decode CDF_EPOCH/EPOCH16/TT2000 into ``datetime64[ns]`` UTC.
    mask_fill : bool
        Replace ``FILLVAL`` by NaN/NaT (integers are promoted to float64).
    mask_valid_range : bool
        Replace values outside ``[VALIDMIN, VALIDMAX]`` by NaN/NaT.
    include_ignore_data : bool
        Keep variables with ``VAR_TYPE="ignore_data"``.
    chunks : None, int, dict or "auto"
        dask chunks (None: lazily indexed numpy arrays, no dask; for several files default ``{}``).
    create_default_indexes : bool
        Build pandas indexes for dimension coordinates (loads the time variables). ``False`` keeps
        the open to metadata only; positional selection (``isel``) still works.
    **kwargs
        Passed to :func:`xarray.open_dataset` / :func:`xarray.open_mfdataset`.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    xspace.errors.CDFFormatError
        Not a CDF file, or a truncated/corrupted one (the message names the file and the problem).

    Examples
    --------
    >>> import xspace
    >>> from xspace.data import get_path
    >>> ds = xspace.open_cdf(get_path("rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"))
    >>> ds["FPDU"].dims
    ('Epoch_Ion', 'PITCH_ANGLE', 'HOPE_ENERGY_Ion_dim1')
    >>> ds["HOPE_ENERGY_Ion"].dims
    ('Epoch_Ion', 'HOPE_ENERGY_Ion_dim1')
    """
    options = dict(
        decode_times=decode_times, mask_fill=mask_fill, mask_valid_range=mask_valid_range,
        include_ignore_data=include_ignore_data,
    )
    if isinstance(path_or_paths, str) and any(c in path_or_paths for c in "*?["):
        import glob

        path_or_paths = sorted(glob.glob(path_or_paths))
        if not path_or_paths:
            raise InputError("open_cdf: the glob pattern matched no file")
    if isinstance(path_or_paths, (str, os.PathLike)):
        return xr.open_dataset(
            path_or_paths, engine=CDFBackendEntrypoint, chunks=chunks,
            create_default_indexes=create_default_indexes, **options, **kwargs,
        )
    paths = [os.fspath(p) for p in path_or_paths]
    if not paths:
        raise InputError("open_cdf: 'path_or_paths' is an empty list; expected at least one CDF file")
    if len(paths) == 1:
        return open_cdf(paths[0], chunks=chunks, create_default_indexes=create_default_indexes, **options, **kwargs)
    kwargs.setdefault("combine", "by_coords")
    kwargs.setdefault("data_vars", "minimal")
    kwargs.setdefault("coords", "minimal")
    kwargs.setdefault("compat", "override")
    kwargs.setdefault("join", "outer")
    kwargs.setdefault("combine_attrs", "override")
    return xr.open_mfdataset(
        paths, engine=CDFBackendEntrypoint, chunks={} if chunks is None else chunks, **options, **kwargs
    )
