"""The CDF engine on the real files of ../shared/data/cdf, checked against cdflib (an independent reader)."""

from __future__ import annotations

import pickle
import threading

import cdflib
import numpy as np
import pytest
import xarray as xr

import xspace
from xspace.errors import CDFFormatError, InputError
from xspace.io import _cdf

from conftest import CDF_DIR

CDF_FILES = sorted(p.name for p in CDF_DIR.glob("*.cdf"))
TIME_TYPES = (31, 32, 33)


def _expected(cdf: cdflib.CDF, name: str) -> np.ndarray | None:
    """Decode a variable with cdflib alone: FILLVAL -> NaN/NaT, CDF times -> datetime64[ns]."""
    info = cdf.varinq(name)
    try:
        raw = cdf.varget(name)
    except ValueError:
        raw = None
    if raw is None:
        return None
    raw = np.asarray(raw)
    attrs = cdf.varattsget(name)
    fill = attrs.get("FILLVAL")
    dtype_code = info.Data_Type
    if isinstance(fill, str):
        fill = None
    if dtype_code in TIME_TYPES:
        flat = raw.reshape(-1)
        out = np.asarray(cdflib.cdfepoch.to_datetime(flat), dtype="datetime64[ns]").reshape(raw.shape[: raw.ndim])
        if fill is not None and dtype_code != 32:
            out = np.where(raw == np.asarray(fill).astype(raw.dtype), np.datetime64("NaT"), out)
        return out
    if raw.dtype.kind in "SU":
        return np.char.rstrip(raw.astype(str), "\x00")
    if isinstance(fill, str):
        fill = None  # a FILLVAL stored as text (seen in masters) masks nothing
    if fill is not None and np.ndim(fill) == 0 and raw.dtype.kind in "iuf":
        out = raw.astype(np.float64 if raw.dtype.kind in "iu" else raw.dtype)
        if raw.dtype.kind == "f":
            prec = np.float32 if min(raw.dtype.itemsize, np.asarray(fill).dtype.itemsize) == 4 else np.float64
            mask = raw.astype(prec) == prec(fill)
        else:
            mask = raw == fill
        out[mask] = np.nan
        return out
    return raw


@pytest.mark.parametrize("name", CDF_FILES)
def test_every_variable_matches_cdflib(name):
    path = CDF_DIR / name
    ds = xspace.open_cdf(path, include_ignore_data=True)
    ref = cdflib.CDF(str(path))
    info = ref.cdf_info()
    names = list(info.zVariables) + list(info.rVariables)
    assert sorted(ds.variables) == sorted(names)
    for var in names:
        expected = _expected(ref, var)
        ours = ds[var].values
        if expected is None:  # cdflib returns nothing for zero records
            assert ours.size == 0, var
            continue
        inq = ref.varinq(var)
        if inq.Rec_Vary and expected.ndim == ours.ndim and expected.shape[0] < ours.shape[0]:
            # fewer records than the variable's time base: the missing (virtual) records read as fill
            assert np.all(np.isnan(ours[expected.shape[0]:].astype(float))), var
            ours = ours[: expected.shape[0]]
        if ours.shape != expected.shape:
            # cdflib squeezes single records / keeps non-varying dims; compare the same values
            assert ours.size == expected.size, (var, ours.shape, expected.shape)
            expected = expected.reshape(ours.shape)
        if ours.dtype.kind in "fcM":
            np.testing.assert_array_equal(ours, expected.astype(ours.dtype), err_msg=var)
        else:
            assert np.array_equal(ours, expected), var


