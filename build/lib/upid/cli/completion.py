"""`upid completion bash|zsh|fish`: the shell completion script, as `kubectl completion` prints its own.

The script calls upid back with _UPID_COMPLETE set; `app.main` then answers with the commands, flags and
values that fit (typer's completion, on the real command tree).
"""

from __future__ import annotations

from typing import Annotated

import typer

from upid.cli.options import choice

HELP = "Print the shell completion script for bash, zsh or fish."
EXAMPLES = """Examples:

  source <(upid completion bash)                          # this shell; add it to ~/.bashrc to keep it

  upid completion zsh > "${fpath[1]}/_upid"               # zsh, for new shells

  upid completion fish > ~/.config/fish/completions/upid.fish
"""
SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_UPID_COMPLETE"


def enable() -> None:
    """Register typer's completion classes (bash, zsh, fish, powershell) with the click it vendors."""
    from typer.completion import completion_init

    completion_init()


def completion(
    shell: Annotated[str, typer.Argument(metavar="SHELL", callback=choice(SHELLS, "shell"), help="bash, zsh or fish.")],
) -> None:
    from typer.completion import get_completion_script

    enable()
    print(get_completion_script(prog_name="upid", complete_var=COMPLETE_VAR, shell=shell))
