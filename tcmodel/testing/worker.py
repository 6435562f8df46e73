"""A test worker for a :class:`~tcmodel.testing.LocalCluster`.

:class:`Worker` claims tasks of one task queue over HTTP, with tcmodel's
own transport, and hands out :class:`ClaimedRun` objects that act as a real
worker does with the temporary credentials of the claim: create artifacts
of every storage type (object uploads through the object service, s3
uploads to the presigned URL), upload a log, and resolve the run.

Example:
    >>> from tcmodel.testing import LocalCluster
    >>> with LocalCluster() as lc, Worker(lc, "proj/ci") as worker:
    ...     worker.claim()
    []
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tcmodel._closing import Closing
from tcmodel.api import endpoint
from tcmodel.credentials import Credentials
from tcmodel.transport import Call, Transport
from tcmodel.utils import to_json_date

if TYPE_CHECKING:
    from tcmodel.testing.server import LocalCluster

__all__ = ["BACKING_LOG", "LIVE_LOG", "ClaimedRun", "Worker"]

#: Where :meth:`ClaimedRun.log` puts the log, as generic-worker does.
BACKING_LOG = "public/logs/live_backing.log"
#: The conventional log name, made a link to :data:`BACKING_LOG`.
LIVE_LOG = "public/logs/live.log"
_LOG_TYPE = "text/plain; charset=utf-8"
_FILE_CHUNK = 1024 * 1024
_MAX_CLAIM = 32
_EXCEPTION_REASONS = (
    "worker-shutdown",
    "malformed-payload",
    "resource-unavailable",
    "internal-error",
    "intermittent-task",
)

Data = bytes | str | os.PathLike[str]


class _FileChunks:
    """A file's bytes as a re-iterable body (a retried PUT reads it again)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            while chunk := f.read(_FILE_CHUNK):
                yield chunk


class _Payload:
    """The bytes to PUT, their length, and the hashes of the content."""

    def __init__(self, data: Data, gzip: bool) -> None:
        self.body: bytes | _FileChunks
        if isinstance(data, os.PathLike) and not gzip:
            path = Path(data)
            self.body = _FileChunks(path)
            hashers = [hashlib.sha256(), hashlib.sha512()]
            self.size = 0
            for chunk in self.body:
                self.size += len(chunk)
                for h in hashers:
                    h.update(chunk)
            self.sha256, self.sha512 = (h.hexdigest() for h in hashers)
            return
        if isinstance(data, os.PathLike):
            content = Path(data).read_bytes()
        else:
            content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.sha256 = hashlib.sha256(content).hexdigest()
        self.sha512 = hashlib.sha512(content).hexdigest()
        self.body = gzip_module.compress(content, mtime=0) if gzip else content
        self.size = len(self.body)


def _default_content_type(data: Data) -> str:
    return "text/plain; charset=utf-8" if isinstance(data, str) else "application/octet-stream"


