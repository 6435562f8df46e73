"""The test worker: claiming, every kind of artifact, resolution — over HTTP."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcmodel
from tcmodel.resources.artifact import Artifact
from tcmodel.testing import LocalCluster
from tcmodel.testing.queue_core import object_name, s3_key
from tcmodel.testing.worker import BACKING_LOG, LIVE_LOG, Worker
from tcmodel.utils import parse_date


@pytest.fixture
def admin(tc_cluster: LocalCluster) -> Iterator[tcmodel.Cluster]:
    with tcmodel.Cluster.from_url(tc_cluster.root_url, tc_cluster.root_credentials) as c:
        yield c


@pytest.fixture
def worker(tc_cluster: LocalCluster) -> Iterator[Worker]:
    with Worker(tc_cluster) as w:
        yield w


def _task(admin: tcmodel.Cluster, name: str = "t", queue: str = "proj/ci", **kw: object) -> str:
    return admin.create_task(task_queue_id=queue, payload={}, name=name, **kw).task_id  # type: ignore[arg-type]


def _info(admin: tcmodel.Cluster, task_id: str, name: str) -> Artifact:
    return Artifact(admin, task_id, 0, name)


# -- claiming ---------------------------------------------------------------------------


def test_claim_nothing_pending(worker: Worker) -> None:
    assert worker.claim() == []
    assert worker.claim(5) == []


def test_claim_hands_out_runs_with_their_task(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker
) -> None:
    ids = {_task(admin, f"t{i}") for i in range(3)}
    tc_cluster.reset_requests()
    runs = worker.claim(5)
    assert {r.task_id for r in runs} == ids
    assert all(r.run_id == 0 and r.status["state"] == "running" for r in runs)
    assert {r.task["metadata"]["name"] for r in runs} == {"t0", "t1", "t2"}
    [claim] = tc_cluster.requests
    assert claim.entry == "claimWork" and claim.client_id == "worker/proj/ci/local/worker-1"
    assert "accessToken" not in repr(runs[0].credentials)
    assert repr(runs[0]) == f"<ClaimedRun taskId={runs[0].task_id!r} runId=0>"


def test_claim_task_claims_that_task_and_keeps_the_others(
    admin: tcmodel.Cluster, worker: Worker
) -> None:
    first = _task(admin, "first", priority="highest")
    wanted = _task(admin, "wanted")
    run = worker.claim_task(wanted)
    assert run.task_id == wanted
    assert [r.task_id for r in worker.held] == [first]
    assert [r.task_id for r in worker.claim(3)] == [first]
    assert worker.held == []


def test_claim_task_refuses_tasks_that_are_not_pending(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker
) -> None:
    task_id = _task(admin)
    worker.claim_task(task_id).complete()
    with pytest.raises(ValueError, match="not pending"):
        worker.claim_task(task_id)
    other = _task(admin, queue="proj/other")
    with pytest.raises(ValueError, match="proj/other"):
        worker.claim_task(other)
    assert admin.task(other).refresh().state == "pending"


def test_worker_of_another_identity(tc_cluster: LocalCluster, admin: tcmodel.Cluster) -> None:
    task_id = _task(admin, queue="team/gpu")
    with Worker(tc_cluster, "team/gpu", worker_group="rack-2", worker_id="w9") as w:
        run = w.claim_task(task_id)
        run.complete()
    assert admin.task(task_id).refresh().state == "completed"
    [report] = [r for r in tc_cluster.requests if r.entry == "reportCompleted"]
    assert report.client_id is not None
    assert report.client_id.startswith(f"task-client/{task_id}/0/on/rack-2/w9/until/")


# -- artifacts --------------------------------------------------------------------------


def test_upload_object(tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker) -> None:
    task_id = _task(admin)
    run = worker.claim_task(task_id)
    tc_cluster.reset_requests()
    data = b"\x00\x01binary" * 1000
    run.upload("public/build/app.bin", data, content_type="application/x-thing")
    entries = [r.entry or r.origin for r in tc_cluster.requests]
    assert entries == ["createArtifact", "createUpload", "blob", "finishUpload", "finishArtifact"]
    clients = [r.client_id for r in tc_cluster.requests]
    assert clients[0] is not None and clients[0].startswith(f"task-client/{task_id}/0/")
    assert clients[1] == f"artifact-upload/{task_id}/0/on/local/worker-1"
    obj = tc_cluster.state.objects.get_object(object_name(task_id, 0, "public/build/app.bin"))
    assert obj is not None and obj["hashes"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
    art = _info(admin, task_id, "public/build/app.bin")
    assert (art.storage_type, art.content_type, art.content_length) == (
        "object",
        "application/x-thing",
        len(data),
    )
    assert art.read_bytes() == data


@pytest.mark.parametrize("packed", [False, True])
def test_upload_s3(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker, packed: bool
) -> None:
    task_id = _task(admin)
    run = worker.claim_task(task_id)
    run.upload("public/notes.txt", "héllo\n" * 100, storage_type="s3", gzip=packed)
    blob = tc_cluster.state.blobs.get(s3_key(task_id, 0, "public/notes.txt"))
    assert blob is not None
    assert blob.content_type == "text/plain; charset=utf-8"
    assert blob.content_encoding == ("gzip" if packed else None)
    raw = gzip.decompress(blob.data) if packed else blob.data
    assert raw == ("héllo\n" * 100).encode()
    assert _info(admin, task_id, "public/notes.txt").read_text() == "héllo\n" * 100


@pytest.mark.parametrize("storage_type", ["object", "s3"])
def test_upload_from_a_file(
    admin: tcmodel.Cluster, worker: Worker, tmp_path: Path, storage_type: str
) -> None:
    data = bytes(range(256)) * 5000  # more than one read of the file
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    run = worker.claim_task(_task(admin))
    run.upload("public/big.bin", src, storage_type=storage_type)
    assert _info(admin, run.task_id, "public/big.bin").read_bytes() == data


def test_gzipped_object_upload(admin: tcmodel.Cluster, worker: Worker) -> None:
    run = worker.claim_task(_task(admin))
    run.upload("public/packed.txt", "abc" * 1000, gzip=True)
    assert _info(admin, run.task_id, "public/packed.txt").read_text() == "abc" * 1000


def test_upload_checks_its_storage_type(admin: tcmodel.Cluster, worker: Worker) -> None:
    run = worker.claim_task(_task(admin))
    with pytest.raises(ValueError, match="storage_type"):
        run.upload("public/x", b"x", storage_type="reference")


def test_upload_with_its_own_expiry(admin: tcmodel.Cluster, worker: Worker) -> None:
    run = worker.claim_task(_task(admin))
    when = tcmodel.from_now("2 days")
    run.upload("public/a", b"a", expires=when)
    text = tcmodel.from_now_json("3 days")
    run.upload("public/b", b"b", expires=text, storage_type="s3")
    art = _info(admin, run.task_id, "public/a")
    assert abs((art.expires - when).total_seconds()) < 1
    delta = _info(admin, run.task_id, "public/b").expires - parse_date(text)
    assert abs(delta.total_seconds()) < 0.001  # the queue keeps milliseconds


def test_reference_link_and_error(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker
) -> None:
    run = worker.claim_task(_task(admin))
    run.upload("public/target.txt", "target", storage_type="s3")
    run.reference("public/ref.html", "https://example.com/x.html", "text/html")
    run.link("public/link.txt", "public/target.txt")
    run.error("public/err.png", "file-missing-on-worker", "nothing there")
    ref = _info(admin, run.task_id, "public/ref.html")
    assert (ref.storage_type, ref.content_type) == ("reference", "text/html")
    assert _info(admin, run.task_id, "public/link.txt").storage_type == "link"
    assert _info(admin, run.task_id, "public/link.txt").read_text() == "target"
    assert _info(admin, run.task_id, "public/err.png").storage_type == "error"
    with pytest.raises(tcmodel.ArtifactError) as info:
        _info(admin, run.task_id, "public/err.png").read_bytes()
    assert (info.value.reason, info.value.message) == ("file-missing-on-worker", "nothing there")


@pytest.mark.parametrize("storage_type", ["s3", "object"])
def test_log(
    tc_cluster: LocalCluster, admin: tcmodel.Cluster, worker: Worker, storage_type: str
) -> None:
    run = worker.claim_task(_task(admin))
    run.log("line 1\nline 2\n", storage_type=storage_type)
    backing = _info(admin, run.task_id, BACKING_LOG)
    assert (backing.storage_type, backing.content_type) == (
        storage_type,
        "text/plain; charset=utf-8",
    )
    assert _info(admin, run.task_id, LIVE_LOG).storage_type == "link"
    assert _info(admin, run.task_id, LIVE_LOG).read_text() == "line 1\nline 2\n"
    if storage_type == "s3":
        blob = tc_cluster.state.blobs.get(s3_key(run.task_id, 0, BACKING_LOG))
        assert blob is not None and blob.content_encoding == "gzip"


# -- the claim and resolution -------------------------------------------------------------


def test_reclaim_switches_credentials(admin: tcmodel.Cluster, worker: Worker) -> None:
    run = worker.claim_task(_task(admin))
    before = run.credentials
    run.reclaim()
    assert run.credentials != before
    run.upload("public/after.txt", "still allowed", storage_type="s3")
    assert run.complete()["status"]["state"] == "completed"


@pytest.mark.parametrize(
    ("resolve", "state"),
    [("complete", "completed"), ("fail", "failed")],
)
def test_resolution(admin: tcmodel.Cluster, worker: Worker, resolve: str, state: str) -> None:
    task_id = _task(admin)
    run = worker.claim_task(task_id)
    answer = getattr(run, resolve)()
    assert answer["status"]["state"] == state == run.status["state"]
    assert admin.task(task_id).refresh().state == state


def test_exception_with_a_retrying_reason(admin: tcmodel.Cluster, worker: Worker) -> None:
    task_id = _task(admin)
    worker.claim_task(task_id).exception("worker-shutdown")
    status = admin.task(task_id).refresh().status
    assert [(r.state, r.reason_resolved) for r in status.runs] == [
        ("exception", "worker-shutdown"),
        ("pending", None),
    ]
    again = worker.claim_task(task_id)
    assert again.run_id == 1
    again.exception("malformed-payload")
    assert admin.task(task_id).refresh().state == "exception"


def test_run_in_one_call(admin: tcmodel.Cluster, worker: Worker) -> None:
    task_id = _task(admin)
    run = worker.run(task_id, log="all good\n", artifacts={"public/a.txt": "A", "public/b": b"B"})
    assert run.status["state"] == "completed"
    assert _info(admin, task_id, LIVE_LOG).read_text() == "all good\n"
    assert _info(admin, task_id, "public/a.txt").read_text() == "A"
    assert _info(admin, task_id, "public/b").read_bytes() == b"B"


@pytest.mark.parametrize(
    ("outcome", "state"),
    [("failed", "failed"), ("malformed-payload", "exception")],
)
def test_run_outcomes(admin: tcmodel.Cluster, worker: Worker, outcome: str, state: str) -> None:
    task_id = _task(admin)
    worker.run(task_id, outcome=outcome)
    assert admin.task(task_id).refresh().state == state


def test_run_refuses_unknown_outcomes(admin: tcmodel.Cluster, worker: Worker) -> None:
    task_id = _task(admin)
    with pytest.raises(ValueError, match="outcome"):
        worker.run(task_id, outcome="finished")
    assert admin.task(task_id).refresh().state == "pending"  # nothing was claimed
