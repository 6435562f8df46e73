"""Fault suite, client lifecycle: one Cluster used from many event loops
(``asyncio.run`` again and again, anyio, loops in threads) and from many
threads at once; what closing means. Real sockets on 127.0.0.1: the local
cluster."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import httpx
import pytest

import tcmodel
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

DATA = b"the same bytes, whichever loop reads them\n" * 100
T = TypeVar("T")


@pytest.fixture(scope="module")
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def done_task_id(lc: LocalCluster) -> str:
    with lc.connect() as admin, Worker(lc, "proj/ci") as worker:
        task = admin.create_task(task_queue_id="proj/ci", payload={}, name="lifecycle")
        worker.run(task.task_id, artifacts={"public/data.bin": DATA})
        return task.task_id


@pytest.fixture
def cluster(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with lc.connect() as c:
        yield c


def _art(cluster: tcmodel.Cluster, task_id: str) -> Artifact:
    return cluster.task(task_id).latest_artifact("public/data.bin")


def _client_of_the_loop(cluster: tcmodel.Cluster) -> Callable[[], Any]:
    """A coroutine function reading the artifact and returning the async
    client the running loop used."""

    async def read(task_id: str) -> tuple[bytes, httpx.AsyncClient]:
        data = await _art(cluster, task_id).aread_bytes()
        return data, cluster.transport.async_client

    return read


# -- item 6: one Cluster, many event loops --------------------------------------------


def test_asyncio_run_twice_on_one_cluster(
    cluster: tcmodel.Cluster, done_task_id: str, lc: LocalCluster
) -> None:
    read = _client_of_the_loop(cluster)
    lc.reset_requests()
    first, first_client = asyncio.run(read(done_task_id))
    # Its loop is gone; the client it used was closed inside it, connections and all.
    assert first_client.is_closed
    second, second_client = asyncio.run(read(done_task_id))  # was: Event loop is closed
    assert first == second == DATA
    assert second_client is not first_client and second_client.is_closed
    # Each run costs the same requests: nothing was retried over a dead connection.
    per_run = [r.entry for r in lc.requests]
    assert len(per_run) % 2 == 0 and per_run[: len(per_run) // 2] == per_run[len(per_run) // 2 :]
    assert all(r.status in (200, 303) for r in lc.requests)


def test_many_loops_leave_no_unclosed_client(cluster: tcmodel.Cluster, done_task_id: str) -> None:
    read = _client_of_the_loop(cluster)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clients = [asyncio.run(read(done_task_id))[1] for _ in range(5)]
        gc.collect()
    assert all(c.is_closed for c in clients)
    assert len({id(c) for c in clients}) == 5
    unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
    # The transport keeps no client of a loop that is gone, beyond the last one.
    assert len(cluster.transport._async_clients) <= 1


def test_anyio_asyncio_backend_twice(cluster: tcmodel.Cluster, done_task_id: str) -> None:
    read = _client_of_the_loop(cluster)
    first = anyio.run(read, done_task_id, backend="asyncio")
    second = anyio.run(read, done_task_id, backend="asyncio")
    assert first[0] == second[0] == DATA
    assert first[1].is_closed and second[1].is_closed


def test_sync_and_async_alternate(cluster: tcmodel.Cluster, done_task_id: str) -> None:
    art = _art(cluster, done_task_id)
    assert art.read_bytes() == DATA
    assert asyncio.run(art.aread_bytes()) == DATA
    assert art.read_bytes() == DATA
    assert asyncio.run(art.aread_bytes()) == DATA


def test_loops_in_threads_at_once_each_get_their_client(
    cluster: tcmodel.Cluster, done_task_id: str
) -> None:
    read = _client_of_the_loop(cluster)
    barrier = threading.Barrier(4)

    def in_a_thread() -> tuple[bytes, httpx.AsyncClient]:
        async def main() -> tuple[bytes, httpx.AsyncClient]:
            barrier.wait()
            return await read(done_task_id)

        return asyncio.run(main())

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: in_a_thread(), range(4)))
    assert [data for data, _ in results] == [DATA] * 4
    assert len({id(client) for _, client in results}) == 4
    assert all(client.is_closed for _, client in results)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # see the docstring
def test_a_loop_that_is_not_shut_down_cleanly(cluster: tcmodel.Cluster, done_task_id: str) -> None:
    """``loop.close()`` without ``shutdown_asyncgens()``: the next loop
    still works (the dead loop's client is dropped, not reused). The dead
    loop's sockets can no longer be closed through it: they go at garbage
    collection, with Python's usual ResourceWarning."""
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_art(cluster, done_task_id).aread_bytes()) == DATA
    finally:
        loop.close()
    assert asyncio.run(_art(cluster, done_task_id).aread_bytes()) == DATA
    gc.collect()


