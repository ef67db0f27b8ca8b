"""Local stand-ins of SSCWeb, AMDA and the Cluster Science Archive, mounted on a :class:`LocalServer`.

* **SSCWeb** (``/WS/sscr/2``): ``observatories`` answers the real observatory list
  (``sscweb_observatories.xml``, 275 observatories); ``locations/{id}/{start},{stop}/{system}/`` answers a
  ``DataResult``: for the Moon on 2006-01-08 01:00-02:00 the real answer (``sscweb_trajectory.xml``, GSE),
  otherwise generated positions on the observatory's cadence whose values are :func:`trajectory_value`.
* **AMDA** (``/php/rest``): ``auth.php`` (tokens), ``getObsDataTree.php`` (the URL of the real observatory
  data tree), ``getParameter.php`` answering "in progress" and then, after ``amda_polls`` polls of
  ``getStatus.php`` still in progress, "done" with a file URL under ``/amda-data/WSRESULT/``; ASCII (with
  AMDA's header) or CDF (written by :func:`xspace.to_cdf`), values :func:`amda_value`.
* **CSA** (``/csa-sl-tap``): ``tap/sync`` (ADQL on ``csa.v_dataset`` / ``csa.v_parameter``, JSON) and
  ``data?RETRIEVAL_TYPE=product...`` answering a gzipped tar of generated ISTP CDFs
  (:data:`CSA_DATASETS`), values :func:`csa_value`.

The real files come from the shared data folder (``../shared/data`` of a source checkout, or
``$XSPACE_SHARED_DATA``); without it (an installed package) the site answers a built-in list of three
observatories, a built-in one-dataset AMDA tree and the bundled ``ac_k2_mfi_20220101_v03.cdf``.

Switches on the site object make the services fail like the real ones: ``sscweb_error``,
``amda_error``, ``csa_error`` (a message; ``*_error_status`` an HTTP status, default 200 with the
service's own error document), ``csa_evil`` (a tar with a ``..`` member), ``csa_gaps`` (days without
data: empty packages).

Examples
--------
>>> import tempfile, xspace
>>> from xspace.testing.others_site import serve_others, trajectory_value
>>> with tempfile.TemporaryDirectory() as tmp, serve_others() as site, \\
...         xspace.set_options(cache_dir=tmp, **site.options()):
...     pos = xspace.get_data("sscweb/ace", "2020-01-01T00:00", "2020-01-01T00:30")
...     pos.shape, pos.values[1].tolist() == list(trajectory_value(pos.Epoch.values[1], "gse"))
((3, 3), True)
"""

from __future__ import annotations

import io
import itertools
import re
import tarfile
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .server import LocalServer, Reply, Request

__all__ = [
    "OthersSite",
    "serve_others",
    "trajectory_value",
    "amda_value",
    "csa_value",
    "CSA_DATASETS",
    "SSCWEB_PREFIX",
    "AMDA_PREFIX",
    "CSA_PREFIX",
]

SSCWEB_PREFIX = "/WS/sscr/2"
AMDA_PREFIX = "/php/rest"
CSA_PREFIX = "/csa-sl-tap"
_AMDA_FILES = "/amda-data"

_EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")
_TREE_INDEX: dict[str, dict] = {}
_NS = "http://sscweb.gsfc.nasa.gov/schema"
_SYSTEMS = ["geo", "gm", "gse", "gsm", "sm", "geitod", "geij2000"]
_SYSTEM_NAMES = {"geo": "Geo", "gm": "Gm", "gse": "Gse", "gsm": "Gsm", "sm": "Sm", "geitod": "GeiTod",
                 "geij2000": "GeiJ2000"}


