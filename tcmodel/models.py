"""Frozen value classes for the data the Taskcluster services answer with.

Each class is built from a JSON object with :meth:`from_json
<TaskStatus._from_json>`, which maps the camelCase keys to snake_case fields,
parses dates into aware UTC datetimes and lists into tuples, and keeps the
object as it came in ``.raw`` (unknown keys included). ``.raw`` takes no part
in equality, hashing or ``repr``; neither do the dict fields (``payload``,
``tags``, ``extra``, ``data``, ``hashes``, ``credentials``) take part in
hashing.

A scalar field is required exactly when the service's response schema
requires it; any other field defaults to ``None``, and lists and objects
default to empty. States and reasons stay plain strings, since the services
may add new values; the known ones are listed in :data:`TASK_STATES`,
:data:`REASONS_RESOLVED` and their siblings, and typed by :data:`TaskState`
and friends. Data that does not fit raises :class:`ModelDataError` (a
``ValueError``) naming the class and key.

Example:
    >>> run = from_json(RunInfo, {
    ...     "runId": 0, "state": "completed", "reasonCreated": "scheduled",
    ...     "reasonResolved": "completed", "scheduled": "2024-01-31T12:00:00.000Z",
    ...     "started": "2024-01-31T12:00:05.000Z", "resolved": "2024-01-31T12:01:35.000Z",
    ...     "workerPool": "new-key"})
    >>> run.is_resolved, run.duration, run.raw["workerPool"]
    (True, datetime.timedelta(seconds=90), 'new-key')
    >>> run
    RunInfo(run_id=0, state='completed', reason_created='scheduled', \
reason_resolved='completed', scheduled=2024-01-31T12:00:00Z, \
started=2024-01-31T12:00:05Z, resolved=2024-01-31T12:01:35Z)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import attrs

from tcmodel.errors import TaskclusterError
from tcmodel.utils import parse_date, to_json_date

if TYPE_CHECKING:
    from typing_extensions import Self

    from tcmodel.display.views import Printer

__all__ = [
    "PRIORITIES",
    "REASONS_CREATED",
    "REASONS_RESOLVED",
    "REQUIRES",
    "RESOLVED_STATES",
    "RUN_STATES",
    "STORAGE_TYPES",
    "TASK_STATES",
    "ArtifactContent",
    "ArtifactInfo",
    "HookDefinition",
    "HookFire",
    "HookMetadata",
    "HookStatus",
    "IndexedTask",
    "ModelDataError",
    "NamespaceInfo",
    "ObjectMetadata",
    "Priority",
    "ReasonCreated",
    "ReasonResolved",
    "Requires",
    "RunInfo",
    "StorageType",
    "TaskDefinition",
    "TaskGroupCancellation",
    "TaskGroupInfo",
    "TaskMetadata",
    "TaskQueueCounts",
    "TaskQueueInfo",
    "TaskState",
    "TaskStatus",
    "WorkerInfo",
    "from_json",
]

TaskState = Literal["unscheduled", "pending", "running", "completed", "failed", "exception"]
ReasonCreated = Literal["scheduled", "retry", "task-retry", "rerun", "exception"]
ReasonResolved = Literal[
    "completed",
    "failed",
    "deadline-exceeded",
    "canceled",
    "claim-expired",
    "worker-shutdown",
    "malformed-payload",
    "resource-unavailable",
    "internal-error",
    "intermittent-task",
    "superseded",
]
Priority = Literal["highest", "very-high", "high", "medium", "low", "very-low", "lowest"]
StorageType = Literal["s3", "object", "reference", "link", "error"]
Requires = Literal["all-completed", "all-resolved"]

#: Every task state; a task with no runs is ``unscheduled``, else it has the
#: state of its last run.
TASK_STATES: tuple[TaskState, ...] = typing.get_args(TaskState)
#: The states a run can be in (all but ``unscheduled``).
RUN_STATES: tuple[TaskState, ...] = TASK_STATES[1:]
#: The states that end a run: nothing more happens to it.
RESOLVED_STATES: tuple[TaskState, ...] = ("completed", "failed", "exception")
#: Why a run was created, as far as known (more may come).
REASONS_CREATED: tuple[ReasonCreated, ...] = typing.get_args(ReasonCreated)
#: Why a run was resolved, as far as known (more may come).
REASONS_RESOLVED: tuple[ReasonResolved, ...] = typing.get_args(ReasonResolved)
#: Task priorities, from the highest to the lowest (the default).
PRIORITIES: tuple[Priority, ...] = typing.get_args(Priority)
#: Artifact storage types.
STORAGE_TYPES: tuple[StorageType, ...] = typing.get_args(StorageType)
#: What a task's dependencies must reach before it is scheduled.
REQUIRES: tuple[Requires, ...] = typing.get_args(Requires)


class ModelDataError(TaskclusterError, ValueError):
    """JSON that does not fit a model: a required key is missing or a value has
    the wrong type or form. Raised while reading a service's answer, it names
    the API call first, and ``call`` holds it (see
    :func:`tcmodel.transport.parsing`).

    Example:
        >>> from_json(NamespaceInfo, {"namespace": "a.b", "name": "b"})
        Traceback (most recent call last):
        ...
        tcmodel.models.ModelDataError: NamespaceInfo: missing required key(s) 'expires'
    """

    #: The API call whose answer did not fit (``None`` outside of one).
    call: str | None = None


# --- the shared converters, chosen once per field from its annotation --------

_Convert = Callable[[Any], Any]


#: The longest string or number an error message quotes.
_QUOTED = 40


def _describe(value: Any) -> str:
    """A short description of a JSON value for an error message: short
    strings and numbers as they are, anything bigger by its kind and size
    (so no message grows with the data, or quotes a nested secret)."""
    if value is None or isinstance(value, (bool, int, float)):
        text = repr(value) if value is not None else "null"
        return text if len(text) <= _QUOTED else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= _QUOTED else f"a string of {len(value)} characters"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _expect(kinds: tuple[type, ...]) -> _Convert:
    names = " or ".join(k.__name__ for k in kinds)
    exact = frozenset(kinds)

    def convert(value: Any) -> Any:
        if type(value) in exact:  # the common case, checked first
            return value
        if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
            return value
        raise TypeError(f"expected {names}, got {_describe(value)}")

    return convert


def _date(value: Any) -> datetime:
    # The form the services write (``2024-01-31T12:00:00.000Z``): the C
    # parser, ten times faster than the regex; any other form, or a fast
    # parse that fails, goes to the strict parser.
    if (
        type(value) is str
        and len(value) in _FAST_DATE_LENGTHS
        and value[-1] == "Z"
        and value[4] == value[7] == "-"
        and value[10] == "T"
        and value[13] == value[16] == ":"
        and value[19] in ".Z"
        and value.isascii()
    ):
        try:
            return datetime.fromisoformat(value[:-1] + "+00:00")  # (3.10 refuses "Z")
        except ValueError:
            pass
    if isinstance(value, datetime):  # naive means UTC, as in tcmodel.utils
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    if isinstance(value, str) and len(value) <= 64:  # longer is no date
        return parse_date(value)
    raise TypeError(f"expected a date string, got {_describe(value)}")


#: The lengths of a date with no fraction, or 3 or 6 fraction digits, and a ``Z``.
_FAST_DATE_LENGTHS = frozenset((20, 24, 27))


def _mapping(value: Any) -> dict[str, Any]:
    if type(value) is dict or isinstance(value, Mapping):
        return dict(value)
    kind = _describe(value) if not isinstance(value, str) else "a string"  # may be a secret
    raise TypeError(f"expected an object, got {kind}")


def _sequence(item: _Convert) -> _Convert:
    def convert(value: Any) -> tuple[Any, ...]:
        if type(value) is list or isinstance(value, (list, tuple)):
            return tuple(map(item, value))
        raise TypeError(f"expected a list, got {_describe(value)}")

    return convert


def _converter(hint: Any) -> _Convert:
    """The converter for a field annotated ``hint`` (``None`` is handled apart)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = tuple(a for a in args if a is not type(None))
        return _converter(kinds[0]) if len(kinds) == 1 else _expect(kinds)
    if origin is tuple:
        return _sequence(_converter(args[0]))
    if hint is dict or origin is dict:
        return _mapping
    if hint is datetime:
        return _date
    if isinstance(hint, type) and issubclass(hint, _Model):
        return hint._from_json
    return _expect((hint,))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_Plan = tuple[tuple[str, str, _Convert, bool], ...]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type[_Model]) -> _Plan:
    """(field name, JSON key, converter, required) for each field of ``cls``."""
    plan = _PLANS.get(cls)
    if plan is None:
        _expose()
        hints = typing.get_type_hints(cls)
        plan = _PLANS[cls] = tuple(
            (f.name, _camel(f.name), _converter(hints[f.name]), f.default is attrs.NOTHING)
            for f in attrs.fields(cls)
            if f.name != "raw"
        )
    return plan


