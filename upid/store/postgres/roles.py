"""Roles of a PostgreSQL store (`upid storage init`): a writer for collectors, which may insert samples of the
clusters it is bound to and read only those, and a reader for analysts and CI, which may only read. Row-level
security keys every sample, series and change point on its cluster, so one cluster's CronJob credential cannot
falsify another cluster's history. Logins (with their passwords) are the DBA's; upid grants roles to them and
never sees a password.

The SQL is idempotent and printable (`--print-sql`) for DBAs who apply it themselves.
"""

from __future__ import annotations

import re

from upid.errors import UsageError

WRITER, READER = "upid_writer", "upid_reader"
BY_CLUSTER = (
    "series",
    "samples_day",
    "rollups_day",
    "rollup_queue",
    "cluster_identity",
    "nodes",
    "workloads",
    "hpas",
    "pdbs",
)
BY_SERIES = ("resources", "container_status", "kubelet_counters")
BY_NAME = ("clusters", "changes", "alerts")  # keyed by the cluster's name
TABLES = (*BY_NAME, *BY_CLUSTER, *BY_SERIES)
_NAME = re.compile(r"^[a-z_][a-z0-9_$-]{0,62}$", re.IGNORECASE)


def _role(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"not a PostgreSQL role name: {name!r}")
    return '"' + name + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def schema_sql() -> str:
    """Roles, grants, the functions the policies call, and the policies."""
    policies = []
    for table in TABLES:
        check = (
            ("upid.may_write(name)" if table == "clusters" else "upid.may_write(cluster)")
            if table in BY_NAME
            else ("upid.may_write_series(series_id)" if table in BY_SERIES else "upid.may_write_cluster(cluster_id)")
        )
        policies += [
            f"ALTER TABLE upid.{table} ENABLE ROW LEVEL SECURITY;",
            f"DROP POLICY IF EXISTS reader_reads ON upid.{table};",
            f"CREATE POLICY reader_reads ON upid.{table} FOR SELECT TO {READER} USING (true);",
            f"DROP POLICY IF EXISTS writer_reads ON upid.{table};",
            f"CREATE POLICY writer_reads ON upid.{table} FOR SELECT TO {WRITER} USING ({check});",
            f"DROP POLICY IF EXISTS writer_inserts ON upid.{table};",
            f"CREATE POLICY writer_inserts ON upid.{table} FOR INSERT TO {WRITER} WITH CHECK ({check});",
            f"DROP POLICY IF EXISTS writer_updates ON upid.{table};",
            f"CREATE POLICY writer_updates ON upid.{table} FOR UPDATE TO {WRITER} USING ({check}) "
            f"WITH CHECK ({check});",
        ]
    return "\n".join(
        [
            f"DO $$ BEGIN CREATE ROLE {WRITER} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
            f"DO $$ BEGIN CREATE ROLE {READER} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
            f"GRANT USAGE ON SCHEMA upid TO {WRITER}, {READER};",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA upid TO {READER};",
            f"REVOKE SELECT ON upid.writer_clusters FROM {READER};",
            f"GRANT SELECT ON upid.usage TO {WRITER};",
            f"GRANT SELECT, INSERT, UPDATE ON {', '.join('upid.' + t for t in TABLES)} TO {WRITER};",
            f"GRANT SELECT ON upid.schema_migrations TO {WRITER};",
            f"GRANT INSERT ON upid.audit_log TO {WRITER};",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA upid TO {WRITER};",
            f"GRANT EXECUTE ON FUNCTION upid.ensure_partitions(text, integer, bigint, bigint) TO {WRITER};",
            # SECURITY DEFINER: the policies read writer_clusters, which the logins themselves cannot read
            """CREATE OR REPLACE FUNCTION upid.may_write(cluster text) RETURNS boolean
                 LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
                 SELECT EXISTS (SELECT 1 FROM upid.writer_clusters w
                                WHERE w.login = session_user AND (w.cluster = $1 OR w.cluster = '*')) $f$;""",
            """CREATE OR REPLACE FUNCTION upid.may_write_cluster(id integer) RETURNS boolean
                 LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
                 SELECT upid.may_write((SELECT c.name FROM upid.clusters c WHERE c.cluster_id = $1)) $f$;""",
            """CREATE OR REPLACE FUNCTION upid.may_write_series(id integer) RETURNS boolean
                 LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
                 SELECT upid.may_write_cluster((SELECT s.cluster_id FROM upid.series s WHERE s.series_id = $1)) $f$;""",
            *policies,
        ]
    )


def grants_sql(writers: dict[str, str], readers: list[str]) -> str:
    """`writers`: login -> the cluster it may write ('*': every cluster); `readers`: logins that may read."""
    lines = []
    for login, cluster in sorted(writers.items()):
        lines += [
            f"GRANT {WRITER} TO {_role(login)};",
            f"INSERT INTO upid.writer_clusters VALUES ({_literal(login)}, {_literal(cluster)}) ON CONFLICT DO NOTHING;",
        ]
    lines += [f"GRANT {READER} TO {_role(login)};" for login in sorted(readers)]
    return "\n".join(lines)
