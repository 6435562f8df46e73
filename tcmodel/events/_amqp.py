"""A small AMQP 0-9-1 client, written once as *operations* (sans-IO).

The protocol logic (handshake, channel, declare/bind/consume, deliveries,
acks, publishing, heartbeats, reconnecting with backoff) is a generator
that yields I/O steps — :class:`Connect`, :class:`Write`, :class:`Read`,
:class:`Pause`, :class:`Disconnect`, :class:`Hand` (give an item to the
caller) and :class:`RunOp` (run a tcmodel request operation) — like the rest
of tcmodel. :func:`drive` runs it on a blocking socket, :func:`adrive` on an
anyio stream (asyncio or trio). Frames are encoded and decoded by
``pamqp`` (the sans-IO codec ``aiormq`` is built on), which comes with the
``events`` extra.

Example:
    >>> url = PulseUrl.parse("amqps://me:s3cret@pulse.example.com/")
    >>> url
    PulseUrl('amqps://me:***@pulse.example.com:5671/')
    >>> url.vhost, url.tls
    ('/', True)
"""

from __future__ import annotations

import collections
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import attrs

from tcmodel._extras import require
from tcmodel._version import __version__
from tcmodel.errors import ConfigurationError, TaskclusterError

if TYPE_CHECKING:
    from tcmodel.events.bindings import Binding
    from tcmodel.transport import Op, Transport

__all__ = [
    "AmqpConnection",
    "Connect",
    "ConnectionLost",
    "Delivery",
    "Disconnect",
    "EventsError",
    "Hand",
    "Pause",
    "PulseUrl",
    "Read",
    "RunOp",
    "Write",
    "adrive",
    "consume_op",
    "drive",
]

Steps = Generator[Any, Any, Any]

#: Heartbeat interval tcmodel asks for (seconds) when the broker wants
#: heartbeats (``?heartbeat=N`` in the URL sets another). Heartbeats are
#: answered only while tcmodel waits for a message: the broker drops a
#: connection silent for two intervals, so this is long enough for code
#: holding an event a few minutes (a dropped connection is re-opened, and
#: an unacknowledged message delivered again).
HEARTBEAT = 120
#: Backoff between reconnection attempts: first pause and cap (seconds).
BACKOFF = (0.1, 10.0)
_FRAME_MAX = 131072


class EventsError(TaskclusterError):
    """The Pulse broker refused something (bad credentials, a missing
    exchange, a queue owned by someone else) or stayed unreachable.

    Example:
        >>> str(EventsError("ACCESS_REFUSED"))
        'ACCESS_REFUSED'
    """


class ConnectionLost(EventsError, ConnectionError):
    """The connection to the broker dropped (it is re-opened when the
    caller reconnects).

    Example:
        >>> issubclass(ConnectionLost, ConnectionError)
        True
    """


# -- steps ----------------------------------------------------------------------


