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
import re
import sys
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import closing, contextmanager, suppress
from typing import Any, Generic, TypeVar, cast, overload

import attrs
import httpx

from tcmodel import _json, _logsafety
from tcmodel._aio import within
from tcmodel._pool import async_client, ssl_context, without_cookies
from tcmodel._version import __version__
from tcmodel.api import Endpoint, endpoint
from tcmodel.credentials import Credentials, CredentialsLike
from tcmodel.errors import (
    AnswerTooLarge,
    APIError,
    ConfigurationError,
    ConnectionFailed,
    MalformedAnswer,
    PagingError,
    TaskclusterError,
    error_for_response,
    redact_url,
)
from tcmodel.hawk import HawkAuth, sign_url
from tcmodel.models import ModelDataError
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
    "parse_retry_after",
    "parsing",
    "resolve_url",
]

log = logging.getLogger("tcmodel")

T = TypeVar("T")
CHUNK_SIZE = 64 * 1024
# Transport errors after which the request surely never reached the service.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: How long one attempt of an API call may take in all (seconds), by default.
DEFAULT_DEADLINE = 120.0
#: How long one attempt of a download may take in all (seconds), by default.
DEFAULT_DOWNLOAD_DEADLINE = 3600.0
#: The largest API answer body read (bytes), by default: listings are paged.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Requests in flight at once per event loop (the async client's connections),
#: and operations :mod:`tcmodel.concurrency` runs at once, by default (the most
#: threads ``concurrent.futures`` starts by default; with 16, 50 gathered
#: requests to a deployment 10 ms away went out in four waves).
DEFAULT_CONCURRENCY = 32
#: The longest ``continuationToken`` sent back (characters).
MAX_TOKEN_LENGTH = 8 * 1024
#: A clock correction smaller than this (seconds) is not worth a retry.
_MIN_CLOCK_FIX = 5.0


# -- steps an operation yields ------------------------------------------------


@attrs.frozen
class Send:
    """Send ``request``; the result is the ``httpx.Response``.

    With ``stream`` the body is left unread (use :class:`ReadChunk`), except
    for error statuses (>= 400), whose body is always read. ``auth`` replaces
    the transport's own signer for this send (e.g. the temporary credentials
    the queue hands out for one object download); ``None`` sends unsigned.
    ``deadline`` is how long this attempt may take in all, in seconds, from
    sending to the last :class:`ReadChunk` of a streamed answer (``None``:
    the transport's :attr:`~Transport.deadline`); past it the driver raises
    an ``httpx.TimeoutException``, retried like any other.

    Example:
        >>> Send(httpx.Request("GET", "https://tc/x")).stream
        False
        >>> Send(httpx.Request("GET", "https://tc/x"), deadline=5.0).deadline
        5.0
    """

    request: httpx.Request
    stream: bool = False
    auth: httpx.Auth | str | None = "default"
    deadline: float | None = None


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

    Anything else (``soon``, ``²``, ``①``, a date out of range) counts as
    no header at all.

    Example:
        >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
        (3.0, None, None)
        >>> parse_retry_after("²"), parse_retry_after("①")
        (None, None)
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    when = _http_date(value)
    return None if when is None else max(0.0, when - time.time())


def _http_date(value: str) -> float | None:
    """Unix seconds of an HTTP date (``Date``, ``Retry-After``), or ``None``."""
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


# -- calls ----------------------------------------------------------------------


@attrs.frozen
class Call:
    """One API call: the entry, its path parameters, query and JSON body.

    ``str()`` is how errors name it, e.g. ``queue.status(taskId='…')``.
    The path parameters must be the entry's (``TypeError`` otherwise, as for
    a function called with the wrong arguments).

    Example:
        >>> c = Call.of("queue", "listTaskGroup", taskGroupId="XDqefRsvTG6ajX5vWks8LQ")
        >>> c.with_query(limit=10).query
        {'limit': 10}
        >>> Call.of("queue", "status")
        Traceback (most recent call last):
        ...
        TypeError: queue.status takes the path parameter(s) taskId, not none
    """

    endpoint: Endpoint
    params: Mapping[str, str | int] = attrs.field(factory=dict)
    query: Mapping[str, str | int] = attrs.field(factory=dict)
    body: Any = None

    def __attrs_post_init__(self) -> None:
        if set(self.params) != set(self.endpoint.params):
            wanted = ", ".join(self.endpoint.params) or "none"
            given = ", ".join(self.params) or "none"
            raise TypeError(f"{self.endpoint} takes the path parameter(s) {wanted}, not {given}")

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
        """Build a call from the service and entry names (``ValueError``
        for an entry tcmodel does not know).

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
        hidden = self.endpoint.secret_params
        args = ", ".join(
            f"{k}={'<redacted>' if k in hidden else repr(v)}" for k, v in self.params.items()
        )
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

    A page that cannot be followed raises :class:`~tcmodel.errors.PagingError`
    naming the call: not a JSON object, no list of items, a token that is
    not a string, too long to send back, or one the listing had already
    (a server, or a caching proxy ignoring the query, that repeats a token
    would make the listing go on forever).

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
        >>> p = Pager(Call.of("queue", "listTaskGroup", taskGroupId="g"), "tasks")
        >>> p.accept({"tasks": [1], "continuationToken": "t"}).items
        [1]
        >>> p.accept({"tasks": [1], "continuationToken": "t"})
        Traceback (most recent call last):
        ...
        tcmodel.errors.PagingError: queue.listTaskGroup(taskGroupId='g'): 200: \
the continuationToken 't' came before: the listing would never end
    """

    call: Call
    items_key: str
    page_size: int | None = None
    max_items: int | None = None
    _token: str | None = None
    _started: bool = False
    _count: int = 0
    _seen: set[str] = attrs.field(factory=set)

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
            raise self._error(f"a page must be a JSON object, not {type(body).__name__}")
        items = body.get(self.items_key)
        if not isinstance(items, list):
            raise self._error(f"the page has no list of {self.items_key!r}")
        self._token = self._follow(body.get("continuationToken"))
        self._started = True
        if self.max_items is not None:
            items = items[: self.max_items - self._count]
        self._count += len(items)
        return Page(body, items)

    def _follow(self, token: Any) -> str | None:
        """The token to send for the next page (``None``: the last page)."""
        if token is None or token == "":
            return None
        if not isinstance(token, str):
            raise self._error(f"the continuationToken is a {type(token).__name__}, not a string")
        if len(token) > MAX_TOKEN_LENGTH:
            raise self._error(
                f"a continuationToken of {len(token)} characters is too long to send back"
            )
        if token in self._seen:
            shown = repr(token) if len(token) <= 40 else repr(token[:40] + "…")
            raise self._error(
                f"the continuationToken {shown} came before: the listing would never end"
            )
        self._seen.add(token)
        return token

    def _error(self, message: str) -> PagingError:
        return PagingError(
            call=str(self.call),
            method=self.call.endpoint.method,
            url="",
            status=200,
            message=message,
        )


