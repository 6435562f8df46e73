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

import codecs
import contextlib
import io
import json
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import datetime
from email.message import Message
from functools import partial
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from tcmodel._pipeline import Pipeline, write_all
from tcmodel.download import DownloadResult, Progress, artifact_call, read_artifact_op
from tcmodel.models import ArtifactInfo
from tcmodel.progress import ProgressLike, reporter
from tcmodel.resources.base import Resource
from tcmodel.transport import Op, consume, map_op
from tcmodel.urls import check_url_part
from tcmodel.utils import check_run_id, check_slug_id

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.resources.run import Run
    from tcmodel.resources.task import Task

__all__ = ["Artifact", "AsyncArtifactFile"]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"artifact name must be a non-empty string, not {name!r}")
    if not all(" " <= c <= "~" for c in name):
        raise ValueError(f"artifact name must be printable ASCII, not {name[:200]!r}")
    return check_url_part("artifact name", name)


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
            >>> art.task_id == build.task_id
            True
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
            >>> art.name
            'public/build/target.tar.gz'
        """
        return self._name

    @property
    def run_id(self) -> int | None:
        """The run's id, or ``None`` for "the latest run".

        Example:
            >>> art.run_id, build.latest_artifact(art.name).run_id
            (0, None)
        """
        return self._run_id

    @property
    def task(self) -> Task:
        """The task this artifact belongs to (a handle, no request; the same
        one every time, so what it loads is loaded once).

        Example:
            >>> art.task is art.task, art.task.task_id == build.task_id
            (True, True)
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
            >>> art.run.run_id, build.latest_artifact(art.name).run
            (0, None)
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
            >>> art.is_public, run.artifact("private/build/secrets.json").is_public
            (True, False)
        """
        return self._name.startswith("public/")

    @property
    def basename(self) -> str:
        """The last ``/``-separated part of the name, the file name used when
        downloading into a folder (which refuses one that is not a plain
        file name: see :meth:`download`). Empty for a name ending in ``/``.

        Example:
            >>> art.basename
            'target.tar.gz'
        """
        return self._name.rsplit("/", 1)[-1]

    # metadata

    def _load_info(self) -> Op[ArtifactInfo]:
        call = artifact_call(self.task_id, self._run_id, self._name, kind="info")
        return self._transport.call(call, convert=ArtifactInfo._from_json)

    @property
    def info(self) -> ArtifactInfo:
        """The artifact's metadata (``artifactInfo`` / ``latestArtifactInfo``,
        loaded once). A link shows as ``link``: it is not followed.

        Example:
            >>> art.info.storage_type, art.info.content_length
            ('object', 131072)
        """
        return self._cached("_info", self._load_info)

    async def ainfo(self) -> ArtifactInfo:
        """The async form of :attr:`info` (afterwards ``art.storage_type``,
        ``art.content_length`` … cost nothing).

        Example:
            >>> import asyncio
            >>> async def main() -> str:
            ...     async with lc.connect() as c:
            ...         a = c.task(art.task_id).run(0).artifact(art.name)
            ...         await a.ainfo()
            ...         return a.storage_type
            >>> asyncio.run(main())
            'object'
        """
        return await self._acached("_info", self._load_info)

    @property
    def loaded(self) -> bool:
        """Whether the metadata is loaded (no request).

        Example:
            >>> fresh = cluster.task(build.task_id).run(0).artifact(art.name)
            >>> fresh.loaded, fresh.info.storage_type, fresh.loaded
            (False, 'object', True)
        """
        return self._info is not None

    @property
    def storage_type(self) -> str:
        """``s3``, ``object``, ``reference``, ``link`` or ``error``.

        Example:
            >>> art.storage_type
            'object'
        """
        return self.info.storage_type

    @property
    def content_type(self) -> str:
        """The content type given when the artifact was created.

        Example:
            >>> art.content_type
            'application/gzip'
        """
        return self.info.content_type

    @property
    def expires(self) -> datetime:
        """When the artifact expires (aware UTC).

        Example:
            >>> art.expires.utcoffset()
            datetime.timedelta(0)
        """
        return self.info.expires

    @property
    def content_length(self) -> int | None:
        """The declared length in bytes, when the worker gave one.

        Example:
            >>> art.content_length
            131072
        """
        return self.info.content_length

    def refresh(self) -> Artifact:
        """Forget the loaded metadata; the next read loads it again.

        Example:
            >>> fresh = cluster.task(build.task_id).run(0).artifact(art.name)
            >>> fresh.storage_type, fresh.refresh().loaded
            ('object', False)
        """
        self._info = None
        return self

    # URLs

    @property
    def url(self) -> str:
        """The unsigned ``getArtifact`` (``getLatestArtifact``) URL, which
        redirects to the data; no request. Works as is for public names.

        Example:
            >>> import httpx
            >>> len(httpx.get(art.url, follow_redirects=True).content)
            131072
        """
        return self._cluster._api_url(
            artifact_call(self.task_id, self._run_id, self._name, kind="get")
        )

    def signed_url(self, expires_in: float = 3600) -> str:
        """A bewit-signed ``getArtifact`` URL that anyone can GET (following
        redirects) until it expires; the URL is then a secret. Needs
        credentials (``ValueError`` without).

        Example:
            >>> import httpx
            >>> secret = run.artifact("private/build/secrets.json")
            >>> httpx.get(secret.url, follow_redirects=True).status_code
            403
            >>> httpx.get(secret.signed_url(600), follow_redirects=True).status_code
            200
        """
        call = artifact_call(self.task_id, self._run_id, self._name, kind="get")
        return self._transport.signed_url(call, expires_in=expires_in)

    # content

    def _read_op(
        self, progress: Progress | None = None, restart: Callable[[], None] | None = None
    ) -> Op[DownloadResult]:
        return read_artifact_op(
            self._transport,
            self.task_id,
            self._run_id,
            self._name,
            progress=progress,
            restart=restart,
        )

    def _target(self, path: str | os.PathLike[str]) -> Path:
        """The file ``download(path)`` writes: ``path``, or the basename in
        it when it is a folder, or names one (a trailing separator: the
        folder is made)."""
        text = os.fspath(path)
        target = Path(text)
        if not _names_folder(text):
            return _inside(target, self.basename, self._name) if target.is_dir() else target
        if target.exists() and not target.is_dir():
            raise ValueError(f"{text!r} names a folder, but it is a file")
        inside = _inside(target, self.basename, self._name)
        target.mkdir(parents=True, exist_ok=True)
        return inside

    def download(self, path: str | os.PathLike[str], progress: ProgressLike = None) -> Path:
        """Save the content to ``path`` (a file, or a folder to put the
        artifact's basename in: an existing one, or one named with a
        trailing separator, ``"out/"``, which is made if need be) and
        return the file's path.

        The name comes from whoever made the artifact, so a basename that is
        not a plain file name of that folder (empty, ``.``, ``..``, with a
        ``\\`` or NUL, or leading elsewhere) is refused with ``ValueError``
        before any request; give a file path to save such an artifact.

        The data goes to a temporary file in the same folder, which replaces
        ``path`` only once it is complete, verified and synced to disk; on
        any error it is removed and ``path`` is left as it was. A replaced
        file keeps its permissions; a new one gets the usual ones (umask).
        If the data changes on the server during the download, it starts
        over (never a mix of old and new). ``progress=True`` shows a
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
        with _atomic_file(target) as part, reporter(progress, self.name, unit="B") as report:
            self._run(consume(self._read_op(report, part.restart), part.write))
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
        with _atomic_file(target) as part, reporter(progress, self.name, unit="B") as report:
            await self._arun(consume(self._read_op(report, part.restart), part.write))
        return target

    def _read_all(self) -> Op[tuple[bytes, DownloadResult]]:
        """The whole content and what the download told, as one operation
        (run by the sync and async readers alike)."""
        chunks: list[bytes] = []
        result = yield from consume(self._read_op(restart=chunks.clear), chunks.append)
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
            >>> len(art.read_bytes())
            131072
        """
        return self._run(self._bytes_op())

    async def aread_bytes(self) -> bytes:
        """The async form of :meth:`read_bytes`.

        Example:
            >>> import asyncio
            >>> async def size() -> int:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         again = c.task(art.task_id).run(0).artifact(art.name)
            ...         return len(await again.aread_bytes())
            >>> asyncio.run(size())
            131072
        """
        return await self._arun(self._bytes_op())

    def read_text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """The content as text, decoded with ``encoding``, else the charset
        the data came with, else UTF-8. ``errors`` is as for
        :meth:`bytes.decode` (``"replace"`` never fails, for logs).

        Example:
            >>> run.artifact("public/logs/live_backing.log").read_text()[:7]
            '[taskcl'
        """
        return self._run(self._text_op(encoding, errors))

    async def aread_text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """The async form of :meth:`read_text`.

        Example:
            >>> import asyncio
            >>> async def log() -> str:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         backing = c.task(run.task_id).run(0).artifact(
            ...             "public/logs/live_backing.log")
            ...         return await backing.aread_text(errors="replace")
            >>> asyncio.run(log()) == run.artifact("public/logs/live_backing.log").read_text()
            True
        """
        return await self._arun(self._text_op(encoding, errors))

    def read_json(self) -> Any:
        """The content parsed as JSON.

        Example:
            >>> type(task.latest_artifact("public/test/report.json").read_json()).__name__
            'dict'
        """
        return self._run(self._json_op())

    async def aread_json(self) -> Any:
        """The async form of :meth:`read_json`.

        Example:
            >>> import asyncio
            >>> async def report() -> object:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         return await c.task(task.task_id).latest_artifact(
            ...             "public/test/report.json").aread_json()
            >>> asyncio.run(report()) == task.latest_artifact("public/test/report.json").read_json()
            True
        """
        return await self._arun(self._json_op())

    def iter_bytes(self) -> Iterator[bytes]:
        """The content, decoded, in chunks as they arrive; nothing is sent
        until the first chunk is asked for. What was handed on cannot be
        taken back: if the data changes on the server while a cut download
        is resumed, :class:`~tcmodel.download.ContentChanged` is raised
        (the whole reads and :meth:`download` start over instead).

        Example:
            >>> chunks = art.iter_bytes()
            >>> sum(len(chunk) for chunk in chunks)
            131072
        """
        yield from self._transport.stream(self._read_op())

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The async form of :meth:`iter_bytes` (``async for``; the same
        operation, driven by the async driver). Leaving the loop early ends
        the download once the iterator is closed (``contextlib.aclosing``
        closes it at once).

        Example:
            >>> import asyncio
            >>> async def size() -> int:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         again = c.task(art.task_id).run(0).artifact(art.name)
            ...         return sum([len(chunk) async for chunk in again.aiter_bytes()])
            >>> asyncio.run(size())
            131072
        """
        return self._transport.astream(self._read_op())

    # as a file

    def open(self) -> io.BufferedReader:
        """The content as a binary file open for reading, streamed as it is
        read (nothing is sent before the first read) and decoded as
        :meth:`iter_bytes` gives it, in constant memory: ``read(n)``,
        ``readinto``, ``readline``, iteration by lines, and a context
        manager; closing it early drops the connection. An object
        artifact's hashes are checked as the end is read: a mismatch raises
        :class:`~tcmodel.HashMismatch` from that read. For piping into a
        decompressor or ``tarfile.open(fileobj=..., mode="r|*")``.

        Example:
            >>> with art.open() as f:
            ...     head = f.read(4)
            ...     rest = sum(len(block) for block in iter(lambda: f.read(8192), b""))
            >>> len(head) + rest
            131072
        """
        chunks = cast("Generator[bytes, None, None]", self.iter_bytes())
        return io.BufferedReader(_Stream(chunks, self._name))

    def aopen(self) -> AsyncArtifactFile:
        """The async form of :meth:`open`: an :class:`AsyncArtifactFile`
        (``await f.read(n)``, ``await f.readline()``, ``async for line in
        f``, ``async with``), streamed from :meth:`aiter_bytes` as it is
        read; nothing is sent before the first read.

        Example:
            >>> import asyncio
            >>> async def head_and_rest() -> tuple[bytes, int]:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         again = c.task(art.task_id).run(0).artifact(art.name)
            ...         async with again.aopen() as f:
            ...             return await f.read(4), len(await f.read())
            >>> head, rest = asyncio.run(head_and_rest())
            >>> head == art.read_bytes()[:4], len(head) + rest
            (True, 131072)
        """
        return AsyncArtifactFile(self.aiter_bytes(), self._name)

    def iter_lines(self, encoding: str = "utf-8", errors: str = "strict") -> Iterator[str]:
        """The content as lines of text without their line ends (``\\n``,
        ``\\r\\n`` or ``\\r``), decoded with ``encoding`` as they arrive (see
        :meth:`open`); ``errors`` as for :meth:`bytes.decode` (``"replace"``
        never fails, for logs).

        Example:
            >>> log = cluster.task(build.task_id).run(0).artifact("public/logs/live_backing.log")
            >>> lines = list(log.iter_lines())
            >>> lines == log.read_text().splitlines()
            True
        """
        lines = _Lines(encoding, errors)
        with contextlib.closing(self.iter_bytes()) as chunks:  # type: ignore[type-var]
            for chunk in chunks:
                yield from lines.feed(chunk)
        yield from lines.feed(b"", final=True)

    async def aiter_lines(
        self, encoding: str = "utf-8", errors: str = "strict"
    ) -> AsyncIterator[str]:
        """The async form of :meth:`iter_lines` (``async for``).

        Example:
            >>> import asyncio
            >>> async def lines() -> list[str]:
            ...     async with lc.connect() as c:  # a cluster of this event loop
            ...         log = c.task(build.task_id).run(0).artifact("public/logs/live_backing.log")
            ...         return [line async for line in log.aiter_lines()]
            >>> log = cluster.task(build.task_id).run(0).artifact("public/logs/live_backing.log")
            >>> asyncio.run(lines()) == log.read_text().splitlines()
            True
        """
        lines = _Lines(encoding, errors)
        async with contextlib.aclosing(self.aiter_bytes()) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                for line in lines.feed(chunk):
                    yield line
        for line in lines.feed(b"", final=True):
            yield line


