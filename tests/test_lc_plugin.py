"""The pytest plugin: the ``tc_cluster`` fixture, run in an inner pytest."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]


def _plugin_args() -> list[str]:
    """``-p tcmodel.testing.plugin`` unless the installed entry point loads it."""
    installed = any(ep.value == "tcmodel.testing.plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "tcmodel.testing.plugin"]


def test_tc_cluster_fixture_serves_and_stops(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import taskcluster

        SEEN = []

        def test_uses_cluster(tc_cluster):
            assert tc_cluster.running
            c = tc_cluster.root_credentials
            queue = taskcluster.Queue({
                "rootUrl": tc_cluster.root_url,
                "credentials": {"clientId": c.client_id, "accessToken": c.access_token},
            })
            assert queue.ping()["alive"] is True
            SEEN.append(tc_cluster)

        def test_fresh_cluster_each_test(tc_cluster):
            first = SEEN[0]
            assert not first.running
            assert tc_cluster is not first and tc_cluster.requests == []
            try:
                httpx.get(first.root_url + "/api/queue/v1/ping")
            except httpx.TransportError:
                pass
            else:
                raise AssertionError("the first cluster still answers")
        """
    )
    result = pytester.runpytest_inprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
