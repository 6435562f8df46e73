"""The ``tcmodel`` command line, run as a subprocess (``python -m tcmodel …``)
against a local cluster seeded with the demo's task graph, served by this
module over real HTTP: every subcommand in text and ``--json``, exit codes,
errors on one line, colours on a terminal only, shell completion, and
``log --follow`` on a running task whose live log grows.

(``demo`` and ``serve --demo`` run as subprocesses in test_demo.py.)
"""

from __future__ import annotations

import fcntl
import http.server
import importlib.util
import json
import os
import pty
import queue
import shutil
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

import tcmodel
from tcmodel.cli import main
from tcmodel.cli.completion import script as build_script
from tcmodel.cli.parser import build_parser
from tcmodel.demo import build_graph
from tcmodel.resources.claim import LIVE_LOG
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import ClaimedRun, Worker
from tcmodel.utils import slug_id

ANSI = "\x1b["


class Seeded:
    """The module's cluster: the demo graph, and a root client of it."""

    def __init__(self, lc: LocalCluster, admin: tcmodel.Cluster, group_id: str, tasks: Any):
        self.lc = lc
        self.admin = admin
        self.group_id = group_id
        self.ids = {name: t.task_id for name, t in tasks.items()}

    def env(self, *, credentials: bool = True, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TASKCLUSTER_") and k not in ("NO_COLOR", "TERM")
        }
        env["TASKCLUSTER_ROOT_URL"] = self.lc.root_url
        if credentials:
            creds = self.lc.root_credentials
            env["TASKCLUSTER_CLIENT_ID"] = creds.client_id
            env["TASKCLUSTER_ACCESS_TOKEN"] = creds.access_token
        env.update(extra)
        return env

    def tc(
        self, *args: str, env: dict[str, str] | None = None, code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tcmodel", *args],
            capture_output=True,
            text=True,
            env=self.env() if env is None else env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        if code in (0, 1):
            assert proc.stderr == "", proc.stderr
        return proc


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with LocalCluster() as lc, lc.connect() as admin:
        group_id, tasks = build_graph(lc, admin)
        yield Seeded(lc, admin, group_id, tasks)


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert ANSI not in proc.stdout
    return json.loads(proc.stdout)


# -- help and usage ---------------------------------------------------------------------------


def test_every_subcommand_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    names = [a for a in build_parser()._subparsers._group_actions[0].choices]  # type: ignore
    assert {"task", "group", "log", "wait", "signed-url", "serve", "demo", "completion"} <= set(
        names
    )
    for name in names:
        with pytest.raises(SystemExit) as exited:  # untyped ok: argparse exits after --help
            main([name, "--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith(f"usage: tcmodel {name}")
        assert f"example:\n  tcmodel {name}" in text, name


def test_help_and_demo_help_do_not_run_anything(seeded: Seeded) -> None:
    top = seeded.tc("--help")
    assert top.stdout.startswith("usage: python -m tcmodel")
    assert "exit status: 0 ok, 1 a task or group failed" in top.stdout
    demo = seeded.tc("demo", "--help")
    assert demo.stdout.startswith("usage: python -m tcmodel demo")
    assert "Local cluster at" not in demo.stdout


def test_help_and_usage_errors_import_no_request_machinery() -> None:
    code = (
        "import sys\n"
        "from tcmodel.cli import main\n"
        "for argv in (['--help'], ['log', '--help'], ['wait']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('httpx', 'mohawk', 'attrs', 'tcmodel.cluster', 'tcmodel.transport')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wait"], "the following arguments are required: id"),
        (["status", "x"], "invalid choice: 'status'"),
        (["task", "not-a-task"], "error: not a task id or task URL: 'not-a-task'"),
        (["--json", "demo"], "error: demo prints no JSON (--json)"),
        (["log", "Dx4tPEtaRpeIeWpbTD0uHw", "-f", "--tail", "5"], "error: --tail does not go with"),
        (["completion", "zsh", "--json"], "unrecognized arguments: --json"),
    ],
)
def test_usage_errors_exit_2_with_one_line(seeded: Seeded, args: list[str], message: str) -> None:
    proc = seeded.tc(*args, code=2)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    if args[0] == "task":
        assert proc.stderr.count("\n") == 1


