"""The demo: a realistic task graph on an embedded local cluster, explored
through tcmodel as a person would, with the HTTP cost of every step.

Run it with ``python -m tcmodel demo``.

Example:
    >>> from tcmodel.demo import PLATFORMS
    >>> len(PLATFORMS)
    3
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import tcmodel
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import iso
from tcmodel.testing.worker import ClaimedRun, Worker

__all__ = ["PLATFORMS", "build_graph", "explore", "main"]

QUEUE = "proj-app/ci"
PLATFORMS = ("linux64", "macosx64", "win64")
BUILD_TYPES = ("opt", "debug")
SUITES = ("unit", "integration", "ui", "perf")
LINTERS = ("flake8", "eslint", "clang-format", "mypy", "rustfmt")
# What goes wrong in the graph, so there is something to investigate.
FAILS = {"test-win64-debug-ui", "test-macosx64-opt-perf", "lint-eslint"}
FLAKY = {"test-linux64-opt-integration"}  # fails once, then passes on rerun
#: How long ago (seconds) the graph started: it runs for about 39 minutes
#: of cluster clock and ends a couple of minutes before the real "now".
HISTORY = 41 * 60
#: Size of the demo's worker pool: tests queue for a worker when many are
#: pending at once, as they do on a real pool.
WORKERS = 16
_MINUTE = 60.0
# (minimum, spread) in minutes of what each kind of task takes, and the
# minutes that parts of a name add to it (builds 15-25 min, tests 5-12 min)
_TIMINGS = {
    "decision": (1.8, 0.4),
    "build": (15.0, 2.0),
    "test": (5.0, 1.0),
    "lint": (1.0, 1.0),
    "signing": (2.5, 1.0),
    "package": (4.0, 1.5),
    "docs": (3.0, 1.0),
}
_SLOWER = {
    "build": {"macosx64": 3.0, "win64": 5.0, "debug": 2.0},
    "test": {"debug": 1.0, "integration": 2.0, "ui": 3.0, "perf": 2.0},
    "package": {"win64": 0.5},
}
_RERUN_AFTER = 4 * _MINUTE  # someone notices the intermittent failure and reruns it


def _jitter(key: str) -> float:
    """A number in [0, 1) that depends only on ``key`` (the demo is deterministic)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32


def _duration(name: str) -> float:
    """Seconds the task ``name`` runs for: decision ~2 min, builds 15–25 min,
    tests 5–12 min, lints 1–2 min, signing ~3 min, packages 4–6 min."""
    kind, *parts = name.split("-")
    low, spread = _TIMINGS[kind]
    slower = _SLOWER.get(kind, {})
    minutes = low + spread * _jitter(name) + sum(slower.get(p, 0.0) for p in parts)
    return round(minutes * _MINUTE)


def _pickup(key: str) -> float:
    """Seconds until an idle worker's next claimWork finds pending work."""
    return round(5 + 40 * _jitter(f"pickup {key}"))


def _log_text(name: str, ok: bool, started: float, took: float) -> str:
    steps = 40

    def stamp(i: int) -> str:
        return iso(started + took * i / (steps + 1))

    lines = [f"[taskcluster {stamp(0)}] Worker: demo pool; starting {name}"]
    lines += [f"[task {stamp(i)}] step {i}: running {name} part {i}" for i in range(1, steps)]
    if ok:
        lines.append(f"[task {stamp(steps)}] {name}: all good")
    else:
        lines += [
            f"[task {stamp(steps)}] {name}: FAILED",
            "Traceback (most recent call last):",
            '  File "harness.py", line 88, in run_suite',
            "AssertionError: expected 200 got 503 from /api/widgets",
            "[taskcluster] exit code 1",
        ]
    return "\n".join(lines) + "\n"


