"""Task queues and workers through tcmodel against the local cluster:
counts, pending and claimed tasks as Tasks with no request per task,
workers with their recent tasks, quarantine, listings, scope failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lc_client_support import entries

import tcmodel
from tcmodel.resources.task import Task
from tcmodel.resources.task_queue import TaskQueue, Worker
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.worker import Worker as LocalWorker

TQ = "proj/ci"


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=3)


def make_tasks(admin: tcmodel.Cluster, n: int, queue: str = TQ) -> list[Task]:
    return [
        admin.create_task(task_queue_id=queue, payload={"n": i}, name=f"t{i}") for i in range(n)
    ]


def test_a_handle_costs_nothing(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    tq = admin.task_queue(TQ)
    worker = tq.worker("wg", "w1")
    assert repr(tq) == "<TaskQueue taskQueueId='proj/ci'>"
    assert repr(worker) == "<Worker taskQueueId='proj/ci' workerGroup='wg' workerId='w1'>"
    assert tq == admin.task_queue(TQ) and worker == tq.worker("wg", "w1")
    assert tq.url == f"{lc.root_url}/api/queue/v1/task-queues/proj%2Fci"
    assert worker.ui_url.endswith("/provisioners/proj/worker-types/ci/workers/wg/w1")
    assert "TaskQueue" in tq._repr_html_() and "Worker" in worker._repr_html_()
    assert lc.requests == []
    with pytest.raises(ValueError, match="taskQueueId"):
        admin.task_queue("no-slash")


def test_counts_load_once_and_refresh(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    make_tasks(admin, 2)
    tq = admin.task_queue(TQ)
    lc.reset_requests()
    assert (tq.pending_count, tq.claimed_count) == (2, 0)
    assert entries(lc) == ["taskQueueCounts"]
    assert repr(tq) == "<TaskQueue taskQueueId='proj/ci' pending=2 claimed=0>"
    with LocalWorker(lc, TQ) as worker:
        worker.claim(1)
        assert tq.pending_count == 2  # kept until refreshed
        assert (tq.refresh().pending_count, tq.claimed_count) == (1, 1)
    assert tq.info.task_queue_id == TQ and tq.info.last_date_active is not None


def test_pending_tasks_are_tasks_loaded_in_bulk_per_page(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    made = make_tasks(admin, 7)
    lc.reset_requests()
    pending = list(admin.task_queue(TQ).pending_tasks())
    assert [t.task_id for t in pending] == [t.task_id for t in made]
    assert entries(lc) == ["listPendingTasks"] * 3  # pages of 3, 3 and 1
    lc.reset_requests()
    assert [t.name for t in pending] == [f"t{i}" for i in range(7)]  # came with the listing
    assert lc.requests == []
    assert {t.state for t in pending} == {"pending"}
    assert entries(lc) == ["statuses"] * 3  # one bulk request per page, never one per task


def test_claimed_tasks(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    made = make_tasks(admin, 4)
    with LocalWorker(lc, TQ) as worker:
        worker.claim(4)
        lc.reset_requests()
        claimed = list(admin.task_queue(TQ).claimed_tasks())
        assert sorted(t.task_id for t in claimed) == sorted(t.task_id for t in made)
        assert {t.state for t in claimed} == {"running"}
        assert entries(lc) == ["listClaimedTasks", "listClaimedTasks", "statuses", "statuses"]
        assert list(admin.task_queue(TQ).pending_tasks()) == []


def test_workers_with_their_recent_tasks(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    made = make_tasks(admin, 3)
    with LocalWorker(lc, TQ, worker_group="wg", worker_id="w1") as w1:
        for t in made[:2]:
            w1.run(t.task_id)
    with LocalWorker(lc, TQ, worker_group="wg", worker_id="w2") as w2:
        w2.run(made[2].task_id, outcome="failed")
    lc.reset_requests()
    workers = list(admin.task_queue(TQ).workers())
    assert [w.worker_id for w in workers] == ["w1", "w2"]
    assert all(isinstance(w, Worker) for w in workers)
    assert workers[0].latest_task == made[1] and not workers[0].quarantined
    assert entries(lc) == ["listWorkers"]  # the summary came with the listing
    lc.reset_requests()
    recent = workers[0].recent_tasks
    assert recent == made[:2]
    assert [t.state for t in recent] == ["completed", "completed"]
    assert entries(lc) == ["getWorker", "statuses"]  # the tasks' states in bulk
    assert workers[1].recent_tasks[0].state == "failed"


def test_quarantine(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    make_tasks(admin, 2)
    with LocalWorker(lc, TQ, worker_group="wg", worker_id="w1") as local:
        local.claim(1)
        worker = admin.task_queue(TQ).worker("wg", "w1")
        lc.reset_requests()
        assert worker.quarantine("1 day", reason="bad disk") is worker
        assert entries(lc) == ["quarantineWorker"]
        assert worker.quarantined and worker.quarantine_until is not None
        now = lc.clock.now_dt()
        assert abs(worker.quarantine_until - (now + timedelta(days=1))) < timedelta(seconds=5)
        assert local.claim(1) == []  # a quarantined worker gets no work
        [listed] = admin.task_queue(TQ).workers(quarantined=True)
        assert listed.quarantined and listed == worker
        assert list(admin.task_queue(TQ).workers(quarantined=False)) == []
        worker.quarantine(now - timedelta(seconds=1))  # a datetime in the past lifts it
        assert not worker.quarantined
        assert len(local.claim(1)) == 1


def test_quarantine_needs_its_scope(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    make_tasks(admin, 1)
    with LocalWorker(lc, TQ, worker_group="wg", worker_id="w1") as local:
        local.claim(1)
    creds = lc.add_client("viewer", ["queue:get-worker:*", "queue:list-workers:*"])
    with lc.connect(creds) as viewer:
        worker = viewer.task_queue(TQ).worker("wg", "w1")
        assert worker.info.worker_id == "w1"
        with pytest.raises(
            tcmodel.InsufficientScopes, match="queue:quarantine-worker:proj/ci/wg/w1"
        ):
            worker.quarantine("1 hour")
        with pytest.raises(tcmodel.InsufficientScopes, match="queue:pending-count:proj/ci"):
            viewer.task_queue(TQ).counts


def test_cluster_task_queues_listing(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    for n in range(4):
        make_tasks(admin, 1, queue=f"proj/q{n}")
    assert list(admin.task_queues()) == []  # listed once a worker has claimed from them
    for n in range(4):
        admin.task_queue(f"proj/q{n}").claim_work("wg", "w1")
    lc.reset_requests()
    queues = list(admin.task_queues())
    assert [q.task_queue_id for q in queues] == [f"proj/q{n}" for n in range(4)]
    assert all(isinstance(q, TaskQueue) for q in queues)
    assert queues[0].info.task_queue_id == "proj/q0"  # came with the listing
    assert entries(lc) == ["listTaskQueues", "listTaskQueues"]


def test_an_unknown_worker_is_not_found(admin: tcmodel.Cluster) -> None:
    with pytest.raises(tcmodel.NotFound):
        admin.task_queue(TQ).worker("wg", "nobody").info


def test_pending_tasks_async(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    import asyncio

    made = make_tasks(admin, 2)

    async def main() -> list[str]:
        async with lc.connect() as c:
            return [t.task_id async for t in c.task_queue(TQ).pending_tasks()]

    assert asyncio.run(main()) == [t.task_id for t in made]


def test_models_and_handles_display_without_requests(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    from tcmodel.display.views import html, text

    make_tasks(admin, 1)
    with LocalWorker(lc, TQ, worker_group="wg", worker_id="w1") as local:
        local.claim(1)
    tq = admin.task_queue(TQ)
    [worker] = tq.workers()
    shown = [tq.counts, tq.info, worker.info, tq, worker]
    lc.reset_requests()
    for obj in shown:
        assert text(obj).splitlines()[0] == repr(obj)
        assert type(obj).__name__ in html(obj)
    assert "recent_tasks" in text(worker.info) and "claimed=1" in text(tq)
    assert lc.requests == []
