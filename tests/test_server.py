"""xspace.testing.LocalServer: a real HTTP server on 127.0.0.1, checked with requests, urllib and raw sockets."""

from __future__ import annotations

import email.utils
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from xspace.testing import LocalServer, Reply, Request
from xspace.testing.server import apache_size, directory_listing

CDF_NAME = "ac_k2_mfi_20220101_v03.cdf"
CDF_MAGIC = b"\xcd\xf3\x00\x01"  # CDF version 3 magic number


@pytest.fixture
def site(tmp_path, cdf_dir):
    """A small archive: real CDFs in pub/data/ace/, a sub-folder, a file with a space in its name."""
    root = tmp_path / "site"
    ace = root / "pub" / "data" / "ace"
    ace.mkdir(parents=True)
    for name in (CDF_NAME, "ac_h2_sis_20101105_v06.cdf"):
        shutil.copy(cdf_dir / name, ace / name)
    (ace / "older").mkdir()
    (root / "pub" / "note file.txt").write_bytes(b"a note\n")
    (root / "pub" / ".hidden").write_bytes(b"secret")
    # fixed modification times so listings and Last-Modified are known exactly
    os.utime(ace / CDF_NAME, (1641081600, 1641081600))  # 2022-01-02 00:00:00 UTC
    os.utime(ace / "ac_h2_sis_20101105_v06.cdf", (1289001660, 1289001660))  # 2010-11-06 00:01:00 UTC
    os.utime(ace / "older", (1600000000, 1600000000))  # 2020-09-13 12:26:40 UTC
    return root


@pytest.fixture
def srv(site):
    with LocalServer(site) as server:
        yield server


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def cdf_url(srv):
    return f"{srv.url}/pub/data/ace/{CDF_NAME}"


# ----------------------------------------------------------------------------------------------
# static files
# ----------------------------------------------------------------------------------------------


def test_get_real_cdf_bytes_and_headers(srv, session, cdf_dir):
    expected = (cdf_dir / CDF_NAME).read_bytes()
    r = session.get(cdf_url(srv))
    assert r.status_code == 200
    assert r.content == expected
    assert r.content[:4] == CDF_MAGIC
    assert r.headers["Content-Length"] == str(len(expected)) == "31252"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Type"] == "application/x-cdf"
    assert r.headers["Last-Modified"] == "Sun, 02 Jan 2022 00:00:00 GMT"
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    # the same file answers with the same validator; a different file with another one
    assert session.get(cdf_url(srv)).headers["ETag"] == etag
    other = session.head(f"{srv.url}/pub/data/ace/ac_h2_sis_20101105_v06.cdf").headers["ETag"]
    assert other != etag


def test_urllib_client(srv, cdf_dir):
    with urllib.request.urlopen(cdf_url(srv)) as resp:
        assert resp.status == 200
        assert resp.read() == (cdf_dir / CDF_NAME).read_bytes()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(srv.url + "/pub/data/missing.cdf")
    assert info.value.code == 404


def test_etag_changes_when_file_changes(srv, session, site):
    path = site / "pub" / "data" / "ace" / CDF_NAME
    first = session.head(cdf_url(srv)).headers["ETag"]
    os.utime(path, (1641081601, 1641081601))
    second = session.head(cdf_url(srv))
    assert second.headers["ETag"] != first
    assert second.headers["Last-Modified"] == "Sun, 02 Jan 2022 00:00:01 GMT"


def test_head(srv, session):
    r = session.head(cdf_url(srv))
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Length"] == "31252"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert srv.counts[f"HEAD /pub/data/ace/{CDF_NAME}"] == 1
    assert srv.count(CDF_NAME, method="HEAD") == 1
    assert srv.count(CDF_NAME) == 0  # default method is GET