def test_ace_mfi_labels_units_and_values():
    ds = xspace.open_cdf(CDF_DIR / "ac_k2_mfi_20220101_v03.cdf")
    b = ds["BGSEc"]
    assert b.dims == ("Epoch", "cartesian")
    assert b.shape == (24, 3)
    assert list(ds["label_BGSE"].values) == ["Bx GSE", "By GSE", "Bz GSE"]
    assert ds["label_BGSE"].dims == ("cartesian",)
    assert b.attrs["UNITS"] == "nT" and b.attrs["VAR_TYPE"] == "data"
    assert b.attrs["LABL_PTR_1"] == "label_BGSE"
    assert b.encoding["FILLVAL"] == np.float32(-1e31) and "FILLVAL" not in b.attrs
    assert b.encoding["cdf_type"] == _cdf.CDF_REAL4 and b.dtype == np.float32
    # first record, read independently by cdflib above; CDF_EPOCH decoded on the hour
    np.testing.assert_allclose(b.values[0], [-6.069, 4.097, -2.176], rtol=1e-6)
    assert ds["Epoch"].values[0] == np.datetime64("2022-01-01T00:00:00")
    assert ds["Epoch"].values[-1] == np.datetime64("2022-01-01T23:00:00")
    assert ds["Epoch"].encoding["cdf_type"] == _cdf.CDF_EPOCH
    # rVariables of a CDF 3 file; multi-entry global attributes become lists
    assert b.encoding["cdf_zvariable"] is False
    assert isinstance(ds.attrs["Acknowledgement"], list) and ds.attrs["Project"].startswith("ISTP")


