"""The generated CDAWeb look-alike: files, all.xml, static serving and the CDAS REST stand-in."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import cdflib
import numpy as np
import pytest

import xspace
from xspace import istp
from xspace.testing.cdaweb_site import (
    CATALOG_PATH,
    REST_PREFIX,
    add_version,
    build_cdaweb_archive,
    expected_values,
    newest_files,
    ramp_gappy_value,
    ramp_value,
    serve_cdaweb,
    version_key,
    version_offset,
)

GENERATED = ["XS_TEST_1MIN", "XS_TEST_HOURLY", "XS_TEST_DOY", "XS_TEST_FLAT", "XS_TEST_VERS", "XS_TEST_DOTVERS"]
REAL = ["AC_K2_MFI", "AC_H2_SIS", "PSP_FLD_L2_MAG_RTN_1MIN", "RBSPA_REL04_ECT-HOPE-PA-L3", "GE_K0_CPI", "DE2_ION2S_RPA"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, cdf_dir):
    root = tmp_path_factory.mktemp("cdaweb")
    srv = serve_cdaweb(root, days=3, shared_data=cdf_dir)
    try:
        yield srv
    finally:
        srv.close()


def get(url, accept="application/json"):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def get_json(url):
    status, headers, body = get(url)
    assert status == 200
    return json.loads(body)


def http_error(url):
    with pytest.raises(urllib.error.HTTPError) as err:
        get(url)
    return err.value.code, json.loads(err.value.read())


# ----------------------------------------------------------------------------- value functions
def test_ramp_value_is_minutes_since_2000():
    t = np.array(["2000-01-01T00:00", "2000-01-01T01:00", "2020-01-01T00:00", "2020-01-01T00:00:30"], "datetime64[ns]")
    assert ramp_value(t).tolist() == [0.0, 60.0, 10519200.0, 10519200.5]
    assert np.isnan(ramp_gappy_value(np.array(["2020-01-01T05:30"], "datetime64[ns]"))[0])


def test_versions_compare_numerically():
    assert version_key("v10") > version_key("v9")
    assert version_key("5.10.0") > version_key("v5.9.0")
    assert version_offset("10") > version_offset("9")
    assert version_offset("5.10.0") == 5010000.0


# ----------------------------------------------------------------------------- generated files
def test_layouts_and_file_names(site):
    ds = site.info["datasets"]
    assert [f["path"] for f in ds["XS_TEST_1MIN"]["files"]] == [
        f"/pub/data/xspace/test/one_min/2020/xs_test_1min_2020010{d}_v01.cdf" for d in (1, 2, 3)]
    assert [f["path"] for f in ds["XS_TEST_HOURLY"]["files"]] == [
        "/pub/data/xspace/test/hourly/2020/01/xs_test_hourly_20200101_v01.cdf"]
    assert [f["path"] for f in ds["XS_TEST_DOY"]["files"]] == [
        f"/pub/data/xspace/test/doy/2020/00{d}/xs_test_doy_202000{d}_v01.cdf" for d in (1, 2, 3)]
    assert [f["path"] for f in ds["XS_TEST_FLAT"]["files"]] == [
        f"/pub/data/xspace/test/flat/xs_test_flat_2020010{d}_v01.cdf" for d in (1, 2, 3)]
    assert [Path(f["path"]).name for f in ds["XS_TEST_VERS"]["files"]] == [
        "xs_test_vers_20200101_v9.cdf", "xs_test_vers_20200101_v10.cdf",
        "xs_test_vers_20200102_v9.cdf", "xs_test_vers_20200103_v9.cdf"]
    assert [f["version"] for f in newest_files(site.info, "XS_TEST_DOTVERS")] == ["5.10.0", "5.9.0", "5.9.0"]
    for d in ds.values():
        for f in d["files"]:
            assert Path(f["local"]).stat().st_size == f["length"]
            assert Path(f["local"]) == site.archive_root / f["path"].lstrip("/")


@pytest.mark.parametrize("dataset", GENERATED)
def test_generated_values_are_the_ramp(site, dataset):
    entry = site.info["datasets"][dataset]
    cadence = np.timedelta64(entry["cadence_s"], "s")
    for f in entry["files"]:
        ds = xspace.open_cdf(f["local"]).load()
        t = ds["Epoch"].values
        assert len(t) == f["records"]
        assert (np.diff(t) == cadence).all()
        assert str(t[0]) .startswith(f["start"][:19]) and str(t[-1]).startswith(f["stop"][:19])
        np.testing.assert_array_equal(ds["ramp"].values, ramp_value(t) + f["offset"])
        assert ds["ramp"].attrs["UNITS"] == "min"
        assert ds.attrs["Logical_file_id"] == Path(f["path"]).stem
        assert [x for x in istp.check(ds) if x.severity == "error"] == []
    if dataset == "XS_TEST_1MIN":
        ds = xspace.open_cdf(entry["files"][1]["local"]).load()
        ramp = ramp_value(ds["Epoch"].values)
        np.testing.assert_array_equal(ds["vec"].values, np.stack([ramp, -ramp, 2 * ramp], axis=1))
        assert ds["vec"].attrs["DEPEND_1"] == "cartesian" and ds["vec"].attrs["LABL_PTR_1"] == "label_vec"
        gappy = ds["ramp_gappy"].values
        np.testing.assert_array_equal(np.isnan(gappy), np.isnan(ramp_gappy_value(ds["Epoch"].values)))
        assert np.isnan(gappy).sum() == 24
        assert ds["ramp_gappy"].encoding["FILLVAL"] == -1e31


def test_time_types_and_the_overlapping_record(site):
    files = site.info["datasets"]["XS_TEST_1MIN"]["files"]
    assert [f["records"] for f in files] == [1441, 1440, 1440]
    assert [f["overlap"] for f in files] == [True, False, False]
    first = xspace.open_cdf(files[0]["local"])["Epoch"].values
    second = xspace.open_cdf(files[1]["local"])["Epoch"].values
    assert first[-1] == second[0] == np.datetime64("2020-01-02T00:00", "ns")
    assert cdflib.CDF(files[0]["local"]).varinq("Epoch").Data_Type_Description == "CDF_TIME_TT2000"
    hourly = site.info["datasets"]["XS_TEST_HOURLY"]["files"][0]
    assert cdflib.CDF(hourly["local"]).varinq("Epoch").Data_Type_Description == "CDF_EPOCH"
    assert hourly["records"] == 31 * 24


def test_masters_are_zero_record_istp_files(site):
    for dataset in GENERATED + REAL + ["GE_H0_CPI", "ERG_PWE_HFA_L3_1MIN", "ELA_L1_STATE_PRED"]:
        master = site.info["datasets"][dataset]["master"]
        assert master.startswith("/pub/software/cdawlib/0MASTERS/") and master.endswith("_00000000_v01.cdf")
        ds = xspace.open_cdf(site.archive_root / master.lstrip("/"), include_ignore_data=True)
        assert all(ds.sizes[d] == 0 for d in ds.dims if d in ds.coords and ds[d].dtype.kind == "M")
    m = xspace.open_cdf(site.archive_root / site.info["datasets"]["XS_TEST_1MIN"]["master"].lstrip("/"))
    assert set(m.data_vars) >= {"ramp", "vec", "ramp_gappy", "ramp_alt"}
    assert (m["ramp_alt"].attrs["VIRTUAL"], m["ramp_alt"].attrs["FUNCT"]) == ("TRUE", "alternate_view")
    data_file = xspace.open_cdf(site.info["datasets"]["XS_TEST_1MIN"]["files"][0]["local"])
    assert "ramp_alt" not in data_file.variables
    assert m["ramp"].attrs["CATDESC"].startswith("Minutes since 2000-01-01")


# ----------------------------------------------------------------------------- static files and all.xml
def test_real_files_are_served_byte_identical(site, cdf_dir):
    for dataset in REAL:
        f = site.info["datasets"][dataset]["files"][0]
        status, headers, body = get(site.url + f["path"], accept="*/*")
        assert body == (cdf_dir / Path(f["path"]).name).read_bytes()
        assert int(headers["Content-Length"]) == f["length"]
    assert site.info["datasets"]["AC_K2_MFI"]["files"][0]["path"] == \
        "/pub/data/ace/mag/level_2_cdaweb/mfi_k2/2022/ac_k2_mfi_20220101_v03.cdf"
    assert site.info["datasets"]["PSP_FLD_L2_MAG_RTN_1MIN"]["files"][0]["path"] == \
        "/pub/data/psp/fields/l2/mag_rtn_1min/2020/psp_fld_l2_mag_rtn_1min_20200104_v02.cdf"
    assert site.info["datasets"]["AC_K2_MFI"]["files"][0]["records"] == 24
    assert site.info["datasets"]["GE_K0_CPI"]["files"][0]["records"] == 1090
    _, _, listing = get(site.url + "/pub/software/cdawlib/0MASTERS/", accept="text/html")
    assert b'href="ge_h0_cpi_00000000_v01.cdf"' in listing


def test_all_xml(site):
    _, _, body = get(site.catalog_url, accept="*/*")
    tree = ET.fromstring(body)
    assert tree.tag == "{cdas}sites"
    datasite = tree.find("{cdas}datasite[@ID='CDAWeb_HTTPS']")
    datasets = {d.attrib["serviceprovider_ID"]: d for d in datasite.iter("{cdas}dataset")}
    assert set(datasets) == set(site.info["datasets"])
    expected = {"XS_TEST_1MIN": ("%Y", "xs_test_1min_%Y%m%d_%Q.cdf", "/pub/data/xspace/test/one_min"),
                "XS_TEST_HOURLY": ("%Y/%m", "xs_test_hourly_%Y%m01_%Q.cdf", "/pub/data/xspace/test/hourly"),
                "XS_TEST_DOY": ("%Y/%j", "xs_test_doy_%Y%j_%Q.cdf", "/pub/data/xspace/test/doy"),
                "XS_TEST_FLAT": ("None", "xs_test_flat_%Y%m%d_%Q.cdf", "/pub/data/xspace/test/flat"),
                "AC_K2_MFI": ("%Y", "ac_k2_mfi_%Y%m%d_%Q.cdf", "/pub/data/ace/mag/level_2_cdaweb/mfi_k2")}
    for dataset_id, (sub, naming, folder) in expected.items():
        access = datasets[dataset_id].find("{cdas}access")
        assert (access.attrib["subdividedby"], access.attrib["filenaming"]) == (sub, naming)
        assert access.find("{cdas}URL").text == site.url + folder
    one_min = datasets["XS_TEST_1MIN"]
    assert one_min.attrib["timerange_start"] == "2020-01-01 00:00:00"
    assert one_min.attrib["timerange_stop"] == "2020-01-03 23:59:00"
    assert one_min.find("{cdas}observatory").attrib["serviceprovider_ID"] == "XS"
    assert one_min.find("{cdas}instrument/{cdas}description").attrib["short"] == "RAMP"
    assert datasets["AC_K2_MFI"].find("{cdas}observatory").attrib["serviceprovider_ID"] == "AC"
    # every URL of a template resolves to a real file of the archive, and every master is served
    for dataset_id, d in datasets.items():
        master = d.find("{cdas}mastercdf").attrib["ID"]
        assert master.startswith(site.url + "/pub/software/cdawlib/0MASTERS/")
        status, headers, body = get(master, accept="*/*")
        assert body[:4] in (b"\xcd\xf3\x00\x01", b"\xcd\xf2\x60\x02", b"\x00\x00\xff\xff")
    import datetime as dt
    access = datasets["XS_TEST_DOY"].find("{cdas}access")
    when = dt.datetime(2020, 1, 2)
    url = f"{access.find('{cdas}URL').text}/{when.strftime(access.attrib['subdividedby'])}/" \
          f"{when.strftime(access.attrib['filenaming']).replace('%Q', 'v01')}"
    assert get(url, accept="*/*")[0] == 200


# ----------------------------------------------------------------------------- CDAS REST
def test_orig_data_lists_the_newest_files_with_their_length(site):
    base = site.rest_url + "/datasets"
    answer = get_json(f"{base}/XS_TEST_1MIN/orig_data/20200101T120000Z,20200102T060000Z")
    names = [f["Name"] for f in answer["FileDescription"]]
    assert names == [site.url + f["path"] for f in site.info["datasets"]["XS_TEST_1MIN"]["files"][:2]]
    for f in answer["FileDescription"]:
        status, headers, body = get(f["Name"], accept="*/*")
        assert f["Length"] == len(body) == int(headers["Content-Length"])
        assert f["MimeType"] == "application/x-cdf"
        assert f["LastModified"].endswith("Z")
    assert answer["FileDescription"][0]["StartTime"] == "2020-01-01T00:00:00.000Z"
    assert answer["FileDescription"][0]["EndTime"] == "2020-01-02T00:00:00.000Z"  # the repeated record
    # only the day-2 file when the request starts after the overlap record
    answer = get_json(f"{base}/XS_TEST_1MIN/orig_data/20200102T000001Z,20200102T010000Z")
    assert [f["Name"].rsplit("/", 1)[1] for f in answer["FileDescription"]] == ["xs_test_1min_20200102_v01.cdf"]
    # versions: v10 beats v9 and 5.10.0 beats 5.9.0, as numbers
    answer = get_json(f"{base}/XS_TEST_VERS/orig_data/2020-01-01T00:00:00Z,2020-01-03T00:00:00Z")
    assert [f["Name"].rsplit("/", 1)[1] for f in answer["FileDescription"]] == [
        "xs_test_vers_20200101_v10.cdf", "xs_test_vers_20200102_v9.cdf", "xs_test_vers_20200103_v9.cdf"]
    answer = get_json(f"{base}/XS_TEST_DOTVERS/orig_data/20200101T000000Z,20200101T120000Z")
    assert [f["Name"].rsplit("/", 1)[1] for f in answer["FileDescription"]] == ["xs_test_dotvers_20200101_v5.10.0.cdf"]
    # monthly and real files
    answer = get_json(f"{base}/XS_TEST_HOURLY/orig_data/20200115T000000Z,20200116T000000Z")
    assert [f["EndTime"] for f in answer["FileDescription"]] == ["2020-01-31T23:00:00.000Z"]
    answer = get_json(f"{base}/GE_K0_CPI/orig_data/19921231T000000Z,19930101T000000Z")
    assert answer["FileDescription"][0]["StartTime"] == "1992-12-31T01:28:46.872Z"


def test_rest_errors_have_the_cdas_shape(site):
    code, body = http_error(site.rest_url + "/datasets/NO_SUCH_DATASET/orig_data/20200101T000000Z,20200102T000000Z")
    assert code == 404 and "NO_SUCH_DATASET" in body["Message"][0]
    assert set(body) == {"Message", "Warning", "Status", "Error"}
    code, body = http_error(site.rest_url + "/datasets/XS_TEST_1MIN/orig_data/20300101T000000Z,20300102T000000Z")
    assert code == 404 and body["Message"] == ["No data available."]
    code, body = http_error(site.rest_url + "/datasets/XS_TEST_1MIN/orig_data/yesterday,today")
    assert code == 400
    code, body = http_error(site.rest_url + "/datasets/XS_TEST_1MIN/data/20200101T000000Z,20200101T001000Z/nope?format=cdf")
    assert code == 404 and "nope" in body["Message"][0]


def test_datasets_variables_inventory(site):
    answer = get_json(site.rest_url + "/datasets")
    rows = {d["Id"]: d for d in answer["DatasetDescription"]}
    assert set(rows) == set(site.info["datasets"])
    assert rows["XS_TEST_1MIN"]["TimeInterval"] == {"Start": "2020-01-01T00:00:00.000Z", "End": "2020-01-03T23:59:00.000Z"}
    answer = get_json(site.rest_url + "/datasets?idPattern=^XS_TEST_D")
    assert sorted(d["Id"] for d in answer["DatasetDescription"]) == ["XS_TEST_DOTVERS", "XS_TEST_DOY"]
    answer = get_json(site.rest_url + "/datasets/XS_TEST_1MIN/variables")
    assert [v["Name"] for v in answer["VariableDescription"]] == ["ramp", "vec", "ramp_gappy", "ramp_alt"]
    answer = get_json(site.rest_url + "/datasets/AC_K2_MFI/variables")
    assert "BGSEc" in [v["Name"] for v in answer["VariableDescription"]]
    answer = get_json(site.rest_url + "/datasets/XS_TEST_1MIN/inventory/20200101T000000Z,20200110T000000Z")
    assert answer["InventoryDescription"] == [{"Id": "XS_TEST_1MIN", "TimeInterval": [
        {"Start": "2020-01-01T00:00:00.000Z", "End": "2020-01-03T23:59:00.000Z"}]}]
    status, headers, body = get(site.rest_url + "/datasets", accept="application/xml")
    xml = ET.fromstring(body)
    assert xml.tag == "{http://cdaweb.gsfc.nasa.gov/schema}Datasets"
    ids = [e.text for e in xml.iter("{http://cdaweb.gsfc.nasa.gov/schema}Id")]
    assert ids == list(site.info["datasets"])


def test_observatory_and_instrument_lists(site):
    groups = {g["Name"]: g["ObservatoryId"] for g in get_json(site.rest_url + "/observatoryGroups")["ObservatoryGroupDescription"]}
    assert groups["ACE"] == ["AC"] and groups["xspace"] == ["XS"]
    tree = get_json(site.rest_url + "/observatoryGroupsAndInstruments")["ObservatoryGroupInstrumentDescription"]
    ace = next(g for g in tree if g["Name"] == "ACE")
    assert [i["Name"] for i in ace["ObservatoryInstruments"][0]["InstrumentDescription"]] == ["MAG", "SIS"]
    rows = get_json(site.rest_url + "/datasets?observatoryGroup=ACE")["DatasetDescription"]
    assert sorted(r["Id"] for r in rows) == ["AC_H2_SIS", "AC_K2_MFI"]
    rows = get_json(site.rest_url + "/datasets?instrumentType=Magnetic%20Fields%20(space)&observatory=AC")["DatasetDescription"]
    assert [r["Id"] for r in rows] == ["AC_K2_MFI"]


def test_sp_phys_alias_like_the_real_service(tmp_path):
    with serve_cdaweb(tmp_path / "s", days=1, real_files=False, sp_phys_alias=True) as s:
        answer = get_json(s.rest_url + "/datasets/XS_TEST_DOY/orig_data/20200101T000000Z,20200102T000000Z")
        (f,) = answer["FileDescription"]
        assert f["Name"] == s.url + "/sp_phys/data/xspace/test/doy/2020/001/xs_test_doy_2020001_v01.cdf"
        aliased = get(f["Name"], accept="*/*")[2]
        assert aliased == get(s.url + "/pub/data/xspace/test/doy/2020/001/xs_test_doy_2020001_v01.cdf", accept="*/*")[2]
        assert len(aliased) == f["Length"]


def test_rest_answers_revalidate_with_etag_and_last_modified(tmp_path):
    import email.utils
    import os

    with serve_cdaweb(tmp_path / "s", days=2, real_files=False) as s:
        url = s.rest_url + "/datasets/XS_TEST_1MIN/orig_data/20200102T000000Z,20200102T010000Z"
        status, headers, body = get(url)
        etag, modified = headers["ETag"], headers["Last-Modified"]
        req = urllib.request.Request(url, headers={"Accept": "application/json", "If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as err:  # urllib reports 304 as an error
            urllib.request.urlopen(req)
        assert err.value.code == 304 and err.value.headers["ETag"] == etag
        req = urllib.request.Request(url, headers={"Accept": "application/json", "If-Modified-Since": modified})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 304
        rec = s.add_version("XS_TEST_1MIN", "2020-01-02", "02")
        later = email.utils.parsedate_to_datetime(modified).timestamp() + 5
        os.utime(rec["local"], (later, later))
        req = urllib.request.Request(url, headers={"Accept": "application/json", "If-None-Match": etag})
        with urllib.request.urlopen(req) as r:
            assert r.status == 200 and r.headers["ETag"] != etag
            assert json.loads(r.read())["FileDescription"][-1]["Name"].endswith("_v02.cdf")
        req = urllib.request.Request(url, headers={"Accept": "application/json", "If-Modified-Since": modified})
        assert urllib.request.urlopen(req).status == 200


def test_data_endpoint_returns_exactly_the_requested_records(site):
    url = site.rest_url + "/datasets/XS_TEST_1MIN/data/20200101T235800Z,20200102T000300Z/ramp,vec?format=cdf"
    answer = get_json(url)
    (desc,) = answer["FileDescription"]
    assert desc["Name"].startswith(site.url + "/tmp/")
    status, headers, body = get(desc["Name"], accept="*/*")
    assert desc["Length"] == len(body)
    path = site.archive_root / "check.cdf"
    path.write_bytes(body)
    ds = xspace.open_cdf(path).load()
    expected = np.array(["2020-01-01T23:58", "2020-01-01T23:59", "2020-01-02T00:00", "2020-01-02T00:01",
                         "2020-01-02T00:02"], "datetime64[ns]")
    np.testing.assert_array_equal(ds["Epoch"].values, expected)
    assert set(ds.data_vars) == {"ramp", "vec"}
    np.testing.assert_array_equal(ds["ramp"].values, ramp_value(expected))
    np.testing.assert_array_equal(ds["vec"].values[:, 2], 2 * ramp_value(expected))
    assert (desc["StartTime"], desc["EndTime"]) == ("2020-01-01T23:58:00.000Z", "2020-01-02T00:02:00.000Z")
    # a real file subset
    answer = get_json(site.rest_url + "/datasets/AC_K2_MFI/data/20220101T020000Z,20220101T050000Z/BGSEc?format=cdf")
    body = get(answer["FileDescription"][0]["Name"], accept="*/*")[2]
    path.write_bytes(body)
    sub = xspace.open_cdf(path).load()
    full = xspace.open_cdf(site.info["datasets"]["AC_K2_MFI"]["files"][0]["local"]).load()
    np.testing.assert_array_equal(sub["BGSEc"].values, full["BGSEc"].values[2:5])


@pytest.mark.parametrize("dataset,variable", [("XS_TEST_1MIN", "ramp"), ("XS_TEST_1MIN", "vec"),
                                              ("XS_TEST_1MIN", "ramp_gappy"), ("XS_TEST_VERS", "ramp"),
                                              ("XS_TEST_DOTVERS", "ramp"), ("XS_TEST_HOURLY", "ramp"),
                                              ("XS_TEST_1MIN", "ramp_alt")])
def test_expected_values_match_the_data_endpoint(site, dataset, variable):
    start, stop = "2020-01-01T22:00:00", "2020-01-02T02:00:00"
    t, v = expected_values(site.info, dataset, start, stop, variable)
    answer = get_json(f"{site.rest_url}/datasets/{dataset}/data/20200101T220000Z,20200102T020000Z/{variable}?format=cdf")
    path = site.archive_root / f"check_{dataset}_{variable}.cdf"
    path.write_bytes(get(answer["FileDescription"][0]["Name"], accept="*/*")[2])
    ds = xspace.open_cdf(path).load()
    np.testing.assert_array_equal(ds["Epoch"].values, t)
    np.testing.assert_array_equal(ds[variable].values, v)
    assert t[0] == np.datetime64(start) and t[-1] < np.datetime64(stop)
    if dataset == "XS_TEST_VERS":  # v10 on day 1, v9 on day 2
        np.testing.assert_array_equal(v - ramp_value(t), np.where(t < np.datetime64("2020-01-02"), 10.0, 9.0))


def test_add_version_supersedes_a_file(tmp_path):
    with serve_cdaweb(tmp_path / "site", days=2, real_files=False) as s:
        url = s.rest_url + "/datasets/XS_TEST_1MIN/orig_data/20200102T000000Z,20200102T120000Z"
        before = [f["Name"].rsplit("/", 1)[1] for f in get_json(url)["FileDescription"]]
        assert before == ["xs_test_1min_20200101_v01.cdf", "xs_test_1min_20200102_v01.cdf"]
        rec = s.add_version("XS_TEST_1MIN", "2020-01-02", "02")
        after = get_json(url)["FileDescription"]
        assert [f["Name"].rsplit("/", 1)[1] for f in after] == ["xs_test_1min_20200101_v01.cdf",
                                                                "xs_test_1min_20200102_v02.cdf"]
        assert after[1]["Length"] == rec["length"]
        ds = xspace.open_cdf(rec["local"]).load()
        np.testing.assert_array_equal(ds["ramp"].values, ramp_value(ds["Epoch"].values) + 2.0)
        # the boundary record repeated by day 1 now comes from day 2's new version
        t, v = expected_values(s.info, "XS_TEST_1MIN", "2020-01-01T23:59", "2020-01-02T00:01")
        np.testing.assert_array_equal(v, ramp_value(t) + [0.0, 2.0])
        t, v = expected_values(s.info, "XS_TEST_1MIN", "2020-01-01T23:59", "2020-01-02T00:02", keep="first")
        np.testing.assert_array_equal(v, ramp_value(t) + [0.0, 0.0, 2.0])
        # the old version is still on disk (CDAWeb keeps serving it by name) but no longer listed
        assert get(s.url + "/pub/data/xspace/test/one_min/2020/xs_test_1min_20200102_v01.cdf", accept="*/*")[0] == 200
        add_version(s.archive_root, s.info, "XS_TEST_VERS", "2020-01-01", "11")
        names = [f["Name"].rsplit("/", 1)[1] for f in get_json(
            s.rest_url + "/datasets/XS_TEST_VERS/orig_data/20200101T000000Z,20200101T010000Z")["FileDescription"]]
        assert names == ["xs_test_vers_20200101_v11.cdf"]
    assert (tmp_path / "site" / "pub" / "catalogs" / "all.xml").is_file()  # an explicit root is kept


def test_bundled_real_files_are_used_without_the_shared_folder(tmp_path):
    info = build_cdaweb_archive(tmp_path / "a", days=1, shared_data=tmp_path / "nowhere")
    real = sorted(k for k, d in info["datasets"].items() if d["kind"] == "real")
    assert real == ["AC_K2_MFI", "PSP_FLD_L2_MAG_RTN_1MIN", "RBSPA_REL04_ECT-HOPE-PA-L3"]
    assert "GE_H0_CPI" not in info["datasets"]


def test_temporary_root_is_removed_and_build_is_fast(tmp_path):
    import time

    with serve_cdaweb(days=1, real_files=False) as s:
        root = s.archive_root
        assert (root / CATALOG_PATH.lstrip("/")).is_file()
        s.down()
        s.up()
        assert get(s.catalog_url, accept="*/*")[0] == 200
    assert not root.exists()
    t0 = time.perf_counter()
    info = build_cdaweb_archive(tmp_path / "month", days=31, real_files=False)
    elapsed = time.perf_counter() - t0
    assert len(newest_files(info, "XS_TEST_1MIN")) == 31
    assert elapsed < 10, f"31 days took {elapsed:.1f} s"
    assert REST_PREFIX == "/WS/cdasr/1/dataviews/sp_phys"
