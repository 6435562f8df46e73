"""HTTP/1.1 connections for the async client in an asyncio event loop: an
``asyncio.Protocol`` whose answers are parsed by httptools (llhttp, in C),
taking httpx's requests and giving httpx's answers and errors straight to
the pool (:mod:`tcmodel._pool`), which serves them to ``httpx.AsyncClient``
as its transport.

httpcore's HTTP/1.1 connection parses with h11 in Python and reads through
a stream, a lock and a trace call per event, and httpx's transport turns
each request and answer into httpcore's and back; at 50 concurrent requests
that was two thirds of the client's work per request. Here the event loop
hands the bytes straight to the parser, which calls back once per header,
body chunk and end of answer.

What it keeps from httpcore's: one request at a time, a connection reused
only after a complete answer the server did not mark ``Connection: close``,
a body read as it arrives (reading pauses past :data:`HIGH_WATER` bytes not
yet taken), the request's connect, read, write timeouts, httpx's errors
(``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``…), the
answer's ``network_stream`` extension, and the ``trace`` extension's
``http11.receive_response_headers.complete`` event (what tcmodel's
transport listens for).

Example:
    >>> import asyncio
    >>> async def ping() -> tuple[int, bool]:
    ...     url = httpx.URL(f"{lc.root_url}/api/queue/v1/ping")
    ...     connection = await AsyncioConnection.open(origin_of(url), keepalive_expiry=5.0)
    ...     answer = await connection.handle_async_request(httpx.Request("GET", url))
    ...     await answer.aread()
    ...     await answer.aclose()
    ...     reusable = connection.is_idle()
    ...     await connection.aclose()
    ...     return answer.status_code, reusable
    >>> asyncio.run(ping())
    (200, True)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httptools
import httpx

from tcmodel._aio import within

__all__ = ["HIGH_WATER", "AsyncioConnection", "Origin", "Resolver", "origin_of"]

#: Bytes of an answer's body held unread before the connection stops
#: reading from its socket (it reads on once a quarter of them is left).
HIGH_WATER = 256 * 1024


#: An origin: scheme, host (as in the URL) and port.
Origin = tuple[bytes, bytes, int]

_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def origin_of(url: httpx.URL) -> Origin:
    """The origin of ``url``: what a connection serves.

    Example:
        >>> origin_of(httpx.URL("https://tc.example.com/api/queue/v1/ping"))
        (b'https', b'tc.example.com', 443)
    """
    scheme = url.raw_scheme
    return (scheme, url.raw_host, url.port or _DEFAULT_PORTS.get(scheme, 80))


class _Exchange(asyncio.Protocol):
    """The socket's side: what the event loop and the parser call back."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.closed = False  # the socket is gone (either side closed it)
        self.paused_writing = False
        self.drained: asyncio.Future[None] | None = None
        self.reset(head=False)

    def reset(self, *, head: bool) -> None:
        """Ready for the answer to a new request (``head``: to a HEAD, which
        has no body whatever its headers say)."""
        self.head = head
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done: asyncio.Future[None] | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.failure: httpx.TransportError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.until_eof = False

    # the event loop's calls
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.parser is None or self.complete:
            # bytes no request asked for: the connection can't be trusted
            self._fail(httpx.RemoteProtocolError("the server sent data no request asked for"))
            self._close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {exc}"))
            self._close()

    def eof_received(self) -> bool:
        return False  # close the socket: half-open connections are of no use here

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.parser is not None and not self.complete:
            ended = exc is None and self.headers_done is not None and self.headers_done.done()
            if self.until_eof and ended:
                self.on_message_complete()  # a body that ends with the connection (not reset)
            else:
                what = "a complete answer" if self.status else "an answer"
                self._fail(
                    httpx.RemoteProtocolError(f"the server closed the connection before {what}")
                )
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # the parser's calls
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:  # (after it: a second answer nobody asked for)
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        if self.complete:  # a second answer nobody asked for: not reused
            self.keep_alive = False
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self.reason, self.headers = b"", []
            return
        self.status = status
        names = {name.lower() for name, _ in self.headers}
        # (answers to a HEAD, 204s and 304s have no body, so none that ends with the connection)
        bodiless = self.head or status in (204, 304)
        framed = b"content-length" in names or b"transfer-encoding" in names
        self.until_eof = not bodiless and not framed
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_result(None)
        if self.head:
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self.head or self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.status or self.complete:  # the end of an interim answer, or said twice
            return
        assert self.parser is not None
        self.complete = True
        self.keep_alive = not self.until_eof and self.parser.should_keep_alive()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, failure: httpx.TransportError) -> None:
        if self.failure is None:
            self.failure = failure
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_exception(failure)
            self.headers_done.exception()  # retrieved: no "never retrieved" warning if unawaited
        self._wake()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Resolver:
    """Host names looked up once per ``ttl`` seconds (what aiohttp does too):
    asyncio looks a name up in a thread for every connection it opens, and
    a burst of requests opens many at once. Concurrent lookups of one name
    share one; an address literal is never looked up. Made by each event
    loop's pool.

    Example:
        >>> import asyncio
        >>> async def twice() -> tuple[list[tuple[str, int]], int]:
        ...     resolver = Resolver()
        ...     first = await resolver.addresses("localhost", 80)
        ...     again = await resolver.addresses("localhost", 80)
        ...     return first[:1], resolver.lookups
        >>> asyncio.run(twice())  # doctest: +ELLIPSIS
        ([('...', 80)], 1)
        >>> asyncio.run(Resolver().addresses("127.0.0.1", 8080))
        [('127.0.0.1', 8080)]
    """

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        #: Lookups made (not those answered from memory).
        self.lookups = 0
        self._known: dict[tuple[str, int], tuple[float, asyncio.Future[list[tuple[str, int]]]]] = {}

    async def addresses(self, host: str, port: int) -> list[tuple[str, int]]:
        """The (address, port) pairs to try for ``host``, in the order the
        system gives them; ``OSError`` (``socket.gaierror``) if it has none.

        Example:
            >>> asyncio.run(Resolver().addresses("::1", 443))
            [('::1', 443)]
        """
        if _is_address(host):
            return [(host, port)]
        key = (host, port)
        now = time.monotonic()
        known = self._known.get(key)
        if known is None or known[0] < now:
            loop = asyncio.get_running_loop()
            pending: asyncio.Future[list[tuple[str, int]]] = loop.create_future()
            self._known[key] = (now + self.ttl, pending)
            self.lookups += 1
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except BaseException as exc:
                self.forget(host, port)
                pending.set_exception(exc if isinstance(exc, OSError) else OSError(str(exc)))
                pending.exception()  # retrieved: nobody else may be waiting
                raise
            found = list(dict.fromkeys((str(info[4][0]), port) for info in infos))
            pending.set_result(found)
            return found
        return await asyncio.shield(known[1])

    def forget(self, host: str, port: int) -> None:
        """Look ``host`` up again next time.

        Example:
            >>> Resolver().forget("localhost", 80)
        """
        self._known.pop((host, port), None)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AsyncioConnection:
    """One HTTP/1.1 connection to ``origin`` (see the module's description);
    opened with :meth:`open`.

    Example:
        >>> import asyncio
        >>> async def idle() -> tuple[bool, bool]:
        ...     connection = await AsyncioConnection.open(
        ...         origin_of(httpx.URL(lc.root_url)), keepalive_expiry=5.0)
        ...     fresh = connection.is_idle()
        ...     await connection.aclose()
        ...     return fresh, connection.has_expired()
        >>> asyncio.run(idle())
        (True, True)
    """

    def __init__(
        self,
        origin: Origin,
        transport: asyncio.Transport,
        exchange: _Exchange,
        keepalive_expiry: float,
    ) -> None:
        self._origin = origin
        self._transport = transport
        self._exchange = exchange
        self._keepalive_expiry = keepalive_expiry
        self._idle_until: float | None = None
        self._busy = False
        self._reusable = True

    @classmethod
    async def open(
        cls,
        origin: Origin,
        *,
        keepalive_expiry: float,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float | None = None,
        resolver: Resolver | None = None,
    ) -> AsyncioConnection:
        """A connection to ``origin`` (TLS with ``ssl_context`` for https),
        open within ``timeout`` seconds (``httpx.ConnectTimeout``), else
        ``httpx.ConnectError``; its host's addresses come from
        ``resolver`` (each tried in turn), else from asyncio's own lookup.

        Example:
            >>> import asyncio
            >>> asyncio.run(AsyncioConnection.open(
            ...     origin_of(httpx.URL("http://127.0.0.1:1/")), keepalive_expiry=5.0))
            Traceback (most recent call last):
            ...
            httpx.ConnectError: ...
        """
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = ssl_context if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        where = f"{host}:{port}"

        async def connect() -> tuple[asyncio.BaseTransport, _Exchange]:
            if resolver is None:
                return await loop.create_connection(
                    _Exchange, host, port, ssl=tls, server_hostname=host if tls else None
                )
            addresses = await resolver.addresses(host, port)
            for n, (address, to) in enumerate(addresses, 1):
                try:
                    return await loop.create_connection(
                        _Exchange, address, to, ssl=tls, server_hostname=host if tls else None
                    )
                except OSError:
                    if n == len(addresses):
                        resolver.forget(host, port)  # perhaps it moved: ask again next time
                        raise
            raise OSError(f"no address for {where}")  # pragma: no cover - getaddrinfo raises first

        try:
            transport, exchange = await within(timeout, connect())
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {where}") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        assert isinstance(transport, asyncio.Transport)
        return cls(origin, transport, exchange, keepalive_expiry)

    def __repr__(self) -> str:
        state = "busy" if self._busy else "idle" if self.is_idle() else "closed"
        scheme, host, port = (p.decode() if isinstance(p, bytes) else p for p in self._origin)
        return f"<AsyncioConnection {scheme}://{host}:{port} {state}>"

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether requests to ``origin`` may use this connection.

        Example:
            >>> import asyncio
            >>> async def same() -> bool:
            ...     origin = origin_of(httpx.URL(lc.root_url))
            ...     async with await AsyncioConnection.open(origin, keepalive_expiry=5.0) as c:
            ...         return c.can_handle_request(origin)
            >>> asyncio.run(same())
            True
        """
        return origin == self._origin

    def is_idle(self) -> bool:
        """Open, with no request going on, and reusable.

        Example:
            >>> AsyncioConnection.is_idle.__name__
            'is_idle'
        """
        return not self._busy and self._reusable and not self._exchange.closed

    def has_expired(self) -> bool:
        """Closed, or idle for longer than its keep-alive time.

        Example:
            >>> AsyncioConnection.has_expired.__name__
            'has_expired'
        """
        if self._exchange.closed or not self._reusable:
            return True
        return self._idle_until is not None and time.monotonic() > self._idle_until

    async def aclose(self) -> None:
        """Close the socket (a request going on fails).

        Example:
            >>> AsyncioConnection.aclose.__name__
            'aclose'
        """
        self._reusable = False
        self._transport.close()

    def get_extra_info(self, info: str) -> Any:
        """What httpcore's network streams tell of themselves
        (``client_addr``, ``server_addr``, ``socket``, ``ssl_object``,
        ``is_readable``); this connection is the answers' ``network_stream``
        extension.

        Example:
            >>> import asyncio
            >>> async def where() -> str:
            ...     origin = origin_of(httpx.URL(lc.root_url))
            ...     async with await AsyncioConnection.open(origin, keepalive_expiry=5.0) as c:
            ...         return c.get_extra_info("server_addr")[0]
            >>> asyncio.run(where())
            '127.0.0.1'
        """
        if info == "is_readable":
            return self._exchange.closed
        names = {
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
            "ssl_object": "ssl_object",
        }
        return self._transport.get_extra_info(names[info]) if info in names else None

    async def __aenter__(self) -> AsyncioConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def handle_async_request(
        self, request: httpx.Request, give_back: Callable[[], Awaitable[None]] | None = None
    ) -> httpx.Response:
        """Send ``request`` and wait for the answer's status and headers;
        its body is read as it is iterated, and closing it calls
        ``give_back`` (the pool takes the connection back).
        ``httpcore.ConnectionNotAvailable`` if the connection is busy or
        closed.

        Example:
            >>> import asyncio
            >>> async def ping() -> tuple[int, bytes]:
            ...     url = httpx.URL(f"{lc.root_url}/api/queue/v1/ping")
            ...     opened = AsyncioConnection.open(origin_of(url), keepalive_expiry=5.0)
            ...     async with await opened as c:
            ...         answer = await c.handle_async_request(httpx.Request("GET", url))
            ...         return answer.status_code, (await answer.aread())[:13]
            >>> asyncio.run(ping())
            (200, b'{"alive":true')
        """
        exchange = self._exchange
        if self._busy or not self._reusable or exchange.closed:
            raise httpcore.ConnectionNotAvailable()
        self._busy = True
        self._idle_until = None
        exchange.reset(head=request.method == "HEAD")
        exchange.parser = httptools.HttpResponseParser(exchange)
        exchange.headers_done = asyncio.get_running_loop().create_future()
        timeouts = request.extensions.get("timeout", {})
        try:
            await self._send(request, timeouts.get("write"))
        except httpx.WriteError:
            # a server may answer (a 413, say) and close before taking the whole body: that
            # answer is the one to give (as httpcore's connection does)
            if not exchange.status:
                raise
        try:
            await within(timeouts.get("read"), exchange.headers_done)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the answer") from None
        trace = request.extensions.get("trace")
        if trace is not None:
            head = (b"HTTP/1.1", exchange.status, exchange.reason, exchange.headers)
            await trace("http11.receive_response_headers.complete", {"return_value": head})
        return httpx.Response(
            status_code=exchange.status,
            headers=exchange.headers,
            stream=_Body(self, timeouts.get("read"), give_back),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": exchange.reason,
                "network_stream": self,
            },
        )

    async def _send(self, request: httpx.Request, timeout: float | None) -> None:
        """Write the request line, headers and body (chunked if the headers
        say so), waiting whenever the socket's buffer is full."""
        chunked = False
        method = request.method.encode("ascii")
        head = [method, b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
            if value.lower() == b"chunked" and name.lower() == b"transfer-encoding":
                chunked = True
        head.append(b"\r\n")
        await self._write(b"".join(head), timeout)
        async for piece in _pieces(request.stream):
            if piece:
                await self._write(
                    b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece, timeout
                )
        if chunked:
            await self._write(b"0\r\n\r\n", timeout)

    async def _write(self, data: bytes, timeout: float | None) -> None:
        exchange = self._exchange
        if exchange.closed or self._transport.is_closing():
            raise httpx.WriteError("the connection was closed")
        self._transport.write(data)
        if not exchange.paused_writing:
            return
        exchange.drained = asyncio.get_running_loop().create_future()
        try:
            await within(timeout, exchange.drained)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out writing the request") from None
        if exchange.closed:
            raise httpx.WriteError("the connection was closed")

    def _release(self) -> None:
        """The answer is done with: the connection is reusable if the
        answer came whole and the server keeps the connection open."""
        exchange = self._exchange
        self._busy = False
        exchange.parser = None if exchange.complete else exchange.parser
        if exchange.complete and exchange.keep_alive and exchange.failure is None:
            self._idle_until = time.monotonic() + self._keepalive_expiry
            if exchange.transport is not None and exchange.buffered:
                exchange.transport.resume_reading()
        else:
            self._reusable = False
            self._transport.close()


async def _pieces(stream: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """A request body's pieces, whether it is iterated with ``for`` or ``async for``."""
    if isinstance(stream, AsyncIterable):
        async for piece in stream:
            yield piece
    else:
        for piece in stream:
            yield piece


class _Body(httpx.AsyncByteStream):
    """An answer's body: its chunks as they arrive; closing it releases the
    connection (closed unless the answer was read whole) and hands it back."""

    def __init__(
        self,
        connection: AsyncioConnection,
        timeout: float | None,
        give_back: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._give_back = give_back
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._connection._exchange
        while True:
            if exchange.chunks:
                chunk = exchange.chunks.popleft()
                exchange.buffered -= len(chunk)
                if exchange.buffered <= HIGH_WATER // 4 and exchange.transport is not None:
                    exchange.transport.resume_reading()
                yield chunk
                continue
            if exchange.complete:  # (before a failure: bytes after a whole answer spoil nothing)
                return
            if exchange.failure is not None:
                raise exchange.failure
            exchange.waiter = asyncio.get_running_loop().create_future()
            try:
                await within(self._timeout, exchange.waiter)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out reading the answer") from None

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection._release()
            if self._give_back is not None:
                await self._give_back()
