"""Rendering command results for people (text) and programs (``-o json|yaml``).

Every ``sf`` command that prints a result takes ``-o/--output`` (``OutputOption``)
and hands its plain-data result to ``emit``; progress and errors go to stderr so
stdout stays machine-readable. The printing itself is ``factoryos.cli.emit``
(standard library only), re-exported here with the Typer option.
"""

from __future__ import annotations

from typing import Annotated

import typer

from factoryos.cli.emit import OutputFormat, emit, error_line, progress
from factoryos.cli.views import age, table

__all__ = ["OutputFormat", "OutputOption", "age", "emit", "error_line", "progress", "table"]

#: The ``-o/--output`` option, shared by every command that prints a result.
OutputOption = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="Output format: text, json or yaml.")
]
