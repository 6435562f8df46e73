"""The core handles (Task, TaskGroup, Run, Artifact, Namespace, TaskBatch,
Listing) through the sync API and through their async twins, with the same
results and the same requests (issue 11); and the error that says what to
await when async code reads data that is not loaded."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from drivers import Driver, driver

import tcmodel
from tcmodel.demo import build_graph
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

__all__ = ["driver"]  # the fixture, used by name

T = TypeVar("T")
QUEUE = "proj/async-core"
BIN = "public/build/target.tar.gz"
LOG = "public/logs/live_backing.log"


@pytest.fixture(scope="module")
def graph() -> Iterator[tuple[LocalCluster, str, dict[str, Task]]]:
    with LocalCluster() as lc, lc.connect() as admin:
        group_id, tasks = build_graph(lc, admin)
        yield lc, group_id, tasks


@pytest.fixture
def lc(graph: tuple[LocalCluster, str, dict[str, Task]]) -> LocalCluster:
    return graph[0]


@pytest.fixture
def ids(graph: tuple[LocalCluster, str, dict[str, Task]]) -> dict[str, str]:
    """The demo's task ids by name, and its group's id as ``"group"``."""
    return {"group": graph[1], **{name: t.task_id for name, t in graph[2].items()}}


@pytest.fixture
def cluster(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    """A fresh cluster (made outside any event loop: used by the sync and
    the async twins alike); the request log starts empty."""
    with lc.connect() as c:
        lc.reset_requests()
        yield c


def api(lc: LocalCluster) -> list[str | None]:
    """The API entries called since the last reset, in order."""
    return [r.entry for r in lc.requests if r.origin == "api"]


def gather(driver: Driver, *calls: Callable[[], Awaitable[T]]) -> list[T]:
    """Run ``calls`` at the same time (any async library), in order."""

    async def all_at_once() -> list[T]:
        results: dict[int, T] = {}

        async def one(i: int, call: Callable[[], Awaitable[T]]) -> None:
            results[i] = await call()

        async with anyio.create_task_group() as tg:
            for i, call in enumerate(calls):
                tg.start_soon(one, i, call)
        return [results[i] for i in range(len(calls))]

    return driver.aio(all_at_once)


def wait(driver: Driver, waitable: Any, **kw: Any) -> Any:
    """``waitable.wait(**kw)``, or ``await waitable.await_(**kw)`` (the
    twin's name, ``await`` being a keyword)."""
    if driver.is_async:
        return driver.aio(lambda: waitable.await_(**kw))
    return waitable.wait(**kw)


def new_task(cluster: tcmodel.Cluster, **kw: Any) -> Task:
    return cluster.create_task(task_queue_id=QUEUE, payload={}, name="async-core", **kw)


# -- tasks ---------------------------------------------------------------------


def test_task_data_loads_once(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    task = cluster.task(ids["build-linux64-opt"])
    assert driver.call(task, "status").state == "completed"
    assert driver.call(task, "definition").metadata.name == "build-linux64-opt"
    assert driver.call(task, "status") is task.status
    assert driver.call(task, "definition") is task.definition
    assert (task.state, task.name, len(task.runs)) == ("completed", "build-linux64-opt", 1)
    assert api(lc) == ["status", "task"]


def test_task_refresh_reloads_the_status(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    task = cluster.task(ids["lint-eslint"])
    assert driver.call(task, "refresh") is task
    assert driver.call(task, "refresh").state == "failed"
    assert api(lc) == ["status", "status"]


def test_batch_loads_in_one_request_even_at_once(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    names = ["build-linux64-opt", "lint-eslint", "signing", "decision"]
    batch = cluster.tasks([ids[n] for n in names])
    if driver.is_async:
        statuses = gather(driver, *(t.astatus for t in batch))
        definitions = gather(driver, *(t.adefinition for t in batch))
    else:
        statuses = [t.status for t in batch]
        definitions = [t.definition for t in batch]
    assert [s.state for s in statuses] == ["completed", "failed", "completed", "completed"]
    assert [d.metadata.name for d in definitions] == names
    assert api(lc) == ["statuses", "tasks"]  # one bulk request each, never one per task


def test_a_failed_bulk_request_lets_the_waiting_loads_go_on(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    batch = cluster.tasks([ids["signing"], ids["decision"]])
    lc.inject("status", status=409, times=1, entry="statuses")  # not retried

    async def load(task: Task) -> str:
        try:
            return (await task.astatus()).state
        except tcmodel.RequestConflict:
            return "refused"

    if driver.is_async:
        # The second load waits for the first one's bulk request, then asks alone.
        states = gather(driver, *(lambda t=t: load(t) for t in batch))
        assert sorted(states) == ["completed", "refused"]  # whichever went first was refused
        assert api(lc) == ["statuses", "status"]
    else:
        with pytest.raises(tcmodel.RequestConflict):
            batch[0].status
        assert batch[1].status.state == "completed"
        assert api(lc) == ["statuses", "statuses"]  # not asked, so asked in bulk again


def test_dependencies_and_ancestors(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    package = cluster.task(ids["package-linux64"])
    deps = driver.call(package, "dependencies")
    assert [d.task_id for d in deps] == [ids["build-linux64-opt"], ids["signing"]]
    assert api(lc) == ["task"]  # the dependencies are handles: nothing more yet
    assert [driver.call(d, "definition").metadata.name for d in deps] == [
        "build-linux64-opt",
        "signing",
    ]
    assert api(lc) == ["task", "tasks"]  # both in one bulk request
    lc.reset_requests()
    found = driver.call(cluster.task(ids["package-win64"]), "ancestors")
    assert [t.name for t in found][:2] == ["build-win64-opt", "signing"]
    assert "decision" in {t.name for t in found} and len({t.task_id for t in found}) == len(found)
    # The task itself, then one bulk request per level of the graph.
    assert api(lc) == ["task", "tasks", "tasks"]


def test_task_log(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    text = driver.call(cluster.task(ids["lint-eslint"]), "log")
    assert isinstance(text, tcmodel.resources.run.LogText)
    assert text.splitlines()[-1] == "[taskcluster] exit code 1"
    assert api(lc) == ["status", "artifact"]


def test_task_actions(cluster: tcmodel.Cluster, lc: LocalCluster, driver: Driver) -> None:
    blocker = new_task(cluster)
    task = new_task(cluster, dependencies=[blocker])
    fresh = cluster.task(task.task_id)
    lc.reset_requests()
    assert driver.call(fresh, "schedule") is fresh and fresh.state == "pending"
    assert driver.call(fresh, "change_priority", "high").state == "pending"
    assert driver.call(fresh, "cancel").state == "exception"
    assert driver.call(fresh, "rerun").latest_run.reason_created == "rerun"
    assert api(lc) == ["scheduleTask", "changeTaskPriority", "cancelTask", "rerunTask"]
    with pytest.raises(ValueError, match="priority"):
        driver.call(fresh, "change_priority", "urgent")
    assert len(api(lc)) == 4  # refused before any request


def test_task_claim(cluster: tcmodel.Cluster, lc: LocalCluster, driver: Driver) -> None:
    task = cluster.task(new_task(cluster).task_id)
    lc.reset_requests()
    claim = driver.call(task, "claim", 0, "async-wg", "async-w1")
    assert (claim.run_id, claim.task.state) == (0, "running")
    assert api(lc) == ["claimTask"]
    with pytest.raises(ValueError):
        driver.call(task, "claim", 0, "", "async-w1")
    assert api(lc) == ["claimTask"]


def test_task_wait(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    task = cluster.task(ids["lint-eslint"])
    assert (wait(driver, task, timeout=5), api(lc)) == ("failed", ["status"])
    idle = new_task(cluster)
    with pytest.raises(tcmodel.WaitTimeout, match="still pending"):
        wait(driver, idle, timeout=0.05, poll=0.01)


# -- task groups ---------------------------------------------------------------------


def test_group_data(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    group = cluster.task_group(ids["group"])
    assert driver.call(group, "info").task_group_id == ids["group"]
    assert (group.sealed, group.scheduler_id) == (None, "-")  # no further request
    assert driver.call(group, "refresh") is group
    assert api(lc) == ["getTaskGroup", "getTaskGroup"]
    lc.reset_requests()
    if driver.is_async:
        found = driver.aio(lambda: group.aget("lint-eslint"))
    else:
        found = group["lint-eslint"]
    assert found.task_id == ids["lint-eslint"] and found.state == "failed"
    assert api(lc) == ["listTaskGroup"]
    if driver.is_async:
        with pytest.raises(tcmodel.UnknownName):
            driver.aio(lambda: group.aget("no-such-task"))
    assert api(lc) == ["listTaskGroup"]  # listed whole already: nothing more


def test_group_summary_and_graph_tools(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    group = cluster.task_group(ids["group"])
    summary = driver.call(group, "summary")
    assert (summary["completed"], summary["failed"], sum(summary.values())) == (38, 3, 41)
    assert api(lc) == ["listTaskGroup"]
    fresh = cluster.task_group(ids["group"])
    path = driver.call(fresh, "critical_path")
    assert path.tasks[0].name == "decision" and path.total > path.steps[0].run_time
    assert len(driver.call(fresh, "timeline").records) == 41
    assert driver.call(fresh, "graph").number_of_nodes() == 41
    assert api(lc) == ["listTaskGroup", "listTaskGroup"]  # the fresh group listed once


def test_group_actions(cluster: tcmodel.Cluster, lc: LocalCluster, driver: Driver) -> None:
    first = new_task(cluster)
    group_id = first.status.task_group_id
    new_task(cluster, task_group_id=group_id)
    group = cluster.task_group(group_id)
    lc.reset_requests()
    assert driver.call(group, "change_priority", "low")["taskGroupId"] == group_id
    assert driver.call(group, "seal").sealed is not None
    done = driver.call(group, "cancel")
    assert (done.cancelled_count, len(done.task_ids)) == (2, 2)
    assert api(lc) == ["changeTaskGroupPriority", "sealTaskGroup", "cancelTaskGroup"]
    lc.reset_requests()
    assert (wait(driver, group, timeout=5), api(lc)) == ({"exception": 2}, ["listTaskGroup"])


# -- runs and artifacts ----------------------------------------------------------


def test_run_data(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    run = cluster.task(ids["build-linux64-opt"]).run(0)
    info = driver.call(run, "info")
    assert (info.state, run.state, run.reason_resolved) == ("completed", "completed", "completed")
    assert driver.call(run, "refresh") is run  # resolved: final, not asked again
    assert api(lc) == ["status"]
    with pytest.raises(tcmodel.NotFound, match="has no run 5"):
        driver.call(cluster.task(ids["build-linux64-opt"]).run(5), "info")
    assert api(lc) == ["status", "status", "status"]  # the kept status may predate run 5
    pending = cluster.task(new_task(cluster).task_id).run(0)
    lc.reset_requests()
    driver.call(pending, "info")
    driver.call(pending, "refresh")  # unresolved: asked again
    assert api(lc) == ["status", "status"]


def test_run_log(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    run = cluster.task(ids["build-linux64-opt"]).run(0)
    text = driver.call(run, "log")
    assert "starting build-linux64-opt" in text.splitlines()[0]
    assert api(lc) == ["artifact"]
    blocker = new_task(cluster)
    with Worker(lc, QUEUE) as worker:
        worker.run(blocker.task_id)  # no log at all
    lc.reset_requests()
    with pytest.raises(tcmodel.NotFound, match="has no log"):
        driver.call(cluster.task(blocker.task_id).run(0), "log")
    assert api(lc) == ["artifact", "artifact"]  # both names tried
    with pytest.raises(tcmodel.NotFound, match=r"no run of task \S+ has a log"):
        driver.call(cluster.task(blocker.task_id), "log")


def test_artifact_info_and_reads(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], tmp_path: Path, driver: Driver
) -> None:
    art = cluster.task(ids["build-linux64-opt"]).run(0).artifact(BIN)
    info = driver.call(art, "info")
    assert (info.storage_type, art.content_length) == ("object", 131072)
    assert driver.call(art, "info") is info
    assert api(lc) == ["artifactInfo"]
    data = driver.call(art, "read_bytes")
    assert len(data) == 131072
    saved = driver.call(art, "download", tmp_path / "out.bin")
    assert saved.read_bytes() == data
    log = cluster.task(ids["build-linux64-opt"]).run(0).artifact(LOG)
    assert driver.call(log, "read_text").startswith("[taskcluster")
    report = cluster.task(ids["test-win64-debug-ui"]).latest_artifact("public/test/report.json")
    assert isinstance(driver.call(report, "read_json"), dict)


# -- the index --------------------------------------------------------------------------


def test_index_lookups(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    ns = cluster.index("project.app.linux64-opt.latest")
    entry = driver.call(ns, "entry")
    assert (entry.task_id, entry.name) == (ids["build-linux64-opt"], "latest")
    assert driver.call(ns, "find").task_id == ids["build-linux64-opt"]
    found = driver.call(cluster.index("project.app"), "find_tasks", ["linux64-opt.latest", "nope"])
    assert (list(found), found.missing) == (["linux64-opt.latest"], ("nope",))
    assert api(lc) == ["findTask", "findTask", "findTasksAtIndex"]
    indexed = ns.artifact(BIN)
    lc.reset_requests()
    assert driver.call(indexed, "task_id") == ids["build-linux64-opt"]
    assert driver.call(indexed, "task_id") == ids["build-linux64-opt"]  # kept
    assert api(lc) == ["findTask"]


def test_index_changes(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    ns = cluster.index(f"async.core.{driver.mode}")
    entry = driver.call(ns, "insert", ids["signing"], rank=3, data={"k": "v"})
    assert (entry.task_id, entry.rank, entry.data) == (ids["signing"], 3, {"k": "v"})
    assert driver.call(ns, "delete") is None
    assert api(lc) == ["insertTask", "deleteTask"]
    with pytest.raises(tcmodel.NotFound):
        driver.call(ns, "find")


# -- listings --------------------------------------------------------------------------


def test_listings(
    cluster: tcmodel.Cluster, lc: LocalCluster, ids: dict[str, str], driver: Driver
) -> None:
    listing = cluster.task_group(ids["group"]).tasks().page_size(15)
    assert len(driver.list(listing)) == 41
    items = driver.aio(listing.alist) if driver.is_async else list(listing)
    assert len(items) == 41
    assert api(lc) == ["listTaskGroup"] * 6  # 3 pages, twice
    lc.reset_requests()
    first = driver.call(listing.filter(state="failed"), "first")
    assert first is not None and first.state == "failed"
    assert driver.call(listing.filter(name="nothing"), "first") is None
    pages_to_failed = [t.state for t in items].index("failed") // 15 + 1
    assert api(lc) == ["listTaskGroup"] * (pages_to_failed + 3)  # then every page
    lc.reset_requests()
    rows = driver.call(listing.limit(5), "to_records")
    assert len(rows) == 5 and {r["task_id"] for r in rows} <= set(ids.values())
    frame = driver.call(listing.filter(state="failed"), "to_dataframe")
    assert sorted(frame["name"]) == ["lint-eslint", "test-macosx64-opt-perf", "test-win64-debug-ui"]
    assert str(frame["state"].dtype) == "category"
    assert api(lc) == ["listTaskGroup"] * 4  # one page of 5, then 3 pages


# -- reading data that is not loaded, from async code -------------------------------------


def test_unloaded_data_in_async_code_says_what_to_await(
    lc: LocalCluster, ids: dict[str, str]
) -> None:
    async def main() -> list[str]:
        async with lc.connect() as c:
            build = c.task(ids["build-linux64-opt"])
            await build.astatus()
            messages = []
            for read in (
                lambda: c.task(ids["signing"]).status,
                lambda: build.definition,
                lambda: build.name,
                lambda: c.task_group(ids["group"]).info,
                lambda: c.task(ids["signing"]).run(0).info,
                lambda: c.task(ids["signing"]).run(0).artifact(BIN).info,
            ):
                with pytest.raises(tcmodel.AsyncUsageError) as caught:
                    read()
                messages.append(str(caught.value))
            assert build.state == "completed"  # loaded: costs nothing, works
            return messages

    lc.reset_requests()
    assert asyncio.run(main()) == [
        "task.status is not loaded: await task.astatus() first",
        "task.definition is not loaded: await task.adefinition() first",
        "task.definition is not loaded: await task.adefinition() first",
        "group.info is not loaded: await group.ainfo() first",
        "run.info is not loaded: await run.ainfo() first",
        "artifact.info is not loaded: await artifact.ainfo() first",
    ]
    assert api(lc) == ["status"]  # nothing was sent for the refused reads
    assert issubclass(tcmodel.AsyncUsageError, tcmodel.TaskclusterError)


def test_sync_requests_in_async_code_are_refused(
    lc: LocalCluster, cluster: tcmodel.Cluster
) -> None:
    task = new_task(cluster)

    async def main() -> None:
        async with lc.connect() as c:
            handle = c.task(task.task_id)
            await handle.astatus()
            with pytest.raises(tcmodel.AsyncUsageError, match="async twin"):
                handle.cancel()
            with pytest.raises(tcmodel.AsyncUsageError, match="async twin"):
                handle.refresh()

    lc.reset_requests()
    asyncio.run(main())
    assert api(lc) == ["status"]
    assert cluster.task(task.task_id).state == "pending"  # not cancelled


def test_sync_reads_from_memory_work_in_async_code(lc: LocalCluster, ids: dict[str, str]) -> None:
    async def main() -> tuple[str, str, int]:
        async with lc.connect() as c:
            group = c.task_group(ids["group"])
            await group.tasks().alist()
            # Listed whole: lookups, dependencies and graph tools need no request.
            eslint = group["lint-eslint"]
            deps = group["package-linux64"].dependencies
            return eslint.state, deps[0].name, len(group.critical_path().steps)

    lc.reset_requests()
    state, dep, steps = asyncio.run(main())
    assert (state, dep) == ("failed", "build-linux64-opt") and steps > 1
    assert api(lc) == ["listTaskGroup"]


ASYNC_LIBRARIES = [
    "asyncio",
    pytest.param(
        "trio",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("trio") is None, reason="trio is not installed"
        ),
    ),
]


@pytest.mark.parametrize("library", ASYNC_LIBRARIES)
def test_usage_errors_are_the_same_under_each_async_library(
    library: str, lc: LocalCluster, ids: dict[str, str], cluster: tcmodel.Cluster
) -> None:
    """Under trio as under asyncio: unloaded data says what to await, and a
    sync request of a handle, the cluster or a claim names its async twin;
    nothing is sent for them."""
    pending = new_task(cluster)

    async def main() -> list[str]:
        async with lc.connect() as c:
            build = c.task(ids["build-linux64-opt"])
            await build.astatus()
            [claim] = await c.task_queue(QUEUE).aclaim_work("wg", "w1")
            messages = []
            for refused in (
                lambda: build.definition,
                lambda: c.task(pending.task_id).cancel(),
                c.ping,
                claim.completed,
            ):
                with pytest.raises(tcmodel.AsyncUsageError) as caught:
                    refused()
                message = str(caught.value)
                messages.append(message.split(">: ", 1)[-1])  # without the handle's repr
            assert build.state == "completed"  # loaded: costs nothing, works
            assert (await claim.acompleted()).state == "completed"
            return messages

    lc.reset_requests()
    hint = "a sync request inside the event loop this cluster is used from asynchronously "
    assert anyio.run(main, backend=library) == [
        "task.definition is not loaded: await task.adefinition() first",
        f"{hint}would block it: await its async twin, task.acancel(), instead",
        f"{hint}would block it: await its async twin, cluster.aping(), instead",
        f"{hint}would block it: await its async twin, claim.acompleted(), instead",
    ]
    assert api(lc) == ["status", "claimWork", "reportCompleted"]


def test_each_trio_run_has_its_own_async_client(lc: LocalCluster, ids: dict[str, str]) -> None:
    pytest.importorskip("trio")
    with lc.connect() as c:

        async def load() -> tuple[Any, str]:
            return c.transport.async_client, (await c.task(ids["signing"]).astatus()).state

        first, state = anyio.run(load, backend="trio")
        second, _ = anyio.run(load, backend="trio")
    assert state == "completed" and first is not second
    assert first.is_closed  # closed at the end of its run


def test_close_from_another_thread_closes_a_trio_runs_client(
    lc: LocalCluster, ids: dict[str, str]
) -> None:
    pytest.importorskip("trio")
    from anyio.from_thread import start_blocking_portal

    c = lc.connect()

    async def load() -> tuple[Any, str]:
        return c.transport.async_client, (await c.task(ids["signing"]).astatus()).state

    with start_blocking_portal("trio") as portal:  # a trio run in another thread
        client, state = portal.call(load)
        c.close()  # from this thread: the client is closed in its run
        for _ in range(1000):  # a few turns of the run's loop, no real wait
            if client.is_closed:
                break
            portal.call(anyio.sleep, 0)
        closed = client.is_closed
    assert state == "completed" and closed


def test_sync_use_inside_a_running_loop_without_async_calls_works(
    lc: LocalCluster, ids: dict[str, str]
) -> None:
    async def notebook_cell() -> tuple[str, str]:  # Jupyter runs cells in a loop
        with lc.connect() as c:
            task = c.task(ids["lint-eslint"])
            return task.state, task.name

    assert asyncio.run(notebook_cell()) == ("failed", "lint-eslint")


def test_another_loop_of_the_same_cluster_is_not_refused(
    lc: LocalCluster, ids: dict[str, str]
) -> None:
    with lc.connect() as c:

        async def load() -> str:
            return (await c.task(ids["signing"]).astatus()).state

        assert asyncio.run(load()) == "completed"

        async def sync_in_a_new_loop() -> str:
            return c.task(ids["decision"]).state  # this loop made no async call

        assert asyncio.run(sync_in_a_new_loop()) == "completed"
