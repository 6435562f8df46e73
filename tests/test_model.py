"""The lazy object model against the local cluster: laziness, identity,
request counts (no N+1), collections, actions, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

import tcmodel
from tcmodel.resources.run import Run
from tcmodel.resources.task import Task
from tcmodel.resources.task_group import TaskGroup
from tcmodel.testing import LocalCluster
from tcmodel.testing.state import Settings

QUEUE = "proj/ci"


@pytest.fixture
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def cluster(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with tcmodel.Cluster.from_url(lc.root_url, credentials=lc.root_credentials) as c:
        yield c


def api_requests(lc: LocalCluster) -> list[tuple[str, str | None]]:
    return [(r.method, r.entry) for r in lc.requests if r.origin == "api"]


def make_group(cluster: tcmodel.Cluster, n: int, **kw: object) -> tuple[str, list[Task]]:
    group_id = tcmodel.slug_id()
    tasks = [
        cluster.create_task(
            task_queue_id=QUEUE,
            payload={"i": i},
            name=f"task-{i}",
            task_group_id=group_id,
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]
    return group_id, tasks


def test_handles_cost_no_request(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    lc.reset_requests()
    tid = tcmodel.slug_id()
    task = cluster.task(tid)
    run = task.run(0)
    art = run.artifact("public/build/target.tar.gz")
    latest = task.latest_artifact("public/logs/live_backing.log")
    group = cluster.task_group(tcmodel.slug_id())
    ns = cluster.index("project.app.latest")
    listing = group.tasks().filter(state="failed").limit(3).page_size(10)
    texts = [repr(x) for x in (task, run, art, latest, group, ns, listing, cluster)]
    assert lc.requests == []
    assert texts[0] == f"<Task taskId='{tid}'>"
    assert texts[1] == f"<Run taskId='{tid}' runId=0>"
    assert not task.loaded and not group.loaded and not run.loaded


def test_identity_equality_and_hash(cluster: tcmodel.Cluster, lc: LocalCluster) -> None:
    tid = tcmodel.slug_id()
    a, b = cluster.task(tid), cluster.task(tid)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != cluster.task(tcmodel.slug_id())
    with tcmodel.Cluster.from_url("http://127.0.0.1:1") as other:
        assert other.task(tid) != a
    assert a.run(0) == b.run(0) != a.run(1)
    assert cluster.task_group(tid) != a  # different kinds never compare equal


@pytest.mark.parametrize(
    "make",
    [
        lambda c: c.task("not-a-slugid"),
        lambda c: c.task(""),
        lambda c: c.task_group("Dx4tPEtaRpeIeWpbTD0uH"),  # 21 characters
        lambda c: c.task(tcmodel.slug_id()).run(-1),
        lambda c: c.task(tcmodel.slug_id()).run(True),
        lambda c: c.index("a/b"),
        lambda c: c.index("a..b"),
        lambda c: c.task(tcmodel.slug_id()).change_priority("urgent"),
        lambda c: c.create_task(task_queue_id="proj/ci", payload={}, name="x", priority="urgent"),
        lambda c: c.create_task(task_queue_id="proj/ci", payload={}, name="x", requires="any"),
        lambda c: c.create_task(task_queue_id="no-slash", payload={}, name="x"),
        lambda c: c.create_task(task_queue_id="proj/ci", payload={}, name="x", retries=50),
        lambda c: c.index("").find(),
        lambda c: c.index("a.b\n"),
        lambda c: c.task_group(tcmodel.slug_id()).tasks().filter(stat="failed"),
    ],
)
def test_bad_input_raises_before_any_request(
    lc: LocalCluster, cluster: tcmodel.Cluster, make: object
) -> None:
    lc.reset_requests()
    with pytest.raises(ValueError):
        make(cluster)  # type: ignore[operator]
    assert lc.requests == []


def test_definition_then_status_is_two_requests(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    created = cluster.create_task(task_queue_id=QUEUE, payload={"x": 1}, name="solo")
    task = cluster.task(created.task_id)
    lc.reset_requests()
    assert task.definition.metadata.name == "solo"
    assert task.status.state == "pending"
    assert task.state == "pending" and task.name == "solo"
    assert isinstance(task.definition.created, datetime)
    assert api_requests(lc) == [("GET", "task"), ("GET", "status")]
    assert repr(task) == f"<Task 'solo' taskId='{task.task_id}' state='pending'>"
    assert task.loaded


def test_refresh_rereads_status_but_keeps_definition(
    lc: LocalCluster, cluster: tcmodel.Cluster
) -> None:
    task = cluster.create_task(task_queue_id=QUEUE, payload={}, name="r")
    task.definition
    assert task.state == "pending"
    # change it behind the handle's back, through another handle
    cluster.task(task.task_id).cancel()
    assert task.state == "pending"  # cached until refresh
    lc.reset_requests()
    assert task.refresh().state == "exception"
    task.definition
    assert api_requests(lc) == [("GET", "status")]


def test_actions_update_status_in_place(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    dep = cluster.create_task(task_queue_id=QUEUE, payload={}, name="dep")
    task = cluster.create_task(task_queue_id=QUEUE, payload={}, name="waits", dependencies=[dep])
    assert task.state == "unscheduled"
    lc.reset_requests()
    assert task.schedule() is task
    assert task.state == "pending" and task.runs[0].reason_created == "scheduled"
    assert task.change_priority("high").status.priority == "high"
    assert task.cancel().state == "exception"
    assert task.latest_run is not None and task.latest_run.reason_resolved == "canceled"
    assert task.rerun().latest_run.reason_created == "rerun"  # type: ignore[union-attr]
    assert task.state == "pending" and len(task.runs) == 2
    entries = [e for _, e in api_requests(lc)]
    assert entries == ["scheduleTask", "changeTaskPriority", "cancelTask", "rerunTask"]


def test_group_listing_carries_definition_and_status(lc: LocalCluster) -> None:
    with LocalCluster(settings=Settings(max_page_size=7)) as small:
        c = tcmodel.Cluster.from_url(small.root_url, credentials=small.root_credentials)
        group_id, tasks = make_group(c, 20)
        small.reset_requests()
        group = c.task_group(group_id)
        seen = [(t.task_id, t.state, t.definition.metadata.name) for t in group.tasks()]
        assert len(seen) == 20
        assert {s[0] for s in seen} == {t.task_id for t in tasks}
        assert all(state == "pending" for _, state, _ in seen)
        # 20 tasks, 7 per page: 3 requests and not one more per task
        assert api_requests(small) == [("GET", "listTaskGroup")] * 3
        # pages also gave the group's info: reading it costs nothing
        assert group.loaded and group.scheduler_id == "-"
        assert len(api_requests(small)) == 3
        c.close()


def test_big_group_costs_ceil_n_over_page_size(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    group_id, _ = make_group(cluster, 2500)
    lc.reset_requests()
    names = {
        t.task_id: (t.state, t.definition.metadata.name)
        for t in cluster.task_group(group_id).tasks()
    }
    assert len(names) == 2500
    assert api_requests(lc) == [("GET", "listTaskGroup")] * 3


def test_collections_filter_limit_pages(lc: LocalCluster) -> None:
    with LocalCluster(settings=Settings(max_page_size=5)) as small:
        c = tcmodel.Cluster.from_url(small.root_url, credentials=small.root_credentials)
        group_id, tasks = make_group(c, 12)
        for t in tasks[::3]:  # 4 of them
            t.cancel()
        listing = c.task_group(group_id).tasks()
        small.reset_requests()
        got = list(listing.limit(2))
        assert len(got) == 2 and all(isinstance(t, Task) for t in got)
        assert api_requests(small) == [("GET", "listTaskGroup")]  # never pages past the limit
        small.reset_requests()
        assert len(list(listing.limit(3))) == 3
        assert api_requests(small) == [("GET", "listTaskGroup")]
        cancelled = list(listing.filter(state="exception"))
        assert {t.task_id for t in cancelled} == {t.task_id for t in tasks[::3]}
        assert len(list(listing.filter(state=("exception", "pending")))) == 12
        assert [len(p) for p in listing.page_size(4).pages()] == [4, 4, 4]
        assert len(list(listing.filter(lambda t: t.name.endswith("1")))) == 2
        # re-iterable: iterating again asks again and gets the same
        assert [t.task_id for t in listing] == [t.task_id for t in listing]
        c.close()


def test_dependencies_statuses_in_one_bulk_request(
    lc: LocalCluster, cluster: tcmodel.Cluster
) -> None:
    group_id, deps = make_group(cluster, 300)
    task = cluster.create_task(
        task_queue_id=QUEUE, payload={}, name="fan-in", dependencies=deps, task_group_id=group_id
    )
    handle = cluster.task(task.task_id)
    handle.definition
    lc.reset_requests()
    dependencies = handle.dependencies
    assert lc.requests == []
    states = [d.state for d in dependencies]
    assert states == ["pending"] * 300
    assert api_requests(lc) == [("POST", "statuses")]
    assert {d.task_id for d in dependencies} == {d.task_id for d in deps}
    lc.reset_requests()
    assert all(d.name.startswith("task-") for d in dependencies)
    assert api_requests(lc) == [("POST", "tasks")]


def test_cluster_tasks_bulk_and_unknown_ids(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    known = cluster.create_task(task_queue_id=QUEUE, payload={}, name="k")
    unknown = tcmodel.slug_id()
    handles = cluster.tasks([known.task_id, unknown])
    lc.reset_requests()
    assert handles[0].state == "pending"
    with pytest.raises(tcmodel.NotFound):
        handles[1].state  # dropped by the bulk call: NotFound, no second request
    assert api_requests(lc) == [("POST", "statuses")]  # the bulk answer tells it is missing


def test_dependents_listing(cluster: tcmodel.Cluster) -> None:
    parent = cluster.create_task(task_queue_id=QUEUE, payload={}, name="parent")
    kids = [
        cluster.create_task(task_queue_id=QUEUE, payload={}, name=f"kid{i}", dependencies=[parent])
        for i in range(3)
    ]
    got = list(parent.dependents())
    assert {k.task_id for k in got} == {k.task_id for k in kids}
    assert all(isinstance(k, Task) and k.state == "unscheduled" for k in got)


def test_runs_and_task_group(cluster: tcmodel.Cluster) -> None:
    task = cluster.create_task(task_queue_id=QUEUE, payload={}, name="runs")
    run = task.runs[0]
    assert isinstance(run, Run) and run.run_id == 0 and run.state == "pending"
    assert run.reason_created == "scheduled" and run.started is None
    assert isinstance(task.task_group, TaskGroup)
    assert task.task_group.task_group_id == task.definition.task_group_id
    with pytest.raises(tcmodel.NotFound):
        task.run(5).state


def test_group_seal_and_cancel(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    group_id, tasks = make_group(cluster, 3)
    group = cluster.task_group(group_id)
    assert group.sealed is None
    with pytest.raises(tcmodel.RequestConflict):
        group.cancel()  # only sealed groups can be cancelled
    assert group.seal().sealed is not None
    result = group.cancel()
    assert result.cancelled_count == 3 and set(result.task_ids) == {t.task_id for t in tasks}
    assert group.summary() == {"exception": 3}


def test_errors_name_the_call(cluster: tcmodel.Cluster) -> None:
    tid = tcmodel.slug_id()
    with pytest.raises(tcmodel.NotFound) as info:
        cluster.task(tid).status
    assert str(info.value).startswith(f"queue.status(taskId='{tid}'): 404 ResourceNotFound")


def test_anonymous_cannot_create(lc: LocalCluster) -> None:
    with tcmodel.Cluster.from_url(lc.root_url) as anon, pytest.raises(tcmodel.InsufficientScopes):
        anon.create_task(task_queue_id=QUEUE, payload={}, name="nope")


def test_index_namespace(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    task = cluster.create_task(task_queue_id=QUEUE, payload={}, name="indexed")
    entry = cluster.index("project.app.latest").insert(task, rank=3, data={"rev": "abc"})
    assert entry.task_id == task.task_id and entry.rank == 3
    cluster.index("project.app.v1").insert(task)
    lc.reset_requests()
    found = cluster.index("project.app.latest").find()
    assert found == task
    assert [n.name for n in cluster.index("project").namespaces()] == ["app"]
    assert sorted(e.name for e in cluster.index("project.app").tasks()) == ["latest", "v1"]
    assert [n.namespace for n in cluster.index().namespaces()] == ["project"]
    cluster.index("project.app.v1").delete()
    assert [e.name for e in cluster.index("project.app").tasks()] == ["latest"]
    with pytest.raises(tcmodel.NotFound):
        cluster.index("project.app.v1").find()


def test_cluster_tasks_keeps_one_handle_per_id_given(cluster: tcmodel.Cluster) -> None:
    a, b = tcmodel.slug_id(), tcmodel.slug_id()
    handles = cluster.tasks([a, a, b])
    assert [h.task_id for h in handles] == [a, a, b]
    assert handles[0] is handles[1]


def test_limit_asks_for_no_more_than_it_needs(lc: LocalCluster, cluster: tcmodel.Cluster) -> None:
    import httpx

    group_id, _ = make_group(cluster, 5)
    sent: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [sent.append]}) as client,
        lc.connect(client=client) as c,
    ):
        assert len(list(c.task_group(group_id).tasks().limit(2))) == 2
        assert len(list(c.task_group(group_id).tasks().filter(state="pending").limit(2))) == 2
    assert [r.url.params.get("limit") for r in sent] == ["2", None]


def test_bulk_falls_back_per_task_without_scopes_for_all(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    with lc.connect() as admin:
        tasks = [admin.create_task(task_queue_id=QUEUE, payload={}, name=f"t{i}") for i in range(4)]
    readable = [t.task_id for t in tasks[:3]]
    creds = lc.add_client("reader", [f"queue:status:{tid}" for tid in readable])
    with lc.connect(creds) as reader:
        handles = reader.tasks([t.task_id for t in tasks])
        lc.reset_requests()
        assert handles[0].state == "pending"  # the bulk call is refused; this one is asked alone
        assert [h.state for h in handles[1:3]] == ["pending", "pending"]
        with pytest.raises(tcmodel.InsufficientScopes):
            handles[3].state
    entries = [e for _, e in api_requests(lc)]
    assert entries == ["statuses", "status", "status", "status", "status"]


def test_bulk_failure_is_not_remembered(lc: LocalCluster) -> None:
    with lc.connect() as admin:
        tasks = [admin.create_task(task_queue_id=QUEUE, payload={}, name=f"t{i}") for i in range(3)]
    with lc.connect(max_retries=0) as c:
        handles = c.tasks([t.task_id for t in tasks])
        lc.inject("status", status=500, entry="statuses")
        with pytest.raises(tcmodel.ServerError):
            handles[0].state
        lc.reset_requests()
        assert [h.state for h in handles] == ["pending"] * 3
        assert api_requests(lc) == [("POST", "statuses")]  # asked in bulk again, once


def test_a_run_added_since_the_status_was_read_is_found(
    lc: LocalCluster, cluster: tcmodel.Cluster
) -> None:
    task = cluster.create_task(task_queue_id=QUEUE, payload={}, name="r")
    task.cancel()
    cluster.task(task.task_id).rerun()  # through another handle
    assert task.run(1).reason_created == "rerun"  # refreshed once instead of NotFound
    with pytest.raises(tcmodel.NotFound):
        task.run(7).state


def test_log_skips_error_artifacts_and_tolerates_bad_bytes(lc: LocalCluster) -> None:
    from tcmodel.testing.worker import Worker

    with lc.connect() as c, Worker(lc, QUEUE) as worker:
        task = c.create_task(task_queue_id=QUEUE, payload={}, name="logs")
        run = worker.claim_task(task.task_id)
        run.error("public/logs/live_backing.log", "file-missing-on-worker", "no backing log")
        run.upload("public/logs/live.log", b"ok \xff end\n", storage_type="s3")
        run.complete()
        assert task.log() == "ok \ufffd end\n"
        empty = c.create_task(task_queue_id=QUEUE, payload={}, name="nolog")
        worker.claim_task(empty.task_id).complete()
        with pytest.raises(tcmodel.NotFound):
            empty.log()


def test_create_task_after_the_cluster_clock_moved(lc: LocalCluster) -> None:
    lc.advance(3 * 3600)
    with lc.connect() as c:
        task = c.create_task(task_queue_id=QUEUE, payload={}, name="later")
        assert task.state == "pending"
        entry = c.index("later.on").insert(task)
        assert entry.expires.timestamp() > lc.clock.now() + 300 * 86400


def test_listings_iterate_asynchronously_with_the_same_requests(lc: LocalCluster) -> None:
    import asyncio

    with LocalCluster(settings=Settings(max_page_size=4)) as small, small.connect() as c:
        group_id, tasks = make_group(c, 10)
        listing = c.task_group(group_id).tasks()

        async def collect() -> tuple[list[str], list[int]]:
            ids = [t.task_id async for t in listing]
            sizes = [len(p) async for p in listing.limit(5).apages()]
            await c.aclose()
            return ids, sizes

        small.reset_requests()
        ids, sizes = asyncio.run(collect())
        assert sorted(ids) == sorted(t.task_id for t in tasks)
        assert sizes == [4, 1]
        assert [e for _, e in api_requests(small)] == ["listTaskGroup"] * 5


def test_filter_on_identity_fields_and_identity_is_read_only(cluster: tcmodel.Cluster) -> None:
    group_id, tasks = make_group(cluster, 3)
    wanted = tasks[1].task_id
    got = list(cluster.task_group(group_id).tasks().filter(task_id=wanted))
    assert [t.task_id for t in got] == [wanted]
    with pytest.raises(AttributeError):  # untyped ok: assigning a read-only attribute
        tasks[0].task_id = wanted  # type: ignore[misc]


def test_log_raises_an_outage_of_the_queue_itself(lc: LocalCluster) -> None:
    from tcmodel.testing.worker import Worker

    with lc.connect(max_retries=0) as c, Worker(lc, QUEUE) as worker:
        task = c.create_task(task_queue_id=QUEUE, payload={}, name="logs")
        worker.run(task.task_id, log="fine\n")
        run = c.task(task.task_id).run(0)
        run.state
        lc.inject("drop", entry="artifact", times=10)
        with pytest.raises(tcmodel.ConnectionFailed):
            run.log()  # not "no log": the queue could not be reached
        lc.clear_faults()
        assert run.log() == "fine\n"


def test_signed_url_uses_the_transport_clock(lc: LocalCluster) -> None:
    import httpx

    from tcmodel.testing.worker import Worker

    with lc.connect() as c, Worker(lc, QUEUE) as worker:
        task = c.create_task(task_queue_id=QUEUE, payload={}, name="signed")
        worker.run(task.task_id, artifacts={"private/a.txt": "secret"})
        lc.advance(3600)
        url = c.task(task.task_id).latest_artifact("private/a.txt").signed_url(600)
        with httpx.Client(follow_redirects=True) as anon:
            assert anon.get(url).text == "secret"
