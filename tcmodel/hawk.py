"""Hawk request signing for Taskcluster, as an ``httpx.Auth``.

:class:`HawkAuth` signs each request it is handed (a fresh ``ts`` and
``nonce`` every attempt) and serves sync and async httpx clients alike.
:func:`sign_url` makes bewit (pre-signed) GET URLs.

Example:
    >>> import httpx
    >>> from tcmodel.credentials import Credentials
    >>> auth = HawkAuth(Credentials("project/me", "token"))
    >>> req = httpx.Request("GET", "https://tc.example.com/api/queue/v1/ping")
    >>> next(auth.auth_flow(req)).headers["Authorization"].startswith("Hawk ")
    True
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import re
import time
from collections.abc import Callable, Generator, Sequence
from urllib.parse import urlsplit

import attrs
import httpx
import mohawk
import mohawk.base
import mohawk.bewit
import mohawk.util

from tcmodel import _logsafety
from tcmodel.credentials import Credentials

__all__ = ["HawkAuth", "make_ext", "sign_url"]

# Every request path signs through this module (the transport imports it):
# the filter that keeps secrets out of the logs of mohawk, httpx and
# friends is in place before anything can be signed, sent or logged.
_logsafety.install()


def make_ext(credentials: Credentials, authorized_scopes: Sequence[str] | None = None) -> str:
    """The Hawk ``ext`` that Taskcluster reads: URL-safe base64 of compact JSON
    with ``certificate`` (as an object) and ``authorizedScopes`` when given.
    Empty, it is ``e30=`` (``{}``), as the official Python client sends.

    Example:
        >>> make_ext(Credentials("a", "b"))
        'e30='
        >>> make_ext(Credentials("a", "b"), ["queue:status:*"])
        'eyJhdXRob3JpemVkU2NvcGVzIjpbInF1ZXVlOnN0YXR1czoqIl19'
    """
    ext: dict[str, object] = {}
    if credentials.certificate is not None:
        ext["certificate"] = credentials.certificate_data
    if authorized_scopes is not None:
        ext["authorizedScopes"] = list(authorized_scopes)
    raw = json.dumps(ext, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


# key="value" pairs of a Hawk WWW-Authenticate challenge
_CHALLENGE_ATTR = re.compile(r'(\w+)="([^"\\]*)"')


def _origin(url: str | httpx.URL) -> tuple[str, str, int]:
    u = url if isinstance(url, httpx.URL) else httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return (u.scheme, u.host, port)


@functools.lru_cache(maxsize=8)
def _payload_hash(body: bytes, content_type: str) -> str:
    """mohawk's Hawk payload hash (kept for the empty body every GET has)."""
    digest: bytes = mohawk.util.calculate_payload_hash(body, "sha256", content_type)
    return digest.decode("ascii")


@attrs.frozen
class _Signed:
    """What Hawk's MAC covers of one request, as mohawk reads it."""

    credentials: dict[str, str]
    timestamp: str
    nonce: str
    method: str
    name: str  # the path and query, as sent
    host: str
    port: str
    ext: str
    app: None = None
    dlg: None = None


