"""A mixin for objects that are context managers calling ``close()`` on exit.

Example:
    >>> class Thing(Closing):
    ...     closed = False
    ...     def close(self) -> None:
    ...         self.closed = True
    >>> with Thing() as t:
    ...     pass
    >>> t.closed
    True
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closing"]

_T = TypeVar("_T", bound="Closing")


class Closing:
    """``with obj:`` returns ``obj`` and calls ``obj.close()`` at the end.

    Example:
        >>> class Pipe(Closing):
        ...     def close(self) -> None:
        ...         print("closed")
        >>> with Pipe():
        ...     pass
        closed
    """

    def close(self) -> None:
        """Release what the object holds (override).

        Example:
            >>> Closing().close()  # the base class holds nothing
        """

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
