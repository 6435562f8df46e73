"""What every resource handle shares: identity, repr, lazy loading.

A handle knows its cluster and its own ids; building one sends nothing.
Data is loaded on first read, once, through the cluster's transport, and
kept until the handle's ``refresh()`` (:meth:`Task.refresh
<tcmodel.resources.task.Task.refresh>`, ...).

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> task = cluster.task("Dx4tPEtaRpeIeWpbTD0uHw")
    >>> task
    <Task taskId='Dx4tPEtaRpeIeWpbTD0uHw'>
    >>> task == cluster.task("Dx4tPEtaRpeIeWpbTD0uHw"), task.loaded
    (True, False)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from tcmodel.errors import AsyncUsageError
from tcmodel.transport import Op, Transport, _running_loop

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.display.views import Printer

__all__ = ["Resource", "refuse_in_async_use", "run_sync"]

T = TypeVar("T")


class Resource:
    """Base class of the lazy handles (TaskGroup, Task, Run, Artifact, …).

    Subclasses list their identity in :meth:`_identity` (name/value pairs in
    Taskcluster's spelling, shown by ``repr``), may add loaded facts to the
    repr with :meth:`_loaded_facts`, and load data with :meth:`_cached`.

    Example:
        >>> import tcmodel
        >>> g = tcmodel.Cluster.from_url("https://tc.example.com").task_group(
        ...     "XDqefRsvTG6ajX5vWks8LQ")
        >>> hash(g) == hash(g.cluster.task_group("XDqefRsvTG6ajX5vWks8LQ"))
        True
    """

    #: What the handle is called in messages (``task.status is not loaded``).
    _noun: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("_noun"):
            cls._noun = cls.__name__.lower()

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    @property
    def cluster(self) -> Cluster:
        """The cluster this handle belongs to.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task_group(
            ...     "XDqefRsvTG6ajX5vWks8LQ").cluster
            <Cluster 'https://tc.example.com' anonymous>
        """
        return self._cluster

    @property
    def _transport(self) -> Transport:
        return self._cluster.transport

    def _run(self, op: Op[T]) -> T:
        """Run ``op`` with the sync driver. Inside an event loop this cluster
        is used from asynchronously, an operation that would send a request
        (or sleep) is refused: it would block the loop."""
        return run_sync(self._cluster.transport, op, self, self._noun)

    async def _arun(self, op: Op[T]) -> T:
        """Run ``op`` with the async driver (the twin of :meth:`_run`)."""
        return await self._cluster.transport.arun(op)

    # identity

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        raise NotImplementedError

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return ()

    def _label(self) -> str | None:
        """What a person calls the resource, when known without a request
        (a task's name): shown in the repr before the ids."""
        return None

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Resource)
            and other._cluster.root_url == self._cluster.root_url
            and other._identity() == self._identity()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._cluster.root_url, self._identity()))

    def __repr__(self) -> str:
        label = self._label()
        parts = [repr(label)] if label is not None else []
        parts += [f"{k}={v!r}" for k, v in (*self._identity(), *self._loaded_facts())]
        return f"<{type(self).__name__} {' '.join(parts)}>"

    # rich displays (IPython, Jupyter): built from loaded data only

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import pretty

        pretty(self, p, cycle)

    def _repr_html_(self) -> str:
        from tcmodel.display.views import html

        return html(self)

    # lazy data

    def _cached(self, attr: str, load: Callable[[], Op[T]], name: str | None = None) -> T:
        """The value kept in ``attr``, loaded with ``load()`` the first time.

        Inside an event loop this cluster is used from asynchronously,
        loading it raises :class:`~tcmodel.AsyncUsageError` saying what to
        await: ``{noun}.a{name}()``, ``name`` being the property's (by
        default, the name of the function calling this one)."""
        value = getattr(self, attr, None)  # (an attribute or a property)
        if value is not None:
            return value  # type: ignore[no-any-return]
        if _in_async_use(self._cluster.transport):
            what = name or sys._getframe(1).f_code.co_name
            raise AsyncUsageError(
                f"{self._noun}.{what} is not loaded: await {self._noun}.a{what}() first"
            )
        return self._run(self._cache_op(attr, load))

    async def _acached(self, attr: str, load: Callable[[], Op[T]]) -> T:
        """The async twin of :meth:`_cached` (the same operation)."""
        return await self._arun(self._cache_op(attr, load))

    def _cache_op(self, attr: str, load: Callable[[], Op[T]]) -> Op[T]:
        """The value kept in ``attr``, or ``load()`` run and kept there."""
        value = getattr(self, attr, None)
        if value is None:
            value = yield from load()
            setattr(self, attr, value)
        return cast(T, value)

    def _is_cached(self, attr: str) -> bool:
        return getattr(self, attr, None) is not None


