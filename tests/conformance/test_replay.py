"""The local cluster answers like the real services: the 580 recorded
exchanges of ``../shared/taskcluster/traces/real-v106.jsonl``, replayed in
file order against one local cluster (see trace_replay.py).

Each case is its own test; asking for case ``i`` first replays every earlier
case that has not run yet, so the order holds however the tests are picked
or ordered. ``tests/conftest.py`` prints the ``trace replay: …`` summary line.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from schemas import require_shared
from trace_replay import CASES, DEPLOYMENT_SPECIFIC, REPLAYS, TRACE_FILE, Replayer, unexpected

from tcmodel.testing import LocalCluster

require_shared(TRACE_FILE)


@pytest.fixture(scope="module")
def replayer() -> Iterator[Replayer]:
    """Replays the cases in file order against one local cluster."""
    with LocalCluster() as lc:
        r = Replayer(lc, CASES)
        REPLAYS.append(r)
        try:
            yield r
        finally:
            r.close()


def _param(i: int) -> object:
    name = CASES[i]["case"]
    reason = DEPLOYMENT_SPECIFIC.get(name)
    # only the AssertionError of the marked difference counts as the expected failure
    marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
    return pytest.param(i, id=name, marks=marks)


@pytest.mark.parametrize("index", [_param(i) for i in range(len(CASES))])
def test_case(replayer: Replayer, index: int) -> None:
    outcome = replayer.result(index)
    if outcome.case in DEPLOYMENT_SPECIFIC and unexpected(outcome):
        pytest.fail(f"{outcome.case}, beyond its mark: " + "; ".join(unexpected(outcome)))
    assert outcome.ok, f"{outcome.case}: " + "; ".join(outcome.problems)
