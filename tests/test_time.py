"""Tests of xspace.time: CDF time codecs against cdflib (NASA's algorithms), leap seconds, time scales."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from cdflib.epochs import CDFepoch

import xspace
from xspace import time as xt
from xspace.errors import FileFormatError, InputError, TimeConversionError

NS = 1_000_000_000


# ----------------------------------------------------------------------------- references
def _days_from_civil(y: int, m: int, d: int) -> int:
    """Unix day of a proleptic Gregorian date (independent of numpy: via datetime.date ordinals)."""
    return dt.date(y, m, d).toordinal() - dt.date(1970, 1, 1).toordinal()


def _components_to_unix_ns(comp) -> int:
    """cdflib breakdown components -> Unix ns, with second 60 -> last nanosecond of the day."""
    y, mo, d, h, mi, s, ms, us, ns = (int(c) for c in comp[:9])
    if (y, mo, d, h, mi, s, ms, us, ns) in ((9999, 12, 31, 23, 59, 59, 999, 999, 999), (0, 1, 1, 0, 0, 0, 0, 0, 0)):
        return np.iinfo(np.int64).min
    if s == 60:
        return (_days_from_civil(y, mo, d) + 1) * 86400 * NS - 1
    return _days_from_civil(y, mo, d) * 86400 * NS + (h * 3600 + mi * 60 + s) * NS + ms * 1_000_000 + us * 1000 + ns


def _cdflib_tt2000_to_unix_ns(values) -> np.ndarray:
    comps = np.atleast_2d(CDFepoch.breakdown_tt2000(np.asarray(values, dtype=np.int64)))
    return np.array([_components_to_unix_ns(c) for c in comps], dtype=np.int64)


def _tt(*args) -> int:
    return int(CDFepoch.compute_tt2000(list(args) + [0] * (9 - len(args))))


LEAP_DATES = [
    (1972, 7, 1), (1973, 1, 1), (1974, 1, 1), (1975, 1, 1), (1976, 1, 1), (1977, 1, 1), (1978, 1, 1),
    (1979, 1, 1), (1980, 1, 1), (1981, 7, 1), (1982, 7, 1), (1983, 7, 1), (1985, 7, 1), (1988, 1, 1),
    (1990, 1, 1), (1991, 1, 1), (1992, 7, 1), (1993, 7, 1), (1994, 7, 1), (1996, 1, 1), (1997, 7, 1),
    (1999, 1, 1), (2006, 1, 1), (2009, 1, 1), (2012, 7, 1), (2015, 7, 1), (2017, 1, 1),
]  # the IERS leap seconds (TAI-UTC steps of +1 s), from Bulletin C / tai-utc.dat


# ----------------------------------------------------------------------------- TT2000
def test_tt2000_published_values():
    # J2000.0 = 2000-01-01T12:00:00 TT = 11:58:55.816 UTC (TAI-UTC = 32 s, TT-TAI = 32.184 s)
    assert xt.tt2000_to_datetime64(np.array([0]))[0] == np.datetime64("2000-01-01T11:58:55.816", "ns")
    # 2017-01-01T00:00:00 UTC: 17 years of days + 37 s (TAI-UTC) + 32.184 s - 12 h
    days = _days_from_civil(2017, 1, 1) - _days_from_civil(2000, 1, 1)
    expected = days * 86400 * NS - 43200 * NS + 37 * NS + 32_184_000_000
    assert xt.datetime64_to_tt2000(np.datetime64("2017-01-01T00:00:00", "ns")) == expected
    assert xt.tt2000_to_datetime64(expected) == np.datetime64("2017-01-01T00:00:00", "ns")


def test_tt2000_random_against_cdflib():
    rng = np.random.default_rng(20240601)
    lo, hi = _tt(1960, 1, 1), _tt(2060, 1, 1)
    values = rng.integers(lo, hi, 4000, dtype=np.int64)
    got = xt.tt2000_to_datetime64(values).view(np.int64)
    np.testing.assert_array_equal(got, _cdflib_tt2000_to_unix_ns(values))


def test_tt2000_pre1972_against_cdflib():
    rng = np.random.default_rng(7)
    lo, hi = _tt(1958, 6, 1), _tt(1972, 3, 1)
    values = rng.integers(lo, hi, 3000, dtype=np.int64)
    # plus values around every UTC midnight of a few pre-1972 days, where NASA's drift steps
    mids = [_tt(y, m, d) for (y, m, d) in [(1960, 1, 1), (1961, 1, 1), (1961, 8, 1), (1962, 1, 1),
                                            (1963, 11, 1), (1964, 1, 1), (1965, 9, 1), (1966, 1, 1),
                                            (1968, 2, 1), (1969, 6, 15), (1971, 12, 31), (1972, 1, 1)]]
    offsets = np.array([-2 * NS, -NS, -200_000_000, -107_758_000, -50_000_000, -3_000_000, -1, 0, 1,
                        3_000_000, 50_000_000, NS])
    values = np.concatenate([values, (np.array(mids)[:, None] + offsets).ravel()])
    got = xt.tt2000_to_datetime64(values).view(np.int64)
    np.testing.assert_array_equal(got, _cdflib_tt2000_to_unix_ns(values))


def test_tt2000_every_leap_second():
    for y, m, d in LEAP_DATES:
        start = _tt(y, m, d)  # TT2000 of the first instant of the new day
        # 23:59:59.0, 23:59:59.999999999, then 23:59:60.0 ... 23:59:60.999999999, then the new day
        values = start + np.array([-2 * NS, -NS - 1, -NS, -NS + 1, -NS // 2, -1, 0, 1, NS], dtype=np.int64)
        got = xt.tt2000_to_datetime64(values).view(np.int64)
        midnight = _days_from_civil(y, m, d) * 86400 * NS
        expected = np.array([midnight - NS, midnight - 1, midnight - 1, midnight - 1, midnight - 1,
                             midnight - 1, midnight, midnight + 1, midnight + NS])
        np.testing.assert_array_equal(got, expected, err_msg=f"leap second before {y}-{m}-{d}")
        if (y, m, d) != (1972, 7, 1):  # cdflib cannot show second 60 in its first post-1972 era
            np.testing.assert_array_equal(got, _cdflib_tt2000_to_unix_ns(values))


def test_tt2000_leap_second_instant_documented():
    inside = _tt(2017, 1, 1) - NS // 2  # 2016-12-31T23:59:60.5
    assert str(xt.tt2000_to_datetime64(inside)) == "2016-12-31T23:59:59.999999999"


def test_tt2000_encode_against_cdflib_and_round_trip():
    rng = np.random.default_rng(3)
    lo, hi = np.datetime64("1955-01-01", "ns").view(np.int64), np.datetime64("2065-01-01", "ns").view(np.int64)
    unix = rng.integers(lo, hi, 3000, dtype=np.int64)
    times = unix.view("datetime64[ns]")
    encoded = xt.datetime64_to_tt2000(times)
    expected = []
    for u in unix[:800]:
        days, rem = divmod(int(u), 86400 * NS)
        date = dt.date.fromordinal(days + dt.date(1970, 1, 1).toordinal())
        secs, ns = divmod(rem, NS)
        expected.append(_tt(date.year, date.month, date.day, secs // 3600, secs // 60 % 60, secs % 60,
                            ns // 1_000_000, ns // 1000 % 1000, ns % 1000))
    np.testing.assert_array_equal(encoded[:800], expected)
    np.testing.assert_array_equal(xt.tt2000_to_datetime64(encoded), times)


def test_tt2000_fill_pad_nat_and_shapes():
    values = np.array([[xt.TT2000_FILL, xt.TT2000_PAD], [0, xt.TT2000_FILL]], dtype=np.int64)
    out = xt.tt2000_to_datetime64(values)
    assert out.shape == (2, 2) and out.dtype == np.dtype("datetime64[ns]")
    assert np.isnat(out).tolist() == [[True, True], [False, True]]
    back = xt.datetime64_to_tt2000(np.array(["NaT", "2000-01-01T11:58:55.816"], dtype="datetime64[ns]"))
    assert back.tolist() == [xt.TT2000_FILL, 0]
    scalar = xt.tt2000_to_datetime64(np.int64(0))
    assert scalar.shape == () and scalar == np.datetime64("2000-01-01T11:58:55.816")
    # int32 and other units accepted
    assert xt.tt2000_to_datetime64(np.array([0], dtype=np.int32))[0] == np.datetime64("2000-01-01T11:58:55.816")
    assert xt.datetime64_to_tt2000(np.array(["2017-01-01"], dtype="datetime64[D]"))[0] == _tt(2017, 1, 1)


def test_tt2000_out_of_range_warns_not_wraps():
    big = np.array([np.iinfo(np.int64).max, _tt(2262, 4, 11), 9_000_000_000_000_000_000], dtype=np.int64)
    with pytest.warns(xt.TimeRangeWarning, match="2 value"):
        out = xt.tt2000_to_datetime64(big)
    assert np.isnat(out[0]) and np.isnat(out[2])
    assert out[1] == np.datetime64("2262-04-11")
    # the lowest TT2000 values (1707) are in range: they decode exactly like cdflib
    low = np.array([xt.TT2000_PAD + 1, xt.TT2000_PAD + 12345678901], dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = xt.tt2000_to_datetime64(low)
    np.testing.assert_array_equal(got.view(np.int64), _cdflib_tt2000_to_unix_ns(low))


def test_tt2000_bad_input():
    with pytest.raises(InputError, match="values.*int64"):
        xt.tt2000_to_datetime64(np.array([1.5]))
    with pytest.raises(InputError, match="values"):
        xt.datetime64_to_tt2000(np.array([1.5]))
    with pytest.raises(TimeConversionError, match="1707"):
        xt.datetime64_to_tt2000(np.array(["1690-01-01"], dtype="datetime64[ns]"))
    with pytest.raises(TimeConversionError, match="range"):
        xt.datetime64_to_tt2000(np.array(["2300-01-01"], dtype="datetime64[s]"))


def test_tt2000_kernel_matches_numpy_reference():
    """The numba decoder against a plain-numpy searchsorted implementation (post-1972)."""
    rng = np.random.default_rng(11)
    values = np.sort(rng.integers(_tt(1972, 1, 1), _tt(2050, 1, 1), 20000, dtype=np.int64))
    table = xt.leap_second_table()
    dates = table["date"][table["date"] >= np.datetime64("1972-01-01")]
    offs = table["tai_minus_utc"][-dates.size:].astype(np.int64) * NS
    starts = (dates.astype("datetime64[ns]").view(np.int64) - 946_728_000 * NS) + offs + 32_184_000_000
    j = np.searchsorted(starts, values, side="right") - 1
    unix = values - 32_184_000_000 - offs[j] + 946_728_000 * NS
    nxt = np.minimum(j + 1, starts.size - 1)
    inside = (j + 1 < starts.size) & (values >= starts[nxt] - NS)
    unix[inside] = dates[nxt[inside]].astype("datetime64[ns]").view(np.int64) - 1
    np.testing.assert_array_equal(xt.tt2000_to_datetime64(values).view(np.int64), unix)


# ----------------------------------------------------------------------------- EPOCH / EPOCH16
def _cdflib_epoch_to_unix_ns(values):
    comps = np.atleast_2d(CDFepoch.breakdown_epoch(np.asarray(values, dtype=np.float64)))
    out = []
    for c in comps:
        y, mo, d, h, mi, s, ms = (int(x) for x in c)
        out.append(_components_to_unix_ns([y, mo, d, h, mi, s, ms, 0, 0]))
    return np.array(out, dtype=np.int64)


def test_epoch_against_cdflib_and_round_trip():
    rng = np.random.default_rng(5)
    lo = CDFepoch.compute_epoch([1700, 1, 1, 0, 0, 0, 0])
    hi = CDFepoch.compute_epoch([2260, 1, 1, 0, 0, 0, 0])
    values = rng.integers(int(lo), int(hi), 3000).astype(np.float64)  # whole milliseconds
    got = xt.epoch_to_datetime64(values)
    np.testing.assert_array_equal(got.view(np.int64), _cdflib_epoch_to_unix_ns(values))
    np.testing.assert_array_equal(xt.datetime64_to_epoch(got), values)
    # compute_epoch of a known date
    assert xt.datetime64_to_epoch(np.datetime64("2022-01-01T01:02:03.004")) == CDFepoch.compute_epoch(
        [2022, 1, 1, 1, 2, 3, 4])


def test_epoch_fill_pad_fraction_range():
    out = xt.epoch_to_datetime64(np.array([xt.EPOCH_FILL, xt.EPOCH_PAD, np.nan, 63082368000000.5]))
    assert np.isnat(out[:3]).all()
    assert out[3] == np.datetime64("1999-01-01T00:00:00.000500", "ns")
    assert xt.datetime64_to_epoch(np.array(["NaT"], dtype="datetime64[ns]"))[0] == -1e31
    with pytest.warns(xt.TimeRangeWarning, match="1 value"):
        out = xt.epoch_to_datetime64(np.array([CDFepoch.compute_epoch([2300, 1, 1, 0, 0, 0, 0])]))
    assert np.isnat(out[0])
    with pytest.raises(InputError, match="values"):
        xt.epoch_to_datetime64(np.array(["x"]))


def test_epoch16_against_cdflib_and_round_trip():
    rng = np.random.default_rng(9)
    lo = CDFepoch.compute_epoch16([1700, 1, 1, 0, 0, 0, 0, 0, 0, 0]).real
    hi = CDFepoch.compute_epoch16([2260, 1, 1, 0, 0, 0, 0, 0, 0, 0]).real
    sec = rng.integers(int(lo), int(hi), 1000).astype(np.float64)
    ps = rng.integers(0, 10**12, 1000).astype(np.float64)
    values = sec + 1j * ps
    got = xt.epoch16_to_datetime64(values)
    comps = np.atleast_2d(CDFepoch.breakdown_epoch16(values))
    expected = np.array([_components_to_unix_ns(c[:9]) for c in comps], dtype=np.int64)
    np.testing.assert_array_equal(got.view(np.int64), expected)
    back = xt.datetime64_to_epoch16(got)
    np.testing.assert_array_equal(back.real, sec)
    np.testing.assert_array_equal(back.imag, np.floor(ps / 1000) * 1000)
    # float input with trailing (seconds, picoseconds)
    pairs = np.stack([sec, ps], axis=-1).reshape(10, 100, 2)
    np.testing.assert_array_equal(xt.epoch16_to_datetime64(pairs), got.reshape(10, 100))


def test_epoch16_fill_pad():
    out = xt.epoch16_to_datetime64(np.array([xt.EPOCH16_FILL, 0j, complex(np.nan, 0)]))
    assert np.isnat(out).all()
    assert xt.datetime64_to_epoch16(np.array(["NaT"], dtype="datetime64[ns]"))[0] == xt.EPOCH16_FILL
    with pytest.raises(InputError, match="last dimension"):
        xt.epoch16_to_datetime64(np.zeros((3, 3)))


# ----------------------------------------------------------------------------- lazy inputs
def _counting_scheduler():
    import dask

    calls = {"n": 0}

    def get(dsk, keys, **kwargs):
        calls["n"] += 1
        return dask.get(dsk, keys, **kwargs)

    return get, calls


def test_dask_and_xarray_inputs_stay_lazy():
    import dask
    import dask.array as da
    import xarray as xr

    get, calls = _counting_scheduler()
    values = np.arange(0, 10 * NS, NS // 3, dtype=np.int64)
    lazy = da.from_array(values, chunks=7)
    with dask.config.set(scheduler=get):
        decoded = xt.tt2000_to_datetime64(lazy)
        arr = xr.DataArray(lazy, dims="t")
        decoded_xr = xt.tt2000_to_datetime64(arr)
        encoded = xt.datetime64_to_tt2000(decoded_xr)
        assert calls["n"] == 0
        np.testing.assert_array_equal(decoded.compute(), xt.tt2000_to_datetime64(values))
        np.testing.assert_array_equal(encoded.compute().values, values)
    assert calls["n"] == 2


# ----------------------------------------------------------------------------- leap-second table
def test_leap_second_table_contents():
    table = xt.leap_second_table()
    post = table["date"] >= np.datetime64("1972-01-01")
    assert [tuple(map(int, str(d).split("-"))) for d in table["date"][post][1:]] == LEAP_DATES
    np.testing.assert_array_equal(table["tai_minus_utc"][post], np.arange(10.0, 38.0))
    assert table["date"][0] == np.datetime64("1960-01-01")


def test_update_leap_seconds_from_file(tmp_path):
    bundled = xspace.data.get_path("CDFLeapSeconds.txt").read_text()
    newer = bundled + "  2030   1    1   38.0            0.0  0.0\n"
    src = tmp_path / "newer.txt"
    src.write_text(newer)
    cache = tmp_path / "cache"
    t_after = np.array(["2030-06-01T00:00:00"], dtype="datetime64[ns]")
    before = xt.datetime64_to_tt2000(t_after)[0]
    try:
        with xspace.set_options(cache_dir=str(cache)):
            installed = xt.update_leap_seconds(src)
            assert installed.parent == cache and installed.read_text() == newer
            assert xt.datetime64_to_tt2000(t_after)[0] == before + NS
            # inside the new leap second
            inside = xt.datetime64_to_tt2000(np.array(["2030-01-01"], dtype="datetime64[ns]"))[0] - NS // 2
            assert str(xt.tt2000_to_datetime64(inside)) == "2029-12-31T23:59:59.999999999"
            # a fresh session picks the cached table up
            xt._TABLE = None
            assert xt.leap_second_table()["source"] == str(installed)
    finally:
        xt._TABLE = None
    assert xt.datetime64_to_tt2000(t_after)[0] == before


@pytest.mark.parametrize(
    "text, match",
    [
        ("  1972 1 1 10.0 0.0\n", "line 1: expected 6 columns"),
        ("  1972 1 1 ten 0.0 0.0\n", "non-numeric"),
        ("  1972 1 1 10.0 0.0 0.0\n  1971 1 1 11.0 0.0 0.0\n", "strictly increasing"),
        ("  1973 1 1 12.0 0.0 0.0\n", "1972-01-01 row"),
        ("; only comments\n", "no data rows"),
    ],
)
def test_update_leap_seconds_malformed(tmp_path, text, match):
    src = tmp_path / "bad.txt"
    src.write_text(text)
    with xspace.set_options(cache_dir=str(tmp_path / "cache")):
        with pytest.raises(FileFormatError, match=match) as info:
            xt.update_leap_seconds(src)
    assert "bad.txt" in str(info.value)
    assert not (tmp_path / "cache" / "CDFLeapSeconds.txt").exists()
