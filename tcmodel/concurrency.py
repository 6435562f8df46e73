"""Bounded concurrency: many independent requests at once, never more than
a bound.

Ingestion, triage and bulk downloads need many requests that do not depend
on each other: logs of failed tasks, artifact listings of runs, artifacts.
Sending them one after the other wastes the round trips; sending them all at
once opens as many connections and holds as many bodies in memory. These
helpers run them with at most ``concurrency`` in flight (32 by default:
:data:`~tcmodel.transport.DEFAULT_CONCURRENCY`, or the cluster's
``transport.concurrency``), return the results in the order of the inputs,
and raise the first error (the work not yet done is cancelled).

* :func:`gather_limited` awaits coroutines (``task.astatus()``, …) in async code;
* :func:`map_limited` calls a function on each item in threads, for sync code
  (it works inside Jupyter's running event loop too);
* :func:`run_ops` and :func:`arun_ops` drive *operations* (the generators
  every request path of tcmodel is, e.g. :func:`tcmodel.upload.upload_op`):
  the same work, in threads or as tasks of the event loop. Resources use them
  so that a sync method and its async twin share one operation
  (``group.failures()`` and ``await group.afailures()``).

Many statuses or definitions are cheaper still in bulk:
``cluster.tasks(ids)`` loads them with one request per 1000 tasks.

Example:
    >>> import asyncio
    >>> async def states() -> list[str]:
    ...     async with lc.connect() as c:
    ...         handles = [c.task(t.task_id) for t in tasks.values()]
    ...         statuses = await gather_limited((t.astatus() for t in handles), concurrency=4)
    ...         return sorted({s.state for s in statuses})
    >>> asyncio.run(states())
    ['completed', 'failed']
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, TypeVar

from tcmodel.progress import ProgressLike, reporter
from tcmodel.transport import DEFAULT_CONCURRENCY, Op

if TYPE_CHECKING:
    from tcmodel.transport import Transport

__all__ = ["DEFAULT_CONCURRENCY", "arun_ops", "gather_limited", "map_limited", "run_ops"]

T = TypeVar("T")
R = TypeVar("R")


def _bound(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    return concurrency


async def gather_limited(
    awaitables: Iterable[Awaitable[T]],
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressLike = False,
) -> list[T]:
    """Await every awaitable with at most ``concurrency`` running at once;
    their results in the same order. The first error is raised as it is
    (not in an exception group); the others still running are cancelled,
    and coroutines not started yet are closed. Works under asyncio and
    anyio. ``progress=True`` shows a bar (or give ``progress(done, total)``).

    Example:
        >>> import asyncio
        >>> running, most = 0, 0
        >>> async def job(n: int) -> int:
        ...     global running, most
        ...     running += 1
        ...     most = max(most, running)
        ...     await asyncio.sleep(0.01)
        ...     running -= 1
        ...     return n * n
        >>> asyncio.run(gather_limited((job(n) for n in range(10)), concurrency=3))
        [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
        >>> most
        3
    """
    import anyio

    limit = _bound(concurrency)
    pending = list(awaitables)
    results: list[Any] = [None] * len(pending)
    queue = iter(enumerate(pending))
    with reporter(progress, "awaiting", total=len(pending)) as report:
        done = 0

        async def worker() -> None:
            nonlocal done
            for index, awaitable in queue:  # shared: each worker takes the next one
                results[index] = await awaitable
                done += 1
                if report is not None:
                    report(done, len(pending))

        try:
            async with anyio.create_task_group() as group:
                for _ in range(min(limit, len(pending))):
                    group.start_soon(worker)
        except Exception as exc:
            raise _first_error(exc) from None
        finally:
            for _, unstarted in queue:
                _close(unstarted)
    return results


def _close(awaitable: Awaitable[Any]) -> None:
    """Close a coroutine that will never be awaited (no warning about it)."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()


def _first_error(error: BaseException) -> BaseException:
    """The first real error in an exception group (anyio's task groups
    wrap what their tasks raise), else ``error`` itself."""
    import anyio

    inner = getattr(error, "exceptions", None)
    if not isinstance(inner, tuple):
        return error
    cancelled = anyio.get_cancelled_exc_class()
    found = [_first_error(e) for e in inner]
    real = [e for e in found if not isinstance(e, cancelled)]
    return (real or found or [error])[0]


def map_limited(
    fn: Callable[[T], R],
    items: Iterable[T],
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressLike = False,
) -> list[R]:
    """``fn(item)`` for every item, in at most ``concurrency`` threads; the
    results in the items' order. The first error is raised once the calls
    already running end (the others are not started). tcmodel's sync
    client is shared safely by threads, and threads work inside a running
    event loop (Jupyter). ``progress=True`` shows a bar.

    Example:
        >>> arts = [build.latest_artifact(n) for n in
        ...         ("public/build/target.tar.gz", "public/logs/live_backing.log")]
        >>> [len(b) > 0 for b in map_limited(lambda a: a.read_bytes(), arts, concurrency=2)]
        [True, True]
    """
    limit = _bound(concurrency)
    work = list(items)
    if not work:
        return []
    results: dict[int, R] = {}
    with (
        reporter(progress, "running", total=len(work)) as report,
        ThreadPoolExecutor(max_workers=min(limit, len(work))) as pool,
    ):
        futures = {pool.submit(fn, item): i for i, item in enumerate(work)}
        for future in as_completed(futures):
            if future.exception() is not None:
                pool.shutdown(cancel_futures=True)  # the rest never starts
            results[futures[future]] = future.result()  # the first error is raised here
            if report is not None:
                report(len(results), len(work))
    return [results[i] for i in range(len(work))]


def run_ops(
    transport: Transport,
    ops: Iterable[Op[T]],
    concurrency: int | None = None,
    progress: ProgressLike = False,
) -> list[T]:
    """Drive every operation with the sync driver, at most ``concurrency``
    (by default ``transport.concurrency``) at once, in threads: the sync
    twin of :func:`arun_ops`, for the same operations.

    Example:
        >>> from tcmodel.transport import Call
        >>> calls = [Call.of("queue", "status", taskId=t.task_id) for t in tasks.values()]
        >>> statuses = run_ops(cluster.transport, [cluster.transport.call(c) for c in calls])
        >>> len(statuses), statuses[0]["status"]["taskId"] == calls[0].params["taskId"]
        (41, True)
    """
    limit = transport.concurrency if concurrency is None else concurrency
    return map_limited(transport.run, ops, limit, progress)


async def arun_ops(
    transport: Transport,
    ops: Iterable[Op[T]],
    concurrency: int | None = None,
    progress: ProgressLike = False,
) -> list[T]:
    """Drive every operation with the async driver, at most ``concurrency``
    (by default ``transport.concurrency``) at once; the results in the
    order of ``ops``. The async twin of :func:`run_ops`.

    Example:
        >>> import asyncio
        >>> from tcmodel.transport import Call
        >>> async def pings() -> list[Any]:
        ...     async with lc.connect() as c:
        ...         ops = [c.transport.call(Call.of("queue", "ping")) for _ in range(5)]
        ...         return await arun_ops(c.transport, ops, concurrency=2)
        >>> [p["alive"] for p in asyncio.run(pings())]
        [True, True, True, True, True]
    """
    limit = transport.concurrency if concurrency is None else concurrency
    return await gather_limited((transport.arun(op) for op in ops), limit, progress)
