"""Tests of tcmodel.models: JSON as the services send it in, typed values out."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from schemas import API_DIR, require_shared, validate

from tcmodel.models import (
    PRIORITIES,
    REASONS_CREATED,
    REASONS_RESOLVED,
    REQUIRES,
    RESOLVED_STATES,
    RUN_STATES,
    STORAGE_TYPES,
    TASK_STATES,
    ArtifactContent,
    ArtifactInfo,
    IndexedTask,
    ModelDataError,
    NamespaceInfo,
    ObjectMetadata,
    RunInfo,
    TaskDefinition,
    TaskGroupCancellation,
    TaskGroupInfo,
    TaskMetadata,
    TaskQueueCounts,
    TaskStatus,
)
from tcmodel.utils import is_slug_id, parse_date

TASK_ID = "fN1SbArXTPSVFNUvaOlinQ"
GROUP_ID = "XDqefRsvTG6ajX5vWks8LQ"
OTHER_ID = "Dx4tPEtaRpeIeWpbTD0uHw"
SECRET = "aVeryS3cretAccessTokenValue"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=timezone.utc)


# --- realistic JSON, as the v106 services answer ------------------------------

METADATA = {
    "name": "build-linux64/opt",
    "description": "Build Firefox for **linux64**",
    "owner": "dev@example.com",
    "source": "https://hg.example.com/try/file/abc123/taskcluster/ci",
}

# The keys that a task's definition and its status share.
SHARED_KEYS = {
    "provisionerId": "proj-ci",
    "workerType": "b-linux",
    "taskQueueId": "proj-ci/b-linux",
    "schedulerId": "gecko-level-3",
    "projectId": "gecko",
    "taskGroupId": GROUP_ID,
}

TASK = {
    **SHARED_KEYS,
    "dependencies": [OTHER_ID],
    "requires": "all-completed",
    "routes": ["index.gecko.v2.try.latest.build", "tc-treeherder.v2.try.abc123"],
    "priority": "very-low",
    "retries": 5,
    "created": "2024-01-31T12:00:00.000Z",
    "deadline": "2024-02-01T12:00:00.000Z",
    "expires": "2025-01-31T12:00:00.000Z",
    "scopes": ["secrets:get:project/gecko/build"],
    "payload": {"command": [["bash", "-c", "make"]], "maxRunTime": 3600},
    "metadata": METADATA,
    "tags": {"kind": "build", "os": "linux"},
    "extra": {"index": {"rank": 1706702400}},
}

RUN_FAILED_OVER = {
    "runId": 0,
    "state": "exception",
    "reasonCreated": "scheduled",
    "reasonResolved": "claim-expired",
    "workerGroup": "us-east1",
    "workerId": "i-0123456789abcdef0",
    "takenUntil": "2024-01-31T12:21:00.000Z",
    "scheduled": "2024-01-31T12:00:00.000Z",
    "started": "2024-01-31T12:01:00.000Z",
    "resolved": "2024-01-31T12:21:00.500Z",
}
RUN_COMPLETED = {
    "runId": 1,
    "state": "completed",
    "reasonCreated": "retry",
    "reasonResolved": "completed",
    "workerGroup": "us-east1",
    "workerId": "i-0fedcba9876543210",
    "takenUntil": "2024-01-31T12:42:00.000Z",
    "scheduled": "2024-01-31T12:21:00.500Z",
    "started": "2024-01-31T12:22:00.000Z",
    "resolved": "2024-01-31T12:37:30.250Z",
}

STATUS = {
    "taskId": TASK_ID,
    **SHARED_KEYS,
    "priority": "very-low",
    "deadline": "2024-02-01T12:00:00.000Z",
    "expires": "2025-01-31T12:00:00.000Z",
    "retriesLeft": 4,
    "state": "completed",
    "runs": [RUN_FAILED_OVER, RUN_COMPLETED],
}

ARTIFACT = {
    "storageType": "s3",
    "name": "public/build/target.tar.bz2",
    "expires": "2025-01-31T12:00:00.000Z",
    "contentType": "application/x-bzip2",
    "contentLength": 82_000_000,
}
LOG_ARTIFACT = {
    "storageType": "reference",
    "name": "public/logs/live.log",
    "expires": "2024-01-31T13:15:00.000Z",
    "contentType": "text/plain; charset=utf-8",
}

TASK_GROUP = {
    "taskGroupId": GROUP_ID,
    "schedulerId": "gecko-level-3",
    "expires": "2025-01-31T13:00:00.000Z",
    "sealed": "2024-01-31T14:00:00.000Z",
}
CANCELLATION = {
    "taskGroupId": GROUP_ID,
    "taskGroupSize": 3,
    "cancelledCount": 2,
    "taskIds": [TASK_ID, OTHER_ID],
}
QUEUE_COUNTS = {
    "provisionerId": "proj-ci",
    "workerType": "b-linux",
    "taskQueueId": "proj-ci/b-linux",
    "pendingTasks": 12,
    "claimedTasks": 3,
}
INDEXED = {
    "namespace": "gecko.v2.try.latest.build",
    "taskId": TASK_ID,
    "rank": 1706702400,
    "data": {"revision": "abc123"},
    "expires": "2025-02-01T00:00:00.000Z",
}
NAMESPACE = {"namespace": "gecko.v2.try", "name": "try", "expires": "2025-02-02T00:00:00.000Z"}
OBJECT_META = {
    "projectId": "gecko",
    "expires": "2025-01-31T12:00:00.000Z",
    "hashes": {"sha256": "a" * 64, "sha512": "b" * 128},
}
CONTENT_OBJECT = {
    "storageType": "object",
    "name": f"t/{TASK_ID}/1/public/build/target.tar.bz2",
    "credentials": {
        "clientId": f"artifact-download/{TASK_ID}/1/public/build/target.tar.bz2",
        "accessToken": SECRET,
        "certificate": json.dumps({"version": 1, "scopes": ["object:download:x"]}),
    },
}
CONTENT_S3 = {
    "storageType": "s3",
    "url": "https://bucket.s3.amazonaws.com/private/a?X-Amz-Signature=deadbeef&X-Amz-Expires=1800",
}
CONTENT_REFERENCE = {"storageType": "reference", "url": "https://worker.example.com:60023/log"}
CONTENT_ERROR = {
    "storageType": "error",
    "reason": "file-missing-on-worker",
    "message": "Could not read /builds/worker/artifacts/target.tar.bz2",
}

# (model, JSON, the schema file it validates against, how to wrap it for that schema)
CASES: list[tuple[Any, dict[str, Any], str, str, Callable[[Any], Any]]] = [
    (TaskDefinition, TASK, "queue", "task.json", lambda d: d),
    (TaskStatus, STATUS, "queue", "task-status-response.json", lambda d: {"status": d}),
    (ArtifactInfo, ARTIFACT, "queue", "artifact-response.json", lambda d: d),
    (
        ArtifactInfo,
        LOG_ARTIFACT,
        "queue",
        "list-artifacts-response.json",
        lambda d: {"artifacts": [d, ARTIFACT], "continuationToken": "abc"},
    ),
    (TaskGroupInfo, TASK_GROUP, "queue", "task-group-response.json", lambda d: d),
    (TaskGroupCancellation, CANCELLATION, "queue", "cancel-task-group-response.json", lambda d: d),
    (TaskQueueCounts, QUEUE_COUNTS, "queue", "task-queue-counts-response.json", lambda d: d),
    (IndexedTask, INDEXED, "index", "indexed-task-response.json", lambda d: d),
    (
        NamespaceInfo,
        NAMESPACE,
        "index",
        "list-namespaces-response.json",
        lambda d: {"namespaces": [d]},
    ),
    (ObjectMetadata, OBJECT_META, "object", "get-object-response.json", lambda d: d),
    (ArtifactContent, CONTENT_OBJECT, "queue", "artifact-content-response.json", lambda d: d),
    (ArtifactContent, CONTENT_S3, "queue", "artifact-content-response.json", lambda d: d),
    (ArtifactContent, CONTENT_REFERENCE, "queue", "artifact-content-response.json", lambda d: d),
    (ArtifactContent, CONTENT_ERROR, "queue", "artifact-content-response.json", lambda d: d),
]
CASE_IDS = [f"{c[0].__name__}-{c[3]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("model", "data", "service", "schema", "wrap"), CASES, ids=CASE_IDS)
def test_fixture_matches_real_schema_and_parses(
    model: Any, data: dict[str, Any], service: str, schema: str, wrap: Callable[[Any], Any]
) -> None:
    validate(service, schema, wrap(data))
    obj = model._from_json(data)
    assert obj.raw == data
    assert model._from_json(data) == obj


def test_ids_in_fixtures_are_slug_ids() -> None:
    assert all(is_slug_id(i) for i in (TASK_ID, GROUP_ID, OTHER_ID))


# --- field values ---------------------------------------------------------------


def test_task_definition_fields() -> None:
    task = TaskDefinition._from_json(TASK)
    assert task.task_queue_id == "proj-ci/b-linux"
    assert (task.provisioner_id, task.worker_type) == ("proj-ci", "b-linux")
    assert task.scheduler_id == "gecko-level-3"
    assert task.project_id == "gecko"
    assert task.task_group_id == GROUP_ID
    assert task.dependencies == (OTHER_ID,)
    assert task.requires == "all-completed"
    assert task.routes == ("index.gecko.v2.try.latest.build", "tc-treeherder.v2.try.abc123")
    assert task.priority == "very-low"
    assert task.retries == 5
    assert task.created == utc(2024, 1, 31, 12)
    assert task.deadline == utc(2024, 2, 1, 12)
    assert task.expires == utc(2025, 1, 31, 12)
    assert task.scopes == ("secrets:get:project/gecko/build",)
    assert task.payload == {"command": [["bash", "-c", "make"]], "maxRunTime": 3600}
    assert task.metadata == TaskMetadata(
        name="build-linux64/opt",
        description="Build Firefox for **linux64**",
        owner="dev@example.com",
        source="https://hg.example.com/try/file/abc123/taskcluster/ci",
    )
    assert task.metadata.raw == METADATA
    assert task.name == "build-linux64/opt"
    assert task.tags == {"kind": "build", "os": "linux"}
    assert task.extra == {"index": {"rank": 1706702400}}


def test_task_status_and_runs() -> None:
    status = TaskStatus._from_json(STATUS)
    assert status.task_id == TASK_ID
    assert status.task_queue_id == "proj-ci/b-linux"
    assert (status.provisioner_id, status.worker_type) == ("proj-ci", "b-linux")
    assert (status.scheduler_id, status.project_id) == ("gecko-level-3", "gecko")
    assert status.task_group_id == GROUP_ID
    assert status.priority == "very-low"
    assert status.deadline == utc(2024, 2, 1, 12)
    assert status.expires == utc(2025, 1, 31, 12)
    assert status.retries_left == 4
    assert status.state == "completed"
    assert status.is_resolved and status.is_final
    assert [r.run_id for r in status.runs] == [0, 1]
    assert status.latest_run is status.runs[-1]

    first, last = status.runs
    assert first.state == "exception"
    assert first.reason_created == "scheduled"
    assert first.reason_resolved == "claim-expired"
    assert (first.worker_group, first.worker_id) == ("us-east1", "i-0123456789abcdef0")
    assert first.taken_until == utc(2024, 1, 31, 12, 21)
    assert first.scheduled == utc(2024, 1, 31, 12)
    assert first.started == utc(2024, 1, 31, 12, 1)
    assert first.resolved == utc(2024, 1, 31, 12, 21, 0, 500_000)
    assert first.is_resolved
    assert first.raw == RUN_FAILED_OVER
    assert last.duration == timedelta(minutes=15, seconds=30, microseconds=250_000)


def test_unscheduled_task_has_no_latest_run() -> None:
    status = TaskStatus._from_json({**STATUS, "state": "unscheduled", "runs": []})
    assert status.runs == ()
    assert status.latest_run is None
    assert not status.is_resolved and not status.is_final


@pytest.mark.parametrize("state", TASK_STATES)
def test_is_resolved_by_state(state: str) -> None:
    assert TaskStatus._from_json({**STATUS, "state": state}).is_resolved == (
        state in ("completed", "failed", "exception")
    )


@pytest.mark.parametrize("state", RUN_STATES)
def test_run_is_resolved_by_state(state: str) -> None:
    run = RunInfo._from_json({**RUN_COMPLETED, "state": state})
    assert run.is_resolved == (state in RESOLVED_STATES)


CANCELLED_WHILE_PENDING = {
    "runId": 0,
    "state": "exception",
    "reasonCreated": "scheduled",
    "reasonResolved": "canceled",
    "scheduled": "2024-01-31T12:00:00.000Z",
    "resolved": "2024-01-31T12:05:00.000Z",
}
PENDING_RERUN = {
    "runId": 2,
    "state": "pending",
    "reasonCreated": "rerun",
    "scheduled": "2024-01-31T12:00:00Z",
}


@pytest.mark.parametrize(
    ("data", "resolved"), [(CANCELLED_WHILE_PENDING, True), (PENDING_RERUN, False)]
)
def test_run_that_never_started_has_no_duration(data: dict[str, Any], resolved: bool) -> None:
    run = RunInfo._from_json(data)
    assert run.started is None and run.worker_id is None and run.taken_until is None
    assert run.duration is None
    assert run.is_resolved is resolved
    assert (run.reason_resolved is not None) is resolved


def test_artifact_info() -> None:
    art = ArtifactInfo._from_json(ARTIFACT)
    assert art.name == "public/build/target.tar.bz2"
    assert art.storage_type == "s3"
    assert art.content_type == "application/x-bzip2"
    assert art.expires == utc(2025, 1, 31, 12)
    assert art.content_length == 82_000_000
    assert art.is_public
    log = ArtifactInfo._from_json(LOG_ARTIFACT)
    assert log.content_length is None
    assert not ArtifactInfo._from_json({**ARTIFACT, "name": "private/build/x"}).is_public
    assert not ArtifactInfo._from_json({**ARTIFACT, "name": "publicity/x"}).is_public


def test_task_group_info() -> None:
    group = TaskGroupInfo._from_json(TASK_GROUP)
    assert group.task_group_id == GROUP_ID
    assert group.scheduler_id == "gecko-level-3"
    assert group.expires == utc(2025, 1, 31, 13)
    assert group.sealed == utc(2024, 1, 31, 14)
    assert group.is_sealed
    unsealed = {k: v for k, v in TASK_GROUP.items() if k != "sealed"}
    assert not TaskGroupInfo._from_json(unsealed).is_sealed


def test_task_group_info_from_a_list_page() -> None:
    page = {**TASK_GROUP, "tasks": [{"status": STATUS, "task": TASK}], "continuationToken": "x"}
    validate("queue", "list-task-group-response.json", page)
    group = TaskGroupInfo._from_json(page)
    assert group == TaskGroupInfo._from_json(TASK_GROUP)
    assert group.raw["continuationToken"] == "x"


def test_task_group_cancellation() -> None:
    c = TaskGroupCancellation._from_json(CANCELLATION)
    assert (c.task_group_id, c.task_group_size, c.cancelled_count) == (GROUP_ID, 3, 2)
    assert c.task_ids == (TASK_ID, OTHER_ID)


def test_task_queue_counts() -> None:
    counts = TaskQueueCounts._from_json(QUEUE_COUNTS)
    assert (counts.task_queue_id, counts.pending_tasks, counts.claimed_tasks) == (
        "proj-ci/b-linux",
        12,
        3,
    )


def test_indexed_task_and_namespace() -> None:
    entry = IndexedTask._from_json(INDEXED)
    assert entry.namespace == "gecko.v2.try.latest.build"
    assert entry.task_id == TASK_ID
    assert entry.rank == 1706702400 and isinstance(entry.rank, int)
    assert entry.data == {"revision": "abc123"}
    assert entry.expires == utc(2025, 2, 1)
    assert IndexedTask._from_json({**INDEXED, "rank": 2.5}).rank == 2.5
    ns = NamespaceInfo._from_json(NAMESPACE)
    assert (ns.namespace, ns.name, ns.expires) == ("gecko.v2.try", "try", utc(2025, 2, 2))


def test_list_tasks_page_items_parse() -> None:
    page = {"tasks": [INDEXED, {**INDEXED, "namespace": "gecko.v2.try.b", "rank": 0}]}
    validate("index", "list-tasks-response.json", page)
    entries = [IndexedTask._from_json(t) for t in page["tasks"]]
    assert [e.rank for e in entries] == [1706702400, 0]


def test_object_metadata() -> None:
    meta = ObjectMetadata._from_json(OBJECT_META)
    assert meta.project_id == "gecko"
    assert meta.expires == utc(2025, 1, 31, 12)
    assert meta.hashes == {"sha256": "a" * 64, "sha512": "b" * 128}


def test_artifact_content_kinds() -> None:
    obj = ArtifactContent._from_json(CONTENT_OBJECT)
    assert obj.storage_type == "object"
    assert obj.name == f"t/{TASK_ID}/1/public/build/target.tar.bz2"
    assert obj.credentials is not None and obj.credentials["accessToken"] == SECRET
    assert obj.url is None and obj.reason is None and not obj.is_error
    s3 = ArtifactContent._from_json(CONTENT_S3)
    assert s3.url == CONTENT_S3["url"] and s3.credentials is None
    err = ArtifactContent._from_json(CONTENT_ERROR)
    assert err.is_error
    assert err.reason == "file-missing-on-worker"
    assert err.message == CONTENT_ERROR["message"]


def test_get_artifact_redirect_body_parses() -> None:
    body = {"storageType": "s3", "url": "https://bucket.example.com/public/x"}
    validate("queue", "get-artifact-response.json", body)
    assert ArtifactContent._from_json(body).url == body["url"]


def test_claimed_work_embeds_status_and_task() -> None:
    claim: dict[str, Any] = {
        "status": {**STATUS, "state": "running", "runs": [{**RUN_COMPLETED, "state": "running"}]},
        "runId": 1,
        "workerGroup": "us-east1",
        "workerId": "i-0fedcba9876543210",
        "takenUntil": "2024-01-31T12:42:00.000Z",
        "task": TASK,
        "credentials": {"clientId": "task-client/x", "accessToken": SECRET, "certificate": "{}"},
    }
    validate("queue", "claim-work-response.json", {"tasks": [claim]})
    status = TaskStatus._from_json(claim["status"])
    assert status.latest_run is not None and status.latest_run.state == "running"
    assert TaskDefinition._from_json(claim["task"]).name == METADATA["name"]


# --- dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31T12:00:00.123Z", utc(2024, 1, 31, 12, 0, 0, 123_000)),
        ("2024-01-31T12:00:00.123456Z", utc(2024, 1, 31, 12, 0, 0, 123_456)),
        ("2024-01-31T12:00:00Z", utc(2024, 1, 31, 12)),
        ("2024-01-31T13:30:00.000+01:30", utc(2024, 1, 31, 12)),
        ("2024-01-31T07:00:00.500000-05:00", utc(2024, 1, 31, 12, 0, 0, 500_000)),
        ("2024-01-31T12:00:00+00:00", utc(2024, 1, 31, 12)),
    ],
)
def test_dates_parse_to_aware_utc(text: str, expected: datetime) -> None:
    ns = NamespaceInfo._from_json({**NAMESPACE, "expires": text})
    assert ns.expires == expected
    assert ns.expires.tzinfo is timezone.utc
    assert ns.raw["expires"] == text


def test_all_dates_of_a_status_are_utc() -> None:
    status = TaskStatus._from_json(STATUS)
    dates = [status.deadline, status.expires]
    for run in status.runs:
        dates += [d for d in (run.scheduled, run.started, run.resolved, run.taken_until) if d]
    assert len(dates) == 10
    assert all(d.tzinfo is timezone.utc for d in dates)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-31T12:00:00Z",
        "2024-01-31T12:00:00.1Z",
        "2024-01-31T12:00:00.123Z",
        "2024-01-31T12:00:00.123456Z",
        "2024-01-31T12:00:00.123456789Z",
        "2024-01-31t12:00:00.000z",
        "2024-01-31 12:00:00.000Z",
        "2024-02-29T23:59:59.999Z",
        "2024-01-31T12:00:00,123Z",
        "2024-W05-3T12:00:00.000Z",
        "2024-02-30T12:00:00.000Z",
        "2024-01-31T24:00:00.000Z",
        "2024-01-31T12:00:00.12+Z",
        "２０２４-01-31T12:00:00.000Z",
        "2024-01-31T12:00:00.000+00:00",
    ],
)
def test_the_fast_date_path_agrees_with_the_strict_parser(text: str) -> None:
    # The services' own form goes through datetime.fromisoformat; every
    # other form, and every date it refuses, through the strict parser:
    # the two never disagree.
    try:
        strict: Any = parse_date(text)
    except ValueError as e:
        strict = e
    data = {**NAMESPACE, "expires": text}
    if isinstance(strict, ValueError):
        with pytest.raises(ModelDataError, match=r"bad 'expires'"):
            NamespaceInfo._from_json(data)
    else:
        parsed = NamespaceInfo._from_json(data).expires
        assert parsed == strict and parsed.tzinfo is timezone.utc


@pytest.mark.parametrize("bad", ["tomorrow", "2024-01-31", "2024-13-01T00:00:00Z", 1706702400])
def test_bad_dates_are_refused(bad: Any) -> None:
    with pytest.raises(ModelDataError, match=r"NamespaceInfo: bad 'expires'"):
        NamespaceInfo._from_json({**NAMESPACE, "expires": bad})


# --- tolerance: unknown keys, missing optional keys, nulls ---------------------


def test_unknown_fields_are_kept_in_raw_only() -> None:
    data = {**STATUS, "futureField": {"x": 1}, "runs": [{**RUN_COMPLETED, "newRunKey": True}]}
    status = TaskStatus._from_json(data)
    assert status.raw["futureField"] == {"x": 1}
    assert status.runs[0].raw["newRunKey"] is True
    assert not hasattr(status, "future_field")
    assert status == TaskStatus._from_json({**STATUS, "runs": [RUN_COMPLETED]})


def test_raw_is_a_copy_of_the_input() -> None:
    data = copy.deepcopy(ARTIFACT)
    art = ArtifactInfo._from_json(data)
    data["name"] = "changed"
    assert art.raw["name"] == "public/build/target.tar.bz2"
    assert isinstance(art.raw, dict)


def test_new_states_and_reasons_pass_through() -> None:
    run = RunInfo._from_json({**RUN_COMPLETED, "state": "paused", "reasonResolved": "new-reason"})
    assert (run.state, run.reason_resolved) == ("paused", "new-reason")
    assert not run.is_resolved
    art = ArtifactInfo._from_json({**ARTIFACT, "storageType": "future-store"})
    assert art.storage_type == "future-store"


def test_task_definition_missing_optional_fields() -> None:
    # taskQueueId etc. are always in the queue's answer; projectId, expires and
    # the collections may be absent (task.json does not require projectId/expires).
    required = (
        "provisionerId",
        "workerType",
        "taskQueueId",
        "schedulerId",
        "taskGroupId",
        "requires",
        "priority",
        "retries",
        "created",
        "deadline",
        "metadata",
    )
    task = TaskDefinition._from_json({k: TASK[k] for k in required})
    assert task.project_id is None and task.expires is None
    assert task.dependencies == task.routes == task.scopes == ()
    assert task.payload == task.tags == task.extra == {}


@pytest.mark.parametrize(
    ("model", "data", "drop", "defaults"),
    [
        (TaskStatus, STATUS, ["priority", "runs"], {"priority": None, "runs": ()}),
        (
            RunInfo,
            RUN_COMPLETED,
            ["reasonResolved", "workerId", "resolved"],
            {"reason_resolved": None, "worker_id": None, "resolved": None},
        ),
        (ArtifactInfo, ARTIFACT, ["contentLength"], {"content_length": None}),
        (TaskGroupInfo, TASK_GROUP, ["sealed"], {"sealed": None}),
        (TaskGroupCancellation, CANCELLATION, ["taskIds"], {"task_ids": ()}),
        (IndexedTask, INDEXED, ["data"], {"data": {}}),
        (ObjectMetadata, OBJECT_META, ["hashes"], {"hashes": {}}),
        (ArtifactContent, CONTENT_S3, ["url"], {"url": None, "credentials": None, "message": None}),
    ],
)
def test_missing_optional_fields_default(
    model: Any, data: dict[str, Any], drop: list[str], defaults: dict[str, Any]
) -> None:
    obj = model._from_json({k: v for k, v in data.items() if k not in drop})
    assert {name: getattr(obj, name) for name in defaults} == defaults


def test_null_counts_as_missing() -> None:
    art = ArtifactInfo._from_json({**ARTIFACT, "contentLength": None})
    assert art.content_length is None
    with pytest.raises(ModelDataError, match=r"missing required key\(s\) 'name'"):
        ArtifactInfo._from_json({**ARTIFACT, "name": None})


# --- bad data -------------------------------------------------------------------


def test_missing_required_keys_are_named() -> None:
    with pytest.raises(ModelDataError) as info:
        TaskStatus._from_json({"taskId": TASK_ID})
    message = str(info.value)
    assert message.startswith("TaskStatus: missing required key(s) ")
    for key in ("taskQueueId", "retriesLeft", "state", "deadline"):
        assert repr(key) in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("model", "data", "match"),
    [
        (RunInfo, {**RUN_COMPLETED, "runId": "1"}, r"RunInfo: bad 'runId': expected int"),
        (RunInfo, {**RUN_COMPLETED, "runId": True}, r"bad 'runId'"),
        (TaskDefinition, {**TASK, "routes": "index.a"}, r"bad 'routes': expected a list"),
        (TaskDefinition, {**TASK, "routes": [1]}, r"bad 'routes': expected str"),
        (TaskDefinition, {**TASK, "payload": []}, r"bad 'payload': expected an object"),
        (TaskDefinition, {**TASK, "metadata": {"name": "x"}}, r"bad 'metadata': TaskMetadata"),
        (IndexedTask, {**INDEXED, "rank": "1"}, r"bad 'rank': expected int or float"),
        (
            TaskStatus,
            {**STATUS, "runs": [{**RUN_COMPLETED, "scheduled": "soon"}]},
            r"TaskStatus: bad 'runs': RunInfo: bad 'scheduled': not an RFC 3339 date",
        ),
    ],
)
def test_bad_values_are_refused(model: Any, data: dict[str, Any], match: str) -> None:
    with pytest.raises(ModelDataError, match=match):
        model._from_json(data)


@pytest.mark.parametrize("data", [None, [], "x", 1])
def test_non_objects_are_refused(data: Any) -> None:
    with pytest.raises(ModelDataError, match="ArtifactInfo: expected a JSON object"):
        ArtifactInfo._from_json(data)


# --- value semantics --------------------------------------------------------------


ALL_OBJECTS = [
    pytest.param(c[0]._from_json(c[1]), id=i) for c, i in zip(CASES, CASE_IDS, strict=True)
]


@pytest.mark.parametrize("obj", ALL_OBJECTS)
def test_equality_and_hash_ignore_raw(obj: Any) -> None:
    twin = attrs.evolve(obj, raw={"something": "else"})
    assert twin == obj
    assert hash(twin) == hash(obj)
    assert len({obj, twin}) == 1


@pytest.mark.parametrize("obj", ALL_OBJECTS)
def test_frozen_and_picklable(obj: Any) -> None:
    first = attrs.fields(type(obj))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(obj, first, None)
    again = pickle.loads(pickle.dumps(obj))
    assert again == obj and again.raw == obj.raw


def test_different_values_are_unequal() -> None:
    status = TaskStatus._from_json(STATUS)
    assert status != TaskStatus._from_json({**STATUS, "retriesLeft": 3})
    assert status != TaskStatus._from_json({**STATUS, "runs": [RUN_FAILED_OVER]})
    # dict fields count for equality even though they do not take part in hashing
    task = TaskDefinition._from_json(TASK)
    other = TaskDefinition._from_json({**TASK, "payload": {"command": ["true"]}})
    assert task != other
    assert hash(task) == hash(other)


def test_direct_construction() -> None:
    run = RunInfo(run_id=0, state="pending", reason_created="scheduled", scheduled=utc(2024, 1, 1))
    assert run.raw == {}
    assert run == RunInfo._from_json(
        {
            "runId": 0,
            "state": "pending",
            "reasonCreated": "scheduled",
            "scheduled": "2024-01-01T00:00:00Z",
        }
    )


# --- reprs ------------------------------------------------------------------------


@pytest.mark.parametrize("obj", ALL_OBJECTS)
def test_repr_is_compact(obj: Any) -> None:
    text = repr(obj)
    assert text.startswith(type(obj).__name__ + "(")
    assert "raw" not in text
    assert "None" not in text
    assert len(text) < 300


def test_repr_hides_credentials_and_signatures() -> None:
    obj = ArtifactContent._from_json(CONTENT_OBJECT)
    text = repr(obj) + str(obj)
    assert SECRET not in text and "accessToken" not in text and "credentials" not in text
    s3 = repr(ArtifactContent._from_json(CONTENT_S3))
    assert "deadbeef" not in s3 and "Signature" not in s3
    assert "https://bucket.s3.amazonaws.com/private/a?…" in s3
    reference = repr(ArtifactContent._from_json(CONTENT_REFERENCE))
    assert "https://worker.example.com:60023/log'" in reference


def test_repr_shows_the_useful_fields() -> None:
    assert repr(TaskStatus._from_json(STATUS)) == (
        f"TaskStatus(task_id='{TASK_ID}', task_queue_id='proj-ci/b-linux', state='completed', "
        "runs=[exception/claim-expired, completed])"
    )
    assert repr(RunInfo._from_json(RUN_FAILED_OVER)) == (
        "RunInfo(run_id=0, state='exception', reason_created='scheduled', "
        "reason_resolved='claim-expired', worker_id='i-0123456789abcdef0', "
        "scheduled=2024-01-31T12:00:00Z, started=2024-01-31T12:01:00Z, "
        "resolved=2024-01-31T12:21:00.500000Z)"
    )
    text = repr(TaskDefinition._from_json(TASK))
    assert "payload" not in text and "make" not in text
    assert "name='build-linux64/opt'" in text


def test_repr_shows_the_latest_runs() -> None:
    runs = [{**RUN_FAILED_OVER, "runId": i} for i in range(4)] + [RUN_COMPLETED]
    text = repr(TaskStatus._from_json({**STATUS, "runs": runs}))
    assert text.endswith(
        "runs=[… 2 earlier, exception/claim-expired, exception/claim-expired, completed])"
    )


def test_repr_shortens_long_tuples() -> None:
    ids = [TASK_ID] * 5
    text = repr(TaskGroupCancellation._from_json({**CANCELLATION, "taskIds": ids}))
    assert text.endswith(f"task_ids=('{TASK_ID}', '{TASK_ID}', '{TASK_ID}', … 2 more))")


# --- constants --------------------------------------------------------------------


def _schema(service: str, name: str) -> dict[str, Any]:
    path = require_shared(API_DIR / "schemas" / service / name)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_constants() -> None:
    assert TASK_STATES == ("unscheduled", "pending", "running", "completed", "failed", "exception")
    assert RUN_STATES == ("pending", "running", "completed", "failed", "exception")
    assert RESOLVED_STATES == ("completed", "failed", "exception")
    assert PRIORITIES[0] == "highest" and PRIORITIES[-1] == "lowest"
    assert len(PRIORITIES) == len(set(PRIORITIES)) == 7


def test_constants_match_the_schemas() -> None:
    task = _schema("queue", "task.json")["properties"]
    assert tuple(task["priority"]["enum"]) == PRIORITIES
    assert tuple(task["requires"]["enum"]) == REQUIRES
    status = _schema("queue", "task-status.json")["properties"]
    assert tuple(status["state"]["enum"]) == TASK_STATES
    run = status["runs"]["items"]["properties"]
    assert tuple(run["state"]["enum"]) == RUN_STATES
    assert tuple(run["reasonCreated"]["enum"]) == REASONS_CREATED
    assert tuple(run["reasonResolved"]["enum"]) == REASONS_RESOLVED
    artifact = _schema("queue", "artifact-response.json")["properties"]
    assert tuple(artifact["storageType"]["enum"]) == STORAGE_TYPES


# --- listed tasks: models made on first read ----------------------------------------


def _listing_entry() -> dict[str, Any]:
    status = copy.deepcopy(STATUS)
    task = copy.deepcopy(TASK)
    return {"status": status, "task": task}


def test_a_listed_task_reads_state_and_name_from_its_entry() -> None:
    import tcmodel
    from tcmodel.resources.task import Task

    cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    entry = _listing_entry()
    task = Task._from_listing(cluster, entry, None, "queue.listTaskGroup(taskGroupId='g')")
    assert (task.state, task.name) == (STATUS["state"], TASK["metadata"]["name"])
    assert task.loaded and task._stat is None and task._def is None  # no model made yet
    assert repr(task) == f"<Task {TASK['metadata']['name']!r} taskId={STATUS['taskId']!r} " + (
        f"state={STATUS['state']!r}>"
    )
    assert task.status == TaskStatus._from_json(STATUS)  # made on first read, no request
    assert task.definition == TaskDefinition._from_json(TASK)
    assert task._entry is None  # both made: the entry is let go
    assert task.status is task.status and task.state == STATUS["state"]


def test_a_listed_entry_that_does_not_fit_fails_when_read_naming_the_listing() -> None:
    import tcmodel
    from tcmodel.resources.task import Task

    cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    entry = _listing_entry()
    entry["status"]["deadline"] = "yesterday"
    entry["task"]["metadata"]["name"] = 7
    task = Task._from_listing(cluster, entry, None, "queue.listTaskGroup(taskGroupId='g')")
    assert task.state == STATUS["state"]  # what fits is read
    with pytest.raises(ModelDataError, match=r"^queue\.listTaskGroup\(taskGroupId='g'\): "):
        task.status
    with pytest.raises(ModelDataError, match=r"TaskMetadata: bad 'name'"):
        task.name  # not a string in the entry: the definition is made, and refused
    with pytest.raises(ModelDataError, match="'status' and 'task'"):
        Task._from_listing(cluster, {"status": [], "task": {}}, None, "x")
    with pytest.raises(ValueError, match="taskId must be a slugId"):
        Task._from_listing(cluster, {"status": {"taskId": "x"}, "task": {}}, None, "x")


def test_big_answers_decode_with_the_collector_paused_and_restored() -> None:
    import gc

    from tcmodel import _json

    big = json.dumps({"tasks": [{"status": {"state": "completed"}}] * 4000}).encode()
    assert len(big) >= _json.PAUSE_AT
    assert _json.loads(big)["tasks"][-1]["status"]["state"] == "completed"
    assert gc.isenabled()
    gc.disable()
    try:
        assert len(_json.loads(big)["tasks"]) == 4000
        assert not gc.isenabled()  # left off, as the program had it
    finally:
        gc.enable()
    with pytest.raises(ValueError):
        _json.loads(big[:-1])
    assert gc.isenabled()
