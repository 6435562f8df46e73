"""Artifact uploads as transport operations (tcmodel.upload), over HTTP.

Every storage type, every kind of source, gzip, guessed content types, the
async driver, progress, and the memory an upload takes. Uploads are signed
with a claim's temporary credentials (a test worker's claimed run); what
was uploaded is read back through tcmodel, which checks object hashes.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

import tcmodel
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name, s3_key
from tcmodel.testing.worker import Worker
from tcmodel.transport import RetryPolicy, Transport
from tcmodel.upload import (
    Source,
    error_op,
    guess_content_type,
    link_op,
    reference_op,
    upload_op,
)

MIB = 1024 * 1024
# More than two pieces of a file read (1 MiB each), not a multiple of one.
DATA = bytes(range(256)) * (10 * 1024) + b"tail"
FAST_RETRIES = RetryPolicy(max_retries=2, base=0.01, cap=0.02, jitter=0.0)


@attrs.frozen
class Claimed:
    """A claimed run of a fresh task: its task id and the transport signed
    with the claim's temporary credentials (what a Claim hands to the ops)."""

    lc: LocalCluster
    admin: tcmodel.Cluster
    task_id: str
    transport: Transport

    def upload(self, name: str, source: Source, **kw: Any) -> None:
        kw.setdefault("expires", "1 day")
        self.transport.run(upload_op(self.transport, self.task_id, 0, name, source, **kw))

    def artifact(self, name: str) -> Artifact:
        """A fresh handle, read with root credentials (nothing cached)."""
        return Artifact(self.admin, self.task_id, 0, name)

    def object_hashes(self, name: str) -> dict[str, str]:
        obj = self.lc.state.objects.get_object(object_name(self.task_id, 0, name))
        assert obj is not None
        return dict(obj["hashes"])

    def entries(self) -> list[str]:
        """The requests since the last reset: API entries, ``blob`` for data."""
        return [r.entry or r.origin for r in self.lc.requests]


