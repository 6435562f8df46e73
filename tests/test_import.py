"""``import tcmodel`` pulls in only the stdlib and the runtime dependencies."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

ALLOWED = {
    "tcmodel",
    # httpx and its own dependencies
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "hpack",
    "hyperframe",
    "anyio",
    "sniffio",
    "idna",
    "certifi",
    # signing, models, ids
    "mohawk",
    "six",
    "attrs",
    "attr",
    "slugid",
}
FORBIDDEN = {
    "jsonschema",
    "referencing",
    "taskcluster",
    "taskcluster_urls",
    "requests",
    "aiohttp",
    "pytest",
    "_pytest",
}

_PROBE = """
import json, sys
before = set(sys.modules)
import tcmodel
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _imported_by(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return modules


def test_import_tcmodel_loads_only_stdlib_and_dependencies() -> None:
    modules = _imported_by(_PROBE)
    assert "tcmodel" in modules and "httpx" in modules and "mohawk" in modules
    tops = {m.split(".")[0] for m in modules}
    unexpected = sorted(tops - set(sys.stdlib_module_names) - ALLOWED)
    assert unexpected == []
    assert sorted(tops & FORBIDDEN) == []
    # The local test cluster is never loaded by the library itself.
    assert not [m for m in modules if m.startswith("tcmodel.testing")]


def test_forbidden_modules_are_installed_so_the_check_means_something() -> None:
    # They are importable in the test environment, so their absence above
    # shows that tcmodel itself does not import them.
    for name in ("jsonschema", "taskcluster", "requests", "aiohttp", "pytest"):
        assert importlib.util.find_spec(name) is not None, name
