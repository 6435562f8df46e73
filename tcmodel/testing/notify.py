"""The emulated notify service of the local cluster.

Nothing is sent: each notification notify would have delivered (email,
pulse, matrix, slack) is recorded as a :class:`Notification` in
:attr:`NotifyService.sent`, which tests read as ``lc.notifications``. It
answers as the real service does: ``200`` with a ``text/plain`` body
``OK``, ``204`` for the same message sent again within
:data:`DUPLICATE_WINDOW` seconds (dropped as a duplicate), ``400
DenylistedAddress`` for a denylisted address, and, for the channels this
deployment has not configured (Matrix and Slack, as on a deployment
without them), a ``500`` for matrix and a silent ``204`` for slack. Turn
them on with ``lc.state.notify.channels |= {"matrix", "slack"}``.

Example:
    >>> from tcmodel.testing.state import ClusterState
    >>> st = ClusterState()
    >>> sorted(st.notify.channels), st.notify.sent
    (['email', 'pulse'], [])
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from tcmodel.testing._core import (
    ApiError,
    Request,
    Response,
    Service,
    handles,
    internal_error,
)
from tcmodel.testing.queue_model import paginate, with_token
from tcmodel.testing.queue_validate import Check, array, boolean, obj, string, validate_body

__all__ = ["DUPLICATE_WINDOW", "Notification", "NotifyService"]

#: The same message sent again within this many seconds is dropped (204).
DUPLICATE_WINDOW = 600.0

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_OK = Response(200, b"OK", {"Content-Type": "text/plain; charset=utf-8"})
_NOTHING = Response(204)


_BODIES: dict[str, tuple[Check, str]] = {
    "email": (
        obj(
            {
                "address": string(pattern=_EMAIL),
                "subject": string(min_len=1, max_len=255),
                "content": string(min_len=1, max_len=102400),
                "link": obj(
                    {
                        "href": string(min_len=1, max_len=1024, uri=True),
                        "text": string(min_len=1, max_len=40),
                    },
                    required=("text", "href"),
                ),
                "replyTo": string(pattern=_EMAIL),
                "template": string(enum=("simple", "fullscreen")),
            },
            required=("address", "subject", "content"),
        ),
        "email-request.json",
    ),
    "pulse": (
        obj(
            {"routingKey": string(max_len=255), "message": obj(additional=True)},
            required=("routingKey", "message"),
        ),
        "pulse-request.json",
    ),
    "matrix": (
        obj(
            {
                "roomId": string(),
                "body": string(),
                "format": string(),
                "formattedBody": string(),
                "msgtype": string(enum=("m.notice", "m.text", "m.emote")),
            },
            required=("roomId", "body"),
        ),
        "matrix-request.json",
    ),
    "slack": (
        obj(
            {
                "channelId": string(),
                "text": string(),
                "blocks": array(),
                "attachments": array(),
                "unfurlLinks": boolean(),
                "unfurlMedia": boolean(),
            },
            required=("channelId", "text"),
        ),
        "slack-request.json",
    ),
}
# the request field holding the address, and its denylist notificationType
_ADDRESS = {
    "email": ("address", "email"),
    "pulse": ("routingKey", "pulse"),
    "matrix": ("roomId", "matrix-room"),
    "slack": ("channelId", "slack-channel"),
}
_DENIED = {
    "email": "The address {} is on the denylist: nothing sent",
    "pulse": "The routing key pattern {} is on the denylist: nothing sent",
    "matrix": "The Matrix room {} is on the denylist: nothing sent",
    "slack": "The Slack channel {} is on the denylist: nothing sent",
}
_NOTIFICATION_ADDRESS = obj(
    {
        "notificationType": string(enum=("email", "pulse", "matrix-room", "slack-channel")),
        "notificationAddress": string(),
    },
    required=("notificationType", "notificationAddress"),
)


@attrs.frozen
class Notification:
    """One notification the local notify service would have sent.

    ``kind`` is ``"email"``, ``"pulse"``, ``"matrix"`` or ``"slack"``;
    ``address`` the address, routing key, room or channel; ``body`` the
    request body as sent; ``sent`` the cluster-clock time; ``client_id``
    who asked.

    Example:
        >>> n = Notification("email", "a@example.com", {"subject": "hi"}, 0.0, "me")
        >>> n.address, n.body["subject"]
        ('a@example.com', 'hi')
    """

    kind: str
    address: str
    body: dict[str, Any]
    sent: float
    client_id: str | None = None


class NotifyService(Service):
    """The emulated notify service.

    ``sent`` lists every :class:`Notification` recorded, oldest first;
    ``denylist`` holds the denied ``(notificationType, address)`` pairs;
    ``channels`` the configured channels.

    Example:
        >>> NotifyService.name, "email" in NotifyService.handler_names()
        ('notify', True)
    """

    name = "notify"

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        #: Every notification delivered, oldest first (``lc.notifications``).
        self.sent: list[Notification] = []
        self.denylist: set[tuple[str, str]] = set()
        self.channels: set[str] = {"email", "pulse"}
        self._recent: dict[str, float] = {}  # message fingerprint -> when sent

    # -- sending -------------------------------------------------------------

    def _send(self, kind: str, req: Request) -> Response:
        check, schema = _BODIES[kind]
        validate_body(check, req.body, schema)
        field, denylist_type = _ADDRESS[kind]
        address = req.body[field]
        req.authorize(**{field: address})
        if (denylist_type, address) in self.denylist:
            raise ApiError(400, "DenylistedAddress", _DENIED[kind].format(address))
        if kind not in self.channels:
            if kind == "matrix":  # the real service times out, then answers 500
                raise internal_error()
            return _NOTHING
        if self._duplicate(kind, req.body, req.now):
            return _NOTHING
        self.sent.append(Notification(kind, address, req.body, req.now, req.client_id))
        return _OK

    def _duplicate(self, kind: str, body: Any, now: float) -> bool:
        """Whether the same message went out within the window (and note it)."""
        self._recent = {k: t for k, t in self._recent.items() if t > now - DUPLICATE_WINDOW}
        key = kind + json.dumps(body, sort_keys=True)
        if key in self._recent:
            return True
        self._recent[key] = now
        return False

    @handles("email")
    def _api_email(self, req: Request) -> Any:
        """``POST /email``: record an email."""
        return self._send("email", req)

    @handles("pulse")
    def _api_pulse(self, req: Request) -> Any:
        """``POST /pulse``: record a pulse message."""
        return self._send("pulse", req)

    @handles("matrix")
    def _api_matrix(self, req: Request) -> Any:
        """``POST /matrix``: record a Matrix message (500 when unconfigured)."""
        return self._send("matrix", req)

    @handles("slack")
    def _api_slack(self, req: Request) -> Any:
        """``POST /slack``: record a Slack message (204, nothing sent, when
        unconfigured)."""
        return self._send("slack", req)

    # -- the denylist -------------------------------------------------------------

    def _address(self, req: Request) -> tuple[str, str]:
        validate_body(_NOTIFICATION_ADDRESS, req.body, "notification-address.json")
        return req.body["notificationType"], req.body["notificationAddress"]

    @handles("addDenylistAddress")
    def _api_add_denylist_address(self, req: Request) -> Any:
        """``POST /denylist/add``: deny an address (again: still 200)."""
        self.denylist.add(self._address(req))
        return _OK

    @handles("deleteDenylistAddress")
    def _api_delete_denylist_address(self, req: Request) -> Any:
        """``DELETE /denylist/delete``: allow an address again (200 even if
        it was not denied)."""
        self.denylist.discard(self._address(req))
        return _OK

    @handles("listDenylist")
    def _api_list_denylist(self, req: Request) -> Any:
        """``GET /denylist/list``: the denied addresses, paged."""
        rows = sorted(self.denylist)
        page, token = paginate(req.query, rows, self.cluster.settings.max_page_size)
        addresses = [{"notificationType": t, "notificationAddress": a} for t, a in page]
        return with_token({"addresses": addresses}, token)
