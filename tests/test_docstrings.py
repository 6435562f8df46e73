"""Every public name in ``tcmodel`` has a docstring with an example.

The modules are read with :mod:`ast`, so nothing is imported.  A public name
is a module-level function or class whose name does not start with ``_``
(and, when the module defines ``__all__``, is listed there), and every
method, property or classmethod of a public class whose name does not start
with ``_``.  ``@overload`` stubs and property setters/deleters are skipped.
The docstring — the name's own, not its class's — must contain a line
starting with ``>>>`` or the word ``Example``.

No docstring anywhere in the package (module, class or function, public or
not) may hold a comment-only example line (``>>> # task.status.state``): a
doctest runner skips it, so it is never checked. Examples run against the
seeded local cluster of the root ``conftest.py`` (see docs/testing.md).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import tcmodel

PACKAGE = Path(tcmodel.__file__).parent
EXAMPLE = re.compile(r"^\s*>>>|\bExample", re.MULTILINE)

_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _module_all(tree: ast.Module) -> set[str] | None:
    """The names listed in ``__all__`` (``=``, annotated ``=`` or ``+=``), or None."""
    names: set[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        if not isinstance(value, ast.List | ast.Tuple):
            continue
        listed = {
            e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        }
        names = listed if names is None or not isinstance(node, ast.AugAssign) else names | listed
    return names


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[str]:
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call):
            deco = deco.func
        if isinstance(deco, ast.Name):
            yield deco.id
        elif isinstance(deco, ast.Attribute):
            yield deco.attr


def _skipped(node: _Def) -> bool:
    if isinstance(node, ast.ClassDef):
        return False
    decorators = set(_decorator_names(node))
    return bool(decorators & {"overload", "setter", "deleter"})


def _public_names(tree: ast.Module) -> Iterator[tuple[str, _Def]]:
    exported = _module_all(tree)
    for node in tree.body:
        if not isinstance(node, _Def) or node.name.startswith("_") or _skipped(node):
            continue
        if exported is not None and node.name not in exported:
            continue
        yield node.name, node
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if (
                    isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not member.name.startswith("_")
                    and not _skipped(member)
                ):
                    yield f"{node.name}.{member.name}", member


def offenders() -> list[str]:
    """Every public name without a docstring example, as ``module:line name``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, node in _public_names(tree):
            doc = ast.get_docstring(node)
            if not doc:
                found.append(f"{module}:{node.lineno} {name} (no docstring)")
            elif not EXAMPLE.search(doc):
                found.append(f"{module}:{node.lineno} {name}")
    return found


_COMMENT_ONLY = re.compile(r"^\s*>>>\s*#")
_Documented = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def comment_only_examples(source: str, filename: str) -> list[str]:
    """Every docstring line of ``source`` that is a comment-only example
    (``>>> # ...``), as ``filename:line: text``.

    The line number is the docstring's first line plus the line's offset in
    the string (a docstring has no escaped newlines in this package).
    """
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(node, _Documented) or not node.body:
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        for offset, line in enumerate(first.value.value.splitlines()):
            if _COMMENT_ONLY.match(line):
                found.append(f"{filename}:{first.value.lineno + offset}: {line.strip()}")
    return found


def test_no_docstring_example_is_only_a_comment() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE.parent).as_posix()
        found += comment_only_examples(path.read_text(encoding="utf-8"), name)
    assert not found, (
        f"{len(found)} docstring example lines are only a comment (a doctest skips them; "
        "write a line that runs, e.g. `>>> task.status.state` with its output):\n"
        + "\n".join(found)
    )


def test_the_comment_checker_catches_one() -> None:
    snippet = (
        "def f() -> None:\n"
        '    """Do nothing.\n'
        "\n"
        "    Example:\n"
        "        >>> f()\n"
        "        >>> # task.status.state\n"
        "        >>>   #indented too\n"
        "        ...     # a continuation comment is fine\n"
        '    """\n'
    )
    assert comment_only_examples(snippet, "x.py") == [
        "x.py:6: >>> # task.status.state",
        "x.py:7: >>>   #indented too",
    ]
    assert comment_only_examples('"""Module.\n\n>>> #c\n"""\n', "m.py") == ["m.py:3: >>> #c"]


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    missing = offenders()
    assert not missing, f"{len(missing)} public names lack a docstring example:\n" + "\n".join(
        missing
    )


def test_the_walk_finds_public_names() -> None:
    # Guard against a walk that silently finds nothing.
    tree = ast.parse((PACKAGE / "cluster.py").read_text(encoding="utf-8"))
    names = dict(_public_names(tree))
    assert "Cluster" in names
    assert "Cluster.from_url" in names
