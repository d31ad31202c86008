"""``sf``'s lazy command table: its help is the commands' own, and completion works from it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.main import get_command

from factoryos.cli.app import app, main
from factoryos.cli.lazy import COMMANDS


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_table_line_is_the_commands_own_help(name: str) -> None:
    command = COMMANDS[name].load(name)
    assert command.name == name
    assert command.get_short_help_str(limit=1_000) == COMMANDS[name].help


def test_the_root_lists_every_command_in_table_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    section = capsys.readouterr().out.split("Commands:")[1]
    listed = [line.split()[0] for line in section.splitlines() if line[2:3].strip()]
    assert listed == list(COMMANDS)
    assert set(get_command(app).list_commands(None)) == set(COMMANDS)  # type: ignore[attr-defined]


def test_a_subcommand_runs_through_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "bound", "--help"]) == 0
    assert "eval bound [OPTIONS]" in capsys.readouterr().out


def complete(words: str) -> list[str]:
    """What bash completion offers for the command line ``words`` (the last word being typed)."""
    parts = words.split(" ")
    env = {
        **os.environ,
        "_SF_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    code = "import sys; from factoryos.cli.app import main; sys.argv[0] = 'sf'; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("sf ", list(COMMANDS)),
        ("sf ru", ["run"]),
        ("sf run l", ["list", "logs"]),
        ("sf run list --pro", ["--product"]),
        ("sf --ver", ["--version"]),
    ],
)
def test_bash_completion_offers_commands_and_options(words: str, offered: list[str]) -> None:
    assert complete(words) == offered
