"""Paging of the local cluster's queue listings and the bulk calls, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from lc_queue_support import (
    TQ,
    claim,
    create,
    expect_error,
    lc,
    queue,
    small_pages,
    task_def,
)

from tcmodel.api import endpoint
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import Request
from tcmodel.utils import slug_id

__all__ = ["lc", "small_pages"]


def pages(method: Any, *args: Any, **query: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following continuation tokens."""
    out = []
    while True:
        page = method(*args, query=query)
        out.append(page)
        if "continuationToken" not in page:
            return out
        query = {**query, "continuationToken": page["continuationToken"]}


def test_list_task_group_pages(small_pages: LocalCluster) -> None:
    lc, q = small_pages, queue(small_pages)
    group = create(q, lc)
    ids = [group] + [create(q, lc, taskGroupId=group) for _ in range(4)]
    q.sealTaskGroup(group)
    got = pages(q.listTaskGroup, group)
    assert [len(p["tasks"]) for p in got] == [2, 2, 1]
    assert all("sealed" in p and p["schedulerId"] == "-" for p in got)
    listed = [t["status"]["taskId"] for p in got for t in p["tasks"]]
    assert listed == ids  # in creation order, as the real queue lists them
    # limit shrinks pages; a larger limit is cut to the maximum
    assert [len(p["tasks"]) for p in pages(q.listTaskGroup, group, limit=1)] == [1] * 5
    assert len(q.listTaskGroup(group, query={"limit": 50})["tasks"]) == 2
    # a garbage token silently restarts the listing (the real queue does so)
    restarted = q.listTaskGroup(group, query={"continuationToken": "garbage!"})
    assert [t["status"]["taskId"] for t in restarted["tasks"]] == ids[:2]
    expect_error(400, "InvalidRequestArguments", q.listTaskGroup, group, query={"limit": "x"})
    expect_error(404, "ResourceNotFound", q.listTaskGroup, slug_id())


def test_list_dependents_pages(small_pages: LocalCluster) -> None:
    lc, q = small_pages, queue(small_pages)
    dep = create(q, lc)
    dependents = [create(q, lc, dependencies=[dep]) for _ in range(3)]
    got = pages(q.listDependentTasks, dep)
    assert [t["status"]["taskId"] for p in got for t in p["tasks"]] == dependents
    assert all(p["taskId"] == dep for p in got) and len(got) == 2
    again = q.listDependentTasks(dep, query={"continuationToken": "AAAA"})  # restarts
    assert [t["status"]["taskId"] for t in again["tasks"]] == dependents[:2]


def test_bulk_calls_drop_unknown_ids(small_pages: LocalCluster) -> None:
    lc, q = small_pages, queue(small_pages)
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    known = [create(q, lc) for _ in range(3)]
    asked = [known[0], slug_id(), known[1], "not-even-a-slug", known[2], known[0]]
    statuses, tasks = [], []
    token: dict[str, str] = {}
    while True:
        page = q.statuses(payload={"taskIds": asked}, query=token)
        statuses += [s["taskId"] for s in page["statuses"]]
        if "continuationToken" not in page:
            break
        token = {"continuationToken": page["continuationToken"]}
    token = {}
    while True:
        page = q.tasks(payload={"taskIds": asked}, query=token)
        tasks += [(t["taskId"], t["task"]["taskQueueId"]) for t in page["tasks"]]
        if "continuationToken" not in page:
            break
        token = {"continuationToken": page["continuationToken"]}
    assert statuses == known
    assert tasks == [(t, TQ) for t in known]
    # every id needs the scope, known or not
    limited = queue(lc, lc.add_client("some", [f"queue:status:{known[0]}"]))
    expect_error(403, "InsufficientScopes", limited.statuses, {"taskIds": known[:2]})
    assert limited.statuses({"taskIds": known[:1]})["statuses"][0]["taskId"] == known[0]
    assert q.tasks({})["tasks"] == []


def test_task_queue_listings_page(small_pages: LocalCluster) -> None:
    lc, q = small_pages, queue(small_pages)
    for wt in ("a", "b", "c"):
        q.createTask(slug_id(), task_def(lc, workerType=wt))
    assert pages(q.listTaskQueues)[0]["taskQueues"] == []  # no worker has claimed yet
    for wt in ("a", "b", "c"):
        claim(q, 1, f"prov/{wt}")
    got = pages(q.listTaskQueues)
    assert [t["taskQueueId"] for p in got for t in p["taskQueues"]] == [
        "prov/a",
        "prov/b",
        "prov/c",
    ]
    assert len(got) == 2
    pending = [create(q, lc) for _ in range(3)]
    assert [t["taskId"] for p in pages(q.listPendingTasks, TQ) for t in p["tasks"]] == pending
    claim(q, 3)
    claimed = [t["taskId"] for p in pages(q.listClaimedTasks, TQ) for t in p["tasks"]]
    assert claimed == pending
    again = q.listPendingTasks(TQ, query={"continuationToken": "%%%"})  # restarts
    assert again["tasks"] == []


@pytest.mark.parametrize("size", [2500])
def test_large_group_lists_in_three_pages(lc: LocalCluster, size: int) -> None:
    create_task, group = lc.state.queue.handler("createTask"), slug_id()
    create_entry = endpoint("queue", "createTask")
    created = []
    with lc.state.lock:
        for i in range(size):
            task_id = group if i == 0 else slug_id()
            created.append(task_id)
            body = task_def(lc, taskGroupId=group)
            req = Request(
                endpoint=create_entry,
                params={"taskId": task_id},
                body=body,
                scopes=("*",),
                now=lc.clock.now(),
            )
            assert create_task is not None
            create_task(req)
    q = queue(lc)
    got = pages(q.listTaskGroup, group)
    assert [len(p["tasks"]) for p in got] == [1000, 1000, 500]
    ids = [t["status"]["taskId"] for p in got for t in p["tasks"]]
    assert len(set(ids)) == size and ids == created  # creation order
