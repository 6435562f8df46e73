"""Review fixes for artifacts, over real HTTP: references fetched unsigned,
safe file names, handles made once, the cluster clock for object
downloads, resuming after a complete body, async twins, lenient decoding."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest
from httpstub import serving

import tcmodel
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

SECRET = b"the private build key"
PUBLIC = b"public text\n" * 100
BAD_UTF8 = b"ok \xff\xfe then more\n"
UNSAFE = ("public/a\\b.txt", "public/..", "public/x/.", "public/", "public/..\\..\\evil")


@attrs.define
class World:
    lc: LocalCluster
    admin: tcmodel.Cluster
    task_id: str

    def art(self, name: str, run_id: int | None = 0) -> Artifact:
        return Artifact(self.admin, self.task_id, run_id, name)


@pytest.fixture
def world(tc_cluster: LocalCluster) -> Iterator[World]:
    lc = tc_cluster
    admin = lc.connect()
    anon = lc.connect(None)
    task = admin.create_task(task_queue_id="proj/ci", payload={}, name="review")
    with Worker(lc) as worker:
        run = worker.claim_task(task.task_id)
        run.upload("private/key.txt", SECRET, storage_type="s3")
        run.upload("public/text.txt", PUBLIC, storage_type="s3")
        run.upload("public/bad.txt", BAD_UTF8, content_type="text/plain; charset=utf-8")
        run.upload("public/data.json", b'{"n": [1, 2]}', content_type="application/json")
        for n in range(3):
            run.upload(f"public/more/{n}.txt", b"x")
        # references whose URLs point back at this deployment's getArtifact
        private_url = Artifact(anon, task.task_id, 0, "private/key.txt").url
        public_url = Artifact(anon, task.task_id, 0, "public/text.txt").url
        run.reference("public/ref/steal.txt", private_url, "text/plain")
        run.reference("public/ref/text.txt", public_url, "text/plain")
        for name in UNSAFE:
            run.upload(name, b"unsafe name")
        run.complete()
    lc.reset_requests()
    yield World(lc, admin, task.task_id)
    anon.close()
    admin.close()


# -- 1. references and s3 URLs are fetched unsigned ---------------------------------


def test_a_reference_cannot_borrow_the_readers_credentials(world: World) -> None:
    with pytest.raises(tcmodel.InsufficientScopes) as info:
        world.art("public/ref/steal.txt").read_bytes()
    assert info.value.status == 403
    trail = [(r.entry, r.status, r.client_id, r.authorization) for r in world.lc.requests]
    root = world.lc.root_credentials.client_id
    assert trail == [("artifact", 200, root, True), ("getArtifact", 403, None, False)]


def test_a_reference_to_a_public_get_artifact_url_still_works(world: World) -> None:
    assert world.art("public/ref/text.txt").read_bytes() == PUBLIC
    hops = [(r.origin, r.entry, r.client_id, r.authorization) for r in world.lc.requests[1:]]
    assert hops == [("api", "getArtifact", None, False), ("blob", None, None, False)]


def test_private_s3_data_is_read_through_its_presigned_url_unsigned(world: World) -> None:
    assert world.art("private/key.txt").read_bytes() == SECRET
    blob = [r for r in world.lc.requests if r.origin == "blob"]
    assert [(r.status, r.authorization) for r in blob] == [(200, False)]


# -- 2. downloading into a folder takes only a plain file name --------------------


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_are_refused_before_any_request(
    world: World, name: str, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match="not a safe file name"):
        world.art(name).download(folder)
    with pytest.raises(ValueError, match="not a safe file name"):
        asyncio.run(world.art(name).adownload(folder))
    assert world.lc.requests == []
    assert list(tmp_path.rglob("*")) == [folder]


def test_an_explicit_file_path_saves_any_name(world: World, tmp_path: Path) -> None:
    out = world.art("public/..").download(tmp_path / "chosen.bin")
    assert out == tmp_path / "chosen.bin" and out.read_bytes() == b"unsafe name"


def test_a_plain_name_still_goes_into_the_folder(world: World, tmp_path: Path) -> None:
    out = world.art("public/text.txt").download(tmp_path)
    assert out == tmp_path / "text.txt" and out.read_bytes() == PUBLIC


# -- 3. task and run handles are made once ---------------------------------------------


def test_an_artifacts_task_is_loaded_once(world: World) -> None:
    art = world.art("public/text.txt")
    assert art.task is art.task and art.run is art.run
    assert art.task.state == art.task.state == "completed"
    assert [r.entry for r in world.lc.requests] == ["status"]


def test_listed_artifacts_share_their_task(world: World) -> None:
    run = world.admin.task(world.task_id).run(0)
    arts = [a for a in run.artifacts() if a.name.startswith("public/")][:5]
    assert len(arts) == 5
    world.lc.reset_requests()
    for a in arts:
        assert a.run is not None and a.run.state == "completed"
        assert a.task.name == "review"
    assert sorted(r.entry for r in world.lc.requests) == ["status", "task"]
    assert all(a.task is run.task for a in arts)


def test_latest_artifacts_and_handles_share_their_task(world: World) -> None:
    task = world.admin.task(world.task_id)
    arts = [*list(task.artifacts())[:4], task.latest_artifact("public/text.txt")]
    world.lc.reset_requests()
    assert {a.task.state for a in arts} == {"completed"}
    assert [r.entry for r in world.lc.requests] == ["status"]


def test_index_entries_of_a_page_load_their_tasks_in_bulk(world: World) -> None:
    tasks = [
        world.admin.create_task(task_queue_id="proj/ci", payload={}, name=f"t{n}") for n in range(5)
    ]
    ns = world.admin.index("review.builds")
    for n, t in enumerate(tasks):
        ns.child(f"b{n}").insert(t)
    entries = list(ns.tasks())
    world.lc.reset_requests()
    assert [e.task.state for e in entries] == ["pending"] * 5
    assert [e.task.state for e in entries] == ["pending"] * 5
    assert [r.entry for r in world.lc.requests] == ["statuses"]
    assert all(e.task is e.task for e in entries)


def test_an_index_entry_keeps_its_task(world: World) -> None:
    ns = world.admin.index("review.one")
    ns.insert(world.task_id)
    entry = ns.entry()
    world.lc.reset_requests()
    assert entry.task.state == entry.task.state == "completed"
    assert [r.entry for r in world.lc.requests] == ["status"]


# -- 4. object downloads sign with the cluster clock -----------------------------------


def test_object_artifacts_after_the_clock_moved(tc_cluster: LocalCluster) -> None:
    lc = tc_cluster
    with lc.connect() as admin, Worker(lc) as worker:
        task = admin.create_task(task_queue_id="proj/ci", payload={}, name="later")
        lc.advance(3600)  # past Hawk's 15 minutes, for a wall-clock signer
        run = worker.claim_task(task.task_id)
        run.upload("private/obj.bin", SECRET)  # object upload, worker side
        run.complete()
        lc.reset_requests()
        assert task.run(0).artifact("private/obj.bin").read_bytes() == SECRET
        assert [r.entry for r in lc.requests if r.origin == "api"] == [
            "artifact",
            "startDownload",
        ]


# -- 5. a body that came whole is not asked for again ----------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        srv, rng, size = self.server, self.headers.get("Range"), len(PUBLIC)
        srv.seen.append((self.path, rng))
        self.close_connection = True
        if rng is not None:  # a resume of what the cut answer sent
            told = size + 1 if self.path == "/416-mismatch" else size
            self._head(416, {"Content-Range": f"bytes */{told}", "Content-Length": "0"})
        elif self.path == "/416-mismatch" and srv.cut:
            self._head(200, {"Content-Length": str(size)})
            self.wfile.write(PUBLIC)
        else:
            # every byte, chunked, then the connection closes without the
            # last chunk: the client sees an error after the whole body
            srv.cut = True
            length = {"Content-Length": str(size)} if self.path == "/with-length" else {}
            self._head(200, {"Transfer-Encoding": "chunked", **length})
            self.wfile.write(b"%x\r\n%s\r\n" % (size, PUBLIC))

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []
        self.cut = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def origin() -> Iterator[_Server]:
    server = _Server()
    with serving(server):
        yield server


@pytest.fixture
def refs(tc_cluster: LocalCluster, origin: _Server) -> Iterator[tuple[tcmodel.Cluster, str]]:
    admin = tc_cluster.connect()
    task = admin.create_task(task_queue_id="proj/ci", payload={}, name="origin")
    with Worker(tc_cluster) as worker:
        run = worker.claim_task(task.task_id)
        for path in ("/with-length", "/no-length", "/416-mismatch"):
            run.reference(f"public/ext{path}", origin.url + path)
        run.complete()
    yield admin, task.task_id
    admin.close()


def test_a_break_after_the_announced_length_is_the_end(
    refs: tuple[tcmodel.Cluster, str], origin: _Server
) -> None:
    admin, task_id = refs
    assert Artifact(admin, task_id, 0, "public/ext/with-length").read_bytes() == PUBLIC
    assert origin.seen == [("/with-length", None)]  # no Range for what already came


def test_a_416_for_exactly_what_came_is_the_end(
    refs: tuple[tcmodel.Cluster, str], origin: _Server
) -> None:
    admin, task_id = refs
    art = Artifact(admin, task_id, 0, "public/ext/no-length")
    assert art.read_bytes() == PUBLIC
    assert origin.seen == [("/no-length", None), ("/no-length", f"bytes={len(PUBLIC)}-")]
    origin.seen.clear()
    assert asyncio.run(art.aread_bytes()) == PUBLIC  # the async driver alike
    assert len(origin.seen) == 2


def test_a_416_for_another_length_fetches_the_whole_body(
    refs: tuple[tcmodel.Cluster, str], origin: _Server
) -> None:
    admin, task_id = refs
    assert Artifact(admin, task_id, 0, "public/ext/416-mismatch").read_bytes() == PUBLIC
    assert [r for _, r in origin.seen] == [None, f"bytes={len(PUBLIC)}-", None]


# -- 6 and 7. async twins, lenient decoding --------------------------------------------


def test_async_reads_match_the_sync_ones(world: World) -> None:
    text, data = world.art("public/text.txt"), world.art("public/data.json")

    async def main() -> tuple[bytes, str, Any, str]:
        return (
            await text.aread_bytes(),
            await text.aread_text(),
            await data.aread_json(),
            await world.art("public/bad.txt").aread_text(errors="replace"),
        )

    got = asyncio.run(main())
    assert got == (PUBLIC, PUBLIC.decode(), {"n": [1, 2]}, BAD_UTF8.decode(errors="replace"))
    assert got[1] == text.read_text() and got[2] == data.read_json()


def test_read_text_errors(world: World) -> None:
    bad = world.art("public/bad.txt")
    with pytest.raises(UnicodeDecodeError):
        bad.read_text()
    with pytest.raises(UnicodeDecodeError):
        asyncio.run(bad.aread_text())
    assert bad.read_text(errors="replace") == "ok \ufffd\ufffd then more\n"
    assert bad.read_text("latin-1") == BAD_UTF8.decode("latin-1")
