"""Triage: group.failures() on a real local cluster — reasons, latest runs,
log tails fetched concurrently (bounded), tasks without a log, displays."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from IPython.lib.pretty import pretty as _pretty

import tcmodel
from tcmodel.graph import Failure, Failures
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker

QUEUE = "proj/ci"


def pretty(value: object) -> str:
    """What IPython shows for ``value`` (its ``_repr_pretty_``)."""
    return str(_pretty(value))  # type: ignore[no-untyped-call]


def log_of(name: str, lines: int = 30) -> str:
    return "".join(f"{name} line {i} <b>&\n" for i in range(1, lines + 1))


@pytest.fixture(scope="module")
def triage() -> Iterator[tuple[LocalCluster, str, dict[str, Task]]]:
    """unit (failed, 30-line log), crash (exception, no log), gone (failed,
    its log an error artifact), retried (failed, then rerun and failed
    again with another log), ok (completed)."""
    with LocalCluster() as lc, lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        names = ("unit", "crash", "gone", "retried", "ok")
        t = {
            n: cluster.create_task(task_queue_id=QUEUE, payload={}, name=n, task_group_id=gid)
            for n in names
        }
        worker.run(t["unit"].task_id, outcome="failed", log=log_of("unit"))
        worker.run(t["crash"].task_id, outcome="malformed-payload")
        gone = worker.claim_task(t["gone"].task_id)
        gone.error("public/logs/live_backing.log", "file-missing-on-worker", "lost")
        gone.fail()
        worker.run(t["retried"].task_id, outcome="failed", log=log_of("first"))
        cluster.task(t["retried"].task_id).rerun()
        worker.run(t["retried"].task_id, outcome="failed", log=log_of("second"))
        worker.run(t["ok"].task_id, log="fine\n")
        yield lc, gid, t


def by_name(failures: Failures) -> dict[str, Failure]:
    return {f.name: f for f in failures}


def test_failures_have_reason_latest_run_and_log_tail(
    triage: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, t = triage
    with lc.connect() as cluster:
        lc.reset_requests()
        failures = cluster.task_group(gid).failures(tail=3)
        listings = [r for r in lc.requests if r.entry == "listTaskGroup"]
    assert len(listings) == 1  # the group is walked once
    found = by_name(failures)
    assert sorted(found) == ["crash", "gone", "retried", "unit"]  # not "ok"
    unit = found["unit"]
    assert (unit.state, unit.reason, unit.note) == ("failed", "failed", "")
    assert unit.log_tail == "unit line 28 <b>&\nunit line 29 <b>&\nunit line 30 <b>&"
    assert unit.run is not None and unit.run.run_id == 0
    assert unit.task.task_id == t["unit"].task_id
    retried = found["retried"]
    assert retried.run is not None and retried.run.run_id == 1  # the latest run
    assert retried.log_tail.splitlines()[-1] == "second line 30 <b>&"


def test_tasks_without_a_log_get_an_empty_tail_and_a_note(
    triage: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, _ = triage
    with lc.connect() as cluster:
        found = by_name(cluster.task_group(gid).failures())
    crash, gone = found["crash"], found["gone"]
    assert (crash.state, crash.reason, crash.log_tail, crash.note) == (
        "exception",
        "malformed-payload",
        "",
        "no log",
    )
    assert (gone.state, gone.log_tail, gone.note) == ("failed", "", "no log")


def test_failures_is_list_like_and_makes_records(
    triage: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, _ = triage
    with lc.connect() as cluster:
        failures = cluster.task_group(gid).failures(tail=1)
    assert isinstance(failures, Failures) and len(failures) == 4
    assert [failures[i] for i in range(4)] == list(failures)
    records = {r["name"]: r for r in failures.to_records()}
    assert records["retried"] == {
        "task_id": failures[[f.name for f in failures].index("retried")].task.task_id,
        "name": "retried",
        "state": "failed",
        "reason": "failed",
        "run_id": 1,
        "log_tail": "second line 30 <b>&",
        "note": "",
    }
    pytest.importorskip("pandas")
    df = failures.to_dataframe()
    assert list(df.columns) == ["task_id", "name", "state", "reason", "run_id", "log_tail", "note"]
    assert str(df["state"].dtype) == "category" and len(df) == 4


def test_failures_display_as_a_table_without_requests_or_secrets(
    triage: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    lc, gid, t = triage
    with lc.connect() as cluster:
        failures = cluster.task_group(gid).failures(tail=2)
        lc.reset_requests()
        html = failures._repr_html_()
        text = pretty(failures)
        assert lc.requests == []
    assert html.startswith('<table class="tcmodel">') and "<script" not in html
    assert "unit line 30 &lt;b&gt;&amp;" in html and "<b>&" not in html.split("</caption>")[1]
    assert html.count("<pre") == 2  # unit and retried have a tail; the others a note
    assert "no log" in html and "malformed-payload" in html
    assert f"{lc.root_url}/tasks/{t['unit'].task_id}" in html
    assert lc.root_credentials.access_token not in html + text
    assert "bewit" not in html
    assert text.splitlines()[0] == "4 failed or exception tasks"
    assert "  crash  exception (malformed-payload) run 0" in text
    assert "    unit line 30 <b>&" in text


def test_failures_show_a_progress_bar(
    triage: tuple[LocalCluster, str, dict[str, Task]], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    lc, gid, _ = triage
    seen: list[tuple[int, int | None]] = []
    with lc.connect() as cluster:
        group = cluster.task_group(gid)
        group.failures(progress=True)
        group.failures(progress=lambda done, total: seen.append((done, total)))
    assert "4/4" in capsys.readouterr().err
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_logs_are_fetched_concurrently_within_the_bound(lc: LocalCluster) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        for i in range(4):
            task = cluster.create_task(
                task_queue_id=QUEUE, payload={}, name=f"t{i}", task_group_id=gid
            )
            worker.run(task.task_id, outcome="failed", log=log_of(f"t{i}"))
        group = cluster.task_group(gid)
        list(group.tasks())  # listed whole: failures() reads only the logs

        def timed(concurrency: int) -> float:
            lc.inject("delay", delay=0.4, times=4, path="live_backing.log")
            start = time.monotonic()
            failures = group.failures(concurrency=concurrency)
            assert sorted(f.log_tail.splitlines()[-1] for f in failures) == [
                f"t{i} line 30 <b>&" for i in range(4)
            ]
            assert all(f.log_tail.startswith(f.name) for f in failures)  # each its own log
            return time.monotonic() - start

        assert timed(1) >= 1.6  # one at a time: four delays in a row
        assert timed(2) >= 0.8  # never more than two at once: two waves
        assert timed(4) < 1.2  # all four at once: one wave (0.4 s), far below the 1.6 s in a row


def test_failures_work_inside_a_running_event_loop(
    triage: tuple[LocalCluster, str, dict[str, Task]],
) -> None:
    # as in a Jupyter cell, where a loop is already running
    lc, gid, _ = triage

    async def cell() -> int:
        with lc.connect() as cluster:
            return len(cluster.task_group(gid).failures(concurrency=3))

    assert asyncio.run(cell()) == 4


def test_failures_check_their_arguments(triage: tuple[LocalCluster, str, dict[str, Task]]) -> None:
    lc, gid, _ = triage
    with lc.connect() as cluster, pytest.raises(ValueError, match="concurrency"):
        cluster.task_group(gid).failures(concurrency=0)
