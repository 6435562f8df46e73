"""The demo (README's first command) runs to the end and shows every step."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_and_reports_request_costs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tcmodel", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    graph = re.search(r"Built a graph of (\d+) tasks", out)
    assert graph and int(graph.group(1)) >= 40
    for title in (
        "summary",
        "Failures, with the tail of their logs",
        "Download a build artifact and check its checksum",
        "Dependency chain of one test",
        "Index lookup",
    ):
        assert "== " in out and title in out, title
    assert "matches published checksums: True" in out
    assert "error artifact: file-missing-on-worker" in out
    assert "private/build/secrets.json: InsufficientScopes (403)" in out
    # every step reports its cost, and the group summary is a single listing request
    costs = [int(n) for n in re.findall(r"\((\d+) HTTP requests?,", out)]
    assert len(costs) >= 7 and costs[0] == 1
    assert "AssertionError: expected 200 got 503" in out  # tails of the failed logs
