"""The local cluster's notify service over real HTTP, driven by the official
client (bodies checked against the real schemas): what it answers (text/plain
``OK``, 204 for duplicates and unconfigured Slack, 500 for unconfigured
Matrix), what it records in ``lc.notifications``, scopes and the denylist."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import taskcluster
from lc_queue_support import client_options, expect_error, lc
from schemas import Checked

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster
from tcmodel.testing.notify import DUPLICATE_WINDOW

__all__ = ["lc"]

EMAIL = {"address": "dev@example.com", "subject": "build done", "content": "hello *world*"}


def notify(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official Notify client (root credentials by default)."""
    return Checked(taskcluster.Notify(client_options(lc, creds or lc.root_credentials)), "notify")


def text_answer(result: Any) -> tuple[int, str, str]:
    """Status, content type and text of an answer the official client could
    not parse as JSON (it hands back ``{"response": <requests.Response>}``)."""
    response = result["response"]
    return response.status_code, response.headers["content-type"], response.text


def last_status(lc: LocalCluster) -> int:
    return lc.requests[-1].status


def _method_route(entry: str) -> tuple[str, str]:
    from tcmodel.api import endpoint

    ep = endpoint("notify", entry)
    return ep.method.lower(), ep.route.lstrip("/")


def test_email_answers_text_ok_and_is_recorded(lc: LocalCluster) -> None:
    result = notify(lc).email({**EMAIL, "link": {"href": "https://example.com/", "text": "see"}})
    assert text_answer(result) == (200, "text/plain; charset=utf-8", "OK")
    [sent] = lc.notifications
    assert (sent.kind, sent.address, sent.client_id) == (
        "email",
        "dev@example.com",
        "static/taskcluster/root",
    )
    assert sent.body["link"]["text"] == "see"


def test_a_duplicate_within_the_window_is_dropped_with_204(lc: LocalCluster) -> None:
    client = notify(lc)
    assert text_answer(client.email(EMAIL))[0] == 200
    assert client.email(EMAIL) is None
    assert last_status(lc) == 204
    assert len(lc.notifications) == 1
    client.email({**EMAIL, "subject": "another"})
    lc.advance(DUPLICATE_WINDOW + 1)
    client = notify(lc)
    client.email(EMAIL)
    assert [n.body["subject"] for n in lc.notifications] == [
        "build done",
        "another",
        "build done",
    ]


def test_pulse_is_recorded_under_its_routing_key(lc: LocalCluster) -> None:
    notify(lc).pulse({"routingKey": "project.app.done", "message": {"ok": True}})
    [sent] = lc.notifications
    assert (sent.kind, sent.address, sent.body["message"]) == (
        "pulse",
        "project.app.done",
        {"ok": True},
    )


def test_unconfigured_matrix_is_500_and_slack_is_a_silent_204(lc: LocalCluster) -> None:
    body = expect_error(
        500, "InternalServerError", notify(lc).matrix, {"roomId": "!r:x", "body": "b"}
    )
    assert "incidentId" in body["message"]
    assert notify(lc).slack({"channelId": "C123", "text": "hello"}) is None
    assert last_status(lc) == 204
    assert lc.notifications == []


def test_configured_matrix_and_slack_are_recorded(lc: LocalCluster) -> None:
    lc.state.notify.channels |= {"matrix", "slack"}
    client = notify(lc)
    client.matrix({"roomId": "!room:example.com", "body": "hi", "msgtype": "m.text"})
    client.slack({"channelId": "C123", "text": "hello", "blocks": []})
    assert [(n.kind, n.address) for n in lc.notifications] == [
        ("matrix", "!room:example.com"),
        ("slack", "C123"),
    ]


@pytest.mark.parametrize(
    ("entry", "body"),
    [
        ("email", {"address": "not-an-email", "subject": "x", "content": "x"}),
        ("email", {**EMAIL, "template": "nope"}),
        ("email", {**EMAIL, "link": {"href": "https://example.com/"}}),
        ("pulse", {"routingKey": "a.b"}),
        ("matrix", {"roomId": "!r:x", "body": "b", "msgtype": "m.image"}),
        ("slack", {"channelId": "C1"}),
        ("addDenylistAddress", {"notificationType": "fax", "notificationAddress": "x"}),
    ],
)
def test_bodies_that_break_the_schema_are_400(
    lc: LocalCluster, entry: str, body: dict[str, Any]
) -> None:
    expect_error(400, "InputValidationError", getattr(notify(lc)._client, entry), body)
    assert lc.notifications == []


def test_the_scope_names_the_address(lc: LocalCluster) -> None:
    creds = lc.add_client("ci", ["notify:email:dev@example.com", "notify:pulse:project.*"])
    client = notify(lc, creds)
    client.email(EMAIL)
    client.pulse({"routingKey": "project.x", "message": {}})
    body = expect_error(
        403, "InsufficientScopes", client.email, {**EMAIL, "address": "x@example.com"}
    )
    assert "notify:email:x@example.com" in body["message"]
    anonymous = Checked(taskcluster.Notify({"rootUrl": lc.root_url, "maxRetries": 0}), "notify")
    body = expect_error(
        403, "InsufficientScopes", anonymous.pulse, {"routingKey": "k", "message": {}}
    )
    assert "notify:pulse:k" in body["message"]
    assert [n.kind for n in lc.notifications] == ["email", "pulse"]


def test_denylisted_addresses_are_refused_until_deleted(lc: LocalCluster) -> None:
    client = notify(lc)
    denied = {"notificationType": "email", "notificationAddress": "dev@example.com"}
    for _ in range(2):  # adding again is fine
        result = client.addDenylistAddress(denied)
        assert text_answer(result) == (200, "text/plain; charset=utf-8", "OK")
    client.addDenylistAddress({"notificationType": "pulse", "notificationAddress": "a.b"})
    body = expect_error(400, "DenylistedAddress", client.email, EMAIL)
    assert body["message"].startswith("The address dev@example.com is on the denylist")
    expect_error(400, "DenylistedAddress", client.pulse, {"routingKey": "a.b", "message": {}})
    listed = client.listDenylist()["addresses"]
    assert denied in listed and len(listed) == 2
    for _ in range(2):  # deleting again is fine too
        result = client.deleteDenylistAddress(denied)
        assert text_answer(result) == (200, "text/plain; charset=utf-8", "OK")
    client.email(EMAIL)
    assert [n.address for n in lc.notifications] == ["dev@example.com"]


def test_denylist_pages_and_needs_its_scope(lc: LocalCluster) -> None:
    client = notify(lc)
    for i in range(3):
        client.addDenylistAddress(
            {"notificationType": "email", "notificationAddress": f"{i}@x.org"}
        )
    first = client.listDenylist(query={"limit": 2})
    second = client.listDenylist(query={"continuationToken": first["continuationToken"]})
    assert len(first["addresses"]) == 2 and len(second["addresses"]) == 1
    assert "continuationToken" not in second
    creds = lc.add_client("reader", ["notify:email:*"])
    body = expect_error(403, "InsufficientScopes", notify(lc, creds).listDenylist)
    assert "notify:manage-denylist" in body["message"]


def test_builtin_entries_answer(lc: LocalCluster) -> None:
    for entry in ("ping", "lbheartbeat", "version", "heartbeat"):
        method, route = _method_route(entry)
        answer = httpx.request(method, f"{lc.root_url}/api/notify/v1/{route}")
        assert answer.status_code == 200, entry
    assert {("notify", e) for e in ("ping", "lbheartbeat", "version", "heartbeat")} <= set(
        lc.served
    )
