"""Typed errors, one class per Taskcluster error code.

Every error raised by tcmodel derives from :class:`TaskclusterError`. An
answer from a service with an error status becomes an :class:`APIError`
subclass chosen by the Taskcluster ``code`` (or, without one, by the HTTP
status); its ``str()`` names the API call:

Example:
    >>> err = error_for_response(
    ...     status=404, body={"code": "ResourceNotFound", "message": "no task\\n\\n---\\n* x"},
    ...     method="GET", url="https://tc/api/queue/v1/task/abc/status",
    ...     call="queue.status(taskId='abc')")
    >>> type(err).__name__, isinstance(err, NotFound)
    ('NotFound', True)
    >>> str(err)
    "queue.status(taskId='abc'): 404 ResourceNotFound: no task"
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "APIError",
    "AnswerTooLarge",
    "ArtifactError",
    "AsyncUsageError",
    "AuthenticationFailed",
    "BadRequest",
    "ConfigurationError",
    "ConnectionFailed",
    "HashMismatch",
    "InputError",
    "InputTooLarge",
    "InputValidationError",
    "InsufficientScopes",
    "InternalServerError",
    "InvalidRequestArguments",
    "MalformedAnswer",
    "MalformedPayload",
    "NoMatchingBackend",
    "NoMatchingMethod",
    "NotFound",
    "PagingError",
    "RequestConflict",
    "ResourceExpired",
    "ServerError",
    "TaskclusterError",
    "TooManyRequests",
    "UnknownName",
    "WaitTimeout",
    "error_for_response",
    "redact_url",
]

# A bewit, and the signature/session token of pre-signed storage URLs (S3,
# GCS, Azure), which the queue hands out for artifacts.
# The trigger token of ``hooks.triggerHookWithToken`` travels in the path.
_TRIGGER_TOKEN = re.compile(r"(/hooks/v1/hooks/[^/\s]+/[^/\s]+/trigger/)[^/?#\s\"']+")
_BEWIT = re.compile(
    r"([?&](?:bewit|X-Amz-Signature|X-Amz-Security-Token|X-Goog-Signature|X-Signature"
    r"|Signature|sig)=)"
    r"[^&#\s\"']*",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Remove the value of any ``bewit`` (or storage URL signature) from a
    URL (or any text).

    Example:
        >>> redact_url("https://tc/x?a=1&bewit=c2VjcmV0&b=2")
        'https://tc/x?a=1&bewit=<redacted>&b=2'
        >>> redact_url("https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=ab12")
        'https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=<redacted>'
        >>> redact_url("https://tc/api/hooks/v1/hooks/g/h/trigger/s3cr3t")  # a trigger token
        'https://tc/api/hooks/v1/hooks/g/h/trigger/<redacted>'
    """
    return _TRIGGER_TOKEN.sub(r"\1<redacted>", _BEWIT.sub(r"\1<redacted>", url))


class TaskclusterError(Exception):
    """The root of every error tcmodel raises.

    Example:
        >>> issubclass(NotFound, TaskclusterError)
        True
    """


class AsyncUsageError(TaskclusterError):
    """Data that is not loaded was read (or a request was sent) the sync
    way inside an event loop this cluster is used from asynchronously: it
    would block the loop. The message says what to await instead. (Sync
    use in a running loop that made no async call, as in Jupyter, works.)

    Example:
        >>> str(AsyncUsageError("task.status is not loaded: await task.astatus() first"))
        'task.status is not loaded: await task.astatus() first'
    """


class ConfigurationError(TaskclusterError, ValueError):
    """tcmodel was set up wrongly (e.g. a missing environment variable).

    Example:
        >>> issubclass(ConfigurationError, ValueError)
        True
    """


class ConnectionFailed(TaskclusterError):
    """The service could not be reached (connection error or timeout), even
    after the retries.

    Example:
        >>> str(ConnectionFailed("queue.ping()", "GET", "https://tc/api/queue/v1/ping", "refused"))
        'queue.ping(): connection failed: refused'
    """

    def __init__(self, call: str, method: str, url: str, reason: str) -> None:
        self.call = redact_url(call)
        self.method = method
        self.url = redact_url(url)
        self.reason = redact_url(reason)
        super().__init__(f"{self.call}: connection failed: {self.reason}")


class HashMismatch(TaskclusterError):
    """Downloaded data does not match the hashes the service gave.

    Never retried; no file is left behind.

    Example:
        >>> str(HashMismatch("public/a.bin", "sha256", "00", "ff"))
        'public/a.bin: sha256 mismatch: expected 00, got ff'
    """

    def __init__(self, what: str, algorithm: str, expected: str, actual: str) -> None:
        self.what = what
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: {algorithm} mismatch: expected {expected}, got {actual}")


class WaitTimeout(TaskclusterError, TimeoutError):
    """A wait (``task.wait()``, ``group.wait()``) ran out of time; ``what``
    names the task or group and ``state`` what it was still in.

    Example:
        >>> err = WaitTimeout("<Task taskId='Dx4tPEtaRpeIeWpbTD0uHw'>", "running", 30)
        >>> str(err), isinstance(err, TimeoutError)
        ("<Task taskId='Dx4tPEtaRpeIeWpbTD0uHw'> is still running after 30s", True)
    """

    def __init__(self, what: str, state: str, timeout: float) -> None:
        self.what = what
        self.state = state
        self.timeout = timeout
        super().__init__(f"{what} is still {state} after {timeout:g}s")


