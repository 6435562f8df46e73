"""A big batch of task handles (``cluster.tasks(ids)``) with many ids the
queue does not know: reading every task stays linear in the batch size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tcmodel
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster

BATCH = 20_000


@pytest.fixture
def cluster(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with lc.connect() as c:
        yield c


def test_a_big_batch_with_unknown_ids_is_read_in_linear_work(
    lc: LocalCluster, cluster: tcmodel.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = [
        cluster.create_task(task_queue_id="proj/batch", payload={}, name=f"k{i}").task_id
        for i in range(3)
    ]
    ids = known + [tcmodel.slug_id() for _ in range(BATCH - len(known))]
    handles = cluster.tasks(ids)
    # Count the per-task checks a fill makes (the O(n²) version made one per
    # task of the batch for each unknown id read: 4·10⁸ here).
    looks = 0
    real = Task._is_cached

    def counted(self: Task, attr: str) -> bool:
        nonlocal looks
        looks += 1
        return real(self, attr)

    monkeypatch.setattr(Task, "_is_cached", counted)
    lc.reset_requests()
    states: dict[str, str] = {}
    unknown = 0
    for task in handles:
        try:
            states[task.task_id] = task.state
        except tcmodel.NotFound:
            unknown += 1
    assert states == dict.fromkeys(known, "pending")
    assert unknown == BATCH - len(known)
    bulk = [r for r in lc.requests if r.origin == "api"]
    assert {r.entry for r in bulk} == {"statuses"}
    assert len(bulk) <= BATCH // 1000 + 1  # one request per 1000 ids, none per unknown id
    assert looks < 5 * BATCH
