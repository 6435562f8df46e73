"""The worker side through its async twins (issue 11): claiming work
(``aclaim_work``, ``task.aclaim``), reclaiming, resolving, and every kind
of artifact a claim writes — each test runs through the sync API and
through ``await claim.aname()`` (asyncio and trio, see tests/drivers.py)
against the local cluster over HTTP, asserting the same results and the
same requests, all signed with the claim's temporary credentials. Then
``async with`` a claim, the asyncio keep-alive with async resolution, and
claims worked concurrently."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from drivers import Driver, driver
from test_claims import TQ, WG, WID, worker  # a client with exactly a worker's scopes

import tcmodel
from tcmodel.resources.claim import BACKING_LOG, LIVE_LOG, Claim
from tcmodel.resources.task import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name

__all__ = ["driver", "worker"]  # the fixtures, used by name

#: What an object artifact costs (the data goes to the blob origin between).
OBJECT = ["createArtifact", "createUpload", "finishUpload", "finishArtifact"]


@pytest.fixture
def lc(tc_cluster: LocalCluster) -> LocalCluster:
    """The plugin's local cluster (root client: ``admin``)."""
    return tc_cluster


@pytest.fixture
def admin(tc_client: tcmodel.Cluster) -> tcmodel.Cluster:
    return tc_client


def _task(admin: tcmodel.Cluster, name: str = "t", retries: int = 5) -> Task:
    return admin.create_task(task_queue_id=TQ, payload={}, name=name, retries=retries)


def _claim(driver: Driver, worker: tcmodel.Cluster) -> Claim:
    [claim] = driver.call(worker.task_queue(TQ), "claim_work", WG, WID)
    return claim


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


def api_entries(lc: LocalCluster) -> list[str | None]:
    """The API entries answered since the last reset (then reset)."""
    seen = [r.entry for r in lc.requests if r.origin == "api"]
    lc.reset_requests()
    return seen


# -- claiming -------------------------------------------------------------------------------


