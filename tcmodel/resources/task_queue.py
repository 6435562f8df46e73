"""Task queues and their workers, as the queue sees them.

A :class:`TaskQueue` (``provisionerId/workerType``) tells how many tasks
wait and run (``taskQueueCounts``) and lists them as Tasks: the tasks of one
page share a :class:`~tcmodel.resources.task.TaskBatch`, so reading their
states costs one bulk request per page, never one per task. Its workers are
:class:`Worker` handles, with their recent tasks and quarantine.

Example:
    >>> import tcmodel
    >>> tq = tcmodel.Cluster.from_url("https://tc.example.com").task_queue("proj/ci")
    >>> tq, tq.provisioner_id, tq.worker_type
    (<TaskQueue taskQueueId='proj/ci'>, 'proj', 'ci')
    >>> tq.worker("us-east-1", "i-0abc")
    <Worker taskQueueId='proj/ci' workerGroup='us-east-1' workerId='i-0abc'>
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel.models import TaskQueueCounts, TaskQueueInfo, WorkerInfo
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, TaskBatch, _definition, _part
from tcmodel.transport import Call, Op, Page
from tcmodel.utils import check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.claim import Claim

__all__ = ["TaskQueue", "Worker"]

_WORKER_PART = re.compile(r"[a-zA-Z0-9_-]{1,38}")


def _check_task_queue_id(value: object) -> str:
    from tcmodel.cluster import _TASK_QUEUE_ID

    if not isinstance(value, str) or not _TASK_QUEUE_ID.fullmatch(value):
        raise ValueError(
            f"taskQueueId must look like 'provisioner/worker-type' (e.g. 'proj/ci'), not {value!r}"
        )
    return value


def _check_worker_part(what: str, value: object) -> str:
    if not isinstance(value, str) or not _WORKER_PART.fullmatch(value):
        raise ValueError(f"{what} must be 1 to 38 of [a-zA-Z0-9_-], not {value!r}")
    return value


class TaskQueue(Resource):
    """Task queue ``task_queue_id`` (``provisionerId/workerType``).

    ``info`` (``getTaskQueue``) and ``counts`` (``taskQueueCounts``) load on
    first read, once; :meth:`refresh` forgets them (counts change fast).

    Example:
        >>> import tcmodel
        >>> tcmodel.Cluster.from_url("https://tc.example.com").task_queue("proj")
        Traceback (most recent call last):
        ...
        ValueError: taskQueueId must look like 'provisioner/worker-type' (e.g. 'proj/ci'), ...
    """

    def __init__(
        self, cluster: Cluster, task_queue_id: str, *, info: TaskQueueInfo | None = None
    ) -> None:
        super().__init__(cluster)
        self._task_queue_id = _check_task_queue_id(task_queue_id)
        self._info = info
        self._counts: TaskQueueCounts | None = None

    # identity

    @property
    def task_queue_id(self) -> str:
        """The task queue's id (read-only).

        Example:
            >>> cluster.task_queue("proj/ci").task_queue_id
            'proj/ci'
        """
        return self._task_queue_id

    @property
    def provisioner_id(self) -> str:
        """The part of the id before the ``/``.

        Example:
            >>> cluster.task_queue("proj/ci").provisioner_id
            'proj'
        """
        return self._task_queue_id.partition("/")[0]

    @property
    def worker_type(self) -> str:
        """The part of the id after the ``/``.

        Example:
            >>> cluster.task_queue("proj/ci").worker_type
            'ci'
        """
        return self._task_queue_id.partition("/")[2]

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskQueueId", self._task_queue_id),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        counts = self._counts
        if counts is None:
            return ()
        return (("pending", counts.pending_tasks), ("claimed", counts.claimed_tasks))

    @property
    def ui_url(self) -> str:
        """The task queue's page in the web UI (no request).

        Example:
            >>> cluster.task_queue("proj/ci").ui_url
            'http://127.0.0.1:.../provisioners/proj/worker-types/ci'
        """
        return self._cluster._ui_url(
            "provisioners", self.provisioner_id, "worker-types", self.worker_type
        )

    @property
    def url(self) -> str:
        """The API URL of the task queue (``getTaskQueue``; no request).

        Example:
            >>> cluster.task_queue("proj/ci").url
            'http://127.0.0.1:.../api/queue/v1/task-queues/proj%2Fci'
        """
        return self._cluster._api_url(self._call("getTaskQueue"))

    def _call(self, name: str) -> Call:
        return Call.of("queue", name, taskQueueId=self._task_queue_id)

    # data

    @property
    def info(self) -> TaskQueueInfo:
        """The task queue's description, stability and last activity
        (``getTaskQueue``, loaded once).

        Example:
            >>> cluster.task_queue(build.status.task_queue_id).info.task_queue_id
            'proj-app/ci'
        """
        return self._cached("_info", self._load_info)

    async def ainfo(self) -> TaskQueueInfo:
        """The async twin of :attr:`info`.

        Example:
            >>> import asyncio
            >>> async def info() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task_queue("proj-app/ci").ainfo()).task_queue_id
            >>> asyncio.run(info())
            'proj-app/ci'
        """
        return await self._acached("_info", self._load_info)

    def _load_info(self) -> Op[TaskQueueInfo]:
        return self._transport.call(self._call("getTaskQueue"), convert=TaskQueueInfo._from_json)

    @property
    def counts(self) -> TaskQueueCounts:
        """How many tasks are pending and claimed (``taskQueueCounts``,
        loaded once; :meth:`refresh` forgets it).

        Example:
            >>> cluster.task_queue("proj/nobody").counts.pending_tasks
            0
        """
        return self._cached("_counts", self._load_counts)

    async def acounts(self) -> TaskQueueCounts:
        """The async twin of :attr:`counts` (then :attr:`pending_count` and
        :attr:`claimed_count` cost nothing).

        Example:
            >>> import asyncio
            >>> async def pending() -> int:
            ...     async with lc.connect() as c:
            ...         tq = c.task_queue("proj/nobody")
            ...         await tq.acounts()
            ...         return tq.pending_count
            >>> asyncio.run(pending())
            0
        """
        return await self._acached("_counts", self._load_counts)

    def _load_counts(self) -> Op[TaskQueueCounts]:
        call = self._call("taskQueueCounts")
        return self._transport.call(call, convert=TaskQueueCounts._from_json)

    @property
    def pending_count(self) -> int:
        """The number of pending tasks (from :attr:`counts`).

        Example:
            >>> tq = cluster.task_queue("proj/doc-pending")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="waits")
            >>> tq.pending_count, tq.claimed_count
            (1, 0)
        """
        return self.counts.pending_tasks

    @property
    def claimed_count(self) -> int:
        """The number of claimed (running) tasks (from :attr:`counts`).

        Example:
            >>> cluster.task_queue("proj/nobody").claimed_count
            0
        """
        return self.counts.claimed_tasks

    def refresh(self) -> TaskQueue:
        """Forget the loaded counts and info; the next read loads them.

        Example:
            >>> tq = cluster.task_queue("proj/nobody")
            >>> tq.counts.claimed_tasks, tq.refresh()
            (0, <TaskQueue taskQueueId='proj/nobody'>)
        """
        self._info = None
        self._counts = None
        return self

    # its tasks

    def _tasks(self, name: str) -> Listing[Task]:
        """A listing of ``{taskId, task, …}`` entries as Tasks, the tasks of
        each page in one batch (statuses then come in bulk)."""
        cluster = self._cluster
        batch: list[TaskBatch] = []

        def on_page(page: Page) -> None:
            batch[:] = [TaskBatch(cluster, [])]

        def make(raw: Any) -> Task:
            task_id = check_slug_id(_part(raw, "taskId"), "taskId")
            task = Task(cluster, task_id, definition=_definition(_part(raw, "task")))
            return batch[0]._add(task) if batch else task

        call = self._call(name)
        return Listing(self._transport, call, "tasks", make, on_page=on_page, item_type=Task)

    def pending_tasks(self) -> Listing[Task]:
        """The pending tasks, in the order workers will get them (lazily
        paged ``listPendingTasks``). Their definitions come with the
        listing; reading their states costs one bulk request per page.

        Example:
            >>> tq = cluster.task_queue("proj/doc-list")
            >>> t = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="queued")
            >>> [(p.name, p.state) for p in tq.pending_tasks()]
            [('queued', 'pending')]
        """
        return self._tasks("listPendingTasks")

    def claimed_tasks(self) -> Listing[Task]:
        """The claimed (running) tasks (lazily paged ``listClaimedTasks``),
        loaded as :meth:`pending_tasks` are.

        Example:
            >>> list(cluster.task_queue("proj/nobody").claimed_tasks())
            []
        """
        return self._tasks("listClaimedTasks")

    # its workers

    def workers(self, quarantined: bool | None = None) -> Listing[Worker]:
        """The workers that claimed work from this queue recently (lazily
        paged ``listWorkers``); ``quarantined=True`` (``False``) keeps only
        those in (out of) quarantine.

        Example:
            >>> tq = cluster.task_queue(build.status.task_queue_id)
            >>> w = tq.workers().first()
            >>> w.latest_task.state in ("completed", "failed", "exception"), w.quarantined
            (True, False)
        """
        call = Call.of(
            "queue",
            "listWorkers",
            provisionerId=self.provisioner_id,
            workerType=self.worker_type,
        )
        if quarantined is not None:
            call = call.with_query(quarantined=str(bool(quarantined)).lower())

        def make(raw: Any) -> Worker:
            summary = WorkerInfo._from_json(raw)
            return Worker(self, summary.worker_group, summary.worker_id, summary=summary)

        return Listing(self._transport, call, "workers", make, item_type=Worker)

    def worker(self, worker_group: str, worker_id: str) -> Worker:
        """A handle on one worker of this queue (no request).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").worker_id
            'w1'
        """
        return Worker(self, worker_group, worker_id)

    # claiming work

    def claim_work(self, worker_group: str, worker_id: str, tasks: int = 1) -> list[Claim]:
        """Claim up to ``tasks`` (1 to 32) pending runs as worker
        ``worker_group/worker_id`` (``queue.claimWork``, one request, never
        resent once it may have reached the queue); an empty list when
        nothing is pending. Each :class:`~tcmodel.resources.claim.Claim`
        works with the run's temporary credentials.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-work")
            >>> t = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="job")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1", tasks=4)
            >>> claim.task == t, claim.task.state, tq.claim_work("doc-wg", "doc-w1")
            (True, 'running', [])
            >>> claim.completed().state
            'completed'
        """
        return self._run(self._claim_work_op(worker_group, worker_id, tasks))

    async def aclaim_work(self, worker_group: str, worker_id: str, tasks: int = 1) -> list[Claim]:
        """The async twin of :meth:`claim_work`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc-aclaim-work", payload={}, name="j")
            >>> async def work() -> tuple[bool, str]:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-aclaim-work").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             return claim.task == t, (await claim.acompleted()).state
            >>> asyncio.run(work())
            (True, 'completed')
        """
        return await self._arun(self._claim_work_op(worker_group, worker_id, tasks))

    def _claim_work_op(self, worker_group: str, worker_id: str, tasks: int) -> Op[list[Claim]]:
        from tcmodel.resources.claim import MAX_CLAIM_WORK, claim_work_op

        _check_worker_part("workerGroup", worker_group)
        _check_worker_part("workerId", worker_id)
        if isinstance(tasks, bool) or not isinstance(tasks, int):
            raise TypeError(f"tasks must be an int, not {type(tasks).__name__}")
        if not 1 <= tasks <= MAX_CLAIM_WORK:
            raise ValueError(f"tasks must be between 1 and {MAX_CLAIM_WORK}, not {tasks}")
        return claim_work_op(self._cluster, self._task_queue_id, worker_group, worker_id, tasks)


class Worker(Resource):
    """Worker ``worker_group/worker_id`` of a task queue.

    ``info`` (``getWorker``: its recent tasks, quarantine, expiry) loads on
    first read; a worker from :meth:`TaskQueue.workers` carries the
    listing's summary (latest task, quarantine), read at no cost.

    Example:
        >>> import tcmodel
        >>> tq = tcmodel.Cluster.from_url("https://tc.example.com").task_queue("proj/ci")
        >>> tq.worker("wg", "a/b")
        Traceback (most recent call last):
        ...
        ValueError: workerId must be 1 to 38 of [a-zA-Z0-9_-], not 'a/b'
    """

    def __init__(
        self,
        task_queue: TaskQueue,
        worker_group: str,
        worker_id: str,
        *,
        summary: WorkerInfo | None = None,
    ) -> None:
        super().__init__(task_queue.cluster)
        self._task_queue = task_queue
        self._worker_group = _check_worker_part("workerGroup", worker_group)
        self._worker_id = _check_worker_part("workerId", worker_id)
        self._summary = summary
        self._info: WorkerInfo | None = None
        self._recent: list[Task] | None = None

    # identity

    @property
    def task_queue(self) -> TaskQueue:
        """The worker's task queue.

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").task_queue
            <TaskQueue taskQueueId='proj/ci'>
        """
        return self._task_queue

    @property
    def worker_group(self) -> str:
        """The worker's group (read-only).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").worker_group
            'wg'
        """
        return self._worker_group

    @property
    def worker_id(self) -> str:
        """The worker's id within its group (read-only).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").worker_id
            'w1'
        """
        return self._worker_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("taskQueueId", self._task_queue.task_queue_id),
            ("workerGroup", self._worker_group),
            ("workerId", self._worker_id),
        )

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        known = self._info or self._summary
        if known is None:
            return ()
        return (("quarantined", self._in_quarantine(known)),)

    @property
    def ui_url(self) -> str:
        """The worker's page in the web UI (no request).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").ui_url
            'http://127.0.0.1:.../provisioners/proj/worker-types/ci/workers/wg/w1'
        """
        tq = self._task_queue
        return self._cluster._ui_url(
            "provisioners",
            tq.provisioner_id,
            "worker-types",
            tq.worker_type,
            "workers",
            self._worker_group,
            self._worker_id,
        )

    @property
    def url(self) -> str:
        """The API URL of the worker (``getWorker``; no request).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").url
            'http://127.0.0.1:.../api/queue/v1/provisioners/proj/worker-types/ci/workers/wg/w1'
        """
        return self._cluster._api_url(self._call("getWorker"))

    def _call(self, name: str, body: Any = None) -> Call:
        tq = self._task_queue
        return Call.of(
            "queue",
            name,
            body=body,
            provisionerId=tq.provisioner_id,
            workerType=tq.worker_type,
            workerGroup=self._worker_group,
            workerId=self._worker_id,
        )

    # data

    @property
    def info(self) -> WorkerInfo:
        """The worker as ``getWorker`` tells it (loaded once): recent
        tasks, first claim, last activity, quarantine, expiry.

        Example:
            >>> w = cluster.task_queue(build.status.task_queue_id).workers().first()
            >>> len(w.info.recent_tasks) >= 1
            True
        """
        return self._cached("_info", self._load_info)

    async def ainfo(self) -> WorkerInfo:
        """The async twin of :attr:`info` (then :attr:`recent_tasks`,
        :attr:`latest_task`, :attr:`quarantined` cost no request).

        Example:
            >>> import asyncio
            >>> w = cluster.task_queue(build.status.task_queue_id).workers().first()
            >>> async def recent() -> int:
            ...     async with lc.connect() as c:
            ...         worker = c.task_queue(w.task_queue.task_queue_id).worker(
            ...             w.worker_group, w.worker_id)
            ...         return len((await worker.ainfo()).recent_tasks)
            >>> asyncio.run(recent()) >= 1
            True
        """
        return await self._acached("_info", self._load_info)

    def _load_info(self) -> Op[WorkerInfo]:
        return self._transport.call(self._call("getWorker"), convert=WorkerInfo._from_json)

    @property
    def loaded(self) -> bool:
        """Whether ``info`` (``getWorker``) is in memory.

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").loaded
            False
        """
        return self._info is not None

    def refresh(self) -> Worker:
        """Forget what is loaded (info, summary, recent tasks).

        Example:
            >>> cluster.task_queue("proj/ci").worker("wg", "w1").refresh().loaded
            False
        """
        self._info = None
        self._summary = None
        self._recent = None
        return self

    @property
    def recent_tasks(self) -> list[Task]:
        """The tasks of the worker's recent runs, oldest first (from
        :attr:`info`); their data is fetched in bulk when read (one request
        for all of them).

        Example:
            >>> w = cluster.task_queue(build.status.task_queue_id).workers().first()
            >>> {t.state for t in w.recent_tasks} <= {"completed", "failed", "exception"}
            True
        """
        if self._recent is None:
            ids = [check_slug_id(_part(t, "taskId"), "taskId") for t in self.info.recent_tasks]
            batch = TaskBatch(self._cluster, ids)
            self._recent = [batch.tasks[i] for i in ids]
        return list(self._recent)

    @property
    def latest_task(self) -> Task | None:
        """The task of the worker's latest run (from the listing's summary,
        else :attr:`info`), or ``None``.

        Example:
            >>> cluster.task_queue(build.status.task_queue_id).workers().first().latest_task
            <Task taskId='...'>
        """
        if self._summary is not None and self._info is None:
            latest = self._summary.latest_task
            if latest is None:
                return None
            return Task(self._cluster, check_slug_id(_part(latest, "taskId"), "taskId"))
        recent = self.recent_tasks
        return recent[-1] if recent else None

    def _known(self) -> WorkerInfo:
        return self._info or self._summary or self.info

    @property
    def quarantine_until(self) -> datetime | None:
        """When the quarantine ends (``None`` when not quarantined, as far
        as the listing told; ``getWorker`` gives a past date then).

        Example:
            >>> cluster.task_queue(build.status.task_queue_id).workers().first().quarantine_until
        """
        return self._known().quarantine_until

    @property
    def quarantined(self) -> bool:
        """Whether the worker is in quarantine now (it gets no work).

        Example:
            >>> cluster.task_queue(build.status.task_queue_id).workers().first().quarantined
            False
        """
        return self._in_quarantine(self._known())

    def _in_quarantine(self, info: WorkerInfo) -> bool:
        until = info.quarantine_until
        return until is not None and until.timestamp() > self._transport.now()

    # actions

    def quarantine(self, until: datetime | str, reason: str | None = None) -> Worker:
        """Quarantine the worker until ``until`` (a datetime, an RFC 3339
        date or a :func:`~tcmodel.from_now` offset such as ``"1 day"``): it
        gets no work meanwhile. A past date lifts the quarantine. Returns
        the worker with its new info in place (``quarantineWorker``).

        Example:
            >>> w = cluster.task_queue(build.status.task_queue_id).workers().first()
            >>> w.quarantine("1 hour", reason="flaky disk").quarantined
            True
            >>> w.quarantine("-1 second").quarantined
            False
        """
        return self._run(self._quarantine_op(until, reason))

    async def aquarantine(self, until: datetime | str, reason: str | None = None) -> Worker:
        """The async twin of :meth:`quarantine`.

        Example:
            >>> import asyncio
            >>> w = cluster.task_queue(build.status.task_queue_id).workers().first()
            >>> async def lift() -> bool:
            ...     async with lc.connect() as c:
            ...         worker = c.task_queue(w.task_queue.task_queue_id).worker(
            ...             w.worker_group, w.worker_id)
            ...         return (await worker.aquarantine("-1 second")).quarantined
            >>> asyncio.run(lift())
            False
        """
        return await self._arun(self._quarantine_op(until, reason))

    def _quarantine_op(self, until: datetime | str, reason: str | None) -> Op[Worker]:
        from tcmodel.resources._dates import json_date

        body: dict[str, Any] = {"quarantineUntil": json_date(self._transport, until)}
        if reason is not None:
            body["quarantineInfo"] = reason
        call = self._call("quarantineWorker", body)
        self._info = yield from self._transport.call(call, convert=WorkerInfo._from_json)
        self._summary = None
        return self


def task_queues(cluster: Cluster) -> Listing[TaskQueue]:
    """Every task queue in use, their info loaded (lazily paged
    ``listTaskQueues``; see :meth:`tcmodel.Cluster.task_queues`).

    Example:
        >>> tq = task_queues(cluster).filter(task_queue_id=build.status.task_queue_id).first()
        >>> tq.info.task_queue_id == build.status.task_queue_id
        True
    """

    def make(raw: Any) -> TaskQueue:
        info = TaskQueueInfo._from_json(raw)
        return TaskQueue(cluster, info.task_queue_id, info=info)

    call = Call.of("queue", "listTaskQueues")
    return Listing(cluster.transport, call, "taskQueues", make, item_type=TaskQueue)
