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
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel._twin import same_arguments
from tcmodel.api import endpoint
from tcmodel.download import DownloadResult, Progress, read_artifact_op
from tcmodel.models import IndexedTask, ModelDataError, NamespaceInfo
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.transport import Call, Op, Page, Pager, Transport, parsing
from tcmodel.urls import check_url_part
from tcmodel.utils import is_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["FIND_CHUNK", "FoundTasks", "IndexEntry", "IndexedArtifact", "Namespace", "find_tasks"]

#: How many index paths one ``findTasksAtIndex`` request asks for.
FIND_CHUNK = 1000

_NAMESPACE = re.compile(r"^([a-zA-Z0-9_!~*'()%-]+\.)*[a-zA-Z0-9_!~*'()%-]+$")


def _check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise TypeError(f"a namespace is a str, not {type(namespace).__name__}")
    if namespace and not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"invalid index namespace {namespace[:200]!r}: dotted words of "
            "[a-zA-Z0-9_!~*'()%-], no '/' and no empty part"
        )
    return check_url_part("index namespace", namespace)


def _entry_ui_url(cluster: Cluster, path: str) -> str:
    """The web UI page of the index entry at ``path`` (no request)."""
    parent, _, name = path.rpartition(".")
    return cluster._ui_url("tasks", "index", *([parent] if parent else []), name)


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
            >>> cluster.index("a.b").namespace
            'a.b'
        """
        return self._namespace

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("namespace", self.namespace),)

    @property
    def url(self) -> str:
        """The API URL of the entry at this path (``findTask``; for the
        root, ``listNamespaces``), on the public root URL; no request.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").index("project.app.latest").url
            'https://tc.example.com/api/index/v1/task/project.app.latest'
        """
        name = "findTask" if self.namespace else "listNamespaces"
        return self.cluster._api_url(self._call(name))

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
            >>> cluster.index("project.app.latest").name
            'latest'
        """
        return self.namespace.rsplit(".", 1)[-1]

    def child(self, name: str) -> Namespace:
        """The namespace one level down (no request).

        Example:
            >>> cluster.index("project").child("app")
            <Namespace namespace='project.app'>
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
            >>> cluster.index("project.app.linux64-opt.latest").entry().task_id == build.task_id
            True
        """
        return self._run(self._entry_op())

    async def aentry(self) -> IndexEntry:
        """The async form of :meth:`entry`.

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.index("project.app.linux64-opt.latest").aentry()).name
            >>> asyncio.run(main())
            'latest'
        """
        return await self._arun(self._entry_op())

    def _entry_op(self) -> Op[IndexEntry]:
        return self._transport.call(self._call("findTask"), convert=self._entry)

    def _entry(self, raw: Any) -> IndexEntry:
        """An entry from an answer, with its task (so an id that is no
        slugId fails here, naming the call, not when the task is read)."""
        entry = IndexedTask._from_json(raw)
        _check_namespace(entry.namespace)
        return IndexEntry(self.cluster, entry, task=Task(self.cluster, entry.task_id))

    def find(self) -> Task:
        """The task indexed at this path (``findTask``; one request).

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").find().name
            'build-linux64-opt'
        """
        return self.entry().task

    async def afind(self) -> Task:
        """The async form of :meth:`find` (one request; the task's data is
        then loaded with ``await task.astatus()`` …).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         found = await c.index("project.app.linux64-opt.latest").afind()
            ...         await found.adefinition()
            ...         return found.name
            >>> asyncio.run(main())
            'build-linux64-opt'
        """
        return (await self.aentry()).task

    def artifact(self, name: str) -> IndexedArtifact:
        """Artifact ``name`` of the latest run of the task indexed here (no
        request now): reading it goes through ``findArtifactFromTask``, so
        the index is asked when the data is wanted, and a public artifact
        whose data the index points at costs two requests in all.

        Example:
            >>> a = cluster.index("project.app.linux64-opt.latest").artifact(art.name)
            >>> a  # doctest: +ELLIPSIS
            <IndexedArtifact namespace='project.app.linux64-opt.latest' name='public/build/...'>
            >>> len(a.read_bytes()), a.task_id == build.task_id
            (131072, True)
        """
        return IndexedArtifact(self, name)

    def find_tasks(self, paths: Iterable[str]) -> FoundTasks:
        """The tasks indexed at ``paths`` below this namespace (full paths
        at the root), as :meth:`tcmodel.Cluster.find_tasks` finds them:
        one ``findTasksAtIndex`` request per 1000 paths, keyed by the paths
        given; paths with no entry are in ``.missing``.

        Example:
            >>> found = cluster.index("project.app").find_tasks(["linux64-opt.latest", "nope"])
            >>> [t.name for t in found.values()], found.missing
            (['build-linux64-opt'], ('nope',))
        """
        return self._run(find_tasks(self.cluster, paths, under=self.namespace))

    async def afind_tasks(self, paths: Iterable[str]) -> FoundTasks:
        """The async form of :meth:`find_tasks` (the same requests).

        Example:
            >>> import asyncio
            >>> async def main() -> tuple[str, ...]:
            ...     async with lc.connect() as c:
            ...         found = await c.index("project.app").afind_tasks(["nope"])
            ...         return found.missing
            >>> asyncio.run(main())
            ('nope',)
        """
        return await self._arun(find_tasks(self.cluster, paths, under=self.namespace))

    def namespaces(self) -> Listing[Namespace]:
        """The namespaces directly below this one (lazily paged).

        Example:
            >>> [n.namespace for n in cluster.index("project").namespaces()]
            ['project.app']
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
            >>> entries = list(cluster.index("project.app.linux64-opt").tasks())
            >>> [(e.name, e.task_id == build.task_id) for e in entries]
            [('latest', True)]
        """
        cluster = self.cluster
        batch: list[TaskBatch] = []  # the current page's

        def on_page(page: Page) -> None:
            ids = [raw.get("taskId") for raw in page.items if isinstance(raw, dict)]
            batch[:] = [TaskBatch(cluster, [str(t) for t in ids if is_slug_id(t)])]

        def make(raw: Any) -> IndexEntry:
            entry = IndexedTask._from_json(raw)
            _check_namespace(entry.namespace)
            task = batch[0].tasks.get(entry.task_id) if batch else None
            return IndexEntry(cluster, entry, task=task or Task(cluster, entry.task_id))

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

        ``expires`` is a datetime, an RFC 3339 date or a
        :func:`~tcmodel.from_now` offset; by default one year.

        Example:
            >>> entry = cluster.index("doc.insert.latest").insert(build, rank=42)
            >>> entry.rank, entry.task_id == build.task_id
            (42, True)
        """
        return self._run(self._insert_op(task, rank=rank, data=data, expires=expires))

    @same_arguments(insert)
    async def ainsert(self, *args: Any, **kwargs: Any) -> IndexEntry:
        """The async form of :meth:`insert` (the same arguments).

        Example:
            >>> import asyncio
            >>> async def main() -> float:
            ...     async with lc.connect() as c:
            ...         return (await c.index("doc.ainsert.latest").ainsert(build, rank=7)).rank
            >>> asyncio.run(main())
            7
        """
        return await self._arun(self._insert_op(*args, **kwargs))

    def _insert_op(
        self,
        task: Task | str,
        *,
        rank: float = 0,
        data: dict[str, Any] | None = None,
        expires: datetime | str | None = None,
    ) -> Op[IndexEntry]:
        from tcmodel.resources._dates import json_date

        task_id = task.task_id if isinstance(task, Task) else Task(self.cluster, task).task_id
        body = {
            "taskId": task_id,
            "rank": rank,
            "data": data or {},
            "expires": json_date(self._transport, "1 year" if expires is None else expires),
        }
        return self._transport.call(self._call("insertTask", body), convert=self._entry)

    def delete(self) -> None:
        """Remove the entry at this path (``deleteTask``).

        Example:
            >>> cluster.index("doc.delete.latest").insert(build).namespace
            'doc.delete.latest'
            >>> cluster.index("doc.delete.latest").delete()
            >>> cluster.index("doc.delete.latest").find()
            Traceback (most recent call last):
            ...
            tcmodel.errors.NotFound: index.findTask(indexPath='doc.delete.latest'): 404 ...
        """
        self._run(self._transport.call(self._call("deleteTask")))

    async def adelete(self) -> None:
        """The async form of :meth:`delete`.

        Example:
            >>> import asyncio
            >>> _ = cluster.index("doc.adelete.latest").insert(build)
            >>> async def main() -> None:
            ...     async with lc.connect() as c:
            ...         await c.index("doc.adelete.latest").adelete()
            >>> asyncio.run(main())
            >>> cluster.index("doc.adelete").find_tasks(["latest"]).missing
            ('latest',)
        """
        await self._arun(self._transport.call(self._call("deleteTask")))


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
        return _entry_ui_url(self.cluster, self.entry.namespace)

    @property
    def raw(self) -> dict[str, Any]:
        """The entry as the index answered it (JSON, unknown keys included).

        Example:
            >>> sorted(cluster.index("project.app.linux64-opt.latest").entry().raw)
            ['data', 'expires', 'namespace', 'rank', 'taskId']
        """
        return self.entry.raw

    @property
    def namespace(self) -> str:
        """The entry's full index path.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().namespace
            'project.app.linux64-opt.latest'
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
            >>> cluster.index("project.app.linux64-opt.latest").entry().task_id == build.task_id
            True
        """
        return self.entry.task_id

    @property
    def task(self) -> Task:
        """The indexed task (no request; the same handle every time, so its
        data loads once, or in bulk for the entries of a listing's page).

        Example:
            >>> entries = cluster.index("project.app.linux64-opt").tasks()
            >>> [e.task.state for e in entries]  # bulk-loaded
            ['completed']
        """
        if self._task is None:
            self._task = Task(self.cluster, self.entry.task_id)
        return self._task

    @property
    def rank(self) -> float:
        """The entry's rank (a higher rank wins).

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().rank
            0
        """
        return self.entry.rank

    @property
    def data(self) -> dict[str, Any]:
        """The data stored with the entry.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().data
            {}
        """
        return self.entry.data

    @property
    def expires(self) -> datetime:
        """When the entry expires.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").entry().expires.utcoffset()
            datetime.timedelta(0)
        """
        return self.entry.expires


class FoundTasks(Mapping[str, Task]):
    """The tasks found at index paths: a mapping path → Task (in the order
    the paths were given), with ``entries`` (path → :class:`IndexEntry`,
    rank, data and expiry loaded) and ``missing`` (the paths with no
    entry). The tasks share one batch: reading their states or definitions
    costs one bulk request per 1000 tasks.

    Example:
        >>> found = cluster.find_tasks(["project.app.linux64-opt.latest", "project.nope"])
        >>> found
        <FoundTasks found=1 missing=1>
        >>> list(found), found.entries["project.app.linux64-opt.latest"].rank >= 0
        (['project.app.linux64-opt.latest'], True)
    """

    def __init__(self, entries: dict[str, IndexEntry], missing: tuple[str, ...]) -> None:
        self.entries = entries
        self.missing = missing

    def __getitem__(self, path: str) -> Task:
        return self.entries[path].task

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<FoundTasks found={len(self.entries)} missing={len(self.missing)}>"


def find_tasks(cluster: Cluster, paths: Iterable[str], *, under: str = "") -> Op[FoundTasks]:
    """Look up many index paths at once (``findTasksAtIndex``: one request
    per :data:`FIND_CHUNK` paths, as an operation); ``under`` is the
    namespace the paths are relative to. Paths with no entry are reported
    in ``.missing``, not raised.

    Example:
        >>> op = find_tasks(cluster, ["linux64-opt.latest"], under="project.app")
        >>> cluster.transport.run(op)["linux64-opt.latest"].task_id == build.task_id
        True
    """
    given = list(dict.fromkeys(_check_namespace(p) for p in paths))
    full = {p: f"{under}.{p}" if under else p for p in given}
    for path in full.values():
        _check_namespace(path)
    wanted = list(dict.fromkeys(full.values()))
    found: dict[str, IndexedTask] = {}
    for start in range(0, len(wanted), FIND_CHUNK):
        call = Call.of("index", "findTasksAtIndex", body={"indexes": wanted[start:][:FIND_CHUNK]})
        items = yield from cluster.transport.all_items(Pager(call, "tasks"))
        with parsing(call):
            for raw in items:
                entry = IndexedTask._from_json(raw)
                _check_namespace(entry.namespace)
                if not is_slug_id(entry.task_id):
                    raise ModelDataError(f"taskId {entry.task_id!r} is not a slugId")
                found[entry.namespace] = entry
    hits = [p for p in given if full[p] in found]
    batch = TaskBatch(cluster, [found[full[p]].task_id for p in hits])
    entries = {
        p: IndexEntry(cluster, found[full[p]], task=batch.tasks[found[full[p]].task_id])
        for p in hits
    }
    return FoundTasks(entries, tuple(p for p in given if full[p] not in found))


class IndexedArtifact(Artifact):
    """Artifact ``name`` of the latest run of the task indexed at a path,
    read through the index (``findArtifactFromTask``): making it sends
    nothing, and the index is asked each time the data is read, so a read
    gets whatever the path names then. It reads, downloads and opens as
    any :class:`~tcmodel.resources.artifact.Artifact`. ``task_id`` is
    learned from the index's answer, or asked for (``findTask``) when it is
    wanted first.

    Example:
        >>> import tcmodel
        >>> ns = tcmodel.Cluster.from_url("https://tc.example.com").index("project.app.latest")
        >>> ns.artifact("public/app.tar.gz").url
        'https://tc.example.com/api/index/v1/task/project.app.latest/artifacts/public%2Fapp.tar.gz'
    """

    _noun = "artifact"
    # A placeholder for the base class, which wants a taskId: this one's is
    # found through the index (see ``task_id``).
    _UNKNOWN = "AAAAAAAAQACAAAAAAAAAAA"

    def __init__(self, namespace: Namespace, name: str) -> None:
        if not namespace.namespace:
            raise ValueError("the index root names no task: give artifact() an index path")
        super().__init__(namespace.cluster, self._UNKNOWN, None, name)
        self._index = namespace
        self._found: str | None = None

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("namespace", self._index.namespace), ("name", self.name))

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        known = (("taskId", self._found),) if self._found is not None else ()
        return (*known, *super()._loaded_facts())

    @property
    def namespace(self) -> Namespace:
        """The index path the artifact is found through.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").artifact("public/x").namespace
            <Namespace namespace='project.app.linux64-opt.latest'>
        """
        return self._index

    @property
    def task_id(self) -> str:
        """The indexed task's id: learned by the last read, else found with
        one ``findTask`` request (kept until :meth:`refresh`).

        Example:
            >>> a = cluster.index("project.app.linux64-opt.latest").artifact(art.name)
            >>> a.task_id == build.task_id
            True
        """
        if self._found is None:
            self._found = self._index.entry().task_id
        return self._found

    async def atask_id(self) -> str:
        """The async form of :attr:`task_id`.

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         a = c.index("project.app.linux64-opt.latest").artifact(art.name)
            ...         return await a.atask_id()
            >>> asyncio.run(main()) == build.task_id
            True
        """
        if self._found is None:
            self._found = (await self._index.aentry()).task_id
        return self._found

    def refresh(self) -> IndexedArtifact:
        """Forget the metadata and the task found; the next read asks the
        index again.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").artifact("public/x").refresh()
            <IndexedArtifact namespace='project.app.linux64-opt.latest' name='public/x'>
        """
        super().refresh()
        self._found = None
        self._task_handle = None
        self._run_handle = None
        return self

    @property
    def ui_url(self) -> str:
        """The web UI page of the run the last read came from, or of the
        index path before one (no request).

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").artifact("public/x").ui_url
            'http://127.0.0.1:.../tasks/index/project.app.linux64-opt/latest'
        """
        if self._found is None:
            return _entry_ui_url(self._cluster, self._index.namespace)
        return super().ui_url

    def _find_call(self) -> Call:
        return Call.of(
            "index", "findArtifactFromTask", indexPath=self._index.namespace, name=self.name
        )

    @property
    def url(self) -> str:
        """The index's ``findArtifactFromTask`` URL, which redirects to the
        artifact of the task indexed at the time it is fetched; no request.

        Example:
            >>> cluster.index("project.app.linux64-opt.latest").artifact("public/x").url
            'http://127.0.0.1:.../api/index/v1/task/project.app.linux64-opt.latest/artifacts/public%2Fx'
        """
        return self._cluster._api_url(self._find_call())

    def signed_url(self, expires_in: float = 3600) -> str:
        """A bewit-signed :attr:`url` that anyone can GET (following
        redirects) until it expires; it is then a secret.

        Example:
            >>> a = cluster.index("project.app.linux64-opt.latest").artifact("private/x")
            >>> "bewit=" in a.signed_url(60)
            True
        """
        return self._transport.signed_url(self._find_call(), expires_in=expires_in)

    def _read_op(
        self, progress: Progress | None = None, restart: Callable[[], None] | None = None
    ) -> Op[DownloadResult]:
        """Ask the index where the data is; read it from the queue (the
        index named the task) or straight from the URL it gave."""
        call = self._find_call()
        location = yield from self._transport.call(call, convert=_location)
        task_id = self._queue_task(location)
        if task_id is not None:
            self._found = task_id
            return (
                yield from read_artifact_op(
                    self._transport,
                    task_id,
                    None,
                    self.name,
                    progress=progress,
                    restart=restart,
                )
            )
        return (yield from _read_url(self._transport, call, location, progress, restart))

    def _queue_task(self, url: str) -> str | None:
        """The task id of a getLatestArtifact/getArtifact URL of this
        deployment (signed or not), else ``None``."""
        for root in dict.fromkeys((self._cluster.root_url, self._cluster.public_url)):
            prefix = f"{root}/api/queue/v1/task/"
            if url.startswith(prefix):
                task_id, _, rest = url[len(prefix) :].partition("/")
                if is_slug_id(task_id) and (rest.startswith(("artifacts/", "runs/"))):
                    return task_id
        return None


def _location(answer: Any) -> str:
    """Where a redirect answer points."""
    url = answer.get("url") if isinstance(answer, dict) else None
    if not isinstance(url, str):
        raise ModelDataError("the answer names no URL to go to")
    return url


def _read_url(
    transport: Transport,
    call: Call,
    url: str,
    progress: Progress | None,
    restart: Callable[[], None] | None,
) -> Op[DownloadResult]:
    """Read the data at ``url`` (a storage URL the index answered ``call``
    with), unsigned, following redirects and resuming as artifact reads
    do; a URL that stops working is asked of the index again."""
    from tcmodel.download import _Body, _fetch, _UrlSource

    def again() -> Op[_UrlSource]:
        return _UrlSource("url", (yield from transport.call(call, convert=_location)))

    what = str(call)
    body = _Body(what, progress, hashing=False, restart=restart)
    source = yield from _fetch(transport, what, _UrlSource("url", url), again, body)
    return DownloadResult(source.kind, body.content_type, body.emitted)
