"""The emulated queue service (placeholder until implemented)."""

from __future__ import annotations

from tcmodel.testing._core import Service

__all__ = ["QueueService"]


class QueueService(Service):
    """The emulated queue service.

    Example:
        >>> QueueService.name
        'queue'
    """

    name = "queue"
