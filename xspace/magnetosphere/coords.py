"""Geophysical coordinate systems: GEO, GEI (true of date, mean of date, J2000), GSE, GSM, SM, MAG.

Every frame is described by its three unit axes expressed in GEO (a 3x3 matrix whose columns are the
axes), so a transformation ``F -> G`` is ``A_G.T @ A_F``. The definitions follow Hapgood (1992),
*Space physics coordinate transformations: a user guide*, Planet. Space Sci. 40, 711-717, with
these refinements:

* Greenwich mean sidereal time: IAU 1982 expression (Aoki et al. 1982), UT1 taken as UTC
  (|UT1-UTC| < 0.9 s, i.e. < 4e-3 deg of rotation).
* Sun direction: the Astronomical Almanac low-precision formulas (as in Hapgood 1992), ~0.01 deg.
* GEI true of date ("GEI", "TOD"): apparent sidereal time = GMST + nutation in longitude * cos(eps);
  nutation from the four largest terms of the IAU 1980 series (~0.5 arcsec, Meeus 1998 ch. 22).
* J2000: IAU 1976 precession (Lieske et al. 1977) then the nutation above; "MOD" is the mean of date.
* Dipole axis (GSM, SM, MAG): the IGRF-14 dipole terms g10, g11, h11 of the epoch (see
  :mod:`xspace.magnetosphere.igrf` for the epoch convention).
* UTC stands in for TT in the slowly varying angles (Sun, nutation, precession): the ~69 s difference
  moves the Sun by < 0.001 deg.

Examples
--------
>>> import numpy as np
>>> t = np.datetime64("2020-06-21T12:00")
>>> sun_gse = transform([1.0, 0.0, 0.0], t, "GSE", "GEO")   # the GSE x axis points to the Sun
>>> lat = np.degrees(np.arcsin(sun_gse[2]))                 # solar declination at the June solstice
>>> round(float(lat), 2)
23.44
"""

from __future__ import annotations

import numpy as np

from .._utils import as_datetime64
from ..errors import InputError
from . import igrf

__all__ = [
    "FRAMES",
    "normalize_frame",
    "frame_axes",
    "rotation_matrix",
    "transform",
    "cartesian_to_spherical",
    "spherical_to_cartesian",
    "dipole_axis",
    "dipole_tilt",
    "mlt",
    "sun_direction",
    "gmst",
    "frame_of",
    "transform_dataarray",
]

#: Canonical frame names and accepted aliases (case-insensitive).
FRAMES = {
    "GEO": "GEO",
    "ECEF": "GEO",
    "GEI": "GEI",
    "TOD": "GEI",
    "GEI_TOD": "GEI",
    "MOD": "MOD",
    "GEI_MOD": "MOD",
    "J2000": "J2000",
    "GEI2000": "J2000",
    "GEI_J2000": "J2000",
    "EME2000": "J2000",
    "ECI2000": "J2000",
    "GSE": "GSE",
    "GSM": "GSM",
    "SM": "SM",
    "MAG": "MAG",
}

_ARCSEC = np.pi / (180.0 * 3600.0)
_J2000_NS = np.datetime64("2000-01-01T12:00:00", "ns")


def normalize_frame(frame, name: str = "frame") -> str:
    """Canonical name of a coordinate frame (``"gei_tod"`` -> ``"GEI"``).

    Examples
    --------
    >>> normalize_frame("gsm"), normalize_frame("TOD"), normalize_frame("GEI2000")
    ('GSM', 'GEI', 'J2000')
    """
    key = str(frame).strip().upper().replace("-", "_").replace(" ", "_")
    if key not in FRAMES:
        raise InputError(
            f"argument {name!r}: unknown coordinate frame {frame!r}; expected one of "
            f"{sorted(set(FRAMES.values()))} (aliases: {sorted(set(FRAMES) - set(FRAMES.values()))})"
        )
    return FRAMES[key]


# ----------------------------------------------------------------------------- time quantities
def _days_since_j2000(time) -> np.ndarray:
    t = as_datetime64(time, "time")
    if np.isnat(t).any():
        raise InputError("argument 'time': NaT is not a valid time")
    return (t - _J2000_NS).astype(np.float64) / 86400e9


