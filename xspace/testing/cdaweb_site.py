"""A generated CDAWeb look-alike for tests, demos and benchmarks, served on 127.0.0.1.

:func:`build_cdaweb_archive` writes, under a folder, what the real CDAWeb/SPDF server publishes:

* deterministic generated ISTP CDFs whose values are a known function of time
  (:func:`ramp_value`: minutes since 2000-01-01T00:00Z), in the archive's layouts — by year
  (``%Y``), year/month (``%Y/%m``), year/day-of-year (``%Y/%j``) and flat — with versioned file
  names (``v9`` < ``v10``, ``v5.9.0`` < ``v5.10.0``) and one file that repeats the first record of
  the next day;
* real CDF files (from ``../shared/data/cdf``) at their real archive paths under ``/pub/data``, and
  master CDFs under ``/pub/software/cdawlib/0MASTERS``;
* the catalog ``/pub/catalogs/all.xml`` in SPDF's format.

:func:`cdaweb_rest_handler` answers the CDAS REST web services (``datasets``, ``variables``,
``orig_data``, ``inventory``, ``data``) from the archive description, and :func:`serve_cdaweb`
starts a :class:`xspace.testing.LocalServer` serving it all::

    with serve_cdaweb(days=3) as site:
        site.url            # give it to the provider as cdaweb_url
        site.catalog_url    # site.url + "/pub/catalogs/all.xml"
        site.info           # what is there: datasets, files, record counts, variables

Values of the generated datasets (``t`` the record times):

=================== ============================================================================
``XS_TEST_1MIN``    TT2000, every minute, one file per day; ``ramp = ramp_value(t)``,
                    ``vec = [ramp, -ramp, 2 ramp]``, ``ramp_gappy = ramp`` except fill (NaN after
                    decoding) at minute 30 of every hour; the first day's file also holds the
                    first record of the second day (when ``days >= 2``); the master also has
                    ``ramp_alt``, a virtual variable (``VIRTUAL="TRUE"``, ``FUNCT="alternate_view"``,
                    ``COMPONENT_0="ramp"``) that only the REST ``data`` endpoint returns
``XS_TEST_HOURLY``  CDF_EPOCH, hourly, one file per month (``%Y/%m`` folders); ``ramp``
``XS_TEST_DOY``     TT2000, every 10 minutes, one file per day in ``%Y/%j`` folders; ``ramp``
``XS_TEST_FLAT``    TT2000, every 5 minutes, one file per day, all in one folder; ``ramp``
``XS_TEST_VERS``    TT2000, every 10 minutes, daily, versions ``v9`` every day and ``v10`` on the
                    first day; ``ramp = ramp_value(t) + version_offset(version)``
``XS_TEST_DOTVERS`` as ``XS_TEST_VERS`` with versions ``v5.9.0`` and ``v5.10.0``
=================== ============================================================================

A file added by :func:`add_version` holds ``ramp_value(t) + version_offset(version)``; every file
record in ``info`` has its ``offset`` (0 for the base files of the first four datasets), and
:func:`expected_values` computes what a correct reader returns for any ``[start, stop)``.

Real files (when found in ``../shared/data/cdf``, else those the package ships in ``xspace/data``):

============================== ===============================================================================
``AC_K2_MFI``                  ``/pub/data/ace/mag/level_2_cdaweb/mfi_k2/2022/ac_k2_mfi_20220101_v03.cdf``
``AC_H2_SIS``                  ``/pub/data/ace/sis/level_2_cdaweb/sis_h2/2010/ac_h2_sis_20101105_v06.cdf``
``PSP_FLD_L2_MAG_RTN_1MIN``    ``/pub/data/psp/fields/l2/mag_rtn_1min/2020/psp_fld_l2_mag_rtn_1min_20200104_v02.cdf``
``RBSPA_REL04_ECT-HOPE-PA-L3`` ``/pub/data/rbsp/rbspa/l3/ect/hope/pitchangle/rel04/2012/rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf``
``GE_K0_CPI``                  ``/pub/data/geotail/cpi/cpi_k0/1992/ge_k0_cpi_19921231_v02.cdf``
``DE2_ION2S_RPA``              ``/pub/data/de/de2/plasma_rpa/ion2s_cdaweb/1983/de2_ion2s_rpa_19830213_v01.cdf``
============================== ===============================================================================

Masters ``/pub/software/cdawlib/0MASTERS/<id lower case>_00000000_v01.cdf``: the real ones of
``GE_H0_CPI``, ``ERG_PWE_HFA_L3_1MIN`` and ``ELA_L1_STATE_PRED`` (catalogued datasets without data
files here), generated ones for the ``XS_TEST_*`` datasets and zero-record copies of the real
files above.

The REST stand-in (mounted at ``/WS/cdasr/1/dataviews/sp_phys``) answers ``datasets``,
``datasets/{id}/variables``, ``datasets/{id}/orig_data/{start},{stop}``,
``datasets/{id}/inventory/{start},{stop}``, ``datasets/{id}/data/{start},{stop}/{variables}?format=cdf``,
``observatoryGroups``, ``observatories``, ``instruments``, ``instrumentTypes`` and
``observatoryGroupsAndInstruments`` (see :func:`cdaweb_rest_handler`).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import numpy as np
import xarray as xr

from ..errors import InputError, ProductNotFound

__all__ = [
    "ramp_value",
    "ramp_gappy_value",
    "version_offset",
    "version_key",
    "build_cdaweb_archive",
    "write_all_xml",
    "cdaweb_rest_handler",
    "add_version",
    "newest_files",
    "expected_values",
    "serve_cdaweb",
    "REST_PREFIX",
    "CATALOG_PATH",
    "MASTERS_PATH",
]

REST_PREFIX = "/WS/cdasr/1/dataviews/sp_phys"
CATALOG_PATH = "/pub/catalogs/all.xml"
MASTERS_PATH = "/pub/software/cdawlib/0MASTERS"
_REAL_BASE = "https://cdaweb.gsfc.nasa.gov"
_RAMP_ORIGIN = np.datetime64("2000-01-01T00:00:00", "ns")
_DAY = np.timedelta64(86_400_000_000_000, "ns")
_GENERATION_DATE = "20200101"
_SHARED_CDF = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdf"


# ----------------------------------------------------------------------------- value functions
def ramp_value(times) -> np.ndarray:
    """The generated datasets' ``ramp`` value at ``times``: minutes since 2000-01-01T00:00Z.

    Parameters
    ----------
    times : array-like of datetime64 (or ISO strings)
        Record times (UTC).

    Returns
    -------
    numpy.ndarray of float64
        Exact for whole-minute times (integers below 2**53).

    Examples
    --------
    >>> import numpy as np
    >>> ramp_value(np.array(["2000-01-01T00:00", "2020-01-01T00:01"], "datetime64[ns]")).tolist()
    [0.0, 10519201.0]
    """
    t = np.asarray(times, dtype="datetime64[ns]")
    ns = (t - _RAMP_ORIGIN).astype(np.int64)
    # whole minutes exactly, plus the fraction (0 for the generated records)
    whole, rest = np.divmod(ns, 60_000_000_000)
    return whole.astype(np.float64) + rest.astype(np.float64) / 60e9


def ramp_gappy_value(times) -> np.ndarray:
    """``XS_TEST_1MIN``'s ``ramp_gappy`` after fill masking: :func:`ramp_value`, NaN at minute 30.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array(["2020-01-01T00:29", "2020-01-01T00:30"], "datetime64[ns]")
    >>> ramp_gappy_value(t).tolist()
    [10519229.0, nan]
    """
    t = np.asarray(times, dtype="datetime64[ns]")
    out = ramp_value(t)
    minute_of_hour = ((t - _RAMP_ORIGIN).astype(np.int64) // 60_000_000_000) % 60
    out[minute_of_hour == 30] = np.nan
    return out


def version_key(version: str) -> tuple[int, ...]:
    """Numeric sort key of a CDAWeb version token (``"v10"`` → ``(10,)``, ``"5.10.0"`` → ``(5, 10, 0)``).

    Examples
    --------
    >>> version_key("v9") < version_key("v10"), version_key("5.9.0") < version_key("v5.10.0")
    (True, True)
    """
    text = str(version).lstrip("vV")
    return tuple(int(part) for part in text.split("."))


def version_offset(version: str) -> float:
    """Offset added to ``ramp`` in a file of version ``version`` (versioned datasets, :func:`add_version`).

    ``"9"`` → 9, ``"10"`` → 10, ``"5.9.0"`` → 5 009 000, ``"5.10.0"`` → 5 010 000: a newer version
    always has a larger offset, and the offsets are exact in float64.

    Examples
    --------
    >>> version_offset("v9"), version_offset("10"), version_offset("5.10.0")
    (9.0, 10.0, 5010000.0)
    """
    key = version_key(version)
    value = 0
    for part in key:
        value = value * 1000 + part
    return float(value)


def _iso(t: np.datetime64, digits: int = 3) -> str:
    """``2020-01-01T00:00:00.000Z``."""
    text = str(np.datetime64(t, "ns"))
    head, _, frac = text.partition(".")
    frac = (frac + "000000000")[:digits]
    return f"{head}.{frac}Z" if digits else f"{head}Z"


def _parse_rest_time(text: str, what: str) -> np.datetime64:
    """CDAS times: ``20200101T000000Z``, ``20200101T000000.000Z`` or ISO 8601."""
    text = text.strip()
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z?", text)
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
        text = f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac or ''}"
    text = text.rstrip("Z")
    try:
        return np.datetime64(text, "ns")
    except ValueError as exc:
        raise _RestError(400, f"Bad {what} time: {text!r} (expected e.g. 20200101T000000Z)") from exc


# ----------------------------------------------------------------------------- dataset descriptions
_GENERATED: dict[str, dict[str, Any]] = {
    "XS_TEST_1MIN": dict(
        folder="/pub/data/xspace/test/one_min", subdividedby="%Y", filenaming="xs_test_1min_%Y%m%d_%Q.cdf",
        period="day", cadence_s=60, time_type=33, versions=("01",), offsets=False, overlap=True, gappy=True,
        vector=True, virtual=True, description="xspace test dataset: 1-minute ramp, daily files by year",
    ),
    "XS_TEST_HOURLY": dict(
        folder="/pub/data/xspace/test/hourly", subdividedby="%Y/%m", filenaming="xs_test_hourly_%Y%m01_%Q.cdf",
        period="month", cadence_s=3600, time_type=31, versions=("01",), offsets=False,
        description="xspace test dataset: hourly ramp (CDF_EPOCH), monthly files by year/month",
    ),
    "XS_TEST_DOY": dict(
        folder="/pub/data/xspace/test/doy", subdividedby="%Y/%j", filenaming="xs_test_doy_%Y%j_%Q.cdf",
        period="day", cadence_s=600, time_type=33, versions=("01",), offsets=False,
        description="xspace test dataset: 10-minute ramp, daily files by year/day-of-year",
    ),
    "XS_TEST_FLAT": dict(
        folder="/pub/data/xspace/test/flat", subdividedby="None", filenaming="xs_test_flat_%Y%m%d_%Q.cdf",
        period="day", cadence_s=300, time_type=33, versions=("01",), offsets=False,
        description="xspace test dataset: 5-minute ramp, daily files in one folder",
    ),
    "XS_TEST_VERS": dict(
        folder="/pub/data/xspace/test/vers", subdividedby="%Y", filenaming="xs_test_vers_%Y%m%d_%Q.cdf",
        period="day", cadence_s=600, time_type=33, versions=("9",), first_day_versions=("9", "10"),
        offsets=True, description="xspace test dataset: ramp + version number, versions v9 and v10",
    ),
    "XS_TEST_DOTVERS": dict(
        folder="/pub/data/xspace/test/dotvers", subdividedby="%Y", filenaming="xs_test_dotvers_%Y%m%d_%Q.cdf",
        period="day", cadence_s=600, time_type=33, versions=("5.9.0",), first_day_versions=("5.9.0", "5.10.0"),
        offsets=True, description="xspace test dataset: ramp + version offset, versions v5.9.0 and v5.10.0",
    ),
}

# real files of ../shared/data/cdf at their real archive paths
_REAL: dict[str, dict[str, Any]] = {
    "AC_K2_MFI": dict(
        file="ac_k2_mfi_20220101_v03.cdf", folder="/pub/data/ace/mag/level_2_cdaweb/mfi_k2",
        subdividedby="%Y", filenaming="ac_k2_mfi_%Y%m%d_%Q.cdf", observatory=("AC", "ACE"),
        instrument=("MAG", "MFI"), mission_group="ACE", instrument_type="Magnetic Fields (space)",
        master="ac_k2_mfi_00000000_v01.cdf",
    ),
    "AC_H2_SIS": dict(
        file="ac_h2_sis_20101105_v06.cdf", folder="/pub/data/ace/sis/level_2_cdaweb/sis_h2",
        subdividedby="%Y", filenaming="ac_h2_sis_%Y%m%d_%Q.cdf", observatory=("AC", "ACE"),
        instrument=("SIS", "SIS"), mission_group="ACE", instrument_type="Particles (space)",
        master="ac_h2_sis_00000000_v01.cdf",
    ),
    "PSP_FLD_L2_MAG_RTN_1MIN": dict(
        file="psp_fld_l2_mag_rtn_1min_20200104_v02.cdf", folder="/pub/data/psp/fields/l2/mag_rtn_1min",
        subdividedby="%Y", filenaming="psp_fld_l2_mag_rtn_1min_%Y%m%d_%Q.cdf",
        observatory=("PSP", "Parker Solar Probe (PSP)"), instrument=("FIELDS/MAG", "FIELDS"),
        mission_group="Parker Solar Probe (PSP)", instrument_type="Magnetic Fields (space)",
        master="psp_fld_l2_mag_rtn_1min_00000000_v01.cdf",
    ),
    "RBSPA_REL04_ECT-HOPE-PA-L3": dict(
        file="rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf", folder="/pub/data/rbsp/rbspa/l3/ect/hope/pitchangle/rel04",
        subdividedby="%Y", filenaming="rbspa_rel04_ect-hope-PA-L3_%Y%m%d_%Q.cdf",
        observatory=("RBSP-A", "Van Allen Probes (RBSP), Spacecraft A"), instrument=("ECT/HOPE", "HOPE"),
        mission_group="Van Allen Probes (RBSP)", instrument_type="Particles (space)",
        master="rbspa_rel04_ect-hope-pa-l3_00000000_v01.cdf",
    ),
    "GE_K0_CPI": dict(
        file="ge_k0_cpi_19921231_v02.cdf", folder="/pub/data/geotail/cpi/cpi_k0",
        subdividedby="%Y", filenaming="ge_k0_cpi_%Y%m%d_%Q.cdf", observatory=("GEOTAIL", "Geotail"),
        instrument=("CPI", "CPI"), mission_group="Geotail", instrument_type="Plasma and Solar Wind",
        master="ge_k0_cpi_00000000_v01.cdf",
    ),
    "DE2_ION2S_RPA": dict(
        file="de2_ion2s_rpa_19830213_v01.cdf", folder="/pub/data/de/de2/plasma_rpa/ion2s_cdaweb",
        subdividedby="%Y", filenaming="de2_ion2s_rpa_%Y%m%d_%Q.cdf", observatory=("DE2", "Dynamics Explorer 2"),
        instrument=("RPA", "RPA"), mission_group="Dynamics Explorer", instrument_type="Plasma and Solar Wind",
        master="de2_ion2s_rpa_00000000_v01.cdf",
    ),
}

# real master CDFs of datasets without data files here
_MASTERS_ONLY: dict[str, dict[str, Any]] = {
    "GE_H0_CPI": dict(
        master="ge_h0_cpi_00000000_v01.cdf", folder="/pub/data/geotail/cpi/cpi_h0", subdividedby="%Y",
        filenaming="ge_h0_cpi_%Y%m%d_%Q.cdf", observatory=("GEOTAIL", "Geotail"), instrument=("CPI", "CPI"),
        mission_group="Geotail", instrument_type="Plasma and Solar Wind",
    ),
    "ERG_PWE_HFA_L3_1MIN": dict(
        master="erg_pwe_hfa_l3_1min_00000000_v01.cdf", folder="/pub/data/erg/pwe/hfa/l3/1min",
        subdividedby="%Y/%m", filenaming="erg_pwe_hfa_l3_1min_%Y%m%d_%Q.cdf", observatory=("ERG", "Arase (ERG)"),
        instrument=("PWE/HFA", "PWE"), mission_group="Arase (ERG)", instrument_type="Plasma Waves",
    ),
    "ELA_L1_STATE_PRED": dict(
        master="ela_l1_state_pred_00000000_v01.cdf", folder="/pub/data/elfin/ela/l1/state/pred",
        subdividedby="%Y", filenaming="ela_l1_state_pred_%Y%m%d_%Q.cdf", observatory=("ELA", "ELFIN A"),
        instrument=("STATE", "STATE"), mission_group="ELFIN", instrument_type="Ephemeris/Attitude/Ancillary",
    ),
}

_VERSION_RE = re.compile(r"_v(\d+(?:\.\d+)*)\.cdf$", re.IGNORECASE)


# ----------------------------------------------------------------------------- generated files
def _global_attrs(dataset_id: str, logical_file_id: str, version: str, spec: dict) -> dict:
    source = dataset_id.lower()
    return {
        "Project": "xspace>test",
        "Source_name": "XS>xspace test spacecraft",
        "Discipline": "Space Physics>Magnetospheric Science",
        "Data_type": f"{dataset_id.split('_', 2)[-1]}>generated",
        "Descriptor": "TEST>generated ramp",
        "Data_version": version,
        "Logical_file_id": logical_file_id,
        "PI_name": "xspace developers",
        "PI_affiliation": "xspace",
        "TEXT": [spec["description"], "Values are a known function of time: ramp = minutes since 2000-01-01T00:00Z."],
        "Instrument_type": "Magnetic Fields (space)",
        "Mission_group": "xspace",
        "Logical_source": source,
        "Logical_source_description": spec["description"],
        "Generated_by": "xspace.testing.cdaweb_site",
        "Generation_date": _GENERATION_DATE,
        "Time_resolution": _resolution_text(spec["cadence_s"]),
    }


def _resolution_text(seconds: int) -> str:
    """ISTP ``Time_resolution`` text the way CDAWeb's files write it ("1 minute", "10 minutes", "1 hour")."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{seconds} seconds"


