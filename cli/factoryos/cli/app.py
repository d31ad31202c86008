"""The ``sf`` command: the Typer application and its error edge.

``main`` is the console-script entry point. It turns every ``FactoryError``
into one line on stderr and its exit status from the CLI's table
(``factoryos.cli.exits``), so users never see a traceback for bad input;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from factoryos.cli import apply, doctor, evals, pipeline, product, run, selftest, token, up, voice
from factoryos.cli.exits import exit_status
from factoryos.cli.output import error_line
from factoryos.errors import FactoryError
from factoryos.version import __version__

app = typer.Typer(
    name="sf",
    help="Factory OS: run Attractor pipelines through Kilroy, verify and ship products.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(product.app, name="product")
app.add_typer(run.app, name="run")
app.add_typer(evals.app, name="eval")
app.add_typer(voice.app, name="voice")
app.add_typer(token.app, name="token")
app.command()(up.up)
app.command()(apply.apply)
app.command()(selftest.selftest)
app.command()(doctor.doctor)


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

    Typer (in standalone mode) prints usage errors and help itself and exits
    through ``SystemExit``; our own errors arrive here as ``FactoryError``.
    """
    try:
        app(args=argv, standalone_mode=True)
    except FactoryError as exc:
        sys.stderr.write(error_line(str(exc)) + "\n")
        return exit_status(exc)
    except click.UsageError as exc:  # a flag combination a command itself refuses
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
