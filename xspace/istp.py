"""ISTP/IACG conventions: compliance checks of a Dataset (:func:`check`).

:func:`check` lists what would make a CDF written from a Dataset non-compliant with the ISTP/IACG
metadata guidelines (https://spdf.gsfc.nasa.gov/istp_guide/), as structured :class:`Finding` objects.
It accepts a Dataset decoded by :func:`xspace.open_cdf` (``FILLVAL`` and the CDF types in
``.encoding``) as well as one whose attributes hold the raw values (``FILLVAL`` in ``.attrs``).

Finding codes
-------------
``missing-attribute``       a required global (``variable is None``) or variable attribute is absent
``invalid-var-type``        ``VAR_TYPE`` is not data / support_data / metadata / ignore_data
``dangling-depend``         ``DEPEND_i`` names no variable of the Dataset
``dangling-label``          ``LABL_PTR_i`` names no variable
``dangling-delta``          ``DELTA_PLUS_VAR``/``DELTA_MINUS_VAR`` names no variable
``dangling-pointer``        ``UNIT_PTR``/``FORM_PTR``/``SCAL_PTR`` names no variable
``depend-size-mismatch``    the ``DEPEND_i`` variable's size differs from the variable's dimension ``i``
``label-size-mismatch``     the number of labels of ``LABL_PTR_i`` differs from dimension ``i``
``depend0-not-time``        ``DEPEND_0`` names a variable that is not a time variable
``non-monotonic-epoch``     a time variable used as ``DEPEND_0`` decreases
``duplicate-epoch``         a time variable used as ``DEPEND_0`` repeats a value
``fillval-type``            ``FILLVAL``'s data type differs from the variable's (a warning when both
                            share the same storage, e.g. a CDF_REAL8 fill of a CDF_EPOCH variable)
``fillval-range``           ``FILLVAL`` cannot be represented in the variable's type
``validmin-above-validmax`` ``VALIDMIN`` > ``VALIDMAX``
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Hashable

import numpy as np
import xarray as xr

from .errors import InputError

__all__ = ["Finding", "check", "REQUIRED_GLOBAL_ATTRIBUTES", "VAR_TYPES"]

VAR_TYPES = ("data", "support_data", "metadata", "ignore_data")
# the "bare bones" global attributes of the ISTP guidelines, then those CDAWeb needs
REQUIRED_GLOBAL_ATTRIBUTES = (
    "Project", "Source_name", "Discipline", "Data_type", "Descriptor", "Data_version", "Logical_file_id",
    "PI_name", "PI_affiliation", "TEXT", "Instrument_type", "Mission_group", "Logical_source",
    "Logical_source_description",
)
_CDF_TYPE_NAMES = {
    1: "CDF_INT1", 2: "CDF_INT2", 4: "CDF_INT4", 8: "CDF_INT8", 11: "CDF_UINT1", 12: "CDF_UINT2",
    14: "CDF_UINT4", 21: "CDF_REAL4", 22: "CDF_REAL8", 31: "CDF_EPOCH", 32: "CDF_EPOCH16",
    33: "CDF_TIME_TT2000", 41: "CDF_BYTE", 44: "CDF_FLOAT", 45: "CDF_DOUBLE", 51: "CDF_CHAR", 52: "CDF_UCHAR",
}
# CDF types that are the same thing under two names
_SAME_TYPE = {41: 1, 44: 21, 45: 22, 52: 51}
# different types with the same storage (a fill of the one is readable as the other)
_SAME_STORAGE = {31: 22, 33: 8}
_POINTER = re.compile(r"^(DEPEND_[0-9]|LABL_PTR_[1-9]|DELTA_PLUS_VAR|DELTA_MINUS_VAR|UNIT_PTR|FORM_PTR|SCAL_PTR)$")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One ISTP compliance problem.

    Attributes
    ----------
    severity : str
        ``"error"`` (the guidelines require it) or ``"warning"`` (tolerated by most software).
    variable : str or None
        The variable concerned; None for a global problem.
    code : str
        Short identifier (see the module documentation), e.g. ``"missing-attribute"``.
    message : str
        Human-readable explanation.

    Examples
    --------
    >>> f = Finding("error", "B", "missing-attribute", "variable 'B' (data) has no UNITS")
    >>> str(f)
    "error [missing-attribute] B: variable 'B' (data) has no UNITS"
    """

    severity: str
    variable: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.variable if self.variable is not None else "(global)"
        return f"{self.severity} [{self.code}] {where}: {self.message}"


