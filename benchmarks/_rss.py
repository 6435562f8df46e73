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


def _status_mib(field: str) -> float | None:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in MiB, or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mib() -> float:
    """The RSS high-water mark of this process, in MiB.

    ``VmHWM`` where there is ``/proc``: ``ru_maxrss`` would also count the
    parent's RSS at fork time, which Linux carries across ``exec``.
    """
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """The RSS of this process now, in MiB (0 without ``/proc``)."""
    return _status_mib("VmRSS") or 0.0
