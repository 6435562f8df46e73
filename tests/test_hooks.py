"""Hooks through tcmodel against the local cluster: handles cost nothing,
definitions and statuses load once, triggering returns the created task,
last fires, trigger tokens that never show, create/update/remove, the
cluster's listings, scope failures and request counts."""

from __future__ import annotations

import logging
import pickle
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from lc_client_support import entries

import tcmodel
from tcmodel.models import HookDefinition, HookFire
from tcmodel.resources.hook import Hook, TriggerToken
from tcmodel.testing import LocalCluster

GROUP = "proj"


def definition(**fields: Any) -> dict[str, Any]:
    """A hook whose task carries the trigger payload and who fired it."""
    body: dict[str, Any] = {
        "metadata": {"name": "nightly", "description": "test hook", "owner": "ci@example.com"},
        "schedule": [],
        "task": {
            "taskQueueId": "proj/ci",
            "schedulerId": "-",
            "created": {"$fromNow": "0 seconds"},
            "deadline": {"$fromNow": "1 hour"},
            "payload": {"from": {"$eval": "payload"}, "firedBy": {"$eval": "firedBy"}},
            "metadata": {
                "name": "hook task",
                "description": "made by a hook",
                "owner": "ci@example.com",
                "source": "https://example.com/hooks",
            },
        },
        "triggerSchema": {"type": "object", "additionalProperties": True},
    }
    body.update(fields)
    return body


@pytest.fixture
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        cluster.add_role(f"hook-id:{GROUP}/*", ["queue:create-task:*", "queue:scheduler-id:-"])
        yield cluster


def test_a_handle_costs_nothing_and_shows_its_identity(lc: LocalCluster, admin: Any) -> None:
    lc.reset_requests()
    hook = admin.hook(GROUP, "nightly")
    assert repr(hook) == "<Hook hookGroupId='proj' hookId='nightly'>"
    assert hook == admin.hook(GROUP, "nightly") and hook != admin.hook(GROUP, "other")
    assert hook.ui_url == f"{lc.root_url}/hooks/proj/nightly"
    assert hook.url == f"{lc.root_url}/api/hooks/v1/hooks/proj/nightly"
    assert not hook.loaded and "Hook" in hook._repr_html_()
    assert lc.requests == []
    with pytest.raises(ValueError, match="hookId"):
        admin.hook(GROUP, "a b")


def test_create_then_read_definition_once(lc: LocalCluster, admin: Any) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    assert isinstance(hook.definition, HookDefinition)
    assert repr(hook) == "<Hook 'nightly' hookGroupId='proj' hookId='nightly'>"
    lc.reset_requests()
    fresh = admin.hook(GROUP, "nightly")
    assert fresh.definition.metadata.owner == "ci@example.com"
    assert fresh.definition.task["taskQueueId"] == "proj/ci"
    assert fresh.definition.metadata.email_on_error is True  # the service's default
    assert fresh.status.result == "no-fire"
    assert fresh.definition.hook_id == "nightly" and fresh.status.task_id is None
    assert entries(lc) == ["hook", "getHookStatus"]  # each loaded once


def test_create_is_idempotent_and_conflicts_on_change(admin: Any) -> None:
    hook = admin.hook(GROUP, "nightly")
    hook.create(definition(bindings=[]))
    hook.create(definition(bindings=[]))  # the identical definition again: fine
    with pytest.raises(tcmodel.RequestConflict):
        hook.create(definition(bindings=[], schedule=["0 0 3 * * *"]))


def test_trigger_returns_the_created_task(lc: LocalCluster, admin: Any) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    assert hook.status.result == "no-fire"
    lc.reset_requests()
    task = hook.trigger({"branch": "main"})
    assert entries(lc) == ["triggerHook"]  # the handle costs nothing more
    assert isinstance(task, tcmodel.resources.Task)
    assert task.definition.payload == {"from": {"branch": "main"}, "firedBy": "triggerHook"}
    assert task.state == "pending"
    # the status was forgotten: the next read sees the firing
    assert hook.status.result == "success" and hook.status.task_id == task.task_id


def test_a_template_that_renders_nothing_makes_no_task(admin: Any) -> None:
    hook = admin.hook(GROUP, "maybe").create(
        definition(task={"$if": "payload.go", "then": definition()["task"]})
    )
    assert hook.trigger({"go": False}) is None
    assert hook.trigger({"go": True}) is not None


def test_trigger_checks_the_payload_against_the_schema(admin: Any) -> None:
    strict = {"type": "object", "additionalProperties": False}
    hook = admin.hook(GROUP, "strict").create(definition(triggerSchema=strict))
    with pytest.raises(tcmodel.BadRequest):
        hook.trigger({"unexpected": 1})


