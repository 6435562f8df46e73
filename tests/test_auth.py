"""Auth on the client side, against a real local cluster: the caller's
scopes (current, expanded, checked locally with one request), the tester
client, clients and roles as lazy handles with their actions and listings,
AWS credentials; request counts, scope failures and that no access token
shows in a repr, a display, a log line or an error."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from lc_client_support import entry_statuses

import tcmodel
from tcmodel.display.views import html, text
from tcmodel.models import from_json
from tcmodel.models_services import AwsCredentials, ClientInfo
from tcmodel.resources import Client, Role
from tcmodel.testing import LocalCluster, Settings


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=2)


# -- the caller's scopes ----------------------------------------------------------


def test_current_scopes_are_expanded_through_roles_in_one_request(lc: LocalCluster) -> None:
    lc.add_role("project:ci", ["queue:create-task:highest:proj/*", "assume:project:index"])
    lc.add_role("project:index", ["index:insert-task:project.*"])
    creds = lc.add_client("project/ci", ["assume:project:ci"])
    with lc.connect(creds) as cluster:
        lc.reset_requests()
        scopes = cluster.current_scopes()
        assert entry_statuses(lc) == [("currentScopes", 200)]
    assert {
        "assume:project:ci",
        "assume:project:index",
        "queue:create-task:highest:proj/*",
        "index:insert-task:project.*",
    } <= set(scopes)
    assert "auth:create-client:x" not in scopes


def test_satisfies_checks_locally_after_one_request_per_call(lc: LocalCluster) -> None:
    lc.add_role("project:ci", ["queue:create-task:highest:proj/*"])
    creds = lc.add_client("project/ci", ["assume:project:ci", "secrets:get:project/*"])
    with lc.connect(creds) as cluster:
        lc.reset_requests()
        assert cluster.satisfies([["queue:create-task:highest:proj/ci", "secrets:get:project/a"]])
        assert not cluster.satisfies([["queue:create-task:highest:other/ci"]])
        assert cluster.satisfies([["index:insert-task:x"], ["secrets:get:project/b"]])
        assert cluster.satisfies("secrets:get:project/c")
        assert not cluster.satisfies({"AllOf": ["secrets:get:project/c", "hooks:trigger:x"]})
        assert cluster.satisfies({"AnyOf": ["hooks:trigger:x", "secrets:get:project/c"]})
        assert not cluster.satisfies([])  # no alternative at all: never satisfied
        assert entry_statuses(lc) == [("currentScopes", 200)] * 7
        with pytest.raises(TypeError, match="list of alternatives"):
            cluster.satisfies(["secrets:get:project/a", "x"])  # type: ignore[list-item]
        assert len(lc.requests) == 7


def test_expand_scopes(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    lc.add_role("project:a", ["assume:project:b", "queue:route:a.*"])
    lc.add_role("project:b", ["queue:route:b.*"])
    lc.reset_requests()
    assert root.expand_scopes(["assume:project:a"]) == [
        "assume:project:a",
        "assume:project:b",
        "queue:route:a.*",
        "queue:route:b.*",
    ]
    assert entry_statuses(lc) == [("expandScopes", 200)]
    with pytest.raises(TypeError):
        root.expand_scopes("assume:project:a")  # type: ignore[arg-type]  # one string
    assert len(lc.requests) == 1


def test_expand_scopes_needs_its_scope(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # without the auth read scopes
    weak = lc.connect(lc.add_client("weak", []))
    with weak, pytest.raises(tcmodel.InsufficientScopes) as info:
        weak.expand_scopes(["assume:x"])
    assert "auth:expand-scopes" in str(info.value)


def test_test_authenticate_applies_authorized_scopes(root: tcmodel.Cluster) -> None:
    scopes = root.test_authenticate(
        ["test:*", "queue:*"], ["test:a"], authorized_scopes=["test:a", "test:b"]
    )
    assert "test:a" in scopes and "test:b" in scopes and "queue:*" not in scopes
    with pytest.raises(tcmodel.InsufficientScopes) as info:
        root.test_authenticate(["test:*"], ["test:a"], authorized_scopes=["test:b"])
    assert "test:a" in str(info.value)
    assert root.test_authenticate(["test:*"], ["test:x", "test:y"])  # all required, all held


# -- clients ------------------------------------------------------------------------------


def test_client_handle_costs_nothing_and_loads_once(
    root: tcmodel.Cluster, lc: LocalCluster
) -> None:
    lc.add_client("project/reader", ["queue:status:*"])
    lc.reset_requests()
    client = root.client("project/reader")
    assert repr(client) == "<Client clientId='project/reader'>"
    assert not client.loaded
    assert "project/reader" in text(client) and "/auth/clients/project%2Freader" in html(client)
    assert lc.requests == []
    assert client.scopes == ("queue:status:*",)
    assert client.expanded_scopes == ("queue:status:*",)
    assert client.disabled is False and client.expires.year == 3000
    assert entry_statuses(lc) == [("client", 200)]
    client.refresh()
    assert entry_statuses(lc) == [("client", 200)] * 2
    assert client == root.client("project/reader") and client != root.role("project/reader")


def test_client_life_cycle(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    client = root.client("project/bot")
    lc.reset_requests()
    creds = client.create(scopes=["secrets:get:project/*"], description="a bot", expires="1 day")
    assert entry_statuses(lc) == [("createClient", 200)]
    assert isinstance(creds, tcmodel.Credentials) and creds.client_id == "project/bot"
    # the record came with the answer: no read
    assert client.loaded and client.description == "a bot"
    assert client.scopes == ("secrets:get:project/*",)
    assert abs((client.expires - datetime.now(timezone.utc)).total_seconds() - 86400) < 120
    assert len(lc.requests) == 1

    with lc.connect(creds) as bot:
        assert "secrets:get:project/*" in bot.current_scopes()

        # update: what is not given stays (the record is loaded: no read)
        lc.reset_requests()
        client.update(scopes=["secrets:get:project/*", "notify:email:*"])
        assert entry_statuses(lc) == [("updateClient", 200)]
        assert client.description == "a bot"
        assert client.scopes == ("notify:email:*", "secrets:get:project/*")
        assert "notify:email:*" in bot.current_scopes()

        assert client.disable() is client and client.disabled
        assert repr(client) == "<Client clientId='project/bot' disabled=True>"
        with pytest.raises(tcmodel.AuthenticationFailed):
            bot.current_scopes()
        assert not client.enable().disabled
        assert bot.current_scopes()

        lc.reset_requests()
        new = client.reset_token()
        assert entry_statuses(lc) == [("resetAccessToken", 200)]
        assert new.access_token != creds.access_token
        with pytest.raises(tcmodel.AuthenticationFailed):
            bot.current_scopes()  # the old token stopped working
    with lc.connect(new) as bot:
        assert bot.current_scopes()

    lc.reset_requests()
    client.delete()
    client.delete()  # already gone: fine
    assert entry_statuses(lc) == [("deleteClient", 204)] * 2
    assert not client.loaded
    with pytest.raises(tcmodel.NotFound):
        client.refresh()


def test_update_of_an_unloaded_client_reads_it_first(
    root: tcmodel.Cluster, lc: LocalCluster
) -> None:
    root.client("project/u").create(description="keep me", scopes=["a:1"])
    fresh = root.client("project/u")
    lc.reset_requests()
    fresh.update(scopes=["a:1", "a:2"])
    assert entry_statuses(lc) == [("client", 200), ("updateClient", 200)]
    assert fresh.description == "keep me"
    lc.reset_requests()
    root.client("project/u").update(scopes=["a:1"], description="d", expires="1 day")
    assert entry_statuses(lc) == [("updateClient", 200)]  # everything given: no read


def test_creating_a_client_needs_its_scopes(lc: LocalCluster) -> None:
    creds = lc.add_client("project/admin", ["auth:create-client:project/*", "secrets:get:*"])
    with lc.connect(creds) as admin:
        admin.client("project/ok").create(scopes=["secrets:get:project/x"])
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            admin.client("project/greedy").create(scopes=["queue:create-task:*"])
        assert "queue:create-task:*" in str(info.value)
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            admin.client("other/x").create()
        assert "auth:create-client:other/x" in str(info.value)
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            admin.client("project/ok").reset_token()
        assert "auth:reset-access-token:project/ok" in str(info.value)


def test_no_access_token_in_reprs_displays_logs_or_errors(
    root: tcmodel.Cluster, lc: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = root.client("project/secretive")
    creds = client.create(scopes=["a:b"])
    again = client.reset_token()
    shown = [repr(creds), str(creds), repr(again), repr(client), repr(client.info), text(client)]
    shown += [html(client), html(client.info), text(client.info), repr(list(root.clients()))]
    with pytest.raises(tcmodel.RequestConflict) as info:
        client.create(scopes=["a:c"])  # exists, differently
    shown += [str(info.value), repr(info.value.body), caplog.text]
    for token in (creds.access_token, again.access_token):
        assert all(token not in s for s in shown)
    assert "accessToken" not in client.info.raw


def test_client_listing_pages_with_prefix(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    for i in range(5):
        lc.add_client(f"project/many/{i}", [f"a:{i}"])
    lc.add_client("project/other", [])
    lc.reset_requests()
    listing = root.clients(prefix="project/many/")
    assert lc.requests == []
    found = list(listing)
    assert [c.client_id for c in found] == [f"project/many/{i}" for i in range(5)]
    assert entry_statuses(lc) == [("listClients", 200)] * 3  # pages of 2
    assert [c.scopes for c in found][:2] == [("a:0",), ("a:1",)]  # loaded with the listing
    assert len(lc.requests) == 3
    assert all(isinstance(c, Client) for c in found)
    assert [c.client_id for c in root.clients().filter(disabled=False)][:1] == ["project/many/0"]


# -- roles --------------------------------------------------------------------------------


def test_role_life_cycle(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    lc.add_role("project:base", ["index:insert-task:project.*"])
    role = root.role("project:ci")
    assert repr(role) == "<Role roleId='project:ci'>" and lc.requests == []
    lc.reset_requests()
    role.create(["assume:project:base", "queue:route:index.project.*"], description="CI")
    assert entry_statuses(lc) == [("createRole", 200)]
    assert role.expanded_scopes == (
        "assume:project:base",
        "assume:project:ci",
        "index:insert-task:project.*",
        "queue:route:index.project.*",
    )
    assert len(lc.requests) == 1

    with lc.connect(lc.add_client("project/ci", ["assume:project:ci"])) as ci:
        assert ci.satisfies("index:insert-task:project.app.latest")

    fresh = root.role("project:ci")
    lc.reset_requests()
    assert fresh.description == "CI"
    fresh.update(description="CI builds")
    assert entry_statuses(lc) == [("role", 200), ("updateRole", 200)]
    assert fresh.scopes == role.scopes and fresh.description == "CI builds"
    role.update(["queue:route:index.project.*"], description="smaller")
    assert role.scopes == ("queue:route:index.project.*",)

    lc.reset_requests()
    role.delete()
    role.delete()
    assert entry_statuses(lc) == [("deleteRole", 204)] * 2
    with pytest.raises(tcmodel.NotFound):
        root.role("project:ci").scopes


def test_creating_a_role_needs_its_scopes(lc: LocalCluster) -> None:
    creds = lc.add_client("project/admin", ["auth:create-role:project:*", "queue:route:*"])
    with lc.connect(creds) as admin:
        admin.role("project:fine").create(["queue:route:x"])
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            admin.role("project:greedy").create(["secrets:get:*"])
        assert "secrets:get:*" in str(info.value)
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            admin.role("project:fine").delete()
        assert "auth:delete-role:project:fine" in str(info.value)


def test_role_listing_pages(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    for name in ("project:a", "project:b", "project:c"):
        lc.add_role(name, [f"x:{name}"])
    lc.reset_requests()
    found = {r.role_id: r for r in root.roles()}
    assert {"anonymous", "project:a", "project:b", "project:c"} <= set(found)
    pages = len(lc.requests)
    assert pages == (len(found) + 1) // 2 and {e for e, _ in entry_statuses(lc)} == {"listRoles2"}
    assert found["project:b"].scopes == ("x:project:b",)
    assert all(isinstance(r, Role) for r in found.values())
    assert len(lc.requests) == pages  # the records came with the listing


# -- AWS ------------------------------------------------------------------------------


def test_aws_s3_credentials(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    lc.reset_requests()
    with pytest.raises(tcmodel.NotFound):  # the local cluster configures no bucket
        root.aws_s3_credentials("my-bucket", "project/", level="read-write")
    assert entry_statuses(lc) == [("awsS3Credentials", 404)]
    with pytest.raises(ValueError):
        root.aws_s3_credentials("my-bucket", "project/", level="write")
    assert len(lc.requests) == 1
    creds = lc.add_client("project/reader", ["auth:aws-s3:read-only:my-bucket/project/*"])
    with lc.connect(creds) as reader:
        with pytest.raises(tcmodel.NotFound):
            reader.aws_s3_credentials("my-bucket", "project/cache")
        with pytest.raises(tcmodel.InsufficientScopes) as info:
            reader.aws_s3_credentials("my-bucket", "project/cache", level="read-write")
    assert "auth:aws-s3:read-write:my-bucket/project/cache" in str(info.value)


def test_aws_credentials_hide_their_secrets() -> None:
    aws = from_json(
        AwsCredentials,
        {
            "accessKeyId": "AKIAEXAMPLE",
            "secretAccessKey": "wJalrXUtnFEMI",
            "sessionToken": "FwoGZXIvYXdz",
            "expires": "2030-01-01T00:00:00Z",
        },
    )
    shown = repr(aws) + text(aws) + html(aws)
    assert "AKIAEXAMPLE" in shown
    assert "wJalrXUtnFEMI" not in shown and "FwoGZXIvYXdz" not in shown
    assert aws.secret_access_key == "wJalrXUtnFEMI"


def test_client_info_model_reads_booleans() -> None:
    when = "2024-01-31T12:00:00Z"
    info = from_json(
        ClientInfo,
        {
            "clientId": "a",
            "description": "",
            "expires": when,
            "disabled": True,
            "deleteOnExpiration": False,
        },
    )
    assert info.disabled is True and info.delete_on_expiration is False
    with pytest.raises(tcmodel.models.ModelDataError):
        from_json(ClientInfo, {"clientId": "a", "description": "", "expires": when, "disabled": 1})
