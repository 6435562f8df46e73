"""How many Hawk-authenticated ``GET /task/<id>/status`` per second a
LocalCluster answers to one keep-alive client.

Measured with the server in this process (client and server share the GIL)
and in a child process; with a bare ``httpx.Client`` signing through
:class:`tcmodel.hawk.HawkAuth`, with tcmodel's own ``task.refresh()`` (the
whole stack: transport, retries, model parsing), and, when it is installed,
with the official ``taskcluster`` client's ``queue.status`` for comparison.

Run: ``python benchmarks/bench_local_cluster.py [seconds]``
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import httpx

import tcmodel
from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth
from tcmodel.testing import LocalCluster


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


def main(argv: list[str]) -> None:
    """Print the figures."""
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


if __name__ == "__main__":
    main(sys.argv[1:])
