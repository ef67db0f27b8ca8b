"""The ``xspace`` command line: ``xspace info FILE``, ``xspace demo``, ``xspace cache info|clear|verify``,
``xspace fetch PRODUCT START STOP``.

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


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _cmd_cache(args) -> int:
    from .fetch import cache

    if args.action == "info":
        i = cache.info()
        print(f"cache {i['path']}: {i['files']} files, {_size(i['bytes'])}")
        for host, h in sorted(i["hosts"].items()):
            print(f"  {host:<40} {h['files']:>7} files {_size(h['bytes']):>12}")
    elif args.action == "clear":
        n = cache.clear(args.host)
        print(f"removed {n} files from {cache.cache_dir()}" + (f" ({args.host})" if args.host else ""))
    else:
        problems = cache.verify(remove=not args.keep)
        for path, why in problems:
            print(f"  {path}: {why}" + ("" if args.keep else " (removed)"))
        print(f"{len(problems)} problems in {cache.cache_dir()}")
        return 1 if problems and args.keep else 0
    return 0


def _cmd_fetch(args) -> int:
    import xspace

    from .errors import XspaceError

    try:
        data = xspace.get_data(args.product, args.start, args.stop, load=True)
    except XspaceError as exc:
        print(f"xspace fetch: {exc}", file=sys.stderr)
        return 1
    ds = data.to_dataset() if hasattr(data, "to_dataset") and not hasattr(data, "data_vars") else data
    print(describe(ds, title=f"== {args.product} [{args.start}, {args.stop})"))
    if args.output:
        if str(args.output).endswith(".cdf"):
            xspace.to_cdf(ds, args.output)
        else:
            ds.space.to_netcdf(args.output)
        print(f"wrote {args.output}")
    return 0


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
    p_cache = sub.add_parser("cache", help="the download cache: info, clear, verify")
    p_cache.add_argument("action", choices=["info", "clear", "verify"])
    p_cache.add_argument("--host", default=None, help="clear: only this host's files")
    p_cache.add_argument("--keep", action="store_true", help="verify: report bad entries without removing them")
    p_cache.set_defaults(func=_cmd_cache)
    p_fetch = sub.add_parser("fetch", help="fetch a product, e.g. cdaweb/AC_H0_MFI/BGSEc 2022-01-01 2022-01-02")
    p_fetch.add_argument("product")
    p_fetch.add_argument("start")
    p_fetch.add_argument("stop")
    p_fetch.add_argument("-o", "--output", default=None, help="write to a .cdf or .nc file")
    p_fetch.set_defaults(func=_cmd_fetch)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
