"""Writers and readers in separate processes at once: nobody fails, no sample is lost.

DuckDB lets one process write or many read a file, and fails at once instead of waiting; upid's
connections are short, readers wait with backoff, and a writer that cannot get in time spools its batch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import synth
from conftest import process_env, run_process

WRITERS, FILES_PER_WRITER, READERS, READS = 3, 4, 2, 12


def _loop(calls: list[list[str]]) -> str:
    """A process that runs several upid commands in a row and exits with the worst status."""
    return (
        f"import sys\nfrom upid.cli.app import main\ncodes = [main(args) for args in {calls!r}]\nsys.exit(max(codes))"
    )


def test_concurrent_writers_and_readers_lose_nothing(home: Path, tmp_path: Path) -> None:
    seed = synth.make(namespaces=("seed",), samples=50)
    assert run_process(home, "storage", "import", seed.write_csv(tmp_path / "seed.csv")).code == 0
    expected = len(seed.rows)
    writer_calls = []
    for w in range(WRITERS):
        calls = []
        for f in range(FILES_PER_WRITER):
            data = synth.make(seed=10 * w + f, namespaces=(f"w{w}-f{f}",), samples=300)
            expected += len(data.rows)
            path = (
                data.write_parquet(tmp_path / f"w{w}-f{f}.parquet")
                if f % 2
                else data.write_csv(tmp_path / f"w{w}-f{f}.csv")
            )
            calls.append(["storage", "import", str(path)])
        writer_calls.append(calls)
    reader_calls = [[["analyze", "-o", "json"], ["storage", "status", "-o", "json"]][i % 2] for i in range(READS)]
    env = process_env(home, UPID_LOCK_TIMEOUT="3")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _loop(c)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for c in writer_calls
    ]
    procs += [
        subprocess.Popen(
            [sys.executable, "-c", _loop(reader_calls)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(READERS)
    ]
    spooled = 0
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        spooled += err.count("store busy")
    print(f"{spooled} imports spooled while the store was busy")
    status = run_process(home, "storage", "status", "-o", "json").json()
    assert status["spooled_batches"] == 0
    assert status["samples"] == expected
    log = run_process(home, "storage", "audit-log", "--limit", "100", "-o", "json").json()["entries"]
    assert sum(e["command"] == "storage import" for e in log) == 1 + WRITERS * FILES_PER_WRITER
