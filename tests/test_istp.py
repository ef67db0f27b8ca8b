"""ISTP compliance checks (xspace.istp.check) on real files and deliberately broken datasets."""

from __future__ import annotations

import importlib.util

import cdflib
import numpy as np
import pytest
import xarray as xr

import xspace
from xspace.errors import InputError
from xspace.istp import REQUIRED_GLOBAL_ATTRIBUTES, Finding, check

HAVE_READER = importlib.util.find_spec("xspace.io.backend") is not None
needs_reader = pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")


def _codes(findings, variable=...):
    return sorted({f.code for f in findings if variable is ... or f.variable == variable})


# ----------------------------------------------------------------------------- real files
@needs_reader
def test_arase_master_global_attribute_case_and_char_fillvals(cdf_dir):
    path = cdf_dir / "erg_pwe_hfa_l3_1min_00000000_v01.cdf"
    findings = xspace.open_cdf(path).space.check()
    raw = cdflib.CDF(path)
    gattrs = raw.globalattsget()
    present = {k for k, v in gattrs.items() if any(str(e).strip() for e in v)}
    # every required global attribute the file lacks or leaves blank (names are case-sensitive) is reported
    missing = {f.message.split("'")[1] for f in findings if f.variable is None and f.code == "missing-attribute"}
    assert missing == {k for k in REQUIRED_GLOBAL_ATTRIBUTES if k not in present}
    assert gattrs["TEXT"] == [" "] and "'TEXT' is missing (it is blank)" in " ".join(f.message for f in findings)
    assert "Project" in missing and "PROJECT" in present
    project = next(f for f in findings if f.variable is None and "'Project'" in f.message)
    assert "found 'PROJECT'" in project.message and project.severity == "error"
    # the Epoch FILLVAL is a CDF_CHAR string in this file: a type error
    assert raw.varinq("Epoch").Data_Type == 33 and raw.attget("FILLVAL", "Epoch").Data_Type == "CDF_CHAR"
    fill = [f for f in findings if f.code == "fillval-type"]
    assert {f.variable for f in fill} == {"Epoch", "quality_flag", "inspector1", "inspector2", "authorizer"}
    assert all(f.severity == "error" for f in fill)
    assert "CDF_TIME_TT2000" in next(f for f in fill if f.variable == "Epoch").message


@needs_reader
def test_elfin_master_depend_size_and_fill_type(cdf_dir):
    path = cdf_dir / "ela_l1_state_pred_00000000_v01.cdf"
    raw = cdflib.CDF(path)
    # independent facts: DEPEND_1 of ela_att_gei is a scalar-per-record variable, the dimension has 3
    assert raw.varattsget("ela_att_gei")["DEPEND_1"] == "ela_att_uncertainty"
    assert raw.varinq("ela_att_uncertainty").Dim_Sizes == [] and raw.varinq("ela_att_gei").Dim_Sizes == [3]
    findings = xspace.open_cdf(path).space.check()
    size = [f for f in findings if f.code == "depend-size-mismatch"]
    assert [(f.variable, f.severity) for f in size] == [("ela_att_gei", "error")]
    assert "'ela_att_uncertainty'" in size[0].message and "has 3" in size[0].message
    assert raw.varinq("ela_att_solution_date").Data_Type == 21
    assert raw.attget("FILLVAL", "ela_att_solution_date").Data_Type == "CDF_TIME_TT2000"
    fill = [f for f in findings if f.code == "fillval-type"]
    assert [(f.variable, f.severity) for f in fill] == [("ela_att_solution_date", "error")]
    assert _codes(findings) == ["depend-size-mismatch", "fillval-type", "missing-attribute"]


