"""An embedded Taskcluster (queue, index, object) for demos and tests.

:class:`LocalCluster` serves the emulated services over real HTTP on
127.0.0.1, with Hawk authentication, scopes, roles, a second "blob" origin
standing in for S3, a request log and fault injection.

Example:
    >>> from tcmodel.testing import LocalCluster
    >>> with LocalCluster() as lc:
    ...     lc.root_url.startswith("http://127.0.0.1:")
    True
"""

from tcmodel.testing.faults import Fault
from tcmodel.testing.server import LocalCluster, RequestRecord
from tcmodel.testing.state import Settings

__all__ = ["Fault", "LocalCluster", "RequestRecord", "Settings"]
