"""Magnetic field models: centred dipole, IGRF-14 and Tsyganenko 1989 (T89), evaluated by numba kernels.

All positions are in Earth radii (R_E = 6371.2 km, the IGRF reference radius), fields in nT.
The kernels work in GSM; the public functions rotate positions and fields from/to the frame asked for.

The parameter vector of a model at one time comes from :func:`make_field_params`; numba code
(field-line tracing, L*) calls :func:`xspace.magnetosphere._fieldkernels.field_gsm` with it.

IGRF epoch convention: by default the Gauss coefficients are taken at the exact decimal year of the
time; ``irbem_compatible=True`` uses ``year + 0.5`` as IRBEM does (see :mod:`xspace.magnetosphere.igrf`).

Examples
--------
>>> import numpy as np
>>> b = igrf_field(np.datetime64("2020-01-01"), [1.0, 0.0, 0.0], frame="GEO")
>>> b.shape
(3,)
>>> 25000 < float(np.linalg.norm(b)) < 40000
True
"""

from __future__ import annotations

import numpy as np

from .._utils import as_datetime64
from ..errors import FieldModelError, InputError
from . import igrf

__all__ = [
    "MODELS",
    "make_field_params",
    "make_field_params_batch",
    "dipole_params",
    "kp_to_iopt",
    "dipole_field",
    "igrf_field",
    "t89_field",
    "total_field",
]

#: Model names accepted by :func:`make_field_params` / :func:`total_field` and their kernel codes.
MODELS = {"DIPOLE": 0, "IGRF": 1, "T89": 2}
_CODES = {**MODELS, "T89_EXTERNAL": 3}  # private code: T89 without the internal field


def _kernels():
    from . import _fieldkernels

    return _fieldkernels


def _single_time(time, name="time") -> np.datetime64:
    t = as_datetime64(time, name)
    if t.size != 1:
        raise InputError(f"argument {name!r}: expected one time, got {t.size}")
    if np.isnat(t.ravel()[0]):
        raise InputError(f"argument {name!r}: NaT is not a valid time")
    return t.ravel()[0]


def kp_to_iopt(kp) -> int:
    """T89 activity level IOPT (1-7) from Kp in Kp units (2+ = 2.3, 3- = 2.7), as IRBEM does.

    0, 0+ -> 1; 1-, 1, 1+ -> 2; 2-, 2, 2+ -> 3; 3-..3+ -> 4; 4-..4+ -> 5; 5-..5+ -> 6; >= 6- -> 7.

    Examples
    --------
    >>> [kp_to_iopt(k) for k in (0.0, 0.3, 0.7, 2.3, 2.7, 5.3, 5.7, 9.0)]
    [1, 1, 2, 3, 4, 6, 7, 7]
    """
    try:
        kp = float(kp)
    except (TypeError, ValueError) as exc:
        raise FieldModelError(f"argument 'kp': expected a number in Kp units (0-9), got {kp!r}") from exc
    if not (0.0 <= kp <= 9.0):
        raise FieldModelError(f"argument 'kp': expected Kp in 0-9 (Kp units, 2+ = 2.3), got {kp!r}")
    # Kp thirds: k- = k - 1/3, k+ = k + 1/3; level boundaries fall halfway between 0+ and 1- etc.
    return int(min(7, 1 + np.floor(kp + 0.5)))