# --- compact reprs ------------------------------------------------------------


def _short(value: Any) -> str:
    if isinstance(value, datetime):
        return to_json_date(value)
    if isinstance(value, tuple):
        shown = ", ".join(_short(v) for v in value[:3])
        more = f", … {len(value) - 3} more" if len(value) > 3 else ""
        return f"({shown}{more}{',' if len(value) == 1 else ''})"
    return repr(value)


def _runs_repr(runs: tuple[RunInfo, ...]) -> str:
    """Show runs as their states (and other reasons), the latest last."""
    shown = [
        r.state if r.reason_resolved in (None, r.state) else f"{r.state}/{r.reason_resolved}"
        for r in runs[-3:]
    ]
    earlier = [f"… {len(runs) - 3} earlier"] if len(runs) > 3 else []
    return f"[{', '.join(earlier + shown)}]"


def _url_repr(url: str) -> str:
    """Show a URL without its query, which may sign it (S3, bewit)."""
    return repr(url.split("?", 1)[0] + ("?…" if "?" in url else ""))


@attrs.frozen(repr=False)
class _Model:
    """What the models share: ``raw``, :func:`from_json` and a compact repr."""

    raw: dict[str, Any] = attrs.field(factory=dict, kw_only=True, eq=False, repr=False)

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> Self:
        """Build an instance from a JSON object (see :func:`from_json`)."""
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ModelDataError(f"{cls.__name__}: expected a JSON object, got {_describe(data)}")
        values: dict[str, Any] = {}
        missing = []
        for name, key, convert, required in _plan(cls):
            value = data.get(key)
            if value is None:
                if required:
                    missing.append(key)
                continue
            try:
                values[name] = convert(value)
            except (TypeError, ValueError, OverflowError) as e:  # (a date out of range)
                raise ModelDataError(f"{cls.__name__}: bad {key!r}: {e}") from None
        if missing:
            keys = ", ".join(map(repr, missing))
            raise ModelDataError(f"{cls.__name__}: missing required key(s) {keys}")
        return cls(**values, raw=dict(data))

    def __repr__(self) -> str:
        parts = []
        for f in attrs.fields(type(self)):
            value = getattr(self, f.name)
            if f.repr is False or value is None or value == () or value == {}:
                continue
            shown = f.repr(value) if callable(f.repr) else _short(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import pretty

        pretty(self, p, cycle)

    def _repr_html_(self) -> str:
        from tcmodel.display.views import html

        return html(self)


M = typing.TypeVar("M", bound=_Model)


def from_json(model: type[M], data: Mapping[str, Any]) -> M:
    """Build a ``model`` instance from a JSON object as the service sends it.

    Keys are camelCase, dates RFC 3339 strings; a ``null`` counts as
    missing. Unknown keys are kept, in ``raw`` only. (A module-level
    function, so that tab completion on a model offers its data only.)

    Example:
        >>> from_json(TaskQueueCounts, {"taskQueueId": "proj/linux", "pendingTasks": 3,
        ...     "claimedTasks": 1, "provisionerId": "proj", "workerType": "linux"})
        TaskQueueCounts(task_queue_id='proj/linux', pending_tasks=3, claimed_tasks=1)
        >>> from_json(RunInfo, {"runId": "0", "state": "pending"})
        Traceback (most recent call last):
        ...
        tcmodel.models.ModelDataError: RunInfo: bad 'runId': expected int, got '0'
    """
    return model._from_json(data)


# --- queue: tasks, runs, artifacts, groups ------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class TaskMetadata(_Model):
    """The human-readable ``metadata`` of a task definition.

    Example:
        >>> from_json(TaskMetadata, {"name": "build", "description": "Build it",
        ...     "owner": "dev@example.com", "source": "https://example.com/ci.yml"})
        TaskMetadata(name='build', owner='dev@example.com')
    """

    name: str
    description: str = attrs.field(repr=False)
    owner: str
    source: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True, repr=False)
