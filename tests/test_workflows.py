"""Three real-world workflows ported onto a local cluster, end to end.

Each runs with the scoped client such code has in production, does what
the original does (through tcmodel's public API only), and asserts the
exact requests it cost and its outcome:

* a decision task: checks its scopes, looks up a few hundred cached tasks
  by index path in bulk, submits the definitions it rendered (a retried
  submission included) and indexes itself;
* an action: triggers an in-tree action hook and emails about it;
* an ingestion: walks a task group, reads each resolved run's statuses and
  artifacts, reads its config from a secret and purges a cache.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

import tcmodel
from tcmodel.resources import Task
from tcmodel.testing import LocalCluster
from tcmodel.testing.server import RequestRecord
from tcmodel.testing.worker import Worker
from tcmodel.utils import slug_id


def calls(records: list[RequestRecord]) -> list[tuple[str | None, str | None, int]]:
    """What each request was: (service, entry, status); blob GETs are ("blob", None, …)."""
    return [(r.service if r.origin == "api" else "blob", r.entry, r.status) for r in records]


# -- a decision task --------------------------------------------------------------------

REPO_ROLE = "repo:github.com/proj/app:branch:main"
SCHEDULER = "proj-level-1"
CACHED = 250  # toolchains indexed by an earlier push
WANTED = 300  # toolchains this push needs: 50 never built
FAILED = "toolchain-7"  # cached, but its task failed: not reusable


def toolchain_path(label: str) -> str:
    return f"proj.app.cache.level-1.toolchains.{label}"


def seed_cached_toolchains(lc: LocalCluster, admin: tcmodel.Cluster) -> dict[str, Task]:
    """An earlier push's toolchain tasks, run and indexed by their cache path."""
    made = {}
    for n in range(CACHED):
        label = f"toolchain-{n}"
        made[label] = admin.create_task(
            task_queue_id="proj/toolchains", payload={}, name=label, scheduler_id=SCHEDULER
        )
        admin.index(toolchain_path(label)).insert(made[label], data={"label": label})
    by_id = {t.task_id: label for label, t in made.items()}
    with Worker(lc, "proj/toolchains") as worker:
        for run in worker.claim(CACHED):
            if by_id[run.task_id] == FAILED:
                run.fail()
            else:
                run.complete()
    return made


def render(label: str, decision: str, now: datetime, deps: list[str]) -> dict[str, Any]:
    """A task definition as the decision task renders it (ISO date strings)."""
    return {
        "taskQueueId": "proj/ci",
        "schedulerId": SCHEDULER,
        "taskGroupId": decision,
        "dependencies": deps,
        "created": now.isoformat().replace("+00:00", "Z"),
        "deadline": (now + timedelta(days=1)).isoformat(),
        "expires": (now + timedelta(days=28)).isoformat(),
        "priority": "low",
        "routes": [f"index.proj.app.v2.main.latest.{label}"],
        "payload": {"command": ["./mach", "build", label]},
        "metadata": {
            "name": label,
            "description": f"{label} for push 42",
            "owner": "dev@example.com",
            "source": "https://github.com/proj/app/blob/main/taskcluster/kinds",
        },
        "extra": {"label": label},
    }


def decide(cluster: tcmodel.Cluster, decision: str, now: datetime) -> dict[str, Task]:
    """The decision task's job, as taskgraph does it: returns label → Task."""
    if not cluster.satisfies(
        [
            [
                "queue:create-task:low:proj/ci",
                "queue:create-task:project:none",
                f"queue:scheduler-id:{SCHEDULER}",
                "queue:route:index.proj.app.v2.main.*",
                "index:insert-task:proj.app.v2.main.*",
            ]
        ]
    ):
        raise RuntimeError("the decision task lacks scopes")
    labels = [f"toolchain-{n}" for n in range(WANTED)]
    found = cluster.find_tasks(toolchain_path(label) for label in labels)
    reused = {
        label: found[toolchain_path(label)]
        for label in labels
        if toolchain_path(label) in found and found[toolchain_path(label)].state == "completed"
    }
    graph: dict[str, Task] = dict(reused)
    for label in labels:
        if label not in reused:
            graph[label] = cluster.submit_task(render(label, decision, now, []))
    ready = [reused[f"toolchain-{n}"].task_id for n in range(10, 20)]
    builds = {
        "build-linux64": render("build-linux64", decision, now, ready),
        "build-win64": render(
            "build-win64", decision, now, [*ready, graph["toolchain-250"].task_id]
        ),
    }
    for label, definition in builds.items():
        task_id = slug_id()
        graph[label] = cluster.submit_task(definition, task_id=task_id)
        # submitted again, as a retried decision task does: the same task, no conflict
        assert cluster.submit_task(definition, task_id=task_id) == graph[label]
    cluster.index("proj.app.v2.main.latest.taskgraph.decision").insert(decision, data={"push": 42})
    return graph


