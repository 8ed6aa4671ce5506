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

    @property
    def recommended(self) -> bool:
        return self.css.startswith("recommended")


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


MIB, GIB = 1024**2, 1024**3


def nice_bytes_step(span: float, ticks: int = 4) -> float:
    """A round step in bytes: 1-2-5 GiB from a GiB up, else a power of two MiB (64Mi, 128Mi, 256Mi, 512Mi)."""
    raw = span / ticks
    if raw >= GIB:
        return nice_step(span / GIB, ticks) * GIB
    return float(2 ** max(0, math.ceil(math.log2(max(raw, 1.0) / MIB)))) * MIB


def _fit(peak: Sequence[float | None], levels: Sequence[Level]) -> float:
    """What the y axis must show: the usage and the recommendation. A current request or limit far above them
    (the over-provisioned case the chart is for) would flatten both into the bottom: it is drawn at the top
    edge, labelled, instead."""
    return max([v for v in peak if v is not None] + [lv.value for lv in levels if lv.recommended] + [0.0])


def _level_marks(levels: Sequence[Level], y_max: float, fmt: Fmt) -> list[tuple[float, str, str, bool]]:
    """(value drawn at, label, css, off scale) per distinct value; levels at the same value share a label."""
    marks: dict[float, list[Level]] = {}
    for level in levels:
        marks.setdefault(round(level.value, 9), []).append(level)
    out = []
    for value, same in sorted(marks.items()):
        names = " = ".join(lv.label for lv in same)
        off = value > y_max
        out.append((min(value, y_max), f"{names} {fmt(value)}" + (" \u2191" if off else ""), same[0].css, off))
    return out


def usage_chart(
    resource: str,
    start: int,
    step: int,
    mean: Sequence[float | None],
    peak: Sequence[float | None],
    levels: Sequence[Level],
    fmt: Fmt,
    frame: Frame = Frame(),
) -> str:
    """Mean usage as a line over the peak as an area, the levels as labelled horizontal lines (request, limit:
    dashed and dotted; recommendation: solid, green). The y axis fits the usage and the recommendation, with
    round ticks (1-2-5 cores; bytes in powers of two MiB or 1-2-5 GiB); a level above it sits on the top edge
    with an arrow in its label."""
    count = len(mean)
    top = _fit(peak, levels) * 1.05
    step_y = (nice_bytes_step(top) if resource == "memory" else nice_step(top)) if top > 0 else 1.0
    y_max = step_y * max(1, math.ceil(top / step_y))
    f = frame

    def x(i: float) -> float:
        return f.left + (i + 0.5) * f.inner_width / max(count, 1)

    def y(v: float) -> float:
        return f.top + f.inner_height * (1 - v / y_max)

    base = _num(y(0))
    parts = [
        f'<svg class="chart usage-chart" data-resource="{resource}" data-buckets="{count}" '
        f'data-y-max="{y_max:g}" viewBox="0 0 {f.width} {f.height}" role="img" aria-label="{escape(resource)} usage">'
    ]
    for n in range(int(round(y_max / step_y)) + 1):
        tick = n * step_y
        label = escape(fmt(tick)) if tick else "0"
        parts.append(
            f'<line class="grid" x1="{f.left}" x2="{f.width - f.right}" y1="{_num(y(tick))}" y2="{_num(y(tick))}"/>'
            f'<text class="tick" x="{f.left - 4}" y="{_num(y(tick) + 3)}" text-anchor="end">{label}</text>'
        )
    for i, label in _day_ticks(start, step, count):
        parts.append(f'<text class="tick" x="{_num(x(i))}" y="{f.height - 6}" text-anchor="middle">{label}</text>')
    for run in _segments(peak):
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in run)
        first, last = _num(x(run[0][0])), _num(x(run[-1][0]))
        parts.append(f'<path class="usage-peak" d="M{first},{base} L{points} L{last},{base} Z"/>')
    for run in _segments(mean):
        points = " L".join(f"{_num(x(i))},{_num(y(v))}" for i, v in run)
        parts.append(f'<path class="usage-mean" d="M{points}"/>')
    label_y = -1e9
    for value, label, css, off in sorted(_level_marks(levels, y_max, fmt), key=lambda m: -m[0]):
        height = y(value)
        label_y = max(height - 3, label_y + 11)  # labels never overprint each other
        parts.append(
            f'<line class="level {css}{" off-scale" if off else ""}" x1="{f.left}" x2="{f.width - f.right}" '
            f'y1="{_num(height)}" y2="{_num(height)}"><title>{escape(label)}</title></line>'
            f'<text class="level-label {css}" x="{f.width - f.right - 4}" y="{_num(max(label_y, f.top + 9))}" '
            f'text-anchor="end">{escape(label)}</text>'
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
