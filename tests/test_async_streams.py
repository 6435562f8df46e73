"""An artifact's content streamed chunk by chunk and line by line, through
the sync API (``iter_bytes``/``iter_lines``) and its async twins
(``aiter_bytes``/``aiter_lines``): the same data, the same requests, the same
resumption of a cut download (issue 11)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from drivers import Driver, driver

import tcmodel
from tcmodel.resources.artifact import Artifact, _Lines
from tcmodel.testing import LocalCluster

__all__ = ["driver"]  # the fixture, used by name

QUEUE = "proj/async-streams"
DATA = bytes(range(256)) * 1024  # 256 KiB: several chunks
# Every kind of line end, a multi-byte character, and no final line end.
TEXT = "first\r\nsecond\rthird é\n\nlast"
LINES = ["first", "second", "third é", "", "last"]


@pytest.fixture
def task_id(admin: tcmodel.Cluster) -> str:
    """A completed task with ``public/data.bin`` (s3) and ``public/log.txt``."""
    admin.create_task(task_queue_id=QUEUE, payload={}, name="streams")
    [claim] = admin.task_queue(QUEUE).claim_work("wg", "w1")
    with claim:
        claim.upload("public/data.bin", DATA, storage_type="s3")
        claim.upload("public/log.txt", TEXT.encode("utf-8"), content_type="text/plain")
        claim.completed()
    return claim.task_id


def artifact(cluster: tcmodel.Cluster, task_id: str, name: str) -> Artifact:
    return cluster.task(task_id).run(0).artifact(name)


def chunks(driver: Driver, art: Artifact) -> list[bytes]:
    return driver.list(art.aiter_bytes() if driver.is_async else art.iter_bytes())


def lines(driver: Driver, art: Artifact, **kw: Any) -> list[str]:
    return driver.list(art.aiter_lines(**kw) if driver.is_async else art.iter_lines(**kw))


def api(lc: LocalCluster) -> list[str | None]:
    return [r.entry for r in lc.requests if r.origin == "api"]


def test_bytes_arrive_in_chunks(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    art = artifact(admin, task_id, "public/data.bin")
    lc.reset_requests()
    got = chunks(driver, art)
    assert b"".join(got) == DATA and len(got) > 1
    assert api(lc) == ["artifact"]  # where the data is; then one download
    assert [r.status for r in lc.requests if r.origin == "blob"] == [200]


def test_lines_split_at_every_line_end(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    log = artifact(admin, task_id, "public/log.txt")
    assert lines(driver, log) == LINES == log.read_text().splitlines()
    assert lines(driver, log, encoding="ascii", errors="replace")[2] == "third \ufffd\ufffd"


def test_a_cut_download_resumes_under_the_stream(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    art = artifact(admin, task_id, "public/data.bin")
    lc.inject("truncate", origin="blob", keep=100_000, times=1)
    lc.reset_requests()
    assert b"".join(chunks(driver, art)) == DATA
    # The rest asked for from where the cut left it (a range: 206).
    assert [r.status for r in lc.requests if r.origin == "blob"] == [200, 206]


def test_a_download_cut_for_good_raises_from_the_stream(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    art = artifact(admin, task_id, "public/data.bin")
    lc.inject("truncate", origin="blob", keep=100, times=100)
    with pytest.raises(tcmodel.ConnectionFailed, match="cut short"):
        chunks(driver, art)


def test_leaving_the_async_stream_early_ends_the_download(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    if not driver.is_async:
        pytest.skip("the sync form is tests/test_artifacts.py's test_iter_bytes_can_stop_early")
    art = artifact(admin, task_id, "public/data.bin")

    async def first_then_whole() -> tuple[int, int]:
        stream: AsyncIterator[bytes] = art.aiter_bytes()
        async with contextlib.aclosing(stream) as opened:  # type: ignore[type-var]
            async for chunk in opened:
                first = len(chunk)
                break
        return first, len(await art.aread_bytes())  # the connection was handed back

    first, whole = driver.aio(first_then_whole)
    assert 0 < first < len(DATA) and whole == len(DATA)


@pytest.mark.parametrize(
    "pieces",
    [
        [TEXT.encode()],
        [bytes([b]) for b in TEXT.encode()],  # byte by byte: "\r" | "\n", "é" split
        [b"first\r", b"\nsecond\r", b"third \xc3", b"\xa9\n\nlast"],
    ],
    ids=["whole", "byte-by-byte", "split-line-ends"],
)
def test_lines_are_the_same_however_the_data_is_cut(pieces: list[bytes]) -> None:
    splitter = _Lines("utf-8", "strict")
    got = [line for piece in pieces for line in splitter.feed(piece)]
    assert got + splitter.feed(b"", final=True) == LINES


def test_no_data_is_no_line_and_a_final_line_end_adds_none() -> None:
    def split(data: bytes) -> list[str]:
        splitter = _Lines("utf-8", "strict")
        return splitter.feed(data) + splitter.feed(b"", final=True)

    assert split(b"") == [] and split(b"a\n") == ["a"] and split(b"a\n\n") == ["a", ""]
    assert split(b"a\r") == ["a"] and split(b"\r\n") == [""]


# -- as a file: open() and aopen() ---------------------------------------------------------


def read_pieces(driver: Driver, art: Artifact) -> tuple[bytes, bytes, bytes, bytes]:
    """``read(5)``, ``readline()``, ``read()``, ``read()`` on the open file."""
    if not driver.is_async:
        with art.open() as f:
            return f.read(5), f.readline(), f.read(), f.read()

    async def pieces() -> tuple[bytes, bytes, bytes, bytes]:
        async with art.aopen() as f:
            return await f.read(5), await f.readline(), await f.read(), await f.read()

    return driver.aio(pieces)


def file_lines(driver: Driver, art: Artifact) -> list[bytes]:
    if not driver.is_async:
        with art.open() as f:
            return list(f)

    async def lines() -> list[bytes]:
        async with art.aopen() as f:
            return [line async for line in f]

    return driver.aio(lines)


def test_the_file_reads_in_pieces(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    log = artifact(admin, task_id, "public/log.txt")
    assert read_pieces(driver, log) == (b"first", b"\r\n", TEXT.encode()[7:], b"")
    data = artifact(admin, task_id, "public/data.bin")
    head, line, rest, end = read_pieces(driver, data)
    assert head + line + rest == DATA and line.endswith(b"\n") and end == b""


def test_the_file_iterates_by_lines(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    lines = file_lines(driver, artifact(admin, task_id, "public/data.bin"))
    assert b"".join(lines) == DATA and len(lines) == DATA.count(b"\n") + 1
    assert all(line.endswith(b"\n") for line in lines[:-1])


def test_closing_the_async_file_early_ends_the_download(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    if not driver.is_async:
        pytest.skip("the sync form is the io.BufferedReader's")
    art = artifact(admin, task_id, "public/data.bin")

    async def main() -> tuple[bytes, bytes, int]:
        f = art.aopen()
        head = await f.read(3)
        await f.aclose()
        return head, await f.read(), len(await art.aread_bytes())

    assert driver.aio(main) == (DATA[:3], b"", len(DATA))
    assert repr(art.aopen()) == "<AsyncArtifactFile 'public/data.bin'>"


def test_a_download_cut_for_good_raises_from_the_files_read(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, task_id: str
) -> None:
    art = artifact(admin, task_id, "public/data.bin")
    lc.inject("truncate", origin="blob", keep=100, times=100)
    with pytest.raises(tcmodel.ConnectionFailed, match="cut short"):
        read_pieces(driver, art)
