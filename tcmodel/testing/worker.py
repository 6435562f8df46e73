"""A test worker for a :class:`~tcmodel.testing.LocalCluster`.

:class:`Worker` claims tasks of one task queue with the public API
(:meth:`TaskQueue.claim_work <tcmodel.resources.task_queue.TaskQueue.claim_work>`)
and hands out :class:`ClaimedRun` objects: thin wrappers of
:class:`~tcmodel.resources.claim.Claim` that keep the test worker's
names (``complete``, ``reference``, ``link``, …) and JSON-shaped
``task`` and ``status``. Every request is the Claim's: artifacts of every
storage type with the claim's temporary credentials, the log, resolution.

Example:
    >>> from tcmodel.testing import LocalCluster
    >>> with LocalCluster() as lc, Worker(lc, "proj/ci") as worker:
    ...     worker.claim()
    []
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel._closing import Closing
from tcmodel.credentials import Credentials
from tcmodel.resources.claim import BACKING_LOG, EXCEPTION_REASONS, LIVE_LOG, MAX_CLAIM_WORK, Claim
from tcmodel.transport import Transport
from tcmodel.upload import Source
from tcmodel.utils import to_json_date

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.testing.server import LocalCluster

__all__ = ["BACKING_LOG", "LIVE_LOG", "ClaimedRun", "Worker"]

_TEXT = "text/plain; charset=utf-8"

#: What :meth:`ClaimedRun.upload` takes (see :data:`tcmodel.upload.Source`).
Data = Source


class ClaimedRun:
    """One claimed run, driven with the claim's temporary credentials: a
    thin layer over :attr:`claim` (a :class:`~tcmodel.resources.claim.Claim`).

    ``task`` is the task definition and ``status`` the task status, as the
    queue sent them (dicts); ``credentials`` the run's temporary credentials
    (their repr shows only the client id).

    Example:
        >>> job = cluster.create_task(task_queue_id="proj/doc-claimed-run", payload={}, name="j")
        >>> with Worker(lc, "proj/doc-claimed-run") as worker:
        ...     run = worker.claim_task(job.task_id)
        ...     run.upload("public/app.txt", "app")
        ...     run.log("done\\n")
        ...     run.complete()["status"]["state"]
        'completed'
        >>> run, run.task["metadata"]["name"]  # doctest: +ELLIPSIS
        (<ClaimedRun taskId='...' runId=0>, 'j')
    """

    def __init__(self, worker: Worker, claim: Claim) -> None:
        self.worker = worker
        #: The :class:`~tcmodel.resources.claim.Claim` this run works through.
        self.claim = claim
        self.task_id: str = claim.task_id
        self.run_id: int = claim.run_id

    def __repr__(self) -> str:
        return f"<ClaimedRun taskId={self.task_id!r} runId={self.run_id}>"

    @property
    def task(self) -> dict[str, Any]:
        """The task definition, as the queue sent it with the claim.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-task", payload={}, name="d")
            >>> with Worker(lc, "proj/doc-run-task") as worker:
            ...     worker.claim_task(job.task_id).task["taskQueueId"]
            'proj/doc-run-task'
        """
        return self.claim.task.definition.raw

    @property
    def status(self) -> dict[str, Any]:
        """The task status as the queue last answered it (claim, reclaim or
        resolution).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-status", payload={}, name="s")
            >>> with Worker(lc, "proj/doc-run-status") as worker:
            ...     worker.claim_task(job.task_id).status["state"]
            'running'
        """
        return self.claim.task.status.raw

    @property
    def taken_until(self) -> str:
        """When the claim ends unless reclaimed (a JSON date).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-until", payload={}, name="u")
            >>> with Worker(lc, "proj/doc-run-until") as worker:
            ...     worker.claim_task(job.task_id).taken_until  # doctest: +ELLIPSIS
            '...Z'
        """
        return to_json_date(self.claim.taken_until)

    @property
    def credentials(self) -> Credentials:
        """The run's temporary credentials (the latest reclaim's).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-creds", payload={}, name="c")
            >>> with Worker(lc, "proj/doc-run-creds") as worker:
            ...     worker.claim_task(job.task_id).credentials  # doctest: +ELLIPSIS
            Credentials(client_id='task-client/.../0/on/local/worker-1/until/...', temporary=True)
        """
        credentials = self.claim.cluster.credentials
        assert credentials is not None  # a claim always has its credentials
        return credentials

    @property
    def cluster(self) -> Cluster:
        """The claim's :class:`~tcmodel.Cluster`, signed with the run's credentials.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-cl", payload={}, name="c")
            >>> with Worker(lc, "proj/doc-run-cl") as worker:
            ...     worker.claim_task(job.task_id).cluster.task(job.task_id).state
            'running'
        """
        return self.claim.cluster

    @property
    def transport(self) -> Transport:
        """The transport signed with the run's credentials.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-transport", payload={},
            ...                           name="t")
            >>> with Worker(lc, "proj/doc-run-transport") as worker:
            ...     run = worker.claim_task(job.task_id)
            ...     run.transport.request("queue", "status", taskId=run.task_id)["status"]["state"]
            'running'
        """
        return self.claim.cluster.transport

    # artifacts

    def upload(
        self,
        name: str,
        data: Data,
        *,
        content_type: str | None = None,
        storage_type: str = "object",
        gzip: bool = False,
        expires: datetime | str | None = None,
    ) -> None:
        """Create artifact ``name`` holding ``data`` (bytes, text as UTF-8, an
        ``os.PathLike`` file streamed from disk, or a binary file object):
        :meth:`Claim.upload <tcmodel.resources.claim.Claim.upload>`, except
        that ``content_type`` defaults to ``text/plain; charset=utf-8`` for
        text and ``application/octet-stream`` for anything else, whatever
        the name (the test worker's own rule: no guess).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-upload", payload={}, name="u")
            >>> with Worker(lc, "proj/doc-run-upload") as worker:
            ...     worker.claim_task(job.task_id).upload("public/a.txt", "a", storage_type="s3")
            >>> cluster.task(job.task_id).run(0).artifact("public/a.txt").read_text()
            'a'
        """
        ctype = content_type or (_TEXT if isinstance(data, str) else "application/octet-stream")
        self.claim.upload(name, data, ctype, expires, storage_type=storage_type, gzip=gzip)

    def reference(
        self, name: str, url: str, content_type: str = "application/octet-stream"
    ) -> None:
        """Create a ``reference`` artifact: reading it redirects to ``url``.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-ref", payload={}, name="r")
            >>> with Worker(lc, "proj/doc-run-ref") as worker:
            ...     worker.claim_task(job.task_id).reference("public/x", "https://example.com/")
            >>> cluster.task(job.task_id).run(0).artifact("public/x").storage_type
            'reference'
        """
        self.claim.create_reference(name, url, content_type)

    def link(self, name: str, target: str, content_type: str | None = None) -> None:
        """Create a ``link`` artifact: reading ``name`` reads ``target`` (an
        artifact of the same run).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-link", payload={}, name="l")
            >>> with Worker(lc, "proj/doc-run-link") as worker:
            ...     run = worker.claim_task(job.task_id)
            ...     run.upload("public/v1.txt", "v1")
            ...     run.link("public/latest.txt", "public/v1.txt")
            >>> cluster.task(job.task_id).run(0).artifact("public/latest.txt").read_text()
            'v1'
        """
        self.claim.create_link(name, target, content_type)

    def error(self, name: str, reason: str, message: str) -> None:
        """Create an ``error`` artifact: reading it fails with ``reason``
        (``file-missing-on-worker``, …) and ``message``.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-error", payload={}, name="e")
            >>> with Worker(lc, "proj/doc-run-error") as worker:
            ...     run = worker.claim_task(job.task_id)
            ...     run.error("public/s.png", "file-missing-on-worker", "no display")
            >>> cluster.task(job.task_id).run(0).artifact("public/s.png").storage_type
            'error'
        """
        self.claim.create_error(name, reason, message)

    def log(self, text: str, *, storage_type: str = "s3") -> None:
        """Upload the task log as generic-worker does at the end: gzipped
        ``text/plain; charset=utf-8`` text as :data:`BACKING_LOG`, then
        :data:`LIVE_LOG` as a link to it (:meth:`Claim.log
        <tcmodel.resources.claim.Claim.log>`; ``s3`` storage by default).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-log", payload={}, name="g")
            >>> with Worker(lc, "proj/doc-run-log") as worker:
            ...     worker.claim_task(job.task_id).log("hello\\n")
            >>> cluster.task(job.task_id).run(0).artifact(LIVE_LOG).read_text()
            'hello\\n'
        """
        self.claim.log(text, storage_type=storage_type)

    # the claim

    def reclaim(self) -> None:
        """Extend the claim (``queue.reclaimTask``) and switch to the fresh
        credentials it returns.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-reclaim", payload={},
            ...                           name="r")
            >>> with Worker(lc, "proj/doc-run-reclaim") as worker:
            ...     run = worker.claim_task(job.task_id)
            ...     before = run.credentials
            ...     run.reclaim()
            ...     run.credentials != before
            True
        """
        self.claim.reclaim()

    # resolution

    def complete(self) -> dict[str, Any]:
        """Resolve the run as ``completed``; returns ``{"status": …}`` as the
        queue answered.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-done", payload={}, name="d")
            >>> with Worker(lc, "proj/doc-run-done") as worker:
            ...     worker.claim_task(job.task_id).complete()["status"]["state"]
            'completed'
        """
        self.claim.completed()
        return {"status": self.status}

    def fail(self) -> dict[str, Any]:
        """Resolve the run as ``failed``; returns ``{"status": …}``.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-fail", payload={}, name="f")
            >>> with Worker(lc, "proj/doc-run-fail") as worker:
            ...     worker.claim_task(job.task_id).fail()["status"]["state"]
            'failed'
        """
        self.claim.failed()
        return {"status": self.status}

    def exception(self, reason: str) -> dict[str, Any]:
        """Resolve the run as ``exception`` with ``reason`` (``worker-shutdown``
        and ``intermittent-task`` make the queue retry the task).

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-run-exc", payload={}, name="x")
            >>> with Worker(lc, "proj/doc-run-exc") as worker:
            ...     worker.claim_task(job.task_id).exception("malformed-payload")["status"]["state"]
            'exception'
        """
        self.claim.exception(reason)
        return {"status": self.status}


class Worker(Closing):
    """A worker of task queue ``task_queue_id`` on a local cluster.

    It registers its own client with the scopes a worker has
    (``queue:claim-work:<taskQueueId>``,
    ``queue:worker-id:<workerGroup>/<workerId>``, and ``queue:status:*`` to
    check a task before claiming it) and claims through
    :meth:`TaskQueue.claim_work <tcmodel.resources.task_queue.TaskQueue.claim_work>`.
    Close it (or use it as a context manager) to close its HTTP client.

    Example:
        >>> job = cluster.create_task(task_queue_id="proj/doc-worker", payload={}, name="w")
        >>> with Worker(lc, "proj/doc-worker") as worker:
        ...     _ = worker.run(job.task_id, log="hello\\n", artifacts={"public/a.txt": "a"})
        >>> cluster.task(job.task_id).state
        'completed'
    """

    def __init__(
        self,
        cluster: LocalCluster,
        task_queue_id: str = "proj/ci",
        *,
        worker_group: str = "local",
        worker_id: str = "worker-1",
    ) -> None:
        self.local = cluster
        self.task_queue_id = task_queue_id
        self.worker_group = worker_group
        self.worker_id = worker_id
        self.root_url = cluster.root_url
        client_id = f"worker/{task_queue_id}/{worker_group}/{worker_id}"
        scopes = (
            f"queue:claim-work:{task_queue_id}",
            f"queue:worker-id:{worker_group}/{worker_id}",
            "queue:status:*",
        )
        with cluster.state.lock:
            # another Worker with this id shares its client: registering it
            # again would give it a new token and revoke the first one's
            known = cluster.state.clients.get(client_id)
            if known is not None and known.scopes == scopes and known.expires is None:
                credentials = Credentials(client_id, known.access_token)
            else:
                credentials = cluster.add_client(client_id, scopes)
        self.cluster = cluster.connect(credentials)
        self._queue = self.cluster.task_queue(task_queue_id)
        #: Runs claimed on the way to a :meth:`claim_task`, handed out first
        #: by :meth:`claim`.
        self.held: list[ClaimedRun] = []

    def __repr__(self) -> str:
        return (
            f"<Worker {self.task_queue_id!r} workerGroup={self.worker_group!r} "
            f"workerId={self.worker_id!r}>"
        )

    def _claim_work(self, count: int) -> list[ClaimedRun]:
        claims = self._queue.claim_work(self.worker_group, self.worker_id, count)
        return [ClaimedRun(self, claim) for claim in claims]

    def claim(self, n: int = 1) -> list[ClaimedRun]:
        """Claim up to ``n`` pending runs (``queue.claimWork``, at most 32
        per request); an empty list when nothing is pending.

        Example:
            >>> _ = cluster.create_task(task_queue_id="proj/doc-worker-claim", payload={}, name="a")
            >>> with Worker(lc, "proj/doc-worker-claim") as worker:
            ...     [run.complete()["status"]["state"] for run in worker.claim(8)]
            ['completed']
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        runs, self.held = self.held[:n], self.held[n:]
        while len(runs) < n:
            asked = min(n - len(runs), MAX_CLAIM_WORK)
            got = self._claim_work(asked)
            runs += got
            if len(got) < asked:  # nothing more is pending
                break
        return runs

    def claim_task(self, task_id: str) -> ClaimedRun:
        """Claim the pending run of ``task_id``: claimWork until it comes
        (runs claimed on the way are kept in :attr:`held`). ``ValueError``
        when the task is not pending in this worker's task queue.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-worker-task", payload={},
            ...                           name="t")
            >>> with Worker(lc, "proj/doc-worker-task") as worker:
            ...     worker.claim_task(job.task_id).run_id
            0
        """
        for run in self.held:
            if run.task_id == task_id:
                self.held.remove(run)
                return run
        status = self.cluster.transport.request("queue", "status", taskId=task_id)["status"]
        runs = status.get("runs") or []
        state = runs[-1]["state"] if runs else "unscheduled"
        if state != "pending":
            raise ValueError(f"task {task_id} is not pending (it is {state})")
        if status["taskQueueId"] != self.task_queue_id:
            raise ValueError(
                f"task {task_id} is in task queue {status['taskQueueId']!r}, "
                f"not {self.task_queue_id!r}"
            )
        while got := self._claim_work(1):
            for run in got:
                if run.task_id == task_id:
                    return run
                self.held.append(run)
        raise ValueError(f"task {task_id} could not be claimed from {self.task_queue_id!r}")

    def run(
        self,
        task_id: str,
        *,
        outcome: str = "completed",
        log: str | None = None,
        artifacts: Mapping[str, Data] | None = None,
    ) -> ClaimedRun:
        """Claim ``task_id``, upload ``artifacts`` (name → data, as object
        artifacts) and ``log``, then resolve the run with ``outcome``:
        ``completed``, ``failed``, or an exception reason such as
        ``malformed-payload``.

        Example:
            >>> job = cluster.create_task(task_queue_id="proj/doc-worker-run", payload={}, name="r")
            >>> with Worker(lc, "proj/doc-worker-run") as worker:
            ...     worker.run(job.task_id, outcome="failed", log="boom\\n").status["state"]
            'failed'
        """
        if outcome not in ("completed", "failed", *EXCEPTION_REASONS):
            raise ValueError(f"unknown outcome {outcome!r}")
        run = self.claim_task(task_id)
        for name, data in (artifacts or {}).items():
            run.upload(name, data)
        if log is not None:
            run.log(log)
        if outcome == "completed":
            run.complete()
        elif outcome == "failed":
            run.fail()
        else:
            run.exception(outcome)
        return run

    def close(self) -> None:
        """Close the worker's HTTP client (its runs share it).

        Example:
            >>> worker = Worker(lc, "proj/doc-worker-close")
            >>> worker.close()
            >>> worker.claim()
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: <Transport ...> is closed...
        """
        self.cluster.close()
