"""Moments given as a datetime, an offset from now or an ISO date string,
read against the transport's clock (the parsing is the Cluster's own, as
``create_task`` does it).

Example:
    >>> from tcmodel.transport import Transport
    >>> t = Transport("https://tc.example.com", clock=lambda: 1706702400.0)
    >>> json_date(t, "1 day"), json_date(t, "2030-01-01T00:00:00.000Z")
    ('2024-02-01T12:00:00Z', '2030-01-01T00:00:00Z')
"""

from __future__ import annotations

from datetime import datetime, timezone

from tcmodel.cluster import _json_date
from tcmodel.transport import Transport
from tcmodel.utils import parse_date

__all__ = ["at", "json_date"]


def json_date(transport: Transport, when: datetime | str) -> str:
    """``when`` written as Taskcluster's JSON dates are: a datetime (naive
    means UTC), a :func:`~tcmodel.from_now` offset from the transport's
    clock (``"1 year"``, ``"-1 hour"``), or an ISO date string.

    Example:
        >>> from datetime import datetime
        >>> from tcmodel.transport import Transport
        >>> json_date(Transport("https://tc.example.com"), datetime(2030, 1, 1))
        '2030-01-01T00:00:00Z'
    """
    return _json_date(when, datetime.fromtimestamp(transport.now(), tz=timezone.utc))


def at(transport: Transport, when: datetime | str) -> datetime:
    """:func:`json_date` as an aware UTC datetime.

    Example:
        >>> from tcmodel.transport import Transport
        >>> t = Transport("https://tc.example.com", clock=lambda: 1706702400.0)
        >>> at(t, "-1 hour").isoformat()
        '2024-01-31T11:00:00+00:00'
        >>> at(t, "soon")
        Traceback (most recent call last):
        ...
        ValueError: offset string: 'soon' does not parse ...
    """
    return parse_date(json_date(transport, when))
