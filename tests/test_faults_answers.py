"""Fault suite: malformed answers to every API entry the model layer uses.

A scripted server on 127.0.0.1 answers a public call with a spoiled 200
body (the shapes and values of real answers, taken from the local cluster,
then broken); each must end as a :class:`~tcmodel.TaskclusterError` whose
message names the API call, after exactly the requests it needs (a
malformed answer is never retried), never as a ``KeyError``,
``TypeError``, ``RecursionError``, ``httpx.InvalidURL``…
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from httpstub import HTTPStub, Reply

import tcmodel
from tcmodel.errors import (
    ConnectionFailed,
    MalformedAnswer,
    PagingError,
    TaskclusterError,
)
from tcmodel.models import ModelDataError
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker
from tcmodel.utils import slug_id

CREDENTIALS = ("tcmodel/faults", "faults-access-token")
NOT_A_SLUG = "not a slug!"
DEEP = b"[" * 50_000 + b"]" * 50_000  # json.loads: RecursionError
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    """Real answers of the local cluster for one finished task with an
    artifact, indexed at ``proj.app.latest``: the good shapes to spoil."""
    with LocalCluster() as lc, lc.connect() as c:
        t = c.create_task(task_queue_id="proj/ci", payload={}, name="good")
        other = c.create_task(task_queue_id="proj/ci", payload={}, name="other")
        with Worker(lc, "proj/ci") as worker:
            worker.run(t.task_id, artifacts={"public/a.txt": b"hello"})
        c.index("proj.app.latest").insert(t)
        tid, gid = t.task_id, t.definition.task_group_id
        sealed = slug_id()
        c.create_task(task_queue_id="proj/ci", payload={}, name="s", task_group_id=sealed)
        c.task_group(sealed).seal()

        def ask(service: str, entry: str, /, **kw: Any) -> Any:
            return c.transport.request(service, entry, **kw)

        return {
            "taskId": tid,
            "otherId": other.task_id,
            "taskGroupId": gid,
            "status": ask("queue", "status", taskId=tid),
            "task": ask("queue", "task", taskId=tid),
            "listTaskGroup": ask("queue", "listTaskGroup", taskGroupId=gid),
            "getTaskGroup": ask("queue", "getTaskGroup", taskGroupId=gid),
            "listArtifacts": ask("queue", "listArtifacts", taskId=tid, runId=0),
            "artifactInfo": ask("queue", "artifactInfo", taskId=tid, runId=0, name="public/a.txt"),
            "statuses": ask("queue", "statuses", body={"taskIds": [tid]}),
            "tasks": ask("queue", "tasks", body={"taskIds": [tid]}),
            "findTask": ask("index", "findTask", indexPath="proj.app.latest"),
            "listNamespaces": ask("index", "listNamespaces", namespace="proj"),
            "listTasks": ask("index", "listTasks", namespace="proj.app"),
            "cancelTaskGroup": ask("queue", "cancelTaskGroup", taskGroupId=sealed),
        }


@pytest.fixture
def stub() -> Iterator[HTTPStub]:
    with HTTPStub() as s:
        yield s


# -- the entries: how a person reaches each, and the answer it expects ------------

Invoke = Callable[[tcmodel.Cluster, dict[str, Any]], Any]


def _artifact(c: tcmodel.Cluster, r: dict[str, Any]) -> Any:
    return c.task(r["taskId"]).run(0).artifact("public/a.txt")


#: entry -> (how to call it, the key of its good answer in ``real``, the
#: key of its list of items for a listing)
ENTRIES: dict[str, tuple[Invoke, str | None, str | None]] = {
    "queue.status": (lambda c, r: c.task(r["taskId"]).status, "status", None),
    "queue.task": (lambda c, r: c.task(r["taskId"]).definition, "task", None),
    # A listed task's models are made from its entry when first read.
    "queue.listTaskGroup": (
        lambda c, r: [(t.status, t.definition) for t in c.task_group(r["taskGroupId"]).tasks()],
        "listTaskGroup",
        "tasks",
    ),
    "queue.listDependentTasks": (
        lambda c, r: [(t.status, t.definition) for t in c.task(r["taskId"]).dependents()],
        "listTaskGroup",
        "tasks",
    ),
    "queue.listArtifacts": (
        lambda c, r: list(c.task(r["taskId"]).run(0).artifacts()),
        "listArtifacts",
        "artifacts",
    ),
    "queue.listLatestArtifacts": (
        lambda c, r: list(c.task(r["taskId"]).artifacts()),
        "listArtifacts",
        "artifacts",
    ),
    "queue.artifactInfo": (lambda c, r: _artifact(c, r).info, "artifactInfo", None),
    "queue.latestArtifactInfo": (
        lambda c, r: c.task(r["taskId"]).latest_artifact("public/a.txt").info,
        "artifactInfo",
        None,
    ),
    "queue.artifact": (lambda c, r: _artifact(c, r).read_bytes(), None, None),
    "queue.latestArtifact": (
        lambda c, r: c.task(r["taskId"]).latest_artifact("public/a.txt").read_bytes(),
        None,
        None,
    ),
    "queue.statuses": (
        lambda c, r: c.tasks([r["taskId"], r["otherId"]])[0].status,
        "statuses",
        "statuses",
    ),
    "queue.tasks": (
        lambda c, r: c.tasks([r["taskId"], r["otherId"]])[0].definition,
        "tasks",
        "tasks",
    ),
    "queue.getTaskGroup": (lambda c, r: c.task_group(r["taskGroupId"]).info, "getTaskGroup", None),
    "queue.createTask": (
        lambda c, r: c.create_task(
            task_queue_id="proj/ci", payload={}, name="x", task_id=r["taskId"]
        ),
        "status",
        None,
    ),
    "queue.cancelTask": (lambda c, r: c.task(r["taskId"]).cancel(), "status", None),
    "queue.rerunTask": (lambda c, r: c.task(r["taskId"]).rerun(), "status", None),
    "queue.scheduleTask": (lambda c, r: c.task(r["taskId"]).schedule(), "status", None),
    "queue.changeTaskPriority": (
        lambda c, r: c.task(r["taskId"]).change_priority("high"),
        "status",
        None,
    ),
    "queue.sealTaskGroup": (
        lambda c, r: c.task_group(r["taskGroupId"]).seal(),
        "getTaskGroup",
        None,
    ),
    "queue.cancelTaskGroup": (
        lambda c, r: c.task_group(r["taskGroupId"]).cancel(),
        "cancelTaskGroup",
        None,
    ),
    "index.findTask": (lambda c, r: c.index("proj.app.latest").find(), "findTask", None),
    "index.insertTask": (
        lambda c, r: c.index("proj.app.latest").insert(r["taskId"]),
        "findTask",
        None,
    ),
    "index.listNamespaces": (
        lambda c, r: list(c.index("proj").namespaces()),
        "listNamespaces",
        "namespaces",
    ),
    "index.listTasks": (lambda c, r: list(c.index("proj.app").tasks()), "listTasks", "tasks"),
}

#: Bodies no entry can use.
GENERIC: dict[str, Reply] = {
    "{}": Reply(200, {}),
    "[]": Reply(200, []),
    "null": Reply(200, b"null", JSON),
    "empty": Reply(200, b""),
    "text": Reply(200, "all good", {"Content-Type": "text/plain"}),
    "html": Reply(200, "<html>Please log in</html>", {"Content-Type": "text/html"}),
    "deep": Reply(200, DEEP, JSON),
    "number": Reply(200, b"42", JSON),
}


def _spoil_every_value(good: Any, bad: Any) -> Any:
    """The good answer with every value (at every depth, lists kept) replaced by ``bad``."""
    if isinstance(good, dict):
        return {k: _spoil_every_value(v, bad) for k, v in good.items()}
    if isinstance(good, list) and good:
        return [_spoil_every_value(v, bad) for v in good]
    return bad


def _replace(good: Any, key: str, value: Any) -> Any:
    """A copy of ``good`` with every ``key`` (at any depth) set to ``value``."""
    if isinstance(good, dict):
        return {k: value if k == key else _replace(v, key, value) for k, v in good.items()}
    if isinstance(good, list):
        return [_replace(v, key, value) for v in good]
    return good


def _specific(entry: str, real: dict[str, Any]) -> dict[str, Reply]:
    """The bodies that break one entry: wrong types, ids that are no
    slugIds, bad dates, namespaces with ``/``, unusable URLs, tokens."""
    _, key, items = ENTRIES[entry]
    cases: dict[str, Reply] = {}
    good = copy.deepcopy(real[key]) if key else None
    if good is not None:
        cases["values are lists"] = Reply(200, _spoil_every_value(good, []))
        cases["values are numbers"] = Reply(200, _spoil_every_value(good, 7))
        for field in ("taskId", "taskGroupId"):
            if field in str(good):
                cases[f"{field} no slugId"] = Reply(200, _replace(good, field, NOT_A_SLUG))
        for field in ("deadline", "expires", "created", "scheduled"):
            if field in str(good):
                cases[f"bad date {field}"] = Reply(200, _replace(good, field, "yesterday"))
        if "namespace" in str(good):
            cases["namespace with /"] = Reply(200, _replace(good, "namespace", "proj/../etc"))
    if items is not None and good is not None:
        cases["items of wrong types"] = Reply(200, {**good, items: [1, "x", None, []]})
        cases["items not a list"] = Reply(200, {**good, items: {"a": 1}})
        cases["token not a string"] = Reply(200, {**good, "continuationToken": {"a": 1}})
        cases["70 kB token"] = Reply(200, {**good, "continuationToken": "t" * 70_000})
    if entry in ("queue.artifact", "queue.latestArtifact"):
        for url in ("http://[::1", "javascript:alert(1)", "http://[::1]:99999/x", "ftp://x/y"):
            body = {"storageType": "s3", "url": url}
            cases[f"url {url}"] = Reply(200, body)
        cases["object without credentials"] = Reply(200, {"storageType": "object", "name": "x"})
    return cases


def _cases() -> list[Any]:
    params = []
    for entry in ENTRIES:
        for name in GENERIC:
            params.append(pytest.param(entry, name, id=f"{entry}-{name}"))
        params.append(pytest.param(entry, "*specific*", id=f"{entry}-specific"))
    return params


def _cluster(stub: HTTPStub) -> tcmodel.Cluster:
    return tcmodel.Cluster.from_url(stub.url, CREDENTIALS, max_retries=0)


def _expect_typed(
    stub: HTTPStub, entry: str, answer: Reply, real: dict[str, Any], requests: int = 1
) -> TaskclusterError:
    """Answer the call of ``entry`` with ``answer``: it must raise a typed
    error naming the call, after ``requests`` requests, none of them retried."""
    invoke = ENTRIES[entry][0]
    stub.requests.clear()
    stub.script(answer)
    with _cluster(stub) as c, pytest.raises(TaskclusterError) as info:
        invoke(c, real)
    err = info.value
    assert f"{entry}(" in str(err), str(err)
    assert not isinstance(err, ConnectionFailed)
    assert len(stub.requests) == requests
    return err


@pytest.mark.parametrize(("entry", "body"), _cases())
def test_a_malformed_answer_is_a_typed_error_naming_the_call(
    stub: HTTPStub, real: dict[str, Any], entry: str, body: str
) -> None:
    if body != "*specific*":
        _expect_typed(stub, entry, GENERIC[body], real)
        return
    for name, answer in _specific(entry, real).items():
        try:
            _expect_typed(stub, entry, answer, real)
        except (AssertionError, pytest.fail.Exception) as exc:
            raise AssertionError(f"{entry} answered with {name}: {exc}") from None


def test_the_table_covers_every_entry_the_model_layer_reads(real: dict[str, Any]) -> None:
    # Each entry of the table has generic cases, and the entries with a
    # known good answer have specific ones too (at least the wrong types).
    for entry, (_, key, _) in ENTRIES.items():
        specific = _specific(entry, real)
        assert specific, entry
        if key is not None:
            assert "values are lists" in specific


def test_model_data_errors_name_the_call_and_keep_it(stub: HTTPStub, real: dict[str, Any]) -> None:
    status = copy.deepcopy(real["status"])
    del status["status"]["taskId"]
    err = _expect_typed(stub, "queue.status", Reply(200, status), real)
    assert isinstance(err, ModelDataError)
    tid = real["taskId"]
    assert err.call == f"queue.status(taskId='{tid}')"
    assert str(err) == (
        f"queue.status(taskId='{tid}'): TaskStatus: missing required key(s) 'taskId'"
    )


def test_non_json_and_deep_answers_are_malformed_answers(
    stub: HTTPStub, real: dict[str, Any]
) -> None:
    deep = _expect_typed(stub, "queue.task", GENERIC["deep"], real)
    assert isinstance(deep, MalformedAnswer) and "nests too deep" in str(deep)
    html = _expect_typed(stub, "queue.task", GENERIC["html"], real)
    assert isinstance(html, MalformedAnswer) and "expected JSON, got text/html" in str(html)


def test_a_status_about_another_task_is_refused_and_not_kept(
    stub: HTTPStub, real: dict[str, Any]
) -> None:
    tid, other = real["taskId"], real["otherId"]
    about_other = _replace(copy.deepcopy(real["status"]), "taskId", other)
    stub.script(Reply(200, about_other), Reply(200, real["status"]))
    with _cluster(stub) as c:
        task = c.task(tid)
        with pytest.raises(ModelDataError, match=f"about task '{other}', not '{tid}'"):
            task.status
        assert not task.loaded  # nothing was kept...
        assert task.status.task_id == tid  # ...so the next read asks again
    assert len(stub.requests) == 2


def test_a_bulk_status_about_another_task_is_refused(stub: HTTPStub, real: dict[str, Any]) -> None:
    tid, other = real["taskId"], real["otherId"]
    bulk = {
        "statuses": [{"taskId": tid, "status": _replace(real["status"]["status"], "taskId", other)}]
    }
    err = _expect_typed(stub, "queue.statuses", Reply(200, bulk), real)
    assert "about task" in str(err)


def test_the_async_driver_types_malformed_pages_too(stub: HTTPStub, real: dict[str, Any]) -> None:
    gid = real["taskGroupId"]
    page = {**real["listTaskGroup"], "tasks": [{"status": {}, "task": {}}]}
    stub.script(Reply(200, page), Reply(200, DEEP, JSON))

    async def walk(c: tcmodel.Cluster) -> list[Any]:
        return [t async for t in c.task_group(gid).tasks()]

    with _cluster(stub) as c:
        with pytest.raises(ModelDataError, match=rf"queue\.listTaskGroup\(taskGroupId='{gid}'\)"):
            asyncio.run(walk(c))
        with pytest.raises(MalformedAnswer, match="nests too deep"):
            asyncio.run(walk(c))
    assert len(stub.requests) == 2


def test_a_token_too_long_to_send_back_is_a_paging_error(
    stub: HTTPStub, real: dict[str, Any]
) -> None:
    page = {**real["listTaskGroup"], "continuationToken": "t" * 70_000}
    err = _expect_typed(stub, "queue.listTaskGroup", Reply(200, page), real)
    assert isinstance(err, PagingError)
    assert "70000 characters" in str(err) and len(str(err)) < 300
