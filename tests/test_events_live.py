"""Live events against a real RabbitMQ (the session's ``rabbitmq`` broker):
the local cluster publishes what the real queue does (exchanges, routing
keys with CC'd routes, bodies valid against the exchange schemas), typed
events carry loaded task handles, and ``group.follow()`` sees every
transition of a 50-task group exactly once — also across a broker restart.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from schemas import validate

import tcmodel
from tcmodel.events import (
    Binding,
    Event,
    EventsError,
    TaskDefined,
    TaskEvent,
    TaskFailed,
    TaskGroupResolved,
    TaskPending,
    consume,
    queue,
)
from tcmodel.events.bindings import EXCHANGES
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.broker import RabbitMQ
from tcmodel.testing.worker import Worker

_names = itertools.count()


@pytest.fixture
def plc(rabbitmq: RabbitMQ) -> Iterator[LocalCluster]:
    """A local cluster publishing to the session's broker."""
    with LocalCluster(settings=Settings(pulse_url=rabbitmq.url)) as lc:
        yield lc


def _queue_name() -> str:
    return f"tcmodel-test-{next(_names)}"


def _collect(url: str, bindings: Any, name: str, cluster: Any, idle: float) -> list[Event]:
    return list(consume(url, bindings, cluster=cluster, queue=name, idle_timeout=idle))


def _key(ev: TaskEvent) -> str:
    s = ev.status
    assert s is not None
    run = s.runs[ev.run_id] if ev.run_id is not None else None
    worker = (
        (run.worker_group, run.worker_id)
        if run is not None and not isinstance(ev, (TaskPending, TaskDefined)) and run.worker_id
        else ("_", "_")
    )
    return ".".join(
        [
            "primary",
            s.task_id,
            "_" if ev.run_id is None else str(ev.run_id),
            *worker,
            s.provisioner_id,
            s.worker_type,
            s.scheduler_id,
            s.task_group_id,
            "_",
        ]
    )


