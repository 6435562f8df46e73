"""The emulated index service (placeholder until implemented)."""

from __future__ import annotations

from tcmodel.testing._core import Service

__all__ = ["IndexService"]


class IndexService(Service):
    """The emulated index service.

    Example:
        >>> IndexService.name
        'index'
    """

    name = "index"