class HawkAuth(httpx.Auth):
    """Sign requests with Hawk (mohawk), the way Taskcluster expects.

    The MAC covers the exact URL sent (path and query as httpx will put them
    on the wire) and the exact body bytes. With ``origin`` set, only requests
    to that origin are signed, so credentials never reach another host (an
    artifact bucket, say). A request that already carries a ``bewit`` is
    never signed (the services reject both at once).

    ``now`` and ``nonce`` are for tests that pin the clock and nonce.

    Example:
        >>> import httpx
        >>> auth = HawkAuth(Credentials("a", "b"), origin="https://tc.example.com")
        >>> other = httpx.Request("GET", "https://bucket.example.net/x")
        >>> "Authorization" in next(auth.auth_flow(other)).headers
        False
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: Credentials,
        authorized_scopes: Sequence[str] | None = None,
        *,
        origin: str | None = None,
        now: Callable[[], float] | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self._credentials = credentials
        self._ext = make_ext(credentials, authorized_scopes)
        self._origin = _origin(origin) if origin else None
        self._now = now
        self._nonce = nonce
        self._id = mohawk.util.prepare_header_val(credentials.client_id)
        mohawk.util.prepare_header_val(self._ext)
        self._mohawk_credentials = {
            "id": credentials.client_id,
            "key": credentials.access_token,
            "algorithm": "sha256",
        }

    def __repr__(self) -> str:
        return f"HawkAuth(client_id={self._credentials.client_id!r})"

    @property
    def client_id(self) -> str:
        """The client id requests are signed as.

        Example:
            >>> HawkAuth(Credentials("me", "token")).client_id
            'me'
        """
        return self._credentials.client_id

    def applies_to(self, url: httpx.URL) -> bool:
        """Whether a request to ``url`` gets signed.

        Example:
            >>> import httpx
            >>> a = HawkAuth(Credentials("a", "b"), origin="http://127.0.0.1:8000")
            >>> a.applies_to(httpx.URL("http://127.0.0.1:8000/api/queue/v1/ping"))
            True
            >>> a.applies_to(httpx.URL("http://127.0.0.1:8001/blobs/x"))
            False
        """
        if b"bewit" in url.query and "bewit" in url.params:
            return False
        return self._origin is None or _origin(url) == self._origin

    def authorization(self, method: str, url: httpx.URL, body: bytes, content_type: str) -> str:
        """The ``Authorization`` header value for one request.

        Example:
            >>> import httpx
            >>> h = HawkAuth(Credentials("a", "b")).authorization(
            ...     "GET", httpx.URL("https://tc.example.com/api/queue/v1/ping"), b"", "")
            >>> 'id="a"' in h
            True
        """
        # mohawk computes the hashes and the MAC; its Sender is not used, as
        # it formats debug output (pprint) for every request, logged or not.
        if body:
            content_hash = mohawk.util.calculate_payload_hash(body, "sha256", content_type)
            content_hash = content_hash.decode("ascii")
        else:
            content_hash = _payload_hash(b"", "")
        nonce = self._nonce() if self._nonce else mohawk.util.random_string(6).decode("ascii")
        resource = _Signed(
            credentials=self._mohawk_credentials,
            timestamp=str(int(self._now()) if self._now else mohawk.util.utc_now()),
            nonce=mohawk.util.prepare_header_val(nonce),
            method=method.upper(),
            name=url.raw_path.decode("ascii"),  # exactly what goes on the wire
            host=url.host,
            port=str(url.port or (443 if url.scheme == "https" else 80)),
            ext=self._ext,
        )
        mac = mohawk.util.calculate_mac("header", resource, content_hash).decode("ascii")
        return (
            f'Hawk mac="{mac}", hash="{content_hash}", id="{self._id}", '
            f'ts="{resource.timestamp}", nonce="{resource.nonce}", ext="{self._ext}"'
        )

    def server_time(self, challenge: str) -> float | None:
        """The server's time (Unix seconds) from a Hawk ``WWW-Authenticate``
        challenge that carries it, as Hawk servers answer a stale
        timestamp: ``ts`` with its MAC ``tsm``, which must verify with these
        credentials (so nobody else can set the clock); ``None`` otherwise
        (Taskcluster itself sends a bare ``hawk``).

        Example:
            >>> auth = HawkAuth(Credentials("a", "b"))
            >>> tsm = auth._ts_mac("1700000000")
            >>> auth.server_time(f'Hawk ts="1700000000", tsm="{tsm}", error="Stale timestamp"')
            1700000000.0
            >>> auth.server_time('Hawk ts="1700000000", tsm="forged", error="Stale timestamp"')
            >>> auth.server_time("hawk") is None
            True
        """
        found = dict(_CHALLENGE_ATTR.findall(challenge))
        ts, tsm = found.get("ts", ""), found.get("tsm", "")
        if not (ts.isascii() and ts.isdigit() and len(ts) <= 12 and tsm):
            return None
        return float(ts) if hmac.compare_digest(self._ts_mac(ts), tsm) else None

    def _ts_mac(self, ts: str) -> str:
        mac: bytes = mohawk.util.calculate_ts_mac(ts, self._mohawk_credentials)
        return mac.decode("ascii")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` (if it goes to our origin) and send it.

        Example:
            >>> import httpx
            >>> auth = HawkAuth(Credentials("a", "b"), origin="https://tc.example.com")
            >>> ping = httpx.Request("GET", "https://tc.example.com/api/queue/v1/ping")
            >>> next(auth.auth_flow(ping)).headers["Authorization"].startswith("Hawk ")
            True
        """
        if self.applies_to(request.url):
            request.headers["Authorization"] = self.authorization(
                request.method,
                request.url,
                request.content,
                request.headers.get("Content-Type", ""),
            )
        yield request


def sign_url(
    url: str,
    credentials: Credentials,
    *,
    expires_at: int | None = None,
    expires_in: float = 900,
    authorized_scopes: Sequence[str] | None = None,
) -> str:
    """Pre-sign a GET URL with a Hawk bewit.

    The URL then works without any header until ``expires_at`` (Unix seconds;
    default: ``expires_in`` seconds from now, 15 minutes). Temporary
    credentials carry their certificate in the bewit.

    Example:
        >>> u = sign_url("https://tc.example.com/api/queue/v1/task/x/artifacts/a",
        ...              Credentials("a", "b"), expires_at=1700000900)
        >>> "?bewit=" in u
        True
    """
    if "bewit=" in urlsplit(url).query:
        raise ValueError("the URL already carries a bewit")
    exp = int(expires_at) if expires_at is not None else int(time.time() + expires_in)
    parts = urlsplit(url)
    resource_path = parts.path + (f"?{parts.query}" if parts.query else "")
    resource = mohawk.base.Resource(
        credentials={
            "id": credentials.client_id,
            "key": credentials.access_token,
            "algorithm": "sha256",
        },
        method="GET",
        url=url,
        nonce="",
        timestamp=exp,
        ext=make_ext(credentials, authorized_scopes),
        content=None,
        content_type=None,
    )
    if resource.name != resource_path:  # pragma: no cover - mohawk parses as we do
        raise ValueError("cannot sign a URL whose path mohawk reads differently")
    bewit = mohawk.bewit.get_bewit(resource).rstrip("=")
    return f"{url}{'&' if parts.query else '?'}bewit={bewit}"