@needs_reader
def test_ace_sis_dangling_delta_and_epoch_fill_warning(cdf_dir):
    path = cdf_dir / "ac_h2_sis_20101105_v06.cdf"
    raw = cdflib.CDF(path)
    info = raw.cdf_info()
    assert raw.varattsget("Epoch")["DELTA_PLUS_VAR"] == "Delta_time"
    assert "Delta_time" not in info.zVariables + info.rVariables
    findings = xspace.open_cdf(path).space.check()
    assert [(f.code, f.variable) for f in findings if f.code.startswith("dangling")] == [
        ("dangling-delta", "Epoch"), ("dangling-delta", "Epoch")
    ]
    # a CDF_REAL8 FILLVAL on a CDF_EPOCH variable: same storage, so only a warning
    assert raw.attget("FILLVAL", "Epoch").Data_Type == "CDF_REAL8"
    epoch_fill = [f for f in findings if f.code == "fillval-type"]
    assert [(f.variable, f.severity) for f in epoch_fill] == [("Epoch", "warning")]


@needs_reader
def test_de2_text_attribute_case(cdf_dir):
    path = cdf_dir / "de2_ion2s_rpa_19830213_v01.cdf"
    assert "Text" in cdflib.CDF(path).globalattsget()
    findings = xspace.open_cdf(path).space.check()
    glob = [f for f in findings if f.variable is None]
    assert len(glob) == 1 and "'TEXT'" in glob[0].message and "found 'Text'" in glob[0].message


@needs_reader
def test_psp_file_is_compliant(cdf_dir):
    assert xspace.open_cdf(cdf_dir / "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf").space.check() == []


@needs_reader
def test_non_istp_file_has_no_var_type(cdf_dir):
    findings = check(xspace.open_cdf(cdf_dir / "a_cdf.cdf"))
    assert len([f for f in findings if f.variable is None]) == len(REQUIRED_GLOBAL_ATTRIBUTES)
    no_type = [f for f in findings if "has no VAR_TYPE" in f.message]
    assert no_type and all(f.code == "missing-attribute" for f in no_type)


@needs_reader
def test_written_scratch_dataset_is_compliant(tmp_path):
    """What to_cdf adds to a dataset built from scratch satisfies the checker."""
    t = np.array(["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02"], "datetime64[ns]")
    ds = xr.Dataset(
        {"B": (("Epoch", "component"), np.arange(9.0).reshape(3, 3), {"units": "nT"}),
         "n": ("Epoch", [1.0, 2.0, np.nan])},
        coords={"Epoch": t, "component": ["x", "y", "z"]},
    )
    before = check(ds)
    assert ("B", "missing-attribute") in {(f.variable, f.code) for f in before}
    back = xspace.open_cdf(ds.space.to_cdf(tmp_path / "s.cdf"))
    assert check(back) == []


# ----------------------------------------------------------------------------- broken datasets
def _good() -> xr.Dataset:
    t = np.array(["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02"], "datetime64[ns]")
    common = {"CATDESC": "x", "FIELDNAM": "x", "FORMAT": "F8.2"}
    ds = xr.Dataset(
        {
            "flux": (("Epoch", "energy"), np.ones((3, 2)), {
                **common, "VAR_TYPE": "data", "DEPEND_0": "Epoch", "DEPEND_1": "energy", "DISPLAY_TYPE": "spectrogram",
                "LABLAXIS": "flux", "UNITS": "1/cm2/s", "VALIDMIN": 0.0, "VALIDMAX": 1e10, "FILLVAL": -1e31}),
            "B": (("Epoch", "comp"), np.ones((3, 3), dtype=np.float32), {
                **common, "VAR_TYPE": "data", "DEPEND_0": "Epoch", "LABL_PTR_1": "label", "DISPLAY_TYPE": "time_series",
                "UNITS": "nT", "VALIDMIN": np.float32(-1e3), "VALIDMAX": np.float32(1e3),
                "FILLVAL": np.float32(-1e31)}),
        },
        coords={
            "Epoch": ("Epoch", t, {**common, "VAR_TYPE": "support_data", "FILLVAL": np.datetime64("NaT", "ns"),
                                   "VALIDMIN": t[0], "VALIDMAX": t[-1]}),
            "energy": ("energy", [10.0, 20.0], {**common, "VAR_TYPE": "support_data", "UNITS": "eV"}),
            "label": ("comp", ["Bx", "By", "Bz"], {**common, "VAR_TYPE": "metadata"}),
        },
        attrs={k: "x" for k in REQUIRED_GLOBAL_ATTRIBUTES},
    )
    return ds


