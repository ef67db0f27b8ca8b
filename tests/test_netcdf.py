"""netCDF4/HDF5 reading and writing (xspace.io.netcdf)."""

from __future__ import annotations

import importlib.util

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

import xspace
from conftest import CDF_DIR, same_value
from xspace.errors import FileFormatError, InputError
from xspace.io.netcdf import JSON_PREFIX, decode_attribute, encode_attribute, open_netcdf, to_netcdf

HAVE_READER = importlib.util.find_spec("xspace.io.backend") is not None


# ----------------------------------------------------------------------------- HDF5 Qin-Denton file
@pytest.fixture(scope="module")
def qd_path(shared_data):
    return shared_data / "omni" / "qindenton_hourly_1999-2001.h5"


def test_qindenton_time_axis_and_values(qd_path):
    ds = xspace.open_netcdf(qd_path)
    with h5py.File(qd_path, "r") as f:
        utc = [s.decode() for s in f["UTC"][:]]
        dst = f["Dst"][:]
        velo = f["velo"][:]
        kp = f["Kp"][:]
        qbits_velo = f["Qbits/velo"][:]
    # the ISO strings became the datetime64 dimension coordinate, all other variables on it
    assert ds["UTC"].dtype == np.dtype("datetime64[ns]")
    assert ds["UTC"].dims == ("UTC",)
    assert set(ds.dims) == {"UTC"}
    assert ds.sizes["UTC"] == len(utc) == 20002
    expected = np.array(utc, dtype="datetime64[ns]")
    np.testing.assert_array_equal(ds["UTC"].values, expected)
    assert str(ds["UTC"].values[0]) == "1999-07-01T14:00:00.000000000"
    # hourly cadence, strictly increasing
    assert np.all(np.diff(ds["UTC"].values) > np.timedelta64(0, "ns"))
    np.testing.assert_array_equal(ds["Dst"].values, dst)
    np.testing.assert_array_equal(ds["velo"].values, velo)
    np.testing.assert_array_equal(ds["Kp"].values, kp)
    assert ds["Dst"].dtype == np.int16 and ds["velo"].dtype == np.float32
    # sub-group flattened, on the same time axis
    np.testing.assert_array_equal(ds["Qbits_velo"].values, qbits_velo)
    assert ds["Qbits_velo"].dims == ("UTC",)
    assert ds["Qbits_velo"].encoding["group"] == "/Qbits"
    # time-based selection works on the decoded axis (a real Dst value checked against h5py)
    i = utc.index("2000-07-15T20:00:00")
    assert float(ds["Dst"].sel(UTC="2000-07-15T20:00").item()) == float(dst[i])


def test_qindenton_is_lazy_and_chunks(qd_path):
    ds = open_netcdf(qd_path)
    # data variables are not loaded at open
    assert not ds["velo"].variable._in_memory
    dsk = open_netcdf(qd_path, chunks={"UTC": 5000})
    assert dsk["velo"].chunks == ((5000, 5000, 5000, 5000, 2),)
    np.testing.assert_array_equal(dsk["velo"].values, ds["velo"].values)


def test_open_one_group_only(qd_path):
    ds = open_netcdf(qd_path, group="Qbits")
    assert "velo" in ds and "UTC" not in ds
    ds = open_netcdf(qd_path, flatten_groups=False)
    assert not any(str(v).startswith("Qbits_") for v in ds.variables)


def test_open_errors(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        open_netcdf(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"this is not netCDF" * 10)
    with pytest.raises(FileFormatError, match="bad.nc"):
        open_netcdf(bad)


# ----------------------------------------------------------------------------- attribute codec
@pytest.mark.parametrize(
    "value",
    [
        np.datetime64("2012-12-01T00:00:00.123456789", "ns"),
        np.datetime64("NaT", "ns"),
        True,
        None,
        [],
        ["a", "b"],
        [1, "two", 3.0],
        np.array([1.5], dtype=np.float32),
        np.array(["x", "yy"]),
        {"FILLVAL": np.int16(-32768), "cdf_dtype": np.dtype(">i2"), "cdf_dims": (3, 2)},
        b"raw",
        JSON_PREFIX + "looks encoded",
        np.timedelta64(5, "s"),
    ],
)
def test_attribute_codec_roundtrip(value):
    enc = encode_attribute(value)
    assert isinstance(enc, str) and enc.startswith(JSON_PREFIX)
    back = decode_attribute(enc)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, np.datetime64) and np.isnat(value):
        assert np.isnat(back)
    elif isinstance(value, dict):
        assert back == value and back["cdf_dtype"] == np.dtype(">i2") and type(back["FILLVAL"]) is np.int16
    else:
        assert back == value


