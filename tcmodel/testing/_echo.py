"""The ``requestInfo.payload`` of an error body, as the real services show it.

The real services validate a request body in place: the JSON schema's
top-level defaults are filled in (also when validation then fails), and a few
handlers change the body further before they fail (createTask adds
``provisionerId``/``workerType``, createRole sorts the scopes, createHook
adds the hook's ids). Their error bodies echo that changed body; a body that
is not JSON at all is echoed as its text.

Example:
    >>> echoed_payload("notify", "email", {"address": "a@b.c"}, "InputError", {})
    {'address': 'a@b.c', 'template': 'simple'}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["SCHEMA_DEFAULTS", "echoed_payload"]

_TASK_DEFAULTS: dict[str, Any] = {
    "schedulerId": "-",
    "projectId": "none",
    "dependencies": [],
    "requires": "all-completed",
    "routes": [],
    "priority": "lowest",
    "retries": 5,
    "scopes": [],
    "tags": {},
    "extra": {},
}

_AUTH = ("InsufficientScopes", "AuthenticationFailed")  # answered before the handler ran

#: Top-level defaults of the request schemas, by (service, entry).
SCHEMA_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("queue", "createTask"): _TASK_DEFAULTS,
    ("queue", "tasks"): {"taskIds": []},
    ("queue", "statuses"): {"taskIds": []},
    ("queue", "claimWork"): {"tasks": 1},
    ("index", "findTasksAtIndex"): {"indexes": []},
    ("auth", "createClient"): {"deleteOnExpiration": False},
    ("auth", "testAuthenticate"): {"clientScopes": [], "requiredScopes": []},
    ("hooks", "createHook"): {"schedule": []},
    ("hooks", "updateHook"): {"schedule": []},
    ("notify", "email"): {"template": "simple"},
    ("notify", "matrix"): {"msgtype": "m.notice"},
    ("notify", "slack"): {"unfurlLinks": False, "unfurlMedia": False},
}


def echoed_payload(
    service: str, entry: str, body: Any, code: str, params: Mapping[str, str]
) -> Any:
    """The body as the error of ``service.entry`` (error ``code``) echoes it.

    Example:
        >>> echoed_payload("auth", "createRole", {"scopes": ["b", "a"]}, "RequestConflict", {})
        {'scopes': ['a', 'b']}
        >>> body = {"taskQueueId": "p/w"}
        >>> echoed_payload("queue", "createTask", body, "InputError", {})["workerType"]
        'w'
    """
    if not isinstance(body, dict) or code == "InvalidRequestArguments":
        return body  # checked before the body is even looked at
    out = copy.deepcopy(body)
    for key, value in SCHEMA_DEFAULTS.get((service, entry), {}).items():
        out.setdefault(key, copy.deepcopy(value))
    if code == "InputValidationError":
        return out  # the handler never ran
    if (service, entry) == ("queue", "createTask"):
        tq = out.get("taskQueueId")
        has_legacy = "provisionerId" in out or "workerType" in out
        if isinstance(tq, str) and "/" in tq and not has_legacy:
            out["provisionerId"], _, out["workerType"] = tq.partition("/")
    elif (service, entry) in (("auth", "createRole"), ("auth", "updateRole")):
        if isinstance(out.get("scopes"), list) and all(isinstance(s, str) for s in out["scopes"]):
            out["scopes"] = sorted(out["scopes"])
    elif service == "hooks" and entry in ("createHook", "updateHook") and code not in _AUTH:
        out.setdefault("hookGroupId", params.get("hookGroupId"))
        out.setdefault("hookId", params.get("hookId"))
    return out
