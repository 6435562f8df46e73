"""Sphinx configuration of tcmodel's documentation.

Build: ``python -m sphinx -W --keep-going -n -b html docs docs/_build/html``
(``pip install -e '.[docs]'``); ``tests/test_docs_build.py`` runs exactly
that in the test run, so a warning — a broken cross-reference included
(``-n``, nitpicky) — fails the tests.

Choices, stated here and in ``docs/index.md``:

- Sphinx with MyST (``myst-parser``, through ``myst-nb``) for the Markdown pages,
  and ``myst-nb`` for the example notebook, executed at build time against a
  local cluster this file starts (:func:`_serve_demo`), so the rendered outputs
  are real and current;
- the theme is Furo (``furo`` on PyPI): well kept, readable, no JavaScript
  framework;
- the API reference is autodoc over every module of tcmodel, generated from
  the docstrings by the ``tcmodel-modules`` directive defined below, which
  also checks that no public module is left out;
- no network at build time: no intersphinx, no remote images, no link check.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import logging as stdlib_logging
import os
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tcmodel  # noqa: E402

logger = logging.getLogger("tcmodel.docs")
stdlib_logging.getLogger("httpx").setLevel(stdlib_logging.WARNING)  # one line per request

project = "tcmodel"
author = "tcmodel contributors"
copyright = "tcmodel contributors"
release = tcmodel.__version__
version = release

extensions = [
    "myst_nb",  # also loads myst_parser: .md pages and the .ipynb notebook
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

html_theme = "furo"
html_title = f"tcmodel {release}"
html_static_path: list[str] = []

# -- cross-references -------------------------------------------------------------
nitpicky = True  # a reference to nothing is a warning, and -W makes it an error
intersphinx_mapping: dict[str, Any] = {}  # no remote inventories: the build is offline
myst_all_links_external = False  # [text](page.md#anchor) is checked like a reference
myst_heading_anchors = 3  # [text](guide.md#guarantees) reaches a heading
myst_enable_extensions = ["colon_fence", "deflist"]
suppress_warnings: list[str] = []  # nothing is silenced

_BUILTIN_TYPES = "|".join(n for n in dir(builtins) if isinstance(getattr(builtins, n), type))

# Types of third-party and standard-library packages, named in type hints and
# docstrings, that have no inventory without intersphinx. Only names outside
# tcmodel go here: a broken reference to tcmodel's own API must fail.
nitpick_ignore_regex = [
    ("py:.*", r"(httpx|anyio|trio|mohawk|attrs|attr|slugid|pandas|networkx|tqdm)(\..*)?"),
    ("py:.*", r"(IPython|jedi|pytest|_pytest|jsonschema|jsone|aiohttp|aio_pika|pika)(\..*)?"),
    ("py:.*", r"(collections|typing|typing_extensions|types|enum|abc|io|os|pathlib)(\..*)?"),
    ("py:.*", r"(datetime|threading|asyncio|concurrent|contextlib|logging|http|ssl)(\..*)?"),
    ("py:.*", r"(argparse|shutil|signal|sys|time|uuid|base64|binascii|hmac|secrets)(\..*)?"),
    ("py:.*", r"(email|json|socket|socketserver|subprocess|urllib|hashlib|re|queue)(\..*)?"),
    ("py:.*", r"(weakref|functools|inspect|decimal|zlib|gzip|tempfile)(\..*)?"),
    # builtin types and exceptions (the names of the builtins module that are classes)
    ("py:.*", rf"(builtins\.)?({_BUILTIN_TYPES})(\..*)?"),
    ("py:.*", r"None|NoneType|Ellipsis|NotImplemented"),
    # Type variables (T, R, _F, ~P, ...) in generic signatures: not objects one can document.
    ("py:.*", r"~?([a-z_.]+\.)?_?[A-Z]"),
]

# -- autodoc ----------------------------------------------------------------------
toc_object_entries = False  # an entry per API object in every sidebar: a slower build, a huge menu
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False  # the reference pages are written by hand and by the directive

# -- the executed notebook ----------------------------------------------------------
nb_execution_mode = "force"  # run docs/examples/explore.ipynb at every build
nb_execution_timeout = 180
nb_execution_raise_on_error = True  # a cell error fails the build
nb_execution_show_tb = True
nb_kernel_rgx_aliases = {".*": "python3"}  # ipykernel's kernel of this Python
nb_merge_streams = True


def _serve_demo(app: Sphinx) -> None:
    """Serve the demo's task graph on a local cluster for the notebook, and
    point the kernel at it (the kernel inherits this process's environment)."""
    from tcmodel.demo import build_graph
    from tcmodel.testing import LocalCluster

    lc = LocalCluster()
    lc.start()
    with lc.connect() as admin:
        group_id, _ = build_graph(lc, admin)
    os.environ.update(
        TASKCLUSTER_ROOT_URL=lc.root_url,
        TASKCLUSTER_CLIENT_ID=lc.root_credentials.client_id,
        TASKCLUSTER_ACCESS_TOKEN=lc.root_credentials.access_token,
        TCMODEL_DEMO_GROUP=group_id,
    )
    app.connect("build-finished", lambda _app, _exc: lc.stop())


# -- the API reference --------------------------------------------------------------


def public_modules() -> list[str]:
    """Every module of tcmodel but ``__main__``, private ones included (the
    reference documents the public names of each: helpers of the private ones
    appear in public signatures)."""
    names = ["tcmodel"]
    for info in pkgutil.walk_packages(tcmodel.__path__, "tcmodel."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return sorted(names)


_DOCUMENTED_MODULES = "tcmodel_documented_modules"


class ModulesDirective(SphinxDirective):
    """``tcmodel-modules``: autodoc every module whose name matches one of the
    arguments (``tcmodel.resources`` that module; ``tcmodel.resources.**``
    every module under it, at any depth; ``tcmodel.*`` the modules directly
    under ``tcmodel`` that are not packages; option ``:private:`` keeps only
    modules with a ``_``-prefixed part, ``:public:`` only the others).

    Each object is documented once, in the module that defines it; its
    re-exported names (``tcmodel.Cluster``) still resolve (see
    :func:`_resolve_alias`)."""

    required_arguments = 1
    optional_arguments = 20
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "private": lambda _: True,
        "public": lambda _: True,
        "exclude": str,
    }

    def run(self) -> list[nodes.Node]:
        excluded = set((self.options.get("exclude") or "").split())
        chosen = [m for m in public_modules() if self._matches(m) and m not in excluded]
        done: set[str] = self.env.domaindata.setdefault(_DOCUMENTED_MODULES, {}).setdefault(
            "names", set()
        )
        lines: list[str] = []
        for name in chosen:
            done.add(name)
            lines += [
                f"## `{name}`" if len(chosen) > 1 else "",
                "",
                "```{eval-rst}",  # the pages are MyST; autodoc writes rST
                f".. automodule:: {name}",
                "   :members:",
                "   :ignore-module-all:",
                "   :show-inheritance:",
                "```",
                "",
            ]
        content = StringList(lines, source=self.get_source_info()[0])
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(content, 0, node, match_titles=True)
        return node.children

    def _matches(self, module: str) -> bool:
        private = any(p.startswith("_") for p in module.split(".")[1:])
        if "private" in self.options and not private:
            return False
        if "public" in self.options and private:
            return False
        for pattern in self.arguments:
            if pattern.endswith(".**"):
                if module.startswith(pattern[:-2]):
                    return True
            elif pattern.endswith(".*"):
                base = pattern[:-1]
                rest = module[len(base) :]
                if module.startswith(base) and "." not in rest and not _is_package(module):
                    return True
            elif module == pattern:
                return True
        return False


class AllDirective(SphinxDirective):
    """``tcmodel-all MODULE``: a table of the names in ``MODULE.__all__`` with
    the first line of each docstring, each linking to where it is documented."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module = importlib.import_module(self.arguments[0])
        names = sorted((n for n in module.__all__ if not n.startswith("__")), key=str.lower)
        lines = ["```{eval-rst}", f".. currentmodule:: {self.arguments[0]}", ""]
        lines += [".. autosummary::", ""] + [f"   {name}" for name in names]
        lines.append("```")
        content = StringList(lines, source=self.get_source_info()[0])
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(content, 0, node)
        return node.children


class ErrorTreeDirective(SphinxDirective):
    """``tcmodel-error-tree``: every subclass of
    :class:`~tcmodel.errors.TaskclusterError` that tcmodel defines, as a
    nested list with the first line of each docstring (always complete)."""

    def run(self) -> list[nodes.Node]:
        from tcmodel.errors import TaskclusterError

        for name in public_modules():  # every error class is defined by now
            importlib.import_module(name)
        lines: list[str] = []

        def walk(cls: type, depth: int) -> None:
            summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
            ref = f"{{class}}`~{cls.__module__}.{cls.__qualname__}`"
            lines.append("  " * depth + f"- {ref}: {summary}")
            subclasses = [c for c in cls.__subclasses__() if c.__module__.startswith("tcmodel")]
            for sub in sorted(subclasses, key=lambda c: c.__name__):
                walk(sub, depth + 1)

        walk(TaskclusterError, 0)
        content = StringList(lines, source=self.get_source_info()[0])
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(content, 0, node)
        return node.children


def _public_bases(app: Sphinx, name: str, obj: type, options: Any, bases: list[Any]) -> None:
    """Show a class's public bases only: a private base (``_Model``,
    ``_Record[RoleInfo]``) is replaced by its own bases, as far as needed."""
    import typing

    def public(base: Any) -> list[Any]:
        origin = typing.get_origin(base) or base
        if origin is typing.Generic or origin is object:
            return []
        if getattr(origin, "__name__", "").startswith("_"):
            return [
                b
                for parent in getattr(origin, "__orig_bases__", origin.__bases__)
                for b in public(parent)
            ]
        return [base]

    new = [b for base in bases for b in public(base)]
    bases[:] = new or ([object] if bases else [])


def _is_package(module: str) -> bool:
    return hasattr(importlib.import_module(module), "__path__")


def _check_every_module_documented(app: Sphinx, env: BuildEnvironment) -> None:
    done = env.domaindata.get(_DOCUMENTED_MODULES, {}).get("names", set())
    missing = [m for m in public_modules() if m not in done]
    for name in missing:
        logger.warning("module %s is in no page of the API reference (docs/api/)", name)


def _resolve_alias(app: Sphinx, env: BuildEnvironment, node: Any, contnode: Any) -> Any:
    """Resolve a Python reference that names a real tcmodel object by
    another path than the one it is documented under.

    - a re-exported name (``tcmodel.Cluster``, ``tcmodel.testing.LocalCluster``)
      or a name relative to the current module or class links to where the
      object is documented (its ``__module__`` and ``__qualname__``);
    - a module constant named where it is imported (``LIVE_LOG`` in
      ``tcmodel.testing.worker``) links to the one documented constant of
      that name;
    - a private object (a ``_`` part: ``Resource._cached``), or a constant or
      type alias without a doc comment, exists but has no entry: it is shown
      as code, without a link.

    A name that exists nowhere still warns (and fails the build).
    """
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", "")).lstrip("~.")
    modname = node.get("py:module") or ""
    classname = node.get("py:class") or ""
    candidates = [target]
    if modname and classname:
        candidates.append(f"{modname}.{classname}.{target}")
    if modname:
        candidates.append(f"{modname}.{target}")
    domain: Any = env.get_domain("py")
    for candidate in candidates:
        found, obj = _lookup(candidate)
        if not found:
            continue
        for real in _documented_names(obj, candidate, domain):
            newnode = node.deepcopy()
            newnode["reftarget"] = real
            resolved = domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], real, newnode, contnode
            )
            if resolved is not None:
                return resolved
        documentable = isinstance(obj, type) or inspect.isroutine(obj) or inspect.ismodule(obj)
        if _is_private(candidate) or not documentable:
            return contnode
    return None


def _is_private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _lookup(dotted: str) -> tuple[bool, Any]:
    """``(True, object)`` for an existing ``tcmodel...`` dotted name."""
    if not dotted.startswith("tcmodel"):
        return False, None
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            return False, None
        return True, obj
    return False, None


def _documented_names(obj: Any, alias: str, domain: Any) -> list[str]:
    """Where ``obj`` (reached as ``alias``) may be documented."""
    if isinstance(obj, property) and obj.fget is not None:
        obj = obj.fget
    elif isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and not inspect.ismodule(obj):
        return [f"{module}.{qualname}"]
    if inspect.ismodule(obj):
        return [obj.__name__]
    # a constant: the documented objects of that name, if there is exactly one
    last = alias.rsplit(".", 1)[-1]
    same = [name for name in domain.objects if name.rsplit(".", 1)[-1] == last]
    return same if len(same) == 1 else []


def _import_type_checking_names(app: Sphinx) -> None:
    """Run each tcmodel module's ``if TYPE_CHECKING:`` imports into the
    module, so that autodoc evaluates its string annotations to the real
    classes (``RoleInfo`` is then ``tcmodel.models_services.RoleInfo``, not
    an unqualified name that several modules define)."""
    import ast

    for name in public_modules():
        module = importlib.import_module(name)
        source = inspect.getsource(module)
        for node in ast.parse(source).body:
            if not (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)):
                continue
            for stmt in node.body:
                if not isinstance(stmt, ast.Import | ast.ImportFrom):
                    continue
                scope: dict[str, Any] = {"__name__": name, "__package__": module.__package__}
                exec(compile(ast.Module([stmt], []), name, "exec"), scope)
                names = {k: v for k, v in scope.items() if not k.startswith("__")}
                for key, value in names.items():
                    module.__dict__.setdefault(key, value)
                # methods generated by attrs evaluate their annotations in globals of their own
                for cls in vars(module).values():
                    if isinstance(cls, type) and cls.__module__ == name:
                        for attr in vars(cls).values():
                            globs = getattr(attr, "__globals__", module.__dict__)
                            if globs is not module.__dict__:
                                for key, value in names.items():
                                    globs.setdefault(key, value)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("tcmodel-modules", ModulesDirective)
    app.add_directive("tcmodel-all", AllDirective)
    app.add_directive("tcmodel-error-tree", ErrorTreeDirective)
    app.connect("builder-inited", _serve_demo)
    app.connect("builder-inited", _import_type_checking_names)
    app.connect("env-check-consistency", _check_every_module_documented)
    app.connect("missing-reference", _resolve_alias)
    app.connect("autodoc-process-bases", _public_bases)
    return {"parallel_read_safe": False}
