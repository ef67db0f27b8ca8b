"""AMDA provider: ASCII/CDF parsing and the REST flow (token, getParameter, in-progress polls, file)."""

from __future__ import annotations

import numpy as np
import pytest

import xspace
from xspace.errors import FetchError, ProductNotFound
from xspace.fetch.providers import amda
from xspace.testing.others_site import amda_value, serve_others

# a real AMDA ASCII header (AMDA 3.6.0, c1_b_gsm), followed by made-up rows
REAL_HEADER = """# -----------
# AMDA INFO :
# -----------
# AMDA_ABOUT : Created by AMDA(c)
# AMDA_VERSION : 3.6.0
# AMDA_ACKNOWLEDGEMENT : CDPP/AMDA Team
#
# --------------
# REQUEST INFO :
# --------------
# REQUEST_STRUCTURE : one-file-per-parameter-per-interval
# REQUEST_TIME_FORMAT : ISO 8601
# REQUEST_OUTPUT_PARAMS : c1_b_gsm
#
# -----------------
# BASE PARAMETERS :
# -----------------
#
# MISSION_ID : Cluster1
# MISSION_NAME : Cluster 1
#
#     DATASET_ID : clust1-fgm-prp
#     DATASET_NAME : 4 sec (spin)
#
#       PARAMETER_ID : c1_b_gse
#       PARAMETER_NAME : c1_b_gse
#       PARAMETER_SHORT_NAME : b_gse
#       PARAMETER_COMPONENTS : bx,by,bz
#       PARAMETER_UNITS : nT
#       PARAMETER_COORDINATE_SYSTEM : GSE
#       PARAMETER_TENSOR_ORDER : 0
#       PARAMETER_SI_CONVERSION : 1e-9>T
#       PARAMETER_TABLE : None
#       PARAMETER_FILL_VALUE : nan
#       PARAMETER_UCD : phys.magField
#
# ---------------
# INTERVAL INFO :
# ---------------
# INTERVAL_START : 2006-01-08T01:00:00.000
# INTERVAL_STOP : 2006-01-08T01:01:00.000
#
# ------
# DATA :
# ------
# DATA_COLUMNS : AMDA_TIME, c1_b_gsm[0], c1_b_gsm[1], c1_b_gsm[2]
#
"""


@pytest.fixture
def fast_polls(monkeypatch):
    monkeypatch.setattr(amda, "POLL_FIRST_DELAY", 0.02)
    monkeypatch.setattr(amda, "POLL_MAX_DELAY", 0.1)
    amda._token.clear()


@pytest.fixture
def site(tmp_path, fast_polls):
    with serve_others(amda_polls=2) as s, xspace.set_options(cache_dir=tmp_path, **s.options()):
        yield s


def _expected(times, size=3):
    return np.array([[amda_value(t, i) for i in range(size)] for t in times])


# --------------------------------------------------------------------------------------- parsing
def test_parse_real_header():
    rows = ("2006-01-08T01:00:02.042 -1.25 3.5 10.125\n"
            "2006-01-08T01:00:06.042 nan 3.0 9.75\n")
    da = amda.parse_ascii((REAL_HEADER + rows).encode(), "c1_b_gsm")
    assert da.name == "c1_b_gsm" and da.dims == ("Epoch", "component")
    assert list(da.component.values) == ["bx", "by", "bz"]
    assert da.Epoch.values[0] == np.datetime64("2006-01-08T01:00:02.042")
    np.testing.assert_array_equal(da.values[0], [-1.25, 3.5, 10.125])
    assert np.isnan(da.values[1, 0]) and da.values[1, 2] == 9.75
    assert da.attrs["UNITS"] == "nT" and da.attrs["coordinate_system"] == "GSE"
    assert da.attrs["SI_conversion"] == "1e-9>T" and da.attrs["mission"] == "Cluster 1"
    empty = amda.parse_ascii(REAL_HEADER.encode(), "c1_b_gsm")
    assert empty.shape == (0, 3) and empty.Epoch.dtype == "datetime64[ns]"


def test_parse_unix_times_and_scalar():
    da = amda.parse_ascii(b"# DATA_COLUMNS : AMDA_TIME, dst\n1136682000.5 -12\n1136682001.0 -13.5\n", "dst")
    assert da.dims == ("Epoch",)
    assert da.Epoch.values[0] == np.datetime64("2006-01-08T01:00:00.500")
    np.testing.assert_array_equal(da.values, [-12.0, -13.5])


def test_parse_status_variants():
    assert amda.parse_status({"success": True, "dataFileURLs": ["http://h/a.txt"]}) == ("done", ["http://h/a.txt"])
    assert amda.parse_status({"success": True, "status": "in progress", "id": "p1"}) == ("in progress", "p1")
    assert amda.parse_status({"success": False, "message": "boom"}) == ("error", "boom")


def test_parameter_index_of_real_tree(shared_data):
    index = amda.parameter_index((shared_data / "cdf" / "cdaweb_obsdatatree.xml").read_bytes())
    imf = index["imf"]
    assert imf["units"] == "nT" and imf["size"] == "3" and imf["sampling"] == 16.0
    assert imf["dataset"] == "ace-imf-all" and imf["start"] == "1997-09-02T00:00:12Z"


