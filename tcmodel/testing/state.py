"""The state a local cluster holds: clock, settings, clients, blobs, services.

One :class:`ClusterState` lives behind each
:class:`~tcmodel.testing.LocalCluster`. The HTTP layer holds ``state.lock``
while a handler runs, so services read and change state freely.

Example:
    >>> st = ClusterState(root_url="http://127.0.0.1:1")
    >>> {"queue", "index", "object", "auth", "secrets"} <= set(st.services)
    True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from urllib.parse import urlencode

import attrs

from tcmodel.api import quote_param
from tcmodel.testing._common import Blob, Client
from tcmodel.testing._core import Clock, Service
from tcmodel.testing.auth_service import AuthService
from tcmodel.testing.hooks import HooksService
from tcmodel.testing.index import IndexService
from tcmodel.testing.notify import NotifyService
from tcmodel.testing.objects import ObjectService
from tcmodel.testing.purge_cache import PurgeCacheService
from tcmodel.testing.queue import QueueService
from tcmodel.testing.secrets import SecretsService

__all__ = ["ANONYMOUS_SCOPES", "Blob", "BlobStore", "Client", "ClusterState", "Settings"]

#: The default scopes of the ``anonymous`` role: public artifacts plus the
#: read-only calls a public deployment lets anyone make (the recorded v106
#: services' anonymous role, also for services not emulated here: github,
#: web, worker-manager). ``LocalCluster.add_role("anonymous", [...])``
#: replaces them.
ANONYMOUS_SCOPES: tuple[str, ...] = (
    "queue:get-artifact:public/*",
    "queue:get-task:*",
    "queue:status:*",
    "queue:list-task-group:*",
    "queue:list-dependent-tasks:*",
    "queue:list-artifacts:*",
    "index:find-task:*",
    "index:list-namespaces:*",
    "index:list-tasks:*",
    "auth:current-scopes",
    "auth:expand-scopes",
    "auth:get-client:*",
    "auth:get-role:*",
    "auth:list-clients",
    "auth:list-roles",
    "secrets:list-secrets",
    "hooks:get:*",
    "hooks:list-hooks:*",
    "hooks:list-last-fires:*",
    "hooks:status:*",
    "purge-cache:all-purge-requests",
    "purge-cache:purge-requests:*",
    "queue:get-provisioner:*",
    "queue:get-worker-type:*",
    "queue:get-worker:*",
    "queue:list-provisioners",
    "queue:list-worker-types:*",
    "queue:list-workers:*",
    "queue:pending-count:*",
    "github:get-badge:*",
    "github:get-repository:*",
    "github:latest-status:*",
    "github:list-builds",
    "web:read-pulse",
    "worker-manager:get-worker-pool:*",
    "worker-manager:get-worker:*",
    "worker-manager:list-providers",
    "worker-manager:list-worker-pool-errors:*",
    "worker-manager:list-worker-pools",
    "worker-manager:list-workers:*",
    "worker-manager:should-worker-terminate:*",
)


@attrs.define
class Settings:
    """Tunables of the local cluster; the defaults are the real services'.

    ``max_page_size`` caps every paged listing (shrink it so tests page).
    ``request_log_size`` is how many requests ``LocalCluster.requests``
    keeps (the oldest are dropped; the per-entry counts are kept whole).

    Example:
        >>> Settings(max_page_size=10).max_page_size
        10
        >>> Settings().request_log_size
        10000
    """

    max_page_size: int = 1000
    claim_timeout: int = 1200
    deadline_delay: int = 60
    max_task_deadline_days: int = 5
    claim_work_wait: float = 0.0  # real queue long-polls 20 s; 0 answers at once
    s3_presign_seconds: int = 1800
    object_geturl_seconds: int = 60
    request_log_size: int = 10_000
    #: An AMQP URL: the queue then publishes its Pulse messages there
    #: (:mod:`tcmodel.testing.pulse`); ``None`` publishes nothing.
    pulse_url: str | None = attrs.field(default=None, repr=False)  # holds a password


class BlobStore:
    """The emulated bucket behind the SECOND loopback origin.

    ``base_url`` is set when the blob server starts. URLs may be presigned:
    they then carry an expiry and an HMAC that the blob server checks.

    Example:
        >>> bs = BlobStore(Clock())
        >>> bs.base_url = "http://127.0.0.1:2"
        >>> bs.put("a/b", Blob(b"x"))
        >>> bs.get("a/b").data
        b'x'
        >>> bs.url("a/b")
        'http://127.0.0.1:2/blobs/a%2Fb'
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.base_url = ""
        self._blobs: dict[str, Blob] = {}
        # key -> the blob's ETag, computed once when it is stored (not per GET)
        self._etags: dict[str, str] = {}
        # keys readable without a presigned URL (the public bucket)
        self._public: set[str] = set()
        self._secret = secrets.token_bytes(32)
        # presigned PUT targets: key -> required content type
        self.expected_puts: dict[str, str] = {}

    def put(self, key: str, blob: Blob) -> None:
        """Store ``blob`` under ``key`` (replacing what was there), stamped
        with the clock's time unless it has a ``modified`` time.

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.put("k", Blob(b"abc", "text/plain"))
            >>> bs.get("k").content_type
            'text/plain'
            >>> 0 < bs.get("k").modified <= bs.clock.now()
            True
        """
        if blob.modified is None:
            blob = attrs.evolve(blob, modified=self.clock.now())
        self._blobs[key] = blob
        self._etags[key] = blob.etag

    def etag(self, key: str) -> str | None:
        """The ETag of the blob under ``key`` (its quoted MD5, computed once
        when it was stored), or ``None``.

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.put("k", Blob(b""))
            >>> bs.etag("k"), bs.etag("missing")
            ('"d41d8cd98f00b204e9800998ecf8427e"', None)
        """
        blob = self._blobs.get(key)
        if blob is None:
            return None
        etag = self._etags.get(key)
        if etag is None:
            etag = self._etags[key] = blob.etag
        return etag

    def get(self, key: str) -> Blob | None:
        """The blob under ``key``, or ``None``.

        Example:
            >>> BlobStore(Clock()).get("missing") is None
            True
        """
        return self._blobs.get(key)

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent).

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.put("k", Blob(b"x"))
            >>> bs.delete("k"); bs.delete("k")
            >>> bs.get("k") is None
            True
        """
        self._blobs.pop(key, None)  # the key stays public or private
        self._etags.pop(key, None)

    def set_public(self, key: str, public: bool = True) -> None:
        """Say whether ``key`` may be read without a presigned URL (keys
        are private until marked public).

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.set_public("p")
            >>> bs.is_public("p"), bs.is_public("q")
            (True, False)
        """
        if public:
            self._public.add(key)
        else:
            self._public.discard(key)

    def is_public(self, key: str) -> bool:
        """Whether ``key`` may be read without a presigned URL.

        Example:
            >>> BlobStore(Clock()).is_public("anything")
            False
        """
        return key in self._public

    def read_url(self, key: str, expires_in: float) -> str:
        """The URL to hand out for reading ``key``: plain when the key is
        public, else presigned for ``expires_in`` seconds.

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.base_url = "http://b"
            >>> bs.set_public("p")
            >>> bs.read_url("p", 60), "X-Signature=" in bs.read_url("q", 60)
            ('http://b/blobs/p', True)
        """
        if key in self._public:
            return self.url(key)
        return self.url(key, expires_in=expires_in)

    def _sig(self, method: str, key: str, expires: int) -> str:
        msg = f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def url(self, key: str, *, expires_in: float | None = None, method: str = "GET") -> str:
        """The URL of ``key`` on the blob origin, presigned when
        ``expires_in`` (seconds) is given.

        Example:
            >>> bs = BlobStore(Clock())
            >>> bs.base_url = "http://127.0.0.1:2"
            >>> bs.url("t/a.txt", expires_in=60)
            'http://127.0.0.1:2/blobs/t%2Fa.txt?X-Expires=...&X-Signature=...'
        """
        base = f"{self.base_url}/blobs/{quote_param(key)}"
        if expires_in is None:
            return base
        expires = int(self.clock.now() + expires_in)
        q = urlencode({"X-Expires": expires, "X-Signature": self._sig(method, key, expires)})
        return f"{base}?{q}"

    def put_url(self, key: str, content_type: str, expires_in: float) -> str:
        """A presigned URL to which a client PUTs ``key``'s bytes with this
        exact Content-Type.

        Example:
            >>> bs = BlobStore(Clock())
            >>> url = bs.put_url("k", "application/json", 60)
            >>> "X-Signature=" in url, bs.expected_puts
            (True, {'k': 'application/json'})
        """
        self.expected_puts[key] = content_type
        return self.url(key, expires_in=expires_in, method="PUT")

    def check(self, method: str, key: str, query: Mapping[str, str]) -> str | None:
        """Check a presigned request; ``None`` if fine, else why not.

        PUTs must be signed; so must GETs and HEADs of private keys (a
        private bucket answers an unsigned read ``Access Denied``).

        Example:
            >>> from urllib.parse import parse_qsl, urlsplit
            >>> bs = BlobStore(Clock())
            >>> query = dict(parse_qsl(urlsplit(bs.put_url("k", "text/plain", 60)).query))
            >>> bs.check("PUT", "k", query) is None, bs.check("PUT", "k", {})
            (True, 'signature required')
            >>> bs.check("GET", "k", {})
            'Access Denied'
        """
        if "X-Signature" not in query:
            if method == "PUT":
                return "signature required"
            return None if key in self._public else "Access Denied"
        try:
            expires = int(query.get("X-Expires", ""))
        except ValueError:
            return "bad expiry"
        want = self._sig("PUT" if method == "PUT" else "GET", key, expires)
        if not hmac.compare_digest(want, query["X-Signature"]):
            return "signature does not match"
        if self.clock.now() > expires:
            return "request has expired"
        return None


class ClusterState:
    """Everything one local cluster knows, shared by its services.

    Example:
        >>> st = ClusterState(root_url="http://127.0.0.1:1")
        >>> st.services["queue"] is st.queue
        True
    """

    def __init__(
        self,
        *,
        root_url: str = "",
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.root_url = root_url
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.blobs = BlobStore(self.clock)
        # clientId -> Client; roles: roleId -> scopes ("anonymous" is special)
        self.clients: dict[str, Client] = {}
        self.roles: dict[str, tuple[str, ...]] = {"anonymous": ANONYMOUS_SCOPES}
        self.queue = QueueService(self)
        self.index = IndexService(self)
        self.objects = ObjectService(self)
        self.auth = AuthService(self)
        self.secrets = SecretsService(self)
        self.hooks = HooksService(self)
        self.notify = NotifyService(self)
        self.purge_cache = PurgeCacheService(self)
        self.services: dict[str, Service] = {
            "queue": self.queue,
            "index": self.index,
            "object": self.objects,
            "auth": self.auth,
            "secrets": self.secrets,
            "hooks": self.hooks,
            "notify": self.notify,
            "purge-cache": self.purge_cache,
        }

    def tick(self) -> float:
        """Let every service apply what the clock has made due; returns now.

        Example:
            >>> st = ClusterState()
            >>> _ = st.index.insert("a.b", "Dx4tPEtaRpeIeWpbTD0uHw", expires=st.clock.now() + 60)
            >>> st.clock.advance(3600)
            >>> now = st.tick()
            >>> st.index.tasks("a")  # the entry has expired
            []
        """
        now = self.clock.now()
        for svc in self.services.values():
            svc.tick(now)
        return now