def test_published_messages_match_the_exchanges_keys_and_schemas(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    everything = [Binding(e.exchange, "#") for e in queue]
    routed = [queue.task_failed(route="index.project.#")]
    name, rname = _queue_name(), _queue_name()
    with plc.connect() as c:
        # declare and bind the queues before anything happens (they are durable)
        assert _collect(rabbitmq.url, everything, name, c, 0.01) == []
        assert _collect(rabbitmq.url, routed, rname, c, 0.01) == []
        a = c.create_task(
            task_queue_id="proj/pub", payload={}, name="a", routes=["index.project.a"]
        )
        b = c.create_task(
            task_queue_id="proj/pub",
            payload={},
            name="b",
            task_group_id=a.task_group.task_group_id,
            dependencies=[a],
        )
        with Worker(plc, "proj/pub") as w:
            run = w.claim_task(a.task_id)
            run.reference("public/ref", "https://example.com/x")
            run.error("public/err", "file-missing-on-worker", "gone")
            run.fail()
        b.cancel()
        assert plc.state.queue.pulse is not None and plc.state.queue.pulse.flush(30)
        events = _collect(rabbitmq.url, everything, name, c, 1.0)
        routed_events = _collect(rabbitmq.url, routed, rname, c, 1.0)

    kinds = [(type(e).__name__, getattr(e, "task_id", None)) for e in events]
    assert kinds == [
        ("TaskDefined", a.task_id),
        ("TaskPending", a.task_id),
        ("TaskDefined", b.task_id),
        ("TaskRunning", a.task_id),
        ("ArtifactCreated", a.task_id),
        ("ArtifactCreated", a.task_id),
        ("TaskFailed", a.task_id),
        ("TaskException", b.task_id),
        ("TaskGroupResolved", None),
    ]
    for ev in events:
        spec = EXCHANGES[ev.exchange]
        validate("queue", spec.schema, ev.body)
        if isinstance(ev, TaskEvent):
            assert ev.routing_key == _key(ev)
            assert ev.routes == (("route.index.project.a",) if ev.task_id == a.task_id else ())
            assert ev.task is not None and ev.task.state == ev.body["status"]["state"]
        else:
            assert isinstance(ev, TaskGroupResolved)
            assert ev.routing_key == f"primary.{ev.task_group_id}.-._"
    assert [
        e.body["artifact"]["name"] for e in events if e.exchange_name == "artifact-created"
    ] == [
        "public/ref",
        "public/err",
    ]
    # the route binding got a's failure, by its CC'd key only
    assert [(type(e), e.routing_key) for e in routed_events] == [
        (TaskFailed, _key(events[6]))  # type: ignore[arg-type]
    ]


def _group(c: tcmodel.Cluster, tq: str, n: int, route: str | None = None) -> list[tcmodel.Task]:
    """``n`` tasks of one new group on ``tq``; the first has ``route``."""
    routes = [route] if route else []
    first = c.create_task(task_queue_id=tq, payload={}, name="t0", routes=routes)
    gid = first.task_group.task_group_id
    return [first] + [
        c.create_task(task_queue_id=tq, payload={}, name=f"t{i}", task_group_id=gid)
        for i in range(1, n)
    ]


def _drive_group(lc: LocalCluster, tq: str, tasks: list[tcmodel.Task], fail: set[str]) -> None:
    with Worker(lc, tq) as w:
        runs = w.claim(len(tasks))
        assert sorted(r.claim.task.task_id for r in runs) == sorted(t.task_id for t in tasks)
        for r in runs:
            if r.claim.task.task_id in fail:
                r.fail()
            else:
                r.complete()


def _check_exactly_once(
    events: list[Any], tasks: list[tcmodel.Task], fail: set[str], routed: str, route: str
) -> None:
    assert isinstance(events[-1], TaskGroupResolved)
    per_task: dict[str, list[str]] = defaultdict(list)
    for ev in events[:-1]:
        assert isinstance(ev, TaskEvent)
        per_task[ev.task_id].append(ev.kind)
        if not ev.replayed:
            assert ev.routing_key == _key(ev)
            assert ev.routes == ((f"route.{route}",) if ev.task_id == routed else ())
        assert ev.task is not None and ev.task.state == ev.status.state  # type: ignore[union-attr]
    assert set(per_task) == {t.task_id for t in tasks}
    for t in tasks:
        end = "task-failed" if t.task_id in fail else "task-completed"
        assert per_task[t.task_id] == ["task-defined", "task-pending", "task-running", end]


def test_follow_sees_every_transition_of_50_tasks_exactly_once(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    with plc.connect() as c:
        tasks = _group(c, "proj/f50", 50, "x.y")
        first, gid = tasks[0], tasks[0].task_group.task_group_id
        fail = {t.task_id for t in tasks[::5]}
        it = c.task_group(gid).follow(pulse_url=rabbitmq.url, timeout=120)
        events = [next(it)]  # connected, bound, listed: the replay begins
        assert events[0].replayed and isinstance(events[0], TaskDefined)
        _drive_group(plc, "proj/f50", tasks, fail)
        events += list(it)
    _check_exactly_once(events, tasks, fail, first.task_id, "x.y")
    live = Counter(type(e).__name__ for e in events if not e.replayed)
    assert live == {
        "TaskRunning": 50,
        "TaskCompleted": 40,
        "TaskFailed": 10,
        "TaskGroupResolved": 1,
    }


def test_async_follow_and_events(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    async def main() -> tuple[list[Any], list[tcmodel.Task], set[str]]:
        async with plc.connect() as c:
            first = await c.acreate_task(
                task_queue_id="proj/af", payload={}, name="t0", routes=["a.b"]
            )
            gid = first.task_group.task_group_id
            tasks = [first] + [
                await c.acreate_task(
                    task_queue_id="proj/af", payload={}, name=f"t{i}", task_group_id=gid
                )
                for i in range(1, 5)
            ]
            fail = {tasks[1].task_id}
            events: list[Any] = []
            ait = c.task_group(gid).afollow(pulse_url=rabbitmq.url, timeout=60)
            events.append(await ait.__anext__())
            await asyncio.to_thread(_drive_group, plc, "proj/af", tasks, fail)
            events += [e async for e in ait]
            return events, tasks, fail

    events, tasks, fail = asyncio.run(main())
    _check_exactly_once(events, tasks, fail, tasks[0].task_id, "a.b")


def test_follow_survives_a_broker_restart_without_losing_a_transition(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    with plc.connect() as c:
        tasks = _group(c, "proj/rs", 10, "r.s")
        first, gid = tasks[0], tasks[0].task_group.task_group_id
        fail = {tasks[3].task_id, tasks[7].task_id}
        it = c.task_group(gid).follow(pulse_url=rabbitmq.url, timeout=180)
        events = [next(it) for _ in range(20)]  # the replay: defined and pending of each
        assert all(e.replayed for e in events)
        _drive_group(plc, "proj/rs", tasks[:5], fail)
        while len(events) < 20 + 10:  # running and resolved of the first five, live
            events.append(next(it))
        assert not any(e.replayed for e in events[20:])
        rabbitmq.stop_server()
        _drive_group(plc, "proj/rs", tasks[5:], fail)  # the broker is down meanwhile
        rabbitmq.start()
        events += list(it)
    _check_exactly_once(events, tasks, fail, first.task_id, "r.s")
    # what happened while the broker was down came from the one listing
    assert any(e.replayed for e in events[30:])


def test_task_events_carry_a_loaded_handle_and_need_no_request(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    name = _queue_name()
    with plc.connect() as c:
        assert _collect(rabbitmq.url, [queue.task_pending()], name, c, 0.01) == []
        t = c.create_task(task_queue_id="proj/h", payload={}, name="h")
        before = len(plc.requests)
        (ev,) = _collect(rabbitmq.url, [queue.task_pending()], name, c, 1.0)
        assert isinstance(ev, TaskPending) and ev.task is not None
        assert (ev.task.task_id, ev.task.state, ev.run_id) == (t.task_id, "pending", 0)
        assert len(plc.requests) == before


def test_a_refused_binding_is_a_typed_error(rabbitmq: RabbitMQ) -> None:
    missing = Binding("exchange/taskcluster-nothing/v1/x", "#")
    with pytest.raises(EventsError, match="NOT_FOUND"):
        list(consume(rabbitmq.url, [missing], idle_timeout=0.1))


def test_bad_credentials_are_a_typed_error(rabbitmq: RabbitMQ) -> None:
    url = rabbitmq.url.replace("guest:guest", "guest:wrong")
    with pytest.raises(EventsError) as info:
        list(consume(url, [queue.task_pending()], idle_timeout=0.1, reconnect_for=0.5))
    assert "wrong" not in str(info.value)


def test_follow_times_out_with_a_typed_error(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    with plc.connect() as c:
        t = c.create_task(task_queue_id="proj/idle-follow", payload={}, name="never")
        it = c.task_group(t.task_group.task_group_id).follow(pulse_url=rabbitmq.url, timeout=0.5)
        with pytest.raises(tcmodel.WaitTimeout, match="still pending"):
            list(it)


def _entries(lc: LocalCluster, since: int) -> Counter[str]:
    return Counter(r.entry or "" for r in lc.requests[since:])


def test_waits_follow_events_when_a_pulse_url_is_set(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    import threading

    with plc.connect() as c:
        c.pulse_url = rabbitmq.url
        t = c.create_task(task_queue_id="proj/w1", payload={}, name="w")
        worker = threading.Timer(0.3, _drive_group, (plc, "proj/w1", [t], set()))
        before = len(plc.requests)
        worker.start()
        assert t.wait(timeout=60) == "completed"
        worker.join()
        seen = _entries(plc, before)
        assert seen["status"] == 1  # read once after connecting; the rest came by message

        first, *more = _group(c, "proj/w2", 3)
        gid = first.task_group.task_group_id
        worker = threading.Timer(
            0.3, _drive_group, (plc, "proj/w2", [first, *more], {more[0].task_id})
        )
        before = len(plc.requests)
        worker.start()
        assert c.task_group(gid).wait(timeout=60) == {"completed": 2, "failed": 1}
        worker.join()
        assert _entries(plc, before)["listTaskGroup"] == 1  # one listing, no polling

        async def await_both() -> tuple[str, dict[str, int]]:
            async with plc.connect() as ac:
                ac.pulse_url = rabbitmq.url
                return await ac.task(t.task_id).await_(timeout=30), await ac.task_group(gid).await_(
                    timeout=30
                )

        assert asyncio.run(await_both()) == ("completed", {"completed": 2, "failed": 1})


def test_without_a_pulse_url_waits_poll(lc: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKCLUSTER_PULSE_URL", raising=False)
    with lc.connect() as c:
        assert c.pulse_url is None and not c._waits_on_events()
        t = c.create_task(task_queue_id="proj/poll", payload={}, name="p")
        t.cancel()
        assert t.wait(timeout=5) == "exception"


def test_an_automatic_retry_is_an_exception_then_a_new_pending_run(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    name = _queue_name()
    bindings = [Binding(e.exchange, "#") for e in queue]
    with plc.connect() as c:
        assert _collect(rabbitmq.url, bindings, name, c, 0.01) == []
        t = c.create_task(task_queue_id="proj/retry", payload={}, name="r", retries=1)
        with Worker(plc, "proj/retry") as w:
            w.claim_task(t.task_id).exception("worker-shutdown")
            w.claim_task(t.task_id).complete()
        events = _collect(rabbitmq.url, bindings, name, c, 1.0)
    got = [(e.kind, e.run_id, e.state) for e in events if isinstance(e, TaskEvent)]
    assert got == [
        ("task-defined", None, "unscheduled"),
        ("task-pending", 0, "pending"),
        ("task-running", 0, "running"),
        ("task-exception", 0, "pending"),  # the status already has the retry run
        ("task-pending", 1, "pending"),
        ("task-running", 1, "running"),
        ("task-completed", 1, "completed"),
    ]
    for ev in events:
        validate("queue", EXCHANGES[ev.exchange].schema, ev.body)


def test_a_followed_group_updates_its_notebook_display_in_place(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.display_pub = CapturingDisplayPublisher()
    try:
        with plc.connect() as c:
            t = c.create_task(task_queue_id="proj/nb", payload={}, name="nb")
            group = c.task_group(t.task_group.task_group_id)
            it = group.follow(pulse_url=rabbitmq.url, timeout=60)
            events = [next(it), next(it)]  # the replay: defined, pending
            _drive_group(plc, "proj/nb", [t], set())
            events += list(it)
        outputs = shell.display_pub.outputs
    finally:
        InteractiveShell.clear_instance()
    assert [type(e).__name__ for e in events][-1] == "TaskGroupResolved"
    ids = {o["transient"]["display_id"] for o in outputs}
    assert len(ids) == 1  # one display, shown once and updated
    assert [o["update"] for o in outputs] == [False] + [True] * len(events)
    assert "completed" in outputs[-1]["data"]["text/plain"]
    assert group._known_tasks()[t.task_id].state == "completed"  # no request: from the event


def test_hook_changes_are_published(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    from tcmodel.events import hooks

    name = _queue_name()
    bindings = [hooks.hook_created(), hooks.hook_updated(), hooks.hook_deleted()]
    with plc.connect() as c:
        assert _collect(rabbitmq.url, bindings, name, c, 0.01) == []
        h = c.hook("ci", "nightly").create(
            {"metadata": {"name": "n", "description": "", "owner": "a@b.c"}, "task": {}}
        )
        h.update({**h.definition.raw, "schedule": ["0 0 3 * * *"]})
        h.remove()
        events = _collect(rabbitmq.url, bindings, name, c, 1.0)
    assert [(e.exchange_name, e.routing_key, e.body) for e in events] == [
        (f"hook-{verb}", "_", {"hookGroupId": "ci", "hookId": "nightly"})
        for verb in ("created", "updated", "deleted")
    ]
    for ev in events:
        validate("hooks", EXCHANGES[ev.exchange].schema, ev.body)


def test_priority_changes_and_sealing_are_published(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    name = _queue_name()
    bindings = [Binding(e.exchange, "#") for e in queue if "priority" in e.name or "seal" in e.name]
    with plc.connect() as c:
        assert _collect(rabbitmq.url, bindings, name, c, 0.01) == []
        t = c.create_task(task_queue_id="proj/prio", payload={}, name="p", priority="low")
        gid = t.task_group.task_group_id
        t.change_priority("high")
        group = c.task_group(gid)
        group.change_priority("medium")
        group.seal()
        events = _collect(rabbitmq.url, bindings, name, c, 1.0)
    assert [e.exchange_name for e in events] == [
        "task-priority-changed",
        "task-group-priority-changed",
        "task-group-sealed",
    ]
    assert (events[0].body["oldPriority"], events[0].body["newPriority"]) == ("low", "high")
    assert (events[1].body["newPriority"], events[1].body["tasksAffected"]) == ("medium", 1)
    assert events[2].body["sealed"] and events[2].routing_key == f"primary.{gid}.-._"
    for ev in events:
        validate("queue", EXCHANGES[ev.exchange].schema, ev.body)


def test_a_named_queue_keeps_unacked_messages_across_a_broker_restart(
    plc: LocalCluster, rabbitmq: RabbitMQ
) -> None:
    name = _queue_name()
    bindings = [queue.task_defined(), queue.task_pending()]
    with plc.connect() as c:
        assert _collect(rabbitmq.url, bindings, name, c, 0.01) == []
        t = c.create_task(task_queue_id="proj/named", payload={}, name="n")
        assert plc.state.queue.pulse is not None and plc.state.queue.pulse.flush(30)
        it = consume(rabbitmq.url, bindings, cluster=c, queue=name, idle_timeout=3.0)
        first = next(it)  # not acknowledged: the loop has not moved past it
        assert isinstance(first, TaskDefined) and not first.redelivered
        rabbitmq.restart()  # durable queue, persistent messages
        rest = list(it)
    assert [(type(e), e.task_id) for e in rest] == [  # type: ignore[attr-defined]
        (TaskDefined, t.task_id),
        (TaskPending, t.task_id),
    ]
    assert rest[0].redelivered  # at least once: delivered again, as it was never acked


def test_the_test_broker_listens_on_loopback_only(rabbitmq: RabbitMQ) -> None:
    from pathlib import Path

    table = Path("/proc/net/tcp")
    if not table.exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    ports = {rabbitmq.port, rabbitmq._dist_port, rabbitmq._epmd_port}
    listening = {}
    for line in table.read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) in ports:  # 0A: LISTEN
            listening[int(port, 16)] = address
    assert set(listening) == ports
    assert set(listening.values()) == {"0100007F"}  # 127.0.0.1


def test_async_consume_runs_on_trio_too(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    import trio

    name = _queue_name()
    bindings = [queue.task_defined(task_queue_id="proj/trio")]
    with plc.connect() as c:
        assert _collect(rabbitmq.url, bindings, name, c, 0.01) == []
        t = c.create_task(task_queue_id="proj/trio", payload={}, name="t")

    async def main() -> list[Event]:
        return [e async for e in consume_async(rabbitmq.url, bindings, name)]

    (ev,) = trio.run(main)
    assert isinstance(ev, TaskDefined) and ev.task_id == t.task_id and ev.task is None


def consume_async(url: str, bindings: Any, name: str) -> Any:
    from tcmodel.events import aconsume

    return aconsume(url, bindings, queue=name, idle_timeout=1.0)


def test_sync_follow_wait_and_events_inside_an_async_loop_are_refused(lc: LocalCluster) -> None:
    async def main() -> list[str]:
        async with lc.connect() as c:
            c.pulse_url = "amqp://u:p@127.0.0.1:1/"  # never reached: refused first
            t = await c.acreate_task(task_queue_id="proj/guard", payload={}, name="g")
            group = c.task_group(t.task_group.task_group_id)
            calls: list[Any] = [
                lambda: group.follow(),
                lambda: group.wait(),
                lambda: t.wait(),
                lambda: c.events([queue.task_pending()]),
            ]
            said = []
            for call in calls:
                with pytest.raises(tcmodel.AsyncUsageError) as info:
                    call()
                said.append(str(info.value))
            return said

    said = asyncio.run(main())
    twins = ["group.afollow()", "group.await_()", "task.await_()", "cluster.aevents()"]
    for text, twin in zip(said, twins, strict=True):
        assert "would block it" in text and twin in text


def test_waits_on_events_report_progress(plc: LocalCluster, rabbitmq: RabbitMQ) -> None:
    import threading

    group_seen: list[tuple[int, int | None]] = []
    task_seen: list[tuple[int, int | None]] = []
    with plc.connect() as c:
        c.pulse_url = rabbitmq.url
        tasks = _group(c, "proj/prog", 3)
        first, gid = tasks[0], tasks[0].task_group.task_group_id
        worker = threading.Timer(0.3, _drive_group, (plc, "proj/prog", tasks, set()))
        worker.start()
        counts = c.task_group(gid).wait(
            timeout=60, progress=lambda done, total: group_seen.append((done, total))
        )
        worker.join()
        assert counts == {"completed": 3}
        assert first.wait(timeout=60, progress=lambda d, n: task_seen.append((d, n))) == (
            "completed"
        )
    assert group_seen[0] == (0, 3) and group_seen[-1] == (3, 3)
    assert [d for d, _ in group_seen] == sorted(d for d, _ in group_seen)
    assert task_seen == [(1, 1)]


def _self_signed(where: Any) -> tuple[str, str]:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a test certificate with")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_publishing_and_following_over_tls(tmp_path: Any, rabbitmq: RabbitMQ) -> None:
    # (``rabbitmq``: the session's broker, for its skip rules; this test starts its own)
    with RabbitMQ(tls=_self_signed(tmp_path)) as broker:
        url = broker.tls_url
        assert url is not None and url.startswith("amqps://")
        with LocalCluster(settings=Settings(pulse_url=url)) as tlc, tlc.connect() as c:
            name = _queue_name()
            assert _collect(url, [queue.task_defined()], name, c, 0.01) == []
            tasks = _group(c, "proj/tls", 2, "t.s")
            it = c.task_group(tasks[0].task_group.task_group_id).follow(pulse_url=url, timeout=60)
            events = [next(it)]
            _drive_group(tlc, "proj/tls", tasks, {tasks[1].task_id})
            events += list(it)

            async def defined() -> list[Event]:  # the anyio driver's TLS
                return [e async for e in consume_async(url, [queue.task_defined()], name)]

            got = asyncio.run(defined())
        # the system's CAs do not know the certificate: refused, typed
        untrusted = url.split("?")[0]
        with pytest.raises(EventsError, match="could not reach"):
            list(consume(untrusted, [queue.task_defined()], idle_timeout=0.1, reconnect_for=0.3))
    _check_exactly_once(events, tasks, {tasks[1].task_id}, tasks[0].task_id, "t.s")
    assert [e.task_id for e in got] == [t.task_id for t in tasks]  # type: ignore[attr-defined]
