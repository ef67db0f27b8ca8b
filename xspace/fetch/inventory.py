"""The product inventory: a tree of :class:`Node` objects you can tab-complete, search and persist.

``xspace.inventory`` (the :data:`INVENTORY` root) has one branch per provider (``cdaweb``, ``hapi``,
``sscweb``, ``amda``, ``csa``), each loaded on first access by calling the provider's ``inventory()``,
plus a ``virtual`` branch holding the products registered with ``xspace.register_product``. Every node
carries the product ``path`` that :func:`xspace.get_data` takes, its ``kind`` (mission, instrument,
dataset, parameter ...) and its metadata (description, units, time coverage, cadence).

Children are reached three ways:

* as attributes, with *sanitised* names that are valid Python identifiers (so IPython/Jupyter can
  tab-complete them): every character other than ``A-Z a-z 0-9 _`` becomes ``_``, a leading digit gets a
  ``_`` prefix, Python keywords and the names of :class:`Node`'s own attributes get a trailing ``_``, and
  names that still collide get ``_2``, ``_3`` ... in the order of the children (a raw name that is already
  a valid identifier keeps it);
* by item, with the raw name, the sanitised name, the last component of the product path, or a relative
  path ``"a/b/c"`` — or, on any node, a full product path below it;
* by iteration (``for child in node``).

Provider catalogs are persisted as JSON under ``<cache_dir>/inventory/<name>.json`` by
:func:`cached_tree`, so a second session loads the tree without parsing the catalog again and without a
request; a tree older than its TTL is returned at once and revalidated in a background thread (a
conditional GET; a changed catalog is parsed again and replaces the tree in place).

Examples
--------
>>> from xspace.fetch.inventory import Node
>>> ace = Node("ACE", "amda/ACE", "mission", {"description": "Advanced Composition Explorer"}, children=[
...     Node("MFI", "amda/ace-mfi", "instrument", children=[
...         Node("1-hour B", "amda/ace_b_1h", "parameter", {"units": "nT"}),
...         Node("class", "amda/ace_class", "parameter")])])
>>> ace.MFI._1_hour_B.path
'amda/ace_b_1h'
>>> "_1_hour_B" in dir(ace.MFI), "class_" in dir(ace.MFI)     # what tab completion offers
(True, True)
>>> ace["MFI/1-hour B"].meta["units"], ace["amda/ace_class"].name
('nT', 'class')
>>> [n.path for n in ace.search("hour")]
['amda/ace_b_1h']
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import html
import importlib
import json
import keyword
import logging
import os
import re
import threading
import time
import weakref
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import FetchError, InputError, ProductNotFound
from ..options import get_options

__all__ = [
    "Node",
    "Inventory",
    "INVENTORY",
    "PROVIDERS",
    "add_virtual",
    "remove_virtual",
    "KINDS",
    "sanitize",
    "cached_tree",
    "inventory_file",
    "refresh_requested",
    "wait_for_refresh",
    "amda_tree_to_node",
]

logger = logging.getLogger("xspace.fetch")

KINDS = ("root", "provider", "mission", "instrument", "group", "dataset", "parameter")

#: provider name -> module exposing ``inventory() -> Node``: the same dict as ``xspace.fetch.PROVIDERS``
#: (tests may monkeypatch this name)
from . import PROVIDERS  # noqa: E402

# search ranking: broader kinds first when the match quality is equal
_KIND_RANK = {k: i for i, k in enumerate(("provider", "mission", "group", "instrument", "dataset", "parameter"))}
_NON_IDENT = re.compile(r"[^0-9A-Za-z_]")
# attribute names __getattr__ never resolves to children: Python and IPython probe them (copy, pickle,
# display), and resolving them would load a provider's catalog just to print something
_INTERNAL = frozenset({"_kids", "_loader", "_lock", "_followers", "_index", "_hay", "_virtual_lock",
                       "_providers", "_snapshot", "_root_lock"})
_PLURALS = {"mission": "missions", "instrument": "instruments", "group": "groups", "dataset": "datasets",
            "parameter": "parameters", "provider": "providers"}


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while building thousands of nodes (2-3x faster)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# ---------------------------------------------------------------------------------------------- names
def _probed(name: str) -> bool:
    return (name.startswith("__") and name.endswith("__")) or name.startswith(("_repr_", "_ipython_"))


def sanitize(name: str, reserved: Iterable[str] = ()) -> str:
    """Valid Python identifier for the raw child name ``name`` (without collision handling).

    Characters other than ASCII letters, digits and ``_`` become ``_``; a leading digit gets a ``_``
    prefix; Python keywords and names in ``reserved`` get a trailing ``_``; names Python or IPython
    probe for (``__x__``, ``_repr_x``, ``_ipython_x``) get an ``x`` prefix.

    Examples
    --------
    >>> sanitize("He flux"), sanitize("1-hour"), sanitize("class"), sanitize("path", {"path"})
    ('He_flux', '_1_hour', 'class_', 'path_')
    >>> sanitize(""), sanitize("B(GSE)"), sanitize("__init__")
    ('_', 'B_GSE_', 'x__init__')
    """
    s = _NON_IDENT.sub("_", str(name)) or "_"
    if s[0].isdigit():
        s = "_" + s
    if _probed(s):
        s = "x" + s
    if keyword.iskeyword(s) or s in reserved:
        s += "_"
    return s


def _attribute_names(raw_names: list[str], reserved: frozenset[str]) -> list[str]:
    """Unique sanitised names, deterministic: valid raw names keep themselves, others get _2, _3 ..."""
    out: list[str | None] = [None] * len(raw_names)
    used: set[str] = set()
    for i, raw in enumerate(raw_names):
        s = sanitize(raw, reserved)
        if s == raw and s not in used:
            out[i] = s
            used.add(s)
    for i, raw in enumerate(raw_names):
        if out[i] is None:
            base = sanitize(raw, reserved)
            s, k = base, 2
            while s in used:
                s = f"{base}_{k}"
                k += 1
            out[i] = s
            used.add(s)
    return out  # type: ignore[return-value]


def _close_matches(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    by_lower: dict[str, str] = {}
    for c in candidates:
        by_lower.setdefault(c.lower(), c)
    w = word.lower()
    found = [by_lower[w]] if w in by_lower else []
    found += [by_lower[m] for m in difflib.get_close_matches(w, list(by_lower), n=n, cutoff=0.6)]
    if len(found) < n and len(w) >= 3:
        found += [c for lc, c in by_lower.items() if w in lc][:n]
    seen: list[str] = []
    for f in found:
        if f not in seen:
            seen.append(f)
    return seen[:n]


class _Kids:
    """The children of a loaded node with their name maps (built on first use; immutable afterwards)."""

    __slots__ = ("nodes", "reserved", "_raw", "_attr", "_tail")

    def __init__(self, nodes: list["Node"], reserved: frozenset[str]):
        self.nodes = nodes
        self.reserved = reserved
        self._raw: dict[str, Node] | None = None
        self._attr: dict[str, Node] | None = None
        self._tail: dict[str, Node] | None = None

    @property
    def raw(self) -> dict[str, "Node"]:
        if self._raw is None:
            raw: dict[str, Node] = {}
            for n in self.nodes:
                raw.setdefault(n.name, n)
            self._raw = raw
        return self._raw

    @property
    def attr(self) -> dict[str, "Node"]:
        if self._attr is None:
            names = _attribute_names([n.name for n in self.nodes], self.reserved)
            self._attr = dict(zip(names, self.nodes))
        return self._attr

    @property
    def tail(self) -> dict[str, "Node"]:
        if self._tail is None:
            tail: dict[str, Node] = {}
            for n in self.nodes:
                if n.path:
                    tail.setdefault(n.path.rsplit("/", 1)[-1], n)
            self._tail = tail
        return self._tail

    def lookup(self, key: str) -> "Node | None":
        return self.raw.get(key) or self.attr.get(key) or self.tail.get(key)


_RESERVED_CACHE: dict[type, frozenset[str]] = {}


def _reserved(cls: type) -> frozenset[str]:
    r = _RESERVED_CACHE.get(cls)
    if r is None:
        r = frozenset(n for n in dir(cls) if not n.startswith("__")) | {"name", "path", "kind", "meta"}
        _RESERVED_CACHE[cls] = r
    return r


# ---------------------------------------------------------------------------------------------- Node
class Node:
    """One entry of the inventory: a provider, mission, instrument, group, dataset or parameter.

    Parameters
    ----------
    name : str
        Raw name, as the archive spells it (``"He flux"``, ``"AC_H0_MFI"``).
    path : str
        Product path that :func:`xspace.get_data` takes (``"cdaweb/AC_H0_MFI/BGSEc"``).
    kind : str
        One of ``"root"``, ``"provider"``, ``"mission"``, ``"instrument"``, ``"group"``, ``"dataset"``,
        ``"parameter"``.
    meta : dict, optional
        JSON-able metadata: ``description``, ``units``, ``start``/``stop`` (ISO 8601 UTC), ``cadence``
        (ISO 8601 duration) and whatever else the provider knows.
    children : list of Node or callable, optional
        The children, or a function returning them (a list, or a Node whose children and metadata are
        adopted), called once — thread-safely — on first access. ``None``: a leaf.

    Examples
    --------
    >>> from xspace.fetch.inventory import Node
    >>> calls = []
    >>> def load():
    ...     calls.append(1)
    ...     return [Node("Bx", "demo/ds/Bx", "parameter", {"units": "nT"})]
    >>> ds = Node("ds", "demo/ds", "dataset", {"description": "demo dataset"}, children=load)
    >>> ds.loaded, len(ds), ds.loaded, ds.Bx.meta["units"], len(calls)
    (False, 1, True, 'nT', 1)
    >>> Node.from_dict(ds.to_dict()).Bx.path
    'demo/ds/Bx'
    """

    def __init__(
        self,
        name: str,
        path: str,
        kind: str,
        meta: dict[str, Any] | None = None,
        children: "Iterable[Node] | Callable[[], Any] | None" = None,
    ) -> None:
        if kind not in KINDS:
            raise InputError(f"Node: kind {kind!r} of {path!r} is not one of {KINDS}")
        self.name = str(name)
        self.path = str(path)
        self.kind = kind
        self.meta: dict[str, Any] = dict(meta) if meta else {}
        self._followers: list[weakref.ref] = []
        if callable(children):
            self._kids: _Kids | None = None
            self._loader: Callable[[], Any] | None = children
            self._lock: threading.Lock | None = threading.Lock()
        else:
            self._kids = _Kids(list(children) if children else [], _reserved(type(self)))
            self._loader = None
            self._lock = None

    # ------------------------------------------------------------------ loading
    @property
    def loaded(self) -> bool:
        """Whether the children are known (a lazy node becomes loaded on first access)."""
        return self._kids is not None

    def _children(self) -> _Kids:
        kids = self._kids
        if kids is not None:
            return kids
        assert self._lock is not None
        with self._lock:
            if self._kids is None:
                self._set_from(self._loader())  # type: ignore[misc]
        return self._kids  # type: ignore[return-value]

    def _set_from(self, result: Any) -> None:
        if isinstance(result, Node):
            if result is self:
                raise FetchError(f"inventory: the loader of {self.path!r} returned the node itself")
            nodes = result._children().nodes
            meta = dict(result.meta)
            meta.update(self.meta)
            self.meta = meta
            result._followers.append(weakref.ref(self))
        else:
            nodes = list(result)
        for n in nodes:
            if not isinstance(n, Node):
                raise FetchError(f"inventory: the loader of {self.path!r} returned {type(n).__name__}, not Node")
        self._kids = _Kids(nodes, _reserved(type(self)))
        self.__dict__.pop("_index", None)

    def _unload(self) -> None:
        """Forget lazily loaded children (they are loaded again on next access)."""
        if self._loader is not None:
            with self._lock:  # type: ignore[union-attr]
                self._kids = None
                self.__dict__.pop("_index", None)

    def _replace(self, new: "Node") -> None:
        """Take the children and metadata of ``new`` (one reference swap each; readers see old or new)."""
        kids = new._children()
        for target in [self] + [r() for r in self._followers]:
            if target is None:
                continue
            target._kids = _Kids(kids.nodes, _reserved(type(target)))
            meta = dict(new.meta)
            if target is not self:
                meta.update({k: v for k, v in target.meta.items() if k not in new.meta})
            target.meta = meta
            target.__dict__.pop("_index", None)
            target.__dict__.pop("_hay", None)

    @property
    def children(self) -> list["Node"]:
        """The child nodes (loads them if needed)."""
        return list(self._children().nodes)

    # ------------------------------------------------------------------ access
    def __getattr__(self, name: str) -> "Node":
        if _probed(name) or name in _INTERNAL:
            raise AttributeError(name)
        kids = self._children()
        node = kids.attr.get(name)
        if node is None:
            close = _close_matches(name, kids.attr)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise AttributeError(
                f"{self._label()} has no child {name!r}{hint} ({len(kids.nodes)} children; dir() lists them)"
            )
        return node

    def _label(self) -> str:
        return f"{self.kind} {(self.path or self.name)!r}"

    def _child(self, key: str) -> "Node | None":
        return self._children().lookup(key)

    def __getitem__(self, key: str) -> "Node":
        if not isinstance(key, str):
            raise ProductNotFound(f"{self._label()}: expected a child name or a path string, got {key!r}")
        node = self._child(key)
        if node is not None:
            return node
        parts = [p for p in key.split("/") if p]
        if len(parts) > 1:
            node = self
            for p in parts:
                node = node._child(p)  # type: ignore[union-attr]
                if node is None:
                    break
            if node is not None:
                return node
        # a product path below this node: "cdaweb/AC_H0_MFI/BGSEc" on the root or its provider
        for full in dict.fromkeys([key.strip("/"), f"{self.path}/{key.strip('/')}" if self.path else key]):
            node = self._find(full)
            if node is not None:
                return node
        kids = self._children()
        first = parts[0] if parts else key
        close = _close_matches(first, list(kids.raw) + list(kids.attr))
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise ProductNotFound(f"no product {key!r} in {self._label()}{hint}")

    def __contains__(self, key: object) -> bool:
        if isinstance(key, Node):
            return any(n is key for n in self._children().nodes)
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except ProductNotFound:
            return False
        return True

    def __iter__(self) -> Iterator["Node"]:
        return iter(list(self._children().nodes))

    def __len__(self) -> int:
        return len(self._children().nodes)

    def __bool__(self) -> bool:  # a leaf (len 0) is still a node
        return True

    def __dir__(self) -> list[str]:
        if not _IPYTHON_DONE:
            _allow_ipython_completion()
        names = set(super().__dir__()) - _INTERNAL
        try:
            names.update(self._children().attr)
        except Exception as exc:  # dir() must not raise: IPython would show no completion at all
            logger.warning("inventory: cannot list the children of %s: %s", self.path or self.name, exc)
        return sorted(names)

    def _ipython_key_completions_(self) -> list[str]:
        try:
            return list(self._children().raw)
        except Exception:
            return []

    # ------------------------------------------------------------------ traversal
    def walk(self, kind: str | None = None, load: bool = False) -> Iterator["Node"]:
        """Yield this node and its descendants, depth first, in order.

        Parameters
        ----------
        kind : str, optional
            Only nodes of this kind.
        load : bool
            Load lazy children on the way (may fetch from the network); by default only the nodes
            already loaded are visited.

        Examples
        --------
        >>> from xspace.fetch.inventory import Node
        >>> tree = Node("m", "p/m", "mission", children=[Node("d", "p/d", "dataset", children=[
        ...     Node("x", "p/d/x", "parameter"), Node("y", "p/d/y", "parameter")])])
        >>> [n.path for n in tree.walk(kind="parameter")]
        ['p/d/x', 'p/d/y']
        """
        stack = [self]
        while stack:
            node = stack.pop()
            if kind is None or node.kind == kind:
                yield node
            kids = node._children() if load else node._kids
            if kids is not None and kids.nodes:
                stack.extend(reversed(kids.nodes))

    def _find(self, path: str) -> "Node | None":
        """The node with product path ``path`` below this one, loading lazy nodes along that path."""
        index = self.__dict__.get("_index")
        if index is not None and path in index:
            return index[path]
        while True:
            index = {}
            for n in self.walk():
                index.setdefault(n.path, n)
            self.__dict__["_index"] = index
            if path in index:
                return index[path]
            # unloaded nodes whose path is a prefix of ``path`` (e.g. a dataset whose variables are lazy)
            pending = [n for n in index.values() if n._kids is None and (not n.path or path.startswith(n.path + "/"))]
            if not pending:
                return None
            for n in pending:
                n._children()

    def find(self, path: str) -> "Node":
        """The node whose product path is ``path`` (anywhere below this node).

        Raises
        ------
        ProductNotFound
            With close matches among the product paths known so far.

        Examples
        --------
        >>> from xspace.fetch.inventory import Node
        >>> tree = Node("d", "p/d", "dataset", children=[Node("x", "p/d/x", "parameter")])
        >>> tree.find("p/d/x").name
        'x'
        """
        node = self._find(path)
        if node is None:
            known = [n.path for n in self.walk()]
            close = difflib.get_close_matches(path, known, n=5, cutoff=0.6)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise ProductNotFound(f"no product with path {path!r} in {self._label()}{hint}")
        return node

    # ------------------------------------------------------------------ search
    def _haystack(self) -> str:
        hay = self.__dict__.get("_hay")
        if hay is None:
            hay = " ".join((self.name, str(self.meta.get("description", "")), self.path)).lower()
            self.__dict__["_hay"] = hay
        return hay

    def search(self, query: str, kind: str | None = None, limit: int | None = 50) -> list["Node"]:
        """Nodes below this one whose name, description or path contain every word of ``query``.

        Case-insensitive; each word must match at the start of a word (``"mag"`` finds ``"magnetic"``
        and ``"ace_mag"``, ``"ace"`` does not find ``"spacecraft"``). Ranked: exact name/identifier
        matches first, then nodes whose name holds every word, then by kind (missions before datasets before parameters) and path. Only loaded nodes are
        searched (this node's own children are loaded first).

        Parameters
        ----------
        query : str
            Words separated by spaces.
        kind : str, optional
            Only nodes of this kind (``"dataset"``, ``"parameter"`` ...).
        limit : int or None
            Maximum number of results (``None``: all).

        Examples
        --------
        >>> from xspace.fetch.inventory import Node
        >>> d = Node("AC_H0_MFI", "c/AC_H0_MFI", "dataset", {"description": "ACE magnetic field 16-s"},
        ...          children=[Node("BGSEc", "c/AC_H0_MFI/BGSEc", "parameter",
        ...                         {"description": "Magnetic field vector in GSE"})])
        >>> root = Node("c", "c", "provider", children=[d])
        >>> [n.path for n in root.search("ace magnetic")]
        ['c/AC_H0_MFI']
        >>> [n.name for n in root.search("bgsec")]
        ['BGSEc']
        """
        self._children()
        return _rank(self._candidates(), query, kind, limit)

    def _candidates(self) -> Iterator["Node"]:
        it = self.walk()
        next(it)  # not the node itself
        return it

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of this node and its *loaded* descendants (see :meth:`from_dict`).

        Examples
        --------
        >>> from xspace.fetch.inventory import Node
        >>> Node("x", "p/x", "parameter", {"units": "nT"}).to_dict()
        {'name': 'x', 'path': 'p/x', 'kind': 'parameter', 'meta': {'units': 'nT'}}
        """
        d: dict[str, Any] = {"name": self.name, "path": self.path, "kind": self.kind}
        if self.meta:
            d["meta"] = self.meta
        kids = self._kids
        if kids is not None and kids.nodes:
            d["children"] = [n.to_dict() for n in kids.nodes]
        elif kids is None:
            d["lazy"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], lazy: Callable[["Node"], Any] | None = None) -> "Node":
        """Rebuild a tree written by :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            Output of :meth:`to_dict`.
        lazy : callable, optional
            ``lazy(node) -> list of Node`` (or a Node) becomes the loader of every node that was lazy
            and not loaded when it was saved; without it those nodes come back as leaves.

        Examples
        --------
        >>> from xspace.fetch.inventory import Node
        >>> Node.from_dict({"name": "x", "path": "p/x", "kind": "parameter"}).path
        'p/x'
        >>> saved = Node("d", "p/d", "dataset", children=lambda: []).to_dict()
        >>> back = Node.from_dict(saved, lazy=lambda node: [Node("v", node.path + "/v", "parameter")])
        >>> back.loaded, back.v.path
        (False, 'p/d/v')
        """
        kids = d.get("children")
        if kids:
            children: Any = [Node.from_dict(c, lazy) for c in kids]
        elif d.get("lazy") and lazy is not None:
            children = _LazyLoader(lazy)
        else:
            children = None
        node = cls(d["name"], d["path"], d["kind"], d.get("meta"), children)
        if isinstance(children, _LazyLoader):
            children.node = weakref.ref(node)
        return node

    def __reduce__(self):
        # pickle/copy: the loaded tree (a lazy loader is a closure that may not pickle)
        return (_node_from_dict, (self.to_dict(),))

    # ------------------------------------------------------------------ display
    def _summary_lines(self) -> list[str]:
        m = self.meta
        lines = []
        if m.get("description"):
            desc = str(m["description"])
            lines.append("description: " + (desc if len(desc) <= 200 else desc[:197] + "..."))
        if m.get("units"):
            lines.append(f"units: {m['units']}")
        if m.get("start") or m.get("stop"):
            lines.append(f"time coverage: {m.get('start', '?')} -> {m.get('stop', '?')}")
        if m.get("cadence"):
            lines.append(f"cadence: {m['cadence']}")
        if m.get("components"):
            comps = list(m["components"])
            more = f", ... ({len(comps)})" if len(comps) > 6 else ""
            lines.append("components: " + ", ".join(map(str, comps[:6])) + more)
        return lines

    def _children_line(self) -> str:
        try:
            kids = self._children()
        except Exception as exc:
            return f"children: could not be loaded ({exc})"
        if not kids.nodes:
            return ""
        kinds = {n.kind for n in kids.nodes}
        what = _PLURALS.get(kinds.pop(), "children") if len(kinds) == 1 else "children"
        if len(kids.nodes) == 1:
            what = what[:-1] if what != "children" else "child"
        names = list(kids.attr)
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        return f"{len(kids.nodes)} {what}: {shown}"

    def __repr__(self) -> str:
        ch = self._children_line()  # first: loading a provider adopts its metadata
        head = f"<{self.kind} {self.name!r}" + (f" path={self.path!r}>" if self.path else ">")
        lines = [head] + ["  " + s for s in self._summary_lines()]
        if ch:
            lines.append("  " + ch)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        ch = self._children_line()
        rows = "".join(
            f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(v)}</td></tr>"
            for k, v in (s.split(": ", 1) for s in self._summary_lines())
        )
        title = f"<b>{e(self.kind)}</b> <code>{e(self.name)}</code>"
        if self.path:
            title += f" &mdash; path <code>{e(self.path)}</code>"
        return f"<div>{title}<table>{rows}</table>{'<div>' + e(ch) + '</div>' if ch else ''}</div>"


