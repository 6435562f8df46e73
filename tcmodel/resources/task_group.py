"""Task groups: the tasks of one graph, listed lazily, sealed and cancelled.

Example:
    >>> import tcmodel
    >>> group = tcmodel.Cluster.from_url("https://tc.example.com").task_group(
    ...     "XDqefRsvTG6ajX5vWks8LQ")
    >>> group
    <TaskGroup taskGroupId='XDqefRsvTG6ajX5vWks8LQ'>
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tcmodel.models import PRIORITIES, TaskGroupCancellation, TaskGroupInfo
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.transport import Call, Op, Page
from tcmodel.utils import check_choice, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["TaskGroup"]

_INFO_KEYS = ("taskGroupId", "schedulerId", "expires", "sealed")


class TaskGroup(Resource):
    """A task group, known by its ``taskGroupId``.

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> c.task_group("XDqefRsvTG6ajX5vWks8LQ").task_group_id
        'XDqefRsvTG6ajX5vWks8LQ'
    """

    def __init__(
        self, cluster: Cluster, task_group_id: str, *, info: TaskGroupInfo | None = None
    ) -> None:
        super().__init__(cluster)
        self._task_group_id = check_slug_id(task_group_id, "taskGroupId")
        self._info = info
        # Every task any walk of tasks() made, by taskId: the tasks of the
        # group know each other through it (dependencies cost nothing), and
        # displays and key completion use it without a request.
        self._registry = TaskBatch(cluster, ())
        self._listed_all = False  # a walk of tasks() reached the last page whole

    @property
    def task_group_id(self) -> str:
        """The group's id (its identity; read-only).

        Example:
            >>> # group.task_group_id  ->  'XDqefRsvTG6ajX5vWks8LQ'
        """
        return self._task_group_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskGroupId", self.task_group_id),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        if self._info is None:
            return ()
        return (("sealed", self._info.sealed is not None),)

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("queue", name, body=body, taskGroupId=self.task_group_id)

    # data

    def _info_op(self, name: str) -> Op[TaskGroupInfo]:
        self._info = TaskGroupInfo._from_json((yield from self._transport.call(self._call(name))))
        return self._info

    @property
    def info(self) -> TaskGroupInfo:
        """``getTaskGroup``: scheduler id, expiry, when sealed (loaded once;
        also refreshed for free by every :meth:`tasks` page).

        Example:
            >>> # group.info.scheduler_id
        """
        return self._cached("_info", lambda: self._info_op("getTaskGroup"))

    @property
    def loaded(self) -> bool:
        """Whether the group's info is in memory.

        Example:
            >>> # group.loaded
        """
        return self._info is not None

    def refresh(self) -> TaskGroup:
        """Reload the group's info.

        Example:
            >>> # group.refresh().sealed
        """
        self._run(self._info_op("getTaskGroup"))
        return self

    @property
    def scheduler_id(self) -> str:
        """The group's scheduler id (the same for all its tasks).

        Example:
            >>> # group.scheduler_id  ->  'taskcluster-github'
        """
        return self.info.scheduler_id

    @property
    def expires(self) -> datetime:
        """When the group expires.

        Example:
            >>> # group.expires.isoformat()  ->  '2025-02-01T13:00:00+00:00'
        """
        return self.info.expires

    @property
    def sealed(self) -> datetime | None:
        """When the group was sealed (``None`` if it is not).

        Example:
            >>> # group.sealed  ->  None   (tasks may still be added)
        """
        return self.info.sealed

    # tasks

    def _absorb_page(self, page: Page) -> None:
        body = page.body
        if all(k in body for k in _INFO_KEYS[:3]):
            self._info = TaskGroupInfo._from_json({k: body[k] for k in _INFO_KEYS if k in body})
        whole = len(page.items) == len(body.get("tasks") or ())
        if whole and not body.get("continuationToken"):
            self._listed_all = True

    def _known_tasks(self) -> dict[str, Task]:
        """Every task listed so far, by taskId (no request)."""
        return self._registry.tasks

    def tasks(self) -> Listing[Task]:
        """The group's tasks with definition and status, lazily paged
        (``listTaskGroup``): one request per page, nothing more per task.

        Example:
            >>> # for t in group.tasks(): print(t.task_id, t.state, t.name)
            >>> # failed = list(group.tasks().filter(state="failed"))
        """
        cluster, registry = self.cluster, self._registry
        return Listing(
            self._transport,
            self._call("listTaskGroup"),
            "tasks",
            lambda entry: Task._from_listing(cluster, entry, registry),
            on_page=self._absorb_page,
            item_type=Task,
        )

    def summary(self) -> dict[str, int]:
        """How many tasks are in each state (walks :meth:`tasks` once).

        Example:
            >>> # group.summary()  ->  {'completed': 38, 'failed': 2}
        """
        return dict(Counter(t.state for t in self.tasks()))

    # actions

    def seal(self) -> TaskGroup:
        """Seal the group: no task can be added any more (``sealTaskGroup``).

        Example:
            >>> # group.seal().sealed
        """
        self._run(self._info_op("sealTaskGroup"))
        return self

    def cancel(self) -> TaskGroupCancellation:
        """Cancel every unresolved task of a sealed group (``cancelTaskGroup``).

        Example:
            >>> # group.seal(); group.cancel().cancelled_count
        """
        return TaskGroupCancellation._from_json(
            self._run(self._transport.call(self._call("cancelTaskGroup")))
        )

    def change_priority(self, priority: str) -> dict[str, Any]:
        """Change the priority of every unresolved task (``changeTaskGroupPriority``).

        Example:
            >>> # group.change_priority("low")
        """
        check_choice("priority", priority, PRIORITIES)
        body = {"newPriority": priority}
        result: dict[str, Any] = self._run(
            self._transport.call(self._call("changeTaskGroupPriority", body))
        )
        return result
