"""SSCWeb provider: the real XML answers parse exactly; requests against the local stand-in."""

from __future__ import annotations

import numpy as np
import pytest

import xspace
from xspace.errors import FetchError, InputError, OfflineError, ProductNotFound
from xspace.fetch.providers import sscweb
from xspace.testing.others_site import serve_others, trajectory_value


@pytest.fixture
def site(tmp_path):
    with serve_others(amda_polls=0) as s, xspace.set_options(cache_dir=tmp_path, **s.options()):
        yield s


# ------------------------------------------------------------------------------------ real answers
def test_real_trajectory_parses_exactly(shared_data):
    r = sscweb.parse_locations((shared_data / "sscweb" / "sscweb_trajectory.xml").read_bytes())
    assert r["id"] == "moon" and r["coordinate_system"] == "Gse"
    assert r["time"].size == 61 and r["X"].size == r["Y"].size == r["Z"].size == 61
    assert r["time"][0] == np.datetime64("2006-01-08T01:00:00")
    assert r["time"][-1] == np.datetime64("2006-01-08T02:00:00")
    assert np.all(np.diff(r["time"]) == np.timedelta64(60, "s"))
    assert r["X"][0] == -102719.89954676693 and r["X"][-1] == -106043.05851515925
    assert r["Y"][0] == 366124.3077098972 and r["Y"][-1] == 365347.1464026116
    assert r["Z"][0] == 14156.867656075221
    assert r["RadialLength"][-1] == 380700.25481944886
    assert r["X"].dtype == np.float64


def test_real_observatories_parse(shared_data):
    obs = sscweb.parse_observatories((shared_data / "sscweb" / "sscweb_observatories.xml").read_bytes())
    assert len(obs) == 275
    ace = {o["id"]: o for o in obs}["ace"]
    assert ace["name"] == "ACE" and ace["resolution"] == 720
    assert ace["start"] == np.datetime64("1997-08-25T17:48:00")
    assert ace["stop"] == np.datetime64("2024-05-19T23:48:00")
    assert ace["resource_id"] == "spase://SMWG/Observatory/ACE"


def test_error_document_raises_with_status_text():
    xml = (b'<Response xmlns="http://sscweb.gsfc.nasa.gov/schema"><Result><StatusCode>Error</StatusCode>'
           b"<StatusSubCode>InvalidTime</StatusSubCode><StatusText>Start time after end time</StatusText>"
           b"</Result></Response>")
    with pytest.raises(FetchError, match="Start time after end time"):
        sscweb.parse_locations(xml)


# ------------------------------------------------------------------------------- via the stand-in
def test_real_moon_answer_through_get_data(site, shared_data):
    ref = sscweb.parse_locations((shared_data / "sscweb" / "sscweb_trajectory.xml").read_bytes())
    pos = xspace.get_data("sscweb/moon", "2006-01-08T01:00", "2006-01-08T02:00:01")
    assert pos.dims == ("Epoch", "component") and pos.shape == (61, 3)
    assert list(pos.component.values) == ["X", "Y", "Z"]
    np.testing.assert_array_equal(pos.Epoch.values, ref["time"])
    np.testing.assert_array_equal(pos.values[:, 0], ref["X"])
    np.testing.assert_array_equal(pos.values[:, 2], ref["Z"])
    assert pos.attrs["UNITS"] == "km" and pos.attrs["coordinate_system"] == "GSE"
    assert pos.attrs["sscweb_coordinate_system"] == "Gse" and pos.attrs["DEPEND_0"] == "Epoch"
    # [start, stop): the sample at stop is excluded
    pos = xspace.get_data("sscweb/moon", "2006-01-08T01:00", "2006-01-08T02:00")
    assert pos.shape == (60, 3) and pos.Epoch.values[-1] == np.datetime64("2006-01-08T01:59:00")


