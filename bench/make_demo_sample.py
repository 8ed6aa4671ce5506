"""Build upid/data/demo/bitbrains-sample.parquet: the small real-data sample `upid demo` ships.

50 of the 500 Bitbrains Rnd VMs (every tenth id), the first 14 days of August 2013, in the canonical
import format. Citation and licence terms: docs/data.md. Run from the repository root:

    python bench/make_demo_sample.py
"""

from __future__ import annotations

from pathlib import Path

from datasets import write_bitbrains

VMS = list(range(1, 501, 10))
DAYS = 14
OUT = Path(__file__).resolve().parents[1] / "upid" / "data" / "demo" / "bitbrains-sample.parquet"

if __name__ == "__main__":
    rows = write_bitbrains(8, OUT, vms=VMS, days=DAYS)
    print(f"{rows} rows, {OUT.stat().st_size / 1e6:.2f} MB -> {OUT}")