def gmst(time) -> np.ndarray:
    """Greenwich mean sidereal time (radians, in [0, 2 pi)), IAU 1982, UT1 = UTC.

    Examples
    --------
    >>> import numpy as np
    >>> # Meeus (1998) example 12.a: 1987-04-10 0h UT -> 13h10m46.3668s
    >>> hours = np.degrees(gmst(np.datetime64("1987-04-10T00:00")))[0] / 15
    >>> round(float(hours) * 3600, 3) == round(13 * 3600 + 10 * 60 + 46.3668, 3)
    True
    """
    d = _days_since_j2000(time)
    tc = d / 36525.0
    # split d so that 360.98564736629 * d keeps its fractional-degree precision
    di = np.floor(d)
    deg = (
        280.46061837
        + (0.98564736629 * di) % 360.0
        + 360.0 * (d - di)
        + 0.98564736629 * (d - di)
        + 0.000387933 * tc**2
        - tc**3 / 38710000.0
    )
    return np.radians(deg % 360.0)


def _nutation(tc):
    """Nutation in longitude and obliquity (rad) and mean obliquity (rad): IAU 1980, 4 terms."""
    omega = np.radians(125.04452 - 1934.136261 * tc)
    lsun = np.radians(280.4665 + 36000.7698 * tc)
    lmoon = np.radians(218.3165 + 481267.8813 * tc)
    dpsi = (-17.20 * np.sin(omega) - 1.32 * np.sin(2 * lsun) - 0.23 * np.sin(2 * lmoon) + 0.21 * np.sin(2 * omega)) * _ARCSEC
    deps = (9.20 * np.cos(omega) + 0.57 * np.cos(2 * lsun) + 0.10 * np.cos(2 * lmoon) - 0.09 * np.cos(2 * omega)) * _ARCSEC
    eps0 = np.radians(23.0 + 26.0 / 60.0 + 21.448 / 3600.0) + (-46.8150 * tc - 0.00059 * tc**2 + 0.001813 * tc**3) * _ARCSEC
    return dpsi, deps, eps0


def _r1(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2)


def _r2(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, -s], -1), np.stack([z, o, z], -1), np.stack([s, z, c], -1)], -2)


def _r3(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, s, z], -1), np.stack([-s, c, z], -1), np.stack([z, z, o], -1)], -2)


def sun_direction(time, frame: str = "GEO") -> np.ndarray:
    """Unit vector from the Earth to the Sun, shape (n, 3), in ``frame``.

    Astronomical Almanac low-precision formulas (Hapgood 1992, eq. 5), good to ~0.01 deg.

    Examples
    --------
    >>> import numpy as np
    >>> s = sun_direction(np.datetime64("2021-03-20T09:37"), "MOD")   # March equinox 2021
    >>> bool(abs(np.degrees(np.arctan2(s[0, 1], s[0, 0]))) < 0.02)
    True
    """
    t = as_datetime64(time, "time").ravel()
    return _axes_to(t, "GSE", frame)[..., 0]


def _sun_mod(tc):
    lam0 = 280.460 + 36000.772 * tc
    m = np.radians(357.528 + 35999.050 * tc)
    lam = np.radians(lam0 + (1.915 - 0.0048 * tc) * np.sin(m) + 0.020 * np.sin(2 * m))
    return lam


def dipole_axis(time, irbem_compatible: bool = False) -> np.ndarray:
    """Unit vector of the northern geomagnetic (dipole) pole in GEO, shape (n, 3), from IGRF.

    The direction is ``-(g11, h11, g10) / B0``: the dipole moment points south, its axis' northern end
    lies near 80.6 N, 72.7 W in 2020.

    Examples
    --------
    >>> import numpy as np
    >>> d = dipole_axis(np.datetime64("2020-01-01"))[0]
    >>> round(float(np.degrees(np.arcsin(d[2]))), 2), round(float(np.degrees(np.arctan2(d[1], d[0]))), 2)
    (80.59, -72.68)
    """
    g10, g11, h11 = _dipole_coefficients(time, irbem_compatible)
    v = -np.stack([g11, h11, g10], -1)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dipole_coefficients(time, irbem_compatible=False):
    epochs, g, h, sv_g, sv_h = igrf.read_table()
    ep = igrf.epoch_of(time, irbem_compatible)
    end = epochs[-1] + 5.0
    bad = ~((ep >= epochs[0]) & (ep <= end))
    if bad.any():
        from ..errors import FieldModelError

        raise FieldModelError(
            f"argument 'time': IGRF dipole axis needed at epoch {float(ep[bad][0]):.3f}, outside the model's "
            f"validity {epochs[0]:.0f}-{end:.0f}"
        )
    xs = np.append(epochs, end)
    out = []
    for arr, sv, (n, m) in ((g, sv_g, (1, 0)), (g, sv_g, (1, 1)), (h, sv_h, (1, 1))):
        ys = np.append(arr[:, n, m], arr[-1, n, m] + 5.0 * sv[n, m])
        out.append(np.interp(ep, xs, ys))
    return out


