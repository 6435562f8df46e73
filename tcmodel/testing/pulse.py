"""The local cluster's Pulse publisher: the queue's (and hooks') messages,
sent to a real RabbitMQ as the real services send them.

Give the local cluster an AMQP URL (``Settings(pulse_url=...)``) and its
queue publishes ``task-defined``, ``task-pending``, ``task-running``,
``artifact-created``, ``task-completed``, ``task-failed``,
``task-exception`` and ``task-group-resolved`` on the same exchanges
(durable topic exchanges, declared at start), with the same routing keys
(the primary key, CC'd to ``route.<r>`` for each of the task's routes) and
bodies. Messages go out from a background thread in the order the state
changed; without a URL nothing of this runs.

Example:
    >>> from tcmodel.testing.queue_model import TaskRecord, Run
    >>> t = TaskRecord("Dx4tPEtaRpeIeWpbTD0uHw", _definition_example(), 0.0, 1.0, 5,
    ...                [Run(0, "pending", "scheduled", 0.0)])
    >>> exchange, key, body, cc = task_message("task-pending", t, t.runs[0])
    >>> key
    'primary.Dx4tPEtaRpeIeWpbTD0uHw.0._._.proj.linux.-.Dx4tPEtaRpeIeWpbTD0uHw._'
    >>> cc, body["runId"], sorted(body)
    (['route.index.x'], 0, ['runId', 'status', 'task', 'version'])
"""

from __future__ import annotations

import json
import logging
import queue as queue_mod
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tcmodel.events import bindings as _b
from tcmodel.events._amqp import (
    BACKOFF,
    AmqpConnection,
    ConnectionLost,
    Disconnect,
    EventsError,
    PulseUrl,
    Read,
    Steps,
    drive,
)

if TYPE_CHECKING:
    from tcmodel.testing.queue_model import Run, TaskGroup, TaskRecord

__all__ = ["PulsePublisher", "group_message", "hook_message", "task_message"]

log = logging.getLogger("tcmodel.testing")
_STOP = object()


def _definition_example() -> dict[str, Any]:
    from tcmodel.events.consumer import _example_fields

    return {**_example_fields(), "routes": ["index.x"], "tags": {}}


def task_message(
    kind: str, task: TaskRecord, run: Run | None = None, **extra: Any
) -> tuple[str, str, dict[str, Any], list[str]]:
    """``(exchange, routing key, body, CC keys)`` of a queue task message
    about ``task`` (and ``run``), as the real queue builds them.

    Example:
        >>> from tcmodel.testing.queue_model import TaskRecord
        >>> t = TaskRecord("Dx4tPEtaRpeIeWpbTD0uHw", _definition_example(), 0.0, 1.0, 5)
        >>> task_message("task-defined", t)[1]
        'primary.Dx4tPEtaRpeIeWpbTD0uHw._._._.proj.linux.-.Dx4tPEtaRpeIeWpbTD0uHw._'
    """
    exchange = _b.EXCHANGES[f"exchange/taskcluster-queue/v1/{kind}"]
    d = task.definition
    words: dict[str, Any] = {
        "taskId": task.task_id,
        "provisionerId": d["provisionerId"],
        "workerType": d["workerType"],
        "schedulerId": d["schedulerId"],
        "taskGroupId": d["taskGroupId"],
    }
    body: dict[str, Any] = {"version": 1, "status": task.status_json()}
    if run is not None:
        words["runId"] = run.run_id
        body["runId"] = run.run_id
        if run.worker_group and run.worker_id and kind != "task-pending":
            words["workerGroup"], words["workerId"] = run.worker_group, run.worker_id
            body["workerGroup"], body["workerId"] = run.worker_group, run.worker_id
        if kind == "task-running" and run.taken_until is not None:
            from tcmodel.testing._core import iso

            body["takenUntil"] = iso(run.taken_until)
    if kind != "artifact-created" and kind != "task-priority-changed":
        body["task"] = {"tags": dict(d.get("tags") or {})}
    body.update(extra)
    cc = [f"route.{r}" for r in d.get("routes") or ()]
    return exchange.exchange, exchange.routing_key(words), body, cc


def group_message(
    kind: str, group: TaskGroup, **extra: Any
) -> tuple[str, str, dict[str, Any], list[str]]:
    """``(exchange, routing key, body, [])`` of a task-group message.

    Example:
        >>> from tcmodel.testing.queue_model import TaskGroup
        >>> g = TaskGroup("Dx4tPEtaRpeIeWpbTD0uHw", "-", 1.7e9)
        >>> group_message("task-group-resolved", g)[1]
        'primary.Dx4tPEtaRpeIeWpbTD0uHw.-._'
    """
    exchange = _b.EXCHANGES[f"exchange/taskcluster-queue/v1/{kind}"]
    info = group.to_json()
    body: dict[str, Any] = {
        "version": 1,
        "taskGroupId": info["taskGroupId"],
        "schedulerId": info["schedulerId"],
        "expires": info["expires"],
    }
    if kind == "task-group-priority-changed":
        del body["expires"]
    elif info.get("sealed"):
        body["sealed"] = info["sealed"]
    body.update(extra)
    words = {"taskGroupId": info["taskGroupId"], "schedulerId": info["schedulerId"]}
    return exchange.exchange, exchange.routing_key(words), body, []


