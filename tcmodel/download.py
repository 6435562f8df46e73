"""Reading an artifact's content, written once as a transport operation.

:func:`read_artifact_op` asks the queue where the content is
(``queue.artifact`` or ``queue.latestArtifact``), then fetches it the way
its storage type needs: ``s3`` and ``reference`` by a GET that follows
redirects, ``object`` through the object service's ``getUrl`` download
method with hash checking, and ``error`` by raising
:class:`~tcmodel.errors.ArtifactError`. The decoded bytes are *emitted*
(:class:`~tcmodel.transport.Emit`) chunk by chunk, so memory stays flat
whatever the size; a connection lost mid-body is resumed with ``Range``.

The same operation runs under the sync driver (:meth:`Transport.run
<tcmodel.transport.Transport.run>`, :meth:`~tcmodel.transport.Transport.stream`)
and the async one (:meth:`~tcmodel.transport.Transport.arun`).

Example:
    >>> from tcmodel.transport import Transport, consume
    >>> t = Transport("https://tc.example.com")
    >>> op = read_artifact_op(t, "Dx4tPEtaRpeIeWpbTD0uHw", 0, "public/build/x.tar.gz")
    >>> # with open("x.tar.gz", "wb") as f: t.run(consume(op, f.write))
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import attrs
import httpx

from tcmodel.credentials import Credentials
from tcmodel.errors import APIError, ArtifactError, ConnectionFailed, HashMismatch, TaskclusterError
from tcmodel.models import ArtifactContent
from tcmodel.transport import CHUNK_SIZE, Call, Close, Emit, Op, ReadChunk, Sleep, Transport
from tcmodel.utils import parse_date

__all__ = [
    "MAX_REDIRECTS",
    "DownloadError",
    "DownloadResult",
    "Progress",
    "artifact_call",
    "read_artifact_op",
    "verify_hashes",
]

#: How many redirects a download follows before giving up.
MAX_REDIRECTS = 10
#: ``progress(done, total)``: raw bytes received so far, and the full raw
#: length when the server said it (``None`` otherwise).
Progress = Callable[[int, "int | None"], None]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")
_ALGORITHMS = ("sha256", "sha512")


class DownloadError(TaskclusterError):
    """The artifact's data could not be read as sent: too many redirects,
    an unknown storage type or content encoding, or a corrupt compressed
    body. Not retried.

    Example:
        >>> str(DownloadError("public/x: too many redirects"))
        'public/x: too many redirects'
    """


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


def verify_hashes(what: str, computed: dict[str, str], expected: dict[str, Any]) -> None:
    """Check downloaded data against the hashes the object service gave.

    Every computed algorithm that ``expected`` also names must match, and at
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

    Resumes go to where the last redirect led; after a 401/403 there the
    chain is walked again from the start (a presigned URL may have lapsed).
    """

    follow = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.final: str | None = None
        self.auth: httpx.Auth | str | None = None  # never the reader's credentials

    def locate(self, refresh: bool) -> Op[tuple[str, bool]]:
        if refresh or self.final is None:
            return self.url, True
        return self.final, False
        yield Sleep(0)  # type: ignore[unreachable]  # makes this a generator

    def arrived(self, url: str) -> None:
        self.final = url


class _ObjectSource:
    """An object's ``getUrl``: startDownload with the queue's temporary
    credentials, again whenever the URL has expired (or is refused)."""

    follow = False

    def __init__(self, transport: Transport, content: ArtifactContent, what: str) -> None:
        raw = content.credentials or {}
        try:
            credentials = Credentials(
                raw.get("clientId", ""), raw.get("accessToken", ""), raw.get("certificate")
            )
        except (TypeError, ValueError) as exc:
            raise DownloadError(f"{what}: unusable download credentials ({exc})") from None
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

    def locate(self, refresh: bool) -> Op[tuple[str, bool]]:
        now = datetime.fromtimestamp(self.transport.now(), tz=timezone.utc)
        if refresh or self.url is None or (self.expires is not None and now >= self.expires):
            answer = yield from self.transport.call(self.call, auth=self.object_auth)
            method = answer.get("method") if isinstance(answer, dict) else None
            if method != "getUrl":  # (the answer itself may hold a signed URL: not shown)
                raise DownloadError(f"{self.call}: expected the getUrl method, got {method!r}")
            url, expires = answer.get("url"), answer.get("expires")
            if not isinstance(url, str):
                raise DownloadError(f"{self.call}: the answer has no url")
            self.url = url
            self.expires = parse_date(expires) if isinstance(expires, str) else None
            hashes = answer.get("hashes")
            self.hashes = dict(hashes) if isinstance(hashes, dict) else {}
            return url, True
        return self.url, False

    def arrived(self, url: str) -> None:
        """The object's URL is used as is (no redirects expected)."""


