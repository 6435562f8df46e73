"""The emulated hooks service of the local cluster.

A hook is a task template (rendered with JSON-e, as the real service does,
with the official ``json-e`` package) that creates a task when it is
triggered: by ``triggerHook``, by ``triggerHookWithToken`` (the secret
trigger token is the credential), or by its cron ``schedule`` when the
cluster clock passes the next scheduled date. The task is created through
the emulated queue as the hooks service's own client with the scopes of the
role ``hook-id:<hookGroupId>/<hookId>`` (give them with
``lc.add_role("hook-id:group/id", [...])``); without enough of them the
trigger answers 403 naming the role. Every firing is listed by
``listLastFires`` (newest first, with the task's current state).

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState()
    >>> st.hooks.hooks, next_date(["0 0 12 * * *"], 0.0)
    ({}, 43200.0)
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.api import endpoint
from tcmodel.testing._common import error_body
from tcmodel.testing._core import ApiError, Request, Service, handles, iso
from tcmodel.testing.queue_model import not_found, paginate, with_token
from tcmodel.testing.queue_validate import (
    Check,
    Invalid,
    array,
    boolean,
    obj,
    string,
    validate_body,
)
from tcmodel.utils import is_slug_id, slug_id

if TYPE_CHECKING:
    from tcmodel.testing.state import ClusterState

__all__ = ["HOOKS_CLIENT_ID", "HookRecord", "HooksService", "LastFire", "next_date"]

#: The client as which the hooks service creates tasks.
HOOKS_CLIENT_ID = "static/taskcluster/hooks"

_DEFAULT_TRIGGER_SCHEMA = {"type": "object", "additionalProperties": False}
_SCHEDULE_SEARCH_DAYS = 5 * 366


def _json_object(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise Invalid(path, "must be object")


_HOOK_ID = r"^([a-zA-Z0-9-_/]*)$"
_CREATE_HOOK: Check = obj(
    {
        "hookGroupId": string(pattern=r"^([a-zA-Z0-9-_]*)$", min_len=1, max_len=1000),
        "hookId": string(pattern=_HOOK_ID, min_len=1, max_len=1000),
        "metadata": obj(
            {
                "name": string(max_len=255),
                "description": string(max_len=32768),
                "owner": string(pattern=r"^[^@\s]+@[^@\s]+$", max_len=255),
                "emailOnError": boolean(),
            },
            required=("name", "description", "owner"),
        ),
        "schedule": array(string(), unique=True),
        "bindings": array(
            obj(
                {"exchange": string(min_len=1), "routingKeyPattern": string(min_len=1)},
                required=("exchange", "routingKeyPattern"),
            ),
            unique=True,
        ),
        "task": _json_object,
        "triggerSchema": _json_object,
    },
    required=("metadata", "task"),
)


# -- cron schedules --------------------------------------------------------------

_CRON_FIELDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # s m h dom mon dow


def _cron_field(text: str, low: int, high: int, expr: str) -> frozenset[int]:
    """The values one cron field allows (``*``, ``a-b``, ``a,b``, ``*/n``, ``a-b/n``)."""
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if spec == "*":
                first, last = low, high
            else:
                a, _, b = spec.partition("-")
                first, last = int(a), int(b) if b else (high if step_text else int(a))
        except ValueError:
            bad = next((c for c in part if not (c.isdigit() or c in "*-/")), part)
            raise ApiError(
                400, "InputError", f"Invalid characters, got value: {bad} in {expr}"
            ) from None
        if step < 1 or not (low <= first <= last <= high):
            raise ApiError(400, "InputError", f"Constraint error, got range {part} in {expr}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _parse_cron(expr: str) -> list[frozenset[int]]:
    """A 5- or 6-field cron expression (seconds first when 6) as value sets."""
    parts = expr.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        bad = next((c for c in expr if not (c.isdigit() or c in "*-/, ")), expr)
        raise ApiError(400, "InputError", f"Invalid characters, got value: {bad} in {expr}")
    fields = [_cron_field(p, lo, hi, expr) for p, (lo, hi) in zip(parts, _CRON_FIELDS, strict=True)]
    if 7 in fields[5]:
        fields[5] = fields[5] | {0}  # 7 is Sunday too
    return fields


def _next_of(fields: list[frozenset[int]], after: float) -> float | None:
    secs, mins, hours, doms, months, dows = fields
    start = datetime.fromtimestamp(int(after), tz=timezone.utc)
    day = start.replace(hour=0, minute=0, second=0)
    for _ in range(_SCHEDULE_SEARCH_DAYS):
        if day.month in months and day.day in doms and (day.isoweekday() % 7) in dows:
            for h in sorted(hours):
                for m in sorted(mins):
                    for s in sorted(secs):
                        when = day.replace(hour=h, minute=m, second=s).timestamp()
                        if when > after:
                            return when
        day += timedelta(days=1)
    return None


def next_date(schedule: Sequence[str], after: float) -> float | None:
    """The first time after ``after`` (Unix seconds) at which a cron
    ``schedule`` fires (UTC; six fields, seconds first, or five), or
    ``None`` for an empty schedule. Raises a 400 ``InputError``
    :class:`~tcmodel.testing._core.ApiError` for an invalid expression.

    Example:
        >>> iso(next_date(["0 30 * * * *"], 0.0))
        '1970-01-01T00:30:00.000Z'
        >>> next_date(["not a cron"], 0.0)
        Traceback (most recent call last):
        ...
        tcmodel.testing._core.ApiError: 400 InputError: Invalid characters, ... in not a cron
    """
    dates = [_next_of(_parse_cron(expr), after) for expr in schedule]
    found = [d for d in dates if d is not None]
    return min(found) if found else None


# -- records -------------------------------------------------------------------------


@attrs.define
class LastFire:
    """One firing of a hook, as ``listLastFires`` lists it.

    ``error`` is the failed ``createTask``'s error as a JSON object
    (``None`` when the task was created).

    Example:
        >>> LastFire("triggerHook", "Dx4tPEtaRpeIeWpbTD0uHw", 0.0).result
        'success'
    """

    fired_by: str
    task_id: str
    time: float
    error: dict[str, Any] | None = None

    @property
    def result(self) -> str:
        """``"success"`` or ``"error"``.

        Example:
            >>> LastFire("schedule", "Dx4tPEtaRpeIeWpbTD0uHw", 0.0, {"code": "x"}).result
            'error'
        """
        return "success" if self.error is None else "error"

    def status(self) -> dict[str, Any]:
        """The ``lastFire`` of ``getHookStatus``.

        Example:
            >>> LastFire("triggerHook", "Dx4tPEtaRpeIeWpbTD0uHw", 0.0).status()["result"]
            'success'
        """
        if self.error is None:
            return {"result": "success", "taskId": self.task_id, "time": iso(self.time)}
        return {"result": "error", "error": self.error, "time": iso(self.time)}


@attrs.define
class HookRecord:
    """A hook: its definition, secret trigger token, schedule and firings
    (newest last). ``next_scheduled`` is cluster-clock seconds or ``None``.

    Example:
        >>> h = HookRecord({"hookGroupId": "g", "hookId": "h", "schedule": []}, "t0k3n")
        >>> "t0k3n" in repr(h)
        False
    """

    definition: dict[str, Any]
    token: str = attrs.field(repr=False)
    next_scheduled: float | None = None
    fires: list[LastFire] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The body of ``hook`` (the definition, without any secret).

        Example:
            >>> HookRecord({"hookGroupId": "g", "hookId": "h"}, "x").to_json()["hookId"]
            'h'
        """
        return copy.deepcopy(self.definition)