def test_ranges(srv, session, cdf_dir):
    data = (cdf_dir / CDF_NAME).read_bytes()
    size = len(data)
    r = session.get(cdf_url(srv), headers={"Range": "bytes=0-3"})
    assert r.status_code == 206
    assert r.content == CDF_MAGIC
    assert r.headers["Content-Range"] == f"bytes 0-3/{size}"
    assert r.headers["Content-Length"] == "4"

    r = session.get(cdf_url(srv), headers={"Range": "bytes=1000-"})
    assert r.status_code == 206 and r.content == data[1000:]
    assert r.headers["Content-Range"] == f"bytes 1000-{size - 1}/{size}"

    r = session.get(cdf_url(srv), headers={"Range": "bytes=-100"})
    assert r.status_code == 206 and r.content == data[-100:]

    r = session.get(cdf_url(srv), headers={"Range": f"bytes=31000-{size + 500}"})  # clipped to the end
    assert r.status_code == 206 and r.content == data[31000:]
    assert r.headers["Content-Range"] == f"bytes 31000-{size - 1}/{size}"

    r = session.get(cdf_url(srv), headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{size}"

    # several ranges and malformed ranges: the whole file (RFC 9110 allows ignoring Range)
    for header in ("bytes=0-3,10-20", "bytes=abc", "items=0-3"):
        r = session.get(cdf_url(srv), headers={"Range": header})
        assert r.status_code == 200 and r.content == data

    # If-Range: a matching validator gives the range, a stale one the whole file
    etag = r.headers["ETag"]
    r = session.get(cdf_url(srv), headers={"Range": "bytes=0-3", "If-Range": etag})
    assert r.status_code == 206 and r.content == CDF_MAGIC
    r = session.get(cdf_url(srv), headers={"Range": "bytes=0-3", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == data
    r = session.get(cdf_url(srv), headers={"Range": "bytes=0-3", "If-Range": "Sun, 02 Jan 2022 00:00:00 GMT"})
    assert r.status_code == 206

    r = session.head(cdf_url(srv), headers={"Range": "bytes=4-11"})
    assert r.status_code == 206 and r.headers["Content-Length"] == "8" and r.content == b""


def test_conditional_get(srv, session):
    first = session.get(cdf_url(srv))
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    r = session.get(cdf_url(srv), headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == etag
    r = session.get(cdf_url(srv), headers={"If-None-Match": f'"other", W/{etag}'})
    assert r.status_code == 304
    r = session.get(cdf_url(srv), headers={"If-None-Match": '"other"'})
    assert r.status_code == 200 and len(r.content) == 31252

    r = session.get(cdf_url(srv), headers={"If-Modified-Since": last_modified})
    assert r.status_code == 304
    r = session.get(cdf_url(srv), headers={"If-Modified-Since": "Mon, 03 Jan 2022 00:00:00 GMT"})
    assert r.status_code == 304
    r = session.get(cdf_url(srv), headers={"If-Modified-Since": "Sat, 01 Jan 2022 23:59:59 GMT"})
    assert r.status_code == 200 and len(r.content) == 31252
    # If-None-Match takes precedence over If-Modified-Since
    r = session.get(cdf_url(srv), headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified})
    assert r.status_code == 200
    # the connection stays usable after 304s (no body was expected, none was sent)
    assert session.get(cdf_url(srv)).status_code == 200


def test_404_page(srv, session):
    r = session.get(srv.url + "/pub/data/nothing_here.cdf")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<title>404 Not Found</title>" in r.text
    assert "/pub/data/nothing_here.cdf" in r.text
    assert srv.counts["GET /pub/data/nothing_here.cdf"] == 1
    assert session.get(srv.url + "/pub/.hidden/x").status_code == 404


def test_no_escape_from_root(srv, site):
    (site.parent / "outside.txt").write_bytes(b"outside")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/pub/../../outside.txt")
    resp = conn.getresponse()
    assert resp.status == 404
    resp.read()
    conn.request("GET", "/pub/%2e%2e/%2e%2e/outside.txt")
    assert conn.getresponse().status == 404
    conn.close()


def test_method_not_allowed_on_static(srv, session):
    r = session.post(cdf_url(srv), data=b"x")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"


# ----------------------------------------------------------------------------------------------
# directory listings
# ----------------------------------------------------------------------------------------------

ROW = re.compile(r'<a href="([^"?/][^"]*)">([^<]+)</a></td><td align="right">(\d{4}-\d\d-\d\d \d\d:\d\d)\s*</td>'
                 r'<td align="right">\s*([^<]*?)\s*</td>')


def test_listing_table(srv, session):
    r = session.get(srv.url + "/pub/data/ace/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<title>Index of /pub/data/ace</title>" in r.text
    assert "<h1>Index of /pub/data/ace</h1>" in r.text
    assert '<a href="/pub/data/">Parent Directory</a>' in r.text
    rows = ROW.findall(r.text)
    assert rows == [
        ("ac_h2_sis_20101105_v06.cdf", "ac_h2_sis_20101105_v06.cdf", "2010-11-06 00:01", "95K"),
        (CDF_NAME, CDF_NAME, "2022-01-02 00:00", "31K"),
        ("older/", "older/", "2020-09-13 12:26", "-"),
    ]


def test_listing_hides_dotfiles_and_quotes_names(srv, session):
    text = session.get(srv.url + "/pub/").text
    assert '<a href="note%20file.txt">note file.txt</a>' in text
    assert '<a href="data/">data/</a>' in text
    assert ".hidden" not in text
    assert session.get(srv.url + "/pub/note%20file.txt").content == b"a note\n"
    root = session.get(srv.url + "/").text
    assert "<title>Index of /</title>" in root and '<a href="pub/">pub/</a>' in root
    assert "Parent Directory" not in root


def test_listing_redirects_to_trailing_slash(srv, session):
    r = session.get(srv.url + "/pub/data/ace", allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["Location"] == srv.url + "/pub/data/ace/"
    r = session.get(srv.url + "/pub/data/ace")
    assert r.status_code == 200 and r.url == srv.url + "/pub/data/ace/"


def test_listing_pre_and_exact_sizes(site):
    with LocalServer(site, listing="pre", listing_sizes="bytes") as server:
        text = requests.get(server.url + "/pub/data/ace/").text
    assert "<pre>" in text and "<table>" not in text
    line = next(line for line in text.splitlines() if CDF_NAME + "</a>" in line)
    assert re.search(rf'<a href="{CDF_NAME}">{CDF_NAME}</a>\s+2022-01-02 00:00\s+31252\s*$', line)
    assert '<a href="older/">older/</a>' in text


def test_apache_sizes():
    assert [apache_size(n) for n in (0, 5, 972, 973, 1024, 10189, 31252, 97388, 867520, 1818005)] == [
        "  0 ", "  5 ", "972 ", "1.0K", "1.0K", " 10K", " 31K", " 95K", "847K", "1.7M"]
    assert apache_size(3 * 2**30 + 2**29) == "3.5G"


def test_directory_listing_function(site):
    page = directory_listing(site / "pub" / "data" / "ace", "/pub/data/ace/", sizes="bytes")
    assert ('<a href="ac_h2_sis_20101105_v06.cdf">ac_h2_sis_20101105_v06.cdf</a></td>'
            '<td align="right">2010-11-06 00:01  </td><td align="right">97388</td>') in page


# ----------------------------------------------------------------------------------------------
# mounted handlers
# ----------------------------------------------------------------------------------------------


def test_mount_request_fields_and_longest_prefix(srv, session):
    seen: list[Request] = []

    def outer(req):
        seen.append(req)
        return Reply(200, "outer")

    def inner(req):
        seen.append(req)
        return Reply.json({"prefix": req.prefix, "subpath": req.subpath, "query": req.query,
                           "token": req.headers.get("x-token"), "body": req.body.decode()}, status=201)

    srv.mount("/WS", outer)
    srv.mount("/WS/cdasr/1/", inner)
    r = session.post(srv.url + "/WS/cdasr/1/dataviews/sp_phys/a%20b?x=1&y=two%20words&x=3",
                     data=b"payload", headers={"X-Token": "abc"})
    assert r.status_code == 201
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"prefix": "/WS/cdasr/1", "subpath": "/dataviews/sp_phys/a b",
                        "query": {"x": "3", "y": "two words"}, "token": "abc", "body": "payload"}
    assert seen[-1].path == "/WS/cdasr/1/dataviews/sp_phys/a b"
    assert seen[-1].method == "POST"
    assert seen[-1].url == srv.url + "/WS/cdasr/1/dataviews/sp_phys/a%20b?x=1&y=two%20words&x=3"

    assert session.get(srv.url + "/WS/cdasr/10/x").text == "outer"  # whole segments only
    assert session.get(srv.url + "/WS").text == "outer"
    assert seen[-1].subpath == "/"
    # everything else still comes from the static root
    assert session.get(cdf_url(srv)).content[:4] == CDF_MAGIC
    assert srv.counts["POST /WS/cdasr/1/dataviews/sp_phys/a b?x=1&y=two words&x=3"] == 1

    srv.unmount("/WS")
    assert session.get(srv.url + "/WS/x").status_code == 404


def test_mount_chunked_body(srv, session):
    def stream(req):
        return Reply(200, (f"line {i}\n".encode() for i in range(1000)), content_type="text/csv")

    srv.mount("/hapi/data", stream)
    r = session.get(srv.url + "/hapi/data?id=x")
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in r.headers
    assert r.text == "".join(f"line {i}\n" for i in range(1000))
    with urllib.request.urlopen(srv.url + "/hapi/data") as resp:
        assert resp.read().count(b"\n") == 1000
    # HEAD: headers only, the generator is never iterated
    r = session.head(srv.url + "/hapi/data")
    assert r.status_code == 200 and r.content == b""


def test_mount_reply_file_and_folder(srv, session, site, cdf_dir):
    path = site / "pub" / "data" / "ace" / CDF_NAME
    srv.mount("/files", lambda req: Reply.file(path, req))
    r = session.get(srv.url + "/files/anything", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == CDF_MAGIC
    etag = r.headers["ETag"]
    assert session.get(srv.url + "/files/x", headers={"If-None-Match": etag}).status_code == 304
    assert session.head(srv.url + "/files/x").headers["Content-Length"] == "31252"

    srv.mount("/archive", cdf_dir)  # a folder mounted as static files
    r = session.get(srv.url + "/archive/a_cdf.cdf")
    assert r.content == (cdf_dir / "a_cdf.cdf").read_bytes()
    assert "<title>Index of /archive</title>" in session.get(srv.url + "/archive/").text


def test_mount_handler_errors_give_500(srv, session):
    srv.mount("/boom", lambda req: 1 / 0)
    srv.mount("/wrong", lambda req: "not a Reply")
    r = session.get(srv.url + "/boom")
    assert r.status_code == 500 and "ZeroDivisionError" in r.text
    assert session.get(srv.url + "/wrong").status_code == 500
    assert len(srv.errors) == 2 and "ZeroDivisionError" in srv.errors[0]


def test_failing_generator_aborts_the_chunked_stream(srv, session):
    def rows():
        yield b"first row\n"
        raise RuntimeError("generator failed")

    srv.mount("/stream", lambda req: Reply(200, rows()))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(srv.url + "/stream")
    assert "generator failed" in srv.errors[-1]
    assert session.get(cdf_url(srv)).status_code == 200


def test_reply_defaults():
    assert Reply(200, "é").body == "é".encode()
    assert Reply(200, b"x").headers["content-type"] == "application/octet-stream"
    assert Reply(200, b"x", {"content-type": "text/csv"}).headers["Content-Type"] == "text/csv"
    assert Reply.error(503).status == 503
    assert Reply(200, iter([b"a"])).chunked and not Reply(200, b"a").chunked
    with pytest.raises(ValueError):
        LocalServer().mount("no-slash", lambda req: Reply())


# ----------------------------------------------------------------------------------------------
# counting
# ----------------------------------------------------------------------------------------------


def test_counting_under_concurrency(srv):
    srv.mount("/api", lambda req: Reply(200, req.query.get("i", "")))
    urls = [cdf_url(srv)] * 100 + [f"{srv.url}/api/x?i={i % 5}" for i in range(100)]

    def fetch(url):
        with requests.get(url) as r:
            return r.status_code, len(r.content)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, urls))
    assert results[:100] == [(200, 31252)] * 100
    assert results[100:] == [(200, 1)] * 100
    assert srv.count(CDF_NAME) == 100
    assert srv.count("/api/x") == 100
    assert srv.counts["GET /api/x?i=3"] == 20
    assert srv.count("i=4") == 20
    assert sum(srv.counts.values()) == 200
    assert srv.count("", method=None) == 200
    assert len(srv.requests("/api/x?i=0")) == 20
    srv.reset_counts()
    assert srv.counts == {} and srv.count(CDF_NAME) == 0 and srv.requests() == []


def test_requests_history_shows_client_headers(srv, session):
    session.get(cdf_url(srv), headers={"User-Agent": "xspace-test/1.0", "If-None-Match": '"abc"'})
    last = srv.requests(CDF_NAME)[-1]
    assert last.headers["user-agent"] == "xspace-test/1.0"
    assert last.headers["If-None-Match"] == '"abc"'
    assert last.method == "GET" and last.path == f"/pub/data/ace/{CDF_NAME}"


# ----------------------------------------------------------------------------------------------
# faults
# ----------------------------------------------------------------------------------------------


def test_fault_latency(srv, session):
    session.get(cdf_url(srv))  # warm the connection
    srv.faults.latency = 0.3
    t0 = time.perf_counter()
    r = session.get(cdf_url(srv))
    assert time.perf_counter() - t0 >= 0.3 and r.status_code == 200
    srv.faults.clear()
    assert srv.faults.latency == 0.0
    t0 = time.perf_counter()
    session.get(cdf_url(srv))
    assert time.perf_counter() - t0 < 0.25


def test_fault_status_times_and_retry_after(srv, session, cdf_dir):
    rule = srv.faults.add(CDF_NAME, status=503, times=2, retry_after=7)
    statuses = []
    for _ in range(3):
        r = session.get(cdf_url(srv))
        statuses.append((r.status_code, r.headers.get("Retry-After")))
    assert statuses == [(503, "7"), (503, "7"), (200, None)]
    assert r.content == (cdf_dir / CDF_NAME).read_bytes()
    assert rule.hits == 2 and rule.remaining == 0
    assert srv.count(CDF_NAME) == 3  # faulted requests are counted too

    srv.faults.add("/pub/data", status=429, times=1, retry_after=1)
    r = session.get(cdf_url(srv))
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert session.get(cdf_url(srv)).status_code == 200

    # other paths are not affected; a status fault without retry_after sends no Retry-After
    srv.faults.add("nothing-matches-this", status=500, times=1)
    srv.faults.add("note file", status=500, times=1)
    assert session.get(cdf_url(srv)).status_code == 200
    r = session.get(srv.url + "/pub/note%20file.txt")
    assert r.status_code == 500 and "Retry-After" not in r.headers


def test_fault_status_permanent_and_on_handlers(srv, session):
    calls = []
    srv.mount("/api", lambda req: calls.append(req) or Reply(200, "ok"))
    srv.faults.add("/api", status=502, times=None)
    assert [session.get(srv.url + "/api/q").status_code for _ in range(4)] == [502] * 4
    assert calls == []  # the handler is not called for a status fault
    assert srv.count("/api/q") == 4
    srv.faults.clear()
    assert session.get(srv.url + "/api/q").text == "ok"
    with pytest.raises(ValueError):
        srv.faults.add("/api", times=0)


def test_fault_truncate_with_length(srv, session, cdf_dir):
    srv.faults.truncate(CDF_NAME, times=1, keep=0.5)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(cdf_url(srv))
    # the client sees exactly the kept bytes, then the connection closes
    srv.faults.truncate(CDF_NAME, times=1, keep=1000)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", f"/pub/data/ace/{CDF_NAME}")
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == "31252"
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert info.value.partial == (cdf_dir / CDF_NAME).read_bytes()[:1000]
    conn.close()
    # urllib sees a short read too
    srv.faults.truncate(CDF_NAME, times=1)
    with pytest.raises(http.client.IncompleteRead):
        urllib.request.urlopen(cdf_url(srv)).read()
    assert session.get(cdf_url(srv)).status_code == 200  # used up
    assert srv.count(CDF_NAME) == 4


def test_fault_truncate_without_length(srv, session, cdf_dir):
    srv.faults.truncate(CDF_NAME, times=1, keep=0.25, length_header=False)
    r = session.get(cdf_url(srv))
    assert r.status_code == 200
    assert "Content-Length" not in r.headers
    assert r.content == (cdf_dir / CDF_NAME).read_bytes()[:31252 // 4]  # looks complete to the client
    # HEAD is not affected and does not use up the rule
    srv.faults.truncate(CDF_NAME, times=1, keep=10, length_header=False)
    assert session.head(cdf_url(srv)).headers["Content-Length"] == "31252"
    assert len(session.get(cdf_url(srv)).content) == 10


def test_fault_truncate_on_handler(srv, session):
    srv.mount("/gen", lambda req: Reply(200, (b"x" * 100 for _ in range(10))))
    srv.faults.truncate("/gen", keep=0.5, length_header=False)
    assert session.get(srv.url + "/gen").content == b"x" * 500


def test_fault_soft_error(srv, session, cdf_dir):
    srv.faults.soft_error(CDF_NAME, times=1)
    r = session.get(cdf_url(srv))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text and r.content[:4] != CDF_MAGIC
    assert r.content.lstrip().lower().startswith(b"<!doctype html")
    assert session.get(cdf_url(srv)).content == (cdf_dir / CDF_NAME).read_bytes()


def test_fault_abort_chunked(srv, session, cdf_dir):
    srv.faults.abort_chunked(CDF_NAME, times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(cdf_url(srv))
    srv.mount("/hapi/data", lambda req: Reply(200, (b"2020-01-01T00:00:0%dZ,1.0\n" % i for i in range(8))))
    srv.faults.abort_chunked("/hapi/data", times=1, keep=0.5)
    with session.get(srv.url + "/hapi/data", stream=True) as r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        got = b""
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in r.iter_content(None):
                got += piece
    assert got == b"".join(b"2020-01-01T00:00:0%dZ,1.0\n" % i for i in range(8))[:100]
    # used up: the next request works
    assert session.get(cdf_url(srv)).content == (cdf_dir / CDF_NAME).read_bytes()
    assert session.get(srv.url + "/hapi/data").text.count("\n") == 8


def test_fault_drop(srv, session):
    srv.faults.drop(CDF_NAME, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(cdf_url(srv))
    assert session.get(cdf_url(srv)).status_code == 200
    assert srv.count(CDF_NAME) == 2


def test_fault_stall_triggers_client_timeout(srv, session):
    srv.faults.stall(CDF_NAME, 1.0, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(cdf_url(srv), timeout=0.3)
    r = session.get(cdf_url(srv), timeout=5)
    assert r.status_code == 200 and r.content[:4] == CDF_MAGIC


def test_faults_first_matching_rule_wins(srv, session):
    srv.faults.add("ace", status=503, times=1)
    srv.faults.soft_error("ace", times=1)
    r1, r2, r3 = (session.get(cdf_url(srv)) for _ in range(3))
    assert (r1.status_code, r2.status_code, r3.status_code) == (503, 200, 200)
    assert r2.headers["Content-Type"].startswith("text/html")
    assert r3.content[:4] == CDF_MAGIC


# ----------------------------------------------------------------------------------------------
# life cycle: down/up, stop, context manager, other processes
# ----------------------------------------------------------------------------------------------


def test_down_and_up(srv, session):
    assert session.get(cdf_url(srv)).status_code == 200  # a kept-alive connection in the pool
    port, url = srv.port, srv.url
    srv.down()
    assert not srv.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(cdf_url(srv))
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(cdf_url(srv))
    srv.up()
    assert srv.running and srv.port == port and srv.url == url
    assert session.get(cdf_url(srv)).status_code == 200
    assert srv.count(CDF_NAME) == 2  # refused connections never reached the server


def test_stop_does_not_hang_on_idle_or_busy_connections(site):
    server = LocalServer(site).start()
    idle = socket.create_connection(("127.0.0.1", server.port))  # connected, sends nothing
    half = socket.create_connection(("127.0.0.1", server.port))
    half.sendall(b"GET /pub/ HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    with requests.Session() as s:
        assert s.get(server.url + "/pub/").status_code == 200  # a kept-alive connection
        time.sleep(0.1)
        t0 = time.perf_counter()
        server.stop()
        assert time.perf_counter() - t0 < 2
    idle.close()
    half.close()
    server.stop()  # twice is fine


def test_context_manager_and_url():
    server = LocalServer()
    with pytest.raises(RuntimeError):
        server.url
    with server as s:
        assert s is server and re.fullmatch(r"http://127\.0\.0\.1:\d+", s.url)
        assert requests.get(s.url + "/anything").status_code == 404  # no root: only mounts
    assert not server.running


def test_another_process_can_fetch(srv, cdf_dir):
    code = ("import sys, urllib.request; "
            "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())")
    out = subprocess.run([sys.executable, "-c", code, cdf_url(srv)], capture_output=True, timeout=30, check=True)
    assert out.stdout == (cdf_dir / CDF_NAME).read_bytes()
    assert srv.count(CDF_NAME) == 1


def test_command_line_server(site, cdf_dir):
    proc = subprocess.Popen([sys.executable, "-m", "xspace.testing.server", str(site)], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert requests.get(f"{url}/pub/data/ace/{CDF_NAME}").content == (cdf_dir / CDF_NAME).read_bytes()
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_date_header_is_rfc_format(srv, session):
    r = session.get(cdf_url(srv))
    parsed = email.utils.parsedate_to_datetime(r.headers["Last-Modified"])
    assert parsed.timestamp() == 1641081600
    assert r.headers["Server"].startswith("Apache")
