"""Hawk signing (tcmodel.hawk) against the official client's vectors."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import mohawk
import mohawk.bewit
import mohawk.exc
import pytest
from schemas import vectors

from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth, make_ext, sign_url
from tcmodel.transport import Call, Transport

ROOT = "https://tc.example.com"


def _hawk_cases() -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in vectors()["hawkHeaders"]]


def _bewit_cases() -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in vectors()["bewitUrls"]]


def _creds(inputs: dict[str, Any]) -> Credentials:
    return Credentials(inputs["clientId"], inputs["accessToken"], inputs["certificate"])


def _pinned(inputs: dict[str, Any], origin: str | None = None) -> HawkAuth:
    ts, nonce = inputs["ts"], inputs["nonce"]
    return HawkAuth(
        _creds(inputs),
        inputs["authorizedScopes"],
        origin=origin,
        now=lambda: ts,
        nonce=lambda: nonce,
    )


def _signed(auth: httpx.Auth, request: httpx.Request) -> httpx.Request:
    flow = auth.auth_flow(request)
    return next(flow)


def _header_params(header: str) -> dict[str, str]:
    assert header.startswith("Hawk ")
    out: dict[str, str] = {}
    for part in header[len("Hawk ") :].split(", "):
        key, _, value = part.partition("=")
        out[key] = value.strip('"')
    return out


# The official client's call behind each vector, as a tcmodel Call.
def _call_for(vector: dict[str, Any]) -> Call:
    task_id = "Dx4tPEtaRpeIeWpbTD0uHw"
    body = vector["request"]["body"]
    parsed = json.loads(body) if body else None
    calls = {
        "get-no-body": Call.of("queue", "task", taskId=task_id),
        "get-query-and-slash-name": Call.of(
            "queue",
            "listArtifacts",
            taskId=task_id,
            runId=0,
            query={"limit": 5, "continuationToken": "abc/def"},
        ),
        "put-json-body": Call.of("queue", "createTask", taskId=task_id, body=parsed),
        "authorized-scopes": Call.of("queue", "status", taskId=task_id),
        "temp-creds-certificate": Call.of(
            "index", "insertTask", namespace="tcmodel.vectors.latest", body=parsed
        ),
        "temp-creds-plus-authorized-scopes": Call.of(
            "queue", "getArtifact", taskId=task_id, runId=0, name="public/logs/live.log"
        ),
    }
    return calls[vector["name"]]


def _bewit_call_for(vector: dict[str, Any]) -> Call:
    task_id = "Dx4tPEtaRpeIeWpbTD0uHw"
    calls = {
        "default-expiry": Call.of(
            "queue", "getArtifact", taskId=task_id, runId=0, name="private/build/target.tar.gz"
        ),
        "explicit-expiry-3600": Call.of(
            "queue", "getLatestArtifact", taskId=task_id, name="private/logs/secret log.txt"
        ),
        "temp-creds": Call.of(
            "queue", "getArtifact", taskId=task_id, runId=1, name="private/x.json"
        ),
    }
    return calls[vector["name"]]


@pytest.mark.parametrize("vector", _hawk_cases())
def test_header_vector_via_auth_flow(vector: dict[str, Any]) -> None:
    req = vector["request"]
    headers = {"Accept": "application/json"}
    if req["contentTypeHeader"]:
        headers["Content-Type"] = req["contentTypeHeader"]
    content = req["body"].encode("utf-8") if req["body"] is not None else None
    request = httpx.Request(req["method"], req["url"], content=content, headers=headers)
    signed = _signed(_pinned(vector["inputs"], origin=ROOT), request)
    header = signed.headers["Authorization"]
    assert header == vector["authorizationHeader"]
    params = _header_params(header)
    assert params["mac"] == vector["mac"]
    assert params["hash"] == vector["payloadHash"]
    assert params["ext"] == vector["ext"]
    # The request is otherwise unchanged: exact URL and bytes.
    assert str(signed.url) == req["url"]
    assert signed.content == (content or b"")


@pytest.mark.parametrize("vector", _hawk_cases())
def test_header_vector_via_transport_build_request(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    transport = Transport(
        ROOT, _creds(inputs), authorized_scopes=inputs["authorizedScopes"], max_retries=0
    )
    request = transport.build_request(_call_for(vector))
    assert request.method == vector["request"]["method"]
    assert str(request.url) == vector["request"]["url"]
    if vector["request"]["body"] is not None:
        assert request.content == vector["request"]["body"].encode("ascii")
        assert request.headers["Content-Type"] == vector["request"]["contentTypeHeader"]
    signed = _signed(_pinned(inputs, origin=transport.root_url), request)
    assert signed.headers["Authorization"] == vector["authorizationHeader"]
    # The transport's own signer (real clock) uses the same ext.
    assert transport.auth is not None
    own = _header_params(
        _signed(transport.auth, transport.build_request(_call_for(vector))).headers["Authorization"]
    )
    assert own["ext"] == vector["ext"]
    assert own["id"] == inputs["clientId"]


@pytest.mark.parametrize("vector", _hawk_cases())
def test_header_vector_on_the_wire(vector: dict[str, Any]) -> None:
    """Through Transport.run: the Authorization header that reaches the
    network layer is the vector's."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    inputs = vector["inputs"]
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        transport = Transport(ROOT, _creds(inputs), max_retries=0, client=client)
        transport.auth = _pinned(inputs, origin=transport.root_url)
        assert transport.run(transport.call(_call_for(vector))) == {}
    assert len(seen) == 1
    assert seen[0].headers["Authorization"] == vector["authorizationHeader"]
    assert str(seen[0].url) == vector["request"]["url"]


