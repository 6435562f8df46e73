"""The local cluster's queue views of provisioners, worker types and workers
over real HTTP, driven by the official client (bodies checked against the
real schemas): workers are recorded by claimWork with their recent runs,
quarantine stops a worker from getting work, declareWorker, paging, 404s
and scopes."""

from __future__ import annotations

from typing import Any

from lc_queue_support import (
    PROV,
    TQ,
    WORKER,
    WTYPE,
    anonymous_queue,
    at,
    claim,
    create,
    expect_error,
    lc,
    queue,
    small_pages,
)

from tcmodel.testing import LocalCluster
from tcmodel.testing._core import iso, parse_iso
from tcmodel.testing.queue_workers import WORKER_LIFETIME

__all__ = ["lc", "small_pages"]


def worker_path(**overrides: str) -> tuple[str, str, str, str]:
    ids = {"provisionerId": PROV, "workerType": WTYPE, **WORKER, **overrides}
    return ids["provisionerId"], ids["workerType"], ids["workerGroup"], ids["workerId"]


def busy_queue(lc: LocalCluster, tasks: int = 2) -> tuple[Any, list[str]]:
    """Root queue client, ``tasks`` created and claimed by worker wg/w1."""
    q = queue(lc)
    ids = [create(q, lc) for _ in range(tasks)]
    claim(q, tasks)
    return q, ids


def test_claim_work_records_the_worker_and_its_runs(lc: LocalCluster) -> None:
    q, ids = busy_queue(lc)
    worker = q.getWorker(*worker_path())
    assert worker["recentTasks"] == [{"runId": 0, "taskId": t} for t in ids]
    assert worker["taskQueueId"] == TQ and worker["firstClaim"] <= worker["lastDateActive"]
    assert worker["quarantineUntil"] <= at(lc)  # not quarantined
    [listed] = q.listWorkers(PROV, WTYPE)["workers"]
    assert listed["latestTask"] == {"runId": 0, "taskId": ids[-1]}
    assert "quarantineUntil" not in listed


def test_a_worker_that_found_no_work_is_still_known(lc: LocalCluster) -> None:
    q = queue(lc)
    assert claim(q) == []
    assert q.getWorker(*worker_path())["recentTasks"] == []
    assert q.listWorkers(PROV, "nothing")["workers"] == []


def test_unknown_workers_are_404(lc: LocalCluster) -> None:
    q, _ = busy_queue(lc, 1)
    body = expect_error(404, "ResourceNotFound", q.getWorker, *worker_path(workerId="nobody"))
    assert "nobody`" in body["message"] and "ever claimed work?" in body["message"]
    until = {"quarantineUntil": at(lc, hours=1)}
    expect_error(
        404, "ResourceNotFound", q.quarantineWorker, *worker_path(workerId="nobody"), until
    )


def test_quarantine_stops_claims_until_it_is_lifted(lc: LocalCluster) -> None:
    q, _ = busy_queue(lc, 1)
    pending = create(q, lc)
    quarantined = q.quarantineWorker(
        *worker_path(), {"quarantineUntil": at(lc, hours=1), "quarantineInfo": "flaky disk"}
    )
    assert quarantined["quarantineUntil"] > at(lc)
    assert claim(q) == []  # gets nothing while quarantined
    assert q.status(pending)["status"]["state"] == "pending"
    only = q.listWorkers(PROV, WTYPE, query={"quarantined": "true"})["workers"]
    assert [w["workerId"] for w in only] == ["w1"] and "quarantineUntil" in only[0]
    assert q.listWorkers(PROV, WTYPE, query={"quarantined": "false"})["workers"] == []
    q.quarantineWorker(*worker_path(), {"quarantineUntil": at(lc)})  # lift it
    [claimed] = claim(q)
    assert claimed["status"]["taskId"] == pending


def test_quarantine_ends_by_itself(lc: LocalCluster) -> None:
    q, _ = busy_queue(lc, 1)
    q.quarantineWorker(*worker_path(), {"quarantineUntil": at(lc, minutes=10)})
    create(q, lc)
    assert claim(q) == []
    lc.advance(11 * 60)
    assert len(claim(q)) == 1


