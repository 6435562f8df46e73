"""What each ``tcmodel`` subcommand does, on the public object model.

Imported only once a command runs (never for ``--help``): the object model
itself is imported inside the functions. Each command takes the parsed
arguments, a :class:`~tcmodel.cli.Context` and returns the exit status.

Example:
    >>> from tcmodel.cli import main
    >>> main(["--root-url", lc.root_url, "find", "project.app.linux64-opt.latest"])
    ... # doctest: +ELLIPSIS
    namespace: project.app.linux64-opt.latest
    task:      ... build-linux64-opt
    state:     completed
    rank:      ...
    expires:   ...
    data:      {...}
    link:      http://127.0.0.1:.../tasks/...
    0
"""

from __future__ import annotations

import argparse
import codecs
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tcmodel.cli.output import Output, format_duration, format_time, to_json
from tcmodel.cli.parser import EXIT, UsageError, parse_ref

if TYPE_CHECKING:
    from tcmodel.cli import Context
    from tcmodel.cluster import Cluster
    from tcmodel.resources.artifact import Artifact
    from tcmodel.resources.run import Run
    from tcmodel.resources.task import Task

__all__ = ["COMMANDS"]

_RESOLVED = ("completed", "failed", "exception")


def _task_of(cluster: Cluster, text: str) -> tuple[Task, int | None]:
    ref = parse_ref(text)
    if ref.kind == "group":
        raise UsageError(f"a task group URL where a task is expected: {text!r}")
    return cluster.task(ref.id), ref.run


def _run_of(task: Task, run_id: int | None) -> Run | None:
    """Run ``run_id``, else the latest (``None``: the task has no run)."""
    if run_id is not None:
        run = task.run(run_id)
        run.state  # noqa: B018  (NotFound when the task has no such run)
        return run
    return task.latest_run


def _artifact(task: Task, run_id: int | None, name: str) -> Artifact:
    return task.run(run_id).artifact(name) if run_id is not None else task.latest_artifact(name)


def _run_record(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state,
        "reason_created": run.reason_created,
        "reason_resolved": run.reason_resolved,
        "scheduled": run.scheduled,
        "started": run.started,
        "resolved": run.resolved,
        "worker_group": run.worker_group,
        "worker_id": run.worker_id,
    }


def _emit(ctx: Context, record: dict[str, Any], text: Callable[[Output], object]) -> int:
    """Print ``record`` as JSON with ``--json``, else have ``text`` write it
    for people; the exit status: 0."""
    if ctx.json:
        ctx.out.json(record)
    else:
        text(ctx.out)
    return EXIT["ok"]


def _status_record(task: Task) -> dict[str, Any]:
    latest = task.latest_run
    return {
        "task_id": task.task_id,
        "state": task.state,
        "run_id": latest.run_id if latest is not None else None,
        "ui_url": task.ui_url,
    }


# -- task, group ------------------------------------------------------------------------------


