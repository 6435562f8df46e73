"""The emulated purge-cache service of the local cluster.

A purge request says "destroy the caches named ``cacheName`` of the workers
of ``workerPoolId`` created before ``before``"; asking again for the same
pool and cache moves ``before`` to now. ``purgeCache`` answers 204 with no
body. As the real service does, ``purgeRequests`` keeps its answer for a
worker pool for :data:`CACHE_SECONDS` seconds (of the cluster clock), so a
request just made may not show there yet (``lc.advance(10)`` makes it
show); ``allPurgeRequests`` always answers from the current state.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> ClusterState().purge_cache.requests
    {}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tcmodel.testing._core import ApiError, Request, Response, Service, handles, iso, parse_iso
from tcmodel.testing.queue_model import paginate, with_token
from tcmodel.testing.queue_validate import obj, string, validate_body

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = ["CACHE_SECONDS", "PurgeCacheService"]

#: How long ``purgeRequests`` answers from its cache, per worker pool.
CACHE_SECONDS = 10.0

_PURGE = obj({"cacheName": string()}, required=("cacheName",))

PurgeKey = tuple[str, str]  # (workerPoolId, cacheName)


def _entry(worker_pool_id: str, cache_name: str, before: float) -> dict[str, Any]:
    prov, _, wtype = worker_pool_id.partition("/")
    return {
        "provisionerId": prov,
        "workerType": wtype,
        "cacheName": cache_name,
        "before": iso(before),
    }


class PurgeCacheService(Service):
    """The emulated purge-cache service.

    ``requests`` maps (workerPoolId, cacheName) to the ``before`` time
    (cluster-clock seconds) of the latest purge request.

    Example:
        >>> sorted(PurgeCacheService.handler_names())
        ['allPurgeRequests', 'purgeCache', 'purgeRequests']
    """

    name = "purge-cache"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self.requests: dict[PurgeKey, float] = {}
        # workerPoolId -> (cached until, the requests of that pool then)
        self._cached: dict[str, tuple[float, list[tuple[str, float]]]] = {}

    def _of_pool(self, worker_pool_id: str, now: float) -> list[tuple[str, float]]:
        """(cacheName, before) of one pool, as cached for a few seconds."""
        cached = self._cached.get(worker_pool_id)
        if cached is None or cached[0] <= now:
            rows = sorted((c, t) for (p, c), t in self.requests.items() if p == worker_pool_id)
            cached = self._cached[worker_pool_id] = (now + CACHE_SECONDS, rows)
        return cached[1]

    @handles("purgeCache")
    def _api_purge_cache(self, req: Request) -> Any:
        """``POST /purge-cache/<workerPoolId>``: ask the pool's workers to
        purge a cache; 204."""
        validate_body(_PURGE, req.body, "purge-cache-request.json")
        cache_name = req.body["cacheName"]
        req.authorize(cacheName=cache_name)
        self.requests[(req.params["workerPoolId"], cache_name)] = req.now
        return Response(204)

    @handles("allPurgeRequests")
    def _api_all_purge_requests(self, req: Request) -> Any:
        """``GET /purge-cache/list``: every open request, by pool and cache, paged."""
        rows = sorted(self.requests.items())
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        return with_token({"requests": [_entry(p, c, t) for (p, c), t in page]}, token)

    @handles("purgeRequests")
    def _api_purge_requests(self, req: Request) -> Any:
        """``GET /purge-cache/<workerPoolId>``: the pool's requests made at
        or after ``since`` (all without it)."""
        pool = req.params["workerPoolId"]
        since = _since(req.query.get("since"))
        rows = [(c, t) for c, t in self._of_pool(pool, req.now) if t >= since]
        return {"requests": [_entry(pool, c, t) for c, t in rows]}


def _since(value: str | None) -> float:
    if value is None:
        return float("-inf")
    try:
        return parse_iso(value)
    except ValueError:
        raise ApiError(
            400, "InvalidRequestArguments", f"Invalid request arguments: since {value!r}"
        ) from None
