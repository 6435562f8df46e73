"""No secret (token, bewit, certificate, signed header) leaks into logs,
reprs or exceptions, with DEBUG logging turned on for everything."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from httpstub import DROP, HTTPStub, Reply, error_body

import tcmodel
from tcmodel import _logsafety
from tcmodel.cluster import Cluster
from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.errors import (
    APIError,
    AuthenticationFailed,
    ConnectionFailed,
    InternalServerError,
    NotFound,
    ServerError,
    TaskclusterError,
)
from tcmodel.hawk import HawkAuth, make_ext
from tcmodel.transport import Call, RetryPolicy, Transport

TASK_ID = "Dx4tPEtaRpeIeWpbTD0uHw"
ISSUER = Credentials("project/issuer", "PERMANENT-secret-token-0123456789abcdefXYZ")
SCOPES = ["queue:get-artifact:private/*", "queue:status:*"]
TEMP = create_temporary_credentials(
    ISSUER,
    SCOPES,
    start=datetime.now(timezone.utc) - timedelta(minutes=1),
    expiry=timedelta(hours=1),
    name="project/temp-worker",
)
LOGGERS = ("", "tcmodel", "httpx", "httpcore", "mohawk", "asyncio")


def _secrets(creds: Credentials, authorized_scopes: list[str] | None) -> dict[str, str]:
    out = {"access token": creds.access_token}
    data = creds.certificate_data
    if creds.certificate is not None and data is not None:
        out["certificate"] = creds.certificate
        out["certificate signature"] = data["signature"]
        out["certificate seed"] = data["seed"]
        for scopes in (None, authorized_scopes):
            ext = make_ext(creds, scopes)
            out[f"ext {scopes}"] = ext
            out[f"ext {scopes} (unpadded)"] = ext.rstrip("=")
            std = base64.b64encode(base64.urlsafe_b64decode(ext)).decode()
            out[f"ext {scopes} (standard)"] = std
            mid = len(ext) // 2
            out[f"ext {scopes} (middle)"] = ext[mid : mid + 40]
    return out


class Leaks:
    """Collects every text that must stay clean, and checks it."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.texts: list[tuple[str, str]] = []

    def secret(self, label: str, value: str) -> None:
        assert len(value) >= 8, label
        self.secrets[label] = value

    def add_credentials(self, creds: Credentials, scopes: list[str] | None = None) -> None:
        for label, value in _secrets(creds, scopes).items():
            self.secret(f"{creds.client_id} {label}", value)

    def add_bewit(self, url: str) -> None:
        bewit = url.split("bewit=", 1)[1].split("&", 1)[0]
        self.secret("bewit", bewit)
        raw = base64.urlsafe_b64decode(bewit + "=" * (-len(bewit) % 4)).decode()
        self.secret("bewit mac", raw.split("\\")[2])

    def add_headers(self, stub: HTTPStub) -> None:
        """The Hawk headers sent could be replayed for 15 minutes: secret."""
        for r in stub.requests:
            if r.authorization:
                mac = r.authorization.split('mac="', 1)[1].split('"', 1)[0]
                self.secret(f"sent Hawk mac {mac[:6]}", mac)  # every one, not just the last

    def text(self, where: str, value: object) -> None:
        self.texts.append((where, str(value)))

    def exception(self, err: BaseException) -> None:
        name = type(err).__name__
        self.text(f"str({name})", str(err))
        self.text(f"repr({name})", repr(err))
        self.text(f"{name}.args", repr(err.args))
        self.text(f"traceback of {name}", "".join(traceback.format_exception(err)))
        for attr in ("url", "message", "reason", "call", "body"):
            value = getattr(err, attr, None)
            # A parsed JSON body is kept as the server sent it.
            if isinstance(value, str):
                self.text(f"{name}.{attr}", value)

    def objects(self, *objs: object) -> None:
        for obj in objs:
            self.text(f"repr({type(obj).__name__})", repr(obj))
            self.text(f"str({type(obj).__name__})", str(obj))

    def records(self, records: list[logging.LogRecord]) -> None:
        fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for rec in records:
            self.text(f"log record from {rec.name}", fmt.format(rec))

    def check(self) -> None:
        found = [
            f"{label} in {where}: {text[:300]!r}"
            for where, text in self.texts
            for label, secret in self.secrets.items()
            if secret in text
        ]
        assert not found, "\n".join(found)


