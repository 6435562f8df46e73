"""The services through their async twins (issue 11): auth (scopes, clients,
roles), secrets, notify, purge-cache, hooks, task queues and workers, and
the Cluster's service methods — each test runs through the sync API and
through ``await x.aname()`` (asyncio and trio, see tests/drivers.py) against
the local cluster over HTTP, asserting the same results and the same
requests. Then what only async code meets: unloaded data read inside the
event loop says what to await, and twins run concurrently."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from drivers import Driver, driver

import tcmodel
from tcmodel.resources.hook import Hook, TriggerToken
from tcmodel.testing import LocalCluster

__all__ = ["driver"]  # the fixture, used by name

TQ = "proj/async-services"


@pytest.fixture
def lc(tc_cluster: LocalCluster) -> LocalCluster:
    """The plugin's local cluster (root client: ``admin``)."""
    tc_cluster.add_role("hook-id:proj/*", ["queue:create-task:*", "queue:scheduler-id:-"])
    return tc_cluster


@pytest.fixture
def admin(tc_client: tcmodel.Cluster) -> tcmodel.Cluster:
    return tc_client


def entries(lc: LocalCluster) -> list[str | None]:
    """The API entries the cluster answered since the last reset, then reset."""
    seen = [r.entry for r in lc.requests]
    lc.reset_requests()
    return seen


def hook_definition() -> dict[str, Any]:
    return {
        "metadata": {"name": "nightly", "description": "", "owner": "ci@example.com"},
        "task": {
            "taskQueueId": TQ,
            "schedulerId": "-",
            "created": {"$fromNow": "0 seconds"},
            "deadline": {"$fromNow": "1 hour"},
            "payload": {"branch": {"$eval": "payload.branch"}},
            "metadata": {
                "name": "nightly build",
                "description": "",
                "owner": "ci@example.com",
                "source": "https://example.com/hooks",
            },
        },
        "triggerSchema": {"type": "object"},
    }


# -- auth: the caller's scopes ----------------------------------------------------------


def test_scopes(driver: Driver, lc: LocalCluster) -> None:
    lc.add_role("project:ci", ["queue:create-task:highest:proj/*"])
    creds = lc.add_client("project/ci", ["assume:project:ci"])
    with lc.connect(creds) as c:
        lc.reset_requests()
        scopes = driver.call(c, "current_scopes")
        assert "queue:create-task:highest:proj/*" in scopes
        assert entries(lc) == ["currentScopes"]
        assert driver.call(c, "expand_scopes", ["assume:project:ci"]) == [
            "assume:project:ci",
            "queue:create-task:highest:proj/*",
        ]
        assert entries(lc) == ["expandScopes"]
        assert driver.call(c, "satisfies", "queue:create-task:highest:proj/x") is True
        assert driver.call(c, "satisfies", [["auth:create-client:x"]]) is False
        assert entries(lc) == ["currentScopes", "currentScopes"]
        tested = driver.call(c, "test_authenticate", ["test:*"], ["test:a"])
        assert tested == ["assume:anonymous", "test:*"]
        with pytest.raises(tcmodel.InsufficientScopes):
            driver.call(c, "test_authenticate", ["test:a"], ["test:b"])
        with pytest.raises(tcmodel.InsufficientScopes, match="auth:aws-s3:read-only"):
            driver.call(c, "aws_s3_credentials", "bucket", "proj/")
        assert entries(lc) == ["testAuthenticate", "testAuthenticate", "awsS3Credentials"]
        with pytest.raises(TypeError, match="not a flat list"):
            driver.call(c, "satisfies", ["a", "b"])
        assert entries(lc) == []  # refused before sending


# -- auth: clients and roles --------------------------------------------------------------


