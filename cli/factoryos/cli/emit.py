"""Printing a command's result (text, ``-o json|yaml``), its progress and its errors.

``factoryos.cli.output`` re-exports these with the Typer option every command
shares; the shortcut of ``sf pipeline run`` (``factoryos.cli.pipelinerun``)
prints through them without Typer. Standard library only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Any

__all__ = ["OutputFormat", "emit", "error_line", "progress"]


class OutputFormat(StrEnum):
    """The ``-o`` choices."""

    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


def emit(data: Any, fmt: OutputFormat, text: Callable[[Any], str]) -> None:
    """Print ``data`` on stdout: as JSON/YAML, or through ``text`` for people."""
    if fmt is OutputFormat.JSON:
        import json

        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt is OutputFormat.YAML:
        import yaml  # only for -o yaml: 25 ms of every command's start otherwise

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    else:
        rendered = text(data)
        if rendered:
            sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
    sys.stdout.flush()


def progress(line: str) -> None:
    """One line of live progress on stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def error_line(message: str) -> str:
    """The one-line form of an error shown to a user."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return f"sf: error: {first}"
