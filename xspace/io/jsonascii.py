"""JSON-headed ASCII files (the LANL/Autoplot "rich ASCII" format SpacePy reads with ``readJSONheadedASCII``).

A file is a JSON object written behind ``#`` comment marks, then whitespace-separated columns, one
row per record::

    # {
    #  "DateTime": { "DESCRIPTION": "...", "UNITS": "UTC", "START_COLUMN": 0 },
    #  "G":        { "DESCRIPTION": "...", "DIMENSION": [ 3 ], "START_COLUMN": 12,
    #                "ELEMENT_NAMES": [ "G1", "G2", "G3" ] },
    #  "OriginFile": { "VALUES": [ "" ] }
    # } End JSON
    2012-09-01T00:00:00 ... 0.70 2.97 1.64 ...

How the header maps to a Dataset (:func:`read_json_ascii`):

* Every entry with ``START_COLUMN`` is a variable along the record dimension. ``DIMENSION`` [n]
  (or [n, m]) spans several columns and adds the dimensions ``<name>_dim1`` (, ``<name>_dim2``).
  ``ELEMENT_NAMES`` become the values of ``<name>_dim1``, and ``ELEMENT_LABELS`` become a
  coordinate ``<name>_label`` (ISTP ``LABL_PTR_1``).
* The time variable (ISO 8601 strings; found automatically, e.g. ``DateTime`` in Qin-Denton
  files) becomes the ``datetime64[ns]`` dimension coordinate. The other variables get
  ``DEPEND_0``. Without a time column, the record dimension is called ``record``.
* The header metadata of a variable becomes its attrs, verbatim, plus ISTP attributes:
  ``CATDESC`` from ``DESCRIPTION``, ``FIELDNAM`` from ``NAME`` and ``VAR_TYPE``. ``FILL_VALUE``
  becomes NaN (``mask_fill=True``) and is kept in ``.encoding``.
* Header entries without ``START_COLUMN`` become Dataset attrs. A ``{"VALUES": [...]}`` entry gives
  its value, and its other fields are kept for writing.

:func:`to_json_ascii` writes the same format, and ``read(write(read(f)))`` equals ``read(f)``.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import xarray as xr

from ..errors import FileFormatError, InputError

__all__ = ["read_json_ascii", "to_json_ascii"]

# header keys that describe the file layout; they go to .encoding or coordinates, not attrs
_LAYOUT_KEYS = ("START_COLUMN", "DIMENSION", "FILL_VALUE", "ELEMENT_NAMES", "ELEMENT_LABELS")
# attributes this module adds on reading (dropped again on writing when they are derivable)
_ISTP_ADDED = ("CATDESC", "FIELDNAM", "VAR_TYPE", "DEPEND_0", "LABL_PTR_1")
_TIME_NAMES = ("datetime", "isodatetime", "time", "epoch", "utc", "date")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?Z?$")


# --------------------------------------------------------------------------- reading
def _split_file(path: Path) -> tuple[dict, list[tuple[int, list[str]]]]:
    """Return the parsed JSON header and the data rows (file line number, fields)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the file: {exc}") from exc
    header_lines: list[tuple[int, str]] = []
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            header_lines.append((lineno, line[1:]))
        elif line.strip():
            rows.append((lineno, line.split()))
    if not header_lines:
        raise FileFormatError(f"{path}: no '#' header lines; expected a JSON header behind '#' marks")
    # the JSON object runs from the first "{" to the last "}" of the header (text after it, such as
    # "End JSON", and comment lines before it are ignored)
    first = next((i for i, (_, l) in enumerate(header_lines) if l.strip().startswith("{")), None)
    if first is None:
        raise FileFormatError(f"{path}: the '#' header holds no JSON object (no line starting with '{{')")
    body = [l for _, l in header_lines[first:]]
    joined = "\n".join(body)
    marker = joined.find("End JSON")
    if marker >= 0:  # comment lines after the header may hold anything
        joined = joined[:marker]
    end = joined.rfind("}")
    if end < 0:
        raise FileFormatError(f"{path}: the JSON header is not closed (no '}}')")
    try:
        header = json.loads(joined[: end + 1])
    except json.JSONDecodeError as exc:
        file_line = header_lines[first + exc.lineno - 1][0] if exc.lineno - 1 < len(body) else "?"
        raise FileFormatError(f"{path}, line {file_line}: malformed JSON header: {exc.msg}") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{path}: the JSON header must be an object of variables")
    return header, rows