@attrs.frozen
class Connect:
    """Open a TCP (TLS when ``tls``) connection, closing any previous one.

    Example:
        >>> Connect("127.0.0.1", 5672, False).port
        5672
    """

    host: str
    port: int
    tls: bool
    timeout: float = 30.0
    cacertfile: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings: tcmodel's own (those of its HTTP clients), or
        trusting only the CAs of ``cacertfile`` when given.

        Example:
            >>> Connect("h", 5671, True).ssl_context().verify_mode.name
            'CERT_REQUIRED'
        """
        if self.cacertfile is None:
            from tcmodel._pool import ssl_context

            return ssl_context()
        return ssl.create_default_context(cafile=self.cacertfile)


@attrs.frozen
class Write:
    """Send ``data``.

    Example:
        >>> Write(b"AMQP").data
        b'AMQP'
    """

    data: bytes = attrs.field(repr=False)


@attrs.frozen
class Read:
    """Receive some bytes; ``b""`` at end of stream, ``None`` when nothing
    came within ``timeout`` seconds.

    Example:
        >>> Read(1.0).timeout
        1.0
    """

    timeout: float | None


@attrs.frozen
class Pause:
    """Sleep ``seconds``.

    Example:
        >>> Pause(0.5).seconds
        0.5
    """

    seconds: float


@attrs.frozen
class Disconnect:
    """Close the connection (if any).

    Example:
        >>> Disconnect()
        Disconnect()
    """


@attrs.frozen
class Hand:
    """Give ``item`` to the caller (yielded by the iterator); the operation
    resumes when the caller asks for the next one.

    Example:
        >>> Hand(1).item
        1
    """

    item: Any


@attrs.frozen
class RunOp:
    """Run a tcmodel request operation with ``transport``; the result is
    its return value.

    Example:
        >>> RunOp.__name__
        'RunOp'
    """

    transport: Transport
    op: Op[Any]


# -- URL ------------------------------------------------------------------------


@attrs.frozen(repr=False)
class PulseUrl:
    """An AMQP URL: ``amqp[s]://user:password@host[:port]/[vhost]``, with
    RabbitMQ's optional query parameters ``heartbeat`` (seconds, ``0`` for
    none; :data:`HEARTBEAT` by default) and ``cacertfile`` (a PEM file of
    the CAs to trust for ``amqps``, instead of the system's).

    The password never shows in its repr or ``str``.

    Example:
        >>> PulseUrl.parse("amqp://guest:guest@127.0.0.1:5673/").port
        5673
        >>> PulseUrl.parse("amqps://u:p@h/?heartbeat=20&cacertfile=/etc/ca.pem")
        PulseUrl('amqps://u:***@h:5671/?heartbeat=20&cacertfile=%2Fetc%2Fca.pem')
        >>> PulseUrl.parse("amqp://u:p@h/?verify=verify_none")
        Traceback (most recent call last):
        ...
        tcmodel.errors.ConfigurationError: unsupported Pulse URL parameter 'verify' ...
        >>> PulseUrl.parse("http://x")
        Traceback (most recent call last):
        ...
        tcmodel.errors.ConfigurationError: a Pulse URL starts with amqp:// or amqps://, ...
    """

    host: str
    port: int
    user: str
    password: str
    vhost: str
    tls: bool
    heartbeat: int | None = None
    cacertfile: str | None = None

    @classmethod
    def parse(cls, url: str) -> PulseUrl:
        """Parse ``url`` (see the class example).

        Example:
            >>> PulseUrl.parse("amqp://u:p@h/v%2Fx").vhost
            'v/x'
        """
        if not isinstance(url, str):
            raise ConfigurationError("a Pulse URL must be a string")
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            shown = repr(parts.scheme) if parts.scheme else "a URL without one"  # (no password)
            raise ConfigurationError(f"a Pulse URL starts with amqp:// or amqps://, not {shown}")
        tls = parts.scheme == "amqps"
        try:
            port = parts.port or (5671 if tls else 5672)
        except ValueError as exc:
            raise ConfigurationError("the Pulse URL's port is not a number") from exc
        if not parts.hostname:
            raise ConfigurationError("the Pulse URL names no host")
        path = parts.path
        vhost = "/" if path in ("", "/") else unquote(path[1:])
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - {"heartbeat", "cacertfile"})
        if unknown:
            raise ConfigurationError(
                f"unsupported Pulse URL parameter {unknown[0]!r} (heartbeat, cacertfile are)"
            )
        heartbeat = options.get("heartbeat")
        if heartbeat is not None and not (heartbeat.isdigit() and int(heartbeat) < 65536):
            raise ConfigurationError("the Pulse URL's heartbeat is a number of seconds")
        return cls(
            parts.hostname,
            port,
            unquote(parts.username or "guest"),
            unquote(parts.password or "guest"),
            vhost,
            tls,
            None if heartbeat is None else int(heartbeat),
            options.get("cacertfile"),
        )

    def __repr__(self) -> str:
        return f"PulseUrl({str(self)!r})"

    def __str__(self) -> str:
        scheme = "amqps" if self.tls else "amqp"
        vhost = "" if self.vhost == "/" else quote(self.vhost, safe="")
        options = {"heartbeat": self.heartbeat, "cacertfile": self.cacertfile}
        query = urlencode({k: v for k, v in options.items() if v is not None})
        url = f"{scheme}://{quote(self.user, safe='')}:***@{self.host}:{self.port}/{vhost}"
        return f"{url}?{query}" if query else url


# -- deliveries -------------------------------------------------------------------


@attrs.frozen
class Delivery:
    """One message as the broker delivered it.

    Example:
        >>> Delivery("ex", "primary.x", b"{}", 1).routing_key
        'primary.x'
    """

    exchange: str
    routing_key: str
    body: bytes = attrs.field(repr=False)
    delivery_tag: int
    redelivered: bool = False
    headers: dict[str, Any] = attrs.field(factory=dict, repr=False)


def _pamqp() -> Any:
    return require("pamqp.frame", "events")


class AmqpConnection:
    """The protocol state of one connection with one channel (sans-IO):
    its methods are operations yielding the steps above.

    Example:
        >>> AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).heartbeat
        0
    """

    def __init__(self, url: PulseUrl, *, heartbeat: int | None = None) -> None:
        self.url = url
        if heartbeat is None:
            heartbeat = HEARTBEAT if url.heartbeat is None else url.heartbeat
        self._want_heartbeat = heartbeat
        self.heartbeat = 0
        self.frame_max = _FRAME_MAX
        self._buf = bytearray()
        self._pending: collections.deque[Delivery] = collections.deque()
        self._last_recv = self._last_sent = time.monotonic()
        self._declared: set[str] = set()

    # frames

    def _write(self, *frames: Any, channel: int = 1) -> Steps:
        frame = _pamqp()
        data = b"".join(frame.marshal(f, channel) for f in frames)
        self._last_sent = time.monotonic()
        yield Write(data)

    def _beat(self) -> Steps:
        heartbeat = require("pamqp.heartbeat", "events")
        yield from self._write(heartbeat.Heartbeat(), channel=0)

    def _parse(self) -> tuple[int, Any] | None:
        buf = self._buf
        if len(buf) < 7:
            return None
        size = int.from_bytes(buf[3:7], "big")
        end = 7 + size + 1
        if len(buf) < end:
            return None
        frame = _pamqp()
        try:
            _, channel, value = frame.unmarshal(bytes(buf[:end]))
        except Exception as exc:
            raise ConnectionLost(f"malformed AMQP frame from the broker: {exc}") from None
        del buf[:end]
        return channel, value

    def _frame(self, deadline: float | None = None) -> Steps:
        """The next frame ``(channel, value)``, answering heartbeats and
        the broker's Close; ``None`` when ``deadline`` (monotonic) passes."""
        commands = require("pamqp.commands", "events")
        heartbeat = require("pamqp.heartbeat", "events")
        while True:
            got = self._parse()
            if got is not None:
                channel, value = got
                if isinstance(value, heartbeat.Heartbeat):
                    continue
                if isinstance(value, commands.Connection.Close):
                    yield from self._write(commands.Connection.CloseOk(), channel=0)
                    raise _closed("connection", value)
                if isinstance(value, commands.Channel.Close):
                    yield from self._write(commands.Channel.CloseOk(), channel=channel)
                    raise _closed("channel", value)
                return got
            now = time.monotonic()
            wait: float | None = None
            if self.heartbeat:
                if now - self._last_sent >= self.heartbeat / 2:
                    yield from self._beat()
                wait = self.heartbeat / 2
            if deadline is not None:
                if now >= deadline:
                    return None
                wait = deadline - now if wait is None else min(wait, deadline - now)
            data = yield Read(wait)
            if data is None:
                # (judged only after reading: what the broker sent while the
                # caller held an item is waiting in the socket)
                if self.heartbeat and time.monotonic() - self._last_recv > 2 * self.heartbeat:
                    raise ConnectionLost("the broker stopped answering (missed heartbeats)")
                continue
            if not data:
                raise ConnectionLost("the broker closed the connection")
            self._last_recv = time.monotonic()
            self._buf += data

    def _expect(self, *types: Any) -> Steps:
        """Read frames until a method of one of ``types`` (deliveries that
        arrive meanwhile are kept for :meth:`next_delivery`)."""
        commands = require("pamqp.commands", "events")
        while True:
            _, value = yield from self._frame()
            if isinstance(value, types):
                return value
            if isinstance(value, commands.Basic.Deliver):
                self._pending.append((yield from self._content(value)))

    def _rpc(self, method: Any, *types: Any, channel: int = 1) -> Steps:
        yield from self._write(method, channel=channel)
        return (yield from self._expect(*types))

    def _content(self, deliver: Any) -> Steps:
        header = require("pamqp.header", "events")
        body = require("pamqp.body", "events")
        _, head = yield from self._frame()
        if not isinstance(head, header.ContentHeader):
            raise ConnectionLost("expected a content header after Basic.Deliver")
        chunks: list[bytes] = []
        size = 0
        while size < head.body_size:
            _, part = yield from self._frame()
            if not isinstance(part, body.ContentBody):
                raise ConnectionLost("expected a content body frame")
            chunks.append(part.value)
            size += len(part.value)
        props = head.properties
        return Delivery(
            deliver.exchange,
            deliver.routing_key,
            b"".join(chunks),
            deliver.delivery_tag,
            bool(deliver.redelivered),
            dict(props.headers or {}) if props is not None else {},
        )

    # connection life

    def open(self) -> Steps:
        """Connect, authenticate (PLAIN), tune and open channel 1.

        Example:
            >>> gen = AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).open()
            >>> next(gen)
            Connect(host='h', port=5672, tls=False, timeout=30.0, cacertfile=None)
        """
        commands = require("pamqp.commands", "events")
        header = require("pamqp.header", "events")
        url = self.url
        yield Connect(url.host, url.port, url.tls, cacertfile=url.cacertfile)
        self._last_recv = self._last_sent = time.monotonic()
        yield Write(header.ProtocolHeader().marshal())
        yield from self._expect(commands.Connection.Start)
        start_ok = commands.Connection.StartOk(
            client_properties={
                "product": "tcmodel",
                "version": __version__,
                "platform": "Python",
                "capabilities": {
                    "consumer_cancel_notify": True,
                    "connection.blocked": False,
                    "basic.nack": True,
                    "publisher_confirms": True,
                    "authentication_failure_close": True,
                },
            },
            mechanism="PLAIN",
            response=f"\0{url.user}\0{url.password}",
        )
        yield from self._write(start_ok, channel=0)
        tune = yield from self._expect(commands.Connection.Tune)
        # the broker proposes, the client decides (RabbitMQ takes TuneOk's)
        self.heartbeat = self._want_heartbeat if tune.heartbeat else 0
        if tune.frame_max:
            self.frame_max = min(tune.frame_max, _FRAME_MAX)
        tune_ok = commands.Connection.TuneOk(
            channel_max=1, frame_max=self.frame_max, heartbeat=self.heartbeat
        )
        yield from self._write(tune_ok, channel=0)
        yield from self._rpc(
            commands.Connection.Open(virtual_host=url.vhost), commands.Connection.OpenOk, channel=0
        )
        yield from self._rpc(commands.Channel.Open(), commands.Channel.OpenOk)

    def close(self) -> Steps:
        """Close the connection politely (best effort) and disconnect.

        Example:
            >>> gen = AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).close()
            >>> type(next(gen)).__name__
            'Write'
        """
        commands = require("pamqp.commands", "events")
        try:
            yield from self._write(
                commands.Connection.Close(
                    reply_code=200, reply_text="bye", class_id=0, method_id=0
                ),
                channel=0,
            )
            deadline = time.monotonic() + 2.0
            while True:
                got = yield from self._frame(deadline)
                if got is None or isinstance(got[1], commands.Connection.CloseOk):
                    break
        except (OSError, EventsError):
            pass
        yield Disconnect()

    # declaring, consuming, publishing

    def declare_exchange(self, name: str) -> Steps:
        """Declare a durable topic exchange (as Pulse's are), once.

        Example:
            >>> gen = AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).declare_exchange("x")
            >>> type(next(gen)).__name__
            'Write'
        """
        if name in self._declared:
            return
        commands = require("pamqp.commands", "events")
        declare = commands.Exchange.Declare(exchange=name, exchange_type="topic", durable=True)
        yield from self._rpc(declare, commands.Exchange.DeclareOk)
        self._declared.add(name)

    def setup_consumer(
        self, bindings: Sequence[Binding], queue: str | None, prefetch: int = 100
    ) -> Steps:
        """Declare the queue (named and durable, or exclusive and
        auto-deleted when ``queue`` is ``None``), bind it, start consuming;
        returns the queue's name.

        Example:
            >>> AmqpConnection.setup_consumer.__name__
            'setup_consumer'
        """
        commands = require("pamqp.commands", "events")
        if queue is None:
            declare = commands.Queue.Declare(queue="", exclusive=True, auto_delete=True)
        else:
            declare = commands.Queue.Declare(queue=queue, durable=True)
        ok = yield from self._rpc(declare, commands.Queue.DeclareOk)
        name: str = ok.queue
        for b in bindings:
            bind = commands.Queue.Bind(
                queue=name, exchange=b.exchange, routing_key=b.routing_key_pattern
            )
            yield from self._rpc(bind, commands.Queue.BindOk)
        yield from self._rpc(commands.Basic.Qos(prefetch_count=prefetch), commands.Basic.QosOk)
        yield from self._rpc(
            commands.Basic.Consume(queue=name, consumer_tag="tcmodel"), commands.Basic.ConsumeOk
        )
        return name

    def next_delivery(self, deadline: float | None = None) -> Steps:
        """The next :class:`Delivery`, or ``None`` when ``deadline``
        (monotonic seconds) passes first.

        Example:
            >>> AmqpConnection.next_delivery.__name__
            'next_delivery'
        """
        commands = require("pamqp.commands", "events")
        while not self._pending:
            got = yield from self._frame(deadline)
            if got is None:
                return None
            value = got[1]
            if isinstance(value, commands.Basic.Deliver):
                return (yield from self._content(value))
            if isinstance(value, commands.Basic.Cancel):
                raise ConnectionLost("the broker cancelled the consumer (queue deleted?)")
        return self._pending.popleft()

    def ack(self, delivery_tag: int) -> Steps:
        """Acknowledge a delivery.

        Example:
            >>> gen = AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).ack(1)
            >>> type(next(gen)).__name__
            'Write'
        """
        commands = require("pamqp.commands", "events")
        yield from self._write(commands.Basic.Ack(delivery_tag=delivery_tag))

    def publish(
        self, exchange: str, routing_key: str, body: bytes, cc: Sequence[str] = ()
    ) -> Steps:
        """Publish a persistent JSON message, CC'd to the ``cc`` keys.

        Example:
            >>> gen = AmqpConnection(PulseUrl.parse("amqp://u:p@h/")).publish("x", "k", b"{}")
            >>> type(next(gen)).__name__
            'Write'
        """
        commands = require("pamqp.commands", "events")
        header = require("pamqp.header", "events")
        body_mod = require("pamqp.body", "events")
        props = commands.Basic.Properties(
            content_type="application/json",
            delivery_mode=2,
            headers={"CC": list(cc)} if cc else None,
        )
        step = self.frame_max - 8
        frames: list[Any] = [
            commands.Basic.Publish(exchange=exchange, routing_key=routing_key),
            header.ContentHeader(body_size=len(body), properties=props),
        ]
        frames += [body_mod.ContentBody(body[i : i + step]) for i in range(0, len(body), step)]
        yield from self._write(*frames)