class _LazyLoader:
    """Loader of a node restored from JSON: calls ``func(node)``."""

    __slots__ = ("func", "node")

    def __init__(self, func: Callable[[Node], Any]):
        self.func = func
        self.node: Callable[[], Node | None] = lambda: None

    def __call__(self) -> Any:
        node = self.node()
        if node is None:  # pragma: no cover - the node owns its loader
            raise FetchError("inventory: lazy loader called without its node")
        return self.func(node)


def _node_from_dict(d: dict[str, Any]) -> Node:
    return Node.from_dict(d)


def _rank(nodes: Iterable[Node], query: str, kind: str | None, limit: int | None) -> list[Node]:
    if kind is not None and kind not in KINDS:
        raise InputError(f"search: kind {kind!r} is not one of {KINDS}")
    q = " ".join(str(query).lower().split())
    words = q.split()
    if not words:
        raise InputError("search: expected at least one word in the query, got an empty string")
    # a word matches at the start of a word of the haystack: "ace" finds "ACE" and "ace-imf", not "spacecraft"
    patterns = [re.compile(r"(?<![0-9a-z])" + re.escape(w)) for w in words]
    scored = []
    for n in nodes:
        if kind is not None and n.kind != kind:
            continue
        hay = n._haystack()
        if not all(p.search(hay) for p in patterns):
            continue
        name = n.name.lower()
        tail = n.path.rsplit("/", 1)[-1].lower()
        exact = 0 if q in (name, tail, n.path.lower()) else 1
        in_name = sum(w not in name and w not in tail for w in words)
        scored.append((exact, in_name, _KIND_RANK.get(n.kind, 9), len(n.path), n.path, n))
    scored.sort(key=lambda t: t[:5])
    out = [t[-1] for t in scored]
    return out if limit is None else out[: int(limit)]


