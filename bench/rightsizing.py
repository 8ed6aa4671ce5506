"""Right-sizing on the real Bitbrains trace: `upid` against `krr-simple` and `vpa`, chosen on one month and
reported on the other.

The protocol is bench/holdout.py's: each month is cut after 14 and 21 days; the strategies (upid's own
classes, as `upid analyze` runs them) see the history before the cut and are scored on the week after it.
Each VM is a one-container workload whose provisioned cores and memory are its current request and limit.
A container left without a recommendation keeps them. Per cut, over the VMs:

    cpu_save           1 - sum(recommended CPU request) / sum(provisioned cores)
    cpu_short          sum(max(0, usage - recommended request)) / sum(usage), over the future samples
    mem_save           1 - sum(recommended memory limit) / sum(provisioned memory)
    over_limit         containers whose future peak memory exceeds the recommended memory limit (each of them
                       would be OOM-killed at least once: a count of containers, not of OOM kills)

The memory rule of `upid` (peak + max(a x peak, min(B, c x peak)), kept at the current limit when within
`min_change` of it) is chosen on one month: among the candidates whose mem_save is at least KRR's on every cut
of that month, the one whose worst over_limit / KRR's over_limit is lowest; it is reported on the other month.

    python bench/rightsizing.py
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from holdout import MONTHS, Cut, Direction, cross_month, cuts

from upid.analysis.strategies import STRATEGIES

MIB = 1024**2
GIB = 1024 * MIB
MEMORY_GRID = {
    "headroom": (0.0, 0.05, 0.1),
    "absolute_headroom": (512 * MIB, 1 * GIB, 1.5 * GIB, 2 * GIB),
    "headroom_cap": (0.5, 1.0, 2.0),
    "min_change": (0.0, 0.1, 0.2),
}
KEYS = ("cpu_save", "cpu_short", "mem_save", "over_limit")


def score(c: Cut, strategy: object) -> dict[str, float]:
    rec_cpu = prov_cpu = short = used = rec_mem = prov_mem = 0.0
    over = 0
    for h in c.histories:
        f = c.future.get(h.key[2])
        if f is None:
            continue
        rec = strategy.recommend(h)  # type: ignore[attr-defined]
        r_cpu = rec.cpu_request or f.cores
        r_mem = rec.memory_limit or f.memory_limit
        rec_cpu, prov_cpu = rec_cpu + r_cpu, prov_cpu + f.cores
        short += float(np.maximum(f.cpu - r_cpu, 0).sum())
        used += float(f.cpu.sum())
        rec_mem, prov_mem = rec_mem + r_mem, prov_mem + f.memory_limit
        over += int(f.memory.max() > r_mem)
    return {"cpu_save": 1 - rec_cpu / prov_cpu, "cpu_short": short / used, "mem_save": 1 - rec_mem / prov_mem,
            "over_limit": over}  # fmt: skip


def _by_cut(month_cuts: list[Cut], strategy: object) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in month_cuts:
        out |= {f"{k}_{c.split_days}d": v for k, v in score(c, strategy).items()}
    return out


def _choose(krr: dict[int, dict[str, float]]) -> object:
    def choose(scored: list[tuple[object, dict[str, float]]], month: int) -> object:
        base = krr[month]
        splits = [k.rsplit("_", 1)[1] for k in base if k.startswith("over_limit_")]

        def worst_ratio(s: dict[str, float]) -> float:
            return max(s[f"over_limit_{d}"] / max(1.0, base[f"over_limit_{d}"]) for d in splits)

        feasible = [(c, s) for c, s in scored if all(s[f"mem_save_{d}"] >= base[f"mem_save_{d}"] for d in splits)]
        return min(feasible or scored, key=lambda cs: (worst_ratio(cs[1]), -cs[1][f"mem_save_{splits[0]}"]))[0]

    return choose


def _print_direction(d: Direction, krr: dict[int, dict[str, float]]) -> None:
    chosen = ", ".join(f"{k}={v / MIB:g}Mi" if k == "absolute_headroom" else f"{k}={v:g}" for k, v in d.chosen)
    print(f"  chosen on 2013-{d.tuned_on:02d} -> reported on 2013-{d.reported_on:02d} [{chosen}]")
    base, base_in = krr[d.reported_on], krr[d.tuned_on]
    for split in sorted({int(k.rsplit("_", 1)[1][:-1]) for k in d.in_sample}):
        s, i = f"_{split}d", d.in_sample
        o = d.out_of_sample
        print(
            f"    {split}d cut: out of sample mem_save {o['mem_save' + s]:.4f} (krr {base['mem_save' + s]:.4f}) "
            f"over_limit {int(o['over_limit' + s])} (krr {int(base['over_limit' + s])}, ratio "
            f"{o['over_limit' + s] / base['over_limit' + s]:.2f});  in-sample mem_save {i['mem_save' + s]:.4f} "
            f"(krr {base_in['mem_save' + s]:.4f}) over_limit {int(i['over_limit' + s])} "
            f"(krr {int(base_in['over_limit' + s])})"
        )


def main() -> None:
    started = time.perf_counter()
    data = cuts()
    print(f"{'month':>7s} {'cut':>4s} {'strategy':>10s} " + " ".join(f"{k:>10s}" for k in KEYS) + "  vs krr-simple")
    krr: dict[int, dict[str, float]] = {}
    for month in MONTHS:
        krr[month] = _by_cut(data[month], STRATEGIES["krr-simple"]())
        for c in data[month]:
            base = score(c, STRATEGIES["krr-simple"]())
            for name in ("krr-simple", "vpa", "upid"):
                r = base if name == "krr-simple" else score(c, STRATEGIES[name]())
                better = "".join(
                    "=" if r[k] == base[k] else "+" if (r[k] > base[k]) == k.endswith("save") else "-" for k in KEYS
                )
                cells = " ".join(f"{r[k]:>10.4f}" if k != "over_limit" else f"{int(r[k]):>10d}" for k in KEYS)
                print(f"2013-{month:02d} {c.split_days:>3d}d {name:>10s} {cells}  {better}", flush=True)
    candidates = [tuple(zip(MEMORY_GRID, v, strict=True)) for v in itertools.product(*MEMORY_GRID.values())]
    print(
        "upid's memory rule: mem_save >= KRR's on every cut of the tuning month, then the lowest worst over_limit ratio"
    )
    directions = cross_month(
        candidates, lambda cand, m: _by_cut(data[m], STRATEGIES["upid"](**dict(cand))), _choose(krr)
    )
    for d in directions:
        _print_direction(d, krr)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
