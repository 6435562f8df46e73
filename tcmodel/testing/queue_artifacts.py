"""Queue handlers for artifacts.

createArtifact and finishArtifact (worker side), getArtifact and
getLatestArtifact (303 redirects), the artifact-content calls ``artifact``
and ``latestArtifact``, artifactInfo and the artifact listings, as a mixin
of :class:`~tcmodel.testing.queue.QueueService`. Links are followed on the
server with a scope check for every name on the way.

Example:
    >>> "createArtifact" in ArtifactHandlers.handler_names()
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tcmodel.testing._core import ApiError, Request, Response, handles, insufficient_scopes, iso
from tcmodel.testing.queue_core import QueueBase, object_name, s3_key
from tcmodel.testing.queue_model import (
    Artifact,
    TaskRecord,
    ms,
    name_order,
    not_found,
    paginate,
    with_token,
)
from tcmodel.testing.queue_validate import CREATE_ARTIFACT, FINISH_ARTIFACT, validate_body
from tcmodel.utils import parse_date, slug_id

__all__ = ["ArtifactHandlers"]

_PUT_URL_SECONDS = 45 * 60
_EXCEPTION_GRACE = 25 * 60
_DRIFT = 15 * 60
_UPLOAD_CREDENTIALS_SECONDS = 24 * 3600
_DOWNLOAD_CREDENTIALS_SECONDS = 3600
_STORAGE_HEADER = "x-taskcluster-artifact-storage-type"


def _input_error(message: str) -> ApiError:
    return ApiError(400, "InputError", message)


def _compatible(
    original: Artifact, kind: str, content_type: str, expires: float, details: Any
) -> bool:
    """Whether a repeated createArtifact may update ``original``: same
    content type (links excepted), no earlier expiry, same details
    (references excepted), and no change of type but reference → link."""
    if kind != "link" and original.content_type != content_type:
        return False
    if original.expires > expires:
        return False
    if original.storage_type == kind:
        return kind == "reference" or original.details == details
    return original.storage_type == "reference" and kind == "link"


class ArtifactHandlers(QueueBase):
    """Creating, finishing, reading and listing artifacts.

    Example:
        >>> "getLatestArtifact" in ArtifactHandlers.handler_names()
        True
    """

    # -- creating ----------------------------------------------------------------

    def _details(self, body: dict[str, Any], name: str) -> tuple[dict[str, Any], bool]:
        kind = body["storageType"]
        if kind == "object":
            return {"uploadId": slug_id()}, False
        if kind == "s3":
            return {"public": name.startswith("public/")}, True
        if kind == "reference":
            return {"url": body["url"]}, True
        if kind == "link":
            return {"artifact": body["artifact"]}, True
        return {"reason": body["reason"], "message": body["message"]}, True

    @handles("createArtifact")
    def _api_create_artifact(self, req: Request) -> Any:
        """``POST /task/<taskId>/runs/<runId>/artifacts/<name>``: create (or
        idempotently repeat) an artifact of a running run."""
        validate_body(CREATE_ARTIFACT, req.body, "post-artifact-request.json")
        body = req.body
        task_id, run_id, name = req.params["taskId"], int(req.params["runId"]), req.params["name"]
        kind, now = body["storageType"], self._now(req)
        content_type = body.get("contentType") or "application/binary"
        expires = ms(parse_date(body["expires"]).timestamp())
        if expires < now - _DRIFT:
            raise _input_error("Expires must be in the future")
        task = self.tasks.get(task_id)
        if task is None:
            raise _input_error("Task not found")
        if run_id >= len(task.runs):
            raise _input_error("Run not found")
        run = task.runs[run_id]
        if not run.worker_group or not run.worker_id:
            raise _input_error(
                f"Run {run_id} of task `{task_id}` was never claimed by a worker: it has no "
                "artifacts and can get none"
            )
        if expires > task.expires:
            raise _input_error(
                f"The artifact would expire ({iso(expires)}) after its task, which expires "
                f"{iso(task.expires)}: an artifact may not outlive its task"
            )
        if run.state != "running" and not (
            run.state == "exception" and (run.resolved or 0) > now - _EXCEPTION_GRACE
        ):
            raise self._conflict(
                f"Run {run_id} of task `{task.task_id}` is resolved ({run.state}): no new "
                "artifacts, except within 25 minutes of an 'exception' resolution.\n\n"
                f"Task status: {json.dumps(task.status_json(), indent=2)}"
            )
        details, present = self._details(body, name)
        artifact = task.artifact(run_id, name)
        if artifact is None:
            if kind == "object":  # the real queue calls object.createUpload first
                self.cluster.objects.reserve_upload(
                    object_name(task_id, run_id, name),
                    task.definition["projectId"],
                    details["uploadId"],
                    expires,
                )
            artifact = Artifact(
                name, kind, content_type, expires, present, body.get("contentLength"), details
            )
            task.put_artifact(run_id, artifact)
            self._timer(expires + self.artifact_expiry_delay, "artifact", task_id, run_id, name)
        elif _compatible(artifact, kind, content_type, expires, details):
            artifact.storage_type, artifact.expires, artifact.details = kind, expires, details
        else:
            raise self._conflict(
                "Artifact already exists with different properties, and none of the allowed "
                f"exceptions apply: storageType {artifact.storage_type}, contentType "
                f"{artifact.content_type}, expires {iso(artifact.expires)}"
            )
        if kind in ("reference", "link", "error"):  # objects: when finished; s3: never
            self._announce("artifact-created", task, run, artifact=_announced(artifact))
        if kind == "s3":
            key = s3_key(task_id, run_id, name)
            # public names go to the public bucket, the rest need presigned reads
            self.cluster.blobs.set_public(key, name.startswith("public/"))
            return {
                "storageType": "s3",
                "contentType": artifact.content_type,
                "expires": iso(ms(now + _PUT_URL_SECONDS)),
                "putUrl": self.cluster.blobs.put_url(key, artifact.content_type, _PUT_URL_SECONDS),
            }
        if kind == "object":
            obj = object_name(task_id, run_id, name)
            project = task.definition["projectId"]
            credentials = self.temporary_credentials(
                f"artifact-upload/{task_id}/{run_id}/on/{run.worker_group}/{run.worker_id}",
                [f"object:upload:{project}:{obj}"],
                now,
                min(expires, now + _UPLOAD_CREDENTIALS_SECONDS),
            )
            return {
                "storageType": "object",
                "name": obj,
                "projectId": project,
                "uploadId": details["uploadId"],
                "expires": iso(expires),
                "credentials": credentials,
            }
        return {"storageType": kind}

    @handles("finishArtifact")
    def _api_finish_artifact(self, req: Request) -> Any:
        """``PUT /task/<taskId>/runs/<runId>/artifacts/<name>``: mark an object
        artifact present once its upload is finished (204)."""
        validate_body(FINISH_ARTIFACT, req.body, "finish-artifact-request.json")
        task_id, run_id, name = req.params["taskId"], int(req.params["runId"]), req.params["name"]
        upload_id = req.body["uploadId"]
        task = self.tasks.get(task_id)
        artifact = task.artifact(run_id, name) if task is not None else None
        if artifact is None:
            raise not_found(f"Run {run_id} of task `{task_id}` has no artifact `{name}` to finish")
        if artifact.storage_type != "object":
            raise _input_error("Only object artifacts can be finished")
        if not artifact.present:
            if upload_id != artifact.details.get("uploadId"):
                raise _input_error(
                    f"uploadId {upload_id} is not the one artifact `{name}` was created with"
                )
            obj = self.cluster.objects.get_object(object_name(task_id, run_id, name))
            if not obj or not obj.get("finished") or obj.get("uploadId") not in (None, upload_id):
                raise _input_error(f"The object holding the data of `{name}` was never uploaded")
            artifact.present, artifact.details = True, {}
            assert task is not None
            self._announce(
                "artifact-created", task, task.runs[run_id], artifact=_announced(artifact)
            )
        return Response(204)

    # -- reading -------------------------------------------------------------------

    def _latest(self, task_id: str) -> tuple[TaskRecord, int]:
        task = self.tasks.get(task_id)
        if task is None:
            raise not_found("Task not found")
        if not task.runs:
            raise not_found("Task doesn't have any runs")
        return task, len(task.runs) - 1

    @staticmethod
    def _authorize_names(req: Request, names: Sequence[str]) -> None:
        """Require ``queue:get-artifact:<name>`` for every name on the way."""
        if req.endpoint.service == "queue":
            req.authorize(names=list(names))
        elif not req.has_scopes(f"queue:get-artifact:{n}" for n in names):
            required = {"AllOf": [f"queue:get-artifact:{n}" for n in names]}
            raise insufficient_scopes(req.client_id, req.scopes, required)

    def _follow(self, req: Request, task_id: str, run_id: int, name: str) -> Artifact:
        """The artifact ``name``, links followed; 404/410/400 as the queue does."""
        task, names = self.tasks.get(task_id), [name]
        while True:
            self._authorize_names(req, names)
            artifact = task.artifact(run_id, name) if task is not None else None
            if artifact is None or not artifact.present:
                raise not_found("Artifact not found")
            if artifact.expires < self._now(req):
                raise ApiError(410, "ResourceExpired", "Artifact expired")
            if artifact.storage_type != "link":
                return artifact
            name = artifact.details["artifact"]
            if name in names:
                raise _input_error("Artifact leads to a link cycle")
            names.append(name)

    def _url(self, task_id: str, run_id: int, artifact: Artifact) -> str:
        """Where the data of an ``s3``, ``reference`` or ``object`` artifact is."""
        if artifact.storage_type == "reference":
            url: str = artifact.details["url"]
            return url
        if artifact.storage_type == "object":
            obj = object_name(task_id, run_id, artifact.name)
            record = self.cluster.objects.get_object(obj)
            if record is None or not record["finished"]:
                raise not_found("Object does not exist.")
            return self.cluster.objects.simple_url(obj)
        key = s3_key(task_id, run_id, artifact.name)
        if artifact.name.startswith("public/"):
            return self.cluster.blobs.url(key)
        # a private name lives in the private bucket: only a presigned URL reads it
        return self.cluster.blobs.url(key, expires_in=self.cluster.settings.s3_presign_seconds)

    def _download(self, task_id: str, run_id: int, artifact: Artifact) -> Response:
        """getArtifact's answer: a 303 to the data, or the 424 of an error."""
        kind = artifact.storage_type
        headers = {_STORAGE_HEADER: kind}
        if kind == "error":
            d = artifact.details
            raise ApiError(
                424,
                "FailedDependency",
                d["message"],
                headers=headers,
                body={"reason": d["reason"], "message": d["message"]},
            )
        url = self._url(task_id, run_id, artifact)
        return Response(303, {"storageType": kind, "url": url}, {"Location": url, **headers})

    def _content(self, task_id: str, run_id: int, artifact: Artifact) -> dict[str, Any]:
        """The artifact-content answer of ``artifact``/``latestArtifact``."""
        kind = artifact.storage_type
        if kind == "error":
            d = artifact.details
            return {"storageType": kind, "reason": d["reason"], "message": d["message"]}
        if kind == "object":
            obj = object_name(task_id, run_id, artifact.name)
            now = self._now()
            credentials = self.temporary_credentials(
                f"artifact-download/{task_id}/{run_id}/{artifact.name}",
                [f"object:download:{obj}"],
                now,
                now + _DOWNLOAD_CREDENTIALS_SECONDS,
            )
            return {"storageType": kind, "name": obj, "credentials": credentials}
        return {"storageType": kind, "url": self._url(task_id, run_id, artifact)}

    def _target(self, req: Request, *, latest: bool) -> tuple[str, int, Artifact]:
        """The taskId, runId and (links followed) artifact a read asks for."""
        if latest:
            task, run_id = self._latest(req.params["taskId"])
            task_id = task.task_id
        else:
            task_id, run_id = req.params["taskId"], int(req.params["runId"])
        return task_id, run_id, self._follow(req, task_id, run_id, req.params["name"])

    @handles("getArtifact")
    def _api_get_artifact(self, req: Request) -> Any:
        """``GET /task/<taskId>/runs/<runId>/artifacts/<name>``: 303 to the data."""
        return self._download(*self._target(req, latest=False))

    @handles("getLatestArtifact")
    def _api_get_latest_artifact(self, req: Request) -> Any:
        """``GET /task/<taskId>/artifacts/<name>``: as getArtifact, on the latest run."""
        req.authorize(names=[req.params["name"]])  # before looking the task up
        return self._download(*self._target(req, latest=True))

    @handles("artifact")
    def _api_artifact_content(self, req: Request) -> Any:
        """``GET /task/<taskId>/runs/<runId>/artifact-content/<name>``."""
        return self._content(*self._target(req, latest=False))

    @handles("latestArtifact")
    def _api_latest_artifact(self, req: Request) -> Any:
        """``GET /task/<taskId>/artifact-content/<name>``, on the latest run."""
        return self._content(*self._target(req, latest=True))

    # -- metadata --------------------------------------------------------------------

    @staticmethod
    def _info(task: TaskRecord | None, run_id: int, name: str) -> Any:
        artifact = task.artifact(run_id, name) if task is not None else None
        if artifact is None or not artifact.present:
            raise not_found("Artifact not found")
        return artifact.to_json()

    @handles("artifactInfo")
    def _api_artifact_info(self, req: Request) -> Any:
        """``GET .../runs/<runId>/artifact-info/<name>``: metadata, links not followed."""
        task = self.tasks.get(req.params["taskId"])
        return self._info(task, int(req.params["runId"]), req.params["name"])

    @handles("latestArtifactInfo")
    def _api_latest_artifact_info(self, req: Request) -> Any:
        """``GET /task/<taskId>/artifact-info/<name>``, on the latest run."""
        task, run_id = self._latest(req.params["taskId"])
        return self._info(task, run_id, req.params["name"])

    def _list(self, req: Request, task: TaskRecord, run_id: int) -> Any:
        rows = [task.artifacts[run_id][n] for n in task.artifact_names.get(run_id, [])]
        page, token = paginate(
            req.query,
            rows,
            self.cluster.settings.max_page_size,
            key=lambda a: [task.task_id, run_id, *name_order(a.name)],
        )
        return with_token({"artifacts": [a.to_json() for a in page]}, token)

    @handles("listArtifacts")
    def _api_list_artifacts(self, req: Request) -> Any:
        """``GET /task/<taskId>/runs/<runId>/artifacts``: every artifact of a run."""
        task, latest = self._latest(req.params["taskId"])
        run_id = int(req.params["runId"])
        if run_id > latest:
            raise not_found(f"Task `{task.task_id}` has no run {run_id}.")
        return self._list(req, task, run_id)

    @handles("listLatestArtifacts")
    def _api_list_latest_artifacts(self, req: Request) -> Any:
        """``GET /task/<taskId>/artifacts``: every artifact of the latest run."""
        task, run_id = self._latest(req.params["taskId"])
        return self._list(req, task, run_id)


def _announced(artifact: Artifact) -> dict[str, Any]:
    """The ``artifact`` of an artifact-created message."""
    return {
        "storageType": artifact.storage_type,
        "name": artifact.name,
        "expires": iso(artifact.expires),
        "contentType": artifact.content_type,
    }
