"""The parts of the local cluster that every emulated service shares.

A service (queue, index, object) is a :class:`Service` subclass whose
handlers are plain methods marked with :func:`handles`. The HTTP layer
(:mod:`tcmodel.testing.server`) parses, authenticates and routes a request,
then calls the handler with a :class:`Request` while holding the cluster
lock, so handlers need no locking of their own.

Example:
    >>> class Echo(Service):
    ...     name = "queue"
    ...     @handles("ping")
    ...     def ping(self, req: Request) -> object:
    ...         return {"alive": True}
    >>> sorted(Echo.handler_names())
    ['ping']
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from tcmodel.api import Endpoint

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = [
    "ApiError",
    "Clock",
    "Request",
    "Response",
    "Service",
    "handles",
    "insufficient_scopes",
    "internal_error",
    "iso",
    "parse_iso",
    "see_other",
]


def iso(ts: float) -> str:
    """Format Unix seconds as Taskcluster does: milliseconds and a ``Z``.

    Example:
        >>> iso(1700000000)
        '2023-11-14T22:13:20.000Z'
    """
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    """Parse an ISO 8601 date (``Z`` or an offset) into Unix seconds.

    Raises ``ValueError`` for anything else.

    Example:
        >>> parse_iso("2023-11-14T22:13:20.000Z")
        1700000000.0
    """
    if not isinstance(value, str):
        raise ValueError(f"not a date string: {value!r}")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class Clock:
    """A thread-safe clock that runs with real time plus a settable offset.

    ``advance`` moves it forward so deadlines and expiry can be tested
    without waiting.

    Example:
        >>> c = Clock()
        >>> before = c.now()
        >>> c.advance(3600)
        >>> c.now() - before >= 3600
        True
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current time of the cluster in Unix seconds.

        Example:
            >>> Clock(offset=-60).now() < Clock().now()
            True
        """
        with self._lock:
            return time.time() + self._offset

    def now_dt(self) -> datetime:
        """Current time of the cluster as an aware UTC ``datetime``.

        Example:
            >>> Clock().now_dt().tzinfo
            datetime.timezone.utc
        """
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number).

        Example:
            >>> c = Clock()
            >>> c.advance(86400)
            >>> c.now_dt() > datetime.now(timezone.utc)
            True
        """
        with self._lock:
            self._offset += seconds


class ApiError(Exception):
    """Raised by a handler to answer with a Taskcluster error.

    The HTTP layer turns it into the real error body ``{code, message,
    requestInfo}`` (message with its ``---`` footer). ``body`` replaces that
    body entirely where the real service answers otherwise (e.g. the 424 of
    an error artifact: ``{reason, message}``).

    Example:
        >>> e = ApiError(404, "ResourceNotFound", "no such task")
        >>> (e.status, e.code)
        (404, 'ResourceNotFound')
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.body = body


@attrs.define
class Response:
    """What a handler answers when a plain 200 JSON body is not enough.

    ``body`` is JSON-able data, ``bytes`` (sent as is) or ``None`` (no body).

    Example:
        >>> Response(303, {"storageType": "s3", "url": "http://x"},
        ...          {"Location": "http://x"}).status
        303
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.define
class Request:
    """One authenticated API request, as a handler sees it.

    ``params`` are the decoded path parameters, ``query`` the query keys
    (``bewit`` removed), ``body`` the parsed JSON body (``None`` without one),
    ``target`` the path and query exactly as sent (for handlers that check
    a signature themselves, e.g. auth's ``testAuthenticate``).
    ``client_id`` is ``None`` for anonymous requests; ``scopes`` are the
    effective, role-expanded scopes (always including the anonymous role).

    Call :meth:`authorize` with the values that the endpoint's scope
    expression needs beyond the path parameters (e.g. ``schedulerId`` once
    the task is loaded). Endpoints whose expression needs only path
    parameters are authorized by the HTTP layer before the handler runs.

    Example:
        >>> from tcmodel.api import endpoint
        >>> req = Request(endpoint=endpoint("queue", "status"),
        ...               params={"taskId": "Dx4tPEtaRpeIeWpbTD0uHw"},
        ...               scopes=("queue:status:*",))
        >>> req.authorize()
        >>> req.authorized
        True
    """

    endpoint: Endpoint
    params: dict[str, str] = attrs.field(factory=dict)
    query: dict[str, str] = attrs.field(factory=dict)
    body: Any = None
    raw_body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    now: float = 0.0
    root_url: str = ""
    authorized: bool = False
    target: str = ""

    def authorize(self, **values: Any) -> None:
        """Check the endpoint's scope expression, filled with the path
        parameters and ``values``; raise a 403 ``InsufficientScopes`` if the
        caller's scopes do not satisfy it.

        Example:
            >>> from tcmodel.api import endpoint
            >>> req = Request(endpoint=endpoint("queue", "cancelTask"),
            ...               params={"taskId": "Dx4tPEtaRpeIeWpbTD0uHw"},
            ...               scopes=("queue:cancel-task-in-project:app",))
            >>> req.authorize(schedulerId="-", taskGroupId="g", projectId="app")
            >>> req.authorize(schedulerId="-", taskGroupId="g", projectId="other")
            Traceback (most recent call last):
            ...
            tcmodel.testing._core.ApiError: 403 InsufficientScopes: ...
        """
        from tcmodel.scopes import fill_expression, satisfies_expression

        expr = self.endpoint.scopes
        if expr is not None:
            filled = fill_expression(expr, {**self.params, **values})
            if not satisfies_expression(self.scopes, filled):
                raise insufficient_scopes(self.client_id, self.scopes, filled)
        self.authorized = True

    def has_scopes(self, required: Iterable[str]) -> bool:
        """Whether the caller holds every scope in ``required``.

        Example:
            >>> from tcmodel.api import endpoint
            >>> req = Request(endpoint=endpoint("queue", "status"), scopes=("queue:*",))
            >>> req.has_scopes(["queue:cancel-task", "queue:rerun-task"])
            True
            >>> req.has_scopes(["index:insert-task:a.b"])
            False
        """
        from tcmodel.scopes import scope_match

        return scope_match(self.scopes, [list(required)])


