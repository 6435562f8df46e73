"""Faults during uploads: each ends with a correct artifact or a typed error,
never with an artifact that reads as complete but is not.

Faults are injected into the local cluster (its API origin and its blob
origin, where the data goes); what was stored is read back through tcmodel.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from test_upload import DATA, Claimed, admin, as_source, claimed, hashes, sent_bytes

import tcmodel
from tcmodel.testing import LocalCluster
from tcmodel.testing.faults import Fault
from tcmodel.upload import UploadError, upload_op

__all__ = ["admin", "claimed"]  # the fixtures, imported

_S3_DENIED = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    "<Message>Request has expired</Message></Error>"
)


def put_fault(lc: LocalCluster, kind: str, times: int = 1, **kw: Any) -> Fault:
    """A fault on the PUTs of data to the blob origin."""
    return lc.inject(kind, origin="blob", method="PUT", times=times, **kw)


def assert_not_complete(claimed: Claimed, name: str) -> None:
    """The artifact does not read as complete: no info, no data."""
    art = claimed.artifact(name)
    with pytest.raises(tcmodel.NotFound):
        art.read_bytes()
    with pytest.raises(tcmodel.NotFound):
        art.info  # artifactInfo


# -- a PUT that fails is sent again from its start ----------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "path", "file", "unseekable"])
@pytest.mark.parametrize("fault", ["status", "drop"])
def test_a_failed_put_is_resent_from_its_start(
    claimed: Claimed, tmp_path: Path, kind: str, fault: str
) -> None:
    injected = put_fault(claimed.lc, fault, times=2, status=503)
    claimed.upload("public/data.bin", as_source(kind, DATA, tmp_path))
    assert injected.hits == 2
    assert claimed.entries() == [
        "createArtifact",
        "createUpload",
        "blob",
        "blob",
        "blob",
        "finishUpload",
        "finishArtifact",
    ]
    expected = sent_bytes(kind, DATA)
    assert claimed.object_hashes("public/data.bin") == hashes(expected)
    assert claimed.artifact("public/data.bin").read_bytes() == expected


@pytest.mark.parametrize("storage_type", ["object", "s3"])
def test_a_failed_gzip_put_is_resent(claimed: Claimed, storage_type: str) -> None:
    put_fault(claimed.lc, "status", status=500)
    text = b"log line\n" * 100_000
    claimed.upload("public/logs/x.log", text, gzip=True, storage_type=storage_type)
    assert claimed.entries().count("blob") == 2
    assert claimed.artifact("public/logs/x.log").read_bytes() == text


def test_the_async_driver_resends_a_failed_put(claimed: Claimed, tmp_path: Path) -> None:
    put_fault(claimed.lc, "drop")
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    t = claimed.transport
    op = upload_op(t, claimed.task_id, 0, "public/data.bin", path, expires="1 day")
    asyncio.run(t.arun(op))
    assert claimed.entries().count("blob") == 2
    assert claimed.artifact("public/data.bin").read_bytes() == DATA


# -- a PUT that keeps failing: a typed error, nothing complete ----------------------------


@pytest.mark.parametrize(
    ("fault", "error"), [("status", tcmodel.ServerError), ("drop", tcmodel.ConnectionFailed)]
)
def test_a_put_that_keeps_failing_leaves_no_complete_artifact(
    claimed: Claimed, fault: str, error: type[Exception]
) -> None:
    put_fault(claimed.lc, fault, times=10, status=502)
    with pytest.raises(error) as info:
        claimed.upload("public/data.bin", DATA)
    # the retries were spent (FAST_RETRIES: 2), and the upload went no further
    assert claimed.entries() == ["createArtifact", "createUpload", "blob", "blob", "blob"]
    assert "upload of public/data.bin" in str(info.value)
    assert_not_complete(claimed, "public/data.bin")


def test_an_s3_put_that_keeps_failing_leaves_no_data_to_read(claimed: Claimed) -> None:
    put_fault(claimed.lc, "status", times=10, status=500)
    with pytest.raises(tcmodel.ServerError):
        claimed.upload("public/data.bin", DATA, storage_type="s3")
    assert claimed.entries() == ["createArtifact", "blob", "blob", "blob"]
    art = claimed.artifact("public/data.bin")
    assert art.storage_type == "s3"  # the queue made it at createArtifact
    with pytest.raises(tcmodel.NotFound):
        art.read_bytes()


def test_a_storage_that_refuses_the_put_raises_upload_error(claimed: Claimed) -> None:
    put_fault(claimed.lc, "status", status=403, body=_S3_DENIED, content_type="application/xml")
    with pytest.raises(UploadError) as info:
        claimed.upload("public/data.bin", DATA)
    message = str(info.value)
    assert "(403 AccessDenied: Request has expired)" in message
    assert "X-Signature" not in message  # the URL is shown without its query
    assert claimed.entries() == ["createArtifact", "createUpload", "blob"]  # not retried
    assert_not_complete(claimed, "public/data.bin")


def test_a_source_that_changes_while_sent_raises_upload_error(claimed: Claimed) -> None:
    class Shrinking(io.BytesIO):
        """Says it is longer than the data it gives."""

        def seek(self, offset: int, whence: int = 0) -> int:
            where = super().seek(offset, whence)
            return where + 1000 if whence == io.SEEK_END else where

    with pytest.raises(UploadError, match="ended after"):
        claimed.upload("public/data.bin", Shrinking(DATA))
    assert "finishUpload" not in claimed.entries()
    assert_not_complete(claimed, "public/data.bin")


# -- the object service and the queue ------------------------------------------------------


def test_finish_upload_that_keeps_failing_leaves_no_complete_artifact(claimed: Claimed) -> None:
    claimed.lc.inject("status", status=500, service="object", entry="finishUpload", times=10)
    with pytest.raises(tcmodel.ServerError, match="finishUpload"):
        claimed.upload("public/data.bin", DATA)
    assert claimed.entries() == [
        "createArtifact",
        "createUpload",
        "blob",
        "finishUpload",
        "finishUpload",
        "finishUpload",
    ]
    assert_not_complete(claimed, "public/data.bin")


def test_finish_upload_refused_is_not_retried(claimed: Claimed) -> None:
    claimed.lc.inject("status", status=409, service="object", entry="finishUpload")
    with pytest.raises(tcmodel.RequestConflict):
        claimed.upload("public/data.bin", DATA)
    assert claimed.entries().count("finishUpload") == 1
    assert "finishArtifact" not in claimed.entries()
    assert_not_complete(claimed, "public/data.bin")


@pytest.mark.parametrize("entry", ["createUpload", "finishUpload", "finishArtifact"])
@pytest.mark.parametrize("fault", ["status", "drop"])
def test_idempotent_calls_are_retried(claimed: Claimed, entry: str, fault: str) -> None:
    claimed.lc.inject(fault, status=503, entry=entry)
    claimed.upload("public/data.bin", DATA)
    assert claimed.entries().count(entry) == 2
    assert claimed.artifact("public/data.bin").read_bytes() == DATA


@pytest.mark.parametrize("storage_type", ["object", "s3"])
def test_create_artifact_is_never_resent(claimed: Claimed, storage_type: str) -> None:
    claimed.lc.inject("drop", entry="createArtifact")
    with pytest.raises(tcmodel.ConnectionFailed, match="createArtifact"):
        claimed.upload("public/data.bin", DATA, storage_type=storage_type)
    assert claimed.entries() == ["createArtifact"]  # no second object upload started


def test_create_artifact_conflict(claimed: Claimed) -> None:
    claimed.upload("public/a.txt", "first")
    claimed.lc.reset_requests()
    with pytest.raises(tcmodel.RequestConflict):
        claimed.upload("public/a.txt", "second", content_type="application/json")
    with pytest.raises(tcmodel.RequestConflict):
        claimed.upload("public/a.txt", "second")  # a new upload of a finished object
    assert claimed.entries() == ["createArtifact", "createArtifact"]  # no data sent
    assert claimed.artifact("public/a.txt").read_text() == "first"
    assert claimed.object_hashes("public/a.txt") == hashes(b"first")


@pytest.mark.parametrize("fault", ["status", "drop"])
def test_no_secret_in_errors(claimed: Claimed, fault: str) -> None:
    put_fault(claimed.lc, fault, times=10, status=500)
    with pytest.raises((tcmodel.ServerError, tcmodel.ConnectionFailed)) as info:
        claimed.upload("public/data.bin", DATA)
    error = info.value
    assert isinstance(error, tcmodel.ServerError | tcmodel.ConnectionFailed)
    assert "X-Signature=<redacted>" in error.url  # the presigned PUT URL's signature
    assert claimed.transport.credentials is not None
    token = claimed.transport.credentials.access_token
    assert token not in f"{error!s} {error!r} {error.url}"
