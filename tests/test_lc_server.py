"""The local cluster's HTTP layer over real HTTP: routing, checks, errors,
the request log, the blob origin and ``python -m tcmodel serve``.

Routes are served by :class:`Echo`, a test-only service that reports what
the handler saw, so these tests do not depend on the emulated services.
"""

from __future__ import annotations

import gzip
import http.client
import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import taskcluster

from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth
from tcmodel.testing import LocalCluster, RequestRecord
from tcmodel.testing._core import ApiError, Request, Response, Service, handles
from tcmodel.testing.cli import serve
from tcmodel.testing.state import Blob

TASK = "Dx4tPEtaRpeIeWpbTD0uHw"
FOOTER = re.compile(
    r"\n\n---\n\n\* method:     (\w+)\n\* errorCode:  (\w+)\n\* statusCode: (\d+)\n"
    r"\* time:       \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
)


class Echo(Service):
    """Test-only service: answers with what the handler was given."""

    name = "queue"

    @staticmethod
    def _echo(req: Request) -> dict[str, Any]:
        return {
            "entry": req.endpoint.name,
            "params": req.params,
            "query": req.query,
            "body": req.body,
            "clientId": req.client_id,
            "scopes": list(req.scopes),
        }

    @handles("getArtifact")
    def get_artifact(self, req: Request) -> dict[str, Any]:
        req.authorize(names=[req.params["name"]])
        return self._echo(req)

    @handles("artifact")
    def error_artifact(self, req: Request) -> None:
        req.authorize(names=[req.params["name"]])
        raise ApiError(424, "ErrorArtifact", "x", body={"reason": "file-missing", "message": "m"})

    @handles("getLatestArtifact")
    def redirect(self, req: Request) -> Response:
        req.authorize(names=[req.params["name"]])
        url = "http://127.0.0.1:1/elsewhere"
        return Response(303, {"storageType": "s3", "url": url}, {"Location": url})

    @handles("latestArtifact")
    def raw_bytes(self, req: Request) -> Response:
        req.authorize(names=[req.params["name"]])
        return Response(200, b"raw\x00bytes", {"Content-Type": "text/plain"})

    @handles("claimWork")
    def forgets_to_authorize(self, req: Request) -> dict[str, Any]:
        return {}

    @handles("cancelTask")
    def crashes(self, req: Request) -> None:
        raise RuntimeError("boom")


ECHOED = (
    "status",
    "listTaskGroup",
    "getTaskQueue",
    "taskQueueCounts",
    "reportException",
    "findTask",
    "listNamespaces",
    "object",
)


def _echo_handler(entry: str) -> Any:
    def handler(self: Echo, req: Request) -> dict[str, Any]:
        return self._echo(req)

    return handles(entry)(handler)


for _entry in ECHOED:
    setattr(Echo, f"echo_{_entry}", _echo_handler(_entry))


def with_echo(cluster: LocalCluster) -> LocalCluster:
    """Serve every service of ``cluster`` with :class:`Echo`."""
    for service in ("queue", "index", "object"):
        cluster.state.services[service] = Echo(cluster.state)
    return cluster


@pytest.fixture
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield with_echo(cluster)


def api(lc: LocalCluster, creds: Credentials | None = None, **kw: Any) -> httpx.Client:
    """An httpx client for ``<rootUrl>/api``, Hawk-signed with ``creds``
    (default: root) unless ``anonymous=True``."""
    anonymous = kw.pop("anonymous", False)
    auth = None if anonymous else HawkAuth(creds or lc.root_credentials)
    return httpx.Client(base_url=lc.root_url + "/api", auth=auth, **kw)


