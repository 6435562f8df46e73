"""How many Hawk-authenticated ``GET /task/<id>/status`` per second a
LocalCluster answers to one keep-alive client.

Measured with the server in this process (client and server share the GIL)
and in a child process; with a bare ``httpx.Client`` signing through
:class:`tcmodel.hawk.HawkAuth`, with tcmodel's own ``task.refresh()`` (the
whole stack: transport, retries, model parsing), and, when it is installed,
with the official ``taskcluster`` client's ``queue.status`` for comparison.

Then what the cluster itself costs as it serves (``--memory``, or alone
with ``python benchmarks/bench_local_cluster.py --memory-only``): the memory
it keeps per request answered (``tracemalloc``: what stays allocated after
N requests, over N), with the default bounded request log and with a log
as big as the run (what every request cost before the log was a ring
buffer); and for GETs of a big blob, the time per GET and the peak of
allocations while serving them (the ETag is computed when the blob is
stored, and the data is sent from where it is stored, not copied).

Run: ``python benchmarks/bench_local_cluster.py [seconds] [--memory|--memory-only]``
"""

from __future__ import annotations

import multiprocessing
import sys
import time
import tracemalloc
from collections.abc import Callable
from multiprocessing.connection import Connection

import httpx

import tcmodel
from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth
from tcmodel.testing import LocalCluster
from tcmodel.testing.state import Blob, Settings


def prepare(lc: LocalCluster) -> str:
    """Create one task and return its id."""
    with lc.connect() as cluster:
        return cluster.create_task(task_queue_id="bench/worker", payload={}, name="bench").task_id


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call`` over ``seconds``."""
    call()  # warm up, open the connection
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        call()
        count += 1
    return count / elapsed


def measure_all(
    root_url: str, creds: Credentials, task_id: str, seconds: float
) -> dict[str, float]:
    """Requests per second for each client."""
    out: dict[str, float] = {}
    url = f"{root_url}/api/queue/v1/task/{task_id}/status"
    with httpx.Client(auth=HawkAuth(creds)) as client:

        def bare() -> None:
            client.get(url).raise_for_status()

        out["httpx + HawkAuth"] = rate(bare, seconds)
    with tcmodel.Cluster.from_url(root_url, credentials=creds) as cluster:
        task = cluster.task(task_id)
        out["tcmodel task.refresh()"] = rate(task.refresh, seconds)
    try:
        import taskcluster
    except ImportError:
        return out
    queue = taskcluster.Queue(
        {
            "rootUrl": root_url,
            "credentials": {"clientId": creds.client_id, "accessToken": creds.access_token},
        }
    )
    out["official client queue.status()"] = rate(lambda: queue.status(task_id), seconds)
    return out


def _child(conn: Connection) -> None:
    with LocalCluster() as lc:
        creds = lc.root_credentials
        conn.send((lc.root_url, creds.client_id, creds.access_token, prepare(lc)))
        conn.recv()  # until the parent is done


def _print(where: str, figures: dict[str, float]) -> None:
    for name, value in figures.items():
        print(f"{where:<20} {name:<32} {value:8.0f} authenticated GET/s")


def kept_per_request(requests: int, log_size: int | None) -> float:
    """Bytes a local cluster keeps allocated per request it answered
    (``ping`` GETs on one keep-alive connection), with a request log of
    ``log_size`` entries (``None``: the default)."""
    try:
        settings = Settings() if log_size is None else Settings(request_log_size=log_size)
    except TypeError:  # a tcmodel from before the bounded log: every request kept
        settings = Settings()
    with LocalCluster(settings=settings) as lc, httpx.Client() as client:
        url = lc.root_url + "/api/queue/v1/ping"
        for _ in range(200):  # warm: connection, caches
            client.get(url)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(requests):
            client.get(url)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    return (after - before) / requests


def blob_gets(size_mib: int, gets: int) -> tuple[float, float]:
    """Seconds per GET of a ``size_mib`` MiB blob, and the peak of Python
    allocations (MiB) above the stored blob while ``gets`` GETs are served
    (client and server in this process; the client discards the data)."""
    data = bytes(range(256)) * (size_mib * 4096)
    with LocalCluster() as lc, httpx.Client() as client:
        lc.state.blobs.put("bench/big", Blob(data))
        lc.state.blobs.set_public("bench/big")
        url = lc.blob_url + "/blobs/bench%2Fbig"

        def get() -> None:
            with client.stream("GET", url) as r:
                for _ in r.iter_raw(1024 * 1024):
                    pass

        get()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        for _ in range(gets):
            get()
        seconds = (time.perf_counter() - started) / gets
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, (peak - base) / (1024 * 1024)


def memory(requests: int = 6_000) -> None:
    """Print what the local cluster keeps and copies as it serves."""
    bounded = kept_per_request(requests, requests // 10)
    unbounded = kept_per_request(requests, requests * 2)
    small = f"a log of {requests // 10:,}"
    print(f"kept per request, {requests:,} pings, {small}:        {bounded:7.0f} bytes")
    print(f"kept per request, {requests:,} pings, a log as big as the run: {unbounded:7.0f} bytes")
    seconds, peak = blob_gets(64, 10)
    print(f"GET of a 64 MiB blob: {seconds * 1000:.0f} ms; allocation peak {peak:.1f} MiB")


def main(argv: list[str]) -> None:
    """Print the figures."""
    if "--memory-only" in argv:
        memory()
        return
    with_memory = "--memory" in argv
    argv = [a for a in argv if not a.startswith("--")]
    seconds = float(argv[0]) if argv else 2.0
    with LocalCluster() as lc:
        _print(
            "in-process server", measure_all(lc.root_url, lc.root_credentials, prepare(lc), seconds)
        )

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child,), daemon=True)
    proc.start()
    try:
        root_url, client_id, token, task_id = parent.recv()
        figures = measure_all(root_url, Credentials(client_id, token), task_id, seconds)
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    _print("separate process", figures)
    if with_memory:
        memory()


if __name__ == "__main__":
    main(sys.argv[1:])
