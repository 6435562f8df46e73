"""Setting up a Cluster: from_env, from_url, closing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpstub import HTTPStub, Reply
from schemas import vectors

from tcmodel.cluster import Cluster
from tcmodel.credentials import Credentials
from tcmodel.errors import ConfigurationError

ROOT = "https://tc.example.com"
ENV_KEYS = (
    "TASKCLUSTER_ROOT_URL",
    "TASKCLUSTER_CLIENT_ID",
    "TASKCLUSTER_ACCESS_TOKEN",
    "TASKCLUSTER_CERTIFICATE",
    "TASKCLUSTER_PROXY_URL",
)


@pytest.fixture
def stub() -> Iterator[HTTPStub]:
    with HTTPStub() as s:
        yield s


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


def _cert() -> str:
    cert: str = vectors()["temporaryCredentials"]["named"]["output"]["certificate"]
    return cert


def _ext(authorization: str | None) -> dict[str, Any]:
    assert authorization is not None
    for part in authorization[len("Hawk ") :].split(", "):
        key, _, value = part.partition("=")
        if key == "ext":
            decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(value.strip('"')))
            return decoded
    raise AssertionError("no ext")


# -- from_env --------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TASKCLUSTER_ROOT_URL": ""},
        {"TASKCLUSTER_ROOT_URL": "   "},
        {"TASKCLUSTER_CLIENT_ID": "a", "TASKCLUSTER_ACCESS_TOKEN": "b"},
    ],
)
def test_from_env_without_root_url(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="TASKCLUSTER_ROOT_URL"):
        Cluster.from_env(env)


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="TASKCLUSTER_ROOT_URL"):
        Cluster.from_env()
    monkeypatch.setenv("TASKCLUSTER_ROOT_URL", ROOT + "/")
    monkeypatch.setenv("TASKCLUSTER_CLIENT_ID", "project/me")
    monkeypatch.setenv("TASKCLUSTER_ACCESS_TOKEN", "tok")
    with Cluster.from_env() as cluster:
        assert cluster.root_url == ROOT
        assert cluster.credentials == Credentials("project/me", "tok")


def test_from_env_root_url_only_is_anonymous() -> None:
    with Cluster.from_env({"TASKCLUSTER_ROOT_URL": ROOT + "/"}) as cluster:
        assert cluster.root_url == ROOT
        assert cluster.credentials is None
        assert cluster.transport.auth is None
        assert repr(cluster) == f"<Cluster '{ROOT}' anonymous>"


def test_from_env_permanent_credentials(stub: HTTPStub) -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": stub.url,
        "TASKCLUSTER_CLIENT_ID": "project/me",
        "TASKCLUSTER_ACCESS_TOKEN": "tok",
    }
    stub.script(Reply(200, {"alive": True}))
    with Cluster.from_env(env) as cluster:
        assert cluster.credentials == Credentials("project/me", "tok")
        assert not cluster.credentials.is_temporary
        cluster.ping()
    auth = stub.requests[0].authorization
    assert auth is not None and 'id="project/me"' in auth
    assert _ext(auth) == {}


def test_from_env_certificate_passed_through(stub: HTTPStub) -> None:
    named = vectors()["temporaryCredentials"]["named"]["output"]
    env = {
        "TASKCLUSTER_ROOT_URL": stub.url,
        "TASKCLUSTER_CLIENT_ID": named["clientId"],
        "TASKCLUSTER_ACCESS_TOKEN": named["accessToken"],
        "TASKCLUSTER_CERTIFICATE": named["certificate"],
    }
    stub.script(Reply(200, {"alive": True}))
    with Cluster.from_env(env, authorized_scopes=["queue:ping"]) as cluster:
        assert cluster.credentials is not None
        assert cluster.credentials.certificate == named["certificate"]
        cluster.ping()
    ext = _ext(stub.requests[0].authorization)
    assert ext == {
        "certificate": json.loads(named["certificate"]),
        "authorizedScopes": ["queue:ping"],
    }


def test_from_env_empty_certificate_means_permanent() -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": ROOT,
        "TASKCLUSTER_CLIENT_ID": "a",
        "TASKCLUSTER_ACCESS_TOKEN": "b",
        "TASKCLUSTER_CERTIFICATE": "",
    }
    with Cluster.from_env(env) as cluster:
        assert cluster.credentials is not None and not cluster.credentials.is_temporary


def test_from_env_bad_certificate_is_a_configuration_error() -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": ROOT,
        "TASKCLUSTER_CLIENT_ID": "a",
        "TASKCLUSTER_ACCESS_TOKEN": "b",
        "TASKCLUSTER_CERTIFICATE": "{not json",
    }
    with pytest.raises(ConfigurationError, match="TASKCLUSTER_CERTIFICATE") as info:
        Cluster.from_env(env)
    assert "{not json" not in str(info.value)  # the certificate itself is a secret


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("TASKCLUSTER_CLIENT_ID", "TASKCLUSTER_ACCESS_TOKEN"),
        ("TASKCLUSTER_ACCESS_TOKEN", "TASKCLUSTER_CLIENT_ID"),
    ],
)
def test_from_env_half_credentials(present: str, missing: str) -> None:
    env = {"TASKCLUSTER_ROOT_URL": ROOT, present: "value-123"}
    with pytest.raises(ConfigurationError, match=missing) as info:
        Cluster.from_env(env)
    assert "value-123" not in str(info.value)


def test_from_env_proxy_sends_unsigned_requests_to_the_proxy(stub: HTTPStub) -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": ROOT,
        "TASKCLUSTER_CLIENT_ID": "a",
        "TASKCLUSTER_ACCESS_TOKEN": "b",
        "TASKCLUSTER_PROXY_URL": stub.url + "/",
    }
    stub.script(Reply(200, {"alive": True}))
    with Cluster.from_env(env) as cluster:
        assert cluster.root_url == stub.url
        assert cluster.credentials is None
        assert cluster.ping() == {"alive": True}
    assert [(r.method, r.path) for r in stub.requests] == [("GET", "/api/queue/v1/ping")]
    assert stub.requests[0].authorization is None


def test_from_env_bad_root_url() -> None:
    with pytest.raises(ConfigurationError, match="root URL"):
        Cluster.from_env({"TASKCLUSTER_ROOT_URL": "tc.example.com"})


# -- from_url ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["", "   ", "tc.example.com", "ftp://tc.example.com", "https://", f"{ROOT}/api", f"{ROOT}?a=1"],
)
def test_from_url_bad_root_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Cluster.from_url(url)


def test_from_url_normalises() -> None:
    with Cluster.from_url(ROOT + "/") as a, Cluster.from_url(ROOT) as b:
        assert a.root_url == b.root_url == ROOT
        assert a == b and hash(a) == hash(b)


def test_from_url_credential_forms() -> None:
    cert = _cert()
    forms: list[Any] = [
        Credentials("a", "b"),
        ("a", "b"),
        {"clientId": "a", "accessToken": "b"},
        {"clientId": "a", "accessToken": b"b"},
    ]
    for form in forms:
        with Cluster.from_url(ROOT, form) as cluster:
            assert cluster.credentials == Credentials("a", "b")
            assert repr(cluster) == f"<Cluster '{ROOT}' client_id='a'>"
    with Cluster.from_url(ROOT, {"clientId": "a", "accessToken": "b", "certificate": cert}) as c:
        assert c.credentials is not None and c.credentials.certificate == cert
    with Cluster.from_url(ROOT, None) as c:
        assert c.credentials is None


def test_from_url_bad_credentials() -> None:
    with pytest.raises(TypeError):
        Cluster.from_url(ROOT, ["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Cluster.from_url(ROOT, {"clientId": "a"})
    with pytest.raises(ConfigurationError):
        Cluster.from_url(ROOT, ("a", ""))


def test_from_url_options_reach_the_transport() -> None:
    with Cluster.from_url(ROOT, ("a", "b"), authorized_scopes=("x:y",), max_retries=2) as cluster:
        assert cluster.transport.retry.max_retries == 2
        assert cluster.transport.authorized_scopes == ["x:y"]
    with pytest.raises(ConfigurationError):
        Cluster.from_url(ROOT, max_retries=-1)


# -- closing --------------------------------------------------------------------------


def test_context_manager_closes_its_own_client() -> None:
    with Cluster.from_url(ROOT) as cluster:
        client = cluster.transport.client
        assert not client.is_closed
    assert client.is_closed


def test_context_manager_leaves_a_users_client_open() -> None:
    with httpx.Client() as mine:
        with Cluster.from_url(ROOT, client=mine) as cluster:
            assert cluster.transport.client is mine
        assert not mine.is_closed
        cluster.close()  # closing again is harmless and still leaves it open
        assert not mine.is_closed


def test_async_context_manager_closes_its_own_clients() -> None:
    async def main() -> tuple[httpx.AsyncClient, httpx.Client, httpx.AsyncClient]:
        async with httpx.AsyncClient() as mine:
            async with Cluster.from_url(ROOT, async_client=mine) as cluster:
                assert cluster.transport.async_client is mine
            assert not mine.is_closed
        async with Cluster.from_url(ROOT) as cluster:
            own_async = cluster.transport.async_client
            own_sync = cluster.transport.client
        return own_async, own_sync, mine

    own_async, own_sync, _ = asyncio.run(main())
    assert own_async.is_closed
    assert own_sync.is_closed


@pytest.mark.parametrize("url", ["http://127.0.0.1:70000", "http://127.0.0.1:0"])
def test_a_root_url_with_an_impossible_port_is_refused_up_front(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not a usable URL"):
        Cluster.from_url(url)
