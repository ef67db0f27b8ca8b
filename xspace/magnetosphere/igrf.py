"""IGRF Gauss coefficients: parsing the IAGA table and evaluating them at any epoch.

The table shipped with xspace is the IAGA IGRF-14 release (``xspace/data/igrf14coeffs.txt``,
1900-2025 main-field models every 5 years plus the 2025-2030 secular variation). Between two
tabulated epochs the coefficients are interpolated linearly; after the last epoch (2025.0) they are
extrapolated with the secular variation column, up to 2030.0 (the end of the model's validity).

Epoch convention
----------------
By default the coefficients are evaluated at the exact decimal year of the time given
(``2015-07-02T12:00`` -> 2015.5). IRBEM (and hence SpacePy's ``irbempy``) evaluates IGRF at
``year + 0.5`` whatever the day of the year; ``irbem_compatible=True`` reproduces that convention,
so that field values agree with IRBEM's to its own precision.

Examples
--------
>>> g, h = gauss_coefficients(2020.0)
>>> float(g[1, 0]), float(g[1, 1]), float(h[1, 1])
(-29403.41, -1451.37, 4653.35)
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import FieldModelError, InputError

__all__ = [
    "NMAX",
    "EARTH_RADIUS_KM",
    "read_table",
    "gauss_coefficients",
    "gauss_coefficients_many",
    "decimal_year",
    "epoch_of",
]

#: Maximum degree of the IGRF-14 expansion.
NMAX = 13
#: Reference radius of IGRF (km); also the Earth radius R_E used throughout xspace.magnetosphere.
EARTH_RADIUS_KM = 6371.2


@functools.lru_cache(maxsize=None)
def read_table(path: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse an IAGA IGRF coefficient table.

    Parameters
    ----------
    path : str, optional
        File in the IAGA format (``g/h n m`` then one column per epoch and a final SV column).
        Default: the bundled IGRF-14 table.

    Returns
    -------
    epochs : ndarray, shape (K,)
        The model epochs (decimal years).
    g, h : ndarray, shape (K, NMAX+1, NMAX+1)
        Gauss coefficients (nT), indexed ``[epoch, n, m]``; ``h[:, n, 0]`` is zero.
    sv_g, sv_h : ndarray, shape (NMAX+1, NMAX+1)
        Secular variation after the last epoch (nT/year).

    Examples
    --------
    >>> epochs, g, h, sv_g, sv_h = read_table()
    >>> float(epochs[0]), float(epochs[-1]), g.shape
    (1900.0, 2025.0, (26, 14, 14))
    >>> float(sv_g[1, 0])
    12.6
    """
    if path is None:
        from ..data import get_path

        path = str(get_path("igrf14coeffs.txt"))
    epochs = None
    rows = []
    with open(path, encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "g/h":
                # header: "g/h n m 1900.0 ... 2025.0 2025-30"
                epochs = np.array([float(p) for p in parts[3:-1]])
                continue
            if parts[0] in ("g", "h"):
                rows.append(parts)
    if epochs is None or not rows:
        raise InputError(f"read_table: {path!r} is not an IAGA IGRF coefficient table (no 'g/h n m' header)")
    k = len(epochs)
    g = np.zeros((k, NMAX + 1, NMAX + 1))
    h = np.zeros((k, NMAX + 1, NMAX + 1))
    sv_g = np.zeros((NMAX + 1, NMAX + 1))
    sv_h = np.zeros((NMAX + 1, NMAX + 1))
    for parts in rows:
        n, m = int(parts[1]), int(parts[2])
        values = np.array([float(p) for p in parts[3:]])
        if len(values) != k + 1 or n > NMAX or m > n:
            raise InputError(f"read_table: malformed row {' '.join(parts[:3])!r} in {path!r}")
        target, sv = (g, sv_g) if parts[0] == "g" else (h, sv_h)
        target[:, n, m] = values[:k]
        sv[n, m] = values[k]
    for arr in (g, h, sv_g, sv_h):
        arr.setflags(write=False)
    return epochs, g, h, sv_g, sv_h


def decimal_year(time) -> np.ndarray:
    """Decimal year of UTC times (``2020-07-02T00:00`` -> 2020.5 in a leap year).

    Examples
    --------
    >>> float(decimal_year(np.datetime64("2020-07-02T00:00"))[0])
    2020.5
    """
    from .._utils import as_datetime64

    t = as_datetime64(time, "time")
    years = t.astype("datetime64[Y]")
    start = years.astype("datetime64[ns]")
    end = (years + np.timedelta64(1, "Y")).astype("datetime64[ns]")
    frac = (t - start).astype(np.float64) / (end - start).astype(np.float64)
    return years.astype(np.int64) + 1970 + frac


def epoch_of(time, irbem_compatible: bool = False) -> np.ndarray:
    """The IGRF epoch (decimal year) used for ``time``.

    ``irbem_compatible=False`` (default): the exact decimal year. ``True``: ``year + 0.5`` (IRBEM).

    Examples
    --------
    >>> float(epoch_of(np.datetime64("2015-01-01"), irbem_compatible=True)[0])
    2015.5
    """
    year = decimal_year(time)
    if irbem_compatible:
        return np.floor(year) + 0.5
    return year


def gauss_coefficients(epoch: float) -> tuple[np.ndarray, np.ndarray]:
    """IGRF Gauss coefficients ``g[n, m]``, ``h[n, m]`` (nT) at a decimal-year epoch.

    Linear interpolation between the 5-yearly models; after the last model, linear extrapolation with
    the secular variation. Valid from 1900.0 to 2030.0.

    Raises
    ------
    FieldModelError
        If ``epoch`` is outside 1900-2030.

    Examples
    --------
    >>> g, h = gauss_coefficients(2022.5)
    >>> round(float(g[1, 0]), 3)   # halfway between -29403.41 (2020) and -29350.0 (2025)
    -29376.705
    >>> g, h = gauss_coefficients(2027.0)
    >>> round(float(g[1, 0]), 3)   # -29350.0 + 2 * 12.6
    -29324.8
    """
    epochs, g, h, sv_g, sv_h = read_table()
    epoch = float(epoch)
    end = epochs[-1] + 5.0
    if not (epochs[0] <= epoch <= end) or not np.isfinite(epoch):
        raise FieldModelError(
            f"IGRF: epoch {epoch!r} outside the model's validity {epochs[0]:.0f}-{end:.0f} (decimal years)"
        )
    if epoch >= epochs[-1]:
        dt = epoch - epochs[-1]
        return g[-1] + dt * sv_g, h[-1] + dt * sv_h
    i = min(int(np.searchsorted(epochs, epoch, side="right")) - 1, len(epochs) - 2)
    w = (epoch - epochs[i]) / (epochs[i + 1] - epochs[i])
    return (1.0 - w) * g[i] + w * g[i + 1], (1.0 - w) * h[i] + w * h[i + 1]


def gauss_coefficients_many(epochs) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`gauss_coefficients`: arrays ``g``, ``h`` of shape (n, NMAX+1, NMAX+1).

    Examples
    --------
    >>> g, h = gauss_coefficients_many([2020.0, 2022.5])
    >>> g.shape, float(g[1, 1, 0]) == float(gauss_coefficients(2022.5)[0][1, 0])
    ((2, 14, 14), True)
    """
    table_epochs, g, h, sv_g, sv_h = read_table()
    ep = np.atleast_1d(np.asarray(epochs, dtype=np.float64)).ravel()
    end = table_epochs[-1] + 5.0
    bad = ~((ep >= table_epochs[0]) & (ep <= end))
    if bad.any():
        raise FieldModelError(
            f"IGRF: epoch {float(ep[bad][0])!r} outside the model's validity {table_epochs[0]:.0f}-{end:.0f} "
            "(decimal years)"
        )
    # append the extrapolated end point so that one linear interpolation covers the SV segment too
    xs = np.append(table_epochs, end)
    gs = np.concatenate([g, (g[-1] + 5.0 * sv_g)[None]], 0)
    hs = np.concatenate([h, (h[-1] + 5.0 * sv_h)[None]], 0)
    i = np.clip(np.searchsorted(xs, ep, side="right") - 1, 0, len(xs) - 2)
    w = ((ep - xs[i]) / (xs[i + 1] - xs[i]))[:, None, None]
    return (1.0 - w) * gs[i] + w * gs[i + 1], (1.0 - w) * hs[i] + w * hs[i + 1]
