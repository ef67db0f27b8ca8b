"""numba kernels of :mod:`xspace.time` (TT2000 <-> Unix nanoseconds).

Imported lazily by :mod:`xspace.time` on the first TT2000 conversion so ``import xspace`` compiles
nothing. All times here are int64: TT2000 nanoseconds, Unix nanoseconds (``datetime64[ns]`` values)
and Unix days. The leap-second table arrives as arrays (see ``xspace.time._LeapTable``):

``entry_day``  Unix day of each table row's date (UTC midnight);
``entry_ns``   the same in Unix nanoseconds;
``offset``     TAI-UTC of the row in seconds (before 1972: plus a drift term);
``mjd_ref``, ``drift``  the pre-1972 drift: offset + (MJD - mjd_ref) * drift;
``nst``        TT2000 at each row's date (meaningful from row ``era1`` on, the 1972-01-01 row);
``era1``       index of the first whole-second row (1972-01-01).

The pre-1972 decoder repeats the NASA CDF library's fixed-point iteration step by step (same float
operations in the same order) so the results agree with it to the nanosecond, including where the
drifting pre-1972 UTC has gaps or overlaps.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NAT = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max
TT2000_FILL = NAT  # -9223372036854775808
TT2000_PAD = NAT + 1  # -9223372036854775807
SEC = 1_000_000_000
DAY_NS = 86_400 * SEC
T12H_NS = 43_200 * SEC
DT_NS = 32_184_000_000  # TT - TAI
UNIX_J2000_NOON_NS = 946_728_000 * SEC  # 2000-01-01T12:00:00 in Unix nanoseconds
UNIX_2000_DAY = 10_957  # Unix day of 2000-01-01
EPOCH0_TO_UNIX_S = 62_167_219_200  # seconds from 0000-01-01 to 1970-01-01
J2000_SINCE_0AD_S = 63_113_904_000  # seconds from 0000-01-01 to 2000-01-01
JD_UNIX_DAY0 = 2_440_588  # integer Julian day of 1970-01-01 (the day's noon)
MJD_BASE = 2_400_000.5


@njit(cache=True, nogil=True)
def _last_le(table, value, lo, hi):
    """Largest i in [lo, hi) with table[i] <= value, or lo - 1 (table sorted ascending)."""
    if hi <= lo or value < table[lo]:
        return lo - 1
    a = lo
    b = hi - 1
    while a < b:
        m = (a + b + 1) // 2
        if table[m] <= value:
            a = m
        else:
            b = m - 1
    return a


@njit(cache=True, nogil=True)
def _offset_ns_of_day(day, entry_day, offset, mjd_ref, drift, era1):
    """int(TAI-UTC * 1e9) of a UTC day as NASA computes it (drift evaluated at the day's noon)."""
    j = _last_le(entry_day, day, 0, entry_day.size)
    if j < 0:
        return np.int64(0)
    da = offset[j]
    if j < era1:
        jda = np.float64(day + JD_UNIX_DAY0)
        da = da + ((jda - MJD_BASE) - mjd_ref[j]) * drift[j]
    return np.int64(da * 1e9)


@njit(cache=True, nogil=True)
def _encode_day(day, sod, nanosec, entry_day, offset, mjd_ref, drift, era1):
    """TT2000 of (Unix day, second of day, nanoseconds) as NASA's computeTT2000."""
    ns = (day - UNIX_2000_DAY) * DAY_NS + sod * SEC + nanosec
    t2 = _offset_ns_of_day(day, entry_day, offset, mjd_ref, drift, era1)
    if ns < 0:
        return ns + t2 + DT_NS - T12H_NS
    return ns - T12H_NS + t2 + DT_NS


@njit(cache=True, nogil=True)
def _decode_pre1972(t3, entry_day, offset, mjd_ref, drift, era1):
    """Unix nanoseconds of a TT2000 value before 1972 (NASA's breakdownTT2000 iteration)."""
    ns = t3 + T12H_NS - DT_NS
    secs = np.int64(np.float64(ns) / 1e9)
    nansec = ns - secs * SEC
    if nansec < 0:
        nansec += SEC
        secs -= 1
    t2 = secs * SEC + nansec
    epoch = J2000_SINCE_0AD_S + secs
    unix_s = epoch - EPOCH0_TO_UNIX_S
    day = unix_s // 86400
    sod = unix_s % 86400
    tmp = _encode_day(day, sod, nansec, entry_day, offset, mjd_ref, drift, era1)
    tmpy = np.int64(0)
    if tmp != t3:
        dat0 = _offset_ns_of_day(day, entry_day, offset, mjd_ref, drift, era1)
        tmpx = t2 - dat0
        tmpy = np.int64(np.float64(tmpx) / 1e9)
        nansec = tmpx - tmpy * SEC
    if nansec < 0:
        nansec += SEC
        tmpy -= 1
        unix_s = tmpy + J2000_SINCE_0AD_S - EPOCH0_TO_UNIX_S
        day = unix_s // 86400
        sod = unix_s % 86400
        tmp = _encode_day(day, sod, nansec, entry_day, offset, mjd_ref, drift, era1)
    if tmp != t3:
        for attempt in range(2):
            dat0 = _offset_ns_of_day(day, entry_day, offset, mjd_ref, drift, era1)
            tmpx = t2 - dat0
            tmpy = np.int64(np.float64(tmpx) / 1e9)
            nansec = tmpx - tmpy * SEC
            if nansec < 0:
                nansec += SEC
                tmpy -= 1
            unix_s = tmpy + J2000_SINCE_0AD_S - EPOCH0_TO_UNIX_S
            day = unix_s // 86400
            sod = unix_s % 86400
            if attempt == 1:
                break
            tmp = _encode_day(day, sod, nansec, entry_day, offset, mjd_ref, drift, era1)
            if tmp == t3:
                break
    return day * DAY_NS + sod * SEC + nansec


@njit(cache=True, nogil=True)
def tt2000_to_unix_ns(tt, out, nst, entry_day, offset, mjd_ref, drift, era1):
    """Decode TT2000 (1-D int64) into Unix ns (datetime64[ns] values); return #out-of-range."""
    n_rows = nst.size
    first_tt = nst[era1]
    n_bad = 0
    j = era1
    for i in range(tt.size):
        t = tt[i]
        if t == TT2000_FILL or t == TT2000_PAD:
            out[i] = NAT
            continue
        if t < first_tt:
            out[i] = _decode_pre1972(t, entry_day, offset, mjd_ref, drift, era1)
            continue
        # the row of the previous value is the usual answer for time-ordered data
        if not (t >= nst[j] and (j + 1 == n_rows or t < nst[j + 1])):
            j = _last_le(nst, t, era1, n_rows)
        leap_ns = np.int64(offset[j] * 1e9)
        shift = UNIX_J2000_NOON_NS - DT_NS - leap_ns
        if t > INT64_MAX - shift:
            out[i] = NAT
            n_bad += 1
            continue
        if j + 1 < n_rows:
            next_leap_ns = np.int64(offset[j + 1] * 1e9)
            step = next_leap_ns - leap_ns
            if step > 0 and t >= nst[j + 1] - step:
                # inside a (positive) leap second: the last nanosecond of the day
                out[i] = nst[j + 1] + (UNIX_J2000_NOON_NS - DT_NS - next_leap_ns) - 1
                continue
        out[i] = t + shift
    return n_bad


@njit(cache=True, nogil=True)
def unix_ns_to_tt2000(u, out, entry_ns, entry_day, offset, mjd_ref, drift, era1):
    """Encode Unix ns (1-D int64, NaT = int64 min) into TT2000; return #unrepresentable values."""
    n_rows = entry_ns.size
    n_bad = 0
    j = -1
    low = NAT + UNIX_J2000_NOON_NS
    for i in range(u.size):
        v = u[i]
        if v == NAT:
            out[i] = TT2000_FILL
            continue
        if v < low:
            out[i] = TT2000_FILL
            n_bad += 1
            continue
        if not ((j < 0 and v < entry_ns[0]) or (j >= 0 and v >= entry_ns[j] and (j + 1 == n_rows or v < entry_ns[j + 1]))):
            j = _last_le(entry_ns, v, 0, n_rows)
        if j < 0:
            t2 = np.int64(0)
        elif j < era1:
            day = v // DAY_NS
            da = offset[j] + ((np.float64(day + JD_UNIX_DAY0) - MJD_BASE) - mjd_ref[j]) * drift[j]
            t2 = np.int64(da * 1e9)
        else:
            t2 = np.int64(offset[j] * 1e9)
        t = (v - UNIX_J2000_NOON_NS) + t2 + DT_NS
        if t <= TT2000_PAD:
            out[i] = TT2000_FILL
            n_bad += 1
            continue
        out[i] = t
    return n_bad
