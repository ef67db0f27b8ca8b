"""A fast neural-network surrogate of the T89 L* solver (numpy inference, weights shipped).

:func:`lstar_surrogate` predicts Roederer's L* for the Tsyganenko 1989 model (IGRF + T89, Kp 0-6)
with two small multilayer perceptrons trained on :func:`xspace.magnetosphere.lstar` itself (like
LANL*, but trained here): a regressor for ``log(L* / L_dipole)`` and a classifier for "the drift
shell is closed and the regressor is within 1.5 % there" (it rejects open shells and the region
next to the last closed drift shell where the regressor is unreliable). The training code is ``tools/train_lstar_surrogate.py``; the weights, input
normalisation, domain and the held-out error statistics are in
``xspace/data/lstar_surrogate_t89.npz`` (see :func:`surrogate_info`).

Inputs (all derived from time, position, pitch angle and Kp):

- position in SM: radial distance ``r``, magnetic latitude ``lambda``, the dipole shell
  ``L_dipole = r / cos^2(lambda)``, MLT as ``sin``/``cos`` of its angle;
- time: dipole tilt (day of year and UT), UT angle (the IGRF frame turning under the dipole) and the
  decimal year (secular variation of IGRF);
- pitch angle: the dipole estimate of the equatorial pitch angle of the local one;
- Kp: the T89 activity level (IOPT 1-7 from Kp as IRBEM does, one-hot: T89 is a step function of Kp).

Frame rotations (position to SM, dipole tilt) are computed by
:func:`xspace.magnetosphere.coords.rotation_matrix` once per distinct time; when many times share
a 10-minute bin the rotations are evaluated at the bin edges and interpolated linearly (an angular
error below 3e-4 rad, far below the surrogate's own error).

Examples
--------
>>> import numpy as np
>>> ds = lstar_surrogate(np.datetime64("2015-03-17T12:00"), [-5.0, 1.0, 0.5], kp=2.3)
>>> bool(4.0 < float(ds.Lstar) < 5.5), int(ds.flag)
(True, 0)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr

from .._utils import add_history
from ..errors import FieldModelError, InputError

__all__ = ["lstar_surrogate", "surrogate_info", "FLAG_MEANINGS", "WEIGHTS_FILE"]

#: Name of the shipped weights file in :mod:`xspace.data`.
WEIGHTS_FILE = "lstar_surrogate_t89.npz"

FLAG_OK = 0
FLAG_INVALID_INPUT = 1
FLAG_OUTSIDE_DOMAIN = 2
FLAG_NOT_CLOSED = 3

#: Meaning of the surrogate's ``flag`` values (L* is NaN whenever the flag is not 0).
FLAG_MEANINGS = {
    FLAG_OK: "ok",
    FLAG_INVALID_INPUT: "invalid input (NaN position, NaT time or NaN Kp)",
    FLAG_OUTSIDE_DOMAIN: "outside the surrogate's domain (radius, magnetic latitude, dipole L, pitch angle, Kp or year)",
    FLAG_NOT_CLOSED: "the classifier predicts an open drift shell, or the unreliable region next to the last closed one",
}

_GRID_NS = np.int64(600 * 10**9)  # rotation interpolation bin: 10 minutes


# ----------------------------------------------------------------------------- the model
@lru_cache(maxsize=None)
def _load(path: str | None = None) -> dict:
    from ..data import get_path

    with np.load(path or get_path(WEIGHTS_FILE), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def surrogate_info() -> dict:
    """Domain, architecture and held-out error statistics of the shipped surrogate.

    Returns
    -------
    dict
        ``domain``: ranges of ``r`` (R_E), SM ``magnetic_latitude`` (degrees), ``dipole_L``
        (``r / cos^2(latitude)``), local ``pitch_angle`` (degrees), ``kp`` and ``year``;
        ``layers`` of the regressor and of the classifier, ``n_train`` training samples and
        ``heldout``: median, 95th percentile and maximum relative L* error (fractions) on the
        held-out points the classifier accepts, and the classifier's rejection rates.

    Examples
    --------
    >>> info = surrogate_info()
    >>> sorted(info["domain"])
    ['dipole_L', 'kp', 'magnetic_latitude', 'pitch_angle', 'r', 'year']
    >>> info["heldout"]["median"] < 0.01
    True
    """
    m = _load()
    dom = {
        "r": (float(m["r_min"]), float(m["r_max"])),
        "magnetic_latitude": (-float(m["lat_max"]), float(m["lat_max"])),
        "dipole_L": (float(m["r_min"]), float(m["ldip_max"])),
        "pitch_angle": (float(m["pa_min"]), 180.0 - float(m["pa_min"])),
        "kp": (0.0, float(m["kp_max"])),
        "year": (int(m["year_min"]), int(m["year_max"])),
    }
    held = {k[len("heldout_"):]: float(m[k]) for k in m if k.startswith("heldout_")}
    return {
        "domain": dom,
        "layers": {
            "regressor": [int(m["reg_w0"].shape[0])] + [int(m[f"reg_w{i}"].shape[1]) for i in range(int(m["reg_n"]))],
            "classifier": [int(m["cls_w0"].shape[0])] + [int(m[f"cls_w{i}"].shape[1]) for i in range(int(m["cls_n"]))],
        },
        "n_train": int(m["n_train"]),
        "heldout": held,
    }


_ROWS = 8192  # rows per pass: the hidden activations stay in cache


def _mlp(x, m, prefix):
    """tanh hidden layers, linear output (x already normalised).

    float64: BLAS sums in an order that depends on the batch, so results of the same point computed in
    different batches (dask chunks) may differ in the last bits (~1e-15 relative).
    """
    n = int(m[f"{prefix}_n"])
    layers = [(m[f"{prefix}_w{i}"], m[f"{prefix}_b{i}"]) for i in range(n)]
    out = np.empty(x.shape[0])
    for lo in range(0, x.shape[0], _ROWS):
        h = x[lo : lo + _ROWS]
        for i, (w, b) in enumerate(layers):
            h = h @ w
            h += b
            if i < len(layers) - 1:
                np.tanh(h, out=h)
        out[lo : lo + _ROWS] = h[:, 0]
    return out


def _kp_level(kp):
    """T89 activity level IOPT 1-7 from Kp (vectorised :func:`xspace.magnetosphere.field.kp_to_iopt`)."""
    return np.minimum(7, 1 + np.floor(kp + 0.5)).astype(np.int64)


def features(sm, tilt, year, ut_angle, pitch, kp):
    """Network inputs (n, 17) from SM positions (n, 3), tilt (rad), decimal year, UT angle (rad),
    local pitch angle folded into (0, 90] degrees and Kp. Also used by the training script.

    Examples
    --------
    >>> f = features(np.array([[5.0, 0, 0]]), np.zeros(1), np.full(1, 2015.0), np.zeros(1), np.full(1, 90.0), np.ones(1))
    >>> f.shape, float(f[0, 0]), float(f[0, 10])        # L_dipole, equatorial pitch angle (rad)
    ((1, 17), 5.0, 1.5707963267948966)
    """
    r = np.sqrt(np.sum(sm * sm, axis=-1))
    sinlat = sm[:, 2] / r
    coslat2 = 1.0 - sinlat * sinlat
    phi = np.arctan2(sm[:, 1], sm[:, 0])
    sa = np.sin(np.radians(pitch))
    # dipole mapping of the local pitch angle to the equator: sin^2 a_eq = sin^2 a B_eq / B_local
    s2eq = sa * sa * coslat2**3 / np.sqrt(1.0 + 3.0 * sinlat * sinlat)
    out = np.empty((sm.shape[0], 17))
    out[:, 0] = r / coslat2
    out[:, 1] = r
    out[:, 2] = np.arcsin(sinlat)
    out[:, 3] = np.sin(phi)
    out[:, 4] = np.cos(phi)
    out[:, 5] = tilt
    out[:, 6] = year
    out[:, 7] = np.sin(ut_angle)
    out[:, 8] = np.cos(ut_angle)
    out[:, 9] = tilt * np.cos(phi)
    out[:, 10] = np.arcsin(np.sqrt(np.clip(s2eq, 0.0, 1.0)))
    level = _kp_level(kp)
    out[:, 11:] = 0.0
    # levels 1-7 -> 6 one-hot columns (level 1 is all zeros)
    for k in range(2, 8):
        out[:, 9 + k] = level == k
    return out


def predict(feat, model=None):
    """(log(L*/L_dipole) -> L*, closed-shell probability) for a feature matrix (n, 17).

    Examples
    --------
    >>> f = features(np.array([[5.0, 0, 0]]), np.zeros(1), np.full(1, 2015.0), np.zeros(1), np.full(1, 90.0), np.ones(1))
    >>> lst, p = predict(f)
    >>> bool(4.5 < lst[0] < 5.2), bool(p[0] > 0.5)
    (True, True)
    """
    m = _load() if model is None else model
    x = (feat - m["feature_mean"]) / m["feature_std"]
    y = _mlp(x, m, "reg") * float(m["target_std"]) + float(m["target_mean"])
    logit = _mlp(x, m, "cls")
    p = 0.5 * (1.0 + np.tanh(0.5 * logit))  # logistic without overflow warnings
    return feat[:, 0] * np.exp(y), p


# ----------------------------------------------------------------------------- time-dependent rotations
def _rotations(t_ns, frame):
    """(frame -> SM rotation (n, 3, 3), dipole tilt (n,) rad) of int64 ns times (all valid)."""
    from .coords import rotation_matrix

    def at(times_ns):
        tt = times_ns.astype("datetime64[ns]")
        rot = rotation_matrix(tt, frame, "SM")
        gsm = rot if frame == "GSM" else rotation_matrix(tt, "GSM", "SM")
        return rot, np.arcsin(np.clip(gsm[:, 2, 0], -1.0, 1.0))

    uniq, inv = np.unique(t_ns, return_inverse=True)
    inv = inv.ravel()
    node = uniq // _GRID_NS
    nodes, ninv = np.unique(node, return_inverse=True)
    if 2 * nodes.size >= uniq.size:  # no saving: evaluate at each distinct time
        rot, tilt = at(uniq)
        return rot[inv], tilt[inv]
    edges = np.concatenate([nodes, nodes + 1]) * _GRID_NS
    rot_e, tilt_e = at(edges)
    k = nodes.size
    w = ((uniq - nodes[ninv.ravel()] * _GRID_NS) / float(_GRID_NS))
    ninv = ninv.ravel()
    rot = rot_e[ninv] * (1.0 - w)[:, None, None] + rot_e[k + ninv] * w[:, None, None]
    tilt = tilt_e[ninv] * (1.0 - w) + tilt_e[k + ninv] * w
    return rot[inv], tilt[inv]


def _decimal_year(t_ns):
    t = t_ns.astype("datetime64[ns]")
    y = t.astype("datetime64[Y]")
    start = y.astype("datetime64[ns]").astype(np.int64)
    end = (y + 1).astype("datetime64[ns]").astype(np.int64)
    return y.astype(np.int64) + 1970 + (t_ns - start) / (end - start)


def _ut_angle(t_ns):
    day = np.int64(86400 * 10**9)
    return 2.0 * np.pi * (t_ns % day) / float(day)


def _block(time, xyz, kp, *, frame, pitch):
    """numpy block: time (...), xyz (..., 3), kp (...) -> Lstar, flag, closed probability (..., n_pitch)."""
    m = _load()
    from .lstar import _broadcast_points

    shape, t, pos, kpf = _broadcast_points(time, xyz, kp)
    na = pitch.size
    npts = t.size
    lst = np.full((npts, na), np.nan)
    prob = np.full((npts, na), np.nan)
    flag = np.full((npts, na), FLAG_INVALID_INPUT, dtype=np.int32)
    valid = ~np.isnat(t) & np.all(np.isfinite(pos), axis=-1) & np.isfinite(kpf)
    idx = np.nonzero(valid)[0]
    if idx.size:
        t_ns = t[idx].astype(np.int64)
        rot, tilt = _rotations(t_ns, frame)
        sm = np.einsum("nij,nj->ni", rot, pos[idx])
        year = _decimal_year(t_ns)
        ut = _ut_angle(t_ns)
        kv = kpf[idx]
        r = np.sqrt(np.sum(sm * sm, axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            sinlat = sm[:, 2] / r
            lat = np.degrees(np.arcsin(sinlat))
            ldip = r / (1.0 - sinlat * sinlat)
        inside = (
            (r >= float(m["r_min"])) & (r <= float(m["r_max"])) & (np.abs(lat) <= float(m["lat_max"]))
            & (ldip <= float(m["ldip_max"]))
            & (kv >= 0.0) & (kv <= float(m["kp_max"]))
            & (year >= float(m["year_min"])) & (year < float(m["year_max"]))
        )
        folded = np.minimum(pitch, 180.0 - pitch)
        pa_ok = folded >= float(m["pa_min"])
        threshold = float(m["threshold"])
        for a in range(na):
            sel = inside & pa_ok[a]
            rows = idx[sel]
            flag[idx[~sel], a] = FLAG_OUTSIDE_DOMAIN
            if rows.size == 0:
                continue
            f = features(sm[sel], tilt[sel], year[sel], ut[sel], np.full(rows.size, folded[a]), kv[sel])
            value, p = predict(f, m)
            closed = p >= threshold
            lst[rows, a] = np.where(closed, value, np.nan)
            prob[rows, a] = p
            flag[rows, a] = np.where(closed, FLAG_OK, FLAG_NOT_CLOSED)
    return tuple(a.reshape(shape + (na,)) for a in (lst, flag, prob))


# ----------------------------------------------------------------------------- public function
def lstar_surrogate(
    time,
    position,
    frame: str = "GSM",
    pitch_angle=90,
    model: str = "T89",
    kp=None,
    irbem_compatible: bool = False,
    **ignored,
) -> xr.Dataset:
    """Roederer's L* for T89 (Kp 0-6) from the shipped neural-network surrogate of :func:`lstar`.

    About 100x-1000x faster than the solver, at the accuracy measured on held-out points
    (:func:`surrogate_info`; see ``docs/lstar_surrogate.md``). Points outside the training domain,
    or whose drift shell the classifier predicts open, get NaN and a non-zero ``flag``.

    Parameters
    ----------
    time : datetime64 scalar/array or DataArray
        Times (UTC), broadcast against ``position[..., 0]`` (numpy arrays align on the right).
    position : array_like or DataArray, shape (..., 3)
        Positions in Earth radii in ``frame``; a DataArray with ``UNITS="km"`` is converted. May be dask-backed.
    frame : str
        Frame of ``position`` (``"GSM"``, ``"GEO"``, ``"GSE"``, ``"SM"``, ``"MAG"``, ``"GEI"``, ...).
    pitch_angle : float or 1-D sequence
        Local pitch angle(s) in degrees, in (0, 180); several give a ``pitch_angle`` dimension.
        The domain is [10, 170] degrees (L* is symmetric about 90).
    model : str
        Only ``"T89"`` (the model the surrogate was trained on); accepted for compatibility with :func:`lstar`.
    kp : float, array or DataArray
        Kp in Kp units (2+ = 2.3), broadcast like ``time``; the domain is 0-6.
    irbem_compatible : bool
        Only ``False`` (the solver's conventions the surrogate was trained with).
    **ignored
        Numerical options of :func:`lstar` (``n_lines``, ``n_threads``, ...) are accepted and ignored.

    Returns
    -------
    xarray.Dataset
        ``Lstar``, ``flag`` (0 ok, 1 invalid input, 2 outside the domain, 3 predicted open drift
        shell or unreliable region; see ``flag_meanings``) and ``closed_probability`` (the classifier's output)
        on the broadcast dims of the inputs (+ ``pitch_angle`` for several pitch angles).
        Lazy (dask) when an input is dask-backed.

    Raises
    ------
    InputError
        Positions without a trailing dimension of 3, times that are not datetime64, pitch angles
        outside (0, 180), non-numeric Kp, ``irbem_compatible=True``.
    FieldModelError
        ``model`` other than ``"T89"``, or no Kp.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.datetime64("2015-03-17T12:00")
    >>> ds = lstar_surrogate(t, [[-5.0, 1.0, 0.5], [-12.0, 0.0, 0.0]], pitch_angle=[90, 45], kp=2.3)
    >>> ds.flag.values                      # the second point is outside the domain (r > 8 R_E)
    array([[0, 0],
           [2, 2]], dtype=int32)
    >>> from xspace.magnetosphere import lstar
    >>> exact = lstar(t, [-5.0, 1.0, 0.5], pitch_angle=[90, 45], kp=2.3)
    >>> bool(np.all(abs(ds.Lstar[0] / exact.Lstar - 1) < 0.02))
    True
    """
    from .coords import normalize_frame
    from .lstar import _as_dataarray_like, _as_dataarray_position, _parse_pitch_angle

    name = str(model).upper() if isinstance(model, str) else None
    if name != "T89":
        raise FieldModelError(f"argument 'model': the L* surrogate is trained for 'T89' only, got {model!r}")
    if kp is None:
        raise FieldModelError("argument 'kp': the T89 surrogate needs Kp (Kp units 0-6, 2+ = 2.3), got None")
    if irbem_compatible:
        raise InputError("argument 'irbem_compatible': the surrogate is trained on the solver's default conventions; use False")
    frame = normalize_frame(frame)
    pitch = _parse_pitch_angle(pitch_angle)
    scalar_pitch = pitch.ndim == 0
    pitch = np.atleast_1d(pitch)
    pos = _as_dataarray_position(position)
    comp = pos.dims[-1]
    lead = pos.dims[:-1]
    t = _as_dataarray_like(time, "time", lead, "time")
    if t.dtype.kind != "M":
        raise InputError(f"argument 'time': expected datetime64 values, got dtype {t.dtype}")
    try:
        k = _as_dataarray_like(kp, "kp", lead, "kp")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"argument 'kp': expected numbers in Kp units (0-6), got {kp!r}") from exc
    if k.dtype.kind not in "fiu":
        raise InputError(f"argument 'kp': expected numbers in Kp units (0-6), got dtype {k.dtype}")
    if pos.chunks is not None:
        pos = pos.chunk({comp: -1})
    lst, flag, prob = xr.apply_ufunc(
        _block,
        t,
        pos,
        k,
        input_core_dims=[[], [comp], []],
        output_core_dims=[["pitch_angle"]] * 3,
        dask="parallelized",
        output_dtypes=[np.float64, np.int32, np.float64],
        dask_gufunc_kwargs={"output_sizes": {"pitch_angle": pitch.size}},
        kwargs=dict(frame=frame, pitch=pitch),
    )
    lst.attrs = dict(
        UNITS=" ", CATDESC="Roederer's L* (T89), neural-network surrogate of xspace.magnetosphere.lstar",
        FIELDNAM="L*", LABLAXIS="L*",
    )
    flag.attrs = dict(
        UNITS=" ", CATDESC="0 = ok; otherwise why L* is NaN (see flag_meanings)", FIELDNAM="flag", LABLAXIS="flag",
        flag_values=np.array(sorted(FLAG_MEANINGS), dtype=np.int32),
        flag_meanings="; ".join(f"{key}: {text}" for key, text in sorted(FLAG_MEANINGS.items())),
    )
    prob.attrs = dict(
        UNITS=" ", CATDESC="Classifier probability that the drift shell is closed", FIELDNAM="P(closed)",
        LABLAXIS="P(closed)",
    )
    ds = xr.Dataset({"Lstar": lst, "flag": flag, "closed_probability": prob})
    ds = ds.assign_coords(pitch_angle=("pitch_angle", pitch, {"UNITS": "degrees", "CATDESC": "Local pitch angle"}))
    if scalar_pitch:
        ds = ds.isel(pitch_angle=0)
    ds.attrs = add_history(
        {"field_model": "T89", "method": "surrogate"},
        f"xspace.magnetosphere.surrogate.lstar_surrogate(frame={frame!r}) with {WEIGHTS_FILE}",
    )
    return ds

