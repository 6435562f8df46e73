"""How many Hawk-authenticated ``GET /task/<id>/status`` per second a
LocalCluster answers to one keep-alive ``httpx.Client``.

Measured twice: with the server in this process (client and server share the
GIL) and with the server in a child process.

Run: ``python benchmarks/bench_local_cluster.py [seconds]``
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import httpx

from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import Request, Service, handles
from tcmodel.utils import from_now_json, slug_id


class _StubQueue(Service):
    """Stands in for the queue while it has no ``createTask``/``status``."""

    name = "queue"

    @handles("status")
    def status(self, req: Request) -> dict[str, Any]:
        return {"status": {"taskId": req.params["taskId"], "state": "pending", "runs": []}}


def prepare(lc: LocalCluster) -> str:
    """Create one task (through the queue, if it can) and return its status URL."""
    task_id = slug_id()
    api = f"{lc.root_url}/api/queue/v1"
    if lc.state.queue.handler("createTask") is None or lc.state.queue.handler("status") is None:
        lc.state.services["queue"] = _StubQueue(lc.state)
    else:
        task = {
            "taskQueueId": "bench/worker",
            "schedulerId": "-",
            "taskGroupId": task_id,
            "created": from_now_json("0 seconds"),
            "deadline": from_now_json("1 hour"),
            "payload": {},
            "metadata": {
                "name": "bench",
                "description": "benchmark task",
                "owner": "bench@example.com",
                "source": "https://example.com/bench",
            },
        }
        with httpx.Client(auth=HawkAuth(lc.root_credentials)) as client:
            client.put(f"{api}/task/{task_id}", json=task).raise_for_status()
    return f"{api}/task/{task_id}/status"


def measure(url: str, credentials: Credentials, seconds: float) -> float:
    """Authenticated GETs per second over one keep-alive connection."""
    with httpx.Client(auth=HawkAuth(credentials)) as client:
        client.get(url).raise_for_status()  # warm up, open the connection
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
            count += 1
    return count / elapsed


def _child(conn: Connection) -> None:
    with LocalCluster() as lc:
        creds = lc.root_credentials
        conn.send((prepare(lc), creds.client_id, creds.access_token))
        conn.recv()  # until the parent is done


def main(argv: list[str]) -> None:
    """Print both figures."""
    seconds = float(argv[0]) if argv else 3.0
    with LocalCluster() as lc:
        rate = measure(prepare(lc), lc.root_credentials, seconds)
    print(f"in-process server:   {rate:8.0f} authenticated GET/s")

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child,), daemon=True)
    proc.start()
    try:
        url, client_id, token = parent.recv()
        rate = measure(url, Credentials(client_id, token), seconds)
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    print(f"separate process:    {rate:8.0f} authenticated GET/s")


if __name__ == "__main__":
    main(sys.argv[1:])
