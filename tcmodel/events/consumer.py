"""Typed Pulse events, and consuming them (sync and async from one core).

:func:`consume` connects to a Pulse (RabbitMQ) broker, declares a queue —
``queue/<user>/<name>`` (durable, kept across reconnections) when a name is
given, else an exclusive auto-deleted one —, binds it with the given
:class:`~tcmodel.events.bindings.Binding` s and yields one typed
:class:`Event` per message: :class:`TaskCompleted`, :class:`TaskFailed`, …
for the queue's task exchanges, carrying the task status the message brings
and a :class:`~tcmodel.resources.task.Task` handle already loaded with it.
A message is acknowledged when the iteration moves past it (after your code
for it returned); a dropped connection is re-opened with backoff.

Example:
    >>> ev = event_from(_example_delivery(), cluster)
    >>> type(ev).__name__, ev.state, ev.run_id
    ('TaskCompleted', 'completed', 0)
    >>> ev.task.state == ev.status.state  # no request: the handle holds the status
    True
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from tcmodel.errors import ConfigurationError
from tcmodel.events._amqp import Delivery, PulseUrl, Steps, adrive, consume_op, drive
from tcmodel.events.bindings import Binding, BindingError

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.models import TaskStatus
    from tcmodel.resources.task import Task

__all__ = [
    "ArtifactCreated",
    "Event",
    "TaskCompleted",
    "TaskDefined",
    "TaskEvent",
    "TaskException",
    "TaskFailed",
    "TaskGroupEvent",
    "TaskGroupPriorityChanged",
    "TaskGroupResolved",
    "TaskGroupSealed",
    "TaskPending",
    "TaskPriorityChanged",
    "TaskRunning",
    "aconsume",
    "consume",
    "event_from",
    "pulse_url_of",
    "queue_name",
]

_QUEUE_PREFIX = "exchange/taskcluster-queue/v1/"


@attrs.frozen
class Event:
    """A Pulse message: its exchange, routing key and JSON body.

    ``routes`` are the extra keys it was CC'd to (``route.<r>``);
    ``replayed`` marks an event :meth:`~tcmodel.resources.task_group.TaskGroup.follow`
    made from a listing (after a reconnection) rather than a message.

    Example:
        >>> Event("exchange/taskcluster-auth/v1/client-created", "_", {}).exchange_name
        'client-created'
    """

    exchange: str
    routing_key: str
    body: Any = attrs.field(repr=False)
    routes: tuple[str, ...] = attrs.field(default=(), repr=False)
    redelivered: bool = attrs.field(default=False, repr=False)
    replayed: bool = attrs.field(default=False, repr=False)

    @property
    def exchange_name(self) -> str:
        """The exchange's short name.

        Example:
            >>> Event("exchange/taskcluster-queue/v1/task-defined", "k", {}).exchange_name
            'task-defined'
        """
        return self.exchange.rsplit("/", 1)[-1]


@attrs.frozen
class TaskEvent(Event):
    """A message about one task, with the status it brings and a
    :class:`~tcmodel.resources.task.Task` handle loaded with that status
    (``None`` when consumed without a cluster).

    Example:
        >>> ev = event_from(_example_delivery(), cluster)
        >>> ev.task_id == ev.task.task_id, ev.worker_id
        (True, 'w1')
    """

    #: The exchange's short name, on each subclass.
    kind: ClassVar[str] = ""

    status: TaskStatus = attrs.field(kw_only=True, repr=False)
    task: Task | None = attrs.field(default=None, repr=False, eq=False)
    run_id: int | None = None
    worker_group: str | None = attrs.field(default=None, repr=False)
    worker_id: str | None = attrs.field(default=None, repr=False)

    @property
    def task_id(self) -> str:
        """The task's id.

        Example:
            >>> event_from(_example_delivery(), None).task_id
            'Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self.status.task_id

    @property
    def state(self) -> str:
        """The task's state in the status the message brings.

        Example:
            >>> event_from(_example_delivery(), None).state
            'completed'
        """
        return self.status.state

    @property
    def task_group_id(self) -> str:
        """The task's group.

        Example:
            >>> event_from(_example_delivery(), None).task_group_id
            'Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self.status.task_group_id


@attrs.frozen
class TaskDefined(TaskEvent):
    """``task-defined``: a task was created.

    Example:
        >>> TaskDefined.kind
        'task-defined'
    """

    kind = "task-defined"


@attrs.frozen
class TaskPending(TaskEvent):
    """``task-pending``: a run became pending.

    Example:
        >>> TaskPending.kind
        'task-pending'
    """

    kind = "task-pending"


@attrs.frozen
class TaskRunning(TaskEvent):
    """``task-running``: a run was claimed by a worker.

    Example:
        >>> TaskRunning.kind
        'task-running'
    """

    kind = "task-running"


@attrs.frozen
class ArtifactCreated(TaskEvent):
    """``artifact-created``: ``artifact`` (name, storageType, expires,
    contentType) was created on run ``run_id``.

    Example:
        >>> ArtifactCreated.kind
        'artifact-created'
    """

    kind = "artifact-created"

    artifact: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class TaskCompleted(TaskEvent):
    """``task-completed``: a run completed.

    Example:
        >>> TaskCompleted.kind
        'task-completed'
    """

    kind = "task-completed"


@attrs.frozen
class TaskFailed(TaskEvent):
    """``task-failed``: a run failed.

    Example:
        >>> TaskFailed.kind
        'task-failed'
    """

    kind = "task-failed"


@attrs.frozen
class TaskException(TaskEvent):
    """``task-exception``: a run (or a task with no run) ended in an
    exception; a retry may follow as a new pending run.

    Example:
        >>> TaskException.kind
        'task-exception'
    """

    kind = "task-exception"


@attrs.frozen
class TaskPriorityChanged(TaskEvent):
    """``task-priority-changed``.

    Example:
        >>> TaskPriorityChanged.kind
        'task-priority-changed'
    """

    kind = "task-priority-changed"


@attrs.frozen
class TaskGroupEvent(Event):
    """A message about a task group.

    Example:
        >>> TaskGroupEvent("x", "primary.G.S._", {}, task_group_id="G").task_group_id
        'G'
    """

    task_group_id: str = ""
    scheduler_id: str = attrs.field(default="", repr=False)


@attrs.frozen
class TaskGroupResolved(TaskGroupEvent):
    """``task-group-resolved``: the group has no unresolved task left.

    Example:
        >>> TaskGroupResolved.kind
        'task-group-resolved'
    """

    kind = "task-group-resolved"


@attrs.frozen
class TaskGroupSealed(TaskGroupEvent):
    """``task-group-sealed``.

    Example:
        >>> TaskGroupSealed.kind
        'task-group-sealed'
    """

    kind = "task-group-sealed"


@attrs.frozen
class TaskGroupPriorityChanged(TaskGroupEvent):
    """``task-group-priority-changed``.

    Example:
        >>> TaskGroupPriorityChanged.kind
        'task-group-priority-changed'
    """

    kind = "task-group-priority-changed"


_TASK_KINDS: dict[str, type[TaskEvent]] = {
    c.kind: c
    for c in (
        TaskDefined,
        TaskPending,
        TaskRunning,
        ArtifactCreated,
        TaskCompleted,
        TaskFailed,
        TaskException,
        TaskPriorityChanged,
    )
}
_GROUP_KINDS: dict[str, type[TaskGroupEvent]] = {
    c.kind: c for c in (TaskGroupResolved, TaskGroupSealed, TaskGroupPriorityChanged)
}


_EXAMPLE_ID = "Dx4tPEtaRpeIeWpbTD0uHw"


def _example_fields() -> dict[str, Any]:
    """What a task's definition and status share (for the examples)."""
    return {
        "provisionerId": "proj",
        "workerType": "linux",
        "taskQueueId": "proj/linux",
        "schedulerId": "-",
        "projectId": "none",
        "taskGroupId": _EXAMPLE_ID,
        "priority": "lowest",
        "deadline": "2024-02-01T12:00:00.000Z",
        "expires": "2025-02-01T12:00:00.000Z",
    }


