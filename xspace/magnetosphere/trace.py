"""Field-line tracing and the invariants of one field line (no drift shell).

:func:`trace_field_line` returns the traced line (adaptive Dormand–Prince 5(4) Runge–Kutta along
the field direction, footpoints on the sphere ``r = 1 + altitude/R_E``), optionally resampled at a
fixed arc-length step through the integrator's continuous extension.
:func:`field_line_invariants` gives, for many points at once, Blocal, Bmin (magnetic equator), the
mirror field for a local pitch angle (Bmirr = Blocal / sin^2(alpha)), I, K = I sqrt(Bmirr), Lm
(McIlwain, Hilton's formula) and MLT — the same quantities as :func:`xspace.magnetosphere.lstar`
without the drift shell (one trace per point, so much cheaper).

Examples
--------
>>> import numpy as np
>>> line = trace_field_line(np.datetime64("2020-01-01"), [3.0, 0.0, 0.0], model="dipole", frame="SM")
>>> float(line.B.min().round(1)), int(line.status_north)     # B0 / 27 at the equator; 0 = closed
(1104.0, 0)
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._utils import as_datetime64
from ..errors import InputError
from .lstar import R_E_KM, _invariants, _parse_model, _params_rows, _settings, _as_dataarray_position

__all__ = ["trace_field_line", "field_line_invariants"]

_STATUS = "0: reached the footpoint sphere; 2: open (beyond r_max); 3: step limit"


def trace_field_line(
    time,
    position,
    model: str = "T89",
    kp=None,
    frame: str = "GSM",
    irbem_compatible: bool = False,
    *,
    altitude_km: float = 0.0,
    step: float | None = None,
    tolerance: float = 1e-6,
    r_max: float = 40.0,
    max_steps: int = 4000,
) -> xr.Dataset:
    """Trace the field line through one point to both footpoints.

    Parameters
    ----------
    time : datetime64 (one time)
    position : array_like (3,)
        Point in R_E in ``frame``.
    model, kp, irbem_compatible
        As in :func:`xspace.magnetosphere.lstar`.
    frame : str
        Frame of ``position``; the returned line is in GSM.
    altitude_km : float
        Footpoint altitude above the r = 1 R_E sphere (km).
    step : float, optional
        Resample the line at this arc-length step (R_E) with the integrator's dense output;
        default: the adaptive integration nodes.
    tolerance, r_max, max_steps
        Local position error per step (relative to max(1, r)), open-line radius (R_E), step limit.

    Returns
    -------
    xarray.Dataset
        On dimension ``s`` (arc length in R_E along B, 0 at the given point, negative towards the
        southern footpoint): ``position`` (GSM, R_E; dims ``s, component``) and ``B`` (nT); scalar
        ``status_south``/``status_north`` (0 footpoint reached, 2 open, 3 step limit).

    Examples
    --------
    A dipole line of L = 3 reaches the ground at cos^2(latitude) = 1/3:

    >>> import numpy as np
    >>> line = trace_field_line(np.datetime64("2020-01-01"), [3.0, 0.0, 0.0], model="dipole", frame="SM")
    >>> north = line.position.isel(s=-1).values
    >>> from xspace.magnetosphere.coords import transform
    >>> z_sm = transform(north, np.datetime64("2020-01-01"), "GSM", "SM")[2]
    >>> round(float(np.degrees(np.arcsin(z_sm))), 4), round(float(np.degrees(np.arccos(np.sqrt(1 / 3)))), 4)
    (54.7356, 54.7356)
    """
    from . import _tracekernels as tk
    from .coords import normalize_frame, transform

    model = _parse_model(model, kp)
    frame = normalize_frame(frame)
    settings = _settings({"tolerance": tolerance, "r_max": r_max, "max_steps": max_steps})
    t = as_datetime64(time, "time")
    if t.size != 1:
        raise InputError(f"argument 'time': trace_field_line takes one time, got {t.size}")
    pos = np.asarray(_as_dataarray_position(position).values, dtype=np.float64)
    if pos.size != 3:
        raise InputError(f"argument 'position': trace_field_line takes one position (3 values), got shape {pos.shape}")
    if not (np.isfinite(altitude_km) and altitude_km > -1000.0):
        raise InputError(f"argument 'altitude_km': expected a finite altitude in km above r = 1 R_E, got {altitude_km!r}")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise InputError(f"argument 'step': expected a positive arc-length step in R_E, got {step!r}")
    pos = pos.reshape(1, 3)
    if frame != "GSM":
        pos = transform(pos, t, frame, "GSM", irbem_compatible)
    params = _params_rows(model, t.ravel(), np.array([np.nan if kp is None else float(kp)]), irbem_compatible)[0]
    r_foot = 1.0 + altitude_km / R_E_KM
    if np.linalg.norm(pos) < r_foot:
        raise InputError(f"argument 'position': the point is below the footpoint sphere r = {r_foot:.6f} R_E")
    w = tk.new_work(settings["max_steps"])
    n, st_s, st_n = tk.trace_line(
        pos[0, 0], pos[0, 1], pos[0, 2], params, False, 0.0, settings["tolerance"], r_foot, settings["r_max"],
        settings["max_steps"], w,
    )
    lu, lp, lb = w[10][:n].copy(), w[11][:n].copy(), w[12][:n].copy()
    if step is not None:
        s_new = np.concatenate([-np.arange(0.0, -lu[0], step)[:0:-1], np.arange(0.0, lu[-1], step), [lu[-1]]])
        s_new = np.concatenate([[lu[0]], s_new]) if s_new[0] > lu[0] else s_new
        xyz = np.empty((s_new.size, 3))
        b = np.empty(s_new.size)
        for i, u in enumerate(s_new):
            xyz[i] = tk.line_position(u, n, w[10], w[13], w[14], w[15])
            b[i] = tk.field_magnitude(xyz[i, 0], xyz[i, 1], xyz[i, 2], params)
        lu, lp, lb = s_new, xyz, b
    return xr.Dataset(
        {
            "position": (("s", "component"), lp, {"UNITS": "R_E", "CATDESC": "Field-line point (GSM)", "COORDINATE_SYSTEM": "GSM"}),
            "B": ("s", lb, {"UNITS": "nT", "CATDESC": "Field magnitude along the line"}),
            "status_south": ((), int(st_s), {"CATDESC": _STATUS}),
            "status_north": ((), int(st_n), {"CATDESC": _STATUS}),
        },
        coords={"s": ("s", lu, {"UNITS": "R_E", "CATDESC": "Arc length along B from the given point"})},
        attrs={"field_model": model, "footpoint_radius": r_foot},
    )


def field_line_invariants(
    time,
    position,
    frame: str = "GSM",
    pitch_angle=90,
    model: str = "T89",
    kp=None,
    irbem_compatible: bool = False,
    *,
    n_threads: int | None = None,
    **options,
) -> xr.Dataset:
    """Blocal, Bmin, Bmirr, I, K, Lm and MLT of many points (one field-line trace each, no L*).

    Arguments and output are those of :func:`xspace.magnetosphere.lstar` without ``Lstar``
    (``n_lines`` is not used), plus the geometry of each line: ``mirror_south`` / ``mirror_north``
    (GSM, R_E; dims ``..., pitch_angle, component``; both at Bmin when the particle mirrors there) and
    ``foot_south`` / ``foot_north`` (GSM, R_E, on the r = 1 R_E sphere).

    Examples
    --------
    Dipole, L = 4, 45 degrees at the equator: Bmirr = 2 Bmin, Lm = 4.

    >>> import numpy as np
    >>> ds = field_line_invariants(np.datetime64("2020-01-01"), [4.0, 0.0, 0.0], frame="SM",
    ...                            pitch_angle=45, model="dipole")
    >>> round(float(ds.Bmirr / ds.Bmin), 6), round(float(ds.Lm), 3)
    (2.0, 4.0)
    >>> from xspace.magnetosphere.coords import transform
    >>> m = transform(ds.mirror_north.values, np.datetime64("2020-01-01"), "GSM", "SM")
    >>> round(float(np.degrees(np.arcsin(m[2] / np.linalg.norm(m)))), 2)   # cos^6 l = sqrt(1 + 3 sin^2 l) / 2
    23.13
    """
    return _invariants(time, position, frame, pitch_angle, model, kp, irbem_compatible, False, n_threads, options)
