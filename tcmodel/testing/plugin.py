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

import pytest

from tcmodel.testing.server import LocalCluster

__all__ = ["tc_cluster"]


@pytest.fixture
def tc_cluster() -> Iterator[LocalCluster]:
    """A started :class:`~tcmodel.testing.LocalCluster`, stopped after the test.

    Example:
        >>> def test_root(tc_cluster):  # doctest: +SKIP
        ...     assert tc_cluster.root_credentials.client_id
    """
    with LocalCluster() as cluster:
        yield cluster


# --- tc_worker -------------------------------------------------------------
# Reserved: another helper adds the ``tc_worker`` fixture here (a worker
# that claims and resolves tasks of ``tc_cluster``).
