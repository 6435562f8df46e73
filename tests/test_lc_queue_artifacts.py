"""Artifacts of the local cluster's queue: creation rules, replacement,
links, expiry, error artifacts, finishing and listing, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lc_queue_support import (
    anonymous_queue,
    at,
    claim,
    create,
    expect_error,
    fetch,
    inline_upload,
    lc,
    queue,
    small_pages,
    task_queue,
)

from tcmodel.api import endpoint
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import ApiError, Request
from tcmodel.utils import slug_id

__all__ = ["lc", "small_pages"]


def running(lc: LocalCluster, **fields: Any) -> tuple[str, Any]:
    """A claimed task and a Queue client with its task credentials."""
    q = queue(lc)
    task_id = create(q, lc, **fields)
    [c] = [c for c in claim(q, 32) if c["status"]["taskId"] == task_id]
    return task_id, task_queue(lc, c)


def s3(lc: LocalCluster, ctype: str = "text/plain", **delta: float) -> dict[str, Any]:
    return {"storageType": "s3", "expires": at(lc, **(delta or {"hours": 2})), "contentType": ctype}


def ref(lc: LocalCluster, url: str, **delta: float) -> dict[str, Any]:
    return {
        "storageType": "reference",
        "expires": at(lc, **(delta or {"hours": 2})),
        "url": url,
        "contentType": "text/plain",
    }


def link(lc: LocalCluster, target: str) -> dict[str, Any]:
    return {"storageType": "link", "expires": at(lc, hours=2), "artifact": target}


def test_create_artifact_preconditions(lc: LocalCluster) -> None:
    q = queue(lc)
    pending = create(q, lc)
    expect_error(400, "InputError", q.createArtifact, pending, 0, "public/x", s3(lc))
    expect_error(400, "InputError", q.createArtifact, slug_id(), 0, "public/x", s3(lc))
    task_id, tq = running(lc, expires=at(lc, days=1))
    body = expect_error(400, "InputError", q.createArtifact, task_id, 1, "public/x", s3(lc))
    assert "Run not found" in body["message"]
    body = expect_error(
        400, "InputError", tq.createArtifact, task_id, 0, "public/x", s3(lc, days=2)
    )
    assert "may not outlive its task" in body["message"]
    body = expect_error(
        400, "InputError", tq.createArtifact, task_id, 0, "public/x", s3(lc, minutes=-16)
    )
    assert "Expires must be in the future" in body["message"]
    expect_error(
        400,
        "InputValidationError",
        tq._client.createArtifact,
        task_id,
        0,
        "public/x",
        {"storageType": "ftp", "expires": at(lc, hours=1)},
    )
    tq.reportCompleted(task_id, 0)
    expect_error(409, "RequestConflict", tq.createArtifact, task_id, 0, "public/x", s3(lc))


def test_artifacts_after_exception_for_25_minutes(lc: LocalCluster) -> None:
    task_id, tq = running(lc, retries=0)
    tq.reportException(task_id, 0, {"reason": "malformed-payload"})
    lc.advance(24 * 60)
    # the task credentials have expired with the claim: use the worker's own
    worker = queue(lc, lc.add_client("worker-host", [f"queue:create-artifact:{task_id}/0"]))
    worker.createArtifact(task_id, 0, "public/logs/live.log", ref(lc, "https://example.com/log"))
    lc.advance(2 * 60)
    expect_error(409, "RequestConflict", worker.createArtifact, task_id, 0, "public/y", s3(lc))


def test_repeated_create_and_replacements(lc: LocalCluster) -> None:
    task_id, tq = running(lc)
    first = tq.createArtifact(task_id, 0, "public/a.txt", s3(lc))
    again = tq.createArtifact(task_id, 0, "public/a.txt", s3(lc, hours=3))  # later expiry is fine
    assert again["putUrl"] and again["contentType"] == first["contentType"]
    expect_error(
        409, "RequestConflict", tq.createArtifact, task_id, 0, "public/a.txt", s3(lc, "text/html")
    )
    expect_error(
        409, "RequestConflict", tq.createArtifact, task_id, 0, "public/a.txt", s3(lc, hours=1)
    )
    # a reference may be replaced by another reference, or by a link
    tq.createArtifact(task_id, 0, "public/live.log", ref(lc, "https://example.com/1"))
    tq.createArtifact(task_id, 0, "public/live.log", ref(lc, "https://example.com/2"))
    assert queue(lc).getArtifact(task_id, 0, "public/live.log")["url"] == "https://example.com/2"
    tq.createArtifact(task_id, 0, "public/live.log", link(lc, "public/a.txt"))
    info = queue(lc).latestArtifactInfo(task_id, "public/live.log")
    assert info["storageType"] == "link" and info["contentType"] == "text/plain"
    expect_error(
        409,
        "RequestConflict",
        tq.createArtifact,
        task_id,
        0,
        "public/live.log",
        ref(lc, "https://x.org"),
    )
    obj = {"storageType": "object", "expires": at(lc, hours=2), "contentType": "text/plain"}
    tq.createArtifact(task_id, 0, "public/o", obj)
    expect_error(409, "RequestConflict", tq.createArtifact, task_id, 0, "public/o", obj)


def test_links_are_followed_with_scopes(lc: LocalCluster) -> None:
    task_id, tq = running(lc)
    up = tq.createArtifact(task_id, 0, "private/data.txt", s3(lc))
    httpx.put(up["putUrl"], content=b"data", headers={"Content-Type": "text/plain"})
    tq.createArtifact(task_id, 0, "public/data.txt", link(lc, "private/data.txt"))
    tq.createArtifact(task_id, 0, "public/loop-a", link(lc, "public/loop-b"))
    tq.createArtifact(task_id, 0, "public/loop-b", link(lc, "public/loop-a"))
    tq.createArtifact(task_id, 0, "public/dangling", link(lc, "public/nothing"))
    anon = anonymous_queue(lc)
    body = expect_error(403, "InsufficientScopes", anon.getArtifact, task_id, 0, "public/data.txt")
    assert "private/data.txt" in body["message"]
    got = queue(lc).artifact(task_id, 0, "public/data.txt")
    assert got["storageType"] == "s3" and fetch(got["url"]).content == b"data"
    body = expect_error(400, "InputError", anon.getArtifact, task_id, 0, "public/loop-a")
    assert "cycle" in body["message"]
    expect_error(404, "ResourceNotFound", anon.artifact, task_id, 0, "public/dangling")


def test_expired_artifacts_answer_410_then_vanish(lc: LocalCluster) -> None:
    task_id, tq = running(lc, expires=at(lc, days=2))
    up = tq.createArtifact(task_id, 0, "public/short.txt", s3(lc, minutes=10))
    httpx.put(up["putUrl"], content=b"short-lived", headers={"Content-Type": "text/plain"})
    url = anonymous_queue(lc).getArtifact(task_id, 0, "public/short.txt")["url"]
    assert fetch(url).status_code == 200
    lc.advance(11 * 60)
    anon = anonymous_queue(lc)
    body = expect_error(410, "ResourceExpired", anon.getArtifact, task_id, 0, "public/short.txt")
    assert body["message"].startswith("Artifact expired")
    expect_error(410, "ResourceExpired", anon.latestArtifact, task_id, "public/short.txt")
    # still listed until the expiration job deletes it (with the blob)
    assert [a["name"] for a in queue(lc).listArtifacts(task_id, 0)["artifacts"]] == [
        "public/short.txt"
    ]
    lc.advance(3600)
    assert queue(lc).listArtifacts(task_id, 0)["artifacts"] == []
    expect_error(404, "ResourceNotFound", anon.getArtifact, task_id, 0, "public/short.txt")
    assert fetch(url).status_code == 404


def test_error_artifact_answers(lc: LocalCluster) -> None:
    task_id, tq = running(lc)
    body = {
        "storageType": "error",
        "expires": at(lc, hours=1),
        "reason": "too-large-file-on-worker",
        "message": "x" * 4096,
    }
    assert tq.createArtifact(task_id, 0, "public/big.bin", body) == {"storageType": "error"}
    anon = anonymous_queue(lc)
    err = expect_error(424, None, anon.getLatestArtifact, task_id, "public/big.bin")
    assert err == {"reason": "too-large-file-on-worker", "message": "x" * 4096}
    content = anon.artifact(task_id, 0, "public/big.bin")
    assert content["reason"] == "too-large-file-on-worker"
    too_long = dict(body, message="x" * 4097)
    expect_error(
        400, "InputValidationError", tq._client.createArtifact, task_id, 0, "public/c", too_long
    )


def test_finish_artifact_rules(lc: LocalCluster) -> None:
    task_id, tq = running(lc)
    tq.createArtifact(task_id, 0, "public/s3", s3(lc))
    upload = {"uploadId": slug_id()}
    expect_error(400, "InputError", tq.finishArtifact, task_id, 0, "public/s3", upload)
    expect_error(404, "ResourceNotFound", tq.finishArtifact, task_id, 0, "public/none", upload)
    obj = {"storageType": "object", "expires": at(lc, hours=2), "contentType": "text/plain"}
    created = tq.createArtifact(task_id, 0, "public/obj.txt", obj)
    body = expect_error(400, "InputError", tq.finishArtifact, task_id, 0, "public/obj.txt", upload)
    assert "uploadId" in body["message"]
    mine = {"uploadId": created["uploadId"]}
    body = expect_error(400, "InputError", tq.finishArtifact, task_id, 0, "public/obj.txt", mine)
    assert "never uploaded" in body["message"]
    expect_error(404, "ResourceNotFound", queue(lc).artifactInfo, task_id, 0, "public/obj.txt")
    inline_upload(lc, created, b"hello", "text/plain")
    assert tq.finishArtifact(task_id, 0, "public/obj.txt", mine) is None
    assert tq.finishArtifact(task_id, 0, "public/obj.txt", mine) is None  # idempotent
    assert queue(lc).artifactInfo(task_id, 0, "public/obj.txt")["storageType"] == "object"
    got = anonymous_queue(lc).latestArtifact(task_id, "public/obj.txt")
    assert got["name"] == f"t/{task_id}/0/public/obj.txt"


def test_list_artifacts_with_cursors(small_pages: LocalCluster) -> None:
    lc = small_pages
    task_id, tq = running(lc)
    names = [f"public/{n}" for n in ("e", "a", "d", "b", "c")]
    for name in names:
        tq.createArtifact(task_id, 0, name, ref(lc, f"https://example.com/{name}"))
    q, seen, query = queue(lc), [], {}
    while True:
        page = q.listLatestArtifacts(task_id, query=query)
        seen += [a["name"] for a in page["artifacts"]]
        if "continuationToken" not in page:
            break
        query = {"continuationToken": page["continuationToken"]}
    assert seen == sorted(names)
    # a garbled cursor restarts the listing instead of failing
    restarted = q.listArtifacts(task_id, 0, query={"continuationToken": "no such cursor"})
    assert [a["name"] for a in restarted["artifacts"]] == sorted(names)[:2]
    expect_error(404, "ResourceNotFound", q.listArtifacts, task_id, 1)
    blocked = slug_id()
    create(q, lc, blocked, dependencies=[blocked])
    body = expect_error(404, "ResourceNotFound", q.listLatestArtifacts, blocked)
    assert "runs" in body["message"]
    expect_error(404, "ResourceNotFound", q.latestArtifactInfo, slug_id(), "public/a")


def test_latest_artifact_scopes_come_first(lc: LocalCluster) -> None:
    anon = anonymous_queue(lc)
    expect_error(403, "InsufficientScopes", anon.getLatestArtifact, slug_id(), "private/x")
    expect_error(404, "ResourceNotFound", anon.getLatestArtifact, slug_id(), "public/x")


def test_latest_artifact_target_url(lc: LocalCluster) -> None:
    task_id, tq = running(lc)
    tq.createArtifact(task_id, 0, "public/ref", ref(lc, "https://example.com/r"))
    tq.createArtifact(task_id, 0, "public/via", link(lc, "public/ref"))
    tq.createArtifact(task_id, 0, "private/via", link(lc, "public/ref"))
    svc = lc.state.queue
    req = Request(
        endpoint=endpoint("index", "findArtifactFromTask"),
        scopes=("queue:get-artifact:public/*",),
    )
    with lc.state.lock:
        assert svc.latest_artifact_target_url(task_id, "public/via", req) == "https://example.com/r"
        with pytest.raises(ApiError) as info:
            svc.latest_artifact_target_url(task_id, "private/via", req)
        assert info.value.status == 403
        with pytest.raises(ApiError) as info:
            svc.latest_artifact_target_url(task_id, "public/none", req)
        assert info.value.status == 404
        assert svc.get_task(task_id)["taskQueueId"] == "prov/wt"
