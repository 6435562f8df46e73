"""Artifact handles against a LocalCluster: every storage type, byte for byte,
over real HTTP, with the requests counted."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

import tcmodel
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster, RequestRecord
from tcmodel.testing.queue_core import object_name, s3_key
from tcmodel.testing.state import Blob
from tcmodel.testing.worker import Worker

BINARY = bytes(range(256)) * 1024  # 256 KiB, every byte value
TEXT = "línea uno\nline two\n" * 500
LOG = "[taskcluster] hello\n" * 100


@attrs.define
class World:
    """A local cluster with one completed task holding artifacts of every kind."""

    lc: LocalCluster
    admin: tcmodel.Cluster
    anon: tcmodel.Cluster
    task_id: str
    worker: Worker

    def art(self, name: str, run_id: int | None = 0, *, anonymous: bool = False) -> Artifact:
        return Artifact(self.anon if anonymous else self.admin, self.task_id, run_id, name)

    def blob_requests(self) -> list[RequestRecord]:
        return [r for r in self.lc.requests if r.origin == "blob"]


@pytest.fixture
def world(tc_cluster: LocalCluster) -> Iterator[World]:
    lc = tc_cluster
    admin = tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials)
    anon = tcmodel.Cluster.from_url(lc.root_url)
    task = admin.create_task(task_queue_id="proj/ci", payload={}, name="artifacts")
    lc.state.blobs.put("extra/page.html", Blob(b"<html>elsewhere</html>", "text/html"))
    lc.state.blobs.set_public("extra/page.html")  # a public page the reference points at
    with Worker(lc) as worker:
        run = worker.claim_task(task.task_id)
        run.upload("public/build/app.bin", BINARY)
        run.upload("private/build/app.bin", BINARY[:1000])
        run.upload("public/s3/plain.txt", TEXT, storage_type="s3")
        run.upload("public/s3/packed.txt", TEXT, storage_type="s3", gzip=True)
        run.upload("private/s3/secret.json", '{"k": [1, 2]}', storage_type="s3")
        run.upload("public/data.json", b'{"ok": true}', content_type="application/json")
        run.upload(
            "public/latin.txt",
            "ça va".encode("latin-1"),
            content_type="text/plain; charset=latin-1",
        )
        run.reference("public/ref/blob.html", lc.state.blobs.url("extra/page.html"), "text/html")
        target = Artifact(anon, task.task_id, 0, "public/s3/plain.txt").url
        run.reference("public/ref/queue.txt", target, "text/plain")
        run.link("public/link.bin", "public/build/app.bin")
        run.error("public/missing.png", "file-missing-on-worker", "no screenshot was taken")
        run.log(LOG)
        run.complete()
        lc.reset_requests()
        yield World(lc, admin, anon, task.task_id, worker)
    admin.close()
    anon.close()


# -- every storage type, byte for byte ---------------------------------------------


def test_s3_plain_artifact(world: World) -> None:
    assert world.art("public/s3/plain.txt").read_bytes() == TEXT.encode()


def test_s3_gzip_artifact_is_decoded(world: World) -> None:
    stored = world.lc.state.blobs.get(s3_key(world.task_id, 0, "public/s3/packed.txt"))
    assert stored is not None and stored.content_encoding == "gzip"
    assert gzip.decompress(stored.data) == TEXT.encode()
    assert world.art("public/s3/packed.txt").read_text() == TEXT


def test_object_artifact_via_get_url_with_hashes(world: World) -> None:
    data = world.art("public/build/app.bin").read_bytes()
    assert data == BINARY
    entries = [(r.origin, r.entry, r.status) for r in world.lc.requests]
    assert entries == [
        ("api", "artifact", 200),
        ("api", "startDownload", 200),
        ("blob", None, 200),
    ]
    start = world.lc.requests[1]
    assert start.client_id == f"artifact-download/{world.task_id}/0/public/build/app.bin"
    obj = world.lc.state.objects.get_object(object_name(world.task_id, 0, "public/build/app.bin"))
    assert obj is not None and obj["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_reference_to_a_blob_url(world: World) -> None:
    assert world.art("public/ref/blob.html").read_bytes() == b"<html>elsewhere</html>"


def test_reference_to_another_get_artifact_url(world: World) -> None:
    assert world.art("public/ref/queue.txt").read_text() == TEXT
    trail = [(r.origin, r.entry, r.status) for r in world.lc.requests]
    assert trail == [("api", "artifact", 200), ("api", "getArtifact", 303), ("blob", None, 200)]


def test_link_reads_its_target(world: World) -> None:
    link = world.art("public/link.bin")
    assert link.read_bytes() == BINARY
    assert link.storage_type == "link"


def test_error_artifact_raises_artifact_error(world: World) -> None:
    with pytest.raises(tcmodel.ArtifactError) as info:
        world.art("public/missing.png").read_bytes()
    err = info.value
    assert err.status == 424
    assert err.reason == "file-missing-on-worker"
    assert err.message == "no screenshot was taken"
    assert "no screenshot was taken" in str(err)
    assert [r.origin for r in world.lc.requests] == ["api"]


def test_expired_artifact_raises_resource_expired(world: World) -> None:
    task = world.admin.create_task(task_queue_id="proj/ci", payload={}, name="short")
    run = world.worker.claim_task(task.task_id)
    run.upload("public/short.txt", "soon gone", expires=tcmodel.from_now("1 hour"))
    run.complete()
    art = Artifact(world.anon, task.task_id, 0, "public/short.txt")
    assert art.read_text() == "soon gone"
    world.lc.advance(90 * 60)  # past expires, before the queue deletes it
    with pytest.raises(tcmodel.ResourceExpired):
        art.read_bytes()


def test_log_is_a_link_to_the_gzipped_backing_log(world: World) -> None:
    assert world.art("public/logs/live.log").read_text() == LOG
    assert world.art("public/logs/live_backing.log", None).read_text() == LOG


# -- requests and authorization -----------------------------------------------------


def test_latest_s3_download_takes_two_requests_and_never_signs_blobs(world: World) -> None:
    data = world.art("private/s3/secret.json", None).read_json()
    assert data == {"k": [1, 2]}
    records = world.lc.requests
    assert [(r.origin, r.entry) for r in records] == [("api", "latestArtifact"), ("blob", None)]
    assert records[0].authorization
    assert not records[1].authorization


def test_object_download_never_sends_authorization_to_the_blob_origin(world: World) -> None:
    world.art("private/build/app.bin").read_bytes()
    world.art("public/ref/queue.txt").read_bytes()
    blobs = world.blob_requests()
    assert len(blobs) == 2
    assert not any(r.authorization for r in blobs)


def test_public_artifacts_read_anonymously(world: World) -> None:
    assert world.art("public/build/app.bin", anonymous=True).read_bytes() == BINARY
    assert world.art("public/s3/plain.txt", None, anonymous=True).read_text() == TEXT
    assert not any(r.authorization for r in world.lc.requests if r.entry != "startDownload")


@pytest.mark.parametrize("name", ["private/build/app.bin", "private/s3/secret.json"])
def test_private_artifacts_need_scopes(world: World, name: str) -> None:
    with pytest.raises(tcmodel.InsufficientScopes):
        world.art(name, anonymous=True).read_bytes()
    assert [r.status for r in world.lc.requests] == [403]


@pytest.mark.parametrize("name", ["private/build/app.bin", "private/s3/secret.json"])
def test_signed_url_lets_anyone_get_a_private_artifact(world: World, name: str) -> None:
    url = world.art(name).signed_url(expires_in=600)
    assert "bewit=" in url
    assert world.lc.requests == []  # signing sends nothing
    response = httpx.get(url, follow_redirects=True)
    assert response.status_code == 200
    assert response.content == world.art(name).read_bytes()
    first = world.lc.requests[0]
    assert first.entry == "getArtifact" and first.client_id == "static/taskcluster/root"


def test_signed_url_needs_credentials(world: World) -> None:
    with pytest.raises(ValueError, match="credentials"):
        world.art("private/build/app.bin", anonymous=True).signed_url()


def test_unsigned_url_works_for_public_names(world: World) -> None:
    art = world.art("public/s3/plain.txt", None, anonymous=True)
    assert art.url == (
        f"{world.lc.root_url}/api/queue/v1/task/{world.task_id}/artifacts/public%2Fs3%2Fplain.txt"
    )
    assert httpx.get(art.url, follow_redirects=True).text == TEXT


# -- validation and identity ---------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "run_id", "name"),
    [
        ("not-a-slug", 0, "public/x"),
        ("Dx4tPEtaRpeIeWpbTD0uHw", -1, "public/x"),
        ("Dx4tPEtaRpeIeWpbTD0uHw", True, "public/x"),
        ("Dx4tPEtaRpeIeWpbTD0uHw", "0", "public/x"),
        ("Dx4tPEtaRpeIeWpbTD0uHw", 0, ""),
        ("Dx4tPEtaRpeIeWpbTD0uHw", 0, "public/ü"),
        ("Dx4tPEtaRpeIeWpbTD0uHw", 0, "public/\n"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    world: World, task_id: str, run_id: int, name: str
) -> None:
    with pytest.raises(ValueError):
        Artifact(world.admin, task_id, run_id, name)
    assert world.lc.requests == []


def test_repr_identity_and_handles_cost_no_request(world: World) -> None:
    art = world.art("public/build/app.bin")
    latest = world.art("public/build/app.bin", None)
    assert repr(art) == f"<Artifact taskId='{world.task_id}' runId=0 name='public/build/app.bin'>"
    assert repr(latest).startswith(f"<Artifact taskId='{world.task_id}' runId=None ")
    assert art == world.art("public/build/app.bin") and art != latest
    assert hash(art) == hash(world.art("public/build/app.bin"))
    assert art.is_public and not world.art("private/build/app.bin").is_public
    assert art.task.task_id == world.task_id and art.run is not None and art.run.run_id == 0
    assert latest.run is None and art.basename == "app.bin"
    assert not art.loaded
    assert world.lc.requests == []


def test_info_is_loaded_once_and_shown_in_repr(world: World) -> None:
    art = world.art("public/s3/plain.txt")
    assert art.storage_type == "s3"
    assert art.content_type == "text/plain; charset=utf-8"
    assert art.content_length == len(TEXT.encode())
    assert art.expires.tzinfo is not None
    assert repr(art).endswith(
        "storageType='s3' contentType='text/plain; charset=utf-8' "
        f"contentLength={len(TEXT.encode())}>"
    )
    assert [r.entry for r in world.lc.requests] == ["artifactInfo"]
    art.refresh()
    assert art.info.name == "public/s3/plain.txt"
    assert [r.entry for r in world.lc.requests] == ["artifactInfo", "artifactInfo"]


def test_latest_info_uses_latest_artifact_info(world: World) -> None:
    assert world.art("public/build/app.bin", None).storage_type == "object"
    assert [r.entry for r in world.lc.requests] == ["latestArtifactInfo"]


def test_content_is_never_cached(world: World) -> None:
    art = world.art("public/ref/blob.html")
    assert art.read_bytes() == art.read_bytes()
    assert len(world.blob_requests()) == 2


# -- reading -------------------------------------------------------------------------


def test_read_text_uses_the_charset_or_the_given_encoding(world: World) -> None:
    assert world.art("public/latin.txt").read_text() == "ça va"
    with pytest.raises(UnicodeDecodeError):
        world.art("public/latin.txt").read_text("utf-8")
    assert world.art("public/s3/plain.txt").read_text("latin-1") == TEXT.encode().decode("latin-1")


def test_read_json(world: World) -> None:
    assert world.art("public/data.json").read_json() == {"ok": True}


def test_iter_bytes_is_lazy_and_streams(world: World) -> None:
    chunks = world.art("public/build/app.bin").iter_bytes()
    assert world.lc.requests == []
    parts = list(chunks)
    assert len(parts) > 1 and b"".join(parts) == BINARY


def test_iter_bytes_can_stop_early(world: World) -> None:
    chunks = world.art("public/build/app.bin").iter_bytes()
    first = next(iter(chunks))
    assert BINARY.startswith(first)
    chunks.close()  # type: ignore[attr-defined]
    assert world.art("public/s3/plain.txt").read_text() == TEXT  # the client still works


def test_download_to_a_file_and_into_a_folder(world: World, tmp_path: Path) -> None:
    out = world.art("public/build/app.bin").download(tmp_path / "app.out")
    assert out == tmp_path / "app.out" and out.read_bytes() == BINARY
    into = world.art("public/s3/packed.txt").download(tmp_path)
    assert into == tmp_path / "packed.txt" and into.read_text("utf-8") == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.out", "packed.txt"]


def test_download_replaces_an_existing_file_only_on_success(world: World, tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    path.write_bytes(b"old")
    with pytest.raises(tcmodel.ArtifactError):
        world.art("public/missing.png").download(path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    world.art("public/s3/plain.txt").download(path)
    assert path.read_text("utf-8") == TEXT
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_progress_reports_increasing_byte_counts(world: World, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    world.art("public/build/app.bin").download(
        tmp_path / "a", progress=lambda d, t: seen.append((d, t))
    )
    done = [d for d, _ in seen]
    assert done == sorted(set(done)) and len(done) > 2
    assert seen[-1] == (len(BINARY), len(BINARY))
    assert {t for _, t in seen} == {len(BINARY)}


def test_async_twins(world: World, tmp_path: Path) -> None:
    async def main() -> tuple[bytes, Path]:
        try:
            data = await world.art("public/s3/packed.txt").aread_bytes()
            path = await world.art("public/build/app.bin", None).adownload(tmp_path / "x.bin")
            return data, path
        finally:
            await world.admin.aclose()

    data, path = asyncio.run(main())
    assert data == TEXT.encode()
    assert path.read_bytes() == BINARY


def test_async_error_leaves_no_file(world: World, tmp_path: Path) -> None:
    async def main() -> None:
        try:
            await world.art("public/missing.png").adownload(tmp_path / "x")
        finally:
            await world.admin.aclose()

    with pytest.raises(tcmodel.ArtifactError):
        asyncio.run(main())
    assert list(tmp_path.iterdir()) == []
