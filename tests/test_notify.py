"""Notify on the client side, against a real local cluster (which records
what it would send in ``lc.notifications``): email, Matrix, Slack and Pulse
messages, the plain-text ``OK`` and ``204`` answers, the deny list, request
counts and scope failures."""

from __future__ import annotations

import pytest
from lc_client_support import entry_statuses

import tcmodel
from tcmodel.models_services import DenylistedAddress
from tcmodel.testing import LocalCluster, Settings


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=2)


def test_email_is_sent_once_and_recorded(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    notify = root.notify
    assert repr(notify) == f"<Notify {lc.root_url!r}>" and lc.requests == []
    sent = notify.email(
        "dev@example.com",
        "Build failed",
        "**3** tests failed",
        link=("Open the group", "https://tc.example.com/tasks/groups/g"),
        reply_to="ci@example.com",
        template="fullscreen",
    )
    assert sent is True
    assert entry_statuses(lc) == [("email", 200)]
    [note] = lc.notifications
    assert (note.kind, note.address, note.client_id) == (
        "email",
        "dev@example.com",
        "static/taskcluster/root",
    )
    assert note.body == {
        "address": "dev@example.com",
        "subject": "Build failed",
        "content": "**3** tests failed",
        "link": {"text": "Open the group", "href": "https://tc.example.com/tasks/groups/g"},
        "replyTo": "ci@example.com",
        "template": "fullscreen",
    }
    # the same message again within minutes: dropped (204), and said so
    assert (
        notify.email(
            "dev@example.com",
            "Build failed",
            "**3** tests failed",
            link={"text": "Open the group", "href": "https://tc.example.com/tasks/groups/g"},
            reply_to="ci@example.com",
            template="fullscreen",
        )
        is False
    )
    assert entry_statuses(lc)[-1] == ("email", 204) and len(lc.notifications) == 1
    lc.advance(3600)
    assert notify.email("dev@example.com", "Build failed", "**3** tests failed") is True


def test_bad_arguments_send_nothing(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    with pytest.raises(ValueError):
        root.notify.email("dev@example.com", "s", "c", template="fancy")
    with pytest.raises(ValueError):
        root.notify.deny("sms", "+1555")
    assert lc.requests == []
    with pytest.raises(tcmodel.BadRequest):
        root.notify.email("not-an-address", "s", "c")  # the service validates


def test_pulse_matrix_and_slack(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    notify = root.notify
    assert notify.pulse("project.ci.done", {"revision": "abc123", "ok": True}) is True
    assert notify.slack("C0123", "deployed") is False  # no Slack on this deployment: dropped
    lc.state.notify.channels |= {"matrix", "slack"}
    assert notify.slack("C0123", "deployed", blocks=[{"type": "divider"}], unfurl_links=False)
    assert notify.matrix(
        "!room:example.com",
        "deployed",
        formatted_body="<b>deployed</b>",
        format="org.matrix.custom.html",
        msgtype="m.notice",
    )
    assert entry_statuses(lc) == [("pulse", 200), ("slack", 204), ("slack", 200), ("matrix", 200)]
    kinds = [(n.kind, n.address) for n in lc.notifications]
    assert kinds == [
        ("pulse", "project.ci.done"),
        ("slack", "C0123"),
        ("matrix", "!room:example.com"),
    ]
    pulse, slack, matrix = (n.body for n in lc.notifications)
    assert pulse == {"routingKey": "project.ci.done", "message": {"revision": "abc123", "ok": True}}
    assert slack == {
        "channelId": "C0123",
        "text": "deployed",
        "blocks": [{"type": "divider"}],
        "unfurlLinks": False,
    }
    assert matrix["formattedBody"] == "<b>deployed</b>" and matrix["msgtype"] == "m.notice"


def test_deny_list(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    notify = root.notify
    lc.reset_requests()
    notify.deny("email", "noreply@example.com")
    notify.deny("pulse", "project.secret")
    notify.deny("slack-channel", "C999")
    assert entry_statuses(lc) == [("addDenylistAddress", 200)] * 3
    lc.reset_requests()
    listing = notify.denylist()
    assert lc.requests == []
    found = list(listing)
    assert entry_statuses(lc) == [("listDenylist", 200)] * 2  # pages of 2
    assert all(isinstance(a, DenylistedAddress) for a in found)
    assert {(a.notification_type, a.notification_address) for a in found} == {
        ("email", "noreply@example.com"),
        ("pulse", "project.secret"),
        ("slack-channel", "C999"),
    }
    assert [
        a.notification_address for a in notify.denylist().filter(notification_type="email")
    ] == ["noreply@example.com"]
    with pytest.raises(tcmodel.BadRequest) as info:
        notify.email("noreply@example.com", "hi", "there")
    assert info.value.code == "DenylistedAddress" and lc.notifications == []
    notify.allow("email", "noreply@example.com")
    notify.allow("email", "noreply@example.com")  # not denied any more: still fine
    assert notify.email("noreply@example.com", "hi", "there")


def test_scopes_are_named_when_missing(lc: LocalCluster) -> None:
    creds = lc.add_client("project/ci", ["notify:email:dev@*", "notify:pulse:project.*"])
    with lc.connect(creds) as ci:
        assert ci.notify.email("dev@example.com", "ok", "fine")
        assert ci.notify.pulse("project.done", {})
        with pytest.raises(tcmodel.InsufficientScopes) as email:
            ci.notify.email("boss@other.org", "hi", "there")
        with pytest.raises(tcmodel.InsufficientScopes) as deny:
            ci.notify.deny("email", "dev@example.com")
        with pytest.raises(tcmodel.InsufficientScopes) as listing:
            list(ci.notify.denylist())
    assert "notify:email:boss@other.org" in str(email.value)
    assert "notify:manage-denylist" in str(deny.value)
    assert "notify:manage-denylist" in str(listing.value)
    assert [n.address for n in lc.notifications] == ["dev@example.com", "project.done"]
