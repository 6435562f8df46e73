"""Fixtures and helpers shared by the local-cluster queue tests.

Every call made through :class:`Checked` has its request and response body
validated against the real Taskcluster schemas (``tests/schemas.py``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import mohawk.base
import pytest
import taskcluster
from schemas import Checked
from taskcluster.exceptions import TaskclusterRestFailure

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster, Settings
from tcmodel.utils import slug_id, to_json_date

PROV, WTYPE = "prov", "wt"
TQ = f"{PROV}/{WTYPE}"
WORKER = {"workerGroup": "wg", "workerId": "w1"}


def client_options(lc: LocalCluster, creds: Credentials | dict[str, Any] | None) -> dict[str, Any]:
    """Options of an official client talking to ``lc`` with ``creds``."""
    opts: dict[str, Any] = {"rootUrl": lc.root_url, "maxRetries": 0}
    if isinstance(creds, Credentials):
        as_dict = {"clientId": creds.client_id, "accessToken": creds.access_token}
        if creds.certificate:
            as_dict["certificate"] = creds.certificate
        creds = as_dict
    if creds is not None:
        opts["credentials"] = creds
    return opts


def queue(lc: LocalCluster, creds: Credentials | dict[str, Any] | None = None) -> Checked:
    """A checked Queue client (root credentials unless others are given)."""
    creds = lc.root_credentials if creds is None else creds
    return Checked(taskcluster.Queue(client_options(lc, creds)), "queue")


def anonymous_queue(lc: LocalCluster) -> Checked:
    """A checked Queue client without credentials."""
    return Checked(taskcluster.Queue({"rootUrl": lc.root_url, "maxRetries": 0}), "queue")


def object_client(lc: LocalCluster, creds: dict[str, Any]) -> Checked:
    """A checked Object client with ``creds``."""
    return Checked(taskcluster.Object(client_options(lc, creds)), "object")


def _running(settings: Settings | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    with LocalCluster(settings=settings) as cluster:
        # Hawk timestamps follow the cluster clock, so signed requests stay
        # fresh after lc.advance() (the official client reads time.time()).
        def cluster_now(offset_in_seconds: float = 0.0) -> int:
            return int(cluster.clock.now() + offset_in_seconds)

        monkeypatch.setattr(mohawk.base, "utc_now", cluster_now)
        yield cluster
        assert not cluster.errors, f"handlers raised: {cluster.errors!r}"


@pytest.fixture
def lc(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    yield from _running(None, monkeypatch)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    yield from _running(Settings(max_page_size=2), monkeypatch)


def at(lc: LocalCluster, **delta: float) -> str:
    """An ISO date ``delta`` from the cluster clock's now."""
    return to_json_date(lc.clock.now_dt() + timedelta(**delta))


def task_def(lc: LocalCluster, **fields: Any) -> dict[str, Any]:
    """A minimal valid task definition for queue ``prov/wt``, with ``fields``."""
    body: dict[str, Any] = {
        "provisionerId": PROV,
        "workerType": WTYPE,
        "created": at(lc),
        "deadline": at(lc, hours=1),
        "payload": {},
        "metadata": {
            "name": "test task",
            "description": "a task of the queue tests",
            "owner": "tests@example.com",
            "source": "https://example.com/tests",
        },
    }
    body.update(fields)
    return body


def create(q: Checked, lc: LocalCluster, task_id: str | None = None, **fields: Any) -> str:
    """Create a task; returns its taskId."""
    task_id = task_id or slug_id()
    q.createTask(task_id, task_def(lc, **fields))
    return task_id


def claim(q: Checked, count: int = 1, tq: str = TQ) -> list[dict[str, Any]]:
    """claimWork as worker ``wg/w1``."""
    claimed: list[dict[str, Any]] = q.claimWork(tq, {**WORKER, "tasks": count})["tasks"]
    return claimed


def task_queue(lc: LocalCluster, claimed: dict[str, Any]) -> Checked:
    """A Queue client with the temporary credentials of a claim."""
    return queue(lc, claimed["credentials"])


def rest_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskclusterRestFailure:
    """Call ``fn`` expecting an error answer; returns the error."""
    with pytest.raises(TaskclusterRestFailure) as info:
        fn(*args, **kwargs)
    return info.value


def expect_error(
    status: int, code: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Assert ``fn(*args, **kwargs)`` answers ``status`` (and error ``code``);
    returns the error body."""
    err = rest_error(fn, *args, **kwargs)
    assert err.status_code == status, (err.status_code, err.body)
    if code is not None:
        assert err.body["code"] == code, err.body
        assert (
            err.body["message"]
            .rstrip()
            .endswith(f"* time:       {err.body['requestInfo']['time']}")
        )
    return err.body


def inline_upload(lc: LocalCluster, created: dict[str, Any], data: bytes, ctype: str) -> None:
    """Upload an object artifact's bytes through the object service with
    the credentials createArtifact returned."""
    import hashlib

    obj = object_client(lc, created["credentials"])
    name = created["name"]
    obj.createUpload(
        name,
        {
            "projectId": created["projectId"],
            "uploadId": created["uploadId"],
            "expires": created["expires"],
            "proposedUploadMethods": {
                "dataInline": {"contentType": ctype, "objectData": base64.b64encode(data).decode()}
            },
        },
    )
    obj.finishUpload(
        name,
        {
            "projectId": created["projectId"],
            "uploadId": created["uploadId"],
            "hashes": {
                "sha256": hashlib.sha256(data).hexdigest(),
                "sha512": hashlib.sha512(data).hexdigest(),
            },
        },
    )


def fetch(url: str) -> httpx.Response:
    """GET ``url`` following redirects."""
    return httpx.get(url, follow_redirects=True, timeout=10)
