"""The `upid` command: the root of the command tree, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as click_errors
    from typer._click import utils as click_utils
except ImportError:  # pragma: no cover - older typer with the click package
    from click import exceptions as click_errors  # type: ignore[no-redef]
    from click import utils as click_utils  # type: ignore[no-redef]

from upid import __version__, build_commit
from upid.cli import (
    alerts,
    analyze,
    cluster,
    completion,
    config,
    cost,
    demo,
    forecast,
    idle,
    optimize,
    report,
    serve,
    storage,
    top,
)
from upid.errors import ExitCode, UpidError

PRIVATE_UMASK = 0o077  # files 0600, folders 0700: the store holds a cluster's inventory and usage

app = typer.Typer(
    name="upid",
    help="Find wasted Kubernetes capacity from your cluster's own history, and take it back safely.",
    epilog="Examples:\n\n"
    "  upid demo                            # real traces, offline, own store\n"
    "  upid storage collect --context prod   # a snapshot (cron: every 5 min)\n"
    "  upid analyze --cluster prod -o wide",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # never print locals (kubeconfig tokens); tracebacks only with --debug
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(storage.app, name="storage")
app.add_typer(cluster.app, name="cluster")
app.add_typer(cost.app, name="cost")
app.add_typer(optimize.app, name="optimize")
app.add_typer(config.app, name="config")
app.add_typer(alerts.app, name="alerts")
app.command("analyze", help=analyze.HELP, epilog=analyze.EXAMPLES)(analyze.analyze)
app.command("demo", help=demo.HELP, epilog=demo.EXAMPLES)(demo.demo)
app.command("idle", help=idle.HELP, epilog=idle.EXAMPLES)(idle.idle)
app.command("forecast", help=forecast.HELP, epilog=forecast.EXAMPLES)(forecast.forecast)
app.command("report", help=report.HELP, epilog=report.EXAMPLES)(report.report)
app.command("serve", help=serve.HELP, epilog=serve.EXAMPLES)(serve.serve)
app.command("top", help=top.HELP, epilog=top.EXAMPLES)(top.top)
app.command("completion", help=completion.HELP, epilog=completion.EXAMPLES)(completion.completion)


def _version(value: bool) -> None:
    if value:
        commit = build_commit()
        print(f"upid {__version__}" + (f" (commit {commit})" if commit else ""))
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_version)
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks on errors [env UPID_DEBUG=1]. Accepted anywhere on the command line.",
        ),
    ] = False,
) -> None:
    """Find wasted Kubernetes capacity from your cluster's own history, and take it back safely."""


def _error(message: str, hint: str | None = None) -> None:
    """The one line every failure ends in; URL passwords and tokens in it are masked (upid/redact.py)."""
    from upid import redact

    print(redact.url(f"error: {message}" + (f" ({hint})" if hint else "")), file=sys.stderr)


def _examples_as_written(epilog: str, prog: str) -> str:
    """An epilog whose indented paragraphs (examples) click prints as written: never rewrapped, so a command
    stays on its line with its comment; `upid` named as the program is called (`kubectl upid`)."""
    paragraphs = [f"\b\n{p}" if p.startswith("  ") else p for p in epilog.split("\n\n")]
    text = "\n\n".join(paragraphs)
    return text.replace("  upid ", f"  {prog} ") if prog != "upid" else text


def cli_command(prog: str = "upid") -> Any:
    """The click command tree, with every help's examples kept as written (see above)."""
    root = typer.main.get_command(app)

    def walk(cmd: Any) -> None:
        if cmd.epilog:
            cmd.epilog = _examples_as_written(cmd.epilog, prog)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(root)
    return root


def kubectl_main() -> int:
    """`kubectl upid ...` (the kubectl-upid plugin): usage lines and examples say `kubectl upid`."""
    return main(prog="kubectl upid")


def main(argv: list[str] | None = None, prog: str = "upid") -> int:
    """Run the CLI; return the exit status instead of raising."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("UPID_DEBUG", "").lower() in ("1", "true", "yes")
    args = [a for a in args if a != "--debug"]
    command = cli_command(prog)
    if completion.COMPLETE_VAR in os.environ:  # the shell asks what fits where the cursor is
        completion.enable()
    umask = os.umask(PRIVATE_UMASK)  # the store, its blocks, config, reports: owner-only, whatever the umask
    try:
        code = _run(command, args, debug, prog)
        sys.stdout.flush()  # here, not at exit, so that a reader that left is seen (below)
        return code
    except BrokenPipeError:
        return _reader_left()
    finally:
        os.umask(umask)


def _reader_left() -> int:
    """`upid ... | head`: the reader left, which is not an error (kubectl exits 0 quietly too). What is still
    buffered goes to /dev/null, so the interpreter's own flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return ExitCode.OK


def _command_path(command: Any, args: list[str], prog: str) -> str:
    """The subcommand the arguments name (`upid storage import`), for the hint of a usage error."""
    path = [prog]
    for token in args:
        sub = getattr(command, "commands", {}).get(token)
        if sub is None:
            break
        path.append(token)
        command = sub
    return " ".join(path)


def _formats(command: Any, where: str, error: Exception) -> str:
    """For `-o` given without a value: the formats that command takes."""
    if not isinstance(error, click_errors.BadOptionUsage) or error.option_name not in ("-o", "--output"):
        return ""
    for name in where.split()[1:]:
        command = getattr(command, "commands", {}).get(name, command)
    option = next((p for p in getattr(command, "params", []) if "--output" in getattr(p, "opts", [])), None)
    help_text = getattr(option, "help", "") or ""
    return "; " + help_text.rstrip(".").replace("Output format: ", "allowed: ") if help_text else ""


def _run(command: Any, args: list[str], debug: bool, prog: str = "upid") -> int:
    try:
        code = command.main(args=args, prog_name=prog, standalone_mode=False, obj={"argv": args, "debug": debug})
        return int(code) if isinstance(code, int) else ExitCode.OK  # click returns typer.Exit's code here
    except typer.Exit as e:
        return int(e.exit_code)
    except click_errors.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else "", file=sys.stderr)
        return ExitCode.USAGE
    except click_errors.UsageError as e:
        where = e.ctx.command_path if e.ctx and e.ctx.command_path != prog else _command_path(command, args, prog)
        _error(e.format_message().rstrip(".") + _formats(command, where, e), f"see '{where} --help'")
        return ExitCode.USAGE
    except UpidError as e:
        if debug:
            traceback.print_exc()
        _error(e.message, e.hint)
        return e.exit_code
    except (KeyboardInterrupt, typer.Abort):
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return _reader_left()
    except SystemExit:  # click turns a broken pipe into exit 1, after wrapping stdout to stay quiet
        if isinstance(sys.stdout, click_utils.PacifyFlushWrapper):
            return _reader_left()
        raise
    except Exception as e:  # a bug: one line unless --debug
        if debug:
            traceback.print_exc()
        _error(f"internal error: {type(e).__name__}: {e}", "run again with --debug for the traceback")
        return ExitCode.ERROR
