"""Hooks: task templates that create a task each time they are triggered.

A :class:`Hook` is a handle on ``hookGroupId/hookId``: making one sends
nothing; its definition (``hooks.hook``) and status (``getHookStatus``) load
on first read. :meth:`Hook.trigger` fires it and returns the task it made.
Trigger tokens are secrets: :class:`TriggerToken` never shows its value in
a repr.

The hook made in this example is the one the other examples of this module
use; the service creates its tasks with the scopes of role
``hook-id:demo/nightly``.

Example:
    >>> import tcmodel
    >>> hook = tcmodel.Cluster.from_url("https://tc.example.com").hook("proj", "nightly")
    >>> hook
    <Hook hookGroupId='proj' hookId='nightly'>
    >>> hook.ui_url
    'https://tc.example.com/hooks/proj/nightly'
    >>> lc.add_role("hook-id:demo/*", ["queue:create-task:*", "queue:scheduler-id:-"])
    >>> nightly = cluster.hook("demo", "nightly").create({
    ...     "metadata": {"name": "nightly", "description": "", "owner": "ci@example.com"},
    ...     "task": {
    ...         "taskQueueId": "proj/idle", "schedulerId": "-",
    ...         "created": {"$fromNow": "0 seconds"}, "deadline": {"$fromNow": "1 hour"},
    ...         "payload": {"branch": {"$eval": "payload.branch"}},
    ...         "metadata": {"name": "nightly build", "description": "", "owner": "ci@example.com",
    ...                      "source": "https://example.com/hooks"}},
    ...     "triggerSchema": {"type": "object", "properties": {"branch": {"type": "string"}}}})
    >>> nightly
    <Hook 'nightly' hookGroupId='demo' hookId='nightly'>
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from tcmodel.models import HookDefinition, HookFire, HookStatus, ModelDataError
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, _part, _status
from tcmodel.transport import Call, Op, Transport
from tcmodel.utils import check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["Hook", "TriggerToken"]

_HOOK_GROUP_ID = re.compile(r"[a-zA-Z0-9_-]{1,1000}")
_HOOK_ID = re.compile(r"[a-zA-Z0-9_/-]{1,1000}")


def _check_id(what: str, value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} must match {pattern.pattern}, not {value!r}")
    return value


class TriggerToken:
    """A hook's trigger token: whoever has it may fire the hook
    (``triggerHookWithToken``), so it is a secret. Its repr and ``str``
    never show it; read :attr:`value` to hand it on. It does not pickle.

    Example:
        >>> token = TriggerToken("proj/nightly", "s3cr3t-t0k3n")
        >>> token
        <TriggerToken of hook 'proj/nightly' (hidden: read .value)>
        >>> "s3cr3t" in repr(token) + str(token), token.value
        (False, 's3cr3t-t0k3n')
    """

    __slots__ = ("_hook", "_value")

    def __init__(self, hook: str, value: object) -> None:
        if not isinstance(value, str) or not value:
            raise ModelDataError("the answer holds no trigger token")
        self._hook = hook
        self._value: str = value

    @property
    def value(self) -> str:
        """The token itself (the secret).

        Example:
            >>> TriggerToken("proj/nightly", "abc").value
            'abc'
        """
        return self._value

    def __repr__(self) -> str:
        return f"<TriggerToken of hook {self._hook!r} (hidden: read .value)>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TriggerToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("TriggerToken", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a TriggerToken is a secret: it is not pickled")


class Hook(Resource):
    """Hook ``hook_id`` of group ``hook_group_id``.

    ``definition`` and ``status`` load on first read, once each;
    :meth:`refresh` forgets them. Actions put what the service answered in
    place: :meth:`create` and :meth:`update` the definition; :meth:`trigger`
    forgets the status (a new firing).

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> c.hook("proj", "nightly") == c.hook("proj", "nightly"), c.hook("proj", "a/b").hook_id
        (True, 'a/b')
        >>> c.hook("proj.x", "nightly")
        Traceback (most recent call last):
        ...
        ValueError: hookGroupId must match [a-zA-Z0-9_-]{1,1000}, not 'proj.x'
    """

    def __init__(
        self,
        cluster: Cluster,
        hook_group_id: str,
        hook_id: str,
        *,
        definition: HookDefinition | None = None,
    ) -> None:
        super().__init__(cluster)
        self._hook_group_id = _check_id("hookGroupId", hook_group_id, _HOOK_GROUP_ID)
        self._hook_id = _check_id("hookId", hook_id, _HOOK_ID)
        self._definition = definition
        self._status: HookStatus | None = None

    # identity

    @property
    def hook_group_id(self) -> str:
        """The hook's group (read-only).

        Example:
            >>> cluster.hook("proj", "nightly").hook_group_id
            'proj'
        """
        return self._hook_group_id

    @property
    def hook_id(self) -> str:
        """The hook's id within its group (read-only).

        Example:
            >>> cluster.hook("proj", "nightly").hook_id
            'nightly'
        """
        return self._hook_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("hookGroupId", self._hook_group_id), ("hookId", self._hook_id))

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return (("lastFire", self._status.result),) if self._status is not None else ()

    def _label(self) -> str | None:
        return self._definition.metadata.name if self._definition is not None else None

    @property
    def ui_url(self) -> str:
        """The hook's page in the web UI (no request).

        Example:
            >>> cluster.hook("proj", "nightly").ui_url
            'http://127.0.0.1:.../hooks/proj/nightly'
        """
        return self._cluster._ui_url("hooks", self._hook_group_id, self._hook_id)

    @property
    def url(self) -> str:
        """The API URL of the hook's definition (``hooks.hook``; no request).

        Example:
            >>> cluster.hook("proj", "nightly").url
            'http://127.0.0.1:.../api/hooks/v1/hooks/proj/nightly'
        """
        return self._cluster._api_url(self._call("hook"))

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of(
            "hooks", name, body=body, hookGroupId=self._hook_group_id, hookId=self._hook_id
        )

    # data

    @property
    def definition(self) -> HookDefinition:
        """The hook's definition: task template, schedule, trigger schema
        (``hooks.hook``, loaded once).

        Example:
            >>> cluster.hook("demo", "nightly").definition.metadata.name
            'nightly'
        """
        return self._cached("_definition", self._load_definition)

    async def adefinition(self) -> HookDefinition:
        """The async twin of :attr:`definition`.

        Example:
            >>> import asyncio
            >>> async def name() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.hook("demo", "nightly").adefinition()).metadata.name
            >>> asyncio.run(name())
            'nightly'
        """
        return await self._acached("_definition", self._load_definition)

    def _load_definition(self) -> Op[HookDefinition]:
        return self._transport.call(self._call("hook"), convert=HookDefinition._from_json)

    @property
    def status(self) -> HookStatus:
        """The last firing and the next scheduled one (``getHookStatus``,
        loaded once; :meth:`refresh` forgets it).

        Example:
            >>> cluster.hook("demo", "nightly").status.result in ("success", "error", "no-fire")
            True
        """
        return self._cached("_status", self._load_status)

    async def astatus(self) -> HookStatus:
        """The async twin of :attr:`status`.

        Example:
            >>> import asyncio
            >>> async def result() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.hook("demo", "nightly").astatus()).result
            >>> asyncio.run(result()) in ("success", "error", "no-fire")
            True
        """
        return await self._acached("_status", self._load_status)

    def _load_status(self) -> Op[HookStatus]:
        return self._transport.call(self._call("getHookStatus"), convert=HookStatus._from_json)

    @property
    def loaded(self) -> bool:
        """Whether the definition is in memory.

        Example:
            >>> cluster.hook("demo", "nightly").loaded
            False
        """
        return self._definition is not None

    def refresh(self) -> Hook:
        """Forget the loaded definition and status; the next read loads them.

        Example:
            >>> h = cluster.hook("demo", "nightly")
            >>> h.definition.hook_id, h.refresh().loaded
            ('nightly', False)
        """
        self._definition = None
        self._status = None
        return self

    # firing

    def trigger(self, payload: Mapping[str, Any] | None = None) -> Task | None:
        """Fire the hook with ``payload`` (``triggerHook``, checked by the
        service against the hook's ``triggerSchema``) and return the task it
        created, or ``None`` when the template rendered no task. The service
        creates the task with the scopes of role ``hook-id:<group>/<id>``.

        Example:
            >>> made = cluster.hook("demo", "nightly").trigger({"branch": "main"})
            >>> made.definition.payload["branch"]
            'main'
        """
        return self._run(self._trigger_op(payload))

    async def atrigger(self, payload: Mapping[str, Any] | None = None) -> Task | None:
        """The async twin of :meth:`trigger`.

        Example:
            >>> import asyncio
            >>> async def fire() -> str:
            ...     async with lc.connect() as c:
            ...         made = await c.hook("demo", "nightly").atrigger({"branch": "async"})
            ...         return (await made.adefinition()).payload["branch"]
            >>> asyncio.run(fire())
            'async'
        """
        return await self._arun(self._trigger_op(payload))

    def _trigger_op(self, payload: Mapping[str, Any] | None) -> Op[Task | None]:
        answer = yield from self._transport.call(self._call("triggerHook", dict(payload or {})))
        self._status = None  # a new firing
        return self._task(answer)

    def _task(self, answer: Any) -> Task | None:
        """The task of a trigger answer (its status in place when the
        answer holds a whole one)."""
        if not isinstance(answer, dict) or "taskId" not in answer:
            return None
        task_id = check_slug_id(answer["taskId"], "taskId")
        status = answer.get("status")
        whole = isinstance(status, dict) and "state" in status
        return Task(self._cluster, task_id, status=_status(status) if whole else None)

    def last_fires(self) -> Listing[HookFire]:
        """The hook's firings, newest first (lazily paged ``listLastFires``).

        Example:
            >>> h = cluster.hook("demo", "nightly")
            >>> made = h.trigger({"branch": "release"})
            >>> fire = h.last_fires().first()
            >>> fire.fired_by, fire.result, fire.task_id == made.task_id
            ('triggerHook', 'success', True)
        """
        call = self._call("listLastFires")
        return Listing(self._transport, call, "lastFires", HookFire._from_json, item_type=HookFire)

    # trigger tokens

    def _token(self, name: str) -> Op[TriggerToken]:
        def convert(answer: Any) -> TriggerToken:
            token = answer.get("token") if isinstance(answer, dict) else None
            return TriggerToken(f"{self._hook_group_id}/{self._hook_id}", token)

        return self._transport.call(self._call(name), convert=convert)

    def get_token(self) -> TriggerToken:
        """The hook's trigger token (``getTriggerToken``), hidden in reprs.

        Example:
            >>> cluster.hook("demo", "nightly").get_token()
            <TriggerToken of hook 'demo/nightly' (hidden: read .value)>
        """
        return self._run(self._token("getTriggerToken"))

    async def aget_token(self) -> TriggerToken:
        """The async twin of :meth:`get_token`.

        Example:
            >>> import asyncio
            >>> async def token() -> TriggerToken:
            ...     async with lc.connect() as c:
            ...         return await c.hook("demo", "nightly").aget_token()
            >>> asyncio.run(token()) == cluster.hook("demo", "nightly").get_token()
            True
        """
        return await self._arun(self._token("getTriggerToken"))

    def reset_token(self) -> TriggerToken:
        """Make a new trigger token, which the old one stops working for
        (``resetTriggerToken``); the new one is returned, hidden in reprs.

        Example:
            >>> h = cluster.hook("demo", "nightly")
            >>> old = h.get_token()
            >>> new = h.reset_token()
            >>> new != old, new == h.get_token()
            (True, True)
        """
        return self._run(self._token("resetTriggerToken"))

    async def areset_token(self) -> TriggerToken:
        """The async twin of :meth:`reset_token`.

        Example:
            >>> import asyncio
            >>> old = cluster.hook("demo", "nightly").get_token()
            >>> async def reset() -> TriggerToken:
            ...     async with lc.connect() as c:
            ...         return await c.hook("demo", "nightly").areset_token()
            >>> asyncio.run(reset()) != old
            True
        """
        return await self._arun(self._token("resetTriggerToken"))

    # changes

    def _put(self, name: str, definition: Mapping[str, Any] | HookDefinition) -> Op[Hook]:
        body = definition.raw if isinstance(definition, HookDefinition) else dict(definition)
        call = self._call(name, body)
        self._definition = yield from self._transport.call(call, convert=HookDefinition._from_json)
        return self

    def create(self, definition: Mapping[str, Any] | HookDefinition) -> Hook:
        """Create the hook (``createHook``) from a definition as the API
        takes it (``metadata``, ``task``, ``schedule``, ``triggerSchema``…);
        returns the hook with its definition in place. Creating it again
        with the identical definition (``bindings`` included, as the service
        stores it) succeeds; with another one it raises
        :class:`~tcmodel.RequestConflict`.

        Example:
            >>> h = cluster.hook("demo", "doc-create").create({
            ...     "metadata": {"name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> h
            <Hook 'doc' hookGroupId='demo' hookId='doc-create'>
        """
        return self._run(self._put("createHook", definition))

    async def acreate(self, definition: Mapping[str, Any] | HookDefinition) -> Hook:
        """The async twin of :meth:`create`.

        Example:
            >>> import asyncio
            >>> async def make() -> Hook:
            ...     async with lc.connect() as c:
            ...         return await c.hook("demo", "doc-acreate").acreate({"metadata": {
            ...             "name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> asyncio.run(make())
            <Hook 'doc' hookGroupId='demo' hookId='doc-acreate'>
        """
        return await self._arun(self._put("createHook", definition))

    def update(self, definition: Mapping[str, Any] | HookDefinition) -> Hook:
        """Replace the hook's definition (``updateHook``); returns the hook
        with the new definition in place.

        Example:
            >>> h = cluster.hook("demo", "doc-update").create({
            ...     "metadata": {"name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> body = {**h.definition.raw, "schedule": ["0 0 3 * * *"]}
            >>> h.update(body).definition.schedule
            ('0 0 3 * * *',)
        """
        return self._run(self._put("updateHook", definition))

    async def aupdate(self, definition: Mapping[str, Any] | HookDefinition) -> Hook:
        """The async twin of :meth:`update`.

        Example:
            >>> import asyncio
            >>> h = cluster.hook("demo", "doc-aupdate").create({
            ...     "metadata": {"name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> async def change() -> tuple[str, ...]:
            ...     async with lc.connect() as c:
            ...         body = {**h.definition.raw, "schedule": ["0 0 4 * * *"]}
            ...         changed = await c.hook("demo", "doc-aupdate").aupdate(body)
            ...         return changed.definition.schedule
            >>> asyncio.run(change())
            ('0 0 4 * * *',)
        """
        return await self._arun(self._put("updateHook", definition))

    def remove(self) -> None:
        """Remove the hook (``removeHook``).

        Example:
            >>> h = cluster.hook("demo", "doc-remove").create({
            ...     "metadata": {"name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> h.remove()
            >>> "doc-remove" in [h.hook_id for h in cluster.hooks("demo")]
            False
        """
        self._run(self._remove_op())

    async def aremove(self) -> None:
        """The async twin of :meth:`remove`.

        Example:
            >>> import asyncio
            >>> _ = cluster.hook("demo", "doc-aremove").create({
            ...     "metadata": {"name": "doc", "description": "", "owner": "a@b.c"}, "task": {}})
            >>> async def remove() -> None:
            ...     async with lc.connect() as c:
            ...         await c.hook("demo", "doc-aremove").aremove()
            >>> asyncio.run(remove())
            >>> "doc-aremove" in [h.hook_id for h in cluster.hooks("demo")]
            False
        """
        await self._arun(self._remove_op())

    def _remove_op(self) -> Op[None]:
        yield from self._transport.call(self._call("removeHook"))
        self._definition = None
        self._status = None


def hook_groups(transport: Transport) -> Op[list[str]]:
    """The ids of the groups that have hooks, as an operation (one
    ``listHookGroups`` request; see :meth:`tcmodel.Cluster.hook_groups`).

    Example:
        >>> "demo" in cluster.transport.run(hook_groups(cluster.transport))
        True
    """
    call = Call.of("hooks", "listHookGroups")

    def convert(answer: Any) -> list[str]:
        groups = _part(answer, "groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ModelDataError("expected a list of hook group ids")
        return list(groups)

    return (yield from transport.call(call, convert=convert))


def hooks(cluster: Cluster, hook_group_id: str) -> Op[list[Hook]]:
    """The hooks of a group with their definitions, as an operation (one
    ``listHooks`` request; see :meth:`tcmodel.Cluster.hooks`).

    Example:
        >>> "nightly" in [h.hook_id for h in cluster.transport.run(hooks(cluster, "demo"))]
        True
    """
    group = _check_id("hookGroupId", hook_group_id, _HOOK_GROUP_ID)
    call = Call.of("hooks", "listHooks", hookGroupId=group)

    def convert(answer: Any) -> list[Hook]:
        found = _part(answer, "hooks")
        if not isinstance(found, list):
            raise ModelDataError("expected a list of hooks")
        made = [HookDefinition._from_json(raw) for raw in found]
        return [Hook(cluster, d.hook_group_id, d.hook_id, definition=d) for d in made]

    return (yield from cluster.transport.call(call, convert=convert))
