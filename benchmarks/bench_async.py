"""tcmodel's async path against its sync loop and the official client's
``taskcluster.aio``, on a local cluster served by ``python -m tcmodel serve``
in a child process (so client and server do not share a GIL); then again
with 10 ms added to every GET the server answers (a deployment in the same
region: the local cluster's ``delay`` fault, in a child process of its own).

1. 50 concurrent status loads (``await task.astatus()`` on 50 fresh handles,
   gathered) against ``taskcluster.aio.Queue.status`` gathered and against
   tcmodel's sync loop (``task.status`` one after the other); tcmodel keeps
   at most ``concurrency`` requests in flight per event loop (32 by
   default), aiohttp's session 100, so each is also measured with other
   bounds (tcmodel with ``concurrency=50`` and ``16``, ``taskcluster.aio``
   with a 16-connection ``aiohttp.TCPConnector``). The contenders are measured in
   turns, round after round, so that a slow spell falls on all alike. For reference, the same 50
   statuses in bulk (``cluster.tasks(ids)``: one request) and through a
   plain ``httpx.AsyncClient`` with httpx's own pool (what tcmodel used
   before its own pool).
2. 200 downloads of 1 MiB ``s3`` artifacts (``getArtifact``, a redirect to
   the blob origin, the data) with bounded concurrency
   (``tcmodel.concurrency.gather_limited``, 16 at a time; and
   ``map_limited``, 16 threads, for sync code) against one after the other.

The setup is the same for every contender: each round makes a new client
(a Cluster, an aiohttp session) and sends one request with it (so one
connection is open) before the clock starts; the timed part opens whatever
other connections it needs. Each figure is the median of several rounds,
wall time and (in brackets) the client process's CPU time. Client and server
share the machine's cores: with no added latency the figures measure CPU
work (on 2 cores, the client's and the server's Python compete), not
waiting, and concurrency can only overlap one side's work with the other's.
Run: ``python benchmarks/bench_async.py [rounds]``.

Figures on a quiet 2-core machine, median ms of 9 → 11 rounds (client CPU in
brackets), with httpcore's connections (h11) behind httpx's transport → with
:mod:`tcmodel._connection`'s (httptools) behind tcmodel's own transport and
a default bound of 32:

================================  =====================  =====================
50 status loads                   no added latency       10 ms per GET
================================  =====================  =====================
tcmodel async, gathered           41 (37) → 33 (22)      74 (55) → 43 (24)
tcmodel async, concurrency=50     59 (46) → 41 (27)      71 (53) → 57 (32)
tcmodel async, concurrency=16     41 (37) → 30 (22)      74 (55) → 59 (23)
tcmodel sync loop                 60 (42) → 41 (27)      611 (66) → 607 (64)
taskcluster.aio, gathered         62 (34) → 46 (27)      60 (32) → 53 (29)
taskcluster.aio, 16 connections   44 (28) → 28 (19)      58 (22) → 60 (22)
bulk, ``cluster.tasks(ids)``      5 → 3                  5 → 4
================================  =====================  =====================

(Before, tcmodel's default bound was 16; the machine was busier then, see
the official client's rows.) 200 downloads of 1 MiB,
``gather_limited(16)``: with 10 ms per GET 0.91 → 0.43 s against 5.6 / 5.0 s
one after the other (6× → 12×); without added latency 0.88 → 0.32 s (client
CPU 0.85 → 0.31 s), against 0.66 / 0.45 s for the sync loop: client and
server share the two cores. Wall times vary by a fifth from run to run; the
client CPU much less.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import tcmodel
from tcmodel.concurrency import gather_limited, map_limited
from tcmodel.credentials import Credentials

STATUS_TASKS = 50
ARTIFACTS = 200
ARTIFACT_SIZE = 1024 * 1024
PER_TASK = 50  # artifacts per task
BOUND = 16
QUEUE = "bench/async"
LATENCY = 0.01  # seconds added to each GET in the second half

# A local cluster whose GETs all wait ``latency`` seconds first, in a child
# process, printing the lines ``python -m tcmodel serve`` prints.
_SLOW_SERVER = """
import sys
from tcmodel.testing import LocalCluster
with LocalCluster() as lc:
    lc.inject("delay", delay=float(sys.argv[1]), times=10**9, method="GET")
    lc.inject("delay", delay=float(sys.argv[1]), times=10**9, method="GET", origin="blob")
    print(f"export TASKCLUSTER_ROOT_URL={lc.root_url}")
    print(f"export TASKCLUSTER_CLIENT_ID={lc.root_credentials.client_id}")
    print(f"export TASKCLUSTER_ACCESS_TOKEN={lc.root_credentials.access_token}", flush=True)
    sys.stdin.read()