class TaskDefinition(_Model):
    """A task definition, as ``queue.task`` returns it (and as it appears in
    task-group listings and claimed work).

    Example:
        >>> task = from_json(TaskDefinition, {
        ...     "taskQueueId": "proj/linux", "provisionerId": "proj", "workerType": "linux",
        ...     "schedulerId": "-", "projectId": "none", "taskGroupId": "XDqefRsvTG6ajX5vWks8LQ",
        ...     "dependencies": [], "requires": "all-completed", "routes": ["index.a.b"],
        ...     "priority": "lowest", "retries": 5, "created": "2024-01-31T12:00:00.000Z",
        ...     "deadline": "2024-02-01T12:00:00.000Z", "expires": "2025-02-01T12:00:00.000Z",
        ...     "scopes": [], "payload": {"command": ["true"]}, "tags": {}, "extra": {},
        ...     "metadata": {"name": "build", "description": "", "owner": "me@example.com",
        ...                  "source": "https://example.com"}})
        >>> task.name, task.routes, task.deadline.isoformat()
        ('build', ('index.a.b',), '2024-02-01T12:00:00+00:00')
        >>> task
        TaskDefinition(task_queue_id='proj/linux', project_id='none', \
task_group_id='XDqefRsvTG6ajX5vWks8LQ', priority='lowest', deadline=2024-02-01T12:00:00Z, \
metadata=TaskMetadata(name='build', owner='me@example.com'))
    """

    task_queue_id: str
    provisioner_id: str = attrs.field(repr=False)
    worker_type: str = attrs.field(repr=False)
    scheduler_id: str = attrs.field(repr=False)
    project_id: str | None = None
    task_group_id: str
    dependencies: tuple[str, ...] = attrs.field(default=(), repr=False)
    requires: str = attrs.field(repr=False)
    routes: tuple[str, ...] = attrs.field(default=(), repr=False)
    priority: str
    retries: int = attrs.field(repr=False)
    created: datetime = attrs.field(repr=False)
    deadline: datetime
    expires: datetime | None = attrs.field(default=None, repr=False)
    scopes: tuple[str, ...] = attrs.field(default=(), repr=False)
    payload: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    metadata: TaskMetadata
    tags: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    @property
    def name(self) -> str:
        """The task's name, from its metadata.

        Example:
            >>> cluster.task(build.task_id).definition.name
            'build-linux64-opt'
        """
        return self.metadata.name


