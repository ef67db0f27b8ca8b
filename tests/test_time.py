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
    # and the whole TT2000 range that fits datetime64[ns] (1707-09-22 to 2262-04-11)
    values = np.concatenate([values, rng.integers(xt.TT2000_PAD + 1, 8_200_000_000_000_000_000, 2000, dtype=np.int64)])
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
    lo, hi = np.datetime64("1707-09-23", "ns").view(np.int64), np.datetime64("2262-04-10", "ns").view(np.int64)
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
    # outside the cache folder of the update, the bundled table is in use again
    assert xt.datetime64_to_tt2000(t_after)[0] == before
    assert xt.leap_second_table()["source"].endswith("CDFLeapSeconds.txt")
    assert str(cache) not in xt.leap_second_table()["source"]


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


# ----------------------------------------------------------------------------- time scales (step 2)
def _leap_reference(date: dt.date) -> float:
    """TAI-UTC from the published tai-utc.dat rows (independent of xspace's table parsing)."""
    if date >= dt.date(1972, 1, 1):
        return 10.0 + sum(date >= dt.date(*d) for d in LEAP_DATES)
    rows = [((1960, 1, 1), 1.4178180, 37300, 0.001296), ((1961, 1, 1), 1.4228180, 37300, 0.001296),
            ((1961, 8, 1), 1.3728180, 37300, 0.001296), ((1962, 1, 1), 1.8458580, 37665, 0.0011232),
            ((1963, 11, 1), 1.9458580, 37665, 0.0011232), ((1964, 1, 1), 3.2401300, 38761, 0.001296),
            ((1964, 4, 1), 3.3401300, 38761, 0.001296), ((1964, 9, 1), 3.4401300, 38761, 0.001296),
            ((1965, 1, 1), 3.5401300, 38761, 0.001296), ((1965, 3, 1), 3.6401300, 38761, 0.001296),
            ((1965, 7, 1), 3.7401300, 38761, 0.001296), ((1965, 9, 1), 3.8401300, 38761, 0.001296),
            ((1966, 1, 1), 4.3131700, 39126, 0.002592), ((1968, 2, 1), 4.2131700, 39126, 0.002592)]
    applicable = [r for r in rows if date >= dt.date(*r[0])]
    if not applicable:
        return 0.0
    _, offset, ref, drift = applicable[-1]
    mjd_noon = date.toordinal() - dt.date(1858, 11, 17).toordinal() + 0.5  # NASA: the day's noon
    return offset + (mjd_noon - ref) * drift


def _random_times(n, start="1958-01-01", stop="2100-01-01", seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.datetime64(start, "ns").view(np.int64), np.datetime64(stop, "ns").view(np.int64)
    return np.sort(rng.integers(lo, hi, n, dtype=np.int64)).view("datetime64[ns]")


def test_leap_seconds_published():
    times = _random_times(500, seed=1)
    got = xt.leap_seconds(times)
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in times]
    np.testing.assert_allclose(got, [_leap_reference(d) for d in dates], rtol=0, atol=1e-9)
    assert xt.leap_seconds(np.array(["2017-01-01", "2016-12-31T23:59:59.9"], dtype="datetime64[ns]")).tolist() == [37.0, 36.0]
    assert np.isnan(xt.leap_seconds(np.array(["NaT"], dtype="datetime64[ns]"))[0])


def test_tai_gps_unix_published_and_round_trip():
    times = _random_times(1000, seed=2)
    days_1958 = np.array([(dt.date.fromisoformat(str(t)[:10]) - dt.date(1958, 1, 1)).days for t in times])
    sod = (times - times.astype("datetime64[D]")).astype(np.int64) / 1e9
    leaps = np.array([_leap_reference(dt.date.fromisoformat(str(t)[:10])) for t in times])
    tai = xt.to_tai(times)
    np.testing.assert_allclose(tai, days_1958 * 86400.0 + sod + leaps, rtol=0, atol=2e-6)
    back = xt.from_tai(tai)
    assert np.max(np.abs((back - times).astype(np.int64))) < 1000  # float64 seconds: < 1 µs
    # GPS: epoch 1980-01-06, GPS - UTC = 18 s since 2017 (= TAI-UTC - 19)
    assert xt.to_gps(np.datetime64("1980-01-06", "ns")) == 0.0
    gps_2020 = (dt.date(2020, 1, 1) - dt.date(1980, 1, 6)).days * 86400 + 18
    assert xt.to_gps(np.datetime64("2020-01-01", "ns")) == gps_2020
    assert xt.from_gps(np.array([gps_2020]))[0] == np.datetime64("2020-01-01")
    post80 = times[times > np.datetime64("1980-01-06")]
    np.testing.assert_allclose(xt.to_gps(post80), xt.to_tai(post80) - xt.to_tai(np.datetime64("1980-01-06", "ns")),
                               rtol=0, atol=1e-6)
    # Unix: POSIX seconds, no leap seconds
    assert xt.to_unix(np.datetime64("2001-09-09T01:46:40", "ns")) == 1e9
    whole = times.astype("datetime64[s]").astype("datetime64[ns]")
    np.testing.assert_array_equal(xt.from_unix(xt.to_unix(whole)), whole)
    np.testing.assert_array_equal(xt.from_unix(whole.astype("datetime64[s]").view(np.int64)), whole)


