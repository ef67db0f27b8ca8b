"""Fetching speed against a local CDAWeb look-alike, with the server's raw file throughput as baseline.

A year of daily 1-minute files (``XS_TEST_1MIN``, 365 TT2000 CDFs of 1440 records) is generated and
served by :func:`xspace.testing.cdaweb_site.serve_cdaweb` on 127.0.0.1 (optionally with added latency
per request, to look like a real archive). Measured in the same run:

* baseline: plain ``requests`` downloads of the same files (sequential, and 4 threads) — the
  server's raw file throughput;
* cold ``get_data(..., load=True)`` of a day, a month and the year (empty cache each time):
  seconds and throughput vs the baseline;
* cold lazy ``get_data`` of the year (metadata only, Range requests) and its compute;
* warm (cached) ``get_data`` of a day, including opening and ``.load()`` — target < 50 ms — and
  the requests it made (0: no listing re-fetched or re-parsed within the TTL);
* warm lazy ``get_data`` of the year — target < 1 s to build;
* the inventory: cold build and warm load of the CDAWeb catalog of the site, and of the real AMDA
  tree (1.8 MB of XML) through the same persistence.

Run: ``python benchmarks/bench_fetch.py [--days 365] [--latency 0.0]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

import xspace
from xspace.fetch import inventory as inv
from xspace.testing.cdaweb_site import ramp_value, serve_cdaweb

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def timed(func):
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def _forget_in_memory() -> None:
    """Make the next request really cold: drop what the provider keeps in memory between calls."""
    from xspace.fetch.providers import cdaweb

    getattr(cdaweb, "_REFS", {}).clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xspace-bench-fetch-"))
    try:
        t_build, site = timed(lambda: serve_cdaweb(root=work / "archive", start="2020-01-01", days=args.days,
                                                   real_files=True, datasets=["XS_TEST_1MIN"]))
        with site:
            site.faults.latency = args.latency
            files = [f for f in site.info["datasets"]["XS_TEST_1MIN"]["files"]]
            urls = [site.url + f["path"] for f in files]
            nbytes = sum(f["length"] for f in files)
            print(f"archive: {len(files)} daily files, {nbytes / 1e6:.1f} MB, generated in {t_build:.1f} s; "
                  f"latency {args.latency * 1000:.0f} ms/request")

            sess = requests.Session()
            t_seq, _ = timed(lambda: [sess.get(u).content for u in urls])

            def grab(u):
                with requests.Session() as s:
                    return len(s.get(u).content)

            with ThreadPoolExecutor(4) as pool:
                t_par, _ = timed(lambda: list(pool.map(grab, urls)))
            raw_seq, raw_par = nbytes / t_seq / 1e6, nbytes / t_par / 1e6
            print(f"baseline requests, sequential: {t_seq:.2f} s ({raw_seq:.0f} MB/s); "
                  f"4 threads: {t_par:.2f} s ({raw_par:.0f} MB/s)")

            year0 = np.datetime64("2020-01-01", "ns")
            spans = {"day": np.timedelta64(1, "D"), "month": np.timedelta64(31, "D"),
                     "year": np.timedelta64(args.days, "D")}
            for label, span in spans.items():
                _forget_in_memory()
                cache = work / f"cache-{label}"
                with xspace.set_options(cdaweb_url=site.url, cache_dir=cache, progress=False):
                    t, ds = timed(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", year0, year0 + span, load=True))
                got = sum(p.stat().st_size for p in cache.rglob("xs_test_1min_2*.cdf"))
                assert ds.sizes["Epoch"] == span // np.timedelta64(1, "m")
                assert np.array_equal(ds["ramp"].values, ramp_value(ds["Epoch"].values))
                print(f"cold get_data(load=True) of a {label:<5}: {t:7.3f} s, {got / t / 1e6:6.1f} MB/s "
                      f"= {got / t / 1e6 / raw_par:.2f} x raw 4-thread throughput, {ds.sizes['Epoch']} records")

            _forget_in_memory()
            cache = work / "cache-lazy"
            with xspace.set_options(cdaweb_url=site.url, cache_dir=cache, progress=False):
                site.reset_counts()
                t_lazy, lazy = timed(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", year0, year0 + spans["year"]))
                n_meta = site.count("/pub/data/")
                t_comp, ramp = timed(lambda: lazy["ramp"].values)
                assert np.array_equal(ramp, ramp_value(lazy["Epoch"].values))
                print(f"cold lazy get_data of the year: build {t_lazy:.2f} s ({n_meta} Range requests, no file "
                      f"downloaded), compute {t_comp:.2f} s")

                site.reset_counts()
                d0 = year0 + np.timedelta64(min(args.days - 1, 152), "D")
                day = (d0, d0 + np.timedelta64(1, "D"))
                xspace.get_data("cdaweb/XS_TEST_1MIN", *day).load()  # orig_data answer cached
                site.reset_counts()
                warm = []
                for _ in range(20):
                    t, _ = timed(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", *day).load())
                    warm.append(t)
                print(f"warm get_data of a day (+ .load()): median {np.median(warm) * 1000:.1f} ms, "
                      f"best {min(warm) * 1000:.1f} ms, {site.count('')} requests")
                site.reset_counts()
                t_mem, _ = timed(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", year0, year0 + spans["year"]))
                _forget_in_memory()  # as in a new process: every file parsed again from the disk cache
                t_wy, wy = timed(lambda: xspace.get_data("cdaweb/XS_TEST_1MIN", year0, year0 + spans["year"]))
                print(f"warm lazy get_data of the year: build {t_wy * 1000:.0f} ms from the disk cache, "
                      f"{t_mem * 1000:.0f} ms with the files' metadata in memory "
                      f"({wy.sizes['Epoch']} records, {len(wy['ramp'].data.chunks[0])} chunks), "
                      f"{site.count('')} requests")

            icache = work / "cache-inventory"
            with xspace.set_options(cdaweb_url=site.url, cache_dir=icache):
                from xspace.fetch.providers import cdaweb

                t_cold, root = timed(cdaweb.inventory)
                n_ds = sum(1 for n in root.walk() if n.kind == "dataset")
                t_warm, _ = timed(cdaweb.inventory)
                print(f"CDAWeb inventory ({n_ds} datasets): cold build {t_cold * 1000:.1f} ms, "
                      f"warm load {t_warm * 1000:.1f} ms")
            amda_xml = SHARED / "cdf" / "cdaweb_obsdatatree.xml"
            if amda_xml.exists():
                from xspace.testing import LocalServer

                folder = work / "amda"
                folder.mkdir()
                shutil.copy(amda_xml, folder / "obsdatatree.xml")
                with LocalServer(root=folder) as srv, xspace.set_options(cache_dir=work / "cache-amda"):
                    url = srv.url + "/obsdatatree.xml"
                    t_cold, tree = timed(lambda: inv.cached_tree("amda-bench", url, inv.amda_tree_to_node,
                                                                 kind="xml"))
                    n_par = sum(1 for n in tree.walk() if n.kind == "parameter")
                    t_warm, _ = timed(lambda: inv.cached_tree("amda-bench", url, inv.amda_tree_to_node,
                                                              kind="xml"))
                    print(f"AMDA inventory (real tree, {n_par} parameters): cold build {t_cold * 1000:.0f} ms, "
                          f"warm load {t_warm * 1000:.0f} ms, {srv.count('')} request(s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
