"""Claims: a run a worker took from the queue, and what it does for that run.

:meth:`TaskQueue.claim_work <tcmodel.resources.task_queue.TaskQueue.claim_work>`
and :meth:`Task.claim <tcmodel.resources.task.Task.claim>` hand out
:class:`Claim` objects. A claim holds the task (its definition and status
as the queue sent them: reading them costs nothing), the run, and the
temporary credentials the queue handed out for that run; everything done
through the claim is signed with them (``claim.cluster`` is a
:class:`~tcmodel.Cluster` made with them, on the same deployment, sharing
the HTTP client of the cluster it came from). They never show in a repr.

A claim is reclaimed by hand (:meth:`Claim.reclaim`) or in the background
(:meth:`Claim.keep_alive`: a thread; :meth:`Claim.akeep_alive`: an asyncio
task) before ``takenUntil``, and resolved with :meth:`Claim.completed`,
:meth:`Claim.failed` or :meth:`Claim.exception`. Its artifacts are written
with the operations of :mod:`tcmodel.upload`.

Example:
    >>> tq = cluster.task_queue("proj/doc-claim")
    >>> t = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="doc-claim")
    >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
    >>> with claim:
    ...     _ = claim.upload("public/hello.txt", "hello")
    ...     claim.completed().state
    'completed'
    >>> cluster.task(t.task_id).latest_artifact("public/hello.txt").read_text()
    'hello'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from tcmodel import upload
from tcmodel._closing import Closing
from tcmodel._twin import same_arguments
from tcmodel.cluster import Cluster
from tcmodel.credentials import Credentials
from tcmodel.errors import ConnectionFailed, ServerError, TaskclusterError
from tcmodel.models import TaskDefinition, TaskStatus
from tcmodel.progress import ProgressLike
from tcmodel.resources.base import run_sync
from tcmodel.resources.task import Task, _check_about, _definition, _part, _status
from tcmodel.transport import Call, Op, Sleep, Transport
from tcmodel.utils import check_choice, check_run_id, parse_date, to_json_date

if TYPE_CHECKING:
    from tcmodel.resources.artifact import Artifact
    from tcmodel.resources.run import Run

__all__ = ["BACKING_LOG", "EXCEPTION_REASONS", "KEEP_ALIVE_MARGIN", "LIVE_LOG", "Claim"]

log = logging.getLogger("tcmodel")
T = TypeVar("T")

#: Where :meth:`Claim.log` puts the log, as generic-worker does.
BACKING_LOG = "public/logs/live_backing.log"
#: The conventional log name, made a link to :data:`BACKING_LOG`.
LIVE_LOG = "public/logs/live.log"
#: The reasons ``reportException`` takes (``worker-shutdown`` and
#: ``intermittent-task`` make the queue retry the task while retries last).
EXCEPTION_REASONS = (
    "worker-shutdown",
    "malformed-payload",
    "resource-unavailable",
    "internal-error",
    "intermittent-task",
)
#: How long before ``takenUntil`` the keep-alive reclaims (seconds), by
#: default; never more than half the time a claim lasts.
KEEP_ALIVE_MARGIN = 180.0
#: How often the keep-alive looks at the clock (seconds): it follows the
#: transport's clock, so a cluster clock moved on is noticed this fast.
_TICK = 1.0
#: The pause after a reclaim that failed for a passing reason (seconds).
_RETRY_PAUSE = 5.0
_LOG_TYPE = "text/plain; charset=utf-8"
#: claimWork hands out at most this many runs per request.
MAX_CLAIM_WORK = 32


@attrs.frozen
class _Grant:
    """What claimWork, claimTask or reclaimTask hand out for one run."""

    status: TaskStatus
    run_id: int
    worker_group: str
    worker_id: str
    taken_until: datetime
    credentials: Credentials = attrs.field(repr=False)
    definition: TaskDefinition | None = None


def _grant(answer: Any) -> _Grant:
    """A :class:`_Grant` from a reclaim answer (or, with its task, a claim
    answer); read inside :func:`~tcmodel.transport.parsing`, so a bad shape
    names the call."""
    raw = _part(answer, "credentials")
    status = _status(_part(answer, "status"))
    task = answer.get("task")
    return _Grant(
        status=status,
        run_id=check_run_id(_part(answer, "runId")),
        worker_group=str(_part(answer, "workerGroup")),
        worker_id=str(_part(answer, "workerId")),
        taken_until=parse_date(_part(answer, "takenUntil")),
        credentials=Credentials(
            _part(raw, "clientId"), _part(raw, "accessToken"), raw.get("certificate") or None
        ),
        definition=_definition(task) if task is not None else None,
    )


def _claimed(answer: Any) -> _Grant:
    """The :class:`_Grant` of a claim answer, which must hold the task."""
    _part(answer, "task")
    return _grant(answer)


def _claim_cluster(parent: Cluster, credentials: Credentials) -> Cluster:
    """A Cluster on ``parent``'s deployment signed with ``credentials``:
    the same URLs, clock, retries and limits, and ``parent``'s sync HTTP
    client (which it does not close)."""
    t = parent.transport
    transport = Transport(
        t.root_url,
        credentials,
        client=t.client,
        retry=t.retry,
        clock=t.now,
        deadline=t.deadline,
        download_deadline=t.download_deadline,
        max_answer_bytes=t.max_answer_bytes,
        concurrency=t.concurrency,
    )
    return Cluster(transport, public_url=parent.public_url)


def claim_work_op(
    cluster: Cluster, task_queue_id: str, worker_group: str, worker_id: str, tasks: int
) -> Op[list[Claim]]:
    """``queue.claimWork``: the claims of up to ``tasks`` pending runs (never
    resent once it may have reached the queue: each send claims anew)."""
    body = {"workerGroup": worker_group, "workerId": worker_id, "tasks": tasks}
    call = Call.of("queue", "claimWork", body=body, taskQueueId=task_queue_id)

    def convert(answer: Any) -> list[_Grant]:
        return [_claimed(claim) for claim in _part(answer, "tasks")]

    grants = yield from cluster.transport.call(call, convert=convert)
    return [Claim(cluster, grant) for grant in grants]


def claim_task_op(
    cluster: Cluster, task_id: str, run_id: int, worker_group: str, worker_id: str
) -> Op[Claim]:
    """``queue.claimTask``: the claim of run ``run_id`` of ``task_id``."""
    body = {"workerGroup": worker_group, "workerId": worker_id}
    call = Call.of("queue", "claimTask", body=body, taskId=task_id, runId=run_id)

    def convert(answer: Any) -> _Grant:
        grant = _claimed(answer)
        _check_about(grant.status, task_id)
        return grant

    return Claim(cluster, (yield from cluster.transport.call(call, convert=convert)))


class Claim(Closing):
    """A run this worker claimed, and the context it works in: requests
    made through the claim are signed with the run's temporary credentials.

    ``task`` is the task (definition and status as the claim brought them:
    no request), ``run`` its run, ``task_id``, ``run_id``, ``worker_group``,
    ``worker_id`` and ``taken_until`` (when the claim ends unless
    reclaimed) say what was claimed, and ``cluster`` is the claim's
    :class:`~tcmodel.Cluster` (use it to read what the task's scopes allow,
    e.g. ``claim.cluster.secret(name)``). ``lost`` is the error that made
    the background keep-alive give up (the run was resolved elsewhere, or
    the claim expired), else ``None``.

    As a context manager (``with``, or ``async with``) it stops the
    keep-alive on exit and closes its own transport (not the HTTP client
    it shares). When an exception propagates out of the block and the run
    is not resolved, it reports ``exception("worker-shutdown")`` first: the
    queue retries the task at once (while it has retries left) rather than
    when the claim expires; a failure of that report is logged, never
    raised over the exception. Leaving the block normally without resolving
    leaves the run as it is (it ends ``claim-expired`` unless reclaimed).
    Report ``exception("internal-error")`` yourself for a task that must
    not be retried.

    Example:
        >>> tq = cluster.task_queue("proj/doc-claim-class")
        >>> t = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="doc")
        >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
        >>> claim  # doctest: +ELLIPSIS
        <Claim taskId='...' runId=0 workerGroup='doc-wg' workerId='doc-w1' takenUntil='...'>
        >>> claim.task.name, claim.run.state, claim.cluster.credentials.client_id.split("/")[0]
        ('doc', 'running', 'task-client')
        >>> try:
        ...     with claim:
        ...         raise RuntimeError("the worker broke")
        ... except RuntimeError:
        ...     pass
        >>> [(r.state, r.reason_resolved) for r in cluster.task(t.task_id).runs]
        [('exception', 'worker-shutdown'), ('pending', None)]
    """

    def __init__(self, parent: Cluster, grant: _Grant) -> None:
        self.cluster: Cluster = _claim_cluster(parent, grant.credentials)
        self._parent_transport = parent.transport  # its async use refuses sync requests too
        self.task: Task = Task(
            self.cluster, grant.status.task_id, definition=grant.definition, status=grant.status
        )
        self.task_id: str = grant.status.task_id
        self.run_id: int = grant.run_id
        self.worker_group: str = grant.worker_group
        self.worker_id: str = grant.worker_id
        self.taken_until: datetime = grant.taken_until
        #: The error that made the keep-alive stop (the claim is lost), or None.
        self.lost: TaskclusterError | None = None
        self._granted_at = self._transport.now()
        self._resolved = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"<Claim taskId={self.task_id!r} runId={self.run_id} "
            f"workerGroup={self.worker_group!r} workerId={self.worker_id!r} "
            f"takenUntil={to_json_date(self.taken_until)!r}>"
        )

    @property
    def run(self) -> Run:
        """The claimed run (its facts from the status the claim holds).

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-run")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="r")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.run.run_id, claim.run.info.worker_id
            (0, 'doc-w1')
            >>> _ = claim.completed()
        """
        return self.task.run(self.run_id)

    @property
    def _transport(self) -> Transport:
        return self.cluster.transport

    def _run(self, op: Op[T]) -> T:
        return run_sync(self._transport, op, self, "claim", also=self._parent_transport)

    async def _arun(self, op: Op[T]) -> T:
        return await self._transport.arun(op)

    def _locked(self, op: Op[T]) -> Op[T]:
        """``op``, run holding the claim's lock: the keep-alive thread does
        not reclaim meanwhile."""
        with self._lock:
            return (yield from op)

    def _call(self, entry: str, body: Any = None) -> Call:
        return Call.of("queue", entry, body=body, taskId=self.task_id, runId=self.run_id)

    def _expires(self, expires: datetime | str | None) -> datetime | str:
        """An artifact's expiry: ``expires`` (a datetime, an offset from now
        or a date string), by default the task's."""
        return self.task.status.expires if expires is None else expires

    # the claim

    def _take(self, grant: _Grant) -> None:
        """Use what a reclaim handed out: new takenUntil, credentials, status."""
        self.taken_until = grant.taken_until
        self._granted_at = self._transport.now()
        self.task._status = _check_about(grant.status, self.task_id)
        self.cluster.use_credentials(grant.credentials)

    def _reclaim_op(self) -> Op[None]:
        grant = yield from self._transport.call(self._call("reclaimTask"), convert=_grant)
        self._take(grant)

    def reclaim(self) -> Claim:
        """Extend the claim (``queue.reclaimTask``): a new ``taken_until``,
        and fresh credentials used from now on. Returns the claim.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-reclaim")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="r")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> before = claim.taken_until
            >>> lc.advance(60)
            >>> claim.reclaim().taken_until > before
            True
            >>> _ = claim.completed()
        """
        self._run(self._locked(self._reclaim_op()))
        return self

    async def areclaim(self) -> Claim:
        """The async twin of :meth:`reclaim`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-areclaim", payload={}, name="r")
            >>> async def extend() -> bool:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-areclaim").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             before = claim.taken_until
            ...             lc.advance(60)
            ...             extended = (await claim.areclaim()).taken_until > before
            ...             await claim.acompleted()
            ...             return extended
            >>> asyncio.run(extend())
            True
        """
        await self._arun(self._locked(self._reclaim_op()))
        return self

    def _pause(self, margin: float) -> float:
        """Seconds (on the transport's clock) until the next reclaim is due."""
        length = self.taken_until.timestamp() - self._granted_at
        due = self.taken_until.timestamp() - min(margin, length / 2)
        return due - self._transport.now()

    def _keep_alive_op(self, margin: float) -> Op[None]:
        """Reclaim before ``takenUntil`` until the run is resolved or the
        claim closed; one operation for the thread and the asyncio task."""
        while not self._stop.is_set():
            pause = self._pause(margin)
            if pause > 0:
                yield Sleep(min(pause, _TICK))
                continue
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    yield from self._reclaim_op()
                except (ConnectionFailed, ServerError) as exc:
                    log.warning("%r: reclaim failed (%s); trying again", self, type(exc).__name__)
                    yield Sleep(_RETRY_PAUSE)
                except TaskclusterError as exc:
                    if not self._stop.is_set():
                        self._lose(exc)
                    return

    def _lose(self, exc: TaskclusterError) -> None:
        self.lost = exc
        self._stop.set()
        log.warning("%r: the claim is lost, the keep-alive stops: %s", self, exc)

    def keep_alive(self, margin: float = KEEP_ALIVE_MARGIN) -> Claim:
        """Reclaim in a background thread, ``margin`` seconds before
        ``taken_until`` (at most half-way through the claim), until the run
        is resolved or the claim closed. If the queue refuses a reclaim (the
        run was cancelled or resolved elsewhere, the claim expired) the
        thread stops and :attr:`lost` holds the error. Returns the claim.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-keep")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="k")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> with claim.keep_alive():
            ...     claim.completed().state
            'completed'
        """
        with self._lock:
            if self._keeper is None and not self._resolved:
                name = f"tcmodel keep-alive {self.task_id}/{self.run_id}"
                op = self._keep_alive_op(margin)
                self._keeper = threading.Thread(
                    target=self._transport.run, args=(op,), name=name, daemon=True
                )
                self._keeper.start()
        return self

    async def akeep_alive(self, margin: float = KEEP_ALIVE_MARGIN) -> Claim:
        """:meth:`keep_alive` as an asyncio task of the running event loop
        (stopped by resolution, :meth:`aclose` or leaving ``async with``).

        Example:
            >>> import asyncio
            >>> tq = cluster.task_queue("proj/doc-claim-akeep")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="k")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> async def work() -> str:
            ...     async with await claim.akeep_alive():
            ...         return claim.completed().state
            >>> asyncio.run(work())
            'completed'
        """
        if self._keeper is None and not self._resolved:
            op = self._keep_alive_op(margin)
            self._keeper = asyncio.get_running_loop().create_task(self._transport.arun(op))
        return self

    # resolution

    def _report_op(self, entry: str, body: Any = None) -> Op[Task]:
        def convert(answer: Any) -> TaskStatus:
            return _check_about(_status(_part(answer, "status")), self.task_id)

        self.task._status = yield from self._transport.call(
            self._call(entry, body), convert=convert
        )
        self._resolved = True
        self._stop.set()
        return self.task

    def _exception_op(self, reason: str) -> Op[Task]:
        check_choice("reason", reason, EXCEPTION_REASONS)
        return self._locked(self._report_op("reportException", {"reason": reason}))

    def completed(self) -> Task:
        """Resolve the run ``completed`` (``queue.reportCompleted``); returns
        the task, its new status in place. Repeating it is harmless (the
        queue answers the same); after another resolution it raises
        :class:`~tcmodel.RequestConflict`.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-completed")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="c")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.completed().state, claim.completed().state
            ('completed', 'completed')
            >>> claim.failed()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            tcmodel.errors.RequestConflict: queue.reportFailed(...): 409 RequestConflict: ...
        """
        return self._run(self._locked(self._report_op("reportCompleted")))

    async def acompleted(self) -> Task:
        """The async twin of :meth:`completed`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-acompleted", payload={}, name="c")
            >>> async def complete() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-acompleted").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             return (await claim.acompleted()).state
            >>> asyncio.run(complete())
            'completed'
        """
        return await self._arun(self._locked(self._report_op("reportCompleted")))

    def failed(self) -> Task:
        """Resolve the run ``failed`` (``queue.reportFailed``): the task ran
        and did not succeed. Returns the task with its new status.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-failed")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="f")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.failed().state
            'failed'
        """
        return self._run(self._locked(self._report_op("reportFailed")))

    async def afailed(self) -> Task:
        """The async twin of :meth:`failed`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-afailed", payload={}, name="f")
            >>> async def fail() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-afailed").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             return (await claim.afailed()).state
            >>> asyncio.run(fail())
            'failed'
        """
        return await self._arun(self._locked(self._report_op("reportFailed")))

    def exception(self, reason: str) -> Task:
        """Resolve the run ``exception`` with ``reason``, one of
        :data:`EXCEPTION_REASONS` (``queue.reportException``):
        ``worker-shutdown`` and ``intermittent-task`` make the queue retry
        the task (a new pending run) while it has retries left. Returns the
        task with its new status.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-exception")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="e")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> [r.state for r in claim.exception("worker-shutdown").runs]
            ['exception', 'pending']
            >>> claim.exception("tired")
            Traceback (most recent call last):
            ...
            ValueError: reason must be one of worker-shutdown, ..., not 'tired'
        """
        return self._run(self._exception_op(reason))

    async def aexception(self, reason: str) -> Task:
        """The async twin of :meth:`exception`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-aexception", payload={}, name="e")
            >>> async def give_up() -> list[str]:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-aexception").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             task = await claim.aexception("worker-shutdown")
            ...             return [r.state for r in task.runs]
            >>> asyncio.run(give_up())
            ['exception', 'pending']
        """
        return await self._arun(self._exception_op(reason))

    # artifacts

    def _made(self, name: str, op: Op[Any]) -> Op[Artifact]:
        """Run ``op``, which creates artifact ``name`` of the run; its handle."""
        yield from op
        return self.run.artifact(name)

    def _upload_op(
        self,
        name: str,
        source: upload.Source,
        content_type: str | None = None,
        expires: datetime | str | None = None,
        storage_type: str = "object",
        gzip: bool = False,
        progress: ProgressLike = None,
    ) -> Op[Artifact]:
        op = upload.upload_op(
            self._transport,
            self.task_id,
            self.run_id,
            name,
            source,
            content_type=content_type,
            expires=self._expires(expires),
            storage_type=storage_type,
            gzip=gzip,
            progress=progress,
        )
        return self._made(name, op)

    @same_arguments(_upload_op)
    def upload(self, *args: Any, **kwargs: Any) -> Artifact:
        """``upload(name, source, content_type=None, expires=None,
        storage_type="object", gzip=False, progress=None)``: create artifact
        ``name`` of the run holding ``source``: bytes, text (``str``, as
        UTF-8), a path (streamed from disk) or a binary file object.
        ``storage_type="object"`` goes through the object
        service (hashes recorded), ``"s3"`` to the queue's presigned URL;
        ``gzip`` sends it compressed with ``Content-Encoding: gzip``.
        ``content_type`` is guessed from the name when not given;
        ``expires`` (a datetime, an offset such as ``"1 year"`` or a date)
        is the task's by default. See :func:`tcmodel.upload.upload_op`.
        Returns a handle on the artifact (no request).

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-upload")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="u")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.upload("public/data.json", b'{"a": 1}').read_json()
            {'a': 1}
            >>> _ = claim.completed()
        """
        return self._run(self._upload_op(*args, **kwargs))

    @same_arguments(_upload_op)
    async def aupload(self, *args: Any, **kwargs: Any) -> Artifact:
        """The async twin of :meth:`upload`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-aupload", payload={}, name="u")
            >>> async def put() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-aupload").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             art = await claim.aupload("public/data.txt", "async data")
            ...             await claim.acompleted()
            ...             return await art.aread_text()
            >>> asyncio.run(put())
            'async data'
        """
        return await self._arun(self._upload_op(*args, **kwargs))

    def upload_dir(self, path: str | os.PathLike[str], prefix: str = "public/") -> list[Artifact]:
        """Upload every file under folder ``path`` (sorted, sub-folders
        included) as object artifacts named ``prefix`` + the file's path
        relative to ``path`` (with ``/``), content types guessed from the
        names. Returns their handles.

        Example:
            >>> import tempfile, pathlib
            >>> tq = cluster.task_queue("proj/doc-claim-dir")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="d")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     _ = (pathlib.Path(tmp) / "sub").mkdir()
            ...     _ = (pathlib.Path(tmp) / "sub" / "page.html").write_text("<p>hi</p>")
            ...     _ = (pathlib.Path(tmp) / "notes.txt").write_text("notes")
            ...     for a in claim.upload_dir(tmp, prefix="public/site/"):
            ...         print(a.name, a.content_type)
            public/site/notes.txt text/plain; charset=utf-8
            public/site/sub/page.html text/html; charset=utf-8
            >>> _ = claim.completed()
        """
        return self._run(self._upload_dir_op(path, prefix))

    async def aupload_dir(
        self, path: str | os.PathLike[str], prefix: str = "public/"
    ) -> list[Artifact]:
        """The async twin of :meth:`upload_dir`.

        Example:
            >>> import asyncio, tempfile, pathlib
            >>> _ = cluster.create_task(task_queue_id="proj/doc-aupload-dir", payload={}, name="d")
            >>> async def put(folder: str) -> list[str]:
            ...     async with lc.connect() as c:
            ...         tq = c.task_queue("proj/doc-aupload-dir")
            ...         [claim] = await tq.aclaim_work("wg", "w1")
            ...         async with claim:
            ...             made = await claim.aupload_dir(folder, prefix="public/site/")
            ...             await claim.acompleted()
            ...             return [a.name for a in made]
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     _ = (pathlib.Path(tmp) / "index.html").write_text("<p>hi</p>")
            ...     asyncio.run(put(tmp))
            ['public/site/index.html']
        """
        return await self._arun(self._upload_dir_op(path, prefix))

    def _upload_dir_op(self, path: str | os.PathLike[str], prefix: str) -> Op[list[Artifact]]:
        root = Path(path)
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        made = []
        for f in files:
            made.append((yield from self._upload_op(prefix + f.relative_to(root).as_posix(), f)))
        return made

    def create_reference(self, name: str, url: str, content_type: str | None = None) -> Artifact:
        """Create a ``reference`` artifact: reading ``name`` redirects to
        ``url``. Returns its handle.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-reference")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="r")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> ref = claim.create_reference("public/docs.html", "https://example.com/docs.html")
            >>> ref.info.storage_type
            'reference'
            >>> _ = claim.completed()
        """
        return self._run(self._reference_op(name, url, content_type))

    async def acreate_reference(
        self, name: str, url: str, content_type: str | None = None
    ) -> Artifact:
        """The async twin of :meth:`create_reference`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-areference", payload={}, name="r")
            >>> async def refer() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-areference").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             ref = await claim.acreate_reference("public/d.html", "https://example.com/d")
            ...             await claim.acompleted()
            ...             return (await ref.ainfo()).storage_type
            >>> asyncio.run(refer())
            'reference'
        """
        return await self._arun(self._reference_op(name, url, content_type))

    def _reference_op(self, name: str, url: str, content_type: str | None) -> Op[Artifact]:
        op = upload.reference_op(
            self._transport,
            self.task_id,
            self.run_id,
            name,
            url,
            content_type=content_type,
            expires=self._expires(None),
        )
        return self._made(name, op)

    def create_link(
        self, name: str, artifact: Artifact | str, content_type: str | None = None
    ) -> Artifact:
        """Create a ``link`` artifact: reading ``name`` reads ``artifact`` (a
        handle or the name of an artifact of the same run). Returns its
        handle.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-link")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="l")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> target = claim.upload("public/app-1.2.txt", "v1.2")
            >>> claim.create_link("public/app-latest.txt", target).read_text()
            'v1.2'
            >>> _ = claim.completed()
        """
        return self._run(self._link_op(name, artifact, content_type))

    async def acreate_link(
        self, name: str, artifact: Artifact | str, content_type: str | None = None
    ) -> Artifact:
        """The async twin of :meth:`create_link`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-alink", payload={}, name="l")
            >>> async def link() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-alink").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             target = await claim.aupload("public/app-2.0.txt", "v2.0")
            ...             latest = await claim.acreate_link("public/app-latest.txt", target)
            ...             await claim.acompleted()
            ...             return await latest.aread_text()
            >>> asyncio.run(link())
            'v2.0'
        """
        return await self._arun(self._link_op(name, artifact, content_type))

    def _link_op(
        self, name: str, artifact: Artifact | str, content_type: str | None
    ) -> Op[Artifact]:
        target = artifact if isinstance(artifact, str) else artifact.name
        op = upload.link_op(
            self._transport,
            self.task_id,
            self.run_id,
            name,
            target,
            content_type=content_type,
            expires=self._expires(None),
        )
        return self._made(name, op)

    def create_error(self, name: str, reason: str, message: str) -> Artifact:
        """Create an ``error`` artifact: reading ``name`` raises
        :class:`~tcmodel.ArtifactError` with ``reason``
        (``file-missing-on-worker``, ``invalid-resource-on-worker``,
        ``too-large-file-on-worker``) and ``message``. Returns its handle.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-error")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="e")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.create_error("public/shot.png", "file-missing-on-worker", "no display"
            ...                    ).read_bytes()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            tcmodel.errors.ArtifactError: ...file-missing-on-worker...
            >>> _ = claim.completed()
        """
        return self._run(self._error_op(name, reason, message))

    async def acreate_error(self, name: str, reason: str, message: str) -> Artifact:
        """The async twin of :meth:`create_error`.

        Example:
            >>> import asyncio
            >>> _ = cluster.create_task(task_queue_id="proj/doc-aerror", payload={}, name="e")
            >>> async def fail_artifact() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-aerror").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             shot = await claim.acreate_error(
            ...                 "public/shot.png", "file-missing-on-worker", "no display")
            ...             await claim.acompleted()
            ...             return (await shot.ainfo()).storage_type
            >>> asyncio.run(fail_artifact())
            'error'
        """
        return await self._arun(self._error_op(name, reason, message))

    def _error_op(self, name: str, reason: str, message: str) -> Op[Artifact]:
        op = upload.error_op(
            self._transport,
            self.task_id,
            self.run_id,
            name,
            reason,
            message,
            expires=self._expires(None),
        )
        return self._made(name, op)

    def log(self, text_or_path: str | os.PathLike[str], storage_type: str = "object") -> Artifact:
        """Upload the task's log as generic-worker does: gzipped
        ``text/plain; charset=utf-8`` as :data:`BACKING_LOG` (text, or the
        file at a path), then :data:`LIVE_LOG` as a link to it. Returns the
        handle of :data:`LIVE_LOG`.

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-log")
            >>> t = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="g")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> claim.log("hello\\n[taskcluster] exit code 0\\n").read_text().splitlines()[0]
            'hello'
            >>> _ = claim.completed()
            >>> cluster.task(t.task_id).log().splitlines()[-1]
            '[taskcluster] exit code 0'
        """
        return self._run(self._log_op(text_or_path, storage_type))

    async def alog(
        self, text_or_path: str | os.PathLike[str], storage_type: str = "object"
    ) -> Artifact:
        """The async twin of :meth:`log`.

        Example:
            >>> import asyncio
            >>> t = cluster.create_task(task_queue_id="proj/doc-alog", payload={}, name="g")
            >>> async def log() -> str:
            ...     async with lc.connect() as c:
            ...         [claim] = await c.task_queue("proj/doc-alog").aclaim_work("wg", "w1")
            ...         async with claim:
            ...             live = await claim.alog("async hello\\n")
            ...             await claim.acompleted()
            ...             return live.name
            >>> asyncio.run(log()), cluster.task(t.task_id).log()
            ('public/logs/live.log', 'async hello\\n')
        """
        return await self._arun(self._log_op(text_or_path, storage_type))

    def _log_op(self, text_or_path: str | os.PathLike[str], storage_type: str) -> Op[Artifact]:
        yield from self._upload_op(
            BACKING_LOG, text_or_path, _LOG_TYPE, storage_type=storage_type, gzip=True
        )
        return (yield from self._link_op(LIVE_LOG, BACKING_LOG, _LOG_TYPE))

    # lifetime

    def _shutdown_op(self, exc: BaseException | None) -> Op[None]:
        """On leaving the block: ``exception("worker-shutdown")`` when an
        exception propagates and the run is unresolved; a failure of that
        report is logged, not raised over the exception."""
        if exc is None or self._resolved or self.lost is not None:
            return
        try:
            yield from self._report_op("reportException", {"reason": "worker-shutdown"})
        except TaskclusterError as error:
            log.warning("%r: could not report worker-shutdown: %s", self, error)

    def close(self) -> None:
        """Stop the keep-alive and close the claim's transport (the HTTP
        client shared with the cluster the claim came from stays open).

        Example:
            >>> tq = cluster.task_queue("proj/doc-claim-close")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="c")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> _ = claim.completed()
            >>> claim.close()
            >>> cluster.ping()["alive"]
            True
        """
        self._stop.set()
        self.cluster.close()

    async def aclose(self) -> None:
        """Stop the keep-alive task and close the claim's transport (see
        :meth:`close`).

        Example:
            >>> import asyncio
            >>> tq = cluster.task_queue("proj/doc-claim-aclose")
            >>> _ = cluster.create_task(task_queue_id=tq.task_queue_id, payload={}, name="c")
            >>> [claim] = tq.claim_work("doc-wg", "doc-w1")
            >>> _ = claim.exception("internal-error")
            >>> asyncio.run(claim.aclose())
        """
        self._stop.set()
        keeper = self._keeper
        if isinstance(keeper, asyncio.Task) and not keeper.done():
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self.cluster.aclose()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            with self._lock:
                self._run(self._shutdown_op(exc))
        finally:
            self.close()

    async def __aenter__(self) -> Claim:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._transport.arun(self._shutdown_op(exc))
        finally:
            await self.aclose()