def _present(attrs: dict, key: str) -> bool:
    value = attrs.get(key)
    if value is None:
        return False
    if isinstance(value, str):
        # a blank UNITS is the ISTP way of saying "dimensionless"; other blank attributes say nothing
        return key in ("UNITS",) or value.strip() != ""
    if isinstance(value, (list, tuple)):
        return any(not isinstance(v, str) or v.strip() for v in value)
    return True


def _is_time(var: xr.Variable | xr.DataArray) -> bool:
    return var.dtype.kind == "M" or var.encoding.get("cdf_type") in (31, 32, 33)


def _record_varying(name: Hashable, var: xr.DataArray, time_dims: set) -> bool:
    rv = var.encoding.get("record_varying")
    if rv is not None:
        return bool(rv)
    if var.ndim == 0:
        return False
    return "DEPEND_0" in var.attrs or var.dims[0] in time_dims


def _nonrecord_shape(name: Hashable, var: xr.DataArray, time_dims: set) -> tuple:
    return tuple(var.shape[1:]) if _record_varying(name, var, time_dims) else tuple(var.shape)


def _cdf_type(var: xr.DataArray) -> int | None:
    code = var.encoding.get("cdf_type")
    return int(code) if code is not None else None


def _fill_type_problem(name: str, var: xr.DataArray) -> Finding | None:
    """Compare FILLVAL's type with the variable's."""
    enc = var.encoding
    in_encoding = "FILLVAL" in enc
    fill = enc["FILLVAL"] if in_encoding else var.attrs.get("FILLVAL")
    if fill is None:
        return None
    var_code = _cdf_type(var)
    fill_code = (enc.get("cdf_attribute_types") or {}).get("FILLVAL")
    if var_code is not None and fill_code is not None:
        a, b = _SAME_TYPE.get(int(var_code), int(var_code)), _SAME_TYPE.get(int(fill_code), int(fill_code))
        if a == b:
            return None
        same_storage = _SAME_STORAGE.get(a) == b or _SAME_STORAGE.get(b) == a
        return Finding(
            "warning" if same_storage else "error",
            name,
            "fillval-type",
            f"variable {name!r} is {_CDF_TYPE_NAMES.get(int(var_code), var_code)} but its FILLVAL "
            f"{fill!r} is {_CDF_TYPE_NAMES.get(int(fill_code), fill_code)}; ISTP requires the variable's own type",
        )
    # no CDF type codes: compare numpy types (raw dtype when the values were decoded)
    raw = np.dtype(enc.get("cdf_dtype") or var.dtype) if in_encoding else var.dtype
    if raw.kind == "M":
        if isinstance(fill, np.datetime64) or (isinstance(fill, (int, np.integer)) and not isinstance(fill, bool)):
            return None
        return Finding("error", name, "fillval-type",
                       f"time variable {name!r} has FILLVAL {fill!r} of type {type(fill).__name__}")
    if isinstance(fill, (str, np.str_, bytes)) != (raw.kind in "US"):
        return Finding("error", name, "fillval-type",
                       f"variable {name!r} has dtype {raw} but FILLVAL {fill!r} is {type(fill).__name__}")
    if raw.kind in "US":
        return None
    if isinstance(fill, np.generic):
        if fill.dtype.newbyteorder("=") != raw.newbyteorder("="):
            return Finding("error", name, "fillval-type",
                           f"variable {name!r} has dtype {raw} but FILLVAL {fill!r} has dtype {fill.dtype}")
        return None
    # a plain Python number: it must be representable in the variable's type
    try:
        value = float(fill)
    except (TypeError, ValueError):
        return Finding("error", name, "fillval-type", f"variable {name!r} has a non-numeric FILLVAL {fill!r}")
    if raw.kind in "iu":
        info = np.iinfo(raw)
        if value != round(value) or not info.min <= value <= info.max:
            return Finding("error", name, "fillval-range",
                           f"FILLVAL {fill!r} of variable {name!r} is not representable as {raw}")
    elif raw.kind == "f" and not np.isfinite(np.asarray(value).astype(raw)):
        return Finding("error", name, "fillval-range",
                       f"FILLVAL {fill!r} of variable {name!r} overflows {raw}")
    return None


