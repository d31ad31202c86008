"""The ``sf`` command's entry point: the read-only shortcut, else the Typer application.

``main`` is the console script (and ``python -m factoryos.cli.app``). The
commands read most often, ``sf run list``, ``sf run status RUN`` and ``sf
product list``, are answered from the embedded store without importing
Typer or pydantic when ``factoryos.cli.readonly`` is sure it prints exactly
what they would, and the plain ``sf pipeline run`` starts its run without them
(``factoryos.cli.pipelinerun``, with the same error edge; run from the process's own
command line, it then ends the process without the interpreter's teardown); everything
else goes to ``factoryos.cli.root``, the Typer application, imported only then.
``app`` (the Typer application) is importable from here as before.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from factoryos.cli import pipelinerun
from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.cli.root import app

__all__ = ["app", "main"]

__getattr__ = lazy_attributes(__name__, {"app": "factoryos.cli.root"})


def main(argv: list[str] | None = None) -> int:
    """Run ``sf`` with ``argv`` (default: the process's) and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    answered = None
    if not pipelinerun.is_pipeline_run(args):  # the shortcut answers none of its commands
        from factoryos.cli.readonly import answer

        answered = answer(args, os.environ)
    if answered is None:
        answered = pipelinerun.start(args, os.environ)
        if answered is not None and argv is None:  # the process's own run: end it now
            pipelinerun.exit_now(answered)
    if answered is not None:
        return answered
    from factoryos.cli.root import main as run_typer

    return run_typer(argv)


if __name__ == "__main__":
    sys.exit(main())
