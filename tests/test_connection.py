"""The async pool's HTTP/1.1 connection (:mod:`tcmodel._connection`) against
real servers on 127.0.0.1: small raw servers in the test's own event loop
that send exact bytes (framings, interim answers, cut or garbled answers,
silence, floods, slow readers, TLS), and the local cluster.

Requests go through the public path (``tcmodel._pool.async_client``, an
``httpx.AsyncClient`` on tcmodel's pool, or a :class:`tcmodel.Cluster`);
facts about one connection are read from the answers' ``network_stream``
extension, which is the :class:`AsyncioConnection` itself. The fallback to
httpcore's connections (no httptools; trio) is checked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import socket
import ssl
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpcore
import httpx
import pytest
import trio
import trustme

import tcmodel
import tcmodel._pool
from tcmodel._connection import HIGH_WATER, AsyncioConnection
from tcmodel._pool import async_client
from tcmodel.errors import ConnectionFailed
from tcmodel.testing import LocalCluster

T = TypeVar("T")
CREDENTIALS = ("tcmodel/connection", "connection-access-token")
TASK_ID = "Dx4tPEtaRpeIeWpbTD0uHw"
#: The most one socket read hands the protocol (asyncio's selector transports
#: read up to 256 KiB at once).
ONE_READ = 256 * 1024


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


def answer(
    body: bytes = b"", status: str = "200 OK", headers: tuple[str, ...] = (), length: bool = True
) -> bytes:
    """An HTTP/1.1 answer's exact bytes (with ``Content-Length`` unless ``length`` is false)."""
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Step:
    """What the scripted server does for one request: send ``data``, then
    keep the connection for more requests, close it, or hang (say nothing more)."""

    data: bytes
    then: Literal["keep", "close", "hang", "reset"] = "keep"


@dataclass
class Received:
    head: bytes
    body: bytes

    @property
    def line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