def _work(run: ClaimedRun, name: str, ok: bool, started: float) -> None:
    """Act out the end of one task the way a worker would: artifacts, log,
    resolution."""
    if name.startswith("build-"):
        blob = hashlib.sha256(name.encode()).digest() * 4096  # 128 KiB, deterministic
        run.upload("public/build/target.tar.gz", blob, content_type="application/gzip")
        run.upload(
            "public/build/target.checksums",
            f"{hashlib.sha256(blob).hexdigest()}  target.tar.gz\n",
            content_type="text/plain",
            storage_type="s3",
        )
        run.link("public/build/latest.tar.gz", "public/build/target.tar.gz")
        run.upload("private/build/secrets.json", '{"signing": "redacted"}', storage_type="s3")
    elif name.startswith("test-"):
        run.upload("public/test/report.json", f'{{"suite": "{name}", "ok": {str(ok).lower()}}}')
        if not ok:
            run.error("public/test/screenshot.png", "file-missing-on-worker", "no screenshot")
    elif name == "decision":
        run.upload(
            "public/docs/graph.json",
            '{"tasks": 41}',
            content_type="application/json",
            storage_type="s3",
        )
        # a reference that redirects through the queue again, as real ones may
        graph = f"{run.worker.root_url}/api/queue/v1/task/{run.task_id}/runs/0/artifacts/"
        run.reference(
            "public/docs/graph-ref.json", graph + "public%2Fdocs%2Fgraph.json", "application/json"
        )
    run.log(_log_text(name, ok, started, _duration(name)))
    if ok:
        run.complete()
    else:
        run.fail()


