"""IPython and Jupyter displays of tcmodel objects: ``_repr_pretty_`` (plain
text) and ``_repr_html_`` of the clusters, resources, models, listings and
logs all come here.

A display is built from data already loaded, never with a request: a
handle that is not loaded says so and what loads it. The one exception is a
listing, whose display is a preview of its first page (one request, kept
on the listing, so that both formats together cost one request).

Each object becomes a :class:`_View` (a head line, facts, tables, notes),
which is then rendered as text or HTML.

Example:
    >>> print(text(cluster.task(build.task_id)))  # doctest: +ELLIPSIS
    <Task taskId='...'>
      taskId  ...
      UI      http://127.0.0.1:.../tasks/...
      status not loaded — read task.status or task.state
      definition not loaded — read task.definition or task.name
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from tcmodel.cluster import Cluster
from tcmodel.display import _html
from tcmodel.display.records import _worker, columns, records
from tcmodel.models import _Model
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.index import IndexedArtifact, IndexEntry, Namespace
from tcmodel.resources.run import Run
from tcmodel.resources.task import Task
from tcmodel.resources.task_group import FAILED_STATES, TaskGroup

__all__ = ["Printer", "html", "log_html", "log_text", "pretty", "text"]

#: Rows a table shows at most (a listing's preview, a group's failures).
MAX_ROWS = 25
#: Lines of a log shown at most (the last ones).
MAX_LOG_LINES = 500
#: Characters of a JSON value (a payload) shown at most.
MAX_JSON = 2000
#: Dict keys whose values are secrets, never shown.
SECRET_KEYS = frozenset({"accesstoken", "access_token", "bewit", "password"})


class Printer(Protocol):
    """What ``_repr_pretty_`` writes to: IPython's pretty printer (only its
    ``text`` method is used).

    Example:
        >>> class Collect:
        ...     def __init__(self) -> None: self.out = []
        ...     def text(self, obj: str) -> None: self.out.append(obj)
        >>> p = Collect(); pretty(cluster, p, False); p.out[0].splitlines()[0]
        "<Cluster 'http://127.0.0.1:...' client_id='static/taskcluster/root'>"
    """

    def text(self, obj: str) -> None:
        """Write ``obj`` as it is.

        Example:
            >>> from IPython.lib.pretty import pretty as ipython_pretty
            >>> ipython_pretty(cluster).startswith("<Cluster ")
            True
        """


# -- what a view is made of ----------------------------------------------------


@attrs.frozen
class _Link:
    url: str
    text: str


@attrs.frozen
class _State:
    value: str


@attrs.frozen
class _Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""
    notes: tuple[str, ...] = ()


@attrs.frozen
class _View:
    head: str  # one line, identity first (the repr)
    title: str
    url: str | None = None
    facts: tuple[tuple[str, Any], ...] = ()
    tables: tuple[_Table, ...] = ()
    notes: tuple[str, ...] = ()


def _facts(*pairs: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The pairs whose value is known (not None, not empty)."""
    return tuple((k, v) for k, v in pairs if v is not None and v != () and v != {} and v != "")


def _size(length: int | None) -> str | None:
    if length is None:
        return None
    value, unit = float(length), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{length} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({length} bytes)"


