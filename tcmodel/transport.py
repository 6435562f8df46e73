"""The one transport every request of tcmodel goes through.

An *operation* is a generator that yields steps (:class:`Send` a request,
:class:`Sleep`, :class:`ReadChunk` of a streamed body, :class:`Close` it)
and receives their results. Retries, error mapping, paging and downloads are
written once as operations; :meth:`Transport.run` drives them with a sync
``httpx.Client`` and :meth:`Transport.arun` with an ``httpx.AsyncClient``.
Hawk signing is an ``httpx.Auth`` (:class:`tcmodel.hawk.HawkAuth`) given to
every send, so it signs each attempt afresh, and only for the root URL's
origin.

Example:
    >>> t = Transport("https://tc.example.com")
    >>> call = Call.of("queue", "status", taskId="Dx4tPEtaRpeIeWpbTD0uHw")
    >>> str(call)
    "queue.status(taskId='Dx4tPEtaRpeIeWpbTD0uHw')"
    >>> t.url_for(call)
    'https://tc.example.com/api/queue/v1/task/Dx4tPEtaRpeIeWpbTD0uHw/status'
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any, Generic, TypeVar, cast

import attrs
import httpx

from tcmodel._version import __version__
from tcmodel.api import Endpoint, endpoint
from tcmodel.credentials import Credentials, CredentialsLike
from tcmodel.errors import APIError, ConnectionFailed, error_for_response, redact_url
from tcmodel.hawk import HawkAuth, sign_url
from tcmodel.urls import api_url, normalize_root_url

__all__ = [
    "Call",
    "Close",
    "Emit",
    "Op",
    "Page",
    "Pager",
    "ReadChunk",
    "RetryPolicy",
    "Send",
    "Sleep",
    "Transport",
    "consume",
    "map_op",
    "op_result",
]

log = logging.getLogger("tcmodel")

T = TypeVar("T")
CHUNK_SIZE = 64 * 1024
# Transport errors after which the request surely never reached the service.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


# -- steps an operation yields ------------------------------------------------


@attrs.frozen
class Send:
    """Send ``request``; the result is the ``httpx.Response``.

    With ``stream`` the body is left unread (use :class:`ReadChunk`), except
    for error statuses (>= 400), whose body is always read. ``auth`` replaces
    the transport's own signer for this send (e.g. the temporary credentials
    the queue hands out for one object download); ``None`` sends unsigned.

    Example:
        >>> Send(httpx.Request("GET", "https://tc/x")).stream
        False
    """

    request: httpx.Request
    stream: bool = False
    auth: httpx.Auth | str | None = "default"


@attrs.frozen
class Sleep:
    """Wait ``seconds`` (``time.sleep`` or the async library's sleep).

    Example:
        >>> Sleep(0.1).seconds
        0.1
    """

    seconds: float


@attrs.frozen(eq=False)
class ReadChunk:
    """Read the next raw (still encoded) chunk of a streamed response, as it
    arrives from the network (nothing is held back, so a cut connection
    loses nothing already received); the result is ``bytes``, ``b""`` at the end.

    Example:
        >>> ReadChunk(httpx.Response(200)).response.status_code
        200
    """

    response: httpx.Response


@attrs.frozen(eq=False)
class Close:
    """Close a streamed response.

    Example:
        >>> Close(httpx.Response(200)).response.status_code
        200
    """

    response: httpx.Response


@attrs.frozen(eq=False)
class Emit:
    """Hand ``data`` to whoever consumes the operation's output (a file, a
    buffer, or the caller of :meth:`Transport.stream`); the result is ``None``.

    Example:
        >>> Emit(b"abc").data
        b'abc'
    """

    data: Any


IOStep = Send | Sleep | ReadChunk | Close
Step = IOStep | Emit
#: An operation: yields steps, receives their results, returns ``T``.
Op = Generator[Step, Any, T]


# -- retries --------------------------------------------------------------------


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before retrying.

    Connection errors, timeouts, 5xx and 429 are retried up to
    ``max_retries`` times; the n-th retry waits ``base * 2**(n-1)`` seconds,
    ±``jitter``, at most ``cap``; a ``Retry-After`` on 429/503 is honoured
    (also at most ``cap``).

    Example:
        >>> p = RetryPolicy()
        >>> 0.075 <= p.delay(1) <= 0.125 and 0.15 <= p.delay(2) <= 0.25
        True
        >>> p.delay(30)
        30.0
        >>> p.delay(1, retry_after=2.0)
        2.0
    """

    max_retries: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    base: float = 0.1
    cap: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (from 1).

        Example:
            >>> RetryPolicy(jitter=0).delay(3)
            0.4
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        spread = 1 + self.jitter * (2 * random.random() - 1)
        exponent: float = 2.0 ** min(attempt - 1, 60)
        return min(self.base * exponent * spread, self.cap)

    @staticmethod
    def retryable_status(status: int) -> bool:
        """Whether an answer with ``status`` is worth another attempt.

        Example:
            >>> [RetryPolicy.retryable_status(s) for s in (200, 404, 429, 503)]
            [False, False, True, True]
        """
        return status >= 500 or status == 429


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or HTTP date).

    Example:
        >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
        (3.0, None, None)
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# -- calls ----------------------------------------------------------------------