"""


def serve(latency: float) -> tuple[subprocess.Popen[str], str, Credentials]:
    """Start a local cluster in a child process (``python -m tcmodel serve``
    without latency); its root URL and credentials."""
    if latency:
        command = [sys.executable, "-c", _SLOW_SERVER, str(latency)]
    else:
        command = [sys.executable, "-m", "tcmodel", "serve"]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    env: dict[str, str] = {}
    while len(env) < 3:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("python -m tcmodel serve ended before printing its address")
        found = re.match(r"export (TASKCLUSTER_\w+)=(.*)", line.strip())
        if found:
            env[found[1]] = found[2].strip("'\"")
    creds = Credentials(env["TASKCLUSTER_CLIENT_ID"], env["TASKCLUSTER_ACCESS_TOKEN"])
    return child, env["TASKCLUSTER_ROOT_URL"], creds


def seed(root_url: str, creds: Credentials) -> tuple[list[str], list[tuple[str, str]]]:
    """50 pending tasks, and 200 artifacts of 1 MiB (task id, name) on
    completed tasks."""
    with tcmodel.Cluster.from_url(root_url, creds) as cluster:
        pending = [
            cluster.create_task(task_queue_id="bench/idle", payload={}, name=f"s{i}").task_id
            for i in range(STATUS_TASKS)
        ]
        for i in range(ARTIFACTS // PER_TASK):
            cluster.create_task(task_queue_id=QUEUE, payload={}, name=f"a{i}")
        data = bytes(range(256)) * (ARTIFACT_SIZE // 256)
        arts: list[tuple[str, str]] = []
        for claim in cluster.task_queue(QUEUE).claim_work("bench", "w1", tasks=32):
            with claim:
                for n in range(PER_TASK):
                    name = f"public/data/{n}.bin"
                    claim.upload(name, data, storage_type="s3")
                    arts.append((claim.task.task_id, name))
                claim.completed()
    return pending, arts


Timing = tuple[float, float]  # wall seconds, client CPU seconds


def median_ms(rounds: int, measure: Callable[[], Timing], *, warm_up: bool = True) -> Timing:
    """The median wall and CPU milliseconds of ``rounds`` measures."""
    if warm_up:
        measure()  # a round not counted
    return _median_ms([measure() for _ in range(rounds)])


def _median_ms(timings: list[Timing]) -> Timing:
    """The median wall and CPU of ``timings`` (seconds), in milliseconds."""
    return (
        statistics.median(wall for wall, _ in timings) * 1000,
        statistics.median(cpu for _, cpu in timings) * 1000,
    )


def interleaved(rounds: int, contenders: dict[str, Callable[[], Timing]]) -> dict[str, Timing]:
    """The median wall and CPU milliseconds of each contender, measured in
    turns (one round of each, then the next), so that a slower spell of the
    machine falls on every contender alike; a first turn is not counted."""
    got: dict[str, list[Timing]] = {name: [] for name in contenders}
    for turn in range(rounds + 1):
        for name, measure in contenders.items():
            timing = measure()
            if turn:
                got[name].append(timing)
    return {name: _median_ms(timings) for name, timings in got.items()}


class Clock:
    """Wall and process CPU time from ``start()`` to ``stop()``."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def timed_async(
    body: Callable[[tcmodel.Cluster], Awaitable[Any]], cluster: Callable[[], tcmodel.Cluster]
) -> Timing:
    async def run() -> Timing:
        clock = Clock()
        async with cluster() as c:
            await c.transport.arequest("queue", "ping")  # a connection is open
            clock.start()
            await body(c)
            return clock.stop()

    return asyncio.run(run())


