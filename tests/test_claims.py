"""Claims: claim_work / task.claim, the claim's credentials, reclaim, the
keep-alive (thread and asyncio task), resolution and the context manager,
and the artifact methods — against the local cluster over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tcmodel
from tcmodel.resources.claim import BACKING_LOG, LIVE_LOG, Claim
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name

TQ = "proj/claims"
WG, WID = "wg-1", "w-1"


@pytest.fixture
def worker(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    """A client with exactly a worker's scopes (no root)."""
    creds = lc.add_client("worker/claims", [f"queue:claim-work:{TQ}", f"queue:worker-id:{WG}/*"])
    with lc.connect(creds) as c:
        yield c


def _task(admin: tcmodel.Cluster, name: str = "t", **kw: object) -> tcmodel.resources.Task:
    return admin.create_task(task_queue_id=TQ, payload={}, name=name, **kw)  # type: ignore[arg-type]


def _claim(worker: tcmodel.Cluster) -> Claim:
    [claim] = worker.task_queue(TQ).claim_work(WG, WID)
    return claim


def _wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


# -- claiming -------------------------------------------------------------------------------


def test_claim_work_brings_the_task_and_run(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    ids = {_task(admin, f"t{i}", scopes=["secrets:get:x"]).task_id for i in range(3)}
    lc.reset_requests()
    claims = worker.task_queue(TQ).claim_work(WG, WID, tasks=5)
    assert {c.task_id for c in claims} == ids
    first = claims[0]
    assert (first.run_id, first.worker_group, first.worker_id) == (0, WG, WID)
    assert first.task.name.startswith("t") and first.task.state == "running"
    assert list(first.task.definition.scopes) == ["secrets:get:x"]
    assert first.run.state == "running" and first.run.info.worker_group == WG
    assert first.taken_until.timestamp() == pytest.approx(
        lc.clock.now() + lc.settings.claim_timeout, abs=2
    )
    [request] = lc.requests  # the claims carried everything read above
    assert request.entry == "claimWork" and request.client_id == "worker/claims"


def test_claim_work_when_nothing_is_pending(lc: LocalCluster, worker: tcmodel.Cluster) -> None:
    lc.reset_requests()
    assert worker.task_queue(TQ).claim_work(WG, WID, tasks=32) == []
    assert [r.entry for r in lc.requests] == ["claimWork"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((WG, WID, 0), ValueError),
        ((WG, WID, 33), ValueError),
        ((WG, WID, True), TypeError),
        ((WG, "a/b", 1), ValueError),
        (("", WID, 1), ValueError),
    ],
)
def test_claim_work_checks_its_arguments_before_sending(
    lc: LocalCluster, worker: tcmodel.Cluster, args: tuple[str, str, int], error: type
) -> None:
    lc.reset_requests()
    with pytest.raises(error):
        worker.task_queue(TQ).claim_work(*args)
    assert lc.requests == []


def test_claim_work_is_never_resent_after_a_5xx(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    _task(admin)
    lc.inject("status", status=500, entry="claimWork")
    lc.reset_requests()
    with pytest.raises(tcmodel.errors.ServerError):
        worker.task_queue(TQ).claim_work(WG, WID)
    assert [r.entry for r in lc.requests] == ["claimWork"]
    lc.inject("status", status=429, entry="claimWork")  # cannot have claimed: resent
    assert len(worker.task_queue(TQ).claim_work(WG, WID)) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"tasks": [{}]}',
        '{"tasks": "none"}',
        '{"tasks": [{"status": {}, "runId": 0, "credentials": {}}]}',
    ],
)
def test_a_malformed_claim_answer_is_a_typed_error(
    lc: LocalCluster, worker: tcmodel.Cluster, body: str
) -> None:
    lc.inject("status", status=200, entry="claimWork", body=body, content_type="application/json")
    with pytest.raises(tcmodel.models.ModelDataError, match=r"queue\.claimWork"):
        worker.task_queue(TQ).claim_work(WG, WID)


