"""The local cluster serves for long and serves big blobs: a bounded
request log whose counters stay whole, and blob GETs (whole or ranged)
answered from the stored bytes with the ETag computed when stored."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tcmodel.testing import LocalCluster
from tcmodel.testing.state import Blob, Settings


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(request_log_size=5)


def test_the_request_log_keeps_the_last_requests_and_counts_them_all(lc: LocalCluster) -> None:
    with httpx.Client() as client:
        for _ in range(12):
            client.get(lc.root_url + "/api/queue/v1/ping")
        for _ in range(3):
            client.get(lc.root_url + "/api/index/v1/ping")
    kept = lc.requests
    assert len(kept) == 5
    assert [r.service for r in kept] == ["queue", "queue", "index", "index", "index"]
    assert lc.request_total == 15
    assert lc.served == {("queue", "ping"): 12, ("index", "ping"): 3}
    lc.reset_requests()
    assert lc.requests == [] and lc.request_total == 15


def test_a_changed_log_size_applies_to_the_next_request(lc: LocalCluster) -> None:
    lc.settings.request_log_size = 2
    with httpx.Client() as client:
        for _ in range(4):
            client.get(lc.root_url + "/api/queue/v1/ping")
    assert len(lc.requests) == 2 and lc.request_total == 4


def test_blob_gets_whole_ranged_and_head(lc: LocalCluster) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: sent apart from the head
    lc.state.blobs.put("big", Blob(data))
    lc.state.blobs.set_public("big")
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    assert lc.state.blobs.etag("big") == etag
    url = lc.blob_url + "/blobs/big"
    with httpx.Client() as client:
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["etag"] == etag
        part = client.get(url, headers={"Range": "bytes=1000-200999"})
        assert part.status_code == 206 and part.content == data[1000:201000]
        assert part.headers["content-range"] == f"bytes 1000-200999/{len(data)}"
        tail = client.get(url, headers={"Range": "bytes=-10", "If-Range": etag})
        assert tail.status_code == 206 and tail.content == data[-10:]
        head = client.head(url)
        assert head.content == b"" and head.headers["content-length"] == str(len(data))
    lc.state.blobs.put("big", Blob(b"new"))  # replaced: a new ETag
    assert lc.state.blobs.etag("big") == '"' + hashlib.md5(b"new").hexdigest() + '"'
    lc.state.blobs.delete("big")
    assert lc.state.blobs.etag("big") is None