def _required(var_type: str, record_varying: bool, is_time: bool) -> list[tuple[str, ...]]:
    """Required attributes (each a tuple of alternatives) per the ISTP variable attribute table."""
    req: list[tuple[str, ...]] = [("VAR_TYPE",), ("CATDESC",), ("FIELDNAM",), ("FORMAT", "FORM_PTR")]
    if var_type == "data":
        req += [("DEPEND_0",), ("DISPLAY_TYPE",), ("FILLVAL",), ("LABLAXIS", "LABL_PTR_1"), ("UNITS", "UNIT_PTR"),
                ("VALIDMIN",), ("VALIDMAX",)]
        if is_time:  # a time variable tagged as data does not depend on itself; its UNITS are optional
            req.remove(("DEPEND_0",))
            req.remove(("UNITS", "UNIT_PTR"))
    elif var_type == "support_data":
        if not is_time:  # UNITS of time variables are optional (ISTP time attributes table)
            req += [("UNITS", "UNIT_PTR")]
        if record_varying:
            req += [("FILLVAL",), ("VALIDMIN",), ("VALIDMAX",)]
            if not is_time:
                req += [("DEPEND_0",)]
    elif var_type == "metadata" and record_varying:
        req += [("DEPEND_0",), ("FILLVAL",)]
    return req


