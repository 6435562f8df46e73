"""Taskcluster credentials, and temporary credentials made from them.

Example:
    >>> creds = Credentials("project/me", "s3cr3t-t0k3n")
    >>> creds
    Credentials(client_id='project/me')
    >>> "s3cr3t" in repr(creds) or "s3cr3t" in str(creds)
    False
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

import attrs
import slugid

from tcmodel.errors import ConfigurationError

__all__ = ["Credentials", "CredentialsLike", "create_temporary_credentials"]

_MAX_SPAN = timedelta(days=31)
# The client ids Taskcluster's auth service accepts.
_CLIENT_ID = re.compile(r"[A-Za-z0-9!@/:.+|_-]+")
# Access tokens are HMAC keys taken as ASCII: printable, no space, '"' or '\'.
_TOKEN = re.compile(r"[!#-\[\]-~]+")


def _text(value: str | bytes) -> str:
    # Undecodable bytes become U+FFFD, which the checks then refuse: decoding
    # never raises, so no exception keeps the (secret) bytes.
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _certificate(value: str | bytes | Mapping[str, Any] | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"))
    return _text(value)


@attrs.frozen(repr=False)
class Credentials:
    """A Taskcluster client id and access token, with the certificate of
    temporary credentials when there is one.

    ``certificate`` is kept as the JSON *string* Taskcluster hands out. The
    repr and str show only the client id, never the token or certificate.
    A client id Taskcluster would not accept, or a token that is not
    printable ASCII (a pasted newline or quote), raises ``ValueError`` here
    rather than at the first request; no message shows the token. They are
    never pickled.

    Example:
        >>> Credentials("project/me", "token").is_temporary
        False
        >>> Credentials.coerce(("project/me", "token")).client_id
        'project/me'
        >>> Credentials("project/me", "token\\n")
        Traceback (most recent call last):
        ...
        ValueError: the access token of 'project/me' may hold only printable ASCII ...
    """

    client_id: str = attrs.field(converter=_text)
    access_token: str = attrs.field(converter=_text)
    certificate: str | None = attrs.field(default=None, converter=_certificate)

    def __attrs_post_init__(self) -> None:
        # No message shows the token or the certificate, and none is raised
        # while another exception (which could hold them) is being handled.
        if not isinstance(self.client_id, str) or not isinstance(self.access_token, str):
            raise TypeError("client_id and access_token must be str (or ASCII bytes)")
        if not self.client_id:
            raise ValueError("Credentials need a non-empty client_id")
        if not _CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(
                f"client_id {self.client_id!r} is not a Taskcluster client id "
                "(letters, digits and !@/:.+|_- only)"
            )
        if not self.access_token:
            raise ValueError(f"Credentials for {self.client_id!r} have an empty access_token")
        if not _TOKEN.fullmatch(self.access_token):
            raise ValueError(
                f"the access token of {self.client_id!r} may hold only printable ASCII "
                "other than space, '\"' and '\\' (a stray newline or quote?)"
            )
        if self.certificate is not None and not isinstance(_json_object(self.certificate), dict):
            raise ValueError(f"the certificate of {self.client_id!r} is not a JSON object")

    def __repr__(self) -> str:
        kind = ", temporary=True" if self.certificate else ""
        return f"Credentials(client_id={self.client_id!r}{kind})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        """Credentials are secret and never pickled (a pickled Cluster or
        handle leaves them out; see :meth:`tcmodel.Cluster.use_credentials`).

        Example:
            >>> import pickle
            >>> pickle.dumps(Credentials("project/me", "token"))
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: Credentials(client_id='project/me') are secret ...
        """
        raise ConfigurationError(
            f"{self!r} are secret and never pickled: give them to the other process "
            "another way (e.g. TASKCLUSTER_* variables and Cluster.from_env()), then "
            "cluster.use_credentials(...) on what you unpickled"
        )

    def __copy__(self) -> Credentials:
        return self  # an immutable value: copies are the same credentials

    def __deepcopy__(self, memo: dict[int, Any]) -> Credentials:
        return self

    @property
    def is_temporary(self) -> bool:
        """Whether these are temporary credentials (they carry a certificate).

        Example:
            >>> Credentials("a", "b").is_temporary
            False
        """
        return self.certificate is not None

    @property
    def certificate_data(self) -> dict[str, Any] | None:
        """The certificate parsed into a dict (``None`` for permanent ones).

        Example:
            >>> Credentials("a", "b").certificate_data is None
            True
        """
        if self.certificate is None:
            return None
        data: dict[str, Any] = json.loads(self.certificate)
        return data

    @property
    def expires(self) -> datetime | None:
        """When temporary credentials stop working (``None`` otherwise).

        Example:
            >>> Credentials("a", "b").expires is None
            True
        """
        cert = self.certificate_data
        if cert is None or "expiry" not in cert:
            return None
        return datetime.fromtimestamp(cert["expiry"] / 1000, tz=timezone.utc)

    @classmethod
    def coerce(cls, value: CredentialsLike | None) -> Credentials | None:
        """Accept the forms users have at hand.

        A :class:`Credentials`, a ``(client_id, access_token)`` tuple, or the
        official client's dict ``{"clientId", "accessToken", "certificate"?}``.
        ``None`` stays ``None``.

        Example:
            >>> Credentials.coerce({"clientId": "a", "accessToken": "b"})
            Credentials(client_id='a')
        """
        if value is None or isinstance(value, Credentials):
            return value
        if isinstance(value, tuple):
            if len(value) not in (2, 3):
                raise TypeError(
                    "credentials tuple must be (client_id, access_token[, certificate])"
                )
            return cls(*value)
        if isinstance(value, Mapping):
            missing = [k for k in ("clientId", "accessToken") if not value.get(k)]
            if missing:
                raise ValueError(f"credentials dict lacks {', '.join(missing)}")
            return cls(value["clientId"], value["accessToken"], value.get("certificate"))
        raise TypeError(
            "credentials must be Credentials, a (client_id, access_token) tuple or a dict "
            f"with clientId/accessToken, not {type(value).__name__}"
        )


CredentialsLike = Credentials | tuple[str, str] | tuple[str, str, str] | Mapping[str, Any]


def _json_object(text: str) -> Any:
    """``text`` parsed as JSON, or ``None`` when it is not JSON (and no
    exception holding ``text`` is left behind)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _utc(dt: datetime) -> datetime:
    # Naive datetimes are UTC, as in the official client (never local time).
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def create_temporary_credentials(
    issuer: CredentialsLike,
    scopes: Sequence[str],
    *,
    start: datetime | None = None,
    expiry: datetime | timedelta = timedelta(hours=1),
    name: str | None = None,
    seed: str | None = None,
) -> Credentials:
    """Make temporary credentials signed by ``issuer``'s access token.

    ``start`` defaults to now; ``expiry`` is a datetime or a duration after
    ``start`` (at most 31 days). Naive datetimes are taken as UTC. With
    ``name`` the credentials are *named* (their client id is ``name``; the
    issuer needs ``auth:create-client:<name>``). ``seed`` (44 characters)
    pins the otherwise random seed.

    Example:
        >>> issuer = Credentials("project/me", "token")
        >>> tmp = create_temporary_credentials(issuer, ["queue:get-artifact:private/*"])
        >>> tmp.client_id, tmp.is_temporary
        ('project/me', True)
    """
    base = Credentials.coerce(issuer)
    if base is None:
        raise TypeError("create_temporary_credentials needs issuer credentials")
    if base.is_temporary:
        raise ValueError("temporary credentials cannot issue temporary credentials")
    if isinstance(scopes, str):
        raise TypeError("scopes must be a sequence of strings, not a single string")
    scope_list = list(scopes)
    for s in scope_list:
        if not isinstance(s, str) or not all(" " <= c <= "~" for c in s):
            raise ValueError(f"invalid scope {s!r}: scopes are printable ASCII strings")
    begin = _utc(start) if start is not None else datetime.now(timezone.utc)
    end = begin + expiry if isinstance(expiry, timedelta) else _utc(expiry)
    if end <= begin:
        raise ValueError(f"expiry {end.isoformat()} is not after start {begin.isoformat()}")
    if end - begin > _MAX_SPAN:
        raise ValueError(f"temporary credentials may last at most 31 days, not {end - begin}")
    if name is not None and name == base.client_id:
        raise ValueError("named temporary credentials need a name other than the issuer's")
    seed = seed if seed is not None else slugid.nice() + slugid.nice()
    if len(seed) != 44:
        raise ValueError(f"seed must be 44 characters, not {len(seed)}")

    cert: dict[str, Any] = {
        "version": 1,
        "scopes": scope_list,
        "start": _ms(begin),
        "expiry": _ms(end),
        "seed": seed,
    }
    lines = ["version:1"]
    if name is not None:
        cert["issuer"] = base.client_id
        lines += [f"clientId:{name}", f"issuer:{base.client_id}"]
    lines += [
        f"seed:{seed}",
        f"start:{cert['start']}",
        f"expiry:{cert['expiry']}",
        "scopes:",
        *scope_list,
    ]
    key = base.access_token.encode("ascii")
    signature = hmac.new(key, "\n".join(lines).encode("ascii"), hashlib.sha256).digest()
    cert["signature"] = base64.b64encode(signature).decode("ascii")
    token = hmac.new(key, seed.encode("ascii"), hashlib.sha256).digest()
    access_token = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
    return Credentials(
        name if name is not None else base.client_id,
        access_token,
        json.dumps(cert, separators=(",", ":")),
    )
