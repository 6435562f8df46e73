"""Helpers shared by the client-side tests against a local cluster (the
``lc``/``admin``/``root`` fixtures they use live in ``conftest.py``)."""

from __future__ import annotations

import tcmodel
from tcmodel.resources import Task
from tcmodel.testing import LocalCluster


def entries(lc: LocalCluster) -> list[str | None]:
    """The API entry of each request ``lc`` saw, oldest first."""
    return [r.entry for r in lc.requests]


def entry_statuses(lc: LocalCluster) -> list[tuple[str | None, int]]:
    """``(entry, status)`` of each request ``lc`` saw, oldest first."""
    return [(r.entry, r.status) for r in lc.requests]


def create(
    cluster: tcmodel.Cluster, name: str, group_id: str, *deps: Task, queue: str = "proj/ci"
) -> Task:
    """A task of group ``group_id`` that depends on ``deps`` (empty payload)."""
    return cluster.create_task(
        task_queue_id=queue,
        payload={},
        name=name,
        task_group_id=group_id,
        dependencies=list(deps),
    )