def test_without_a_root_url_the_error_says_what_to_set(seeded: Seeded) -> None:
    env = {k: v for k, v in seeded.env().items() if k != "TASKCLUSTER_ROOT_URL"}
    proc = seeded.tc("task", seeded.ids["decision"], env=env, code=2)
    assert proc.stderr.startswith("python -m tcmodel: error: TASKCLUSTER_ROOT_URL is not set")
    assert "or pass --root-url URL" in proc.stderr and proc.stderr.count("\n") == 1
    # --root-url stands in for it
    got = _json(seeded.tc("--root-url", seeded.lc.root_url, "wait", seeded.ids["decision"],
                          "--json", env=env))  # fmt: skip
    assert got["state"] == "completed"


def test_inside_a_task_requests_go_to_the_proxy(seeded: Seeded) -> None:
    # the local cluster plays taskcluster-proxy: unsigned requests; links name the deployment
    env = seeded.env(credentials=False, TASKCLUSTER_ROOT_URL="https://tc.example.com")
    env["TASKCLUSTER_PROXY_URL"] = seeded.lc.root_url
    got = _json(seeded.tc("task", seeded.ids["decision"], "--json", env=env))
    assert got["ui_url"] == f"https://tc.example.com/tasks/{seeded.ids['decision']}"
    assert got["state"] == "completed"


# -- task and group ---------------------------------------------------------------------------


def test_task_text_from_a_ui_url(seeded: Seeded) -> None:
    tid = seeded.ids["test-win64-debug-ui"]
    out = seeded.tc("task", f"https://tc.example.com/tasks/{tid}/runs/0").stdout
    assert ANSI not in out  # piped: no colours
    lines = out.splitlines()
    assert lines[0].split() == ["task:", tid, "test-win64-debug-ui"]
    assert lines[1].split() == ["state:", "failed"]
    assert f"link:      {seeded.lc.root_url}/tasks/{tid}" in lines
    assert "RUN  STATE   REASON  STARTED" in out
    deps = seeded.admin.task(tid).definition.dependencies
    assert f"Dependencies ({len(deps)})" in out
    assert all(d in out for d in deps)


def test_task_json_keys(seeded: Seeded) -> None:
    tid = seeded.ids["package-linux64"]
    before = len(seeded.lc.requests)
    got = _json(seeded.tc("--json", "task", tid))
    assert sorted(got) == [
        "created", "deadline", "dependencies", "name", "retries_left", "runs", "state",
        "task_group_id", "task_id", "task_queue_id", "ui_url",
    ]  # fmt: skip
    assert (got["task_id"], got["name"], got["state"]) == (tid, "package-linux64", "completed")
    assert sorted(got["runs"][0]) == [
        "reason_created", "reason_resolved", "resolved", "run_id", "scheduled", "started",
        "state", "worker_group", "worker_id",
    ]  # fmt: skip
    assert got["runs"][0]["started"].endswith("Z")
    deps = {d["task_id"]: d["state"] for d in got["dependencies"]}
    assert deps == {
        seeded.ids["build-linux64-opt"]: "completed",
        seeded.ids["signing"]: "completed",
    }
    # the dependencies' states came in one bulk request
    paths = [r.path for r in seeded.lc.requests[before:]]
    assert len(paths) == 3  # the definition, the status, the dependencies' statuses
    assert sum(p.endswith("/tasks/status") for p in paths) == 1
    assert not any(p.endswith(f"/task/{seeded.ids['signing']}/status") for p in paths)


def test_group_text(seeded: Seeded) -> None:
    out = seeded.tc("group", f"https://tc.example.com/tasks/groups/{seeded.group_id}").stdout
    assert f"group:     {seeded.group_id}" in out
    assert "tasks:     41" in out
    assert "completed  38" in out and "failed     3" in out
    assert "Failures (3)" in out
    assert "failed  lint-eslint" in out and "(failed)" in out
    assert "[taskcluster] exit code 1" in out
    assert "Critical path (3 tasks," in out
    assert "  decision " in out