@pytest.fixture
def admin(tc_cluster: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with tc_cluster.connect() as c:
        yield c


@pytest.fixture
def claimed(tc_cluster: LocalCluster, admin: tcmodel.Cluster) -> Iterator[Claimed]:
    task = admin.create_task(task_queue_id="proj/up", payload={}, name="uploads")
    with Worker(tc_cluster, "proj/up") as worker:
        transport = worker.claim_task(task.task_id).transport
        transport.retry = FAST_RETRIES
        tc_cluster.reset_requests()
        yield Claimed(tc_cluster, admin, task.task_id, transport)


def hashes(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest()}


class Unseekable(io.RawIOBase):
    """A pipe-like binary stream: read once, no seeking."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(min(len(buffer), 100_000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def as_source(kind: str, data: bytes, tmp_path: Path) -> Source:
    """``data`` as a source of ``kind``."""
    if kind == "bytes":
        return data
    if kind == "str":
        return data.decode("latin-1")  # sent as UTF-8: compared accordingly
    if kind == "path":
        path = tmp_path / "source.bin"
        path.write_bytes(data)
        return path
    if kind == "file":
        return io.BytesIO(data)
    return io.BufferedReader(Unseekable(data))


def sent_bytes(kind: str, data: bytes) -> bytes:
    return data.decode("latin-1").encode("utf-8") if kind == "str" else data


SOURCES = ["bytes", "str", "path", "file", "unseekable"]


# -- the protocol -------------------------------------------------------------------------


def test_object_upload_goes_through_the_object_service(claimed: Claimed) -> None:
    claimed.upload("public/build/target.tar.gz", DATA)
    assert claimed.entries() == [
        "createArtifact",
        "createUpload",
        "blob",
        "finishUpload",
        "finishArtifact",
    ]
    create, start, put, finish, done = claimed.lc.requests
    assert create.client_id is not None and create.client_id.startswith(
        f"task-client/{claimed.task_id}/0/"
    )
    assert (
        start.client_id
        == finish.client_id
        == f"artifact-upload/{claimed.task_id}/0/on/local/worker-1"
    )
    assert done.client_id == create.client_id
    # the data goes to the blob origin unsigned: no credentials leave the deployment
    assert put.method == "PUT" and not put.authorization and put.client_id is None
    assert claimed.object_hashes("public/build/target.tar.gz") == hashes(DATA)
    art = claimed.artifact("public/build/target.tar.gz")
    assert (art.storage_type, art.content_type, art.content_length) == (
        "object",
        "application/gzip",
        len(DATA),
    )
    assert art.read_bytes() == DATA


def test_s3_upload_puts_to_the_presigned_url(claimed: Claimed) -> None:
    claimed.upload("public/notes.txt", "héllo\n", storage_type="s3")
    assert claimed.entries() == ["createArtifact", "blob"]
    assert not claimed.lc.requests[1].authorization
    blob = claimed.lc.state.blobs.get(s3_key(claimed.task_id, 0, "public/notes.txt"))
    assert blob is not None
    assert (blob.data, blob.content_type, blob.content_encoding) == (
        "héllo\n".encode(),
        "text/plain; charset=utf-8",
        None,
    )
    art = claimed.artifact("public/notes.txt")
    assert (art.storage_type, art.content_length) == ("s3", len("héllo\n".encode()))
    assert art.read_text() == "héllo\n"


@pytest.mark.parametrize("storage_type", ["object", "s3"])
@pytest.mark.parametrize("kind", SOURCES)
def test_every_source_reads_back(
    claimed: Claimed, tmp_path: Path, kind: str, storage_type: str
) -> None:
    claimed.upload("public/data.bin", as_source(kind, DATA, tmp_path), storage_type=storage_type)
    expected = sent_bytes(kind, DATA)
    art = claimed.artifact("public/data.bin")
    assert art.content_length == len(expected)
    assert art.read_bytes() == expected
    if storage_type == "object":
        assert claimed.object_hashes("public/data.bin") == hashes(expected)


def test_a_file_object_is_sent_from_where_it_stands(claimed: Claimed) -> None:
    f = io.BytesIO(b"header|" + DATA)
    f.seek(len(b"header|"))
    claimed.upload("public/rest.bin", f)
    assert claimed.artifact("public/rest.bin").read_bytes() == DATA


def test_an_empty_object(claimed: Claimed) -> None:
    claimed.upload("public/empty.bin", b"")
    assert claimed.object_hashes("public/empty.bin") == hashes(b"")
    assert claimed.artifact("public/empty.bin").read_bytes() == b""


# -- gzip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("storage_type", ["object", "s3"])
@pytest.mark.parametrize("kind", ["bytes", "path", "unseekable"])
def test_gzip_sends_it_compressed_and_it_reads_back_decoded(
    claimed: Claimed, tmp_path: Path, kind: str, storage_type: str
) -> None:
    text = b"a line of log output\n" * 50_000  # ~1 MiB, compresses well
    claimed.upload(
        "public/logs/big.log",
        as_source(kind, text, tmp_path),
        gzip=True,
        storage_type=storage_type,
    )
    key = (
        f"objects/{object_name(claimed.task_id, 0, 'public/logs/big.log')}"
        if storage_type == "object"
        else s3_key(claimed.task_id, 0, "public/logs/big.log")
    )
    blob = claimed.lc.state.blobs.get(key)
    assert blob is not None and blob.content_encoding == "gzip"
    assert len(blob.data) < len(text) // 10 and gzip.decompress(blob.data) == text
    art = claimed.artifact("public/logs/big.log")
    assert art.content_length == len(blob.data)  # what was sent
    assert art.content_type == "text/plain; charset=utf-8"
    assert art.read_bytes() == text
    if storage_type == "object":  # the hashes are of the content, not of its encoding
        assert claimed.object_hashes("public/logs/big.log") == hashes(text)


# -- content types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("public/logs/live_backing.log", "text/plain; charset=utf-8"),
        ("public/report.html", "text/html; charset=utf-8"),
        ("public/README.md", "text/markdown; charset=utf-8"),
        ("public/chain-of-trust.json", "application/json"),
        ("public/build/target.tar.gz", "application/gzip"),
        ("public/build/target.tar.bz2", "application/x-bzip2"),
        ("public/build/target.tar.xz", "application/x-xz"),
        ("public/build/target.zip", "application/zip"),
        ("public/screenshot.PNG", "image/png"),
        ("public/build/target.dmg", "application/x-apple-diskimage"),
        ("public/build/target", "application/octet-stream"),
        ("public/build.d/target", "application/octet-stream"),
        ("public/weird.unknownsuffix", "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str, expected: str) -> None:
    assert guess_content_type(name) == expected


def test_uploads_guess_their_content_type(claimed: Claimed) -> None:
    claimed.upload("public/index.html", "<p>hi</p>")
    claimed.upload("public/output", "text without a suffix")
    claimed.upload("public/blob", b"\x00\x01")
    claimed.upload("public/given.txt", "{}", content_type="application/json")
    types = {
        n: claimed.artifact(n).content_type
        for n in ("public/index.html", "public/output", "public/blob", "public/given.txt")
    }
    assert types == {
        "public/index.html": "text/html; charset=utf-8",
        "public/output": "text/plain; charset=utf-8",
        "public/blob": "application/octet-stream",
        "public/given.txt": "application/json",
    }


# -- options ------------------------------------------------------------------------------


def test_expires_as_a_datetime(claimed: Claimed) -> None:
    when = tcmodel.from_now("2 days")
    claimed.upload("public/a.bin", b"a", expires=when)
    assert abs((claimed.artifact("public/a.bin").expires - when).total_seconds()) < 0.001


def test_progress_is_told_the_bytes_sent(claimed: Claimed) -> None:
    seen: list[tuple[int, int | None]] = []
    claimed.upload("public/data.bin", DATA, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 3


@pytest.mark.parametrize("storage_type", ["reference", "link", "error", "OBJECT"])
def test_only_data_storage_types_are_uploaded(claimed: Claimed, storage_type: str) -> None:
    with pytest.raises(ValueError, match="storage_type"):
        claimed.upload("public/x", b"x", storage_type=storage_type)
    assert claimed.lc.requests == []


def test_a_source_of_another_type_is_refused_before_any_request(claimed: Claimed) -> None:
    with pytest.raises(TypeError, match="source must be"):
        claimed.upload("public/x", 42)  # type: ignore[arg-type]
    assert claimed.lc.requests == []


def test_an_expiry_after_the_task_s_is_refused(claimed: Claimed) -> None:
    expires = claimed.admin.task(claimed.task_id).definition.expires
    assert expires is not None
    too_late = expires + timedelta(days=1)
    claimed.lc.reset_requests()
    with pytest.raises(tcmodel.InputError, match="may not outlive its task"):
        claimed.upload("public/x", b"x", expires=too_late)
    assert claimed.entries() == ["createArtifact"]


# -- async --------------------------------------------------------------------------------


@pytest.mark.parametrize("storage_type", ["object", "s3"])
def test_the_async_driver_runs_the_same_operation(
    claimed: Claimed, tmp_path: Path, storage_type: str
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    t = claimed.transport

    async def upload() -> None:
        await t.arun(
            upload_op(
                t,
                claimed.task_id,
                0,
                "public/a.bin",
                path,
                expires="1 day",
                storage_type=storage_type,
            )
        )
        await t.arun(
            link_op(t, claimed.task_id, 0, "public/b.bin", "public/a.bin", expires="1 day")
        )

    asyncio.run(upload())
    assert claimed.artifact("public/a.bin").read_bytes() == DATA
    assert claimed.artifact("public/b.bin").read_bytes() == DATA


# -- artifacts without data ---------------------------------------------------------------


def test_reference_link_and_error(claimed: Claimed) -> None:
    t, task_id = claimed.transport, claimed.task_id
    claimed.upload("public/target.txt", "target")
    t.run(reference_op(t, task_id, 0, "public/docs.html", "https://example.com/d", expires="1 day"))
    t.run(
        reference_op(
            t,
            task_id,
            0,
            "public/raw",
            "https://example.com/r",
            content_type="text/csv",
            expires="1 day",
        )
    )
    t.run(link_op(t, task_id, 0, "public/latest.txt", "public/target.txt", expires="1 day"))
    t.run(
        error_op(
            t,
            task_id,
            0,
            "public/shot.png",
            "file-missing-on-worker",
            "no display",
            expires="1 day",
        )
    )
    assert claimed.entries()[-4:] == ["createArtifact"] * 4
    ref = claimed.artifact("public/docs.html")
    assert (ref.storage_type, ref.content_type) == ("reference", "text/html; charset=utf-8")
    assert claimed.artifact("public/raw").content_type == "text/csv"
    link = claimed.artifact("public/latest.txt")
    assert link.storage_type == "link" and link.read_text() == "target"
    err = claimed.artifact("public/shot.png")
    assert err.storage_type == "error"
    with pytest.raises(tcmodel.ArtifactError) as info:
        err.read_bytes()
    assert (info.value.reason, info.value.message) == ("file-missing-on-worker", "no display")


# -- memory -------------------------------------------------------------------------------

_MEASURE = """
import json, os, sys, tracemalloc
from pathlib import Path
import tcmodel
from tcmodel.upload import upload_op

root_url, task_id, path = sys.argv[1:4]
raw = json.loads(os.environ["UPLOAD_CREDENTIALS"])
creds = tcmodel.Credentials(raw["clientId"], raw["accessToken"], raw.get("certificate"))
with tcmodel.Cluster.from_url(root_url, creds) as cluster:
    t = cluster.transport
    t.run(upload_op(t, task_id, 0, "public/warm-up.bin", b"warm up", expires="1 day"))
    tracemalloc.start()
    t.run(upload_op(t, task_id, 0, "public/big.bin", Path(path), expires="1 day"))
    _, peak = tracemalloc.get_traced_memory()
print(json.dumps({"peak": peak}))
"""


def test_a_big_upload_takes_bounded_memory(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, tmp_path: Path
) -> None:
    size = 50 * MIB
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        for i in range(50):
            f.write(bytes([i]) * MIB)
    task = admin.create_task(task_queue_id="proj/up", payload={}, name="big")
    with Worker(tc_cluster, "proj/up") as worker:
        creds = worker.claim_task(task.task_id).credentials
        raw = {"clientId": creds.client_id, "accessToken": creds.access_token}
        if creds.certificate:
            raw["certificate"] = creds.certificate
        # The upload runs in a child process: the cluster (which keeps the
        # data it receives) stays out of what tracemalloc counts.
        child = subprocess.run(
            [sys.executable, "-c", _MEASURE, tc_cluster.root_url, task.task_id, str(path)],
            env={**os.environ, "UPLOAD_CREDENTIALS": json.dumps(raw)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    peak = json.loads(child.stdout.strip().splitlines()[-1])["peak"]
    assert peak < 8 * MIB, f"an upload of {size // MIB} MiB took {peak / MIB:.1f} MiB"
    art = Artifact(admin, task.task_id, 0, "public/big.bin")
    assert art.content_length == size
    data = art.read_bytes()  # hashes checked
    assert len(data) == size and data[-1] == 49