class _Lines:
    """Splits data arriving in chunks into lines of text without their line
    ends (``\n``, ``\r\n`` or ``\r``, even split across chunks), decoded
    as it arrives: what :meth:`Artifact.iter_lines` and
    :meth:`Artifact.aiter_lines` share."""

    def __init__(self, encoding: str, errors: str) -> None:
        decoder = codecs.getincrementaldecoder(encoding)(errors)
        self._text = io.IncrementalNewlineDecoder(decoder, translate=True)
        self._partial = ""

    def feed(self, chunk: bytes, final: bool = False) -> list[str]:
        """The lines ``chunk`` completes (``final``: the data has ended)."""
        lines = (self._partial + self._text.decode(chunk, final=final)).split("\n")
        self._partial = lines.pop()
        if final and self._partial:
            lines.append(self._partial)
        return lines


class _Stream(io.RawIOBase):
    """Chunks of data as a raw binary stream (what :meth:`Artifact.open`
    buffers); closing it closes the chunks' generator, and so the download."""

    def __init__(self, chunks: Generator[bytes, None, None], name: str) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = _Pending()
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending.put(chunk)
        target = memoryview(buffer).cast("B")
        taken = self._pending.take(len(target))
        target[: len(taken)] = taken
        return len(taken)

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()
        super().close()