@pytest.mark.parametrize("vector", _bewit_cases())
def test_bewit_vector_via_sign_url(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    expires_at = int(inputs["now"] + inputs["expirationSeconds"])
    signed = sign_url(vector["unsignedUrl"], _creds(inputs), expires_at=expires_at)
    assert signed == vector["signedUrl"]
    bewit = signed.split("bewit=", 1)[1]
    assert bewit == vector["bewit"]
    raw = base64.urlsafe_b64decode(bewit + "=" * (-len(bewit) % 4)).decode("ascii")
    client_id, exp, mac, ext = raw.split("\\")
    decoded = vector["bewitDecoded"]
    assert (client_id, int(exp), mac, ext) == (
        decoded["id"],
        decoded["exp"],
        decoded["mac"],
        decoded["ext"],
    )


@pytest.mark.parametrize("vector", _bewit_cases())
def test_bewit_vector_via_sign_url_expires_in(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = vector["inputs"]
    monkeypatch.setattr(time, "time", lambda: inputs["now"])
    signed = sign_url(vector["unsignedUrl"], _creds(inputs), expires_in=inputs["expirationSeconds"])
    assert signed == vector["signedUrl"]


@pytest.mark.parametrize("vector", _bewit_cases())
def test_bewit_vector_via_transport_signed_url(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = vector["inputs"]
    transport = Transport(ROOT, _creds(inputs))
    call = _bewit_call_for(vector)
    assert transport.url_for(call) == vector["unsignedUrl"]
    monkeypatch.setattr(time, "time", lambda: inputs["now"])
    signed = transport.signed_url(call, expires_in=inputs["expirationSeconds"])
    monkeypatch.undo()
    assert signed == vector["signedUrl"]
    # mohawk's own bewit checker accepts it at "now" (its clock pinned); it
    # wants the base64 padding that Taskcluster strips, so put it back.
    creds = {"id": inputs["clientId"], "key": inputs["accessToken"], "algorithm": "sha256"}
    padded = signed + "=" * (-len(vector["bewit"]) % 4)
    assert mohawk.bewit.check_bewit(padded, lambda _id: creds, now=int(inputs["now"]))
    with pytest.raises(mohawk.exc.TokenExpired):
        mohawk.bewit.check_bewit(
            padded, lambda _id: creds, now=int(inputs["now"]) + inputs["expirationSeconds"] + 1
        )


def test_signed_url_needs_get_and_credentials() -> None:
    task = Call.of("queue", "createTask", taskId="Dx4tPEtaRpeIeWpbTD0uHw", body={})
    with pytest.raises(ValueError, match="GET"):
        Transport(ROOT, ("a", "b")).signed_url(task)
    status = Call.of("queue", "status", taskId="Dx4tPEtaRpeIeWpbTD0uHw")
    with pytest.raises(ValueError, match="credentials"):
        Transport(ROOT).signed_url(status)


def test_sign_url_refuses_a_url_already_signed() -> None:
    url = sign_url(f"{ROOT}/api/queue/v1/ping", Credentials("a", "b"), expires_at=1)
    with pytest.raises(ValueError, match="bewit"):
        sign_url(url, Credentials("a", "b"), expires_at=1)


def test_sign_url_with_query_appends_with_ampersand() -> None:
    url = f"{ROOT}/api/queue/v1/task/x/runs/0/artifacts?limit=5"
    signed = sign_url(url, Credentials("a", "b"), expires_at=1700000900)
    assert signed.startswith(url + "&bewit=")
    assert not signed.endswith("=")


# -- real clock: a Hawk server accepts what we send --------------------------------


def _receiver_lookup(creds: Credentials) -> Any:
    table = {
        creds.client_id: {"id": creds.client_id, "key": creds.access_token, "algorithm": "sha256"}
    }
    return table.__getitem__


def test_mohawk_receiver_accepts_real_clock_header() -> None:
    creds = Credentials("tcmodel/test", "an-access-token")
    body = b'{"taskIds":["a"]}'
    url = f"{ROOT}/api/queue/v1/tasks?limit=2"
    request = httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
    header = _signed(HawkAuth(creds, origin=ROOT), request).headers["Authorization"]
    params = _header_params(header)
    assert abs(int(params["ts"]) - time.time()) < 60
    receiver = mohawk.Receiver(
        _receiver_lookup(creds),
        header,
        url,
        "POST",
        content=body.decode(),
        content_type="application/json",
    )
    assert receiver.resource.credentials["id"] == "tcmodel/test"
    # A tampered body is rejected.
    with pytest.raises(mohawk.exc.MisComputedContentHash):
        mohawk.Receiver(
            _receiver_lookup(creds),
            header,
            url,
            "POST",
            content='{"taskIds":["b"]}',
            content_type="application/json",
        )
    # So is a tampered URL.
    with pytest.raises(mohawk.exc.MacMismatch):
        mohawk.Receiver(
            _receiver_lookup(creds),
            header,
            url.replace("limit=2", "limit=3"),
            "POST",
            content=body.decode(),
            content_type="application/json",
        )


def test_ext_carries_certificate_and_authorized_scopes_exactly() -> None:
    named = vectors()["temporaryCredentials"]["named"]
    cert = named["output"]["certificate"]
    creds = Credentials("tcmodel/temp-worker", named["output"]["accessToken"], cert)
    scopes = ["queue:get-artifact:public/*", "assume:project:x"]
    ext = make_ext(creds, scopes)
    decoded = json.loads(base64.urlsafe_b64decode(ext))
    assert decoded == {"certificate": json.loads(cert), "authorizedScopes": scopes}
    assert list(decoded) == ["certificate", "authorizedScopes"]
    # The certificate rides as an object, not as a string.
    assert isinstance(decoded["certificate"], dict)
    assert make_ext(Credentials("a", "b")) == "e30="
    assert json.loads(base64.urlsafe_b64decode(make_ext(Credentials("a", "b"), []))) == {
        "authorizedScopes": []
    }
    request = httpx.Request("GET", f"{ROOT}/api/queue/v1/ping")
    header = _signed(HawkAuth(creds, scopes), request).headers["Authorization"]
    assert _header_params(header)["ext"] == ext


def test_no_authorization_without_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"alive": True})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        transport = Transport(ROOT, None, client=client)
        assert transport.auth is None
        assert transport.request("queue", "ping") == {"alive": True}
    assert len(seen) == 1
    assert "Authorization" not in seen[0].headers


def test_other_origin_is_not_signed() -> None:
    auth = HawkAuth(Credentials("a", "b"), origin=ROOT)
    for url in (
        "https://bucket.example.net/x",
        "http://tc.example.com/api/queue/v1/ping",  # other scheme
        "https://tc.example.com:8443/api/queue/v1/ping",  # other port
        "https://tc.example.com.evil.net/api/queue/v1/ping",
    ):
        assert "Authorization" not in _signed(auth, httpx.Request("GET", url)).headers, url
    same = httpx.Request("GET", "https://tc.example.com:443/api/queue/v1/ping")
    assert _signed(auth, same).headers["Authorization"].startswith("Hawk ")


def test_request_carrying_a_bewit_is_not_signed() -> None:
    creds = Credentials("a", "b")
    url = sign_url(f"{ROOT}/api/queue/v1/task/x/artifacts/a", creds, expires_at=1700000900)
    signed = _signed(HawkAuth(creds, origin=ROOT), httpx.Request("GET", url))
    assert "Authorization" not in signed.headers
    plain = _signed(HawkAuth(creds, origin=ROOT), httpx.Request("GET", url.split("?")[0]))
    assert "Authorization" in plain.headers


def test_each_send_is_signed_afresh() -> None:
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        transport = Transport(ROOT, ("a", "b"), client=client)
        request = transport.build_request(Call.of("queue", "ping"))
        auth = transport.auth
        client.send(request, auth=auth)
        client.send(request, auth=auth)
    assert len(headers) == 2
    nonces = [_header_params(h)["nonce"] for h in headers]
    assert nonces[0] != nonces[1]
    assert all(n for n in nonces)


def test_repr_shows_only_client_id() -> None:
    auth = HawkAuth(Credentials("me", "sekrit-token"), ["a:b"])
    assert repr(auth) == "HawkAuth(client_id='me')"
    assert auth.client_id == "me"
