"""Parity: the same tests through the sync API and its async twins.

Each test takes the ``driver`` fixture (tests/drivers.py), so it runs three
times: sync (``task.status``), asyncio (``await task.astatus()``, one event
loop per test) and trio (the same, under trio through anyio). What a test
asserts holds in every mode: retries (5xx, 429 with ``Retry-After``,
dropped connections), typed errors (404, 403 naming the scopes, malformed
answers), redirects that never carry ``Authorization`` to another origin,
resumable verified downloads, progress, deadlines and paging. The last part
uses one Cluster from several event loops, threads and async libraries.
All over real HTTP: a local cluster, plus a scripted origin and a server
that drips its answers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from drivers import Driver, driver
from httpstub import DripServer, HTTPStub, Reply, serving

import tcmodel
from tcmodel.errors import (
    ConnectionFailed,
    HashMismatch,
    InsufficientScopes,
    MalformedAnswer,
    NotFound,
    ServerError,
)
from tcmodel.models import ModelDataError
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.state import Blob
from tcmodel.testing.worker import Worker

__all__ = ["driver"]  # the fixture, used by name

_rng = random.Random(11)
DATA = _rng.randbytes(400_000)  # several 64 KiB reads: a cut leaves data behind
CUT = 150_000
MISSING_ID = "Dx4tPEtaRpeIeWpbTD0uHw"  # no such task
_HAS_TRIO = importlib.util.find_spec("trio") is not None
_NEEDS_TRIO = pytest.mark.skipif(not _HAS_TRIO, reason="trio is not installed")
API, BLOB = "api", "blob"


# -- the world: a task with artifacts of each storage type -----------------------------


@attrs.define
class World:
    lc: LocalCluster
    task_id: str
    group_id: str
    tasks: list[str]  # the group's tasks, in creation order
    origin: HTTPStub  # where the reference artifact points
    drip: DripServer  # where the slow reference artifact points

    def trail(self) -> list[tuple[str, str | None, int]]:
        """(origin, API entry, status) of every request since the last reset."""
        return [(r.origin, r.entry, r.status) for r in self.lc.requests]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    origin = HTTPStub()
    with (
        LocalCluster(settings=Settings(max_page_size=2)) as lc,
        origin,
        serving(DripServer(gap=0.1)) as drip,
        lc.connect() as admin,
    ):
        first = admin.create_task(task_queue_id="proj/parity", payload={}, name="parity-0")
        gid = first.definition.task_group_id
        others = [
            admin.create_task(
                task_queue_id="proj/parity", payload={}, name=f"parity-{i}", task_group_id=gid
            )
            for i in range(1, 5)
        ]
        with Worker(lc, "proj/parity") as worker:
            run = worker.claim_task(first.task_id)
            run.upload("public/s3.bin", DATA, storage_type="s3")
            run.upload("private/s3.bin", DATA, storage_type="s3")
            run.upload("public/object.bin", DATA)
            run.upload("public/spoiled.bin", DATA)
            run.reference("public/ref.txt", origin.url + "/ref.txt")
            run.reference("public/slow.json", drip.url + "/slow.json")
            run.complete()
        _spoil(lc, first.task_id, "public/spoiled.bin")
        ids = [first.task_id] + [t.task_id for t in others]
        yield World(lc, first.task_id, gid, ids, origin, drip)


def _spoil(lc: LocalCluster, task_id: str, name: str) -> None:
    """Change an object artifact's bytes behind the object service's back
    (the hashes it gives stay those of the upload)."""
    key = f"objects/t/{task_id}/0/{name}"
    blob = lc.state.blobs.get(key)
    assert blob is not None
    spoiled = bytearray(blob.data)
    spoiled[-1] ^= 0xFF
    lc.state.blobs.put(key, Blob(bytes(spoiled), blob.content_type))


@pytest.fixture
def lc(world: World) -> Iterator[LocalCluster]:
    """The world's cluster, with no faults and no requests recorded."""
    world.lc.clear_faults()
    world.lc.reset_requests()
    yield world.lc
    world.lc.clear_faults()


