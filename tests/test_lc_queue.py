"""The local cluster's queue driven through a whole task graph, over HTTP.

The acceptance test: a decision task and two dependents (one
``all-resolved``) are created, claimed by a worker with the temporary
credentials the queue hands out, given artifacts of every storage type,
resolved, rerun, cancelled, and their group sealed and cancelled. Every
request and response body is validated against the real schemas.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import taskcluster
from lc_queue_support import (
    TQ,
    WORKER,
    anonymous_queue,
    at,
    claim,
    client_options,
    create,
    expect_error,
    fetch,
    inline_upload,
    lc,
    object_client,
    queue,
    task_queue,
)
from schemas import Checked, validate_endpoint

from tcmodel.testing import LocalCluster
from tcmodel.utils import parse_date, slug_id

__all__ = ["lc"]

LOG = b"building...\ndone\n"
ZIP = b"PK\x03\x04 pretend zip"


def raw_get(lc: LocalCluster, path: str) -> httpx.Response:
    """An anonymous GET on the queue API that does not follow redirects."""
    return httpx.get(f"{lc.root_url}/api/queue/v1{path}", follow_redirects=False, timeout=10)


def upload_artifacts(lc: LocalCluster, tq: Any, task_id: str) -> None:
    """As a worker with task credentials: one artifact of each storage type."""
    s3 = tq.createArtifact(
        task_id,
        0,
        "public/build/log.txt",
        {"storageType": "s3", "expires": at(lc, days=1), "contentType": "text/plain"},
    )
    assert s3["storageType"] == "s3" and s3["contentType"] == "text/plain"
    put = httpx.put(s3["putUrl"], content=LOG, headers={"Content-Type": "text/plain"})
    assert put.status_code == 200, put.text
    private = tq.createArtifact(
        task_id,
        0,
        "private/secret.bin",
        {"storageType": "s3", "expires": at(lc, days=1), "contentType": "application/octet-stream"},
    )
    httpx.put(
        private["putUrl"], content=b"s3cr3t", headers={"Content-Type": "application/octet-stream"}
    )

    created = tq.createArtifact(
        task_id,
        0,
        "public/build/target.zip",
        {"storageType": "object", "expires": at(lc, days=1), "contentType": "application/zip"},
    )
    assert created["name"] == f"t/{task_id}/0/public/build/target.zip"
    assert created["projectId"] == "none"
    assert json.loads(created["credentials"]["certificate"])["scopes"] == [
        f"object:upload:none:t/{task_id}/0/public/build/target.zip"
    ]
    # not finished yet: listed, but not readable
    expect_error(
        404,
        "ResourceNotFound",
        anonymous_queue(lc).getArtifact,
        task_id,
        0,
        "public/build/target.zip",
    )
    inline_upload(lc, created, ZIP, "application/zip")
    assert (
        tq.finishArtifact(task_id, 0, "public/build/target.zip", {"uploadId": created["uploadId"]})
        is None
    )

    tq.createArtifact(
        task_id,
        0,
        "public/ref",
        {
            "storageType": "reference",
            "expires": at(lc, days=1),
            "url": "https://example.com/ref.txt",
            "contentType": "text/plain",
        },
    )
    tq.createArtifact(
        task_id,
        0,
        "public/logs/live.log",
        {"storageType": "link", "expires": at(lc, days=1), "artifact": "public/build/log.txt"},
    )
    tq.createArtifact(
        task_id,
        0,
        "public/missing.txt",
        {
            "storageType": "error",
            "expires": at(lc, days=1),
            "reason": "file-missing-on-worker",
            "message": "no such file: missing.txt",
        },
    )


def check_reads(lc: LocalCluster, task_id: str) -> None:
    """Every way of reading the decision task's artifacts."""
    anon = anonymous_queue(lc)
    listed = queue(lc).listArtifacts(task_id, 0)["artifacts"]
    assert [a["name"] for a in listed] == sorted(a["name"] for a in listed)
    assert {a["name"]: a["storageType"] for a in listed} == {
        "private/secret.bin": "s3",
        "public/build/log.txt": "s3",
        "public/build/target.zip": "object",
        "public/logs/live.log": "link",
        "public/missing.txt": "error",
        "public/ref": "reference",
    }
    # artifactInfo does not follow the link
    info = queue(lc).artifactInfo(task_id, 0, "public/logs/live.log")
    assert (info["storageType"], info["contentType"]) == ("link", "application/binary")

    # s3, public: an unsigned bucket URL
    got = anon.getArtifact(task_id, 0, "public/build/log.txt")
    assert got["storageType"] == "s3" and "X-Signature" not in got["url"]
    assert fetch(got["url"]).content == LOG
    # s3, private: 403 anonymously, a presigned URL with scopes
    expect_error(403, "InsufficientScopes", anon.getArtifact, task_id, 0, "private/secret.bin")
    signed = queue(lc).getArtifact(task_id, 0, "private/secret.bin")
    assert "X-Signature" in signed["url"] and fetch(signed["url"]).content == b"s3cr3t"

    # link: resolved on the server, the header names the target's type
    resp = raw_get(lc, f"/task/{task_id}/runs/0/artifacts/public%2Flogs%2Flive.log")
    assert resp.status_code == 303
    validate_endpoint("queue", "getArtifact", response=resp.json())
    assert resp.headers["x-taskcluster-artifact-storage-type"] == "s3"
    assert resp.headers["location"] == resp.json()["url"]
    assert fetch(resp.headers["location"]).content == LOG

    # object: straight to the object's simple URL
    obj = anon.getArtifact(task_id, 0, "public/build/target.zip")
    assert obj["storageType"] == "object" and fetch(obj["url"]).content == ZIP
    # reference
    ref = anon.getLatestArtifact(task_id, "public/ref")
    assert ref == {"storageType": "reference", "url": "https://example.com/ref.txt"}
    # error: 424 with only {reason, message}
    resp = raw_get(lc, f"/task/{task_id}/runs/0/artifacts/public%2Fmissing.txt")
    assert resp.status_code == 424
    assert resp.json() == {
        "reason": "file-missing-on-worker",
        "message": "no such file: missing.txt",
    }
    assert resp.headers["x-taskcluster-artifact-storage-type"] == "error"

    # artifact-content
    content = anon.artifact(task_id, 0, "public/logs/live.log")
    assert content["storageType"] == "s3" and fetch(content["url"]).content == LOG
    error = anon.latestArtifact(task_id, "public/missing.txt")
    assert error == {
        "storageType": "error",
        "reason": "file-missing-on-worker",
        "message": "no such file: missing.txt",
    }
    download = anon.artifact(task_id, 0, "public/build/target.zip")
    assert download["name"] == f"t/{task_id}/0/public/build/target.zip"
    creds = download["credentials"]
    assert creds["clientId"] == f"artifact-download/{task_id}/0/public/build/target.zip"
    assert isinstance(creds["certificate"], str)
    start = object_client(lc, creds).startDownload(
        download["name"], {"acceptDownloadMethods": {"simple": True}}
    )
    assert fetch(start["url"]).content == ZIP