class ClaimedRun:
    """One claimed run, driven with the claim's temporary credentials.

    ``task`` is the task definition (a dict, as the queue sent it),
    ``credentials`` the run's temporary credentials (their repr shows only
    the client id). Each method is one or a few HTTP requests, as a real
    worker sends them.

    Example:
        >>> # run = worker.claim_task(task_id)
        >>> # run.upload("public/build/app.tar.gz", data); run.log("done\\n"); run.complete()
    """

    def __init__(self, worker: Worker, claim: Mapping[str, Any]) -> None:
        self.worker = worker
        self.task: dict[str, Any] = dict(claim["task"])
        self.status: dict[str, Any] = dict(claim["status"])
        self.task_id: str = self.status["taskId"]
        self.run_id: int = int(claim["runId"])
        self.taken_until: str = claim["takenUntil"]
        self._use(claim["credentials"])

    def _use(self, raw: Mapping[str, Any]) -> None:
        self.credentials = Credentials(
            raw["clientId"], raw["accessToken"], raw.get("certificate") or None
        )
        self.cluster = self.worker.local.connect(
            self.credentials, client=self.worker.cluster.transport.client
        )

    def __repr__(self) -> str:
        return f"<ClaimedRun taskId={self.task_id!r} runId={self.run_id}>"

    @property
    def transport(self) -> Transport:
        """The transport signed with the run's credentials.

        Example:
            >>> # run.transport.request("queue", "status", taskId=run.task_id)
        """
        return self.cluster.transport

    def _queue(self, entry: str, body: Any = None, name: str | None = None) -> Any:
        params: dict[str, str | int] = {"taskId": self.task_id, "runId": self.run_id}
        if name is not None:
            params["name"] = name
        call = Call(endpoint("queue", entry), params, {}, body)
        return self.transport.run(self.transport.call(call))

    def _expires(self, expires: datetime | str | None) -> str:
        if expires is None:
            return str(self.task["expires"])
        return to_json_date(expires) if isinstance(expires, datetime) else expires

    def _create(self, name: str, body: dict[str, Any]) -> Any:
        return self._queue("createArtifact", body, name=name)

    def _put(self, url: str, headers: Mapping[str, str], body: bytes | _FileChunks) -> None:
        t = self.transport
        request = httpx.Request("PUT", url, headers=dict(headers), content=body)
        response = t.run(t.exchange(request, f"PUT artifact data of {self!r}", auth=None))
        t.check(response, f"PUT artifact data of {self!r}")

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
        """Create artifact ``name`` holding ``data`` (bytes, text as UTF-8,
        or an ``os.PathLike`` file streamed from disk).

        ``storage_type="object"``: ``queue.createArtifact``, then
        ``object.createUpload`` (putUrl) with the upload credentials the
        queue returned, a PUT of the bytes, ``object.finishUpload`` with the
        sha256/sha512 of the content and ``queue.finishArtifact``.
        ``storage_type="s3"``: ``createArtifact`` and a PUT to its
        ``putUrl``. With ``gzip`` the bytes are stored gzipped and served
        with ``Content-Encoding: gzip``. ``content_type`` defaults to
        ``text/plain; charset=utf-8`` for text, else
        ``application/octet-stream``; ``expires`` to the task's.

        Example:
            >>> # run.upload("public/build/app.tar.gz", Path("dist/app.tar.gz"))
        """
        if storage_type not in ("object", "s3"):
            raise ValueError(f"storage_type must be 'object' or 's3', not {storage_type!r}")
        ctype = content_type or _default_content_type(data)
        payload = _Payload(data, gzip)
        encoding = {"Content-Encoding": "gzip"} if gzip else {}
        created = self._create(
            name,
            {
                "storageType": storage_type,
                "expires": self._expires(expires),
                "contentType": ctype,
                "contentLength": payload.size,
            },
        )
        if storage_type == "s3":
            headers = {"Content-Type": ctype, "Content-Length": str(payload.size), **encoding}
            self._put(created["putUrl"], headers, payload.body)
            return
        self._upload_object(created, ctype, payload, encoding)
        self._queue("finishArtifact", {"uploadId": created["uploadId"]}, name=name)

    def _upload_object(
        self, created: Mapping[str, Any], ctype: str, payload: _Payload, extra: dict[str, str]
    ) -> None:
        raw = created["credentials"]
        t = self.transport
        upload_auth = t.auth_for(
            Credentials(raw["clientId"], raw["accessToken"], raw.get("certificate") or None)
        )
        ids = {"projectId": created["projectId"], "uploadId": created["uploadId"]}
        hashes = {"sha256": payload.sha256, "sha512": payload.sha512}
        start = Call.of(
            "object",
            "createUpload",
            body={
                **ids,
                "expires": created["expires"],
                "proposedUploadMethods": {
                    "putUrl": {"contentType": ctype, "contentLength": payload.size}
                },
            },
            name=created["name"],
        )
        method = t.run(t.call(start, auth=upload_auth))["uploadMethod"]["putUrl"]
        self._put(method["url"], {**method["headers"], **extra}, payload.body)
        finish = Call.of(
            "object", "finishUpload", body={**ids, "hashes": hashes}, name=created["name"]
        )
        t.run(t.call(finish, auth=upload_auth))

    def reference(
        self, name: str, url: str, content_type: str = "application/octet-stream"
    ) -> None:
        """Create a ``reference`` artifact: reading it redirects to ``url``.

        Example:
            >>> # run.reference("public/docs/index.html", "https://example.com/", "text/html")
        """
        body = {"storageType": "reference", "expires": self._expires(None), "url": url}
        self._create(name, {**body, "contentType": content_type})

    def link(self, name: str, target: str, content_type: str | None = None) -> None:
        """Create a ``link`` artifact: reading ``name`` reads ``target`` (an
        artifact of the same run).

        Example:
            >>> # run.link("public/build/latest.tar.gz", "public/build/app-1.2.tar.gz")
        """
        body: dict[str, Any] = {"storageType": "link", "expires": self._expires(None)}
        if content_type is not None:
            body["contentType"] = content_type
        self._create(name, {**body, "artifact": target})

    def error(self, name: str, reason: str, message: str) -> None:
        """Create an ``error`` artifact: reading it fails with ``reason``
        (``file-missing-on-worker``, …) and ``message``.

        Example:
            >>> # run.error("public/screenshot.png", "file-missing-on-worker", "no screenshot")
        """
        body = {"storageType": "error", "expires": self._expires(None), "reason": reason}
        self._create(name, {**body, "message": message})

    def log(self, text: str, *, storage_type: str = "s3") -> None:
        """Upload the task log as generic-worker does at the end: gzipped
        ``text/plain; charset=utf-8`` text as :data:`BACKING_LOG`, then
        :data:`LIVE_LOG` as a link to it.

        Example:
            >>> # run.log("hello\\n[taskcluster] exit code 0\\n")
        """
        self.upload(BACKING_LOG, text, content_type=_LOG_TYPE, storage_type=storage_type, gzip=True)
        self.link(LIVE_LOG, BACKING_LOG, _LOG_TYPE)

    # the claim

    def reclaim(self) -> None:
        """Extend the claim (``queue.reclaimTask``) and switch to the fresh
        credentials it returns.

        Example:
            >>> # run.reclaim()
        """
        answer = self._queue("reclaimTask")
        self.taken_until = answer["takenUntil"]
        self.status = answer["status"]
        self._use(answer["credentials"])

    # resolution

    def complete(self) -> dict[str, Any]:
        """Resolve the run as ``completed``; returns the task status JSON.

        Example:
            >>> # run.complete()["status"]["state"]  -> 'completed'
        """
        return self._resolve("reportCompleted")

    def fail(self) -> dict[str, Any]:
        """Resolve the run as ``failed``; returns the task status JSON.

        Example:
            >>> # run.fail()
        """
        return self._resolve("reportFailed")

    def exception(self, reason: str) -> dict[str, Any]:
        """Resolve the run as ``exception`` with ``reason`` (``worker-shutdown``
        and ``intermittent-task`` make the queue retry the task).

        Example:
            >>> # run.exception("malformed-payload")
        """
        return self._resolve("reportException", {"reason": reason})

    def _resolve(self, entry: str, body: Any = None) -> dict[str, Any]:
        answer: dict[str, Any] = self._queue(entry, body)
        self.status = answer["status"]
        return answer


