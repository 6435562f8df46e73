"""Reading an artifact's content, written once as a transport operation.

:func:`read_artifact_op` asks the queue where the content is
(``queue.artifact`` or ``queue.latestArtifact``), then fetches it the way
its storage type needs: ``s3`` and ``reference`` by a GET that follows
redirects, ``object`` through the object service's ``getUrl`` download
method with hash checking, and ``error`` by raising
:class:`~tcmodel.errors.ArtifactError`. The decoded bytes are *emitted*
(:class:`~tcmodel.transport.Emit`) chunk by chunk, so memory stays flat
whatever the size; a connection lost mid-body is resumed with ``Range``
(and ``If-Range``: never spliced onto data that changed meanwhile).

The same operation runs under the sync driver (:meth:`Transport.run
<tcmodel.transport.Transport.run>`, :meth:`~tcmodel.transport.Transport.stream`)
and the async one (:meth:`~tcmodel.transport.Transport.arun`).

Example:
    >>> data = b"".join(cluster.transport.stream(read_artifact_op(
    ...     cluster.transport, art.task_id, 0, art.name)))
    >>> len(data)
    131072
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from functools import partial
from typing import Any

import attrs
import httpx

from tcmodel._pipeline import Pipeline
from tcmodel._storage import public_url, refusal, transfer_deadline
from tcmodel.credentials import Credentials
from tcmodel.errors import (
    ArtifactError,
    AuthenticationFailed,
    ConnectionFailed,
    HashMismatch,
    InsufficientScopes,
    TaskclusterError,
    redact_url,
)
from tcmodel.models import ArtifactContent
from tcmodel.transport import (
    CHUNK_SIZE,
    Call,
    Close,
    Emit,
    Op,
    ReadChunk,
    Sleep,
    Transport,
    resolve_url,
)
from tcmodel.utils import parse_date

__all__ = [
    "MAX_REDIRECTS",
    "ContentChanged",
    "DownloadError",
    "DownloadResult",
    "Progress",
    "StorageRefused",
    "artifact_call",
    "read_artifact_op",
    "strongest_hash",
    "verify_hashes",
]

#: How many redirects a download follows before giving up.
MAX_REDIRECTS = 10
#: ``progress(done, total)``: raw bytes received so far, and the full raw
#: length when the server said it (``None`` otherwise).
Progress = Callable[[int, "int | None"], None]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.ASCII)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.ASCII)


class DownloadError(TaskclusterError):
    """The artifact's data could not be read as sent: too many redirects,
    an unknown storage type or content encoding, or a corrupt compressed
    body. Not retried.

    Example:
        >>> str(DownloadError("public/x: too many redirects"))
        'public/x: too many redirects'
    """


class ContentChanged(DownloadError):
    """The data changed while it was being read: the answer to a resume
    (or a full answer after part of the data came) does not continue the
    bytes already handed on. Raised only where those bytes cannot be taken
    back (:meth:`~tcmodel.resources.artifact.Artifact.iter_bytes`, or an
    operation given no ``restart``); files and whole reads start over
    instead. Not retried.

    Example:
        >>> issubclass(ContentChanged, DownloadError)
        True
    """


class StorageRefused(DownloadError):
    """The storage holding the data (S3, a CDN, the object service's URL)
    refused it with 401 or 403: a presigned URL has expired, or the data is
    private and the URL carries no right to it. Not a Taskcluster scopes
    error. ``status`` is the answer's status, ``url`` the URL without its
    query (which may sign it), ``detail`` what the storage said.

    Example:
        >>> e = StorageRefused("queue.artifact(...)", 403, "https://b.example.com/k?X-Amz-Signature=s",
        ...                    "AccessDenied: Request has expired")
        >>> str(e)
        'queue.artifact(...): the storage refused https://b.example.com/k (403 AccessDenied: \
Request has expired): the URL has expired or grants no access'
        >>> e.url, e.status
        ('https://b.example.com/k', 403)
    """

    def __init__(self, what: str, status: int, url: str, detail: str) -> None:
        self.status = status
        self.url = public_url(url)
        self.detail = redact_url(detail)
        reason = f"{status} {self.detail}" if self.detail else str(status)
        super().__init__(
            f"{what}: the storage refused {self.url} ({reason}): "
            "the URL has expired or grants no access"
        )


@attrs.frozen
class DownloadResult:
    """What a finished download tells besides its data.

    ``storage_type`` is what the queue answered (a link is already
    resolved), ``content_type`` the ``Content-Type`` the data came with,
    ``size`` the number of decoded bytes emitted.

    Example:
        >>> DownloadResult("s3", "text/plain; charset=utf-8", 12).size
        12
    """

    storage_type: str
    content_type: str | None
    size: int


def artifact_call(task_id: str, run_id: int | None, name: str, *, kind: str = "content") -> Call:
    """The queue call for artifact ``name`` of run ``run_id`` (``None``:
    the latest run): ``kind`` is ``"content"`` (``artifact``), ``"info"``
    (``artifactInfo``) or ``"get"`` (``getArtifact``, the redirecting URL).

    Example:
        >>> str(artifact_call("Dx4tPEtaRpeIeWpbTD0uHw", None, "public/x", kind="info"))
        "queue.latestArtifactInfo(taskId='Dx4tPEtaRpeIeWpbTD0uHw', name='public/x')"
    """
    entry = {"content": "artifact", "info": "artifactInfo", "get": "getArtifact"}[kind]
    if run_id is None:
        latest = {"artifact": "latestArtifact", "getArtifact": "getLatestArtifact"}
        entry = latest.get(entry, "latest" + entry[0].upper() + entry[1:])
        return Call.of("queue", entry, taskId=task_id, name=name)
    return Call.of("queue", entry, taskId=task_id, runId=run_id, name=name)


def strongest_hash(expected: dict[str, Any]) -> str:
    """The one hash an object download computes and verifies: ``sha512``
    when the object service gives it, else ``sha256`` (if it gives neither,
    :func:`verify_hashes` refuses the data).

    Example:
        >>> strongest_hash({"sha256": "ab", "sha512": "cd"}), strongest_hash({"sha256": "ab"})
        ('sha512', 'sha256')
    """
    return "sha512" if expected.get("sha512") is not None else "sha256"


def verify_hashes(what: str, computed: dict[str, str], expected: dict[str, Any]) -> None:
    """Check downloaded data against the hashes the object service gave.

    Every computed algorithm (a download computes one: the
    :func:`strongest_hash`) that ``expected`` also names must match, and at
    least one of ``sha256``/``sha512`` must be given (and so match);
    otherwise :class:`~tcmodel.errors.HashMismatch`.

    Example:
        >>> verify_hashes("x", {"sha256": "ab"}, {"sha256": "ab", "md5": "zz"})
        >>> verify_hashes("x", {"sha256": "ab"}, {"sha256": "cd"})
        Traceback (most recent call last):
        ...
        tcmodel.errors.HashMismatch: x: sha256 mismatch: expected cd, got ab
    """
    checked = 0
    for algorithm, actual in computed.items():
        want = expected.get(algorithm)
        if want is None:
            continue
        if not isinstance(want, str) or want.lower() != actual:
            raise HashMismatch(what, algorithm, str(want), actual)
        checked += 1
    if not checked:
        raise HashMismatch(
            what, "sha256", "a sha256 or sha512 hash", computed.get("sha256", "(not computed)")
        )


# -- decoding ----------------------------------------------------------------------


class _Decoder:
    """Undoes a ``Content-Encoding`` (identity, gzip, deflate) in bounded pieces."""

    def __init__(self, encoding: str | None, what: str) -> None:
        self.what = what
        enc = (encoding or "identity").strip().lower()
        if enc in ("", "identity"):
            self._wbits: int | None = None
        elif enc in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif enc == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise DownloadError(f"{what}: unsupported Content-Encoding {encoding!r}")
        self._z = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most ``CHUNK_SIZE``."""
        if self._z is None:
            if data:
                yield data
            return
        while True:
            try:
                out = self._z.decompress(data, CHUNK_SIZE)
            except zlib.error as exc:
                if self._wbits == zlib.MAX_WBITS and not self._started:
                    # "deflate" sent without its zlib header: raw deflate.
                    self._wbits = -zlib.MAX_WBITS
                    self._z = zlib.decompressobj(self._wbits)
                    continue
                raise DownloadError(f"{self.what}: corrupt compressed data ({exc})") from None
            self._started = True
            if out:
                yield out
            data = self._z.unconsumed_tail
            if self._z.eof and self._z.unused_data:
                # another gzip member follows
                data = self._z.unused_data + data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            if not data and len(out) < CHUNK_SIZE:
                return

    @property
    def ended(self) -> bool:
        """Whether a compressed stream has reached its end (always true
        without compression, where the end cannot be told from the data)."""
        return self._z is None or self._z.eof

    def finish(self) -> bytes:
        """What is left at the end; raises if the compressed stream is cut short."""
        if self._z is None:
            return b""
        tail = self._z.flush()
        if not self._z.eof:
            raise DownloadError(f"{self.what}: the compressed data ends too early")
        return tail


# -- where the data is ---------------------------------------------------------------


class _UrlSource:
    """A URL to GET, following redirects (``s3`` and ``reference``).

    Every hop is sent unsigned, as the official clients do: the URL was
    chosen by whoever made the artifact, and may point at another task's
    private artifact on this same deployment, which the reader's
    credentials must not fetch on the author's behalf (a confused deputy).
    Presigned and public URLs need no signature.

    Resumes go to where the last redirect led.
    """

    follow = True

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url
        self.final: str | None = None
        self.auth: httpx.Auth | str | None = None  # never the reader's credentials

    def locate(self) -> Op[str]:
        return self.final or self.url
        yield Sleep(0)  # type: ignore[unreachable]  # makes this a generator

    def arrived(self, url: str) -> None:
        self.final = url


def _download_credentials(what: str, raw: dict[str, Any]) -> Credentials:
    """The queue's temporary download credentials; :class:`DownloadError`
    if unusable (raised outside the handler: no chained certificate)."""
    try:
        return Credentials(
            raw.get("clientId", ""), raw.get("accessToken", ""), raw.get("certificate")
        )
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    raise DownloadError(f"{what}: unusable download credentials ({problem})")


class _ObjectSource:
    """An object's ``getUrl``: startDownload with the queue's temporary
    credentials, again whenever the URL's ``expires`` has passed."""

    follow = False
    kind = "object"

    def __init__(self, transport: Transport, content: ArtifactContent, what: str) -> None:
        credentials = _download_credentials(what, content.credentials or {})
        if not content.name:
            raise DownloadError(f"{what}: the queue named no object")
        self.transport = transport
        # signed with the transport's clock, like every other request
        self.object_auth = transport.auth_for(credentials)
        self.call = Call.of(
            "object",
            "startDownload",
            body={"acceptDownloadMethods": {"getUrl": True}},
            name=content.name,
        )
        self.auth: httpx.Auth | str | None = None
        self.url: str | None = None
        self.expires: datetime | None = None
        self.hashes: dict[str, Any] = {}

    def locate(self) -> Op[str]:
        now = datetime.fromtimestamp(self.transport.now(), tz=timezone.utc)
        if self.url is not None and (self.expires is None or now < self.expires):
            return self.url
        answer = yield from self.transport.call(self.call, auth=self.object_auth)
        method = answer.get("method") if isinstance(answer, dict) else None
        if method != "getUrl":  # (the answer itself may hold a signed URL: not shown)
            raise DownloadError(f"{self.call}: expected the getUrl method, got {method!r}")
        url, expires = answer.get("url"), answer.get("expires")
        if not isinstance(url, str):
            raise DownloadError(f"{self.call}: the answer has no url")
        url = resolve_url(str(self.call), self.transport.url_for(self.call), url)
        try:
            self.expires = parse_date(expires) if isinstance(expires, str) else None
        except ValueError:
            self.expires = None  # an unreadable expiry: renewed only when refused
        self.url = url
        hashes = answer.get("hashes")
        self.hashes = dict(hashes) if isinstance(hashes, dict) else {}
        return url

    def arrived(self, url: str) -> None:
        """The object's URL is used as is (no redirects expected)."""


_Source = _UrlSource | _ObjectSource


# -- the body ------------------------------------------------------------------------


def _header_int(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _encoding(value: str | None) -> str:
    return (value or "identity").strip().lower() or "identity"


@attrs.frozen
class _Version:
    """What a full (200) answer says about the data it starts: its
    validators and its ``Content-Encoding``; a resume must match them."""

    etag: str | None
    modified: str | None
    encoding: str

    @classmethod
    def of(cls, response: httpx.Response) -> _Version:
        headers = response.headers
        return cls(
            headers.get("etag"),
            headers.get("last-modified"),
            _encoding(headers.get("content-encoding")),
        )

    @property
    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, else the Last-Modified date
        (either only if it can be sent back as a header)."""
        strong = self.etag if self.etag and not self.etag.startswith("W/") else None
        value = strong or self.modified
        return value if value and value.isascii() and value.isprintable() else None

    def matches(self, response: httpx.Response) -> bool:
        """Whether ``response`` (a 206) says nothing that contradicts this."""
        headers = response.headers
        return (
            _agree(self.etag, headers.get("etag"))
            and _agree(self.modified, headers.get("last-modified"))
            and self.encoding == _encoding(headers.get("content-encoding"))
        )


def _agree(ours: str | None, theirs: str | None) -> bool:
    return ours is None or theirs is None or ours == theirs


_CUT = "the body was cut short"


class _Hash:
    """A hash of the bytes handed on, computed in order by a
    :class:`~tcmodel._pipeline.Pipeline`: on a worker thread of its own for
    a big body, so that hashing (hashlib releases the GIL) overlaps reading
    the socket and writing the file."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hasher = hashlib.new(name)
        self._pipe = Pipeline(self._update)

    def _update(self, pieces: list[bytes]) -> None:
        update = self._hasher.update
        for piece in pieces:
            update(piece)

    def update(self, piece: bytes) -> None:
        self._pipe.add(piece)

    def digest(self) -> bytes:
        self._pipe.drain()
        return self._hasher.digest()

    def hexdigest(self) -> str:
        self._pipe.drain()
        return self._hasher.hexdigest()

    def close(self) -> None:
        """Stop the worker (what it has not hashed yet is dropped)."""
        self._pipe.close()


class _Body:
    """The state of one download across attempts: how many raw bytes came,
    what was emitted, the decoder and the hashes of the decoded data.

    A resume asks for the rest with ``Range`` and ``If-Range`` (the first
    answer's validator), and takes a 206 only if it starts where the data
    stopped, has the same total length and contradicts no validator. A full
    answer after part of the data came starts over: ``restart()`` tells the
    consumer to drop what it has; without one, the new answer's first bytes
    are checked against those already handed on (:class:`ContentChanged`
    if they differ) and not handed on again.
    """

    def __init__(
        self,
        what: str,
        progress: Progress | None,
        hashing: bool,
        restart: Callable[[], None] | None,
    ) -> None:
        self.what = what
        self.progress = progress
        self.restart = restart
        self.raw = 0  # raw bytes received of the current representation
        self.total: int | None = None  # its full raw length, when known
        self.version: _Version | None = None  # what the current full answer said
        self.emitted = 0  # decoded bytes handed on (and hashed)
        self.skip = 0  # decoded bytes to check and drop after a full answer
        self.reported = -1
        self.decoder: _Decoder | None = None
        self.content_type: str | None = None
        # The hash of what was handed on: with ``hashing``, the one the object
        # is verified with (chosen by :meth:`choose` once its hashes are
        # known); without a ``restart``, also the check that a new answer
        # starts with the bytes already handed on. One hash, computed once:
        # hashing is most of a fast download's CPU time.
        self.hashing = hashing
        self.hasher = _Hash("sha256") if not hashing and restart is None else None
        self._expected = b""  # sha256 of the bytes handed on, while checking them
        self._check = hashlib.sha256()
        self.resumable = True
        self.cut = _CUT  # why the last attempt ended early

    def choose(self, expected: dict[str, Any]) -> None:
        """Hash with the :func:`strongest_hash` of ``expected`` (the object
        service's hashes), once, before any data came."""
        if self.hashing and self.hasher is None:
            self.hasher = _Hash(strongest_hash(expected))

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "gzip, deflate"}
        if self.raw and self.resumable and self.version is not None:
            headers["Range"] = f"bytes={self.raw}-"
            if self.version.validator:
                headers["If-Range"] = self.version.validator
        return headers

    def _report(self) -> None:
        if self.progress is not None and self.raw > self.reported:
            self.reported = self.raw
            self.progress(self.raw, self.total)

    def _begin(self, response: httpx.Response) -> bool:
        """Take in a 200/206 answer; ``False`` if it cannot continue the data."""
        if response.status_code == 206:
            if not self._continues(response):
                self.resumable = False  # ask for the whole body next time
                return False
            return True
        self._start_over()
        self.raw, self.resumable = 0, True
        self.total = _header_int(response, "content-length")
        self.version = _Version.of(response)
        self.decoder = _Decoder(self.version.encoding, self.what)
        self.content_type = response.headers.get("content-type")
        if self.reported < 0:
            self._report()
        return True

    def _continues(self, response: httpx.Response) -> bool:
        """Whether a 206 is the rest of the data begun: the same start, the
        same total length, the same validators and encoding."""
        m = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if m is None or self.version is None or int(m.group(1)) != self.raw:
            return False
        total = int(m.group(3)) if m.group(3) != "*" else None
        if self.total is not None and total != self.total:
            return False
        if not self.version.matches(response):
            return False
        self.total = total
        return True

    def _start_over(self) -> None:
        """A full answer is coming: drop what was handed on (``restart``),
        or get ready to check it against the new answer's start."""
        if not self.emitted:
            return
        if self.restart is not None:
            self.restart()
            self.emitted = 0
            if self.hasher is not None:
                self.hasher.close()
                self.hasher = _Hash(self.hasher.name)
            return
        assert self.hasher is not None  # (kept whenever there is no restart)
        self.skip = self.emitted
        self._expected = self.hasher.digest()
        self._check = hashlib.new(self.hasher.name)

    def _changed(self) -> ContentChanged:
        return ContentChanged(
            f"{self.what}: the data changed during the download (a new answer does not "
            f"start with the {self.emitted} bytes already read); read it again"
        )

    def _recheck(self, piece: bytes) -> bytes:
        """Check the part of ``piece`` that was handed on before; the rest."""
        n = min(self.skip, len(piece))
        self._check.update(piece[:n])
        self.skip -= n
        if not self.skip and self._check.digest() != self._expected:
            raise self._changed()
        return piece[n:]

    def _emit(self, piece: bytes) -> Op[None]:
        if self.skip:
            piece = self._recheck(piece)
        if piece:
            if self.hasher is not None:
                self.hasher.update(piece)
            self.emitted += len(piece)
            yield Emit(piece)

    def read(self, response: httpx.Response) -> Op[bool]:
        """Read ``response`` to its end, emitting decoded data; ``True``
        when the whole body has come, ``False`` when it was cut short.

        A connection lost after the last byte (as many raw bytes as the
        length told) still counts as the whole body; so does a 416 to a
        resume whose ``Content-Range: bytes */N`` says ``N`` bytes are all
        there is and all that came."""
        if response.status_code == 416:
            return (yield from self._unsatisfiable(response))
        if not self._begin(response):
            yield Close(response)
            return False
        try:
            whole = yield from self._drain(response)
        except GeneratorExit:  # the consumer stopped: no more steps may be yielded
            _close_quietly(response)
            raise
        except BaseException:
            yield Close(response)
            raise
        yield Close(response)
        assert self.decoder is not None
        if self.total is not None:
            if self.raw < self.total:
                return False
            # every byte came, even if the connection broke afterwards
        elif not whole or not self.decoder.ended:
            return False  # no length given: cut short, or the compressed data stops short
        yield from self._finish()
        return True

    def _finish(self) -> Op[None]:
        """Hand on what the decoder holds back; the data must not have
        ended before the bytes already handed on were seen again."""
        assert self.decoder is not None
        yield from self._emit(self.decoder.finish())
        if self.skip:
            raise self._changed()

    def _unsatisfiable(self, response: httpx.Response) -> Op[bool]:
        """A 416 to ``Range: bytes=<raw>-``: the end if the server's length
        is what came; otherwise ask for the whole body next time."""
        yield Close(response)  # (already read and closed by the driver)
        m = _UNSATISFIED_RANGE.match(response.headers.get("content-range", ""))
        if m is not None and int(m.group(1)) == self.raw and self.decoder is not None:
            self.total = self.raw
            yield from self._finish()
            return True
        self.resumable = False
        return False

    def _drain(self, response: httpx.Response) -> Op[bool]:
        assert self.decoder is not None
        self.cut = _CUT
        while True:
            try:
                chunk: bytes = yield ReadChunk(response)
            except httpx.TransportError as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)  # a deadline among them
                self.cut = f"{_CUT}: {exc}" if timed_out else _CUT
                return False
            if not chunk:
                return True
            self.raw += len(chunk)
            self._report()
            for piece in self.decoder.feed(chunk):
                yield from self._emit(piece)

    def digests(self) -> dict[str, str]:
        return {self.hasher.name: self.hasher.hexdigest()} if self.hasher is not None else {}

    def close(self) -> None:
        """Stop the hashing worker, if any (idempotent)."""
        if self.hasher is not None:
            self.hasher.close()


