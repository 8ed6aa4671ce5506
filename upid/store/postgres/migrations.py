"""Numbered schema migrations of the PostgreSQL store, in the `upid` schema, recorded in the store itself; a store
whose recorded version is higher than this upid knows is refused untouched (exit 7), as the DuckDB store is.

Samples are kept one row per series and UTC day (in parts, one per write, until compact merges them), each array
delta-encoded (the first value, then differences), which bench/fleet_layouts.py measured at 6.65 bytes per
CPU+memory sample on a real month, against 83.7 for a row per sample. Every sample table carries its cluster, which
leads its key (a distribution column for Citus), and an integer time column (for TimescaleDB; docs/fleet.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from upid.errors import StoreVersionError

if TYPE_CHECKING:
    import psycopg

Migration = Callable[["psycopg.Connection"], None]
USAGE_VIEW = """
        CREATE VIEW upid.usage WITH (security_invoker = true) AS
        SELECT c.name AS cluster, s.namespace, s.workload_kind, s.workload, s.pod, s.container, s.node,
               to_timestamp(x.ts) AS "timestamp", (x.cpu_m / 1000.0)::float8 AS cpu_cores,
               (x.mem_kib * 1024)::bigint AS memory_bytes,
               x.rx AS network_rx_bytes_per_s, x.tx AS network_tx_bytes_per_s
        FROM upid.samples_day d
        JOIN upid.series s USING (series_id) JOIN upid.clusters c ON c.cluster_id = s.cluster_id
        CROSS JOIN LATERAL (
            SELECT sum(u.t) OVER w AS ts, sum(u.c) OVER w AS cpu_m, sum(u.m) OVER w AS mem_kib, u.rx, u.tx
            FROM unnest(d.ts, d.cpu_m, d.mem_kib, d.net_rx, d.net_tx) WITH ORDINALITY AS u(t, c, m, rx, tx, i)
            WINDOW w AS (ORDER BY u.i)) x;
"""
SAMPLES_DAY = """
        CREATE TABLE upid.samples_day (
            day integer NOT NULL,            -- UNIX seconds // 86400
            cluster_id integer NOT NULL,
            series_id integer NOT NULL,
            ts integer[] NOT NULL,           -- delta-encoded UNIX seconds
            cpu_m integer[] NOT NULL,        -- delta-encoded millicores
            mem_kib bigint[] NOT NULL,       -- delta-encoded KiB
            net_rx bigint[], net_tx bigint[], -- bytes/s as measured (NULL elements: not measured){extra}
            PRIMARY KEY ({key})){partitioned};
        CREATE INDEX ON upid.samples_day (cluster_id, day);
"""
# A month's partition of samples_day or rollups_day (keys in units of `unit` seconds), made when the first row of
# that month arrives, by whoever writes it (a collector's writer login too: SECURITY DEFINER, so the partition
# belongs to the schema's owner). CREATE then ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, so concurrent
# writers are not blocked; two writers making the same month take turns on an advisory lock, and the loser finds
# the table.
ENSURE_PARTITIONS = """
        CREATE OR REPLACE FUNCTION upid.ensure_partitions(parent text, unit integer, first_key bigint,
                                                          last_key bigint) RETURNS integer
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
        DECLARE
          m date := date_trunc('month', to_timestamp(first_key * unit) AT TIME ZONE 'UTC')::date;
          made integer := 0;
          part text;
          lo bigint;
          hi bigint;
        BEGIN
          IF parent NOT IN ('samples_day', 'rollups_day') THEN
            RAISE EXCEPTION 'not a partitioned upid table: %', parent;
          END IF;
          LOOP
            lo := (m - date '1970-01-01')::bigint * 86400 / unit;
            EXIT WHEN lo > last_key;
            hi := ((m + interval '1 month')::date - date '1970-01-01')::bigint * 86400 / unit;
            part := parent || '_' || to_char(m, 'YYYY_MM');
            IF to_regclass('upid.' || part) IS NULL THEN
              PERFORM pg_advisory_xact_lock(hashtext('upid.partitions'));
              BEGIN
                EXECUTE format('CREATE TABLE upid.%I (LIKE upid.%I INCLUDING DEFAULTS)', part, parent);
                EXECUTE format('ALTER TABLE upid.%I ATTACH PARTITION upid.%I FOR VALUES FROM (%s) TO (%s)',
                               parent, part, lo, hi);
                made := made + 1;
              EXCEPTION WHEN duplicate_table THEN NULL;  -- another writer made it first
              END;
            END IF;
            m := (m + interval '1 month')::date;
          END LOOP;
          RETURN made;
        END $f$;
        REVOKE EXECUTE ON FUNCTION upid.ensure_partitions(text, integer, bigint, bigint) FROM PUBLIC;