# ---------------------------------------------------------------------------------------------- root
class Inventory(Node):
    """The root of the inventory (``xspace.inventory``): one lazily loaded branch per provider.

    Attributes ``cdaweb``, ``hapi``, ``sscweb``, ``amda``, ``csa`` (from :data:`PROVIDERS`) load the
    provider's catalog on first access by calling ``xspace.fetch.providers.<name>.inventory()``;
    ``virtual`` holds the products registered with ``xspace.register_product``.

    Examples
    --------
    >>> from xspace.fetch.inventory import Inventory
    >>> inv = Inventory()
    >>> inv.add_virtual("my/threshold", {"description": "mirror-mode threshold", "units": "nT"}).path
    'my/threshold'
    >>> inv.virtual.my.threshold.meta["units"], inv["my/threshold"].name
    ('nT', 'threshold')
    >>> [n.path for n in inv.search("mirror", provider="virtual")]
    ['my/threshold']
    """

    def __init__(self) -> None:
        super().__init__("inventory", "", "root", {"description": "every product xspace can fetch"})
        self._providers: dict[str, Node] = {}
        self._where: dict[str, str] = {}  # the server(s) and cache folder each provider branch was built for
        self._virtual = Node("virtual", "virtual", "group",
                             {"description": "products registered with xspace.register_product"})
        self._virtual_lock = threading.Lock()
        self._root_lock = threading.RLock()
        self._snapshot: tuple | None = None

    def _children(self) -> _Kids:
        snap = tuple((name, module, _where(name)) for name, module in PROVIDERS.items())
        kids = self._kids
        if kids is None or snap != self._snapshot:
            with self._root_lock:
                nodes = [self._provider(name) for name in PROVIDERS] + [self._virtual]
                kids = _Kids(nodes, _reserved(type(self)))
                self._kids, self._snapshot = kids, snap
                self.__dict__.pop("_index", None)
        return kids

    def walk(self, kind: str | None = None, load: bool = False) -> Iterator[Node]:
        self._children()  # the provider list follows PROVIDERS
        return super().walk(kind, load)

    def __reduce__(self):
        return "INVENTORY"  # the module-level singleton

    def _provider(self, name: str) -> Node:
        module = PROVIDERS[name]
        where = _where(name)
        with self._root_lock:  # one node (hence one catalog load) per provider, whatever the threads
            node = self._providers.get(name)
            if node is None or node.meta.get("module") != module or self._where.get(name) != where:
                # first use, or the provider now points at another server or cache folder: a new branch
                node = Node(name, name, "provider", {"module": module},
                            children=lambda: _load_provider(name, module))
                self._providers[name] = node
                self._where[name] = where
        return node

    def _provider_nodes(self, provider: str | None) -> list[Node]:
        self._children()
        if provider is None:
            return [self._provider(n) for n in PROVIDERS]
        if provider == "virtual":
            return [self._virtual]
        if provider not in PROVIDERS:
            close = _close_matches(provider, list(PROVIDERS) + ["virtual"])
            raise ProductNotFound(f"inventory: unknown provider {provider!r}; expected one of "
                                  f"{sorted(PROVIDERS) + ['virtual']}" + (f" (close: {close})" if close else ""))
        return [self._provider(provider)]

    def search(self, query: str, provider: str | None = None, kind: str | None = None,  # type: ignore[override]
               limit: int | None = 50) -> list[Node]:
        """Search every provider (or one): see :meth:`Node.search`.

        Providers that cannot be loaded (offline with no persisted catalog, module missing) are
        skipped with a warning in the ``xspace.fetch`` log when ``provider`` is None.

        Examples
        --------
        >>> from xspace.fetch import inventory
        >>> _ = inventory.add_virtual("demo/wind_speed", {"description": "solar wind speed"})
        >>> [n.path for n in inventory.INVENTORY.search("wind speed", provider="virtual")]
        ['demo/wind_speed']
        >>> inventory.remove_virtual("demo/wind_speed")
        True
        """
        roots = self._provider_nodes(provider)
        if provider is None:
            roots.append(self._virtual)
        candidates: list[Node] = []
        for root in roots:
            try:
                root._children()
            except Exception as exc:
                if provider is not None:
                    raise
                logger.warning("inventory: search skips provider %r: %s", root.name, exc)
                continue
            candidates.extend(root._candidates())
        return _rank(candidates, query, kind, limit)

    def refresh(self, provider: str | None = None) -> None:
        """Revalidate the catalogs now (conditional GET, ignoring the TTL) and reload the tree.

        Parameters
        ----------
        provider : str, optional
            One provider; by default every provider loaded so far.

        Examples
        --------
        >>> import tempfile, xspace
        >>> from xspace.testing.cdaweb_site import serve_cdaweb
        >>> with tempfile.TemporaryDirectory() as tmp, serve_cdaweb(days=1, real_files=False) as site, \\
        ...         xspace.set_options(cdaweb_url=site.url, cache_dir=tmp):
        ...     before = dir(xspace.inventory.cdaweb)
        ...     xspace.inventory.refresh("cdaweb")           # a conditional GET of all.xml, now
        ...     dir(xspace.inventory.cdaweb) == before, site.count("all.xml")
        (True, 2)
        """
        if provider is None:
            nodes = [n for n in self._provider_nodes(None) if n.loaded]
        else:
            nodes = self._provider_nodes(provider)
        errors = []
        with _forced_refresh():
            for node in nodes:
                if node is self._virtual:
                    continue
                node._unload()
                try:
                    node._children()
                except Exception as exc:
                    if provider is not None:
                        raise
                    errors.append(f"{node.name}: {exc}")
        for e in errors:
            logger.warning("inventory: refresh failed for %s", e)

    def add_virtual(self, path: str, meta: dict[str, Any] | None = None, kind: str = "parameter") -> Node:
        """Register a virtual product under ``virtual`` (groups made for the path's folders).

        Returns the new node, whose ``path`` is ``path``. A product registered again is replaced.
        """
        parts = [p for p in str(path).split("/") if p]
        if not parts:
            raise InputError(f"add_virtual: expected a product path like 'my/product', got {path!r}")
        with self._virtual_lock:
            parent = self._virtual
            for i, part in enumerate(parts[:-1]):
                kids = parent._children()
                child = kids.raw.get(part)
                if child is None or child.kind != "group":
                    child = Node(part, "/".join(parts[: i + 1]), "group")
                    parent._kids = _Kids([n for n in kids.nodes if n.name != part] + [child], kids.reserved)
                parent = child
            leaf = Node(parts[-1], "/".join(parts), kind, meta)
            kids = parent._children()
            parent._kids = _Kids([n for n in kids.nodes if n.name != parts[-1]] + [leaf], kids.reserved)
            self.__dict__.pop("_index", None)
            for n in self._virtual.walk():
                n.__dict__.pop("_index", None)
        return leaf

    def remove_virtual(self, path: str) -> bool:
        """Remove a virtual product; return whether it was registered.

        Examples
        --------
        >>> from xspace.fetch.inventory import INVENTORY
        >>> _ = INVENTORY.add_virtual("demo/tmp")
        >>> INVENTORY.remove_virtual("demo/tmp"), INVENTORY.remove_virtual("demo/tmp")
        (True, False)
        """
        parts = [p for p in str(path).split("/") if p]
        with self._virtual_lock:
            parent = self._virtual
            for part in parts[:-1]:
                parent = parent._children().raw.get(part)  # type: ignore[assignment]
                if parent is None:
                    return False
            kids = parent._children()
            if not parts or parts[-1] not in kids.raw:
                return False
            parent._kids = _Kids([n for n in kids.nodes if n.name != parts[-1]], kids.reserved)
            self.__dict__.pop("_index", None)
            return True

    def find(self, path: str) -> Node:
        """The node of the product ``path`` (``"amda/ace_epam_ca60_he"``, ``"my/product"``).

        Loads the provider named by the first component of the path (and lazy nodes along the path).

        Examples
        --------
        >>> from xspace.fetch.inventory import INVENTORY
        >>> _ = INVENTORY.add_virtual("demo/found", {"units": "nT"})
        >>> INVENTORY.find("demo/found").meta["units"]
        'nT'
        >>> INVENTORY.remove_virtual("demo/found")
        True
        """
        first = path.split("/", 1)[0]
        roots = [self._virtual]
        if first in PROVIDERS:
            roots.insert(0, self._provider(first))
        for root in roots:
            node = root._find(path)
            if node is not None:
                return node
        close = []
        for root in roots:
            close += difflib.get_close_matches(path, [n.path for n in root.walk()], n=5, cutoff=0.6)
        hint = f"; close matches: {', '.join(close[:5])}" if close else ""
        raise ProductNotFound(f"no product with path {path!r} in the inventory{hint}")

    def _find(self, path: str) -> Node | None:
        try:
            return self.find(path)
        except ProductNotFound:
            return None


