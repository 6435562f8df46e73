"""Waiting (task.wait, group.wait, their async forms) and progress bars
(waits, downloads, listings), on a real local cluster."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tcmodel
from tcmodel._extras import MissingExtra
from tcmodel.resources.task import WAIT_CAP, Task, _poll
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.worker import Worker
from tcmodel.transport import Op, Sleep

QUEUE = "proj/ci"


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=2)


def new_task(cluster: tcmodel.Cluster, name: str = "job", group_id: str | None = None) -> Task:
    return cluster.create_task(task_queue_id=QUEUE, payload={}, name=name, task_group_id=group_id)


def later(delay: float, action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` in a thread after ``delay`` seconds."""

    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def status_calls(lc: LocalCluster) -> int:
    return sum(1 for r in lc.requests if r.entry == "status")


# -- the polling operation ------------------------------------------------------------


def test_the_pause_grows_from_poll_up_to_the_cap() -> None:
    answers = iter([None] * 6 + ["done"])

    def check() -> Op[str | None]:
        yield from ()  # an operation that sends nothing
        return next(answers)

    op = _poll(check, None, 30.0, lambda: AssertionError("no timeout"))
    pauses = []
    try:
        step = next(op)
        while True:
            assert isinstance(step, Sleep)
            pauses.append(step.seconds)
            step = op.send(None)
    except StopIteration as stop:
        assert stop.value == "done"
    assert pauses == [30.0, 45.0, WAIT_CAP, WAIT_CAP, WAIT_CAP, WAIT_CAP]


def test_a_poll_longer_than_the_cap_stays_as_given() -> None:
    answers = iter([None, None, 1])

    def check() -> Op[int | None]:
        yield from ()
        return next(answers)

    op = _poll(check, None, 2 * WAIT_CAP, lambda: AssertionError())
    assert [next(op), op.send(None)] == [Sleep(2 * WAIT_CAP), Sleep(2 * WAIT_CAP)]


def test_poll_must_be_positive(lc: LocalCluster) -> None:
    with lc.connect() as cluster, pytest.raises(ValueError, match="poll"):
        cluster.task(tcmodel.slug_id()).wait(poll=0)


# -- task.wait ------------------------------------------------------------------------------


def test_task_wait_returns_the_final_state(lc: LocalCluster) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        task = new_task(cluster)
        lc.reset_requests()
        thread = later(0.3, lambda: worker.run(task.task_id, outcome="failed", log="x\n"))
        start = time.monotonic()
        assert task.wait(timeout=10, poll=0.05) == "failed"
        assert time.monotonic() - start < 5
        thread.join()
        assert task.status.state == "failed"  # the final status is in place
        assert status_calls(lc) >= 2  # it polled until the worker was done


def test_task_wait_on_a_resolved_task_is_one_request(lc: LocalCluster) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        task = new_task(cluster)
        worker.run(task.task_id)
        lc.reset_requests()
        assert cluster.task(task.task_id).wait() == "completed"  # no pause at all
        assert [r.entry for r in lc.requests] == ["status"]


def test_task_wait_times_out_with_a_typed_error(lc: LocalCluster) -> None:
    with lc.connect() as cluster:
        task = new_task(cluster)
        lc.reset_requests()
        start = time.monotonic()
        with pytest.raises(tcmodel.WaitTimeout) as caught:
            task.wait(timeout=0.3, poll=0.02)
        took = time.monotonic() - start
    assert 0.3 <= took < 3
    err = caught.value
    assert isinstance(err, TimeoutError) and isinstance(err, tcmodel.TaskclusterError)
    assert task.task_id in str(err) and err.state == "pending" and err.timeout == 0.3
    assert "is still pending after 0.3s" in str(err)
    # backoff: fewer polls than a fixed 20 ms pause would make (15)
    assert 3 <= status_calls(lc) < 12


def test_task_await_shares_the_operation(lc: LocalCluster) -> None:
    with lc.connect() as admin, Worker(lc, QUEUE) as worker:
        task = new_task(admin)
        later(0.2, lambda: worker.run(task.task_id))

        async def main() -> str:
            async with lc.connect() as cluster:
                return await cluster.task(task.task_id).await_(timeout=10, poll=0.05)

        assert asyncio.run(main()) == "completed"

        async def too_short() -> str:
            async with lc.connect() as cluster:
                idle = new_task(cluster, "idle")
                return await idle.await_(timeout=0.1, poll=0.02)

        with pytest.raises(tcmodel.WaitTimeout, match="pending"):
            asyncio.run(too_short())


# -- group.wait -----------------------------------------------------------------------------


