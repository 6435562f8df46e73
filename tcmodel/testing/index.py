"""The emulated index service: named pointers to tasks, in dotted namespaces.

Entries live in dicts keyed by their parent namespace, so a lookup is one
dict access and a listing touches only the direct children. Expiry uses a
heap of due times (:class:`ExpiryQueue`), so :meth:`IndexService.tick`
costs nothing until something is due.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState(root_url="http://127.0.0.1:1")
    >>> st.index.on_task_completed("Dx4tPEtaRpeIeWpbTD0uHw", {
    ...     "routes": ["index.proj.main.latest"],
    ...     "expires": "2999-01-01T00:00:00.000Z", "extra": {}})
    >>> st.index.find("proj.main.latest")["taskId"]
    'Dx4tPEtaRpeIeWpbTD0uHw'
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.api import endpoint
from tcmodel.testing._common import (
    Client,
    ExpiryQueue,
    checked_body,
    checked_date,
    input_invalid,
    page_of,
)
from tcmodel.testing._core import (
    ApiError,
    Request,
    Response,
    Service,
    handles,
    iso,
    parse_iso,
    see_other,
)
from tcmodel.utils import is_slug_id

if TYPE_CHECKING:
    from tcmodel.credentials import Credentials
    from tcmodel.testing.state import ClusterState

__all__ = ["INDEX_CLIENT_ID", "NAMESPACE_PATTERN", "IndexService"]

#: What a namespace or index path must match (no ``/``, no empty parts).
NAMESPACE_PATTERN = re.compile(r"^([a-zA-Z0-9_!~*'()%-]+\.)*[a-zA-Z0-9_!~*'()%-]+$")

#: The client the index uses to sign the getLatestArtifact URLs it redirects to.
INDEX_CLIENT_ID = "static/taskcluster/index"

_INSERT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "taskId": str,
    "rank": (int, float),
    "data": dict,
    "expires": str,
}
_DAY = 86400
# findArtifactFromTask signs its redirect for private names for 15 minutes.
_SIGNED_URL_SECONDS = 15 * 60


def _split(index_path: str) -> tuple[str, str]:
    """``"a.b.c"`` → ``("a.b", "c")``; ``"c"`` → ``("", "c")``."""
    parent, _, name = index_path.rpartition(".")
    return parent, name


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent and name else parent + name


def _next_midnight(ts: float) -> float:
    """The first UTC midnight strictly after ``ts``."""
    return (ts // _DAY + 1) * _DAY


def _check_namespace(value: str, what: str) -> None:
    if not NAMESPACE_PATTERN.match(value):
        raise ApiError(
            400,
            "InvalidRequestArguments",
            f"Invalid value for URL parameter `{what}`: {value!r} does not match "
            f"{NAMESPACE_PATTERN.pattern}",
        )


@attrs.define
class _Entry:
    task_id: str
    rank: float
    data: dict[str, Any]
    expires: float


class IndexService(Service):
    """The emulated index service (``/api/index/v1``).

    Entries are replaced when the new rank is at least the stored one;
    parent namespaces are created on insert, their expiry pushed forward to
    the next UTC midnight after the entry's. Expired entries and namespaces
    vanish at the first request after their ``expires``.

    Example:
        >>> from tcmodel.testing.state import ClusterState
        >>> st = ClusterState(root_url="http://127.0.0.1:1")
        >>> _ = st.index.insert("a.b", "Dx4tPEtaRpeIeWpbTD0uHw", rank=1, expires=4e9)
        >>> st.index.insert("a.b", "Dx4tPEtaRpeIeWpbTD0uHw", rank=0, expires=4e9)["rank"]
        1
        >>> [ns["namespace"] for ns in st.index.namespaces("")]
        ['a']
    """

    name = "index"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        # parent namespace -> entry name -> entry
        self._entries: dict[str, dict[str, _Entry]] = {}
        # parent namespace -> child namespace name -> expires
        self._namespaces: dict[str, dict[str, float]] = {}
        # (is_namespace, parent, name)
        self._expiry: ExpiryQueue[tuple[bool, str, str]] = ExpiryQueue()
        self._token = secrets.token_urlsafe(32)
        self._register_client()

    # -- state ------------------------------------------------------------

    def _register_client(self) -> None:
        client = self.cluster.clients.get(INDEX_CLIENT_ID)
        if client is None or client.access_token != self._token:
            self.cluster.clients[INDEX_CLIENT_ID] = Client(
                INDEX_CLIENT_ID, self._token, ("queue:get-artifact:*",)
            )

    def _credentials(self) -> Credentials:
        from tcmodel.credentials import Credentials

        self._register_client()
        return Credentials(INDEX_CLIENT_ID, self._token)

    def _ensure_namespace(self, namespace: str, expires: float) -> None:
        """Create ``namespace`` and its ancestors; push their expiry to the
        next midnight after ``expires`` where it is earlier."""
        if not namespace:
            return
        until = _next_midnight(expires)
        parts = namespace.split(".")
        for i in range(len(parts)):
            parent, name = ".".join(parts[:i]), parts[i]
            children = self._namespaces.setdefault(parent, {})
            if children.get(name, float("-inf")) < until:
                children[name] = until
                self._expiry.push(until, (True, parent, name))

    def _lookup(self, index_path: str, now: float) -> _Entry | None:
        parent, name = _split(index_path)
        entry = self._entries.get(parent, {}).get(name)
        if entry is None or entry.expires <= now:
            return None
        return entry

    @staticmethod
    def _serialize(parent: str, name: str, entry: _Entry) -> dict[str, Any]:
        return {
            "namespace": _join(parent, name),
            "taskId": entry.task_id,
            "rank": entry.rank,
            "data": copy.deepcopy(entry.data),
            "expires": iso(entry.expires),
        }

    def insert(
        self,
        index_path: str,
        task_id: str,
        *,
        rank: float = 0,
        data: dict[str, Any] | None = None,
        expires: float,
    ) -> dict[str, Any]:
        """Index ``task_id`` at ``index_path`` as insertTask does, and return
        the entry that is now stored (the old one when it has a higher rank).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.index.insert("x.y", "Dx4tPEtaRpeIeWpbTD0uHw", expires=4e9)["namespace"]
            'x.y'
        """
        parent, name = _split(index_path)
        children = self._entries.setdefault(parent, {})
        old = children.get(name)
        if old is not None and old.rank > rank:
            return self._serialize(parent, name, old)
        entry = _Entry(task_id, rank, copy.deepcopy(data or {}), expires)
        children[name] = entry
        self._ensure_namespace(parent, expires)
        self._expiry.push(expires, (False, parent, name))
        return self._serialize(parent, name, entry)

    def find(self, index_path: str) -> dict[str, Any] | None:
        """The live entry at ``index_path`` as findTask gives it, or ``None``.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().index.find("no.such.path") is None
            True
        """
        entry = self._lookup(index_path, self.cluster.clock.now())
        if entry is None:
            return None
        return self._serialize(*_split(index_path), entry)

    def namespaces(self, namespace: str) -> list[dict[str, Any]]:
        """The namespaces directly under ``namespace`` (``""``: the root),
        sorted by name, as listNamespaces gives them.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().index.namespaces("")
            []
        """
        return [
            self._namespace_json(namespace, n) for n in sorted(self._namespaces.get(namespace, {}))
        ]

    def _namespace_json(self, parent: str, name: str) -> dict[str, Any]:
        expires = self._namespaces[parent][name]
        return {"namespace": _join(parent, name), "name": name, "expires": iso(expires)}

    def _task_json(self, parent: str, name: str) -> dict[str, Any]:
        return self._serialize(parent, name, self._entries[parent][name])

    def tasks(self, namespace: str) -> list[dict[str, Any]]:
        """The entries directly under ``namespace``, sorted by name, as
        listTasks gives them.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().index.tasks("a")
            []
        """
        return [self._task_json(namespace, n) for n in sorted(self._entries.get(namespace, {}))]

    def tick(self, now: float) -> None:
        """Drop entries and namespaces whose ``expires`` has come.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> _ = st.index.insert("a.b", "Dx4tPEtaRpeIeWpbTD0uHw", expires=10.0)
            >>> st.index.tick(100.0)
            >>> st.index.tasks("a")
            []
        """
        for is_namespace, parent, name in self._expiry.pop_due(now):
            table: dict[str, dict[str, Any]] = self._namespaces if is_namespace else self._entries
            children = table.get(parent)
            if children is None or name not in children:
                continue
            value = children[name]
            expires = value if is_namespace else value.expires
            if expires > now:
                continue  # extended since this was queued
            del children[name]
            if not children:
                del table[parent]

    def on_task_completed(self, task_id: str, task: dict[str, Any]) -> None:
        """Index a task that has just completed, as the real index does on a
        task-completed message: every route ``index.<ns>`` with a valid
        ``<ns>`` is indexed there, with ``rank``, ``expires`` and ``data``
        from ``task["extra"]["index"]`` (defaults ``0``, the task's
        ``expires``, ``{}``). A task whose ``rank`` is not a number or whose
        ``data`` is not an object is not indexed at all.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.index.on_task_completed("Dx4tPEtaRpeIeWpbTD0uHw", {
            ...     "routes": ["index.a.b", "index.bad/ns", "other"],
            ...     "expires": "2999-01-01T00:00:00Z",
            ...     "extra": {"index": {"rank": 7}}})
            >>> st.index.find("a.b")["rank"]
            7
        """
        namespaces = [
            route[len("index.") :]
            for route in task.get("routes") or ()
            if isinstance(route, str) and route.startswith("index.")
        ]
        namespaces = [ns for ns in namespaces if NAMESPACE_PATTERN.match(ns)]
        if not namespaces:
            return
        extra = task.get("extra")
        options = extra.get("index") if isinstance(extra, dict) else None
        options = options if isinstance(options, dict) else {}
        rank = options.get("rank", 0)
        data = options.get("data", {})
        if isinstance(rank, bool) or not isinstance(rank, (int, float)):
            return
        if not isinstance(data, dict):
            return
        try:
            expires = parse_iso(options.get("expires") or task["expires"])
        except (KeyError, ValueError):
            return
        for ns in namespaces:
            self.insert(ns, task_id, rank=rank, data=data, expires=expires)

    # -- API --------------------------------------------------------------

    @handles("findTask")
    def find_task(self, req: Request) -> dict[str, Any]:
        """``GET /task/<indexPath>`` → the indexed task; 404 when missing or
        expired.

        Example: ``GET /api/index/v1/task/proj.main.latest``
        """
        index_path = req.params.get("indexPath", "")
        _check_namespace(index_path, "indexPath")
        entry = self._lookup(index_path, req.now)
        if entry is None:
            raise ApiError(404, "ResourceNotFound", "Indexed task not found")
        return self._serialize(*_split(index_path), entry)

    @handles("insertTask")
    def insert_task(self, req: Request) -> dict[str, Any]:
        """``PUT /task/<namespace>`` with ``{taskId, rank, data, expires}``:
        replace the entry when its rank is ≤ the new rank; else answer 200
        with the old entry.

        Example: ``PUT /api/index/v1/task/proj.main.latest``
        """
        namespace = req.params.get("namespace", "")
        _check_namespace(namespace, "namespace")
        body = checked_body(req.body, _INSERT_FIELDS, _INSERT_FIELDS)
        if not is_slug_id(body["taskId"]):
            raise input_invalid(f"`taskId` must be a slugId, not {body['taskId']!r}")
        expires = checked_date(body["expires"])
        return self.insert(
            namespace, body["taskId"], rank=body["rank"], data=body["data"], expires=expires
        )

    @handles("deleteTask")
    def delete_task(self, req: Request) -> dict[str, Any]:
        """``DELETE /task/<namespace>``: forget the entry (200 ``{}`` even
        if there was none). Parent namespaces stay.

        Example: ``DELETE /api/index/v1/task/proj.main.latest``
        """
        namespace = req.params.get("namespace", "")
        _check_namespace(namespace, "namespace")
        parent, name = _split(namespace)
        children = self._entries.get(parent)
        if children is not None:
            children.pop(name, None)
            if not children:
                del self._entries[parent]
        return {}

    def _list_namespace(self, req: Request) -> str:
        namespace = req.params.get("namespace", "")
        if namespace:
            _check_namespace(namespace, "namespace")
        return namespace

    @handles("listNamespaces")
    def list_namespaces(self, req: Request) -> dict[str, Any]:
        """``GET /namespaces/<namespace>`` → the namespaces directly under it
        (an empty namespace is the root), paged.

        Example: ``GET /api/index/v1/namespaces/proj?limit=10``
        """
        namespace = self._list_namespace(req)
        return self._list_children(req, "namespaces", namespace, self._namespace_json)

    @handles("listTasks")
    def list_tasks(self, req: Request) -> dict[str, Any]:
        """``GET /tasks/<namespace>`` → the entries directly under it, paged.

        Example: ``GET /api/index/v1/tasks/proj.main``
        """
        namespace = self._list_namespace(req)
        return self._list_children(req, "tasks", namespace, self._task_json)

    @handles("findTasksAtIndex")
    def find_tasks_at_index(self, req: Request) -> dict[str, Any]:
        """``POST /tasks/indexes`` with ``{indexes: [...]}`` → the entries
        found at those paths (missing ones left out), paged; a token only
        works with the same body. Each path needs ``index:find-task:<path>``.

        Example: ``POST /api/index/v1/tasks/indexes`` ``{"indexes": ["a.b"]}``
        """
        indexes = checked_body(req.body, {"indexes": list}).get("indexes", [])
        if not all(isinstance(i, str) for i in indexes):
            raise input_invalid("`indexes` must be a list of strings")
        req.authorize(indexPaths=indexes)
        found = []
        for path in dict.fromkeys(indexes):
            entry = self._lookup(path, req.now)
            if entry is not None:
                found.append(self._serialize(*_split(path), entry))
        identity = "indexes:" + "\n".join(indexes)
        page, token = page_of(found, req, identity, self.cluster.settings.max_page_size)
        return self._paged("tasks", list(page), token)

    def _list_children(
        self,
        req: Request,
        key: str,
        namespace: str,
        render: Callable[[str, str], dict[str, Any]],
    ) -> dict[str, Any]:
        """A page of the namespaces or entries under ``namespace``; only the
        page is rendered, so listing big namespaces stays cheap."""
        table: Mapping[str, Mapping[str, Any]] = (
            self._namespaces if key == "namespaces" else self._entries
        )
        names = sorted(table.get(namespace, {}))
        page, token = page_of(names, req, f"{key}:{namespace}", self.cluster.settings.max_page_size)
        return self._paged(key, [render(namespace, n) for n in page], token)

    @staticmethod
    def _paged(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
        result: dict[str, Any] = {key: items}
        if token is not None:
            result["continuationToken"] = token
        return result

    @handles("findArtifactFromTask")
    def find_artifact_from_task(self, req: Request) -> Response:
        """``GET /task/<indexPath>/artifacts/<name>`` → 303 to the artifact
        of the indexed task's latest run.

        A name the ``anonymous`` role may read goes straight to the
        artifact's storage (or, failing that, to the unsigned
        getLatestArtifact URL); any other name goes to a getLatestArtifact
        URL bewit-signed with the index's own credentials for 15 minutes.
        An unknown index path → 404.

        Example: ``GET /api/index/v1/task/proj.main.latest/artifacts/public/build.tar.gz``
        """
        index_path = req.params.get("indexPath", "")
        _check_namespace(index_path, "indexPath")
        name = req.params.get("name", "")
        entry = self._lookup(index_path, req.now)
        if entry is None:
            raise ApiError(404, "ResourceNotFound", "Indexed task not found")
        root = req.root_url or self.cluster.root_url
        queue_path = endpoint("queue", "getLatestArtifact").path(
            {"taskId": entry.task_id, "name": name}
        )
        url = f"{root}/api/queue/v1{queue_path}"
        if self._anonymous_can_read(name):
            url = self._storage_url(entry.task_id, name, req) or url
        else:
            from tcmodel.hawk import sign_url

            expires_at = int(self.cluster.clock.now() + _SIGNED_URL_SECONDS)
            url = sign_url(url, self._credentials(), expires_at=expires_at)
        return see_other(url)

    def _storage_url(self, task_id: str, name: str, req: Request) -> str | None:
        """Where the real index sends a public name: the ``url`` of the
        queue's artifact-content answer (s3 and reference artifacts). Object
        and error artifacts have none, and any error counts as none; the
        caller then uses the unsigned getLatestArtifact URL."""
        try:
            target = self.cluster.queue.latest_artifact_target_url(task_id, name, req)
        except ApiError:
            return None
        if self.cluster.objects.owns_url(target):
            return None  # an object artifact
        return target

    def _anonymous_can_read(self, name: str) -> bool:
        from tcmodel.scopes import satisfies

        anonymous = self.cluster.auth.authenticator.anonymous()
        return satisfies(anonymous.scopes, f"queue:get-artifact:{name}")
