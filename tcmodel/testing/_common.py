"""What several emulated services share, kept apart so that no service
imports another and the package's import graph stays acyclic.

The records a cluster stores (:class:`Client`, :class:`Blob`), the checks of
request bodies (:func:`checked_body`, :func:`checked_date`,
:func:`input_invalid`), paging with opaque tokens (:func:`page_of`), the
heap of due times behind every expiry (:class:`ExpiryQueue`) and the
Taskcluster error body (:func:`error_body`).

Example:
    >>> from tcmodel.api import endpoint
    >>> page_of("abc", Request(endpoint=endpoint("index", "listTasks")), "x", 2)[0]
    'ab'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs

from tcmodel.testing._core import ApiError, Request, iso, parse_iso

__all__ = [
    "Blob",
    "Client",
    "ExpiryQueue",
    "checked_body",
    "checked_date",
    "error_body",
    "input_invalid",
    "page_of",
]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


# -- records ---------------------------------------------------------------------


@attrs.define
class Client:
    """A registered client: id, secret access token and scopes, plus what
    auth's client API shows (times are cluster-clock seconds; ``None``
    for ``created`` means "when the cluster started").

    Example:
        >>> Client("me", "t0k3n", ("queue:*",)).scopes
        ('queue:*',)
    """

    client_id: str
    access_token: str = attrs.field(repr=False)
    scopes: tuple[str, ...] = ()
    expires: float | None = None
    description: str = ""
    created: float | None = None
    last_modified: float | None = None
    last_rotated: float | None = None
    delete_on_expiration: bool = False
    disabled: bool = False


@attrs.define
class Blob:
    """Bytes kept by the blob origin (the emulated S3 bucket).

    ``data`` is stored as sent; with ``content_encoding="gzip"`` it is the
    gzipped form and is served with that header, as S3 does. ``modified``
    (cluster-clock seconds, set by
    :meth:`BlobStore.put <tcmodel.testing.state.BlobStore.put>` when not
    given) is served as ``Last-Modified``; the ETag is the data's MD5, as S3's.

    Example:
        >>> Blob(b"hi", "text/plain").content_type
        'text/plain'
        >>> Blob(b"hi").etag
        '"49f68a5c8493ec2c0bf489821c21fc3b"'
    """

    data: bytes = attrs.field(repr=False)
    content_type: str = "application/binary"
    content_encoding: str | None = None
    modified: float | None = None

    @property
    def etag(self) -> str:
        """The strong ETag S3 gives a simple upload: the quoted MD5 of the data.

        Example:
            >>> Blob(b"").etag
            '"d41d8cd98f00b204e9800998ecf8427e"'
        """
        return '"' + hashlib.md5(self.data, usedforsecurity=False).hexdigest() + '"'


# -- request bodies, paging, expiry ------------------------------------------


class ExpiryQueue(Generic[K]):
    """Keys ordered by the time they fall due; stale pushes are the caller's
    to skip (a key pushed again with a later time also stays queued under the
    old one, so check the key's current expiry when it comes out).

    Example:
        >>> q: ExpiryQueue[str] = ExpiryQueue()
        >>> q.push(20.0, "b"); q.push(10.0, "a")
        >>> list(q.pop_due(15.0))
        ['a']
        >>> len(q)
        1
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, key: K) -> None:
        """Queue ``key`` to fall due at ``when`` (Unix seconds).

        Example:
            >>> q: ExpiryQueue[str] = ExpiryQueue()
            >>> q.push(1700000000.0, "a.b")
            >>> len(q)
            1
        """
        heapq.heappush(self._heap, (when, next(self._seq), key))

    def pop_due(self, now: float) -> Iterator[K]:
        """Remove and yield every key due at or before ``now``, soonest first.

        Example:
            >>> q: ExpiryQueue[str] = ExpiryQueue()
            >>> q.push(30.0, "c"); q.push(10.0, "a"); q.push(20.0, "b")
            >>> list(q.pop_due(25.0)), list(q.pop_due(25.0))
            (['a', 'b'], [])
        """
        while self._heap and self._heap[0][0] <= now:
            yield heapq.heappop(self._heap)[2]


def input_invalid(message: str) -> ApiError:
    """The 400 ``InputValidationError`` of a body that breaks its schema.

    Example:
        >>> input_invalid("rank must be a number").code
        'InputValidationError'
    """
    return ApiError(400, "InputValidationError", f"Input does not match the schema: {message}")