def test_aclose_closes_the_running_loops_client(lc: LocalCluster, done_task_id: str) -> None:
    cluster = lc.connect()

    async def main() -> httpx.AsyncClient:
        await _art(cluster, done_task_id).aread_bytes()
        client = cluster.transport.async_client
        await cluster.aclose()
        return client

    assert asyncio.run(main()).is_closed
    with pytest.raises(tcmodel.ConfigurationError, match="is closed"):
        asyncio.run(_art(cluster, done_task_id).aread_bytes())


def test_close_from_another_thread_closes_a_running_loops_client(
    lc: LocalCluster, done_task_id: str
) -> None:
    cluster = lc.connect()
    used = threading.Event()
    closed = threading.Event()

    async def main() -> httpx.AsyncClient:
        await _art(cluster, done_task_id).aread_bytes()
        client = cluster.transport.async_client
        used.set()
        with anyio.move_on_after(10):
            while not client.is_closed:  # closed in this loop, at close()'s request
                await asyncio.sleep(0.01)
            # ... by a task of this loop: let it finish closing the connections.
            await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
            closed.set()
        return client

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, main())
        assert used.wait(10)
        cluster.close()
        assert future.result(10).is_closed
    assert closed.is_set()


# -- item 14: one client per transport, and closing ---------------------------------


def _at_once(n: int, fn: Callable[[], T]) -> list[T]:
    """Call ``fn`` from ``n`` threads released together."""
    barrier = threading.Barrier(n)

    def call() -> T:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def test_eight_threads_on_a_fresh_cluster_share_one_client(
    lc: LocalCluster, done_task_id: str
) -> None:
    for _ in range(3):  # the race is narrow: give it a few chances
        cluster = lc.connect()
        lc.reset_requests()

        def use(cluster: tcmodel.Cluster = cluster) -> httpx.Client:
            assert cluster.task(done_task_id).state == "completed"
            return cluster.transport.client

        clients = _at_once(8, use)
        assert len({id(c) for c in clients}) == 1
        assert len([r for r in lc.requests if r.entry == "status"]) == 8
        cluster.close()
        assert clients[0].is_closed  # the one client was the one closed


def test_eight_threads_asking_for_the_client_get_the_same_one(lc: LocalCluster) -> None:
    for _ in range(5):
        with lc.connect() as cluster:
            clients = _at_once(8, lambda c=cluster: c.transport.client)  # type: ignore[misc]
            assert len({id(c) for c in clients}) == 1


def test_a_call_after_close_is_refused_before_any_request(
    lc: LocalCluster, done_task_id: str
) -> None:
    cluster = lc.connect()
    task = cluster.task(done_task_id)
    assert task.state == "completed"
    client = cluster.transport.client
    cluster.close()
    assert client.is_closed
    lc.reset_requests()
    with pytest.raises(tcmodel.ConfigurationError, match="is closed") as info:
        task.refresh()
    assert "Cluster.from_url" in str(info.value)
    with pytest.raises(tcmodel.ConfigurationError, match="is closed"):
        cluster.ping()
    with pytest.raises(tcmodel.ConfigurationError, match="is closed"):
        asyncio.run(_art(cluster, done_task_id).aread_bytes())
    with pytest.raises(tcmodel.ConfigurationError, match="is closed"):
        cluster.transport.client  # no new client is opened behind the user's back
    assert lc.requests == []
    # What was loaded stays readable; closing twice is harmless.
    assert task.state == "completed"
    cluster.close()
    asyncio.run(cluster.aclose())


def test_close_refuses_calls_but_leaves_the_users_clients_open(
    lc: LocalCluster, done_task_id: str
) -> None:
    with httpx.Client() as mine:
        cluster = lc.connect(client=mine)
        assert cluster.task(done_task_id).state == "completed"
        cluster.close()
        assert not mine.is_closed
        lc.reset_requests()
        with pytest.raises(tcmodel.ConfigurationError, match="is closed"):
            cluster.ping()
        assert lc.requests == []


def test_with_block_closes_and_refuses_after(lc: LocalCluster, done_task_id: str) -> None:
    with lc.connect() as cluster:
        task: Task = cluster.task(done_task_id)
        assert task.state == "completed"
    with pytest.raises(tcmodel.ConfigurationError):
        cluster.task(done_task_id).refresh()


def test_async_with_block_closes_and_refuses_after(lc: LocalCluster, done_task_id: str) -> None:
    async def main() -> tcmodel.Cluster:
        async with lc.connect() as cluster:
            assert await _art(cluster, done_task_id).aread_bytes() == DATA
        return cluster

    cluster = asyncio.run(main())
    with pytest.raises(tcmodel.ConfigurationError):
        cluster.ping()
