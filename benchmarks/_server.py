"""The benchmarks' local cluster, in a process of its own on 127.0.0.1.

``python -m benchmarks._server SPEC`` (``SPEC``: JSON, see :func:`main`)
starts a :class:`~tcmodel.testing.LocalCluster`, seeds it IN PROCESS (the
queue's own handlers called with root scopes, no HTTP: 20,000 tasks in a few
seconds), prints one JSON line (root URL, root credentials, what it seeded),
then answers lines on stdin: ``count`` → the number of requests served so
far (``lc.request_total``), ``quit`` (or end of input) → stop.

The big artifacts of the download benchmark are uploaded by the parent over
HTTP (with tcmodel's worker API), like a worker would.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import tcmodel
from tcmodel.api import endpoint
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import Request, iso
from tcmodel.testing.state import Settings

QUEUE = "bench/walk"
ARTIFACT_QUEUE = "bench/artifacts"
_STATES = ("completed", "completed", "completed", "failed", "exception", "pending")


def _call(lc: LocalCluster, service: str, name: str, params: dict[str, str], body: Any) -> Any:
    """Answer one API call in process, as the root client (the HTTP layer's
    work without the HTTP: routing, Hawk and JSON are not what is seeded)."""
    state = lc.state
    handler = state.services[service].handler(name)
    assert handler is not None, name
    req = Request(
        endpoint=endpoint(service, name),
        params=params,
        body=body,
        client_id="static/taskcluster/root",
        scopes=("*",),
        now=state.clock.now(),
        root_url=lc.root_url,
    )
    return handler(req)


def seed_group(lc: LocalCluster, size: int) -> str:
    """A task group of ``size`` tasks with realistic statuses: most
    completed, some failed or exception (one run each), some pending.
    Returns the group id."""
    group_id = tcmodel.slug_id()
    now = lc.state.clock.now()
    queue = lc.state.queue
    with lc.state.lock:
        for i in range(size):
            task_id = tcmodel.slug_id()
            body = {
                "taskQueueId": QUEUE,
                "taskGroupId": group_id,
                "created": iso(now),
                "deadline": iso(now + 86400),
                "expires": iso(now + 30 * 86400),
                "payload": {"command": ["run-tests", f"--chunk={i}"], "maxRunTime": 3600},
                "metadata": {
                    "name": f"test-linux64/opt-chunk-{i}",
                    "description": "a benchmark task",
                    "owner": "bench@example.com",
                    "source": "https://example.com/bench",
                },
                "tags": {"kind": "test", "chunk": str(i)},
                "routes": [f"index.bench.chunk-{i}"],
            }
            params = {"taskId": task_id}
            _call(lc, "queue", "createTask", params, body)
            outcome = _STATES[i % len(_STATES)]
            if outcome == "pending":
                continue
            # claim and resolve run 0 with the queue's state machine (claimTask
            # would also sign temporary credentials: 1 ms a task)
            task = queue.tasks[task_id]
            run = task.runs[0]
            queue._claim(task, run, "bench", f"w{i % 16}", now)
            reason = "malformed-payload" if outcome == "exception" else outcome
            queue._resolve(task, run, outcome, reason, now + 60)
    return group_id


def seed_tasks(lc: LocalCluster, size: int) -> list[str]:
    """``size`` task ids of one group (for the status benchmarks)."""
    group_id = seed_group(lc, size)
    with lc.state.lock:
        return list(lc.state.queue.groups[group_id].members)


def main(argv: list[str]) -> int:
    """Serve until told to quit. ``argv[0]``: JSON ``{"groups": [sizes],
    "statuses": n}``."""
    spec = json.loads(argv[0]) if argv else {}
    started = time.perf_counter()
    lc = LocalCluster(settings=Settings(request_log_size=1000)).start()
    try:
        groups = {str(n): seed_group(lc, n) for n in spec.get("groups", [])}
        status_ids = seed_tasks(lc, spec["statuses"]) if spec.get("statuses") else []
        creds = lc.root_credentials
        print(
            json.dumps(
                {
                    "root_url": lc.root_url,
                    "blob_url": lc.blob_url,
                    "client_id": creds.client_id,
                    "access_token": creds.access_token,
                    "groups": groups,
                    "status_ids": status_ids,
                    "seed_seconds": time.perf_counter() - started,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                print(lc.request_total, flush=True)
            elif command == "quit":
                break
    finally:
        lc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
