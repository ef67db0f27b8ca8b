"""Adiabatic invariants and Roederer's L* on xarray objects.

:func:`lstar` computes, for each position/time (and each pitch angle), the local and equatorial
field, the mirror field, the second invariant ``I`` and ``K = I sqrt(Bm)``, McIlwain's ``Lm``
(Hilton's formula), the MLT and L* (the drift shell's magnetic flux, ``L* = 2 pi B0 R_E^2 / Phi``).
The numerics (field-line tracing, shell search, flux integral) are numba kernels in
:mod:`xspace.magnetosphere._tracekernels`; this module parses arguments, builds the field
parameters of each time, spreads points over threads and wraps the result in a Dataset.
Dask-backed inputs are computed lazily, block by block (``xr.apply_ufunc(dask="parallelized")``);
every point is independent, so the result does not depend on chunking or batch order.

Accuracy (defaults, measured by ``benchmarks/bench_lstar.py`` and asserted in ``tests/test_lstar.py``):
centred dipole L*, Lm, I, K, Bmirr within 1e-4 (I within 1e-6); IGRF/T89 L* converged to better
than 1e-4 relative (typically 1e-5) against 3x the field lines and 1000x tighter tolerances.

Examples
--------
>>> import numpy as np
>>> ds = lstar(np.datetime64("2015-03-17T12:00"), [4.0, 0.0, 0.0], frame="SM", model="dipole")
>>> round(float(ds.Lstar), 3), round(float(ds.Lm), 3), int(ds.flag)
(4.0, 4.0, 0)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from .._utils import add_history, as_datetime64
from ..errors import FieldModelError, InputError

__all__ = ["lstar", "lstar_of", "drift_shell", "FLAG_MEANINGS", "DEFAULTS"]

R_E_KM = 6371.2

#: Default numerical settings (chosen with benchmarks/bench_lstar.py: accuracy vs cost).
DEFAULTS = {
    "n_lines": 12,  # drift-shell field lines (MLT meridians); L* error ~1e-5 (N = 8: ~2e-4, N = 6: ~2e-3)
    "tolerance": 1e-6,  # tracing: local position error per step, relative to max(1, r); dominates the error
    "shell_tolerance": 1e-4,  # last secant correction of a shell radius (the final secant step is much better)
    "n_quad": 32,  # Gauss–Legendre nodes of the I integral (20 is not enough across thin T89 current sheets)
    "n_flux": 12,  # Gauss–Legendre nodes in colatitude of the polar-cap flux (converged at 8)
    "r_max": 40.0,  # field lines going beyond r_max (R_E) are open
    "max_steps": 4000,  # tracing steps per direction
}

_MODELS = {"DIPOLE": "dipole", "IGRF": "IGRF", "T89": "T89"}


def _flag_meanings():
    from ._tracekernels import FLAG_MEANINGS

    return FLAG_MEANINGS


def __getattr__(name):
    if name == "FLAG_MEANINGS":
        return _flag_meanings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- argument parsing
def _parse_model(model, kp):
    name = str(model).upper() if isinstance(model, str) else None
    if name not in _MODELS:
        raise FieldModelError(f"argument 'model': unknown field model {model!r}; expected 'dipole', 'IGRF' or 'T89'")
    if name == "T89" and kp is None:
        raise FieldModelError("argument 'kp': model 'T89' needs Kp (Kp units 0-9, 2+ = 2.3), got None")
    return _MODELS[name]


def _parse_pitch_angle(pitch_angle):
    if isinstance(pitch_angle, xr.DataArray):
        pitch_angle = pitch_angle.values
    try:
        pa = np.asarray(pitch_angle, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"argument 'pitch_angle': expected degrees in (0, 180), got {pitch_angle!r}") from exc
    if pa.ndim > 1:
        raise InputError(f"argument 'pitch_angle': expected a scalar or 1-D list of degrees, got shape {pa.shape}")
    if not np.all((pa > 0) & (pa < 180)):
        raise InputError(f"argument 'pitch_angle': expected local pitch angles in (0, 180) degrees, got {pitch_angle!r}")
    return pa


def _settings(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise InputError(f"unknown option(s) {sorted(unknown)}; expected some of {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    for key in ("n_lines", "n_quad", "n_flux", "max_steps"):
        if int(s[key]) != s[key] or s[key] < (3 if key == "n_lines" else 2):
            raise InputError(f"argument {key!r}: expected an integer >= 3, got {s[key]!r}")
        s[key] = int(s[key])
    for key in ("tolerance", "shell_tolerance"):
        if not (0 < float(s[key]) < 1e-2):
            raise InputError(f"argument {key!r}: expected a small positive relative tolerance, got {s[key]!r}")
        s[key] = float(s[key])
    if not float(s["r_max"]) > 2:
        raise InputError(f"argument 'r_max': expected a radius in R_E > 2, got {s['r_max']!r}")
    s["r_max"] = float(s["r_max"])
    return s


def _as_dataarray_position(position, like=None) -> xr.DataArray:
    if isinstance(position, xr.DataArray):
        if position.ndim == 0 or position.shape[-1] != 3:
            raise InputError(
                f"argument 'position': expected a trailing dimension of length 3 (x, y, z in R_E), "
                f"got dims {position.dims} with shape {position.shape}"
            )
        units = str(position.attrs.get("UNITS", position.attrs.get("units", ""))).strip().lower()
        if units == "km":
            position = position.astype(np.float64) / R_E_KM
        return position
    try:
        arr = np.asarray(position, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"argument 'position': expected numbers (R_E) with a trailing dimension of 3, got {position!r}") from exc
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise InputError(f"argument 'position': expected a trailing dimension of length 3 (x, y, z in R_E), got shape {arr.shape}")
    lead = arr.ndim - 1
    if isinstance(like, xr.DataArray) and like.ndim == lead and like.shape == arr.shape[:-1]:
        dims = like.dims  # numpy positions along a DataArray of times: share its dimensions
    else:
        dims = ("time",) if lead == 1 else tuple(f"dim_{i}" for i in range(lead))
    return xr.DataArray(arr, dims=dims + ("component",))


def _as_dataarray_like(value, name, lead_dims, kind):
    """Numpy time/kp aligned on the right with the position's leading dims (numpy broadcasting)."""
    if isinstance(value, xr.DataArray):
        return value
    arr = as_datetime64(value, name) if kind == "time" else np.asarray(value, dtype=np.float64)
    if kind == "time" and np.ndim(value) == 0:
        arr = arr.reshape(())
    if arr.ndim > len(lead_dims):
        raise InputError(
            f"argument {name!r}: shape {arr.shape} has more dimensions than the positions' leading shape ({len(lead_dims)} dims)"
        )
    dims = lead_dims[len(lead_dims) - arr.ndim :]
    return xr.DataArray(arr, dims=dims)


