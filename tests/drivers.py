"""The same test through tcmodel's sync API and through its async twins.

The ``driver`` fixture is parametrized ``sync``, ``asyncio`` and ``trio`` (the
last skipped when trio is not installed). A test written against it runs
unchanged in each mode:

* ``driver.call(obj, "status")`` reads ``obj.status`` (a property) or calls
  ``obj.status()`` (a method) in sync mode, and awaits ``obj.astatus()`` in
  the async modes (issue 11's convention: the twin is the name with an
  ``a`` in front, ``await_`` for ``wait``); arguments are passed on alike;
* ``driver.list(listing)`` is ``list(listing)`` or ``[x async for x in listing]``;
* ``driver.run(transport, op)`` is ``transport.run(op)`` or
  ``await transport.arun(op)``;
* ``driver.aio(fn)`` runs an async function in the mode's event loop (async
  modes only), for what has no sync counterpart.

The asyncio mode keeps one event loop for the whole test, in the test's own
thread (as a script's ``asyncio.run`` would), and shuts it down as
``asyncio.run`` does; trio runs in a background thread through an anyio
blocking portal, one trio run for the whole test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import keyword
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import pytest

from tcmodel.transport import Op, Transport

__all__ = ["MODES", "Driver", "driver"]

T = TypeVar("T")

_HAS_TRIO = importlib.util.find_spec("trio") is not None
#: The modes the ``driver`` fixture runs a test in.
MODES = [
    "sync",
    "asyncio",
    pytest.param("trio", marks=pytest.mark.skipif(not _HAS_TRIO, reason="trio is not installed")),
]


class Driver:
    """Runs calls the way ``mode`` says (see the module's docstring)."""

    def __init__(self, mode: str, runner: Callable[[Callable[[], Awaitable[Any]]], Any]) -> None:
        self.mode = mode
        self._runner = runner

    def __repr__(self) -> str:
        return f"<Driver {self.mode}>"

    @property
    def is_async(self) -> bool:
        """Whether calls go through the async twins."""
        return self.mode != "sync"

    def aio(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run the async function ``fn`` in this mode's event loop."""
        if not self.is_async:
            raise TypeError("the sync driver runs no async code")
        return self._runner(fn)  # type: ignore[no-any-return]

    def call(self, obj: Any, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """``obj.name`` or ``obj.name(*args, **kwargs)`` (sync), else
        ``await obj.aname(*args, **kwargs)``."""
        if not self.is_async:
            if isinstance(inspect.getattr_static(obj, name, None), property) and not (
                args or kwargs
            ):
                return getattr(obj, name)
            return getattr(obj, name)(*args, **kwargs)
        twin_name = "a" + name + ("_" if keyword.iskeyword("a" + name) else "")  # await_
        twin = getattr(obj, twin_name, None)
        if twin is None:
            raise AttributeError(f"{type(obj).__name__} has no async twin {twin_name}() of {name}")
        return self.aio(lambda: twin(*args, **kwargs))

    def list(self, items: Iterable[T] | AsyncIterable[T]) -> list[T]:
        """Every item of a listing, by ``for`` or by ``async for``."""
        if not self.is_async:
            assert isinstance(items, Iterable)
            return list(items)
        assert isinstance(items, AsyncIterable)

        async def collect() -> list[T]:
            return [item async for item in items]

        return self.aio(collect)

    def run(self, transport: Transport, op: Op[T]) -> T:
        """Drive one operation with the transport's sync or async driver."""
        if not self.is_async:
            return transport.run(op)
        return self.aio(lambda: transport.arun(op))


@contextlib.contextmanager
def _asyncio_runner() -> Iterator[Callable[[Callable[[], Awaitable[Any]]], Any]]:
    loop = asyncio.new_event_loop()

    async def call(fn: Callable[[], Awaitable[Any]]) -> Any:
        return await fn()

    try:
        yield lambda fn: loop.run_until_complete(call(fn))
    finally:  # what asyncio.run does at its end
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left))
        loop.run_until_complete(loop.shutdown_asyncgens())  # closes tcmodel's client
        loop.close()


@contextlib.contextmanager
def _trio_runner() -> Iterator[Callable[[Callable[[], Awaitable[Any]]], Any]]:
    from anyio.from_thread import start_blocking_portal

    async def call(fn: Callable[[], Awaitable[Any]]) -> Any:
        return await fn()

    with start_blocking_portal("trio") as portal:
        yield lambda fn: portal.call(call, fn)


@pytest.fixture(params=MODES)
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """A :class:`Driver` of each mode in turn."""
    mode: str = request.param
    if mode == "sync":
        yield Driver(mode, lambda fn: None)
        return
    runner = _asyncio_runner if mode == "asyncio" else _trio_runner
    with runner() as run:
        yield Driver(mode, run)