@pytest.fixture
def client(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with lc.connect() as cluster:
        yield cluster


def _art(cluster: tcmodel.Cluster, world: World, name: str) -> Artifact:
    return cluster.task(world.task_id).run(0).artifact(name)


# -- retries -------------------------------------------------------------------------------


def test_5xx_answers_are_retried_until_one_succeeds(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("status", status=503, times=2, entry="status")
    status = driver.call(client.task(world.task_id), "status")
    assert status.state == "completed"
    assert world.trail() == [(API, "status", 503), (API, "status", 503), (API, "status", 200)]


def test_a_429_waits_what_its_retry_after_says(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("status", status=429, headers={"Retry-After": "1"}, entry="task")
    started = time.monotonic()
    definition = driver.call(client.task(world.task_id), "definition")
    took = time.monotonic() - started
    assert definition.metadata.name == "parity-0"
    assert world.trail() == [(API, "task", 429), (API, "task", 200)]
    assert 1.0 <= took < 5.0  # the second, not the 0.1 s of the first backoff


def test_a_dropped_connection_is_retried(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("drop", entry="status")
    task = client.task(world.task_id)
    assert driver.call(task, "refresh") is task
    assert task.state == "completed"  # loaded by the refresh: no request
    assert world.trail() == [(API, "status", 0), (API, "status", 200)]


def test_spent_retries_end_in_the_typed_error_naming_the_call(
    driver: Driver, world: World, lc: LocalCluster
) -> None:
    lc.inject("status", status=500, times=2, entry="status")
    with lc.connect(max_retries=1) as impatient, pytest.raises(ServerError) as info:
        driver.call(impatient.task(world.task_id), "status")
    assert str(info.value).startswith(f"queue.status(taskId='{world.task_id}'): 500 ")
    assert world.trail() == [(API, "status", 500), (API, "status", 500)]


def test_an_action_that_may_have_arrived_is_never_sent_again(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("status", status=500, entry="claimWork")
    queue = client.task_queue("proj/parity-nothing-pending")
    with pytest.raises(ServerError):
        driver.call(queue, "claim_work", "wg", "w1")
    assert world.trail() == [(API, "claimWork", 500)]  # claiming twice may claim twice


# -- typed errors ------------------------------------------------------------------------------


def test_a_404_is_not_found_naming_the_call_and_is_not_retried(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    with pytest.raises(NotFound) as info:
        driver.call(client.task(MISSING_ID), "status")
    assert str(info.value).startswith(f"queue.status(taskId='{MISSING_ID}'): 404 ResourceNotFound")
    assert world.trail() == [(API, "status", 404)]


def test_a_403_is_insufficient_scopes_naming_the_missing_scope(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    task = client.create_task(task_queue_id="proj/parity-other", payload={}, name="victim")
    lc.reset_requests()
    weak = lc.connect(lc.add_client("parity/nobody", []))
    with weak, pytest.raises(InsufficientScopes) as info:
        driver.call(weak.task(task.task_id), "cancel")
    assert info.value.status == 403
    assert "queue:cancel-task" in str(info.value)
    assert world.trail() == [(API, "cancelTask", 403)]
    assert task.refresh().state == "pending"  # nothing happened


def test_a_success_that_is_no_json_is_a_malformed_answer_never_retried(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    login = "<html><body>Please log in</body></html>"
    lc.inject("status", status=200, body=login, content_type="text/html", entry="status")
    with pytest.raises(MalformedAnswer) as info:
        driver.call(client.task(world.task_id), "status")
    message = str(info.value)
    assert message.startswith(f"queue.status(taskId='{world.task_id}'): 200: expected JSON")
    assert "Please log in" in message
    assert world.trail() == [(API, "status", 200)]


def test_json_of_the_wrong_shape_is_a_model_data_error_naming_the_call(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    wrong = json.dumps({"status": {"taskId": world.task_id, "state": 7}})
    lc.inject("status", status=200, body=wrong, content_type="application/json", entry="status")
    with pytest.raises(ModelDataError) as info:
        driver.call(client.task(world.task_id), "status")
    assert info.value.call == f"queue.status(taskId='{world.task_id}')"
    assert isinstance(info.value, tcmodel.TaskclusterError)


# -- redirects keep Authorization at home ------------------------------------------------------


def test_a_private_s3_artifact_is_fetched_unsigned_from_the_blob_origin(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    assert driver.call(_art(client, world, "private/s3.bin"), "read_bytes") == DATA
    hops = [(r.origin, r.entry, r.authorization) for r in world.lc.requests]
    assert hops == [(API, "artifact", True), (BLOB, None, False)]


def test_an_object_artifact_sends_its_credentials_to_the_api_only(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    assert driver.call(_art(client, world, "public/object.bin"), "read_bytes") == DATA
    signed = {(r.origin, bool(r.authorization)) for r in world.lc.requests}
    assert signed == {(API, True), (BLOB, False)}
    assert [r.origin for r in world.lc.requests].count(BLOB) == 1


def test_a_reference_to_another_origin_gets_no_authorization(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    world.origin.requests.clear()
    world.origin.script(Reply(200, b"referenced", {"Content-Type": "text/plain"}))
    assert driver.call(_art(client, world, "public/ref.txt"), "read_text") == "referenced"
    [seen] = world.origin.requests
    assert seen.path == "/ref.txt" and seen.authorization is None
    assert not any("hawk" in v.lower() for v in seen.headers.values())


# -- resumable, verified downloads ----------------------------------------------------------


def test_a_cut_download_resumes_where_it_stopped(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster, tmp_path: Path
) -> None:
    lc.inject("truncate", origin="blob", keep=CUT)
    target = driver.call(_art(client, world, "public/s3.bin"), "download", tmp_path)
    assert target == tmp_path / "s3.bin" and target.read_bytes() == DATA
    assert world.trail() == [(API, "artifact", 200), (BLOB, None, 200), (BLOB, None, 206)]
    assert [p.name for p in tmp_path.iterdir()] == ["s3.bin"]  # no temporary file left


def test_a_cut_object_download_resumes_and_is_verified(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("truncate", origin="blob", keep=CUT)
    assert driver.call(_art(client, world, "public/object.bin"), "read_bytes") == DATA
    assert [s for o, _, s in world.trail() if o == BLOB] == [200, 206]


def test_a_hash_mismatch_is_raised_and_leaves_nothing_behind(
    driver: Driver, world: World, client: tcmodel.Cluster, tmp_path: Path
) -> None:
    kept = tmp_path / "spoiled.bin"
    kept.write_bytes(b"the old content")
    with pytest.raises(HashMismatch) as info:
        driver.call(_art(client, world, "public/spoiled.bin"), "download", kept)
    assert info.value.algorithm in ("sha256", "sha512")
    assert str(info.value).startswith("public/spoiled.bin: sha")
    assert [p.name for p in tmp_path.iterdir()] == ["spoiled.bin"]
    assert kept.read_bytes() == b"the old content"  # left as it was
    assert [o for o, _, _ in world.trail()].count(BLOB) == 1  # never retried


# -- progress -----------------------------------------------------------------------------------


def test_progress_counts_up_to_the_size_across_a_resume(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster, tmp_path: Path
) -> None:
    seen: list[tuple[int, int | None]] = []
    lc.inject("truncate", origin="blob", keep=CUT)
    art = _art(client, world, "public/s3.bin")
    driver.call(art, "download", tmp_path, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(done) > 3  # never backwards, chunk by chunk
    assert seen[-1] == (len(DATA), len(DATA))
    assert any(CUT - 65_536 <= d <= CUT for d in done)  # reported before the cut


# -- deadlines ----------------------------------------------------------------------------------


def test_an_api_call_to_a_dripping_server_is_cut_at_its_deadline(driver: Driver) -> None:
    with serving(DripServer(gap=0.1)) as server:
        slow = tcmodel.Cluster.from_url(server.url, max_retries=1, deadline=0.5)
        started = time.monotonic()
        with slow, pytest.raises(ConnectionFailed) as info:
            driver.call(slow.task(MISSING_ID), "status")
        took = time.monotonic() - started
    assert str(info.value) == (
        f"queue.status(taskId='{MISSING_ID}'): connection failed: "
        "no complete answer within the deadline of 0.5s"
    )
    assert server.hits == 2 and 1.0 <= took < 4.0  # two cut attempts, not 2 × 7 s


def test_a_download_from_a_dripping_origin_is_cut_at_its_deadline(
    driver: Driver, world: World, lc: LocalCluster
) -> None:
    hits = world.drip.hits
    with lc.connect(download_deadline=0.5, max_retries=0) as impatient:
        started = time.monotonic()
        with pytest.raises(ConnectionFailed) as info:
            driver.call(_art(impatient, world, "public/slow.json"), "read_bytes")
        took = time.monotonic() - started
    assert str(info.value).startswith("queue.artifact(taskId=")
    assert str(info.value).endswith(
        "connection failed: the body was cut short: no complete answer within the deadline of 0.5s"
    )
    assert world.drip.hits == hits + 1 and took < 3.0


# -- paging -------------------------------------------------------------------------------------


def test_a_listing_fetches_page_after_page(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    tasks = driver.list(client.task_group(world.group_id).tasks())
    assert sorted(t.task_id for t in tasks) == sorted(world.tasks)
    assert world.trail() == [(API, "listTaskGroup", 200)] * 3  # 2 + 2 + 1
    assert {t.state for t in tasks} == {"completed", "pending"}  # came with the pages


def test_a_limited_listing_stops_asking_for_pages(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    tasks = driver.list(client.task_group(world.group_id).tasks().limit(3))
    assert len(tasks) == 3
    assert world.trail() == [(API, "listTaskGroup", 200)] * 2


def test_first_and_records_of_a_listing(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    pending = client.task_group(world.group_id).tasks().filter(state="pending")
    first = driver.call(pending, "first")
    assert isinstance(first, Task) and first.state == "pending"
    assert world.trail() == [(API, "listTaskGroup", 200)]  # the first page had one
    world.lc.reset_requests()
    rows = driver.call(pending, "to_records")
    assert sorted(r["task_id"] for r in rows) == sorted(world.tasks[1:])
    assert world.trail() == [(API, "listTaskGroup", 200)] * 3


def test_a_bad_page_ends_the_listing_with_a_paging_error(
    driver: Driver, world: World, lc: LocalCluster, client: tcmodel.Cluster
) -> None:
    lc.inject("status", status=200, body='{"tasks": 7}', content_type="application/json")
    with pytest.raises(tcmodel.PagingError, match="the page has no list of 'tasks'"):
        driver.list(client.task_group(world.group_id).tasks())
    assert world.trail() == [(API, "listTaskGroup", 200)]


# -- any event loop, any async library ----------------------------------------------------------


def _status(cluster: tcmodel.Cluster, task_id: str) -> Any:
    return cluster.task(task_id).astatus()


def test_one_cluster_serves_loop_after_loop(world: World, client: tcmodel.Cluster) -> None:
    states = [asyncio.run(_status(client, world.task_id)).state for _ in range(3)]
    assert states == ["completed"] * 3
    assert world.trail() == [(API, "status", 200)] * 3


def test_one_cluster_serves_loops_in_several_threads_at_once(
    world: World, client: tcmodel.Cluster
) -> None:
    # Each thread runs loop after loop: one loop's shutdown (closing its
    # client) meets another thread's first call of a new loop.
    results: dict[tuple[int, int], list[str]] = {}

    async def many(key: tuple[int, int]) -> None:
        statuses = await asyncio.gather(*(_status(client, t) for t in world.tasks))
        results[key] = [s.state for s in statuses]

    def rounds(n: int) -> None:
        for r in range(3):
            asyncio.run(many((n, r)))

    threads = [threading.Thread(target=rounds, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    expected = ["completed"] + ["pending"] * 4
    assert results == {(n, r): expected for n in range(4) for r in range(3)}
    assert len(world.lc.requests) == 12 * len(world.tasks)


@pytest.mark.parametrize(
    "backend",
    ["asyncio", pytest.param("trio", marks=_NEEDS_TRIO)],
)
def test_concurrent_loads_in_an_anyio_task_group(
    backend: str, world: World, lc: LocalCluster
) -> None:
    import anyio

    got: dict[str, str] = {}

    async def main() -> None:
        async with lc.connect() as cluster, anyio.create_task_group() as tg:
            for task_id in world.tasks:
                tg.start_soon(load, cluster, task_id)

    async def load(cluster: tcmodel.Cluster, task_id: str) -> None:
        got[task_id] = (await _status(cluster, task_id)).state

    anyio.run(main, backend=backend)
    assert got == {t: ("completed" if t == world.task_id else "pending") for t in world.tasks}
    assert sorted(r.entry or "" for r in lc.requests) == ["status"] * len(world.tasks)


def test_one_cluster_serves_asyncio_and_trio_in_turn(world: World, client: tcmodel.Cluster) -> None:
    import anyio

    async def state() -> str:
        return str((await _status(client, world.task_id)).state)

    backends = ["asyncio", "trio", "asyncio", "trio"] if _HAS_TRIO else ["asyncio"] * 2
    assert [anyio.run(state, backend=b) for b in backends] == ["completed"] * len(backends)
    assert world.trail() == [(API, "status", 200)] * len(backends)


def test_a_cluster_closed_between_turns_of_its_loop_is_closed_in_it(
    world: World, lc: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    # A loop run turn by turn (as a notebook's or a framework's), the
    # cluster closed (sync) between two turns, then the loop shut down.
    loop = asyncio.new_event_loop()
    cluster = lc.connect()

    async def load() -> Any:
        return cluster.transport.async_client, await _status(cluster, world.task_id)

    http, status = loop.run_until_complete(load())
    cluster.close()
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    assert status.state == "completed" and http.is_closed
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_unloaded_data_in_async_code_says_what_to_await(
    world: World, client: tcmodel.Cluster
) -> None:
    async def main() -> tuple[str, str]:
        task = client.task(world.task_id)
        await task.astatus()
        state = task.state  # loaded: costs nothing
        with pytest.raises(tcmodel.AsyncUsageError) as info:
            task.definition
        return state, str(info.value)

    state, message = asyncio.run(main())
    assert state == "completed"
    assert message == "task.definition is not loaded: await task.adefinition() first"
    assert world.trail() == [(API, "status", 200)]
    assert client.task(world.task_id).definition.metadata.name == "parity-0"  # sync: fine


# -- data and actions: the same answers for the same requests -----------------------------------


@attrs.frozen
class DataPath:
    """One data path: what to ask of which handle, what must come back, and
    the API entries it costs."""

    handle: Callable[[tcmodel.Cluster, World], Any]
    name: str
    check: Callable[[Any, World], bool]
    entries: list[str]
    args: tuple[Any, ...] = ()


DATA_PATHS = {
    "task.status": DataPath(
        lambda c, w: c.task(w.task_id), "status", lambda v, w: v.state == "completed", ["status"]
    ),
    "task.definition": DataPath(
        lambda c, w: c.task(w.task_id),
        "definition",
        lambda v, w: v.metadata.name == "parity-0",
        ["task"],
    ),
    "task.dependencies": DataPath(
        lambda c, w: c.task(w.tasks[1]), "dependencies", lambda v, w: v == [], ["task"]
    ),
    "task.wait": DataPath(
        lambda c, w: c.task(w.task_id), "wait", lambda v, w: v == "completed", ["status"]
    ),
    "group.info": DataPath(
        lambda c, w: c.task_group(w.group_id),
        "info",
        lambda v, w: v.task_group_id == w.group_id,
        ["getTaskGroup"],
    ),
    "group.summary": DataPath(
        lambda c, w: c.task_group(w.group_id),
        "summary",
        lambda v, w: v == {"completed": 1, "pending": 4},
        ["listTaskGroup"] * 3,
    ),
    "run.info": DataPath(
        lambda c, w: c.task(w.task_id).run(0),
        "info",
        lambda v, w: v.state == "completed",
        ["status"],
    ),
    "artifact.info": DataPath(
        lambda c, w: _art(c, w, "public/object.bin"),
        "info",
        lambda v, w: v.storage_type == "object",
        ["artifactInfo"],
    ),
    "cluster.ping": DataPath(lambda c, w: c, "ping", lambda v, w: v["alive"] is True, ["ping"]),
    "cluster.current_scopes": DataPath(
        lambda c, w: c, "current_scopes", lambda v, w: v == ["*"], ["currentScopes"]
    ),
}


@pytest.mark.parametrize("path", DATA_PATHS.values(), ids=DATA_PATHS.keys())
def test_each_data_path_answers_alike_for_the_same_requests(
    driver: Driver, world: World, client: tcmodel.Cluster, path: DataPath
) -> None:
    value = driver.call(path.handle(client, world), path.name, *path.args)
    assert path.check(value, world), value
    assert [r.entry for r in world.lc.requests] == path.entries


def test_actions_leave_the_new_state_in_place(
    driver: Driver, world: World, client: tcmodel.Cluster
) -> None:
    task = driver.call(
        client, "create_task", task_queue_id="proj/parity-actions", payload={}, name="acted"
    )
    assert driver.call(task, "cancel") is task and task.state == "exception"
    assert driver.call(task, "rerun") is task and task.state == "pending"
    assert [r.entry for r in world.lc.requests] == ["createTask", "cancelTask", "rerunTask"]
