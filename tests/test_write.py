"""CDF writing (xspace.io.write.to_cdf), checked with two independent readers: cdflib and pycdfpp."""

from __future__ import annotations

import importlib.util

import cdflib
import numpy as np
import pycdfpp
import pytest
import xarray as xr

import xspace
from conftest import CDF_DIR, same_value
from xspace.errors import InputError, ISTPError
from xspace.io.write import ISTP_FILLVAL, REQUIRED_GLOBAL_ATTRIBUTES, to_cdf

HAVE_READER = importlib.util.find_spec("xspace.io.backend") is not None
CDF_FILES = sorted(CDF_DIR.glob("*.cdf"))  # parametrisation needs the paths at import

T3 = np.array(["2016-12-31T23:59:59.5", "2017-01-01T00:00:00.000000001", "2020-02-29T12:34:56.789"], "datetime64[ns]")


def _tt2000_reference(times: np.ndarray) -> np.ndarray:
    """TT2000 computed independently with cdflib from calendar components."""
    out = []
    for t in times.astype("datetime64[ns]"):
        s = str(t)  # YYYY-MM-DDThh:mm:ss.nnnnnnnnn
        date, clock = s.split("T")
        y, mo, d = (int(x) for x in date.split("-"))
        hh, mm, rest = clock.split(":")
        sec, frac = rest.split(".")
        ns = int(frac.ljust(9, "0"))
        out.append([y, mo, d, int(hh), int(mm), int(sec), ns // 1_000_000, (ns // 1000) % 1000, ns % 1000])
    return np.atleast_1d(np.asarray(cdflib.cdfepoch.compute_tt2000(out), dtype=np.int64))


# ----------------------------------------------------------------------------- from scratch
@pytest.fixture
def scratch():
    b = np.array([[1.0, 2.0, 3.0], [np.nan, 5.0, 6.0], [7.0, 8.0, 9.5]])
    return xr.Dataset(
        {
            "B": (("Epoch", "component"), b, {"units": "nT", "long_name": "Magnetic field"}),
            "flux": (("Epoch", "energy"), np.arange(6, dtype=np.float32).reshape(3, 2)),
            "count": ("Epoch", np.array([1, 2, 3], dtype=np.int16)),
            "calib": ("component", np.array([0.5, 1.0, 2.0])),
        },
        coords={"Epoch": T3, "component": ["Bx", "By", "Bz"], "energy": ("energy", [10.0, 20.0], {"units": "eV"})},
    )


def test_scratch_types_values_and_epoch(scratch, tmp_path):
    path = to_cdf(scratch, tmp_path / "s.cdf")
    cdf = cdflib.CDF(path)
    types = {v: cdf.varinq(v).Data_Type_Description for v in cdf.cdf_info().zVariables}
    assert types == {
        "B": "CDF_REAL8", "flux": "CDF_REAL4", "count": "CDF_INT2", "calib": "CDF_REAL8",
        "Epoch": "CDF_TIME_TT2000", "component": "CDF_CHAR", "energy": "CDF_REAL8",
    }
    # the epoch is TT2000, nanosecond-exact across the 2016 leap second
    np.testing.assert_array_equal(cdf.varget("Epoch"), _tt2000_reference(T3))
    assert cdf.varget("Epoch")[1] - cdf.varget("Epoch")[0] == 1_500_000_001  # 0.5 s + leap second + 1 ns
    # NaN -> the ISTP fill value of REAL8
    b = cdf.varget("B")
    assert b[1, 0] == -1e31 and b[2, 2] == 9.5
    assert cdf.varinq("B").Rec_Vary and not cdf.varinq("calib").Rec_Vary
    assert cdf.varinq("calib").Dim_Sizes == [3] and cdf.varinq("B").Dim_Sizes == [3]
    assert list(cdf.varget("component")) == ["Bx", "By", "Bz"]
    # independent reader
    p = pycdfpp.load(str(path))
    np.testing.assert_array_equal(pycdfpp.to_datetime64(p["Epoch"]).ravel(), T3)
    np.testing.assert_array_equal(p["flux"].values, scratch["flux"].values)
    assert p["count"].type == pycdfpp.DataType.CDF_INT2


def test_scratch_istp_attributes(scratch, tmp_path):
    path = to_cdf(scratch, tmp_path / "s.cdf")
    cdf = cdflib.CDF(path)
    b = cdf.varattsget("B")
    assert b["VAR_TYPE"] == "data"
    assert b["DEPEND_0"] == "Epoch" and b["LABL_PTR_1"] == "component" and "DEPEND_1" not in b
    assert b["UNITS"] == "nT" and b["FIELDNAM"] == "Magnetic field" and b["CATDESC"] == "Magnetic field"
    assert b["DISPLAY_TYPE"] == "time_series" and b["FORMAT"] == "E16.8"
    assert float(b["VALIDMIN"]) == 1.0 and float(b["VALIDMAX"]) == 9.5
    assert cdf.attget("FILLVAL", "B").Data_Type == "CDF_REAL8"
    flux = cdf.varattsget("flux")
    assert flux["DEPEND_1"] == "energy" and flux["DISPLAY_TYPE"] == "spectrogram" and flux["LABLAXIS"] == "flux"
    assert cdf.attget("FILLVAL", "flux").Data_Type == "CDF_REAL4"
    count = cdf.varattsget("count")
    assert int(count["FILLVAL"]) == -32768 and cdf.attget("FILLVAL", "count").Data_Type == "CDF_INT2"
    assert count["FORMAT"] == "I6"
    epoch = cdf.varattsget("Epoch")
    assert epoch["VAR_TYPE"] == "support_data" and epoch["UNITS"] == "ns" and epoch["TIME_BASE"] == "J2000"
    fill = cdf.attget("FILLVAL", "Epoch")
    assert fill.Data_Type == "CDF_TIME_TT2000" and int(fill.Data) == -9223372036854775808
    assert int(cdf.attget("VALIDMIN", "Epoch").Data) == _tt2000_reference(T3[:1])[0]
    assert cdf.varattsget("component")["VAR_TYPE"] == "metadata"
    assert cdf.varattsget("energy")["VAR_TYPE"] == "support_data"
    assert cdf.varattsget("energy")["UNITS"] == "eV"
    g = cdf.globalattsget()
    for name in REQUIRED_GLOBAL_ATTRIBUTES:
        assert name in g
    assert g["Logical_file_id"] == ["s"] and g["Generated_by"][0].startswith("xspace")


def test_scratch_existing_attributes_win(scratch, tmp_path):
    scratch.attrs.update(Project="ISTP>International Solar-Terrestrial Physics", PI_name="A. Person")
    scratch["B"].attrs.update(VAR_TYPE="support_data", FILLVAL=-999.0, DISPLAY_TYPE="stack_plot")
    cdf = cdflib.CDF(to_cdf(scratch, tmp_path / "s.cdf"))
    g = cdf.globalattsget()
    assert g["Project"] == ["ISTP>International Solar-Terrestrial Physics"] and g["PI_name"] == ["A. Person"]
    assert g["Source_name"] == ["unknown"]
    b = cdf.varattsget("B")
    assert b["VAR_TYPE"] == "support_data" and b["DISPLAY_TYPE"] == "stack_plot" and float(b["FILLVAL"]) == -999.0


# ----------------------------------------------------------------------------- restoring from .encoding
@pytest.fixture
def decoded():
    """A Dataset as the reader presents a decoded CDF (values decoded, raw details in .encoding)."""
    ds = xr.Dataset(
        {
            "counts": (("Epoch", "channel"), np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 6.0]])),
            "temp": ("Epoch", np.array([1.5, np.nan, 2.5], dtype=np.float32)),
            "empty": (("Epoch_B", "x"), np.zeros((0, 2), dtype=np.float32)),
            "empty_time": ("Epoch_B", np.array([], dtype="datetime64[ns]")),
        },
        coords={
            "Epoch": ("Epoch", np.array(["2001-01-01", "2001-01-01T00:00:01", "NaT"], "datetime64[ns]")),
            "channel": ("channel", np.array(["lo", "hi"])),
        },
        attrs={"Project": "ISTP", "TEXT": ["line one", "line two"], "Data_version": "2", "Numbers": [np.int16(3), "x"]},
    )
    ds["counts"].attrs.update(
        VAR_TYPE="data", DEPEND_0="Epoch", LABL_PTR_1="channel", VALIDMIN=0.0, VALIDMAX=np.float32(1000.0),
        SCALEMIN=np.int32(0),
    )
    ds["counts"].encoding.update(
        cdf_type=4, FILLVAL=np.int32(-2147483648), cdf_dtype=np.dtype("int32"), record_varying=True,
        cdf_compression="gzip", cdf_compression_level=9, cdf_attribute_types={"VALIDMIN": 4, "VALIDMAX": 21, "SCALEMIN": 1},
    )
    ds["temp"].attrs.update(VAR_TYPE="data", DEPEND_0="Epoch")
    ds["temp"].encoding.update(cdf_type=44, FILLVAL=np.float32(-1e31), record_varying=True)
    ds["empty"].attrs.update(VAR_TYPE="data", DEPEND_0="empty_time")
    ds["empty"].encoding.update(cdf_type=21, FILLVAL=np.float32(-1e31), record_varying=True)
    ds["empty_time"].encoding.update(cdf_type=33, record_varying=True)
    ds["Epoch"].attrs.update(VAR_TYPE="support_data", VALIDMIN=np.datetime64("1990-01-01", "ns"))
    ds["Epoch"].encoding.update(cdf_type=31, FILLVAL=np.float64(-1e31), record_varying=True)
    ds["channel"].attrs.update(VAR_TYPE="metadata")
    ds["channel"].encoding.update(cdf_type=51, cdf_num_elements=8, record_varying=False)
    ds.encoding.update(cdf_version="3.9.0", cdf_majority="row", cdf_global_attribute_types={"Numbers": [2, 51]})
    return ds


