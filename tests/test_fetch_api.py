"""xspace.get_data as a whole (issue 6 §1): arguments, lists, virtual products, dask.distributed."""

from __future__ import annotations

import datetime as dt

import dask
import numpy as np
import pytest
import xarray as xr

import xspace
from xspace.errors import FetchError, InputError, ProductNotFound
from xspace.fetch.inventory import Node
from xspace.testing.cdaweb_site import ramp_value, serve_cdaweb
from conftest import CountingScheduler


@pytest.fixture(scope="module")
def site():
    with serve_cdaweb(days=3, real_files=False, datasets=["XS_TEST_1MIN"]) as s:
        yield s


@pytest.fixture
def env(site, tmp_path):
    site.reset_counts()
    with xspace.set_options(cdaweb_url=site.url, cache_dir=tmp_path / "cache"):
        yield site


def minutes(start, stop):
    return np.arange(np.datetime64(start, "ns"), np.datetime64(stop, "ns"), np.timedelta64(60, "s"))


def test_time_argument_forms_agree(env):
    ref = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T23:55", "2020-01-02T00:05")
    tz = dt.timezone(dt.timedelta(hours=2))
    forms = [
        (dt.datetime(2020, 1, 2, 1, 55, tzinfo=tz), dt.datetime(2020, 1, 2, 2, 5, tzinfo=tz)),
        (np.datetime64("2020-01-01T23:55"), np.datetime64("2020-01-02T00:05")),
        ("2020-01-01T23:55:00Z", "2020-01-02T00:05:00.000Z"),
        (dt.datetime(2020, 1, 1, 23, 55), dt.datetime(2020, 1, 2, 0, 5)),
    ]
    t = minutes("2020-01-01T23:55", "2020-01-02T00:05")
    np.testing.assert_array_equal(ref["Epoch"].values, t)
    np.testing.assert_array_equal(ref.values, ramp_value(t))
    for a, b in forms:
        xr.testing.assert_identical(xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", a, b), ref)


def test_lists_of_products_and_ranges(env):
    ranges = [("2020-01-01T00:00", "2020-01-01T00:03"), ("2020-01-03T12:00", "2020-01-03T12:02")]
    out = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", ranges)
    assert [o.size for o in out] == [3, 2]
    np.testing.assert_array_equal(out[1].values, ramp_value(minutes(*ranges[1])))
    both = xspace.get_data(["cdaweb/XS_TEST_1MIN/ramp", "cdaweb/XS_TEST_1MIN/vec"], ranges)
    assert len(both) == 2 and len(both[0]) == 2
    assert both[1][0].shape == (3, 3)
    np.testing.assert_array_equal(both[1][0].values[:, 1], -ramp_value(minutes(*ranges[0])))
    pairs = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", [r[0] for r in ranges], [r[1] for r in ranges])
    for a, b in zip(pairs, out):
        xr.testing.assert_identical(a, b)


def test_node_argument(env):
    node = Node("ramp", "cdaweb/XS_TEST_1MIN/ramp", "parameter")
    a = xspace.get_data(node, "2020-01-02", "2020-01-02T00:10")
    np.testing.assert_array_equal(a.values, ramp_value(minutes("2020-01-02", "2020-01-02T00:10")))


def test_bad_arguments():
    with pytest.raises(InputError, match="before start"):
        xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02", "2020-01-01")
    with pytest.raises(InputError, match="required"):
        xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02")
    with pytest.raises(InputError, match="cannot read 'yesterday'"):
        xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "yesterday", "2020-01-01")
    with pytest.raises(ProductNotFound, match="did you mean 'cdaweb'"):
        xspace.get_data("cdawb/XS_TEST_1MIN/ramp", "2020-01-01", "2020-01-02")
    with pytest.raises(InputError, match="product must be"):
        xspace.get_data(42, "2020-01-01", "2020-01-02")
    with pytest.raises(InputError, match="pairs"):
        xspace.get_data("cdaweb/X", ["2020-01-01"], ["2020-01-02", "2020-01-03"])


def test_virtual_product_of_a_time_range(env):
    calls = []

    def hourly(start, stop):
        calls.append((start, stop))
        t = np.arange(start - np.timedelta64(1, "h"), stop + np.timedelta64(2, "h"), np.timedelta64(1, "h"))
        return xr.DataArray(np.arange(t.size, dtype=float), coords={"time": t}, dims="time")

    xspace.register_product("test/hourly", hourly, description="an hourly counter", units="1")
    try:
        out = xspace.get_data("test/hourly", "2020-01-01T00:00", "2020-01-01T03:00")
        # cut to [start, stop) even though the function returned more
        np.testing.assert_array_equal(out["time"].values, np.arange(
            np.datetime64("2020-01-01T00:00", "ns"), np.datetime64("2020-01-01T03:00", "ns"), np.timedelta64(1, "h")))
        np.testing.assert_array_equal(out.values, [1.0, 2.0, 3.0])
        assert out.name == "hourly"
        node = xspace.inventory.virtual.test.hourly
        assert node.path == "test/hourly"
        assert "an hourly counter" in repr(node)
        xr.testing.assert_identical(xspace.get_data(node, "2020-01-01T00:00", "2020-01-01T03:00"), out)
    finally:
        xspace.fetch.unregister_product("test/hourly")
    with pytest.raises(ProductNotFound):
        xspace.get_data("test/hourly", "2020-01-01", "2020-01-02")


