"""Live Taskcluster events over Pulse (RabbitMQ): bindings and consuming.

``tcmodel.events.queue.task_completed(task_group_id=...)`` (and the other
services' exchanges: ``auth``, ``hooks``, ``notify``, ``worker_manager``)
builds a :class:`~tcmodel.events.bindings.Binding`; :func:`consume` (or
``cluster.events(...)``) yields typed events for them. Connecting needs the
``events`` extra (``pip install 'tcmodel[events]'``, which brings ``pamqp``);
building bindings does not. See ``docs/events.md``.

Example:
    >>> import tcmodel.events as ev
    >>> ev.queue.task_exception(task_id="Dx4tPEtaRpeIeWpbTD0uHw").routing_key_pattern
    'primary.Dx4tPEtaRpeIeWpbTD0uHw.*.*.*.*.*.*.*.#'
"""

from tcmodel.events import consumer
from tcmodel.events._amqp import EventsError, PulseUrl
from tcmodel.events.bindings import (
    EXCHANGES,
    Binding,
    BindingError,
    Exchange,
    auth,
    hooks,
    notify,
    queue,
    worker_manager,
)
from tcmodel.events.consumer import *  # noqa: F403 - its __all__: the events, consume…

__all__ = [
    "EXCHANGES",
    "Binding",
    "BindingError",
    "EventsError",
    "Exchange",
    "PulseUrl",
    "auth",
    "hooks",
    "notify",
    "queue",
    "worker_manager",
]
__all__ += consumer.__all__