class _Pool:
    """The demo's workers over simulated time: an event queue of actions at
    times (seconds from the start), the cluster clock moved to each one's
    time before it runs. Idle workers claim what the queue hands out, each
    run lasts its :func:`_duration`, is reclaimed as real workers do, then
    resolved."""

    def __init__(self, lc: LocalCluster, workers: list[Worker], names: dict[str, str]) -> None:
        self.lc = lc
        self.idle = workers[::-1]
        self.names = names  # taskId -> name, filled in as tasks are created
        self.now = 0.0
        #: What happens when the run of a task of this name ends (before it resolves).
        self.on_end: dict[str, Callable[[ClaimedRun], None]] = {}
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` seconds from now (simulated)."""
        heapq.heappush(self._events, (self.now + delay, next(self._seq), action))

    def run(self) -> None:
        """Play the events out in time order until none is left."""
        while self._events:
            when, _, action = heapq.heappop(self._events)
            self.lc.advance(when - self.now)
            self.now = when
            action()

    def poll(self) -> None:
        """Idle workers claim pending runs, one each, while there are some."""
        while self.idle and (runs := self.idle[-1].claim(1)):
            self._start(self.idle.pop(), runs[0])

    def _start(self, worker: Worker, run: ClaimedRun) -> None:
        name, started = self.names[run.task_id], self.lc.clock.now()
        took = _duration(name)
        every = self.lc.settings.claim_timeout / 2
        for n in range(1, int(took // every) + 1):
            self.at(n * every, run.reclaim)
        self.at(took, lambda: self._end(worker, run, name, started))

    def _end(self, worker: Worker, run: ClaimedRun, name: str, started: float) -> None:
        if name in self.on_end:
            self.on_end[name](run)
        ok = name not in FAILS and not (name in FLAKY and run.run_id == 0)
        _work(run, name, ok, started)
        self.idle.append(worker)
        self.at(_pickup(f"{name} {run.run_id}"), self.poll)


def build_graph(lc: LocalCluster, cluster: tcmodel.Cluster) -> tuple[str, dict[str, Task]]:
    """Create the graph (decision → builds → tests, lints, signing) and run
    it to the end with a pool of local workers, on the cluster clock: it
    starts :data:`HISTORY` seconds ago and every run is claimed when a
    worker is free after its dependencies resolved and resolved after a
    realistic time (builds 15–25 min, tests 5–12 min, …; long runs are
    reclaimed), so the graph ends a couple of minutes before the real "now"
    and the clock is back where it was: clients signing with the real clock
    work afterwards. The decision task creates the other 40 tasks; the
    flaky task is rerun a few minutes after it failed. ``cluster`` must sign
    with the cluster's clock (:meth:`LocalCluster.connect`). Returns the
    group id and the tasks by name (as created). About a second.

    Example:
        >>> sorted(tasks)[:3]
        ['build-linux64-debug', 'build-linux64-opt', 'build-macosx64-debug']
        >>> len(tasks), tasks["signing"].task_group == group
        (41, True)
        >>> cluster.task(tasks["signing"].task_id).state
        'completed'
    """
    group_id = tcmodel.slug_id()
    tasks: dict[str, Task] = {}

    def create(name: str, deps: list[str], **kw: Any) -> None:
        tasks[name] = cluster.create_task(
            task_queue_id=QUEUE,
            payload={"command": ["./mach", *name.split("-")], "maxRunTime": 3600},
            name=name,
            description=f"{name} of the demo graph",
            owner="demo@example.com",
            source="https://example.com/app/.taskcluster.yml",
            task_group_id=group_id,
            dependencies=[tasks[d] for d in deps],
            **kw,
        )
        names[tasks[name].task_id] = name

    def create_graph(_: ClaimedRun) -> None:  # the decision task's job
        for platform in PLATFORMS:
            for bt in BUILD_TYPES:
                build = f"build-{platform}-{bt}"
                create(build, ["decision"], routes=[f"index.project.app.{platform}-{bt}.latest"])
                for suite in SUITES:
                    create(f"test-{platform}-{bt}-{suite}", [build])
        for linter in LINTERS:
            create(f"lint-{linter}", ["decision"])
        builds = [n for n in tasks if n.startswith("build-")]
        create("signing", builds)
        for platform in PLATFORMS:
            create(f"package-{platform}", [f"build-{platform}-opt", "signing"])
        create("docs", ["decision"], requires="all-resolved")

    def rerun_later(run: ClaimedRun) -> None:  # the flaky task's first run fails
        if run.run_id == 0:
            pool.at(_RERUN_AFTER, partial(rerun, names[run.task_id]))

    def rerun(name: str) -> None:
        tasks[name].rerun()
        pool.at(_pickup(f"rerun {name}"), pool.poll)

    names: dict[str, str] = {}
    with ExitStack() as stack:
        workers = [
            stack.enter_context(Worker(lc, QUEUE, worker_group="demo", worker_id=f"demo-{i:02d}"))
            for i in range(1, WORKERS + 1)
        ]
        pool = _Pool(lc, workers, names)
        pool.on_end["decision"] = create_graph
        for name in FLAKY:
            pool.on_end[name] = rerun_later
        lc.clock.advance(-HISTORY)
        try:
            create("decision", [])
            pool.at(_pickup("decision"), pool.poll)
            pool.run()
        finally:
            lc.advance(HISTORY - pool.now)  # back to where the clock was
    return group_id, tasks


@contextmanager
def _step(lc: LocalCluster, title: str) -> Iterator[None]:
    print(f"\n== {title}")
    before = len(lc.requests)
    started = time.monotonic()
    yield
    spent = len(lc.requests) - before
    took = (time.monotonic() - started) * 1000
    print(f"   ({spent} HTTP request{'s' * (spent != 1)}, {took:.0f} ms)")


def explore(lc: LocalCluster, root_url: str, creds: tcmodel.Credentials, group_id: str) -> None:
    """Explore the graph through the public API as a person would, printing
    each step with the HTTP requests it cost (counted in ``lc.requests``).

    Example:
        >>> explore(lc, lc.root_url, lc.root_credentials, group.task_group_id)
        ... # doctest: +ELLIPSIS
        <BLANKLINE>
        == Task group ...: summary
           41 tasks: 38 completed, 3 failed
        ...
        == Index lookup: the latest linux64-opt build
        ...
    """
    out: Callable[..., None] = print
    with tcmodel.Cluster.from_url(root_url, credentials=creds) as cluster:
        group = cluster.task_group(group_id)

        with _step(lc, f"Task group {group_id}: summary"):
            tasks = list(group.tasks())
            states: dict[str, int] = {}
            for t in tasks:
                states[t.state] = states.get(t.state, 0) + 1
            out(
                f"   {len(tasks)} tasks: "
                + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            )
            out(f"   scheduler {group.scheduler_id!r}, sealed: {group.sealed is not None}")

        with _step(lc, "Failures, with the tail of their logs"):
            for t in group.tasks().filter(state="failed"):
                last = t.latest_run.run_id if t.latest_run else "-"
                out(f"   {t.name} ({t.task_id}), run {last}:")
                for line in t.log().rstrip().splitlines()[-3:]:
                    out(f"      | {line}")

        with _step(lc, "Rerun history of a flaky task"):
            flaky = next(iter(group.tasks().filter(lambda t: t.name in FLAKY)))
            for run in flaky.runs:
                how = f"{run.reason_created} -> {run.state} ({run.reason_resolved})"
                out(f"   run {run.run_id}: {how}")

        with _step(lc, "Download a build artifact and check its checksum"):
            build = next(iter(group.tasks().filter(lambda t: t.name == "build-linux64-opt")))
            with tempfile.TemporaryDirectory() as tmp:
                art = build.latest_artifact("public/build/target.tar.gz")
                path = art.download(Path(tmp) / "target.tar.gz")
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                expected = build.latest_artifact("public/build/target.checksums").read_text()
                out(f"   {art.name}: {path.stat().st_size} bytes, sha256 {digest[:16]}…")
                out(f"   matches published checksums: {expected.split()[0] == digest}")

        with _step(lc, "Artifacts of a failed test, one of each kind"):
            failed = next(iter(group.tasks().filter(lambda t: t.name == "test-win64-debug-ui")))
            for art in failed.artifacts():
                try:
                    size = f"{len(art.read_bytes())} bytes"
                except tcmodel.ArtifactError as e:
                    size = f"error artifact: {e.reason}: {e.message}"
                out(f"   {art.name} [{art.storage_type}] -> {size}")
            decision = next(iter(group.tasks().filter(lambda t: t.name == "decision")))
            ref = decision.latest_artifact("public/docs/graph-ref.json")
            out(f"   {ref.name} [reference, via the queue again] -> {ref.read_json()}")

        anonymous = tcmodel.Cluster.from_url(root_url)
        with _step(lc, "Anonymous access: public yes, private no"), anonymous:
            b = anonymous.task(build.task_id)
            text = b.latest_artifact("public/build/target.checksums").read_text()
            out(f"   public/build/target.checksums: {text.split()[0][:16]}…")
            try:
                b.latest_artifact("private/build/secrets.json").read_bytes()
            except tcmodel.InsufficientScopes as e:
                out(f"   private/build/secrets.json: {type(e).__name__} ({e.status})")

        with _step(lc, "Dependency chain of one test"):
            task = next(iter(group.tasks().filter(lambda t: t.name == "test-win64-debug-ui")))
            chain = [task]
            while chain[-1].definition.dependencies:
                deps = chain[-1].dependencies
                chain.append(deps[0])
            out("   " + "  <-  ".join(f"{t.name} [{t.state}]" for t in chain))
            signing = next(iter(group.tasks().filter(lambda t: t.name == "signing")))
            deps = signing.dependencies
            out(
                f"   signing waits for {len(deps)} builds: "
                + ", ".join(sorted(d.state for d in deps))
            )

        with _step(lc, "Index lookup: the latest linux64-opt build"):
            ns = cluster.index("project.app.linux64-opt.latest")
            found = ns.find()
            out(f"   {ns.namespace} -> {found.task_id} ({found.name}, {found.state})")
            art = found.latest_artifact("public/build/latest.tar.gz")
            out(f"   via link artifact {art.name}: {len(art.read_bytes())} bytes")
            out(
                "   namespaces under project.app: "
                + ", ".join(n.name for n in cluster.index("project.app").namespaces())
            )


def main(argv: list[str] | None = None) -> int:
    """Run the demo (``main([])`` prints the walk-through, in a second or
    two); returns the exit status.

    Example:
        >>> main(["--help"])  # doctest: +ELLIPSIS
        usage: python -m tcmodel demo [-h]
        ...
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcmodel demo",
        description="Build a realistic task graph on an embedded local cluster and explore it "
        "through tcmodel, with the HTTP requests each step costs.",
    )
    try:
        parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error
        return e.code if isinstance(e.code, int) else 0
    started = time.monotonic()
    with LocalCluster() as lc:
        print(f"Local cluster at {lc.root_url} (blobs at {lc.blob_url})")
        with lc.connect() as admin:
            group_id, tasks = build_graph(lc, admin)
        print(
            f"Built a graph of {len(tasks)} tasks with {len(lc.requests)} requests "
            "(create, claim, artifacts, resolve)"
        )
        lc.reset_requests()
        explore(lc, lc.root_url, lc.root_credentials, group_id)
    print(f"\nDone in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
