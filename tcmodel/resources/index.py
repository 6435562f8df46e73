"""The index: dotted namespaces that name tasks (``project.app.latest``).

Example:
    >>> import tcmodel
    >>> ns = tcmodel.Cluster.from_url("https://tc.example.com").index("project.app")
    >>> ns
    <Namespace namespace='project.app'>
    >>> ns.child("latest")
    <Namespace namespace='project.app.latest'>
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tcmodel.api import endpoint
from tcmodel.models import IndexedTask, NamespaceInfo
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.transport import Call, Page
from tcmodel.utils import from_now, is_slug_id, to_json_date

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.artifact import Artifact

__all__ = ["IndexEntry", "Namespace"]

_NAMESPACE = re.compile(r"^([a-zA-Z0-9_!~*'()%-]+\.)*[a-zA-Z0-9_!~*'()%-]+$")


def _check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise TypeError(f"a namespace is a str, not {type(namespace).__name__}")
    if namespace and not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"invalid index namespace {namespace!r}: dotted words of "
            "[a-zA-Z0-9_!~*'()%-], no '/' and no empty part"
        )
    return namespace


class Namespace(Resource):
    """A namespace of the index (``""`` is the root). An *index path* is a
    namespace whose last word names an entry; :meth:`find` looks it up.

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> c.index("a/b")
        Traceback (most recent call last):
        ...
        ValueError: invalid index namespace 'a/b': ...
    """

    def __init__(
        self, cluster: Cluster, namespace: str = "", *, info: NamespaceInfo | None = None
    ) -> None:
        super().__init__(cluster)
        self._namespace = _check_namespace(namespace)
        self.info = info

    @property
    def namespace(self) -> str:
        """The dotted namespace (its identity; read-only).

        Example:
            >>> # cluster.index("a.b").namespace  ->  'a.b'
        """
        return self._namespace

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("namespace", self.namespace),)

    @property
    def ui_url(self) -> str:
        """The namespace's page in the web UI's index browser (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").index("project.app").ui_url
            'https://tc.example.com/tasks/index/project.app'
        """
        return self.cluster._ui_url("tasks", "index", *([self.namespace] if self.namespace else []))

    @property
    def name(self) -> str:
        """The last word of the namespace.

        Example:
            >>> # cluster.index("project.app.latest").name  ->  'latest'
        """
        return self.namespace.rsplit(".", 1)[-1]

    def child(self, name: str) -> Namespace:
        """The namespace one level down (no request).

        Example:
            >>> # cluster.index("project").child("app")
        """
        return Namespace(self.cluster, f"{self.namespace}.{name}" if self.namespace else name)

    def _call(self, name: str, body: Any = None) -> Call:
        if not self.namespace and name in ("findTask", "insertTask", "deleteTask"):
            raise ValueError(f"the index root names no task: give {name} an index path")
        key = "indexPath" if name == "findTask" else "namespace"
        return Call(endpoint("index", name), {key: self.namespace}, {}, body)

    # lookups

    def entry(self) -> IndexEntry:
        """The index entry at this path (``findTask``).

        Example:
            >>> # cluster.index("project.app.latest").entry().rank
        """
        raw = self._run(self._transport.call(self._call("findTask")))
        return IndexEntry(self.cluster, IndexedTask._from_json(raw))

    def find(self) -> Task:
        """The task indexed at this path (``findTask``; one request).

        Example:
            >>> # cluster.index("project.app.latest").find().state
        """
        return self.entry().task

    def artifact(self, name: str) -> Artifact:
        """Artifact ``name`` of the latest run of the task indexed here
        (one ``findTask`` request now; the artifact is read lazily).

        Example:
            >>> # ns = cluster.index("project.app.latest")
            >>> # ns.artifact("public/build/app.tar.gz").download(".")
        """
        return self.find().latest_artifact(name)

    def namespaces(self) -> Listing[Namespace]:
        """The namespaces directly below this one (lazily paged).

        Example:
            >>> # [n.namespace for n in cluster.index("project").namespaces()]
        """
        cluster = self.cluster

        def make(raw: Any) -> Namespace:
            info = NamespaceInfo._from_json(raw)
            return Namespace(cluster, info.namespace, info=info)

        call = self._call("listNamespaces")
        return Listing(self._transport, call, "namespaces", make, item_type=Namespace)

    def tasks(self) -> Listing[IndexEntry]:
        """The entries directly in this namespace (lazily paged). The tasks
        of one page's entries form a :class:`~tcmodel.resources.task.TaskBatch`:
        reading their states costs one bulk request per page.

        Example:
            >>> # [(e.name, e.task_id) for e in cluster.index("project.app").tasks()]
            >>> # [e.task.state for e in cluster.index("project.app").tasks()]
        """
        cluster = self.cluster
        batch: list[TaskBatch] = []  # the current page's

        def on_page(page: Page) -> None:
            ids = [raw.get("taskId") for raw in page.items if isinstance(raw, dict)]
            batch[:] = [TaskBatch(cluster, [str(t) for t in ids if is_slug_id(t)])]

        def make(raw: Any) -> IndexEntry:
            entry = IndexedTask._from_json(raw)
            task = batch[0].tasks.get(entry.task_id) if batch else None
            return IndexEntry(cluster, entry, task=task)

        call = self._call("listTasks")
        return Listing(self._transport, call, "tasks", make, on_page=on_page, item_type=IndexEntry)

    # changes

    def insert(
        self,
        task: Task | str,
        *,
        rank: float = 0,
        data: dict[str, Any] | None = None,
        expires: datetime | str | None = None,
    ) -> IndexEntry:
        """Index ``task`` at this path (``insertTask``). An existing entry
        with a higher rank is kept: compare the returned entry's task id.

        ``expires`` is a datetime or a :func:`~tcmodel.from_now` offset;
        by default one year.

        Example:
            >>> # cluster.index("project.app.latest").insert(task, rank=42)
        """
        task_id = task.task_id if isinstance(task, Task) else Task(self.cluster, task).task_id
        now = datetime.fromtimestamp(self._transport.now(), tz=timezone.utc)
        when = from_now(expires, now) if isinstance(expires, str) else expires
        when = when or from_now("1 year", now)
        body = {
            "taskId": task_id,
            "rank": rank,
            "data": data or {},
            "expires": to_json_date(when),
        }
        raw = self._run(self._transport.call(self._call("insertTask", body)))
        return IndexEntry(self.cluster, IndexedTask._from_json(raw))

    def delete(self) -> None:
        """Remove the entry at this path (``deleteTask``).

        Example:
            >>> # cluster.index("project.app.old").delete()
        """
        self._run(self._transport.call(self._call("deleteTask")))


class IndexEntry(Resource):
    """One entry of the index: a task under a path, with rank and data.

    Example:
        >>> import tcmodel
        >>> from tcmodel.models import IndexedTask, from_json
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> e = IndexEntry(c, from_json(IndexedTask, {"namespace": "a.b",
        ...     "taskId": "Dx4tPEtaRpeIeWpbTD0uHw", "rank": 1, "data": {},
        ...     "expires": "2030-01-01T00:00:00Z"}))
        >>> e
        <IndexEntry namespace='a.b' taskId='Dx4tPEtaRpeIeWpbTD0uHw'>
        >>> e.task
        <Task taskId='Dx4tPEtaRpeIeWpbTD0uHw'>
    """

    def __init__(self, cluster: Cluster, entry: IndexedTask, *, task: Task | None = None) -> None:
        super().__init__(cluster)
        self.entry = entry
        if task is not None and task.task_id != entry.task_id:
            raise ValueError(f"task {task.task_id} is not the entry's task {entry.task_id}")
        self._task = task

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("namespace", self.entry.namespace), ("taskId", self.entry.task_id))

    @property
    def ui_url(self) -> str:
        """The entry's page in the web UI's index browser (no request; the
        task's own page is ``entry.task.ui_url``).

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().ui_url
            'http://127.0.0.1:.../tasks/index/project.app.linux64-opt/latest'
        """
        parent, _, name = self.entry.namespace.rpartition(".")
        return self.cluster._ui_url("tasks", "index", *([parent] if parent else []), name)

    @property
    def namespace(self) -> str:
        """The entry's full index path.

        Example:
            >>> # cluster.index("project.app.latest").find().namespace  ->  'project.app.latest'
        """
        return self.entry.namespace

    @property
    def name(self) -> str:
        """The last word of the path.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().name
            'latest'
        """
        return self.entry.namespace.rsplit(".", 1)[-1]

    @property
    def task_id(self) -> str:
        """The indexed task's id.

        Example:
            >>> # cluster.index("project.app.latest").find().task_id  ->  'Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self.entry.task_id

    @property
    def task(self) -> Task:
        """The indexed task (no request; the same handle every time, so its
        data loads once, or in bulk for the entries of a listing's page).

        Example:
            >>> # [e.task.state for e in cluster.index("project.app").tasks()]  # bulk-loaded
        """
        if self._task is None:
            self._task = Task(self.cluster, self.entry.task_id)
        return self._task

    @property
    def rank(self) -> float:
        """The entry's rank (a higher rank wins).

        Example:
            >>> # entry.rank  ->  42.0
        """
        return self.entry.rank

    @property
    def data(self) -> dict[str, Any]:
        """The data stored with the entry.

        Example:
            >>> # entry.data  ->  {'revision': 'abc123'}
        """
        return self.entry.data

    @property
    def expires(self) -> datetime:
        """When the entry expires.

        Example:
            >>> # entry.expires.isoformat()  ->  '2025-01-31T12:00:00+00:00'
        """
        return self.entry.expires
