"""Fault suite, secrets and configuration: what pickles (never a secret),
root URLs with a user name and password, HTTP/2 debug logs, exception chains
that could keep a Hawk header or a certificate, and input refused when it is
given rather than at the first request. Real sockets on 127.0.0.1: the local
cluster, and a scripted HTTP/2 (h2c) server for the HTTP/2 run."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pickle
import socket
import socketserver
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from types import FunctionType, ModuleType
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from httpstub import serving

import tcmodel
from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.hawk import make_ext
from tcmodel.testing import LocalCluster
from tcmodel.testing.worker import Worker
from tcmodel.transport import Call

NAME = "private/build/app.bin"
DATA = b"private bytes\n" * 50


@pytest.fixture(scope="module")
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def temp(lc: LocalCluster) -> Credentials:
    """Temporary credentials: a token and a certificate, both secret."""
    return create_temporary_credentials(
        lc.root_credentials,
        ["*"],
        start=datetime.now(timezone.utc) - timedelta(minutes=1),
        expiry=timedelta(hours=1),
    )


@pytest.fixture(scope="module")
def task_ids(lc: LocalCluster) -> list[str]:
    with lc.connect() as admin, Worker(lc, "proj/ci") as worker:
        tasks = [
            admin.create_task(task_queue_id="proj/ci", payload={}, name=f"secret-{i}")
            for i in range(2)
        ]
        for t in tasks:
            worker.run(t.task_id, artifacts={NAME: DATA})
        return [t.task_id for t in tasks]


def secrets_of(creds: Credentials, *, issuer: Credentials | None = None) -> dict[str, str]:
    """Every form of ``creds``' secrets that must never be written down."""
    out = {"access token": creds.access_token}
    if issuer is not None:
        out["issuer's access token"] = issuer.access_token
    cert = creds.certificate_data
    if creds.certificate is not None and cert is not None:
        ext = make_ext(creds)
        out |= {
            "certificate": creds.certificate,
            "certificate signature": cert["signature"],
            "certificate seed": cert["seed"],
            "ext": ext,
            "ext (middle)": ext[len(ext) // 2 : len(ext) // 2 + 40],
        }
    return out


def assert_clean(text: str | bytes, secrets: Mapping[str, str], where: str) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    found = [label for label, secret in secrets.items() if secret in text]
    assert not found, f"{', '.join(found)} found in {where}"


# -- walking exception chains -----------------------------------------------------------


def reachable_text(exc: BaseException) -> str:
    """Every string an exception keeps reachable: its message, args and
    attributes, its ``__context__``/``__cause__`` chain with theirs, and
    whatever those hold (an httpx error's request and its headers, a
    ``JSONDecodeError``'s ``doc``, a ``UnicodeDecodeError``'s ``object``)."""
    out: list[str] = []
    seen: set[int] = set()

    def visit(obj: object, depth: int) -> None:
        if depth > 12 or id(obj) in seen or len(seen) > 20_000:
            return
        seen.add(id(obj))
        if isinstance(obj, str):
            out.append(obj)
            return
        if isinstance(obj, (bytes, bytearray, memoryview)):
            out.append(bytes(obj).decode("latin-1"))
            return
        if obj is None or isinstance(obj, (int, float, type, ModuleType, FunctionType)):
            return
        if isinstance(obj, BaseException):
            out.extend((str(obj), repr(obj)))
            for linked in (obj.args, obj.__context__, obj.__cause__):
                visit(linked, depth + 1)
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                visit(key, depth + 1)
                visit(value, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for item in obj:
                visit(item, depth + 1)
        if hasattr(obj, "__dict__"):
            visit(vars(obj), depth + 1)
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                visit(getattr(obj, slot, None), depth + 1)

    visit(exc, 0)
    return "\n".join(out)


def chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


# Markers of a Hawk Authorization header, whatever the credentials.
HAWK_HEADER = {"Hawk header": 'Hawk mac="', "Hawk id": 'id="', "Hawk nonce": 'nonce="'}


def test_the_walker_finds_a_hawk_header_in_an_httpx_error(temp: Credentials) -> None:
    """The check below would catch what the issue describes."""
    request = httpx.Request("GET", "http://127.0.0.1:9/", headers={"Authorization": "Hawk x"})
    try:
        try:
            raise httpx.ConnectError("refused", request=request)
        except httpx.ConnectError:
            raise tcmodel.ConnectionFailed("q", "GET", "u", "refused") from None
    except tcmodel.ConnectionFailed as exc:
        assert "Hawk x" in reachable_text(exc)
    try:
        json.loads('{"signature": "SIGNATURE-0123456789')
    except ValueError as exc:
        assert "SIGNATURE-0123456789" in reachable_text(exc)


# -- item 11: exception chains --------------------------------------------------------------


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_connection_failed_keeps_no_hawk_header(
    lc: LocalCluster, temp: Credentials, task_ids: list[str], driver: str
) -> None:
    fault = lc.inject("drop", entry="status", times=2)
    with lc.connect(temp, max_retries=1) as cluster:
        task = cluster.task(task_ids[0])
        with pytest.raises(tcmodel.ConnectionFailed) as info:
            if driver == "sync":
                task.refresh()
            else:
                asyncio.run(cluster.transport.arequest("queue", "status", taskId=task.task_id))
    assert fault.hits == 2
    err = info.value
    assert "queue.status(taskId=" in str(err)
    assert chain(err) == [err]  # the httpx error, holding the signed request, is not kept
    text = reachable_text(err)
    assert_clean(text, {**HAWK_HEADER, **secrets_of(temp, issuer=lc.root_credentials)}, "chain")


def test_refused_connection_keeps_no_hawk_header(temp: Credentials) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    cluster = tcmodel.Cluster.from_url(f"http://127.0.0.1:{port}", temp, max_retries=0)
    with cluster, pytest.raises(tcmodel.ConnectionFailed) as info:
        cluster.ping()
    assert "queue.ping()" in str(info.value)
    assert_clean(reachable_text(info.value), {**HAWK_HEADER, **secrets_of(temp)}, "chain")


BAD_CERTIFICATE = (
    '{"version":1,"scopes":["*"],"start":1,"expiry":2,'
    '"seed":"SEED-THAT-IS-SECRET-0123456789-abcdefghijkl","signature":"SIGNATURE-SECRET-0123'
)  # cut short: not JSON


def test_bad_certificate_in_the_environment_is_not_kept(lc: LocalCluster) -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": lc.root_url,
        "TASKCLUSTER_CLIENT_ID": "project/me",
        "TASKCLUSTER_ACCESS_TOKEN": "TOKEN-THAT-IS-SECRET-0123456789",
        "TASKCLUSTER_CERTIFICATE": BAD_CERTIFICATE,
    }
    with pytest.raises(tcmodel.ConfigurationError, match="TASKCLUSTER_CERTIFICATE") as info:
        tcmodel.Cluster.from_env(env)
    secrets = {
        "certificate": BAD_CERTIFICATE,
        "signature": "SIGNATURE-SECRET-0123",
        "seed": "SEED-THAT-IS-SECRET",
        "token": "TOKEN-THAT-IS-SECRET",
    }
    assert chain(info.value) == [info.value]
    assert_clean(reachable_text(info.value), secrets, "chain")


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(
            lambda: Credentials("project/me", "TOKEN-SECRET-1", BAD_CERTIFICATE), id="cls"
        ),
        pytest.param(
            lambda: Credentials.coerce(
                {
                    "clientId": "project/me",
                    "accessToken": "TOKEN-SECRET-1",
                    "certificate": BAD_CERTIFICATE,
                }
            ),
            id="dict",
        ),
        pytest.param(
            lambda: tcmodel.Cluster.from_url(
                "https://tc.example.com", ("project/me", "TOKEN-SECRET-1", BAD_CERTIFICATE)
            ),
            id="from_url",
        ),
        pytest.param(lambda: Credentials("project/me", b"TOKEN-SECRET-1\xc3\xa9"), id="bytes"),
    ],
)
def test_refused_credentials_keep_no_secret(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert chain(info.value) == [info.value]
    secrets = {"token": "TOKEN-SECRET-1", "signature": "SIGNATURE-SECRET", "seed": "SEED-THAT"}
    assert_clean(reachable_text(info.value), secrets, "chain")


# -- item 9: userinfo in root URLs --------------------------------------------------------


PASSWORD = "hunter2-PASSWORD"


def _userinfo_setups(lc: LocalCluster) -> list[Callable[[], object]]:
    host = lc.root_url.removeprefix("http://")
    with_password = f"http://admin:{PASSWORD}@{host}"
    return [
        lambda: tcmodel.Cluster.from_url(with_password),
        lambda: tcmodel.Cluster.from_url(with_password, lc.root_credentials),
        lambda: tcmodel.Cluster.from_url(f"http://{PASSWORD}@{host}"),  # a user name alone
        lambda: tcmodel.Cluster.from_url(lc.root_url, public_url=with_password),
        lambda: tcmodel.Cluster.from_env({"TASKCLUSTER_ROOT_URL": with_password}),
        lambda: tcmodel.Cluster.from_env({"TASKCLUSTER_PROXY_URL": with_password}),
    ]


def test_userinfo_in_a_root_url_is_refused_without_echoing_it(lc: LocalCluster) -> None:
    lc.reset_requests()
    for setup in _userinfo_setups(lc):
        with pytest.raises(tcmodel.ConfigurationError, match="user name or password") as info:
            setup()
        err = info.value
        assert chain(err) == [err]
        assert_clean(reachable_text(err), {"password": PASSWORD}, f"{err!r}")
        assert lc.root_url.removeprefix("http://") in str(err)  # says which URL
    assert lc.requests == []  # refused before any request (and never sent as Basic auth)


# -- item 15: input refused when it is given ----------------------------------------------


BAD_IDS = ['project/"me"', "project/me\n", "project/mé", "project me", ""]
BAD_TOKENS = ['tok"en-0123456789', "tok\nen-0123456789", "tokén-0123456789", "tok en-0123"]


@pytest.mark.parametrize("client_id", BAD_IDS)
def test_bad_client_ids_are_refused_at_construction(lc: LocalCluster, client_id: str) -> None:
    with pytest.raises(ValueError, match=r"client_id|client id"):
        Credentials(client_id, "token-0123456789")
    with pytest.raises(tcmodel.ConfigurationError):
        tcmodel.Cluster.from_url(lc.root_url, (client_id, "token-0123456789"))


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_bad_access_tokens_are_refused_without_echoing_them(lc: LocalCluster, token: str) -> None:
    secret = {"token": token, "token (stripped)": token.strip()}
    with pytest.raises(ValueError, match="access token") as info:
        Credentials("project/me", token)
    assert_clean(reachable_text(info.value), secret, "chain")
    with pytest.raises(tcmodel.ConfigurationError) as config:
        tcmodel.Cluster.from_url(lc.root_url, ("project/me", token))
    assert_clean(reachable_text(config.value), secret, "chain")
    env = {
        "TASKCLUSTER_ROOT_URL": lc.root_url,
        "TASKCLUSTER_CLIENT_ID": "project/me",
        "TASKCLUSTER_ACCESS_TOKEN": token,
    }
    with pytest.raises(tcmodel.ConfigurationError, match="TASKCLUSTER_ACCESS_TOKEN") as env_err:
        tcmodel.Cluster.from_env(env)
    assert_clean(reachable_text(env_err.value), secret, "chain")


def test_a_trailing_newline_from_the_environment_is_still_fine(lc: LocalCluster) -> None:
    creds = lc.root_credentials
    env = {
        "TASKCLUSTER_ROOT_URL": lc.root_url + "\n",
        "TASKCLUSTER_CLIENT_ID": creds.client_id + "\n",
        "TASKCLUSTER_ACCESS_TOKEN": creds.access_token + "\n",
    }
    with tcmodel.Cluster.from_env(env) as cluster:
        assert cluster.ping()["alive"] is True


def test_urls_over_httpx_limit_are_refused_before_any_request(
    lc: LocalCluster, task_ids: list[str]
) -> None:
    long_name = "public/" + "n" * 70_000
    with lc.connect() as cluster:
        lc.reset_requests()
        task = cluster.task(task_ids[0])
        # refused when the handle is made (the name could never fit a URL)
        with pytest.raises(ValueError, match="once encoded"):
            task.latest_artifact(long_name)
        with pytest.raises(ValueError, match="once encoded"):
            task.run(0).artifact(long_name)
        with pytest.raises(ValueError, match="once encoded"):
            cluster.index("project." + "b" * 70_000)
        with pytest.raises(ValueError, match="once encoded"):
            task.latest_artifact("public/" + "n" * 63_000 + "%" * 900)  # 3 characters each
        assert lc.requests == []
        # Just under the limit, the name reaches the service (which knows no such artifact).
        fits = "public/" + "n" * 60_000
        with pytest.raises(tcmodel.NotFound):
            cluster.task(task_ids[0]).latest_artifact(fits).read_bytes()


# -- item 8: pickling -------------------------------------------------------------------


def _handles(cluster: tcmodel.Cluster, task_ids: list[str]) -> dict[str, Any]:
    task = cluster.task(task_ids[0])
    return {
        "cluster": cluster,
        "task": task,
        "artifact": task.run(0).artifact(NAME),
        "tasks": cluster.tasks(task_ids),
    }


def _load(handles: dict[str, Any]) -> None:
    handles["task"].definition
    handles["task"].status
    handles["artifact"].info
    assert [t.state for t in handles["tasks"]] == ["completed", "completed"]
    assert handles["artifact"].read_bytes() == DATA  # private: signed requests


def test_pickles_hold_no_secret_before_and_after_first_use(
    lc: LocalCluster, temp: Credentials, task_ids: list[str]
) -> None:
    secrets = secrets_of(temp, issuer=lc.root_credentials)
    cluster = lc.connect(temp)
    handles = _handles(cluster, task_ids)
    before = {name: pickle.dumps(obj) for name, obj in handles.items()}
    _load(handles)  # clients open, locks held, data loaded
    after = {name: pickle.dumps(obj) for name, obj in handles.items()}
    together = pickle.dumps(handles)
    for name, data in [*before.items(), *after.items(), ("all", together)]:
        assert_clean(data, secrets, f"the pickle of {name}")
    cluster.close()


def test_unpickled_handles_keep_their_data_and_come_back_anonymous(
    lc: LocalCluster, temp: Credentials, task_ids: list[str]
) -> None:
    with lc.connect(temp) as cluster:
        handles = _handles(cluster, task_ids)
        _load(handles)
        back = pickle.loads(pickle.dumps(handles))
    again = back["cluster"]
    assert again == cluster and again.credentials is None
    assert repr(again) == f"<Cluster {lc.root_url!r} anonymous>"
    assert back["task"].cluster is again and all(t.cluster is again for t in back["tasks"])
    lc.reset_requests()
    # Loaded data came along: reading it sends nothing.
    assert back["task"].state == "completed" and back["task"].name == "secret-0"
    assert back["task"].definition == handles["task"].definition
    assert back["artifact"].info == handles["artifact"].info
    assert [t.state for t in back["tasks"]] == ["completed", "completed"]
    assert lc.requests == []
    # Anonymous until told otherwise: a private artifact is refused as such.
    with pytest.raises(tcmodel.InsufficientScopes):
        back["artifact"].read_bytes()
    assert {r.client_id for r in lc.requests} == {None}
    again.use_credentials(temp)
    assert back["artifact"].read_bytes() == DATA
    back["task"].refresh()
    assert lc.requests[-1].client_id == temp.client_id
    again.close()


def test_pickling_works_for_handles_of_a_fresh_cluster(
    lc: LocalCluster, task_ids: list[str]
) -> None:
    with lc.connect() as cluster:
        task = pickle.loads(pickle.dumps(cluster.task(task_ids[1])))
        assert not task.loaded
        task.cluster.use_credentials(lc.root_credentials)
        assert task.state == "completed"
        task.cluster.close()


def test_models_pickle(lc: LocalCluster, task_ids: list[str]) -> None:
    with lc.connect() as cluster:
        task = cluster.task(task_ids[0])
        info = task.run(0).artifact(NAME).info
        for model in (task.definition, task.status, *task.status.runs, info):
            assert pickle.loads(pickle.dumps(model)) == model


def test_credentials_refuse_to_pickle_with_a_typed_error(temp: Credentials) -> None:
    for obj in (temp, [temp], {"creds": temp}):
        with pytest.raises(tcmodel.ConfigurationError, match="never pickled") as info:
            pickle.dumps(obj)
        assert_clean(reachable_text(info.value), secrets_of(temp), "the error")
    # Copies are the same (immutable) value, and copying a handle keeps its cluster's.
    assert copy.deepcopy(temp) is temp and copy.copy(temp) is temp


def test_copies_of_handles_keep_their_credentials(lc: LocalCluster, task_ids: list[str]) -> None:
    with lc.connect() as cluster:
        task = cluster.task(task_ids[0])
        for copied in (copy.copy(task), copy.deepcopy(task)):
            assert copied.cluster.credentials == lc.root_credentials
            assert copied.state == "completed"


# -- item 10: HTTP/2 debug logs ---------------------------------------------------------


class _H2Handler(socketserver.BaseRequestHandler):
    """Serves one h2c (HTTP/2 with prior knowledge) connection."""

    server: _H2Server

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        self.request.sendall(conn.data_to_send())
        while data := self.request.recv(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    self._answer(conn, event)
            self.request.sendall(conn.data_to_send())

    def _answer(self, conn: h2.connection.H2Connection, event: h2.events.RequestReceived) -> None:
        headers = {_text(k): _text(v) for k, v in event.headers or []}
        self.server.seen.append(headers)
        status, extra = 200, []
        if "/artifacts/" in headers[":path"]:  # getArtifact: a redirect to presigned storage
            status, extra = 303, [("location", self.server.presigned)]
        body = json.dumps({"alive": True, "url": self.server.presigned}).encode()
        response = [(":status", str(status)), ("content-type", "application/json"), *extra]
        response.append(("content-length", str(len(body))))
        assert event.stream_id is not None
        conn.send_headers(event.stream_id, response)
        conn.send_data(event.stream_id, body, end_stream=True)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _H2Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _H2Handler)  # type: ignore[arg-type]
        self.seen: list[dict[str, str]] = []
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.presigned = (
            f"{self.url}/bucket/key?X-Amz-Expires=1800&X-Amz-Signature=PRESIGNED-SIGNATURE-0123"
        )


def _huffman_fragments(value: str) -> list[str]:
    """How parts of ``value`` look in a log once hpack Huffman-coded it:
    the escaped text of 12-byte windows of the code (without quotes or
    backslashes, whose escaping depends on the whole bytes' repr)."""
    code = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(value.encode())
    windows = [code[i : i + 12] for i in range(0, max(len(code) - 12, 1), 4)]
    return [repr(w)[2:-1] for w in windows if not set(w) & set(b"'\"\\")]


def test_http2_debug_logs_show_no_secret(
    temp: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("hpack", "hpack.hpack", "hpack.table", "httpcore", "httpx", "h2", "mohawk"):
        caplog.set_level(logging.DEBUG, logger=name)
    with serving(_H2Server()) as server, httpx.Client(http1=False, http2=True) as h2_client:
        cluster = tcmodel.Cluster.from_url(server.url, temp, client=h2_client)
        transport = cluster.transport
        assert cluster.ping()["alive"] is True
        found = transport.run(
            transport.call(
                Call.of("queue", "getArtifact", taskId="a" * 22, runId=0, name="private/x")
            )
        )
        assert found["url"] == server.presigned
        signed = transport.signed_url(Call.of("queue", "task", taskId="a" * 22))
        assert h2_client.get(signed).http_version == "HTTP/2"
    bewit = signed.split("bewit=", 1)[1]
    sent = [h["authorization"] for h in server.seen if "authorization" in h]
    assert len(sent) == 2 and len(server.seen) == 3  # a real HTTP/2 run: 3 streams
    secrets = {
        **secrets_of(temp),
        "presigned signature": "PRESIGNED-SIGNATURE-0123",
        "bewit": bewit,
        "bewit (middle)": bewit[len(bewit) // 2 : len(bewit) // 2 + 24],
    }
    for i, header in enumerate(sent):
        mac = header.split('mac="', 1)[1].split('"', 1)[0]
        secrets[f"Authorization {i}"] = header
        secrets[f"Authorization {i} mac"] = mac
        for j, fragment in enumerate(_huffman_fragments(header)):
            secrets[f"Authorization {i}, Huffman-coded ({j})"] = fragment
    for j, fragment in enumerate(_huffman_fragments(signed.split("/api/", 1)[1])):
        secrets[f"bewit path, Huffman-coded ({j})"] = fragment
    fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [(r.name, fmt.format(r)) for r in caplog.records]
    assert any(name.startswith("httpcore.http2") for name, _ in logged)  # h2 was in use
    for name, line in logged:
        assert_clean(line, secrets, f"a log record of {name}")
