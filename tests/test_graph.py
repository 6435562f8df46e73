"""The task graph without N+1: dependencies, ancestors, group.graph(),
critical_path() and timeline(), on a real local cluster."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from IPython.lib.pretty import pretty as _pretty
from lc_client_support import create, entries

import tcmodel
from tcmodel._extras import MissingExtra
from tcmodel.demo import build_graph
from tcmodel.graph import CriticalPath, Timeline
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker


def pretty(value: object) -> str:
    """What IPython shows for ``value`` (its ``_repr_pretty_``)."""
    return str(_pretty(value))  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[LocalCluster, str, dict[str, Task]]]:
    with LocalCluster() as lc, lc.connect() as admin:
        group_id, tasks = build_graph(lc, admin)
        yield lc, group_id, tasks


# -- dependencies ------------------------------------------------------------------


def test_listing_and_every_dependency_state_and_name_is_one_request(
    demo: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, group_id, _ = demo
    with lc.connect() as cluster:
        lc.reset_requests()
        listed = list(cluster.task_group(group_id).tasks())
        seen = {(d.name, d.state) for t in listed for d in t.dependencies}
        assert entries(lc) == ["listTaskGroup"]
    assert len(listed) == 41
    assert ("decision", "completed") in seen and ("signing", "completed") in seen
    by_id = {t.task_id: t for t in listed}
    package = next(t for t in listed if t.name == "package-linux64")
    # the dependencies are the listed handles themselves
    assert all(by_id[d.task_id] is d for d in package.dependencies)


def test_dependencies_are_computed_once(
    demo: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, _, tasks = demo
    with lc.connect() as cluster:
        signing = cluster.task(tasks["signing"].task_id)
        lc.reset_requests()
        first = signing.dependencies
        assert [d.state for d in first] == ["completed"] * 6
        assert sorted(d.name for d in first)[0] == "build-linux64-debug"
        # its definition, then one bulk statuses and one bulk tasks call for all six
        assert entries(lc) == ["task", "statuses", "tasks"]
        lc.reset_requests()
        again = signing.dependencies
        assert [d.name for d in again] == [d.name for d in first]
        assert all(a is b for a, b in zip(again, first, strict=True))
        assert lc.requests == []


def test_missing_dependencies_are_one_batch_and_found_again(lc: LocalCluster) -> None:
    with lc.connect() as cluster:
        upstream, downstream = tcmodel.slug_id(), tcmodel.slug_id()
        a1, a2, a3 = (create(cluster, f"a{i}", upstream) for i in (1, 2, 3))
        create(cluster, "b1", downstream, a1, a2)
        create(cluster, "b2", downstream, a1, a3)
        group = cluster.task_group(downstream)
        lc.reset_requests()
        b1, b2 = sorted(group.tasks(), key=lambda t: t.name)
        b1_deps, b2_deps = b1.dependencies, b2.dependencies
        assert entries(lc) == ["listTaskGroup"]  # handles only, nothing fetched yet
        assert b2_deps[0] is b1_deps[0]  # a1 was made once, then found in the group's batch
        assert [d.name for d in b1_deps] == ["a1", "a2"]  # a1 and a2: one bulk call
        assert [d.name for d in b2_deps] == ["a1", "a3"]  # a3: the other batch
        assert entries(lc) == ["listTaskGroup", "tasks", "tasks"]
        # the foreign tasks are not taken for tasks of the group
        assert sorted(t.name for t in group._known_tasks().values()) == ["b1", "b2"]


def test_ancestors_of_a_depth_4_chain_cost_at_most_4_requests(lc: LocalCluster) -> None:
    with lc.connect() as admin:
        group_id = tcmodel.slug_id()
        a = create(admin, "a", group_id)
        b = create(admin, "b", group_id, a)
        c = create(admin, "c", group_id, b)
        d = create(admin, "d", group_id, c)
    with lc.connect() as cluster:
        lc.reset_requests()
        found = cluster.task(d.task_id).ancestors()
        assert [t.task_id for t in found] == [c.task_id, b.task_id, a.task_id]
        assert entries(lc) == ["task", "tasks", "tasks", "tasks"]
        lc.reset_requests()
        assert [t.name for t in found] == ["c", "b", "a"]  # definitions came in bulk
        assert lc.requests == []


def test_ancestors_nearest_first_each_once(lc: LocalCluster) -> None:
    with lc.connect() as cluster:
        group_id = tcmodel.slug_id()
        root = create(cluster, "root", group_id)
        left = create(cluster, "left", group_id, root)
        right = create(cluster, "right", group_id, root)
        mid = create(cluster, "mid", group_id, right)
        tip = create(cluster, "tip", group_id, left, mid, root)
        fresh = cluster.task(tip.task_id)
        lc.reset_requests()
        names = [t.name for t in fresh.ancestors()]
        # level 1: left, mid, root; level 2: right (root was met already)
        assert names == ["left", "mid", "root", "right"]
        assert entries(lc) == ["task", "tasks", "tasks"]


def test_ancestors_of_listed_tasks_cost_nothing(
    demo: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, group_id, _ = demo
    with lc.connect() as cluster:
        group = cluster.task_group(group_id)
        package = next(t for t in group.tasks() if t.name == "package-macosx64")
        lc.reset_requests()
        names = [t.name for t in package.ancestors()]
        assert lc.requests == []
    assert names[:3] == ["build-macosx64-opt", "signing", "decision"]  # level 1, then 2
    assert len(names) == len(set(names)) == 8
    assert {n for n in names if n.startswith("build-")} == {
        f"build-{p}-{b}" for p in ("linux64", "macosx64", "win64") for b in ("opt", "debug")
    }


# -- group.graph() ----------------------------------------------------------------------


def test_graph_is_a_digraph_of_the_group(demo: tuple[LocalCluster, str, dict[str, Task]]) -> None:
    lc, group_id, tasks = demo
    nx = pytest.importorskip("networkx")
    with lc.connect() as cluster:
        group = cluster.task_group(group_id)
        lc.reset_requests()
        g = group.graph()
        assert entries(lc) == ["listTaskGroup"]
        lc.reset_requests()
        again = group.graph()  # the group was listed whole: no request
        assert lc.requests == []
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == 41 and again.number_of_nodes() == 41
    decision, signing = tasks["decision"].task_id, tasks["signing"].task_id
    assert g.has_edge(decision, tasks["build-win64-opt"].task_id)  # dependency -> dependent
    assert not g.has_edge(tasks["build-win64-opt"].task_id, decision)
    assert g.in_degree(signing) == 6 and g.in_degree(decision) == 0
    node = g.nodes[tasks["lint-eslint"].task_id]
    assert node["name"] == "lint-eslint" and node["state"] == "failed"
    assert isinstance(node["task"], Task) and node["task"].task_id == tasks["lint-eslint"].task_id
    assert next(iter(nx.topological_sort(g))) == decision


def test_graph_without_networkx_names_the_extra(
    demo: tuple[LocalCluster, str, dict[str, Task]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lc, group_id, _ = demo
    monkeypatch.setitem(sys.modules, "networkx", None)
    with lc.connect() as cluster, pytest.raises(MissingExtra, match=r"tcmodel\[notebook\]"):
        cluster.task_group(group_id).graph()


# -- critical path and timeline on a graph with set timings ----------------------------------


def seconds(value: timedelta | None) -> float:
    assert value is not None
    return round(value.total_seconds())


@pytest.fixture
def timed(lc: LocalCluster) -> Iterator[tuple[LocalCluster, str, dict[str, Task]]]:
    """decision (wait 5, run 60) → build-a (wait 10, run 100), build-b (wait
    12, run 150) → test (needs both: wait 30, run 40); lint (needs decision:
    wait 20, run 5, fails); later (needs test, stays pending: never run)."""
    with lc.connect() as cluster, ExitStack() as stack:
        gid = tcmodel.slug_id()
        t: dict[str, Task] = {}
        # one task queue per task, so that each claim takes exactly its task
        t["decision"] = create(cluster, "decision", gid, queue="proj/decision")
        for name in ("build-a", "build-b", "lint"):
            t[name] = create(cluster, name, gid, t["decision"], queue=f"proj/{name}")
        t["test"] = create(cluster, "test", gid, t["build-a"], t["build-b"], queue="proj/test")
        t["later"] = create(cluster, "later", gid, t["test"], queue="proj/later")

        def claim(name: str) -> Any:
            worker = stack.enter_context(Worker(lc, f"proj/{name}"))
            return worker.claim_task(t[name].task_id)

        lc.advance(5)
        decision = claim("decision")  # t=5
        lc.advance(60)
        decision.complete()  # t=65: builds and lint become pending
        lc.advance(10)
        build_a = claim("build-a")  # t=75
        lc.advance(2)
        build_b = claim("build-b")  # t=77
        lc.advance(8)
        lint = claim("lint")  # t=85
        lc.advance(5)
        lint.fail()  # t=90
        lc.advance(85)
        build_a.complete()  # t=175
        lc.advance(52)
        build_b.complete()  # t=227: test becomes pending
        lc.advance(30)
        test = claim("test")  # t=257
        lc.advance(40)
        test.complete()  # t=297: later becomes pending, and stays so
        yield lc, gid, t


def test_critical_path_follows_the_releasing_dependencies(
    timed: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, t = timed
    with lc.connect() as cluster:
        group = cluster.task_group(gid)
        lc.reset_requests()
        path = group.critical_path()
        assert entries(lc) == ["listTaskGroup"]
    assert isinstance(path, CriticalPath)
    assert [s.name for s in path] == ["decision", "build-b", "test"]
    assert [s.task.task_id for s in path] == [t[n].task_id for n in ("decision", "build-b", "test")]
    assert [seconds(s.wait) for s in path] == [5, 12, 30]
    assert [seconds(s.run_time) for s in path] == [60, 150, 40]
    assert seconds(path.total) == 297
    assert path.steps[1].ready == path.steps[0].resolved  # released by the decision task
    assert path.steps[2].ready == path.steps[1].resolved  # by build-b, the later of two


def test_timeline_records_and_flags(timed: tuple[LocalCluster, str, dict[str, Task]]) -> None:
    lc, gid, _ = timed
    with lc.connect() as cluster:
        group = cluster.task_group(gid)
        list(group.tasks())
        lc.reset_requests()
        tl = group.timeline()
        path = group.critical_path()
        assert lc.requests == []  # listed whole already: the registry is reused
    assert isinstance(tl, Timeline)
    rows = {r["name"]: r for r in tl.records}
    assert set(rows) == {"decision", "build-a", "build-b", "lint", "test", "later"}
    assert list(rows["test"]) == [
        "task_id",
        "name",
        "state",
        "scheduled",
        "started",
        "resolved",
        "duration",
        "critical",
    ]
    assert {n for n, r in rows.items() if r["critical"]} == {"decision", "build-b", "test"}
    assert [seconds(rows[n]["duration"]) for n in ("build-a", "build-b", "lint")] == [100, 150, 5]
    assert rows["lint"]["state"] == "failed"
    later = rows["later"]
    assert later["state"] == "pending" and later["started"] is None and later["duration"] is None
    assert seconds(rows["test"]["started"] - rows["decision"]["scheduled"]) == 257
    assert tl.critical_path == path
    assert [r["name"] for r in tl.slowest(2)] == ["build-b", "build-a"]


def test_timeline_dataframe_has_proper_dtypes(
    timed: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    pytest.importorskip("pandas")
    lc, gid, _ = timed
    with lc.connect() as cluster:
        df = cluster.task_group(gid).timeline().to_dataframe()
    assert len(df) == 6
    assert str(df["started"].dtype) == "datetime64[ns, UTC]"
    assert str(df["duration"].dtype) == "timedelta64[ns]"
    assert str(df["state"].dtype) == "category"
    assert df["critical"].sum() == 3


def test_timeline_displays_as_a_gantt_chart(
    timed: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, t = timed
    with lc.connect() as cluster:
        tl = cluster.task_group(gid).timeline()
        lc.reset_requests()
        html = tl._repr_html_()
        text = pretty(tl)
        path_html = tl.critical_path._repr_html_()
        path_text = pretty(tl.critical_path)
        assert lc.requests == []
    assert "<script" not in html
    assert "Critical path" in html and "Slowest" in html
    assert html.index("decision") < html.index("build-b") < html.index(">test<")
    assert f"{lc.root_url}/tasks/{t['build-b'].task_id}" in html  # linked to the web UI
    # the critical path's last bar ends at the right edge; its first starts at the left
    assert "left:0.00%" in path_html and "width:" in path_html
    assert "2m 30s" in html  # build-b's run time
    assert text.splitlines()[0].startswith("Timeline of 6 tasks — critical path: 3 tasks, 4m 57s")
    assert "build-b" in text and "█" in text
    assert path_text.splitlines()[0] == "Critical path: 3 tasks, 4m 57s"
    assert [line.split()[0] for line in path_text.splitlines()[1:]] == [
        "decision",
        "build-b",
        "test",
    ]


def test_empty_and_unrun_groups_have_an_empty_path(lc: LocalCluster) -> None:
    with lc.connect() as cluster:
        gid = tcmodel.slug_id()
        cluster.create_task(task_queue_id="proj/idle", payload={}, name="idle", task_group_id=gid)
        group = cluster.task_group(gid)
        path = group.critical_path()
        tl = group.timeline()
    assert len(path) == 0 and path.total == timedelta(0)
    assert [r["critical"] for r in tl.records] == [False]
    assert "Critical path: 0 tasks" in pretty(path)
