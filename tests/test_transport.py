"""The transport against a real (scripted) HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import statistics
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import mohawk
import pytest
from httpstub import DROP, HTTPStub, Recorded, Reply, error_body

from tcmodel.cluster import Cluster
from tcmodel.errors import (
    APIError,
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    InputError,
    InsufficientScopes,
    InternalServerError,
    NotFound,
    RequestConflict,
    ResourceExpired,
    ServerError,
    TooManyRequests,
)
from tcmodel.transport import Call, RetryPolicy, Transport, parse_retry_after

CLIENT_ID = "tcmodel/test"
TOKEN = "transport-test-token"
TASK_ID = "Dx4tPEtaRpeIeWpbTD0uHw"
GROUP_ID = "XDqefRsvTG6ajX5vWks8LQ"


@pytest.fixture
def stub() -> Iterator[HTTPStub]:
    with HTTPStub() as s:
        yield s


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the transport's sleeps instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr("tcmodel.transport.time.sleep", delays.append)
    return delays


def _transport(stub: HTTPStub, max_retries: int = 5, **kw: Any) -> Transport:
    return Transport(stub.url, (CLIENT_ID, TOKEN), max_retries=max_retries, **kw)


def _nonce(request: Recorded) -> str:
    header = request.authorization
    assert header is not None and header.startswith("Hawk ")
    for part in header[5:].split(", "):
        key, _, value = part.partition("=")
        if key == "nonce":
            return value.strip('"')
    raise AssertionError(f"no nonce in {header}")


def _verify_hawk(stub: HTTPStub, request: Recorded) -> None:
    """A Hawk server (mohawk) accepts the header the stub received."""
    header = request.authorization
    assert header is not None
    creds = {"id": CLIENT_ID, "key": TOKEN, "algorithm": "sha256"}
    mohawk.Receiver(
        lambda _id: creds,
        header,
        stub.url + request.path,
        request.method,
        content=request.body.decode("utf-8"),
        content_type=request.headers.get("content-type", "") if request.body else "",
    )


# -- retries ------------------------------------------------------------------------


def test_503_503_200_succeeds_with_fresh_signatures(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(Reply(503), Reply(503, "busy"), Reply(200, {"alive": True}))
    with closing(_transport(stub)) as t:
        assert t.request("queue", "ping") == {"alive": True}
    assert stub.paths == ["/api/queue/v1/ping"] * 3
    nonces = [_nonce(r) for r in stub.requests]
    assert len(set(nonces)) == 3
    for r in stub.requests:
        _verify_hawk(stub, r)
    assert len(sleeps) == 2
    assert 0.075 <= sleeps[0] <= 0.125
    assert 0.15 <= sleeps[1] <= 0.25


def test_post_body_resent_and_hashed_on_every_attempt(stub: HTTPStub, sleeps: list[float]) -> None:
    body = {"taskIds": [TASK_ID, "caf\u00e9"]}
    stub.script(Reply(500), Reply(200, {"tasks": []}))
    with closing(_transport(stub)) as t:
        assert t.request("queue", "tasks", body=body) == {"tasks": []}
    assert len(stub.requests) == 2
    expected = json.dumps(body, separators=(",", ":")).encode()
    for r in stub.requests:
        assert r.method == "POST"
        assert r.body == expected
        assert b"\\u00e9" in r.body
        assert r.headers["content-type"] == "application/json"
        _verify_hawk(stub, r)


def test_500_exhausts_retries(stub: HTTPStub, sleeps: list[float]) -> None:
    body = error_body("InternalServerError", "boom (incidentId 1234)", "status")
    stub.script(*[Reply(500, body)] * 3)
    with closing(_transport(stub, max_retries=2)) as t, pytest.raises(InternalServerError) as info:
        t.request("queue", "status", taskId=TASK_ID)
    err = info.value
    assert isinstance(err, ServerError)
    assert len(stub.requests) == 3
    assert len(sleeps) == 2
    assert err.status == 500
    assert err.code == "InternalServerError"
    assert err.message == body["message"]
    assert err.request_info == body["requestInfo"]
    assert err.method == "GET"
    assert err.call == f"queue.status(taskId='{TASK_ID}')"
    assert str(err) == (
        f"queue.status(taskId='{TASK_ID}'): 500 InternalServerError: boom (incidentId 1234)"
    )


def test_default_max_retries_is_five(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(*[Reply(503)] * 6)
    t = Transport(stub.url)
    with closing(t), pytest.raises(ServerError) as info:
        t.request("queue", "ping")
    assert info.value.status == 503
    assert len(stub.requests) == 6
    assert len(sleeps) == 5
    # Anonymous: nothing is signed.
    assert all(r.authorization is None for r in stub.requests)


def test_dropped_connection_then_success(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(DROP, Reply(200, {"alive": True}))
    with closing(_transport(stub)) as t:
        assert t.request("queue", "ping") == {"alive": True}
    assert len(stub.requests) == 2
    assert _nonce(stub.requests[0]) != _nonce(stub.requests[1])
    assert len(sleeps) == 1


def test_all_dropped_raises_connection_failed(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(*[DROP] * 4)
    with closing(_transport(stub, max_retries=3)) as t, pytest.raises(ConnectionFailed) as info:
        t.request("queue", "status", taskId=TASK_ID)
    assert len(stub.requests) == 4
    assert len(sleeps) == 3
    err = info.value
    assert err.call == f"queue.status(taskId='{TASK_ID}')"
    assert err.method == "GET"
    assert err.url == f"{stub.url}/api/queue/v1/task/{TASK_ID}/status"
    assert str(err).startswith(f"queue.status(taskId='{TASK_ID}'): connection failed: ")


def test_refused_connection_raises_connection_failed(sleeps: list[float]) -> None:
    stub = HTTPStub()  # bound, never started, then closed: nothing listens
    url = stub.url
    stub._server.server_close()
    with closing(Transport(url, max_retries=2)) as t, pytest.raises(ConnectionFailed):
        t.request("queue", "ping")
    assert len(sleeps) == 2


def test_html_502_is_a_server_error_with_an_excerpt(stub: HTTPStub, sleeps: list[float]) -> None:
    html = (
        "<html><head><title>502 Bad Gateway</title></head>\n<body>"
        + "<p>upstream unavailable</p>\n" * 200
        + "</body></html>"
    )
    stub.script(*[Reply(502, html, {"Content-Type": "text/html"})] * 2)
    with closing(_transport(stub, max_retries=1)) as t, pytest.raises(ServerError) as info:
        t.request("queue", "ping")
    err = info.value
    assert type(err) is ServerError
    assert err.status == 502 and err.code is None and err.request_info is None
    text = str(err)
    assert text.startswith("queue.ping(): 502: <html><head><title>502 Bad Gateway")
    assert len(text) < 260
    assert "\n" not in text
    assert len(stub.requests) == 2


def test_429_retry_after_is_honoured(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(
        Reply(429, error_body("TooManyRequests", "slow down"), {"Retry-After": "1"}),
        Reply(200, {"alive": True}),
    )
    with closing(_transport(stub)) as t:
        assert t.request("queue", "ping") == {"alive": True}
    assert sleeps == [1.0]
    assert len(stub.requests) == 2


def test_503_retry_after_http_date_and_cap(stub: HTTPStub, sleeps: list[float]) -> None:
    later = email.utils.format_datetime(
        datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True
    )
    stub.script(Reply(503, headers={"Retry-After": later}), Reply(200, {"alive": True}))
    with closing(_transport(stub)) as t:
        assert t.request("queue", "ping") == {"alive": True}
    assert sleeps == [30.0]  # an hour, capped at 30 s


def test_429_exhausted_is_too_many_requests(stub: HTTPStub, sleeps: list[float]) -> None:
    stub.script(*[Reply(429, error_body("TooManyRequests", "slow down"))] * 2)
    with closing(_transport(stub, max_retries=1)) as t, pytest.raises(TooManyRequests) as info:
        t.request("queue", "ping")
    assert info.value.status == 429
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InputError", InputError),
        (401, "AuthenticationFailed", AuthenticationFailed),
        (403, "InsufficientScopes", InsufficientScopes),
        (404, "ResourceNotFound", NotFound),
        (409, "RequestConflict", RequestConflict),
        (410, "ResourceExpired", ResourceExpired),
    ],
)
def test_4xx_is_never_retried_and_mapped_by_code(
    stub: HTTPStub, sleeps: list[float], status: int, code: str, cls: type[APIError]
) -> None:
    body = error_body(code, f"it went wrong ({code})", "status")
    stub.script(Reply(status, body), Reply(200, {}))
    with closing(_transport(stub)) as t, pytest.raises(cls) as info:
        t.request("queue", "status", taskId=TASK_ID)
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.request_info) == (status, code, body["requestInfo"])
    assert err.message == body["message"]
    assert len(stub.requests) == 1
    assert sleeps == []
    assert str(err) == f"queue.status(taskId='{TASK_ID}'): {status} {code}: it went wrong ({code})"
    assert "---" not in str(err)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"message": "no code"}, BadRequest),
        (401, "", AuthenticationFailed),
        (403, "forbidden", InsufficientScopes),
        (404, {}, NotFound),
        (409, "<html>conflict</html>", RequestConflict),
        (410, b"", ResourceExpired),
        (418, "teapot", APIError),
    ],
)
def test_4xx_without_code_mapped_by_status(
    stub: HTTPStub, sleeps: list[float], status: int, body: Any, cls: type[APIError]
) -> None:
    stub.script(Reply(status, body), Reply(200, {}))
    with closing(_transport(stub)) as t, pytest.raises(cls) as info:
        t.request("queue", "task", taskId=TASK_ID)
    assert type(info.value) is cls
    assert info.value.status == status and info.value.code is None
    assert str(info.value).startswith(f"queue.task(taskId='{TASK_ID}'): {status}")
    assert len(stub.requests) == 1


def test_204_and_empty_body_give_none(stub: HTTPStub) -> None:
    stub.script(Reply(204), Reply(200, b""))
    with closing(_transport(stub)) as t:
        assert t.request("index", "deleteTask", namespace="a.b") is None
        assert t.request("queue", "ping") is None
    assert [r.method for r in stub.requests] == ["DELETE", "GET"]


def test_redirect_is_not_followed(stub: HTTPStub) -> None:
    target = {"storageType": "s3", "url": "https://bucket.example.net/a"}
    stub.script(Reply(303, target, {"Location": target["url"]}))
    with closing(_transport(stub)) as t:
        got = t.request("queue", "getArtifact", taskId=TASK_ID, runId=0, name="public/a")
    assert got == target
    assert len(stub.requests) == 1


# -- backoff --------------------------------------------------------------------------


def test_retry_delay_bounds_statistically() -> None:
    policy = RetryPolicy()
    rng_state = random.getstate()
    random.seed(20240131)
    try:
        for attempt in range(1, 12):
            nominal = 0.1 * 2 ** (attempt - 1)
            draws = [policy.delay(attempt) for _ in range(2000)]
            low, high = nominal * 0.75, nominal * 1.25
            assert all(min(low, 30.0) - 1e-9 <= d <= min(high, 30.0) + 1e-9 for d in draws)
            if high <= 30.0:
                # Spread over the whole ±25% band, centred on the nominal delay.
                assert min(draws) < nominal * 0.77
                assert max(draws) > nominal * 1.23
                assert abs(statistics.fmean(draws) / nominal - 1) < 0.02
            if low >= 30.0:
                assert set(draws) == {30.0}
        assert policy.delay(1000) == 30.0
    finally:
        random.setstate(rng_state)


def test_retry_policy_fields() -> None:
    assert RetryPolicy().max_retries == 5
    assert RetryPolicy().delay(1, retry_after=-3) == 0.0
    assert RetryPolicy(cap=5).delay(1, retry_after=60) == 5.0
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    assert [RetryPolicy.retryable_status(s) for s in (200, 400, 404, 429, 500, 599)] == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2 ") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    future = datetime.now(timezone.utc) + timedelta(seconds=120)
    value = parse_retry_after(email.utils.format_datetime(future, usegmt=True))
    assert value is not None and 100 <= value <= 121
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "wire"),
    [
        ("../../auth/v1/clients", "..%2F..%2Fauth%2Fv1%2Fclients"),
        ("a?x=1", "a%3Fx%3D1"),
        ("a#frag", "a%23frag"),
        ("a/b", "a%2Fb"),
        ("a b+c%2F", "a%20b%2Bc%252F"),
        ("..", "%2E%2E"),
        (".", "%2E"),
    ],
)
def test_path_params_cannot_change_the_path(stub: HTTPStub, task_id: str, wire: str) -> None:
    stub.script(Reply(200, {}))
    with closing(_transport(stub)) as t:
        t.request("queue", "status", taskId=task_id)
    assert stub.paths == [f"/api/queue/v1/task/{wire}/status"]
    _verify_hawk(stub, stub.requests[0])


def test_artifact_name_and_query_encoding(stub: HTTPStub) -> None:
    stub.script(Reply(200, {"artifacts": []}), Reply(200, {}))
    with closing(_transport(stub)) as t:
        t.request(
            "queue",
            "listArtifacts",
            taskId=TASK_ID,
            runId=0,
            query={"limit": 5, "continuationToken": "abc/def ghi"},
        )
        t.request("queue", "getArtifact", taskId=TASK_ID, runId=1, name="public/a b/c(1).txt")
    assert stub.paths == [
        f"/api/queue/v1/task/{TASK_ID}/runs/0/artifacts?limit=5&continuationToken=abc%2Fdef+ghi",
        f"/api/queue/v1/task/{TASK_ID}/runs/1/artifacts/public%2Fa%20b%2Fc%281%29.txt",
    ]
    for r in stub.requests:
        _verify_hawk(stub, r)


def test_unknown_query_key_fails_before_any_request(stub: HTTPStub) -> None:
    with closing(_transport(stub)) as t:
        with pytest.raises(ValueError, match="bogus"):
            t.request("queue", "listTaskGroup", taskGroupId=GROUP_ID, query={"bogus": 1})
        with pytest.raises(ValueError, match="limit"):
            t.request("queue", "status", taskId=TASK_ID, query={"limit": 1})
        with pytest.raises(TypeError, match="taskId"):
            t.request("queue", "status")
        with pytest.raises(ValueError, match=r"unknown API entry queue\.bogus"):
            t.request("queue", "bogus")
    assert stub.requests == []


# -- pagination ----------------------------------------------------------------------------


def _query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def _three_pages() -> list[Reply]:
    return [
        Reply(200, {"taskGroupId": GROUP_ID, "tasks": [1, 2], "continuationToken": "t/1"}),
        Reply(200, {"taskGroupId": GROUP_ID, "tasks": [3, 4], "continuationToken": "t2"}),
        Reply(200, {"taskGroupId": GROUP_ID, "tasks": [5]}),
    ]


def test_paginate_lazily_over_three_pages(stub: HTTPStub) -> None:
    stub.script(*_three_pages())
    call = Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID)
    with closing(_transport(stub)) as t:
        items = t.paginate(call, "tasks", page_size=2)
        assert stub.requests == []  # nothing until iterated
        assert next(items) == 1
        assert len(stub.requests) == 1
        assert next(items) == 2
        assert len(stub.requests) == 1
        assert list(items) == [3, 4, 5]
    assert len(stub.requests) == 3
    queries = [_query(p) for p in stub.paths]
    assert queries == [
        {"limit": ["2"]},
        {"limit": ["2"], "continuationToken": ["t/1"]},
        {"limit": ["2"], "continuationToken": ["t2"]},
    ]
    assert all(urlsplit(p).path == f"/api/queue/v1/task-group/{GROUP_ID}/list" for p in stub.paths)
    for r in stub.requests:
        _verify_hawk(stub, r)


def test_paginate_without_page_size_sends_no_limit(stub: HTTPStub) -> None:
    stub.script(*_three_pages())
    with closing(_transport(stub)) as t:
        got = list(t.paginate(Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID), "tasks"))
    assert got == [1, 2, 3, 4, 5]
    assert "limit" not in _query(stub.paths[0])


def test_paginate_max_items_stops_early(stub: HTTPStub) -> None:
    stub.script(*_three_pages())
    with closing(_transport(stub)) as t:
        call = Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID)
        assert list(t.paginate(call, "tasks", page_size=2, max_items=3)) == [1, 2, 3]
    assert len(stub.requests) == 2


def test_pages_expose_whole_bodies(stub: HTTPStub) -> None:
    from tcmodel.transport import Pager

    stub.script(*_three_pages())
    with closing(_transport(stub)) as t:
        pager = Pager(Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID), "tasks")
        pages = list(t.pages(pager))
    assert [p.items for p in pages] == [[1, 2], [3, 4], [5]]
    assert pages[0].body["continuationToken"] == "t/1"
    assert all(p.body["taskGroupId"] == GROUP_ID for p in pages)


def test_post_bulk_paging_resends_the_body(stub: HTTPStub) -> None:
    ids = [TASK_ID, GROUP_ID]
    stub.script(
        Reply(200, {"statuses": [{"taskId": TASK_ID}], "continuationToken": "n"}),
        Reply(200, {"statuses": [{"taskId": GROUP_ID}]}),
    )
    call = Call.of("queue", "statuses", body={"taskIds": ids})
    with closing(_transport(stub)) as t:
        got = list(t.paginate(call, "statuses", page_size=1))
    assert got == [{"taskId": TASK_ID}, {"taskId": GROUP_ID}]
    assert [r.method for r in stub.requests] == ["POST", "POST"]
    assert [json.loads(r.body) for r in stub.requests] == [{"taskIds": ids}] * 2
    assert [_query(p) for p in stub.paths] == [
        {"limit": ["1"]},
        {"limit": ["1"], "continuationToken": ["n"]},
    ]
    for r in stub.requests:
        _verify_hawk(stub, r)


def test_paging_error_is_raised_from_the_page(stub: HTTPStub) -> None:
    stub.script(
        Reply(200, {"tasks": [1], "continuationToken": "bad"}),
        Reply(400, error_body("InputError", "bad continuation token", "listTaskGroup")),
    )
    with closing(_transport(stub)) as t:
        items = t.paginate(Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID), "tasks")
        assert next(items) == 1
        with pytest.raises(InputError, match="bad continuation token"):
            next(items)


# -- async ------------------------------------------------------------------------------------


def test_async_retry_then_success(stub: HTTPStub) -> None:
    stub.script(Reply(503), Reply(200, {"alive": True}))

    async def main() -> Any:
        t = _transport(stub, retry=RetryPolicy(max_retries=2, base=0.001))
        try:
            return await t.arequest("queue", "ping")
        finally:
            await t.aclose()

    assert asyncio.run(main()) == {"alive": True}
    assert len(stub.requests) == 2
    assert _nonce(stub.requests[0]) != _nonce(stub.requests[1])
    for r in stub.requests:
        _verify_hawk(stub, r)


def test_async_errors_and_connection_failures(stub: HTTPStub) -> None:
    stub.script(Reply(404, error_body("ResourceNotFound", "nope")), DROP, DROP)

    async def main() -> None:
        t = _transport(stub, retry=RetryPolicy(max_retries=1, base=0.001))
        try:
            with pytest.raises(NotFound):
                await t.arequest("queue", "status", taskId=TASK_ID)
            with pytest.raises(ConnectionFailed):
                await t.arequest("queue", "ping")
        finally:
            await t.aclose()

    asyncio.run(main())
    assert len(stub.requests) == 3


def test_async_paginate(stub: HTTPStub) -> None:
    stub.script(*_three_pages())

    async def main() -> tuple[list[Any], int]:
        t = _transport(stub)
        try:
            call = Call.of("queue", "listTaskGroup", taskGroupId=GROUP_ID)
            items = t.apaginate(call, "tasks", page_size=2)
            first = await items.__anext__()
            after_first = len(stub.requests)
            rest = [x async for x in items]
            return [first, *rest], after_first
        finally:
            await t.aclose()

    items, after_first = asyncio.run(main())
    assert items == [1, 2, 3, 4, 5]
    assert after_first == 1
    assert len(stub.requests) == 3
    assert _query(stub.paths[2]) == {"limit": ["2"], "continuationToken": ["t2"]}


# -- user clients, cluster --------------------------------------------------------------------


def test_user_client_event_hook_sees_signed_requests(stub: HTTPStub) -> None:
    seen: list[httpx.Request] = []
    stub.script(Reply(200, {"alive": True}))
    with httpx.Client(event_hooks={"request": [seen.append]}) as client:
        with Cluster.from_url(stub.url, (CLIENT_ID, TOKEN), client=client) as cluster:
            assert cluster.ping() == {"alive": True}
        assert not client.is_closed  # the user's client stays open
    assert len(seen) == 1
    assert seen[0].headers["Authorization"].startswith("Hawk ")
    assert seen[0].headers["Authorization"] == stub.requests[0].authorization
    assert str(seen[0].url) == f"{stub.url}/api/queue/v1/ping"


def test_user_async_client_is_used(stub: HTTPStub) -> None:
    seen: list[httpx.Request] = []
    stub.script(Reply(200, {"alive": True}))

    async def hook(request: httpx.Request) -> None:
        seen.append(request)

    async def main() -> Any:
        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as client:
            t = _transport(stub, async_client=client)
            result = await t.arequest("queue", "ping")
            await t.aclose()
            assert not client.is_closed
            return result

    assert asyncio.run(main()) == {"alive": True}
    assert len(seen) == 1 and "Authorization" in seen[0].headers


def test_cluster_ping(stub: HTTPStub) -> None:
    stub.script(Reply(200, {"alive": True, "uptime": 1.5}))
    with Cluster.from_url(stub.url + "/") as cluster:
        assert cluster.ping() == {"alive": True, "uptime": 1.5}
    assert [(r.method, r.path) for r in stub.requests] == [("GET", "/api/queue/v1/ping")]
    assert stub.requests[0].authorization is None
    assert stub.requests[0].headers["user-agent"].startswith("tcmodel/")


def test_keep_alive_reuses_the_connection(stub: HTTPStub) -> None:
    ports: list[int] = []
    stub.script(*[Reply(200, {})] * 3)

    def hook(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        if stream is not None:
            ports.append(stream.get_extra_info("client_addr")[1])

    with httpx.Client(event_hooks={"response": [hook]}) as client:
        t = _transport(stub, client=client)
        for _ in range(3):
            t.request("queue", "ping")
    assert len(ports) == 3 and len(set(ports)) == 1


# -- review fixes: non-idempotent calls, unexpected answers, abandoned streams --


CLAIM = Call.of(
    "queue",
    "claimWork",
    taskQueueId="proj/ci",
    body={"workerGroup": "g", "workerId": "w", "tasks": 1},
)


def test_non_idempotent_call_is_not_resent_after_it_may_have_arrived(
    stub: HTTPStub, sleeps: list[float]
) -> None:
    stub.script(DROP, Reply(200, body={"tasks": []}))
    t = _transport(stub)
    with closing(t), pytest.raises(ConnectionFailed):
        t.run(t.call(CLAIM))
    assert len(stub.requests) == 1  # a second claimWork could claim a second run


def test_non_idempotent_call_is_not_resent_after_a_5xx_but_is_after_429(
    stub: HTTPStub, sleeps: list[float]
) -> None:
    stub.script(Reply(500, body=error_body("InternalServerError", "x", "claimWork")))
    t = _transport(stub)
    with pytest.raises(InternalServerError):
        t.run(t.call(CLAIM))
    assert len(stub.requests) == 1
    stub.script(Reply(429, headers={"Retry-After": "0"}), Reply(200, body={"tasks": []}))
    with closing(t):
        assert t.run(t.call(CLAIM)) == {"tasks": []}
    assert len(stub.requests) == 3


def test_unexpected_redirect_and_non_json_success_are_typed(stub: HTTPStub) -> None:
    stub.script(
        Reply(301, headers={"Location": "https://login.example.com/?sig=secret"}),
        Reply(200, body="<html>Please log in</html>", headers={"Content-Type": "text/html"}),
    )
    t = _transport(stub)
    call = Call.of("queue", "status", taskId="Dx4tPEtaRpeIeWpbTD0uHw")
    with closing(t):
        with pytest.raises(APIError) as redirect:
            t.run(t.call(call))
        with pytest.raises(APIError) as html:
            t.run(t.call(call))
    assert "unexpected redirect" in str(redirect.value) and "secret" not in str(redirect.value)
    assert str(redirect.value).startswith("queue.status(taskId='Dx4tPEtaRpeIeWpbTD0uHw'): 301")
    assert "expected JSON" in str(html.value) and "Please log in" in str(html.value)


def test_expected_redirect_returns_its_body_or_location(stub: HTTPStub) -> None:
    stub.script(Reply(303, headers={"Location": "http://127.0.0.1:9/blob"}))
    t = _transport(stub)
    call = Call.of("queue", "getArtifact", taskId="Dx4tPEtaRpeIeWpbTD0uHw", runId=0, name="a")
    with closing(t):
        assert t.run(t.call(call)) == {"url": "http://127.0.0.1:9/blob"}


def test_an_abandoned_stream_is_closed_by_the_driver(stub: HTTPStub) -> None:
    from tcmodel.transport import ReadChunk, Send

    stub.script(Reply(200, body=b"x" * 100_000))
    t = _transport(stub)
    seen: list[httpx.Response] = []

    def op() -> Any:
        response = yield Send(httpx.Request("GET", stub.url + "/blob"), stream=True)
        seen.append(response)
        yield ReadChunk(response)
        raise RuntimeError("the caller gave up")

    with closing(t), pytest.raises(RuntimeError):  # untyped ok: the op's own error
        t.run(op())
    assert seen[0].is_closed
