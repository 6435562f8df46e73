"""Runs: one attempt at a task, with its state, worker and artifacts.

Example:
    >>> import tcmodel
    >>> run = tcmodel.Cluster.from_url("https://tc.example.com").task(
    ...     "Dx4tPEtaRpeIeWpbTD0uHw").run(0)
    >>> run
    <Run taskId='Dx4tPEtaRpeIeWpbTD0uHw' runId=0>
    >>> run.artifact("public/build/target.tar.gz")
    <Artifact taskId='Dx4tPEtaRpeIeWpbTD0uHw' runId=0 name='public/build/target.tar.gz'>
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tcmodel.errors import ConnectionFailed, NotFound
from tcmodel.models import ArtifactInfo, RunInfo
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op
from tcmodel.urls import origin_of
from tcmodel.utils import check_run_id

if TYPE_CHECKING:
    from tcmodel.display.views import Printer
    from tcmodel.resources.artifact import Artifact
    from tcmodel.resources.task import Task

__all__ = ["LogText", "Run"]


class LogText(str):
    """A log's text: a plain ``str`` (slice it, ``.splitlines()`` it,
    ``print`` it) that IPython and Jupyter show as lines, the last ones of
    a long log (HTML ``<pre>``), rather than as one escaped string.

    Example:
        >>> log = LogText("step 1\\nstep 2\\n")
        >>> isinstance(log, str), log.splitlines()[-1], log[:4]
        (True, 'step 2', 'step')
    """

    __slots__ = ()

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import log_text

        p.text(log_text(self))

    def _repr_html_(self) -> str:
        from tcmodel.display.views import log_html

        return log_html(self)


class Run(Resource):
    """Run ``run_id`` of a task. Its facts come from the task's status: a
    resolved run's never change; an unresolved one's are re-read by
    :meth:`refresh`.

    Example:
        >>> import tcmodel
        >>> t = tcmodel.Cluster.from_url("https://tc.example.com").task("Dx4tPEtaRpeIeWpbTD0uHw")
        >>> t.run(-1)
        Traceback (most recent call last):
        ...
        ValueError: runId must be a non-negative integer, not -1
    """

    def __init__(self, task: Task, run_id: int, *, info: RunInfo | None = None) -> None:
        super().__init__(task.cluster)
        self._task = task
        self._run_id = check_run_id(run_id)
        self._info = info
        self._listed_artifacts: dict[str, Artifact] = {}  # by name, as artifacts() made them

    @property
    def run_id(self) -> int:
        """The run's number, from 0 (read-only).

        Example:
            >>> build.run(0).run_id
            0
        """
        return self._run_id

    @property
    def task(self) -> Task:
        """The task this run belongs to (read-only).

        Example:
            >>> run.task == build
            True
        """
        return self._task

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskId", self.task.task_id), ("runId", self.run_id))

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return (("state", self._info.state),) if self._info is not None else ()

    @property
    def ui_url(self) -> str:
        """The run's page in the deployment's web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task(
            ...     "Dx4tPEtaRpeIeWpbTD0uHw").run(1).ui_url
            'https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw/runs/1'
        """
        return self.cluster._ui_url("tasks", self.task_id, "runs", self.run_id)

    @property
    def task_id(self) -> str:
        """The task's id.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task(
            ...     "Dx4tPEtaRpeIeWpbTD0uHw").run(0).task_id
            'Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self.task.task_id

    @property
    def info(self) -> RunInfo:
        """This run's record from the task status (loaded with the status).

        Raises :class:`~tcmodel.NotFound` if the task has no such run.

        Example:
            >>> cluster.task(build.task_id).run(0).info.worker_id  # doctest: +ELLIPSIS
            'demo-...'
        """
        return self._cached("_info", self._load_info)

    async def ainfo(self) -> RunInfo:
        """The async form of :attr:`info` (afterwards ``run.state``,
        ``run.started`` … cost nothing).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         r = c.task(build.task_id).run(0)
            ...         await r.ainfo()
            ...         return r.state
            >>> asyncio.run(main())
            'completed'
        """
        return await self._acached("_info", self._load_info)

    def _load_info(self) -> Op[RunInfo]:
        task = self.task
        status = yield from task._cache_op("_status", task._load_status)
        if not any(r.run_id == self.run_id for r in status.runs):
            status = yield from task._status_op("status")  # the kept one may predate the run
        return self._find(status.runs)

    def _find(self, runs: tuple[RunInfo, ...]) -> RunInfo:
        for info in runs:
            if info.run_id == self.run_id:
                return info
        raise NotFound(
            call=str(Call.of("queue", "status", taskId=self.task_id)),
            method="GET",
            url=self.cluster.root_url,
            status=404,
            code="ResourceNotFound",
            message=f"task {self.task_id} has no run {self.run_id} (it has {len(runs)})",
        )

    @property
    def loaded(self) -> bool:
        """Whether the run's facts are in memory.

        Example:
            >>> r = cluster.task(build.task_id).run(0)
            >>> r.loaded, r.state, r.loaded
            (False, 'completed', True)
        """
        return self._info is not None

    def refresh(self) -> Run:
        """Re-read the run's facts (a resolved run's are kept: they are final).

        Example:
            >>> cluster.task(build.task_id).run(0).refresh().state
            'completed'
        """
        self._run(self._refresh_op())
        return self

    async def arefresh(self) -> Run:
        """The async form of :meth:`refresh`.

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return (await c.task(build.task_id).run(0).arefresh()).state
            >>> asyncio.run(main())
            'completed'
        """
        await self._arun(self._refresh_op())
        return self

    def _refresh_op(self) -> Op[None]:
        if self._info is None or not self._info.is_resolved:
            status = yield from self.task._status_op("status")
            self._info = self._find(status.runs)

    # facts

    @property
    def state(self) -> str:
        """``pending``, ``running``, ``completed``, ``failed`` or ``exception``.

        Example:
            >>> run.state
            'completed'
        """
        return self.info.state

    @property
    def reason_created(self) -> str:
        """Why the run exists: ``scheduled``, ``retry``, ``task-retry``, ``rerun``…

        Example:
            >>> run.reason_created
            'scheduled'
        """
        return self.info.reason_created

    @property
    def reason_resolved(self) -> str | None:
        """Why it ended (``completed``, ``failed``, ``canceled``, …) or ``None``.

        Example:
            >>> run.reason_resolved
            'completed'
        """
        return self.info.reason_resolved

    @property
    def scheduled(self) -> datetime | None:
        """When the run became pending.

        Example:
            >>> run.scheduled <= run.started
            True
        """
        return self.info.scheduled

    @property
    def started(self) -> datetime | None:
        """When a worker claimed it.

        Example:
            >>> run.started < run.resolved
            True
        """
        return self.info.started

    @property
    def resolved(self) -> datetime | None:
        """When it was resolved.

        Example:
            >>> run.resolved.utcoffset()
            datetime.timedelta(0)
        """
        return self.info.resolved

    @property
    def duration(self) -> timedelta | None:
        """From start to resolution (``None`` until both are known).

        Example:
            >>> run.duration == run.resolved - run.started
            True
        """
        return self.info.duration

    @property
    def worker_group(self) -> str | None:
        """The claiming worker's group.

        Example:
            >>> run.worker_group
            'demo'
        """
        return self.info.worker_group

    @property
    def worker_id(self) -> str | None:
        """The claiming worker's id.

        Example:
            >>> run.worker_id  # doctest: +ELLIPSIS
            'demo-...'
        """
        return self.info.worker_id

    @property
    def taken_until(self) -> datetime | None:
        """Until when the worker holds the claim.

        Example:
            >>> run.taken_until >= run.started
            True
        """
        return self.info.taken_until

    # artifacts

    def artifacts(self) -> Listing[Artifact]:
        """This run's artifacts (lazily paged ``listArtifacts``).

        Example:
            >>> sorted(a.name for a in run.artifacts())[:2]
            ['private/build/secrets.json', 'public/build/latest.tar.gz']
        """
        from tcmodel.resources.artifact import Artifact

        cluster, task_id, run_id = self.cluster, self.task_id, self.run_id

        def make(raw: Any) -> Artifact:
            info = ArtifactInfo._from_json(raw)
            art = Artifact(cluster, task_id, run_id, info.name, info=info, task=self.task)
            self._listed_artifacts[info.name] = art
            return art

        call = Call.of("queue", "listArtifacts", taskId=task_id, runId=run_id)
        return Listing(self._transport, call, "artifacts", make, item_type=Artifact)

    def artifact(self, name: str) -> Artifact:
        """A handle on artifact ``name`` of this run (no request).

        Example:
            >>> len(run.artifact("public/build/target.tar.gz").read_bytes())
            131072
        """
        from tcmodel.resources.artifact import Artifact

        return Artifact(self.cluster, self.task_id, self.run_id, name, task=self.task)

    def __getitem__(self, name: str) -> Artifact:
        """Artifact ``name`` of this run: the listed one (with its metadata)
        if :meth:`artifacts` listed it, else a handle (no request either way).

        Example:
            >>> run["public/build/target.tar.gz"].name
            'public/build/target.tar.gz'
        """
        return self._listed_artifacts.get(name) or self.artifact(name)

    def __iter__(self) -> Iterator[Artifact]:
        return iter(self.artifacts())

    def _ipython_key_completions_(self) -> list[str]:
        """Names of the artifacts listed so far (no request), for ``run["<TAB>``."""
        return sorted(self._listed_artifacts)

    def log(self) -> LogText:
        """This run's log text: ``live_backing.log``, else ``live.log``
        (bytes that are not UTF-8 are replaced, never fatal), as a
        :class:`LogText` (a ``str`` that notebooks show as lines).

        Raises :class:`~tcmodel.NotFound` when the run has neither (an
        error artifact, an expired log or a dead live-log reference count as
        none).

        Example:
            >>> run.log().splitlines()[0]  # doctest: +ELLIPSIS
            '[taskcluster ...] Worker: demo pool; starting build-linux64-opt'
        """
        return self._run(self._log_op())

    async def alog(self) -> LogText:
        """The async form of :meth:`log`.

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         return await c.task(run.task_id).run(0).alog()
            >>> asyncio.run(main()) == run.log()
            True
        """
        return await self._arun(self._log_op())

    def _log_op(self) -> Op[LogText]:
        from tcmodel.resources.task import LOG_NAMES, NO_LOG, _no_log

        for name in LOG_NAMES:
            try:
                return LogText((yield from self.artifact(name)._text_op(None, "replace")))
            except NO_LOG as err:
                # A live log on a worker that is gone is no log; the queue
                # itself being unreachable is an outage, and is raised.
                if isinstance(err, ConnectionFailed) and origin_of(err.url) == origin_of(
                    self.cluster.root_url
                ):
                    raise
                continue
        raise _no_log(self, f"run {self.run_id} of task {self.task_id} has no log")