def _layout(path: Path, name: str, entry: dict) -> tuple[int, tuple[int, ...]]:
    start = entry.get("START_COLUMN")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise FileFormatError(
            f"{path}: variable {name!r}: START_COLUMN must be a non-negative integer, got {start!r}"
        )
    dim = entry.get("DIMENSION", [1])
    if isinstance(dim, int) and not isinstance(dim, bool):
        dim = [dim]
    if (
        not isinstance(dim, list)
        or not dim
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dim)
    ):
        raise FileFormatError(f"{path}: variable {name!r}: DIMENSION must be a list of positive integers, got {dim!r}")
    shape = tuple(dim) if dim != [1] else ()
    return start, shape


def _parse_times(strings: np.ndarray) -> np.ndarray | None:
    """ISO strings -> datetime64[ns], or None if they are not all ISO times."""
    if strings.size == 0 or not all(_ISO_RE.match(s) for s in strings[: min(strings.size, 50)]):
        return None
    cleaned = np.char.replace(np.char.rstrip(strings.astype(str), "Z"), " ", "T")
    try:
        return cleaned.astype("datetime64[ns]")
    except ValueError:
        return None


def _parse_column_block(block: np.ndarray) -> np.ndarray:
    """Strings -> int64, float64, datetime64[ns] or str, the first that fits every value."""
    try:
        return block.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return block.astype(np.float64)
    except ValueError:
        pass
    if block.ndim == 1:
        times = _parse_times(block)
        if times is not None:
            return times
    return block.astype(str)


