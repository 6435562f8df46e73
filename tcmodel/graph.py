"""Analyses of a task group's loaded tasks: its graph, critical path,
timeline and failures.

Everything here is a function of tasks whose definition and status are
already in memory (tasks from a listing): nothing here sends a request.
:class:`~tcmodel.resources.task_group.TaskGroup` walks its tasks once and
hands them here (``group.critical_path()``, ``group.timeline()``,
``group.graph()``, ``group.failures()``).

Timings come from the runs: a task is *scheduled* when its first run was,
and *starts* and is *resolved* when its latest run did (the run that gave
its state; earlier attempts count as waiting). A task is *ready* when it
could start: when its last dependency resolved, or, without one, when it
was scheduled.

Example:
    >>> path = critical_path(list(group.tasks()))
    >>> path.steps[-1].resolved == max(t.status.runs[-1].resolved for t in group.tasks())
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel._extras import require

if TYPE_CHECKING:
    from tcmodel.resources.run import Run
    from tcmodel.resources.task import Task

__all__ = [
    "TIMELINE_COLUMNS",
    "CriticalPath",
    "Failure",
    "Failures",
    "PathStep",
    "Timeline",
    "critical_path",
    "digraph",
    "log_tail",
    "timeline",
]

#: The columns of :attr:`Timeline.records`, in order.
TIMELINE_COLUMNS = (
    "task_id",
    "name",
    "state",
    "scheduled",
    "started",
    "resolved",
    "duration",
    "critical",
)
#: The columns of :meth:`Failures.to_records`, in order.
FAILURE_COLUMNS = ("task_id", "name", "state", "reason", "run_id", "log_tail", "note")


@attrs.frozen
class _Span:
    """What the analyses need of one task, taken from its loaded data."""

    task: Task
    name: str
    state: str
    dependencies: tuple[str, ...]
    scheduled: datetime | None
    started: datetime | None
    resolved: datetime | None

    @classmethod
    def of(cls, task: Task) -> _Span:
        runs = task.status.runs
        return cls(
            task=task,
            name=task.name,
            state=task.state,
            dependencies=task.definition.dependencies,
            scheduled=runs[0].scheduled if runs else None,
            started=runs[-1].started if runs else None,
            resolved=runs[-1].resolved if runs else None,
        )

    @property
    def ran(self) -> bool:
        return self.started is not None and self.resolved is not None


def _spans(tasks: Iterable[Task]) -> dict[str, _Span]:
    return {t.task_id: _Span.of(t) for t in tasks}


# -- critical path -------------------------------------------------------------


@attrs.frozen
class PathStep:
    """One task of a critical path: when it was ready, started and resolved,
    how long it waited (ready → started) and ran (started → resolved).

    Example:
        >>> step = group.critical_path().steps[0]
        >>> step.wait + step.run_time == step.resolved - step.ready
        True
    """

    task: Task
    name: str
    ready: datetime
    started: datetime
    resolved: datetime

    @property
    def wait(self) -> timedelta:
        """From the moment the task could start to its start.

        Example:
            >>> group.critical_path().steps[0].wait >= timedelta(0)
            True
        """
        return self.started - self.ready

    @property
    def run_time(self) -> timedelta:
        """From the task's start to its resolution.

        Example:
            >>> group.critical_path().steps[0].run_time > timedelta(0)
            True
        """
        return self.resolved - self.started


@attrs.frozen(repr=False)
class CriticalPath:
    """The chain of dependent tasks that determined a group's wall-clock
    time, first task first: the latest-resolving task, preceded by the
    dependency whose resolution released it, and so on back to a task that
    waited for no other. ``total`` runs from the first step's ready time to
    the last step's resolution (the sum of every step's wait and run time).

    Example:
        >>> path = group.critical_path()
        >>> [s.name for s in path][:2]
        ['decision', 'build-...']
        >>> path.total == sum((s.wait + s.run_time for s in path), timedelta(0))
        True
        >>> path  # doctest: +ELLIPSIS
        <CriticalPath 3 tasks, ...: decision → build-... → test-...>
    """

    steps: tuple[PathStep, ...]

    @property
    def total(self) -> timedelta:
        """The chain's wall-clock time (zero for an empty path).

        Example:
            >>> group.critical_path().total > timedelta(0)
            True
        """
        if not self.steps:
            return timedelta(0)
        return self.steps[-1].resolved - self.steps[0].ready

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the chain, first first.

        Example:
            >>> group.critical_path().tasks[0].name
            'decision'
        """
        return [s.task for s in self.steps]

    def __iter__(self) -> Iterator[PathStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        chain = " → ".join(s.name for s in self.steps)
        return f"<CriticalPath {len(self)} tasks, {self.total}{': ' + chain if chain else ''}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from tcmodel.display.timeline import critical_path_text

        p.text(critical_path_text(self))

    def _repr_html_(self) -> str:
        from tcmodel.display.timeline import critical_path_html

        return critical_path_html(self)


def _resolved_at(span: _Span) -> datetime:
    assert span.resolved is not None  # only tasks that ran are compared
    return span.resolved


def _releaser(span: _Span, ran: Mapping[str, _Span]) -> _Span | None:
    """The dependency whose resolution released ``span``: the last of its
    dependencies that ran (those in ``ran``) to resolve before it started."""
    deps = [ran[d] for d in span.dependencies if d in ran]
    before = [d for d in deps if span.started and _resolved_at(d) <= span.started]
    return max(before, key=_resolved_at, default=None)


def _chain(spans: Mapping[str, _Span]) -> list[PathStep]:
    ran = {k: s for k, s in spans.items() if s.ran}
    current = max(ran.values(), key=_resolved_at, default=None)
    steps: list[PathStep] = []
    seen: set[str] = set()
    while current is not None and current.task.task_id not in seen:
        seen.add(current.task.task_id)
        assert current.started is not None and current.resolved is not None
        released_by = _releaser(current, ran)
        ready = released_by.resolved if released_by is not None else current.scheduled
        ready = min(ready or current.started, current.started)
        steps.append(PathStep(current.task, current.name, ready, current.started, current.resolved))
        current = released_by
    return steps[::-1]


def critical_path(tasks: Iterable[Task]) -> CriticalPath:
    """The critical path of ``tasks`` (loaded tasks of one group); tasks that
    never ran (no start or no resolution) are not on it.

    Example:
        >>> len(critical_path([])), critical_path([]).total
        (0, datetime.timedelta(0))
        >>> critical_path(group.tasks()).tasks == group.critical_path().tasks
        True
    """
    return CriticalPath(tuple(_chain(_spans(tasks))))


# -- timeline ------------------------------------------------------------------


@attrs.frozen(repr=False)
class Timeline:
    """When each task of a group was scheduled, started and resolved, and
    whether it is on the critical path. ``records`` are flat dicts (the
    columns of :data:`TIMELINE_COLUMNS`), in the order the tasks were given.
    Displays as a Gantt-style chart of the critical path and the slowest
    tasks.

    Example:
        >>> tl = group.timeline()
        >>> len(tl.records), sorted(tl.records[0])[:3]
        (41, ['critical', 'duration', 'name'])
        >>> {r["name"] for r in tl.records if r["critical"]} == {
        ...     s.name for s in tl.critical_path}
        True
    """

    records: tuple[dict[str, Any], ...]
    critical_path: CriticalPath
    _tasks: dict[str, Task] = attrs.field(factory=dict, alias="tasks", eq=False, repr=False)

    def to_dataframe(self) -> Any:
        """The records as a ``pandas.DataFrame`` (datetimes, timedeltas and
        a categorical state; pandas is the ``notebook`` extra).

        Example:
            >>> df = group.timeline().to_dataframe()
            >>> len(df), str(df["duration"].dtype)
            (41, 'timedelta64[ns]')
        """
        from tcmodel.display.tables import dataframe

        return dataframe(self.records, TIMELINE_COLUMNS)

    def __repr__(self) -> str:
        return f"<Timeline {len(self.records)} tasks, critical path {self.critical_path!r}>"

    def slowest(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` records with the longest durations, longest first.

        Example:
            >>> tl = group.timeline()
            >>> tl.slowest(1)[0]["duration"] == max(r["duration"] for r in tl.records)
            True
        """
        timed = [r for r in self.records if r["duration"] is not None]
        return sorted(timed, key=lambda r: r["duration"], reverse=True)[:n]

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from tcmodel.display.timeline import timeline_text

        p.text(timeline_text(self))

    def _repr_html_(self) -> str:
        from tcmodel.display.timeline import timeline_html

        return timeline_html(self)


def _record(span: _Span, critical: bool) -> dict[str, Any]:
    duration = None
    if span.started is not None and span.resolved is not None:
        duration = span.resolved - span.started
    return {
        "task_id": span.task.task_id,
        "name": span.name,
        "state": span.state,
        "scheduled": span.scheduled,
        "started": span.started,
        "resolved": span.resolved,
        "duration": duration,
        "critical": critical,
    }


def timeline(tasks: Iterable[Task]) -> Timeline:
    """The timeline of ``tasks`` (loaded tasks of one group).

    Example:
        >>> timeline([]).records
        ()
        >>> timeline(group.tasks()).records == group.timeline().records
        True
    """
    spans = _spans(tasks)
    path = CriticalPath(tuple(_chain(spans)))
    on_path = {s.task.task_id for s in path}
    records = tuple(_record(s, tid in on_path) for tid, s in spans.items())
    return Timeline(records, path, tasks={tid: s.task for tid, s in spans.items()})


# -- graph -----------------------------------------------------------------------


def digraph(tasks: Iterable[Task]) -> Any:
    """A ``networkx.DiGraph`` of ``tasks``: one node per task id (attributes
    ``task``, ``name``, ``state``), one edge from each dependency to its
    dependent when both are among ``tasks``. networkx is the ``notebook``
    extra (:class:`~tcmodel._extras.MissingExtra` without it).

    Example:
        >>> g = digraph(group.tasks())
        >>> g.number_of_nodes(), g.nodes[build.task_id]["name"]
        (41, 'build-linux64-opt')
    """
    nx = require("networkx", "notebook")
    spans = _spans(tasks)
    graph = nx.DiGraph()
    for tid, span in spans.items():
        graph.add_node(tid, task=span.task, name=span.name, state=span.state)
    for tid, span in spans.items():
        graph.add_edges_from((dep, tid) for dep in span.dependencies if dep in spans)
    return graph


# -- failures --------------------------------------------------------------------


def log_tail(text: str, lines: int) -> str:
    """The last ``lines`` lines of ``text`` (none for ``lines <= 0``).

    Example:
        >>> log_tail("a\\nb\\nc\\n", 2)
        'b\\nc'
        >>> log_tail("a\\nb", 0)
        ''
    """
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


@attrs.frozen
class Failure:
    """A failed or exception task: its state, why its latest run ended
    (``reasonResolved``), that run, the last lines of its log, and a note
    when the log could not be read (``""`` otherwise).

    Example:
        >>> f = group.failures(tail=2)[0]
        >>> f.state in ("failed", "exception"), len(f.log_tail.splitlines()) <= 2
        (True, True)
    """

    task: Task
    name: str
    state: str
    reason: str | None
    run: Run | None
    log_tail: str
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        """A flat dict (the columns of ``Failures.to_records``).

        Example:
            >>> sorted(group.failures(tail=1)[0].to_record())[:3]
            ['log_tail', 'name', 'note']
        """
        return {
            "task_id": self.task.task_id,
            "name": self.name,
            "state": self.state,
            "reason": self.reason,
            "run_id": self.run.run_id if self.run is not None else None,
            "log_tail": self.log_tail,
            "note": self.note,
        }


@attrs.frozen(repr=False)
class Failures:
    """The failures of a group, list-like (``len``, indexing, iteration),
    shown as a table.

    Example:
        >>> failures = group.failures(tail=3)
        >>> sorted(f.name for f in failures)
        ['lint-eslint', 'test-macosx64-opt-perf', 'test-win64-debug-ui']
    """

    items: tuple[Failure, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Failure:
        return self.items[index]

    def __iter__(self) -> Iterator[Failure]:
        return iter(self.items)

    def __repr__(self) -> str:
        return f"<Failures {len(self)}: {', '.join(f.name for f in self.items)}>"

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per failure.

        Example:
            >>> {r["state"] for r in group.failures(tail=1).to_records()}
            {'failed'}
        """
        return [f.to_record() for f in self.items]

    def to_dataframe(self) -> Any:
        """The records as a ``pandas.DataFrame`` (pandas is the ``notebook`` extra).

        Example:
            >>> list(group.failures(tail=1).to_dataframe().columns)[:3]
            ['task_id', 'name', 'state']
        """
        from tcmodel.display.tables import dataframe

        return dataframe(self.to_records(), FAILURE_COLUMNS)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from tcmodel.display.timeline import failures_text

        p.text(failures_text(self))

    def _repr_html_(self) -> str:
        from tcmodel.display.timeline import failures_html

        return failures_html(self)
