"""Write docs/cli.md, the `titans` command reference, from the CLI itself (its commands, arguments, options
and help texts).  tests/test_cli_reference.py fails when the page is out of date: run this script then.

    .venv/bin/python docs/generate_cli_reference.py
"""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from titans.pipelines.cli import app
from titans.pipelines.outputs import write_text

PAGE = Path(__file__).resolve().parent / "cli.md"


def _cell(text: str) -> str:
    """Text for a table cell: newlines shown as \\n, pipes and angle brackets escaped."""
    return text.replace("\n", "\\n").replace("|", "\\|").replace("<", "\\<")


def _command_section(group, root: typer.Context, name: str) -> list[str]:
    command = group.get_command(root, name)
    context = typer.Context(command, info_name=name, parent=root)
    usage = " ".join(["titans", name, *command.collect_usage_pieces(context)])
    lines = [f"## `titans {name}`", "", inspect.cleandoc(command.help or ""), "", "```", usage, "```", ""]
    records = [param.get_help_record(context) for param in command.get_params(context)]
    rows = [f"| `{names}` | {_cell(help_text)} |" for names, help_text in filter(None, records) if names != "--help"]
    if rows:
        lines += ["| argument or option | meaning |", "|---|---|", *rows, ""]
    return lines


def reference() -> str:
    """The page's Markdown."""
    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="titans")
    lines = [
        "# `titans` command reference",
        "",
        "Generated from the command itself by `docs/generate_cli_reference.py` (a test fails when this page is out",
        "of date). Every command also takes `--help`. Bad input ends with one `error: ...` line and exit code 2:",
        "[troubleshooting.md](troubleshooting.md) lists the messages.",
        "",
        inspect.cleandoc(group.help or ""),
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    names = group.list_commands(root)
    for name in names:
        summary = inspect.cleandoc(group.get_command(root, name).help or "").split("\n\n")[0]
        lines.append(f"| [`{name}`](#titans-{name}) | {_cell(' '.join(summary.split()))} |")
    lines.append("")
    for name in names:
        lines += _command_section(group, root, name)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(f"written: {write_text(PAGE, reference())}")
