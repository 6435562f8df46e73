"""Artifacts: the files a run produced, read lazily and streamed.

An :class:`Artifact` is a handle: making one sends nothing. Its metadata
(``artifactInfo``) loads on first use; its content is never kept, but
streamed to a file, a buffer or the caller each time it is read, by the one
download operation of :mod:`tcmodel.download` (sync or async alike).

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> art = Artifact(cluster, "Dx4tPEtaRpeIeWpbTD0uHw", 0, "public/build/x.tar.gz")
    >>> art
    <Artifact taskId='Dx4tPEtaRpeIeWpbTD0uHw' runId=0 name='public/build/x.tar.gz'>
    >>> art.url.endswith("/task/Dx4tPEtaRpeIeWpbTD0uHw/runs/0/artifacts/public%2Fbuild%2Fx.tar.gz")
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import Message
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from tcmodel.download import DownloadResult, Progress, artifact_call, read_artifact_op
from tcmodel.models import ArtifactInfo
from tcmodel.progress import ProgressLike, reporter
from tcmodel.resources.base import Resource
from tcmodel.transport import Op, consume, map_op
from tcmodel.utils import check_run_id, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.run import Run
    from tcmodel.resources.task import Task

__all__ = ["Artifact"]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"artifact name must be a non-empty string, not {name!r}")
    if not all(" " <= c <= "~" for c in name):
        raise ValueError(f"artifact name must be printable ASCII, not {name!r}")
    return name


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    return charset if isinstance(charset, str) and charset else None


class Artifact(Resource):
    """Artifact ``name`` of run ``run_id`` of task ``task_id``.

    ``run_id=None`` means the latest run, as the queue resolves it when the
    artifact is read (``latestArtifact`` calls). The arguments are checked
    here, before any request: ``ValueError`` for a bad taskId, a negative
    run id or an empty or non-ASCII name.

    ``task`` is the artifact's task when the caller has it (a run or a
    task handing out its artifacts): ``.task`` and ``.run`` then share what
    it has loaded. Either way they are made once per artifact.

    Example:
        >>> import tcmodel
        >>> c = tcmodel.Cluster.from_url("https://tc.example.com")
        >>> latest = Artifact(c, "Dx4tPEtaRpeIeWpbTD0uHw", None, "public/logs/live.log")
        >>> latest.run is None, latest.is_public
        (True, True)
        >>> Artifact(c, "Dx4tPEtaRpeIeWpbTD0uHw", -1, "x")
        Traceback (most recent call last):
        ...
        ValueError: runId must be a non-negative integer, not -1
    """

    def __init__(
        self,
        cluster: Cluster,
        task_id: str,
        run_id: int | None,
        name: str,
        *,
        info: ArtifactInfo | None = None,
        task: Task | None = None,
    ) -> None:
        self._task_id = check_slug_id(task_id, "taskId")
        self._run_id = None if run_id is None else check_run_id(run_id)
        self._name = _check_name(name)
        if task is not None and task.task_id != self.task_id:
            raise ValueError(f"task {task.task_id} is not the artifact's task {self.task_id}")
        super().__init__(cluster)
        self._info = info
        self._task_handle = task
        self._run_handle: Run | None = None

    # identity

    @property
    def task_id(self) -> str:
        """The id of the artifact's task (read-only).

        Example:
            >>> # art.task_id  ->  'Dx4tPEtaRpeIeWpbTD0uHw'
        """
        return self._task_id

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("taskId", self.task_id), ("runId", self._run_id), ("name", self._name))

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        info = self._info
        if info is None:
            return ()
        facts = (("storageType", info.storage_type), ("contentType", info.content_type))
        if info.content_length is None:
            return facts
        return (*facts, ("contentLength", info.content_length))

    @property
    def ui_url(self) -> str:
        """The web UI page of the artifact's run, where it is listed (the
        task's page for a latest-run handle whose task status is not
        loaded); no request.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task(
            ...     "Dx4tPEtaRpeIeWpbTD0uHw").run(0).artifact("public/x.txt").ui_url
            'https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw/runs/0'
        """
        if self.run is not None:
            return self.run.ui_url
        status = self.task._status
        latest = status.latest_run if status is not None else None
        return self.task.run(latest.run_id).ui_url if latest is not None else self.task.ui_url

    @property
    def name(self) -> str:
        """The artifact's name, e.g. ``public/build/target.tar.gz``.

        Example:
            >>> # run.artifact("public/x.txt").name  -> 'public/x.txt'
        """
        return self._name

    @property
    def run_id(self) -> int | None:
        """The run's id, or ``None`` for "the latest run".

        Example:
            >>> # task.latest_artifact("public/x").run_id  -> None
        """
        return self._run_id

    @property
    def task(self) -> Task:
        """The task this artifact belongs to (a handle, no request; the same
        one every time, so what it loads is loaded once).

        Example:
            >>> # artifact.task.status.state
        """
        if self._task_handle is None:
            from tcmodel.resources.task import Task

            self._task_handle = Task(self._cluster, self.task_id)
        return self._task_handle

    @property
    def run(self) -> Run | None:
        """The run this artifact belongs to; ``None`` for a latest-run handle
        (the same handle every time).

        Example:
            >>> # artifact.run.state
        """
        if self._run_id is None:
            return None
        if self._run_handle is None:
            from tcmodel.resources.run import Run

            self._run_handle = Run(self.task, self._run_id)
        return self._run_handle

    @property
    def is_public(self) -> bool:
        """Whether the name is under ``public/`` (readable without
        credentials, by convention); no request.

        Example:
            >>> # Artifact(c, tid, 0, "public/x").is_public  -> True
        """
        return self._name.startswith("public/")

    @property
    def basename(self) -> str:
        """The last ``/``-separated part of the name, the file name used when
        downloading into a folder (which refuses one that is not a plain
        file name: see :meth:`download`). Empty for a name ending in ``/``.

        Example:
            >>> # Artifact(c, tid, 0, "public/build/x.tar.gz").basename  -> 'x.tar.gz'
        """
        return self._name.rsplit("/", 1)[-1]

    # metadata

    def _load_info(self) -> Op[ArtifactInfo]:
        call = artifact_call(self.task_id, self._run_id, self._name, kind="info")
        return map_op(self._transport.call(call), ArtifactInfo._from_json)

    @property
    def info(self) -> ArtifactInfo:
        """The artifact's metadata (``artifactInfo`` / ``latestArtifactInfo``,
        loaded once). A link shows as ``link``: it is not followed.

        Example:
            >>> # artifact.info.content_length
        """
        return self._cached("_info", self._load_info)

    @property
    def loaded(self) -> bool:
        """Whether the metadata is loaded (no request).

        Example:
            >>> # run.artifact("public/x").loaded  -> False
        """
        return self._info is not None

    @property
    def storage_type(self) -> str:
        """``s3``, ``object``, ``reference``, ``link`` or ``error``.

        Example:
            >>> # artifact.storage_type  -> 'object'
        """
        return self.info.storage_type

    @property
    def content_type(self) -> str:
        """The content type given when the artifact was created.

        Example:
            >>> # artifact.content_type  -> 'text/plain; charset=utf-8'
        """
        return self.info.content_type

    @property
    def expires(self) -> datetime:
        """When the artifact expires (aware UTC).

        Example:
            >>> # artifact.expires.year
        """
        return self.info.expires

    @property
    def content_length(self) -> int | None:
        """The declared length in bytes, when the worker gave one.

        Example:
            >>> # artifact.content_length  -> 131072
        """
        return self.info.content_length

    def refresh(self) -> Artifact:
        """Forget the loaded metadata; the next read loads it again.

        Example:
            >>> # artifact.refresh().storage_type
        """
        self._info = None
        return self

    # URLs

    @property
    def url(self) -> str:
        """The unsigned ``getArtifact`` (``getLatestArtifact``) URL, which
        redirects to the data; no request. Works as is for public names.

        Example:
            >>> # httpx.get(artifact.url, follow_redirects=True)
        """
        return self._transport.url_for(
            artifact_call(self.task_id, self._run_id, self._name, kind="get")
        )

    def signed_url(self, expires_in: float = 3600) -> str:
        """A bewit-signed ``getArtifact`` URL that anyone can GET (following
        redirects) until it expires; the URL is then a secret. Needs
        credentials (``ValueError`` without).

        Example:
            >>> # httpx.get(artifact.signed_url(600), follow_redirects=True)
        """
        call = artifact_call(self.task_id, self._run_id, self._name, kind="get")
        return self._transport.signed_url(call, expires_in=expires_in)

    # content

    def _read_op(self, progress: Progress | None = None) -> Op[DownloadResult]:
        return read_artifact_op(
            self._transport, self.task_id, self._run_id, self._name, progress=progress
        )

    def _target(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        return _inside(target, self.basename, self._name) if target.is_dir() else target

    def download(self, path: str | os.PathLike[str], progress: ProgressLike = None) -> Path:
        """Save the content to ``path`` (a file, or an existing folder to put
        the artifact's basename in) and return the file's path.

        The name comes from whoever made the artifact, so a basename that is
        not a plain file name of that folder (empty, ``.``, ``..``, with a
        ``\\`` or NUL, or leading elsewhere) is refused with ``ValueError``
        before any request; give a file path to save such an artifact.

        The data goes to a temporary file in the same folder, which replaces
        ``path`` only once it is complete and verified; on any error it is
        removed and ``path`` is left as it was. ``progress=True`` shows a
        tqdm bar (the ``notebook`` extra); a callable ``progress(done,
        total)`` is told the bytes received so far.

        Example:
            >>> import tempfile
            >>> seen = []
            >>> with tempfile.TemporaryDirectory() as out:
            ...     art.download(out, progress=lambda done, total: seen.append(done)).name
            'target.tar.gz'
            >>> seen[-1]
            131072
        """
        target = self._target(path)
        with _atomic_file(target) as write, reporter(progress, self.name, unit="B") as report:
            self._run(consume(self._read_op(report), write))
        return target

    async def adownload(self, path: str | os.PathLike[str], progress: ProgressLike = None) -> Path:
        """The async form of :meth:`download`.

        Example:
            >>> import asyncio, tempfile
            >>> async def fetch(folder: str) -> int:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         a = c.task(art.task_id).run(0).artifact(art.name)
            ...         return (await a.adownload(folder)).stat().st_size
            >>> with tempfile.TemporaryDirectory() as out:
            ...     asyncio.run(fetch(out))
            131072
        """
        target = self._target(path)
        with _atomic_file(target) as write, reporter(progress, self.name, unit="B") as report:
            await self._transport.arun(self._read_op(report), on_emit=write)
        return target

    def _read_all(self) -> Op[tuple[bytes, DownloadResult]]:
        """The whole content and what the download told, as one operation
        (run by the sync and async readers alike)."""
        chunks: list[bytes] = []
        result = yield from consume(self._read_op(), chunks.append)
        return b"".join(chunks), result

    def _bytes_op(self) -> Op[bytes]:
        return map_op(self._read_all(), lambda got: got[0])

    def _text_op(self, encoding: str | None, errors: str) -> Op[str]:
        def decode(got: tuple[bytes, DownloadResult]) -> str:
            data, result = got
            return data.decode(encoding or _charset(result.content_type) or "utf-8", errors)

        return map_op(self._read_all(), decode)

    def _json_op(self) -> Op[Any]:
        return map_op(self._bytes_op(), json.loads)

    def read_bytes(self) -> bytes:
        """The whole content, decoded, as bytes (never cached).

        Example:
            >>> # data = artifact.read_bytes()
        """
        return self._run(self._bytes_op())

    async def aread_bytes(self) -> bytes:
        """The async form of :meth:`read_bytes`.

        Example:
            >>> # data = await artifact.aread_bytes()
        """
        return await self._transport.arun(self._bytes_op())

    def read_text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """The content as text, decoded with ``encoding``, else the charset
        the data came with, else UTF-8. ``errors`` is as for
        :meth:`bytes.decode` (``"replace"`` never fails, for logs).

        Example:
            >>> # print(run.artifact("public/logs/live_backing.log").read_text())
        """
        return self._run(self._text_op(encoding, errors))

    async def aread_text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """The async form of :meth:`read_text`.

        Example:
            >>> # text = await artifact.aread_text(errors="replace")
        """
        return await self._transport.arun(self._text_op(encoding, errors))

    def read_json(self) -> Any:
        """The content parsed as JSON.

        Example:
            >>> # manifest = artifact.read_json()
        """
        return self._run(self._json_op())

    async def aread_json(self) -> Any:
        """The async form of :meth:`read_json`.

        Example:
            >>> # manifest = await artifact.aread_json()
        """
        return await self._transport.arun(self._json_op())

    def iter_bytes(self) -> Iterator[bytes]:
        """The content, decoded, in chunks as they arrive; nothing is sent
        until the first chunk is asked for.

        Example:
            >>> # for chunk in artifact.iter_bytes(): sink.write(chunk)
        """
        yield from self._transport.stream(self._read_op())


def _inside(folder: Path, name: str, artifact: str) -> Path:
    """``folder / name``, if ``name`` is a plain file name that stays in
    ``folder``; otherwise ``ValueError`` (an artifact name is untrusted)."""
    plain = (
        name not in ("", ".", "..")
        and not any(c in name for c in "/\\\0")
        and not PurePath(name).anchor  # no drive or root (e.g. "C:x" on Windows)
    )
    target = folder / name
    base = os.path.abspath(folder)
    if not plain or os.path.dirname(os.path.normpath(os.path.join(base, name))) != base:
        raise ValueError(
            f"artifact {artifact!r}: {name!r} is not a safe file name to create in "
            f"{str(folder)!r}; give download() a file path instead"
        )
    return target


@contextlib.contextmanager
def _atomic_file(target: Path) -> Iterator[Callable[[bytes], None]]:
    """A writer to a new file beside ``target`` that replaces it only if the
    block ends without an error; otherwise the file is removed."""
    folder = target.parent
    tmp = folder / f".{target.name}.{secrets.token_hex(4)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:

            def write(data: bytes) -> None:
                f.write(data)

            yield write
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
