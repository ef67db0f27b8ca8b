"""CSA provider: TAP metadata, product tars of ISTP CDFs (safe extraction, cache), exact [start, stop)."""

from __future__ import annotations

import io
import tarfile

import dask.array as dska
import numpy as np
import pytest

import xspace
from xspace.errors import FetchError, OfflineError, ProductNotFound
from xspace.fetch.providers import csa
from xspace.testing.others_site import csa_value, serve_others

VEC = "csa/C1_CP_FGM_SPIN/B_vec_xyz_gse__C1_CP_FGM_SPIN"
MAG = "csa/C1_CP_FGM_SPIN/B_mag__C1_CP_FGM_SPIN"


@pytest.fixture
def site(tmp_path):
    with serve_others(amda_polls=0) as s, xspace.set_options(cache_dir=tmp_path / "cache", **s.options()):
        yield s


def _tar(members: dict, kind=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


# --------------------------------------------------------------------------------------- pieces
def test_parse_tap_json():
    answer = (b'{"metadata": [{"name": "dataset_id", "datatype": "char"}, {"name": "start_date"}], '
              b'"data": [["C1_CP_FGM_SPIN", "2000-08-22 00:00:00"], ["C2_CP_FGM_SPIN", null]]}')
    rows = csa.parse_tap_json(answer)
    assert rows == [{"dataset_id": "C1_CP_FGM_SPIN", "start_date": "2000-08-22 00:00:00"},
                    {"dataset_id": "C2_CP_FGM_SPIN", "start_date": None}]
    with pytest.raises(FetchError, match="not JSON"):
        csa.parse_tap_json(b"<html>maintenance</html>")


def test_extract_is_safe(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    ok = csa.extract_cdfs(_tar({"CSA_Download/C1/a.cdf": b"CDF1", "CSA_Download/README.txt": b"x"}), inner)
    assert [p.name for p in ok] == ["a.cdf"] and (inner / "a.cdf").read_bytes() == b"CDF1"
    assert not (inner / "README.txt").exists()
    for bad in ({"../../evil.cdf": b"x"}, {"/tmp/abs.cdf": b"x"}, {"a/../../b.cdf": b"x"}):
        target = tmp_path / "t"
        target.mkdir(exist_ok=True)
        with pytest.raises(FetchError, match="unsafe member"):
            csa.extract_cdfs(_tar(bad), target)
        assert list(target.iterdir()) == []
    with pytest.raises(FetchError, match="link"):
        csa.extract_cdfs(_tar({"link.cdf": b""}, kind="symlink"), tmp_path / "t")
    assert not (tmp_path / "evil.cdf").exists() and not (tmp_path.parent / "evil.cdf").exists()
    with pytest.raises(FetchError, match="not a tar"):
        csa.extract_cdfs(b"Internal error", tmp_path / "t")


def test_product_params():
    p = csa.product_params("C1_CP_FGM_SPIN", np.datetime64("2005-01-01T00:00:00.5"), np.datetime64("2005-01-02"))
    assert p["START_DATE"] == "2005-01-01T00:00:00Z" and p["END_DATE"] == "2005-01-02T00:00:00Z"
    assert p["DELIVERY_FORMAT"] == "CDF_ISTP" and p["RETRIEVAL_TYPE"] == "product"


# ------------------------------------------------------------------------------- via the stand-in
def test_variable_across_a_day_boundary_exact_and_lazy(site):
    start, stop = np.datetime64("2005-01-01T23:59:50", "ns"), np.datetime64("2005-01-02T00:00:10", "ns")
    da = xspace.get_data(VEC, start, stop)
    assert isinstance(da.data, dska.Array)  # lazy on the extracted CDFs
    times = np.arange(np.datetime64("2005-01-01T23:59:52", "ns"), stop, np.timedelta64(4, "s"))
    tdim = da.dims[0]
    np.testing.assert_array_equal(da[tdim].values, times)
    expected = np.array([[csa_value(t, i) for i in range(3)] for t in times])
    np.testing.assert_array_equal(da.values, expected)
    assert da.attrs["UNITS"] == "nT"
    assert site.count("/csa-sl-tap/data") == 2  # one product request per UTC day
    assert site.count("START_DATE=2005-01-02T00:00:00Z") == 1
    # extracted CDFs are cached: no request the second time
    mag = xspace.get_data(MAG, "2005-01-01T23:59:56", "2005-01-02T00:00:04", load=True)
    assert isinstance(mag.data, np.ndarray)
    np.testing.assert_array_equal(mag.values, [csa_value(np.datetime64("2005-01-01T23:59:56")),
                                               csa_value(np.datetime64("2005-01-02T00:00:00"))])
    assert site.count("/csa-sl-tap/data") == 2
    cached = list((site_cache := xspace.fetch.cache.cache_dir()).rglob("*.cdf"))
    assert len(cached) == 2 and all(site_cache in p.parents for p in cached)


def test_real_cdf_through_the_tar_pipeline(site, shared_data):
    ref = xspace.open_cdf(str(shared_data / "cdf" / "ac_k2_mfi_20220101_v03.cdf")).load()
    b = xspace.get_data("csa/XS_CP_ACE_K2_MFI/BGSEc", "2022-01-01T05:00", "2022-01-01T08:00", load=True)
    expected = ref.BGSEc.isel(Epoch=slice(5, 8))
    np.testing.assert_array_equal(b.Epoch.values, expected.Epoch.values)
    np.testing.assert_array_equal(b.values, expected.values)
    assert b.dtype == np.float32 and b.attrs["UNITS"] == "nT" and b.attrs["DEPEND_0"] == "Epoch"
    assert b.values[0].tolist() == ref.BGSEc.values[5].tolist()
    day = xspace.get_data("csa/XS_CP_ACE_K2_MFI/Magnitude", "2022-01-01", "2022-01-02")
    np.testing.assert_array_equal(day.values, ref.Magnitude.values)
    assert day.shape == (24,) and site.count("/csa-sl-tap/data") == 1


def test_dataset_path_gives_every_data_variable(site):
    ds = xspace.get_data("csa/C1_CP_FGM_SPIN", "2005-01-01T00:00", "2005-01-01T00:01")
    assert set(ds.data_vars) == {"B_vec_xyz_gse__C1_CP_FGM_SPIN", "B_mag__C1_CP_FGM_SPIN"}
    assert ds.sizes["time_tags__C1_CP_FGM_SPIN"] == 15


def test_unknown_products(site):
    with pytest.raises(ProductNotFound, match="csa/C1_CP_FGM_SPIN"):
        xspace.get_data("csa/C1_CP_FGM_SPIM/B_mag__C1_CP_FGM_SPIN", "2005-01-01", "2005-01-01T01:00")
    assert site.count("/csa-sl-tap/data") == 0
    with pytest.raises(ProductNotFound, match="B_mag__C1_CP_FGM_SPIN"):
        xspace.get_data("csa/C1_CP_FGM_SPIN/B_mag__C1_CP_FGM_SPN", "2005-01-01", "2005-01-01T01:00")


def test_service_errors_carry_the_message(site):
    site.csa_error = "Request too large: more than 1 GB, use RETRIEVAL_ACCESS=DEFERRED"
    with pytest.raises(FetchError, match="more than 1 GB"):
        xspace.get_data(MAG, "2005-01-01", "2005-01-01T01:00")
    site.csa_error_status = 200  # a plain-text message instead of a tar
    site.csa_error = "No data available: archive maintenance"
    with pytest.raises(FetchError, match="archive maintenance"):
        xspace.get_data(MAG, "2005-01-01", "2005-01-01T01:00")
    site.csa_error = None  # nothing was cached
    assert xspace.get_data(MAG, "2005-01-01", "2005-01-01T00:01").shape == (15,)


def test_unsafe_archive_from_the_server_is_refused(site, tmp_path):
    site.csa_evil = True
    with pytest.raises(FetchError, match="unsafe member"):
        xspace.get_data(MAG, "2005-01-01", "2005-01-01T01:00")
    assert not list(tmp_path.rglob("evil.cdf"))
    assert not list((tmp_path / "cache").rglob("*.cdf"))


def test_tap_errors_carry_the_message(site):
    with pytest.raises(FetchError, match="Cannot parse query"):
        csa.tap_query("SELECT nonsense")


def test_empty_ranges(site):
    da = xspace.get_data(MAG, "2005-01-01T00:00:01", "2005-01-01T00:00:02")  # between two samples
    assert da.shape == (0,) and da[da.dims[0]].dtype == "datetime64[ns]"
    outside = xspace.get_data(VEC, "1990-01-01", "1990-01-02")  # before the dataset's coverage
    assert outside.shape == (0, 3)


@pytest.mark.parametrize("no_data_status", [200, 204])
def test_gap_gives_an_empty_result_with_the_right_structure(site, no_data_status):
    """No data in a piece: an empty tar (200) or "204 No Content" — both an empty piece, kept."""
    site.csa_no_data_status = no_data_status
    site.csa_gaps.add("2005-02-01")
    da = xspace.get_data(VEC, "2005-02-01T01:00", "2005-02-01T02:00")
    assert da.shape == (0, 3) and da.dtype == np.float64
    assert site.count("/csa-sl-tap/data") == 2  # the empty day, then the first day of the dataset
    both = xspace.get_data(MAG, "2005-01-31T23:59:52", "2005-02-02T00:00:04")
    t = both[both.dims[0]].values
    assert t.tolist() == np.array(["2005-01-31T23:59:52", "2005-01-31T23:59:56", "2005-02-02T00:00:00"],
                                  dtype="datetime64[ns]").tolist()
    np.testing.assert_array_equal(both.values, [csa_value(x) for x in t])
    n = site.count("/csa-sl-tap/data")
    assert xspace.get_data(VEC, "2005-02-01T01:00", "2005-02-01T02:00").shape == (0, 3)
    assert site.count("/csa-sl-tap/data") == n  # the empty piece is cached like any other


def test_threads_share_one_download(site):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: xspace.get_data(MAG, "2005-03-01T00:00", "2005-03-01T00:01", load=True),
                                range(6)))
    assert all(r.values.tolist() == results[0].values.tolist() for r in results) and results[0].shape == (15,)
    assert site.count("/csa-sl-tap/data") == 1


