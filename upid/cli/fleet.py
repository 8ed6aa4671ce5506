"""`upid storage init` and `copy`: a PostgreSQL store for a fleet (its roles), and history moved between stores.
Registered on the `storage` group by upid/cli/storage.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from upid.cli.options import StoreOpt
from upid.cli.session import Session, session
from upid.errors import UsageError
from upid.units import format_count

INIT_EPILOG = (
    "Example:\n\n  upid storage init --store postgresql://admin@db/upid \\\n"
    "    --writer collector_prod=prod --reader analyst"
)
COPY_EPILOG = "Example:\n\n  upid storage copy --from ~/.upid/upid.duckdb \\\n    --to postgresql://collector@db/upid"


def init(
    ctx: typer.Context,
    writer: Annotated[
        list[str] | None,
        typer.Option(
            "--writer",
            metavar="LOGIN=CLUSTER",
            show_default=False,
            help="Grant LOGIN the writer role for CLUSTER ('*': every cluster); repeatable.",
        ),
    ] = None,  # fmt: skip
    reader: Annotated[
        list[str] | None,
        typer.Option("--reader", metavar="LOGIN", show_default=False, help="Grant LOGIN the reader role; repeatable."),
    ] = None,
    print_sql: Annotated[
        bool, typer.Option("--print-sql", help="Print the SQL for a DBA; connect to nothing.")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Set up a PostgreSQL store: its schema, a writer role (collectors: samples of their own clusters only, by
    row-level security) and a reader role (analysts, CI: read only). Logins are the DBA's; upid never sees a
    password."""
    from upid.store.postgres import migrations, roles
    from upid.store.postgres.store import PostgresStore

    writers: dict[str, str] = {}
    for item in writer or []:
        login, _, cluster = item.partition("=")
        if not login or not cluster:
            raise UsageError(f"--writer takes LOGIN=CLUSTER, got {item!r}")
        writers[login] = cluster
    if print_sql:
        grants = roles.grants_sql(writers, list(reader or []))
        print(migrations.all_sql() + "\n" + roles.schema_sql() + ("\n" + grants if grants else ""), file=sys.stdout)
        return
    s = session(ctx, store)
    target = s.store()
    if not isinstance(target, PostgresStore):
        raise UsageError("storage init sets up a PostgreSQL store (--store postgresql://...); a DuckDB store "
                         "is created by its first write")  # fmt: skip
    done = target.init(writers, list(reader or []), s.audit("storage init"))
    s.notice(f"store {done['store']}: schema version {done['schema_version']}, roles upid_writer and upid_reader; "
             f"{len(writers)} writer and {len(reader or [])} reader login(s) granted")  # fmt: skip


def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", metavar="STORE", help="The store to copy from: PATH or URL.")],
    target: Annotated[str, typer.Option("--to", metavar="STORE", help="The store to copy into: PATH or URL.")],
    cluster: Annotated[
        list[str] | None,
        typer.Option("--cluster", metavar="NAME", show_default=False, help="Only this cluster (repeatable)."),
    ] = None,
) -> None:
    """Copy history between any two stores, DuckDB or PostgreSQL: samples, requests and limits, OOM kills.
    Idempotent: what the target holds already is kept, and a second copy adds nothing."""
    from upid.workflows.copying import copy as run

    s = session(ctx)
    if _where(source) == _where(target):
        raise UsageError("--from and --to are the same store")
    with s.progress("copying") as step:
        results = run(_store_at(s, source), _store_at(s, target), cluster, s.audit("storage copy"), step)
    for r in results:
        s.notice(f"cluster {r.cluster}: {format_count(r.received)} samples copied, {format_count(r.written)} new "
                 f"in the target")  # fmt: skip


def _where(text: str) -> str:
    from upid.settings import is_store_url

    return text if is_store_url(text) else str(Path(text).expanduser().absolute())


def _store_at(s: Session, where: str) -> Any:
    import dataclasses

    from upid.settings import is_store_url
    from upid.store import open_store

    if is_store_url(where):
        settings = dataclasses.replace(s.settings, store_url=where)
    else:
        settings = dataclasses.replace(s.settings, store=Path(_where(where)), store_url=None)
    return open_store(settings, notify=s.warn)
