"""ARCHITECTURE.md stays true: its table of rooms is the import graph as it really is.

The graph is read from the source (every `import` and `from … import`, type-checking-only ones
included), rooms are the table's dotted prefixes (a module belongs to the longest one that
matches), and the test fails when the code imports across rooms in a way the table does not
list, when the table lists an import nobody makes, when a package folder has no row, or when
modules import each other in a loop.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "infra", "indexer", "search_api", "listing_search", "bench")
# Only these may import the stream worker: the processes that run one.
WORKER = "indexer.pipeline.worker"
WORKER_IMPORTERS = {"listing_search.runner", "listing_search.cli"}

ROOMS_HEADING = "## Rooms and which way imports go"
_ROW = re.compile(r"^\|\s*`([a-z_.]+)`\s*\|([^|]+)\|([^|]*)\|$")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in (`a.b.c` may be a module, or a name in `a.b`)."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for imported in names:
                target = _resolve(imported, modules)
                if target is not None and target != name and not name.startswith(f"{target}."):
                    graph[name].add(target)
    return graph


def documented_rooms() -> dict[str, set[str]]:
    """`room -> rooms it may import`, from ARCHITECTURE.md's table."""
    rooms: dict[str, set[str]] = {}
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split(f"\n{ROOMS_HEADING}\n", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        if m := _ROW.match(line.strip()):
            rooms[m.group(1)] = set(re.findall(r"`([a-z_.]+)`", m.group(3)))
    assert rooms, "ARCHITECTURE.md has no table of rooms"
    return rooms


def room_of(module: str, rooms: dict[str, set[str]]) -> str:
    found = [r for r in rooms if module == r or module.startswith(f"{r}.")]
    assert found, f"{module} belongs to no room of ARCHITECTURE.md"
    return max(found, key=len)


def test_the_documented_rooms_are_the_import_graph() -> None:
    rooms = documented_rooms()
    actual: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            a, b = room_of(module, rooms), room_of(target, rooms)
            if a != b:
                actual[a].add(b)
    undocumented = {f"{a} -> {b}" for a, bs in actual.items() for b in bs if b not in rooms[a]}
    unused = {f"{a} -> {b}" for a, bs in rooms.items() for b in bs if b not in actual[a]}
    assert not undocumented, f"imports ARCHITECTURE.md does not allow: {sorted(undocumented)}"
    assert not unused, f"ARCHITECTURE.md allows imports nobody makes (keep it true): {sorted(unused)}"


def test_every_package_folder_has_a_room_and_a_purpose() -> None:
    rooms = documented_rooms()
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            name = ".".join(init.parent.relative_to(ROOT).parts)
            assert name in rooms, f"{name} has no row in ARCHITECTURE.md's table of rooms"
            assert ast.get_docstring(ast.parse(init.read_text())), f"{init} says nothing of what the folder holds"


def test_no_import_loops() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not loops, f"modules that import each other: {loops}"


def test_only_the_process_runners_import_the_worker() -> None:
    importers = {module for module, targets in import_graph().items() if WORKER in targets}
    assert importers <= WORKER_IMPORTERS, sorted(importers - WORKER_IMPORTERS)