def test_restores_types_fill_and_links(decoded, tmp_path):
    path = to_cdf(decoded, tmp_path / "d.cdf")
    cdf = cdflib.CDF(path)
    assert cdf.varinq("counts").Data_Type_Description == "CDF_INT4"
    np.testing.assert_array_equal(cdf.varget("counts"), [[1, -2147483648], [3, 4], [-2147483648, 6]])
    assert cdf.varinq("counts").Compress == 9
    assert cdf.varinq("temp").Data_Type_Description == "CDF_FLOAT" and cdf.varinq("temp").Compress == 0
    np.testing.assert_array_equal(cdf.varget("temp"), np.array([1.5, -1e31, 2.5], dtype=np.float32))
    # attribute entry types from cdf_attribute_types; same-type attributes default to the variable's type
    assert cdf.attget("VALIDMIN", "counts").Data_Type == "CDF_INT4"
    assert cdf.attget("VALIDMAX", "counts").Data_Type == "CDF_REAL4"
    assert cdf.attget("SCALEMIN", "counts").Data_Type == "CDF_INT1"
    assert cdf.attget("FILLVAL", "counts").Data_Type == "CDF_INT4"
    assert cdf.attget("FILLVAL", "temp").Data_Type == "CDF_FLOAT"
    attrs = cdf.varattsget("counts")
    assert attrs["DEPEND_0"] == "Epoch" and attrs["LABL_PTR_1"] == "channel" and attrs["VAR_TYPE"] == "data"
    assert set(attrs) == {"VAR_TYPE", "DEPEND_0", "LABL_PTR_1", "VALIDMIN", "VALIDMAX", "SCALEMIN", "FILLVAL"}
    # EPOCH time type restored; NaT -> EPOCH fill; the datetime64 VALIDMIN encoded as CDF_EPOCH
    assert cdf.varinq("Epoch").Data_Type_Description == "CDF_EPOCH"
    raw = cdf.varget("Epoch")
    assert raw[0] == 63145526400000.0 and raw[1] == 63145526401000.0 and raw[2] == -1e31
    vmin = cdf.attget("VALIDMIN", "Epoch")
    assert vmin.Data_Type == "CDF_EPOCH" and float(vmin.Data) == cdflib.cdfepoch.compute_epoch([1990, 1, 1, 0, 0, 0, 0])
    # CHAR variable with its declared length, not record varying
    assert cdf.varinq("channel").Num_Elements == 8 and not cdf.varinq("channel").Rec_Vary
    # zero-record variables keep dims and types
    assert cdf.varinq("empty").Last_Rec == -1 and cdf.varinq("empty").Dim_Sizes == [2]
    assert cdf.varinq("empty_time").Data_Type_Description == "CDF_TIME_TT2000"
    # global attributes: entries and their types; no placeholders added to a dataset from a CDF
    g = cdf.globalattsget()
    assert g["TEXT"] == ["line one", "line two"] and "Source_name" not in g and "Generated_by" not in g
    assert cdf.attget("Numbers", 0).Data_Type == "CDF_INT2" and cdf.attget("Numbers", 1).Data_Type == "CDF_CHAR"
    # the independent reader agrees
    p = pycdfpp.load(str(path))
    assert p["counts"].type == pycdfpp.DataType.CDF_INT4
    np.testing.assert_array_equal(p["counts"].values, cdf.varget("counts"))
    assert p["empty"].shape == (0, 2)
    assert np.asarray(p["channel"].values_encoded).ravel().tolist() == ["lo", "hi"]