def test_hope_two_time_bases_and_time_varying_energy():
    ds = xspace.open_cdf(CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf")
    assert ds.sizes["Epoch_Ion"] == 100 and ds.sizes["Epoch_Ele"] == 100
    assert ds["FPDU"].dims == ("Epoch_Ion", "PITCH_ANGLE", "HOPE_ENERGY_Ion_dim1")
    assert ds["FEDU"].dims == ("Epoch_Ele", "PITCH_ANGLE", "HOPE_ENERGY_Ele_dim1")
    # record-varying DEPEND_2 -> a 2-D (time x energy) coordinate of the data variable
    assert ds["HOPE_ENERGY_Ion"].dims == ("Epoch_Ion", "HOPE_ENERGY_Ion_dim1")
    assert "HOPE_ENERGY_Ion" in ds["FPDU"].coords
    # labels follow the dimension of the DEPEND they label
    assert ds["Pitch_LABL"].dims == ("PITCH_ANGLE",)
    np.testing.assert_allclose(ds["PITCH_ANGLE"].values[[0, -1]], [4.5, 175.5])
    # DELTA_PLUS_VAR links stay in the attributes, the delta variables are coordinates on the same dims
    assert ds["Epoch_Ion"].attrs["DELTA_PLUS_VAR"] == "Epoch_Ion_DELTA"
    assert ds["Epoch_Ion_DELTA"].dims == ("Epoch_Ion",)
    assert ds["ENERGY_Ion_DELTA"].dims == ds["HOPE_ENERGY_Ion"].dims
    # fill -> NaN: the count equals cdflib's raw count of FILLVAL
    raw = cdflib.CDF(str(CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf")).varget("FPDU")
    n_fill = int((raw == np.float32(-1e31)).sum())
    assert n_fill > 0
    assert int(np.isnan(ds["FPDU"].values).sum()) == n_fill
    # the two time bases are distinct and both TT2000-decoded within the day
    for t in ("Epoch_Ion", "Epoch_Ele"):
        v = ds[t].values
        assert np.all(np.diff(v) > np.timedelta64(0)) and str(v[0])[:10] == "2012-12-01"


def test_geotail_rvariables_dimension_variance():
    path = CDF_DIR / "ge_k0_cpi_19921231_v02.cdf"
    ds = xspace.open_cdf(path)
    assert ds.sizes["Epoch"] == 1090
    # rDims are [3, 2]: SW_V varies in the first only, Epoch in neither
    assert ds["SW_V"].dims == ("Epoch", "cartesian3") and ds["SW_V"].shape == (1090, 3)
    assert ds["Epoch"].dims == ("Epoch",)
    assert ds["SW_V"].encoding["cdf_dims"] == (3, 2)
    assert ds["SW_V"].encoding["cdf_dim_variances"] == (True, False)
    assert ds.encoding["cdf_version"] == "2.4.6" and ds.encoding["cdf_majority"] == "column"


def test_de2_per_variable_gzip():
    ds = xspace.open_cdf(CDF_DIR / "de2_ion2s_rpa_19830213_v01.cdf")
    assert ds.sizes["Epoch"] == 2716
    compressed = {n: v.encoding["cdf_compression"] for n, v in ds.variables.items() if v.encoding["cdf_compression"]}
    assert compressed and set(compressed.values()) == {"gzip"}
    assert {ds[n].encoding["cdf_compression_level"] for n in compressed} == {9}


def test_whole_file_compression_and_epoch16():
    plain = xspace.open_cdf(CDF_DIR / "a_cdf.cdf")
    for other in ("a_compressed_cdf.cdf", "a_rle_compressed_cdf.cdf"):
        ds = xspace.open_cdf(CDF_DIR / other)
        assert ds.encoding["cdf_compression"] in ("gzip", "rle")
        xr.testing.assert_identical(ds, plain)
    # EPOCH, EPOCH16 and TT2000 variables hold the same instants in this file
    for t in ("epoch16", "tt2000"):
        np.testing.assert_array_equal(plain[t].values, plain["epoch"].values)
    assert plain["epoch16"].encoding["cdf_type"] == _cdf.CDF_EPOCH16
    assert plain["epoch"].values[0] == np.datetime64("1970-01-01")


@pytest.mark.parametrize(
    "name, time_dim", [("ge_h0_cpi_00000000_v01.cdf", "Epoch"), ("erg_pwe_hfa_l3_1min_00000000_v01.cdf", "Epoch"),
                       ("ela_l1_state_pred_00000000_v01.cdf", "ela_state_time")]
)
def test_master_files_have_zero_records_with_shapes(name, time_dim):
    ds = xspace.open_cdf(CDF_DIR / name, include_ignore_data=True)
    assert ds.sizes[time_dim] == 0
    ref = cdflib.CDF(str(CDF_DIR / name))
    for var in ds.variables:
        inq = ref.varinq(var)
        if inq.Rec_Vary:
            assert ds[var].shape[0] == 0
            stored = [d for d, vary in zip(inq.Dim_Sizes, inq.Dim_Vary) if vary]
            assert list(ds[var].shape[1:]) == stored, var
    if name.startswith("ela"):
        assert ds.sizes["ela_att_time"] == 0  # two TT2000 time bases
        assert ds["ela_state_time"].dtype == "datetime64[ns]"


def test_ignore_data_dropped_unless_asked():
    path = CDF_DIR / "ge_h0_cpi_00000000_v01.cdf"
    ref = cdflib.CDF(str(path))
    ignored = [v for v in ref.cdf_info().zVariables + ref.cdf_info().rVariables
               if str(ref.varattsget(v).get("VAR_TYPE", "")).strip() == "ignore_data"]
    assert ignored
    assert not set(ignored) & set(xspace.open_cdf(path).variables)
    assert set(ignored) <= set(xspace.open_cdf(path, include_ignore_data=True).variables)


def test_psp_two_time_bases_tt2000():
    ds = xspace.open_cdf(CDF_DIR / "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf")
    assert ds.sizes["epoch_mag_RTN_1min"] == 118 and ds.sizes["epoch_quality_flags"] == 1440
    b = ds["psp_fld_l2_mag_RTN_1min"]
    assert b.dims == ("epoch_mag_RTN_1min", "component_index_RTN")
    assert b.encoding["cdf_compression"] == "gzip"
    assert ds["epoch_mag_RTN_1min"].encoding["cdf_type"] == _cdf.CDF_TIME_TT2000


def test_options_decode_times_and_valid_range():
    path = CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    raw = xspace.open_cdf(path, decode_times=False, mask_fill=False, create_default_indexes=False)
    assert raw["Epoch_Ion"].dtype == np.float64 and raw["Epoch_Ion"].encoding["cdf_type"] == _cdf.CDF_EPOCH
    assert raw["FPDU"].attrs["FILLVAL"] == np.float32(-1e31)
    assert (raw["FPDU"].values == np.float32(-1e31)).any()
    np.testing.assert_array_equal(
        xspace.time.epoch_to_datetime64(raw["Epoch_Ion"].values), xspace.open_cdf(path)["Epoch_Ion"].values
    )
    masked = xspace.open_cdf(path, mask_valid_range=True)["FPDU"].values
    plain = xspace.open_cdf(path)["FPDU"].values
    # VALIDMIN is 0: negative fluxes are masked only on request
    assert np.nanmin(masked) >= 0
    assert np.isnan(masked).sum() == np.isnan(plain).sum() + int((plain < 0).sum() + (plain > 1e30).sum())


def test_open_reads_only_metadata_and_subsets_read_only_their_records(monkeypatch):
    calls = []
    orig = _cdf._Source.readinto

    def counting(self, buffer, offset, what):
        calls.append(buffer.nbytes)
        return orig(self, buffer, offset, what)

    monkeypatch.setattr(_cdf._Source, "readinto", counting)
    # uncompressed, column-major rVariable spread over 26 blocks
    path = CDF_DIR / "ge_k0_cpi_19921231_v02.cdf"
    ds = xspace.open_cdf(path, create_default_indexes=False)
    assert calls == []
    sub = ds["SW_V"].isel(Epoch=slice(84, 88)).values  # records 84-85 and 86-87 sit in two blocks
    assert sub.shape == (4, 3)
    assert calls == [2 * 3 * 4, 2 * 3 * 4]  # exactly the bytes of four records of 3 x float32
    np.testing.assert_array_equal(sub, _expected(cdflib.CDF(str(path)), "SW_V")[84:88])


def test_compressed_subset_inflates_only_intersecting_blocks(monkeypatch):
    sizes = []
    orig = _cdf.decompress

    def counting(kind, data, expected, what, path):
        sizes.append(expected)
        return orig(kind, data, expected, what, path)

    monkeypatch.setattr(_cdf, "decompress", counting)
    path = CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    from xspace.io._cdfarray import _FILES

    _FILES.clear()  # forget inflated blocks of earlier tests
    ds = xspace.open_cdf(path, create_default_indexes=False)
    sub = ds["FPDU"].isel(Epoch_Ion=slice(30, 35)).values  # inside the block of records 21-41
    assert sizes == [21 * 11 * 72 * 4]
    np.testing.assert_array_equal(sub, xspace.open_cdf(path)["FPDU"].values[30:35])


def test_pickle_dask_and_threads():
    path = CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    ds = xspace.open_cdf(path, chunks={"Epoch_Ion": 7, "Epoch_Ele": 9})
    assert ds["FPDU"].chunks[0][0] == 7
    again = pickle.loads(pickle.dumps(ds))
    expected = xspace.open_cdf(path)["FPDU"].values
    np.testing.assert_array_equal(again["FPDU"].values, expected)
    results = []
    lazy = xspace.open_cdf(path)["FPDU"]

    def work(i):
        results.append((i, lazy.isel(Epoch_Ion=slice(i, i + 30)).values))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(0, 70, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, arr in results:
        np.testing.assert_array_equal(arr, expected[i : i + 30])


def test_open_mfdataset_daily_files(tmp_path):
    """Two consecutive files written by cdflib (an independent writer) combine along time."""
    from cdflib.cdfwrite import CDF as Writer

    paths = []
    for day in (1, 2):
        p = tmp_path / f"test_{day}.cdf"
        w = Writer(str(p), cdf_spec={"rDim_sizes": []})
        t = np.array([np.datetime64(f"2020-01-0{day}T00:00") + np.timedelta64(h, "h") for h in range(24)])
        tt = cdflib.cdfepoch.compute_tt2000([[2020, 1, day, h, 0, 0, 0, 0, 0] for h in range(24)])
        w.write_var({"Variable": "Epoch", "Data_Type": 33, "Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": []},
                    var_attrs={"VAR_TYPE": "support_data"}, var_data=np.asarray(tt))
        w.write_var({"Variable": "B", "Data_Type": 21, "Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": []},
                    var_attrs={"VAR_TYPE": "data", "DEPEND_0": "Epoch", "FILLVAL": np.float32(-1e31)},
                    var_data=np.arange(24, dtype=np.float32) + 100 * day)
        w.close()
        paths.append(p)
        assert t[0] == np.datetime64(f"2020-01-0{day}")
    ds = xspace.open_cdf(paths)
    assert ds.sizes["Epoch"] == 48 and ds["B"].chunks is not None
    np.testing.assert_array_equal(ds["B"].values, np.r_[np.arange(24) + 100, np.arange(24) + 200])
    assert ds["Epoch"].values[24] == np.datetime64("2020-01-02T00:00")
    same = xr.open_mfdataset(paths, engine="cdf", combine="by_coords")
    np.testing.assert_array_equal(same["B"].values, ds["B"].values)


def test_bad_input_errors(tmp_path):
    text = tmp_path / "not.cdf"
    text.write_text("hello, I am not a CDF file at all")
    with pytest.raises(CDFFormatError, match="not.cdf.*not a CDF file"):
        xspace.open_cdf(text)
    with pytest.raises(CDFFormatError, match="cannot open"):
        xspace.open_cdf(tmp_path / "missing.cdf")
    with pytest.raises(InputError, match="empty list"):
        xspace.open_cdf([])
    data = (CDF_DIR / "ac_k2_mfi_20220101_v03.cdf").read_bytes()
    short = tmp_path / "short.cdf"
    short.write_bytes(data[:5000])
    with pytest.raises(CDFFormatError, match="short.cdf"):
        xspace.open_cdf(short).load()


def test_dask_distributed_workers_read_the_file():
    """Chunks are read in other processes: the lazy arrays pickle and re-open the file there."""
    distributed = pytest.importorskip("distributed")
    path = CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"
    ds = xspace.open_cdf(path, chunks={"Epoch_Ion": 20, "Epoch_Ele": 20})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            total = client.compute(ds["FPDU"].sum(skipna=True)).result()
            pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert __import__("os").getpid() not in pids
    expected = np.nansum(xspace.open_cdf(path)["FPDU"].values.astype(np.float64))
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)


def test_non_record_varying_2d_depend(tmp_path):
    """PSP EPI-Lo style: DEPEND_2 is a non-record-varying 2-D table (look direction x energy)."""
    from cdflib.cdfwrite import CDF as Writer

    path = tmp_path / "epilo_like.cdf"
    w = Writer(str(path), cdf_spec={"rDim_sizes": []})
    tt = cdflib.cdfepoch.compute_tt2000([[2020, 1, 1, 0, m, 0, 0, 0, 0] for m in range(5)])
    w.write_var({"Variable": "Epoch", "Data_Type": 33, "Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": []},
                var_attrs={"VAR_TYPE": "support_data"}, var_data=np.asarray(tt))
    w.write_var({"Variable": "Look", "Data_Type": 4, "Num_Elements": 1, "Rec_Vary": False, "Dim_Sizes": [8]},
                var_attrs={"VAR_TYPE": "support_data"}, var_data=np.arange(8, dtype=np.int32))
    table = (np.arange(8)[:, None] * 100 + np.arange(80)[None, :]).astype(np.float32)
    w.write_var({"Variable": "Energy", "Data_Type": 21, "Num_Elements": 1, "Rec_Vary": False, "Dim_Sizes": [8, 80]},
                var_attrs={"VAR_TYPE": "support_data", "DEPEND_1": "Look"}, var_data=table)
    flux = np.random.default_rng(1).random((5, 8, 80)).astype(np.float32)
    w.write_var({"Variable": "Flux", "Data_Type": 21, "Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": [8, 80]},
                var_attrs={"VAR_TYPE": "data", "DEPEND_0": "Epoch", "DEPEND_1": "Look", "DEPEND_2": "Energy"},
                var_data=flux)
    w.close()
    ds = xspace.open_cdf(path)
    assert ds["Flux"].dims == ("Epoch", "Look", "Energy_dim2")
    assert ds["Energy"].dims == ("Look", "Energy_dim2")  # aligned with the data variable, no index
    assert "Energy" in ds["Flux"].coords
    np.testing.assert_array_equal(ds["Energy"].values, table)
    np.testing.assert_array_equal(ds["Flux"].values, flux)