def _close_quietly(response: httpx.Response) -> None:
    """Close a sync streamed response without the driver (async ones are
    left to their client)."""
    if isinstance(response.stream, httpx.SyncByteStream):
        with contextlib.suppress(Exception):  # best effort on the way out
            response.close()


def _open(
    transport: Transport, what: str, source: _Source, headers: dict[str, str]
) -> Op[httpx.Response]:
    """GET the source's URL (following redirects for URL sources): the 2xx
    response, still streaming, or the 416 to a ``Range``. A 401/403 of a
    storage raises :class:`StorageRefused`, other error answers (and a
    Taskcluster service's 401/403) their typed error."""
    url = yield from source.locate()
    for _ in range(MAX_REDIRECTS + 1):
        request = httpx.Request("GET", url, headers=headers)
        response = yield from transport.exchange(
            request, what, stream=True, auth=source.auth, deadline=transfer_deadline(transport)
        )
        status = response.status_code
        location = response.headers.get("location")
        if status in _REDIRECTS and location and source.follow:
            yield Close(response)
            url = resolve_url(what, url, location, status=status)
            continue
        if status == 416 and "Range" in headers:
            source.arrived(url)
            return response  # for the body to judge (it may be the end)
        detail = refusal(response)
        if detail is not None:
            raise StorageRefused(what, status, url, detail)
        if status >= 400:  # the driver has read and closed it
            transport.check(response, what)
        if status >= 300:
            yield Close(response)
            raise DownloadError(f"{what}: unexpected {status} answer from {public_url(url)}")
        source.arrived(url)
        return response
    raise DownloadError(f"{what}: more than {MAX_REDIRECTS} redirects")


