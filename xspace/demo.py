"""``xspace demo``: a tour of the library on the real data it ships, without network.

Each step is a function ``step_*(outdir) -> None`` printing what it does; :data:`STEPS` lists them in order.
Later features add their step here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def step_io(outdir: Path) -> None:
    """Open the bundled CDF files, summarise them, convert to netCDF and read them back."""
    import numpy as np

    import xspace
    from xspace.cli import describe
    from xspace.data import get_path

    print("## 1. CDF files (ISTP decoding, lazy)\n")
    for name in (
        "ac_k2_mfi_20220101_v03.cdf",
        "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf",
        "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf",
    ):
        ds = xspace.open_cdf(get_path(name))
        print(describe(ds, title=f"== {name}"))
        nc = outdir / (Path(name).stem + ".nc")
        ds.space.to_netcdf(nc)
        back = xspace.open_netcdf(nc)
        same = all(
            np.array_equal(ds[v].values, back[v].values, equal_nan=ds[v].dtype.kind in "fc")
            for v in ds.variables
            if ds[v].dtype.kind in "fcMiu"
        )
        print(f"-> netCDF {nc.name}: {nc.stat().st_size} bytes, read back identical: {same}")
        cdf = outdir / (Path(name).stem + "_copy.cdf")
        ds.space.to_cdf(cdf, overwrite=True)
        again = xspace.open_cdf(cdf)
        same_cdf = all(
            np.array_equal(ds[v].values, again[v].values, equal_nan=ds[v].dtype.kind in "fcM")
            and ds[v].attrs.keys() == again[v].attrs.keys()
            for v in ds.variables
        )
        print(f"-> CDF {cdf.name}: {cdf.stat().st_size} bytes, values and attributes identical: {same_cdf}\n")
    lazy = xspace.open_cdf(get_path("rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"), create_default_indexes=False)
    flux = lazy["FPDU"].isel(Epoch_Ion=slice(40, 42))  # reads only these two records
    print(f"lazy read of 2 HOPE records: FPDU{tuple(flux.shape)}, median {float(np.nanmedian(flux)):.3g} "
          f"{lazy['FPDU'].attrs['UNITS']}\n")


STEPS = [step_io]


def run(outdir: str | None = None) -> int:
    """Run every demo step; files go to ``outdir`` (default: a new temporary folder)."""
    out = Path(outdir) if outdir else Path(tempfile.mkdtemp(prefix="xspace-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        step(out)
    print(f"demo outputs in {out}")
    return 0
