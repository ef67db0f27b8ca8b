"""Association analysis of two series of event times, after SpacePy's PoPPy (Morley & Freeman 2007).

The association number at a lag ``u`` counts, over the events ``t1`` of series 1, the events of series 2
falling in the closed window ``[t1 + u - window, t1 + u + window]``. Compared with its asymptotic
value (far lags) and with the Poisson expectation for independent series, a peak at some lag shows
that series-2 events tend to follow (positive lag) or precede series-1 events.

Semantics as PoPPy:

- series 1 is shifted by the lag; both ends of the window are included;
- the asymptotic association is the mean of (the mean over the first 20 % of the lags) and (the mean
  over the last 20 %), with ``round(0.2 * n_lags)`` and ``round(0.8 * n_lags)`` as the cut indices;
- ``expected`` is PoPPy's estimate ``2 n1 n2 window / T`` over the overlap ``T`` of the two series at
  that lag;
- the bootstrap resamples the per-event association numbers of series 1 (with replacement, ``n1`` of
  them) and sums them; ``ci_low``/``ci_high`` are numpy "linear" percentiles of the resampled sums and
  ``confidence_above_asymptote`` is 100 minus the percentile rank of the asymptotic association among
  them (PoPPy's ``value_percentile``).

The per-event numbers at a lag take few distinct values (0, 1, 2 ...), so a resampled sum is
``sum_c c * N_c`` with ``(N_c)`` multinomial over the distinct values: the bootstrap draws a few
binomials per resample instead of ``n1`` indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._utils import as_datetime64
from ..errors import InputError

__all__ = ["association", "apply_refractory"]


def _event_ns(times: Any, name: str) -> np.ndarray:
    if isinstance(times, xr.DataArray):
        times = times.values  # event lists are small: loaded
    arr = np.asarray(times)
    if arr.dtype.kind != "M":
        arr = as_datetime64(times, name)
    arr = arr.astype("datetime64[ns]").ravel()
    if np.isnat(arr).any():
        raise InputError(f"argument {name!r}: contains NaT (missing times)")
    if arr.size == 0:
        raise InputError(f"argument {name!r}: no events given")
    return np.sort(arr.view(np.int64))


def _lags_ns(lags: Any) -> np.ndarray:
    from .sea import _duration_ns

    if isinstance(lags, xr.DataArray):
        lags = lags.values
    arr = np.asarray(lags)
    if arr.dtype.kind == "m":
        out = arr.astype("timedelta64[ns]").astype(np.int64).ravel()
    else:
        out = np.array([_duration_ns(v, "lags") for v in np.atleast_1d(arr).ravel()], dtype=np.int64)
    if out.size == 0:
        raise InputError("argument 'lags': at least one lag is expected")
    if out.size > 1 and not np.all(np.diff(out) > 0):
        raise InputError("argument 'lags': the lags must be strictly increasing")
    return out


def association(
    times1: Any,
    times2: Any,
    lags: Any,
    window: Any,
    *,
    n_boot: int | None = None,
    ci: float = 0.95,
    seed: Any = None,
) -> xr.Dataset:
    """Association analysis of two event series (PoPPy semantics).

    Parameters
    ----------
    times1, times2 : array of datetime64, list of datetimes/ISO strings, or DataArray
        Event times of series 1 (shifted by the lags) and series 2 (loaded into memory; any order).
    lags : array-like of timedelta64 (or strings / seconds)
        Strictly increasing lags, e.g. ``np.arange(-72, 73) * np.timedelta64(1, "h")``.
    window : timedelta, str or number of seconds
        Half-width of the association window (closed on both ends).
    n_boot : int, optional
        Number of bootstrap resamples for the confidence interval (PoPPy uses 1000-4000).
    ci : float, default 0.95
        Confidence level of the interval (0 < ci < 1).
    seed : int or numpy.random.Generator, optional
        Makes the bootstrap reproducible.

    Returns
    -------
    Dataset
        On ``lag``: ``n_assoc`` (total association number), ``expected`` (Poisson expectation) and,
        with ``n_boot``, ``ci_low``, ``ci_high`` and ``confidence_above_asymptote`` (percent).
        ``attrs["asymptotic_association"]`` holds the asymptote.

    Examples
    --------
    >>> import numpy as np
    >>> t1 = np.array(["2000-01-01T00", "2000-01-02T00", "2000-01-03T00"], "datetime64[ns]")
    >>> t2 = t1 + np.timedelta64(2, "h")
    >>> res = association(t1, t2, np.arange(-3, 4) * np.timedelta64(1, "h"), "30min")
    >>> res["n_assoc"].values
    array([0, 0, 0, 0, 0, 3, 0])
    >>> res.attrs["asymptotic_association"]
    0.0
    """
    from ._sea_kernels import assoc_counts
    from .sea import _duration_ns, _fmt_td

    t1 = _event_ns(times1, "times1")
    t2 = _event_ns(times2, "times2")
    lag = _lags_ns(lags)
    w = _duration_ns(window, "window")
    if w < 0:
        raise InputError(f"argument 'window': the half-width must not be negative, got {window!r}")
    if n_boot is not None and (not isinstance(n_boot, (int, np.integer)) or n_boot < 2):
        raise InputError(f"argument 'n_boot': an integer >= 2 is expected, got {n_boot!r}")
    if not (isinstance(ci, (float, int)) and 0 < ci < 1):
        raise InputError(f"argument 'ci': a confidence level between 0 and 1 (e.g. 0.95) is expected, got {ci!r}")
    n1, n2, nl = t1.size, t2.size, lag.size
    # largest possible per-event number: most series-2 events within any 2*window span
    max_count = int(np.max(np.searchsorted(t2, t2 + 2 * w, side="right") - np.arange(n2)))
    totals, hist = assoc_counts(t1, t2, lag, w, max_count)

    left, right = int(np.round(nl * 0.2)), int(np.round(nl * 0.8))
    # PoPPy's asymptote; NaN when there are too few lags for the outer 20 % to hold any
    outer_l, outer_r = totals[:left], totals[right:]
    asympt = float((outer_l.mean() + outer_r.mean()) / 2) if outer_l.size and outer_r.size else float("nan")

    # PoPPy's expectation for independent series over the overlap of the two (shifted) series
    start = np.maximum(t1[0] + lag, t2[0]) - w
    stop = np.minimum(t1[-1] + lag, t2[-1]) + w
    c1 = np.searchsorted(t1, stop - lag, "right") - np.searchsorted(t1, start - lag, "left")
    c2 = np.searchsorted(t2, stop, "right") - np.searchsorted(t2, start, "left")
    span = (stop - start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(span > 0, 2.0 * c1 * c2 * w / span, 0.0)

    lag_td = lag.astype("timedelta64[ns]")
    data = {
        "n_assoc": ("lag", totals, {"long_name": "association number", "UNITS": "events"}),
        "expected": ("lag", expected, {"long_name": "association number expected for independent series"}),
    }
    if n_boot is not None:
        low, high, above = _bootstrap(hist, n1, int(n_boot), ci, asympt, np.random.default_rng(seed))
        if not np.isfinite(asympt):
            above[:] = np.nan
        data["ci_low"] = ("lag", low, {"long_name": f"{ci:.0%} bootstrap confidence limit (low)"})
        data["ci_high"] = ("lag", high, {"long_name": f"{ci:.0%} bootstrap confidence limit (high)"})
        data["confidence_above_asymptote"] = (
            "lag",
            above,
            {"long_name": "confidence that the association number is above the asymptote", "UNITS": "%"},
        )
    attrs = {
        "asymptotic_association": asympt,
        "window": _fmt_td(w),
        "n_events1": int(n1),
        "n_events2": int(n2),
        "history": f"association: {n1} x {n2} events, {nl} lags, window +/- {_fmt_td(w)}",
    }
    if n_boot is not None:
        attrs.update(n_boot=int(n_boot), ci_level=ci)
    return xr.Dataset(data, coords={"lag": lag_td}, attrs=attrs)


def _bootstrap(hist, n1, n_boot, ci, target, rng):
    """Bootstrap CI of the per-lag totals (numba kernel, seeded from ``rng``)."""
    from ._sea_kernels import assoc_bootstrap

    q_low = 50.0 * (1.0 - ci)
    seed = int(rng.integers(0, 2**32))
    return assoc_bootstrap(np.ascontiguousarray(hist), n1, n_boot, q_low, 100.0 - q_low, float(target), seed)


def apply_refractory(times: Any, period: Any) -> np.ndarray:
    """Remove the events that follow a kept event by less than ``period`` (PoPPy's applyRefractory).

    Events are taken in time order; an event less than ``period`` after the last kept event is dropped
    (one exactly ``period`` later is kept). Unlike PoPPy, the last event is kept when it qualifies.

    Parameters
    ----------
    times : array of datetime64, list of datetimes/ISO strings, or DataArray
    period : timedelta, str or number of seconds

    Returns
    -------
    numpy.ndarray of datetime64[ns], sorted

    Examples
    --------
    >>> t = np.array(["2000-01-01T00", "2000-01-01T01", "2000-01-01T03", "2000-01-01T05"], "datetime64[ns]")
    >>> [str(x)[11:16] for x in apply_refractory(t, "2h")]
    ['00:00', '03:00', '05:00']
    """
    from .sea import _duration_ns

    t = _event_ns(times, "times")
    p = _duration_ns(period, "period")
    if p < 0:
        raise InputError(f"argument 'period': must not be negative, got {period!r}")
    kept = []
    last = None
    for x in t:
        if last is None or x - last >= p:
            kept.append(x)
            last = x
    return np.array(kept, dtype=np.int64).view("datetime64[ns]")