class _Pending:
    """The part of the last chunk not read yet (shared by the sync and
    async artifact files)."""

    def __init__(self) -> None:
        self._chunk = b""
        self._at = 0

    def __bool__(self) -> bool:
        return self._at < len(self._chunk)

    def put(self, chunk: bytes) -> None:
        self._chunk, self._at = chunk, 0

    def take(self, size: int) -> memoryview:
        """Up to ``size`` bytes (all, for a negative size)."""
        end = len(self._chunk) if size < 0 else min(len(self._chunk), self._at + size)
        taken = memoryview(self._chunk)[self._at : end]
        self._at = end
        return taken

    def line(self) -> memoryview:
        """Up to and with the first ``\\n`` (all, without one)."""
        end = self._chunk.find(b"\n", self._at)
        return self.take(-1 if end < 0 else end + 1 - self._at)


class AsyncArtifactFile:
    """An artifact's content as an async binary file, read as it arrives
    (see :meth:`Artifact.aopen`); closing it early ends the download.

    Example:
        >>> import asyncio
        >>> async def lines() -> list[bytes]:
        ...     async with lc.connect() as c:
        ...         log = c.task(build.task_id).run(0).artifact("public/logs/live_backing.log")
        ...         async with log.aopen() as f:
        ...             return [line async for line in f]
        >>> got = asyncio.run(lines())
        >>> b"".join(got) == build.run(0).artifact("public/logs/live_backing.log").read_bytes()
        True
    """

    def __init__(self, chunks: AsyncIterator[bytes], name: str) -> None:
        self._chunks = chunks
        self._pending = _Pending()
        self._done = False
        #: The artifact's name.
        self.name = name

    def __repr__(self) -> str:
        return f"<AsyncArtifactFile {self.name!r}{' closed' if self._done else ''}>"

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left, for a negative size);
        ``b""`` at the end.

        Example:
            >>> import asyncio
            >>> async def sizes() -> list[int]:
            ...     async with lc.connect() as c:
            ...         async with c.task(art.task_id).run(0).artifact(art.name).aopen() as f:
            ...             return [len(await f.read(10)), len(await f.read()), len(await f.read())]
            >>> asyncio.run(sizes())
            [10, 131062, 0]
        """
        parts: list[bytes] = []
        wanted = size
        while wanted != 0 and await self._next_ready():
            part = self._pending.take(wanted)
            parts.append(bytes(part))
            wanted = wanted - len(part) if wanted > 0 else wanted
        return b"".join(parts)

    async def readline(self) -> bytes:
        """The next line, with its ``\n`` (``b""`` at the end).

        Example:
            >>> import asyncio
            >>> async def first() -> bytes:
            ...     async with lc.connect() as c:
            ...         log = c.task(build.task_id).run(0).artifact("public/logs/live_backing.log")
            ...         async with log.aopen() as f:
            ...             return await f.readline()
            >>> asyncio.run(first()).startswith(b"[taskcluster")
            True
        """
        parts: list[bytes] = []
        while await self._next_ready():
            part = bytes(self._pending.line())
            parts.append(part)
            if part.endswith(b"\n"):
                break
        return b"".join(parts)

    async def _next_ready(self) -> bool:
        """Whether bytes are ready to read (fetching the next chunk if need be)."""
        while not self._pending:
            if self._done:
                return False
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                return False
            self._pending.put(chunk)
        return True

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[bytes]:
        while line := await self.readline():
            yield line

    async def aclose(self) -> None:
        """End the download (if still going); later reads give ``b""``.

        Example:
            >>> import asyncio
            >>> async def closed() -> bytes:
            ...     async with lc.connect() as c:
            ...         f = c.task(art.task_id).run(0).artifact(art.name).aopen()
            ...         await f.read(1)
            ...         await f.aclose()
            ...         return await f.read()
            >>> asyncio.run(closed())
            b''
        """
        self._done = True
        self._pending = _Pending()
        closing = getattr(self._chunks, "aclose", None)
        if closing is not None:
            await closing()

    async def __aenter__(self) -> AsyncArtifactFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


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


def _names_folder(path: str) -> bool:
    """Whether ``path`` ends with a separator (``"out/"``): a folder."""
    return path.endswith(os.sep) or (os.altsep is not None and path.endswith(os.altsep))


class _PartFile:
    """The temporary file a download writes: data is appended to it (in
    batches, by a worker thread for a big file: see :mod:`tcmodel._pipeline`),
    and ``restart()`` empties it when the data must start over."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._pipe = Pipeline(partial(write_all, file))

    def write(self, data: bytes) -> None:
        self._pipe.add(data)

    def restart(self) -> None:
        self._pipe.drain()
        self._file.seek(0)
        self._file.truncate()

    def finish(self) -> None:
        """Wait until everything is written (raising a write's error)."""
        self._pipe.drain()

    def close(self) -> None:
        """Stop writing (what is not written yet is dropped)."""
        self._pipe.close()


def _mode_of(target: Path) -> int | None:
    """The permission bits of an existing ``target`` (``None``: none there)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return None


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the system allows it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return  # e.g. Windows: folders cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder
    finally:
        os.close(fd)


@contextlib.contextmanager
def _atomic_file(target: Path) -> Iterator[_PartFile]:
    """A :class:`_PartFile` beside ``target`` that replaces it only if the
    block ends without an error; otherwise the file is removed.

    The temporary name is short (whatever the length of ``target``'s name),
    the data is synced to disk before the rename and the folder after it.
    An existing ``target`` passes its permissions on; meanwhile the file is
    readable by its owner only. A new one is made with the umask's.
    """
    folder = target.parent
    tmp = folder / f".tcmodel-{secrets.token_hex(6)}.part"
    mode = _mode_of(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            part = _PartFile(f)
            try:
                yield part
                part.finish()
            finally:
                part.close()  # (before the file is closed)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_folder(folder)