def _where(name: str) -> str:
    """Where a provider's branch comes from: its server URL(s) and the cache folder (options, env).

    A branch built for one server (or cache folder) is not shown once the options point elsewhere.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(cdaweb_url="http://127.0.0.1:8000", cache_dir="/tmp/a"):
    ...     a = _where("cdaweb")
    >>> with xspace.set_options(cdaweb_url="http://127.0.0.1:8001", cache_dir="/tmp/a"):
    ...     b = _where("cdaweb")
    >>> a == b
    False
    """
    from . import DEFAULT_URLS, base_url, hapi_servers
    from .cache import cache_dir

    try:
        if name == "hapi":
            servers = sorted(hapi_servers().items())
        elif name == "cdaweb":
            servers = [base_url("cdaweb"), get_options().get("cdaweb_catalog_url")
                       or os.environ.get("XSPACE_CDAWEB_CATALOG_URL") or ""]
        elif name in DEFAULT_URLS:
            servers = [base_url(name)]
        else:
            servers = []
        return repr((servers, str(cache_dir())))
    except Exception:  # a misconfigured provider fails when loaded, with its own message
        return ""


def _load_provider(name: str, module: str) -> Node:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise FetchError(f"inventory: provider {name!r} is not available: cannot import {module!r} ({exc})") from exc
    node = mod.inventory()
    if not isinstance(node, Node):
        raise FetchError(f"inventory: {module}.inventory() returned {type(node).__name__}, expected a Node")
    return node