def check(ds: xr.Dataset) -> list[Finding]:
    """List what would make ``ds`` (written as a CDF) non-compliant with the ISTP/IACG guidelines.

    Checks: required global attributes (the "bare bones" list and those CDAWeb needs; names are
    case-sensitive); required variable attributes per ``VAR_TYPE`` (data: ``CATDESC``, ``DEPEND_0``,
    ``DISPLAY_TYPE``, ``FIELDNAM``, ``FILLVAL``, ``FORMAT``/``FORM_PTR``, ``LABLAXIS``/``LABL_PTR_1``,
    ``UNITS``/``UNIT_PTR``, ``VALIDMIN``, ``VALIDMAX``, ``VAR_TYPE``; support_data: ``CATDESC``,
    ``FIELDNAM``, ``FORMAT``, ``UNITS``, ``VAR_TYPE`` and, if record varying, ``DEPEND_0``,
    ``FILLVAL``, ``VALIDMIN``, ``VALIDMAX``; metadata: ``CATDESC``, ``FIELDNAM``, ``FORMAT``,
    ``VAR_TYPE`` and, if record varying, ``DEPEND_0`` and ``FILLVAL``); dangling ``DEPEND_i``,
    ``LABL_PTR_i``, ``DELTA_*_VAR`` and ``*_PTR`` references; sizes of ``DEPEND_i``/``LABL_PTR_i``
    variables; decreasing or repeated epochs; ``FILLVAL`` type against the variable's CDF type.
    Works on decoded Datasets (``FILLVAL`` in ``.encoding``) and on raw ones (``FILLVAL`` in ``.attrs``).
    Loads the time variables used as ``DEPEND_0`` (nothing else).

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    list of Finding
        Global findings first, then per variable in the Dataset's order; empty if compliant.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.array(["2020-01-01T00:00", "2020-01-01T00:00", "2020-01-01T00:01"], "datetime64[ns]")
    >>> ds = xr.Dataset({"B": ("Epoch", [1.0, 2.0, 3.0], {"VAR_TYPE": "data", "DEPEND_0": "Epoch",
    ...                                                    "DELTA_PLUS_VAR": "nowhere"})},
    ...                 coords={"Epoch": t})
    >>> findings = check(ds)
    >>> print(findings[0])
    error [missing-attribute] (global): required global attribute 'Project' is missing
    >>> for f in findings:
    ...     if f.code != "missing-attribute":
    ...         print(f)
    error [dangling-delta] B: DELTA_PLUS_VAR of 'B' names 'nowhere', which is not a variable of the dataset
    error [duplicate-epoch] Epoch: time variable 'Epoch' repeats 2020-01-01T00:00:00.000000000 at index 1
    """
    if not isinstance(ds, xr.Dataset):
        raise InputError(f"check: argument 'ds' must be an xarray Dataset, got {type(ds).__name__}")
    findings: list[Finding] = []
    for key in REQUIRED_GLOBAL_ATTRIBUTES:
        if not _present(ds.attrs, key):
            other = [k for k in ds.attrs if str(k).lower() == key.lower() and k != key]
            hint = f" (found {other[0]!r}: attribute names are case-sensitive)" if other else ""
            blank = " (it is blank)" if key in ds.attrs else ""
            findings.append(Finding("error", None, "missing-attribute",
                                    f"required global attribute {key!r} is missing{blank}{hint}"))

    time_dims = {d for d in ds.dims if d in ds.coords and ds[d].dtype.kind == "M"}
    epochs: dict[Hashable, None] = {}
    for name, var in ds.variables.items():
        var = ds[name]
        attrs = var.attrs
        label = str(name)
        var_type = attrs.get("VAR_TYPE")
        rv = _record_varying(name, var, time_dims)
        is_time = _is_time(var)
        if var_type is not None and var_type not in VAR_TYPES:
            findings.append(Finding("error", label, "invalid-var-type",
                                    f"VAR_TYPE of {label!r} is {var_type!r}; expected one of {VAR_TYPES}"))
        role = var_type if var_type in VAR_TYPES else None
        if role == "ignore_data":
            required = [("VAR_TYPE",)]
        elif role is None:
            required = [("VAR_TYPE",), ("CATDESC",), ("FIELDNAM",), ("FORMAT", "FORM_PTR")]
        else:
            required = _required(role, rv, is_time)
        for options in required:
            present = any(_present(attrs, k) for k in options) or ("FILLVAL" in options and "FILLVAL" in var.encoding)
            if not present:
                what = " or ".join(options)
                findings.append(Finding("error", label, "missing-attribute",
                                        f"variable {label!r} ({role or 'no VAR_TYPE'}) has no {what}"))
        # references to other variables
        for key, value in attrs.items():
            if not isinstance(key, str) or not _POINTER.match(key) or not isinstance(value, str):
                continue
            target = value.strip()
            if target in ds.variables:
                continue
            code = ("dangling-depend" if key.startswith("DEPEND_") else "dangling-label" if key.startswith("LABL_PTR_")
                    else "dangling-delta" if key.startswith("DELTA_") else "dangling-pointer")
            findings.append(Finding("error", label, code,
                                    f"{key} of {label!r} names {target!r}, which is not a variable of the dataset"))
        findings += _size_findings(ds, label, var, rv, time_dims)
        dep0 = attrs.get("DEPEND_0")
        if isinstance(dep0, str) and dep0 in ds.variables:
            epochs[dep0] = None
            if not _is_time(ds[dep0]):
                findings.append(Finding("error", label, "depend0-not-time",
                                        f"DEPEND_0 of {label!r} is {dep0!r}, which is not a time variable "
                                        f"(dtype {ds[dep0].dtype}, no CDF time type)"))
        problem = _fill_type_problem(label, var)
        if problem is not None:
            findings.append(problem)
        vmin, vmax = attrs.get("VALIDMIN"), attrs.get("VALIDMAX")
        if vmin is not None and vmax is not None:
            try:
                above = bool(np.any(np.asarray(vmin) > np.asarray(vmax)))
            except (TypeError, ValueError):
                above = False
            if above:
                findings.append(Finding("warning", label, "validmin-above-validmax",
                                        f"VALIDMIN {vmin!r} of {label!r} is above VALIDMAX {vmax!r}"))
    for name in time_dims:
        epochs.setdefault(name, None)
    for name in epochs:
        findings += _epoch_findings(str(name), ds[name])
    # keep the Dataset's variable order for the per-variable findings
    order = {str(n): i for i, n in enumerate(ds.variables)}
    glob = [f for f in findings if f.variable is None]
    per = sorted((f for f in findings if f.variable is not None), key=lambda f: order.get(f.variable, len(order)))
    return glob + per