def test_client_life(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    creds = driver.call(admin.client("proj/bot"), "create", scopes=["a:1"], description="bot")
    assert creds.client_id == "proj/bot" and creds.access_token not in repr(creds)
    assert entries(lc) == ["createClient"]
    fresh = admin.client("proj/bot")
    assert driver.call(fresh, "info").scopes == ("a:1",)
    assert driver.call(fresh, "info").description == "bot"  # loaded once
    assert fresh.expanded_scopes == ("a:1",) and not fresh.disabled  # derived: no request
    assert entries(lc) == ["client"]
    # update of an unloaded handle reads first; of a loaded one does not
    changed = driver.call(admin.client("proj/bot"), "update", description="the bot")
    assert changed.scopes == ("a:1",) and changed.description == "the bot"
    assert entries(lc) == ["client", "updateClient"]
    assert fresh.description == "bot"  # what it loaded, until refreshed
    assert driver.call(fresh, "refresh") is fresh and fresh.description == "the bot"
    assert driver.call(fresh, "update", scopes=["a:1", "b:2"]).scopes == ("a:1", "b:2")
    assert fresh.description == "the bot"
    assert driver.call(fresh, "disable").disabled is True
    assert driver.call(fresh, "enable").disabled is False
    assert entries(lc) == ["client", "updateClient", "disableClient", "enableClient"]
    new = driver.call(fresh, "reset_token")
    assert new.access_token != creds.access_token and new.access_token not in repr(new)
    with lc.connect(new) as as_bot:
        held = as_bot.current_scopes()  # the new token works
    assert {"a:1", "b:2"} <= set(held) and "*" not in held
    lc.reset_requests()
    driver.call(fresh, "delete")
    assert not fresh.loaded and entries(lc) == ["deleteClient"]
    with pytest.raises(tcmodel.NotFound):
        driver.call(admin.client("proj/bot"), "info")


def test_role_life(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.add_role("proj:base", ["index:insert-task:proj.*"])
    lc.reset_requests()
    role = driver.call(admin.role("proj:ci"), "create", ["assume:proj:base"], description="ci")
    assert role.expanded_scopes == (
        "assume:proj:base",
        "assume:proj:ci",
        "index:insert-task:proj.*",
    )
    assert entries(lc) == ["createRole"]
    fresh = admin.role("proj:ci")
    assert driver.call(fresh, "info").description == "ci"
    assert driver.call(fresh, "info").scopes == ("assume:proj:base",)
    assert entries(lc) == ["role"]
    assert driver.call(admin.role("proj:ci"), "update", description="CI").scopes == (
        "assume:proj:base",
    )
    assert entries(lc) == ["role", "updateRole"]
    assert driver.call(fresh, "update", ["a:1"], description="CI").scopes == ("a:1",)
    assert driver.call(fresh, "refresh").description == "CI"
    assert entries(lc) == ["updateRole", "role"]
    driver.call(fresh, "delete")
    assert not fresh.loaded and entries(lc) == ["deleteRole"]
    assert fresh not in driver.list(admin.roles())


# -- secrets -------------------------------------------------------------------------------


def test_secret_life(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    secret = driver.call(admin.secret("proj/token"), "set", {"token": "hunter2"}, expires="1 day")
    assert secret.loaded and "hunter2" not in repr(secret)
    assert entries(lc) == ["set"]
    fresh = admin.secret("proj/token")
    assert driver.call(fresh, "value") == {"token": "hunter2"}
    assert driver.call(fresh, "value")["token"] == "hunter2"  # loaded once
    assert fresh.expires.timestamp() == pytest.approx(lc.clock.now() + 86400, abs=5)
    assert entries(lc) == ["get"]
    admin.secret("proj/token").set({"token": "changed"})
    lc.reset_requests()
    assert driver.call(fresh, "refresh").value == {"token": "changed"}
    assert entries(lc) == ["get"]
    with pytest.raises(TypeError, match="JSON object"):
        driver.call(fresh, "set", ["not", "a", "dict"])
    assert entries(lc) == []  # refused before sending
    driver.call(fresh, "remove")
    assert not fresh.loaded and entries(lc) == ["remove"]
    with pytest.raises(tcmodel.NotFound):
        driver.call(admin.secret("proj/token"), "value")


# -- notify --------------------------------------------------------------------------------


def test_notify(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    notify = admin.notify
    lc.state.notify.channels.add("matrix")
    lc.reset_requests()
    sent = driver.call(notify, "email", "dev@example.com", "Done", "All green.", reply_to="a@b.c")
    assert sent is True and lc.notifications[-1].body["replyTo"] == "a@b.c"
    again = driver.call(notify, "email", "dev@example.com", "Done", "All green.", reply_to="a@b.c")
    assert again is False  # the same message again: dropped
    assert driver.call(notify, "matrix", "!room:example.com", "deployed", msgtype="m.notice")
    assert driver.call(notify, "slack", "C0123", "deployed") is False  # no Slack here
    assert driver.call(notify, "pulse", "proj.done", {"ok": True}) is True
    assert lc.notifications[-1].body["message"] == {"ok": True}
    assert entries(lc) == ["email", "email", "matrix", "slack", "pulse"]
    with pytest.raises(ValueError, match="template"):
        driver.call(notify, "email", "dev@example.com", "s", "c", template="fancy")
    assert entries(lc) == []
    driver.call(notify, "deny", "email", "blocked@example.com")
    with pytest.raises(tcmodel.BadRequest, match="DenylistedAddress"):
        driver.call(notify, "email", "blocked@example.com", "hi", "there")
    assert [a.notification_address for a in driver.list(notify.denylist())] == [
        "blocked@example.com"
    ]
    driver.call(notify, "allow", "email", "blocked@example.com")
    assert driver.call(notify, "email", "blocked@example.com", "hi", "there") is True
    assert entries(lc) == [
        "addDenylistAddress",
        "email",
        "listDenylist",
        "deleteDenylistAddress",
        "email",
    ]


# -- purge-cache ---------------------------------------------------------------------------


def test_purge_cache(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    assert driver.call(admin, "purge_cache", "proj/pool", "checkouts") is None
    assert entries(lc) == ["purgeCache"]
    listed = driver.list(admin.purge_requests("proj/pool", since="-1 hour"))
    assert [r.cache_name for r in listed] == ["checkouts"]
    with pytest.raises(ValueError, match="worker pool id"):
        driver.call(admin, "purge_cache", "no-slash", "checkouts")
    assert entries(lc) == ["purgeRequests"]


# -- hooks ---------------------------------------------------------------------------------


def test_hook_life(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    hook = driver.call(admin.hook("proj", "nightly"), "create", hook_definition())
    assert repr(hook) == "<Hook 'nightly' hookGroupId='proj' hookId='nightly'>"
    assert entries(lc) == ["createHook"]
    fresh = admin.hook("proj", "nightly")
    assert driver.call(fresh, "definition").task["taskQueueId"] == TQ
    assert driver.call(fresh, "definition").metadata.name == "nightly"  # loaded once
    assert driver.call(fresh, "status").result == "no-fire"
    assert entries(lc) == ["hook", "getHookStatus"]
    made = driver.call(fresh, "trigger", {"branch": "main"})
    assert isinstance(made, tcmodel.resources.Task)
    assert entries(lc) == ["triggerHook"]
    assert made.definition.payload == {"branch": "main"}
    lc.reset_requests()
    status = driver.call(fresh, "status")  # forgotten by the trigger: loaded again
    assert status.result == "success" and status.task_id == made.task_id
    assert entries(lc) == ["getHookStatus"]
    token = driver.call(fresh, "get_token")
    assert isinstance(token, TriggerToken) and token.value not in repr(token)
    new = driver.call(fresh, "reset_token")
    assert new != token and new == fresh.get_token()
    assert entries(lc) == ["getTriggerToken", "resetTriggerToken", "getTriggerToken"]
    body = {**hook_definition(), "schedule": ["0 0 3 * * *"]}
    assert driver.call(fresh, "update", body).definition.schedule == ("0 0 3 * * *",)
    assert entries(lc) == ["updateHook"]
    assert driver.call(admin, "hook_groups") == ["proj"]
    [listed] = driver.call(admin, "hooks", "proj")
    assert isinstance(listed, Hook) and listed.loaded and listed.definition.schedule
    assert entries(lc) == ["listHookGroups", "listHooks"]
    driver.call(fresh, "remove")
    assert not fresh.loaded and entries(lc) == ["removeHook"]
    assert driver.call(admin, "hook_groups") == []


# -- task queues and workers ---------------------------------------------------------------


def test_task_queue_and_worker(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    admin.create_task(task_queue_id=TQ, payload={}, name="waits")
    admin.create_task(task_queue_id=TQ, payload={}, name="runs")
    lc.reset_requests()
    tq = admin.task_queue(TQ)
    assert driver.call(tq, "counts").pending_tasks == 2
    assert (tq.pending_count, tq.claimed_count) == (2, 0)  # derived: no request
    with pytest.raises(tcmodel.NotFound):  # no worker has claimed from it yet
        driver.call(tq, "info")
    assert entries(lc) == ["taskQueueCounts", "getTaskQueue"]
    [claim] = driver.call(tq, "claim_work", "wg", "w1")
    assert claim.task.state == "running" and entries(lc) == ["claimWork"]
    assert driver.call(tq, "info").task_queue_id == TQ
    claim.completed()
    worker = tq.worker("wg", "w1")
    lc.reset_requests()
    info = driver.call(worker, "info")
    assert [t["taskId"] for t in info.recent_tasks] == [claim.task_id]
    assert worker.latest_task == claim.task and not worker.quarantined  # from info
    assert entries(lc) == ["getWorker"]
    assert driver.call(worker, "quarantine", "1 hour", reason="flaky").quarantined is True
    assert driver.call(worker, "quarantine", "-1 second").quarantined is False
    assert entries(lc) == ["quarantineWorker", "quarantineWorker"]
    with pytest.raises(ValueError, match="between 1 and 32"):
        driver.call(tq, "claim_work", "wg", "w1", tasks=33)
    with pytest.raises(ValueError, match="workerId"):
        driver.call(tq, "claim_work", "wg", "a/b")
    assert entries(lc) == []  # refused before sending


# -- the cluster: ping, tasks, the index ------------------------------------------------


def test_cluster_tasks_and_index(driver: Driver, lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.reset_requests()
    assert driver.call(admin, "ping")["alive"] is True
    made = driver.call(
        admin,
        "create_task",
        task_queue_id=TQ,
        payload={"n": 1},
        name="made",
        deadline="2 hours",
        routes=["index.proj.made"],
    )
    assert made.state == "pending"  # the status came with the answer
    assert entries(lc) == ["ping", "createTask"]
    assert made.definition.deadline - made.definition.created == timedelta(hours=2)
    with pytest.raises(ValueError, match="task_queue_id"):
        driver.call(admin, "create_task", task_queue_id="nope", payload={}, name="x")
    lc.reset_requests()
    definition = {
        "taskQueueId": TQ,
        "deadline": "1 hour",
        "payload": {},
        "metadata": {"name": "sub", "description": "", "owner": "a@b.c", "source": "https://x"},
    }
    submitted = driver.call(admin, "submit_task", definition)
    again = driver.call(admin, "submit_task", submitted.definition, submitted.task_id)
    assert again == submitted and again.state == "pending"
    assert entries(lc) == ["createTask", "task", "createTask"]  # a retry: fine
    admin.index("proj.made").insert(made, expires="1 day")
    lc.reset_requests()
    found = driver.call(admin, "find_tasks", ["proj.made", "proj.none"])
    assert found["proj.made"] == made and found.missing == ("proj.none",)
    assert entries(lc) == ["findTasksAtIndex"]


# -- what only async code meets ------------------------------------------------------------


def test_unloaded_data_in_async_code_says_what_to_await(lc: LocalCluster) -> None:
    admin = lc.connect()
    admin.secret("proj/s").set({"a": 1})
    admin.hook("proj", "h").create(hook_definition())
    lc.reset_requests()

    async def main() -> None:
        async with lc.connect() as c:
            await c.aping()
            reads: list[tuple[Any, str, str]] = [
                (c.secret("proj/s"), "value", "await secret.avalue()"),
                (c.secret("proj/s"), "expires", "await secret.avalue()"),
                (c.client("static/taskcluster/root"), "scopes", "await client.ainfo()"),
                (c.role("anonymous"), "description", "await role.ainfo()"),
                (c.hook("proj", "h"), "definition", "await hook.adefinition()"),
                (c.hook("proj", "h"), "status", "await hook.astatus()"),
                (c.task_queue(TQ), "pending_count", "await taskqueue.acounts()"),
                (c.task_queue(TQ), "info", "await taskqueue.ainfo()"),
                (c.task_queue(TQ).worker("wg", "w"), "info", "await worker.ainfo()"),
            ]
            for handle, name, hint in reads:
                with pytest.raises(tcmodel.AsyncUsageError, match=hint):
                    getattr(handle, name)
            with pytest.raises(tcmodel.AsyncUsageError, match="async twin"):
                c.secret("proj/s").set({"b": 2})  # a sync action would block the loop
            secret = c.secret("proj/s")
            assert await secret.avalue() == {"a": 1}
            assert secret.value == {"a": 1} and secret.expires is not None  # loaded now

    asyncio.run(main())
    assert entries(lc) == ["ping", "get"]  # nothing sent for the refused reads
    assert admin.secret("proj/s").value == {"a": 1}
    admin.close()


def test_service_twins_run_concurrently(lc: LocalCluster) -> None:
    with lc.connect() as admin:
        for i in range(20):
            admin.secret(f"proj/many/{i}").set({"i": i})
    lc.reset_requests()
    lc.inject("delay", delay=0.2, entry="get", times=20)

    async def main() -> list[dict[str, Any]]:
        async with lc.connect() as c:
            handles = [c.secret(f"proj/many/{i}") for i in range(20)]
            return await asyncio.gather(*(s.avalue() for s in handles))

    t0 = time.monotonic()
    values = asyncio.run(main())
    elapsed = time.monotonic() - t0
    assert [v["i"] for v in values] == list(range(20))
    assert entries(lc) == ["get"] * 20
    assert elapsed < 20 * 0.2 / 2  # not one after another