#: the root of the inventory, exposed as ``xspace.inventory``
INVENTORY = Inventory()


def _allow_ipython_completion() -> None:
    """Let IPython's default completer (``evaluation="limited"``) evaluate ``node.child.<TAB>``.

    IPython only follows attribute and item access on chained expressions for types whose
    ``__getattr__``/``__getitem__`` it knows (it lists pandas' DataFrame the same way); without this,
    only jedi completes below the first level. Done at import when IPython is already imported, else
    on the first ``dir()`` of a node made after IPython was imported.
    """
    import sys

    global _IPYTHON_DONE
    guarded = sys.modules.get("IPython.core.guarded_eval")
    if guarded is None or _IPYTHON_DONE:
        return
    _IPYTHON_DONE = True
    try:
        policy = guarded.EVALUATION_POLICIES["limited"]
        policy.allowed_getattr_external.add((__name__, "Node"))
        policy.allowed_getitem_external.add((__name__, "Node"))
    except (AttributeError, KeyError, TypeError):  # another IPython version: jedi still completes
        pass


_IPYTHON_DONE = False


_allow_ipython_completion()


def add_virtual(path: str, meta: dict[str, Any] | None = None, kind: str = "parameter") -> Node:
    """Show a virtual product in :data:`INVENTORY` (``INVENTORY.virtual...``); see :meth:`Inventory.add_virtual`.

    Examples
    --------
    >>> from xspace.fetch import inventory
    >>> inventory.add_virtual("demo/doubled", {"description": "twice the input"}).path
    'demo/doubled'
    >>> inventory.INVENTORY.virtual.demo.doubled.meta["description"]
    'twice the input'
    >>> inventory.remove_virtual("demo/doubled")
    True
    """
    return INVENTORY.add_virtual(path, meta, kind)


