"""The state machine of the emulated queue, shared by its handler modules.

:class:`QueueBase` holds every task, task group and task queue, and knows
how runs move: scheduling, claiming, resolving (with automatic retries),
cancelling, dependency resolution, and what time makes due (deadlines,
claim expiry, expiry of tasks, artifacts and groups) through a heap of
timers that :meth:`QueueBase.tick` pops. The HTTP handlers live in the
mixins of :mod:`~tcmodel.testing.queue_tasks`,
:mod:`~tcmodel.testing.queue_worker` and
:mod:`~tcmodel.testing.queue_artifacts`.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> q = ClusterState().queue
    >>> q.tasks, q.groups
    ({}, {})
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import secrets
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tcmodel.testing._common import Client
from tcmodel.testing._core import ApiError, Request, Service, iso
from tcmodel.testing.queue_model import (
    PRIORITIES,
    Run,
    TaskGroup,
    TaskQueue,
    TaskRecord,
    not_found,
)

if TYPE_CHECKING:
    from tcmodel.credentials import Credentials
    from tcmodel.testing.pulse import PulsePublisher
    from tcmodel.testing.state import ClusterState

__all__ = [
    "ARTIFACT_EXPIRY_DELAY",
    "ISSUER_CLIENT_ID",
    "TASK_QUEUE_LIFETIME",
    "QueueBase",
    "object_name",
    "s3_key",
]

#: The client that signs the temporary credentials the queue hands out.
ISSUER_CLIENT_ID = "static/taskcluster/queue"
#: Expired artifacts are deleted this long after ``expires`` (the real queue
#: deletes them in a periodic job); until then reads answer 410.
ARTIFACT_EXPIRY_DELAY = 3600.0
#: A task queue expires this long after it was last seen.
TASK_QUEUE_LIFETIME = 5 * 86400.0

# A timer: (due, sequence, kind, taskId or other id, runId, artifact name).
_Timer = tuple[float, int, str, str, int, str]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class QueueBase(Service):
    """State and state machine of the emulated queue.

    ``tasks`` maps taskId → :class:`TaskRecord`, ``groups`` taskGroupId →
    :class:`TaskGroup`, ``task_queues`` taskQueueId → :class:`TaskQueue`,
    and ``dependents`` taskId → the sorted taskIds that depend on it.

    Example:
        >>> from tcmodel.testing.state import ClusterState
        >>> ClusterState().queue.name
        'queue'
    """

    name = "queue"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self.tasks: dict[str, TaskRecord] = {}
        self.groups: dict[str, TaskGroup] = {}
        self.task_queues: dict[str, TaskQueue] = {}
        self.dependents: dict[str, list[str]] = {}
        #: Seconds after ``expires`` at which expired artifacts are deleted.
        self.artifact_expiry_delay = ARTIFACT_EXPIRY_DELAY
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._issuer_token = secrets.token_urlsafe(33)
        self._work = threading.Condition(cluster.lock)
        #: Publishes the queue's Pulse messages when the cluster has a
        #: ``pulse_url`` (set by ``LocalCluster.start``); ``None`` otherwise.
        self.pulse: PulsePublisher | None = None

    # -- small helpers ---------------------------------------------------------

    def _now(self, req: Request | None = None) -> float:
        if req is not None and req.now:
            return req.now
        return self.cluster.clock.now()

    def _task(self, task_id: str, message: str = "") -> TaskRecord:
        task = self.tasks.get(task_id)
        if task is None:
            raise not_found(
                message or f"No task has taskId `{task_id}`: it was never created, or has expired."
            )
        return task

    def _run(self, task: TaskRecord, run_id: int) -> Run:
        if run_id >= len(task.runs):
            raise not_found(f"Run {run_id} not found on task `{task.task_id}`.")
        return task.runs[run_id]

    def _group(self, task_group_id: str) -> TaskGroup:
        group = self.groups.get(task_group_id)
        if group is None:
            raise not_found(f"There is no task group `{task_group_id}` (or it has expired).")
        return group

    def _timer(self, due: float, kind: str, key: str, run_id: int = 0, name: str = "") -> None:
        heapq.heappush(self._timers, (due, next(self._seq), kind, key, run_id, name))

    @staticmethod
    def _conflict(message: str) -> ApiError:
        return ApiError(409, "RequestConflict", message)

    def _announce(
        self,
        kind: str,
        task: TaskRecord | None = None,
        run: Run | None = None,
        *,
        group: TaskGroup | None = None,
        **extra: Any,
    ) -> None:
        """Publish the Pulse message ``kind`` about ``task`` (``task-group-*``:
        about ``group``, or the task's; ``task-group-resolved`` only when no
        task of it is unresolved); nothing without a publisher."""
        if self.pulse is None:
            return
        from tcmodel.testing.pulse import group_message, task_message

        if not kind.startswith("task-group-"):
            if task is not None:
                self.pulse.publish(task_message(kind, task, run, **extra))
            return
        if group is None and task is not None:
            group = self.groups.get(task.definition["taskGroupId"])
        if group is None or (
            kind == "task-group-resolved"
            and not all(t is None or t.resolved for t in map(self.tasks.get, group.members))
        ):
            return
        self.pulse.publish(group_message(kind, group, **extra))

    # -- temporary credentials ---------------------------------------------------

    def _issuer(self) -> Credentials:
        from tcmodel.credentials import Credentials

        client = self.cluster.clients.get(ISSUER_CLIENT_ID)
        if client is None or client.access_token != self._issuer_token:
            self.cluster.clients[ISSUER_CLIENT_ID] = Client(
                ISSUER_CLIENT_ID, self._issuer_token, ("*",)
            )
        return Credentials(ISSUER_CLIENT_ID, self._issuer_token)

    def temporary_credentials(
        self, name: str, scopes: list[str], start: float, expiry: float
    ) -> dict[str, str]:
        """Named temporary credentials signed by the queue's own client, in
        the wire form ``{clientId, accessToken, certificate}`` (the
        certificate a JSON string).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> q = ClusterState().queue
            >>> c = q.temporary_credentials("task-client/x", ["a:b"], 0.0, 60.0)
            >>> c["clientId"], sorted(c)
            ('task-client/x', ['accessToken', 'certificate', 'clientId'])
        """
        from tcmodel.credentials import create_temporary_credentials

        expiry = max(expiry, start + 1)
        creds = create_temporary_credentials(
            self._issuer(), scopes, start=_dt(start), expiry=_dt(expiry), name=name
        )
        return {
            "clientId": creds.client_id,
            "accessToken": creds.access_token,
            "certificate": creds.certificate or "",
        }

    def _task_credentials(self, task: TaskRecord, run: Run, now: float) -> dict[str, str]:
        assert run.taken_until is not None
        tid, rid = task.task_id, run.run_id
        name = (
            f"task-client/{tid}/{rid}/on/{run.worker_group}/{run.worker_id}"
            f"/until/{int(run.taken_until)}"
        )
        scopes = [
            f"queue:reclaim-task:{tid}/{rid}",
            f"queue:resolve-task:{tid}/{rid}",
            f"queue:create-artifact:{tid}/{rid}",
            *task.definition["scopes"],
        ]
        return self.temporary_credentials(name, scopes, now, run.taken_until)

    # -- task queues -------------------------------------------------------------

    def _seen(self, task_queue_id: str, now: float, *, active: bool = False) -> TaskQueue:
        """Record that a task queue was used; ``active`` bumps lastDateActive."""
        tq = self.task_queues.get(task_queue_id)
        if tq is None:
            tq = TaskQueue(task_queue_id, now + TASK_QUEUE_LIFETIME, now)
            self.task_queues[task_queue_id] = tq
            self._timer(tq.expires, "tqueue", task_queue_id)
        tq.expires = max(tq.expires, now + TASK_QUEUE_LIFETIME)
        if active:
            tq.last_date_active = now
            tq.registered = True
        return tq

    def _enqueue(self, task: TaskRecord, run: Run, now: float) -> None:
        tq = self._seen(task.task_queue_id, now)
        order = (PRIORITIES.index(task.priority), next(self._seq))
        tq.pending[task.task_id] = (run.run_id, now, order)
        heapq.heappush(tq.heap, (*order, task.task_id, run.run_id))
        with contextlib.suppress(RuntimeError):  # lock not held: direct use, no waiter
            self._work.notify_all()

    def _dequeue(self, task: TaskRecord) -> None:
        tq = self.task_queues.get(task.task_queue_id)
        if tq is not None:
            tq.pending.pop(task.task_id, None)
            tq.claimed.pop(task.task_id, None)

    def _reprioritize(self, task: TaskRecord, priority: str, now: float) -> None:
        task.definition["priority"] = priority
        if task.state == "pending":
            self._enqueue(task, task.runs[-1], now)

    def _pop_pending(self, tq: TaskQueue, now: float) -> tuple[TaskRecord, Run] | None:
        """The next claimable pending run of ``tq`` (priority, then FIFO)."""
        while tq.heap:
            rank, seq, task_id, run_id = heapq.heappop(tq.heap)
            entry = tq.pending.get(task_id)
            if entry is None or entry[0] != run_id or entry[2] != (rank, seq):
                continue  # stale: claimed, resolved or re-prioritised since
            task = self.tasks.get(task_id)
            if task is None or task.state != "pending" or task.runs[-1].run_id != run_id:
                tq.pending.pop(task_id, None)
                continue
            if task.deadline < now:
                continue  # the deadline resolver will take it
            return task, task.runs[-1]
        return None

    # -- runs --------------------------------------------------------------------

    def _add_run(
        self, task: TaskRecord, reason: str, now: float, *, ended: Run | None = None
    ) -> Run:
        run = Run(len(task.runs), "pending", reason, scheduled=now)
        task.runs.append(run)
        self._enqueue(task, run, now)
        if ended is not None:  # a retry: the run's end is announced with the new status
            self._announce(f"task-{ended.state}", task, ended)
        self._announce("task-pending", task, run)
        return run

    def _schedule(self, task: TaskRecord, now: float, reason: str = "scheduled") -> bool:
        """Add run 0 if the task has no run yet; whether it did."""
        if task.runs:
            return False
        self._add_run(task, reason, now)
        return True

    def _take(self, task: TaskRecord, run: Run, now: float) -> TaskQueue:
        """(Re)start the claim of a running run: takenUntil = now + the claim
        timeout, rounded up to a second."""
        run.taken_until = float(math.ceil(now + self.cluster.settings.claim_timeout))
        self._timer(run.taken_until, "claim", task.task_id, run.run_id)
        return self._seen(task.task_queue_id, now, active=True)

    def _claim(self, task: TaskRecord, run: Run, group: str, worker: str, now: float) -> None:
        run.state = "running"
        run.worker_group, run.worker_id = group, worker
        run.started = now
        tq = self._take(task, run, now)
        tq.pending.pop(task.task_id, None)
        tq.claimed[task.task_id] = (run.run_id, now)
        self._announce("task-running", task, run)

    def _claim_json(
        self, task: TaskRecord, run: Run, now: float, *, with_task: bool = True
    ) -> dict[str, Any]:
        """A claim as claimWork/claimTask answer it (reclaimTask: no ``task``)."""
        assert run.taken_until is not None
        out = {
            "status": task.status_json(),
            "runId": run.run_id,
            "workerGroup": run.worker_group,
            "workerId": run.worker_id,
            "takenUntil": iso(run.taken_until),
            "task": task.definition,
            "credentials": self._task_credentials(task, run, now),
        }
        if not with_task:
            del out["task"]
        return out

    def _resolve(
        self,
        task: TaskRecord,
        run: Run,
        state: str,
        reason: str,
        now: float,
        *,
        retry: str | None = None,
    ) -> None:
        """End ``run`` (the last, running one); add a ``retry`` run while
        retries are left, else let the task's dependents know."""
        run.state, run.reason_resolved, run.resolved = state, reason, now
        self._dequeue(task)
        if retry is not None and task.retries_left > 0:
            task.retries_left -= 1
            self._add_run(task, retry, now, ended=run)
        else:
            self._announce(f"task-{state}", task, run)
            self._task_resolved(task, state, now)

    def _cancel(self, task: TaskRecord, reason: str, now: float) -> bool:
        """Resolve an unresolved task ``exception``/``reason``; whether it did."""
        if not task.runs:
            task.runs.append(Run(0, "exception", "exception", now, reason, resolved=now))
        elif task.state in ("pending", "running"):
            run = task.runs[-1]
            run.state, run.reason_resolved, run.resolved = "exception", reason, now
            self._dequeue(task)
        else:
            return False
        self._announce("task-exception", task, task.runs[-1])
        self._task_resolved(task, "exception", now)
        return True

    def _task_resolved(self, task: TaskRecord, outcome: str, now: float) -> None:
        """Satisfy the dependencies on ``task`` and schedule what they unblock."""
        for dep_id in self.dependents.get(task.task_id, ()):
            dep = self.tasks.get(dep_id)
            if dep is None or task.task_id not in dep.blockers:
                continue
            if outcome != "completed" and dep.definition["requires"] != "all-resolved":
                continue
            dep.blockers.discard(task.task_id)
            if not dep.blockers and dep.deadline >= now:
                self._schedule(dep, now)
        self._announce("task-group-resolved", task)

    def _satisfied_by(self, task: TaskRecord, dependency: TaskRecord) -> bool:
        state = dependency.state
        if state == "completed":
            return True
        return task.definition["requires"] == "all-resolved" and state in ("failed", "exception")

    # -- time ----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Apply deadlines, claim expiry and expiry of everything due by ``now``.

        Each due timer is applied at its own due time, in order, so a long
        :meth:`~tcmodel.testing.LocalCluster.advance` plays out as it would
        have in real time.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> q = ClusterState().queue
            >>> q.tick(q.cluster.clock.now() + 86400)
            >>> q.tasks
            {}
        """
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, kind, key, run_id, name = heapq.heappop(timers)
            getattr(self, f"_due_{kind}")(due, key, run_id, name)

    def _due_deadline(self, due: float, task_id: str, _run: int, _name: str) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.deadline + self.cluster.settings.deadline_delay <= due:
            self._cancel(task, "deadline-exceeded", due)

    def _due_claim(self, due: float, task_id: str, run_id: int, _name: str) -> None:
        task = self.tasks.get(task_id)
        if task is None or len(task.runs) != run_id + 1 or task.deadline < due:
            return  # gone, superseded, or the deadline resolver's business
        run = task.runs[run_id]
        if run.state == "running" and run.taken_until == due:
            self._resolve(task, run, "exception", "claim-expired", due, retry="retry")

    def _due_task(self, due: float, task_id: str, _run: int, _name: str) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.expires <= due:
            self._delete_task(task)

    def _due_artifact(self, due: float, task_id: str, run_id: int, name: str) -> None:
        task = self.tasks.get(task_id)
        artifact = task.artifact(run_id, name) if task is not None else None
        if task is None or artifact is None:
            return
        if artifact.expires + self.artifact_expiry_delay > due:  # extended since
            self._timer(
                artifact.expires + self.artifact_expiry_delay, "artifact", task_id, run_id, name
            )
            return
        task.drop_artifact(run_id, name)
        self._delete_artifact_data(task, run_id, name, artifact.storage_type)

    def _due_group(self, due: float, group_id: str, _run: int, _name: str) -> None:
        group = self.groups.get(group_id)
        if group is None:
            return
        if group.expires > due or group.members:
            self._timer(max(group.expires, due + 3600), "group", group_id)
        else:
            del self.groups[group_id]

    def _due_tqueue(self, due: float, tq_id: str, _run: int, _name: str) -> None:
        tq = self.task_queues.get(tq_id)
        if tq is None:
            return
        if tq.expires > due or tq.pending or tq.claimed:
            self._timer(max(tq.expires, due + 86400), "tqueue", tq_id)
        else:
            del self.task_queues[tq_id]

    # -- deletion ----------------------------------------------------------------

    def _delete_artifact_data(self, task: TaskRecord, run_id: int, name: str, kind: str) -> None:
        if kind == "s3":
            self.cluster.blobs.delete(s3_key(task.task_id, run_id, name))
        elif kind == "object":
            self.cluster.objects.delete_object(object_name(task.task_id, run_id, name))

    def _delete_task(self, task: TaskRecord) -> None:
        tid = task.task_id
        for run_id, names in list(task.artifact_names.items()):
            for name in list(names):
                artifact = task.drop_artifact(run_id, name)
                if artifact is not None:
                    self._delete_artifact_data(task, run_id, name, artifact.storage_type)
        self._dequeue(task)
        group = self.groups.get(task.definition["taskGroupId"])
        if group is not None:
            _sorted_remove(group.members, tid)
        for dep in task.definition["dependencies"]:
            if dep in self.dependents:
                _sorted_remove(self.dependents[dep], tid)
        self.tasks.pop(tid, None)


def _sorted_remove(items: list[str], value: str) -> None:
    """Remove ``value`` from ``items`` (kept in creation order) if present."""
    with contextlib.suppress(ValueError):
        items.remove(value)


def s3_key(task_id: str, run_id: int, name: str) -> str:
    """The blob-store key of an ``s3`` artifact.

    Example:
        >>> s3_key("Dx4tPEtaRpeIeWpbTD0uHw", 0, "public/x")
        'artifacts/Dx4tPEtaRpeIeWpbTD0uHw/0/public/x'
    """
    return f"artifacts/{task_id}/{run_id}/{name}"


def object_name(task_id: str, run_id: int, name: str) -> str:
    """The object-service name of an ``object`` artifact.

    Example:
        >>> object_name("Dx4tPEtaRpeIeWpbTD0uHw", 1, "public/x")
        't/Dx4tPEtaRpeIeWpbTD0uHw/1/public/x'
    """
    return f"t/{task_id}/{run_id}/{name}"
