"""Purge-cache on the client side, against a real local cluster:
``cluster.purge_cache`` and ``cluster.purge_requests`` (of one worker pool,
or of all, paged), ``since``, request counts and scope failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from lc_client_support import entry_statuses

import tcmodel
from tcmodel.models_services import PurgeRequest
from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.purge_cache import CACHE_SECONDS


@pytest.fixture
def lc_settings() -> Settings:
    return Settings(max_page_size=2)


def now(lc: LocalCluster) -> datetime:
    return datetime.fromtimestamp(lc.clock.now(), tz=timezone.utc)


def test_purge_then_list_the_pool(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    assert root.purge_cache("proj/ci", "checkouts") is None
    assert entry_statuses(lc) == [("purgeCache", 204)]
    assert ("proj/ci", "checkouts") in lc.state.purge_cache.requests
    lc.reset_requests()
    listing = root.purge_requests("proj/ci")
    assert lc.requests == []
    [request] = list(listing)
    assert entry_statuses(lc) == [("purgeRequests", 200)]
    assert isinstance(request, PurgeRequest)
    assert (request.worker_pool_id, request.cache_name) == ("proj/ci", "checkouts")
    assert abs((request.before - now(lc)).total_seconds()) < 2
    assert list(root.purge_requests("proj/other")) == []


def test_the_pool_listing_may_lag_by_the_services_cache(
    root: tcmodel.Cluster, lc: LocalCluster
) -> None:
    root.purge_cache("proj/ci", "a")
    assert [r.cache_name for r in root.purge_requests("proj/ci")] == ["a"]
    root.purge_cache("proj/ci", "b")
    assert [r.cache_name for r in root.purge_requests("proj/ci")] == ["a"]  # cached answer
    assert [r.cache_name for r in root.purge_requests()] == ["a", "b"]  # all: never cached
    lc.advance(CACHE_SECONDS)
    assert [r.cache_name for r in root.purge_requests("proj/ci")] == ["a", "b"]


def test_since(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    root.purge_cache("proj/ci", "old")
    root.purge_cache("proj/gpu", "old")
    lc.advance(3600)
    root.purge_cache("proj/ci", "new")
    root.purge_cache("proj/gpu", "new")
    lc.reset_requests()
    pool = root.purge_requests("proj/ci", since="-30 min")
    assert [r.cache_name for r in pool] == ["new"]  # asked of the service
    assert entry_statuses(lc) == [("purgeRequests", 200)]
    every = root.purge_requests(since=now(lc) - timedelta(minutes=30))
    assert sorted(r.worker_pool_id for r in every) == ["proj/ci", "proj/gpu"]
    assert [r.cache_name for r in every] == ["new", "new"]
    assert {r.cache_name for r in root.purge_requests(since="2000-01-01T00:00:00Z")} == {
        "old",
        "new",
    }


def test_all_requests_page(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    for i in range(5):
        root.purge_cache(f"proj/pool-{i}", "cache")
    lc.reset_requests()
    found = list(root.purge_requests())
    assert [r.worker_pool_id for r in found] == [f"proj/pool-{i}" for i in range(5)]
    assert entry_statuses(lc) == [("allPurgeRequests", 200)] * 3  # pages of 2
    lc.reset_requests()
    assert len(list(root.purge_requests().limit(2))) == 2
    assert len(lc.requests) == 1


def test_bad_arguments_send_nothing(root: tcmodel.Cluster, lc: LocalCluster) -> None:
    for pool in ("proj", "a/b/c", "/ci", ""):
        with pytest.raises(ValueError, match="worker pool id"):
            root.purge_cache(pool, "cache")
    with pytest.raises(ValueError):
        root.purge_cache("proj/ci", "")
    with pytest.raises(ValueError):
        root.purge_requests("proj/ci", since="yesterday")
    assert lc.requests == []


def test_scopes_are_named_when_missing(lc: LocalCluster) -> None:
    lc.add_role("anonymous", [])  # without the read scopes anyone gets
    creds = lc.add_client("project/ci", ["purge-cache:proj/ci:checkouts"])
    with lc.connect(creds) as ci:
        ci.purge_cache("proj/ci", "checkouts")
        with pytest.raises(tcmodel.InsufficientScopes) as other_cache:
            ci.purge_cache("proj/ci", "everything")
        with pytest.raises(tcmodel.InsufficientScopes) as every_request:
            list(ci.purge_requests())
    assert "purge-cache:proj/ci:everything" in str(other_cache.value)
    assert "purge-cache:all-purge-requests" in str(every_request.value)
    assert list(lc.state.purge_cache.requests) == [("proj/ci", "checkouts")]