def remove_virtual(path: str) -> bool:
    """Remove a virtual product from :data:`INVENTORY`; return whether it was there.

    Examples
    --------
    >>> remove_virtual("never/added")
    False
    """
    return INVENTORY.remove_virtual(path)


# ---------------------------------------------------------------------------------------------- persistence
_FORMAT = 1
_local = threading.local()
_refresh_threads: dict[str, threading.Thread] = {}
_refresh_guard = threading.Lock()


@contextlib.contextmanager
def _forced_refresh():
    old = getattr(_local, "force", False)
    _local.force = True
    try:
        yield
    finally:
        _local.force = old


def refresh_requested() -> bool:
    """Whether the current thread runs :meth:`Inventory.refresh` (providers then revalidate with ``ttl=0``).

    Examples
    --------
    >>> refresh_requested()
    False
    """
    return bool(getattr(_local, "force", False))


def inventory_file(name: str) -> Path:
    """Where :func:`cached_tree` persists the tree ``name``: ``<cache_dir>/inventory/<name>.json``.

    Examples
    --------
    >>> import xspace
    >>> with xspace.set_options(cache_dir="/c"):
    ...     str(inventory_file("amda"))
    '/c/inventory/amda.json'
    """
    from . import cache

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise InputError(f"inventory_file: expected a plain name (letters, digits, _ . -), got {name!r}")
    return cache.cache_dir() / "inventory" / f"{name}.json"


def _read_record(file: Path, url: str, params: Any, version: Any) -> dict | None:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.warning("inventory: cannot read %s (%s); rebuilding it", file, exc)
        return None
    try:
        rec = json.loads(raw)
        if not isinstance(rec, dict) or not isinstance(rec.get("tree"), dict):
            raise ValueError("not an inventory record")
        float(rec["checked"])
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("inventory: %s is corrupt (%s); rebuilding it", file, exc)
        return None
    if rec.get("format") != _FORMAT or rec.get("url") != url or rec.get("params") != _jsonable(params) \
            or rec.get("version") != version:
        return None
    return rec


def _jsonable(params: Any) -> Any:
    if params is None:
        return None
    items = sorted(params.items()) if isinstance(params, dict) else list(params)
    return [[str(k), str(v)] for k, v in items]


def _write_record(file: Path, rec: dict) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(rec, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, file)
    except OSError as exc:  # a read-only cache must not stop the inventory from working
        logger.warning("inventory: cannot write %s: %s", file, exc)


def _validators(url: str, params: Any) -> dict:
    """ETag / Last-Modified / validation time the byte cache recorded for ``url``."""
    from . import cache

    try:
        meta = cache._read_meta(cache.path_for(url, params)) or {}
    except Exception:
        meta = {}
    return {"etag": meta.get("etag"), "last_modified": meta.get("last_modified"),
            "validated": meta.get("validated")}


def _build(name, url, parse, data: bytes, params, version) -> tuple[Node, dict]:
    try:
        with _no_gc():
            tree = parse(data)
    except Exception as exc:
        raise FetchError(f"inventory {name!r}: cannot parse the catalog {url}: {exc}") from exc
    if not isinstance(tree, Node):
        raise FetchError(f"inventory {name!r}: the parser of {url} returned {type(tree).__name__}, not a Node")
    now = time.time()
    v = _validators(url, params)
    rec = {"format": _FORMAT, "name": name, "url": url, "params": _jsonable(params), "version": version,
           "etag": v["etag"], "last_modified": v["last_modified"], "sha256": hashlib.sha256(data).hexdigest(),
           "size": len(data), "fetched": now, "checked": float(v["validated"] or now), "tree": tree.to_dict()}
    return tree, rec


