"""``python -m benchmarks``: tcmodel against the official ``taskcluster``
client, side by side, on one local cluster served from a separate process.

The cluster (:mod:`benchmarks._server`) runs in a child process on
127.0.0.1 and is seeded in process; every client measurement runs in a
fresh process of its own (:mod:`benchmarks._client`), so imports, CPU and
memory of one side never weigh on the other's. Prints a table (median, min
and max over the rounds; the ratio of tcmodel's median to the official
client's, and to curl's for downloads) and, with ``--json PATH``, writes
every sample. What each row measures: docs/performance.md.

    python -m benchmarks                     # everything (several minutes)
    python -m benchmarks --quick             # small sizes, 1 round: a smoke test
    python -m benchmarks --only walk --only statuses --rounds 7 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from benchmarks._client import IMPORT_CODE

BENCHMARKS = ("import", "signed_get", "walk", "statuses", "download", "fanout", "async")
SIDES = ("tcmodel", "official", "curl")
_MIB = 1024 * 1024


@attrs.define
class Sizes:
    """How big each benchmark is (full run, or ``--quick``)."""

    signed_gets: int = 2000
    walks: tuple[int, ...] = (1100, 20000)
    statuses: int = 1000
    download_mib: int = 1024
    download_rounds: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(signed_gets=200, walks=(120, 1100), statuses=100, download_mib=16)


@attrs.define
class Row:
    """The samples of one figure of one side."""

    bench: str
    metric: str
    unit: str
    side: str
    samples: list[float] = attrs.field(factory=list)

    def stats(self) -> dict[str, float]:
        return {
            "median": statistics.median(self.samples),
            "min": min(self.samples),
            "max": max(self.samples),
        }


class Results:
    """Rows in the order they were first measured."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Row] = {}

    def add(self, bench: str, metric: str, unit: str, side: str, value: float) -> None:
        key = (bench, metric, side)
        if key not in self.rows:
            self.rows[key] = Row(bench, metric, unit, side)
        self.rows[key].samples.append(float(value))

    def ratio(self, row: Row, base: str) -> float | None:
        """``row``'s median over ``base``'s: tcmodel's against the official
        client's, the clients' against curl's."""
        other = self.rows.get((row.bench, row.metric, base))
        side = "tcmodel" if row.side.startswith("tcmodel") else row.side
        wanted = ("tcmodel",) if base == "official" else ("tcmodel", "official")
        if other is None or side not in wanted or not other.samples or row.unit == "×":
            return None
        if base == "curl" and row.unit == "n":
            return None
        below = other.stats()["median"]
        return row.stats()["median"] / below if below else None

    def to_json(self) -> list[dict[str, Any]]:
        out = []
        for row in self.rows.values():
            out.append(
                {
                    "bench": row.bench,
                    "metric": row.metric,
                    "unit": row.unit,
                    "side": row.side,
                    "samples": row.samples,
                    **row.stats(),
                    "ratio_official": self.ratio(row, "official"),
                    "ratio_curl": self.ratio(row, "curl"),
                }
            )
        return out

    def table(self) -> str:
        head = (
            f"{'benchmark':<28} {'metric':<22} {'side':<40} {'median':>10} {'min':>10} "
            f"{'max':>10}  {'×official':>9} {'×curl':>6}"
        )
        lines = [head, "-" * len(head)]
        last = ""
        for row in self.rows.values():
            s = row.stats()
            r_off, r_curl = self.ratio(row, "official"), self.ratio(row, "curl")
            bench = row.bench if row.bench != last else ""
            last = row.bench
            lines.append(
                f"{bench:<28} {row.metric + ' (' + row.unit + ')':<22} {row.side:<40} "
                f"{_num(s['median'])} {_num(s['min'])} {_num(s['max'])}  "
                f"{_ratio(r_off):>9} {_ratio(r_curl):>6}"
            )
        return "\n".join(lines)


def _num(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:10.0f}"
    if abs(value) >= 1:
        return f"{value:10.2f}"
    return f"{value:10.4f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


# -- the server ---------------------------------------------------------------