_FALLBACK_OBSERVATORIES = [  # (id, name, resolution s, start, stop): used when the real list is not at hand
    ("ace", "ACE", 720, "1997-08-25T17:48:00.000Z", "2024-05-19T23:48:00.000Z"),
    ("moon", "Moon", 60, "1959-01-01T00:00:00.000Z", "2040-08-21T23:58:00.000Z"),
    ("themisa", "THEMIS-A", 60, "2007-02-18T00:00:00.000Z", "2025-12-31T23:59:00.000Z"),
]
_FALLBACK_TREE = b"""<?xml version="1.0"?>
<dataRoot xml:id="DATAROOT"><dataCenter name="AMDA" xml:id="myLocalData-treeRootNode">
<mission xml:id="ACE" name="ACE" desc="Advanced Composition Explorer"><instrument xml:id="ACE_mfi" name="MFI"
desc="Magnetic Field Experiment"><dataset xml:id="ace-imf-all" name="final / prelim" sampling="16S"
dataStart="1997-09-02T00:00:12Z" dataStop="2025-01-11T23:59:50Z" desc="IMF 16-sec">
<parameter xml:id="imf_mag" name="|b|" units="nT" description="Magnetic field magnitude"/>
<parameter xml:id="imf" name="b_gse" units="nT" description="Magnetic field vector in GSE (16 sec)" size="3">
<component xml:id="imf(0)" index1="0" name="bx"/><component xml:id="imf(1)" index1="1" name="by"/>
<component xml:id="imf(2)" index1="2" name="bz"/></parameter></dataset></instrument></mission>
</dataCenter></dataRoot>
"""


def _data_dir() -> Path | None:
    """The shared real-data folder (``../shared/data`` of the repository, or $XSPACE_SHARED_DATA), or None."""
    import os

    env = os.environ.get("XSPACE_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" for p in here.parents]
    for c in candidates:
        if (c / "sscweb" / "sscweb_observatories.xml").exists():
            return c
    return None


def _real_file(relpath: str) -> Path | None:
    """A real file of the shared data folder, else the copy bundled in ``xspace/data`` (or None)."""
    folder = _data_dir()
    if folder is not None and (folder / relpath).is_file():
        return folder / relpath
    bundled = Path(__file__).resolve().parent.parent / "data" / Path(relpath).name
    return bundled if bundled.is_file() else None


def _fallback_observatories_xml() -> bytes:
    rows = "".join(
        f"<Observatory><Id>{i}</Id><Name>{n}</Name><Resolution>{r}</Resolution><StartTime>{a}</StartTime>"
        f"<EndTime>{b}</EndTime><Geometry></Geometry><TrajectoryGeometry></TrajectoryGeometry>"
        "<ResourceId></ResourceId></Observatory>"
        for i, n, r, a, b in _FALLBACK_OBSERVATORIES)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><ObservatoryResponse xmlns="{_NS}">'
            f"{rows}</ObservatoryResponse>").encode()


def _seconds(t) -> np.ndarray:
    """Seconds since 2000-01-01 (float64, exact for whole seconds)."""
    return (np.asarray(t, dtype="datetime64[ns]") - _EPOCH).astype("timedelta64[ns]").astype(np.int64) / 1e9


def trajectory_value(t, system: str = "gse") -> tuple[float, float, float]:
    """Position (km) the SSCWeb stand-in generates at time ``t`` in ``system``.

    ``X = m * k``, ``Y = -2 m * k``, ``Z = m / 2 + k`` with ``m`` the minutes since 2000-01-01 and ``k`` the
    rank of the system in ``geo, gm, gse, gsm, sm, gei_tod, gei_j2000`` (1-based).

    Examples
    --------
    >>> trajectory_value(np.datetime64("2000-01-01T01:00"), "gse")
    (180.0, -360.0, 33.0)
    """
    key = system.lower().replace("_", "")
    k = _SYSTEMS.index(key) + 1
    m = float(_seconds(t)) / 60.0
    return (m * k, -2.0 * m * k, m / 2.0 + k)


def amda_value(t, component: int = 0) -> float:
    """Value the AMDA stand-in generates at ``t``: seconds since 2000-01-01 / 16 + 1000 * component.

    Examples
    --------
    >>> amda_value(np.datetime64("2000-01-01T00:01:04"), 2)
    2004.0
    """
    return float(_seconds(t)) / 16.0 + 1000.0 * component


def csa_value(t, component: int = 0) -> float:
    """Value the CSA stand-in writes at ``t``: seconds since 2000-01-01 / 4 + 10 * component.

    Examples
    --------
    >>> csa_value(np.datetime64("2000-01-01T00:00:08"), 1)
    12.0
    """
    return float(_seconds(t)) / 4.0 + 10.0 * component


