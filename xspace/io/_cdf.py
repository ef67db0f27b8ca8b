"""A CDF file parser written for lazy, record-range reads.

This module reads the internal records of a CDF file (CDR, GDR, VDR, VXR, VVR, CVVR, CPR, CCR,
ADR, AEDR; CDF 2.x and 3.x) and builds, for every variable, the list of blocks that hold its
records with their byte offsets. It reads data by record range: for uncompressed variables only
the bytes of the requested records are read (``os.preadv`` into the output buffer); for compressed
variables only the blocks intersecting the request are inflated. It never trusts a length or an
offset it has not checked against the file size, so a truncated or corrupted file raises
:class:`~xspace.errors.CDFFormatError` instead of hanging, allocating garbage sizes or returning a
wrong array.

Not supported (they raise ``CDFFormatError`` naming the feature): VAX/Alpha-VMS floating-point
encodings, Huffman and adaptive-Huffman compression (never seen in ISTP archives).

The layout follows the "CDF Internal Format Description" (NASA/GSFC, CDF 3.9).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CDFFormatError

# --------------------------------------------------------------------------------------------- types
CDF_INT1, CDF_INT2, CDF_INT4, CDF_INT8 = 1, 2, 4, 8
CDF_UINT1, CDF_UINT2, CDF_UINT4 = 11, 12, 14
CDF_REAL4, CDF_REAL8 = 21, 22
CDF_EPOCH, CDF_EPOCH16, CDF_TIME_TT2000 = 31, 32, 33
CDF_BYTE, CDF_FLOAT, CDF_DOUBLE = 41, 44, 45
CDF_CHAR, CDF_UCHAR = 51, 52

#: CDF data type code -> (numpy kind+size without byte order, item size in bytes)
TYPES: dict[int, tuple[str, int]] = {
    CDF_INT1: ("i1", 1), CDF_INT2: ("i2", 2), CDF_INT4: ("i4", 4), CDF_INT8: ("i8", 8),
    CDF_UINT1: ("u1", 1), CDF_UINT2: ("u2", 2), CDF_UINT4: ("u4", 4),
    CDF_REAL4: ("f4", 4), CDF_REAL8: ("f8", 8), CDF_FLOAT: ("f4", 4), CDF_DOUBLE: ("f8", 8),
    CDF_EPOCH: ("f8", 8), CDF_EPOCH16: ("c16", 16), CDF_TIME_TT2000: ("i8", 8),
    CDF_BYTE: ("i1", 1), CDF_CHAR: ("S", 1), CDF_UCHAR: ("S", 1),
}
TYPE_NAMES = {
    1: "CDF_INT1", 2: "CDF_INT2", 4: "CDF_INT4", 8: "CDF_INT8", 11: "CDF_UINT1", 12: "CDF_UINT2",
    14: "CDF_UINT4", 21: "CDF_REAL4", 22: "CDF_REAL8", 31: "CDF_EPOCH", 32: "CDF_EPOCH16",
    33: "CDF_TIME_TT2000", 41: "CDF_BYTE", 44: "CDF_FLOAT", 45: "CDF_DOUBLE", 51: "CDF_CHAR",
    52: "CDF_UCHAR",
}
TIME_TYPES = (CDF_EPOCH, CDF_EPOCH16, CDF_TIME_TT2000)

#: default pad values of the CDF library (used for records never written)
DEFAULT_PAD = {
    "i1": -127, "i2": -32767, "i4": -2147483647, "i8": -9223372036854775807,
    "u1": 254, "u2": 65534, "u4": 4294967294, "f4": -1.0e30, "f8": -1.0e30,
}

_LITTLE_ENCODINGS = {4, 6, 13, 16, 17, 19}  # DECSTATION, IBMPC, ALPHAOSF1, ALPHAVMSi, ARM_LITTLE, IA64VMSi
_BIG_ENCODINGS = {1, 2, 5, 7, 9, 10, 11, 12, 18}  # NETWORK, SUN, SGi, IBMRS, PPC, MAC, HP, NeXT, ARM_BIG
_ENCODING_NAMES = {3: "VAX", 14: "ALPHAVMSd", 15: "ALPHAVMSg", 20: "IA64VMSd", 21: "IA64VMSg"}

_COMPRESSIONS = {0: None, 1: "rle", 2: "huffman", 3: "ahuffman", 5: "gzip"}

_MAX_DIMS = 10
_MAX_VXR_DEPTH = 32


def raw_dtype(cdf_type: int, num_elements: int, little: bool) -> np.dtype:
    """numpy dtype of one stored element of a CDF type in the file's byte order."""
    code, size = TYPES[cdf_type]
    if code == "S":
        return np.dtype(f"S{num_elements}")
    if code == "c16":  # EPOCH16: two float64 (seconds, picoseconds)
        return np.dtype(("<" if little else ">") + "c16")
    if size == 1:
        return np.dtype(code)
    return np.dtype(("<" if little else ">") + code)


