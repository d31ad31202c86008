"""The ``sf`` command's Typer application and its error edge.

``main`` runs every command ``factoryos.cli.app.main`` (the console-script
entry point) does not answer by its read-only shortcut. It turns every ``FactoryError``
into one line on stderr and its exit status from the CLI's table
(``factoryos.cli.exits``), so users never see a traceback for bad input;
anything else is a bug and keeps its traceback.

The commands themselves are in ``factoryos.cli.lazy.COMMANDS`` and each is
imported only when it runs, so ``sf --version`` and ``sf --help`` import
Typer and nothing of the factory; ``tests/unit/cli/test_import_sets.py``
pins what each common command imports. Help is plain text: Typer's Rich
formatting alone takes longer to import than the goal for ``sf --help``.
"""

from __future__ import annotations

import os
import sys

import typer

# Typer (pinned in pyproject.toml) carries its own copy of click; these are its errors.
from typer._click.exceptions import ClickException, UsageError

from factoryos.cli.lazy import LazyGroup
from factoryos.errors import FactoryError
from factoryos.version import __version__

app = typer.Typer(
    name="sf",
    help="Factory OS: run Attractor pipelines through Kilroy, verify and ship products.",
    cls=LazyGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sf (factoryos) {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    context: str | None = typer.Option(
        None,
        "--context",
        envvar="FACTORYOS_CONTEXT",
        help="Work on this kubeconfig context's cluster instead of the local factory.",
    ),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="The kubeconfig file for --context (default: KUBECONFIG)."
    ),
) -> None:
    """Factory OS command-line interface."""
    # Settings are read from the environment by each command; the global flags land there.
    if context:
        os.environ["FACTORYOS_CONTEXT"] = context
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig


def main(argv: list[str] | None = None) -> int:
    """Run ``sf`` with ``argv`` and return its exit status.

    Typer runs outside its standalone mode so that its errors arrive here too:
    a usage mistake prints the usage and the error (or, where Typer knows no
    command to show the usage of, one ``sf: error:`` line) and exits 2; our
    own errors arrive as ``FactoryError``.
    """
    try:
        result = app(args=argv, standalone_mode=False)
    except FactoryError as exc:
        return _refuse(str(exc), exc)
    except ClickException as exc:
        if isinstance(exc, UsageError) and exc.ctx is None:
            return _refuse(exc.format_message(), None, exc.exit_code)
        exc.show()
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("Aborted!\n")
        return 1
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")
        return 1
    # Outside standalone mode Typer returns the status of an ``Exit`` (help, --version).
    return result if isinstance(result, int) else 0


def _refuse(message: str, error: FactoryError | None, status: int = 1) -> int:
    """One ``sf: error:`` line on stderr; the status from the CLI's table for our errors."""
    # Only refusals need these, so the edge's helpers load with them.
    from factoryos.cli.emit import error_line
    from factoryos.cli.exits import exit_status

    sys.stderr.write(error_line(message) + "\n")
    return status if error is None else exit_status(error)
