"""Fidelity fixes of the local cluster, each checked over real HTTP with the
official client as the oracle: private blobs need presigned URLs, the
default anonymous role reads tasks, createArtifact(object) reserves the
upload, paging edge cases, a second Worker with the same id, the
InsufficientScopes message and replies serialized under the lock."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import taskcluster
from lc_queue_support import (
    TQ,
    anonymous_queue,
    at,
    create,
    expect_error,
    lc,
    object_client,
    queue,
    rest_error,
    task_queue,
)
from schemas import validate_endpoint

import tcmodel.testing.server as server_module
from tcmodel.testing import LocalCluster
from tcmodel.testing.state import ANONYMOUS_SCOPES
from tcmodel.testing.worker import ClaimedRun, Worker
from tcmodel.utils import slug_id

__all__ = ["lc"]

NARROW = ["queue:get-artifact:public/*"]


def unsigned(url: str) -> str:
    """``url`` without its query (so without a presigned signature)."""
    return url.partition("?")[0]


def assert_access_denied(resp: httpx.Response) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"] == "application/xml"
    if resp.request.method != "HEAD":
        assert b"<Code>AccessDenied</Code>" in resp.content


def location(resp: httpx.Response) -> str:
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def index(lc: LocalCluster, creds: dict[str, str] | None = None) -> Any:
    c = creds or {
        "clientId": lc.root_credentials.client_id,
        "accessToken": lc.root_credentials.access_token,
    }
    return taskcluster.Index({"rootUrl": lc.root_url, "maxRetries": 0, "credentials": c})


@pytest.fixture
def worker(lc: LocalCluster) -> Iterator[Worker]:
    with Worker(lc, TQ) as w:
        yield w


def claimed(lc: LocalCluster, worker: Worker, **fields: Any) -> ClaimedRun:
    return worker.claim_task(create(queue(lc), lc, **fields))


def artifact_url(lc: LocalCluster, task_id: str, name: str) -> str:
    quoted = name.replace("/", "%2F")
    return f"{lc.root_url}/api/queue/v1/task/{task_id}/runs/0/artifacts/{quoted}"


# -- 1. private blobs need a presigned URL ------------------------------------------


def test_private_s3_blob_needs_a_valid_presigned_url(lc: LocalCluster, worker: Worker) -> None:
    run = claimed(lc, worker)
    run.upload("private/s3.txt", b"secret", storage_type="s3", content_type="text/plain")
    run.upload("public/s3.txt", b"open", storage_type="s3", content_type="text/plain")
    q = queue(lc)
    signed = q.getArtifact(run.task_id, 0, "private/s3.txt")["url"]
    assert "X-Signature=" in signed
    assert httpx.get(signed).content == b"secret"
    assert_access_denied(httpx.get(unsigned(signed)))
    assert_access_denied(httpx.head(unsigned(signed)))
    content = q.artifact(run.task_id, 0, "private/s3.txt")
    assert content["storageType"] == "s3" and httpx.get(content["url"]).content == b"secret"
    assert_access_denied(httpx.get(unsigned(content["url"])))
    # the public bucket stays readable without a signature
    public = httpx.get(artifact_url(lc, run.task_id, "public/s3.txt"), follow_redirects=True)
    assert public.content == b"open"
    assert "X-Signature" not in str(public.url)
    # the presigned URL lasts 1800 s; after that nothing reads the blob
    lc.advance(lc.settings.s3_presign_seconds + 1)
    assert_access_denied(httpx.get(signed))
    assert_access_denied(httpx.get(unsigned(signed)))


def test_private_object_blob_needs_a_presigned_url(lc: LocalCluster, worker: Worker) -> None:
    run = claimed(lc, worker)
    run.upload("private/o.txt", b"hidden", content_type="text/plain")
    run.upload("public/o.txt", b"shown", content_type="text/plain")
    root = {
        "clientId": lc.root_credentials.client_id,
        "accessToken": lc.root_credentials.access_token,
    }
    obj = object_client(lc, root)
    q = queue(lc)
    task_id = run.task_id
    # getArtifact goes to the simple URL: presigned for a private name
    private_simple = q.getArtifact(task_id, 0, "private/o.txt")["url"]
    assert httpx.get(private_simple).content == b"hidden"
    assert_access_denied(httpx.get(unsigned(private_simple)))
    public_simple = location(httpx.get(artifact_url(lc, task_id, "public/o.txt")))
    assert "X-Signature" not in public_simple and httpx.get(public_simple).content == b"shown"
    # startDownload: getUrl is always presigned, simple for private objects
    name = f"t/{task_id}/0/private/o.txt"
    got = obj.startDownload(name, {"acceptDownloadMethods": {"getUrl": True}})
    assert httpx.get(got["url"]).content == b"hidden"
    assert_access_denied(httpx.get(unsigned(got["url"])))
    simple = obj.startDownload(name, {"acceptDownloadMethods": {"simple": True}})
    assert httpx.get(simple["url"]).content == b"hidden"
    assert_access_denied(httpx.get(unsigned(simple["url"])))
    # object.download redirects to a URL that works
    official = taskcluster.Object({"rootUrl": lc.root_url, "credentials": root})
    data = httpx.get(official.buildSignedUrl("download", name), follow_redirects=True)
    assert data.content == b"hidden"


def test_index_find_artifact_reaches_private_data_only_signed(
    lc: LocalCluster, worker: Worker
) -> None:
    run = claimed(lc, worker)
    run.upload("private/p.txt", b"PPP", storage_type="s3", content_type="text/plain")
    idx = index(lc)
    idx.insertTask(
        "fid.latest", {"taskId": run.task_id, "rank": 0, "data": {}, "expires": at(lc, days=1)}
    )
    signed = idx.buildSignedUrl("findArtifactFromTask", "fid.latest", "private/p.txt")
    queue_url = location(httpx.get(signed))
    blob_url = location(httpx.get(queue_url))
    assert "X-Signature=" in blob_url and httpx.get(blob_url).content == b"PPP"
    assert_access_denied(httpx.get(unsigned(blob_url)))


# -- 2. the default anonymous role reads tasks ---------------------------------------


def test_anonymous_reads_tasks_and_public_artifacts(lc: LocalCluster, worker: Worker) -> None:
    run = claimed(lc, worker)
    run.upload("public/a.txt", b"a", content_type="text/plain")
    run.upload("private/b.txt", b"b", content_type="text/plain")
    task_id = run.task_id
    group = queue(lc).task(task_id)["taskGroupId"]
    index(lc).insertTask(
        "anon.x", {"taskId": task_id, "rank": 0, "data": {}, "expires": at(lc, days=1)}
    )
    anon = anonymous_queue(lc)
    assert anon.task(task_id)["taskQueueId"] == TQ
    assert anon.status(task_id)["status"]["state"] == "running"
    assert anon.listTaskGroup(group)["tasks"][0]["status"]["taskId"] == task_id
    assert anon.listDependentTasks(task_id)["tasks"] == []
    assert len(anon.listArtifacts(task_id, 0)["artifacts"]) == 2
    assert len(anon.listLatestArtifacts(task_id)["artifacts"]) == 2
    anon_index = taskcluster.Index({"rootUrl": lc.root_url, "maxRetries": 0})
    assert anon_index.findTask("anon.x")["taskId"] == task_id
    assert anon_index.listNamespaces("")["namespaces"][0]["name"] == "anon"
    assert anon_index.listTasks("anon")["tasks"][0]["taskId"] == task_id
    # ... but nothing private, and nothing that changes state
    expect_error(403, "InsufficientScopes", anon.getArtifact, task_id, 0, "private/b.txt")
    expect_error(403, "InsufficientScopes", anon.cancelTask, task_id)
    err = rest_error(
        anon_index.insertTask,
        "anon.y",
        {"taskId": task_id, "rank": 0, "data": {}, "expires": at(lc, days=1)},
    )
    assert err.status_code == 403
    assert lc.auth.anonymous().scopes == tuple(sorted({"assume:anonymous", *ANONYMOUS_SCOPES}))


def test_authorized_scopes_narrowed_to_nothing_still_read_tasks(lc: LocalCluster) -> None:
    # primer i: the anonymous role applies on top of authorizedScopes
    task_id = create(queue(lc), lc)
    c = lc.root_credentials
    narrowed = taskcluster.Queue(
        {
            "rootUrl": lc.root_url,
            "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
            "authorizedScopes": [],
            "maxRetries": 0,
        }
    )
    assert narrowed.task(task_id)["taskQueueId"] == TQ
    assert narrowed.status(task_id)["status"]["taskId"] == task_id
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        narrowed.cancelTask(task_id)
    assert info.value.status_code == 403


def test_the_anonymous_role_can_be_narrowed(lc: LocalCluster) -> None:
    task_id = create(queue(lc), lc)
    lc.add_role("anonymous", NARROW)
    anon = anonymous_queue(lc)
    expect_error(403, "InsufficientScopes", anon.status, task_id)
    expect_error(403, "InsufficientScopes", anon.task, task_id)
    assert lc.auth.anonymous().scopes == ("assume:anonymous", *NARROW)


# -- 3. createArtifact(object) reserves the upload -----------------------------------


def test_create_artifact_object_reserves_the_upload(lc: LocalCluster) -> None:
    q = queue(lc)
    task_id = create(q, lc)
    [claim] = q.claimWork(TQ, {"workerGroup": "wg", "workerId": "w1", "tasks": 1})["tasks"]
    tq = task_queue(lc, claim)
    body = {
        "storageType": "object",
        "expires": claim["task"]["expires"],
        "contentType": "text/plain",
    }
    created = tq.createArtifact(task_id, 0, "public/o.bin", body)
    name, ids = (
        created["name"],
        {"projectId": created["projectId"], "uploadId": created["uploadId"]},
    )
    ob = object_client(lc, created["credentials"])
    data = b"hi"
    inline = {
        "dataInline": {"contentType": "text/plain", "objectData": base64.b64encode(data).decode()}
    }
    for change in ({"uploadId": slug_id()}, {"expires": at(lc, hours=2)}):
        upload = {**ids, "expires": created["expires"], "proposedUploadMethods": inline, **change}
        expect_error(409, "RequestConflict", ob.createUpload, name, upload)
    root = {
        "clientId": lc.root_credentials.client_id,
        "accessToken": lc.root_credentials.access_token,
    }
    other_project = {
        **ids,
        "projectId": "elsewhere",
        "expires": created["expires"],
        "proposedUploadMethods": inline,
    }
    expect_error(409, "RequestConflict", object_client(lc, root).createUpload, name, other_project)
    # the queue's own values still work, and the artifact finishes
    upload = {**ids, "expires": created["expires"], "proposedUploadMethods": inline}
    assert ob.createUpload(name, upload)["uploadMethod"] == {"dataInline": True}
    ob.finishUpload(name, {**ids, "hashes": {"sha256": hashlib.sha256(data).hexdigest()}})
    tq.finishArtifact(task_id, 0, "public/o.bin", {"uploadId": created["uploadId"]})
    assert (
        httpx.get(artifact_url(lc, task_id, "public/o.bin"), follow_redirects=True).content == data
    )


# -- 4./5. paging: tokens and limit=0 ---------------------------------------------------


def test_index_listings_refuse_a_malformed_token(lc: LocalCluster) -> None:
    idx = index(lc)
    for i in range(3):
        idx.insertTask(
            f"tok.e{i}.x", {"taskId": slug_id(), "rank": 0, "data": {}, "expires": at(lc, days=1)}
        )
    bad = {"continuationToken": "!!garbage!!"}
    for call, args in [(idx.listTasks, ("tok.e0",)), (idx.listNamespaces, ("tok",))]:
        err = rest_error(call, *args, query=bad)
        assert (err.status_code, err.body["code"]) == (400, "InputError")
    body = {"indexes": ["tok.e0.x"]}
    err = rest_error(idx.findTasksAtIndex, payload=body, query=bad)
    assert (err.status_code, err.body["code"]) == (400, "InputError")


def test_empty_continuation_token_is_invalid(lc: LocalCluster, worker: Worker) -> None:
    run = claimed(lc, worker)
    group = queue(lc).task(run.task_id)["taskGroupId"]
    empty = {"continuationToken": ""}
    q, idx = queue(lc), index(lc)
    for call, args in [
        (q.listTaskGroup, (group,)),
        (q.listLatestArtifacts, (run.task_id,)),
        (idx.listTasks, ("",)),
        (idx.listNamespaces, ("",)),
    ]:
        err = rest_error(call, *args, query=empty)
        assert (err.status_code, err.body["code"]) == (400, "InvalidRequestArguments")


def test_limit_zero_is_an_empty_page_without_token(lc: LocalCluster, worker: Worker) -> None:
    run = claimed(lc, worker)
    for i in range(3):
        run.reference(f"public/r{i}", "https://example.com/")
    q, idx = queue(lc), index(lc)
    group = q.task(run.task_id)["taskGroupId"]
    for i in range(3):
        create(q, lc, taskGroupId=group)
        idx.insertTask(
            f"zero.e{i}.x",
            {"taskId": run.task_id, "rank": 0, "data": {}, "expires": at(lc, days=1)},
        )
    zero = {"limit": "0"}
    pages = {
        ("queue", "listTaskGroup", "tasks"): q.listTaskGroup(group, query=zero),
        ("queue", "listArtifacts", "artifacts"): q.listArtifacts(run.task_id, 0, query=zero),
        ("index", "listTasks", "tasks"): idx.listTasks("zero.e0", query=zero),
        ("index", "listNamespaces", "namespaces"): idx.listNamespaces("zero", query=zero),
    }
    for (service, entry, key), page in pages.items():
        validate_endpoint(service, entry, response=page)
        assert page[key] == [] and "continuationToken" not in page, (entry, page)


# -- 6. a second Worker with the same id --------------------------------------------------


def test_a_second_worker_with_the_same_id_keeps_the_first_working(lc: LocalCluster) -> None:
    q = queue(lc)
    first_task, second_task = create(q, lc), create(q, lc)
    with Worker(lc, TQ, worker_id="same") as first, Worker(lc, TQ, worker_id="same") as second:
        assert first.claim_task(first_task).task_id == first_task
        assert second.claim_task(second_task).task_id == second_task


# -- 7. InsufficientScopes lists only what is missing --------------------------------------


def test_insufficient_scopes_message_lists_only_the_missing_part(lc: LocalCluster) -> None:
    creds = lc.add_client(
        "creator",
        ["queue:create-task:project:none", "queue:create-task:highest:*", "queue:route:*"],
    )
    limited = queue(lc, creds)
    body = expect_error(403, "InsufficientScopes", create, limited, lc, routes=["a.b"])
    message = body["message"]
    missing, _, required = message.partition("The call requires")
    assert '```\n"queue:scheduler-id:-"\n```' in missing
    assert "queue:create-task:project:none" not in missing
    assert "queue:route:a.b" not in missing
    assert "queue:create-task:project:none" in required
    # a link: only the name the caller may not read is missing
    with Worker(lc, TQ) as w:
        run = claimed(lc, w)
        run.upload("private/x", b"x", content_type="text/plain")
        run.link("public/link", "private/x")
    body = expect_error(
        403, "InsufficientScopes", anonymous_queue(lc).getArtifact, run.task_id, 0, "public/link"
    )
    missing = body["message"].partition("The call requires")[0]
    assert '```\n"queue:get-artifact:private/x"\n```' in missing
    assert "public/link" not in missing


# -- 8. replies are serialized under the cluster lock -------------------------------------


def test_replies_are_serialized_while_the_lock_is_held(
    lc: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = create(queue(lc), lc)
    held: list[bool] = []
    original = server_module._to_reply

    def spy(result: Any) -> Any:
        free: list[bool] = []
        # another thread can take the lock only if the handler's thread let it go
        probe = threading.Thread(
            target=lambda: free.append(
                lc.state.lock.acquire(blocking=False) and not lc.state.lock.release()
            )
        )
        probe.start()
        probe.join()
        held.append(not free[0])
        return original(result)

    monkeypatch.setattr(server_module, "_to_reply", spy)
    assert queue(lc).task(task_id)["taskQueueId"] == TQ
    assert held and all(held)
