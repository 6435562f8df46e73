"""Waiting in whatever event loop runs: asyncio's own timeouts where they
serve, anyio's elsewhere. Used by the transport's async driver, the async
pool and its connections (:mod:`tcmodel._pool`, :mod:`tcmodel._connection`).

Example:
    >>> import asyncio
    >>> async def main() -> tuple[bool, str]:
    ...     return asyncio_running(), await within(1.0, asyncio.sleep(0, "done"))
    >>> asyncio.run(main()), asyncio_running()
    ((True, 'done'), False)
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["asyncio_running", "within"]

T = TypeVar("T")


async def within(seconds: float | None, work: Awaitable[T]) -> T:
    """Await ``work``, cancelled after ``seconds`` with ``TimeoutError``
    (``None``: no limit): with asyncio's own timeout in an asyncio loop
    (Python 3.11+; anyio's costs twice as much), else with anyio's, which
    serves every async library.

    Example:
        >>> import asyncio
        >>> asyncio.run(within(1.0, asyncio.sleep(0, "done")))
        'done'
        >>> asyncio.run(within(0.01, asyncio.sleep(5)))
        Traceback (most recent call last):
        ...
        TimeoutError
    """
    if seconds is None:
        return await work
    if sys.version_info >= (3, 11) and asyncio_running():
        import asyncio

        async with asyncio.timeout(seconds):
            return await work
    import anyio

    with anyio.fail_after(seconds):
        return await work


def asyncio_running() -> bool:
    """Whether this thread runs an asyncio event loop (not asked of asyncio
    if it was never imported).

    Example:
        >>> asyncio_running()
        False
    """
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None
