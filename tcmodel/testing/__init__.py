"""An embedded Taskcluster for demos and tests: the public entry points.

:class:`LocalCluster` serves the emulated services (queue, index, object,
auth, secrets, hooks, notify, purge-cache) over real HTTP on 127.0.0.1, with
Hawk authentication, scopes, roles, a second "blob" origin standing in for
S3, a request log and fault injection (:class:`Fault`). The modules below it:
``server`` (HTTP, :class:`LocalCluster`), ``state`` (what a cluster holds),
``_core`` and ``_common`` (what every service shares), one module per
service (``queue*``, ``index``, ``objects``, ``auth_service``, ...),
``auth`` (request authentication), ``faults``, ``worker`` (a test worker),
``plugin`` (the pytest fixtures) and ``cli`` (``python -m tcmodel serve``).

Example:
    >>> from tcmodel.testing import LocalCluster
    >>> with LocalCluster() as lc:
    ...     lc.root_url.startswith("http://127.0.0.1:")
    True
"""

# The names load on first use (PEP 562): the pytest plugin below this
# package is imported by every pytest run, and must cost nothing until a
# fixture is used.

from __future__ import annotations

from tcmodel import _lazy

TYPE_CHECKING = False  # (not importing typing saves milliseconds)

if TYPE_CHECKING:
    from typing import Any

    from tcmodel.testing.faults import Fault
    from tcmodel.testing.server import LocalCluster, RequestRecord
    from tcmodel.testing.state import Settings

__all__ = ["Fault", "LocalCluster", "RequestRecord", "Settings"]

_LAZY = {
    "Fault": "tcmodel.testing.faults",
    "LocalCluster": "tcmodel.testing.server",
    "RequestRecord": "tcmodel.testing.server",
    "Settings": "tcmodel.testing.state",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use, then keep it here."""
    return _lazy.load(globals(), _LAZY, name)


def __dir__() -> list[str]:
    """Every public name, imported or not."""
    return _lazy.names(globals(), __all__)