class Worker(Closing):
    """A worker of task queue ``task_queue_id`` on a local cluster.

    It registers its own client with the scopes a worker has
    (``queue:claim-work:<taskQueueId>``,
    ``queue:worker-id:<workerGroup>/<workerId>``, and ``queue:status:*`` to
    check a task before claiming it) and talks HTTP with tcmodel's
    transport. Close it (or use it as a context manager) to close its HTTP
    client.

    Example:
        >>> # with Worker(lc, "proj/ci") as worker:
        >>> #     worker.run(task_id, log="hello\\n", artifacts={"public/a.txt": "a"})
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
        #: Runs claimed on the way to a :meth:`claim_task`, handed out first
        #: by :meth:`claim`.
        self.held: list[ClaimedRun] = []

    def __repr__(self) -> str:
        return (
            f"<Worker {self.task_queue_id!r} workerGroup={self.worker_group!r} "
            f"workerId={self.worker_id!r}>"
        )

    def _claim_work(self, count: int) -> list[ClaimedRun]:
        body = {"workerGroup": self.worker_group, "workerId": self.worker_id, "tasks": count}
        answer = self.cluster.transport.request(
            "queue", "claimWork", body=body, taskQueueId=self.task_queue_id
        )
        return [ClaimedRun(self, claim) for claim in answer["tasks"]]

    def claim(self, n: int = 1) -> list[ClaimedRun]:
        """Claim up to ``n`` pending runs (``queue.claimWork``, at most 32
        per request); an empty list when nothing is pending.

        Example:
            >>> # for run in worker.claim(8): run.complete()
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        runs, self.held = self.held[:n], self.held[n:]
        while len(runs) < n:
            asked = min(n - len(runs), _MAX_CLAIM)
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
            >>> # run = worker.claim_task(task.task_id)
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
            >>> # worker.run(task_id, outcome="failed", log="boom\\n")
        """
        if outcome not in ("completed", "failed", *_EXCEPTION_REASONS):
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
            >>> # worker.close()
        """
        self.cluster.close()
