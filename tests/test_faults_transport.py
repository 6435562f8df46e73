"""Fault suite: the transport under faults on the wire, over real sockets.

Repeated continuation tokens (endless paging), bodies whose
``Content-Encoding`` lies, unparsable ``Retry-After``, servers that drip
their answer, oversized answers and redirects to nowhere: each ends as a
typed error naming the call (or is survived), in the sync and the async
driver alike.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from httpstub import DripServer, HTTPStub, Reply, error_body, serving

import tcmodel
from tcmodel.errors import (
    AnswerTooLarge,
    ConnectionFailed,
    MalformedAnswer,
    NotFound,
    PagingError,
    ServerError,
    TaskclusterError,
)
from tcmodel.testing import LocalCluster, Settings
from tcmodel.transport import Call, Op, ReadChunk, Send, Transport, parse_retry_after

CREDENTIALS = ("tcmodel/faults", "faults-access-token")
TASK_ID = "Dx4tPEtaRpeIeWpbTD0uHw"
OTHER_ID = "XDqefRsvTG6ajX5vWks8LQ"
GROUP_ID = "fN1SbArXTPSVFNUvaOlinQ"
STATUS_CALL = f"queue.status(taskId='{TASK_ID}')"


@pytest.fixture
def stub() -> Iterator[HTTPStub]:
    with HTTPStub() as s:
        yield s


@pytest.fixture(scope="module")
def lc() -> Iterator[LocalCluster]:
    with LocalCluster(settings=Settings(max_page_size=2)) as cluster:
        yield cluster


def _cluster(url: str, **kw: Any) -> tcmodel.Cluster:
    kw.setdefault("max_retries", 0)
    return tcmodel.Cluster.from_url(url, CREDENTIALS, **kw)


def _no_secret_in_chain(err: BaseException) -> None:
    """Nothing in the exception chain holds the Hawk header or the token."""
    seen: BaseException | None = err
    while seen is not None:
        text = f"{seen!r} {seen} {vars(seen)!r}"
        assert CREDENTIALS[1] not in text and "Hawk " not in text
        seen = seen.__cause__ or seen.__context__


# -- 1. endless paging ----------------------------------------------------------------


@pytest.fixture(scope="module")
def group_page(lc: LocalCluster) -> dict[str, Any]:
    """A real first page of a listTaskGroup of 3 tasks (2 per page)."""
    with lc.connect() as c:
        first = c.create_task(task_queue_id="proj/ci", payload={}, name="a")
        gid = first.definition.task_group_id
        for name in ("b", "c"):
            c.create_task(task_queue_id="proj/ci", payload={}, name=name, task_group_id=gid)
        page = c.transport.request("queue", "listTaskGroup", taskGroupId=gid)
    assert page.get("continuationToken") and len(page["tasks"]) == 2
    return page


def test_a_caching_proxy_that_repeats_a_page_ends_the_listing_with_a_paging_error(
    lc: LocalCluster, group_page: dict[str, Any]
) -> None:
    # The local cluster answers every listTaskGroup with the same first
    # page, as a proxy caching by path alone would.
    gid = group_page["taskGroupId"]
    lc.clear_faults()
    lc.inject(
        "status",
        status=200,
        body=json.dumps(group_page),
        content_type="application/json",
        entry="listTaskGroup",
        times=10,
    )
    lc.reset_requests()
    try:
        with lc.connect() as c, pytest.raises(PagingError) as info:
            list(c.task_group(gid).tasks())
    finally:
        lc.clear_faults()
    assert [r.entry for r in lc.requests] == ["listTaskGroup"] * 2
    err = info.value
    assert str(err).startswith(f"queue.listTaskGroup(taskGroupId='{gid}'): ")
    assert "came before" in str(err)


def test_a_repeated_token_stops_async_listings_too(
    stub: HTTPStub, group_page: dict[str, Any]
) -> None:
    gid = group_page["taskGroupId"]
    stub.script(Reply(200, group_page), Reply(200, group_page))

    async def walk() -> list[Any]:
        async with _cluster(stub.url) as c:
            return [t async for t in c.task_group(gid).tasks()]

    with pytest.raises(PagingError, match="would never end"):
        asyncio.run(walk())
    assert len(stub.requests) == 2
    token = group_page["continuationToken"]
    assert stub.requests[1].path.endswith(f"continuationToken={token}")


def test_a_token_cycle_is_caught_as_well(stub: HTTPStub, group_page: dict[str, Any]) -> None:
    gid = group_page["taskGroupId"]
    pages = [{**group_page, "continuationToken": t} for t in ("A", "B", "A")]
    stub.script(*(Reply(200, p) for p in pages))
    with _cluster(stub.url) as c, pytest.raises(PagingError):
        list(c.task_group(gid).tasks())
    assert len(stub.requests) == 3


def test_the_bulk_fill_stops_at_a_repeated_token(stub: HTTPStub) -> None:
    page = {"statuses": [], "continuationToken": "again"}
    stub.script(Reply(200, page), Reply(200, page))
    with _cluster(stub.url) as c, pytest.raises(PagingError) as info:
        c.tasks([TASK_ID, OTHER_ID])[0].status
    assert str(info.value).startswith("queue.statuses(): 200: the continuationToken 'again'")
    assert [r.path for r in stub.requests] == [
        "/api/queue/v1/tasks/status",
        "/api/queue/v1/tasks/status?continuationToken=again",
    ]


# -- 4. a Content-Encoding that lies ---------------------------------------------------

NOT_GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_an_undecodable_success_is_a_malformed_answer(stub: HTTPStub, driver: str) -> None:
    stub.script(Reply(200, b'{"status": {}}', NOT_GZIP))
    t = Transport(stub.url, CREDENTIALS, max_retries=3)
    op = t.call(Call.of("queue", "status", taskId=TASK_ID))
    with pytest.raises(MalformedAnswer) as info:
        t.run(op) if driver == "sync" else asyncio.run(t.arun(op))
    err = info.value
    assert str(err).startswith(f"{STATUS_CALL}: 200: its body could not be decoded")
    assert len(stub.requests) == 1  # the same answer would come again: not retried
    _no_secret_in_chain(err)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_an_undecodable_404_is_still_a_not_found(stub: HTTPStub, driver: str) -> None:
    body = json.dumps(error_body("ResourceNotFound", "no such task")).encode()
    stub.script(Reply(404, body, NOT_GZIP))
    t = Transport(stub.url, CREDENTIALS, max_retries=3)
    op = t.call(Call.of("queue", "status", taskId=TASK_ID))
    with pytest.raises(NotFound) as info:
        t.run(op) if driver == "sync" else asyncio.run(t.arun(op))
    assert str(info.value).startswith(f"{STATUS_CALL}: 404: (its body could not be decoded")
    assert len(stub.requests) == 1


def test_an_undecodable_503_is_retried_like_any_503(stub: HTTPStub) -> None:
    good = gzip.compress(json.dumps({"alive": True}).encode())
    stub.script(Reply(503, b"garbage", NOT_GZIP), Reply(200, good, NOT_GZIP))
    t = Transport(stub.url, CREDENTIALS, max_retries=1)
    assert t.request("queue", "ping") == {"alive": True}
    assert len(stub.requests) == 2


# -- 5. Retry-After that is no number ---------------------------------------------------


@pytest.mark.parametrize("value", ["²", "①", "٣", "soon", "Wed, 99 Foo 2024 99:99:99 GMT"])
def test_an_unparsable_retry_after_counts_as_absent(lc: LocalCluster, value: str) -> None:
    with lc.connect() as c:
        task = c.create_task(task_queue_id="proj/ci", payload={}, name="x")
        lc.inject("status", status=503, headers={"Retry-After": value}, entry="status")
        lc.reset_requests()
        assert task.refresh().state == "pending"
    assert [r.status for r in lc.requests] == [503, 200]
    assert parse_retry_after(value) is None


def test_an_unparsable_retry_after_on_429_counts_as_absent_too(stub: HTTPStub) -> None:
    stub.script(Reply(429, headers={"Retry-After": "²"}), Reply(200, {"alive": True}))
    t = Transport(stub.url, CREDENTIALS, max_retries=1)
    assert t.request("queue", "ping") == {"alive": True}
    assert len(stub.requests) == 2


# -- 12. a total deadline per attempt ------------------------------------------------


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_dripping_server_is_cut_off_at_the_deadline(driver: str) -> None:
    with serving(DripServer(gap=0.1)) as server:
        t = Transport(server.url, CREDENTIALS, max_retries=1, deadline=0.5)
        op = t.call(Call.of("queue", "ping"))
        started = time.monotonic()
        with pytest.raises(ConnectionFailed) as info:
            t.run(op) if driver == "sync" else asyncio.run(t.arun(op))
        took = time.monotonic() - started
    # two attempts of 0.5 s (and a short pause), not the 9 s the body takes
    assert 1.0 <= took < 5.0
    assert server.hits == 2
    assert (
        str(info.value)
        == "queue.ping(): connection failed: no complete answer within the deadline of 0.5s"
    )
    _no_secret_in_chain(info.value)


def test_the_async_driver_cuts_a_dripping_head_too() -> None:
    with serving(DripServer(gap=0.1, drip_head=True)) as server:
        t = Transport(server.url, CREDENTIALS, max_retries=0, deadline=0.5)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match=r"deadline of 0\.5s"):
            asyncio.run(t.arun(t.call(Call.of("queue", "ping"))))
        assert time.monotonic() - started < 1.5


def test_the_deadline_is_set_on_from_url_and_a_fast_answer_is_untouched() -> None:
    with serving(DripServer(gap=0.001)) as server:
        c = tcmodel.Cluster.from_url(server.url, deadline=5, download_deadline=60)
        assert (c.transport.deadline, c.transport.download_deadline) == (5.0, 60.0)
        assert c.ping()["alive"] is True
    with pytest.raises(ValueError, match="deadline must be a positive number"):
        Transport("https://tc.example.com", deadline=0)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_streamed_answer_keeps_its_attempt_deadline_across_chunks(driver: str) -> None:
    # What the downloads rely on: Send(stream=True, deadline=…) bounds the
    # whole attempt, every ReadChunk included.
    with serving(DripServer(gap=0.1)) as server:
        t = Transport(server.url, max_retries=0, deadline=60)

        def op() -> Op[tuple[bytes, str]]:
            request = httpx.Request("GET", server.url + "/blob")
            response = yield Send(request, stream=True, auth=None, deadline=0.5)
            got = b""
            try:
                while chunk := (yield ReadChunk(response)):
                    got += chunk
            except httpx.TimeoutException as exc:
                return got, str(exc)
            return got, "whole"

        started = time.monotonic()
        got, how = t.run(op()) if driver == "sync" else asyncio.run(t.arun(op()))
        assert time.monotonic() - started < 1.5
    assert how == "no complete answer within the deadline of 0.5s"
    assert 0 < len(got) < len(DripServer.BODY)


# -- 13. a cap on answer bodies -----------------------------------------------------


class _BigServer(ThreadingHTTPServer):
    """Answers with ``size`` bytes of JSON, chunked (no Content-Length, so
    only reading tells the size), counting what it managed to send."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, size: int, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Big)
        self.size = size
        self.status = status
        self.sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Big(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _BigServer
    CHUNK = b" " * 65536

    def do_GET(self) -> None:
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while self.server.sent < self.server.size:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(self.CHUNK), self.CHUNK))
                self.server.sent += len(self.CHUNK)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_an_oversized_answer_is_refused_while_memory_stays_flat(driver: str) -> None:
    with serving(_BigServer(size=128 * 1024 * 1024)) as server:
        t = Transport(server.url, max_retries=3, max_answer_bytes=1024 * 1024)
        op = t.call(Call.of("queue", "ping"))
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLarge) as info:
                t.run(op) if driver == "sync" else asyncio.run(t.arun(op))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        sent = server.sent
    assert str(info.value) == (
        "queue.ping(): 200: the answer (more than 1048576 bytes) is larger than 1048576 bytes"
    )
    assert peak < 8 * 1024 * 1024  # not the 128 MiB on offer
    assert sent < 32 * 1024 * 1024  # the client stopped reading early, and did not retry


