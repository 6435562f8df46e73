"""Reprs, rich displays (IPython's own display formatter, every mime type),
UI links and log text, against a local cluster with a small graph: what each
display shows, and what it costs (0 requests for handles and models, exactly
1 for a listing's preview in both formats)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from IPython.core.formatters import DisplayFormatter
from lc_client_support import create

import tcmodel
from tcmodel import models
from tcmodel.display import views
from tcmodel.models import from_json
from tcmodel.resources.run import LogText
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

QUEUE = "proj/ci"
FORMATTER = DisplayFormatter()
PROBES = (
    "_ipython_canary_method_should_not_exist_",
    "_repr_markdown_",
    "_repr_svg_",
    "_repr_json_",
    "_repr_latex_",
    "__wrapped__",
    "_ipython_display_",
    "_repr_mimebundle_",
)


@attrs.frozen
class Graph:
    lc: LocalCluster
    group_id: str
    build: str  # completed, 90 s, artifacts
    test: str  # failed, with a log
    waiting: str  # unscheduled (depends on test)
    long_log: str  # completed, 600-line log


@pytest.fixture(scope="module")
def graph() -> Iterator[Graph]:
    with LocalCluster() as lc, lc.connect() as admin, Worker(lc, QUEUE) as worker:
        group_id = tcmodel.slug_id()

        def make(name: str, deps: tuple[Task, ...] = ()) -> Task:
            return create(admin, name, group_id, *deps, queue=QUEUE)

        build = make("build-linux64/opt")
        claimed = worker.claim_task(build.task_id)
        claimed.upload("public/build/app.bin", b"\0" * 3000, content_type="application/x-bin")
        claimed.upload("public/notes.txt", "notes", storage_type="s3")
        claimed.log("compiling\nlinked\n")
        lc.advance(90)
        claimed.complete()
        test = make("<script>test</script>", (build,))
        worker.run(test.task_id, outcome="failed", log="running\nAssertionError: boom <b>\n")
        waiting = make("upload", (test,))
        long_log = make("chatty")
        worker.run(long_log.task_id, log="".join(f"line {i}\n" for i in range(600)))
        admin.index("proj.app.latest").insert(build, rank=7, data={"rev": "abc"})
        yield Graph(lc, group_id, build.task_id, test.task_id, waiting.task_id, long_log.task_id)


@pytest.fixture
def cluster(graph: Graph) -> Iterator[tcmodel.Cluster]:
    with graph.lc.connect() as c:
        yield c


def shown(obj: object) -> tuple[str, str]:
    """What IPython displays for ``obj``: (text/plain, text/html)."""
    data, _ = FORMATTER.format(obj)
    return data["text/plain"], data.get("text/html", "")


def handles(c: tcmodel.Cluster, g: Graph) -> dict[str, Any]:
    """A fresh, unloaded handle of each kind (building them costs nothing)."""
    task = c.task(g.build)
    return {
        "cluster": c,
        "group": c.task_group(g.group_id),
        "task": task,
        "run": task.run(0),
        "artifact": task.run(0).artifact("public/build/app.bin"),
        "latest artifact": task.latest_artifact("public/build/app.bin"),
        "namespace": c.index("proj.app"),
        "listing": c.task_group(g.group_id).tasks(),
        "log": LogText("a\nb\n"),
    }


# -- IPython's probing and the formatter on unloaded handles --------------------


def test_ipython_probing_costs_no_request(graph: Graph, cluster: tcmodel.Cluster) -> None:
    objs = handles(cluster, graph)
    objs.update((cls.__name__, model) for cls, model in _samples(cluster, graph).items())
    graph.lc.reset_requests()
    for name, obj in objs.items():
        assert not hasattr(type(obj), "__getattr__"), name
        for probe in PROBES:
            assert getattr(obj, probe, None) is None, (name, probe)
    assert graph.lc.requests == []


@pytest.mark.parametrize(
    ("kind", "note"),
    [
        ("task", "status not loaded — read task.status or task.state"),
        ("task", "definition not loaded — read task.definition or task.name"),
        ("group", "info not loaded — read group.info"),
        ("group", "tasks not listed — list(group.tasks())"),
        ("run", "run info not loaded — read run.info or run.state"),
        ("artifact", "info not loaded — read artifact.info"),
        ("latest artifact", "info not loaded — read artifact.info"),
    ],
)
def test_unloaded_handles_say_what_loads_them(
    graph: Graph, cluster: tcmodel.Cluster, kind: str, note: str
) -> None:
    obj = handles(cluster, graph)[kind]
    graph.lc.reset_requests()
    text, html = shown(obj)
    assert graph.lc.requests == []
    assert text.splitlines()[0] == repr(obj)
    assert note in text and note in html
    assert f'href="{obj.ui_url}"' in html
    assert not obj.loaded


def test_every_handle_displays_in_both_formats_without_requests(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    objs = handles(cluster, graph)
    del objs["listing"]  # its preview fetches a page: tested below
    graph.lc.reset_requests()
    for name, obj in objs.items():
        text, html = shown(obj)
        assert text and html.startswith(("<div", "<pre")), name
    entry = cluster.index("proj.app.latest").entry()  # one findTask request
    graph.lc.reset_requests()
    text, html = shown(entry)
    assert graph.lc.requests == []
    assert "task not loaded — read entry.task.state" in text
    assert f'href="{entry.task.ui_url}"' in html and "rank" in text and '"rev": "abc"' in text


# -- loaded handles: names, states, durations, links -----------------------------


def test_listed_task_shows_name_state_runs_and_links(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    tasks = {t.task_id: t for t in cluster.task_group(graph.group_id).tasks()}
    build = tasks[graph.build]
    graph.lc.reset_requests()
    text, html = shown(build)
    assert graph.lc.requests == []
    assert repr(build) == f"<Task 'build-linux64/opt' taskId='{graph.build}' state='completed'>"
    assert text.splitlines()[0] == repr(build)
    assert "not loaded" not in text
    assert re.search(r"runs:\n.*duration.*\n.*1m 30s", text)  # the runs table
    assert "#2e7d32" in html  # the completed badge
    assert f'href="{cluster.root_url}/tasks/{graph.build}"' in html
    assert f'href="{cluster.root_url}/tasks/groups/{graph.group_id}"' in html
    assert f'href="{cluster.root_url}/tasks/{graph.build}/runs/0"' in html
    assert "1m 30s" in html


def test_html_escapes_task_data(graph: Graph, cluster: tcmodel.Cluster) -> None:
    test = cluster.task(graph.test)
    test.definition, test.status
    text, html = shown(test)
    assert "<script>" not in html and "&lt;script&gt;test&lt;/script&gt;" in html
    assert "#c62828" in html  # the failed badge
    assert "<script>test</script>" in text  # plain text is not HTML


def test_group_shows_counts_once_every_task_is_listed(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    group = cluster.task_group(graph.group_id)
    list(group.tasks().page_size(2).limit(2))
    graph.lc.reset_requests()
    text, _ = shown(group)
    assert "tasks=" not in repr(group)  # only two listed: counts unknown
    assert "2 listed so far" in text and "not every task is listed yet" in text
    list(group.tasks())
    graph.lc.reset_requests()
    assert repr(group) == (
        f"<TaskGroup taskGroupId='{graph.group_id}' sealed=False "
        "tasks=4 unscheduled=1 completed=2 failed=1>"
    )
    text, html = shown(group)
    assert graph.lc.requests == []
    assert text.splitlines()[0] == repr(group)
    assert "failed and exception" in text and "<script>test</script>" in text
    assert "#c62828" in html and "#9e9e9e" in html  # failed and unscheduled badges
    assert "not loaded" not in text


def test_run_and_artifacts_show_their_facts(graph: Graph, cluster: tcmodel.Cluster) -> None:
    task = cluster.task(graph.build)
    run = task.runs[0]
    arts = {a.name: a for a in run.artifacts()}
    graph.lc.reset_requests()
    text, html = shown(run)
    assert re.search(r"duration\s+1m 30s", text) and "local/worker-1" in text
    assert f'href="{run.ui_url}"' in html
    art = arts["public/build/app.bin"]
    assert repr(art) == (
        f"<Artifact taskId='{graph.build}' runId=0 name='public/build/app.bin' "
        "storageType='object' contentType='application/x-bin' contentLength=3000>"
    )
    text, html = shown(art)
    assert "2.9 KiB (3000 bytes)" in text and "application/x-bin" in text
    assert f'href="{art.url}"' in html  # public: the unsigned download URL
    assert graph.lc.requests == []


def test_cluster_shows_its_public_url_and_client(graph: Graph) -> None:
    graph.lc.reset_requests()
    with tcmodel.Cluster.from_url(
        graph.lc.root_url,
        credentials=graph.lc.root_credentials,
        public_url="https://tc.example.com",
    ) as c:
        text, html = shown(c)
        assert 'href="https://tc.example.com"' in html
        assert "static/taskcluster/root" in text
        assert graph.lc.root_credentials.access_token not in text + html
        assert c.task(graph.build).ui_url == f"https://tc.example.com/tasks/{graph.build}"
    assert graph.lc.requests == []


# -- models: one generic display ------------------------------------------------


def _samples(c: tcmodel.Cluster, g: Graph) -> dict[type, Any]:
    task = c.task(g.build)
    info = task.run(0).artifact("public/build/app.bin").info
    return {
        models.TaskStatus: task.status,
        models.TaskDefinition: task.definition,
        models.TaskMetadata: task.definition.metadata,
        models.RunInfo: task.status.runs[0],
        models.ArtifactInfo: info,
        models.TaskGroupInfo: c.task_group(g.group_id).info,
        models.IndexedTask: c.index("proj.app.latest").entry().entry,
        models.NamespaceInfo: next(iter(c.index("proj").namespaces())).info,
        models.ArtifactContent: from_json(
            models.ArtifactContent,
            {
                "storageType": "object",
                "name": "t/x",
                "url": "https://bucket.example.com/a?X-Amz-Signature=s1gn",
                "credentials": {"clientId": "dl", "accessToken": "s3cr3t"},
            },
        ),
        models.TaskGroupCancellation: from_json(
            models.TaskGroupCancellation,
            {"taskGroupId": g.group_id, "taskGroupSize": 3, "cancelledCount": 1},
        ),
        models.TaskQueueCounts: from_json(
            models.TaskQueueCounts,
            {"taskQueueId": QUEUE, "pendingTasks": 2, "claimedTasks": 0},
        ),
        models.ObjectMetadata: from_json(
            models.ObjectMetadata,
            {"projectId": "none", "expires": "2030-01-01T00:00:00Z", "hashes": {"sha256": "ab"}},
        ),
        models.HookMetadata: from_json(
            models.HookMetadata, {"name": "n", "description": "d", "owner": "a@b.c"}
        ),
        models.HookDefinition: from_json(
            models.HookDefinition,
            {
                "hookGroupId": "g",
                "hookId": "h",
                "metadata": {"name": "n", "description": "", "owner": "a@b.c"},
                "schedule": ["0 0 3 * * *"],
                "task": {"payload": {}},
                "triggerSchema": {"type": "object"},
                "bindings": [{"exchange": "e", "routingKeyPattern": "#"}],
            },
        ),
        models.HookStatus: from_json(
            models.HookStatus,
            {"lastFire": {"result": "no-fire"}, "nextScheduledDate": "2030-01-01T00:00:00Z"},
        ),
        models.HookFire: from_json(
            models.HookFire,
            {
                "hookGroupId": "g",
                "hookId": "h",
                "firedBy": "triggerHook",
                "taskId": g.build,
                "taskCreateTime": "2030-01-01T00:00:00Z",
                "result": "error",
                "error": "boom",
                "taskState": "pending",
            },
        ),
        models.TaskQueueInfo: from_json(
            models.TaskQueueInfo,
            {
                "taskQueueId": QUEUE,
                "description": "CI workers",
                "stability": "stable",
                "expires": "2030-01-02T00:00:00Z",
                "lastDateActive": "2030-01-01T00:00:00Z",
            },
        ),
        models.WorkerInfo: from_json(
            models.WorkerInfo,
            {
                "workerGroup": "wg",
                "workerId": "w1",
                "taskQueueId": QUEUE,
                "firstClaim": "2030-01-01T00:00:00Z",
                "lastDateActive": "2030-01-01T00:00:00Z",
                "quarantineUntil": "2030-01-01T00:00:00Z",
                "expires": "2030-01-02T00:00:00Z",
                "latestTask": {"taskId": g.build, "runId": 0},
                "recentTasks": [{"taskId": g.build, "runId": 0}],
            },
        ),
    }


def test_every_model_displays_its_fields_without_requests(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    samples = _samples(cluster, graph)
    # a new model needs a sample (attrs may leave a stale pre-slots class behind: skip it)
    live = {c for c in models._Model.__subclasses__() if getattr(models, c.__name__, None) is c}
    assert set(samples) == live
    graph.lc.reset_requests()
    for cls, model in samples.items():
        text, html = shown(model)
        assert text.splitlines()[0] == repr(model), cls
        for field in attrs.fields(cls):
            if field.name != "raw" and getattr(model, field.name) not in (None, (), {}):
                assert field.name in text and field.name in html, (cls, field.name)
    assert graph.lc.requests == []
    text, html = shown(samples[models.TaskStatus])
    assert "runs:" in text and "#2e7d32" in html  # runs as a table, states as badges
    text, html = shown(samples[models.ArtifactContent])
    assert "s3cr3t" not in text + html and "s1gn" not in text + html
    assert "dl" in text  # the client id still shows


# -- a listing's preview: one request for both formats -------------------------


def test_listing_preview_is_one_request_for_both_formats(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    listing = cluster.task_group(graph.group_id).tasks()
    graph.lc.reset_requests()
    assert repr(listing).startswith("<Listing queue.listTaskGroup(")
    assert graph.lc.requests == []
    text, html = shown(listing)
    assert [r.entry for r in graph.lc.requests] == ["listTaskGroup"]
    assert "build-linux64/opt" in text and "&lt;script&gt;" in html
    assert "a preview of the first page (4 items)" in text
    assert "list(...)" in html and ".to_dataframe()" in html
    assert "more pages not fetched" not in text and "… " not in text
    assert f'href="{cluster.root_url}/tasks/{graph.build}"' in html
    shown(listing)
    assert len(graph.lc.requests) == 1  # kept on the listing


def test_listing_preview_caps_rows_and_says_what_is_left(
    graph: Graph, cluster: tcmodel.Cluster
) -> None:
    group_id = tcmodel.slug_id()
    for i in range(30):
        cluster.create_task(task_queue_id=QUEUE, payload={}, name=f"t{i}", task_group_id=group_id)
    graph.lc.reset_requests()
    text, html = shown(cluster.task_group(group_id).tasks())
    assert len(graph.lc.requests) == 1
    assert "… 5 more" in text and "… 5 more" in html
    assert html.count("<tr>") == 1 + views.MAX_ROWS
    graph.lc.reset_requests()
    text, html = shown(cluster.task_group(group_id).tasks().page_size(10))
    assert len(graph.lc.requests) == 1
    assert "more pages not fetched" in text and "more pages not fetched" in html
    assert "(10 items)" in text


@pytest.mark.parametrize("kind", ["run artifacts", "latest artifacts", "namespaces", "entries"])
def test_other_listings_preview_as_records(
    graph: Graph, cluster: tcmodel.Cluster, kind: str
) -> None:
    task = cluster.task(graph.build)
    listing, column, value = {
        "run artifacts": (task.run(0).artifacts(), "storage_type", "public/build/app.bin"),
        "latest artifacts": (task.artifacts(), "content_type", "application/x-bin"),
        "namespaces": (cluster.index("proj").namespaces(), "namespace", "proj.app"),
        "entries": (cluster.index("proj.app").tasks(), "rank", graph.build),
    }[kind]
    graph.lc.reset_requests()
    text, html = shown(listing)
    assert len(graph.lc.requests) == 1
    assert column in text and value in text and value in html


def test_listing_preview_shows_a_failure(graph: Graph, cluster: tcmodel.Cluster) -> None:
    graph.lc.reset_requests()
    missing = cluster.task(tcmodel.slug_id()).run(0).artifacts()
    text, html = shown(missing)
    assert len(graph.lc.requests) == 1
    assert "the first page could not be fetched" in text and "404" in html


# -- UI links and the public root URL ------------------------------------------


def test_ui_urls_cost_nothing(graph: Graph, cluster: tcmodel.Cluster) -> None:
    root = cluster.root_url
    task = cluster.task(graph.build)
    graph.lc.reset_requests()
    assert task.ui_url == f"{root}/tasks/{graph.build}"
    assert cluster.task_group(graph.group_id).ui_url == f"{root}/tasks/groups/{graph.group_id}"
    assert task.run(2).ui_url == f"{root}/tasks/{graph.build}/runs/2"
    assert task.run(0).artifact("public/x").ui_url == f"{root}/tasks/{graph.build}/runs/0"
    latest = task.latest_artifact("public/x")
    assert latest.ui_url == f"{root}/tasks/{graph.build}"  # latest run not known yet
    assert graph.lc.requests == []
    task.status
    assert latest.ui_url == f"{root}/tasks/{graph.build}/runs/0"
    assert cluster.index("proj.app").ui_url == f"{root}/tasks/index/proj.app"


def test_public_url_behind_a_proxy() -> None:
    env = {"TASKCLUSTER_PROXY_URL": "http://taskcluster", "TASKCLUSTER_ROOT_URL": "https://tc.x/"}
    with tcmodel.Cluster.from_env(env) as c:
        assert c.root_url == "http://taskcluster" and c.public_url == "https://tc.x"
        assert (
            c.task("Dx4tPEtaRpeIeWpbTD0uHw").ui_url == "https://tc.x/tasks/Dx4tPEtaRpeIeWpbTD0uHw"
        )
    with tcmodel.Cluster.from_env({"TASKCLUSTER_PROXY_URL": "http://taskcluster"}) as c:
        assert c.public_url == "http://taskcluster"
    with tcmodel.Cluster.from_url("https://tc.x") as c:
        assert c.public_url == "https://tc.x"
    with pytest.raises(tcmodel.ConfigurationError):
        tcmodel.Cluster.from_url("https://tc.x", public_url="ftp://nope")


# -- logs ---------------------------------------------------------------------


def test_log_is_a_str_shown_as_lines(graph: Graph, cluster: tcmodel.Cluster) -> None:
    log = cluster.task(graph.test).log()
    assert isinstance(log, LogText) and isinstance(log, str)
    assert log.splitlines() == ["running", "AssertionError: boom <b>"]
    assert log[:7] == "running" and log.startswith("running")
    graph.lc.reset_requests()
    text, html = shown(log)
    assert graph.lc.requests == []
    assert text == "running\nAssertionError: boom <b>\n"  # lines, not a quoted repr
    assert html.startswith("<pre") and "boom &lt;b&gt;" in html


def test_long_log_shows_its_last_lines(graph: Graph, cluster: tcmodel.Cluster) -> None:
    log = cluster.task(graph.long_log).run(0).log()
    assert isinstance(log, LogText) and len(log.splitlines()) == 600
    text, html = shown(log)
    assert text.splitlines()[1:] == [f"line {i}" for i in range(100, 600)]
    assert "100 earlier lines not shown" in text and "100 earlier lines not shown" in html
    assert "line 99\n" not in html and "line 599" in html
