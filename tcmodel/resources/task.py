"""Tasks: definition, status, runs, dependencies, actions, logs.

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> task = cluster.task("Dx4tPEtaRpeIeWpbTD0uHw")   # no request
    >>> task.run(0)
    <Run taskId='Dx4tPEtaRpeIeWpbTD0uHw' runId=0>
    >>> task.latest_artifact("public/logs/live_backing.log")
    <Artifact taskId='Dx4tPEtaRpeIeWpbTD0uHw' runId=None name='public/logs/live_backing.log'>
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from tcmodel.errors import (
    ArtifactError,
    ConnectionFailed,
    InsufficientScopes,
    NotFound,
    ResourceExpired,
    WaitTimeout,
)
from tcmodel.models import PRIORITIES, ModelDataError, TaskDefinition, TaskStatus
from tcmodel.progress import ProgressLike, Report, reporter
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op, Pager, Sleep, parsing
from tcmodel.utils import check_choice, check_run_id, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.artifact import Artifact
    from tcmodel.resources.claim import Claim
    from tcmodel.resources.run import LogText, Run
    from tcmodel.resources.task_group import TaskGroup

__all__ = ["LOG_NAMES", "Task", "TaskBatch"]

#: Where a task's log is looked for, best first (primer e: prefer the backing log).
LOG_NAMES = ("public/logs/live_backing.log", "public/logs/live.log")
#: What reading a log artifact may raise when that run has no readable log:
#: missing, an error artifact, expired, or a live-log reference to a worker
#: that is gone.
NO_LOG = (NotFound, ArtifactError, ResourceExpired, ConnectionFailed)
#: The longest pause between two polls of ``wait()`` (seconds), unless
#: ``poll`` itself is longer.
WAIT_CAP = 60.0
#: How much each pause of ``wait()`` grows over the one before.
WAIT_GROWTH = 1.5

T = TypeVar("T")


class TaskBatch:
    """Tasks handed out together whose data is fetched in bulk.

    Reading the status (or definition) of one task of the batch fetches it
    for every task of the batch that lacks it, with the queue's bulk
    ``statuses`` (``tasks``) call: one request per 1000 tasks, not one per
    task. Ids the queue does not know are left out of its answer: reading
    those raises :class:`~tcmodel.NotFound` with no further request. (When
    the bulk call is refused for want of scopes, each task is asked for
    alone.)

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> deps = c.tasks(["Dx4tPEtaRpeIeWpbTD0uHw", "XDqefRsvTG6ajX5vWks8LQ"])
        >>> len(deps), deps[0].loaded
        (2, False)
    """

    def __init__(self, cluster: Cluster, task_ids: Iterable[str]) -> None:
        self.tasks: dict[str, Task] = {}
        for tid in task_ids:
            if tid not in self.tasks:
                self.tasks[tid] = Task(cluster, tid, batch=self)
        self._transport = cluster.transport
        self._asked: dict[str, set[str]] = {"status": set(), "definition": set()}
        # Ids the bulk answer left out: the queue does not know them.
        self._missing: dict[str, set[str]] = {"status": set(), "definition": set()}
        # Tasks of other batches that tasks of this one depend on (not members:
        # not fetched with it), so that they are made once.
        self._neighbours: dict[str, Task] = {}

    def fill(self, kind: str) -> Op[None]:
        """Fetch what the batch's tasks lack of ``kind`` ("status" or
        "definition") with the bulk call, as an operation.

        Example:
            >>> import tcmodel
            >>> batch = TaskBatch(tcmodel.Cluster.from_url("https://tc.example.com"),
            ...                   ["Dx4tPEtaRpeIeWpbTD0uHw", "XDqefRsvTG6ajX5vWks8LQ"])
            >>> next(batch.fill("status")).request.url  # one bulk request for both
            URL('https://tc.example.com/api/queue/v1/tasks/status')
        """
        attr, name, items_key, key = {
            "status": ("_status", "statuses", "statuses", "status"),
            "definition": ("_definition", "tasks", "tasks", "task"),
        }[kind]
        asked = self._asked[kind]
        gone = self._missing["status"] | self._missing["definition"]
        wanted = [
            t
            for t, task in self.tasks.items()
            if t not in asked and t not in gone and not task._is_cached(attr)
        ]
        if not wanted:
            return
        call = Call.of("queue", name, body={"taskIds": wanted})
        convert = _status if kind == "status" else _definition
        try:
            items = yield from self._transport.all_items(Pager(call, items_key))
        except (InsufficientScopes, NotFound):
            # The bulk call needs scopes for every id; without them each task
            # is asked for alone, and only a task really out of reach fails.
            asked.update(wanted)
            return
        with parsing(call):
            found = [
                (check_slug_id(_part(item, "taskId")), convert(_part(item, key))) for item in items
            ]
            for task_id, value in found:
                if isinstance(value, TaskStatus):
                    _check_about(value, task_id)
        asked.update(wanted)  # ids the queue drops are not asked for in bulk again
        self._missing[kind].update(set(wanted).difference(t for t, _ in found))
        for task_id, value in found:
            task = self.tasks.get(task_id)
            if task is not None:
                setattr(task, attr, value)

    def _unknown(self, kind: str, task_id: str) -> NotFound | None:
        """The error for a task a bulk answer left out (the queue does not
        know it), else ``None``; ``kind`` is what was being read."""
        if task_id not in self._missing["status"] | self._missing["definition"]:
            return None
        call = Call.of("queue", "statuses" if kind == "status" else "tasks")
        return NotFound(
            call=f"{call}(taskIds=[… {task_id!r} …])",
            method="POST",
            url=self._transport.url_for(call),
            status=404,
            code="ResourceNotFound",
            message=f"task {task_id} does not exist: the bulk answer left it out",
        )

    def __len__(self) -> int:
        return len(self.tasks)

    def _add(self, task: Task) -> Task:
        """Register ``task`` (made elsewhere, e.g. from a listing entry) so
        tasks of this batch find it by id; a later handle of the same id
        replaces an earlier one."""
        task._batch = self
        self.tasks[task.task_id] = task
        return task

    def _know(self, task: Task) -> None:
        """Let tasks of this batch find ``task`` (of another batch) by id;
        it stays in its own batch, and a task already known wins."""
        if task.task_id not in self.tasks:
            self._neighbours.setdefault(task.task_id, task)

    def _find(self, task_id: str) -> Task | None:
        """The task with this id among the batch's members and neighbours."""
        return self.tasks.get(task_id) or self._neighbours.get(task_id)