def test_epoch16_and_column_major(tmp_path):
    t = np.array(["2005-01-01T00:00:00.123456789", "2005-01-01T00:00:01"], "datetime64[ns]")
    m = np.arange(12, dtype=np.float64).reshape(2, 2, 3)
    ds = xr.Dataset({"M": (("Epoch", "a", "b"), m)}, coords={"Epoch": t})
    ds["Epoch"].encoding.update(cdf_type=32, record_varying=True)
    ds["M"].encoding.update(cdf_type=22, record_varying=True)
    ds.encoding["cdf_majority"] = "column"
    path = to_cdf(ds, tmp_path / "c.cdf")
    cdf = cdflib.CDF(path)
    assert cdf.cdf_info().Majority == "Column_major"
    np.testing.assert_array_equal(cdf.varget("M"), m)  # cdflib reorders column-major records
    p = pycdfpp.load(str(path))
    np.testing.assert_array_equal(p["M"].values, m)
    raw = cdf.varget("Epoch")
    assert cdf.varinq("Epoch").Data_Type_Description == "CDF_EPOCH16"
    expected = cdflib.cdfepoch.compute_epoch16([2005, 1, 1, 0, 0, 0, 123, 456, 789, 0])
    assert raw[0] == expected and raw[0].imag == 123456789000.0
    np.testing.assert_array_equal(pycdfpp.to_datetime64(p["Epoch"]).ravel(), t)


