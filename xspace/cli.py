"""The ``xspace`` command line: ``xspace info FILE``, ``xspace demo``.

Examples
--------
>>> from xspace.cli import main
>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def describe(ds, title: str = "") -> str:
    """A human-readable summary of a dataset: variables, dims, time ranges, units and VAR_TYPE.

    Examples
    --------
    >>> import xspace
    >>> from xspace.data import get_path
    >>> print(describe(xspace.open_cdf(get_path("ac_k2_mfi_20220101_v03.cdf"))))  # doctest: +ELLIPSIS
    dimensions: Epoch=24, ...
    """
    lines = []
    if title:
        lines.append(title)
    lines.append("dimensions: " + ", ".join(f"{k}={v}" for k, v in ds.sizes.items()))
    for name in ds.dims:
        if name in ds.coords and ds[name].dtype.kind == "M" and ds.sizes[name] > 0:
            values = ds[name].values
            good = values[~np.isnat(values)]
            if good.size:
                lines.append(f"time range {name}: {good.min()} -> {good.max()} ({ds.sizes[name]} records)")
    lines.append(f"{'variable':<28} {'role':<14} {'VAR_TYPE':<14} {'UNITS':<16} dims")
    for role, group in (("coordinate", ds.coords), ("data", ds.data_vars)):
        for name, var in group.items():
            units = str(var.attrs.get("UNITS", var.attrs.get("units", "")))
            vtype = str(var.attrs.get("VAR_TYPE", ""))
            dims = "(" + ", ".join(f"{d}={var.sizes[d]}" for d in var.dims) + ")"
            lines.append(f"{str(name):<28} {role:<14} {vtype:<14} {units:<16} {dims} {var.dtype}")
    return "\n".join(lines)


def _cmd_info(args) -> int:
    from .errors import XspaceError
    from .io.open import open_file

    status = 0
    for path in args.files:
        try:
            ds = open_file(path)
        except XspaceError as exc:
            print(f"xspace info: {exc}", file=sys.stderr)
            status = 1
            continue
        print(describe(ds, title=f"== {path}"))
    return status


def _cmd_demo(args) -> int:
    from .demo import run

    return run(outdir=args.outdir)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xspace`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="xspace", description="xarray-native space-physics data analysis")
    parser.add_argument("--version", action="version", version=f"xspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="summarise CDF / netCDF / HDF5 / JSON-headed ASCII files")
    p_info.add_argument("files", nargs="+")
    p_info.set_defaults(func=_cmd_info)
    p_demo = sub.add_parser("demo", help="run the demo on bundled real data (no network)")
    p_demo.add_argument("--outdir", default=None, help="where to write figures and files (default: a temporary folder)")
    p_demo.set_defaults(func=_cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