def test_group_json_keys(seeded: Seeded) -> None:
    task_url = f"https://tc.example.com/tasks/{seeded.ids['lint-eslint']}"  # its group
    got = _json(seeded.tc("group", task_url, "--json", "--tail", "1"))
    assert got["task_group_id"] == seeded.group_id
    assert sorted(got) == [
        "counts", "critical_path", "failures", "task_group_id", "total", "ui_url",
    ]  # fmt: skip
    assert got["counts"] == {"completed": 38, "failed": 3} and got["total"] == 41
    names = sorted(f["name"] for f in got["failures"])
    assert names == ["lint-eslint", "test-macosx64-opt-perf", "test-win64-debug-ui"]
    failure = got["failures"][0]
    assert sorted(failure) == ["log_tail", "name", "note", "reason", "run_id", "state", "task_id"]
    assert failure["log_tail"] == "[taskcluster] exit code 1"
    path = got["critical_path"]
    assert path["steps"][0]["name"] == "decision"
    assert sorted(path["steps"][0]) == ["name", "run_time", "task_id", "wait"]
    assert path["total"] > path["steps"][0]["run_time"] > 0


def test_answers_with_nothing_in_them_say_so(seeded: Seeded) -> None:
    first = seeded.admin.create_task(task_queue_id="proj/cli-empty", payload={}, name="first")
    group_id = first.task_group.task_group_id
    then = seeded.admin.create_task(
        task_queue_id="proj/cli-empty", payload={}, name="then",
        task_group_id=group_id, dependencies=[first],
    )  # fmt: skip
    out = seeded.tc("task", then.task_id).stdout
    assert "\nRuns (0)\n  none yet\n" in out
    deps = f"\nDependencies (1)\n  TASK{' ' * 18}  STATE\n  {first.task_id}  pending\n"
    assert out.endswith(deps)
    out = seeded.tc("group", group_id).stdout
    assert "\nFailures (0)\n  none\n" in out
    assert out.endswith("\nCritical path (0 tasks, 0.0s)\n  none yet (no task has run)\n")
    assert seeded.tc("artifacts", first.task_id).stdout == "no artifacts\n"  # run 0: pending
    assert seeded.tc("ls", "no.such").stdout == "nothing indexed below 'no.such'\n"
    assert _json(seeded.tc("ls", "no.such", "--json")) == {
        "namespace": "no.such",
        "namespaces": [],
        "tasks": [],
    }


# -- logs, artifacts --------------------------------------------------------------------------


def test_log_tail_and_json(seeded: Seeded) -> None:
    tid = seeded.ids["lint-eslint"]
    text = seeded.admin.task(tid).log()
    tail = seeded.tc("log", tid, "--tail", "2").stdout
    assert tail == "".join(text.splitlines(keepends=True)[-2:])
    got = _json(seeded.tc("log", tid, "--run", "0", "--json"))
    assert got == {"task_id": tid, "run_id": 0, "text": text}


def test_log_of_a_missing_run_is_not_found(seeded: Seeded) -> None:
    proc = seeded.tc("log", seeded.ids["lint-eslint"], "--run", "7", code=3)
    assert "has no run 7" in proc.stderr and proc.stderr.count("\n") == 1


def test_artifacts_text_and_json(seeded: Seeded) -> None:
    tid = seeded.ids["build-linux64-opt"]
    out = seeded.tc("artifacts", tid).stdout.splitlines()
    assert out[0].split()[:3] == ["NAME", "STORAGE", "CONTENT"]
    row = next(line for line in out if line.startswith("public/build/target.tar.gz "))
    assert row.split()[1:3] == ["object", "application/gzip"]
    got = _json(seeded.tc("artifacts", tid, "--run", "0", "--json"))
    assert (got["task_id"], got["run_id"]) == (tid, 0)
    names = [a["name"] for a in got["artifacts"]]
    assert "public/logs/live_backing.log" in names
    assert sorted(got["artifacts"][0]) == ["content_type", "expires", "name", "storage_type"]


def test_download_to_a_folder_and_a_file(seeded: Seeded, tmp_path: Path) -> None:
    tid = seeded.ids["build-linux64-opt"]
    expected = seeded.admin.task(tid).latest_artifact("public/build/target.tar.gz").read_bytes()
    out = seeded.tc("download", tid, "public/build/target.tar.gz", "-o", f"{tmp_path}/").stdout
    assert out == f"{tmp_path / 'target.tar.gz'}  (128.0 KiB)\n"
    assert (tmp_path / "target.tar.gz").read_bytes() == expected
    got = _json(
        seeded.tc("download", tid, "public/build/target.checksums", "-o", str(tmp_path / "c"),
                  "--json")
    )  # fmt: skip
    assert got == {
        "name": "public/build/target.checksums",
        "path": str(tmp_path / "c"),
        "run_id": None,
        "size": (tmp_path / "c").stat().st_size,
        "task_id": tid,
    }