class UnknownName(TaskclusterError, KeyError):
    """No item has this name (or more than one has): ``group["name"]``
    found no task of the group by that name or taskId. A ``KeyError`` too,
    as indexing by a missing key is in Python.

    Example:
        >>> err = UnknownName("no task of group g is named 'x'")
        >>> isinstance(err, KeyError), str(err)
        (True, "no task of group g is named 'x'")
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class APIError(TaskclusterError):
    """A service answered with an error status.

    Attributes: ``method``, ``url`` (any bewit removed), ``status``, ``code``
    (Taskcluster's error code, or ``None``), ``message`` (the full text, with
    its footer), ``request_info`` (dict or ``None``), ``call`` (e.g.
    ``queue.status(taskId='…')``) and ``body`` (parsed JSON, or a short
    excerpt of a body that is not JSON).

    Example:
        >>> e = APIError(call="queue.task(taskId='x')", method="GET", url="u", status=418)
        >>> str(e)
        "queue.task(taskId='x'): 418"
    """

    status_code: int | None = None
    error_code: str | None = None

    def __init__(
        self,
        *,
        call: str,
        method: str,
        url: str,
        status: int,
        code: str | None = None,
        message: str = "",
        request_info: dict[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        self.call = redact_url(call)
        self.method = method
        self.url = redact_url(url)
        self.status = status
        self.code = code
        # Servers and proxies may echo the request URL back: mask any bewit.
        self.message = redact_url(message)
        self.request_info = request_info
        self.body = redact_url(body) if isinstance(body, str) else body
        summary = _shorten(message.split("\n\n---", 1)[0].strip(), _SUMMARY_LENGTH)
        text = f"{call}: {status}"
        label = self._label()
        if label:
            text += f" {label}"
        if summary:
            text += f": {summary}"
        super().__init__(redact_url(text))

    def _label(self) -> str | None:
        """What follows the status in ``str()``: the error code."""
        return self.code


class MalformedAnswer(APIError):
    """An answer tcmodel cannot use, whatever its status said: a success
    whose body is not JSON (or cannot be decoded, or nests too deep), a
    redirect where none was expected or to a ``Location`` that is no usable
    URL. Never retried; ``str()`` names the call. (Answers that are JSON
    but of the wrong shape raise :class:`~tcmodel.models.ModelDataError`,
    also naming the call.)

    Example:
        >>> e = MalformedAnswer(call="queue.ping()", method="GET",
        ...                     url="https://tc/api/queue/v1/ping", status=200,
        ...                     message="expected JSON, got text/html: <html>")
        >>> str(e), isinstance(e, APIError)
        ('queue.ping(): 200: expected JSON, got text/html: <html>', True)
    """


class PagingError(MalformedAnswer):
    """A paged listing that cannot be followed: the service sent a
    ``continuationToken`` it had sent before (the listing would never end),
    a token that is not a string or too long to send back, or a page
    without its list of items.

    Example:
        >>> e = PagingError(call="queue.listTaskGroup(taskGroupId='x')", method="GET", url="",
        ...                 status=200, message="continuationToken 'abc' came twice")
        >>> str(e)
        "queue.listTaskGroup(taskGroupId='x'): 200: continuationToken 'abc' came twice"
    """


class AnswerTooLarge(MalformedAnswer):
    """An answer body larger than the transport's ``max_answer_bytes``
    (API answers are paged, so a few MiB is plenty); it was not read whole.

    Example:
        >>> issubclass(AnswerTooLarge, MalformedAnswer)
        True
    """


class BadRequest(APIError):
    """400: the request was not acceptable (base of the 400 codes).

    Example:
        >>> issubclass(InputError, BadRequest)
        True
    """

    status_code = 400


class MalformedPayload(BadRequest):
    """400 ``MalformedPayload``: the body is not valid JSON.

    Example:
        >>> MalformedPayload.error_code
        'MalformedPayload'
    """

    error_code = "MalformedPayload"


class InvalidRequestArguments(BadRequest):
    """400 ``InvalidRequestArguments``: a path parameter or query key is invalid.

    Example:
        >>> InvalidRequestArguments.error_code
        'InvalidRequestArguments'
    """

    error_code = "InvalidRequestArguments"


class InputValidationError(BadRequest):
    """400 ``InputValidationError``: the body fails the input schema.

    Example:
        >>> InputValidationError.error_code
        'InputValidationError'
    """

    error_code = "InputValidationError"


class InputError(BadRequest):
    """400 ``InputError``: other validation (dates, dependencies, tokens…).

    Example:
        >>> InputError.error_code
        'InputError'
    """

    error_code = "InputError"


class NoMatchingBackend(BadRequest):
    """400 ``NoMatchingBackend`` (object service).

    Example:
        >>> NoMatchingBackend.status_code
        400
    """

    error_code = "NoMatchingBackend"


class AuthenticationFailed(APIError):
    """401 ``AuthenticationFailed``: bad signature, stale clock, expired
    credentials or certificate.

    Example:
        >>> AuthenticationFailed.status_code
        401
    """

    status_code = 401
    error_code = "AuthenticationFailed"


class InsufficientScopes(APIError):
    """403 ``InsufficientScopes``: authenticated, but missing scopes.

    Example:
        >>> InsufficientScopes.status_code
        403
    """

    status_code = 403
    error_code = "InsufficientScopes"


class NotFound(APIError):
    """404 ``ResourceNotFound``.

    Example:
        >>> NotFound.error_code
        'ResourceNotFound'
    """

    status_code = 404
    error_code = "ResourceNotFound"


class NoMatchingMethod(APIError):
    """406 ``NoMatchingMethod`` (object service: no acceptable download method).

    Example:
        >>> NoMatchingMethod.status_code
        406
    """

    status_code = 406
    error_code = "NoMatchingMethod"


class RequestConflict(APIError):
    """409 ``RequestConflict``: clashes with the current state.

    Example:
        >>> RequestConflict.status_code
        409
    """

    status_code = 409
    error_code = "RequestConflict"


class ResourceExpired(APIError):
    """410 ``ResourceExpired``, e.g. an artifact past its ``expires``.

    Example:
        >>> ResourceExpired.status_code
        410
    """

    status_code = 410
    error_code = "ResourceExpired"


class InputTooLarge(APIError):
    """413 ``InputTooLarge``.

    Example:
        >>> InputTooLarge.status_code
        413
    """

    status_code = 413
    error_code = "InputTooLarge"


class ArtifactError(APIError):
    """424: the artifact is an *error artifact*; ``reason`` says why
    (e.g. ``file-missing-on-worker``) and ``message`` is the worker's text.

    Example:
        >>> e = ArtifactError(call="c", method="GET", url="u", status=424,
        ...                   message="gone", reason="file-missing-on-worker")
        >>> e.reason, str(e)
        ('file-missing-on-worker', 'c: 424 file-missing-on-worker: gone')
    """

    status_code = 424

    def __init__(self, *, reason: str | None = None, **kw: Any) -> None:
        self.reason = reason
        super().__init__(**kw)

    def _label(self) -> str | None:
        """An error artifact has no code: its reason takes that place."""
        return self.code or self.reason


class TooManyRequests(APIError):
    """429 ``TooManyRequests`` (retried before it is raised).

    Example:
        >>> TooManyRequests.status_code
        429
    """

    status_code = 429
    error_code = "TooManyRequests"


class ServerError(APIError):
    """5xx: the service failed (retried before it is raised).

    Example:
        >>> issubclass(InternalServerError, ServerError)
        True
    """


class InternalServerError(ServerError):
    """500 ``InternalServerError``; the message holds an ``incidentId``.

    Example:
        >>> InternalServerError.status_code
        500
    """

    status_code = 500
    error_code = "InternalServerError"


_BY_CODE: dict[str, type[APIError]] = {
    cls.error_code: cls
    for cls in (
        MalformedPayload,
        InvalidRequestArguments,
        InputValidationError,
        InputError,
        NoMatchingBackend,
        AuthenticationFailed,
        InsufficientScopes,
        NotFound,
        NoMatchingMethod,
        RequestConflict,
        ResourceExpired,
        InputTooLarge,
        TooManyRequests,
        InternalServerError,
    )
    if cls.error_code
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: InsufficientScopes,
    404: NotFound,
    406: NoMatchingMethod,
    409: RequestConflict,
    410: ResourceExpired,
    413: InputTooLarge,
    424: ArtifactError,
    429: TooManyRequests,
}


#: The longest summary of a service's message shown in an error's ``str()``.
_SUMMARY_LENGTH = 1000


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def error_for_response(
    *, status: int, body: Any, method: str, url: str, call: str, text: str = ""
) -> APIError:
    """Build the typed error for an error answer.

    ``body`` is the parsed JSON (or ``None`` when the body is not JSON, in
    which case ``text`` gives the raw text, of which a short excerpt is kept).

    Example:
        >>> e = error_for_response(status=502, body=None, method="GET", url="u",
        ...                        call="queue.ping()", text="<html>Bad Gateway</html>")
        >>> type(e).__name__, str(e)
        ('ServerError', 'queue.ping(): 502: <html>Bad Gateway</html>')
    """
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        info = body.get("requestInfo") if isinstance(body.get("requestInfo"), dict) else None
    else:
        code, info = None, None
        excerpt = " ".join(text.split())
        message = excerpt if len(excerpt) <= 200 else excerpt[:200] + "…"
        body = message
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    kw: dict[str, Any] = {
        "call": call,
        "method": method,
        "url": url,
        "status": status,
        "code": code,
        "message": message or "",
        "request_info": info,
        "body": body,
    }
    if status == 424 and isinstance(body, dict):
        # An error artifact: {reason, message}, no code.
        reason = body.get("reason")
        return ArtifactError(reason=reason if isinstance(reason, str) else None, **kw)
    return cls(**kw)