def test_good_dataset_has_no_findings():
    assert check(_good()) == []


def test_missing_attributes_per_var_type():
    ds = _good()
    del ds["flux"].attrs["UNITS"], ds["energy"].attrs["UNITS"], ds["label"].attrs["FORMAT"]
    del ds["B"].attrs["LABL_PTR_1"]
    ds.attrs.pop("PI_name")
    got = {(f.variable, f.message) for f in check(ds)}
    assert got == {
        (None, "required global attribute 'PI_name' is missing"),
        ("flux", "variable 'flux' (data) has no UNITS or UNIT_PTR"),
        ("B", "variable 'B' (data) has no LABLAXIS or LABL_PTR_1"),
        ("energy", "variable 'energy' (support_data) has no UNITS or UNIT_PTR"),
        ("label", "variable 'label' (metadata) has no FORMAT or FORM_PTR"),
    }
    # blank strings do not count as present; UNIT_PTR replaces UNITS
    ds = _good()
    ds["flux"].attrs["CATDESC"] = "   "
    ds["B"].attrs.pop("UNITS")
    ds["B"].attrs["UNIT_PTR"] = "label"
    assert [(f.variable, f.code) for f in check(ds)] == [("flux", "missing-attribute")]


def test_record_varying_support_data_needs_fill_and_valid_range():
    ds = _good()
    ds = ds.assign_coords(quality=("Epoch", [0.0, 1.0, 0.0], {"VAR_TYPE": "support_data", "CATDESC": "q",
                                                             "FIELDNAM": "q", "FORMAT": "F3.0", "UNITS": " "}))
    msgs = sorted(f.message for f in check(ds) if f.variable == "quality")
    assert msgs == [
        "variable 'quality' (support_data) has no DEPEND_0",
        "variable 'quality' (support_data) has no FILLVAL",
        "variable 'quality' (support_data) has no VALIDMAX",
        "variable 'quality' (support_data) has no VALIDMIN",
    ]


def test_fillval_in_encoding_counts():
    ds = _good()
    fill = ds["B"].attrs.pop("FILLVAL")
    ds["B"].encoding.update(FILLVAL=fill, cdf_type=21, cdf_attribute_types={"FILLVAL": 21})
    assert check(ds) == []
    ds["B"].encoding["cdf_attribute_types"] = {"FILLVAL": 22}
    (f,) = check(ds)
    assert (f.code, f.severity, f.variable) == ("fillval-type", "error", "B")
    assert "CDF_REAL4" in f.message and "CDF_REAL8" in f.message
    # a CDF_FLOAT fill on a CDF_REAL4 variable is the same type
    ds["B"].encoding["cdf_attribute_types"] = {"FILLVAL": 44}
    assert check(ds) == []


def test_fillval_type_from_raw_attrs():
    ds = _good()
    ds["B"].attrs["FILLVAL"] = np.float64(-1e31)  # float32 variable, float64 fill
    ds["flux"].attrs["FILLVAL"] = "fill"
    got = {(f.variable, f.code) for f in check(ds)}
    assert got == {("B", "fillval-type"), ("flux", "fillval-type")}
    # integers: a Python number must be representable, a numpy scalar must have the variable's dtype
    ds = _good().assign(count=("Epoch", np.array([1, 2, 3], np.int16), {**_good()["flux"].attrs, "DEPEND_1": None}))
    ds["count"].attrs.pop("DEPEND_1")
    ds["count"].attrs["FILLVAL"] = -1e31
    assert [(f.variable, f.code) for f in check(ds)] == [("count", "fillval-range")]
    ds["count"].attrs["FILLVAL"] = -32768
    assert check(ds) == []
    ds["count"].attrs["FILLVAL"] = np.int32(-32768)
    assert [(f.variable, f.code) for f in check(ds)] == [("count", "fillval-type")]
    # decoded: values promoted to float, the raw dtype is in the encoding
    ds = _good().assign(count=("Epoch", np.array([1.0, np.nan, 3.0]), dict(ds["count"].attrs)))
    ds["count"].attrs.pop("FILLVAL")
    ds["count"].encoding.update(FILLVAL=np.int16(-32768), cdf_dtype=np.dtype("int16"))
    assert check(ds) == []


