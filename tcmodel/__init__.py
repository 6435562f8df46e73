"""tcmodel: explore and drive a Taskcluster deployment as a lazy tree of objects."""

from tcmodel._version import __version__

__all__ = ["__version__"]
