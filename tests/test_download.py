"""The download operation: resuming, restarting, redirects, decoding and hash
checks, over real HTTP (LocalCluster faults and a small origin of our own)."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest
from httpstub import serving

import tcmodel
from tcmodel.download import (
    DownloadError,
    DownloadResult,
    read_artifact_op,
    strongest_hash,
    verify_hashes,
)
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name
from tcmodel.testing.state import Blob
from tcmodel.testing.worker import Worker
from tcmodel.transport import consume

_rng = random.Random(7)
# Text that gzip shrinks only somewhat, so a truncated gzip body stops mid-stream.
WORDS = [
    bytes(_rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=_rng.randint(2, 9))) for _ in range(4000)
]
DATA = b" ".join(_rng.choice(WORDS) for _ in range(120_000))  # about 700 KB
PACKED = gzip.compress(DATA, mtime=0)


# -- an origin of our own, for behaviour the LocalCluster does not show ------------


@attrs.define
class Seen:
    path: str
    range: str | None
    authorization: bool


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        srv = self.server
        srv.seen.append(Seen(self.path, self.headers.get("Range"), "Authorization" in self.headers))
        route = srv.routes.get(self.path.split("?")[0])
        if route is None:
            self._answer(404, b"no such thing")
            return
        route(self, len([s for s in srv.seen if s.path == self.path]))

    def _answer(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        keep: int | None = None,
    ) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if keep is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body if keep is None else body[:keep])


Route = Callable[[_Origin, int], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Origin)
        self.seen: list[Seen] = []
        self.routes: dict[str, Route] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _ignores_range(body: bytes, headers: dict[str, str]) -> Route:
    """The whole body every time (Range ignored), cut short the first time."""

    def route(h: _Origin, count: int) -> None:
        h._answer(200, body, headers, keep=len(body) // 3 if count == 1 else None)

    return route


def _wrong_range(h: _Origin, count: int) -> None:
    if count == 1:
        h._answer(200, DATA, keep=200_000)
    elif h.headers.get("Range"):
        h._answer(206, DATA[5:], {"Content-Range": f"bytes 5-{len(DATA) - 1}/{len(DATA)}"})
    else:
        h._answer(200, DATA)


def _hops(h: _Origin, count: int) -> None:
    left = int(h.path.rsplit("/", 1)[-1])
    if left == 0:
        h._answer(200, b"arrived")
    else:
        h._answer(302, b"", {"Location": str(left - 1)})  # relative to /hop/<n>


def _routes() -> dict[str, Route]:
    routes: dict[str, Route] = {
        "/full": _ignores_range(DATA, {"Content-Type": "application/octet-stream"}),
        "/full.gz": _ignores_range(PACKED, {"Content-Encoding": "gzip"}),
        "/wrong-range": _wrong_range,
        "/loop": lambda h, _: h._answer(302, b"", {"Location": "/loop"}),
        "/two-members": lambda h, _: h._answer(
            200, gzip.compress(b"first,") + gzip.compress(b"second"), {"Content-Encoding": "gzip"}
        ),
        "/raw-deflate": lambda h, _: h._answer(
            200, zlib.compress(DATA)[2:-4], {"Content-Encoding": "deflate"}
        ),
        "/zlib-deflate": lambda h, _: h._answer(
            200, zlib.compress(DATA), {"Content-Encoding": "deflate"}
        ),
        "/brotli": lambda h, _: h._answer(200, b"??", {"Content-Encoding": "br"}),
        "/short.gz": lambda h, _: h._answer(200, PACKED[:-20], {"Content-Encoding": "gzip"}),
    }
    routes.update({f"/hop/{n}": _hops for n in range(12)})
    return routes


@pytest.fixture
def origin() -> Iterator[_Server]:
    server = _Server()
    server.routes = _routes()
    with serving(server):
        yield server


# -- a cluster with artifacts -----------------------------------------------------------


@attrs.define
class Setup:
    lc: LocalCluster
    admin: tcmodel.Cluster
    task_id: str

    def art(self, name: str, cluster: tcmodel.Cluster | None = None) -> Artifact:
        return Artifact(cluster or self.admin, self.task_id, 0, name)

    def blob_statuses(self) -> list[int]:
        return [r.status for r in self.lc.requests if r.origin == "blob"]

    def entries(self, entry: str) -> int:
        return sum(1 for r in self.lc.requests if r.entry == entry)


@pytest.fixture
def setup(tc_cluster: LocalCluster, origin: _Server) -> Iterator[Setup]:
    lc = tc_cluster
    admin = tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials)
    task = admin.create_task(task_queue_id="proj/ci", payload={}, name="downloads")
    with Worker(lc) as worker:
        run = worker.claim_task(task.task_id)
        run.upload("public/data.bin", DATA)
        run.upload("public/data.txt", DATA, storage_type="s3", gzip=True)
        run.upload("public/plain.txt", DATA, storage_type="s3")
        for path in origin.routes:
            run.reference(f"public/ext{path}", origin.url + path)
        run.complete()
    lc.reset_requests()
    yield Setup(lc, admin, task.task_id)
    admin.close()


# -- resuming ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["public/data.bin", "public/data.txt", "public/plain.txt"])
def test_truncated_body_resumes_with_range(setup: Setup, name: str, tmp_path: Path) -> None:
    # more than one 64 KiB read, so some data arrives before the cut
    fault = setup.lc.inject("truncate", origin="blob", keep=200_000)
    out = setup.art(name).download(tmp_path / "out")
    assert fault.hits == 1
    assert out.read_bytes() == DATA
    assert setup.blob_statuses() == [200, 206]


def test_several_cuts_are_resumed(setup: Setup) -> None:
    setup.lc.inject("truncate", origin="blob", keep=70_000, times=3)
    assert setup.art("public/data.txt").read_bytes() == DATA
    assert setup.blob_statuses() == [200, 206, 206, 206]


def test_dropped_connection_is_retried(setup: Setup) -> None:
    setup.lc.inject("drop", origin="blob")
    assert setup.art("public/data.bin").read_bytes() == DATA
    assert setup.blob_statuses() == [0, 200]


def test_server_error_on_the_data_is_retried(setup: Setup) -> None:
    setup.lc.inject("status", origin="blob", status=503, body="<html>busy</html>")
    assert setup.art("public/plain.txt").read_bytes() == DATA
    assert setup.blob_statuses() == [503, 200]


def test_retries_run_out(setup: Setup, tmp_path: Path) -> None:
    impatient = tcmodel.Cluster.from_url(setup.lc.root_url, max_retries=2)
    setup.lc.inject("truncate", origin="blob", keep=1000, times=10)
    with pytest.raises(tcmodel.ConnectionFailed):
        setup.art("public/plain.txt", impatient).download(tmp_path / "x")
    # each cut attempt delivered its first 1000 bytes, so each retry resumes with Range
    assert setup.blob_statuses() == [200, 206, 206]
    assert list(tmp_path.iterdir()) == []
    impatient.close()


@pytest.mark.parametrize("path", ["/full", "/full.gz"])
def test_a_200_on_resume_starts_over_without_repeating_data(
    setup: Setup, origin: _Server, path: str
) -> None:
    seen: list[int] = []
    t = setup.admin.transport
    op = read_artifact_op(
        t, setup.task_id, 0, f"public/ext{path}", progress=lambda d, _: seen.append(d)
    )
    assert b"".join(t.stream(op)) == DATA
    assert seen == sorted(set(seen))  # still increasing across the restart
    ranges = [s.range for s in origin.seen]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert len(origin.seen) == 2
    assert not any(s.authorization for s in origin.seen)


def test_a_206_for_the_wrong_range_falls_back_to_the_whole_body(
    setup: Setup, origin: _Server
) -> None:
    assert setup.art("public/ext/wrong-range").read_bytes() == DATA
    assert [s.range is not None for s in origin.seen] == [False, True, False]


def test_expired_get_url_is_fetched_again(setup: Setup, tmp_path: Path) -> None:
    """The getUrl lapses mid-download (the cluster clock jumps past it):
    the resume is refused, so startDownload is called again."""
    setup.lc.inject("truncate", origin="blob", keep=200_000)
    jumped: list[bool] = []

    def jump(done: int, total: int | None) -> None:
        if done and not jumped:
            jumped.append(True)
            setup.lc.advance(300)

    path = setup.art("public/data.bin").download(tmp_path / "data.bin", progress=jump)
    assert path.read_bytes() == DATA
    assert setup.entries("startDownload") == 2
    assert setup.blob_statuses() == [200, 403, 206]


def test_get_url_past_its_expires_is_renewed_before_resuming(setup: Setup) -> None:
    """The cluster's clock runs 2 minutes behind ours, so the getUrl's
    ``expires`` (its now + 60 s) has passed by our clock when the resume
    comes: startDownload is called again before the blob is asked."""
    setup.lc.advance(-120)
    setup.lc.inject("truncate", origin="blob", keep=200_000)
    assert setup.art("public/data.bin").read_bytes() == DATA
    trail = [r.entry or r.status for r in setup.lc.requests]
    assert trail == ["artifact", "startDownload", 200, "startDownload", 206]


# -- hashes ----------------------------------------------------------------------------------


def test_hash_mismatch_leaves_nothing_behind(setup: Setup, tmp_path: Path) -> None:
    key = f"objects/{object_name(setup.task_id, 0, 'public/data.bin')}"
    blob = setup.lc.state.blobs.get(key)
    assert blob is not None
    corrupt = bytearray(blob.data)
    corrupt[1000] ^= 0xFF
    setup.lc.state.blobs.put(key, Blob(bytes(corrupt), blob.content_type))
    path = tmp_path / "data.bin"
    with pytest.raises(tcmodel.HashMismatch) as info:
        setup.art("public/data.bin").download(path)
    assert info.value.algorithm == "sha512"  # the strongest the service gives, checked alone
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert setup.blob_statuses() == [200]  # never retried
    path.write_bytes(b"previous")
    with pytest.raises(tcmodel.HashMismatch):
        setup.art("public/data.bin").download(tmp_path)
    assert path.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [path]


def test_only_the_strongest_hash_given_is_checked(setup: Setup, tmp_path: Path) -> None:
    """sha512 when the object service gives it (above); else sha256, and a
    mismatch of the one checked still raises and leaves no file."""
    name = object_name(setup.task_id, 0, "public/data.bin")
    hashes = setup.lc.state.objects._objects[name].hashes
    del hashes["sha512"]
    assert setup.art("public/data.bin").read_bytes() == DATA  # sha256 alone, and it matches
    hashes["sha256"] = "0" * 64
    path = tmp_path / "data.bin"
    with pytest.raises(tcmodel.HashMismatch) as info:
        setup.art("public/data.bin").download(path)
    assert info.value.algorithm == "sha256"
    assert list(tmp_path.iterdir()) == []
    assert strongest_hash({"sha256": "a", "sha512": "b"}) == "sha512"
    assert strongest_hash({"sha256": "a", "md5": "c"}) == "sha256"


def test_verify_hashes_rules() -> None:
    computed = {"sha256": "a" * 64, "sha512": "b" * 128}
    verify_hashes("x", computed, {"sha256": "a" * 64})
    verify_hashes("x", computed, {"sha512": "B" * 128, "md5": "whatever"})
    with pytest.raises(tcmodel.HashMismatch, match="sha512"):
        verify_hashes("x", computed, {"sha256": "a" * 64, "sha512": "c" * 128})
    with pytest.raises(tcmodel.HashMismatch):
        verify_hashes("x", computed, {})
    with pytest.raises(tcmodel.HashMismatch):
        verify_hashes("x", computed, {"md5": "d41d8cd98f00b204e9800998ecf8427e"})


# -- redirects and encodings ------------------------------------------------------------


def test_relative_redirects_are_followed(setup: Setup, origin: _Server) -> None:
    assert setup.art("public/ext/hop/3").read_bytes() == b"arrived"
    assert [s.path for s in origin.seen] == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]


def test_ten_redirects_are_followed_but_not_eleven(setup: Setup, origin: _Server) -> None:
    assert setup.art("public/ext/hop/10").read_bytes() == b"arrived"
    with pytest.raises(DownloadError, match="redirects"):
        setup.art("public/ext/hop/11").read_bytes()
    with pytest.raises(DownloadError, match="redirects"):
        setup.art("public/ext/loop").read_bytes()
    assert sum(1 for s in origin.seen if s.path == "/loop") == 11


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/two-members", b"first,second"),
        ("/raw-deflate", DATA),
        ("/zlib-deflate", DATA),
    ],
)
def test_content_encodings_are_undone(setup: Setup, path: str, expected: bytes) -> None:
    assert setup.art(f"public/ext{path}").read_bytes() == expected


@pytest.mark.parametrize("path", ["/brotli", "/short.gz"])
def test_undecodable_bodies_fail(setup: Setup, path: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError):
        setup.art(f"public/ext{path}").download(tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


# -- the operation itself ----------------------------------------------------------------


def test_the_operation_returns_what_it_read(setup: Setup) -> None:
    t = setup.admin.transport
    got: list[bytes] = []
    result = t.run(consume(read_artifact_op(t, setup.task_id, None, "public/data.txt"), got.append))
    assert result == DownloadResult("s3", "application/octet-stream", len(DATA))
    assert b"".join(got) == DATA
    assert all(len(c) <= 64 * 1024 for c in got)


def test_latest_object_download_by_key(setup: Setup) -> None:
    t = setup.admin.transport
    data = b"".join(t.stream(read_artifact_op(t, setup.task_id, None, "public/data.bin")))
    assert data == DATA
    assert [r.entry for r in setup.lc.requests] == ["latestArtifact", "startDownload", None]
