"""Validate request and response bodies against the real Taskcluster schemas.

The schemas are read from ``../shared/taskcluster/api/schemas`` (beside the
checkout); they are never copied into the project. Without them the tests that
need them skip, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "taskcluster"
API_DIR = SHARED / "api"
VECTORS = SHARED / "vectors.json"


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip (fail under CI) when ../shared is missing."""
    if not path.exists():
        msg = f"{path} is missing (it lives in ../shared beside the checkout)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
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
