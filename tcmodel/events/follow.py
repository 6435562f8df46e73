"""Following a task group live: its task transitions, each once, until the
group is resolved.

:func:`follow_op` binds an exclusive queue to the group's task exchanges
(defined, pending, running, completed, failed, exception) and to
``task-group-resolved``, then — after every (re)connection — reconciles
with ONE listing of the group (``listTaskGroup``, paged): transitions the
listing shows and no message brought yet are emitted as *replayed* events.
Every event is keyed by ``(taskId, runId, kind)`` and emitted once, so
messages that arrive again (at-least-once delivery, or after a replay)
are dropped. The iteration ends with a :class:`TaskGroupResolved` event
(the message, or, when the listing shows every task resolved, a replayed
one), or raises :class:`~tcmodel.WaitTimeout` after ``timeout`` seconds.

Example:
    >>> [b.exchange_name for b in group_bindings("Dx4tPEtaRpeIeWpbTD0uHw")][:3]
    ['task-defined', 'task-pending', 'task-running']
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from tcmodel.errors import WaitTimeout
from tcmodel.events import bindings as _b
from tcmodel.events._amqp import Delivery, PulseUrl, RunOp, Steps, consume_op
from tcmodel.events.consumer import (
    TaskCompleted,
    TaskDefined,
    TaskEvent,
    TaskException,
    TaskFailed,
    TaskGroupResolved,
    TaskPending,
    TaskRunning,
    event_from,
    pulse_url_of,
)

if TYPE_CHECKING:
    from tcmodel.models import RunInfo
    from tcmodel.progress import Report
    from tcmodel.resources.task import Task
    from tcmodel.resources.task_group import TaskGroup

__all__ = [
    "FOLLOWED",
    "adisplayed",
    "displayed",
    "follow_op",
    "group_bindings",
    "wait_group",
    "wait_task",
]

#: The task exchanges a follow listens to.
FOLLOWED = (
    "task-defined",
    "task-pending",
    "task-running",
    "task-completed",
    "task-failed",
    "task-exception",
)
_RESOLVED = {"completed": TaskCompleted, "failed": TaskFailed, "exception": TaskException}
#: The longest pause between checks of a follow's timeout (seconds).
_WAKE_CAP = 5.0


def group_bindings(task_group_id: str) -> list[_b.Binding]:
    """The bindings a follow of ``task_group_id`` uses.

    Example:
        >>> group_bindings("Dx4tPEtaRpeIeWpbTD0uHw")[-1].exchange_name
        'task-group-resolved'
    """
    out = [_b.EXCHANGES[_b.queue.prefix + kind](task_group_id=task_group_id) for kind in FOLLOWED]
    out.append(_b.queue.task_group_resolved(task_group_id=task_group_id))
    return out


class _Timed:
    """A handler with a deadline: woken to check it, timing out typed."""

    def __init__(self, what: Any, timeout: float | None, report: Report | None = None) -> None:
        self.what = what
        self.timeout = timeout
        self.report = report
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.finished = False

    @property
    def wake(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.01, min(_WAKE_CAP, self.deadline - time.monotonic()))

    def state(self) -> str:
        return "unresolved"

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WaitTimeout(repr(self.what), self.state(), self.timeout or 0.0)

    def idle(self) -> list[Any]:
        self.check()
        return []


class _TaskWait(_Timed):
    """The handler behind ``task.wait()`` with events: done once a
    message (or the status read after connecting) shows the task resolved."""

    def __init__(self, task: Task, timeout: float | None, report: Report | None) -> None:
        super().__init__(task, timeout, report)
        self.task = task

    def state(self) -> str:
        status = self.task._status
        return status.state if status is not None else "unknown"

    def connected(self, first: bool) -> Steps:
        status = yield RunOp(self.task._cluster.transport, self.task._status_op("status"))
        self._done(status.is_resolved)
        return []

    def _done(self, resolved: bool) -> None:
        self.finished = resolved
        if self.report is not None:
            self.report(int(resolved), 1)

    def delivered(self, delivery: Delivery) -> list[Any]:
        ev = event_from(delivery, None)
        if not isinstance(ev, TaskEvent) or ev.task_id != self.task.task_id:
            return []
        if ev.status.is_resolved:
            self.task._status = ev.status
            self._done(True)
        return []


def wait_task(task: Task, timeout: float | None, report: Report | None = None) -> Steps:
    """The operation behind ``task.wait()`` when the cluster has a Pulse
    URL: one status read after each (re)connection, then messages only;
    ``report(resolved, 1)`` is told each time the state is known.

    Example:
        >>> wait_task.__name__
        'wait_task'
    """
    q = _b.queue
    bindings = [
        e(task_id=task.task_id) for e in (q.task_completed, q.task_failed, q.task_exception)
    ]
    url = pulse_url_of(task._cluster.pulse_url)
    return consume_op(url, bindings, _TaskWait(task, timeout, report))


class _Follow(_Timed):
    """The handler of :func:`consume_op` for one group."""

    def __init__(
        self, group: TaskGroup, timeout: float | None, report: Report | None = None
    ) -> None:
        super().__init__(group, timeout, report)
        self.group = group
        self.seen: set[tuple[str, int | None, str]] = set()
        self.counts: dict[str, str] = {}  # taskId -> latest state seen

    def state(self) -> str:
        states = set(self.counts.values()) - {"completed", "failed", "exception"}
        return "running" if "running" in states else "pending" if states else "unresolved"

    def _fresh(self, ev: TaskEvent) -> bool:
        key = (ev.task_id, ev.run_id if not isinstance(ev, TaskDefined) else None, ev.kind)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.counts[ev.task_id] = ev.state
        return True

    def _tell(self) -> None:
        """Report how many of the tasks seen are resolved."""
        if self.report is not None:
            done = sum(1 for s in self.counts.values() if s in _RESOLVED)
            self.report(done, len(self.counts))

    def connected(self, first: bool) -> Steps:
        tasks: list[Task] = yield RunOp(self.group._cluster.transport, self.group.tasks()._all())
        items: list[Any] = []
        for task in tasks:
            items += [ev for ev in _replay(task) if self._fresh(ev)]
        if tasks and all(t.status.is_resolved for t in tasks):
            self.finished = True
            items.append(self._resolved_event(tasks[0]))
        self._tell()
        return items

    def _resolved_event(self, task: Task) -> TaskGroupResolved:
        status = task.status
        exchange = _b.queue.task_group_resolved
        words = {"taskGroupId": status.task_group_id, "schedulerId": status.scheduler_id}
        return TaskGroupResolved(
            exchange.exchange,
            exchange.routing_key(words),
            None,
            replayed=True,
            task_group_id=status.task_group_id,
            scheduler_id=status.scheduler_id,
        )

    def delivered(self, delivery: Delivery) -> list[Any]:
        ev = event_from(delivery, self.group._cluster)
        if isinstance(ev, TaskGroupResolved):
            if ev.task_group_id != self.group.task_group_id:
                return []
            self.finished = True
            return [ev]
        if not isinstance(ev, TaskEvent) or ev.task_group_id != self.group.task_group_id:
            return []
        if not self._fresh(ev):
            return []
        self._tell()
        return [ev]


def _replay(task: Task) -> list[TaskEvent]:
    """The transitions a task's listed status shows, oldest first."""
    status = task.status
    out: list[TaskEvent] = [_made(TaskDefined, task, None)]
    for run in status.runs:
        out.append(_made(TaskPending, task, run))
        if run.started is not None or run.worker_id is not None:
            out.append(_made(TaskRunning, task, run))
        if run.state in _RESOLVED:
            out.append(_made(_RESOLVED[run.state], task, run))
    return out