@pytest.fixture
def stub() -> Iterator[HTTPStub]:
    with HTTPStub() as s:
        yield s


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tcmodel.transport.time.sleep", lambda _s: None)


def _raises(fn: Any, cls: type[TaskclusterError]) -> TaskclusterError:
    with pytest.raises(cls) as info:
        fn()
    return info.value


@pytest.mark.parametrize(
    ("creds", "scopes"),
    [
        pytest.param(ISSUER, None, id="permanent"),
        pytest.param(ISSUER, ["queue:status:*"], id="permanent+authorizedScopes"),
        pytest.param(TEMP, None, id="temporary"),
        pytest.param(TEMP, ["queue:status:*"], id="temporary+authorizedScopes"),
    ],
)
def test_nothing_leaks_at_debug(
    stub: HTTPStub,
    debug_logs: pytest.LogCaptureFixture,
    creds: Credentials,
    scopes: list[str] | None,
) -> None:
    leaks = Leaks()
    leaks.add_credentials(ISSUER)
    leaks.add_credentials(creds, scopes)

    cluster = Cluster.from_url(stub.url, creds, authorized_scopes=scopes, max_retries=1)
    t = cluster.transport
    status = Call.of("queue", "status", taskId=TASK_ID)
    artifact = Call.of("queue", "getArtifact", taskId=TASK_ID, runId=0, name="private/x")
    signed = t.signed_url(artifact)
    leaks.add_bewit(signed)
    assert t.auth is not None
    leaks.objects(cluster, t, creds, t.auth, t.retry)

    def get_signed_url() -> Any:
        request = httpx.Request("GET", signed)
        response = t.run(t.exchange(request, "GET artifact"))
        t.check(response, "GET artifact")
        return response

    stub.script(
        # signed API calls that work
        Reply(200, {"status": {"taskId": TASK_ID}}),
        Reply(200, {"tasks": []}),
        # the bewit URL, fetched through the transport (unsigned: it has a bewit)
        Reply(200, b"artifact bytes"),
        # errors on signed calls
        Reply(404, error_body("ResourceNotFound", "no such task")),
        Reply(401, error_body("AuthenticationFailed", "Bad mac")),
        Reply(500, error_body("InternalServerError", "boom")),
        Reply(500, error_body("InternalServerError", "boom")),
        DROP,
        DROP,
        # errors on the bewit URL; the answers echo it back
        Reply(404, error_body("ResourceNotFound", f"{signed} is not there")),
        Reply(502, f"<html>Bad Gateway for {signed}</html>"),
        Reply(502, f"<html>Bad Gateway for {signed}</html>"),
        DROP,
        DROP,
        Reply(303, {"url": signed}, {"Location": signed}),
    )
    assert t.run(t.call(status)) == {"status": {"taskId": TASK_ID}}
    assert t.request("queue", "tasks", body={"taskIds": [TASK_ID]}) == {"tasks": []}
    assert get_signed_url().content == b"artifact bytes"

    errors = [
        _raises(lambda: t.run(t.call(status)), NotFound),
        _raises(lambda: t.run(t.call(status)), AuthenticationFailed),
        _raises(lambda: t.run(t.call(status)), InternalServerError),
        _raises(lambda: t.run(t.call(status)), ConnectionFailed),
        _raises(get_signed_url, NotFound),
        _raises(get_signed_url, ServerError),
        _raises(get_signed_url, ConnectionFailed),
    ]
    redirect = t.run(t.exchange(httpx.Request("GET", signed), "GET artifact"))
    assert redirect.status_code == 303
    cluster.close()

    # The requests really were made, signed (or not) as they should be.
    assert len(stub.requests) == 15
    assert stub.requests[0].authorization is not None
    assert stub.requests[2].authorization is None  # the bewit URL
    assert "bewit=" in stub.requests[2].path
    leaks.add_headers(stub)

    # DEBUG logging was on and recorded the traffic, with bewits masked.
    names = {r.name for r in debug_logs.records}
    assert {"tcmodel", "httpx", "httpcore.http11", "httpcore.connection"} <= names
    assert any("bewit=<redacted>" in r.getMessage() for r in debug_logs.records)

    for err in errors:
        leaks.exception(err)
        if isinstance(err, (APIError, ConnectionFailed)):
            assert "bewit=" not in err.url or "bewit=<redacted>" in err.url
    leaks.records(debug_logs.records)
    leaks.objects(cluster, t, creds, t.auth)
    leaks.check()


