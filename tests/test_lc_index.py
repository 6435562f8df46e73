"""The local cluster's index service, driven over HTTP by the official client.

Every request and response body is checked against the real schemas.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import taskcluster
from schemas import Checked, validate_endpoint

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing._core import ApiError, iso, parse_iso
from tcmodel.utils import slug_id

DAY = 86400
T1, T2, T3 = (slug_id() for _ in range(3))


@pytest.fixture
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def small_lc() -> Iterator[LocalCluster]:
    with LocalCluster(settings=Settings(max_page_size=7)) as cluster:
        yield cluster


def index(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official Index client, with the root credentials by default."""
    c = creds or lc.root_credentials
    credentials = {"clientId": c.client_id, "accessToken": c.access_token}
    options = {"rootUrl": lc.root_url, "maxRetries": 0, "credentials": credentials}
    return Checked(taskcluster.Index(options), "index")


def anonymous_index(lc: LocalCluster) -> Any:
    """An official Index client without credentials."""
    return Checked(taskcluster.Index({"rootUrl": lc.root_url, "maxRetries": 0}), "index")


def advance(lc: LocalCluster, seconds: float) -> Any:
    """Move the cluster clock; Hawk headers made with real time are then
    stale (as on a real deployment), so return an anonymous client whose
    role may read the index."""
    lc.add_role("anonymous", [*lc.state.roles["anonymous"], "index:find-task:*", "index:list-*"])
    lc.advance(seconds)
    return anonymous_index(lc)


def entry(task_id: str, *, rank: float = 0, hours: float = 24, data: Any = None) -> dict[str, Any]:
    return {"taskId": task_id, "rank": rank, "data": data or {}, "expires": iso(_at(hours))}


NOW = time.time()


def _at(hours: float) -> float:
    """A time ``hours`` after a fixed reference, so expiries compare easily."""
    return NOW + hours * 3600


def insert(idx: Any, namespace: str, payload: dict[str, Any]) -> dict[str, Any]:
    validate_endpoint("index", "insertTask", request=payload)
    result: dict[str, Any] = idx.insertTask(namespace, payload)
    validate_endpoint("index", "insertTask", response=result)
    return result


def find(idx: Any, path: str) -> dict[str, Any]:
    result: dict[str, Any] = idx.findTask(path)
    validate_endpoint("index", "findTask", response=result)
    return result


def error_of(call: Any, *args: Any, **kwargs: Any) -> taskcluster.TaskclusterRestFailure:
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        call(*args, **kwargs)
    return info.value


def list_all(idx: Any, entry_name: str, namespace: str, key: str, **query: Any) -> list[Any]:
    """Every item of a paged listing, validating each page."""
    items: list[Any] = []
    token = None
    while True:
        q = dict(query, **({"continuationToken": token} if token else {}))
        page = getattr(idx, entry_name)(namespace, query=q)
        validate_endpoint("index", entry_name, response=page)
        items += page[key]
        token = page.get("continuationToken")
        if not token:
            return items


# -- insert / find ------------------------------------------------------------


def test_insert_then_find_returns_the_entry(lc: LocalCluster) -> None:
    idx = index(lc)
    payload = entry(T1, rank=3, data={"revision": "abc"})
    inserted = insert(idx, "proj.main.latest", payload)
    assert inserted == {
        "namespace": "proj.main.latest",
        "taskId": T1,
        "rank": 3,
        "data": {"revision": "abc"},
        "expires": payload["expires"],
    }
    assert find(idx, "proj.main.latest") == inserted


def test_lower_rank_keeps_the_old_entry_and_equal_rank_replaces(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "proj.rank", entry(T1, rank=5))
    kept = insert(idx, "proj.rank", entry(T2, rank=4))
    assert (kept["taskId"], kept["rank"]) == (T1, 5)  # 200 with the OLD entry
    assert find(idx, "proj.rank")["taskId"] == T1
    replaced = insert(idx, "proj.rank", entry(T3, rank=5, data={"x": 1}))
    assert (replaced["taskId"], replaced["data"]) == (T3, {"x": 1})
    assert find(idx, "proj.rank")["taskId"] == T3
    assert insert(idx, "proj.rank", entry(T2, rank=6))["taskId"] == T2


def test_find_unknown_path_is_404(lc: LocalCluster) -> None:
    err = error_of(index(lc).findTask, "no.such.path")
    assert err.status_code == 404
    assert err.body["code"] == "ResourceNotFound"


