"""Inline SVG line charts with amber and red threshold bands and the breaches marked, and the PSI heat map.
Everything drawn comes from the history's rows: values, thresholds and statuses as recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mrm import metrics
from mrm.controls import ACCEPTED, AMBER, RED
from mrm.ui.html import e, fmt

W, H = 340, 150
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 8, 22


@dataclass(frozen=True)
class Point:
    day: date
    value: float | None
    status: str


@dataclass(frozen=True)
class Series:
    metric: str
    column: str | None
    points: list[Point]
    amber: float | None  # the thresholds of the newest row that has them
    red: float | None

    @property
    def title(self) -> str:
        return self.metric + (f"({self.column})" if self.column else "")

    @property
    def direction(self) -> str:
        return metrics.CATALOGUE[self.metric].direction if self.metric in metrics.CATALOGUE else "above"

    @property
    def breaches(self) -> list[Point]:
        return [p for p in self.points if p.status in (AMBER, RED, ACCEPTED)]


class _Scale:
    def __init__(self, series: Series, first: date, last: date):
        values = [p.value for p in series.points if p.value is not None]
        limits = [t for t in (series.amber, series.red) if t is not None]
        lo, hi = min(values + limits, default=0.0), max(values + limits, default=1.0)
        pad = (hi - lo) * 0.12 or max(abs(hi), 1.0) * 0.12
        self.lo = max(lo - pad, 0.0) if lo >= 0 else lo - pad
        self.hi = hi + pad
        self.first, self.days = first, max((last - first).days, 1)

    def x(self, day: date) -> float:
        return LEFT + (day - self.first).days / self.days * (W - LEFT - RIGHT)

    def y(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return TOP + (self.hi - value) / (self.hi - self.lo) * (H - TOP - BOTTOM)


def _bands(s: Series, sc: _Scale) -> str:
    if s.amber is None or s.red is None:
        return ""
    if s.direction == "above":
        spans = [("amber", s.amber, s.red), ("red", s.red, sc.hi)]
    else:
        spans = [("amber", s.red, s.amber), ("red", sc.lo, s.red)]
    out = []
    for name, low, high in spans:
        top, bottom = sc.y(max(low, high)), sc.y(min(low, high))
        if bottom - top > 0:
            out.append(
                f'<rect class="band band-{name}" x="{LEFT}" y="{top:.1f}" width="{W - LEFT - RIGHT}" '
                f'height="{bottom - top:.1f}" data-from="{min(low, high)!r}" data-to="{max(low, high)!r}"/>'
            )
    return "".join(out)


def _y_labels(s: Series, sc: _Scale) -> str:
    """The thresholds, and the scale's top and bottom where they do not crowd a threshold."""
    ticks = [t for t in (s.amber, s.red) if t is not None]
    for edge in (sc.lo, sc.hi):
        if all(abs(sc.y(edge) - sc.y(t)) > 10 for t in ticks):
            ticks.append(edge)
    return "".join(
        f'<text class="ytick" x="{LEFT - 4}" y="{sc.y(t) + 3:.1f}" text-anchor="end">{e(f"{t:.3g}")}</text>'
        for t in ticks
    )


def _lines(s: Series, sc: _Scale) -> str:
    """One polyline per run of consecutive values; a missing value (INSUFFICIENT_DATA) breaks the line."""
    paths, current = [], []
    for p in s.points:
        if p.value is None:
            paths.append(current)
            current = []
        else:
            current.append(f"{sc.x(p.day):.1f},{sc.y(p.value):.1f}")
    paths.append(current)
    return "".join(f'<polyline class="line" points="{" ".join(c)}"/>' for c in paths if c)


def _marks(s: Series, sc: _Scale) -> str:
    """A dot with a tooltip on each AMBER / RED / ACCEPTED value (the line alone carries the others)."""
    out = []
    for p in s.breaches:
        if p.value is None:
            continue
        tip = f"{p.day.isoformat()}: {fmt(p.value)} ({p.status})"
        out.append(
            f'<circle class="breach breach-{p.status}" cx="{sc.x(p.day):.1f}" cy="{sc.y(p.value):.1f}" r="4" '
            f'data-date="{p.day.isoformat()}" data-value="{p.value!r}"><title>{e(tip)}</title></circle>'
        )
    return "".join(out)


def line_chart(s: Series, first: date, last: date) -> str:
    """An SVG chart of one series over the window ``first``..``last``."""
    sc = _Scale(s, first, last)
    axis = (
        f'<line class="axis" x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}"/>'
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}"/>'
        f'<text x="{LEFT}" y="{H - 6}">{first.isoformat()}</text>'
        f'<text x="{W - RIGHT}" y="{H - 6}" text-anchor="end">{last.isoformat()}</text>'
    )
    label = f"{s.title}: {len(s.points)} values, {len(s.breaches)} breaches"
    return (
        f'<svg class="metric-chart" data-series="{e(s.title)}" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{e(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"{_bands(s, sc)}{axis}{_y_labels(s, sc)}{_lines(s, sc)}{_marks(s, sc)}</svg>"
    )


def heat_map(values: dict[str, dict[date, tuple[float | None, str]]], days: list[date]) -> str:
    """A table of one metric by feature (rows) and day (columns), each cell coloured by its status."""
    head = "".join(f'<th class="day">{d.isoformat()}</th>' for d in days)
    rows = []
    for feature, by_day in values.items():
        cells = []
        for d in days:
            if d not in by_day:
                cells.append('<td class="h-none"></td>')
                continue
            value, status = by_day[d]
            text = "" if value is None else f"{value:.2f}"
            tip = f"{feature} {d.isoformat()}: {fmt(value)} ({status})"
            cells.append(
                f'<td class="h-{e(status)}" title="{e(tip)}" data-date="{d.isoformat()}">{e(text)}</td>'
            )
        rows.append(f"<tr><th>{e(feature)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll" id="heat"><table class="heat"><thead><tr><th>feature</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"  # html.PAGE_SCRIPT scrolls it to the newest day
    )