def test_signed_url_works_and_needs_credentials(seeded: Seeded) -> None:
    tid = seeded.ids["build-linux64-opt"]
    name = "private/build/secrets.json"
    url = seeded.tc("signed-url", tid, name, "--expires", "600").stdout.strip()
    assert "bewit=" in url
    assert httpx.get(url, follow_redirects=True).json() == {"signing": "redacted"}
    got = _json(seeded.tc("signed-url", tid, name, "--json"))
    assert sorted(got) == ["expires_in", "url"] and "bewit=" in got["url"]
    proc = seeded.tc("signed-url", tid, name, env=seeded.env(credentials=False), code=2)
    assert "needs credentials" in proc.stderr


# -- index ------------------------------------------------------------------------------------


def test_find_text_and_json(seeded: Seeded) -> None:
    path = "project.app.linux64-opt.latest"
    out = seeded.tc("find", path).stdout
    assert f"task:      {seeded.ids['build-linux64-opt']}  build-linux64-opt" in out
    got = _json(seeded.tc("find", path, "--json"))
    assert sorted(got) == [
        "data", "expires", "name", "namespace", "rank", "state", "task_id", "ui_url",
    ]  # fmt: skip
    assert (got["namespace"], got["state"]) == (path, "completed")
    seeded.tc("find", "project.app.nosuch.latest", code=3)


def test_ls_text_and_json(seeded: Seeded) -> None:
    out = seeded.tc("ls", "project.app").stdout.splitlines()
    assert "project.app.linux64-opt." in out
    got = _json(seeded.tc("ls", "project.app.linux64-opt", "--json"))
    assert got["namespaces"] == []
    [entry] = got["tasks"]
    assert entry["name"] == "latest" and entry["task_id"] == seeded.ids["build-linux64-opt"]
    assert sorted(entry) == ["expires", "name", "namespace", "rank", "task_id"]


# -- actions and waiting ----------------------------------------------------------------------


def test_rerun_and_cancel(seeded: Seeded) -> None:
    tid = seeded.admin.create_task(task_queue_id="proj/cli-rerun", payload={}, name="x").task_id
    with Worker(seeded.lc, "proj/cli-rerun") as worker:  # not the demo's: other tests read it
        worker.run(tid, log="done\n")
    got = _json(seeded.tc("rerun", tid, "--json"))
    assert got == {
        "task_id": tid,
        "state": "pending",
        "run_id": 1,
        "ui_url": f"{seeded.lc.root_url}/tasks/{tid}",
    }
    out = seeded.tc("cancel", tid).stdout
    assert out == f"{tid}: exception, run 1\n"
    assert seeded.admin.task(tid).refresh().latest_run.reason_resolved == "canceled"  # type: ignore[union-attr]
    assert seeded.tc("rerun", tid).stdout == f"{tid}: pending, run 2\n"
    got = _json(seeded.tc("cancel", tid, "--json"))
    assert (got["state"], got["run_id"]) == ("exception", 2)


def test_cancel_without_scopes_is_an_auth_error(seeded: Seeded) -> None:
    task = seeded.admin.create_task(task_queue_id="proj/cli-auth", payload={}, name="a")
    proc = seeded.tc("cancel", task.task_id, env=seeded.env(credentials=False), code=4)
    assert "InsufficientScopes" in proc.stderr and proc.stderr.count("\n") == 1
    bad = seeded.env(TASKCLUSTER_ACCESS_TOKEN="not-the-token")
    proc = seeded.tc("scopes", env=bad, code=4)
    assert "not-the-token" not in proc.stderr


def test_an_error_line_shows_no_url_signature() -> None:
    # Any error (not only tcmodel's, whose messages are redacted already)
    # goes to stderr without the bewit or storage signature of a URL in it.
    from tcmodel.cli import _one_line

    line = _one_line(OSError("GET https://tc.example.com/a?bewit=c2VjcmV0&X-Amz-Signature=ab12"))
    assert "c2VjcmV0" not in line and "ab12" not in line and "bewit=<redacted>" in line