def _closed(what: str, close: Any) -> EventsError:
    text = f"the broker closed the {what}: {close.reply_code} {close.reply_text}"
    if close.reply_code in (320, 501, 504, 505, 506, 541):  # shutdown, frame/internal errors
        return ConnectionLost(text)
    return EventsError(text)


# -- consuming with reconnection -------------------------------------------------------


class Handler(Protocol):
    """What :func:`consume_op` hands deliveries to (see its example).

    Example:
        >>> Handler.__name__
        'Handler'
    """

    @property
    def finished(self) -> bool:
        """Whether to stop (checked after each item)."""

    @property
    def wake(self) -> float | None:
        """Seconds without a delivery after which :meth:`idle` is called."""

    def connected(self, first: bool) -> Steps:
        """After each (re)connection: an operation returning items to hand."""

    def delivered(self, delivery: Delivery) -> list[Any]:
        """Items to hand for one delivery (it is acked after them)."""

    def idle(self) -> list[Any]:
        """Items to hand when nothing came for ``wake`` seconds."""

    def check(self) -> None:
        """Called before each reconnection attempt (may raise, e.g. a timeout)."""


def _finished(handler: Handler) -> bool:
    return handler.finished


def consume_op(
    url: PulseUrl,
    bindings: Sequence[Binding],
    handler: Handler,
    *,
    queue: str | None = None,
    prefetch: int = 100,
    reconnect_for: float = 300.0,
) -> Steps:
    """Consume with reconnection: hand the handler's items, ack each
    delivery once its items have been taken, reconnect with backoff when
    the connection drops (giving up after ``reconnect_for`` seconds of
    failures), and stop when ``handler.finished``.

    Example:
        >>> class Nothing:
        ...     finished, wake = True, None
        >>> list(drive(consume_op(PulseUrl.parse("amqp://u:p@h/"), [], Nothing())))
        []
    """
    first = True
    failing_since: float | None = None
    delay = BACKOFF[0]
    while not handler.finished:
        conn = AmqpConnection(url)
        try:
            yield from conn.open()
            yield from conn.setup_consumer(bindings, queue, prefetch)
            failing_since, delay = None, BACKOFF[0]
            for item in (yield from handler.connected(first)):
                yield Hand(item)
            first = False
            while not _finished(handler):
                deadline = None if handler.wake is None else time.monotonic() + handler.wake
                delivery = yield from conn.next_delivery(deadline)
                items = handler.idle() if delivery is None else handler.delivered(delivery)
                for item in items:
                    yield Hand(item)
                if delivery is not None:
                    yield from conn.ack(delivery.delivery_tag)
            yield from conn.close()
        except (OSError, ConnectionLost) as exc:
            yield Disconnect()
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since >= reconnect_for:
                raise EventsError(
                    f"could not reach the Pulse broker {url} for {reconnect_for:g}s: {exc}"
                ) from None
            handler.check()
            yield Pause(delay)
            delay = min(delay * 2, BACKOFF[1])


