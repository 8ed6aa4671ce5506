"""Seeded fuzzing of `upid storage import`: a few hundred files derived from one good file by one mutation each,
imported into one store. Whatever the file, upid never prints a traceback, never exits 1 (a bug), never hangs,
never stores a value outside its limits (upid/samples.py), and never rejects a whole file for one bad row."""

from __future__ import annotations

import csv
import gzip
import io
import random
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import synth

from upid.errors import ExitCode

SEED = 20261201
FILES = 300
HOSTILE = [
    "", " ", "abc", "-5", "-0.001", "1e309", "-1e309", "nan", "NaN", "inf", "-inf", "Infinity", "3000000",
    "1e25", "1e20", "1e7", "١٢٣", "0x10", " 1 ", "1,5", "1_000", "١", "Ⅻ", "9" * 400, "x" * 10_000, "\x00",
    "\x1b[31mred", "'", '"', "\\", "NULL", "null", "None", "true", "-", "+", ".", "e5", "1e", "--1", "1.2.3",
    "9999-12-31T23:59:59Z", "4000-01-01", "1999-12-31", "0001-01-01", "1970-01-01", "-1", "1e11", "1e12",
    "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z", "2026-01-01 00:00:00+99:00", "\u202e", "😀", "a\nb",
]  # fmt: skip
KEYS = ("cluster", "namespace", "workload_kind", "workload", "pod", "container", "node")


@dataclass
class Case:
    name: str
    data: bytes
    one_bad_row: bool  # at most one row may be rejected, and the file must import


def _base_rows(rng: random.Random) -> list[dict[str, object]]:
    rows = synth.make(seed=rng.randrange(1000), samples=6, namespaces=("a",), workloads=1).rows
    return [dict(r) for r in rows]


