"""The auth service: clients, roles, and what the caller's scopes allow.

A :class:`Client` or :class:`Role` handle costs no request; its data loads
on first read. An access token is handed out once, by
:meth:`Client.create` and :meth:`Client.reset_token`, as
:class:`~tcmodel.Credentials`, whose repr never shows it.

Example:
    >>> import tcmodel
    >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> c.client("project/ci"), c.role("project:ci")
    (<Client clientId='project/ci'>, <Role roleId='project:ci'>)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel.api import ScopeExpression
from tcmodel.credentials import Credentials
from tcmodel.hawk import HawkAuth
from tcmodel.models_services import AwsCredentials, ClientInfo, RoleInfo
from tcmodel.resources._dates import json_date
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.scopes import satisfies_expression, scope_match, validate_scope
from tcmodel.transport import Call, Op, Transport

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = [
    "Client",
    "Role",
    "authenticate_as_tester",
    "aws_s3_credentials",
    "clients",
    "current_scopes",
    "expand_scopes",
    "roles",
    "satisfies",
]

#: The fixed client ``testAuthenticate`` accepts (its token is no secret).
TESTER = Credentials("tester", "no-secret")


def _scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, (str, bytes)):
        raise TypeError(f"scopes are a list of strings, not one string: {scopes!r}")
    return [validate_scope(s) for s in scopes]


def _id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, not {value!r}")
    return value


# --- scopes --------------------------------------------------------------------


def _scope_list(answer: Any) -> list[str]:
    return [validate_scope(s) for s in answer["scopes"]]


def current_scopes(transport: Transport) -> Op[list[str]]:
    """The caller's scopes, expanded through its roles (``currentScopes``;
    one request).

    Example:
        >>> cluster.transport.run(current_scopes(cluster.transport))
        ['*']
    """
    return transport.call(Call.of("auth", "currentScopes"), convert=_scope_list)


def expand_scopes(transport: Transport, scopes: Iterable[str]) -> Op[list[str]]:
    """``scopes`` expanded through the roles they assume (``expandScopes``).

    Example:
        >>> lc.add_role("doc:expand", ["queue:create-task:*"])
        >>> cluster.transport.run(expand_scopes(cluster.transport, ["assume:doc:expand"]))
        ['assume:doc:expand', 'queue:create-task:*']
    """
    call = Call.of("auth", "expandScopes", body={"scopes": _scopes(scopes)})
    return transport.call(call, convert=_scope_list)


#: What :func:`satisfies` checks: one scope, a list of alternatives each a
#: list of scopes all needed (``[["a", "b"], ["c"]]``), or a scope expression.
Required = str | Sequence[Sequence[str]] | Mapping[str, Any]


def satisfies(transport: Transport, required: Required) -> Op[bool]:
    """Whether the caller's expanded scopes satisfy ``required`` (one
    ``currentScopes`` request; the check itself is local).

    Example:
        >>> cluster.transport.run(satisfies(cluster.transport, [["queue:create-task:x"]]))
        True
    """
    if not isinstance(required, (str, Mapping)) and any(isinstance(a, str) for a in required):
        raise TypeError(
            "required scopes are one scope, a list of alternatives each a list of scopes "
            '([["a", "b"], ["c"]]), or a scope expression; not a flat list of scopes'
        )
    held = yield from current_scopes(transport)
    if isinstance(required, str):
        return scope_match(held, [[required]])
    if isinstance(required, Mapping):
        expression: ScopeExpression = dict(required)
        return satisfies_expression(held, expression)
    return scope_match(held, [list(alternative) for alternative in required])


def authenticate_as_tester(
    transport: Transport,
    client_scopes: Iterable[str],
    required_scopes: Iterable[str],
    authorized_scopes: Iterable[str] | None = None,
) -> Op[list[str]]:
    """Check how the service authorizes a request (``testAuthenticate``):
    signed as the fixed ``tester`` client holding ``client_scopes``,
    narrowed to ``authorized_scopes``, needing ``required_scopes``; the
    scopes the request had, or :class:`~tcmodel.InsufficientScopes`.

    Example:
        >>> t = cluster.transport
        >>> t.run(authenticate_as_tester(t, ["test:*"], ["test:a"], authorized_scopes=["test:a"]))
        ['assume:anonymous', 'test:a']
    """
    body = {"clientScopes": _scopes(client_scopes), "requiredScopes": _scopes(required_scopes)}
    narrowed = _scopes(authorized_scopes) if authorized_scopes is not None else None
    auth = HawkAuth(TESTER, narrowed, origin=transport.root_url, now=transport.now)
    call = Call.of("auth", "testAuthenticate", body=body)
    return transport.call(call, auth=auth, convert=_scope_list)


def aws_s3_credentials(
    transport: Transport, bucket: str, prefix: str, level: str = "read-only"
) -> Op[AwsCredentials]:
    """Temporary AWS credentials for ``bucket``/``prefix`` at ``level``
    (``read-only`` or ``read-write``; ``awsS3Credentials``).

    Example:
        >>> t = cluster.transport
        >>> t.run(aws_s3_credentials(t, "my-bucket", "proj/"))  # no bucket configured here
        Traceback (most recent call last):
        ...
        tcmodel.errors.NotFound: auth.awsS3Credentials(level='read-only', ...): 404 ...
    """
    if level not in ("read-only", "read-write"):
        raise ValueError(f"level must be 'read-only' or 'read-write', not {level!r}")
    call = Call.of("auth", "awsS3Credentials", level=level, bucket=bucket, prefix=prefix)
    return transport.call(call, convert=_aws)


def _aws(answer: Any) -> AwsCredentials:
    keys = answer["credentials"]
    if not isinstance(keys, Mapping):
        raise TypeError("the credentials are not a JSON object")
    return AwsCredentials._from_json({**keys, "expires": answer["expires"]})


# --- clients -------------------------------------------------------------------


def _client_info(answer: Any) -> ClientInfo:
    """The client an answer describes; an access token in it is not kept."""
    if not isinstance(answer, Mapping):
        raise TypeError("the client is not a JSON object")
    return ClientInfo._from_json({k: v for k, v in answer.items() if k != "accessToken"})


def _issued(answer: Any) -> tuple[ClientInfo, str]:
    """The client and the access token an answer hands out (no message
    shows the token)."""
    info = _client_info(answer)
    token = answer.get("accessToken")
    if not isinstance(token, str):
        raise TypeError("the answer holds no accessToken string")
    return info, token


class Client(Resource):
    """A client of the auth service, by id: read (lazily), create,
    update, enable/disable, delete, reset its access token.

    Example:
        >>> ci = cluster.client("doc/client")
        >>> creds = ci.create(scopes=["queue:status:*"], description="docs")
        >>> creds  # the token is in creds.access_token, never in a repr
        Credentials(client_id='doc/client')
        >>> ci.scopes, ci.disabled
        (('queue:status:*',), False)
        >>> ci.delete()
    """

    def __init__(self, cluster: Cluster, client_id: str, *, info: ClientInfo | None = None):
        super().__init__(cluster)
        self._client_id = _id(client_id, "clientId")
        self._info = info

    @property
    def client_id(self) -> str:
        """The client's id (its identity; read-only).

        Example:
            >>> cluster.client("project/ci").client_id
            'project/ci'
        """
        return self._client_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("clientId", self.client_id),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return (("disabled", True),) if self._info is not None and self._info.disabled else ()

    @property
    def ui_url(self) -> str:
        """The client's page in the web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").client("proj/ci").ui_url
            'https://tc.example.com/auth/clients/proj%2Fci'
        """
        return self.cluster._ui_url("auth", "clients", self.client_id)

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("auth", name, body=body, clientId=self.client_id)

    def _keep(self, name: str, body: Any = None) -> Op[ClientInfo]:
        """Call ``name`` and keep the client it answers with."""
        self._info = yield from self._transport.call(self._call(name, body), convert=_client_info)
        return self._info

    # data

    @property
    def info(self) -> ClientInfo:
        """The client's record (loaded once; :meth:`refresh` reloads).

        Example:
            >>> cluster.client("static/taskcluster/root").info.scopes
            ('*',)
        """
        return self._cached("_info", lambda: self._keep("client"))

    @property
    def loaded(self) -> bool:
        """Whether the client's record is in memory.

        Example:
            >>> cluster.client("static/taskcluster/root").loaded
            False
        """
        return self._info is not None

    def refresh(self) -> Client:
        """Reload the client's record now.

        Example:
            >>> cluster.client("static/taskcluster/root").refresh().loaded
            True
        """
        self._run(self._keep("client"))
        return self

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes given to the client itself.

        Example:
            >>> cluster.client("static/taskcluster/root").scopes
            ('*',)
        """
        return self.info.scopes

    @property
    def expanded_scopes(self) -> tuple[str, ...]:
        """Its scopes expanded through the roles they assume.

        Example:
            >>> cluster.client("static/taskcluster/root").expanded_scopes
            ('*',)
        """
        return self.info.expanded_scopes

    @property
    def description(self) -> str:
        """What the client is for.

        Example:
            >>> isinstance(cluster.client("static/taskcluster/root").description, str)
            True
        """
        return self.info.description

    @property
    def expires(self) -> datetime:
        """When the client stops working.

        Example:
            >>> cluster.client("static/taskcluster/root").expires.year
            3000
        """
        return self.info.expires

    @property
    def disabled(self) -> bool:
        """Whether the client is disabled (its requests are refused).

        Example:
            >>> cluster.client("static/taskcluster/root").disabled
            False
        """
        return self.info.disabled

    # changes

    def create(
        self,
        *,
        scopes: Iterable[str] = (),
        description: str = "",
        expires: datetime | str = "1 year",
        delete_on_expiration: bool = False,
    ) -> Credentials:
        """Create the client (``createClient``; the caller must hold its
        scopes) and return its credentials: the one time its access token
        is shown (as :class:`~tcmodel.Credentials`, whose repr hides it).
        ``expires`` is a datetime, an offset from now or an ISO date.

        Example:
            >>> creds = cluster.client("doc/create").create(scopes=["queue:status:*"])
            >>> creds.client_id, len(creds.access_token) > 20
            ('doc/create', True)
        """
        body = {
            "description": description,
            "expires": json_date(self._transport, expires),
            "scopes": _scopes(scopes),
            "deleteOnExpiration": delete_on_expiration,
        }
        return self._run(self._credentials("createClient", body))

    def _credentials(self, name: str, body: Any = None) -> Op[Credentials]:
        """Call ``name``, keep the client and hand back its new token."""
        call = self._call(name, body)
        self._info, token = yield from self._transport.call(call, convert=_issued)
        return Credentials(self.client_id, token)

    def update(
        self,
        *,
        scopes: Iterable[str] | None = None,
        description: str | None = None,
        expires: datetime | str | None = None,
        delete_on_expiration: bool | None = None,
    ) -> Client:
        """Change the client (``updateClient``; the caller must hold the
        scopes it adds); what is not given stays (read first if not loaded).

        Example:
            >>> ci = cluster.client("doc/update")
            >>> _ = ci.create(scopes=["a:1"])
            >>> ci.update(scopes=["a:1", "b:2"]).scopes
            ('a:1', 'b:2')
        """
        if scopes is None or description is None or expires is None:
            info = self.info
            scopes = info.scopes if scopes is None else scopes
            description = info.description if description is None else description
            expires = info.expires if expires is None else expires
        body: dict[str, Any] = {
            "description": description,
            "expires": json_date(self._transport, expires),
            "scopes": _scopes(scopes),
        }
        if delete_on_expiration is not None:
            body["deleteOnExpiration"] = delete_on_expiration
        self._run(self._keep("updateClient", body))
        return self

    def enable(self) -> Client:
        """Enable the client again (``enableClient``).

        Example:
            >>> ci = cluster.client("doc/enable")
            >>> _ = ci.create()
            >>> ci.disable().disabled, ci.enable().disabled
            (True, False)
        """
        self._run(self._keep("enableClient"))
        return self

    def disable(self) -> Client:
        """Disable the client: its requests are refused until
        :meth:`enable` (``disableClient``).

        Example:
            >>> ci = cluster.client("doc/disable")
            >>> _ = ci.create()
            >>> ci.disable()
            <Client clientId='doc/disable' disabled=True>
        """
        self._run(self._keep("disableClient"))
        return self

    def reset_token(self) -> Credentials:
        """A new access token (``resetAccessToken``; the old one stops
        working), as :class:`~tcmodel.Credentials`: shown this once.

        Example:
            >>> ci = cluster.client("doc/reset")
            >>> old = ci.create()
            >>> new = ci.reset_token()
            >>> new.access_token != old.access_token, repr(new)
            (True, "Credentials(client_id='doc/reset')")
        """
        return self._run(self._credentials("resetAccessToken"))

    def delete(self) -> None:
        """Delete the client (``deleteClient``; fine if it is already gone).

        Example:
            >>> cluster.client("doc/never-made").delete()
        """
        self._run(self._transport.call(self._call("deleteClient")))
        self._info = None


