"""Validate request and response bodies against the real Taskcluster schemas.

The schemas are read from ``../shared/taskcluster/api/schemas`` (beside the
checkout); they are never copied into the project. Without them the tests that
need them skip, except under CI (``CI=true``), where they fail.

``TCMODEL_SHARED_DIR`` points the tests at another copy: the directory that
holds ``api/``, ``traces/`` and ``vectors.json`` (``.../shared/taskcluster``).
Every test that reads the shared files locates them through :data:`SHARED`.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

#: The environment variable that names another copy of ``shared/taskcluster``.
SHARED_ENV = "TCMODEL_SHARED_DIR"
_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "taskcluster"
#: Where the shared Taskcluster files are: ``$TCMODEL_SHARED_DIR``, else
#: ``../shared/taskcluster`` beside the checkout.
SHARED = (
    Path(os.environ[SHARED_ENV]).expanduser().resolve() if os.environ.get(SHARED_ENV) else _BESIDE
)
API_DIR = SHARED / "api"
VECTORS = SHARED / "vectors.json"


#: Why a test skipped: the end of a fresh clone's run counts these.
MISSING_HINT = (
    f"{SHARED_ENV}={SHARED} has no Taskcluster files"
    if os.environ.get(SHARED_ENV)
    else f"../shared/taskcluster not found; set {SHARED_ENV}"
)


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip (fail under CI) when ../shared is missing."""
    if not path.exists():
        msg = f"{path} is missing: {MISSING_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg, allow_module_level=True)
    return path


def vectors() -> dict[str, Any]:
    """The official client's test vectors."""
    data: dict[str, Any] = json.loads(require_shared(VECTORS).read_text())
    return data


@cache
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for f in sorted(require_shared(API_DIR / "schemas").glob("*/*.json")):
        doc = json.loads(f.read_text())
        doc.pop("$schema", None)  # "/schemas/common/metaschema.json#" is not shipped
        resources.append((doc["$id"].rstrip("#"), Resource.from_contents(doc, DRAFT7)))
    return Registry().with_resources(resources)


def validate(service: str, schema: str, instance: Any) -> None:
    """Validate ``instance`` against ``schemas/<service>/<schema>``.

    ``schema`` is a file name such as ``"task-status-response.json"`` (the
    ``input``/``output`` of :class:`tcmodel.api.Endpoint` has this form).
    Raises ``jsonschema.ValidationError`` on a mismatch.
    """
    import jsonschema

    uri = f"/schemas/{service}/v1/{schema}"
    registry = _registry()
    resolved = registry.get_or_retrieve(uri).value.contents
    validator = jsonschema.Draft7Validator(resolved, registry=registry)
    validator.validate(instance)


def validate_endpoint(
    service: str, name: str, *, request: Any = None, response: Any = None
) -> None:
    """Validate a request and/or response body of one API entry."""
    from tcmodel.api import endpoint

    ep = endpoint(service, name)
    if request is not None:
        assert ep.input, f"{ep} takes no body"
        validate(service, ep.input, request)
    if response is not None:
        assert ep.output, f"{ep} has no output schema"
        validate(service, ep.output, response)


class Checked:
    """An official client whose every successful call is validated against
    the schemas: the body sent as the entry's input, the answer as its
    output. (A call the service refuses is not validated: tests of 400s
    send invalid bodies on purpose.)

    ``Checked(taskcluster.Index(options), "index").findTask(path)``
    """

    def __init__(self, client: Any, service: str) -> None:
        self._client = client
        self._service = service

    def __getattr__(self, name: str) -> Any:
        from tcmodel.api import endpoint

        method = getattr(self._client, name)
        try:
            ep = endpoint(self._service, name)
        except ValueError:
            return method  # not an API entry (e.g. buildUrl)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if ep.input:
                body = kwargs["payload"] if "payload" in kwargs else args[-1]
                validate_endpoint(self._service, name, request=body)
            if ep.output and result is not None:
                validate_endpoint(self._service, name, response=result)
            return result

        return call