def statuses(root_url: str, creds: Credentials, ids: list[str], rounds: int) -> dict[str, Timing]:
    def connect() -> tcmodel.Cluster:
        return tcmodel.Cluster.from_url(root_url, creds)

    def connect_wide() -> tcmodel.Cluster:
        cluster = connect()
        cluster.transport.concurrency = len(ids)
        return cluster

    def connect_bound() -> tcmodel.Cluster:
        cluster = connect()
        cluster.transport.concurrency = BOUND
        return cluster

    def connect_httpx_pool() -> tcmodel.Cluster:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
        return tcmodel.Cluster.from_url(
            root_url, creds, async_client=httpx.AsyncClient(limits=limits)
        )

    async def gathered(c: tcmodel.Cluster) -> None:
        await asyncio.gather(*[c.task(i).astatus() for i in ids])

    async def bulk(c: tcmodel.Cluster) -> None:
        await c.tasks(ids)[0].astatus()

    def sync_loop() -> Timing:
        clock = Clock()
        with connect() as c:
            c.ping()
            clock.start()
            for i in ids:
                c.task(i).status
            return clock.stop()

    contenders: dict[str, Callable[[], Timing]] = {
        "tcmodel async, gathered": lambda: timed_async(gathered, connect),
        f"tcmodel async, gathered, concurrency={len(ids)}": lambda: timed_async(
            gathered, connect_wide
        ),
        f"tcmodel async, gathered, concurrency={BOUND}": lambda: timed_async(
            gathered, connect_bound
        ),
        "tcmodel sync loop": sync_loop,
        "tcmodel async, httpx's own pool": lambda: timed_async(gathered, connect_httpx_pool),
        "tcmodel bulk, cluster.tasks(ids) (1 request)": lambda: timed_async(bulk, connect),
    }
    try:
        import taskcluster.aio
    except ImportError:
        return interleaved(rounds, contenders)
    options = {
        "rootUrl": root_url,
        "credentials": {"clientId": creds.client_id, "accessToken": creds.access_token},
    }

    def official(connections: int | None) -> Timing:
        async def run() -> Timing:
            clock = Clock()
            limit = {} if connections is None else {"connector": TCPConnector(limit=connections)}
            async with taskcluster.aio.createSession(**limit) as session:
                queue = taskcluster.aio.Queue(options, session=session)
                await queue.ping()
                clock.start()
                await asyncio.gather(*[queue.status(i) for i in ids])
                return clock.stop()

        return asyncio.run(run())

    from aiohttp import TCPConnector  # taskcluster.aio's own dependency

    contenders["taskcluster.aio, gathered"] = lambda: official(None)
    contenders[f"taskcluster.aio, gathered, {BOUND} connections"] = lambda: official(BOUND)
    return interleaved(rounds, contenders)


def downloads(
    root_url: str, creds: Credentials, arts: list[tuple[str, str]], rounds: int
) -> dict[str, Timing]:
    def connect() -> tcmodel.Cluster:
        return tcmodel.Cluster.from_url(root_url, creds)

    async def size(c: tcmodel.Cluster, task_id: str, name: str) -> int:
        return len(await c.task(task_id).run(0).artifact(name).aread_bytes())

    async def bounded(c: tcmodel.Cluster) -> None:
        got = await gather_limited((size(c, t, n) for t, n in arts), BOUND)
        assert got == [ARTIFACT_SIZE] * len(arts)

    async def one_by_one(c: tcmodel.Cluster) -> None:
        for t, n in arts:
            assert await size(c, t, n) == ARTIFACT_SIZE

    def sync(concurrency: int) -> Timing:
        clock = Clock()
        with connect() as c:
            c.ping()
            handles = [c.task(t).run(0).artifact(n) for t, n in arts]
            clock.start()
            got = map_limited(lambda a: len(a.read_bytes()), handles, concurrency)
            assert got == [ARTIFACT_SIZE] * len(arts)
            return clock.stop()

    return {
        f"tcmodel async, gather_limited({BOUND})": median_ms(
            rounds, lambda: timed_async(bounded, connect)
        ),
        "tcmodel async, one after the other": median_ms(
            rounds, lambda: timed_async(one_by_one, connect), warm_up=False
        ),
        f"tcmodel sync, map_limited({BOUND} threads)": median_ms(rounds, lambda: sync(BOUND)),
        "tcmodel sync, one after the other": median_ms(rounds, lambda: sync(1), warm_up=False),
    }


def table(title: str, rows: dict[str, Timing], base: str) -> None:
    print(f"\n{title}")
    width = max(len(k) for k in rows)
    for name, (ms, cpu) in rows.items():
        print(f"  {name:<{width}}  {ms:8.1f} ms ({cpu:6.1f})  {rows[base][0] / ms:5.2f}× {base!r}")


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 7
    for latency in (0.0, LATENCY):
        child, root_url, creds = serve(latency)
        where = f"{latency * 1000:.0f} ms added to each GET" if latency else "no added latency"
        try:
            ids, arts = seed(root_url, creds)
            table(
                f"{STATUS_TASKS} concurrent status loads, {where} (median of {rounds} rounds)",
                statuses(root_url, creds, ids, rounds),
                "tcmodel sync loop",
            )
            cores = os.cpu_count()
            bound = f", CPU bound: client and server share {cores} cores" if not latency else ""
            table(
                f"{ARTIFACTS} downloads of 1 MiB s3 artifacts, {where} (median of 3 rounds{bound})",
                downloads(root_url, creds, arts, 3),
                "tcmodel sync, one after the other",
            )
        finally:
            child.terminate()
            child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