def test_offline(site):
    xspace.get_data(MAG, "2005-01-01", "2005-01-01T00:01")
    with xspace.set_options(offline=True):
        assert xspace.get_data(MAG, "2005-01-01", "2005-01-01T00:01").shape == (15,)
        with pytest.raises(OfflineError):
            xspace.get_data(MAG, "2005-03-01", "2005-03-01T00:01")


def test_inventory(site):
    node = csa.inventory()
    assert [c.name for c in node] == ["C1", "C3", "XS"]
    fgm = node["C1"]["C1_CP_FGM_SPIN"]
    assert fgm.kind == "dataset" and fgm.meta["start"] == "2000-08-22T00:00:00Z"
    assert fgm.meta["description"] == "Spin Resolution Magnetic Field Vector, FGM, C1"
    params = {c.name: c for c in fgm}
    mag = params["B_mag__C1_CP_FGM_SPIN"]
    assert mag.path == MAG and mag.meta["units"] == "nT"
    assert xspace.get_data(mag, "2005-01-01", "2005-01-01T00:00:08").values.tolist() == [
        csa_value(np.datetime64("2005-01-01T00:00:00")), csa_value(np.datetime64("2005-01-01T00:00:04"))]
    # read back from disk (no TAP dataset query): the datasets still expand into their parameters
    queries = site.count("/tap/sync")
    again = csa.inventory()
    assert again is not node and site.count("FROM csa.v_dataset") == 1
    assert [c.name for c in again["C3"]["C3_CP_FGM_SPIN"]] == ["B_vec_xyz_gse__C3_CP_FGM_SPIN",
                                                                "B_mag__C3_CP_FGM_SPIN"]
    assert site.count("/tap/sync") == queries + 1  # the C3 parameter query only
