"""`upid report --html FILE`: the analysis as one self-contained page to open in a browser or attach to a ticket."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from upid.cli.options import (
    AllNamespacesOpt,
    ClusterOpt,
    ContextOpt,
    HistoryOpt,
    NamespaceOpt,
    ResolutionOpt,
    SelectorOpt,
    StoreOpt,
    StrategyOpt,
    UntilOpt,
)
from upid.cli.session import session

HELP = (
    "Write the analysis as one HTML file: the summary, cost by namespace, the idle workloads with their "
    "schedules, and per container charts of usage against request, limit and recommendation."
)
EXAMPLES = """Examples:

  upid report --html report.html   # the store's only cluster, last 14 days

  upid report --html - -n shop --history 7d > shop.html
"""


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a failure leaves no half-written page."""
    from upid.errors import OutputError

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # as open() would have made it, not mkstemp's 0600
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e


def report(
    ctx: typer.Context,
    html: Annotated[
        str,
        typer.Option("--html", metavar="FILE", help="Write the page to FILE ('-' for stdout).", show_default=False),
    ],
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    history: HistoryOpt = "14d",
    until: UntilOpt = None,
    strategy: StrategyOpt = "upid",
    resolution: ResolutionOpt = "auto",
    charts: Annotated[
        int,
        typer.Option("--charts", metavar="N", min=0, help="Chart the N containers with the worst severity."),
    ] = 100,
    store: StoreOpt = None,
) -> None:
    from upid.cli.window import query, rightsizing_request
    from upid.workflows.report import html_report
    from upid.workflows.requests import idle_policy

    s = session(ctx, store)
    q = query(cluster, context, namespace, all_namespaces, selector, history, until, resolution)
    request = rightsizing_request(s, q, strategy)
    with s.progress("building the report"):
        page = html_report(s.store(), s.settings, request, idle_policy(s.settings), charts)
    if html == "-":
        s.out.write(page)
        return
    write_atomically(Path(html), page)
    s.notice(f"wrote {html} ({len(page.encode()) / 1024:.0f} KiB)")