def test_leap_second_in_tai_and_gps():
    before, after = np.datetime64("2016-12-31T23:59:59", "ns"), np.datetime64("2017-01-01T00:00:00", "ns")
    assert xt.to_tai(after) - xt.to_tai(before) == 2.0  # 23:59:59 -> 23:59:60 -> 00:00:00
    assert xt.to_unix(after) - xt.to_unix(before) == 1.0
    assert xt.from_gps(xt.to_gps(after) - 0.25) == np.datetime64("2016-12-31T23:59:59.999999999")


def test_jd_mjd_published():
    assert xt.to_jd(np.datetime64("2000-01-01T12:00", "ns")) == 2451545.0
    assert xt.to_jd(np.datetime64("2000-01-01T11:58:55.816", "ns"), scale="tt") == 2451545.0  # J2000.0
    assert xt.to_jd(np.datetime64("2000-01-01T11:59:28", "ns"), scale="tai") == 2451545.0  # TAI-UTC = 32 s
    assert xt.to_jd(np.datetime64("1970-01-01", "ns")) == 2440587.5
    assert xt.to_mjd(np.datetime64("1858-11-17", "ns")) == 0.0
    assert xt.to_mjd(np.datetime64("2000-01-01", "ns")) == 51544.0
    times = _random_times(500, seed=4)
    jd = xt.to_jd(times)
    np.testing.assert_allclose(xt.to_mjd(times), jd - 2400000.5, rtol=0, atol=1e-8)
    # independent: JD = 2440587.5 + Unix seconds / 86400
    np.testing.assert_allclose(jd, 2440587.5 + times.view(np.int64) / 86400e9, rtol=0, atol=1e-8)
    assert np.max(np.abs((xt.from_jd(jd) - times).astype(np.int64))) < 50_000  # 40 µs float64 JD
    assert np.max(np.abs((xt.from_mjd(xt.to_mjd(times)) - times).astype(np.int64))) < 10_000
    for scale in ("tai", "tt", "gps"):
        back = xt.from_jd(xt.to_jd(times, scale=scale), scale=scale)
        assert np.max(np.abs((back - times).astype(np.int64))) < 50_000, scale
    # JD(TT) - JD(UTC) = (TAI-UTC + 32.184 s) / 86400
    t = np.datetime64("2020-06-01T00:00", "ns")
    assert abs((xt.to_jd(t, scale="tt") - xt.to_jd(t)) * 86400 - 69.184) < 1e-4


def test_rdt_against_real_qindenton_file(shared_data):
    h5py = pytest.importorskip("h5py")
    with h5py.File(shared_data / "omni" / "qindenton_hourly_1999-2001.h5", "r") as f:
        utc = np.array([s.decode() for s in f["UTC"][:2000]], dtype="datetime64[ns]")
        rdt = f["RDT"][:2000]
    np.testing.assert_allclose(xt.to_rdt(utc), rdt, rtol=0, atol=1e-8)
    assert np.max(np.abs((xt.from_rdt(rdt) - utc).astype(np.int64))) < 1_000_000  # the file's float RDT: < 1 ms
    assert xt.to_rdt(np.datetime64("2002-02-02T12:00", "ns")) == dt.date(2002, 2, 2).toordinal() + 0.5
    with pytest.warns(xt.TimeRangeWarning):
        assert np.isnat(xt.from_rdt(np.array([1.0]))[0])


