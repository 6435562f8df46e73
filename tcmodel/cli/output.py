"""What the command line prints: aligned tables, state colours, JSON.

Standard library only (the command line's parser imports it before any
request is needed). Colours go to a terminal only: never when the stream is
piped, when ``NO_COLOR`` is set (https://no-color.org) or ``TERM=dumb``,
unless ``--color always`` asks for them.

Example:
    >>> Output().table(["NAME", "STATE"], [["build", "completed"], ["lint-eslint", "failed"]])
    NAME         STATE
    build        completed
    lint-eslint  failed
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

__all__ = [
    "STATE_COLORS",
    "Output",
    "format_duration",
    "format_time",
    "to_json",
    "use_color",
]

#: The ANSI SGR code of each task or run state's colour.
STATE_COLORS = {
    "completed": "32",  # green
    "failed": "31",  # red
    "exception": "35",  # magenta
    "running": "36",  # cyan
    "pending": "33",  # yellow
    "unscheduled": "2",  # dim
}


def use_color(mode: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour ``stream``: ``always``, ``never``, or ``auto`` (a
    terminal, with neither ``NO_COLOR`` set nor ``TERM=dumb``).

    Example:
        >>> import io
        >>> use_color("auto", io.StringIO(), {}), use_color("always", io.StringIO(), {})
        (False, True)
        >>> use_color("never", io.StringIO(), {})
        False
    """
    if mode == "always":
        return True
    if mode == "never":
        return False
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_time(value: datetime | None) -> str:
    """A date as the tables show it: UTC, to the second (``-`` for none),
    as tcmodel's notebook views show it.

    Example:
        >>> format_time(datetime(2026, 12, 1, 17, 3, 57, 120000, tzinfo=timezone.utc))
        '2026-12-01 17:03:57'
        >>> format_time(None)
        '-'
    """
    from tcmodel.display._html import when

    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return when(value)


def format_duration(value: timedelta | None) -> str:
    """A duration as people read it, as tcmodel's notebook views show it
    (``1h 2m 5s``, ``3m 5s``, ``4.2s``; ``-`` for none).

    Example:
        >>> format_duration(timedelta(seconds=185)), format_duration(timedelta(seconds=4.2))
        ('3m 5s', '4.2s')
        >>> format_duration(timedelta(hours=1, minutes=2)), format_duration(None)
        ('1h 2m', '-')
    """
    from tcmodel.display._html import duration

    return "-" if value is None else duration(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> str:
    """``value`` as the ``--json`` output gives it: dates as RFC 3339 UTC
    strings (as Taskcluster writes them), durations in seconds, keys sorted.

    Example:
        >>> to_json({"b": timedelta(seconds=90), "a": datetime(2026, 1, 2, tzinfo=timezone.utc)})
        '{"a": "2026-01-02T00:00:00.000Z", "b": 90.0}'
    """
    return json.dumps(value, default=_json_default, sort_keys=True)


class Output:
    """Where a command writes (``stream``, default stdout), and how:
    ``color`` turns on state colours.

    Example:
        >>> Output(color=True).state("failed")
        '\\x1b[31mfailed\\x1b[0m'
        >>> Output().state("failed")
        'failed'
    """

    def __init__(self, stream: TextIO | None = None, *, color: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = color

    def paint(self, text: str, code: str | None) -> str:
        """``text`` in the ANSI colour ``code`` when colours are on.

        Example:
            >>> Output(color=True).paint("x", "1")
            '\\x1b[1mx\\x1b[0m'
        """
        if not self.color or not code or not text:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def state(self, state: str | None) -> str:
        """A task or run state, in its colour (see :data:`STATE_COLORS`).

        Example:
            >>> Output().state("completed"), Output().state(None)
            ('completed', '-')
        """
        text = state or "-"
        return self.paint(text, STATE_COLORS.get(text))

    def line(self, text: str = "") -> None:
        """Write one line.

        Example:
            >>> Output().line("hello")
            hello
        """
        self.stream.write(text + "\n")

    def fields(self, *pairs: tuple[str, str]) -> None:
        """Write a ``label: value`` line a pair, the labels aligned and bold.

        Example:
            >>> Output().fields(("task", "build"), ("state", "completed"))
            task:      build
            state:     completed
        """
        for label, value in pairs:
            self.line(self.paint(f"{label + ':':<10}", "1") + " " + value)

    def heading(self, text: str) -> None:
        """Write a section heading (bold on a terminal) after an empty line.

        Example:
            >>> Output().heading("Runs")
            <BLANKLINE>
            Runs
        """
        self.line()
        self.line(self.paint(text, "1"))

    def json(self, value: Any) -> None:
        """Write ``value`` as one line of JSON (see :func:`to_json`).

        Example:
            >>> Output().json({"state": "completed"})
            {"state": "completed"}
        """
        self.line(to_json(value))

    def table(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[str]],
        *,
        states: Iterable[int] = (),
        indent: str = "",
        empty: str | None = None,
    ) -> None:
        """Write ``rows`` in columns aligned under ``headers``; the cells of
        the columns listed in ``states`` are states, coloured. Without rows,
        the line ``empty`` instead, if given.

        Example:
            >>> Output().table(["RUN", "STATE"], [["0", "failed"], ["1", "completed"]], states=[1])
            RUN  STATE
            0    failed
            1    completed
            >>> Output().table(["RUN", "STATE"], [], indent="  ", empty="none yet")
              none yet
        """
        table = [list(headers)] + [[str(c) for c in row] for row in rows]
        if len(table) == 1 and empty is not None:
            self.line(indent + empty)
            return
        coloured = set(states)
        widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
        for n, row in enumerate(table):
            cells = []
            for i, cell in enumerate(row):
                pad = " " * (widths[i] - len(cell)) if i < len(row) - 1 else ""
                if n == 0:
                    cells.append(self.paint(cell, "1") + pad)
                elif i in coloured:
                    cells.append(self.state(cell) + pad)
                else:
                    cells.append(cell + pad)
            self.line(indent + "  ".join(cells).rstrip())
