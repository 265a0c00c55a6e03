"""The import graph keeps the layers of docs/ARCHITECTURE.md: every module of the package (and the
DAG files) is parsed with `ast`, imports inside functions included, mapped to its layer, and
checked against ALLOWED; reports and the layers below them import nothing that sends; and no
module circle exists, however it is hidden. A failure names each offending edge with its file and
line.

ALLOWED is the one table of allowed dependencies; docs/ARCHITECTURE.md shows the same table and
`test_the_architecture_document_shows_the_same_table` keeps the two equal.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"pwatch": "precursor_watch", "crawlers": "precursor_watch.crawlers", "fixtures": "precursor_watch.fixtures",
           "nlp": "precursor_watch.nlp", "reports": "precursor_watch.reports", "storage": "precursor_watch.storage"}

# Layer -> the other layers its modules may import (a layer may always import itself).
ALLOWED: dict[str, frozenset[str]] = {
    "contract": frozenset(),
    "config": frozenset(),
    "fixtures": frozenset({"config"}),
    "storage": frozenset({"contract"}),
    "nlp": frozenset({"contract"}),
    "crawlers": frozenset({"contract", "config", "storage"}),
    "ledger": frozenset({"contract", "storage"}),
    "reports": frozenset({"contract", "config", "storage", "ledger"}),
    "verification": frozenset({"contract", "config", "storage", "ledger", "crawlers", "reports"}),
    "enforcement": frozenset({"contract", "config", "storage", "reports"}),
    "pipeline": frozenset({"contract", "config", "storage", "nlp", "crawlers", "fixtures", "ledger", "reports",
                           "verification", "enforcement"}),
    "console": frozenset({"contract", "config", "storage", "crawlers", "ledger", "reports", "verification", "enforcement",
                          "pipeline"}),
    "cli": frozenset({"contract", "config", "storage", "nlp", "crawlers", "fixtures", "ledger", "reports",
                      "verification", "enforcement", "pipeline", "console"}),
    "dags": frozenset({"config", "pipeline"}),
}

# Modules that send over the network; these layers render, read or store and must not send.
SENDERS = ("urllib.request", "http.client", "httpx", "requests", "aiohttp", "smtplib", "socket")
NO_SENDING = ("contract", "storage", "nlp", "reports")


# What every layer may read: the settings, their one-line error type and the platform list.
CONFIG = {"settings", "errors", "platforms"}
# The auditor's side of the ledger re-reads WARC records and recomputes reports, so it sits above both.
VERIFICATION = {"verify", "exports", "pack", "pack_verifier"}


def layer_of(module: str) -> str:
    """The layer of a module of ours (`precursor_watch...` or `dags...`)."""
    parts = module.split(".")
    if parts[0] == "dags":
        return "dags"
    if len(parts) == 1:
        return "pipeline"
    if parts[1] in CONFIG:
        return "config"
    if parts[1] == "ledger" and len(parts) > 2 and parts[2] in VERIFICATION:
        return "verification"
    if parts[1] in ("contract", "storage", "nlp", "crawlers", "fixtures", "ledger", "reports", "enforcement", "console"):
        return parts[1]
    if parts[1] in ("cli", "__main__", "commands"):
        return "cli"
    return "pipeline"  # steps, settings, Airflow tasks and the small helpers they share


@dataclass(frozen=True)
class Edge:
    source: str  # importing module
    target: str  # imported module: ours (dotted name) or external (as written)
    path: str  # file of the importing module, relative to the checkout
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} -> {self.target}"


def modules_under(root: Path, folders: dict[str, str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file in the mapped folders."""
    found = {}
    for folder, package in folders.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root / folder).with_suffix("").parts
            parts = [package, *(rel[:-1] if rel[-1] == "__init__" else rel)]
            found[".".join(p for p in parts if p)] = path
    return found