def _scrub(value: Any) -> Any:
    """``value`` with the values of secret keys (any depth) replaced."""
    if isinstance(value, Mapping):
        return {
            k: "<secret>" if str(k).lower() in SECRET_KEYS else _scrub(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _record_table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[str] | None,
    *,
    drop: Iterable[str] = (),
    caption: str = "",
    notes: Iterable[str] = (),
) -> _Table:
    """Records as a table: the first column links to the row's ``ui_url``
    (which is not a column of its own), states are badges."""
    dropped = {"ui_url", *drop}
    shown = [c for c in (cols or (list(rows[0]) if rows else [])) if c not in dropped]

    def cell(row: Mapping[str, Any], col: str) -> Any:
        value = row.get(col)
        if col == shown[0] and row.get("ui_url"):
            return _Link(str(row["ui_url"]), str(value))
        return _State(value) if col == "state" and value is not None else value

    body = tuple(tuple(cell(row, c) for c in shown) for row in rows)
    return _Table(tuple(shown), body, caption, tuple(notes))


def _name_or_id(task: Task) -> str:
    label = task._label()
    return label if label is not None else task.task_id


# -- one view per type ---------------------------------------------------------


def _cluster(c: Cluster) -> _View:
    creds = c.credentials
    scopes = c.transport.authorized_scopes
    return _View(
        repr(c),
        f"Taskcluster {c.root_url}",
        c.public_url,
        _facts(
            ("root URL", c.root_url),
            ("web UI", _Link(c.public_url, c.public_url)),
            ("client", creds.client_id if creds else "anonymous (no credentials)"),
            ("authorized scopes", ", ".join(scopes) if scopes else None),
        ),
        notes=(
            "cluster.task(task_id), cluster.task_group(task_group_id) and "
            "cluster.index(path) make handles (no request)",
        ),
    )


def _task(t: Task) -> _View:
    status, definition = t._status, t._definition
    label = t._label()
    loaded = definition or status
    group = t.cluster.task_group(loaded.task_group_id) if loaded is not None else None
    facts = _facts(
        ("taskId", t.task_id),
        ("name", label),
        ("state", _State(status.state) if status else None),
        ("task group", _Link(group.ui_url, group.task_group_id) if group else None),
        ("task queue", status.task_queue_id if status else None),
        ("retries left", status.retries_left if status else None),
    )
    if definition is not None:
        meta = definition.metadata
        facts += _facts(
            ("description", meta.description if meta.description != meta.name else None),
            ("owner", meta.owner),
            ("source", _Link(meta.source, meta.source)),
            ("priority", definition.priority),
            ("dependencies", len(definition.dependencies)),
            ("created", definition.created),
            ("deadline", definition.deadline),
        )
    facts += (("UI", _Link(t.ui_url, t.ui_url)),)
    tables: tuple[_Table, ...] = ()
    if status is not None and status.runs:
        runs = records(t.runs)  # Run handles over the loaded status: no request
        tables = (_record_table(runs, columns(Run), drop=["task_id"], caption="runs"),)
    notes = []
    if status is None:
        notes.append("status not loaded — read task.status or task.state")
    if definition is None:
        notes.append("definition not loaded — read task.definition or task.name")
    title = f"Task {label!r}" if label is not None else f"Task {t.task_id}"
    return _View(repr(t), title, t.ui_url, facts, tables, tuple(notes))


def _unsuccessful(tasks: Iterable[Task]) -> tuple[_Table, ...]:
    """A table of the failed and exception tasks among ``tasks`` (listed
    tasks: loaded, no request), or none."""
    bad = [t for t in tasks if t._status and t._status.state in FAILED_STATES]
    if not bad:
        return ()
    more = (f"… {len(bad) - MAX_ROWS} more",) if len(bad) > MAX_ROWS else ()
    hidden = ["task_id", "task_queue_id", "dependencies", "scheduled", "resolved"]
    rows = records(bad[:MAX_ROWS])
    caption = "failed and exception"
    return (_record_table(rows, columns(Task), drop=hidden, caption=caption, notes=more),)


def _task_group(g: TaskGroup) -> _View:
    info, known = g._info, g._known_tasks()
    facts = _facts(("taskGroupId", g.task_group_id))
    if info is not None:
        facts += _facts(
            ("scheduler", info.scheduler_id),
            ("sealed", info.sealed or "no"),
            ("expires", info.expires),
        )
    if known:
        facts += (("tasks", f"{len(known)}" + ("" if g._listed_all else " listed so far")),)
    facts += (("UI", _Link(g.ui_url, g.ui_url)),)
    tables: tuple[_Table, ...] = ()
    if known:
        counts = tuple((_State(s), n) for s, n in g._state_counts().items())
        tables = (_Table(("state", "tasks"), counts), *_unsuccessful(known.values()))
    notes = []
    if info is None:
        notes.append("info not loaded — read group.info (a page of group.tasks() loads it too)")
    if not known:
        notes.append("tasks not listed — list(group.tasks()), or group.tasks().to_dataframe()")
    elif not g._listed_all:
        notes.append("not every task is listed yet — list(group.tasks()) lists them all")
    title = f"TaskGroup {g.task_group_id}"
    return _View(repr(g), title, g.ui_url, facts, tables, tuple(notes))


def _run(r: Run) -> _View:
    info = r._info
    facts = _facts(
        ("task", _Link(r.task.ui_url, _name_or_id(r.task))),
        ("runId", r.run_id),
    )
    if info is not None:
        facts += _facts(
            ("state", _State(info.state)),
            ("reason created", info.reason_created),
            ("reason resolved", info.reason_resolved),
            ("worker", _worker(info)),
            ("scheduled", info.scheduled),
            ("started", info.started),
            ("resolved", info.resolved),
            ("duration", info.duration),
            ("taken until", None if info.is_resolved else info.taken_until),
        )
    facts += (("UI", _Link(r.ui_url, r.ui_url)),)
    notes = (
        ()
        if info is not None
        else ("run info not loaded — read run.info or run.state (it comes with the task's status)",)
    )
    title = f"Run {r.run_id} of task {_name_or_id(r.task)}"
    return _View(repr(r), title, r.ui_url, facts, notes=notes)


def _artifact(a: Artifact) -> _View:
    info = a._info
    facts = _facts(
        ("name", a.name),
        ("task", _Link(a.task.ui_url, _name_or_id(a.task))),
        ("run", "latest" if a.run_id is None else a.run_id),
    )
    if info is not None:
        facts += _facts(
            ("storage type", info.storage_type),
            ("content type", info.content_type),
            ("size", _size(info.content_length)),
            ("expires", info.expires),
        )
    facts += _facts(
        ("URL", _Link(a.url, a.url) if a.is_public else None),  # unsigned: no secret
        ("UI", _Link(a.ui_url, a.ui_url)),
    )
    notes = (
        ()
        if info is not None
        else ("info not loaded — read artifact.info (listing artifacts() loads it too)",)
    )
    return _View(repr(a), f"Artifact {a.name}", a.ui_url, facts, notes=notes)


def _namespace(n: Namespace) -> _View:
    facts = _facts(
        ("namespace", n.namespace or "(the index root)"),
        ("name", n.name if n.namespace else None),
        ("expires", n.info.expires if n.info is not None else None),
        ("UI", _Link(n.ui_url, n.ui_url)),
    )
    notes = (
        "n.namespaces() lists the namespaces below, n.tasks() its entries, "
        "n.find() the task indexed at this path",
    )
    return _View(repr(n), f"Namespace {n.namespace or '(root)'}", n.ui_url, facts, notes=notes)


def _index_entry(e: IndexEntry) -> _View:
    status = e.task._status
    facts = _facts(
        ("namespace", e.namespace),
        ("task", _Link(e.task.ui_url, _name_or_id(e.task))),
        ("state", _State(status.state) if status is not None else None),
        ("rank", e.rank),
        ("expires", e.expires),
        ("data", _scrub(e.data)),
        ("UI", _Link(e.ui_url, e.ui_url)),
    )
    notes = () if status is not None else ("task not loaded — read entry.task.state",)
    return _View(repr(e), f"IndexEntry {e.namespace}", e.ui_url, facts, notes=notes)


def _model_value(field: attrs.Attribute[Any], value: Any) -> Any:
    """How a model's field shows: states as badges, a field with its own
    repr (a URL without its signing query) through it, secrets scrubbed."""
    if field.name == "state" and isinstance(value, str):
        return _State(value)
    if callable(field.repr) and not (isinstance(value, tuple) and _models(value)):
        return field.repr(value)
    if isinstance(value, _Model):
        return repr(value)
    return _scrub(value) if isinstance(value, Mapping) else value


def _models(values: tuple[Any, ...]) -> bool:
    return bool(values) and all(isinstance(v, _Model) for v in values)


def _model_table(name: str, values: tuple[_Model, ...]) -> _Table:
    fields = [f for f in attrs.fields(type(values[0])) if f.name != "raw"]
    used = [f for f in fields if any(getattr(v, f.name) is not None for v in values)]
    rows = tuple(tuple(_model_value(f, getattr(v, f.name)) for f in used) for v in values)
    return _Table(tuple(f.name for f in used), rows, name)


def _model(m: _Model) -> _View:
    facts: list[tuple[str, Any]] = []
    tables = []
    for f in attrs.fields(type(m)):
        value = getattr(m, f.name)
        if f.name == "raw":
            continue
        if isinstance(value, tuple) and _models(value):
            tables.append(_model_table(f.name, value))
        else:
            facts.append((f.name, _model_value(f, value)))
    return _View(repr(m), type(m).__name__, None, _facts(*facts), tuple(tables))


def _listing(ls: Listing[Any]) -> _View:
    preview = ls._first_page()
    items = preview.items
    notes = []
    if preview.error is not None:
        notes.append(f"the first page could not be fetched: {preview.error}")
    more = [f"… {len(items) - MAX_ROWS} more"] if len(items) > MAX_ROWS else []
    if preview.more_pages:
        more.append("more pages not fetched")
    shown = items[:MAX_ROWS]
    cols = columns(ls._item_type) or (columns(type(items[0])) if items else None)
    if cols is not None:
        table = _record_table(records(shown), cols, notes=more)
    else:
        table = _Table(("item",), tuple((repr(i),) for i in shown), notes=tuple(more))
    notes.append(
        f"a preview of the first page ({len(items)} item{'s' * (len(items) != 1)}): "
        "list(...) gets every item, .to_dataframe() a table of all"
    )
    return _View(repr(ls), repr(ls), None, (), (table,), tuple(notes))


def _resource(r: Resource) -> _View:
    """Any other handle: its identity and the facts its repr shows (never
    more, so a secret's value never shows), and a link to its page."""
    url = getattr(r, "ui_url", None)
    facts = _facts(*r._identity(), *r._loaded_facts())
    if isinstance(url, str):
        facts += (("UI", _Link(url, url)),)
    ids = " ".join(str(v) for _, v in r._identity())
    return _View(repr(r), f"{type(r).__name__} {ids}", url, facts)


_VIEWS: tuple[tuple[type, Callable[[Any], _View]], ...] = (
    (Cluster, _cluster),
    (Task, _task),
    (TaskGroup, _task_group),
    (Run, _run),
    (IndexedArtifact, _resource),  # its task is not known before a read
    (Artifact, _artifact),
    (Namespace, _namespace),
    (IndexEntry, _index_entry),
    (_Model, _model),
    (Listing, _listing),
    (Resource, _resource),
)


def _view(obj: Any) -> _View:
    for kind, build in _VIEWS:
        if isinstance(obj, kind):
            return build(obj)
    raise TypeError(f"no display for {type(obj).__name__}")


# -- rendering -----------------------------------------------------------------


def _json(value: Any) -> str:
    shown = json.dumps(value, default=str, sort_keys=True)
    return shown if len(shown) <= MAX_JSON else shown[:MAX_JSON] + " …"


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, _State):
        return value.value
    if isinstance(value, _Link):
        return value.text
    if isinstance(value, datetime):
        return _html.when(value)
    if isinstance(value, timedelta):
        return _html.duration(value)
    if isinstance(value, (Mapping, list)):
        return _json(value)
    if isinstance(value, tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, _State):
        return _html.state_badge(value.value)
    if isinstance(value, _Link):
        return _html.link(value.url, value.text)
    if isinstance(value, (Mapping, list)):
        return f'<pre style="margin:0;white-space:pre-wrap">{_html.escape(_json(value))}</pre>'
    return _html.escape(_plain(value))