def test_entry_is_gone_after_it_expires(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "proj.short", entry(T1, hours=1))
    insert(idx, "proj.long", entry(T2, hours=48))
    assert find(idx, "proj.short")["taskId"] == T1
    idx = advance(lc, 2 * 3600)
    assert error_of(idx.findTask, "proj.short").status_code == 404
    assert [t["namespace"] for t in list_all(idx, "listTasks", "proj", "tasks")] == ["proj.long"]


def test_entry_with_past_expiry_is_not_found(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "proj.old", entry(T1, hours=-1))
    assert error_of(idx.findTask, "proj.old").status_code == 404


def test_parent_namespaces_are_created_and_expire_at_next_midnight(lc: LocalCluster) -> None:
    idx = index(lc)
    first = entry(T1, hours=24)
    insert(idx, "a.b.c.leaf", first)
    expected = iso((math.floor(parse_iso(first["expires"]) / DAY) + 1) * DAY)
    for parent, child in [("", "a"), ("a", "a.b"), ("a.b", "a.b.c")]:
        (ns,) = list_all(idx, "listNamespaces", parent, "namespaces")
        assert ns == {"namespace": child, "name": child.rsplit(".", 1)[-1], "expires": expected}
    # a later entry pushes every ancestor forward; an earlier one does not pull back
    insert(idx, "a.b.other", entry(T2, hours=24 * 10))
    insert(idx, "a.b.c.early", entry(T3, hours=1))
    later = iso((math.floor(_at(24 * 10) / DAY) + 1) * DAY)
    assert list_all(idx, "listNamespaces", "", "namespaces")[0]["expires"] == later
    assert list_all(idx, "listNamespaces", "a.b", "namespaces")[0]["expires"] == expected


def test_namespaces_expire_with_their_entries(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "gone.soon.x", entry(T1, hours=1))
    idx = advance(lc, 3 * DAY)
    assert list_all(idx, "listNamespaces", "", "namespaces") == []


def test_list_shows_direct_children_only(lc: LocalCluster) -> None:
    idx = index(lc)
    for path in ["p.t1", "p.t2", "p.sub.t3", "p.sub.deeper.t4", "q.t5", "root"]:
        insert(idx, path, entry(T1))
    tasks = list_all(idx, "listTasks", "p", "tasks")
    assert [t["namespace"] for t in tasks] == ["p.t1", "p.t2"]
    names = list_all(idx, "listNamespaces", "p", "namespaces")
    assert [(n["namespace"], n["name"]) for n in names] == [("p.sub", "sub")]
    assert [n["name"] for n in list_all(idx, "listNamespaces", "", "namespaces")] == ["p", "q"]
    assert [t["namespace"] for t in list_all(idx, "listTasks", "", "tasks")] == ["root"]


def test_list_tasks_pages_by_max_page_size_and_limit(small_lc: LocalCluster) -> None:
    idx = index(small_lc)
    names = [f"n{i:02d}" for i in range(20)]
    for n in names:
        insert(idx, f"big.{n}", entry(T1))
    first = idx.listTasks("big")
    validate_endpoint("index", "listTasks", response=first)
    assert len(first["tasks"]) == 7 and "continuationToken" in first
    capped = idx.listTasks("big", query={"limit": 500})
    assert len(capped["tasks"]) == 7
    assert [t["namespace"] for t in list_all(idx, "listTasks", "big", "tasks", limit=3)] == [
        f"big.{n}" for n in names
    ]
    last = idx.listTasks("big", query={"limit": 20})
    assert len(last["tasks"]) == 7  # still capped at max_page_size
    exact = index(small_lc).listTasks("big", query={"limit": 5})
    assert len(exact["tasks"]) == 5


def test_list_namespaces_pages(small_lc: LocalCluster) -> None:
    idx = index(small_lc)
    for i in range(16):
        insert(idx, f"tree.ns{i:02d}.leaf", entry(T1))
    pages = []
    token = None
    while True:
        page = idx.listNamespaces("tree", query={"continuationToken": token} if token else {})
        validate_endpoint("index", "listNamespaces", response=page)
        pages.append(len(page["namespaces"]))
        token = page.get("continuationToken")
        if not token:
            break
    assert pages == [7, 7, 2]


def test_no_token_when_the_last_page_is_full(small_lc: LocalCluster) -> None:
    idx = index(small_lc)
    for i in range(7):
        insert(idx, f"seven.t{i}", entry(T1))
    page = idx.listTasks("seven")
    assert len(page["tasks"]) == 7 and "continuationToken" not in page


