"""The Taskcluster API entries that tcmodel speaks, described as data.

Each :class:`Endpoint` names one entry of a service's API reference: its
route, method, allowed query keys and the scope expression the service
enforces. The client builds URLs from it and the local cluster
(:mod:`tcmodel.testing`) routes and authorizes requests with it, so the two
can never disagree about a route.

Example:
    >>> from tcmodel.api import endpoint
    >>> ep = endpoint("queue", "status")
    >>> ep.method, ep.route
    ('GET', '/task/<taskId>/status')
    >>> ep.path({"taskId": "Dx4tPEtaRpeIeWpbTD0uHw"})
    '/task/Dx4tPEtaRpeIeWpbTD0uHw/status'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

__all__ = ["ENDPOINTS", "Endpoint", "ScopeExpression", "endpoint", "quote_param"]

#: A scope expression as written in the API references: a scope string with
#: ``<param>`` placeholders, or a dict with ``AllOf``/``AnyOf``,
#: ``{for, in, each}`` or ``{if, then, else}``.
ScopeExpression = str | dict[str, Any]

_PARAM = re.compile(r"<([A-Za-z]+)>")

# Parameters that are wildcards (``{*name}`` in the services): the server
# accepts raw ``/`` in them. The client encodes ``/`` as ``%2F`` everywhere.
_WILDCARDS: dict[tuple[str, str], frozenset[str]] = {
    **{
        ("queue", n): frozenset({"name"})
        for n in (
            "createArtifact",
            "finishArtifact",
            "getArtifact",
            "getLatestArtifact",
            "artifactInfo",
            "latestArtifactInfo",
            "artifact",
            "latestArtifact",
        )
    },
    **{
        ("queue", n): frozenset({"taskQueueId"})
        for n in (
            "claimWork",
            "pendingTasks",
            "taskQueueCounts",
            "listPendingTasks",
            "listClaimedTasks",
        )
    },
    ("index", "findArtifactFromTask"): frozenset({"name"}),
    **{("object", n): frozenset({"name"}) for n in ("startDownload", "object", "download")},
    **{("secrets", n): frozenset({"name"}) for n in ("set", "remove", "get")},
    ("auth", "awsS3Credentials"): frozenset({"prefix"}),
}


_NOT_IDEMPOTENT = frozenset(
    {
        ("queue", "claimWork"),
        ("queue", "claimTask"),
        ("queue", "createArtifact"),
        ("auth", "resetAccessToken"),  # each call makes a new token
        ("hooks", "triggerHook"),  # each call fires the hook again: a new task
        ("hooks", "triggerHookWithToken"),
        ("hooks", "resetTriggerToken"),
    }
)
#: Path parameters that carry a secret wherever they appear.
_SECRET_PARAMS = frozenset({"token"})
_REDIRECTS = frozenset(
    {
        ("queue", "getArtifact"),
        ("queue", "getLatestArtifact"),
        ("object", "download"),
        ("index", "findArtifactFromTask"),
    }
)


def quote_param(value: str) -> str:
    """Percent-encode one path parameter so that it stays one path segment.

    Everything but ``A-Za-z0-9_.-~`` is encoded, ``/`` included, so no value
    can change the path (``../``, ``?`` and ``#`` are all encoded). A value
    that is just ``.`` or ``..`` has its dots encoded too, since HTTP
    libraries (httpx among them) would otherwise remove it as a dot segment.

    Example:
        >>> quote_param("public/a b/c(1).txt")
        'public%2Fa%20b%2Fc%281%29.txt'
        >>> quote_param("..")
        '%2E%2E'
    """
    quoted = quote(value.encode("utf-8"), safe="")
    return "%2E" * len(quoted) if quoted in (".", "..") else quoted


@attrs.frozen
class Endpoint:
    """One API entry of a Taskcluster service.

    Example:
        >>> ep = endpoint("queue", "listTaskGroup")
        >>> str(ep), ep.query
        ('queue.listTaskGroup', ('continuationToken', 'limit'))
    """

    service: str
    name: str
    method: str
    route: str
    query: tuple[str, ...] = ()
    scopes: ScopeExpression | None = None
    input: str | None = None
    output: str | None = None
    stability: str = "stable"

    @property
    def params(self) -> tuple[str, ...]:
        """The route's path parameters, in order.

        Example:
            >>> endpoint("queue", "getArtifact").params
            ('taskId', 'runId', 'name')
        """
        return tuple(_PARAM.findall(self.route))

    @property
    def wildcards(self) -> frozenset[str]:
        """Parameters in which the service also accepts a raw ``/``.

        Example:
            >>> sorted(endpoint("queue", "getArtifact").wildcards)
            ['name']
        """
        return _WILDCARDS.get((self.service, self.name), frozenset())

    @property
    def secret_params(self) -> frozenset[str]:
        """Path parameters that are secrets (a hook's trigger token): never
        shown where a call is named (errors, logs, request records).

        Example:
            >>> sorted(endpoint("hooks", "triggerHookWithToken").secret_params)
            ['token']
        """
        return frozenset(p for p in self.params if p in _SECRET_PARAMS)

    @property
    def idempotent(self) -> bool:
        """Whether sending the same call twice is harmless, so that it may be
        retried after the request might have reached the service.

        ``claimWork`` claims new runs each time; ``createArtifact`` of an
        object artifact makes a new upload each time.

        Example:
            >>> endpoint("queue", "createTask").idempotent
            True
            >>> endpoint("queue", "claimWork").idempotent
            False
        """
        return (self.service, self.name) not in _NOT_IDEMPOTENT

    @property
    def redirects(self) -> bool:
        """Whether the entry answers with a redirect (303) by design.

        Example:
            >>> endpoint("queue", "getArtifact").redirects, endpoint("queue", "task").redirects
            (True, False)
        """
        return (self.service, self.name) in _REDIRECTS

    def path(self, params: Mapping[str, str | int]) -> str:
        """The route with every parameter filled in and percent-encoded.

        Raises ``TypeError`` naming a missing parameter.

        Example:
            >>> endpoint("queue", "getArtifact").path(
            ...     {"taskId": "Dx4tPEtaRpeIeWpbTD0uHw", "runId": 0, "name": "public/x"})
            '/task/Dx4tPEtaRpeIeWpbTD0uHw/runs/0/artifacts/public%2Fx'
        """

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in params:
                raise TypeError(f"{self}: missing path parameter {name!r}")
            return quote_param(str(params[name]))

        path = _PARAM.sub(fill, self.route)
        # As the official clients do: an empty optional trailing parameter
        # (index listNamespaces/listTasks at the root) leaves no trailing '/'.
        return path.rstrip("/") if len(path) > 1 else path

    def __str__(self) -> str:
        return f"{self.service}.{self.name}"


def _e(
    service: str,
    name: str,
    method: str,
    route: str,
    **kw: Any,
) -> Endpoint:
    return Endpoint(service, name, method, route, **kw)


_ALL = [
    _e("queue", "ping", "GET", "/ping"),
    _e("queue", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("queue", "version", "GET", "/__version__"),
    _e(
        "queue",
        "task",
        "GET",
        "/task/<taskId>",
        scopes="queue:get-task:<taskId>",
        output="task.json",
    ),
    _e(
        "queue",
        "tasks",
        "POST",
        "/tasks",
        query=("continuationToken", "limit"),
        scopes={"AllOf": [{"each": "queue:get-task:<taskId>", "for": "taskId", "in": "taskIds"}]},
        input="tasks-request.json",
        output="tasks-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "statuses",
        "POST",
        "/tasks/status",
        query=("continuationToken", "limit"),
        scopes={"AllOf": [{"each": "queue:status:<taskId>", "for": "taskId", "in": "taskIds"}]},
        input="tasks-request.json",
        output="tasks-statuses-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "status",
        "GET",
        "/task/<taskId>/status",
        scopes="queue:status:<taskId>",
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "listTaskGroup",
        "GET",
        "/task-group/<taskGroupId>/list",
        query=("continuationToken", "limit"),
        scopes="queue:list-task-group:<taskGroupId>",
        output="list-task-group-response.json",
    ),
    _e(
        "queue",
        "cancelTaskGroup",
        "POST",
        "/task-group/<taskGroupId>/cancel",
        scopes="queue:cancel-task-group:<schedulerId>/<taskGroupId>",
        output="cancel-task-group-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "getTaskGroup",
        "GET",
        "/task-group/<taskGroupId>",
        scopes="queue:list-task-group:<taskGroupId>",
        output="task-group-response.json",
    ),
    _e(
        "queue",
        "sealTaskGroup",
        "POST",
        "/task-group/<taskGroupId>/seal",
        scopes="queue:seal-task-group:<schedulerId>/<taskGroupId>",
        output="task-group-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "listDependentTasks",
        "GET",
        "/task/<taskId>/dependents",
        query=("continuationToken", "limit"),
        scopes="queue:list-dependent-tasks:<taskId>",
        output="list-dependent-tasks-response.json",
    ),
    _e(
        "queue",
        "createTask",
        "PUT",
        "/task/<taskId>",
        scopes={
            "AllOf": [
                {"each": "<scope>", "for": "scope", "in": "scopes"},
                {"each": "queue:route:<route>", "for": "route", "in": "routes"},
                "queue:create-task:project:<projectId>",
                "queue:scheduler-id:<schedulerId>",
                {
                    "AnyOf": [
                        {
                            "each": "queue:create-task:<priority>:<provisionerId>/<workerType>",
                            "for": "priority",
                            "in": "priorities",
                        }
                    ]
                },
            ]
        },
        input="create-task-request.json",
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "scheduleTask",
        "POST",
        "/task/<taskId>/schedule",
        scopes={
            "AnyOf": [
                "queue:schedule-task:<schedulerId>/<taskGroupId>/<taskId>",
                "queue:schedule-task-in-project:<projectId>",
                {
                    "AllOf": [
                        "queue:schedule-task",
                        "assume:scheduler-id:<schedulerId>/<taskGroupId>",
                    ]
                },
            ]
        },
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "rerunTask",
        "POST",
        "/task/<taskId>/rerun",
        scopes={
            "AnyOf": [
                "queue:rerun-task:<schedulerId>/<taskGroupId>/<taskId>",
                "queue:rerun-task-in-project:<projectId>",
                {
                    "AllOf": [
                        "queue:rerun-task",
                        "assume:scheduler-id:<schedulerId>/<taskGroupId>",
                    ]
                },
            ]
        },
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "cancelTask",
        "POST",
        "/task/<taskId>/cancel",
        scopes={
            "AnyOf": [
                "queue:cancel-task:<schedulerId>/<taskGroupId>/<taskId>",
                "queue:cancel-task-in-project:<projectId>",
                {
                    "AllOf": [
                        "queue:cancel-task",
                        "assume:scheduler-id:<schedulerId>/<taskGroupId>",
                    ]
                },
            ]
        },
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "changeTaskPriority",
        "POST",
        "/task/<taskId>/priority",
        scopes={
            "AnyOf": [
                "queue:change-task-priority:<taskId>",
                "queue:change-task-priority-in-queue:<taskQueueId>",
            ]
        },
        input="change-task-priority-request.json",
        output="task-status-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "changeTaskGroupPriority",
        "POST",
        "/task-group/<taskGroupId>/priority",
        scopes="queue:change-task-group-priority:<schedulerId>/<taskGroupId>",
        input="change-task-priority-request.json",
        output="task-group-priority-change-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "claimWork",
        "POST",
        "/claim-work/<taskQueueId>",
        scopes={
            "AllOf": [
                "queue:claim-work:<taskQueueId>",
                "queue:worker-id:<workerGroup>/<workerId>",
            ]
        },
        input="claim-work-request.json",
        output="claim-work-response.json",
    ),
    _e(
        "queue",
        "claimTask",
        "POST",
        "/task/<taskId>/runs/<runId>/claim",
        scopes={
            "AllOf": [
                "queue:claim-task:<provisionerId>/<workerType>",
                "queue:worker-id:<workerGroup>/<workerId>",
            ]
        },
        input="task-claim-request.json",
        output="task-claim-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "reclaimTask",
        "POST",
        "/task/<taskId>/runs/<runId>/reclaim",
        scopes="queue:reclaim-task:<taskId>/<runId>",
        output="task-reclaim-response.json",
    ),
    _e(
        "queue",
        "reportCompleted",
        "POST",
        "/task/<taskId>/runs/<runId>/completed",
        scopes="queue:resolve-task:<taskId>/<runId>",
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "reportFailed",
        "POST",
        "/task/<taskId>/runs/<runId>/failed",
        scopes="queue:resolve-task:<taskId>/<runId>",
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "reportException",
        "POST",
        "/task/<taskId>/runs/<runId>/exception",
        scopes="queue:resolve-task:<taskId>/<runId>",
        input="task-exception-request.json",
        output="task-status-response.json",
    ),
    _e(
        "queue",
        "createArtifact",
        "POST",
        "/task/<taskId>/runs/<runId>/artifacts/<name>",
        scopes="queue:create-artifact:<taskId>/<runId>",
        input="post-artifact-request.json",
        output="post-artifact-response.json",
    ),
    _e(
        "queue",
        "finishArtifact",
        "PUT",
        "/task/<taskId>/runs/<runId>/artifacts/<name>",
        scopes="queue:create-artifact:<taskId>/<runId>",
        input="finish-artifact-request.json",
    ),
    _e(
        "queue",
        "getArtifact",
        "GET",
        "/task/<taskId>/runs/<runId>/artifacts/<name>",
        scopes={"AllOf": [{"each": "queue:get-artifact:<name>", "for": "name", "in": "names"}]},
        output="get-artifact-response.json",
    ),
    _e(
        "queue",
        "getLatestArtifact",
        "GET",
        "/task/<taskId>/artifacts/<name>",
        scopes={"AllOf": [{"each": "queue:get-artifact:<name>", "for": "name", "in": "names"}]},
        output="get-artifact-response.json",
    ),
    _e(
        "queue",
        "listArtifacts",
        "GET",
        "/task/<taskId>/runs/<runId>/artifacts",
        query=("continuationToken", "limit"),
        scopes="queue:list-artifacts:<taskId>:<runId>",
        output="list-artifacts-response.json",
    ),
    _e(
        "queue",
        "listLatestArtifacts",
        "GET",
        "/task/<taskId>/artifacts",
        query=("continuationToken", "limit"),
        scopes="queue:list-artifacts:<taskId>",
        output="list-artifacts-response.json",
    ),
    _e(
        "queue",
        "artifactInfo",
        "GET",
        "/task/<taskId>/runs/<runId>/artifact-info/<name>",
        scopes="queue:list-artifacts:<taskId>:<runId>",
        output="artifact-response.json",
    ),
    _e(
        "queue",
        "latestArtifactInfo",
        "GET",
        "/task/<taskId>/artifact-info/<name>",
        scopes="queue:list-artifacts:<taskId>",
        output="artifact-response.json",
    ),
    _e(
        "queue",
        "artifact",
        "GET",
        "/task/<taskId>/runs/<runId>/artifact-content/<name>",
        scopes={"AllOf": [{"each": "queue:get-artifact:<name>", "for": "name", "in": "names"}]},
        output="artifact-content-response.json",
    ),
    _e(
        "queue",
        "latestArtifact",
        "GET",
        "/task/<taskId>/artifact-content/<name>",
        scopes={"AllOf": [{"each": "queue:get-artifact:<name>", "for": "name", "in": "names"}]},
        output="artifact-content-response.json",
    ),
    _e(
        "queue",
        "pendingTasks",
        "GET",
        "/pending/<taskQueueId>",
        scopes="queue:pending-count:<taskQueueId>",
        output="pending-tasks-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "taskQueueCounts",
        "GET",
        "/task-queues/<taskQueueId>/counts",
        scopes={
            "AllOf": [
                "queue:pending-count:<taskQueueId>",
                "queue:claimed-count:<taskQueueId>",
            ]
        },
        output="task-queue-counts-response.json",
    ),
    _e(
        "queue",
        "listPendingTasks",
        "GET",
        "/task-queues/<taskQueueId>/pending",
        query=("continuationToken", "limit"),
        scopes="queue:pending-list:<taskQueueId>",
        output="list-pending-tasks-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "listClaimedTasks",
        "GET",
        "/task-queues/<taskQueueId>/claimed",
        query=("continuationToken", "limit"),
        scopes="queue:claimed-list:<taskQueueId>",
        output="list-claimed-tasks-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "listTaskQueues",
        "GET",
        "/task-queues",
        query=("continuationToken", "limit"),
        scopes="queue:list-task-queues",
        output="list-taskqueues-response.json",
    ),
    _e(
        "queue",
        "getTaskQueue",
        "GET",
        "/task-queues/<taskQueueId>",
        scopes="queue:get-task-queue:<taskQueueId>",
        output="taskqueue-response.json",
    ),
    _e("queue", "heartbeat", "GET", "/__heartbeat__"),
    _e("index", "ping", "GET", "/ping"),
    _e("index", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("index", "version", "GET", "/__version__"),
    _e(
        "index",
        "findTask",
        "GET",
        "/task/<indexPath>",
        scopes="index:find-task:<indexPath>",
        output="indexed-task-response.json",
    ),
    _e(
        "index",
        "findTasksAtIndex",
        "POST",
        "/tasks/indexes",
        query=("continuationToken", "limit"),
        scopes={
            "AllOf": [
                {
                    "each": "index:find-task:<indexPath>",
                    "for": "indexPath",
                    "in": "indexPaths",
                }
            ]
        },
        input="list-tasks-at-index.json",
        output="list-tasks-response.json",
        stability="experimental",
    ),
    _e(
        "index",
        "listNamespaces",
        "GET",
        "/namespaces/<namespace>",
        query=("continuationToken", "limit"),
        scopes="index:list-namespaces:<namespace>",
        output="list-namespaces-response.json",
    ),
    _e(
        "index",
        "listTasks",
        "GET",
        "/tasks/<namespace>",
        query=("continuationToken", "limit"),
        scopes="index:list-tasks:<namespace>",
        output="list-tasks-response.json",
    ),
    _e(
        "index",
        "insertTask",
        "PUT",
        "/task/<namespace>",
        scopes="index:insert-task:<namespace>",
        input="insert-task-request.json",
        output="indexed-task-response.json",
    ),
    _e(
        "index",
        "deleteTask",
        "DELETE",
        "/task/<namespace>",
        scopes="index:delete-task:<namespace>",
    ),
    _e(
        "index",
        "findArtifactFromTask",
        "GET",
        "/task/<indexPath>/artifacts/<name>",
        scopes="queue:get-artifact:<name>",
    ),
    _e("index", "heartbeat", "GET", "/__heartbeat__"),
    _e("object", "ping", "GET", "/ping"),
    _e("object", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("object", "version", "GET", "/__version__"),
    _e(
        "object",
        "createUpload",
        "PUT",
        "/upload/<name>",
        scopes="object:upload:<projectId>:<name>",
        input="create-upload-request.json",
        output="create-upload-response.json",
    ),
    _e(
        "object",
        "finishUpload",
        "POST",
        "/finish-upload/<name>",
        scopes="object:upload:<projectId>:<name>",
        input="finish-upload-request.json",
    ),
    _e(
        "object",
        "startDownload",
        "PUT",
        "/start-download/<name>",
        scopes="object:download:<name>",
        input="download-object-request.json",
        output="download-object-response.json",
    ),
    _e(
        "object",
        "object",
        "GET",
        "/metadata/<name>",
        scopes="object:download:<name>",
        output="get-object-response.json",
    ),
    _e("object", "download", "GET", "/download/<name>", scopes="object:download:<name>"),
    _e("object", "heartbeat", "GET", "/__heartbeat__"),
    _e("auth", "ping", "GET", "/ping"),
    _e("auth", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("auth", "version", "GET", "/__version__"),
    _e(
        "auth",
        "listClients",
        "GET",
        "/clients/",
        query=("prefix", "continuationToken", "limit"),
        scopes="auth:list-clients",
        output="list-clients-response.json",
    ),
    _e(
        "auth",
        "client",
        "GET",
        "/clients/<clientId>",
        scopes="auth:get-client:<clientId>",
        output="get-client-response.json",
    ),
    _e(
        "auth",
        "createClient",
        "PUT",
        "/clients/<clientId>",
        scopes={
            "AllOf": [
                "auth:create-client:<clientId>",
                {"each": "<scope>", "for": "scope", "in": "scopes"},
            ]
        },
        input="create-client-request.json",
        output="create-client-response.json",
    ),
    _e(
        "auth",
        "getEntityHistory",
        "GET",
        "/audit/<entityType>/<entityId>",
        query=("continuationToken", "limit"),
        scopes="auth:audit-history:<entityType>",
        output="get-entity-history-response.json",
    ),
    _e(
        "auth",
        "listAuditHistory",
        "GET",
        "/clients/<clientId>/audit",
        query=("continuationToken", "limit"),
        scopes="auth:client-audit-history:<clientId>",
        output="get-entity-history-response.json",
    ),
    _e(
        "auth",
        "resetAccessToken",
        "POST",
        "/clients/<clientId>/reset",
        scopes="auth:reset-access-token:<clientId>",
        output="create-client-response.json",
    ),
    _e(
        "auth",
        "updateClient",
        "POST",
        "/clients/<clientId>",
        scopes={
            "AllOf": [
                "auth:update-client:<clientId>",
                {"each": "<scope>", "for": "scope", "in": "scopesAdded"},
            ]
        },
        input="create-client-request.json",
        output="get-client-response.json",
    ),
    _e(
        "auth",
        "enableClient",
        "POST",
        "/clients/<clientId>/enable",
        scopes="auth:enable-client:<clientId>",
        output="get-client-response.json",
    ),
    _e(
        "auth",
        "disableClient",
        "POST",
        "/clients/<clientId>/disable",
        scopes="auth:disable-client:<clientId>",
        output="get-client-response.json",
    ),
    _e(
        "auth",
        "deleteClient",
        "DELETE",
        "/clients/<clientId>",
        scopes="auth:delete-client:<clientId>",
    ),
    _e(
        "auth",
        "listRoles",
        "GET",
        "/roles/",
        scopes="auth:list-roles",
        output="list-roles-response.json",
    ),
    _e(
        "auth",
        "listRoles2",
        "GET",
        "/roles2/",
        query=("continuationToken", "limit"),
        scopes="auth:list-roles",
        output="list-roles2-response.json",
    ),
    _e(
        "auth",
        "listRoleIds",
        "GET",
        "/roleids/",
        query=("continuationToken", "limit"),
        scopes="auth:list-roles",
        output="list-role-ids-response.json",
    ),
    _e(
        "auth",
        "role",
        "GET",
        "/roles/<roleId>",
        scopes="auth:get-role:<roleId>",
        output="get-role-response.json",
    ),
    _e(
        "auth",
        "createRole",
        "PUT",
        "/roles/<roleId>",
        scopes={
            "AllOf": [
                "auth:create-role:<roleId>",
                {"each": "<scope>", "for": "scope", "in": "scopes"},
            ]
        },
        input="create-role-request.json",
        output="get-role-response.json",
    ),
    _e(
        "auth",
        "updateRole",
        "POST",
        "/roles/<roleId>",
        scopes={
            "AllOf": [
                "auth:update-role:<roleId>",
                {"each": "<scope>", "for": "scope", "in": "scopesAdded"},
            ]
        },
        input="create-role-request.json",
        output="get-role-response.json",
    ),
    _e("auth", "deleteRole", "DELETE", "/roles/<roleId>", scopes="auth:delete-role:<roleId>"),
    _e(
        "auth",
        "expandScopes",
        "POST",
        "/scopes/expand",
        scopes="auth:expand-scopes",
        input="scopeset.json",
        output="scopeset.json",
    ),
    _e(
        "auth",
        "currentScopes",
        "GET",
        "/scopes/current",
        scopes="auth:current-scopes",
        output="scopeset.json",
    ),
    _e(
        "auth",
        "awsS3Credentials",
        "GET",
        "/aws/s3/<level>/<bucket>/<prefix>",
        query=("format",),
        scopes={
            "else": "auth:aws-s3:read-write:<bucket>/<prefix>",
            "if": "levelIsReadOnly",
            "then": {
                "AnyOf": [
                    "auth:aws-s3:read-only:<bucket>/<prefix>",
                    "auth:aws-s3:read-write:<bucket>/<prefix>",
                ]
            },
        },
        output="aws-s3-credentials-response.json",
    ),
    _e(
        "auth",
        "azureAccounts",
        "GET",
        "/azure/accounts",
        scopes="auth:azure-table:list-accounts",
        output="azure-account-list-response.json",
        stability="deprecated",
    ),
    _e(
        "auth",
        "azureTables",
        "GET",
        "/azure/<account>/tables",
        query=("continuationToken",),
        scopes="auth:azure-table:list-tables:<account>",
        output="azure-table-list-response.json",
        stability="deprecated",
    ),
    _e(
        "auth",
        "azureTableSAS",
        "GET",
        "/azure/<account>/table/<table>/<level>",
        scopes={
            "else": "auth:azure-table:read-write:<account>/<table>",
            "if": "levelIsReadOnly",
            "then": {
                "AnyOf": [
                    "auth:azure-table:read-only:<account>/<table>",
                    "auth:azure-table:read-write:<account>/<table>",
                ]
            },
        },
        output="azure-table-access-response.json",
        stability="deprecated",
    ),
    _e(
        "auth",
        "azureContainers",
        "GET",
        "/azure/<account>/containers",
        query=("continuationToken",),
        scopes="auth:azure-container:list-containers:<account>",
        output="azure-container-list-response.json",
        stability="deprecated",
    ),
    _e(
        "auth",
        "azureContainerSAS",
        "GET",
        "/azure/<account>/containers/<container>/<level>",
        scopes={
            "else": "auth:azure-container:read-write:<account>/<container>",
            "if": "levelIsReadOnly",
            "then": {
                "AnyOf": [
                    "auth:azure-container:read-only:<account>/<container>",
                    "auth:azure-container:read-write:<account>/<container>",
                ]
            },
        },
        output="azure-container-response.json",
        stability="deprecated",
    ),
    _e(
        "auth",
        "sentryDSN",
        "GET",
        "/sentry/<project>/dsn",
        scopes="auth:sentry:<project>",
        output="sentry-dsn-response.json",
    ),
    _e(
        "auth",
        "websocktunnelToken",
        "GET",
        "/websocktunnel/<wstAudience>/<wstClient>",
        scopes="auth:websocktunnel-token:<wstAudience>/<wstClient>",
        output="websocktunnel-token-response.json",
    ),
    _e(
        "auth",
        "gcpCredentials",
        "GET",
        "/gcp/credentials/<projectId>/<serviceAccount>",
        scopes="auth:gcp:access-token:<projectId>/<serviceAccount>",
        output="gcp-credentials-response.json",
    ),
    _e(
        "auth",
        "githubRepoToken",
        "POST",
        "/github/<appName>/<owner>/repo-token",
        scopes={
            "AllOf": [
                {
                    "each": "auth:github-repo-token:<appName>/<owner>/<repoPerm>",
                    "for": "repoPerm",
                    "in": "repoPerms",
                }
            ]
        },
        input="github-repo-token-request.json",
        output="github-token-response.json",
        stability="experimental",
    ),
    _e(
        "auth",
        "authenticateHawk",
        "POST",
        "/authenticate-hawk",
        input="authenticate-hawk-request.json",
        output="authenticate-hawk-response.json",
    ),
    _e(
        "auth",
        "testAuthenticate",
        "POST",
        "/test-authenticate",
        input="test-authenticate-request.json",
        output="test-authenticate-response.json",
    ),
    _e(
        "auth",
        "testAuthenticateGet",
        "GET",
        "/test-authenticate-get/",
        output="test-authenticate-response.json",
    ),
    _e("auth", "heartbeat", "GET", "/__heartbeat__"),
    _e("secrets", "ping", "GET", "/ping"),
    _e("secrets", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("secrets", "version", "GET", "/__version__"),
    _e("secrets", "set", "PUT", "/secret/<name>", scopes="secrets:set:<name>", input="secret.json"),
    _e("secrets", "remove", "DELETE", "/secret/<name>", scopes="secrets:set:<name>"),
    _e(
        "secrets", "get", "GET", "/secret/<name>", scopes="secrets:get:<name>", output="secret.json"
    ),
    _e(
        "secrets",
        "list",
        "GET",
        "/secrets",
        query=("continuationToken", "limit"),
        scopes="secrets:list-secrets",
        output="secret-list.json",
    ),
    _e("secrets", "heartbeat", "GET", "/__heartbeat__"),
    _e(
        "queue",
        "listProvisioners",
        "GET",
        "/provisioners",
        query=("continuationToken", "limit"),
        scopes="queue:list-provisioners",
        output="list-provisioners-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "getProvisioner",
        "GET",
        "/provisioners/<provisionerId>",
        scopes="queue:get-provisioner:<provisionerId>",
        output="provisioner-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "listWorkerTypes",
        "GET",
        "/provisioners/<provisionerId>/worker-types",
        query=("continuationToken", "limit"),
        scopes="queue:list-worker-types:<provisionerId>",
        output="list-workertypes-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "getWorkerType",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>",
        scopes="queue:get-worker-type:<provisionerId>/<workerType>",
        output="workertype-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "listWorkers",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers",
        query=("continuationToken", "limit", "quarantined"),
        scopes="queue:list-workers:<provisionerId>/<workerType>",
        output="list-workers-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "getWorker",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>",
        scopes="queue:get-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>",
        output="worker-response.json",
        stability="deprecated",
    ),
    _e(
        "queue",
        "quarantineWorker",
        "PUT",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>",
        scopes={
            "AllOf": [
                "queue:quarantine-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>"
            ]
        },
        input="quarantine-worker-request.json",
        output="worker-response.json",
        stability="experimental",
    ),
    _e(
        "queue",
        "declareWorker",
        "PUT",
        "/provisioners/<provisionerId>/worker-types/<workerType>/<workerGroup>/<workerId>",
        scopes={
            "AllOf": [
                {
                    "each": "queue:declare-worker:<provisionerId>/<workerType>/"
                    "<workerGroup>/<workerId>#<property>",
                    "for": "property",
                    "in": "properties",
                }
            ]
        },
        input="update-worker-request.json",
        output="worker-response.json",
        stability="experimental",
    ),
    _e("hooks", "ping", "GET", "/ping"),
    _e("hooks", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("hooks", "version", "GET", "/__version__"),
    _e(
        "hooks",
        "listHookGroups",
        "GET",
        "/hooks",
        scopes="hooks:list-hooks:",
        output="list-hook-groups-response.json",
    ),
    _e(
        "hooks",
        "listHooks",
        "GET",
        "/hooks/<hookGroupId>",
        scopes="hooks:list-hooks:<hookGroupId>",
        output="list-hooks-response.json",
    ),
    _e(
        "hooks",
        "hook",
        "GET",
        "/hooks/<hookGroupId>/<hookId>",
        scopes="hooks:get:<hookGroupId>:<hookId>",
        output="hook-definition.json",
    ),
    _e(
        "hooks",
        "getHookStatus",
        "GET",
        "/hooks/<hookGroupId>/<hookId>/status",
        scopes="hooks:status:<hookGroupId>/<hookId>",
        output="hook-status.json",
        stability="deprecated",
    ),
    _e(
        "hooks",
        "createHook",
        "PUT",
        "/hooks/<hookGroupId>/<hookId>",
        scopes={
            "AllOf": [
                "hooks:modify-hook:<hookGroupId>/<hookId>",
                "assume:hook-id:<hookGroupId>/<hookId>",
            ]
        },
        input="create-hook-request.json",
        output="hook-definition.json",
    ),
    _e(
        "hooks",
        "updateHook",
        "POST",
        "/hooks/<hookGroupId>/<hookId>",
        scopes={
            "AllOf": [
                "hooks:modify-hook:<hookGroupId>/<hookId>",
                "assume:hook-id:<hookGroupId>/<hookId>",
            ]
        },
        input="create-hook-request.json",
        output="hook-definition.json",
    ),
    _e(
        "hooks",
        "removeHook",
        "DELETE",
        "/hooks/<hookGroupId>/<hookId>",
        scopes="hooks:modify-hook:<hookGroupId>/<hookId>",
    ),
    _e(
        "hooks",
        "triggerHook",
        "POST",
        "/hooks/<hookGroupId>/<hookId>/trigger",
        scopes="hooks:trigger-hook:<hookGroupId>/<hookId>",
        input="trigger-hook.json",
        output="trigger-hook-response.json",
    ),
    _e(
        "hooks",
        "getTriggerToken",
        "GET",
        "/hooks/<hookGroupId>/<hookId>/token",
        scopes="hooks:get-trigger-token:<hookGroupId>/<hookId>",
        output="trigger-token-response.json",
    ),
    _e(
        "hooks",
        "resetTriggerToken",
        "POST",
        "/hooks/<hookGroupId>/<hookId>/token",
        scopes="hooks:reset-trigger-token:<hookGroupId>/<hookId>",
        output="trigger-token-response.json",
    ),
    _e(
        "hooks",
        "triggerHookWithToken",
        "POST",
        "/hooks/<hookGroupId>/<hookId>/trigger/<token>",
        input="trigger-hook.json",
        output="trigger-hook-response.json",
    ),
    _e(
        "hooks",
        "listLastFires",
        "GET",
        "/hooks/<hookGroupId>/<hookId>/last-fires",
        query=("continuationToken", "limit"),
        scopes="hooks:list-last-fires:<hookGroupId>/<hookId>",
        output="list-lastFires-response.json",
    ),
    _e("hooks", "heartbeat", "GET", "/__heartbeat__"),
    _e("notify", "ping", "GET", "/ping"),
    _e("notify", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("notify", "version", "GET", "/__version__"),
    _e(
        "notify",
        "email",
        "POST",
        "/email",
        scopes="notify:email:<address>",
        input="email-request.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "pulse",
        "POST",
        "/pulse",
        scopes="notify:pulse:<routingKey>",
        input="pulse-request.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "matrix",
        "POST",
        "/matrix",
        scopes="notify:matrix-room:<roomId>",
        input="matrix-request.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "slack",
        "POST",
        "/slack",
        scopes="notify:slack-channel:<channelId>",
        input="slack-request.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "addDenylistAddress",
        "POST",
        "/denylist/add",
        scopes="notify:manage-denylist",
        input="notification-address.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "deleteDenylistAddress",
        "DELETE",
        "/denylist/delete",
        scopes="notify:manage-denylist",
        input="notification-address.json",
        stability="experimental",
    ),
    _e(
        "notify",
        "listDenylist",
        "GET",
        "/denylist/list",
        query=("continuationToken", "limit"),
        scopes="notify:manage-denylist",
        output="notification-address-list.json",
        stability="experimental",
    ),
    _e("notify", "heartbeat", "GET", "/__heartbeat__"),
    _e("purge-cache", "ping", "GET", "/ping"),
    _e("purge-cache", "lbheartbeat", "GET", "/__lbheartbeat__"),
    _e("purge-cache", "version", "GET", "/__version__"),
    _e(
        "purge-cache",
        "purgeCache",
        "POST",
        "/purge-cache/<workerPoolId>",
        scopes="purge-cache:<workerPoolId>:<cacheName>",
        input="purge-cache-request.json",
    ),
    _e(
        "purge-cache",
        "allPurgeRequests",
        "GET",
        "/purge-cache/list",
        query=("continuationToken", "limit"),
        scopes="purge-cache:all-purge-requests",
        output="all-purge-cache-request-list.json",
    ),
    _e(
        "purge-cache",
        "purgeRequests",
        "GET",
        "/purge-cache/<workerPoolId>",
        query=("since",),
        scopes="purge-cache:purge-requests::<workerPoolId>",
        output="purge-cache-request-list.json",
    ),
    _e("purge-cache", "heartbeat", "GET", "/__heartbeat__"),
]

#: Every endpoint, keyed by ``(service, name)``.
ENDPOINTS: dict[tuple[str, str], Endpoint] = {(e.service, e.name): e for e in _ALL}


def endpoint(service: str, name: str) -> Endpoint:
    """Look up an endpoint by service and entry name.

    Raises ``ValueError`` for an entry tcmodel does not know.

    Example:
        >>> endpoint("index", "findTask").route
        '/task/<indexPath>'
        >>> endpoint("index", "nope")
        Traceback (most recent call last):
        ...
        ValueError: unknown API entry index.nope
    """
    found = ENDPOINTS.get((service, name))
    if found is None:
        raise ValueError(f"unknown API entry {service}.{name}")
    return found