# -- drivers -------------------------------------------------------------------------


class _Stepper:
    """Walks an operation for a driver: :meth:`steps` yields each step once
    the previous one's ``result`` (or ``error``) is set, and ends when the
    operation returns."""

    def __init__(self, op: Steps) -> None:
        self.op = op
        self.result: Any = None
        self.error: BaseException | None = None

    def steps(self) -> Iterator[Any]:
        while True:
            error, self.error = self.error, None
            result, self.result = self.result, None
            try:
                yield self.op.throw(error) if error is not None else self.op.send(result)
            except StopIteration:
                return


def drive(op: Steps) -> Iterator[Any]:
    """Run an AMQP operation on a blocking socket, yielding what it hands.

    Example:
        >>> def op():
        ...     yield Hand("hello")
        ...     yield Pause(0)
        >>> list(drive(op()))
        ['hello']
    """
    sock: socket.socket | None = None

    def shut() -> None:
        nonlocal sock
        if sock is not None:
            try:
                sock.close()
            finally:
                sock = None

    run = _Stepper(op)
    try:
        for step in run.steps():
            if isinstance(step, Hand):
                yield step.item
                continue
            try:
                if isinstance(step, Connect):
                    shut()
                    raw = socket.create_connection((step.host, step.port), timeout=step.timeout)
                    if step.tls:
                        raw = step.ssl_context().wrap_socket(raw, server_hostname=step.host)
                    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sock = raw
                elif isinstance(step, Write):
                    if sock is None:
                        raise ConnectionLost("not connected")
                    sock.settimeout(30.0)
                    sock.sendall(step.data)
                elif isinstance(step, Read):
                    if sock is None:
                        raise ConnectionLost("not connected")
                    sock.settimeout(step.timeout)
                    try:
                        run.result = sock.recv(65536)
                    except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
                        run.result = None
                elif isinstance(step, Pause):
                    time.sleep(step.seconds)
                elif isinstance(step, Disconnect):
                    shut()
                elif isinstance(step, RunOp):
                    run.result = step.transport.run(step.op)
                else:
                    raise TypeError(f"unknown step {step!r}")
            except Exception as exc:
                run.error = exc
    finally:
        shut()
        op.close()


