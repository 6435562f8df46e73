"""One measurement of one client, in a fresh process of its own.

``python -m benchmarks._client BENCH SIDE JSON`` runs benchmark ``BENCH``
(``signed_get``, ``walk``, ``statuses``, ``download``) for ``SIDE``
(``tcmodel``, ``official`` or ``curl``) against the cluster described by
``JSON`` (root URL, credentials, ids), and prints its figures as one JSON
line: wall and client CPU seconds (``time.process_time``: this process
only, all its threads), the RSS high-water mark (``VmHWM``) and its growth
over the measured part. Each side runs in its own process so neither
client's imports or memory weigh on the other's figures.

``python -m benchmarks._client import SIDE`` is not run this way: the
import benchmark times ``import tcmodel`` / ``import taskcluster`` in a bare
``python -c`` (see :data:`IMPORT_CODE`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._rss import peak_mib, reset_peak, rss_mib

#: What the import benchmark runs in a fresh interpreter (``{module}``):
#: wall time of the import and the RSS afterwards.
IMPORT_CODE = """\
import time
t0 = time.perf_counter()
import {module}
wall = time.perf_counter() - t0
rss = 0.0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
print(wall, rss)
"""


def _measure(body: Callable[[], dict[str, float] | None]) -> dict[str, float]:
    """Run ``body`` once, with its wall time, CPU time and memory.

    Warm-up is done by then (connections open, lazy imports made); the
    process says ``ready`` on stdout and waits for a line on stdin, so the
    parent counts the cluster's requests around the measured part only."""
    print("ready", flush=True)
    sys.stdin.readline()
    reset_peak()
    before = rss_mib()
    cpu, wall = time.process_time(), time.perf_counter()
    extra = body() or {}
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    peak = peak_mib()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": peak,
        "rss_growth_mib": peak - before,
        "kept_rss_mib": rss_mib() - before,
        **extra,
    }


def _tcmodel(spec: dict[str, Any]) -> Any:
    import tcmodel

    creds = tcmodel.Credentials(spec["client_id"], spec["access_token"])
    return tcmodel.Cluster.from_url(spec["root_url"], creds)


def _options(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "rootUrl": spec["root_url"],
        "credentials": {"clientId": spec["client_id"], "accessToken": spec["access_token"]},
    }


def _official_queue(spec: dict[str, Any]) -> Any:
    import taskcluster

    return taskcluster.Queue(_options(spec))


# -- benchmarks -----------------------------------------------------------


def signed_get(side: str, spec: dict[str, Any]) -> dict[str, float]:
    """``spec["calls"]`` signed status GETs of one task, one after the
    other: ``task.refresh()`` (the whole stack: Hawk, transport, the status
    model) against ``queue.status(taskId)`` (a dict)."""
    calls, task_id = spec["calls"], spec["task_id"]
    if side == "tcmodel":
        cluster = _tcmodel(spec)
        task = cluster.task(task_id)
        call: Callable[[], object] = task.refresh
    else:
        queue = _official_queue(spec)

        def call() -> object:
            return queue.status(task_id)

    for _ in range(20):  # warm: connection open, caches filled
        call()

    def body() -> dict[str, float]:
        for _ in range(calls):
            call()
        return {}

    out = _measure(body)
    out["cpu_us_per_call"] = out["cpu_s"] / calls * 1e6
    out["wall_us_per_call"] = out["wall_s"] / calls * 1e6
    out["requests"] = calls
    return out


