"""A treeherder-style ingestion on the local cluster, with asyncio.

For 500 tasks of a push (50 of them retried after a worker shutdown, so
550 runs) it gathers each task's status and definition and each run's
artifact listing, with bounded concurrency, and builds one job record per
run. Statuses and definitions come in bulk (``cluster.tasks(ids)``: one
request each for all 500, however many loads run at once); the queue has
no bulk artifact listing, so that is one request per run. The exact
request count is asserted, and that no more than the bound of listings
were ever in flight (server-side delays make them overlap; when each ran is
noted as it ran). The same ingestion through the sync API (threads) sends
the same requests.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from test_concurrency import most_at_once

import tcmodel
from tcmodel.concurrency import gather_limited, map_limited
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.run import Run
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

T = TypeVar("T")
QUEUE = "proj/ci"
TASKS = 500
RETRIED = 50  # every tenth task: its run 0 ends in worker-shutdown, run 1 completes
BOUND = 8
DELAYED = 80  # listings the server holds back 50 ms each, so that they overlap

Spans = list[tuple[float, float]]


@pytest.fixture(scope="module")
def push() -> Iterator[tuple[LocalCluster, list[str]]]:
    """500 resolved tasks of one group, each run with two artifacts."""
    with LocalCluster() as lc, lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        group = tcmodel.slug_id()
        ids = [
            cluster.create_task(
                task_queue_id=QUEUE, payload={}, name=f"test-{i}", task_group_id=group
            ).task_id
            for i in range(TASKS)
        ]
        for round_ in range(2):  # the retries of the shutdowns are pending afterwards
            for run in worker.claim(TASKS):
                run.reference("public/logs/live.log", f"https://logs.example.com/{run.task_id}")
                run.link("public/logs/live_backing.log", "public/logs/live.log")
                k = ids.index(run.task_id)
                if round_ == 0 and k % 10 == 0:
                    run.exception("worker-shutdown")
                elif round_ == 0 and k % 7 == 0:
                    run.fail()
                else:
                    run.complete()
        yield lc, ids


def job(run: Run, artifacts: list[Artifact]) -> dict[str, Any]:
    """What the ingestion stores per run (from loaded data only)."""
    task = run.task
    return {
        "task_id": task.task_id,
        "run_id": run.run_id,
        "name": task.name,
        "queue": task.definition.task_queue_id,
        "state": run.state,
        "reason": run.reason_resolved,
        "worker": run.worker_id,
        "artifacts": sorted(a.name for a in artifacts),
    }


async def ingest(cluster: tcmodel.Cluster, ids: list[str], spans: Spans) -> list[dict[str, Any]]:
    """The async ingestion: at most BOUND loads in flight at any time."""

    async def timed(load: Awaitable[T]) -> T:
        start = time.monotonic()
        result = await load
        spans.append((start, time.monotonic()))
        return result

    tasks = cluster.tasks(ids)  # one batch: statuses and definitions in bulk
    await gather_limited((t.astatus() for t in tasks), BOUND)
    await gather_limited((t.adefinition() for t in tasks), BOUND)
    runs = [run for t in tasks for run in t.runs]  # in the statuses
    listings = await gather_limited((timed(r.artifacts().alist()) for r in runs), BOUND)
    return [job(run, arts) for run, arts in zip(runs, listings, strict=True)]


def ingest_sync(cluster: tcmodel.Cluster, ids: list[str]) -> list[dict[str, Any]]:
    """The same ingestion through the sync API, in BOUND threads."""
    tasks = cluster.tasks(ids)
    map_limited(lambda t: t.status, tasks, BOUND)
    map_limited(lambda t: t.definition, tasks, BOUND)
    runs = [run for t in tasks for run in t.runs]
    listings = map_limited(lambda r: list(r.artifacts()), runs, BOUND)
    return [job(run, arts) for run, arts in zip(runs, listings, strict=True)]


def test_ingestion_of_500_tasks_costs_two_bulk_requests_and_one_listing_per_run(
    push: tuple[LocalCluster, list[str]],
) -> None:
    lc, ids = push
    spans: Spans = []

    async def main() -> list[dict[str, Any]]:
        async with lc.connect() as cluster:
            lc.reset_requests()
            lc.inject("delay", delay=0.05, times=DELAYED, entry="listArtifacts")
            return await ingest(cluster, ids, spans)

    jobs = asyncio.run(main())
    runs = TASKS + RETRIED
    assert Counter(r.entry for r in lc.requests) == {
        "statuses": 1,
        "tasks": 1,
        "listArtifacts": runs,
    }
    assert all(r.status == 200 for r in lc.requests)
    assert len(jobs) == runs
    assert most_at_once(spans) == BOUND  # the bound was reached, never passed
    states = Counter((j["run_id"], j["state"], j["reason"]) for j in jobs)
    failed = len([k for k in range(TASKS) if k % 7 == 0 and k % 10 != 0])
    assert states == {
        (0, "exception", "worker-shutdown"): RETRIED,
        (0, "failed", "failed"): failed,
        (0, "completed", "completed"): TASKS - RETRIED - failed,
        (1, "completed", "completed"): RETRIED,
    }
    assert {tuple(j["artifacts"]) for j in jobs} == {
        ("public/logs/live.log", "public/logs/live_backing.log")
    }
    assert jobs[0]["name"] == "test-0" and jobs[0]["queue"] == QUEUE
    assert [(j["task_id"], j["run_id"]) for j in jobs[:2]] == [(ids[0], 0), (ids[0], 1)]


def test_the_sync_ingestion_sends_the_same_requests_and_stores_the_same_jobs(
    push: tuple[LocalCluster, list[str]],
) -> None:
    lc, ids = push

    async def main() -> list[dict[str, Any]]:
        async with lc.connect() as cluster:
            return await ingest(cluster, ids, [])

    lc.reset_requests()
    jobs = asyncio.run(main())
    async_requests = sorted((r.entry or "", r.path) for r in lc.requests)
    lc.reset_requests()
    with lc.connect() as cluster:
        assert ingest_sync(cluster, ids) == jobs
    assert sorted((r.entry or "", r.path) for r in lc.requests) == async_requests
