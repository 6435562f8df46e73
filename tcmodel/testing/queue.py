"""The emulated queue service of the local cluster.

:class:`QueueService` answers every queue API entry with the real bodies,
status codes and error codes: tasks and their state machine (dependencies,
retries, deadlines, claim expiry), task groups, the worker interface with
temporary credentials, task queues, provisioners, worker types and workers
(with quarantine), and artifacts of every storage type. Its handlers
come from :mod:`~tcmodel.testing.queue_tasks`,
:mod:`~tcmodel.testing.queue_worker`,
:mod:`~tcmodel.testing.queue_workers` and
:mod:`~tcmodel.testing.queue_artifacts`; the state machine from
:mod:`~tcmodel.testing.queue_core`.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> q = ClusterState().queue
    >>> q.get_task("Dx4tPEtaRpeIeWpbTD0uHw") is None
    True
    >>> "createTask" in q.handler_names()
    True
"""

from __future__ import annotations

import copy
from typing import Any

from tcmodel.testing._core import Request
from tcmodel.testing.queue_artifacts import ArtifactHandlers
from tcmodel.testing.queue_tasks import TaskHandlers
from tcmodel.testing.queue_workers import ProvisionerHandlers

__all__ = ["QueueService"]


class QueueService(TaskHandlers, ProvisionerHandlers, ArtifactHandlers):
    """The emulated queue service.

    Besides its API handlers it offers two calls to the other emulated
    services: :meth:`get_task` and :meth:`latest_artifact_target_url`.

    Example:
        >>> QueueService.name
        'queue'
    """

    name = "queue"

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        """A copy of the definition of ``task_id`` (as ``task()`` answers it),
        or ``None`` for an unknown task.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> ClusterState().queue.get_task("Dx4tPEtaRpeIeWpbTD0uHw") is None
            True
        """
        task = self.tasks.get(task_id)
        return copy.deepcopy(task.definition) if task is not None else None

    def latest_artifact_target_url(self, task_id: str, name: str, req: Request) -> str:
        """The URL ``getLatestArtifact`` would redirect to for ``name`` on the
        latest run of ``task_id``.

        Links are followed, requiring ``queue:get-artifact:<name>`` of
        ``req``'s caller for every name on the way. Raises the
        :class:`~tcmodel.testing._core.ApiError` that route would answer
        (404 unknown task, no runs or no artifact; 410 expired; 400 link
        cycle; 403 missing scopes; 424 with ``{reason, message}`` for an
        error artifact).

        Example:
            >>> from tcmodel.api import endpoint
            >>> from tcmodel.testing.state import ClusterState
            >>> req = Request(endpoint=endpoint("index", "findArtifactFromTask"),
            ...               scopes=("queue:get-artifact:public/*",))
            >>> try:
            ...     ClusterState().queue.latest_artifact_target_url(
            ...         "Dx4tPEtaRpeIeWpbTD0uHw", "public/x", req)
            ... except Exception as e:
            ...     print(e)
            404 ResourceNotFound: Task not found
        """
        self._authorize_names(req, [name])
        _, run_id = self._latest(task_id)
        response = self._download(task_id, run_id, self._follow(req, task_id, run_id, name))
        location: str = response.headers["Location"]
        return location
