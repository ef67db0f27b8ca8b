"""Field-aligned (MFA/FAC) and minimum-variance frames for vector time series.

* :func:`field_aligned_matrix` builds, per sample, the rotation matrix whose rows are the FAC unit
  vectors expressed in the input frame (z along the background field); :func:`rotate` applies any
  such (time, 3, 3) matrices to a vector series, with quaternion slerp when the matrix and vector
  time grids differ; :func:`to_field_aligned` does both.
* :func:`mva` is the minimum-variance analysis (Sonnerup & Scheible 1998), on the whole interval or
  on sliding windows.

numpy- and dask-backed inputs are supported; dask inputs stay lazy (the numba kernels of
:mod:`xspace.analysis._signal_kernels` run per chunk).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xspace.analysis.frames import to_field_aligned
>>> t = np.array(["2022-01-01T00", "2022-01-01T01"], "datetime64[ns]")
>>> B = xr.DataArray([[3.0, 4.0, 12.0]] * 2, dims=("Epoch", "comp"), coords={"Epoch": t},
...                  attrs={"UNITS": "nT", "COORDINATE_SYSTEM": "GSE"})
>>> to_field_aligned(B).values.round(12) + 0.0   # (+0.0 turns -0. into 0.)
array([[ 0.,  0., 13.],
       [ 0.,  0., 13.]])
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._utils import as_timedelta, derived_attrs, time_dim
from ..errors import InputError
from .signal import (
    DEFAULT_GAP_FACTOR,
    _component_dim,
    _is_dask,
    _max_gap_ns,
    _times_ns,
    interp_like,
    running_mean,
)

__all__ = ["field_aligned_matrix", "rotate", "to_field_aligned", "mva", "REFERENCES"]

#: reference directions of :func:`field_aligned_matrix` (pySPEDAS ``fac_matrix_make`` names)
REFERENCES = ("xgse", "ygsm", "rgeo", "mrgeo", "phigeo", "mphigeo")
FAC_LABELS = ["perp1", "perp2", "parallel"]
MVA_LABELS = ["max", "intermediate", "min"]


# ----------------------------------------------------------------------------- FAC matrices
def _on_times_of(v: xr.DataArray, target: xr.DataArray, tdim, name):
    """``v`` on the time grid of ``target`` (linear interpolation when the grids differ)."""
    vdim = time_dim(v, name=f"argument {name!r}")
    if v.sizes[vdim] == target.sizes[tdim] and np.array_equal(v[vdim].values, target[tdim].values):
        return v.rename({vdim: tdim}) if vdim != tdim else v
    out = interp_like(v, target, method="linear")
    return out


def _fac_kernel(background, reference, reference_is_y):
    from ._signal_kernels import fac_matrices

    b = np.ascontiguousarray(background, dtype=np.float64)
    r = np.ascontiguousarray(np.broadcast_to(reference, b.shape), dtype=np.float64)
    lead = b.shape[:-1]
    out = fac_matrices(b.reshape(-1, 3), r.reshape(-1, 3), reference_is_y)
    return out.reshape(lead + (3, 3))


def _fac_inputs(B, reference, position, background, component_dim):
    """Background field and reference direction on B's time grid (see field_aligned_matrix)."""
    comp = _component_dim(B, component_dim, "B")
    tdim = time_dim(B, name="argument 'B'")
    ref = reference.lower() if isinstance(reference, str) else reference
    if ref not in REFERENCES:
        raise InputError(f"argument 'reference': expected one of {REFERENCES}, got {reference!r}")
    if background is None:
        bg = B
    elif isinstance(background, xr.DataArray):
        bcomp = _component_dim(background, None, "background")
        bg = _on_times_of(background, B, tdim, "background")
        if bcomp != comp:
            bg = bg.rename({bcomp: comp})
    else:
        bg = running_mean(B, background)
    bg = bg.drop_vars([k for k in bg.coords if k != tdim], errors="ignore")
    # SPEDAS: ygsm, phigeo and mphigeo put the reference projection on y; xgse, rgeo and mrgeo on x
    reference_is_y = ref in ("ygsm", "phigeo", "mphigeo")
    if ref in ("xgse", "ygsm"):
        r = xr.DataArray(np.eye(3)[0 if ref == "xgse" else 1], dims=comp)
    else:
        if position is None:
            raise InputError(f"argument 'position': required for reference={reference!r} (spacecraft position, "
                             "same frame as B)")
        pcomp = _component_dim(position, None, "position")
        pos = _on_times_of(position, B, tdim, "position")
        if pcomp != comp:
            pos = pos.rename({pcomp: comp})
        pos = pos.drop_vars([k for k in pos.coords if k != tdim], errors="ignore")
        frame_b, frame_p = _frame_or_none(B), _frame_or_none(position)
        rotate_to_b = frame_b is not None and frame_p is not None
        if rotate_to_b and frame_p != "GEO":
            # SPEDAS rgeo/phigeo: the radial/azimuthal directions are those of GEO
            pos = _transform(pos, "GEO", frame_p)
        if ref in ("phigeo", "mphigeo"):
            x, y = pos.isel({comp: 0}), pos.isel({comp: 1})
            pos = xr.concat([-y, x, xr.zeros_like(x)], dim=comp).transpose(*pos.dims)
        r = -pos if ref.startswith("m") else pos
        if rotate_to_b and frame_b != "GEO":
            r = _transform(r, frame_b, "GEO")
    bg = _one_chunk(bg.transpose(..., comp), comp)
    return bg, _one_chunk(r, comp), comp, tdim, reference_is_y


