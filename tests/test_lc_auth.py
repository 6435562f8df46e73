"""Authentication and scopes of the local cluster: Hawk headers, bewits,
temporary credentials, authorizedScopes and roles, over real HTTP, plus the
official client's vectors run through the Authenticator directly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import mohawk
import mohawk.base
import pytest
import taskcluster
from schemas import vectors
from test_lc_server import TASK, api, assert_error, lc, tc_queue

from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.hawk import HawkAuth, sign_url
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import ApiError
from tcmodel.testing.auth import Authenticator
from tcmodel.testing.state import Client, ClusterState

__all__ = ["lc"]  # the fixture, imported

OTHER = "XDqefRsvTG6ajX5vWks8LQ"
STATUS = f"/queue/v1/task/{TASK}/status"


def status_url(lc: LocalCluster, task: str = TASK) -> str:
    return f"{lc.root_url}/api/queue/v1/task/{task}/status"


def artifact_url(lc: LocalCluster, name: str) -> str:
    return f"{lc.root_url}/api/queue/v1/task/{TASK}/runs/0/artifacts/{name}"


def tc_temp(lc: LocalCluster, issuer: Credentials, scopes: list[str], **kw: Any) -> Any:
    """A taskcluster.Queue with temporary credentials from the official client."""
    start = kw.pop("start", taskcluster.fromNow("-1 minute"))
    expiry = kw.pop("expiry", taskcluster.fromNow("1 hour"))
    tmp = taskcluster.createTemporaryCredentials(
        issuer.client_id, issuer.access_token, start, expiry, scopes, **kw
    )
    return taskcluster.Queue({"rootUrl": lc.root_url, "credentials": tmp, "maxRetries": 0})


def expect_401(call: Any, *args: Any) -> str:
    with pytest.raises(taskcluster.TaskclusterAuthFailure) as info:
        call(*args)
    assert info.value.status_code == 401
    body: dict[str, Any] = info.value.body
    assert body["code"] == "AuthenticationFailed"
    message: str = body["message"]
    return message


# -- plain Hawk ---------------------------------------------------------------


def test_anonymous_requests_get_only_the_anonymous_role(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    with api(lc, anonymous=True) as c:
        body = assert_error(c.get(STATUS), 403, "InsufficientScopes", "status")
        assert "anonymous" in body["message"]
        r = c.get(f"/queue/v1/task/{TASK}/runs/0/artifacts/public%2Flog.txt")
        assert r.json()["clientId"] is None
        assert "queue:get-artifact:public/*" in r.json()["scopes"]
        r = c.get(f"/queue/v1/task/{TASK}/runs/0/artifacts/private%2Flog.txt")
        assert_error(r, 403, "InsufficientScopes", "getArtifact")


def test_wrong_token_is_401_bad_mac_even_for_public_names(lc: LocalCluster) -> None:
    creds = lc.add_client("me", ["queue:*"])
    bad = Credentials(creds.client_id, creds.access_token + "x")
    with api(lc, bad) as c:
        r = c.get(f"/queue/v1/task/{TASK}/runs/0/artifacts/public%2Flog.txt")
        body = assert_error(r, 401, "AuthenticationFailed", "getArtifact")
        assert body["message"].startswith("Unauthorized: Bad mac\n")
        assert r.headers["www-authenticate"] == "hawk"
        assert creds.access_token not in r.text
    with api(lc, Credentials("nobody", "token")) as c:
        assert_error(c.get(STATUS), 401, "AuthenticationFailed", "status")


def test_timestamps_are_checked_against_the_cluster_clock(lc: LocalCluster) -> None:
    queue = tc_queue(lc)
    lc.advance(14 * 60)
    assert queue.status(TASK)["entry"] == "status"
    lc.advance(3 * 60)
    assert expect_401(queue.status, TASK).startswith("Unauthorized: Stale timestamp")


def test_expired_clients_are_refused(lc: LocalCluster) -> None:
    creds = lc.add_client("short-lived", ["queue:status:*"], expires=lc.clock.now() + 60)
    queue = tc_queue(lc, creds)
    assert queue.status(TASK)["clientId"] == "short-lived"
    lc.advance(61)
    assert "expired" in expect_401(queue.status, TASK)


def _mohawk_header(creds: Credentials, url: str, method: str, **kw: Any) -> str:
    sender = mohawk.Sender(
        {"id": creds.client_id, "key": creds.access_token, "algorithm": "sha256"},
        url,
        method,
        **kw,
    )
    header: str = sender.request_header
    return header


def test_payload_hash_is_checked_only_when_present(lc: LocalCluster) -> None:
    url = f"{lc.root_url}/api/queue/v1/task/{TASK}/runs/0/exception"
    creds = lc.root_credentials
    body = b'{"reason":"canceled"}'
    ctype = "application/json; charset=UTF-8"
    hashed = _mohawk_header(creds, url, "POST", content=body, content_type=ctype)
    r = httpx.post(url, content=body, headers={"Authorization": hashed, "Content-Type": ctype})
    assert r.json()["body"] == {"reason": "canceled"}
    other = b'{"reason":"superseded"}'
    r = httpx.post(url, content=other, headers={"Authorization": hashed, "Content-Type": ctype})
    assert r.status_code == 401 and "Invalid payload hash" in r.json()["message"]
    empty = mohawk.base.EmptyValue
    bare = _mohawk_header(
        creds, url, "POST", content=empty, content_type=empty, always_hash_content=False
    )
    assert 'hash="' not in bare
    r = httpx.post(url, content=other, headers={"Authorization": bare, "Content-Type": ctype})
    assert r.json()["body"] == {"reason": "superseded"}


def test_forwarded_port_is_what_the_client_signed(lc: LocalCluster) -> None:
    path = f"/api/queue/v1/task/{TASK}/status"
    auth = HawkAuth(lc.root_credentials)
    header = auth.authorization("GET", httpx.URL(f"https://127.0.0.1{path}"), b"", "")
    url = lc.root_url + path
    r = httpx.get(url, headers={"Authorization": header, "X-Forwarded-Port": "443"})
    assert r.status_code == 200
    r = httpx.get(url, headers={"Authorization": header, "X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    r = httpx.get(url, headers={"Authorization": header})
    assert r.status_code == 401


def test_malformed_headers_are_401(lc: LocalCluster) -> None:
    for header in ("Basic abc", 'Hawk id="a", ts="1"', 'Hawk id="a", id="b"', "Hawk x"):
        r = httpx.get(status_url(lc), headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["code"] == "AuthenticationFailed"


# -- ext: authorizedScopes and certificates ---------------------------------


def test_authorized_scopes_narrow_but_keep_the_anonymous_role(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    c = lc.root_credentials
    queue = taskcluster.Queue(
        {
            "rootUrl": lc.root_url,
            "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
            "authorizedScopes": [f"queue:status:{TASK}"],
            "maxRetries": 0,
        }
    )
    assert queue.status(TASK)["scopes"] == [
        "assume:anonymous",
        "queue:get-artifact:public/*",
        f"queue:status:{TASK}",
    ]
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        queue.status(OTHER)
    assert info.value.status_code == 403
    assert queue.getArtifact(TASK, 0, "public/x")["params"]["name"] == "public/x"


def test_authorized_scopes_beyond_the_client_are_401(lc: LocalCluster) -> None:
    creds = lc.add_client("small", ["queue:status:*"])
    auth = HawkAuth(creds, authorized_scopes=["queue:*"])
    with httpx.Client(base_url=lc.root_url + "/api", auth=auth) as c:
        body = assert_error(c.get(STATUS), 401, "AuthenticationFailed", "status")
        assert "authorizedScopes" in body["message"]


def test_ext_in_standard_base64_without_padding(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    ext = base64.b64encode(json.dumps({"authorizedScopes": [f"queue:status:{TASK}"]}).encode())
    url = status_url(lc, OTHER)
    header = _mohawk_header(
        lc.root_credentials, url, "GET", content="", content_type="", ext=ext.decode().rstrip("=")
    )
    assert httpx.get(url, headers={"Authorization": header}).status_code == 403
    assert httpx.get(url, headers={"Authorization": header + "x"}).status_code == 401


def test_temporary_credentials_of_the_official_client(lc: LocalCluster) -> None:
    root = lc.root_credentials
    queue = tc_temp(lc, root, ["queue:status:*"])
    got = queue.status(TASK)
    assert got["clientId"] == root.client_id
    assert "queue:get-artifact:private/*" not in got["scopes"]
    named = tc_temp(lc, root, ["queue:status:*"], name="project/temp")
    assert named.status(TASK)["clientId"] == "project/temp"


def test_tcmodel_temporary_credentials_sign_headers_and_bewits(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    tmp = create_temporary_credentials(lc.root_credentials, ["queue:get-artifact:private/*"])
    url = artifact_url(lc, "private%2Fa")
    with httpx.Client(auth=HawkAuth(tmp)) as c:
        assert c.get(url).json()["params"]["name"] == "private/a"
        assert c.get(status_url(lc)).status_code == 403
    assert httpx.get(sign_url(url, tmp)).json()["clientId"] == lc.root_credentials.client_id


def test_named_credentials_need_create_client(lc: LocalCluster) -> None:
    issuer = lc.add_client("issuer", ["queue:status:*"])
    queue = tc_temp(lc, issuer, ["queue:status:*"], name="issuer/child")
    assert "auth:create-client:issuer/child" in expect_401(queue.status, TASK)
    issuer = lc.add_client("issuer", ["queue:status:*", "auth:create-client:issuer/*"])
    queue = tc_temp(lc, issuer, ["queue:status:*"], name="issuer/child")
    assert queue.status(TASK)["clientId"] == "issuer/child"


def test_certificate_scopes_must_be_held_by_the_issuer(lc: LocalCluster) -> None:
    issuer = lc.add_client("limited", ["queue:status:*"])
    queue = tc_temp(lc, issuer, ["queue:*"])
    assert "does not have the scopes" in expect_401(queue.status, TASK)


def test_certificate_time_window(lc: LocalCluster) -> None:
    root = lc.root_credentials
    future = tc_temp(
        lc,
        root,
        ["queue:status:*"],
        start=taskcluster.fromNow("10 minutes"),
        expiry=taskcluster.fromNow("1 hour"),
    )
    assert "start > now" in expect_401(future.status, TASK)
    soon = tc_temp(lc, root, ["queue:status:*"], expiry=taskcluster.fromNow("1 minute"))
    assert soon.status(TASK)["entry"] == "status"
    lc.advance(5 * 60)  # within the 5-minute allowance after expiry
    assert soon.status(TASK)["entry"] == "status"
    lc.advance(2 * 60)
    assert "expiry < now" in expect_401(soon.status, TASK)


def _signed_cert(issuer: Credentials, **fields: Any) -> Credentials:
    """A certificate with arbitrary fields, signed as the real service expects."""
    cert = {"version": 1, "scopes": ["queue:status:*"], "seed": "s" * 44, **fields}
    lines = [
        "version:1",
        f"seed:{cert['seed']}",
        f"start:{cert['start']}",
        f"expiry:{cert['expiry']}",
        "scopes:",
        *cert["scopes"],
    ]
    key = issuer.access_token.encode()
    sig = hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).digest()
    cert.setdefault("signature", base64.b64encode(sig).decode())
    token = hmac.new(key, str(cert["seed"]).encode(), hashlib.sha256).digest()
    access = base64.urlsafe_b64encode(token).decode().rstrip("=")
    return Credentials(issuer.client_id, access, json.dumps(cert))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"expiry_days": 32}, "31 days"),
        ({"signature": "AAAA"}, "signature"),
        ({"version": 2}, "version"),
        ({"seed": "short"}, "seed"),
        ({"scopes": ["bad\tscope"]}, "scopes"),
    ],
)
def test_bad_certificates_are_401(lc: LocalCluster, fields: dict[str, Any], reason: str) -> None:
    now_ms = int(lc.clock.now() * 1000)
    days = fields.pop("expiry_days", 1)
    creds = _signed_cert(
        lc.root_credentials, start=now_ms, expiry=now_ms + days * 86_400_000, **fields
    )
    with api(lc, creds) as c:
        body = assert_error(c.get(STATUS), 401, "AuthenticationFailed", "status")
        assert reason in body["message"]


def test_a_good_handmade_certificate_is_accepted(lc: LocalCluster) -> None:
    now_ms = int(lc.clock.now() * 1000)
    creds = _signed_cert(lc.root_credentials, start=now_ms, expiry=now_ms + 1000 * 3600)
    with api(lc, creds) as c:
        assert c.get(STATUS).status_code == 200


# -- bewits -----------------------------------------------------------------------


def test_bewits(lc: LocalCluster) -> None:
    queue = tc_queue(lc)
    url = queue.buildSignedUrl("getArtifact", TASK, 0, "private/x")
    assert httpx.get(url).json()["clientId"] == "static/taskcluster/root"
    assert httpx.head(url).status_code == 200
    r = httpx.get(url, auth=HawkAuth(lc.root_credentials))  # HawkAuth never signs bewits
    assert r.status_code == 200
    header = HawkAuth(lc.root_credentials).authorization("GET", httpx.URL(url), b"", "")
    r = httpx.get(url, headers={"Authorization": header})
    assert_error(r, 401, "AuthenticationFailed", "getArtifact")
    lc.advance(901)
    r = httpx.get(url)
    assert r.json()["message"].startswith("Unauthorized: Access expired")


def test_bewit_resource_excludes_the_bewit_wherever_it_is(lc: LocalCluster) -> None:
    url = f"{lc.root_url}/api/queue/v1/task-group/{TASK}/list?limit=5"
    signed = sign_url(url, lc.root_credentials)
    assert httpx.get(signed).json()["query"] == {"limit": "5"}
    parts = urlsplit(signed)
    limit, bewit = parts.query.split("&")
    moved = f"{lc.root_url}{parts.path}?{bewit}&{limit}"
    assert httpx.get(moved).json()["query"] == {"limit": "5"}
    tampered = signed.replace("limit=5", "limit=6")
    assert httpx.get(tampered).status_code == 401


def test_bewits_only_for_get(lc: LocalCluster) -> None:
    url = f"{lc.root_url}/api/queue/v1/task/{TASK}/runs/0/exception"
    r = httpx.post(sign_url(url, lc.root_credentials), json={"reason": "canceled"})
    assert r.status_code == 401


# -- roles --------------------------------------------------------------------------


def test_roles_expand_to_a_fixed_point(lc: LocalCluster) -> None:
    lc.add_role("a", ["assume:b"])
    lc.add_role("b", ["assume:repo:x"])
    lc.add_role("repo:*", ["queue:status:*"])
    creds = lc.add_client("roled", ["assume:a"])
    scopes = tc_queue(lc, creds).status(TASK)["scopes"]
    assert {"assume:a", "assume:b", "assume:repo:x", "queue:status:*"} <= set(scopes)
    lc.add_role("anonymous", ["queue:status:*"])
    with api(lc, anonymous=True) as c:
        assert c.get(STATUS).status_code == 200


def test_star_scopes_assume_every_matching_role() -> None:
    st = ClusterState()
    st.roles.update({"p:one": ("x:1",), "p:two": ("x:2",), "q": ("x:3",)})
    auth = Authenticator(st)
    expanded = auth.expand(["assume:p:*"])
    assert {"x:1", "x:2"} <= set(expanded) and "x:3" not in expanded
    assert {"x:1", "x:2", "x:3"} <= set(auth.expand(["*"]))
    st.roles["p:one"] = ("x:changed",)
    assert "x:changed" in auth.expand(["assume:p:*"])  # the cache follows role changes


# -- the official client's vectors -------------------------------------------------


def _vector_state() -> ClusterState:
    st = ClusterState()
    token = vectors()["hawkHeaders"][0]["inputs"]["accessToken"]
    st.clients["tcmodel/vectors"] = Client("tcmodel/vectors", token, ("*",))
    return st


@pytest.mark.parametrize("index", range(6))
def test_hawk_header_vectors(index: int) -> None:
    v = vectors()["hawkHeaders"][index]
    auth = Authenticator(_vector_state())
    url = urlsplit(v["request"]["url"])
    kw: dict[str, Any] = {
        "method": v["request"]["method"],
        "resource": url.path + (f"?{url.query}" if url.query else ""),
        "host": url.hostname,
        "port": 443,
        "authorization": v["authorizationHeader"],
        "content_type": v["request"]["contentTypeHeader"] or "",
        "body": (v["request"]["body"] or "").encode(),
    }
    ts = v["inputs"]["ts"]
    ident = auth.authenticate(now=ts, **kw)
    assert ident.client_id == v["inputs"]["clientId"]
    if v["inputs"]["authorizedScopes"]:
        assert set(v["inputs"]["authorizedScopes"]) <= set(ident.scopes)
        assert "*" not in ident.scopes
    with pytest.raises(ApiError, match="Stale timestamp"):
        auth.authenticate(now=ts + 16 * 60, **kw)
    with pytest.raises(ApiError, match="Bad mac"):
        auth.authenticate(now=ts, **{**kw, "host": "other.example.com"})


@pytest.mark.parametrize("index", range(3))
def test_bewit_vectors(index: int) -> None:
    v = vectors()["bewitUrls"][index]
    auth = Authenticator(_vector_state())
    url = urlsplit(v["signedUrl"])
    bewit = v["bewit"]
    resource = url.path + "?" + url.query
    resource = resource.replace(f"?bewit={bewit}", "").replace(f"&bewit={bewit}", "")
    kw: dict[str, Any] = {"method": "GET", "resource": resource, "host": url.hostname}
    kw.update(port=443, bewit=bewit)
    ident = auth.authenticate_bewit(now=v["inputs"]["now"], **kw)
    assert ident.client_id == v["inputs"]["clientId"]
    exp = int(base64.urlsafe_b64decode(bewit + "==").decode().split("\\")[1])
    with pytest.raises(ApiError, match=v["serverCheck"]["atExpPlus1s"]):
        auth.authenticate_bewit(now=exp + 1, **kw)