def test_global_compression_option_and_dask(decoded, tmp_path):
    dsk = decoded.chunk({"Epoch": 1})
    path = to_cdf(dsk, tmp_path / "g.cdf", compression="gzip", compression_level=3)
    cdf = cdflib.CDF(path)
    assert cdf.varinq("temp").Compress == 3 and cdf.varinq("counts").Compress == 3
    np.testing.assert_array_equal(cdf.varget("temp"), np.array([1.5, -1e31, 2.5], dtype=np.float32))
    path = to_cdf(decoded, tmp_path / "n.cdf", compression="none")
    assert cdflib.CDF(path).varinq("counts").Compress == 0


# ----------------------------------------------------------------------------- errors and atomicity
def test_refuses_overwrite_and_is_atomic(scratch, tmp_path):
    target = tmp_path / "s.cdf"
    to_cdf(scratch, target)
    before = target.read_bytes()
    with pytest.raises(InputError, match="exists"):
        to_cdf(scratch, target)
    bad = scratch.assign(flag=("Epoch", np.array([True, False, True])))
    with pytest.raises(InputError, match="'flag'.*bool"):
        to_cdf(bad, target, overwrite=True)
    assert target.read_bytes() == before  # a failed write leaves the old file alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.cdf"]  # and no temporary files
    to_cdf(scratch.isel(Epoch=[0]), target, overwrite=True)
    assert cdflib.CDF(target).varinq("B").Last_Rec == 0


