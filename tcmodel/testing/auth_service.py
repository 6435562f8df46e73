"""The emulated auth service of the local cluster.

It serves the auth API on the cluster's own client and role store (the one
:class:`~tcmodel.testing.auth.Authenticator` checks requests against, and
``LocalCluster.add_client``/``add_role`` fill): a client created through
the API authenticates at once, a role created through it expands at once.
As the real service answers: creating a client or role again with an
identical body is 200 and with a different one 409; deleting is 204, also
when already gone; an access token is shown only by ``createClient`` and
``resetAccessToken``; ``currentScopes``/``expandScopes`` answer the
normalized, role-expanded scopes; ``authenticateHawk`` always answers 200
with the outcome in the body; ``testAuthenticate`` checks the fixed
``tester``/``no-secret`` credentials. The cloud-credential entries answer
as a deployment without AWS, Azure, GCP, Sentry, websocktunnel or GitHub
configuration does.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState()
    >>> st.roles["ci"] = ("assume:build", "queue:create-task:*")
    >>> st.roles["build"] = ("index:insert-task:*",)
    >>> st.auth.expand(["assume:ci"])
    ['assume:build', 'assume:ci', 'index:insert-task:*', 'queue:create-task:*']
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.scopes import satisfies_expression
from tcmodel.testing._common import Client, page_of
from tcmodel.testing._core import (
    ApiError,
    Request,
    Response,
    Service,
    handles,
    insufficient_scopes,
    internal_error,
    iso,
    parse_iso,
)
from tcmodel.testing.auth import Authenticator, Identity
from tcmodel.testing.queue_model import with_token
from tcmodel.testing.queue_validate import (
    Check,
    array,
    boolean,
    date_time,
    integer,
    obj,
    string,
    validate_body,
)

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = ["FAR_FUTURE", "AuthService", "RoleInfo", "normalize_scopes"]

#: The ``expires`` shown for a client that never expires (static clients).
FAR_FUTURE = parse_iso("3000-01-01T00:00:00.000Z")


_SCOPE = string(pattern=r"^[ -~]*$")
_SCOPES = array(_SCOPE, unique=True)
_DESCRIPTION = string(max_len=10240)
_CLIENT_BODY = obj(
    {
        "description": _DESCRIPTION,
        "expires": date_time(),
        "scopes": _SCOPES,
        "deleteOnExpiration": boolean(),
    },
    required=("expires", "description"),
)
_ROLE_BODY = obj(
    {"description": _DESCRIPTION, "scopes": _SCOPES}, required=("scopes", "description")
)
_SCOPESET_BODY = obj({"scopes": _SCOPES}, required=("scopes",))
_TEST_BODY = obj(
    {"clientScopes": _SCOPES, "requiredScopes": _SCOPES},
    required=("clientScopes", "requiredScopes"),
)
_HAWK_BODY = obj(
    {
        "method": string(),
        "resource": string(),
        "host": string(),
        "port": integer(0, 65535),
        "authorization": string(),
        "sourceIp": string(),
    },
    required=("method", "resource", "host", "port"),
)
_GITHUB_BODY = obj(
    {
        "permissions": obj(additional=string(enum=("read", "write"))),
        "repositories": array(string(pattern=r"^[A-Za-z0-9._-]+$"), max_items=500),
    },
    required=("permissions", "repositories"),
)

#: What ``testAuthenticateGet``'s fixed client holds, and what it requires.
_TESTER_GET_SCOPES = ("test:*", "auth:create-client:test:*")


def normalize_scopes(scopes: Iterable[str]) -> list[str]:
    """``scopes`` sorted, without duplicates and without the scopes that a
    star scope of the set already covers, as the auth service shows them.

    Example:
        >>> normalize_scopes(["b:1", "a:*", "a:x", "b:1", "a:"])
        ['a:*', 'b:1']
        >>> normalize_scopes(["*", "assume:anonymous"])
        ['*']
    """
    unique = sorted(set(scopes))
    stars = [s[:-1] for s in unique if s.endswith("*")]
    return [s for s in unique if not any(s.startswith(p) and s != p + "*" for p in stars)]


@attrs.define
class RoleInfo:
    """What the role API shows beside a role's scopes (which live in
    ``ClusterState.roles``); times are cluster-clock seconds.

    Example:
        >>> RoleInfo("CI builds", 1700000000.0, 1700000000.0).description
        'CI builds'
    """

    description: str
    created: float
    last_modified: float


def _body(req: Request, check: Check, schema: str) -> dict[str, Any]:
    validate_body(check, req.body, schema)
    body: dict[str, Any] = req.body
    return body


def _no_double_star(scopes: Iterable[str]) -> None:
    bad = [s for s in scopes if s.endswith("**")]
    if bad:
        raise ApiError(400, "InputError", f"Scopes must not end in `**`: {', '.join(bad)}")


def _not_configured(what: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", what)


class AuthService(Service):
    """The emulated auth service.

    Example:
        >>> {"createClient", "currentScopes", "testAuthenticate"} <= AuthService.handler_names()
        True
    """

    name = "auth"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self.started = cluster.clock.now()
        self.authenticator = Authenticator(cluster)
        self._role_info: dict[str, RoleInfo] = {}
        self._audit: list[dict[str, str]] = []

    def expand(self, scopes: Iterable[str]) -> list[str]:
        """``scopes`` expanded through the cluster's roles (without the
        ``anonymous`` role), normalized: what ``expandScopes`` answers.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().auth.expand(["queue:status:*", "queue:*"])
            ['queue:*']
        """
        return normalize_scopes(self.authenticator.expand(scopes, anonymous=False))

    # -- bodies -----------------------------------------------------------

    def client_json(self, client: Client) -> dict[str, Any]:
        """The API's view of ``client`` (never its access token).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> body = st.auth.client_json(Client("ci", "t0k3n", ("queue:*",)))
            >>> body["clientId"], body["expandedScopes"], "accessToken" in body
            ('ci', ['queue:*'], False)
        """
        created = self.started if client.created is None else client.created
        return {
            "clientId": client.client_id,
            "description": client.description,
            "expires": iso(FAR_FUTURE if client.expires is None else client.expires),
            "created": iso(created),
            "lastModified": iso(client.last_modified or created),
            "lastDateUsed": iso(created),
            "lastRotated": iso(client.last_rotated or created),
            "deleteOnExpiration": client.delete_on_expiration,
            "scopes": list(client.scopes),
            "expandedScopes": self.expand(client.scopes),
            "disabled": client.disabled,
        }

    def role_json(self, role_id: str) -> dict[str, Any]:
        """The API's view of role ``role_id`` (which must exist).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.roles["a"] = ("assume:b",)
            >>> st.roles["b"] = ("index:*",)
            >>> st.auth.role_json("a")["expandedScopes"]
            ['assume:a', 'assume:b', 'index:*']
        """
        info = self._info(role_id)
        return {
            "roleId": role_id,
            "scopes": list(self.cluster.roles[role_id]),
            "expandedScopes": self.expand([f"assume:{role_id}"]),
            "description": info.description,
            "lastModified": iso(info.last_modified),
            "created": iso(info.created),
        }

    def _info(self, role_id: str) -> RoleInfo:
        """What the API shows of a role beside its scopes (for a role added
        with ``add_role``: no description, made when the cluster started)."""
        return self._role_info.get(role_id) or RoleInfo("", self.started, self.started)

    def _record(self, req: Request, action: str, entity_type: str, entity_id: str) -> None:
        self._audit.append(
            {
                "clientId": req.client_id or "anonymous",
                "actionType": action,
                "created": iso(req.now),
                "entityId": entity_id,
                "entityType": entity_type,
            }
        )

    def _paged(self, req: Request, key: str, items: Sequence[Any], identity: str) -> dict[str, Any]:
        page, token = page_of(items, req, identity, self.cluster.settings.max_page_size)
        return with_token({key: list(page)}, token)

    # -- clients ------------------------------------------------------------

    def _client(self, req: Request) -> Client:
        client = self.cluster.clients.get(req.params["clientId"])
        if client is None:
            raise ApiError(404, "ResourceNotFound", "Client not found")
        return client

    @handles("listClients")
    def list_clients(self, req: Request) -> dict[str, Any]:
        """``GET /clients/?prefix=…``: clients by id, paged.

        Example: ``GET /api/auth/v1/clients?prefix=project/``
        """
        prefix = req.query.get("prefix", "")
        ids = sorted(c for c in self.cluster.clients if c.startswith(prefix))
        clients = [self.client_json(self.cluster.clients[c]) for c in ids]
        return self._paged(req, "clients", clients, f"clients:{prefix}")

    @handles("client")
    def get_client(self, req: Request) -> dict[str, Any]:
        """``GET /clients/<clientId>``; 404 ``Client not found``.

        Example: ``GET /api/auth/v1/clients/project%2Fci``
        """
        return self.client_json(self._client(req))

    @handles("createClient")
    def create_client(self, req: Request) -> dict[str, Any]:
        """``PUT /clients/<clientId>``: the new client with its access token
        (shown this once); again with an identical body: 200, the same
        token; with a different one: 409.

        Example: ``PUT /api/auth/v1/clients/project%2Fci`` with
        ``{"description": "CI", "expires": "2030-01-01T00:00:00.000Z", "scopes": []}``
        """
        body = _body(req, _CLIENT_BODY, "create-client-request.json")
        scopes = normalize_scopes(body.get("scopes", []))
        _no_double_star(scopes)
        req.authorize(scopes=scopes)
        wanted = Client(
            req.params["clientId"],
            secrets.token_urlsafe(33),
            tuple(scopes),
            parse_iso(body["expires"]),
            description=body["description"],
            created=req.now,
            delete_on_expiration=body.get("deleteOnExpiration", False),
        )
        existing = self.cluster.clients.get(wanted.client_id)
        if existing is not None:
            if not _same_client(existing, wanted):
                raise ApiError(
                    409,
                    "RequestConflict",
                    f"Client {wanted.client_id!r} exists already, with another body",
                )
            wanted = existing
        else:
            self.cluster.clients[wanted.client_id] = wanted
        self._record(req, "created", "client", wanted.client_id)
        return {**self.client_json(wanted), "accessToken": wanted.access_token}

    @handles("updateClient")
    def update_client(self, req: Request) -> dict[str, Any]:
        """``POST /clients/<clientId>``: new description, expiry, scopes
        (the caller must hold the scopes it adds); 404 if unknown.

        Example: ``POST /api/auth/v1/clients/project%2Fci`` with a
        create-client body
        """
        body = _body(req, _CLIENT_BODY, "create-client-request.json")
        client = self._client(req)
        scopes = normalize_scopes(body.get("scopes", client.scopes))
        _no_double_star(scopes)
        req.authorize(scopesAdded=[s for s in scopes if s not in client.scopes])
        client.scopes = tuple(scopes)
        client.description = body["description"]
        client.expires = parse_iso(body["expires"])
        client.delete_on_expiration = body.get("deleteOnExpiration", client.delete_on_expiration)
        client.last_modified = req.now
        self._record(req, "updated", "client", client.client_id)
        return self.client_json(client)

    def _set_disabled(self, req: Request, disabled: bool) -> dict[str, Any]:
        client = self._client(req)
        client.disabled = disabled
        client.last_modified = req.now
        self._record(
            req, f"client {'disabled' if disabled else 'enabled'}", "client", client.client_id
        )
        return self.client_json(client)

    @handles("enableClient")
    def enable_client(self, req: Request) -> dict[str, Any]:
        """``POST /clients/<clientId>/enable``.

        Example: ``POST /api/auth/v1/clients/project%2Fci/enable``
        """
        return self._set_disabled(req, False)

    @handles("disableClient")
    def disable_client(self, req: Request) -> dict[str, Any]:
        """``POST /clients/<clientId>/disable``: its requests get 401 until
        it is enabled again.

        Example: ``POST /api/auth/v1/clients/project%2Fci/disable``
        """
        return self._set_disabled(req, True)

    @handles("deleteClient")
    def delete_client(self, req: Request) -> Response:
        """``DELETE /clients/<clientId>``: 204, also when already gone.

        Example: ``DELETE /api/auth/v1/clients/project%2Fci``
        """
        if self.cluster.clients.pop(req.params["clientId"], None) is not None:
            self._record(req, "deleted", "client", req.params["clientId"])
        return Response(204)

    @handles("resetAccessToken")
    def reset_access_token(self, req: Request) -> dict[str, Any]:
        """``POST /clients/<clientId>/reset``: a new access token, shown
        this once; the old one stops working.

        Example: ``POST /api/auth/v1/clients/project%2Fci/reset``
        """
        client = self._client(req)
        client.access_token = secrets.token_urlsafe(33)
        client.last_rotated = req.now
        self._record(req, "access token reset", "client", client.client_id)
        return {**self.client_json(client), "accessToken": client.access_token}

    @handles("listAuditHistory")
    def list_audit_history(self, req: Request) -> dict[str, Any]:
        """``GET /clients/<clientId>/audit``: what that client did, paged.

        Example: ``GET /api/auth/v1/clients/project%2Fci/audit``
        """
        actor = req.params["clientId"]
        entries = [e for e in self._audit if e["clientId"] == actor]
        return self._paged(req, "auditHistory", entries, f"audit-by:{actor}")

    @handles("getEntityHistory")
    def get_entity_history(self, req: Request) -> dict[str, Any]:
        """``GET /audit/<entityType>/<entityId>``: what was done to a client
        or role, paged.

        Example: ``GET /api/auth/v1/audit/client/project%2Fci``
        """
        kind, entity = req.params["entityType"], req.params["entityId"]
        entries = [e for e in self._audit if (e["entityType"], e["entityId"]) == (kind, entity)]
        return self._paged(req, "auditHistory", entries, f"audit-of:{kind}:{entity}")

    # -- roles --------------------------------------------------------------

    def _role_id(self, req: Request) -> str:
        role_id = req.params["roleId"]
        if role_id not in self.cluster.roles:
            raise ApiError(404, "ResourceNotFound", "Role not found")
        return role_id

    def _role_ids(self) -> list[str]:
        return sorted(self.cluster.roles)

    @handles("listRoles")
    def list_roles(self, req: Request) -> list[dict[str, Any]]:
        """``GET /roles/``: every role, as a bare JSON array.

        Example: ``GET /api/auth/v1/roles``
        """
        return [self.role_json(r) for r in self._role_ids()]

    @handles("listRoles2")
    def list_roles2(self, req: Request) -> dict[str, Any]:
        """``GET /roles2/``: every role, paged.

        Example: ``GET /api/auth/v1/roles2?limit=10``
        """
        roles = [self.role_json(r) for r in self._role_ids()]
        return self._paged(req, "roles", roles, "roles")

    @handles("listRoleIds")
    def list_role_ids(self, req: Request) -> dict[str, Any]:
        """``GET /roleids/``: every role id, paged.

        Example: ``GET /api/auth/v1/roleids?limit=10``
        """
        return self._paged(req, "roleIds", self._role_ids(), "roleids")

    @handles("role")
    def get_role(self, req: Request) -> dict[str, Any]:
        """``GET /roles/<roleId>``; 404 ``Role not found``.

        Example: ``GET /api/auth/v1/roles/project%3Aci``
        """
        return self.role_json(self._role_id(req))

    @handles("createRole")
    def create_role(self, req: Request) -> dict[str, Any]:
        """``PUT /roles/<roleId>``: again with an identical body: 200; with
        a different one: 409. The caller must hold the role's scopes.

        Example: ``PUT /api/auth/v1/roles/project%3Aci`` with
        ``{"description": "CI", "scopes": ["queue:create-task:*"]}``
        """
        body = _body(req, _ROLE_BODY, "create-role-request.json")
        role_id = req.params["roleId"]
        scopes = tuple(normalize_scopes(body["scopes"]))
        _no_double_star(scopes)
        req.authorize(scopes=list(scopes))
        if role_id in self.cluster.roles:
            same = self.cluster.roles[role_id] == scopes
            if not same or self._info(role_id).description != body["description"]:
                raise ApiError(
                    409, "RequestConflict", f"Role {role_id!r} exists already, with another body"
                )
        else:
            self.cluster.roles[role_id] = scopes
            self._role_info[role_id] = RoleInfo(body["description"], req.now, req.now)
        self._record(req, "created", "role", role_id)
        return self.role_json(role_id)

    @handles("updateRole")
    def update_role(self, req: Request) -> dict[str, Any]:
        """``POST /roles/<roleId>``: new description and scopes (the caller
        must hold the scopes it adds); 404 if unknown.

        Example: ``POST /api/auth/v1/roles/project%3Aci`` with a create-role body
        """
        body = _body(req, _ROLE_BODY, "create-role-request.json")
        role_id = req.params["roleId"]
        if role_id not in self.cluster.roles:
            raise ApiError(404, "ResourceNotFound", f"There is no role {role_id!r} to update")
        scopes = tuple(normalize_scopes(body["scopes"]))
        _no_double_star(scopes)
        req.authorize(scopesAdded=[s for s in scopes if s not in self.cluster.roles[role_id]])
        created = self._info(role_id).created
        self.cluster.roles[role_id] = scopes
        self._role_info[role_id] = RoleInfo(body["description"], created, req.now)
        self._record(req, "updated", "role", role_id)
        return self.role_json(role_id)

    @handles("deleteRole")
    def delete_role(self, req: Request) -> Response:
        """``DELETE /roles/<roleId>``: 204, also when already gone.

        Example: ``DELETE /api/auth/v1/roles/project%3Aci``
        """
        role_id = req.params["roleId"]
        if self.cluster.roles.pop(role_id, None) is not None:
            self._role_info.pop(role_id, None)
            self._record(req, "deleted", "role", role_id)
        return Response(204)

    # -- scopes ---------------------------------------------------------------

    @handles("expandScopes")
    def expand_scopes(self, req: Request) -> dict[str, Any]:
        """``POST /scopes/expand``: ``{scopes}`` expanded through the roles.

        Example: ``POST /api/auth/v1/scopes/expand`` with ``{"scopes": ["assume:project:ci"]}``
        """
        body = _body(req, _SCOPESET_BODY, "scopeset.json")
        return {"scopes": self.expand(body["scopes"])}

    @handles("currentScopes")
    def current_scopes(self, req: Request) -> dict[str, Any]:
        """``GET /scopes/current``: the caller's expanded scopes (the
        ``anonymous`` role included).

        Example: ``GET /api/auth/v1/scopes/current``
        """
        return {"scopes": normalize_scopes(req.scopes)}

    # -- checking credentials -------------------------------------------------

    @handles("authenticateHawk")
    def authenticate_hawk(self, req: Request) -> dict[str, Any]:
        """``POST /authenticate-hawk``: always 200; ``status`` says
        ``auth-success`` (with clientId, scopes, expiry and the header's
        payload ``hash``), ``auth-failed`` (with the reason) or ``no-auth``.

        ``expires`` is the issuing client's expiry (far in the future for
        clients that never expire; a certificate's own expiry is not used).

        Example: ``POST /api/auth/v1/authenticate-hawk`` with
        ``{"method": "get", "resource": "/api/queue/v1/ping", "host": "127.0.0.1", "port": 80}``
        """
        body = _body(req, _HAWK_BODY, "authenticate-hawk-request.json")
        host = body["host"]
        headers = {
            "host": f"[{host}]" if ":" in host else host,
            "x-forwarded-port": str(body["port"]),
        }
        if "authorization" in body:
            headers["authorization"] = body["authorization"]
        try:
            ident = self.authenticator.authenticate_request(
                method=body["method"].upper(),
                target=body["resource"],
                headers=headers,
                body=None,
                now=req.now,
            )
        except ApiError as err:
            return {"status": "auth-failed", "message": err.message}
        return self._hawk_outcome(ident, body, req.now)

    def _hawk_outcome(self, ident: Identity, body: Mapping[str, Any], now: float) -> dict[str, Any]:
        scopes = normalize_scopes(ident.scopes)
        if ident.client_id is None:
            return {
                "status": "no-auth",
                "scheme": "none",
                "expires": iso(now + 15 * 60),
                "scopes": scopes,
            }
        client = self.cluster.clients.get(ident.client_id)
        expires = (
            client.expires if client is not None and client.expires is not None else FAR_FUTURE
        )
        result = {
            "status": "auth-success",
            "scheme": "hawk",  # bewits too, as the response schema allows
            "expires": iso(expires),
            "scopes": scopes,
            "clientId": ident.client_id,
        }
        if "authorization" in body:
            digest = Authenticator.parse_header(body["authorization"]).get("hash")
            if digest:
                result["hash"] = digest
        return result

    def _tester(self, req: Request, scopes: Sequence[str]) -> Identity:
        """Authenticate ``req`` against only the fixed ``tester`` client
        (access token ``no-secret``) holding ``scopes``, without roles."""
        store = type(self.cluster)(clock=self.cluster.clock)
        store.roles.clear()
        store.clients["tester"] = Client("tester", "no-secret", tuple(scopes))
        return Authenticator(store).authenticate_request(
            method=req.endpoint.method,
            target=req.target,
            headers=req.headers,
            body=req.raw_body,
            now=req.now,
        )

    def _test_result(
        self, req: Request, client_scopes: Sequence[str], required: Any
    ) -> dict[str, Any]:
        ident = self._tester(req, client_scopes)
        if not satisfies_expression(ident.scopes, required):
            raise insufficient_scopes(ident.client_id, ident.scopes, required)
        # as the real service lists them: the anonymous role the tester also
        # assumes, then the client's scopes as given (not sorted)
        given = {s: i for i, s in enumerate(["assume:anonymous", *client_scopes])}
        shown = sorted(ident.scopes, key=lambda s: (given.get(s, len(given)), s))
        return {"clientId": ident.client_id, "scopes": shown}

    @handles("testAuthenticate")
    def test_authenticate(self, req: Request) -> dict[str, Any]:
        """``POST /test-authenticate``: sign as ``tester``/``no-secret``; the
        client holds ``clientScopes`` and the call requires
        ``requiredScopes`` (403 ``InsufficientScopes`` otherwise).

        Example: ``POST /api/auth/v1/test-authenticate`` with
        ``{"clientScopes": ["test:a"], "requiredScopes": ["test:a"]}``
        """
        body = _body(req, _TEST_BODY, "test-authenticate-request.json")
        required = {"AllOf": list(body["requiredScopes"])}
        return self._test_result(req, body["clientScopes"], required)

    @handles("testAuthenticateGet")
    def test_authenticate_get(self, req: Request) -> dict[str, Any]:
        """``GET /test-authenticate-get/``: as ``testAuthenticate``, for
        signed URLs too; ``tester`` holds ``test:*`` and
        ``auth:create-client:test:*`` and the call requires
        ``test:authenticate-get``.

        Example: ``GET /api/auth/v1/test-authenticate-get?bewit=…``
        """
        return self._test_result(req, _TESTER_GET_SCOPES, "test:authenticate-get")

    # -- cloud credentials (none configured) ----------------------------------

    @handles("awsS3Credentials")
    def aws_s3_credentials(self, req: Request) -> None:
        """``GET /aws/s3/<level>/<bucket>/<prefix>``: 404, no bucket is configured.

        Example: ``GET /api/auth/v1/aws/s3/read-only/my-bucket/prefix%2F``
        """
        req.authorize(levelIsReadOnly=req.params["level"] == "read-only")
        raise _not_configured(
            f"This deployment has no AWS credentials for bucket {req.params['bucket']}"
        )

    @handles("azureAccounts")
    def azure_accounts(self, req: Request) -> dict[str, Any]:
        """``GET /azure/accounts``: ``{"accounts": []}``.

        Example: ``GET /api/auth/v1/azure/accounts``
        """
        return {"accounts": []}

    def _azure(self, req: Request) -> ApiError:
        account = req.params["account"]
        return _not_configured(f"Azure account {account!r} is not configured on this deployment")

    @handles("azureTables")
    def azure_tables(self, req: Request) -> None:
        """``GET /azure/<account>/tables``: 404, no account is configured.

        Example: ``GET /api/auth/v1/azure/acct/tables``
        """
        raise self._azure(req)

    @handles("azureContainers")
    def azure_containers(self, req: Request) -> None:
        """``GET /azure/<account>/containers``: 404, no account is configured.

        Example: ``GET /api/auth/v1/azure/acct/containers``
        """
        raise self._azure(req)

    @handles("azureTableSAS")
    def azure_table_sas(self, req: Request) -> None:
        """``GET /azure/<account>/table/<table>/<level>``: 404.

        Example: ``GET /api/auth/v1/azure/acct/table/t/read-only``
        """
        req.authorize(levelIsReadOnly=req.params["level"] == "read-only")
        raise self._azure(req)

    @handles("azureContainerSAS")
    def azure_container_sas(self, req: Request) -> None:
        """``GET /azure/<account>/containers/<container>/<level>``: 404.

        Example: ``GET /api/auth/v1/azure/acct/containers/c/read-write``
        """
        req.authorize(levelIsReadOnly=req.params["level"] == "read-only")
        raise self._azure(req)

    @handles("sentryDSN")
    def sentry_dsn(self, req: Request) -> None:
        """``GET /sentry/<project>/dsn``: 404 ``Sentry credentials not found``.

        Example: ``GET /api/auth/v1/sentry/proj/dsn``
        """
        raise _not_configured("Sentry credentials not found")

    @handles("websocktunnelToken")
    def websocktunnel_token(self, req: Request) -> None:
        """``GET /websocktunnel/<wstAudience>/<wstClient>``: 500, as a
        deployment without a websocktunnel secret answers.

        Example: ``GET /api/auth/v1/websocktunnel/aud/client``
        """
        raise internal_error()

    @handles("gcpCredentials")
    def gcp_credentials(self, req: Request) -> None:
        """``GET /gcp/credentials/<projectId>/<serviceAccount>``: 400, no
        service account is allowed.

        Example: ``GET /api/auth/v1/gcp/credentials/proj/sa%40proj.iam.gserviceaccount.com``
        """
        account = req.params["serviceAccount"]
        raise ApiError(
            400, "InvalidRequestArguments", f"The service account {account} is not allowed"
        )

    @handles("githubRepoToken")
    def github_repo_token(self, req: Request) -> None:
        """``POST /github/<appName>/<owner>/repo-token``: 404, no GitHub app
        is configured (after the scope check, which needs the body).

        Example: ``POST /api/auth/v1/github/app/owner/repo-token`` with
        ``{"permissions": {"contents": "read"}, "repositories": ["repo"]}``
        """
        body = _body(req, _GITHUB_BODY, "github-repo-token-request.json")
        perms = [
            f"{repo}:{perm}:{level}"
            for repo in body["repositories"]
            for perm, level in body["permissions"].items()
        ]
        req.authorize(repoPerms=perms)
        raise _not_configured(f"GitHub app {req.params['appName']!r} is not configured")


def _same_client(existing: Client, wanted: Client) -> bool:
    """Whether a createClient body repeats what ``existing`` already is."""
    fields = ("scopes", "expires", "description", "delete_on_expiration")
    return all(getattr(existing, f) == getattr(wanted, f) for f in fields)