def _with_defaults(body: dict[str, Any], group: str, hook: str) -> dict[str, Any]:
    """The request body as the service takes it: schema defaults and ids."""
    out = copy.deepcopy(body)
    out.setdefault("schedule", [])
    out.setdefault("triggerSchema", dict(_DEFAULT_TRIGGER_SCHEMA))
    out["metadata"].setdefault("emailOnError", True)
    out["hookGroupId"], out["hookId"] = group, hook
    return out


def _definition(hook_def: dict[str, Any], bindings: list[Any]) -> dict[str, Any]:
    keys = ("metadata", "task", "schedule", "triggerSchema")
    return {
        "hookId": hook_def["hookId"],
        "hookGroupId": hook_def["hookGroupId"],
        "bindings": bindings,
        **{k: hook_def[k] for k in keys},
    }


class HooksService(Service):
    """The emulated hooks service.

    ``hooks`` maps (hookGroupId, hookId) to :class:`HookRecord`;
    ``denied_exchanges`` are the exchange prefixes a binding may not use.

    Example:
        >>> HooksService.name, "triggerHook" in HooksService.handler_names()
        ('hooks', True)
    """

    name = "hooks"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self.hooks: dict[tuple[str, str], HookRecord] = {}
        self.denied_exchanges: list[str] = ["exchange/taskcluster-queue/v1/task-created"]

    # -- definitions -----------------------------------------------------------

    def _hook(self, req: Request) -> HookRecord:
        found = self.hooks.get((req.params["hookGroupId"], req.params["hookId"]))
        if found is None:
            raise not_found("No such hook")
        return found

    def _checked(self, req: Request) -> dict[str, Any]:
        """The validated body, with defaults and ids; 400s as the service's."""
        validate_body(_CREATE_HOOK, req.body, "create-hook-request.json")
        group, hook = req.params["hookGroupId"], req.params["hookId"]
        if req.body.get("hookGroupId", group) != group:
            raise ApiError(400, "InputError", "Hook Group Ids do not match")
        if req.body.get("hookId", hook) != hook:
            raise ApiError(400, "InputError", "Hook Ids do not match")
        hook_def = _with_defaults(req.body, group, hook)
        req.authorize()
        next_date(hook_def["schedule"], req.now)  # 400 for a bad expression
        _check_schema(hook_def["triggerSchema"])
        return hook_def

    def _check_bindings(self, bindings: list[dict[str, Any]]) -> None:
        if any(b["exchange"].startswith(d) for d in self.denied_exchanges for b in bindings):
            raise ApiError(
                400,
                "InputError",
                "These bindings name exchanges that hooks may not listen to:\n"
                + json.dumps(bindings, separators=(",", ":")),
            )

    @handles("createHook")
    def _api_create_hook(self, req: Request) -> Any:
        """``PUT /hooks/<hookGroupId>/<hookId>``: create a hook (again with
        the identical definition: 200; with another: 409)."""
        hook_def = self._checked(req)
        bindings = hook_def.get("bindings", [])
        self._check_bindings(bindings)
        key = (hook_def["hookGroupId"], hook_def["hookId"])
        existing = self.hooks.get(key)
        if existing is None:
            when = next_date(hook_def["schedule"], req.now)
            self.hooks[key] = HookRecord(_definition(hook_def, bindings), slug_id(), when)
            self._announce("created", *key)
        elif existing.definition != hook_def:
            raise ApiError(
                409,
                "RequestConflict",
                f"Hook `{key[0]}/{key[1]}` exists already, with another body.",
            )
        return hook_def

    @handles("updateHook")
    def _api_update_hook(self, req: Request) -> Any:
        """``POST /hooks/<hookGroupId>/<hookId>``: replace the definition
        (bindings kept unless given)."""
        hook_def = self._checked(req)
        record = self._hook(req)
        bindings = hook_def.get("bindings", record.definition["bindings"])
        self._check_bindings(bindings)
        record.definition = _definition(hook_def, bindings)
        record.next_scheduled = next_date(hook_def["schedule"], req.now)
        self._announce("updated", req.params["hookGroupId"], req.params["hookId"])
        return record.to_json()

    @handles("removeHook")
    def _api_remove_hook(self, req: Request) -> Any:
        """``DELETE /hooks/<hookGroupId>/<hookId>``: remove it and its
        firings (200 also when there is no such hook)."""
        if self.hooks.pop((req.params["hookGroupId"], req.params["hookId"]), None) is not None:
            self._announce("deleted", req.params["hookGroupId"], req.params["hookId"])
        return {}

    def _announce(self, kind: str, hook_group_id: str, hook_id: str) -> None:
        """Publish ``hook-<kind>`` when the cluster publishes to Pulse."""
        pulse = self.cluster.queue.pulse
        if pulse is not None:
            from tcmodel.testing.pulse import hook_message

            pulse.publish(hook_message(kind, hook_group_id, hook_id))

    @handles("hook")
    def _api_hook(self, req: Request) -> Any:
        """``GET /hooks/<hookGroupId>/<hookId>``: the definition."""
        return self._hook(req).to_json()

    @handles("listHookGroups")
    def _api_list_hook_groups(self, req: Request) -> Any:
        """``GET /hooks``: the groups that have hooks."""
        return {"groups": sorted({group for group, _ in self.hooks})}

    @handles("listHooks")
    def _api_list_hooks(self, req: Request) -> Any:
        """``GET /hooks/<hookGroupId>``: the group's hook definitions, by id."""
        group = req.params["hookGroupId"]
        found = [h.to_json() for (g, _), h in sorted(self.hooks.items()) if g == group]
        if not found:
            raise not_found("No such group")
        return {"hooks": found}

    @handles("getHookStatus")
    def _api_get_hook_status(self, req: Request) -> Any:
        """``GET .../status``: the last firing and the next scheduled one."""
        record = self._hook(req)
        out: dict[str, Any] = {
            "lastFire": record.fires[-1].status() if record.fires else {"result": "no-fire"}
        }
        if record.definition["schedule"] and record.next_scheduled is not None:
            out["nextScheduledDate"] = iso(record.next_scheduled)
        return out

    @handles("listLastFires")
    def _api_list_last_fires(self, req: Request) -> Any:
        """``GET .../last-fires``: the firings, newest first, paged."""
        group, hook_id = req.params["hookGroupId"], req.params["hookId"]
        record = self.hooks.get((group, hook_id))
        fires = list(reversed(record.fires)) if record is not None else []
        page, token = paginate(req.query, fires, self.cluster.settings.max_page_size)
        if not page:
            raise not_found("No such hook or never fired")
        rows = [
            {
                "hookGroupId": group,
                "hookId": hook_id,
                "firedBy": f.fired_by,
                "taskId": f.task_id,
                "taskCreateTime": iso(f.time),
                "result": f.result,
                "error": "" if f.error is None else json.dumps(f.error, indent=2),
                "taskState": self._task_state(f.task_id),
            }
            for f in page
        ]
        return with_token({"lastFires": rows}, token)

    def _task_state(self, task_id: str) -> str:
        task = self.cluster.queue.tasks.get(task_id)
        return task.state if task is not None else "unknown"

    # -- tokens ----------------------------------------------------------------

    @handles("getTriggerToken")
    def _api_get_trigger_token(self, req: Request) -> Any:
        """``GET .../token``: the hook's trigger token (a secret)."""
        return {"token": self._hook(req).token}

    @handles("resetTriggerToken")
    def _api_reset_trigger_token(self, req: Request) -> Any:
        """``POST .../token``: a new trigger token; the old one stops working."""
        record = self._hook(req)
        record.token = slug_id()
        return {"token": record.token}

    # -- firing --------------------------------------------------------------------

    @handles("triggerHook")
    def _api_trigger_hook(self, req: Request) -> Any:
        """``POST .../trigger``: fire the hook with the body as ``payload``."""
        payload = _payload(req)
        return self._trigger(req, self._hook(req), payload, "triggerHook")

    @handles("triggerHookWithToken")
    def _api_trigger_hook_with_token(self, req: Request) -> Any:
        """``POST .../trigger/<token>``: fire the hook; the token is the
        credential (401 ``invalid hook token`` otherwise)."""
        payload = _payload(req)
        record = self._hook(req)
        if not hmac.compare_digest(req.params["token"].encode(), record.token.encode()):
            raise ApiError(401, "AuthenticationFailed", "invalid hook token")
        return self._trigger(req, record, payload, "triggerHookWithToken")

    def _trigger(
        self, req: Request, record: HookRecord, payload: dict[str, Any], fired_by: str
    ) -> Any:
        _check_payload(record.definition["triggerSchema"], payload)
        task_id = payload.get("taskId", slug_id())
        if not is_slug_id(task_id):
            raise ApiError(400, "InputError", f"Invalid taskId format: {task_id}")
        context = {"firedBy": fired_by, "payload": payload}
        if fired_by == "triggerHook" and req.client_id:
            context["clientId"] = req.client_id
        created = self.fire(record, context, task_id, req.now)
        if created is None:
            return {}
        return {"taskId": created, "status": {"taskId": created}}

    def fire(
        self, record: HookRecord, context: dict[str, Any], task_id: str, now: float
    ) -> str | None:
        """Render the hook's task with ``context`` and create it through the
        queue with the role ``hook-id:<group>/<id>``; record the firing.

        Returns the taskId, or ``None`` when the template renders nothing.
        Raises the :class:`~tcmodel.testing._core.ApiError` the trigger
        answers when the queue refuses the task (403 naming the role, or
        400 ``InputError`` naming the failed createTask).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.roles["hook-id:g/h"] = ("queue:create-task:*", "queue:scheduler-id:*")
            >>> rec = HookRecord({"hookGroupId": "g", "hookId": "h", "task": {
            ...     "taskQueueId": "proj/ci", "payload": {"by": {"$eval": "firedBy"}},
            ...     "metadata": {"name": "n", "description": "d", "owner": "o@example.com",
            ...                  "source": "https://example.com"}}}, "tok")
            >>> task_id = st.hooks.fire(rec, {"firedBy": "schedule"}, slug_id(), st.clock.now())
            >>> st.queue.get_task(task_id)["payload"], rec.fires[0].result
            ({'by': 'schedule'}, 'success')
        """
        fired_by = context["firedBy"]
        try:
            task = self._render(record, context, task_id, now)
        except ApiError as err:  # a template that does not render
            record.fires.append(LastFire(fired_by, task_id, now, {"message": err.message}))
            raise
        if task is None:
            return None
        group, hook_id = record.definition["hookGroupId"], record.definition["hookId"]
        try:
            self._create_task(group, hook_id, task_id, task, now)
        except ApiError as err:
            body = _error_body(err, task_id, task, now)
            record.fires.append(LastFire(fired_by, task_id, now, _fire_error(err, body)))
            raise _trigger_error(err, body, group, hook_id) from None
        record.fires.append(LastFire(fired_by, task_id, now))
        return task_id

    @staticmethod
    def _render(
        record: HookRecord, context: dict[str, Any], task_id: str, now: float
    ) -> dict[str, Any] | None:
        jsone = _extra("jsone")
        full = {**context, "taskId": task_id, "now": iso(now)}
        try:
            task = jsone.render(record.definition["task"], full)
        except jsone.JSONTemplateError as e:
            raise ApiError(400, "InputError", f"While firing hook:\n\n{e}") from None
        if task is None:
            return None
        if not isinstance(task, dict):
            raise ApiError(400, "InputError", "While firing hook:\n\nthe task is not an object")
        day = 86400.0
        task.setdefault("created", iso(now))
        task.setdefault("deadline", iso(now + day))
        task.setdefault("expires", iso(now + 30 * day))
        task.setdefault("taskGroupId", task_id)
        return task

    def _create_task(
        self, group: str, hook_id: str, task_id: str, task: dict[str, Any], now: float
    ) -> None:
        """``queue.createTask`` as the hooks client, with the hook role's scopes."""
        scopes = self.cluster.auth.authenticator.expand([f"assume:hook-id:{group}/{hook_id}"])
        req = Request(
            endpoint=endpoint("queue", "createTask"),
            params={"taskId": task_id},
            body=task,
            client_id=HOOKS_CLIENT_ID,
            scopes=scopes,
            now=now,
            root_url=self.cluster.root_url,
        )
        handler = self.cluster.queue.handler("createTask")
        assert handler is not None
        handler(req)

    # -- schedules --------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Fire the scheduled hooks whose next date has passed (once each,
        however many dates passed), then schedule their next firing.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.hooks.tick(st.clock.now())  # no hooks: nothing to do
        """
        for record in list(self.hooks.values()):
            due = record.next_scheduled
            if due is None or due > now:
                continue
            record.next_scheduled = next_date(record.definition["schedule"], now)
            with contextlib.suppress(ApiError):  # recorded as an error firing
                self.fire(record, {"firedBy": "schedule"}, slug_id(), now)


# -- errors -----------------------------------------------------------------------


def _error_body(err: ApiError, task_id: str, task: dict[str, Any], now: float) -> dict[str, Any]:
    """The error body the queue answered to the hooks service."""
    return error_body(
        "createTask",
        err.code,
        err.message,
        err.status,
        params={"taskId": task_id},
        payload=task,
        now=now,
    )


def _fire_error(err: ApiError, body: dict[str, Any]) -> dict[str, Any]:
    """A failed firing's error, as the service records it."""
    return {
        "name": "Error",
        "message": body["message"],
        "code": err.code,
        "statusCode": err.status,
        "body": body,
    }