def _frame_or_none(da):
    """The coordinate frame named by a variable's ISTP attributes, or None when they name none."""
    from ..magnetosphere.coords import frame_of

    try:
        return frame_of(da)
    except InputError:
        return None


def _transform(da, to, from_frame):
    from ..magnetosphere.coords import transform_dataarray

    return transform_dataarray(da, to, from_frame=from_frame)


def _one_chunk(x, dim):
    """A dask-backed array gets a single chunk along the (size 3) core dimension ``dim``."""
    return x.chunk({dim: -1}) if _is_dask(x.data) else x


def _fac_rotate_kernel(background, reference, vectors, reference_is_y):
    from ._signal_kernels import fac_rotate

    lead = np.broadcast_shapes(background.shape[:-1], reference.shape[:-1], vectors.shape[:-1])
    args = [np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), lead + (3,))).reshape(-1, 3)
            for a in (background, reference, vectors)]
    return fac_rotate(*args, reference_is_y).reshape(lead + (3,))


def field_aligned_matrix(B, reference: str = "xgse", position=None, background=None, component_dim=None):
    """Field-aligned rotation matrices: rows are the FAC unit vectors in the frame of ``B``.

    ``z`` (row 2, ``parallel``) is the unit background field. With a reference direction ``r``:
    ``y = unit(z × r)`` and ``x = y × z`` — ``x`` (``perp1``) is the part of ``r`` perpendicular to
    the field — for ``xgse`` (r = x-axis of the input frame) and ``rgeo``/``mrgeo`` (r = ±the radial
    direction of ``position``); ``x = unit(r × z)``, ``y = z × x`` — ``y`` (``perp2``) is the part
    of ``r`` perpendicular to the field — for ``ygsm`` (r = y-axis of the input frame) and
    ``phigeo``/``mphigeo`` (r = ±the azimuthal direction ``(-y, x, 0)`` of ``position``, eastward).
    These are the SPEDAS ``fac_matrix_make`` / ``thm_pgs_make_fac`` definitions. The frame is
    right-handed.

    Parameters
    ----------
    B : DataArray (time, 3)
        Magnetic field (any units).
    reference : {"xgse", "ygsm", "rgeo", "mrgeo", "phigeo", "mphigeo"}
        The names come from SPEDAS; the axes are those of the input frame (``xgse`` means "the
        x-axis of whatever frame B is in").
    position : DataArray (time, 3), optional
        Spacecraft position, required for ``rgeo``/``phigeo`` and their opposites, interpolated
        linearly onto B's times if needed. When both B and the position name their frames in their
        ISTP attributes (``COORDINATE_SYSTEM``, a frame suffix or ``CATDESC``, see
        :func:`xspace.magnetosphere.coords.frame_of`), the radial/azimuthal reference is built in GEO
        (as SPEDAS does) and rotated into B's frame with :mod:`xspace.magnetosphere.coords`; when
        either frame is unknown the position is taken to be in B's frame.
    background : None, duration, int or DataArray
        The field defining ``z``: ``None`` → B itself; a duration (``"10min"``) or a number of
        samples → the running mean of B over that window; a DataArray → that field (interpolated
        onto B's times).

    Returns
    -------
    DataArray (time, "fac", component)
        Rows ``fac`` = ``perp1, perp2, parallel``; columns are B's components. Samples where the
        field is zero/NaN or parallel to the reference are NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.array(["2022-01-01"], "datetime64[ns]")
    >>> B = xr.DataArray([[0.0, 0.0, 5.0]], dims=("Epoch", "c"), coords={"Epoch": t})
    >>> field_aligned_matrix(B)[0].values   # B along z: perp1 = x, perp2 = y
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    bg, r, comp, tdim, reference_is_y = _fac_inputs(B, reference, position, background, component_dim)
    out = xr.apply_ufunc(_fac_kernel, bg, r, kwargs={"reference_is_y": reference_is_y},
                         input_core_dims=[[comp], [comp]], output_core_dims=[["fac", comp]],
                         dask="parallelized", output_dtypes=[np.float64],
                         dask_gufunc_kwargs={"output_sizes": {"fac": 3}})
    out = out.transpose(tdim, "fac", comp).assign_coords({tdim: B[tdim], "fac": FAC_LABELS})
    if comp in B.coords:
        out = out.assign_coords({comp: B[comp]})
    frame_in = B.attrs.get("COORDINATE_SYSTEM", "input")
    out.name = "fac_matrix"
    out.attrs = {
        "CATDESC": f"Rotation matrix {frame_in} -> field-aligned ({reference} reference); rows: FAC unit vectors",
        "FIELDNAM": "FAC matrix",
        "UNITS": "1",
        "VAR_TYPE": "support_data",
        "DEPEND_0": tdim,
        "COORDINATE_SYSTEM": f"FAC({reference})",
        "FRAME_IN": frame_in,
        "history": f"xspace.analysis.frames.field_aligned_matrix(reference={reference!r})",
    }
    return out


# ----------------------------------------------------------------------------- rotations
def _matrix_to_quaternion(m):
    """(..., 3, 3) proper rotation matrices -> (..., 4) unit quaternions (w, x, y, z)."""
    m = np.asarray(m, dtype=np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = np.stack([
        np.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + 2 * m[..., 0, 0] - tr, m[..., 0, 1] + m[..., 1, 0],
                  m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 + 2 * m[..., 1, 1] - tr,
                  m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                  1 + 2 * m[..., 2, 2] - tr], -1),
    ], -2)
    # take the numerically largest candidate (Shepperd's method)
    pick = np.argmax(np.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1), axis=-1)
    q = np.take_along_axis(cands, pick[..., None, None], axis=-2)[..., 0, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _quaternion_to_matrix(q):
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _slerp(q0, q1, w):
    """Spherical linear interpolation between unit quaternions (shorter arc), ``w`` in [0, 1]."""
    d = np.sum(q0 * q1, axis=-1)
    q1 = np.where(d[..., None] < 0, -q1, q1)
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(small, 1 - w, np.sin((1 - w) * theta) / np.where(small, 1, s))
        b = np.where(small, w, np.sin(w * theta) / np.where(small, 1, s))
    q = a[..., None] * q0 + b[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _slerp_matrices(m0, m1, w):
    return _quaternion_to_matrix(_slerp(_matrix_to_quaternion(m0), _matrix_to_quaternion(m1), w))


def _rotate_kernel(m, v):
    from ._signal_kernels import rotate_vectors

    m = np.ascontiguousarray(m, dtype=np.float64)
    v = np.ascontiguousarray(v, dtype=np.float64)
    if m.ndim == 2:  # one matrix for every sample
        with np.errstate(invalid="ignore"):
            return v @ m.T
    lead = np.broadcast_shapes(m.shape[:-2], v.shape[:-1])
    m = np.ascontiguousarray(np.broadcast_to(m, lead + (3, 3))).reshape(-1, 3, 3)
    v = np.ascontiguousarray(np.broadcast_to(v, lead + (3,))).reshape(-1, 3)
    return rotate_vectors(m, v).reshape(lead + (3,))


def rotate(v, matrix, component_dim=None, max_gap=None, gap_factor: float = DEFAULT_GAP_FACTOR):
    """Apply rotation matrices ``matrix`` (time, out, in) to the vector series ``v`` (time, 3).

    ``out[t] = matrix[t] @ v[t]``. A constant (3, 3) matrix is applied to every sample. When the
    matrix and vector time grids differ, the matrices are converted to unit quaternions and
    interpolated by spherical linear interpolation (slerp) onto the vector times — never across a
    matrix-time gap larger than ``max_gap`` (default 1.5 × the matrix cadence) or outside the
    matrix times (NaN there). Slerp needs proper rotations (det = +1), which is what
    :func:`field_aligned_matrix` and :func:`mva` return.

    The output's component dimension is the matrix's row dimension with its labels; its
    ``COORDINATE_SYSTEM`` is the matrix's.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.array(["2022-01-01T00", "2022-01-01T02"], "datetime64[ns]")
    >>> rz = lambda a: [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
    >>> M = xr.DataArray([rz(0.0), rz(np.pi / 2)], dims=("Epoch", "row", "col"), coords={"Epoch": t})
    >>> v = xr.DataArray([[1.0, 0, 0]], dims=("Epoch", "col"),
    ...                  coords={"Epoch": np.array(["2022-01-01T01"], "datetime64[ns]")})
    >>> rotate(v, M).values.round(6)          # halfway: rotated by 45 degrees
    array([[0.707107, 0.707107, 0.      ]])
    """
    comp = _component_dim(v, component_dim, "v")
    tdim = time_dim(v, name="argument 'v'")
    if not isinstance(matrix, xr.DataArray):
        arr = np.asarray(matrix, dtype=np.float64)
        if arr.shape != (3, 3):
            raise InputError(f"argument 'matrix': expected a (3, 3) array or a (time, 3, 3) DataArray, got shape {arr.shape}")
        matrix = xr.DataArray(arr, dims=("row", "__in__"))
    mdims = list(matrix.dims)
    mtdim = None
    try:
        mtdim = time_dim(matrix, name="argument 'matrix'")
    except InputError:
        if matrix.ndim != 2:
            raise
    rest = [d for d in mdims if d != mtdim]
    if len(rest) != 2 or any(matrix.sizes[d] != 3 for d in rest):
        raise InputError(f"argument 'matrix': expected dims (time, out, in) with sizes 3, got {dict(matrix.sizes)}")
    row, col = rest
    vv = v.drop_vars([k for k in v.coords if comp in v.coords[k].dims], errors="ignore")
    m = matrix.drop_vars([k for k in matrix.coords if col in matrix.coords[k].dims], errors="ignore")
    m = m.rename({col: comp})
    if row == comp:
        m = m.rename({row: "__out__"})
        row_out = "__out__"
    else:
        row_out = row
    if mtdim is not None:
        mt = _times_ns(matrix, mtdim)
        vt = _times_ns(v, tdim)
        if mt.size == vt.size and np.array_equal(mt, vt):
            m = m.rename({mtdim: tdim}) if mtdim != tdim else m
            m = m.drop_vars([k for k in m.coords if tdim in m.coords[k].dims])
        else:
            m = _slerp_onto(m.rename({mtdim: "__mt__"}), "__mt__", mt, vt, tdim, row_out, comp,
                            _max_gap_ns(mt, mtdim, max_gap, gap_factor) if mt.size > 1 else 0.0)
    m = _one_chunk(_one_chunk(m.transpose(..., row_out, comp), row_out), comp)
    out = xr.apply_ufunc(_rotate_kernel, m, _one_chunk(vv.transpose(..., comp), comp), input_core_dims=[[row_out, comp], [comp]],
                         output_core_dims=[[row_out]], dask="parallelized", output_dtypes=[np.float64])
    if row_out != row:
        out = out.rename({row_out: row})
    out = out.rename({row: comp}) if row != comp else out
    out = out.transpose(*v.dims)
    if row in matrix.coords:
        out = out.assign_coords({comp: matrix[row].values})
    frame = matrix.attrs.get("COORDINATE_SYSTEM", "rotated")
    out.name = v.name
    out.attrs = derived_attrs(v.attrs, keep=("DEPEND_0", "DISPLAY_TYPE", "SI_conversion", "SI_conv"),
                              catdesc=f"{v.attrs.get('CATDESC', v.name if v.name is not None else 'vector')} in {frame}",
                              history=f"xspace.analysis.frames.rotate(-> {frame})", COORDINATE_SYSTEM=frame)
    return out


def _slerp_onto(m, mt_dim, mt, vt, tdim, row, col, gap):
    n = mt.size
    left = np.searchsorted(mt, vt, "right") - 1
    leftc = np.clip(left, 0, n - 1)
    right = np.clip(left + 1, 0, n - 1)
    exact = (left >= 0) & (mt[leftc] == vt)
    inside = (left >= 0) & (left < n - 1)
    span = (mt[right] - mt[leftc]).astype(float)
    valid = exact | (inside & (span <= gap))
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(exact | ~inside, 0.0, (vt - mt[leftc]) / np.where(span > 0, span, 1.0))
    w = np.where(valid, w, np.nan)
    m = m.drop_vars([k for k in m.coords if mt_dim in m.coords[k].dims])
    m0 = m.isel({mt_dim: xr.DataArray(leftc, dims=tdim)}).transpose(..., row, col)
    m1 = m.isel({mt_dim: xr.DataArray(right, dims=tdim)}).transpose(..., row, col)
    wd = xr.DataArray(w, dims=tdim)
    return xr.apply_ufunc(_slerp_matrices, m0, m1, wd, input_core_dims=[[row, col], [row, col], []],
                          output_core_dims=[[row, col]], dask="parallelized", output_dtypes=[np.float64])


def to_field_aligned(v, reference: str = "xgse", position=None, background=None, component_dim=None):
    """Rotate a vector series into field-aligned coordinates (``perp1, perp2, parallel``).

    ``B.space.to_field_aligned()`` rotates a field into the FAC frame of itself (→ (0, 0, |B|));
    ``B.space.to_field_aligned(background="10min")`` about its running mean (MFA fluctuations);
    ``dB.space.to_field_aligned(background=B0)`` rotates fluctuations (or any vector: E, V) about a
    given background field. Arguments as in :func:`field_aligned_matrix`; the result's
    ``COORDINATE_SYSTEM`` is ``FAC(<reference>)``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.array(["2022-01-01"], "datetime64[ns]")
    >>> B0 = xr.DataArray([[0.0, 0.0, 10.0]], dims=("Epoch", "c"), coords={"Epoch": t})
    >>> dB = xr.DataArray([[1.0, 2.0, 3.0]], dims=("Epoch", "c"), coords={"Epoch": t})
    >>> r = to_field_aligned(dB, background=B0)
    >>> r.values, r.c.values.tolist(), r.attrs["COORDINATE_SYSTEM"]
    (array([[1., 2., 3.]]), ['perp1', 'perp2', 'parallel'], 'FAC(xgse)')
    """
    bg, r, comp, tdim, reference_is_y = _fac_inputs(v, reference, position, background, component_dim)
    vv = _one_chunk(v.drop_vars([k for k in v.coords if comp in v.coords[k].dims], errors="ignore")
                    .transpose(..., comp), comp)
    bg = bg.drop_vars([k for k in bg.coords if k != tdim], errors="ignore")
    if tdim in bg.coords:
        bg = bg.drop_vars(tdim)
    # one fused numba pass: the (time, 3, 3) matrices are never stored
    out = xr.apply_ufunc(_fac_rotate_kernel, bg, r, vv, kwargs={"reference_is_y": reference_is_y},
                         input_core_dims=[[comp], [comp], [comp]], output_core_dims=[[comp]],
                         dask="parallelized", output_dtypes=[np.float64])
    out = out.transpose(*v.dims).assign_coords({comp: FAC_LABELS})
    frame = f"FAC({reference})"
    out.name = v.name
    out.attrs = derived_attrs(v.attrs, keep=("DEPEND_0", "DISPLAY_TYPE", "SI_conversion", "SI_conv"),
                              catdesc=f"{v.attrs.get('CATDESC', v.name if v.name is not None else 'vector')} in {frame}",
                              history=f"xspace.analysis.frames.to_field_aligned(reference={reference!r})",
                              COORDINATE_SYSTEM=frame)
    return out


# ----------------------------------------------------------------------------- minimum variance
def _eig_sorted(cov):
    """Eigen-decomposition of (..., 3, 3) covariance matrices with the MVA conventions.

    Returns eigenvalues descending (max, intermediate, min) and eigenvectors as columns in that
    order; minimum- and intermediate-variance vectors point toward +Z (IDL ``minvar``), the
    maximum-variance vector completes a right-handed triple (det = +1). Non-finite input → NaN.
    """
    cov = np.asarray(cov, dtype=np.float64)
    bad = ~np.all(np.isfinite(cov), axis=(-2, -1))
    safe = np.where(bad[..., None, None], np.eye(3), cov)
    w, vec = np.linalg.eigh(safe)
    w = w[..., ::-1].copy()
    vec = vec[..., ::-1].copy()
    for j in (1, 2):
        flip = vec[..., 2, j] < 0
        vec[..., :, j] = np.where(flip[..., None], -vec[..., :, j], vec[..., :, j])
    det = np.linalg.det(vec)
    vec[..., :, 0] = np.where((det < 0)[..., None], -vec[..., :, 0], vec[..., :, 0])
    w[bad] = np.nan
    vec[bad] = np.nan
    return w, vec


def _windows(t, window, step):
    win = int(as_timedelta(window, "window").astype("int64"))
    stp = win if step is None else int(as_timedelta(step, "step").astype("int64"))
    if win <= 0 or stp <= 0:
        raise InputError(f"arguments 'window'/'step': expected positive durations, got {window!r}, {step!r}")
    cad = int(np.median(np.diff(t))) if t.size > 1 else 0
    # every window starting at t0 + k*step that ends no later than one cadence after the last sample
    starts_t = t[0] + np.arange(0, max(t[-1] + cad - t[0] - win, 0) + 1, stp, dtype=np.int64)
    starts = np.searchsorted(t, starts_t, "left")
    stops = np.searchsorted(t, starts_t + win, "left")
    if t[-1] - t[0] < win:  # one window holding everything
        stops[:] = t.size
    return starts, stops, (starts_t + win // 2).astype("datetime64[ns]")


def _sliding_cov_kernel(x, starts, stops):
    from ._signal_kernels import window_covariance

    cov, counts = window_covariance(np.ascontiguousarray(x, dtype=np.float64), starts, stops)
    cov[counts < 3] = np.nan
    return cov, counts


def mva(B, window=None, step=None, component_dim=None, rotate: bool = True):
    """Minimum-variance analysis of a vector series (whole interval, or sliding windows).

    The magnetic variance matrix ``M_ij = <B_i B_j> - <B_i><B_j>`` (divisor N) of the samples with
    all components finite — rows with a NaN are dropped and counted, never zeroed — is
    diagonalised. Fewer than 3 finite samples → NaN.

    Conventions: eigenvalues descending; eigenvector **columns** ``max, intermediate, min``
    (the boundary normal is ``min``); minimum- and intermediate-variance vectors have a
    non-negative Z component (as IDL ``minvar``); the maximum-variance vector is flipped if needed so
    the eigenvector matrix has determinant +1 (a right-handed L, M, N frame).

    Parameters
    ----------
    B : DataArray (time, 3)
    window, step : durations, optional
        ``None``: one analysis of the whole interval. Else windows ``[t0 + k·step, t0 + k·step +
        window)`` (``step`` defaults to ``window``), stamped at their midpoints on the dimension
        ``<time>_window``; empty windows give NaN. The sliding version loads the time axis of a
        dask array into one chunk (still lazy).

    Returns
    -------
    Dataset
        ``eigenvalues`` (…, ``mva``), ``eigenvectors`` (…, component, ``mva``), ``count`` and
        ``dropped`` (finite / non-finite rows used / skipped), and ``rotated``: B in the MVA frame
        (for sliding windows each sample uses the window whose midpoint is nearest; left out with
        ``rotate=False``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2022-01-01") + np.arange(100) * np.timedelta64(1, "s")
    >>> s = np.linspace(-3, 3, 100)
    >>> B = xr.DataArray(np.stack([5 * np.tanh(s), 2 + 0.5 * np.sin(7 * s), np.full(100, 0.3)], -1),
    ...                  dims=("Epoch", "c"), coords={"Epoch": t})
    >>> res = mva(B)
    >>> res.eigenvectors.sel(mva="min").values.round(6)
    array([0., 0., 1.])
    >>> int(res["count"])
    100
    """
    comp = _component_dim(B, component_dim, "B")
    tdim = time_dim(B, name="argument 'B'")
    Bv = B.drop_vars([k for k in B.coords if comp in B.coords[k].dims], errors="ignore").transpose(..., comp)
    Bv = _one_chunk(Bv.astype(np.float64), comp)
    hist = f"xspace.analysis.frames.mva(window={window!r}, step={step!r})"
    frame = B.attrs.get("COORDINATE_SYSTEM", "input")
    if window is None and not _is_dask(Bv.data) and Bv.ndim == 2:
        # one pass of the numba kernel (no (time, 3, 3) temporaries)
        c, k = _sliding_cov_kernel(np.asarray(Bv.values), np.array([0], np.int64),
                                   np.array([Bv.sizes[tdim]], np.int64))
        cov = xr.DataArray(c[0], dims=(comp, "__c2__"))
        n = xr.DataArray(k[0])
    elif window is None:
        ok = np.isfinite(Bv).all(comp)
        x = Bv.where(ok)
        n = ok.sum(tdim)
        mean = x.mean(tdim)
        d = x - mean
        cov = (d * d.rename({comp: "__c2__"})).sum(tdim) / n
        cov = cov.where(n >= 3)
    if window is None:
        w, vec = xr.apply_ufunc(_eig_sorted, cov.transpose(..., comp, "__c2__"),
                                input_core_dims=[[comp, "__c2__"]], output_core_dims=[["mva"], [comp, "mva"]],
                                dask="parallelized", output_dtypes=[np.float64, np.float64],
                                dask_gufunc_kwargs={"output_sizes": {"mva": 3}})
        matrix = vec.rename({comp: "__in__", "mva": "__row__"}).transpose(..., "__row__", "__in__")
        matrix = matrix.rename({"__row__": "mva", "__in__": comp})  # rows = eigenvectors
        rotated = xr.apply_ufunc(_rotate_kernel, matrix.transpose(..., "mva", comp), Bv,
                                 input_core_dims=[["mva", comp], [comp]], output_core_dims=[["mva"]],
                                 dask="parallelized", output_dtypes=[np.float64])
        count = n
        dropped = B.sizes[tdim] - n
        wdim = None
    else:
        t = _times_ns(B, tdim)
        starts, stops, mids = _windows(t, window, step)
        wdim = f"{tdim}_window"
        cov, count = xr.apply_ufunc(_sliding_cov_kernel, Bv, kwargs={"starts": starts, "stops": stops},
                                    input_core_dims=[[tdim, comp]],
                                    output_core_dims=[[wdim, comp, "__c2__"], [wdim]],
                                    dask="parallelized", output_dtypes=[np.float64, np.int64],
                                    dask_gufunc_kwargs={"output_sizes": {wdim: starts.size, "__c2__": 3},
                                                        "allow_rechunk": True})
        w, vec = xr.apply_ufunc(_eig_sorted, cov, input_core_dims=[[comp, "__c2__"]],
                                output_core_dims=[["mva"], [comp, "mva"]], dask="parallelized",
                                output_dtypes=[np.float64, np.float64],
                                dask_gufunc_kwargs={"output_sizes": {"mva": 3}})
        w = w.assign_coords({wdim: mids})
        vec = vec.assign_coords({wdim: mids})
        count = count.assign_coords({wdim: mids})
        dropped = (xr.DataArray(stops - starts, dims=wdim, coords={wdim: mids}) - count)
        rotated = None
        if rotate:
            # nearest window midpoint for every sample
            near = np.clip(np.searchsorted(mids.view("int64"), t, "left"), 0, mids.size - 1)
            prev = np.clip(near - 1, 0, mids.size - 1)
            mv = mids.view("int64")
            near = np.where(np.abs(t - mv[prev]) <= np.abs(mv[near] - t), prev, near)
            matrix = vec.isel({wdim: xr.DataArray(near, dims=tdim)}).drop_vars(wdim)
            matrix = matrix.rename({comp: "__in__"}).rename({"mva": "__row__"})
            matrix = matrix.rename({"__row__": "mva", "__in__": comp}).transpose(..., "mva", comp)
            rotated = xr.apply_ufunc(_rotate_kernel, matrix, Bv, input_core_dims=[["mva", comp], [comp]],
                                     output_core_dims=[["mva"]], dask="parallelized", output_dtypes=[np.float64])
    ds = xr.Dataset({"eigenvalues": w, "eigenvectors": vec, "count": count, "dropped": dropped},
                    coords={"mva": MVA_LABELS})
    if rotate:
        ds["rotated"] = rotated.transpose(tdim, ...).assign_coords({tdim: B[tdim]})
    units = B.attrs.get("UNITS")
    ds["eigenvalues"].attrs = {"CATDESC": "MVA eigenvalues (variances along max, intermediate, min directions)",
                               "UNITS": f"{units}^2" if units else "", "VAR_TYPE": "data"}
    ds["eigenvectors"].attrs = {"CATDESC": f"MVA eigenvectors as columns (max, intermediate, min), {frame} components",
                                "UNITS": "1", "VAR_TYPE": "data", "COORDINATE_SYSTEM": frame}
    ds["count"].attrs = {"CATDESC": "number of samples with all components finite used", "VAR_TYPE": "support_data"}
    ds["dropped"].attrs = {"CATDESC": "number of samples dropped for non-finite components",
                           "VAR_TYPE": "support_data"}
    if rotate:
        ds["rotated"].attrs = derived_attrs(B.attrs, keep=("DEPEND_0", "SI_conversion", "SI_conv", "DISPLAY_TYPE"),
                                            catdesc=f"{B.attrs.get('CATDESC', B.name or 'B')} in the MVA frame",
                                            history=hist, COORDINATE_SYSTEM="MVA")
    ds.attrs = {"history": hist, "COORDINATE_SYSTEM_IN": frame}
    return ds