@attrs.frozen
class Call:
    """One API call: the entry, its path parameters, query and JSON body.

    ``str()`` is how errors name it, e.g. ``queue.status(taskId='…')``.

    Example:
        >>> c = Call.of("queue", "listTaskGroup", taskGroupId="XDqefRsvTG6ajX5vWks8LQ")
        >>> c.with_query(limit=10).query
        {'limit': 10}
    """

    endpoint: Endpoint
    params: Mapping[str, str | int] = attrs.field(factory=dict)
    query: Mapping[str, str | int] = attrs.field(factory=dict)
    body: Any = None

    @classmethod
    def of(
        cls,
        service: str,
        name: str,
        /,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        **params: str | int,
    ) -> Call:
        """Build a call from the service and entry names.

        Example:
            >>> Call.of("queue", "task", taskId="abc").endpoint.route
            '/task/<taskId>'
        """
        return cls(endpoint(service, name), params, dict(query or {}), body)

    def with_query(self, **query: str | int | None) -> Call:
        """A copy with these query keys set (``None`` removes one).

        Example:
            >>> c = Call.of("queue", "listTaskGroup", taskGroupId="g", query={"limit": 10})
            >>> c.with_query(continuationToken="t", limit=None).query
            {'continuationToken': 't'}
        """
        merged = {**self.query, **query}
        return attrs.evolve(self, query={k: v for k, v in merged.items() if v is not None})

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.endpoint}({args})"


# -- paging -----------------------------------------------------------------------


@attrs.frozen
class Page:
    """One page of a listing: the whole JSON body and the items taken from it.

    Example:
        >>> Page({"tasks": [1, 2]}, [1, 2]).items
        [1, 2]
    """

    body: dict[str, Any]
    items: list[Any]


@attrs.define
class Pager:
    """The state of a paged listing, free of I/O: which call fetches the next
    page, and what each page gave. ``page_size`` is sent as ``limit``;
    ``max_items`` stops after that many items. A page is asked for only when
    the previous one is used up and had a ``continuationToken``.

    Example:
        >>> p = Pager(Call.of("queue", "listTaskGroup", taskGroupId="g"), "tasks", max_items=3)
        >>> p.next_call() is not None
        True
        >>> p.accept({"tasks": [1, 2], "continuationToken": "t"}).items
        [1, 2]
        >>> p.next_call().query
        {'continuationToken': 't'}
        >>> p.accept({"tasks": [3, 4], "continuationToken": "u"}).items
        [3]
        >>> p.next_call() is None
        True
    """

    call: Call
    items_key: str
    page_size: int | None = None
    max_items: int | None = None
    _token: str | None = None
    _started: bool = False
    _count: int = 0

    def next_call(self) -> Call | None:
        """The call for the next page, or ``None`` when the listing is done.

        Example:
            >>> p = Pager(Call.of("queue", "listTaskGroup", taskGroupId="g"), "tasks", 50)
            >>> p.next_call().query
            {'limit': 50}
        """
        if self._started and self._token is None:
            return None
        if self.max_items is not None and self._count >= self.max_items:
            return None
        return self.call.with_query(continuationToken=self._token, limit=self.page_size)

    def accept(self, body: Any) -> Page:
        """Take in the body of the page :meth:`next_call` fetched.

        Example:
            >>> p = Pager(Call.of("queue", "listTaskGroup", taskGroupId="g"), "tasks")
            >>> p.accept({"tasks": [1, 2, 3]}).items, p.next_call()
            ([1, 2, 3], None)
        """
        if not isinstance(body, dict):
            raise TypeError(f"{self.call}: a page must be a JSON object")
        self._started = True
        token = body.get("continuationToken")
        self._token = token if isinstance(token, str) and token else None
        items = list(body.get(self.items_key) or [])
        if self.max_items is not None:
            items = items[: self.max_items - self._count]
        self._count += len(items)
        return Page(body, items)


