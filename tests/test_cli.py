"""The command line: `xspace info` on real files and the whole `xspace demo`."""

from __future__ import annotations

import re

import pytest

from xspace.cli import main

from conftest import CDF_DIR, SHARED_DATA


def test_info_prints_variables_time_ranges_units(capsys):
    assert main(["info", str(CDF_DIR / "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"),
                 str(SHARED_DATA / "omni" / "QinDenton_20120902_hour.txt")]) == 0
    out = capsys.readouterr().out
    assert "time range Epoch_Ion: 2012-12-01T00:00:05.691" in out
    assert "time range Epoch_Ele:" in out
    assert re.search(r"FPDU\s+data\s+data\s+s!E-1!Ncm", out)
    assert re.search(r"HOPE_ENERGY_Ion\s+coordinate\s+support_data\s+eV", out)
    assert "time range DateTime: 2012-09-02T00:00:00" in out


def test_info_reports_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.cdf"
    bad.write_bytes(b"\xcd\xf3\x00\x01\x00\x00\xff\xff" + b"\x00" * 10)
    assert main(["info", str(bad)]) == 1
    assert "bad.cdf" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_demo_runs_every_step(tmp_path, capsys):
    assert main(["demo", "--outdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("read back identical: True") == 3
    assert out.count("values and attributes identical: True") == 3
    assert "60 stream interfaces found" in out
    assert "surrogate L*(90)" in out
    rows = re.findall(r"^ 2012-12-01T\S+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert len(rows) == 5
    for r, mlt, lm, l90, l45, sur in (map(float, row) for row in rows):
        assert 5.5 < r < 5.9 and 4 < mlt < 6 and 5.5 < l90 < 6.5
        assert abs(sur / l90 - 1) < 0.01  # the surrogate agrees with the solver
    for png in ("sea_stream_interfaces.png", "association_kp_dst.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    # the fetch step: the real ACE file over HTTP, then the cache
    assert "cdaweb/AC_K2_MFI/BGSEc: Frozen({'Epoch': 24, 'cartesian': 3}) lazy=True [nT]" in out
    assert "first hour: [-6.069, 4.097, -2.176]" in out
    assert "second call from the cache:" in out and ", 0 requests to the server" in out
    assert "3 dask chunks (one per file); files downloaded so far: 0" in out
    assert "files downloaded: 3" in out


def test_fetch_command_writes_the_data(tmp_path, capsys):
    import numpy as np

    import xspace
    from xspace.testing.cdaweb_site import ramp_value, serve_cdaweb

    with serve_cdaweb(days=2, real_files=False, datasets=["XS_TEST_1MIN"]) as site, \
            xspace.set_options(cdaweb_url=site.url, cache_dir=tmp_path / "cache"):
        assert main(["fetch", "cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:00", "2020-01-02T01:00",
                     "-o", str(tmp_path / "ramp.nc")]) == 0
        assert main(["fetch", "cdaweb/NO_SUCH_DATASET", "2020-01-01", "2020-01-02"]) == 1
    out, err = capsys.readouterr()
    assert "Epoch=120" in out and "wrote" in out
    assert "NO_SUCH_DATASET" in err
    back = xspace.open_netcdf(tmp_path / "ramp.nc")
    np.testing.assert_array_equal(back["ramp"].values, ramp_value(back["Epoch"].values))
    assert back["ramp"].attrs["UNITS"] == site.info["datasets"]["XS_TEST_1MIN"]["variables"]["ramp"]["units"]


def test_cache_command_on_an_empty_cache(tmp_path, capsys):
    import xspace

    with xspace.set_options(cache_dir=tmp_path / "empty"):
        assert main(["cache", "info"]) == 0
        assert main(["cache", "verify", "--keep"]) == 0
        assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert "0 files, 0 B" in out and "0 problems" in out and "removed 0 files" in out
