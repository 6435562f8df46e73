"""The records the emulated queue keeps, and how they look on the wire.

Tasks, runs, artifacts, task groups and task queues are plain attrs classes;
their ``to_json`` methods give the exact bodies of the real queue (dates as
``iso()`` strings with milliseconds, optional fields left out when unset).
:func:`paginate` is the one pagination helper of the queue: offset tokens
for most listings, cursor tokens for artifact listings.

Example:
    >>> run = Run(0, "pending", "scheduled", scheduled=1700000000.0)
    >>> run.to_json()
    {'runId': 0, 'state': 'pending', 'reasonCreated': 'scheduled', \
'scheduled': '2023-11-14T22:13:20.000Z'}
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import attrs

from tcmodel.testing._core import ApiError, iso

__all__ = [
    "MAX_RUNS",
    "PRIORITIES",
    "RESOLVED_STATES",
    "Artifact",
    "Run",
    "TaskGroup",
    "TaskQueue",
    "TaskRecord",
    "add_years",
    "ms",
    "name_order",
    "not_found",
    "paginate",
    "priorities_at_or_above",
    "with_token",
]

#: Task priorities, highest first.
PRIORITIES = ("highest", "very-high", "high", "medium", "low", "very-low", "lowest")
#: A task never has more runs than this.
MAX_RUNS = 50
#: Run states that end a run.
RESOLVED_STATES = frozenset({"completed", "failed", "exception"})

T = TypeVar("T")


def ms(ts: float) -> float:
    """Cut Unix seconds to whole milliseconds, as JavaScript dates hold them.

    Example:
        >>> ms(1.23456)
        1.234
    """
    return math.floor(round(ts * 1000, 3)) / 1000


def add_years(ts: float, years: int) -> float:
    """``ts`` moved ``years`` calendar years on (29 February → 1 March), as
    JavaScript's ``setFullYear`` does in UTC.

    Example:
        >>> iso(add_years(1709208000.0, 1))  # 2024-02-29T12:00Z
        '2025-03-01T12:00:00.000Z'
    """
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    try:
        moved = dt.replace(year=dt.year + years)
    except ValueError:  # 29 February in a year without one
        moved = dt.replace(year=dt.year + years, month=3, day=1)
    return moved.timestamp()


def priorities_at_or_above(priority: str) -> list[str]:
    """The priorities whose create-task scope allows creating at ``priority``.

    Example:
        >>> priorities_at_or_above("high")
        ['highest', 'very-high', 'high']
    """
    return list(PRIORITIES[: PRIORITIES.index(priority) + 1])


def not_found(message: str) -> ApiError:
    """A 404 ``ResourceNotFound`` error.

    Example:
        >>> not_found("no such task").status
        404
    """
    return ApiError(404, "ResourceNotFound", message)


@attrs.define(eq=False)
class Run:
    """One run of a task.

    Example:
        >>> Run(0, "running", "scheduled", 0.0, worker_group="wg", worker_id="w1").state
        'running'
    """

    run_id: int
    state: str
    reason_created: str
    scheduled: float
    reason_resolved: str | None = None
    worker_group: str | None = None
    worker_id: str | None = None
    taken_until: float | None = None
    started: float | None = None
    resolved: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The run as ``status.runs[i]`` shows it.

        Example:
            >>> sorted(Run(0, "pending", "rerun", 0.0).to_json())
            ['reasonCreated', 'runId', 'scheduled', 'state']
        """
        out: dict[str, Any] = {
            "runId": self.run_id,
            "state": self.state,
            "reasonCreated": self.reason_created,
        }
        if self.reason_resolved is not None:
            out["reasonResolved"] = self.reason_resolved
        if self.worker_group is not None:
            out["workerGroup"] = self.worker_group
        if self.worker_id is not None:
            out["workerId"] = self.worker_id
        if self.taken_until is not None:
            out["takenUntil"] = iso(self.taken_until)
        out["scheduled"] = iso(self.scheduled)
        if self.started is not None:
            out["started"] = iso(self.started)
        if self.resolved is not None:
            out["resolved"] = iso(self.resolved)
        return out


