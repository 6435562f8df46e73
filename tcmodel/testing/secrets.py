"""The emulated secrets service of the local cluster.

A secret is a JSON object stored under a name, with an expiry. As the real
service answers: ``set`` and ``remove`` answer ``{}`` (``remove`` also when
the secret is already gone), ``get`` answers ``{secret, expires}`` and 404
``Secret not found`` for a missing *or expired* secret (the reference
mentions 410, the running service answers 404), and ``list`` pages through
the names of the unexpired secrets. Error bodies never echo a secret value
(``requestInfo.payload.secret`` is ``"(OMITTED)"``).

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState()
    >>> st.secrets.put("proj/ci/token", {"token": "s3cr3t"})
    >>> st.secrets.names()
    ['proj/ci/token']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from tcmodel.testing._common import page_of
from tcmodel.testing._core import ApiError, Request, Service, handles, iso, parse_iso
from tcmodel.testing.queue_model import with_token
from tcmodel.testing.queue_validate import date_time, obj, validate_body

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = ["Secret", "SecretsService"]

#: Lifetime of a secret put without ``expires`` (a year).
_DEFAULT_LIFETIME = 365 * 86400

_SECRET_BODY = obj(
    {"secret": obj(additional=True), "expires": date_time()}, required=("secret", "expires")
)


@attrs.define
class Secret:
    """A stored secret: its value (never in the repr) and its expiry
    (cluster-clock seconds).

    Example:
        >>> Secret({"pw": "hunter2"}, 1700000000.0)
        Secret(expires=1700000000.0)
    """

    value: dict[str, Any] = attrs.field(repr=False)
    expires: float


class SecretsService(Service):
    """The emulated secrets service: ``set``, ``get``, ``remove``, ``list``.

    Example:
        >>> sorted(SecretsService.handler_names())
        ['get', 'list', 'remove', 'set']
    """

    name = "secrets"
    omitted_fields: ClassVar[dict[str, tuple[str, ...]]] = {"set": ("secret",)}

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self._secrets: dict[str, Secret] = {}

    # -- for tests ----------------------------------------------------------

    def put(self, name: str, value: dict[str, Any], *, expires: float | None = None) -> None:
        """Store a secret directly (what ``set`` does), e.g. to seed a test;
        ``expires`` is cluster-clock seconds (default: a year from now).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.secrets.put("a", {"x": 1}, expires=st.clock.now() - 1)
            >>> st.secrets.names()  # expired: not listed
            []
        """
        when = self.cluster.clock.now() + _DEFAULT_LIFETIME if expires is None else expires
        self._secrets[name] = Secret(dict(value), when)

    def names(self) -> list[str]:
        """The names of the unexpired secrets, sorted.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().secrets.names()
            []
        """
        now = self.cluster.clock.now()
        return sorted(n for n, s in self._secrets.items() if s.expires > now)

    def _live(self, name: str, now: float) -> Secret:
        found = self._secrets.get(name)
        if found is None or found.expires <= now:
            raise ApiError(404, "ResourceNotFound", "Secret not found")
        return found

    # -- API ----------------------------------------------------------------

    @handles("set")
    def set_secret(self, req: Request) -> dict[str, Any]:
        """``PUT /secret/<name>``: create or replace; an expiry in the past
        is accepted (the secret then reads as missing).

        Example: ``PUT /api/secrets/v1/secret/proj%2Fci`` with
        ``{"secret": {"token": "…"}, "expires": "2030-01-01T00:00:00.000Z"}``
        """
        validate_body(_SECRET_BODY, req.body, "secret.json")
        expires = parse_iso(req.body["expires"])
        self.put(req.params["name"], req.body["secret"], expires=expires)
        return {}

    @handles("get")
    def get_secret(self, req: Request) -> dict[str, Any]:
        """``GET /secret/<name>``: ``{secret, expires}``; 404 when missing
        or expired.

        Example: ``GET /api/secrets/v1/secret/proj%2Fci``
        """
        found = self._live(req.params["name"], req.now)
        return {"secret": found.value, "expires": iso(found.expires)}

    @handles("remove")
    def remove_secret(self, req: Request) -> dict[str, Any]:
        """``DELETE /secret/<name>``: ``{}``, whether or not it existed.

        Example: ``DELETE /api/secrets/v1/secret/proj%2Fci``
        """
        self._secrets.pop(req.params["name"], None)
        return {}

    @handles("list")
    def list_secrets(self, req: Request) -> dict[str, Any]:
        """``GET /secrets``: the unexpired names, paged.

        Example: ``GET /api/secrets/v1/secrets?limit=10``
        """
        page, token = page_of(self.names(), req, "secrets", self.cluster.settings.max_page_size)
        return with_token({"secrets": list(page)}, token)
