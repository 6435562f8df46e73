"""The modules of ``tcmodel.testing`` import one another without a cycle.

The graph is read with :mod:`ast` (nothing is imported): an edge ``a → b``
for every ``import`` of ``tcmodel.testing.b`` in ``a``, at module level or
inside a function (a deferred import that only dodges a cycle still is one),
except under ``if TYPE_CHECKING:`` (annotations only, never run). Helpers that
several services share live in ``tcmodel/testing/_common.py`` so that no
service imports another.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tcmodel.testing

PACKAGE = Path(tcmodel.testing.__file__).parent
PREFIX = "tcmodel.testing"


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield from _imports_of(other)
            continue
        yield from _imports_of(child)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _imports(node)


def _targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The sibling modules one import statement loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return {n.split(".")[2] for n in names if n.startswith(PREFIX + ".")} & modules
    module = node.module or ""
    if node.level == 1:
        module = PREFIX + ("." + module if module else "")
    elif node.level > 1:
        return set()
    if module == PREFIX:  # from tcmodel.testing import x (a submodule or a name)
        return {a.name for a in node.names} & modules
    if module.startswith(PREFIX + "."):
        return {module.split(".")[2]} & modules
    return set()


def import_graph(source: dict[str, str]) -> dict[str, set[str]]:
    """``module → the sibling modules it imports``, for modules given as source text.

    >>> sorted(import_graph({"a": "from tcmodel.testing.b import x", "b": ""})["a"])
    ['b']
    """
    modules = set(source)
    graph: dict[str, set[str]] = {}
    for name, text in source.items():
        deps: set[str] = set()
        for node in _imports(ast.parse(text)):
            deps |= _targets(node, modules)
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected set of more
    than one module, sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package_source() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.glob("*.py"))}


def test_the_testing_package_has_no_import_cycle() -> None:
    graph = _package_source()
    found = cycles(import_graph(graph))
    assert not found, "import cycles in tcmodel.testing: " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_graph_sees_the_real_edges() -> None:
    # Guard against a reader that silently finds no import at all.
    graph = import_graph(_package_source())
    assert "_common" in graph["objects"]
    assert "index" not in graph["objects"]  # the shared helpers left index.py
    assert {"queue", "index", "objects"} <= graph["state"]


def test_a_cycle_is_caught_even_through_a_deferred_import() -> None:
    source = {
        "a": "from tcmodel.testing.b import x\n",
        "b": "def f():\n    from tcmodel.testing import a\n",
        "c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
    }
    graph = import_graph(source)
    assert graph == {"a": {"b"}, "b": {"a"}, "c": set()}
    assert cycles(graph) == [["a", "b"]]