def test_dangling_references():
    ds = _good()
    ds["flux"].attrs["DEPEND_1"] = "energies"
    ds["B"].attrs["LABL_PTR_1"] = "labels"
    ds["flux"].attrs["DELTA_MINUS_VAR"] = "flux_err"
    ds["flux"].attrs["UNIT_PTR"] = "flux_units"
    got = [(f.variable, f.code, f.message) for f in check(ds)]
    assert ("flux", "dangling-depend", "DEPEND_1 of 'flux' names 'energies', which is not a variable of the dataset") in got
    assert ("B", "dangling-label", "LABL_PTR_1 of 'B' names 'labels', which is not a variable of the dataset") in got
    assert {c for _, c, _ in got} == {"dangling-depend", "dangling-label", "dangling-delta", "dangling-pointer"}


def test_size_mismatches():
    ds = _good()
    ds = ds.assign_coords(energy3=("e3", [1.0, 2.0, 3.0], dict(ds["energy"].attrs)),
                          label2=("c2", ["a", "b"], dict(ds["label"].attrs)))
    ds["flux"].attrs["DEPEND_1"] = "energy3"
    ds["B"].attrs["LABL_PTR_1"] = "label2"
    got = {(f.variable, f.code) for f in check(ds)}
    assert got == {("flux", "depend-size-mismatch"), ("B", "label-size-mismatch")}
    msg = next(f.message for f in check(ds) if f.variable == "flux")
    assert msg == "DEPEND_1 of 'flux' is 'energy3' with 3 values per record; dimension 1 of 'flux' has 2"


def test_epoch_order():
    ds = _good()
    t = ds["Epoch"].values.copy()
    bad = ds.assign_coords(Epoch=("Epoch", t[[0, 2, 1]], ds["Epoch"].attrs))
    (f,) = check(bad)
    assert (f.code, f.variable, f.severity) == ("non-monotonic-epoch", "Epoch", "error")
    assert "index 2" in f.message
    dup = ds.assign_coords(Epoch=("Epoch", t[[0, 1, 1]], ds["Epoch"].attrs))
    assert [f.code for f in check(dup)] == ["duplicate-epoch"]
    # fill (NaT) epochs are ignored
    nat = ds.assign_coords(Epoch=("Epoch", np.array([t[0], np.datetime64("NaT"), t[2]]), ds["Epoch"].attrs))
    assert check(nat) == []


def test_raw_tt2000_epoch_ignores_fill():
    ds = _good()
    raw = np.array([1000, -9223372036854775808, 500], dtype=np.int64)
    ds = ds.assign_coords(Epoch=("Epoch", raw, {**ds["Epoch"].attrs, "FILLVAL": np.int64(-9223372036854775808),
                                                "VALIDMIN": np.int64(0), "VALIDMAX": np.int64(10**18)}))
    ds["Epoch"].encoding["cdf_type"] = 33
    assert [f.code for f in check(ds)] == ["non-monotonic-epoch"]


def test_invalid_var_type_and_validmin():
    ds = _good()
    ds["flux"].attrs["VAR_TYPE"] = "dat"
    ds["B"].attrs["VALIDMIN"] = np.float32(2e3)
    got = {(f.variable, f.code, f.severity) for f in check(ds)}
    assert ("flux", "invalid-var-type", "error") in got
    assert ("B", "validmin-above-validmax", "warning") in got


def test_finding_and_errors():
    f = Finding("warning", None, "missing-attribute", "m")
    assert str(f) == "warning [missing-attribute] (global): m"
    with pytest.raises(InputError, match="'ds'"):
        check(xr.DataArray([1.0]))


def test_depend0_must_be_time():
    ds = _good()
    ds = ds.assign_coords(index=("Epoch", [0.0, 1.0, 2.0], dict(ds["energy"].attrs)))
    ds["flux"].attrs["DEPEND_0"] = "index"
    got = [(f.variable, f.code) for f in check(ds) if f.code != "missing-attribute"]
    assert got == [("flux", "depend0-not-time")]