#: Generated CSA datasets: id -> (title, start, stop, cadence in seconds)
CSA_DATASETS = {
    "C1_CP_FGM_SPIN": ("Spin Resolution Magnetic Field Vector, FGM, C1", "2000-08-22T00:00:00Z",
                       "2024-12-31T23:59:59Z", 4),
    "C3_CP_FGM_SPIN": ("Spin Resolution Magnetic Field Vector, FGM, C3", "2000-08-22T00:00:00Z",
                       "2024-12-31T23:59:59Z", 4),
    "C1_CP_CIS-HIA_ONBOARD_MOMENTS": ("Onboard moments, CIS-HIA, C1", "2001-01-01T00:00:00Z",
                                      "2009-12-31T23:59:59Z", 60),
    # a real file (ACE MFI 1-hour key parameters, 2022-01-01, CDF_EPOCH times) delivered as is, the way
    # the archive delivers files that are not CEF: a copy of the stored file, whatever the time range
    "XS_CP_ACE_K2_MFI": ("Real ACE MFI key parameters (ac_k2_mfi_20220101_v03.cdf)", "2022-01-01T00:00:00Z",
                         "2022-01-01T23:59:59Z", 3600),
}
_CSA_REAL_FILES = {"XS_CP_ACE_K2_MFI": "cdf/ac_k2_mfi_20220101_v03.cdf"}