@pytest.mark.parametrize(
    "change, match, error",
    [
        (lambda ds: ds.assign(z=("Epoch", np.array([1j, 2j, 3j]))), "'z'.*complex", InputError),
        (lambda ds: ds.assign(d=("Epoch", np.array([1, 2, 3], "timedelta64[s]"))), "'d'.*duration", InputError),
        (lambda ds: ds.assign(u=("Epoch", np.array([1, 2, 3], np.uint64))), "'u'.*unsigned 64", InputError),
        (lambda ds: ds.assign_attrs(history="x").assign(h=("Epoch", [1.0, 2, 3], {"history": "y"})), "'history'", ISTPError),
        (lambda ds: ds.assign(n=("Epoch", [1.0, 2, 3], {"note": None})), "'note' of variable 'n'", InputError),
        (lambda ds: ds.assign(v=("Epoch", [1.0, 2, 3], {"VALIDMIN": object()})), "'VALIDMIN' of variable 'v'", InputError),
    ],
)
def test_bad_input(scratch, tmp_path, change, match, error):
    with pytest.raises(error, match=match):
        to_cdf(change(scratch), tmp_path / "x.cdf")
    assert list(tmp_path.iterdir()) == []


def test_bad_values_for_encoded_integer_type(decoded, tmp_path):
    ds = decoded.copy(deep=True)
    ds["counts"].encoding.pop("FILLVAL")
    with pytest.raises(InputError, match="'counts' has NaN.*no FILLVAL"):
        to_cdf(ds, tmp_path / "x.cdf")
    ds = decoded.copy(deep=True)
    ds["counts"][0, 0] = 1.5
    with pytest.raises(InputError, match="'counts' has non-integer"):
        to_cdf(ds, tmp_path / "x.cdf")
    ds = decoded.copy(deep=True)
    ds["counts"].encoding.update(cdf_type=1, FILLVAL=np.int8(-128))
    ds["counts"][0, 0] = 300.0
    with pytest.raises(InputError, match="'counts' has values outside"):
        to_cdf(ds, tmp_path / "x.cdf")
    ds["counts"].encoding["FILLVAL"] = np.int32(-2147483648)
    with pytest.raises(InputError, match="'FILLVAL' of variable 'counts'.*out of the range of CDF_INT1"):
        to_cdf(ds, tmp_path / "x.cdf")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(scratch, tmp_path):
    with pytest.raises(InputError, match="'compression'"):
        to_cdf(scratch, tmp_path / "x.cdf", compression="zip")
    with pytest.raises(InputError, match="'compression_level'"):
        to_cdf(scratch, tmp_path / "x.cdf", compression="gzip", compression_level=12)
    with pytest.raises(InputError, match="does not exist"):
        to_cdf(scratch, tmp_path / "no" / "x.cdf")
    with pytest.raises(InputError, match="'ds'"):
        to_cdf([1, 2], tmp_path / "x.cdf")


