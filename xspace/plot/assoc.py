"""Plot of an association analysis result: association number vs lag, CI band, asymptote."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import InputError
from .sea import lag_axis

__all__ = ["association"]


def association(result: xr.Dataset, normalize: bool = True, ax=None, *, lag_unit: str | None = None,
                show_expected: bool = True, color: str = "C0", title=None):
    """Plot an association analysis: association number per lag, bootstrap CI band, asymptote line.

    Parameters
    ----------
    result : Dataset
        Output of :func:`xspace.analysis.assoc.association`.
    normalize : bool, default True
        Divide by the asymptotic association number (PoPPy's default plot), so the asymptote is 1.
    ax : matplotlib Axes, optional
    lag_unit : {"D", "h", "min", "s"}, optional
        Unit of the lag axis (default chosen from the span).
    show_expected : bool
        Also draw the association expected for independent series (dotted).
    color : str
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from xspace.analysis.assoc import association as assoc
    >>> t1 = np.arange("2000-01-01", "2000-03-01", 3, dtype="datetime64[D]").astype("datetime64[ns]")
    >>> t2 = np.concatenate([t1 + np.timedelta64(5, "h"), t1 + np.timedelta64(30, "h")])
    >>> res = assoc(t1, t2, np.arange(-48, 49) * np.timedelta64(1, "h"), "2h")
    >>> ax = association(res)
    >>> ax.get_xlabel()
    'Lag [days]'
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, xr.Dataset) or "n_assoc" not in result or "lag" not in result.dims:
        raise InputError("association plot: a Dataset from xspace.analysis.assoc.association is expected")
    asym = float(result.attrs.get("asymptotic_association", np.nan))
    scale = 1.0
    if normalize:
        if not np.isfinite(asym) or asym == 0:
            raise InputError(
                f"association plot: cannot normalise by the asymptotic association ({asym}); use normalize=False"
            )
        scale = asym
    x, unit = lag_axis(result["lag"].values, lag_unit)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    if "ci_low" in result and "ci_high" in result:
        level = result.attrs.get("ci_level")
        lab = f"{level:.0%} bootstrap CI" if isinstance(level, float) else "bootstrap CI"
        ax.fill_between(x, result["ci_low"].values / scale, result["ci_high"].values / scale,
                        color=color, alpha=0.35, lw=0, label=lab)
    ax.plot(x, result["n_assoc"].values / scale, color=color, lw=1.5, label="association number")
    if show_expected and "expected" in result:
        ax.plot(x, result["expected"].values / scale, color="0.4", lw=1.0, ls=":", label="expected (independent)")
    ax.axhline(asym / scale, color="C3", lw=1.0, ls="--", label="asymptotic association")
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(f"Lag [{unit}]")
    window = result.attrs.get("window", "")
    ax.set_ylabel(f"n(u, h={window}) / n(u->inf)" if normalize else f"association number n(u, h={window})")
    ax.legend(fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    return ax
