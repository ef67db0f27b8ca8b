"""SEA and association plots: the drawn lines and bands carry the result's values, labels carry the
ISTP attributes, and the figures render."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

import xspace  # noqa: E402,F401
import xspace.plot  # noqa: E402
from xspace.analysis.assoc import association  # noqa: E402
from xspace.analysis.sea import superposed_epoch  # noqa: E402
from xspace.errors import InputError  # noqa: E402

H = np.timedelta64(3600, "s").astype("timedelta64[ns]")
T0 = np.datetime64("2001-01-01", "ns")


@pytest.fixture
def result():
    rng = np.random.default_rng(0)
    t = T0 + np.arange(2000) * H
    v = xr.DataArray(400 + rng.normal(0, 30, t.size), coords={"time": t}, dims="time", name="velo",
                     attrs={"UNITS": "km/s", "LABLAXIS": "V_sw"})
    return superposed_epoch(v, t[100:1900:61], "3D", ci=0.95, seed=1)


def _band(poly):
    """Lower and upper edge of a fill_between polygon at its x values."""
    verts = poly.get_paths()[0].vertices
    return verts


def test_sea_plot_draws_result_values(result, tmp_path):
    ax = xspace.plot.sea(result)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    x = result.lag.values / H / 24  # days
    np.testing.assert_allclose(lines["median"].get_xdata(), x)
    np.testing.assert_allclose(lines["median"].get_ydata(), result.sel(statistic="median").values)
    np.testing.assert_allclose(lines["mean"].get_ydata(), result.sel(statistic="mean").values)
    assert lines["mean"].get_linestyle() == "--"
    zero = [ln for ln in ax.get_lines() if np.all(np.asarray(ln.get_xdata()) == 0)]
    assert zero, "no line at epoch zero"
    bands = {c.get_label(): c for c in ax.collections}
    iqr = bands["interquartile range"].get_paths()[0].vertices
    lo, hi = result.sel(statistic="q25").values, result.sel(statistic="q75").values
    assert iqr[:, 1].min() == pytest.approx(lo.min()) and iqr[:, 1].max() == pytest.approx(hi.max())
    ci = bands["95% CI of the median"].get_paths()[0].vertices
    assert ci[:, 1].min() == pytest.approx(result.sel(statistic="ci_low").values.min())
    assert ax.get_ylabel() == "V_sw [km/s]" and ax.get_xlabel() == "Time since epoch [days]"
    assert f"{len(range(100, 1900, 61))} epochs" in ax.get_title()
    ax.figure.savefig(tmp_path / "sea.png")
    assert (tmp_path / "sea.png").stat().st_size > 10_000
    plt.close("all")


def test_sea_plot_dataset_panels_and_accessor(result):
    ds = xr.Dataset({"velo": result, "twice": result * 2})
    ds["twice"].attrs = {"UNITS": "km/s"}
    ds.attrs["n_epochs"] = 29
    axes = ds.space.plot_sea(lag_unit="h")
    assert len(axes) == 2 and axes[1].get_xlabel() == "Time since epoch [h]"
    med = [ln for ln in axes[1].get_lines() if ln.get_label() == "median"][0]
    np.testing.assert_allclose(med.get_ydata(), 2 * result.sel(statistic="median").values)
    np.testing.assert_allclose(med.get_xdata(), result.lag.values / H)
    ax = result.space.plot_sea(show_mean=False)
    assert "mean" not in [ln.get_label() for ln in ax.get_lines()]
    with pytest.raises(InputError, match="extra dimensions"):
        xspace.plot.sea(result.expand_dims(component=["x", "y"]))
    plt.close("all")


def test_association_plot_normalized_with_ci_and_asymptote():
    rng = np.random.default_rng(3)
    t1 = T0 + np.sort(rng.integers(0, 3000, 200)) * H
    t2 = np.sort(np.concatenate([t1 + 4 * H, T0 + rng.integers(0, 3000, 150) * H]))
    res = association(t1, t2, np.arange(-48, 49) * H, "2h", n_boot=200, seed=0)
    asym = res.attrs["asymptotic_association"]
    ax = xspace.plot.association(res)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["association number"].get_ydata(), res.n_assoc.values / asym)
    np.testing.assert_allclose(lines["asymptotic association"].get_ydata(), [1.0, 1.0])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(res.ci_high.values.max() / asym)
    ax2 = res.space.plot_association(normalize=False, lag_unit="h")
    lines = {ln.get_label(): ln for ln in ax2.get_lines()}
    np.testing.assert_allclose(lines["association number"].get_ydata(), res.n_assoc.values)
    np.testing.assert_allclose(lines["association number"].get_xdata(), np.arange(-48, 49))
    assert lines["asymptotic association"].get_ydata()[0] == pytest.approx(asym)
    with pytest.raises(InputError, match="association"):
        xspace.plot.association(xr.Dataset())
    plt.close("all")


def test_plot_package_is_lazy():
    code = "import sys, xspace, xspace.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