def clients(cluster: Cluster, prefix: str | None = None) -> Listing[Client]:
    """The clients whose id starts with ``prefix`` (lazily paged
    ``listClients``; each comes with its record).

    Example:
        >>> [c.client_id for c in clients(cluster, prefix="static/taskcluster/r")]
        ['static/taskcluster/root']
    """
    query = {"prefix": prefix} if prefix else None

    def make(raw: Any) -> Client:
        info = _client_info(raw)
        return Client(cluster, info.client_id, info=info)

    call = Call.of("auth", "listClients", query=query)
    return Listing(cluster.transport, call, "clients", make, item_type=Client)


# --- roles ---------------------------------------------------------------------


class Role(Resource):
    """A role of the auth service, by id: read (lazily), create, update,
    delete. A role ``R`` gives its scopes to whoever holds ``assume:R``.

    Example:
        >>> role = cluster.role("doc:role")
        >>> role.create(["queue:create-task:*"], description="docs").scopes
        ('queue:create-task:*',)
        >>> role.delete()
    """

    def __init__(self, cluster: Cluster, role_id: str, *, info: RoleInfo | None = None):
        super().__init__(cluster)
        self._role_id = _id(role_id, "roleId")
        self._info = info

    @property
    def role_id(self) -> str:
        """The role's id (its identity; read-only).

        Example:
            >>> cluster.role("project:ci").role_id
            'project:ci'
        """
        return self._role_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("roleId", self.role_id),)

    @property
    def ui_url(self) -> str:
        """The role's page in the web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").role("proj:ci").ui_url
            'https://tc.example.com/auth/roles/proj%3Aci'
        """
        return self.cluster._ui_url("auth", "roles", self.role_id)

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("auth", name, body=body, roleId=self.role_id)

    def _keep(self, name: str, body: Any = None) -> Op[RoleInfo]:
        """Call ``name`` and keep the role it answers with."""
        call = self._call(name, body)
        self._info = yield from self._transport.call(call, convert=RoleInfo._from_json)
        return self._info

    @property
    def info(self) -> RoleInfo:
        """The role's record (loaded once; :meth:`refresh` reloads).

        Example:
            >>> lc.add_role("doc:info", ["index:insert-task:*"])
            >>> cluster.role("doc:info").info.scopes
            ('index:insert-task:*',)
        """
        return self._cached("_info", lambda: self._keep("role"))

    @property
    def loaded(self) -> bool:
        """Whether the role's record is in memory.

        Example:
            >>> cluster.role("anonymous").loaded
            False
        """
        return self._info is not None

    def refresh(self) -> Role:
        """Reload the role's record now.

        Example:
            >>> cluster.role("anonymous").refresh().loaded
            True
        """
        self._run(self._keep("role"))
        return self

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the role gives.

        Example:
            >>> "queue:get-artifact:public/*" in cluster.role("anonymous").scopes
            True
        """
        return self.info.scopes

    @property
    def expanded_scopes(self) -> tuple[str, ...]:
        """Its scopes expanded through the roles they assume (with
        ``assume:<roleId>`` itself).

        Example:
            >>> cluster.role("anonymous").expanded_scopes[0]
            'assume:anonymous'
        """
        return self.info.expanded_scopes

    @property
    def description(self) -> str:
        """What the role is for.

        Example:
            >>> isinstance(cluster.role("anonymous").description, str)
            True
        """
        return self.info.description

    def create(self, scopes: Iterable[str], *, description: str = "") -> Role:
        """Create the role (``createRole``; the caller must hold its scopes).

        Example:
            >>> lc.add_role("doc:base", ["index:insert-task:*"])
            >>> cluster.role("doc:create").create(["assume:doc:base"]).expanded_scopes
            ('assume:doc:base', 'assume:doc:create', 'index:insert-task:*')
        """
        body = {"description": description, "scopes": _scopes(scopes)}
        self._run(self._keep("createRole", body))
        return self

    def update(
        self, scopes: Iterable[str] | None = None, *, description: str | None = None
    ) -> Role:
        """Change the role (``updateRole``; the caller must hold the scopes
        it adds); what is not given stays (read first if not loaded).

        Example:
            >>> role = cluster.role("doc:update").create(["a:1"])
            >>> role.update(description="now documented").description
            'now documented'
        """
        if scopes is None or description is None:
            info = self.info
            scopes = info.scopes if scopes is None else scopes
            description = info.description if description is None else description
        body = {"description": description, "scopes": _scopes(scopes)}
        self._run(self._keep("updateRole", body))
        return self

    def delete(self) -> None:
        """Delete the role (``deleteRole``; fine if it is already gone).

        Example:
            >>> cluster.role("doc:never-made").delete()
        """
        self._run(self._transport.call(self._call("deleteRole")))
        self._info = None


def roles(cluster: Cluster) -> Listing[Role]:
    """Every role (lazily paged ``listRoles2``; each with its record).

    Example:
        >>> "anonymous" in [r.role_id for r in roles(cluster)]
        True
    """

    def make(raw: Any) -> Role:
        info = RoleInfo._from_json(raw)
        return Role(cluster, info.role_id, info=info)

    call = Call.of("auth", "listRoles2")
    return Listing(cluster.transport, call, "roles", make, item_type=Role)
