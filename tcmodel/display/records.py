"""Flat records (one dict per object) with the columns people want, for
tables, DataFrames and notebook previews.

One builder per type; :func:`records` picks it by the object's type. A
record reads the object's data through its properties: objects that came
from a listing carry it (no request); a handle not loaded yet loads it
(in bulk when handles share a batch, as ``cluster.tasks(ids)`` do).

Example:
    >>> rows = records(cluster.task_group(group.task_group_id).tasks().limit(2))
    >>> list(rows[0]) == columns(type(build))
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from tcmodel.models import RunInfo
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.index import IndexEntry, Namespace
from tcmodel.resources.run import Run
from tcmodel.resources.task import Task

__all__ = ["columns", "records"]

Record = dict[str, Any]

_TIMES = ("scheduled", "started", "resolved", "duration")
_TASK_MORE = ("dependencies", "ui_url")
_RUN_MORE = ("worker", "ui_url")


def _times(run: RunInfo | None) -> dict[str, datetime | timedelta | None]:
    if run is None:
        return dict.fromkeys(_TIMES)
    return {
        "scheduled": run.scheduled,
        "started": run.started,
        "resolved": run.resolved,
        "duration": run.duration,
    }


def _worker(run: RunInfo | None) -> str | None:
    if run is None or not run.worker_id:
        return None
    return f"{run.worker_group}/{run.worker_id}" if run.worker_group else run.worker_id


def _task(task: Task) -> Record:
    """Times and worker are the latest run's (empty while there is none)."""
    status, definition = task.status, task.definition
    latest = status.latest_run
    return {
        "task_id": task.task_id,
        "name": definition.metadata.name,
        "state": status.state,
        "runs": len(status.runs),
        **_times(latest),
        "worker": _worker(latest),
        "task_queue_id": status.task_queue_id,
        "dependencies": len(definition.dependencies),
        "ui_url": task.ui_url,
    }


def _run(run: Run) -> Record:
    info = run.info
    return {
        "task_id": run.task_id,
        "run_id": run.run_id,
        "state": info.state,
        "reason_created": info.reason_created,
        "reason_resolved": info.reason_resolved,
        **_times(info),
        "worker": _worker(info),
        "ui_url": run.ui_url,
    }


def _artifact(artifact: Artifact) -> Record:
    info = artifact.info
    return {
        "task_id": artifact.task_id,
        "run_id": artifact.run_id,
        "name": artifact.name,
        "storage_type": info.storage_type,
        "content_type": info.content_type,
        "content_length": info.content_length,
        "expires": info.expires,
    }


def _index_entry(entry: IndexEntry) -> Record:
    return {
        "namespace": entry.namespace,
        "name": entry.name,
        "task_id": entry.task_id,
        "rank": entry.rank,
        "expires": entry.expires,
    }


def _namespace(namespace: Namespace) -> Record:
    return {
        "namespace": namespace.namespace,
        "name": namespace.name,
        "expires": namespace.info.expires if namespace.info is not None else None,
    }


_BUILDERS: dict[type, tuple[tuple[str, ...], Callable[[Any], Record]]] = {
    Task: (
        ("task_id", "name", "state", "runs", *_TIMES, "worker", "task_queue_id", *_TASK_MORE),
        _task,
    ),
    Run: (
        ("task_id", "run_id", "state", "reason_created", "reason_resolved", *_TIMES, *_RUN_MORE),
        _run,
    ),
    Artifact: (
        ("task_id", "run_id", "name", "storage_type", "content_type", "content_length", "expires"),
        _artifact,
    ),
    IndexEntry: (("namespace", "name", "task_id", "rank", "expires"), _index_entry),
    Namespace: (("namespace", "name", "expires"), _namespace),
}


def _builder(item_type: type) -> tuple[tuple[str, ...], Callable[[Any], Record]] | None:
    for cls in item_type.__mro__:
        if cls in _BUILDERS:
            return _BUILDERS[cls]
    return None


def columns(item_type: type | None) -> list[str] | None:
    """The record columns of ``item_type`` (Task, Run, Artifact, IndexEntry,
    Namespace), or ``None`` for a type without records.

    Example:
        >>> columns(Artifact)
        ['task_id', 'run_id', 'name', 'storage_type', 'content_type', 'content_length', 'expires']
        >>> columns(int) is None
        True
    """
    found = _builder(item_type) if item_type is not None else None
    return list(found[0]) if found is not None else None


def _scalars(model: Any) -> Record:
    """The fields of an attrs value that fit in a table cell (not dicts)."""
    import attrs

    values = ((f.name, getattr(model, f.name)) for f in attrs.fields(type(model)) if f.repr)
    return {name: value for name, value in values if not isinstance(value, dict)}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _generic(item: Any) -> Record | None:
    """A record for a type without a builder: a value class's fields, or a
    handle's identity, loaded facts and loaded info (no request)."""
    import attrs

    from tcmodel.resources.base import Resource

    if attrs.has(type(item)):
        return _scalars(item)
    if not isinstance(item, Resource):
        return None
    row = {_snake(k): v for k, v in (*item._identity(), *item._loaded_facts())}
    info = item.__dict__.get("_info")
    if info is not None and attrs.has(type(info)):
        row.update({k: v for k, v in _scalars(info).items() if k not in row})
    return row


def records(items: Iterable[Any]) -> list[Record]:
    """One flat dict per item, with the columns of its type (see
    :func:`columns`); for other handles and value classes, their identity
    and loaded fields. Raises ``TypeError`` for an item of another kind.

    Example:
        >>> [r["state"] for r in records(cluster.tasks([build.task_id, task.task_id]))]
        ['completed', 'failed']
        >>> records(cluster.task(build.task_id).runs)[0]["worker"]  # doctest: +ELLIPSIS
        'demo/demo-...'
        >>> records([42])
        Traceback (most recent call last):
        ...
        TypeError: no record for int: ...
    """
    rows = []
    for item in items:
        found = _builder(type(item))
        row = found[1](item) if found is not None else _generic(item)
        if row is None:
            known = ", ".join(t.__name__ for t in _BUILDERS)
            raise TypeError(
                f"no record for {type(item).__name__}: records are for {known}, "
                "tcmodel's other handles and its value classes"
            )
        rows.append(row)
    return rows
