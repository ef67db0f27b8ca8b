"""The cache and the HTTP client (issue 6 §3) against a real local HTTP server with fault switches."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import xspace
from conftest import CDF_DIR
from xspace.errors import CacheError, FetchError, OfflineError
from xspace.fetch import _http, cache
from xspace.testing import LocalServer, Reply

REAL = "ac_k2_mfi_20220101_v03.cdf"
REAL2 = "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf"


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "archive"
    (root / "pub" / "data").mkdir(parents=True)
    for name in (REAL, REAL2, "ge_k0_cpi_19921231_v02.cdf", "a_compressed_cdf.cdf"):
        shutil.copy(CDF_DIR / name, root / "pub" / "data" / name)
    with LocalServer(root=root) as srv:
        srv.root_path = root
        yield srv


@pytest.fixture
def tmp_cache(tmp_path):
    with xspace.set_options(cache_dir=tmp_path / "cache", fetch_timeout=20.0):
        yield tmp_path / "cache"


def _url(srv, name=REAL):
    return f"{srv.url}/pub/data/{name}"


def _leftovers(folder: Path):
    """Files in the cache folder that are not finished entries (temporaries, locks)."""
    return [p for p in folder.rglob("*") if p.is_file() and (p.suffix in (".tmp", ".lock", ".new")
                                                             or p.name.startswith("tmp"))]


def test_immutable_hit_makes_no_request(archive, tmp_cache):
    p = cache.fetch_file(_url(archive))
    assert p.read_bytes() == (CDF_DIR / REAL).read_bytes()
    assert p == cache.path_for(_url(archive))
    for _ in range(5):
        assert cache.fetch_file(_url(archive)) == p
    assert archive.count(REAL) == 1
    ds = xspace.open_cdf(p)
    assert ds["BGSEc"].shape == (24, 3)


def test_revalidation_304_extends_ttl_and_new_content_replaces(archive, tmp_cache):
    url = _url(archive, REAL)
    first = cache.fetch_bytes(url, kind="cdf", ttl=3600)
    assert cache.fetch_bytes(url, kind="cdf", ttl=3600) == first
    assert archive.count(REAL) == 1  # fresh: no request
    cache.fetch_bytes(url, kind="cdf", ttl=0)  # stale: conditional GET -> 304
    assert archive.count(REAL) == 2
    log = [k for k in archive.counts if REAL in k]
    assert log  # counted
    meta = cache._read_meta(cache.path_for(url))
    assert meta["etag"] and meta["last_modified"]
    # the server's copy changes: the next revalidation downloads the new content
    target = archive.root_path / "pub" / "data" / REAL
    new = (CDF_DIR / REAL2).read_bytes()
    target.write_bytes(new)
    os.utime(target, (time.time() + 5, time.time() + 5))
    assert cache.fetch_bytes(url, kind="cdf", ttl=0) == new
    assert cache.fetch_bytes(url, kind="cdf", ttl=3600) == new
    assert archive.count(REAL) == 3


def test_304_answer_really_sent(archive, tmp_cache):
    url = _url(archive, REAL)
    cache.fetch_bytes(url, kind="cdf", ttl=0)
    meta = cache._read_meta(cache.path_for(url))
    r = _http.request("GET", url, headers={"If-None-Match": meta["etag"]})
    assert r.status_code == 304 and r.content == b""


@pytest.mark.parametrize("length_header", [True, False])
def test_truncated_body_is_retried_and_never_cached(archive, tmp_cache, length_header):
    url = _url(archive)
    archive.faults.truncate(REAL, times=1, keep=0.5, length_header=length_header)
    p = cache.fetch_file(url, expected_size=None if length_header else (CDF_DIR / REAL).stat().st_size)
    assert p.read_bytes() == (CDF_DIR / REAL).read_bytes()
    assert archive.count(REAL) == 2
    # always truncated: an error, nothing in the cache
    archive.faults.truncate(REAL2, times=None, keep=0.3, length_header=length_header)
    with xspace.set_options(fetch_timeout=3.0):
        with pytest.raises(FetchError, match=REAL2):
            cache.fetch_file(_url(archive, REAL2))
    assert not cache.path_for(_url(archive, REAL2)).exists()
    assert _leftovers(tmp_cache) == []


def test_truncated_cdf_without_length_detected_by_content(archive, tmp_cache):
    # no Content-Length, no announced size: the CDF's own end-of-file offset betrays the cut
    archive.faults.truncate(REAL2, times=None, keep=0.6, length_header=False)
    with xspace.set_options(fetch_timeout=2.0), pytest.raises(FetchError, match="truncated"):
        cache.fetch_file(_url(archive, REAL2))
    assert not cache.path_for(_url(archive, REAL2)).exists()
    archive.faults.clear()
    assert cache.fetch_file(_url(archive, REAL2)).stat().st_size == (CDF_DIR / REAL2).stat().st_size


def test_soft_error_html_rejected_and_not_cached(archive, tmp_cache):
    archive.faults.soft_error(REAL, times=1)
    with pytest.raises(FetchError, match="HTML"):
        cache.fetch_file(_url(archive))
    assert not cache.path_for(_url(archive)).exists()
    assert cache.fetch_file(_url(archive)).read_bytes()[:4] == b"\xcd\xf3\x00\x01"


def test_5xx_sequence_retried(archive, tmp_cache):
    archive.faults.add(REAL, status=503, times=2)
    p = cache.fetch_file(_url(archive))
    assert p.stat().st_size == (CDF_DIR / REAL).stat().st_size
    assert archive.count(REAL) == 3


def test_429_retry_after_honoured(archive, tmp_cache):
    archive.faults.add(REAL, status=429, times=1, retry_after=1)
    t0 = time.monotonic()
    cache.fetch_file(_url(archive))
    assert time.monotonic() - t0 >= 1.0
    assert archive.count(REAL) == 2


def test_retries_bounded_by_total_time(archive, tmp_cache):
    archive.faults.add(REAL, status=503, times=None, retry_after=5)
    t0 = time.monotonic()
    with xspace.set_options(fetch_timeout=2.0), pytest.raises(FetchError, match="fetch_timeout"):
        cache.fetch_file(_url(archive))
    assert time.monotonic() - t0 < 2.0
    assert not cache.path_for(_url(archive)).exists()


def test_aborted_chunked_stream_retried(tmp_cache):
    body = (CDF_DIR / REAL).read_bytes()
    with LocalServer() as srv:
        srv.mount("/stream.cdf", lambda req: Reply(body=iter([body[i:i + 4096] for i in range(0, len(body), 4096)])))
        srv.faults.abort_chunked("/stream.cdf", times=1)
        p = cache.fetch_file(srv.url + "/stream.cdf")
        assert p.read_bytes() == body
        assert srv.count("/stream.cdf") == 2


def test_http_errors_raise_and_are_not_cached(archive, tmp_cache):
    with pytest.raises(FetchError, match="404") as err:
        cache.fetch_file(_url(archive, "missing_v01.cdf"))
    assert err.value.status == 404
    assert not cache.path_for(_url(archive, "missing_v01.cdf")).exists()
    assert archive.count("missing_v01.cdf") == 1  # 4xx: not retried


def test_connection_refused_fails_at_once(archive, tmp_cache):
    url = _url(archive)
    archive.down()
    try:
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="refused"):
            cache.fetch_file(url)
        assert time.monotonic() - t0 < 1.0
    finally:
        archive.up()
    assert cache.fetch_file(url).exists()


def test_stale_entry_served_when_server_down(archive, tmp_cache):
    url = _url(archive)
    data = cache.fetch_bytes(url, kind="cdf")
    archive.down()
    try:
        with pytest.warns(cache.StaleWarning):
            assert cache.fetch_bytes(url, kind="cdf", ttl=0) == data
    finally:
        archive.up()


def test_offline_mode(archive, tmp_cache):
    url = _url(archive)
    cache.fetch_file(url)
    n = archive.count("/pub/data")
    with xspace.set_options(offline=True):
        assert cache.fetch_file(url).exists()
        assert cache.fetch_bytes(url, kind="cdf", ttl=0)[:4] == b"\xcd\xf3\x00\x01"  # stale is fine offline
        with pytest.raises(OfflineError, match=REAL2):
            cache.fetch_file(_url(archive, REAL2))
        with pytest.raises(OfflineError):
            _http.request("GET", url)
    assert archive.count("/pub/data") == n


def test_unreachable_network_switches_to_offline(tmp_cache, monkeypatch):
    import socket

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(_http, "_network_down_since", None)
    with pytest.raises(OfflineError, match="unreachable"):
        cache.fetch_file("https://cdaweb.example.invalid/pub/data/x_v01.cdf")
    # for a while every request is refused without touching the network
    with pytest.raises(OfflineError, match="unreachable"):
        _http.request("GET", "https://spdf.example.invalid/")
    down_since = _http._network_down_since
    assert down_since is not None
    monkeypatch.undo()  # real name resolution again, but the network still counts as down
    monkeypatch.setattr(_http, "_network_down_since", down_since)
    with LocalServer() as srv:  # a server on this machine is still reachable
        srv.mount("/ok", lambda req: Reply(body=b"yes"))
        assert _http.request("GET", srv.url + "/ok").content == b"yes"
    monkeypatch.setattr(_http, "_network_down_since", None)


def test_import_makes_no_network_request():
    code = (
        "import socket\n"
        "def boom(*a, **k):\n    raise SystemExit('network used at import')\n"
        "socket.socket.connect = boom\nsocket.create_connection = boom\nsocket.getaddrinfo = boom\n"
        "import xspace, xspace.fetch, xspace.fetch.cache\n"
        "xspace.fetch.provider_names()\nprint('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def _proc_fetch(cache_dir, urls, q):
    import xspace as xs
    from xspace.fetch import cache as c

    with xs.set_options(cache_dir=cache_dir):
        q.put([str(c.fetch_file(u)) for u in urls])


def test_threads_and_processes_download_each_file_once(archive, tmp_cache):
    archive.faults.latency = 0.2
    urls = [_url(archive, n) for n in (REAL, REAL2, "ge_k0_cpi_19921231_v02.cdf")]
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_proc_fetch, args=(str(tmp_cache), urls, q)) for _ in range(3)]
    for p in procs:
        p.start()
    results = []

    def worker():
        results.append([cache.fetch_file(u) for u in urls])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    archive.faults.latency = 0
    for name in (REAL, REAL2, "ge_k0_cpi_19921231_v02.cdf"):
        assert archive.count(name) == 1, name
    assert len(results) == 8 and all(len(r) == 3 for r in results)
    assert all(g == [str(p) for p in results[0]] for g in got)
    for p in results[0]:
        assert p.read_bytes() == (CDF_DIR / p.name).read_bytes()
    assert _leftovers(tmp_cache) == []


def test_lock_of_a_crashed_holder_is_broken(archive, tmp_cache):
    url = _url(archive)
    path = cache.path_for(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a process that no longer exists holds the lock
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    path.with_name(path.name + ".lock").write_text(f"{socket.gethostname()} {dead.pid} {time.time()}")
    t0 = time.monotonic()
    assert cache.fetch_file(url).exists()
    assert time.monotonic() - t0 < 5
    # an expired lock (not refreshed for LOCK_EXPIRY seconds) of another host is broken too
    url2 = _url(archive, REAL2)
    p2 = cache.path_for(url2)
    lock2 = p2.with_name(p2.name + ".lock")
    lock2.write_text("otherhost 1 0")
    old = time.time() - cache.LOCK_EXPIRY - 10
    os.utime(lock2, (old, old))
    assert cache.fetch_file(url2).exists()


def test_lock_wait_times_out_with_clear_error(tmp_cache):
    p = tmp_cache / "x" / "y.cdf"
    p.parent.mkdir(parents=True)
    p.with_name("y.cdf.lock").write_text(f"otherhost 1 {time.time()}")
    with pytest.raises(CacheError, match="lock"):
        with cache._locked(p, timeout=0.3):
            pass


def test_per_host_cap(tmp_cache):
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    body = (CDF_DIR / REAL).read_bytes()

    def handler(req):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return Reply(body=body)

    with LocalServer() as srv, xspace.set_options(max_connections_per_host=3):
        srv.mount("/files", handler)
        threads = [threading.Thread(target=cache.fetch_file, args=(f"{srv.url}/files/f{i}_v01.cdf",))
                   for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert srv.count("/files") == 10
    assert state["max"] == 3


def test_user_agent_sent(tmp_cache):
    seen = []
    with LocalServer() as srv:
        srv.mount("/ua", lambda req: (seen.append(req.headers.get("User-Agent")), Reply(body="{}"))[1])
        cache.fetch_bytes(srv.url + "/ua", kind="json")
    assert seen[0].startswith(f"xspace/{xspace.__version__}")


def test_content_checks(tmp_path):
    good = CDF_DIR / REAL
    cache.check_content(good, "cdf")
    cache.check_content(CDF_DIR / "a_compressed_cdf.cdf", "cdf")
    cache.check_content(CDF_DIR / "ge_k0_cpi_19921231_v02.cdf", "cdf")  # CDF 2.4
    cut = tmp_path / "cut.cdf"
    cut.write_bytes(good.read_bytes()[:20000])
    with pytest.raises(FetchError, match="truncated"):
        cache.check_content(cut, "cdf")
    cutz = tmp_path / "cutz.cdf"
    cutz.write_bytes((CDF_DIR / "a_compressed_cdf.cdf").read_bytes()[:3000])
    with pytest.raises(FetchError, match="truncated"):
        cache.check_content(cutz, "cdf")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2')
    with pytest.raises(FetchError, match="JSON"):
        cache.check_content(bad, "json")
    with pytest.raises(FetchError, match="XML"):
        cache.check_content(bad, "xml")


def test_every_real_cdf_passes_the_check():
    for p in sorted(CDF_DIR.glob("*.cdf")):
        cache.check_content(p, "cdf")


def test_verify_info_clear_and_cli(archive, tmp_cache):
    p = cache.fetch_file(_url(archive))
    cache.fetch_file(_url(archive, REAL2))
    i = cache.info()
    assert i["files"] == 2
    assert i["bytes"] == (CDF_DIR / REAL).stat().st_size + (CDF_DIR / REAL2).stat().st_size
    assert cache.verify() == []
    p.write_bytes(p.read_bytes()[:1000])  # corrupted behind our back
    problems = cache.verify()
    assert len(problems) == 1 and problems[0][0] == str(p)
    assert not p.exists()
    assert cache.fetch_file(_url(archive)).stat().st_size == (CDF_DIR / REAL).stat().st_size
    env = dict(os.environ, XSPACE_CACHE_DIR=str(tmp_cache))
    out = subprocess.run([sys.executable, "-m", "xspace.cli", "cache", "info"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "2 files" in out.stdout and str(tmp_cache) in out.stdout
    out = subprocess.run([sys.executable, "-m", "xspace.cli", "cache", "verify"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "0 problems" in out.stdout
    out = subprocess.run([sys.executable, "-m", "xspace.cli", "cache", "clear"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "removed 2 files" in out.stdout
    assert cache.info()["files"] == 0


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XSPACE_CACHE_DIR", str(tmp_path / "env-cache"))
    assert cache.cache_dir() == tmp_path / "env-cache"
    with xspace.set_options(cache_dir=tmp_path / "opt"):
        assert cache.cache_dir() == tmp_path / "opt"


def test_query_parameters_are_part_of_the_key(tmp_cache):
    with LocalServer() as srv:
        srv.mount("/q", lambda req: Reply(body='{"v": "%s"}' % req.query.get("v")))
        a = cache.fetch_bytes(srv.url + "/q", kind="json", params={"v": "1"})
        b = cache.fetch_bytes(srv.url + "/q", kind="json", params={"v": "2"})
    assert a == b'{"v": "1"}' and b == b'{"v": "2"}'
    assert cache.path_for(srv.url + "/q", {"v": "1"}) != cache.path_for(srv.url + "/q", {"v": "2"})


def _download_then_die(cache_dir, url):
    import xspace as xs
    from xspace.fetch import cache as c

    with xs.set_options(cache_dir=cache_dir):
        c.fetch_file(url)


def test_killed_download_leaves_no_entry(archive, tmp_cache, monkeypatch):
    url = _url(archive)
    archive.faults.stall(REAL, seconds=2)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_download_then_die, args=(str(tmp_cache), url))
    proc.start()
    deadline = time.monotonic() + 60
    while archive.count(REAL) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.kill()  # SIGKILL mid-download: no cleanup code runs
    proc.join()
    archive.faults.clear()
    path = cache.path_for(url)
    assert not path.exists()
    leftovers = [p for p in path.parent.iterdir()]
    assert any(p.name.endswith(".lock") for p in leftovers)  # the dead holder's lock
    assert cache.info()["files"] == 0  # a partial file is never an entry
    # the next process breaks the dead holder's lock and downloads the whole file
    assert cache.fetch_file(url).read_bytes() == (CDF_DIR / REAL).read_bytes()
    partial = [p for p in path.parent.iterdir() if cache._is_partial(p)]
    assert len(partial) == 1  # pooch's temporary file of the killed download
    monkeypatch.setattr(cache, "PARTIAL_AGE", 0.0)
    problems = cache.verify()
    assert [why for _, why in problems] == ["partial download left by an interrupted process"]
    assert not partial[0].exists() and path.exists()
