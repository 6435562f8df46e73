"""A small scripted HTTP/1.1 server on 127.0.0.1 for the transport tests.

Each test gives the stub a list of answers; the stub hands them out in order,
one per request, and records every request it receives. An answer is a
:class:`Reply` (status, headers, body) or :data:`DROP` (close the socket
without answering). Requests beyond the script get a 599 answer and are
recorded too, so a test that counts requests notices them.

Example (in a test)::

    with HTTPStub() as stub:
        stub.script(Reply(503), Reply(200, body={"alive": True}))
        ...
        assert [r.path for r in stub.requests] == [...]
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, TypeVar

import attrs

__all__ = ["DROP", "DripServer", "HTTPStub", "Recorded", "Reply", "error_body", "serving"]

DROP: Literal["drop"] = "drop"


@attrs.frozen
class Reply:
    """One scripted answer. A ``dict``/``list`` body is sent as JSON."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = attrs.field(factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, (dict, list)):
            data = json.dumps(self.body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(self.body, str):
            data = self.body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = bytes(self.body)
        return data, headers


Answer = Reply | Literal["drop"]


@attrs.frozen
class Recorded:
    """A request the stub received: the raw path (with query) as sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


def error_body(code: str, message: str, method: str = "status") -> dict[str, Any]:
    """A Taskcluster error body, with the ``---`` footer the services add."""
    return {
        "code": code,
        "message": f"{message}\n\n---\n\n* method:     {method}\n* errorCode:  {code}",
        "requestInfo": {"method": method, "params": {}, "payload": {}, "time": "2024-01-01"},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.stub._record(Recorded(self.command, self.path, headers, body))
        if answer == DROP:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        assert isinstance(answer, Reply)
        data, extra = answer.encoded()
        self.send_response(answer.status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: HTTPStub) -> None:
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client hanging up on a dropped answer is expected here."""


class HTTPStub:
    """A threaded HTTP/1.1 (keep-alive) server answering from a script."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Answer] = []
        self.requests: list[Recorded] = []
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *answers: Answer) -> None:
        """Append answers to the script."""
        with self._lock:
            self._script.extend(answers)

    def _record(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.pop(0)
        return Reply(599, {"code": "Unscripted", "message": "no answer scripted"})

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _serve(self) -> None:
        # A short poll interval keeps shutdown() (and so each test) quick.
        self._server.serve_forever(poll_interval=0.01)

    def start(self) -> HTTPStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HTTPStub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


S = TypeVar("S", bound=ThreadingHTTPServer)


@contextlib.contextmanager
def serving(server: S) -> Iterator[S]:
    """Run ``server`` in a thread for the duration of a ``with`` block."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve() -> Iterator[HTTPStub]:
    """The body of a pytest fixture: a started stub, stopped afterwards."""
    with HTTPStub() as stub:
        yield stub


class DripServer(ThreadingHTTPServer):
    """Answers every GET slowly, with :attr:`BODY` (JSON): the status line
    and headers at once (or byte by byte with ``drip_head``), then the body
    one byte per ``gap`` seconds; ``hits`` counts the requests. Run it with
    :func:`serving`."""

    daemon_threads = True
    block_on_close = False
    BODY = json.dumps({"alive": True, "padding": "x" * 40}).encode()

    def __init__(self, gap: float, drip_head: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Drip)
        self.gap = gap
        self.drip_head = drip_head
        self.hits = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Drip(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DripServer

    def do_GET(self) -> None:
        self.server.hits += 1
        body = self.server.BODY
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            if not self.server.drip_head:
                self.wfile.write(head)
                head = b""
            for byte in head + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(self.server.gap)
        except OSError:
            pass  # the client gave up: what the test wants
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
