"""HAPI provider: real server answers parsed exactly, the local HAPI stand-in, and hapiclient agreeing."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import xspace
from xspace.errors import FetchError, FileFormatError, ProductNotFound
from xspace.fetch.providers import hapi
from xspace.testing import LocalServer, Reply
from xspace.testing.hapi_site import HapiSite

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not (DATA / "hapi").is_dir():
    DATA = Path("/work/shared/data")
HAPI_DIR = DATA / "hapi"
needs_data = pytest.mark.skipif(not HAPI_DIR.is_dir(), reason="shared real HAPI answers not available")

T = np.datetime64


def _read(name: str) -> bytes:
    return (HAPI_DIR / name).read_bytes()


def _parse(name: str, **kw):
    return hapi.parse_data(_read(name), **kw)


# ------------------------------------------------------------------------------------ real answers
@needs_data
def test_sample_csv_exact():
    ds = _parse("HAPI_sample_csv.csv")
    assert ds.sizes["time"] == 48
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert ds.time.values[0] == T("1997-09-02T00:00:00")
    assert ds.time.values[-1] == T("1997-09-03T23:00:00")
    assert (np.diff(ds.time.values) == np.timedelta64(3600, "s")).all()
    m = ds["Magnitude"]
    assert m.values[:3].tolist() == [2.658, 3.701, 3.935]
    assert m.values[-2:].tolist() == [15.360, 14.743]
    assert m.attrs["UNITS"] == "nT" and m.attrs["CATDESC"] == "B-field magnitude"
    assert m.attrs["DEPEND_0"] == "time" and m.encoding["FILLVAL"] == -1.0e31
    assert ds.attrs["HAPI"] == "2.0"


@needs_data
def test_sample_csv_multiple_vars_exact():
    ds = _parse("HAPI_sample_csv_multiple_vars.csv")
    assert list(ds.data_vars) == ["Magnitude", "BGSEc", "BGSM", "SC_pos_GSE"]
    assert ds.BGSEc.shape == (48, 3) and ds.BGSEc.dims == ("time", "BGSEc_dim1")
    assert ds.BGSEc.values[0].tolist() == [0.654, -1.157, -2.252]
    assert ds.BGSM.values[0].tolist() == [0.654, -1.622, -1.944]
    assert ds.SC_pos_GSE.values[-1].tolist() == [842254.0, 30870.0, 103923.0]
    assert ds.SC_pos_GSE.attrs["UNITS"] == "km"
    single = _parse("HAPI_sample_csv.csv")
    np.testing.assert_array_equal(ds.Magnitude.values, single.Magnitude.values)
    np.testing.assert_array_equal(ds.time.values, single.time.values)


@needs_data
def test_amda_binary_with_header_exact():
    raw = _read("HAPI_amda_imf_all.binary")
    ds = hapi.parse_data(raw)  # the header says "csv": the answer is recognised as binary anyway
    assert ds.sizes["time"] == 48 and ds.imf.shape == (48, 3)
    assert ds.time.values[0] == T("1997-09-02T17:01:00") and ds.time.values[-1] == T("1997-09-02T17:13:32")
    assert (np.diff(ds.time.values) == np.timedelta64(16, "s")).all()
    assert ds.imf_mag.values[[0, -1]].tolist() == [3.0796, 2.6199]
    assert ds.imf.values[0].tolist() == [-0.594, -0.476, -2.984]
    assert ds.imf.values[-1].tolist() == [-1.286, 0.407, -2.246]
    # independent reading of the first and last records with struct
    _, offset = hapi.parse_header(raw)
    rec = 24 + 4 * 8
    assert (len(raw) - offset) % rec == 0
    first = struct.unpack("<24s4d", raw[offset:offset + rec])
    last = struct.unpack("<24s4d", raw[len(raw) - rec:])
    assert first[0] == b"1997-09-02T17:01:00.000Z"
    assert [ds.imf_mag.values[0], *ds.imf.values[0]] == list(first[1:])
    assert [ds.imf_mag.values[-1], *ds.imf.values[-1]] == list(last[1:])
    assert ds.imf.attrs["CATDESC"].startswith("Magnetic field vector in GSE")


@needs_data
def test_testdata33_binary_exact():
    raw = _read("HAPI_sample_TestData3.3.binary")
    ds = hapi.parse_data(raw)
    v = ds["vector parameter"]
    assert v.shape == (60, 3) and ds.attrs["HAPI"] == "3.3"
    assert ds.time.values[0] == T("1970-01-01T00:00:00") and ds.time.values[-1] == T("1970-01-01T00:00:59")
    assert v.values[0].tolist() == [0.0, -0.7071067811865475, -1.0]
    assert v.values[1].tolist() == [0.00523596383141958, -0.7033947028105039, -0.9999862922474267]
    assert v.values[-1].tolist() == [0.30403306092549026, -0.45864955448431494, -0.9526614812535863]
    _, offset = hapi.parse_header(raw)
    recs = np.frombuffer(raw[offset:], dtype=[("t", "S24"), ("v", "<f8", 3)])
    np.testing.assert_array_equal(v.values, recs["v"])


@needs_data
def test_ndData_fixed_bins_binary_and_csv_agree():
    b = _parse("HAPI_ndData_TimeIndependent_Axis.binary")
    c = _parse("HAPI_ndData_TimeIndependent_Axis.csv")
    flux = b.ace_epam_de_e
    assert flux.shape == (1106, 4) and flux.dims == ("time", "Energy")
    assert b.Energy.values.tolist() == [0.0455, 0.078, 0.139, 0.245]
    assert b.Energy.attrs["UNITS"] == "MeV"
    assert b.Energy_ranges.values.tolist() == [[0.038, 0.053], [0.053, 0.103], [0.103, 0.175], [0.175, 0.315]]
    assert flux.attrs["DEPEND_1"] == "Energy" and flux.attrs["UNITS"] == "1/(cm² s sr MeV)"
    assert flux.values[0].tolist() == [6576.2, 639.43, 125.4, 55.765]
    assert flux.values[-1].tolist() == [198.86, 112.87, 60.823, 22.587]
    assert b.time.values[0] == T("1997-08-30T17:06:00") and b.time.values[-1] == T("1997-09-03T17:01:00")
    assert int(np.isnan(flux.values).sum()) == 8  # -1e31 fills
    # the CSV answer holds the first 19 records of the same request: identical values
    assert c.ace_epam_de_e.shape == (19, 4)
    np.testing.assert_array_equal(c.time.values, b.time.values[:19])
    np.testing.assert_array_equal(c.ace_epam_de_e.values, flux.values[:19])
    np.testing.assert_array_equal(c.Energy.values, b.Energy.values)
    np.testing.assert_array_equal(c.Energy_ranges.values, b.Energy_ranges.values)
    assert c.ace_epam_de_e.values[-1].tolist() == [197.24, 118.36, 69.415, 30.367]


@needs_data
def test_ndData_time_varying_bins_binary():
    ds = _parse("HAPI_ndData_TimeVarying_Axis.binary")
    assert ds.sizes["time"] == 71
    assert ds.time.values[-1] == T("1970-01-01T00:01:10")
    spec = ds.spectra_time_dependent_bins
    centers = ds.frequency_centers_time_varying
    ranges = ds.frequency_ranges_time_varying
    # the time-varying bins are 2-D (3-D for ranges) coordinates of the spectrum
    assert spec.attrs["DEPEND_1"] == "frequency_centers_time_varying"
    assert centers.dims == ("time", spec.dims[1]) and ranges.dims == ("time", spec.dims[1], "bounds")
    assert "frequency_centers_time_varying" in ds.coords and "frequency_ranges_time_varying" in ds.coords
    assert centers.values[0].tolist() == [11.0, 13.0, 15.0, 17.0, 19.0, 21.0, 23.0, 25.0, 27.0, 29.0]
    assert centers.values[60].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0]
    assert np.isnan(centers.values[2, 0]) and centers.values[2, 1:].tolist() == list(range(13, 31, 2))
    assert np.isnan(ranges.values[2, 0]).all() and ranges.values[2, 1].tolist() == [12.0, 14.0]
    assert ranges.values[0, :2].tolist() == [[10.0, 12.0], [12.0, 14.0]]
    assert spec.values[0, :4].tolist() == [0.0, 1.0, 0.5, 0.3333333333333333]
    # fixed bins of the other spectrum: a 1-D index coordinate and its ranges
    assert ds.frequency.values.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0]
    assert ds.frequency_ranges.values[0].tolist() == [0.0, 2.0]
    np.testing.assert_array_equal(ds.spectra.values, spec.values)


@needs_data
def test_ndData_time_varying_bins_csv_matches_binary():
    with pytest.warns(hapi.HAPIFormatWarning, match="fewer"):
        c = _parse("HAPI_ndData_TimeVarying_Axis.csv")  # its last row lacks the 20 range columns
    b = _parse("HAPI_ndData_TimeVarying_Axis.binary")
    np.testing.assert_array_equal(c.time.values, np.array(["1970-01-01T00:00:00", "1970-01-01T00:01:08"],
                                                          "datetime64[ns]"))
    idx = [0, 68]
    np.testing.assert_array_equal(b.time.values[idx], c.time.values)
    np.testing.assert_array_equal(c.spectra_time_dependent_bins.values, b.spectra_time_dependent_bins.values[idx])
    np.testing.assert_array_equal(c.frequency_centers_time_varying.values,
                                  b.frequency_centers_time_varying.values[idx])
    np.testing.assert_array_equal(c.frequency_ranges_time_varying.values[0],
                                  b.frequency_ranges_time_varying.values[0])
    assert np.isnan(c.frequency_ranges_time_varying.values[1]).all()


@needs_data
def test_parse_without_header_uses_info():
    raw = _read("HAPI_sample_csv_multiple_vars.csv")
    header, offset = hapi.parse_header(raw)
    ds = hapi.parse_data(raw[offset:], header, parameters=["Magnitude", "BGSEc", "BGSM", "SC_pos_GSE"])
    ref = hapi.parse_data(raw)
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values)
    raw = _read("HAPI_sample_TestData3.3.binary")
    header, offset = hapi.parse_header(raw)
    ds = hapi.parse_data(raw[offset:], header, format="binary",
                         start=T("1970-01-01T00:00:10"), stop=T("1970-01-01T00:00:20"))
    assert ds.sizes["time"] == 10 and ds.time.values[0] == T("1970-01-01T00:00:10")
    with pytest.raises(FileFormatError, match="not a whole number"):
        hapi.parse_data(raw[offset:-5], header, format="binary")


def test_parse_isotime_forms():
    got = hapi.parse_isotime([b"1999-01Z", b"1999-001Z", b"1999-365T23:59:59.999Z", b"2016-01-31T24:00:00.000Z",
                              b"2020-01-01T00:00:00.123456789Z", b"2016-12-31T23:59:60.500Z"])
    assert got.tolist() == [
        T("1999-01-01", "ns").astype(int), T("1999-01-01", "ns").astype(int),
        T("1999-12-31T23:59:59.999", "ns").astype(int), T("2016-02-01T00:00", "ns").astype(int),
        T("2020-01-01T00:00:00.123456789", "ns").astype(int), T("2017-01-01T00:00:00.5", "ns").astype(int)]
    assert hapi.format_isotime(T("2020-01-01T00:00:00.000001")) == "2020-01-01T00:00:00.000001000Z"
    with pytest.raises(FileFormatError, match="HAPI time"):
        hapi.parse_isotime([b"not a time"])


def test_csv_strings_integers_fills():
    info = {"parameters": [
        {"name": "Time", "type": "isotime", "length": 24, "fill": None},
        {"name": "n", "type": "integer", "fill": "-1"},
        {"name": "s", "type": "string", "length": 10, "fill": "none"},
        {"name": "x", "type": "double", "fill": "NaN"},
        {"name": "t2", "type": "isotime", "length": 24, "fill": "0000-00-00T00:00:00.000Z"}]}
    text = (b'2020-01-01T00:00:00.000Z,5,"a,b",1.5,2020-01-02T00:00:00.000Z\n'
            b'2020-01-01T00:00:01.000Z,-1,none,NaN,0000-00-00T00:00:00.000Z\n')
    ds = hapi.parse_data(text, info)
    assert ds.n.values[0] == 5 and np.isnan(ds.n.values[1]) and ds.n.encoding["FILLVAL"] == -1
    assert ds.s.values.tolist() == ["a,b", "none"] and ds.s.attrs["FILLVAL"] == "none"
    assert ds.x.values[0] == 1.5 and np.isnan(ds.x.values[1])
    assert ds.t2.values[0] == T("2020-01-02") and np.isnat(ds.t2.values[1])


# ------------------------------------------------------------------------------------ local server
@pytest.fixture
def site(tmp_path):
    """A HAPI 3.1 stand-in with the real datasets; yields (server, site, alias url)."""
    s = HapiSite("3.1", data_dir=DATA if HAPI_DIR.is_dir() else None, chunk_records=50)
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        url = s.mount(srv)
        with xspace.set_options(hapi_servers={"local": url}):
            yield srv, s, url


def _minutes(t):
    return (np.asarray(t, "datetime64[ns]").astype(np.int64) // (60 * 10**9)).astype(float)


@pytest.mark.parametrize("version", ["3.1", "2.1"])
@pytest.mark.parametrize("fmt", ["csv", "binary"])
def test_generated_values(tmp_path, version, fmt):
    s = HapiSite(version, chunk_records=7)
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        url = s.mount(srv)
        with xspace.set_options(hapi_servers={"x": url}):
            t0, t1 = T("2021-03-01T00:00:30"), T("2021-03-01T01:00:00")
            da = hapi.get(["x", "gen", "vector", "B"], t0, t1, format=fmt)
            m = _minutes(da.time.values)
            assert da.sizes["time"] == 59 and da.time.values[0] == T("2021-03-01T00:01")
            assert da.time.values[-1] == T("2021-03-01T00:59")  # stop is exclusive
            np.testing.assert_array_equal(da.values, np.stack([m, -m, m % 60], axis=1))
            assert da.dims == ("time", "component") and da.attrs["UNITS"] == "nT"

            sp = hapi.get(["x", "gen/spectrum"], t0, t1, format=fmt)
            m = (sp.time.values.astype(np.int64) // (60 * 10**9))
            expected = ((m % 1000) * 10)[:, None] + np.arange(4)[None, :]
            expected = expected.astype(float)
            expected[m % 5 == 0, 3] = np.nan
            np.testing.assert_array_equal(sp.flux.values, expected)
            assert sp.energy.values.tolist() == [10.0, 20.0, 40.0, 80.0]

            vb = hapi.get(["x", "gen", "varbins", "spec"], t0, t1, format=fmt)
            m = (vb.time.values.astype(np.int64) // (60 * 10**9))
            c = vb.spec_centers.values
            np.testing.assert_array_equal(c, (np.arange(3)[None, :] + 1) * (1 + m % 2)[:, None])
            np.testing.assert_array_equal(vb.values, (m % 100)[:, None] + np.arange(3)[None, :])
            assert vb.spec_centers.dims == ("time", "frequency")

            mx = hapi.get(["x", "gen", "mixed"], T("2021-03-01T00:00"), T("2021-03-01T00:02"), format=fmt)
            s10 = mx.time.values.astype(np.int64) // 10**10
            q = (s10 % 5).astype(float)
            q[q == 4] = np.nan
            np.testing.assert_array_equal(mx.quality.values, q)
            lab = np.where(s10 % 2 == 0, "even", "odd").astype(object)
            lab[s10 % 7 == 0] = "??"
            assert mx.label.values.tolist() == lab.tolist()
            np.testing.assert_array_equal(mx.obs_time.values, mx.time.values - np.timedelta64(5, "s"))

            mat = hapi.get(["x", "gen", "matrix", "M"], T("2021-03-01"), T("2021-03-02"), format=fmt)
            h = (mat.time.values.astype(np.int64) // (3600 * 10**9)).astype(float)
            assert mat.shape == (24, 2, 3) and mat.dims == ("time", "M_dim1", "M_dim2")
            np.testing.assert_array_equal(mat.values, h[:, None, None] * 10 + np.arange(6.0).reshape(2, 3))
            assert mat.attrs["UNITS"] == ["m/s", "m/s", "km/s", "m/s", "m/s", "km/s"]
            assert mat.attrs["DEPEND_0"] == "time" and mat.attrs["FIELDNAM"] == "M"
            ds = hapi.get(["x", "gen", "matrix"], T("2021-03-01"), T("2021-03-01T02:00"), format=fmt)
            assert ds.attrs["x_generator"] == "xspace.testing.hapi_site"  # x_ extensions kept
            assert ds.attrs["HAPI_dataset"] == "gen/matrix" and ds.attrs["HAPI_format"] == fmt
        names = ("id=", "time.min=") if version == "2.1" else ("dataset=", "start=")
        data_requests = [k for k in srv.counts if "/hapi/data" in k]
        assert data_requests and all(all(n in k for n in names) for k in data_requests)
        assert all(("format=binary" in k) == (fmt == "binary") for k in data_requests)


@needs_data
def test_real_datasets_served_exactly(site):
    srv, s, url = site
    for fmt in ("csv", "binary"):
        ds = hapi.get(["local", "real", "amda_imf"], T("1997-09-02"), T("1997-09-03"), format=fmt)
        ref = _parse("HAPI_amda_imf_all.binary")
        np.testing.assert_array_equal(ds.imf.values, ref.imf.values)
        np.testing.assert_array_equal(ds.time.values, ref.time.values)
        ep = hapi.get(["local", "real/ace_epam/ace_epam_de_e"], T("1997-08-30T17:06"), T("1997-08-30T18:41"),
                      format=fmt)
        csv = _parse("HAPI_ndData_TimeIndependent_Axis.csv")
        np.testing.assert_array_equal(ep.values, csv.ace_epam_de_e.values)
        np.testing.assert_array_equal(ep.Energy.values, csv.Energy.values)
    # the server's default is binary: it lists it in capabilities
    hapi.get(["local", "real", "testdata_vector"], T("1970-01-01"), T("1970-01-02"))
    keys = [k for k in srv.counts if "data?dataset=real/testdata_vector" in k]
    assert len(keys) == 1 and "format=binary" in keys[0]


def test_max_request_duration_split(tmp_path):
    s = HapiSite("3.1", max_request_duration="PT1H")
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        with xspace.set_options(hapi_servers={"x": s.mount(srv)}):
            t0, t1 = T("2021-01-01T00:00:00.5"), T("2021-01-01T03:30:00")
            da = hapi.get(["x", "gen/dense/value"], t0, t1)
            assert srv.count("/hapi/data") == 4
            n = int((t1 - T("2021-01-01T00:00:01")) / np.timedelta64(1, "s"))
            assert da.sizes["time"] == n  # no duplicated or missing second at the piece boundaries
            s0 = T("2021-01-01T00:00:01").astype("datetime64[s]").astype(np.int64)
            np.testing.assert_array_equal(da.values, s0 + np.arange(n, dtype=float))
            assert da.values[-1] == s0 + n - 1
            # the server refuses a longer request with 1408 and a JSON status
            import requests

            r = requests.get(srv.url + "/hapi/data", params={
                "dataset": "gen/dense", "start": "2021-01-01T00:00Z", "stop": "2021-01-01T02:00Z"})
            assert r.status_code == 400 and r.json()["status"]["code"] == 1408
            info = requests.get(srv.url + "/hapi/info", params={"dataset": "gen/dense"}).json()
            assert info["maxRequestDuration"] == "PT1H"


def test_sloppy_server_including_stop_gives_no_duplicates(tmp_path):
    s = HapiSite("3.1", max_request_duration="PT10M", inclusive_stop=True)
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        with xspace.set_options(hapi_servers={"x": s.mount(srv)}):
            da = hapi.get(["x", "gen", "scalar", "value"], T("2021-01-01"), T("2021-01-01T01:00"))
            assert srv.count("/hapi/data") == 6
            assert da.sizes["time"] == 60 and np.unique(da.time.values).size == 60
            np.testing.assert_array_equal(da.values, _minutes(da.time.values))
            assert da.time.values[-1] == T("2021-01-01T00:59")


def test_1408_resplit_in_halves(tmp_path):
    s = HapiSite("3.1", max_records=100)
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        with xspace.set_options(hapi_servers={"x": s.mount(srv)}):
            t0, t1 = T("2021-01-01"), T("2021-01-01T06:00")
            da = hapi.get(["x", "gen", "scalar", "value"], t0, t1, format="csv")
            assert da.sizes["time"] == 360
            np.testing.assert_array_equal(da.values, _minutes(da.time.values))
            np.testing.assert_array_equal(np.diff(da.time.values), np.full(359, np.timedelta64(60, "s")))
            # 6 h (360 records) and 3 h are refused; the four 1.5 h pieces (90 records) are served
            assert srv.count("/hapi/data") == 1 + 2 + 4
            assert srv.count("start=2021-01-01T01:30:00.000Z&stop=2021-01-01T03:00:00.000Z") == 1
            # a server answering 1408 whatever the size: the halving stops (depth-first, bounded)
            s.max_records = 0
            srv.reset_counts()
            with pytest.raises(hapi.HAPIError, match="1408") as err:
                hapi.get(["x", "gen", "scalar", "value"], T("2022-01-01"), T("2022-01-02"), format="csv")
            assert err.value.code == 1408 and srv.count("/hapi/data") == 1 + 12


def test_no_data_1201_and_empty_range(site):
    srv, s, url = site
    for fmt in ("csv", "binary"):
        da = hapi.get(["local", "gen", "vector", "B"], T("1990-01-01"), T("1990-01-02"), format=fmt)
        assert da.sizes == {"time": 0, "component": 3} and da.dtype == np.float64
    srv.reset_counts()
    ds = hapi.get(["local", "gen", "varbins"], T("2021-01-01"), T("2021-01-01"))
    assert ds.spec.shape == (0, 3) and ds.spec_centers.dims == ("time", "frequency")
    assert srv.count("/hapi/data") == 0
    # "HTTP 204 no content" is also a no-data answer
    srv.mount("/hapi", lambda req: Reply(204, b"") if req.subpath == "/data" else s.handler(req))
    da = hapi.get(["local", "gen", "mixed", "label"], T("2021-01-01"), T("2021-01-02"))
    assert da.shape == (0,) and da.dtype.kind == "U"


def test_errors_carry_the_server_message(site):
    srv, s, url = site
    with pytest.raises(ProductNotFound, match="gen/vector"):
        hapi.get(["local", "gen", "vectr"], T("2021-01-01"), T("2021-01-02"))
    with pytest.raises(ProductNotFound, match="close matches: \\['B'\\]|parameters"):
        hapi.get(["local", "gen", "vector", "b"], T("2021-01-01"), T("2021-01-02"))
    with pytest.raises(ProductNotFound, match="unknown server alias"):
        hapi.get(["nowhere", "gen", "vector"], T("2021-01-01"), T("2021-01-02"))

    def refuse(req):
        if req.subpath == "/data":
            return s.error(1405, "Bad request - time outside valid range (custom message 42)")
        return s.handler(req)

    srv.mount("/hapi", refuse)
    with pytest.raises(hapi.HAPIError) as err:
        hapi.get(["local", "gen", "scalar", "value"], T("2021-01-01"), T("2021-01-02"))
    assert err.value.code == 1405 and "custom message 42" in str(err.value)
    assert isinstance(err.value, FetchError)
    # errors are never cached: the next call asks again
    n = srv.count("/hapi/data")
    with pytest.raises(hapi.HAPIError):
        hapi.get(["local", "gen", "scalar", "value"], T("2021-01-01"), T("2021-01-02"))
    assert srv.count("/hapi/data") == n + 1


def test_cache_second_call_makes_no_request_and_chunked_abort(site):
    srv, s, url = site
    args = (["local", "gen", "spectrum", "flux"], T("2021-01-01"), T("2021-01-01T12:00"))
    srv.faults.abort_chunked("/hapi/data", times=1)  # the stream breaks once: retried
    a = hapi.get(*args)
    n = srv.count("/hapi/data")
    b = hapi.get(*args)
    assert srv.count("/hapi/data") == n
    np.testing.assert_array_equal(a.values, b.values)
    assert a.sizes["time"] == 720


def test_inventory_and_get_data(site):
    srv, s, url = site
    node = hapi.inventory()
    assert node.path == "hapi" and "local" in [c.name for c in node]
    vec = node["local"]["gen/vector"]
    assert vec.kind == "dataset" and vec.path == "hapi/local/gen/vector"
    b = vec["B"]
    assert b.kind == "parameter" and b.meta["units"] == "nT" and b.meta["size"] == [3]
    da = xspace.fetch.get_data("hapi/local/gen/scalar/value", "2021-01-01T00:00", "2021-01-01T00:10")
    np.testing.assert_array_equal(da.values, _minutes(da.time.values))
    assert da.sizes["time"] == 10
    da2 = xspace.fetch.get_data(b, "2021-01-01T00:00", "2021-01-01T00:10")
    assert da2.shape == (10, 3)


# ------------------------------------------------------------------------------------ hapiclient
@pytest.mark.parametrize("version", ["3.1", "2.1"])
@pytest.mark.parametrize("fmt", ["csv", "binary"])
def test_hapiclient_reads_the_same_values(tmp_path, version, fmt):
    hc = pytest.importorskip("hapiclient")
    s = HapiSite(version, data_dir=DATA if HAPI_DIR.is_dir() else None)
    cases = [("gen/vector", "B", "2021-01-01T00:00:00Z", "2021-01-01T02:00:00Z"),
             ("gen/spectrum", "flux", "2021-01-01T00:00:00Z", "2021-01-01T02:00:00Z"),
             ("gen/mixed", "quality,label,obs_time", "2021-01-01T00:00:00Z", "2021-01-01T00:10:00Z"),
             ("gen/matrix", "M", "2021-01-01T00:00:00Z", "2021-01-03T00:00:00Z")]
    if HAPI_DIR.is_dir():
        cases += [("real/amda_imf", "imf_mag,imf", "1997-09-02T00:00:00Z", "1997-09-03T00:00:00Z"),
                  ("real/ace_epam", "ace_epam_de_e", "1997-08-30T00:00:00Z", "1997-09-04T00:00:00Z"),
                  ("real/testdata_varbins", "spectra_time_dependent_bins,frequency_centers_time_varying",
                   "1970-01-01T00:00:00Z", "1970-01-01T00:02:00Z")]
    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path / "ours"):
        url = s.mount(srv)
        with xspace.set_options(hapi_servers={"x": url}):
            for dataset, params, start, stop in cases:
                data, meta = hc.hapi(url, dataset, params, start, stop, format=fmt, logging=False,
                                     cache=False, usecache=False, cachedir=str(tmp_path / "hc"))
                ours = hapi.get(["x", *dataset.split("/")], T(start[:-1]), T(stop[:-1]), format=fmt)
                times = hapi.parse_isotime(data["Time"])
                np.testing.assert_array_equal(ours.time.values, times, err_msg=dataset)
                for p in meta["parameters"][1:]:
                    name = p["name"]
                    theirs = data[name]
                    mine = ours[name].values
                    if p["type"] == "double" or (p["type"] == "integer" and p.get("fill") is not None):
                        theirs = theirs.astype(float)
                        if p.get("fill") is not None:
                            theirs = np.where(theirs == float(p["fill"]), np.nan, theirs)
                        np.testing.assert_array_equal(mine, theirs, err_msg=f"{dataset} {name}")
                    elif p["type"] == "isotime":
                        np.testing.assert_array_equal(mine, hapi.parse_isotime(theirs))
                    else:
                        assert mine.tolist() == [str(v) for v in theirs.tolist()], f"{dataset} {name}"
                assert len(data) > 0


# ------------------------------------------------------------------------------------ protocol details
def test_stand_in_parameter_names_by_version():
    import requests

    with LocalServer() as srv:
        v2 = HapiSite("2.1").mount(srv, "/v2/hapi")
        v3 = HapiSite("3.1").mount(srv, "/v3/hapi")
        new = {"dataset": "gen/scalar", "start": "2021-001Z", "stop": "2021-001T00:02Z"}
        old = {"id": "gen/scalar", "time.min": "2021-001Z", "time.max": "2021-001T00:02Z"}
        r = requests.get(v2 + "/data", params=new)
        assert r.status_code == 400 and r.json()["status"]["code"] == 1401
        for url, q in ((v2, old), (v3, old), (v3, new)):
            r = requests.get(url + "/data", params=q)
            assert r.status_code == 200  # 2021-01-01 is minute 26824320 since 1970
            assert r.text == "2021-01-01T00:00:00.000Z,26824320.0\n2021-01-01T00:01:00.000Z,26824321.0\n"
        r = requests.get(v3 + "/data", params=dict(new, parameters="nope"))
        assert r.status_code == 404 and r.json()["status"]["code"] == 1407
        r = requests.get(v3 + "/info", params={"dataset": "nope"})
        assert r.status_code == 404 and r.json()["status"]["code"] == 1406
        r = requests.get(v3 + "/data", params=dict(new, stop="2020-01-01Z"))
        assert r.json()["status"]["code"] == 1404
        r = requests.get(v3 + "/data", params=dict(new, format="json"))
        assert r.json()["status"]["code"] == 1409
        r = requests.get(v3 + "/data", params=dict(new, start="1990-01-01Z", stop="1990-01-02Z", include="header"))
        header, offset = hapi.parse_header(r.content)
        assert r.status_code == 200 and header["status"]["code"] == 1201 and offset == len(r.content)
        r = requests.get(v3 + "/data", params=dict(new, parameters="spec_centers", dataset="gen/varbins"))
        assert r.text.count("\n") == 2 and r.text.split("\n")[0].count(",") == 3


def test_json_error_with_status_200_and_http_reason(tmp_path):
    site = HapiSite("3.1")

    def handler(req):
        if req.subpath == "/data":  # a server that answers errors with HTTP 200 and a JSON status
            return Reply.json({"HAPI": "3.1", "status": {"code": 1500, "message": "Internal server error - disk"}})
        return site.handler(req)

    with LocalServer() as srv, xspace.set_options(cache_dir=tmp_path):
        srv.mount("/hapi", handler)
        with xspace.set_options(hapi_servers={"x": srv.url + "/hapi"}):
            with pytest.raises(hapi.HAPIError, match="disk") as err:
                hapi.get(["x", "gen", "scalar", "value"], T("2021-01-01"), T("2021-01-01T01:00"))
            assert err.value.code == 1500


def test_parsing_is_vectorised_and_fast():
    import time

    from xspace.testing.hapi_site import _csv_rows, _iso_ms

    n = 200_000
    times = np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "s")
    params = [{"name": "Time", "type": "isotime", "length": 24},
              {"name": "B", "type": "double", "size": [3], "fill": "-1e31"},
              {"name": "q", "type": "integer", "fill": None}]
    rec = np.zeros(n, hapi._record_dtype(params, "binary"))
    rec["f0"] = _iso_ms(times)
    rec["f1"] = np.random.default_rng(0).normal(size=(n, 3))
    rec["f2"] = np.arange(n) % 7
    text = _csv_rows(params, rec["f0"], [rec["f1"], rec["f2"]]).encode()
    hapi.parse_data(rec[:10].tobytes(), {"parameters": params}, format="binary")  # warm-up
    t = time.perf_counter()
    b = hapi.parse_data(rec.tobytes(), {"parameters": params}, format="binary")
    t_binary = time.perf_counter() - t
    t = time.perf_counter()
    c = hapi.parse_data(text, {"parameters": params}, format="csv")
    t_csv = time.perf_counter() - t
    np.testing.assert_array_equal(b.time.values, times)
    np.testing.assert_array_equal(b.B.values, rec["f1"])
    np.testing.assert_array_equal(c.B.values, rec["f1"])  # repr() round trip: CSV is exact too
    np.testing.assert_array_equal(c.q.values, np.arange(n) % 7)
    assert t_binary < 1.0 and t_csv < 3.0, (t_binary, t_csv)


def test_bin_names_equal_to_parameter_names():
    # CDAWeb-style: the bins of "flux" are named "energy", and "energy" is also the parameter holding them
    info = {"parameters": [
        {"name": "Time", "type": "isotime", "length": 20, "fill": None},
        {"name": "flux", "type": "double", "size": [2], "fill": "-1e31",
         "bins": [{"name": "energy", "units": "eV", "centers": "energy"}]},
        {"name": "energy", "type": "double", "size": [2], "units": "eV", "fill": None},
        {"name": "counts", "type": "double", "size": [2], "fill": None,
         "bins": [{"name": "flux", "units": "x", "centers": [1.0, 2.0]}]}]}
    text = b"2020-01-01T00:00:00Z,1,2,10,20,5,6\n2020-01-01T00:00:01Z,3,-1e31,11,21,7,8\n"
    ds = hapi.parse_data(text, info)
    assert ds.flux.dims == ("time", "energy_bin") and ds.energy.dims == ("time", "energy_bin")
    assert ds.flux.attrs["DEPEND_1"] == "energy" and ds.energy.values.tolist() == [[10, 20], [11, 21]]
    assert np.isnan(ds.flux.values[1, 1]) and ds.counts.dims == ("time", "flux_bin")
    assert ds.flux_bin.values.tolist() == [1.0, 2.0]


def test_offline_serves_the_cache(site):
    from xspace.errors import OfflineError

    srv, s, url = site
    args = (["local", "gen", "scalar", "value"], T("2021-01-01"), T("2021-01-01T01:00"))
    online = hapi.get(*args)
    srv.reset_counts()
    with xspace.set_options(offline=True):
        offline = hapi.get(*args)
        np.testing.assert_array_equal(offline.values, online.values)
        with pytest.raises(OfflineError):
            hapi.get(["local", "gen", "scalar", "value"], T("2021-01-02"), T("2021-01-02T01:00"))
    assert sum(srv.counts.values()) == 0
    srv.down()
    with pytest.raises(FetchError, match="refused"):
        hapi.get(["local", "gen", "scalar", "value"], T("2021-01-03"), T("2021-01-03T01:00"))
    srv.up()
