"""Secrets on the client side, against a real local cluster: the lazy
``cluster.secret(name)`` handle (value loaded on first read, once), set,
remove, expiry, the prefix listing, request counts, scope failures, and
that a secret's value never shows in a repr, a display, a log line or an
error."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from IPython.lib.pretty import pretty
from lc_client_support import entry_statuses

import tcmodel
from tcmodel.display.views import html, text
from tcmodel.resources import Secret
from tcmodel.testing import LocalCluster, Settings

VALUE = {"user": "ci", "password": "hunter2-correct-horse", "nested": {"token": "tok-9f8e7d"}}
SECRETS = ("hunter2-correct-horse", "tok-9f8e7d")


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=2)


def test_set_then_read_on_a_fresh_handle(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    secret = root.secret("project/ci/deploy")
    assert repr(secret) == "<Secret name='project/ci/deploy'>" and not secret.loaded
    assert lc.requests == []
    assert secret.set(VALUE, expires="2 days") is secret
    assert entry_statuses(lc) == [("set", 200)]
    assert secret.loaded and secret.value == VALUE  # kept: no read follows the set
    assert len(lc.requests) == 1

    fresh = root.secret("project/ci/deploy")
    lc.reset_requests()
    assert fresh.value == VALUE
    now = datetime.fromtimestamp(lc.clock.now(), tz=timezone.utc)
    assert abs((fresh.expires - now).total_seconds() - 2 * 86400) < 5
    assert entry_statuses(lc) == [("get", 200)]  # value and expiry: one read

    root.secret("project/ci/deploy").set({"password": "changed"})
    assert fresh.value == VALUE  # loaded once
    assert fresh.refresh().value == {"password": "changed"}
    assert [e for e, _ in entry_statuses(lc)] == ["get", "set", "get"]


def test_expires_takes_datetimes_offsets_and_iso_dates(root: tcmodel.Cluster) -> None:
    when = datetime(2031, 5, 1, 12, tzinfo=timezone.utc)
    assert root.secret("a").set({}, expires=when).expires == when
    assert root.secret("a").expires == when
    assert root.secret("b").set({}, expires="2032-01-02T03:04:05.000Z").expires.year == 2032
    assert root.secret("b").expires == datetime(2032, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        root.secret("c").set({}, expires="next week")


def test_remove_and_missing(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    secret = root.secret("project/gone").set({"a": 1})
    lc.reset_requests()
    secret.remove()
    secret.remove()  # already gone: fine
    assert entry_statuses(lc) == [("remove", 200)] * 2
    assert not secret.loaded
    with pytest.raises(tcmodel.NotFound) as info:
        secret.value
    assert "secrets.get(name='project/gone')" in str(info.value)


def test_an_expired_secret_reads_as_missing(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    root.secret("project/short").set({"a": 1}, expires="1 hour")
    lc.advance(2 * 3600)
    with pytest.raises(tcmodel.NotFound):
        root.secret("project/short").value
    assert [s.name for s in root.secrets()] == []


def test_listing_by_prefix_pages(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    for name in ("project/a/1", "project/a/2", "project/a/3", "project/b/1", "other/x"):
        lc.state.secrets.put(name, {"n": name})
    lc.reset_requests()
    listing = root.secrets(prefix="project/a/")
    assert lc.requests == []
    found = list(listing)
    assert [s.name for s in found] == ["project/a/1", "project/a/2", "project/a/3"]
    assert all(isinstance(s, Secret) and not s.loaded for s in found)
    assert entry_statuses(lc) == [("list", 200)] * 3  # 5 names, pages of 2
    assert [s.name for s in root.secrets()][:2] == ["other/x", "project/a/1"]
    assert root.secret("project/b/1") in root.secrets("project/")


def test_scopes_are_named_when_missing(lc: LocalCluster) -> None:
    lc.state.secrets.put("other/key", VALUE)
    creds = lc.add_client("project/ci", ["secrets:get:project/*", "secrets:set:project/ci/*"])
    with lc.connect(creds) as ci:
        ci.secret("project/ci/mine").set(VALUE)
        assert ci.secret("project/ci/mine").value == VALUE
        with pytest.raises(tcmodel.InsufficientScopes) as read:
            ci.secret("other/key").value
        with pytest.raises(tcmodel.InsufficientScopes) as write:
            ci.secret("project/shared").set(VALUE)
        with pytest.raises(tcmodel.InsufficientScopes) as remove:
            ci.secret("other/key").remove()
    assert "secrets:get:other/key" in str(read.value)
    assert "secrets:set:project/shared" in str(write.value)
    assert "secrets:set:other/key" in str(remove.value)
    for err in (read.value, write.value, remove.value):
        assert all(s not in str(err) + repr(err.body) for s in SECRETS)


def test_the_value_never_shows(
    root: tcmodel.Cluster, lc: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = root.secret("project/ci/deploy").set(VALUE)
    fresh = root.secret("project/ci/deploy")
    assert fresh.value == VALUE
    shown = [repr(secret), str(fresh), text(fresh), html(fresh), pretty(fresh)]
    shown += [repr(list(root.secrets())), html(root.secrets()), text(root.secrets())]
    assert "expires=" in repr(fresh) and "project/ci/deploy" in html(fresh)
    with pytest.raises(TypeError) as bad:
        secret.set("hunter2-correct-horse")  # type: ignore[arg-type]
    lc.inject("status", status=400, times=1, service="secrets", entry="set")
    with pytest.raises(tcmodel.APIError) as refused:
        secret.set(VALUE)
    shown += [str(bad.value), str(refused.value), repr(refused.value.body), caplog.text]
    assert all(s not in text for text in shown for s in SECRETS)


def test_a_malformed_answer_names_the_call_not_the_value(
    root: tcmodel.Cluster, lc: LocalCluster
) -> None:
    lc.inject(
        "status",
        status=200,
        body='{"secret": "hunter2-correct-horse", "expires": "2030-01-01T00:00:00Z"}',
        content_type="application/json",
        service="secrets",
        entry="get",
    )
    with pytest.raises(tcmodel.models.ModelDataError) as info:
        root.secret("project/x").value
    assert "secrets.get(name='project/x')" in str(info.value)
    assert "hunter2" not in str(info.value)