def _example_delivery() -> Delivery:
    """A task-completed delivery (for the examples)."""
    slug = _EXAMPLE_ID
    status = {
        "taskId": slug,
        **_example_fields(),
        "retriesLeft": 5,
        "state": "completed",
        "runs": [
            {
                "runId": 0,
                "state": "completed",
                "reasonCreated": "scheduled",
                "reasonResolved": "completed",
                "scheduled": "2024-01-31T12:00:00.000Z",
                "started": "2024-01-31T12:00:01.000Z",
                "resolved": "2024-01-31T12:00:02.000Z",
                "workerGroup": "g1",
                "workerId": "w1",
                "takenUntil": "2024-01-31T12:20:01.000Z",
            }
        ],
    }
    body = {"version": 1, "status": status, "runId": 0, "workerGroup": "g1", "workerId": "w1"}
    body["task"] = {"tags": {}}
    key = f"primary.{slug}.0.g1.w1.proj.linux.-.{slug}._"
    return Delivery(_QUEUE_PREFIX + "task-completed", key, json.dumps(body).encode(), 1)


def event_from(delivery: Delivery, cluster: Cluster | None, *, replayed: bool = False) -> Event:
    """The typed :class:`Event` for a delivered message (a plain
    :class:`Event` for exchanges without a class, or a body that is not
    what the exchange promises).

    Example:
        >>> type(event_from(_example_delivery(), None)).__name__
        'TaskCompleted'
    """
    try:
        body: Any = json.loads(delivery.body)
    except ValueError:
        body = delivery.body
    cc = delivery.headers.get("CC") or ()
    routes = tuple(str(k) for k in cc) if isinstance(cc, (list, tuple)) else ()
    common: dict[str, Any] = {
        "exchange": delivery.exchange,
        "routing_key": delivery.routing_key,
        "body": body,
        "routes": routes,
        "redelivered": delivery.redelivered,
        "replayed": replayed,
    }
    name = delivery.exchange[len(_QUEUE_PREFIX) :]
    if not delivery.exchange.startswith(_QUEUE_PREFIX) or not isinstance(body, dict):
        return Event(**common)
    if name in _GROUP_KINDS and isinstance(body.get("taskGroupId"), str):
        return _GROUP_KINDS[name](
            **common,
            task_group_id=body["taskGroupId"],
            scheduler_id=str(body.get("schedulerId", "")),
        )
    if name in _TASK_KINDS and isinstance(body.get("status"), dict):
        return _task_event(_TASK_KINDS[name], common, body, cluster)
    return Event(**common)


