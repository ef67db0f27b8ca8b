"""Tests of xspace.fetch.inventory: Node tree, tab completion, search, persistence, AMDA catalog parser."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import types

import pytest

import xspace
from xspace.errors import FetchError, InputError, OfflineError, ProductNotFound
from xspace.fetch import inventory as inv_mod
from xspace.fetch.inventory import (
    Inventory,
    Node,
    amda_tree_to_node,
    cached_tree,
    inventory_file,
    sanitize,
    wait_for_refresh,
)
from xspace.testing import LocalServer, Reply

SMALL_XML = b"""<?xml version="1.0"?>
<dataRoot xml:id="DATAROOT"><dataCenter name="AMDA_Webservice" xml:id="root">
<mission xml:id="ACE" name="ACE" desc="Advanced Composition Explorer, NASA&lt;br/&gt;1997-08-25T00:00:00">
<instrument xml:id="ACE_mag" name="MFI" desc="Magnetic Field Experiment">
<dataset xml:id="ace-imf-all" name="final / prelim" sampling="16S" dataStart="1997-09-02T00:00:12Z"
 dataStop="2024-09-30T23:59:52Z" desc="IMF&lt;br/&gt; Sampling: 16S">
<parameter xml:id="imf" name="b" units="nT" description="IMF vector" size="3">
<component xml:id="imf(0)" index1="0" name="bx"/><component xml:id="imf(1)" index1="1" name="by"/>
<component xml:id="imf(2)" index1="2" name="bz"/></parameter>
<parameter xml:id="imf_mag" name="|b|" units="nT"/>
</dataset></instrument></mission></dataCenter></dataRoot>"""


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def xml_path(cdf_dir):
    return cdf_dir / "cdaweb_obsdatatree.xml"


@pytest.fixture(scope="module")
def xml_bytes(xml_path):
    return xml_path.read_bytes()


@pytest.fixture(scope="module")
def amda(xml_bytes):
    return amda_tree_to_node(xml_bytes)


class CountingParser:
    def __init__(self, func=amda_tree_to_node):
        self.calls = 0
        self.func = func

    def __call__(self, data):
        self.calls += 1
        return self.func(data)


@pytest.fixture
def catalog_site(tmp_path, xml_bytes):
    """A local server serving the real AMDA tree as a static file; records the statuses it sent."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "tree.xml").write_bytes(xml_bytes)
    statuses: list[int] = []

    def handler(req):
        reply = Reply.file(folder / "tree.xml", req)
        statuses.append(reply.status)
        return reply

    with LocalServer() as srv:
        srv.mount("/php/rest/getObsDataTree.xml", handler)
        srv.statuses = statuses
        srv.folder = folder
        srv.catalog = srv.url + "/php/rest/getObsDataTree.xml"
        yield srv


@pytest.fixture
def cache(tmp_path):
    with xspace.set_options(cache_dir=str(tmp_path / "cache")):
        yield tmp_path / "cache"
        wait_for_refresh(timeout=30)


# ---------------------------------------------------------------------------------------------- real tree
def test_real_tree_counts_match_the_xml(amda, xml_bytes):
    text = xml_bytes.decode("utf-8")
    counts = {tag: len(re.findall(rf"<{tag}[\s>/]", text))
              for tag in ("mission", "observatory", "instrument", "datasetGroup", "dataset", "parameter")}
    assert counts == {"mission": 50, "observatory": 56, "instrument": 348, "datasetGroup": 157,
                      "dataset": 1046, "parameter": 5420}
    kinds = {}
    for node in amda.walk():
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    assert kinds == {"provider": 1, "mission": counts["mission"], "instrument": counts["instrument"],
                     "group": counts["observatory"] + counts["datasetGroup"], "dataset": counts["dataset"],
                     "parameter": counts["parameter"]}
    # every parameter path is amda/<xml:id>, all distinct, and the same set as in the XML
    ids = set(re.findall(r'<parameter[^>]*xml:id="([^"]+)"', text))
    paths = [n.path for n in amda.walk(kind="parameter")]
    assert len(paths) == len(set(paths)) == 5420
    assert {p.split("/", 1)[1] for p in paths} == ids
    assert len(amda) == 50 and amda.children[0].name == "ACE"