def run_sync(
    transport: Transport, op: Op[T], owner: object, noun: str, *, also: Transport | None = None
) -> T:
    """Run ``op`` with ``transport``'s sync driver, for a sync method of
    ``owner`` (a handle, a claim, the cluster: ``noun`` in messages).

    Inside an event loop (asyncio's, or a trio run) this transport (or
    ``also``: a claim's parent cluster's) is used from asynchronously, an
    operation that would send a request (or sleep)
    is refused with :class:`~tcmodel.AsyncUsageError` naming the async twin
    to await: it would block the loop. One that needs nothing but memory
    runs.

    Example:
        >>> import asyncio
        >>> async def main() -> str:
        ...     async with lc.connect() as c:
        ...         await c.aping()
        ...         try:
        ...             c.ping()
        ...         except AsyncUsageError as exc:
        ...             return str(exc)
        ...         return "sent"
        >>> print(asyncio.run(main()))
        <Cluster ...>: a sync request ... would block it: await its async twin, cluster.aping(), ...
    """
    if not (_in_async_use(transport) or (also is not None and _in_async_use(also))):
        return transport.run(op)
    try:
        next(op)  # the first step, if any: nothing is sent yet
    except StopIteration as stop:
        return cast(T, stop.value)  # all it needed was in memory
    op.close()
    hint = "the method's async twin (the same name with an 'a' prefix)"
    name = _public_caller(owner)
    if name is not None and callable(getattr(owner, f"a{name}", None)):
        hint = f"its async twin, {noun}.a{name}(),"
    raise _blocking(owner, f"await {hint}")


def refuse_in_async_use(transport: Transport, owner: object, twin: str) -> None:
    """Refuse a sync method that does I/O of its own (not through an
    operation: following Pulse events) with :class:`~tcmodel.AsyncUsageError`
    when this thread runs an event loop ``transport`` is used from
    asynchronously, as :func:`run_sync` does; ``twin`` says what to use.

    Example:
        >>> import asyncio
        >>> async def main() -> str:
        ...     async with lc.connect() as c:
        ...         await c.aping()
        ...         try:
        ...             refuse_in_async_use(c.transport, c, "await c.anything()")
        ...         except AsyncUsageError as exc:
        ...             return str(exc)
        ...         return "allowed"
        >>> print(asyncio.run(main()))
        <Cluster ...>: a sync request ... would block it: await c.anything() instead
        >>> refuse_in_async_use(cluster.transport, cluster, "await c.anything()")
    """
    if _in_async_use(transport):
        raise _blocking(owner, twin)


def _blocking(owner: object, hint: str) -> AsyncUsageError:
    return AsyncUsageError(
        f"{owner!r}: a sync request inside the event loop this cluster is used "
        f"from asynchronously would block it: {hint} instead"
    )


def _public_caller(owner: object, depth: int = 6) -> str | None:
    """The name of the public method of ``owner`` the calling code runs in
    (past its private helpers), if any within ``depth`` frames."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return None
        name = frame.f_code.co_name
        if frame.f_locals.get("self") is owner and not name.startswith("_"):
            return name
        frame = frame.f_back
    return None


def _in_async_use(transport: Transport) -> bool:
    """Whether this thread runs an event loop ``transport`` has made async
    calls from (its async client of that loop exists)."""
    loop = _running_loop()
    return loop is not None and loop in transport._async_clients