# ----------------------------------------------------------------------------- frame axes
def _axes_geo(time, irbem_compatible=False, frames=None) -> dict:
    """Frames' axes in GEO for 1-D ``time``: dict frame -> (n, 3, 3), columns = axes.

    ``frames``: the frames needed (None: all); the dipole frames need IGRF (1900-2030)."""
    d = _days_since_j2000(time)
    tc = d / 36525.0
    dpsi, deps, eps0 = _nutation(tc)
    theta_gast = gmst(time) + dpsi * np.cos(eps0 + deps)
    a_tod = _r3(theta_gast)  # v_geo = R3(GAST) v_tod
    nut = np.einsum("...ij,...jk->...ik", _r1(-(eps0 + deps)), np.einsum("...ij,...jk->...ik", _r3(-dpsi), _r1(eps0)))
    a_mod = a_tod @ nut  # v_tod = N v_mod
    zeta = (2306.2181 * tc + 0.30188 * tc**2 + 0.017998 * tc**3) * _ARCSEC
    zz = (2306.2181 * tc + 1.09468 * tc**2 + 0.018203 * tc**3) * _ARCSEC
    th = (2004.3109 * tc - 0.42665 * tc**2 - 0.041833 * tc**3) * _ARCSEC
    prec = _r3(-zz) @ _r2(th) @ _r3(-zeta)  # v_mod = P v_j2000
    a_j2000 = a_mod @ prec

    lam = _sun_mod(tc)
    ce, se = np.cos(eps0), np.sin(eps0)
    sun_mod = np.stack([np.cos(lam), ce * np.sin(lam), se * np.sin(lam)], -1)
    pole_mod = np.stack([np.zeros_like(lam), -se, ce], -1)
    x_gse = np.einsum("...ij,...j->...i", a_mod, sun_mod)
    z_gse = np.einsum("...ij,...j->...i", a_mod, pole_mod)
    y_gse = np.cross(z_gse, x_gse)

    def cols(x, y, z):
        return np.stack([x, y, z], -1)

    eye = np.broadcast_to(np.eye(3), a_tod.shape)
    out = {
        "GEO": eye,
        "GEI": a_tod,
        "MOD": a_mod,
        "J2000": a_j2000,
        "GSE": cols(x_gse, y_gse, z_gse),
    }
    if frames is not None and not (set(frames) & {"GSM", "SM", "MAG"}):
        return out  # no dipole axis needed (and no IGRF validity limit)
    dip = dipole_axis(time, irbem_compatible)
    y_gsm = np.cross(dip, x_gse)
    y_gsm /= np.linalg.norm(y_gsm, axis=-1, keepdims=True)
    z_gsm = np.cross(x_gse, y_gsm)
    x_sm = np.cross(y_gsm, dip)
    zgeo = np.zeros_like(dip)
    zgeo[..., 2] = 1.0
    y_mag = np.cross(zgeo, dip)
    y_mag /= np.linalg.norm(y_mag, axis=-1, keepdims=True)
    x_mag = np.cross(y_mag, dip)

    out["GSM"] = cols(x_gse, y_gsm, z_gsm)
    out["SM"] = cols(x_sm, y_gsm, dip)
    out["MAG"] = cols(x_mag, y_mag, dip)
    return out


