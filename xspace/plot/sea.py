"""Plot of a superposed epoch analysis result: median, quartile band, confidence band, mean.

``xspace.plot.sea(result)`` is :func:`sea` (this module is also callable, because the package
attribute ``xspace.plot.sea`` becomes this module once it has been imported).
"""

from __future__ import annotations

import sys
import types

import numpy as np
import xarray as xr

from ..errors import InputError

__all__ = ["sea", "lag_axis"]

_UNITS = (("D", 86400e9, "days"), ("h", 3600e9, "h"), ("min", 60e9, "min"), ("s", 1e9, "s"))


def lag_axis(lag: xr.DataArray | np.ndarray, unit: str | None = None) -> tuple[np.ndarray, str]:
    """Lags as floats in a readable unit (``"D"``, ``"h"``, ``"min"``, ``"s"``; default: the largest
    unit in which the lag span is at least 2).

    Examples
    --------
    >>> lag_axis(np.array([-2, 0, 2], "timedelta64[h]"))
    (array([-2.,  0.,  2.]), 'h')
    """
    ns = np.asarray(lag).astype("timedelta64[ns]").astype(np.int64).astype(float)
    span = ns.max() - ns.min() if ns.size else 0.0
    choices = {u: (f, label) for u, f, label in _UNITS}
    if unit is None:
        unit = next((u for u, f, _ in _UNITS if span >= 2 * f), "s")
    if unit not in choices:
        raise InputError(f"argument 'lag_unit': expected one of {list(choices)}, got {unit!r}")
    factor, label = choices[unit]
    return ns / factor, label


def _ylabel(da: xr.DataArray) -> str:
    a = da.attrs
    text = a.get("LABLAXIS") or a.get("FIELDNAM") or (str(da.name) if da.name is not None else "value")
    units = a.get("UNITS")
    return f"{text} [{units}]" if units and str(units).strip() else text


def _panel(da: xr.DataArray, ax, lag_unit, show_mean, color):
    if "statistic" not in da.dims or "lag" not in da.dims:
        raise InputError(
            f"sea plot: {da.name!r} is not a superposed epoch result (needs 'statistic' and 'lag' dimensions)"
        )
    extra = [d for d in da.dims if d not in ("statistic", "lag")]
    if any(da.sizes[d] > 1 for d in extra):
        raise InputError(
            f"sea plot: {da.name!r} has extra dimensions {extra}; select one component first (e.g. .isel(...))"
        )
    da = da.squeeze(extra, drop=True) if extra else da
    x, unit = lag_axis(da["lag"].values, lag_unit)
    stats = list(da["statistic"].values)

    def row(name):
        return np.asarray(da.sel(statistic=name).values, dtype=float)

    if "q25" in stats and "q75" in stats:
        ax.fill_between(x, row("q25"), row("q75"), color=color, alpha=0.25, lw=0, label="interquartile range")
    if "ci_low" in stats and "ci_high" in stats:
        level = da.attrs.get("ci_level")
        what = da.attrs.get("ci_statistic", "median")
        lab = f"{level:.0%} CI of the {what}" if isinstance(level, float) else "confidence interval"
        ax.fill_between(x, row("ci_low"), row("ci_high"), color=color, alpha=0.45, lw=0, label=lab)
    ax.plot(x, row("median"), color=color, lw=1.8, label="median")
    if show_mean and "mean" in stats:
        ax.plot(x, row("mean"), color="k", lw=1.0, ls="--", label="mean")
    ax.axvline(0.0, color="0.3", lw=0.8, ls=":")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylabel(_ylabel(da))
    ax.set_xlabel(f"Time since epoch [{unit}]")
    return ax


def sea(result, ax=None, *, lag_unit: str | None = None, show_mean: bool = True, color: str = "C0", title=None):
    """Plot a superposed epoch result: median line, interquartile band, CI band, dashed mean, epoch zero.

    Parameters
    ----------
    result : DataArray or Dataset
        Output of :func:`xspace.analysis.sea.superposed_epoch` (one component: select others away).
        A Dataset gets one panel per variable, sharing the lag axis.
    ax : matplotlib Axes (or a sequence of them for a Dataset), optional
        Where to draw; default a new figure.
    lag_unit : {"D", "h", "min", "s"}, optional
        Unit of the lag axis (default chosen from the span).
    show_mean : bool
        Draw the mean as a dashed line.
    color : str
        Colour of the median and bands.
    title : str, optional
        Title (default: number of epochs).

    Returns
    -------
    matplotlib Axes (a list of Axes for a Dataset)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xspace.analysis.sea import superposed_epoch
    >>> t = np.arange("2020-01-01", "2020-01-05", dtype="datetime64[h]").astype("datetime64[ns]")
    >>> da = xr.DataArray(np.sin(np.arange(t.size) / 5.0), coords={"time": t}, dims="time",
    ...                   name="x", attrs={"UNITS": "nT"})
    >>> ax = sea(superposed_epoch(da, t[20:80:7], "12h"))
    >>> ax.get_ylabel(), ax.get_xlabel()
    ('x [nT]', 'Time since epoch [h]')
    """
    import matplotlib.pyplot as plt

    n_ep = result.attrs.get("n_epochs")
    if title is None and n_ep is not None:
        title = f"Superposed epoch analysis, {n_ep} epochs"
    if isinstance(result, xr.Dataset):
        names = [v for v in result.data_vars if "statistic" in result[v].dims]
        if not names:
            raise InputError("sea plot: the Dataset holds no superposed epoch result")
        if ax is None:
            fig, axes = plt.subplots(len(names), 1, sharex=True, figsize=(7, 2.2 * len(names) + 0.6), squeeze=False,
                                     layout="constrained")
            axes = list(axes[:, 0])
        else:
            axes = list(np.atleast_1d(ax))
            if len(axes) != len(names):
                raise InputError(f"sea plot: {len(names)} variables but {len(axes)} axes given")
        for name, a in zip(names, axes):
            _panel(result[name], a, lag_unit, show_mean, color)
        for a in axes[:-1]:
            a.set_xlabel("")
        axes[0].legend(fontsize="small", loc="best")
        if title:
            axes[0].set_title(title)
        return axes
    if not isinstance(result, xr.DataArray):
        raise InputError(f"sea plot: a DataArray or Dataset is expected, got {type(result).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    _panel(result, ax, lag_unit, show_mean, color)
    ax.legend(fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    return ax


class _CallableModule(types.ModuleType):
    """Lets ``xspace.plot.sea(result)`` work even after ``import xspace.plot.sea`` replaced the
    package attribute by this module."""

    def __call__(self, *args, **kwargs):
        return sea(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
