"""``sf``'s command table, whose commands are imported only when they run.

Importing every command module up front cost ``sf --version`` half a second
(jinja2 for the stacks, httpx for the eval harness, the admission checks...).
``LazyGroup`` is the root group instead: it knows each command's module and
one-line help (``LazyCommand``), prints ``sf --help`` and completes command
names from that table alone, and imports a module when its command is
looked up to run, to show its own help or to complete its arguments. A unit
test loads every entry and checks its help line against the real command's,
so the table cannot drift from the code.

``factoryos.cli.app`` builds the root with ``LazyGroup`` and the table
``COMMANDS``; nothing else imports this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import typer

# Typer (pinned in pyproject.toml) carries its own copy of click; these are its types.
from typer._click import Command, Context, HelpFormatter
from typer._click.shell_completion import CompletionItem
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup
from typer.main import get_command


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and the line ``sf --help`` shows for it.

    ``attribute`` names either a ``typer.Typer`` of subcommands (``sf run``)
    or a single command function (``sf up``).
    """

    module: str
    attribute: str
    help: str

    def load(self, name: str) -> Command:
        """Import the module and build the command as ``add_typer``/``command`` would."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
            # A holder with one group is itself a group; the command is its only child.
            group = get_command(holder)
            assert isinstance(group, TyperGroup)
            return group.commands[name]
        holder.command(name)(target)
        return get_command(holder)


#: Every ``sf`` command, in the order ``sf --help`` lists them.
COMMANDS: Mapping[str, LazyCommand] = {
    "up": LazyCommand(
        "factoryos.cli.up",
        "up",
        "Start the local factory in the foreground: control plane and dashboard (Ctrl-C stops).",
    ),
    "apply": LazyCommand(
        "factoryos.cli.apply",
        "apply",
        "Create or update the Products and Runs in a YAML file (multi-document, like kubectl).",
    ),
    "selftest": LazyCommand(
        "factoryos.cli.selftest",
        "selftest",
        "Run the factory's self-checks: stop, resume, event stream, smoke product end to end.",
    ),
    "doctor": LazyCommand(
        "factoryos.cli.doctor",
        "doctor",
        "Check the machine (Kilroy, git, the agent CLIs) and each product's agent and key.",
    ),
    "pipeline": LazyCommand(
        "factoryos.cli.pipeline", "app", "Validate and run Attractor pipelines with Kilroy."
    ),
    "product": LazyCommand("factoryos.cli.product", "app", "Register and inspect products."),
    "run": LazyCommand("factoryos.cli.run", "app", "Start, watch, stop and resume runs."),
    "eval": LazyCommand(
        "factoryos.cli.evals", "app", "Plan and check the statistical acceptance gate."
    ),
    "voice": LazyCommand("factoryos.cli.voice", "app", "Speech to text and text to speech."),
    "token": LazyCommand("factoryos.cli.token", "app", "The dashboard's access token."),
}


class LazyGroup(TyperGroup):
    """A Typer group whose commands come from ``lazy`` and load on first lookup."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = COMMANDS

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.lazy, *(name for name in self.commands if name not in self.lazy)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        entry = self.lazy.get(cmd_name)
        if command is None and entry is not None:
            command = self.commands[cmd_name] = entry.load(cmd_name)
        return command

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The commands section of ``sf --help``, from the table: nothing is imported.

        Each line is shown whole (wrapped), not cut to the terminal's width.
        """
        rows = [(name, self._short_help(ctx, name, 1_000)) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        """Command names (from the table) and the root's options, without importing commands."""
        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [
            CompletionItem(name, help=self._short_help(ctx, name, 45))
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]

    def _short_help(self, ctx: Context, name: str, limit: int) -> str:
        entry = self.lazy.get(name)
        if entry is None:
            return self.commands[name].get_short_help_str(limit)
        return make_default_short_help(entry.help, limit)