def test_known_parameter(amda):
    he = amda.ACE.EPAM.CA60.He_flux
    assert he is amda["ACE/EPAM/CA60/He flux"] is amda["amda/ace_epam_ca60_he"] is amda.find("amda/ace_epam_ca60_he")
    assert he.kind == "parameter" and he.name == "He flux" and he.path == "amda/ace_epam_ca60_he"
    assert he.meta["units"] == "1/(cm\u00b2 s sr MeV/nuc)"
    assert he.meta["description"] == "CA60 MeV/nuc. He Flux"
    assert he.meta["size"] == 2
    assert he.meta["components"] == ["0.389 - 1.28 MeV/nuc", "1.28 - 6.98 MeV/nuc"]
    assert he.meta["dataset"] == "ace-epam-ca60"
    assert (he.meta["start"], he.meta["stop"], he.meta["cadence"]) == (
        "1997-08-30T17:01:00Z", "2024-08-30T23:56:00Z", "PT5M")
    ds = amda.ACE.EPAM.CA60
    assert ds.kind == "dataset" and ds.path == "amda/ace-epam-ca60"
    assert ds.meta["description"] == ("CA60 - ACE Electron Proton Alpha Monitor (EPAM) 5-min Level 2 Data; "
                                      "Sampling: 5M; Provider: CDAWeb")
    assert ds.meta["sampling"] == "5M" and ds.meta["source"] == "CDAWeb"
    assert ds.meta["spase_id"] == "spase://CNES/NumericalData/CDPP-AMDA/ACE/EPAM/ace-epam-ca60"
    assert [n.name for n in ds] == ["He flux", "He flux uncertainty", "CNO flux", "CNO flux uncertainty",
                                    "Fe flux", "Fe flux uncertainty"]
    assert amda.ACE.meta["description"] == "Advanced Composition Explorer, NASA; 1997-08-25T00:00:00"
    assert amda.ACE.kind == "mission" and amda.ACE.EPAM.kind == "instrument"
    # the dataset id also works as an item key among its siblings
    assert amda.ACE.EPAM["ace-epam-ca60"] is ds


def test_observatories_groups_and_templates(amda):
    groups = [n for n in amda.walk(kind="group")]
    assert {n.meta["group_type"] for n in groups} == {"observatory", "datasetGroup"}
    bepi = amda.find("amda/bepi_sixp_p")
    assert bepi.meta["template"] == "bepi_sixp_p_##side##"
    assert bepi.meta["arguments"]["side"]["default"] == "0"
    assert bepi.meta["arguments"]["side"]["maxkey"] == "3"
    assert len(bepi.meta["components"]) == bepi.meta["size"] == 9


def test_small_tree_and_bad_xml():
    tree = amda_tree_to_node(SMALL_XML)
    b = tree.ACE.MFI.final___prelim.b
    assert (b.path, b.meta["components"], b.meta["cadence"]) == ("amda/imf", ["bx", "by", "bz"], "PT16S")
    assert tree.ACE.MFI["final / prelim"]["|b|"].path == "amda/imf_mag"
    assert tree.ACE.MFI.final___prelim._b_.path == "amda/imf_mag"
    assert tree.ACE.MFI.final___prelim._b_.meta["description"] == "|b|"  # falls back to the name
    with pytest.raises(FetchError, match="getObsDataTree"):
        amda_tree_to_node(b"<dataRoot><mission")


# ---------------------------------------------------------------------------------------------- names
NODE_ATTRIBUTES = set(dir(Node)) | {"name", "path", "kind", "meta"}


def child_attributes(node):
    """What tab completion offers beyond Node's own attributes."""
    return [n for n in dir(node) if n not in NODE_ATTRIBUTES]


@pytest.mark.parametrize("raw, expected", [
    ("He flux", "He_flux"), ("1-hour", "_1_hour"), ("class", "class_"), ("None", "None_"),
    ("B(GSE)", "B_GSE_"), ("", "_"), ("µ-flux", "__flux"), ("AC_H0_MFI", "AC_H0_MFI"),
    ("__init__", "x__init__"), ("_repr_html_", "x_repr_html_"), ("match", "match"),
])
def test_sanitize(raw, expected):
    assert sanitize(raw) == expected
    assert sanitize(raw).isidentifier()