def dipole_params(b0_nT: float = 30000.0, tilt_rad: float = 0.0) -> np.ndarray:
    """Parameter vector of a fixed centred dipole (equatorial surface field ``b0_nT``, tilt in rad).

    Examples
    --------
    >>> from xspace.magnetosphere._fieldkernels import field_gsm
    >>> field_gsm(1.0, 0.0, 0.0, dipole_params(30000.0))
    (0.0, -0.0, 30000.0)
    """
    if not (np.isfinite(b0_nT) and b0_nT > 0):
        raise InputError(f"argument 'b0_nT': expected a positive field strength in nT, got {b0_nT!r}")
    if not (np.isfinite(tilt_rad) and abs(tilt_rad) <= np.pi / 2):
        raise InputError(f"argument 'tilt_rad': expected an angle in radians within [-pi/2, pi/2], got {tilt_rad!r}")
    k = _kernels()
    p = k.empty_params()
    p[k.P_CODE] = k.MODEL_DIPOLE
    p[k.P_TILT] = tilt_rad
    p[k.P_B0] = b0_nT
    rot = np.array([[np.cos(tilt_rad), 0, np.sin(tilt_rad)], [0, 1, 0], [-np.sin(tilt_rad), 0, np.cos(tilt_rad)]])
    p[k.P_ROT : k.P_ROT + 9] = rot.ravel()  # not a real GSM->GEO rotation: a fixed dipole has no Earth
    return p


def dipole_uniform_params(b0_nT: float = 30000.0, bz_nT: float = -20.0) -> np.ndarray:
    """Parameter vector of a centred dipole (no tilt) plus a uniform field ``bz_nT`` along its axis.

    The field is axisymmetric, so its drift shells are surfaces of revolution and L* has a closed
    form: the flux function ``r sin(theta) A_phi = -B0 sin^2(theta) / r + Bz r^2 sin^2(theta) / 2`` is
    constant on a field line, so the line through the equatorial distance ``r0`` bounds a polar cap
    of flux ``2 pi |B0 / r0 - Bz r0^2 / 2|`` and ``L* = 1 / |1 / r0 - Bz r0^2 / (2 B0)|`` whatever the
    pitch angle. A southward ``bz_nT`` (negative) stretches the lines like a tail field. Used to test
    the L* solver against an analytic non-dipolar case.

    Examples
    --------
    >>> from xspace.magnetosphere._fieldkernels import field_gsm
    >>> field_gsm(2.0, 0.0, 0.0, dipole_uniform_params(30000.0, -20.0))
    (0.0, -0.0, 3730.0)
    """
    if not (np.isfinite(b0_nT) and b0_nT > 0):
        raise InputError(f"argument 'b0_nT': expected a positive field strength in nT, got {b0_nT!r}")
    if not np.isfinite(bz_nT):
        raise InputError(f"argument 'bz_nT': expected a finite field in nT, got {bz_nT!r}")
    p = dipole_params(b0_nT, 0.0)
    k = _kernels()
    p[k.P_CODE] = k.MODEL_DIPOLE_UNIFORM
    p[k.P_UNIFORM] = bz_nT
    return p


def make_field_params(model: str, time, kp=None, irbem_compatible: bool = False) -> np.ndarray:
    """Parameter vector of a field model at one time, for the numba kernel ``field_gsm``.

    Parameters
    ----------
    model : {"dipole", "IGRF", "T89"}
        ``"dipole"``: centred dipole with the IGRF moment and axis of the epoch; ``"IGRF"``: internal
        field only; ``"T89"``: IGRF + Tsyganenko 1989 external field.
    time : datetime64 (one time)
    kp : float, optional
        Kp in Kp units (0-9, 2+ = 2.3); required for ``"T89"``.
    irbem_compatible : bool
        IGRF at ``year + 0.5`` (IRBEM's convention) instead of the exact decimal year.

    Returns
    -------
    ndarray of float64
        ``[0]`` model code (0 dipole, 1 IGRF, 2 IGRF+T89), ``[1]`` dipole tilt (rad), ``[2]`` B0 (nT),
        then private data (rotation GSM->GEO, Gauss coefficients, T89 coefficients).

    Examples
    --------
    >>> import numpy as np
    >>> p = make_field_params("IGRF", np.datetime64("2020-01-01"))
    >>> int(p[0]), round(float(p[2]), 1)
    (1, 29804.7)
    """
    t = _single_time(time)
    return make_field_params_batch(model, t, None if kp is None else [kp], irbem_compatible)[0]