def _csv(rows: list[dict[str, object]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _hostile(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(HOSTILE)
    return f"{rng.choice(['', '-'])}{rng.random():.3f}e{rng.randrange(-400, 400)}"


def _cell(rng: random.Random, i: int) -> Case:
    rows = _base_rows(rng)
    row, column = rng.randrange(len(rows)), rng.choice(synth.COLUMNS)
    rows[row][column] = _hostile(rng)
    return Case(f"{i}-cell-{column}", _csv(rows, synth.COLUMNS), True)


def _structure(rng: random.Random, i: int) -> Case:
    rows = _base_rows(rng)
    columns = list(synth.COLUMNS)
    text = _csv(rows, columns).decode()
    lines = text.splitlines()
    kind = rng.choice(["drop", "rename", "extra", "short", "long", "blank", "bom", "crlf", "header", "shuffle"])
    if kind == "drop":
        columns.remove(rng.choice(columns))
        text = _csv(rows, columns).decode()
    elif kind == "rename":
        text = text.replace(rng.choice(columns), rng.choice(columns).upper() + "x", 1)
    elif kind == "extra":
        lines[0] += ",extra"
        text = "\n".join(line + (",1" if n else "") for n, line in enumerate(lines)) + "\n"
    elif kind == "short":
        n = rng.randrange(1, len(lines))
        lines[n] = ",".join(lines[n].split(",")[: rng.randrange(1, len(columns))])
        text = "\n".join(lines) + "\n"
    elif kind == "long":
        n = rng.randrange(1, len(lines))
        lines[n] += ",1,2"
        text = "\n".join(lines) + "\n"
    elif kind == "blank":
        lines.insert(rng.randrange(1, len(lines)), "")
        text = "\n".join(lines) + "\n"
    elif kind == "bom":
        text = "\ufeff" + text
    elif kind == "crlf":
        text = text.replace("\n", "\r\n")
    elif kind == "header":
        text = lines[0] + "\n"
    else:
        order = rng.sample(columns, len(columns))
        text = _csv(rows, order).decode()
    single = kind in ("short", "long", "blank", "bom", "crlf", "shuffle", "extra")
    return Case(f"{i}-structure-{kind}", text.encode(), single)


def _bytes(rng: random.Random, i: int) -> Case:
    data = bytearray(_csv(_base_rows(rng), synth.COLUMNS))
    kind = rng.choice(["truncate", "flip", "insert", "binary"])
    if kind == "truncate":
        data = data[: rng.randrange(1, len(data))]
    elif kind == "flip":
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "insert":
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
    else:
        data = bytearray(rng.randbytes(rng.randrange(1, 2048)))
    return Case(f"{i}-bytes-{kind}", bytes(data), False)


def _container(rng: random.Random, i: int, tmp: Path) -> Case:
    rows = _base_rows(rng)
    kind = rng.choice(["gzip", "gzip-damaged", "parquet"])
    if kind == "parquet":
        rows[rng.randrange(len(rows))][rng.choice(["cpu_cores", "memory_bytes", "network_rx_bytes_per_s"])] = (
            rng.choice(["inf", "-inf", "nan", "-1", "1e300", "3000000", "1e25"])
        )
        src = tmp / f"{i}.csv"
        src.write_bytes(_csv(rows, synth.COLUMNS))
        target = tmp / f"{i}.parquet"
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * REPLACE (CAST(cpu_cores AS DOUBLE) AS cpu_cores, CAST(memory_bytes AS DOUBLE) AS "
            f"memory_bytes, CAST(network_rx_bytes_per_s AS DOUBLE) AS network_rx_bytes_per_s) FROM read_csv('{src}', "
            f"header=true, all_varchar=true)) TO '{target}' (FORMAT parquet)"
        )
        con.close()
        return Case(f"{i}-parquet", target.read_bytes(), True)
    data = gzip.compress(_csv(rows, synth.COLUMNS), mtime=0)
    if kind == "gzip-damaged":
        at = rng.randrange(10, len(data))
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return Case(f"{i}-{kind}", data, kind == "gzip")


def cases(tmp: Path) -> list[Case]:
    rng = random.Random(SEED)
    out = []
    for i in range(FILES):
        pick = rng.random()
        if pick < 0.6:
            out.append(_cell(rng, i))
        elif pick < 0.75:
            out.append(_structure(rng, i))
        elif pick < 0.9:
            out.append(_bytes(rng, i))
        else:
            out.append(_container(rng, i, tmp))
    return out


def test_no_file_makes_import_crash_hang_store_garbage_or_reject_everything(upid, tmp_path: Path) -> None:
    failures: list[str] = []
    slowest = 0.0
    files = cases(tmp_path)
    for n, case in enumerate(files):
        path = tmp_path / f"fuzz-{n}.dat"
        path.write_bytes(case.data)
        began = time.monotonic()
        r = upid("storage", "import", path, "--cluster", f"f{n}", "-o", "json")
        slowest = max(slowest, time.monotonic() - began)
        if "Traceback" in r.err or r.code not in (ExitCode.OK, ExitCode.INPUT):
            failures.append(f"{case.name}: exit {r.code}: {r.err.strip()[:300]}")
        elif r.code and len(r.err.strip().splitlines()) != 1:
            failures.append(f"{case.name}: an error of more than one line: {r.err.strip()[:300]}")
        elif case.one_bad_row:
            summary = r.json() if r.code == 0 else None
            if summary is None or summary["bad_rows"] > 1:
                failures.append(f"{case.name}: one bad row rejected more: exit {r.code}: {r.err.strip()[:300]}")
    assert not failures, "\n".join(failures)
    assert slowest < 10, f"an import took {slowest:.1f} s"
    garbage = upid(
        "storage",
        "query",
        "SELECT count(*) FILTER (WHERE timestamp < '2000-01-01' OR timestamp > now() + INTERVAL 10 MINUTE "
        "OR cpu_cores < 0 OR cpu_cores > 1e6 OR memory_bytes < 0 OR memory_bytes > 2^60 "
        "OR network_rx_bytes_per_s < 0 OR network_rx_bytes_per_s > 2^50 "
        "OR network_tx_bytes_per_s < 0 OR network_tx_bytes_per_s > 2^50), count(*), "
        "(SELECT count(*) FROM resources WHERE cpu_request_m < 0 OR cpu_limit_m < 0 OR memory_request < 0 "
        "OR memory_limit < 0 OR cpu_request_m > 1e9 OR cpu_limit_m > 1e9 OR memory_request > 2^60 "
        "OR memory_limit > 2^60) FROM usage",
        "-o",
        "json",
    )
    assert garbage.code == 0, garbage.err
    [[bad, stored, bad_resources]] = garbage.json()["rows"]
    assert stored > 0 and bad == 0 and bad_resources == 0
    assert upid("storage", "verify").code == 0


def test_the_fuzz_cases_are_the_same_every_run(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append([(c.name, c.data) for c in cases(tmp_path / name)])
    assert runs[0] == runs[1] and len(runs[0]) == FILES