@attrs.frozen(kw_only=True, repr=False)
class RunInfo(_Model):
    """One run of a task, as listed in its status.

    Example:
        >>> run = from_json(RunInfo, {"runId": 1, "state": "running", "reasonCreated": "retry",
        ...     "workerGroup": "us-east1", "workerId": "i-0abc",
        ...     "scheduled": "2024-01-31T12:00:00.000Z", "started": "2024-01-31T12:00:02.000Z",
        ...     "takenUntil": "2024-01-31T12:20:02.000Z"})
        >>> run.is_resolved, run.duration, run.worker_id
        (False, None, 'i-0abc')
    """

    run_id: int
    state: str
    reason_created: str
    reason_resolved: str | None = None
    worker_group: str | None = attrs.field(default=None, repr=False)
    worker_id: str | None = None
    taken_until: datetime | None = attrs.field(default=None, repr=False)
    scheduled: datetime
    started: datetime | None = None
    resolved: datetime | None = None

    @property
    def is_resolved(self) -> bool:
        """Whether the run has ended (``completed``, ``failed`` or ``exception``).

        Example:
            >>> from_json(RunInfo, {"runId": 0, "state": "failed", "reasonCreated": "scheduled",
            ...     "scheduled": "2024-01-31T12:00:00Z"}).is_resolved
            True
        """
        return self.state in RESOLVED_STATES

    @property
    def duration(self) -> timedelta | None:
        """How long the run ran, from ``started`` to ``resolved``; ``None``
        unless it has both (a run cancelled while pending never started).

        Example:
            >>> from_json(RunInfo, {"runId": 0, "state": "completed", "reasonCreated": "scheduled",
            ...     "scheduled": "2024-01-31T12:00:00Z", "started": "2024-01-31T12:00:10Z",
            ...     "resolved": "2024-01-31T12:01:40Z"}).duration
            datetime.timedelta(seconds=90)
        """
        if self.started is None or self.resolved is None:
            return None
        return self.resolved - self.started


