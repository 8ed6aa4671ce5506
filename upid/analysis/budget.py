"""Budgets: a monthly amount for a cluster, a namespace (or each namespace) or the workloads with a label, and
where this calendar month (UTC) stands against it (docs/cost.md "Budgets"):

- **spent**: what the month's measured hours cost so far, the window cost of `upid cost --period window`;
- **forecast**: spent plus the hours left in the month at the rate of the last 7 days before now (a whole
  week, so weekends count, and recent enough that a change shows within days);
- **pending savings**: what the recommendations not applied yet would save a month (analyze's counted
  savings, each workload once), what that is worth in the hours left, and the forecast if they were applied now.

Pure: the spend and savings are given, grouped, by the workflow (upid.workflows.budgets)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOURS_PER_MONTH = 730  # as every monthly figure of upid (upid.analysis.cost)
RATE_DAYS = 7  # the forecast's rate: the cost of this many days before now, per hour
EVERY = "*"  # namespace = "*": each namespace its own budget of the amount


@dataclass(frozen=True)
class Budget:
    name: str
    monthly: float
    cluster: str | None = None  # None: every cluster, each on its own
    namespace: str | None = None  # a namespace, or "*" for each namespace
    label: str | None = None  # KEY=VALUE: the workloads with this label
    source: str = "config"  # where it was defined: config, the rules file, or a rule's alert name

    @property
    def grouping(self) -> str:
        """What the spend is grouped by to check it: namespace (cluster and namespace budgets) or label=KEY."""
        return f"label={self.label.split('=', 1)[0]}" if self.label else "namespace"

    @property
    def scope(self) -> str:
        return "label" if self.label else "namespace" if self.namespace else "cluster"

    def applies_to(self, cluster: str) -> bool:
        return self.cluster in (None, cluster)

    def groups(self, known: list[str]) -> list[str]:
        """The groups (of `grouping`) this budget is checked on, one status each: "" is the whole cluster."""
        if self.label:
            return [self.label]
        if self.namespace == EVERY:
            return sorted(known)
        return [self.namespace or ""]


FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "monthly": (int, float), "cluster": str, "namespace": str, "label": str,
}  # fmt: skip


def parse_budgets(items: Any, where: str, source: str) -> tuple[list[Budget], list[str]]:
    """Budgets from a list of mappings (TOML's [[budgets]], or YAML's budgets:), and every problem with its
    place; a mapping's "__line__" (the rules file's loader) names its line."""
    if not isinstance(items, list):
        return [], [f"{where}: budgets must be a list of tables with monthly and a scope"]
    out, problems, names = [], [], set()
    for i, raw in enumerate(items):
        at = f"{where}:{raw['__line__']}" if isinstance(raw, dict) and "__line__" in raw else f"{where}[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{at}: a budget is a table of name, monthly, cluster, namespace or label")
            continue
        given = {k: v for k, v in raw.items() if k != "__line__"}
        bad = [f"{at}: unknown budget field {k!r}; allowed: {', '.join(FIELDS)}" for k in given if k not in FIELDS]
        for key, kind in FIELDS.items():
            value = given.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                bad.append(f"{at}: budget field {key} must be a {'number' if key == 'monthly' else 'string'}")
        monthly = given.get("monthly")
        if not bad and (monthly is None or monthly <= 0):
            bad.append(f"{at}: a budget needs monthly, an amount above 0")
        if not bad and given.get("namespace") and given.get("label"):
            bad.append(f"{at}: a budget has a namespace or a label, not both")
        label = given.get("label")
        if not bad and label is not None and ("=" not in label or not label.split("=", 1)[0]):
            bad.append(f"{at}: budget label must be KEY=VALUE, got {label!r}")
        if bad:
            problems += bad
            continue
        every = "namespaces" if given.get("namespace") == EVERY else None
        name = given.get("name") or label or every or given.get("namespace") or given.get("cluster") or "cluster"
        if name in names:
            problems.append(f"{at}: another budget is also named {name!r}")
            continue
        names.add(name)
        out.append(Budget(name, float(monthly or 0), given.get("cluster"), given.get("namespace"), label, source))
    return out, problems


@dataclass(frozen=True)
class Month:
    """The calendar month (UTC) holding `as_of`."""

    start: int
    end: int
    as_of: int

    @classmethod
    def holding(cls, as_of: float) -> Month:
        day = dt.datetime.fromtimestamp(as_of, dt.UTC)
        start = int(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp())
        return cls(start, start + calendar.monthrange(day.year, day.month)[1] * 86400, int(as_of))

    @property
    def name(self) -> str:
        return dt.datetime.fromtimestamp(self.start, dt.UTC).strftime("%Y-%m")

    @property
    def elapsed_hours(self) -> float:
        return (self.as_of - self.start) / 3600

    @property
    def remaining_hours(self) -> float:
        return max(0.0, (self.end - self.as_of) / 3600)


@dataclass(frozen=True)
class Spend:
    """One grouping's cost: the month so far (its measured hours), and the last RATE_DAYS (the forecast's rate)."""

    spent: Mapping[str, float]  # group -> window cost of the month's measured hours
    measured_hours: float
    recent: Mapping[str, float]  # group -> window cost of the last RATE_DAYS
    recent_hours: float

    def total(self, group: str) -> tuple[float, float]:
        """Spent so far and the hourly rate of `group` ("" is every group)."""
        spent = sum(self.spent.values()) if group == "" else self.spent.get(group, 0.0)
        recent = sum(self.recent.values()) if group == "" else self.recent.get(group, 0.0)
        return spent, recent / self.recent_hours if self.recent_hours > 0 else 0.0


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    cluster: str
    group: str  # the namespace or KEY=VALUE checked; "" for the whole cluster
    currency: str
    month: Month
    spent: float
    measured_hours: float
    hourly_rate: float
    pending_monthly_savings: float

    @property
    def forecast(self) -> float:
        return self.spent + self.hourly_rate * self.month.remaining_hours

    @property
    def used(self) -> float:
        """The forecast as a share of the budget."""
        return self.forecast / self.budget.monthly

    @property
    def savings_to_month_end(self) -> float:
        """What the pending recommendations save in the hours left, applied now (their rate, capped at the spend)."""
        hourly = min(self.pending_monthly_savings / HOURS_PER_MONTH, self.hourly_rate)
        return hourly * self.month.remaining_hours

    def to_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            "name": b.name,
            "cluster": self.cluster,
            "scope": b.scope,
            "namespace": self.group if b.scope == "namespace" else None,
            "label": b.label,
            "source": b.source,
            "currency": self.currency,
            "month": self.month.name,
            "budget": round(b.monthly, 2),
            "spent": round(self.spent, 2),
            "measured_hours": round(self.measured_hours, 2),
            "elapsed_hours": round(self.month.elapsed_hours, 2),
            "remaining_hours": round(self.month.remaining_hours, 2),
            "hourly_rate": round(self.hourly_rate, 4),
            "forecast": round(self.forecast, 2),
            "used_percent": round(self.used * 100, 1),
            "over": self.forecast > b.monthly,
            "pending_monthly_savings": round(self.pending_monthly_savings, 2),
            "savings_to_month_end": round(self.savings_to_month_end, 2),
            "forecast_if_applied": round(self.forecast - self.savings_to_month_end, 2),
        }


def savings_by(
    counted: Mapping[tuple[str, str, str, str], float | None],
    grouping: str,
    labels: Mapping[tuple[str, str, str], Mapping[str, str]],
) -> dict[str, float]:
    """Analyze's counted monthly savings per container (upid.analysis.savings.counted: each workload once), per
    group of `grouping` (namespace, label=KEY)."""
    out: dict[str, float] = {}
    key = grouping.split("=", 1)[1] if grouping.startswith("label=") else None
    for (namespace, kind, workload, _), value in counted.items():
        if key is None:
            group = namespace
        else:
            label = labels.get((namespace, kind, workload), {}).get(key)
            if label is None:
                continue
            group = f"{key}={label}"
        out[group] = out.get(group, 0.0) + float(value or 0.0)
    return out


def statuses(
    budgets: list[Budget],
    cluster: str,
    month: Month,
    spend: Mapping[str, Spend],
    savings: Mapping[str, Mapping[str, float]],
    currency: str,
) -> list[BudgetStatus]:
    """Each budget that applies to `cluster`, once per group it covers; `spend` and `savings` by grouping."""
    out = []
    for b in budgets:
        if not b.applies_to(cluster):
            continue
        s = spend[b.grouping]
        for group in b.groups(sorted(set(s.spent) | set(s.recent))):
            spent, rate = s.total(group)
            saved = savings.get(b.grouping, {})
            pending = sum(saved.values()) if group == "" else saved.get(group, 0.0)
            out.append(BudgetStatus(b, cluster, group, currency, month, spent, s.measured_hours, rate, pending))
    return out
