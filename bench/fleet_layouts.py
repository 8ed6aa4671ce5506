"""PostgreSQL sample layouts for the fleet store (#21), measured before one is chosen: bytes per CPU+memory sample on
disk (pg_total_relation_size: table, TOAST and indexes) and COPY throughput, for one month of the real Bitbrains
trace (500 VMs, 5-minute samples, 4.28 M samples), in a real PostgreSQL (Debian's, started here as tests/pg.py
does).

  row        one row per sample: (series_id, ts, cpu_m, mem_kib), primary key (series_id, ts)
  hour       one row per series and hour: second offsets (smallint[]) and values (integer[]), key (series_id, hour)
  day        one row per series and day, the same arrays (288 values: stored compressed, out of line, by TOAST)
  day-lz4    as day, with lz4 TOAST compression instead of pglz
  day-delta  as day, each array delta-encoded (first value, then differences)
  day-blob   one bytea per series and day: the delta-encoded arrays, zlib-compressed by the client (no SQL over them)
  day-delta+net        day-delta, with the network rates (received, sent) as measured, bigint[] (what upid stores)
  day-delta+net-delta  the same with the network arrays delta-encoded too

The +net layouts count the same samples: their bytes per sample include the two network rates.

    python bench/fleet_layouts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
from datasets import month_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg import running, server_bin  # noqa: E402

LAYOUTS = {
    "row": (
        "CREATE TABLE s (series_id integer NOT NULL, ts timestamptz NOT NULL, cpu_m integer, mem_kib integer, "
        "PRIMARY KEY (series_id, ts))",
        "SELECT series_id, ts, cpu_m, mem_kib FROM x",
    ),
    "hour": (
        "CREATE TABLE s (series_id integer NOT NULL, hour integer NOT NULL, offsets smallint[] NOT NULL, "
        "cpu_m integer[] NOT NULL, mem_kib integer[] NOT NULL, PRIMARY KEY (series_id, hour))",
        "SELECT series_id, (epoch(ts)::BIGINT // 3600)::INTEGER AS hour, "
        "list((epoch(ts)::BIGINT % 3600)::SMALLINT ORDER BY ts) AS offsets, list(cpu_m ORDER BY ts) AS cpu_m, "
        "list(mem_kib ORDER BY ts) AS mem_kib FROM x GROUP BY ALL",
    ),
    "day": (
        "CREATE TABLE s (series_id integer NOT NULL, day integer NOT NULL, offsets integer[] NOT NULL, "
        "cpu_m integer[] NOT NULL, mem_kib integer[] NOT NULL, PRIMARY KEY (series_id, day))",
        "SELECT series_id, (epoch(ts)::BIGINT // 86400)::INTEGER AS day, "
        "list((epoch(ts)::BIGINT % 86400)::INTEGER ORDER BY ts) AS offsets, list(cpu_m ORDER BY ts) AS cpu_m, "
        "list(mem_kib ORDER BY ts) AS mem_kib FROM x GROUP BY ALL",
    ),
}
LAYOUTS["day-lz4"] = (
    LAYOUTS["day"][0].replace("integer[] NOT NULL", "integer[] COMPRESSION lz4 NOT NULL"),
    LAYOUTS["day"][1],
)
# the same day rows with each array delta-encoded (first value, then differences): runs of equal steps compress
LAYOUTS["day-delta"] = (
    LAYOUTS["day"][0],
    "SELECT series_id, day, list_transform(list_zip(o, list_prepend(0, o[:-1])), lambda p: p[1] - p[2]), "
    "list_transform(list_zip(c, list_prepend(0, c[:-1])), lambda p: p[1] - p[2]), "
    "list_transform(list_zip(m, list_prepend(0, m[:-1])), lambda p: p[1] - p[2]) FROM ("
    + LAYOUTS["day"][1].replace(" AS offsets", " AS o").replace(" AS cpu_m", " AS c").replace(" AS mem_kib", " AS m")
    + ")",
)
# one bytea per series and day: the three delta-encoded int32 arrays, zlib-compressed by the client
LAYOUTS["day-blob"] = (
    "CREATE TABLE s (series_id integer NOT NULL, day integer NOT NULL, n integer NOT NULL, blob bytea NOT NULL, "
    "PRIMARY KEY (series_id, day))",
    LAYOUTS["day"][1],
)


# the chosen layout plus the network rates, as stored (bigint[]) and delta-encoded
_NET = ", list(rx ORDER BY ts) AS rx, list(tx ORDER BY ts) AS tx"
LAYOUTS["day-delta+net"] = (
    LAYOUTS["day"][0].replace("PRIMARY KEY", "rx bigint[], tx bigint[], PRIMARY KEY"),
    LAYOUTS["day-delta"][1].replace(" FROM (", ", rx, tx FROM (").replace(" AS m FROM x", " AS m" + _NET + " FROM x"),
)
LAYOUTS["day-delta+net-delta"] = (
    LAYOUTS["day-delta+net"][0],
    LAYOUTS["day-delta"][1]
    .replace(
        " FROM (",
        ", list_transform(list_zip(rx, list_prepend(0, rx[:-1])), lambda p: p[1] - p[2]), "
        "list_transform(list_zip(tx, list_prepend(0, tx[:-1])), lambda p: p[1] - p[2]) FROM (",
    )
    .replace(" AS m FROM x", " AS m" + _NET + " FROM x"),
)


def _blob(row: tuple) -> tuple:
    import zlib

    import numpy as np

    parts = [np.diff(np.asarray(v, dtype=np.int32), prepend=np.int32(0)).astype("<i4").tobytes() for v in row[2:]]
    return (row[0], row[1], len(row[2]), zlib.compress(b"".join(parts), 6))


def rows(layout: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE x AS
        SELECT dense_rank() OVER (ORDER BY namespace, pod, container)::INTEGER AS series_id, timestamp AS ts,
               round(cpu_cores * 1000)::INTEGER AS cpu_m, round(memory_bytes / 1024)::INTEGER AS mem_kib,
               round(network_rx_bytes_per_s)::BIGINT AS rx, round(network_tx_bytes_per_s)::BIGINT AS tx
        FROM '{month_file(8)}'""")
    out = con.execute(LAYOUTS[layout][1] + " ORDER BY 1, 2").fetchall()
    return [_blob(r) for r in out] if layout == "day-blob" else out