def frame_axes(time, frame: str, irbem_compatible: bool = False) -> np.ndarray:
    """Axes of ``frame`` expressed in GEO, shape (n, 3, 3), one column per axis.

    Examples
    --------
    >>> import numpy as np
    >>> a = frame_axes(np.datetime64("2010-01-01"), "GSM")[0]
    >>> bool(np.allclose(a.T @ a, np.eye(3))), round(float(np.linalg.det(a)), 12)
    (True, 1.0)
    """
    frame = normalize_frame(frame)
    return _axes_geo(time, irbem_compatible, {frame})[frame]


def _axes_to(time, frame_from, frame_to, irbem_compatible=False):
    frame_from = normalize_frame(frame_from, "from_frame")
    frame_to = normalize_frame(frame_to, "to_frame")
    axes = _axes_geo(time, irbem_compatible, {frame_from, frame_to})
    return np.einsum("...ji,...jk->...ik", axes[frame_to], axes[frame_from])


def rotation_matrix(time, from_frame: str, to_frame: str, irbem_compatible: bool = False) -> np.ndarray:
    """Rotation matrices ``R`` (n, 3, 3) with ``v_to = R @ v_from`` at each time.

    Examples
    --------
    >>> import numpy as np
    >>> r = rotation_matrix(np.datetime64("2000-01-01T12:00"), "J2000", "MOD")[0]
    >>> bool(np.allclose(r, np.eye(3), atol=1e-12))   # precession vanishes at the J2000 epoch
    True
    """
    t = as_datetime64(time, "time").ravel()
    return _axes_to(t, from_frame, to_frame, irbem_compatible)


def transform(xyz, time, from_frame: str, to_frame: str, irbem_compatible: bool = False) -> np.ndarray:
    """Rotate vectors (positions or fields) between coordinate frames.

    Parameters
    ----------
    xyz : array_like, shape (..., 3)
        Cartesian components (any unit) in ``from_frame``.
    time : datetime64 or array_like of times
        Broadcastable against ``xyz.shape[:-1]``.
    from_frame, to_frame : str
        ``"GEO"``, ``"GEI"`` (= ``"TOD"``, true of date), ``"MOD"``, ``"J2000"``, ``"GSE"``, ``"GSM"``,
        ``"SM"``, ``"MAG"`` (case-insensitive).
    irbem_compatible : bool
        Dipole axis from IGRF at ``year + 0.5`` (IRBEM's convention) instead of the exact epoch.

    Returns
    -------
    ndarray, shape ``broadcast(time, xyz[..., 0]).shape + (3,)``

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array(["2015-03-17T00:00", "2015-03-17T06:00"], "datetime64[ns]")
    >>> v = transform([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], t, "GEO", "GSM")
    >>> back = transform(v, t, "GSM", "GEO")
    >>> bool(np.allclose(back, [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], rtol=0, atol=1e-12))
    True
    >>> np.linalg.norm(v, axis=-1).round(6)
    array([3.741657, 2.291288])
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim == 0 or xyz.shape[-1] != 3:
        raise InputError(f"argument 'xyz': expected a trailing dimension of length 3, got shape {xyz.shape}")
    from_frame = normalize_frame(from_frame, "from_frame")
    to_frame = normalize_frame(to_frame, "to_frame")
    t = as_datetime64(time, "time")
    if np.ndim(time) == 0:
        t = t.reshape(())
    try:
        shape = np.broadcast_shapes(t.shape, xyz.shape[:-1])
    except ValueError as exc:
        raise InputError(
            f"argument 'time' of shape {t.shape} does not broadcast against 'xyz' of shape {xyz.shape}"
        ) from exc
    if from_frame == to_frame:
        return np.broadcast_to(xyz, shape + (3,)).copy()
    tb = np.broadcast_to(t, shape).ravel()
    uniq, inverse = np.unique(tb, return_inverse=True)
    rot = _axes_to(uniq, from_frame, to_frame, irbem_compatible)
    v = np.broadcast_to(xyz, shape + (3,)).reshape(-1, 3)
    out = np.einsum("nij,nj->ni", rot[inverse.ravel()], v)
    return out.reshape(shape + (3,))


# ----------------------------------------------------------------------------- helpers
def cartesian_to_spherical(xyz) -> np.ndarray:
    """(x, y, z) -> (r, latitude, east longitude), angles in degrees, longitude in (-180, 180].

    Examples
    --------
    >>> cartesian_to_spherical([0.0, 1.0, 1.0]).round(6)
    array([ 1.414214, 45.      , 90.      ])
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim == 0 or xyz.shape[-1] != 3:
        raise InputError(f"argument 'xyz': expected a trailing dimension of length 3, got shape {xyz.shape}")
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    rho = np.hypot(x, y)
    return np.stack([np.hypot(rho, z), np.degrees(np.arctan2(z, rho)), np.degrees(np.arctan2(y, x))], -1)