def test_last_fires_are_a_paged_listing(lc: LocalCluster, admin: Any) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    made = [hook.trigger({"n": n}) for n in range(3)]
    lc.reset_requests()
    fires = list(hook.last_fires().page_size(2))
    assert all(isinstance(f, HookFire) for f in fires)
    assert [f.task_id for f in fires] == [t.task_id for t in reversed(made) if t is not None]
    assert {f.fired_by for f in fires} == {"triggerHook"} and fires[0].task_state == "pending"
    assert entries(lc) == ["listLastFires", "listLastFires"]


def test_trigger_tokens_never_show(lc: LocalCluster, admin: Any, caplog: Any) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    caplog.set_level(logging.DEBUG)
    token = hook.get_token()
    secret = token.value
    assert isinstance(token, TriggerToken) and len(secret) >= 20
    shown = repr(token) + str(token) + f"{token}" + repr(hook) + hook._repr_html_()
    assert secret not in shown
    assert secret not in caplog.text
    with pytest.raises(TypeError, match="secret"):
        pickle.dumps(token)
    new = hook.reset_token()
    assert new.value != secret and new == hook.get_token() and new != token
    assert new.value not in repr(new)


def test_update_and_remove(lc: LocalCluster, admin: Any) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    updated = hook.update({**hook.definition.raw, "schedule": ["0 0 3 * * *"]})
    assert updated is hook and hook.definition.schedule == ("0 0 3 * * *",)
    assert admin.hook(GROUP, "nightly").status.raw.get("nextScheduledDate")
    hook.remove()
    assert not hook.loaded
    with pytest.raises(tcmodel.NotFound):
        admin.hook(GROUP, "nightly").definition


def test_cluster_lists_groups_and_hooks_in_one_request_each(lc: LocalCluster, admin: Any) -> None:
    for name in ("a", "b"):
        admin.hook(GROUP, name).create(definition())
    admin.hook("other", "c").create({"metadata": definition()["metadata"], "task": {}})
    lc.reset_requests()
    assert admin.hook_groups() == ["other", "proj"]
    hooks = admin.hooks(GROUP)
    assert [h.hook_id for h in hooks] == ["a", "b"] and all(h.loaded for h in hooks)
    assert [h.definition.metadata.name for h in hooks] == ["nightly", "nightly"]
    assert entries(lc) == ["listHookGroups", "listHooks"]
    assert all(isinstance(h, Hook) for h in hooks)


def test_scope_failures_name_the_missing_scope(lc: LocalCluster, admin: Any) -> None:
    admin.hook(GROUP, "nightly").create(definition())
    creds = lc.add_client("reader", ["hooks:get:proj:*"])
    with lc.connect(creds) as reader:
        hook = reader.hook(GROUP, "nightly")
        assert hook.definition.hook_id == "nightly"
        with pytest.raises(tcmodel.InsufficientScopes, match="hooks:trigger-hook:proj/nightly"):
            hook.trigger({})
        with pytest.raises(tcmodel.InsufficientScopes, match="get-trigger-token") as err:
            hook.get_token()
        assert "hooks:get-trigger-token:proj/nightly" in str(err.value)


def test_a_hook_without_its_role_cannot_create_the_task(lc: LocalCluster, admin: Any) -> None:
    hook = admin.hook("norole", "x").create(
        {"metadata": definition()["metadata"], "task": definition()["task"]}
    )
    with pytest.raises(tcmodel.InsufficientScopes):
        hook.trigger({})
    assert hook.status.result == "error"


def test_async_trigger_runs_the_same_operation(lc: LocalCluster, admin: Any) -> None:
    import asyncio

    from tcmodel.resources.hook import hook_groups

    admin.hook(GROUP, "nightly").create(definition())

    async def main() -> list[str]:
        async with lc.connect() as c:
            return await c.transport.arun(hook_groups(c.transport))

    assert asyncio.run(main()) == ["proj"]


def test_hook_models_display_without_requests(lc: LocalCluster, admin: Any) -> None:
    from tcmodel.display.views import html, text

    hook = admin.hook(GROUP, "nightly").create(definition())
    hook.trigger({"x": 1})
    shown = [hook.definition, hook.definition.metadata, hook.status, hook.last_fires().first()]
    shown.append(hook)
    lc.reset_requests()
    for obj in shown:
        assert text(obj).splitlines()[0] == repr(obj)
        assert type(obj).__name__ in html(obj)
    assert "trigger_schema" in text(hook.definition) and "lastFire='success'" in text(hook)
    assert lc.requests == []


def test_without_the_local_extra_a_trigger_says_what_to_install(
    lc: LocalCluster, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = admin.hook(GROUP, "nightly").create(definition())
    monkeypatch.setitem(sys.modules, "jsone", None)  # JSON-e not installed
    with pytest.raises(tcmodel.ServerError, match=r"tcmodel\[local\]"):
        hook.trigger({})
