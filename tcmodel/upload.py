"""Writing artifacts, written once as transport operations.

What a worker does on behalf of a claimed run, with the claim's temporary
credentials: :func:`upload_op` creates an ``object`` artifact through the
object service (``queue.createArtifact`` → ``object.createUpload`` → PUT
of the data to the ``putUrl`` → ``object.finishUpload`` with the sha256
and sha512 of the content → ``queue.finishArtifact``), or a legacy ``s3``
one (``createArtifact`` → PUT to its presigned URL);
:func:`reference_op`, :func:`link_op` and :func:`error_op` create the
artifacts that hold no data. Each yields the transport's steps, so the
sync driver (:meth:`Transport.run <tcmodel.transport.Transport.run>`) and
the async one (:meth:`~tcmodel.transport.Transport.arun`) share them.

The data is streamed: a file is read in 1 MiB pieces (hashed as they are
sent), so memory stays flat whatever its size. A failed PUT is sent again
from the start of its data (a file is re-opened, a file object sought
back). Nothing is sent twice where that would double an effect
(``createArtifact`` follows the transport's idempotency rules), and an
``object`` artifact only reads as complete once ``finishArtifact`` has
been answered: an upload that fails before that raises a typed error and
leaves an artifact that reads as missing.

Example:
    >>> job = cluster.create_task(task_queue_id="doc/upload", payload={}, name="upload")
    >>> [claim] = cluster.task_queue("doc/upload").claim_work("doc-wg", "doc-w1")
    >>> t = claim.cluster.transport  # signed with the claim's temporary credentials
    >>> t.run(upload_op(t, job.task_id, claim.run_id, "public/hello.txt", "hello\\n",
    ...                 expires="1 day"))
    >>> _ = claim.completed()
    >>> cluster.task(job.task_id).run(0).artifact("public/hello.txt").read_text()
    'hello\\n'
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import io
import mimetypes
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

import attrs
import httpx

from tcmodel._storage import public_url, refusal, transfer_deadline
from tcmodel.credentials import Credentials
from tcmodel.errors import TaskclusterError, redact_url
from tcmodel.progress import ProgressLike, Report, reporter
from tcmodel.resources._dates import json_date
from tcmodel.transport import Call, Op, Transport, resolve_url

__all__ = [
    "STORAGE_TYPES",
    "Source",
    "UploadError",
    "error_op",
    "guess_content_type",
    "link_op",
    "reference_op",
    "upload_op",
]

#: What :func:`upload_op` takes: bytes, text (sent as UTF-8), a path (streamed
#: from disk) or a binary file object (read from where it stands to its end).
Source = bytes | str | os.PathLike[str] | BinaryIO
#: The storage types of artifacts that hold data.
STORAGE_TYPES = ("object", "s3")

_PIECE = 1024 * 1024  # bytes read from a source at a time
_SPOOL = 1024 * 1024  # bytes of spooled data (gzip, unseekable) kept in memory
_ALGORITHMS = ("sha256", "sha512")
_TEXT = "text/plain; charset=utf-8"
_BINARY = "application/octet-stream"
# The type of a file compressed as a whole (``x.tar.gz``: sent as is).
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
# Common artifact suffixes Python's table lacks.
_EXTRA_TYPES = {
    ".log": "text/plain",
    ".md": "text/markdown",
    ".yml": "application/yaml",
    ".yaml": "application/yaml",
    ".toml": "application/toml",
    ".diff": "text/x-diff",
    ".patch": "text/x-diff",
    ".zst": "application/zstd",
    ".whl": "application/zip",
    ".apk": "application/vnd.android.package-archive",
    ".dmg": "application/x-apple-diskimage",
}


class UploadError(TaskclusterError):
    """Data could not be uploaded as given: the storage refused the PUT
    (its presigned URL expired, or grants no access), or the source changed
    while it was sent. Not retried; the artifact does not read as complete.

    Example:
        >>> str(UploadError("public/a.bin: the data ended after 10 of 20 bytes"))
        'public/a.bin: the data ended after 10 of 20 bytes'
    """


# -- content types ------------------------------------------------------------


@cache
def _types() -> mimetypes.MimeTypes:
    """Python's own table only (not the machine's ``mime.types``): the same
    guess everywhere."""
    table = mimetypes.MimeTypes()
    for suffix, kind in _EXTRA_TYPES.items():
        table.add_type(kind, suffix)
    return table


def _guessed(name: str) -> str | None:
    kind, encoding = _types().guess_type(name.rsplit("/", 1)[-1], strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, _BINARY)
    if kind is not None and kind.startswith("text/"):
        return f"{kind}; charset=utf-8"
    return kind


def guess_content_type(name: str) -> str:
    """The content type of an artifact called ``name``, from its suffix, as
    generic-worker chooses it: text types in UTF-8, a file compressed as a
    whole as the compressed type, ``application/octet-stream`` when the
    suffix says nothing. The same answer on every machine.

    Example:
        >>> guess_content_type("public/logs/live_backing.log")
        'text/plain; charset=utf-8'
        >>> guess_content_type("public/build/target.tar.gz"), guess_content_type("public/x.json")
        ('application/gzip', 'application/json')
        >>> guess_content_type("public/build/target")
        'application/octet-stream'
    """
    return _guessed(name) or _BINARY


def _content_type(name: str, source: Source, given: str | None) -> str:
    """``given``, else the guess from ``name``, else text or bytes by source."""
    return given or _guessed(name) or (_TEXT if isinstance(source, str) else _BINARY)


# -- the data -----------------------------------------------------------------

_Opener = Callable[[], AbstractContextManager[BinaryIO]]


@attrs.frozen
class _Where:
    """How to get at a source's bytes again: open it, seek to ``start``,
    read ``size`` bytes."""

    open: _Opener
    start: int
    size: int


def _pieces(where: _Where, what: str) -> Iterator[bytes]:
    """The bytes of ``where``, read afresh, in pieces; :class:`UploadError`
    if there are more or fewer than its size (it changed meanwhile)."""
    with where.open() as f:
        f.seek(where.start)
        left = where.size
        while left:
            piece = f.read(min(_PIECE, left))
            if not piece:
                raise UploadError(
                    f"{what}: the data ended after {where.size - left} of {where.size} "
                    "bytes (it changed while it was being uploaded)"
                )
            left -= len(piece)
            yield piece
        if f.read(1):
            raise UploadError(
                f"{what}: the data grew beyond {where.size} bytes while it was being uploaded"
            )


def _is_file(source: Source) -> TypeGuard[BinaryIO]:
    """Whether ``source`` is a file object (not bytes, text or a path)."""
    data = (str, bytes, bytearray, memoryview, os.PathLike)
    return not isinstance(source, data) and callable(getattr(source, "read", None))


def _seekable(f: BinaryIO) -> bool:
    try:
        return f.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def _spooled(stack: ExitStack) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 (closed by the stack)
    stack.callback(spool.close)
    return spool  # type: ignore[return-value]  # a binary file object


def _copy(stack: ExitStack, chunks: Iterator[bytes]) -> _Where:
    """``chunks`` kept in a spooled temporary file (disk beyond 1 MiB)."""
    spool = _spooled(stack)
    for chunk in chunks:
        spool.write(chunk)
    size = spool.tell()
    return _Where(lambda: nullcontext(spool), 0, size)


def _file_chunks(f: BinaryIO) -> Iterator[bytes]:
    while piece := f.read(_PIECE):
        yield piece


def _locate(source: Source, stack: ExitStack) -> _Where:
    """Where the bytes of ``source`` are, re-readable from their start."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    if isinstance(source, bytes | bytearray | memoryview):
        buffer = io.BytesIO(source)
        return _Where(lambda: nullcontext(buffer), 0, len(buffer.getbuffer()))
    if isinstance(source, os.PathLike):
        path = Path(source)
        return _Where(lambda: path.open("rb"), 0, path.stat().st_size)
    if not _is_file(source):
        raise TypeError(
            "source must be bytes, str, an os.PathLike or a binary file object, "
            f"not {type(source).__name__}"
        )
    f = source
    if not _seekable(f):
        return _copy(stack, _file_chunks(f))
    start = f.tell()
    size = f.seek(0, io.SEEK_END) - start
    f.seek(start)
    return _Where(lambda: nullcontext(f), start, size)


