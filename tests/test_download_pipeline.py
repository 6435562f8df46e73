"""Big downloads hash and write on worker threads (tcmodel._pipeline): the
data, the verification gating the rename, restarts and errors are the same
as on the caller's thread, and no worker outlives its download. Real
sockets on 127.0.0.1 (the local cluster)."""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import tcmodel
from tcmodel._pipeline import INLINE, Pipeline, write_all
from tcmodel.download import ContentChanged
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name, s3_key
from tcmodel.testing.state import Blob
from tcmodel.testing.worker import Worker

_rng = random.Random(12)
BIG = _rng.randbytes(INLINE + (3 << 20))  # past the inline part: workers start
NEW = _rng.randbytes(len(BIG))
CUT = INLINE + (1 << 20)  # bytes sent before a cut, once the workers run


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tcmodel-pipeline"]


@attrs.define
class Big:
    lc: LocalCluster
    cluster: tcmodel.Cluster
    task_id: str

    def art(self, name: str) -> Artifact:
        return self.cluster.task(self.task_id).run(0).artifact(name)

    def replace(self, key: str, data: bytes) -> None:
        blob = self.lc.state.blobs.get(key)
        assert blob is not None
        self.lc.state.blobs.put(key, Blob(data, blob.content_type))


@pytest.fixture
def big(tc_cluster: LocalCluster) -> Iterator[Big]:
    with tc_cluster.connect() as cluster:
        task = cluster.create_task(task_queue_id="proj/ci", payload={}, name="big")
        with Worker(tc_cluster) as worker:
            run = worker.claim_task(task.task_id)
            run.upload("public/big.bin", BIG)  # object
            run.upload("public/big-s3.bin", BIG, storage_type="s3")
            run.complete()
        yield Big(tc_cluster, cluster, task.task_id)
    assert _workers() == []  # every download stopped its workers


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", ["public/big.bin", "public/big-s3.bin"])
def test_a_big_download_is_whole_and_verified(
    big: Big, tmp_path: Path, mode: str, name: str
) -> None:
    target = tmp_path / "out.bin"
    art = big.art(name)
    if mode == "sync":
        art.download(target)
    else:
        asyncio.run(art.adownload(target))
    assert target.read_bytes() == BIG
    assert list(tmp_path.iterdir()) == [target]
    assert art.read_bytes() == BIG  # (a whole read hashes on a worker too)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_big_object_that_does_not_match_leaves_nothing(
    big: Big, tmp_path: Path, mode: str
) -> None:
    key = f"objects/{object_name(big.task_id, 0, 'public/big.bin')}"
    corrupt = bytearray(BIG)
    corrupt[-10] ^= 0xFF  # hashed by the worker, long after it started
    big.replace(key, bytes(corrupt))
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    art = big.art("public/big.bin")
    with pytest.raises(tcmodel.HashMismatch) as info:
        if mode == "sync":
            art.download(target)
        else:
            asyncio.run(art.adownload(target))
    assert info.value.algorithm == "sha512"
    assert target.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_changed_data_past_the_inline_part_restarts_the_file(
    big: Big, tmp_path: Path, mode: str
) -> None:
    """Cut once the writer runs; the data changes meanwhile: the resume is
    refused (If-Range), the file is emptied (after the writer has written
    what it had) and holds the new data alone."""
    key = s3_key(big.task_id, 0, "public/big-s3.bin")
    big.lc.inject("truncate", origin="blob", keep=CUT)
    changed: list[bool] = []

    def progress(done: int, total: int | None) -> None:
        if done > INLINE and not changed:
            changed.append(True)
            big.replace(key, NEW)

    target = tmp_path / "out.bin"
    art = big.art("public/big-s3.bin")
    if mode == "sync":
        art.download(target, progress=progress)
    else:
        asyncio.run(art.adownload(target, progress=progress))
    assert changed and target.read_bytes() == NEW
    assert [(r.origin, r.status) for r in big.lc.requests if r.origin == "blob"][-2:] == [
        ("blob", 200),
        ("blob", 200),
    ]


def test_iter_bytes_of_changed_big_data_raises_content_changed(big: Big) -> None:
    """Without a restart, the new answer's start is checked against the
    sha256 (kept by a worker) of what was handed on."""
    key = s3_key(big.task_id, 0, "public/big-s3.bin")
    big.lc.inject("truncate", origin="blob", keep=CUT)
    got = bytearray()
    with pytest.raises(ContentChanged):
        for chunk in big.art("public/big-s3.bin").iter_bytes():
            if len(got) <= INLINE < len(got) + len(chunk):
                big.replace(key, NEW)
            got += chunk
    assert len(got) > INLINE and BIG.startswith(got) and len(got) <= CUT


def test_an_error_of_the_worker_reaches_the_caller() -> None:
    def work(pieces: list[bytes]) -> None:
        raise OSError(28, "No space left on device")

    full = pytest.raises(OSError, match="No space left")  # untyped ok: the test's own work's
    with Pipeline(work, batch=1, inline=0) as pipe, full:
        for _ in range(100):
            pipe.add(b"x")
        pipe.drain()
    assert _workers() == []


def test_close_drops_what_waits_and_stops_the_worker() -> None:
    done: list[bytes] = []
    release, tick = threading.Event(), threading.Event()

    def work(pieces: list[bytes]) -> None:
        release.wait(5)
        done.extend(pieces)

    pipe = Pipeline(work, batch=1, inline=0, depth=2)
    for piece in (b"a", b"b", b"c"):  # "a" under way (it waits), "b" and "c" wait
        pipe.add(piece)
    closer = threading.Thread(target=pipe.close)
    closer.start()
    while not pipe._stopping:  # close() has begun
        tick.wait(0.001)
    release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert _workers() == [] and done == [b"a"]  # the batch under way, then nothing
    pipe.close()  # idempotent


def test_without_a_free_worker_the_work_is_done_inline() -> None:
    """Worker threads are bounded over every pipeline (hundreds of
    concurrent downloads do not make hundreds of threads)."""
    limit = max(4, 2 * (os.cpu_count() or 1))
    threads: list[str] = []
    gate = threading.Event()

    def work(pieces: list[bytes]) -> None:
        threads.append(threading.current_thread().name)
        gate.wait(5)

    pipes = [Pipeline(work, batch=1, inline=0) for _ in range(limit + 2)]
    try:
        for pipe in pipes[:limit]:
            pipe.add(b"x")
        gate.set()  # (the extra pipelines work inline: they must not wait)
        for pipe in pipes[limit:]:
            pipe.add(b"x")
        for pipe in pipes:
            pipe.drain()
    finally:
        for pipe in pipes:
            pipe.close()
    assert threads.count(threading.current_thread().name) == 2
    assert threads.count("tcmodel-pipeline") == limit
    assert _workers() == []


def test_write_all_writes_every_piece_in_order(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    pieces = [_rng.randbytes(n) for n in (0, 1, 65536, 3, 200_000)]
    with path.open("wb", buffering=0) as f:
        write_all(f, pieces)
        write_all(f, [b"end"])
    assert path.read_bytes() == b"".join(pieces) + b"end"