def test_met():
    # Fermi MET: SI seconds since 2001-01-01T00:00:00 UTC; leap seconds at the end of 2005 and 2008
    fermi = xt.met_to_datetime64(np.array([0.0, 252460801.0, 252460802.0, np.nan]), "2001-01-01T00:00:00")
    assert fermi[:3].tolist() == np.array(["2001-01-01", "2008-12-31T23:59:59.999999999", "2009-01-01"],
                                          dtype="datetime64[ns]").tolist()
    assert np.isnat(fermi[3])
    # counting UTC seconds (no leap seconds) instead
    assert xt.met_to_datetime64(np.array([252460800]), "2001-01-01", scale="utc")[0] == np.datetime64("2009-01-01")
    # an epoch written in TT: J2000.0
    j2000 = xt.met_to_datetime64(np.array([0.0]), "2000-01-01T12:00:00", epoch_scale="tt")
    assert j2000[0] == np.datetime64("2000-01-01T11:58:55.816")
    # GPS time is a MET with epoch 1980-01-06 counted in SI seconds
    secs = np.array([0.0, 1e6, 1.2e9, 1.3e9 + 0.5])
    np.testing.assert_array_equal(xt.met_to_datetime64(secs, "1980-01-06"), xt.from_gps(secs))
    np.testing.assert_array_equal(xt.met_to_datetime64(secs, "1980-01-06", epoch_scale="gps"), xt.from_gps(secs))
    times = _random_times(300, start="1990-01-01", stop="2030-01-01", seed=8)
    for scale in ("tai", "utc"):
        met = xt.datetime64_to_met(times, "2001-01-01", scale=scale)
        back = xt.met_to_datetime64(met, "2001-01-01", scale=scale)
        assert np.max(np.abs((back - times).astype(np.int64))) < 1000
    diff = xt.datetime64_to_met(times, "1990-01-01") - xt.datetime64_to_met(times, "1990-01-01", scale="utc")
    np.testing.assert_allclose(diff, xt.leap_seconds(times) - 25.0, atol=1e-6)  # TAI-UTC was 25 s in 1990


def test_scale_bad_input():
    t = np.array(["2000-01-01"], dtype="datetime64[ns]")
    with pytest.raises(InputError, match="'scale'"):
        xt.to_jd(t, scale="ut1")
    with pytest.raises(InputError, match="'epoch_scale'"):
        xt.met_to_datetime64([0.0], "2000-01-01", epoch_scale="x")
    with pytest.raises(InputError, match="'epoch'"):
        xt.met_to_datetime64([0.0], "not a time")
    with pytest.raises(InputError, match="'seconds'"):
        xt.from_tai(np.array(["a"]))
    with pytest.raises(InputError, match="'times'"):
        xt.to_unix(np.array([1.0]))
    with pytest.warns(xt.TimeRangeWarning):
        assert np.isnat(xt.from_unix(np.array([1e11]))[0])
    nat = np.array(["NaT"], dtype="datetime64[ns]")
    for f in (xt.to_tai, xt.to_gps, xt.to_unix, xt.to_jd, xt.to_mjd, xt.to_rdt):
        assert np.isnan(f(nat)[0]), f.__name__
    for f in (xt.from_tai, xt.from_gps, xt.from_unix, xt.from_jd, xt.from_mjd, xt.from_rdt):
        assert np.isnat(f(np.array([np.nan]))[0]), f.__name__


def test_scales_lazy_with_dask_and_xarray():
    import dask
    import dask.array as da
    import xarray as xr

    times = _random_times(100, start="1990-01-01", seed=5)
    get, calls = _counting_scheduler()
    with dask.config.set(scheduler=get):
        lazy = xr.DataArray(da.from_array(times, chunks=30), dims="Epoch")
        results = [xt.to_tai(lazy), xt.to_jd(lazy, scale="tt"), xt.to_rdt(lazy), xt.leap_seconds(lazy),
                   xt.datetime64_to_met(lazy, "2001-01-01")]
        roundtrip = xt.from_tai(results[0])
        assert calls["n"] == 0
        np.testing.assert_array_equal(results[0].compute().values, xt.to_tai(times))
        np.testing.assert_array_equal(results[2].compute().values, xt.to_rdt(times))
        assert roundtrip.dims == ("Epoch",) and roundtrip.dtype == np.dtype("datetime64[ns]")


def test_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, xspace, xspace.time; print('numba' in sys.modules, 'xspace._time_numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