def make_field_params_batch(model: str, times, kp=None, irbem_compatible: bool = False) -> np.ndarray:
    """Parameter vectors of a field model at many times: shape (n, N_PARAMS), row i for ``times[i]``.

    ``kp`` (T89 only) has the same length as ``times``. Same content as :func:`make_field_params`
    row by row, computed vectorially.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array(["2020-01-01", "2020-07-01"], "datetime64[ns]")
    >>> table = make_field_params_batch("T89", t, kp=[1.0, 4.3])
    >>> table.shape[0], table[:, 12].tolist()          # column 12: the T89 level IOPT
    (2, [2.0, 5.0])
    """
    from . import coords

    name = str(model).upper() if isinstance(model, str) else None
    if name not in _CODES:
        raise FieldModelError(f"argument 'model': unknown field model {model!r}; expected one of 'dipole', 'IGRF', 'T89'")
    t = as_datetime64(times, "time").ravel()
    if np.isnat(t).any():
        raise InputError("argument 'time': NaT is not a valid time")
    n = t.size
    k = _kernels()
    table = np.zeros((n, k.N_PARAMS))
    table[:, k.P_CODE] = _CODES[name]
    g, h = igrf.gauss_coefficients_many(igrf.epoch_of(t, irbem_compatible))
    table[:, k.P_B0] = np.sqrt(g[:, 1, 0] ** 2 + g[:, 1, 1] ** 2 + h[:, 1, 1] ** 2)
    axes = coords._axes_geo(t, irbem_compatible)
    table[:, k.P_ROT : k.P_ROT + 9] = axes["GSM"].reshape(n, 9)  # columns: GSM axes in GEO
    sun = axes["GSE"][:, :, 0]
    dip = axes["SM"][:, :, 2]
    table[:, k.P_TILT] = np.arcsin(np.clip(np.sum(sun * dip, -1), -1.0, 1.0))
    table[:, k.P_NMAX] = igrf.NMAX
    table[:, k.P_G : k.P_G + k.NCOEF] = g.reshape(n, -1)
    table[:, k.P_H : k.P_H + k.NCOEF] = h.reshape(n, -1)
    if name in ("T89", "T89_EXTERNAL"):
        if kp is None:
            raise FieldModelError("argument 'kp': the T89 model needs Kp (Kp units 0-9, 2+ = 2.3)")
        kp_arr = np.asarray(kp, dtype=object if not isinstance(kp, np.ndarray) else None).ravel()
        if kp_arr.size == 1 and n != 1:
            kp_arr = np.repeat(kp_arr, n)
        if kp_arr.size != n:
            raise FieldModelError(f"argument 'kp': expected {n} values (one per time), got {kp_arr.size}")
        iopt = np.array([kp_to_iopt(v) for v in kp_arr], dtype=np.int64)
        table[:, k.P_IOPT] = iopt
        table[:, k.P_T89 : k.P_T89 + k.N_T89] = k.T89_COEFFICIENTS[iopt - 1]
    return table


_BLOCK = 2048  # distinct times per parameter table (2048 x 436 float64 = 7 MB)
_LEVEL_KP = {1: 0.0, 2: 1.0, 3: 2.0, 4: 3.0, 5: 4.0, 6: 5.0, 7: 6.0}  # a Kp value of each T89 level


def _positions(position, name="position") -> np.ndarray:
    if hasattr(position, "dims") and hasattr(position, "data"):
        position = position.data
    xyz = np.asarray(position, dtype=np.float64)
    if xyz.ndim == 0 or xyz.shape[-1] != 3:
        raise InputError(f"argument {name!r}: expected positions in R_E with a trailing dimension of 3, got shape {xyz.shape}")
    return xyz