def test_attribute_names_collisions_and_reserved():
    kids = [Node(n, f"p/{i}", "parameter") for i, n in
            enumerate(["a b", "a_b", "a-b", "path", "search", "1x", "_1x", "a_b_2"])]
    node = Node("d", "p", "dataset", children=kids)
    names = child_attributes(node)
    assert sorted(names) == sorted(["a_b", "a_b_3", "a_b_4", "path_", "search_", "_1x_2", "_1x", "a_b_2"])
    # raw names that are valid identifiers keep them; the others are numbered in order
    assert node.a_b is kids[1] and node.a_b_2 is kids[7]
    assert node.a_b_3 is kids[0] and node.a_b_4 is kids[2]
    assert node._1x is kids[6] and node._1x_2 is kids[5]
    assert node.path == "p" and node.path_ is kids[3] and node.search_ is kids[4]
    assert callable(node.search)
    # same names on every call (deterministic), raw names for ["..."] completion
    assert child_attributes(node) == names
    assert node._ipython_key_completions_() == ["a b", "a_b", "a-b", "path", "search", "1x", "_1x", "a_b_2"]
    # item access: raw name, sanitised name, path tail
    assert node["a b"] is kids[0] and node["a_b_3"] is kids[0] and node["0"] is kids[0]


def test_tab_completion_on_the_real_tree(amda):
    assert {"ACE", "Cluster", "BepiColombo"} <= set(dir(amda))
    assert {"He_flux", "He_flux_uncertainty", "CNO_flux", "Fe_flux_uncertainty"} <= set(dir(amda.ACE.EPAM.CA60))
    # every attribute dir() offers resolves, and every name is a valid identifier
    for node in (amda, amda.ACE, amda.ACE.EPAM, amda.ACE.EPAM.CA60):
        extra = child_attributes(node)
        assert len(extra) == len(node)
        assert all(n.isidentifier() and getattr(node, n) in node for n in extra)
    assert "He flux" in amda.ACE.EPAM.CA60._ipython_key_completions_()
    # internal attributes are not offered
    assert "_kids" not in dir(amda) and "_loader" not in dir(amda)


def test_unknown_names(amda):
    assert not hasattr(amda.ACE, "EPM")
    with pytest.raises(AttributeError, match=r"has no child 'EPM'; close matches: EPAM"):
        amda.ACE.EPM
    with pytest.raises(AttributeError, match="close matches: ACE"):
        amda.ace
    with pytest.raises(ProductNotFound, match=r"no product 'EPM' in mission 'amda/ACE'; close matches: EPAM"):
        amda.ACE["EPM"]
    with pytest.raises(KeyError):  # ProductNotFound is a KeyError too
        amda.ACE["ACE/EPAM/nothing"]
    with pytest.raises(ProductNotFound, match="close matches: amda/ace_epam_ca60_he"):
        amda.find("amda/ace_epam_ca60_hx")
    assert "EPAM" in amda.ACE and "EPAM/CA60/He flux" in amda.ACE and "EPM" not in amda.ACE
    assert amda.ACE.EPAM in amda.ACE and amda.ACE not in amda.ACE.EPAM
    # probes of Python/IPython never resolve to children
    assert not hasattr(amda, "__array__") and not hasattr(amda, "_repr_latex_")
    assert bool(amda.ACE.EPAM.CA60.He_flux) and len(amda.ACE.EPAM.CA60.He_flux) == 0


def test_repr(amda):
    text = repr(amda.ACE.EPAM.CA60.He_flux)
    assert text.splitlines() == [
        "<parameter 'He flux' path='amda/ace_epam_ca60_he'>",
        "  description: CA60 MeV/nuc. He Flux",
        "  units: 1/(cm\u00b2 s sr MeV/nuc)",
        "  time coverage: 1997-08-30T17:01:00Z -> 2024-08-30T23:56:00Z",
        "  cadence: PT5M",
        "  components: 0.389 - 1.28 MeV/nuc, 1.28 - 6.98 MeV/nuc",
    ]
    assert repr(amda.ACE).splitlines()[-1] == "  4 instruments: EPAM, Ephemeris, MFI, SWEPAM"
    assert repr(amda).splitlines()[-1].startswith("  50 missions: ACE, AMPTE, ARTEMIS, BepiColombo,")
    html = amda.ACE.EPAM.CA60._repr_html_()
    assert "amda/ace-epam-ca60" in html and "6 parameters" in html and "PT5M" in html


