"""Lazy, re-iterable, chainable listings over paged API calls.

A :class:`Listing` sends nothing until it is iterated; each page is fetched
only when the items before it are used up. ``filter``, ``limit`` and
``page_size`` return new listings; ``list(listing)`` materializes one. Nothing
is silently truncated: a listing ends only where the service's paging ends
or where ``limit`` says.

Example:
    >>> import tcmodel
    >>> group = tcmodel.Cluster.from_url("https://tc.example.com").task_group(
    ...     "XDqefRsvTG6ajX5vWks8LQ")
    >>> failed = group.tasks().filter(state="failed").limit(10)
    >>> failed.max_items, failed.filters
    (10, (('state', 'failed'),))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any, Generic, TypeVar

import attrs

from tcmodel.transport import Call, Page, Pager, Transport

__all__ = ["Listing"]

T = TypeVar("T")


def _matches(item: Any, field: str, wanted: Any) -> bool:
    value = getattr(item, field)
    if isinstance(wanted, Collection) and not isinstance(wanted, str):
        return value in wanted
    return bool(value == wanted)


@attrs.frozen(repr=False)
class Listing(Generic[T]):
    """A paged listing turned into tcmodel objects, lazily.

    Example:
        >>> import tcmodel
        >>> task = tcmodel.Cluster.from_url("https://tc.example.com").task(
        ...     "Dx4tPEtaRpeIeWpbTD0uHw")
        >>> task.dependents().page_size(100)
        <Listing queue.listDependentTasks(taskId='Dx4tPEtaRpeIeWpbTD0uHw') page_size(100)>
    """

    transport: Transport
    call: Call
    items_key: str
    make: Callable[[Any], T]
    on_page: Callable[[Page], None] | None = None
    filters: tuple[tuple[str, Any], ...] = ()
    predicates: tuple[Callable[[T], bool], ...] = ()
    max_items: int | None = None
    size: int | None = None
    item_type: type | None = None

    # chaining

    def filter(self, predicate: Callable[[T], bool] | None = None, /, **fields: Any) -> Listing[T]:
        """Keep items whose attributes equal the given values (or are in a
        given collection), and for which ``predicate`` is true.

        Example:
            >>> # group.tasks().filter(state=("failed", "exception"))
            >>> # group.tasks().filter(lambda t: t.name.startswith("test-"))
        """
        if self.item_type is not None:
            unknown = [f for f in fields if not hasattr(self.item_type, f)]
            if unknown:
                raise ValueError(
                    f"{self.item_type.__name__} has no attribute {', '.join(map(repr, unknown))} "
                    "to filter on"
                )
        preds = self.predicates + ((predicate,) if predicate is not None else ())
        return attrs.evolve(self, filters=self.filters + tuple(fields.items()), predicates=preds)

    def limit(self, n: int) -> Listing[T]:
        """Stop after ``n`` items (after filtering); no page past them is fetched.

        Example:
            >>> # first_ten = list(group.tasks().limit(10))
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"limit must be a non-negative integer, not {n!r}")
        return attrs.evolve(self, max_items=n)

    def page_size(self, n: int) -> Listing[T]:
        """Ask for ``n`` items per request (the services cap it at 1000).

        Example:
            >>> # group.tasks().page_size(200)
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"page size must be a positive integer, not {n!r}")
        return attrs.evolve(self, size=n)

    # iteration

    def _keep(self, item: T) -> bool:
        return all(_matches(item, f, v) for f, v in self.filters) and all(
            p(item) for p in self.predicates
        )

    def _walk(self) -> _Walk[T]:
        # Without filters the item cap can go to the pager: it then stops
        # asking for pages itself, and asks for no more items than needed.
        # With filters it is applied as items pass.
        cap = None if (self.filters or self.predicates) else self.max_items
        size = self.size
        if cap is not None:
            size = min(size or cap, cap) or None
        return _Walk(self, Pager(self.call, self.items_key, size, cap), self.max_items)

    def pages(self) -> Iterator[list[T]]:
        """Yield one list of (filtered) items per request.

        Example:
            >>> # for page in group.tasks().pages(): print(len(page))
        """
        walk = self._walk()
        if walk.done():
            return
        for page in self.transport.pages(walk.pager):
            yield walk.take(page)
            if walk.done():
                return

    async def apages(self) -> AsyncIterator[list[T]]:
        """The async form of :meth:`pages` (same requests, async client).

        Example:
            >>> # async for page in group.tasks().apages(): ...
        """
        walk = self._walk()
        if walk.done():
            return
        async for page in self.transport.apages(walk.pager):
            yield walk.take(page)
            if walk.done():
                return

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.apages():
            for item in page:
                yield item

    def first(self) -> T | None:
        """The first item, or ``None`` (fetches as little as it can).

        Example:
            >>> # group.tasks().filter(state="failed").first()
        """
        return next(iter(self), None)

    def __repr__(self) -> str:
        parts = [str(self.call)]
        parts += [f"filter({f}={v!r})" for f, v in self.filters]
        parts += ["filter(<predicate>)"] * len(self.predicates)
        if self.max_items is not None:
            parts.append(f"limit({self.max_items})")
        if self.size is not None:
            parts.append(f"page_size({self.size})")
        return f"<Listing {' '.join(parts)}>"


@attrs.define
class _Walk(Generic[T]):
    """One pass over a listing: turns pages into items, applying the
    listing's page hook, filters and limit (shared by sync and async)."""

    listing: Listing[T]
    pager: Pager
    left: int | None

    def done(self) -> bool:
        return self.left == 0

    def take(self, page: Page) -> list[T]:
        ls = self.listing
        if ls.on_page is not None:
            ls.on_page(page)
        items = [obj for obj in map(ls.make, page.items) if ls._keep(obj)]
        if self.left is not None:
            items = items[: self.left]
            self.left -= len(items)
        return items
