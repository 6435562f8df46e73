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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from tcmodel._closing import Closing
from tcmodel.credentials import Credentials, CredentialsLike
from tcmodel.errors import ConfigurationError
from tcmodel.transport import Call, Transport
from tcmodel.urls import normalize_root_url

if TYPE_CHECKING:
    from tcmodel.display.views import Printer
    from tcmodel.resources.index import Namespace
    from tcmodel.resources.task import Task
    from tcmodel.resources.task_group import TaskGroup

__all__ = ["Cluster"]

_TASK_QUEUE_ID = re.compile(r"[a-zA-Z0-9_-]{1,38}/[a-z]([-a-z0-9]{0,36}[a-z0-9])?")


class Cluster(Closing):
    """A Taskcluster deployment, reached through one signed transport.

    Make it with :meth:`from_url` or :meth:`from_env`. It is a context
    manager that closes its HTTP client. Handles made from it cost no
    request; requests are sent when data is read or an action is taken.

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
        go elsewhere (a proxy); by default ``root_url``.

        Example:
            >>> Cluster.from_url("https://tc.example.com/").root_url
            'https://tc.example.com'
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
            )
            return cls(transport, public_url=public_url)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

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
            try:
                credentials = Credentials(client_id, token, cert)
            except ValueError as exc:
                raise ConfigurationError(f"TASKCLUSTER_CERTIFICATE: {exc}") from None
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

    def ping(self) -> dict[str, Any]:
        """Ask the queue whether it is alive (``queue.ping``).

        Example:
            >>> # cluster.ping()  ->  {'alive': True, 'uptime': 12.3}
        """
        result: dict[str, Any] = self.transport.run(self.transport.call(Call.of("queue", "ping")))
        return result

    # the object tree (no request is sent by any of these)

    def task_group(self, task_group_id: str) -> TaskGroup:
        """A handle on a task group (no request).

        Example:
            >>> # cluster.task_group(group_id).tasks()
        """
        from tcmodel.resources.task_group import TaskGroup

        return TaskGroup(self, task_group_id)

    def task(self, task_id: str) -> Task:
        """A handle on a task (no request).

        Example:
            >>> # cluster.task(task_id).state
        """
        from tcmodel.resources.task import Task

        return Task(self, task_id)

    def tasks(self, task_ids: Iterable[str]) -> list[Task]:
        """Handles on many tasks whose statuses and definitions are then
        fetched in bulk: reading one fetches them all, one request per 1000.

        Example:
            >>> # states = [t.state for t in cluster.tasks(ids)]   # one request
        """
        from tcmodel.resources.task import TaskBatch

        ids = list(task_ids)
        batch = TaskBatch(self, ids)
        return [batch.tasks[i] for i in ids]  # one handle per id given, repeats included

    def index(self, namespace: str = "") -> Namespace:
        """A handle on an index namespace or path (``""`` is the root).

        Example:
            >>> # cluster.index("project.app.latest").find()
        """
        from tcmodel.resources.index import Namespace

        return Namespace(self, namespace)

    def create_task(
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
    ) -> Task:
        """Create a task (``createTask``) and return it with its status loaded
        (the definition, with the queue's defaults filled in, loads on first read).

        ``deadline`` and ``expires`` are datetimes or :func:`~tcmodel.from_now`
        offsets; ``dependencies`` are Tasks or task ids; a new ``task_id`` is
        made when none is given. The body is built once, so a retried
        request re-sends the same definition (createTask is idempotent).

        Example:
            >>> # t = cluster.create_task(task_queue_id="proj/ci", payload={"command": ["make"]},
            >>> #                         name="build", dependencies=[decision])
        """
        from tcmodel.models import PRIORITIES, REQUIRES
        from tcmodel.resources.task import Task
        from tcmodel.utils import check_choice, check_slug_id, from_now, slug_id, to_json_date

        now = datetime.fromtimestamp(self.transport.now(), tz=timezone.utc)

        def when(value: datetime | str) -> str:
            return to_json_date(from_now(value, now) if isinstance(value, str) else value)

        check_choice("priority", priority, PRIORITIES)
        check_choice("requires", requires, REQUIRES)
        if not isinstance(task_queue_id, str) or not _TASK_QUEUE_ID.fullmatch(task_queue_id):
            raise ValueError(
                f"task_queue_id must look like 'provisioner/worker-type' "
                f"(e.g. 'proj/ci'), not {task_queue_id!r}"
            )
        if retries is not None and not 0 <= retries <= 49:
            raise ValueError(f"retries must be between 0 and 49, not {retries!r}")
        new_id = check_slug_id(task_id, "taskId") if task_id is not None else slug_id()
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
        task = Task(self, new_id)
        task._run(task._status_op("createTask", body))
        return task

    # lifetime

    def close(self) -> None:
        """Close the HTTP client tcmodel made (yours is left open).

        Example:
            >>> cluster = Cluster.from_url("https://tc.example.com")
            >>> cluster.close()
        """
        self.transport.close()

    async def aclose(self) -> None:
        """Close the async HTTP client tcmodel made.

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