def _read_one(path: Path, time_variable: str | None, mask_fill: bool) -> xr.Dataset:
    header, rows = _split_file(path)
    variables = {k: v for k, v in header.items() if isinstance(v, dict) and "START_COLUMN" in v}
    others = {k: v for k, v in header.items() if k not in variables}
    if not variables:
        raise FileFormatError(f"{path}: the JSON header names no variable with a START_COLUMN")
    layouts = {name: _layout(path, name, entry) for name, entry in variables.items()}
    needed = max(start + int(np.prod(shape, dtype=np.int64)) for start, shape in layouts.values())
    for lineno, fields in rows:
        if len(fields) < needed:
            raise FileFormatError(
                f"{path}, line {lineno}: {len(fields)} columns, but the header needs {needed} "
                f"(START_COLUMN + DIMENSION of its variables)"
            )
    width = max([needed] + [len(f) for _, f in rows])
    table = np.array([f + [""] * (width - len(f)) for _, f in rows], dtype=str).reshape(len(rows), width)

    values: dict[str, np.ndarray] = {}
    for name, (start, shape) in layouts.items():
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        block = table[:, start : start + n]
        if not rows:  # a header without data: the time column is known by its name or units only
            entry = variables[name]
            timelike = name == time_variable or (
                time_variable is None and not shape
                and (name.lower() in _TIME_NAMES or str(entry.get("NAME", "")).lower() in _TIME_NAMES
                     or entry.get("UNITS") == "UTC")
            )
            empty = np.empty((0,) + shape, dtype="datetime64[ns]" if timelike else np.float64)
            values[name] = empty
            continue
        parsed = _parse_column_block(block[:, 0] if not shape else block)
        values[name] = parsed.reshape((len(rows),) + shape) if shape else parsed

    # the time variable
    if time_variable is not None:
        if time_variable not in variables:
            raise InputError(
                f"read_json_ascii: argument 'time_variable': {time_variable!r} is not a column variable of "
                f"{path}; available: {sorted(variables)}"
            )
        if values[time_variable].dtype.kind != "M":
            raise FileFormatError(
                f"{path}: time variable {time_variable!r} does not hold ISO 8601 times "
                f"(first value {table[0, layouts[time_variable][0]] if len(rows) else None!r})"
            )
        tname = time_variable
    else:
        candidates = [n for n in variables if values[n].dtype.kind == "M" and values[n].ndim == 1]
        candidates.sort(key=lambda n: (n.lower() not in _TIME_NAMES, layouts[n][0]))
        tname = candidates[0] if candidates else None
    record_dim = tname if tname is not None else "record"

    ds = xr.Dataset()
    for name, entry in variables.items():
        start, shape = layouts[name]
        data = values[name]
        attrs = {k: v for k, v in entry.items() if k not in _LAYOUT_KEYS}
        encoding: dict[str, Any] = {"START_COLUMN": start}
        if "DIMENSION" in entry:
            encoding["DIMENSION"] = entry["DIMENSION"]
        if "FILL_VALUE" in entry:
            fill = entry["FILL_VALUE"]
            if mask_fill and data.dtype.kind in "iuf" and fill is not None:
                try:
                    fill_number = float(fill)
                except (TypeError, ValueError):
                    raise FileFormatError(
                        f"{path}: variable {name!r}: FILL_VALUE {fill!r} is not a number"
                    ) from None
                data = data.astype(np.float64)
                data[data == fill_number] = np.nan
                encoding["FILL_VALUE"] = fill
            else:
                attrs["FILL_VALUE"] = fill
        if "DESCRIPTION" in attrs:
            attrs.setdefault("CATDESC", attrs["DESCRIPTION"])
        attrs.setdefault("FIELDNAM", attrs.get("NAME", name))
        attrs.setdefault("VAR_TYPE", "support_data" if name == tname else "data")
        dims = (record_dim,) + tuple(f"{name}_dim{i + 1}" for i in range(len(shape)))
        if name != tname and tname is not None:
            attrs.setdefault("DEPEND_0", tname)
        coords = {}
        if len(shape) == 1:
            names = entry.get("ELEMENT_NAMES")
            labels = entry.get("ELEMENT_LABELS")
            for what, items in (("ELEMENT_NAMES", names), ("ELEMENT_LABELS", labels)):
                if items is not None and (not isinstance(items, list) or len(items) != shape[0]):
                    raise FileFormatError(
                        f"{path}: variable {name!r}: {what} must be a list of {shape[0]} items, got {items!r}"
                    )
            if names is not None:
                coords[dims[1]] = xr.Variable(dims[1], np.array([str(x) for x in names]))
            if labels is not None:
                coords[f"{name}_label"] = xr.Variable(dims[1], np.array([str(x) for x in labels]))
                attrs.setdefault("LABL_PTR_1", f"{name}_label")
        variable = xr.Variable(dims, data, attrs=attrs)
        variable.encoding.update(encoding)
        if name == tname:
            ds = ds.assign_coords({name: variable})
        else:
            ds[name] = variable
        for cname, cvar in coords.items():
            ds = ds.assign_coords({cname: cvar})

    entries: dict[str, Any] = {}
    for key, value in others.items():
        if isinstance(value, dict):
            entries[key] = value
            if "VALUES" in value:
                vals = value["VALUES"]
                ds.attrs[key] = vals[0] if isinstance(vals, list) and len(vals) == 1 else vals
            else:
                ds.attrs[key] = json.dumps(value)
        else:
            ds.attrs[key] = value
    ds.encoding["json_entries"] = entries
    ds.encoding["source"] = str(path)
    return ds


