"""Pulse bindings: tcmodel's exchange table against the services' exchange
references (../shared/taskcluster/api/*-exchanges.json), and the patterns
and refusals of building a binding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from schemas import API_DIR, require_shared

import tcmodel
from tcmodel.events import EXCHANGES, BindingError, auth, hooks, notify, queue, worker_manager
from tcmodel.events.bindings import Exchange

G = "Dx4tPEtaRpeIeWpbTD0uHw"
T = "fN1SbArXTPSVFNUvaOlinQ"


def _references() -> list[dict[str, Any]]:
    files = sorted(require_shared(API_DIR).glob("*-exchanges.json"))
    assert {f.name for f in files} >= {"queue-exchanges.json", "auth-exchanges.json"}
    return [json.loads(f.read_text()) for f in files]


def test_every_referenced_exchange_is_in_the_table_with_the_same_key() -> None:
    referenced = set()
    for ref in _references():
        for entry in ref["entries"]:
            name = ref["exchangePrefix"] + entry["exchange"]
            referenced.add(name)
            assert name in EXCHANGES, name
            ours: Exchange = EXCHANGES[name]
            assert [f.name for f in ours.fields] == [k["name"] for k in entry["routingKey"]], name
            assert [f.multiple_words for f in ours.fields] == [
                bool(k.get("multipleWords")) for k in entry["routingKey"]
            ], name
            assert [f.constant for f in ours.fields] == [
                k.get("constant") for k in entry["routingKey"]
            ], name
            assert entry["schema"].endswith("/" + ours.schema + "#"), name
    assert referenced == set(EXCHANGES)  # nothing made up either


def test_message_schemas_of_the_queue_exist() -> None:
    for e in queue:
        assert (require_shared(API_DIR) / "schemas" / "queue" / e.schema).exists(), e.schema


def test_patterns_put_wildcards_where_nothing_is_given() -> None:
    assert queue.task_completed(task_group_id=G).routing_key_pattern == (
        f"primary.*.*.*.*.*.*.*.{G}.#"
    )
    assert queue.task_defined(task_id=T).routing_key_pattern == f"primary.{T}.*.*.*.*.*.*.*.#"
    assert queue.task_running(run_id=0, worker_id="w-1").routing_key_pattern == (
        "primary.*.0.*.w-1.*.*.*.*.#"
    )
    assert queue.task_group_resolved(task_group_id=G).routing_key_pattern == f"primary.{G}.*.#"
    assert auth.role_created().routing_key_pattern == "#"
    assert hooks.hook_deleted(reserved="a.b").routing_key_pattern == "a.b"
    assert notify.notification(topic="ci.alerts").routing_key_pattern == "primary.ci.alerts"
    assert worker_manager.worker_running(worker_type="w").routing_key_pattern == (
        "primary.*.*.w.*.*.*.#"
    )
    b = queue.task_failed(route="index.project.*")
    assert (b.exchange, b.routing_key_pattern) == (
        "exchange/taskcluster-queue/v1/task-failed",
        "route.index.project.*",
    )


def test_task_queue_id_sets_provisioner_and_worker_type() -> None:
    assert queue.task_pending(task_queue_id="proj/linux") == queue.task_pending(
        provisioner_id="proj", worker_type="linux"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: queue.task_failed(colour="red"), "no routing-key field 'colour'"),
        (lambda: queue.task_failed(routing_key_kind="x"), "no routing-key field"),
        (lambda: queue.task_failed(task_id="a.b"), "single routing-key word"),
        (lambda: queue.task_failed(task_id="a*"), "single routing-key word"),
        (lambda: queue.task_failed(worker_id="#"), "single routing-key word"),
        (lambda: queue.task_failed(task_id=""), "non-empty"),
        (lambda: queue.task_failed(task_id=1.5), "must be a string"),
        (lambda: queue.task_failed(route="x", task_id=T), "excludes task_id"),
        (lambda: queue.task_group_resolved(route="x"), "not sent to task routes"),
        (lambda: queue.task_pending(task_queue_id="nope"), "provisioner/type"),
        (lambda: hooks.hook_created(reserved="a*"), "without wildcards"),
        (lambda: queue.task_failed(task_id="x" * 300), "longer than 255"),
    ],
)
def test_bad_bindings_are_refused_before_anything_is_sent(make: Any, message: str) -> None:
    with pytest.raises(BindingError, match=message) as info:
        make()
    assert isinstance(info.value, tcmodel.TaskclusterError)
    assert isinstance(info.value, ValueError)


def test_unknown_exchange_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no exchange 'task_exploded'"):  # untyped ok: attr
        queue.task_exploded


def test_routing_keys_round_trip_through_parse() -> None:
    words = {
        "taskId": T,
        "runId": 2,
        "provisionerId": "p",
        "workerType": "w",
        "schedulerId": "-",
        "taskGroupId": G,
    }
    key = queue.task_pending.routing_key(words)
    assert key == f"primary.{T}.2._._.p.w.-.{G}._"
    parsed = queue.task_pending.parse(key)
    assert parsed["taskId"] == T and parsed["workerId"] is None and parsed["runId"] == "2"


def test_import_tcmodel_does_not_import_the_amqp_codec() -> None:
    import subprocess
    import sys

    code = "import sys, tcmodel, tcmodel.events; print('pamqp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pulse_passwords_never_show_nor_get_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from tcmodel.events import PulseUrl
    from tcmodel.testing import Settings

    monkeypatch.delenv("TASKCLUSTER_PULSE_URL", raising=False)
    url = "amqps://alice:s3cr3t-pw@pulse.example.com/"
    parsed = PulseUrl.parse(url)
    assert "s3cr3t" not in repr(parsed) and "s3cr3t" not in str(parsed)
    assert (parsed.user, parsed.password, parsed.port, parsed.tls) == (
        "alice",
        "s3cr3t-pw",
        5671,
        True,
    )
    assert "s3cr3t" not in repr(Settings(pulse_url=url))
    for refused in ("//a:s3cr3t-pw@pulse.example.com/", "a:s3cr3t-pw@pulse.example.com"):
        with pytest.raises(tcmodel.ConfigurationError) as info:
            PulseUrl.parse(refused)  # no amqp scheme: the message shows none of the URL
        assert "s3" not in str(info.value)
    with tcmodel.Cluster.from_url("https://tc.example.com") as c:
        c.pulse_url = url
        assert c.pulse_url == url and "s3cr3t" not in repr(c)
        data = pickle.dumps(c)
        assert b"s3cr3t" not in data
        assert pickle.loads(data).pulse_url is None
    monkeypatch.setenv("TASKCLUSTER_PULSE_URL", url)
    with tcmodel.Cluster.from_url("https://tc.example.com") as c:
        assert c.pulse_url == url


@pytest.mark.parametrize("url", ["http://h/", "amqp://", "amqp://h:notaport/", ""])
def test_bad_pulse_urls_are_configuration_errors(url: str) -> None:
    from tcmodel.events import PulseUrl

    with pytest.raises(tcmodel.ConfigurationError):
        PulseUrl.parse(url)


def test_pulse_queue_names_follow_the_convention() -> None:
    from tcmodel.events import queue_name

    assert queue_name("amqp://bob:x@h/", "watch") == "queue/bob/watch"
    assert queue_name("amqp://bob:x@h/", None) is None
    with pytest.raises(tcmodel.ConfigurationError):
        queue_name("amqp://bob:x@h/", "a/b")