class OthersSite:
    """The three stand-ins on one :class:`LocalServer` (see the module docstring).

    Parameters
    ----------
    server : LocalServer, optional
        Server to mount on (a new one is made otherwise; call :meth:`start`).
    amda_polls : int
        getStatus polls that still answer "in progress" before "done" (0: getParameter answers "done").
    """

    def __init__(self, server: LocalServer | None = None, *, amda_polls: int = 2):
        self.server = server if server is not None else LocalServer()
        # the real answers when they are at hand (tests, a source checkout), small built-in ones otherwise
        self.observatories_file = _real_file("sscweb/sscweb_observatories.xml")
        self.trajectory_file = _real_file("sscweb/sscweb_trajectory.xml")
        self.tree_file = _real_file("cdf/cdaweb_obsdatatree.xml")
        self.amda_polls = int(amda_polls)
        self.sscweb_error: str | None = None
        self.sscweb_error_status = 200
        self.amda_error: str | None = None
        self.amda_error_status = 200
        self.csa_error: str | None = None
        self.csa_error_status = 400
        self.csa_evil = False
        self.csa_gaps: set[str] = set()  # days ("YYYY-MM-DD") the CSA stand-in has no data for
        self.csa_no_data_status = 200  # 200: an empty tar when there is no data; 204: "No Content"
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._jobs: dict[str, list] = {}
        self._files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._tmp = Path(tempfile.mkdtemp(prefix="xspace-others-"))
        self._observatories = self._read_observatories()
        self._amda_index: dict | None = None
        self.server.mount(SSCWEB_PREFIX, self._sscweb)
        self.server.mount(AMDA_PREFIX, self._amda)
        self.server.mount(_AMDA_FILES, self._amda_files)
        self.server.mount(CSA_PREFIX, self._csa)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> "OthersSite":
        if self.server._httpd is None:
            self.server.start()
        return self

    def stop(self) -> None:
        import shutil

        self.server.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "OthersSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def options(self) -> dict:
        """Options pointing the three providers at this site (for ``xspace.set_options(**...)``)."""
        return {"sscweb_url": self.url + SSCWEB_PREFIX, "amda_url": self.url + AMDA_PREFIX,
                "csa_url": self.url + CSA_PREFIX}

    def count(self, path_substring: str, method: str = "GET") -> int:
        return self.server.count(path_substring, method)

    # -- SSCWeb ----------------------------------------------------------------------------------
    def _read_observatories(self) -> dict:
        from xspace.fetch.providers.sscweb import parse_observatories

        content = (self.observatories_file.read_bytes() if self.observatories_file is not None
                   else _fallback_observatories_xml())
        return {o["id"]: o for o in parse_observatories(content)}

    def _sscweb_error(self, message: str, status: int = 200) -> Reply:
        body = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Response xmlns="{_NS}">'
                '<Result xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="DataResult">'
                f'<StatusCode>Error</StatusCode><StatusSubCode>InvalidRequest</StatusSubCode>'
                f'<StatusText>{message}</StatusText></Result></Response>')
        return Reply(status, body.encode(), content_type="application/xml")

    def _sscweb(self, req: Request) -> Reply:
        parts = [p for p in req.subpath.split("/") if p]
        if parts == ["observatories"]:
            if self.observatories_file is not None:
                return Reply.file(self.observatories_file, req)
            return Reply(200, _fallback_observatories_xml(), content_type="application/xml")
        if len(parts) != 4 or parts[0] != "locations":
            return Reply.error(404, f"no such SSCWeb resource {req.subpath}")
        if self.sscweb_error:
            return self._sscweb_error(self.sscweb_error, self.sscweb_error_status)
        obs_id, interval, system = parts[1], parts[2], parts[3].lower()
        obs = self._observatories.get(obs_id)
        if obs is None:
            return self._sscweb_error(f"Unknown observatory: {obs_id}", 400)
        if system not in _SYSTEMS:
            return self._sscweb_error(f"Invalid coordinate system: {system}", 400)
        try:
            a, b = interval.split(",")
            t0 = np.datetime64(f"{a[0:4]}-{a[4:6]}-{a[6:8]}T{a[9:11]}:{a[11:13]}:{a[13:15]}", "ns")
            t1 = np.datetime64(f"{b[0:4]}-{b[4:6]}-{b[6:8]}T{b[9:11]}:{b[11:13]}:{b[13:15]}", "ns")
        except (ValueError, IndexError):
            return self._sscweb_error(f"Invalid time interval: {interval}", 400)
        real_t0 = np.datetime64("2006-01-08T01:00", "ns")
        real_t1 = np.datetime64("2006-01-08T02:00", "ns")
        if (obs_id == "moon" and system == "gse" and t0 <= real_t1 and t1 >= real_t0
                and self.trajectory_file is not None):
            from xspace.fetch.providers.sscweb import parse_locations

            real = parse_locations(self.trajectory_file.read_bytes())
            keep = (real["time"] >= t0) & (real["time"] <= t1)
            times = real["time"][keep]
            xyz = [real[c][keep] for c in "XYZ"]
            xyz = [[repr(float(v)) for v in col] for col in xyz]
        else:
            step = np.timedelta64(int(obs["resolution"]), "s").astype("timedelta64[ns]")
            lo = max(t0, obs["start"])
            hi = min(t1, obs["stop"])
            first = _EPOCH + -(-(lo - _EPOCH) // step) * step
            times = np.arange(first, hi + np.timedelta64(1, "ns"), step) if first <= hi else (
                np.array([], dtype="datetime64[ns]"))
            values = [trajectory_value(t, system) for t in times]
            xyz = [[repr(v[i]) for v in values] for i in range(3)]
        out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Response xmlns="{_NS}">'
               '<Result xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="DataResult">'
               "<StatusCode>Success</StatusCode><StatusSubCode>Success</StatusSubCode>"]
        if len(times):
            out.append(f"<Data><Id>{obs_id}</Id><Coordinates><CoordinateSystem>{_SYSTEM_NAMES[system]}"
                       "</CoordinateSystem>")
            for name, col in zip("XYZ", xyz):
                out.extend(f"<{name}>{v}</{name}>" for v in col)
            out.append("</Coordinates>")
            out.extend(f"<Time>{str(t.astype('datetime64[ms]'))}Z</Time>" for t in times)
            out.append("</Data>")
        out.append("</Result></Response>")
        return Reply(200, "".join(out).encode(), content_type="application/xml")

    # -- AMDA ------------------------------------------------------------------------------------
    @property
    def _amda_params(self) -> dict:
        if self._amda_index is None:  # parsed on first use (1.8 MB), once per process
            from xspace.fetch.providers.amda import parameter_index

            key = str(self.tree_file)
            if key not in _TREE_INDEX:
                _TREE_INDEX[key] = parameter_index(self._tree_bytes())
            self._amda_index = _TREE_INDEX[key]
        return self._amda_index

    def _tree_bytes(self) -> bytes:
        return self.tree_file.read_bytes() if self.tree_file is not None else _FALLBACK_TREE

    def _amda_answer(self, obj: dict) -> Reply:
        return Reply.json(obj)

    def _amda(self, req: Request) -> Reply:
        what = req.subpath.strip("/")
        if what == "auth.php":
            token = f"tok{next(self._ids):06d}"
            with self._lock:
                self._tokens.add(token)
            return Reply(200, token, content_type="text/plain")
        if what == "getObsDataTree.php":
            return Reply(200, f"{self.url}{_AMDA_FILES}/getObsDataTree_LocalParams.xml",
                         content_type="text/plain")
        if what not in ("getParameter.php", "getStatus.php"):
            return Reply.error(404, f"no such AMDA service {what}")
        if req.query.get("token") not in self._tokens:
            return self._amda_answer({"success": False, "message": "Invalid or expired token"})
        if self.amda_error:
            if self.amda_error_status != 200:
                return Reply(self.amda_error_status, self.amda_error, content_type="text/plain")
            return self._amda_answer({"success": False, "message": self.amda_error})
        if what == "getStatus.php":
            with self._lock:
                job = self._jobs.get(req.query.get("id", ""))
                if job is None:
                    return self._amda_answer({"success": False, "message": f"Unknown process {req.query.get('id')}"})
                if job[0] > 0:
                    job[0] -= 1
                    return self._amda_answer({"success": True, "status": "in progress", "id": req.query["id"]})
            return self._amda_answer({"success": True, "status": "done", "dataFileURLs": job[1]})
        param = req.query.get("parameterID", "")
        info = self._amda_params.get(param)
        if info is None:
            return self._amda_answer({"success": False, "message": f"Unknown parameter: {param}"})
        try:
            t0 = np.datetime64(req.query["startTime"].rstrip("Z"), "ns")
            t1 = np.datetime64(req.query["stopTime"].rstrip("Z"), "ns")
        except (KeyError, ValueError):
            return self._amda_answer({"success": False, "message": "Bad startTime/stopTime"})
        fmt = req.query.get("outputFormat", "ASCII").upper()
        body = self._amda_file(param, info, t0, t1, fmt)
        n = next(self._ids)
        name = f"{param}_{n:06d}.{'cdf' if fmt == 'CDF' else 'txt'}"
        with self._lock:
            self._files[name] = body
        url = f"{self.url}{_AMDA_FILES}/WSRESULT/{name}"
        if self.amda_polls <= 0:
            return self._amda_answer({"success": True, "dataFileURLs": url})
        job_id = f"process_{n:06d}"
        with self._lock:
            self._jobs[job_id] = [self.amda_polls, url]
        return self._amda_answer({"success": True, "status": "in progress", "id": job_id})

    def _amda_times(self, info: dict, t0, t1):
        step = np.timedelta64(int(round((info.get("sampling") or 60) * 1e9)), "ns")
        first = _EPOCH + -(-(t0 - _EPOCH) // step) * step
        return np.arange(first, t1, step) if first < t1 else np.array([], dtype="datetime64[ns]")

    def _amda_file(self, param: str, info: dict, t0, t1, fmt: str) -> bytes:
        times = self._amda_times(info, t0, t1)
        size = int(info.get("size") or 1)
        values = np.array([[amda_value(t, i) for i in range(size)] for t in times]).reshape(len(times), size)
        if fmt == "CDF":
            import xarray as xr

            import xspace

            epoch = xr.Variable("Epoch", times)
            if size == 1:
                da = xr.DataArray(values[:, 0], dims=("Epoch",), coords={"Epoch": epoch})
            else:
                da = xr.DataArray(values, dims=("Epoch", "component"), coords={"Epoch": epoch})
            da.attrs.update({"UNITS": info.get("units", ""), "CATDESC": info.get("description", "")})
            ds = da.to_dataset(name=param)
            path = self._tmp / f"{param}_{next(self._ids)}.cdf"
            xspace.to_cdf(ds, path)
            return path.read_bytes()
        components = ",".join(["bx", "by", "bz"][:size]) if size == 3 else ""
        cols = ", ".join(["AMDA_TIME"] + ([param] if size == 1 else [f"{param}[{i}]" for i in range(size)]))
        lines = [
            "# -----------", "# AMDA INFO :", "# -----------",
            "# AMDA_ABOUT : Created by AMDA(c)", "# AMDA_VERSION : 3.6.0",
            "# AMDA_ACKNOWLEDGEMENT : CDPP/AMDA Team", "#",
            "# --------------", "# REQUEST INFO :", "# --------------",
            "# REQUEST_STRUCTURE : one-file-per-parameter-per-interval",
            "# REQUEST_TIME_FORMAT : ISO 8601", f"# REQUEST_OUTPUT_PARAMS : {param}", "#",
            "# -----------------", "# BASE PARAMETERS :", "# -----------------", "#",
            f"#     DATASET_ID : {info.get('dataset', '')}",
            f"#       PARAMETER_ID : {param}",
            f"#       PARAMETER_NAME : {info.get('name', param)}",
            f"#       PARAMETER_SHORT_NAME : {info.get('name', param)}",
        ]
        if components:
            lines.append(f"#       PARAMETER_COMPONENTS : {components}")
        lines += [
            f"#       PARAMETER_UNITS : {info.get('units', '')}",
            "#       PARAMETER_COORDINATE_SYSTEM : GSE",
            "#       PARAMETER_FILL_VALUE : nan", "#", "#",
            "# ---------------", "# INTERVAL INFO :", "# ---------------",
            f"# INTERVAL_START : {str(t0.astype('datetime64[ms]'))}",
            f"# INTERVAL_STOP : {str(t1.astype('datetime64[ms]'))}", "#",
            "# ------", "# DATA :", "# ------", f"# DATA_COLUMNS : {cols}", "#",
        ]
        for t, row in zip(times, values):
            lines.append(str(t.astype("datetime64[ms]")) + " " + " ".join(repr(float(v)) for v in row))
        return ("\n".join(lines) + "\n").encode()

    def _amda_files(self, req: Request) -> Reply:
        name = req.subpath.strip("/")
        if name == "getObsDataTree_LocalParams.xml":
            if self.tree_file is not None:
                return Reply.file(self.tree_file, req)
            return Reply(200, _FALLBACK_TREE, content_type="application/xml")
        key = name.split("/")[-1]
        with self._lock:
            body = self._files.get(key)
        if body is None:
            return Reply.error(404, f"no such result file {name}")
        return Reply(200, body, content_type="application/x-cdf" if key.endswith(".cdf") else "text/plain")

    # -- CSA -------------------------------------------------------------------------------------
    def _tap_error(self, message: str, status: int = 400) -> Reply:
        body = ('<?xml version="1.0" encoding="UTF-8"?><VOTABLE version="1.3" '
                'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="results">'
                f'<INFO name="QUERY_STATUS" value="ERROR">{message}</INFO></RESOURCE></VOTABLE>')
        return Reply(status, body.encode(), content_type="text/xml")

    def _csa(self, req: Request) -> Reply:
        what = req.subpath.strip("/")
        if what == "tap/sync":
            return self._csa_tap(req)
        if what == "data":
            return self._csa_data(req)
        return Reply.error(404, f"no such CSA resource {what}")

    def _csa_tap(self, req: Request) -> Reply:
        q = {k.upper(): v for k, v in req.query.items()}
        if q.get("REQUEST", "").lower() != "doquery" or q.get("LANG", "").upper() != "ADQL":
            return self._tap_error("REQUEST=doQuery and LANG=ADQL are required")
        query = q.get("QUERY", "")
        if q.get("FORMAT", "votable").lower() != "json":
            return self._tap_error("this stand-in answers FORMAT=json only")
        where = dict(re.findall(r"(\w+)\s*=\s*'([^']*)'", query))
        if re.search(r"from\s+csa\.v_dataset\b", query, re.I):
            cols = ["dataset_id", "title", "start_date", "end_date"]
            rows = [[d, t, s.replace("T", " ").rstrip("Z"), e.replace("T", " ").rstrip("Z")]
                    for d, (t, s, e, _c) in sorted(CSA_DATASETS.items())
                    if "dataset_id" not in where or where["dataset_id"] == d]
        elif re.search(r"from\s+csa\.v_parameter\b", query, re.I):
            cols = ["parameter_id", "dataset_id", "caption", "units", "data_type"]
            ds = where.get("dataset_id")
            rows = [[p, d, cap, u, "Data"] for d in sorted(CSA_DATASETS) if ds in (None, d)
                    for p, cap, u, _n in self._csa_variables(d)]
        else:
            return self._tap_error(f"Cannot parse query: {query}")
        meta = [{"name": c, "datatype": "char", "arraysize": "*"} for c in cols]
        return Reply.json({"metadata": meta, "data": rows})

    @staticmethod
    def _csa_variables(ds: str):
        if ds in _CSA_REAL_FILES:
            return [("BGSEc", "Magnetic Field, Cartesian GSE coord", "nT", 3), ("Magnitude", "B-field magnitude",
                                                                              "nT", 1)]
        if "FGM" in ds:
            return [(f"B_vec_xyz_gse__{ds}", "Magnetic field vector, GSE", "nT", 3),
                    (f"B_mag__{ds}", "Magnetic field magnitude", "nT", 1)]
        return [(f"density__{ds}", "Ion number density", "particles/cm^3", 1)]

    def _csa_cdf(self, ds: str, t0, t1) -> bytes | None:
        import xarray as xr

        import xspace

        _title, s, e, cadence = CSA_DATASETS[ds]
        if ds in _CSA_REAL_FILES:
            if t1 <= np.datetime64(s.rstrip("Z"), "ns") or t0 > np.datetime64(e.rstrip("Z"), "ns"):
                return None
            real = _real_file(_CSA_REAL_FILES[ds])
            return real.read_bytes() if real is not None else None
        lo = max(t0, np.datetime64(s.rstrip("Z"), "ns"))
        hi = min(t1, np.datetime64(e.rstrip("Z"), "ns"))
        step = np.timedelta64(cadence, "s").astype("timedelta64[ns]")
        first = _EPOCH + -(-(lo - _EPOCH) // step) * step
        if first >= hi:
            return None
        times = np.arange(first, hi, step)
        if self.csa_gaps:
            days = times.astype("datetime64[D]").astype(str)
            times = times[~np.isin(days, sorted(self.csa_gaps))]
            if times.size == 0:
                return None
        sec = _seconds(times)
        tname = f"time_tags__{ds}"
        data = {}
        for name, caption, units, n in self._csa_variables(ds):
            if n == 1:
                values = sec / 4.0
                dims = (tname,)
            else:
                values = np.stack([sec / 4.0 + 10.0 * i for i in range(n)], axis=1)
                dims = (tname, f"comp_{n}")
            data[name] = xr.Variable(dims, values, attrs={"UNITS": units, "CATDESC": caption,
                                                          "FIELDNAM": caption, "VAR_TYPE": "data"})
        dset = xr.Dataset(data, coords={tname: xr.Variable(tname, times)})
        dset.attrs.update({"Logical_source": ds, "Project": "Cluster", "Mission_group": "Cluster"})
        path = self._tmp / f"{ds}_{next(self._ids)}.cdf"
        xspace.to_cdf(dset, path)
        return path.read_bytes()

    def _csa_data(self, req: Request) -> Reply:
        q = {k.upper(): v for k, v in req.query.items()}
        if self.csa_error:
            return Reply(self.csa_error_status, self.csa_error, content_type="text/plain")
        if q.get("RETRIEVAL_TYPE", "").upper() != "PRODUCT":
            return Reply(400, "RETRIEVAL_TYPE must be PRODUCT or HEADER", content_type="text/plain")
        ds = q.get("DATASET_ID", "")
        if ds not in CSA_DATASETS:
            return Reply(404, f"Unknown dataset: {ds}", content_type="text/plain")
        try:
            t0 = np.datetime64(q["START_DATE"].rstrip("Z"), "ns")
            t1 = np.datetime64(q["END_DATE"].rstrip("Z"), "ns")
        except (KeyError, ValueError):
            return Reply(400, "START_DATE and END_DATE must be yyyy-MM-ddTHH:mm:ssZ", content_type="text/plain")
        if self.csa_no_data_status == 204 and not self.csa_evil and self._csa_cdf(ds, t0, t1) is None:
            return Reply(204, b"")
        buf = io.BytesIO()
        stamp = str(t0.astype("datetime64[s]")).replace("-", "").replace(":", "").replace("T", "_")
        stop_stamp = str(t1.astype("datetime64[s]")).replace("-", "").replace(":", "").replace("T", "_")
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
            def add(name, payload):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))

            if self.csa_evil:
                add("../../evil.cdf", b"CDF?")
            body = self._csa_cdf(ds, t0, t1)
            if body is not None:
                add(f"CSA_Download_{stamp}/{ds}/{ds}__{stamp}_{stop_stamp}_V00.cdf", body)
                add(f"CSA_Download_{stamp}/README.txt", b"Cluster Science Archive stand-in\n")
        return Reply(200, buf.getvalue(), content_type="application/x-gzip",
                     headers={"Content-Disposition": f'attachment; filename="CSA_Download_{stamp}.tgz"'})


@contextmanager
def serve_others(*, amda_polls: int = 2, server: LocalServer | None = None):
    """Start the SSCWeb, AMDA and CSA stand-ins on a local server (context manager yielding the site).

    Examples
    --------
    >>> with serve_others(amda_polls=0) as site:
    ...     sorted(site.options())
    ['amda_url', 'csa_url', 'sscweb_url']
    """
    site = OthersSite(server, amda_polls=amda_polls)
    site.start()
    try:
        yield site
    finally:
        site.stop()
