"""docs/examples/explore.ipynb runs headless, in a real IPython kernel of this
Python, against the demo's graph on a local cluster, without a cell error."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tcmodel.demo import build_graph
from tcmodel.testing import LocalCluster

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "explore.ipynb"
KERNEL = "tcmodel-test"

#: What the executed notebook's ``text/html`` outputs must contain: add a
#: marker here with the cell that shows it (tables, failures, …).
EXPECTED_HTML: dict[str, str] = {
    "an HTML table": "<table",
    "the timeline": "Timeline of 41 tasks",  # group.timeline()'s heading
    "the critical path": "Critical path",
    "a listing's preview": "a preview of the first page",
    "the failures table": "failed or exception tasks",
    "a DataFrame": "dataframe",
    "a log as lines": "<pre",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, LocalCluster]]:
    """The notebook after a run against a served demo graph, and the cluster."""
    tmp = tmp_path_factory.mktemp("notebook")
    kernels = tmp / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tcmodel tests",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as mp, LocalCluster() as lc:
        mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))  # where our kernelspec is found
        with lc.connect() as admin:
            group_id, _ = build_graph(lc, admin)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKCLUSTER_")}
        env.update(
            TASKCLUSTER_ROOT_URL=lc.root_url,
            TASKCLUSTER_CLIENT_ID=lc.root_credentials.client_id,
            TASKCLUSTER_ACCESS_TOKEN=lc.root_credentials.access_token,
            TCMODEL_DEMO_GROUP=group_id,
            IPYTHONDIR=str(tmp / "ipython"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        )
        lc.reset_requests()
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=120,
            # a loaded machine may deliver a cell's output after its reply: wait for it,
            # and fail rather than drop it (nbclient's default waits 4 s, then drops)
            iopub_timeout=60,
            raise_on_iopub_timeout=True,
            resources={"metadata": {"path": str(tmp)}},
        )
        client.execute(env=env)  # raises CellExecutionError on any cell error
        yield nb, lc


def _outputs(nb: Any, mime: str) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and mime == "text/plain":
                found.append(out["text"])
            elif mime in out.get("data", {}):
                found.append(out["data"][mime])
    return found


def test_notebook_in_git_has_no_outputs_and_connects_from_env() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    sources = "\n".join(c.source for c in code)
    assert "tcmodel.Cluster.from_env()" in sources
    assert 'os.environ["TCMODEL_DEMO_GROUP"]' in sources
    headings = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert sum(h.startswith("## ") for h in headings) >= 5  # in sections


def test_notebook_runs_every_cell_against_the_demo_graph(executed: tuple[Any, Any]) -> None:
    nb, lc = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    text = "\n".join(_outputs(nb, "text/plain"))
    assert "(41, Counter({'completed': 38, 'failed': 3}))" in text
    assert "0 scheduled -> failed" in text and "1 rerun -> completed" in text  # the flaky one
    assert "build-win64-debug                run 0  0:2" in text  # the slowest, 20+ minutes
    assert "decision -> build-" in text  # the critical path starts with the decision task
    assert "AssertionError: expected 200 got 503" in text  # the log's tail
    assert "file-missing-on-worker: no screenshot" in text  # an error artifact
    # the kernel talked to this cluster, signed with the root client
    entries = {r.entry for r in lc.requests}
    assert {"listTaskGroup", "latestArtifact", "findTask"} <= entries
    assert any(r.client_id == lc.root_credentials.client_id for r in lc.requests)


@pytest.mark.parametrize("what", sorted(EXPECTED_HTML))
def test_notebook_outputs_show_html(executed: tuple[Any, Any], what: str) -> None:
    nb, _ = executed
    html = "\n".join(_outputs(nb, "text/html"))
    assert EXPECTED_HTML[what] in html, what
