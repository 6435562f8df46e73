"""Queue handlers for workers and task queues.

claimWork (and the deprecated claimTask), reclaimTask, the report* calls
that resolve runs, and the task-queue views (counts, pending and claimed
lists, listTaskQueues, getTaskQueue), as a mixin of
:class:`~tcmodel.testing.queue.QueueService`.

Example:
    >>> "claimWork" in WorkerHandlers.handler_names()
    True
"""

from __future__ import annotations

import copy
import time
from typing import Any

from tcmodel.testing._core import ApiError, Request, handles, iso
from tcmodel.testing.queue_core import QueueBase
from tcmodel.testing.queue_model import (
    Run,
    TaskQueue,
    TaskRecord,
    not_found,
    paginate,
    with_token,
)
from tcmodel.testing.queue_validate import (
    CLAIM_WORK,
    TASK_CLAIM,
    TASK_EXCEPTION,
    validate_body,
)

__all__ = ["WorkerHandlers"]

# reportException reasons that retry the task (with this reasonCreated)
_RETRY_REASONS = {"worker-shutdown": "retry", "intermittent-task": "task-retry"}


def _split(task_queue_id: str) -> dict[str, str]:
    prov, _, wtype = task_queue_id.partition("/")
    return {"provisionerId": prov, "workerType": wtype, "taskQueueId": task_queue_id}


