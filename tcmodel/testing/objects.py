"""The emulated object service (placeholder until implemented)."""

from __future__ import annotations

from tcmodel.testing._core import Service

__all__ = ["ObjectService"]


class ObjectService(Service):
    """The emulated object service.

    Example:
        >>> ObjectService.name
        'object'
    """

    name = "object"