def test_a_declared_oversized_answer_is_not_read_at_all(stub: HTTPStub) -> None:
    stub.script(Reply(200, b"[" + b"0," * 600_000 + b"0]", {"Content-Type": "application/json"}))
    t = Transport(stub.url, max_retries=3, max_answer_bytes=1_000_000)
    with pytest.raises(AnswerTooLarge, match=r"the answer \(1200003 bytes\) is larger"):
        t.run(t.call(Call.of("queue", "ping")))
    assert len(stub.requests) == 1


def test_an_oversized_error_answer_keeps_its_status(stub: HTTPStub) -> None:
    stub.script(Reply(404, b"x" * 2_000_000))
    t = Transport(stub.url, max_retries=3, max_answer_bytes=1_000_000)
    with pytest.raises(NotFound, match=r"^queue\.ping\(\): 404: \(the answer"):
        t.run(t.call(Call.of("queue", "ping")))


def test_the_default_cap_is_a_few_mib() -> None:
    assert Transport("https://tc.example.com").max_answer_bytes == 16 * 1024 * 1024
    with pytest.raises(ValueError, match="max_answer_bytes"):
        Transport("https://tc.example.com", max_answer_bytes=0)


# -- 17. a redirect to an unparsable Location ---------------------------------------


@pytest.mark.parametrize(
    "location", ["http://[::1", "javascript:alert(1)", "http://[::1]:99999/x", "http://u:p@h/x"]
)
@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_redirect_to_an_unusable_location_is_malformed_and_not_retried(
    stub: HTTPStub, location: str, driver: str
) -> None:
    stub.script(Reply(303, headers={"Location": location}))
    t = Transport(stub.url, CREDENTIALS, max_retries=5)
    call = Call.of("queue", "getArtifact", taskId=TASK_ID, runId=0, name="public/a")
    with pytest.raises(MalformedAnswer) as info:
        t.run(t.call(call)) if driver == "sync" else asyncio.run(t.arun(t.call(call)))
    assert str(info.value).startswith(f"{call}: 303: unusable URL")
    assert len(stub.requests) == 1
    assert "u:p" not in str(info.value)  # user info may hold a password: never shown