# ---------------------------------------------------------------------------------------------- lazy
def test_lazy_children_loaded_once_across_threads():
    calls = []
    gate = threading.Event()

    def load():
        calls.append(threading.get_ident())
        gate.wait(2)
        return [Node("x", "p/d/x", "parameter"), Node("y", "p/d/y", "parameter")]

    ds = Node("d", "p/d", "dataset", children=load)
    assert not ds.loaded and ds.to_dict() == {"name": "d", "path": "p/d", "kind": "dataset", "lazy": True}
    results = []
    threads = [threading.Thread(target=lambda: results.append([n.name for n in ds])) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [["x", "y"]] * 8 and ds.loaded


def test_lazy_loader_failure_is_retried_and_node_adoption():
    attempts = []

    def load():
        attempts.append(1)
        if len(attempts) == 1:
            raise FetchError("catalog unreachable")
        return Node("prov", "prov", "provider", {"description": "from the loader"},
                    children=[Node("A", "prov/A", "mission")])

    node = Node("prov", "prov", "provider", {"module": "m"}, children=load)
    with pytest.raises(FetchError, match="unreachable"):
        len(node)
    assert not node.loaded
    assert node.A.path == "prov/A" and len(attempts) == 2
    assert node.meta == {"description": "from the loader", "module": "m"}
    assert "could not be loaded" in repr(Node("z", "z", "provider", children=lambda: 1 / 0))


def test_walk_and_find_load_along_the_path():
    loads = []

    def variables():
        loads.append("ds")
        return [Node("BGSEc", "c/AC_H0_MFI/BGSEc", "parameter", {"units": "nT"})]

    ds = Node("AC_H0_MFI", "c/AC_H0_MFI", "dataset", children=variables)
    root = Node("c", "c", "provider", children=[Node("ACE", "c/ACE", "mission", children=[
        Node("MAG", "c/ACE/MAG", "instrument", children=[ds])])])
    assert [n.path for n in root.walk()] == ["c", "c/ACE", "c/ACE/MAG", "c/AC_H0_MFI"]  # not loaded
    assert loads == []
    assert root["c/AC_H0_MFI/BGSEc"].meta["units"] == "nT" and loads == ["ds"]
    assert root["AC_H0_MFI/BGSEc"] is ds.BGSEc  # relative to the provider
    assert [n.path for n in root.walk(kind="parameter")] == ["c/AC_H0_MFI/BGSEc"]
    with pytest.raises(ProductNotFound):
        root.find("c/nothing/here")


# ---------------------------------------------------------------------------------------------- search
def test_search_real_tree(amda):
    assert [n.path for n in amda.search("ace magnetic")] == ["amda/ACE_mag", "amda/ace-imf-all",
                                                             "amda/ace-mag-real"]
    assert [n.path for n in amda.search("ACE Magnetic", kind="dataset")] == ["amda/ace-imf-all",
                                                                             "amda/ace-mag-real"]
    # an exact identifier comes first, whatever the other matches
    hits = amda.search("ace_epam_ca60_he")
    assert hits[0].path == "amda/ace_epam_ca60_he"
    assert amda.search("he flux", kind="parameter", limit=None)[0].name == "He flux"
    assert len(amda.search("flux", limit=7)) == 7
    assert len(amda.search("flux", limit=None)) > 200
    assert amda.search("no such words anywhere") == []
    assert all(n.kind == "mission" for n in amda.search("cluster", kind="mission"))
    with pytest.raises(InputError):
        amda.search("   ")
    with pytest.raises(InputError):
        amda.search("ace", kind="satellite")


# ---------------------------------------------------------------------------------------------- JSON
def test_to_dict_from_dict_round_trip(amda):
    d = amda.to_dict()
    text = json.dumps(d)
    back = Node.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert [n.path for n in back.walk()] == [n.path for n in amda.walk()]
    assert back.ACE.EPAM.CA60.He_flux.meta == amda.ACE.EPAM.CA60.He_flux.meta
    assert dir(back.ACE.EPAM.CA60) == dir(amda.ACE.EPAM.CA60)


# ---------------------------------------------------------------------------------------------- root
def _fake_provider(monkeypatch, name, inventory):
    module = types.ModuleType(f"fake_provider_{name}")
    module.inventory = inventory
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


def test_root_providers_lazy(monkeypatch, xml_bytes):
    calls = []

    def inventory():
        calls.append(1)
        return amda_tree_to_node(SMALL_XML)

    monkeypatch.setattr(inv_mod, "PROVIDERS", {"amda": _fake_provider(monkeypatch, "amda", inventory),
                                               "broken": "xspace.fetch.providers.no_such_module"})
    root = Inventory()
    assert [n.name for n in root] == ["amda", "broken", "virtual"] and calls == []
    assert {"amda", "broken", "virtual"} <= set(dir(root)) and calls == []
    assert root.amda.kind == "provider" and calls == []  # the provider node itself is not loaded yet
    assert root.amda.ACE.MFI.final___prelim.b.path == "amda/imf" and calls == [1]
    assert root["amda/imf"] is root.amda.ACE.MFI.final___prelim.b
    assert root.find("amda/imf_mag").name == "|b|"
    assert root["amda/ACE/MFI"].kind == "instrument" and calls == [1]
    with pytest.raises(FetchError, match="provider 'broken' is not available"):
        root.broken.anything
    with pytest.raises(AttributeError, match="close matches: amda"):
        root.amdb
    with pytest.raises(ProductNotFound, match="close matches: amda/imf"):
        root.find("amda/imx")
    # search skips a provider that cannot be loaded
    assert [n.path for n in root.search("ace magnetic")] == ["amda/ACE_mag"]
    assert [n.path for n in root.search("imf", provider="amda", kind="parameter")] == ["amda/imf", "amda/imf_mag"]
    with pytest.raises(ProductNotFound, match="unknown provider"):
        root.search("x", provider="cdaweb")
    # refresh reloads what was loaded, telling providers to revalidate
    seen = []
    original = sys.modules[inv_mod.PROVIDERS["amda"]].inventory
    sys.modules[inv_mod.PROVIDERS["amda"]].inventory = lambda: (seen.append(inv_mod.refresh_requested()),
                                                                original())[1]
    root.refresh()
    assert seen == [True] and not inv_mod.refresh_requested()
    assert calls == [1, 1] and root.amda.ACE.name == "ACE"
    root.refresh("amda")
    assert calls == [1, 1, 1]


def test_root_provider_loaded_once_across_threads(monkeypatch):
    calls = []

    def inventory():
        calls.append(1)
        time.sleep(0.2)
        return amda_tree_to_node(SMALL_XML)

    monkeypatch.setattr(inv_mod, "PROVIDERS", {"amda": _fake_provider(monkeypatch, "amda3", inventory)})
    root = Inventory()
    out = []
    threads = [threading.Thread(target=lambda: out.append(root.amda.ACE.MFI.path)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and out == ["amda/ACE_mag"] * 6


def test_virtual_products():
    root = Inventory()
    node = root.add_virtual("my/space/threshold", {"description": "mirror-mode threshold", "units": "nT"})
    assert node.path == "my/space/threshold" and node.kind == "parameter"
    assert root.virtual.my.space.threshold is node and root["my/space/threshold"] is node
    assert root.find("my/space/threshold") is node
    assert [n.path for n in root.search("mirror", provider="virtual")] == ["my/space/threshold"]
    other = root.add_virtual("my/space/threshold", {"description": "replaced"})
    assert root.virtual.my.space.threshold is other and len(root.virtual.my.space) == 1
    root.add_virtual("other", {"description": "top level"}, kind="dataset")
    assert root.virtual.other.kind == "dataset"
    assert root.remove_virtual("my/space/threshold") and not root.remove_virtual("my/space/threshold")
    assert "threshold" not in root.virtual.my.space
    with pytest.raises(InputError):
        root.add_virtual("///")


def test_module_inventory_object():
    assert isinstance(inv_mod.INVENTORY, Inventory)
    assert list(inv_mod.PROVIDERS) == ["cdaweb", "hapi", "sscweb", "amda", "csa"]
    assert repr(inv_mod.INVENTORY).startswith("<root 'inventory'>")


# ---------------------------------------------------------------------------------------------- persistence
def _record(name="amda"):
    return json.loads(inventory_file(name).read_text())


def test_cold_then_warm_load_makes_no_request(cache, catalog_site, xml_bytes):
    parse = CountingParser()
    tree = cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert parse.calls == 1 and catalog_site.count("getObsDataTree") == 1
    assert tree.ACE.EPAM.CA60.He_flux.path == "amda/ace_epam_ca60_he"
    file = inventory_file("amda")
    assert file == cache / "inventory" / "amda.json"
    rec = _record()
    assert rec["url"] == catalog_site.catalog and rec["size"] == len(xml_bytes) == 1818005
    assert rec["etag"] and rec["etag"].startswith('"') and rec["last_modified"].endswith("GMT")
    assert rec["fetched"] <= time.time() and rec["checked"] <= time.time()
    # warm: read from the JSON, no request, no parsing; the same tree
    warm = cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert parse.calls == 1 and catalog_site.count("getObsDataTree") == 1
    assert warm is not tree and warm.to_dict() == tree.to_dict()
    assert len(list(warm.walk(kind="parameter"))) == 5420
    assert not [t for t in threading.enumerate() if t.name.startswith("xspace-inventory-refresh")]
    # nothing else than the final JSON in the inventory folder (atomic writes leave no temporary)
    assert sorted(p.name for p in file.parent.iterdir()) == ["amda.json"]


def test_stale_tree_revalidated_in_background_304(cache, catalog_site):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    before = _record()
    time.sleep(0.05)
    tree = cached_tree("amda", catalog_site.catalog, parse, ttl=0, kind="xml")  # stale at once
    assert tree.ACE.name == "ACE"  # returned without waiting for the server
    assert wait_for_refresh(timeout=30)
    assert catalog_site.statuses == [200, 304] and parse.calls == 1
    after = _record()
    assert after["checked"] > before["checked"] and after["fetched"] == before["fetched"]
    assert after["sha256"] == before["sha256"] and after["etag"] == before["etag"]
    # fresh again: no further request within the TTL
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert catalog_site.count("getObsDataTree") == 2


def test_stale_tree_replaced_when_the_catalog_changed(cache, catalog_site):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    target = catalog_site.folder / "tree.xml"
    target.write_bytes(SMALL_XML)
    later = time.time() + 10
    os.utime(target, (later, later))  # a new Last-Modified and ETag
    tree = cached_tree("amda", catalog_site.catalog, parse, ttl=0, kind="xml")
    old_ace = tree.ACE
    assert wait_for_refresh(timeout=30)
    assert catalog_site.statuses == [200, 200] and parse.calls == 2
    # replaced in place: the node handed out now holds the new catalog
    assert len(tree) == 1 and [n.name for n in tree.ACE] == ["MFI"]
    assert tree.ACE is not old_ace and tree.find("amda/imf").meta["components"] == ["bx", "by", "bz"]
    assert _record()["size"] == len(SMALL_XML)
    # and a new session reads the new tree from disk, without a request
    again = cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert again.to_dict() == tree.to_dict() and catalog_site.count("getObsDataTree") == 2


@pytest.mark.filterwarnings("ignore::xspace.fetch.cache.StaleWarning")
def test_refresh_fails_quietly_when_the_server_is_down(cache, catalog_site, caplog):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    checked = _record()["checked"]
    catalog_site.down()
    try:
        with caplog.at_level(logging.WARNING, logger="xspace.fetch"):
            tree = cached_tree("amda", catalog_site.catalog, parse, ttl=0, kind="xml")
            assert wait_for_refresh(timeout=30)
    finally:
        catalog_site.up()
    assert tree.ACE.EPAM.CA60.He_flux.meta["units"] == "1/(cm\u00b2 s sr MeV/nuc)"
    assert _record()["checked"] == checked and parse.calls == 1  # not marked as validated


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": 1, "tree": 3}', b"[1, 2]",
                                     b'{"format": 1, "url": "x", "checked": "soon", "tree": {}}'])
def test_corrupt_json_is_rebuilt(cache, catalog_site, garbage, caplog):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    inventory_file("amda").write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="xspace.fetch"):
        tree = cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert tree.ACE.EPAM.CA60.He_flux.path == "amda/ace_epam_ca60_he"
    assert parse.calls == 2
    # the catalog bytes were still fresh in the byte cache: rebuilt without a request
    assert catalog_site.count("getObsDataTree") == 1
    assert _record()["size"] == 1818005
    if garbage:
        assert "corrupt" in caplog.text