def spherical_to_cartesian(rlatlon) -> np.ndarray:
    """(r, latitude, east longitude) in degrees -> (x, y, z).

    Examples
    --------
    >>> spherical_to_cartesian([2.0, 0.0, 90.0]).round(12)
    array([0., 2., 0.])
    """
    s = np.asarray(rlatlon, dtype=np.float64)
    if s.ndim == 0 or s.shape[-1] != 3:
        raise InputError(f"argument 'rlatlon': expected a trailing dimension of length 3, got shape {s.shape}")
    r, lat, lon = s[..., 0], np.radians(s[..., 1]), np.radians(s[..., 2])
    return np.stack([r * np.cos(lat) * np.cos(lon), r * np.cos(lat) * np.sin(lon), r * np.sin(lat)], -1)


def dipole_tilt(time, irbem_compatible: bool = False) -> np.ndarray:
    """Dipole tilt angle (degrees): angle between the GSM z axis and the dipole axis, positive when
    the northern magnetic pole leans towards the Sun (northern summer).

    Examples
    --------
    >>> import numpy as np
    >>> tilt = dipole_tilt(np.array(["2020-06-21T17:00", "2020-12-21T05:00"], "datetime64[ns]"))
    >>> bool(tilt[0] > 30), bool(tilt[1] < -30)
    (True, True)
    """
    t = as_datetime64(time, "time")
    shape = t.shape if np.ndim(time) else ()
    t = t.ravel()
    axes = _axes_geo(t, irbem_compatible)
    x_sun = axes["GSE"][..., 0]
    dip = axes["SM"][..., 2]
    return np.degrees(np.arcsin(np.clip(np.sum(x_sun * dip, -1), -1.0, 1.0))).reshape(shape)


def mlt(xyz, time, frame: str = "GSM", irbem_compatible: bool = False) -> np.ndarray:
    """Magnetic local time (hours, [0, 24)): 12 + the SM azimuth of the position (noon at the Sun).

    Examples
    --------
    >>> import numpy as np
    >>> float(mlt([1.0, 0.0, 0.0], np.datetime64("2012-12-01T00:00"), "GSE"))   # subsolar point
    12.0
    >>> float(mlt([0.0, 5.0, 0.0], np.datetime64("2012-12-01T00:00"), "SM"))     # dusk
    18.0
    """
    sm = transform(xyz, time, frame, "SM", irbem_compatible)
    return (12.0 + np.degrees(np.arctan2(sm[..., 1], sm[..., 0])) / 15.0) % 24.0


# ----------------------------------------------------------------------------- xarray
_FRAME_TOKENS = sorted(FRAMES, key=len, reverse=True)