# ------------------------------------------------------------------------------------------ records
@dataclass
class Block:
    """A run of stored records [first, last] at a file offset (VVR data start, or CVVR)."""

    first: int
    last: int
    offset: int  # offset of the record data (after the VVR header) or of the CVVR record
    compressed: bool
    csize: int = 0  # compressed byte count (CVVR)


@dataclass
class VariableInfo:
    """Everything the reader needs to know about one variable."""

    name: str
    num: int
    zvariable: bool
    cdf_type: int
    num_elements: int
    max_rec: int  # last record written (-1: none)
    record_varying: bool
    dims: tuple[int, ...]  # all CDF dims (before variance)
    dim_varys: tuple[bool, ...]
    shape: tuple[int, ...]  # stored (varying) dims
    compression: str | None
    compression_level: int
    blocking_factor: int
    sparse_records: int  # 0 none, 1 pad, 2 previous
    pad: Any
    vxr_head: int = 0
    blocks: list[Block] | None = None  # read on first data access (CDFFile.blocks)
    attrs: dict[str, Any] = field(default_factory=dict)
    attr_types: dict[str, int] = field(default_factory=dict)

    @property
    def nrec(self) -> int:
        """Number of records (1 for non-record-varying variables that were written)."""
        if not self.record_varying:
            return 1 if self.max_rec >= 0 else 0
        return self.max_rec + 1