def _evaluate(model, time, position, kp, frame, irbem_compatible):
    """Evaluate a model at many positions/times; returns B in ``frame`` (nT), shape (..., 3)."""
    from . import coords

    frame = coords.normalize_frame(frame)
    xyz = _positions(position)
    t = as_datetime64(time, "time")
    tshape = t.shape if np.ndim(time) else ()
    t = t.reshape(tshape)
    try:
        kp_arr = None if kp is None else np.asarray(kp, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FieldModelError(f"argument 'kp': expected numbers in Kp units (0-9), got {kp!r}") from exc
    try:
        shape = np.broadcast_shapes(tshape, xyz.shape[:-1], () if kp_arr is None else kp_arr.shape)
    except ValueError as exc:
        raise InputError(
            f"arguments 'time' {tshape}, 'position' {xyz.shape} and 'kp' do not broadcast together"
        ) from exc
    tb = np.broadcast_to(t, shape).ravel()
    xyzb = np.broadcast_to(xyz, shape + (3,)).reshape(-1, 3)
    gsm = coords.transform(xyzb, tb, frame, "GSM", irbem_compatible) if frame != "GSM" else xyzb.copy()
    gsm = np.ascontiguousarray(gsm)
    k = _kernels()
    out = np.empty_like(gsm)
    # one parameter vector per distinct (time, Kp level); evaluated in blocks to bound memory
    if kp_arr is None:
        key_t, inverse = np.unique(tb, return_inverse=True)
        key_kp = None
    else:
        kpb = np.broadcast_to(kp_arr, shape).ravel()
        iopt = np.array([kp_to_iopt(v) for v in np.unique(kpb)])
        level = iopt[np.searchsorted(np.unique(kpb), kpb)]
        pairs = np.stack([tb.astype(np.int64), level.astype(np.int64)], -1)
        uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
        key_t = uniq[:, 0].astype("datetime64[ns]")
        # any Kp of a level gives the same parameters: use one representative value per level
        key_kp = np.array([_LEVEL_KP[int(v)] for v in uniq[:, 1]])
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(0, key_t.size + _BLOCK, _BLOCK))
    for b in range(len(bounds) - 1):
        lo = b * _BLOCK
        hi = min(lo + _BLOCK, key_t.size)
        if lo >= hi:
            break
        table = make_field_params_batch(model, key_t[lo:hi], None if key_kp is None else key_kp[lo:hi], irbem_compatible)
        sel = order[bounds[b] : bounds[b + 1]]
        sub = np.empty((sel.size, 3))
        k.field_gsm_indexed(np.ascontiguousarray(gsm[sel]), table, (inverse[sel] - lo).astype(np.int64), sub)
        out[sel] = sub
    if frame != "GSM":
        out = coords.transform(out, tb, "GSM", frame, irbem_compatible)
    return out.reshape(shape + (3,))


_DESCRIPTION = {
    "DIPOLE": "centred dipole (IGRF moment and axis)",
    "IGRF": "IGRF-14 internal field",
    "T89": "IGRF-14 + Tsyganenko 1989 field",
    "T89_EXTERNAL": "Tsyganenko 1989 external field",
}