def frame_of(da, name: str | None = None) -> str:
    """Coordinate frame of an ISTP variable, read from its attributes.

    Order: ``COORDINATE_SYSTEM`` (e.g. ``"GSE"``, ``"gsm>Geocentric Solar Magnetospheric"``); a
    frame suffix of the variable name (``Position_GEO``, ``BGSEc``, ``b_gsm``); a frame word in
    ``CATDESC``. A name ending in ``MAG`` is not taken as the MAG frame (it usually means magnitude).

    Raises
    ------
    InputError
        If none names a known frame.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> frame_of(xr.DataArray(np.zeros(3), name="BGSEc", attrs={"CATDESC": "B-field in GSE"}))
    'GSE'
    >>> frame_of(xr.DataArray(np.zeros(3), attrs={"COORDINATE_SYSTEM": "gsm>Geocentric Solar Magnetospheric"}))
    'GSM'
    """
    import re

    label = name if name is not None else da.name
    attrs = da.attrs
    cs = attrs.get("COORDINATE_SYSTEM")
    if isinstance(cs, str) and cs.strip():
        head = re.split(r"[>\s,;(]", cs.strip(), maxsplit=1)[0]
        if head.upper() in FRAMES:
            return FRAMES[head.upper()]
    if isinstance(label, str):
        upper = label.upper()
        for token in _FRAME_TOKENS:
            if token == "MAG":  # "B_mag", "BMAG" usually mean the magnitude, not the MAG frame
                continue
            # a suffix "_GEO", or the frame letters at the end of a compact name ("BGSEc", "PosGSM")
            if re.search(rf"(^|[_\-.]){token}$", upper) or re.search(rf"[A-Z_]{token}C?$", upper):
                return FRAMES[token]
    catdesc = attrs.get("CATDESC")
    if isinstance(catdesc, str):
        for token in _FRAME_TOKENS:
            if re.search(rf"\b{token}\b", catdesc.upper()):
                return FRAMES[token]
    raise InputError(
        f"variable {label!r}: cannot tell its coordinate frame (no COORDINATE_SYSTEM attribute, no frame "
        f"suffix like '_GEO' in the name, no frame in CATDESC); pass from_frame= explicitly"
    )


def transform_dataarray(da, to: str, from_frame: str | None = None, irbem_compatible: bool = False):
    """Rotate a vector DataArray (a dimension of length 3, a time dimension) into frame ``to``.

    The input frame comes from the ISTP attributes (:func:`frame_of`) unless ``from_frame`` is given.
    Works lazily on dask-backed data (``xarray.apply_ufunc(dask="parallelized")``). The result keeps
    the dims, coordinates and units, gets ``COORDINATE_SYSTEM = to``, a frame-updated name and a
    provenance line in ``history``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.array(["2020-01-01T00:00", "2020-01-01T06:00"], "datetime64[ns]")
    >>> b = xr.DataArray([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]], dims=("Epoch", "dim1"), coords={"Epoch": t},
    ...                  name="B_GSE", attrs={"UNITS": "nT", "DEPEND_0": "Epoch"})
    >>> out = transform_dataarray(b, "GSM")
    >>> out.name, out.attrs["COORDINATE_SYSTEM"], out.attrs["UNITS"]
    ('B_GSM', 'GSM', 'nT')
    >>> bool(np.allclose(out[:, 0], [5.0, 0.0]))   # GSE and GSM share the x axis
    True
    """
    import xarray as xr

    from .._utils import derived_attrs, time_dim

    if not isinstance(da, xr.DataArray):
        raise InputError(f"argument 'da': expected an xarray.DataArray, got {type(da).__name__}")
    to = normalize_frame(to, "to")
    src = normalize_frame(from_frame, "from_frame") if from_frame is not None else frame_of(da)
    vec_dims = [d for d in da.dims if da.sizes[d] == 3]
    if not vec_dims:
        raise InputError(f"variable {da.name!r}: no dimension of length 3 (vector components) in {dict(da.sizes)}")
    vdim = vec_dims[-1]
    tdim = time_dim(da, f"variable {da.name!r}")
    times = da[tdim]
    if da.chunks is not None and da.chunksizes.get(vdim, (3,)) != (3,):
        da = da.chunk({vdim: -1})

    def _rotate(xyz, t):
        return transform(xyz, t, src, to, irbem_compatible)

    out = xr.apply_ufunc(
        _rotate,
        da,
        times,
        input_core_dims=[[vdim], []],
        output_core_dims=[[vdim]],
        dask="parallelized",
        output_dtypes=[np.float64],
        keep_attrs=False,
    ).transpose(*da.dims)
    attrs = derived_attrs(
        da.attrs,
        catdesc=f"{da.attrs.get('CATDESC', da.name or 'vector')} (rotated {src} -> {to})",
        history=f"xspace.magnetosphere.coords.transform_dataarray: {src} -> {to}",
    )
    attrs["COORDINATE_SYSTEM"] = to
    out.attrs = attrs
    name = da.name
    if isinstance(name, str):
        import re

        for token in _FRAME_TOKENS:
            new = re.sub(rf"(?i)(^|[_\-.]){token}$", lambda m: m.group(1) + to, name)
            if new != name:
                name = new
                break
    out.name = name
    return out
