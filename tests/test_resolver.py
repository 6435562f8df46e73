"""Host names in the async pool: looked up once per ``Resolver.ttl`` for a
burst of connections, each address tried in turn, a dead one forgotten."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

import tcmodel
from tcmodel._connection import AsyncioConnection, Resolver
from tcmodel.testing import LocalCluster


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_burst_of_connections_to_a_host_name_looks_it_up_once(lc: LocalCluster) -> None:
    url = lc.root_url.replace("127.0.0.1", "localhost")

    async def main() -> tuple[list[int], int, int]:
        async with tcmodel.Cluster.from_url(url, lc.root_credentials) as c:
            c.transport.concurrency = 20
            before = lc.request_total
            answers = await asyncio.gather(
                *[c.transport.arequest("queue", "ping") for _ in range(20)]
            )
            pool = c.transport.async_client._transport._pool  # type: ignore[attr-defined]
            assert pool._resolver is not None
            return [len(a) for a in answers], pool._resolver.lookups, lc.request_total - before

    sizes, lookups, served = asyncio.run(main())
    assert len(sizes) == 20 and served == 20
    assert lookups == 1


def test_addresses_are_tried_in_turn_and_a_dead_host_is_looked_up_again(
    lc: LocalCluster,
) -> None:
    live = int(lc.root_url.rsplit(":", 1)[1])
    dead = _closed_port()

    async def main() -> tuple[int, bool, bool]:
        resolver = Resolver()
        loop = asyncio.get_running_loop()
        # the name "tc.test" answers a dead address first, then the cluster's
        known: asyncio.Future[list[tuple[str, int]]] = loop.create_future()
        known.set_result([("127.0.0.1", dead), ("127.0.0.1", live)])
        resolver._known[("tc.test", live)] = (loop.time() + 60, known)
        origin = (b"http", b"tc.test", live)
        connection = await AsyncioConnection.open(origin, keepalive_expiry=5.0, resolver=resolver)
        server = connection.get_extra_info("server_addr")[1]
        await connection.aclose()
        kept = ("tc.test", live) in resolver._known
        # every address dead: the name is forgotten, to be looked up again
        gone: asyncio.Future[list[tuple[str, int]]] = loop.create_future()
        gone.set_result([("127.0.0.1", dead)])
        resolver._known[("tc.test", live)] = (loop.time() + 60, gone)
        with pytest.raises(httpx.ConnectError):  # untyped ok: the pool's own layer
            await AsyncioConnection.open(origin, keepalive_expiry=5.0, resolver=resolver)
        return server, kept, ("tc.test", live) in resolver._known

    server, kept, still_known = asyncio.run(main())
    assert server == live
    assert kept and not still_known


def test_a_lookup_is_made_again_once_its_time_is_up() -> None:
    async def main() -> tuple[int, int]:
        fresh, stale = Resolver(), Resolver(ttl=0.0)
        for resolver in (fresh, stale):
            await resolver.addresses("localhost", 80)
            await asyncio.sleep(0.001)
            await resolver.addresses("localhost", 80)
        return fresh.lookups, stale.lookups

    assert asyncio.run(main()) == (1, 2)


def test_a_connection_refused_through_the_pool_is_a_typed_error() -> None:
    url = f"http://localhost:{_closed_port()}"

    async def main() -> None:
        async with tcmodel.Cluster.from_url(url, max_retries=0) as c:
            await c.transport.arequest("queue", "ping")

    with pytest.raises(tcmodel.errors.ConnectionFailed):
        asyncio.run(main())