class Server:
    """The local cluster child process (:mod:`benchmarks._server`)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark's local cluster did not start")
        self.info: dict[str, Any] = json.loads(line)

    def count(self) -> int:
        """Requests the cluster has answered so far."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def client_spec(self, **extra: Any) -> dict[str, Any]:
        keys = ("root_url", "blob_url", "client_id", "access_token")
        return {**{k: self.info[k] for k in keys}, **extra}

    def credentials(self) -> Any:
        import tcmodel

        return tcmodel.Credentials(self.info["client_id"], self.info["access_token"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


_ROOT = str(Path(__file__).resolve().parent.parent)


def run_client(
    bench: str, side: str, spec: dict[str, Any], server: Server | None = None
) -> dict[str, float]:
    """One measurement in a fresh process (:mod:`benchmarks._client`); with
    ``server``, ``requests`` is what the cluster answered during the
    measured part (after the child's warm-up)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._client", bench, side, json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=_ROOT,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"benchmark {bench} ({side}) failed before it started")
        before = server.count() if server is not None else 0
        child.stdin.write("go\n")
        child.stdin.flush()
        line = child.stdout.readline()
        after = server.count() if server is not None else 0
    finally:
        child.stdin.close()
        if child.wait(timeout=600) != 0:
            raise RuntimeError(f"benchmark {bench} ({side}) failed")
    figures: dict[str, float] = json.loads(line)
    if server is not None:
        figures["requests"] = after - before
    return figures


# -- the benchmarks ---------------------------------------------------------------


def bench_import(res: Results, rounds: int) -> None:
    """``import tcmodel`` against ``import taskcluster`` in a bare interpreter."""
    for _ in range(rounds):
        for side, module in (("tcmodel", "tcmodel"), ("official", "taskcluster")):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_CODE.format(module=module)],
                check=True,
                capture_output=True,
                text=True,
                cwd=_ROOT,
            ).stdout.split()
            res.add("import", "wall", "ms", side, float(out[0]) * 1000)
            res.add("import", "RSS after", "MiB", side, float(out[1]))


# (metric, unit, key in a client's output)
_REQUESTS = ("requests", "n", "requests")
_WALL = ("wall", "s", "wall_s")
_CPU = ("client CPU", "s", "cpu_s")
_CPU_PER_CALL = ("client CPU/call", "µs", "cpu_us_per_call")
_WALL_PER_CALL = ("wall/call", "µs", "wall_us_per_call")
_PEAK_RSS = ("peak RSS", "MiB", "peak_rss_mib")
_KEPT = ("kept/task", "bytes", "kept_bytes_per_task")


def _record(
    res: Results, name: str, side: str, out: dict[str, Any], *metrics: tuple[str, str, str]
) -> None:
    """Add the ``metrics`` of one client run's output ``out`` to ``res``."""
    for metric, unit, key in metrics:
        res.add(name, metric, unit, side, out[key])


def bench_signed_get(res: Results, server: Server, rounds: int, sizes: Sizes) -> None:
    """Client CPU per signed GET of a task's status."""
    spec = server.client_spec(task_id=server.info["status_ids"][0], calls=sizes.signed_gets)
    name = f"signed GET ×{sizes.signed_gets}"
    for _ in range(rounds):
        for side in ("tcmodel", "official"):
            out = run_client("signed_get", side, spec, server)
            _record(res, name, side, out, _REQUESTS, _CPU_PER_CALL, _WALL_PER_CALL)


def bench_walk(res: Results, server: Server, rounds: int, sizes: Sizes) -> None:
    """Walk a task group reading each task's state and name."""
    for size in sizes.walks:
        group_id = server.info["groups"][str(size)]
        spec = server.client_spec(group_id=group_id, size=size)
        name = f"group walk {size:,}"
        for _ in range(rounds):
            json_sizes: list[float] = []
            for side in ("tcmodel", "official"):
                out = run_client("walk", side, spec, server)
                _record(res, name, side, out, _REQUESTS, _WALL, _CPU, _PEAK_RSS, _KEPT)
                json_sizes.append(out.get("json_bytes_per_task", 0))
            res.add(name, "kept/task", "bytes", "JSON of a task (reference)", max(json_sizes))
            for side in ("tcmodel", "official"):
                kept = res.rows[(name, "kept/task", side)].samples[-1]
                res.add(name, "kept/task ÷ JSON", "×", side, kept / max(json_sizes))


def bench_statuses(res: Results, server: Server, rounds: int, sizes: Sizes) -> None:
    """The states of N tasks by id: bulk against one call per task."""
    ids = server.info["status_ids"][: sizes.statuses]
    spec = server.client_spec(ids=ids)
    name = f"statuses of {len(ids):,} ids"
    for _ in range(rounds):
        for side in ("tcmodel", "official"):
            out = run_client("statuses", side, spec, server)
            _record(res, name, side, out, _REQUESTS, _WALL, _CPU)


def _big_file(path: Path, mib: int) -> None:
    block = os.urandom(_MIB)
    with path.open("wb") as f:
        for i in range(mib):
            f.write(block[i % 256 :] + block[: i % 256])  # no two MiB alike


def _out_dir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def bench_download(res: Results, server: Server, rounds: int, sizes: Sizes) -> None:
    """A big artifact, ``s3`` and ``object``: tcmodel, the official
    client's download helper, curl on the data's URL."""
    import httpx

    import tcmodel
    from tcmodel.api import quote_param

    size = sizes.download_mib * _MIB
    with tempfile.TemporaryDirectory(dir=_out_dir()) as tmp:
        source = Path(tmp) / "big.bin"
        _big_file(source, sizes.download_mib)
        with tcmodel.Cluster.from_url(server.info["root_url"], server.credentials()) as admin:
            task = admin.create_task(task_queue_id="bench/artifacts", payload={}, name="big")
            (claim,) = admin.task_queue("bench/artifacts").claim_work("bench", "w1", tasks=1)
            with claim:
                for kind in ("s3", "object"):
                    claim.upload(f"public/big-{kind}.bin", source, storage_type=kind)
                claim.completed()
        source.unlink()
        urls = {}
        name = "public/big-s3.bin"
        with httpx.Client() as client:  # the s3 artifact redirects to its blob
            api = f"{server.info['root_url']}/api/queue/v1/task/{task.task_id}/runs/0/artifacts/"
            urls["s3"] = client.get(api + quote_param(name)).headers["location"]
        key = f"objects/t/{task.task_id}/0/public/big-object.bin"
        urls["object"] = f"{server.info['blob_url']}/blobs/{quote_param(key)}"
        for kind in ("s3", "object"):
            bench = f"download {sizes.download_mib} MiB {kind}"
            spec = server.client_spec(
                task_id=task.task_id,
                name=f"public/big-{kind}.bin",
                bytes=size,
                blob_url=urls[kind],
                out_dir=tmp,
            )
            sides = SIDES if shutil.which("curl") else SIDES[:2]  # curl: apt-get install curl
            for _ in range(min(rounds, sizes.download_rounds)):
                for side in sides:
                    out = run_client("download", side, spec, server)
                    res.add(bench, "requests", "n", side, out["requests"])
                    res.add(bench, "throughput", "MiB/s", side, out["mib_per_s"])
                    res.add(bench, "client CPU", "s", side, out["cpu_s"])
                    res.add(bench, "peak RSS", "MiB", side, out["peak_rss_mib"])


def bench_async(res: Results, server: Server, rounds: int, sizes: Sizes, only: set[str]) -> None:
    """200 × 1 MiB fan-out and 50 concurrent status loads, through
    :mod:`benchmarks.bench_async`'s own functions (seeded once)."""
    from benchmarks import bench_async as ba

    root_url, creds = server.info["root_url"], server.credentials()
    ids, arts = ba.seed(root_url, creds)
    if "async" in only:
        name = f"{len(ids)} concurrent status loads"
        for _ in range(rounds):
            for label, figure in ba.statuses(root_url, creds, ids, 1).items():
                _add_timing(res, name, _async_side(label), figure)
    if "fanout" in only:
        name = f"{len(arts)} × 1 MiB fan-out"
        for _ in range(rounds):
            for label, figure in ba.downloads(root_url, creds, arts, 1).items():
                _add_timing(res, name, label, figure)
            _add_timing(res, name, "official", _official_fanout(server, arts))


def _add_timing(res: Results, name: str, side: str, figure: object) -> None:
    """A figure of :mod:`benchmarks.bench_async`: wall milliseconds, or
    ``(wall, client CPU)`` milliseconds."""
    if isinstance(figure, tuple):
        res.add(name, "wall", "ms", side, figure[0])
        res.add(name, "client CPU", "ms", side, figure[1])
    else:
        assert isinstance(figure, (int, float)), figure
        res.add(name, "wall", "ms", side, figure)


def _async_side(label: str) -> str:
    """bench_async's label, ``official`` for the plain official figure."""
    return "official" if label == "taskcluster.aio, gathered" else label


def _official_fanout(
    server: Server, arts: list[tuple[str, str]], bound: int = 16
) -> tuple[float, float]:
    """The fan-out with ``taskcluster.aio``: ``downloadArtifactToBuf``
    gathered, ``bound`` at a time (an ``asyncio.Semaphore``); wall and
    client CPU milliseconds."""
    import taskcluster.aio
    from taskcluster.aio import download as aio_download

    options = {
        "rootUrl": server.info["root_url"],
        "credentials": {
            "clientId": server.info["client_id"],
            "accessToken": server.info["access_token"],
        },
    }

    async def run() -> tuple[float, float]:
        async with taskcluster.aio.createSession() as session:
            queue = taskcluster.aio.Queue(options, session=session)
            await queue.ping()
            gate = asyncio.Semaphore(bound)

            async def one(task_id: str, name: str) -> int:
                async with gate:
                    buf, _ = await aio_download.downloadArtifactToBuf(
                        taskId=task_id, name=name, queueService=queue
                    )
                    return len(buf)

            start, cpu = time.perf_counter(), time.process_time()
            got = await asyncio.gather(*(one(t, n) for t, n in arts))
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert all(n == _MIB for n in got), got[:3]
            return wall * 1000, cpu * 1000

    return asyncio.run(run())


# -- the command line -----------------------------------------------------------


@contextmanager
def serving(selected: set[str], sizes: Sizes) -> Iterator[Server | None]:
    """The seeded cluster the selected benchmarks need (none for import)."""
    if not selected - {"import"}:
        yield None
        return
    spec = {
        "groups": list(sizes.walks) if "walk" in selected else [],
        "statuses": max(sizes.statuses, 1) if selected & {"statuses", "signed_get"} else 0,
    }
    server = Server(spec)
    try:
        yield server
    finally:
        server.close()


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="tcmodel against the official client"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 round (smoke test)")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this one (repeatable)"
    )
    parser.add_argument("--rounds", type=int, help="repetitions (default 5; 1 with --quick)")
    parser.add_argument("--json", type=Path, help="write every sample to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print the table, write the JSON."""
    args = build_parser().parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    rounds = args.rounds or (1 if args.quick else 5)
    selected = set(args.only or BENCHMARKS)
    res = Results()
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[Server], None]]] = [
        ("signed_get", lambda s: bench_signed_get(res, s, rounds, sizes)),
        ("walk", lambda s: bench_walk(res, s, rounds, sizes)),
        ("statuses", lambda s: bench_statuses(res, s, rounds, sizes)),
        ("download", lambda s: bench_download(res, s, rounds, sizes)),
    ]
    if "import" in selected:
        bench_import(res, rounds)
    with serving(selected, sizes) as server:
        if server is not None:
            print(f"# local cluster seeded in {server.info['seed_seconds']:.1f} s", flush=True)
            for name, step in steps:
                if name in selected:
                    step(server)
            if selected & {"fanout", "async"}:
                bench_async(res, server, rounds, sizes, selected)
    print(res.table())
    print(f"# {rounds} round(s), {time.perf_counter() - started:.0f} s; {_machine()['summary']}")
    if args.json:
        doc = {
            "command": "python -m benchmarks " + " ".join(argv or sys.argv[1:]),
            "rounds": rounds,
            "sizes": attrs.asdict(sizes),
            "machine": _machine(),
            "results": res.to_json(),
        }
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


def _machine() -> dict[str, Any]:
    from importlib.metadata import version

    cores = os.cpu_count() or 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": cores,
        "load_1min": load,
        "tcmodel": version("tcmodel"),
        "taskcluster": version("taskcluster"),
    }
    info["summary"] = (
        f"Python {info['python']}, {cores} cores, load {load:.1f}, "
        f"tcmodel {info['tcmodel']}, taskcluster {info['taskcluster']}"
    )
    return info


if __name__ == "__main__":
    sys.exit(main())
