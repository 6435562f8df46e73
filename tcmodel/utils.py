"""Small helpers shared by tcmodel: relative times, JSON dates and slugIds.

They behave like the utilities of the official Taskcluster Python client
(``fromNow``, ``fromNowJSON``, ``slugId``, ``stableSlugId``) but always work
with timezone-aware UTC datetimes.

Example:
    >>> from datetime import datetime, timezone
    >>> base = datetime(2024, 1, 31, 12, 0, tzinfo=timezone.utc)
    >>> from_now_json("1 day 2 hours", base)
    '2024-02-01T14:00:00Z'
    >>> is_slug_id("Dx4tPEtaRpeIeWpbTD0uHw")
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import slugid

__all__ = [
    "SLUGID_PATTERN",
    "check_choice",
    "check_run_id",
    "check_slug_id",
    "from_now",
    "from_now_json",
    "is_slug_id",
    "parse_date",
    "slug_id",
    "stable_slug_id",
    "to_json_date",
]

# The terms of an offset, in the only order they may appear, with their units.
_TERMS = (
    ("years", "years?|y"),
    ("months", "months?|mo"),
    ("weeks", "weeks?|w"),
    ("days", "days?|d"),
    ("hours", "hours?|h"),
    ("minutes", "minutes?|min|m"),
    ("seconds", "seconds?|sec|s"),
)
_TERMS_RE = "".join(rf"(?:\s*(?P<{name}>\d+)\s*(?:{units}))?" for name, units in _TERMS)
# A '-' (past), then a '+', both optional, then the terms.
_OFFSET = re.compile(rf"\s*(?P<minus>-)?\s*(?:\+\s*)?{_TERMS_RE}\s*")
_DAYS_PER = {"years": 365, "months": 30, "weeks": 7, "days": 1}


def _utc(dt: datetime, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise ValueError(f"{what} must be a datetime, not {dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def from_now(offset: str, base: datetime | None = None) -> datetime:
    """The time ``offset`` after ``base`` (default: now), as an aware UTC datetime.

    ``offset`` is an optional ``-`` (for the past) or ``+``, then optional
    terms in this order, each a whole number and a unit, spaces allowed:
    years (``y``, ``year``, ``years``; 365 days), months (``mo``, ``month``,
    ``months``; 30 days), weeks (``w``, ``week``, ``weeks``), days (``d``,
    ``day``, ``days``), hours (``h``, ``hour``, ``hours``), minutes (``m``,
    ``min``, ``minute``, ``minutes``) and seconds (``s``, ``sec``,
    ``second``, ``seconds``). Units are case-sensitive. An empty offset (or a
    lone ``-``) means ``base`` itself. A naive ``base`` is taken as UTC.
    Anything else raises ``ValueError``.

    Example:
        >>> base = datetime(2024, 1, 31, 12, 0, tzinfo=timezone.utc)
        >>> from_now("1y2mo3w4d5h6m7s", base).isoformat()
        '2025-04-25T17:06:07+00:00'
        >>> from_now("-2 weeks 1 day", base).isoformat()
        '2024-01-16T12:00:00+00:00'
        >>> from_now("1 hr", base)
        Traceback (most recent call last):
        ...
        ValueError: offset string: '1 hr' does not parse (stopped at 'r'; units: y mo w d h m s)
    """
    if not isinstance(offset, str):
        raise ValueError(f"offset string must be a str, not {offset!r}")
    start = datetime.now(timezone.utc) if base is None else _utc(base, "base")
    m = _OFFSET.fullmatch(offset)
    if m is None:
        stop = _OFFSET.match(offset)
        rest = offset[stop.end() :] if stop else offset
        raise ValueError(
            f"offset string: {offset!r} does not parse (stopped at {rest!r}; units: y mo w d h m s)"
        )
    try:
        terms = {name: int(m[name]) for name, _ in _TERMS if m[name]}
        days = sum(terms.get(name, 0) * n for name, n in _DAYS_PER.items())
        delta = timedelta(
            days=days,
            hours=terms.get("hours", 0),
            minutes=terms.get("minutes", 0),
            seconds=terms.get("seconds", 0),
        )
        return start - delta if m["minus"] else start + delta
    except (OverflowError, ValueError):
        raise ValueError(f"offset string: {offset!r} is out of range") from None


def to_json_date(dt: datetime) -> str:
    """Format ``dt`` as Taskcluster JSON dates are written by the Python client:
    UTC, ending in ``Z``, with 6 fraction digits only when there are
    microseconds. A naive ``dt`` is taken as UTC.

    Example:
        >>> to_json_date(datetime(2024, 2, 1, 12, 0, tzinfo=timezone.utc))
        '2024-02-01T12:00:00Z'
        >>> to_json_date(datetime(2024, 2, 1, 12, 0, 0, 250000))
        '2024-02-01T12:00:00.250000Z'
    """
    d = _utc(dt, "a date")
    text = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    return f"{text}.{d.microsecond:06d}Z" if d.microsecond else f"{text}Z"


def from_now_json(offset: str, base: datetime | None = None) -> str:
    """:func:`from_now`, formatted with :func:`~tcmodel.utils.to_json_date`.

    Example:
        >>> from_now_json("90 min", datetime(2024, 1, 31, 12, 0))
        '2024-01-31T13:30:00Z'
    """
    return to_json_date(from_now(offset, base))


_DATE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<zh>[0-9]{2}):?(?P<zm>[0-9]{2}))?"
)


def parse_date(text: str) -> datetime:
    """Parse an RFC 3339 date as Taskcluster sends it into an aware UTC datetime.

    Accepts ``Z`` or a ``±HH:MM`` offset (none means UTC) and any number of
    fraction digits (beyond 6 they are cut off). Raises ``ValueError``
    quoting ``text`` when it is not such a date.

    Example:
        >>> parse_date("2024-01-31T12:00:00.123Z").isoformat()
        '2024-01-31T12:00:00.123000+00:00'
        >>> parse_date("2024-01-31T13:00:00+01:00") == parse_date("2024-01-31T12:00:00Z")
        True
    """
    m = _DATE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not an RFC 3339 date: {text!r}")
    try:
        zone = timezone.utc
        if m["sign"]:
            minutes = int(m["zh"]) * 60 + int(m["zm"])
            zone = timezone(timedelta(minutes=-minutes if m["sign"] == "-" else minutes))
        parsed = datetime(
            int(m["year"]),
            int(m["month"]),
            int(m["day"]),
            int(m["hour"]),
            int(m["minute"]),
            int(m["second"]),
            int((m["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
        return parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError) as e:
        raise ValueError(f"not an RFC 3339 date: {text!r} ({e})") from None


#: The slugId pattern the queue checks: 22 URL-safe base64 characters of a
#: v4 UUID. Use :func:`is_slug_id` rather than ``match``: ``$`` also matches
#: before a trailing newline.
SLUGID_PATTERN = re.compile(
    r"^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$"
)
# "Nice" slugIds have the top bit of the UUID cleared: the first character is
# one of the first 32 of the URL-safe base64 alphabet.
_NICE_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef")


def is_slug_id(value: object, *, nice: bool = False) -> bool:
    """Whether ``value`` is a slugId string that the queue accepts; with
    ``nice=True``, also whether it is "nice" (starts with ``[A-Za-f]``, as
    the ids from :func:`slug_id` do).

    Example:
        >>> is_slug_id("Dx4tPEtaRpeIeWpbTD0uHw"), is_slug_id("Dx4tPEtaRpeIeWpbTD0uHw==")
        (True, False)
        >>> is_slug_id("-3rBC1jMQ3KlZw4CssPUeQ"), is_slug_id("-3rBC1jMQ3KlZw4CssPUeQ", nice=True)
        (True, False)
    """
    if not isinstance(value, str) or SLUGID_PATTERN.fullmatch(value) is None:
        return False
    return not nice or value[0] in _NICE_FIRST


def check_slug_id(value: object, what: str = "taskId") -> str:
    """Return ``value`` if it is a valid slugId, else raise ``ValueError``
    naming ``what`` and showing the bad value.

    Example:
        >>> check_slug_id("XDqefRsvTG6ajX5vWks8LQ", "taskGroupId")
        'XDqefRsvTG6ajX5vWks8LQ'
        >>> check_slug_id("my-task")
        Traceback (most recent call last):
        ...
        ValueError: taskId must be a slugId (22 URL-safe base64 characters of a v4 UUID), got 'my-task' (7 characters)
    """  # noqa: E501
    if isinstance(value, str) and is_slug_id(value):
        return value
    detail = f" ({len(value)} characters)" if isinstance(value, str) and len(value) != 22 else ""
    raise ValueError(
        f"{what} must be a slugId (22 URL-safe base64 characters of a v4 UUID), "
        f"got {value!r}{detail}"
    )


def check_choice(what: str, value: str | None, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is ``None`` or one of ``allowed``.

    Example:
        >>> check_choice("priority", "urgent", ("high", "low"))
        Traceback (most recent call last):
        ...
        ValueError: priority must be one of high, low, not 'urgent'
    """
    if value is not None and value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def check_run_id(value: object) -> int:
    """Return ``value`` if it is a run id (an int ≥ 0), else raise ``ValueError``.

    Example:
        >>> check_run_id(0)
        0
        >>> check_run_id(-1)
        Traceback (most recent call last):
        ...
        ValueError: runId must be a non-negative integer, not -1
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"runId must be a non-negative integer, not {value!r}")
    return value


def slug_id() -> str:
    """A fresh random "nice" slugId, as the official client's ``slugId()`` makes.

    Example:
        >>> is_slug_id(slug_id(), nice=True)
        True
    """
    value = slugid.nice()
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def stable_slug_id() -> Callable[[str], str]:
    """A function that gives a fresh slugId for each new name and the same one
    again for a name it has seen: handy to wire up a task graph in one process.

    Example:
        >>> ids = stable_slug_id()
        >>> ids("build") == ids("build"), ids("build") == ids("test")
        (True, False)
    """
    seen: dict[str, str] = {}

    def stable(name: str) -> str:
        if name not in seen:
            seen[name] = slug_id()
        return seen[name]

    return stable