@attrs.frozen(kw_only=True, repr=False)
class TaskStatus(_Model):
    """The status of a task: the ``status`` object of ``queue.status``,
    task-group listings and claimed work.

    Example:
        >>> status = from_json(TaskStatus, {
        ...     "taskId": "fN1SbArXTPSVFNUvaOlinQ", "provisionerId": "proj",
        ...     "workerType": "linux", "taskQueueId": "proj/linux", "schedulerId": "-",
        ...     "projectId": "none", "taskGroupId": "fN1SbArXTPSVFNUvaOlinQ",
        ...     "priority": "lowest", "deadline": "2024-02-01T12:00:00.000Z",
        ...     "expires": "2025-02-01T12:00:00.000Z", "retriesLeft": 4, "state": "completed",
        ...     "runs": [
        ...         {"runId": 0, "state": "exception", "reasonCreated": "scheduled",
        ...          "reasonResolved": "claim-expired", "scheduled": "2024-01-31T12:00:00.000Z"},
        ...         {"runId": 1, "state": "completed", "reasonCreated": "retry",
        ...          "reasonResolved": "completed", "scheduled": "2024-01-31T12:30:00.000Z"}]})
        >>> status.is_resolved, status.latest_run.run_id, len(status.runs)
        (True, 1, 2)
        >>> status
        TaskStatus(task_id='fN1SbArXTPSVFNUvaOlinQ', task_queue_id='proj/linux', \
state='completed', runs=[exception/claim-expired, completed])
    """

    task_id: str
    provisioner_id: str = attrs.field(repr=False)
    worker_type: str = attrs.field(repr=False)
    task_queue_id: str
    scheduler_id: str = attrs.field(repr=False)
    project_id: str = attrs.field(repr=False)
    task_group_id: str = attrs.field(repr=False)
    priority: str | None = attrs.field(default=None, repr=False)
    deadline: datetime = attrs.field(repr=False)
    expires: datetime = attrs.field(repr=False)
    retries_left: int = attrs.field(repr=False)
    state: str
    runs: tuple[RunInfo, ...] = attrs.field(default=(), repr=_runs_repr)

    @property
    def latest_run(self) -> RunInfo | None:
        """The last run, or ``None`` for an unscheduled task.

        Example:
            >>> from_json(TaskStatus, {"taskId": "fN1SbArXTPSVFNUvaOlinQ",
            ...     "provisionerId": "p", "workerType": "w", "taskQueueId": "p/w",
            ...     "schedulerId": "-", "projectId": "none",
            ...     "taskGroupId": "fN1SbArXTPSVFNUvaOlinQ", "retriesLeft": 5,
            ...     "deadline": "2024-02-01T12:00:00Z", "expires": "2025-02-01T12:00:00Z",
            ...     "state": "unscheduled", "runs": []}).latest_run is None
            True
        """
        return self.runs[-1] if self.runs else None

    @property
    def is_resolved(self) -> bool:
        """Whether the task is ``completed``, ``failed`` or ``exception``.

        Example:
            >>> from_json(TaskStatus, {"taskId": "fN1SbArXTPSVFNUvaOlinQ",
            ...     "provisionerId": "p", "workerType": "w", "taskQueueId": "p/w",
            ...     "schedulerId": "-", "projectId": "none",
            ...     "taskGroupId": "fN1SbArXTPSVFNUvaOlinQ", "retriesLeft": 5,
            ...     "deadline": "2024-02-01T12:00:00Z", "expires": "2025-02-01T12:00:00Z",
            ...     "state": "exception", "runs": []}).is_resolved
            True
        """
        return self.state in RESOLVED_STATES

    @property
    def is_final(self) -> bool:
        """Whether nothing more will happen to the task unless someone reruns
        it. The same as :attr:`is_resolved`: when a run ends in a way that is
        retried, the queue adds the new pending run at once, so the task is
        never resolved while an automatic retry is due.

        Example:
            >>> from_json(TaskStatus, {"taskId": "fN1SbArXTPSVFNUvaOlinQ",
            ...     "provisionerId": "p", "workerType": "w", "taskQueueId": "p/w",
            ...     "schedulerId": "-", "projectId": "none",
            ...     "taskGroupId": "fN1SbArXTPSVFNUvaOlinQ", "retriesLeft": 5,
            ...     "deadline": "2024-02-01T12:00:00Z", "expires": "2025-02-01T12:00:00Z",
            ...     "state": "unscheduled", "runs": []}).is_final
            False
        """
        return self.is_resolved