# -- the transport --------------------------------------------------------------------


def _client_headers() -> dict[str, str]:
    return {"User-Agent": f"tcmodel/{__version__}"}


class Transport:
    """Signed HTTP for one deployment: URLs, retries, errors, paging.

    ``client``/``async_client`` may be the user's own httpx clients (proxies,
    custom TLS, event hooks); requests are still signed per send. Otherwise
    tcmodel makes one with keep-alive and sane timeouts, and closes it in
    :meth:`close`. ``clock`` (Unix seconds) is the time Hawk signs with,
    ``time.time`` by default; a local cluster whose clock was moved forward
    needs its own.

    Example:
        >>> t = Transport("https://tc.example.com", ("me", "token"))
        >>> t
        <Transport 'https://tc.example.com' client_id='me'>
    """

    def __init__(
        self,
        root_url: str,
        credentials: CredentialsLike | None = None,
        *,
        authorized_scopes: Sequence[str] | None = None,
        max_retries: int = 5,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.root_url = normalize_root_url(root_url)
        self.credentials = Credentials.coerce(credentials)
        self.authorized_scopes = list(authorized_scopes) if authorized_scopes is not None else None
        self.auth: HawkAuth | None = (
            HawkAuth(self.credentials, self.authorized_scopes, origin=self.root_url, now=clock)
            if self.credentials is not None
            else None
        )
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self._clock = clock
        self._client = client
        self._async_client = async_client
        self._owns_client = client is None
        self._owns_async_client = async_client is None

    def __repr__(self) -> str:
        who = f" client_id={self.credentials.client_id!r}" if self.credentials else ""
        return f"<Transport {self.root_url!r}{who}>"

    # clients

    @property
    def client(self) -> httpx.Client:
        """The sync httpx client (made on first use).

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.client is t.client
            True
            >>> t.close()
        """
        if self._client is None:
            self._client = httpx.Client(
                timeout=DEFAULT_TIMEOUT,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                headers=_client_headers(),
                follow_redirects=False,
            )
        return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async httpx client (made on first use).

        Example:
            >>> import asyncio
            >>> t = Transport("https://tc.example.com")
            >>> t.async_client is t.async_client
            True
            >>> asyncio.run(t.aclose())
        """
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(
                timeout=DEFAULT_TIMEOUT,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                headers=_client_headers(),
                follow_redirects=False,
            )
        return self._async_client

    def close(self) -> None:
        """Close the sync client if tcmodel made it.

        Example:
            >>> mine = httpx.Client()
            >>> Transport("https://tc.example.com", client=mine).close()
            >>> mine.is_closed
            False
            >>> mine.close()
        """
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async client if tcmodel made it.

        Example:
            >>> import asyncio
            >>> asyncio.run(Transport("https://tc.example.com").aclose())
        """
        if self._async_client is not None and self._owns_async_client:
            await self._async_client.aclose()
            self._async_client = None

    # building requests

    def url_for(self, call: Call) -> str:
        """The exact URL ``call`` is sent to.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.url_for(Call.of("queue", "listTaskGroup", taskGroupId="g", query={"limit": 5}))
            'https://tc.example.com/api/queue/v1/task-group/g/list?limit=5'
        """
        return api_url(self.root_url, call.endpoint, call.params, call.query)

    def signed_url(self, call: Call, *, expires_in: float = 900) -> str:
        """A bewit-signed URL for a GET ``call`` that works with no
        credentials until it expires (the URL itself then is a secret).

        Raises ``ValueError`` without credentials or for a non-GET entry.

        Example:
            >>> t = Transport("https://tc.example.com", ("me", "token"))
            >>> t.signed_url(Call.of("queue", "task", taskId="abc"), expires_in=60)
            'https://tc.example.com/api/queue/v1/task/abc?bewit=...'
        """
        if call.endpoint.method != "GET":
            raise ValueError(f"only GET entries can be signed, not {call.endpoint}")
        url = self.url_for(call)
        if self.credentials is None:
            raise ValueError("signed URLs need credentials")
        return sign_url(
            url,
            self.credentials,
            expires_at=int(self.now() + expires_in),
            authorized_scopes=self.authorized_scopes,
        )

    def build_request(self, call: Call) -> httpx.Request:
        """The ``httpx.Request`` for ``call``: exact URL and compact JSON body
        (the bytes Hawk hashes are the bytes sent).

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> r = t.build_request(Call.of("queue", "createTask", taskId="abc", body={"a": 1}))
            >>> r.method, r.content, r.headers["Content-Type"]
            ('PUT', b'{"a":1}', 'application/json')
        """
        headers = {"Accept": "application/json", **_client_headers()}
        content: bytes | None = None
        if call.body is not None:
            content = json.dumps(call.body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif call.endpoint.method in ("POST", "PUT"):
            content = b""
        return httpx.Request(
            call.endpoint.method, self.url_for(call), content=content, headers=headers
        )

    # operations

    def exchange(
        self,
        request: httpx.Request,
        what: str,
        *,
        stream: bool = False,
        auth: httpx.Auth | str | None = "default",
        idempotent: bool = True,
    ) -> Op[httpx.Response]:
        """Send ``request`` with retries; return the last response.

        Connection errors and timeouts are retried and, once the retries are
        spent, raised as :class:`~tcmodel.errors.ConnectionFailed`. 5xx and
        429 answers are retried; after the last attempt the response is
        returned as is (see :meth:`check`). A request that is not
        ``idempotent`` is retried only when it cannot have reached the
        service (the connection failed, or a 429).

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> op = t.exchange(httpx.Request("GET", "https://tc.example.com/x"), "x")
            >>> type(next(op)).__name__
            'Send'
        """
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response: httpx.Response = yield Send(request, stream, auth)
            except httpx.TransportError as exc:
                log.debug(
                    "%s: %s %s failed: %s",
                    what,
                    request.method,
                    redact_url(str(request.url)),
                    type(exc).__name__,
                )
                unsent = isinstance(
                    exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
                )
                if attempt >= self.retry.max_retries or not (idempotent or unsent):
                    raise ConnectionFailed(
                        what, request.method, str(request.url), f"{type(exc).__name__}: {exc}"
                    ) from None
                attempt += 1
                yield Sleep(self.retry.delay(attempt))
                continue
            status = response.status_code
            log.debug(
                "%s: %s %s -> %d (%.1f ms)",
                what,
                request.method,
                redact_url(str(request.url)),
                status,
                (time.monotonic() - started) * 1000,
            )
            retryable = self.retry.retryable_status(status) and (idempotent or status == 429)
            if not retryable or attempt >= self.retry.max_retries:
                return response
            if stream:
                yield Close(response)
            retry_after = None
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            attempt += 1
            yield Sleep(self.retry.delay(attempt, retry_after))

    def check(self, response: httpx.Response, what: str) -> None:
        """Raise the typed error for an error answer (status >= 400).

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> req = httpx.Request("GET", "https://tc.example.com/api/queue/v1/task/x/status")
            >>> body = {"code": "ResourceNotFound", "message": "no task x"}
            >>> t.check(httpx.Response(200, request=req), "queue.status")  # fine: no error
            >>> t.check(httpx.Response(404, json=body, request=req), "queue.status")
            Traceback (most recent call last):
            ...
            tcmodel.errors.NotFound: queue.status: 404 ResourceNotFound: no task x...
        """
        if response.status_code < 400:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        raise error_for_response(
            status=response.status_code,
            body=body,
            method=response.request.method,
            url=str(response.request.url),
            call=what,
            text=response.text if body is None else "",
        )

    def call(self, call: Call, *, auth: httpx.Auth | str | None = "default") -> Op[Any]:
        """Make an API call: the parsed JSON answer (``None`` for no body).

        Redirects are not followed: for the entries that redirect by design
        (getArtifact…) the 303's JSON body is returned (or ``{"url":
        Location}``). Any other redirect, or a success whose body is not
        JSON (a login page from a proxy, say), raises an
        :class:`~tcmodel.errors.APIError` naming the call. ``auth`` replaces
        the transport's signer for this call.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> type(next(t.call(Call.of("queue", "ping")))).__name__
            'Send'
        """
        what = str(call)
        request = self.build_request(call)
        response = yield from self.exchange(
            request, what, auth=auth, idempotent=call.endpoint.idempotent
        )
        self.check(response, what)
        status = response.status_code
        if 300 <= status < 400 and not call.endpoint.redirects:
            where = redact_url(response.headers.get("Location", "nowhere"))
            raise self._unexpected(response, what, f"unexpected redirect to {where}")
        if status == 204 or not response.content:
            if "Location" not in response.headers:
                return None
            return {"url": str(response.request.url.join(response.headers["Location"]))}
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            excerpt = redact_url(" ".join(response.text.split())[:200])
            raise self._unexpected(
                response, what, f"expected JSON, got {kind}: {excerpt}"
            ) from None

    @staticmethod
    def _unexpected(response: httpx.Response, what: str, message: str) -> APIError:
        return APIError(
            call=what,
            method=response.request.method,
            url=str(response.request.url),
            status=response.status_code,
            message=message,
        )

    def now(self) -> float:
        """The time this transport signs with (Unix seconds): its ``clock``,
        else the system's.

        Example:
            >>> Transport("https://tc.example.com", clock=lambda: 1700000000.0).now()
            1700000000.0
        """
        return self._clock() if self._clock is not None else time.time()

    def auth_for(self, credentials: Credentials) -> HawkAuth:
        """A signer for other credentials (e.g. those the queue hands out
        for one object download), for this deployment's origin and with this
        transport's clock.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.auth_for(Credentials("task-client/x", "token"))
            HawkAuth(client_id='task-client/x')
        """
        return HawkAuth(credentials, origin=self.root_url, now=self._clock)

    # drivers

    def _send_kwargs(self, step: Send, client: httpx.Client | httpx.AsyncClient) -> dict[str, Any]:
        # Requests are built outside the client, so give them the client's
        # default headers here (a user's client may carry its own). The
        # client's own ``auth`` is never used: signing is ours, per origin.
        for key, value in client.headers.items():
            if key not in step.request.headers:
                step.request.headers[key] = value
        auth = self.auth if isinstance(step.auth, str) else step.auth
        return {"auth": auth, "follow_redirects": False}

    def run(self, op: Op[T]) -> T:
        """Drive an operation to its end with the sync client; data it
        emits is dropped (see :meth:`stream`).

        Example:
            >>> def op():
            ...     yield Sleep(0)
            ...     return 42
            >>> Transport("https://tc.example.com").run(op())
            42
        """
        driver = self._drive(op)
        while True:
            try:
                next(driver)
            except StopIteration as stop:
                return cast(T, stop.value)

    def stream(self, op: Op[Any]) -> Iterator[Any]:
        """Drive an operation with the sync client, yielding what it emits,
        as it emits it.

        Example:
            >>> def op():
            ...     yield Emit(b"a")
            ...     yield Emit(b"b")
            >>> list(Transport("https://tc.example.com").stream(op()))
            [b'a', b'b']
        """
        yield from self._drive(op)

    def _drive(self, op: Op[T]) -> Generator[Any, None, T]:
        streams: _Streams[Iterator[bytes]] = _Streams()
        with closing(op), streams:
            value: Any = None
            error: Exception | None = None
            while True:
                done, step = _advance(op, value, error)
                if done:
                    return cast(T, step)
                value, error = None, None
                if isinstance(step, Emit):
                    yield step.data
                    continue
                try:
                    value = self._perform(step, streams)
                except httpx.TransportError as exc:
                    error = exc

    def _perform(self, step: IOStep, streams: _Streams[Iterator[bytes]]) -> Any:
        if isinstance(step, Send):
            response = self.client.send(
                step.request, stream=True, **self._send_kwargs(step, self.client)
            )
            if not step.stream or response.status_code >= 400:
                response.read()
                response.close()
            else:
                streams.opened(response)
            return response
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, ReadChunk):
            return next(streams.reader(step.response, step.response.iter_raw), b"")
        streams.closed(step.response)
        step.response.close()
        return None

    async def arun(self, op: Op[T], on_emit: Callable[[Any], None] | None = None) -> T:
        """Drive an operation to its end with the async client; data it
        emits goes to ``on_emit`` (dropped without one).

        Example:
            >>> import asyncio
            >>> def op():
            ...     yield Sleep(0)
            ...     return 42
            >>> asyncio.run(Transport("https://tc.example.com").arun(op()))
            42
        """
        streams: _Streams[AsyncIterator[bytes]] = _Streams()
        op = consume(op, on_emit or _discard)  # emits never reach the loop below
        try:
            with closing(op):
                value: Any = None
                error: Exception | None = None
                while True:
                    done, step = _advance(op, value, error)
                    if done:
                        return cast(T, step)
                    value, error = None, None
                    try:
                        value = await self._aperform(step, streams)
                    except httpx.TransportError as exc:
                        error = exc
        finally:
            for response in streams.left_open():
                await response.aclose()

    async def _aperform(self, step: IOStep, streams: _Streams[AsyncIterator[bytes]]) -> Any:
        if isinstance(step, Send):
            client = self.async_client
            response = await client.send(
                step.request, stream=True, **self._send_kwargs(step, client)
            )
            if not step.stream or response.status_code >= 400:
                await response.aread()
                await response.aclose()
            else:
                streams.opened(response)
            return response
        if isinstance(step, Sleep):
            import anyio  # httpx's own dependency; imported only when async is used

            await anyio.sleep(step.seconds)
            return None
        if isinstance(step, ReadChunk):
            try:
                return await streams.reader(step.response, step.response.aiter_raw).__anext__()
            except StopAsyncIteration:
                return b""
        streams.closed(step.response)
        await step.response.aclose()
        return None

    # conveniences over the drivers

    def request(self, service: str, name: str, /, **kwargs: Any) -> Any:
        """Call any API entry and return its JSON (sync); ``kwargs`` are
        those of :meth:`Call.of` (path parameters, ``query``, ``body``).

        Example:
            >>> # cluster.transport.request("queue", "status", taskId=task_id)
        """
        return self.run(self.call(Call.of(service, name, **kwargs)))

    async def arequest(self, service: str, name: str, /, **kwargs: Any) -> Any:
        """Call any API entry and return its JSON (async).

        Example:
            >>> # await cluster.transport.arequest("queue", "status", taskId=task_id)
        """
        return await self.arun(self.call(Call.of(service, name, **kwargs)))

    def all_items(self, pager: Pager) -> Op[list[Any]]:
        """An operation that fetches every page of ``pager`` and returns all
        the items (for bulk calls whose results are wanted at once).

        Example:
            >>> # items = transport.run(transport.all_items(Pager(call, "statuses")))
        """
        items: list[Any] = []
        while (call := pager.next_call()) is not None:
            items += pager.accept((yield from self.call(call))).items
        return items

    def pages(self, pager: Pager) -> Iterator[Page]:
        """Fetch the pages of ``pager`` lazily, one request per page.

        Example:
            >>> # for page in transport.pages(Pager(call, "tasks")): ...
        """
        while (call := pager.next_call()) is not None:
            yield pager.accept(self.run(self.call(call)))

    async def apages(self, pager: Pager) -> AsyncIterator[Page]:
        """The async form of :meth:`pages`.

        Example:
            >>> # async for page in transport.apages(Pager(call, "tasks")): ...
        """
        while (call := pager.next_call()) is not None:
            yield pager.accept(await self.arun(self.call(call)))

    def paginate(
        self,
        call: Call,
        items_key: str,
        *,
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> Iterator[Any]:
        """Yield the items of a paged listing lazily, across
        ``continuationToken`` pages; ``page_size`` is the ``limit`` sent and
        ``max_items`` caps the number of items.

        Example:
            >>> # for t in transport.paginate(Call.of("queue", "listTaskGroup",
            >>> #         taskGroupId=g), "tasks", page_size=100): ...
        """
        pager = Pager(call, items_key, page_size, max_items)
        for page in self.pages(pager):
            yield from page.items

    async def apaginate(
        self,
        call: Call,
        items_key: str,
        *,
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> AsyncIterator[Any]:
        """The async form of :meth:`paginate`.

        Example:
            >>> # async for task in transport.apaginate(call, "tasks", page_size=100): ...
        """
        pager = Pager(call, items_key, page_size, max_items)
        async for page in self.apages(pager):
            for item in page.items:
                yield item


R = TypeVar("R")


class _Streams(Generic[R]):
    """The streamed responses a driver has open, and their readers; whatever
    an operation leaves open (it failed, or was abandoned) is closed when the
    driver ends."""

    def __init__(self) -> None:
        self._open: dict[int, tuple[httpx.Response, R | None]] = {}

    def opened(self, response: httpx.Response) -> None:
        self._open[id(response)] = (response, None)

    def reader(self, response: httpx.Response, make: Callable[[], R]) -> R:
        _, reader = self._open.get(id(response), (response, None))
        if reader is None:
            reader = make()
            self._open[id(response)] = (response, reader)
        return reader

    def closed(self, response: httpx.Response) -> None:
        self._open.pop(id(response), None)

    def left_open(self) -> list[httpx.Response]:
        responses = [r for r, _ in self._open.values()]
        self._open.clear()
        return responses

    def __enter__(self) -> _Streams[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        for response in self.left_open():
            response.close()


def _advance(op: Op[Any], value: Any, error: Exception | None) -> tuple[bool, Any]:
    """Resume ``op`` with a result or an error: ``(True, result)`` when it
    has returned, else ``(False, next_step)``."""
    try:
        return False, (op.throw(error) if error is not None else op.send(value))
    except StopIteration as stop:
        return True, stop.value


def _discard(data: Any) -> None:
    """Drop emitted data (drivers with no consumer)."""


def consume(op: Op[T], on_data: Callable[[Any], None]) -> Op[T]:
    """Wrap ``op`` so that what it emits goes to ``on_data`` (a file's
    ``write``, say) instead of up to the driver; every other step passes
    through, and errors thrown in reach ``op``.

    Example:
        >>> def op():
        ...     yield Emit(b"ab")
        ...     return 1
        >>> got = []
        >>> Transport("https://tc.example.com").run(consume(op(), got.append)), got
        (1, [b'ab'])
    """
    with closing(op):
        value: Any = None
        error: Exception | None = None
        while True:
            done, step = _advance(op, value, error)
            if done:
                return cast(T, step)
            value, error = None, None
            if isinstance(step, Emit):
                on_data(step.data)
                continue
            try:
                value = yield step
            except Exception as exc:  # hand it to the inner operation
                error = exc


def op_result(value: T) -> Op[T]:
    """An operation that sends nothing and returns ``value``.

    Example:
        >>> Transport("https://tc.example.com").run(op_result(7))
        7
    """
    return value
    yield Sleep(0)  # type: ignore[unreachable]  # makes this a generator


def map_op(op: Op[Any], fn: Callable[[Any], T]) -> Op[T]:
    """An operation returning ``fn`` of what ``op`` returns.

    Example:
        >>> Transport("https://tc.example.com").run(map_op(op_result(2), lambda v: v * 3))
        6
    """
    return fn((yield from op))
