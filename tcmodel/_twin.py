"""Sync methods and their async twins that take many arguments declare
them once: on the operation both run (see the convention in
``docs/guide.md``, async).

Example:
    >>> from typing import Any
    >>> from tcmodel.transport import Op, Transport, op_result
    >>> class Greeter:
    ...     transport = Transport("https://tc.example.com")
    ...     def _greet_op(self, name: str, *, punctuation: str = "!") -> Op[str]:
    ...         return op_result(f"hello {name}{punctuation}")
    ...     @same_arguments(_greet_op)
    ...     def greet(self, *args: Any, **kwargs: Any) -> str:
    ...         return self.transport.run(self._greet_op(*args, **kwargs))
    >>> Greeter().greet("you", punctuation="?")
    'hello you?'
    >>> import inspect
    >>> inspect.signature(Greeter.greet)
    <Signature (self, name: 'str', *, punctuation: 'str' = '!') -> 'str'>
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

__all__ = ["same_arguments"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def same_arguments(
    model: Callable[Concatenate[S, P], object],
) -> Callable[[Callable[..., R]], Callable[Concatenate[S, P], R]]:
    """Give the decorated method (``*args, **kwargs``, handed on to
    ``model``) the arguments of ``model``, for type checkers, ``help()`` and
    completion; its own return type stays.

    Example:
        >>> from typing import Any
        >>> def model(self: object, n: int, *, twice: bool = False) -> None: ...
        >>> @same_arguments(model)
        ... def method(self: object, *args: Any, **kwargs: Any) -> int:
        ...     return 1
        >>> import inspect
        >>> str(inspect.signature(method))
        "(self: 'object', n: 'int', *, twice: 'bool' = False) -> 'int'"
    """

    def adopt(method: Callable[..., R]) -> Callable[Concatenate[S, P], R]:
        own = inspect.signature(method).return_annotation
        method.__signature__ = inspect.signature(model).replace(  # type: ignore[attr-defined]
            return_annotation=own
        )
        return method

    return adopt