def _generated_dataset(dataset_id: str, spec: dict, times: np.ndarray, offset: float, version: str,
                       logical_file_id: str, master: bool = False) -> xr.Dataset:
    ramp = ramp_value(times) + offset
    units = "min"
    common = {"DEPEND_0": "Epoch", "UNITS": units, "FILLVAL": -1e31, "FORMAT": "F14.1"}
    data_vars: dict[str, Any] = {
        "ramp": (("Epoch",), ramp, {
            **common, "VAR_TYPE": "data", "FIELDNAM": "ramp", "LABLAXIS": "ramp",
            "CATDESC": "Minutes since 2000-01-01T00:00Z (plus the file's version offset)",
            "DISPLAY_TYPE": "time_series", "VALIDMIN": -1e9, "VALIDMAX": 1e9,
        }),
    }
    coords: dict[str, Any] = {}
    if spec.get("vector"):
        data_vars["vec"] = (("Epoch", "cartesian"), np.stack([ramp, -ramp, 2 * ramp], axis=1), {
            **common, "VAR_TYPE": "data", "FIELDNAM": "vec", "DEPEND_1": "cartesian", "LABL_PTR_1": "label_vec",
            "CATDESC": "Vector [ramp, -ramp, 2 ramp]", "DISPLAY_TYPE": "time_series",
            "VALIDMIN": np.array([-2e9, -2e9, -2e9]), "VALIDMAX": np.array([2e9, 2e9, 2e9]),
        })
        data_vars["label_vec"] = (("cartesian",), np.array(["ramp      ", "-ramp     ", "2 ramp    "]), {
            "VAR_TYPE": "metadata", "FIELDNAM": "label_vec", "CATDESC": "Labels of the components of vec",
            "FORMAT": "A10",
        })
        coords["cartesian"] = ("cartesian", np.array(["x_component", "y_component", "z_component"]), {
            "VAR_TYPE": "metadata", "FIELDNAM": "cartesian", "CATDESC": "Component names", "FORMAT": "A11",
        })
    if spec.get("gappy"):
        gappy = ramp_gappy_value(times) + offset
        data_vars["ramp_gappy"] = (("Epoch",), gappy, {
            **common, "VAR_TYPE": "data", "FIELDNAM": "ramp_gappy", "LABLAXIS": "ramp_gappy",
            "CATDESC": "ramp, with fill values at minute 30 of every hour", "DISPLAY_TYPE": "time_series",
            "VALIDMIN": -1e9, "VALIDMAX": 1e9,
        })
    if master and spec.get("virtual"):
        # computed by the server only (absent from the data files), as CDAWeb's virtual variables
        data_vars["ramp_alt"] = (("Epoch",), ramp.copy(), {
            **common, "VAR_TYPE": "data", "FIELDNAM": "ramp_alt", "LABLAXIS": "ramp_alt",
            "CATDESC": "ramp again, computed by the server (virtual variable)", "DISPLAY_TYPE": "time_series",
            "VALIDMIN": -1e9, "VALIDMAX": 1e9, "VIRTUAL": "TRUE", "FUNCT": "alternate_view", "COMPONENT_0": "ramp",
        })
    epoch_attrs = {
        "VAR_TYPE": "support_data", "FIELDNAM": "Time", "CATDESC": "Time of the record (UTC)",
        "LABLAXIS": "Epoch", "MONOTON": "INCREASE",
    }
    coords["Epoch"] = ("Epoch", times, epoch_attrs)
    ds = xr.Dataset(data_vars, coords=coords, attrs=_global_attrs(dataset_id, logical_file_id, version, spec))
    if spec["time_type"] != 33:
        ds["Epoch"].encoding["cdf_type"] = spec["time_type"]
    return ds