def _task(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        task, _ = _task_of(cluster, args.id)
        definition, runs = task.definition, task.runs
        deps = task.dependencies
        dep_states = [(d.task_id, d.state) for d in deps]  # one bulk request for all
        record = {
            "task_id": task.task_id,
            "name": definition.metadata.name,
            "state": task.state,
            "task_group_id": definition.task_group_id,
            "task_queue_id": definition.task_queue_id,
            "created": definition.created,
            "deadline": definition.deadline,
            "retries_left": task.status.retries_left,
            "runs": [_run_record(r) for r in runs],
            "dependencies": [{"task_id": t, "state": s} for t, s in dep_states],
            "ui_url": task.ui_url,
        }

    def text(out: Output) -> None:
        out.fields(
            ("task", f"{task.task_id}  {definition.metadata.name}"),
            ("state", out.state(task.state)),
            ("queue", definition.task_queue_id),
            ("group", definition.task_group_id),
            ("created", format_time(definition.created)),
            ("deadline", format_time(definition.deadline)),
            ("link", task.ui_url),
        )
        out.heading(f"Runs ({len(runs)})")
        out.table(
            ["RUN", "STATE", "REASON", "STARTED", "RESOLVED", "DURATION", "WORKER"],
            [
                [
                    str(r.run_id),
                    r.state,
                    r.reason_resolved or r.reason_created,
                    format_time(r.started),
                    format_time(r.resolved),
                    format_duration(r.duration),
                    f"{r.worker_group}/{r.worker_id}" if r.worker_id else "-",
                ]
                for r in runs
            ],
            states=[1],
            indent="  ",
            empty="none yet",
        )
        out.heading(f"Dependencies ({len(dep_states)})")
        out.table(["TASK", "STATE"], dep_states, states=[1], indent="  ", empty="none")

    return _emit(ctx, record, text)


def _group(args: argparse.Namespace, ctx: Context) -> int:
    ref = parse_ref(args.id)
    with ctx.cluster() as cluster:
        # a task's URL: that task's group
        group = (
            cluster.task(ref.id).task_group if ref.kind == "task" else cluster.task_group(ref.id)
        )
        listed = list(group.tasks())  # the failures and path below reuse this listing
        counts = Counter(t.state for t in listed)
        failures = group.failures(tail=args.tail)
        path = group.critical_path()
        record = {
            "task_group_id": group.task_group_id,
            "total": len(listed),
            "counts": dict(sorted(counts.items())),
            "failures": [f.to_record() for f in failures],
            "critical_path": {
                "total": path.total,
                "steps": [
                    {
                        "task_id": s.task.task_id,
                        "name": s.name,
                        "wait": s.wait,
                        "run_time": s.run_time,
                    }
                    for s in path
                ],
            },
            "ui_url": group.ui_url,
        }

    def text(out: Output) -> None:
        out.fields(
            ("group", group.task_group_id), ("tasks", str(len(listed))), ("link", group.ui_url)
        )
        out.heading("States")
        out.table(
            ["STATE", "TASKS"],
            [[s, str(n)] for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
            states=[0],
            indent="  ",
            empty="no tasks",
        )
        out.heading(f"Failures ({len(failures)})")
        if not failures:
            out.line("  none")
        for f in failures:
            out.line(f"  {out.state(f.state)}  {f.name}  {f.task.task_id}  ({f.reason or '-'})")
            for line in f.log_tail.splitlines():
                out.line("      " + out.paint(line, "2"))
            if f.note:
                out.line("      " + f.note)
        out.heading(f"Critical path ({len(path)} tasks, {format_duration(path.total)})")
        out.table(
            ["TASK", "WAITED", "RAN"],
            [[s.name, format_duration(s.wait), format_duration(s.run_time)] for s in path],
            indent="  ",
            empty="none yet (no task has run)",
        )

    return _emit(ctx, record, text)


# -- logs -------------------------------------------------------------------------------------


def _log(args: argparse.Namespace, ctx: Context) -> int:
    if args.follow and args.tail is not None:
        raise UsageError("--tail does not go with --follow, which prints the whole log")
    with ctx.cluster() as cluster:
        task, url_run = _task_of(cluster, args.id)
        run_id = args.run if args.run is not None else url_run
        if args.follow:
            return _follow(task, run_id, args.poll, ctx)
        run, text = _read_log(task, run_id)
    if args.tail is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-args.tail :]) if args.tail else ""
    record = {"task_id": task.task_id, "run_id": run.run_id, "text": text}
    return _emit(ctx, record, lambda out: out.stream.write(text))


def _read_log(task: Task, run_id: int | None) -> tuple[Run, str]:
    """The log of run ``run_id``, else of the latest run that has one."""
    from tcmodel.errors import NotFound

    if run_id is not None:
        run = _run_of(task, run_id)
        assert run is not None
        return run, run.log()
    if not task.runs or not task.status.is_resolved:
        task.refresh()  # a running task's status goes stale fast
    for run in reversed(task.runs):
        try:
            return run, run.log()
        except NotFound:
            continue
    text = task.log()  # no run has a log: raises the model's NotFound
    latest = task.latest_run
    assert latest is not None
    return latest, text


def _live_chunks(run: Run) -> Iterator[bytes]:
    """The run's live log as it streams (a livelog answer may last until
    the run ends); nothing when there is none yet."""
    from tcmodel.errors import ArtifactError, ConnectionFailed, NotFound
    from tcmodel.resources.claim import LIVE_LOG

    try:
        yield from run.artifact(LIVE_LOG).iter_bytes()
    except (NotFound, ArtifactError, ConnectionFailed):
        return