def _clip(s: str, width: int = 48) -> str:
    return s if len(s) <= width else s[: width - 1] + "…"


def _text_table(table: _Table) -> list[str]:
    cells = [list(table.columns)] + [[_clip(_plain(v)) for v in row] for row in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    lines = [f"{table.caption}:"] if table.caption else []
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return lines + list(table.notes)


def _render_text(view: _View) -> str:
    lines = [view.head]
    width = max((len(k) for k, _ in view.facts), default=0)
    lines += [f"  {k.ljust(width)}  {_plain(v)}" for k, v in view.facts]
    for table in view.tables:
        lines += ["  " + line for line in _text_table(table)]
    lines += [f"  {note}" for note in view.notes]
    return "\n".join(lines)


def _render_html(view: _View) -> str:
    title = f'<div style="font-weight:bold">{_html.link(view.url, view.title)}</div>'
    parts = [title]
    if view.facts:
        rows = [[f"<b>{_html.escape(k)}</b>", _cell(v)] for k, v in view.facts]
        parts.append(_html.table([], rows))
    for t in view.tables:
        rows = [[_cell(v) for v in row] for row in t.rows]
        footer = "<br>".join(_html.escape(n) for n in t.notes)
        parts.append(_html.table(t.columns, rows, caption=_html.escape(t.caption), footer=footer))
    parts += [f'<div style="color:#777">{_html.escape(n)}</div>' for n in view.notes]
    return f'<div class="tcmodel-view">{"".join(parts)}</div>'


# -- the entry points the objects' _repr_*_ methods call -------------------------


def text(obj: Any) -> str:
    """The plain-text display of ``obj``: its repr, then what is loaded
    and what is not (no request, but a listing's first page).

    Example:
        >>> print(text(cluster.index("project")))  # doctest: +ELLIPSIS
        <Namespace namespace='project'>
          namespace  project
          ...
    """
    return _render_text(_view(obj))


def pretty(obj: Any, p: Printer, cycle: bool) -> None:
    """``_repr_pretty_`` of every tcmodel object: :func:`text` to IPython's printer.

    Example:
        >>> from IPython.lib.pretty import pretty as ipython_pretty
        >>> ipython_pretty(cluster.task(build.task_id).run(0)).splitlines()[0]
        "<Run taskId='...' runId=0>"
        >>> ipython_pretty([cluster.task(build.task_id).run(0)])  # inside a container: the repr
        "[<Run taskId='...' runId=0>]"
    """
    nested = getattr(p, "indentation", 0) > 0 or len(getattr(p, "stack", ())) > 1
    p.text(repr(obj) if cycle or nested else text(obj))


def html(obj: Any) -> str:
    """``_repr_html_`` of every tcmodel object: state badges, durations and
    links to the deployment's web UI (no request, but a listing's first page).

    Example:
        >>> "/tasks/groups/" in html(cluster.task_group(group.task_group_id))
        True
    """
    return _render_html(_view(obj))


def _tail(log: str) -> tuple[str, str | None]:
    lines = log.splitlines()
    if len(lines) <= MAX_LOG_LINES:
        return log, None
    hidden = len(lines) - MAX_LOG_LINES
    note = f"… {hidden} earlier lines not shown (the last {MAX_LOG_LINES}); print(log) shows all"
    return "\n".join(lines[-MAX_LOG_LINES:]), note


def log_text(log: str) -> str:
    """A log as plain lines, the last :data:`MAX_LOG_LINES` of a long one.

    Example:
        >>> print(log_text("a\\nb"))
        a
        b
        >>> log_text("x\\n" * 600).splitlines()[0]
        '… 100 earlier lines not shown (the last 500); print(log) shows all'
    """
    tail, note = _tail(log)
    return f"{note}\n{tail}" if note else tail


def log_html(log: str) -> str:
    """A log as an HTML ``<pre>`` (escaped), the last lines of a long one.

    Example:
        >>> log_html("<b>boom</b>")
        '<pre style="...">&lt;b&gt;boom&lt;/b&gt;</pre>'
    """
    tail, note = _tail(log)
    head = f'<div style="color:#777">{_html.escape(note)}</div>' if note else ""
    pre = f'<pre style="max-height:40em;overflow:auto">{_html.escape(tail)}</pre>'
    return head + pre