def test_tree_with_a_bad_node_is_rebuilt(cache, catalog_site):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    rec = _record()
    rec["tree"]["children"][0]["kind"] = "spacecraft"
    inventory_file("amda").write_text(json.dumps(rec))
    assert cached_tree("amda", catalog_site.catalog, parse, kind="xml").ACE.kind == "mission"
    assert parse.calls == 2


def test_other_url_or_version_is_rebuilt(cache, catalog_site):
    parse = CountingParser()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    cached_tree("amda", catalog_site.catalog, parse, kind="xml", version=2)
    assert parse.calls == 2 and _record()["version"] == 2
    with catalog_site.__class__() as other:
        other.mount("/tree.xml", lambda req: Reply(body=SMALL_XML))
        tree = cached_tree("amda", other.url + "/tree.xml", parse, kind="xml", version=2)
        assert [n.name for n in tree] == ["ACE"] and other.count("/tree.xml") == 1


def test_offline(cache, catalog_site):
    parse = CountingParser()
    with xspace.set_options(offline=True):
        with pytest.raises(OfflineError):
            cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    assert catalog_site.count("getObsDataTree") == 0 and not inventory_file("amda").exists()
    cached_tree("amda", catalog_site.catalog, parse, kind="xml")
    with xspace.set_options(offline=True):
        # persisted tree, even stale, and no background refresh
        tree = cached_tree("amda", catalog_site.catalog, parse, ttl=0, kind="xml")
        assert tree.ACE.EPAM.name == "EPAM"
        assert not [t for t in threading.enumerate() if t.name.startswith("xspace-inventory-refresh")]
        # no persisted tree but the catalog in the byte cache: parsed from there
        inventory_file("amda").unlink()
        tree = cached_tree("amda", catalog_site.catalog, parse, ttl=0, kind="xml")
        assert len(list(tree.walk(kind="dataset"))) == 1046
    assert catalog_site.count("getObsDataTree") == 1 and parse.calls == 2


