"""Shared test configuration (tests/ is on sys.path via pyproject's pythonpath).

Conformance bookkeeping: every LocalCluster the suite starts reports which
API entries it answered; when the whole suite runs, an entry of the queue,
index or object service that no test exercised fails the run.

Shared fixtures: ``lc`` (a started LocalCluster, settings from the
``lc_settings`` fixture a module may override) and ``admin``/``root`` (a
tcmodel client of it with root credentials); helpers in lc_client_support.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcmodel
from tcmodel.api import ENDPOINTS
from tcmodel.testing import LocalCluster, Settings

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


@pytest.fixture
def lc_settings() -> Settings | None:
    """The settings of ``lc``: defaults; a module overrides this fixture for
    other ones (a smaller page size, say)."""
    return None


@pytest.fixture
def lc(lc_settings: Settings | None) -> Iterator[LocalCluster]:
    """A started local cluster (modules may define their own ``lc``)."""
    with LocalCluster(settings=lc_settings) as cluster:
        yield cluster


@pytest.fixture
def admin(lc: LocalCluster) -> Iterator[tcmodel.Cluster]:
    """A client of ``lc`` with its root credentials (scope ``*``)."""
    with lc.connect() as cluster:
        yield cluster


@pytest.fixture
def root(admin: tcmodel.Cluster) -> tcmodel.Cluster:
    """Another name of ``admin``."""
    return admin


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[object]:
    """A RabbitMQ broker of the session's own on 127.0.0.1
    (:class:`tcmodel.testing.broker.RabbitMQ`). Skips the test when
    ``rabbitmq-server`` is missing or will not start, except under CI
    (``CI=true``), where that fails it."""
    import os

    from tcmodel.testing.broker import BrokerError, RabbitMQ

    def unavailable(why: str) -> None:
        msg = f"no RabbitMQ broker, Pulse tests skipped: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)

    if not RabbitMQ.available():
        unavailable("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    broker = RabbitMQ()
    try:
        broker.start()
    except BrokerError as exc:
        unavailable(str(exc))
    yield broker
    broker.stop()


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the trace replay's summary line (tests/conformance) when it ran;
    say how many tests skipped for want of ``../shared/taskcluster`` (the
    real schemas, traces and the official client's vectors), and how to point
    them at a copy (README, "The shared Taskcluster files")."""
    from schemas import MISSING_HINT

    replay = sys.modules.get("trace_replay")  # tests/conformance ran: its summary
    line = replay.summary_line() if replay is not None else None
    if line:
        terminalreporter.write_line(line)
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if MISSING_HINT in str(r.longrepr)
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} skipped (tests or whole modules): {MISSING_HINT} "
            "(schemas, traces and vectors; see README)",
            yellow=True,
        )
