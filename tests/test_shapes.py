"""The shapes real client code needs, against the local cluster: submitting
whole definitions (created kept, ISO dates, idempotent resubmission), API
URLs on the public root behind a proxy, artifacts as files and lines, and
bulk reads of unknown ids that raise NotFound with no request per id."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from lc_client_support import entries

import tcmodel
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker
from tcmodel.utils import slug_id

LOG = "first line\r\nsecond line\nthird é\n" + "".join(f"line {n}\n" for n in range(5000))
BLOB = bytes(range(256)) * 1000


def rendered(now: datetime, **fields: Any) -> dict[str, Any]:
    """A definition as a decision task renders it (ISO date strings)."""
    body: dict[str, Any] = {
        "taskQueueId": "proj/ci",
        "schedulerId": "-",
        "created": (now - timedelta(minutes=2)).isoformat().replace("+00:00", "Z"),
        "deadline": (now + timedelta(hours=2)).isoformat(),
        "expires": now + timedelta(days=7),
        "payload": {"command": ["make"]},
        "metadata": {
            "name": "rendered",
            "description": "from a decision task",
            "owner": "ci@example.com",
            "source": "https://example.com/taskgraph",
        },
    }
    body.update(fields)
    return body


# -- submitting definitions -------------------------------------------------------


def test_submit_keeps_created_and_takes_iso_strings_and_datetimes(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    now = lc.clock.now_dt()
    body = rendered(now)
    lc.reset_requests()
    task = admin.submit_task(body)
    assert entries(lc) == ["createTask"] and task.state == "pending"
    d = task.definition
    assert abs(d.created - (now - timedelta(minutes=2))) < timedelta(milliseconds=1)
    assert abs(d.deadline - (now + timedelta(hours=2))) < timedelta(milliseconds=1)
    assert abs(d.expires - (now + timedelta(days=7))) < timedelta(milliseconds=1)


def test_resubmitting_the_identical_definition_succeeds(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    body = rendered(lc.clock.now_dt())
    task_id = slug_id()
    first = admin.submit_task(body, task_id=task_id)
    lc.advance(60)  # a retry a minute later: `created` is kept, so it is the same task
    again = admin.submit_task(body, task_id=task_id)
    assert again == first and again.status == first.status
    with pytest.raises(tcmodel.RequestConflict):
        admin.submit_task({**body, "payload": {"other": True}}, task_id=task_id)


def test_offsets_count_from_created_so_a_resubmission_matches(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    body = rendered(lc.clock.now_dt(), deadline="2 hours", expires="7 days")
    task_id = slug_id()
    first = admin.submit_task(body, task_id=task_id)
    d = first.definition
    assert d.deadline - d.created == timedelta(hours=2)
    assert d.expires - d.created == timedelta(days=7)
    lc.advance(60)  # the same offsets a minute later render the same dates
    assert admin.submit_task(body, task_id=task_id) == first


def test_a_task_definition_resubmits_as_it_came(admin: tcmodel.Cluster) -> None:
    task = admin.create_task(task_queue_id="proj/ci", payload={"a": 1}, name="copy me")
    again = admin.submit_task(admin.task(task.task_id).definition, task_id=task.task_id)
    assert again == task and again.state == "pending"
    with pytest.raises(TypeError, match="mapping"):
        admin.submit_task(["not", "a", "definition"])  # type: ignore[arg-type]


def test_create_task_takes_iso_dates_too(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    deadline = (lc.clock.now_dt() + timedelta(hours=3)).replace(microsecond=0)
    task = admin.create_task(
        task_queue_id="proj/ci",
        payload={},
        name="dated",
        deadline=deadline.isoformat(),
        expires="30 days",
    )
    assert task.definition.deadline == deadline
    with pytest.raises(ValueError, match="offset"):
        admin.create_task(task_queue_id="proj/ci", payload={}, name="bad", deadline="soonish")


# -- URLs ------------------------------------------------------------------------------


def test_urls_need_no_request(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    task = admin.task(slug_id())
    assert task.url == f"{lc.root_url}/api/queue/v1/task/{task.task_id}"
    assert admin.index("a.b").url == f"{lc.root_url}/api/index/v1/task/a.b"
    assert lc.requests == []


def test_links_use_the_public_root_behind_the_proxy(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    made = admin.create_task(task_queue_id="proj/ci", payload={}, name="proxied")
    admin.index("proj.proxied").insert(made)
    public = "https://tc.example.com"
    env = {"TASKCLUSTER_PROXY_URL": lc.root_url, "TASKCLUSTER_ROOT_URL": public}
    with tcmodel.Cluster.from_env(env) as inside:
        task = inside.task(made.task_id)
        assert task.state == "pending"  # requests go through the proxy
        assert inside.root_url == lc.root_url
        assert task.url == f"{public}/api/queue/v1/task/{made.task_id}"
        assert task.ui_url == f"{public}/tasks/{made.task_id}"
        art = task.latest_artifact("public/x.txt")
        assert art.url == f"{public}/api/queue/v1/task/{made.task_id}/artifacts/public%2Fx.txt"
        ns = inside.index("proj.proxied")
        assert ns.url == f"{public}/api/index/v1/task/proj.proxied"
        assert ns.ui_url == f"{public}/tasks/index/proj.proxied"
        assert ns.artifact("public/x.txt").url.startswith(f"{public}/api/index/v1/task/")
        assert inside.hook("g", "h").url == f"{public}/api/hooks/v1/hooks/g/h"
        assert inside.task_queue("proj/ci").url.startswith(f"{public}/api/queue/v1/")
        assert ns.entry().ui_url == f"{public}/tasks/index/proj/proxied"


# -- artifacts as files ---------------------------------------------------------------------


@pytest.fixture
def done(lc: LocalCluster, admin: tcmodel.Cluster) -> tcmodel.resources.Task:
    task = admin.create_task(task_queue_id="proj/ci", payload={}, name="files")
    with Worker(lc, "proj/ci") as worker:
        run = worker.claim_task(task.task_id)
        run.upload("public/blob.bin", BLOB)  # object: hashes checked
        run.upload("public/log.txt", LOG, storage_type="s3", gzip=True)
        run.complete()
    lc.reset_requests()
    return task


def test_open_is_a_streaming_binary_file(lc: LocalCluster, done: Any) -> None:
    art = done.run(0).artifact("public/blob.bin")
    f = art.open()
    assert lc.requests == []  # nothing before the first read
    with f:
        assert isinstance(f, io.BufferedIOBase) and f.readable() and f.name == art.name
        assert f.read(3) == BLOB[:3]
        buf = bytearray(1000)
        assert f.readinto(buf) == 1000 and bytes(buf) == BLOB[3:1003]
        rest = f.read()
    assert BLOB[:1003] + rest == BLOB
    assert f.closed
    with pytest.raises(ValueError):
        f.read(1)


def test_open_iterates_lines_and_closes_early(lc: LocalCluster, done: Any) -> None:
    art = done.latest_artifact("public/log.txt")
    with art.open() as f:
        first = next(iter(f))
    assert first == b"first line\r\n"  # binary lines keep their ends
    with art.open() as f:
        assert sum(1 for _ in f) == 5003


def test_iter_lines_decodes_as_it_goes(done: Any) -> None:
    lines = done.latest_artifact("public/log.txt").iter_lines()
    assert next(lines) == "first line"
    assert next(lines) == "second line" and next(lines) == "third é"
    rest = list(lines)
    assert rest[0] == "line 0" and rest[-1] == "line 4999" and len(rest) == 5000


def test_a_download_that_fails_surfaces_from_the_read(lc: LocalCluster, done: Any) -> None:
    art = done.run(0).artifact("public/blob.bin")
    lc.inject("truncate", origin="blob", keep=100, times=10)  # cut again and again
    with pytest.raises(tcmodel.ConnectionFailed, match="cut short"), art.open() as f:
        f.read()


# -- bulk reads of unknown ids -------------------------------------------------------------


def test_unknown_ids_in_bulk_raise_not_found_without_more_requests(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    known = admin.create_task(task_queue_id="proj/ci", payload={}, name="known")
    unknown = [slug_id() for _ in range(3)]
    tasks = admin.tasks([known.task_id, *unknown])
    lc.reset_requests()
    assert tasks[0].state == "pending"
    assert entries(lc) == ["statuses"]
    for t in tasks[1:]:
        with pytest.raises(tcmodel.NotFound, match=t.task_id) as err:
            t.state
        assert "404" in str(err.value) and err.value.status == 404
        with pytest.raises(tcmodel.NotFound):
            t.definition
    # no request per unknown id: the one definitions request was the bulk
    # call for the known task (the unknown ones were not asked for again)
    assert entries(lc) == ["statuses", "tasks"]
    assert tasks[0].name == "known"
    assert entries(lc) == ["statuses", "tasks"]


def test_without_bulk_scopes_each_task_is_asked_alone(lc: LocalCluster, admin: Any) -> None:
    known = admin.create_task(task_queue_id="proj/ci", payload={}, name="known")
    creds = lc.add_client("one", [f"queue:status:{known.task_id}"])
    lc.add_role("anonymous", [])
    with lc.connect(creds) as one:
        tasks = one.tasks([known.task_id, slug_id()])
        lc.reset_requests()
        assert tasks[0].state == "pending"
        with pytest.raises(tcmodel.InsufficientScopes):
            tasks[1].state
        assert entries(lc) == ["statuses", "status", "status"]