def test_accessor_and_top_level(scratch, tmp_path):
    before = scratch.copy(deep=True)
    scratch = scratch.assign(no_coord=(("Epoch", "x"), np.zeros((3, 2))))
    p1 = scratch.space.to_cdf(tmp_path / "a.cdf")
    # the Dataset written is not modified (no attributes or label coordinates added to it)
    xr.testing.assert_identical(scratch.drop_vars("no_coord"), before)
    assert "x" not in scratch.coords and "VAR_TYPE" not in scratch["B"].attrs
    assert list(cdflib.CDF(p1).varget("x")) == ["x 0", "x 1"]
    assert cdflib.CDF(p1).varattsget("no_coord")["LABL_PTR_1"] == "x"
    p2 = xspace.to_cdf(scratch["B"], tmp_path / "b.cdf")
    assert cdflib.CDF(p1).varget("count").tolist() == [1, 2, 3]
    assert "B" in cdflib.CDF(p2).cdf_info().zVariables
    assert ISTP_FILLVAL[4] == -2147483648 and ISTP_FILLVAL[21] == -1e31


# ----------------------------------------------------------------------------- round trip of the real files


def _assert_same(a: xr.Dataset, b: xr.Dataset, name: str):
    assert set(a.variables) == set(b.variables), name
    assert dict(a.sizes) == dict(b.sizes), name
    assert set(a.coords) == set(b.coords) and set(a.data_vars) == set(b.data_vars), name
    for v in a.variables:
        va, vb = a[v].variable, b[v].variable
        assert va.dims == vb.dims, (name, v)
        assert va.dtype == vb.dtype, (name, v, va.dtype, vb.dtype)
        np.testing.assert_array_equal(va.values, vb.values, err_msg=f"{name}:{v}")
        assert va.attrs.keys() == vb.attrs.keys(), (name, v)
        for key in va.attrs:
            assert same_value(va.attrs[key], vb.attrs[key]), (name, v, key, va.attrs[key], vb.attrs[key])
        for key in ("cdf_type", "cdf_num_elements", "record_varying", "cdf_attribute_types", "FILLVAL",
                    "cdf_zvariable", "cdf_dims", "cdf_dim_variances", "cdf_dtype"):
            assert same_value(va.encoding.get(key), vb.encoding.get(key)), (name, v, key)
    assert a.attrs.keys() == b.attrs.keys(), name
    for key in a.attrs:
        assert same_value(a.attrs[key], b.attrs[key]), (name, key, a.attrs[key], b.attrs[key])
    assert a.encoding.get("cdf_global_attribute_types") == b.encoding.get("cdf_global_attribute_types"), name
    assert a.encoding.get("cdf_majority") == b.encoding.get("cdf_majority"), name


@pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")
@pytest.mark.parametrize("path", CDF_FILES, ids=[p.name for p in CDF_FILES])
def test_real_file_round_trip(path, tmp_path):
    """open_cdf -> to_cdf -> open_cdf is the identity; pycdfpp reads our file as cdflib reads the original."""
    original = xspace.open_cdf(path)
    out = to_cdf(original, tmp_path / path.name)
    back = xspace.open_cdf(out)
    _assert_same(original.load(), back.load(), path.name)
    # independent check: pycdfpp on the written file against cdflib on the original
    src = cdflib.CDF(path)
    written = pycdfpp.load(str(out))
    info = src.cdf_info()
    for var in info.zVariables + info.rVariables:
        if var not in original.variables:
            continue  # ignore_data variables are not opened by default
        vi = src.varinq(var)
        ref = src.varget(var) if vi.Last_Rec >= 0 else None
        if vi.Rec_Vary and ref is not None:
            ref = np.asarray(ref)[: vi.Last_Rec + 1]
        n_orig = (vi.Last_Rec + 1) if vi.Rec_Vary else 1
        n_written = written[var].shape[0] if vi.Rec_Vary else 1
        n = min(n_orig, n_written)
        # trailing records only one file has are virtual records of the other: all fill, NaN or pad
        if n_orig != n_written and vi.Data_Type not in (31, 32, 33, 51, 52):
            extra = np.asarray(written[var].values[n:] if n_written > n else ref[n:], dtype=np.float64)
            fill = float(np.asarray(src.attget("FILLVAL", var).Data))
            pad = float(np.asarray(vi.Pad).ravel()[0])
            assert np.all(np.isnan(extra) | (extra == fill) | (extra == pad)), var
        if n == 0:
            continue
        rows = slice(None, n) if vi.Rec_Vary else ...
        ref = np.asarray(ref)[rows]
        if vi.Data_Type in (31, 32, 33):
            got = pycdfpp.to_datetime64(written[var])[rows]
            exp = np.asarray(cdflib.cdfepoch.to_datetime(ref), dtype="datetime64[ns]")
            ok = ~np.isnat(exp.ravel())
            np.testing.assert_array_equal(got.ravel()[ok], exp.ravel()[ok], err_msg=var)
        elif vi.Data_Type in (51, 52):
            got = np.asarray(written[var].values_encoded)[rows]
            np.testing.assert_array_equal(np.char.rstrip(np.asarray(got, dtype=str).ravel()),
                                          np.char.rstrip(np.asarray(ref, dtype=str).ravel()), err_msg=var)
        else:
            got = written[var].values[rows]
            if ref.dtype.kind == "f" and np.isnan(ref).any():
                # NaN in the original data decodes like fill, and is written back as FILLVAL
                ref = np.where(np.isnan(ref), np.asarray(src.attget("FILLVAL", var).Data, ref.dtype), ref)
            np.testing.assert_array_equal(got.ravel(), np.asarray(ref).ravel(), err_msg=var)


@pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")
@pytest.mark.parametrize("path", CDF_FILES, ids=[p.name for p in CDF_FILES])
def test_real_file_raw_round_trip(path, tmp_path):
    """Undecoded datasets (raw times, FILLVAL in attrs) are written back as they are, too."""
    raw = xspace.open_cdf(path, mask_fill=False, decode_times=False).load()
    out = to_cdf(raw, tmp_path / path.name)
    _assert_same(raw, xspace.open_cdf(out, mask_fill=False, decode_times=False).load(), path.name)
    _assert_same(xspace.open_cdf(path).load(), xspace.open_cdf(out).load(), path.name)


@pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")
def test_istp_defaults_complete_a_real_file(cdf_dir, tmp_path):
    """istp_defaults=True adds what the ISTP checker misses, and changes nothing that was there."""
    ds = xspace.open_cdf(cdf_dir / "ac_k2_mfi_20220101_v03.cdf")
    before = {(f.variable, f.code) for f in ds.space.check()}
    assert ("label_BGSE", "missing-attribute") in before and ("Magnitude", "missing-attribute") in before
    fixed = xspace.open_cdf(to_cdf(ds, tmp_path / "fixed.cdf", istp_defaults=True))
    assert [(f.variable, f.code, f.severity) for f in fixed.space.check()] == [("Epoch", "fillval-type", "warning")]
    assert fixed["label_BGSE"].attrs["FORMAT"] == "A6" and fixed["Magnitude"].attrs["DISPLAY_TYPE"] == "time_series"
    for name in ds.variables:
        for key, value in ds[name].attrs.items():
            assert same_value(fixed[name].attrs[key], value), (name, key)
    for key, value in ds.attrs.items():
        assert same_value(fixed.attrs[key], value), key
    np.testing.assert_array_equal(fixed["BGSEc"].values, ds["BGSEc"].values)