def _follow(task: Task, run_id: int | None, poll: float, ctx: Context) -> int:
    """Print the log of the task's latest run (or run ``run_id``) as it
    grows: read the live log, print what is new, and again after ``poll``
    seconds, until the run (and, without ``run_id``, the task) is resolved;
    then print the rest from the final log. The exit status is the
    outcome: 0 completed, 1 failed or exception."""
    from tcmodel.errors import NotFound

    following: int | None = None
    printed = 0
    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def emit(data: bytes, run: int, last: bool = False) -> None:
        nonlocal printed
        text = decoder.decode(data, final=last)
        printed += len(data)
        if not text:
            return
        if ctx.json:
            ctx.out.json({"event": "log", "run_id": run, "text": text})
        else:
            ctx.out.stream.write(text)
        ctx.out.stream.flush()

    def new_bytes(chunks: Iterator[bytes], run: int) -> None:
        seen = 0
        for chunk in chunks:
            start = max(printed - seen, 0)
            seen += len(chunk)
            if start < len(chunk):
                emit(chunk[start:], run)

    def finish(run: Run) -> None:
        """Print what is left of a resolved run's final log."""
        try:
            final = run.log().encode("utf-8")
        except NotFound:
            final = b""
        new_bytes(iter([final]), run.run_id)
        emit(b"", run.run_id, last=True)  # an incomplete character, replaced

    while True:
        task.refresh()
        runs = task.runs
        if run_id is not None and not any(r.run_id == run_id for r in runs):
            if task.status.is_resolved:
                task.run(run_id).state  # noqa: B018  (the model's NotFound)
            time.sleep(poll)
            continue
        run = task.run(run_id) if run_id is not None else (runs[-1] if runs else None)
        if run is None:  # not scheduled yet
            time.sleep(poll)
            continue
        if run.run_id != following:
            if following is not None:  # the queue retried: end the last run's log first
                finish(task.run(following))
                if not ctx.json:
                    ctx.out.line(f"\n--- run {run.run_id} ({run.reason_created}) ---")
            following, printed = run.run_id, 0
            decoder.reset()
        if run.state in _RESOLVED:
            finish(run)
            if run_id is not None or task.status.is_resolved:
                state = run.state if run_id is not None else task.state
                if ctx.json:
                    ctx.out.json({"event": "resolved", "run_id": run.run_id, "state": state})
                return EXIT["ok"] if state == "completed" else EXIT["failed"]
        else:
            new_bytes(_live_chunks(run), run.run_id)
        time.sleep(poll)


# -- artifacts --------------------------------------------------------------------------------