def _period_starts(spec: dict, start: np.datetime64, days: int) -> list[np.datetime64]:
    first = start.astype("datetime64[D]")
    day_list = [first + np.timedelta64(i, "D") for i in range(days)]
    if spec["period"] == "day":
        return [d.astype("datetime64[ns]") for d in day_list]
    months = sorted({d.astype("datetime64[M]") for d in day_list})
    return [m.astype("datetime64[ns]") for m in months]


def _period_stop(spec: dict, period_start: np.datetime64) -> np.datetime64:
    if spec["period"] == "day":
        return period_start + _DAY
    return (period_start.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[ns]")


def _file_relpath(spec: dict, period_start: np.datetime64, version: str) -> str:
    when = period_start.astype("datetime64[s]").astype(_dt.datetime)
    name = when.strftime(spec["filenaming"]).replace("%Q", f"v{version}")
    sub = spec["subdividedby"]
    folder = spec["folder"] if sub == "None" else f"{spec['folder']}/{when.strftime(sub)}"
    return f"{folder}/{name}"


def _write_cdf(ds: xr.Dataset, path: Path) -> None:
    from ..io.write import to_cdf

    path.parent.mkdir(parents=True, exist_ok=True)
    to_cdf(ds, path, overwrite=True, istp_defaults=True)


def _file_record(root: Path, relpath: str, version: str, times: np.ndarray, offset: float,
                 extra: dict | None = None) -> dict:
    local = root / relpath.lstrip("/")
    rec = {
        "path": relpath,
        "local": str(local),
        "version": version,
        "start": _iso(times[0]) if len(times) else None,
        "stop": _iso(times[-1]) if len(times) else None,
        "records": int(len(times)),
        "length": local.stat().st_size,
        "offset": float(offset),
        "newest": True,
    }
    if extra:
        rec.update(extra)
    return rec


def _generate_file(root: Path, dataset_id: str, spec: dict, period_start: np.datetime64, version: str,
                   offset: float, overlap: bool = False) -> dict:
    stop = _period_stop(spec, period_start)
    cadence = np.timedelta64(spec["cadence_s"] * 1_000_000_000, "ns")
    n = int((stop - period_start) // cadence)
    times = period_start + np.arange(n + (1 if overlap else 0), dtype=np.int64) * cadence
    relpath = _file_relpath(spec, period_start, version)
    logical = Path(relpath).stem
    ds = _generated_dataset(dataset_id, spec, times, offset, version, logical)
    _write_cdf(ds, root / relpath.lstrip("/"))
    return _file_record(root, relpath, version, times, offset, {"overlap": bool(overlap)})


def _master_for(dataset_id: str, spec: dict) -> xr.Dataset:
    empty = np.array([], dtype="datetime64[ns]")
    return _generated_dataset(dataset_id, spec, empty, 0.0, "1", f"{dataset_id.lower()}_00000000_v01", master=True)


def _check_istp(path: Path) -> None:
    """The generator must write files that reopen and are ISTP compliant."""
    from .. import istp
    from ..io.backend import open_cdf

    with open_cdf(path) as ds:
        findings = [f for f in istp.check(ds) if f.severity == "error"]
    if findings:
        raise AssertionError(f"generated file {path.name} is not ISTP compliant: {findings[0]}")


def _variables_of(ds: xr.Dataset) -> dict:
    out = {}
    for name, var in ds.variables.items():
        attrs = var.attrs
        out[str(name)] = {
            "var_type": str(attrs.get("VAR_TYPE", "")),
            "ShortDescription": str(attrs.get("FIELDNAM", name)),
            "LongDescription": str(attrs.get("CATDESC", "")),
            "units": str(attrs.get("UNITS", "")),
            "depend_0": str(attrs.get("DEPEND_0", "")) or None,
            "dims": [str(d) for d in var.dims],
            "dtype": str(var.dtype),
            "virtual": str(attrs.get("VIRTUAL", "")).strip().upper() == "TRUE",
            "funct": str(attrs.get("FUNCT", attrs.get("FUNCTION", ""))) or None,
            "components": [str(attrs[k]) for k in sorted(attrs) if re.fullmatch(r"COMPONENT_\d+", str(k))],
        }
    return out


def _mark_newest(files: list[dict]) -> None:
    """Flag the newest version of each file (same name up to the version token)."""
    groups: dict[str, list[dict]] = {}
    for rec in files:
        stem = _VERSION_RE.sub("", Path(rec["path"]).name)
        groups.setdefault(f"{Path(rec['path']).parent}/{stem}", []).append(rec)
    for recs in groups.values():
        best = max(recs, key=lambda r: version_key(r["version"]))
        for r in recs:
            r["newest"] = r is best


def _time_range(files: list[dict]) -> tuple[str | None, str | None]:
    starts = [f["start"] for f in files if f["start"]]
    stops = [f["stop"] for f in files if f["stop"]]
    return (min(starts) if starts else None, max(stops) if stops else None)


# ----------------------------------------------------------------------------- real files
def _real_times(ds: xr.Dataset) -> tuple[np.ndarray, dict]:
    dims = [d for d in ds.dims if d in ds.coords and ds[d].dtype.kind == "M"]
    counts = {str(d): int(ds.sizes[d]) for d in dims}
    values = [np.asarray(ds[d].values) for d in dims]
    values = [v[~np.isnat(v)] for v in values if v.size]
    times = np.sort(np.concatenate(values)) if values else np.array([], "datetime64[ns]")
    return times, counts


def _make_master_from(path: Path, out: Path) -> bool:
    """A zero-record copy of a real data file (its metadata), like CDAWeb's masters."""
    from ..io.backend import open_cdf

    try:
        with open_cdf(path, include_ignore_data=True) as ds:
            ds = ds.load()
        dims = {d: slice(0, 0) for d in ds.dims if d in ds.coords and ds[d].dtype.kind == "M"}
        empty = ds.isel(dims)
        out.parent.mkdir(parents=True, exist_ok=True)
        from ..io.write import to_cdf

        to_cdf(empty, out, overwrite=True)
        with open_cdf(out, include_ignore_data=True) as check:
            check.load()
        return True
    except Exception:  # noqa: BLE001 - a master we cannot make is simply not published
        if out.exists():
            out.unlink()
        return False


# ----------------------------------------------------------------------------- the archive
def build_cdaweb_archive(root, *, start="2020-01-01", days: int = 3, real_files: bool = True,
                         shared_data=None, base_url: str | None = None, datasets=None) -> dict:
    """Write a CDAWeb look-alike archive under ``root`` and describe it.

    Parameters
    ----------
    root : str or path-like
        Folder to write into (created if needed); it is what the server serves under ``/``.
    start : str or datetime64
        First day of the generated datasets.
    days : int
        Number of days of the generated datasets (one file per day; ``XS_TEST_HOURLY`` has the
        months these days touch). ``days=365`` takes a few seconds.
    real_files : bool
        Also publish the real CDF files of ``shared_data`` at their real archive paths and the masters.
    shared_data : path-like, optional
        Folder of the real CDF files, or the data folder holding them in ``cdf/`` (default
        ``$XSPACE_SHARED_DATA/cdf``, else ``../shared/data/cdf`` next to the repository); files not
        found there are taken from the package's own ``xspace/data`` when it ships them (ACE MFI,
        PSP FIELDS, RBSP HOPE), and datasets whose file is nowhere are left out.
    base_url : str, optional
        Server URL written into ``all.xml`` (default the real ``https://cdaweb.gsfc.nasa.gov``;
        :func:`serve_cdaweb` rewrites it with the local server's URL via :func:`write_all_xml`).
    datasets : iterable of str, optional
        The generated datasets to write (default all ``XS_TEST_*``); e.g. ``["XS_TEST_1MIN"]`` for a
        quick year-long benchmark archive.

    Returns
    -------
    dict
        ``{"root", "start", "days", "catalog_path", "rest_prefix", "masters_path", "datasets"}``;
        ``datasets[id]`` has ``id``, ``kind`` ("generated", "real" or "master_only"), ``folder``,
        ``subdividedby``, ``filenaming``, ``time_type``, ``cadence_s``, ``start``/``stop`` (ISO),
        ``master`` (URL path or None), ``variables`` (name → description, units, VAR_TYPE,
        dims), catalog fields (``description``, ``observatory``, ``instrument``...) and ``files``:
        a list of ``{"path", "local", "version", "start", "stop", "records", "length", "offset",
        "newest", "overlap"}`` (``start``/``stop``: first and last record times).

    Examples
    --------
    >>> import tempfile
    >>> info = build_cdaweb_archive(tempfile.mkdtemp(), days=2, real_files=False)
    >>> [f["path"] for f in info["datasets"]["XS_TEST_1MIN"]["files"]]  # doctest: +NORMALIZE_WHITESPACE
    ['/pub/data/xspace/test/one_min/2020/xs_test_1min_20200101_v01.cdf',
     '/pub/data/xspace/test/one_min/2020/xs_test_1min_20200102_v01.cdf']
    >>> [f["records"] for f in info["datasets"]["XS_TEST_1MIN"]["files"]]  # the first repeats 2020-01-02T00:00
    [1441, 1440]
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    start64 = np.datetime64(str(start), "D").astype("datetime64[ns]")
    days = int(days)
    if days < 1:
        raise InputError(f"build_cdaweb_archive: days must be >= 1, got {days}")
    info: dict[str, Any] = {
        "root": str(root),
        "start": _iso(start64),
        "days": days,
        "catalog_path": CATALOG_PATH,
        "rest_prefix": REST_PREFIX,
        "masters_path": MASTERS_PATH,
        "datasets": {},
    }
    masters = root / MASTERS_PATH.lstrip("/")
    masters.mkdir(parents=True, exist_ok=True)

    wanted = list(_GENERATED) if datasets is None else [str(d) for d in datasets]
    unknown = sorted(set(wanted) - set(_GENERATED))
    if unknown:
        raise InputError(f"build_cdaweb_archive: unknown generated dataset(s) {unknown}; expected some of {list(_GENERATED)}")
    for dataset_id in wanted:
        spec = _GENERATED[dataset_id]
        files = []
        periods = _period_starts(spec, start64, days)
        for i, p in enumerate(periods):
            versions = spec.get("first_day_versions", spec["versions"]) if i == 0 else spec["versions"]
            for version in versions:
                offset = version_offset(version) if spec["offsets"] else 0.0
                overlap = bool(spec.get("overlap")) and i == 0 and len(periods) > 1
                files.append(_generate_file(root, dataset_id, spec, p, version, offset, overlap))
        _mark_newest(files)
        master_name = f"{dataset_id.lower()}_00000000_v01.cdf"
        master_ds = _master_for(dataset_id, spec)
        _write_cdf(master_ds, masters / master_name)
        _check_istp(Path(files[0]["local"]))
        t0, t1 = _time_range(files)
        info["datasets"][dataset_id] = {
            "id": dataset_id,
            "kind": "generated",
            "folder": spec["folder"],
            "subdividedby": spec["subdividedby"],
            "filenaming": spec["filenaming"],
            "time_type": {31: "CDF_EPOCH", 33: "CDF_TIME_TT2000"}[spec["time_type"]],
            "cadence_s": spec["cadence_s"],
            "period": spec["period"],
            "depend_0": "Epoch",
            "start": t0,
            "stop": t1,
            "end": _iso(_period_stop(spec, periods[-1])),
            "master": f"{MASTERS_PATH}/{master_name}",
            "variables": _variables_of(master_ds),
            "description": spec["description"],
            "observatory": ("XS", "xspace test spacecraft"),
            "instrument": ("RAMP", "RAMP"),
            "mission_group": "xspace",
            "instrument_type": "Magnetic Fields (space)",
            "pi_name": "xspace developers",
            "pi_affiliation": "xspace",
            "files": files,
        }

    if real_files:
        from ..io.backend import open_cdf

        src = _shared_cdf_dir(shared_data)
        for dataset_id, spec in _REAL.items():
            source = _find_real(spec["file"], src)
            if source is None:
                continue
            with open_cdf(source, include_ignore_data=True) as ds:
                times, counts = _real_times(ds)
                variables = _variables_of(ds)
                attrs = dict(ds.attrs)
            year = str(times[0].astype("datetime64[Y]")) if times.size else "0000"
            relpath = f"{spec['folder']}/{year}/{spec['file']}"
            dest = root / relpath.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            version = _VERSION_RE.search(spec["file"]).group(1)
            rec = _file_record(root, relpath, version, times, 0.0, {"overlap": False, "time_records": counts})
            master_path = None
            if _make_master_from(source, masters / spec["master"]):
                master_path = f"{MASTERS_PATH}/{spec['master']}"
            info["datasets"][dataset_id] = _real_entry(dataset_id, "real", spec, rec["start"], rec["stop"],
                                                       master_path, variables, attrs, source, [rec])
        for dataset_id, spec in _MASTERS_ONLY.items():
            source = _find_real(spec["master"], src)
            if source is None:
                continue
            shutil.copyfile(source, masters / spec["master"])
            with open_cdf(source, include_ignore_data=True) as ds:
                variables = _variables_of(ds)
                attrs = dict(ds.attrs)
            info["datasets"][dataset_id] = _real_entry(dataset_id, "master_only", spec, None, None,
                                                       f"{MASTERS_PATH}/{spec['master']}", variables, attrs,
                                                       source, [])
    write_all_xml(root, info, base_url or _REAL_BASE)
    return info


def _real_entry(dataset_id: str, kind: str, spec: dict, start, stop, master, variables: dict, attrs: dict,
                source: Path, files: list) -> dict:
    """The ``info["datasets"]`` entry of a real dataset (``kind`` "real" or "master_only"): catalog fields
    from ``spec`` (a row of ``_REAL`` or ``_MASTERS_ONLY``) and from the file's global ``attrs``."""
    return {
        "id": dataset_id,
        "kind": kind,
        "folder": spec["folder"],
        "subdividedby": spec["subdividedby"],
        "filenaming": spec["filenaming"],
        "time_type": None,
        "cadence_s": None,
        "period": "day",
        "depend_0": None,
        "start": start,
        "stop": stop,
        "master": master,
        "variables": variables,
        "description": _text(attrs.get("Logical_source_description")) or dataset_id,
        "observatory": spec["observatory"],
        "instrument": spec["instrument"],
        "mission_group": spec["mission_group"],
        "instrument_type": spec["instrument_type"],
        "pi_name": _text(attrs.get("PI_name")),
        "pi_affiliation": _text(attrs.get("PI_affiliation")),
        "source": str(source),
        "files": files,
    }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value).strip()
    return str(value).strip()


def _shared_cdf_dir(shared_data=None) -> Path:
    """The folder of the real CDF files: ``shared_data`` (the data folder or its ``cdf/``), else
    ``$XSPACE_SHARED_DATA/cdf``, else ``../shared/data/cdf`` next to the repository."""
    if shared_data is not None:
        folder = Path(shared_data)
        return folder / "cdf" if (folder / "cdf").is_dir() else folder
    env = os.environ.get("XSPACE_SHARED_DATA")
    if env:
        return Path(env) / "cdf"
    return _SHARED_CDF


def _find_real(name: str, folder: Path) -> Path | None:
    """A real file by name: in ``folder``, else among the files the package ships (xspace/data)."""
    for candidate in (folder / name, Path(__file__).resolve().parents[1] / "data" / name):
        if candidate.is_file():
            return candidate
    return None


def newest_files(info: dict, dataset: str) -> list[dict]:
    """The file records of ``dataset`` that CDAWeb would serve: the newest version of each file.

    Examples
    --------
    >>> import tempfile
    >>> info = build_cdaweb_archive(tempfile.mkdtemp(), days=1, real_files=False)
    >>> [f["version"] for f in info["datasets"]["XS_TEST_VERS"]["files"]]
    ['9', '10']
    >>> [f["version"] for f in newest_files(info, "XS_TEST_VERS")]
    ['10']
    """
    return [f for f in info["datasets"][dataset]["files"] if f["newest"]]


# ----------------------------------------------------------------------------- all.xml
def _allxml_time(iso: str | None) -> str:
    if not iso:
        return ""
    return iso[:19].replace("T", " ")


def write_all_xml(root, info: dict, base_url: str) -> Path:
    """Write ``/pub/catalogs/all.xml`` (SPDF's catalog format) with URLs on ``base_url``.

    One ``<dataset serviceprovider_ID=... timerange_start=... timerange_stop=...>`` per dataset,
    in the ``CDAWeb_HTTPS`` ``<datasite>`` of a ``<sites xmlns="cdas">`` document, with
    ``<description short=...>``, ``<observatory>``, ``<instrument>``, ``<instrument_type>``,
    ``<mission_group>``, ``<access subdividedby=... filenaming=...><URL>...</URL></access>`` and
    ``<mastercdf ID=URL serviceprovider_ID=URL>``.

    Examples
    --------
    >>> import tempfile, xml.etree.ElementTree as ET
    >>> root = tempfile.mkdtemp()
    >>> info = build_cdaweb_archive(root, days=1, real_files=False)
    >>> tree = ET.parse(write_all_xml(root, info, "http://127.0.0.1:8000"))
    >>> ds = tree.find(".//{cdas}dataset[@serviceprovider_ID='XS_TEST_DOY']")
    >>> ds.find("{cdas}access").attrib["subdividedby"], ds.find("{cdas}access/{cdas}URL").text
    ('%Y/%j', 'http://127.0.0.1:8000/pub/data/xspace/test/doy')
    """
    base = base_url.rstrip("/")
    ns = "cdas"
    ET.register_namespace("", ns)

    def q(tag):
        return f"{{{ns}}}{tag}"

    sites = ET.Element(q("sites"))
    site = ET.SubElement(sites, q("datasite"), {"ID": "CDAWeb_HTTPS", "Name": "CDAWeb", "URL": f"{base}/pub/data/"})
    for dataset_id, d in info["datasets"].items():
        el = ET.SubElement(site, q("dataset"), {
            "ID": f"{base}{d['folder']}/",
            "serviceprovider_ID": dataset_id,
            "timerange_start": _allxml_time(d["start"]),
            "timerange_stop": _allxml_time(d["stop"]),
        })
        ET.SubElement(el, q("description"), {"short": d["description"]})
        obs_id, obs_name = d["observatory"]
        obs = ET.SubElement(el, q("observatory"), {"ID": obs_id, "serviceprovider_ID": obs_id})
        ET.SubElement(obs, q("description"), {"short": obs_name})
        ins_id, ins_name = d["instrument"]
        ins = ET.SubElement(el, q("instrument"), {"ID": ins_id, "serviceprovider_ID": ins_id})
        ET.SubElement(ins, q("description"), {"short": ins_name})
        ET.SubElement(el, q("instrument_type"), {"ID": d["instrument_type"]})
        mg = ET.SubElement(el, q("mission_group"), {"ID": d["mission_group"], "serviceprovider_ID": d["mission_group"]})
        ET.SubElement(mg, q("description"), {"short": d["mission_group"]})
        access = ET.SubElement(el, q("access"), {"subdividedby": d["subdividedby"], "filenaming": d["filenaming"]})
        ET.SubElement(access, q("URL")).text = f"{base}{d['folder']}"
        if d["master"]:
            url = f"{base}{d['master']}"
            ET.SubElement(el, q("mastercdf"), {"ID": url, "serviceprovider_ID": url})
        ET.SubElement(el, q("link"), {"URL": f"{base}/misc/Notes.html#{dataset_id}", "title": "Dataset notes"})
    ET.indent(sites)
    path = Path(root) / CATALOG_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(ET.tostring(sites, encoding="UTF-8", xml_declaration=True))
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- supersession
def add_version(root, info: dict, dataset: str, day, version: str) -> dict:
    """Publish a new version of one generated file mid-test (CDAWeb reprocessing a day).

    The new file (values ``ramp_value(t) + version_offset(version)``) is written next to the
    others; ``info`` is updated in place (the REST handler built on it answers with the new file
    from now on) and ``all.xml`` is left as it is.

    Parameters
    ----------
    root : path-like
        The archive folder.
    info : dict
        What :func:`build_cdaweb_archive` returned.
    dataset : str
        A generated dataset id (``XS_TEST_*``).
    day : str or datetime64
        A day of the dataset (for ``XS_TEST_HOURLY``, any day of the month).
    version : str
        The version token without ``v`` (``"02"``, ``"11"``, ``"5.11.0"``).

    Returns
    -------
    dict
        The new file record.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> info = build_cdaweb_archive(root, days=2, real_files=False)
    >>> rec = add_version(root, info, "XS_TEST_1MIN", "2020-01-02", "02")
    >>> rec["path"], rec["offset"]
    ('/pub/data/xspace/test/one_min/2020/xs_test_1min_20200102_v02.cdf', 2.0)
    >>> [f["version"] for f in newest_files(info, "XS_TEST_1MIN")]
    ['01', '02']
    """
    if dataset not in _GENERATED:
        raise ProductNotFound(f"add_version: {dataset!r} is not a generated dataset; expected one of {sorted(_GENERATED)}")
    spec = _GENERATED[dataset]
    d64 = np.datetime64(str(day), "D").astype("datetime64[ns]")
    period = d64 if spec["period"] == "day" else d64.astype("datetime64[M]").astype("datetime64[ns]")
    version = str(version).lstrip("vV")
    with _INFO_LOCK:
        entry = info["datasets"][dataset]
        previous = [f for f in entry["files"] if _file_relpath(spec, period, f["version"]) == f["path"]]
        overlap = any(f.get("overlap") for f in previous)
        rec = _generate_file(Path(root), dataset, spec, period, version, version_offset(version), overlap)
        entry["files"] = [f for f in entry["files"] if f["path"] != rec["path"]] + [rec]
        entry["files"].sort(key=lambda f: (f["start"] or "", version_key(f["version"])))
        _mark_newest(entry["files"])
        entry["start"], entry["stop"] = _time_range([f for f in entry["files"] if f["newest"]])
    return rec


_INFO_LOCK = threading.RLock()


# ----------------------------------------------------------------------------- REST handler
class _RestError(Exception):
    def __init__(self, status: int, message: str, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or message


def _status_body(message: str, error: str | None = None) -> dict:
    # the shape of CDAS's status/error answers
    return {"Message": [message], "Warning": [], "Status": [], "Error": [error] if error else []}


def _server_base(req) -> str:
    host = req.headers.get("Host")
    if host:
        return f"http://{host}"
    url = getattr(req, "url", "") or ""
    m = re.match(r"https?://[^/]+", url)
    return m.group(0) if m else "http://127.0.0.1"


def _wants_json(req) -> bool:
    accept = req.headers.get("Accept") or ""
    return "json" in accept.lower() or req.query.get("format") == "json"


def _last_modified(path: Path) -> str:
    mtime = path.stat().st_mtime
    t = np.datetime64(int(round(mtime * 1000)), "ms")
    return _iso(t)


def _file_description(base: str, rec: dict, prefix: str = "/pub/data") -> dict:
    local = Path(rec["local"])
    path = rec["path"]
    if prefix != "/pub/data" and path.startswith("/pub/data/"):
        path = prefix + path[len("/pub/data"):]
    return {
        "Name": f"{base}{path}",
        "MimeType": "application/x-cdf",
        "StartTime": rec["start"],
        "EndTime": rec["stop"],
        "Length": local.stat().st_size,
        "LastModified": _last_modified(local),
    }


_XML_ROOTS = {
    "DatasetDescription": "Datasets", "VariableDescription": "Variables", "FileDescription": "DataResult",
    "InventoryDescription": "Inventory", "ObservatoryGroupDescription": "ObservatoryGroups",
    "ObservatoryDescription": "Observatories", "InstrumentDescription": "Instruments",
    "InstrumentTypeDescription": "InstrumentTypes",
    "ObservatoryGroupInstrumentDescription": "ObservatoryGroupInstruments",
}


def _xml_text(item: str, rows: list[dict]) -> str:
    ns = "http://cdaweb.gsfc.nasa.gov/schema"
    top = ET.Element(_XML_ROOTS.get(item, item + "s"), {"xmlns": ns})

    def add(parent, key, value):
        if isinstance(value, list):
            for v in value:
                add(parent, key, v)
        elif isinstance(value, dict):
            child = ET.SubElement(parent, key)
            for k, v in value.items():
                add(child, k, v)
        else:
            ET.SubElement(parent, key).text = "" if value is None else str(value)

    for row in rows:
        add(top, item, row)
    return ET.tostring(top, encoding="unicode", xml_declaration=True)


def cdaweb_rest_handler(archive_info: dict, *, names_prefix: str = "/pub/data") -> Callable:
    """A handler answering CDAS REST requests, to mount at ``/WS/cdasr/1/dataviews/sp_phys``.

    Endpoints (paths relative to the mount point; JSON when the request says
    ``Accept: application/json``, XML otherwise):

    * ``GET /datasets[?idPattern=regex]`` → ``{"DatasetDescription": [{"Id", "Observatory",
      "Instrument", "ObservatoryGroup", "InstrumentType", "Label", "TimeInterval": {"Start",
      "End"}, "PiName", "PiAffiliation", "Notes"}]}``
    * ``GET /datasets/{id}/variables`` → ``{"VariableDescription": [{"Name", "ShortDescription",
      "LongDescription"}]}`` (the ``data`` variables)
    * ``GET /datasets/{id}/orig_data/{start},{stop}`` → ``{"FileDescription": [{"Name", "MimeType",
      "StartTime", "EndTime", "Length", "LastModified"}]}``: the newest version of each file whose
      ``[first record, last record]`` meets ``[start, stop]``, in time order
    * ``GET /datasets/{id}/inventory[/{start},{stop}]`` → ``{"InventoryDescription": [{"Id",
      "TimeInterval": [{"Start", "End"}]}]}``
    * ``GET /datasets/{id}/data/{start},{stop}/{var1,var2}?format=cdf`` → a CDF of those variables
      (with their support variables) and records ``start <= t < stop`` from the newest files, written
      under ``/tmp/`` of the archive and described by a ``FileDescription``

    * ``GET /observatoryGroups``, ``/observatories``, ``/instruments``, ``/instrumentTypes``,
      ``/observatoryGroupsAndInstruments`` → the corresponding ``...Description`` lists

    ``datasets`` filters on ``idPattern``, ``labelPattern`` (regular expressions),
    ``observatoryGroup``, ``observatory``, ``instrument`` and ``instrumentType``. Answers carry an
    ``ETag`` (a hash of the body; ``orig_data`` also a ``Last-Modified``, its newest file's time) and
    honour ``If-None-Match``/``If-Modified-Since`` with ``304 Not Modified``, so a cache can
    revalidate them; a new file version (:func:`add_version`) changes them.
    Times are written like ``20200101T000000Z`` (ISO 8601 is accepted too). Errors are HTTP
    statuses with a JSON body ``{"Message": [...], "Warning": [], "Status": [], "Error": [...]}``:
    404 for an unknown dataset or variable and for "No data available", 400 for a bad request.

    Parameters
    ----------
    archive_info : dict
        What :func:`build_cdaweb_archive` returned (read at each request: :func:`add_version`
        changes are seen at once).
    names_prefix : str
        URL path under which ``orig_data`` names the archive files: ``/pub/data`` (default), or
        ``/sp_phys/data`` like the real service (whose file URLs use that alias of ``/pub/data``;
        the server must then serve the alias, see :func:`serve_cdaweb`).

    Examples
    --------
    >>> import json, tempfile, urllib.request
    >>> from xspace.testing import LocalServer
    >>> root = tempfile.mkdtemp()
    >>> info = build_cdaweb_archive(root, days=2, real_files=False)
    >>> with LocalServer(root) as srv:
    ...     srv.mount(REST_PREFIX, cdaweb_rest_handler(info))
    ...     url = srv.url + REST_PREFIX + "/datasets/XS_TEST_1MIN/orig_data/20200101T120000Z,20200102T000000Z"
    ...     request = urllib.request.Request(url, headers={"Accept": "application/json"})
    ...     answer = json.load(urllib.request.urlopen(request))
    >>> [(f["Name"].rsplit("/", 1)[1], f["StartTime"], f["EndTime"]) for f in answer["FileDescription"]]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('xs_test_1min_20200101_v01.cdf', '2020-01-01T00:00:00.000Z', '2020-01-02T00:00:00.000Z'),
     ('xs_test_1min_20200102_v01.cdf', '2020-01-02T00:00:00.000Z', '2020-01-02T23:59:00.000Z')]
    """
    from .server import Reply

    root = Path(archive_info["root"])
    counter = itertools.count(1)

    def reply_json(obj, status=200):
        return Reply(status=status, body=json.dumps(obj), content_type="application/json")

    def reply(req, key: str, item: str, rows: list[dict], last_modified: float | None = None):
        if _wants_json(req):
            answer = reply_json({key: rows})
        else:
            answer = Reply(status=200, body=_xml_text(item, rows), content_type="application/xml")
        return _conditional(req, answer, last_modified)

    def dataset_entry(dataset_id: str) -> dict:
        entry = archive_info["datasets"].get(dataset_id)
        if entry is None:
            raise _RestError(404, f"Unknown dataset: {dataset_id}", f"Bad dataset ID: {dataset_id}")
        return entry

    def interval(text: str) -> tuple[np.datetime64, np.datetime64]:
        parts = text.split(",")
        if len(parts) != 2:
            raise _RestError(400, f"Bad time interval {text!r}: expected start,stop like 20200101T000000Z,20200102T000000Z")
        t0, t1 = _parse_rest_time(parts[0], "start"), _parse_rest_time(parts[1], "stop")
        if t1 < t0:
            raise _RestError(400, f"Bad time interval {text!r}: stop is before start")
        return t0, t1

    def overlapping(entry: dict, t0: np.datetime64, t1: np.datetime64) -> list[dict]:
        out = []
        for rec in entry["files"]:
            if not rec["newest"] or not rec["start"]:
                continue
            fs = np.datetime64(rec["start"].rstrip("Z"), "ns")
            fe = np.datetime64(rec["stop"].rstrip("Z"), "ns")
            if fs <= t1 and fe >= t0:
                out.append(rec)
        return sorted(out, key=lambda r: r["start"])

    def datasets(req):
        q = req.query
        try:
            id_regex = re.compile(q["idPattern"]) if q.get("idPattern") else None
            label_regex = re.compile(q["labelPattern"], re.IGNORECASE) if q.get("labelPattern") else None
        except re.error as exc:
            raise _RestError(400, f"Bad pattern: {exc}") from exc
        rows = []
        for dataset_id, d in archive_info["datasets"].items():
            if id_regex is not None and not id_regex.search(dataset_id):
                continue
            if label_regex is not None and not label_regex.search(d["description"]):
                continue
            if q.get("observatoryGroup") and q["observatoryGroup"] != d["mission_group"]:
                continue
            if q.get("observatory") and q["observatory"] != d["observatory"][0]:
                continue
            if q.get("instrument") and q["instrument"] != d["instrument"][0]:
                continue
            if q.get("instrumentType") and q["instrumentType"] != d["instrument_type"]:
                continue
            rows.append({
                "Id": dataset_id,
                "Observatory": [d["observatory"][0]],
                "Instrument": [d["instrument"][0]],
                "ObservatoryGroup": [d["mission_group"]],
                "InstrumentType": [d["instrument_type"]],
                "Label": d["description"],
                "TimeInterval": {"Start": d["start"], "End": d["stop"]},
                "PiName": d.get("pi_name", ""),
                "PiAffiliation": d.get("pi_affiliation", ""),
                "Notes": f"{_server_base(req)}/misc/Notes.html#{dataset_id}",
            })
        return reply(req, "DatasetDescription", "DatasetDescription", rows)

    def groups(req, what: str):
        entries = list(archive_info["datasets"].values())
        if what == "observatoryGroups":
            names: dict[str, list[str]] = {}
            for d in entries:
                ids = names.setdefault(d["mission_group"], [])
                if d["observatory"][0] not in ids:
                    ids.append(d["observatory"][0])
            rows = [{"Name": k, "ObservatoryId": v} for k, v in names.items()]
            return reply(req, "ObservatoryGroupDescription", "ObservatoryGroupDescription", rows)
        if what == "observatories":
            seen = {d["observatory"][0]: d["observatory"][1] for d in entries}
            rows = [{"Name": k, "ShortDescription": k, "LongDescription": v} for k, v in seen.items()]
            return reply(req, "ObservatoryDescription", "ObservatoryDescription", rows)
        if what == "instruments":
            seen = {d["instrument"][0]: d["instrument"][1] for d in entries}
            rows = [{"Name": k, "ShortDescription": k, "LongDescription": v} for k, v in seen.items()]
            return reply(req, "InstrumentDescription", "InstrumentDescription", rows)
        if what == "instrumentTypes":
            rows = [{"Name": k} for k in dict.fromkeys(d["instrument_type"] for d in entries)]
            return reply(req, "InstrumentTypeDescription", "InstrumentTypeDescription", rows)
        # observatoryGroupsAndInstruments
        tree: dict[str, dict[str, dict[str, str]]] = {}
        for d in entries:
            obs = tree.setdefault(d["mission_group"], {}).setdefault(d["observatory"][0], {})
            obs[d["instrument"][0]] = d["instrument"][1]
        rows = [{"Name": group, "ObservatoryInstruments": [
            {"Name": obs, "InstrumentDescription": [
                {"Name": ins, "ShortDescription": ins, "LongDescription": text} for ins, text in instruments.items()]}
            for obs, instruments in observatories.items()]} for group, observatories in tree.items()]
        return reply(req, "ObservatoryGroupInstrumentDescription", "ObservatoryGroupInstrumentDescription", rows)

    def variables(req, entry):
        rows = [{"Name": name, "ShortDescription": v["ShortDescription"], "LongDescription": v["LongDescription"]}
                for name, v in entry["variables"].items() if v["var_type"] == "data"]
        return reply(req, "VariableDescription", "VariableDescription", rows)

    def orig_data(req, entry, text):
        t0, t1 = interval(text)
        with _INFO_LOCK:
            recs = overlapping(entry, t0, t1)
        if not recs:
            raise _RestError(404, "No data available.", f"No files of {entry['id']} between {_iso(t0)} and {_iso(t1)}")
        base = _server_base(req)
        newest = max(Path(r["local"]).stat().st_mtime for r in recs)
        rows = [_file_description(base, r, names_prefix) for r in recs]
        return reply(req, "FileDescription", "FileDescription", rows, newest)

    def inventory(req, entry, text=None):
        with _INFO_LOCK:
            recs = [r for r in entry["files"] if r["newest"] and r["start"]]
            if text is not None:
                t0, t1 = interval(text)
                recs = overlapping(entry, t0, t1)
        recs = sorted(recs, key=lambda r: r["start"])
        gap = np.timedelta64(int((entry.get("cadence_s") or 0) * 1.5 * 1e9), "ns")
        intervals: list[list[np.datetime64]] = []
        for r in recs:
            s = np.datetime64(r["start"].rstrip("Z"), "ns")
            e = np.datetime64(r["stop"].rstrip("Z"), "ns")
            if intervals and s <= intervals[-1][1] + gap:
                intervals[-1][1] = max(intervals[-1][1], e)
            else:
                intervals.append([s, e])
        rows = [{"Id": entry["id"], "TimeInterval": [{"Start": _iso(s), "End": _iso(e)} for s, e in intervals]}]
        return reply(req, "InventoryDescription", "InventoryDescription", rows)

    def data(req, entry, text, names_text):
        t0, t1 = interval(text)
        fmt = req.query.get("format", "cdf").lower()
        if fmt != "cdf":
            raise _RestError(400, f"Unsupported format {fmt!r}: this stand-in writes format=cdf only")
        names = [n for n in unquote(names_text).split(",") if n]
        if not names:
            raise _RestError(400, "No variables requested")
        for n in names:
            if n not in entry["variables"]:
                raise _RestError(404, f"Unknown variable {n!r} of dataset {entry['id']}",
                                 f"Bad variable name: {n}")
        virtual = {n: entry["variables"][n] for n in names if entry["variables"][n].get("virtual")}
        for n, v in virtual.items():
            if v["funct"] != "alternate_view" or not v["components"]:
                raise _RestError(400, f"Virtual variable {n!r} ({v['funct']}) is not computed by this stand-in")
        stored = [n for n in names if n not in virtual] + [v["components"][0] for v in virtual.values()]
        with _INFO_LOCK:
            recs = overlapping(entry, t0, t1)
        subset = _subset(recs, list(dict.fromkeys(stored)), t0, t1)
        if subset is not None:
            for n, v in virtual.items():  # alternate_view: the component's values under the virtual name
                source = subset[v["components"][0]]
                attrs = {**source.attrs, "FIELDNAM": n, "CATDESC": v["LongDescription"]}
                subset[n] = xr.Variable(source.dims, source.values, attrs, dict(source.encoding))
        if subset is None:
            raise _RestError(404, "No data available.", f"No data of {entry['id']} between {_iso(t0)} and {_iso(t1)}")
        n = next(counter)
        stamp = f"{_compact(t0)}_{_compact(t1)}"
        rel = f"/tmp/ws{os.getpid()}_{n}/{entry['id'].lower()}_{stamp}.cdf"
        out = root / rel.lstrip("/")
        out.parent.mkdir(parents=True, exist_ok=True)
        from ..io.write import to_cdf

        to_cdf(subset, out, overwrite=True)
        times = np.concatenate([np.asarray(subset[d].values) for d in subset.dims
                                if d in subset.coords and subset[d].dtype.kind == "M"])
        rec = {"path": rel, "local": str(out), "start": _iso(times.min()), "stop": _iso(times.max())}
        return reply(req, "FileDescription", "FileDescription", [_file_description(_server_base(req), rec)])

    def handler(req):
        try:
            if req.method not in ("GET", "HEAD"):
                raise _RestError(405, f"Method {req.method} not allowed")
            parts = [p for p in req.subpath.split("/") if p]
            if parts == ["datasets"]:
                return datasets(req)
            if len(parts) == 1 and parts[0] in ("observatoryGroups", "observatories", "instruments",
                                                "instrumentTypes", "observatoryGroupsAndInstruments"):
                return groups(req, parts[0])
            if len(parts) >= 3 and parts[0] == "datasets":
                entry = dataset_entry(parts[1])
                what = parts[2]
                if what == "variables" and len(parts) == 3:
                    return variables(req, entry)
                if what == "orig_data" and len(parts) == 4:
                    return orig_data(req, entry, parts[3])
                if what == "inventory" and len(parts) in (3, 4):
                    return inventory(req, entry, parts[3] if len(parts) == 4 else None)
                if what == "data" and len(parts) == 5:
                    return data(req, entry, parts[3], parts[4])
            if len(parts) == 2 and parts[0] == "datasets":
                dataset_entry(parts[1])
            raise _RestError(400, f"Bad request: {req.subpath}")
        except _RestError as exc:
            return reply_json(_status_body(exc.message, exc.error), status=exc.status)

    return handler


def _conditional(req, answer, last_modified: float | None):
    """Add ``ETag`` (and ``Last-Modified``) to a 200 answer; 304 when the client's copy is current."""
    import email.utils
    import hashlib

    if answer.status != 200 or not isinstance(answer.body, bytes):
        return answer
    etag = '"' + hashlib.sha1(answer.body).hexdigest()[:20] + '"'
    answer.headers["ETag"] = etag
    answer.headers["Cache-Control"] = "no-cache"
    if last_modified is not None:
        answer.headers["Last-Modified"] = email.utils.formatdate(last_modified, usegmt=True)
    match = req.headers.get("If-None-Match")
    if match is not None:
        tags = [t.strip().removeprefix("W/") for t in match.split(",")]
        fresh = "*" in tags or etag in tags
    else:
        since = req.headers.get("If-Modified-Since")
        fresh = False
        if since and last_modified is not None:
            try:
                fresh = int(last_modified) <= email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                fresh = False
    if fresh:
        from .server import Reply

        not_modified = Reply(status=304, body=b"")
        for key in ("ETag", "Last-Modified", "Cache-Control"):
            if key in answer.headers:
                not_modified.headers[key] = answer.headers[key]
        not_modified.headers.pop("Content-Type", None)
        return not_modified
    return answer


def _compact(t: np.datetime64) -> str:
    return str(np.datetime64(t, "s")).replace("-", "").replace(":", "")


def _support_closure(ds: xr.Dataset, names: list[str]) -> list[str]:
    keep: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in keep or name not in ds.variables:
            continue
        keep.append(name)
        for key, value in ds[name].attrs.items():
            if isinstance(value, str) and (key.startswith(("DEPEND_", "LABL_PTR_", "DELTA_")) or key.endswith("_PTR")):
                todo.append(value.strip())
    return keep


def _subset(recs: list[dict], names: list[str], t0: np.datetime64, t1: np.datetime64) -> xr.Dataset | None:
    """Variables ``names`` (and what they point to) at records ``t0 <= t < t1`` of the files ``recs``.

    A file's records from the next file's first time on are left out (the next file owns them):
    the boundary record a file repeats at its end is taken once, from the next file.
    """
    from ..io.backend import open_cdf

    parts = []
    for rec in recs:
        with open_cdf(rec["local"]) as ds:
            keep = _support_closure(ds, names)
            parts.append(ds[[k for k in keep if k in ds.data_vars or k in ds.coords]].load())
    if not parts:
        return None
    tdims = [d for d in parts[0].dims if d in parts[0].coords and parts[0][d].dtype.kind == "M"]
    pieces = []
    for i, part in enumerate(parts):
        sel = {}
        for d in tdims:
            t = part[d].values
            mask = (t >= t0) & (t < t1)
            following = [p[d].values for p in parts[i + 1:] if d in p.dims and p.sizes[d]]
            if following:
                mask &= t < following[0][0]
            sel[d] = np.flatnonzero(mask)
        pieces.append(part.isel(sel))
    if not tdims or all(sum(p.sizes.get(d, 0) for p in pieces) == 0 for d in tdims):
        return None
    if len(pieces) == 1:
        out = pieces[0]
    elif len(tdims) == 1:
        out = xr.concat(pieces, dim=tdims[0], data_vars="minimal", coords="minimal", compat="override",
                        join="override", combine_attrs="override")
    else:
        # several time axes: concatenate each one's variables separately
        groups = []
        for d in tdims:
            names_d = [v for v in pieces[0].variables if d in pieces[0][v].dims]
            groups.append(xr.concat([p[names_d] for p in pieces], dim=d, data_vars="minimal", coords="minimal",
                                    compat="override", join="override", combine_attrs="override"))
        out = xr.merge(groups, compat="override", combine_attrs="override")
    out.encoding.update(pieces[0].encoding)
    for name in out.variables:
        if name in pieces[0].variables:
            out[name].encoding.update(pieces[0][name].encoding)
    return out


def expected_values(info: dict, dataset: str, start, stop, variable: str = "ramp",
                    keep: str = "next") -> tuple[np.ndarray, np.ndarray]:
    """What a correct reader returns for a generated dataset's ``variable`` over ``[start, stop)``.

    Computed from the archive description alone (no file is read): the newest version of each
    file, its records (times from its first record at the dataset's cadence) and its ``offset``;
    a file's records from the next file's first time on belong to the next file (so the boundary
    record repeated at the end of ``XS_TEST_1MIN``'s first file is counted once).

    Parameters
    ----------
    info : dict
        What :func:`build_cdaweb_archive` returned (after any :func:`add_version`).
    dataset : str
        A generated dataset id.
    start, stop : str or datetime64
        The interval, ``start <= t < stop``.
    keep : {"next", "first"}
        Which copy of a record two files hold (the boundary record) counts: the next file's
        (default, as the REST ``data`` endpoint does) or the first file's. The values differ only
        when one of the two files was superseded by :func:`add_version`.
    variable : {"ramp", "ramp_gappy", "vec", "ramp_alt"}
        ``ramp_alt`` is ``XS_TEST_1MIN``'s virtual variable (in the master only; the ``data``
        endpoint computes it as ``alternate_view`` of ``ramp``).

    Returns
    -------
    times : numpy.ndarray of datetime64[ns]
    values : numpy.ndarray of float64 (shape ``(n,)``, or ``(n, 3)`` for ``vec``)

    Examples
    --------
    >>> import tempfile
    >>> info = build_cdaweb_archive(tempfile.mkdtemp(), days=2, real_files=False, datasets=["XS_TEST_1MIN"])
    >>> t, v = expected_values(info, "XS_TEST_1MIN", "2020-01-01T23:59", "2020-01-02T00:02")
    >>> [str(x)[:16] for x in t], v.tolist()
    (['2020-01-01T23:59', '2020-01-02T00:00', '2020-01-02T00:01'], [10520639.0, 10520640.0, 10520641.0])
    """
    entry = info["datasets"][dataset]
    if entry["kind"] != "generated":
        raise InputError(f"expected_values: {dataset!r} is not a generated dataset")
    if variable not in entry["variables"] or entry["variables"][variable]["var_type"] != "data":
        raise ProductNotFound(f"expected_values: {dataset!r} has no data variable {variable!r}")
    t0 = np.datetime64(str(start).rstrip("Z"), "ns")
    t1 = np.datetime64(str(stop).rstrip("Z"), "ns")
    cadence = np.timedelta64(int(entry["cadence_s"]) * 1_000_000_000, "ns")
    recs = sorted((f for f in entry["files"] if f["newest"] and f["start"]), key=lambda f: f["start"])
    if keep not in ("next", "first"):
        raise InputError(f"expected_values: keep must be 'next' or 'first', got {keep!r}")
    times, values = [], []
    for i, rec in enumerate(recs):
        first = np.datetime64(rec["start"].rstrip("Z"), "ns")
        t = first + np.arange(rec["records"], dtype=np.int64) * cadence
        if keep == "next" and i + 1 < len(recs):
            t = t[t < np.datetime64(recs[i + 1]["start"].rstrip("Z"), "ns")]
        elif keep == "first" and times and times[-1].size:
            t = t[t > times[-1][-1]]
        t = t[(t >= t0) & (t < t1)]
        base = (ramp_gappy_value(t) if variable == "ramp_gappy" else ramp_value(t)) + rec["offset"]  # ramp, ramp_alt
        values.append(np.stack([base, -base, 2 * base], axis=1) if variable == "vec" else base)
        times.append(t)
    if not times:
        empty = np.zeros((0, 3) if variable == "vec" else (0,))
        return np.array([], "datetime64[ns]"), empty
    return np.concatenate(times), np.concatenate(values)


# ----------------------------------------------------------------------------- the server
def serve_cdaweb(root=None, *, sp_phys_alias: bool = False, **build_kwargs):
    """Build an archive and start a local server publishing it with the CDAS REST services.

    Parameters
    ----------
    root : path-like, optional
        Archive folder; a temporary folder (removed by ``close()``) when omitted.
    sp_phys_alias : bool
        Like the real CDAWeb, also serve ``/pub/data`` as ``/sp_phys/data`` and name the files
        of ``orig_data`` answers with that alias (``https://cdaweb.gsfc.nasa.gov/sp_phys/data/...``):
        a client then sees two URLs for one file (default False: ``/pub/data`` everywhere).
    **build_kwargs
        Passed to :func:`build_cdaweb_archive` (``start``, ``days``, ``real_files``, ``shared_data``).

    Returns
    -------
    CDAWebSite
        A started :class:`xspace.testing.LocalServer` (usable as a context manager) with
        ``.info`` (the archive description), ``.archive_root``, ``.catalog_url`` and ``.rest_url``;
        ``.add_version(dataset, day, version)`` publishes a new file version; ``.close()`` (or the
        end of the ``with`` block) stops it and removes a temporary archive folder (``stop()``/
        ``down()``/``up()`` keep the files).

    Examples
    --------
    >>> import urllib.request
    >>> with serve_cdaweb(days=1, real_files=False) as site:
    ...     body = urllib.request.urlopen(site.catalog_url).read()
    ...     listing = urllib.request.urlopen(site.url + "/pub/data/xspace/test/one_min/2020/").read()
    >>> b'serviceprovider_ID="XS_TEST_1MIN"' in body, b"xs_test_1min_20200101_v01.cdf" in listing
    (True, True)
    """
    owned = root is None
    if owned:
        root = tempfile.mkdtemp(prefix="xspace-cdaweb-")
    try:
        info = build_cdaweb_archive(root, **build_kwargs)
        site = _site_class()(root)
        site._setup(info, owned)
        prefix = "/sp_phys/data" if sp_phys_alias else "/pub/data"
        site.mount(REST_PREFIX, cdaweb_rest_handler(info, names_prefix=prefix))
        if sp_phys_alias:
            site.mount("/sp_phys/data", Path(root) / "pub" / "data")
        site.start()
        write_all_xml(root, info, site.url)
    except BaseException:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return site


_SITE_CLASS = None


def _site_class():
    global _SITE_CLASS
    if _SITE_CLASS is not None:
        return _SITE_CLASS
    from .server import LocalServer

    class CDAWebSite(LocalServer):
        """A LocalServer publishing a generated CDAWeb archive (see :func:`serve_cdaweb`)."""

        def _setup(self, info: dict, owned: bool) -> None:
            self.info = info
            self.archive_root = Path(info["root"])
            self._owned_root = owned

        @property
        def catalog_url(self) -> str:
            return self.url + CATALOG_PATH

        @property
        def rest_url(self) -> str:
            return self.url + REST_PREFIX

        def add_version(self, dataset: str, day, version: str) -> dict:
            """Publish a new version of a generated file (see :func:`add_version`)."""
            return add_version(self.archive_root, self.info, dataset, day, version)

        def close(self) -> None:
            """Stop the server and remove the archive folder if :func:`serve_cdaweb` made it."""
            try:
                self.stop()
            finally:
                if getattr(self, "_owned_root", False):
                    shutil.rmtree(self.archive_root, ignore_errors=True)
                    self._owned_root = False

        def __exit__(self, *exc_info) -> None:
            self.close()

    _SITE_CLASS = CDAWebSite
    return CDAWebSite