def cached_tree(
    name: str,
    url: str,
    parse: Callable[[bytes], Node],
    ttl: float = 86400.0,
    headers: dict | None = None,
    *,
    params: dict | None = None,
    kind: str = "any",
    version: Any = 1,
    fetch: Callable[[float], bytes] | None = None,
    lazy: Callable[[Node], Any] | None = None,
) -> Node:
    """A provider's inventory tree built by ``parse`` from the catalog at ``url``, persisted on disk.

    The tree is kept as JSON in :func:`inventory_file` (``<cache_dir>/inventory/<name>.json``) with the
    catalog's URL, ETag, Last-Modified, SHA-256 and fetch/validation times:

    * fresh (validated less than ``ttl`` seconds ago): the JSON is loaded — no request, no parsing;
    * stale: the persisted tree is returned at once and revalidated in a background daemon thread with a
      conditional GET through :func:`xspace.fetch.cache.fetch_bytes`; an unchanged catalog (304) only
      extends the validity, a changed one is parsed again and replaces the tree — file (atomically) and
      returned node (in place);
    * missing, corrupt, or written for another URL/params/``version``: fetched and parsed now;
    * offline (``xspace.set_options(offline=True)``): the persisted tree, else the catalog from the
      byte cache, else :class:`~xspace.errors.OfflineError`.

    Parameters
    ----------
    name : str
        File name of the persisted tree (usually the provider name).
    url : str
        Catalog URL.
    parse : callable
        ``parse(bytes) -> Node``; its result's children and metadata are what is persisted.
    ttl : float
        Seconds the persisted tree is considered fresh.
    headers, params : dict, optional
        Passed to ``fetch_bytes``.
    kind : str
        Content check of ``fetch_bytes`` (``"xml"``, ``"json"`` ...).
    version : JSON-able
        Bump it when ``parse`` changes: a tree persisted by another version is rebuilt.
    fetch : callable, optional
        ``fetch(ttl) -> bytes`` replacing ``fetch_bytes(url, ...)`` for catalogs that take more than
        one request (e.g. a service answering with the URL of the document); ``url`` then only
        identifies the persisted tree.
    lazy : callable, optional
        ``lazy(node) -> list of Node``: children of the nodes ``parse`` made lazy (e.g. a dataset whose
        parameters are asked for when it is expanded). Loaders are functions and cannot be saved:
        a tree read back from disk gets this one on those nodes (see :meth:`Node.from_dict`).

    Returns
    -------
    Node

    Examples
    --------
    >>> import tempfile, xspace
    >>> from xspace.testing import LocalServer, Reply
    >>> from xspace.fetch.inventory import cached_tree, Node
    >>> def parse(data):
    ...     return Node("demo", "demo", "provider", children=[
    ...         Node(w, f"demo/{w}", "dataset") for w in data.decode().split()])
    >>> with tempfile.TemporaryDirectory() as tmp, xspace.set_options(cache_dir=tmp), LocalServer() as srv:
    ...     srv.mount("/catalog.txt", lambda req: Reply(body=b"AC_H0_MFI WI_H0_MFI"))
    ...     first = cached_tree("demo", srv.url + "/catalog.txt", parse)
    ...     second = cached_tree("demo", srv.url + "/catalog.txt", parse)   # from disk: no request
    ...     [n.path for n in second], srv.count("/catalog.txt")
    (['demo/AC_H0_MFI', 'demo/WI_H0_MFI'], 1)
    """
    from . import cache

    file = inventory_file(name)
    offline = bool(get_options()["offline"])
    force = getattr(_local, "force", False)
    with _no_gc():
        rec = _read_record(file, url, params, version)
    tree = None
    if rec is not None:
        try:
            with _no_gc():
                tree = Node.from_dict(rec["tree"], lazy)
        except Exception as exc:
            logger.warning("inventory: %s holds an unreadable tree (%s); rebuilding it", file, exc)
            rec = None
    if tree is not None:
        if offline:
            return tree
        if force:
            try:
                _revalidate(name, url, parse, tree, rec, file, headers, params, kind, version, fetch)
            except (FetchError, OSError) as exc:
                logger.warning("inventory: cannot revalidate %s (%s); keeping the persisted tree", url, exc)
            return tree
        if time.time() - float(rec["checked"]) > ttl:  # type: ignore[index]
            _start_refresh(name, url, parse, tree, rec, file, headers, params, kind, version, fetch)
        return tree
    # nothing usable on disk: fetch (the byte cache may still hold the catalog) and parse now
    if fetch is not None:
        data = fetch(0 if force else ttl)
    else:
        data = cache.fetch_bytes(url, kind=kind, ttl=0 if force else ttl, params=params, headers=headers)
    tree, rec = _build(name, url, parse, data, params, version)
    _write_record(file, rec)
    return tree


def _revalidate(name, url, parse, tree: Node, rec: dict, file: Path, headers, params, kind, version,
                fetch=None) -> None:
    from . import cache

    if fetch is not None:
        data = fetch(0)
    else:
        data = cache.fetch_bytes(url, kind=kind, ttl=0, params=params, headers=headers)
    sha = hashlib.sha256(data).hexdigest()
    if sha == rec.get("sha256"):
        v = _validators(url, params)
        if v["validated"] is not None and float(v["validated"]) <= float(rec["checked"]):
            return  # served stale by the byte cache (server unreachable): not validated
        rec = dict(rec, checked=float(v["validated"] or time.time()), etag=v["etag"] or rec.get("etag"),
                   last_modified=v["last_modified"] or rec.get("last_modified"))
        _write_record(file, rec)
        return
    new, new_rec = _build(name, url, parse, data, params, version)
    _write_record(file, new_rec)
    tree._replace(new)
    logger.info("inventory: %s changed upstream; tree %r rebuilt", url, name)


def _start_refresh(name, url, parse, tree, rec, file, headers, params, kind, version, fetch) -> None:
    key = str(file)

    def run():
        try:
            _revalidate(name, url, parse, tree, rec, file, headers, params, kind, version, fetch)
        except Exception as exc:  # a background refresh must never surface as an unhandled thread error
            logger.warning("inventory: background refresh of %r from %s failed: %s", name, url, exc)

    with _refresh_guard:
        old = _refresh_threads.get(key)
        if old is not None and old.is_alive():
            return
        t = threading.Thread(target=run, name=f"xspace-inventory-refresh-{name}", daemon=True)
        _refresh_threads[key] = t
        t.start()


