"""What live events cost: the local cluster's task life cycle (create,
claim, complete) per second without a Pulse URL, with one (messages go out
from a background thread), and how fast ``group.follow()`` delivers the
transitions of a group (events per second, sync driver).

Needs ``rabbitmq-server`` (Debian package) and the ``events`` extra.

Run: ``python benchmarks/bench_events.py [tasks]``
"""

from __future__ import annotations

import sys
import time

from tcmodel.testing import LocalCluster, Settings
from tcmodel.testing.broker import RabbitMQ
from tcmodel.testing.worker import Worker


def lifecycle(lc: LocalCluster, n: int, tq: str) -> tuple[float, str]:
    """Seconds to create, claim and complete ``n`` tasks; their group."""
    with lc.connect() as c:
        start = time.perf_counter()
        first = c.create_task(task_queue_id=tq, payload={}, name="t0")
        gid = first.task_group.task_group_id
        for i in range(1, n):
            c.create_task(task_queue_id=tq, payload={}, name=f"t{i}", task_group_id=gid)
        with Worker(lc, tq) as w:
            for run in w.claim(n):
                run.complete()
        return time.perf_counter() - start, gid


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with LocalCluster() as lc:
        lifecycle(lc, n, "bench/warm-up")
        plain, _ = lifecycle(lc, n, "bench/plain")
    print(f"life cycle, no Pulse URL:   {n / plain:8.0f} tasks/s")
    with RabbitMQ() as broker, LocalCluster(settings=Settings(pulse_url=broker.url)) as lc:
        published, gid = lifecycle(lc, n, "bench/pulse")
        assert lc.state.queue.pulse is not None
        lc.state.queue.pulse.flush()
        print(f"life cycle, publishing:     {n / published:8.0f} tasks/s")
        with lc.connect() as c:
            start = time.perf_counter()
            count = sum(1 for _ in c.task_group(gid).follow(pulse_url=broker.url, timeout=60))
            took = time.perf_counter() - start
        print(f"follow (replay of {count} events, one listing): {count / took:8.0f} events/s")


if __name__ == "__main__":
    main()
