"""The local cluster's hooks service over real HTTP, driven by the official
client (bodies checked against the real schemas): definitions (create is
idempotent for an identical body), triggering that renders the JSON-e
template and creates the task through the queue with the hook's role,
trigger tokens, last fires, schedules and scopes."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import taskcluster
from lc_queue_support import TQ, at, client_options, expect_error, lc, queue
from schemas import Checked

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster
from tcmodel.utils import slug_id

__all__ = ["lc"]

GROUP = "proj"


def hooks(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official Hooks client (root credentials by default)."""
    return Checked(taskcluster.Hooks(client_options(lc, creds or lc.root_credentials)), "hooks")


def anonymous(lc: LocalCluster) -> Any:
    return Checked(taskcluster.Hooks({"rootUrl": lc.root_url, "maxRetries": 0}), "hooks")


def hook_def(**fields: Any) -> dict[str, Any]:
    """A hook whose task echoes the trigger payload and who fired it."""
    body: dict[str, Any] = {
        "metadata": {
            "name": "nightly",
            "description": "the tests' hook",
            "owner": "tests@example.com",
            "emailOnError": False,
        },
        "schedule": [],
        "task": {
            "taskQueueId": TQ,
            "schedulerId": "-",
            "created": {"$fromNow": "0 seconds"},
            "deadline": {"$fromNow": "1 hour"},
            "expires": {"$fromNow": "1 day"},
            "payload": {"from": {"$eval": "payload"}, "firedBy": {"$eval": "firedBy"}},
            "metadata": {
                "name": "hook task",
                "description": "made by a hook",
                "owner": "tests@example.com",
                "source": "https://example.com/hooks",
            },
        },
        "triggerSchema": {"type": "object", "additionalProperties": True},
    }
    body.update(fields)
    return body


def with_role(lc: LocalCluster, hook_id: str = "*") -> None:
    """Give the role hook-id:proj/<hook_id> what creating the hook's task needs."""
    lc.add_role(f"hook-id:{GROUP}/{hook_id}", ["queue:create-task:*", "queue:scheduler-id:-"])


def make(lc: LocalCluster, hook_id: str = "nightly", **fields: Any) -> Any:
    with_role(lc)
    client = hooks(lc)
    client.createHook(GROUP, hook_id, hook_def(**fields))
    return client


# -- definitions -------------------------------------------------------------------


def test_create_read_list_update_remove(lc: LocalCluster) -> None:
    client = hooks(lc)
    created = client.createHook(GROUP, "nightly", hook_def())
    assert (created["hookGroupId"], created["hookId"]) == (GROUP, "nightly")
    read = client.hook(GROUP, "nightly")
    assert read["bindings"] == [] and read["task"] == hook_def()["task"]
    client.createHook(GROUP, "weekly", hook_def())
    client.createHook("other", "x", hook_def())
    assert client.listHookGroups() == {"groups": ["other", GROUP]}
    assert [h["hookId"] for h in client.listHooks(GROUP)["hooks"]] == ["nightly", "weekly"]
    changed = copy.deepcopy(hook_def())
    changed["metadata"]["description"] = "changed"
    updated = client.updateHook(GROUP, "nightly", changed)
    assert updated["metadata"]["description"] == "changed"
    assert client.hook(GROUP, "nightly")["metadata"]["description"] == "changed"
    for _ in range(2):  # removing is 200, also when it is gone
        assert client.removeHook(GROUP, "nightly") == {}
    expect_error(404, "ResourceNotFound", client.hook, GROUP, "nightly")
    expect_error(404, "ResourceNotFound", client.updateHook, GROUP, "nightly", hook_def())
    expect_error(404, "ResourceNotFound", client.listHooks, "nothing")