@attrs.frozen(kw_only=True, repr=False)
class ArtifactInfo(_Model):
    """An artifact's metadata, as ``listArtifacts`` and ``artifactInfo`` give it.

    Example:
        >>> art = from_json(ArtifactInfo, {"storageType": "s3", "name": "public/logs/live.log",
        ...     "expires": "2025-01-31T12:00:00.000Z", "contentType": "text/plain",
        ...     "contentLength": 1024})
        >>> art.is_public, art.content_length
        (True, 1024)
        >>> art
        ArtifactInfo(name='public/logs/live.log', storage_type='s3', \
content_type='text/plain', expires=2025-01-31T12:00:00Z, content_length=1024)
    """

    name: str
    storage_type: str
    content_type: str
    expires: datetime
    content_length: int | None = None

    @property
    def is_public(self) -> bool:
        """Whether the name is under ``public/``, which anyone may read by convention.

        Example:
            >>> from_json(ArtifactInfo, {"storageType": "s3", "name": "private/key.pem",
            ...     "expires": "2025-01-31T12:00:00Z", "contentType": "text/plain"}).is_public
            False
        """
        return self.name.startswith("public/")


@attrs.frozen(kw_only=True, repr=False)
class ArtifactContent(_Model):
    """Where an artifact's content is, as ``queue.artifact`` and
    ``latestArtifact`` say: a ``url`` (``s3``, ``reference``), an object
    ``name`` with download ``credentials`` (``object``), or the ``reason``
    and ``message`` of an ``error`` artifact.

    The credentials hold a secret ``accessToken``: they never show in the
    repr, and a URL shows without its (possibly signing) query.

    Example:
        >>> content = from_json(ArtifactContent, {"storageType": "object",
        ...     "name": "t/fN1SbArXTPSVFNUvaOlinQ/0/public/build.tar.gz",
        ...     "credentials": {"clientId": "artifact-download/x", "accessToken": "s3cr3t",
        ...                     "certificate": "{}"}})
        >>> content
        ArtifactContent(storage_type='object', \
name='t/fN1SbArXTPSVFNUvaOlinQ/0/public/build.tar.gz')
        >>> from_json(ArtifactContent, {"storageType": "s3",
        ...     "url": "https://bucket.example.com/a?X-Amz-Signature=abc"})
        ArtifactContent(storage_type='s3', url='https://bucket.example.com/a?…')
    """

    storage_type: str
    url: str | None = attrs.field(default=None, repr=_url_repr)
    name: str | None = None
    credentials: dict[str, Any] | None = attrs.field(default=None, hash=False, repr=False)
    reason: str | None = None
    message: str | None = None

    @property
    def is_error(self) -> bool:
        """Whether this is an ``error`` artifact (see ``reason`` and ``message``).

        Example:
            >>> from_json(ArtifactContent, {"storageType": "error",
            ...     "reason": "file-missing-on-worker", "message": "no such file"}).is_error
            True
        """
        return self.storage_type == "error"


@attrs.frozen(kw_only=True, repr=False)
class TaskGroupInfo(_Model):
    """A task group, as ``getTaskGroup`` (or a ``listTaskGroup`` page) gives it.

    Example:
        >>> group = from_json(TaskGroupInfo, {"taskGroupId": "XDqefRsvTG6ajX5vWks8LQ",
        ...     "schedulerId": "-", "expires": "2025-02-01T13:00:00.000Z",
        ...     "sealed": "2024-01-31T12:00:00.000Z"})
        >>> group.is_sealed, group.sealed.year
        (True, 2024)
    """

    task_group_id: str
    scheduler_id: str
    expires: datetime
    sealed: datetime | None = None

    @property
    def is_sealed(self) -> bool:
        """Whether the group is sealed: no task may be added to it any more.

        Example:
            >>> from_json(TaskGroupInfo, {"taskGroupId": "XDqefRsvTG6ajX5vWks8LQ",
            ...     "schedulerId": "-", "expires": "2025-02-01T13:00:00Z"}).is_sealed
            False
        """
        return self.sealed is not None


@attrs.frozen(kw_only=True, repr=False)
class TaskGroupCancellation(_Model):
    """What ``cancelTaskGroup`` answers.

    Example:
        >>> from_json(TaskGroupCancellation, {"taskGroupId": "XDqefRsvTG6ajX5vWks8LQ",
        ...     "taskGroupSize": 3, "cancelledCount": 1, "taskIds": ["fN1SbArXTPSVFNUvaOlinQ"]})
        TaskGroupCancellation(task_group_id='XDqefRsvTG6ajX5vWks8LQ', task_group_size=3, \
cancelled_count=1, task_ids=('fN1SbArXTPSVFNUvaOlinQ',))
    """

    task_group_id: str
    task_group_size: int
    cancelled_count: int
    task_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False)
