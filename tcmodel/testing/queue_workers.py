"""Queue handlers for provisioners, worker types and workers.

The deprecated-but-used views of the worker side of the queue
(listProvisioners, getProvisioner, listWorkerTypes, getWorkerType,
listWorkers, getWorker) and the experimental quarantineWorker and
declareWorker, as a mixin of :class:`~tcmodel.testing.queue.QueueService`.
Provisioners and worker types are the task queues seen so far, split at
their ``/``; a worker is recorded by each ``claimWork`` it sends (and by
``declareWorker``), with the runs it claimed. A quarantined worker's
``claimWork`` gets no tasks until the quarantine ends.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> q = ClusterState().queue
    >>> _ = q._claim_some("proj/ci", "wg", "w1", 1)   # what claimWork does
    >>> [w.worker_id for w in q.workers.values()]
    ['w1']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.testing._core import Request, handles, iso, parse_iso
from tcmodel.testing.queue_model import Run, TaskRecord, not_found, paginate, with_token
from tcmodel.testing.queue_validate import date_time, obj, string, validate_body
from tcmodel.testing.queue_worker import WorkerHandlers

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = ["WORKER_LIFETIME", "ProvisionerHandlers", "WorkerRecord"]

#: A worker is forgotten this long after it was last seen (unless declared).
WORKER_LIFETIME = 86400.0
#: How many of its latest runs a worker remembers.
_RECENT_TASKS = 20

_QUARANTINE = obj(
    {"quarantineUntil": date_time(), "quarantineInfo": string(max_len=4000)},
    required=("quarantineUntil",),
)
_DECLARE = obj({"expires": date_time()}, required=("expires",))

WorkerKey = tuple[str, str, str]  # (taskQueueId, workerGroup, workerId)


@attrs.define(eq=False)
class WorkerRecord:
    """A worker the queue has seen, and how it looks on the wire.

    Times are cluster-clock seconds; ``recent_tasks`` holds (taskId, runId)
    pairs, oldest first.

    Example:
        >>> w = WorkerRecord("p/w", "wg", "w1", first_claim=0.0, last_date_active=0.0,
        ...                  expires=86400.0, quarantine_until=0.0)
        >>> w.quarantined(1.0), w.to_json()["provisionerId"]
        (False, 'p')
    """

    task_queue_id: str
    worker_group: str
    worker_id: str
    first_claim: float
    last_date_active: float
    expires: float
    quarantine_until: float
    recent_tasks: list[tuple[str, int]] = attrs.field(factory=list)

    def quarantined(self, now: float) -> bool:
        """Whether the worker is in quarantine at ``now``.

        Example:
            >>> WorkerRecord("p/w", "g", "i", 0.0, 0.0, 9.0, quarantine_until=5.0).quarantined(1.0)
            True
        """
        return self.quarantine_until > now

    def to_json(self) -> dict[str, Any]:
        """The body of ``getWorker`` (and of quarantineWorker, declareWorker).

        Example:
            >>> w = WorkerRecord("p/w", "g", "i", 0.0, 0.0, 9.0, 0.0)
            >>> w.recent_tasks.append(("Dx4tPEtaRpeIeWpbTD0uHw", 0))
            >>> w.to_json()["recentTasks"]
            [{'runId': 0, 'taskId': 'Dx4tPEtaRpeIeWpbTD0uHw'}]
        """
        prov, _, wtype = self.task_queue_id.partition("/")
        return {
            "taskQueueId": self.task_queue_id,
            "workerGroup": self.worker_group,
            "workerId": self.worker_id,
            "quarantineUntil": iso(self.quarantine_until),
            "expires": iso(self.expires),
            "firstClaim": iso(self.first_claim),
            "recentTasks": [{"runId": r, "taskId": t} for t, r in self.recent_tasks],
            "lastDateActive": iso(self.last_date_active),
            "provisionerId": prov,
            "workerType": wtype,
        }

    def summary(self, now: float) -> dict[str, Any]:
        """The entry of ``listWorkers``: ``latestTask`` once it claimed a
        run, ``quarantineUntil`` only while quarantined.

        Example:
            >>> WorkerRecord("p/w", "g", "i", 0.0, 0.0, 9.0, 5.0).summary(1.0)["quarantineUntil"]
            '1970-01-01T00:00:05.000Z'
        """
        out: dict[str, Any] = {
            "workerGroup": self.worker_group,
            "workerId": self.worker_id,
            "firstClaim": iso(self.first_claim),
            "lastDateActive": iso(self.last_date_active),
        }
        if self.recent_tasks:
            task_id, run_id = self.recent_tasks[-1]
            out["latestTask"] = {"runId": run_id, "taskId": task_id}
        if self.quarantined(now):
            out["quarantineUntil"] = iso(self.quarantine_until)
        return out


class ProvisionerHandlers(WorkerHandlers):
    """Provisioners, worker types and workers, on top of the worker calls.

    ``workers`` maps (taskQueueId, workerGroup, workerId) to
    :class:`WorkerRecord`.

    Example:
        >>> "quarantineWorker" in ProvisionerHandlers.handler_names()
        True
    """

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self.workers: dict[WorkerKey, WorkerRecord] = {}

    # -- recording workers -----------------------------------------------------

    def _worker_seen(self, tq_id: str, group: str, worker: str, now: float) -> WorkerRecord:
        key = (tq_id, group, worker)
        rec = self.workers.get(key)
        if rec is None:
            rec = WorkerRecord(tq_id, group, worker, now, now, now + WORKER_LIFETIME, now)
            self.workers[key] = rec
        rec.last_date_active = now
        rec.expires = max(rec.expires, now + WORKER_LIFETIME)
        return rec

    def _claim_some(self, tq_id: str, group: str, worker: str, count: int) -> list[Any]:
        """claimWork's claiming, which first records the worker; a
        quarantined worker gets nothing."""
        now = self._now()
        if self._worker_seen(tq_id, group, worker, now).quarantined(now):
            self._seen(tq_id, now, active=True)
            return []
        return super()._claim_some(tq_id, group, worker, count)

    def _claim(self, task: TaskRecord, run: Run, group: str, worker: str, now: float) -> None:
        super()._claim(task, run, group, worker, now)
        rec = self._worker_seen(task.task_queue_id, group, worker, now)
        rec.recent_tasks = [*rec.recent_tasks, (task.task_id, run.run_id)][-_RECENT_TASKS:]

    def tick(self, now: float) -> None:
        """Forget workers past their expiry, then let the queue do its due work.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> _ = st.queue._claim_some("proj/ci", "wg", "w1", 1)
            >>> st.queue.tick(st.clock.now() + 2 * WORKER_LIFETIME)
            >>> st.queue.workers
            {}
        """
        gone = [k for k, w in self.workers.items() if w.expires <= now]
        for key in gone:
            del self.workers[key]
        super().tick(now)

    # -- provisioners and worker types ---------------------------------------------

    def _worker_types(self, provisioner_id: str | None = None) -> list[dict[str, Any]]:
        """The live task queues (of one provisioner) as worker types, by id."""
        now = self._now()
        out = []
        for tq_id in sorted(self.task_queues):
            tq = self.task_queues[tq_id]
            prov, _, wtype = tq_id.partition("/")
            if tq.registered and tq.expires > now and provisioner_id in (None, prov):
                out.append({**tq.to_json(), "provisionerId": prov, "workerType": wtype})
        return out

    def _provisioners(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for wt in self._worker_types():
            prov = out.setdefault(wt["provisionerId"], dict(wt))
            prov["expires"] = max(prov["expires"], wt["expires"])  # ISO strings sort by time
            prov["lastDateActive"] = max(prov["lastDateActive"], wt["lastDateActive"])
        keys = ("provisionerId", "expires", "lastDateActive", "description", "stability")
        return {p: {k: v[k] for k in keys} for p, v in out.items()}

    @handles("listProvisioners")
    def _api_list_provisioners(self, req: Request) -> Any:
        """``GET /provisioners``: the provisioners of the live task queues."""
        rows = list(self._provisioners().values())
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        return with_token({"provisioners": page}, token)

    @handles("getProvisioner")
    def _api_get_provisioner(self, req: Request) -> Any:
        """``GET /provisioners/<provisionerId>``: one provisioner."""
        prov = req.params["provisionerId"]
        found = self._provisioners().get(prov)
        if found is None:
            raise not_found(f"No provisioner `{prov}`: no worker has claimed from its queues.")
        return found

    @handles("listWorkerTypes")
    def _api_list_worker_types(self, req: Request) -> Any:
        """``GET /provisioners/<provisionerId>/worker-types``: its task queues."""
        rows = self._worker_types(req.params["provisionerId"])
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        return with_token({"workerTypes": page}, token)

    @handles("getWorkerType")
    def _api_get_worker_type(self, req: Request) -> Any:
        """``GET /provisioners/<provisionerId>/worker-types/<workerType>``."""
        prov, wtype = req.params["provisionerId"], req.params["workerType"]
        for wt in self._worker_types(prov):
            if wt["workerType"] == wtype:
                return wt
        raise not_found(
            f"No worker type `{wtype}` of provisioner `{prov}`: no worker has claimed "
            "from that queue."
        )

    # -- workers -------------------------------------------------------------------

    @staticmethod
    def _worker_key(req: Request) -> WorkerKey:
        p = req.params
        return (f"{p['provisionerId']}/{p['workerType']}", p["workerGroup"], p["workerId"])

    def _worker(self, req: Request, suffix: str = " Has it ever claimed work?") -> WorkerRecord:
        rec = self.workers.get(self._worker_key(req))
        if rec is None:
            p = req.params
            raise not_found(
                f"No worker `{p['workerGroup']}/{p['workerId']}` is known in task queue "
                f"`{p['provisionerId']}/{p['workerType']}`.{suffix}"
            )
        return rec

    @handles("listWorkers")
    def _api_list_workers(self, req: Request) -> Any:
        """``GET .../worker-types/<workerType>/workers``: its workers, by
        group and id; ``quarantined=true``/``false`` filters."""
        now = self._now(req)
        tq_id = f"{req.params['provisionerId']}/{req.params['workerType']}"
        wanted = req.query.get("quarantined")
        rows = [
            w
            for (tq, _, _), w in sorted(self.workers.items())
            if tq == tq_id and wanted in (None, str(w.quarantined(now)).lower())
        ]
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        return with_token({"workers": [w.summary(now) for w in page]}, token)

    @handles("getWorker")
    def _api_get_worker(self, req: Request) -> Any:
        """``GET .../workers/<workerGroup>/<workerId>``: one worker."""
        return self._worker(req).to_json()

    @handles("quarantineWorker")
    def _api_quarantine_worker(self, req: Request) -> Any:
        """``PUT .../workers/<workerGroup>/<workerId>``: quarantine until the
        given time (a past time lifts the quarantine)."""
        validate_body(_QUARANTINE, req.body, "quarantine-worker-request.json")
        rec = self._worker(req, suffix="")
        rec.quarantine_until = parse_iso(req.body["quarantineUntil"])
        return rec.to_json()

    @handles("declareWorker")
    def _api_declare_worker(self, req: Request) -> Any:
        """``PUT .../worker-types/<workerType>/<workerGroup>/<workerId>``:
        declare (or update) a worker; each body property needs its scope."""
        validate_body(_DECLARE, req.body, "update-worker-request.json")
        req.authorize(properties=sorted(req.body))
        now = self._now(req)
        rec = self._worker_seen(*self._worker_key(req), now)
        rec.expires = parse_iso(req.body["expires"])
        return rec.to_json()
