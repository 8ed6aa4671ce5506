"""What every command needs, built once at the edge: settings (flag > env > config > default) and streams."""

from __future__ import annotations

import dataclasses
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from upid import redact
from upid.settings import Settings, ensure_home, load_settings

if TYPE_CHECKING:
    from rich.console import Console

    from upid.samples import Acceptance
    from upid.store.base import AuditRecord, Store


@dataclass
class Session:
    settings: Settings
    argv: list[str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def store(self) -> Store:
        from upid.store import open_store

        ensure_home(self.settings.home)
        return open_store(self.settings, notify=self.warn)

    def audit(self, command: str) -> AuditRecord:
        from upid.store.base import AuditRecord

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        return AuditRecord(command=command, args=redact.argv(self.argv), user=user)  # no secret is ever stored

    def acceptance(self) -> Acceptance:
        """The sample times producers accept now: from 2000 to this machine's clock plus `clock_skew`."""
        from upid.samples import Acceptance

        return Acceptance.now(self.settings.clock_skew)

    def confirm(self, question: str, yes: bool) -> None:
        """Ask on a terminal before changing something; raise UsageError unless the answer is yes. Without a
        terminal (cron, CI, a pipe) nobody can answer: refuse unless --yes was given."""
        from upid.errors import UsageError

        if yes:
            return
        if not sys.stdin.isatty():
            raise UsageError(
                f"{question.rstrip('?')}: not asked, standard input is not a terminal; nothing was changed",
                hint="pass --yes to go ahead without the question",
            )
        self.err.write(f"{question} [y/N] ")
        self.err.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise UsageError("not confirmed: nothing was changed", hint="pass --yes to skip the question")

    def notice(self, message: str) -> None:
        """A line for people, on stderr: never mixed into data on stdout."""
        print(message, file=self.err)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.err)

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[str], None]]:
        """A Rich spinner with the current step on stderr while long work runs, cleared when it ends; only when
        stderr is a terminal (cron, CI logs and pipes get silence). Yields a function that names the step."""
        if not self.err.isatty():
            yield lambda step: None
            return
        from rich.console import Console

        console = Console(file=self.err, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        with console.status(f"{label}...") as status:
            yield lambda step: status.update(f"{label}: {step}...")

    def console(self) -> Console:
        """A Rich console on stdout: colour only on a terminal (and never with NO_COLOR). Lines are never cut or
        wrapped by upid, as kubectl's: a table wider than the terminal wraps there, names stay whole."""
        from rich.console import Console

        tty = self.out.isatty()
        console = Console(
            file=self.out,
            width=10_000,
            highlight=False,
            no_color=not tty or bool(os.environ.get("NO_COLOR")),  # set and not empty (no-color.org)
            force_terminal=tty,
            soft_wrap=True,
        )
        console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]  # Rich would exit 1; main() exits 0
        return console


def _broken_pipe() -> None:
    raise BrokenPipeError


def session(ctx: typer.Context, store: str | Path | None = None, **flags: Any) -> Session:
    """Build the Session for the running command from its context and flags."""
    from upid.settings import is_store_url

    obj = ctx.find_root().obj or {}
    where: dict[str, Any] = {}
    if store is not None:
        where = {"store_url": str(store)} if is_store_url(str(store)) else {"store": Path(store), "store_url": ""}
    settings = load_settings().with_flags(debug=obj.get("debug"), **where, **flags)
    if settings.store_url == "":  # --store PATH wins over a URL from the environment or config
        settings = dataclasses.replace(settings, store_url=None)
    return Session(settings=settings, argv=obj.get("argv", []))
