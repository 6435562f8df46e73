"""Fault suite, downloads: resumes that never splice changed data, resumes
after a presigned URL or download credentials expired, typed refusals from the
storage, and what a download leaves on disk (folders, long names, fsync,
permissions). Real sockets on 127.0.0.1: the local cluster (its blob origin
answers like S3: ETag, Last-Modified, ``If-Range``) and a scripted origin for
answers it never gives."""

from __future__ import annotations

import asyncio
import os
import random
import stat
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest
from httpstub import serving

import tcmodel
from tcmodel.download import ContentChanged, DownloadError, StorageRefused
from tcmodel.errors import MalformedAnswer
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import s3_key
from tcmodel.testing.state import Blob
from tcmodel.testing.worker import Worker

_rng = random.Random(8)
DATA = _rng.randbytes(600_000)  # several 64 KiB reads, so a cut leaves data behind
NEW = _rng.randbytes(len(DATA))  # the same length, other bytes
LONGER = _rng.randbytes(len(DATA) + 10)
CUT = 200_000  # bytes sent before the connection is cut
LONG_NAME = "n" * 246 + ".bin"  # a 250-character basename (NAME_MAX is 255)


# -- a scripted origin, for answers the local cluster never gives ---------------------


@attrs.frozen
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    keep: int | None = None  # send only this many body bytes, then close
    drip: float = 0.0  # seconds between 100-byte pieces of the body
    ranged: bool = False  # answer a Range with a 206 of the rest


@attrs.frozen
class Seen:
    path: str
    range: str | None
    if_range: str | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Origin

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        srv = self.server
        srv.seen.append(Seen(self.path, self.headers.get("Range"), self.headers.get("If-Range")))
        script = srv.scripts.get(self.path, [])
        answer = _ranged(script.pop(0), self.headers.get("Range")) if script else _UNSCRIPTED
        self.send_response(answer.status)
        for k, v in answer.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(answer.body)))
        if answer.keep is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        body = answer.body[: answer.keep]
        step = 100 if answer.drip else len(body) or 1
        try:
            for at in range(0, len(body), step):
                self.wfile.write(body[at : at + step])
                time.sleep(answer.drip)
        except OSError:  # the client gave up
            self.close_connection = True


_UNSCRIPTED = Answer(404, b"unscripted")


def _ranged(answer: Answer, wanted: str | None) -> Answer:
    """A ``ranged`` answer to ``Range: bytes=N-``: the 206 of the rest."""
    if not answer.ranged or not wanted:
        return answer
    first = int(wanted.removeprefix("bytes=").rstrip("-"))
    size = len(answer.body)
    headers = {**answer.headers, "Content-Range": f"bytes {first}-{size - 1}/{size}"}
    return Answer(206, answer.body[first:], headers)


