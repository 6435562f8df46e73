"""Hand-written checks of the queue's request bodies.

The real queue validates each body against a JSON schema and answers 400
``InputValidationError`` on a mismatch. The schemas cannot ship with
tcmodel, so the same constraints (required fields, types, patterns,
lengths, enums, formats) are written here as small composable checks.

Example:
    >>> check = obj({"tasks": integer(1, 32)}, required=("tasks",))
    >>> validate_body(check, {"tasks": 3}, "claim-work-request.json")
    >>> validate_body(check, {"tasks": 40}, "claim-work-request.json")
    Traceback (most recent call last):
    ...
    tcmodel.testing._core.ApiError: 400 InputValidationError: ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tcmodel.testing._core import ApiError
from tcmodel.testing.queue_model import PRIORITIES
from tcmodel.utils import SLUGID_PATTERN, parse_date

__all__ = [
    "CHANGE_PRIORITY",
    "CLAIM_WORK",
    "CREATE_ARTIFACT",
    "CREATE_TASK",
    "FINISH_ARTIFACT",
    "TASKS_REQUEST",
    "TASK_CLAIM",
    "TASK_EXCEPTION",
    "Check",
    "Invalid",
    "array",
    "boolean",
    "date_time",
    "integer",
    "obj",
    "one_of_by",
    "string",
    "validate_body",
]


class Invalid(Exception):
    """Failed checks, each with the JSON path where it failed (one, or all
    that an object's or array's checks found: the real services list every
    schema error, not the first).

    Example:
        >>> str(Invalid("/tasks", "must be at most 32"))
        '/tasks must be at most 32'
        >>> Invalid.of([Invalid("/a", "must be a string"), Invalid("/b", "must be boolean")]).lines
        ['/a must be a string', '/b must be boolean']
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '/'} {problem}")
        #: One line per failed check, each its path and problem.
        self.lines = [str(self)]

    @classmethod
    def of(cls, found: Sequence[Invalid]) -> Invalid:
        """All the failures in ``found`` as one (the first's as its text).

        Example:
            >>> len(Invalid.of([Invalid("/a", "x"), Invalid("/b", "y")]).lines)
            2
        """
        first = found[0]
        first.lines = [line for each in found for line in each.lines]
        return first


#: A check takes a value and its JSON path and raises :class:`Invalid`.
Check = Callable[[Any, str], None]

_SLUG = SLUGID_PATTERN.pattern
_IDENT = r"^([a-zA-Z0-9-_]*)$"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")


def string(
    *,
    pattern: str | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
    enum: Sequence[str] | None = None,
    uri: bool = False,
) -> Check:
    """A string check.

    Example:
        >>> string(max_len=2)("abc", "/x")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: /x must be at most 2 characters long
    """
    shown = pattern
    # JSON schema patterns use ECMA-262 semantics: a final `$` is the very end.
    if pattern is not None and pattern.endswith("$"):
        pattern = pattern[:-1] + r"\Z"
    regex = re.compile(pattern) if pattern is not None else None

    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise Invalid(path, "must be a string")
        if enum is not None and value not in enum:
            raise Invalid(path, f"must be one of {', '.join(enum)}")
        if min_len is not None and len(value) < min_len:
            raise Invalid(path, f"must be at least {min_len} characters long")
        if max_len is not None and len(value) > max_len:
            raise Invalid(path, f"must be at most {max_len} characters long")
        if regex is not None and regex.search(value) is None:
            raise Invalid(path, f"must match the pattern {shown}")
        if uri and _URI.match(value) is None:
            raise Invalid(path, "must be a URI")

    return check