class Task(Resource):
    """One task, known by its ``taskId``.

    ``definition`` (``queue.task``) and ``status`` (``queue.status``) load
    on first read, once each; :meth:`refresh` reloads the status (the
    definition never changes). Tasks that come from a listing carry what
    the listing returned, so reading them costs nothing more.

    Example:
        >>> import tcmodel
        >>> t = tcmodel.Cluster.from_url("https://tc.example.com").task("Dx4tPEtaRpeIeWpbTD0uHw")
        >>> t.task_id
        'Dx4tPEtaRpeIeWpbTD0uHw'
        >>> tcmodel.Cluster.from_url("https://tc.example.com").task("not-a-slug")
        Traceback (most recent call last):
        ...
        ValueError: taskId must be a slugId ...
    """

    def __init__(
        self,
        cluster: Cluster,
        task_id: str,
        *,
        definition: TaskDefinition | None = None,
        status: TaskStatus | None = None,
        batch: TaskBatch | None = None,
    ) -> None:
        super().__init__(cluster)
        self._task_id = check_slug_id(task_id, "taskId")
        self._definition = definition
        self._status = status
        self._batch = batch
        self._dependencies: list[Task] | None = None  # made once, by _link_dependencies

    @property
    def task_id(self) -> str:
        """The task's id (its identity; read-only).

        Example:
            >>> task.task_id == cluster.task(task.task_id).task_id
            True
            >>> len(task.task_id)
            22
        """
        return self._task_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskId", self.task_id),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return (("state", self._status.state),) if self._status is not None else ()

    def _label(self) -> str | None:
        return self._definition.metadata.name if self._definition is not None else None

    @property
    def ui_url(self) -> str:
        """The task's page in the deployment's web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task(
            ...     "Dx4tPEtaRpeIeWpbTD0uHw").ui_url
            'https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self._cluster._ui_url("tasks", self.task_id)

    @property
    def url(self) -> str:
        """The task's API URL (``queue.task``, its definition), on the
        public root URL; no request.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task(
            ...     "Dx4tPEtaRpeIeWpbTD0uHw").url
            'https://tc.example.com/api/queue/v1/task/Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self._cluster._api_url(self._call("task"))

    # data

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("queue", name, body=body, taskId=self.task_id)

    def _load_definition(self) -> Op[TaskDefinition]:
        if self._batch is not None:
            yield from self._batch.fill("definition")
            if self._definition is not None:
                return self._definition
            unknown = self._batch._unknown("definition", self.task_id)
            if unknown is not None:
                raise unknown
        call = self._call("task")
        return (yield from self._transport.call(call, convert=_definition))

    def _load_status(self) -> Op[TaskStatus]:
        if self._batch is not None:
            yield from self._batch.fill("status")
            if self._status is not None:
                return self._status
            unknown = self._batch._unknown("status", self.task_id)
            if unknown is not None:
                raise unknown
        return (yield from self._status_op("status"))

    def _status_op(self, name: str, body: Any = None) -> Op[TaskStatus]:
        """Call an entry that answers ``{status}`` and keep the new status
        (one about another task is refused, not kept)."""

        def convert(answer: Any) -> TaskStatus:
            return _check_about(_status(_part(answer, "status")), self.task_id)

        self._status = yield from self._transport.call(self._call(name, body), convert=convert)
        return self._status

    @property
    def definition(self) -> TaskDefinition:
        """The task definition (loaded once; it never changes).

        Example:
            >>> # task.definition.metadata.name, task.definition.payload
        """
        return self._cached("_definition", self._load_definition)

    @property
    def status(self) -> TaskStatus:
        """The task status, with its runs (loaded once; :meth:`refresh` reloads).

        Example:
            >>> # task.status.state, task.status.retries_left
        """
        return self._cached("_status", self._load_status)

    @property
    def loaded(self) -> bool:
        """Whether the status is in memory (reading ``state`` costs nothing).

        Example:
            >>> # task.loaded  ->  False until task.status / task.state is read
        """
        return self._status is not None

    def refresh(self) -> Task:
        """Reload the status now (the definition is kept: it cannot change).

        Example:
            >>> # task.refresh().state
        """
        self._run(self._status_op("status"))
        return self

    @property
    def state(self) -> str:
        """``unscheduled``, ``pending``, ``running``, ``completed``, ``failed``
        or ``exception``.

        Example:
            >>> # task.state  ->  'completed'
        """
        return self.status.state

    @property
    def name(self) -> str:
        """The task's name (``definition.metadata.name``).

        Example:
            >>> # task.name  ->  'build-linux64/opt'
        """
        return self.definition.metadata.name

    @property
    def runs(self) -> tuple[Run, ...]:
        """The task's runs, oldest first (from the status).

        Example:
            >>> # [r.state for r in task.runs]
        """
        from tcmodel.resources.run import Run

        return tuple(Run(self, info.run_id, info=info) for info in self.status.runs)

    @property
    def latest_run(self) -> Run | None:
        """The last run, or ``None`` while the task has none.

        Example:
            >>> # task.latest_run.reason_resolved
        """
        runs = self.runs
        return runs[-1] if runs else None

    def run(self, run_id: int) -> Run:
        """A handle on run ``run_id`` (no request).

        Example:
            >>> # task.run(0).artifacts()
        """
        from tcmodel.resources.run import Run

        return Run(self, run_id)

    @property
    def task_group(self) -> TaskGroup:
        """The task's group (from whichever of definition or status is loaded).

        Example:
            >>> # task.task_group.info.sealed
        """
        from tcmodel.resources.task_group import TaskGroup

        data = self._definition or self.status
        return TaskGroup(self._cluster, data.task_group_id)

    # the task graph

    @property
    def dependencies(self) -> list[Task]:
        """The tasks this one depends on, found once and kept. Those its
        listing (or batch) already has cost nothing; the others are fetched
        in bulk when read (one request per 1000 tasks).

        Example:
            >>> listed = {t.name: t for t in group.tasks()}
            >>> [d.name for d in listed["package-linux64"].dependencies]
            ['build-linux64-opt', 'signing']
            >>> listed["signing"].dependencies is not listed["signing"].dependencies  # a copy
            True
        """
        if self._dependencies is None:
            _link_dependencies([self])
        return list(self._dependencies or ())

    def ancestors(self) -> list[Task]:
        """Every task upstream of this one, nearest first, each once: one
        bulk request per level of the graph at most (none for tasks already
        known, e.g. from the group's listing).

        Example:
            >>> [t.name for t in cluster.task(tasks["package-win64"].task_id).ancestors()][:2]
            ['build-win64-opt', 'signing']
            >>> sorted({t.name for t in tasks["signing"].ancestors()})[-1]
            'decision'
        """
        seen = {self.task_id}
        found: list[Task] = []
        level = [self]
        while level:
            _link_dependencies(level)
            level = [d for t in level for d in t._dependencies or () if d.task_id not in seen]
            level = list({d.task_id: d for d in level}.values())
            seen.update(d.task_id for d in level)
            found += level
        return found

    def dependents(self) -> Listing[Task]:
        """Tasks that depend on this one (lazily paged ``listDependentTasks``).

        Example:
            >>> # [t.name for t in task.dependents()]
        """
        call = self._call("listDependentTasks")
        return Listing(self._transport, call, "tasks", self._from_entry, item_type=Task)

    def _from_entry(self, entry: Any) -> Task:
        return Task._from_listing(self._cluster, entry)

    @classmethod
    def _from_listing(cls, cluster: Cluster, entry: Any, batch: TaskBatch | None = None) -> Task:
        """A task built from a ``{status, task}`` listing entry (no request),
        registered in ``batch`` when one is given (the tasks of one listing
        share a batch, so they know each other)."""
        status = _status(_part(entry, "status"))
        task = cls(
            cluster,
            status.task_id,
            definition=_definition(_part(entry, "task")),
            status=status,
        )
        return batch._add(task) if batch is not None else task

    # artifacts and logs

    def artifacts(self) -> Listing[Artifact]:
        """Artifacts of the latest run (lazily paged ``listLatestArtifacts``).

        Example:
            >>> # [a.name for a in task.artifacts()]
        """
        from tcmodel.models import ArtifactInfo
        from tcmodel.resources.artifact import Artifact

        cluster, task_id = self._cluster, self.task_id

        def make(raw: Any) -> Artifact:
            info = ArtifactInfo._from_json(raw)
            return Artifact(cluster, task_id, None, info.name, info=info, task=self)

        call = self._call("listLatestArtifacts")
        return Listing(self._transport, call, "artifacts", make, item_type=Artifact)

    def latest_artifact(self, name: str) -> Artifact:
        """A handle on artifact ``name`` of the latest run, as the queue
        resolves "latest" when it is read (no request now).

        Example:
            >>> # task.latest_artifact("public/build/target.tar.gz").download("out/")
        """
        from tcmodel.resources.artifact import Artifact

        return Artifact(self._cluster, self.task_id, None, name, task=self)

    def log(self) -> LogText:
        """The text of the task's log: ``live_backing.log`` of the most
        recent run that has one, falling back to ``live.log`` (a
        :class:`~tcmodel.resources.run.LogText`: a ``str`` shown as lines).

        Raises :class:`~tcmodel.NotFound` when no run has a log.

        Example:
            >>> # print(task.log()[-2000:])
        """
        runs = self.runs
        if not runs or not runs[-1].info.is_resolved:
            runs = self.refresh().runs  # a running task's status goes stale fast
        for run in reversed(runs):
            try:
                return run.log()
            except NotFound:
                continue
        raise NotFound(
            call=f"{self!r}.log()",
            method="GET",
            url=self._cluster.root_url,
            status=404,
            code="ResourceNotFound",
            message=f"no run of task {self.task_id} has a log ({', '.join(LOG_NAMES)})",
        )

    # waiting

    def _wait_op(self, timeout: float | None, poll: float, report: Report | None) -> Op[str]:
        def check() -> Op[str | None]:
            status = yield from self._status_op("status")
            if report is not None:
                report(int(status.is_resolved), 1)
            return status.state if status.is_resolved else None

        def timed_out() -> WaitTimeout:
            state = self._status.state if self._status is not None else "unknown"
            return WaitTimeout(repr(self), state, timeout or 0.0)

        return (yield from _poll(check, timeout, poll, timed_out))

    def wait(
        self, timeout: float | None = None, poll: float = 5.0, progress: ProgressLike = False
    ) -> str:
        """Poll the status until the task is resolved and return its state
        (``completed``, ``failed`` or ``exception``); the status is then in
        place. The pause between polls grows from ``poll`` seconds (by
        half each time, up to a minute). After ``timeout`` seconds,
        :class:`~tcmodel.WaitTimeout` names the task and its state.

        Example:
            >>> cluster.task(build.task_id).wait(timeout=5)
            'completed'
            >>> t = cluster.create_task(task_queue_id="proj/idle", payload={}, name="waits")
            >>> t.wait(timeout=0.05, poll=0.01)
            Traceback (most recent call last):
            ...
            tcmodel.errors.WaitTimeout: <Task ...> is still pending after 0.05s
        """
        with reporter(progress, f"waiting for {self.task_id}", total=1) as report:
            return self._run(self._wait_op(timeout, poll, report))

    async def await_(
        self, timeout: float | None = None, poll: float = 5.0, progress: ProgressLike = False
    ) -> str:
        """The async form of :meth:`wait` (``await task.await_()``).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return await c.task(build.task_id).await_(timeout=5)
            >>> asyncio.run(main())
            'completed'
        """
        with reporter(progress, f"waiting for {self.task_id}", total=1) as report:
            return await self._transport.arun(self._wait_op(timeout, poll, report))

    # actions

    def _act(self, name: str, body: Any = None) -> Task:
        self._run(self._status_op(name, body))
        return self

    def schedule(self) -> Task:
        """Schedule an unscheduled task (``scheduleTask``); returns the task
        with its new status in place.

        Example:
            >>> # task.schedule().state  ->  'pending'
        """
        return self._act("scheduleTask")

    def cancel(self) -> Task:
        """Cancel the task (``cancelTask``); returns it with the new status.

        Example:
            >>> # task.cancel().state  ->  'exception'
        """
        return self._act("cancelTask")

    def rerun(self) -> Task:
        """Add a new run to a resolved task (``rerunTask``); returns it with
        the new status.

        Example:
            >>> # task.rerun().latest_run.reason_created  ->  'rerun'
        """
        return self._act("rerunTask")

    def change_priority(self, priority: str) -> Task:
        """Change the priority of an unresolved task (``changeTaskPriority``).

        Example:
            >>> # task.change_priority("high")
        """
        check_choice("priority", priority, PRIORITIES)
        return self._act("changeTaskPriority", {"newPriority": priority})

    # claiming (the worker side)

    def claim(self, run_id: int, worker_group: str, worker_id: str) -> Claim:
        """Claim pending run ``run_id`` of this task as worker
        ``worker_group/worker_id`` (``queue.claimTask``, deprecated by the
        queue in favour of :meth:`TaskQueue.claim_work
        <tcmodel.resources.task_queue.TaskQueue.claim_work>`; never resent
        once it may have reached the queue). Claiming it again as the same
        worker hands out the same claim; as another,
        :class:`~tcmodel.RequestConflict`.

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc-task-claim", payload={}, name="c")
            >>> claim = t.claim(0, "doc-wg", "doc-w1")
            >>> claim.run_id, claim.task.state
            (0, 'running')
            >>> claim.completed().state
            'completed'
        """
        from tcmodel.resources.claim import claim_task_op
        from tcmodel.resources.task_queue import _check_worker_part

        check_run_id(run_id)
        _check_worker_part("workerGroup", worker_group)
        _check_worker_part("workerId", worker_id)
        op = claim_task_op(self._cluster, self.task_id, run_id, worker_group, worker_id)
        return self._run(op)


