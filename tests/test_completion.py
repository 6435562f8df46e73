"""Tab completion in stock IPython never sends a request, and offers what matters.

IPython's own completer (``IPython.core.completer``) is driven on live
objects of a LocalCluster, with jedi on (the default) and off, for every
chain issue 7 names; the cluster's request log must stay empty. A second
test completes against a root URL that accepts connections but never
answers: a completion that fetched would hang there.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

import tcmodel
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

RUN_NAMES = {"state", "started", "resolved", "duration", "worker_id", "artifacts", "log", "ui_url"}
TASK_NAMES = {"state", "name", "definition", "status", "runs", "latest_run", "dependencies", "log"}
GROUP_NAMES = {"tasks", "info", "sealed", "scheduler_id", "seal", "cancel"}
LISTING_NAMES = {"filter", "limit", "page_size", "pages", "first", "to_records", "to_dataframe"}
DATETIME_NAMES = {"isoformat", "year", "astimezone", "timestamp"}
RUN_INFO_NAMES = {"state", "run_id", "reason_resolved", "started", "worker_group", "duration"}
ARTIFACT_NAMES = {"download", "read_text", "storage_type", "content_type", "url", "signed_url"}

#: (text typed before TAB, names that must be offered)
CHAINS: list[tuple[str, set[str]]] = [
    ("task.", TASK_NAMES),
    ("task.runs[0].", RUN_NAMES),
    ("task.latest_run.", RUN_NAMES),
    ("task.runs.", {"count", "index"}),
    ("task.task_group.", GROUP_NAMES),
    ("task.dependencies[0].", TASK_NAMES),
    ("task.definition.", {"metadata", "payload", "dependencies", "deadline", "routes"}),
    ("task.definition.metadata.", {"name", "owner", "description", "source"}),
    ("task.definition.deadline.", DATETIME_NAMES),
    ("task.status.", {"state", "runs", "retries_left", "latest_run", "is_resolved"}),
    ("task.status.runs[0].", RUN_INFO_NAMES),
    ("task.status.latest_run.", RUN_INFO_NAMES),
    ("task.runs[0].info.", RUN_INFO_NAMES),
    ("task.log().", {"splitlines", "upper", "startswith"}),
    ("run.log().", {"splitlines", "upper", "startswith"}),
    ("group.", GROUP_NAMES),
    ("group.sealed.", DATETIME_NAMES),
    ("group.info.", {"scheduler_id", "expires", "sealed", "is_sealed"}),
    ("group.tasks().", LISTING_NAMES),
    ("run.artifacts().", LISTING_NAMES),
    ("task.run(0).artifacts().", LISTING_NAMES),
    ("run.artifact('public/x').", ARTIFACT_NAMES),
    ("art.info.", {"name", "storage_type", "content_type", "expires", "is_public"}),
    ("art.task.", TASK_NAMES),
    ("cluster.task('Dx4tPEtaRpeIeWpbTD0uHw').", TASK_NAMES),
    ("cluster.task_group('Dx4tPEtaRpeIeWpbTD0uHw').", GROUP_NAMES),
    ("cluster.index('project.app').", {"find", "namespaces", "tasks", "child", "insert"}),
    ("group.critical_path().", {"steps", "total"}),
    ("group.timeline().", {"records", "critical_path", "to_dataframe", "slowest"}),
    ("group.failures().", {"to_records", "to_dataframe", "items"}),
]
#: Names that are noise: constructors and a listing's parts.
NEVER = {
    "from_listing",
    "from_json",
    "call",
    "items_key",
    "make",
    "on_page",
    "predicates",
    "filters",
    "max_items",
    "item_type",
    "transport",
    "size",
}


@pytest.fixture(scope="module")
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def graph(lc: LocalCluster) -> dict[str, str]:
    """Two tasks, ``build`` → ``test``, both run; ids by name."""
    with lc.connect() as admin, Worker(lc, "proj/ci") as worker:
        group_id = tcmodel.slug_id()
        build = admin.create_task(
            task_queue_id="proj/ci", payload={}, name="build", task_group_id=group_id
        )
        test = admin.create_task(
            task_queue_id="proj/ci",
            payload={},
            name="test",
            task_group_id=group_id,
            dependencies=[build],
        )
        worker.run(build.task_id, log="built\n", artifacts={"public/x": b"x"})
        worker.run(test.task_id, log="tested\n")
        admin.index("proj.app.latest").insert(build)
    return {"group": group_id, "build": build.task_id, "test": test.task_id}


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


def handles(cluster: tcmodel.Cluster, graph: dict[str, str]) -> dict[str, Any]:
    """Fresh handles: nothing loaded, so any completion that reads data fetches."""
    task = cluster.task(graph["test"])
    build = cluster.task(graph["build"])
    return {
        "cluster": cluster,
        "task": task,
        "group": cluster.task_group(graph["group"]),
        "run": build.run(0),
        "art": build.run(0).artifact("public/x"),
    }


def complete(shell: InteractiveShell, text: str, *, jedi: bool) -> set[str]:
    shell.Completer.use_jedi = jedi
    with provisionalcompleter():
        found = list(shell.Completer.completions(text, len(text)))
    return {c.text.rsplit(".", 1)[-1] for c in found}


@pytest.mark.parametrize("jedi", [True, False], ids=["jedi", "no-jedi"])
def test_every_chain_completes_without_a_request(
    lc: LocalCluster, graph: dict[str, str], shell: InteractiveShell, jedi: bool
) -> None:
    with lc.connect() as cluster:
        shell.user_ns.update(handles(cluster, graph))
        lc.reset_requests()
        for text, wanted in CHAINS:
            offered = complete(shell, text, jedi=jedi)
            assert wanted <= offered, f"{text!r} lacks {sorted(wanted - offered)}"
            assert not (offered & NEVER), f"{text!r} offers {sorted(offered & NEVER)}"
            assert lc.requests == [], f"completing {text!r} sent {lc.requests}"


@pytest.mark.parametrize("jedi", [True, False], ids=["jedi", "no-jedi"])
def test_chains_complete_on_loaded_objects_too(
    lc: LocalCluster, graph: dict[str, str], shell: InteractiveShell, jedi: bool
) -> None:
    with lc.connect() as cluster:
        objects = handles(cluster, graph)
        objects["task"].status, objects["task"].definition  # loaded: jedi may read live values
        listed = list(cluster.task_group(graph["group"]).tasks())
        shell.user_ns.update(objects, listed=listed, status=objects["task"].status)
        lc.reset_requests()
        assert complete(shell, "listed[0].", jedi=jedi) >= TASK_NAMES
        assert complete(shell, "status.runs[0].", jedi=jedi) >= RUN_INFO_NAMES
        assert {"name", "owner"} <= complete(shell, "task.definition.metadata.", jedi=jedi)
        assert lc.requests == []


@pytest.mark.parametrize("jedi", [True, False], ids=["jedi", "no-jedi"])
def test_every_public_property_completes_without_a_request(
    lc: LocalCluster, graph: dict[str, str], shell: InteractiveShell, jedi: bool
) -> None:
    with lc.connect() as cluster:
        objects = handles(cluster, graph)
        objects["ns"] = cluster.index("proj.app")
        objects["entry"] = cluster.index("proj.app.latest").entry()  # one request, before
        shell.user_ns.update(objects)
        lc.reset_requests()
        silent = []
        for var, obj in objects.items():
            for name in dir(type(obj)):
                if name.startswith("_") or not isinstance(getattr(type(obj), name), property):
                    continue
                if not complete(shell, f"{var}.{name}.", jedi=jedi):
                    silent.append(f"{var}.{name}")
                assert lc.requests == [], f"completing {var}.{name}. sent {lc.requests}"
        assert silent == [], f"nothing offered after {silent}"


@pytest.fixture
def silent_server() -> Iterator[tuple[str, socket.socket]]:
    """A root URL whose server accepts TCP connections but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", sock
    finally:
        sock.close()


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.mark.parametrize("jedi", [True, False], ids=["jedi", "no-jedi"])
def test_completion_against_a_silent_deployment_is_instant(
    silent_server: tuple[str, socket.socket],
    graph: dict[str, str],
    shell: InteractiveShell,
    jedi: bool,
) -> None:
    root_url, sock = silent_server
    with tcmodel.Cluster.from_url(root_url) as cluster:
        shell.user_ns.update(handles(cluster, graph))
        for text, _ in CHAINS:
            complete(shell, text, jedi=jedi)  # warm jedi's caches (a fetch would hang here)
        took: dict[str, float] = {}
        for text, wanted in CHAINS:
            # The best of three: a completion that waited on the network would
            # hang every time, while a pause of the machine hits one attempt.
            for _ in range(3):
                started = time.perf_counter()
                offered = complete(shell, text, jedi=jedi)
                took[text] = min(took.get(text, 1e9), time.perf_counter() - started)
                assert wanted <= offered, text
    assert _connections(sock) == 0, "a completion connected to the deployment"
    slowest = max(took, key=took.__getitem__)
    assert took[slowest] < 0.2, f"completing {slowest!r} took {took[slowest] * 1000:.0f} ms"