def imports_of(name: str, path: Path, ours: set[str], root: Path) -> tuple[list[Edge], list[Edge]]:
    """(edges to our modules, edges to external modules) of one file, every import statement in it
    (module level, inside functions, under TYPE_CHECKING alike)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    rel = str(path.relative_to(root))
    internal, external = [], []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            # Outside the project either may be meant (`from urllib import request`): keep both.
            targets = []
            for alias in node.names:
                dotted = f"{module}.{alias.name}"
                targets += [dotted] if dotted in ours else [module] if module in ours else [module, dotted]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target in ours:
                if target != name:
                    internal.append(Edge(name, target, rel, node.lineno))
            elif not target.startswith(("precursor_watch", "dags")):
                external.append(Edge(name, target, rel, node.lineno))
    return internal, external


def import_graph(root: Path, folders: dict[str, str]) -> tuple[list[Edge], list[Edge]]:
    modules = modules_under(root, folders)
    internal, external = [], []
    for name, path in modules.items():
        ours, theirs = imports_of(name, path, set(modules), root)
        internal += ours
        external += theirs
    return internal, external


def layer_violations(edges: list[Edge]) -> list[str]:
    out = []
    for e in edges:
        source, target = layer_of(e.source), layer_of(e.target)
        if source != target and target not in ALLOWED[source]:
            allowed = ", ".join(sorted(ALLOWED[source])) or "nothing of the project"
            out.append(f"{e}  ({source} may import: {allowed})")
    return out


def sending_violations(external: list[Edge]) -> list[str]:
    return [f"{e}  ({layer_of(e.source)} must not send)" for e in external
            if layer_of(e.source) in NO_SENDING and any(e.target == s or e.target.startswith(s + ".") for s in SENDERS)]


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One closed path of edges for every strongly connected group of modules (Tarjan)."""
    graph: dict[str, dict[str, Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, {}).setdefault(e.target, e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_closed_path(graph, group) for group in groups]


def _closed_path(graph: dict[str, dict[str, Edge]], group: set[str]) -> list[Edge]:
    """A shortest cycle through the group's first module, as edges (breadth-first)."""
    start = min(group)
    came: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w, e in sorted(graph.get(v, {}).items()):
                if w == start:
                    path = [e]
                    while path[0].source != start:
                        path.insert(0, came[path[0].source])
                    return path
                if w in group and w not in came:
                    came[w] = e
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")


def _report(title: str, lines: list[str]) -> str:
    return title + ":\n  " + "\n  ".join(lines)


INTERNAL, EXTERNAL = import_graph(ROOT, {**FOLDERS, "dags": "dags"})


def test_the_graph_sees_every_layer_and_imports_inside_functions():
    layers = {layer_of(e.source) for e in INTERNAL}
    assert layers >= {"storage", "crawlers", "reports", "enforcement", "pipeline", "cli", "dags"}
    # pwatch/steps.py imports the sender inside a function: the graph must still see that edge.
    assert any(e.source == "precursor_watch.steps" and e.target == "precursor_watch.enforcement.notices" for e in INTERNAL)


def test_every_import_follows_the_allowed_dependency_table():
    violations = layer_violations(INTERNAL)
    assert not violations, _report("imports against docs/ARCHITECTURE.md, 'Layers'", violations)


def test_the_contract_imports_nothing_of_the_project():
    edges = [str(e) for e in INTERNAL if e.source == "precursor_watch.contract"]
    assert not edges, _report("the contract must stay a leaf", edges)


def test_reports_and_the_layers_below_import_nothing_that_sends():
    violations = sending_violations(EXTERNAL)
    assert not violations, _report("sending from a layer that only renders, reads or stores", violations)


def test_no_module_circles():
    found = cycles(INTERNAL)
    assert not found, _report("import circles (each edge with its file and line)",
                              [" ; ".join(str(e) for e in cycle) for cycle in found])


def test_the_architecture_document_shows_the_same_table():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|$", section, re.M):
        table[m.group(1)] = frozenset(re.findall(r"`(\w+)`", m.group(2)))
    assert table == ALLOWED


# -- the checker itself can fail -----------------------------------------------------------------


def test_the_checker_names_a_forbidden_edge_a_hidden_circle_and_a_sender(tmp_path):
    """A small fake project: storage reaching up into crawlers from inside a function, a circle
    held apart by a function-level import, and a report that opens an HTTP connection."""
    files = {
        "pwatch/__init__.py": "",
        "pwatch/contract.py": "import dataclasses\n",
        "storage/__init__.py": "",
        "storage/ingest.py": "def f():\n    from precursor_watch.crawlers.items import X\n",
        "crawlers/__init__.py": "",
        "crawlers/items.py": "from precursor_watch.contract import Y\n",
        "crawlers/middlewares.py": "def g():\n    from precursor_watch.crawlers.spiders import base\n",
        "crawlers/spiders/__init__.py": "",
        "crawlers/spiders/base.py": "from ..middlewares import g\n",
        "reports/__init__.py": "",
        "reports/notices.py": "from urllib import request\nimport http.client\n",
    }
    for rel, source in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source, encoding="utf-8")
    internal, external = import_graph(tmp_path, {"pwatch": "precursor_watch", "storage": "precursor_watch.storage",
                                                 "crawlers": "precursor_watch.crawlers", "reports": "precursor_watch.reports"})
    assert layer_violations(internal) == [
        "storage/ingest.py:2: precursor_watch.storage.ingest -> precursor_watch.crawlers.items  (storage may import: contract)"]
    assert [[str(e) for e in c] for c in cycles(internal)] == [[
        "crawlers/middlewares.py:2: precursor_watch.crawlers.middlewares -> precursor_watch.crawlers.spiders.base",
        "crawlers/spiders/base.py:1: precursor_watch.crawlers.spiders.base -> precursor_watch.crawlers.middlewares"]]
    assert sending_violations(external) == [
        "reports/notices.py:1: precursor_watch.reports.notices -> urllib.request  (reports must not send)",
        "reports/notices.py:2: precursor_watch.reports.notices -> http.client  (reports must not send)"]
