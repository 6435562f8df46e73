"""Progress of long work: a tqdm bar (``tqdm.auto``, notebook-aware) or
your own callable.

Every ``progress=`` parameter of tcmodel takes the same values: ``False``
(or ``None``) for nothing, ``True`` for a tqdm bar (tqdm is the ``notebook``
extra; without it :class:`~tcmodel._extras.MissingExtra` names it), or a
callable ``progress(done, total)`` told how far the work is (``total`` is
``None`` while unknown). tqdm is imported only when a bar is made.

Example:
    >>> with reporter(lambda done, total: print(f"{done}/{total}"), "logs", total=2) as report:
    ...     report(1, 2)
    ...     report(2, 2)
    1/2
    2/2
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from tcmodel._extras import require
from tcmodel.transport import Page

__all__ = ["ProgressLike", "Report", "pages_reporter", "reporter"]

#: ``report(done, total)``: how far the work is; ``total`` is ``None`` while unknown.
Report = Callable[[int, "int | None"], None]
#: What a ``progress=`` parameter accepts.
ProgressLike = bool | Report | None


def _bar(desc: str, total: int | None, unit: str) -> Any:
    tqdm = require("tqdm.auto", "notebook").tqdm
    if unit == "B":
        return tqdm(desc=desc, total=total, unit="B", unit_scale=True, unit_divisor=1024)
    return tqdm(desc=desc, total=total, unit=unit)


def _advance(bar: Any) -> Report:
    def report(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return report


@contextmanager
def reporter(
    progress: ProgressLike, desc: str, *, total: int | None = None, unit: str = "it"
) -> Iterator[Report | None]:
    """The ``report(done, total)`` function for a ``progress=`` value, for
    the time of the ``with`` block: ``None`` when progress is off, the
    callable itself, or one that moves a new tqdm bar (``desc``, ``total``
    and ``unit``; ``"B"`` shows bytes), closed when the block ends.

    Example:
        >>> with reporter(False, "nothing") as report:
        ...     report is None
        True
        >>> with reporter(True, "downloading", unit="B") as report:
        ...     report(512, 1024)  # a tqdm bar on stderr
    """
    if progress is None or progress is False:
        yield None
    elif progress is True:
        bar = _bar(desc, total, unit)
        try:
            yield _advance(bar)
        finally:
            bar.close()
    elif callable(progress):
        yield progress
    else:
        raise TypeError(f"progress must be a bool or a callable(done, total), not {progress!r}")


class _PagesReporter:
    """Counts the items of a listing's pages: a bar opens on a walk's first
    page and closes on its last (each walk of a re-iterable listing gets
    its own)."""

    def __init__(self, progress: ProgressLike, desc: str) -> None:
        self._progress = progress
        self._desc = desc
        self._stack: ExitStack | None = None
        self._report: Report | None = None
        self._done = 0

    def _open(self) -> None:
        self._stack = ExitStack()
        cm: AbstractContextManager[Report | None] = reporter(self._progress, self._desc)
        self._report = self._stack.enter_context(cm)
        self._done = 0

    def __call__(self, page: Page) -> None:
        if self._stack is None:
            self._open()
        self._done += len(page.items)
        if self._report is not None:
            self._report(self._done, None)
        if not page.body.get("continuationToken") and self._stack is not None:
            self._stack.close()
            self._stack = None


def pages_reporter(progress: ProgressLike, desc: str) -> Callable[[Page], None] | None:
    """A listing's page hook that reports the items fetched so far (``None``
    when progress is off).

    Example:
        >>> hook = pages_reporter(lambda done, total: print(done, total), "tasks")
        >>> hook(Page({"tasks": [1, 2], "continuationToken": "t"}, [1, 2]))
        2 None
        >>> hook(Page({"tasks": [3]}, [3]))
        3 None
        >>> pages_reporter(False, "tasks") is None
        True
    """
    if progress is None or progress is False:
        return None
    return _PagesReporter(progress, desc)