def test_dir_offers_actions_data_and_children_not_internals(
    lc: LocalCluster, graph: dict[str, str]
) -> None:
    with lc.connect() as cluster:
        task = cluster.task(graph["test"])
        public = {n for n in dir(task) if not n.startswith("_")}
        assert {"cancel", "rerun", "log", "state", "runs", "task_group", "ui_url"} <= public
        assert "from_listing" not in public
        listing = task.dependents()
        assert {n for n in dir(listing) if not n.startswith("_")} & NEVER == set()
        status_names = {n for n in dir(cluster.task(graph["build"]).status) if n[0] != "_"}
        assert "from_json" not in status_names
        assert {"state", "runs", "task_id"} <= status_names


def test_key_completions_offer_names_already_known(
    lc: LocalCluster, graph: dict[str, str], shell: InteractiveShell
) -> None:
    with lc.connect() as cluster:
        group = cluster.task_group(graph["group"])
        run = cluster.task(graph["build"]).run(0)
        assert group._ipython_key_completions_() == []  # nothing listed yet, nothing fetched
        lc.reset_requests()
        assert group["test"].task_id == graph["test"]  # lists the group once
        assert len(lc.requests) == 1
        assert group._ipython_key_completions_() == ["build", "test"]
        assert run._ipython_key_completions_() == []
        names = [a.name for a in run.artifacts()]
        assert set(run._ipython_key_completions_()) == set(names) >= {"public/x"}
        assert run["public/x"].loaded  # the listed handle, with its metadata
        lc.reset_requests()
        shell.user_ns.update(group=group, run=run)
        for jedi in (True, False):
            shell.Completer.use_jedi = jedi
            with provisionalcompleter():
                keys = [c.text for c in shell.Completer.completions('group["', 7)]
                artifacts = [c.text for c in shell.Completer.completions('run["pub', 8)]
            assert {"build", "test"} <= set(keys)
            assert set(artifacts) == {n for n in names if n.startswith("pub")}
        assert group["build"].state == "completed"
        assert lc.requests == []
        with pytest.raises(tcmodel.UnknownName, match="no task of group"):
            group["nothing"]


def test_ipython_probes_cost_nothing(lc: LocalCluster, graph: dict[str, str]) -> None:
    probes = (
        "_ipython_canary_method_should_not_exist_",
        "_ipython_display_",
        "_repr_mimebundle_",
        "_repr_markdown_",
        "_repr_latex_",
        "__wrapped__",
        "__custom_documentations__",
    )
    with lc.connect() as cluster:
        objects = handles(cluster, graph)
        objects["listing"] = objects["group"].tasks()
        lc.reset_requests()
        for obj in objects.values():
            for name in probes:
                getattr(obj, name, None)
        assert lc.requests == []