def test_garbled_or_foreign_token_is_400(small_lc: LocalCluster) -> None:
    # Primer d: the index lists use offset tokens, and a garbled one is a
    # 400 InputError (only the artifact listings' cursors restart).
    idx = index(small_lc)
    for i in range(10):
        insert(idx, f"g.t{i}", entry(T1))
        insert(idx, f"h.t{i}", entry(T1))
    first = idx.listTasks("g")
    garbled = error_of(idx.listTasks, "g", query={"continuationToken": "not!a~token"})
    assert (garbled.status_code, garbled.body["code"]) == (400, "InputError")
    foreign = idx.listTasks("h")["continuationToken"]
    err = error_of(idx.listTasks, "g", query={"continuationToken": foreign})
    assert (err.status_code, err.body["code"]) == (400, "InputError")
    second = idx.listTasks("g", query={"continuationToken": first["continuationToken"]})
    assert second["tasks"][0]["namespace"] == "g.t7"


def test_listing_thousands_of_entries(lc: LocalCluster) -> None:
    with lc.state.lock:
        for i in range(2500):
            lc.state.index.insert(f"many.e{i:05d}", T1, rank=i, expires=_at(24))
    idx = index(lc)
    first = idx.listTasks("many")
    assert len(first["tasks"]) == 1000  # the default page size
    tasks = list_all(idx, "listTasks", "many", "tasks")
    assert [t["rank"] for t in tasks] == list(range(2500))


def test_bad_limit_is_400(lc: LocalCluster) -> None:
    err = error_of(index(lc).listTasks, "x", query={"limit": "ten"})
    assert (err.status_code, err.body["code"]) == (400, "InvalidRequestArguments")


# -- findTasksAtIndex -------------------------------------------------------------


def test_find_tasks_at_index_returns_the_entries_found(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "a.x", entry(T1))
    insert(idx, "a.y", entry(T2))
    insert(idx, "b.z", entry(T3))
    body = {"indexes": ["a.x", "missing.one", "b.z", "a.x"]}
    validate_endpoint("index", "findTasksAtIndex", request=body)
    result = idx.findTasksAtIndex(body)
    validate_endpoint("index", "findTasksAtIndex", response=result)
    assert [(t["namespace"], t["taskId"]) for t in result["tasks"]] == [("a.x", T1), ("b.z", T3)]
    assert "continuationToken" not in result


def test_find_tasks_at_index_token_works_only_with_the_same_body(lc: LocalCluster) -> None:
    idx = index(lc)
    for i in range(5):
        insert(idx, f"fi.t{i}", entry(T1, rank=i))
    body = {"indexes": [f"fi.t{i}" for i in range(5)]}
    validate_endpoint("index", "findTasksAtIndex", request=body)
    first = idx.findTasksAtIndex(payload=body, query={"limit": 2})
    validate_endpoint("index", "findTasksAtIndex", response=first)
    token = first["continuationToken"]
    second = idx.findTasksAtIndex(payload=body, query={"limit": 2, "continuationToken": token})
    assert [t["rank"] for t in second["tasks"]] == [2, 3]
    other = {"indexes": [f"fi.t{i}" for i in reversed(range(5))]}
    err = error_of(
        idx.findTasksAtIndex, payload=other, query={"limit": 2, "continuationToken": token}
    )
    assert (err.status_code, err.body["code"]) == (400, "InputError")