def test_inventory_refresh_revalidates_now(cache, catalog_site, monkeypatch):
    parse = CountingParser()

    def inventory():
        return cached_tree("amda", catalog_site.catalog, parse, kind="xml")

    monkeypatch.setattr(inv_mod, "PROVIDERS", {"amda": _fake_provider(monkeypatch, "amda2", inventory)})
    root = Inventory()
    assert root.amda.ACE.EPAM.CA60.He_flux.path == "amda/ace_epam_ca60_he"
    assert catalog_site.statuses == [200]
    root.refresh("amda")  # synchronous conditional GET although the tree is fresh
    assert catalog_site.statuses == [200, 304] and parse.calls == 1
    target = catalog_site.folder / "tree.xml"
    target.write_bytes(SMALL_XML)
    later = time.time() + 10
    os.utime(target, (later, later))
    root.refresh()
    assert catalog_site.statuses == [200, 304, 200] and parse.calls == 2
    assert [n.name for n in root.amda] == ["ACE"] and root["amda/imf"].name == "b"


def test_inventory_file_name_checked(cache):
    assert inventory_file("cdaweb") == cache / "inventory" / "cdaweb.json"
    with pytest.raises(InputError):
        inventory_file("../escape")


def test_two_step_catalog_with_a_fetch_function(cache, catalog_site):
    """AMDA's REST getObsDataTree answers with the URL of the XML: a custom fetch does both requests."""
    from xspace.fetch import cache as byte_cache

    catalog_site.mount("/php/rest/getObsDataTree.php", lambda req: Reply(body=catalog_site.catalog))
    entry = catalog_site.url + "/php/rest/getObsDataTree.php"

    def fetch(ttl):
        xml_url = byte_cache.fetch_bytes(entry, ttl=ttl).decode().strip()
        return byte_cache.fetch_bytes(xml_url, kind="xml", ttl=ttl)

    parse = CountingParser()
    tree = cached_tree("amda", entry, parse, fetch=fetch)
    again = cached_tree("amda", entry, parse, fetch=fetch)
    assert tree.find("amda/ace_epam_ca60_he").name == again.find("amda/ace_epam_ca60_he").name == "He flux"
    assert catalog_site.count("getObsDataTree.php") == 1 and catalog_site.count("getObsDataTree.xml") == 1
    cached_tree("amda", entry, parse, fetch=fetch, ttl=0)
    assert wait_for_refresh(timeout=30)
    assert catalog_site.count("getObsDataTree.php") == 2 and catalog_site.statuses == [200, 304]
    assert parse.calls == 1


