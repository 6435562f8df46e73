"""Pulse bindings: which exchange, and which routing keys, to listen to.

Every Taskcluster service announces changes on RabbitMQ *topic exchanges*
(``exchange/taskcluster-queue/v1/task-completed``, …). A message's routing
key is a fixed list of words (task id, run id, worker, task queue,
scheduler, group, …); a consumer binds a queue to an exchange with a
*pattern* over those words, ``*`` for any one word and ``#`` for any number.
Task messages are also sent (CC'd) with the key ``route.<r>`` for each of
the task's ``routes``.

The table below is tcmodel's own account of the exchanges (the tests check
it against the services' exchange references, so it cannot drift). Build a
binding by calling the exchange with the words you care about, by their
snake_case names; the others become wildcards:

Example:
    >>> b = queue.task_completed(task_group_id="Dx4tPEtaRpeIeWpbTD0uHw")
    >>> b.exchange
    'exchange/taskcluster-queue/v1/task-completed'
    >>> b.routing_key_pattern
    'primary.*.*.*.*.*.*.*.Dx4tPEtaRpeIeWpbTD0uHw.#'
    >>> queue.task_failed(route="index.project.*").routing_key_pattern
    'route.index.project.*'
    >>> queue.task_failed(colour="red")
    Traceback (most recent call last):
    ...
    tcmodel.events.bindings.BindingError: task-failed has no routing-key field 'colour' ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from tcmodel.errors import TaskclusterError

__all__ = [
    "EXCHANGES",
    "Binding",
    "BindingError",
    "Exchange",
    "KeyField",
    "auth",
    "hooks",
    "notify",
    "queue",
    "worker_manager",
]

#: The longest routing key (pattern) RabbitMQ accepts, in bytes.
MAX_KEY_BYTES = 255


class BindingError(TaskclusterError, ValueError):
    """A binding asked for a routing-key field the exchange does not have,
    or for a value that cannot appear in a routing key.

    Example:
        >>> issubclass(BindingError, ValueError)
        True
    """


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@attrs.frozen
class KeyField:
    """One word (or, when ``multiple_words``, several) of a routing key.

    ``constant`` is the value every message carries there (``primary``).

    Example:
        >>> KeyField("taskGroupId").python_name
        'task_group_id'
    """

    name: str
    multiple_words: bool = False
    constant: str | None = None

    @property
    def python_name(self) -> str:
        """The keyword argument naming this field (snake_case).

        Example:
            >>> KeyField("workerType").python_name
            'worker_type'
        """
        return _snake(self.name)

    @property
    def wildcard(self) -> str:
        """What the pattern has here when no value is given.

        Example:
            >>> KeyField("reserved", multiple_words=True).wildcard
            '#'
        """
        if self.constant is not None:
            return self.constant
        return "#" if self.multiple_words else "*"


@attrs.frozen
class Binding:
    """An exchange and a routing-key pattern to bind a queue with.

    Example:
        >>> Binding("exchange/taskcluster-queue/v1/task-defined", "primary.#").exchange_name
        'task-defined'
    """

    exchange: str
    routing_key_pattern: str

    @property
    def exchange_name(self) -> str:
        """The exchange's short name (the last part of :attr:`exchange`).

        Example:
            >>> queue.task_pending().exchange_name
            'task-pending'
        """
        return self.exchange.rsplit("/", 1)[-1]


def _word(exchange: str, name: str, value: Any, *, multiple: bool) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BindingError(f"{exchange}: {name} must be a string, not {type(value).__name__}")
    text = str(value)
    if not text or text.strip() != text:
        raise BindingError(f"{exchange}: {name} must be a non-empty word, not {text!r}")
    bad = "*#" if multiple else ".*#"
    if any(c in text for c in bad):
        what = "words without wildcards" if multiple else "a single routing-key word"
        raise BindingError(f"{exchange}: {name} must be {what} (no {' '.join(bad)}): {text!r}")
    return text


@attrs.frozen
class Exchange:
    """A Pulse exchange: its full name, routing-key fields (in order) and
    the JSON schema of its messages (relative to the service's schemas).

    Calling it builds a :class:`Binding` (see the module's example).

    Example:
        >>> queue.task_defined.exchange
        'exchange/taskcluster-queue/v1/task-defined'
        >>> queue.task_defined(task_id="Dx4tPEtaRpeIeWpbTD0uHw").routing_key_pattern
        'primary.Dx4tPEtaRpeIeWpbTD0uHw.*.*.*.*.*.*.*.#'
    """

    service: str
    name: str
    fields: tuple[KeyField, ...]
    schema: str
    prefix: str

    @property
    def exchange(self) -> str:
        """The exchange's full name.

        Example:
            >>> auth.client_created.exchange
            'exchange/taskcluster-auth/v1/client-created'
        """
        return self.prefix + self.name

    @property
    def python_name(self) -> str:
        """The attribute naming this exchange in its service (snake_case).

        Example:
            >>> queue.task_group_resolved.python_name
            'task_group_resolved'
        """
        return self.name.replace("-", "_")

    @property
    def has_routes(self) -> bool:
        """Whether its messages are CC'd to the task's ``route.*`` keys
        (task messages of the queue).

        Example:
            >>> queue.task_completed.has_routes, queue.task_group_resolved.has_routes
            (True, False)
        """
        return self.service == "queue" and any(f.name == "taskId" for f in self.fields)

    def __call__(self, *, route: str | None = None, **words: Any) -> Binding:
        """A binding on this exchange (see the module's example).

        ``route`` binds on the CC'd ``route.<route>`` key instead of the
        primary one (it may hold ``*``/``#``); it excludes other fields.
        ``task_queue_id="prov/type"`` sets ``provisioner_id`` and
        ``worker_type``.

        Example:
            >>> queue.task_pending(task_queue_id="proj/linux").routing_key_pattern
            'primary.*.*.*.*.proj.linux.*.*.#'
        """
        if "task_queue_id" in words and any(f.name == "provisionerId" for f in self.fields):
            tq = words.pop("task_queue_id")
            if not isinstance(tq, str) or tq.count("/") != 1:
                raise BindingError(f"{self.name}: task_queue_id must be 'provisioner/type'")
            words["provisioner_id"], words["worker_type"] = tq.split("/")
        if route is not None:
            if not self.has_routes:
                raise BindingError(f"{self.name} messages are not sent to task routes")
            if words:
                raise BindingError(f"{self.name}: route= excludes {', '.join(sorted(words))}")
            if not isinstance(route, str) or not route or " " in route:
                raise BindingError(f"{self.name}: route must be a non-empty string")
            return self._binding(f"route.{route}")
        by_name = {f.python_name: f for f in self.fields}
        for key in words:
            if key not in by_name or by_name[key].constant is not None:
                known = ", ".join(f.python_name for f in self.fields if f.constant is None)
                raise BindingError(
                    f"{self.name} has no routing-key field {key!r} (fields: {known})"
                )
        parts = []
        for f in self.fields:
            value = words.get(f.python_name)
            if value is None:
                parts.append(f.wildcard)
            else:
                parts.append(_word(self.name, f.python_name, value, multiple=f.multiple_words))
        return self._binding(".".join(parts))

    def _binding(self, pattern: str) -> Binding:
        if len(pattern.encode()) > MAX_KEY_BYTES:
            raise BindingError(f"{self.name}: routing key longer than {MAX_KEY_BYTES} bytes")
        return Binding(self.exchange, pattern)

    def routing_key(self, words: Mapping[str, Any]) -> str:
        """The routing key a message with these words is published with
        (``_`` for a missing one), by camelCase field name.

        Example:
            >>> queue.task_group_resolved.routing_key(
            ...     {"taskGroupId": "Dx4tPEtaRpeIeWpbTD0uHw", "schedulerId": "-"})
            'primary.Dx4tPEtaRpeIeWpbTD0uHw.-._'
        """
        out = []
        for f in self.fields:
            value = f.constant if f.constant is not None else words.get(f.name)
            out.append("_" if value is None or value == "" else str(value))
        return ".".join(out)

    def parse(self, routing_key: str) -> dict[str, str | None]:
        """The words of a primary routing key, by camelCase field name
        (``_`` becomes ``None``).

        Example:
            >>> queue.task_group_sealed.parse("primary.G.S._")
            {'routingKeyKind': 'primary', 'taskGroupId': 'G', 'schedulerId': 'S', 'reserved': None}
        """
        words = routing_key.split(".")
        out: dict[str, str | None] = {}
        for i, f in enumerate(self.fields):
            value = (
                ".".join(words[i:]) if f.multiple_words else (words[i] if i < len(words) else "")
            )
            out[f.name] = None if value in ("", "_") else value
        return out


class Service:
    """The exchanges of one service, as attributes (snake_case names).

    Example:
        >>> [e.name for e in hooks][:2]
        ['hook-created', 'hook-updated']
    """

    def __init__(self, name: str, prefix: str, exchanges: list[Exchange]) -> None:
        self.name = name
        self.prefix = prefix
        self._exchanges = {e.python_name: e for e in exchanges}

    def __getattr__(self, name: str) -> Exchange:
        try:
            return self._exchanges[name]
        except KeyError:
            raise AttributeError(f"{self.name} has no exchange {name!r}") from None

    def __iter__(self) -> Any:
        return iter(self._exchanges.values())

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._exchanges))

    def __repr__(self) -> str:
        return f"<Service {self.name}: {len(self._exchanges)} exchanges>"


_KIND = KeyField("routingKeyKind", constant="primary")
_RESERVED = KeyField("reserved", multiple_words=True)
_TASK = (
    _KIND,
    *(
        KeyField(n)
        for n in (
            "taskId",
            "runId",
            "workerGroup",
            "workerId",
            "provisionerId",
            "workerType",
            "schedulerId",
            "taskGroupId",
        )
    ),
    _RESERVED,
)
_GROUP = (_KIND, KeyField("taskGroupId"), KeyField("schedulerId"), _RESERVED)
_WORKER = (
    _KIND,
    *(
        KeyField(n)
        for n in (
            "providerId",
            "provisionerId",
            "workerType",
            "workerGroup",
            "workerId",
            "launchConfigId",
        )
    ),
    _RESERVED,
)


def _service(name: str, table: list[tuple[str, tuple[KeyField, ...], str]]) -> Service:
    prefix = f"exchange/taskcluster-{name}/v1/"
    return Service(name, prefix, [Exchange(name, n, f, s, prefix) for n, f, s in table])


#: The queue's exchanges (task and task-group messages).
queue = _service(
    "queue",
    [
        ("task-defined", _TASK, "task-defined-message.json"),
        ("task-pending", _TASK, "task-pending-message.json"),
        ("task-running", _TASK, "task-running-message.json"),
        ("artifact-created", _TASK, "artifact-created-message.json"),
        ("task-completed", _TASK, "task-completed-message.json"),
        ("task-failed", _TASK, "task-failed-message.json"),
        ("task-exception", _TASK, "task-exception-message.json"),
        ("task-group-resolved", _GROUP, "task-group-changed-message.json"),
        ("task-group-sealed", _GROUP, "task-group-changed-message.json"),
        ("task-priority-changed", _TASK, "task-priority-changed-message.json"),
        ("task-group-priority-changed", _GROUP, "task-group-priority-changed-message.json"),
    ],
)
#: The auth service's exchanges (clients and roles changed).
auth = _service(
    "auth",
    [
        (f"{what}-{verb}", (_RESERVED,), f"{what}-message.json")
        for what in ("client", "role")
        for verb in ("created", "updated", "deleted")
    ],
)
#: The hooks service's exchanges (hooks changed).
hooks = _service(
    "hooks",
    [
        (f"hook-{verb}", (_RESERVED,), "pulse-hook-changed-message.json")
        for verb in ("created", "updated", "deleted")
    ],
)
#: The notify service's exchange (``notify.pulse`` messages).
notify = _service(
    "notify",
    [
        (
            "notification",
            (_KIND, KeyField("topic", multiple_words=True)),
            "notification-message.json",
        )
    ],
)
_POOL, _ONE = "pulse-worker-pool-message.json", "pulse-worker-message.json"
_LAUNCH = "pulse-launch-config-message.json"
#: The worker manager's exchanges (pools, workers, launch configs).
worker_manager = _service(
    "worker-manager",
    [
        ("worker-pool-created", _WORKER, _POOL),
        ("worker-pool-updated", _WORKER, _POOL),
        ("worker-pool-error", _WORKER, "pulse-worker-pool-error-message.json"),
        ("worker-requested", _WORKER, _ONE),
        ("worker-running", _WORKER, _ONE),
        ("worker-stopped", _WORKER, _ONE),
        ("worker-removed", _WORKER, "pulse-worker-removed-message.json"),
        ("launch-config-created", _WORKER, _LAUNCH),
        ("launch-config-updated", _WORKER, _LAUNCH),
        ("launch-config-archived", _WORKER, _LAUNCH),
    ],
)

#: Every exchange tcmodel knows, by full exchange name.
EXCHANGES: dict[str, Exchange] = {
    e.exchange: e for svc in (queue, auth, hooks, notify, worker_manager) for e in svc
}
