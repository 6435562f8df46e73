"""Acceptance: a worker loop written only with the public API runs against
the local cluster — claims, uploads a 20 MiB file as an object artifact and
the log, stays claimed across a claim expiry made with the cluster clock
(the keep-alive reclaims; a run nobody reclaims ends claim-expired), and
resolves; another client reads everything back verified. The claim's
credentials never reach another origin and are never logged."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tcmodel
from tcmodel.resources import Claim
from tcmodel.testing import LocalCluster

QUEUE = "proj/loop"
SIZE = 20 * 1024 * 1024
OUTPUT = "public/build/output.bin"


# -- the worker: public API only -----------------------------------------------------------------


def worker_loop(cluster: tcmodel.Cluster, job: Callable[[Claim], tuple[Path, Path]]) -> list[str]:
    """Claim work until the queue has none, run ``job`` under a keep-alive,
    upload its output and log, resolve. Returns the task ids done."""
    done: list[str] = []
    queue = cluster.task_queue(QUEUE)
    while claims := queue.claim_work("loop-wg", "loop-w1", tasks=1):
        for claim in claims:
            with claim.keep_alive():
                output, log_file = job(claim)
                claim.upload(OUTPUT, output, progress=_progress)
                claim.log(log_file)
                claim.completed()
            done.append(claim.task_id)
    return done


PROGRESS: list[tuple[int, int | None]] = []


def _progress(sent: int, total: int | None) -> None:
    PROGRESS.append((sent, total))


# -- the test ------------------------------------------------------------------------------------


def _wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_worker_loop_on_the_public_api(
    lc: LocalCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: tcmodel, httpx, httpcore, the cluster
    data = hashlib.shake_256(b"tcmodel").digest(SIZE)  # 20 MiB, deterministic
    seen_tokens: set[str] = set()
    seen_certificates: set[str] = set()

    with lc.connect() as admin:
        task = admin.create_task(task_queue_id=QUEUE, payload={}, name="build", retries=0)
        # a run nobody reclaims, on another queue, to show what would happen
        unattended = admin.create_task(
            task_queue_id="proj/unattended", payload={}, name="idle", retries=0
        )
        unattended.claim(0, "loop-wg", "nobody")

    def job(claim: Claim) -> tuple[Path, Path]:
        def remember() -> None:
            creds = claim.cluster.credentials
            assert creds is not None and creds.certificate is not None
            seen_tokens.add(creds.access_token)
            seen_certificates.add(creds.certificate)

        remember()
        first = claim.taken_until
        # the job runs "long": the cluster clock passes the first takenUntil
        lc.advance(lc.settings.claim_timeout - 120)  # inside the keep-alive's margin
        _wait_for(lambda: claim.taken_until != first)
        remember()
        lc.advance(240)  # now past the first takenUntil
        assert claim.task.refresh().state == "running"
        output = tmp_path / "output.bin"
        output.write_bytes(data)
        log_file = tmp_path / "task.log"
        log_file.write_text("building\n[taskcluster] exit code 0\n")
        return output, log_file

    worker_creds = lc.add_client(
        "worker/loop", [f"queue:claim-work:{QUEUE}", "queue:worker-id:loop-wg/loop-w1"]
    )
    lc.reset_requests()
    PROGRESS.clear()
    with lc.connect(worker_creds) as worker:
        assert worker_loop(worker, job) == [task.task_id]

    # the run was reclaimed and completed; the unattended one expired
    with lc.connect(None) as reader:  # anonymous: a second client reads it all back
        done = reader.task(task.task_id)
        assert [(r.state, r.reason_resolved) for r in done.runs] == [("completed", "completed")]
        idle = reader.task(unattended.task_id)
        assert [(r.state, r.reason_resolved) for r in idle.runs] == [("exception", "claim-expired")]
        art = done.latest_artifact(OUTPUT)
        assert (art.storage_type, art.content_length) == ("object", SIZE)
        got = hashlib.sha256()
        for chunk in art.iter_bytes():  # verified against the object's hashes as it reads
            got.update(chunk)
        assert got.hexdigest() == hashlib.sha256(data).hexdigest()
        assert done.log() == "building\n[taskcluster] exit code 0\n"
    assert PROGRESS[-1] == (SIZE, SIZE) and len(PROGRESS) >= SIZE // (1024 * 1024)

    requests = lc.requests
    reclaims = [r for r in requests if r.entry == "reclaimTask"]
    assert len(reclaims) == 1 and reclaims[0].status == 200
    # the claim's credentials signed the run's calls, and only toward the API
    claim_clients = {r.client_id for r in requests if (r.client_id or "").startswith("task-")}
    assert len(claim_clients) == 2  # the claim's, then the reclaim's
    blob = [r for r in requests if r.origin == "blob"]
    assert blob and not any(r.authorization for r in blob)
    assert all(r.origin == "api" for r in requests if r.client_id in claim_clients)
    # ... and never logged
    assert len(seen_tokens) == 2 and len(seen_certificates) == 2
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "reclaimTask" in logged  # the log did record the traffic
    for secret in seen_tokens | seen_certificates:
        assert secret not in logged
    assert "Signature=<redacted>" in logged  # presigned URLs are logged without it
    assert not re.search(r"Signature=(?!<redacted>)|bewit=(?!<redacted>)", logged)