def test_pickle_and_copy(amda):
    import copy
    import pickle

    ds = amda.ACE.EPAM.CA60
    back = pickle.loads(pickle.dumps(ds))
    assert back.to_dict() == ds.to_dict() and back.He_flux.path == "amda/ace_epam_ca60_he"
    assert copy.deepcopy(ds).to_dict() == ds.to_dict()
    assert pickle.loads(pickle.dumps(inv_mod.INVENTORY)) is inv_mod.INVENTORY


def test_lazy_nodes_survive_persistence(cache):
    """A provider whose datasets load their parameters on expansion (CSA, CDAWeb) keeps that after a warm load."""
    expanded = []

    def parameters(node):
        expanded.append(node.path)
        return [Node(f"{node.name}_B", f"{node.path}/{node.name}_B", "parameter", {"units": "nT"})]

    def parse(data):
        return Node("demo", "demo", "provider", children=[
            Node(w, f"demo/{w}", "dataset", children=lambda w=w: parameters(Node(w, f"demo/{w}", "dataset")))
            for w in data.decode().split()])

    with LocalServer() as srv:
        srv.mount("/list", lambda req: Reply(body=b"C1_CP_FGM C2_CP_FGM"))
        cold = cached_tree("demo", srv.url + "/list", parse, lazy=parameters)
        assert cold.C1_CP_FGM.C1_CP_FGM_B.meta["units"] == "nT" and expanded == ["demo/C1_CP_FGM"]
        rec = _record("demo")
        assert [c.get("lazy") for c in rec["tree"]["children"]] == [True, True]  # saved before expansion
        warm = cached_tree("demo", srv.url + "/list", parse, lazy=parameters)
        assert not warm.C2_CP_FGM.loaded and expanded == ["demo/C1_CP_FGM"]
        assert warm["C2_CP_FGM/C2_CP_FGM_B"].path == "demo/C2_CP_FGM/C2_CP_FGM_B"
        assert expanded == ["demo/C1_CP_FGM", "demo/C2_CP_FGM"] and srv.count("/list") == 1
        # without the hook the saved lazy nodes come back as leaves
        assert len(cached_tree("demo", srv.url + "/list", parse).C1_CP_FGM) == 0


