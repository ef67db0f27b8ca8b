"""The CDAWeb provider against a local CDAWeb look-alike (xspace.testing.cdaweb_site) on 127.0.0.1.

Values of the generated datasets are a known function of time (``ramp_value``: minutes since
2000-01-01), so every test asserts exact values across file boundaries; the real AC_K2_MFI file is
compared with ``xspace.open_cdf`` of the same file.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

import xspace
from xspace.errors import ProductNotFound
from xspace.fetch import _remote, cache
from xspace.fetch.providers import cdaweb
from xspace.testing import LocalServer, Reply
from xspace.testing.cdaweb_site import (
    MASTERS_PATH,
    expected_values,
    REST_PREFIX,
    ramp_gappy_value,
    ramp_value,
    serve_cdaweb,
    version_offset,
)

from conftest import lazy

MINUTE = np.timedelta64(1, "m")
ONE_MIN_FILES = "/pub/data/xspace/test/one_min/2020/"


@pytest.fixture(scope="module")
def site():
    """A 3-day archive with the real files (built once: the real masters take a moment)."""
    with serve_cdaweb(days=3) as s:
        yield s


@pytest.fixture
def small_site():
    """A fresh 3-day archive of generated files only, for tests that change it."""
    with serve_cdaweb(days=3, real_files=False) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_memory():
    """Each test starts without the provider's in-process memo of parsed files."""
    cdaweb._REFS.clear()
    cdaweb._MASTER_MISSING.clear()
    yield
    cdaweb._REFS.clear()


def use(srv, tmp_path, **more):
    return xspace.set_options(cdaweb_url=srv.url, cache_dir=str(tmp_path), **more)


def check_ramp(ds, offset=0.0):
    t = ds["Epoch"].values
    np.testing.assert_array_equal(ds["ramp"].values, ramp_value(t) + offset)


