"""The root of the object tree: one Taskcluster deployment.

Example:
    >>> cluster = Cluster.from_url("https://tc.example.com", credentials=("me", "token"))
    >>> cluster
    <Cluster 'https://tc.example.com' client_id='me'>
    >>> cluster.close()
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from tcmodel.credentials import Credentials, CredentialsLike
from tcmodel.errors import ConfigurationError
from tcmodel.transport import Call, Transport

__all__ = ["Cluster"]


class Cluster:
    """A Taskcluster deployment, reached through one signed transport.

    Make it with :meth:`from_url` or :meth:`from_env`. It is a context
    manager that closes its HTTP client. Handles made from it cost no
    request; requests are sent when data is read or an action is taken.

    Example:
        >>> with Cluster.from_url("https://tc.example.com") as c:
        ...     c.root_url
        'https://tc.example.com'
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def from_url(
        cls,
        root_url: str,
        credentials: CredentialsLike | None = None,
        *,
        authorized_scopes: Sequence[str] | None = None,
        max_retries: int = 5,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> Cluster:
        """Connect to the deployment at ``root_url``.

        ``credentials`` is a :class:`~tcmodel.Credentials`, a ``(client_id,
        access_token)`` tuple, or the official client's dict form; without
        it requests go unsigned (anonymous). ``authorized_scopes`` narrows
        what the credentials may do. ``client`` may be your own
        ``httpx.Client`` (proxies, TLS, event hooks); requests are signed
        through it.

        Example:
            >>> Cluster.from_url("https://tc.example.com/").root_url
            'https://tc.example.com'
        """
        try:
            transport = Transport(
                root_url,
                credentials,
                authorized_scopes=authorized_scopes,
                max_retries=max_retries,
                client=client,
                async_client=async_client,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        return cls(transport)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Cluster:
        """Connect as the standard environment variables say.

        ``TASKCLUSTER_ROOT_URL``, ``TASKCLUSTER_CLIENT_ID``,
        ``TASKCLUSTER_ACCESS_TOKEN`` and ``TASKCLUSTER_CERTIFICATE``; inside
        a task, when ``TASKCLUSTER_PROXY_URL`` is set, requests go to the
        proxy unsigned (it adds the task's credentials). Other keyword
        arguments go to :meth:`from_url`.

        Example:
            >>> Cluster.from_env({"TASKCLUSTER_ROOT_URL": "https://tc.example.com"})
            <Cluster 'https://tc.example.com' anonymous>
        """
        env = os.environ if environ is None else environ
        proxy = env.get("TASKCLUSTER_PROXY_URL", "").strip()
        if proxy:
            return cls.from_url(proxy, None, **kwargs)
        root_url = env.get("TASKCLUSTER_ROOT_URL", "").strip()
        if not root_url:
            raise ConfigurationError(
                "TASKCLUSTER_ROOT_URL is not set: set it to your deployment's root URL "
                "(e.g. https://tc.example.com), or use Cluster.from_url()"
            )
        client_id = env.get("TASKCLUSTER_CLIENT_ID", "").strip()
        token = env.get("TASKCLUSTER_ACCESS_TOKEN", "").strip()
        credentials: Credentials | None = None
        if client_id or token:
            if not (client_id and token):
                missing = "TASKCLUSTER_ACCESS_TOKEN" if client_id else "TASKCLUSTER_CLIENT_ID"
                raise ConfigurationError(f"{missing} is not set, but its partner variable is")
            cert = env.get("TASKCLUSTER_CERTIFICATE", "").strip() or None
            credentials = Credentials(client_id, token, cert)
        return cls.from_url(root_url, credentials, **kwargs)

    # identity

    @property
    def root_url(self) -> str:
        """The deployment's root URL (no trailing ``/``)."""
        return self.transport.root_url

    @property
    def credentials(self) -> Credentials | None:
        """The credentials requests are signed with (``None``: anonymous)."""
        return self.transport.credentials

    def __repr__(self) -> str:
        who = (
            f"client_id={self.credentials.client_id!r}" if self.credentials else "anonymous"
        )
        return f"<Cluster {self.root_url!r} {who}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cluster) and other.root_url == self.root_url

    def __hash__(self) -> int:
        return hash(("Cluster", self.root_url))

    # requests

    def ping(self) -> dict[str, Any]:
        """Ask the queue whether it is alive (``queue.ping``).

        Example:
            >>> # cluster.ping()  ->  {'alive': True, 'uptime': 12.3}
        """
        result: dict[str, Any] = self.transport.run(self.transport.call(Call.of("queue", "ping")))
        return result

    # lifetime

    def close(self) -> None:
        """Close the HTTP client tcmodel made (yours is left open)."""
        self.transport.close()

    async def aclose(self) -> None:
        """Close the async HTTP client tcmodel made."""
        await self.transport.aclose()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        self.close()
