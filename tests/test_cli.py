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