def test_create_again_is_200_only_for_the_identical_definition(lc: LocalCluster) -> None:
    client = hooks(lc)
    full = hook_def(bindings=[])
    client.createHook(GROUP, "nightly", full)
    assert client.createHook(GROUP, "nightly", full)["hookId"] == "nightly"
    # without `bindings` the body is not the stored definition: 409, as the traces show
    body = expect_error(409, "RequestConflict", client.createHook, GROUP, "nightly", hook_def())
    assert body["message"].startswith(f"Hook `{GROUP}/nightly` exists already")
    other = hook_def(bindings=[], schedule=["0 0 0 * * *"])
    expect_error(409, "RequestConflict", client.createHook, GROUP, "nightly", other)


@pytest.mark.parametrize(
    ("hook_id", "body", "status", "code"),
    [
        ("nightly", hook_def(hookId="other"), 400, "InputError"),
        ("nightly", hook_def(hookGroupId="other"), 400, "InputError"),
        ("nightly", hook_def(schedule=["not a cron"]), 400, "InputError"),
        ("nightly", hook_def(schedule=["0 0 25 * * *"]), 400, "InputError"),
        ("nightly", hook_def(triggerSchema={"type": "no-such-type"}), 400, "InputError"),
        (
            "nightly",
            hook_def(
                bindings=[
                    {
                        "exchange": "exchange/taskcluster-queue/v1/task-created",
                        "routingKeyPattern": "#",
                    }
                ]
            ),
            400,
            "InputError",
        ),
        (
            "nightly",
            {k: v for k, v in hook_def().items() if k != "task"},
            400,
            "InputValidationError",
        ),
        ("bad.id", hook_def(), 400, "InvalidRequestArguments"),
    ],
)
def test_invalid_definitions_are_refused(
    lc: LocalCluster, hook_id: str, body: dict[str, Any], status: int, code: str
) -> None:
    expect_error(status, code, hooks(lc)._client.createHook, GROUP, hook_id, body)
    assert lc.state.hooks.hooks == {}


def test_scopes_of_definitions(lc: LocalCluster) -> None:
    body = expect_error(403, "InsufficientScopes", anonymous(lc).createHook, GROUP, "x", hook_def())
    assert f"hooks:modify-hook:{GROUP}/x" in body["message"]
    assert f"assume:hook-id:{GROUP}/x" in body["message"]
    creds = lc.add_client("dev", [f"hooks:modify-hook:{GROUP}/*"])
    body = expect_error(
        403, "InsufficientScopes", hooks(lc, creds).createHook, GROUP, "x", hook_def()
    )
    assert f"assume:hook-id:{GROUP}/x" in body["message"]
    hooks(lc).createHook(GROUP, "x", hook_def())
    assert anonymous(lc).hook(GROUP, "x")["hookId"] == "x"  # the anonymous role reads hooks
    assert anonymous(lc).listHookGroups() == {"groups": [GROUP]}


# -- triggering ----------------------------------------------------------------------


def test_trigger_renders_the_template_and_creates_the_task(lc: LocalCluster) -> None:
    client = make(lc)
    lc.reset_requests()
    fired = client.triggerHook(GROUP, "nightly", {"branch": "main"})
    task_id = fired["taskId"]
    assert fired == {"taskId": task_id, "status": {"taskId": task_id}}
    assert len(lc.requests) == 1  # the task is created inside the cluster
    task = queue(lc).task(task_id)
    assert task["payload"] == {"from": {"branch": "main"}, "firedBy": "triggerHook"}
    assert task["taskGroupId"] == task_id and task["created"] <= at(lc)
    assert queue(lc).status(task_id)["status"]["state"] == "pending"
    status = client.getHookStatus(GROUP, "nightly")["lastFire"]
    assert (status["result"], status["taskId"]) == ("success", task_id)