@attrs.define(eq=False)
class Artifact:
    """An artifact of one run.

    ``details`` holds what the storage type needs (``url`` of a reference,
    ``artifact`` of a link, ``reason``/``message`` of an error, ``uploadId``
    of an unfinished object). ``present`` is false until an object artifact
    is finished.

    Example:
        >>> a = Artifact("public/x", "reference", "text/plain", 1700000000.0, True,
        ...              details={"url": "https://example.com"})
        >>> a.to_json()["storageType"]
        'reference'
    """

    name: str
    storage_type: str
    content_type: str
    expires: float
    present: bool
    content_length: int | None = None
    details: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The artifact as listArtifacts and artifactInfo show it.

        Example:
            >>> Artifact("a", "s3", "text/plain", 0.0, True, 5).to_json()["contentLength"]
            5
        """
        out: dict[str, Any] = {
            "storageType": self.storage_type,
            "name": self.name,
            "expires": iso(self.expires),
            "contentType": self.content_type,
        }
        if self.content_length is not None:
            out["contentLength"] = self.content_length
        return out


@attrs.define(eq=False)
class TaskRecord:
    """A task: its normalised definition and its mutable status.

    ``definition`` is exactly what ``task()`` answers. ``blockers`` are the
    dependencies not yet satisfied. ``artifacts[runId]`` maps names to
    artifacts; ``artifact_names[runId]`` keeps those names sorted.

    Example:
        >>> t = TaskRecord("Dx4tPEtaRpeIeWpbTD0uHw", {"priority": "lowest"}, 0.0, 1.0, 5)
        >>> t.state
        'unscheduled'
    """

    task_id: str
    definition: dict[str, Any]
    deadline: float
    expires: float
    retries_left: int
    runs: list[Run] = attrs.field(factory=list)
    blockers: set[str] = attrs.field(factory=set)
    artifacts: dict[int, dict[str, Artifact]] = attrs.field(factory=dict)
    artifact_names: dict[int, list[str]] = attrs.field(factory=dict)

    @property
    def state(self) -> str:
        """The task state: the last run's, or ``unscheduled``.

        Example:
            >>> t = TaskRecord("x", {}, 0.0, 1.0, 0, [Run(0, "failed", "scheduled", 0.0)])
            >>> t.state
            'failed'
        """
        return self.runs[-1].state if self.runs else "unscheduled"

    @property
    def resolved(self) -> bool:
        """Whether the last run has ended.

        Example:
            >>> TaskRecord("x", {}, 0.0, 1.0, 0).resolved
            False
        """
        return self.state in RESOLVED_STATES

    @property
    def task_queue_id(self) -> str:
        """``provisionerId/workerType``.

        Example:
            >>> TaskRecord("x", {"taskQueueId": "p/w"}, 0.0, 1.0, 0).task_queue_id
            'p/w'
        """
        value: str = self.definition["taskQueueId"]
        return value

    @property
    def priority(self) -> str:
        """The current priority.

        Example:
            >>> TaskRecord("x", {"priority": "high"}, 0.0, 1.0, 0).priority
            'high'
        """
        value: str = self.definition["priority"]
        return value

    def status_json(self) -> dict[str, Any]:
        """The task status structure (``status()``'s ``status``).

        Example:
            >>> d = dict.fromkeys(["provisionerId", "workerType", "taskQueueId", "schedulerId",
            ...                    "projectId", "taskGroupId", "priority", "deadline",
            ...                    "expires"], "")
            >>> TaskRecord("x", d, 0.0, 1.0, 5).status_json()["retriesLeft"]
            5
        """
        d = self.definition
        return {
            "taskId": self.task_id,
            "provisionerId": d["provisionerId"],
            "workerType": d["workerType"],
            "taskQueueId": d["taskQueueId"],
            "schedulerId": d["schedulerId"],
            "projectId": d["projectId"],
            "taskGroupId": d["taskGroupId"],
            "priority": d["priority"],
            "deadline": d["deadline"],
            "expires": d["expires"],
            "retriesLeft": self.retries_left,
            "state": self.state,
            "runs": [run.to_json() for run in self.runs],
        }

    def put_artifact(self, run_id: int, artifact: Artifact) -> None:
        """Store ``artifact`` for ``run_id``, keeping the names in listing
        order (:func:`name_order`).

        Example:
            >>> t = TaskRecord("x", {}, 0.0, 1.0, 0)
            >>> for n in ("b", "a-2", "a.1"):
            ...     t.put_artifact(0, Artifact(n, "error", "x", 0.0, True))
            >>> t.artifact_names[0]
            ['a.1', 'a-2', 'b']
        """
        by_name = self.artifacts.setdefault(run_id, {})
        if artifact.name not in by_name:
            names = self.artifact_names.setdefault(run_id, [])
            bisect.insort(names, artifact.name, key=name_order)
        by_name[artifact.name] = artifact

    def drop_artifact(self, run_id: int, name: str) -> Artifact | None:
        """Forget an artifact; returns it (or ``None``).

        Example:
            >>> TaskRecord("x", {}, 0.0, 1.0, 0).drop_artifact(0, "a") is None
            True
        """
        artifact = self.artifacts.get(run_id, {}).pop(name, None)
        if artifact is not None:
            names = self.artifact_names[run_id]
            names.remove(name)
        return artifact

    def artifact(self, run_id: int, name: str) -> Artifact | None:
        """The artifact ``name`` of run ``run_id``, or ``None``.

        Example:
            >>> TaskRecord("x", {}, 0.0, 1.0, 0).artifact(0, "a") is None
            True
        """
        return self.artifacts.get(run_id, {}).get(name)


@attrs.define(eq=False)
class TaskGroup:
    """A task group; ``members`` are its taskIds, in creation order.

    Example:
        >>> g = TaskGroup("Dx4tPEtaRpeIeWpbTD0uHw", "-", 1700000000.0)
        >>> sorted(g.to_json())
        ['expires', 'schedulerId', 'taskGroupId']
    """

    task_group_id: str
    scheduler_id: str
    expires: float
    sealed: float | None = None
    members: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The body of ``getTaskGroup``.

        Example:
            >>> TaskGroup("g", "-", 0.0, sealed=0.0).to_json()["sealed"]
            '1970-01-01T00:00:00.000Z'
        """
        out: dict[str, Any] = {
            "taskGroupId": self.task_group_id,
            "schedulerId": self.scheduler_id,
            "expires": iso(self.expires),
        }
        if self.sealed is not None:
            out["sealed"] = iso(self.sealed)
        return out


@attrs.define(eq=False)
class TaskQueue:
    """A task queue the queue has seen (by createTask or claimWork).

    ``pending`` maps taskId → (runId, inserted, order key) for pending runs;
    ``claimed`` maps taskId → (runId, claimed) for running runs.
    ``registered``: a worker has claimed from it; as on the real services,
    only such queues are listed (listTaskQueues, getTaskQueue, worker types).

    Example:
        >>> TaskQueue("prov/wt", 1.0, 0.0).to_json()["stability"]
        'experimental'
    """

    task_queue_id: str
    expires: float
    last_date_active: float
    description: str = ""
    stability: str = "experimental"
    registered: bool = False
    pending: dict[str, tuple[int, float, tuple[int, int]]] = attrs.field(factory=dict)
    claimed: dict[str, tuple[int, float]] = attrs.field(factory=dict)
    heap: list[tuple[int, int, str, int]] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The body of ``getTaskQueue``.

        Example:
            >>> TaskQueue("p/w", 0.0, 0.0).to_json()["taskQueueId"]
            'p/w'
        """
        return {
            "taskQueueId": self.task_queue_id,
            "description": self.description,
            "stability": self.stability,
            "expires": iso(self.expires),
            "lastDateActive": iso(self.last_date_active),
        }


def name_order(name: str) -> tuple[str, str]:
    """The order the real queue lists artifacts in (its database's text
    collation): letters and digits first, case and punctuation ignored, then
    the name itself to break ties.

    Example:
        >>> sorted(["public/object-unfinished.txt", "public/object.txt"], key=name_order)
        ['public/object.txt', 'public/object-unfinished.txt']
    """
    return "".join(c for c in name.lower() if c.isalnum()), name


# -- pagination ------------------------------------------------------------


def _page_size(query: Mapping[str, str], max_page_size: int) -> int:
    text = query.get("limit")
    if text is None or text == "":
        return max_page_size
    try:
        limit = int(text)
    except ValueError:
        raise ApiError(
            400, "InvalidRequestArguments", f"limit must be a number, not {text!r}"
        ) from None
    # limit=0 asks for nothing: lib-api then answers an empty page, no token
    return max(0, min(limit, max_page_size))


def _encode(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> Any:
    padded = token + "=" * (-len(token) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return None


def paginate(
    query: Mapping[str, str],
    rows: Sequence[T],
    max_page_size: int,
    *,
    key: Callable[[T], list[Any]] | None = None,
) -> tuple[list[T], str | None]:
    """One page of ``rows`` and the token of the next page (``None`` at the end).

    The page size is ``min(limit, max_page_size)`` (``max_page_size`` when
    ``limit`` is absent; ``limit=0`` gives an empty page and no token, as
    lib-api's paginateResults does). Without ``key`` the token is an opaque
    offset; with ``key`` (``rows`` sorted by it) a cursor of the last row's
    key. A malformed token silently restarts the listing, as the real
    services do (``listTaskGroup``, the artifact listings).

    Example:
        >>> rows, token = paginate({"limit": "2"}, "abcde", 1000)
        >>> rows, paginate({"continuationToken": token}, "abcde", 2)[0]
        (['a', 'b'], ['c', 'd'])
        >>> paginate({"continuationToken": "zz"}, [1, 2], 10, key=lambda r: [r])[0]
        [1, 2]
        >>> paginate({"continuationToken": "garbage!"}, [1, 2], 10)[0]
        [1, 2]
    """
    size = _page_size(query, max_page_size)
    token = query.get("continuationToken") or None
    start = 0
    if key is None and token is not None:
        decoded = _decode(token)
        if isinstance(decoded, dict) and isinstance(decoded.get("o"), int):
            start = max(decoded["o"], 0)  # a malformed token: the listing restarts
    elif key is not None and token is not None:
        after = _decode(token)
        if isinstance(after, list):
            try:
                start = bisect.bisect_right(rows, after, key=key)
            except TypeError:  # a cursor of another shape: start again
                start = 0
    page = list(rows[start : start + size])
    if start + size >= len(rows) or not page:
        return page, None
    if key is None:
        return page, _encode({"o": start + size})
    return page, _encode(key(page[-1]))


def with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    """Add ``continuationToken`` to ``body`` when there is one.

    Example:
        >>> with_token({"tasks": []}, None)
        {'tasks': []}
    """
    if token is not None:
        body["continuationToken"] = token
    return body
