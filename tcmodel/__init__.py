"""tcmodel: explore and drive a Taskcluster deployment as a lazy tree of objects.

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> cluster
    <Cluster 'https://tc.example.com' anonymous>
"""

# ``import tcmodel`` is instant: every public name is imported on first use
# (PEP 562), so that httpx, the transport and the models load only when
# something needs them (and the pytest plugin, which every pytest run
# imports, costs nothing). The log filter that keeps secrets out of the
# logs is installed by tcmodel.hawk, which every request path imports
# before it can send (or log) anything.

from __future__ import annotations

from tcmodel import _lazy
from tcmodel._version import __version__

TYPE_CHECKING = False  # (not importing typing saves milliseconds)

if TYPE_CHECKING:
    from typing import Any

    from tcmodel.cluster import Cluster
    from tcmodel.credentials import Credentials, create_temporary_credentials
    from tcmodel.download import ContentChanged, DownloadError, StorageRefused
    from tcmodel.errors import (
        AnswerTooLarge,
        APIError,
        ArtifactError,
        AsyncUsageError,
        AuthenticationFailed,
        BadRequest,
        ConfigurationError,
        ConnectionFailed,
        HashMismatch,
        InputError,
        InputTooLarge,
        InputValidationError,
        InsufficientScopes,
        InternalServerError,
        InvalidRequestArguments,
        MalformedAnswer,
        MalformedPayload,
        NoMatchingBackend,
        NoMatchingMethod,
        NotFound,
        PagingError,
        RequestConflict,
        ResourceExpired,
        ServerError,
        TaskclusterError,
        TooManyRequests,
        UnknownName,
        WaitTimeout,
    )
    from tcmodel.scopes import scope_match
    from tcmodel.upload import UploadError
    from tcmodel.utils import from_now, from_now_json, slug_id, stable_slug_id

#: The public names imported on first use, and the module of each.
_LAZY = {
    "AnswerTooLarge": "tcmodel.errors",
    "APIError": "tcmodel.errors",
    "ArtifactError": "tcmodel.errors",
    "AsyncUsageError": "tcmodel.errors",
    "AuthenticationFailed": "tcmodel.errors",
    "BadRequest": "tcmodel.errors",
    "ConfigurationError": "tcmodel.errors",
    "ConnectionFailed": "tcmodel.errors",
    "HashMismatch": "tcmodel.errors",
    "InputError": "tcmodel.errors",
    "InputTooLarge": "tcmodel.errors",
    "InputValidationError": "tcmodel.errors",
    "InsufficientScopes": "tcmodel.errors",
    "InternalServerError": "tcmodel.errors",
    "InvalidRequestArguments": "tcmodel.errors",
    "MalformedAnswer": "tcmodel.errors",
    "MalformedPayload": "tcmodel.errors",
    "NoMatchingBackend": "tcmodel.errors",
    "NoMatchingMethod": "tcmodel.errors",
    "NotFound": "tcmodel.errors",
    "PagingError": "tcmodel.errors",
    "RequestConflict": "tcmodel.errors",
    "ResourceExpired": "tcmodel.errors",
    "ServerError": "tcmodel.errors",
    "TaskclusterError": "tcmodel.errors",
    "TooManyRequests": "tcmodel.errors",
    "UnknownName": "tcmodel.errors",
    "WaitTimeout": "tcmodel.errors",
    "Cluster": "tcmodel.cluster",
    "Credentials": "tcmodel.credentials",
    "create_temporary_credentials": "tcmodel.credentials",
    "ContentChanged": "tcmodel.download",
    "DownloadError": "tcmodel.download",
    "StorageRefused": "tcmodel.download",
    "scope_match": "tcmodel.scopes",
    "UploadError": "tcmodel.upload",
    "from_now": "tcmodel.utils",
    "from_now_json": "tcmodel.utils",
    "slug_id": "tcmodel.utils",
    "stable_slug_id": "tcmodel.utils",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562), then keep it here; a
    submodule (``tcmodel.models``) is imported when first named, as it was
    when ``import tcmodel`` imported them all."""
    return _lazy.load(globals(), _LAZY, name, submodules=True)


def __dir__() -> list[str]:
    """Every public name, imported or not (for ``dir()`` and tab completion)."""
    return _lazy.names(globals(), __all__)


__all__ = [
    "APIError",
    "AnswerTooLarge",
    "ArtifactError",
    "AsyncUsageError",
    "AuthenticationFailed",
    "BadRequest",
    "Cluster",
    "ConfigurationError",
    "ConnectionFailed",
    "ContentChanged",
    "Credentials",
    "DownloadError",
    "HashMismatch",
    "InputError",
    "InputTooLarge",
    "InputValidationError",
    "InsufficientScopes",
    "InternalServerError",
    "InvalidRequestArguments",
    "MalformedAnswer",
    "MalformedPayload",
    "NoMatchingBackend",
    "NoMatchingMethod",
    "NotFound",
    "PagingError",
    "RequestConflict",
    "ResourceExpired",
    "ServerError",
    "StorageRefused",
    "TaskclusterError",
    "TooManyRequests",
    "UnknownName",
    "UploadError",
    "WaitTimeout",
    "__version__",
    "create_temporary_credentials",
    "from_now",
    "from_now_json",
    "scope_match",
    "slug_id",
    "stable_slug_id",
]