async def adrive(op: Steps) -> AsyncIterator[Any]:
    """Run an AMQP operation on an anyio stream (asyncio or trio),
    yielding what it hands.

    Example:
        >>> import asyncio
        >>> def op():
        ...     yield Hand("hello")
        >>> async def main() -> list[str]:
        ...     return [x async for x in adrive(op())]
        >>> asyncio.run(main())
        ['hello']
    """
    import anyio
    import anyio.abc

    stream: anyio.abc.ByteStream | None = None

    async def shut() -> None:
        nonlocal stream
        if stream is not None:
            s, stream = stream, None
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await s.aclose()

    run = _Stepper(op)
    try:
        for step in run.steps():
            if isinstance(step, Hand):
                yield step.item
                continue
            try:
                if isinstance(step, Connect):
                    await shut()
                    with anyio.fail_after(step.timeout):
                        if step.tls:
                            stream = await anyio.connect_tcp(
                                step.host,
                                step.port,
                                tls=True,
                                ssl_context=step.ssl_context(),
                                tls_hostname=step.host,
                            )
                        else:
                            stream = await anyio.connect_tcp(step.host, step.port)
                elif isinstance(step, Write):
                    if stream is None:
                        raise ConnectionLost("not connected")
                    with anyio.fail_after(30.0):
                        await stream.send(step.data)
                elif isinstance(step, Read):
                    if stream is None:
                        raise ConnectionLost("not connected")
                    run.result = None
                    with anyio.move_on_after(step.timeout):
                        try:
                            run.result = await stream.receive(65536)
                        except anyio.EndOfStream:
                            run.result = b""
                elif isinstance(step, Pause):
                    await anyio.sleep(step.seconds)
                elif isinstance(step, Disconnect):
                    await shut()
                elif isinstance(step, RunOp):
                    run.result = await step.transport.arun(step.op)
                else:
                    raise TypeError(f"unknown step {step!r}")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                run.error = ConnectionLost(f"connection to the broker broke: {exc!r}")
            except TimeoutError as exc:
                run.error = ConnectionLost(f"the broker did not answer in time: {exc!r}")
            except Exception as exc:
                run.error = exc
    finally:
        await shut()
        op.close()