def test_claim_work(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    ids = {_task(admin, f"t{i}").task_id for i in range(3)}
    lc.reset_requests()
    claims = driver.call(worker.task_queue(TQ), "claim_work", WG, WID, tasks=5)
    assert {c.task_id for c in claims} == ids
    first = claims[0]
    assert (first.run_id, first.worker_group, first.worker_id) == (0, WG, WID)
    assert first.task.state == "running" and first.task.name.startswith("t")  # no request
    assert first.run.info.worker_id == WID
    assert [(r.entry, r.client_id) for r in lc.requests] == [("claimWork", "worker/claims")]
    lc.reset_requests()
    assert driver.call(worker.task_queue(TQ), "claim_work", WG, WID) == []  # nothing pending
    with pytest.raises(TypeError, match="tasks must be an int"):
        driver.call(worker.task_queue(TQ), "claim_work", WG, WID, tasks=True)
    assert api_entries(lc) == ["claimWork"]


def test_task_claim(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    task = _task(admin)
    lc.reset_requests()
    claim = driver.call(admin.task(task.task_id), "claim", 0, WG, WID)
    assert claim.task == task and claim.task.state == "running"
    again = driver.call(admin.task(task.task_id), "claim", 0, WG, WID)  # the same worker
    assert again.taken_until == claim.taken_until
    with pytest.raises(tcmodel.RequestConflict, match="another worker"):
        driver.call(admin.task(task.task_id), "claim", 0, WG, "w-2")
    assert api_entries(lc) == ["claimTask"] * 3


# -- reclaim and resolution -----------------------------------------------------------------


def test_reclaim(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    _task(admin)
    claim = _claim(driver, worker)
    before, old = claim.taken_until, claim.cluster.credentials
    lc.advance(120)
    lc.reset_requests()
    assert driver.call(claim, "reclaim") is claim
    assert claim.taken_until > before
    new = claim.cluster.credentials
    assert new is not None and old is not None and new.client_id != old.client_id
    [reclaim] = lc.requests
    assert reclaim.entry == "reclaimTask" and reclaim.client_id == old.client_id
    lc.reset_requests()
    assert driver.call(claim, "completed").state == "completed"
    [(report, signer)] = [(r.entry, r.client_id) for r in lc.requests]
    assert (report, signer) == ("reportCompleted", new.client_id)  # signed anew


@pytest.mark.parametrize(
    ("how", "args", "states"),
    [
        ("completed", (), [("completed", "completed")]),
        ("failed", (), [("failed", "failed")]),
        ("exception", ("worker-shutdown",), [("exception", "worker-shutdown"), ("pending", None)]),
        ("exception", ("malformed-payload",), [("exception", "malformed-payload")]),
    ],
)
def test_resolution(
    driver: Driver,
    lc: LocalCluster,
    admin: tcmodel.Cluster,
    worker: tcmodel.Cluster,
    how: str,
    args: tuple[str, ...],
    states: list[tuple[str, str | None]],
) -> None:
    task = _task(admin)
    claim = _claim(driver, worker)
    lc.reset_requests()
    resolved = driver.call(claim, how, *args)
    assert resolved is claim.task  # its new status in place: no request to read it
    assert [(r.state, r.reason_resolved) for r in resolved.runs] == states
    entry = {"completed": "reportCompleted", "failed": "reportFailed"}.get(how, "reportException")
    assert api_entries(lc) == [entry]
    assert admin.task(task.task_id).refresh().runs[0].state == states[0][0]
    if how == "completed":
        assert driver.call(claim, "completed").state == "completed"  # again: harmless
        with pytest.raises(tcmodel.RequestConflict):
            driver.call(claim, "failed")


def test_an_unknown_exception_reason_sends_nothing(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    _task(admin)
    claim = _claim(driver, worker)
    lc.reset_requests()
    with pytest.raises(ValueError, match="reason must be one of"):
        driver.call(claim, "exception", "tired")
    assert lc.requests == []


# -- artifacts ------------------------------------------------------------------------------


def test_artifacts_of_every_kind(
    driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)
    claim = _claim(driver, worker)
    signer = claim.cluster.credentials
    data = bytes(range(256)) * 400
    lc.reset_requests()
    art = driver.call(claim, "upload", "public/build/app.bin", data)
    assert (art.name, art.run_id, art.task_id) == ("public/build/app.bin", 0, task.task_id)
    assert api_entries(lc) == OBJECT
    driver.call(claim, "upload", "public/notes.md", "# notes\n", storage_type="s3", gzip=True)
    driver.call(claim, "upload", "public/stream.bin", io.BytesIO(b"from a file"), expires="2 days")
    assert api_entries(lc) == ["createArtifact", *OBJECT]  # s3: one request, then object
    ref = driver.call(claim, "create_reference", "public/docs.html", "https://example.com/d")
    link = driver.call(claim, "create_link", "public/build/latest.bin", art)
    err = driver.call(claim, "create_error", "public/shot.png", "file-missing-on-worker", "none")
    assert [a.name for a in (ref, link, err)] == [
        "public/docs.html",
        "public/build/latest.bin",
        "public/shot.png",
    ]
    assert [r.client_id for r in lc.requests] == [signer.client_id] * 3  # type: ignore[union-attr]
    assert api_entries(lc) == ["createArtifact"] * 3
    live = driver.call(claim, "log", "line 1\nline 2\n")
    assert live.name == LIVE_LOG
    assert api_entries(lc) == [*OBJECT, "createArtifact"]  # the backing log, then a link
    driver.call(claim, "completed")
    obj = lc.state.objects.get_object(object_name(task.task_id, 0, "public/build/app.bin"))
    assert obj is not None and obj["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    run = admin.task(task.task_id).run(0)
    assert run.artifact("public/build/latest.bin").read_bytes() == data
    assert run.artifact("public/notes.md").read_text() == "# notes\n"
    assert run.artifact("public/stream.bin").read_bytes() == b"from a file"
    assert run.artifact("public/docs.html").info.storage_type == "reference"
    with pytest.raises(tcmodel.ArtifactError, match="file-missing-on-worker"):
        run.artifact("public/shot.png").read_bytes()
    backing = run.artifact(BACKING_LOG)
    assert (backing.storage_type, backing.content_type) == ("object", "text/plain; charset=utf-8")
    assert admin.task(task.task_id).log() == "line 1\nline 2\n"


def test_upload_dir(
    driver: Driver,
    lc: LocalCluster,
    admin: tcmodel.Cluster,
    worker: tcmodel.Cluster,
    tmp_path: Path,
) -> None:
    task = _task(admin)
    site = tmp_path / "site"
    deep = site / "static" / "css"  # sub-folders of sub-folders too
    deep.mkdir(parents=True)
    for path, text in [(site / "index.html", "<h1>hi</h1>"), (deep / "main.css", "h1 {}")]:
        path.write_text(text)
    claim = _claim(driver, worker)
    lc.reset_requests()
    made = driver.call(claim, "upload_dir", site, prefix="public/site/")
    assert [a.name for a in made] == ["public/site/index.html", "public/site/static/css/main.css"]
    assert api_entries(lc).count("finishArtifact") == 2
    with pytest.raises(ValueError, match="not a folder"):
        driver.call(claim, "upload_dir", site / "index.html")
    assert lc.requests == []
    driver.call(claim, "completed")
    run = admin.task(task.task_id).run(0)
    assert run.artifact("public/site/index.html").read_text() == "<h1>hi</h1>"
    assert run.artifact("public/site/static/css/main.css").content_type == "text/css; charset=utf-8"


# -- what only async code does --------------------------------------------------------------


def test_async_with_a_claim_reports_worker_shutdown_and_closes(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)

    async def main() -> Claim:
        [claim] = await worker.task_queue(TQ).aclaim_work(WG, WID)
        with pytest.raises(RuntimeError, match="broke"):  # untyped ok: the job's own error
            async with claim:
                await claim.aupload("public/partial.txt", "half")
                raise RuntimeError("the job broke")
        return claim

    claim = asyncio.run(main())
    runs = admin.task(task.task_id).refresh().runs
    assert [(r.state, r.reason_resolved) for r in runs] == [
        ("exception", "worker-shutdown"),
        ("pending", None),
    ]
    with pytest.raises(tcmodel.ConfigurationError):
        claim.reclaim()  # closed on leaving the block
    assert admin.ping()["alive"] is True  # the shared client stays open


def test_async_keep_alive_stops_on_async_resolution(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=0)

    async def main() -> list[str | None]:
        [claim] = await worker.task_queue(TQ).aclaim_work(WG, WID)
        first = claim.taken_until
        async with await claim.akeep_alive(margin=300):
            lc.advance(lc.settings.claim_timeout - 200)  # within the margin: reclaim
            await _until(lambda: claim.taken_until != first)  # in the background
            lc.reset_requests()
            await claim.acompleted()
            lc.advance(600)  # long past the claim: a keep-alive would reclaim now
            await asyncio.sleep(1.5)
        return [r.entry for r in lc.requests]

    assert asyncio.run(main()) == ["reportCompleted"]
    status = admin.task(task.task_id).refresh().status
    assert [(r.state, r.reason_resolved) for r in status.runs] == [("completed", "completed")]


def test_claims_worked_concurrently(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    ids = sorted(_task(admin, f"c{i}").task_id for i in range(8))
    lc.reset_requests()

    async def main() -> list[str]:
        async with lc.connect() as c:
            claims = await c.task_queue(TQ).aclaim_work(WG, WID, tasks=8)

            async def work(claim: Claim) -> str:
                async with claim:
                    await claim.alog(f"task {claim.task_id}\n")
                    return (await claim.acompleted()).state

            return await asyncio.gather(*(work(claim) for claim in claims))

    assert asyncio.run(main()) == ["completed"] * 8
    entries = [r.entry for r in lc.requests if r.origin == "api"]
    assert entries.count("claimWork") == 1 and entries.count("reportCompleted") == 8
    assert entries.count("createArtifact") == 16  # a backing log and a link each
    assert [admin.task(i).log() for i in ids] == [f"task {i}\n" for i in ids]
