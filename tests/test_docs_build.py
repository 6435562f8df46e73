"""The documentation site builds with no warning, and its examples run.

``python -m sphinx -W --keep-going -n`` (warnings are errors; nitpicky, so a
cross-reference to nothing fails, and MyST checks internal links) builds
docs/ into a temporary directory, executing the example notebook against a
local cluster started by docs/conf.py. The ``>>>`` examples of the pages
(``docs/*.md``) run against the same seeded local cluster as the docstring
examples (the root conftest.py).
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"

# The build takes ~25 s on an idle 2-core machine (the notebook's kernel included); allow for load.
pytestmark = pytest.mark.timeout(600)

for _name in ("sphinx", "myst_nb", "furo"):
    pytest.importorskip(_name, reason="the docs extra (pip install -e '.[docs]') is not installed")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built once for this module; fails with the warnings."""
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKCLUSTER_")}
    env.update(IPYTHONDIR=str(tmp / "ipython"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"]
    cmd += ["-d", str(tmp / "doctrees"), str(DOCS), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, (
        f"sphinx exited {proc.returncode} with {len(warnings)} warnings:\n"
        + "\n".join(warnings or proc.stderr.splitlines()[-40:])
    )
    return out


def test_the_site_builds_without_a_warning(built: Path) -> None:
    pages = {p.relative_to(built).as_posix() for p in built.rglob("*.html")}
    wanted = {
        "index.html",
        "guide.html",
        "notebooks.html",
        "examples/explore.html",
        "testing.html",
        "cli.html",
        "errors.html",
        "official-client.html",
        "api/index.html",
    }
    assert wanted <= pages, f"missing pages: {sorted(wanted - pages)}"


def test_the_api_reference_documents_the_public_names(built: Path) -> None:
    import tcmodel

    html = "".join(p.read_text(encoding="utf-8") for p in (built / "api").glob("*.html"))
    for name in ("tcmodel.cluster.Cluster", "tcmodel.resources.task.Task.status"):
        assert f'id="{name}"' in html, name
    assert 'id="tcmodel.testing.server.LocalCluster"' in html
    # the root table lists every name of tcmodel.__all__, linked to its entry
    root = (built / "api" / "index.html").read_text(encoding="utf-8")
    for name in tcmodel.__all__:
        if not name.startswith("__"):
            assert f">{name}<" in root, name


def test_the_notebook_is_rendered_with_its_outputs(built: Path) -> None:
    page = (built / "examples" / "explore.html").read_text(encoding="utf-8")
    assert "Timeline of 41 tasks" in page  # an output of group.timeline(), run at build time
    assert "cell_output" in page


def _page_examples(name: str) -> doctest.DocTest:
    """The ``pycon`` code blocks of a page, as one doctest (line numbers kept)."""
    text = (DOCS / name).read_text(encoding="utf-8")
    kept = [""] * len(text.splitlines())
    for block in re.finditer(r"^```pycon\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        first = text.count("\n", 0, block.start(1))
        for i, line in enumerate(block.group(1).splitlines()):
            kept[first + i] = line
    return doctest.DocTestParser().get_doctest("\n".join(kept), {}, name, str(DOCS / name), 0)


@pytest.mark.parametrize("page", ["index.md", "official-client.md", "errors.md"])
def test_the_page_examples_run(page: str, _seeded_graph: dict[str, Any]) -> None:
    test = _page_examples(page)
    assert test.examples, f"{page} has no >>> example"
    test.globs = dict(_seeded_graph)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
