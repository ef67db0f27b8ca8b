"""The lazy array behind every CDF variable: reads and decodes record ranges on access.

A :class:`CDFVariableArray` holds only the file path and decoding settings; the parsed file
structure is cached per process (:func:`cdf_file`), so the array pickles to dask.distributed workers
(which re-parse the file's metadata once, in milliseconds). Reads use ``os.pread`` on a shared
descriptor and are thread-safe; every read returns a new array (never a view of a buffer).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ..errors import CDFFormatError
from . import _cdf

_FILES: OrderedDict[tuple, _cdf.CDFFile] = OrderedDict()
_FILES_LOCK = threading.Lock()
_MAX_OPEN = 128


def cdf_file(path: str) -> _cdf.CDFFile:
    """The parsed :class:`~xspace.io._cdf.CDFFile` of ``path``, cached per process.

    The cache key includes the file's size and modification time, so a file replaced on disk is
    parsed again.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CDFFormatError(f"{path}: cannot open: {exc.strerror or exc}") from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _FILES_LOCK:
        f = _FILES.get(key)
        if f is not None:
            _FILES.move_to_end(key)
            return f
    f = _cdf.CDFFile(path)
    with _FILES_LOCK:
        _FILES[key] = f
        while len(_FILES) > _MAX_OPEN:
            _, old = _FILES.popitem(last=False)
            old.close()
    return f


def _is_standard_time_fill(cdf_type: int, fill) -> bool:
    try:
        if cdf_type == _cdf.CDF_TIME_TT2000:
            return int(fill) == -9223372036854775808
        if cdf_type == _cdf.CDF_EPOCH:
            return float(fill) == -1e31
    except (TypeError, ValueError, OverflowError):
        return False
    return False


class Decoder:
    """What to do with raw values of one variable: time decoding, fill and valid-range masking."""

    def __init__(self, var: _cdf.VariableInfo, *, decode_times: bool, mask_fill: bool, mask_valid_range: bool,
                 little: bool):
        self.cdf_type = var.cdf_type
        self.name = var.name
        raw = _cdf.raw_dtype(var.cdf_type, var.num_elements, little).newbyteorder("=")
        self.raw_dtype = raw
        self.time = decode_times and var.cdf_type in _cdf.TIME_TYPES
        self.char = raw.kind == "S"
        fill = var.attrs.get("FILLVAL") if not self.char else None
        self.fill = None
        if fill is not None and np.ndim(fill) == 0 and (mask_fill or self.time):
            self.fill = fill
        # the FILLVAL that decoding removes (goes to .encoding), whether or not it needs its own comparison
        self.removed_fill = self.fill
        if self.time and self.fill is not None and _is_standard_time_fill(var.cdf_type, self.fill):
            self.fill = None  # the time decoders already turn the standard fill into NaT: skip a pass
        self.valid = None
        if mask_valid_range and not self.char:
            vmin, vmax = var.attrs.get("VALIDMIN"), var.attrs.get("VALIDMAX")
            if vmin is not None and vmax is not None:
                self.valid = (vmin, vmax)
        if self.time:
            self.dtype = np.dtype("datetime64[ns]")
        elif self.char:
            self.dtype = np.dtype(f"U{var.num_elements}")
        elif self.fill is not None or self.valid is not None:
            self.dtype = raw if raw.kind == "f" else np.dtype("float64")
        else:
            self.dtype = raw
        self.masks = self.fill is not None or self.valid is not None or self.time

    def fill_mask(self, raw: np.ndarray) -> np.ndarray | None:
        """Where raw values equal FILLVAL, compared at the FILLVAL's own precision."""
        fill = self.fill
        if fill is None:
            return None
        if self.cdf_type == _cdf.CDF_EPOCH16:
            f = np.asarray(fill)
            if f.dtype.kind == "c":
                return raw == f
            return None
        fd = np.asarray(fill).dtype
        if raw.dtype.kind == "f" and fd.kind == "f":
            prec = np.float32 if min(raw.dtype.itemsize, fd.itemsize) == 4 else np.float64
            with np.errstate(over="ignore", invalid="ignore"):
                return raw.astype(prec, copy=False) == prec(fill)
        if raw.dtype.kind in "iu":
            try:
                value = int(fill)
            except (TypeError, ValueError, OverflowError):
                return None
            info = np.iinfo(raw.dtype)
            if not info.min <= value <= info.max:
                return None
            return raw == raw.dtype.type(value)
        try:
            return raw == raw.dtype.type(fill)
        except (TypeError, ValueError, OverflowError):
            return None

    def valid_mask(self, raw: np.ndarray) -> np.ndarray | None:
        """Where raw values lie outside [VALIDMIN, VALIDMAX] (compared in the raw type; not for EPOCH16)."""
        if self.valid is None or raw.dtype.kind == "c":
            return None
        lo, hi = (np.asarray(v) for v in self.valid)
        if lo.dtype.kind not in "iuf" or hi.dtype.kind not in "iuf":
            return None
        try:
            with np.errstate(invalid="ignore"):
                return np.broadcast_to((raw < lo) | (raw > hi), raw.shape)
        except ValueError:
            return None  # VALIDMIN/VALIDMAX of a shape that does not broadcast: not applied

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.char:
            out = np.char.decode(raw, "utf-8", errors="replace") if raw.size else raw.astype(self.dtype)
            return out.astype(self.dtype, copy=False)
        mask = self.fill_mask(raw)
        if self.time:
            from .. import time as xtime

            bad = self.valid_mask(raw)
            if self.cdf_type == _cdf.CDF_TIME_TT2000:
                # raw is a fresh buffer of this read (masks were taken above): decode it in place
                out = xtime.decode_tt2000_inplace(raw)
            elif self.cdf_type == _cdf.CDF_EPOCH:
                out = xtime.epoch_to_datetime64(raw)
            else:
                out = xtime.epoch16_to_datetime64(raw)
            if mask is not None and mask.any():
                out = np.where(mask, np.datetime64("NaT", "ns"), out)
            if bad is not None and bad.any():
                out = np.where(bad, np.datetime64("NaT", "ns"), out)
            return out
        out = raw.astype(self.dtype, copy=True) if raw.dtype != self.dtype else raw
        if mask is not None and mask.any():
            out[mask] = np.nan
        bad = self.valid_mask(raw)
        if bad is not None and bad.any():
            out[bad] = np.nan
        return out


