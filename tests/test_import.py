"""``import tcmodel`` pulls in nothing but itself, and using it only the stdlib and the
runtime dependencies."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from typing import Any

import tcmodel

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
    # httpx imports its command line's dependencies when they are installed
    "click",
    "pygments",
    "rich",
    "markdown_it",
    "mdurl",
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
cluster = tcmodel.Cluster.from_url("https://tc.example.com")
cluster.task_group("XDqefRsvTG6ajX5vWks8LQ").tasks().filter(state="failed")
print(json.dumps(sorted(set(sys.modules) - before)))
"""
#: ``import tcmodel`` alone: the public names load on first use (PEP 562).
_BARE = """
import json, sys
before = set(sys.modules)
import tcmodel
names = dir(tcmodel)
print(json.dumps([sorted(set(sys.modules) - before), names, tcmodel.__all__]))
"""


def _imported_by(code: str, raw: bool = False) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    last = out.stdout.strip().splitlines()[-1]
    return last if raw else json.loads(last)


def test_import_tcmodel_loads_only_stdlib_and_dependencies() -> None:
    modules = _imported_by(_PROBE)
    assert "tcmodel" in modules and "httpx" in modules and "mohawk" in modules
    tops = {m.split(".")[0] for m in modules}
    unexpected = sorted(tops - set(sys.stdlib_module_names) - ALLOWED)
    assert unexpected == []
    assert sorted(tops & FORBIDDEN) == []
    # The local test cluster is never loaded by the library itself.
    assert not [m for m in modules if m.startswith("tcmodel.testing")]


def test_import_tcmodel_alone_imports_no_dependency() -> None:
    # ``import tcmodel`` (and the ``tcmodel`` command's --help) must be
    # instant: httpx, the transport, attrs and the models load on first use.
    modules, names, public = json.loads(_imported_by(_BARE, raw=True))
    tops = {m.split(".")[0] for m in modules}
    assert sorted(tops - set(sys.stdlib_module_names)) == ["tcmodel"]
    assert sorted(m for m in modules if m.startswith("tcmodel.")) == [
        "tcmodel._lazy",  # the PEP 562 loader: importlib only
        "tcmodel._version",
    ]
    assert set(public) <= set(names)  # dir() and tab completion list every name


def test_lazy_names_are_the_real_objects() -> None:
    from tcmodel.cluster import Cluster
    from tcmodel.utils import slug_id

    assert tcmodel.Cluster is Cluster and tcmodel.slug_id is slug_id
    assert tcmodel.models.TaskStatus.__name__ == "TaskStatus"  # a submodule, on first use
    assert not hasattr(tcmodel, "no_such_name")
    assert {"Cluster", "NotFound", "UploadError", "__version__"} <= set(dir(tcmodel))


def test_the_log_filter_is_in_place_before_any_request() -> None:
    code = """
import logging
import tcmodel
from tcmodel import _logsafety
tcmodel.Cluster.from_url("https://tc.example.com")
print(all(_logsafety._FILTER in logging.getLogger(n).filters for n in _logsafety._LOGGERS))
"""
    assert _imported_by(code, raw=True) == "True"


def test_the_pytest_plugin_imports_nothing_until_a_fixture_is_used() -> None:
    # Every pytest run where tcmodel is installed imports the plugin.
    code = """
import json, sys
import pytest
before = set(sys.modules)
import tcmodel.testing.plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    modules = _imported_by(code)
    assert sorted(modules) == [
        "tcmodel",
        "tcmodel._lazy",
        "tcmodel._version",
        "tcmodel.testing",
        "tcmodel.testing.plugin",
    ]


def test_forbidden_modules_are_installed_so_the_check_means_something() -> None:
    # They are importable in the test environment, so their absence above
    # shows that tcmodel itself does not import them.
    for name in ("jsonschema", "taskcluster", "requests", "aiohttp", "pytest"):
        assert importlib.util.find_spec(name) is not None, name
