"""Fault injection of the local cluster, over real HTTP on both origins."""

from __future__ import annotations

import http.client

import httpx
import pytest
import taskcluster
from test_lc_server import TASK, api, assert_error, lc, tc_queue

from tcmodel.testing import Fault, LocalCluster
from tcmodel.testing.state import Blob

__all__ = ["lc"]  # the fixture, imported

STATUS = f"/queue/v1/task/{TASK}/status"


def test_status_fault_with_the_default_json_error(lc: LocalCluster) -> None:
    fault = lc.inject("status", status=503, entry="status", headers={"Retry-After": "7"})
    with api(lc) as c:
        r = c.get(STATUS)
        body = assert_error(r, 503, "InternalServerError", "status")
        assert "Injected fault" in body["message"]
        assert r.headers["retry-after"] == "7"
        assert c.get(STATUS).status_code == 200  # times=1: used up
    assert fault.hits == 1 and fault.times == 0
    assert [r.status for r in lc.requests] == [503, 200]


def test_status_fault_with_an_html_body_from_a_proxy(lc: LocalCluster) -> None:
    html = "<html><body>502 Bad Gateway</body></html>"
    lc.inject("status", status=502, body=html, times=2, path="/status")
    with api(lc) as c:
        for _ in range(2):
            r = c.get(STATUS)
            assert (r.status_code, r.text) == (502, html)
            assert r.headers["content-type"].startswith("text/html")
        assert c.get(STATUS).status_code == 200


def test_official_client_retries_through_5xx_faults(lc: LocalCluster) -> None:
    lc.inject("status", status=500, entry="status", times=2)
    queue = taskcluster.Queue(
        {
            "rootUrl": lc.root_url,
            "credentials": {
                "clientId": lc.root_credentials.client_id,
                "accessToken": lc.root_credentials.access_token,
            },
        }
    )
    assert queue.status(TASK)["entry"] == "status"
    assert [r.status for r in lc.requests] == [500, 500, 200]


def test_drop_closes_without_a_response(lc: LocalCluster) -> None:
    lc.inject("drop", method="GET", service="queue")
    with api(lc) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(STATUS)
        assert c.get(STATUS).status_code == 200
    assert [(r.status, r.entry) for r in lc.requests] == [(0, "status"), (200, "status")]


def test_truncate_sends_part_of_the_body_under_the_full_length(lc: LocalCluster) -> None:
    lc.inject("truncate", entry="status", keep=5)
    port = int(lc.root_url.rsplit(":", 1)[1])
    lc.add_role("anonymous", ["queue:status:*"])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", f"/api/queue/v1/task/{TASK}/status")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert len(info.value.partial) == 5
    assert info.value.expected > 0
    conn.close()


def test_truncate_on_the_blob_origin_for_resume_tests(lc: LocalCluster) -> None:
    data = bytes(range(256)) * 4
    lc.state.blobs.put("big", Blob(data))
    lc.state.blobs.set_public("big")  # readable unsigned, as in the public bucket
    url = lc.state.blobs.url("big")
    lc.inject("truncate", origin="blob", path="/blobs/big")
    received = b""
    with httpx.Client() as c:
        with pytest.raises(httpx.RemoteProtocolError), c.stream("GET", url) as r:
            assert r.headers["content-length"] == str(len(data))
            for chunk in r.iter_raw():
                received += chunk
        assert 0 < len(received) < len(data)
        rest = c.get(url, headers={"Range": f"bytes={len(received)}-"})
        assert rest.status_code == 206
        assert received + rest.content == data
    assert [r.origin for r in lc.requests] == ["blob", "blob"]


def test_status_fault_on_the_blob_origin(lc: LocalCluster) -> None:
    lc.state.blobs.put("k", Blob(b"x"))
    lc.state.blobs.set_public("k")  # readable unsigned, as in the public bucket
    lc.inject("status", origin="blob", status=500)
    with httpx.Client() as c:
        r = c.get(lc.state.blobs.url("k"))
        assert r.status_code == 500 and b"<Error>" in r.content
        assert c.get(lc.state.blobs.url("k")).content == b"x"


def test_delay_answers_normally(lc: LocalCluster) -> None:
    fault = lc.inject("delay", delay=0.05, entry="ping", service="index")
    with httpx.Client() as c:
        assert c.get(lc.root_url + "/api/queue/v1/ping").status_code == 200
        assert fault.hits == 0  # another service
        assert c.get(lc.root_url + "/api/index/v1/ping").json()["alive"] is True
    assert fault.hits == 1


def test_faults_only_hit_matching_requests_and_can_be_cleared(lc: LocalCluster) -> None:
    lc.inject("status", status=500, method="POST", times=5)
    lc.inject("drop", origin="blob", times=5)
    with api(lc) as c:
        assert c.get(STATUS).status_code == 200
        assert len(lc.faults.pending()) == 2
        lc.clear_faults()
        assert lc.faults.pending() == []
        r = c.post(f"/queue/v1/task/{TASK}/runs/0/exception", json={"reason": "canceled"})
        assert r.status_code == 200


def test_fault_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="origin"):
        Fault("drop", origin="s3")


def test_default_codes_follow_the_status(lc: LocalCluster) -> None:
    lc.inject("status", status=404)
    with pytest.raises(taskcluster.TaskclusterRestFailure) as info:
        tc_queue(lc).status(TASK)
    assert info.value.status_code == 404
    assert info.value.body["code"] == "ResourceNotFound"