# ----------------------------------------------------------------------------- block computation
def _params_rows(model, times, kps, irbem_compatible):
    """Field parameter vector of each (time, kp) point: one vectorised table over the distinct pairs."""
    from .field import make_field_params_batch

    key = np.stack([times.astype("datetime64[ns]").astype(np.int64), np.nan_to_num(kps, nan=-1.0).view(np.int64)], -1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    t_u = uniq[:, 0].astype("datetime64[ns]")
    kp_u = np.ascontiguousarray(uniq[:, 1]).view(np.float64)
    table = make_field_params_batch(model, t_u, kp_u if model == "T89" else None, irbem_compatible)
    return np.ascontiguousarray(table[inv.ravel()])


_SLAB = 4096  # points per parameter table (4096 x 436 float64 = 14 MB)



def _broadcast_points(time, xyz, kp):
    """Broadcast times (...), positions (..., 3) and Kp (...) to flat arrays; also return the common shape."""
    shape = np.broadcast_shapes(np.shape(time), np.shape(xyz)[:-1], np.shape(kp))
    t = np.broadcast_to(np.asarray(time, dtype="datetime64[ns]"), shape).ravel()
    pos = np.broadcast_to(np.asarray(xyz, dtype=np.float64), shape + (3,)).reshape(-1, 3)
    kpf = np.broadcast_to(np.asarray(kp, dtype=np.float64), shape).ravel()
    return shape, t, pos, kpf


def _compute_block(time, xyz, kp, *, model, frame, pitch, irbem_compatible, settings, n_threads, with_lstar,
                   with_geometry=False):
    """numpy block: time (...), xyz (..., 3) in ``frame``, kp (...) -> tuple of output arrays."""
    from numpy.polynomial.legendre import leggauss

    from . import _tracekernels as tk

    shape, t, pos, kpf = _broadcast_points(time, xyz, kp)
    npts = t.size
    na = pitch.size
    out_lstar = np.full((npts, na), np.nan)
    out_lm = np.full((npts, na), np.nan)
    out_k = np.full((npts, na), np.nan)
    out_i = np.full((npts, na), np.nan)
    out_bm = np.full((npts, na), np.nan)
    out_flag = np.full((npts, na), tk.FLAG_INVALID_INPUT, dtype=np.int32)
    out_scalar = np.full((npts, 9), np.nan)
    out_mirror = np.full((npts, na, 6), np.nan)
    valid = ~np.isnat(t) & np.all(np.isfinite(pos), axis=-1)
    if model == "T89":
        valid &= np.isfinite(kpf) & (kpf >= 0) & (kpf <= 9)
    idx = np.nonzero(valid)[0]
    if idx.size:
        gx, gw = leggauss(settings["n_quad"])
        fx, fw = leggauss(settings["n_flux"])
        lm_max = 10.0 if irbem_compatible else np.inf
        n_lines = settings["n_lines"] if with_lstar else 0
        nl = max(n_lines, 1)
        for s0 in range(0, idx.size, _SLAB):
            sl = idx[s0 : s0 + _SLAB]
            m = sl.size
            tv = t[sl]
            pv = pos[sl]
            if frame != "GSM":
                from .coords import transform

                pv = transform(pv, tv, frame, "GSM", irbem_compatible)
            pv = np.ascontiguousarray(pv, dtype=np.float64)
            params = _params_rows(model, tv, kpf[sl] if model == "T89" else np.full(m, np.nan), irbem_compatible)
            sin2 = np.empty((m, na))  # a writable array: one compiled signature for every call
            sin2[:] = np.sin(np.radians(pitch)) ** 2
            res = [np.empty((m, na)) for _ in range(5)] + [np.empty((m, na), np.int32), np.empty((m, 9)), np.empty((m, na, 6))]

            def run(lo, hi, pv=pv, sin2=sin2, params=params, res=res):
                tk.lstar_batch(
                    pv[lo:hi], sin2[lo:hi], params[lo:hi], n_lines, settings["tolerance"], settings["shell_tolerance"],
                    1.0, settings["r_max"], lm_max, bool(irbem_compatible), settings["max_steps"], gx, gw, fx, fw,
                    *[r[lo:hi] for r in res], np.empty((1, na, nl)), np.empty((1, na, nl, 3)),
                )

            nt = max(1, min(int(n_threads), m))
            if nt == 1:
                run(0, m)
            else:
                # several small batches per thread balance the load (L* cost varies from point to point)
                bounds = np.linspace(0, m, min(m, 8 * nt) + 1).astype(int)
                with ThreadPoolExecutor(nt) as pool:
                    list(pool.map(lambda b: run(*b), zip(bounds[:-1], bounds[1:])))
            for dst, src in zip((out_lstar, out_lm, out_k, out_i, out_bm, out_flag, out_scalar, out_mirror), res):
                dst[sl] = src
    # K in R_E G^0.5 (the community unit: IRBEM, SpacePy); the kernel works in nT
    out_k = out_k / np.sqrt(1e5)
    outs = [a.reshape(shape + (na,)) for a in (out_lstar, out_lm, out_k, out_i, out_bm, out_flag)]
    outs += [out_scalar[:, c].reshape(shape) for c in range(3)]
    if with_geometry:
        outs += [out_mirror[:, :, :3].reshape(shape + (na, 3)), out_mirror[:, :, 3:].reshape(shape + (na, 3))]
        outs += [out_scalar[:, 3:6].reshape(shape + (3,)), out_scalar[:, 6:9].reshape(shape + (3,))]
    return tuple(outs)


_ATTRS = {
    "Lstar": dict(UNITS=" ", CATDESC="Roederer's L* (drift-shell magnetic flux invariant)", FIELDNAM="L*", LABLAXIS="L*"),
    "Lm": dict(UNITS=" ", CATDESC="McIlwain's L (exact dipole inversion; Hilton's formula when irbem_compatible)", FIELDNAM="Lm", LABLAXIS="Lm"),
    "K": dict(UNITS="R_E G^0.5", CATDESC="Modified second invariant K = I sqrt(Bmirr)", FIELDNAM="K", LABLAXIS="K"),
    "I": dict(UNITS="R_E", CATDESC="Second invariant I = int sqrt(1 - B/Bmirr) ds between mirror points", FIELDNAM="I", LABLAXIS="I"),
    "Bmirr": dict(UNITS="nT", CATDESC="Magnetic field at the mirror points", FIELDNAM="Bmirr", LABLAXIS="Bmirr"),
    "flag": dict(UNITS=" ", CATDESC="0 = ok; otherwise why L* is NaN (see flag_meanings)", FIELDNAM="flag", LABLAXIS="flag"),
    "Blocal": dict(UNITS="nT", CATDESC="Magnetic field magnitude at the position", FIELDNAM="Blocal", LABLAXIS="Blocal"),
    "Bmin": dict(UNITS="nT", CATDESC="Minimum of |B| along the field line (magnetic equator)", FIELDNAM="Bmin", LABLAXIS="Bmin"),
    "MLT": dict(UNITS="h", CATDESC="Magnetic local time (SM azimuth, noon at the Sun)", FIELDNAM="MLT", LABLAXIS="MLT"),
    "mirror_south": dict(UNITS="R_E", CATDESC="Southern mirror point (GSM)", COORDINATE_SYSTEM="GSM"),
    "mirror_north": dict(UNITS="R_E", CATDESC="Northern mirror point (GSM)", COORDINATE_SYSTEM="GSM"),
    "foot_south": dict(UNITS="R_E", CATDESC="Southern footpoint on the r = 1 R_E sphere (GSM)", COORDINATE_SYSTEM="GSM"),
    "foot_north": dict(UNITS="R_E", CATDESC="Northern footpoint on the r = 1 R_E sphere (GSM)", COORDINATE_SYSTEM="GSM"),
}


def _invariants(time, position, frame, pitch_angle, model, kp, irbem_compatible, with_lstar, n_threads, options):
    from .coords import normalize_frame

    model = _parse_model(model, kp)
    frame = normalize_frame(frame)
    pitch = _parse_pitch_angle(pitch_angle)
    scalar_pitch = pitch.ndim == 0
    pitch = np.atleast_1d(pitch)
    settings = _settings(options)
    pos = _as_dataarray_position(position, like=time)
    comp = pos.dims[-1]
    lead = pos.dims[:-1]
    t = _as_dataarray_like(time, "time", lead, "time")
    if t.dtype.kind != "M":
        raise InputError(f"argument 'time': expected datetime64 values, got dtype {t.dtype}")
    k = _as_dataarray_like(np.nan if kp is None else kp, "kp", lead, "kp")
    lazy = any(a.chunks is not None for a in (pos, t, k))
    if n_threads is None and lazy:
        n_threads = 1  # dask already runs blocks in parallel: no nested thread pools
    if n_threads is None:
        n_threads = os.cpu_count() or 1
    if pos.chunks is not None:
        pos = pos.chunk({comp: -1})
    names = ["Lstar", "Lm", "K", "I", "Bmirr", "flag", "Blocal", "Bmin", "MLT"]
    core = [["pitch_angle"]] * 6 + [[]] * 3
    dtypes = [np.float64] * 5 + [np.int32] + [np.float64] * 3
    geometry = not with_lstar  # field_line_invariants also returns mirror points and footpoints
    if geometry:
        names += ["mirror_south", "mirror_north", "foot_south", "foot_north"]
        core += [["pitch_angle", comp]] * 2 + [[comp]] * 2
        dtypes += [np.float64] * 4
    outs = xr.apply_ufunc(
        _compute_block,
        t,
        pos,
        k,
        input_core_dims=[[], [comp], []],
        output_core_dims=core,
        dask="parallelized",
        output_dtypes=dtypes,
        dask_gufunc_kwargs={"output_sizes": {"pitch_angle": pitch.size, **({comp: 3} if geometry else {})}},
        kwargs=dict(
            model=model, frame=frame, pitch=pitch, irbem_compatible=bool(irbem_compatible), settings=settings,
            n_threads=n_threads, with_lstar=with_lstar, with_geometry=geometry,
        ),
    )
    data = {}
    for name, da in zip(names, outs):
        if not with_lstar and name == "Lstar":
            continue
        attrs = dict(_ATTRS[name])
        if name == "flag":
            meanings = _flag_meanings()
            attrs["flag_values"] = np.array(sorted(meanings), dtype=np.int32)
            attrs["flag_meanings"] = "; ".join(f"{k_}: {v}" for k_, v in sorted(meanings.items()))
        da.attrs = attrs
        data[name] = da
    ds = xr.Dataset(data)
    if not isinstance(time, xr.DataArray) and t.ndim == 1 and t.dims[0] in ds.dims and t.dims[0] not in ds.coords:
        ds = ds.assign_coords({t.dims[0]: t.values})  # numpy times: keep them as the coordinate
    ds = ds.assign_coords(pitch_angle=("pitch_angle", pitch, {"UNITS": "degrees", "CATDESC": "Local pitch angle"}))
    if scalar_pitch:
        ds = ds.isel(pitch_angle=0)
    ds.attrs = add_history(
        {
            "field_model": model,
            "irbem_compatible": int(bool(irbem_compatible)),
            **({"n_lines": settings["n_lines"]} if with_lstar else {}),
            "tolerance": settings["tolerance"],
        },
        f"xspace.magnetosphere.{'lstar' if with_lstar else 'field_line_invariants'}(model={model!r}, frame={frame!r}, "
        f"irbem_compatible={bool(irbem_compatible)})",
    )
    return ds


def lstar(
    time,
    position,
    frame: str = "GSM",
    pitch_angle=90,
    model: str = "T89",
    kp=None,
    irbem_compatible: bool = False,
    *,
    n_threads: int | None = None,
    method: str = "solver",
    **options,
) -> xr.Dataset:
    """Roederer's L*, McIlwain's Lm, the invariants I and K, Bmirr, Bmin, Blocal and MLT.

    Parameters
    ----------
    time : datetime64 scalar/array or DataArray
        Times (UTC), broadcast against ``position[..., 0]`` (numpy arrays align on the right).
    position : array_like or DataArray, shape (..., 3)
        Positions in Earth radii (R_E = 6371.2 km) in ``frame``; the last dimension holds x, y, z.
        A DataArray whose ``UNITS``/``units`` attribute is ``"km"`` is converted. May be dask-backed
        (chunked over time; the component dimension is gathered into one chunk).
    frame : str
        Frame of ``position`` (``"GSM"``, ``"GEO"``, ``"GSE"``, ``"SM"``, ``"MAG"``, ``"GEI"``, ...).
    pitch_angle : float or 1-D sequence
        Local pitch angle(s) in degrees, in (0, 180); several give a ``pitch_angle`` dimension.
    model : {"T89", "IGRF", "dipole"}
        ``"T89"``: IGRF + Tsyganenko 1989; ``"IGRF"``: internal field only; ``"dipole"``: centred
        dipole with the IGRF moment and axis of the epoch.
    kp : float, array or DataArray, optional
        Kp in Kp units (0-9, 2+ = 2.3), broadcast like ``time``; required for ``"T89"``. Points with a
        NaN position, a NaT time or a NaN/out-of-range Kp get NaN results and ``flag`` 1.
    irbem_compatible : bool
        IRBEM's conventions: IGRF at year + 0.5, and no L* when Lm > 10 (flag 9).
    n_threads : int, optional
        Threads used per block (default: all cores for numpy inputs, 1 for dask inputs, whose blocks
        dask already runs in parallel). Points are independent: the result does not depend on it.
    method : {"solver", "surrogate"}
        ``"solver"`` traces the drift shell (this module); ``"surrogate"`` evaluates the shipped neural
        network trained on this solver (T89, Kp 0-6 only; returns ``Lstar`` and ``flag`` only, about
        100x-1000x faster, accuracy in :func:`xspace.magnetosphere.surrogate.surrogate_info`).
    **options
        Numerical settings, defaults in :data:`DEFAULTS`: ``n_lines`` (drift-shell field lines),
        ``tolerance`` (tracing), ``shell_tolerance``, ``n_quad``, ``n_flux``, ``r_max``, ``max_steps``.

    Returns
    -------
    xarray.Dataset
        ``Lstar``, ``Lm``, ``K`` (R_E G^0.5), ``I`` (R_E), ``Bmirr`` (nT), ``flag`` on the broadcast
        dims (+ ``pitch_angle``); ``Blocal``, ``Bmin`` (nT) and ``MLT`` (h) without ``pitch_angle``.
        ``flag`` is 0 when L* is valid, otherwise a code explaining the NaN (attribute
        ``flag_meanings``): open field line, Shabansky orbit, open drift shell, loss cone, ...
        Lazy (dask) when an input is dask-backed.

    Raises
    ------
    InputError
        Positions without a trailing dimension of 3, pitch angles outside (0, 180), bad options.
    FieldModelError
        Unknown model, or T89 without Kp.

    Examples
    --------
    A centred dipole: L* = Lm = the equatorial distance of the field line (SM equator).

    >>> import numpy as np
    >>> t = np.datetime64("2015-03-17T12:00")
    >>> ds = lstar(t, [[4.0, 0.0, 0.0], [0.0, -6.0, 0.0]], frame="SM", pitch_angle=[90, 45], model="dipole")
    >>> ds.Lstar.round(4).values
    array([[4., 4.],
           [6., 6.]])
    >>> sorted(ds.data_vars)
    ['Blocal', 'Bmin', 'Bmirr', 'I', 'K', 'Lm', 'Lstar', 'MLT', 'flag']

    T89 at Kp = 2+ on the nightside:

    >>> ds = lstar(t, [-5.0, 1.0, 0.5], model="T89", kp=2.3)
    >>> bool(4.0 < ds.Lstar < ds.Lm + 0.5), int(ds.flag)
    (True, 0)
    """
    if method == "surrogate":
        from .surrogate import lstar_surrogate

        return lstar_surrogate(time, position, frame=frame, pitch_angle=pitch_angle, model=model, kp=kp,
                               irbem_compatible=irbem_compatible, **options)
    if method != "solver":
        raise InputError(f"lstar: argument 'method' must be 'solver' or 'surrogate', got {method!r}")
    return _invariants(time, position, frame, pitch_angle, model, kp, irbem_compatible, True, n_threads, options)


def lstar_of(obj, position=None, kp=None, frame=None, **kwargs) -> xr.Dataset:
    """:func:`lstar` of a position variable of a Dataset (or of a position DataArray).

    Backs ``ds.space.lstar(position="...", kp=...)``. The time is the variable's time dimension
    coordinate (ISTP ``DEPEND_0`` or the datetime64 dimension), the frame comes from its attributes
    (``COORDINATE_SYSTEM``, a frame in the name or ``CATDESC``) unless ``frame`` is given, and a
    ``UNITS`` of ``km`` is converted to R_E. ``kp`` is a number, a DataArray or the name of a
    variable of the Dataset. Other keywords go to :func:`lstar`.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xspace
    >>> t = np.array(["2015-03-17T12:00", "2015-03-17T12:05"], "datetime64[ns]")
    >>> ds = xr.Dataset({"pos": (("Epoch", "xyz"), [[4.0, 0, 0], [0, 5.0, 0]], {"COORDINATE_SYSTEM": "SM"})},
    ...                 coords={"Epoch": t})
    >>> ds.space.lstar(position="pos", model="dipole").Lstar.round(4).values
    array([4., 5.])
    """
    from .._utils import time_dim
    from .coords import frame_of

    if isinstance(obj, xr.Dataset):
        if position not in obj.data_vars:
            raise InputError(f"argument 'position': {position!r} is not a data variable of the dataset")
        da = obj[position]
        if isinstance(kp, str):
            if kp not in obj.variables:
                raise InputError(f"argument 'kp': {kp!r} is not a variable of the dataset")
            kp = obj[kp]
    else:
        da = obj
    if frame is None:
        frame = frame_of(da)
    tdim = time_dim(da, name=str(da.name or "position"))
    return lstar(da[tdim], da, frame=frame, kp=kp, **kwargs)


def drift_shell(
    time,
    position,
    frame: str = "GSM",
    pitch_angle: float = 90,
    model: str = "T89",
    kp=None,
    irbem_compatible: bool = False,
    **options,
) -> xr.Dataset:
    """The drift shell of one particle: its field lines at N MLTs, their footpoints and L*.

    Parameters are those of :func:`lstar`, for one time, one position and one pitch angle.

    Returns
    -------
    xarray.Dataset
        On dimension ``line`` (the N meridians): ``equator`` (GSM position, R_E, where each shell line
        crosses the SM equatorial plane; dims ``line, component``), ``foot_latitude`` /
        ``foot_mlt`` (SM latitude in degrees and MLT in hours of the northern footpoints on the
        r = 1 R_E sphere); scalars ``Lstar``, ``K``, ``Bmirr``, ``flag``.

    Examples
    --------
    >>> import numpy as np
    >>> sh = drift_shell(np.datetime64("2015-03-17T12:00"), [4.0, 0.0, 0.0], frame="SM", model="dipole")
    >>> sh.foot_latitude.round(3).values[:3]        # 60 degrees: cos^2(lat) = 1/L
    array([60., 60., 60.])
    """
    from numpy.polynomial.legendre import leggauss

    from . import _tracekernels as tk
    from .coords import normalize_frame, transform

    model = _parse_model(model, kp)
    frame = normalize_frame(frame)
    settings = _settings(options)
    pa = _parse_pitch_angle(pitch_angle)
    if pa.ndim != 0:
        raise InputError(f"argument 'pitch_angle': drift_shell takes one pitch angle, got {pitch_angle!r}")
    t = as_datetime64(time, "time")
    if t.size != 1:
        raise InputError(f"argument 'time': drift_shell takes one time, got {t.size}")
    pos = np.asarray(_as_dataarray_position(position).values, dtype=np.float64)
    if pos.size != 3:
        raise InputError(f"argument 'position': drift_shell takes one position (3 values), got shape {pos.shape}")
    pos = pos.reshape(1, 3)
    if frame != "GSM":
        pos = transform(pos, t, frame, "GSM", irbem_compatible)
    params = _params_rows(model, t.ravel(), np.array([np.nan if kp is None else float(kp)]), irbem_compatible)
    nl = settings["n_lines"]
    gx, gw = leggauss(settings["n_quad"])
    fx, fw = leggauss(settings["n_flux"])
    sin2 = np.array([[np.sin(np.radians(float(pa))) ** 2]])
    outs = [np.full((1, 1), np.nan) for _ in range(5)]
    flag = np.zeros((1, 1), np.int32)
    scal = np.full((1, 9), np.nan)
    mirror = np.full((1, 1, 6), np.nan)
    shell_r = np.full((1, 1, nl), np.nan)
    shell_foot = np.full((1, 1, nl, 3), np.nan)
    tk.lstar_batch(
        np.ascontiguousarray(pos), sin2, params, nl, settings["tolerance"], settings["shell_tolerance"], 1.0,
        settings["r_max"], 10.0 if irbem_compatible else np.inf, bool(irbem_compatible), settings["max_steps"],
        gx, gw, fx, fw, *outs, flag, scal, mirror, shell_r, shell_foot,
    )
    outs = [o[0] for o in outs]
    flag = flag[0]
    shell_r = shell_r[0]
    shell_foot = shell_foot[0]
    tilt = params[0, 1]
    if flag[0] == 0:
        r = shell_r[0]
        phis = shell_foot[0, :, 2]
        xs, ys = r * np.cos(phis), r * np.sin(phis)
        eq = np.stack([xs * np.cos(tilt), ys, -xs * np.sin(tilt)], -1)
    else:
        shell_foot[:] = np.nan
        eq = np.full((nl, 3), np.nan)
    lat = 90.0 - np.degrees(shell_foot[0, :, 0])
    fmlt = (12.0 + np.degrees(shell_foot[0, :, 1]) / 15.0) % 24.0
    return xr.Dataset(
        {
            "equator": (("line", "component"), eq, {"UNITS": "R_E", "CATDESC": "SM-equator crossing of each shell line (GSM)"}),
            "foot_latitude": ("line", lat, {"UNITS": "degrees", "CATDESC": "SM latitude of the northern footpoint (r = 1 R_E)"}),
            "foot_mlt": ("line", fmlt, {"UNITS": "h", "CATDESC": "MLT of the northern footpoint"}),
            "Lstar": ((), outs[0][0], _ATTRS["Lstar"]),
            "K": ((), outs[2][0] / np.sqrt(1e5), _ATTRS["K"]),
            "Bmirr": ((), outs[4][0], _ATTRS["Bmirr"]),
            "flag": ((), flag[0], _ATTRS["flag"]),
        },
        attrs={"field_model": model, "n_lines": nl},
    )

