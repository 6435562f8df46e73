"""Authentication for the local cluster, as the real auth service does it.

:class:`Authenticator` checks a Hawk ``Authorization`` header or a ``bewit``
query parameter against the clients of a
:class:`~tcmodel.testing.state.ClusterState`, validates temporary-credential
certificates and ``authorizedScopes`` carried in ``ext``, and returns an
:class:`Identity` whose scopes are expanded through the cluster's roles.
Every failure is a 401 ``AuthenticationFailed``
:class:`~tcmodel.testing._core.ApiError` with ``www-authenticate: hawk``;
no message ever contains a secret.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState()
    >>> st.roles["anonymous"] = ("queue:get-artifact:public/*",)
    >>> Authenticator(st).anonymous().scopes
    ('assume:anonymous', 'queue:get-artifact:public/*')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.scopes import ScopeSet
from tcmodel.testing._core import ApiError

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = [
    "CERT_MAX_SPAN_MS",
    "SKEW_SECONDS",
    "Authenticator",
    "Identity",
    "auth_failed",
    "host_port",
    "payload_hash",
]

#: Allowed distance between a Hawk header's ``ts`` and the cluster clock.
SKEW_SECONDS = 15 * 60
#: A certificate may start this far in the future / have expired this long ago.
_CERT_ALLOWANCE_MS = 5 * 60 * 1000
#: Longest lifetime of a temporary-credential certificate.
CERT_MAX_SPAN_MS = 31 * 24 * 3600 * 1000

_SCHEME = re.compile(r"^(\w+)(?:\s+(.*))?$", re.S)
_ATTR = re.compile(r'(\w+)="([^"\\]*)"\s*(?:,\s*|$)')
_ATTR_VALUE = re.compile(r"^[ \w!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~]*$")
_KNOWN_ATTRS = frozenset({"id", "ts", "nonce", "hash", "ext", "mac", "app", "dlg"})
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def auth_failed(reason: str) -> ApiError:
    """The 401 ``AuthenticationFailed`` error for ``reason``.

    Example:
        >>> e = auth_failed("Bad mac")
        >>> e.status, e.message, e.headers
        (401, 'Unauthorized: Bad mac', {'www-authenticate': 'hawk'})
    """
    return ApiError(
        401,
        "AuthenticationFailed",
        f"Unauthorized: {reason}",
        headers={"www-authenticate": "hawk"},
    )


def payload_hash(body: bytes, content_type: str) -> str:
    """The Hawk payload hash of ``body`` sent with ``content_type``.

    The type is lower-cased and stripped of ``;`` parameters first.

    Example:
        >>> payload_hash(b"", "")
        'B0weSUXsMcb5UhL41FZbrUJCAotzSI3HawE1NPLRUz8='
    """
    mime = content_type.split(";", 1)[0].strip().lower().encode()
    digest = hashlib.sha256(b"hawk.1.payload\n" + mime + b"\n" + body + b"\n").digest()
    return base64.b64encode(digest).decode()


def _mac(key: str, kind: str, parts: Sequence[str]) -> str:
    normalized = f"hawk.1.{kind}\n" + "".join(p + "\n" for p in parts)
    digest = hmac.new(key.encode(), normalized.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _b64decode(text: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def _hmac_b64(key: str, msg: str, *, urlsafe: bool = False) -> str:
    digest = hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()
    if urlsafe:
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return base64.b64encode(digest).decode()


@attrs.frozen
class Identity:
    """Who made a request and the role-expanded scopes they hold.

    ``client_id`` is ``None`` for anonymous requests.

    Example:
        >>> Identity(None, ("assume:anonymous",)).client_id is None
        True
    """

    client_id: str | None
    scopes: tuple[str, ...]


@attrs.frozen
class _Ext:
    """A decoded ``ext``: the certificate (if any) and authorizedScopes."""

    certificate: Mapping[str, Any] | None
    authorized_scopes: tuple[str, ...] | None


def _check_scope_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(s, str) and _PRINTABLE.match(s) for s in value
    ):
        raise auth_failed(f"{what} must be an array of printable-ASCII scopes")
    return tuple(value)


def _parse_ext(ext: str) -> _Ext:
    try:
        data = json.loads(_b64decode(ext))
    except (ValueError, binascii.Error):
        raise auth_failed("Failed to parse ext") from None
    if not isinstance(data, dict):
        raise auth_failed("ext must be a JSON object")
    cert = data.get("certificate")
    if cert is not None and not isinstance(cert, dict):
        raise auth_failed("ext.certificate must be a JSON object")
    authorized = data.get("authorizedScopes")
    scopes = None
    if authorized is not None:
        scopes = _check_scope_list(authorized, "ext.authorizedScopes")
    return _Ext(cert, scopes)


def _role_grants(scope: str, role_id: str) -> bool:
    """Whether holding ``scope`` lets one assume role ``role_id``."""
    target = "assume:" + role_id
    if scope == target:
        return True
    if scope.endswith("*") and target.startswith(scope[:-1]):
        return True
    return role_id.endswith("*") and scope.startswith("assume:" + role_id[:-1])


class Authenticator:
    """Checks Hawk headers and bewits against a cluster's clients and roles.

    Expanded scope sets and decoded ``ext`` values are cached; the caches
    are dropped whenever ``state.roles`` changes.

    Example:
        >>> from tcmodel.testing.state import ClusterState
        >>> st = ClusterState()
        >>> st.roles.update(anonymous=("queue:get-artifact:public/*",), ci=("queue:*",))
        >>> Authenticator(st).expand(["assume:ci"])
        ('assume:anonymous', 'assume:ci', 'queue:*', 'queue:get-artifact:public/*')
    """

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._roles_seen: tuple[tuple[str, tuple[str, ...]], ...] = ()
        self._expanded: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._exts: dict[str, _Ext] = {}

    # -- scopes -----------------------------------------------------------

    def expand(self, scopes: Iterable[str], *, anonymous: bool = True) -> tuple[str, ...]:
        """``scopes`` plus ``assume:anonymous`` (unless ``anonymous`` is
        false, as for auth's ``expandScopes``), expanded through the roles
        to a fixed point (sorted, without duplicates).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.roles.update({"a": ("assume:b",), "b": ("index:*",)})
            >>> expanded = Authenticator(st).expand(["assume:a"])
            >>> {"assume:anonymous", "assume:b", "index:*"} <= set(expanded)
            True
            >>> Authenticator(st).expand(["assume:a"], anonymous=False)
            ('assume:a', 'assume:b', 'index:*')
        """
        key = tuple(scopes) + (("assume:anonymous",) if anonymous else ())
        with self.state.lock:  # add_role may be changing the dict
            snapshot = tuple(self.state.roles.items())
        with self._lock:
            if snapshot != self._roles_seen:
                self._roles_seen = snapshot
                self._expanded.clear()
            cached = self._expanded.get(key)
            if cached is not None:
                return cached
        roles = dict(snapshot)
        result = set(key)
        todo = list(result)
        applied: set[str] = set()
        while todo:
            scope = todo.pop()
            for role_id, role_scopes in roles.items():
                if role_id not in applied and _role_grants(scope, role_id):
                    applied.add(role_id)
                    for s in role_scopes:
                        if s not in result:
                            result.add(s)
                            todo.append(s)
        expanded = tuple(sorted(result))
        with self._lock:
            if len(self._expanded) > 10_000:
                self._expanded.clear()
            self._expanded[key] = expanded
        return expanded

    def anonymous(self) -> Identity:
        """The identity of a request without credentials.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> who = Authenticator(ClusterState()).anonymous()
            >>> who.client_id, "assume:anonymous" in who.scopes
            (None, True)
        """
        return Identity(None, self.expand(()))

    @staticmethod
    def _satisfied(have: Sequence[str], need: Sequence[str]) -> bool:
        return ScopeSet.of(tuple(have)).satisfies_all(need)

    # -- ext and certificates --------------------------------------------

    def _ext(self, ext: str | None) -> _Ext:
        if not ext:
            return _Ext(None, None)
        with self._lock:
            cached = self._exts.get(ext)
        if cached is None:
            cached = _parse_ext(ext)
            with self._lock:
                if len(self._exts) > 10_000:
                    self._exts.clear()
                self._exts[ext] = cached
        return cached

    def _signing_key(self, client_id: str, ext: _Ext, now: float) -> tuple[str, tuple[str, ...]]:
        """The key the request must be signed with and the base scopes.

        Checks the certificate (if any) and the expiry of the client."""
        cert = ext.certificate
        issuer_id = client_id
        if cert is not None:
            if "issuer" in cert:
                issuer_id = cert["issuer"]
                if not isinstance(issuer_id, str) or issuer_id == client_id:
                    raise auth_failed(
                        "ext.certificate.issuer must be a string and differ from the clientId"
                    )
            elif "clientId" in cert:
                raise auth_failed("ext.certificate.clientId is only allowed with an issuer")
        client = self.state.clients.get(issuer_id)
        if client is None:
            raise auth_failed(f"Client {issuer_id!r} not found")
        if client.expires is not None and client.expires < now:
            raise auth_failed(f"Client {issuer_id!r} has expired")
        if client.disabled:
            raise auth_failed(f"Client {issuer_id!r} is disabled")
        if cert is None:
            return client.access_token, client.scopes
        named = client_id if "issuer" in cert else None
        scopes = self._check_certificate(cert, client.access_token, named, now)
        issuer_scopes = self.expand(client.scopes)
        if not self._satisfied(issuer_scopes, scopes):
            raise auth_failed(
                f"ext.certificate issuer {issuer_id!r} does not have the scopes it grants"
            )
        if named is not None and not self._satisfied(
            issuer_scopes, [f"auth:create-client:{named}"]
        ):
            raise auth_failed(
                f"ext.certificate issuer {issuer_id!r} lacks auth:create-client:{named}"
            )
        temp_token = _hmac_b64(client.access_token, cert["seed"], urlsafe=True)
        return temp_token, scopes

    @staticmethod
    def _check_certificate(
        cert: Mapping[str, Any], issuer_token: str, named: str | None, now: float
    ) -> tuple[str, ...]:
        if cert.get("version") != 1:
            raise auth_failed("ext.certificate.version must be 1")
        seed = cert.get("seed")
        if not isinstance(seed, str) or len(seed) != 44:
            raise auth_failed("ext.certificate.seed must be a string of 44 characters")
        start, expiry = cert.get("start"), cert.get("expiry")
        for name, value in (("start", start), ("expiry", expiry)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise auth_failed(f"ext.certificate.{name} must be an integer (ms)")
        assert isinstance(start, int) and isinstance(expiry, int)
        scopes = _check_scope_list(cert.get("scopes"), "ext.certificate.scopes")
        if expiry - start > CERT_MAX_SPAN_MS:
            raise auth_failed("ext.certificate cannot last longer than 31 days")
        now_ms = now * 1000
        if start > now_ms + _CERT_ALLOWANCE_MS:
            raise auth_failed("ext.certificate.start > now")
        if expiry < now_ms - _CERT_ALLOWANCE_MS:
            raise auth_failed("ext.certificate.expiry < now")
        lines = ["version:1"]
        if named is not None:
            lines += [f"clientId:{named}", f"issuer:{cert['issuer']}"]
        lines += [f"seed:{seed}", f"start:{start}", f"expiry:{expiry}", "scopes:", *scopes]
        signature = cert.get("signature")
        want = _hmac_b64(issuer_token, "\n".join(lines))
        if not isinstance(signature, str) or not hmac.compare_digest(want, signature):
            raise auth_failed("ext.certificate.signature is not valid")
        return scopes

    def _identity(self, client_id: str, base: tuple[str, ...], ext: _Ext) -> Identity:
        scopes = base
        if ext.authorized_scopes is not None:
            if not self._satisfied(self.expand(base), ext.authorized_scopes):
                raise auth_failed(
                    "Supplied credentials do not satisfy authorizedScopes; "
                    f"credentials have scopes {list(base)!r}; "
                    f"authorizedScopes are {list(ext.authorized_scopes)!r}"
                )
            scopes = ext.authorized_scopes
        return Identity(client_id, self.expand(scopes))

    # -- Hawk header -----------------------------------------------------

    @staticmethod
    def parse_header(header: str) -> dict[str, str]:
        """The attributes of a Hawk ``Authorization`` header.

        Example:
            >>> Authenticator.parse_header('Hawk id="a", ts="1", nonce="n", mac="m"')["id"]
            'a'
        """
        m = _SCHEME.match(header.strip())
        if m is None or m.group(1).lower() != "hawk":
            raise auth_failed("Bad header format")
        attrs_: dict[str, str] = {}
        rest = m.group(2) or ""
        consumed = 0
        for am in _ATTR.finditer(rest):
            if am.start() != consumed and rest[consumed : am.start()].strip():
                raise auth_failed("Bad header format")
            consumed = am.end()
            key, value = am.group(1), am.group(2)
            if key not in _KNOWN_ATTRS:
                raise auth_failed(f"Unknown attribute: {key}")
            if not _ATTR_VALUE.match(value):
                raise auth_failed(f"Bad attribute value: {key}")
            if key in attrs_:
                raise auth_failed(f"Duplicate attribute: {key}")
            attrs_[key] = value
        if rest[consumed:].strip():
            raise auth_failed("Bad header format")
        if not all(attrs_.get(k) for k in ("id", "ts", "nonce", "mac")):
            raise auth_failed("Missing attributes")
        return attrs_

    def authenticate(
        self,
        *,
        method: str,
        resource: str,
        host: str,
        port: int,
        authorization: str,
        content_type: str,
        body: bytes | None,
        now: float,
    ) -> Identity:
        """Check a Hawk ``Authorization`` header and return the identity.

        ``resource`` is the path and query exactly as sent; ``host`` and
        ``port`` are what the client signed (Host header, forwarded port).
        With ``body=None`` the payload hash is left to the caller (auth's
        ``authenticateHawk`` returns it instead of checking it).

        Example:
            >>> import httpx
            >>> from tcmodel.credentials import Credentials
            >>> from tcmodel.hawk import HawkAuth
            >>> from tcmodel.testing.state import Client, ClusterState
            >>> st = ClusterState()
            >>> st.clients["me"] = Client("me", "t0k3n", ("queue:*",))
            >>> header = HawkAuth(Credentials("me", "t0k3n"), now=lambda: 1700000000).authorization(
            ...     "GET", httpx.URL("http://127.0.0.1:8000/api/queue/v1/ping"), b"", "")
            >>> Authenticator(st).authenticate(method="GET", resource="/api/queue/v1/ping",
            ...     host="127.0.0.1", port=8000, authorization=header, content_type="", body=b"",
            ...     now=1700000000).client_id
            'me'
        """
        a = self.parse_header(authorization)
        ext = self._ext(a.get("ext"))
        key, base = self._signing_key(a["id"], ext, now)
        parts = [a["ts"], a["nonce"], method.upper(), resource, host.lower(), str(port)]
        parts += [a.get("hash", ""), a.get("ext", "").replace("\\", "\\\\").replace("\n", "\\n")]
        if "app" in a:
            parts += [a["app"], a.get("dlg", "")]
        if not hmac.compare_digest(_mac(key, "header", parts), a["mac"]):
            raise auth_failed("Bad mac")
        if (
            "hash" in a
            and body is not None
            and not hmac.compare_digest(payload_hash(body, content_type), a["hash"])
        ):
            raise auth_failed("Invalid payload hash")
        try:
            ts = int(a["ts"])
        except ValueError:
            raise auth_failed("Invalid timestamp") from None
        if abs(ts - now) > SKEW_SECONDS:
            raise auth_failed("Stale timestamp")
        return self._identity(a["id"], base, ext)

    # -- bewit -----------------------------------------------------------

    def authenticate_bewit(
        self, *, method: str, resource: str, host: str, port: int, bewit: str, now: float
    ) -> Identity:
        """Check a ``bewit`` (pre-signed URL) and return the identity.

        ``resource`` is the path and query as sent, without the bewit.

        Example:
            >>> import httpx
            >>> from tcmodel.credentials import Credentials
            >>> from tcmodel.hawk import sign_url
            >>> from tcmodel.testing.state import Client, ClusterState
            >>> st = ClusterState()
            >>> st.clients["me"] = Client("me", "t0k3n", ("queue:*",))
            >>> url = sign_url("http://127.0.0.1:8000/api/queue/v1/ping",
            ...                Credentials("me", "t0k3n"), expires_at=1700000900)
            >>> Authenticator(st).authenticate_bewit(method="GET", resource="/api/queue/v1/ping",
            ...     host="127.0.0.1", port=8000, bewit=httpx.URL(url).params["bewit"],
            ...     now=1700000000).client_id
            'me'
        """
        if method not in ("GET", "HEAD"):
            raise auth_failed("Invalid method")
        try:
            parts = _b64decode(bewit).decode().split("\\")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise auth_failed("Invalid bewit encoding") from None
        if len(parts) != 4 or not all(parts[:3]):
            raise auth_failed("Invalid bewit structure")
        client_id, exp, mac, ext_text = parts
        try:
            expiry = int(exp)
        except ValueError:
            raise auth_failed("Invalid bewit structure") from None
        if expiry <= now:
            raise auth_failed("Access expired")
        ext = self._ext(ext_text)
        key, base = self._signing_key(client_id, ext, now)
        escaped = ext_text.replace("\\", "\\\\").replace("\n", "\\n")
        want = _mac(key, "bewit", [exp, "", "GET", resource, host.lower(), str(port), "", escaped])
        if not hmac.compare_digest(want, mac):
            raise auth_failed("Bad mac")
        return self._identity(client_id, base, ext)

    # -- a whole request -------------------------------------------------

    def authenticate_request(
        self,
        *,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        now: float,
    ) -> Identity:
        """The identity of a request: its Hawk header, its ``bewit`` query
        parameter (never both), or anonymous without either.

        ``target`` is the path and query as sent; ``headers`` are keyed in
        lower case (``host``, ``authorization``, ``content-type``, and the
        ``x-forwarded-port``/``x-forwarded-proto`` a proxy adds).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> who = Authenticator(ClusterState()).authenticate_request(
            ...     method="GET", target="/api/queue/v1/ping", headers={"host": "127.0.0.1:8"},
            ...     body=b"", now=1700000000)
            >>> who.client_id is None
            True
        """
        bewit = _bewit_of(target)
        authorization = headers.get("authorization")
        if bewit is not None and authorization:
            raise auth_failed("a request cannot carry both an Authorization header and a bewit")
        if bewit is None and not authorization:
            return self.anonymous()
        host, port = host_port(headers)
        if bewit is not None:
            return self.authenticate_bewit(
                method=method,
                resource=_strip_bewit(target),
                host=host,
                port=port,
                bewit=bewit,
                now=now,
            )
        assert authorization is not None
        return self.authenticate(
            method=method,
            resource=target,
            host=host,
            port=port,
            authorization=authorization,
            content_type=headers.get("content-type", ""),
            body=body,
            now=now,
        )


def host_port(headers: Mapping[str, str]) -> tuple[str, int]:
    """The host and port a client signed: the ``Host`` header, with the
    port a proxy forwarded (``x-forwarded-port``, or 443 for
    ``x-forwarded-proto: https``) taking precedence.

    Example:
        >>> host_port({"host": "127.0.0.1:8080"})
        ('127.0.0.1', 8080)
        >>> host_port({"host": "tc", "x-forwarded-port": "443"})
        ('tc', 443)
    """
    host_header = headers.get("host", "")
    if host_header.startswith("["):
        host, _, rest = host_header[1:].partition("]")
        port_text = rest[1:]
    else:
        host, _, port_text = host_header.partition(":")
    forwarded = headers.get("x-forwarded-port")
    if forwarded and forwarded.isdigit():
        return host, int(forwarded)
    if headers.get("x-forwarded-proto", "").lower() == "https":
        return host, 443
    return host, int(port_text) if port_text.isdigit() else 80


def _bewit_of(target: str) -> str | None:
    """The (decoded) ``bewit`` query parameter of ``target``, if any."""
    from urllib.parse import parse_qsl

    query = target.partition("?")[2]
    return next((v for k, v in parse_qsl(query, keep_blank_values=True) if k == "bewit"), None)


def _strip_bewit(target: str) -> str:
    """``target`` (path and query) without its ``bewit`` parameter."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    rest = [p for p in query.split("&") if not p.startswith("bewit=")]
    return path + ("?" + "&".join(rest) if rest else "")