def test_task_graph_life(lc: LocalCluster) -> None:
    root = queue(lc)
    decision = slug_id()
    create(root, lc, decision, routes=["index.tcmodel.test.decision"], priority="high")
    build = create(root, lc, taskGroupId=decision, dependencies=[decision])
    report = create(
        root, lc, taskGroupId=decision, dependencies=[decision, build], requires="all-resolved"
    )
    states = {t: root.status(t)["status"]["state"] for t in (decision, build, report)}
    assert states == {decision: "pending", build: "unscheduled", report: "unscheduled"}
    assert root.task(build)["taskQueueId"] == TQ and root.task(build)["schedulerId"] == "-"
    dependents = root.listDependentTasks(decision)
    assert sorted(t["status"]["taskId"] for t in dependents["tasks"]) == sorted([build, report])
    assert root.taskQueueCounts(TQ)["pendingTasks"] == 1

    # the worker claims the decision task and works with the task credentials
    worker = queue(lc, lc.add_client("worker", [f"queue:claim-work:{TQ}", "queue:worker-id:wg/w1"]))
    [claimed] = claim(worker, 4)
    assert claimed["status"]["taskId"] == decision and claimed["runId"] == 0
    until = parse_date(claimed["takenUntil"])
    expected_name = f"task-client/{decision}/0/on/wg/w1/until/{int(until.timestamp())}"
    assert claimed["credentials"]["clientId"] == expected_name
    assert root.listClaimedTasks(TQ)["tasks"][0]["taskId"] == decision
    tq = task_queue(lc, claimed)
    upload_artifacts(lc, tq, decision)
    reclaimed = tq.reclaimTask(decision, 0)
    tq = queue(lc, reclaimed["credentials"])
    done = tq.reportCompleted(decision, 0)
    assert done["status"]["state"] == "completed"
    assert tq.reportCompleted(decision, 0) == done  # idempotent
    check_reads(lc, decision)
    index = Checked(taskcluster.Index(client_options(lc, lc.root_credentials)), "index")
    assert index.findTask("tcmodel.test.decision")["taskId"] == decision

    # the build becomes pending; the report waits for it (all-resolved)
    assert root.status(build)["status"]["runs"][0]["reasonCreated"] == "scheduled"
    assert root.status(report)["status"]["state"] == "unscheduled"
    [build_claim] = claim(worker)
    assert build_claim["status"]["taskId"] == build
    failed = task_queue(lc, build_claim).reportFailed(build, 0)
    assert failed["status"]["state"] == "failed"
    assert root.status(report)["status"]["state"] == "pending"

    # rerun the decision task: the "latest" routes only see the new run
    rerun = root.rerunTask(decision)["status"]
    assert [r["reasonCreated"] for r in rerun["runs"]] == ["scheduled", "rerun"]
    assert rerun["retriesLeft"] == 5
    expect_error(404, "ResourceNotFound", root.getLatestArtifact, decision, "public/build/log.txt")
    assert root.listLatestArtifacts(decision)["artifacts"] == []
    assert root.getArtifact(decision, 0, "public/build/log.txt")["storageType"] == "s3"
    assert root.rerunTask(decision)["status"] == rerun  # already pending
    cancelled = root.cancelTask(decision)["status"]
    assert cancelled["runs"][1]["reasonResolved"] == "canceled"

    # seal and cancel the group
    expect_error(409, "RequestConflict", root.cancelTaskGroup, decision)
    sealed = root.sealTaskGroup(decision)
    assert "sealed" in sealed and root.getTaskGroup(decision) == sealed
    body = expect_error(409, "RequestConflict", root.createTask, slug_id(), _def_in(lc, decision))
    assert "sealed" in body["message"]
    result = root.cancelTaskGroup(decision)
    assert result == {
        "taskGroupId": decision,
        "taskGroupSize": 3,
        "cancelledCount": 1,
        "taskIds": [report],
    }
    listing = root.listTaskGroup(decision)
    assert listing["sealed"] == sealed["sealed"] and len(listing["tasks"]) == 3
    final = {t["status"]["taskId"]: t["status"]["state"] for t in listing["tasks"]}
    assert final == {decision: "exception", build: "failed", report: "exception"}
    assert root.taskQueueCounts(TQ) == {
        "provisionerId": "prov",
        "workerType": "wt",
        "taskQueueId": TQ,
        "pendingTasks": 0,
        "claimedTasks": 0,
    }


def _def_in(lc: LocalCluster, group: str) -> dict[str, Any]:
    from lc_queue_support import task_def

    return task_def(lc, taskGroupId=group)


def test_worker_credentials_are_limited(lc: LocalCluster) -> None:
    root = queue(lc)
    task_id = create(root, lc, scopes=["secrets:get:my-secret"])
    worker = queue(lc, lc.add_client("worker", [f"queue:claim-work:{TQ}", "queue:worker-id:wg/*"]))
    [claimed] = claim(worker)
    cert = json.loads(claimed["credentials"]["certificate"])
    assert cert["scopes"] == [
        f"queue:reclaim-task:{task_id}/0",
        f"queue:resolve-task:{task_id}/0",
        f"queue:create-artifact:{task_id}/0",
        "secrets:get:my-secret",
    ]
    other = create(root, lc)
    expect_error(403, "InsufficientScopes", task_queue(lc, claimed).reportCompleted, other, 0)
    # a worker id the client may not use
    expect_error(
        403,
        "InsufficientScopes",
        worker.claimWork,
        TQ,
        {"workerGroup": "other", "workerId": "w1", "tasks": 1},
    )
    assert WORKER["workerGroup"] == "wg"