async def read_request(
    reader: asyncio.StreamReader, *, take: Callable[[int], Awaitable[bytes]] | None = None
) -> Received | None:
    """One request off ``reader`` (its body by ``Content-Length`` or
    chunked), ``None`` at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    received = Received(head, b"")
    if (received.header(b"transfer-encoding") or b"").lower() == b"chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            del body[-2:]
            if size == 0:
                break
        received.body = bytes(body)
    elif length := int(received.header(b"content-length") or 0):
        received.body = await (take or reader.readexactly)(length)
    return received


Handler = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """A raw HTTP/1.1 server on 127.0.0.1 in the running event loop: each
    connection is served by ``handler``; it counts the connections it accepts
    and records the requests handlers read with :meth:`next_request`."""

    handler: Handler
    tls: ssl.SSLContext | None = None
    accepted: int = 0
    requests: list[Received] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    async def next_request(self, reader: asyncio.StreamReader) -> Received | None:
        received = await read_request(reader)
        if received is not None:
            self.requests.append(received)
        return received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # (cancelled: the test is over)
        finally:
            writer.close()
            self._tasks.discard(task)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


def scripted(*steps: Step) -> Handler:
    """A handler answering the requests, whatever connection they come on,
    with ``steps`` in order (requests past them: the connection is closed)."""
    queue = list(steps)

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while queue and await server.next_request(reader) is not None:
            step = queue.pop(0)
            writer.write(step.data)
            await writer.drain()
            if step.then == "close":
                return
            if step.then == "reset":  # once the client has had the bytes: RST, not FIN
                await asyncio.sleep(0.05)
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if step.then == "hang":
                await asyncio.Event().wait()

    return handle


@contextlib.asynccontextmanager
async def client_of(
    *steps: Step, **options: Any
) -> AsyncIterator[tuple[RawServer, httpx.AsyncClient]]:
    async with RawServer(scripted(*steps)) as server, async_client(4, **options) as client:
        yield server, client


def stream_of(response: httpx.Response) -> Any:
    return response.extensions["network_stream"]


# -- 1. framings and reuse -------------------------------------------------------------


def test_content_length_chunked_and_eof_bodies_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;name=value\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )

    async def main() -> tuple[list[bytes], list[bool], int]:
        async with client_of(
            Step(answer(b"sized body")),
            Step(chunked),
            Step(answer(b"until the end", length=False), "close"),
            Step(answer(b"after")),
        ) as (server, client):
            got, reused = [], []
            first = None
            for _ in range(4):
                response = await client.get(server.url)
                got.append(response.content)
                first = first or stream_of(response)
                reused.append(stream_of(response) is first)
            return got, reused, server.accepted

    got, reused, accepted = run(main())
    assert got == [b"sized body", b"hello, world", b"until the end", b"after"]
    # the sized and chunked answers keep the connection; the EOF-delimited one ends it
    assert reused == [True, True, True, False]
    assert accepted == 2


def test_a_keep_alive_answer_reuses_the_connection_and_close_does_not() -> None:
    async def main() -> tuple[list[Any], int]:
        async with client_of(
            Step(answer(b"a")),
            Step(answer(b"b", headers=("Connection: close",)), "close"),
            Step(answer(b"c")),
            Step(answer(b"d")),
        ) as (server, client):
            streams = []
            for body in (b"a", b"b", b"c", b"d"):
                response = await client.get(server.url)
                assert response.content == body
                streams.append(stream_of(response))
            return streams, server.accepted

    streams, accepted = run(main())
    assert all(isinstance(s, AsyncioConnection) for s in streams)
    assert streams[0] is streams[1] and streams[1] is not streams[2]
    assert streams[2] is streams[3]
    assert accepted == 2


@pytest.mark.parametrize(
    ("first", "content"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold", b"old"),  # HTTP/1.0: not kept
        (answer(b"mine") + answer(b"extra"), b"mine"),  # two answers to one request
    ],
    ids=["http-1.0", "second-answer"],
)
def test_an_answer_read_whole_whose_connection_is_not_reused(first: bytes, content: bytes) -> None:
    async def main() -> tuple[bytes, bytes, int]:
        async with client_of(Step(first), Step(answer(b"new"))) as (server, client):
            one = await client.get(server.url)
            two = await client.get(server.url)
            assert stream_of(one) is not stream_of(two)
            return one.content, two.content, server.accepted

    assert run(main()) == (content, b"new", 2)


# -- 2. answers without a body, interim answers --------------------------------------------


def test_head_no_content_and_not_modified_have_no_body_and_keep_the_connection() -> None:
    async def main() -> tuple[list[tuple[int, bytes, str | None]], int, list[bytes]]:
        async with client_of(
            Step(answer(b"", headers=("Content-Length: 100",), length=False)),
            Step(answer(status="204 No Content", length=False)),
            Step(answer(status="304 Not Modified", headers=("ETag: x",), length=False)),
            Step(answer(b"last")),
        ) as (server, client):
            seen = []
            for method in ("HEAD", "GET", "GET", "GET"):
                # (a HEAD answer waiting for its 100 bytes would hang: fail fast instead)
                response = await asyncio.wait_for(client.request(method, server.url), 2)
                seen.append(
                    (response.status_code, response.content, response.headers.get("content-length"))
                )
            return seen, server.accepted, [r.line.split()[0] for r in server.requests]

    seen, accepted, methods = run(main())
    assert seen == [(200, b"", "100"), (204, b"", None), (304, b"", None), (200, b"last", "4")]
    assert methods == [b"HEAD", b"GET", b"GET", b"GET"]
    assert accepted == 1


def test_an_interim_100_continue_is_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"

    async def main() -> tuple[httpx.Response, int]:
        async with client_of(
            Step(interim + answer(b"real", "201 Created", ("X-Real: 1",))), Step(answer(b"next"))
        ) as (server, client):
            response = await client.post(server.url, content=b"data")
            assert (await client.get(server.url)).content == b"next"
            return response, server.accepted

    response, accepted = run(main())
    assert (response.status_code, response.reason_phrase, response.content) == (
        201,
        "Created",
        b"real",
    )
    assert response.headers.get("x-real") == "1" and "x-interim" not in response.headers
    assert accepted == 1


# -- 3. broken answers ---------------------------------------------------------------------


def test_a_body_cut_short_is_a_remote_protocol_error_and_the_connection_is_not_reused() -> None:
    async def main() -> tuple[httpx.Response, int]:
        async with client_of(Step(answer(b"0123456789")[:-4], "close"), Step(answer(b"whole"))) as (
            server,
            client,
        ):
            with pytest.raises(httpx.RemoteProtocolError, match="complete answer"):
                await client.get(server.url)
            return await client.get(server.url), server.accepted

    response, accepted = run(main())
    assert response.content == b"whole"
    assert accepted == 2


def test_a_body_that_ends_with_the_connection_is_cut_short_by_a_reset() -> None:
    async def main() -> tuple[int, str | None]:
        async with client_of(Step(answer(b"part", length=False), "reset")) as (server, client):
            async with client.stream("GET", server.url) as response:
                with pytest.raises(httpx.RemoteProtocolError, match="complete answer"):
                    await response.aread()
            return response.status_code, response.headers.get("content-length")

    assert run(main()) == (200, None)  # an answer with no length, its end never came


def test_a_body_cut_short_is_a_typed_error_through_a_cluster_call() -> None:
    status = {
        "status": {
            "taskId": TASK_ID,
            "provisionerId": "proj",
            "workerType": "ci",
            "taskQueueId": "proj/ci",
            "schedulerId": "-",
            "projectId": "none",
            "taskGroupId": TASK_ID,
            "deadline": "2030-01-01T00:00:00.000Z",
            "expires": "2031-01-01T00:00:00.000Z",
            "retriesLeft": 5,
            "state": "pending",
            "runs": [],
        }
    }
    whole = answer(json.dumps(status).encode(), headers=("Content-Type: application/json",))

    async def main() -> tuple[ConnectionFailed, str, int]:
        async with RawServer(scripted(Step(whole[:-10], "close"), Step(whole))) as server:
            async with tcmodel.Cluster.from_url(server.url, CREDENTIALS, max_retries=0) as c:
                with pytest.raises(ConnectionFailed) as info:
                    await c.task(TASK_ID).astatus()
                state = (await c.task(TASK_ID).astatus()).state
            return info.value, state, server.accepted

    err, state, accepted = run(main())
    assert str(err).startswith(f"queue.status(taskId='{TASK_ID}'): connection failed")
    assert CREDENTIALS[1] not in str(err)
    assert state == "pending"
    assert accepted == 2


def test_a_garbage_status_line_is_a_remote_protocol_error() -> None:
    async def main() -> int:
        async with client_of(Step(b"HTTX/1.1 2OO fine\r\n\r\n", "close"), Step(answer(b"ok"))) as (
            server,
            client,
        ):
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await client.get(server.url)
            assert (await client.get(server.url)).content == b"ok"
            return server.accepted

    assert run(main()) == 2


def test_an_idle_connection_the_server_closed_is_replaced_without_an_error() -> None:
    async def main() -> tuple[bool, bool, int]:
        async with client_of(Step(answer(b"one"), "close"), Step(answer(b"two"))) as (
            server,
            client,
        ):
            first = await client.get(server.url)
            stream = stream_of(first)
            for _ in range(100):  # until the client's loop has seen the server's FIN
                if not stream.is_idle():
                    break
                await asyncio.sleep(0.01)
            noticed = not stream.is_idle() and stream.has_expired()
            second = await client.get(server.url)
            assert (first.content, second.content) == (b"one", b"two")
            return noticed, stream_of(second) is stream, server.accepted

    noticed, same, accepted = run(main())
    assert noticed and not same
    assert accepted == 2


# -- 4. timeouts and refused connections -----------------------------------------------------


def test_silence_before_the_headers_is_a_read_timeout() -> None:
    async def main() -> tuple[bytes, int]:
        async with client_of(Step(b"", "hang"), Step(answer(b"later"))) as (server, client):
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url, timeout=httpx.Timeout(5.0, read=0.1))
            return (await client.get(server.url)).content, server.accepted

    assert run(main()) == (b"later", 2)


def test_silence_in_the_middle_of_a_body_is_a_read_timeout() -> None:
    async def main() -> tuple[bytes, int]:
        async with client_of(Step(answer(b"x" * 100)[:-50], "hang"), Step(answer(b"y"))) as (
            server,
            client,
        ):
            async with client.stream(
                "GET", server.url, timeout=httpx.Timeout(5.0, read=0.1)
            ) as response:
                assert response.status_code == 200
                with pytest.raises(httpx.ReadTimeout):
                    await response.aread()
            return (await client.get(server.url)).content, server.accepted

    assert run(main()) == (b"y", 2)


def test_a_closed_port_is_a_connect_error() -> None:
    async def main() -> None:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        async with async_client(2) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")

    run(main())


# -- 5. a large answer read slowly --------------------------------------------------------------


def test_a_large_answer_read_slowly_arrives_intact_with_bounded_buffering() -> None:
    body = random.Random(5).randbytes(8 * 1024 * 1024)

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.next_request(reader)
        w.write(answer(body))
        await w.drain()
        await server.next_request(reader)  # until the client closes

    async def main() -> tuple[str, int, bool, int]:
        digest = hashlib.sha256()
        most, paused, pieces = 0, False, 0
        async with (
            RawServer(handle) as server,
            async_client(2) as client,
            client.stream("GET", server.url) as response,
        ):
            exchange = stream_of(response)._exchange
            async for piece in response.aiter_raw():
                digest.update(piece)
                pieces += 1
                most = max(most, exchange.buffered)
                paused = paused or not exchange.transport.is_reading()
                if pieces % 8 == 0:
                    await asyncio.sleep(0.002)  # a slow reader: the socket fills meanwhile
        return digest.hexdigest(), most, paused, pieces

    got, most, paused, pieces = run(main())
    assert got == hashlib.sha256(body).hexdigest()
    assert most <= HIGH_WATER + ONE_READ
    assert paused  # the connection stopped reading while its buffer was full
    assert pieces > 8


# -- 6. request bodies --------------------------------------------------------------------------


def test_sized_and_streamed_request_bodies_arrive_byte_exact() -> None:
    sized = bytes(range(256)) * 41

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(5):
            yield b"piece %d;" % i
        yield b""
        yield b"\r\n0\r\n"  # looks like chunk framing: must arrive as data

    async def main() -> list[Received]:
        async with client_of(Step(answer(b"1")), Step(answer(b"2"))) as (server, client):
            assert (await client.post(server.url, content=sized)).content == b"1"
            assert (await client.post(server.url, content=pieces())).content == b"2"
            return server.requests

    first, second = run(main())
    assert first.body == sized and first.header(b"content-length") == str(len(sized)).encode()
    assert second.header(b"transfer-encoding") == b"chunked"
    assert second.body == b"".join(b"piece %d;" % i for i in range(5)) + b"\r\n0\r\n"


def test_a_large_upload_to_a_slow_reader_completes() -> None:
    upload = random.Random(6).randbytes(16 * 1024 * 1024)

    async def slowly(reader: asyncio.StreamReader, size: int) -> bytes:
        got = bytearray()
        while len(got) < size:
            got += await reader.read(min(256 * 1024, size - len(got)))
            await asyncio.sleep(0.002)
        return bytes(got)

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        received = await read_request(reader, take=lambda n: slowly(reader, n))
        assert received is not None
        server.requests.append(received)
        w.write(answer(hashlib.sha256(received.body).hexdigest().encode()))
        await w.drain()
        await server.next_request(reader)

    async def main() -> tuple[bytes, bool]:
        async with RawServer(handle) as server, async_client(2) as client:
            response = await client.put(server.url, content=upload)
            return response.content, stream_of(response)._exchange.drained is not None

    digest, waited = run(main())
    assert digest == hashlib.sha256(upload).hexdigest().encode()
    assert waited  # the request's writer waited for the socket to drain


def test_an_answer_sent_before_the_upload_ended_is_the_one_given() -> None:
    # The server refuses the body at once, shuts its side and drains the rest:
    # the client, whose writes now fail, still hands over the 413.
    async def handle(
        server: RawServer, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        server.requests.append(Received(await reader.readuntil(b"\r\n\r\n"), b""))
        w.write(answer(b"too large", "413 Payload Too Large", ("Connection: close",)))
        await w.drain()
        w.write_eof()
        while await reader.read(256 * 1024):
            pass

    async def main() -> tuple[int, bytes, int]:
        async with RawServer(handle) as server, async_client(2) as client:
            response = await client.put(server.url, content=bytes(16 * 1024 * 1024))
            return response.status_code, response.content, len(server.requests)

    assert run(main()) == (413, b"too large", 1)


# -- 7. cancelled requests --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_request_cancelled_mid_answer_leaves_no_broken_connection(where: str) -> None:
    cut = b"" if where == "headers" else answer(b"z" * 1000)[:-500]

    async def main() -> tuple[bytes, int]:
        async with client_of(Step(cut, "hang"), Step(answer(b"fresh")), Step(answer(b"again"))) as (
            server,
            client,
        ):
            request = asyncio.ensure_future(client.get(server.url))
            for _ in range(100):  # until the server has answered what it will
                if server.requests:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            fresh = await client.get(server.url)
            again = await client.get(server.url)
            assert stream_of(fresh) is stream_of(again)
            return fresh.content + again.content, server.accepted

    assert run(main()) == (b"freshagain", 2)


# -- 8. bytes no request asked for ------------------------------------------------------------


def test_extra_bytes_arriving_after_a_complete_answer_do_not_spoil_it() -> None:
    async def main() -> tuple[bytes, bytes, int]:
        extra_sent = asyncio.Event()

        async def handle(
            server: RawServer, reader: asyncio.StreamReader, w: asyncio.StreamWriter
        ) -> None:
            first = server.accepted == 1
            if await server.next_request(reader) is None:
                return
            w.write(answer(b"mine" if first else b"yours"))
            await w.drain()
            if first:
                await asyncio.sleep(0.05)  # a separate segment, after the answer was parsed
                w.write(answer(b"extra"))
                await w.drain()
                extra_sent.set()
            await server.next_request(reader)

        async with RawServer(handle) as server, async_client(2) as client:
            async with client.stream("GET", server.url) as response:
                await extra_sent.wait()
                await asyncio.sleep(0.02)  # the extra bytes reach the client before it reads
                mine = await response.aread()
            second = await client.get(server.url)
            return mine, second.content, server.accepted

    assert run(main()) == (b"mine", b"yours", 2)


# -- 9. TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_a_get_over_tls_goes_through_an_asyncio_connection(ca: trustme.CA) -> None:
    async def main() -> tuple[bytes, Any, Any, int]:
        handler = scripted(Step(answer(b"secret")), Step(answer(b"again")))
        async with (
            RawServer(handler, tls=_server_context(ca)) as server,
            async_client(2, verify=_client_context(ca)) as client,
        ):
            first = await client.get(server.url)
            second = await client.get(server.url)
            stream = stream_of(first)
            assert stream is stream_of(second)
            return (
                first.content + second.content,
                stream,
                stream.get_extra_info("ssl_object"),
                server.accepted,
            )

    body, stream, ssl_object, accepted = run(main())
    assert body == b"secretagain" and accepted == 1
    assert isinstance(stream, AsyncioConnection)
    assert isinstance(ssl_object, ssl.SSLObject)


def test_a_certificate_from_another_authority_is_a_connect_error(ca: trustme.CA) -> None:
    async def main() -> None:
        handler = scripted(Step(answer(b"never")))
        async with RawServer(handler, tls=_server_context(trustme.CA())) as server:
            async with async_client(2, verify=_client_context(ca)) as client:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(server.url)
            assert not server.requests

    run(main())


def test_verify_false_is_honoured_by_the_asyncio_connections() -> None:
    async def main() -> bytes:
        handler = scripted(Step(answer(b"unverified")))
        async with (
            RawServer(handler, tls=_server_context(trustme.CA())) as server,
            async_client(2, verify=False) as client,
        ):
            return (await client.get(server.url)).content

    assert run(main()) == b"unverified"


# -- 10. httpcore's connections where AsyncioConnection can't serve --------------------------------


@pytest.fixture
def without_httptools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """httptools can't be imported (nor, therefore, tcmodel._connection)."""
    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.delitem(sys.modules, "tcmodel._connection")
    tcmodel._pool._asyncio_connections.cache_clear()
    try:
        yield
    finally:
        tcmodel._pool._asyncio_connections.cache_clear()


