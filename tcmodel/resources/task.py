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
from tcmodel.resources.base import Resource, refuse_in_async_use
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
#: How often a load checks whether a bulk request another load sent is
#: answered (seconds).
_PENDING_POLL = 0.002
#: Per kind of data a batch fetches: the task's attribute, the bulk entry,
#: the key of its list of items and the key of the data in an item.
_BULK = {
    "status": ("_status", "statuses", "statuses", "status"),
    "definition": ("_definition", "tasks", "tasks", "task"),
}

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
        # Ids not asked for yet, per kind (an ordered set): a fill looks at
        # these only, so reading every task of a big batch stays linear.
        self._todo: dict[str, dict[str, None]] = {
            "status": dict.fromkeys(self.tasks),
            "definition": dict.fromkeys(self.tasks),
        }
        # Ids a bulk request is out for (concurrent loads wait for it).
        self._pending: dict[str, set[str]] = {"status": set(), "definition": set()}
        # Ids the bulk answer left out: the queue does not know them.
        self._missing: dict[str, set[str]] = {"status": set(), "definition": set()}
        # Tasks of other batches that tasks of this one depend on (not members:
        # not fetched with it), so that they are made once.
        self._neighbours: dict[str, Task] = {}

    def fill(self, kind: str) -> Op[None]:
        """Fetch what the batch's tasks lack of ``kind`` ("status" or
        "definition") with the bulk call, as an operation. Loads running at
        the same time (``asyncio.gather`` over the batch's tasks) share
        one bulk request: each waits for the ones already out.

        Example:
            >>> import tcmodel
            >>> batch = TaskBatch(tcmodel.Cluster.from_url("https://tc.example.com"),
            ...                   ["Dx4tPEtaRpeIeWpbTD0uHw", "XDqefRsvTG6ajX5vWks8LQ"])
            >>> next(batch.fill("status")).request.url  # one bulk request for both
            URL('https://tc.example.com/api/queue/v1/tasks/status')
        """
        attr = _BULK[kind][0]
        asked, pending, todo = self._asked[kind], self._pending[kind], self._todo[kind]
        gone_s, gone_d = self._missing["status"], self._missing["definition"]
        wanted = [
            t
            for t in todo
            if t not in asked
            and t not in gone_s
            and t not in gone_d
            and t not in pending
            and t in self.tasks
            and not self.tasks[t]._is_cached(attr)
        ]
        todo.clear()
        if wanted:
            pending.update(wanted)
            try:
                yield from self._fetch(kind, wanted)
            except BaseException:
                todo.update(dict.fromkeys(t for t in wanted if t not in asked))  # ask again
                raise
            finally:
                pending.difference_update(wanted)
        while pending and any(  # another load's request is out
            t in self.tasks and not self.tasks[t]._is_cached(attr) for t in pending
        ):
            yield Sleep(_PENDING_POLL)

    def _fetch(self, kind: str, wanted: list[str]) -> Op[None]:
        """One bulk fetch of ``wanted`` (see :meth:`fill`)."""
        attr, name, items_key, key = _BULK[kind]
        asked = self._asked[kind]
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
        if task_id not in self._missing["status"] and task_id not in self._missing["definition"]:
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
        for kind, todo in self._todo.items():
            if task.task_id not in self._asked[kind]:
                todo[task.task_id] = None
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
        entry: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(cluster)
        self._task_id = check_slug_id(task_id, "taskId")
        self._def = definition
        self._stat = status
        # A listing's ``{status, task}`` entry, as it came: the models are
        # made from it on first read (``origin`` names the listing call in
        # the error when it does not fit), ``state`` and ``name`` read from it.
        self._entry = entry
        self._origin = origin
        self._batch = batch
        self._dependencies: list[Task] | None = None  # made once, by _link_dependencies

    # The models, made from the listing entry when first read.

    @property
    def _status(self) -> TaskStatus | None:
        status = self._stat
        if status is None and self._entry is not None:
            with parsing(self._origin or "a listing"):
                status = _check_about(_status(self._entry["status"]), self._task_id)
            self._stat = status
            self._release()
        return status

    @_status.setter
    def _status(self, value: TaskStatus | None) -> None:
        self._stat = value

    @property
    def _definition(self) -> TaskDefinition | None:
        definition = self._def
        if definition is None and self._entry is not None:
            with parsing(self._origin or "a listing"):
                definition = _definition(self._entry["task"])
            self._def = definition
            self._release()
        return definition

    @_definition.setter
    def _definition(self, value: TaskDefinition | None) -> None:
        self._def = value

    def _release(self) -> None:
        """Drop the listing entry once both models are made from it."""
        if self._stat is not None and self._def is not None:
            self._entry = None

    def _is_cached(self, attr: str) -> bool:
        # Data a listing entry holds counts as loaded (no model is made here).
        if self._entry is not None and attr in ("_status", "_definition"):
            return True
        return super()._is_cached(attr)

    def _known_state(self) -> str | None:
        """The state, when known without a request (and without making the
        status model); ``None`` otherwise, or when the entry has no usable one."""
        if self._stat is not None:
            return self._stat.state
        if self._entry is not None:
            state = self._entry["status"].get("state")
            if type(state) is str:
                return state
        return None

    def _known_name(self) -> str | None:
        """The name, when known without a request (as :meth:`_known_state`)."""
        if self._def is not None:
            return self._def.metadata.name
        if self._entry is not None:
            metadata = self._entry["task"].get("metadata")
            if type(metadata) is dict:
                name = metadata.get("name")
                if type(name) is str:
                    return name
        return None

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
        state = self._known_state()
        return (("state", state),) if state is not None else ()

    def _label(self) -> str | None:
        return self._known_name()

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
            >>> cluster.task(build.task_id).definition.metadata.name
            'build-linux64-opt'
        """
        return self._cached("_definition", self._load_definition)

    async def adefinition(self) -> TaskDefinition:
        """The async form of :attr:`definition` (loaded once; afterwards
        ``task.definition`` and ``task.name`` cost nothing).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         t = c.task(build.task_id)
            ...         await t.adefinition()
            ...         return t.name
            >>> asyncio.run(main())
            'build-linux64-opt'
        """
        return await self._acached("_definition", self._load_definition)

    @property
    def status(self) -> TaskStatus:
        """The task status, with its runs (loaded once; :meth:`refresh` reloads).

        Example:
            >>> cluster.task(build.task_id).status.state
            'completed'
        """
        return self._cached("_status", self._load_status)

    async def astatus(self) -> TaskStatus:
        """The async form of :attr:`status` (loaded once; afterwards
        ``task.state``, ``task.runs`` and ``task.status`` cost nothing).
        Tasks of one batch (``cluster.tasks(ids)``) loaded at the same time
        share one bulk request.

        Example:
            >>> import asyncio
            >>> async def main() -> list[str]:
            ...     async with lc.connect() as c:
            ...         both = c.tasks([build.task_id, task.task_id])
            ...         await asyncio.gather(*(t.astatus() for t in both))  # one request
            ...         return [t.state for t in both]
            >>> asyncio.run(main())
            ['completed', 'failed']
        """
        return await self._acached("_status", self._load_status)

    @property
    def loaded(self) -> bool:
        """Whether the status is in memory (reading ``state`` costs nothing).

        Example:
            >>> t = cluster.task(build.task_id)
            >>> t.loaded, t.state, t.loaded
            (False, 'completed', True)
        """
        return self._stat is not None or self._entry is not None

    def refresh(self) -> Task:
        """Reload the status now (the definition is kept: it cannot change).

        Example:
            >>> cluster.task(build.task_id).refresh().state
            'completed'
        """
        self._run(self._status_op("status"))
        return self

    async def arefresh(self) -> Task:
        """The async form of :meth:`refresh`.

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(build.task_id).arefresh()).state
            >>> asyncio.run(main())
            'completed'
        """
        await self._arun(self._status_op("status"))
        return self

    @property
    def state(self) -> str:
        """``unscheduled``, ``pending``, ``running``, ``completed``, ``failed``
        or ``exception``.

        Example:
            >>> cluster.task(build.task_id).state
            'completed'
        """
        state = self._known_state()  # a listed task's, from its entry
        return state if state is not None else self.status.state

    @property
    def name(self) -> str:
        """The task's name (``definition.metadata.name``).

        Example:
            >>> cluster.task(build.task_id).name
            'build-linux64-opt'
        """
        name = self._known_name()  # a listed task's, from its entry
        return name if name is not None else self.definition.metadata.name

    @property
    def runs(self) -> tuple[Run, ...]:
        """The task's runs, oldest first (from the status).

        Example:
            >>> [r.state for r in cluster.task(build.task_id).runs]
            ['completed']
        """
        from tcmodel.resources.run import Run

        return tuple(Run(self, info.run_id, info=info) for info in self.status.runs)

    @property
    def latest_run(self) -> Run | None:
        """The last run, or ``None`` while the task has none.

        Example:
            >>> cluster.task(task.task_id).latest_run.reason_resolved
            'failed'
        """
        runs = self.runs
        return runs[-1] if runs else None

    def run(self, run_id: int) -> Run:
        """A handle on run ``run_id`` (no request).

        Example:
            >>> cluster.task(build.task_id).run(0)  # doctest: +ELLIPSIS
            <Run taskId='...' runId=0>
        """
        from tcmodel.resources.run import Run

        return Run(self, run_id)

    @property
    def task_group(self) -> TaskGroup:
        """The task's group (from whichever of definition or status is loaded).

        Example:
            >>> cluster.task(build.task_id).task_group == group
            True
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
            self._run(_link_dependencies([self]))
        return list(self._dependencies or ())

    async def adependencies(self) -> list[Task]:
        """The async form of :attr:`dependencies` (the same requests; their
        data is then loaded with ``await dep.astatus()``, in bulk).

        Example:
            >>> import asyncio
            >>> async def main() -> list[str]:
            ...     async with lc.connect() as c:
            ...         deps = await c.task(tasks["package-linux64"].task_id).adependencies()
            ...         await asyncio.gather(*(d.adefinition() for d in deps))  # one request
            ...         return [d.name for d in deps]
            >>> asyncio.run(main())
            ['build-linux64-opt', 'signing']
        """
        if self._dependencies is None:
            await self._arun(_link_dependencies([self]))
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
        return self._run(self._ancestors_op())

    async def aancestors(self) -> list[Task]:
        """The async form of :meth:`ancestors` (the same requests).

        Example:
            >>> import asyncio
            >>> async def main() -> list[str]:
            ...     async with lc.connect() as c:
            ...         found = await c.task(tasks["package-win64"].task_id).aancestors()
            ...         return [t.name for t in found][:2]
            >>> asyncio.run(main())
            ['build-win64-opt', 'signing']
        """
        return await self._arun(self._ancestors_op())

    def _ancestors_op(self) -> Op[list[Task]]:
        seen = {self.task_id}
        found: list[Task] = []
        level = [self]
        while level:
            yield from _link_dependencies(level)
            level = [d for t in level for d in t._dependencies or () if d.task_id not in seen]
            level = list({d.task_id: d for d in level}.values())
            seen.update(d.task_id for d in level)
            found += level
        return found

    def dependents(self) -> Listing[Task]:
        """Tasks that depend on this one (lazily paged ``listDependentTasks``).

        Example:
            >>> listing = cluster.task(tasks["build-win64-opt"].task_id).dependents()
            >>> sorted(t.name for t in listing)[:2]
            ['package-win64', 'signing']
        """
        call = self._call("listDependentTasks")
        cluster, origin = self._cluster, str(call)

        def make(entry: Any) -> Task:
            return Task._from_listing(cluster, entry, None, origin)

        return Listing(self._transport, call, "tasks", make, item_type=Task)

    @classmethod
    def _from_listing(
        cls, cluster: Cluster, entry: Any, batch: TaskBatch | None = None, origin: str = ""
    ) -> Task:
        """A task handle on a ``{status, task}`` listing entry (no request),
        registered in ``batch`` when one is given (the tasks of one listing
        share a batch, so they know each other). Only the shape and the
        taskId are checked here: ``state`` and ``name`` are read from the
        entry, and the status and definition models are made from it when
        first read; data that does not fit then raises
        :class:`~tcmodel.models.ModelDataError` naming ``origin``, the
        listing call."""
        if type(entry) is not dict:
            raise ModelDataError("expected a JSON object with 'status' and 'task'")
        status, definition = entry.get("status"), entry.get("task")
        if type(status) is not dict or type(definition) is not dict:
            raise ModelDataError("expected a JSON object with 'status' and 'task' objects")
        task_id: Any = status.get("taskId")  # checked by the constructor
        task = cls(cluster, task_id, batch=batch, entry=entry, origin=origin)
        if batch is not None:  # (not batch._add: its data came, it is never fetched in bulk)
            batch.tasks[task._task_id] = task
        return task

    # artifacts and logs

    def artifacts(self) -> Listing[Artifact]:
        """Artifacts of the latest run (lazily paged ``listLatestArtifacts``).

        Example:
            >>> sorted(a.name for a in cluster.task(build.task_id).artifacts())[2:4]
            ['public/build/target.checksums', 'public/build/target.tar.gz']
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
            >>> cluster.task(build.task_id).latest_artifact(art.name).content_length
            131072
        """
        from tcmodel.resources.artifact import Artifact

        return Artifact(self._cluster, self.task_id, None, name, task=self)

    def log(self) -> LogText:
        """The text of the task's log: ``live_backing.log`` of the most
        recent run that has one, falling back to ``live.log`` (a
        :class:`~tcmodel.resources.run.LogText`: a ``str`` shown as lines).

        Raises :class:`~tcmodel.NotFound` when no run has a log.

        Example:
            >>> cluster.task(task.task_id).log().splitlines()[-1]
            '[taskcluster] exit code 1'
        """
        return self._run(self._log_op())

    async def alog(self) -> LogText:
        """The async form of :meth:`log` (the same requests).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(task.task_id).alog()).splitlines()[-1]
            >>> asyncio.run(main())
            '[taskcluster] exit code 1'
        """
        return await self._arun(self._log_op())

    def _log_op(self) -> Op[LogText]:
        status = yield from self._cache_op("_status", self._load_status)
        if not status.runs or not status.runs[-1].is_resolved:
            yield from self._status_op("status")  # a running task's goes stale fast
        for run in reversed(self.runs):
            try:
                return (yield from run._log_op())
            except NotFound:
                continue
        raise _no_log(self, f"no run of task {self.task_id} has a log")

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
        events = self._cluster._waits_on_events()  # Pulse: no polling (tcmodel.events)
        if events:
            refuse_in_async_use(self._transport, self, "await task.await_()")
        with reporter(progress, f"waiting for {self.task_id}", total=1) as report:
            if events:
                from tcmodel.events import _amqp, follow

                for _ in _amqp.drive(follow.wait_task(self, timeout, report)):
                    pass
                return self.status.state
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
            if self._cluster._waits_on_events():  # Pulse: no polling (tcmodel.events)
                from tcmodel.events import _amqp, follow

                async for _ in _amqp.adrive(follow.wait_task(self, timeout, report)):
                    pass
                return self.status.state
            return await self._arun(self._wait_op(timeout, poll, report))

    # actions

    def _act(self, name: str, body: Any = None) -> Task:
        self._run(self._status_op(name, body))
        return self

    async def _aact(self, name: str, body: Any = None) -> Task:
        await self._arun(self._status_op(name, body))
        return self

    def schedule(self) -> Task:
        """Schedule an unscheduled task (``scheduleTask``); returns the task
        with its new status in place.

        Example:
            >>> blocker = cluster.create_task(task_queue_id="proj/doc", payload={}, name="b")
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="s",
            ...                         dependencies=[blocker])  # waits for it: unscheduled
            >>> t.state, t.schedule().state
            ('unscheduled', 'pending')
        """
        return self._act("scheduleTask")

    async def aschedule(self) -> Task:
        """The async form of :meth:`schedule`.

        Example:
            >>> import asyncio
            >>> blocker = cluster.create_task(task_queue_id="proj/doc", payload={}, name="b")
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="s",
            ...                         dependencies=[blocker])  # waits for it: unscheduled
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(t.task_id).aschedule()).state
            >>> asyncio.run(main())
            'pending'
        """
        return await self._aact("scheduleTask")

    def cancel(self) -> Task:
        """Cancel the task (``cancelTask``); returns it with the new status.

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="c")
            >>> t.cancel().state, t.latest_run.reason_resolved
            ('exception', 'canceled')
        """
        return self._act("cancelTask")

    async def acancel(self) -> Task:
        """The async form of :meth:`cancel`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="c")
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(t.task_id).acancel()).state
            >>> asyncio.run(main())
            'exception'
        """
        return await self._aact("cancelTask")

    def rerun(self) -> Task:
        """Add a new run to a resolved task (``rerunTask``); returns it with
        the new status.

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="r")
            >>> t.cancel().rerun().latest_run.reason_created
            'rerun'
        """
        return self._act("rerunTask")

    async def arerun(self) -> Task:
        """The async form of :meth:`rerun`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="r").cancel()
            >>> async def main() -> int:
            ...     async with lc.connect() as c:
            ...         return len((await c.task(t.task_id).arerun()).runs)
            >>> asyncio.run(main())
            2
        """
        return await self._aact("rerunTask")

    def change_priority(self, priority: str) -> Task:
        """Change the priority of an unresolved task (``changeTaskPriority``).

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="p")
            >>> t.change_priority("high").state
            'pending'
        """
        return self._act("changeTaskPriority", _priority(priority))

    async def achange_priority(self, priority: str) -> Task:
        """The async form of :meth:`change_priority`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc", payload={}, name="p")
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(t.task_id).achange_priority("low")).state
            >>> asyncio.run(main())
            'pending'
        """
        return await self._aact("changeTaskPriority", _priority(priority))

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
        return self._run(self._claim_op(run_id, worker_group, worker_id))

    async def aclaim(self, run_id: int, worker_group: str, worker_id: str) -> Claim:
        """The async form of :meth:`claim`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc-task-aclaim", payload={}, name="c")
            >>> async def main() -> tuple[int, str]:
            ...     async with lc.connect() as c:
            ...         claim = await c.task(t.task_id).aclaim(0, "doc-wg", "doc-w1")
            ...         return claim.run_id, claim.task.state
            >>> asyncio.run(main())
            (0, 'running')
        """
        return await self._arun(self._claim_op(run_id, worker_group, worker_id))

    def _claim_op(self, run_id: int, worker_group: str, worker_id: str) -> Op[Claim]:
        from tcmodel.resources.claim import claim_task_op
        from tcmodel.resources.task_queue import _check_worker_part

        check_run_id(run_id)
        _check_worker_part("workerGroup", worker_group)
        _check_worker_part("workerId", worker_id)
        return claim_task_op(self._cluster, self.task_id, run_id, worker_group, worker_id)


def _no_log(handle: Resource, whose: str) -> NotFound:
    """What ``handle.log()`` raises when it finds no log; ``whose`` says
    whose log was looked for."""
    return NotFound(
        call=f"{handle!r}.log()",
        method="GET",
        url=handle.cluster.root_url,
        status=404,
        code="ResourceNotFound",
        message=f"{whose} ({', '.join(LOG_NAMES)})",
    )


def _priority(priority: str) -> dict[str, str]:
    """The body of a change of priority, once ``priority`` is known to be one."""
    check_choice("priority", priority, PRIORITIES)
    return {"newPriority": priority}


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


def _link_dependencies(tasks: list[Task]) -> Op[None]:
    """Give each task that lacks them the handles of its dependencies: the
    ones its batch knows (its group's listing), else handles of one new
    batch shared by all of ``tasks`` (fetched in bulk when read), which the
    batches of ``tasks`` then know too; as an operation."""
    todo = [t for t in tasks if t._dependencies is None]
    if not todo:
        return
    wanted: dict[str, tuple[str, ...]] = {}
    for t in todo:  # in bulk, per batch
        definition = yield from t._cache_op("_definition", t._load_definition)
        wanted[t.task_id] = definition.dependencies
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
