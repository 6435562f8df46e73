"""The emulated object service: immutable blobs named by printable ASCII.

An object's bytes live in the cluster's blob store under
``objects/<name>``; this service keeps the metadata (project, upload id,
expiry, hashes) and hands out blob-origin URLs for uploads and downloads.
The queue uses the Python methods (:meth:`ObjectService.get_object`,
:meth:`~ObjectService.simple_url`, :meth:`~ObjectService.delete_object`)
for its ``object`` artifacts; tests and demos use
:meth:`~ObjectService.put_object` to store an object in one call.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState(root_url="http://127.0.0.1:1")
    >>> st.objects.put_object("t/x/0/public/a.txt", b"hello", project_id="proj",
    ...                       expires=st.clock.now() + 3600, content_type="text/plain")
    >>> st.objects.get_object("t/x/0/public/a.txt")["hashes"]["sha256"][:12]
    '2cf24dba5fb0'
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.testing._common import Blob, ExpiryQueue, checked_body, checked_date, input_invalid
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
    from tcmodel.testing.state import ClusterState

__all__ = ["ObjectService", "content_hashes"]

# The real AWS backend's putUrl lifetime (the URL itself gets 10 s more).
_PUT_URL_SECONDS = 45 * 60
# Unfinished uploads expire after one day.
_UPLOAD_SECONDS = 86400
# The schema's limit on dataInline.objectData (base64 of at most ~8 KiB).
_INLINE_MAX_CHARS = 10926


def content_hashes(data: bytes) -> dict[str, str]:
    """The ``{sha256, sha512}`` lower-case hex digests of ``data``, the form
    the object service stores and downloaders verify.

    Example:
        >>> content_hashes(b"")["sha256"][:16]
        'e3b0c44298fc1c14'
    """
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }


def _key(name: str) -> str:
    return f"objects/{name}"


# The objects of queue artifacts named ``public/...``, readable unsigned.
_PUBLIC_ARTIFACT = re.compile(r"^t/[^/]+/[0-9]+/public/")


def _not_found(name: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", f'No object "{name}" (or its upload is unfinished)')


def _conflict(message: str) -> ApiError:
    return ApiError(409, "RequestConflict", message)


_PROJECT_ID = re.compile(r"^[a-zA-Z0-9._/-]{1,500}$")
_HASH_PATTERNS = {"sha256": re.compile(r"^[a-z0-9]{64}$"), "sha512": re.compile(r"^[a-z0-9]{128}$")}
_UPLOAD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "projectId": str,
    "uploadId": str,
    "expires": str,
    "proposedUploadMethods": dict,
    "hashes": dict,
}
_FINISH_FIELDS = {k: _UPLOAD_FIELDS[k] for k in ("projectId", "uploadId", "hashes")}
_INLINE_FIELDS: dict[str, type | tuple[type, ...]] = {"contentType": str, "objectData": str}
_PUT_FIELDS: dict[str, type | tuple[type, ...]] = {"contentType": str, "contentLength": int}


def _checked_upload(body: Any, fields: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """A createUpload/finishUpload body, checked as its schema would."""
    required = [k for k in fields if k != "hashes"]
    checked = checked_body(body, fields, required)
    if not _PROJECT_ID.match(checked["projectId"]):
        raise input_invalid(f"`projectId` {checked['projectId']!r} is not a valid project id")
    if not is_slug_id(checked["uploadId"]):
        raise input_invalid(f"`uploadId` must be a slugId, not {checked['uploadId']!r}")
    for algo, value in checked.get("hashes", {}).items():
        pattern = _HASH_PATTERNS.get(algo)
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise input_invalid(f"hash `{algo}` must be a lower-case hex digest")
    return checked


def _decode_inline(text: str) -> bytes:
    """Decode base64 (standard or URL-safe alphabet, padding optional)."""
    if len(text) > _INLINE_MAX_CHARS:
        raise input_invalid(f"`objectData` is longer than {_INLINE_MAX_CHARS} characters")
    normal = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "InputError", "Invalid base64 objectData") from None


@attrs.define
class _Object:
    project_id: str
    upload_id: str
    expires: float
    upload_expires: float
    hashes: dict[str, str] = attrs.field(factory=dict)
    finished: bool = False

    def due(self, now: float) -> bool:
        return self.expires <= now or (not self.finished and self.upload_expires <= now)


class ObjectService(Service):
    """The emulated object service (``/api/object/v1``).

    Uploads negotiate ``dataInline`` (preferred) or ``putUrl``; downloads
    ``getUrl`` (preferred) or ``simple``. Unlike the real service, which
    trusts its callers, ``finishUpload`` also checks that the data reached
    the blob store and matches the hashes given (409 ``RequestConflict``
    otherwise), so client bugs surface in tests.

    Example:
        >>> from tcmodel.testing.state import ClusterState
        >>> st = ClusterState(root_url="http://127.0.0.1:1")
        >>> st.objects.get_object("nothing") is None
        True
    """

    name = "object"

    def __init__(self, cluster: ClusterState) -> None:
        super().__init__(cluster)
        self._objects: dict[str, _Object] = {}
        self._expiry: ExpiryQueue[str] = ExpiryQueue()

    # -- Python API (queue, tests, demo) ------------------------------------

    def get_object(self, name: str) -> dict[str, Any] | None:
        """The object's record, or ``None``: ``projectId``, ``uploadId``,
        ``expires`` (Unix seconds), ``hashes`` and ``finished``.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.objects.put_object("o", b"x", project_id="p", expires=4e9)
            >>> sorted(st.objects.get_object("o"))
            ['expires', 'finished', 'hashes', 'projectId', 'uploadId']
        """
        obj = self._objects.get(name)
        if obj is None:
            return None
        return {
            "projectId": obj.project_id,
            "uploadId": obj.upload_id,
            "expires": obj.expires,
            "hashes": dict(obj.hashes),
            "finished": obj.finished,
        }

    def simple_url(self, name: str) -> str:
        """The blob-origin URL of the object's data (the ``simple`` download
        method; where getArtifact of an object artifact redirects).

        It is unsigned for the object of a public queue artifact
        (``t/<taskId>/<runId>/public/...``); any other object's URL is
        presigned for ``s3_presign_seconds`` (30 min), as the real backend
        signs its simple URLs for a private bucket.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.blobs.base_url = "http://127.0.0.1:2"
            >>> st.objects.put_object("t/x/0/public/a b", b"x", project_id="p", expires=4e9)
            >>> st.objects.simple_url("t/x/0/public/a b")
            'http://127.0.0.1:2/blobs/objects%2Ft%2Fx%2F0%2Fpublic%2Fa%20b'
            >>> "X-Signature=" in st.objects.simple_url("t/x/0/private/a")
            True
        """
        return self.cluster.blobs.read_url(_key(name), self.cluster.settings.s3_presign_seconds)

    def owns_url(self, url: str) -> bool:
        """Whether ``url`` points at an object's data on the blob origin.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.blobs.base_url = "http://127.0.0.1:2"
            >>> st.objects.owns_url(st.objects.simple_url("t/x/0/private/a"))
            True
        """
        return url.startswith(self.cluster.blobs.url(_key("")))

    def reserve_upload(
        self,
        name: str,
        project_id: str,
        upload_id: str,
        expires: float,
        *,
        now: float | None = None,
    ) -> None:
        """Start (or idempotently repeat) an upload of ``name`` without data,
        as createUpload with ``proposedUploadMethods: {}`` does: the first
        call fixes projectId, uploadId and expires (Unix seconds, cut to
        milliseconds); later calls with other values, or on a finished
        object, raise the 409 ``RequestConflict``
        :class:`~tcmodel.testing._core.ApiError`. The queue calls this from
        createArtifact for an ``object`` artifact.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.objects.reserve_upload("o", "p", "Dx4tPEtaRpeIeWpbTD0uHw", 4e9)
            >>> st.objects.get_object("o")["finished"]
            False
            >>> st.objects.reserve_upload("o", "p", "Dx4tPEtaRpeIeWpbTD0uHw", 4e9 + 1)
            Traceback (most recent call last):
            ...
            tcmodel.testing._core.ApiError: 409 RequestConflict: Object "o" exists already, ...
        """
        expires = parse_iso(iso(expires))  # what a date string round-trips to
        obj = self._objects.get(name)
        if obj is None:
            when = self.cluster.clock.now() if now is None else now
            self._store(name, _Object(project_id, upload_id, expires, when + _UPLOAD_SECONDS))
        elif obj.finished or (obj.project_id, obj.upload_id, obj.expires) != (
            project_id,
            upload_id,
            expires,
        ):
            raise _conflict(f'Object "{name}" exists already, with another upload')

    def delete_object(self, name: str) -> None:
        """Forget the object and its data (no error if there is none).

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.objects.put_object("o", b"x", project_id="p", expires=4e9)
            >>> st.objects.delete_object("o")
            >>> st.objects.get_object("o") is None, st.blobs.get("objects/o") is None
            (True, True)
        """
        self._objects.pop(name, None)
        self.cluster.blobs.delete(_key(name))

    def put_object(
        self,
        name: str,
        data: bytes,
        *,
        project_id: str,
        expires: float,
        content_type: str = "application/binary",
        content_encoding: str | None = None,
    ) -> None:
        """Store a finished object in one step, replacing any of that name.

        ``data`` is the object's content and its hashes are computed over
        it. With ``content_encoding="gzip"`` it is stored gzipped and served
        with ``Content-Encoding: gzip``, as generic-worker's logs are.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.objects.put_object("log", b"line\\n", project_id="p", expires=4e9,
            ...                       content_type="text/plain", content_encoding="gzip")
            >>> st.blobs.get("objects/log").content_encoding
            'gzip'
        """
        if content_encoding not in (None, "gzip"):
            raise ValueError(f"unsupported content_encoding {content_encoding!r} (None or 'gzip')")
        stored = gzip.compress(data) if content_encoding == "gzip" else data
        self.cluster.blobs.put(_key(name), Blob(stored, content_type, content_encoding))
        upload_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        obj = _Object(project_id, upload_id, expires, expires, content_hashes(data), True)
        self._store(name, obj)

    # -- state --------------------------------------------------------------

    def _store(self, name: str, obj: _Object) -> None:
        self._objects[name] = obj
        self.cluster.blobs.set_public(_key(name), bool(_PUBLIC_ARTIFACT.match(name)))
        self._expiry.push(obj.expires, name)
        if not obj.finished:
            self._expiry.push(obj.upload_expires, name)

    def _finished(self, name: str) -> _Object:
        obj = self._objects.get(name)
        if obj is None or not obj.finished:
            raise _not_found(name)
        return obj

    def tick(self, now: float) -> None:
        """Drop objects past ``expires``, and unfinished uploads a day old,
        with their data.

        Example:
            >>> from tcmodel.testing.state import ClusterState
            >>> st = ClusterState()
            >>> st.objects.put_object("o", b"x", project_id="p", expires=10.0)
            >>> st.objects.tick(11.0)
            >>> st.objects.get_object("o") is None
            True
        """
        for name in self._expiry.pop_due(now):
            obj = self._objects.get(name)
            if obj is not None and obj.due(now):
                self.delete_object(name)

    def _stored_content(self, name: str) -> bytes:
        """The object's data as a downloader sees it (gzip undone)."""
        blob = self.cluster.blobs.get(_key(name))
        if blob is None:
            raise _conflict(f'No data has been uploaded for object "{name}"')
        if blob.content_encoding == "gzip":
            try:
                return gzip.decompress(blob.data)
            except (OSError, EOFError):
                raise _conflict(f'The data of object "{name}" is not valid gzip') from None
        return blob.data

    def _merged_hashes(self, obj: _Object, hashes: Mapping[str, str]) -> dict[str, str]:
        merged = dict(obj.hashes)
        for algo, value in hashes.items():
            if merged.setdefault(algo, value) != value:
                raise _conflict(f"The {algo} hash was given before, with another value")
        return merged

    # -- API ----------------------------------------------------------------

    @handles("createUpload")
    def create_upload(self, req: Request) -> dict[str, Any]:
        """``PUT /upload/<name>`` with ``{projectId, uploadId, expires,
        proposedUploadMethods, hashes?}`` → the chosen upload method.

        The first call fixes projectId, uploadId and expires; repeating it
        with the same values is fine until the upload is finished, anything
        else → 409. ``dataInline`` is taken when offered (the data is stored
        at once), else ``putUrl`` (PUT the bytes there with the headers
        given), else none (``uploadMethod: {}``).

        Example: ``PUT /api/object/v1/upload/t%2F<taskId>%2F0%2Fpublic%2Fx``
        """
        name = req.params["name"]
        body = _checked_upload(req.body, _UPLOAD_FIELDS)
        project_id, upload_id = body["projectId"], body["uploadId"]
        methods = checked_body(body["proposedUploadMethods"], {"dataInline": dict, "putUrl": dict})
        hashes: dict[str, str] = body.get("hashes", {})
        req.authorize(projectId=project_id)
        expires_text = body["expires"]
        expires = checked_date(expires_text)

        self.reserve_upload(name, project_id, upload_id, expires, now=req.now)
        obj = self._objects[name]
        obj.hashes = self._merged_hashes(obj, hashes)
        return {
            "projectId": project_id,
            "uploadId": upload_id,
            "expires": expires_text,
            "uploadMethod": self._upload_method(name, methods, req.now),
        }

    def _upload_method(self, name: str, methods: Mapping[str, Any], now: float) -> dict[str, Any]:
        if "dataInline" in methods:
            inline = checked_body(methods["dataInline"], _INLINE_FIELDS, _INLINE_FIELDS)
            data = _decode_inline(inline["objectData"])
            self.cluster.blobs.put(_key(name), Blob(data, inline["contentType"]))
            return {"dataInline": True}
        if "putUrl" in methods:
            put = checked_body(methods["putUrl"], _PUT_FIELDS, _PUT_FIELDS)
            content_type, length = put["contentType"], put["contentLength"]
            url = self.cluster.blobs.put_url(_key(name), content_type, _PUT_URL_SECONDS + 10)
            return {
                "putUrl": {
                    "url": url,
                    "expires": iso(now + _PUT_URL_SECONDS),
                    "headers": {
                        "Content-Type": content_type,
                        "Content-Length": str(length),
                        "Content-Encoding": "identity",
                    },
                }
            }
        return {}

    @handles("finishUpload")
    def finish_upload(self, req: Request) -> dict[str, Any]:
        """``POST /finish-upload/<name>`` with ``{projectId, uploadId,
        hashes?}``: mark the upload complete (idempotent).

        Another projectId → 400; another uploadId on an unfinished upload
        → 409; on a finished object, a new or different hash → 409. The
        data must be on the blob store and match every sha256/sha512 known
        for the object (409 otherwise; the real service does not look).

        Example: ``POST /api/object/v1/finish-upload/t%2F<taskId>%2F0%2Fpublic%2Fx``
        """
        name = req.params["name"]
        body = _checked_upload(req.body, _FINISH_FIELDS)
        project_id, upload_id = body["projectId"], body["uploadId"]
        hashes: dict[str, str] = body.get("hashes", {})
        req.authorize(projectId=project_id)
        obj = self._objects.get(name)
        if obj is None:
            raise _not_found(name)
        if obj.project_id != project_id:
            raise ApiError(
                400, "InputError", f'Object "{name}" belongs to another project than {project_id}'
            )
        if obj.finished:
            for algo, value in hashes.items():
                if algo not in obj.hashes:
                    raise _conflict(
                        f'Object "{name}" is already finished, but without hash algorithm {algo}'
                    )
                if obj.hashes[algo] != value:
                    raise _conflict(
                        f'Object "{name}" is already finished, but with a different hash '
                        f"for algorithm {algo}"
                    )
            return {}
        if obj.upload_id != upload_id:
            raise _conflict(f'Object "{name}" is not being uploaded with uploadId {upload_id}')
        merged = self._merged_hashes(obj, hashes)
        actual = content_hashes(self._stored_content(name))
        for algo, value in actual.items():
            if algo in merged and merged[algo] != value:
                raise _conflict(
                    f'The {algo} hash given for object "{name}" does not match its data'
                )
        obj.hashes = merged
        obj.finished = True
        return {}

    @handles("startDownload")
    def start_download(self, req: Request) -> dict[str, Any]:
        """``PUT /start-download/<name>`` with ``{acceptDownloadMethods}``:
        ``getUrl`` (a URL signed for twice ``object_geturl_seconds``, an
        ``expires`` of now + ``object_geturl_seconds``, and the hashes) when
        accepted, else ``simple``; neither → 406 ``NoMatchingMethod``; an
        unknown or unfinished object → 404.

        Example: ``PUT /api/object/v1/start-download/<name>`` with
        ``{"acceptDownloadMethods": {"getUrl": true}}``
        """
        name = req.params["name"]
        obj = self._finished(name)
        body = checked_body(req.body, {"acceptDownloadMethods": dict}, ["acceptDownloadMethods"])
        accepted = checked_body(body["acceptDownloadMethods"], {"getUrl": bool, "simple": bool})
        if not all(accepted.values()):
            raise input_invalid("accepted download methods must be `true`")
        if "getUrl" in accepted:
            seconds = self.cluster.settings.object_geturl_seconds
            return {
                "method": "getUrl",
                "url": self.cluster.blobs.url(_key(name), expires_in=2 * seconds),
                "expires": iso(req.now + seconds),
                "hashes": dict(obj.hashes),
            }
        if "simple" in accepted:
            return {"method": "simple", "url": self.simple_url(name)}
        raise ApiError(406, "NoMatchingMethod", "Object supports methods getUrl, simple")

    @handles("object")
    def metadata(self, req: Request) -> dict[str, Any]:
        """``GET /metadata/<name>`` → ``{projectId, expires, hashes}`` of a
        finished object; 404 otherwise.

        Example: ``GET /api/object/v1/metadata/<name>``
        """
        obj = self._finished(req.params["name"])
        return {
            "projectId": obj.project_id,
            "expires": iso(obj.expires),
            "hashes": dict(obj.hashes),
        }

    @handles("download")
    def download(self, req: Request) -> Response:
        """``GET /download/<name>`` → 303 to the object's data (the
        ``simple`` URL); 404 for an unknown or unfinished object.

        Example: ``GET /api/object/v1/download/<name>?bewit=...``
        """
        name = req.params["name"]
        self._finished(name)
        return see_other(self.simple_url(name))
