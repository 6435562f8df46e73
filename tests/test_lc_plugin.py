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


def test_tc_client_and_tc_worker_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_worker_drives_a_task(tc_client, tc_worker, tc_cluster):
            task = tc_client.create_task(task_queue_id="proj/ci", payload={}, name="build")
            assert task.state == "pending"
            tc_worker.run(task.task_id, log="built\\n", artifacts={"public/a.txt": "hello"})
            assert task.refresh().state == "completed"
            assert task.latest_artifact("public/a.txt").read_text() == "hello"
            assert task.log() == "built\\n"
            assert any(r.entry == "claimWork" for r in tc_cluster.requests)
        """
    )
    result = pytester.runpytest_inprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_connect_signs_with_the_cluster_clock() -> None:
    import tcmodel
    from tcmodel.testing import LocalCluster

    with LocalCluster() as lc:
        real_time = tcmodel.Cluster.from_url(lc.root_url, credentials=lc.root_credentials)
        with lc.connect() as cluster:
            task = cluster.create_task(task_queue_id="proj/ci", payload={}, name="t")
            lc.advance(20 * 60)  # past Hawk's 15-minute window
            assert cluster.task(task.task_id).state == "pending"
            # A client on the real clock is refused once, then signs with the
            # time the cluster's Date header told it.
            lc.reset_requests()
            assert real_time.task(task.task_id).state == "pending"
            assert [r.status for r in lc.requests] == [401, 200]
        with lc.connect(None) as anonymous, pytest.raises(tcmodel.InsufficientScopes):
            anonymous.create_task(task_queue_id="proj/ci", payload={}, name="t")
        real_time.close()
