"""The notify service: email, Matrix, Slack and Pulse messages, and the
addresses it must not send to.

Each sending method returns whether notify sent the message: ``False``
when it dropped it (the same message again within a few minutes, or a
channel this deployment has not set up).

Example:
    >>> import tcmodel
    >>> tcmodel.Cluster.from_url("https://tc.example.com").notify
    <Notify 'https://tc.example.com'>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tcmodel._twin import same_arguments
from tcmodel.models_services import DenylistedAddress
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op, map_op
from tcmodel.utils import check_choice

__all__ = ["ADDRESS_TYPES", "Notify"]

#: The kinds of address the deny list holds.
ADDRESS_TYPES = ("email", "pulse", "matrix-room", "slack-channel")


def _link(link: tuple[str, str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(link, Mapping):
        return {"text": link["text"], "href": link["href"]}
    text, href = link
    return {"text": text, "href": href}


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Notify(Resource):
    """The deployment's notify service (``cluster.notify``; no request
    until a message is sent).

    Example:
        >>> cluster.notify.email("dev@example.com", "Build done", "All green.")
        True
        >>> lc.notifications[-1].body["subject"]
        'Build done'
    """

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("rootUrl", self.cluster.root_url),)

    def __repr__(self) -> str:
        return f"<Notify {self.cluster.root_url!r}>"

    def _post(self, name: str, body: dict[str, Any]) -> Op[bool]:
        """Send ``body`` to ``name``; whether notify acted on it: it answers
        a plain-text ``OK`` when it did, nothing (204) when it dropped it."""
        return map_op(self._transport.call(Call.of("notify", name, body=body)), _acted)

    # messages

    def _email_op(
        self,
        address: str,
        subject: str,
        content: str,
        *,
        link: tuple[str, str] | Mapping[str, str] | None = None,
        reply_to: str | None = None,
        template: str | None = None,
    ) -> Op[bool]:
        check_choice("template", template, ("simple", "fullscreen"))
        body = _given(
            address=address,
            subject=subject,
            content=content,
            link=_link(link) if link is not None else None,
            replyTo=reply_to,
            template=template,
        )
        return self._post("email", body)

    @same_arguments(_email_op)
    def email(self, *args: Any, **kwargs: Any) -> bool:
        """Email ``address`` (``notify.email(address, subject, content)``):
        ``content`` is Markdown; keywords ``link`` (a ``(text, href)``
        button), ``reply_to``, ``template`` (``"simple"`` or
        ``"fullscreen"``). Whether it was sent (``False``: a duplicate).

        Example:
            >>> cluster.notify.email("qa@example.com", "Report", "**3** failures",
            ...                      link=("Open the group", "https://tc.example.com/g"))
            True
            >>> lc.notifications[-1].body["link"]
            {'text': 'Open the group', 'href': 'https://tc.example.com/g'}
        """
        return self._run(self._email_op(*args, **kwargs))

    @same_arguments(_email_op)
    async def aemail(self, *args: Any, **kwargs: Any) -> bool:
        """The async twin of :meth:`email`.

        Example:
            >>> import asyncio
            >>> async def send() -> bool:
            ...     async with lc.connect() as c:
            ...         return await c.notify.aemail("qa@example.com", "Async", "sent")
            >>> asyncio.run(send()), lc.notifications[-1].body["subject"]
            (True, 'Async')
        """
        return await self._arun(self._email_op(*args, **kwargs))

    def _matrix_op(
        self,
        room_id: str,
        body: str,
        *,
        formatted_body: str | None = None,
        format: str | None = None,
        msgtype: str | None = None,
    ) -> Op[bool]:
        check_choice("msgtype", msgtype, ("m.notice", "m.text", "m.emote"))
        message = _given(
            roomId=room_id, body=body, formattedBody=formatted_body, format=format, msgtype=msgtype
        )
        return self._post("matrix", message)

    @same_arguments(_matrix_op)
    def matrix(self, *args: Any, **kwargs: Any) -> bool:
        """Post ``body`` to Matrix room ``room_id`` (``notify.matrix(room_id,
        body)``); keywords ``formatted_body`` in ``format`` (e.g.
        ``org.matrix.custom.html``) and ``msgtype``.

        Example:
            >>> lc.state.notify.channels.add("matrix")
            >>> cluster.notify.matrix("!room:example.com", "deployed")
            True
        """
        return self._run(self._matrix_op(*args, **kwargs))

    @same_arguments(_matrix_op)
    async def amatrix(self, *args: Any, **kwargs: Any) -> bool:
        """The async twin of :meth:`matrix`.

        Example:
            >>> import asyncio
            >>> lc.state.notify.channels.add("matrix")
            >>> async def post() -> bool:
            ...     async with lc.connect() as c:
            ...         return await c.notify.amatrix("!room:example.com", "async deployed")
            >>> asyncio.run(post())
            True
        """
        return await self._arun(self._matrix_op(*args, **kwargs))

    def _slack_op(
        self,
        channel_id: str,
        text: str,
        *,
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
    ) -> Op[bool]:
        message = _given(
            channelId=channel_id,
            text=text,
            blocks=list(blocks) if blocks is not None else None,
            attachments=list(attachments) if attachments is not None else None,
            unfurlLinks=unfurl_links,
            unfurlMedia=unfurl_media,
        )
        return self._post("slack", message)

    @same_arguments(_slack_op)
    def slack(self, *args: Any, **kwargs: Any) -> bool:
        """Post ``text`` to Slack channel ``channel_id`` (``notify.slack(channel_id,
        text)``), with optional Block Kit ``blocks`` and ``attachments``
        (keywords; also ``unfurl_links``, ``unfurl_media``). ``False`` when
        notify dropped it (no Slack set up, or a duplicate).

        Example:
            >>> cluster.notify.slack("C0123", "deployed")  # no Slack on the local cluster
            False
        """
        return self._run(self._slack_op(*args, **kwargs))

    @same_arguments(_slack_op)
    async def aslack(self, *args: Any, **kwargs: Any) -> bool:
        """The async twin of :meth:`slack`.

        Example:
            >>> import asyncio
            >>> async def post() -> bool:
            ...     async with lc.connect() as c:
            ...         return await c.notify.aslack("C0123", "deployed")
            >>> asyncio.run(post())  # no Slack on the local cluster
            False
        """
        return await self._arun(self._slack_op(*args, **kwargs))

    def _pulse_op(self, routing_key: str, message: Mapping[str, Any]) -> Op[bool]:
        return self._post("pulse", {"routingKey": routing_key, "message": dict(message)})

    def pulse(self, routing_key: str, message: Mapping[str, Any]) -> bool:
        """Publish ``message`` (a JSON object) on Pulse with ``routing_key``
        (``notify.pulse``).

        Example:
            >>> cluster.notify.pulse("project.ci.done", {"revision": "abc123"})
            True
        """
        return self._run(self._pulse_op(routing_key, message))

    async def apulse(self, routing_key: str, message: Mapping[str, Any]) -> bool:
        """The async twin of :meth:`pulse`.

        Example:
            >>> import asyncio
            >>> async def publish() -> bool:
            ...     async with lc.connect() as c:
            ...         return await c.notify.apulse("project.ci.adone", {"revision": "abc"})
            >>> asyncio.run(publish())
            True
        """
        return await self._arun(self._pulse_op(routing_key, message))

    # the deny list

    def denylist(self) -> Listing[DenylistedAddress]:
        """The addresses notify refuses to send to (lazily paged ``listDenylist``).

        Example:
            >>> cluster.notify.deny("email", "doc-denied@example.com")
            >>> [a.notification_address for a in cluster.notify.denylist()]
            ['doc-denied@example.com']
            >>> cluster.notify.allow("email", "doc-denied@example.com")
        """
        call = Call.of("notify", "listDenylist")
        make = DenylistedAddress._from_json
        return Listing(self._transport, call, "addresses", make, item_type=DenylistedAddress)

    def _address(self, kind: str, address: str) -> dict[str, str]:
        check_choice("kind", kind, ADDRESS_TYPES)
        return {"notificationType": kind, "notificationAddress": address}

    def deny(self, kind: str, address: str) -> None:
        """Stop notify sending to ``address`` (``addDenylistAddress``):
        ``kind`` is ``email``, ``pulse`` (a routing key), ``matrix-room`` or
        ``slack-channel``. Sending there then raises
        :class:`~tcmodel.BadRequest` (``DenylistedAddress``).

        Example:
            >>> cluster.notify.deny("email", "doc-deny@example.com")
            >>> cluster.notify.email("doc-deny@example.com", "hi", "there")
            Traceback (most recent call last):
            ...
            tcmodel.errors.BadRequest: notify.email(): 400 DenylistedAddress: ...
            >>> cluster.notify.allow("email", "doc-deny@example.com")
        """
        self._run(self._post("addDenylistAddress", self._address(kind, address)))

    async def adeny(self, kind: str, address: str) -> None:
        """The async twin of :meth:`deny`.

        Example:
            >>> import asyncio
            >>> async def deny() -> None:
            ...     async with lc.connect() as c:
            ...         await c.notify.adeny("email", "doc-adeny@example.com")
            >>> asyncio.run(deny())
            >>> [a.notification_address for a in cluster.notify.denylist()]
            ['doc-adeny@example.com']
            >>> cluster.notify.allow("email", "doc-adeny@example.com")
        """
        await self._arun(self._post("addDenylistAddress", self._address(kind, address)))

    def allow(self, kind: str, address: str) -> None:
        """Let notify send to ``address`` again (``deleteDenylistAddress``;
        fine if it was not denied).

        Example:
            >>> cluster.notify.allow("slack-channel", "C0123")
        """
        self._run(self._post("deleteDenylistAddress", self._address(kind, address)))

    async def aallow(self, kind: str, address: str) -> None:
        """The async twin of :meth:`allow`.

        Example:
            >>> import asyncio
            >>> async def allow() -> None:
            ...     async with lc.connect() as c:
            ...         await c.notify.aallow("slack-channel", "C0123")
            >>> asyncio.run(allow())
        """
        await self._arun(self._post("deleteDenylistAddress", self._address(kind, address)))


def _acted(answer: Any) -> bool:
    return answer is not None  # 204: a duplicate, or a channel not set up