def test_trigger_with_a_task_id_and_trigger_schema(lc: LocalCluster) -> None:
    schema = {
        "type": "object",
        "properties": {"branch": {"type": "string"}, "taskId": {"type": "string"}},
        "additionalProperties": False,
    }
    client = make(lc, triggerSchema=schema)
    task_id = slug_id()
    assert client.triggerHook(GROUP, "nightly", {"taskId": task_id})["taskId"] == task_id
    body = expect_error(400, "InputError", client.triggerHook, GROUP, "nightly", {"branch": 3})
    assert body["message"].startswith("data/branch")
    body = expect_error(400, "InputError", client.triggerHook, GROUP, "nightly", {"taskId": "x"})
    assert body["message"].startswith("Invalid taskId format: x")
    expect_error(400, "InputValidationError", client._client.triggerHook, GROUP, "nightly", ["a"])
    expect_error(404, "ResourceNotFound", client.triggerHook, GROUP, "nothing", {})
    body = expect_error(403, "InsufficientScopes", anonymous(lc).triggerHook, GROUP, "nightly", {})
    assert f"hooks:trigger-hook:{GROUP}/nightly" in body["message"]


def test_a_role_without_the_scopes_is_403_and_an_error_fire(lc: LocalCluster) -> None:
    client = hooks(lc)
    client.createHook(GROUP, "bare", hook_def())  # no hook-id role at all
    body = expect_error(403, "InsufficientScopes", client.triggerHook, GROUP, "bare", {})
    assert body["message"].startswith(f"The hook's role `hook-id:{GROUP}/bare` lacks scopes")
    assert "Client ID static/taskcluster/hooks lacks scopes" in body["message"]
    assert "queue:scheduler-id:-" in body["message"]
    [fire] = client.listLastFires(GROUP, "bare")["lastFires"]
    assert (fire["result"], fire["firedBy"], fire["taskState"]) == (
        "error",
        "triggerHook",
        "unknown",
    )
    assert "InsufficientScopes" in fire["error"]
    status = client.getHookStatus(GROUP, "bare")["lastFire"]
    assert status["result"] == "error" and status["error"]["statusCode"] == 403


def test_a_task_the_queue_refuses_is_400_naming_create_task(lc: LocalCluster) -> None:
    task = copy.deepcopy(hook_def()["task"])
    task["deadline"] = {"$fromNow": "10 days"}
    client = make(lc, "late", task=task)
    body = expect_error(400, "InputError", client.triggerHook, GROUP, "late", {})
    assert "createTask" in body["message"] and "InputError" in body["message"]
    assert "`deadline` is more than" in body["message"]


def test_last_fires_newest_first_paged_with_task_state(lc: LocalCluster) -> None:
    client = make(lc)
    expect_error(404, "ResourceNotFound", client.listLastFires, GROUP, "nightly")  # never fired
    expect_error(404, "ResourceNotFound", client.listLastFires, GROUP, "nothing")
    ids = [client.triggerHook(GROUP, "nightly", {})["taskId"] for _ in range(3)]
    queue(lc).cancelTask(ids[0])
    fires = client.listLastFires(GROUP, "nightly")["lastFires"]
    assert [f["taskId"] for f in fires] == ids[::-1]
    assert [f["taskState"] for f in fires] == ["pending", "pending", "exception"]
    assert {f["result"] for f in fires} == {"success"} and {f["error"] for f in fires} == {""}
    first = client.listLastFires(GROUP, "nightly", query={"limit": 2})
    rest = client.listLastFires(
        GROUP, "nightly", query={"limit": 2, "continuationToken": first["continuationToken"]}
    )
    assert [f["taskId"] for f in first["lastFires"] + rest["lastFires"]] == ids[::-1]
    client.removeHook(GROUP, "nightly")
    expect_error(404, "ResourceNotFound", client.listLastFires, GROUP, "nightly")


# -- trigger tokens ---------------------------------------------------------------------