class _Source:
    """Random access to the bytes of the (possibly whole-file decompressed) file, thread-safe."""

    def __init__(self, path: str, data: bytes | None = None):
        self.path = path
        self.data = data
        self._fd: int | None = None
        self._lock = threading.Lock()
        if data is None:
            self.size = os.path.getsize(path)
        else:
            self.size = len(data)

    def _fileno(self) -> int:
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._fd

    def check(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise CDFFormatError(
                f"{self.path}: {what} at byte {offset} (+{size}) lies outside the file "
                f"({self.size} bytes): the file is truncated or corrupted"
            )

    # While the structure is parsed, small reads are served from a read-ahead window: metadata
    # records cluster, so this turns thousands of pread calls into a few.
    _window: tuple[int, bytes] | None = None
    WINDOW = 1 << 13

    def read(self, offset: int, size: int, what: str) -> bytes:
        self.check(offset, size, what)
        if self.data is not None:
            return self.data[offset : offset + size]
        win = self._window
        if win is not None and size <= self.WINDOW:
            start, buf = win
            if not (start <= offset and offset + size <= start + len(buf)):
                buf = os.pread(self._fileno(), self.WINDOW, offset)
                start = offset
                self._window = (start, buf)
            out = buf[offset - start : offset - start + size]
            if len(out) == size:
                return out
        out = os.pread(self._fileno(), size, offset)
        if len(out) != size:
            raise CDFFormatError(f"{self.path}: short read of {what} at byte {offset}: file changed or truncated")
        return out

    def readinto(self, buffer: memoryview, offset: int, what: str) -> None:
        size = buffer.nbytes
        self.check(offset, size, what)
        if self.data is not None:
            buffer[:] = self.data[offset : offset + size]
            return
        got = os.preadv(self._fileno(), [buffer], offset)
        if got != size:
            raise CDFFormatError(f"{self.path}: short read of {what} at byte {offset}: file changed or truncated")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def __del__(self):  # pragma: no cover - best effort
        self.close()


# ------------------------------------------------------------------------------------ decompression
_POOL = None
_POOL_LOCK = threading.Lock()


def _inflate_pool():
    """A process-wide thread pool for inflating compressed blocks in parallel."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 1), thread_name_prefix="xspace-inflate")
    return _POOL


def _inflate(data: bytes, expected: int | None, what: str, path: str) -> bytes:
    """gzip/zlib inflate with a bounded output size."""
    try:
        d = zlib.decompressobj(zlib.MAX_WBITS | 32)  # auto-detect gzip or zlib header
        limit = expected if expected is not None else 0
        out = d.decompress(data, limit) if limit else d.decompress(data)
        if expected is not None and d.unconsumed_tail and len(out) >= expected:
            raise CDFFormatError(f"{path}: {what}: more decompressed data than the {expected} bytes declared")
    except zlib.error as exc:
        raise CDFFormatError(f"{path}: {what}: corrupted gzip data ({exc})") from None
    if expected is not None and len(out) != expected:
        raise CDFFormatError(
            f"{path}: {what}: decompressed to {len(out)} bytes, expected {expected}: corrupted or truncated"
        )
    return out


def _unrle(data: bytes, expected: int | None, what: str, path: str) -> bytes:
    """CDF run-length decoding (runs of zero bytes: 0x00 n -> n+1 zeros), bounded."""
    parts = []
    total = 0
    pos = 0
    n = len(data)
    limit = expected if expected is not None else 1 << 40
    while pos < n:
        z = data.find(b"\x00", pos)
        if z < 0:
            parts.append(data[pos:])
            total += n - pos
            break
        if z > pos:
            parts.append(data[pos:z])
            total += z - pos
        if z + 1 >= n:
            raise CDFFormatError(f"{path}: {what}: RLE data ends inside a run (corrupted)")
        run = data[z + 1] + 1
        parts.append(bytes(run))
        total += run
        pos = z + 2
        if total > limit:
            raise CDFFormatError(f"{path}: {what}: RLE data expands beyond the {limit} bytes declared")
    out = b"".join(parts)
    if expected is not None and len(out) != expected:
        raise CDFFormatError(f"{path}: {what}: RLE-decoded to {len(out)} bytes, expected {expected}")
    return out


def decompress(kind: str | None, data: bytes, expected: int | None, what: str, path: str) -> bytes:
    if kind == "gzip":
        return _inflate(data, expected, what, path)
    if kind == "rle":
        return _unrle(data, expected, what, path)
    if kind is None:
        return data
    raise CDFFormatError(f"{path}: {what}: {kind} compression is not supported by xspace")


# ------------------------------------------------------------------------------------------- parser
class CDFFile:
    """Parsed structure of a CDF file, with thread-safe record-range reads.

    Parameters
    ----------
    path : str or path-like
        The CDF file.

    Examples
    --------
    >>> from xspace.data import get_path
    >>> f = CDFFile(get_path("ac_k2_mfi_20220101_v03.cdf"))
    >>> f.variables["Magnitude"].nrec, f.version
    (24, '3.7.1')
    """

    def __init__(self, path, source=None):
        self.path = os.fspath(path)
        self._given_source = source  # any object with the _Source interface (e.g. HTTP Range reads)
        try:
            self._parse()
        except CDFFormatError:
            raise
        except (struct.error, ValueError, IndexError, OverflowError, KeyError, TypeError, UnicodeError,
                MemoryError, RecursionError) as exc:
            # any inconsistency the explicit checks did not name is still a corrupted file
            raise CDFFormatError(f"{self.path}: corrupted CDF structure ({type(exc).__name__}: {exc})") from None

    def _parse(self) -> None:
        raw = self._given_source
        if raw is None:
            try:
                size = os.path.getsize(self.path)
            except OSError as exc:
                raise CDFFormatError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
            raw = _Source(self.path)
        else:
            size = raw.size
        if size < 8:
            raise CDFFormatError(f"{self.path}: not a CDF file (only {size} bytes)")
        magic1, magic2 = struct.unpack(">II", raw.read(0, 8, "magic number"))
        if magic1 == 0xCDF30001:
            self.v3 = True
        elif magic1 in (0xCDF26002, 0x0000FFFF):
            self.v3 = False
        else:
            raise CDFFormatError(
                f"{self.path}: not a CDF file (magic number {magic1:#010x}, expected 0xcdf30001, "
                "0xcdf26002 or 0x0000ffff)"
            )
        self.whole_file_compression: str | None = None
        self.whole_file_compression_level = 0
        if magic2 == 0xCCCC0001:
            self.src = self._decompress_whole_file(raw)
            raw.close()
        elif magic2 == 0x0000FFFF:
            self.src = raw
            raw._window = (0, b"")
        else:
            raise CDFFormatError(f"{self.path}: unknown second magic number {magic2:#010x}")
        self._o = 8 if self.v3 else 4  # offset and record-size width
        self._ofmt = ">q" if self.v3 else ">i"
        self._namelen = 256 if self.v3 else 64
        self._visited: set[int] = set()
        self._read_cdr()
        self._read_gdr()
        self.variables: dict[str, VariableInfo] = {}
        self._read_vdrs()
        self.global_attrs: dict[str, list[Any]] = {}
        self.global_attr_types: dict[str, list[int]] = {}
        self._read_adrs()
        self.src._window = None
        self._blocks_lock = threading.Lock()
        self._block_cache: dict[tuple[str, int], np.ndarray] = {}
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------ low level
    def _int(self, data: bytes, pos: int) -> int:
        return struct.unpack_from(">i", data, pos)[0]

    def _off(self, data: bytes, pos: int) -> int:
        return struct.unpack_from(self._ofmt, data, pos)[0]

    def _record(self, offset: int, expected_types: tuple[int, ...], what: str, src=None) -> bytes:
        """Read a whole internal record at ``offset`` after checking its size and type."""
        src = src or self.src
        head = src.read(offset, self._o + 4, what)
        rsize = self._off(head, 0)
        rtype = self._int(head, self._o)
        if rtype not in expected_types:
            raise CDFFormatError(
                f"{self.path}: {what} at byte {offset}: record type {rtype}, expected "
                f"{' or '.join(map(str, expected_types))}: the file is corrupted"
            )
        if rsize < self._o + 4 or offset + rsize > src.size:
            raise CDFFormatError(
                f"{self.path}: {what} at byte {offset}: record size {rsize} is impossible for a "
                f"{src.size}-byte file: truncated or corrupted"
            )
        return src.read(offset, rsize, what)

    def _name(self, data: bytes, pos: int) -> str:
        raw = data[pos : pos + self._namelen]
        if len(raw) < self._namelen:
            raise CDFFormatError(f"{self.path}: a record ends inside a name field: corrupted")
        raw = raw.split(b"\x00", 1)[0]
        try:
            return raw.decode("utf-8").rstrip()
        except UnicodeDecodeError:
            return raw.decode("latin-1").rstrip()

    # ------------------------------------------------------------------ whole-file compression
    def _decompress_whole_file(self, raw: _Source) -> _Source:
        o = 8 if self.v3 else 4
        ofmt = ">q" if self.v3 else ">i"
        head = raw.read(8, o + 4, "CCR header")
        rsize = struct.unpack_from(ofmt, head, 0)[0]
        rtype = struct.unpack_from(">i", head, o)[0]
        if rtype != 10 or rsize < o + 4 + 2 * o + 4 or 8 + rsize > raw.size:
            raise CDFFormatError(f"{self.path}: whole-file compression record (CCR) is corrupted or truncated")
        ccr = raw.read(8, rsize, "CCR")
        pos = o + 4
        cpr_offset = struct.unpack_from(ofmt, ccr, pos)[0]
        usize = struct.unpack_from(ofmt, ccr, pos + o)[0]
        data_start = pos + 2 * o + 4
        cpr_head = raw.read(cpr_offset, o + 4 + 12, "CPR") if 0 < cpr_offset < raw.size else None
        if cpr_head is None or struct.unpack_from(">i", cpr_head, o)[0] != 11:
            raise CDFFormatError(f"{self.path}: compression parameters record (CPR) of the CCR is corrupted")
        ctype = struct.unpack_from(">i", cpr_head, o + 4)[0]
        kind = _COMPRESSIONS.get(ctype, f"unknown({ctype})")
        level = struct.unpack_from(">i", cpr_head, o + 4 + 8)[0] if kind == "gzip" else 0
        if usize < 0 or usize > (1 << 42):
            raise CDFFormatError(f"{self.path}: CCR declares an impossible uncompressed size {usize}")
        body = decompress(kind, ccr[data_start:], usize, "whole-file compressed data", self.path)
        self.whole_file_compression = kind
        self.whole_file_compression_level = level
        magic = raw.read(0, 4, "magic") + struct.pack(">I", 0x0000FFFF)
        return _Source(self.path, magic + body)

    # ------------------------------------------------------------------ CDR / GDR
    def _read_cdr(self) -> None:
        cdr = self._record(8, (1,), "CDF descriptor record (CDR)")
        o = self._o
        pos = o + 4
        self.gdr_offset = self._off(cdr, pos)
        pos += o
        if len(cdr) < pos + 16:
            raise CDFFormatError(f"{self.path}: CDF descriptor record is truncated")
        version, release, encoding, flags = struct.unpack_from(">iiii", cdr, pos)
        increment = self._int(cdr, pos + 24) if len(cdr) >= pos + 28 else 0
        self.version = f"{version}.{release}.{increment}"
        self._pre25 = (version, release) < (2, 5)
        self.encoding = encoding
        self.row_major = bool(flags & 1)
        if encoding in _LITTLE_ENCODINGS:
            self.little = True
        elif encoding in _BIG_ENCODINGS:
            self.little = False
        else:
            name = _ENCODING_NAMES.get(encoding, f"code {encoding}")
            raise CDFFormatError(f"{self.path}: data encoding {name} is not supported (VAX/VMS floats) or corrupted")

    def _read_gdr(self) -> None:
        gdr = self._record(self.gdr_offset, (2,), "global descriptor record (GDR)")
        o = self._o
        pos = o + 4
        self.rvdr_head = self._off(gdr, pos)
        self.zvdr_head = self._off(gdr, pos + o)
        self.adr_head = self._off(gdr, pos + 2 * o)
        pos += 4 * o  # rVDRhead zVDRhead ADRhead eof
        self.n_rvars, self.n_attrs, self.r_max_rec, self.r_num_dims, self.n_zvars = struct.unpack_from(
            ">iiiii", gdr, pos
        )
        pos += 20 + o + 4 + 4 + 4  # UIRhead, rfuC, LeapSecondLastUpdated, rfuE
        if not (0 <= self.r_num_dims <= _MAX_DIMS):
            raise CDFFormatError(f"{self.path}: GDR declares {self.r_num_dims} rVariable dimensions: corrupted")
        if len(gdr) < pos + 4 * self.r_num_dims:
            raise CDFFormatError(f"{self.path}: GDR is truncated")
        self.r_dim_sizes = struct.unpack_from(f">{self.r_num_dims}i", gdr, pos) if self.r_num_dims else ()
        for n, s in enumerate(self.r_dim_sizes):
            if s <= 0:
                raise CDFFormatError(f"{self.path}: rVariable dimension {n} has size {s}: corrupted")

    # ------------------------------------------------------------------ variables
    def _iter_chain(self, head: int, types: tuple[int, ...], what: str, next_pos: int):
        offset = head
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise CDFFormatError(f"{self.path}: the {what} list loops back on itself: corrupted")
            seen.add(offset)
            rec = self._record(offset, types, what)
            yield offset, rec
            offset = self._off(rec, next_pos)

    def _read_vdrs(self) -> None:
        for head, z, count in ((self.rvdr_head, False, self.n_rvars), (self.zvdr_head, True, self.n_zvars)):
            kind = "zVariable descriptor (zVDR)" if z else "rVariable descriptor (rVDR)"
            n = 0
            for offset, rec in self._iter_chain(head, (8 if z else 3,), kind, self._o + 4):
                info = self._parse_vdr(rec, z, offset)
                if info.name in self.variables:
                    raise CDFFormatError(f"{self.path}: variable name {info.name!r} appears twice: corrupted")
                self.variables[info.name] = info
                n += 1
                if n > count:
                    break
            if n != count:
                raise CDFFormatError(
                    f"{self.path}: the GDR announces {count} {'z' if z else 'r'}Variables but {n} were found: corrupted"
                )

    def _parse_vdr(self, rec: bytes, z: bool, offset: int) -> VariableInfo:
        o = self._o
        try:
            pos = o + 4 + o  # size, type, VDRnext
            data_type, max_rec = struct.unpack_from(">ii", rec, pos)
            pos += 8
            vxr_head = self._off(rec, pos)
            pos += 2 * o  # VXRhead, VXRtail
            flags, s_records = struct.unpack_from(">ii", rec, pos)
            pos += 8 + 4 + 4 + 4  # flags, sRecords, rfuB, rfuC, rfuF
            if self._pre25:
                pos += 128  # CDF < 2.5: a 128-byte reserved area precedes NumElems
            num_elems, num = struct.unpack_from(">ii", rec, pos)
            pos += 8
            cpr_offset = self._off(rec, pos)
            pos += o
            blocking = self._int(rec, pos)
            pos += 4
            name = self._name(rec, pos)
            pos += self._namelen
            if z:
                ndims = self._int(rec, pos)
                pos += 4
                if not (0 <= ndims <= _MAX_DIMS):
                    raise CDFFormatError(f"{self.path}: variable {name!r} declares {ndims} dimensions: corrupted")
                dims = struct.unpack_from(f">{ndims}i", rec, pos) if ndims else ()
                pos += 4 * ndims
            else:
                ndims = self.r_num_dims
                dims = tuple(self.r_dim_sizes)
            varys = struct.unpack_from(f">{ndims}i", rec, pos) if ndims else ()
            pos += 4 * ndims
        except struct.error:
            raise CDFFormatError(f"{self.path}: variable descriptor at byte {offset} is truncated") from None
        where = f"variable {name!r}"
        if data_type not in TYPES:
            raise CDFFormatError(f"{self.path}: {where} has unknown CDF data type {data_type}: corrupted")
        if any(d <= 0 for d in dims):
            raise CDFFormatError(f"{self.path}: {where} has dimension sizes {dims}: corrupted")
        if num_elems <= 0 or (TYPES[data_type][0] != "S" and num_elems != 1) or num_elems > self.src.size + 1024:
            raise CDFFormatError(f"{self.path}: {where} has {num_elems} elements per value: corrupted")
        if max_rec < -1:
            raise CDFFormatError(f"{self.path}: {where} has maximum record {max_rec}: corrupted")
        dim_varys = tuple(v != 0 for v in varys)
        shape = tuple(d for d, v in zip(dims, dim_varys) if v)
        dtype = raw_dtype(data_type, num_elems, self.little)
        pad = None
        if flags & 2:
            try:
                pad = np.frombuffer(rec, dtype=dtype, count=1, offset=pos)[0]
            except ValueError:
                raise CDFFormatError(f"{self.path}: {where}: pad value lies outside its descriptor") from None
        compression, level = None, 0
        if flags & 4:
            if not (0 < cpr_offset < self.src.size):
                raise CDFFormatError(f"{self.path}: {where}: compression record offset {cpr_offset} is invalid")
            cpr = self._record(cpr_offset, (11,), f"compression record of {where}")
            ctype = self._int(cpr, o + 4)
            compression = _COMPRESSIONS.get(ctype, f"unknown({ctype})")
            pcount = self._int(cpr, o + 12) if len(cpr) >= o + 16 else 0
            if compression == "gzip" and pcount >= 1 and len(cpr) >= o + 20:
                level = self._int(cpr, o + 16)
        info = VariableInfo(
            name=name, num=num, zvariable=z, cdf_type=data_type, num_elements=num_elems, max_rec=max_rec,
            record_varying=bool(flags & 1), dims=tuple(dims), dim_varys=dim_varys, shape=shape,
            compression=compression, compression_level=level, blocking_factor=blocking,
            sparse_records=s_records, pad=pad,
        )
        info.vxr_head = vxr_head
        recsize = dtype.itemsize
        for d in info.shape:
            recsize *= d
            if recsize > self.src.size * 1100 + (1 << 20):
                raise CDFFormatError(f"{self.path}: {where}: dimensions {info.dims} exceed what the file can hold")
        if info.max_rec >= 0 and not vxr_head and not s_records:
            raise CDFFormatError(f"{self.path}: {where}: {max_rec + 1} records announced but none stored: corrupted")
        return info

    def blocks(self, info: VariableInfo) -> list[Block]:
        """The stored blocks of a variable, read from its index records on first use (keeps opening fast)."""
        if info.blocks is None:
            with self._blocks_lock:
                if info.blocks is None:
                    found: list[Block] = []
                    if info.vxr_head:
                        self._read_vxr_tree(info.vxr_head, info, 0, found)
                        found.sort(key=lambda b: b.first)
                        for a, b in zip(found, found[1:]):
                            if b.first <= a.last:
                                raise CDFFormatError(
                                    f"{self.path}: variable {info.name!r}: overlapping record blocks: corrupted"
                                )
                    itemsize = raw_dtype(info.cdf_type, info.num_elements, self.little).itemsize
                    self._check_sizes(info, itemsize, found)
                    info.blocks = found
        return info.blocks

    def _check_sizes(self, info: VariableInfo, itemsize: int, blocks: list[Block]) -> None:
        """Reject sizes the stored blocks cannot hold (so no garbage length ever allocates memory)."""
        where = f"variable {info.name!r}"
        recsize = itemsize * int(np.prod(info.shape, dtype=np.int64))
        last_stored = blocks[-1].last if blocks else -1
        if info.max_rec > last_stored and not info.sparse_records and blocks:
            raise CDFFormatError(
                f"{self.path}: {where}: maximum record {info.max_rec} but records are stored only up to "
                f"{last_stored}: truncated or corrupted"
            )
        if not blocks and info.max_rec >= 0 and not info.sparse_records:
            raise CDFFormatError(f"{self.path}: {where}: {info.max_rec + 1} records announced but none stored: corrupted")
        if info.sparse_records and (info.max_rec + 1) * recsize > (1 << 34):
            raise CDFFormatError(f"{self.path}: {where}: {info.max_rec + 1} sparse records is implausible: corrupted")
        for b in blocks:
            need = (b.last - b.first + 1) * recsize
            limit = b.csize if not b.compressed else b.csize * 1100 + 1024
            if need > limit:
                raise CDFFormatError(
                    f"{self.path}: {where}: block of records {b.first}-{b.last} needs {need} bytes but holds "
                    f"{b.csize}{' compressed' if b.compressed else ''}: truncated or corrupted"
                )

    def _read_vxr_tree(self, head: int, info: VariableInfo, depth: int, found: list[Block]) -> None:
        if depth > _MAX_VXR_DEPTH:
            raise CDFFormatError(f"{self.path}: variable {info.name!r}: index records nested too deeply: corrupted")
        o = self._o
        what = f"index record (VXR) of variable {info.name!r}"
        for _, vxr in self._iter_chain(head, (6,), what, o + 4):
            pos = o + 4 + o
            try:
                n_entries, n_used = struct.unpack_from(">ii", vxr, pos)
                pos += 8
                if not (0 <= n_used <= n_entries) or pos + n_entries * (8 + o) > len(vxr):
                    raise CDFFormatError(f"{self.path}: {what} has {n_used}/{n_entries} entries: corrupted")
                firsts = struct.unpack_from(f">{n_entries}i", vxr, pos)
                lasts = struct.unpack_from(f">{n_entries}i", vxr, pos + 4 * n_entries)
                offsets = struct.unpack_from(f">{n_entries}{'q' if self.v3 else 'i'}", vxr, pos + 8 * n_entries)
            except struct.error:
                raise CDFFormatError(f"{self.path}: {what} is truncated") from None
            for first, last, off in zip(firsts[:n_used], lasts[:n_used], offsets[:n_used]):
                if first < 0 or last < first or off <= 0:
                    raise CDFFormatError(f"{self.path}: {what}: entry [{first}, {last}] at {off}: corrupted")
                head8 = self.src.read(off, o + 4, what)
                rtype = self._int(head8, o)
                if rtype == 6:
                    self._read_vxr_tree(off, info, depth + 1, found)
                elif rtype == 7:
                    rsize = self._off(head8, 0)
                    if off + rsize > self.src.size or rsize < o + 4:
                        raise CDFFormatError(f"{self.path}: data record (VVR) of {info.name!r} is truncated")
                    found.append(Block(first, last, off + o + 4, False, rsize - o - 4))
                elif rtype == 13:
                    start = o + 4 + 4 + o
                    rec = self.src.read(off, start, f"compressed data record (CVVR) of {info.name!r}")
                    rsize = self._off(rec, 0)
                    csize = self._off(rec, o + 4 + 4)
                    if csize < 0 or start + csize > rsize or off + rsize > self.src.size:
                        raise CDFFormatError(f"{self.path}: compressed block of {info.name!r} is truncated")
                    found.append(Block(first, last, off + start, True, csize))
                else:
                    raise CDFFormatError(
                        f"{self.path}: {what} points to a record of type {rtype} at byte {off}: corrupted"
                    )

    # ------------------------------------------------------------------ attributes
    def _read_adrs(self) -> None:
        o = self._o
        count = 0
        by_num: dict[tuple[bool, int], VariableInfo] = {(v.zvariable, v.num): v for v in self.variables.values()}
        for _, adr in self._iter_chain(self.adr_head, (4,), "attribute descriptor (ADR)", o + 4):
            count += 1
            if count > self.n_attrs:
                raise CDFFormatError(f"{self.path}: more attributes than the {self.n_attrs} announced: corrupted")
            pos = o + 4 + o
            agr_head = self._off(adr, pos)
            pos += o
            scope, num, n_gr, max_gr, _rfu = struct.unpack_from(">iiiii", adr, pos)
            pos += 20
            az_head = self._off(adr, pos)
            pos += o + 12
            name = self._name(adr, pos)
            global_scope = scope in (1, 3)
            for head, z in ((agr_head, False), (az_head, True)):
                for entry_num, value, dtype_code in self._read_entries(head, z, name):
                    if global_scope:
                        self.global_attrs.setdefault(name, []).append((entry_num, value))
                        self.global_attr_types.setdefault(name, []).append((entry_num, dtype_code))
                    else:
                        var = by_num.get((z, entry_num))
                        if var is None:
                            continue  # entry for a variable that does not exist: ignore
                        var.attrs[name] = value
                        var.attr_types[name] = dtype_code
        for name in list(self.global_attrs):
            entries = sorted(self.global_attrs[name], key=lambda e: e[0])
            self.global_attrs[name] = [v for _, v in entries]
            self.global_attr_types[name] = [t for _, t in sorted(self.global_attr_types[name], key=lambda e: e[0])]
        if count != self.n_attrs:
            raise CDFFormatError(f"{self.path}: the GDR announces {self.n_attrs} attributes, {count} found: corrupted")

    def _read_entries(self, head: int, z: bool, attr: str):
        o = self._o
        what = f"entry of attribute {attr!r}"
        for _, rec in self._iter_chain(head, (9,) if z else (5,), what, o + 4):
            pos = o + 4 + o
            try:
                _attr_num, dtype_code, num, num_elems = struct.unpack_from(">iiii", rec, pos)
            except struct.error:
                raise CDFFormatError(f"{self.path}: {what} is truncated") from None
            pos += 16 + 20
            if dtype_code not in TYPES:
                raise CDFFormatError(f"{self.path}: {what} has unknown data type {dtype_code}: corrupted")
            code, size = TYPES[dtype_code]
            nbytes = num_elems * size
            if num_elems < 0 or pos + nbytes > len(rec):
                raise CDFFormatError(f"{self.path}: {what} declares {num_elems} elements beyond its record: corrupted")
            raw = rec[pos : pos + nbytes]
            if code == "S":
                value: Any = raw.split(b"\x00", 1)[0]
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    value = value.decode("latin-1")
            else:
                arr = np.frombuffer(raw, dtype=raw_dtype(dtype_code, 1, self.little))
                arr = arr.astype(arr.dtype.newbyteorder("="))
                value = arr[0] if arr.size == 1 else arr
            yield num, value, dtype_code

    # ------------------------------------------------------------------ data
    def record_bytes(self, var: VariableInfo) -> int:
        return int(np.prod(var.shape, dtype=np.int64)) * raw_dtype(var.cdf_type, var.num_elements, self.little).itemsize

    def read_records(self, var: VariableInfo, start: int, stop: int) -> np.ndarray:
        """Read records ``[start, stop)`` of ``var`` as an array of shape (stop-start, *shape) in native byte order.

        Records never written are filled with the pad value. The result is row-major whatever the
        file's majority. Thread-safe.
        """
        try:
            return self._read_records(var, start, stop)
        except CDFFormatError:
            raise
        except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
            raise CDFFormatError(
                f"{self.path}: variable {var.name!r}: corrupted data records ({type(exc).__name__}: {exc})"
            ) from None

    def _read_records(self, var: VariableInfo, start: int, stop: int) -> np.ndarray:
        dtype = raw_dtype(var.cdf_type, var.num_elements, self.little)
        per_rec = int(np.prod(var.shape, dtype=np.int64))
        recsize = per_rec * dtype.itemsize
        n = max(stop - start, 0)
        out = np.empty((n, per_rec), dtype=dtype)
        if n == 0:
            return self._finish(out, var, 0)
        covered = np.zeros(n, dtype=bool)
        blocks = self.blocks(var)
        firsts = [b.first for b in blocks]
        i = max(np.searchsorted(firsts, start, side="right") - 1, 0)
        wanted = []
        for block in blocks[i:]:
            if block.first >= stop:
                break
            if max(block.first, start) < min(block.last + 1, stop):
                wanted.append(block)
        inflated = {}
        compressed = [b for b in wanted if b.compressed]
        if len(compressed) > 1:  # zlib releases the GIL: inflate blocks on all cores
            pool = _inflate_pool()
            for b, data in zip(compressed, pool.map(lambda b: self._block_data(var, b, recsize), compressed)):
                inflated[b.offset] = data
        for block in wanted:
            lo, hi = max(block.first, start), min(block.last + 1, stop)
            dest = out[lo - start : hi - start]
            if block.compressed:
                data = inflated.get(block.offset)
                if data is None:
                    data = self._block_data(var, block, recsize)
                dest[...] = data[(lo - block.first) * per_rec : (hi - block.first) * per_rec].reshape(dest.shape)
            else:
                need = (hi - block.first) * recsize
                if need > block.csize:
                    raise CDFFormatError(
                        f"{self.path}: variable {var.name!r}: data block for records {block.first}-{block.last} "
                        f"holds {block.csize} bytes, {need} needed: truncated or corrupted"
                    )
                self.src.readinto(
                    memoryview(dest.reshape(-1).view(np.uint8)),
                    block.offset + (lo - block.first) * recsize,
                    f"records {lo}-{hi - 1} of variable {var.name!r}",
                )
            covered[lo - start : hi - start] = True
        if not covered.all():
            self._fill_missing(out, covered, var, dtype, start)
        return self._finish(out, var, n)

    def _fill_missing(self, out, covered, var, dtype, start) -> None:
        missing = ~covered
        if var.sparse_records == 2:  # sparse records, "previous": repeat the last written record
            idx = np.maximum.accumulate(np.where(covered, np.arange(len(covered)), -1))
            fill_prev = missing & (idx >= 0)
            out[fill_prev] = out[idx[fill_prev]]
            missing &= ~fill_prev
            if missing.any():
                earlier = [min(b.last, start - 1) for b in self.blocks(var) if b.first < start]
                if earlier:
                    r = max(earlier)
                    prev = self.read_records(var, r, r + 1)  # stored, so no recursion into this branch
                    raw = np.ascontiguousarray(prev.reshape(-1)).astype(dtype.newbyteorder("="))
                    if not self.row_major and len(var.shape) > 1:
                        raw = prev[0].transpose().reshape(-1)
                    out[missing] = raw.astype(dtype)
                    return
        out[missing] = self._pad_value(var, dtype)

    def _pad_value(self, var: VariableInfo, dtype: np.dtype):
        if var.pad is not None:
            return var.pad
        code = TYPES[var.cdf_type][0]
        if var.cdf_type == CDF_TIME_TT2000:
            return np.int64(-9223372036854775807)
        if var.cdf_type in (CDF_EPOCH, CDF_EPOCH16):
            return 0
        if code == "S":
            return b" " * var.num_elements
        return DEFAULT_PAD[code]

    def _finish(self, out: np.ndarray, var: VariableInfo, n: int) -> np.ndarray:
        dtype = out.dtype
        if dtype.byteorder not in ("=", "|") and dtype.byteorder != ("<" if np.little_endian else ">"):
            out = out.byteswap().view(dtype.newbyteorder())
        shape = var.shape
        if not self.row_major and len(shape) > 1:
            # column-major: the first index varies fastest within a record
            out = out.reshape((n,) + shape[::-1]).transpose((0,) + tuple(range(len(shape), 0, -1)))
            out = np.ascontiguousarray(out)
        else:
            out = out.reshape((n,) + shape)
        return out

    def _block_data(self, var: VariableInfo, block: Block, recsize: int) -> np.ndarray:
        key = (var.name, block.offset)
        with self._cache_lock:
            hit = self._block_cache.get(key)
        if hit is not None:
            return hit
        comp = self.src.read(block.offset, block.csize, f"compressed block of variable {var.name!r}")
        expected = (block.last - block.first + 1) * recsize
        raw = decompress(var.compression, comp, expected, f"compressed block of variable {var.name!r}", self.path)
        dtype = raw_dtype(var.cdf_type, var.num_elements, self.little)
        arr = np.frombuffer(raw, dtype=dtype)
        with self._cache_lock:
            if len(self._block_cache) > 64:
                self._block_cache.clear()
            self._block_cache[key] = arr
        return arr

    def close(self) -> None:
        self.src.close()