def _trigger_error(err: ApiError, body: dict[str, Any], group: str, hook_id: str) -> ApiError:
    if err.code == "InsufficientScopes":
        return ApiError(
            403,
            "InsufficientScopes",
            f"The hook's role `hook-id:{group}/{hook_id}` lacks scopes its task needs; "
            f"the queue's createTask answered:\n\n{body['message']}",
        )
    return ApiError(
        400,
        "InputError",
        f"The queue's createTask refused the task ({err.code}):\n\n{body['message']}",
    )


# -- trigger schemas -------------------------------------------------------------------


def _payload(req: Request) -> dict[str, Any]:
    """The trigger payload: the body (``{}`` without one), which must be an object."""
    payload = req.body if req.body is not None else {}
    validate_body(_json_object, payload, "trigger-hook.json")
    assert isinstance(payload, dict)
    return payload


def _extra(module: str) -> Any:
    """``module`` of the ``local`` extra (JSON-e, jsonschema: what the real
    hooks service renders and validates with); without it the request gets
    a 500 whose message says what to install."""
    from tcmodel._extras import MissingExtra, require

    try:
        return require(module, "local")
    except MissingExtra as e:
        raise ApiError(500, "InternalServerError", f"the local cluster's hooks: {e}") from None


def _check_schema(schema: dict[str, Any]) -> None:
    """400 ``InputError`` unless ``schema`` is a valid JSON schema."""
    jsonschema = _extra("jsonschema")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ApiError(
            400, "InputError", f"triggerSchema is not a valid JSON schema:\n * {e.message}"
        ) from None


def _check_payload(schema: dict[str, Any], payload: Any) -> None:
    """400 ``InputError`` naming each place where ``payload`` breaks ``schema``."""
    validators = _extra("jsonschema").validators
    validator = validators.validator_for(schema)(schema)
    problems = [
        "data" + "".join(f"/{p}" for p in e.absolute_path) + f" {e.message}"
        for e in validator.iter_errors(payload)
    ]
    if problems:
        raise ApiError(400, "InputError", "; ".join(problems))