def test_declare_worker_creates_or_extends(lc: LocalCluster) -> None:
    q, _ = busy_queue(lc, 1)
    expires = iso(parse_iso(at(lc, days=3)))  # milliseconds, as the queue answers
    declared = q.declareWorker(*worker_path(), {"expires": expires})
    assert declared["expires"] == expires and len(declared["recentTasks"]) == 1
    fresh = q.declareWorker(*worker_path(workerId="spare"), {"expires": expires})
    assert fresh["recentTasks"] == [] and fresh["workerId"] == "spare"
    assert q.getWorker(*worker_path(workerId="spare"))["expires"] == expires
    expect_error(400, "InputValidationError", q.declareWorker, *worker_path(), {})


def test_workers_expire_unless_declared_longer(lc: LocalCluster) -> None:
    q, _ = busy_queue(lc, 1)
    q.declareWorker(*worker_path(workerId="kept"), {"expires": at(lc, days=10)})
    lc.advance(WORKER_LIFETIME + 60)
    q = queue(lc)
    assert [w["workerId"] for w in q.listWorkers(PROV, WTYPE)["workers"]] == ["kept"]


def test_declare_worker_needs_a_scope_per_property(lc: LocalCluster) -> None:
    busy_queue(lc, 1)
    path = "/".join(worker_path())
    creds = lc.add_client("ops", [f"queue:declare-worker:{path}#other"])
    body = expect_error(
        403,
        "InsufficientScopes",
        queue(lc, creds).declareWorker,
        *worker_path(),
        {"expires": at(lc)},
    )
    assert f"queue:declare-worker:{path}#expires" in body["message"]
    ok = lc.add_client("ops2", [f"queue:declare-worker:{path}#expires"])
    queue(lc, ok).declareWorker(*worker_path(), {"expires": at(lc, days=1)})


def test_provisioners_and_worker_types_come_from_task_queues(lc: LocalCluster) -> None:
    q = queue(lc)
    for wtype in ("b-linux", "a-win"):
        q.claimWork(f"{PROV}/{wtype}", {**WORKER, "tasks": 1})
    q.claimWork("other/wt", {**WORKER, "tasks": 1})
    provisioners = q.listProvisioners()["provisioners"]
    assert [p["provisionerId"] for p in provisioners] == ["other", PROV]
    assert q.getProvisioner(PROV)["stability"] == "experimental"
    types = q.listWorkerTypes(PROV)["workerTypes"]
    assert [t["workerType"] for t in types] == ["a-win", "b-linux"]
    assert types[0]["taskQueueId"] == f"{PROV}/a-win" and types[0]["provisionerId"] == PROV
    assert q.getWorkerType(PROV, "a-win") == types[0]
    assert q.listWorkerTypes("nobody") == {"workerTypes": []}
    body = expect_error(404, "ResourceNotFound", q.getProvisioner, "nobody")
    assert body["message"].startswith("No provisioner `nobody`")
    body = expect_error(404, "ResourceNotFound", q.getWorkerType, PROV, "nothing")
    assert body["message"].startswith(f"No worker type `nothing` of provisioner `{PROV}`")


def test_listings_page(small_pages: LocalCluster) -> None:
    lc = small_pages
    q = queue(lc)
    for i in range(3):
        q.claimWork(f"p{i}/wt", {**WORKER, "tasks": 1})
        q.claimWork(TQ, {"workerGroup": "wg", "workerId": f"w{i}", "tasks": 1})
    for call, args, key in [
        (q.listProvisioners, (), "provisioners"),
        (q.listWorkerTypes, ("p0",), "workerTypes"),
        (q.listWorkers, (PROV, WTYPE), "workers"),
    ]:
        first = call(*args)
        assert len(first[key]) == (1 if key == "workerTypes" else 2)
        if key != "workerTypes":
            rest = call(*args, query={"continuationToken": first["continuationToken"]})
            assert len(rest[key]) >= 1 and "continuationToken" not in rest


def test_anonymous_reads_workers_but_not_task_queues(lc: LocalCluster) -> None:
    busy_queue(lc, 1)
    anon = anonymous_queue(lc)
    assert anon.getWorker(*worker_path())["workerId"] == "w1"
    assert anon.listProvisioners()["provisioners"][0]["provisionerId"] == PROV
    assert anon.pendingTasks(TQ)["pendingTasks"] == 0
    body = expect_error(403, "InsufficientScopes", anon.getTaskQueue, TQ)
    assert f"queue:get-task-queue:{TQ}" in body["message"]
    body = expect_error(
        403,
        "InsufficientScopes",
        anon.quarantineWorker,
        *worker_path(),
        {"quarantineUntil": at(lc)},
    )
    assert "queue:quarantine-worker:" in body["message"]
