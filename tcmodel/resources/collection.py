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
    >>> failed  # doctest: +ELLIPSIS
    <Listing queue.listTaskGroup(...) filter(state='failed') limit(10)>
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from tcmodel.errors import TaskclusterError
from tcmodel.transport import Call, Op, Page, Pager, Transport, map_op, parsing

if TYPE_CHECKING:
    from tcmodel.display.views import Printer

__all__ = ["Listing"]

T = TypeVar("T")


def _matches(item: Any, field: str, wanted: Any) -> bool:
    value = getattr(item, field)
    if isinstance(wanted, Collection) and not isinstance(wanted, str):
        return value in wanted
    return bool(value == wanted)


@attrs.frozen(repr=False, slots=False)  # a plain class: IPython can impersonate it on TAB
class Listing(Generic[T]):
    """A paged listing turned into tcmodel objects, lazily.

    Example:
        >>> import tcmodel
        >>> task = tcmodel.Cluster.from_url("https://tc.example.com").task(
        ...     "Dx4tPEtaRpeIeWpbTD0uHw")
        >>> task.dependents().page_size(100)
        <Listing queue.listDependentTasks(taskId='Dx4tPEtaRpeIeWpbTD0uHw') page_size(100)>
    """

    # Private fields (their ``__init__`` arguments drop the ``_``), so that
    # tab completion offers what a person does with a listing, not its parts.
    _transport: Transport = attrs.field(alias="transport")
    _call: Call = attrs.field(alias="call")
    _items_key: str = attrs.field(alias="items_key")
    _make: Callable[[Any], T] = attrs.field(alias="make")
    _on_page: Callable[[Page], None] | None = attrs.field(default=None, alias="on_page")
    _filters: tuple[tuple[str, Any], ...] = attrs.field(default=(), alias="filters")
    _predicates: tuple[Callable[[T], bool], ...] = attrs.field(default=(), alias="predicates")
    _max_items: int | None = attrs.field(default=None, alias="max_items")
    _size: int | None = attrs.field(default=None, alias="size")
    _item_type: type | None = attrs.field(default=None, alias="item_type")
    # The first page, fetched once for a notebook's display (see _first_page).
    _preview: list[_Preview[T]] = attrs.field(factory=list, init=False, eq=False)

    # chaining

    def filter(self, predicate: Callable[[T], bool] | None = None, /, **fields: Any) -> Listing[T]:
        """Keep items whose attributes equal the given values (or are in a
        given collection), and for which ``predicate`` is true.

        Example:
            >>> listed = cluster.task_group(group.task_group_id).tasks()
            >>> len(list(listed.filter(state=("failed", "exception"))))
            3
            >>> len(list(listed.filter(lambda t: t.name.startswith("lint-"))))
            5
        """
        if self._item_type is not None:
            unknown = [f for f in fields if not hasattr(self._item_type, f)]
            if unknown:
                raise ValueError(
                    f"{self._item_type.__name__} has no attribute {', '.join(map(repr, unknown))} "
                    "to filter on"
                )
        preds = self._predicates + ((predicate,) if predicate is not None else ())
        return attrs.evolve(self, filters=self._filters + tuple(fields.items()), predicates=preds)

    def limit(self, n: int) -> Listing[T]:
        """Stop after ``n`` items (after filtering); no page past them is fetched.

        Example:
            >>> len(list(cluster.task_group(group.task_group_id).tasks().limit(10)))
            10
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"limit must be a non-negative integer, not {n!r}")
        return attrs.evolve(self, max_items=n)

    def page_size(self, n: int) -> Listing[T]:
        """Ask for ``n`` items per request (the services cap it at 1000).

        Example:
            >>> len(list(cluster.task_group(group.task_group_id).tasks().page_size(20).pages()))
            3
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"page size must be a positive integer, not {n!r}")
        return attrs.evolve(self, size=n)

    # iteration

    def _keep(self, item: T) -> bool:
        return all(_matches(item, f, v) for f, v in self._filters) and all(
            p(item) for p in self._predicates
        )

    def _walk(self) -> _Walk[T]:
        # Without filters the item cap can go to the pager: it then stops
        # asking for pages itself, and asks for no more items than needed.
        # With filters it is applied as items pass.
        cap = None if (self._filters or self._predicates) else self._max_items
        size = self._size
        if cap is not None:
            size = min(size or cap, cap) or None
        return _Walk(self, Pager(self._call, self._items_key, size, cap), self._max_items)

    def pages(self) -> Iterator[list[T]]:
        """Yield one list of (filtered) items per request.

        Example:
            >>> listing = cluster.task_group(group.task_group_id).tasks().page_size(20)
            >>> [len(page) for page in listing.pages()]
            [20, 20, 1]
        """
        walk = self._walk()
        if walk.done():
            return
        for page in self._transport.pages(walk.pager):
            yield walk.take(page)
            if walk.done():
                return

    async def apages(self) -> AsyncIterator[list[T]]:
        """The async form of :meth:`pages` (same requests, async client).

        Example:
            >>> import asyncio
            >>> async def sizes() -> list[int]:
            ...     async with lc.connect() as c:
            ...         listing = c.task_group(group.task_group_id).tasks().page_size(20)
            ...         return [len(page) async for page in listing.apages()]
            >>> asyncio.run(sizes())
            [20, 20, 1]
        """
        walk = self._walk()
        if walk.done():
            return
        async for page in self._transport.apages(walk.pager):
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
        """The first item, or ``None`` (fetches as little as it can: the
        pages up to the first item that passes the filters).

        Example:
            >>> failed = cluster.task_group(group.task_group_id).tasks().filter(state="failed")
            >>> failed.first().state
            'failed'
        """
        return self._transport.run(self._first())

    async def afirst(self) -> T | None:
        """The async form of :meth:`first` (the same requests).

        Example:
            >>> import asyncio
            >>> async def main() -> str | None:
            ...     async with lc.connect() as c:
            ...         found = await c.task_group(group.task_group_id).tasks().filter(
            ...             state="failed").afirst()
            ...         return found.state if found is not None else None
            >>> asyncio.run(main())
            'failed'
        """
        return await self._transport.arun(self._first())

    async def alist(self) -> list[T]:
        """Every (filtered) item, all pages fetched with the async client
        (one request per page, as ``list(listing)``).

        Example:
            >>> import asyncio
            >>> async def main() -> list[str]:
            ...     async with lc.connect() as c:
            ...         failed = c.task_group(group.task_group_id).tasks().filter(state="failed")
            ...         return sorted(t.name for t in await failed.alist())
            >>> asyncio.run(main())
            ['lint-eslint', 'test-macosx64-opt-perf', 'test-win64-debug-ui']
        """
        return await self._transport.arun(self._all())

    def _all(self, first: bool = False) -> Op[list[T]]:
        """Every (filtered) item, or with ``first`` the items of the pages up
        to the first that gives one, as one operation (run by the sync and
        async drivers alike)."""
        walk = self._walk()
        items: list[T] = []
        while not (walk.done() or (first and items)):
            call = walk.pager.next_call()
            if call is None:
                break
            items += walk.take(walk.pager.accept((yield from self._transport.call(call))))
        return items

    def _first(self) -> Op[T | None]:
        return map_op(self._all(first=True), lambda items: items[0] if items else None)

    # tables

    def to_records(self) -> list[dict[str, Any]]:
        """Every item (all pages) as a flat dict of the columns people want
        (see :func:`tcmodel.display.records.records`); for tasks, the data
        came with the listing: no request beyond the pages.

        Example:
            >>> rows = cluster.task_group(group.task_group_id).tasks().to_records()
            >>> len(rows), sorted(rows[0])[:4]
            (41, ['dependencies', 'duration', 'name', 'resolved'])
        """
        from tcmodel.display.records import records

        return records(self)

    async def ato_records(self) -> list[dict[str, Any]]:
        """The async form of :meth:`to_records` (the items of a listing carry
        their data: no request beyond the pages).

        Example:
            >>> import asyncio
            >>> async def main() -> list[dict[str, Any]]:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).tasks().ato_records()
            >>> rows = asyncio.run(main())
            >>> len(rows), rows[0]["task_id"] in {t.task_id for t in tasks.values()}
            (41, True)
        """
        from tcmodel.display.records import records

        return records(await self.alist())

    def to_dataframe(self) -> Any:
        """Every item (all pages) as a ``pandas.DataFrame`` of
        :meth:`to_records`, with datetime, timedelta and categorical
        (state) dtypes. Needs pandas (the ``notebook`` extra).

        Example:
            >>> listing = cluster.task_group(group.task_group_id).tasks()
            >>> df = listing.filter(state="failed").to_dataframe()
            >>> sorted(df["name"]), str(df["state"].dtype)
            (['lint-eslint', 'test-macosx64-opt-perf', 'test-win64-debug-ui'], 'category')
        """
        return self._frame(self.to_records())

    async def ato_dataframe(self) -> Any:
        """The async form of :meth:`to_dataframe`.

        Example:
            >>> import asyncio
            >>> async def main() -> Any:
            ...     async with lc.connect() as c:
            ...         return await c.task_group(group.task_group_id).tasks().ato_dataframe()
            >>> asyncio.run(main()).shape[0]
            41
        """
        return self._frame(await self.ato_records())

    def _frame(self, rows: list[dict[str, Any]]) -> Any:
        from tcmodel.display.records import columns
        from tcmodel.display.tables import dataframe

        return dataframe(rows, columns(self._item_type))

    # notebook display: a preview of the first page (one request, kept)

    def _first_page(self) -> _Preview[T]:
        """The (filtered) items of the first page and whether more pages
        follow, fetched once per listing, so that every format of one
        display costs one request together."""
        if not self._preview:
            walk = self._walk()
            try:
                page = None if walk.done() else next(self._transport.pages(walk.pager), None)
            except TaskclusterError as err:
                self._preview.append(_Preview([], False, str(err)))
            else:
                items = walk.take(page) if page is not None else []
                more = not walk.done() and walk.pager.next_call() is not None
                self._preview.append(_Preview(items, more))
        return self._preview[0]

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import pretty

        pretty(self, p, cycle)

    def _repr_html_(self) -> str:
        from tcmodel.display.views import html

        return html(self)

    def __reduce__(self) -> Any:
        """A listing is a query with callbacks, not data: pickle its items.

        Example:
            >>> import pickle
            >>> pickle.dumps(group.tasks())
            Traceback (most recent call last):
            ...
            TypeError: a Listing cannot be pickled: pickle list(listing) (its items) instead
        """
        raise TypeError("a Listing cannot be pickled: pickle list(listing) (its items) instead")

    def __repr__(self) -> str:
        parts = [str(self._call)]
        parts += [f"filter({f}={v!r})" for f, v in self._filters]
        parts += ["filter(<predicate>)"] * len(self._predicates)
        if self._max_items is not None:
            parts.append(f"limit({self._max_items})")
        if self._size is not None:
            parts.append(f"page_size({self._size})")
        return f"<Listing {' '.join(parts)}>"


@attrs.frozen
class _Preview(Generic[T]):
    """The first page of a listing, as a notebook shows it."""

    items: list[T]
    more_pages: bool  # a continuationToken says more pages follow
    error: str | None = None  # the page could not be fetched


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
        if ls._on_page is not None:
            ls._on_page(page)
        make = ls._make
        with parsing(self.pager.call):  # an entry of the wrong shape names the call
            items = [make(item) for item in page.items]
        if ls._filters or ls._predicates:
            items = [obj for obj in items if ls._keep(obj)]
        if self.left is not None:
            items = items[: self.left]
            self.left -= len(items)
        return items