def walk(side: str, spec: dict[str, Any]) -> dict[str, float]:
    """List a task group and read each task's state and name, keeping the
    tasks (as a notebook user holding ``list(group.tasks())`` does)."""
    group_id, size = spec["group_id"], spec["size"]
    kept: list[Any] = []
    if side == "tcmodel":
        cluster = _tcmodel(spec)
        for t in cluster.task_group(group_id).tasks().page_size(1).limit(1):  # warm up
            (t.state, t.name)

        def body() -> dict[str, float]:
            kept.extend(cluster.task_group(group_id).tasks())
            names = {t.task_id: (t.state, t.name) for t in kept}
            assert len(names) == size, len(names)
            return {}

    else:
        queue = _official_queue(spec)
        queue.listTaskGroup(group_id, query={"limit": 1})  # warm up

        def body() -> dict[str, float]:
            query: dict[str, str] = {}
            while True:
                page = queue.listTaskGroup(group_id, query=query)
                kept.extend(page["tasks"])
                if not page.get("continuationToken"):
                    break
                query = {"continuationToken": page["continuationToken"]}
            names = {
                t["status"]["taskId"]: (t["status"]["state"], t["task"]["metadata"]["name"])
                for t in kept
            }
            assert len(names) == size, len(names)
            return {}

    out = _measure(body)
    out["kept_bytes_per_task"] = out["kept_rss_mib"] * 1024 * 1024 / size
    if side == "official":  # for reference: the JSON of what is kept
        text = json.dumps(kept, separators=(",", ":"))
        out["json_bytes_per_task"] = len(text) / size
    return out


def statuses(side: str, spec: dict[str, Any]) -> dict[str, float]:
    """The states of ``spec["ids"]`` tasks: ``cluster.tasks(ids)`` (the bulk
    ``statuses`` call, one request per 1,000 ids) against one
    ``queue.status`` call per task."""
    ids: list[str] = spec["ids"]
    if side == "tcmodel":
        cluster = _tcmodel(spec)
        cluster.tasks(ids[:1])[0].state  # warm up

        def body() -> dict[str, float]:
            states = [t.state for t in cluster.tasks(ids)]
            assert len(states) == len(ids)
            return {}

    else:
        queue = _official_queue(spec)
        queue.status(ids[0])  # warm up

        def body() -> dict[str, float]:
            states = [queue.status(i)["status"]["state"] for i in ids]
            assert len(states) == len(ids)
            return {}

    return _measure(body)


def download(side: str, spec: dict[str, Any]) -> dict[str, float]:
    """Download one big artifact to a file: ``artifact.download(path)``,
    the official ``taskcluster.download.downloadArtifactToFile`` or
    ``curl -o`` on the data's final URL (the blob, no redirect)."""
    task_id, name, size = spec["task_id"], spec["name"], spec["bytes"]
    target = Path(spec["out_dir"]) / f"{side}-{os.getpid()}.bin"
    if side == "tcmodel":
        cluster = _tcmodel(spec)
        cluster.ping()
        art = cluster.task(task_id).run(0).artifact(name)

        def body() -> dict[str, float]:
            art.download(target)
            return {}

    elif side == "official":
        import taskcluster.download

        queue = _official_queue(spec)
        queue.ping()

        def body() -> dict[str, float]:
            with target.open("wb") as f:
                taskcluster.download.downloadArtifactToFile(
                    file=f, taskId=task_id, name=name, queueService=queue
                )
            return {}

    else:

        def body() -> dict[str, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(["curl", "-sS", "-f", "-o", str(target), spec["blob_url"]], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return {"curl_cpu_s": used}

    try:
        out = _measure(body)
        got = target.stat().st_size
    finally:
        target.unlink(missing_ok=True)
    assert got == size, (got, size)
    if "curl_cpu_s" in out:  # curl's own CPU, not this wrapper's
        out["cpu_s"] = out.pop("curl_cpu_s")
    out["mib_per_s"] = size / (1024 * 1024) / out["wall_s"]
    return out


BENCHES: dict[str, Callable[[str, dict[str, Any]], dict[str, float]]] = {
    "signed_get": signed_get,
    "walk": walk,
    "statuses": statuses,
    "download": download,
}


def main(argv: list[str]) -> int:
    """Run one benchmark for one side and print its figures as JSON."""
    bench, side, spec = argv[0], argv[1], json.loads(argv[2])
    print(json.dumps(BENCHES[bench](side, spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