def test_virtual_product_of_inputs_is_lazy_and_cached(env):
    calls = []

    def threshold(ramp):
        calls.append(1)
        return (ramp > ramp_value(np.array([np.datetime64("2020-01-02T00:00", "ns")]))[0]).rename("above")

    xspace.register_product("test/above", threshold, inputs=["cdaweb/XS_TEST_1MIN/ramp"])
    xspace.register_product("test/above_cached", threshold, inputs=["cdaweb/XS_TEST_1MIN/ramp"], cache=True)
    try:
        lazy = xspace.get_data("test/above", "2020-01-01T23:00", "2020-01-02T01:00")
        assert isinstance(lazy.data, dask.array.Array)
        def whole_files():
            return sorted(r.path.rsplit("/", 1)[1] for r in env.requests("/pub/data/xspace") if "Range" not in r.headers)

        assert whole_files() == []  # lazy: nothing downloaded yet
        assert int(lazy.sum()) == 59
        assert whole_files() == ["xs_test_1min_20200101_v01.cdf", "xs_test_1min_20200102_v01.cdf"]
        sched = CountingScheduler()
        with dask.config.set(scheduler=sched):
            c1 = xspace.get_data("test/above_cached", "2020-01-01T23:00", "2020-01-02T01:00")
        assert sched.calls == 1  # computed once, to be stored and returned
        n_calls = len(calls)
        c2 = xspace.get_data("test/above_cached", "2020-01-01T23:00", "2020-01-02T01:00")
        assert len(calls) == n_calls  # served from the cache, function not called
        xr.testing.assert_equal(c1.load(), c2.load())
        assert int(c2.sum()) == 59
    finally:
        xspace.fetch.unregister_product("test/above")
        xspace.fetch.unregister_product("test/above_cached")


def test_virtual_product_errors():
    with pytest.raises(InputError, match="provider name"):
        xspace.register_product("cdaweb/mine", lambda a, b: None)
    with pytest.raises(InputError, match="not callable"):
        xspace.register_product("mine/x", 3)
    xspace.register_product("mine/none", lambda a, b: None)
    try:
        with pytest.raises(FetchError, match="returned NoneType"):
            xspace.get_data("mine/none", "2020-01-01", "2020-01-02")
    finally:
        xspace.fetch.unregister_product("mine/none")


def test_distributed_workers_fetch_in_parallel(env, tmp_path):
    distributed = pytest.importorskip("distributed")
    lazy = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01T12:00", "2020-01-03T12:00")
    assert env.count("xs_test_1min_2020010") == env.count("xs_test_1min_2020010", method="GET")
    full_gets_before = sum(
        1 for r in env.requests("/pub/data/xspace") if "Range" not in r.headers
    )
    assert full_gets_before == 0  # only metadata (Range requests) so far
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        loaded = lazy.compute()
        who = client.run(lambda: __import__("os").getpid())
    assert len(who) == 2
    t = minutes("2020-01-01T12:00", "2020-01-03T12:00")
    np.testing.assert_array_equal(loaded["Epoch"].values, t)
    np.testing.assert_array_equal(loaded["ramp"].values, ramp_value(t))
    full = [r for r in env.requests("/pub/data/xspace") if "Range" not in r.headers]
    assert sorted(r.path.rsplit("/", 1)[1] for r in full) == [
        f"xs_test_1min_2020010{d}_v01.cdf" for d in (1, 2, 3)
    ]
    # the workers filled the client's cache folder: a second compute needs no request
    n = env.count(".cdf")
    again = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T12:00", "2020-01-03T12:00").values
    np.testing.assert_array_equal(again, ramp_value(t))
    assert env.count(".cdf") == n


def test_load_of_a_lazy_result_shows_download_progress(env, capsys):
    lazy = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-01T12:00", "2020-01-03T12:00")
    with xspace.set_options(progress=True):
        values = lazy.values
    err = capsys.readouterr().err
    assert "download" in err and "3/3" in err  # one step per daily file, on stderr
    np.testing.assert_array_equal(values, ramp_value(lazy["Epoch"].values))
    # not wanted (not a terminal, option unset): nothing printed
    lazy2 = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02T12:00", "2020-01-03T12:00")
    lazy2.load()
    assert "download" not in capsys.readouterr().err


def test_progress_callback_survives_a_lost_registration(env, capsys):
    from dask.callbacks import Callback

    from xspace.fetch import _progress

    _progress.install()
    Callback.active.discard(_progress._installed._callback)  # as when dask restores its callback set
    lazy = xspace.get_data("cdaweb/XS_TEST_1MIN/ramp", "2020-01-02T00:00", "2020-01-02T01:00")
    with xspace.set_options(progress=True):
        lazy.load()
    assert "1/1" in capsys.readouterr().err
