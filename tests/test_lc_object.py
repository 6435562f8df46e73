"""The local cluster's object service, driven over HTTP by the official client.

Every request and response body is checked against the real schemas; data
moves to and from the blob origin with httpx.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import taskcluster
from schemas import Checked, validate_endpoint
from test_lc_index import claimed_task, index, task_definition

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import iso, parse_iso
from tcmodel.utils import slug_id

NAME = "t/Dx4tPEtaRpeIeWpbTD0uHw/0/public/logs/a b.txt"
DATA = b"hello object service\n" * 50
PROJECT = "proj/ci"


@pytest.fixture
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


def objects(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official Object client, with the root credentials by default."""
    c = creds or lc.root_credentials
    credentials = {"clientId": c.client_id, "accessToken": c.access_token}
    options = {"rootUrl": lc.root_url, "maxRetries": 0, "credentials": credentials}
    return Checked(taskcluster.Object(options), "object")


def hashes(data: bytes) -> dict[str, str]:
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }


def expires(hours: float = 24) -> str:
    return iso(time.time() + hours * 3600)


def upload_request(
    upload_id: str | None = None, methods: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A createUpload body for PROJECT, expiring in a day."""
    return {
        "projectId": PROJECT,
        "uploadId": upload_id or slug_id(),
        "expires": expires(),
        "proposedUploadMethods": methods or {},
        **extra,
    }


def put_method(length: int, content_type: str = "text/plain") -> dict[str, Any]:
    return {"putUrl": {"contentType": content_type, "contentLength": length}}


def create(obj: Any, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    validate_endpoint("object", "createUpload", request=payload)
    result: dict[str, Any] = obj.createUpload(name, payload)
    validate_endpoint("object", "createUpload", response=result)
    return result


def finish(obj: Any, name: str, payload: dict[str, Any]) -> Any:
    validate_endpoint("object", "finishUpload", request=payload)
    return obj.finishUpload(name, payload)


def start_download(obj: Any, name: str, methods: dict[str, bool]) -> dict[str, Any]:
    payload = {"acceptDownloadMethods": methods}
    validate_endpoint("object", "startDownload", request=payload)
    result: dict[str, Any] = obj.startDownload(name, payload)
    validate_endpoint("object", "startDownload", response=result)
    return result


def start_put_upload(
    lc: LocalCluster, name: str, data: bytes | None, *, content_encoding: str | None = None
) -> tuple[str, dict[str, Any]]:
    """createUpload with putUrl and PUT ``data`` (gzipped for ``"gzip"``;
    nothing for ``None``); returns the uploadId and the createUpload answer."""
    stored = gzip.compress(data or b"") if content_encoding == "gzip" else data or b""
    upload_id = slug_id()
    created = create(objects(lc), name, upload_request(upload_id, put_method(len(stored))))
    put = created["uploadMethod"]["putUrl"]
    if data is not None:
        headers = dict(put["headers"])
        if content_encoding:
            headers["Content-Encoding"] = content_encoding
        assert httpx.put(put["url"], content=stored, headers=headers).status_code == 200
    return upload_id, created


def put_url_upload(lc: LocalCluster, name: str = NAME, data: bytes = DATA) -> tuple[str, Any]:
    """Upload ``data`` by putUrl and finish it with its hashes."""
    upload_id, created = start_put_upload(lc, name, data)
    finish(objects(lc), name, {"projectId": PROJECT, "uploadId": upload_id, "hashes": hashes(data)})
    return upload_id, created


def error_of(call: Any, *args: Any) -> taskcluster.TaskclusterRestFailure:
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        call(*args)
    return info.value


# -- uploads -------------------------------------------------------------------


def test_put_url_upload_and_get_url_download(lc: LocalCluster) -> None:
    upload_id, created = put_url_upload(lc)
    assert created["projectId"] == PROJECT and created["uploadId"] == upload_id
    put = created["uploadMethod"]["putUrl"]
    assert put["headers"] == {
        "Content-Type": "text/plain",
        "Content-Length": str(len(DATA)),
        "Content-Encoding": "identity",
    }
    assert put["url"].startswith(lc.blob_url)
    assert parse_iso(put["expires"]) > lc.clock.now() + 40 * 60

    before = lc.clock.now()
    answer = start_download(objects(lc), NAME, {"getUrl": True, "simple": True})
    assert answer["method"] == "getUrl"
    assert answer["hashes"] == hashes(DATA)
    assert before + 55 <= parse_iso(answer["expires"]) <= lc.clock.now() + 65
    got = httpx.get(answer["url"])
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["Content-Type"] == "text/plain"
    part = httpx.get(answer["url"], headers={"Range": "bytes=6-11"})
    assert part.status_code == 206 and part.content == DATA[6:12]


def test_get_url_lasts_two_minutes(lc: LocalCluster) -> None:
    put_url_upload(lc)
    answer = start_download(objects(lc), NAME, {"getUrl": True})
    lc.advance(110)  # past `expires` (60 s), but the URL itself lasts 120 s
    assert httpx.get(answer["url"]).status_code == 200
    lc.advance(15)
    assert httpx.get(answer["url"]).status_code == 403


def test_data_inline_upload(lc: LocalCluster) -> None:
    obj = objects(lc)
    data = bytes(range(256)) * 4
    upload_id = slug_id()
    inline = {"contentType": "application/x-bin", "objectData": base64.b64encode(data).decode()}
    methods = {"dataInline": inline, **put_method(len(data), "application/x-bin")}
    payload = upload_request(upload_id, methods, hashes=hashes(data))
    created = create(obj, "inline/obj", payload)
    assert created["uploadMethod"] == {"dataInline": True}  # preferred over putUrl
    assert created["expires"] == payload["expires"]
    finish(obj, "inline/obj", {"projectId": PROJECT, "uploadId": upload_id})
    simple = start_download(obj, "inline/obj", {"simple": True})
    assert simple["method"] == "simple"
    got = httpx.get(simple["url"])
    assert got.content == data and got.headers["Content-Type"] == "application/x-bin"


def test_bad_inline_data_is_400(lc: LocalCluster) -> None:
    obj = objects(lc)
    for data, code in [("!!not base64!!", "InputError"), ("QUFB" * 3000, "InputValidationError")]:
        payload = upload_request(None, {"dataInline": {"contentType": "a/b", "objectData": data}})
        err = error_of(obj.createUpload, f"bad/{code}", payload)
        assert (err.status_code, err.body["code"]) == (400, code)


def test_no_proposed_method_locks_in_the_upload(lc: LocalCluster) -> None:
    obj = objects(lc)
    upload_id = slug_id()
    payload = upload_request(upload_id)
    assert create(obj, "locked", payload)["uploadMethod"] == {}
    again = create(obj, "locked", payload)  # idempotent with the same values
    assert again["uploadId"] == upload_id
    for change in [{"uploadId": slug_id()}, {"projectId": "other"}, {"expires": expires(48)}]:
        err = error_of(obj.createUpload, "locked", {**payload, **change})
        assert (err.status_code, err.body["code"]) == (409, "RequestConflict")


def test_create_upload_after_finish_is_409(lc: LocalCluster) -> None:
    upload_id, _ = put_url_upload(lc)
    payload = upload_request(upload_id)
    for uid in (upload_id, slug_id()):
        err = error_of(objects(lc).createUpload, NAME, {**payload, "uploadId": uid})
        assert err.status_code == 409


def test_hashes_cannot_change(lc: LocalCluster) -> None:
    obj = objects(lc)
    upload_id = slug_id()
    payload = upload_request(upload_id, hashes={"sha256": hashes(DATA)["sha256"]})
    create(obj, "h", payload)
    other = {"sha256": hashes(b"other")["sha256"]}
    err = error_of(obj.createUpload, "h", {**payload, "hashes": other})
    assert err.status_code == 409
    err = error_of(
        obj.finishUpload, "h", {"projectId": PROJECT, "uploadId": upload_id, "hashes": other}
    )
    assert err.status_code == 409


# -- finishUpload ----------------------------------------------------------------


def test_finish_upload_checks(lc: LocalCluster) -> None:
    obj = objects(lc)
    upload_id, _ = start_put_upload(lc, "f", DATA)
    good = {"projectId": PROJECT, "uploadId": upload_id, "hashes": hashes(DATA)}
    cases = [
        ({**good, "uploadId": slug_id()}, 409, "RequestConflict"),
        ({**good, "projectId": "someone-else"}, 400, "InputError"),
        ({**good, "hashes": hashes(b"not the data")}, 409, "RequestConflict"),
        ({**good, "hashes": {"sha256": "ABC" * 21 + "D"}}, 400, "InputValidationError"),
    ]
    for body, status, code in cases:
        err = error_of(obj.finishUpload, "f", body)
        assert (err.status_code, err.body["code"]) == (status, code), body
    assert error_of(obj.object, "f").status_code == 404  # still unfinished
    finish(obj, "f", good)
    finish(obj, "f", {**good, "uploadId": slug_id(), "hashes": {"sha512": hashes(DATA)["sha512"]}})
    err = error_of(obj.finishUpload, "f", {**good, "hashes": {"md5": "0" * 32}})
    assert err.status_code == 409  # a new algorithm after finishing
    err = error_of(obj.finishUpload, "f", {**good, "hashes": hashes(b"x")})
    assert err.status_code == 409


def test_finish_without_data_is_409_and_unknown_is_404(lc: LocalCluster) -> None:
    obj = objects(lc)
    upload_id, _ = start_put_upload(lc, "nodata", None)
    err = error_of(obj.finishUpload, "nodata", {"projectId": PROJECT, "uploadId": upload_id})
    assert (err.status_code, err.body["code"]) == (409, "RequestConflict")
    err = error_of(obj.finishUpload, "unknown", {"projectId": PROJECT, "uploadId": upload_id})
    assert (err.status_code, err.body["code"]) == (404, "ResourceNotFound")


def test_gzip_upload_is_hashed_decoded(lc: LocalCluster) -> None:
    obj = objects(lc)
    upload_id, _ = start_put_upload(lc, "gz", DATA, content_encoding="gzip")
    finish(obj, "gz", {"projectId": PROJECT, "uploadId": upload_id, "hashes": hashes(DATA)})
    got = httpx.get(start_download(obj, "gz", {"getUrl": True})["url"])
    assert got.headers["Content-Encoding"] == "gzip" and got.content == DATA


def test_unfinished_upload_expires_after_a_day(lc: LocalCluster) -> None:
    upload_id, _ = start_put_upload(lc, "stale", DATA)
    lc.advance(86400 + 1)
    assert lc.state.objects.get_object("stale") is None
    assert lc.state.blobs.get("objects/stale") is None
    assert upload_id


# -- downloads and metadata ------------------------------------------------------


def test_metadata_and_download_redirect(lc: LocalCluster) -> None:
    put_url_upload(lc)
    obj = objects(lc)
    meta = obj.object(NAME)
    validate_endpoint("object", "object", response=meta)
    record = lc.state.objects.get_object(NAME)
    assert record is not None
    assert meta == {"projectId": PROJECT, "expires": iso(record["expires"]), "hashes": hashes(DATA)}
    response = obj.download(NAME)["response"]
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == lc.state.objects.simple_url(NAME)
    assert httpx.get(location).content == DATA


def test_download_with_a_bewit_and_a_raw_slash(lc: LocalCluster) -> None:
    put_url_upload(lc)
    url = objects(lc).buildSignedUrl("download", NAME)
    got = httpx.get(url, follow_redirects=True)
    assert got.status_code == 200 and got.content == DATA
    raw = f"{lc.root_url}/api/object/v1/download/{NAME.replace(' ', '%20')}"
    assert httpx.get(raw).status_code == 403  # anonymous: no object:download scope
    lc.add_role("anonymous", ["object:download:t/*"])
    reply = httpx.get(raw)  # the name may carry raw slashes
    assert reply.status_code == 303
    assert reply.headers["Location"] == lc.state.objects.simple_url(NAME)


def test_start_download_errors(lc: LocalCluster) -> None:
    obj = objects(lc)
    err = error_of(obj.startDownload, "nothing", {"acceptDownloadMethods": {"getUrl": True}})
    assert (err.status_code, err.body["code"]) == (404, "ResourceNotFound")
    start_put_upload(lc, "unfinished", DATA)
    for call, args in [
        (obj.startDownload, ("unfinished", {"acceptDownloadMethods": {"simple": True}})),
        (obj.object, ("unfinished",)),
        (obj.download, ("unfinished",)),
    ]:
        assert error_of(call, *args).status_code == 404
    put_url_upload(lc)
    err = error_of(obj.startDownload, NAME, {"acceptDownloadMethods": {}})
    assert (err.status_code, err.body["code"]) == (406, "NoMatchingMethod")


def test_object_expires(lc: LocalCluster) -> None:
    lc.state.objects.put_object("soon", b"x", project_id=PROJECT, expires=lc.clock.now() + 60)
    assert objects(lc).object("soon")["projectId"] == PROJECT
    lc.advance(61)
    assert error_of(objects(lc).object, "soon").status_code == 404
    assert lc.state.blobs.get("objects/soon") is None


def test_put_object_convenience(lc: LocalCluster) -> None:
    lc.state.objects.put_object(
        "conv/log.txt",
        DATA,
        project_id=PROJECT,
        expires=lc.clock.now() + 3600,
        content_type="text/plain; charset=utf-8",
        content_encoding="gzip",
    )
    answer = start_download(objects(lc), "conv/log.txt", {"getUrl": True})
    assert answer["hashes"] == hashes(DATA)
    got = httpx.get(answer["url"])
    assert got.headers["Content-Encoding"] == "gzip" and got.content == DATA
    record = lc.state.objects.get_object("conv/log.txt")
    assert record is not None and record["finished"] and record["projectId"] == PROJECT
    lc.state.objects.delete_object("conv/log.txt")
    assert error_of(objects(lc).object, "conv/log.txt").status_code == 404


# -- scopes -------------------------------------------------------------------------


def test_upload_needs_the_project_and_name_scope(lc: LocalCluster) -> None:
    payload = upload_request()
    allowed = lc.add_client("uploader", [f"object:upload:{PROJECT}:allowed/*"])
    assert create(objects(lc, allowed), "allowed/x", payload)["uploadId"] == payload["uploadId"]
    for client, name in [
        (lc.add_client("downloader", ["object:download:*"]), "allowed/y"),
        (lc.add_client("other-project", ["object:upload:other:*"]), "allowed/y"),
        (allowed, "elsewhere/x"),
    ]:
        err = error_of(objects(lc, client).createUpload, name, payload)
        assert (err.status_code, err.body["code"]) == (403, "InsufficientScopes")
    finish_body = {"projectId": PROJECT, "uploadId": payload["uploadId"]}
    err = error_of(objects(lc, lc.add_client("nobody", [])).finishUpload, "allowed/x", finish_body)
    assert err.status_code == 403


def test_download_needs_the_download_scope(lc: LocalCluster) -> None:
    put_url_upload(lc)
    reader = lc.add_client("reader", [f"object:download:{NAME}"])
    assert objects(lc, reader).object(NAME)["hashes"] == hashes(DATA)
    stranger = objects(lc, lc.add_client("stranger", ["object:download:other/*"]))
    for call, args in [
        (stranger.object, (NAME,)),
        (stranger.startDownload, (NAME, {"acceptDownloadMethods": {"simple": True}})),
        (stranger.download, (NAME,)),
    ]:
        err = error_of(call, *args)
        assert (err.status_code, err.body["code"]) == (403, "InsufficientScopes")


# -- object artifacts ---------------------------------------------------------------


def test_object_artifact_through_the_queue_and_the_index(lc: LocalCluster) -> None:
    task_id, worker = claimed_task(lc, task_definition(["index.proj.obj.latest"]))
    name = "public/obj.txt"
    request = {"storageType": "object", "contentType": "text/plain", "expires": expires(24)}
    validate_endpoint("queue", "createArtifact", request=request)
    art = worker.createArtifact(task_id, "0", name, request)
    validate_endpoint("queue", "createArtifact", response=art)
    assert art["name"] == f"t/{task_id}/0/{name}"
    # the worker uploads with the temporary credentials the queue gave it
    opts = {"rootUrl": lc.root_url, "maxRetries": 0, "credentials": art["credentials"]}
    uploader = taskcluster.Object(opts)
    payload = upload_request(
        art["uploadId"], put_method(len(DATA)), projectId=art["projectId"], expires=art["expires"]
    )
    put = create(uploader, art["name"], payload)["uploadMethod"]["putUrl"]
    assert httpx.put(put["url"], content=DATA, headers=put["headers"]).status_code == 200
    ids = {"projectId": art["projectId"], "uploadId": art["uploadId"]}
    finish(uploader, art["name"], {**ids, "hashes": hashes(DATA)})
    worker.finishArtifact(task_id, "0", name, {"uploadId": art["uploadId"]})
    worker.reportCompleted(task_id, "0")

    anonymous = taskcluster.Queue({"rootUrl": lc.root_url, "maxRetries": 0})
    redirect = anonymous.getLatestArtifact(task_id, name)  # 303 body {storageType, url}
    assert redirect["url"] == lc.state.objects.simple_url(art["name"])
    content = anonymous.latestArtifact(task_id, name)
    validate_endpoint("queue", "latestArtifact", response=content)
    opts = {"rootUrl": lc.root_url, "maxRetries": 0, "credentials": content["credentials"]}
    answer = start_download(taskcluster.Object(opts), content["name"], {"getUrl": True})
    assert answer["hashes"] == hashes(DATA) and httpx.get(answer["url"]).content == DATA
    # for a public object artifact the real index redirects to the queue's URL
    found = index(lc).findArtifactFromTask("proj.obj.latest", name)["response"]
    location = found.headers["Location"]
    assert location == f"{lc.root_url}/api/queue/v1/task/{task_id}/artifacts/public%2Fobj.txt"
    assert httpx.get(location, follow_redirects=True).content == DATA
