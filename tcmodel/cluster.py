"""The root of the object tree: one Taskcluster deployment.

Example:
    >>> cluster = Cluster.from_url("https://tc.example.com", credentials=("me", "token"))
    >>> cluster
    <Cluster 'https://tc.example.com' client_id='me'>
    >>> cluster.close()
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from tcmodel._closing import Closing
from tcmodel._twin import same_arguments
from tcmodel.credentials import Credentials, CredentialsLike
from tcmodel.errors import ConfigurationError
from tcmodel.transport import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_MAX_ANSWER_BYTES,
    Call,
    Op,
    Transport,
    map_op,
)
from tcmodel.urls import normalize_root_url

T = TypeVar("T")

if TYPE_CHECKING:
    from tcmodel.display.views import Printer
    from tcmodel.models import TaskDefinition
    from tcmodel.models_services import AwsCredentials, PurgeRequest
    from tcmodel.resources.auth import Client, Required, Role
    from tcmodel.resources.collection import Listing
    from tcmodel.resources.hook import Hook
    from tcmodel.resources.index import FoundTasks, Namespace
    from tcmodel.resources.notify import Notify
    from tcmodel.resources.secret import Secret
    from tcmodel.resources.task import Task
    from tcmodel.resources.task_group import TaskGroup
    from tcmodel.resources.task_queue import TaskQueue

__all__ = ["Cluster"]

_TASK_QUEUE_ID = re.compile(r"[a-zA-Z0-9_-]{1,38}/[a-z]([-a-z0-9]{0,36}[a-z0-9])?")
#: The date fields of a task definition.
_TASK_DATES = ("created", "deadline", "expires")


def _json_date(value: datetime | str, now: datetime) -> str:
    """A date as the API takes it, from a datetime, an RFC 3339 date string
    or a :func:`~tcmodel.from_now` offset (from ``now``; ``""`` is ``now``)."""
    from tcmodel.utils import from_now, parse_date, to_json_date

    if isinstance(value, datetime):
        return to_json_date(value)
    if not isinstance(value, str):
        raise ValueError(f"a date is a datetime, an RFC 3339 date or an offset, not {value!r}")
    try:
        return to_json_date(parse_date(value))
    except ValueError:
        pass
    return to_json_date(from_now(value, now))


def _env_credentials(client_id: str, token: str, certificate: str | None) -> Credentials:
    """Credentials from the ``TASKCLUSTER_*`` variables, or a
    :class:`ConfigurationError` that neither shows nor chains any of them."""
    try:
        return Credentials(client_id, token, certificate)
    except ValueError as exc:
        problem = str(exc)
    raise ConfigurationError(
        "TASKCLUSTER_CLIENT_ID, TASKCLUSTER_ACCESS_TOKEN or TASKCLUSTER_CERTIFICATE "
        f"is unusable: {problem}"
    )


class Cluster(Closing):
    """A Taskcluster deployment, reached through one signed transport.

    Make it with :meth:`from_url` or :meth:`from_env`. It is a context
    manager that closes its HTTP client. Handles made from it cost no
    request; requests are sent when data is read or an action is taken.
    One Cluster serves many threads and many event loops; once closed it
    sends nothing more. It pickles without its credentials (see
    :meth:`use_credentials`).

    Example:
        >>> with Cluster.from_url("https://tc.example.com") as c:
        ...     c.root_url
        'https://tc.example.com'
    """

    def __init__(self, transport: Transport, *, public_url: str | None = None) -> None:
        self.transport = transport
        self._public_url = normalize_root_url(public_url) if public_url else None

    @classmethod
    def from_url(
        cls,
        root_url: str,
        credentials: CredentialsLike | None = None,
        *,
        authorized_scopes: Sequence[str] | None = None,
        max_retries: int = 5,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] | None = None,
        public_url: str | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        download_deadline: float | None = DEFAULT_DOWNLOAD_DEADLINE,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> Cluster:
        """Connect to the deployment at ``root_url``.

        ``credentials`` is a :class:`~tcmodel.Credentials`, a ``(client_id,
        access_token)`` tuple, or the official client's dict form; without
        it requests go unsigned (anonymous). ``authorized_scopes`` narrows
        what the credentials may do. ``client`` may be your own
        ``httpx.Client`` (proxies, TLS, event hooks); requests are signed
        through it. ``clock`` replaces ``time.time`` for signing (see
        :meth:`tcmodel.testing.LocalCluster.connect`). ``public_url`` is the
        deployment's public root URL, for links to its web UI, when requests
        go elsewhere (a proxy); by default ``root_url``. ``deadline`` is how
        long one attempt of an API call may take in all (2 minutes),
        ``download_deadline`` one attempt of a download (an hour), and
        ``max_answer_bytes`` the largest API answer read (16 MiB);
        ``concurrency`` bounds the requests in flight at once in one event
        loop and the helpers of :mod:`tcmodel.concurrency` (32): see
        :class:`~tcmodel.transport.Transport`.

        Example:
            >>> Cluster.from_url("https://tc.example.com/").root_url
            'https://tc.example.com'
            >>> Cluster.from_url("https://tc.example.com", deadline=30).transport.deadline
            30.0
            >>> Cluster.from_url("https://tc.example.com", concurrency=4).transport.concurrency
            4
            >>> Cluster.from_url("http://taskcluster", public_url="https://tc.example.com").public_url
            'https://tc.example.com'
        """
        try:
            transport = Transport(
                root_url,
                credentials,
                authorized_scopes=authorized_scopes,
                max_retries=max_retries,
                client=client,
                async_client=async_client,
                clock=clock,
                deadline=deadline,
                download_deadline=download_deadline,
                max_answer_bytes=max_answer_bytes,
                concurrency=concurrency,
            )
            return cls(transport, public_url=public_url)
        except ValueError as exc:
            problem = str(exc)
        # Raised outside the handler: nothing chained could hold a secret.
        raise ConfigurationError(problem)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Cluster:
        """Connect as the standard environment variables say.

        ``TASKCLUSTER_ROOT_URL``, ``TASKCLUSTER_CLIENT_ID``,
        ``TASKCLUSTER_ACCESS_TOKEN`` and ``TASKCLUSTER_CERTIFICATE``; inside
        a task, when ``TASKCLUSTER_PROXY_URL`` is set, requests go to the
        proxy unsigned (it adds the task's credentials), and links to the web
        UI use ``TASKCLUSTER_ROOT_URL`` when it is set. Other keyword
        arguments go to :meth:`from_url`.

        Example:
            >>> Cluster.from_env({"TASKCLUSTER_ROOT_URL": "https://tc.example.com"})
            <Cluster 'https://tc.example.com' anonymous>
            >>> Cluster.from_env({"TASKCLUSTER_PROXY_URL": "http://taskcluster",
            ...                   "TASKCLUSTER_ROOT_URL": "https://tc.example.com"}).public_url
            'https://tc.example.com'
        """
        env = os.environ if environ is None else environ
        proxy = env.get("TASKCLUSTER_PROXY_URL", "").strip()
        root_url = env.get("TASKCLUSTER_ROOT_URL", "").strip()
        if proxy:
            kwargs.setdefault("public_url", root_url or None)
            return cls.from_url(proxy, None, **kwargs)
        if not root_url:
            raise ConfigurationError(
                "TASKCLUSTER_ROOT_URL is not set: set it to your deployment's root URL "
                "(e.g. https://tc.example.com), or use Cluster.from_url()"
            )
        client_id = env.get("TASKCLUSTER_CLIENT_ID", "").strip()
        token = env.get("TASKCLUSTER_ACCESS_TOKEN", "").strip()
        credentials: Credentials | None = None
        if client_id or token:
            if not (client_id and token):
                missing = "TASKCLUSTER_ACCESS_TOKEN" if client_id else "TASKCLUSTER_CLIENT_ID"
                raise ConfigurationError(f"{missing} is not set, but its partner variable is")
            cert = env.get("TASKCLUSTER_CERTIFICATE", "").strip() or None
            credentials = _env_credentials(client_id, token, cert)
        return cls.from_url(root_url, credentials, **kwargs)

    # identity

    @property
    def root_url(self) -> str:
        """The deployment's root URL (no trailing ``/``).

        Example:
            >>> Cluster.from_url("https://tc.example.com/").root_url
            'https://tc.example.com'
        """
        return self.transport.root_url

    @property
    def public_url(self) -> str:
        """The deployment's public root URL, which links to its web UI use:
        the root URL, unless requests go through a proxy (see :meth:`from_url`).

        Example:
            >>> Cluster.from_url("https://tc.example.com").public_url
            'https://tc.example.com'
        """
        return self._public_url or self.root_url

    def _ui_url(self, *path: str | int) -> str:
        """A page of the deployment's web UI (no request)."""
        return "/".join([self.public_url, *(quote(str(p), safe="") for p in path)])

    def _api_url(self, call: Call) -> str:
        """The URL of an API call on the public root URL (no request): the
        one to show or hand on, which works outside a proxy's task too."""
        from tcmodel.urls import api_url

        return api_url(self.public_url, call.endpoint, call.params, call.query)

    @property
    def credentials(self) -> Credentials | None:
        """The credentials requests are signed with (``None``: anonymous).

        Example:
            >>> Cluster.from_url("https://tc.example.com", ("me", "token")).credentials.client_id
            'me'
            >>> Cluster.from_url("https://tc.example.com").credentials is None
            True
        """
        return self.transport.credentials

    def use_credentials(self, credentials: CredentialsLike | None) -> None:
        """Sign this cluster's requests (and its handles') with
        ``credentials`` from now on; ``None`` goes anonymous.

        Secrets are never pickled: a pickled Cluster, handle or list of
        handles keeps its settings and loaded data, and comes back anonymous
        with its own HTTP clients, signing with the system clock. This puts
        the credentials back.

        Example:
            >>> import pickle
            >>> theirs = pickle.loads(pickle.dumps(cluster.task(build.task_id)))
            >>> theirs.cluster
            <Cluster 'http://127.0.0.1:...' anonymous>
            >>> theirs.cluster.use_credentials(lc.root_credentials)
            >>> theirs.cluster.credentials.client_id, theirs.state
            ('static/taskcluster/root', 'completed')
            >>> theirs.cluster.close()
        """
        self.transport.use_credentials(credentials)

    def __repr__(self) -> str:
        who = f"client_id={self.credentials.client_id!r}" if self.credentials else "anonymous"
        return f"<Cluster {self.root_url!r} {who}>"

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import pretty

        pretty(self, p, cycle)

    def _repr_html_(self) -> str:
        from tcmodel.display.views import html

        return html(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cluster) and other.root_url == self.root_url

    def __hash__(self) -> int:
        return hash(("Cluster", self.root_url))

    # requests

    def _run(self, op: Op[T]) -> T:
        """Run ``op`` with the sync driver; refused inside an event loop this
        cluster is used from asynchronously (see
        :func:`tcmodel.resources.base.run_sync`)."""
        from tcmodel.resources.base import run_sync

        return run_sync(self.transport, op, self, "cluster")

    def ping(self) -> dict[str, Any]:
        """Ask the queue whether it is alive (``queue.ping``).

        Example:
            >>> cluster.ping()["alive"]
            True
        """
        return self._run(self._ping_op())

    async def aping(self) -> dict[str, Any]:
        """The async twin of :meth:`ping`.

        Example:
            >>> import asyncio
            >>> async def alive() -> bool:
            ...     async with lc.connect() as c:
            ...         return bool((await c.aping())["alive"])
            >>> asyncio.run(alive())
            True
        """
        return await self.transport.arun(self._ping_op())

    def _ping_op(self) -> Op[dict[str, Any]]:
        return self.transport.call(Call.of("queue", "ping"))

    # the object tree (no request is sent by any of these)

    def task_group(self, task_group_id: str) -> TaskGroup:
        """A handle on a task group (no request).

        Example:
            >>> cluster.task_group(group.task_group_id).tasks().first().name  # doctest: +ELLIPSIS
            '...'
        """
        from tcmodel.resources.task_group import TaskGroup

        return TaskGroup(self, task_group_id)

    def task(self, task_id: str) -> Task:
        """A handle on a task (no request).

        Example:
            >>> cluster.task(build.task_id).state
            'completed'
        """
        from tcmodel.resources.task import Task

        return Task(self, task_id)

    def tasks(self, task_ids: Iterable[str]) -> list[Task]:
        """Handles on many tasks whose statuses and definitions are then
        fetched in bulk: reading one fetches them all, one request per 1000.

        Example:
            >>> [t.state for t in cluster.tasks([build.task_id, task.task_id])]  # one request
            ['completed', 'failed']
        """
        from tcmodel.resources.task import TaskBatch

        ids = list(task_ids)
        batch = TaskBatch(self, ids)
        return [batch.tasks[i] for i in ids]  # one handle per id given, repeats included

    def index(self, namespace: str = "") -> Namespace:
        """A handle on an index namespace or path (``""`` is the root).

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").find().name
            'build-linux64-opt'
        """
        from tcmodel.resources.index import Namespace

        return Namespace(self, namespace)

    def _create_task_op(
        self,
        *,
        task_queue_id: str,
        payload: Mapping[str, Any],
        name: str,
        description: str = "",
        owner: str = "tcmodel@localhost",
        source: str = "https://github.com/taskcluster/taskcluster",
        task_id: str | None = None,
        task_group_id: str | None = None,
        scheduler_id: str | None = None,
        project_id: str | None = None,
        dependencies: Iterable[Task | str] = (),
        requires: str | None = None,
        deadline: datetime | str = "1 day",
        expires: datetime | str | None = None,
        priority: str | None = None,
        retries: int | None = None,
        routes: Sequence[str] = (),
        scopes: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Op[Task]:
        from tcmodel.models import PRIORITIES, REQUIRES
        from tcmodel.resources.task import Task
        from tcmodel.utils import check_choice, check_slug_id

        now = datetime.fromtimestamp(self.transport.now(), tz=timezone.utc)

        def when(value: datetime | str) -> str:
            return _json_date(value, now)

        check_choice("priority", priority, PRIORITIES)
        check_choice("requires", requires, REQUIRES)
        if not isinstance(task_queue_id, str) or not _TASK_QUEUE_ID.fullmatch(task_queue_id):
            raise ValueError(
                f"task_queue_id must look like 'provisioner/worker-type' "
                f"(e.g. 'proj/ci'), not {task_queue_id!r}"
            )
        if retries is not None and not 0 <= retries <= 49:
            raise ValueError(f"retries must be between 0 and 49, not {retries!r}")
        body: dict[str, Any] = {
            "taskQueueId": task_queue_id,
            "created": when(""),
            "deadline": when(deadline),
            "payload": dict(payload),
            "metadata": {
                "name": name,
                "description": description or name,
                "owner": owner,
                "source": source,
            },
        }
        optional: dict[str, Any] = {
            "taskGroupId": check_slug_id(task_group_id, "taskGroupId") if task_group_id else None,
            "schedulerId": scheduler_id,
            "projectId": project_id,
            "dependencies": [
                d.task_id if isinstance(d, Task) else check_slug_id(d) for d in dependencies
            ]
            or None,
            "requires": requires,
            "expires": when(expires) if expires is not None else None,
            "priority": priority,
            "retries": retries,
            "routes": list(routes) or None,
            "scopes": list(scopes) or None,
            "tags": dict(tags) if tags else None,
            "extra": dict(extra) if extra else None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._submit_op(body, task_id)

    @same_arguments(_create_task_op)
    def create_task(self, *args: Any, **kwargs: Any) -> Task:
        """Create a task (``createTask``) and return it with its status loaded
        (the definition, with the queue's defaults filled in, loads on first read).
        Keywords: ``task_queue_id``, ``payload`` and ``name`` (required),
        ``description``, ``owner``, ``source``, ``task_id``,
        ``task_group_id``, ``scheduler_id``, ``project_id``,
        ``dependencies``, ``requires``, ``deadline`` (``"1 day"``),
        ``expires``, ``priority``, ``retries``, ``routes``, ``scopes``,
        ``tags``, ``extra``.

        ``deadline`` and ``expires`` are datetimes, RFC 3339 dates or
        :func:`~tcmodel.from_now` offsets; ``dependencies`` are Tasks or
        task ids; a new ``task_id`` is made when none is given. The body is
        built once, so a retried request re-sends the same definition
        (createTask is idempotent). To submit a whole definition as it is,
        use :meth:`submit_task`.

        Example:
            >>> t = cluster.create_task(task_queue_id="proj/idle", payload={"command": ["make"]},
            ...                         name="doc-build", deadline="2 hours")
            >>> t.state, t.name, t.definition.deadline - t.definition.created
            ('pending', 'doc-build', datetime.timedelta(seconds=7200))
        """
        return self._run(self._create_task_op(*args, **kwargs))

    @same_arguments(_create_task_op)
    async def acreate_task(self, *args: Any, **kwargs: Any) -> Task:
        """The async twin of :meth:`create_task`.

        Example:
            >>> import asyncio
            >>> async def create() -> tuple[str, str]:
            ...     async with lc.connect() as c:
            ...         t = await c.acreate_task(task_queue_id="proj/idle", payload={}, name="a")
            ...         return t.state, (await t.adefinition()).metadata.name
            >>> asyncio.run(create())
            ('pending', 'a')
        """
        return await self.transport.arun(self._create_task_op(*args, **kwargs))

    def submit_task(
        self, definition: Mapping[str, Any] | TaskDefinition, task_id: str | None = None
    ) -> Task:
        """Submit a whole task definition as it is (``createTask``), e.g. one
        a decision task rendered, and return the task with its status loaded.

        ``created``, ``deadline`` and ``expires`` may be datetimes, RFC 3339
        dates (kept: the same instant) or :func:`~tcmodel.from_now` offsets,
        which count from ``created``; ``created`` is now when missing (then a
        resubmission gets other dates). A new ``task_id`` is made when none
        is given. Submitting the identical definition again under the same
        ``task_id`` succeeds (Taskcluster's createTask is idempotent), so a
        retried submission is safe; a different one raises
        :class:`~tcmodel.RequestConflict`. A
        :class:`~tcmodel.models.TaskDefinition` is submitted as it came.

        Example:
            >>> from datetime import datetime, timedelta, timezone
            >>> now = datetime.fromtimestamp(cluster.transport.now(), timezone.utc)
            >>> definition = {"taskQueueId": "proj/idle", "created": now.isoformat(),
            ...     "deadline": now + timedelta(hours=1), "payload": {},
            ...     "metadata": {"name": "rendered", "description": "", "owner": "ci@example.com",
            ...                  "source": "https://example.com/decision"}}
            >>> first = cluster.submit_task(definition)
            >>> again = cluster.submit_task(definition, task_id=first.task_id)  # a retry: fine
            >>> again == first, again.state
            (True, 'pending')
            >>> abs(again.definition.created - now) < timedelta(seconds=1)  # kept
            True
        """
        return self._run(self._submit_op(definition, task_id))

    async def asubmit_task(
        self, definition: Mapping[str, Any] | TaskDefinition, task_id: str | None = None
    ) -> Task:
        """The async twin of :meth:`submit_task`.

        Example:
            >>> import asyncio
            >>> definition = {"taskQueueId": "proj/idle", "deadline": "1 hour", "payload": {},
            ...     "metadata": {"name": "asubmitted", "description": "", "owner": "ci@example.com",
            ...                  "source": "https://example.com/decision"}}
            >>> async def submit() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.asubmit_task(definition)).state
            >>> asyncio.run(submit())
            'pending'
        """
        return await self.transport.arun(self._submit_op(definition, task_id))

    def _submit_op(
        self, definition: Mapping[str, Any] | TaskDefinition, task_id: str | None
    ) -> Op[Task]:
        from tcmodel.models import TaskDefinition
        from tcmodel.resources.task import Task
        from tcmodel.utils import check_slug_id, parse_date, slug_id

        if isinstance(definition, TaskDefinition):
            definition = definition.raw
        if not isinstance(definition, Mapping):
            raise TypeError(f"a task definition is a mapping, not {type(definition).__name__}")
        now = datetime.fromtimestamp(self.transport.now(), tz=timezone.utc)
        body = {**definition, "created": _json_date(definition.get("created") or "", now)}
        # Offsets count from ``created``: the same definition resubmitted later
        # renders the same dates, as the queue needs to accept it again.
        created = parse_date(body["created"])
        for key in _TASK_DATES:
            if key != "created" and body.get(key) is not None:
                body[key] = _json_date(body[key], created)
        new_id = check_slug_id(task_id, "taskId") if task_id is not None else slug_id()
        task = Task(self, new_id)
        return map_op(task._status_op("createTask", body), lambda _: task)

    # auth, secrets, notify, purge-cache

    def current_scopes(self) -> list[str]:
        """The scopes these credentials have, expanded through their roles
        (``auth.currentScopes``; one request).

        Example:
            >>> cluster.current_scopes()
            ['*']
        """
        from tcmodel.resources import auth

        return self._run(auth.current_scopes(self.transport))

    async def acurrent_scopes(self) -> list[str]:
        """The async twin of :meth:`current_scopes`.

        Example:
            >>> import asyncio
            >>> async def scopes() -> list[str]:
            ...     async with lc.connect() as c:
            ...         return await c.acurrent_scopes()
            >>> asyncio.run(scopes())
            ['*']
        """
        from tcmodel.resources import auth

        return await self.transport.arun(auth.current_scopes(self.transport))

    def expand_scopes(self, scopes: Iterable[str]) -> list[str]:
        """``scopes`` expanded through the roles they assume (``auth.expandScopes``).

        Example:
            >>> lc.add_role("doc:cluster-expand", ["index:insert-task:project.*"])
            >>> cluster.expand_scopes(["assume:doc:cluster-expand"])
            ['assume:doc:cluster-expand', 'index:insert-task:project.*']
        """
        from tcmodel.resources import auth

        return self._run(auth.expand_scopes(self.transport, scopes))

    async def aexpand_scopes(self, scopes: Iterable[str]) -> list[str]:
        """The async twin of :meth:`expand_scopes`.

        Example:
            >>> import asyncio
            >>> lc.add_role("doc:cluster-aexpand", ["index:insert-task:project.*"])
            >>> async def expand() -> list[str]:
            ...     async with lc.connect() as c:
            ...         return await c.aexpand_scopes(["assume:doc:cluster-aexpand"])
            >>> asyncio.run(expand())
            ['assume:doc:cluster-aexpand', 'index:insert-task:project.*']
        """
        from tcmodel.resources import auth

        return await self.transport.arun(auth.expand_scopes(self.transport, scopes))

    def satisfies(self, required: Required) -> bool:
        """Whether these credentials' expanded scopes satisfy ``required``:
        one scope, a list of alternatives each a list of scopes all needed
        (``[["a", "b"], ["c"]]``, as ``scope_match``), or a scope expression
        (``{"AllOf": [...]}``). One ``currentScopes`` request.

        Example:
            >>> cluster.satisfies([["queue:create-task:highest:proj/ci", "queue:route:index.*"]])
            True
        """
        from tcmodel.resources import auth

        return self._run(auth.satisfies(self.transport, required))

    async def asatisfies(self, required: Required) -> bool:
        """The async twin of :meth:`satisfies`.

        Example:
            >>> import asyncio
            >>> async def allowed() -> bool:
            ...     async with lc.connect() as c:
            ...         return await c.asatisfies("queue:create-task:highest:proj/ci")
            >>> asyncio.run(allowed())
            True
        """
        from tcmodel.resources import auth

        return await self.transport.arun(auth.satisfies(self.transport, required))

    def test_authenticate(
        self,
        client_scopes: Iterable[str],
        required_scopes: Iterable[str],
        *,
        authorized_scopes: Iterable[str] | None = None,
    ) -> list[str]:
        """How the deployment authorizes a client holding ``client_scopes``
        (narrowed to ``authorized_scopes``) for a call that needs
        ``required_scopes`` (``auth.testAuthenticate``, signed as its fixed
        ``tester`` client): the scopes the call had, or
        :class:`~tcmodel.InsufficientScopes`.

        Example:
            >>> cluster.test_authenticate(["test:*"], ["test:run"])
            ['assume:anonymous', 'test:*']
        """
        from tcmodel.resources import auth

        scopes = (client_scopes, required_scopes, authorized_scopes)
        return self._run(auth.authenticate_as_tester(self.transport, *scopes))

    async def atest_authenticate(
        self,
        client_scopes: Iterable[str],
        required_scopes: Iterable[str],
        *,
        authorized_scopes: Iterable[str] | None = None,
    ) -> list[str]:
        """The async twin of :meth:`test_authenticate`.

        Example:
            >>> import asyncio
            >>> async def check() -> list[str]:
            ...     async with lc.connect() as c:
            ...         return await c.atest_authenticate(["test:*"], ["test:run"])
            >>> asyncio.run(check())
            ['assume:anonymous', 'test:*']
        """
        from tcmodel.resources import auth

        scopes = (client_scopes, required_scopes, authorized_scopes)
        return await self.transport.arun(auth.authenticate_as_tester(self.transport, *scopes))

    def client(self, client_id: str) -> Client:
        """A handle on an auth client (no request).

        Example:
            >>> cluster.client("static/taskcluster/root").scopes
            ('*',)
        """
        from tcmodel.resources.auth import Client

        return Client(self, client_id)

    def clients(self, prefix: str | None = None) -> Listing[Client]:
        """The auth clients whose id starts with ``prefix`` (lazily paged).

        Example:
            >>> [c.client_id for c in cluster.clients(prefix="static/taskcluster/r")]
            ['static/taskcluster/root']
        """
        from tcmodel.resources import auth

        return auth.clients(self, prefix)

    def role(self, role_id: str) -> Role:
        """A handle on an auth role (no request).

        Example:
            >>> cluster.role("anonymous").expanded_scopes[0]
            'assume:anonymous'
        """
        from tcmodel.resources.auth import Role

        return Role(self, role_id)

    def roles(self) -> Listing[Role]:
        """Every auth role (lazily paged).

        Example:
            >>> cluster.role("anonymous") in list(cluster.roles())
            True
        """
        from tcmodel.resources import auth

        return auth.roles(self)

    def aws_s3_credentials(
        self, bucket: str, prefix: str, *, level: str = "read-only"
    ) -> AwsCredentials:
        """Temporary AWS credentials for ``bucket``/``prefix``
        (``auth.awsS3Credentials``); the secret parts never show in a repr.

        Example:
            >>> cluster.aws_s3_credentials("my-bucket", "proj/")  # none configured locally
            Traceback (most recent call last):
            ...
            tcmodel.errors.NotFound: auth.awsS3Credentials(...): 404 ResourceNotFound: ...
        """
        from tcmodel.resources import auth

        return self._run(auth.aws_s3_credentials(self.transport, bucket, prefix, level))

    async def aaws_s3_credentials(
        self, bucket: str, prefix: str, *, level: str = "read-only"
    ) -> AwsCredentials:
        """The async twin of :meth:`aws_s3_credentials`.

        Example:
            >>> import asyncio
            >>> async def keys() -> AwsCredentials:
            ...     async with lc.connect() as c:
            ...         return await c.aaws_s3_credentials("my-bucket", "proj/")
            >>> asyncio.run(keys())  # none configured locally
            Traceback (most recent call last):
            ...
            tcmodel.errors.NotFound: auth.awsS3Credentials(...): 404 ResourceNotFound: ...
        """
        from tcmodel.resources import auth

        op = auth.aws_s3_credentials(self.transport, bucket, prefix, level)
        return await self.transport.arun(op)

    def secret(self, name: str) -> Secret:
        """A handle on a secret (no request; its value loads on first read).

        Example:
            >>> cluster.secret("doc/cluster").set({"token": "hunter2"}).value["token"]
            'hunter2'
        """
        from tcmodel.resources.secret import Secret

        return Secret(self, name)

    def secrets(self, prefix: str | None = None) -> Listing[Secret]:
        """The secrets whose name starts with ``prefix`` (lazily paged).

        Example:
            >>> cluster.secret("doc/cluster-listed").set({}) in cluster.secrets("doc/cluster-l")
            True
        """
        from tcmodel.resources import secret

        return secret.secrets(self, prefix)

    @property
    def notify(self) -> Notify:
        """The notify service: ``.email()``, ``.matrix()``, ``.slack()``,
        ``.pulse()``, the deny list (no request).

        Example:
            >>> cluster.notify.pulse("doc.cluster", {"done": True})
            True
        """
        from tcmodel.resources.notify import Notify

        return Notify(self)

    def purge_cache(self, worker_pool_id: str, cache_name: str) -> None:
        """Ask the workers of ``worker_pool_id`` to purge cache
        ``cache_name`` (``purge-cache.purgeCache``; one request).

        Example:
            >>> cluster.purge_cache("doc/cluster", "checkouts")
        """
        from tcmodel.resources import purge_cache

        self._run(purge_cache.purge_cache(self.transport, worker_pool_id, cache_name))

    async def apurge_cache(self, worker_pool_id: str, cache_name: str) -> None:
        """The async twin of :meth:`purge_cache`.

        Example:
            >>> import asyncio
            >>> async def purge() -> None:
            ...     async with lc.connect() as c:
            ...         await c.apurge_cache("doc/cluster-apurge", "checkouts")
            >>> asyncio.run(purge())
            >>> [r.cache_name for r in cluster.purge_requests("doc/cluster-apurge")]
            ['checkouts']
        """
        from tcmodel.resources import purge_cache

        op = purge_cache.purge_cache(self.transport, worker_pool_id, cache_name)
        await self.transport.arun(op)

    def purge_requests(
        self, worker_pool_id: str | None = None, since: datetime | str | None = None
    ) -> Listing[PurgeRequest]:
        """The open purge requests, of one worker pool or of all, made at or
        after ``since`` (a datetime, an offset or an ISO date) if given.

        Example:
            >>> cluster.purge_cache("doc/cluster-list", "cargo")
            >>> [r.cache_name for r in cluster.purge_requests("doc/cluster-list")]
            ['cargo']
        """
        from tcmodel.resources import purge_cache

        return purge_cache.purge_requests(self, worker_pool_id, since)

    # hooks, task queues, the index in bulk

    def hook(self, hook_group_id: str, hook_id: str) -> Hook:
        """A handle on a hook (no request; its definition loads on first read).

        Example:
            >>> cluster.hook("proj", "nightly")
            <Hook hookGroupId='proj' hookId='nightly'>
        """
        from tcmodel.resources.hook import Hook

        return Hook(self, hook_group_id, hook_id)

    def hook_groups(self) -> list[str]:
        """The ids of the groups that have hooks (``listHookGroups``; one request).

        Example:
            >>> _ = cluster.hook("doc-groups", "h").create({"metadata": {"name": "h",
            ...     "description": "", "owner": "a@b.c"}, "task": {}})
            >>> "doc-groups" in cluster.hook_groups()
            True
        """
        from tcmodel.resources import hook

        return self._run(hook.hook_groups(self.transport))

    async def ahook_groups(self) -> list[str]:
        """The async twin of :meth:`hook_groups`.

        Example:
            >>> import asyncio
            >>> _ = cluster.hook("doc-agroups", "h").create({"metadata": {"name": "h",
            ...     "description": "", "owner": "a@b.c"}, "task": {}})
            >>> async def groups() -> list[str]:
            ...     async with lc.connect() as c:
            ...         return await c.ahook_groups()
            >>> "doc-agroups" in asyncio.run(groups())
            True
        """
        from tcmodel.resources import hook

        return await self.transport.arun(hook.hook_groups(self.transport))

    def hooks(self, hook_group_id: str) -> list[Hook]:
        """The hooks of a group, their definitions loaded (``listHooks``; one request).

        Example:
            >>> _ = cluster.hook("doc-hooks", "a").create({"metadata": {"name": "a",
            ...     "description": "", "owner": "a@b.c"}, "task": {}})
            >>> cluster.hooks("doc-hooks")
            [<Hook 'a' hookGroupId='doc-hooks' hookId='a'>]
        """
        from tcmodel.resources import hook

        return self._run(hook.hooks(self, hook_group_id))

    async def ahooks(self, hook_group_id: str) -> list[Hook]:
        """The async twin of :meth:`hooks`.

        Example:
            >>> import asyncio
            >>> _ = cluster.hook("doc-ahooks", "a").create({"metadata": {"name": "a",
            ...     "description": "", "owner": "a@b.c"}, "task": {}})
            >>> async def listed() -> list[Hook]:
            ...     async with lc.connect() as c:
            ...         return await c.ahooks("doc-ahooks")
            >>> asyncio.run(listed())
            [<Hook 'a' hookGroupId='doc-ahooks' hookId='a'>]
        """
        from tcmodel.resources import hook

        return await self.transport.arun(hook.hooks(self, hook_group_id))

    def task_queue(self, task_queue_id: str) -> TaskQueue:
        """A handle on a task queue (``provisionerId/workerType``; no request).

        Example:
            >>> cluster.task_queue("proj/ci")
            <TaskQueue taskQueueId='proj/ci'>
        """
        from tcmodel.resources.task_queue import TaskQueue

        return TaskQueue(self, task_queue_id)

    def task_queues(self) -> Listing[TaskQueue]:
        """Every task queue in use (lazily paged ``listTaskQueues``).

        Example:
            >>> cluster.task_queue(build.status.task_queue_id) in cluster.task_queues()
            True
        """
        from tcmodel.resources import task_queue

        return task_queue.task_queues(self)

    def find_tasks(self, paths: Iterable[str]) -> FoundTasks:
        """The tasks indexed at ``paths`` (``findTasksAtIndex``: one request
        per 1000 paths), as a mapping path → Task; paths with no entry are
        in ``.missing`` (not raised), the entries in ``.entries``. The tasks
        share a batch: reading their states is one more bulk request.

        Example:
            >>> found = cluster.find_tasks(["project.app.linux64-opt.latest", "project.nope"])
            >>> found["project.app.linux64-opt.latest"].name, found.missing
            ('build-linux64-opt', ('project.nope',))
        """
        from tcmodel.resources import index

        return self._run(index.find_tasks(self, paths))

    async def afind_tasks(self, paths: Iterable[str]) -> FoundTasks:
        """The async twin of :meth:`find_tasks`.

        Example:
            >>> import asyncio
            >>> async def find() -> tuple[str, ...]:
            ...     async with lc.connect() as c:
            ...         found = await c.afind_tasks(["project.app.linux64-opt.latest", "project.x"])
            ...         return found.missing
            >>> asyncio.run(find())
            ('project.x',)
        """
        from tcmodel.resources import index

        return await self.transport.arun(index.find_tasks(self, paths))

    # live events (Pulse)

    @property
    def pulse_url(self) -> str | None:
        """The Pulse (AMQP) URL for live events: the one set here, else
        ``TASKCLUSTER_PULSE_URL``, else ``None`` (waits then poll). It holds
        a password: it is never shown.

        Example:
            >>> c = Cluster.from_url("https://tc.example.com")
            >>> c.pulse_url = "amqps://me:pw@pulse.example.com/"
            >>> c.pulse_url.startswith("amqps://"), "pw" in repr(c)
            (True, False)
        """
        return self.__dict__.get("_pulse_url") or os.environ.get("TASKCLUSTER_PULSE_URL") or None

    @pulse_url.setter
    def pulse_url(self, value: str | None) -> None:
        self.__dict__["_pulse_url"] = value

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_pulse_url", None)  # it holds a password: never pickled
        return state

    def _waits_on_events(self) -> bool:
        """Whether waits follow Pulse: a Pulse URL is set and the ``events``
        extra is installed (else they poll)."""
        import importlib.util

        return self.pulse_url is not None and importlib.util.find_spec("pamqp") is not None

    def events(
        self,
        bindings: Any,
        *,
        pulse_url: str | None = None,
        queue: str | None = None,
        idle_timeout: float | None = None,
    ) -> Iterator[Any]:
        """Live events matching ``bindings`` (see :mod:`tcmodel.events`),
        typed, with task handles of this cluster already loaded with the
        status each message brings; needs the ``events`` extra. ``queue``
        names a durable ``queue/<user>/<queue>``; by default an exclusive
        queue lives as long as the connection.

        Example:
            >>> from tcmodel.events import queue as q
            >>> cluster.events([q.task_failed()], pulse_url="http://nope")
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: a Pulse URL starts with amqp:// or amqps://, ...
        """
        from tcmodel.events import consumer
        from tcmodel.resources.base import refuse_in_async_use

        events = consumer.consume(
            pulse_url or self.pulse_url,
            bindings,
            cluster=self,
            queue=queue,
            idle_timeout=idle_timeout,
        )
        refuse_in_async_use(self.transport, self, "use cluster.aevents() (async for)")
        return events

    def aevents(
        self,
        bindings: Any,
        *,
        pulse_url: str | None = None,
        queue: str | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[Any]:
        """The async form of :meth:`events` (``async for ev in cluster.aevents(...)``).

        Example:
            >>> cluster.aevents([], pulse_url="amqp://u:p@127.0.0.1:1/")
            Traceback (most recent call last):
            ...
            tcmodel.events.bindings.BindingError: give one or more Binding ...
        """
        from tcmodel.events import consumer

        return consumer.aconsume(
            pulse_url or self.pulse_url,
            bindings,
            cluster=self,
            queue=queue,
            idle_timeout=idle_timeout,
        )

    # lifetime

    def close(self) -> None:
        """Close the HTTP clients tcmodel made (yours are left open); any
        request after this raises :class:`~tcmodel.ConfigurationError`.

        Example:
            >>> closed = Cluster.from_url("https://tc.example.com")
            >>> closed.close()
            >>> closed.ping()
            Traceback (most recent call last):
            ...
            tcmodel.errors.ConfigurationError: <Transport 'https://tc.example.com'> is closed...
        """
        self.transport.close()

    async def aclose(self) -> None:
        """Close the HTTP clients tcmodel made, the running event loop's
        at once (see :meth:`close`).

        Example:
            >>> import asyncio
            >>> asyncio.run(Cluster.from_url("https://tc.example.com").aclose())
        """
        await self.transport.aclose()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        self.close()