# ------------------------------------------------------------------------------------ REST flow
def test_in_progress_flow_exact_values(site):
    da = xspace.get_data("amda/imf", "2020-01-01T00:00", "2020-01-01T00:02")
    times = np.arange(np.datetime64("2020-01-01T00:00", "ns"), np.datetime64("2020-01-01T00:02", "ns"),
                      np.timedelta64(16, "s"))
    np.testing.assert_array_equal(da.Epoch.values, times)
    np.testing.assert_array_equal(da.values, _expected(times))
    assert da.attrs["UNITS"] == "nT" and da.attrs["amda_dataset_id"] == "ace-imf-all"
    assert site.count("/auth.php") == 1
    assert site.count("/getParameter.php") == 1
    assert site.count("/getStatus.php") == 3  # two "in progress", then "done"
    assert site.count("/amda-data/WSRESULT/") == 1
    # the piece is cached: no request at all the second time, not even a token
    again = xspace.get_data("amda/imf", "2020-01-01T00:00:30", "2020-01-01T00:01:30")
    np.testing.assert_array_equal(again.values, _expected(times[2:6]))
    assert site.count("/auth.php") == 1 and site.count("/getParameter.php") == 1


def test_direct_answer_without_polls(site):
    site.amda_polls = 0
    da = xspace.get_data("amda/imf_mag", "2020-01-01T00:00", "2020-01-01T00:01")
    assert da.dims == ("Epoch",) and da.shape == (4,)
    assert da.values[3] == amda_value(np.datetime64("2020-01-01T00:00:48"))
    assert site.count("/getStatus.php") == 0


def test_poll_wait_is_bounded(site):
    site.amda_polls = 10_000
    with pytest.raises(FetchError, match="still in progress"):
        xspace.get_data("amda/imf", "2020-01-01", "2020-01-01T00:10", poll_timeout=0.3)
    assert 2 <= site.count("/getStatus.php") <= 8  # growing delays: a few polls, not a busy loop


def test_multi_piece_request_has_no_duplicates(site):
    site.amda_polls = 1
    start, stop = np.datetime64("2020-01-01T23:00", "ns"), np.datetime64("2020-01-04T01:00", "ns")
    da = xspace.get_data("amda/imf", start, stop)
    times = np.arange(start, stop, np.timedelta64(16, "s"))
    np.testing.assert_array_equal(da.Epoch.values, times)
    np.testing.assert_array_equal(da.values, _expected(times))
    assert site.count("/getParameter.php") == 2  # pieces of 2 days for a 16 s cadence
    assert site.count("/getStatus.php") == 4


def test_threads_share_one_request(site):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: xspace.get_data("amda/imf", "2020-05-01", "2020-05-01T00:01"), range(5)))
    assert all(r.values.tolist() == results[0].values.tolist() for r in results) and results[0].shape == (4, 3)
    assert site.count("/getParameter.php") == 1 and site.count("/amda-data/WSRESULT/") == 1


def test_cdf_output(site):
    site.amda_polls = 0
    da = xspace.get_data("amda/imf", "2020-01-01T00:00", "2020-01-01T00:02", output_format="CDF")
    times = np.arange(np.datetime64("2020-01-01T00:00", "ns"), np.datetime64("2020-01-01T00:02", "ns"),
                      np.timedelta64(16, "s"))
    np.testing.assert_array_equal(da.values, _expected(times))
    assert da.attrs["UNITS"] == "nT"


def test_unknown_parameter_lists_close_matches(site):
    with pytest.raises(ProductNotFound, match="amda/imf_gsm"):
        xspace.get_data("amda/imf_gsn", "2020-01-01", "2020-01-02")
    assert site.count("/getParameter.php") == 0


def test_service_errors_carry_the_message(site):
    site.amda_error = "Time interval outside the dataset coverage"
    with pytest.raises(FetchError, match="outside the dataset coverage"):
        xspace.get_data("amda/imf", "2020-01-01", "2020-01-01T01:00")
    site.amda_error_status = 400
    site.amda_error = "Request rejected: quota exceeded"
    with pytest.raises(FetchError, match="quota exceeded"):
        xspace.get_data("amda/imf", "2020-01-01", "2020-01-01T01:00")
    site.amda_error = None  # nothing was cached
    assert xspace.get_data("amda/imf", "2020-01-01", "2020-01-01T00:01").shape == (4, 3)


def test_expired_token_is_renewed(site):
    site.amda_polls = 0
    xspace.get_data("amda/imf", "2020-01-01", "2020-01-01T00:01")
    site._tokens.clear()  # the server forgets every token
    da = xspace.get_data("amda/imf", "2020-03-01", "2020-03-01T00:01")
    assert da.shape == (4, 3) and site.count("/auth.php") == 2


def test_empty_ranges(site):
    site.amda_polls = 0
    da = xspace.get_data("amda/imf", "2020-01-01T00:00:01", "2020-01-01T00:00:03")  # between two samples
    assert da.shape == (0, 3) and da.Epoch.dtype == "datetime64[ns]"
    assert site.count("/getParameter.php") == 1
    for start, stop in (("2020-01-01", "2020-01-01"), ("1990-01-01", "1990-01-02")):  # empty, before coverage
        da = xspace.get_data("amda/imf", start, stop)
        assert da.shape == (0, 3) and da.component.values.tolist() == ["bx", "by", "bz"]
        assert da.attrs["UNITS"] == "nT"
    assert xspace.get_data("amda/imf_mag", "1990-01-01", "1990-01-02").shape == (0,)
    assert site.count("/getParameter.php") == 1  # no request for what cannot hold data


def test_inventory_from_the_real_tree(site):
    node = amda.inventory()
    assert node.kind == "provider" and "ACE" in [c.name for c in node]
    paths = {}

    def walk(n, depth=0):
        for c in n:
            paths[c.path] = c
            if c.kind != "parameter" and depth < 6:
                walk(c, depth + 1)

    walk(node["ACE"])
    imf = paths["amda/imf"]
    assert imf.kind == "parameter" and imf.meta["units"] == "nT"
    da = xspace.get_data(imf, "2020-01-01T00:00", "2020-01-01T00:00:32")
    assert da.shape == (2, 3)