_Source = _UrlSource | _ObjectSource


# -- the body ------------------------------------------------------------------------


def _header_int(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _public_url(url: str) -> str:
    """A URL without its query (which may sign it), for messages."""
    return url.split("?", 1)[0]


class _Body:
    """The state of one download across attempts: how many raw bytes came,
    what was emitted, the decoder and the hashes of the decoded data."""

    def __init__(self, what: str, progress: Progress | None, hashing: bool) -> None:
        self.what = what
        self.progress = progress
        self.raw = 0  # raw bytes received of the current representation
        self.total: int | None = None  # its full raw length, when known
        self.emitted = 0  # decoded bytes handed on (and hashed)
        self.skip = 0  # decoded bytes to drop after a restart from zero
        self.reported = -1
        self.decoder: _Decoder | None = None
        self.content_type: str | None = None
        self.hashers = {a: hashlib.new(a) for a in _ALGORITHMS} if hashing else {}
        self.resumable = True

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "gzip, deflate"}
        if self.raw and self.resumable:
            headers["Range"] = f"bytes={self.raw}-"
        return headers

    def _report(self) -> None:
        if self.progress is not None and self.raw > self.reported:
            self.reported = self.raw
            self.progress(self.raw, self.total)

    def _begin(self, response: httpx.Response) -> bool:
        """Take in a 200/206 answer; ``False`` if it cannot continue the data."""
        if response.status_code == 206:
            m = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if m is None or int(m.group(1)) != self.raw or self.decoder is None:
                self.resumable = False  # ask for the whole body next time
                return False
            self.total = int(m.group(3)) if m.group(3) != "*" else self.total
            return True
        # A full body: start over, dropping what was already handed on.
        self.raw, self.skip = 0, self.emitted
        self.total = _header_int(response, "content-length")
        self.decoder = _Decoder(response.headers.get("content-encoding"), self.what)
        if self.content_type is None:
            self.content_type = response.headers.get("content-type")
        if self.reported < 0:
            self._report()
        return True

    def _emit(self, piece: bytes) -> Op[None]:
        if self.skip:
            dropped = min(self.skip, len(piece))
            self.skip -= dropped
            piece = piece[dropped:]
        if piece:
            for h in self.hashers.values():
                h.update(piece)
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
        yield from self._emit(self.decoder.finish())
        return True

    def _unsatisfiable(self, response: httpx.Response) -> Op[bool]:
        """A 416 to ``Range: bytes=<raw>-``: the end if the server's length
        is what came; otherwise ask for the whole body next time."""
        yield Close(response)  # (already read and closed by the driver)
        m = _UNSATISFIED_RANGE.match(response.headers.get("content-range", ""))
        if m is not None and int(m.group(1)) == self.raw and self.decoder is not None:
            self.total = self.raw
            yield from self._emit(self.decoder.finish())
            return True
        self.resumable = False
        return False

    def _drain(self, response: httpx.Response) -> Op[bool]:
        assert self.decoder is not None
        while True:
            try:
                chunk: bytes = yield ReadChunk(response)
            except httpx.TransportError:
                return False
            if not chunk:
                return True
            self.raw += len(chunk)
            self._report()
            for piece in self.decoder.feed(chunk):
                yield from self._emit(piece)

    def digests(self) -> dict[str, str]:
        return {a: h.hexdigest() for a, h in self.hashers.items()}


