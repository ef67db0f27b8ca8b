"""A HAPI server stand-in to mount on :class:`~xspace.testing.LocalServer`.

:class:`HapiSite` answers ``about`` (3.x), ``capabilities``, ``catalog``, ``info`` and ``data`` like a real
HAPI server of version 3.x (``dataset``/``start``/``stop``, and the 2.x names too, as the 3.x specification
requires) or 2.x (``id``/``time.min``/``time.max`` only; the 3.x names are a ``1401`` error). Data streams
are CSV or binary, with the ``#`` header on ``include=header``, sent chunked (``chunk_records`` records per
HTTP chunk). Errors follow the HAPI status table: ``1201`` (HTTP 200) when a range has no record,
``1400``–``1411`` (HTTP 400/404) with a JSON status body, ``1408`` when a request is longer than
``max_request_duration`` (also announced as ``maxRequestDuration`` in ``info``) or holds more than
``max_records`` records.

Datasets
--------
Generated ones, whose values are a known function of time (``m`` = whole minutes since 1970, ``s`` =
seconds since 1970, ``h`` = hours since 1970), from 2000-01-01 to 2030-01-01:

==================  =======  ===========================================================================
id                  cadence  parameters
==================  =======  ===========================================================================
``gen/scalar``      PT1M     ``value`` (double) = ``m``
``gen/vector``      PT1M     ``B`` (double, size [3], bins ``component`` without centers) = ``[m, -m, m % 60]``
``gen/spectrum``    PT1M     ``flux`` (double, size [4], fixed bins ``energy`` 10, 20, 40, 80 keV) =
                             ``(m % 1000) * 10 + k``; fill ``-1e31`` at ``k = 3`` when ``m % 5 == 0``
``gen/varbins``     PT1M     ``spec`` (size [3]; bins centers ``spec_centers``, ranges ``spec_ranges``) =
                             ``m % 100 + k``; ``spec_centers`` = ``(k + 1) * (1 + m % 2)``;
                             ``spec_ranges`` = centers ∓ 0.5
``gen/mixed``       PT10S    ``quality`` (integer, fill 4) = ``(s // 10) % 5``; ``label`` (string, length 8,
                             fill ``"??"``) = ``"even"``/``"odd"`` by ``s // 10``, fill when ``(s//10) % 7 == 0``;
                             ``obs_time`` (isotime) = time − 5 s
``gen/matrix``      PT1H     ``M`` (double, size [2, 3]) = ``h * 10 + 3 * a + b``
``gen/dense``       PT1S     ``value`` (double) = ``s``
==================  =======  ===========================================================================

Real ones, from the answers of real HAPI servers in ``<data_dir>/hapi/`` (``data_dir`` given to the
constructor, e.g. ``/work/shared/data``), served with their original values (binary records byte for byte):
``real/ace_mag_1h`` (ACE MFI 1-hour, CSV), ``real/amda_imf`` (AMDA ACE IMF 16 s, binary),
``real/ace_epam`` (ACE EPAM electrons, fixed bins), ``real/testdata_varbins`` (HAPI TestData3.0, fixed
and time-varying bins), ``real/testdata_vector`` (HAPI TestData3.3 vector).

Examples
--------
>>> import json, urllib.request
>>> from xspace.testing import LocalServer
>>> with LocalServer() as srv:
...     url = HapiSite(version="3.1").mount(srv)
...     q = "dataset=gen/scalar&start=2020-01-01T00:00Z&stop=2020-01-01T00:02Z"
...     print(urllib.request.urlopen(f"{url}/data?{q}").read().decode())
2020-01-01T00:00:00.000Z,26297280.0
2020-01-01T00:01:00.000Z,26297281.0
<BLANKLINE>
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError
from .server import Reply, Request

__all__ = ["HapiSite", "hapi_handler", "serve_hapi", "HTTP_STATUS"]

#: HTTP status of each HAPI status code (HAPI 3.1 §4.2).
HTTP_STATUS = {1200: 200, 1201: 200, 1400: 400, 1401: 400, 1402: 400, 1403: 400, 1404: 400, 1405: 400,
               1406: 404, 1407: 404, 1408: 400, 1409: 400, 1410: 400, 1411: 400, 1500: 500, 1501: 500}

_TIME = {"name": "Time", "type": "isotime", "units": "UTC", "fill": None, "length": 24}
_START, _STOP = "2000-01-01T00:00:00.000Z", "2030-01-01T00:00:00.000Z"
_NS = 10**9


def _hapi():
    from ..fetch.providers import hapi

    return hapi


class _Dataset:
    """One dataset: its info and a source of records for [t0, t1)."""

    def __init__(self, id: str, info: dict, records: Callable, title: str = ""):
        self.id = id
        self.info = info
        self.records = records  # (t0_ns, t1_ns) -> (times datetime64[ns], time strings bytes, {name: array})
        self.title = title or id


def _iso_ms(times: np.ndarray) -> np.ndarray:
    """datetime64 -> b'yyyy-mm-ddThh:mm:ss.sssZ' (24 bytes)."""
    text = np.datetime_as_string(times.astype("datetime64[ms]"), unit="ms")
    return np.char.add(np.char.encode(text, "ascii"), b"Z").astype("S24")


def _generated(id: str, cadence_s: int, params: list[dict], func: Callable, title: str) -> _Dataset:
    start_ns = int(np.datetime64(_START[:-1], "ns").astype(np.int64))
    stop_ns = int(np.datetime64(_STOP[:-1], "ns").astype(np.int64))
    step = cadence_s * _NS

    def records(t0: int, t1: int):
        t0, t1 = max(t0, start_ns), min(t1, stop_ns)
        first = -(-t0 // step) * step
        ns = np.arange(first, max(t1, first), step, dtype=np.int64)
        times = ns.astype("datetime64[ns]")
        return times, _iso_ms(times), func(ns // _NS)

    info = {"startDate": _START, "stopDate": _STOP, "cadence": f"PT{cadence_s}S" if cadence_s < 60 else
            (f"PT{cadence_s // 60}M" if cadence_s < 3600 else f"PT{cadence_s // 3600}H"),
            "description": title, "parameters": [dict(_TIME)] + params,
            "x_generator": "xspace.testing.hapi_site"}
    return _Dataset(id, info, records, title)


def _generated_datasets() -> list[_Dataset]:
    out = []

    def scalar(s):
        return {"value": (s // 60).astype(np.float64)}

    out.append(_generated("gen/scalar", 60, [
        {"name": "value", "type": "double", "units": "min", "fill": None,
         "description": "whole minutes since 1970-01-01"}], scalar, "minutes since 1970"))

    def vector(s):
        m = (s // 60).astype(np.float64)
        return {"B": np.stack([m, -m, m % 60], axis=1)}

    out.append(_generated("gen/vector", 60, [
        {"name": "B", "type": "double", "units": "nT", "fill": "-1e31", "size": [3], "label": "B",
         "description": "[m, -m, m % 60]", "bins": [{"name": "component", "units": None, "centers": None}]}],
        vector, "a vector"))

    def spectrum(s):
        m = s // 60
        flux = ((m % 1000) * 10)[:, None] + np.arange(4)[None, :]
        flux = flux.astype(np.float64)
        flux[(m % 5 == 0), 3] = -1e31
        return {"flux": flux}

    out.append(_generated("gen/spectrum", 60, [
        {"name": "flux", "type": "double", "units": "1/(cm^2 s sr keV)", "fill": "-1e31", "size": [4],
         "description": "(m % 1000) * 10 + k",
         "bins": [{"name": "energy", "units": "keV", "centers": [10.0, 20.0, 40.0, 80.0],
                   "ranges": [[5.0, 15.0], [15.0, 30.0], [30.0, 60.0], [60.0, 100.0]]}]}],
        spectrum, "a spectrogram with fixed bins"))

    def varbins(s):
        m = s // 60
        k = np.arange(3)[None, :]
        spec = (m % 100)[:, None] + k
        centers = (k + 1) * (1 + (m % 2))[:, None]
        ranges = np.stack([centers - 0.5, centers + 0.5], axis=2)
        return {"spec": spec.astype(np.float64), "spec_centers": centers.astype(np.float64),
                "spec_ranges": ranges.astype(np.float64)}

    out.append(_generated("gen/varbins", 60, [
        {"name": "spec", "type": "double", "units": "counts", "fill": "-1e31", "size": [3],
         "description": "m % 100 + k",
         "bins": [{"name": "frequency", "units": "Hz", "centers": "spec_centers", "ranges": "spec_ranges"}]},
        {"name": "spec_centers", "type": "double", "units": "Hz", "fill": "-1e31", "size": [3],
         "description": "(k + 1) * (1 + m % 2)"},
        {"name": "spec_ranges", "type": "double", "units": "Hz", "fill": "-1e31", "size": [3, 2],
         "description": "centers -/+ 0.5"}], varbins, "a spectrogram with time-varying bins"))

    def mixed(s):
        i = s // 10
        label = np.where(i % 2 == 0, b"even", b"odd").astype("S8")
        label[i % 7 == 0] = b"??"
        obs = _iso_ms(((s - 5) * _NS).astype("datetime64[ns]"))
        return {"quality": (i % 5).astype(np.int32), "label": label, "obs_time": obs}

    out.append(_generated("gen/mixed", 10, [
        {"name": "quality", "type": "integer", "units": None, "fill": "4", "description": "(s // 10) % 5"},
        {"name": "label", "type": "string", "units": None, "fill": "??", "length": 8,
         "description": "even/odd by s // 10; fill when (s // 10) % 7 == 0"},
        {"name": "obs_time", "type": "isotime", "units": "UTC", "fill": None, "length": 24,
         "description": "time - 5 s"}], mixed, "integers, strings and a second time"))

    def matrix(s):
        h = (s // 3600).astype(np.float64)
        ab = np.arange(6, dtype=np.float64).reshape(2, 3)
        return {"M": h[:, None, None] * 10 + ab[None]}

    out.append(_generated("gen/matrix", 3600, [
        {"name": "M", "type": "double", "units": [["m/s", "m/s", "km/s"], ["m/s", "m/s", "km/s"]], "fill": None,
         "size": [2, 3], "description": "h * 10 + 3 a + b"}], matrix, "a 2x3 matrix"))

    out.append(_generated("gen/dense", 1, [
        {"name": "value", "type": "double", "units": "s", "fill": None, "description": "seconds since 1970"}],
        lambda s: {"value": s.astype(np.float64)}, "seconds since 1970, every second"))
    return out


_REAL = {
    "real/ace_mag_1h": ("HAPI_sample_csv_multiple_vars.csv", "ACE MFI 1-hour (CDAWeb AC_H0_MFI via HAPI)"),
    "real/amda_imf": ("HAPI_amda_imf_all.binary", "AMDA ace-imf-all, 16 s"),
    "real/ace_epam": ("HAPI_ndData_TimeIndependent_Axis.binary", "AMDA ace-epam-de, 5 min, fixed bins"),
    "real/testdata_varbins": ("HAPI_ndData_TimeVarying_Axis.binary", "HAPI TestData3.0 dataset1, time-varying bins"),
    "real/testdata_vector": ("HAPI_sample_TestData3.3.binary", "HAPI TestData3.3 dataset3 vector parameter"),
}


def _real_datasets(data_dir) -> list[_Dataset]:
    hapi = _hapi()
    folder = Path(data_dir)
    if (folder / "hapi").is_dir():
        folder = folder / "hapi"
    out = []
    for id, (fname, title) in _REAL.items():
        path = folder / fname
        if not path.exists():
            continue
        recs, params, header = hapi.read_records(path.read_bytes(), what=str(path))
        params = copy.deepcopy(params)
        params[0]["length"] = int(params[0].get("length") or 24)
        fields = {}
        for i, p in enumerate(params):
            fields[p["name"]] = np.ascontiguousarray(recs[f"f{i}"])
        names = [p["name"] for p in params]
        tname = names[0]
        text = np.char.strip(fields[tname].astype(f"S{params[0]['length']}"))
        times = hapi.parse_isotime(text)
        tns = times.astype(np.int64)
        text = text.astype(f"S{params[0]['length']}")

        def records(t0, t1, tns=tns, times=times, text=text, fields=fields, names=names):
            sel = (tns >= t0) & (tns < t1)
            return times[sel], text[sel], {n: fields[n][sel] for n in names[1:]}

        info = {k: v for k, v in header.items() if k not in ("status", "format", "HAPI", "parameters")}
        info["description"] = info.get("description") or title
        info["parameters"] = params
        out.append(_Dataset(id, info, records, title))
    return out


def _json_reply(doc: dict, status: int = 200) -> Reply:
    return Reply(status, json.dumps(doc, indent=1).encode(), content_type="application/json")


class HapiSite:
    """A HAPI server stand-in.

    Parameters
    ----------
    version : str
        ``"3.1"`` (any ``3.x``: both parameter name sets accepted) or ``"2.1"`` (any ``2.x``: only
        ``id``/``time.min``/``time.max``).
    formats : sequence of str
        Output formats listed in ``capabilities`` and served (``"csv"`` is always served).
    data_dir : path, optional
        Folder holding ``hapi/`` with the real answers (e.g. ``/work/shared/data``): adds the ``real/*``
        datasets.
    max_request_duration : str, optional
        ISO 8601 duration announced as ``maxRequestDuration`` in every ``info``; longer requests get 1408.
    max_records : int, optional
        Requests holding more records get 1408 ("too much data").
    chunk_records : int
        Records per HTTP chunk of a data stream.
    generated : bool
        Include the generated ``gen/*`` datasets.
    inclusive_stop : bool
        Emulate a sloppy server that also sends the records at ``stop`` (HAPI says ``stop`` is exclusive).

    Examples
    --------
    >>> from xspace.testing import LocalServer
    >>> import urllib.request, json
    >>> with LocalServer() as srv:
    ...     url = HapiSite(version="2.1").mount(srv, "/other/hapi")
    ...     json.loads(urllib.request.urlopen(url + "/capabilities").read())["HAPI"]
    '2.1'
    """

    def __init__(self, version: str = "3.1", *, formats=("csv", "binary"), data_dir=None,
                 max_request_duration: str | None = None, max_records: int | None = None,
                 chunk_records: int = 1000, generated: bool = True, inclusive_stop: bool = False):
        if not str(version)[:1] in ("2", "3"):
            raise InputError(f"HapiSite: version must be 2.x or 3.x, got {version!r}")
        self.version = str(version)
        self.formats = [f for f in formats]
        if "csv" not in self.formats:
            self.formats.insert(0, "csv")
        self.max_request_duration = max_request_duration
        self.max_records = max_records
        self.chunk_records = int(chunk_records)
        self.inclusive_stop = bool(inclusive_stop)
        self.datasets: dict[str, _Dataset] = {}
        if generated:
            for d in _generated_datasets():
                self.datasets[d.id] = d
        if data_dir is not None:
            for d in _real_datasets(data_dir):
                self.datasets[d.id] = d

    @property
    def v3(self) -> bool:
        return self.version.startswith("3")

    def add_dataset(self, id: str, info: dict, records: Callable, title: str = "") -> None:
        """Serve another dataset: ``records(t0_ns, t1_ns) -> (times, time strings, {name: values})``."""
        self.datasets[id] = _Dataset(id, info, records, title)

    def mount(self, server, prefix: str = "/hapi") -> str:
        """Mount on a :class:`~xspace.testing.LocalServer`; returns the server's base URL (``.../hapi``)."""
        server.mount(prefix, self.handler)
        return server.url + prefix.rstrip("/")

    # ------------------------------------------------------------------------------------ replies
    def _status(self, code: int, message: str | None = None) -> dict:
        hapi = _hapi()
        return {"HAPI": self.version, "status": {"code": code, "message": message or hapi.STATUS_MESSAGES[code]}}

    def error(self, code: int, message: str | None = None) -> Reply:
        """The JSON error answer of a HAPI status code (HTTP status from :data:`HTTP_STATUS`)."""
        return _json_reply(self._status(code, message), HTTP_STATUS.get(code, 400))

    def handler(self, req: Request) -> Reply:
        """The request handler (mount it with ``server.mount("/hapi", site.handler)``)."""
        endpoint = req.subpath.strip("/")
        try:
            if endpoint == "capabilities":
                return _json_reply(dict(self._status(1200), outputFormats=list(self.formats)))
            if endpoint == "about" and self.v3:
                return _json_reply(dict(self._status(1200), id="xspace-hapi-site", title="xspace HAPI stand-in",
                                        contact="nobody"))
            if endpoint == "catalog":
                return _json_reply(dict(self._status(1200), catalog=[
                    {"id": d.id, "title": d.title} for d in self.datasets.values()]))
            if endpoint == "info":
                return self._info(req)
            if endpoint == "data":
                return self._data(req)
            if endpoint == "":
                return Reply(200, "<html><body>HAPI server stand-in</body></html>", content_type="text/html")
            return self.error(1400, f"Bad request - unknown endpoint {endpoint!r}")
        except _Fail as fail:
            return self.error(fail.code, fail.message)

    def _names(self, req: Request, allowed_v3: dict, allowed_v2: dict) -> dict:
        """Map the request's parameter names to canonical keys, enforcing the version's names."""
        allowed = dict(allowed_v2)
        if self.v3:
            allowed.update(allowed_v3)
        out = {}
        for k, v in req.query.items():
            if k not in allowed:
                raise _Fail(1401, f"Bad request - unknown API parameter name {k!r}")
            out[allowed[k]] = v
        return out

    def _dataset(self, q: dict) -> _Dataset:
        did = q.get("dataset")
        if not did:
            raise _Fail(1400, "Bad request - user input error: no dataset"
                        + (" (dataset=...)" if self.v3 else " (id=...)"))
        if did not in self.datasets:
            raise _Fail(1406)
        return self.datasets[did]

    def _subset(self, ds: _Dataset, q: dict) -> list[dict]:
        params = ds.info["parameters"]
        if "parameters" not in q:
            return params
        text = q["parameters"]
        if text.strip() == "":
            return params  # the 3.x text calls it an error, but real servers (and hapiclient) use it for "all"
        wanted = [w for w in text.split(",")]
        order = {p["name"]: i for i, p in enumerate(params)}
        for w in wanted:
            if w not in order:
                raise _Fail(1407)
        idx = [order[w] for w in wanted]
        if len(set(idx)) != len(idx) or idx != sorted(idx):
            raise _Fail(1411, "Bad request - out of order or duplicate parameters")
        keep = set(idx) | {0}
        return [p for i, p in enumerate(params) if i in keep]

    def _header(self, ds: _Dataset, params: list[dict], code: int = 1200) -> dict:
        head = dict(self._status(code))
        for k, v in ds.info.items():
            if k != "parameters":
                head[k] = v
        if self.max_request_duration:
            head["maxRequestDuration"] = self.max_request_duration
        head["parameters"] = params
        return head

    def _info(self, req: Request) -> Reply:
        q = self._names(req, {"dataset": "dataset"}, {"id": "dataset", "parameters": "parameters"})
        if self.v3 and "parameters" in req.query:
            q["parameters"] = req.query["parameters"]
        ds = self._dataset(q)
        return _json_reply(self._header(ds, self._subset(ds, q)))

    def _data(self, req: Request) -> Reply:
        hapi = _hapi()
        q = self._names(req, {"dataset": "dataset", "start": "start", "stop": "stop"},
                        {"id": "dataset", "time.min": "start", "time.max": "stop", "parameters": "parameters",
                         "include": "include", "format": "format"})
        ds = self._dataset(q)
        params = self._subset(ds, q)
        for key, code in (("start", 1402), ("stop", 1403)):
            if key not in q:
                raise _Fail(code, f"Bad request - no {key} time")
        try:
            t0 = hapi.parse_isotime([q["start"].encode()])[0]
        except Exception:
            raise _Fail(1402) from None
        try:
            t1 = hapi.parse_isotime([q["stop"].encode()])[0]
        except Exception:
            raise _Fail(1403) from None
        if t1 <= t0:
            raise _Fail(1404)
        fmt = q.get("format", "csv")
        if fmt not in self.formats:
            raise _Fail(1409)
        include = q.get("include")
        if include not in (None, "header"):
            raise _Fail(1410)
        if self.max_request_duration:
            if t1 - t0 > hapi.parse_duration(self.max_request_duration):
                raise _Fail(1408, f"Bad request - too much time or data requested (maxRequestDuration "
                                  f"{self.max_request_duration})")
        times, text, values = ds.records(int(t0.astype(np.int64)), int(t1.astype(np.int64)) + int(self.inclusive_stop))
        n = len(times)
        if self.max_records is not None and n > self.max_records:
            raise _Fail(1408, f"Bad request - too much time or data requested ({n} records > {self.max_records})")
        code = 1200 if n else 1201
        head = None
        if include == "header":
            header = self._header(ds, params, code)
            header["format"] = fmt
            head = ("\n".join("#" + line for line in json.dumps(header, indent=1).split("\n")) + "\n").encode()
        names = [p["name"] for p in params[1:]]
        cols = [values[nm] for nm in names]
        chunks = self._stream(params, text, cols, fmt, head)
        ctype = "application/octet-stream" if fmt == "binary" else "text/csv"
        return Reply(200, chunks, content_type=ctype)

    def _stream(self, params, text, cols, fmt, head):
        step = max(1, self.chunk_records)
        n = len(text)
        if head is not None:
            yield head
        if fmt == "binary":
            hapi = _hapi()
            dtype = hapi._record_dtype(params, "binary")
            for a in range(0, n, step):
                b = min(n, a + step)
                out = np.zeros(b - a, dtype)
                out["f0"] = text[a:b]
                for i, c in enumerate(cols, start=1):
                    out[f"f{i}"] = c[a:b]
                yield out.tobytes()
        else:
            for a in range(0, n, step):
                b = min(n, a + step)
                yield _csv_rows(params, text[a:b], [c[a:b] for c in cols]).encode()


def _csv_field(v) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(v, float):
        if v != v:
            return "NaN"
        return repr(v)
    v = str(v)
    if any(c in v for c in ',"\n'):
        v = '"' + v.replace('"', '""') + '"'
    return v


def _csv_rows(params, text, cols) -> str:
    n = len(text)
    columns = [[t.decode("ascii").rstrip("\x00") for t in text.tolist()]]
    for p, c in zip(params[1:], cols):
        flat = np.asarray(c).reshape(n, -1)
        for j in range(flat.shape[1]):
            columns.append([_csv_field(v) for v in flat[:, j].tolist()])
    if not n:
        return ""
    return "".join(",".join(row) + "\n" for row in zip(*columns))


class _Fail(Exception):
    def __init__(self, code: int, message: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message


def hapi_handler(version: str = "3.1", **kwargs) -> Callable[[Request], Reply]:
    """The request handler of a new :class:`HapiSite` (arguments as :class:`HapiSite`).

    Examples
    --------
    >>> from xspace.testing import LocalServer
    >>> import urllib.request
    >>> with LocalServer() as srv:
    ...     srv.mount("/hapi", hapi_handler("3.1"))
    ...     b"gen/scalar" in urllib.request.urlopen(srv.url + "/hapi/catalog").read()
    True
    """
    return HapiSite(version, **kwargs).handler


def serve_hapi(server, version: str = "3.1", prefix: str = "/hapi", **kwargs) -> str:
    """Mount a new :class:`HapiSite` on ``server``; return its base URL.

    Examples
    --------
    >>> from xspace.testing import LocalServer
    >>> with LocalServer() as srv:
    ...     serve_hapi(srv, "2.1").endswith("/hapi")
    True
    """
    return HapiSite(version, **kwargs).mount(server, prefix)
