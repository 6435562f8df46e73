"""The demo: a realistic task graph on an embedded local cluster, explored
through tcmodel as a person would, with the HTTP cost of every step.

Run it with ``python -m tcmodel demo``.

Example:
    >>> from tcmodel.demo import PLATFORMS
    >>> len(PLATFORMS)
    3
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tcmodel
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
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


def _log_text(name: str, ok: bool) -> str:
    lines = [f"[task {time.strftime('%H:%M:%S')}] starting {name}"]
    lines += [f"[task] step {i}: running {name} part {i}" for i in range(1, 40)]
    if ok:
        lines.append(f"[task] {name}: all good")
    else:
        lines += [
            f"[task] {name}: FAILED",
            "Traceback (most recent call last):",
            '  File "harness.py", line 88, in run_suite',
            "AssertionError: expected 200 got 503 from /api/widgets",
            "[taskcluster] exit code 1",
        ]
    return "\n".join(lines) + "\n"


def _work(run: ClaimedRun, name: str, failing: set[str]) -> None:
    """Act out one task the way a worker would: artifacts, log, resolution."""
    ok = name not in failing
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
    run.log(_log_text(name, ok))
    if ok:
        run.complete()
    else:
        run.fail()


def build_graph(lc: LocalCluster, cluster: tcmodel.Cluster) -> tuple[str, dict[str, Task]]:
    """Create the graph (decision → builds → tests, lints, signing) and run
    it to the end with a local worker. Returns the group id and tasks by name.

    Example:
        >>> # with LocalCluster() as lc, lc.connect() as cluster:
        >>> #     group_id, tasks = build_graph(lc, cluster)
        >>> #     tasks["signing"].state  ->  'completed'
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

    create("decision", [])
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

    by_id = {t.task_id: name for name, t in tasks.items()}
    worker = Worker(lc, QUEUE, worker_id="demo-worker")
    failing = FAILS | FLAKY
    while runs := worker.claim(32):
        for run in runs:
            _work(run, by_id[run.task_id], failing)
    # the flaky one gets a rerun, which passes
    failing = set(FAILS)
    for name in FLAKY:
        tasks[name].rerun()
    while runs := worker.claim(32):
        for run in runs:
            _work(run, by_id[run.task_id], failing)
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
    """Explore the graph through the public API as a person would.

    Example:
        >>> # group_id, _ = build_graph(lc, cluster)
        >>> # explore(lc, lc.root_url, lc.root_credentials, group_id)   # prints each step
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
    """Run the demo; returns the exit status.

    Example:
        >>> # main([])  ->  0   (prints the walk-through, about a second)
    """
    started = time.monotonic()
    with LocalCluster() as lc:
        print(f"Local cluster at {lc.root_url} (blobs at {lc.blob_url})")
        with tcmodel.Cluster.from_url(lc.root_url, credentials=lc.root_credentials) as admin:
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
