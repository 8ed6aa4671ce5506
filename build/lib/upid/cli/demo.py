"""`upid demo`: a real-data demo in its own store, offline, in seconds."""

from __future__ import annotations

from typing import Annotated

import typer

from upid.cli.analyze import analysis_view
from upid.cli.printers import emit, output_option
from upid.cli.session import session

HELP = (
    "Import a bundled sample of real VM traces into a separate demo store and analyse it. Never touches your own store."
)
EXAMPLES = """Examples:

  upid demo

  upid demo -o json | jq '.recommendations[0]'
"""


def demo(ctx: typer.Context, output: Annotated[str, output_option()] = "table") -> None:
    from upid.workflows.demo import run_demo

    s = session(ctx)
    result = run_demo(s.settings, s.audit("demo"))
    s.notice(f"demo store: {result.store} ({result.samples:,} real samples from {result.source})")
    emit(analysis_view(result.report, result.idle), output, s)
    s.notice(
        "\nnext, on the demo's store (your own store is not touched):\n"
        f"  upid analyze --store {result.store} -o wide\n"
        f"  upid optimize --store {result.store}\n"
        f"  upid report --store {result.store} --html upid-demo.html\n"
        f'  upid storage query --store {result.store} "SELECT namespace, count(*) FROM usage GROUP BY 1"\n'
        "then on your own cluster (into ~/.upid, or $UPID_HOME):\n"
        "  upid storage collect --context CONTEXT        # a snapshot; cron it every 5 minutes\n"
        "  upid storage import usage.csv.gz --cluster prod   # or history from a file\n"
        "  upid analyze --cluster prod"
    )