def insufficient_scopes(client_id: str | None, scopes: Iterable[str], required: Any) -> ApiError:
    """The 403 ``InsufficientScopes`` error for a caller holding ``scopes``
    that does not satisfy the filled scope expression ``required``.

    As lib-api does, the message shows, as JSON, only the part of
    ``required`` that is missing, then the whole expression.

    Example:
        >>> e = insufficient_scopes("me", ["a:*"], {"AllOf": ["a:1", "b:1"]})
        >>> e.status, e.message.splitlines()[2:5]
        (403, ['```', '"b:1"', '```'])
    """
    from tcmodel.scopes import missing_scopes

    missing = missing_scopes(tuple(scopes), required)
    return ApiError(
        403,
        "InsufficientScopes",
        f"Client ID {client_id or 'anonymous'} lacks scopes this call requires; "
        "what it is missing:\n\n"
        f"```\n{json.dumps(required if missing is None else missing, indent=2)}\n```\n\n"
        "The call requires scopes that satisfy this expression:\n\n"
        f"```\n{json.dumps(required, indent=2)}\n```",
    )


def internal_error(incident: str | None = None) -> ApiError:
    """The real services' 500 ``InternalServerError``, naming an
    ``incidentId`` (a new one unless given).

    Example:
        >>> internal_error("42").message
        'Internal Server Error, incidentId 42.'
    """
    incident = str(uuid.uuid4()) if incident is None else incident
    return ApiError(500, "InternalServerError", f"Internal Server Error, incidentId {incident}.")


def see_other(url: str) -> Response:
    """A 303 to ``url`` as the index and object services send it: a short
    ``text/plain`` body naming the target (not JSON).

    Example:
        >>> r = see_other("http://127.0.0.1:1/x")
        >>> r.status, r.body, r.headers["Content-Type"]
        (303, b'See Other. Redirecting to http://127.0.0.1:1/x', 'text/plain; charset=utf-8')
    """
    return Response(
        303,
        f"See Other. Redirecting to {url}".encode(),
        {"Location": url, "Content-Type": "text/plain; charset=utf-8"},
    )


HandlerFn = Callable[[Any, Request], Any]
_F = TypeVar("_F", bound=HandlerFn)


def handles(entry: str) -> Callable[[_F], _F]:
    """Mark a :class:`Service` method as the handler of API entry ``entry``.

    The handler returns JSON-able data (sent as 200), a :class:`Response`,
    or raises :class:`ApiError`.

    Example:
        >>> @handles("ping")
        ... def ping(self: Any, req: Request) -> object:
        ...     return {}
        >>> ping.__tc_entry__
        'ping'
    """

    def mark(fn: _F) -> _F:
        fn.__tc_entry__ = entry  # type: ignore[attr-defined]
        return fn

    return mark


class Service:
    """Base class of an emulated service.

    Subclasses set ``name`` (``"queue"``, ``"index"``, ``"object"``) and
    mark handlers with :func:`handles`. ``self.cluster`` gives the shared
    :class:`~tcmodel.testing.state.ClusterState` (clock, blob store, the
    other services, settings). :meth:`tick` is called with the current time
    before each request is handled, so time-driven changes (deadlines,
    expiry) happen when the clock has moved.

    Example:
        >>> class Nothing(Service):
        ...     name = "index"
        >>> Nothing.handler_names()
        set()
    """

    name: ClassVar[str] = ""
    #: Body fields that error bodies never echo, by entry: the
    #: ``requestInfo.payload`` shows ``"(OMITTED)"`` instead (secret values).
    omitted_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self, cluster: ClusterState) -> None:
        self.cluster = cluster

    def clean_payload(self, entry: str, body: Any) -> Any:
        """``body`` as an error body of ``entry`` may echo it, with the
        :attr:`omitted_fields` replaced by ``"(OMITTED)"``.

        Example:
            >>> class Vault(Service):
            ...     omitted_fields = {"set": ("secret",)}
            >>> Vault.clean_payload(Vault.__new__(Vault), "set", {"secret": {"pw": "x"}})
            {'secret': '(OMITTED)'}
        """
        fields = self.omitted_fields.get(entry, ())
        if not fields or not isinstance(body, dict):
            return body
        return {k: "(OMITTED)" if k in fields else v for k, v in body.items()}

    @classmethod
    def handler_names(cls) -> set[str]:
        """Names of the API entries this service handles.

        Example:
            >>> from tcmodel.testing.index import IndexService
            >>> "findTask" in IndexService.handler_names()
            True
        """
        return {
            fn.__tc_entry__
            for klass in cls.__mro__
            for fn in vars(klass).values()
            if callable(fn) and hasattr(fn, "__tc_entry__")
        }

    def handler(self, entry: str) -> Callable[[Request], Any] | None:
        """The bound handler of ``entry``, or ``None``.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> index = ClusterState().index
            >>> index.handler("findTask").__name__, index.handler("createTask")
            ('find_task', None)
        """
        for klass in type(self).__mro__:
            for attr, fn in vars(klass).items():
                if callable(fn) and getattr(fn, "__tc_entry__", None) == entry:
                    bound: Callable[[Request], Any] = getattr(self, attr)
                    return bound
        return None

    def tick(self, now: float) -> None:
        """Apply whatever time has made due (override in services).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.index.tick(st.clock.now())  # drops index entries that have expired
        """
