"""The one evaluation protocol of the benches: choose on one month, report on the other.

Every threshold or rule a bench picks is chosen on one month of the Bitbrains trace (July) and scored on the
other (August), and the reverse; both directions are printed in one run, each next to the in-sample number of
the month it was chosen on, which is marked as such. A month is cut at several history lengths (`SPLITS`
days); the history before a cut is what upid sees, the `FUTURE_DAYS` after it are the truth.

A month's whole trace is imported once with `upid storage import` into a store under the bench cache, and
each cut is read back as upid reads it (`store.window` up to the cut), so the benches can call upid's own
analysis functions on the same histories many times without re-importing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from datasets import CACHE, month_file

MONTHS = (7, 8)
SPLITS = (14, 21)  # days of history before each cut
FUTURE_DAYS = 7  # the truth: the week after the cut
DAY = 86400
CLUSTER = "bitbrains"


def month_store(month: int) -> Path:
    """UPID_HOME of a store holding the whole month, imported once by `upid storage import`."""
    home = CACHE / f"store-2013-{month}"
    done = home / "imported"
    if not done.exists():
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "UPID_HOME": str(home)}
        subprocess.run(
            [sys.executable, "-m", "upid", "storage", "import", str(month_file(month)), "--cluster", CLUSTER],
            env=env,
            check=True,
            capture_output=True,
        )
        done.write_text("ok\n")
    return home


def month_start(month: int) -> int:
    return int(
        duckdb.connect().execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{month_file(month)}'").fetchone()[0]
    )


@dataclass(frozen=True)
class Future:
    """The week after a cut, per workload: its samples (5 min) and provisioned size."""

    ts: np.ndarray
    cpu: np.ndarray
    memory: np.ndarray
    network: np.ndarray
    cores: float
    memory_limit: float


@dataclass(frozen=True)
class Cut:
    month: int
    split_days: int
    end: int  # the cut: the history is (end - split_days, end]
    histories: list[Any]  # upid.analysis.history.ContainerHistory
    future: dict[str, Future]  # by workload


def _future(month: int, lo: int, hi: int) -> dict[str, Future]:
    rows = (
        duckdb.connect()
        .execute(f"""
        SELECT workload, list(epoch(timestamp)::BIGINT ORDER BY timestamp),
               list(coalesce(cpu_cores, 0) ORDER BY timestamp), list(memory_bytes ORDER BY timestamp),
               list(coalesce(network_rx_bytes_per_s, 0) + coalesce(network_tx_bytes_per_s, 0) ORDER BY timestamp),
               any_value(cpu_request_cores), any_value(memory_limit_bytes)
        FROM '{month_file(month)}' WHERE epoch(timestamp) > {lo} AND epoch(timestamp) <= {hi}
        GROUP BY workload HAVING count(*) >= 100""")
        .fetchall()
    )
    return {r[0]: Future(*(np.asarray(r[i], float) for i in range(1, 5)), float(r[5]), float(r[6])) for r in rows}


def cut(month: int, split_days: int) -> Cut:
    """The history before the cut as upid loads it, and the week after it from the trace."""
    from upid.analysis.history import histories
    from upid.analysis.window import Scope
    from upid.settings import load_settings
    from upid.store import open_store

    home = month_store(month)
    start = month_start(month)
    end = (start + split_days * DAY) // 3600 * 3600
    settings = load_settings({"UPID_HOME": str(home)})
    store = open_store(settings)
    window = store.window(CLUSTER, end - split_days * DAY, end, Scope())
    return Cut(month, split_days, end, histories(window), _future(month, end, end + FUTURE_DAYS * DAY))


def cuts(months: Iterable[int] = MONTHS, splits: Iterable[int] = SPLITS) -> dict[int, list[Cut]]:
    return {m: [cut(m, s) for s in splits] for m in months}


Candidate = Any
Score = dict[str, float]


@dataclass(frozen=True)
class Direction:
    tuned_on: int
    reported_on: int
    chosen: Candidate
    in_sample: Score  # on the month it was chosen on
    out_of_sample: Score  # on the other month: the headline


def cross_month(
    candidates: Sequence[Candidate],
    evaluate: Callable[[Candidate, int], Score],
    choose: Callable[[list[tuple[Candidate, Score]], int], Candidate],
    months: Sequence[int] = MONTHS,
) -> list[Direction]:
    """For each month: choose among `candidates` on it (by `choose(scores there, month)`), then score the
    choice on the other month. `evaluate(candidate, month)` scores a candidate on one month's cuts."""
    scores = {m: [(c, evaluate(c, m)) for c in candidates] for m in months}
    out = []
    for tuned in months:
        other = next(m for m in months if m != tuned)
        chosen = choose(scores[tuned], tuned)
        in_sample = next(s for c, s in scores[tuned] if c == chosen)
        out.append(Direction(tuned, other, chosen, in_sample, next(s for c, s in scores[other] if c == chosen)))
    return out
