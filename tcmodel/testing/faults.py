"""Fault injection for the local cluster: errors, drops, truncation, delays.

A :class:`Fault` describes which requests it hits (origin, service, entry,
path substring, method) and what happens to them; :class:`FaultSet` holds
the pending faults of one cluster and hands each matching request the first
fault that still has uses left. Use it through
:meth:`tcmodel.testing.LocalCluster.inject`.

Example:
    >>> fs = FaultSet()
    >>> f = fs.add(Fault("drop", times=1, entry="status"))
    >>> fs.take("api", "GET", "/api/queue/v1/task/x/status", "queue", "status") is f
    True
    >>> fs.take("api", "GET", "/api/queue/v1/task/x/status", "queue", "status") is None
    True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Literal

import attrs

__all__ = ["FAULT_KINDS", "Fault", "FaultKind", "FaultSet"]

FaultKind = Literal["status", "drop", "truncate", "delay"]
#: The kinds of fault the servers know.
FAULT_KINDS: tuple[str, ...] = ("status", "drop", "truncate", "delay")


def _check_kind(_: object, __: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; expected one of {FAULT_KINDS}")


def _check_origin(_: object, __: object, value: str) -> None:
    if value not in ("api", "blob"):
        raise ValueError(f"origin must be 'api' or 'blob', not {value!r}")


@attrs.define
class Fault:
    """One injected fault and the requests it applies to.

    * ``"status"``: answer ``status`` with ``body`` (``None``: a Taskcluster
      JSON error body; ``str``/``bytes``: sent as is with ``content_type``,
      default ``text/html``) and extra ``headers`` (e.g. ``Retry-After``).
    * ``"drop"``: close the connection without any response.
    * ``"truncate"``: answer normally but send only ``keep`` bytes of the
      body (default: half) under the full ``Content-Length``, then close.
    * ``"delay"``: sleep ``delay`` seconds, then answer normally.

    ``times`` is how many matching requests it still affects. ``path`` is a
    substring of the request path; ``service``/``entry`` only match API
    requests.

    Example:
        >>> f = Fault("status", status=502, body="<html>Bad Gateway</html>")
        >>> f.matches("api", "GET", "/api/queue/v1/ping", "queue", "ping")
        True
    """

    kind: str = attrs.field(validator=_check_kind)
    times: int = 1
    service: str | None = None
    entry: str | None = None
    origin: str = attrs.field(default="api", validator=_check_origin)
    path: str | None = None
    method: str | None = None
    status: int = 500
    body: str | bytes | None = None
    delay: float = 0.0
    content_type: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    keep: int | None = None
    hits: int = 0

    def matches(
        self, origin: str, method: str, path: str, service: str | None, entry: str | None
    ) -> bool:
        """Whether this fault applies to the described request.

        Example:
            >>> f = Fault("drop", service="queue", entry="createTask")
            >>> f.matches("api", "PUT", "/api/queue/v1/task/x", "queue", "createTask")
            True
            >>> f.matches("api", "GET", "/api/queue/v1/ping", "queue", "ping")
            False
        """
        return (
            self.times > 0
            and self.origin == origin
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path in path)
            and (self.service is None or self.service == service)
            and (self.entry is None or self.entry == entry)
        )


class FaultSet:
    """The pending faults of one cluster (thread-safe).

    Example:
        >>> fs = FaultSet()
        >>> _ = fs.add(Fault("delay", delay=0.1, times=2))
        >>> len(fs.pending())
        1
        >>> fs.clear()
        >>> fs.pending()
        []
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Register ``fault``; returns it (its ``hits`` count as it fires).

        Example:
            >>> FaultSet().add(Fault("status", status=503)).hits
            0
        """
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget every pending fault.

        Example:
            >>> fs = FaultSet()
            >>> _ = fs.add(Fault("drop"))
            >>> fs.clear()
            >>> fs.take("api", "GET", "/api/queue/v1/ping", "queue", "ping") is None
            True
        """
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """The faults that still have uses left.

        Example:
            >>> fs = FaultSet()
            >>> _ = fs.add(Fault("drop"))
            >>> [f.kind for f in fs.pending()]
            ['drop']
        """
        with self._lock:
            return [f for f in self._faults if f.times > 0]

    def take(
        self, origin: str, method: str, path: str, service: str | None, entry: str | None
    ) -> Fault | None:
        """The first fault matching this request, with one use consumed.

        Example:
            >>> fs = FaultSet()
            >>> f = fs.add(Fault("status", status=502, times=2))
            >>> fs.take("api", "GET", "/api/queue/v1/ping", "queue", "ping") is f, f.times, f.hits
            (True, 1, 1)
        """
        if not self._faults:  # fast path, no lock needed for an empty list
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(origin, method, path, service, entry):
                    fault.times -= 1
                    fault.hits += 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
