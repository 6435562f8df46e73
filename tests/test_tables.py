"""Records and DataFrames of listings (tasks, runs, artifacts, index):
columns, values, dtypes, request counts, and the error without pandas."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest
from lc_client_support import create

import tcmodel
from tcmodel._extras import MissingExtra
from tcmodel.display.records import columns, records
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.index import IndexEntry, Namespace
from tcmodel.resources.run import Run
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.worker import Worker

QUEUE = "proj/ci"
TASK_COLUMNS = [
    "task_id",
    "name",
    "state",
    "runs",
    "scheduled",
    "started",
    "resolved",
    "duration",
    "worker",
    "task_queue_id",
    "dependencies",
    "ui_url",
]


@attrs.frozen
class Graph:
    lc: LocalCluster
    group_id: str
    ids: dict[str, str]  # name -> taskId


@pytest.fixture(scope="module")
def graph() -> Iterator[Graph]:
    """build (completed in 90 s) -> test (failed after a retry-free run of
    30 s) -> deploy (unscheduled); lint (completed); pages of 2 tasks."""
    with (
        LocalCluster(settings=Settings(max_page_size=2)) as lc,
        lc.connect() as admin,
        Worker(lc, QUEUE, worker_group="wg", worker_id="w1") as worker,
    ):
        group_id = tcmodel.slug_id()

        def make(name: str, *deps: Task) -> Task:
            return create(admin, name, group_id, *deps, queue=QUEUE)

        def work(task: Task, seconds: int, fail: bool = False) -> None:
            run = worker.claim_task(task.task_id)
            if task.task_id == ids.get("build"):
                run.upload("public/app.bin", b"x" * 10, content_type="application/x-bin")
            lc.advance(seconds)
            run.fail() if fail else run.complete()

        ids: dict[str, str] = {}
        build = make("build")
        ids["build"] = build.task_id
        work(build, 90)
        test = make("test", build)
        work(test, 30, fail=True)
        deploy = make("deploy", build, test)
        lint = make("lint")
        work(lint, 5)
        ids.update(test=test.task_id, deploy=deploy.task_id, lint=lint.task_id)
        admin.index("proj.app.latest").insert(build, rank=3)
        admin.index("proj.app.nightly").insert(lint, rank=1)
        yield Graph(lc, group_id, ids)


def about(duration: timedelta, seconds: float) -> bool:
    """The cluster clock was moved by ``seconds``; the real one adds a few ms."""
    return abs(duration.total_seconds() - seconds) < 1


@pytest.fixture
def cluster(graph: Graph) -> Iterator[tcmodel.Cluster]:
    with graph.lc.connect() as c:
        yield c


def test_task_records_cost_nothing_beyond_the_pages(graph: Graph, cluster: tcmodel.Cluster) -> None:
    graph.lc.reset_requests()
    rows = {r["name"]: r for r in cluster.task_group(graph.group_id).tasks().to_records()}
    assert [r.entry for r in graph.lc.requests] == ["listTaskGroup"] * 2  # 4 tasks, pages of 2
    assert set(rows) == {"build", "test", "deploy", "lint"}
    assert all(list(r) == TASK_COLUMNS for r in rows.values())
    build, test, deploy = rows["build"], rows["test"], rows["deploy"]
    assert build["task_id"] == graph.ids["build"] and build["state"] == "completed"
    assert build["runs"] == 1 and about(build["duration"], 90)
    assert build["started"] + build["duration"] == build["resolved"]
    assert build["worker"] == "wg/w1" and build["task_queue_id"] == QUEUE
    assert build["dependencies"] == 0 and deploy["dependencies"] == 2
    assert build["ui_url"] == f"{cluster.root_url}/tasks/{graph.ids['build']}"
    assert test["state"] == "failed" and about(test["duration"], 30)
    assert deploy["state"] == "unscheduled" and deploy["runs"] == 0
    assert deploy["scheduled"] is None and deploy["worker"] is None


def test_task_dataframe_has_proper_dtypes(graph: Graph, cluster: tcmodel.Cluster) -> None:
    graph.lc.reset_requests()
    df = cluster.task_group(graph.group_id).tasks().to_dataframe()
    assert len(graph.lc.requests) == 2
    assert list(df.columns) == TASK_COLUMNS and len(df) == 4
    for col in ("scheduled", "started", "resolved"):
        assert str(df[col].dtype) == "datetime64[ns, UTC]", col
    assert str(df["duration"].dtype) == "timedelta64[ns]"
    assert str(df["state"].dtype) == "category"
    assert list(df["state"].cat.categories)[:6] == [
        "unscheduled",
        "pending",
        "running",
        "completed",
        "failed",
        "exception",
    ]
    by_name = df.set_index("name")
    assert about(by_name.loc["build", "duration"], 90)
    assert by_name.loc["test", "state"] == "failed"
    assert by_name["duration"].isna()["deploy"]  # no run: NaT
    assert df.sort_values("state")["name"].iloc[0] == "deploy"  # ordered: unscheduled first


def test_filtered_and_empty_listings(graph: Graph, cluster: tcmodel.Cluster) -> None:
    failed = cluster.task_group(graph.group_id).tasks().filter(state="failed").to_dataframe()
    assert list(failed["name"]) == ["test"]
    none = cluster.task_group(graph.group_id).tasks().filter(state="exception").to_dataframe()
    assert list(none.columns) == TASK_COLUMNS and len(none) == 0


def test_run_records(graph: Graph, cluster: tcmodel.Cluster) -> None:
    task = cluster.task(graph.ids["test"])
    graph.lc.reset_requests()
    rows = records(task.runs)  # one status request, then nothing per run
    assert [r.entry for r in graph.lc.requests] == ["status"]
    assert list(rows[0]) == columns(Run)
    assert rows[0]["run_id"] == 0 and rows[0]["state"] == "failed"
    assert rows[0]["reason_created"] == "scheduled" and rows[0]["reason_resolved"] == "failed"
    assert about(rows[0]["duration"], 30) and rows[0]["worker"] == "wg/w1"
    assert rows[0]["ui_url"] == f"{cluster.root_url}/tasks/{graph.ids['test']}/runs/0"


def test_artifact_records_and_dataframe(graph: Graph, cluster: tcmodel.Cluster) -> None:
    listing = cluster.task(graph.ids["build"]).run(0).artifacts()
    graph.lc.reset_requests()
    rows = {r["name"]: r for r in listing.to_records()}
    assert all(r.entry == "listArtifacts" for r in graph.lc.requests)
    app = rows["public/app.bin"]
    assert list(app) == columns(Artifact)
    assert app["task_id"] == graph.ids["build"] and app["run_id"] == 0
    assert app["storage_type"] == "object" and app["content_type"] == "application/x-bin"
    assert app["content_length"] == 10 and app["expires"].tzinfo is not None
    df = cluster.task(graph.ids["build"]).artifacts().to_dataframe()
    assert str(df["expires"].dtype) == "datetime64[ns, UTC]"
    assert df["run_id"].isna().all()  # latest-run artifacts: the queue picks the run


def test_index_records(graph: Graph, cluster: tcmodel.Cluster) -> None:
    graph.lc.reset_requests()
    entries = cluster.index("proj.app").tasks().to_records()
    assert {r["name"]: (r["task_id"], r["rank"]) for r in entries} == {
        "latest": (graph.ids["build"], 3),
        "nightly": (graph.ids["lint"], 1),
    }
    assert all(list(r) == columns(IndexEntry) for r in entries)
    assert all(r.entry == "listTasks" for r in graph.lc.requests)  # no task is read
    spaces = cluster.index("proj").namespaces().to_dataframe()
    assert list(spaces.columns) == columns(Namespace) == ["namespace", "name", "expires"]
    assert list(spaces["namespace"]) == ["proj.app"]
    assert str(spaces["expires"].dtype) == "datetime64[ns, UTC]"


def test_records_of_handles_load_them_in_bulk(graph: Graph, cluster: tcmodel.Cluster) -> None:
    graph.lc.reset_requests()
    rows = records(cluster.tasks(graph.ids.values()))
    # bulk calls, paged by 2 like every listing here: 2 pages each for 4 tasks
    assert sorted(r.entry for r in graph.lc.requests) == ["statuses"] * 2 + ["tasks"] * 2
    assert [r["name"] for r in rows] == list(graph.ids)
    with pytest.raises(TypeError, match="no record for str"):
        records(["not a resource"])
    assert columns(Task) == TASK_COLUMNS and columns(str) is None


def test_dataframe_without_pandas_names_the_extra(
    graph: Graph, cluster: tcmodel.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    listing = cluster.task_group(graph.group_id).tasks()
    with pytest.raises(MissingExtra, match=r"pandas.*'notebook'.*tcmodel\[notebook\]"):
        listing.to_dataframe()
    assert len(listing.to_records()) == 4  # records need no pandas


def test_other_handles_and_value_classes_get_generic_records(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    cluster.secret("tables/one").set({"k": "hidden"})
    graph.lc.reset_requests()
    secrets = cluster.secrets(prefix="tables/").to_records()
    assert secrets == [{"name": "tables/one"}]  # identity only: the value is never loaded
    assert "hidden" not in repr(secrets)
    clients = cluster.clients().to_dataframe()
    assert {"client_id", "expires", "disabled", "scopes"} <= set(clients.columns)
    # clients that never expire (year 3000) do not fit nanoseconds: microseconds then
    assert str(clients["expires"].dtype) == "datetime64[us, UTC]"
    assert str(clients["created"].dtype) == "datetime64[ns, UTC]"
    # the listings' pages, nothing per item
    assert {(r.service, r.entry) for r in graph.lc.requests} == {
        ("secrets", "list"),
        ("auth", "listClients"),
    }
    with pytest.raises(TypeError, match="no record for int"):
        records([1])