# -- reading answers ------------------------------------------------------------------

#: What code reading an answer of the wrong shape raises, besides ModelDataError.
_SHAPE_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
    OverflowError,
)


def _about(what: str, message: str) -> ModelDataError:
    text = message if len(message) <= 500 else message[:500] + "…"
    error = ModelDataError(f"{what}: {text}")
    error.call = what
    return error


@contextmanager
def parsing(call: Call | str) -> Iterator[None]:
    """A block that turns the answer of ``call`` into objects: any
    :class:`~tcmodel.models.ModelDataError` raised in it gets the call in
    front of its message (and in ``.call``), and what code reading an answer
    of the wrong shape raises (``KeyError``, ``TypeError``, ``ValueError``
    such as an id that is no slugId…) becomes one. Other
    :class:`~tcmodel.errors.TaskclusterError` pass through.

    Example:
        >>> from tcmodel.models import TaskStatus
        >>> with parsing(Call.of("queue", "status", taskId="Dx4tPEtaRpeIeWpbTD0uHw")):
        ...     TaskStatus._from_json({"taskId": "Dx4tPEtaRpeIeWpbTD0uHw"})
        Traceback (most recent call last):
        ...
        tcmodel.models.ModelDataError: queue.status(taskId='Dx4tPEtaRpeIeWpbTD0uHw'): \
TaskStatus: missing required key(s) ...
        >>> with parsing("index.findTask(indexPath='a.b')"):
        ...     {}["taskId"]
        Traceback (most recent call last):
        ...
        tcmodel.models.ModelDataError: index.findTask(indexPath='a.b'): unexpected answer: \
KeyError: 'taskId'
    """
    what = str(call)
    try:
        yield
    except ModelDataError as exc:
        if exc.call is not None:
            raise
        raise _about(what, str(exc)) from None
    except TaskclusterError:
        raise
    except _SHAPE_ERRORS as exc:
        raise _about(what, f"unexpected answer: {type(exc).__name__}: {exc}") from None


_HOST = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+")
_USERINFO = re.compile(r"(//)[^/?#@]*@")


def resolve_url(what: str, base: str | httpx.URL, location: str, *, status: int = 200) -> str:
    """``location`` (a redirect's ``Location``, or a URL in an answer)
    made absolute against ``base`` (the URL asked), once it is known to be
    a usable ``http``/``https`` URL with a host, a valid port and no user
    info; otherwise a :class:`~tcmodel.errors.MalformedAnswer` naming the
    call ``what`` (never retried: asking again gets the same answer).

    Example:
        >>> resolve_url("queue.getArtifact(…)", "https://tc.example.com/api/x", "/blob/y")
        'https://tc.example.com/blob/y'
        >>> resolve_url("queue.getArtifact(…)", "https://tc.example.com/api/x", "http://[::1",
        ...             status=303)
        Traceback (most recent call last):
        ...
        tcmodel.errors.MalformedAnswer: queue.getArtifact(…): 303: unusable URL 'http://[::1'...
    """
    problem = "not a string"
    if isinstance(location, str):
        url, problem = _joined(base, location)
        if url is not None:
            return str(url)
    shown = type(location).__name__
    if isinstance(location, str):
        shown = repr(_USERINFO.sub(r"\1…@", location[:200]))  # may hold a password
    raise MalformedAnswer(
        call=what,
        method="GET",
        url=str(base),
        status=status,
        message=f"unusable URL {shown} ({problem})",
    )


def _joined(base: str | httpx.URL, location: str) -> tuple[httpx.URL | None, str]:
    """``location`` made absolute against ``base`` (parsed once), or
    ``None`` and what makes it unusable."""
    try:
        url = httpx.URL(base).join(location)
        port = url.port
        host = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        return None, str(exc)[:100]
    problem = ""
    if url.scheme not in ("http", "https"):
        problem = f"scheme {url.scheme!r}"
    elif not host or not _HOST.fullmatch(host):
        problem = "no valid host"
    elif port is not None and not 0 < port < 65536:
        problem = f"port {port}"
    elif url.userinfo:
        problem = "it carries user info"
    return (None if problem else url), problem


# -- the transport --------------------------------------------------------------------


