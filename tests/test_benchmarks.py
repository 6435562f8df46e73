"""``python -m benchmarks`` runs end to end (a smoke test: sizes are small
and no figure is judged, only that every row is there and numeric)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_python_m_benchmarks_quick_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)]
    command += ["--only", "import", "--only", "statuses", "--only", "walk"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]

    doc = json.loads(out.read_text())
    assert doc["rounds"] == 1
    rows = {(r["bench"], r["metric"], r["side"]): r for r in doc["results"]}
    expected = [
        ("import", "wall", "tcmodel"),
        ("import", "wall", "official"),
        ("import", "RSS after", "official"),
        ("statuses of 100 ids", "requests", "tcmodel"),
        ("statuses of 100 ids", "client CPU", "official"),
        ("group walk 1,100", "wall", "tcmodel"),
        ("group walk 1,100", "client CPU", "official"),
        ("group walk 1,100", "peak RSS", "tcmodel"),
        ("group walk 120", "requests", "official"),
    ]
    for key in expected:
        assert key in rows, key
    for row in doc["results"]:
        for field in ("median", "min", "max"):
            assert isinstance(row[field], float) and math.isfinite(row[field]), row
        assert row["min"] <= row["median"] <= row["max"]
        assert row["samples"] and all(isinstance(v, float) for v in row["samples"])
    assert isinstance(rows[("import", "wall", "tcmodel")]["ratio_official"], float)
    # request counts are exact: the bulk call against one call per task
    assert rows[("statuses of 100 ids", "requests", "tcmodel")]["samples"] == [1.0]
    assert rows[("statuses of 100 ids", "requests", "official")]["samples"] == [100.0]
    assert rows[("group walk 1,100", "requests", "tcmodel")]["samples"] == [2.0]
    assert rows[("group walk 1,100", "requests", "official")]["samples"] == [2.0]

    table = done.stdout
    for title in ("import", "statuses of 100 ids", "group walk 1,100", "×official"):
        assert title in table
    assert "tcmodel" in table and "official" in table