def test_fill_collisions_and_precision(tmp_path):
    t = np.array(["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02"], "datetime64[ns]")
    # a float32 variable with NaN gets the ISTP fill -1e31 stored at REAL4 precision
    ds = xr.Dataset({"x": ("Epoch", np.array([1.0, np.nan, 3.0], np.float32))}, coords={"Epoch": t})
    cdf = cdflib.CDF(to_cdf(ds, tmp_path / "a.cdf"))
    assert cdf.varget("x")[1] == np.float32(-1e31) and cdf.attget("FILLVAL", "x").Data_Type == "CDF_REAL4"
    # a valid value equal to the fill value would read back as missing: refused
    ds = xr.Dataset({"c": ("Epoch", np.array([-128, 0, 5], np.int8))}, coords={"Epoch": t})
    with pytest.raises(InputError, match="'c' has 1 valid value.*equal to its FILLVAL -128"):
        to_cdf(ds, tmp_path / "b.cdf")
    ds["c"].attrs["FILLVAL"] = np.int8(127)
    cdf = cdflib.CDF(to_cdf(ds, tmp_path / "b.cdf"))
    assert cdf.varget("c").tolist() == [-128, 0, 5] and int(cdf.varattsget("c")["FILLVAL"]) == 127
    # values too large for the variable's CDF type
    ds = xr.Dataset({"r": ("Epoch", [1.0, 1e300, 2.0])}, coords={"Epoch": t})
    ds["r"].encoding["cdf_type"] = 21
    with pytest.raises(InputError, match="'r' has values too large for CDF_REAL4"):
        to_cdf(ds, tmp_path / "c.cdf")


# ----------------------------------------------------------------------------- property test
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.float32, np.float64]


@st.composite
def _datasets(draw):
    nrec = draw(st.integers(1, 6))
    ncomp = draw(st.integers(0, 3))
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    shape = (nrec, ncomp) if ncomp else (nrec,)
    if dtype.kind == "f":
        elements = st.floats(-1e30, 1e30).map(lambda v, t=dtype.type: t(v)) | st.just(dtype.type("nan"))
    else:
        info = np.iinfo(dtype)
        fill = ISTP_FILLVAL[{"i": {1: 1, 2: 2, 4: 4, 8: 8}, "u": {1: 11, 2: 12, 4: 14}}[dtype.kind][dtype.itemsize]]
        elements = st.integers(int(info.min), int(info.max)).filter(lambda v: v != fill)
    data = draw(hnp.arrays(dtype, shape, elements=elements))
    # nanosecond times between 1972 and 2100 (the leap-second era), strictly increasing
    ns = draw(st.lists(st.integers(63_072_000 * 10**9, 4_102_444_800 * 10**9), min_size=nrec, max_size=nrec, unique=True))
    times = np.array(sorted(ns), dtype="datetime64[ns]")
    dims = ("Epoch", "component") if ncomp else ("Epoch",)
    return xr.Dataset({"v": (dims, data)}, coords={"Epoch": times})


@pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=_datasets())
def test_property_scratch_round_trip(ds, tmp_path):
    path = to_cdf(ds, tmp_path / "p.cdf", overwrite=True)
    back = xspace.open_cdf(path).load()
    np.testing.assert_array_equal(back["Epoch"].values, ds["Epoch"].values)
    np.testing.assert_array_equal(back["v"].values.astype(np.float64), ds["v"].values.astype(np.float64))
    assert back["v"].dims == ds["v"].dims  # a dimension without coordinate gets a label variable
    if "component" in ds.dims:
        assert back["component"].values.tolist() == [f"component {i}" for i in range(ds.sizes["component"])]
    raw = cdflib.CDF(path)
    assert raw.varinq("v").Data_Type == {np.dtype(t): c for t, c in zip(_DTYPES, (1, 2, 4, 8, 11, 12, 14, 21, 22))}[ds["v"].dtype]
    np.testing.assert_array_equal(raw.varget("Epoch"), _tt2000_reference(ds["Epoch"].values))
