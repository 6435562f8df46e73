"""The purge-cache service: ask a worker pool's workers to drop a cache.

A purge request says "destroy the caches named ``cache_name`` that the
workers of ``worker_pool_id`` made before now"; workers read the requests
of their pool and purge before their next task.

Example:
    >>> import tcmodel
    >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> c.purge_requests("proj/ci")
    <Listing purge-cache.purgeRequests(workerPoolId='proj/ci')>
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tcmodel.models_services import PurgeRequest
from tcmodel.resources._dates import at
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op, Transport
from tcmodel.utils import to_json_date

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["purge_cache", "purge_requests"]


def _pool(worker_pool_id: str) -> str:
    if (
        not isinstance(worker_pool_id, str)
        or worker_pool_id.count("/") != 1
        or (not all(worker_pool_id.split("/")))
    ):
        raise ValueError(
            f"a worker pool id looks like 'provisioner/worker-type' (e.g. 'proj/ci'), "
            f"not {worker_pool_id!r}"
        )
    return worker_pool_id


def purge_cache(transport: Transport, worker_pool_id: str, cache_name: str) -> Op[None]:
    """Ask the workers of ``worker_pool_id`` to purge cache ``cache_name``
    (``purgeCache``; one request).

    Example:
        >>> t = cluster.transport
        >>> t.run(purge_cache(t, "doc/pool", "checkouts"))
        >>> [r.cache_name for r in cluster.purge_requests().filter(worker_pool_id="doc/pool")]
        ['checkouts']
    """
    if not isinstance(cache_name, str) or not cache_name:
        raise ValueError(f"cache_name must be a non-empty string, not {cache_name!r}")
    body = {"cacheName": cache_name}
    call = Call.of("purge-cache", "purgeCache", body=body, workerPoolId=_pool(worker_pool_id))
    yield from transport.call(call)


def purge_requests(
    cluster: Cluster, worker_pool_id: str | None = None, since: datetime | str | None = None
) -> Listing[PurgeRequest]:
    """The open purge requests: of one worker pool (``purgeRequests``, one
    request; the service may answer from a cache a few seconds old), or of
    all (``allPurgeRequests``, lazily paged); only those made at or after
    ``since`` (a datetime, an offset such as ``"-1 hour"`` or an ISO date)
    when it is given.

    Example:
        >>> cluster.purge_cache("doc/recent", "build-cache")
        >>> [r.cache_name for r in purge_requests(cluster, "doc/recent", since="-1 hour")]
        ['build-cache']
    """
    transport = cluster.transport
    start = at(transport, since) if since is not None else None
    if worker_pool_id is not None:
        query = {"since": to_json_date(start)} if start is not None else None
        call = Call.of(
            "purge-cache", "purgeRequests", query=query, workerPoolId=_pool(worker_pool_id)
        )
        return Listing(transport, call, "requests", PurgeRequest._from_json, item_type=PurgeRequest)
    listing = Listing(
        transport,
        Call.of("purge-cache", "allPurgeRequests"),
        "requests",
        PurgeRequest._from_json,
        item_type=PurgeRequest,
    )
    return listing if start is None else listing.filter(lambda r: r.before >= start)