def test_a_usable_redirect_still_resolves(stub: HTTPStub) -> None:
    stub.script(Reply(303, headers={"Location": "/blobs/x?X-Amz-Signature=s3cret"}))
    t = Transport(stub.url, CREDENTIALS)
    call = Call.of("queue", "getArtifact", taskId=TASK_ID, runId=0, name="public/a")
    assert t.run(t.call(call)) == {"url": f"{stub.url}/blobs/x?X-Amz-Signature=s3cret"}


# -- typed errors only --------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}),
        Reply(200, b"[" * 50_000 + b"]" * 50_000, {"Content-Type": "application/json"}),
        Reply(200, b"1" * 5000, {"Content-Type": "application/json"}),
        Reply(200, b'{"a": 1}', {"Content-Type": "application/json", "Content-Encoding": "br"}),
        Reply(200, b"x", {"Content-Type": "application/json", "Content-Encoding": "zz"}),
        Reply(500, b"[" * 50_000, {"Content-Type": "application/json"}),
        Reply(302, headers={"Location": "\x7f"}),
    ],
)
def test_odd_answers_raise_nothing_but_typed_errors(stub: HTTPStub, answer: Reply) -> None:
    stub.script(answer)
    t = Transport(stub.url, CREDENTIALS, max_retries=0)
    try:
        t.run(t.call(Call.of("queue", "status", taskId=TASK_ID)))
    except TaskclusterError as err:
        assert str(err).startswith(STATUS_CALL)
        if isinstance(err, ServerError):
            assert err.status == 500
    assert len(stub.requests) == 1


def test_plain_text_is_the_answer_only_of_entries_without_an_output_schema(stub: HTTPStub) -> None:
    # notify answers "OK" as text/plain; the queue's status must be JSON.
    stub.script(Reply(200, body="OK"), Reply(200, body="OK"))
    with _cluster(stub.url) as cluster:
        email = {"address": "a@example.com", "subject": "s", "content": "c"}
        assert cluster.transport.request("notify", "email", body=email) == "OK"
        with pytest.raises(MalformedAnswer, match=r"queue\.status.*expected JSON"):
            cluster.transport.request("queue", "status", taskId=TASK_ID)