def _expand_paths(path_or_paths: Any) -> list[Path]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        text = os.fspath(path_or_paths)
        if any(c in text for c in "*?["):
            found = sorted(glob.glob(text))
            if not found:
                raise InputError(f"read_json_ascii: argument 'path_or_paths': no file matches {text!r}")
            return [Path(p) for p in found]
        paths = [Path(text)]
    elif isinstance(path_or_paths, Iterable):
        paths = [Path(os.fspath(p)) for p in path_or_paths]
    else:
        raise InputError(
            f"read_json_ascii: argument 'path_or_paths' must be a path, a glob pattern or a list of paths, "
            f"got {type(path_or_paths).__name__}"
        )
    if not paths:
        raise InputError("read_json_ascii: argument 'path_or_paths' is empty")
    for p in paths:
        if not p.is_file():
            raise InputError(f"read_json_ascii: argument 'path_or_paths': no such file {str(p)!r}")
    return paths


def read_json_ascii(path_or_paths: Any, time_variable: str | None = None, mask_fill: bool = True) -> xr.Dataset:
    """Read JSON-headed ASCII file(s) into a Dataset (loaded into memory).

    Parameters
    ----------
    path_or_paths : str, path-like, glob pattern or list of them
        Several files are concatenated along the time dimension, in the order given (a glob
        pattern is sorted). They must have the same header variables.
    time_variable : str, optional
        The column variable holding ISO 8601 times. By default, the first variable whose values
        are ISO times (preferring names like ``DateTime``, ``Time``, ``Epoch``).
    mask_fill : bool
        Replace ``FILL_VALUE`` by NaN (integers become float). The fill value is kept in
        ``.encoding["FILL_VALUE"]``.

    Returns
    -------
    xarray.Dataset
        See the module docstring for the mapping of the header.

    Raises
    ------
    FileFormatError
        A malformed header or data rows, with the file and line named.
    InputError
        A missing file or an unknown ``time_variable``.

    Examples
    --------
    >>> from xspace.data import get_path
    >>> ds = read_json_ascii(get_path("QinDenton_20120901_hour.txt"))
    >>> ds.sizes["DateTime"], float(ds["Kp"][1]), ds["G"].dims
    (24, 1.7, ('DateTime', 'G_dim1'))
    >>> float(ds["G"].sel(G_dim1="G2")[1]), ds["Dst"].attrs["UNITS"], ds["Dst"].attrs["DEPEND_0"]
    (3.96, 'nT', 'DateTime')
    """
    paths = _expand_paths(path_or_paths)
    parts = [_read_one(p, time_variable, mask_fill) for p in paths]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    names = set(first.variables)
    for p, part in zip(paths[1:], parts[1:]):
        if set(part.variables) != names:
            raise FileFormatError(
                f"{p}: its variables {sorted(part.variables)} differ from those of {paths[0]} "
                f"({sorted(names)}); files read together must share a header"
            )
    record_dims = {_record_dim(part) for part in parts}
    if len(record_dims) != 1:
        raise FileFormatError(f"{paths}: the files have different record dimensions {sorted(record_dims)}")
    dim = record_dims.pop()
    merged = xr.concat(parts, dim=dim, data_vars="minimal", coords="minimal", compat="override",
                       combine_attrs="override", join="outer")
    for name in merged.variables:
        merged[name].encoding = dict(first[name].encoding)
    merged.encoding = dict(first.encoding)
    merged.encoding["source"] = [str(p) for p in paths]
    return merged


def _record_dim(ds: xr.Dataset) -> str:
    for v in ds.data_vars.values():
        return v.dims[0]
    return next(iter(ds.dims))


