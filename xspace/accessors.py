"""The ``.space`` accessor of xarray Datasets and DataArrays.

One namespace for both object types (the cf-xarray idiom); every method is a thin forwarder to a
function in a module (the pint-xarray idiom), so ``ds.space.sea(epochs)`` and
``xspace.analysis.sea.superposed_epoch(ds, epochs)`` return the same object. Registered when
``xspace`` is imported. Imports of the implementing modules are done inside the methods so that
``import xspace`` stays fast (no numba compilation, no matplotlib).

Examples
--------
>>> import numpy as np, xarray as xr, xspace
>>> da = xr.DataArray(np.arange(3.0), dims="Epoch")
>>> hasattr(da, "space")
True
"""

from __future__ import annotations

import xarray as xr


class _SpaceBase:
    """Methods shared by the Dataset and DataArray accessors."""

    def __init__(self, obj: xr.Dataset | xr.DataArray) -> None:
        self._obj = obj

    # ----------------------------------------------------------------- io (issue 2)
    def to_cdf(self, path, **kwargs):
        """Write to an ISTP CDF file; see :func:`xspace.io.write.to_cdf`."""
        from .io.write import to_cdf

        return to_cdf(self._obj, path, **kwargs)

    def to_netcdf(self, path, **kwargs):
        """Write to netCDF4 with ISTP attributes encoded; see :func:`xspace.io.netcdf.to_netcdf`."""
        from .io.netcdf import to_netcdf

        return to_netcdf(self._obj, path, **kwargs)

    def to_json_ascii(self, path, **kwargs):
        """Write JSON-headed ASCII; see :func:`xspace.io.jsonascii.to_json_ascii`."""
        from .io.jsonascii import to_json_ascii

        return to_json_ascii(self._obj, path, **kwargs)

    def time_dim(self):
        """Name of the time dimension (from DEPEND_0 or the datetime64 dtype)."""
        from ._utils import time_dim

        return time_dim(self._obj)

    # ----------------------------------------------------------------- sea / assoc (issue 3)
    def sea(self, epochs, window, delta=None, **kwargs):
        """Superposed epoch analysis; see :func:`xspace.analysis.sea.superposed_epoch`."""
        from .analysis.sea import superposed_epoch

        return superposed_epoch(self._obj, epochs, window, delta, **kwargs)

    def plot_sea(self, **kwargs):
        """Plot a superposed epoch result (median, IQR, CI, mean); see :func:`xspace.plot.sea`."""
        from .plot.sea import sea

        return sea(self._obj, **kwargs)

    def plot_association(self, **kwargs):
        """Plot an association analysis result; see :func:`xspace.plot.association`."""
        from .plot.assoc import association

        return association(self._obj, **kwargs)

    # ----------------------------------------------------------------- signal toolkit (issue 4)
    def clip(self, start=None, stop=None):
        """Closed-interval time selection; see :func:`xspace.analysis.signal.clip`."""
        from .analysis.signal import clip

        return clip(self._obj, start, stop)

    def gaps(self, max_gap=None, **kwargs):
        """List of data gaps; see :func:`xspace.analysis.signal.gaps`."""
        from .analysis.signal import gaps

        return gaps(self._obj, max_gap, **kwargs)

    def segments(self, **kwargs):
        """Index ranges of continuous segments; see :func:`xspace.analysis.signal.segments`."""
        from .analysis.signal import segments

        return segments(self._obj, **kwargs)

    def bin_mean(self, cadence, origin=None):
        """NaN-aware bin means labelled at bin centres; see :func:`xspace.analysis.signal.bin_mean`."""
        from .analysis.signal import bin_mean

        return bin_mean(self._obj, cadence, origin)

    def bin_median(self, cadence, origin=None):
        """NaN-aware bin medians; see :func:`xspace.analysis.signal.bin_median`."""
        from .analysis.signal import bin_median

        return bin_median(self._obj, cadence, origin)

    def interp_like(self, other, method="linear", **kwargs):
        """Interpolation onto other times, never across gaps; see :func:`xspace.analysis.signal.interp_like`."""
        from .analysis.signal import interp_like

        return interp_like(self._obj, other, method, **kwargs)

    def deriv(self, **kwargs):
        """Time derivative per second; see :func:`xspace.analysis.signal.deriv`."""
        from .analysis.signal import deriv

        return deriv(self._obj, **kwargs)

    def running_mean(self, window, **kwargs):
        """Centred running mean; see :func:`xspace.analysis.signal.running_mean`."""
        from .analysis.signal import running_mean

        return running_mean(self._obj, window, **kwargs)

    def running_median(self, window, **kwargs):
        """Centred running median; see :func:`xspace.analysis.signal.running_median`."""
        from .analysis.signal import running_median

        return running_median(self._obj, window, **kwargs)

    def despike(self, window=7, threshold=3.5, **kwargs):
        """Hampel despiking; see :func:`xspace.analysis.signal.despike`."""
        from .analysis.signal import despike

        return despike(self._obj, window, threshold, **kwargs)

    def detrend(self, kind="linear"):
        """Remove a mean or linear trend; see :func:`xspace.analysis.signal.detrend`."""
        from .analysis.signal import detrend

        return detrend(self._obj, kind)

    def lowpass(self, cutoff, **kwargs):
        """Zero-phase Butterworth low-pass; see :func:`xspace.analysis.signal.lowpass`."""
        from .analysis.signal import lowpass

        return lowpass(self._obj, cutoff, **kwargs)

    def highpass(self, cutoff, **kwargs):
        """Zero-phase Butterworth high-pass; see :func:`xspace.analysis.signal.highpass`."""
        from .analysis.signal import highpass

        return highpass(self._obj, cutoff, **kwargs)

    def bandpass(self, low, high, **kwargs):
        """Zero-phase Butterworth band-pass; see :func:`xspace.analysis.signal.bandpass`."""
        from .analysis.signal import bandpass

        return bandpass(self._obj, low, high, **kwargs)

    def bandstop(self, low, high, **kwargs):
        """Zero-phase Butterworth band-stop; see :func:`xspace.analysis.signal.bandstop`."""
        from .analysis.signal import bandstop

        return bandstop(self._obj, low, high, **kwargs)


    # ----------------------------------------------------------------- magnetosphere (issue 5)
    def transform(self, var=None, to=None, from_frame=None, irbem_compatible=False):
        """Rotate a vector variable into frame ``to`` (frame read from its ISTP attributes);
        see :func:`xspace.magnetosphere.coords.transform_dataarray`. On a Dataset, ``var`` names it."""
        from .magnetosphere.coords import transform_dataarray

        from .errors import InputError

        if isinstance(self._obj, xr.Dataset):
            if var not in self._obj.data_vars:
                raise InputError(f"argument 'var': {var!r} is not a data variable of the dataset")
            da = self._obj[var]
        else:
            da = self._obj
            if to is None:  # da.space.transform("GSM")
                to = var
        if to is None:
            raise InputError("argument 'to': the target frame is required, e.g. to='GSM'")
        return transform_dataarray(da, to, from_frame=from_frame, irbem_compatible=irbem_compatible)

    def lstar(self, position=None, kp=None, **kwargs):
        """L*, Lm, K, I, Bmirr, ... of a position variable (frame and km/R_E units from its attributes,
        ``kp`` a number or a variable name); see :func:`xspace.magnetosphere.lstar.lstar_of`."""
        from .magnetosphere.lstar import lstar_of

        return lstar_of(self._obj, position=position, kp=kp, **kwargs)


