"""The connection pool of the async clients tcmodel makes.

httpcore's own pool does work in proportion to its connections times its
waiting requests every time a request starts or ends (it rescans them all,
and asks anyio, at a dict of socket facts per call, whether each idle
connection is still alive); with more connections than keep-alive slots it
closes each idle connection at once and opens a new one. At 50 concurrent
requests that made tcmodel's async path slower than its sync loop. This
pool does constant work per request: idle HTTP/1.1 connections wait in a
list per origin, a request takes the latest one that is still alive (or
opens one), at most ``size`` are in use at once (later requests wait for
one, up to the request's pool timeout, then ``PoolTimeout``), and closing a
response hands its connection back.

A client made in an asyncio loop sends httpx's requests through
:class:`AsyncioTransport` straight to :meth:`AsyncPool.send`, on
:class:`tcmodel._connection.AsyncioConnection` connections (plain HTTP and
TLS): httptools' parser on asyncio's own sockets, with asyncio's timeouts.
httpx's own transport, httpcore's connection, h11, and anyio's cancel
scopes, checkpoints and locks were two thirds of the client's work per
request. Under trio, or where httptools is not installed, the client keeps
httpx's transport, whose pool is this one with httpcore's connections
(:meth:`AsyncPool.handle_async_request`). httpcore and anyio are imported
when the first async client is made, not with tcmodel.

Example:
    >>> import asyncio, httpx
    >>> async def status_codes() -> list[int]:
    ...     async with async_client(4) as client:
    ...         url = f"{lc.root_url}/api/queue/v1/ping"
    ...         answers = await asyncio.gather(*[client.get(url) for _ in range(10)])
    ...         return sorted({a.status_code for a in answers})
    >>> asyncio.run(status_codes())
    [200]
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from tcmodel._aio import asyncio_running, within

if TYPE_CHECKING:
    from typing import TypeAlias

    import httpcore

    from tcmodel._connection import AsyncioConnection, Resolver

    Connection: TypeAlias = httpcore.AsyncHTTPConnection | AsyncioConnection

__all__ = ["AsyncPool", "AsyncioTransport", "async_client", "ssl_context", "without_cookies"]

T = TypeVar("T", httpx.Client, httpx.AsyncClient)
Answer = TypeVar("Answer")
#: Where idle connections wait: whether they are AsyncioConnections, and their
#: origin (scheme, host, port).
_Key = tuple[bool, bytes, bytes, int]

#: Seconds an idle connection is kept open (httpx's default).
KEEPALIVE_EXPIRY = 5.0


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The TLS settings of every client tcmodel makes, made once (loading
    the CA bundle takes tens of milliseconds, which each new client, one
    per event loop, used to pay).

    Example:
        >>> ssl_context() is ssl_context(), ssl_context().verify_mode.name
        (True, 'CERT_REQUIRED')
    """
    return httpx.create_ssl_context()


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps none: Taskcluster's services set no cookies,
    and httpx would otherwise search every answer for them (a few percent
    of the client's work per request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def without_cookies(client: T) -> T:
    """``client`` (one tcmodel made), no longer searching answers for
    cookies to keep.

    Example:
        >>> with without_cookies(httpx.Client()) as client:
        ...     client.cookies.extract_cookies(httpx.Response(
        ...         200, headers={"Set-Cookie": "a=b"}, request=httpx.Request("GET", "https://x/")))
        ...     len(client.cookies)
        0
    """
    client._cookies = _NoCookies()
    return client


def async_client(size: int, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``options`` are its arguments) whose
    connections come from an :class:`AsyncPool` of ``size``.

    Example:
        >>> import asyncio
        >>> async def pool_size() -> int:
        ...     async with async_client(8) as client:
        ...         return client._transport._pool.size
        >>> asyncio.run(pool_size())
        8
    """
    verify = options.setdefault("verify", ssl_context())
    options["limits"] = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
    pool = AsyncPool(size, context)
    transport: httpx.AsyncBaseTransport
    if asyncio_running() and _asyncio_connections():
        transport = AsyncioTransport(pool)
    else:  # httpcore's connections, behind httpx's own transport
        transport = httpx.AsyncHTTPTransport(verify=verify, limits=options["limits"])
        transport._pool = pool  # type: ignore[assignment]
    return without_cookies(httpx.AsyncClient(transport=transport, **options))


class AsyncioTransport(httpx.AsyncBaseTransport):
    """The transport of an async client made in an asyncio loop: requests go
    to ``pool`` as they are (:meth:`AsyncPool.send`), without httpx's
    conversions to httpcore's requests and answers and back.

    Example:
        >>> import asyncio
        >>> async def kind() -> str:
        ...     async with async_client(2) as client:
        ...         return type(client._transport).__name__
        >>> asyncio.run(kind())
        'AsyncioTransport'
    """

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool.

        Example:
            >>> import asyncio
            >>> async def ping() -> int:
            ...     async with AsyncioTransport(AsyncPool(1, ssl_context())) as transport:
            ...         url = f"{lc.root_url}/api/queue/v1/ping"
            ...         answer = await transport.handle_async_request(httpx.Request("GET", url))
            ...         await answer.aclose()
            ...         return answer.status_code
            >>> asyncio.run(ping())
            200
        """
        return await self._pool.send(request)

    async def aclose(self) -> None:
        """Close the pool's connections.

        Example:
            >>> import asyncio
            >>> asyncio.run(AsyncioTransport(AsyncPool(1, ssl_context())).aclose())
        """
        await self._pool.aclose()


@lru_cache(maxsize=1)
def _asyncio_connections() -> bool:
    """Whether :mod:`tcmodel._connection` can serve (httptools imports: not
    on a Python it has no wheel for)."""
    try:
        import tcmodel._connection  # noqa: F401
    except ImportError:
        return False
    return True


class AsyncPool:
    """At most ``size`` HTTP/1.1 connections in use at once, reused while
    alive (see the module's description): what :class:`AsyncioTransport`
    (:meth:`send`) or ``httpx.AsyncHTTPTransport``
    (:meth:`handle_async_request`) sends its requests through.

    Example:
        >>> AsyncPool(4, ssl_context()).size
        4
    """

    def __init__(self, size: int, context: ssl.SSLContext) -> None:
        import anyio

        if size < 1:
            raise ValueError(f"a pool needs at least one connection, not {size!r}")
        self.size = size
        self._context = context
        self._slots = anyio.Semaphore(size)
        self._idle: dict[_Key, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._resolver: Resolver | None = None  # host names looked up, once made

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection (those in use too).

        Example:
            >>> import asyncio
            >>> asyncio.run(AsyncPool(4, ssl_context()).aclose())
        """
        opened, self._open, self._idle = self._open, set(), {}
        for connection in opened:
            await connection.aclose()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send ``request`` (httpcore's) on a free connection of httpcore's
        (see :func:`async_client` for when); the connection is handed back
        when the response is closed.

        Example:
            >>> import asyncio, httpcore
            >>> async def ping() -> int:
            ...     async with AsyncPool(2, ssl_context()) as pool:
            ...         host = lc.root_url.split("//")[1]
            ...         answer = await pool.handle_async_request(httpcore.Request(
            ...             "GET", f"{lc.root_url}/api/queue/v1/ping", headers={"Host": host}))
            ...         await answer.aread()
            ...         await answer.aclose()
            ...         return answer.status
            >>> asyncio.run(ping())
            200
        """
        import httpcore

        origin = request.url.origin
        key = (False, origin.scheme, origin.host, origin.port)
        pool_timeout = request.extensions.get("timeout", {}).get("pool")

        async def connect() -> Connection:
            return httpcore.AsyncHTTPConnection(
                origin, ssl_context=self._context, keepalive_expiry=KEEPALIVE_EXPIRY
            )

        async def handle(connection: Connection) -> httpcore.Response:
            assert isinstance(connection, httpcore.AsyncHTTPConnection)
            return await connection.handle_async_request(request)

        slot = (pool_timeout, httpcore.PoolTimeout)
        connection, response = await self._send(key, slot, connect, handle)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_Returned(response.stream, lambda: self._give_back(connection, key)),
            extensions=response.extensions,
        )

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (httpx's) on a free
        :class:`~tcmodel._connection.AsyncioConnection` (opened now if none
        is idle; asyncio only); the connection is handed back when the
        response is closed.

        Example:
            >>> import asyncio
            >>> async def ping() -> int:
            ...     async with AsyncPool(2, ssl_context()) as pool:
            ...         url = f"{lc.root_url}/api/queue/v1/ping"
            ...         answer = await pool.send(httpx.Request("GET", url))
            ...         await answer.aread()
            ...         await answer.aclose()
            ...         return answer.status_code
            >>> asyncio.run(ping())
            200
        """
        from tcmodel._connection import AsyncioConnection, Resolver, origin_of

        origin = origin_of(request.url)
        key = (True, *origin)
        timeouts = request.extensions.get("timeout", {})
        if self._resolver is None:
            self._resolver = Resolver()
        resolver = self._resolver

        async def connect() -> Connection:
            return await AsyncioConnection.open(
                origin,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                ssl_context=self._context,
                timeout=timeouts.get("connect"),
                resolver=resolver,
            )

        def handle(connection: Connection) -> Awaitable[httpx.Response]:
            assert isinstance(connection, AsyncioConnection)
            return connection.handle_async_request(
                request, lambda: self._give_back(connection, key)
            )

        slot = (timeouts.get("pool"), httpx.PoolTimeout)
        return (await self._send(key, slot, connect, handle))[1]

    async def _acquire(self, timeout: float | None, error: type[Exception]) -> None:
        """Take a slot: at once when one is free, else within ``timeout``
        (then ``error``: httpcore's or httpx's ``PoolTimeout``)."""
        import anyio

        try:
            self._slots.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        try:
            await within(timeout, self._slots.acquire())
        except TimeoutError:
            raise error(f"no connection of {self.size} became free") from None

    async def _send(
        self,
        key: _Key,
        slot: tuple[float | None, type[Exception]],
        connect: Callable[[], Awaitable[Connection]],
        handle: Callable[[Connection], Awaitable[Answer]],
    ) -> tuple[Connection, Answer]:
        """Take a slot (within ``slot``'s timeout, else its error), then
        ``handle`` the request on the latest idle connection to ``key`` that
        is alive, or on a new one from ``connect``; the slot is given back
        with the connection, or at once if the request fails."""
        await self._acquire(*slot)
        try:
            return await self._lease(key, connect, handle)
        except BaseException:
            self._slots.release()
            raise

    async def _lease(
        self,
        key: _Key,
        connect: Callable[[], Awaitable[Connection]],
        handle: Callable[[Connection], Awaitable[Answer]],
    ) -> tuple[Connection, Answer]:
        import httpcore

        while True:
            connection = await self._alive(key)
            fresh = connection is None
            if connection is None:
                connection = await connect()
                self._open.add(connection)
            try:
                return connection, await handle(connection)
            except httpcore.ConnectionNotAvailable:  # it went away meanwhile: another one
                await self._drop(connection)
                if fresh:
                    raise
            except BaseException:
                await self._drop(connection)
                raise

    async def _alive(self, key: _Key) -> Connection | None:
        """The latest idle connection to the origin ``key`` that is still
        usable; the dead ones met on the way are closed."""
        idle = self._idle.get(key, [])
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await self._drop(connection)
        return None

    async def _give_back(self, connection: Connection, key: _Key) -> None:
        self._slots.release()
        kept = sum(len(idle) for idle in self._idle.values())
        if connection.is_idle() and kept < self.size and connection in self._open:
            self._idle.setdefault(key, []).append(connection)
        else:
            await self._drop(connection)

    async def _drop(self, connection: Connection) -> None:
        import anyio

        self._open.discard(connection)
        with anyio.CancelScope(shield=True):
            await connection.aclose()


class _Returned(httpx.AsyncByteStream):
    """A response body (httpcore's) that hands its connection back once closed."""

    def __init__(self, stream: Any, give_back: Callable[[], Awaitable[None]]) -> None:
        self._stream = stream
        self._give_back: Callable[[], Awaitable[None]] | None = give_back

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            give_back, self._give_back = self._give_back, None
            if give_back is not None:
                await give_back()