def _dispatch(model, time, position, kp, frame, irbem_compatible):
    """numpy inputs -> ndarray; a DataArray ``position`` -> DataArray (lazy if dask-backed)."""
    import xarray as xr

    if not isinstance(position, xr.DataArray):
        return _evaluate(model, time, position, kp, frame, irbem_compatible)
    from . import coords

    frame = coords.normalize_frame(frame)
    vdim = position.dims[-1] if position.ndim else None
    if vdim is None or position.sizes[vdim] != 3:
        raise InputError(
            f"argument 'position': expected a DataArray whose last dimension has length 3 (x, y, z in R_E), "
            f"got dims {dict(position.sizes)}"
        )
    if position.chunks is not None:
        position = position.chunk({vdim: -1})

    def _kernel(pos, t, k):
        return _evaluate(model, t, pos, k, frame, irbem_compatible)

    out = xr.apply_ufunc(
        _kernel,
        position,
        time,
        kp,
        input_core_dims=[[vdim], [], []],
        output_core_dims=[[vdim]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    from .._utils import derived_attrs

    name = str(model).upper()
    out.attrs = derived_attrs(
        {k: v for k, v in position.attrs.items() if k in ("DEPEND_0", "DISPLAY_TYPE")},
        units="nT",
        catdesc=f"{_DESCRIPTION.get(name, name)} at {position.name or 'position'}, {frame} components",
        fieldnam=f"B {name.lower()}",
        history=f"xspace.magnetosphere.field: {name} ({'IRBEM epoch' if irbem_compatible else 'exact epoch'})",
        COORDINATE_SYSTEM=frame,
    )
    out.name = f"B_{name.lower()}"
    return out


def dipole_field(time, position, frame: str = "GSM", irbem_compatible: bool = False) -> np.ndarray:
    """Centred dipole field (nT) with the IGRF dipole moment and axis of the epoch.

    Parameters
    ----------
    time : datetime64 or array of times, broadcastable against ``position[..., 0]``
    position : array_like (..., 3)
        Positions in R_E in ``frame``.
    frame : str
        Frame of the positions and of the returned field.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.datetime64("2020-01-01")
    >>> b = dipole_field(t, [0.0, 0.0, 1.0], frame="SM")     # at the northern dipole pole
    >>> b.round(1)                                         # -2 B0 along z (pointing down)
    array([    -0. ,     -0. , -59609.4])
    """
    return _dispatch("dipole", time, position, None, frame, irbem_compatible)


def igrf_field(time, position, frame: str = "GEO", irbem_compatible: bool = False) -> np.ndarray:
    """IGRF-14 internal field (nT, components in ``frame``) at positions in R_E.

    Spherical harmonic synthesis to degree 13 (Schmidt semi-normalised functions). Like every field
    function here, a DataArray ``position`` (last dimension x, y, z) gives a DataArray (lazy when
    dask-backed) with ``UNITS="nT"`` and ``COORDINATE_SYSTEM``; ``time`` and ``kp`` may be DataArrays
    broadcasting against it.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.datetime64("2020-01-01")
    >>> b = igrf_field(t, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], frame="GEO")
    >>> np.linalg.norm(b, axis=-1).round(0)          # |B| at (0 N, 0 E) and at the North pole, surface
    array([32063., 56415.])
    """
    return _dispatch("IGRF", time, position, None, frame, irbem_compatible)


def t89_field(time, position, kp, frame: str = "GSM", irbem_compatible: bool = False) -> np.ndarray:
    """Tsyganenko (1989) external field only (nT), for Kp in Kp units (0-9, 2+ = 2.3).

    Examples
    --------
    >>> import numpy as np
    >>> # published check value (GEOPACK test suite): IOPT=2, tilt -0.533585 rad, GSM (-5.1, 0.3, 2.8)
    >>> t = np.datetime64("2001-01-01T02:03:04")
    >>> t89_field(t, [-5.1, 0.3, 2.8], kp=1.0).round(2)
    array([ 20.77,  -0.65, -15.07])
    >>> bool(t89_field(t, [-10.0, 0.0, 4.0], kp=1.0)[0] > 0)   # northern tail lobe: B points sunward
    True
    """
    if kp is None:
        raise FieldModelError("argument 'kp': the T89 model needs Kp (Kp units 0-9, 2+ = 2.3)")
    return _dispatch("T89_EXTERNAL", time, position, kp, frame, irbem_compatible)


def total_field(model: str, time, position, kp=None, frame: str = "GSM", irbem_compatible: bool = False) -> np.ndarray:
    """Field of ``model`` (``"dipole"``, ``"IGRF"``, ``"T89"`` = IGRF + T89) in nT, components in ``frame``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.datetime64("2020-01-01")
    >>> bool(np.allclose(total_field("IGRF", t, [3.0, 1.0, 0.5]), igrf_field(t, [3.0, 1.0, 0.5], frame="GSM")))
    True
    """
    name = str(model).upper() if isinstance(model, str) else None
    if name not in MODELS:
        raise FieldModelError(f"argument 'model': unknown field model {model!r}; expected one of 'dipole', 'IGRF', 'T89'")
    if name == "T89" and kp is None:
        raise FieldModelError("argument 'kp': the T89 model needs Kp (Kp units 0-9, 2+ = 2.3)")
    return _dispatch(name, time, position, kp if name == "T89" else None, frame, irbem_compatible)