def _part(answer: Any, key: str) -> Any:
    """``answer[key]`` of an answer that must be a JSON object holding it."""
    if not isinstance(answer, dict) or key not in answer:
        raise ModelDataError(f"expected a JSON object with {key!r}")
    return answer[key]


def _status(data: Any) -> TaskStatus:
    """A task status from an answer, its ids known to be slugIds (so a bad
    one fails while the answer is read, naming the call, not later)."""
    status = TaskStatus._from_json(data)
    check_slug_id(status.task_id, "taskId")
    check_slug_id(status.task_group_id, "taskGroupId")
    return status


def _definition(data: Any) -> TaskDefinition:
    """A task definition from an answer, its ids known to be slugIds."""
    definition = TaskDefinition._from_json(data)
    check_slug_id(definition.task_group_id, "taskGroupId")
    for dependency in definition.dependencies:
        check_slug_id(dependency, "dependencies[]")
    return definition


def _check_about(status: TaskStatus, task_id: Any) -> TaskStatus:
    """``status``, once it is known to be about task ``task_id``."""
    if status.task_id != task_id:
        raise ModelDataError(f"the status is about task {status.task_id!r}, not {task_id!r}")
    return status


def _known(task: Task, task_id: str) -> Task | None:
    return task._batch._find(task_id) if task._batch is not None else None