def wait_for_refresh(timeout: float | None = None) -> bool:
    """Wait for the background catalog refreshes started so far; return True if all finished.

    Examples
    --------
    >>> wait_for_refresh(timeout=1.0)
    True
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with _refresh_guard:
        threads = list(_refresh_threads.values())
    for t in threads:
        t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


# ---------------------------------------------------------------------------------------------- AMDA
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_BR = re.compile(r"\s*<br\s*/?>\s*", re.I)
_TAG = re.compile(r"<[^>]+>")
_SAMPLING = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([SMHD])\s*$", re.I)
_AMDA_KIND = {"mission": "mission", "observatory": "group", "instrument": "instrument",
              "datasetGroup": "group", "dataset": "dataset"}


def _clean(text: str | None) -> str:
    if not text:
        return ""
    text = _BR.sub("; ", text)
    text = _TAG.sub("", text)
    return " ".join(text.split()).strip("; ")


def _iso_duration(sampling: str | None) -> str | None:
    """AMDA sampling ("60S", "5M", "1H", "0.5S", "1D") -> ISO 8601 duration ("PT60S", "PT5M" ...)."""
    if not sampling:
        return None
    m = _SAMPLING.match(sampling)
    if not m:
        return None
    value, unit = m.group(1), m.group(2).upper()
    return f"P{value}D" if unit == "D" else f"PT{value}{unit}"


def _amda_meta(el: ET.Element, tag: str) -> dict[str, Any]:
    a = el.attrib
    meta: dict[str, Any] = {"id": a.get(_XML_ID, "")}
    desc = _clean(a.get("desc"))
    if desc:
        meta["description"] = desc
    if a.get("target"):
        meta["target"] = a["target"]
    if tag == "dataset":
        meta["start"] = a.get("dataStart")
        meta["stop"] = a.get("dataStop")
        cadence = _iso_duration(a.get("sampling"))
        if cadence:
            meta["cadence"] = cadence
        if a.get("sampling"):
            meta["sampling"] = a["sampling"]
        max_cadence = _iso_duration(a.get("maxSampling"))
        if max_cadence:
            meta["max_cadence"] = max_cadence
        for src, dst in (("lastUpdate", "last_update"), ("dataSource", "source"), ("spaseId", "spase_id"),
                         ("measurement_type", "measurement_type"), ("processing_level", "processing_level"),
                         ("timeRestriction", "restricted_after"), ("PriorID", "prior_id")):
            if a.get(src):
                meta[src if dst is None else dst] = a[src]
        meta = {k: v for k, v in meta.items() if v is not None}
    return meta


def _amda_parameter(el: ET.Element, prefix: str, ds_meta: dict[str, Any], ds_id: str) -> Node:
    a = el.attrib
    pid = a.get(_XML_ID, "")
    name = a.get("name") or pid
    meta: dict[str, Any] = {"id": pid, "description": _clean(a.get("description")) or name.strip()}
    if a.get("units"):
        meta["units"] = a["units"]
    if a.get("size"):
        try:
            meta["size"] = int(a["size"])
        except ValueError:
            meta["size"] = a["size"]
    components = [c.get("name", "") for c in el if c.tag == "component"]
    if components:
        meta["components"] = components
    for src in ("display_type", "ucd", "template"):
        if a.get(src):
            meta[src] = a[src]
    args = el.find("arguments")
    if args is not None:
        meta["arguments"] = {
            arg.get("key", ""): {
                **{k: v for k, v in arg.attrib.items() if k != "key"},
                **({"items": {it.get("key", ""): it.get("name", "") for it in arg}} if len(arg) else {}),
            }
            for arg in args
        }
    meta["dataset"] = ds_id
    for k in ("start", "stop", "cadence"):
        if k in ds_meta:
            meta[k] = ds_meta[k]
    return Node(name, f"{prefix}/{pid}", "parameter", meta)


def _amda_node(el: ET.Element, prefix: str) -> Node | None:
    tag = el.tag
    kind = _AMDA_KIND.get(tag)
    if kind is None:
        return None
    xid = el.get(_XML_ID, "")
    meta = _amda_meta(el, tag)
    if tag == "observatory":
        meta["group_type"] = "observatory"
    elif tag == "datasetGroup":
        meta["group_type"] = "datasetGroup"
    if tag == "dataset":
        children = [_amda_parameter(p, prefix, meta, xid) for p in el if p.tag == "parameter"]
    else:
        children = [n for n in (_amda_node(c, prefix) for c in el) if n is not None]
    return Node(el.get("name") or xid, f"{prefix}/{xid}", kind, meta, children)


def amda_tree_to_node(xml_bytes: bytes, prefix: str = "amda") -> Node:
    """Inventory tree of AMDA's ``getObsDataTree`` XML.

    The XML nests ``mission`` / (``observatory``) / ``instrument`` / (``datasetGroup``) / ``dataset`` /
    ``parameter`` elements (plus ``component`` rows of vector parameters); the tree keeps that nesting
    (observatories and dataset groups are ``"group"`` nodes), each node named by its ``name`` attribute
    and with path ``"<prefix>/<xml:id>"`` — for parameters the identifier AMDA's ``getParameter`` takes.

    Metadata: ``id``, ``description`` (HTML line breaks turned into ``"; "``), and for datasets
    ``start``/``stop`` (``dataStart``/``dataStop``), ``cadence`` (``sampling`` as an ISO 8601 duration,
    e.g. ``"5M"`` -> ``"PT5M"``), ``sampling``, ``source``, ``spase_id``, ``last_update`` ...;
    parameters add ``units``, ``size``, ``components`` (names), ``display_type``, ``dataset`` and the
    time coverage and cadence of their dataset; template parameters keep ``template`` and ``arguments``.

    Parameters
    ----------
    xml_bytes : bytes
        The XML document.
    prefix : str
        First component of the paths (the provider name).

    Returns
    -------
    Node
        A ``"provider"`` node whose children are the missions.

    Examples
    --------
    >>> from xspace.fetch.inventory import amda_tree_to_node
    >>> xml = b'''<dataRoot><dataCenter name="AMDA"><mission xml:id="ACE" name="ACE" desc="NASA">
    ...   <instrument xml:id="ACE_mfi" name="MFI" desc="Magnetic Field Experiment">
    ...   <dataset xml:id="ace-imf-all" name="final / prelim" sampling="16S"
    ...     dataStart="1997-09-02T00:00:12Z" dataStop="2024-09-30T23:59:52Z" desc="IMF&lt;br/&gt;16 s">
    ...   <parameter xml:id="imf" name="b" units="nT" description="IMF vector" size="3">
    ...   <component xml:id="imf(0)" index1="0" name="bx"/><component xml:id="imf(1)" index1="1" name="by"/>
    ...   <component xml:id="imf(2)" index1="2" name="bz"/></parameter></dataset></instrument>
    ...   </mission></dataCenter></dataRoot>'''
    >>> tree = amda_tree_to_node(xml)
    >>> b = tree.ACE.MFI.final___prelim.b
    >>> b.path, b.meta["units"], b.meta["components"], b.meta["cadence"]
    ('amda/imf', 'nT', ['bx', 'by', 'bz'], 'PT16S')
    >>> tree.ACE.MFI["final / prelim"].meta["description"]
    'IMF; 16 s'
    """
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        raise FetchError(f"amda_tree_to_node: expected AMDA's getObsDataTree XML, cannot parse it ({exc})") from exc
    with _no_gc():
        missions = [n for n in (_amda_node(m, prefix) for m in root.iter("mission")) if n is not None]
    center = root.find("dataCenter")
    meta = {"description": "AMDA (CDPP, IRAP Toulouse) data tree"}
    if center is not None and center.get("name"):
        meta["data_center"] = center.get("name")
    return Node(prefix, prefix, "provider", meta, missions)