"""
MIGRATIONS: dict[int, tuple[str, str]] = {
    1: (
        "clusters, series, day rows of delta-encoded samples, request/limit change points, audit log",
        """
        CREATE TABLE upid.clusters (cluster_id serial PRIMARY KEY, name text NOT NULL UNIQUE,
                                    created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE upid.series (
            series_id serial PRIMARY KEY, cluster_id integer NOT NULL REFERENCES upid.clusters,
            namespace text NOT NULL, workload_kind text NOT NULL, workload text NOT NULL, pod text NOT NULL,
            container text NOT NULL, node text,
            UNIQUE (cluster_id, namespace, workload_kind, workload, pod, container));
        """
        + SAMPLES_DAY.format(key="series_id, day", extra="", partitioned="")
        + """
        CREATE TABLE upid.resources (
            series_id integer NOT NULL, ts bigint NOT NULL,
            cpu_request_m integer, cpu_limit_m integer, memory_request bigint, memory_limit bigint,
            PRIMARY KEY (series_id, ts));
        CREATE TABLE upid.audit_log (
            id bigserial PRIMARY KEY, logged_at timestamptz NOT NULL DEFAULT now(), command text NOT NULL,
            args text[] NOT NULL, cluster text, os_user text NOT NULL, result text NOT NULL, details jsonb);
        """,
    ),
    2: (
        "which clusters each writer login may write (row-level security, set up by storage init)",
        """
        CREATE TABLE upid.writer_clusters (login name NOT NULL, cluster text NOT NULL, PRIMARY KEY (login, cluster));
        """,
    ),
    3: ("a usage view: every sample decoded, with readable names and SI units (storage query)", USAGE_VIEW),
    4: (
        "the inventory a collection records: cluster identity, nodes, workloads, HPAs, PDBs, container statuses, "
        "the last kubelet counters",
        """
        CREATE TABLE upid.cluster_identity (
            cluster_id integer PRIMARY KEY REFERENCES upid.clusters,
            uid text NOT NULL UNIQUE,        -- the kube-system namespace UID: stable across context renames
            context text, server text, version text, distribution text, provider text,
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE upid.nodes (
            cluster_id integer NOT NULL, name text NOT NULL,
            cpu_capacity double precision, memory_capacity double precision,
            cpu_allocatable double precision, memory_allocatable double precision,
            instance_type text, region text, zone text, capacity_type text, provider_id text, labels jsonb,
            first_seen bigint NOT NULL, last_seen bigint NOT NULL,   -- UNIX seconds
            PRIMARY KEY (cluster_id, name));
        CREATE TABLE upid.workloads (
            cluster_id integer NOT NULL, namespace text NOT NULL, kind text NOT NULL, name text NOT NULL,
            replicas integer, annotations jsonb, labels jsonb, first_seen bigint NOT NULL, last_seen bigint NOT NULL,
            PRIMARY KEY (cluster_id, namespace, kind, name));
        CREATE TABLE upid.hpas (
            cluster_id integer NOT NULL, namespace text NOT NULL, name text NOT NULL,
            target_kind text, target_name text, min_replicas integer, max_replicas integer, current_replicas integer,
            resources text[], last_seen bigint NOT NULL,
            PRIMARY KEY (cluster_id, namespace, name));
        CREATE TABLE upid.pdbs (
            cluster_id integer NOT NULL, namespace text NOT NULL, name text NOT NULL,
            min_available text, max_unavailable text, selector jsonb, disruptions_allowed integer,
            last_seen bigint NOT NULL,
            PRIMARY KEY (cluster_id, namespace, name));
        -- restarts and terminations as change points: a row when the restart count, phase or reason changes
        CREATE TABLE upid.container_status (
            series_id integer NOT NULL, ts bigint NOT NULL, restarts integer, phase text, qos text,
            last_termination_reason text, last_termination_at text,
            PRIMARY KEY (series_id, ts));
        -- the last cumulative kubelet counters per series, for exact averages at the next collection
        CREATE TABLE upid.kubelet_counters (
            series_id integer PRIMARY KEY, ts bigint NOT NULL,
            cpu_ns double precision, rx double precision, tx double precision);
        """,
    ),
    5: (
        "changes: the audit trail of `upid optimize` (apply, rollback, wake), written before and after each change",
        """
        CREATE TABLE upid.changes (
            id bigserial PRIMARY KEY, run text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz, cluster text NOT NULL, context text, kube_user text, os_user text NOT NULL,
            namespace text NOT NULL, kind text NOT NULL, name text NOT NULL, action text NOT NULL,
            before jsonb NOT NULL, after jsonb NOT NULL, status text NOT NULL, message text, rollback_of bigint);
        CREATE INDEX ON upid.changes (cluster, id);
        """,
    ),
    6: (
        "samples_day partitioned by month (retention drops whole partitions), each made when its first row comes; "
        "its key leads with the cluster (a distribution column for Citus); a day's samples in parts, one per write",
        """
        ALTER TABLE upid.samples_day RENAME TO samples_day_v5;
        ALTER INDEX upid.samples_day_pkey RENAME TO samples_day_v5_pkey;
        ALTER INDEX upid.samples_day_cluster_id_day_idx RENAME TO samples_day_v5_cluster_id_day_idx;
        """
        + SAMPLES_DAY.format(
            key="cluster_id, series_id, day, part",
            extra="\n            -- a write adds a part with the samples it brings; compact merges a day's parts\n"
            "            part smallint NOT NULL DEFAULT 0,",
            partitioned=" PARTITION BY RANGE (day)",
        )
        + ENSURE_PARTITIONS
        + """
        SELECT upid.ensure_partitions('samples_day', 86400, min(day), max(day)) FROM upid.samples_day_v5
        HAVING count(*) > 0;
        INSERT INTO upid.samples_day (day, cluster_id, series_id, ts, cpu_m, mem_kib, net_rx, net_tx)
        SELECT day, cluster_id, series_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day_v5;
        DROP VIEW upid.usage;
        DROP TABLE upid.samples_day_v5;
        """
        + USAGE_VIEW,
    ),
    7: (
        "hourly rollups, a row per series and day holding its hours (rollups_day, by month), and the queue of "
        "series-days waiting for theirs",
        """
        -- the series-days whose parts changed since their rollup: written with each new part, drained by compact
        CREATE TABLE upid.rollup_queue (
            cluster_id integer NOT NULL, series_id integer NOT NULL, day integer NOT NULL,
            PRIMARY KEY (cluster_id, series_id, day));
        CREATE TABLE upid.rollups_day (
            day integer NOT NULL,            -- UNIX seconds // 86400
            cluster_id integer NOT NULL,
            series_id integer NOT NULL,
            hours smallint[] NOT NULL,       -- the hours of the day (0-23) that have samples; the arrays below
            n smallint[] NOT NULL,           --   hold one element per hour: the samples in it,
            cpu_sum bigint[] NOT NULL, cpu_max integer[] NOT NULL,   -- millicores
            mem_sum bigint[] NOT NULL, mem_max bigint[] NOT NULL,    -- KiB
            net_n smallint[] NOT NULL, net_sum bigint[], net_max real[],  -- bytes/s, received + sent
            cpu_k smallint[] NOT NULL,       -- how many of cpu_cells are each hour's
            cpu_cells integer[] NOT NULL,    -- bucket * 65536 + count, the +5 % CPU histogram, hour after hour
            mem_k smallint[] NOT NULL,
            mem_cells integer[] NOT NULL,    -- the same for memory
            PRIMARY KEY (cluster_id, series_id, day)) PARTITION BY RANGE (day);
        CREATE INDEX ON upid.rollups_day (cluster_id, day);
        """,
    ),
    8: (
        "alerts: each alert's state between runs of `upid alerts` (pending since, firing since, resolved at)",
        """
        CREATE TABLE upid.alerts (
            fingerprint text PRIMARY KEY, alert text NOT NULL, cluster text NOT NULL, labels jsonb NOT NULL,
            annotations jsonb NOT NULL, state text NOT NULL, active_since bigint NOT NULL, value double precision,
            fired_at bigint, resolved_at bigint, severity text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
        """,
    ),
}


def version(con: psycopg.Connection) -> int:
    """The store's schema version (0: no upid schema yet), read without writing anything."""
    row = con.execute("SELECT to_regclass('upid.schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = con.execute("SELECT coalesce(max(version), 0) FROM upid.schema_migrations").fetchone()
    return int(found[0]) if found else 0


def ensure(con: psycopg.Connection, url: str) -> int:
    """The schema up to date: checked read-only (writer and reader logins cannot change it), migrated when behind."""
    current = version(con)
    check_not_newer(current, url)
    return current if current == latest() else migrate(con, url)


def latest() -> int:
    return max(MIGRATIONS)


def migrate(con: psycopg.Connection, url: str) -> int:
    """Apply what is pending, each migration in its own transaction, under an advisory lock (many collectors)."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(hashtext('upid.migrate'))")
        con.execute("CREATE SCHEMA IF NOT EXISTS upid")
        con.execute(
            "CREATE TABLE IF NOT EXISTS upid.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = con.execute("SELECT coalesce(max(version), 0) FROM upid.schema_migrations").fetchone()
        version = int(row[0]) if row else 0
        check_not_newer(version, url)
        for number in sorted(v for v in MIGRATIONS if v > version):
            name, sql = MIGRATIONS[number]
            con.execute(sql)
            con.execute("INSERT INTO upid.schema_migrations (version, name) VALUES (%s, %s)", [number, name])
            version = number
        if _has_roles(con):  # `storage init` ran before: the new tables get the same grants and policies
            from upid.store.postgres import roles

            con.execute(roles.schema_sql())
    return version


def _has_roles(con: psycopg.Connection) -> bool:
    from upid.store.postgres import roles

    row = con.execute(
        "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", [roles.WRITER, roles.READER]
    ).fetchone()
    return bool(row and row[0] == 2)


def all_sql() -> str:
    """Every migration's SQL, for a DBA who applies them by hand (`storage init --print-sql`)."""
    parts = ["CREATE SCHEMA IF NOT EXISTS upid;",
             "CREATE TABLE IF NOT EXISTS upid.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now());"]  # fmt: skip
    for number, (name, sql) in sorted(MIGRATIONS.items()):
        parts += [f"-- {number}: {name}", sql.strip(),
                  f"INSERT INTO upid.schema_migrations (version, name) VALUES ({number}, '{name}');"]  # fmt: skip
    return "\n".join(parts)


def check_not_newer(version: int, url: str) -> None:
    from upid import redact

    if version > latest():
        raise StoreVersionError(
            f"store {redact.url(url)} has schema version {version}, newer than this upid supports ({latest()})",
            hint="upgrade upid to read it; the store was not changed",
        )
