"""pytest plugin of tcmodel: fixtures that give each test a local cluster.

Registered through the ``pytest11`` entry point, so installing tcmodel is
enough; without the installed entry point, add
``pytest_plugins = ["tcmodel.testing.plugin"]`` to a ``conftest.py``.

Example:
    >>> def test_ping(tc_cluster):  # doctest: +SKIP
    ...     import httpx
    ...     assert httpx.get(tc_cluster.root_url + "/api/queue/v1/ping").json()["alive"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import tcmodel
    from tcmodel.testing.server import LocalCluster
    from tcmodel.testing.worker import Worker

# Every pytest run where tcmodel is installed imports this module: it
# imports nothing of tcmodel until a fixture is used.

__all__ = ["tc_client", "tc_cluster", "tc_worker"]


@pytest.fixture
def tc_cluster() -> Iterator[LocalCluster]:
    """A started :class:`~tcmodel.testing.LocalCluster`, stopped after the test.

    Example:
        >>> def test_root(tc_cluster):  # doctest: +SKIP
        ...     assert tc_cluster.root_credentials.client_id
    """
    from tcmodel.testing.server import LocalCluster

    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def tc_client(tc_cluster: LocalCluster) -> Iterator[tcmodel.Cluster]:
    """A :class:`tcmodel.Cluster` connected to ``tc_cluster`` with its root
    credentials (scope ``*``), signing with the cluster's clock.

    Example:
        >>> def test_create(tc_client):  # doctest: +SKIP
        ...     task = tc_client.create_task(task_queue_id="proj/ci", payload={}, name="t")
        ...     assert task.state == "pending"
    """
    with tc_cluster.connect() as cluster:
        yield cluster


@pytest.fixture
def tc_worker(tc_cluster: LocalCluster) -> Iterator[Worker]:
    """A :class:`~tcmodel.testing.worker.Worker` of task queue ``proj/ci`` on
    ``tc_cluster``: it claims tasks and resolves them as a real worker would,
    over HTTP (artifacts of every storage type, logs, outcomes). Make more
    with ``Worker(tc_cluster, "other/queue")``.

    Example:
        >>> def test_build(tc_client, tc_worker):  # doctest: +SKIP
        ...     task = tc_client.create_task(task_queue_id="proj/ci", payload={}, name="b")
        ...     tc_worker.run(task.task_id, log="ok\\n", artifacts={"public/a.txt": "a"})
        ...     assert task.refresh().state == "completed"
    """
    from tcmodel.testing.worker import Worker

    with Worker(tc_cluster) as worker:
        yield worker