def test_trigger_tokens(lc: LocalCluster) -> None:
    client = make(lc)
    token = client.getTriggerToken(GROUP, "nightly")["token"]
    assert client.getTriggerToken(GROUP, "nightly")["token"] == token  # stable until reset
    assert token not in repr(lc.state.hooks.hooks)
    with_token = anonymous(lc).triggerHookWithToken(GROUP, "nightly", token, {"via": "token"})
    task = queue(lc).task(with_token["taskId"])
    assert task["payload"] == {"from": {"via": "token"}, "firedBy": "triggerHookWithToken"}
    new = client.resetTriggerToken(GROUP, "nightly")["token"]
    assert new != token
    with pytest.raises(taskcluster.TaskclusterAuthFailure) as info:
        anonymous(lc).triggerHookWithToken(GROUP, "nightly", token, {})
    assert (info.value.status_code, info.value.body["code"]) == (401, "AuthenticationFailed")
    assert info.value.body["message"].startswith("invalid hook token")
    answer = httpx.post(
        f"{lc.root_url}/api/hooks/v1/hooks/{GROUP}/nightly/trigger/{token}", json={}
    )
    assert answer.status_code == 401 and "www-authenticate" not in answer.headers
    anonymous(lc).triggerHookWithToken(GROUP, "nightly", new, {})
    # the token travels in the path: the request log shows it redacted
    paths = [r.path for r in lc.requests if r.entry == "triggerHookWithToken"]
    assert paths and all(p.endswith("/trigger/<redacted>") for p in paths)
    assert not any(t in r.path for r in lc.requests for t in (token, new))
    expect_error(404, "ResourceNotFound", anonymous(lc).triggerHookWithToken, GROUP, "x", new, {})
    expect_error(404, "ResourceNotFound", client.getTriggerToken, GROUP, "nothing")
    expect_error(404, "ResourceNotFound", client.resetTriggerToken, GROUP, "nothing")
    creds = lc.add_client("reader", [f"hooks:get:{GROUP}:*"])
    body = expect_error(
        403, "InsufficientScopes", hooks(lc, creds).getTriggerToken, GROUP, "nightly"
    )
    assert f"hooks:get-trigger-token:{GROUP}/nightly" in body["message"]
    assert [f["firedBy"] for f in client.listLastFires(GROUP, "nightly")["lastFires"]] == [
        "triggerHookWithToken",
        "triggerHookWithToken",
    ]


# -- schedules ---------------------------------------------------------------------------


def test_scheduled_hooks_fire_when_the_clock_passes(lc: LocalCluster) -> None:
    hourly = ["0 0 * * * *"]  # on the hour
    task = {**hook_def()["task"], "payload": {"firedBy": {"$eval": "firedBy"}}}
    client = make(lc, schedule=hourly, task=task)
    make(lc, "needs-payload", schedule=hourly)  # its template reads `payload`
    status = client.getHookStatus(GROUP, "nightly")
    assert status["lastFire"] == {"result": "no-fire"}
    assert at(lc) < status["nextScheduledDate"] <= at(lc, hours=1)
    assert "nextScheduledDate" not in make(lc, "manual").getHookStatus(GROUP, "manual")
    lc.advance(3600)
    client = hooks(lc)
    [fire] = client.listLastFires(GROUP, "nightly")["lastFires"]
    assert fire["firedBy"] == "schedule" and fire["result"] == "success"
    assert queue(lc).task(fire["taskId"])["payload"] == {"firedBy": "schedule"}
    assert client.getHookStatus(GROUP, "nightly")["nextScheduledDate"] > at(lc)
    [failed] = client.listLastFires(GROUP, "needs-payload")["lastFires"]
    assert failed["result"] == "error" and "payload" in failed["error"]


def test_builtin_entries_answer(lc: LocalCluster) -> None:
    for path in ("ping", "__lbheartbeat__", "__version__", "__heartbeat__"):
        assert httpx.get(f"{lc.root_url}/api/hooks/v1/{path}").status_code == 200, path
    served = {e for s, e in lc.served if s == "hooks"}
    assert {"ping", "lbheartbeat", "version", "heartbeat"} <= served
