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

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tcmodel.errors import (
    ArtifactError,
    ConnectionFailed,
    InsufficientScopes,
    NotFound,
    ResourceExpired,
)
from tcmodel.models import PRIORITIES, TaskDefinition, TaskStatus
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op, Pager
from tcmodel.utils import check_choice, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.artifact import Artifact
    from tcmodel.resources.run import Run
    from tcmodel.resources.task_group import TaskGroup

__all__ = ["LOG_NAMES", "Task", "TaskBatch"]

#: Where a task's log is looked for, best first (primer e: prefer the backing log).
LOG_NAMES = ("public/logs/live_backing.log", "public/logs/live.log")
#: What reading a log artifact may raise when that run has no readable log:
#: missing, an error artifact, expired, or a live-log reference to a worker
#: that is gone.
NO_LOG = (NotFound, ArtifactError, ResourceExpired, ConnectionFailed)


class TaskBatch:
    """Tasks handed out together whose data is fetched in bulk.

    Reading the status (or definition) of one task of the batch fetches it
    for every task of the batch that lacks it, with the queue's bulk
    ``statuses`` (``tasks``) call: one request per 1000 tasks, not one per
    task. Ids the queue does not know are dropped by it; reading those
    falls back to a single request, which raises :class:`~tcmodel.NotFound`.

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
        wanted = [
            t for t, task in self.tasks.items() if t not in asked and not task._is_cached(attr)
        ]
        if not wanted:
            return
        call = Call.of("queue", name, body={"taskIds": wanted})
        convert = TaskStatus._from_json if kind == "status" else TaskDefinition._from_json
        try:
            items = yield from self._transport.all_items(Pager(call, items_key))
        except (InsufficientScopes, NotFound):
            # The bulk call needs scopes for every id; without them each task
            # is asked for alone, and only a task really out of reach fails.
            asked.update(wanted)
            return
        asked.update(wanted)  # ids the queue drops are not asked for in bulk again
        for item in items:
            task = self.tasks.get(item.get("taskId", ""))
            if task is not None:
                setattr(task, attr, convert(item[key]))

    def __len__(self) -> int:
        return len(self.tasks)

    def _add(self, task: Task) -> Task:
        """Register ``task`` (made elsewhere, e.g. from a listing entry) so
        tasks of this batch find it by id; a later handle of the same id
        replaces an earlier one."""
        task._batch = self
        self.tasks[task.task_id] = task
        return task


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

    # data

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("queue", name, body=body, taskId=self.task_id)

    def _load_definition(self) -> Op[TaskDefinition]:
        if self._batch is not None:
            yield from self._batch.fill("definition")
            if self._definition is not None:
                return self._definition
        return TaskDefinition._from_json((yield from self._transport.call(self._call("task"))))

    def _load_status(self) -> Op[TaskStatus]:
        if self._batch is not None:
            yield from self._batch.fill("status")
            if self._status is not None:
                return self._status
        return (yield from self._status_op("status"))

    def _status_op(self, name: str, body: Any = None) -> Op[TaskStatus]:
        """Call an entry that answers ``{status}`` and keep the new status."""
        answer = yield from self._transport.call(self._call(name, body))
        self._status = TaskStatus._from_json(answer["status"])
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

    @property
    def dependencies(self) -> list[Task]:
        """The tasks this one depends on. Their statuses and definitions are
        fetched in bulk on first read (one request per 1000 tasks).

        Example:
            >>> # [d.state for d in task.dependencies]   # one bulk request
        """
        return list(TaskBatch(self._cluster, self.definition.dependencies).tasks.values())

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
        status = TaskStatus._from_json(entry["status"])
        task = cls(
            cluster,
            status.task_id,
            definition=TaskDefinition._from_json(entry["task"]),
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

    def log(self) -> str:
        """The text of the task's log: ``live_backing.log`` of the most
        recent run that has one, falling back to ``live.log``.

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