class WorkerHandlers(QueueBase):
    """The worker interface and the task-queue views.

    Example:
        >>> "reportCompleted" in WorkerHandlers.handler_names()
        True
    """

    # -- claiming ------------------------------------------------------------------

    def _claim_some(self, tq_id: str, group: str, worker: str, count: int) -> list[Any]:
        now = self._now()
        tq = self._seen(tq_id, now, active=True)
        claims: list[dict[str, Any]] = []
        while len(claims) < count:
            found = self._pop_pending(tq, now)
            if found is None:
                break
            task, run = found
            self._claim(task, run, group, worker, now)
            claims.append(self._claim_json(task, run, now))
        return claims

    @handles("claimWork")
    def _api_claim_work(self, req: Request) -> Any:
        """``POST /claim-work/<taskQueueId>``: claim up to ``tasks`` pending runs,
        highest priority first, then oldest first."""
        validate_body(CLAIM_WORK, req.body, "claim-work-request.json")
        tq_id, body = req.params["taskQueueId"], req.body
        group, worker = body["workerGroup"], body["workerId"]
        req.authorize(taskQueueId=tq_id, workerGroup=group, workerId=worker)
        claims = self._claim_some(tq_id, group, worker, int(body["tasks"]))
        end = time.monotonic() + self.cluster.settings.claim_work_wait
        while not claims and (left := end - time.monotonic()) > 0:
            self._work.wait(left)  # long poll: releases the cluster lock meanwhile
            self.cluster.tick()
            claims = self._claim_some(tq_id, group, worker, int(body["tasks"]))
        return {"tasks": claims}

    @handles("claimTask")
    def _api_claim_task(self, req: Request) -> Any:
        """``POST /task/<taskId>/runs/<runId>/claim`` (deprecated): claim one run."""
        validate_body(TASK_CLAIM, req.body, "task-claim-request.json")
        task_id, run_id = req.params["taskId"], int(req.params["runId"])
        task = self._task(task_id, f"No task `{task_id}` here: never created, or expired.")
        group, worker = req.body["workerGroup"], req.body["workerId"]
        d = task.definition
        req.authorize(
            provisionerId=d["provisionerId"],
            workerType=d["workerType"],
            workerGroup=group,
            workerId=worker,
        )
        now = self._now(req)
        if task.deadline <= now:
            raise self._conflict(
                f"Task `{task_id}` is past its deadline ({d['deadline']}): it can't be claimed."
            )
        run = self._run(task, run_id)
        latest = run_id == len(task.runs) - 1
        if latest and run.state == "pending":
            self._claim(task, run, group, worker, now)
        elif not (
            latest
            and run.state == "running"
            and (run.worker_group, run.worker_id) == (group, worker)
        ):
            raise self._conflict(f"Run {run_id} is claimed already, by another worker.")
        return self._claim_json(task, run, now)

    @handles("reclaimTask")
    def _api_reclaim_task(self, req: Request) -> Any:
        """``POST /task/<taskId>/runs/<runId>/reclaim``: extend the claim and
        hand out fresh task credentials."""
        task, run = self._task_run(req)
        now = self._now(req)
        if task.deadline <= now:
            raise self._conflict(
                f"Task `{task.task_id}` is past its deadline "
                f"({task.definition['deadline']}): it can't be reclaimed."
            )
        if run.run_id != len(task.runs) - 1 or run.state != "running":
            raise self._not_running(task, run)
        self._take(task, run, now)
        return self._claim_json(task, run, now, with_task=False)

    # -- resolving -------------------------------------------------------------------

    def _task_run(self, req: Request) -> tuple[TaskRecord, Run]:
        task_id = req.params["taskId"]
        task = self._task(task_id, f"No task `{task_id}` here: never created, or expired.")
        return task, self._run(task, int(req.params["runId"]))

    def _not_running(self, task: TaskRecord, run: Run) -> ApiError:
        return self._conflict(
            f"Run {run.run_id} of task `{task.task_id}` is no longer running ({run.state})."
        )

    def _report(self, req: Request, target: str) -> Any:
        task, run = self._task_run(req)
        if run.state == "running":
            self._resolve(task, run, target, target, self._now(req))
            if target == "completed":
                self.cluster.index.on_task_completed(task.task_id, copy.deepcopy(task.definition))
        elif run.state != target:
            raise self._conflict(
                f"Run {run.run_id} of task `{task.task_id}` is {run.state}: it cannot be "
                f"reported {target} now."
            )
        elif run.run_id != len(task.runs) - 1 or run.reason_resolved != target:
            raise self._not_running(task, run)
        return {"status": task.status_json()}

    @handles("reportCompleted")
    def _api_report_completed(self, req: Request) -> Any:
        """``POST .../runs/<runId>/completed``: resolve the run ``completed``."""
        return self._report(req, "completed")

    @handles("reportFailed")
    def _api_report_failed(self, req: Request) -> Any:
        """``POST .../runs/<runId>/failed``: resolve the run ``failed``."""
        return self._report(req, "failed")

    @handles("reportException")
    def _api_report_exception(self, req: Request) -> Any:
        """``POST .../runs/<runId>/exception``: resolve the run ``exception``;
        ``worker-shutdown`` and ``intermittent-task`` retry while retries last."""
        validate_body(TASK_EXCEPTION, req.body, "task-exception-request.json")
        task, run = self._task_run(req)
        reason = req.body["reason"]
        if run.state == "running":
            retry = _RETRY_REASONS.get(reason)
            self._resolve(task, run, "exception", reason, self._now(req), retry=retry)
        stale = len(task.runs) - 1 > run.run_id + 1
        if run.state != "exception" or run.reason_resolved != reason or stale:
            raise self._not_running(task, run)
        return {"status": task.status_json()}

    # -- task queues -------------------------------------------------------------------

    def _live_queue(self, tq_id: str) -> TaskQueue | None:
        tq = self.task_queues.get(tq_id)
        live = tq is not None and tq.registered and tq.expires > self._now()
        return tq if live else None

    @handles("pendingTasks")
    def _api_pending_tasks(self, req: Request) -> Any:
        """``GET /pending/<taskQueueId>`` (deprecated): the pending count."""
        tq = self.task_queues.get(req.params["taskQueueId"])
        pending = len(tq.pending) if tq is not None else 0
        return {**_split(req.params["taskQueueId"]), "pendingTasks": pending}

    @handles("taskQueueCounts")
    def _api_task_queue_counts(self, req: Request) -> Any:
        """``GET /task-queues/<taskQueueId>/counts``: pending and claimed counts."""
        tq = self.task_queues.get(req.params["taskQueueId"])
        return {
            **_split(req.params["taskQueueId"]),
            "pendingTasks": len(tq.pending) if tq is not None else 0,
            "claimedTasks": len(tq.claimed) if tq is not None else 0,
        }

    @handles("listPendingTasks")
    def _api_list_pending_tasks(self, req: Request) -> Any:
        """``GET /task-queues/<taskQueueId>/pending``: pending runs in claim order."""
        tq = self.task_queues.get(req.params["taskQueueId"])
        rows = sorted(tq.pending.items(), key=lambda kv: kv[1][2]) if tq is not None else []
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        tasks = [
            {
                "taskId": task_id,
                "runId": run_id,
                "task": self.tasks[task_id].definition,
                "inserted": iso(inserted),
            }
            for task_id, (run_id, inserted, _) in page
        ]
        return with_token({"tasks": tasks}, token)

    @handles("listClaimedTasks")
    def _api_list_claimed_tasks(self, req: Request) -> Any:
        """``GET /task-queues/<taskQueueId>/claimed``: running runs, oldest claim first."""
        tq = self.task_queues.get(req.params["taskQueueId"])
        rows = list(tq.claimed.items()) if tq is not None else []
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        tasks = []
        for task_id, (run_id, claimed) in page:
            task = self.tasks[task_id]
            run = task.runs[run_id]
            tasks.append(
                {
                    "taskId": task_id,
                    "runId": run_id,
                    "workerGroup": run.worker_group,
                    "workerId": run.worker_id,
                    "claimed": iso(claimed),
                    "task": task.definition,
                }
            )
        return with_token({"tasks": tasks}, token)

    @handles("listTaskQueues")
    def _api_list_task_queues(self, req: Request) -> Any:
        """``GET /task-queues``: every task queue not yet expired, by id."""
        now = self._now(req)
        ids = sorted(t for t, tq in self.task_queues.items() if tq.registered and tq.expires > now)
        page, token = paginate(req.query, ids, self.cluster.settings.max_page_size)
        return with_token({"taskQueues": [self.task_queues[t].to_json() for t in page]}, token)

    @handles("getTaskQueue")
    def _api_get_task_queue(self, req: Request) -> Any:
        """``GET /task-queues/<taskQueueId>``: one task queue."""
        tq_id = req.params["taskQueueId"]
        tq = self._live_queue(tq_id)
        if tq is None:
            raise not_found(
                f"No task queue `{tq_id}`: a queue exists once a worker has claimed from it."
            )
        return tq.to_json()
