"""Bounded concurrency (tcmodel.concurrency) and the async client's pool
(tcmodel._pool), on a real local cluster: results in order, never more in
flight than the bound (measured from when each operation ran, and from
server-side delays), the first error raised as it is, the same requests
from the sync and the async drivers, group.failures() and its async twin."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TypeVar

import anyio
import httpx
import pytest
from drivers import Driver, driver

import tcmodel
from tcmodel._pool import async_client
from tcmodel.concurrency import arun_ops, gather_limited, map_limited, run_ops
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker
from tcmodel.transport import Call, Op

__all__ = ["driver"]  # the fixture, imported for pytest

T = TypeVar("T")
QUEUE = "proj/ci"


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[LocalCluster, list[str]]]:
    """A local cluster with 12 pending tasks."""
    with LocalCluster() as lc, lc.connect() as cluster:
        ids = [
            cluster.create_task(task_queue_id=QUEUE, payload={}, name=f"t{i}").task_id
            for i in range(12)
        ]
        yield lc, ids


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) spans open at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def timed(op: Op[T], spans: list[tuple[float, float]]) -> Op[T]:
    """``op``, noting when it ran (from its first step to its result)."""
    start = time.monotonic()
    result = yield from op
    spans.append((start, time.monotonic()))
    return result


def status_ops(cluster: tcmodel.Cluster, ids: list[str]) -> list[Op[object]]:
    return [cluster.transport.call(Call.of("queue", "status", taskId=i)) for i in ids]


# gather_limited / map_limited: order, bound, errors


@pytest.mark.parametrize("bound", [1, 3, 10])
def test_gather_limited_keeps_order_and_never_runs_more_than_the_bound(bound: int) -> None:
    running, most = 0, 0

    async def job(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.005)
        running -= 1
        return n

    assert asyncio.run(gather_limited((job(n) for n in range(25)), bound)) == list(range(25))
    assert most == bound


@pytest.mark.parametrize(
    "backend",
    [
        "asyncio",
        pytest.param(
            "trio",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("trio") is None, reason="trio is not installed"
            ),
        ),
    ],
)
def test_gather_limited_runs_under_anyio_and_reports_progress(backend: str) -> None:
    seen: list[tuple[int, int | None]] = []

    async def double(n: int) -> int:
        await anyio.sleep(0)
        return 2 * n

    async def main() -> list[int]:
        return await gather_limited(
            [double(n) for n in range(4)], 2, lambda d, t: seen.append((d, t))
        )

    assert anyio.run(main, backend=backend) == [0, 2, 4, 6]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_first_error_is_raised_as_it_is_the_rest_cancelled_or_never_started() -> None:
    started: list[int] = []
    cancelled: list[int] = []

    async def job(n: int) -> int:
        started.append(n)
        try:
            if n == 2:
                raise tcmodel.NotFound(
                    call="queue.status(taskId='x')",
                    method="GET",
                    url="http://x",
                    status=404,
                    code="ResourceNotFound",
                    message="gone",
                )
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(tcmodel.NotFound, match="gone"):  # typed, not an exception group
            asyncio.run(gather_limited([job(n) for n in range(10)], 3))
        gc.collect()
    assert started == [0, 1, 2]
    assert sorted(cancelled) == [0, 1]
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_map_limited_keeps_order_within_the_bound_and_stops_at_the_first_error() -> None:
    lock = threading.Lock()
    running, most, calls = 0, 0, []

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            calls.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        if n == 3:
            raise tcmodel.ConfigurationError("bad item")
        return n * 10

    assert map_limited(work, [0, 1, 2], concurrency=2) == [0, 10, 20]
    assert most == 2
    calls.clear()
    with pytest.raises(tcmodel.ConfigurationError, match="bad item"):
        map_limited(work, range(40), concurrency=4)
    assert len(calls) < 40  # the work not started when it failed never is


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_a_bound_that_is_no_positive_integer_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        map_limited(str, [1], concurrency=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(gather_limited([], concurrency=bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        tcmodel.transport.Transport("https://tc.example.com", concurrency=bad)  # type: ignore[arg-type]


# operations: the sync and the async driver, on the local cluster


def test_run_ops_and_arun_ops_send_the_same_requests_within_the_bound(
    seeded: tuple[LocalCluster, list[str]],
) -> None:
    lc, ids = seeded
    spans: dict[str, list[tuple[float, float]]] = {"sync": [], "async": []}
    answers: dict[str, list[object]] = {}
    with lc.connect() as cluster:
        lc.reset_requests()
        lc.inject("delay", delay=0.15, times=len(ids), entry="status")
        ops = [timed(op, spans["sync"]) for op in status_ops(cluster, ids)]
        answers["sync"] = run_ops(cluster.transport, ops, concurrency=3)
        sync_requests = [(r.entry, r.path) for r in lc.requests]

    async def main() -> list[object]:
        async with lc.connect() as c:
            lc.reset_requests()
            lc.inject("delay", delay=0.15, times=len(ids), entry="status")
            ops = [timed(op, spans["async"]) for op in status_ops(c, ids)]
            return await arun_ops(c.transport, ops, concurrency=3)

    answers["async"] = asyncio.run(main())
    assert answers["sync"] == answers["async"]
    assert [a["status"]["taskId"] for a in answers["async"]] == ids  # type: ignore[index]
    assert sorted(r for r in sync_requests) == sorted((r.entry, r.path) for r in lc.requests)
    assert len(lc.requests) == len(ids)  # one request per operation, no more
    assert most_at_once(spans["sync"]) == 3
    assert most_at_once(spans["async"]) == 3


def test_the_default_bound_is_the_clusters(seeded: tuple[LocalCluster, list[str]]) -> None:
    lc, ids = seeded
    spans: list[tuple[float, float]] = []

    async def main() -> None:
        async with lc.connect() as c:
            c.transport.concurrency = 2
            lc.inject("delay", delay=0.1, times=len(ids), entry="status")
            await arun_ops(c.transport, [timed(op, spans) for op in status_ops(c, ids)])

    asyncio.run(main())
    assert most_at_once(spans) == 2
    assert tcmodel.transport.Transport("https://tc.example.com").concurrency == 32


def test_the_async_pool_keeps_at_most_its_size_in_flight(
    seeded: tuple[LocalCluster, list[str]],
) -> None:
    # 12 coroutines at once, but the cluster's pool has 3 connections: the
    # server sees at most 3 requests at a time, so the 0.3 s delays come in
    # four waves (≥ 1.2 s), not one.
    lc, ids = seeded

    async def main() -> float:
        async with lc.connect() as c:
            c.transport.concurrency = 3
            await c.task(ids[0]).arefresh()  # the pool exists, its first connection too
            lc.inject("delay", delay=0.3, times=len(ids), entry="status")
            start = time.monotonic()
            handles = [c.task(i) for i in ids]
            states = await gather_limited((t.arefresh() for t in handles), concurrency=12)
            assert [t.state for t in states] == ["pending"] * len(ids)
            return time.monotonic() - start

    elapsed = asyncio.run(main())
    assert 1.2 <= elapsed < 12 * 0.3


def test_the_pool_reuses_connections_and_honours_the_pool_timeout(
    seeded: tuple[LocalCluster, list[str]],
) -> None:
    lc, _ = seeded
    url = f"{lc.root_url}/api/queue/v1/ping"

    async def main() -> None:
        async with async_client(2, timeout=httpx.Timeout(5.0, pool=0.2)) as client:
            one_by_one = [await client.get(url) for _ in range(10)]
            assert len({id(r.extensions["network_stream"]) for r in one_by_one}) == 1
            at_once = await asyncio.gather(*[client.get(url) for _ in range(10)])
            assert len({id(r.extensions["network_stream"]) for r in at_once}) <= 2
            async with client.stream("GET", url), client.stream("GET", url):
                with pytest.raises(httpx.PoolTimeout):  # both connections are held
                    await client.get(url)
            assert (await client.get(url)).status_code == 200  # handed back on close

    asyncio.run(main())


# group.failures() and its async twin: one operation per failed task


@pytest.fixture(scope="module")
def failing() -> Iterator[tuple[LocalCluster, str, list[Task]]]:
    """A group of 4 failed tasks, each with its own 30-line log."""
    with LocalCluster() as lc, lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        made = [
            cluster.create_task(task_queue_id=QUEUE, payload={}, name=f"f{i}", task_group_id=gid)
            for i in range(4)
        ]
        for i, task in enumerate(made):
            log = "".join(f"f{i} line {n}\n" for n in range(1, 31))
            worker.run(task.task_id, outcome="failed", log=log)
        yield lc, gid, made


def test_failures_read_each_log_once_with_at_most_the_bound_at_once(
    failing: tuple[LocalCluster, str, list[Task]], driver: Driver
) -> None:
    lc, gid, _ = failing
    with lc.connect() as cluster:
        group = cluster.task_group(gid)
        driver.list(group.tasks())  # listed whole: failures read only the logs
        lc.reset_requests()
        lc.inject("delay", delay=0.3, times=4, path="live_backing.log")
        start = time.monotonic()
        found = driver.call(group, "failures", tail=1, concurrency=2)
        elapsed = time.monotonic() - start
    assert sorted((f.name, f.log_tail) for f in found) == [
        (f"f{i}", f"f{i} line 30") for i in range(4)
    ]
    assert all(f.reason == "failed" and f.note == "" for f in found)
    # Per log: getLatestArtifact... on the API, then the data from the blob origin.
    assert len([r for r in lc.requests if r.origin == "api"]) == 4
    assert len([r for r in lc.requests if r.origin == "blob"]) == 4
    assert elapsed >= 0.6  # two at a time: two waves of 0.3 s, never one