class TaskQueueCounts(_Model):
    """How many tasks of a task queue are pending and claimed (``taskQueueCounts``).

    Example:
        >>> from_json(TaskQueueCounts, {"taskQueueId": "proj/linux", "pendingTasks": 0,
        ...     "claimedTasks": 2}).claimed_tasks
        2
    """

    task_queue_id: str
    pending_tasks: int
    claimed_tasks: int


# --- index and object services ------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class IndexedTask(_Model):
    """An index entry, as ``findTask`` and ``listTasks`` give it.

    Example:
        >>> entry = from_json(IndexedTask, {"namespace": "proj.latest.build",
        ...     "taskId": "fN1SbArXTPSVFNUvaOlinQ", "rank": 1706702400, "data": {"rev": "abc"},
        ...     "expires": "2025-02-01T00:00:00.000Z"})
        >>> entry.task_id, entry.data["rev"]
        ('fN1SbArXTPSVFNUvaOlinQ', 'abc')
    """

    namespace: str
    task_id: str
    rank: int | float
    data: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    expires: datetime


@attrs.frozen(kw_only=True, repr=False)
class NamespaceInfo(_Model):
    """A namespace of the index, as ``listNamespaces`` gives it.

    Example:
        >>> from_json(NamespaceInfo, {"namespace": "proj.latest", "name": "latest",
        ...     "expires": "2025-02-02T00:00:00.000Z"})
        NamespaceInfo(namespace='proj.latest', name='latest', expires=2025-02-02T00:00:00Z)
    """

    namespace: str
    name: str
    expires: datetime


@attrs.frozen(kw_only=True, repr=False)
class ObjectMetadata(_Model):
    """An object's metadata, as the object service's ``object`` call gives it.

    Example:
        >>> meta = from_json(ObjectMetadata, {"projectId": "none",
        ...     "expires": "2025-01-31T12:00:00.000Z", "hashes": {"sha256": "ab" * 32}})
        >>> sorted(meta.hashes), meta.project_id
        (['sha256'], 'none')
    """

    project_id: str
    expires: datetime
    hashes: dict[str, str] = attrs.field(factory=dict, hash=False, repr=False)


# --- hooks, task queues and workers -------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class HookMetadata(_Model):
    """The human-readable ``metadata`` of a hook.

    Example:
        >>> meta = from_json(HookMetadata, {"name": "nightly", "description": "Builds",
        ...     "owner": "dev@example.com", "emailOnError": False})
        >>> meta, meta.email_on_error
        (HookMetadata(name='nightly', owner='dev@example.com'), False)
    """

    name: str
    description: str = attrs.field(repr=False)
    owner: str

    @property
    def email_on_error(self) -> bool:
        """Whether the owner is emailed when a firing fails (the default).

        Example:
            >>> from_json(HookMetadata, {"name": "n", "description": "",
            ...     "owner": "a@b.c"}).email_on_error
            True
        """
        return bool(self.raw.get("emailOnError", True))


@attrs.frozen(kw_only=True, repr=False)
class HookDefinition(_Model):
    """A hook's definition, as ``hooks.hook`` (and ``listHooks``) give it:
    the JSON-e ``task`` template, its ``schedule`` and ``triggerSchema``.

    Example:
        >>> hook = from_json(HookDefinition, {"hookGroupId": "proj", "hookId": "nightly",
        ...     "metadata": {"name": "nightly", "description": "", "owner": "a@b.c"},
        ...     "schedule": ["0 0 3 * * *"], "task": {"payload": {}}, "triggerSchema": {},
        ...     "bindings": []})
        >>> hook.schedule, hook.task
        (('0 0 3 * * *',), {'payload': {}})
    """

    hook_group_id: str
    hook_id: str
    metadata: HookMetadata
    schedule: tuple[str, ...] = ()
    task: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    trigger_schema: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    bindings: tuple[dict[str, Any], ...] = attrs.field(default=(), hash=False, repr=False)