def tc_queue(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """The official client, as an oracle."""
    c = creds or lc.root_credentials
    return taskcluster.Queue(
        {
            "rootUrl": lc.root_url,
            "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
            "maxRetries": 0,
        }
    )


def assert_error(resp: httpx.Response, status: int, code: str, entry: str) -> dict[str, Any]:
    """Check the Taskcluster error body shape; returns it."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert set(body) == {"code", "message", "requestInfo"}
    assert body["code"] == code
    m = FOOTER.search(body["message"])
    assert m is not None, body["message"]
    assert m.groups() == (entry, code, str(status))
    info = body["requestInfo"]
    assert set(info) == {"method", "params", "payload", "time"}
    assert info["method"] == entry
    return body


def assert_not_found(resp: httpx.Response) -> None:
    """What the real services answer where no API method matches: a bare 404."""
    assert resp.status_code == 404, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {"error": "Not found"}


# -- life cycle and pings ------------------------------------------------------


def test_two_origins_on_loopback_and_repr_hides_token() -> None:
    lc = LocalCluster()
    assert "not started" in repr(lc)
    with pytest.raises(RuntimeError):  # untyped ok: LocalCluster used before start()
        _ = lc.root_url
    with lc:
        assert lc.running
        assert lc.root_url.startswith("http://127.0.0.1:")
        assert lc.blob_url.startswith("http://127.0.0.1:")
        assert lc.root_url != lc.blob_url
        assert lc.state.blobs.base_url == lc.blob_url
        token = lc.root_credentials.access_token
        assert token not in repr(lc) and token not in repr(lc.root_credentials)
        with pytest.raises(RuntimeError):  # untyped ok: LocalCluster used before start()
            lc.start()
    assert not lc.running
    with pytest.raises(httpx.TransportError):
        httpx.get(lc.root_url + "/api/queue/v1/ping")


@pytest.mark.parametrize("service", ["queue", "index", "object"])
def test_ping_entries_of_every_service(service: str) -> None:
    with LocalCluster() as lc, httpx.Client(base_url=f"{lc.root_url}/api/{service}/v1") as c:
        ping = c.get("/ping").json()
        assert ping["alive"] is True and ping["uptime"] >= 0
        assert c.get("/__lbheartbeat__").json() == {}
        assert c.get("/__heartbeat__").json() == {}
        assert "version" in c.get("/__version__").json()


def test_keep_alive_serves_many_requests_on_one_connection(lc: LocalCluster) -> None:
    port = int(lc.root_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(3):
        conn.request("GET", "/api/queue/v1/ping")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Length")
        assert b'"alive":true' in resp.read()
    sock = conn.sock
    conn.request("GET", "/api/index/v1/ping")
    conn.getresponse().read()
    assert conn.sock is sock  # still the same connection
    conn.close()


# -- routing ---------------------------------------------------------------------


def test_encoded_slash_stays_inside_a_single_segment_param(lc: LocalCluster) -> None:
    with api(lc) as c:
        r = c.get("/queue/v1/task-queues/prov%2Fwt")
        assert r.json()["params"] == {"taskQueueId": "prov/wt"}
        assert r.json()["entry"] == "getTaskQueue"
        # a raw '/' splits the segment: no single-segment route matches
        assert_not_found(c.get("/queue/v1/task-queues/prov/wt"))
        r = c.get("/index/v1/task/a.b%2Fc%20d")
        assert r.json()["params"] == {"indexPath": "a.b/c d"}


def test_wildcard_params_take_raw_and_encoded_slashes_alike(lc: LocalCluster) -> None:
    with api(lc) as c:
        raw = c.get(f"/queue/v1/task/{TASK}/runs/0/artifacts/private/a b/c.txt").json()
        enc = c.get(f"/queue/v1/task/{TASK}/runs/0/artifacts/private%2Fa%20b%2Fc.txt").json()
        assert (
            raw["params"]
            == enc["params"]
            == {
                "taskId": TASK,
                "runId": "0",
                "name": "private/a b/c.txt",
            }
        )
        counts = c.get("/queue/v1/task-queues/prov/wt/counts").json()
        assert counts["params"] == {"taskQueueId": "prov/wt"}
        obj = c.get("/object/v1/metadata/t%2Fx%2Fy").json()
        assert obj["params"] == {"name": "t/x/y"}


def test_the_official_client_reaches_the_same_handler(lc: LocalCluster) -> None:
    got = tc_queue(lc).getArtifact(TASK, 0, "private/a b/(1).txt")
    assert got["params"]["name"] == "private/a b/(1).txt"
    assert got["clientId"] == "static/taskcluster/root"


def test_optional_namespace_and_trailing_slash(lc: LocalCluster) -> None:
    with api(lc) as c:
        assert c.post("/index/v1/namespaces").status_code == 404  # wrong method
        assert c.get("/index/v1/namespaces").json()["params"] == {"namespace": ""}
        assert c.get("/index/v1/namespaces/a.b").json()["params"] == {"namespace": "a.b"}
        assert c.get(f"/queue/v1/task/{TASK}/status/").json()["entry"] == "status"


def test_unknown_paths_are_a_bare_404(lc: LocalCluster) -> None:
    with api(lc) as c:
        for path in ("/queue/v1/nope", "/nosuch/v1/ping", "/queue/v2/ping"):
            assert_not_found(c.get(path))
        assert_not_found(c.delete("/queue/v1/ping"))  # wrong method
    assert httpx.get(lc.root_url + "/").status_code == 404


# -- parameter, query and body checks ---------------------------------------------


def test_bad_slugid_and_run_id_are_400_quoting_the_pattern(lc: LocalCluster) -> None:
    with api(lc) as c:
        body = assert_error(
            c.get("/queue/v1/task/not-a-slugid/status"), 400, "InvalidRequestArguments", "status"
        )
        assert "[Q-T]" in body["message"]
        assert body["requestInfo"]["params"] == {"taskId": "not-a-slugid"}
        r = c.get(f"/queue/v1/task/{TASK}/runs/-1/artifacts/public%2Fx")
        body = assert_error(r, 400, "InvalidRequestArguments", "getArtifact")
        assert "^[1-9]*[0-9]+$" in body["message"]
        r = c.get("/queue/v1/task-queues/no-slash-here/counts")
        assert_error(r, 400, "InvalidRequestArguments", "taskQueueCounts")
        # "$" must not accept a trailing newline
        assert c.get(f"/queue/v1/task/{TASK}%0A/status").status_code == 400


def test_query_keys_are_checked(lc: LocalCluster) -> None:
    with api(lc) as c:
        url = f"/queue/v1/task-group/{TASK}/list"
        r = c.get(url, params={"limit": "5", "continuationToken": "a/b c"})
        assert r.json()["query"] == {"limit": "5", "continuationToken": "a/b c"}
        body = assert_error(
            c.get(url, params={"foo": "1"}), 400, "InvalidRequestArguments", "listTaskGroup"
        )
        assert "foo" in body["message"]
        assert_error(
            c.get(url, params={"limit": "-5"}), 400, "InvalidRequestArguments", "listTaskGroup"
        )
        r = c.get(f"/queue/v1/task/{TASK}/status", params={"limit": "5"})
        assert_error(r, 400, "InvalidRequestArguments", "status")


def test_body_must_be_a_json_object_or_array(lc: LocalCluster) -> None:
    url = f"/queue/v1/task/{TASK}/runs/0/exception"
    with api(lc) as c:
        r = c.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
        body = assert_error(r, 400, "MalformedPayload", "reportException")
        assert body["requestInfo"]["payload"] == "{not json"  # echoed as the text it was
        assert_error(c.post(url, json="a string"), 400, "MalformedPayload", "reportException")
        assert c.post(url, json={"reason": "canceled"}).json()["body"] == {"reason": "canceled"}
        # no body at all where the method takes one: MalformedPayload too
        assert_error(c.post(url), 400, "MalformedPayload", "reportException")
        # a method without input still takes none
        assert c.get(f"/queue/v1/task/{TASK}/status").json()["body"] is None


def test_chunked_request_bodies_are_read(lc: LocalCluster) -> None:
    url = f"/queue/v1/task/{TASK}/runs/0/exception"
    with api(lc, anonymous=True) as c:
        lc.add_role("anonymous", ["queue:resolve-task:*"])
        r = c.post(url, content=iter([b'{"reason":', b'"worker-shutdown"}']))
        assert r.json()["body"] == {"reason": "worker-shutdown"}


def test_authentication_comes_before_parameter_checks(lc: LocalCluster) -> None:
    bad = Credentials("static/taskcluster/root", "wrong-token")
    with api(lc, bad) as c:
        r = c.get("/queue/v1/task/not-a-slugid/status")
        assert_error(r, 401, "AuthenticationFailed", "status")


# -- what handlers answer ----------------------------------------------------------


def test_api_error_body_replaces_the_whole_body(lc: LocalCluster) -> None:
    with api(lc) as c:
        r = c.get(f"/queue/v1/task/{TASK}/runs/0/artifact-content/private%2Fx")
        assert r.status_code == 424
        assert r.json() == {"reason": "file-missing", "message": "m"}


def test_redirects_and_raw_bytes_are_sent_as_given(lc: LocalCluster) -> None:
    with api(lc) as c:
        r = c.get(f"/queue/v1/task/{TASK}/artifacts/private%2Fx")
        assert r.status_code == 303
        assert r.headers["location"] == "http://127.0.0.1:1/elsewhere"
        assert r.json()["storageType"] == "s3"
        r = c.get(f"/queue/v1/task/{TASK}/artifact-content/x")
        assert (r.status_code, r.content) == (200, b"raw\x00bytes")
        assert r.headers["content-type"] == "text/plain"
        head = c.head(f"/queue/v1/task/{TASK}/artifact-content/x")
        assert head.content == b"" and head.headers["content-length"] == "9"


def test_handler_bugs_become_500s(lc: LocalCluster) -> None:
    with api(lc) as c:
        r = c.post("/queue/v1/claim-work/prov/wt", json={"workerGroup": "g", "workerId": "w"})
        assert "authorize" in assert_error(r, 500, "InternalServerError", "claimWork")["message"]
        r = c.post(f"/queue/v1/task/{TASK}/cancel")
        assert "incidentId" in assert_error(r, 500, "InternalServerError", "cancelTask")["message"]
        assert isinstance(lc.errors[-1], RuntimeError)
        r = c.get(f"/queue/v1/task/{TASK}")  # Echo does not handle queue.task
        assert "queue.task" in assert_error(r, 500, "InternalServerError", "task")["message"]


def test_path_only_scopes_are_checked_before_the_handler(lc: LocalCluster) -> None:
    lc.add_role("anonymous", ["queue:get-artifact:public/*"])  # narrow: no read scopes
    creds = lc.add_client("narrow", ["queue:status:" + TASK])
    with api(lc, creds) as c:
        assert c.get(f"/queue/v1/task/{TASK}/status").json()["clientId"] == "narrow"
        other = "XDqefRsvTG6ajX5vWks8LQ"
        body = assert_error(
            c.get(f"/queue/v1/task/{other}/status"), 403, "InsufficientScopes", "status"
        )
        assert f"queue:status:{other}" in body["message"]


# -- request log -------------------------------------------------------------------


def test_request_log(lc: LocalCluster) -> None:
    creds = lc.add_client("logged", ["queue:status:*"])
    with api(lc, creds) as c:
        c.get(f"/queue/v1/task/{TASK}/status")
        c.get(f"/queue/v1/task/{TASK}/status", params={"bewit": "secret"})
    httpx.get(lc.root_url + "/api/queue/v1/ping")
    log = lc.requests
    assert log[0] == RequestRecord(
        "GET", f"/api/queue/v1/task/{TASK}/status", 200, "logged", "api", "queue", "status", True
    )
    assert log[1].status == 401 and "secret" not in log[1].path
    assert (log[2].entry, log[2].client_id, log[2].authorization) == ("ping", None, False)
    assert len(lc.requests) == 3
    lc.reset_requests()
    assert lc.requests == []


# -- blob origin ---------------------------------------------------------------


def test_blob_get_head_and_ranges(lc: LocalCluster) -> None:
    data = bytes(range(100))
    lc.state.blobs.put("t/a b/c", Blob(data, "application/octet-stream"))
    lc.state.blobs.set_public("t/a b/c")  # readable unsigned, as in the public bucket
    url = lc.state.blobs.url("t/a b/c")
    assert url.startswith(lc.blob_url + "/blobs/t%2Fa%20b%2Fc")
    with httpx.Client() as c:
        r = c.get(url)
        assert r.content == data
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["etag"].startswith('"')
        assert r.headers["content-type"] == "application/octet-stream"
        assert c.head(url).headers["content-length"] == "100"
        cases = {"bytes=10-19": (10, 19), "bytes=90-": (90, 99), "bytes=-5": (95, 99)}
        for header, (first, last) in cases.items():
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 206
            assert r.content == data[first : last + 1]
            assert r.headers["content-range"] == f"bytes {first}-{last}/100"
        r = c.get(url, headers={"Range": "bytes=100-"})
        assert (r.status_code, r.headers["content-range"]) == (416, "bytes */100")
        assert c.get(lc.state.blobs.url("missing", expires_in=60)).status_code == 404
    assert {r.origin for r in lc.requests} == {"blob"}
    assert lc.requests[0].path == "/blobs/t%2Fa%20b%2Fc"


def test_gzipped_blobs_are_served_as_stored(lc: LocalCluster) -> None:
    text = b"hello world\n" * 100
    packed = gzip.compress(text)
    lc.state.blobs.put("log", Blob(packed, "text/plain", "gzip"))
    lc.state.blobs.set_public("log")  # readable unsigned, as in the public bucket
    url = lc.state.blobs.url("log")
    with httpx.Client() as c:
        r = c.get(url)
        assert r.headers["content-encoding"] == "gzip"
        assert r.content == text  # httpx decodes
        r = c.get(url, headers={"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
        assert r.headers["content-range"] == f"bytes 0-9/{len(packed)}"
    u = httpx.URL(url)
    raw = http.client.HTTPConnection(u.host, u.port)
    raw.request("GET", u.raw_path.decode(), headers={"Range": "bytes=0-9"})
    assert raw.getresponse().read() == packed[:10]  # the range is over the stored bytes
    raw.close()


def test_presigned_puts(lc: LocalCluster) -> None:
    blobs = lc.state.blobs
    put_url = blobs.put_url("up/x", "text/plain", expires_in=60)
    blobs.set_public("up/x")  # readable unsigned, as in the public bucket
    with httpx.Client() as c:
        r = c.put(put_url, content=b"data", headers={"Content-Type": "text/html"})
        assert r.status_code == 403 and b"<Error>" in r.content
        unsigned = blobs.url("up/x")
        assert (
            c.put(unsigned, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 403
        )
        r = c.put(
            put_url,
            content=gzip.compress(b"data"),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 200 and r.headers["etag"]
        stored = blobs.get("up/x")
        assert stored is not None and stored.content_encoding == "gzip"
        assert c.get(blobs.url("up/x")).content == b"data"
        signed_get = blobs.url("up/x", expires_in=10)
        assert c.get(signed_get).status_code == 200
        lc.advance(61)
        assert c.get(signed_get).status_code == 403
        assert (
            c.put(put_url, content=b"late", headers={"Content-Type": "text/plain"}).status_code
            == 403
        )


# -- python -m tcmodel serve ----------------------------------------------------


def test_serve_prints_working_credentials_and_stops_on_ctrl_c() -> None:
    out = io.StringIO()
    seen: dict[str, Any] = {}

    def wait() -> None:
        env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in out.getvalue().splitlines()
            if line.startswith("export ")
        )
        queue = taskcluster.Queue(
            {
                "rootUrl": env["TASKCLUSTER_ROOT_URL"],
                "credentials": {
                    "clientId": env["TASKCLUSTER_CLIENT_ID"],
                    "accessToken": env["TASKCLUSTER_ACCESS_TOKEN"],
                },
            }
        )
        seen["ping"] = queue.ping()
        seen["root"] = env["TASKCLUSTER_ROOT_URL"]
        raise KeyboardInterrupt

    assert serve(["--max-page-size", "7"], out=out, wait=wait) == 0
    assert seen["ping"]["alive"] is True
    with pytest.raises(httpx.TransportError):
        httpx.get(seen["root"] + "/api/queue/v1/ping")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_in_a_process_stops_cleanly_on_a_signal(sig: signal.Signals) -> None:
    code = "from tcmodel.testing.cli import serve; raise SystemExit(serve())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        root = proc.stdout.readline().strip().removeprefix("export TASKCLUSTER_ROOT_URL=")
        assert httpx.get(root + "/api/queue/v1/ping").json()["alive"] is True
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
