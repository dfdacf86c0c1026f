"""The layers as a maintainer reads them: arrows point down only, no import circle, small files.

    flows/      Prefect flows and the commands that run them
    tasks/      thin Prefect tasks
    insarhub/   the domain library: no Prefect, no flows or tasks, no sandbox
    sandbox/insarhub_sandbox/   the offline world: imports none of the above

Every import statement counts, also those inside functions (a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"insarhub": REPO / "insarhub", "tasks": REPO / "tasks", "flows": REPO / "flows",
            "insarhub_sandbox": REPO / "sandbox" / "insarhub_sandbox"}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    modules = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported(tree: ast.AST) -> Iterator[str]:
    """Every module an import statement names (`from pkg import mod` names `pkg.mod`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{a.name}" for a in node.names
                          if f"{node.module}.{a.name}" in MODULES]
            yield from submodules or [node.module]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for target in _imported(ast.parse(path.read_text())):
            graph[name].add(target)
    return graph


GRAPH = _graph()


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(("package", "forbidden"), [
    ("insarhub", {"prefect", "prefect_dask", "flows", "tasks", "insarhub_sandbox"}),
    ("tasks", {"flows", "insarhub_sandbox"}),
    ("insarhub_sandbox", {"insarhub", "tasks", "flows", "prefect"}),
])
def test_no_arrow_up(package: str, forbidden: set[str]) -> None:
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                   if _top(module) == package for target in targets if _top(target) in forbidden)
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_import_circle() -> None:
    internal = {m: {t for t in targets if t in MODULES} for m, targets in GRAPH.items()}
    assert _cycles(internal) == []


def test_no_circle_between_library_parts() -> None:
    """insarhub's parts (search, network, processor, ...) form a hierarchy too."""
    parts: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        if _top(module) != "insarhub" or module == "insarhub":
            continue
        for target in targets:
            if _top(target) == "insarhub" and target != "insarhub":
                a, b = module.split(".")[1], target.split(".")[1]
                if a != b:
                    parts[a].add(b)
    assert _cycles(parts) == []
    assert "network" not in parts["search"]  # pairs are built on scenes, not the other way


def test_the_checker_sees_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_file_over_the_limit() -> None:
    long = sorted(f"{path.relative_to(REPO)}: {n} lines" for path in MODULES.values()
                  if (n := len(path.read_text().splitlines())) > MAX_LINES)
    assert long == []
