"""Render docs/cli.md from the real --help of every command: `python -m upid.cli.reference > docs/cli.md`.

A test fails when docs/cli.md differs from what this prints, so the reference cannot go stale.
"""

from __future__ import annotations

from typing import Any

WIDTH = 100


def _walk(command: Any, path: list[str], parent: Any) -> list[tuple[str, str]]:
    ctx = command.make_context(
        path[-1], [], parent=parent, resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
    )
    out = [(" ".join(path), command.get_help(ctx))]
    for name in sorted(getattr(command, "commands", {})):
        out += _walk(command.commands[name], [*path, name], ctx)
    return out


def render() -> str:
    from upid.cli.app import cli_command

    root = cli_command()
    parts = [
        "# upid command reference",
        "",
        "Generated from `--help` by `python -m upid.cli.reference > docs/cli.md`; do not edit by hand.",
        "",
    ]
    for name, text in _walk(root, ["upid"], None):
        parts += [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
