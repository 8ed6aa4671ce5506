"""Inline SVG charts, drawn here so the page needs no script and no network to show them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from upid.units import format_money

Fmt = Callable[[float], str]


@dataclass(frozen=True)
class Level:
    """A horizontal line across a usage chart: a request, a limit or a recommendation."""

    label: str
    value: float
    css: str


@dataclass(frozen=True)
class Frame:
    width: int = 640
    height: int = 190
    left: int = 58
    right: int = 8
    top: int = 8
    bottom: int = 22

    @property
    def inner_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> int:
        return self.height - self.top - self.bottom


def nice_step(span: float, ticks: int = 4) -> float:
    """A 1-2-5 step that cuts `span` into about `ticks` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of buckets with a value; a None (no samples) breaks the line."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    return runs + ([current] if current else [])


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _day_ticks(start: int, step: int, count: int, most: int = 7) -> list[tuple[int, str]]:
    """Bucket positions of UTC midnights, every k-th day so at most `most` are labelled."""
    end = start + step * count
    first = start - start % 86400 + 86400
    days = list(range(first, end, 86400))
    every = max(1, math.ceil(len(days) / most))
    return [((t - start) // step, datetime.fromtimestamp(t, UTC).strftime("%b %d")) for t in days[::every]]


def usage_chart(
    resource: str,
    start: int,
    step: int,
    mean: Sequence[float | None],
    peak: Sequence[float | None],
    levels: Sequence[Level],
    fmt: Fmt,
    scale: float = 1.0,
    frame: Frame = Frame(),
) -> str:
    """Mean usage as a line over the peak as an area, with the levels as horizontal lines.

    `scale` divides every value before the 1-2-5 ticks are chosen (memory in MiB gives ticks like 256Mi).
    """
    count = len(mean)
    top = max([v for v in peak if v is not None] + [lv.value for lv in levels] + [0.0])
    step_y = nice_step(top / scale * 1.05) * scale if top > 0 else scale
    y_max = step_y * max(1, math.ceil(top * 1.05 / step_y))
    f = frame

    def x(i: float) -> float:
        return f.left + (i + 0.5) * f.inner_width / max(count, 1)

    def y(v: float) -> float:
        return f.top + f.inner_height * (1 - v / y_max)

    base = _num(y(0))
    parts = [
        f'<svg class="chart usage-chart" data-resource="{resource}" data-buckets="{count}" '
        f'viewBox="0 0 {f.width} {f.height}" role="img" aria-label="{escape(resource)} usage">'
    ]
    tick = 0.0
    while tick <= y_max + 1e-12:
        label = escape(fmt(tick)) if tick else "0"
        parts.append(
            f'<line class="grid" x1="{f.left}" x2="{f.width - f.right}" y1="{_num(y(tick))}" y2="{_num(y(tick))}"/>'
            f'<text class="tick" x="{f.left - 4}" y="{_num(y(tick) + 3)}" text-anchor="end">{label}</text>'
        )
        tick += step_y
    for i, label in _day_ticks(start, step, count):
        parts.append(f'<text class="tick" x="{_num(x(i))}" y="{f.height - 6}" text-anchor="middle">{label}</text>')
    for run in _segments(peak):
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in run)
        first, last = _num(x(run[0][0])), _num(x(run[-1][0]))
        parts.append(f'<path class="usage-peak" d="M{first},{base} L{points} L{last},{base} Z"/>')
    for run in _segments(mean):
        points = " L".join(f"{_num(x(i))},{_num(y(v))}" for i, v in run)
        parts.append(f'<path class="usage-mean" d="M{points}"/>')
    for level in levels:
        height = _num(y(level.value))
        parts.append(
            f'<line class="level {level.css}" x1="{f.left}" x2="{f.width - f.right}" y1="{height}" y2="{height}">'
            f"<title>{escape(level.label)} {escape(fmt(level.value))}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)


def cost_chart(rows: Sequence[dict[str, float | str]], currency: str, most: int = 20) -> str:
    """Monthly cost per namespace: now (grey) and as recommended (green), most expensive first."""
    shown = list(rows[:most])
    if len(rows) > most:
        rest = rows[most:]
        shown.append(
            {
                "namespace": f"({len(rest)} more)",
                "current": sum(float(r["current"]) for r in rest),
                "recommended": sum(float(r["recommended"]) for r in rest),
            }
        )
    width, label, value_w, row_h = 760, 170, 190, 24
    bar_w = width - label - value_w
    top = max([float(r["current"]) for r in shown] + [float(r["recommended"]) for r in shown] + [1e-9])
    height = row_h * len(shown) + 4
    parts = [
        f'<svg class="chart cost-chart" data-rows="{len(shown)}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="monthly cost by namespace">'
    ]
    for n, r in enumerate(shown):
        y0 = n * row_h + 4
        now, rec = float(r["current"]), float(r["recommended"])
        name = escape(str(r["namespace"]))
        parts.append(
            f'<text class="label" x="{label - 8}" y="{y0 + 14}" text-anchor="end">{name}</text>'
            f'<rect class="bar-current" x="{label}" y="{y0 + 2}" width="{_num(bar_w * now / top)}" height="16">'
            f"<title>{name} now {escape(format_money(now, currency))}</title></rect>"
            f'<rect class="bar-recommended" x="{label}" y="{y0 + 6}" width="{_num(bar_w * rec / top)}" height="8">'
            f"<title>{name} recommended {escape(format_money(rec, currency))}</title></rect>"
            f'<text class="value" x="{label + bar_w + 8}" y="{y0 + 14}">'
            f"{escape(format_money(now, currency))} \u2192 {escape(format_money(rec, currency))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
