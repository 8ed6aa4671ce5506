"""Read the canonical import format (docs/import-format.md) from CSV, gzip CSV or Parquet.

DuckDB, in memory, parses and validates the whole file before the store is opened, so the store's
write lock is held only for the insert. Bad rows are counted with their first reasons; good rows kept.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from upid.errors import InputError
from upid.samples import MAX_BYTES, MAX_BYTES_PER_S, MAX_CPU_CORES, MIN_TS, SERIES_KEY, Acceptance, SampleBatch
from upid.store.duckdb.connection import one, sql_literal

REQUIRED = ("timestamp", "namespace", "pod", "container", "cpu_cores", "memory_bytes")
OPTIONAL = (
    "cluster",
    "workload_kind",
    "workload",
    "node",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "network_rx_bytes_per_s",
    "network_tx_bytes_per_s",
)
NUMERIC_OPTIONAL = OPTIONAL[4:]
RESOURCE_COLUMNS = {
    "cpu_request_cores": ("cpu_request_m", 1000.0),
    "cpu_limit_cores": ("cpu_limit_m", 1000.0),
    "memory_request_bytes": ("memory_request", 1.0),
    "memory_limit_bytes": ("memory_limit", 1.0),
}
MAX_REASONS = 5
_MAX_UNIX_SECONDS = 1e11  # beyond the year 5000: the column is in milliseconds or worse


def _most(col: str) -> float:
    """The largest value a numeric column may hold (upid/samples.py)."""
    if col.startswith("cpu"):
        return MAX_CPU_CORES
    return MAX_BYTES_PER_S if col.startswith("network") else MAX_BYTES


@dataclass
class ImportReport:
    path: Path
    rows: int = 0
    bad: int = 0
    duplicates: int = 0
    kept: int = 0
    reasons: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    batches: list[SampleBatch] = field(default_factory=list)


def _source(path: Path) -> tuple[str, str]:
    """(SQL reading the file, SQL for a row's 1-based number in it), chosen by content, not name."""
    quoted = sql_literal(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        return f"read_parquet({quoted}, file_row_number=true)", "file_row_number + 1"
    compression = "gzip" if magic[:2] == b"\x1f\x8b" else "none"
    if compression == "gzip":
        _check_gzip(path)
    return (
        f"read_csv({quoted}, header=true, all_varchar=true, ignore_errors=true, store_rejects=true, "
        f"compression='{compression}')",
        "row_number() OVER ()",
    )


def _check_gzip(path: Path) -> None:
    """Read the whole gzip stream once, so that a bad CRC or length, or a file cut or corrupted mid-stream, is an
    error that imports nothing (DuckDB's reader accepts the first silently and imports part of the second)."""
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: corrupt gzip file ({e}); nothing imported") from e


def _text(col: str, present: set[str], default: str = "NULL") -> str:
    return f"nullif(trim(CAST({col} AS VARCHAR)), '')" if col in present else default


def _number(col: str, types: dict[str, str]) -> str:
    if types[col] in (
        "DOUBLE",
        "FLOAT",
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "HUGEINT",
        "UBIGINT",
        "UINTEGER",
    ) or types[col].startswith("DECIMAL"):
        return f"CAST({col} AS DOUBLE)"
    return f"try_cast(nullif(trim(CAST({col} AS VARCHAR)), '') AS DOUBLE)"


def _epoch(types: dict[str, str]) -> str:
    kind = types["timestamp"]
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return "epoch(CAST(timestamp AS TIMESTAMPTZ))"
    if kind != "VARCHAR":
        return _number("timestamp", types)
    raw = "trim(timestamp)"
    return (
        f"CASE WHEN regexp_full_match({raw}, '[+-]?[0-9]+(\\.[0-9]*)?') THEN try_cast({raw} AS DOUBLE) "
        f"ELSE epoch(try_cast({raw} AS TIMESTAMPTZ)) END"
    )


def _shown(col: str) -> str:
    """SQL for a raw value as a reason shows it: quoted, cut to 40 characters (evaluated for bad rows only)."""
    return f"'\"' || left(CAST(r_{col} AS VARCHAR), 40) || '\"'"


def _checks(types: dict[str, str], accept: Acceptance) -> list[tuple[str, str]]:
    """(condition that makes a row bad, reason) in the order they are reported."""
    stamp = f"'timestamp ' || {_shown('timestamp')}"
    checks = [
        ("ts IS NULL AND nullif(trim(CAST(r_timestamp AS VARCHAR)), '') IS NULL", "'timestamp is empty'"),
        ("ts IS NULL", f"{stamp} || ' is not ISO-8601 or UNIX seconds'"),
        (f"NOT isfinite(ts) OR ts > {_MAX_UNIX_SECONDS}", f"{stamp} || ' is out of range (milliseconds?)'"),
        (f"ts < {MIN_TS}", f"{stamp} || ' is before 2000'"),
        (
            f"ts > {accept.latest!r}",
            f"{stamp} || ' is in the future (ahead of this machine''s clock by more than the allowed skew)'",
        ),
    ]
    checks += [(f"{c} IS NULL", f"'{c} is empty'") for c in ("namespace", "pod", "container")]
    numeric = ("cpu_cores", "memory_bytes", *(c for c in NUMERIC_OPTIONAL if c in types))
    for col in numeric:
        is_empty = f"nullif(trim(CAST(r_{col} AS VARCHAR)), '') IS NULL"
        if col in REQUIRED:
            checks.append((f"{col} IS NULL AND {is_empty}", f"'{col} is empty'"))
        checks.append((f"{col} IS NULL AND NOT {is_empty}", f"'{col} ' || {_shown(col)} || ' is not a number'"))
        checks.append(
            (
                f"NOT isfinite({col}) OR {col} < 0",
                f"'{col} ' || {_shown(col)} || ' is negative or not finite'",
            )
        )
        most = _most(col)
        checks.append((f"{col} > {most!r}", f"'{col} ' || {_shown(col)} || ' is out of range (more than {most:.6g})'"))
    return checks


def _staging_sql(source: str, row_no: str, types: dict[str, str], cluster: str, accept: Acceptance) -> str:
    present = set(types)
    cluster_sql = sql_literal(cluster)
    cols = [
        f"{row_no} AS row_no",
        f"{_epoch(types)} AS ts",
        f"coalesce({_text('cluster', present)}, {cluster_sql}) AS cluster",
        *(f"{_text(c, present)} AS {c}" for c in ("namespace", "pod", "container", "node")),
        f"coalesce({_text('workload_kind', present)}, 'Deployment') AS workload_kind",
        f"coalesce({_text('workload', present)}, {_text('pod', present)}) AS workload",
        *(
            f"{_number(c, types) if c in present else 'CAST(NULL AS DOUBLE)'} AS {c}"
            for c in ("cpu_cores", "memory_bytes", *NUMERIC_OPTIONAL)
        ),
        *(
            f"{c} AS r_{c}"
            for c in present
            if c == "timestamp" or c in ("cpu_cores", "memory_bytes", *NUMERIC_OPTIONAL)
        ),
    ]
    raw_cols = ", ".join(c.split(" AS ")[1] for c in cols if " AS r_" in c)
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {why}" for cond, why in _checks(types, accept)) + " END"
    return f"SELECT * EXCLUDE ({raw_cols}), {reason} AS reason FROM (SELECT {', '.join(cols)} FROM {source})"


CHUNK_SAMPLES = 1_000_000  # samples per batch handed to the store: bounds the memory of a big import
PARSE_MEMORY = "150MB"  # DuckDB's, while parsing: its tables spill to disk beyond it


@contextmanager
def parsed(
    path: Path, default_cluster: str, accept: Acceptance | None = None, chunk: int = CHUNK_SAMPLES
) -> Iterator[tuple[ImportReport, Iterator[SampleBatch]]]:
    """Parse and validate `path`, then yield its report and the batches of at most `chunk` samples (a cluster's
    series, in order), built one at a time while the caller writes them: the whole file is never in memory.
    Rows dated outside `accept` (default: from 2000 to ten minutes ahead of this machine's clock) are bad rows."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a directory; give a CSV, CSV.gz or Parquet file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{PARSE_MEMORY}'")
    try:
        report, with_resources = _read(con, path, default_cluster, accept or Acceptance.now())
        yield report, _batches(con, with_resources, chunk)
    except duckdb.Error as e:
        raise InputError(f"{path}: cannot read as CSV or Parquet: {str(e).strip().splitlines()[0]}") from e
    finally:
        con.close()


def read_canonical(path: Path, default_cluster: str, accept: Acceptance | None = None) -> ImportReport:
    """The whole file at once: the report carries every batch (tests, small files)."""
    with parsed(path, default_cluster, accept, chunk=2**62) as (report, batches):
        report.batches = list(batches)
    return report


def _read(
    con: duckdb.DuckDBPyConnection, path: Path, default_cluster: str, accept: Acceptance
) -> tuple[ImportReport, bool]:
    source, row_no = _source(path)
    # DuckDB matches column names case-insensitively, so 'Timestamp' serves as 'timestamp'
    types = {c.lower(): t for c, t, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    types.pop("file_row_number", None)
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise InputError(
            f"{path}: missing required column(s): {', '.join(missing)}",
            hint="'upid storage import --help' lists the columns",
        )
    report = ImportReport(path=path, ignored_columns=sorted(set(types) - set(REQUIRED) - set(OPTIONAL)))
    known = {c: t for c, t in types.items() if c in REQUIRED or c in OPTIONAL}
    con.execute(f"CREATE TEMP TABLE staged AS {_staging_sql(source, row_no, known, default_cluster, accept)}")
    _count_bad(con, report, csv="read_csv" in source)
    if report.kept == 0:
        raise InputError(
            f"{path}: no usable row ({report.rows} read, {report.bad} bad)",
            hint="; ".join(report.reasons[:3]) or None,
        )
    return report, any(c in known for c in RESOURCE_COLUMNS)


def _batches(con: duckdb.DuckDBPyConnection, with_resources: bool, chunk: int) -> Iterator[SampleBatch]:
    """Per cluster, runs of consecutive series holding at most `chunk` samples (a series is never split)."""
    rows = con.execute("""SELECT s.cluster, s.idx, count(*) FROM series s JOIN good g USING (idx)
                          GROUP BY ALL ORDER BY s.idx""").fetchall()
    start = 0
    while start < len(rows):
        cluster, total, end = rows[start][0], 0, start
        while end < len(rows) and rows[end][0] == cluster and (end == start or total + rows[end][2] <= chunk):
            total += rows[end][2]
            end += 1
        yield _batch(con, cluster, with_resources, (int(rows[start][1]), int(rows[end - 1][1])))
        start = end


def _count_bad(con: duckdb.DuckDBPyConnection, report: ImportReport, csv: bool) -> None:
    row = one(con, "SELECT count(*), count(reason) FROM staged")
    assert row is not None
    report.rows, report.bad = int(row[0]), int(row[1])
    report.reasons = [
        f"row {n}: {why}"
        for n, why in con.execute(
            f"SELECT row_no, reason FROM staged WHERE reason IS NOT NULL ORDER BY row_no LIMIT {MAX_REASONS}"
        ).fetchall()
    ]
    if csv:
        rejected = con.execute(  # DuckDB reports a short line once per missing column
            "SELECT line, min(error_message) FROM reject_errors GROUP BY line ORDER BY line"
        ).fetchall()
        report.rows += len(rejected)
        report.bad += len(rejected)
        report.reasons = ([f"line {line}: {msg}" for line, msg in rejected[:MAX_REASONS]] + report.reasons)[
            :MAX_REASONS
        ]
    keys = ", ".join(("cluster", *SERIES_KEY))
    con.execute(f"""CREATE TEMP TABLE series AS
        SELECT row_number() OVER (ORDER BY {keys}) - 1 AS idx, {keys}, arg_max(node, ts) AS node
        FROM staged WHERE reason IS NULL GROUP BY {keys}""")
    con.execute(f"""CREATE TEMP TABLE good AS
        SELECT s.idx, CAST(round(g.ts) AS BIGINT) AS ts_s, g.* EXCLUDE ({keys}, node, ts, reason)
        FROM staged g JOIN series s USING ({keys}) WHERE g.reason IS NULL""")
    counts = one(con, "SELECT count(*), count(DISTINCT idx::BIGINT * 4294967296 + ts_s) FROM good")
    assert counts is not None
    if counts[1] < counts[0]:  # keep the first row of each (series, second); touch only the duplicated keys
        con.execute("""CREATE TEMP TABLE dup AS SELECT idx, ts_s, min(row_no) AS keep FROM good
            GROUP BY idx, ts_s HAVING count(*) > 1""")
        con.execute(
            "DELETE FROM good USING dup WHERE good.idx = dup.idx AND good.ts_s = dup.ts_s AND good.row_no <> dup.keep"
        )
    report.kept = int(counts[1])
    report.duplicates = int(counts[0]) - report.kept


def _batch(con: duckdb.DuckDBPyConnection, cluster: str, with_resources: bool, span: tuple[int, int]) -> SampleBatch:
    """The batch of the cluster's series with index in `span` (inclusive)."""
    keys = ", ".join(SERIES_KEY)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE b_series AS SELECT * FROM series WHERE cluster = ? AND idx BETWEEN ? AND ?",
        [cluster, *span],
    )
    series = con.execute(f"SELECT {keys}, coalesce(node, '') AS node FROM b_series ORDER BY idx").fetchnumpy()
    base = one(con, "SELECT min(idx) FROM b_series")
    offset = int(base[0]) if base and base[0] is not None else 0
    cols = con.execute(f"""
        SELECT idx - {offset} AS series_idx, ts_s AS ts, CAST(round(cpu_cores * 1000) AS INTEGER) AS cpu_m,
               CAST(round(memory_bytes / 1024) AS BIGINT) AS mem_kib,
               coalesce(network_rx_bytes_per_s, 'NaN'::DOUBLE) AS net_rx,
               coalesce(network_tx_bytes_per_s, 'NaN'::DOUBLE) AS net_tx
        FROM good WHERE idx IN (SELECT idx FROM b_series)""").fetchnumpy()
    batch = SampleBatch(
        cluster=cluster,
        source="import",
        series={k: np.asarray(v, dtype=object) for k, v in series.items()},
        series_idx=np.asarray(cols["series_idx"]),
        ts=np.asarray(cols["ts"]),
        cpu_m=np.asarray(cols["cpu_m"]),
        mem_kib=np.asarray(cols["mem_kib"]),
        net_rx=np.asarray(cols["net_rx"]),
        net_tx=np.asarray(cols["net_tx"]),
    )
    if with_resources:
        batch.resources = _change_points(con, offset)
    return batch


def _change_points(con: duckdb.DuckDBPyConnection, offset: int) -> dict[str, np.ndarray]:
    """Requests/limits only where they change along each series (the store keeps change points)."""
    values = ", ".join(
        f"coalesce(CAST(round({src} * {scale}) AS BIGINT), -1) AS {dst}"
        for src, (dst, scale) in RESOURCE_COLUMNS.items()
    )
    names = [dst for dst, _ in RESOURCE_COLUMNS.values()]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE b_res AS
        SELECT idx - {offset} AS series_idx, ts_s AS ts, {values} FROM good WHERE idx IN (SELECT idx FROM b_series)""")
    varying = one(
        con,
        f"""SELECT count(*) FROM (SELECT series_idx FROM b_res GROUP BY series_idx
        HAVING {" OR ".join(f"count(DISTINCT {n}) > 1" for n in names)})""",
    )[0]
    if not varying:  # the common case: one value per series, a single change point at its first sample
        sql = (
            f"SELECT series_idx, min(ts) AS ts, {', '.join(f'any_value({n}) AS {n}' for n in names)} "
            "FROM b_res GROUP BY series_idx ORDER BY series_idx"
        )
    else:
        changed = " OR ".join(f"{n} IS DISTINCT FROM lag({n}) OVER w" for n in names)
        sql = f"""SELECT series_idx, ts, {", ".join(names)} FROM b_res
            WINDOW w AS (PARTITION BY series_idx ORDER BY ts) QUALIFY {changed} ORDER BY series_idx, ts"""
    return {k: np.asarray(v) for k, v in con.execute(sql).fetchnumpy().items()}
