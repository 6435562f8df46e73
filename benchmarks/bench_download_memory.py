"""Memory and speed of ``Artifact.download`` for a 200 MiB object artifact.

The parent process runs a LocalCluster and uploads the artifact from a file
(streamed: hashed in one pass, PUT in 1 MiB pieces). A child process, which
holds nothing but tcmodel, downloads it twice: once to measure the growth
of its RSS high-water mark (``VmHWM``, else ``resource.getrusage``) and the
throughput,
once under ``tracemalloc`` for the peak of Python allocations. The target
is a growth under 32 MiB. Not a test: it prints figures.

Usage: ``python benchmarks/bench_download_memory.py [size_mib]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from _rss import peak_mib, reset_peak

SIZE_MIB = 200
TARGET_MIB = 32
NAME = "public/bench/big.bin"
_MIB = 1024 * 1024


def child(root_url: str, task_id: str) -> None:
    """Download the artifact anonymously and print the figures as JSON."""
    import tcmodel
    from tcmodel.resources.artifact import Artifact

    with tcmodel.Cluster.from_url(root_url) as cluster, tempfile.TemporaryDirectory() as tmp:
        art = Artifact(cluster, task_id, 0, NAME)
        Artifact(cluster, task_id, 0, "public/bench/small.bin").read_bytes()  # warm up
        reset_peak()
        before = peak_mib()
        started = time.perf_counter()
        path = art.download(Path(tmp) / "big.bin")
        seconds = time.perf_counter() - started
        after = peak_mib()
        size = path.stat().st_size
        path.unlink()

        tracemalloc.start()
        art.download(Path(tmp) / "big.bin")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        json.dumps(
            {
                "bytes": size,
                "seconds": seconds,
                "rss_before_mib": before,
                "rss_growth_mib": after - before,
                "tracemalloc_peak_mib": peak / _MIB,
            }
        )
    )


def main(size_mib: int) -> None:
    """Set up the cluster and the artifact, run the child, print the figures."""
    import tcmodel
    from tcmodel.testing import LocalCluster
    from tcmodel.testing.worker import Worker

    with LocalCluster() as lc, tempfile.TemporaryDirectory() as tmp:
        admin = tcmodel.Cluster.from_url(lc.root_url, lc.root_credentials)
        task = admin.create_task(task_queue_id="proj/bench", payload={}, name="bench")
        src = Path(tmp) / "big.bin"
        with src.open("wb") as f:
            for _ in range(size_mib):
                f.write(os.urandom(_MIB))
        with Worker(lc, "proj/bench") as worker:
            run = worker.claim_task(task.task_id)
            started = time.perf_counter()
            run.upload(NAME, src)
            upload_seconds = time.perf_counter() - started
            run.upload("public/bench/small.bin", b"warm-up")
            run.complete()
        src.unlink()
        admin.close()
        out = subprocess.run(
            [sys.executable, __file__, "--child", lc.root_url, task.task_id],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    mib = figures["bytes"] / _MIB
    growth = figures["rss_growth_mib"]
    print(f"artifact:           {mib:.0f} MiB object artifact (getUrl, the strongest hash checked)")
    print(f"upload (worker):    {mib / upload_seconds:.0f} MiB/s")
    print(f"download:           {figures['seconds']:.2f} s, {mib / figures['seconds']:.0f} MiB/s")
    print(f"child RSS at start: {figures['rss_before_mib']:.1f} MiB")
    print(f"RSS growth:         {growth:.1f} MiB (target < {TARGET_MIB} MiB)")
    print(f"tracemalloc peak:   {figures['tracemalloc_peak_mib']:.2f} MiB")
    print("result:             " + ("OK" if growth < TARGET_MIB else "OVER TARGET"))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE_MIB)
