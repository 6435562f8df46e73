"""Task groups: the tasks of one graph, listed lazily, sealed and cancelled.

Example:
    >>> import tcmodel
    >>> group = tcmodel.Cluster.from_url("https://tc.example.com").task_group(
    ...     "XDqefRsvTG6ajX5vWks8LQ")
    >>> group
    <TaskGroup taskGroupId='XDqefRsvTG6ajX5vWks8LQ'>
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel import graph as analysis
from tcmodel.concurrency import arun_ops, run_ops
from tcmodel.errors import NotFound, TaskclusterError, UnknownName, WaitTimeout
from tcmodel.graph import CriticalPath, Failure, Failures, Timeline
from tcmodel.models import (
    PRIORITIES,
    TASK_STATES,
    ModelDataError,
    TaskGroupCancellation,
    TaskGroupInfo,
)
from tcmodel.progress import ProgressLike, Report, pages_reporter, reporter
from tcmodel.resources.base import Resource, refuse_in_async_use
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, TaskBatch, _poll
from tcmodel.transport import Call, Op, Page, parsing
from tcmodel.utils import check_choice, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["TaskGroup"]

_INFO_KEYS = ("taskGroupId", "schedulerId", "expires", "sealed")
#: The states :meth:`TaskGroup.failures` reports.
FAILED_STATES = ("failed", "exception")


class TaskGroup(Resource):
    """A task group, known by its ``taskGroupId``.

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> c.task_group("XDqefRsvTG6ajX5vWks8LQ").task_group_id
        'XDqefRsvTG6ajX5vWks8LQ'
    """

    _noun = "group"

    def __init__(
        self, cluster: Cluster, task_group_id: str, *, info: TaskGroupInfo | None = None
    ) -> None:
        super().__init__(cluster)
        self._task_group_id = check_slug_id(task_group_id, "taskGroupId")
        self._info = info
        # Every task any walk of tasks() made, by taskId: the tasks of the
        # group know each other through it (dependencies cost nothing), and
        # displays and key completion use it without a request.
        self._registry = TaskBatch(cluster, ())
        self._listed_all = False  # a walk of tasks() reached the last page whole

    @property
    def task_group_id(self) -> str:
        """The group's id (its identity; read-only).

        Example:
            >>> group.task_group_id == tasks["decision"].status.task_group_id
            True
        """
        return self._task_group_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskGroupId", self.task_group_id),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        facts: tuple[tuple[str, Any], ...] = ()
        if self._info is not None:
            facts += (("sealed", self._info.sealed is not None),)
        if self._listed_all:
            facts += (("tasks", len(self._known_tasks())), *self._state_counts().items())
        return facts

    def _state_counts(self) -> dict[str, int]:
        """How many of the tasks listed so far are in each state, in
        lifecycle order (no request)."""
        known = self._known_tasks().values()
        counts = Counter(s for t in known if (s := t._known_state()) is not None)
        return {s: counts[s] for s in (*TASK_STATES, *sorted(counts)) if counts.get(s)}

    @property
    def ui_url(self) -> str:
        """The group's page in the deployment's web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task_group(
            ...     "XDqefRsvTG6ajX5vWks8LQ").ui_url
            'https://tc.example.com/tasks/groups/XDqefRsvTG6ajX5vWks8LQ'
        """
        return self._cluster._ui_url("tasks", "groups", self.task_group_id)

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("queue", name, body=body, taskGroupId=self.task_group_id)

    # data

    def _info_op(self, name: str) -> Op[TaskGroupInfo]:
        call = self._call(name)
        self._info = yield from self._transport.call(call, convert=self._group_info)
        return self._info

    def _group_info(self, data: Any) -> TaskGroupInfo:
        """The group's info from an answer, once it is known to be about this group."""
        info = TaskGroupInfo._from_json(data)
        self._check_about(info.task_group_id)
        return info

    def _check_about(self, task_group_id: str) -> None:
        if task_group_id != self.task_group_id:
            raise ModelDataError(
                f"the answer is about task group {task_group_id!r}, not {self.task_group_id!r}"
            )

    @property
    def info(self) -> TaskGroupInfo:
        """``getTaskGroup``: scheduler id, expiry, when sealed (loaded once;
        also refreshed for free by every :meth:`tasks` page).

        Example:
            >>> cluster.task_group(group.task_group_id).info.scheduler_id
            '-'
        """
        return self._cached("_info", lambda: self._info_op("getTaskGroup"))

    async def ainfo(self) -> TaskGroupInfo:
        """The async form of :attr:`info` (afterwards ``group.sealed``,
        ``group.expires`` … cost nothing).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         g = c.task_group(group.task_group_id)
            ...         await g.ainfo()
            ...         return g.scheduler_id
            >>> asyncio.run(main())
            '-'
        """
        return await self._acached("_info", lambda: self._info_op("getTaskGroup"))

    @property
    def loaded(self) -> bool:
        """Whether the group's info is in memory.

        Example:
            >>> g = cluster.task_group(group.task_group_id)
            >>> g.loaded, g.sealed, g.loaded
            (False, None, True)
        """
        return self._info is not None

    def refresh(self) -> TaskGroup:
        """Reload the group's info.

        Example:
            >>> cluster.task_group(group.task_group_id).refresh().loaded
            True
        """
        self._run(self._info_op("getTaskGroup"))
        return self

    async def arefresh(self) -> TaskGroup:
        """The async form of :meth:`refresh`.

        Example:
            >>> import asyncio
            >>> async def main() -> bool:
            ...     async with lc.connect() as c:
            ...         return (await c.task_group(group.task_group_id).arefresh()).loaded
            >>> asyncio.run(main())
            True
        """
        await self._arun(self._info_op("getTaskGroup"))
        return self

    @property
    def scheduler_id(self) -> str:
        """The group's scheduler id (the same for all its tasks).

        Example:
            >>> cluster.task_group(group.task_group_id).scheduler_id
            '-'
        """
        return self.info.scheduler_id

    @property
    def expires(self) -> datetime:
        """When the group expires.

        Example:
            >>> cluster.task_group(group.task_group_id).expires.utcoffset()
            datetime.timedelta(0)
        """
        return self.info.expires

    @property
    def sealed(self) -> datetime | None:
        """When the group was sealed (``None`` if it is not).

        Example:
            >>> cluster.task_group(group.task_group_id).sealed is None  # tasks may still be added
            True
        """
        return self.info.sealed

    # tasks

    def _absorb_page(self, page: Page) -> None:
        body = page.body
        if all(k in body for k in _INFO_KEYS[:3]):
            with parsing(self._call("listTaskGroup")):
                self._info = self._group_info({k: body[k] for k in _INFO_KEYS if k in body})
        whole = len(page.items) == len(body.get("tasks") or ())
        if whole and not body.get("continuationToken"):
            self._listed_all = True

    def _known_tasks(self) -> dict[str, Task]:
        """Every task listed so far, by taskId (no request)."""
        return self._registry.tasks

    def __getitem__(self, key: str) -> Task:
        """The group's task with this name or taskId. Tasks listed before
        cost nothing; otherwise the group is listed once (one request per
        1000 tasks). ``KeyError`` when no task (or more than one) has it.

        Example:
            >>> group["build-linux64-opt"].state
            'completed'
            >>> group["no-such-task"]
            Traceback (most recent call last):
            ...
            tcmodel.errors.UnknownName: no task of group ... has the taskId 'no-such-task'
        """
        return self._run(self._task_op(key))

    async def aget(self, key: str) -> Task:
        """The async form of ``group[key]``: the group's task with this name
        or taskId (the same requests).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task_group(group.task_group_id).aget("lint-eslint")).state
            >>> asyncio.run(main())
            'failed'
        """
        return await self._arun(self._task_op(key))

    def _task_op(self, key: str) -> Op[Task]:
        found = self._lookup(key)
        if found is None and not self._listed_all:
            yield from self.tasks()._all()
            found = self._lookup(key)
        if found is None:
            raise UnknownName(
                f"no task of group {self.task_group_id} is named or has the taskId {key!r}"
            )
        return found

    def _lookup(self, key: str) -> Task | None:
        known = self._registry.tasks
        if key in known:
            return known[key]
        named = [t for t in known.values() if t._known_name() == key]
        if len(named) > 1:
            raise UnknownName(f"{len(named)} tasks of group {self.task_group_id} are named {key!r}")
        return named[0] if named else None

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def _ipython_key_completions_(self) -> list[str]:
        """The names of the tasks listed so far (no request), for ``group["<TAB>``."""
        known = self._registry.tasks.values()
        return sorted({name for t in known if (name := t._known_name()) is not None})

    def tasks(self, progress: ProgressLike = False) -> Listing[Task]:
        """The group's tasks with definition and status, lazily paged
        (``listTaskGroup``): one request per page, nothing more per task.
        ``progress=True`` shows a tqdm bar of the tasks listed (or give a
        callable ``progress(done, None)``).

        Example:
            >>> listed = cluster.task_group(group.task_group_id).tasks()
            >>> len(list(listed)), sorted(t.name for t in listed.filter(state="failed"))[0]
            (41, 'lint-eslint')
        """
        cluster, registry = self.cluster, self._registry
        call = self._call("listTaskGroup")
        origin = str(call)  # named by an error in an entry, found when its models are made
        counted = pages_reporter(progress, f"tasks of {self.task_group_id}")

        def on_page(page: Page) -> None:
            self._absorb_page(page)
            if counted is not None:
                counted(page)

        return Listing(
            self._transport,
            call,
            "tasks",
            lambda entry: Task._from_listing(cluster, entry, registry, origin),
            on_page=on_page,
            item_type=Task,
        )

    def summary(self) -> dict[str, int]:
        """How many tasks are in each state (walks :meth:`tasks` once).

        Example:
            >>> cluster.task_group(group.task_group_id).summary()["failed"]
            3
        """
        return self._run(self._summary_op())

    async def asummary(self) -> dict[str, int]:
        """The async form of :meth:`summary`.

        Example:
            >>> import asyncio
            >>> async def main() -> dict[str, int]:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).asummary()
            >>> asyncio.run(main())["completed"]
            38
        """
        return await self._arun(self._summary_op())

    def _summary_op(self) -> Op[dict[str, int]]:
        listed = yield from self.tasks()._all()
        return dict(Counter(t.state for t in listed))

    # the task graph

    def _all_tasks(self) -> list[Task]:
        """Every task of the group: the ones listed already when a walk of
        :meth:`tasks` reached the end, else a new walk (one request per
        1000 tasks)."""
        return self._run(self._all_tasks_op())

    def _all_tasks_op(self) -> Op[list[Task]]:
        """:meth:`_all_tasks` as an operation (for the async graph tools)."""
        if self._listed_all:
            return list(self._known_tasks().values())
        return (yield from self.tasks()._all())

    def graph(self) -> Any:
        """The group's tasks as a ``networkx.DiGraph``: nodes are task ids
        (attributes ``task``, ``name``, ``state``), edges go from a
        dependency to its dependent. Lists the group once unless it was
        listed whole already. networkx is the ``notebook`` extra.

        Example:
            >>> g = group.graph()
            >>> g.number_of_nodes(), g.in_degree(tasks["signing"].task_id)
            (41, 6)
            >>> g.nodes[tasks["decision"].task_id]["state"]
            'completed'
        """
        return analysis.digraph(self._all_tasks())

    async def agraph(self) -> Any:
        """The async form of :meth:`graph` (the same listing).

        Example:
            >>> import asyncio
            >>> async def main() -> Any:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).agraph()
            >>> asyncio.run(main()).number_of_nodes()
            41
        """
        return analysis.digraph(await self._arun(self._all_tasks_op()))

    def critical_path(self) -> CriticalPath:
        """The chain of dependent tasks that determined the group's
        wall-clock time, with each step's wait and run time (see
        :class:`~tcmodel.graph.CriticalPath`); from the runs' start and
        resolve times. Lists the group once unless it was listed whole already.

        Example:
            >>> path = group.critical_path()
            >>> path.tasks[0].name, path.total > path.steps[0].run_time
            ('decision', True)
        """
        return analysis.critical_path(self._all_tasks())

    async def acritical_path(self) -> CriticalPath:
        """The async form of :meth:`critical_path` (the same listing).

        Example:
            >>> import asyncio
            >>> async def main() -> CriticalPath:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).acritical_path()
            >>> [t.name for t in asyncio.run(main()).tasks] == [
            ...     t.name for t in group.critical_path().tasks]
            True
        """
        return analysis.critical_path(await self._arun(self._all_tasks_op()))

    def timeline(self) -> Timeline:
        """When each task was scheduled, started and resolved, with its
        duration and whether it is on the critical path (``.records``,
        ``.to_dataframe()``; shown as a Gantt-style chart). Lists the group
        once unless it was listed whole already.

        Example:
            >>> tl = group.timeline()
            >>> sum(r["critical"] for r in tl.records) == len(group.critical_path())
            True
        """
        return analysis.timeline(self._all_tasks())

    async def atimeline(self) -> Timeline:
        """The async form of :meth:`timeline` (the same listing).

        Example:
            >>> import asyncio
            >>> async def main() -> Timeline:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).atimeline()
            >>> len(asyncio.run(main()).records)
            41
        """
        return analysis.timeline(await self._arun(self._all_tasks_op()))

    # triage

    def failures(
        self, tail: int = 20, concurrency: int | None = None, progress: ProgressLike = False
    ) -> Failures:
        """Every failed or exception task with why its latest run ended,
        that run, and the last ``tail`` lines of its log. Lists the group
        once (unless listed whole already); the logs are fetched by at most
        ``concurrency`` threads at a time (by default the cluster's
        ``transport.concurrency``, 16: see :mod:`tcmodel.concurrency`). A
        run without a readable log gets an empty tail and a note.
        ``progress=True`` shows a bar of logs read.

        Example:
            >>> failures = group.failures(tail=1)
            >>> [(f.name, f.reason, f.log_tail) for f in failures if f.name == "lint-eslint"]
            [('lint-eslint', 'failed', '[taskcluster] exit code 1')]
        """
        ops = _failure_ops(self._all_tasks(), tail)
        with reporter(progress, "reading logs", total=len(ops)) as report:
            return Failures(tuple(run_ops(self._transport, ops, concurrency, report)))

    async def afailures(
        self, tail: int = 20, concurrency: int | None = None, progress: ProgressLike = False
    ) -> Failures:
        """The async form of :meth:`failures`: the same operations, at most
        ``concurrency`` logs read at once by the event loop.

        Example:
            >>> import asyncio
            >>> async def main() -> Failures:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).afailures(tail=1)
            >>> [(f.name, f.log_tail) for f in asyncio.run(main()) if f.name == "lint-eslint"]
            [('lint-eslint', '[taskcluster] exit code 1')]
        """
        ops = _failure_ops(await self._arun(self._all_tasks_op()), tail)
        with reporter(progress, "reading logs", total=len(ops)) as report:
            return Failures(tuple(await arun_ops(self._transport, ops, concurrency, report)))

    # waiting

    def _wait_op(
        self, timeout: float | None, poll: float, report: Report | None
    ) -> Op[dict[str, int]]:
        counts: dict[str, int] = {}

        def check() -> Op[dict[str, int] | None]:
            listed = yield from self.tasks()._all()
            counts.clear()
            counts.update(Counter(t.state for t in listed))
            resolved = sum(1 for t in listed if t.status.is_resolved)
            if report is not None:
                report(resolved, len(listed))
            return dict(counts) if listed and resolved == len(listed) else None

        def timed_out() -> WaitTimeout:
            state = ", ".join(f"{n} {s}" for s, n in counts.items()) or "unknown"
            return WaitTimeout(repr(self), state, timeout or 0.0)

        return (yield from _poll(check, timeout, poll, timed_out))

    def wait(
        self, timeout: float | None = None, poll: float = 5.0, progress: ProgressLike = False
    ) -> dict[str, int]:
        """List the group until every task is resolved and return how many
        are in each state (one request per 1000 tasks per poll). The pause
        between polls grows from ``poll`` seconds up to a minute; after
        ``timeout`` seconds :class:`~tcmodel.WaitTimeout` names the group
        and its counts. ``progress=True`` shows a bar of resolved tasks.

        Example:
            >>> counts = cluster.task_group(group.task_group_id).wait(timeout=5)
            >>> counts["failed"], sum(counts.values())
            (3, 41)
        """
        events = self._cluster._waits_on_events()  # Pulse: no polling (tcmodel.events)
        if events:
            refuse_in_async_use(self._transport, self, "await group.await_()")
        with reporter(progress, f"waiting for {self.task_group_id}") as report:
            if events:
                from tcmodel.events import _amqp, follow

                op, counts = follow.wait_group(self, timeout, report)
                for _ in _amqp.drive(op):
                    pass
                return counts()
            return self._run(self._wait_op(timeout, poll, report))

    async def await_(
        self, timeout: float | None = None, poll: float = 5.0, progress: ProgressLike = False
    ) -> dict[str, int]:
        """The async form of :meth:`wait` (``await group.await_()``).

        Example:
            >>> import asyncio
            >>> async def main() -> dict[str, int]:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).await_(timeout=5)
            >>> asyncio.run(main())["completed"]
            38
        """
        with reporter(progress, f"waiting for {self.task_group_id}") as report:
            if self._cluster._waits_on_events():  # Pulse: no polling (tcmodel.events)
                from tcmodel.events import _amqp, follow

                op, counts = follow.wait_group(self, timeout, report)
                async for _ in _amqp.adrive(op):
                    pass
                return counts()
            return await self._arun(self._wait_op(timeout, poll, report))

    def _follow_op(self, pulse_url: str | None, timeout: float | None) -> Any:
        from tcmodel.events import consumer, follow

        url = consumer.pulse_url_of(pulse_url or self._cluster.pulse_url)
        return follow.follow_op(self, url, timeout)

    def follow(self, pulse_url: str | None = None, timeout: float | None = None) -> Iterator[Any]:
        """Yield the group's task transitions live (typed events of
        :mod:`tcmodel.events`: ``TaskDefined``, ``TaskPending``,
        ``TaskRunning``, ``TaskCompleted``, ``TaskFailed``,
        ``TaskException``), each once, ending with ``TaskGroupResolved``;
        :class:`~tcmodel.WaitTimeout` after ``timeout`` seconds. After each
        (re)connection to Pulse (``pulse_url``, else the cluster's) it lists
        the group once and yields what it missed (``event.replayed``).
        Needs the ``events`` extra.

        Example:
            >>> cluster.task_group(group.task_group_id).follow(pulse_url="https://x")
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: a Pulse URL starts with amqp:// or amqps://, ...
        """
        from tcmodel.events._amqp import drive
        from tcmodel.events.follow import displayed

        op = self._follow_op(pulse_url, timeout)
        refuse_in_async_use(self._transport, self, "use group.afollow() (async for)")
        return displayed(self, drive(op))

    def afollow(self, pulse_url: str | None = None, timeout: float | None = None) -> Any:
        """The async form of :meth:`follow` (``async for ev in group.afollow()``).

        Example:
            >>> cluster.task_group(group.task_group_id).afollow(pulse_url="https://x")
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: a Pulse URL starts with amqp:// or amqps://, ...
        """
        from tcmodel.events._amqp import adrive
        from tcmodel.events.follow import adisplayed

        return adisplayed(self, adrive(self._follow_op(pulse_url, timeout)))

    # actions

    def seal(self) -> TaskGroup:
        """Seal the group: no task can be added any more (``sealTaskGroup``).

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="s")
            >>> t.task_group.seal().sealed is not None
            True
        """
        self._run(self._info_op("sealTaskGroup"))
        return self

    async def aseal(self) -> TaskGroup:
        """The async form of :meth:`seal`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="s")
            >>> async def main() -> bool:
            ...     async with lc.connect() as c:
            ...         sealed = await c.task_group(t.status.task_group_id).aseal()
            ...         return sealed.sealed is not None
            >>> asyncio.run(main())
            True
        """
        await self._arun(self._info_op("sealTaskGroup"))
        return self

    def cancel(self) -> TaskGroupCancellation:
        """Cancel every unresolved task of a sealed group (``cancelTaskGroup``).

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="c")
            >>> t.task_group.seal().cancel().cancelled_count
            1
        """
        return self._run(self._cancel_op())

    async def acancel(self) -> TaskGroupCancellation:
        """The async form of :meth:`cancel`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="c")
            >>> async def main() -> int:
            ...     async with lc.connect() as c:
            ...         g = await c.task_group(t.status.task_group_id).aseal()
            ...         return (await g.acancel()).cancelled_count
            >>> asyncio.run(main())
            1
        """
        return await self._arun(self._cancel_op())

    def _cancel_op(self) -> Op[TaskGroupCancellation]:
        call = self._call("cancelTaskGroup")
        return self._transport.call(call, convert=self._cancellation)

    def _cancellation(self, data: Any) -> TaskGroupCancellation:
        """What ``cancelTaskGroup`` answered, once it is known to be about
        this group and to name tasks by slugIds."""
        done = TaskGroupCancellation._from_json(data)
        self._check_about(done.task_group_id)
        for task_id in done.task_ids:
            check_slug_id(task_id, "taskIds[]")
        return done

    def change_priority(self, priority: str) -> dict[str, Any]:
        """Change the priority of every unresolved task (``changeTaskGroupPriority``).

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="p")
            >>> sorted(t.task_group.change_priority("low"))
            [...]
        """
        return self._run(self._priority_op(priority))

    async def achange_priority(self, priority: str) -> dict[str, Any]:
        """The async form of :meth:`change_priority`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="p")
            >>> async def main() -> dict[str, Any]:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(t.status.task_group_id).achange_priority("low")
            >>> sorted(asyncio.run(main()))
            [...]
        """
        return await self._arun(self._priority_op(priority))

    def _priority_op(self, priority: str) -> Op[dict[str, Any]]:
        check_choice("priority", priority, PRIORITIES)
        call = self._call("changeTaskGroupPriority", {"newPriority": priority})
        return self._transport.call(call, convert=_object)


def _object(answer: Any) -> dict[str, Any]:
    """An answer that must be a JSON object, as it is."""
    if not isinstance(answer, dict):
        raise ModelDataError(f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _failure_ops(listed: list[Task], tail: int) -> list[Op[Failure]]:
    """One :func:`_failure_op` per failed task of ``listed``."""
    return [_failure_op(t, tail) for t in listed if t.state in FAILED_STATES]


def _failure_op(task: Task, tail: int) -> Op[Failure]:
    """What triage shows of one failed task: its latest run's log tail, or
    a note saying why there is none."""
    run = task.latest_run
    if run is None:
        return Failure(task, task.name, task.state, None, None, "", "no run")
    text, note = "", ""
    try:
        text = yield from run._log_op()
    except NotFound:
        note = "no log"
    except TaskclusterError as err:  # shown in the table rather than raised
        note = f"log not readable: {err}"
    return Failure(
        task, task.name, task.state, run.reason_resolved, run, analysis.log_tail(text, tail), note
    )
