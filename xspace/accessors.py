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

    # ----------------------------------------------------------------- signal toolkit (issue 4)

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