def test_unknown_task_is_not_found(seeded: Seeded) -> None:
    proc = seeded.tc("task", slug_id(), code=3)
    assert "ResourceNotFound" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    debug = seeded.tc("task", slug_id(), "--debug", code=3)
    assert debug.stderr.startswith("Traceback") and "tcmodel.errors.NotFound:" in debug.stderr


def test_wait_exit_codes(seeded: Seeded) -> None:
    assert seeded.tc("wait", seeded.ids["decision"]).stdout.endswith(": completed\n")
    failed = seeded.tc("wait", seeded.ids["test-win64-debug-ui"], code=1)
    assert failed.stdout.endswith(": failed\n")
    got = _json(seeded.tc("wait", "--group", seeded.group_id, "--json", code=1))
    assert got["task_group_id"] == seeded.group_id and got["state"] == "failed"
    assert sum(got["counts"].values()) == 41
    url = f"https://tc.example.com/tasks/groups/{seeded.group_id}"
    out = seeded.tc("wait", url, code=1).stdout
    assert out.startswith(f"group {seeded.group_id}: ") and " completed" in out


def test_wait_timeout_exits_5(seeded: Seeded) -> None:
    task = seeded.admin.create_task(task_queue_id="proj/cli-idle", payload={}, name="idle")
    proc = seeded.tc("wait", task.task_id, "--timeout", "0.2", "--poll", "0.05", code=5)
    assert "is still pending after 0.2s" in proc.stderr


def test_scopes(seeded: Seeded) -> None:
    assert _json(seeded.tc("scopes", "--json")) == {
        "client_id": "static/taskcluster/root",
        "scopes": ["*"],
    }
    out = seeded.tc("scopes", env=seeded.env(credentials=False)).stdout
    assert out.startswith("client:    (anonymous)\n")
    temp = tcmodel.create_temporary_credentials(seeded.lc.root_credentials, ["queue:status:*"])
    assert temp.certificate is not None
    env = seeded.env(
        TASKCLUSTER_ACCESS_TOKEN=temp.access_token, TASKCLUSTER_CERTIFICATE=temp.certificate
    )
    got = _json(seeded.tc("scopes", "--json", env=env))
    assert got["client_id"] == "static/taskcluster/root"
    assert "queue:status:*" in got["scopes"] and "*" not in got["scopes"]  # the certificate's


def test_serve_json_prints_one_line_to_connect_with(seeded: Seeded) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcmodel", "serve", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=seeded.env(credentials=False),
    )
    try:
        assert proc.stdout is not None
        got = json.loads(proc.stdout.readline())
        assert sorted(got) == ["access_token", "blob_url", "client_id", "root_url", "task_group_id"]
        assert got["task_group_id"] is None  # not --demo
        env = seeded.env(
            TASKCLUSTER_ROOT_URL=got["root_url"],
            TASKCLUSTER_CLIENT_ID=got["client_id"],
            TASKCLUSTER_ACCESS_TOKEN=got["access_token"],
        )
        assert _json(seeded.tc("scopes", "--json", env=env))["scopes"] == ["*"]
    finally:
        proc.terminate()  # SIGTERM: a clean stop
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == ""


# -- log --follow -----------------------------------------------------------------------------


class _LiveLog(http.server.ThreadingHTTPServer):
    """A worker's livelog endpoint: serves the log written so far."""

    def __init__(self) -> None:
        self.text = bytearray()

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = bytes(server.text)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/log"


def _lines(stream: Any) -> queue.Queue[str]:
    got: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            got.put(line)
        got.put("")

    threading.Thread(target=pump, daemon=True).start()
    return got


class _Following(NamedTuple):
    """``log --follow`` of a task whose first run is claimed: its live.log is
    a reference to ``live``; ``lines`` gets what the command prints."""

    live: _LiveLog
    worker: Worker
    run: ClaimedRun
    lines: queue.Queue[str]
    proc: subprocess.Popen[str]

    def rest(self, code: int) -> str:
        """What the command prints until it exits, with status ``code``."""
        assert self.proc.wait(timeout=30) == code
        rest = []
        while line := self.lines.get(timeout=30):
            rest.append(line)
        assert self.proc.stderr is not None and self.proc.stderr.read() == ""
        return "".join(rest)