def test_nothing_leaks_at_debug_async(stub: HTTPStub, debug_logs: pytest.LogCaptureFixture) -> None:
    leaks = Leaks()
    leaks.add_credentials(ISSUER)
    leaks.add_credentials(TEMP, SCOPES)
    stub.script(
        Reply(503),
        Reply(200, {"alive": True}),
        Reply(404, error_body("ResourceNotFound", "gone")),
        DROP,
        DROP,
    )

    async def main() -> list[TaskclusterError]:
        t = Transport(stub.url, TEMP, authorized_scopes=SCOPES, retry=RetryPolicy(1, base=0.001))
        errors: list[TaskclusterError] = []
        try:
            assert await t.arequest("queue", "ping") == {"alive": True}
            for cls in (NotFound, ConnectionFailed):
                with pytest.raises(cls) as info:
                    await t.arequest("queue", "status", taskId=TASK_ID)
                errors.append(info.value)
        finally:
            await t.aclose()
        return errors

    errors = asyncio.run(main())
    assert len(stub.requests) == 5
    leaks.add_headers(stub)
    # asyncio's connections (tcmodel._connection) log nothing per request; httpx logs each one
    assert "httpx" in {r.name for r in debug_logs.records}
    for err in errors:
        leaks.exception(err)
    leaks.records(debug_logs.records)
    leaks.check()


def test_reprs_hide_secrets() -> None:
    leaks = Leaks()
    leaks.add_credentials(ISSUER)
    leaks.add_credentials(TEMP, SCOPES)
    for creds in (ISSUER, TEMP):
        cluster = Cluster.from_url("https://tc.example.com", creds, authorized_scopes=SCOPES)
        with closing(cluster):
            auth = HawkAuth(creds, SCOPES)
            leaks.objects(cluster, cluster.transport, creds, auth)
            assert creds.client_id in repr(cluster)
    leaks.check()


def test_the_checks_would_catch_a_leak(
    monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    """Control: without tcmodel's log filter, mohawk's DEBUG records carry
    the certificate (in the ext), and the checks above notice it."""
    for name in _logsafety._LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    auth = HawkAuth(TEMP, SCOPES)
    next(auth.auth_flow(httpx.Request("GET", "https://tc.example.com/api/queue/v1/ping")))
    leaks = Leaks()
    leaks.add_credentials(TEMP, SCOPES)
    leaks.records(debug_logs.records)
    with pytest.raises(AssertionError, match="ext"):  # untyped ok: the test helper's own check
        leaks.check()


def test_filter_is_installed_on_import() -> None:
    assert tcmodel.__name__ == "tcmodel"
    for name in ("httpx", "httpcore.http11", "mohawk.base"):
        assert _logsafety._FILTER in logging.getLogger(name).filters


def test_presigned_storage_urls_are_masked(
    stub: HTTPStub, debug_logs: pytest.LogCaptureFixture
) -> None:
    """Artifact downloads follow pre-signed storage URLs: their signature and
    session token stay out of logs and errors too, even when the caller names
    the request by its URL."""
    leaks = Leaks()
    leaks.secret("S3 signature", "s3SIGNATURE0123456789abcdef")
    leaks.secret("S3 session token", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN")
    leaks.secret("GCS signature", "gcsSIGNATURE0123456789")
    url = (
        f"{stub.url}/bucket/private/a.bin?X-Amz-Expires=60"
        "&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
        "&X-Amz-Signature=s3SIGNATURE0123456789abcdef&x-goog-signature=gcsSIGNATURE0123456789"
    )
    stub.script(Reply(404, f"<Error>NoSuchKey {url}</Error>"), DROP, DROP)
    with closing(Transport(stub.url, ISSUER, max_retries=1)) as t:

        def fetch() -> None:
            response = t.run(t.exchange(httpx.Request("GET", url), url, auth=None))
            t.check(response, url)

        errors = [_raises(fetch, APIError), _raises(fetch, ConnectionFailed)]
    assert len(stub.requests) == 3
    assert all(r.authorization is None for r in stub.requests)
    for err in errors:
        assert "X-Amz-Signature=<redacted>" in str(err)
        leaks.exception(err)
    assert any("X-Amz-Signature=<redacted>" in r.getMessage() for r in debug_logs.records)
    leaks.records(debug_logs.records)
    leaks.check()