#: Refusals that a source which already served data earns once it has
#: lapsed: the storage's (a presigned URL), the object service's (the
#: download credentials).
_REFUSED = (StorageRefused, AuthenticationFailed, InsufficientScopes)


def _fetch(
    transport: Transport,
    what: str,
    source: _Source,
    locate: Callable[[], Op[_Source]],
    body: _Body,
) -> Op[_Source]:
    """Fetch the data of ``source`` into ``body``, resuming after losses;
    returns the source the data came from.

    When a source that already served an answer is refused (its presigned
    URL or its download credentials have expired), the queue is asked again
    (``locate``) and the download goes on where it stopped; a fresh source
    that is refused raises.
    """
    attempt = 0
    fresh = True  # no answer from this source yet
    while True:
        try:
            response: httpx.Response | None = yield from _open(
                transport, what, source, body.headers()
            )
        except _REFUSED:
            if fresh:
                raise
            response = None
        if response is None:
            source = _same_kind(what, source, (yield from locate()))
            fresh = True
            continue
        fresh = False
        if isinstance(source, _ObjectSource):
            body.choose(source.hashes)  # known once startDownload has answered
        if (yield from body.read(response)):
            return source
        attempt += 1
        if attempt > transport.retry.max_retries:
            url = public_url(str(response.request.url))
            raise ConnectionFailed(what, "GET", url, body.cut)
        yield Sleep(transport.retry.delay(attempt))


