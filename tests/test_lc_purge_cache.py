"""The local cluster's purge-cache service over real HTTP, driven by the
official client (bodies checked against the real schemas): purgeCache (204),
purgeRequests with ``since`` and its 10-second cache, allPurgeRequests paging,
worker-pool ids and scopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import taskcluster
from lc_queue_support import _running, at, client_options, expect_error
from schemas import Checked

from tcmodel.credentials import Credentials
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.purge_cache import CACHE_SECONDS


@pytest.fixture
def lc(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    yield from _running(Settings(max_page_size=2), monkeypatch)


def purge(lc: LocalCluster, creds: Credentials | None = None) -> Any:
    """An official PurgeCache client (root credentials by default)."""
    options = client_options(lc, creds or lc.root_credentials)
    return Checked(taskcluster.PurgeCache(options), "purge-cache")


def anonymous(lc: LocalCluster) -> Any:
    options = {"rootUrl": lc.root_url, "maxRetries": 0}
    return Checked(taskcluster.PurgeCache(options), "purge-cache")


def test_purge_answers_204_and_is_listed_for_its_pool(lc: LocalCluster) -> None:
    client = purge(lc)
    assert client.purgeCache("proj/linux", {"cacheName": "checkouts"}) is None
    assert lc.requests[-1].status == 204
    [request] = client.purgeRequests("proj/linux")["requests"]
    assert request["provisionerId"] == "proj" and request["workerType"] == "linux"
    assert request["cacheName"] == "checkouts" and request["before"] <= at(lc)
    assert client.purgeRequests("proj/other") == {"requests": []}


def test_purge_requests_are_cached_for_ten_seconds(lc: LocalCluster) -> None:
    client = purge(lc)
    assert client.purgeRequests("proj/linux") == {"requests": []}
    client.purgeCache("proj/linux", {"cacheName": "c1"})
    assert client.purgeRequests("proj/linux") == {"requests": []}  # the cached answer
    lc.advance(CACHE_SECONDS)
    assert [r["cacheName"] for r in client.purgeRequests("proj/linux")["requests"]] == ["c1"]


def test_since_filters_and_asking_again_moves_before(lc: LocalCluster) -> None:
    client = purge(lc)
    client.purgeCache("proj/linux", {"cacheName": "c1"})
    lc.advance(60)
    client.purgeCache("proj/linux", {"cacheName": "c2"})
    since = at(lc, seconds=-30)
    listed = client.purgeRequests("proj/linux", query={"since": since})["requests"]
    assert [r["cacheName"] for r in listed] == ["c2"]
    assert client.purgeRequests("proj/linux", query={"since": at(lc, hours=1)}) == {"requests": []}
    lc.advance(CACHE_SECONDS)
    client.purgeCache("proj/linux", {"cacheName": "c1"})  # again: `before` moves on
    lc.advance(CACHE_SECONDS)
    listed = client.purgeRequests("proj/linux", query={"since": since})["requests"]
    assert sorted(r["cacheName"] for r in listed) == ["c1", "c2"]
    expect_error(400, None, client.purgeRequests, "proj/linux", query={"since": "yesterday"})


def test_all_purge_requests_pages_in_pool_and_cache_order(lc: LocalCluster) -> None:
    client = purge(lc)
    for pool, cache in [("b/x", "c2"), ("a/x", "c1"), ("b/x", "c1")]:
        client.purgeCache(pool, {"cacheName": cache})
    first = client.allPurgeRequests()
    second = client.allPurgeRequests(query={"continuationToken": first["continuationToken"]})
    rows = [(r["provisionerId"], r["cacheName"]) for r in first["requests"] + second["requests"]]
    assert rows == [("a", "c1"), ("b", "c1"), ("b", "c2")]
    assert "continuationToken" not in second
    lc.reset_requests()
    assert len(anonymous(lc).allPurgeRequests(query={"limit": 1})["requests"]) == 1
    assert lc.requests[-1].client_id is None


def test_scopes_name_pool_and_cache(lc: LocalCluster) -> None:
    creds = lc.add_client("ci", ["purge-cache:proj/linux:checkouts"])
    client = purge(lc, creds)
    client.purgeCache("proj/linux", {"cacheName": "checkouts"})
    body = expect_error(
        403, "InsufficientScopes", client.purgeCache, "proj/linux", {"cacheName": "x"}
    )
    assert "purge-cache:proj/linux:x" in body["message"]
    body = expect_error(
        403, "InsufficientScopes", anonymous(lc).purgeCache, "a/b", {"cacheName": "c"}
    )
    assert "purge-cache:a/b:c" in body["message"]
    lc.add_role("anonymous", [])
    body = expect_error(403, "InsufficientScopes", anonymous(lc).purgeRequests, "proj/linux")
    assert "purge-cache:purge-requests::proj/linux" in body["message"]  # sic, as in the reference
    body = expect_error(403, "InsufficientScopes", anonymous(lc).allPurgeRequests)
    assert "purge-cache:all-purge-requests" in body["message"]


def test_anonymous_may_read_purge_requests(lc: LocalCluster) -> None:
    purge(lc).purgeCache("proj/linux", {"cacheName": "c"})
    assert len(anonymous(lc).purgeRequests("proj/linux")["requests"]) == 1


@pytest.mark.parametrize("body", [{}, {"cacheName": 3}, {"cacheName": "c", "x": 1}])
def test_bodies_that_break_the_schema_are_400(lc: LocalCluster, body: dict[str, Any]) -> None:
    expect_error(400, "InputValidationError", purge(lc).purgeCache, "proj/linux", body)


def test_worker_pool_ids_must_have_one_slash(lc: LocalCluster) -> None:
    client = purge(lc)
    for call, args in [
        (client.purgeRequests, ("no-slash",)),
        (client.purgeCache, ("no-slash", {"cacheName": "c"})),
    ]:
        body = expect_error(400, "InvalidRequestArguments", call, *args)
        assert "workerPoolId" in body["message"]


def test_builtin_entries_answer(lc: LocalCluster) -> None:
    for path in ("ping", "__lbheartbeat__", "__version__", "__heartbeat__"):
        answer = httpx.get(f"{lc.root_url}/api/purge-cache/v1/{path}")
        assert answer.status_code == 200, path
    served = {e for s, e in lc.served if s == "purge-cache"}
    assert {"ping", "lbheartbeat", "version", "heartbeat"} <= served