def hook_message(
    kind: str, hook_group_id: str, hook_id: str
) -> tuple[str, str, dict[str, Any], list[str]]:
    """``(exchange, routing key, body, [])`` of a hooks message (``kind`` is
    ``created``, ``updated`` or ``deleted``).

    Example:
        >>> hook_message("created", "project", "nightly")[:3]
        ('exchange/taskcluster-hooks/v1/hook-created', '_', {'hookGroupId': 'project', \
'hookId': 'nightly'})
    """
    exchange = _b.EXCHANGES[f"exchange/taskcluster-hooks/v1/hook-{kind}"]
    body = {"hookGroupId": hook_group_id, "hookId": hook_id}
    return exchange.exchange, exchange.routing_key({}), body, []


class PulsePublisher:
    """Publishes messages from a background thread, reconnecting (with
    backoff) and re-sending the message in hand when the broker drops.

    :meth:`start` connects and declares every exchange tcmodel knows (so
    consumers can bind at once) and raises
    :class:`~tcmodel.events.EventsError` when the broker cannot be reached.

    Example:
        >>> p = PulsePublisher("amqp://guest:guest@127.0.0.1:1/")
        >>> p.sent, p.running
        (0, False)
    """

    def __init__(self, url: str, *, exchanges: Sequence[str] | None = None) -> None:
        self.url = PulseUrl.parse(url)
        self.exchanges = list(exchanges if exchanges is not None else _b.EXCHANGES)
        self.sent = 0
        self._outbox: queue_mod.SimpleQueue[Any] = queue_mod.SimpleQueue()
        self._ready = threading.Event()
        self._idle = threading.Condition()
        self._queued = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._wake = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the publishing thread runs.

        Example:
            >>> PulsePublisher("amqp://u:p@h/").running
            False
        """
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> PulsePublisher:
        """Start the thread; wait until the exchanges are declared.

        Example:
            >>> PulsePublisher("amqp://guest:guest@127.0.0.1:1/").start(timeout=0.2)
            Traceback (most recent call last):
            ...
            tcmodel.events._amqp.EventsError: the local cluster could not publish to ...
        """
        self._thread = threading.Thread(target=self._main, name="tcmodel-pulse", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise EventsError(f"the local cluster could not publish to {self.url}: {self._error!r}")
        return self

    def publish(self, message: tuple[str, str, dict[str, Any], list[str]]) -> None:
        """Queue ``(exchange, routing key, body, cc)`` for sending.

        Example:
            >>> p = PulsePublisher("amqp://u:p@h/")
            >>> p.publish(("x", "k", {}, []))
            >>> p.pending
            1
        """
        with self._idle:
            self._queued += 1
        self._outbox.put(message)

    @property
    def pending(self) -> int:
        """Messages queued and not sent yet.

        Example:
            >>> PulsePublisher("amqp://u:p@h/").pending
            0
        """
        return self._queued

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued message is sent; whether it was.

        Example:
            >>> PulsePublisher("amqp://u:p@h/").flush(0.1)
            True
        """
        end = time.monotonic() + timeout
        with self._idle:
            while self._queued:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (for up to ``timeout`` seconds) and stop.

        Example:
            >>> PulsePublisher("amqp://u:p@h/").stop()
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping = True  # no more reconnecting: send what is queued, or give up
        self._wake.set()
        self._outbox.put(_STOP)
        thread.join(timeout)

    def _main(self) -> None:
        try:
            for _ in drive(self._op()):
                pass
        except BaseException as exc:
            self._error = exc
            log.warning("tcmodel local cluster: Pulse publisher stopped: %r", exc)

    def _op(self) -> Steps:
        delay = BACKOFF[0]
        message: Any = None
        while True:
            conn = AmqpConnection(self.url, heartbeat=0)
            try:
                yield from conn.open()
                for name in self.exchanges:
                    yield from conn.declare_exchange(name)
                self._ready.set()
                delay = BACKOFF[0]
                while True:
                    if message is None:
                        message = self._outbox.get()
                    if message is _STOP:
                        yield from conn.close()
                        return
                    yield from _check_alive(conn)
                    exchange, key, body, cc = message
                    data = json.dumps(body, separators=(",", ":")).encode()
                    yield from conn.publish(exchange, key, data, cc)
                    message = None
                    self.sent += 1
                    with self._idle:
                        self._queued -= 1
                        if not self._queued:
                            self._idle.notify_all()
            except (OSError, ConnectionLost) as exc:
                self._error = exc
                yield Disconnect()
                if message is _STOP or self._stopping:
                    return
                self._wake.wait(delay)  # stop() cuts the pause short
                delay = min(delay * 2, BACKOFF[1])


def _check_alive(conn: AmqpConnection) -> Steps:
    """Take what the broker sent (a Close when it shuts down) without
    waiting; raise :class:`ConnectionLost` when the connection is gone."""
    while True:
        data = yield Read(0.0)
        if data is None:
            break
        if not data:
            raise ConnectionLost("the broker closed the connection")
        conn._buf += data
    while conn._buf:
        got = yield from conn._frame(time.monotonic())
        if got is None:
            break
