"""Is KRR's CPU rule (p95 of usage) beatable on the Bitbrains trace? The quantile frontier, measured.

For each month and split (history = the first SPLIT days, future = the rest), every container's CPU
request is set by a rule fitted on its history (rounded up to 1m, floor 10m, as the strategies do) and
scored on the future with the measures of bench/rightsizing.py (cpu_save, cpu_short). A uniform quantile
pN traces the frontier; a rule beats p95 on both measures only if it lies below that frontier, i.e. it
has less shortfall than the quantile rule that saves as much.

    python bench/cpu_frontier.py
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
from datasets import month_file

Rule = Callable[[np.ndarray, np.ndarray], float]
QUANTILES = (90, 92, 93, 94, 95, 96, 97, 98, 99)
CASES = ((7, 21), (7, 14), (8, 21), (8, 14))


def load(month: int, split_days: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """(history cpu, history epoch seconds, future cpu, provisioned cores) per VM with a future."""
    path = month_file(month)
    con = duckdb.connect()
    start = con.execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{path}'").fetchone()[0]
    split = start + split_days * 86400
    rows = con.execute(f"""
        SELECT list(coalesce(cpu_cores, 0) ORDER BY timestamp) FILTER (WHERE epoch(timestamp) < {split}),
               list(epoch(timestamp) ORDER BY timestamp) FILTER (WHERE epoch(timestamp) < {split}),
               list(coalesce(cpu_cores, 0)) FILTER (WHERE epoch(timestamp) >= {split}),
               any_value(cpu_request_cores)
        FROM '{path}' GROUP BY workload""").fetchall()
    return [
        (np.asarray(h or [], float), np.asarray(t or [], float), np.asarray(f, float), float(c))
        for h, t, f, c in rows
        if f
    ]


def score(data: list, rule: Rule) -> tuple[float, float]:
    """(cpu_save, cpu_short); a container with < 100 history samples keeps its provisioned cores."""
    rec = prov = short = used = 0.0
    for hist, ts, future, cores in data:
        r = max(np.ceil(rule(hist, ts) * 1000) / 1000, 0.01) if len(hist) >= 100 else cores
        rec, prov = rec + r, prov + cores
        short += np.maximum(future - r, 0).sum()
        used += future.sum()
    return 1 - rec / prov, short / used


def recent_max(days: int, q: float) -> Rule:
    """max(pq over the whole history, pq over its last `days` days): follow a load that went up."""
    return lambda h, t: max(np.percentile(h, q), np.percentile(h[t >= t.max() - days * 86400], q))


ALTERNATIVES: dict[str, Rule] = {
    "p95 of the last 7 d": lambda h, t: np.percentile(h[t >= t.max() - 7 * 86400], 95),
    "max(p95, p95 of last 7 d)": recent_max(7, 95),
    "max(p93, p93 of last 7 d)": recent_max(7, 93),
    "mean + 2 sd": lambda h, t: h.mean() + 2 * h.std(),
}


def main() -> None:
    print(f"{'case':>8s} {'rule':>27s} {'cpu_save':>9s} {'cpu_short':>9s} {'frontier':>9s}")
    for month, split in CASES:
        data = load(month, split)
        front = [score(data, lambda h, t, q=q: np.percentile(h, q)) for q in QUANTILES]
        for q, (save, short) in zip(QUANTILES, front, strict=True):
            print(f"{month}/{split:>2d}d {'p' + str(q):>27s} {save:>9.4f} {short:>9.4f}")
        saves, shorts = np.array(front).T
        order = np.argsort(saves)
        for name, rule in ALTERNATIVES.items():
            save, short = score(data, rule)
            at = np.interp(save, saves[order], shorts[order])
            print(f"{month}/{split:>2d}d {name:>27s} {save:>9.4f} {short:>9.4f} {at:>9.4f}", flush=True)


if __name__ == "__main__":
    main()