def _type_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind)


def checked_body(
    body: Any,
    fields: Mapping[str, type | tuple[type, ...]],
    required: Collection[str] = (),
) -> dict[str, Any]:
    """``body`` if it is a JSON object with only ``fields`` keys, each of its
    type (``True`` is no number), and every ``required`` key; else a 400
    ``InputValidationError``. ``None`` (no body) counts as ``{}``.

    Example:
        >>> checked_body({"rank": 1}, {"rank": (int, float)})
        {'rank': 1}
        >>> checked_body({"rank": True}, {"rank": (int, float)})
        Traceback (most recent call last):
        ...
        tcmodel.testing._core.ApiError: 400 InputValidationError: Input does not match the schema: `rank` has the wrong type
    """  # noqa: E501
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise input_invalid("the body must be a JSON object")
    for key, value in body.items():
        if key not in fields:
            raise input_invalid(f"unexpected property `{key}`")
        if not _type_ok(value, fields[key]):
            raise input_invalid(f"`{key}` has the wrong type")
    for key in required:
        if key not in body:
            raise input_invalid(f"`{key}` is required")
    return body


def checked_date(value: str, what: str = "expires") -> float:
    """Parse an ISO 8601 date of a request body into Unix seconds, or raise a
    400 ``InputValidationError``.

    Example:
        >>> checked_date("2030-01-01T00:00:00.000Z")
        1893456000.0
    """
    try:
        return parse_iso(value)
    except ValueError:
        raise input_invalid(f"`{what}` must be a date-time, not {value!r}") from None


def _token(offset: int, identity: str) -> str:
    raw = f"{offset}:{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _token_offset(token: str | None, identity: str) -> int:
    """The offset a token stands for (0 without one); a garbled token, or
    one from another listing, is a 400 ``InputError`` as the real offset
    tokens are (primer d)."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset = int(raw.split(":", 1)[0])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        offset = -1
    if offset < 0 or _token(offset, identity) != token:
        raise ApiError(400, "InputError", f"Invalid continuationToken: {token!r}")
    return offset


def page_of(
    items: Sequence[T], req: Request, identity: str, max_page_size: int
) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` for a request with the usual ``limit`` and
    ``continuationToken`` query keys, and the token of the next page.

    The page holds ``min(limit, max_page_size)`` items (``max_page_size``
    without a limit; ``limit=0`` gives an empty page and no token, as in
    the queue). Tokens are opaque offsets bound to ``identity`` (what is
    being listed); a garbled token or one from another listing is a 400
    ``InputError``, as the queue's offset tokens are.

    Example:
        >>> from tcmodel.api import endpoint
        >>> req = Request(endpoint=endpoint("index", "listTasks"), query={"limit": "2"})
        >>> page, token = page_of("abcde", req, "x", 1000)
        >>> page, token is not None
        ('ab', True)
        >>> req.query["continuationToken"] = token
        >>> page_of("abcde", req, "x", 1000)[0]
        'cd'
    """
    limit_text = req.query.get("limit", "")
    size = max_page_size
    if limit_text.isdigit():
        size = min(int(limit_text), max_page_size)
    start = _token_offset(req.query.get("continuationToken"), identity)
    if size == 0:
        return items[:0], None
    page = items[start : start + size]
    end = start + len(page)
    return page, (_token(end, identity) if end < len(items) else None)


# -- errors ----------------------------------------------------------------------


def error_body(
    entry: str,
    code: str,
    message: str,
    status: int,
    *,
    params: Mapping[str, Any] | None = None,
    payload: Any = None,
    now: float,
) -> dict[str, Any]:
    """A Taskcluster error body: ``code``, ``message`` with its footer and
    ``requestInfo``.

    Example:
        >>> b = error_body("task", "ResourceNotFound", "gone", 404, now=0)
        >>> b["message"].splitlines()[-2:]
        ['* statusCode: 404', '* time:       1970-01-01T00:00:00.000Z']
    """
    when = iso(now)
    footer = (
        f"\n\n---\n\n* method:     {entry}\n* errorCode:  {code}\n"
        f"* statusCode: {status}\n* time:       {when}"
    )
    return {
        "code": code,
        "message": message + footer,
        "requestInfo": {
            "method": entry,
            "params": dict(params or {}),
            "payload": {} if payload is None else payload,
            "time": when,
        },
    }
