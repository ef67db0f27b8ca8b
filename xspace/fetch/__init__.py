"""One call to any archive: :func:`get_data`, the inventory and the cache.

``xspace.get_data(product, start, stop)`` returns ISTP-decoded xarray objects for a product path
``"<provider>/<...>"``:

=================================  ==========================================================
``"cdaweb/AC_H0_MFI/BGSEc"``       a CDAWeb variable (files from the HTTPS archive, lazy)
``"cdaweb/AC_H0_MFI"``             a whole CDAWeb dataset (Dataset)
``"hapi/<alias>/<dataset>/<par>"`` a HAPI parameter from any HAPI server
``"sscweb/ace"``                   a spacecraft trajectory from SSCWeb
``"amda/<parameter>"``             an AMDA parameter
``"csa/<DATASET>/<variable>"``     a Cluster Science Archive variable
``"<name>"``                       a virtual product registered with :func:`register_product`
=================================  ==========================================================

Importing this module makes no network request; providers are imported on first use.

Examples
--------
>>> import xspace
>>> xspace.fetch.provider_names()
['amda', 'cdaweb', 'csa', 'hapi', 'sscweb']
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import xarray as xr

from ..errors import FetchError, InputError, ProductNotFound
from ..options import OPTIONS
from ._times import cut, normalise_range

__all__ = [
    "get_data",
    "register_product",
    "unregister_product",
    "base_url",
    "hapi_servers",
    "provider_names",
    "VirtualProduct",
]

PROVIDERS = {
    "cdaweb": "xspace.fetch.providers.cdaweb",
    "hapi": "xspace.fetch.providers.hapi",
    "sscweb": "xspace.fetch.providers.sscweb",
    "amda": "xspace.fetch.providers.amda",
    "csa": "xspace.fetch.providers.csa",
}

DEFAULT_URLS = {
    "cdaweb": "https://cdaweb.gsfc.nasa.gov",
    "cdaweb_catalog": "https://spdf.gsfc.nasa.gov/pub/catalogs/all.xml",
    "sscweb": "https://sscweb.gsfc.nasa.gov/WS/sscr/2",
    "amda": "https://amda.irap.omp.eu/php/rest",
    "csa": "https://csa.esac.esa.int/csa-sl-tap",
}

DEFAULT_HAPI_SERVERS = {
    "cdaweb": "https://cdaweb.gsfc.nasa.gov/hapi",
    "amda": "https://amda.irap.omp.eu/service/hapi",
    "csa": "https://csatools.esac.esa.int/HapiServer/hapi",
    "lisird": "https://lasp.colorado.edu/lisird/hapi",
    "intermagnet": "https://imag-data.bgs.ac.uk/GIN_V1/hapi",
}


def provider_names() -> list[str]:
    """Names of the providers, the first component of product paths.

    Examples
    --------
    >>> provider_names()[:2]
    ['amda', 'cdaweb']
    """
    return sorted(PROVIDERS)


def base_url(name: str) -> str:
    """Base URL of a provider: option ``<name>_url``, else ``$XSPACE_<NAME>_URL``, else the real service.

    ``name`` is one of ``cdaweb``, ``cdaweb_catalog``, ``sscweb``, ``amda``, ``csa`` (HAPI servers: see
    :func:`hapi_servers`). Read at call time, never cached, so tests and users can point a provider at
    another server at any moment.

    Examples
    --------
    >>> import xspace
    >>> base_url("cdaweb")
    'https://cdaweb.gsfc.nasa.gov'
    >>> with xspace.set_options(cdaweb_url="http://127.0.0.1:8000/"):
    ...     base_url("cdaweb")
    'http://127.0.0.1:8000'
    """
    if name not in DEFAULT_URLS:
        raise InputError(f"base_url: unknown provider {name!r}; expected one of {sorted(DEFAULT_URLS)}")
    opt = OPTIONS.get(f"{name}_url")
    if opt:
        return opt.rstrip("/")
    env = os.environ.get(f"XSPACE_{name.upper()}_URL")
    if env:
        return env.rstrip("/")
    return DEFAULT_URLS[name]


def hapi_servers() -> dict[str, str]:
    """HAPI servers by alias: the built-in list, ``$XSPACE_HAPI_URL``/option ``hapi_url`` as ``"default"``,
    and option ``hapi_servers`` (which overrides the others).

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(hapi_servers={"mine": "http://127.0.0.1:9000/hapi"}):
    ...     hapi_servers()["mine"]
    'http://127.0.0.1:9000/hapi'
    """
    servers = dict(DEFAULT_HAPI_SERVERS)
    default = OPTIONS.get("hapi_url") or os.environ.get("XSPACE_HAPI_URL")
    if default:
        servers["default"] = default.rstrip("/")
    servers.update({k: v.rstrip("/") for k, v in (OPTIONS.get("hapi_servers") or {}).items()})
    return servers


# ------------------------------------------------------------------------------------------ virtual
@dataclass
class VirtualProduct:
    """A product computed by a function (see :func:`register_product`)."""

    name: str
    func: Callable
    inputs: list = field(default_factory=list)
    cache: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        try:
            src = inspect.getsource(self.func)
        except (OSError, TypeError):
            src = repr(self.func)
        return hashlib.sha1((src + repr(self.inputs)).encode()).hexdigest()[:12]


_VIRTUAL: dict[str, VirtualProduct] = {}
_VIRTUAL_LOCK = threading.Lock()


def register_product(name: str, func: Callable, inputs=None, *, cache: bool = False, **meta) -> VirtualProduct:
    """Register a virtual product that :func:`get_data` and the inventory treat like any other.

    Parameters
    ----------
    name : str
        Product path, e.g. ``"my/mirror_threshold"`` (must not start with a provider name).
    func : callable
        Without ``inputs``: ``func(start, stop)`` (numpy.datetime64) returning a DataArray or Dataset.
        With ``inputs``: ``func(*arrays)`` receiving ``get_data(input, start, stop)`` for each input — lazy
        (dask-backed) when the inputs are, so the virtual product stays lazy if ``func`` uses xarray
        operations.
    inputs : list of str or inventory nodes, optional
        Products the function is computed from.
    cache : bool
        Store each computed result in the cache (netCDF under ``<cache>/virtual/<name>/``), keyed by the
        time range and a fingerprint of the function's source and inputs; later calls open it lazily.
    **meta
        Shown in the inventory (``description``, ``units``, ...).

    Returns
    -------
    VirtualProduct

    Notes
    -----
    The result is cut to ``[start, stop)`` on its time dimension, like every product.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xspace
    >>> def ramp(start, stop):
    ...     t = np.arange(start, stop, np.timedelta64(1, "h"))
    ...     return xr.DataArray(np.arange(t.size, dtype=float), coords={"time": t}, dims="time", name="ramp")
    >>> _ = xspace.register_product("demo/ramp", ramp, description="hours since start")
    >>> xspace.get_data("demo/ramp", "2020-01-01", "2020-01-01T05:00").values
    array([0., 1., 2., 3., 4.])
    >>> xspace.fetch.unregister_product("demo/ramp")
    """
    if not isinstance(name, str) or not name.strip("/"):
        raise InputError("register_product: name must be a non-empty product path like 'my/product'")
    name = name.strip("/")
    if name.split("/")[0] in PROVIDERS:
        raise InputError(
            f"register_product: {name!r} starts with the provider name {name.split('/')[0]!r}; "
            "choose another first component"
        )
    if not callable(func):
        raise InputError(f"register_product: func of {name!r} is not callable")
    inputs = [getattr(i, "path", i) for i in (inputs or [])]
    vp = VirtualProduct(name, func, inputs, bool(cache), dict(meta))
    with _VIRTUAL_LOCK:
        _VIRTUAL[name] = vp
    try:
        from . import inventory as _inv

        _inv.add_virtual(name, dict(meta, inputs=inputs))
    except (ImportError, AttributeError):  # pragma: no cover - inventory optional
        pass
    return vp


def unregister_product(name: str) -> None:
    """Remove a virtual product.

    Examples
    --------
    >>> unregister_product("never/registered")
    """
    with _VIRTUAL_LOCK:
        _VIRTUAL.pop(name.strip("/"), None)
    try:
        from . import inventory as _inv

        remove = getattr(_inv, "remove_virtual", None)
        if remove is not None:
            remove(name.strip("/"))
    except ImportError:  # pragma: no cover
        pass


def _get_virtual(vp: VirtualProduct, start, stop, load: bool):
    from . import cache as _cache

    target = None
    if vp.cache:
        tag = f"{np.datetime64(start, 'ns').astype(np.int64)}_{np.datetime64(stop, 'ns').astype(np.int64)}"
        target = _cache.cache_dir() / "virtual" / vp.name.replace("/", "__") / f"{vp.fingerprint}_{tag}.nc"
        if target.exists():
            from ..io.netcdf import open_netcdf

            out = open_netcdf(target, chunks={})
            bools = [b for b in out.attrs.pop("xspace_virtual_bool", "").split(",") if b]
            for b in bools:
                out[b] = out[b].astype(bool)
            name = out.attrs.pop("xspace_virtual_dataarray", None)
            if name:
                out = out[name]
            return out.load() if load else out
    if vp.inputs:
        args = [get_data(i, start, stop) for i in vp.inputs]
        result = vp.func(*args)
    else:
        result = vp.func(start, stop)
    if result is None or not isinstance(result, (xr.DataArray, xr.Dataset)):
        raise FetchError(
            f"virtual product {vp.name!r}: the function returned {type(result).__name__}, "
            "expected an xarray DataArray or Dataset"
        )
    result = cut(result, start, stop)
    if isinstance(result, xr.DataArray) and result.name is None:
        result = result.rename(vp.name.split("/")[-1])
    if target is not None:
        from ..io.netcdf import to_netcdf

        target.parent.mkdir(parents=True, exist_ok=True)
        result = result.load()  # computed once: stored, then returned
        ds = result.to_dataset() if isinstance(result, xr.DataArray) else result
        ds = ds.copy()
        if isinstance(result, xr.DataArray):
            ds.attrs["xspace_virtual_dataarray"] = str(result.name)
        bools = [str(k) for k, v in ds.data_vars.items() if v.dtype == bool]
        for b in bools:  # netCDF has no bool: stored as int8, restored on reading
            ds[b] = ds[b].astype("i1")
        if bools:
            ds.attrs["xspace_virtual_bool"] = ",".join(bools)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        to_netcdf(ds, tmp)
        os.replace(tmp, target)
    if load:
        result = result.load()
    return result


# ------------------------------------------------------------------------------------------ get_data
def _resolve(product) -> tuple[str, Any]:
    """('virtual', VirtualProduct) or (provider name, parts)."""
    path = getattr(product, "path", product)
    if not isinstance(path, str) or not path.strip("/"):
        raise InputError(
            f"get_data: product must be a path like 'cdaweb/AC_H0_MFI/BGSEc' or an inventory node, got {product!r}"
        )
    path = path.strip().strip("/")
    with _VIRTUAL_LOCK:
        vp = _VIRTUAL.get(path)
    if vp is not None:
        return "virtual", vp
    head, _, rest = path.partition("/")
    if head not in PROVIDERS:
        names = list(PROVIDERS) + list(_VIRTUAL)
        close = difflib.get_close_matches(path, names, n=5, cutoff=0.5) or difflib.get_close_matches(
            head, names, n=5, cutoff=0.5
        )
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ProductNotFound(
            f"get_data: unknown product {path!r}: {head!r} is neither a provider "
            f"({', '.join(sorted(PROVIDERS))}) nor a registered virtual product{hint}"
        )
    parts = [p for p in rest.split("/") if p] if rest else []
    return head, parts


def _provider(name: str):
    try:
        return importlib.import_module(PROVIDERS[name])
    except ImportError as exc:
        raise FetchError(f"the {name!r} provider cannot be loaded: {exc}") from exc


def _is_range_list(start, stop) -> bool:
    return stop is None and isinstance(start, (list, tuple)) and all(
        isinstance(r, (list, tuple)) and len(r) == 2 for r in start
    )


def get_data(product, start=None, stop=None, *, load: bool = False, **options):
    """Data of a product over ``[start, stop)``, as lazy ISTP-decoded xarray objects.

    Parameters
    ----------
    product : str, inventory node, or list of them
        Product path (see the module docstring), e.g. ``"cdaweb/AC_H0_MFI/BGSEc"``.
    start, stop : datetime, str, numpy.datetime64 or pandas.Timestamp
        Interval ``[start, stop)``; naive values are UTC, aware ones are converted. Instead, ``start`` may be
        a list of ``(start, stop)`` pairs (``stop`` omitted): one result per range.
    load : bool
        Download everything now (bounded parallel downloads per host, a progress bar) and return loaded
        data. By default providers that can (CDAWeb, CSA) return dask-backed objects after fetching only
        metadata; files are downloaded when (and where) data is computed.
    **options
        Passed to the provider (e.g. ``coordinate_system="gsm"`` for SSCWeb, ``method="archive"`` for
        CDAWeb).

    Returns
    -------
    xarray.DataArray, xarray.Dataset, or list
        A DataArray for one variable, a Dataset for a dataset or several variables, a list for a list of
        products or of ranges (nested ``[product][range]`` when both are lists). An empty interval gives
        an empty object, never ``None``.

    Raises
    ------
    ProductNotFound
        Unknown product (the message lists close matches).
    OfflineError
        Offline and the data are not cached.
    FetchError
        The server failed or answered with an error.

    Examples
    --------
    >>> import xspace
    >>> from xspace.testing.cdaweb_site import serve_cdaweb           # a local CDAWeb look-alike
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=2) as srv, \\
    ...         xspace.set_options(cdaweb_url=srv.url, cache_dir=tmp):
    ...     ramp = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:58", "2020-01-02T00:02")
    ...     ramp.values.tolist()
    [10520638.0, 10520639.0, 10520640.0, 10520641.0]
    >>> xspace.get_data("cdaweb/AC_K2_MFI/BGSEc", "2022-01-01", "2022-01-02")  # doctest: +SKIP
    """
    if isinstance(product, (list, tuple)):
        return [get_data(p, start, stop, load=load, **options) for p in product]
    if _is_range_list(start, stop):
        return [get_data(product, a, b, load=load, **options) for a, b in start]
    if isinstance(start, (list, tuple)) and isinstance(stop, (list, tuple)):
        if len(start) != len(stop):
            raise InputError(f"get_data: {len(start)} starts but {len(stop)} stops; expected pairs")
        return [get_data(product, a, b, load=load, **options) for a, b in zip(start, stop)]
    if start is None or stop is None:
        raise InputError("get_data: start and stop are required (or start=[(start, stop), ...])")
    t0, t1 = normalise_range(start, stop)
    kind, target = _resolve(product)
    if kind == "virtual":
        return _get_virtual(target, t0, t1, load)
    result = _provider(kind).get(target, t0, t1, load=load, **options)
    if result is None:  # a provider bug must never reach the user as None
        raise FetchError(f"get_data: the {kind!r} provider returned nothing for {product!r}")
    if load:
        return result.load()
    if _is_lazy(result):
        from ._progress import install

        install()  # a later .load() shows a progress bar over the downloads
    return result


def _is_lazy(obj) -> bool:
    variables = obj.variables.values() if isinstance(obj, xr.Dataset) else [obj.variable]
    return any(v.chunks is not None for v in variables)  # dask-backed (never loads anything)