def _made(cls: type[TaskEvent], task: Task, run: RunInfo | None) -> TaskEvent:
    status = task.status
    words: dict[str, Any] = {
        "taskId": status.task_id,
        "provisionerId": status.provisioner_id,
        "workerType": status.worker_type,
        "schedulerId": status.scheduler_id,
        "taskGroupId": status.task_group_id,
    }
    worker_group = worker_id = None
    if run is not None:
        words["runId"] = run.run_id
        if cls is not TaskPending:
            worker_group, worker_id = run.worker_group, run.worker_id
            words["workerGroup"], words["workerId"] = worker_group, worker_id
    exchange = _b.EXCHANGES[_b.queue.prefix + cls.kind]
    # a handle of its own, holding the status listed (the group's own is updated as events come)
    own = type(task)(task._cluster, status.task_id, status=status, definition=task._definition)
    return cls(
        exchange.exchange,
        exchange.routing_key(words),
        None,
        replayed=True,
        status=status,
        task=own,
        run_id=None if run is None else run.run_id,
        worker_group=worker_group,
        worker_id=worker_id,
    )


def follow_op(group: TaskGroup, url: PulseUrl, timeout: float | None) -> Steps:
    """The operation behind ``group.follow()`` / ``group.afollow()``.

    Example:
        >>> follow_op.__name__
        'follow_op'
    """
    return consume_op(url, group_bindings(group.task_group_id), _Follow(group, timeout))


def wait_group(
    group: TaskGroup, timeout: float | None, report: Report | None = None
) -> tuple[Steps, Callable[[], dict[str, int]]]:
    """The operation behind ``group.wait()`` when the cluster has a Pulse
    URL, and a function giving the counts by state once it has run;
    ``report(resolved, total)`` is told after each transition.

    Example:
        >>> wait_group.__name__
        'wait_group'
    """
    handler = _Follow(group, timeout, report)
    url = pulse_url_of(group._cluster.pulse_url)

    def counts() -> dict[str, int]:
        return dict(Counter(handler.counts.values()))

    return consume_op(url, group_bindings(group.task_group_id), handler), counts


def _ipython_display() -> Any:
    """IPython's ``display`` when running inside IPython, else ``None``
    (IPython is never imported here: only looked up if already loaded)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return None
    from IPython.display import display

    return display


def _absorb(group: TaskGroup, ev: Any) -> None:
    """Keep the status an event brings on the group's own handle of its task."""
    if isinstance(ev, TaskEvent):
        known = group._known_tasks().get(ev.task_id)
        if known is not None:
            known._status = ev.status


def displayed(group: TaskGroup, events: Iterator[Any]) -> Iterator[Any]:
    """Pass ``events`` through; inside IPython, show ``group`` once and
    update that display in place after each event.

    Example:
        >>> list(displayed(group, iter([1, 2])))
        [1, 2]
    """
    display = _ipython_display()
    handle = None if display is None else display(group, display_id=True)
    for ev in events:
        _absorb(group, ev)
        if handle is not None:
            handle.update(group)
        yield ev


async def adisplayed(group: TaskGroup, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The async form of :func:`displayed`.

    Example:
        >>> import asyncio
        >>> async def two() -> AsyncIterator[int]:
        ...     yield 1
        ...     yield 2
        >>> async def main() -> list[int]:
        ...     return [x async for x in adisplayed(group, two())]
        >>> asyncio.run(main())
        [1, 2]
    """
    display = _ipython_display()
    handle = None if display is None else display(group, display_id=True)
    async for ev in events:
        _absorb(group, ev)
        if handle is not None:
            handle.update(group)
        yield ev
