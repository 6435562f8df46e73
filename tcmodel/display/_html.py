"""Small HTML building blocks shared by every view (no JavaScript, inline CSS).

Example:
    >>> cell = table(["state"], [[state_badge("completed")]])
    >>> "<table" in cell and "completed" in cell
    True
    >>> duration(timedelta(seconds=3725))
    '1h 2m 5s'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

__all__ = [
    "STATE_COLOURS",
    "duration",
    "escape",
    "link",
    "state_badge",
    "table",
    "when",
]

#: Background colours of task and run states, as Taskcluster's UI shows them.
STATE_COLOURS: dict[str, str] = {
    "unscheduled": "#9e9e9e",
    "pending": "#f5a623",
    "running": "#2196f3",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "exception": "#6a1b9a",
}


def escape(value: object) -> str:
    """``str(value)`` made safe for HTML text and attributes.

    Example:
        >>> escape("<b>&")
        '&lt;b&gt;&amp;'
    """
    return html.escape(str(value), quote=True)


def state_badge(state: str | None) -> str:
    """A coloured badge for a task or run state (grey when unknown).

    Example:
        >>> "#c62828" in state_badge("failed")
        True
    """
    if state is None:
        return '<span style="color:#777">not loaded</span>'
    colour = STATE_COLOURS.get(state, "#607d8b")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:3px;'
        f'padding:0 4px;font-size:90%">{escape(state)}</span>'
    )


def duration(value: timedelta | None) -> str:
    """A short human duration (``'1h 2m 5s'``, ``'42s'``, ``'0.4s'``); ``''`` for None.

    Example:
        >>> duration(timedelta(milliseconds=400)), duration(None)
        ('0.4s', '')
    """
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown[:3]) or "0s"


def when(value: datetime | None) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM:SS``; ``''`` for None.

    Example:
        >>> from datetime import timezone
        >>> when(datetime(2024, 1, 31, 12, 0, 5, tzinfo=timezone.utc))
        '2024-01-31 12:00:05'
    """
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def link(url: str | None, text: object) -> str:
    """An ``<a>`` that opens in a new tab (plain escaped text without an
    http(s) URL: a ``javascript:`` URL from task data is never a link).

    Example:
        >>> link("https://tc.example.com/tasks/x", "x")
        '<a href="https://tc.example.com/tasks/x" target="_blank" rel="noopener">x</a>'
        >>> link("javascript:alert(1)", "x")
        'x'
    """
    if not url or not url.lower().startswith(("https://", "http://")):
        return escape(text)
    return f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(text)}</a>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    caption: str = "",
    footer: str = "",
) -> str:
    """An HTML table; cells are inserted as given (escape text first).

    Example:
        >>> table(["a"], [["1"]], caption="one").count("<tr>")
        2
    """
    head = "".join(f'<th style="text-align:left">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left">{c}</td>' for c in row) + "</tr>"
        for row in rows
    )
    cap = f'<caption style="text-align:left">{caption}</caption>' if caption else ""
    foot = f'<div style="color:#777">{footer}</div>' if footer else ""
    return (
        f'<table class="tcmodel">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{foot}"
    )