def _size_findings(ds: xr.Dataset, label: str, var: xr.DataArray, rv: bool, time_dims: set) -> list[Finding]:
    out = []
    attrs = var.attrs
    dims_after_record = var.shape[1:] if rv else var.shape
    dep0 = attrs.get("DEPEND_0")
    if isinstance(dep0, str) and dep0 in ds.variables and rv and var.ndim:
        target = ds[dep0]
        n = target.shape[0] if target.ndim else 1
        if target.ndim != 1 or n != var.shape[0]:
            out.append(Finding("error", label, "depend-size-mismatch",
                               f"DEPEND_0 of {label!r} is {dep0!r} of shape {target.shape}; expected one value "
                               f"per record ({var.shape[0]})"))
    for i in range(1, len(dims_after_record) + 1):
        size = dims_after_record[i - 1]
        for key, code in ((f"DEPEND_{i}", "depend-size-mismatch"), (f"LABL_PTR_{i}", "label-size-mismatch")):
            ref = attrs.get(key)
            if not isinstance(ref, str) or ref not in ds.variables:
                continue
            target = ds[ref]
            shape = _nonrecord_shape(ref, target, time_dims)
            if not shape or shape[-1] != size:
                out.append(Finding("error", label, code,
                                   f"{key} of {label!r} is {ref!r} with {shape[-1] if shape else 'no'} values per "
                                   f"record; dimension {i} of {label!r} has {size}"))
    for key in attrs:
        m = re.match(r"^(DEPEND|LABL_PTR)_([1-9])$", str(key))
        if m and int(m.group(2)) > len(dims_after_record):
            out.append(Finding("warning", label, "depend-size-mismatch",
                               f"{key} of {label!r} refers to dimension {m.group(2)}, but {label!r} has only "
                               f"{len(dims_after_record)} dimension(s) besides the record"))
    return out


def _epoch_findings(name: str, var: xr.DataArray) -> list[Finding]:
    if var.ndim != 1 or var.size < 2:
        return []
    values = np.asarray(var.values)  # documented: time variables are loaded
    if values.dtype.kind == "M":
        good = ~np.isnat(values)
    elif values.dtype.kind in "iuf":
        good = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
        fill = var.encoding.get("FILLVAL", var.attrs.get("FILLVAL"))
        if fill is not None and not isinstance(fill, (str, np.datetime64)):
            good &= values != fill
    else:
        return []
    index = np.flatnonzero(good)
    vals = values[index]
    if vals.size < 2:
        return []
    step = np.diff(vals)
    zero = np.zeros((), dtype=step.dtype)
    out = []
    back = np.flatnonzero(step < zero)
    if back.size:
        i = index[back[0] + 1]
        out.append(Finding("error", name, "non-monotonic-epoch",
                           f"time variable {name!r} decreases at index {i} ({vals[back[0]]} -> {values[i]}); "
                           f"{back.size} decrease(s) in total"))
    same = np.flatnonzero(step == zero)
    if same.size:
        i = index[same[0] + 1]
        out.append(Finding("error", name, "duplicate-epoch",
                           f"time variable {name!r} repeats {values[i]} at index {i}"
                           + (f"; {same.size} repeats in total" if same.size > 1 else "")))
    return out
