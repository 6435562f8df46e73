"""tcmodel: explore and drive a Taskcluster deployment as a lazy tree of objects.

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> cluster
    <Cluster 'https://tc.example.com' anonymous>
"""

from tcmodel import _logsafety
from tcmodel._version import __version__
from tcmodel.cluster import Cluster
from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.errors import (
    APIError,
    ArtifactError,
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
    MalformedPayload,
    NoMatchingBackend,
    NoMatchingMethod,
    NotFound,
    RequestConflict,
    ResourceExpired,
    ServerError,
    TaskclusterError,
    TooManyRequests,
    WaitTimeout,
)
from tcmodel.scopes import scope_match
from tcmodel.utils import from_now, from_now_json, slug_id, stable_slug_id

_logsafety.install()

__all__ = [
    "APIError",
    "ArtifactError",
    "AuthenticationFailed",
    "BadRequest",
    "Cluster",
    "ConfigurationError",
    "ConnectionFailed",
    "Credentials",
    "HashMismatch",
    "InputError",
    "InputTooLarge",
    "InputValidationError",
    "InsufficientScopes",
    "InternalServerError",
    "InvalidRequestArguments",
    "MalformedPayload",
    "NoMatchingBackend",
    "NoMatchingMethod",
    "NotFound",
    "RequestConflict",
    "ResourceExpired",
    "ServerError",
    "TaskclusterError",
    "TooManyRequests",
    "WaitTimeout",
    "__version__",
    "create_temporary_credentials",
    "from_now",
    "from_now_json",
    "scope_match",
    "slug_id",
    "stable_slug_id",
]