def test_module_level_virtual_functions():
    node = inv_mod.add_virtual("test_inventory/product", {"description": "a test product"})
    try:
        assert inv_mod.INVENTORY.virtual.test_inventory.product is node
        assert inv_mod.INVENTORY.find("test_inventory/product") is node
    finally:
        assert inv_mod.remove_virtual("test_inventory/product")
    assert "product" not in inv_mod.INVENTORY.virtual.test_inventory


IPYTHON_SCRIPT = r'''
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.completer import provisionalcompleter
from xspace.fetch.inventory import amda_tree_to_node
tree = amda_tree_to_node(sys.stdin.buffer.read())
shell = InteractiveShell.instance()
shell.user_ns["tree"] = tree
out = {}
for use_jedi in (True, False):
    shell.Completer.use_jedi = use_jedi
    for text in ["tree.AC", "tree.ACE.MF", "tree.ACE.MFI.final___prelim._", 'tree.ACE.MFI["fin']:
        with provisionalcompleter():
            out[f"{use_jedi} {text}"] = sorted(c.text for c in shell.Completer.completions(text, len(text)))
print(json.dumps(out))
'''


def test_ipython_tab_completion():
    """Completion as IPython/Jupyter computes it, with jedi and with IPython's own (limited) evaluation."""
    pytest.importorskip("IPython")
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(inv_mod.Path(xspace.__file__).parents[1]))
    run = subprocess.run([sys.executable, "-c", IPYTHON_SCRIPT], input=SMALL_XML, capture_output=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    out = json.loads(run.stdout.decode().strip().splitlines()[-1])
    assert out["True tree.AC"] == ["ACE"] and out["True tree.ACE.MF"] == ["MFI"]
    # IPython's own completer returns the whole dotted text (8.x) or only the attribute part (9.x)
    assert [c.rsplit(".", 1)[-1] for c in out["False tree.ACE.MF"]] == ["MFI"]
    for use_jedi in ("True", "False"):
        assert {c.rsplit(".", 1)[-1] for c in out[f"{use_jedi} tree.ACE.MFI.final___prelim._"]} >= {"_b_"}
    assert "final / prelim" in out['False tree.ACE.MFI["fin']