@contextmanager
def _following(seeded: Seeded, name: str, flag: str = "--follow") -> Iterator[_Following]:
    queue_id = f"proj/cli-{name}"
    task = seeded.admin.create_task(task_queue_id=queue_id, payload={}, name=name)
    live = _LiveLog()
    threading.Thread(target=live.serve_forever, daemon=True).start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcmodel", "log", task.task_id, flag, "--poll", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=seeded.env(),
    )
    try:
        with Worker(seeded.lc, queue_id) as worker:
            run = worker.claim_task(task.task_id)
            run.reference(LIVE_LOG, live.url, "text/plain; charset=utf-8")
            yield _Following(live, worker, run, _lines(proc.stdout), proc)
    finally:
        live.shutdown()
        live.server_close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_log_follow_prints_a_growing_log_then_exits_with_the_outcome(seeded: Seeded) -> None:
    with _following(seeded, "follow") as f:
        f.live.text += b"step 1: checkout\n"
        assert f.lines.get(timeout=30) == "step 1: checkout\n"
        f.live.text += b"step 2: build\n"
        assert f.lines.get(timeout=30) == "step 2: build\n"
        full = f.live.text.decode() + "step 3: test\n[taskcluster] exit code 1\n"
        f.run.log(full)  # the backing log; live.log becomes a link to it
        f.run.fail()
        assert "step 1: checkout\nstep 2: build\n" + f.rest(code=1) == full


def test_log_follow_goes_on_to_the_run_of_a_retry(seeded: Seeded) -> None:
    with _following(seeded, "retried", flag="-f") as f:
        f.live.text += b"attempt 1\n"
        assert f.lines.get(timeout=30) == "attempt 1\n"
        f.run.log("attempt 1\nthe worker is going away\n")
        f.run.exception("worker-shutdown")  # the queue retries: run 1
        second = f.worker.claim_task(f.run.task_id)
        second.log("attempt 2\n[taskcluster] exit code 0\n")
        second.complete()
        assert f.rest(code=0) == (
            "the worker is going away\n\n--- run 1 (retry) ---\n"
            "attempt 2\n[taskcluster] exit code 0\n"
        )


