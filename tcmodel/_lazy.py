"""Names a package imports on first use (PEP 562), shared by ``tcmodel`` and
``tcmodel.testing``.

A package keeps a table of its public names and the module of each, and its
module-level ``__getattr__``/``__dir__`` hand that table to :func:`load` and
:func:`names`. This module imports nothing but ``importlib``, so that
``import tcmodel`` stays instant.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (not importing typing saves milliseconds)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any


def load(
    namespace: dict[str, Any], table: Mapping[str, str], name: str, submodules: bool = False
) -> Any:
    """The value of ``name`` for the package whose globals are ``namespace``:
    imported from its module in ``table`` and kept in ``namespace``, so that
    the next use finds it without this call. With ``submodules``, a name not
    in the table is tried as a submodule of the package (``tcmodel.models``).
    Anything else raises :class:`AttributeError`, as a missing attribute does.

    Example:
        >>> from tcmodel import _lazy
        >>> ns = {"__name__": "tcmodel"}
        >>> _lazy.load(ns, {"slug_id": "tcmodel.utils"}, "slug_id").__name__
        'slug_id'
        >>> "slug_id" in ns
        True
        >>> _lazy.load(ns, {}, "scopes", submodules=True).__name__
        'tcmodel.scopes'
        >>> _lazy.load(ns, {}, "nothing_here")
        Traceback (most recent call last):
        AttributeError: module 'tcmodel' has no attribute 'nothing_here'
    """
    package = namespace["__name__"]
    module = table.get(name)
    if module is None:
        if submodules and not name.startswith("_"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as e:
                if e.name != f"{package}.{name}":
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


def names(namespace: Mapping[str, Any], public: Iterable[str]) -> list[str]:
    """Every name of a package, imported or not (for ``dir()`` and tab
    completion): its globals and its public names.

    Example:
        >>> from tcmodel import _lazy
        >>> _lazy.names({"__name__": "p", "a": 1}, ["b"])
        ['__name__', 'a', 'b']
    """
    return sorted({*namespace, *public})
