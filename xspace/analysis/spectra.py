"""Dynamic spectra and wave polarisation of time series.

* :func:`dynamic_spectrum` — a spectrogram in units²/Hz (one-sided power spectral density, Welch-
  style windows, per continuous segment; gaps are kept as NaN columns, never squeezed out).
* :func:`wave_polarization` — power, degree of polarisation (Samson & Olson 1980), wave-normal
  angle (Means 1972) and ellipticity of a vector field in field-aligned coordinates.

Both work on numpy- and dask-backed inputs (windows are built with ``sliding_window_view``, so
dask inputs stay lazy and windows straddling chunks are handled by dask).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xspace.analysis.spectra import dynamic_spectrum
>>> t = np.datetime64("2022-01-01") + np.arange(4096) * np.timedelta64(1, "s")
>>> x = xr.DataArray(np.sin(2 * np.pi * 0.125 * np.arange(4096)), dims="Epoch", coords={"Epoch": t},
...                  attrs={"UNITS": "nT"})
>>> s = dynamic_spectrum(x, average_bins=1)
>>> float(s.frequency[int(s.mean("Epoch").argmax("frequency"))]), s.attrs["UNITS"], s.attrs["DISPLAY_TYPE"]
(0.125, 'nT^2/Hz', 'spectrogram')
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .._utils import derived_attrs, time_dim
from ..errors import InputError
from .signal import (
    DEFAULT_GAP_FACTOR,
    _cadence_ns,
    _component_dim,
    _is_dask,
    _max_gap_ns,
    _segments_from_times,
    _times_ns,
)

__all__ = ["dynamic_spectrum", "wave_polarization"]


def _window(window, nfft):
    from scipy.signal import get_window

    if isinstance(window, np.ndarray):
        if window.shape != (nfft,):
            raise InputError(f"argument 'window': an array window must have nfft={nfft} values, got {window.shape}")
        return window.astype(np.float64)
    try:
        return get_window(window, nfft, fftbins=True).astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(f"argument 'window': unknown window {window!r} (a scipy.signal.get_window name)") from exc


def _fft_block(x, win, detrend):
    """x (..., nfft) windows -> rfft of detrended, tapered windows; windows with a NaN -> NaN."""
    from scipy.signal import detrend as sp_detrend

    x = np.array(x, dtype=np.float64)
    bad = ~np.all(np.isfinite(x), axis=-1)
    x[bad] = 0.0
    if detrend:
        x = sp_detrend(x, axis=-1, type=detrend)
    X = np.fft.rfft(x * win, axis=-1)
    X[bad] = np.nan
    return X


def _windowed_fft(da, tdim, nfft, step, window, detrend, gap_factor, rtol=0.02):
    """Per-segment windows of ``da`` (time first) and their FFTs.

    Returns (X with shape (nwin, ..., nfreq), centre times, cadence_s, window values); a NaN row is
    inserted at the first missing sample after every gap.
    """
    if not (isinstance(nfft, (int, np.integer)) and nfft >= 4):
        raise InputError(f"argument 'nfft': expected an integer >= 4, got {nfft!r}")
    if not (isinstance(step, (int, np.integer)) and step >= 1):
        raise InputError(f"argument 'step': expected a positive integer, got {step!r}")
    if detrend not in ("linear", "constant", None, False):
        raise InputError(f"argument 'detrend': expected 'linear', 'constant' or None, got {detrend!r}")
    win = _window(window, nfft)
    t = _times_ns(da, tdim)
    cad = _cadence_ns(t, tdim)
    segs = _segments_from_times(t, _max_gap_ns(t, tdim, None, gap_factor))
    for a, b in segs:
        d = np.diff(t[a:b])
        if d.size and np.max(np.abs(d - cad)) > rtol * cad:
            raise InputError(f"variable {da.name!r}: irregular sampling inside a segment (steps {d.min() / 1e9:g} to "
                             f"{d.max() / 1e9:g} s); resample first, e.g. obj.space.bin_mean(cadence)")
    data = da.transpose(tdim, ...).data
    dask_in = _is_dask(data)
    if dask_in:
        import dask.array as dsa

        xp_swv = dsa.lib.stride_tricks.sliding_window_view
        if data.ndim > 1:
            data = data.rechunk({i: -1 for i in range(1, data.ndim)})
    else:
        xp_swv = np.lib.stride_tricks.sliding_window_view
        data = np.asarray(data, dtype=np.float64)
    nfreq = nfft // 2 + 1
    parts, times = [], []
    nwin = 0
    rest = data.shape[1:]
    for i, (a, b) in enumerate(segs):
        if i > 0:  # gap marker
            nan_row = np.full((1,) + rest + (nfreq,), np.nan + 0j)
            parts.append(dsa.from_array(nan_row) if dask_in else nan_row)
            times.append(t[a - 1] + cad)
        if b - a < nfft:
            continue
        seg = data[a:b]
        if dask_in and seg.chunks[0] and min(seg.chunks[0]) < nfft:
            seg = seg.rechunk({0: max(nfft * 4, max(seg.chunks[0]))})
        w = xp_swv(seg, nfft, axis=0)[::step]  # (nwin, ..., nfft)
        if dask_in:
            X = w.map_blocks(_fft_block, win, detrend, dtype=np.complex128,
                             chunks=w.chunks[:-1] + ((nfreq,),))
        else:
            X = _fft_block(w, win, detrend)
        parts.append(X)
        nwin += X.shape[0]
        starts = a + np.arange(X.shape[0]) * step
        times.extend(t[starts] + (nfft - 1) * cad / 2)
    if nwin == 0:
        raise InputError(f"variable {da.name!r}: no continuous segment holds nfft={nfft} samples")
    if dask_in:
        X = dsa.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    else:
        X = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    return X, np.asarray(np.round(times), dtype=np.int64).astype("datetime64[ns]"), cad / 1e9, win


def _group_matrix(nfreq, fs, nfft, nbins):
    """Averaging matrix (nfreq, ngroups) over groups of ``nbins`` bins, DC excluded."""
    if not (isinstance(nbins, (int, np.integer)) and nbins >= 1):
        raise InputError(f"argument 'average_bins'/'bin_freq': expected a positive integer, got {nbins!r}")
    freqs = np.fft.rfftfreq(nfft, d=1.0 / fs)
    idx = np.arange(1, nfreq)
    groups = (idx - 1) // nbins
    ng = int(groups[-1]) + 1
    G = np.zeros((nfreq, ng))
    counts = np.bincount(groups, minlength=ng)
    G[idx, groups] = 1.0 / counts[groups]
    fcentre = freqs @ G
    width = counts * (fs / nfft)
    return G, fcentre, width


def _psd_scale(nfreq, nfft, fs, win):
    c = np.full(nfreq, 2.0)
    c[0] = 1.0
    if nfft % 2 == 0:
        c[-1] = 1.0
    return c / (fs * np.sum(win ** 2))


def dynamic_spectrum(da, nfft: int = 256, step: int = 128, window="hann", detrend="linear", average_bins: int = 3,
                     gap_factor: float = DEFAULT_GAP_FACTOR):
    """Spectrogram (one-sided power spectral density, units²/Hz) of a regularly sampled series.

    Windows of ``nfft`` samples, ``step`` apart, inside each continuous segment (split at steps >
    ``gap_factor`` × the median cadence; windows never straddle a gap, and a NaN column marks each
    gap, so gaps are never squeezed out). Each window is detrended (``"linear"``, ``"constant"`` or
    ``None``), tapered (any ``scipy.signal.get_window`` name or an array) and Fourier transformed;
    windows containing a NaN give NaN. The density is normalised so that, for every window,
    ``∑ PSD·Δf`` (over the returned frequencies, with ``Δf`` = the ``bandwidth`` coordinate) equals
    the window-weighted mean square of the detrended data — the variance for a boxcar window and
    constant detrending. The DC bin is dropped; the remaining bins are averaged in groups of
    ``average_bins`` (frequency labelled at the group's mean frequency, ``bandwidth`` = group
    width). Times are window centres.

    Returns
    -------
    DataArray (time, frequency, ...)
        ``UNITS`` = ``<units>^2/Hz``, ``DISPLAY_TYPE="spectrogram"``, ``DEPEND_1="frequency"``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> t = np.datetime64("2022-01-01") + np.arange(1024) * np.timedelta64(1, "s")
    >>> x = xr.DataArray(rng.normal(0, 2, 1024), dims="Epoch", coords={"Epoch": t}, attrs={"UNITS": "nT"})
    >>> s = dynamic_spectrum(x, window="boxcar", detrend="constant")
    >>> w = x.values[:256]
    >>> bool(np.isclose(float((s[0] * s.bandwidth).sum()), w.var()))   # Parseval, first window
    True
    """
    if not isinstance(da, xr.DataArray):
        raise InputError(f"argument 'da': expected a DataArray, got {type(da).__name__}")
    tdim = time_dim(da, name=f"variable {da.name!r}" if da.name is not None else "data")
    X, times, cad_s, win = _windowed_fft(da, tdim, nfft, step, window, detrend, gap_factor)
    fs = 1.0 / cad_s
    nfreq = nfft // 2 + 1
    scale = _psd_scale(nfreq, nfft, fs, win)
    G, fc, width = _group_matrix(nfreq, fs, nfft, average_bins)
    P = (X.real ** 2 + X.imag ** 2) * scale
    P = P @ G  # (nwin, ..., ngroups)
    others = [d for d in da.dims if d != tdim]
    dims = (tdim, *others, "frequency")
    coords = {tdim: times, "frequency": fc, "bandwidth": ("frequency", width)}
    for k, c in da.coords.items():
        if tdim not in c.dims and k != tdim:
            coords[k] = c
    out = xr.DataArray(P, dims=dims, coords=coords).transpose(tdim, "frequency", *others)
    out["frequency"].attrs = {"UNITS": "Hz", "CATDESC": "frequency (mean of the averaged bins)"}
    out["bandwidth"].attrs = {"UNITS": "Hz", "CATDESC": "width of the averaged frequency bins"}
    u = da.attrs.get("UNITS")
    units = f"{u}^2/Hz" if u and u.strip() else "1/Hz"
    out.name = f"{da.name}_spectrum" if da.name is not None else None
    out.attrs = derived_attrs(da.attrs, keep=("DEPEND_0", "COORDINATE_SYSTEM", "SI_conversion"), units=units,
                              catdesc=f"Power spectral density of {da.attrs.get('CATDESC', da.name or 'data')}",
                              history=(f"xspace.analysis.spectra.dynamic_spectrum(nfft={nfft}, step={step}, "
                                       f"window={window!r}, detrend={detrend!r}, average_bins={average_bins})"),
                              DISPLAY_TYPE="spectrogram", DEPEND_1="frequency", SCALETYP="log")
    out.attrs["DEPEND_0"] = tdim
    return out


def _polarization_kernel(S, degrees):
    """S (..., 3, 3) Hermitian spectral matrices -> power, DoP, wave-normal angle, ellipticity."""
    S = np.asarray(S)
    bad = ~np.all(np.isfinite(S), axis=(-2, -1))
    S = np.where(bad[..., None, None], np.eye(3), S)
    tr = np.real(np.trace(S, axis1=-2, axis2=-1))
    tr2 = np.sum(np.abs(S) ** 2, axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        dop = (3 * tr2 - tr ** 2) / (2 * tr ** 2)
        # Means (1972): the wave vector is along the imaginary (antisymmetric) part of S
        k = np.stack([S[..., 1, 2].imag, -S[..., 0, 2].imag, S[..., 0, 1].imag], -1)
        kn = np.linalg.norm(k, axis=-1)
        cos = np.abs(k[..., 2]) / kn
        wna = np.arccos(np.clip(cos, 0, 1))
        wna = np.where(kn > 1e-12 * tr, wna, np.nan)
    if degrees:
        wna = np.degrees(wna)
    # ellipticity from the principal eigenvector (the polarised part, Samson & Olson)
    _, vec = np.linalg.eigh(S)
    u = vec[..., :, -1]
    phi = -0.5 * np.angle(np.sum(u * u, axis=-1))
    ur = u * np.exp(1j * phi)[..., None]
    a, b = ur.real, ur.imag
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    swap = nb > na
    a, b = np.where(swap[..., None], -b, a), np.where(swap[..., None], a, b)
    na, nb = np.where(swap, nb, na), np.where(swap, na, nb)
    # the field goes a -> -b (x(t) = Re(u e^{iwt})): rotation axis -(a x b)
    sense = -np.cross(a, b)[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        ell = np.sign(sense) * nb / na
    ell = np.where(nb < 1e-9 * na, 0.0, ell)
    out = [tr, dop, wna, ell]
    for o in out:
        o[bad] = np.nan
    return tuple(out)


def wave_polarization(B_fac, nfft: int = 256, step: int = 128, bin_freq: int = 3, window="hann",
                      degrees: bool = True, gap_factor: float = DEFAULT_GAP_FACTOR, component_dim=None):
    """Wave polarisation of a vector field in field-aligned coordinates (z along B0).

    For each window (as :func:`dynamic_spectrum`) the spectral matrix ``S_ij = X_i X_j*`` (one-
    sided PSD normalisation) is averaged over groups of ``bin_freq`` frequency bins (needed: a
    single-bin matrix is always fully polarised), then:

    * ``power`` — trace of S (units²/Hz);
    * ``degree_of_polarization`` — Samson & Olson (1980): ``(3 tr S² − (tr S)²) / (2 (tr S)²)``,
      1 for a pure wave, 0 for isotropic noise;
    * ``wave_normal_angle`` — Means (1972): the wave vector lies along the imaginary part of S
      ``(Im S_yz, −Im S_xz, Im S_xy)``; angle to +Z (B0) in [0, 90] degrees (radians with
      ``degrees=False``); NaN for linear polarisation (k undefined);
    * ``ellipticity`` — minor/major axis ratio of the polarisation ellipse of the principal
      eigenvector of S, **positive when the field rotates right-handed about +Z (B0)**, i.e.
      from +X towards +Y (ion-cyclotron waves seen in the plasma frame rotate left-handed, whistlers
      right-handed); 0 for linear, ±1 for circular.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> n = np.arange(4096)
    >>> t = np.datetime64("2022-01-01") + n * np.timedelta64(1, "s")
    >>> w = 2 * np.pi * 0.1 * n
    >>> B = xr.DataArray(np.stack([np.cos(w), np.sin(w), 0 * w], -1), dims=("Epoch", "fac"), coords={"Epoch": t})
    >>> p = wave_polarization(B).sel(frequency=0.1, method="nearest").mean("Epoch")
    >>> [round(float(p[k]), 3) for k in ("degree_of_polarization", "wave_normal_angle", "ellipticity")]
    [1.0, 0.0, 1.0]
    """
    comp = _component_dim(B_fac, component_dim, "B_fac")
    tdim = time_dim(B_fac, name="argument 'B_fac'")
    Bv = B_fac.drop_vars([k for k in B_fac.coords if comp in B_fac.coords[k].dims], errors="ignore")
    Bv = Bv.transpose(tdim, comp)
    X, times, cad_s, win = _windowed_fft(Bv, tdim, nfft, step, window, "linear", gap_factor)  # (nwin, 3, nfreq)
    fs = 1.0 / cad_s
    nfreq = nfft // 2 + 1
    scale = _psd_scale(nfreq, nfft, fs, win)
    G, fc, width = _group_matrix(nfreq, fs, nfft, bin_freq)
    Xi = X[:, :, None, :]
    Xj = X[:, None, :, :].conj()
    S = (Xi * Xj) * scale  # (nwin, 3, 3, nfreq)
    S = S @ G  # (nwin, 3, 3, ngroups)
    Sda = xr.DataArray(S, dims=(tdim, "__i__", "__j__", "frequency"), coords={tdim: times, "frequency": fc,
                                                                              "bandwidth": ("frequency", width)})
    if _is_dask(S):
        Sda = Sda.chunk({"__i__": -1, "__j__": -1})
    with warnings.catch_warnings():
        # dask builds float output metadata from the complex input's: harmless ComplexWarning
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        outs = xr.apply_ufunc(_polarization_kernel, Sda, kwargs={"degrees": degrees},
                              input_core_dims=[["__i__", "__j__"]], output_core_dims=[[], [], [], []],
                              dask="parallelized", output_dtypes=[np.float64] * 4)
    u = B_fac.attrs.get("UNITS")
    names = ["power", "degree_of_polarization", "wave_normal_angle", "ellipticity"]
    attrs = [
        {"UNITS": f"{u}^2/Hz" if u else "1/Hz", "CATDESC": "Wave power (trace of the spectral matrix)"},
        {"UNITS": "1", "CATDESC": "Degree of polarisation (Samson & Olson 1980), 0..1"},
        {"UNITS": "deg" if degrees else "rad", "CATDESC": "Wave-normal angle to B0 (Means 1972), 0..90 deg"},
        {"UNITS": "1", "CATDESC": "Ellipticity, + right-handed about B0 (+Z), -1..1"},
    ]
    ds = xr.Dataset()
    for nm, o, a in zip(names, outs, attrs):
        o = o.transpose(tdim, "frequency")
        o.attrs = {**a, "VAR_TYPE": "data", "DISPLAY_TYPE": "spectrogram", "DEPEND_0": tdim, "DEPEND_1": "frequency"}
        ds[nm] = o
    ds["frequency"].attrs = {"UNITS": "Hz"}
    ds.attrs = {"history": f"xspace.analysis.spectra.wave_polarization(nfft={nfft}, step={step}, bin_freq={bin_freq})",
                "COORDINATE_SYSTEM_IN": B_fac.attrs.get("COORDINATE_SYSTEM", "FAC")}
    return ds
