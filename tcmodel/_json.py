"""Decoding JSON answers: big ones with the cyclic garbage collector paused.

A listing page of 1000 tasks decodes into some 30,000 dicts and lists. Each
700 of them set off a collection, and every tenth of those scans the older
objects too — among them every task listed before, which a walk of a task
group keeps: the walk's CPU time then grows with what it has already read.
JSON makes no reference cycle, so nothing the collector could free is made
while it is paused; it runs again right after, once for the whole page.

Example:
    >>> loads(b'{"tasks": [1, 2]}')
    {'tasks': [1, 2]}
"""

from __future__ import annotations

import gc
import json
from typing import Any

__all__ = ["PAUSE_AT", "loads"]

#: Bodies at least this long (bytes) are decoded with the collector paused.
PAUSE_AT = 64 * 1024


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``, with the cyclic garbage collector paused while a
    body of :data:`PAUSE_AT` bytes or more is decoded (and left as it was
    when it was already off).

    Example:
        >>> import gc
        >>> loads(b"[" + b"1," * PAUSE_AT + b"1]")[-3:], gc.isenabled()
        ([1, 1, 1], True)
    """
    if len(data) < PAUSE_AT or not gc.isenabled():
        return json.loads(data)
    gc.disable()
    try:
        return json.loads(data)
    finally:
        gc.enable()
