"""The local cluster's secrets service over real HTTP, driven by the official
client (bodies checked against the real schemas) and by tcmodel's transport:
set/get/remove/list, expiry, paging, scopes and that errors never echo a
secret value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import taskcluster
from schemas import Checked

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing._core import iso

VALUE = {"user": "ci", "password": "hunter2", "nested": {"list": [1, 2]}}


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=3)


def secrets_client(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official Secrets client (root credentials by default; anonymous
    with ``creds=None`` when ``anonymous`` is asked for)."""
    c = creds or lc.root_credentials
    options = {
        "rootUrl": lc.root_url,
        "maxRetries": 0,
        "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
    }
    return Checked(taskcluster.Secrets(options), "secrets")


def anonymous(lc: LocalCluster) -> Any:
    return Checked(taskcluster.Secrets({"rootUrl": lc.root_url, "maxRetries": 0}), "secrets")


def in_days(lc: LocalCluster, days: float) -> str:
    return iso(lc.clock.now() + days * 86400)


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        call(*args, **kwargs)
    return info.value.status_code, info.value.body


def test_set_get_update_remove(lc: LocalCluster) -> None:
    s = secrets_client(lc)
    expires = in_days(lc, 1)
    assert s.ping()["alive"] is True
    assert s.set("proj/ci/one", {"secret": VALUE, "expires": expires}) == {}
    assert s.get("proj/ci/one") == {"secret": VALUE, "expires": expires}
    s.set("proj/ci/one", {"secret": {"password": "changed"}, "expires": expires})
    assert s.get("proj/ci/one")["secret"] == {"password": "changed"}
    assert s.remove("proj/ci/one") == {}
    assert s.remove("proj/ci/one") == {}  # again: still 200
    status, body = error_of(s.get, "proj/ci/one")
    assert (status, body["code"]) == (404, "ResourceNotFound")
    assert body["message"].startswith("Secret not found")
    assert [(r.entry, r.status) for r in lc.requests][-3:] == [
        ("remove", 200),
        ("remove", 200),
        ("get", 404),
    ]


def test_expired_secret_reads_as_missing_and_is_not_listed(lc: LocalCluster) -> None:
    s = secrets_client(lc)
    s.set("past", {"secret": {"a": 1}, "expires": in_days(lc, -1)})  # accepted
    s.set("soon", {"secret": {"a": 2}, "expires": iso(lc.clock.now() + 60)})
    assert error_of(s.get, "past")[0] == 404
    assert s.list()["secrets"] == ["soon"]
    lc.advance(120)
    assert error_of(s.get, "soon")[0] == 404  # 404, not the 410 of the reference
    assert lc.state.secrets.names() == []


def test_list_pages_and_anonymous_may_list(lc: LocalCluster) -> None:
    names = [f"garbage/{i:02d}" for i in range(7)]
    for name in names:
        lc.state.secrets.put(name, {"n": name})
    lc.reset_requests()
    first = secrets_client(lc).list(query={"limit": 2})
    assert first["secrets"] == names[:2] and "continuationToken" in first
    pages = []
    anon = anonymous(lc)
    anon.list(paginationHandler=lambda page: pages.append(page["secrets"]))
    assert pages == [names[:3], names[3:6], names[6:]]  # max_page_size 3
    assert len(lc.requests) == 1 + 3
    code, body = error_of(anon.list, query={"continuationToken": "garbage"})
    assert (code, body["code"]) == (400, "InputError")


def test_scopes_per_name(lc: LocalCluster) -> None:
    secrets_client(lc).set("proj/a/x", {"secret": VALUE, "expires": in_days(lc, 1)})
    reader = secrets_client(lc, lc.add_client("reader", ["secrets:get:proj/a/*"]))
    assert reader.get("proj/a/x")["secret"] == VALUE
    assert error_of(reader.get, "proj/a/nope")[0] == 404
    status, body = error_of(reader.get, "proj/other")
    assert (status, body["code"]) == (403, "InsufficientScopes")
    assert "secrets:get:proj/other" in body["message"]
    status, body = error_of(reader.set, "proj/a/x", {"secret": {}, "expires": in_days(lc, 1)})
    assert status == 403 and "secrets:set:proj/a/x" in body["message"]
    status, body = error_of(anonymous(lc).remove, "proj/a/x")
    assert status == 403 and "secrets:set:proj/a/x" in body["message"]
    assert anonymous(lc).list()["secrets"] == ["proj/a/x"]  # secrets:list-secrets


def test_errors_never_echo_the_secret_value(lc: LocalCluster) -> None:
    reader = secrets_client(lc, lc.add_client("reader", ["secrets:get:*"]))
    status, body = error_of(reader.set, "x", {"secret": VALUE, "expires": in_days(lc, 1)})
    assert status == 403
    assert body["requestInfo"]["payload"]["secret"] == "(OMITTED)"
    assert "hunter2" not in str(body)
    status, body = error_of(secrets_client(lc).set, "x", {"secret": VALUE})
    assert (status, body["code"]) == (400, "InputValidationError")
    assert "expires" in body["message"] and "hunter2" not in str(body)


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "a string", "expires": "2030-01-01T00:00:00.000Z"},
        {"secret": {}, "expires": "tomorrow"},
        {"secret": {}, "expires": "2030-01-01T00:00:00.000Z", "extra": 1},
    ],
)
def test_set_rejects_bodies_that_break_the_schema(lc: LocalCluster, body: Any) -> None:
    status, err = error_of(secrets_client(lc).set, "bad", body)
    assert (status, err["code"]) == (400, "InputValidationError")
    assert lc.state.secrets.names() == []


def test_names_with_slashes_raw_or_encoded_and_tcmodel_transport(lc: LocalCluster) -> None:
    with lc.connect() as cluster:
        cluster.transport.request(
            "secrets", "set", name="a/b c/d", body={"secret": VALUE, "expires": in_days(lc, 1)}
        )
        got = cluster.transport.request("secrets", "get", name="a/b c/d")
    assert got["secret"] == VALUE
    assert lc.requests[-1].path == "/api/secrets/v1/secret/a%2Fb%20c%2Fd"
    raw = httpx.get(f"{lc.root_url}/api/secrets/v1/secret/a/b%20c/d")  # wildcard: raw "/"
    assert raw.status_code == 403  # anonymous: routed as `get` of "a/b c/d"
    assert "secrets:get:a/b c/d" in raw.json()["message"]
