"""The budget forecast on real usage: how far `spent + rate x hours left` lands from the month's real total.

upid's budgets bill max(request, usage) (docs/cost.md). The Bitbrains VMs' requests are their provisioned
sizes, which never change, so billed that way their cost is flat and any run rate looks exact. This bench bills
the same real trace by usage alone (cores x 0.031611 + GiB x 0.004237 an hour, OpenCost's unit prices), where
the cost moves as the VMs' load does, and asks how well each rate window forecasts the month:

  forecast at day d = spent over days 0..d + rate x the hours left (upid.analysis.budget.BudgetStatus)
  rate = the cost of the last k days before d, per hour (k = 1, 3, 7, 14), or of the month so far ("mtd");
         the trace has nothing before its first day, so at d = 7 the 14 days are the 7 there are

scored at d = 7, 14 and 21 of each month (a month: the trace's 30 days of that file), per VM (as one budget per
namespace would be) and for all 500 together (one cluster budget). The window is chosen on one month by the
median per-VM error and reported on the other (bench/holdout.py), both directions printed.

    python bench/budget.py
"""

from __future__ import annotations

import duckdb
import numpy as np
from datasets import month_file
from holdout import MONTHS, Direction, cross_month

from upid.analysis.budget import RATE_DAYS, Budget, BudgetStatus, Month

CUTS = (7, 14, 21)
CANDIDATES = (1, 3, 7, 14, "mtd")
CPU, GIB_HOUR = 0.031611, 0.004237


def hourly_cost(month: int) -> np.ndarray:
    """Per VM and hour of the file's first 30 days: what its mean usage in that hour costs (VMs x 720)."""
    con = duckdb.connect()
    rows = con.execute(f"""
        WITH s AS (SELECT workload, epoch(timestamp)::BIGINT AS ts, cpu_cores, memory_bytes FROM '{month_file(month)}'),
             t AS (SELECT min(ts) AS t0 FROM s)
        SELECT workload, (ts - t0) // 3600 AS hour,
               avg(coalesce(cpu_cores, 0)) * {CPU} + avg(memory_bytes) / 1073741824 * {GIB_HOUR} AS cost
        FROM s, t WHERE ts - t0 < 30 * 86400 GROUP BY ALL""").fetchall()  # fmt: skip
    vms = sorted({r[0] for r in rows})
    index = {v: i for i, v in enumerate(vms)}
    out = np.zeros((len(vms), 720))
    for vm, hour, cost in rows:
        out[index[vm], int(hour)] = cost
    return out


def forecast(costs: np.ndarray, day: int, k: int | str) -> np.ndarray:
    """upid's forecast of each row's month at the end of `day`, with a rate over the last k days."""
    now = day * 24
    hours = now if k == "mtd" else min(now, 24 * int(k))  # the trace has nothing before its first day
    month = Month(0, 720 * 3600, now * 3600)
    spent, rates = costs[:, :now].sum(axis=1), costs[:, now - hours : now].sum(axis=1) / hours
    b = Budget("bench", 1.0)
    status = [BudgetStatus(b, "", "", "USD", month, s, now, r, 0.0) for s, r in zip(spent, rates, strict=True)]
    return np.array([x.forecast for x in status])


def score(costs: np.ndarray, k: int | str) -> dict[str, float]:
    actual, total = costs.sum(axis=1), costs.sum()
    per_vm, cluster = [], []
    for day in CUTS:
        f = forecast(costs, day, k)
        ok = actual > 0
        per_vm.append(np.abs(f[ok] - actual[ok]) / actual[ok])
        cluster.append(abs(f.sum() - total) / total)
    errors = np.concatenate(per_vm)
    return {
        "vm_median": float(np.median(errors)),
        "vm_p90": float(np.percentile(errors, 90)),
        "cluster_mean": float(np.mean(cluster)),
    }


def main() -> None:
    data = {m: hourly_cost(m) for m in MONTHS}
    print(f"Bitbrains Rnd, billed by usage; VMs: {', '.join(f'2013-{m}: {len(c)}' for m, c in data.items())}; "
          f"forecast at days {', '.join(map(str, CUTS))} of 30")  # fmt: skip
    print("absolute error of the forecast month against the real one, as a share of the real one")
    print(f"{'window':>7s} " + " ".join(f"{'VM med ' + str(m):>11s} {'VM p90 ' + str(m):>11s} {'all ' + str(m):>8s}"
                                        for m in MONTHS))  # fmt: skip
    scores = {(k, m): score(data[m], k) for k in CANDIDATES for m in MONTHS}
    for k in CANDIDATES:
        cells = " ".join(f"{scores[k, m]['vm_median']:>11.1%} {scores[k, m]['vm_p90']:>11.1%} "
                         f"{scores[k, m]['cluster_mean']:>8.1%}" for m in MONTHS)  # fmt: skip
        print(f"{k if k == 'mtd' else str(k) + 'd':>7s} {cells}")
    directions: list[Direction] = cross_month(
        CANDIDATES, lambda k, m: scores[k, m], lambda scored, m: min(scored, key=lambda cs: cs[1]["vm_median"])[0]
    )
    for d in directions:
        name = d.chosen if d.chosen == "mtd" else f"{d.chosen}d"
        print(f"chosen on 2013-{d.tuned_on}: {name} (median VM error there {d.in_sample['vm_median']:.1%}, in "
              f"sample); on 2013-{d.reported_on}: median VM error {d.out_of_sample['vm_median']:.1%}, "
              f"cluster {d.out_of_sample['cluster_mean']:.1%}")  # fmt: skip
    shipped = "; ".join(f"2013-{m}: median VM error {scores[RATE_DAYS, m]['vm_median']:.1%}, cluster "
                        f"{scores[RATE_DAYS, m]['cluster_mean']:.1%}" for m in MONTHS)  # fmt: skip
    print(f"upid ships {RATE_DAYS}d (chosen before this bench, on neither month): {shipped}")


if __name__ == "__main__":
    main()