def test_a_decision_task(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    cached = seed_cached_toolchains(lc, admin)
    lc.add_role(
        REPO_ROLE,
        [
            "queue:create-task:low:proj/*",
            "queue:create-task:project:none",
            f"queue:scheduler-id:{SCHEDULER}",
            "queue:route:index.proj.app.v2.main.*",
            "index:insert-task:proj.app.v2.main.*",
        ],
    )
    creds = lc.add_client("decision/proj-app", [f"assume:{REPO_ROLE}"])
    decision_id = slug_id()
    admin.create_task(
        task_queue_id="proj/decision",
        payload={},
        name="Decision Task",
        task_id=decision_id,
        task_group_id=decision_id,
        scheduler_id=SCHEDULER,
    )
    with Worker(lc, "proj/decision") as worker, lc.connect(creds) as cluster:
        run = worker.claim_task(decision_id)
        # a lost answer to one createTask: the transport sends it again
        lost = lc.inject("truncate", entry="createTask", keep=5)
        lc.reset_requests()
        now = lc.clock.now_dt()
        graph = decide(cluster, decision_id, now)
        seen = lc.requests
        run.complete()

    submitted = WANTED - CACHED + 1 + 2  # the missing toolchains, the failed one, two builds
    assert calls(seen) == [
        ("auth", "currentScopes", 200),
        ("index", "findTasksAtIndex", 200),  # 300 paths: one request
        ("queue", "statuses", 200),  # the 250 found, in bulk
        *[("queue", "createTask", 200)] * (submitted + 2 + 1),  # + 2 retries + 1 lost answer
        ("index", "insertTask", 200),
    ]
    assert lost.hits == 1
    assert {r.client_id for r in seen} == {"decision/proj-app"}

    # outcome: cached completed toolchains reused, the rest submitted into the group
    assert len(graph) == WANTED + 2
    assert graph["toolchain-3"] == cached["toolchain-3"]
    assert graph[FAILED] != cached[FAILED]
    new = [t for t in graph.values() if t.task_id not in {c.task_id for c in cached.values()}]
    assert len(new) == submitted
    assert graph["build-linux64"].state == "pending"  # its toolchains are all done
    assert graph["build-win64"].state == "unscheduled"  # waits for toolchain-250
    lc.reset_requests()
    listed = list(admin.task_group(decision_id).tasks())
    assert len(listed) == submitted + 1  # and the decision task itself
    assert calls(lc.requests) == [("queue", "listTaskGroup", 200)]
    build = admin.task(graph["build-win64"].task_id)
    assert abs(build.definition.created - now) < timedelta(milliseconds=1)  # kept as rendered
    assert [d.name for d in build.dependencies][-1] == "toolchain-250"
    found = admin.index("proj.app.v2.main.latest.taskgraph.decision").entry()
    assert found.task_id == decision_id and found.data == {"push": 42}


def test_a_decision_task_without_its_scopes_stops_before_submitting(lc: LocalCluster) -> None:
    creds = lc.add_client("decision/proj-app", ["queue:create-task:low:proj/*"])
    with lc.connect(creds) as cluster:
        lc.reset_requests()
        with pytest.raises(RuntimeError, match="lacks scopes"):  # untyped ok: the workflow's own
            decide(cluster, slug_id(), lc.clock.now_dt())
        assert calls(lc.requests) == [("auth", "currentScopes", 200)]
        with pytest.raises(tcmodel.InsufficientScopes, match=r"index:insert-task:proj\.app"):
            cluster.index("proj.app.v2.main.latest.taskgraph.decision").insert(slug_id())


# -- an action ----------------------------------------------------------------------------

ACTIONS = "project-app"
ACTION_HOOK = "in-tree-action-1-generic/8fe3b1a2c4"


def action_hook() -> dict[str, Any]:
    """An in-tree action hook as taskgraph defines it: the task it makes runs
    the action named in the payload against the task it names."""
    return {
        "metadata": {
            "name": "in-tree action",
            "description": "runs an action of the decision task",
            "owner": "dev@example.com",
        },
        "task": {
            "taskQueueId": "proj/decision",
            "schedulerId": SCHEDULER,
            "taskGroupId": {"$eval": "payload.decision.taskGroupId"},
            "created": {"$fromNow": "0 seconds"},
            "deadline": {"$fromNow": "1 day"},
            "payload": {
                "action": {"$eval": "payload.decision.action"},
                "input": {"$eval": "payload.user.input"},
                "taskId": {"$eval": "payload.user.taskId"},
            },
            "metadata": {
                "name": {"$eval": "'Action: ' + payload.decision.action"},
                "description": "an action task",
                "owner": "dev@example.com",
                "source": "https://github.com/proj/app",
            },
        },
        "triggerSchema": {
            "type": "object",
            "required": ["decision", "user"],
            "properties": {"decision": {"type": "object"}, "user": {"type": "object"}},
        },
    }


def retrigger(cluster: tcmodel.Cluster, failed: Task, times: int, who: str) -> Task:
    """What a "retrigger" button does: fire the action hook for ``failed``
    (already loaded from the push's listing) and tell the user."""
    payload = {
        "decision": {"action": "retrigger", "taskGroupId": failed.status.task_group_id},
        "user": {"input": {"times": times}, "taskId": failed.task_id},
    }
    action = cluster.hook(ACTIONS, ACTION_HOOK).trigger(payload)
    assert action is not None
    cluster.notify.email(
        who,
        f"Retriggering {failed.name} ({times}×)",
        f"The action task `{action.task_id}` retriggers **{failed.name}**.",
        link=("Open the action task", action.ui_url),
    )
    return action


def test_an_action(lc: LocalCluster, admin: tcmodel.Cluster) -> None:
    lc.add_role(
        f"hook-id:{ACTIONS}/*",
        ["queue:create-task:*", f"queue:scheduler-id:{SCHEDULER}"],
    )
    admin.hook(ACTIONS, ACTION_HOOK).create(action_hook())
    group = slug_id()
    failed = admin.create_task(
        task_queue_id="proj/ci",
        payload={},
        name="test-linux64/opt-mochitest-3",
        task_group_id=group,
        scheduler_id=SCHEDULER,
    )
    with Worker(lc, "proj/ci") as worker:
        worker.run(failed.task_id, outcome="failed", log="TEST-UNEXPECTED-FAIL\n")
    creds = lc.add_client(
        "treeherder/actions",
        [f"hooks:trigger-hook:{ACTIONS}/in-tree-action-1-*", "notify:email:*"],
    )
    with lc.connect(creds) as cluster:
        listed = cluster.task_group(group).tasks().filter(state="failed").first()
        assert listed == failed
        lc.reset_requests()
        action = retrigger(cluster, listed, 3, "dev@example.com")
        assert calls(lc.requests) == [
            ("hooks", "triggerHook", 200),
            ("notify", "email", 200),
        ]
        assert {r.client_id for r in lc.requests} == {"treeherder/actions"}
        # the trigger's answer names the task only: its state is one more request
        assert action.state == "pending"
        assert calls(lc.requests)[2:] == [("queue", "status", 200)]

        # another project's hooks are out of this client's reach
        with pytest.raises(tcmodel.InsufficientScopes, match="hooks:trigger-hook:other/x"):
            cluster.hook("other", "x").trigger({})

    # outcome: the action task is in the push's group with the action's input
    made = admin.task(action.task_id)
    assert made.status.task_group_id == group
    assert made.definition.payload == {
        "action": "retrigger",
        "input": {"times": 3},
        "taskId": failed.task_id,
    }
    assert made.name == "Action: retrigger"
    fire = admin.hook(ACTIONS, ACTION_HOOK).last_fires().first()
    assert fire is not None and fire.task_id == action.task_id and fire.result == "success"
    [email] = [n for n in lc.notifications if n.kind == "email"]
    assert email.address == "dev@example.com" and email.client_id == "treeherder/actions"
    assert email.body["subject"] == "Retriggering test-linux64/opt-mochitest-3 (3×)"
    assert email.body["link"] == {"text": "Open the action task", "href": action.ui_url}
    assert action.task_id in email.body["content"]


# -- an ingestion ---------------------------------------------------------------------------

PERF = "public/build/perfherder-data.json"
CONFIG = "project/ingest/config"
PENDING = 1000  # tasks of the push still waiting: the group spans two pages


def seed_push(lc: LocalCluster, admin: tcmodel.Cluster) -> str:
    """A push's task group: 1,000 tasks waiting and 5 that ran (one twice),
    3 of them with perf data; and the ingestion's config as a secret."""
    group = slug_id()

    def task(name: str, queue: str = "proj/ci") -> Task:
        return admin.create_task(task_queue_id=queue, payload={}, name=name, task_group_id=group)

    ran = {name: task(name) for name in ("build", "talos-a", "talos-b", "lint", "flaky")}
    for n in range(PENDING):
        task(f"test-{n}", queue="proj/waiting")
    with Worker(lc, "proj/ci") as worker:
        for name in ("build", "talos-a", "talos-b"):
            run = worker.claim_task(ran[name].task_id)
            run.upload(PERF, json.dumps({"suite": name, "value": len(name)}), storage_type="s3")
            run.log(f"{name} done\n")
            run.complete()
        worker.run(ran["lint"].task_id, outcome="failed", log="lint: 2 errors\n")
        worker.run(ran["flaky"].task_id, outcome="failed", log="timeout\n")
        ran["flaky"].rerun()
        run = worker.claim_task(ran["flaky"].task_id)
        run.upload(PERF, json.dumps({"suite": "flaky", "value": 5}), storage_type="s3")
        run.complete()
    admin.secret(CONFIG).set(
        {
            "artifacts": [PERF],
            "purge": {"workerPoolId": "proj/ci", "cacheName": "perf-checkouts"},
            "database": "postgres://ingest:s3cr3t-pw@db/perf",
        }
    )
    return group


def ingest(cluster: tcmodel.Cluster, group_id: str) -> list[tuple[str, int, str, Any]]:
    """What a result-ingestion service does with a push: every resolved run
    with its state and the perf data it uploaded; then it purges the cache
    its config names (the perf workers' checkouts are stale)."""
    config = cluster.secret(CONFIG).value
    rows: list[tuple[str, int, str, Any]] = []
    for task in cluster.task_group(group_id).tasks():
        for run in task.runs:
            if run.state not in ("completed", "failed", "exception"):
                continue
            perf = [a.read_json() for a in run.artifacts() if a.name in config["artifacts"]]
            rows.append((task.name, run.run_id, run.state, perf))
    cluster.purge_cache(config["purge"]["workerPoolId"], config["purge"]["cacheName"])
    return sorted(rows)


def test_an_ingestion(
    lc: LocalCluster, admin: tcmodel.Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    group = seed_push(lc, admin)
    creds = lc.add_client(
        "perfherder/ingest",
        [f"secrets:get:{CONFIG}", "purge-cache:proj/ci:perf-checkouts"],
    )
    with lc.connect(creds) as cluster, caplog.at_level(logging.DEBUG):
        lc.reset_requests()
        rows = ingest(cluster, group)
        seen = lc.requests
        config = cluster.secret(CONFIG)
        assert config.value["database"].endswith("@db/perf")
    assert "secrets.get(name='project/ingest/config')" in caplog.text  # logged, not its value
    assert "s3cr3t-pw" not in caplog.text + repr(config) + str(config)

    made = calls(seen)
    assert made[0] == ("secrets", "get", 200) and made[-1] == ("purge-cache", "purgeCache", 204)
    # the group's 1,005 tasks come in two pages, statuses included (the second page is
    # asked for once the first one's tasks are used up); each resolved run costs one
    # artifact listing (the queue has no bulk one), each perf file the queue's answer
    # naming its URL, then the blob itself
    assert Counter(made[1:-1]) == {
        ("queue", "listTaskGroup", 200): 2,
        ("queue", "listArtifacts", 200): 6,  # build, talos-a, talos-b, lint, flaky ×2
        ("queue", "artifact", 200): 4,
        ("blob", None, 200): 4,
    }
    assert all(made[n - 1][1] == "artifact" for n, c in enumerate(made) if c[0] == "blob")
    assert {r.client_id for r in seen if r.origin == "api"} == {"perfherder/ingest"}
    assert rows == [
        ("build", 0, "completed", [{"suite": "build", "value": 5}]),
        ("flaky", 0, "failed", []),
        ("flaky", 1, "completed", [{"suite": "flaky", "value": 5}]),
        ("lint", 0, "failed", []),
        ("talos-a", 0, "completed", [{"suite": "talos-a", "value": 7}]),
        ("talos-b", 0, "completed", [{"suite": "talos-b", "value": 7}]),
    ]
    requests = list(admin.purge_requests("proj/ci"))
    assert [r.cache_name for r in requests] == ["perf-checkouts"]