def boolean() -> Check:
    """A boolean check.

    Example:
        >>> boolean()("yes", "/unfurlLinks")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: /unfurlLinks must be boolean
    """

    def check(value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise Invalid(path, "must be boolean")

    return check


def date_time() -> Check:
    """An RFC 3339 date-time string check.

    Example:
        >>> date_time()("2024-01-01T00:00:00.000Z", "/created")
    """

    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise Invalid(path, "must be a string")
        try:
            parse_date(value)
        except ValueError:
            raise Invalid(path, 'must match format "date-time"') from None

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    """An integer check (``true``/``false`` are not integers).

    Example:
        >>> integer(0)(-1, "/retries")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: /retries must be at least 0
    """

    def check(value: Any, path: str) -> None:
        is_int = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not is_int:
            raise Invalid(path, "must be an integer")
        if minimum is not None and value < minimum:
            raise Invalid(path, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise Invalid(path, f"must be at most {maximum}")

    return check


def array(
    items: Check | None = None, *, max_items: int | None = None, unique: bool = False
) -> Check:
    """An array check, with a check for each item.

    Example:
        >>> array(unique=True)(["a", "a"], "/routes")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: /routes must not contain duplicate items
    """

    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise Invalid(path, "must be an array")
        if max_items is not None and len(value) > max_items:
            raise Invalid(path, f"must not have more than {max_items} items")
        found: list[Invalid] = []
        if items is not None:
            for i, item in enumerate(value):
                _collect(found, items, item, f"{path}/{i}")
        if unique:
            seen = [repr(x) for x in value]
            if len(set(seen)) != len(seen):
                found.append(Invalid(path, "must not contain duplicate items"))
        if found:
            raise Invalid.of(found)

    return check


def obj(
    props: Mapping[str, Check] | None = None,
    *,
    required: Sequence[str] = (),
    additional: Check | bool = False,
) -> Check:
    """An object check: known properties, required ones, and what other
    properties may be (``False``: none, ``True``: anything, or a check).

    Example:
        >>> obj({"a": integer()}, required=("a",))({}, "")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: / must have required property 'a'
    """
    known = dict(props or {})

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(path, "must be an object")
        found = [
            Invalid(path, f"must have required property {name!r}")
            for name in required
            if name not in value
        ]
        for name, item in value.items():
            sub = known.get(name)
            if sub is not None:
                _collect(found, sub, item, f"{path}/{name}")
            elif additional is False:
                found.append(Invalid(path, f"must not have additional property {name!r}"))
            elif callable(additional):
                _collect(found, additional, item, f"{path}/{name}")
        if found:
            raise Invalid.of(found)

    return check


def _collect(found: list[Invalid], check: Check, value: Any, path: str) -> None:
    """Run ``check``; what it finds wrong joins ``found``."""
    try:
        check(value, path)
    except Invalid as e:
        found.append(e)


def one_of_by(field: str, variants: Mapping[str, Check]) -> Check:
    """A ``oneOf`` whose branches differ by the value of ``field``. A value
    no branch accepts fails with what every branch finds wrong, as a
    schema's ``oneOf`` does (the branch ``field`` names, if any, first).

    Example:
        >>> check = one_of_by("kind", {"a": obj({"kind": string()}), "b": obj({"kind": string()})})
        >>> check({"kind": "c"}, "")
        Traceback (most recent call last):
        ...
        tcmodel.testing.queue_validate.Invalid: /kind must be one of a, b
        >>> try:
        ...     check({"kind": "a", "x": 1}, "")
        ... except Invalid as e:
        ...     for line in e.lines:
        ...         print(line)
        / must not have additional property 'x'
        / must not have additional property 'x'
        / must match exactly one variant (by kind: a, b)
    """
    names = ", ".join(variants)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(path, "must be an object")
        kind = value.get(field)
        chosen = variants.get(kind) if isinstance(kind, str) else None
        found: list[Invalid] = []
        if chosen is not None:
            _collect(found, chosen, value, path)
            if not found:
                return
        elif field not in value:
            found.append(Invalid(path, f"must have required property {field!r}"))
        else:
            found.append(Invalid(f"{path}/{field}", f"must be one of {names}"))
        for variant in variants.values():
            if variant is not chosen:
                _collect(found, variant, value, path)
        found.append(Invalid(path, f"must match exactly one variant (by {field}: {names})"))
        raise Invalid.of(found)

    return check


def validate_body(check: Check, body: Any, schema: str) -> None:
    """Run ``check`` on a request body; 400 ``InputValidationError`` if it fails.

    Example:
        >>> validate_body(obj(), None, "x.json")
        Traceback (most recent call last):
        ...
        tcmodel.testing._core.ApiError: 400 InputValidationError: ...
    """
    try:
        check(body, "")
    except Invalid as e:
        listed = "".join(f"\n * payload{line}" for line in e.lines)
        raise ApiError(
            400,
            "InputValidationError",
            f"Schema Validation Failed!\nRejecting request, its payload does not match "
            f"the schema {schema}:{listed}",
        ) from None


# -- the queue's request bodies ----------------------------------------------

_slug = string(pattern=_SLUG)
_ident = string(pattern=_IDENT, min_len=1, max_len=38)
_WORKER_TYPE = r"^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$"
_priority = string(enum=PRIORITIES)

#: createTask's body (create-task-request.json).
CREATE_TASK = obj(
    {
        "provisionerId": string(pattern=r"^[a-zA-Z0-9-_]{1,38}$"),
        "workerType": string(pattern=_WORKER_TYPE),
        "taskQueueId": string(pattern=r"^[a-zA-Z0-9-_]{1,38}/[a-z]([-a-z0-9]{0,36}[a-z0-9])?$"),
        "schedulerId": _ident,
        "projectId": string(pattern=r"^([a-zA-Z0-9._/-]*)$", min_len=1, max_len=500),
        "taskGroupId": _slug,
        "dependencies": array(_slug, max_items=10000, unique=True),
        "requires": string(enum=("all-completed", "all-resolved")),
        "routes": array(string(min_len=1, max_len=249), max_items=64, unique=True),
        "priority": _priority,
        "retries": integer(0, 49),
        "created": date_time(),
        "deadline": date_time(),
        "expires": date_time(),
        "scopes": array(string(pattern=r"^[\x20-\x7e]*$")),
        "payload": obj(additional=True),
        "metadata": obj(
            {
                "name": string(max_len=255),
                "description": string(max_len=32768),
                "owner": string(max_len=255),
                "source": string(pattern=r"^(https?://|ssh://|git@)", max_len=4096),
            },
            required=("name", "description", "owner", "source"),
        ),
        "tags": obj(additional=string(max_len=4096)),
        "extra": obj(additional=True),
    },
    required=("created", "deadline", "payload", "metadata"),
)

#: claimWork's body (claim-work-request.json).
CLAIM_WORK = obj(
    {"workerGroup": _ident, "workerId": _ident, "tasks": integer(1, 32)},
    required=("workerGroup", "workerId", "tasks"),
)

#: claimTask's body (task-claim-request.json).
TASK_CLAIM = obj({"workerGroup": _ident, "workerId": _ident}, required=("workerGroup", "workerId"))

#: reportException's body (task-exception-request.json).
TASK_EXCEPTION = obj(
    {
        "reason": string(
            enum=(
                "worker-shutdown",
                "malformed-payload",
                "resource-unavailable",
                "internal-error",
                "intermittent-task",
            )
        )
    },
    required=("reason",),
)

#: changeTaskPriority's and changeTaskGroupPriority's body.
CHANGE_PRIORITY = obj({"newPriority": _priority}, required=("newPriority",))

#: The body of the bulk ``tasks`` and ``statuses`` calls (tasks-request.json).
TASKS_REQUEST = obj({"taskIds": array(string())})

#: finishArtifact's body (finish-artifact-request.json).
FINISH_ARTIFACT = obj({"uploadId": _slug}, required=("uploadId",))

_content_type = string(max_len=255)
_length = integer(0)
_data_artifact = {
    "storageType": string(),
    "expires": date_time(),
    "contentType": _content_type,
    "contentLength": _length,
}
_data_required = ("storageType", "expires", "contentType")

#: createArtifact's body (post-artifact-request.json), one shape per storage type.
CREATE_ARTIFACT = one_of_by(
    "storageType",
    {
        "s3": obj(_data_artifact, required=_data_required),
        "object": obj(_data_artifact, required=_data_required),
        "reference": obj(
            {
                "storageType": string(),
                "expires": date_time(),
                "url": string(uri=True),
                "contentType": _content_type,
            },
            required=("storageType", "expires", "url", "contentType"),
        ),
        "link": obj(
            {
                "storageType": string(),
                "expires": date_time(),
                "artifact": string(),
                "contentType": _content_type,
            },
            required=("storageType", "expires", "artifact"),
        ),
        "error": obj(
            {
                "storageType": string(),
                "expires": date_time(),
                "reason": string(
                    enum=(
                        "file-missing-on-worker",
                        "invalid-resource-on-worker",
                        "too-large-file-on-worker",
                        "file-not-readable-on-worker",
                    )
                ),
                "message": string(max_len=4096),
            },
            required=("storageType", "expires", "reason", "message"),
        ),
    },
)