def _hashers() -> dict[str, Any]:
    return {a: hashlib.new(a) for a in _ALGORITHMS}


def _content(source: Source, stack: ExitStack, what: str) -> Iterator[bytes]:
    """The bytes of ``source``, read once (an unseekable one is not spooled)."""
    if _is_file(source) and not _seekable(source):
        return _file_chunks(source)
    return _pieces(_locate(source, stack), what)


def _compressed(chunks: Iterator[bytes], stack: ExitStack) -> tuple[_Where, dict[str, str]]:
    """The gzip of ``chunks``, spooled, and the hashes of the bytes
    themselves (what a reader gets once the encoding is undone)."""
    hashers = _hashers()
    spool = _spooled(stack)
    with gzip_module.GzipFile(fileobj=spool, mode="wb", compresslevel=6, mtime=0) as packed:
        for piece in chunks:
            for h in hashers.values():
                h.update(piece)
            packed.write(piece)
    size = spool.tell()
    packed_where = _Where(lambda: nullcontext(spool), 0, size)
    return packed_where, {a: h.hexdigest() for a, h in hashers.items()}


class _Part(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body of one PUT: the bytes of ``where``, read from their start
    at each attempt (a retry resends them all), hashed as they go unless
    the hashes are already ``known``, and reported to ``report``."""

    def __init__(
        self,
        where: _Where,
        what: str,
        *,
        hashing: bool,
        known: dict[str, str] | None = None,
    ) -> None:
        self.where = where
        self.what = what
        self.size = where.size
        self.hashing = hashing and known is None
        self.known = known
        self.report: Report | None = None
        self.sent = 0
        self._hashers: dict[str, Any] = _hashers() if self.hashing else {}

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        self._hashers = _hashers() if self.hashing else {}
        for piece in _pieces(self.where, self.what):
            for h in self._hashers.values():
                h.update(piece)
            self.sent += len(piece)
            if self.report is not None:
                self.report(self.sent, self.size)
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self:  # (pieces of a local file: short blocking reads)
            yield piece

    def hashes(self) -> dict[str, str]:
        """The sha256 and sha512 of the content the last PUT sent whole."""
        if self.known is not None:
            return self.known
        if self.sent != self.size or not self.hashing:
            raise UploadError(f"{self.what}: the data was not sent whole")
        return {a: h.hexdigest() for a, h in self._hashers.items()}


def _part(source: Source, stack: ExitStack, what: str, *, gzip: bool, hashing: bool) -> _Part:
    """The body to PUT: ``source`` itself, or its gzip (hashed on the way)."""
    if not gzip:
        return _Part(_locate(source, stack), what, hashing=hashing)
    packed, hashes = _compressed(_content(source, stack, what), stack)
    return _Part(packed, what, hashing=hashing, known=hashes)


# -- sending ------------------------------------------------------------------


def _put(
    transport: Transport, what: str, url: str, headers: dict[str, str], part: _Part
) -> Op[None]:
    """PUT ``part`` to ``url`` (a presigned URL: sent unsigned), retried
    from its start on a lost connection or a 5xx, as the transport
    retries; a storage's refusal raises :class:`UploadError`."""
    target = httpx.URL(url)
    sent = httpx.Headers(headers)
    sent["Content-Length"] = str(part.size)
    sent["Host"] = target.netloc.decode("ascii")  # (httpx adds none to a request given a stream)
    request = httpx.Request("PUT", target, headers=sent, stream=part)
    response = yield from transport.exchange(
        request, what, auth=None, deadline=transfer_deadline(transport)
    )
    detail = refusal(response)
    if detail is not None:
        raise UploadError(
            f"{what}: the storage refused {public_url(url)} ({response.status_code} "
            f"{redact_url(detail)}): the URL has expired or grants no access"
        )
    transport.check(response, what)


def _artifact_call(entry: str, task_id: str, run_id: int, name: str, body: Any) -> Call:
    return Call.of("queue", entry, taskId=task_id, runId=run_id, name=name, body=body)


@attrs.frozen
class _ObjectUpload:
    """What createArtifact answers for an ``object`` artifact: the object
    to upload and the credentials to upload it with (never shown)."""

    name: str
    project_id: str
    upload_id: str
    expires: str
    credentials: Credentials = attrs.field(repr=False)

    @classmethod
    def of(cls, answer: Any) -> _ObjectUpload:
        raw = answer["credentials"]
        credentials = Credentials(raw["clientId"], raw["accessToken"], raw.get("certificate"))
        fields = (answer["name"], answer["projectId"], answer["uploadId"], answer["expires"])
        if not all(isinstance(f, str) and f for f in fields):
            raise ValueError("name, projectId, uploadId and expires must be strings")
        return cls(*fields, credentials)

    @property
    def ids(self) -> dict[str, str]:
        return {"projectId": self.project_id, "uploadId": self.upload_id}


def _put_url(answer: Any) -> str:
    url = answer["putUrl"]
    if not isinstance(url, str):
        raise TypeError("putUrl is not a string")
    return url


def _put_method(answer: Any) -> tuple[str, dict[str, str]]:
    method = answer["uploadMethod"]["putUrl"]
    headers = method.get("headers") or {}
    if not isinstance(method["url"], str) or not isinstance(headers, dict):
        raise TypeError("putUrl needs a url string and a headers object")
    return method["url"], {str(k): str(v) for k, v in headers.items()}


def _object_data(
    transport: Transport,
    upload: _ObjectUpload,
    content_type: str,
    part: _Part,
    extra: dict[str, str],
    what: str,
) -> Op[None]:
    """createUpload (putUrl), the PUT, finishUpload with the hashes: the
    object service's side, signed with the upload credentials."""
    auth = transport.auth_for(upload.credentials)
    proposed = {"putUrl": {"contentType": content_type, "contentLength": part.size}}
    body = {**upload.ids, "expires": upload.expires, "proposedUploadMethods": proposed}
    start = Call.of("object", "createUpload", body=body, name=upload.name)
    url, headers = yield from transport.call(start, auth=auth, convert=_put_method)
    url = resolve_url(str(start), transport.url_for(start), url)
    yield from _put(transport, what, url, {**headers, **extra}, part)
    finish_body = {**upload.ids, "hashes": part.hashes()}
    finish = Call.of("object", "finishUpload", body=finish_body, name=upload.name)
    yield from transport.call(finish, auth=auth)


def upload_op(
    transport: Transport,
    task_id: str,
    run_id: int,
    name: str,
    source: Source,
    *,
    content_type: str | None = None,
    expires: datetime | str,
    storage_type: str = "object",
    gzip: bool = False,
    progress: ProgressLike = None,
) -> Op[None]:
    """Create artifact ``name`` of run ``run_id`` of ``task_id`` holding
    ``source``: bytes, text (UTF-8), a path (streamed from disk) or a
    binary file object (from where it stands to its end); ``transport``
    signs with the claim's credentials.

    ``storage_type="object"`` (the default): ``queue.createArtifact``, then,
    with the upload credentials it answers, ``object.createUpload``
    (``putUrl``), a PUT of the data, ``object.finishUpload`` with its
    sha256 and sha512, and ``queue.finishArtifact``. ``"s3"``:
    ``createArtifact`` and a PUT to its presigned URL. With ``gzip`` the
    data is sent compressed, with ``Content-Encoding: gzip`` (readers get
    it back decoded; the hashes are of the content itself).
    ``content_type`` defaults to :func:`guess_content_type` of ``name``
    (text for a ``str`` when the name says nothing); ``expires`` is a
    datetime, an offset (``"1 day"``) or an ISO date, at most the task's.
    ``progress`` is ``True`` for a tqdm bar or ``progress(sent, total)``.

    A PUT that fails (a lost connection, a 5xx) is sent again from the
    start of its data; a storage that refuses it raises
    :class:`UploadError`, other failures their typed error
    (:class:`~tcmodel.errors.ConnectionFailed`,
    :class:`~tcmodel.errors.ServerError`, a createArtifact of a name
    already used otherwise: :class:`~tcmodel.errors.RequestConflict`). An
    object artifact whose upload failed does not read as complete (it is
    missing); an ``s3`` artifact exists from ``createArtifact`` on, as the
    queue makes it, but reading the data of one whose PUT failed raises
    :class:`~tcmodel.errors.NotFound`.

    Example:
        >>> import tcmodel
        >>> job = cluster.create_task(task_queue_id="doc/upload-op", payload={}, name="up")
        >>> [claim] = cluster.task_queue("doc/upload-op").claim_work("doc-wg", "doc-w1")
        >>> t = claim.cluster.transport
        >>> t.run(upload_op(t, job.task_id, 0, "public/data.bin", bytes(1000),
        ...                 expires=tcmodel.from_now("1 day")))
        >>> t.run(upload_op(t, job.task_id, 0, "public/notes.md", "# notes\\n",
        ...                 expires="1 day", storage_type="s3", gzip=True))
        >>> _ = claim.completed()
        >>> art = cluster.task(job.task_id).run(0).artifact("public/data.bin")
        >>> art.storage_type, art.content_type, len(art.read_bytes())
        ('object', 'application/octet-stream', 1000)
        >>> cluster.task(job.task_id).run(0).artifact("public/notes.md").read_text()
        '# notes\\n'
    """
    if storage_type not in STORAGE_TYPES:
        raise ValueError(f"storage_type must be one of {STORAGE_TYPES}, not {storage_type!r}")
    ctype = _content_type(name, source, content_type)
    what = f"upload of {name} (task {task_id} run {run_id})"
    encoding = {"Content-Encoding": "gzip"} if gzip else {}
    with ExitStack() as stack:
        part = _part(source, stack, what, gzip=gzip, hashing=storage_type == "object")
        part.report = stack.enter_context(reporter(progress, name, total=part.size, unit="B"))
        body = {
            "storageType": storage_type,
            "expires": json_date(transport, expires),
            "contentType": ctype,
            "contentLength": part.size,
        }
        create = _artifact_call("createArtifact", task_id, run_id, name, body)
        if storage_type == "s3":
            url = yield from transport.call(create, convert=_put_url)
            url = resolve_url(str(create), transport.url_for(create), url)
            yield from _put(transport, what, url, {"Content-Type": ctype, **encoding}, part)
            return
        upload = yield from transport.call(create, convert=_ObjectUpload.of)
        yield from _object_data(transport, upload, ctype, part, encoding, what)
        finish = {"uploadId": upload.upload_id}
        yield from transport.call(_artifact_call("finishArtifact", task_id, run_id, name, finish))


# -- artifacts without data ---------------------------------------------------------


def _create_op(
    transport: Transport, task_id: str, run_id: int, name: str, body: dict[str, Any]
) -> Op[None]:
    """createArtifact with ``body`` (its ``expires`` written as JSON)."""
    body = {**body, "expires": json_date(transport, body["expires"])}
    yield from transport.call(_artifact_call("createArtifact", task_id, run_id, name, body))


def reference_op(
    transport: Transport,
    task_id: str,
    run_id: int,
    name: str,
    url: str,
    *,
    content_type: str | None = None,
    expires: datetime | str,
) -> Op[None]:
    """Create a ``reference`` artifact: reading it redirects to ``url``
    (readers never send their credentials there). ``content_type``
    defaults to :func:`guess_content_type` of ``name``; creating it again
    with another URL moves it.

    Example:
        >>> job = cluster.create_task(task_queue_id="doc/reference", payload={}, name="ref")
        >>> [claim] = cluster.task_queue("doc/reference").claim_work("doc-wg", "doc-w1")
        >>> t = claim.cluster.transport
        >>> t.run(reference_op(t, job.task_id, 0, "public/docs.html",
        ...                    "https://example.com/docs.html", expires="1 day"))
        >>> _ = claim.completed()
        >>> art = cluster.task(job.task_id).run(0).artifact("public/docs.html")
        >>> art.storage_type, art.content_type
        ('reference', 'text/html; charset=utf-8')
    """
    body = {"storageType": "reference", "expires": expires, "url": url}
    body["contentType"] = content_type or guess_content_type(name)
    yield from _create_op(transport, task_id, run_id, name, body)


def link_op(
    transport: Transport,
    task_id: str,
    run_id: int,
    name: str,
    target: str,
    *,
    content_type: str | None = None,
    expires: datetime | str,
) -> Op[None]:
    """Create a ``link`` artifact: reading ``name`` reads ``target``, an
    artifact of the same run (``content_type``: the link's own, if given).

    Example:
        >>> job = cluster.create_task(task_queue_id="doc/link", payload={}, name="link")
        >>> [claim] = cluster.task_queue("doc/link").claim_work("doc-wg", "doc-w1")
        >>> t = claim.cluster.transport
        >>> t.run(upload_op(t, job.task_id, 0, "public/app-1.2.txt", "v1.2", expires="1 day"))
        >>> t.run(link_op(t, job.task_id, 0, "public/app.txt", "public/app-1.2.txt",
        ...               expires="1 day"))
        >>> _ = claim.completed()
        >>> cluster.task(job.task_id).run(0).artifact("public/app.txt").read_text()
        'v1.2'
    """
    body: dict[str, Any] = {"storageType": "link", "expires": expires, "artifact": target}
    if content_type is not None:
        body["contentType"] = content_type
    yield from _create_op(transport, task_id, run_id, name, body)


def error_op(
    transport: Transport,
    task_id: str,
    run_id: int,
    name: str,
    reason: str,
    message: str,
    *,
    expires: datetime | str,
) -> Op[None]:
    """Create an ``error`` artifact: reading it raises
    :class:`~tcmodel.errors.ArtifactError` with ``reason`` (one of
    ``file-missing-on-worker``, ``invalid-resource-on-worker``,
    ``too-large-file-on-worker``) and ``message``.

    Example:
        >>> job = cluster.create_task(task_queue_id="doc/error", payload={}, name="err")
        >>> [claim] = cluster.task_queue("doc/error").claim_work("doc-wg", "doc-w1")
        >>> t = claim.cluster.transport
        >>> t.run(error_op(t, job.task_id, 0, "public/shot.png", "file-missing-on-worker",
        ...                "no display", expires="1 day"))
        >>> _ = claim.completed()
        >>> cluster.task(job.task_id).run(0).artifact("public/shot.png").read_bytes()
        Traceback (most recent call last):
        ...
        tcmodel.errors.ArtifactError: ...no display...
    """
    body = {"storageType": "error", "expires": expires, "reason": reason, "message": message}
    yield from _create_op(transport, task_id, run_id, name, body)
