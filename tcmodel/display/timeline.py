"""Views of a group's critical path, timeline and failures: Gantt-style
bars in plain HTML and CSS (no JavaScript), and text for terminals.

Each view is a function of an already computed value
(:class:`~tcmodel.graph.CriticalPath`, :class:`~tcmodel.graph.Timeline`,
:class:`~tcmodel.graph.Failures`): building one sends no request.

Example:
    >>> html = timeline_html(group.timeline())
    >>> "Critical path" in html and "<script" not in html
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tcmodel.display._html import STATE_COLOURS, duration, escape, link, state_badge, table

if TYPE_CHECKING:
    from tcmodel.graph import CriticalPath, Failures, Timeline
    from tcmodel.resources.task import Task

__all__ = [
    "critical_path_html",
    "critical_path_text",
    "failures_html",
    "failures_text",
    "timeline_html",
    "timeline_text",
]

#: Rows of slowest tasks a timeline shows under its critical path.
SLOWEST = 10
#: Width of a text bar, in characters.
TEXT_WIDTH = 40
_WAIT_COLOUR = "#cfd8dc"


class _Bar:
    """One row of a Gantt chart: a wait segment and a run segment."""

    def __init__(
        self,
        task: Task,
        name: str,
        state: str,
        ready: datetime | None,
        started: datetime | None,
        resolved: datetime | None,
    ) -> None:
        self.task, self.name, self.state = task, name, state
        self.ready, self.started, self.resolved = ready, started, resolved

    @property
    def wait(self) -> timedelta | None:
        if self.ready is None or self.started is None:
            return None
        return self.started - self.ready

    @property
    def run_time(self) -> timedelta | None:
        if self.started is None or self.resolved is None:
            return None
        return self.resolved - self.started


def _path_bars(path: CriticalPath) -> list[_Bar]:
    return [_Bar(s.task, s.name, s.task.state, s.ready, s.started, s.resolved) for s in path]


def _record_bars(records: Sequence[dict[str, Any]], tasks: dict[str, Task]) -> list[_Bar]:
    return [
        _Bar(
            tasks[r["task_id"]],
            r["name"],
            r["state"],
            r["scheduled"],
            r["started"],
            r["resolved"],
        )
        for r in records
        if r["task_id"] in tasks
    ]


class _Scale:
    """Maps times to percentages (HTML) or columns (text) of a chart."""

    def __init__(self, bars: Sequence[_Bar]) -> None:
        times = [t for b in bars for t in (b.ready, b.started, b.resolved) if t is not None]
        self.start = min(times) if times else None
        end = max(times) if times else None
        span = (end - self.start).total_seconds() if end and self.start else 0.0
        self.seconds = span if span > 0 else 1.0

    def at(self, when: datetime | None) -> float:
        """Where ``when`` falls, from 0 to 1."""
        if when is None or self.start is None:
            return 0.0
        return min(max((when - self.start).total_seconds() / self.seconds, 0.0), 1.0)


def _segment(scale: _Scale, start: datetime | None, end: datetime | None, colour: str) -> str:
    if start is None or end is None:
        return ""
    left = scale.at(start) * 100
    width = max(scale.at(end) * 100 - left, 0.3)
    return (
        f'<div style="position:absolute;top:2px;bottom:2px;left:{left:.2f}%;'
        f'width:{width:.2f}%;background:{colour}"></div>'
    )


def _chart_cell(bar: _Bar, scale: _Scale) -> str:
    colour = STATE_COLOURS.get(bar.state, "#607d8b")
    segments = _segment(scale, bar.ready, bar.started, _WAIT_COLOUR) + _segment(
        scale, bar.started, bar.resolved, colour
    )
    return (
        '<div style="position:relative;width:360px;height:16px;background:#f5f5f5">'
        f"{segments}</div>"
    )


def _gantt(bars: Sequence[_Bar], scale: _Scale, caption: str) -> str:
    rows = [
        [
            link(b.task.ui_url, b.name),
            state_badge(b.state),
            duration(b.wait),
            duration(b.run_time),
            _chart_cell(b, scale),
        ]
        for b in bars
    ]
    return table(["task", "state", "wait", "run", "timeline"], rows, caption=caption)


def _legend() -> str:
    return (
        '<div style="color:#777;font-size:90%">'
        f'<span style="background:{_WAIT_COLOUR}">&nbsp;&nbsp;&nbsp;</span> waiting to start '
        "(ready → started); coloured: running (started → resolved)</div>"
    )


def _path_summary(path: CriticalPath) -> str:
    return f"{len(path)} tasks, {duration(path.total) or '0s'}"


def _timeline_head(timeline: Timeline) -> str:
    summary = _path_summary(timeline.critical_path)
    return f"Timeline of {len(timeline.records)} tasks — critical path: {summary}"


def critical_path_html(path: CriticalPath) -> str:
    """The critical path as an HTML Gantt chart, one row per step.

    Example:
        >>> html = critical_path_html(group.critical_path())
        >>> html.count("position:absolute") >= 2 * len(group.critical_path())
        True
    """
    bars = _path_bars(path)
    caption = escape(f"Critical path: {_path_summary(path)}")
    return _gantt(bars, _Scale(bars), f"<b>{caption}</b>") + _legend()


def timeline_html(timeline: Timeline, slowest: int = SLOWEST) -> str:
    """A timeline as HTML: the critical path, then the ``slowest`` longest
    tasks, on one time scale.

    Example:
        >>> html = timeline_html(group.timeline(), slowest=3)
        >>> "Slowest 3 tasks" in html
        True
    """
    path_bars = _path_bars(timeline.critical_path)
    slow_bars = _record_bars(timeline.slowest(slowest), timeline._tasks)
    scale = _Scale(path_bars + slow_bars)
    head = escape(_timeline_head(timeline))
    return (
        _gantt(path_bars, scale, f"<b>{head}</b><br>Critical path")
        + _gantt(slow_bars, scale, escape(f"Slowest {len(slow_bars)} tasks"))
        + _legend()
    )


def _text_bar(scale: _Scale, bar: _Bar) -> str:
    cells = [" "] * TEXT_WIDTH

    def paint(start: datetime | None, end: datetime | None, char: str) -> None:
        if start is None or end is None:
            return
        first = int(scale.at(start) * (TEXT_WIDTH - 1))
        last = max(int(scale.at(end) * (TEXT_WIDTH - 1)), first)
        for i in range(first, last + 1):
            cells[i] = char

    paint(bar.ready, bar.started, "·")
    paint(bar.started, bar.resolved, "█")
    return "|" + "".join(cells) + "|"


def _text_rows(bars: Sequence[_Bar], scale: _Scale) -> list[str]:
    width = max((len(b.name) for b in bars), default=0)
    return [
        f"  {b.name:<{width}}  {b.state:<9}  wait {duration(b.wait) or '-':>8}"
        f"  run {duration(b.run_time) or '-':>8}  {_text_bar(scale, b)}"
        for b in bars
    ]


def critical_path_text(path: CriticalPath) -> str:
    """The critical path as text, one line per step, with a bar
    (``·`` waiting, ``█`` running).

    Example:
        >>> print(critical_path_text(group.critical_path()))  # doctest: +ELLIPSIS
        Critical path: ... tasks, ...
          decision ...
    """
    bars = _path_bars(path)
    head = f"Critical path: {_path_summary(path)}"
    return "\n".join([head, *_text_rows(bars, _Scale(bars))])


def timeline_text(timeline: Timeline, slowest: int = SLOWEST) -> str:
    """A timeline as text: its critical path, then its slowest tasks.

    Example:
        >>> print(timeline_text(group.timeline(), slowest=2))  # doctest: +ELLIPSIS
        Timeline of 41 tasks — critical path: ... tasks, ...
          decision ...
        Slowest 2 tasks:
        ...
    """
    path_bars = _path_bars(timeline.critical_path)
    slow_bars = _record_bars(timeline.slowest(slowest), timeline._tasks)
    scale = _Scale(path_bars + slow_bars)
    return "\n".join(
        [
            _timeline_head(timeline),
            *_text_rows(path_bars, scale),
            f"Slowest {len(slow_bars)} tasks:",
            *_text_rows(slow_bars, scale),
        ]
    )


def _tail_html(failure_tail: str, note: str) -> str:
    note_html = f'<div style="color:#777">{escape(note)}</div>' if note else ""
    if not failure_tail:
        return note_html
    return (
        f'<pre style="margin:0;max-height:16em;overflow:auto;font-size:85%">'
        f"{escape(failure_tail)}</pre>{note_html}"
    )


def failures_html(failures: Failures) -> str:
    """Failures as an HTML table: task, state, reason, run, log tail.

    Example:
        >>> html = failures_html(group.failures(tail=2))
        >>> html.count("<pre") == 3 and "3 failed" in html
        True
    """
    rows = [
        [
            link(f.task.ui_url, f.name),
            state_badge(f.state),
            escape(f.reason or ""),
            escape("" if f.run is None else f.run.run_id),
            _tail_html(f.log_tail, f.note),
        ]
        for f in failures
    ]
    caption = escape(f"{len(failures)} failed or exception tasks")
    return table(["task", "state", "reason", "run", "log (last lines)"], rows, caption=caption)


def failures_text(failures: Failures) -> str:
    """Failures as text: a line per task, then its log tail, indented.

    Example:
        >>> print(failures_text(group.failures(tail=1)))  # doctest: +ELLIPSIS
        3 failed or exception tasks
        ...failed (failed) run 0
            [taskcluster] exit code 1
        ...
    """
    lines = [f"{len(failures)} failed or exception tasks"]
    for f in failures:
        run = "" if f.run is None else f" run {f.run.run_id}"
        lines.append(f"  {f.name}  {f.state} ({f.reason or '-'}){run}")
        lines += [f"    {line}" for line in f.log_tail.splitlines()]
        if f.note:
            lines.append(f"    ({f.note})")
    return "\n".join(lines)
