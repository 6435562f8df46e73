"""No test tolerates an untyped exception out of a tcmodel call.

A public call may raise a :class:`tcmodel.TaskclusterError` subclass, or
``ValueError`` / ``TypeError`` (and their subclasses) for bad arguments.
Every ``pytest.raises(...)`` in the suite is read with :mod:`ast`; one that
expects anything else fails this test, unless its line says why with a
``# untyped ok: <reason>`` comment (e.g. the test's own exception raised
through an operation, or a third-party client driven against the local
cluster, whose exceptions are named through their module: ``httpx.X``).
"""

from __future__ import annotations

import ast
import builtins
import importlib
from collections.abc import Iterator
from pathlib import Path

import tcmodel

TESTS = Path(__file__).parent
#: Modules of other libraries whose exceptions tests may expect (they drive
#: those libraries, e.g. the official client, against the local cluster).
FOREIGN = {"taskcluster", "mohawk", "httpx", "http", "attrs", "json", "jsonschema"}
#: The local cluster's internal error, which its HTTP layer turns into an
#: error answer (tests of the services call them directly).
INTERNAL = {"ApiError"}
#: Where tcmodel's exception classes live (names tests import from them).
HOMES = (
    "tcmodel",
    "tcmodel.errors",
    "tcmodel.models",
    "tcmodel._extras",
    "tcmodel.download",
    "tcmodel.testing.server",
    "tcmodel.testing._core",
)


def _typed(name: str) -> bool | None:
    """Whether the exception called ``name`` is allowed (None: not an exception we know)."""
    candidates = [getattr(builtins, name, None)]
    candidates += [getattr(importlib.import_module(m), name, None) for m in HOMES]
    for exc in candidates:
        if isinstance(exc, type) and issubclass(exc, BaseException):
            return issubclass(exc, (tcmodel.TaskclusterError, ValueError, TypeError))
    return None


def _names(node: ast.expr) -> Iterator[tuple[str, bool]]:
    """(name, foreign) for each exception class a ``pytest.raises`` argument names."""
    if isinstance(node, ast.Tuple):
        for element in node.elts:
            yield from _names(element)
    elif isinstance(node, ast.Name):
        yield node.id, False
    elif isinstance(node, ast.Attribute):
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value  # type: ignore[assignment]
        module = root.id if isinstance(root, ast.Name) else ""
        yield node.attr, module in FOREIGN


def _is_raises(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "raises"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
        and bool(node.args)
    )


def offenders() -> list[str]:
    found = []
    for path in sorted(TESTS.glob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not _is_raises(node):
                continue
            assert isinstance(node, ast.Call)
            if "# untyped ok:" in lines[node.lineno - 1]:
                continue
            for name, foreign in _names(node.args[0]):
                if not foreign and name not in INTERNAL and _typed(name) is False:
                    found.append(f"{path.name}:{node.lineno} expects {name}")
    return found


def test_no_test_expects_an_untyped_exception() -> None:
    bad = offenders()
    assert not bad, "tests that tolerate an untyped exception:\n" + "\n".join(bad)


def test_the_scan_finds_what_it_should() -> None:
    assert _typed("KeyError") is False
    assert _typed("ValueError") and _typed("UnicodeDecodeError") and _typed("NotFound")
    tree = ast.parse("pytest.raises((KeyError, httpx.ReadError))")
    call = next(n for n in ast.walk(tree) if _is_raises(n))
    assert isinstance(call, ast.Call)
    assert list(_names(call.args[0])) == [("KeyError", False), ("ReadError", True)]
