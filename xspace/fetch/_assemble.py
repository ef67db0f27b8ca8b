"""Assemble one lazy Dataset from consecutive CDF files known only by their metadata.

Input: for every file, its URL and its parsed structure (:class:`xspace.io._cdf.CDFFile` — local,
or remote through :mod:`xspace.fetch._remote`, in which case only header records and the time
variables were fetched). Output: an ISTP-decoded :class:`xarray.Dataset`, the same as
:func:`xspace.open_cdf` would give on the concatenated files, restricted to ``[start, stop)``:

* the time coordinates (``DEPEND_0`` targets) are read now, as numpy (they become indexes);
* every other record-varying variable is a dask array with **one chunk per file**; the chunk's task
  downloads its file through the cache (:func:`xspace.fetch.cache.fetch_file`, on whichever dask
  worker runs it), reads the variable with the CDF engine's own reader and decoder
  (:class:`xspace.io._cdfarray.CDFVariableArray`), and keeps the precomputed records;
* records outside ``[start, stop)`` are dropped, and a record two consecutive files both hold (the
  duplicated boundary record of daily files) is kept once: from the file whose period it belongs to
  (``boundary="next"``, the default, as CDAWeb's own data service does), or from the earlier file
  (``boundary="first"``);
* non-record-varying variables are taken once, from the first file;
* attributes of a master CDF, when given, are laid over the files' attributes (CDAWeb's rule: the
  master's ISTP metadata wins), except ``FILLVAL``, which stays the file's so decoding is exactly
  :func:`xspace.open_cdf`'s.

The dask graphs are written directly (one layer per variable, one task per file): building the
Dataset of a year of daily files costs milliseconds, where ``xr.concat`` of 365 Datasets would
cost seconds.

Examples
--------
>>> import numpy as np
>>> from xspace.data import get_path
>>> from xspace.io._cdfarray import cdf_file
>>> path = get_path("ac_k2_mfi_20220101_v03.cdf")
>>> ds = assemble([FileRef(path, cdf_file(path))], np.datetime64("2022-01-01T05:00"),
...               np.datetime64("2022-01-01T08:00"), fetch=lambda url, size: url)
>>> ds.sizes["Epoch"], type(ds["Magnitude"].data).__module__.split(".")[0]
(3, 'dask')
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import xarray as xr

from ..errors import InputError, ProductNotFound
from ..io import _cdf
from ..io._cdfarray import CDFVariableArray, Decoder
from ..io.backend import _Layout, _attr_value, _str_attr, _variable_attrs, _variable_encoding

__all__ = ["FileRef", "assemble", "read_piece", "read_piece_at", "related_variables"]

_LINKS = ("DEPEND_", "LABL_PTR_")
_DELTAS = ("DELTA_PLUS_VAR", "DELTA_MINUS_VAR")


@dataclass
class FileRef:
    """One file of the request: where to download it and its parsed structure.

    Parameters
    ----------
    url : str
        URL (or local path) passed to the download function of the dask tasks.
    cdf : xspace.io._cdf.CDFFile
        Parsed structure (local or remote).
    size : int, optional
        Expected size in bytes (checked by the download).
    """

    url: str
    cdf: Any
    size: int | None = None
    times: dict = field(default_factory=dict)  # decoded time variables (name -> datetime64 array), memo


# --------------------------------------------------------------------------------------------- reading
def load_now(obj):
    """``obj.load()``, with dask's threaded scheduler unless the user chose a scheduler.

    A first ``.load()`` otherwise imports ``dask.distributed`` (about 0.3 s) only to learn that no
    ``Client`` is active — and none can be while ``distributed`` is not imported. With ``distributed``
    imported or a scheduler configured, dask's own choice is kept.

    Examples
    --------
    >>> import dask.array as da
    >>> load_now(xr.DataArray(da.arange(3, chunks=2))).values.tolist()
    [0, 1, 2]
    """
    import sys

    import dask

    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:
        return obj.load()
    import dask.threaded

    return obj.load(scheduler=dask.threaded.get)


def _pad(f, v, dtype):
    raw = np.empty((), dtype=dtype)
    raw[...] = f._pad_value(v, dtype)
    return raw


def read_decoded(f, v: _cdf.VariableInfo, decoder: Decoder, nrec: int | None, start: int, stop: int) -> np.ndarray:
    """Decoded records ``[start, stop)`` of ``v`` from any parsed file (what ``CDFVariableArray`` returns).

    ``nrec`` None: a non-record-varying variable (its single value). Records beyond the variable's
    own count (virtual records) read as NaN/NaT like the CDF engine's.
    """
    if nrec is None:
        if v.max_rec >= 0:
            return decoder(f.read_records(v, 0, 1)[0])
        dtype = _cdf.raw_dtype(v.cdf_type, v.num_elements, True).newbyteorder("=")
        raw = np.empty(v.shape, dtype=dtype)
        raw[...] = f._pad_value(v, dtype)
        return decoder(raw)
    own = min(stop, v.nrec)
    raw = f.read_records(v, start, max(own, start))
    if stop > own:
        pad = np.empty((stop - max(own, start),) + raw.shape[1:], dtype=raw.dtype)
        pad[...] = f._pad_value(v, raw.dtype)
        raw = np.concatenate([raw, pad])
    out = decoder(raw)
    if stop > own and out.dtype.kind in "fcM":
        out[max(own, start) - start :] = np.datetime64("NaT") if out.dtype.kind == "M" else np.nan
    return out


def read_piece(fetch, url, size, name, nrec, shape, decoder, lo, hi, index, dtype):
    """dask task: download one file (through the cache) and read the kept records of one variable.

    Parameters
    ----------
    fetch : callable
        ``fetch(url, size) -> local path`` (module-level function, so the task pickles).
    url, size : str, int or None
        The file and its expected size.
    name : str
        Variable name.
    nrec : int
        Records presented for the variable in this file (virtual records included).
    shape : tuple
        Shape of one record.
    decoder : xspace.io._cdfarray.Decoder
    lo, hi : int
        Record range read.
    index : numpy.ndarray or None
        Records kept, relative to ``lo`` (None: all of ``[lo, hi)``).
    dtype : numpy.dtype
        Output dtype (the same for every chunk of the variable).
    """
    path = fetch(url, size)
    arr = CDFVariableArray(str(path), name, nrec, decoder, shape)
    out = arr._read(lo, hi)
    if index is not None:
        out = out[index]
    return out.astype(dtype, copy=False)


#: Parsed local files this process holds anyway (the providers' memo of opened files), by absolute path:
#: a chunk task of this process reads through them instead of parsing the file again.
_LOCAL_FILES: "weakref.WeakValueDictionary[str, _cdf.CDFFile]" = weakref.WeakValueDictionary()


def remember_local(f) -> None:
    """Let chunk tasks of this process read the parsed local file ``f`` (kept alive by its owner)."""
    src = getattr(f, "src", None)
    if isinstance(src, _cdf._Source) and src.data is None:
        _LOCAL_FILES[os.path.abspath(src.path)] = f


_PARSE_LOCKS = [threading.Lock() for _ in range(64)]


def _parsed(path: str):
    """The parsed file at ``path``: one this process holds, else parsed once (the chunk tasks of a
    file's variables run together right after its download: without the lock each would parse it)."""
    from ..io._cdfarray import cdf_file

    key = os.path.abspath(path)
    f = _LOCAL_FILES.get(key)
    if f is not None:
        return f
    with _PARSE_LOCKS[hash(key) % len(_PARSE_LOCKS)]:
        f = _LOCAL_FILES.get(key)
        if f is None:
            try:
                f = cdf_file(key)  # kept alive by the CDF engine's cache of parsed files
            except Exception:
                return None  # the engine's own reader raises its own error
            if getattr(f, "whole_file_compression", None) is None:
                _LOCAL_FILES[key] = f
    return f


def read_piece_at(path, name, nrec, shape, decoder, lo, hi, index, dtype):
    """dask task: the kept records of one variable of the local file ``path``.

    ``path`` is the result of the file's download task (one per file, shared by the variables of the
    file): dask then reads a file's variables one after the other, while its parsed structure is
    still in memory, and a dask.distributed cluster reads them where the file was downloaded.
    A file this process already parsed (:func:`remember_local`) is not parsed again.
    """
    f = _parsed(str(path))
    v = f.variables.get(name) if f is not None else None
    if v is not None:
        out = read_decoded(f, v, decoder, nrec, lo, hi)
    else:
        out = CDFVariableArray(str(path), name, nrec, decoder, shape)._read(lo, hi)
    if index is not None:
        out = out[index]
    return out.astype(dtype, copy=False)


def _missing_piece(n, shape, dtype):
    """dask task: records of a variable absent from one file (NaN/NaT, or zeros for other types)."""
    out = np.zeros((n,) + tuple(shape), dtype=dtype)
    if dtype.kind == "f" or dtype.kind == "c":
        out[...] = np.nan
    elif dtype.kind == "M":
        out[...] = np.datetime64("NaT")
    return out


# ------------------------------------------------------------------------------------------ selection
def related_variables(f, names: Iterable[str]) -> list[str]:
    """``names`` and every variable they reference (DEPEND_i, LABL_PTR_i, DELTA_*), recursively.

    Examples
    --------
    >>> from xspace.data import get_path
    >>> from xspace.io._cdfarray import cdf_file
    >>> related_variables(cdf_file(get_path("ac_k2_mfi_20220101_v03.cdf")), ["BGSEc"])
    ['BGSEc', 'Epoch', 'cartesian', 'label_BGSE']
    """
    out: list[str] = []
    todo = list(names)
    while todo:
        n = todo.pop(0)
        if n in out or n not in f.variables:
            continue
        out.append(n)
        for key in sorted(f.variables[n].attrs):
            if key.startswith(_LINKS) or key in _DELTAS:
                target = _str_attr(f.variables[n].attrs, key)
                if target and target in f.variables and target not in out:
                    todo.append(target)
    return out


def _times(ref: FileRef, name: str, nrec: int, decode_times: bool) -> np.ndarray:
    key = (name, nrec)
    hit = ref.times.get(key)
    if hit is not None:
        return hit
    f = ref.cdf
    v = f.variables[name]
    dec = Decoder(v, decode_times=True, mask_fill=True, mask_valid_range=False, little=f.little)
    values = read_decoded(f, v, dec, nrec, 0, nrec)
    ref.times[key] = values
    return values


def prefetch_times(ref: FileRef) -> None:
    """Read (and memoise) every time variable that is a DEPEND_0 target, at its full record count."""
    f = ref.cdf
    targets = {_str_attr(v.attrs, "DEPEND_0") for v in f.variables.values() if v.record_varying}
    for name in targets:
        v = f.variables.get(name)
        if v is not None and v.record_varying and v.cdf_type in _cdf.TIME_TYPES and v.shape == ():
            nrec = max((w.nrec for w in f.variables.values()
                        if w.record_varying and _str_attr(w.attrs, "DEPEND_0") == name), default=v.nrec)
            _times(ref, name, max(nrec, v.nrec), True)


def _selection(mask: np.ndarray):
    """(lo, hi, index-or-None) of the True entries of ``mask``."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return 0, 0, None
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if hi - lo == idx.size:
        return lo, hi, None
    return lo, hi, idx - lo


def _dask_array(key: str, tasks: list, chunks: tuple, dtype: np.dtype, ndim: int, files=None):
    """A dask array with one task per chunk along the first axis; ``files``: (layer name, layer) of the
    download tasks the chunk tasks depend on."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    rest = (0,) * (ndim - 1)
    dsk = {(key, i) + rest: task for i, task in enumerate(tasks)}
    if files is None:
        graph = HighLevelGraph.from_collections(key, dsk, dependencies=())
    else:
        fname, fdsk = files
        graph = HighLevelGraph({fname: fdsk, key: dsk}, {fname: set(), key: {fname}})
    return da.Array(graph, key, chunks, dtype=dtype, meta=np.empty((0,) * ndim, dtype=dtype))


# ------------------------------------------------------------------------------------------ assembly
def assemble(
    files: list[FileRef],
    start: np.datetime64,
    stop: np.datetime64,
    *,
    fetch: Callable[[str, int | None], str],
    variables: list[str] | None = None,
    master=None,
    include_ignore_data: bool = False,
    product: str = "",
    boundary: str = "next",
) -> xr.Dataset:
    """Build the lazy Dataset of ``files`` restricted to ``[start, stop)``.

    Parameters
    ----------
    files : list of FileRef
        Consecutive files, in time order (may be empty: then ``master`` gives the structure).
    start, stop : numpy.datetime64
        The interval ``[start, stop)``.
    fetch : callable
        ``fetch(url, size) -> local path``; called by the dask tasks. Must be a module-level
        function for the tasks to pickle.
    variables : list of str, optional
        Variables to return (with everything they reference); default: every variable.
    master : xspace.io._cdf.CDFFile, optional
        Master CDF whose attributes win over the files' (and whose structure is used when no file
        has data).
    include_ignore_data : bool
        Keep ``VAR_TYPE="ignore_data"`` variables.
    product : str
        Name used in error messages.
    boundary : {"first", "next"}
        Which copy of a record two consecutive files both hold (the boundary record of daily files)
        is kept: ``"next"`` (default) gives the records from the next file's first time on to the next
        file (what CDAWeb's ``data`` service does); ``"first"`` drops, at the start of a file, the
        records not after the last time kept from the previous file. The values differ only when the
        two files disagree (e.g. one of them was reprocessed).

    Returns
    -------
    xarray.Dataset
        Time coordinates in memory; other record-varying variables dask-backed, one chunk per file.
    """
    start = np.datetime64(start, "ns")
    stop = np.datetime64(stop, "ns")
    structure = files[0].cdf if files else master
    if structure is None:
        return xr.Dataset()
    layout = _Layout(structure, include_ignore_data)
    if variables is not None:
        for name in variables:
            if name not in structure.variables:
                import difflib

                close = difflib.get_close_matches(name, list(structure.variables), n=5, cutoff=0.5)
                hint = f"; close matches: {', '.join(close)}" if close else ""
                raise ProductNotFound(f"{product}: no variable {name!r} in this dataset{hint}")
        wanted = related_variables(structure, variables)
        keep = [n for n in structure.variables if n in wanted]
    else:
        keep = [n for n in structure.variables if layout.role[n] != "drop"]
    dims_of = {n: layout.dims[n] for n in keep}
    svars = structure.variables
    rv = [n for n in keep if svars[n].record_varying]
    record_dims = []
    for n in rv:
        if dims_of[n][0] not in record_dims:
            record_dims.append(dims_of[n][0])

    def is_time_dim(f, d):
        v = f.variables.get(d)
        return v is not None and v.record_varying and v.cdf_type in _cdf.TIME_TYPES and v.shape == ()

    # ---- per file, per record dimension: records kept
    active = files if files else []
    sel: list[dict[str, tuple]] = []  # per file: dim -> (lo, hi, index, count, nrec)
    time_parts: dict[str, list[np.ndarray]] = {d: [] for d in record_dims}
    prev_last: dict[str, np.datetime64] = {}
    used: set[str] = set()
    # first pass: records and times of every file
    info: list[dict[str, tuple]] = []  # per file: dim -> (nrec, times or None)
    for ref in active:
        f = ref.cdf
        per_info: dict[str, tuple] = {}
        for d in record_dims:
            members = [n for n in rv if dims_of[n][0] == d and n in f.variables and f.variables[n].record_varying]
            nrec = max((f.variables[n].nrec for n in members), default=0)
            t = None
            if is_time_dim(f, d):
                nrec = max(nrec, f.variables[d].nrec)
                t = _times(ref, d, nrec, True)
            per_info[d] = (nrec, t)
        info.append(per_info)
    # the first time of the next file holding records, per file and dimension ("next" rule)
    next_first: list[dict[str, np.datetime64]] = [{} for _ in active]
    if boundary not in ("first", "next"):
        raise InputError(f"{product}: boundary={boundary!r}; expected 'first' or 'next'")
    if boundary == "next":
        upcoming: dict[str, np.datetime64] = {}
        for i in range(len(active) - 1, -1, -1):
            next_first[i] = dict(upcoming)
            for d, (_, t) in info[i].items():
                if t is not None:
                    valid = t[~np.isnat(t)]
                    if valid.size:
                        upcoming[d] = valid.min()
    # second pass: records kept
    for i, ref in enumerate(active):
        per: dict[str, tuple] = {}
        for d in record_dims:
            nrec, t = info[i][d]
            if t is not None:
                mask = (t >= start) & (t < stop)
                last = prev_last.get(d)
                if last is not None:
                    mask &= t > last
                nxt = next_first[i].get(d)
                if nxt is not None:
                    mask &= t < nxt
                lo, hi, index = _selection(mask)
                count = int(mask.sum())
                if count:
                    used.add(ref.url)
                    kept = t[lo:hi] if index is None else t[lo:hi][index]
                    time_parts[d].append(kept)
                    prev_last[d] = kept.max()
            else:
                lo, hi, index, count = 0, nrec, None, nrec
                if count:
                    used.add(ref.url)
            per[d] = (lo, hi, index, count, nrec)
        sel.append(per)

    # ---- variables
    data_vars: dict[str, xr.Variable] = {}
    coords: dict[str, xr.Variable] = {}
    mvars = master.variables if master is not None else {}

    def attrs_of(n, v, decoder):
        moved = ["FILLVAL"] if decoder.removed_fill is not None else []
        attrs = _variable_attrs(v, True, moved)
        mv = mvars.get(n)
        if mv is not None and mv is not v:
            for key, value in mv.attrs.items():
                if key == "FILLVAL":
                    continue
                attrs[key] = _attr_value(value, mv.attr_types.get(key, 0), True)
        return attrs

    # one download task per file, shared by the chunk tasks of every variable read from it
    where = repr(getattr(fetch, "keywords", None) or getattr(fetch, "__qualname__", ""))
    files_name = "cdf-files-" + hashlib.sha1("|".join(
        [where] + [f"{r.url}:{r.size}" for r in active]).encode()).hexdigest()[:20]
    files_dsk = {(files_name, j): (fetch, ref.url, ref.size) for j, ref in enumerate(active)}
    file_key = {ref.url: (files_name, j) for j, ref in enumerate(active)}

    for n in keep:
        v = svars[n]
        decoder = Decoder(v, decode_times=True, mask_fill=True, mask_valid_range=False, little=structure.little)
        dims = dims_of[n]
        if not v.record_varying:
            values = read_decoded(structure, v, decoder, None, 0, 1)
            var = xr.Variable(dims, values, attrs_of(n, v, decoder))
        elif n in time_parts and is_time_dim(structure, n):
            parts = time_parts[n]
            values = np.concatenate(parts) if parts else np.empty((0,), dtype="datetime64[ns]")
            var = xr.Variable(dims, values, attrs_of(n, v, decoder))
        else:
            d = dims[0]
            pieces, sizes, dtypes, ident = [], [], [], []
            for ref, per in zip(active, sel):
                lo, hi, index, count, nrec = per[d]
                if count == 0:
                    continue
                fv = ref.cdf.variables.get(n)
                if fv is None or not fv.record_varying or fv.shape != v.shape:
                    pieces.append((_missing_piece, count, v.shape))
                else:
                    dec = decoder if ref.cdf is structure else Decoder(
                        fv, decode_times=True, mask_fill=True, mask_valid_range=False, little=ref.cdf.little)
                    dtypes.append(dec.dtype)
                    pieces.append((read_piece_at, file_key[ref.url], n, nrec, v.shape, dec, lo, hi, index))
                sizes.append(count)
                ident.append(f"{ref.url}:{lo}:{hi}:{count}")
            dtype = np.result_type(*dtypes) if dtypes else decoder.dtype
            if not pieces:
                values = np.empty((0,) + v.shape, dtype=dtype)
            else:
                chunks = (tuple(sizes),) + tuple((s,) for s in v.shape)
                token = hashlib.sha1("|".join([n, str(dtype), where] + ident).encode()).hexdigest()[:20]
                # the download layer of the files this variable reads (named after them: variables
                # reading the same files share it, hence share the download tasks)
                js = sorted({p[1][1] for p in pieces if p[0] is read_piece_at})
                lname = f"{files_name}-{hashlib.sha1(repr(js).encode()).hexdigest()[:8]}"
                layer = {(lname, j): files_dsk[(files_name, j)] for j in js}
                tasks = [(p[0], (lname, p[1][1])) + p[2:] + (dtype,) if p[0] is read_piece_at else p + (dtype,)
                         for p in pieces]
                values = _dask_array(f"cdf-{n}-{token}", tasks, chunks, dtype, 1 + len(v.shape),
                                     files=(lname, layer))
            var = xr.Variable(dims, values, attrs_of(n, v, decoder))
        var.encoding = _variable_encoding(v, decoder)
        role = layout.role[n]
        if variables is not None and n in variables and n not in record_dims:
            role = "data"  # asked for by name (a time axis asked for stays its dimension's coordinate)
        (data_vars if role == "data" else coords)[n] = var

    ds_attrs = {}
    sources = [master, structure] if master is not None and master is not structure else [structure]
    for src in sources:
        for key, values in src.global_attrs.items():
            types = src.global_attr_types.get(key, [])
            decoded = [_attr_value(val, t, True) for val, t in zip(values, types)]
            ds_attrs[key] = decoded[0] if len(decoded) == 1 else decoded
    ds = xr.Dataset(data_vars, coords=coords, attrs=ds_attrs)
    ds.encoding = {
        "source": [r.url for r in active if r.url in used],  # the files holding records of the result
        "cdf_version": structure.version,
        "cdf_majority": "row" if structure.row_major else "column",
        "cdf_encoding": structure.encoding,
    }
    return ds