def _link_dependencies(tasks: list[Task]) -> None:
    """Give each task that lacks them the handles of its dependencies: the
    ones its batch knows (its group's listing), else handles of one new
    batch shared by all of ``tasks`` (fetched in bulk when read), which the
    batches of ``tasks`` then know too."""
    todo = [t for t in tasks if t._dependencies is None]
    if not todo:
        return
    wanted = {t.task_id: t.definition.dependencies for t in todo}  # bulk, per batch
    missing = [d for t in todo for d in wanted[t.task_id] if _known(t, d) is None]
    fresh = TaskBatch(todo[0].cluster, missing)
    for t in todo:
        deps = [_known(t, d) or fresh.tasks[d] for d in wanted[t.task_id]]
        if t._batch is not None:
            for dep in deps:
                t._batch._know(dep)
        t._dependencies = deps


def _poll(
    check: Callable[[], Op[T | None]],
    timeout: float | None,
    poll: float,
    timed_out: Callable[[], Exception],
) -> Op[T]:
    """Run ``check`` until it returns something other than ``None``, with a
    growing :class:`~tcmodel.transport.Sleep` between tries (from ``poll`` up
    to :data:`WAIT_CAP`); raise ``timed_out()`` once ``timeout`` seconds have
    passed. One operation for the sync and async waits alike."""
    if poll <= 0:
        raise ValueError(f"poll must be a positive number of seconds, not {poll!r}")
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = poll
    while True:
        result = yield from check()
        if result is not None:
            return result
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise timed_out()
        yield Sleep(pause if left is None else min(pause, left))
        pause = min(pause * WAIT_GROWTH, max(poll, WAIT_CAP))
