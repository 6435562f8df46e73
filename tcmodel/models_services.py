"""Value classes for the answers of the auth, notify and purge-cache services.

They are built like the queue's models (see :mod:`tcmodel.models`): from a
JSON object with :func:`~tcmodel.models.from_json`, camelCase keys to
snake_case fields, dates to aware UTC datetimes, the answer kept in
``.raw``. Secrets (AWS keys) show as ``<secret>`` in reprs and displays.

Example:
    >>> from tcmodel.models import from_json
    >>> from_json(PurgeRequest, {"provisionerId": "proj", "workerType": "ci",
    ...     "cacheName": "checkouts", "before": "2024-01-31T12:00:00.000Z"}).worker_pool_id
    'proj/ci'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from tcmodel._completion import expose_models
from tcmodel.models import _Model

__all__ = ["AwsCredentials", "ClientInfo", "DenylistedAddress", "PurgeRequest", "RoleInfo"]


def _secret(value: Any) -> str:
    """How a secret field shows in a repr or a display."""
    return "<secret>"


# --- auth ----------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class ClientInfo(_Model):
    """A client of the auth service, as ``client`` and ``listClients`` give
    it (never its access token).

    Example:
        >>> from tcmodel.models import from_json
        >>> when = "2024-01-31T12:00:00.000Z"
        >>> info = from_json(ClientInfo, {"clientId": "proj/ci", "description": "CI",
        ...     "expires": "3000-01-01T00:00:00.000Z", "created": when, "lastModified": when,
        ...     "lastDateUsed": when, "lastRotated": when, "scopes": ["queue:*"],
        ...     "expandedScopes": ["queue:*"], "disabled": False, "deleteOnExpiration": False})
        >>> info.client_id, info.scopes, info.disabled
        ('proj/ci', ('queue:*',), False)
    """

    client_id: str
    description: str
    expires: datetime
    disabled: bool
    scopes: tuple[str, ...] = ()
    expanded_scopes: tuple[str, ...] = attrs.field(default=(), repr=False)
    created: datetime | None = None
    last_modified: datetime | None = attrs.field(default=None, repr=False)
    last_date_used: datetime | None = attrs.field(default=None, repr=False)
    last_rotated: datetime | None = attrs.field(default=None, repr=False)
    delete_on_expiration: bool | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True, repr=False)
class RoleInfo(_Model):
    """A role of the auth service, as ``role`` and ``listRoles2`` give it.

    Example:
        >>> from tcmodel.models import from_json
        >>> when = "2024-01-31T12:00:00.000Z"
        >>> from_json(RoleInfo, {"roleId": "project:ci", "scopes": ["assume:x"],
        ...     "expandedScopes": ["assume:x", "index:*"], "description": "",
        ...     "created": when, "lastModified": when}).expanded_scopes
        ('assume:x', 'index:*')
    """

    role_id: str
    scopes: tuple[str, ...] = ()
    expanded_scopes: tuple[str, ...] = attrs.field(default=(), repr=False)
    description: str = ""
    created: datetime | None = None
    last_modified: datetime | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True, repr=False)
class AwsCredentials(_Model):
    """Temporary AWS credentials for an S3 bucket and prefix
    (``awsS3Credentials``); the secret key and session token show as
    ``<secret>``.

    Example:
        >>> from tcmodel.models import from_json
        >>> from_json(AwsCredentials, {"accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t",
        ...     "sessionToken": "t0k3n", "expires": "2024-01-31T13:00:00.000Z"})
        AwsCredentials(access_key_id='AKIA1', secret_access_key=<secret>, \
session_token=<secret>, expires=2024-01-31T13:00:00Z)
    """

    access_key_id: str
    secret_access_key: str = attrs.field(repr=_secret)
    session_token: str = attrs.field(repr=_secret)
    expires: datetime


# --- notify --------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class DenylistedAddress(_Model):
    """An address notify will not send to (``listDenylist``):
    ``notification_type`` is ``email``, ``pulse``, ``matrix-room`` or
    ``slack-channel``.

    Example:
        >>> from tcmodel.models import from_json
        >>> from_json(DenylistedAddress, {"notificationType": "email",
        ...     "notificationAddress": "noreply@example.com"})
        DenylistedAddress(notification_type='email', notification_address='noreply@example.com')
    """

    notification_type: str
    notification_address: str


# --- purge-cache ---------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class PurgeRequest(_Model):
    """A request to purge cache ``cache_name`` of a worker pool's workers:
    caches created before ``before`` are destroyed.

    Example:
        >>> from tcmodel.models import from_json
        >>> from_json(PurgeRequest, {"provisionerId": "proj", "workerType": "ci",
        ...     "cacheName": "checkouts", "before": "2024-01-31T12:00:00.000Z"})
        PurgeRequest(provisioner_id='proj', worker_type='ci', cache_name='checkouts', \
before=2024-01-31T12:00:00Z)
    """

    provisioner_id: str
    worker_type: str
    cache_name: str
    before: datetime

    @property
    def worker_pool_id(self) -> str:
        """The worker pool (``provisionerId/workerType``).

        Example:
            >>> from tcmodel.models import from_json
            >>> from_json(PurgeRequest, {"provisionerId": "proj", "workerType": "ci",
            ...     "cacheName": "c", "before": "2024-01-31T12:00:00Z"}).worker_pool_id
            'proj/ci'
        """
        return f"{self.provisioner_id}/{self.worker_type}"


expose_models(ClientInfo, RoleInfo, AwsCredentials, DenylistedAddress, PurgeRequest)
