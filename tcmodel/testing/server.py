"""The HTTP side of the local cluster: API origin, blob origin, LocalCluster.

:class:`LocalCluster` runs two real HTTP/1.1 servers on 127.0.0.1 in
background threads: the API origin (``/api/<service>/v1/...`` for queue,
index and object) and the blob origin (``/blobs/<key>``, the emulated S3
bucket), so redirects really cross origins. The API origin routes with the
:data:`tcmodel.api.ENDPOINTS` table, authenticates with
:class:`~tcmodel.testing.auth.Authenticator`, checks parameters and query
keys, and calls the service handlers under ``state.lock``.

Example:
    >>> with LocalCluster() as lc:
    ...     import httpx
    ...     httpx.get(lc.root_url + "/api/queue/v1/ping").json()["alive"]
    True
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import attrs

from tcmodel.api import ENDPOINTS, Endpoint, ScopeExpression
from tcmodel.errors import redact_url
from tcmodel.testing._common import error_body
from tcmodel.testing._core import ApiError, Clock, Request, Response, internal_error
from tcmodel.testing._echo import echoed_payload
from tcmodel.testing.auth import Authenticator, Identity
from tcmodel.testing.faults import Fault, FaultSet
from tcmodel.testing.state import Blob, Client, ClusterState, Settings
from tcmodel.utils import SLUGID_PATTERN

if TYPE_CHECKING:
    import tcmodel
    from tcmodel.credentials import Credentials, CredentialsLike
    from tcmodel.testing.notify import Notification

__all__ = ["LocalCluster", "RequestRecord", "Router", "error_body"]

log = logging.getLogger("tcmodel.testing")

SERVICES = ("queue", "index", "object")
ROOT_CLIENT_ID = "static/taskcluster/root"
_JSON = "application/json; charset=utf-8"
_PARAM = re.compile(r"<([A-Za-z]+)>")
_API_PATH = re.compile(r"^/api/([^/]+)/v1(/.*)?$")
# Bodies up to this size go out in one write with the head; bigger ones
# (blobs) are written from where they are stored, without a copy.
_COALESCE = 64 * 1024
_BUILTINS = frozenset({"ping", "lbheartbeat", "version", "heartbeat"})
# index listNamespaces/listTasks: the trailing namespace may be left out.
_OPTIONAL_LAST = frozenset({("index", "listNamespaces"), ("index", "listTasks")})

_SLUGID = SLUGID_PATTERN.pattern
_IDENT = r"^[a-zA-Z0-9-_]{1,38}$"
_PARAM_PATTERNS: dict[str, str] = {
    "taskId": _SLUGID,
    "taskGroupId": _SLUGID,
    "runId": r"^[1-9]*[0-9]+$",
    "provisionerId": _IDENT,
    "workerType": _IDENT,
    "workerGroup": _IDENT,
    "workerId": _IDENT,
    "taskQueueId": r"^[a-zA-Z0-9-_]{1,38}/[a-z]([-a-z0-9]{0,36}[a-z0-9])?$",
    "name": r"^[\x20-\x7e]+$",
    "clientId": r"^[A-Za-z0-9!@/:.+|_-]+$",
    "level": r"^(read-write|read-only)$",
    "hookGroupId": r"^[a-zA-Z0-9-_]{1,1000}$",
    "hookId": r"^[a-zA-Z0-9-_/]{1,1000}$",
    "workerPoolId": r"^[A-Za-z0-9_-]{1,38}/[A-Za-z0-9_-]{1,38}$",
}
_PARAM_REGEX = {k: re.compile(v) for k, v in _PARAM_PATTERNS.items()}
_ERROR_CODES = {
    400: "InputError",
    401: "AuthenticationFailed",
    403: "InsufficientScopes",
    404: "ResourceNotFound",
    409: "RequestConflict",
    410: "ResourceExpired",
    429: "TooManyRequests",
}


@attrs.frozen
class RequestRecord:
    """One request seen by a local cluster (``LocalCluster.requests``).

    ``path`` has no query string (so no bewit); ``status`` is 0 for a
    dropped connection; ``origin`` is ``"api"`` or ``"blob"``;
    ``authorization`` says whether an ``Authorization`` header was sent.

    Example:
        >>> r = RequestRecord("GET", "/api/queue/v1/ping", 200, None, "api", "queue", "ping")
        >>> r.entry, r.authorization
        ('ping', False)
    """

    method: str
    path: str
    status: int
    client_id: str | None
    origin: str
    service: str | None
    entry: str | None
    authorization: bool = False


def _needs_only_params(expr: ScopeExpression | None, params: Iterable[str]) -> bool:
    """Whether ``expr`` can be filled from the path parameters alone."""
    names: set[str] = set()

    def walk(e: Any) -> bool:
        if isinstance(e, str):
            names.update(_PARAM.findall(e))
            return True
        if isinstance(e, dict) and not ({"for", "if"} & e.keys()):
            return all(walk(x) for key in ("AllOf", "AnyOf") for x in e.get(key, []))
        return False

    return expr is None or (walk(expr) and names <= set(params))


@attrs.frozen
class _Route:
    endpoint: Endpoint
    regex: re.Pattern[str]
    names: tuple[str, ...]
    pre_authorize: bool


def _compile(ep: Endpoint) -> _Route:
    pattern, pos = "", 0
    for m in _PARAM.finditer(ep.route):
        pattern += re.escape(ep.route[pos : m.start()])
        pattern += "(.+)" if m.group(1) in ep.wildcards else "([^/]+)"
        pos = m.end()
    pattern += re.escape(ep.route[pos:])
    if (ep.service, ep.name) in _OPTIONAL_LAST and pattern.endswith("/([^/]+)"):
        pattern = pattern[: -len("/([^/]+)")] + "(?:/([^/]*))?"
    if not pattern.endswith("(.+)"):
        pattern = pattern.removesuffix("/") + "/?"  # "/clients/" also as "/clients"
    return _Route(ep, re.compile(pattern), ep.params, _needs_only_params(ep.scopes, ep.params))


class Router:
    """Matches API paths to endpoints with precompiled route regexes.

    Parameters are percent-decoded after matching, so ``%2F`` inside a
    single-segment parameter stays in the value.

    Example:
        >>> ep, params = Router().match("queue", "GET", "/task/abc%2Fd/status")
        >>> ep.name, params
        ('status', {'taskId': 'abc/d'})
    """

    def __init__(self, endpoints: Iterable[Endpoint] | None = None) -> None:
        self._routes: dict[tuple[str, str], list[_Route]] = {}
        for ep in ENDPOINTS.values() if endpoints is None else endpoints:
            self._routes.setdefault((ep.service, ep.method), []).append(_compile(ep))

    def route(self, service: str, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        """The route matching ``path`` (below ``/api/<service>/v1``) and its
        decoded parameters, or ``None``.

        Example:
            >>> route, params = Router().route("index", "GET", "/task/project.app.latest")
            >>> route.endpoint.name, params
            ('findTask', {'indexPath': 'project.app.latest'})
            >>> Router().route("queue", "GET", "/no/such/path") is None
            True
        """
        if method == "HEAD":
            method = "GET"
        for route in self._routes.get((service, method), ()):
            m = route.regex.fullmatch(path)
            if m is not None:
                values = (unquote(v) if v else "" for v in m.groups())
                return route, dict(zip(route.names, values, strict=False))
        return None

    def match(self, service: str, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        """Like :meth:`route` but returns the endpoint; ``KeyError`` if none.

        Example:
            >>> ep, params = Router().match("queue", "GET", "/task/abc/artifacts/public%2Fa.txt")
            >>> ep.name, params
            ('getLatestArtifact', {'taskId': 'abc', 'name': 'public/a.txt'})
            >>> Router().match("queue", "GET", "/no/such/path")
            Traceback (most recent call last):
            ...
            KeyError: 'no route for GET /no/such/path in queue'
        """
        found = self.route(service, method, path)
        if found is None:
            raise KeyError(f"no route for {method} {path} in {service}")
        return found[0].endpoint, found[1]


@cache
def _default_router() -> Router:
    return Router()


@attrs.define
class _Reply:
    status: int
    body: bytes | memoryview = b""
    headers: list[tuple[str, str]] = attrs.field(factory=list)
    client_id: str | None = None


@attrs.define
class _Located:
    """What a request was routed to, before it is handled."""

    service: str | None = None
    entry: str | None = None
    route: _Route | None = None
    params: dict[str, str] = attrs.field(factory=dict)
    key: str = ""


def _json_reply(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return _Reply(status, body, [("Content-Type", _JSON), *headers])


class _ApiApp:
    """The API origin's request handling, independent of sockets."""

    origin = "api"

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.state = cluster.state
        self.router = _default_router()
        self.started = time.time()

    def locate(self, method: str, path: str) -> _Located:
        m = _API_PATH.match(path)
        if m is None or m.group(1) not in self.state.services:
            return _Located()
        service = m.group(1)
        found = self.router.route(service, method, m.group(2) or "/")
        if found is None:
            return _Located(service)
        route, params = found
        return _Located(service, route.endpoint.name, route, params)

    def error(self, loc: _Located, err: ApiError, payload: Any = None) -> _Reply:
        if err.body is not None:
            return _json_reply(err.status, err.body, err.headers.items())
        body = error_body(
            loc.entry or "unknown",
            err.code,
            err.message,
            err.status,
            params=loc.params,
            payload=payload,
            now=self.state.clock.now(),
        )
        return _json_reply(err.status, body, err.headers.items())

    def fault_reply(self, fault: Fault, loc: _Located) -> _Reply:
        headers = list(fault.headers.items())
        if fault.body is None:
            code = _ERROR_CODES.get(fault.status, "InternalServerError")
            err = ApiError(fault.status, code, f"Injected fault: HTTP {fault.status}")
            reply = self.error(loc, err)
            reply.headers += headers
            return reply
        body = fault.body.encode() if isinstance(fault.body, str) else fault.body
        ctype = fault.content_type or "text/html; charset=utf-8"
        return _Reply(fault.status, body, [("Content-Type", ctype), *headers])

    def handle(
        self, loc: _Located, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> _Reply:
        route = loc.route
        if route is None:
            # no API method there (unknown path, wrong method or API version):
            # the real services answer a bare 404, not the usual error body
            return _json_reply(404, {"error": "Not found"})
        body: Any = None
        ident: Identity | None = None
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not isinstance(body, (dict, list)):
                    body = None
                    raise ApiError(400, "MalformedPayload", "The body is not JSON object or array")
            elif route.endpoint.input is not None and method in ("PUT", "POST"):
                raise ApiError(
                    400,
                    "MalformedPayload",
                    f"{route.endpoint.name} needs a JSON body (content-type: application/json); "
                    "the request has none",
                )
            _, _, query_text = target.partition("?")
            pairs = parse_qsl(query_text, keep_blank_values=True)
            query = {k: v for k, v in pairs if k != "bewit"}
            ep = route.endpoint
            if ep.scopes is not None:
                ident = self._authenticate(method, target, headers, raw)
            self._check_params(loc.params)
            self._check_query(ep, query)
            return self._call(loc, route, ident, query, body, raw, headers, target)
        except ApiError as err:
            payload = self._clean_payload(loc, body)
            if body is None and raw and err.code == "MalformedPayload":
                payload = raw.decode("utf-8", "replace")  # echoed as the text it was
            else:
                payload = echoed_payload(
                    loc.service or "", loc.entry or "", payload, err.code, loc.params
                )
            reply = self.error(loc, err, payload)
            reply.client_id = ident.client_id if ident else None
            return reply

    def _authenticate(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> Identity:
        return self.cluster.auth.authenticate_request(
            method=method, target=target, headers=headers, body=raw, now=self.state.clock.now()
        )

    def _clean_payload(self, loc: _Located, body: Any) -> Any:
        """The body as its error may echo it (without secret values)."""
        service = self.state.services.get(loc.service or "")
        return service.clean_payload(loc.entry or "", body) if service else body

    @staticmethod
    def _check_params(params: Mapping[str, str]) -> None:
        for name, value in params.items():
            regex = _PARAM_REGEX.get(name)
            if regex is not None and not regex.fullmatch(value):
                raise ApiError(
                    400,
                    "InvalidRequestArguments",
                    f"Invalid request arguments: parameter {name!r} with value {value!r} "
                    f"does not match the pattern {_PARAM_PATTERNS[name]}",
                )

    @staticmethod
    def _check_query(ep: Endpoint, query: Mapping[str, str]) -> None:
        for key, value in query.items():
            if key not in ep.query:
                allowed = ", ".join(ep.query) or "none"
                raise ApiError(
                    400,
                    "InvalidRequestArguments",
                    f"Invalid request arguments: query parameter {key!r} is not allowed "
                    f"(allowed: {allowed})",
                )
            if key == "limit" and not value.isdigit():
                raise ApiError(
                    400,
                    "InvalidRequestArguments",
                    f"Invalid request arguments: limit must be a number, not {value!r}",
                )
            if key == "continuationToken" and not value:
                # lib-api checks this key against /./: an empty token is no token
                raise ApiError(
                    400,
                    "InvalidRequestArguments",
                    "Invalid request arguments: continuationToken must not be empty",
                )

    def _builtin(self, entry: str) -> Any:
        from tcmodel import __version__

        if entry == "ping":
            return {"alive": True, "uptime": round(time.time() - self.started, 3)}
        if entry == "version":
            # the real services' keys; the values are this emulator's
            return {"version": __version__, "commit": "", "source": "tcmodel.testing", "build": ""}
        return {}

    def _call(
        self,
        loc: _Located,
        route: _Route,
        ident: Identity | None,
        query: dict[str, str],
        body: Any,
        raw: bytes,
        headers: Mapping[str, str],
        target: str = "",
    ) -> _Reply:
        ep = route.endpoint
        client_id = ident.client_id if ident else None
        if ep.name in _BUILTINS:
            return _json_reply(200, self._builtin(ep.name))
        service = self.state.services[ep.service]
        handler = service.handler(ep.name)
        if handler is None:
            raise ApiError(
                500,
                "InternalServerError",
                f"The local cluster has no handler for {ep} (not implemented yet)",
            )
        with self.state.lock:
            now = self.state.tick()
            req = Request(
                endpoint=ep,
                params=loc.params,
                query=query,
                body=body,
                raw_body=raw,
                headers=headers,
                client_id=client_id,
                scopes=ident.scopes if ident else (),
                now=now,
                root_url=self.cluster.root_url,
                target=target,
            )
            if route.pre_authorize:
                req.authorize()
            try:
                result = handler(req)
            except ApiError:
                raise
            except Exception as exc:  # a bug in a handler: answer like the real 500
                incident = str(uuid.uuid4())
                self.cluster.errors.append(exc)
                log.exception("handler %s failed (incidentId %s)", ep, incident)
                raise internal_error(incident) from None
            if ep.scopes is not None and not req.authorized:
                raise ApiError(
                    500,
                    "InternalServerError",
                    f"handler of {ep} returned without calling req.authorize()",
                )
            # serialize while the lock is held: handlers may return live state
            reply = _to_reply(result)
        reply.client_id = client_id
        return reply


def _to_reply(result: Any) -> _Reply:
    if not isinstance(result, Response):
        return _json_reply(200, {} if result is None else result)
    headers = list(result.headers.items())
    has_type = any(k.lower() == "content-type" for k, _ in headers)
    if result.body is None:
        return _Reply(result.status, b"", headers)
    if isinstance(result.body, bytes):
        if not has_type:
            headers.append(("Content-Type", "application/octet-stream"))
        return _Reply(result.status, result.body, headers)
    reply = _json_reply(result.status, result.body)
    if has_type:
        reply.headers = headers
    else:
        reply.headers += headers
    return reply


def _s3_error(status: int, code: str, message: str) -> _Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return _Reply(status, body, [("Content-Type", "application/xml")])


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """``(first, last)`` for a single ``bytes=`` range, ``None`` to serve it
    all (no or unusable header), ``False`` if unsatisfiable."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        n = int(m.group(2))
        return (max(size - n, 0), size - 1) if n > 0 and size > 0 else False
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and last < first:
        return None
    if first >= size:
        return False
    return first, min(last, size - 1)


class _BlobApp:
    """The blob origin (``/blobs/<key>``), an S3-like bucket."""

    origin = "blob"

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.blobs = cluster.state.blobs

    def locate(self, method: str, path: str) -> _Located:
        if not path.startswith("/blobs/"):
            return _Located()
        return _Located(key=unquote(path[len("/blobs/") :]))

    def fault_reply(self, fault: Fault, loc: _Located) -> _Reply:
        if fault.body is None:
            reply = _s3_error(fault.status, "InternalError", "Injected fault")
        else:
            body = fault.body.encode() if isinstance(fault.body, str) else fault.body
            ctype = fault.content_type or "text/html; charset=utf-8"
            reply = _Reply(fault.status, body, [("Content-Type", ctype)])
        reply.headers += list(fault.headers.items())
        return reply

    def handle(
        self, loc: _Located, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> _Reply:
        if not loc.key:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if method not in ("GET", "HEAD", "PUT"):
            return _s3_error(405, "MethodNotAllowed", "The method is not allowed.")
        query = dict(parse_qsl(target.partition("?")[2], keep_blank_values=True))
        with self.cluster.state.lock:
            problem = self.blobs.check(method, loc.key, query)
            if problem is not None:
                return _s3_error(403, "AccessDenied", problem)
            if method == "PUT":
                return self._put(loc.key, headers, raw)
            blob = self.blobs.get(loc.key)
            etag = self.blobs.etag(loc.key)
        if blob is None or etag is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return self._get(blob, etag, headers)

    def _put(self, key: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        expected = self.blobs.expected_puts.get(key)
        ctype = headers.get("content-type", "")
        if expected is None or ctype != expected:
            return _s3_error(
                403,
                "SignatureDoesNotMatch",
                f"Content-Type {ctype!r} does not match the presigned request",
            )
        encoding = headers.get("content-encoding")
        blob = Blob(raw, ctype, None if encoding == "identity" else encoding)
        self.blobs.put(key, blob)
        return _Reply(200, b"", [("ETag", blob.etag)])

    @staticmethod
    def _get(blob: Blob, etag: str, headers: Mapping[str, str]) -> _Reply:
        """Serve ``blob`` as S3 does: ETag (computed when it was stored) and
        Last-Modified, a ``Range`` honoured only while its ``If-Range`` (if
        any) still holds; the data is sent from the stored bytes, never
        copied (a range is a memoryview slice)."""
        data = blob.data
        modified = email.utils.formatdate(blob.modified or 0, usegmt=True)
        out = [("Content-Type", blob.content_type), ("Accept-Ranges", "bytes")]
        out += [("ETag", etag), ("Last-Modified", modified)]
        if blob.content_encoding:
            out.append(("Content-Encoding", blob.content_encoding))
        wanted = headers.get("range")
        if wanted and not _if_range_holds(headers.get("if-range"), etag, blob.modified):
            wanted = None  # the data changed since: the whole of it
        span = _parse_range(wanted, len(data)) if wanted else None
        if span is False:
            out.append(("Content-Range", f"bytes */{len(data)}"))
            return _Reply(416, b"", out)
        if isinstance(span, tuple):
            first, last = span
            out.append(("Content-Range", f"bytes {first}-{last}/{len(data)}"))
            return _Reply(206, memoryview(data)[first : last + 1], out)
        return _Reply(200, data, out)


def _if_range_holds(value: str | None, etag: str, modified: float | None) -> bool:
    """Whether an ``If-Range`` lets a ``Range`` apply: absent, the strong
    ETag itself, or the (whole-second) Last-Modified date."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return False
    return modified is not None and int(modified) == int(when)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, applies faults, lets the app answer, writes it."""

    protocol_version = "HTTP/1.1"
    server_version = "tcmodel-local-cluster"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (and never log a URL that may carry a bewit)."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("content-length")
        return self.rfile.read(int(length)) if length else b""

    def _dispatch(self) -> None:
        server = self.server
        app = server.app
        cluster = app.cluster
        method = self.command
        target = self.path
        path = target.partition("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        loc = app.locate(method, path)
        fault = cluster.faults.take(app.origin, method, path, loc.service, loc.entry)
        kind = fault.kind if fault else None
        if fault is not None and kind == "delay":
            time.sleep(fault.delay)
        record = RequestRecord(
            method,
            redact_url(path),  # e.g. a hook's trigger token in the path
            0,
            None,
            app.origin,
            loc.service,
            loc.entry,
            "authorization" in headers,
        )
        if fault is not None and kind == "drop":
            cluster._record(record)
            self.close_connection = True
            return
        if fault is not None and kind == "status":
            reply = app.fault_reply(fault, loc)
        else:
            try:
                reply = app.handle(loc, method, target, headers, raw)
            except Exception as exc:  # a bug in the local cluster itself
                cluster.errors.append(exc)
                log.exception("local cluster failed on %s %s", method, path)
                reply = _Reply(500, b"Internal Server Error", [("Content-Type", "text/plain")])
        cluster._record(attrs.evolve(record, status=reply.status, client_id=reply.client_id))
        if not any(k.lower() == "date" for k, _ in reply.headers):
            # As real servers do, on the cluster clock: a client whose own
            # clock is off learns the service's time from it (Hawk skew).
            now = email.utils.formatdate(cluster.state.clock.now(), usegmt=True)
            reply.headers.append(("Date", now))
        keep = None
        if fault is not None and kind == "truncate":
            keep = fault.keep if fault.keep is not None else len(reply.body) // 2
            self.close_connection = True
        self._send(reply, head_only=method == "HEAD", keep=keep)

    def _send(self, reply: _Reply, *, head_only: bool, keep: int | None) -> None:
        lines = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}"]
        lines += [f"{k}: {v}" for k, v in reply.headers]
        if reply.status >= 200 and reply.status not in (204, 304):
            lines.append(f"Content-Length: {len(reply.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        body = b"" if head_only else reply.body
        if keep is not None:
            body = body[: max(0, min(keep, len(body) - 1))]
        try:
            if len(body) <= _COALESCE:
                self.wfile.write(head + body)  # one packet
            else:  # a big blob: sent from where it is stored, not copied
                self.wfile.write(head)
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: _ApiApp | _BlobApp) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away."""

    def close_connections(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class LocalCluster:
    """An embedded Taskcluster (queue, index, object) on two loopback origins.

    Use it as a context manager (or :meth:`start`/:meth:`stop`). It holds a
    root client with scope ``*`` and records every request it answers.

    Every request (with or without credentials) also gets the ``anonymous``
    role. As on a real deployment it lets anyone read public artifacts and
    tasks: ``queue:get-artifact:public/*``, ``queue:get-task:*``,
    ``queue:status:*``, ``queue:list-task-group:*``,
    ``queue:list-dependent-tasks:*``, ``queue:list-artifacts:*``,
    ``index:find-task:*``, ``index:list-namespaces:*`` and
    ``index:list-tasks:*`` (:data:`~tcmodel.testing.state.ANONYMOUS_SCOPES`).
    Replace it with ``lc.add_role("anonymous", [...])``, e.g.
    ``lc.add_role("anonymous", ["queue:get-artifact:public/*"])`` to test a
    client that lacks the read scopes.

    Example:
        >>> with LocalCluster() as lc:
        ...     creds = lc.add_client("me", ["queue:status:*"])
        ...     lc.root_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        port: int = 0,
        blob_port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.state = ClusterState(settings=settings)
        #: The request checker, shared with the emulated auth service.
        self.auth: Authenticator = self.state.auth.authenticator
        self.faults = FaultSet()
        #: Exceptions raised by service handlers (each answered as a 500).
        self.errors: list[BaseException] = []
        self._host = host
        self._ports = (port, blob_port)
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        # the last ``settings.request_log_size`` requests (a ring buffer)
        self._records: collections.deque[RequestRecord] = collections.deque(
            maxlen=max(0, self.state.settings.request_log_size)
        )
        self._records_lock = threading.Lock()
        self._request_total = 0
        self._served: collections.Counter[tuple[str, str]] = collections.Counter()
        self._root_token = secrets.token_urlsafe(33)
        self.state.clients[ROOT_CLIENT_ID] = Client(ROOT_CLIENT_ID, self._root_token, ("*",))
        self._root_url = ""
        self._blob_url = ""

    # -- life cycle --------------------------------------------------------

    def start(self) -> LocalCluster:
        """Bind both origins and serve them in daemon threads; returns self.

        Example:
            >>> lc = LocalCluster().start()
            >>> lc.running
            True
            >>> lc.stop()
            >>> lc.running
            False
        """
        if self._servers:
            raise RuntimeError("this LocalCluster is already running")
        apps: list[_ApiApp | _BlobApp] = [_ApiApp(self), _BlobApp(self)]
        try:
            for app, port in zip(apps, self._ports, strict=False):
                self._servers.append(_Server((self._host, port), app))
        except OSError:
            self._close()
            raise
        api, blob = (f"http://{self._host}:{s.server_address[1]}" for s in self._servers)
        self._root_url, self._blob_url = api, blob
        self.state.root_url = api
        self.state.blobs.base_url = blob
        if self.state.settings.pulse_url:
            from tcmodel.testing.pulse import PulsePublisher

            try:
                self.state.queue.pulse = PulsePublisher(self.state.settings.pulse_url).start()
            except BaseException:
                self._close()
                raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"tcmodel-{server.app.origin}-{server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both servers and close every open connection.

        Example:
            >>> other = LocalCluster().start()
            >>> other.stop()   # what leaving ``with LocalCluster() as lc:`` does
            >>> other.running
            False
        """
        for server in self._servers:
            server.shutdown()
        self._close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        pulse, self.state.queue.pulse = self.state.queue.pulse, None
        if pulse is not None:
            pulse.stop()

    def _close(self) -> None:
        for server in self._servers:
            server.close_connections()
            server.server_close()
        self._servers.clear()

    @property
    def running(self) -> bool:
        """Whether the servers are up.

        Example:
            >>> LocalCluster().running
            False
        """
        return bool(self._servers)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._root_url or "not started"
        return f"<LocalCluster {where}{' running' if self.running else ''}>"

    # -- addresses and state ------------------------------------------------

    @property
    def root_url(self) -> str:
        """The rootUrl of the API origin, e.g. ``http://127.0.0.1:41234``.

        Example:
            >>> lc.root_url  # doctest: +ELLIPSIS
            'http://127.0.0.1:...'
            >>> LocalCluster().root_url
            Traceback (most recent call last):
            ...
            RuntimeError: the LocalCluster has not been started
        """
        if not self._root_url:
            raise RuntimeError("the LocalCluster has not been started")
        return self._root_url

    @property
    def blob_url(self) -> str:
        """The base URL of the blob origin (a different port).

        Example:
            >>> lc.blob_url != lc.root_url and lc.blob_url.startswith("http://127.0.0.1:")
            True
        """
        if not self._blob_url:
            raise RuntimeError("the LocalCluster has not been started")
        return self._blob_url

    @property
    def clock(self) -> Clock:
        """The cluster clock (:class:`~tcmodel.testing._core.Clock`).

        Example:
            >>> import time
            >>> lc = LocalCluster()
            >>> lc.clock.advance(3600)
            >>> lc.clock.now() > time.time() + 3599
            True
        """
        return self.state.clock

    @property
    def settings(self) -> Settings:
        """The cluster's :class:`~tcmodel.testing.state.Settings`.

        Example:
            >>> LocalCluster(settings=Settings(max_page_size=5)).settings.max_page_size
            5
        """
        return self.state.settings

    @property
    def root_credentials(self) -> Credentials:
        """Credentials of the root client (scope ``*``).

        Example:
            >>> LocalCluster().root_credentials
            Credentials(client_id='static/taskcluster/root')
        """
        from tcmodel.credentials import Credentials

        return Credentials(ROOT_CLIENT_ID, self._root_token)

    def connect(
        self, credentials: CredentialsLike | str | None = "root", **kwargs: Any
    ) -> tcmodel.Cluster:
        """A :class:`tcmodel.Cluster` for this local cluster, signing with the
        cluster's clock, so it keeps working after :meth:`advance` moved the
        clock past Hawk's 15-minute window.

        ``credentials`` defaults to the root credentials; ``None`` connects
        anonymously. Other keyword arguments go to
        :meth:`tcmodel.Cluster.from_url`. Close the cluster when done.

        Example:
            >>> with LocalCluster() as lc, lc.connect() as cluster:
            ...     lc.advance(3600)
            ...     cluster.ping()["alive"]
            True
        """
        import tcmodel

        creds = self.root_credentials if credentials == "root" else credentials
        if isinstance(creds, str):
            raise ValueError(f"credentials must be 'root', None or credentials, not {creds!r}")
        return tcmodel.Cluster.from_url(self.root_url, creds, clock=self.clock.now, **kwargs)

    def add_client(
        self, client_id: str, scopes: Iterable[str], *, expires: float | None = None
    ) -> Credentials:
        """Register a client with a fresh random access token.

        ``expires`` is an absolute time on the cluster clock (Unix seconds),
        e.g. ``lc.clock.now() + 60``; after it the client gets 401s.

        Example:
            >>> LocalCluster().add_client("ci", ["queue:create-task:*"]).client_id
            'ci'
        """
        from tcmodel.credentials import Credentials

        token = secrets.token_urlsafe(33)
        with self.state.lock:
            self.state.clients[client_id] = Client(client_id, token, tuple(scopes), expires)
        return Credentials(client_id, token)

    def add_role(self, role_id: str, scopes: Iterable[str]) -> None:
        """Define (or replace) a role; ``assume:<role_id>`` grants its scopes.

        A ``role_id`` ending in ``*`` applies to every ``assume:`` scope
        with that prefix. ``"anonymous"`` sets what anonymous requests get.

        Example:
            >>> lc = LocalCluster()
            >>> lc.add_role("project:app:*", ["queue:create-task:*"])
            >>> "queue:create-task:*" in lc.auth.expand(["assume:project:app:ci"])
            True
        """
        with self.state.lock:
            self.state.roles[role_id] = tuple(scopes)

    def advance(self, seconds: float) -> None:
        """Move the cluster clock forward and let services apply what is due.

        Example:
            >>> lc = LocalCluster()
            >>> before = lc.clock.now()
            >>> lc.advance(86400)  # a day: deadlines pass, index entries may expire
            >>> lc.clock.now() - before >= 86400
            True
        """
        self.state.clock.advance(seconds)
        with self.state.lock:
            self.state.tick()

    # -- request log ------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._records_lock:
            size = max(0, self.state.settings.request_log_size)
            if self._records.maxlen != size:  # the setting changed
                self._records = collections.deque(self._records, maxlen=size)
            self._records.append(record)
            self._request_total += 1
            if record.status and record.service and record.entry:
                self._served[(record.service, record.entry)] += 1

    @property
    def served(self) -> dict[tuple[str, str], int]:
        """How many answered requests each API entry got since the start
        (``reset_requests`` does not clear it): ``{(service, entry): n}``.

        Example:
            >>> with LocalCluster() as lc:
            ...     import httpx
            ...     _ = httpx.get(lc.root_url + "/api/queue/v1/ping")
            ...     lc.served
            {('queue', 'ping'): 1}
        """
        with self._records_lock:
            return dict(self._served)

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first: the last
        ``settings.request_log_size`` requests (10,000 by default; older ones
        are dropped, so a cluster serving for days keeps bounded memory).
        :attr:`served` and :attr:`request_total` count them all.

        Example:
            >>> LocalCluster().requests
            []
            >>> with LocalCluster() as fresh, fresh.connect() as c:
            ...     _ = c.ping()
            ...     [(r.service, r.entry, r.status) for r in fresh.requests]
            [('queue', 'ping', 200)]
            >>> with LocalCluster(settings=Settings(request_log_size=2)) as small:
            ...     with small.connect() as c:
            ...         for _ in range(5):
            ...             _ = c.ping()
            ...     len(small.requests), small.request_total, small.served
            (2, 5, {('queue', 'ping'): 5})
        """
        with self._records_lock:
            return list(self._records)

    @property
    def request_total(self) -> int:
        """How many requests the cluster has seen since it started, whatever
        the request log kept (``reset_requests`` does not clear it).

        Example:
            >>> with LocalCluster() as fresh, fresh.connect() as c:
            ...     _ = c.ping()
            ...     fresh.reset_requests()
            ...     fresh.requests, fresh.request_total
            ([], 1)
        """
        with self._records_lock:
            return self._request_total

    def reset_requests(self) -> None:
        """Empty the request log.

        Example:
            >>> lc = LocalCluster()
            >>> lc.reset_requests()
            >>> lc.requests
            []
        """
        with self._records_lock:
            self._records.clear()

    @property
    def notifications(self) -> list[Notification]:
        """What the notify service would have sent (emails, pulse, Matrix
        and Slack messages), oldest first: a copy of
        :attr:`~tcmodel.testing.notify.NotifyService.sent`.

        Example:
            >>> import taskcluster
            >>> with LocalCluster() as lc:
            ...     root = lc.root_credentials
            ...     notify = taskcluster.Notify({"rootUrl": lc.root_url, "credentials": {
            ...         "clientId": root.client_id, "accessToken": root.access_token}})
            ...     _ = notify.email({"address": "dev@example.com", "subject": "hi",
            ...                       "content": "done"})
            ...     [(n.kind, n.address, n.body["subject"]) for n in lc.notifications]
            [('email', 'dev@example.com', 'hi')]
        """
        with self.state.lock:
            return list(self.state.notify.sent)

    # -- faults -----------------------------------------------------------

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        service: str | None = None,
        entry: str | None = None,
        origin: str = "api",
        path: str | None = None,
        method: str | None = None,
        status: int = 500,
        body: str | bytes | None = None,
        delay: float = 0.0,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        keep: int | None = None,
    ) -> Fault:
        """Make the next ``times`` matching requests fail.

        ``kind`` is ``"status"``, ``"drop"``, ``"truncate"`` or ``"delay"``
        (see :class:`~tcmodel.testing.faults.Fault`). Returns the fault,
        whose ``hits`` counts the requests it affected.

        Example: ``lc.inject("status", status=502, body="<html>bad gateway</html>",
        entry="status", times=2)``
        """
        fault = Fault(
            kind,
            times=times,
            service=service,
            entry=entry,
            origin=origin,
            path=path,
            method=method,
            status=status,
            body=body,
            delay=delay,
            content_type=content_type,
            headers=dict(headers or {}),
            keep=keep,
        )
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every pending fault.

        Example:
            >>> lc = LocalCluster()
            >>> _ = lc.inject("drop", entry="status")
            >>> lc.clear_faults()
            >>> lc.faults.pending()
            []
        """
        self.faults.clear()