def _seconds(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, not {value!r}")
    return float(value)


def _is_plain_text(response: httpx.Response) -> bool:
    media: str = response.headers.get("Content-Type", "")
    return media.split(";", 1)[0].strip().lower() == "text/plain"


def _client_headers() -> dict[str, str]:
    return {"User-Agent": f"tcmodel/{__version__}"}


def _client_options() -> dict[str, Any]:
    """How tcmodel makes its httpx clients, sync and async alike (the async
    ones get their own pool: see :mod:`tcmodel._pool`)."""
    _logsafety.install()  # also covers loggers made since import (e.g. HTTP/2's)
    return {
        "timeout": DEFAULT_TIMEOUT,
        # As many kept alive as open: httpcore closes at once every idle
        # connection beyond its keep-alive count, and then opens new ones.
        "limits": httpx.Limits(max_connections=20, max_keepalive_connections=20),
        "verify": ssl_context(),
        "headers": _client_headers(),
        "follow_redirects": False,
    }


def _running_loop() -> Any:
    """The event loop running in this thread: asyncio's loop, or the token
    of the running trio run (``trio.lowlevel.current_trio_token()``);
    ``None`` outside any. Neither library is imported to ask."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        loop = asyncio._get_running_loop()
        if loop is not None:
            return loop
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token()
        except RuntimeError:  # not in a trio run
            return None
    return None


def _call_soon(loop: Any, fn: Callable[..., object], *args: Any) -> bool:
    """Have ``fn(*args)`` called in ``loop`` (asyncio's, or a trio token),
    from any thread; whether it will be (not when the loop is gone)."""
    try:
        if hasattr(loop, "call_soon_threadsafe"):
            loop.call_soon_threadsafe(fn, *args)
        else:
            loop.run_sync_soon(fn, *args)  # trio.RunFinishedError is a RuntimeError
    except RuntimeError:
        return False
    return True


def _loop_closed(loop: Any) -> bool:
    """Whether ``loop`` (asyncio's, or a trio token) has ended."""
    if hasattr(loop, "is_closed"):
        return bool(loop.is_closed())
    return not _call_soon(loop, _discard, None)


def _spawn_in(loop: Any, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` as a task of ``loop`` (called in that loop's thread)."""
    if hasattr(loop, "create_task"):
        loop.create_task(work)
    else:
        import trio

        async def run() -> None:
            await work

        trio.lowlevel.spawn_system_task(run)


def _step(awaitable: Any) -> None:
    """Run a coroutine step that completes without suspending."""
    with suppress(StopIteration):
        cast(Coroutine[Any, Any, Any], awaitable).send(None)


class _LoopClient:
    """One of our async clients and the event loop it belongs to: an
    asyncio loop, or a trio run (its token); ``None``: made outside both.

    A suspended async generator is registered with the loop: when the loop
    shuts down (``loop.shutdown_asyncgens()``, which ``asyncio.run``,
    ``anyio.run`` and pytest-asyncio call; a trio run's end), the generator
    is closed in the loop, and its ``finally`` closes the client there,
    connections and all.
    """

    def __init__(self, loop: Any, client: httpx.AsyncClient) -> None:
        self.loop = loop
        self.client = client
        self._keeper = self._close_at_shutdown() if loop is not None else None
        if self._keeper is not None:
            _step(self._keeper.__anext__())  # the loop now knows the generator

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._keeper is not None and not _loop_closed(self.loop):  # see discard()
                import anyio

                # Shielded: trio closes what is left at the end of a run
                # inside a cancelled scope.
                with anyio.CancelScope(shield=True):
                    await self.client.aclose()

    @property
    def stale(self) -> bool:
        """Whether the client can serve no more (closed, or its loop is)."""
        return self.client.is_closed or (self.loop is not None and _loop_closed(self.loop))

    async def aclose(self) -> None:
        """Close the client (in its own loop, or with no loop of its own)."""
        # The keeper ends at once: were it still closing the client when the
        # loop shuts down, the loop would close it again ("already running").
        self.discard()
        await self.client.aclose()

    def close_soon(self) -> None:
        """Have the client closed in its loop, from any thread; one whose
        loop is closed is dropped (nothing can close its sockets any more
        but the garbage collector)."""
        if self.loop is not None:
            closing_op = self.aclose()
            if _call_soon(self.loop, _spawn_in, self.loop, closing_op):
                return
            closing_op.close()  # the loop is gone
        self.discard()

    def discard(self) -> None:
        """Stop watching the loop's shutdown, without I/O: the client is
        being closed, or its loop is gone or never was."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            # It finishes at once (without _keeper, nothing to await), unless
            # its loop is closing it right now, in another thread maybe.
            with suppress(RuntimeError):  # "already running": in its loop's hands
                _step(keeper.aclose())


class Transport:
    """Signed HTTP for one deployment: URLs, retries, errors, paging.

    ``client``/``async_client`` may be the user's own httpx clients (proxies,
    custom TLS, event hooks); requests are still signed per send. Otherwise
    tcmodel makes one with keep-alive and sane timeouts, and closes it in
    :meth:`close`. ``clock`` (Unix seconds) is the time Hawk signs with,
    ``time.time`` by default; when a service refuses a request for a stale
    timestamp and its answer tells its time, the transport corrects its
    clock by the difference and sends the request again (once).

    Each attempt of a call may take ``deadline`` seconds in all (sending,
    waiting, reading: a server dripping its answer byte by byte is cut off
    there and the attempt counts as failed, :class:`~tcmodel.ConnectionFailed`
    once the retries are spent); each attempt of a download,
    ``download_deadline`` seconds; ``None`` sets no limit. (The async
    driver cuts an attempt off at its deadline; the sync one checks it
    between reads, each of which waits at most the time the attempt had
    left when it began.) API answers
    larger than ``max_answer_bytes`` are not read whole:
    :class:`~tcmodel.errors.AnswerTooLarge`. The async client of each event
    loop keeps at most ``concurrency`` requests in flight (later ones wait
    for a connection); it is also the default bound of
    :mod:`tcmodel.concurrency`'s helpers.

    Example:
        >>> t = Transport("https://tc.example.com", ("me", "token"))
        >>> t
        <Transport 'https://tc.example.com' client_id='me'>
        >>> t.deadline, t.download_deadline, t.max_answer_bytes, t.concurrency
        (120.0, 3600.0, 16777216, 32)
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
        deadline: float | None = DEFAULT_DEADLINE,
        download_deadline: float | None = DEFAULT_DOWNLOAD_DEADLINE,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        #: Seconds one attempt of an API call may take in all (``None``: no limit).
        self.deadline = _seconds("deadline", deadline)
        #: Seconds one attempt of a download may take in all (``None``: no limit).
        self.download_deadline = _seconds("download_deadline", download_deadline)
        if not isinstance(max_answer_bytes, int) or max_answer_bytes < 1:
            raise ValueError(
                f"max_answer_bytes must be a positive integer, not {max_answer_bytes!r}"
            )
        #: The largest API answer body read.
        self.max_answer_bytes = max_answer_bytes
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
        #: Requests in flight at once per event loop (the async client's pool
        #: size, fixed when that client is made), and the default bound of
        #: :mod:`tcmodel.concurrency`'s helpers.
        self.concurrency = concurrency
        self._skew = 0.0  # the services' clock minus ours, once a 401 told it
        self.root_url = normalize_root_url(root_url)
        self.authorized_scopes = list(authorized_scopes) if authorized_scopes is not None else None
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self._clock = clock
        self._lock = threading.Lock()
        self.use_credentials(credentials)
        self._set_clients(client, async_client)

    def _set_clients(
        self, client: httpx.Client | None, async_client: httpx.AsyncClient | None
    ) -> None:
        self._client = client
        self._async_client = async_client  # the user's, for every event loop
        self._async_clients: dict[Any, _LoopClient] = {}  # ours, by event loop
        self._owns_client = client is None
        self._owns_async_client = async_client is None
        self._closed = False

    def use_credentials(self, credentials: CredentialsLike | None) -> None:
        """Sign requests with ``credentials`` from now on (``None``:
        anonymous), e.g. on a transport that was unpickled without them.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.use_credentials(("me", "token"))
            >>> t
            <Transport 'https://tc.example.com' client_id='me'>
        """
        creds = Credentials.coerce(credentials)
        auth = (
            HawkAuth(creds, self.authorized_scopes, origin=self.root_url, now=self.now)
            if creds is not None
            else None
        )
        with self._lock:
            self.credentials, self.auth = creds, auth

    def __repr__(self) -> str:
        who = f" client_id={self.credentials.client_id!r}" if self.credentials else ""
        return f"<Transport {self.root_url!r}{who}>"

    # clients

    @property
    def client(self) -> httpx.Client:
        """The sync httpx client: made on first use, once, however many
        threads ask at the same moment. After :meth:`close` it raises
        :class:`~tcmodel.errors.ConfigurationError` rather than open a
        client nobody would close.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.client is t.client
            True
            >>> t.close()
            >>> t.client
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: <Transport 'https://tc.example.com'> is closed...
        """
        with self._lock:
            self._check_open()
            if self._client is None:
                self._client = without_cookies(httpx.Client(**_client_options()))
            return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async httpx client of the running event loop, made on first
        use in that loop (an httpx async client is bound to the loop it
        first ran in, so each loop gets its own: ``asyncio.run`` may be
        called again and again on one transport). Each is closed when its
        loop shuts down (``asyncio.run``, ``anyio.run`` and pytest-asyncio
        see to it) or by :meth:`aclose`. A client you gave is used in every
        loop. Raises :class:`~tcmodel.errors.ConfigurationError` once closed.

        Example:
            >>> import asyncio
            >>> t = Transport("https://tc.example.com")
            >>> async def same_client() -> bool:
            ...     return t.async_client is t.async_client
            >>> asyncio.run(same_client())
            True
            >>> async def client_of_this_loop() -> httpx.AsyncClient:
            ...     return t.async_client
            >>> asyncio.run(client_of_this_loop()) is asyncio.run(client_of_this_loop())
            False
            >>> asyncio.run(t.aclose())
        """
        loop = _running_loop()
        with self._lock:
            self._check_open()
            if self._async_client is not None:
                return self._async_client
            held = self._async_clients.get(loop)
            # (The running loop is not closed: only the client may be.)
            if held is None or held.client.is_closed:
                for gone in [k for k, v in self._async_clients.items() if v.stale]:
                    self._async_clients.pop(gone).discard()
                held = _LoopClient(loop, async_client(self.concurrency, **_client_options()))
                self._async_clients[loop] = held
            return held.client

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError(
                f"{self!r} is closed: it sends no more requests "
                "(make a new Cluster, e.g. with Cluster.from_url())"
            )

    def _shut(self) -> list[_LoopClient]:
        """Refuse requests from now on and close the sync client if ours;
        hand back our async clients for the caller to close."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            held, self._async_clients = list(self._async_clients.values()), {}
        if client is not None and self._owns_client:
            client.close()
        return held

    def close(self) -> None:
        """Close the clients tcmodel made (yours are left open); any later
        request raises :class:`~tcmodel.errors.ConfigurationError`. An async
        client of an event loop that still runs is closed in that loop
        (prefer :meth:`aclose` there).

        Example:
            >>> mine = httpx.Client()
            >>> Transport("https://tc.example.com", client=mine).close()
            >>> mine.is_closed
            False
            >>> mine.close()
        """
        for held in self._shut():
            held.close_soon()

    async def aclose(self) -> None:
        """Close the clients tcmodel made, the running loop's at once (see
        :meth:`close`).

        Example:
            >>> import asyncio
            >>> asyncio.run(Transport("https://tc.example.com").aclose())
        """
        here = _running_loop()
        for held in self._shut():
            if held.loop is None or held.loop is here:
                await held.aclose()
            else:
                held.close_soon()

    # Never pickled: secrets, and what only makes sense in this process.
    _UNPICKLED = frozenset(
        {
            "credentials",
            "auth",
            "_clock",
            "_lock",
            "_client",
            "_async_client",
            "_async_clients",
            "_owns_client",
            "_owns_async_client",
            "_closed",
        }
    )

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle keeps: the settings, never the credentials, the
        HTTP clients or the clock; unpickled, the transport is anonymous
        (see :meth:`use_credentials`) and makes its own clients.

        Example:
            >>> import pickle
            >>> t = Transport("https://tc.example.com", ("me", "token"), max_retries=2)
            >>> back = pickle.loads(pickle.dumps(t))
            >>> back, back.retry.max_retries, back.credentials
            (<Transport 'https://tc.example.com'>, 2, None)
        """
        return {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clock = None
        self._lock = threading.Lock()
        self.use_credentials(None)
        self._set_clients(None, None)

    def __copy__(self) -> Transport:
        """A transport is shared, never copied (in this process a copy of a
        handle or a Cluster keeps signing with the same credentials).

        Example:
            >>> import copy
            >>> t = Transport("https://tc.example.com", ("me", "token"))
            >>> copy.copy(t) is t and copy.deepcopy(t) is t
            True
        """
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Transport:
        return self

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
        deadline: float | None = None,
    ) -> Op[httpx.Response]:
        """Send ``request`` with retries; return the last response.

        Connection errors and timeouts (an attempt that outlasts its
        ``deadline``, by default :attr:`deadline`, among them) are retried
        and, once the retries are spent, raised as
        :class:`~tcmodel.errors.ConnectionFailed`. 5xx and 429 answers are
        retried; after the last attempt the response is returned as is (see
        :meth:`check`). A request that is not ``idempotent`` is retried only
        when it cannot have reached the service (the connection failed, or a
        429). A 401 for a stale timestamp whose answer tells the service's
        time corrects this transport's clock and is sent again, once. An
        answer body that cannot be read (not decodable, larger than
        :attr:`max_answer_bytes`) raises its typed error naming ``what``.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> op = t.exchange(httpx.Request("GET", "https://tc.example.com/x"), "x")
            >>> type(next(op)).__name__
            'Send'
        """
        attempt = 0
        clock_fixed = False
        while True:
            started = time.monotonic()
            failure: str | None = None
            unreadable: _Unreadable | None = None
            try:
                response: httpx.Response = yield Send(request, stream, auth, deadline)
            except _Unreadable as exc:
                unreadable, response = exc, exc.response
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
                failure = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, _DeadlineExceeded):
                    failure = str(exc)
                give_up = attempt >= self.retry.max_retries or not (idempotent or unsent)
            if failure is not None:
                if give_up:
                    # Raised outside the handler, so the httpx error (whose
                    # request holds the Authorization header) is not chained.
                    raise ConnectionFailed(what, request.method, str(request.url), failure)
                attempt += 1
                yield Sleep(self.retry.delay(attempt))
                continue
            status = response.status_code
            if log.isEnabledFor(logging.DEBUG):  # the URL is not redacted for nothing
                log.debug(
                    "%s: %s %s -> %d (%.1f ms)",
                    what,
                    request.method,
                    redact_url(str(request.url)),
                    status,
                    (time.monotonic() - started) * 1000,
                )
            if status == 401 and not clock_fixed:
                body = b"" if unreadable is not None else response.content
                if self._fix_clock(response, auth, body, what):
                    clock_fixed = True
                    continue
            retryable = self.retry.retryable_status(status) and (idempotent or status == 429)
            if not retryable or attempt >= self.retry.max_retries:
                if unreadable is not None:
                    raise unreadable.error(what)
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
        except (ValueError, RecursionError):
            body = None
        raise error_for_response(
            status=response.status_code,
            body=body,
            method=response.request.method,
            url=str(response.request.url),
            call=what,
            text=response.text if body is None else "",
        )

    @overload
    def call(
        self, call: Call, *, auth: httpx.Auth | str | None = "default", convert: None = None
    ) -> Op[Any]: ...

    @overload
    def call(
        self,
        call: Call,
        *,
        auth: httpx.Auth | str | None = "default",
        convert: Callable[[Any], T],
    ) -> Op[T]: ...

    def call(
        self,
        call: Call,
        *,
        auth: httpx.Auth | str | None = "default",
        convert: Callable[[Any], Any] | None = None,
    ) -> Op[Any]:
        """Make an API call: the parsed JSON answer (``None`` for no body),
        or ``convert(answer)`` when given, inside :func:`parsing` (so that an
        answer of the wrong shape raises a
        :class:`~tcmodel.models.ModelDataError` naming the call).

        Redirects are not followed: for the entries that redirect by design
        (getArtifact…) the 303's JSON body is returned (or ``{"url":
        Location}``, once it is known to be a usable URL). Any other
        redirect, a success whose body is not JSON (a login page from a
        proxy, say) or nests too deep raises a
        :class:`~tcmodel.errors.MalformedAnswer` naming the call. ``auth``
        replaces the transport's signer for this call.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> type(next(t.call(Call.of("queue", "ping")))).__name__
            'Send'
            >>> from tcmodel.models import TaskStatus
            >>> cluster.transport.run(cluster.transport.call(
            ...     Call.of("queue", "status", taskId=build.task_id),
            ...     convert=lambda answer: TaskStatus._from_json(answer["status"]))).state
            'completed'
        """
        what = str(call)
        request = self.build_request(call)
        response = yield from self.exchange(
            request, what, auth=auth, idempotent=call.endpoint.idempotent
        )
        self.check(response, what)
        answer = self._answer(response, call, what)
        if convert is None:
            return answer
        with parsing(what):
            return convert(answer)

    def _answer(self, response: httpx.Response, call: Call, what: str) -> Any:
        """The JSON of a success (or expected redirect) answer."""
        status = response.status_code
        if 300 <= status < 400 and not call.endpoint.redirects:
            where = redact_url(response.headers.get("Location", "nowhere")[:200])
            raise self._unexpected(response, what, f"unexpected redirect to {where}")
        # a redirect without JSON (the index's and object service's 303s carry a
        # text/plain "See Other. Redirecting to …") goes by its Location
        text_redirect = 300 <= status < 400 and _is_plain_text(response)
        if status == 204 or not response.content or text_redirect:
            location = response.headers.get("Location")
            if location is None:
                return None
            return {"url": resolve_url(what, response.request.url, location, status=status)}
        if call.endpoint.output is None and _is_plain_text(response):
            return response.text  # an entry with no output schema (notify's "OK")
        try:
            return _json.loads(response.content)  # (a big page with the collector paused)
        except RecursionError:
            problem = "its JSON nests too deep"
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            excerpt = redact_url(" ".join(response.text[:10_000].split())[:200])
            problem = f"expected JSON, got {kind}: {excerpt}"
        # Raised outside the handler: the decoder's error holds the whole body.
        raise self._unexpected(response, what, problem)

    @staticmethod
    def _unexpected(response: httpx.Response, what: str, message: str) -> MalformedAnswer:
        return MalformedAnswer(
            call=what,
            method=response.request.method,
            url=str(response.request.url),
            status=response.status_code,
            message=message,
        )

    def _fix_clock(
        self, response: httpx.Response, auth: httpx.Auth | str | None, body: bytes, what: str
    ) -> bool:
        """After a 401 to a request we signed, for a stale timestamp, move
        this transport's clock to the service's when the answer tells it (a
        Hawk ``ts``/``tsm`` challenge, else the ``Date`` header); whether it
        moved enough for another try to be worth it."""
        signer = self.auth if isinstance(auth, str) else auth
        if "authorization" not in response.request.headers:
            return False
        challenge = response.headers.get("www-authenticate", "")
        server = signer.server_time(challenge) if isinstance(signer, HawkAuth) else None
        if server is None and _stale(challenge, body):
            date = _http_date(response.headers.get("date", ""))
            server = None if date is None else date + 0.5  # the middle of that second
        if server is None:
            return False
        ours = self._clock() if self._clock is not None else time.time()
        if abs(server - (ours + self._skew)) < _MIN_CLOCK_FIX:
            return False
        self._skew = server - ours  # set, not added: threads may race here
        log.warning(
            "%s: the local clock is %.0f s %s the service's: signing with the service's time",
            what,
            abs(self._skew),
            "behind" if self._skew > 0 else "ahead of",
        )
        return True

    def now(self) -> float:
        """The time this transport signs with (Unix seconds): its ``clock``,
        else the system's, corrected by what a service said its time was
        when it refused a stale timestamp.

        Example:
            >>> Transport("https://tc.example.com", clock=lambda: 1700000000.0).now()
            1700000000.0
        """
        ours = self._clock() if self._clock is not None else time.time()
        return ours + self._skew

    def auth_for(self, credentials: Credentials) -> HawkAuth:
        """A signer for other credentials (e.g. those the queue hands out
        for one object download), for this deployment's origin and with this
        transport's clock.

        Example:
            >>> t = Transport("https://tc.example.com")
            >>> t.auth_for(Credentials("task-client/x", "token"))
            HawkAuth(client_id='task-client/x')
        """
        return HawkAuth(credentials, origin=self.root_url, now=self.now)

    # drivers

    def _send_kwargs(self, step: Send, client: httpx.Client | httpx.AsyncClient) -> dict[str, Any]:
        # Requests are built outside the client, so give them the client's
        # default headers here (a user's client may carry its own). The
        # client's own ``auth`` is never used: signing is ours, per origin.
        headers = step.request.headers
        present = {key.lower() for key, _ in headers.raw}  # (one pass, not one per key)
        for key, value in client.headers.raw:
            if key.lower() not in present:
                headers[key.decode("latin-1")] = value.decode("latin-1")
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
                except (httpx.TransportError, _Unreadable) as exc:
                    error = exc

    def _budget(self, step: Send) -> _Budget:
        """The time the attempt ``step`` starts may take."""
        return _Budget.start(self.deadline if step.deadline is None else step.deadline)

    def _perform(self, step: IOStep, streams: _Streams[Iterator[bytes]]) -> Any:
        if isinstance(step, Send):
            return self._send(step, streams)
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, ReadChunk):
            streams.budget(step.response).check()
            return next(streams.reader(step.response, step.response.iter_raw), b"")
        streams.closed(step.response)
        step.response.close()
        return None

    def _send(self, step: Send, streams: _Streams[Iterator[bytes]]) -> httpx.Response:
        # Sync I/O cannot be interrupted: each read waits at most the time
        # the attempt had left when it began, and the deadline is checked
        # between reads (the async driver cuts off at the deadline itself).
        client = self.client
        budget = self._budget(step)
        budget.limit(step.request, client.timeout)
        heard = _Heard(step.request, asynchronous=False)
        try:
            response = client.send(step.request, stream=True, **self._send_kwargs(step, client))
        except (httpx.InvalidURL, httpx.RemoteProtocolError) as exc:
            raise heard.bad_redirect(exc) from None
        if step.stream and response.status_code < 400:
            streams.opened(response, budget)
            return response
        try:
            with _AnswerReader(response, self.max_answer_bytes, budget) as reader:
                for chunk in response.iter_bytes():
                    reader.take(chunk)
        finally:
            response.close()
        return response

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
        try:  # emits never reach the driver: consume() hands them on
            return cast(T, await self._adrive(consume(op, on_emit or _discard), streams))
        finally:
            for response in streams.left_open():
                await response.aclose()

    async def astream(self, op: Op[Any]) -> AsyncIterator[Any]:
        """Drive an operation with the async client, yielding what it emits,
        as it emits it (the async form of :meth:`stream`): between two
        items the operation waits, its streamed answers open.

        Example:
            >>> import asyncio
            >>> def op():
            ...     yield Emit(b"a")
            ...     yield Sleep(0)
            ...     yield Emit(b"b")
            >>> async def items() -> list[bytes]:
            ...     return [data async for data in Transport("https://tc.example.com").astream(op())]
            >>> asyncio.run(items())
            [b'a', b'b']
        """
        streams: _Streams[AsyncIterator[bytes]] = _Streams()
        try:
            with closing(op):
                while True:  # one run of the driver per item: up to the next emit
                    got = await self._adrive(_relay(op, None), streams)
                    if not isinstance(got, _Emitted):
                        return
                    yield got.data
        finally:
            for response in streams.left_open():
                await response.aclose()

    async def _adrive(self, op: Op[Any], streams: _Streams[AsyncIterator[bytes]]) -> Any:
        """Drive ``op``, which emits nothing, to its end."""
        with closing(op):
            value: Any = None
            error: Exception | None = None
            while True:
                done, step = _advance(op, value, error)
                if done:
                    return step
                value, error = None, None
                try:
                    value = await self._aperform(step, streams)
                except (httpx.TransportError, _Unreadable) as exc:
                    error = exc

    async def _aperform(self, step: IOStep, streams: _Streams[AsyncIterator[bytes]]) -> Any:
        if isinstance(step, Send):
            budget = self._budget(step)
            try:
                return await within(budget.left(), self._asend(step, streams, budget))
            except TimeoutError:
                raise budget.exceeded() from None
        if isinstance(step, Sleep):
            import anyio  # httpx's own dependency; imported only when async is used

            await anyio.sleep(step.seconds)
            return None
        if isinstance(step, ReadChunk):
            budget = streams.budget(step.response)
            budget.check()
            try:
                reader = streams.reader(step.response, step.response.aiter_raw)
                return await within(budget.left(), reader.__anext__())
            except StopAsyncIteration:
                return b""
            except TimeoutError:
                raise budget.exceeded() from None
        streams.closed(step.response)
        await step.response.aclose()
        return None

    async def _asend(
        self, step: Send, streams: _Streams[AsyncIterator[bytes]], budget: _Budget
    ) -> httpx.Response:
        client = self.async_client
        budget.limit(step.request, client.timeout)
        heard = _Heard(step.request, asynchronous=True)
        try:
            response = await client.send(
                step.request, stream=True, **self._send_kwargs(step, client)
            )
        except (httpx.InvalidURL, httpx.RemoteProtocolError) as exc:
            raise heard.bad_redirect(exc) from None
        if step.stream and response.status_code < 400:
            streams.opened(response, budget)
            return response
        try:
            with _AnswerReader(response, self.max_answer_bytes, budget) as reader:
                async for chunk in response.aiter_bytes():
                    reader.take(chunk)
        finally:
            await response.aclose()
        return response

    # conveniences over the drivers

    def request(self, service: str, name: str, /, **kwargs: Any) -> Any:
        """Call any API entry and return its JSON (sync); ``kwargs`` are
        those of :meth:`Call.of` (path parameters, ``query``, ``body``).

        Example:
            >>> answer = cluster.transport.request("queue", "status", taskId=build.task_id)
            >>> answer["status"]["state"]
            'completed'
        """
        return self.run(self.call(Call.of(service, name, **kwargs)))

    async def arequest(self, service: str, name: str, /, **kwargs: Any) -> Any:
        """Call any API entry and return its JSON (async).

        Example:
            >>> import asyncio
            >>> ask = cluster.transport.arequest("queue", "task", taskId=build.task_id)
            >>> asyncio.run(ask)["metadata"]["name"]
            'build-linux64-opt'
        """
        return await self.arun(self.call(Call.of(service, name, **kwargs)))

    def all_items(self, pager: Pager) -> Op[list[Any]]:
        """An operation that fetches every page of ``pager`` and returns all
        the items (for bulk calls whose results are wanted at once).

        Example:
            >>> t = cluster.transport
            >>> call = Call.of("queue", "listTaskGroup", taskGroupId=group.task_group_id)
            >>> len(t.run(t.all_items(Pager(call, "tasks", page_size=20))))
            41
        """
        items: list[Any] = []
        while (call := pager.next_call()) is not None:
            items += pager.accept((yield from self.call(call))).items
        return items

    def pages(self, pager: Pager) -> Iterator[Page]:
        """Fetch the pages of ``pager`` lazily, one request per page.

        Example:
            >>> call = Call.of("queue", "listTaskGroup", taskGroupId=group.task_group_id)
            >>> [len(page.items) for page in cluster.transport.pages(Pager(call, "tasks", 20))]
            [20, 20, 1]
        """
        while (call := pager.next_call()) is not None:
            yield pager.accept(self.run(self.call(call)))

    async def apages(self, pager: Pager) -> AsyncIterator[Page]:
        """The async form of :meth:`pages`.

        Example:
            >>> import asyncio
            >>> call = Call.of("queue", "listTaskGroup", taskGroupId=group.task_group_id)
            >>> async def sizes() -> list[int]:
            ...     pager = Pager(call, "tasks", 20)
            ...     return [len(page.items) async for page in cluster.transport.apages(pager)]
            >>> asyncio.run(sizes())
            [20, 20, 1]
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
            >>> call = Call.of("queue", "listTaskGroup", taskGroupId=group.task_group_id)
            >>> sum(1 for _ in cluster.transport.paginate(call, "tasks", page_size=15))
            41
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
            >>> import asyncio
            >>> call = Call.of("queue", "listTaskGroup", taskGroupId=group.task_group_id)
            >>> async def count() -> int:
            ...     return len([t async for t in cluster.transport.apaginate(call, "tasks")])
            >>> asyncio.run(count())
            41
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
        self._budgets: dict[int, _Budget] = {}

    def opened(self, response: httpx.Response, budget: _Budget) -> None:
        self._open[id(response)] = (response, None)
        self._budgets[id(response)] = budget

    def budget(self, response: httpx.Response) -> _Budget:
        """The time left to the attempt that opened ``response``."""
        return self._budgets.get(id(response)) or _Budget.start(None)

    def reader(self, response: httpx.Response, make: Callable[[], R]) -> R:
        _, reader = self._open.get(id(response), (response, None))
        if reader is None:
            reader = make()
            self._open[id(response)] = (response, reader)
        return reader

    def closed(self, response: httpx.Response) -> None:
        self._open.pop(id(response), None)
        self._budgets.pop(id(response), None)

    def left_open(self) -> list[httpx.Response]:
        responses = [r for r, _ in self._open.values()]
        self._open.clear()
        self._budgets.clear()
        return responses

    def __enter__(self) -> _Streams[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        for response in self.left_open():
            response.close()


class _DeadlineExceeded(httpx.TimeoutException):
    """An attempt outlasted its deadline (a timeout like httpx's own: it is
    retried, then raised as :class:`~tcmodel.errors.ConnectionFailed`)."""


@attrs.frozen
class _Budget:
    """The time one attempt may take: its ``seconds`` and when they run out
    (``time.monotonic()``; ``None``: no limit)."""

    seconds: float | None
    ends: float | None

    @classmethod
    def start(cls, seconds: float | None) -> _Budget:
        if seconds is None or seconds == float("inf"):  # inf: no limit, on purpose
            return cls(seconds, None)
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float | None:
        return None if self.ends is None else max(0.0, self.ends - time.monotonic())

    def check(self) -> None:
        if self.ends is not None and time.monotonic() >= self.ends:
            raise self.exceeded()

    def exceeded(self) -> _DeadlineExceeded:
        return _DeadlineExceeded(f"no complete answer within the deadline of {self.seconds:g}s")

    def limit(self, request: httpx.Request, timeout: httpx.Timeout) -> None:
        """No single wait of the attempt may outlast it (the client's
        timeouts, cut to the time left)."""
        left = self.left()
        if left is None:
            request.extensions.pop("timeout", None)  # the client's own, then
            return
        left = max(left, 0.001)
        limits = timeout.as_dict()
        request.extensions["timeout"] = {
            k: left if v is None else min(v, left) for k, v in limits.items()
        }


class _Unreadable(TaskclusterError):
    """The driver could not read an answer's body (not decodable, too
    large); :meth:`Transport.exchange` turns it into the typed error naming
    the call (:meth:`error`)."""

    def __init__(self, response: httpx.Response, problem: str, too_large: bool = False) -> None:
        super().__init__(problem)
        self.response = response
        self.problem = problem
        self.too_large = too_large

    def error(self, what: str) -> APIError:
        """The error to raise: by status for an error answer (its body is
        only decoration), else the answer is unusable."""
        response = self.response
        status = response.status_code
        where: dict[str, Any] = {
            "call": what,
            "method": response.request.method,
            "url": str(response.request.url),
        }
        if status >= 400:
            return error_for_response(status=status, body=None, text=f"({self.problem})", **where)
        kind = AnswerTooLarge if self.too_large else MalformedAnswer
        return kind(status=status, message=self.problem, **where)


class _Heard:
    """The status of the answer a request got, as the connection heard it
    (httpcore's ``trace`` extension): httpx fails on a redirect whose
    ``Location`` is no URL before it hands the answer over."""

    def __init__(self, request: httpx.Request, *, asynchronous: bool) -> None:
        self.request = request
        self.status: int | None = None
        request.extensions["trace"] = self._atrace if asynchronous else self._trace

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".receive_response_headers.complete"):
            heard = info.get("return_value") or ()
            self.status = next((v for v in heard if isinstance(v, int)), None)

    async def _atrace(self, event: str, info: dict[str, Any]) -> None:
        self._trace(event, info)

    def bad_redirect(self, exc: httpx.HTTPError | httpx.InvalidURL) -> Exception:
        """What to raise for ``exc``: an unusable answer if it came from a
        redirect's ``Location`` (never retried), else ``exc`` itself."""
        if self.status is None or not 300 <= self.status < 400:
            return exc
        answer = httpx.Response(self.status, request=self.request)
        return _Unreadable(answer, f"unusable URL in the Location header ({exc})")


class _AnswerReader:
    """Collects the (decoded) body of an answer, chunk by chunk as the
    drivers read it, refusing more than ``limit`` bytes and checking the
    attempt's deadline; the sync and async drivers share it. As a context
    around the read, it hands the body to the response at the end, and
    turns a body that cannot be decoded into :class:`_Unreadable`."""

    def __init__(self, response: httpx.Response, limit: int, budget: _Budget) -> None:
        self.response = response
        self.limit = limit
        self.budget = budget
        self.parts: list[bytes] = []
        self.size = 0
        declared = response.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise self._too_large(f"{int(declared)} bytes")

    def _too_large(self, size: str) -> _Unreadable:
        return _Unreadable(
            self.response, f"the answer ({size}) is larger than {self.limit} bytes", too_large=True
        )

    def take(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_large(f"more than {self.limit} bytes")
        self.parts.append(chunk)
        self.budget.check()

    def done(self) -> None:
        """Hand the body to the response, as ``response.read()`` would."""
        self.response._content = b"".join(self.parts)

    def __enter__(self) -> _AnswerReader:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.done()
        elif isinstance(exc, httpx.DecodingError):
            raise _Unreadable(self.response, f"its body could not be decoded ({exc})") from None


def _stale(challenge: str, body: bytes) -> bool:
    """Whether a 401 says the request's timestamp was stale."""
    return "stale timestamp" in challenge.lower() or b"stale timestamp" in body.lower()


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
        return cast(T, (yield from _relay(op, on_data)))


@attrs.frozen
class _Emitted:
    """What :func:`_relay` returns when it stops at an emit."""

    data: Any


def _relay(op: Op[Any], on_data: Callable[[Any], None] | None) -> Op[Any]:
    """Pass the steps of ``op`` (started, or suspended at an emit) through,
    and errors thrown in on to it, up to its end (its result); what it emits
    goes to ``on_data``, or, without one, the relay stops at the first emit
    (:class:`_Emitted`, ``op`` left suspended there for the next relay)."""
    value: Any = None
    error: Exception | None = None
    while True:
        done, step = _advance(op, value, error)
        if done:
            return step
        value, error = None, None
        if isinstance(step, Emit):
            if on_data is None:
                return _Emitted(step.data)
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
