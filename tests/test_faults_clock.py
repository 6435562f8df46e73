"""Fault suite: a local clock that is off (Hawk's 15-minute window).

The services refuse a Hawk timestamp more than 15 minutes from their clock
with ``401 Stale timestamp`` and a bare ``www-authenticate: hawk``; their
answer's ``Date`` header tells their time. A client whose clock is 20
minutes off corrects its offset from it and sends the request again, once,
and then keeps signing with the service's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import tcmodel
from tcmodel.credentials import Credentials
from tcmodel.errors import AuthenticationFailed
from tcmodel.hawk import HawkAuth
from tcmodel.testing import LocalCluster

TWENTY_MINUTES = 20 * 60


@pytest.fixture(scope="module")
def lc() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def task_id(lc: LocalCluster) -> str:
    with lc.connect() as c:
        return c.create_task(task_queue_id="proj/ci", payload={}, name="clock").task_id


def _statuses(lc: LocalCluster) -> list[tuple[str | None, int]]:
    return [(r.entry, r.status) for r in lc.requests]


def _ts(authorization: str) -> int:
    found = dict(part.split("=", 1) for part in authorization[5:].split(", "))
    return int(found["ts"].strip('"'))


def test_the_local_cluster_answers_a_stale_timestamp_as_the_services_do(
    lc: LocalCluster, task_id: str
) -> None:
    lc.advance(3600)  # the cluster's clock, and so its Date header, moves too
    try:
        stale = HawkAuth(lc.root_credentials, now=lambda: time.time() - TWENTY_MINUTES)
        url = f"{lc.root_url}/api/queue/v1/task/{task_id}/status"
        answer = httpx.get(url, auth=stale)
        fresh = httpx.get(url, auth=HawkAuth(lc.root_credentials, now=lc.clock.now))
    finally:
        lc.advance(-3600)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "hawk"  # bare: no ts to learn from
    assert answer.json()["message"].startswith("Unauthorized: Stale timestamp")
    for r in (answer, fresh):
        told = email.utils.parsedate_to_datetime(r.headers["date"]).timestamp()
        assert abs(told - (time.time() + 3600)) < 3  # the cluster clock, not the host's


@pytest.mark.parametrize("off", [-TWENTY_MINUTES, TWENTY_MINUTES])
def test_a_client_whose_clock_is_20_minutes_off_works(
    lc: LocalCluster, task_id: str, off: int
) -> None:
    lc.reset_requests()
    with tcmodel.Cluster.from_url(
        lc.root_url, lc.root_credentials, clock=lambda: time.time() + off
    ) as c:
        assert c.task(task_id).state == "pending"
        assert _statuses(lc) == [("status", 401), ("status", 200)]
        lc.reset_requests()
        assert c.task(task_id).refresh().state == "pending"  # corrected for good
        assert c.task(task_id).definition.metadata.name == "clock"
        assert abs(c.transport.now() - lc.clock.now()) < 2
    assert _statuses(lc) == [("status", 200), ("task", 200)]


def test_a_cluster_clock_moved_20_minutes_ahead_is_caught_up_with(
    lc: LocalCluster, task_id: str
) -> None:
    lc.advance(TWENTY_MINUTES)
    try:
        lc.reset_requests()
        with tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials) as c:  # real clock
            assert c.task(task_id).state == "pending"
            created = c.create_task(task_queue_id="proj/ci", payload={}, name="later")
            assert created.state == "pending"
    finally:
        lc.advance(-TWENTY_MINUTES)
    assert _statuses(lc) == [("status", 401), ("status", 200), ("createTask", 200)]


def test_the_async_driver_corrects_the_clock_too(lc: LocalCluster, task_id: str) -> None:
    lc.reset_requests()

    async def read() -> Any:
        async with tcmodel.Cluster.from_url(
            lc.root_url, lc.root_credentials, clock=lambda: time.time() - TWENTY_MINUTES
        ) as c:
            return await c.transport.arequest("queue", "status", taskId=task_id)

    assert asyncio.run(read())["status"]["taskId"] == task_id
    assert _statuses(lc) == [("status", 401), ("status", 200)]


def test_other_401s_are_not_sent_again(lc: LocalCluster, task_id: str) -> None:
    wrong = Credentials(lc.root_credentials.client_id, "not-the-token")
    lc.reset_requests()
    with tcmodel.Cluster.from_url(lc.root_url, wrong) as c, pytest.raises(AuthenticationFailed):
        c.task(task_id).status
    assert _statuses(lc) == [("status", 401)]  # "Bad mac": another try would not help


def _stale_fault(lc: LocalCluster, headers: dict[str, str], times: int = 1) -> None:
    body = '{"code": "AuthenticationFailed", "message": "Unauthorized: Stale timestamp"}'
    lc.inject(
        "status",
        status=401,
        body=body,
        content_type="application/json",
        headers=headers,
        entry="status",
        times=times,
    )


def test_the_correction_is_tried_once_per_call(lc: LocalCluster, task_id: str) -> None:
    # A service that keeps saying "stale", whatever the time: two requests, then the error.
    far = time.time() + 7200
    _stale_fault(lc, {"WWW-Authenticate": "hawk", "Date": _http_date(far)}, times=2)
    lc.reset_requests()
    with tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials, max_retries=0) as c:
        with pytest.raises(AuthenticationFailed, match="Stale timestamp"):
            c.task(task_id).status
        assert abs(c.transport.now() - far) < 3  # it did learn the time it was told
    assert _statuses(lc) == [("status", 401), ("status", 401)]


def test_a_hawk_ts_challenge_is_believed_only_with_a_valid_tsm(
    lc: LocalCluster, task_id: str
) -> None:
    auth = HawkAuth(lc.root_credentials)
    told = int(time.time()) + 5000
    good = f'Hawk ts="{told}", tsm="{auth._ts_mac(str(told))}", error="Stale timestamp"'
    forged = f'Hawk ts="{told}", tsm="Zm9yZ2Vk", error="Stale timestamp"'
    for challenge, requests in ((good, 2), (forged, 1)):
        # The cluster's Date is the host's time: by it, a clock in time is not stale.
        _stale_fault(lc, {"WWW-Authenticate": challenge})
        lc.reset_requests()
        with tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials, max_retries=0) as c:
            with contextlib.suppress(AuthenticationFailed):
                c.task(task_id).status
            moved = c.transport.now() - time.time()
        assert len(lc.requests) == requests
        assert abs(moved - (5000 if requests == 2 else 0)) < 3
    lc.clear_faults()


def test_anonymous_requests_are_never_sent_again_for_a_401(lc: LocalCluster, task_id: str) -> None:
    _stale_fault(lc, {"Date": _http_date(time.time() + 7200)})
    lc.reset_requests()
    with tcmodel.Cluster.from_url(lc.root_url) as c, pytest.raises(AuthenticationFailed):
        c.task(task_id).status
    assert _statuses(lc) == [("status", 401)]


def _http_date(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)
