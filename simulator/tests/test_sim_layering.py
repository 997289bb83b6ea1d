"""The package's import graph is acyclic and layered: server -> routes -> tenant -> store/exports/data."""

from __future__ import annotations

import ast
from pathlib import Path

import qualtrics_simulator

PACKAGE = Path(qualtrics_simulator.__file__).parent
NAME = "qualtrics_simulator"


def imports_of(path: Path) -> set[str]:
    """Sibling modules a module imports anywhere (TYPE_CHECKING blocks and function bodies included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(NAME + "."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith(NAME + "."))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: imports_of(PACKAGE / f"{m}.py") & modules for m in modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*trail, module, target]
            if target not in state:
                cycle = visit(target, [*trail, module])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            if cycle:
                return cycle
    return None


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert {"server", "routes", "tenant", "store", "data"} <= set(graph)
    assert find_cycle(graph) is None


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None


def test_layers_point_one_way() -> None:
    graph = import_graph()
    http = {"server", "simulator", "cli"}
    assert not reaches(graph, "routes") & http, "route handlers never see the HTTP layer"
    assert not reaches(graph, "tenant") & (http | {"routes", "directory_routes", "admin", "routing"})
    assert not reaches(graph, "data") & {"store", "exports", "tenant", "directory"}
