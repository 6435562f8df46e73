"""How long the ``tcmodel`` command line takes before any request: ``--help``,
a usage error, and, for scale, a bare ``python -c pass``; with what
``python -X importtime`` says the command line imported.

Each case runs in a fresh process, ``rounds`` times; the table shows the
minimum and the median wall time (the minimum is the figure to compare with
the 150 ms target: the median carries the noise of a shared machine).

Run: ``python benchmarks/bench_cli.py [rounds]``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "tcmodel --help": [sys.executable, "-m", "tcmodel", "--help"],
    "tcmodel log --help": [sys.executable, "-m", "tcmodel", "log", "--help"],
    "tcmodel wait (usage error)": [sys.executable, "-m", "tcmodel", "wait"],
}


def wall_times(argv: list[str], rounds: int) -> list[float]:
    """Wall seconds of ``rounds`` runs of ``argv``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def heavy_imports() -> list[str]:
    """Modules ``--help`` imported that a request would need (none, we hope)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tcmodel", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    watched = ("httpx", "mohawk", "attrs", "tcmodel.cluster", "tcmodel.transport")
    return sorted(n for n in names if n in watched)


def main(rounds: int = 15) -> None:
    print(f"{'case':<30} {'min ms':>8} {'median ms':>10}")
    for name, argv in CASES.items():
        times = wall_times(argv, rounds)
        print(f"{name:<30} {min(times) * 1000:8.0f} {statistics.median(times) * 1000:10.0f}")
    heavy = heavy_imports()
    print(f"imported by --help among httpx, mohawk, attrs, cluster, transport: {heavy or 'none'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