def main() -> None:
    import psycopg

    bin_dir = server_bin()
    if bin_dir is None:
        raise SystemExit("error: no PostgreSQL server installed (Debian: apt-get install postgresql)")
    samples = duckdb.connect().execute(f"SELECT count(*) FROM '{month_file(8)}'").fetchone()[0]
    print(f"{samples:,} CPU+memory samples (Bitbrains 2013-8, 500 VMs)")
    print(f"{'layout':>20s} {'rows':>10s} {'bytes':>12s} {'B/sample':>9s} {'COPY s':>7s} {'M samples/s':>11s}")
    with running(bin_dir) as server, psycopg.connect(server.dsn(), password=server.password, autocommit=True) as con:
        chosen = sys.argv[1:] or list(LAYOUTS)
        for name, (ddl, _) in ((n, LAYOUTS[n]) for n in chosen):
            data = rows(name)
            con.execute("DROP TABLE IF EXISTS s")
            con.execute(ddl)
            columns = [d.name for d in con.execute("SELECT * FROM s LIMIT 0").description or []]
            started = time.perf_counter()
            with (
                con.transaction(),
                con.cursor() as cur,
                cur.copy(f"COPY s ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                types = {
                    "row": ["int4", "timestamptz", "int4", "int4"],
                    "day-blob": ["int4", "int4", "int4", "bytea"],
                }.get(
                    name,
                    ["int4", "int4", "int2[]" if name == "hour" else "int4[]", "int4[]", "int4[]"]
                    + (["int8[]", "int8[]"] if "+net" in name else []),
                )
                copy.set_types(types)
                for row in data:
                    copy.write_row(row)
            took = time.perf_counter() - started
            con.execute("VACUUM ANALYZE s")
            size = con.execute("SELECT pg_total_relation_size('s')").fetchone()[0]
            print(f"{name:>20s} {len(data):>10,d} {size:>12,d} {size / samples:>9.2f} {took:>7.1f} "
                  f"{samples / took / 1e6:>11.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
