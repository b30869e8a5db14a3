"""Every command's --help reads as prose in an 80-column terminal.

Typer keeps the single line breaks of a docstring's later paragraphs, so a help wrapped at 100
columns in the source came out ragged at 80 (a line of one word, then the rest); the CLI reflows
every command's help once (omnivec.cli.main._reflow_help)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from omnivec.cli.main import app


def _commands(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    names = [(*prefix, info.name or info.callback.__name__) for info in typer_app.registered_commands
             if info.callback is not None]
    for group in typer_app.registered_groups:
        if group.typer_instance is not None and group.name:
            names += _commands(group.typer_instance, (*prefix, group.name))
    return names


def _description(output: str) -> list[list[str]]:
    """The help's prose paragraphs: the lines after "Usage" and before the first panel."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("╭")), len(lines))
    paragraphs: list[list[str]] = [[]]
    for line in lines[start:end]:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def test_every_help_paragraph_fills_its_lines_at_80_columns() -> None:
    commands = _commands(app)
    assert ("probe", "suggest") in commands and ("collections", "verify") in commands
    runner = CliRunner()
    checked = 0
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
        assert result.exit_code == 0, (command, result.output)
        for paragraph in _description(result.output):
            # Every line of a paragraph but its last is filled to near the width; a short line
            # in the middle is a source line break the terminal did not reflow.
            short = [line for line in paragraph[:-1] if len(line) < 50]
            assert not short, f"omnivec {' '.join(command)} --help: ragged lines {short} in {paragraph}"
            checked += len(paragraph) > 1
    assert checked >= 5  # several commands have multi-line prose, so the check bites


def test_a_command_help_keeps_its_paragraphs() -> None:
    info = next(i for i in app.registered_commands if i.name == "classify")
    assert info.help is not None and "\n\n" in info.help
    assert all("\n" not in paragraph for paragraph in info.help.split("\n\n"))