def _same_kind(what: str, old: _Source, new: _Source) -> _Source:
    """``new``, if it is checked the way ``old`` was (objects by hashes)."""
    if isinstance(new, _ObjectSource) != isinstance(old, _ObjectSource):
        raise ContentChanged(f"{what}: the artifact changed from {old.kind} to {new.kind}")
    return new


def _source(transport: Transport, call: Call) -> Op[_Source]:
    """Ask the queue where the artifact's data is."""
    what = str(call)
    content = yield from transport.call(call, convert=ArtifactContent._from_json)
    kind = content.storage_type
    if kind == "error":
        raise ArtifactError(
            call=what,
            method="GET",
            url=transport.url_for(call),
            status=424,
            message=content.message or "",
            reason=content.reason,
            body={"reason": content.reason, "message": content.message},
        )
    if kind == "object":
        return _ObjectSource(transport, content, what)
    if content.url is not None:
        return _UrlSource(kind, resolve_url(what, transport.url_for(call), content.url))
    raise DownloadError(f"{what}: cannot read storageType {kind!r}")


def read_artifact_op(
    transport: Transport,
    task_id: str,
    run_id: int | None,
    name: str,
    *,
    progress: Progress | None = None,
    restart: Callable[[], None] | None = None,
) -> Op[DownloadResult]:
    """Download artifact ``name`` of ``task_id`` run ``run_id`` (``None``:
    the latest run) as an operation that emits the decoded bytes.

    * ``s3`` and ``reference``: GET the URL, following at most
      :data:`MAX_REDIRECTS` redirects, never signed (not even on the root
      URL's origin: a reference cannot borrow the reader's credentials).
    * ``object``: ``object.startDownload`` with the temporary credentials the
      queue handed out, GET the ``getUrl`` and check the strongest hash
      the object service gives, sha512 if it gives one, else sha256
      (:func:`strongest_hash`, :func:`verify_hashes`; a mismatch raises
      :class:`~tcmodel.errors.HashMismatch` and is never retried).
    * ``error``: raise :class:`~tcmodel.errors.ArtifactError` with the
      worker's ``reason`` and ``message``.

    ``Content-Encoding: gzip`` is undone; a connection lost mid-body is
    resumed with ``Range`` and ``If-Range`` (at most the transport's
    ``max_retries`` times), and only with an answer that continues the
    same data. When a full answer comes instead (the data changed, or the
    server ignores ranges), ``restart()`` is called, for the consumer to
    drop what it has, and the data is emitted from its start; without
    ``restart``, the new answer's start must be the bytes already emitted,
    else :class:`ContentChanged`. When the storage refuses to resume (a
    presigned URL or the download credentials have expired: 401/403), the
    queue is asked again, once, and the download goes on; a refused URL
    fresh from the queue raises :class:`StorageRefused`.
    ``progress(done, total)`` is told the raw bytes received so far.

    Example:
        >>> from tcmodel.transport import consume
        >>> t, chunks = cluster.transport, []
        >>> t.run(consume(read_artifact_op(t, art.task_id, 0, art.name, restart=chunks.clear),
        ...               chunks.append))  # doctest: +ELLIPSIS
        DownloadResult(storage_type='...', content_type='...', size=131072)
        >>> sum(map(len, chunks))
        131072
    """
    call = artifact_call(task_id, run_id, name)
    source = yield from _source(transport, call)
    what = str(call)
    body = _Body(what, progress, hashing=source.kind == "object", restart=restart)
    try:
        source = yield from _fetch(transport, what, source, partial(_source, transport, call), body)
        if isinstance(source, _ObjectSource):
            verify_hashes(name, body.digests(), source.hashes)
    finally:
        body.close()
    return DownloadResult(source.kind, body.content_type, body.emitted)
