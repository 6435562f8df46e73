"""Optional extras, imported on first use with an error that names the extra.

``import tcmodel`` never imports pandas, networkx, tqdm or IPython; the
features that need one call :func:`require` when they run.

Example:
    >>> require("json", "notebook").__name__
    'json'
    >>> require("no_such_module_here", "notebook")
    Traceback (most recent call last):
    ...
    tcmodel._extras.MissingExtra: this needs no_such_module_here, ... 'tcmodel[notebook]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tcmodel.errors import TaskclusterError

__all__ = ["MissingExtra", "require"]


class MissingExtra(TaskclusterError, ImportError):
    """An optional dependency is not installed; the message names the extra
    that brings it.

    Example:
        >>> issubclass(MissingExtra, ImportError)
        True
    """


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming ``extra``.

    Example:
        >>> require("math", "notebook").sqrt(4)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingExtra(
            f"this needs {top}, which is not installed (it comes with tcmodel's "
            f"{extra!r} extra): pip install 'tcmodel[{extra}]'"
        ) from exc
