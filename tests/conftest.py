"""Shared test configuration (tests/ is on sys.path via pyproject's pythonpath).

Conformance bookkeeping: every LocalCluster the suite starts reports which
API entries it answered; when the whole suite runs, an entry of the queue,
index or object service that no test exercised fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmodel.api import ENDPOINTS
from tcmodel.testing import LocalCluster

SERVED: set[tuple[str, str]] = set()
_TESTS = Path(__file__).parent


@pytest.fixture(autouse=True, scope="session")
def _record_served_entries() -> Iterator[None]:
    original = LocalCluster.stop

    def stop(self: LocalCluster) -> None:
        SERVED.update(self.served)
        original(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalCluster, "stop", stop)
        yield


def _whole_suite(session: pytest.Session) -> bool:
    opts = session.config.option
    if getattr(opts, "keyword", "") or getattr(opts, "markexpr", ""):
        return False
    ran = {Path(str(item.path)).name for item in session.items}
    return all(f.name in ran for f in _TESTS.glob("test_*.py"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != 0 or not _whole_suite(session):
        return
    missing = sorted(f"{s}.{n}" for (s, n) in ENDPOINTS if (s, n) not in SERVED)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        done = len(ENDPOINTS) - len(missing)
        reporter.write("\n")
        reporter.write_line(
            f"conformance: {done} of {len(ENDPOINTS)} local-cluster routes exercised"
        )
    if missing:
        if reporter is not None:
            reporter.write_line(
                "conformance: no test exercised these local-cluster routes: " + ", ".join(missing),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
