"""The namespace of the docstring examples (``pytest --doctest-modules``).

Every example in tcmodel's docstrings may use these names, bound to real
objects of a local cluster seeded with the demo's task graph (built once per
test session, ~1 s):

- ``lc``: the :class:`~tcmodel.testing.LocalCluster`;
- ``cluster``: a :class:`tcmodel.Cluster` on it with root credentials;
- ``group``: the demo's task group (41 tasks, not listed yet);
- ``task``: the failed task ``test-win64-debug-ui`` (fresh handle, unloaded);
- ``build``: the completed task ``build-linux64-opt`` (unloaded);
- ``run``: run 0 of ``build``; ``art``: its ``public/build/target.tar.gz``.
- ``tasks``: the demo's tasks by name (created through the API: loaded).

The handles are shared by all examples: an example that needs an unloaded
handle makes its own (``cluster.task(task.task_id)``); one that changes
state (rerun, cancel) creates its own task.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _seeded_graph() -> Iterator[dict[str, Any]]:
    from tcmodel.demo import build_graph
    from tcmodel.testing import LocalCluster

    with LocalCluster() as lc, lc.connect() as admin:
        group_id, tasks = build_graph(lc, admin)
        with lc.connect() as cluster:
            build = cluster.task(tasks["build-linux64-opt"].task_id)
            run = build.run(0)
            yield {
                "lc": lc,
                "cluster": cluster,
                "group": cluster.task_group(group_id),
                "task": cluster.task(tasks["test-win64-debug-ui"].task_id),
                "build": build,
                "run": run,
                "art": run.artifact("public/build/target.tar.gz"),
                "tasks": tasks,
            }


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        namespace = request.getfixturevalue("doctest_namespace")
        namespace.update(request.getfixturevalue("_seeded_graph"))
