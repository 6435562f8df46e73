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
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from tcmodel._twin import same_arguments
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


R = TypeVar("R", bound="_Record[Any]")
Info = TypeVar("Info", ClientInfo, RoleInfo)


class _Record(Resource, Generic[Info]):
    """What clients and roles share: a record of the auth service, by id,
    loaded once (:attr:`info`), reloaded, deleted. Subclasses name their
    entries (``_read``, ``_remove``), build calls (``_call``) and parse
    answers (``_parse``)."""

    _read: ClassVar[str]
    _remove: ClassVar[str]
    _info: Info | None

    def _call(self, name: str, body: Any = None) -> Call:
        raise NotImplementedError

    def _parse(self, answer: Any) -> Info:
        raise NotImplementedError

    def _keep(self, name: str, body: Any = None) -> Op[Info]:
        """Call ``name`` and keep the record it answers with."""
        self._info = yield from self._transport.call(self._call(name, body), convert=self._parse)
        return self._info

    def _load(self) -> Op[Info]:
        """Read the record (``_read``) and keep it."""
        return self._keep(self._read)

    # data

    @property
    def info(self) -> Info:
        """The record (loaded once; :meth:`refresh` reloads).

        Example:
            >>> cluster.client("static/taskcluster/root").info.scopes
            ('*',)
            >>> lc.add_role("doc:info", ["index:insert-task:*"])
            >>> cluster.role("doc:info").info.scopes
            ('index:insert-task:*',)
        """
        return self._cached("_info", self._load)

    async def ainfo(self) -> Info:
        """The async twin of :attr:`info`.

        Example:
            >>> import asyncio
            >>> async def scopes() -> tuple[str, ...]:
            ...     async with lc.connect() as c:
            ...         return (await c.client("static/taskcluster/root").ainfo()).scopes
            >>> asyncio.run(scopes())
            ('*',)
        """
        return await self._acached("_info", self._load)

    @property
    def loaded(self) -> bool:
        """Whether the record is in memory.

        Example:
            >>> cluster.client("static/taskcluster/root").loaded, cluster.role("anonymous").loaded
            (False, False)
        """
        return self._info is not None

    def refresh(self: R) -> R:
        """Reload the record now.

        Example:
            >>> cluster.role("anonymous").refresh().loaded
            True
        """
        self._run(self._load())
        return self

    async def arefresh(self: R) -> R:
        """The async twin of :meth:`refresh`.

        Example:
            >>> import asyncio
            >>> async def reload() -> bool:
            ...     async with lc.connect() as c:
            ...         return (await c.client("static/taskcluster/root").arefresh()).loaded
            >>> asyncio.run(reload())
            True
        """
        await self._arun(self._load())
        return self

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes given to the client or role itself.

        Example:
            >>> cluster.client("static/taskcluster/root").scopes
            ('*',)
        """
        return self.info.scopes

    @property
    def expanded_scopes(self) -> tuple[str, ...]:
        """Its scopes expanded through the roles they assume (a role's
        with ``assume:<roleId>`` itself).

        Example:
            >>> cluster.role("anonymous").expanded_scopes[0]
            'assume:anonymous'
        """
        return self.info.expanded_scopes

    @property
    def description(self) -> str:
        """What the client or role is for.

        Example:
            >>> isinstance(cluster.role("anonymous").description, str)
            True
        """
        return self.info.description

    # deletion

    def delete(self) -> None:
        """Delete the client or role (fine if it is already gone).

        Example:
            >>> cluster.client("doc/never-made").delete()
            >>> cluster.role("doc:never-made").delete()
        """
        self._run(self._delete_op())

    async def adelete(self) -> None:
        """The async twin of :meth:`delete`.

        Example:
            >>> import asyncio
            >>> async def delete() -> None:
            ...     async with lc.connect() as c:
            ...         await c.role("doc:never-made").adelete()
            >>> asyncio.run(delete())
        """
        await self._arun(self._delete_op())

    def _delete_op(self) -> Op[None]:
        yield from self._transport.call(self._call(self._remove))
        self._info = None


class Client(_Record[ClientInfo]):
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

    _read = "client"
    _remove = "deleteClient"

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

    def _parse(self, answer: Any) -> ClientInfo:
        return _client_info(answer)

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

    def _create_op(
        self,
        *,
        scopes: Iterable[str] = (),
        description: str = "",
        expires: datetime | str = "1 year",
        delete_on_expiration: bool = False,
    ) -> Op[Credentials]:
        body = {
            "description": description,
            "expires": json_date(self._transport, expires),
            "scopes": _scopes(scopes),
            "deleteOnExpiration": delete_on_expiration,
        }
        return self._credentials("createClient", body)

    @same_arguments(_create_op)
    def create(self, *args: Any, **kwargs: Any) -> Credentials:
        """Create the client (``createClient``; the caller must hold its
        scopes) and return its credentials: the one time its access token
        is shown (as :class:`~tcmodel.Credentials`, whose repr hides it).
        Keywords: ``scopes``, ``description``, ``expires`` (a datetime, an
        offset from now or an ISO date; ``"1 year"``),
        ``delete_on_expiration``.

        Example:
            >>> creds = cluster.client("doc/create").create(scopes=["queue:status:*"])
            >>> creds.client_id, len(creds.access_token) > 20
            ('doc/create', True)
        """
        return self._run(self._create_op(*args, **kwargs))

    @same_arguments(_create_op)
    async def acreate(self, *args: Any, **kwargs: Any) -> Credentials:
        """The async twin of :meth:`create`.

        Example:
            >>> import asyncio
            >>> async def make() -> Credentials:
            ...     async with lc.connect() as c:
            ...         return await c.client("doc/acreate").acreate(scopes=["queue:status:*"])
            >>> asyncio.run(make())
            Credentials(client_id='doc/acreate')
        """
        return await self._arun(self._create_op(*args, **kwargs))

    def _credentials(self, name: str, body: Any = None) -> Op[Credentials]:
        """Call ``name``, keep the client and hand back its new token."""
        call = self._call(name, body)
        self._info, token = yield from self._transport.call(call, convert=_issued)
        return Credentials(self.client_id, token)

    def _update_op(
        self,
        *,
        scopes: Iterable[str] | None = None,
        description: str | None = None,
        expires: datetime | str | None = None,
        delete_on_expiration: bool | None = None,
    ) -> Op[Client]:
        """What is not given stays: read first when not loaded."""
        if scopes is None or description is None or expires is None:
            info = yield from self._cache_op("_info", self._load)
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
        yield from self._keep("updateClient", body)
        return self

    @same_arguments(_update_op)
    def update(self, *args: Any, **kwargs: Any) -> Client:
        """Change the client (``updateClient``; the caller must hold the
        scopes it adds): keywords ``scopes``, ``description``, ``expires``,
        ``delete_on_expiration``; what is not given stays (read first if
        not loaded).

        Example:
            >>> ci = cluster.client("doc/update")
            >>> _ = ci.create(scopes=["a:1"])
            >>> ci.update(scopes=["a:1", "b:2"]).scopes
            ('a:1', 'b:2')
        """
        return self._run(self._update_op(*args, **kwargs))

    @same_arguments(_update_op)
    async def aupdate(self, *args: Any, **kwargs: Any) -> Client:
        """The async twin of :meth:`update`.

        Example:
            >>> import asyncio
            >>> async def change() -> str:
            ...     async with lc.connect() as c:
            ...         ci = c.client("doc/aupdate")
            ...         _ = await ci.acreate(scopes=["a:1"])
            ...         return (await c.client("doc/aupdate").aupdate(description="d")).description
            >>> asyncio.run(change())
            'd'
        """
        return await self._arun(self._update_op(*args, **kwargs))

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

    async def aenable(self) -> Client:
        """The async twin of :meth:`enable`.

        Example:
            >>> import asyncio
            >>> async def enable() -> bool:
            ...     async with lc.connect() as c:
            ...         ci = c.client("doc/aenable")
            ...         _ = await ci.acreate()
            ...         await ci.adisable()
            ...         return (await ci.aenable()).disabled
            >>> asyncio.run(enable())
            False
        """
        await self._arun(self._keep("enableClient"))
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

    async def adisable(self) -> Client:
        """The async twin of :meth:`disable`.

        Example:
            >>> import asyncio
            >>> async def disable() -> Client:
            ...     async with lc.connect() as c:
            ...         ci = c.client("doc/adisable")
            ...         _ = await ci.acreate()
            ...         return await ci.adisable()
            >>> asyncio.run(disable())
            <Client clientId='doc/adisable' disabled=True>
        """
        await self._arun(self._keep("disableClient"))
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

    async def areset_token(self) -> Credentials:
        """The async twin of :meth:`reset_token`.

        Example:
            >>> import asyncio
            >>> async def reset() -> bool:
            ...     async with lc.connect() as c:
            ...         ci = c.client("doc/areset")
            ...         old = await ci.acreate()
            ...         return (await ci.areset_token()).access_token != old.access_token
            >>> asyncio.run(reset())
            True
        """
        return await self._arun(self._credentials("resetAccessToken"))


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


class Role(_Record[RoleInfo]):
    """A role of the auth service, by id: read (lazily), create, update,
    delete. A role ``R`` gives its scopes to whoever holds ``assume:R``.

    Example:
        >>> role = cluster.role("doc:role")
        >>> role.create(["queue:create-task:*"], description="docs").scopes
        ('queue:create-task:*',)
        >>> role.delete()
    """

    _read = "role"
    _remove = "deleteRole"

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

    def _parse(self, answer: Any) -> RoleInfo:
        return RoleInfo._from_json(answer)

    def create(self, scopes: Iterable[str], *, description: str = "") -> Role:
        """Create the role (``createRole``; the caller must hold its scopes).

        Example:
            >>> lc.add_role("doc:base", ["index:insert-task:*"])
            >>> cluster.role("doc:create").create(["assume:doc:base"]).expanded_scopes
            ('assume:doc:base', 'assume:doc:create', 'index:insert-task:*')
        """
        self._run(self._keep("createRole", self._body(scopes, description)))
        return self

    async def acreate(self, scopes: Iterable[str], *, description: str = "") -> Role:
        """The async twin of :meth:`create`.

        Example:
            >>> import asyncio
            >>> async def make() -> tuple[str, ...]:
            ...     async with lc.connect() as c:
            ...         return (await c.role("doc:acreate").acreate(["a:1"])).scopes
            >>> asyncio.run(make())
            ('a:1',)
        """
        await self._arun(self._keep("createRole", self._body(scopes, description)))
        return self

    @staticmethod
    def _body(scopes: Iterable[str], description: str) -> dict[str, Any]:
        return {"description": description, "scopes": _scopes(scopes)}

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
        return self._run(self._update_op(scopes, description))

    async def aupdate(
        self, scopes: Iterable[str] | None = None, *, description: str | None = None
    ) -> Role:
        """The async twin of :meth:`update`.

        Example:
            >>> import asyncio
            >>> async def change() -> str:
            ...     async with lc.connect() as c:
            ...         role = await c.role("doc:aupdate").acreate(["a:1"])
            ...         return (await c.role("doc:aupdate").aupdate(description="d")).description
            >>> asyncio.run(change())
            'd'
        """
        return await self._arun(self._update_op(scopes, description))

    def _update_op(self, scopes: Iterable[str] | None, description: str | None) -> Op[Role]:
        """What is not given stays: read first when not loaded."""
        if scopes is None or description is None:
            info = yield from self._cache_op("_info", self._load)
            scopes = info.scopes if scopes is None else scopes
            description = info.description if description is None else description
        yield from self._keep("updateRole", self._body(scopes, description))
        return self


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