# --------------------------------------------------------------------------------------------- values
def test_three_days_exact_values_one_chunk_per_file(site, tmp_path):
    with use(site, tmp_path):
        ds = lazy(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-04"))
        # the first file repeats 2020-01-02T00:00: taken once, from the second file (its own day)
        assert ds["ramp"].chunks == ((1440, 1440, 1440),)
        assert isinstance(ds["vec"].data, dask.array.Array)
        t = ds["Epoch"].values
        expected_t = np.datetime64("2020-01-01", "ns") + np.arange(3 * 1440) * MINUTE
        np.testing.assert_array_equal(t, expected_t)
        check_ramp(ds)
        r = ramp_value(t)
        np.testing.assert_array_equal(ds["vec"].values, np.stack([r, -r, 2 * r], axis=1))
        np.testing.assert_array_equal(ds["ramp_gappy"].values, ramp_gappy_value(t))
        assert np.isnan(ds["ramp_gappy"].values[30])
        assert ds["vec"].dims == ("Epoch", "cartesian")
        assert ds["label_vec"].values.tolist() == ["ramp      ", "-ramp     ", "2 ramp    "]
        # the other boundary rule: the repeated record is taken from the first file (same values here)
        nxt = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-04", boundary="first")
        assert nxt["ramp"].chunks == ((1441, 1439, 1440),)
        xr.testing.assert_identical(nxt.load(), ds.load())


def test_sub_minute_bounds_are_exact(site, tmp_path):
    with use(site, tmp_path):
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:58:30", "2020-01-02T00:01:00")
        assert da.name == "ramp" and da.dims == ("Epoch",)
        assert da["Epoch"].values.astype("datetime64[m]").astype(str).tolist() == [
            "2020-01-01T23:59", "2020-01-02T00:00"]
        np.testing.assert_array_equal(da.values, [10520639.0, 10520640.0])
        # start included, stop excluded, at exact record times
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02T00:00", "2020-01-02T00:02")
        np.testing.assert_array_equal(da.values, [10520640.0, 10520641.0])
        # a sub-minute interval between records is empty, not None
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02T00:00:10", "2020-01-02T00:00:50")
        assert da.sizes["Epoch"] == 0 and da.dtype == np.float64


def test_several_variables_path(site, tmp_path):
    with use(site, tmp_path):
        ds = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp,vec", "2020-01-02T10:00", "2020-01-02T10:03")
        assert isinstance(ds, xr.Dataset)
        assert sorted(ds.data_vars) == ["ramp", "vec"]
        check_ramp(ds)
        assert ds["vec"].values[:, 2].tolist() == (2 * ramp_value(ds["Epoch"].values)).tolist()


@pytest.mark.parametrize("dataset", ["XS_TEST_VERS", "XS_TEST_DOTVERS"])
@pytest.mark.parametrize("method", ["rest", "archive"])
def test_only_the_newest_version_is_read(site, tmp_path, dataset, method):
    newest_first_day = {"XS_TEST_VERS": "10", "XS_TEST_DOTVERS": "5.10.0"}[dataset]
    other_days = {"XS_TEST_VERS": "9", "XS_TEST_DOTVERS": "5.9.0"}[dataset]
    with use(site, tmp_path):
        da = xspace.get_data(f"cdaweb/{dataset}/ramp", "2020-01-01T23:00", "2020-01-02T01:00", method=method)
        t = da["Epoch"].values
        first = t < np.datetime64("2020-01-02")
        np.testing.assert_array_equal(da.values[first], ramp_value(t[first]) + version_offset(newest_first_day))
        np.testing.assert_array_equal(da.values[~first], ramp_value(t[~first]) + version_offset(other_days))
        assert first.sum() == 6 and (~first).sum() == 6


def test_version_tokens_compare_numerically():
    assert cdaweb.version_key("x_20200101_v10.cdf") > cdaweb.version_key("x_20200101_v9.cdf")
    assert cdaweb.version_key("x_20200101_v5.10.0.cdf") > cdaweb.version_key("x_20200101_v5.9.0.cdf")
    t = np.datetime64("2020-01-01", "ns")
    entries = [cdaweb.FileEntry(f"http://h/x_20200101_v{v}.cdf", t, t) for v in ("5.9.0", "5.10.0", "5.2.1")]
    keep, old = cdaweb.newest_versions(entries)
    assert [e.name for e in keep] == ["x_20200101_v5.10.0.cdf"]
    assert sorted(e.name for e in old) == ["x_20200101_v5.2.1.cdf", "x_20200101_v5.9.0.cdf"]


@pytest.mark.parametrize("method", ["rest", "archive"])
@pytest.mark.parametrize("dataset,step", [("XS_TEST_HOURLY", 60), ("XS_TEST_DOY", 10), ("XS_TEST_FLAT", 5)])
def test_layouts(site, tmp_path, dataset, step, method):
    """Year/month folders (CDF_EPOCH), year/day-of-year folders, flat folder."""
    with use(site, tmp_path):
        da = xspace.get_data(f"cdaweb/{dataset}/ramp", "2020-01-01T22:00", "2020-01-02T02:00", method=method,
                             load=True)
        t = da["Epoch"].values
        expected = np.datetime64("2020-01-01T22:00", "ns") + np.arange(4 * 60 // step) * step * MINUTE
        np.testing.assert_array_equal(t, expected)
        np.testing.assert_array_equal(da.values, ramp_value(t))
        assert isinstance(da.variable._data, np.ndarray)


def test_real_ac_k2_mfi_equals_open_cdf(site, tmp_path, cdf_dir):
    ref = xspace.open_cdf(cdf_dir / "ac_k2_mfi_20220101_v03.cdf")
    with use(site, tmp_path):
        b = xspace.get_data("cdaweb/AC_K2_MFI/BGSEc", "2022-01-01", "2022-01-02")
        assert isinstance(b.data, dask.array.Array)
        assert b.dims == ref["BGSEc"].dims and b.dtype == ref["BGSEc"].dtype
        np.testing.assert_array_equal(b.values, ref["BGSEc"].values)
        np.testing.assert_array_equal(b["Epoch"].values, ref["Epoch"].values)
        assert b.attrs["UNITS"] == ref["BGSEc"].attrs["UNITS"] == "nT"
        assert b.encoding["FILLVAL"] == ref["BGSEc"].encoding["FILLVAL"]
        assert b["label_BGSE"].values.tolist() == ref["label_BGSE"].values.tolist()
        whole = xspace.get_data("cdaweb/ac_k2_mfi", "2022-01-01T05:00", "2022-01-01T07:30")  # case-insensitive id
        assert set(whole.data_vars) == set(ref.data_vars)
        for name in ref.data_vars:
            np.testing.assert_array_equal(whole[name].values, ref[name].isel(Epoch=slice(5, 8)).values)


REAL = {
    # per-variable GZIP, two time bases
    "PSP_FLD_L2_MAG_RTN_1MIN": ("psp_fld_l2_mag_rtn_1min_20200104_v02.cdf", "2020-01-04", "2020-01-05"),
    # two time axes, a record-varying energy table, non-record-varying pitch angles
    "RBSPA_REL04_ECT-HOPE-PA-L3": ("rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf", "2012-12-01", "2012-12-02"),
    # CDF 2.4 rVariables
    "GE_K0_CPI": ("ge_k0_cpi_19921231_v02.cdf", "1992-12-31", "1993-01-01"),
    # CDF 2.7, GZIP(9)
    "DE2_ION2S_RPA": ("de2_ion2s_rpa_19830213_v01.cdf", "1983-02-13", "1983-02-14"),
}


@pytest.mark.parametrize("dataset", sorted(REAL))
def test_real_datasets_equal_open_cdf(site, tmp_path, cdf_dir, dataset):
    name, start, stop = REAL[dataset]
    ref = xspace.open_cdf(cdf_dir / name)
    with use(site, tmp_path):
        got = xspace.get_data(f"cdaweb/{dataset}", start, stop, method="archive" if "GE" in dataset else "rest")
    assert set(got.variables) == set(ref.variables) and dict(got.sizes) == dict(ref.sizes)
    for n, x in ref.variables.items():
        y = got[n]
        assert (y.dims, y.dtype) == (x.dims, x.dtype), n
        np.testing.assert_array_equal(y.values, x.values, err_msg=n)


# ---------------------------------------------------------------------------------------- laziness
def test_lazy_build_reads_metadata_by_range_and_compute_downloads_each_file_once(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        srv.reset_counts()
        ds = lazy(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01T12:00", "2020-01-03T12:00",
                                          block_size=4096))
        reqs = srv.requests(ONE_MIN_FILES)
        assert reqs and all("Range" in r.headers for r in reqs), "the build downloaded a whole file"
        sizes = {}
        for p in sorted(Path(srv.archive_root).glob("pub/data/xspace/test/one_min/2020/*.cdf")):
            sizes[p.name] = p.stat().st_size
        asked = 0
        for r in reqs:
            a, b = map(int, re.match(r"bytes=(\d+)-(\d+)", r.headers["Range"]).groups())
            asked += b - a + 1
        assert asked < 0.6 * sum(sizes.values())
        files = [f"{srv.url}{ONE_MIN_FILES}{n}" for n in sorted(sizes)]
        assert not any(cache.path_for(u).exists() for u in files)

        srv.reset_counts()
        ds = ds.load()
        for name in sizes:
            got = srv.requests(ONE_MIN_FILES + name)
            assert len(got) == 1 and "Range" not in got[0].headers, name
        assert all(cache.path_for(u).exists() for u in files)
        check_ramp(ds)
        assert ds.sizes["Epoch"] == 2 * 1440


def test_only_the_files_of_the_computed_part_are_downloaded(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01", "2020-01-04")
        srv.reset_counts()
        part = da.sel(Epoch=slice("2020-01-03T01:00", "2020-01-03T02:00")).values
        assert srv.count("xs_test_1min_20200103") == 1
        assert srv.count("xs_test_1min_20200101") == 0 and srv.count("xs_test_1min_20200102") == 0
        assert part.tolist() == ramp_value(np.arange("2020-01-03T01:00", "2020-01-03T02:01", dtype="datetime64[m]")
                                           .astype("datetime64[ns]")).tolist()


def test_warm_call_makes_no_request_within_ttl(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        first = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-03", load=True)
        cdaweb._REFS.clear()  # a new session: only the disk cache is warm
        srv.reset_counts()
        second = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-03")
        xr.testing.assert_identical(first, second.load())
        assert sum(srv.counts.values()) == 0, srv.counts
        # a lazy build that was never computed is warm too: the Range blocks are kept on disk
        xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-03", "2020-01-04")
        cdaweb._REFS.clear()
        srv.reset_counts()
        xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-03", "2020-01-04")
        assert sum(srv.counts.values()) == 0, srv.counts


def test_load_true_downloads_in_parallel_and_returns_numpy(small_site, tmp_path):
    srv = small_site
    srv.faults.latency = 0.2
    with use(srv, tmp_path):
        ds = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-04")  # metadata only
        t0 = time.monotonic()
        loaded = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01", "2020-01-04", load=True, progress=False,
                                 max_connections_per_host=3)
        elapsed = time.monotonic() - t0
    srv.faults.latency = 0
    assert all(isinstance(v.variable._data, np.ndarray) for v in loaded.data_vars.values())
    xr.testing.assert_identical(ds.load(), loaded)
    # 3 files + the listing and master checks: sequential downloads alone would take >= 0.6 s
    assert elapsed < 0.6 + 0.2 * 2, elapsed


# -------------------------------------------------------------------------------------- supersession
def test_new_version_supersedes_the_cached_one_after_the_ttl(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        old = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02", "2020-01-03", load=True, ttl=0.5)
        check_ramp(old.to_dataset())
        old_url = f"{srv.url}{ONE_MIN_FILES}xs_test_1min_20200102_v01.cdf"
        assert cache.path_for(old_url).exists()
        srv.add_version("XS_TEST_1MIN", "2020-01-02", "02")
        srv.reset_counts()
        cached = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02", "2020-01-03", load=True, ttl=0.5)
        check_ramp(cached.to_dataset())  # within the TTL the listing is not asked again
        assert sum(srv.counts.values()) == 0
        time.sleep(0.6)
        new = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02", "2020-01-03", load=True, ttl=0.5)
        # 2020-01-02T00:00 is also the last record of the previous day's file (v01): by default the
        # reprocessed day's own copy is kept (what CDAWeb's data service returns)
        check_ramp(new.to_dataset(), offset=version_offset("02"))
        nxt = new
        # boundary="first": the copy of the earlier file
        new = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02", "2020-01-03", ttl=0.5, boundary="first")
        assert new.values[0] == ramp_value(new["Epoch"].values[:1])[0]
        t_exp, v_exp = expected_values(srv.info, "XS_TEST_1MIN", "2020-01-02", "2020-01-03", keep="next")
        np.testing.assert_array_equal(nxt["Epoch"].values, t_exp)
        np.testing.assert_array_equal(nxt.values, v_exp)
        t_exp, v_exp = expected_values(srv.info, "XS_TEST_1MIN", "2020-01-02", "2020-01-03", keep="first")
        np.testing.assert_array_equal(new.values, v_exp)
        assert nxt.values[0] == v_exp[0] + version_offset("02")
        whole = [r for r in srv.requests("xs_test_1min_20200102_v02.cdf") if "Range" not in r.headers]
        assert len(whole) == 1  # (besides the Range reads of its metadata)
        assert not cache.path_for(old_url).exists(), "the superseded version is still cached"
        assert not _remote.ranges_path(old_url).exists()


# --------------------------------------------------------------------------------------- metadata
def _write_master(srv, catdesc: str) -> None:
    """Replace XS_TEST_1MIN's master by one with another CATDESC and an extra attribute for ramp."""
    t = np.array([], dtype="datetime64[ns]")
    ramp_attrs = {"VAR_TYPE": "data", "DEPEND_0": "Epoch", "CATDESC": catdesc, "FIELDNAM": "ramp",
                  "UNITS": "min", "FILLVAL": -1e31, "VAR_NOTES": "from the master", "FORMAT": "F14.1",
                  "LABLAXIS": "ramp", "DISPLAY_TYPE": "time_series", "VALIDMIN": -1e9, "VALIDMAX": 1e9}
    ds = xr.Dataset(
        {"ramp": ("Epoch", np.array([], float), ramp_attrs)},
        coords={"Epoch": ("Epoch", t, {"VAR_TYPE": "support_data", "FIELDNAM": "Time", "CATDESC": "Time",
                                        "LABLAXIS": "Epoch", "MONOTON": "INCREASE"})},
        attrs={"Project": "xspace>test", "Logical_source": "xs_test_1min"},
    )
    xspace.to_cdf(ds, Path(srv.archive_root) / MASTERS_PATH.lstrip("/") / "xs_test_1min_00000000_v01.cdf",
                  overwrite=True, istp_defaults=True)


def test_master_attributes_win_over_the_files(small_site, tmp_path):
    srv = small_site
    _write_master(srv, "Minutes since 2000 (master CATDESC)")
    with use(srv, tmp_path):
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T10:00", "2020-01-01T10:05")
        assert da.attrs["CATDESC"] == "Minutes since 2000 (master CATDESC)"
        assert da.attrs["VAR_NOTES"] == "from the master"
        assert da.attrs["UNITS"] == "min"
        assert da.encoding["FILLVAL"] == -1e31  # decoding stays the data file's
        check_ramp(da.to_dataset())
        vec = xspace.get_data("cdaweb/XS_TEST_1MIN/vec", "2020-01-01T10:00", "2020-01-01T10:05")
        assert vec.attrs["CATDESC"] == "Vector [ramp, -ramp, 2 ramp]"  # not in the master: the file's


def test_virtual_variable_comes_from_the_rest_data_endpoint(site, tmp_path):
    with use(site, tmp_path):
        whole = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01T10:00", "2020-01-01T10:05")
        assert "ramp_alt" not in whole  # computed by CDAWeb only: not in the files
        assert site.count(REST_PREFIX + "/datasets/XS_TEST_1MIN/data") == 0
        both = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp,ramp_alt", "2020-01-01T23:58", "2020-01-02T00:02")
        assert site.count(REST_PREFIX + "/datasets/XS_TEST_1MIN/data/20200101T235800Z,20200102T000200Z/ramp_alt") == 1
        assert both["ramp_alt"].dims == ("Epoch",) and both.sizes["Epoch"] == 4
        np.testing.assert_array_equal(both["ramp_alt"].values, ramp_value(both["Epoch"].values))
        np.testing.assert_array_equal(both["ramp_alt"].values, both["ramp"].values)
        assert both["ramp_alt"].attrs["FUNCT"] == "alternate_view"  # the master's attributes
        alone = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp_alt", "2020-01-02T10:00", "2020-01-02T10:03")
        np.testing.assert_array_equal(alone.values, ramp_value(alone["Epoch"].values))
        assert alone.sizes["Epoch"] == 3


def test_empty_range_gives_empty_objects_with_the_right_structure(site, tmp_path):
    with use(site, tmp_path):
        ds = xspace.get_data("cdaweb/XS_TEST_1MIN", "2021-06-01", "2021-06-02")  # no file: the master's structure
        assert isinstance(ds, xr.Dataset) and ds.sizes["Epoch"] == 0
        assert sorted(ds.data_vars) == ["ramp", "ramp_gappy", "vec"]
        assert ds["vec"].dims == ("Epoch", "cartesian") and ds["vec"].shape == (0, 3)
        assert ds["ramp"].dtype == np.float64 and ds["Epoch"].dtype == np.dtype("datetime64[ns]")
        da = xspace.get_data("cdaweb/XS_TEST_1MIN/vec", "2020-01-01T10:00", "2020-01-01T10:00")
        assert isinstance(da, xr.DataArray) and da.shape == (0, 3) and da.dtype == np.float64
        real = xspace.get_data("cdaweb/AC_K2_MFI/BGSEc", "2023-01-01", "2023-01-02")
        assert real.shape == (0, 3) and real.dtype == np.float32 and real.attrs["UNITS"] == "nT"


def test_unknown_dataset_and_variable_suggest_close_matches(site, tmp_path):
    with use(site, tmp_path):
        with pytest.raises(ProductNotFound, match="XS_TEST_1MIN"):
            xspace.get_data("cdaweb/XS_TEST_1MN/ramp", "2020-01-01", "2020-01-02")
        with pytest.raises(ProductNotFound, match="close matches: ramp, ramp_gappy"):
            xspace.get_data("cdaweb/XS_TEST_1MIN/rmap", "2020-01-01", "2020-01-02")
        with pytest.raises(ProductNotFound, match="AC_K2_MFI"):
            xspace.get_data("cdaweb/AC_K2_MFJ", "2022-01-01", "2022-01-02", method="archive")
        with pytest.raises(ProductNotFound, match="BGSEc"):
            xspace.get_data("cdaweb/AC_K2_MFI/BGSE", "2022-01-01", "2022-01-02")


# ------------------------------------------------------------------------------------------ fallback
def test_rest_failure_falls_back_to_the_archive_listings(small_site, tmp_path):
    srv = small_site
    srv.faults.add(REST_PREFIX, status=503, times=None)
    try:
        with use(srv, tmp_path, fetch_timeout=0.5):
            da = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:00", "2020-01-03T01:00")
            np.testing.assert_array_equal(da.values, ramp_value(da["Epoch"].values))
            assert da.sizes["Epoch"] == 26 * 60
            assert srv.count(ONE_MIN_FILES, method="GET") >= 1  # the year folder's index page
            assert srv.count("/pub/catalogs/all.xml") == 1
    finally:
        srv.faults.clear()


def test_archive_method_reads_directory_pages_once_within_ttl(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        a = xspace.get_data("cdaweb/XS_TEST_DOY/ramp", "2020-01-01T12:00", "2020-01-02T12:00", method="archive")
        srv.reset_counts()
        b = xspace.get_data("cdaweb/XS_TEST_DOY/ramp", "2020-01-01T12:00", "2020-01-02T12:00", method="archive")
        assert sum(srv.counts.values()) == 0
        xr.testing.assert_identical(a.load(), b.load())
        assert srv.count(REST_PREFIX) == 0


# ------------------------------------------------------------------------------------ remote reading
def test_range_ignored_stores_the_whole_body_and_compressed_files_are_downloaded(tmp_path, cdf_dir):
    body = (cdf_dir / "ac_k2_mfi_20220101_v03.cdf").read_bytes()
    with LocalServer(cdf_dir) as srv, xspace.set_options(cache_dir=str(tmp_path)):
        srv.mount("/norange/", lambda req: Reply(body=body, content_type="application/x-cdf"))
        url = srv.url + "/norange/ac_k2_mfi_20220101_v03.cdf"
        f = _remote.open_remote(url)
        assert cache.path_for(url).read_bytes() == body and srv.count("/norange/") == 1
        assert f.variables["BGSEc"].nrec == 24
        url = srv.url + "/a_compressed_cdf.cdf"  # whole-file GZIP: cannot be read by offset
        f = _remote.open_remote(url)
        assert cache.path_for(url).exists() and f.whole_file_compression == "gzip"


def test_remote_parse_equals_local_parse(site, tmp_path, cdf_dir):
    name = "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    url = f"{site.url}/pub/data/rbsp/rbspa/l3/ect/hope/pitchangle/rel04/2012/{name}"
    with xspace.set_options(cache_dir=str(tmp_path)):
        remote = _remote.open_remote(url, block_size=2048)
        local = xspace.io._cdfarray.cdf_file(str(cdf_dir / name))
        assert isinstance(remote, _remote.RemoteCDFFile)
        assert remote.src.size == local.src.size
        for name, v in local.variables.items():
            rv = remote.variables[name]
            assert (rv.nrec, rv.shape, rv.cdf_type, rv.attrs.keys()) == (v.nrec, v.shape, v.cdf_type, v.attrs.keys())
        got = remote.read_records(remote.variables["Epoch_Ion"], 0, 100)
        np.testing.assert_array_equal(got, local.read_records(local.variables["Epoch_Ion"], 0, 100))
        assert remote.src.fetched * 2048 < local.src.size  # far less than the file was read


# -------------------------------------------------------------------------------------------- inventory
def test_inventory_tree_from_all_xml(site, tmp_path):
    with use(site, tmp_path):
        root = cdaweb.inventory()
        node = root.ACE.MAG.AC_K2_MFI
        assert node.kind == "dataset" and node.path == "cdaweb/AC_K2_MFI"
        assert node.meta["start"].startswith("2022-01-01T00:00:00")
        variables = {v.name: v for v in node}
        assert "BGSEc" in variables and variables["BGSEc"].path == "cdaweb/AC_K2_MFI/BGSEc"
        assert variables["BGSEc"].kind == "parameter"
        test = [d for m in root for i in m for d in i if d.name == "XS_TEST_1MIN"]
        assert len(test) == 1 and sorted(v.name for v in test[0]) == ["ramp", "ramp_alt", "ramp_gappy", "vec"]
        # the node is accepted by get_data
        da = xspace.get_data(variables["BGSEc"], "2022-01-01", "2022-01-01T03:00")
        assert da.shape == (3, 3)


def test_offline_serves_the_cache_and_names_what_is_missing(small_site, tmp_path):
    srv = small_site
    with use(srv, tmp_path):
        loaded = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T06:00", "2020-01-01T07:00", load=True)
        cdaweb._REFS.clear()
        srv.reset_counts()
        with xspace.set_options(offline=True):
            again = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T06:00", "2020-01-01T07:00")
            xr.testing.assert_identical(loaded, again.load())
            with pytest.raises(xspace.errors.OfflineError):
                xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02T06:00", "2020-01-02T07:00")
        assert sum(srv.counts.values()) == 0
