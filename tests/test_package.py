"""The package itself: import side effects, errors, options, bundled data."""

from __future__ import annotations

import subprocess
import sys

import pytest

import xspace
from xspace import errors


def test_import_is_light():
    # importing xspace must not import numba, matplotlib or the fetch machinery
    code = "import sys, xspace; print(sorted(m for m in ('numba', 'matplotlib', 'pooch', 'xspace.fetch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_errors_subclass_builtins():
    assert issubclass(errors.CDFFormatError, ValueError)
    assert issubclass(errors.FetchError, OSError)
    assert issubclass(errors.ProductNotFound, KeyError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.XspaceError)


def test_set_options_validates_and_restores():
    with pytest.raises(errors.InputError, match="unknown option 'nope'"):
        xspace.set_options(nope=1)
    with xspace.set_options(offline=True):
        assert xspace.get_options()["offline"] is True
    assert xspace.get_options()["offline"] is False


def test_bundled_data():
    from xspace.data import get_path, list_files

    assert "ac_k2_mfi_20220101_v03.cdf" in list_files()
    assert get_path("igrf14coeffs.txt").read_text().startswith("#")
    with pytest.raises(errors.InputError, match="no bundled data file"):
        get_path("nope.cdf")


def test_utils_time_dim_and_timedelta():
    import numpy as np
    import xarray as xr

    from xspace._utils import as_timedelta, time_dim

    assert as_timedelta("1h") == np.timedelta64(3600, "s")
    with pytest.raises(errors.InputError, match="'window'"):
        as_timedelta("soon", "window")
    t = np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]")
    ds = xr.Dataset({"a": ("T1", [1.0, 2.0], {"DEPEND_0": "T1"}), "b": ("T2", [1.0, 2.0])},
                    coords={"T1": t, "T2": t})
    assert time_dim(ds["a"]) == "T1"
    with pytest.raises(errors.InputError, match="several time dimensions"):
        time_dim(ds[["b"]].assign(c=ds["a"].drop_attrs()))


def test_public_names_resolve():
    for name in xspace.__all__:
        assert getattr(xspace, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        xspace.nope
