"""The index in bulk and without extra requests, against the local
cluster: find_tasks (one findTasksAtIndex request per 1000 paths, missing
paths reported, the tasks' data in bulk), lazy Namespace.artifact read
through findArtifactFromTask, URLs and the entries' raw JSON."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

import tcmodel
from tcmodel.resources.index import FIND_CHUNK, FoundTasks, IndexedArtifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

PUBLIC = b"public data\n" * 50
PRIVATE = b"private data"
OBJECT = bytes(range(256)) * 40


@attrs.define
class World:
    lc: LocalCluster
    admin: tcmodel.Cluster
    tasks: dict[str, tcmodel.resources.Task]

    def entries(self) -> list[str | None]:
        return [r.entry for r in self.lc.requests]


@pytest.fixture
def world() -> Iterator[World]:
    with LocalCluster() as lc, lc.connect() as admin:
        tasks = {}
        with Worker(lc, "proj/ci") as worker:
            for name in ("linux", "win", "mac"):
                t = admin.create_task(task_queue_id="proj/ci", payload={}, name=f"build-{name}")
                run = worker.claim_task(t.task_id)
                run.upload("public/s3.txt", PUBLIC, storage_type="s3")
                run.upload("private/key.txt", PRIVATE, storage_type="s3")
                run.upload("public/obj.bin", OBJECT)  # object storage: hashes checked
                run.complete()
                admin.index(f"proj.app.{name}.latest").insert(t, data={"os": name})
                tasks[name] = t
        lc.reset_requests()
        yield World(lc, admin, tasks)


def test_find_tasks_is_one_request_and_reports_missing_paths(world: World) -> None:
    paths = ["proj.app.linux.latest", "proj.app.nope.latest", "proj.app.win.latest"]
    found = world.admin.find_tasks(paths)
    assert world.entries() == ["findTasksAtIndex"]
    assert isinstance(found, FoundTasks)
    assert list(found) == ["proj.app.linux.latest", "proj.app.win.latest"]  # order given
    assert found["proj.app.linux.latest"] == world.tasks["linux"]
    assert found.missing == ("proj.app.nope.latest",)
    assert found.entries["proj.app.win.latest"].data == {"os": "win"}
    assert repr(found) == "<FoundTasks found=2 missing=1>"
    world.lc.reset_requests()
    assert [t.state for t in found.values()] == ["completed", "completed"]
    assert [t.name for t in found.values()] == ["build-linux", "build-win"]
    assert world.entries() == ["statuses", "tasks"]  # in bulk, not per task


def test_one_request_per_thousand_paths(world: World) -> None:
    paths = [f"proj.many.p{n}" for n in range(2 * FIND_CHUNK + 500)] + ["proj.app.mac.latest"]
    found = world.admin.find_tasks(paths)
    assert world.entries() == ["findTasksAtIndex"] * 3
    assert list(found) == ["proj.app.mac.latest"] and len(found.missing) == 2500
    assert world.admin.find_tasks([]) == {} and world.entries() == ["findTasksAtIndex"] * 3


def test_find_tasks_below_a_namespace(world: World) -> None:
    found = world.admin.index("proj.app").find_tasks(["mac.latest", "mac.latest", "bsd.latest"])
    assert list(found) == ["mac.latest"] and found.missing == ("bsd.latest",)
    assert found["mac.latest"].task_id == world.tasks["mac"].task_id
    with pytest.raises(ValueError, match="invalid index namespace"):
        world.admin.find_tasks(["a/b"])


def test_find_tasks_needs_a_scope_per_path(world: World) -> None:
    creds = world.lc.add_client("finder", ["index:find-task:proj.app.linux.*"])
    world.lc.add_role("anonymous", [])  # only what the client has
    with world.lc.connect(creds) as finder:
        assert list(finder.find_tasks(["proj.app.linux.latest"])) == ["proj.app.linux.latest"]
        with pytest.raises(tcmodel.InsufficientScopes, match=r"index:find-task:proj\.app\.win"):
            finder.find_tasks(["proj.app.linux.latest", "proj.app.win.latest"])


def test_namespace_artifact_is_lazy_and_one_request_cheaper(world: World) -> None:
    ns = world.admin.index("proj.app.linux.latest")
    art = ns.artifact("public/s3.txt")
    assert isinstance(art, IndexedArtifact)
    assert repr(art) == "<IndexedArtifact namespace='proj.app.linux.latest' name='public/s3.txt'>"
    assert "IndexedArtifact" in art._repr_html_()
    assert world.entries() == []  # nothing yet
    assert art.read_bytes() == PUBLIC
    assert [r.entry for r in world.lc.requests if r.origin == "api"] == ["findArtifactFromTask"]
    assert len(world.lc.requests) == 2  # the index, then the data itself
    world.lc.reset_requests()
    assert ns.find().latest_artifact("public/s3.txt").read_bytes() == PUBLIC  # the old way
    assert len(world.lc.requests) == 3


def test_private_and_object_artifacts_read_through_the_queue(world: World) -> None:
    ns = world.admin.index("proj.app.win.latest")
    assert ns.artifact("private/key.txt").read_bytes() == PRIVATE
    assert ns.artifact("public/obj.bin").read_bytes() == OBJECT  # verified by its hashes
    obj = ns.artifact("public/obj.bin")
    with obj.open() as f:
        assert f.read(10) == OBJECT[:10]
    assert obj.task_id == world.tasks["win"].task_id  # learned from the read
    assert "taskId=" in repr(obj)


def test_a_missing_path_raises_not_found_on_read(world: World) -> None:
    art = world.admin.index("proj.app.bsd.latest").artifact("public/s3.txt")
    with pytest.raises(tcmodel.NotFound):
        art.read_bytes()


def test_indexed_artifact_task_id_and_urls(world: World) -> None:
    art = world.admin.index("proj.app.mac.latest").artifact("public/s3.txt")
    root = world.lc.root_url
    assert art.url == f"{root}/api/index/v1/task/proj.app.mac.latest/artifacts/public%2Fs3.txt"
    assert art.ui_url == f"{root}/tasks/index/proj.app.mac/latest"
    assert world.entries() == []
    assert art.task_id == world.tasks["mac"].task_id
    assert world.entries() == ["findTask"]
    assert art.info.storage_type == "s3"
    signed = art.signed_url(60)
    assert "bewit=" in signed and "bewit" not in repr(art)
    with pytest.raises(ValueError, match="root"):
        world.admin.index("").artifact("public/x")


def test_namespace_and_entry_urls_and_raw(world: World) -> None:
    ns = world.admin.index("proj.app.linux.latest")
    assert ns.url == f"{world.lc.root_url}/api/index/v1/task/proj.app.linux.latest"
    assert world.admin.index("").url == f"{world.lc.root_url}/api/index/v1/namespaces"
    entry = ns.entry()
    assert entry.raw["taskId"] == world.tasks["linux"].task_id and entry.raw["data"] == {
        "os": "linux"
    }


def test_insert_takes_an_iso_expiry(world: World) -> None:
    entry = world.admin.index("proj.dated").insert(
        world.tasks["mac"], expires="2035-06-01T00:00:00Z"
    )
    assert entry.expires.year == 2035 and entry.raw["expires"].startswith("2035-06-01")