def test_log_follow_of_a_resolved_task_prints_it_all(seeded: Seeded) -> None:
    tid = seeded.ids["decision"]
    proc = seeded.tc("log", tid, "--follow", "--poll", "0.05", "--json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1] == {"event": "resolved", "run_id": 0, "state": "completed"}
    text = "".join(e["text"] for e in events[:-1])
    assert text == seeded.admin.task(tid).log()


# -- colours ----------------------------------------------------------------------------------


def _on_a_terminal(seeded: Seeded, *args: str, **extra: str) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tcmodel", *args],
            stdout=follower,
            stderr=follower,
            env=seeded.env() | extra,
            timeout=60,
            check=False,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, text
    return text


def test_colours_on_a_terminal_only_without_no_color(seeded: Seeded) -> None:
    tid = seeded.ids["build-linux64-opt"]
    coloured = _on_a_terminal(seeded, "task", tid)
    assert "\x1b[32mcompleted\x1b[0m" in coloured
    plain = _on_a_terminal(seeded, "task", tid, NO_COLOR="1")
    assert ANSI not in plain and "completed" in plain
    forced = seeded.tc("--color", "always", "wait", tid).stdout
    assert "\x1b[32mcompleted\x1b[0m" in forced


def test_download_shows_progress_on_a_terminal(seeded: Seeded, tmp_path: Path) -> None:
    tid = seeded.ids["build-linux64-opt"]
    name = "public/build/target.tar.gz"
    shown = _on_a_terminal(seeded, "download", tid, name, "-o", str(tmp_path / "t.tgz"))
    if importlib.util.find_spec("tqdm") is not None:  # the notebook extra: a bar
        assert f"\r{name}: 100%" in shown
    else:  # one line rewritten in place
        assert f"\r{name}: 128.0 KiB" in shown
    assert shown.endswith(f"{tmp_path / 't.tgz'}  (128.0 KiB)\r\n")


# -- completion -------------------------------------------------------------------------------


def test_bash_completion_completes_subcommands_and_options(seeded: Seeded) -> None:
    script = seeded.tc("completion", "bash").stdout
    probe = (
        "source /dev/stdin; COMP_WORDS=(tcmodel lo); COMP_CWORD=1; _tcmodel;"
        ' echo "${COMPREPLY[*]}";'
        " COMP_WORDS=(tcmodel --root-url http://x log ID --f); COMP_CWORD=5; _tcmodel;"
        ' echo "${COMPREPLY[*]}"; COMP_WORDS=(tcmodel --color ""); COMP_CWORD=2; _tcmodel;'
        ' echo "${COMPREPLY[*]}"'
    )
    proc = subprocess.run(
        ["bash", "-c", probe], input=script, capture_output=True, text=True, check=True
    )
    assert proc.stdout.splitlines() == ["log", "--follow", "auto always never"]


def test_zsh_and_fish_scripts_name_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    zsh = capsys.readouterr().out
    assert zsh.startswith("#compdef tcmodel\n")
    assert "'signed-url:a signed (bewit) URL of an artifact, for curl or a browser'" in zsh
    assert "'(-f --follow)'{-f,--follow}'[print the log as it grows until the task ends]'" in zsh
    assert main(["completion", "fish"]) == 0
    fish = capsys.readouterr().out
    for name in ("task", "group", "log", "download", "find", "ls", "wait", "completion"):
        assert f"complete -c tcmodel -n '__fish_use_subcommand' -a {name} " in fish
    assert "-n '__fish_seen_subcommand_from download' -s o -l output -r -F" in fish
    if shutil.which("fish"):
        probe = "source; complete -C 'tcmodel lo'; complete -C 'tcmodel completion '"
        proc = subprocess.run(
            ["fish", "-c", probe], input=fish, capture_output=True, text=True, check=True
        )
        assert proc.stdout.splitlines() == [
            "log\ta task's log (the latest run's, or --run N's); --follow a running one",
            "bash",
            "fish",
            "zsh",
        ]


def _zsh_completions(script: Path, home: Path, probes: list[str]) -> list[list[str]]:
    """What zsh offers at TAB after each of ``probes``, in an interactive zsh
    on a terminal with ``script`` loaded (``compadd`` is wrapped to write
    the matches to a file instead of inserting them)."""
    hits = home / "hits"
    hits.write_text("")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        ["zsh", "-f", "-i"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "dumb", "HITS": str(hits)},
        start_new_session=True,
    )
    os.close(follower)

    def drain() -> None:
        try:
            while os.read(leader, 65536):
                pass
        except OSError:  # the terminal is closed
            pass

    def until(marker: str) -> None:
        for _ in range(1500):
            if marker in hits.read_text():
                return
            threading.Event().wait(0.02)
        raise AssertionError(hits.read_text())

    threading.Thread(target=drain, daemon=True).start()
    capture = (
        'compadd() { if [[ " $* " == *" -"[OAD]" "* ]]; then builtin compadd "$@"; return; fi;'
        ' local -a found; builtin compadd -O found "$@"; print -rl -- "${found[@]}" >> $HITS }'
    )
    try:
        os.write(
            leader,
            f"PS1=''; autoload -Uz compinit && compinit -u -D && source {script}; {capture};"
            f" bindkey '^I' complete-word; print '== ready' >> $HITS\n".encode(),
        )
        until("== ready\n")
        for n, probe in enumerate(probes):  # TAB, then Ctrl-U clears the line
            os.write(leader, f"{probe}\t\x15print '== {n}' >> $HITS\n".encode())
            until(f"== {n}\n")
        text = hits.read_text().split("== ready\n", 1)[1]
    finally:
        proc.kill()
        proc.wait()
        os.close(leader)
    found = []
    for n in range(len(probes)):
        chunk, text = text.split(f"== {n}\n", 1)
        found.append(sorted(set(chunk.split())))
    return found


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_completes_subcommands_options_and_values(tmp_path: Path) -> None:
    script = tmp_path / "_tcmodel"
    script.write_text(build_script("zsh"))
    (tmp_path / "out.tgz").write_text("")
    found = _zsh_completions(
        script,
        tmp_path,
        [
            "tcmodel s",
            "tcmodel log ID --f",
            "tcmodel --color ",
            "tcmodel completion ",
            f"tcmodel download ID NAME -o {tmp_path}/ou",
            "tcmodel wait ID --ti",
        ],
    )
    assert found == [
        ["scopes", "serve", "signed-url"],
        ["--follow"],
        ["always", "auto", "never"],
        ["bash", "fish", "zsh"],
        ["out.tgz"],
        ["--timeout"],
    ]