def test_task_claim(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    task = _task(admin)
    claim = task.claim(0, WG, WID)
    assert claim.task == task and claim.run_id == 0 and claim.task.state == "running"
    again = task.claim(0, WG, WID)  # the same worker again: the same claim
    assert again.taken_until == claim.taken_until
    with pytest.raises(tcmodel.RequestConflict, match="claimed already, by another worker"):
        task.claim(0, WG, "w-2")
    with pytest.raises(tcmodel.NotFound, match="Run 1 not found"):
        task.claim(1, WG, WID)
    with pytest.raises(ValueError):
        task.claim(-1, WG, WID)


# -- the claim's credentials ---------------------------------------------------------------------


def test_everything_is_signed_with_the_claims_credentials(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # no reads without scopes
    admin.secret("project/x").set({"token": "s"})
    task = _task(admin, scopes=["secrets:get:project/x"])
    claim = _claim(worker)
    creds = claim.cluster.credentials
    assert creds is not None and creds.is_temporary
    assert creds.client_id.startswith(f"task-client/{task.task_id}/0/on/{WG}/{WID}/until/")
    for shown in (repr(claim), repr(claim.cluster), repr(claim.task), repr(creds), str(creds)):
        assert creds.access_token not in shown and "certificate" not in shown
    # the claim is a Cluster-like context: the task's scopes work through it
    assert claim.cluster.secret("project/x").value == {"token": "s"}
    with pytest.raises(tcmodel.InsufficientScopes):
        claim.cluster.secret("project/other").value
    lc.reset_requests()
    claim.upload("public/a.txt", "a", storage_type="s3")
    claim.completed()
    api = [r for r in lc.requests if r.origin == "api"]
    assert [r.entry for r in api] == ["createArtifact", "reportCompleted"]
    assert {r.client_id for r in api} == {creds.client_id}
    assert all(not r.authorization for r in lc.requests if r.origin == "blob")


def test_the_claims_cluster_keeps_the_parents_settings(
    lc: LocalCluster, admin: tcmodel.Cluster
) -> None:
    _task(admin)
    with lc.connect(deadline=7, download_deadline=70, max_answer_bytes=4096, concurrency=3) as c:
        claim = _claim(c)
        got, parent = claim.cluster.transport, c.transport
        settings = ("deadline", "download_deadline", "max_answer_bytes", "concurrency")
        assert [getattr(got, s) for s in settings] == [7.0, 70.0, 4096, 3]
        assert got.retry == parent.retry and got.now() == pytest.approx(parent.now(), abs=1)
        claim.completed()


def test_the_claim_shares_the_http_client_and_closes_only_its_own(
    admin: tcmodel.Cluster,
) -> None:
    _task(admin)
    claim = _claim(admin)
    assert claim.cluster.transport.client is admin.transport.client
    assert claim.cluster.root_url == admin.root_url and claim.cluster.public_url == admin.public_url
    with claim:
        claim.completed()
    with pytest.raises(tcmodel.ConfigurationError):
        claim.reclaim()
    assert admin.ping()["alive"] is True  # the shared client stays open


# -- reclaim and the keep-alive -------------------------------------------------------------


def test_reclaim(lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster) -> None:
    _task(admin)
    claim = _claim(worker)
    before, old = claim.taken_until, claim.cluster.credentials
    lc.advance(120)
    assert claim.reclaim() is claim
    assert claim.taken_until.timestamp() - before.timestamp() == pytest.approx(120, abs=2)
    assert claim.cluster.credentials != old and claim.task.state == "running"
    lc.reset_requests()
    claim.completed()
    [report] = lc.requests
    new = claim.cluster.credentials
    assert new is not None and report.client_id == new.client_id


def test_keep_alive_reclaims_before_taken_until_and_stops_on_resolve(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=0)
    claim = _claim(worker)
    first = claim.taken_until
    with claim.keep_alive(margin=300):
        time.sleep(1.5)
        assert claim.taken_until == first  # not due yet: nothing sent
        lc.advance(lc.settings.claim_timeout - 200)  # within the margin
        _wait_for(lambda: claim.taken_until != first)
        lc.advance(400)  # past the first takenUntil
        assert admin.task(task.task_id).refresh().state == "running"
        assert claim.completed().state == "completed"
        keeper = claim._keeper
        assert keeper is not None
        _wait_for(lambda: not keeper.is_alive())  # type: ignore[union-attr]
    reclaims = [r for r in lc.requests if r.entry == "reclaimTask"]
    assert len(reclaims) == 1 and reclaims[0].status == 200
    assert claim.lost is None


def test_keep_alive_gives_up_when_the_run_is_resolved_elsewhere(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)
    claim = _claim(worker).keep_alive()
    admin.task(task.task_id).cancel()
    lc.advance(lc.settings.claim_timeout - 60)
    _wait_for(lambda: claim.lost is not None)
    assert isinstance(claim.lost, tcmodel.RequestConflict)
    with pytest.raises(tcmodel.RequestConflict):
        claim.completed()


def test_keep_alive_as_an_asyncio_task(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=0)
    claim = _claim(worker)
    first = claim.taken_until

    async def work() -> None:
        async with await claim.akeep_alive(margin=300):
            lc.advance(lc.settings.claim_timeout - 200)
            for _ in range(200):
                if claim.taken_until != first:
                    break
                await asyncio.sleep(0.05)
            lc.advance(400)
            await claim.acompleted()  # (a sync request here would block the loop)

    asyncio.run(work())
    assert claim.taken_until != first
    status = admin.task(task.task_id).refresh().status
    assert [(r.state, r.reason_resolved) for r in status.runs] == [("completed", "completed")]


def test_without_keep_alive_the_claim_expires(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=1)
    claim = _claim(worker)
    lc.advance(lc.settings.claim_timeout + 1)
    runs = admin.task(task.task_id).refresh().runs
    assert [(r.state, r.reason_resolved, r.reason_created) for r in runs] == [
        ("exception", "claim-expired", "scheduled"),
        ("pending", None, "retry"),
    ]
    with pytest.raises(tcmodel.RequestConflict):
        claim.completed()


# -- resolution ---------------------------------------------------------------------------------


def test_resolution_is_idempotent_where_the_queue_is(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    _task(admin)
    claim = _claim(worker)
    lc.reset_requests()
    assert claim.completed().state == "completed"
    assert claim.completed().state == "completed"
    assert [(r.entry, r.status) for r in lc.requests] == [("reportCompleted", 200)] * 2
    with pytest.raises(tcmodel.RequestConflict, match="cannot be reported failed"):
        claim.failed()
    with pytest.raises(tcmodel.RequestConflict, match="no longer running"):
        claim.exception("internal-error")


def test_a_report_after_a_5xx_is_sent_again(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    _task(admin)
    claim = _claim(worker)
    lc.inject("status", status=503, entry="reportFailed")
    lc.reset_requests()
    assert claim.failed().state == "failed"
    assert [(r.entry, r.status) for r in lc.requests] == [
        ("reportFailed", 503),
        ("reportFailed", 200),
    ]


def test_exception_reasons(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, retries=1)
    claim = _claim(worker)
    lc.reset_requests()
    with pytest.raises(ValueError, match="reason"):
        claim.exception("tired")
    assert lc.requests == []
    runs = claim.exception("intermittent-task").runs
    assert [(r.state, r.reason_created) for r in runs] == [
        ("exception", "scheduled"),
        ("pending", "task-retry"),
    ]
    again = task.claim(1, WG, WID)
    assert again.exception("malformed-payload").state == "exception"


def test_leaving_with_an_exception_reports_worker_shutdown(
    admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)
    claim = _claim(worker)
    with pytest.raises(ValueError, match="the job broke"), claim:
        raise ValueError("the job broke")
    runs = admin.task(task.task_id).refresh().runs
    assert [(r.state, r.reason_resolved) for r in runs] == [
        ("exception", "worker-shutdown"),
        ("pending", None),
    ]


def test_leaving_normally_leaves_the_run_alone(
    admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)
    with _claim(worker):
        pass
    assert admin.task(task.task_id).refresh().state == "running"


def test_a_failed_exit_report_never_hides_the_exception(
    lc: LocalCluster,
    admin: tcmodel.Cluster,
    worker: tcmodel.Cluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    task = _task(admin)
    claim = _claim(worker)
    admin.task(task.task_id).cancel()
    with pytest.raises(ValueError, match="the job broke"), claim:
        raise ValueError("the job broke")
    assert "could not report worker-shutdown" in caplog.text
    assert admin.task(task.task_id).refresh().runs[-1].reason_resolved == "canceled"


def test_leaving_async_with_an_exception(admin: tcmodel.Cluster, worker: tcmodel.Cluster) -> None:
    task = _task(admin)
    claim = _claim(worker)

    async def work() -> None:
        async with claim:
            raise ValueError("async job broke")

    with pytest.raises(ValueError, match="async job broke"):
        asyncio.run(work())
    assert admin.task(task.task_id).refresh().runs[0].reason_resolved == "worker-shutdown"


# -- artifacts -------------------------------------------------------------------------------


def test_artifacts_of_every_kind(
    lc: LocalCluster, admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin)
    claim = _claim(worker)
    data = bytes(range(256)) * 400
    art = claim.upload("public/build/app.bin", data)
    assert art.name == "public/build/app.bin" and art.run_id == 0
    claim.upload("public/notes.md", "# notes\n", storage_type="s3", gzip=True)
    claim.upload("public/stream.bin", io.BytesIO(b"from a file object"), expires="2 days")
    ref = claim.create_reference("public/docs.html", "https://example.com/docs.html")
    claim.create_link("public/build/latest.bin", art)
    claim.create_error("public/shot.png", "file-missing-on-worker", "no display")
    claim.log("line 1\nline 2\n")
    claim.completed()
    obj = lc.state.objects.get_object(object_name(task.task_id, 0, "public/build/app.bin"))
    assert obj is not None and obj["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    with lc.connect(None) as reader:  # anonymous: public artifacts
        run = reader.task(task.task_id).run(0)
        assert run.artifact("public/build/app.bin").read_bytes() == data
        assert run.artifact("public/build/latest.bin").read_bytes() == data
        assert run.artifact("public/notes.md").read_text() == "# notes\n"
        assert run.artifact("public/stream.bin").read_bytes() == b"from a file object"
        assert run.artifact(ref.name).info.storage_type == "reference"
        with pytest.raises(tcmodel.ArtifactError, match="no display"):
            run.artifact("public/shot.png").read_bytes()
        assert run.artifact(LIVE_LOG).read_text() == "line 1\nline 2\n"
        backing = run.artifact(BACKING_LOG)
        assert (backing.storage_type, backing.content_type) == (
            "object",
            "text/plain; charset=utf-8",
        )
        assert reader.task(task.task_id).log() == "line 1\nline 2\n"


def test_upload_dir_and_a_log_file(
    admin: tcmodel.Cluster, worker: tcmodel.Cluster, tmp_path: Path
) -> None:
    task = _task(admin)
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>")
    (site / "css" / "main.css").write_text("h1 {}")
    (site / "data.json").write_text("{}")
    log_file = tmp_path / "task.log"
    log_file.write_text("from a file\n")
    claim = _claim(worker)
    made = claim.upload_dir(site, prefix="public/site/")
    claim.log(log_file)
    claim.completed()
    assert [a.name for a in made] == [
        "public/site/css/main.css",
        "public/site/data.json",
        "public/site/index.html",
    ]
    run = admin.task(task.task_id).run(0)
    assert [run.artifact(a.name).content_type for a in made] == [
        "text/css; charset=utf-8",
        "application/json",
        "text/html; charset=utf-8",
    ]
    assert run.artifact("public/site/index.html").read_text() == "<h1>hi</h1>"
    assert admin.task(task.task_id).log() == "from a file\n"
    with pytest.raises(ValueError, match="not a folder"):
        claim.upload_dir(log_file)


def test_artifact_expiry_defaults_to_the_tasks(
    admin: tcmodel.Cluster, worker: tcmodel.Cluster
) -> None:
    task = _task(admin, expires="30 days")
    claim = _claim(worker)
    claim.upload("public/a", b"a")
    claim.upload("public/b", b"b", expires="1 day")
    run = admin.task(task.task_id).run(0)
    assert run.artifact("public/a").expires == task.definition.expires
    assert run.artifact("public/b").expires < task.definition.expires
    claim.completed()
