"""Tests of xspace.io.jsonascii on the real Qin-Denton JSON-headed ASCII files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import xspace
from xspace.errors import FileFormatError, InputError
from xspace.io.jsonascii import read_json_ascii, to_json_ascii


@pytest.fixture(scope="module")
def qd_files(shared_data):
    folder = shared_data / "omni"
    return folder / "QinDenton_20120901_hour.txt", folder / "QinDenton_20120902_hour.txt"


def _raw_rows(path):
    """The data rows split on whitespace: an independent reading of the file."""
    return [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_read_real_values(qd_files):
    ds = read_json_ascii(qd_files[0])
    assert ds.sizes["DateTime"] == 24
    assert ds["DateTime"].dtype == np.dtype("datetime64[ns]")
    assert ds["DateTime"].values[0] == np.datetime64("2012-09-01T00:00:00")
    assert ds["DateTime"].values[-1] == np.datetime64("2012-09-01T23:00:00")
    t = lambda hh: np.datetime64(f"2012-09-01T{hh}:00:00")  # noqa: E731
    # values read off the file (see the data rows of QinDenton_20120901_hour.txt)
    assert float(ds["ByIMF"].sel(DateTime=t("09"))) == 6.20
    assert float(ds["BzIMF"].sel(DateTime=t("10"))) == -4.80
    assert float(ds["Vsw"].sel(DateTime=t("12"))) == 327.0
    assert float(ds["Kp"].sel(DateTime=t("12"))) == 1.30
    assert int(ds["Dst"].sel(DateTime=t("10"))) == 0
    assert int(ds["Dst"].sel(DateTime=t("12"))) == -13
    np.testing.assert_array_equal(ds["G"].sel(DateTime=t("02")).values, [1.84, 4.53, 5.17])
    np.testing.assert_array_equal(ds["W"].sel(DateTime=t("23")).values, [0.362, 0.549, 0.119, 0.304, 0.471, 0.342])
    assert ds["G"].dims == ("DateTime", "G_dim1")
    assert ds["G_dim1"].values.tolist() == ["G1", "G2", "G3"]
    assert ds["G_status_label"].values.tolist() == ["dimless"] * 3
    assert float(ds["G"].sel(G_dim1="G3", DateTime=t("05"))) == 0.00
    assert ds["W"].shape == (24, 6) and ds["Bz"].shape == (24, 6)


def test_all_columns_match_raw_text(qd_files):
    ds = read_json_ascii(qd_files[1])
    rows = _raw_rows(qd_files[1])
    assert len(rows) == ds.sizes["DateTime"] == 24
    raw = np.array(rows)
    for name in ds.data_vars:
        start = ds[name].encoding["START_COLUMN"]
        width = int(np.prod(ds[name].shape[1:]))
        expected = raw[:, start:start + width].astype(np.float64)
        np.testing.assert_array_equal(ds[name].values.reshape(24, -1).astype(np.float64), expected, err_msg=name)
    assert float(ds["Kp"][-1]) == 4.70 and int(ds["Dst"][-1]) == -45 and float(ds["akp3"][12]) == 2.35


def test_attrs_istp_and_metadata(qd_files):
    ds = read_json_ascii(qd_files[0])
    kp = ds["Kp"].attrs
    assert kp["DESCRIPTION"] == "Kp index." and kp["CATDESC"] == "Kp index."
    assert kp["NAME"] == "Kp" and kp["FIELDNAM"] == "Kp" and kp["TITLE"] == "Kp Index"
    assert kp["UNITS"] == "dimless" and kp["VAR_TYPE"] == "data" and kp["DEPEND_0"] == "DateTime"
    assert ds["Dst"].attrs["UNITS"] == "nT" and ds["Dst"].attrs["LABEL"] == "Dst, nT"
    assert ds["DateTime"].attrs["VAR_TYPE"] == "support_data" and ds["DateTime"].attrs["NAME"] == "IsoDateTime"
    assert ds["G"].attrs["LABL_PTR_1"] == "G_label"
    assert "START_COLUMN" not in kp and ds["Kp"].encoding["START_COLUMN"] == 23
    assert ds["W"].encoding["DIMENSION"] == [6]
    assert ds.attrs["OriginFile"] == ""
    from xspace._utils import time_dim

    assert time_dim(ds) == "DateTime"


def test_concatenate_files_and_glob(qd_files):
    both = read_json_ascii(list(qd_files))
    assert both.sizes["DateTime"] == 48
    assert both["DateTime"].values[24] == np.datetime64("2012-09-02T00:00:00")
    assert int(both["Dst"][47]) == -45 and float(both["ByIMF"][24]) == 5.90
    np.testing.assert_array_equal(both["G"].values[36], [6.91, 9.54, 7.66])  # 2012-09-02T12:00
    globbed = read_json_ascii(str(qd_files[0].parent / "QinDenton_2012090*_hour.txt"))
    assert globbed.identical(both)
    assert xspace.read_json_ascii is read_json_ascii


def test_round_trip(qd_files, tmp_path):
    for source in (qd_files[0], list(qd_files)):
        ds = read_json_ascii(source)
        out = to_json_ascii(ds, tmp_path / "copy.txt")
        again = read_json_ascii(out)
        xr.testing.assert_identical(again, ds)
        for name in ds.variables:
            assert again[name].attrs == ds[name].attrs, name
        assert again.attrs == ds.attrs
        assert again.encoding["json_entries"] == ds.encoding["json_entries"]
    # the written header is valid JSON behind '#', with the original layout
    header = json.loads("\n".join(l[1:] for l in out.read_text().splitlines() if l.startswith("#")).rsplit("}", 1)[0] + "}")
    assert header["G"]["START_COLUMN"] == 12 and header["G"]["DIMENSION"] == [3]
    assert header["G"]["ELEMENT_NAMES"] == ["G1", "G2", "G3"] and header["Kp"]["START_COLUMN"] == 23
    assert header["OriginFile"] == {"DESCRIPTION": "ViRBO origin file for Qin-Denton data", "NAME": "OriginFile",
                                    "VALUES": [""]}
    assert "CATDESC" not in header["Kp"]  # derived on reading, not duplicated in the file


def test_accessor_and_dataarray(qd_files, tmp_path):
    ds = read_json_ascii(qd_files[0])
    out = ds["Kp"].space.to_json_ascii(tmp_path / "kp.txt")
    back = read_json_ascii(out)
    np.testing.assert_array_equal(back["Kp"].values, ds["Kp"].values)
    np.testing.assert_array_equal(back["DateTime"].values, ds["DateTime"].values)
    assert back["Kp"].attrs["UNITS"] == "dimless"


FILE_WITH_FILL = """\
# Comment lines before the JSON are allowed.
# {
#  "Time": { "DESCRIPTION": "UT", "START_COLUMN": 0, "UNITS": "UTC" },
#  "Flux": { "DESCRIPTION": "Electron flux", "UNITS": "cm^-2 s^-1", "START_COLUMN": 1,
#            "DIMENSION": [ 2, 2 ], "FILL_VALUE": -1e31 },
#  "Count": { "START_COLUMN": 5, "FILL_VALUE": -1 },
#  "Mission": "Test",
#  "Energies": { "VALUES": [ 10, 20 ], "UNITS": "keV" }
# } End JSON
2020-01-01T00:00:00.500Z 1.5 2.5 -1e31 4.5 3
2020-01-01T00:00:01.500Z 5.5 6.5 7.5 8.5 -1
"""


def test_fill_values_multidim_and_round_trip(tmp_path):
    path = tmp_path / "fill.txt"
    path.write_text(FILE_WITH_FILL)
    ds = read_json_ascii(path)
    assert ds["Time"].values.tolist() == np.array(["2020-01-01T00:00:00.5", "2020-01-01T00:00:01.5"],
                                                  dtype="datetime64[ns]").tolist()
    assert ds["Flux"].dims == ("Time", "Flux_dim1", "Flux_dim2")
    np.testing.assert_array_equal(ds["Flux"].values[0], [[1.5, 2.5], [np.nan, 4.5]])
    assert ds["Flux"].encoding["FILL_VALUE"] == -1e31 and "FILL_VALUE" not in ds["Flux"].attrs
    np.testing.assert_array_equal(ds["Count"].values, [3.0, np.nan])
    assert ds.attrs["Mission"] == "Test" and ds.attrs["Energies"] == [10, 20]
    out = to_json_ascii(ds, tmp_path / "copy.txt")
    text = out.read_text()
    assert "-1e+31" in text.split("End JSON")[1] and " -1\n" in text
    xr.testing.assert_identical(read_json_ascii(out), ds)
    raw = read_json_ascii(path, mask_fill=False)
    assert raw["Count"].values.tolist() == [3, -1] and raw["Count"].attrs["FILL_VALUE"] == -1


def test_dataset_from_scratch(tmp_path):
    times = np.array(["2021-03-01T00:00", "2021-03-01T00:01", "2021-03-01T00:02"], dtype="datetime64[ns]")
    ds = xr.Dataset(
        {"B": (("Epoch", "comp"), np.arange(9.0).reshape(3, 3) / 7,
               {"CATDESC": "Magnetic field", "FIELDNAM": "B GSE", "UNITS": "nT", "VALIDMIN": np.float32(-1e4)})},
        coords={"Epoch": times, "comp": ["x", "y", "z"], "energy": ("energy", [1.0, 2.0], {"UNITS": "keV"})},
        attrs={"Project": "ISTP>International Solar-Terrestrial Physics"},
    )
    out = to_json_ascii(ds, tmp_path / "scratch.txt")
    back = read_json_ascii(out)
    np.testing.assert_array_equal(back["B"].values, ds["B"].values)  # repr() floats: exact
    np.testing.assert_array_equal(back["Epoch"].values, times)
    assert back["B"].attrs["DESCRIPTION"] == "Magnetic field" and back["B"].attrs["NAME"] == "B GSE"
    assert back["B"].attrs["VALIDMIN"] == -1e4 and back["B"].attrs["DEPEND_0"] == "Epoch"
    assert back["B_dim1"].values.tolist() == ["x", "y", "z"]
    assert back.attrs["Project"] == ds.attrs["Project"]
    # a variable without the record dimension becomes a header entry with VALUES (SpacePy's way)
    assert back.attrs["energy"] == [1.0, 2.0]
    assert back.encoding["json_entries"]["energy"] == {"UNITS": "keV", "VALUES": [1.0, 2.0]}


def test_no_time_column(tmp_path):
    path = tmp_path / "notime.txt"
    path.write_text('# {"A": {"START_COLUMN": 0}, "B": {"START_COLUMN": 1}}\n1 x\n2 y\n')
    ds = read_json_ascii(path)
    assert ds["A"].dims == ("record",) and ds["A"].values.tolist() == [1, 2] and ds["B"].values.tolist() == ["x", "y"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("1 2 3\n", "no '#' header"),
        ("# just a comment\n1 2\n", "no JSON object"),
        ('# {\n#  "A": {"START_COLUMN": 0,}\n# }\n1\n', r"line 2: malformed JSON"),
        ('# {"A": {"START_COLUMN": -1}}\n1\n', "'A': START_COLUMN"),
        ('# {"A": {"START_COLUMN": 0, "DIMENSION": [0]}}\n1\n', "'A': DIMENSION"),
        ('# {"A": {"START_COLUMN": 0, "DIMENSION": [3]}}\n1 2 3\n1 2\n', r"line 3: 2 columns.*needs 3"),
        ('# {"A": {"START_COLUMN": 0, "DIMENSION": [2], "ELEMENT_NAMES": ["a"]}}\n1 2\n', "ELEMENT_NAMES"),
        ('# {"A": {"VALUES": [1]}}\n1 2\n', "no variable with a START_COLUMN"),
        ('# {"A": {"START_COLUMN": 0, "FILL_VALUE": "x"}}\n1\n', "FILL_VALUE"),
    ],
)
def test_malformed_files(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=match) as info:
        read_json_ascii(path)
    assert str(path) in str(info.value)


def test_bad_arguments(qd_files, tmp_path):
    with pytest.raises(InputError, match="time_variable.*'Nope'"):
        read_json_ascii(qd_files[0], time_variable="Nope")
    with pytest.raises(FileFormatError, match="'Kp' does not hold ISO"):
        read_json_ascii(qd_files[0], time_variable="Kp")
    with pytest.raises(InputError, match="no such file"):
        read_json_ascii(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="no file matches"):
        read_json_ascii(str(tmp_path / "*.nothing"))
    ds = xr.Dataset({"s": ("t", np.array(["a b", "c"]))},
                    coords={"t": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")})
    with pytest.raises(InputError, match="'s'.*whitespace"):
        to_json_ascii(ds, tmp_path / "x.txt")
    with pytest.raises(InputError, match="'obj'"):
        to_json_ascii([1, 2], tmp_path / "x.txt")


def test_header_only_file(qd_files, tmp_path):
    text = qd_files[0].read_text()
    header = text[: text.index("\n", text.index("End JSON")) + 1]
    path = tmp_path / "empty.txt"
    path.write_text(header + "# a trailing comment with } and { braces\n")
    ds = read_json_ascii(path)
    assert ds.sizes["DateTime"] == 0 and ds["DateTime"].dtype == np.dtype("datetime64[ns]")
    assert ds["G"].shape == (0, 3) and ds["G_dim1"].values.tolist() == ["G1", "G2", "G3"]


def test_corrupted_files_fail_cleanly(qd_files, tmp_path):
    """Seeded random corruption of the header and data: a clean XspaceError or a successful read."""
    import random

    from xspace.errors import XspaceError

    text = qd_files[0].read_text()
    header_end = text.index("End JSON")
    rng = random.Random(2012)
    path = tmp_path / "corrupt.txt"
    n_errors = 0
    for i in range(80):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(0, header_end if i % 2 == 0 else len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[pos]
            elif op < 0.8:
                chars[pos] = rng.choice('{}[]":,#0123456789-eE. xT\n')
            else:
                chars.insert(pos, rng.choice('{}[]":,#-\n'))
        path.write_text("".join(chars))
        try:
            ds = read_json_ascii(path)
        except XspaceError as exc:
            n_errors += 1
            assert str(path) in str(exc)
        else:
            assert isinstance(ds, xr.Dataset)
    assert n_errors > 10  # the corruption does hit the header