@pytest.mark.parametrize("value", ["nT", np.float32(1.5), np.int16(-3), np.array([1, 2, 3], dtype=np.uint8), 2.5])
def test_native_attributes_stay_native(value):
    assert encode_attribute(value) is value


def test_bad_json_attribute():
    with pytest.raises(FileFormatError, match="xspace-json"):
        decode_attribute(JSON_PREFIX + "{not json")


# ----------------------------------------------------------------------------- round trip of an ISTP Dataset
def _istp_dataset():
    t = np.array(["2020-01-04T00:00", "2020-01-04T00:01", "NaT"], "datetime64[ns]")
    labels = np.array(["Bx GSE", "By GSE", "Bz GSE"])
    b = np.array([[1.0, 2.0, 3.0], [np.nan, 5.0, 6.0], [7.0, 8.0, 9.0]], dtype=np.float32)
    ds = xr.Dataset(
        {
            "BGSEc": (
                ("Epoch", "label_BGSE"),
                b,
                {
                    "VAR_TYPE": "data",
                    "DEPEND_0": "Epoch",
                    "LABL_PTR_1": "label_BGSE",
                    "UNITS": "nT",
                    "VALIDMIN": np.array([-500, -500, -500], dtype=np.float32),
                    "units": "should survive (reserved netCDF name)",
                    "_FillValue": "also reserved",
                },
            ),
            "Q": ("Epoch", [1.0, np.nan, 3.0], {"VAR_TYPE": "data", "flag": True, "nothing": None}),
            "empty": (("Epoch2", "x"), np.zeros((0, 2), dtype=np.float64), {"VAR_TYPE": "data"}),
        },
        coords={
            "Epoch": ("Epoch", t, {"VAR_TYPE": "support_data", "VALIDMIN": np.datetime64("1990-01-01", "ns")}),
            "label_BGSE": ("label_BGSE", labels, {"VAR_TYPE": "metadata"}),
        },
        attrs={"Project": "ISTP", "TEXT": ["first", "second"], "Data_version": "3", "empty_list": [], "n": 7},
    )
    ds["BGSEc"].encoding.update(
        {"cdf_type": 21, "FILLVAL": np.float32(-1e31), "cdf_dtype": np.dtype("float32"), "cdf_compression": "gzip",
         "cdf_compression_level": 6, "record_varying": True, "cdf_attribute_types": {"VALIDMIN": 21}}
    )
    ds["Q"].encoding.update({"cdf_type": 2, "FILLVAL": np.int16(-32768), "cdf_dtype": np.dtype(">i2")})
    ds["Epoch"].encoding.update({"cdf_type": 33, "FILLVAL": np.int64(-9223372036854775808), "cdf_dtype": np.dtype("int64")})
    ds["label_BGSE"].encoding.update({"cdf_type": 51, "cdf_num_elements": 6})
    ds.encoding.update({"cdf_version": "3.8.0", "cdf_majority": "row", "cdf_global_attribute_types": {"n": [4]}})
    return ds


def test_roundtrip_restores_dataset_and_encoding(tmp_path):
    ds = _istp_dataset()
    path = ds.space.to_netcdf(tmp_path / "x.nc")
    assert path == tmp_path / "x.nc"
    back = open_netcdf(path)
    xr.testing.assert_identical(back, ds)
    assert back["label_BGSE"].dtype == labels_dtype(ds)
    assert back["Epoch"].dtype == np.dtype("datetime64[ns]") and np.isnat(back["Epoch"].values[2])
    assert type(back.attrs["n"]) in (int, np.int64) and back.attrs["n"] == 7
    assert back.attrs["empty_list"] == [] and back["Q"].attrs["flag"] is True and back["Q"].attrs["nothing"] is None
    assert back["BGSEc"].attrs["units"] == "should survive (reserved netCDF name)"
    # CDF encodings restored with their types
    enc = back["Q"].encoding
    assert enc["cdf_type"] == 2 and type(enc["FILLVAL"]) is np.int16 and enc["FILLVAL"] == -32768
    assert enc["cdf_dtype"] == np.dtype(">i2")
    assert back["BGSEc"].encoding["cdf_attribute_types"] == {"VALIDMIN": 21}
    assert back["BGSEc"].encoding["cdf_compression"] == "gzip"
    assert back["label_BGSE"].encoding["cdf_num_elements"] == 6
    assert back.encoding["cdf_majority"] == "row" and back.encoding["cdf_global_attribute_types"] == {"n": [4]}
    # zero-size variables keep their shape and dtype
    assert back["empty"].shape == (0, 2) and back["empty"].dtype == np.float64