def test_group_wait_returns_counts_once_every_task_is_resolved(lc: LocalCluster) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        made = [new_task(cluster, f"t{i}", gid) for i in range(3)]  # two pages of listing
        group = cluster.task_group(gid)

        def resolve() -> None:
            worker.run(made[0].task_id)
            worker.run(made[1].task_id, outcome="failed")
            time.sleep(0.2)
            worker.run(made[2].task_id)

        thread = later(0.2, resolve)
        lc.reset_requests()
        counts = group.wait(timeout=10, poll=0.05)
        thread.join()
    assert counts == {"completed": 2, "failed": 1}
    listings = [r for r in lc.requests if r.entry == "listTaskGroup"]
    assert len(listings) >= 4 and len(listings) % 2 == 0  # polled, two pages a time
    assert {t.task_id: t.state for t in group._known_tasks().values()} == {
        made[0].task_id: "completed",
        made[1].task_id: "failed",
        made[2].task_id: "completed",
    }


def test_group_wait_times_out_naming_the_group_and_its_states(lc: LocalCluster) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        done, _ = new_task(cluster, "done", gid), new_task(cluster, "idle", gid)
        worker.run(done.task_id)
        with pytest.raises(tcmodel.WaitTimeout) as caught:
            cluster.task_group(gid).wait(timeout=0.2, poll=0.05)
    assert gid in str(caught.value)
    assert caught.value.state in ("1 completed, 1 pending", "1 pending, 1 completed")


def test_group_await(lc: LocalCluster) -> None:
    with lc.connect() as admin, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        task = new_task(admin, "only", gid)
        later(0.2, lambda: worker.run(task.task_id, outcome="failed"))

        async def main() -> dict[str, int]:
            async with lc.connect() as cluster:
                return await cluster.task_group(gid).await_(timeout=10, poll=0.05)

        assert asyncio.run(main()) == {"failed": 1}


# -- progress ------------------------------------------------------------------------------


def test_waits_show_a_progress_bar(lc: LocalCluster, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        gid = tcmodel.slug_id()
        tasks = [new_task(cluster, f"t{i}", gid) for i in range(3)]
        for task in tasks:
            worker.run(task.task_id)
        assert tasks[0].wait(progress=True) == "completed"
        assert "1/1" in capsys.readouterr().err
        seen: list[tuple[int, int | None]] = []
        cluster.task_group(gid).wait(progress=lambda done, total: seen.append((done, total)))
        assert seen == [(3, 3)]
        cluster.task_group(gid).wait(progress=True)
        assert "3/3" in capsys.readouterr().err


def test_download_shows_a_byte_progress_bar(
    lc: LocalCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    data = bytes(range(256)) * 1024  # 256 KiB
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        task = new_task(cluster)
        worker.run(task.task_id, artifacts={"public/data.bin": data})
        art = task.latest_artifact("public/data.bin")
        path = art.download(tmp_path, progress=True)
        assert path.read_bytes() == data
        err = capsys.readouterr().err
        assert "public/data.bin" in err and "256k/256k" in err.lower()
        seen: list[tuple[int, int | None]] = []
        art.download(tmp_path / "again.bin", progress=lambda d, t: seen.append((d, t)))
        assert seen[-1] == (len(data), len(data))  # a callable works as before

        async def main() -> Path:
            async with lc.connect() as c:
                target = tmp_path / "async.bin"
                return (
                    await c.task(task.task_id)
                    .latest_artifact("public/data.bin")
                    .adownload(target, progress=True)
                )

        assert asyncio.run(main()).read_bytes() == data
        assert "256k/256k" in capsys.readouterr().err.lower()


def test_listing_shows_a_progress_bar(lc: LocalCluster, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    with lc.connect() as cluster:
        gid = tcmodel.slug_id()
        for i in range(5):
            new_task(cluster, f"t{i}", gid)  # three pages of two
        group = cluster.task_group(gid)
        seen: list[tuple[int, int | None]] = []
        listing = group.tasks(progress=lambda done, total: seen.append((done, total)))
        assert len(list(listing)) == 5
        assert seen == [(2, None), (4, None), (5, None)]
        assert len(list(listing)) == 5  # a second walk counts from zero
        assert seen[3:] == [(2, None), (4, None), (5, None)]
        assert len(list(group.tasks(progress=True))) == 5
        assert "5it" in capsys.readouterr().err


def test_progress_without_tqdm_names_the_extra(
    lc: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lc.connect() as cluster, Worker(lc, QUEUE) as worker:
        task = new_task(cluster)
        worker.run(task.task_id, artifacts={"public/x.bin": b"x"})
        monkeypatch.setitem(sys.modules, "tqdm", None)
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
        with pytest.raises(MissingExtra, match=r"tqdm.*tcmodel\[notebook\]"):
            task.wait(progress=True)
        with pytest.raises(MissingExtra, match="notebook"):
            task.latest_artifact("public/x.bin").download(tmp_path, progress=True)
        assert list(tmp_path.iterdir()) == []  # nothing was left behind
        with pytest.raises(MissingExtra, match="notebook"):
            task.task_group.failures(progress=True)
        # without progress nothing needs tqdm
        assert task.wait() == "completed"


def test_progress_must_be_a_bool_or_a_callable(lc: LocalCluster) -> None:
    with lc.connect() as cluster, pytest.raises(TypeError, match="progress"):
        new_task(cluster).wait(timeout=0, progress="yes")  # type: ignore[arg-type]
