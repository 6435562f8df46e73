"""The RSS high-water mark of a benchmark's child process, shared by the
memory benchmarks (which run as scripts: this folder is on ``sys.path``)."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path


def reset_peak() -> None:
    """Reset the RSS high-water mark where Linux allows it (``clear_refs``)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float:
    """The RSS high-water mark of this process, in MiB.

    ``VmHWM`` where there is ``/proc``: ``ru_maxrss`` would also count the
    parent's RSS at fork time, which Linux carries across ``exec``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