class _Origin(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients hang up on dripping answers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []
        self.scripts: dict[str, list[Answer]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _cut(body: bytes, **headers: str) -> Answer:
    """A 200 that stops after CUT bytes."""
    return Answer(200, body, headers, keep=CUT)


def _rest(body: bytes, total: int, **headers: str) -> Answer:
    """A 206 with ``body`` from CUT on, claiming ``total`` bytes in all."""
    content_range = f"bytes {CUT}-{len(body) - 1}/{total}"
    return Answer(206, body[CUT:], {"Content-Range": content_range, **headers})


# -- a cluster with artifacts of every kind ---------------------------------------------

REFERENCES = ("/1", "/2", "/3", "/4")


@attrs.define
class World:
    lc: LocalCluster
    cluster: tcmodel.Cluster
    task_id: str
    origin: _Origin

    def art(self, name: str) -> Artifact:
        return self.cluster.task(self.task_id).run(0).artifact(name)

    def trail(self) -> list[tuple[str, str | None, int]]:
        """(origin, API entry, status) of every request since the last reset."""
        return [(r.origin, r.entry, r.status) for r in self.lc.requests]

    def replace_s3(self, name: str, data: bytes) -> None:
        key = s3_key(self.task_id, 0, name)
        blob = self.lc.state.blobs.get(key)
        assert blob is not None
        self.lc.state.blobs.put(key, Blob(data, blob.content_type))

    def on_first_data(self, action: Callable[[], None]) -> Callable[[int, int | None], None]:
        """A progress callback that runs ``action`` once, when data first came."""
        done: list[bool] = []

        def progress(received: int, total: int | None) -> None:
            if received and not done:
                done.append(True)
                action()

        return progress

    def download_cut(self, name: str, target: Path, mode: str, action: Callable[[], None]) -> None:
        """Download ``name`` to ``target`` (``mode``: sync or async), its
        blob cut after ``CUT`` bytes, running ``action`` when data first came."""
        self.lc.inject("truncate", origin="blob", keep=CUT)
        progress = self.on_first_data(action)
        art = self.art(name)
        if mode == "sync":
            art.download(target, progress=progress)
        else:
            asyncio.run(art.adownload(target, progress=progress))


@pytest.fixture
def world(tc_cluster: LocalCluster) -> Iterator[World]:
    origin = _Origin()
    with serving(origin), tc_cluster.connect() as cluster:
        task = cluster.create_task(task_queue_id="proj/ci", payload={}, name="faults")
        with Worker(tc_cluster) as worker:
            run = worker.claim_task(task.task_id)
            run.upload("public/s3.bin", DATA, storage_type="s3")
            run.upload("private/s3.bin", DATA, storage_type="s3")
            run.upload("public/object.bin", DATA)
            run.upload(f"public/{LONG_NAME}", b"long", storage_type="s3")
            run.upload("public/small.txt", b"small\n", storage_type="s3")
            run.error("public/shot.png", "file-missing-on-worker", "no display attached")
            for path in REFERENCES:
                run.reference(f"public/ext{path}", origin.url + path)
            run.reference("public/ext/bad-url", "http://[::1")
            run.reference("public/ext/ftp", "ftp://127.0.0.1/x")
            run.complete()
        tc_cluster.reset_requests()
        yield World(tc_cluster, cluster, task.task_id, origin)


BLOB = "blob"
API = "api"


# -- item 2: content that changes between the cut and the resume --------------------------


def test_a_resume_of_unchanged_data_sends_if_range_and_gets_a_206(world: World) -> None:
    world.lc.inject("truncate", origin="blob", keep=CUT)
    assert world.art("public/s3.bin").read_bytes() == DATA
    assert world.trail() == [(API, "artifact", 200), (BLOB, None, 200), (BLOB, None, 206)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_changed_data_restarts_a_file_download(world: World, tmp_path: Path, mode: str) -> None:
    target = tmp_path / "out.bin"
    world.download_cut(
        "public/s3.bin", target, mode, lambda: world.replace_s3("public/s3.bin", NEW)
    )
    assert target.read_bytes() == NEW  # never DATA[:CUT] + NEW[CUT:]
    # If-Range no longer holds: the whole new body, which replaced what was written
    assert world.trail() == [(API, "artifact", 200), (BLOB, None, 200), (BLOB, None, 200)]
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def _honest(path: str, origin: _Origin, new: bytes) -> None:
    """Script ``path``: DATA (ETag v1) cut short, then, the data having
    changed, the whole of ``new`` (ETag v2) to the ``If-Range: "v1"``."""
    origin.scripts[path] = [_cut(DATA, ETag='"v1"'), Answer(200, new, {"ETag": '"v2"'})]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_changed_data_restarts_a_whole_read(world: World, mode: str) -> None:
    _honest("/1", world.origin, NEW)
    art = world.art("public/ext/1")
    data = art.read_bytes() if mode == "sync" else asyncio.run(art.aread_bytes())
    assert data == NEW
    assert [(s.range, s.if_range) for s in world.origin.seen] == [
        (None, None),
        (f"bytes={CUT}-", '"v1"'),
    ]


def test_changed_data_under_iter_bytes_raises_content_changed(world: World) -> None:
    """What iter_bytes handed on cannot be taken back: the new answer's
    start is checked against it, and differs."""
    world.lc.inject("truncate", origin="blob", keep=CUT)
    chunks = world.art("public/s3.bin").iter_bytes()
    got = next(chunks)
    world.replace_s3("public/s3.bin", NEW)
    with pytest.raises(ContentChanged, match=r"queue\.artifact\(taskId=.*changed"):
        for chunk in chunks:
            got += chunk
    assert DATA.startswith(got) and len(got) <= CUT  # nothing of NEW was handed on
    assert world.trail() == [(API, "artifact", 200), (BLOB, None, 200), (BLOB, None, 200)]


def test_iter_bytes_goes_on_when_the_new_data_starts_the_same(world: World) -> None:
    """A full answer whose start is what was handed on continues it."""
    world.lc.inject("truncate", origin="blob", keep=CUT)
    chunks = world.art("public/s3.bin").iter_bytes()
    got = next(chunks)
    same_start = DATA[:CUT] + NEW[CUT:]
    world.replace_s3("public/s3.bin", same_start)
    assert got + b"".join(chunks) == same_start


def test_a_shorter_new_body_under_iter_bytes_is_content_changed(world: World) -> None:
    world.origin.scripts["/1"] = [_cut(DATA, ETag='"v1"'), Answer(200, DATA[:1000])]
    with pytest.raises(ContentChanged):
        b"".join(world.art("public/ext/1").iter_bytes())


def test_a_206_contradicting_the_etag_is_not_spliced(world: World, tmp_path: Path) -> None:
    """A server that ignores If-Range and answers 206 from new data (another
    ETag): refused; the whole body is asked for and replaces what came."""
    world.origin.scripts["/1"] = [
        _cut(DATA, ETag='"v1"'),
        _rest(NEW, len(NEW), ETag='"v2"'),
        Answer(200, NEW, {"ETag": '"v2"'}),
    ]
    assert world.art("public/ext/1").download(tmp_path / "x").read_bytes() == NEW
    assert [(s.range, s.if_range) for s in world.origin.seen] == [
        (None, None),
        (f"bytes={CUT}-", '"v1"'),
        (None, None),
    ]


def test_a_206_of_another_total_length_is_not_spliced(world: World) -> None:
    """No validators at all: the total length must still agree."""
    world.origin.scripts["/1"] = [
        _cut(DATA),
        _rest(LONGER, len(LONGER)),
        Answer(200, LONGER),
    ]
    assert world.art("public/ext/1").read_bytes() == LONGER
    assert [s.range is not None for s in world.origin.seen] == [False, True, False]


def test_a_206_with_another_encoding_is_not_spliced(world: World) -> None:
    world.origin.scripts["/1"] = [
        _cut(DATA, ETag='"v1"'),
        _rest(DATA, len(DATA), ETag='"v1"', **{"Content-Encoding": "gzip"}),
        Answer(200, DATA, {"ETag": '"v1"'}),
    ]
    assert world.art("public/ext/1").read_bytes() == DATA
    assert len(world.origin.seen) == 3


def test_if_range_uses_last_modified_when_the_etag_is_weak(world: World) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    world.origin.scripts["/1"] = [
        _cut(DATA, ETag='W/"weak"', **{"Last-Modified": date}),
        _rest(DATA, len(DATA), **{"Last-Modified": date}),
    ]
    assert world.art("public/ext/1").read_bytes() == DATA
    assert [s.if_range for s in world.origin.seen] == [None, date]


def test_the_local_blob_origin_honours_if_range(world: World) -> None:
    """As S3 does: a Range applies only while If-Range holds."""
    import httpx

    url = world.lc.state.blobs.url(s3_key(world.task_id, 0, "public/s3.bin"))
    whole = httpx.get(url)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    for validator, status in [(etag, 206), (modified, 206), ('"other"', 200), ("W/" + etag, 200)]:
        answer = httpx.get(url, headers={"Range": "bytes=10-", "If-Range": validator})
        assert answer.status_code == status, validator
        assert answer.content == (DATA[10:] if status == 206 else DATA)


# -- item 12 (downloads): each attempt has a total deadline ----------------------------------

DRIPPED = DATA[:3000]


def _dripping(seconds: float) -> Answer:
    """DRIPPED, 100 bytes every ``seconds``, whatever Range asks."""
    return Answer(200, DRIPPED, {"ETag": '"d"'}, drip=seconds)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_dripping_attempt_is_cut_at_its_deadline_and_resumed(world: World, mode: str) -> None:
    world.origin.scripts["/2"] = [_dripping(0.05), Answer(200, DRIPPED, ranged=True)]
    with world.lc.connect(download_deadline=0.5) as impatient:
        art = impatient.task(world.task_id).run(0).artifact("public/ext/2")
        data = art.read_bytes() if mode == "sync" else asyncio.run(art.aread_bytes())
    assert data == DRIPPED
    first, second = world.origin.seen
    assert first.range is None and second.range is not None and second.if_range == '"d"'
    # the first attempt was cut at its deadline, part way through the 1.5 s drip
    assert 0 < int(second.range.removeprefix("bytes=").rstrip("-")) < len(DRIPPED)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_dripping_attempts_end_in_connection_failed(world: World, mode: str) -> None:
    world.origin.scripts["/2"] = [_dripping(0.2) for _ in range(3)]
    with world.lc.connect(download_deadline=0.3, max_retries=1) as impatient:
        art = impatient.task(world.task_id).run(0).artifact("public/ext/2")
        started = time.monotonic()
        with pytest.raises(tcmodel.ConnectionFailed, match=r"queue\.artifact\(taskId="):
            art.read_bytes() if mode == "sync" else asyncio.run(art.aread_bytes())
        took = time.monotonic() - started
    assert len(world.origin.seen) == 2 and took < 4.0  # not the 12 s of two whole drips


# -- item 7: expiry between the cut and the resume ------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_expired_presigned_url_is_renewed_by_the_queue(
    world: World, tmp_path: Path, mode: str
) -> None:
    """A private s3 artifact: the queue's URL is presigned for 30 minutes;
    the cluster clock jumps an hour between the cut and the resume."""
    target = tmp_path / "s3.bin"
    world.download_cut("private/s3.bin", target, mode, lambda: world.lc.advance(3600))
    assert target.read_bytes() == DATA
    assert world.trail() == [
        (API, "artifact", 200),
        (BLOB, None, 200),
        (BLOB, None, 403),  # the URL has expired
        (API, "artifact", 200),  # a fresh one
        (BLOB, None, 206),  # and the rest, with Range
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_expired_download_credentials_are_renewed_by_the_queue(
    world: World, tmp_path: Path, mode: str
) -> None:
    """An object artifact: the getUrl lasts a minute and the download
    credentials an hour; two hours pass between the cut and the resume."""
    target = tmp_path / "object.bin"
    world.download_cut("public/object.bin", target, mode, lambda: world.lc.advance(7200))
    assert target.read_bytes() == DATA
    assert world.trail() == [
        (API, "artifact", 200),
        (API, "startDownload", 200),
        (BLOB, None, 200),
        (API, "startDownload", 401),  # the credentials have expired
        (API, "artifact", 200),  # fresh ones
        (API, "startDownload", 200),
        (BLOB, None, 206),
    ]


def test_the_queue_is_asked_again_only_once_per_refusal(world: World, tmp_path: Path) -> None:
    world.lc.inject("truncate", origin="blob", keep=CUT)
    world.lc.inject("status", origin="blob", status=403, times=2, body=_S3_EXPIRED)
    with pytest.raises(StorageRefused):
        world.art("private/s3.bin").download(tmp_path / "x")
    assert world.trail() == [
        (API, "artifact", 200),
        (BLOB, None, 200),
        (BLOB, None, 403),
        (API, "artifact", 200),
        (BLOB, None, 403),  # refused fresh from the queue: given up
    ]
    assert list(tmp_path.iterdir()) == []


# -- item 17: a storage's refusal is not a Taskcluster scopes error -------------------------

_S3_EXPIRED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message><X-Amz-Expires>1800</X-Amz-Expires>"
    "<Expires>2024-01-01T00:30:00Z</Expires><ServerTime>2024-01-01T01:00:00Z</ServerTime>"
    "<RequestId>4NB0JZ9C5VAE</RequestId></Error>"
)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_expired_presigned_url_is_a_storage_refusal(world: World, mode: str) -> None:
    """The queue hands out a URL that has already expired (presigned for
    a negative time): a 403 from the bucket, fresh from the queue."""
    world.lc.settings.s3_presign_seconds = -60
    art = world.art("private/s3.bin")
    with pytest.raises(StorageRefused) as info:
        art.read_bytes() if mode == "sync" else asyncio.run(art.aread_bytes())
    err = info.value
    assert not isinstance(err, (tcmodel.InsufficientScopes, tcmodel.APIError))
    assert isinstance(err, DownloadError) and err.status == 403
    text = str(err)
    assert text.startswith(f"queue.artifact(taskId='{world.task_id}', runId=0, ")
    assert "AccessDenied: request has expired" in text and "refused" in text
    assert "X-Signature" not in text and "X-Signature" not in repr(err)
    assert err.url == world.lc.state.blobs.url(s3_key(world.task_id, 0, "private/s3.bin"))
    assert err.__context__ is None and err.__cause__ is None
    assert world.trail() == [(API, "artifact", 200), (BLOB, None, 403)]


def test_a_refusal_says_what_the_storage_said_but_no_signature(world: World) -> None:
    signature = "5f1c0ffee5ec7e7"
    body = (
        "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we "
        "calculated does not match</Message><StringToSign>AWS4-HMAC-SHA256</StringToSign>"
        f"<SignatureProvided>{signature}</SignatureProvided></Error>"
    )
    world.lc.inject("status", origin="blob", status=403, body=body, content_type="application/xml")
    with pytest.raises(StorageRefused) as info:
        world.art("public/s3.bin").read_bytes()
    assert "SignatureDoesNotMatch: The request signature we calculated" in str(info.value)
    assert signature not in str(info.value) and "StringToSign" not in str(info.value)


def test_an_html_401_from_a_storage_is_a_refusal(world: World) -> None:
    world.origin.scripts["/1"] = [Answer(401, b"<html><b>Login</b> required</html>")]
    with pytest.raises(StorageRefused, match=r"401 <html><b>Login</b> required</html>"):
        world.art("public/ext/1").read_bytes()
    assert len(world.origin.seen) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_error_artifact_says_its_reason_and_message(
    world: World, tmp_path: Path, mode: str
) -> None:
    art = world.art("public/shot.png")
    with pytest.raises(tcmodel.ArtifactError) as info:
        if mode == "sync":
            art.download(tmp_path)
        else:
            asyncio.run(art.adownload(tmp_path))
    text = str(info.value)
    assert "file-missing-on-worker" in text and "no display attached" in text
    assert text.startswith(f"queue.artifact(taskId='{world.task_id}'")
    assert info.value.reason == "file-missing-on-worker"
    assert list(tmp_path.iterdir()) == []


def test_unusable_urls_are_typed_and_not_retried(world: World) -> None:
    for name in ("public/ext/bad-url", "public/ext/ftp"):  # as the queue gives them
        with pytest.raises(MalformedAnswer, match=r"queue\.artifact\(.*unusable URL"):
            world.art(name).read_bytes()
    world.origin.scripts["/1"] = [Answer(302, headers={"Location": "http://[::1"})]
    with pytest.raises(MalformedAnswer, match="unusable URL"):
        world.art("public/ext/1").read_bytes()
    assert len(world.origin.seen) == 1  # not retried


# -- item 16: what a download leaves on disk ----------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_trailing_separator_names_a_folder(world: World, tmp_path: Path, mode: str) -> None:
    art = world.art("public/small.txt")
    folders = ["newdir" + os.sep, os.path.join("a", "b") + os.sep]
    wheres = [str(tmp_path) + os.sep + f for f in folders]  # (a Path drops the separator)

    async def adownload_all() -> list[Path]:
        return [await art.adownload(where) for where in wheres]

    paths = [art.download(w) for w in wheres] if mode == "sync" else asyncio.run(adownload_all())
    assert paths == [tmp_path / f / "small.txt" for f in folders]
    assert [p.read_bytes() for p in paths] == [b"small\n"] * 2
    # again into the same folder: the file in it is replaced, the folder stays one
    assert art.download(str(tmp_path / "newdir") + os.sep).read_bytes() == b"small\n"
    assert (tmp_path / "newdir").is_dir()
    assert [p.name for p in (tmp_path / "newdir").iterdir()] == ["small.txt"]


def test_a_trailing_separator_on_a_file_is_refused_before_any_request(
    world: World, tmp_path: Path
) -> None:
    (tmp_path / "plain").write_bytes(b"keep")
    with pytest.raises(ValueError, match="names a folder"):
        world.art("public/small.txt").download(str(tmp_path / "plain") + os.sep)
    assert world.lc.requests == [] and (tmp_path / "plain").read_bytes() == b"keep"


def test_a_long_basename_fits(world: World, tmp_path: Path) -> None:
    art = world.art(f"public/{LONG_NAME}")
    assert art.download(tmp_path).name == LONG_NAME
    assert (tmp_path / LONG_NAME).read_bytes() == b"long"
    name255 = "x" * 255
    assert art.download(tmp_path / name255).read_bytes() == b"long"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LONG_NAME, name255])


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name an fd")
def test_the_data_is_synced_before_the_rename_and_the_folder_after(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = world.art("public/small.txt").download(tmp_path / "small.txt")
    (replaced,) = [e for e in events if e[0] == "replace"]
    tmp = replaced[1]
    assert events == [("fsync", tmp), ("replace", tmp, str(target)), ("fsync", str(tmp_path))]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_a_replaced_file_keeps_its_mode(
    world: World, tmp_path: Path, umask: Callable[[int], None], mode: int
) -> None:
    umask(0o022)
    target = tmp_path / "secret.bin"
    target.write_bytes(b"old")
    target.chmod(mode)
    seen: list[int] = []

    def peek(received: int, total: int | None) -> None:
        seen.extend(_mode(p) for p in tmp_path.iterdir() if p != target)

    world.art("public/s3.bin").download(target, progress=peek)
    assert target.read_bytes() == DATA and _mode(target) == mode
    assert seen and set(seen) == {0o600}  # while it is written, only its owner reads it


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_umask_mode(
    world: World, tmp_path: Path, umask: Callable[[int], None], mask: int, expected: int
) -> None:
    umask(mask)
    assert _mode(world.art("public/small.txt").download(tmp_path / "new.txt")) == expected
