"""The secrets service: JSON objects kept under a name, until they expire.

A :class:`Secret` handle costs no request; its value loads on first read.
The value never appears in a repr, a display, a log line or an error
message.

Example:
    >>> import tcmodel
    >>> tcmodel.Cluster.from_url("https://tc.example.com").secret("project/ci/token")
    <Secret name='project/ci/token'>
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from tcmodel.resources._dates import at
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.transport import Call, Op
from tcmodel.utils import parse_date, to_json_date

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["Secret", "secrets"]


@attrs.frozen
class _Stored:
    """A secret as the service keeps it (the value never in the repr)."""

    value: dict[str, Any] = attrs.field(repr=False)
    expires: datetime


def _stored(answer: Any) -> _Stored:
    value = answer["secret"]
    if not isinstance(value, Mapping):  # (no message shows any of it)
        raise TypeError(f"the secret is a {type(value).__name__}, not a JSON object")
    expires = answer["expires"]
    if not isinstance(expires, str):
        raise TypeError("expires is not a date string")
    return _Stored(dict(value), parse_date(expires))


def _value(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"a secret's value is a JSON object (a dict), not a {type(value).__name__}")
    return dict(value)


class Secret(Resource):
    """A secret, by name: ``.value`` and ``.expires`` (loaded on first
    read, once), :meth:`set`, :meth:`remove`.

    Example:
        >>> s = cluster.secret("doc/secret")
        >>> s.set({"token": "hunter2"}, expires="1 day")  # doctest: +ELLIPSIS
        <Secret name='doc/secret' expires='...'>
        >>> cluster.secret("doc/secret").value["token"]
        'hunter2'
        >>> "hunter2" in repr(s) + str(s)
        False
        >>> s.remove()
    """

    def __init__(self, cluster: Cluster, name: str) -> None:
        super().__init__(cluster)
        if not isinstance(name, str) or not name:
            raise ValueError(f"a secret's name is a non-empty string, not {name!r}")
        self._name = name
        self._data: _Stored | None = None

    @property
    def name(self) -> str:
        """The secret's name (its identity; read-only).

        Example:
            >>> cluster.secret("project/ci/token").name
            'project/ci/token'
        """
        return self._name

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        return (("name", self.name),)

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return (("expires", to_json_date(self._data.expires)),) if self._data is not None else ()

    @property
    def ui_url(self) -> str:
        """The secret's page in the web UI (no request).

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").secret("proj/ci").ui_url
            'https://tc.example.com/secrets/proj%2Fci'
        """
        return self.cluster._ui_url("secrets", self.name)

    def _call(self, name: str, body: Any = None) -> Call:
        return Call.of("secrets", name, body=body, name=self.name)

    def _load(self) -> Op[_Stored]:
        self._data = yield from self._transport.call(self._call("get"), convert=_stored)
        return self._data

    # data

    @property
    def value(self) -> dict[str, Any]:
        """The secret's value, a JSON object (loaded once; :meth:`refresh`
        reloads). Raises :class:`~tcmodel.NotFound` for a secret that does
        not exist or has expired.

        Example:
            >>> cluster.secret("doc/value").set({"user": "ci"}).value
            {'user': 'ci'}
            >>> cluster.secret("doc/missing").value
            Traceback (most recent call last):
            ...
            tcmodel.errors.NotFound: secrets.get(name='doc/missing'): 404 ResourceNotFound: ...
        """
        return self._cached("_data", self._load).value

    async def avalue(self) -> dict[str, Any]:
        """The async twin of :attr:`value` (loads :attr:`expires` too).

        Example:
            >>> import asyncio
            >>> _ = cluster.secret("doc/avalue").set({"user": "ci"})
            >>> async def read() -> dict[str, Any]:
            ...     async with lc.connect() as c:
            ...         return await c.secret("doc/avalue").avalue()
            >>> asyncio.run(read())
            {'user': 'ci'}
        """
        return (await self._acached("_data", self._load)).value

    @property
    def expires(self) -> datetime:
        """When the secret expires (loaded with the value).

        Example:
            >>> cluster.secret("doc/expires").set({}, expires="2030-01-01T00:00:00Z").expires
            datetime.datetime(2030, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
        """
        return self._cached("_data", self._load, "value").expires

    @property
    def loaded(self) -> bool:
        """Whether the value is in memory.

        Example:
            >>> cluster.secret("doc/loaded").loaded
            False
        """
        return self._data is not None

    def refresh(self) -> Secret:
        """Read the secret again now.

        Example:
            >>> s = cluster.secret("doc/refresh").set({"n": 1})
            >>> _ = cluster.secret("doc/refresh").set({"n": 2})
            >>> s.value["n"], s.refresh().value["n"]
            (1, 2)
        """
        self._run(self._load())
        return self

    async def arefresh(self) -> Secret:
        """The async twin of :meth:`refresh`.

        Example:
            >>> import asyncio
            >>> _ = cluster.secret("doc/arefresh").set({"n": 1})
            >>> async def reload() -> int:
            ...     async with lc.connect() as c:
            ...         return (await c.secret("doc/arefresh").arefresh()).value["n"]
            >>> asyncio.run(reload())
            1
        """
        await self._arun(self._load())
        return self

    # changes

    def set(self, value: Mapping[str, Any], *, expires: datetime | str = "1 year") -> Secret:
        """Create or replace the secret (``secrets.set``): ``value`` is a
        JSON object; ``expires`` a datetime, an offset from now or an ISO
        date. The new value is kept (no read follows).

        Example:
            >>> cluster.secret("doc/set").set({"a": 1}, expires="1 hour").loaded
            True
            >>> cluster.secret("doc/set").set("hunter2")
            Traceback (most recent call last):
            ...
            TypeError: a secret's value is a JSON object (a dict), not a str
        """
        return self._run(self._set_op(value, expires))

    async def aset(self, value: Mapping[str, Any], *, expires: datetime | str = "1 year") -> Secret:
        """The async twin of :meth:`set`.

        Example:
            >>> import asyncio
            >>> async def store() -> bool:
            ...     async with lc.connect() as c:
            ...         return (await c.secret("doc/aset").aset({"a": 1})).loaded
            >>> asyncio.run(store()), cluster.secret("doc/aset").value
            (True, {'a': 1})
        """
        return await self._arun(self._set_op(value, expires))

    def _set_op(self, value: Mapping[str, Any], expires: datetime | str) -> Op[Secret]:
        data = _Stored(_value(value), at(self._transport, expires))
        body = {"secret": data.value, "expires": to_json_date(data.expires)}
        yield from self._transport.call(self._call("set", body))
        self._data = data
        return self

    def remove(self) -> None:
        """Delete the secret (``secrets.remove``; fine if it is already gone).

        Example:
            >>> cluster.secret("doc/never-made").remove()
        """
        self._run(self._remove_op())

    async def aremove(self) -> None:
        """The async twin of :meth:`remove`.

        Example:
            >>> import asyncio
            >>> _ = cluster.secret("doc/aremove").set({})
            >>> async def remove() -> None:
            ...     async with lc.connect() as c:
            ...         await c.secret("doc/aremove").aremove()
            >>> asyncio.run(remove())
            >>> cluster.secret("doc/aremove") in cluster.secrets("doc/aremove")
            False
        """
        await self._arun(self._remove_op())

    def _remove_op(self) -> Op[None]:
        yield from self._transport.call(self._call("remove"))
        self._data = None


def secrets(cluster: Cluster, prefix: str | None = None) -> Listing[Secret]:
    """The secrets (unexpired) whose name starts with ``prefix``, as
    handles (lazily paged ``secrets.list``, which lists names only: the
    prefix is applied as the names arrive).

    Example:
        >>> _ = cluster.secret("doc/listed/a").set({})
        >>> [s.name for s in secrets(cluster, prefix="doc/listed/")]
        ['doc/listed/a']
    """

    def make(raw: Any) -> Secret:
        if not isinstance(raw, str):
            raise TypeError(f"a secret's name is a string, not a {type(raw).__name__}")
        return Secret(cluster, raw)

    listing = Listing(
        cluster.transport, Call.of("secrets", "list"), "secrets", make, item_type=Secret
    )
    if prefix:
        return listing.filter(lambda s: s.name.startswith(prefix))
    return listing