# --------------------------------------------------------------------------- writing
def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _format_times(values: np.ndarray) -> np.ndarray:
    ns = values.astype("datetime64[ns]")
    ints = ns.view(np.int64)[~np.isnat(ns)]
    unit = "s"
    for candidate, step in (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        if np.all(ints % step == 0):
            unit = candidate
            break
    return np.datetime_as_string(ns, unit=unit)


def _format_block(name: str, data: np.ndarray, fill: Any) -> np.ndarray:
    """(n, ...) values -> (n, k) strings."""
    n = data.shape[0]
    flat = data.reshape(n, -1)
    kind = flat.dtype.kind
    if kind == "M":
        out = _format_times(flat.ravel()).reshape(flat.shape)
        if np.any(np.isnat(flat)):
            raise InputError(f"to_json_ascii: variable {name!r} has NaT times, which the format cannot hold")
        return out
    if kind in "iub":
        return flat.astype(np.int64).astype(str)
    if kind == "f":
        strings = np.array([repr(float(x)) for x in flat.ravel()], dtype=object).reshape(flat.shape)
        nan = np.isnan(flat)
        if np.any(nan):
            strings[nan] = "NaN" if fill is None else (str(fill) if isinstance(fill, str) else json.dumps(fill))
        return strings.astype(str)
    if kind in "USO":
        strings = flat.astype(str)
        if any((not s) or re.search(r"\s", s) for s in strings.ravel()):
            raise InputError(
                f"to_json_ascii: variable {name!r} has empty strings or strings with whitespace, "
                "which whitespace-separated columns cannot hold"
            )
        return strings
    raise InputError(f"to_json_ascii: variable {name!r} has dtype {flat.dtype}, which the format cannot hold")


def to_json_ascii(obj: xr.Dataset | xr.DataArray, path: str | os.PathLike, time_variable: str | None = None) -> Path:
    """Write a Dataset (or DataArray) as a JSON-headed ASCII file; loads the data.

    Variables along the record (time) dimension become columns, in the order of their
    ``START_COLUMN`` encoding when they were read from such a file, else with the time first.
    Attributes become header metadata (``CATDESC``/``FIELDNAM`` map to ``DESCRIPTION``/``NAME`` when
    those are missing), element coordinates become ``ELEMENT_NAMES``/``ELEMENT_LABELS``, NaN is
    written as ``FILL_VALUE`` from ``.encoding`` (else ``NaN``). Variables without the record
    dimension and the Dataset attrs become header entries without ``START_COLUMN``.
    ``read_json_ascii(to_json_ascii(read_json_ascii(f), g))`` equals ``read_json_ascii(f)``.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
    path : str or path-like
    time_variable : str, optional
        The record dimension (default: the time dimension, from ``DEPEND_0`` or the dtype).

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from xspace.data import get_path
    >>> ds = read_json_ascii(get_path("QinDenton_20120901_hour.txt"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = to_json_ascii(ds, pathlib.Path(tmp) / "copy.txt")
    ...     read_json_ascii(out).identical(ds)
    True
    """
    from .._utils import time_dim

    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name=obj.name if obj.name is not None else "data")
    if not isinstance(obj, xr.Dataset):
        raise InputError(f"to_json_ascii: argument 'obj' must be an xarray Dataset or DataArray, got {type(obj).__name__}")
    ds = obj
    if time_variable is not None:
        if time_variable not in ds.dims:
            raise InputError(f"to_json_ascii: argument 'time_variable': {time_variable!r} is not a dimension of the dataset")
        rdim = time_variable
    else:
        try:
            rdim = time_dim(ds, name="to_json_ascii")
        except InputError:
            if not ds.data_vars:
                raise InputError("to_json_ascii: the dataset has no data variables") from None
            rdim = next(iter(ds.data_vars.values())).dims[0] if next(iter(ds.data_vars.values())).dims else None
            if rdim is None:
                raise InputError("to_json_ascii: no record dimension found (no time dimension, scalar data)") from None

    columns = [n for n in ds.variables if ds[n].dims[:1] == (rdim,) and n not in _element_coords(ds)]
    # order: encoding START_COLUMN when known, the record coordinate first otherwise
    def order(n):
        start = ds[n].encoding.get("START_COLUMN")
        return (0 if start is not None else 1, start if start is not None else (-1 if n == rdim else 0))

    columns.sort(key=order)
    header: dict[str, Any] = {}
    blocks = []
    col = 0
    for name in columns:
        var = ds[name]
        if any(d == rdim for d in var.dims[1:]):
            raise InputError(f"to_json_ascii: variable {name!r} uses the record dimension twice")
        data = np.asarray(var.values)
        fill = var.encoding.get("FILL_VALUE", var.attrs.get("FILL_VALUE"))
        block = _format_block(name, data, fill)
        entry = _entry_from_attrs(var.attrs, name, rdim)
        shape = data.shape[1:]
        if shape:
            entry["DIMENSION"] = list(shape)
        entry["START_COLUMN"] = col
        if "FILL_VALUE" in var.encoding:
            entry["FILL_VALUE"] = _jsonable(var.encoding["FILL_VALUE"])
        if len(shape) == 1:
            dim1 = var.dims[1]
            if dim1 in ds.coords and ds[dim1].dims == (dim1,) and ds[dim1].dtype.kind in "USO":
                entry["ELEMENT_NAMES"] = [str(x) for x in ds[dim1].values]
            label = f"{name}_label"
            if label in ds.coords and ds[label].dims == (dim1,):
                entry["ELEMENT_LABELS"] = [str(x) for x in ds[label].values]
        header[name] = entry
        blocks.append(block)
        col += block.shape[1]

    for name in ds.variables:
        if name in header or name in _element_coords(ds) or (rdim in ds[name].dims):
            continue
        entry = _entry_from_attrs(ds[name].attrs, name, rdim)
        entry["VALUES"] = _jsonable(np.asarray(ds[name].values))
        header[name] = entry

    stored = ds.encoding.get("json_entries", {})
    for key, value in ds.attrs.items():
        if key in header:
            raise InputError(f"to_json_ascii: Dataset attribute {key!r} has the name of a variable")
        if key in stored and "VALUES" in stored[key]:
            entry = dict(stored[key])
            entry["VALUES"] = _jsonable(value) if isinstance(value, (list, tuple, np.ndarray)) else [_jsonable(value)]
            header[key] = entry
        elif key in stored or (isinstance(value, str) and value.startswith("{") and _is_json_object(value)):
            header[key] = json.loads(value) if isinstance(value, str) else stored[key]
        else:
            header[key] = _jsonable(value)

    lines = ["# " + line for line in json.dumps(header, indent=2).splitlines()]
    lines[-1] = lines[-1] + " End JSON"
    table = np.concatenate(blocks, axis=1) if blocks else np.empty((0, 0), dtype=str)
    body = [" ".join(row) for row in table.tolist()]
    out = Path(path)
    out.write_text("\n".join(lines + body) + "\n")
    return out