class CDFVariableArray(BackendArray):
    """Lazily read, decoded values of one CDF variable (xarray ``BackendArray``).

    Parameters
    ----------
    path : str
        The CDF file.
    name : str
        Variable name.
    nrec : int or None
        Number of records to present (may exceed the variable's own count when other variables of
        the same time base have more: records never written read as fill). None: not record varying.
    decoder : Decoder
    """

    def __init__(self, path: str, name: str, nrec: int | None, decoder: Decoder, shape: tuple[int, ...]):
        self.path = path
        self.name = name
        self.nrec = nrec
        self.decoder = decoder
        self.shape = ((nrec,) if nrec is not None else ()) + tuple(shape)
        self.dtype = decoder.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._getitem
        )

    def _read(self, start: int, stop: int) -> np.ndarray:
        f = cdf_file(self.path)
        var = f.variables.get(self.name)
        if var is None:
            raise CDFFormatError(f"{self.path}: variable {self.name!r} vanished from the file (file replaced?)")
        if self.nrec is None:
            if var.max_rec >= 0:
                return self.decoder(f.read_records(var, 0, 1)[0])
            return self.decoder(self._empty_nrv(var, f))
        own = min(stop, var.nrec)
        raw = f.read_records(var, start, max(own, start))
        if stop > own:  # virtual records beyond this variable's last record
            pad = np.empty((stop - max(own, start),) + raw.shape[1:], dtype=raw.dtype)
            pad[...] = f._pad_value(var, raw.dtype)
            raw = np.concatenate([raw, pad])
        out = self.decoder(raw)
        if stop > own and out.dtype.kind in "fcM":
            out[max(own, start) - start :] = np.datetime64("NaT") if out.dtype.kind == "M" else np.nan
        return out

    def _empty_nrv(self, var, f):
        raw = np.empty(var.shape, dtype=_cdf.raw_dtype(var.cdf_type, var.num_elements, True).newbyteorder("="))
        raw[...] = f._pad_value(var, raw.dtype)
        return raw

    def _getitem(self, key: tuple) -> np.ndarray:
        if self.nrec is None:
            return np.asarray(self._read(0, 1)[key])
        k0, rest = key[0], key[1:]
        if isinstance(k0, (int, np.integer)):
            i = int(k0) + (self.nrec if k0 < 0 else 0)
            return self._read(i, i + 1)[(0,) + rest]
        if isinstance(k0, slice):
            start, stop, step = k0.indices(self.nrec)
            if step < 0:
                idx = np.arange(start, stop, step)
                if idx.size == 0:
                    return self._read(0, 0)[(slice(None),) + rest]
                block = self._read(int(idx.min()), int(idx.max()) + 1)
                return block[(idx - idx.min(),) + rest]
            if stop <= start:
                return self._read(0, 0)[(slice(None),) + rest]
            block = self._read(start, stop)
            return block[(slice(None, None, step),) + rest] if step != 1 or rest else block
        idx = np.asarray(k0)
        if idx.size == 0:
            return self._read(0, 0)[(slice(None),) + rest]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        block = self._read(lo, hi)
        return block[(idx - lo,) + rest]
