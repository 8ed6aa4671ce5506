"""A budget's figures recomputed from `upid cost --period window` over the month so far and the last 7 days,
and analyze's savings: what tests compare `upid cost`'s budgets and the `budget` alerts with."""

from __future__ import annotations

import calendar
import datetime as dt

from upid.units import parse_timestamp

HOURS_PER_MONTH = 730


def window_cost(upid, seconds: int, until: str, by: str = "namespace") -> tuple[dict[str, float], float]:
    doc = upid("cost", "-A", "--by", by, "--window", f"{seconds}s", "--until", until, "--period", "window",
               "-o", "json").json()  # fmt: skip
    return {g["group"]: g["cost"] for g in doc["groups"]}, doc["covered_hours"]


def expected(upid, until: str, group=None, by: str = "namespace", savings: float = 0.0) -> dict[str, float]:
    """`group`: one group of `by` (None: the whole cluster); `savings`: the scope's pending savings a month."""
    now = parse_timestamp(until)
    day = dt.datetime.fromtimestamp(now, dt.UTC)
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp()
    remaining = (start + calendar.monthrange(day.year, day.month)[1] * 86400 - now) / 3600
    spent_by, _ = window_cost(upid, int(now - start), until, by)
    recent_by, hours = window_cost(upid, 7 * 86400, until, by)
    pick = (lambda d: sum(d.values())) if group is None else (lambda d: d.get(group, 0.0))
    spent, rate = pick(spent_by), pick(recent_by) / hours
    forecast = spent + rate * remaining
    return {
        "spent": spent,
        "forecast": forecast,
        "remaining_hours": remaining,
        "forecast_if_applied": forecast - min(savings / HOURS_PER_MONTH, rate) * remaining,
    }