@xr.register_dataset_accessor("space")
class SpaceDatasetAccessor(_SpaceBase):
    """``Dataset.space``: space-physics methods on a Dataset."""

    def check(self):
        """ISTP compliance findings; see :func:`xspace.istp.check`."""
        from .istp import check

        return check(self._obj)


@xr.register_dataarray_accessor("space")
class SpaceDataArrayAccessor(_SpaceBase):
    """``DataArray.space``: space-physics methods on a DataArray."""

    # ----------------------------------------------------------------- sea / assoc (issue 3)
    def sea_2d(self, epochs, window, delta=None, **kwargs):
        """2-D superposed epoch analysis; see :func:`xspace.analysis.sea.superposed_epoch_2d`."""
        from .analysis.sea import superposed_epoch_2d

        return superposed_epoch_2d(self._obj, epochs, window, delta, **kwargs)

    def find_events(self, condition, min_separation=None, **kwargs):
        """Event times where a condition holds; see :func:`xspace.analysis.sea.find_events`."""
        from .analysis.sea import find_events

        return find_events(self._obj, condition, min_separation, **kwargs)

    # ----------------------------------------------------------------- signal toolkit (issue 4)
    def magnitude(self, component_dim=None):
        """Vector magnitude; see :func:`xspace.analysis.signal.magnitude`."""
        from .analysis.signal import magnitude

        return magnitude(self._obj, component_dim)

    def dot(self, other, component_dim=None):
        """Scalar product; see :func:`xspace.analysis.signal.dot`."""
        from .analysis.signal import dot

        return dot(self._obj, other, component_dim)

    def cross(self, other, component_dim=None):
        """Vector product; see :func:`xspace.analysis.signal.cross`."""
        from .analysis.signal import cross

        return cross(self._obj, other, component_dim)

    def angle_between(self, other, **kwargs):
        """Angle between two vector series; see :func:`xspace.analysis.signal.angle_between`."""
        from .analysis.signal import angle_between

        return angle_between(self._obj, other, **kwargs)

    def normalize(self, component_dim=None):
        """Unit vectors; see :func:`xspace.analysis.signal.normalize`."""
        from .analysis.signal import normalize

        return normalize(self._obj, component_dim)

    def apply(self, func, *args, **kwargs):
        """A ufunc with ISTP attributes kept; see :func:`xspace.analysis.signal.apply`."""
        from .analysis.signal import apply

        return apply(self._obj, func, *args, **kwargs)

    def power(self, exponent):
        """Power with UNITS raised; see :func:`xspace.analysis.signal.power`."""
        from .analysis.signal import power

        return power(self._obj, exponent)

    def field_aligned_matrix(self, reference="xgse", position=None, background=None, **kwargs):
        """Field-aligned rotation matrices; see :func:`xspace.analysis.frames.field_aligned_matrix`."""
        from .analysis.frames import field_aligned_matrix

        return field_aligned_matrix(self._obj, reference, position, background, **kwargs)

    def rotate(self, matrix, **kwargs):
        """Apply (time, 3, 3) rotation matrices (slerp); see :func:`xspace.analysis.frames.rotate`."""
        from .analysis.frames import rotate

        return rotate(self._obj, matrix, **kwargs)

    def to_field_aligned(self, reference="xgse", position=None, background=None, **kwargs):
        """Rotate into field-aligned coordinates; see :func:`xspace.analysis.frames.to_field_aligned`."""
        from .analysis.frames import to_field_aligned

        return to_field_aligned(self._obj, reference, position, background, **kwargs)

    def mva(self, window=None, step=None, **kwargs):
        """Minimum-variance analysis; see :func:`xspace.analysis.frames.mva`."""
        from .analysis.frames import mva

        return mva(self._obj, window, step, **kwargs)

    def dynamic_spectrum(self, **kwargs):
        """Spectrogram in units^2/Hz; see :func:`xspace.analysis.spectra.dynamic_spectrum`."""
        from .analysis.spectra import dynamic_spectrum

        return dynamic_spectrum(self._obj, **kwargs)

    def wave_polarization(self, **kwargs):
        """Wave polarisation of a field in FAC; see :func:`xspace.analysis.spectra.wave_polarization`."""
        from .analysis.spectra import wave_polarization

        return wave_polarization(self._obj, **kwargs)
