"""Memory and speed of an upload of a 200 MiB file as an object artifact.

The parent process runs a LocalCluster (which keeps what it receives in
memory), creates a task and claims it with the test worker. A child process,
which holds nothing but tcmodel and the claim's temporary credentials,
uploads the file with :func:`tcmodel.upload.upload_op` twice: once to
measure the growth of its RSS high-water mark (``VmHWM``, else
``resource.getrusage``) and the throughput, once under ``tracemalloc`` for
the peak of Python allocations. The parent then checks the hashes the
object service recorded against the file's. The target is a growth under
32 MiB. Not a test: it prints figures.

Usage: ``python benchmarks/bench_upload_memory.py [size_mib]``
"""

from __future__ import annotations

import hashlib
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
NAMES = ("public/bench/big.bin", "public/bench/again.bin")
_MIB = 1024 * 1024


def child(root_url: str, task_id: str, path: str) -> None:
    """Upload the file with the claim's credentials; print the figures as JSON."""
    import tcmodel
    from tcmodel.upload import upload_op

    raw = json.loads(os.environ["BENCH_CLAIM_CREDENTIALS"])
    creds = tcmodel.Credentials(raw["clientId"], raw["accessToken"], raw.get("certificate"))
    source = Path(path)
    with tcmodel.Cluster.from_url(root_url, creds) as cluster:
        t = cluster.transport
        t.run(upload_op(t, task_id, 0, "public/bench/small.bin", b"warm-up", expires="1 day"))
        reset_peak()
        before = peak_mib()
        started = time.perf_counter()
        t.run(upload_op(t, task_id, 0, NAMES[0], source, expires="1 day"))
        seconds = time.perf_counter() - started
        after = peak_mib()

        tracemalloc.start()
        t.run(upload_op(t, task_id, 0, NAMES[1], source, expires="1 day"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        json.dumps(
            {
                "bytes": source.stat().st_size,
                "seconds": seconds,
                "rss_before_mib": before,
                "rss_growth_mib": after - before,
                "tracemalloc_peak_mib": peak / _MIB,
            }
        )
    )


def _write(path: Path, size_mib: int) -> dict[str, str]:
    """Fill ``path`` with random bytes; their sha256 and sha512."""
    hashers = {a: hashlib.new(a) for a in ("sha256", "sha512")}
    with path.open("wb") as f:
        for _ in range(size_mib):
            block = os.urandom(_MIB)
            f.write(block)
            for h in hashers.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashers.items()}


def main(size_mib: int) -> None:
    """Set up the cluster, the claim and the file, run the child, print the figures."""
    from tcmodel.testing import LocalCluster
    from tcmodel.testing.queue_core import object_name
    from tcmodel.testing.worker import Worker

    with LocalCluster() as lc, lc.connect() as admin, tempfile.TemporaryDirectory() as tmp:
        task = admin.create_task(task_queue_id="proj/bench", payload={}, name="bench")
        src = Path(tmp) / "big.bin"
        expected = _write(src, size_mib)
        with Worker(lc, "proj/bench") as worker:
            run = worker.claim_task(task.task_id)
            c = run.credentials
            raw = {"clientId": c.client_id, "accessToken": c.access_token}
            if c.certificate:
                raw["certificate"] = c.certificate
            out = subprocess.run(
                [sys.executable, __file__, "--child", lc.root_url, task.task_id, str(src)],
                env={**os.environ, "BENCH_CLAIM_CREDENTIALS": json.dumps(raw)},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            run.complete()
        stored = [lc.state.objects.get_object(object_name(task.task_id, 0, n)) for n in NAMES]
        verified = all(o is not None and o["finished"] and o["hashes"] == expected for o in stored)
    figures = json.loads(out.strip().splitlines()[-1])
    mib = figures["bytes"] / _MIB
    growth = figures["rss_growth_mib"]
    print(f"artifact:           {mib:.0f} MiB object artifact from a file (putUrl, sha256+sha512)")
    print(f"upload:             {figures['seconds']:.2f} s, {mib / figures['seconds']:.0f} MiB/s")
    print(f"child RSS at start: {figures['rss_before_mib']:.1f} MiB")
    print(f"RSS growth:         {growth:.1f} MiB (target < {TARGET_MIB} MiB)")
    print(f"tracemalloc peak:   {figures['tracemalloc_peak_mib']:.2f} MiB")
    print(f"hashes verified:    {verified}")
    ok = growth < TARGET_MIB and verified
    print("result:             " + ("OK" if ok else "OVER TARGET OR NOT VERIFIED"))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE_MIB)