def _element_coords(ds: xr.Dataset) -> set:
    """Names of the element coordinates (<var>_dimN, <var>_label) written inside header entries."""
    names = set()
    for name in ds.variables:
        for d in ds[name].dims[1:]:
            if d in ds.coords:
                names.add(d)
        if f"{name}_label" in ds.coords:
            names.add(f"{name}_label")
    return names


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _entry_from_attrs(attrs: dict, name: str, rdim: str) -> dict:
    attrs = dict(attrs)
    entry: dict[str, Any] = {}
    if "DESCRIPTION" not in attrs and "CATDESC" in attrs:
        attrs["DESCRIPTION"] = attrs["CATDESC"]
    if "NAME" not in attrs and "FIELDNAM" in attrs and attrs["FIELDNAM"] != name:
        attrs["NAME"] = attrs["FIELDNAM"]
    for key, value in attrs.items():
        if key == "CATDESC" and value == attrs.get("DESCRIPTION"):
            continue
        if key == "FIELDNAM" and value == attrs.get("NAME", name):
            continue
        if key == "DEPEND_0" and value == rdim:
            continue
        if key == "LABL_PTR_1" and value == f"{name}_label":
            continue
        if key == "VAR_TYPE" and value == ("support_data" if name == rdim else "data"):
            continue
        if key in ("START_COLUMN", "DIMENSION", "ELEMENT_NAMES", "ELEMENT_LABELS"):
            continue
        entry[key] = _jsonable(value)
    return entry