def test_find_tasks_at_index_needs_find_task_scope_for_every_path(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    insert(index(lc), "a.x", entry(T1))
    creds = lc.add_client("finder", ["index:find-task:a.*"])
    idx = index(lc, creds)
    result = idx.findTasksAtIndex({"indexes": ["a.x"]})
    validate_endpoint("index", "findTasksAtIndex", response=result)
    assert result["tasks"][0]["taskId"] == T1
    err = error_of(idx.findTasksAtIndex, {"indexes": ["a.x", "b.z"]})
    assert (err.status_code, err.body["code"]) == (403, "InsufficientScopes")


# -- deleteTask -----------------------------------------------------------------


def test_delete_task_removes_the_entry_but_not_the_namespace(lc: LocalCluster) -> None:
    idx = index(lc)
    insert(idx, "del.me.now", entry(T1, rank=9))
    idx.deleteTask("del.me.now")
    assert error_of(idx.findTask, "del.me.now").status_code == 404
    assert [n["namespace"] for n in list_all(idx, "listNamespaces", "del", "namespaces")] == [
        "del.me"
    ]
    # a lower-rank entry was never stored, so nothing comes back; deleting again is fine
    idx.deleteTask("del.me.now")
    assert insert(idx, "del.me.now", entry(T2, rank=0))["taskId"] == T2


# -- validation and scopes -------------------------------------------------------


@pytest.mark.parametrize("namespace", ["a..b", "a/b", ".a", "a.", "sp ace"])
def test_bad_namespace_is_400(lc: LocalCluster, namespace: str) -> None:
    err = error_of(index(lc).insertTask, namespace, entry(T1))
    assert (err.status_code, err.body["code"]) == (400, "InvalidRequestArguments")
    assert error_of(index(lc).findTask, namespace).status_code == 400


def test_bad_insert_body_is_400(lc: LocalCluster) -> None:
    idx = index(lc)
    for bad in [
        {**entry(T1), "taskId": "not-a-slug"},
        {**entry(T1), "rank": "high"},
        {**entry(T1), "expires": "tomorrow"},
        {**entry(T1), "extra": 1},
        {"taskId": T1, "rank": 0, "data": {}},
    ]:
        err = error_of(idx.insertTask, "v.x", bad)
        assert (err.status_code, err.body["code"]) == (400, "InputValidationError")


def test_scopes_are_enforced(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    insert(index(lc), "sec.ret", entry(T1))
    creds = lc.add_client("reader", ["index:find-task:sec.*", "index:list-tasks:sec"])
    idx = index(lc, creds)
    assert find(idx, "sec.ret")["taskId"] == T1
    assert len(idx.listTasks("sec")["tasks"]) == 1
    for call, args in [
        (idx.insertTask, ("sec.new", entry(T2))),
        (idx.deleteTask, ("sec.ret",)),
        (idx.listNamespaces, ("sec",)),
        (anonymous_index(lc).findTask, ("sec.ret",)),
    ]:
        err = error_of(call, *args)
        assert (err.status_code, err.body["code"]) == (403, "InsufficientScopes")


# -- automatic indexing -----------------------------------------------------------


def test_completed_task_is_indexed_under_its_routes(lc: LocalCluster) -> None:
    task = {
        "routes": ["index.proj.auto.latest", "index.proj.auto.rev-abc", "index.bad/x", "tc.x"],
        "expires": iso(_at(48)),
        "extra": {"index": {"rank": 12, "data": {"k": "v"}}},
    }
    with lc.state.lock:
        lc.state.index.on_task_completed(T1, task)
    idx = index(lc)
    for path in ["proj.auto.latest", "proj.auto.rev-abc"]:
        found = find(idx, path)
        assert (found["taskId"], found["rank"], found["data"]) == (T1, 12, {"k": "v"})
        assert found["expires"] == task["expires"]
    assert [n["name"] for n in list_all(idx, "listNamespaces", "", "namespaces")] == ["proj"]


def test_completed_task_defaults_and_bad_options(lc: LocalCluster) -> None:
    with lc.state.lock:
        lc.state.index.on_task_completed(T1, {"routes": ["index.d.x"], "expires": iso(_at(5))})
        bad_rank = {
            "routes": ["index.d.y"],
            "expires": iso(_at(5)),
            "extra": {"index": {"rank": "1"}},
        }
        lc.state.index.on_task_completed(T2, bad_rank)
    found = find(index(lc), "d.x")
    assert (found["rank"], found["data"], found["expires"]) == (0, {}, iso(_at(5)))
    assert error_of(index(lc).findTask, "d.y").status_code == 404


def claimed_task(lc: LocalCluster, task: dict[str, Any]) -> tuple[str, Any]:
    """Create and claim ``task`` through the queue's HTTP API; returns its
    taskId and a Queue client with the run's temporary credentials."""
    c = lc.root_credentials
    opts = {
        "rootUrl": lc.root_url,
        "maxRetries": 0,
        "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
    }
    queue = taskcluster.Queue(opts)
    task_id = slug_id()
    queue.createTask(task_id, task)
    claim = queue.claimWork(task["taskQueueId"], {"workerGroup": "g", "workerId": "w", "tasks": 1})
    (claimed,) = claim["tasks"]
    creds = claimed["credentials"]
    worker = taskcluster.Queue({"rootUrl": lc.root_url, "maxRetries": 0, "credentials": creds})
    return task_id, worker


def task_definition(routes: list[str]) -> dict[str, Any]:
    return {
        "taskQueueId": "proj/ci",
        "schedulerId": "tests",
        "routes": routes,
        "created": iso(_at(0)),
        "deadline": iso(_at(1)),
        "expires": iso(_at(48)),
        "payload": {},
        "metadata": {"name": "t", "description": "d", "owner": "a@b.c", "source": "https://x.y"},
        "extra": {"index": {"rank": 3}},
    }


def _make_artifacts(lc: LocalCluster, task_id: str, worker: Any) -> None:
    """A public and a private s3 artifact on run 0, then complete the task."""
    for name in ("public/build.txt", "private/secret.txt"):
        res = worker.createArtifact(
            task_id,
            "0",
            name,
            {"storageType": "s3", "contentType": "text/plain", "expires": iso(_at(24))},
        )
        put = httpx.put(
            res["putUrl"], content=name.encode(), headers={"Content-Type": "text/plain"}
        )
        assert put.status_code == 200
    worker.reportCompleted(task_id, "0")


def test_task_completed_through_the_queue_is_indexed(lc: LocalCluster) -> None:
    task_id, worker = claimed_task(lc, task_definition(["index.proj.ci.latest"]))
    _make_artifacts(lc, task_id, worker)
    found = find(index(lc), "proj.ci.latest")
    assert (found["taskId"], found["rank"]) == (task_id, 3)


def test_failed_task_is_not_indexed(lc: LocalCluster) -> None:
    task_id, worker = claimed_task(lc, task_definition(["index.proj.failed"]))
    worker.reportFailed(task_id, "0")
    assert error_of(index(lc).findTask, "proj.failed").status_code == 404


# -- findArtifactFromTask -------------------------------------------------------------


def _redirect(lc: LocalCluster, path: str, name: str, creds: Credentials | None) -> str:
    idx = index(lc, creds) if creds else anonymous_index(lc)
    result = idx.findArtifactFromTask(path, name)
    response = result["response"]
    assert response.status_code == 303
    location: str = response.headers["Location"]
    return location


def test_find_artifact_unknown_path_is_404(lc: LocalCluster) -> None:
    err = error_of(index(lc).findArtifactFromTask, "no.such", "public/x")
    assert (err.status_code, err.body["code"]) == (404, "ResourceNotFound")


def test_find_artifact_needs_get_artifact_scope(lc: LocalCluster) -> None:
    insert(index(lc), "fa.task", entry(T1))
    err = error_of(anonymous_index(lc).findArtifactFromTask, "fa.task", "private/x")
    assert (err.status_code, err.body["code"]) == (403, "InsufficientScopes")


def test_find_artifact_private_name_redirects_to_a_signed_queue_url(lc: LocalCluster) -> None:
    insert(index(lc), "fa.task", entry(T1))
    location = _redirect(lc, "fa.task", "private/dir/a b.txt", lc.root_credentials)
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == lc.root_url
    assert parts.path == f"/api/queue/v1/task/{T1}/artifacts/private%2Fdir%2Fa%20b.txt"
    (bewit,) = parse_qs(parts.query)["bewit"]
    assert lc.root_credentials.access_token not in location

    def check(now: float) -> Any:
        host, port = parts.hostname or "", parts.port or 80
        return lc.auth.authenticate_bewit(
            method="GET", resource=parts.path, host=host, port=port, bewit=bewit, now=now
        )

    # signed by the index's own client, which may read any artifact, for 15 minutes
    identity = check(lc.clock.now())
    assert identity.client_id == "static/taskcluster/index"
    assert "queue:get-artifact:*" in identity.scopes
    assert check(lc.clock.now() + 14 * 60).client_id == identity.client_id
    with pytest.raises(ApiError) as info:
        check(lc.clock.now() + 15 * 60 + 1)
    assert info.value.status == 401


def test_find_artifact_public_name_without_artifact_goes_to_unsigned_queue_url(
    lc: LocalCluster,
) -> None:
    insert(index(lc), "fa.task", entry(T1))
    location = _redirect(lc, "fa.task", "public/missing.txt", None)
    assert location == f"{lc.root_url}/api/queue/v1/task/{T1}/artifacts/public%2Fmissing.txt"


def test_find_artifact_redirects_resolve_through_the_queue(lc: LocalCluster) -> None:
    task_id, worker = claimed_task(lc, task_definition(["index.proj.art.latest"]))
    _make_artifacts(lc, task_id, worker)
    # public: straight to the storage, no queue hop
    public = _redirect(lc, "proj.art.latest", "public/build.txt", None)
    assert public.startswith(lc.blob_url)
    assert httpx.get(public).content == b"public/build.txt"
    # private: a queue URL signed by the index that works without credentials...
    private = _redirect(lc, "proj.art.latest", "private/secret.txt", lc.root_credentials)
    assert private.startswith(f"{lc.root_url}/api/queue/v1/task/{task_id}/artifacts/")
    followed = httpx.get(private, follow_redirects=True)
    assert followed.status_code == 200 and followed.content == b"private/secret.txt"
    # ...for 15 minutes
    lc.advance(16 * 60)
    expired = httpx.get(private)
    assert expired.status_code == 401
    assert expired.json()["code"] == "AuthenticationFailed"
