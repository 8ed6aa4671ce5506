"""`upid config ...`: where the settings live, what they resolve to, and changing them."""

from __future__ import annotations

from typing import Annotated

import typer

from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session

app = typer.Typer(
    help="Show and change settings (flag > UPID_* env > config.toml > default).",
    epilog="Examples:\n\n  upid config view\n  upid config set cluster prod",
    no_args_is_help=True,
)


@app.command("path", epilog="Example:\n\n  upid config path")
def path(ctx: typer.Context) -> None:
    """Print the path of config.toml (it may not exist yet)."""
    from upid.settings import CONFIG_FILE

    s = session(ctx)
    s.out.write(f"{s.settings.home / CONFIG_FILE}\n")


@app.command("view", epilog="Example:\n\n  upid config view -o yaml")
def view(ctx: typer.Context, output: Annotated[str, output_option()] = "table") -> None:
    """Every setting, its resolved value and where it came from."""
    from upid.settings import sources

    s = session(ctx)
    records = [{"key": k, "value": v, "source": src} for k, v, src in sources()]
    columns = [Column("key", "KEY"), Column("value", "VALUE"), Column("source", "SOURCE")]
    document = {r["key"]: {"value": r["value"], "source": r["source"]} for r in records}
    emit(View(document=document, records=records, columns=columns), output, s)


@app.command("set", epilog="Examples:\n\n  upid config set cluster prod\n\n  upid config set max_cpu_shortfall 0.05")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY")],
    value: Annotated[str, typer.Argument(metavar="VALUE")],
) -> None:
    """Check VALUE and write it to config.toml (an invalid value changes nothing and exits 8)."""
    from upid.settings import set_value

    s = session(ctx)
    stored = set_value(s.settings.home, key, value)
    s.notice(f"{key} = {stored!r} written to {s.settings.home / 'config.toml'}")