def test_split_by_day_exact_values_and_cache(site):
    pos = xspace.get_data("sscweb/ace", "2020-01-01T00:00", "2020-01-03T00:30", coordinate_system="gsm")
    # ACE has a 720 s cadence: 2 days x 120 + 00:00, 00:12, 00:24
    assert pos.shape == (243, 3)
    t = pos.Epoch.values
    assert t[0] == np.datetime64("2020-01-01T00:00") and t[-1] == np.datetime64("2020-01-03T00:24")
    assert np.all(np.diff(t) == np.timedelta64(720, "s"))  # nothing lost or repeated at day boundaries
    expected = np.array([trajectory_value(x, "gsm") for x in t])
    np.testing.assert_array_equal(pos.values, expected)
    assert pos.attrs["coordinate_system"] == "GSM"
    assert site.count("/locations/ace/") == 3  # one request per UTC day
    assert site.count("/locations/ace/20200102T000000Z,20200103T000000Z/gsm/") == 1
    again = xspace.get_data("sscweb/ace", "2020-01-01T06:00", "2020-01-02T06:00", coordinate_system="gsm")
    assert site.count("/locations/ace/") == 3  # served from the cache
    np.testing.assert_array_equal(again.values[0], trajectory_value(np.datetime64("2020-01-01T06:00"), "gsm"))


def test_coordinate_systems(site):
    t = np.datetime64("2021-03-04T05:00")
    for system in ("geo", "gm", "gse", "gsm", "sm", "gei_tod", "gei_j2000"):
        pos = xspace.get_data("sscweb/ace", t, t + np.timedelta64(1, "s"), coordinate_system=system)
        assert pos.shape == (1, 3)
        assert tuple(pos.values[0]) == trajectory_value(t, system)
    with pytest.raises(InputError, match="coordinate_system"):
        xspace.get_data("sscweb/ace", t, t + np.timedelta64(1, "h"), coordinate_system="hgi")


def test_unknown_observatory_lists_close_matches(site):
    with pytest.raises(ProductNotFound, match="sscweb/ace"):
        xspace.get_data("sscweb/acee", "2020-01-01", "2020-01-02")
    with pytest.raises(ProductNotFound):
        xspace.get_data("sscweb/ace/extra", "2020-01-01", "2020-01-02")
    assert site.count("/locations/") == 0


def test_service_errors_carry_the_message(site):
    site.sscweb_error = "Unable to compute locations: ephemeris missing"
    with pytest.raises(FetchError, match="ephemeris missing"):
        xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-01T01:00")
    site.sscweb_error_status = 400
    site.sscweb_error = "Invalid request: bad interval"
    with pytest.raises(FetchError, match="bad interval"):
        xspace.get_data("sscweb/ace", "2020-02-01", "2020-02-01T01:00")
    site.sscweb_error = None  # errors were not cached
    pos = xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-01T01:00")
    assert pos.shape == (5, 3)


def test_empty_ranges(site):
    empty = xspace.get_data("sscweb/ace", "2020-01-01T00:00", "2020-01-01T00:00")
    assert empty.shape == (0, 3) and empty.dtype == np.float64 and empty.Epoch.dtype == "datetime64[ns]"
    before = xspace.get_data("sscweb/ace", "1990-01-01", "1990-01-02")  # before ACE's coverage
    assert before.shape == (0, 3)
    gap = xspace.get_data("sscweb/ace", "2020-01-01T00:01", "2020-01-01T00:02")  # between two samples
    assert gap.shape == (0, 3)
    assert site.count("/locations/") == 1


def test_offline(site):
    xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-01T01:00")
    with xspace.set_options(offline=True):
        assert xspace.get_data("sscweb/ace", "2020-01-01", "2020-01-01T01:00").shape == (5, 3)
        with pytest.raises(OfflineError):
            xspace.get_data("sscweb/ace", "2020-06-01", "2020-06-01T01:00")


def test_inventory(site):
    node = sscweb.inventory()
    assert node.kind == "provider" and len(node) == 275
    ace = node["ace"]
    assert ace.path == "sscweb/ace" and ace.kind == "dataset"
    assert ace.meta["cadence"] == "PT720S" and ace.meta["start"] == "1997-08-25T17:48:00Z"
    assert ace.meta["units"] == "km" and "gsm" in ace.meta["coordinate_systems"]
    pos = xspace.get_data(ace, "2020-01-01", "2020-01-01T00:30")
    assert pos.shape == (3, 3)
