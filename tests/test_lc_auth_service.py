"""The local cluster's auth service over real HTTP, driven by the official
client (bodies checked against the real schemas): clients and roles on the
cluster's own store (usable for Hawk at once), scope expansion, the test and
Hawk-checking entries, and the cloud-credential entries of a deployment
that configures none. Answers follow traces/real-v106.jsonl."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import taskcluster
from schemas import Checked

from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.errors import NotFound
from tcmodel.hawk import HawkAuth, sign_url
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing._core import iso
from tcmodel.testing.auth_service import normalize_scopes
from tcmodel.testing.state import ANONYMOUS_SCOPES

TESTER = Credentials("tester", "no-secret")


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=3)


def auth(lc: LocalCluster, creds: Credentials | None = None, **options: Any) -> Any:
    """An official Auth client, root credentials by default."""
    c = creds or lc.root_credentials
    credentials: dict[str, Any] = {"clientId": c.client_id, "accessToken": c.access_token}
    if c.certificate is not None:
        credentials["certificate"] = c.certificate
    opts = {"rootUrl": lc.root_url, "maxRetries": 0, "credentials": credentials, **options}
    return Checked(taskcluster.Auth(opts), "auth")


def anonymous(lc: LocalCluster) -> Any:
    return Checked(taskcluster.Auth({"rootUrl": lc.root_url, "maxRetries": 0}), "auth")


def failure(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        call(*args, **kwargs)
    return info.value.status_code, info.value.body


def all_pages(call: Any, key: str, *args: Any) -> list[Any]:
    items: list[Any] = []
    call(*args, paginationHandler=lambda page: items.extend(page[key]))
    return items


def client_body(lc: LocalCluster, scopes: list[str], description: str = "CI") -> dict[str, Any]:
    expires = iso(lc.clock.now() + 86400)
    return {"description": description, "expires": expires, "scopes": scopes}


ANONYMOUS = normalize_scopes(["assume:anonymous", *ANONYMOUS_SCOPES])


# -- clients -----------------------------------------------------------------


def test_created_client_authenticates_at_once_and_its_token_is_shown_once(
    lc: LocalCluster,
) -> None:
    root = auth(lc)
    body = client_body(lc, ["secrets:get:proj/*", "auth:current-scopes"])
    created = root.createClient("proj/ci", body)
    token = created["accessToken"]
    assert created["expandedScopes"] == ["auth:current-scopes", "secrets:get:proj/*"]
    assert created["disabled"] is False and created["deleteOnExpiration"] is False
    ci = auth(lc, Credentials("proj/ci", token))
    assert ci.currentScopes()["scopes"] == normalize_scopes([*ANONYMOUS, "secrets:get:proj/*"])
    again = root.createClient("proj/ci", body)  # identical: 200, the same token
    assert again["accessToken"] == token
    status, err = failure(root.createClient, "proj/ci", {**body, "description": "other"})
    assert (status, err["code"]) == (409, "RequestConflict")
    shown = root.client("proj/ci")
    assert "accessToken" not in shown and shown["scopes"] == sorted(body["scopes"])
    assert anonymous(lc).client("proj/ci")["clientId"] == "proj/ci"  # auth:get-client:*
    assert token not in repr(lc.state.clients["proj/ci"])
    status, err = failure(root.client, "proj/nobody")
    assert (status, err["code"]) == (404, "ResourceNotFound")


def test_update_disable_enable_reset_delete(lc: LocalCluster) -> None:
    root = auth(lc)
    token = root.createClient("proj/ci", client_body(lc, ["auth:current-scopes"]))["accessToken"]
    ci = auth(lc, Credentials("proj/ci", token))
    updated = root.updateClient("proj/ci", client_body(lc, ["queue:get-task:*"], "new"))
    assert (updated["description"], updated["scopes"]) == ("new", ["queue:get-task:*"])
    assert failure(root.updateClient, "proj/nobody", client_body(lc, []))[0] == 404

    assert root.disableClient("proj/ci")["disabled"] is True
    with pytest.raises(taskcluster.TaskclusterAuthFailure) as info:
        ci.currentScopes()
    assert "disabled" in info.value.body["message"]
    assert root.enableClient("proj/ci")["disabled"] is False
    assert ci.currentScopes()["scopes"]

    new_token = root.resetAccessToken("proj/ci")["accessToken"]
    assert new_token != token
    with pytest.raises(taskcluster.TaskclusterAuthFailure) as info:
        ci.currentScopes()
    assert "Bad mac" in info.value.body["message"]
    assert auth(lc, Credentials("proj/ci", new_token)).currentScopes()["scopes"]
    assert failure(root.resetAccessToken, "proj/nobody")[0] == 404

    lc.reset_requests()
    assert root.deleteClient("proj/ci") is None
    assert root.deleteClient("proj/ci") is None  # already gone: 204 again
    assert [r.status for r in lc.requests] == [204, 204]
    assert failure(root.client, "proj/ci")[0] == 404
    with pytest.raises(taskcluster.TaskclusterAuthFailure):
        auth(lc, Credentials("proj/ci", new_token)).currentScopes()

    history = all_pages(root.getEntityHistory, "auditHistory", "client", "proj/ci")
    assert [h["actionType"] for h in history] == [
        "created",
        "updated",
        "client disabled",
        "client enabled",
        "access token reset",
        "deleted",
    ]
    assert {h["clientId"] for h in history} == {lc.root_credentials.client_id}
    by_root = root.listAuditHistory(lc.root_credentials.client_id, query={"limit": 2})
    assert len(by_root["auditHistory"]) == 2 and "continuationToken" in by_root
    assert root.listAuditHistory("proj/ci")["auditHistory"] == []


def test_list_clients_by_prefix_pages(lc: LocalCluster) -> None:
    for i in range(5):
        lc.add_client(f"proj/c{i}", [])
    lc.add_client("other/x", [])
    lc.reset_requests()
    pages: list[list[str]] = []
    auth(lc).listClients(
        query={"prefix": "proj/"},
        paginationHandler=lambda p: pages.append([c["clientId"] for c in p["clients"]]),
    )
    assert pages == [["proj/c0", "proj/c1", "proj/c2"], ["proj/c3", "proj/c4"]]
    assert len(lc.requests) == 2
    one = auth(lc).listClients(query={"prefix": "proj/", "limit": 1})
    assert len(one["clients"]) == 1 and "continuationToken" in one
    slash = httpx.get(f"{lc.root_url}/api/auth/v1/clients/?prefix=other/")  # route's own "/"
    assert [c["clientId"] for c in slash.json()["clients"]] == ["other/x"]


def test_a_client_cannot_grant_scopes_it_lacks(lc: LocalCluster) -> None:
    maker = auth(lc, lc.add_client("maker", ["auth:create-client:proj/*", "queue:*"]))
    status, err = failure(maker.createClient, "proj/b", client_body(lc, ["*"]))
    assert (status, err["code"]) == (403, "InsufficientScopes")
    assert "auth:create-client:proj/b" in err["message"] and '"*"' in err["message"]
    assert "proj/b" not in lc.state.clients
    assert maker.createClient("proj/b", client_body(lc, ["queue:get-task:*"]))["accessToken"]
    status, err = failure(maker.createClient, "other/b", client_body(lc, []))
    assert status == 403 and "auth:create-client:other/b" in err["message"]


def test_invalid_client_id_and_body(lc: LocalCluster) -> None:
    status, err = failure(auth(lc).createClient, "bad client id", client_body(lc, []))
    assert (status, err["code"]) == (400, "InvalidRequestArguments")
    status, err = failure(auth(lc).createClient, "proj/c", {"description": "x"})
    assert (status, err["code"]) == (400, "InputValidationError")
    assert "expires" in err["message"]


# -- roles -------------------------------------------------------------------


def test_roles_expand_and_grant_their_scopes_at_once(lc: LocalCluster) -> None:
    root = auth(lc)
    body = {"description": "CI", "scopes": ["queue:get-task:*", "assume:proj:b"]}
    role = root.createRole("proj:a", body)
    assert role["scopes"] == ["assume:proj:b", "queue:get-task:*"]  # normalized
    assert role["expandedScopes"] == ["assume:proj:a", "assume:proj:b", "queue:get-task:*"]
    root.createRole("proj:b", {"description": "b", "scopes": ["secrets:get:x"]})
    assert root.createRole("proj:a", body)["roleId"] == "proj:a"  # identical: 200
    status, err = failure(root.createRole, "proj:a", {**body, "description": "other"})
    assert (status, err["code"]) == (409, "RequestConflict")
    assert root.role("proj:a")["expandedScopes"][-1] == "secrets:get:x"
    assert root.expandScopes({"scopes": ["assume:proj:a"]})["scopes"] == [
        "assume:proj:a",
        "assume:proj:b",
        "queue:get-task:*",
        "secrets:get:x",
    ]
    lc.state.secrets.put("x", {"v": 1})
    member = lc.add_client("member", ["assume:proj:a"])
    with lc.connect(member) as cluster:  # the role's scopes work for Hawk at once
        assert cluster.transport.request("secrets", "get", name="x")["secret"] == {"v": 1}
    assert failure(root.role, "proj:nothing")[0] == 404


def test_update_list_delete_roles(lc: LocalCluster) -> None:
    root = auth(lc)
    for name in ("r:1", "r:2", "r:3"):
        root.createRole(name, {"description": name, "scopes": []})
    updated = root.updateRole("r:1", {"description": "new", "scopes": ["index:*"]})
    assert (updated["description"], updated["scopes"]) == ("new", ["index:*"])
    status, err = failure(root.updateRole, "r:none", {"description": "x", "scopes": []})
    assert (status, err["code"]) == (404, "ResourceNotFound")
    everything = root.listRoles()
    assert [r["roleId"] for r in everything] == ["anonymous", "r:1", "r:2", "r:3"]
    pages: list[list[str]] = []
    root.listRoleIds(paginationHandler=lambda p: pages.append(p["roleIds"]))
    assert pages == [["anonymous", "r:1", "r:2"], ["r:3"]]
    one = root.listRoles2(query={"limit": 1})
    assert [r["roleId"] for r in one["roles"]] == ["anonymous"] and one["continuationToken"]
    lc.reset_requests()
    assert root.deleteRole("r:1") is None and root.deleteRole("r:1") is None
    assert [r.status for r in lc.requests] == [204, 204]
    assert failure(root.role, "r:1")[0] == 404
    history = all_pages(root.getEntityHistory, "auditHistory", "role", "r:1")
    assert [h["actionType"] for h in history] == ["created", "updated", "deleted"]


def test_a_client_cannot_put_scopes_it_lacks_into_a_role(lc: LocalCluster) -> None:
    maker = auth(lc, lc.add_client("maker", ["auth:create-role:proj:*", "auth:update-role:*"]))
    status, err = failure(maker.createRole, "proj:c", {"description": "x", "scopes": ["*"]})
    assert (status, err["code"]) == (403, "InsufficientScopes")
    assert "proj:c" not in lc.state.roles
    maker.createRole("proj:c", {"description": "x", "scopes": ["auth:update-role:*"]})
    status, err = failure(maker.updateRole, "proj:c", {"description": "x", "scopes": ["a:b"]})
    assert status == 403 and "a:b" in err["message"]


# -- scopes ------------------------------------------------------------------


def test_current_scopes_of_root_anonymous_temporary_and_authorized(lc: LocalCluster) -> None:
    assert auth(lc).currentScopes() == {"scopes": ["*"]}
    assert anonymous(lc).currentScopes() == {"scopes": ANONYMOUS}
    temp = create_temporary_credentials(lc.root_credentials, ["secrets:get:a/*"])
    assert auth(lc, temp).currentScopes()["scopes"] == normalize_scopes(
        [*ANONYMOUS, "secrets:get:a/*"]
    )
    narrowed = auth(lc, authorizedScopes=["auth:current-scopes", "index:insert-task:x"])
    assert "index:insert-task:x" in narrowed.currentScopes()["scopes"]
    assert "*" not in narrowed.currentScopes()["scopes"]


def test_expand_scopes_needs_a_scope_set(lc: LocalCluster) -> None:
    lc.add_role("a", ["b:*", "b:c"])
    assert anonymous(lc).expandScopes({"scopes": ["assume:a"]}) == {"scopes": ["assume:a", "b:*"]}
    status, err = failure(auth(lc).expandScopes, {"scopes": "assume:a"})
    assert (status, err["code"]) == (400, "InputValidationError")


# -- checking credentials ---------------------------------------------------------


def test_test_authenticate(lc: LocalCluster) -> None:
    tester = auth(lc, TESTER)
    ok = tester.testAuthenticate(
        {"clientScopes": ["test:a", "test:b"], "requiredScopes": ["test:a"]}
    )
    assert ok == {"clientId": "tester", "scopes": ["assume:anonymous", "test:a", "test:b"]}
    status, err = failure(
        tester.testAuthenticate, {"clientScopes": ["test:a"], "requiredScopes": ["test:c"]}
    )
    assert (status, err["code"]) == (403, "InsufficientScopes") and "test:c" in err["message"]
    wrong = auth(lc, Credentials("tester", "wrong"))
    with pytest.raises(taskcluster.TaskclusterAuthFailure) as info:
        wrong.testAuthenticate({"clientScopes": ["test:a"], "requiredScopes": []})
    assert "Bad mac" in info.value.body["message"]
    with pytest.raises(taskcluster.TaskclusterAuthFailure):  # only tester exists here
        auth(lc).testAuthenticate({"clientScopes": ["test:a"], "requiredScopes": []})
    body = {"clientScopes": ["test:a"], "requiredScopes": ["test:a"]}
    assert failure(anonymous(lc).testAuthenticate, body)[0] == 403
    temp = create_temporary_credentials(TESTER, ["test:a"])
    assert auth(lc, temp).testAuthenticate(body)["clientId"] == "tester"


def test_test_authenticate_get_with_header_and_bewit(lc: LocalCluster) -> None:
    expected = {
        "clientId": "tester",
        # as the real service lists them: anonymous first, then the fixed scopes as given
        "scopes": ["assume:anonymous", "test:*", "auth:create-client:test:*"],
    }
    assert auth(lc, TESTER).testAuthenticateGet() == expected
    url = sign_url(f"{lc.root_url}/api/auth/v1/test-authenticate-get", TESTER)
    assert httpx.get(url).json() == expected
    url = sign_url(f"{lc.root_url}/api/auth/v1/test-authenticate-get/", Credentials("x", "y"))
    assert httpx.get(url).status_code == 401


def test_authenticate_hawk(lc: LocalCluster) -> None:
    resource = "/api/queue/v1/ping"
    url = httpx.URL("http://127.0.0.1:8088" + resource)

    def header(creds: Credentials) -> str:
        return HawkAuth(creds, now=lc.clock.now).authorization("GET", url, b"", "")

    check = dict(method="get", resource=resource, host="127.0.0.1", port=8088)
    ok = anonymous(lc).authenticateHawk({**check, "authorization": header(lc.root_credentials)})
    assert (ok["status"], ok["scheme"], ok["clientId"], ok["scopes"]) == (
        "auth-success",
        "hawk",
        lc.root_credentials.client_id,
        ["*"],
    )
    assert ok["hash"]  # the payload hash the header carried, for the caller to check
    bad = Credentials(lc.root_credentials.client_id, "wrong")
    failed = anonymous(lc).authenticateHawk({**check, "authorization": header(bad)})
    assert failed == {"status": "auth-failed", "message": "Unauthorized: Bad mac"}
    none = anonymous(lc).authenticateHawk(check)
    assert (none["status"], none["scheme"], none["scopes"]) == ("no-auth", "none", ANONYMOUS)
    signed = httpx.URL(sign_url(str(url), lc.add_client("b", ["x:y"])))
    by_bewit = anonymous(lc).authenticateHawk({**check, "resource": signed.raw_path.decode()})
    assert (by_bewit["status"], by_bewit["clientId"]) == ("auth-success", "b")
    status, err = failure(anonymous(lc).authenticateHawk, {"method": "get"})
    assert (status, err["code"]) == (400, "InputValidationError")


# -- cloud credentials: none configured ------------------------------------------


def test_cloud_credentials_of_an_unconfigured_deployment(lc: LocalCluster) -> None:
    root = auth(lc)
    status, err = failure(root.awsS3Credentials, "read-only", "bucket", "x/")
    assert (status, err["code"]) == (404, "ResourceNotFound") and "bucket" in err["message"]
    assert failure(root.awsS3Credentials, "admin", "bucket", "x/")[0] == 400
    reader = auth(lc, lc.add_client("r", ["auth:aws-s3:read-only:bucket/*"]))
    assert failure(reader.awsS3Credentials, "read-only", "bucket", "x/")[0] == 404
    status, err = failure(reader.awsS3Credentials, "read-write", "bucket", "x/")
    assert status == 403 and "auth:aws-s3:read-write:bucket/x/" in err["message"]
    with lc.connect() as cluster:  # the official client has dropped the Azure calls
        call = cluster.transport.request
        assert call("auth", "azureAccounts") == {"accounts": []}
        for entry, params in [
            ("azureTables", {}),
            ("azureContainers", {}),
            ("azureTableSAS", {"table": "t", "level": "read-only"}),
            ("azureContainerSAS", {"container": "c", "level": "read-write"}),
        ]:
            with pytest.raises(NotFound):
                call("auth", entry, account="acct", **params)
    status, err = failure(root.sentryDSN, "proj")
    assert (status, err["code"]) == (404, "ResourceNotFound")
    status, err = failure(root.websocktunnelToken, "aud", "c1")
    assert (status, err["code"]) == (500, "InternalServerError")
    status, err = failure(root.gcpCredentials, "proj", "sa@proj.iam.gserviceaccount.com")
    assert (status, err["code"]) == (400, "InvalidRequestArguments")
    token_body = {"permissions": {"contents": "read"}, "repositories": ["repo"]}
    assert failure(root.githubRepoToken, "app", "owner", token_body)[0] == 404
    status, err = failure(anonymous(lc).githubRepoToken, "app", "owner", token_body)
    assert status == 403 and "auth:github-repo-token:app/owner/repo:contents:read" in err["message"]


@pytest.mark.parametrize("service", ["auth", "secrets"])
def test_service_builtins(lc: LocalCluster, service: str) -> None:
    with lc.connect() as cluster:
        assert cluster.transport.request(service, "ping")["alive"] is True
        for entry in ("lbheartbeat", "version", "heartbeat"):
            cluster.transport.request(service, entry)
    assert {(r.service, r.entry, r.status) for r in lc.requests} == {
        (service, e, 200) for e in ("ping", "lbheartbeat", "version", "heartbeat")
    }
