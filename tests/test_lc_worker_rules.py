"""What the local cluster enforces for workers, as the real queue does
(statuses, codes and messages as in ../shared/taskcluster/traces): the
claim's credentials and their scopes, takenUntil expiry, run ids, double
reports, deadlines — driven through the public Claim API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import tcmodel
from tcmodel.resources.claim import Claim
from tcmodel.testing import LocalCluster

TQ = "proj/rules"
WG = "wg"


def _task(admin: tcmodel.Cluster, **kw: object) -> tcmodel.resources.Task:
    return admin.create_task(task_queue_id=TQ, payload={}, name="rules", **kw)  # type: ignore[arg-type]


def _claim(admin: tcmodel.Cluster, task: tcmodel.resources.Task, worker: str = "w1") -> Claim:
    return task.claim(task.status.runs[-1].run_id, WG, worker)


def _raw(cluster: tcmodel.Cluster, entry: str, task_id: str, run_id: int, **kw: object) -> object:
    return cluster.transport.request("queue", entry, taskId=task_id, runId=run_id, **kw)


def _states(admin: tcmodel.Cluster, task_id: str) -> list[tuple[str, str | None, str]]:
    return [
        (r.state, r.reason_resolved, r.reason_created) for r in admin.task(task_id).refresh().runs
    ]


# -- credentials and scopes ---------------------------------------------------------------------


def test_a_claim_acts_only_on_its_own_run(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    mine, theirs = _task(admin), _task(admin)
    claim = _claim(admin, mine)
    other = _claim(admin, theirs, worker="w2")
    for entry in ("reclaimTask", "reportCompleted"):
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            _raw(claim.cluster, entry, theirs.task_id, 0)
        assert info.value.status == 403
        scope = "reclaim-task" if entry == "reclaimTask" else "resolve-task"
        assert f"queue:{scope}:{theirs.task_id}/0" in info.value.message
        assert claim.cluster.credentials is not None
        assert f"Client ID {claim.cluster.credentials.client_id} " in info.value.message
    with pytest.raises(tcmodel.InsufficientScopes, match="queue:create-artifact:"):
        _raw(
            claim.cluster,
            "createArtifact",
            theirs.task_id,
            0,
            name="public/x",
            body={
                "storageType": "error",
                "reason": "file-missing-on-worker",
                "message": "-",
                "expires": tcmodel.from_now_json("1 day"),
            },
        )
    # nothing happened to the other run; its own claim still works
    assert other.completed().state == "completed"
    assert claim.completed().state == "completed"


def test_clients_without_the_scopes_are_refused_and_root_is_not(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    task = _task(admin)
    _claim(admin, task)
    with lc.connect(lc.add_client("bystander", ["queue:claim-work:*"])) as bystander:
        for entry in ("reclaimTask", "reportCompleted", "reportFailed"):
            with pytest.raises(tcmodel.InsufficientScopes):
                _raw(bystander, entry, task.task_id, 0)
        with pytest.raises(tcmodel.InsufficientScopes, match="queue:worker-id:wg/w9"):
            bystander.task_queue(TQ).claim_work(WG, "w9")
    assert _states(admin, task.task_id) == [("running", None, "scheduled")]
    # root holds every scope: reclaimTask/root and reportCompleted answer 200
    assert "takenUntil" in _raw(admin, "reclaimTask", task.task_id, 0)  # type: ignore[operator]
    _raw(admin, "reportCompleted", task.task_id, 0)
    assert _states(admin, task.task_id) == [("completed", "completed", "scheduled")]


def test_expired_claim_credentials_fail_authentication(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=0)
    claim = _claim(admin, task)
    lc.advance(lc.settings.claim_timeout + 1)
    # the certificate still within its 5-minute allowance: the run is gone
    with pytest.raises(tcmodel.RequestConflict, match="cannot be reported completed"):
        claim.completed()
    lc.advance(6 * 60)
    with pytest.raises(tcmodel.AuthenticationFailed, match=r"ext\.certificate\.expiry < now"):
        claim.completed()


# -- takenUntil --------------------------------------------------------------------------------


def test_claim_expiry_resolves_claim_expired_and_retries(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=1)
    first = _claim(admin, task)
    lc.advance(lc.settings.claim_timeout - 10)
    first.reclaim()  # reclaimed before takenUntil: still running after it
    lc.advance(20)
    assert _states(admin, task.task_id) == [("running", None, "scheduled")]
    lc.advance(lc.settings.claim_timeout)  # not reclaimed again
    assert _states(admin, task.task_id) == [
        ("exception", "claim-expired", "scheduled"),
        ("pending", None, "retry"),
    ]
    with pytest.raises(tcmodel.RequestConflict, match="no longer running"):
        first.reclaim()
    second = admin.task_queue(TQ).claim_work(WG, "w2")
    assert [(c.task_id, c.run_id) for c in second] == [(task.task_id, 1)]
    lc.advance(lc.settings.claim_timeout + 1)  # no retries left: the task ends
    assert _states(admin, task.task_id)[-1] == ("exception", "claim-expired", "retry")
    assert admin.task(task.task_id).state == "exception"


# -- run ids ---------------------------------------------------------------------------------------


def test_wrong_run_ids(admin: tcmodel.Cluster) -> None:
    task = _task(admin)
    claim = _claim(admin, task)
    for entry in ("reclaimTask", "reportCompleted", "reportFailed"):
        with pytest.raises(tcmodel.NotFound, match=f"Run 3 not found on task `{task.task_id}`"):
            _raw(admin, entry, task.task_id, 3)
    with pytest.raises(tcmodel.NotFound, match="never created, or expired"):
        _raw(admin, "reportCompleted", "fN1Sb0AHQaGcdtJqNbEPDg", 0)
    with pytest.raises(tcmodel.NotFound, match="Run 1 not found"):
        task.claim(1, WG, "w1")
    claim.exception("worker-shutdown")  # run 1 now exists, pending
    with pytest.raises(tcmodel.RequestConflict, match="no longer running"):
        claim.reclaim()  # run 0 is no longer the run to reclaim


# -- double reports --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "again", "other", "message"),
    [
        ("completed", "completed", "failed", "Run 0 of task `{}` is completed: it cannot be"),
        ("failed", "failed", "completed", "Run 0 of task `{}` is failed: it cannot be"),
    ],
)
def test_double_reports(
    lc: LocalCluster, admin: tcmodel.Cluster, first: str, again: str, other: str, message: str
) -> None:
    task = _task(admin)
    claim = _claim(admin, task)
    status = getattr(claim, first)().status
    lc.reset_requests()
    assert getattr(claim, again)().status == status  # idempotent for the same resolution
    with pytest.raises(tcmodel.RequestConflict) as info:
        getattr(claim, other)()
    assert info.value.message.startswith(message.format(task.task_id))
    with pytest.raises(tcmodel.RequestConflict) as info:
        claim.exception("worker-shutdown")
    assert info.value.message.startswith(f"Run 0 of task `{task.task_id}` is no longer running")
    assert [r.status for r in lc.requests] == [200, 409, 409]


def test_a_repeated_retrying_exception_report_is_accepted(admin: tcmodel.Cluster) -> None:
    task = _task(admin, retries=2)
    claim = _claim(admin, task)
    claim.exception("worker-shutdown")
    assert [r.state for r in claim.exception("worker-shutdown").runs] == ["exception", "pending"]


# -- deadlines -------------------------------------------------------------------------------------


def _soon(lc: LocalCluster, minutes: int) -> datetime:
    return datetime.fromtimestamp(lc.clock.now(), timezone.utc) + timedelta(minutes=minutes)


def test_deadline(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    running = _task(admin, deadline=_soon(lc, 10))
    late_report = _task(admin, deadline=_soon(lc, 10))
    pending = _task(admin, deadline=_soon(lc, 10))
    claim = _claim(admin, running)
    reporter = _claim(admin, late_report, worker="w2")
    lc.advance(10 * 60 + 1)  # past the deadline, before the resolver
    with pytest.raises(tcmodel.RequestConflict, match=r"past its deadline .*can't be reclaimed"):
        claim.reclaim()
    with pytest.raises(tcmodel.RequestConflict, match=r"past its deadline .*can't be claimed"):
        pending.claim(0, WG, "w3")
    assert admin.task_queue(TQ).claim_work(WG, "w3") == []  # not handed out either
    assert reporter.completed().state == "completed"  # the resolver has not run yet
    lc.advance(lc.settings.deadline_delay)
    for task in (running, pending):
        assert _states(admin, task.task_id)[-1][:2] == ("exception", "deadline-exceeded")
    with pytest.raises(tcmodel.RequestConflict, match="cannot be reported completed"):
        claim.completed()
    # artifacts may still be added for 25 minutes after an exception resolution
    claim.upload("public/late.log", "late\n", storage_type="s3")


def test_keep_alive_stops_at_the_deadline(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    import time

    task = _task(admin, deadline=_soon(lc, 18))
    claim = _claim(admin, task).keep_alive()  # due 3 minutes before the 20 it lasts
    lc.advance(18 * 60 + 1)  # the claim is due for a reclaim, the deadline passed
    end = time.monotonic() + 10
    while claim.lost is None and time.monotonic() < end:
        time.sleep(0.05)
    assert isinstance(claim.lost, tcmodel.RequestConflict)
    assert "past its deadline" in claim.lost.message


def test_quarantined_workers_get_no_work(admin: tcmodel.Cluster) -> None:
    tq = admin.task_queue(TQ)
    assert tq.claim_work(WG, "idle") == []  # the queue now knows the worker
    tq.worker(WG, "idle").quarantine("1 hour", reason="flaky")
    task = _task(admin)
    assert tq.claim_work(WG, "idle") == []
    [claim] = tq.claim_work(WG, "healthy")
    assert claim.task_id == task.task_id
