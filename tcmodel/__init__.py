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

_logsafety.install()

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