def labels_dtype(ds):
    return ds["label_BGSE"].dtype


def test_file_is_plain_netcdf(tmp_path):
    """Other tools see ordinary netCDF: string attributes, float data with NaN fill, a time axis."""
    ds = _istp_dataset()
    to_netcdf(ds, tmp_path / "x.nc")
    with netCDF4.Dataset(tmp_path / "x.nc") as nc:
        assert nc.getncattr("Project") == "ISTP"
        assert nc.getncattr("TEXT").startswith(JSON_PREFIX)
        var = nc.variables["BGSEc"]
        assert var.getncattr("UNITS") == "nT"
        assert var.getncattr("DEPEND_0") == "Epoch"
        assert var.getncattr("_xspace_attr:units") == "should survive (reserved netCDF name)"
        np.testing.assert_array_equal(var.getncattr("VALIDMIN"), [-500, -500, -500])
        raw = var[:]
        assert raw.dtype == np.float32
        assert float(raw[2, 1]) == 8.0
    plain = xr.open_dataset(tmp_path / "x.nc")
    np.testing.assert_array_equal(plain["Epoch"].values, ds["Epoch"].values)


def test_dask_input_and_dataarray(tmp_path):
    ds = _istp_dataset().chunk({"Epoch": 1})
    to_netcdf(ds, tmp_path / "d.nc")
    back = open_netcdf(tmp_path / "d.nc")
    np.testing.assert_array_equal(back["BGSEc"].values, ds["BGSEc"].values)
    da = _istp_dataset()["Q"]
    to_netcdf(da, tmp_path / "q.nc")
    back = open_netcdf(tmp_path / "q.nc")
    np.testing.assert_array_equal(back["Q"].values, da.values)
    assert back["Q"].attrs["VAR_TYPE"] == "data"


def test_write_errors(tmp_path):
    ds = _istp_dataset()
    to_netcdf(ds, tmp_path / "x.nc")
    with pytest.raises(InputError, match="exists"):
        to_netcdf(ds, tmp_path / "x.nc", overwrite=False)
    with pytest.raises(InputError, match="'a/b'"):
        to_netcdf(xr.Dataset({"a/b": ("t", [1.0])}), tmp_path / "y.nc")
    with pytest.raises(InputError, match="does not exist"):
        to_netcdf(ds, tmp_path / "nowhere" / "y.nc")
    with pytest.raises(InputError, match="'ds'"):
        to_netcdf({"a": 1}, tmp_path / "z.nc")
    # no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


# ----------------------------------------------------------------------------- real CDF files: CDF -> netCDF -> CDF


def _assert_strictly_same(a: xr.Dataset, b: xr.Dataset, encodings: tuple = ()):
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        va, vb = a[name].variable, b[name].variable
        assert va.dtype == vb.dtype, name
        for key in va.attrs:
            assert same_value(va.attrs[key], vb.attrs[key]), (name, key, va.attrs[key], vb.attrs[key])
        for key in encodings:
            assert same_value(va.encoding.get(key), vb.encoding.get(key)), (name, key)
    for key in a.attrs:
        assert same_value(a.attrs[key], b.attrs[key]), key


CDF_FILES = sorted(CDF_DIR.glob("*.cdf"))  # parametrisation needs the paths at import
CDF_ENCODINGS = ("cdf_type", "cdf_num_elements", "FILLVAL", "cdf_dtype", "record_varying", "cdf_compression",
                 "cdf_attribute_types", "cdf_dims", "cdf_dim_variances", "cdf_zvariable")


@pytest.mark.skipif(not HAVE_READER, reason="the CDF reader (xspace.io.backend) is not there yet")
@pytest.mark.parametrize("path", CDF_FILES, ids=[p.name for p in CDF_FILES])
def test_real_cdf_to_netcdf_and_back_to_cdf(path, tmp_path):
    original = xspace.open_cdf(path)
    nc = original.space.to_netcdf(tmp_path / "x.nc")
    back = xspace.open_netcdf(nc)
    _assert_strictly_same(original.load(), back.load(), CDF_ENCODINGS)
    assert back.encoding["cdf_majority"] == original.encoding["cdf_majority"]
    # the CDF encodings survived: netCDF -> CDF gives the original file's content and types again
    cdf = back.space.to_cdf(tmp_path / "x.cdf")
    again = xspace.open_cdf(cdf)
    _assert_strictly_same(original.load(), again.load(), CDF_ENCODINGS)
