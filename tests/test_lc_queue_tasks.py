"""The local cluster's queue: createTask rules, the task state machine,
time (deadlines, claim expiry, expiry) and task groups, over HTTP."""

from __future__ import annotations

import re
from typing import Any

from lc_queue_support import (
    TQ,
    WORKER,
    at,
    claim,
    create,
    expect_error,
    lc,
    queue,
    task_def,
    task_queue,
)

from tcmodel.testing import LocalCluster
from tcmodel.utils import parse_date, slug_id

__all__ = ["lc"]


def status(q: Any, task_id: str) -> dict[str, Any]:
    result: dict[str, Any] = q.status(task_id)["status"]
    return result


# -- createTask -------------------------------------------------------------------


def test_create_task_fills_in_defaults(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = slug_id()
    body = task_def(lc, created="2030-01-01T00:00:00Z")
    body.pop("provisionerId"), body.pop("workerType")
    body["taskQueueId"] = TQ
    body["created"], body["deadline"] = at(lc), at(lc, hours=2)
    answer = q.createTask(task_id, body)["status"]
    assert answer["state"] == "pending" and answer["runs"][0]["reasonCreated"] == "scheduled"
    task = q.task(task_id)
    assert (task["provisionerId"], task["workerType"], task["taskQueueId"]) == ("prov", "wt", TQ)
    assert task["schedulerId"] == "-" and task["projectId"] == "none"
    assert task["taskGroupId"] == task_id and task["priority"] == "lowest"
    assert (task["retries"], task["requires"], task["routes"], task["scopes"]) == (
        5,
        "all-completed",
        [],
        [],
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", task["created"])
    assert task["deadline"] == f"{body['deadline'][:23]}Z"
    deadline = parse_date(task["deadline"])
    assert parse_date(task["expires"]) == deadline.replace(year=deadline.year + 1)
    assert answer["retriesLeft"] == 5 and answer["priority"] == "lowest"


def test_create_task_is_idempotent(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = slug_id()
    body = task_def(lc)
    first = q.createTask(task_id, body)
    assert q.createTask(task_id, body) == first
    # the same dates written differently still match
    again = dict(body, deadline=body["deadline"].replace("Z", "+00:00"))
    assert q.createTask(task_id, again) == first
    changed = dict(body, payload={"command": "other"})
    answer = expect_error(409, "RequestConflict", q.createTask, task_id, changed)
    assert "exists already, with another definition" in answer["message"]


def test_create_task_queue_ids(lc: LocalCluster) -> None:
    q = queue(lc)
    body = task_def(lc, taskQueueId="prov/other")
    answer = expect_error(400, "InputError", q.createTask, slug_id(), body)
    assert "disagree" in answer["message"]
    body = task_def(lc)
    del body["workerType"]
    expect_error(400, "InputError", q.createTask, slug_id(), body)


def test_create_task_checks_dates(lc: LocalCluster) -> None:
    q = queue(lc)
    cases = [
        ({"created": at(lc, minutes=-20)}, "`created` is more than 15 minutes in the past"),
        ({"created": at(lc, minutes=20), "deadline": at(lc, hours=1)}, "in the future"),
        ({"deadline": at(lc, minutes=-1), "created": at(lc, minutes=-2)}, "in the past"),
        ({"deadline": at(lc, days=5, minutes=16)}, "more than 5 days"),
        ({"expires": at(lc, minutes=30)}, "`expires` cannot be before `deadline`"),
    ]
    for fields, message in cases:
        answer = expect_error(400, "InputError", q.createTask, slug_id(), task_def(lc, **fields))
        assert message in answer["message"], (fields, answer["message"])
    q.createTask(slug_id(), task_def(lc, deadline=at(lc, days=5, minutes=14)))


def test_create_task_validates_its_body(lc: LocalCluster) -> None:
    q = queue(lc)
    bad: list[dict[str, Any]] = [
        {"priority": "urgent"},
        {"retries": 50},
        {"unknown": 1},
        {"routes": ["a", "a"]},
        {"schedulerId": "has space"},
        {"metadata": {"name": "x"}},
        {"tags": {"a": 1}},
        {"created": "yesterday"},
    ]
    for fields in bad:
        body = task_def(lc, **fields)
        expect_error(400, "InputValidationError", q._client.createTask, slug_id(), body)
    body = task_def(lc)
    del body["payload"]
    expect_error(400, "InputValidationError", q._client.createTask, slug_id(), body)


def test_a_schema_error_lists_every_mismatch(lc: LocalCluster) -> None:
    """As the real queue does: every failed check, not just the first."""
    body = task_def(lc, priority="urgent", payload=[], metadata={"name": "x"})
    create_task = queue(lc)._client.createTask
    answer = expect_error(400, "InputValidationError", create_task, slug_id(), body)
    listed = [line for line in answer["message"].splitlines() if line.startswith(" * ")]
    assert len(listed) == 5, answer["message"]  # description, owner, source; priority; payload
    for field in ("priority", "payload", "description", "owner", "source"):
        assert field in answer["message"], field


def test_create_task_scopes(lc: LocalCluster) -> None:
    base = ["queue:create-task:project:none", "queue:scheduler-id:-"]
    high = queue(lc, lc.add_client("high", [*base, "queue:create-task:high:prov/wt"]))
    create(high, lc, priority="low")  # a scope for a higher priority will do
    create(high, lc, priority="high")
    expect_error(
        403, "InsufficientScopes", high.createTask, slug_id(), task_def(lc, priority="highest")
    )
    expect_error(
        403, "InsufficientScopes", high.createTask, slug_id(), task_def(lc, routes=["index.x"])
    )
    expect_error(
        403, "InsufficientScopes", high.createTask, slug_id(), task_def(lc, scopes=["secret:x"])
    )
    answer = expect_error(
        400, "InputError", queue(lc).createTask, slug_id(), task_def(lc, scopes=["a:**"])
    )
    assert "**" in answer["message"]


def test_scheduler_id_is_fixed_per_group(lc: LocalCluster) -> None:
    q = queue(lc)
    group = create(q, lc, schedulerId="first")
    answer = expect_error(
        409, "RequestConflict", q.createTask, slug_id(), task_def(lc, taskGroupId=group)
    )
    assert "schedulerId" in answer["message"]
    create(q, lc, taskGroupId=group, schedulerId="first")
    assert q.getTaskGroup(group)["schedulerId"] == "first"


def test_dependencies_must_exist_and_outlive_the_deadline(lc: LocalCluster) -> None:
    q = queue(lc)
    ghost, task_id = slug_id(), slug_id()
    answer = expect_error(
        400, "InputError", q.createTask, task_id, task_def(lc, dependencies=[ghost])
    )
    assert ghost in answer["message"]
    # the task row remains, unscheduled: its taskId is spent
    assert status(q, task_id)["state"] == "unscheduled"
    short = create(q, lc, deadline=at(lc, minutes=30), expires=at(lc, minutes=40))
    answer = expect_error(
        400, "InputError", q.createTask, slug_id(), task_def(lc, dependencies=[short])
    )
    assert short in answer["message"]


def test_dependency_already_resolved(lc: LocalCluster) -> None:
    q = queue(lc)
    dep = create(q, lc)
    [c] = claim(q)
    task_queue(lc, c).reportFailed(dep, 0)
    completed_only = create(q, lc, dependencies=[dep])
    resolved = create(q, lc, dependencies=[dep], requires="all-resolved")
    assert status(q, completed_only)["state"] == "unscheduled"
    assert status(q, resolved)["state"] == "pending"
    # a rerun that completes unblocks the all-completed dependent
    q.rerunTask(dep)
    [c] = claim(q)
    assert c["status"]["taskId"] in (dep, resolved)
    if c["status"]["taskId"] == resolved:
        [c] = claim(q)
    task_queue(lc, c).reportCompleted(dep, 1)
    assert status(q, completed_only)["state"] == "pending"


def test_schedule_task_ignores_dependencies(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = slug_id()
    create(q, lc, task_id, dependencies=[task_id])  # depends on itself: blocked forever
    assert status(q, task_id)["state"] == "unscheduled"
    assert q.scheduleTask(task_id)["status"]["state"] == "pending"
    assert q.scheduleTask(task_id)["status"]["runs"] == status(q, task_id)["runs"]
    expect_error(404, "ResourceNotFound", q.scheduleTask, slug_id())


def test_steering_scopes(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc, projectId="proj", schedulerId="sched")
    create(q, lc, schedulerId="sched", taskGroupId=task_id, projectId="proj")
    in_project = queue(lc, lc.add_client("p", ["queue:cancel-task-in-project:proj"]))
    by_id = queue(lc, lc.add_client("i", [f"queue:rerun-task:sched/{task_id}/{task_id}"]))
    legacy = queue(
        lc, lc.add_client("l", ["queue:schedule-task", f"assume:scheduler-id:sched/{task_id}"])
    )
    expect_error(403, "InsufficientScopes", in_project.rerunTask, task_id)
    assert in_project.cancelTask(task_id)["status"]["state"] == "exception"
    assert by_id.rerunTask(task_id)["status"]["state"] == "pending"
    assert legacy.scheduleTask(task_id)["status"]["state"] == "pending"


# -- the state machine ---------------------------------------------------------------


def test_claim_work_order_and_priority_changes(lc: LocalCluster) -> None:
    q = queue(lc)
    low1, low2 = create(q, lc, priority="low"), create(q, lc, priority="low")
    high = create(q, lc, priority="high")
    late = create(q, lc, priority="lowest")
    assert q.changeTaskPriority(late, {"newPriority": "highest"})["status"]["priority"] == "highest"
    assert q.task(late)["priority"] == "highest"
    pending = q.listPendingTasks(TQ)["tasks"]
    assert [t["taskId"] for t in pending] == [late, high, low1, low2]
    assert q.pendingTasks(TQ)["pendingTasks"] == 4
    order = [c["status"]["taskId"] for c in claim(q, 3)]
    assert order == [late, high, low1]
    claimed = q.listClaimedTasks(TQ)["tasks"]
    assert {t["taskId"] for t in claimed} == {late, high, low1}
    assert all((t["workerGroup"], t["workerId"]) == ("wg", "w1") for t in claimed)
    assert q.taskQueueCounts(TQ)["claimedTasks"] == 3
    assert claim(q, 5, "prov/empty") == []
    task_queue(lc, claim(q)[0]).reportCompleted(low2, 0)
    # a resolved task's priority still changes (as on the real queue) ...
    changed = q.changeTaskPriority(low2, {"newPriority": "high"})["status"]
    assert changed["state"] == "completed" and changed["priority"] == "high"
    # ... until its deadline has passed
    lc.advance(2 * 86400)
    expect_error(409, "RequestConflict", q.changeTaskPriority, low2, {"newPriority": "low"})


def test_change_task_group_priority(lc: LocalCluster) -> None:
    q = queue(lc)
    group = create(q, lc)
    other = create(q, lc, taskGroupId=group)
    [c] = claim(q)
    task_queue(lc, c).reportCompleted(group, 0)
    answer = q.changeTaskGroupPriority(group, {"newPriority": "very-high"})
    assert answer == {
        "taskGroupId": group,
        "schedulerId": "-",
        "newPriority": "very-high",
        "tasksAffected": 1,
        "taskIds": [other],
    }
    assert q.task(other)["priority"] == "very-high" and q.task(group)["priority"] == "lowest"


def test_claim_task_deprecated(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc)
    first = q.claimTask(task_id, 0, WORKER)
    assert first["status"]["state"] == "running" and first["task"]["taskQueueId"] == TQ
    assert q.claimTask(task_id, 0, WORKER)["takenUntil"] == first["takenUntil"]
    other = {"workerGroup": "wg", "workerId": "w2"}
    expect_error(409, "RequestConflict", q.claimTask, task_id, 0, other)
    expect_error(404, "ResourceNotFound", q.claimTask, task_id, 1, WORKER)
    assert claim(q) == []


def test_reports_and_conflicts(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc)
    expect_error(409, "RequestConflict", q.reportCompleted, task_id, 0)  # still pending
    [c] = claim(q)
    tq = task_queue(lc, c)
    tq.reportFailed(task_id, 0)
    expect_error(409, "RequestConflict", tq.reportCompleted, task_id, 0)
    expect_error(409, "RequestConflict", tq.reclaimTask, task_id, 0)
    expect_error(404, "ResourceNotFound", q.reportFailed, task_id, 3)
    assert tq.reportFailed(task_id, 0)["status"]["state"] == "failed"


def test_report_exception_retries(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc, retries=1)
    dependent = create(q, lc, dependencies=[task_id], requires="all-resolved")
    [c] = claim(q)
    after = task_queue(lc, c).reportException(task_id, 0, {"reason": "worker-shutdown"})["status"]
    assert [r["state"] for r in after["runs"]] == ["exception", "pending"]
    assert after["runs"][1]["reasonCreated"] == "retry" and after["retriesLeft"] == 0
    assert status(q, dependent)["state"] == "unscheduled"
    # repeating the report is fine
    assert task_queue(lc, c).reportException(task_id, 0, {"reason": "worker-shutdown"})
    [c] = claim(q)
    tq = task_queue(lc, c)
    final = tq.reportException(task_id, 1, {"reason": "intermittent-task"})["status"]
    assert len(final["runs"]) == 2 and final["state"] == "exception"  # no retries left
    assert status(q, dependent)["state"] == "pending"
    other = create(q, lc)
    [c] = claim(q)
    while c["status"]["taskId"] != other:
        [c] = claim(q)
    answer = task_queue(lc, c).reportException(other, 0, {"reason": "intermittent-task"})
    assert answer["status"]["runs"][1]["reasonCreated"] == "task-retry"
    expect_error(
        400, "InputValidationError", q._client.reportException, other, 1, {"reason": "tired"}
    )


def test_rerun_limits(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc, retries=3)
    for _ in range(49):
        q.cancelTask(task_id)
        q.rerunTask(task_id)
    assert len(status(q, task_id)["runs"]) == 50
    assert status(q, task_id)["retriesLeft"] == 0
    q.cancelTask(task_id)
    answer = expect_error(409, "RequestConflict", q.rerunTask, task_id)
    assert "50" in answer["message"]
    fresh = create(q, lc, retries=3)
    q.cancelTask(fresh)
    assert q.rerunTask(fresh)["status"]["retriesLeft"] == 3


def test_cancel_unscheduled_and_resolved(lc: LocalCluster) -> None:
    q = queue(lc)
    blocked = slug_id()
    create(q, lc, blocked, dependencies=[blocked])
    runs = q.cancelTask(blocked)["status"]["runs"]
    assert runs[0]["reasonCreated"] == "exception" and runs[0]["reasonResolved"] == "canceled"
    assert q.cancelTask(blocked)["status"]["runs"] == runs
    assert q.scheduleTask(blocked)["status"]["runs"] == runs


# -- time -----------------------------------------------------------------------------


def test_deadline_exceeded(lc: LocalCluster) -> None:
    q = queue(lc)
    pending = create(q, lc, deadline=at(lc, minutes=10))
    blocked = slug_id()
    create(q, lc, blocked, dependencies=[blocked], deadline=at(lc, minutes=10))
    running = create(q, lc, deadline=at(lc, minutes=10))
    claimed = claim(q, 2)
    assert {c["status"]["taskId"] for c in claimed} == {pending, running}
    tq = task_queue(lc, next(c for c in claimed if c["status"]["taskId"] == running))
    lc.advance(10 * 60 + 1)  # past the deadline, within the resolver's delay
    expect_error(409, "RequestConflict", tq.reclaimTask, running, 0)
    expect_error(409, "RequestConflict", q.rerunTask, pending)
    expect_error(409, "RequestConflict", q.cancelTask, pending)
    expect_error(409, "RequestConflict", q.scheduleTask, blocked)
    lc.advance(lc.settings.deadline_delay)
    for task_id in (pending, blocked, running):
        last = status(q, task_id)["runs"][-1]
        assert (last["state"], last["reasonResolved"]) == ("exception", "deadline-exceeded")
    assert status(q, blocked)["runs"][0]["reasonCreated"] == "exception"


def test_claim_expiry_retries(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc, retries=1)
    [c] = claim(q)
    tq = task_queue(lc, c)
    lc.advance(lc.settings.claim_timeout - 60)
    reclaimed = tq.reclaimTask(task_id, 0)
    assert reclaimed["takenUntil"] > c["takenUntil"]
    lc.advance(lc.settings.claim_timeout + 1)
    runs = status(q, task_id)["runs"]
    assert [(r["state"], r.get("reasonResolved")) for r in runs] == [
        ("exception", "claim-expired"),
        ("pending", None),
    ]
    assert runs[1]["reasonCreated"] == "retry"
    [c] = claim(q)
    assert c["runId"] == 1
    lc.advance(lc.settings.claim_timeout + 1)
    final = status(q, task_id)
    assert final["state"] == "exception" and len(final["runs"]) == 2


def test_tasks_expire(lc: LocalCluster) -> None:
    q = queue(lc)
    expires = at(lc, hours=2)
    task_id = create(q, lc, deadline=at(lc, hours=1), expires=expires)
    group = q.getTaskGroup(task_id)
    assert (parse_date(group["expires"]) - parse_date(q.task(task_id)["expires"])).seconds == 3600
    lc.advance(2 * 3600 + 1)
    expect_error(404, "ResourceNotFound", q.task, task_id)
    assert q.listTaskGroup(task_id)["tasks"] == []
    lc.advance(3600)
    expect_error(404, "ResourceNotFound", q.getTaskGroup, task_id)


def test_task_queues(lc: LocalCluster) -> None:
    q = queue(lc)
    create(q, lc)
    create(q, lc, workerType="other")
    # a task queue exists once a worker claimed from it, not with createTask
    assert q.listTaskQueues()["taskQueues"] == []
    expect_error(404, "ResourceNotFound", q.getTaskQueue, TQ)
    claim(q, 1, "prov/other")
    claim(q, 1, TQ)
    queues = q.listTaskQueues()["taskQueues"]
    assert [t["taskQueueId"] for t in queues] == ["prov/other", TQ]
    before = q.getTaskQueue(TQ)
    lc.advance(60)
    claim(q)
    after = q.getTaskQueue(TQ)
    assert after["lastDateActive"] > before["lastDateActive"]
    expect_error(404, "ResourceNotFound", q.getTaskQueue, "prov/never")
    lc.advance(6 * 86400)
    expect_error(404, "ResourceNotFound", q.getTaskQueue, "prov/other")


def test_every_queue_entry_has_a_handler() -> None:
    from tcmodel.api import ENDPOINTS
    from tcmodel.testing.queue import QueueService

    builtin = {"ping", "lbheartbeat", "version", "heartbeat"}
    entries = {name for service, name in ENDPOINTS if service == "queue"} - builtin
    assert entries == QueueService.handler_names()


def test_claim_work_long_polls() -> None:
    import threading

    from tcmodel.testing import Settings

    with LocalCluster(settings=Settings(claim_work_wait=30)) as lc:
        q = queue(lc)
        got: list[Any] = []
        poller = threading.Thread(target=lambda: got.extend(claim(q)))
        poller.start()
        # the poll waits without holding the cluster lock: other calls go on
        task_id = create(q, lc)
        poller.join(timeout=30)
        assert not poller.is_alive()
        assert [c["status"]["taskId"] for c in got] == [task_id]