def _task_event(
    cls: type[TaskEvent], common: dict[str, Any], body: dict[str, Any], cluster: Cluster | None
) -> Event:
    from tcmodel.models import ModelDataError
    from tcmodel.resources.task import Task, _status

    try:
        status = _status(body["status"])
    except (ModelDataError, ValueError, TypeError, KeyError):
        return Event(**common)
    run_id = body.get("runId")
    extra: dict[str, Any] = {}
    if cls is ArtifactCreated and isinstance(body.get("artifact"), dict):
        extra["artifact"] = body["artifact"]
    task = Task(cluster, status.task_id, status=status) if cluster is not None else None
    return cls(
        **common,
        status=status,
        task=task,
        run_id=run_id if isinstance(run_id, int) else None,
        worker_group=body.get("workerGroup"),
        worker_id=body.get("workerId"),
        **extra,
    )


def queue_name(url: PulseUrl | str, name: str | None) -> str | None:
    """The Pulse queue name for ``name``: ``queue/<user>/<name>`` (the
    only names Pulse lets a user declare); ``None`` stays ``None`` (an
    exclusive, server-named queue).

    Example:
        >>> queue_name("amqp://alice:pw@pulse.example.com/", "ci-watch")
        'queue/alice/ci-watch'
        >>> queue_name("amqp://alice:pw@pulse.example.com/", "a.b")
        'queue/alice/a.b'
    """
    if name is None:
        return None
    parsed = url if isinstance(url, PulseUrl) else PulseUrl.parse(url)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigurationError("a Pulse queue name is a non-empty string without '/'")
    return f"queue/{parsed.user}/{name}"