def _artifacts(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        task, url_run = _task_of(cluster, args.id)
        run_id = args.run if args.run is not None else url_run
        listing = task.run(run_id).artifacts() if run_id is not None else task.artifacts()
        found = [a.info for a in listing]
    record = {
        "task_id": task.task_id,
        "run_id": run_id,
        "artifacts": [
            {
                "name": i.name,
                "storage_type": i.storage_type,
                "content_type": i.content_type,
                "expires": i.expires,
            }
            for i in found
        ],
    }
    return _emit(
        ctx,
        record,
        lambda out: out.table(
            ["NAME", "STORAGE", "CONTENT TYPE", "EXPIRES"],
            [[i.name, i.storage_type, i.content_type, format_time(i.expires)] for i in found],
            empty="no artifacts",
        ),
    )


def _byte_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _progress(name: str, stream: Any) -> Callable[[int, int | None], None] | bool:
    """A tqdm bar when tqdm is installed, else one line rewritten in place."""
    import importlib.util

    if importlib.util.find_spec("tqdm") is not None:
        return True

    def report(done: int, total: int | None) -> None:
        size = _byte_size(done) + (f" / {_byte_size(total)}" if total else "")
        stream.write(f"\r{name}: {size}")
        stream.flush()

    return report


def _download(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        task, url_run = _task_of(cluster, args.id)
        run_id = args.run if args.run is not None else url_run
        art = _artifact(task, run_id, args.name)
        err = sys.stderr
        progress: Any = False
        if not ctx.json and err.isatty():
            progress = _progress(args.name, err)
        path = art.download(args.output, progress=progress)
        if callable(progress):
            err.write("\n")
    size = path.stat().st_size
    record = {
        "task_id": task.task_id,
        "run_id": run_id,
        "name": args.name,
        "path": str(path),
        "size": size,
    }
    return _emit(ctx, record, lambda out: out.line(f"{path}  ({_byte_size(size)})"))


def _signed_url(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        task, url_run = _task_of(cluster, args.id)
        run_id = args.run if args.run is not None else url_run
        if cluster.credentials is None:
            raise UsageError("signing a URL needs credentials (TASKCLUSTER_CLIENT_ID, …)")
        url = _artifact(task, run_id, args.name).signed_url(expires_in=args.expires)
    return _emit(ctx, {"url": url, "expires_in": args.expires}, lambda out: out.line(url))


# -- index ------------------------------------------------------------------------------------


def _find(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        entry = cluster.index(args.path).entry()
        task = entry.task
        record: dict[str, Any] = {
            "namespace": entry.namespace,
            "task_id": entry.task_id,
            "rank": entry.rank,
            "data": entry.data,
            "expires": entry.expires,
            "state": task.state,
            "name": task.name,
            "ui_url": task.ui_url,
        }
    return _emit(
        ctx,
        record,
        lambda out: out.fields(
            ("namespace", entry.namespace),
            ("task", f"{entry.task_id}  {record['name']}"),
            ("state", out.state(record["state"])),
            ("rank", str(entry.rank)),
            ("expires", format_time(entry.expires)),
            ("data", to_json(entry.data)),
            ("link", record["ui_url"]),
        ),
    )


def _ls(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        ns = cluster.index(args.namespace)
        children = [n.namespace for n in ns.namespaces()]
        entries: list[dict[str, Any]] = [
            {
                "namespace": e.namespace,
                "name": e.name,
                "task_id": e.task_id,
                "rank": e.rank,
                "expires": e.expires,
            }
            for e in ns.tasks()
        ]
    record = {"namespace": args.namespace, "namespaces": children, "tasks": entries}

    def text(out: Output) -> None:
        if not children and not entries:
            out.line(f"nothing indexed below {args.namespace!r}")
        for child in children:
            out.line(out.paint(child + ".", "1"))
        if entries:
            if children:
                out.line()
            out.table(
                ["NAME", "TASK", "RANK", "EXPIRES"],
                [[e["name"], e["task_id"], str(e["rank"]), format_time(e["expires"])]
                 for e in entries],
            )  # fmt: skip

    return _emit(ctx, record, text)


# -- actions ----------------------------------------------------------------------------------


def _act(args: argparse.Namespace, ctx: Context, action: str) -> int:
    with ctx.cluster() as cluster:
        task, _ = _task_of(cluster, args.id)
        getattr(task, action)()
        record = _status_record(task)
    run = f", run {record['run_id']}" if record["run_id"] is not None else ""
    return _emit(
        ctx, record, lambda out: out.line(f"{task.task_id}: {out.state(record['state'])}{run}")
    )


def _rerun(args: argparse.Namespace, ctx: Context) -> int:
    return _act(args, ctx, "rerun")


def _cancel(args: argparse.Namespace, ctx: Context) -> int:
    return _act(args, ctx, "cancel")


def _wait(args: argparse.Namespace, ctx: Context) -> int:
    from tcmodel.errors import NotFound

    ref = parse_ref(args.id)
    with ctx.cluster() as cluster:
        as_group = args.group or ref.kind == "group"
        if not as_group:
            task = cluster.task(ref.id)
            try:
                task.status  # noqa: B018
            except NotFound:
                if ref.kind == "task":
                    raise
                as_group = True  # a bare id that is no task: a group's
        if as_group:
            counts = cluster.task_group(ref.id).wait(timeout=args.timeout, poll=args.poll)
            bad = sum(n for s, n in counts.items() if s != "completed")
            state = "completed" if not bad else "failed"
            record: dict[str, Any] = {
                "task_group_id": ref.id,
                "state": state,
                "counts": dict(sorted(counts.items())),
            }
            line = f"group {ref.id}: " + ", ".join(
                f"{n} {ctx.out.state(s)}" for s, n in sorted(counts.items())
            )
        else:
            state = task.wait(timeout=args.timeout, poll=args.poll)
            record = {"task_id": task.task_id, "state": state}
            line = f"{task.task_id}: {ctx.out.state(state)}"
    _emit(ctx, record, lambda out: out.line(line))
    return EXIT["ok"] if state == "completed" else EXIT["failed"]


def _scopes(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.cluster() as cluster:
        creds = cluster.credentials
        scopes = cluster.current_scopes()
        client_id = creds.client_id if creds is not None else None

    def text(out: Output) -> None:
        out.fields(("client", client_id or "(anonymous)"))
        for scope in scopes:
            out.line("  " + scope)

    return _emit(ctx, {"client_id": client_id, "scopes": scopes}, text)


# -- the local cluster ------------------------------------------------------------------------


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    from tcmodel.testing.cli import run_server

    return run_server(args, out=ctx.out.stream)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    from tcmodel.demo import main as demo

    return demo([])


#: The function of each subcommand (``completion`` is the package's own).
COMMANDS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "task": _task,
    "group": _group,
    "log": _log,
    "artifacts": _artifacts,
    "download": _download,
    "find": _find,
    "ls": _ls,
    "rerun": _rerun,
    "cancel": _cancel,
    "wait": _wait,
    "scopes": _scopes,
    "signed-url": _signed_url,
    "serve": _serve,
    "demo": _demo,
}
