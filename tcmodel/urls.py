"""Building Taskcluster URLs: ``{root_url}/api/{service}/v1/{route}``.

Every path parameter is percent-encoded (``/`` too), so no value can change
the path; the query keeps to the keys the API entry allows.

Example:
    >>> from tcmodel.api import endpoint
    >>> api_url("https://tc.example.com", endpoint("queue", "listArtifacts"),
    ...         {"taskId": "Dx4tPEtaRpeIeWpbTD0uHw", "runId": 0}, {"limit": 5})
    'https://tc.example.com/api/queue/v1/task/Dx4tPEtaRpeIeWpbTD0uHw/runs/0/artifacts?limit=5'
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import httpx

from tcmodel.api import Endpoint

__all__ = ["MAX_URL_LENGTH", "api_url", "check_url_part", "normalize_root_url", "origin_of"]

QueryValue = str | int
#: The longest URL httpx sends (it refuses longer ones).
MAX_URL_LENGTH = 65536


def normalize_root_url(root_url: str) -> str:
    """Check a root URL (scheme and host, no path) and drop a trailing ``/``.

    Raises ``ValueError`` for anything that is not an http(s) root URL httpx
    can use, and for a URL with a user name or password (``user:pw@host``),
    which no message repeats: Taskcluster authenticates with credentials.

    Example:
        >>> normalize_root_url("https://tc.example.com/")
        'https://tc.example.com'
        >>> normalize_root_url("https://me:s3cret@tc.example.com")
        Traceback (most recent call last):
        ...
        ValueError: root URL 'https://…@tc.example.com' must not hold a user name or password...
        >>> normalize_root_url("http://127.0.0.1:70000")
        Traceback (most recent call last):
        ...
        ValueError: root URL 'http://127.0.0.1:70000' is not a usable URL: Port out of range 0-65535
    """
    if not isinstance(root_url, str) or not root_url.strip():
        raise ValueError("the root URL is empty")
    url = root_url.strip().rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        shown = f"{parts.scheme}://…@{parts.netloc.rpartition('@')[2]}"
        raise ValueError(
            f"root URL {shown!r} must not hold a user name or password: "
            "pass Taskcluster credentials with credentials=..."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"root URL {root_url!r} is not an http(s) URL with a host")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f"root URL {root_url!r} must have no path, query or fragment")
    problem = _unusable(url)
    if problem:
        raise ValueError(f"root URL {root_url!r} is not a usable URL: {problem}")
    return url


def _unusable(url: str) -> str | None:
    """Why httpx would refuse ``url`` (``None`` if it would not); checked
    outside any ``except`` block, so no exception is chained."""
    try:
        httpx.URL(url)
        port = urlsplit(url).port  # ValueError beyond 65535
    except (httpx.InvalidURL, ValueError) as exc:
        return str(exc)
    return "port 0 is not a port" if port == 0 else None


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, the port written out.

    Example:
        >>> origin_of("https://tc.example.com/api")
        ('https', 'tc.example.com', 443)
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def api_url(
    root_url: str,
    endpoint: Endpoint,
    params: Mapping[str, QueryValue],
    query: Mapping[str, QueryValue] | None = None,
) -> str:
    """The full URL of one API call.

    Raises ``ValueError`` for a query key the entry does not take (the
    service would answer 400), for a URL longer than httpx sends
    (:data:`MAX_URL_LENGTH`: a name or namespace tens of kilobytes long),
    and ``TypeError`` for a missing parameter.

    Example:
        >>> from tcmodel.api import endpoint
        >>> api_url("https://tc", endpoint("queue", "status"), {"taskId": "a/../b"})
        'https://tc/api/queue/v1/task/a%2F..%2Fb/status'
        >>> api_url("https://tc", endpoint("index", "findTask"), {"indexPath": "a" * 70000})
        Traceback (most recent call last):
        ...
        ValueError: index.findTask: the URL would be 70,029 characters long, ...
    """
    url = f"{root_url}/api/{endpoint.service}/v1{endpoint.path(params)}"
    if query:
        unknown = sorted(set(query) - set(endpoint.query))
        if unknown:
            allowed = ", ".join(endpoint.query) or "none"
            raise ValueError(
                f"{endpoint} takes no query key {', '.join(map(repr, unknown))} "
                f"(allowed: {allowed})"
            )
        url += "?" + urlencode([(k, str(v)) for k, v in query.items()])
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(
            f"{endpoint}: the URL would be {len(url):,} characters long, more than the "
            f"{MAX_URL_LENGTH:,} httpx sends (is a name or namespace that long?)"
        )
    return url


#: Room left in a URL for the root URL, the route and a query.
_URL_ROOM = 2048


def check_url_part(what: str, value: str) -> str:
    """``value`` if, percent-encoded, it fits in a URL httpx sends; else
    ``ValueError`` (when a handle is made, before any request).

    Example:
        >>> check_url_part("artifact name", "public/x")
        'public/x'
        >>> check_url_part("artifact name", "public/" + "x" * 70000)
        Traceback (most recent call last):
        ...
        ValueError: artifact name is 70,009 characters long once encoded: ...
    """
    from tcmodel.api import quote_param

    size = len(quote_param(value))
    if size > MAX_URL_LENGTH - _URL_ROOM:
        raise ValueError(
            f"{what} is {size:,} characters long once encoded: no URL can carry more than "
            f"{MAX_URL_LENGTH - _URL_ROOM:,} of it"
        )
    return value