@attrs.define
class _Plain:
    """The handler for :func:`consume`: one event per delivery."""

    cluster: Cluster | None
    idle_timeout: float | None
    finished: bool = False

    @property
    def wake(self) -> float | None:
        return self.idle_timeout

    def connected(self, first: bool) -> Steps:
        yield from ()  # an operation that sends nothing
        return []

    def delivered(self, delivery: Delivery) -> list[Any]:
        return [event_from(delivery, self.cluster)]

    def idle(self) -> list[Any]:
        self.finished = True
        return []

    def check(self) -> None:
        pass


def pulse_url_of(pulse_url: str | PulseUrl | None) -> PulseUrl:
    """The parsed Pulse URL; :class:`~tcmodel.ConfigurationError` for
    ``None`` or a URL that is not ``amqp[s]://``.

    Example:
        >>> pulse_url_of("amqp://u:p@h/").host
        'h'
        >>> pulse_url_of(None)
        Traceback (most recent call last):
        ...
        tcmodel.errors.ConfigurationError: no Pulse URL: ...
    """
    if pulse_url is None:
        raise ConfigurationError(
            "no Pulse URL: pass pulse_url= or set TASKCLUSTER_PULSE_URL (amqps://user:pw@host/)"
        )
    return pulse_url if isinstance(pulse_url, PulseUrl) else PulseUrl.parse(pulse_url)


def _setup(
    pulse_url: str | PulseUrl | None,
    bindings: Sequence[Binding] | Binding,
    queue: str | None,
) -> tuple[PulseUrl, list[Binding], str | None]:
    url = pulse_url_of(pulse_url)
    items = [bindings] if isinstance(bindings, Binding) else list(bindings)
    if not items or not all(isinstance(b, Binding) for b in items):
        raise BindingError("give one or more Binding (e.g. tcmodel.events.queue.task_completed())")
    return url, items, queue_name(url, queue)


def consume(
    pulse_url: str | PulseUrl | None,
    bindings: Sequence[Binding] | Binding,
    *,
    cluster: Cluster | None = None,
    queue: str | None = None,
    idle_timeout: float | None = None,
    reconnect_for: float = 300.0,
) -> Iterator[Event]:
    """Yield the events matching ``bindings``, acking each when the
    iteration moves on; ends after ``idle_timeout`` seconds without one
    (never by default). ``cluster`` gives task events their handles.

    Example:
        >>> consume("amqp://u:p@127.0.0.1:1/", [], cluster=cluster)
        Traceback (most recent call last):
        ...
        tcmodel.events.bindings.BindingError: give one or more Binding ...
    """
    url, items, qname = _setup(pulse_url, bindings, queue)
    handler = _Plain(cluster, idle_timeout)
    return drive(consume_op(url, items, handler, queue=qname, reconnect_for=reconnect_for))


def aconsume(
    pulse_url: str | PulseUrl | None,
    bindings: Sequence[Binding] | Binding,
    *,
    cluster: Cluster | None = None,
    queue: str | None = None,
    idle_timeout: float | None = None,
    reconnect_for: float = 300.0,
) -> AsyncIterator[Event]:
    """The async form of :func:`consume` (``async for ev in aconsume(...)``).

    Example:
        >>> import asyncio
        >>> async def main() -> list[Event]:
        ...     return [e async for e in aconsume(None, [])]
        >>> asyncio.run(main())
        Traceback (most recent call last):
        ...
        tcmodel.errors.ConfigurationError: no Pulse URL: ...
    """
    url, items, qname = _setup(pulse_url, bindings, queue)
    handler = _Plain(cluster, idle_timeout)
    return adrive(consume_op(url, items, handler, queue=qname, reconnect_for=reconnect_for))