def _close_quietly(response: httpx.Response) -> None:
    """Close a sync streamed response without the driver (async ones are
    left to their client)."""
    if isinstance(response.stream, httpx.SyncByteStream):
        with contextlib.suppress(Exception):  # best effort on the way out
            response.close()


def _open(
    transport: Transport, what: str, source: _Source, url: str, headers: dict[str, str]
) -> Op[httpx.Response]:
    """GET ``url`` (following redirects for URL sources): the 2xx response,
    still streaming, or the 416 to a ``Range``; other error answers raise
    their typed error."""
    for _ in range(MAX_REDIRECTS + 1):
        request = httpx.Request("GET", url, headers=headers)
        response = yield from transport.exchange(request, what, stream=True, auth=source.auth)
        status = response.status_code
        location = response.headers.get("location")
        if status in _REDIRECTS and location and source.follow:
            yield Close(response)
            url = str(httpx.URL(url).join(location))
            continue
        if status == 416 and "Range" in headers:
            source.arrived(url)
            return response  # for the body to judge (it may be the end)
        if status >= 400:
            transport.check(response, what)  # the driver has read and closed it
        if status >= 300:
            yield Close(response)
            raise DownloadError(f"{what}: unexpected {status} answer from {_public_url(url)}")
        source.arrived(url)
        return response
    raise DownloadError(f"{what}: more than {MAX_REDIRECTS} redirects")


def _fetch(transport: Transport, what: str, source: _Source, body: _Body) -> Op[None]:
    """Fetch the data of ``source`` into ``body``, resuming after losses."""
    attempt = 0
    refresh = False
    while True:
        url, fresh = yield from source.locate(refresh)
        refresh = False
        try:
            response = yield from _open(transport, what, source, url, body.headers())
        except APIError as exc:
            if exc.status in (401, 403) and not fresh:
                refresh = True  # a reused URL may have lapsed: get a new one
                continue
            raise
        if (yield from body.read(response)):
            return
        attempt += 1
        if attempt > transport.retry.max_retries:
            raise ConnectionFailed(what, "GET", _public_url(url), "the body was cut short")
        yield Sleep(transport.retry.delay(attempt))


def read_artifact_op(
    transport: Transport,
    task_id: str,
    run_id: int | None,
    name: str,
    *,
    progress: Progress | None = None,
) -> Op[DownloadResult]:
    """Download artifact ``name`` of ``task_id`` run ``run_id`` (``None``:
    the latest run) as an operation that emits the decoded bytes.

    * ``s3`` and ``reference``: GET the URL, following at most
      :data:`MAX_REDIRECTS` redirects, never signed (not even on the root
      URL's origin: a reference cannot borrow the reader's credentials).
    * ``object``: ``object.startDownload`` with the temporary credentials the
      queue handed out, GET the ``getUrl`` and check the hashes
      (:func:`verify_hashes`; a mismatch raises
      :class:`~tcmodel.errors.HashMismatch` and is never retried).
    * ``error``: raise :class:`~tcmodel.errors.ArtifactError` with the
      worker's ``reason`` and ``message``.

    ``Content-Encoding: gzip`` is undone; a connection lost mid-body is
    resumed with ``Range`` (at most the transport's ``max_retries`` times).
    ``progress(done, total)`` is told the raw bytes received so far.

    Example:
        >>> from tcmodel.transport import Transport
        >>> op = read_artifact_op(Transport("https://tc.example.com"),
        ...                       "Dx4tPEtaRpeIeWpbTD0uHw", None, "public/logs/live.log")
        >>> # text = b"".join(transport.stream(op))
    """
    call = artifact_call(task_id, run_id, name)
    answer = yield from transport.call(call)
    content = ArtifactContent._from_json(answer)
    what = str(call)
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
    source: _Source
    if kind == "object":
        source = _ObjectSource(transport, content, what)
    elif content.url is not None:
        source = _UrlSource(content.url)
    else:
        raise DownloadError(f"{what}: cannot read storageType {kind!r}")
    body = _Body(what, progress, hashing=kind == "object")
    yield from _fetch(transport, what, source, body)
    if isinstance(source, _ObjectSource):
        verify_hashes(name, body.digests(), source.hashes)
    return DownloadResult(kind, body.content_type, body.emitted)