def _ping(lc: LocalCluster) -> str:
    return f"{lc.root_url}/api/queue/v1/ping"


def test_without_httptools_asyncio_requests_use_httpcore_connections(
    lc: LocalCluster, without_httptools: None
) -> None:
    async def main() -> tuple[list[int], list[type[Any]], Any]:
        async with async_client(2) as client:
            answers = [await client.get(_ping(lc)) for _ in range(3)]
            opened = [type(c) for c in client._transport._pool._open]  # type: ignore[attr-defined]
            return [a.status_code for a in answers], opened, stream_of(answers[0])

    codes, opened, stream = run(main())
    assert not tcmodel._pool._asyncio_connections()
    assert codes == [200, 200, 200]
    assert opened == [httpcore.AsyncHTTPConnection]
    assert not isinstance(stream, AsyncioConnection)


def test_under_trio_requests_use_httpcore_connections(lc: LocalCluster) -> None:
    async def main() -> tuple[list[int], list[type[Any]], Any]:
        async with async_client(2) as client:
            answers = [await client.get(_ping(lc)) for _ in range(3)]
            opened = [type(c) for c in client._transport._pool._open]  # type: ignore[attr-defined]
            return [a.status_code for a in answers], opened, stream_of(answers[0])

    codes, opened, stream = trio.run(main)
    assert codes == [200, 200, 200]
    assert opened == [httpcore.AsyncHTTPConnection]
    assert not isinstance(stream, AsyncioConnection)


# -- 11. the trace extension -----------------------------------------------------------------------


def test_the_trace_extension_gets_the_answer_head() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append((name, info))

    async def main() -> int:
        async with client_of(Step(answer(b"traced", "202 Fine By Me", ("X-A: b",)))) as (
            server,
            client,
        ):
            response = await client.get(server.url, extensions={"trace": trace})
            assert response.content == b"traced"
            return response.status_code

    assert run(main()) == 202
    heads = [
        info["return_value"]
        for name, info in events
        if name == "http11.receive_response_headers.complete"
    ]
    assert heads == [(b"HTTP/1.1", 202, b"Fine By Me", [(b"X-A", b"b"), (b"Content-Length", b"6")])]