@attrs.frozen(kw_only=True, repr=False)
class HookStatus(_Model):
    """What ``getHookStatus`` answers: the last firing and the next
    scheduled one.

    Example:
        >>> st = from_json(HookStatus, {"lastFire": {"result": "success",
        ...     "taskId": "Dx4tPEtaRpeIeWpbTD0uHw", "time": "2024-01-31T12:00:00.000Z"}})
        >>> st.result, st.task_id, st.next_scheduled_date
        ('success', 'Dx4tPEtaRpeIeWpbTD0uHw', None)
    """

    last_fire: dict[str, Any] = attrs.field(factory=dict, hash=False)
    next_scheduled_date: datetime | None = None

    @property
    def result(self) -> str:
        """``success``, ``error`` or ``no-fire`` (never fired).

        Example:
            >>> from_json(HookStatus, {"lastFire": {"result": "no-fire"}}).result
            'no-fire'
        """
        return str(self.last_fire.get("result", "no-fire"))

    @property
    def task_id(self) -> str | None:
        """The task the last successful firing created (``None`` otherwise).

        Example:
            >>> from_json(HookStatus, {"lastFire": {"result": "no-fire"}}).task_id is None
            True
        """
        found = self.last_fire.get("taskId")
        return found if isinstance(found, str) else None


@attrs.frozen(kw_only=True, repr=False)
class HookFire(_Model):
    """One firing of a hook, as ``listLastFires`` gives it: who fired it,
    the task it created (or tried to) and its state now.

    Example:
        >>> from_json(HookFire, {"hookGroupId": "proj", "hookId": "nightly",
        ...     "firedBy": "triggerHook", "taskId": "Dx4tPEtaRpeIeWpbTD0uHw",
        ...     "taskCreateTime": "2024-01-31T12:00:00.000Z", "result": "success",
        ...     "error": "", "taskState": "pending"})
        HookFire(fired_by='triggerHook', task_id='Dx4tPEtaRpeIeWpbTD0uHw', \
task_create_time=2024-01-31T12:00:00Z, result='success', task_state='pending')
    """

    hook_group_id: str = attrs.field(repr=False)
    hook_id: str = attrs.field(repr=False)
    fired_by: str
    task_id: str
    task_create_time: datetime
    result: str
    error: str = attrs.field(default="", repr=False)
    task_state: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class TaskQueueInfo(_Model):
    """A task queue, as ``getTaskQueue`` and ``listTaskQueues`` give it.

    Example:
        >>> from_json(TaskQueueInfo, {"taskQueueId": "proj/ci", "description": "",
        ...     "stability": "experimental", "expires": "2025-01-31T12:00:00.000Z",
        ...     "lastDateActive": "2024-01-31T12:00:00.000Z"}).task_queue_id
        'proj/ci'
    """

    task_queue_id: str
    description: str = attrs.field(default="", repr=False)
    stability: str | None = None
    expires: datetime = attrs.field(repr=False)
    last_date_active: datetime


@attrs.frozen(kw_only=True, repr=False)
class WorkerInfo(_Model):
    """A worker of a task queue: a ``listWorkers`` entry (``latest_task``;
    ``quarantine_until`` only while quarantined) or ``getWorker``'s whole
    answer (``recent_tasks``, ``expires``). Tasks are ``{taskId, runId}``.

    Example:
        >>> w = from_json(WorkerInfo, {"workerGroup": "wg", "workerId": "w1",
        ...     "firstClaim": "2024-01-31T12:00:00.000Z",
        ...     "recentTasks": [{"taskId": "Dx4tPEtaRpeIeWpbTD0uHw", "runId": 0}]})
        >>> w.worker_id, w.recent_tasks[0]["runId"]
        ('w1', 0)
    """

    worker_group: str
    worker_id: str
    task_queue_id: str | None = attrs.field(default=None, repr=False)
    first_claim: datetime | None = None
    last_date_active: datetime | None = None
    quarantine_until: datetime | None = None
    expires: datetime | None = attrs.field(default=None, repr=False)
    latest_task: dict[str, Any] | None = attrs.field(default=None, hash=False, repr=False)
    recent_tasks: tuple[dict[str, Any], ...] = attrs.field(default=(), hash=False, repr=False)


_EXPOSED: list[bool] = []


def _expose() -> None:
    """Make the models completable (see :mod:`tcmodel._completion`), once:
    when the first model is built or the resources are imported, not at
    ``import tcmodel``."""
    if not _EXPOSED:
        _EXPOSED.append(True)
        from tcmodel._completion import expose_models

        expose_models(*_Model.__subclasses__())
