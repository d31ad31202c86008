"""A shortcut for ``sf run list``, ``sf run status RUN`` and ``sf product list``.

These are the commands people (and scripts polling a run) type most, and
through Typer they cost a third of a second before printing anything: Typer
and pydantic to parse the arguments, the resource models to read the store.
``answer`` prints their text output straight from the embedded store's JSON
rows, with the same views (``factoryos.cli.views``), importing only the
standard library. It answers only the plain case it is sure of and returns
``None`` for everything else, which ``factoryos.cli.app.main`` then runs
through Typer as before: ``-o json|yaml`` (the models' dump is the contract
there), ``--help``, any option spelling it does not know (``--namespace=x``,
``-An``, ``--``), ``--context``/``FACTORYOS_CONTEXT``, shell completion, a store that does not
exist yet, a run or product it cannot find (so errors and exit statuses come
from one place), a row without a key the views index, or a run whose gate
line needs the ``Evaluation`` model. ``tests/unit/cli/test_readonly.py``
checks its options against the Typer commands' and its output against
theirs.

Called by ``factoryos.cli.app.main`` only.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from factoryos.cli.shortcut import UnsureError, parse_words, typer_only
from factoryos.cli.views import newest_first, products_table, runs_table, status_text
from factoryos.settings import Settings

#: The embedded store's file in ``$FACTORYOS_HOME`` (``factoryos.cli.factory`` opens it too).
STORE_FILE = "factoryos.db"
#: How long a read waits on a lock (WAL readers rarely wait at all).
BUSY_SECONDS = 30.0

#: Per command: each option spelling -> (its parameter, whether it takes a value).
#: Kept equal to the Typer commands' options by a unit test.
OPTIONS: Mapping[tuple[str, str], Mapping[str, tuple[str, bool]]] = {
    ("run", "list"): {
        "--product": ("product", True),
        "-p": ("product", True),
        "--namespace": ("namespace", True),
        "-n": ("namespace", True),
        "--all-namespaces": ("all_namespaces", False),
        "-A": ("all_namespaces", False),
        "--output": ("output", True),
        "-o": ("output", True),
    },
    ("run", "status"): {
        "--namespace": ("namespace", True),
        "-n": ("namespace", True),
        "--output": ("output", True),
        "-o": ("output", True),
    },
    ("product", "list"): {
        "--namespace": ("namespace", True),
        "-n": ("namespace", True),
        "--output": ("output", True),
        "-o": ("output", True),
    },
}
#: Positional arguments each command takes.
ARGUMENTS: Mapping[tuple[str, str], Sequence[str]] = {
    ("run", "list"): (),
    ("run", "status"): ("name",),
    ("product", "list"): (),
}


def answer(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """Print the command's text output and return 0, or ``None`` to let Typer run it."""
    try:
        command, params = parse(argv)
        if params.get("output", "text") != "text" or typer_only(env):
            raise UnsureError
        store = Settings.from_env(env).home / STORE_FILE
        text = _render(command, params, store)
    except (UnsureError, sqlite3.Error, KeyError, TypeError, ValueError, OSError, UnicodeError):
        return None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


def parse(argv: Sequence[str]) -> tuple[tuple[str, str], dict[str, Any]]:
    """The command and its parameters, as Click would parse them, or ``UnsureError``."""
    command = (argv[0], argv[1]) if len(argv) >= 2 else ("", "")
    options = OPTIONS.get(command)
    if options is None:
        raise UnsureError
    return command, parse_words(argv[2:], options, ARGUMENTS[command])


def _render(command: tuple[str, str], params: Mapping[str, Any], path: Path) -> str:
    if not path.is_file():
        raise UnsureError  # the full command creates the store
    db = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=BUSY_SECONDS)
    try:
        namespace = None if params.get("all_namespaces") else params.get("namespace", "default")
        if command == ("run", "status"):
            row = db.execute(
                "SELECT body FROM objects WHERE kind = 'Run' AND namespace = ? AND name = ?",
                (namespace, params["name"]),
            ).fetchone()
            if row is None:
                raise UnsureError  # Typer's path says "not found" with its exit status
            return status_text(json.loads(row[0]), _no_gate)
        kind = "Run" if command == ("run", "list") else "Product"
        bodies = [json.loads(body) for (body,) in _bodies(db, kind, namespace)]
    finally:
        db.close()
    if kind == "Product":
        return products_table(bodies)
    product = params.get("product")
    if product:
        bodies = [r for r in bodies if r["spec"]["productRef"]["name"] == product]
    return runs_table(newest_first(bodies), namespace is None)


def _bodies(db: sqlite3.Connection, kind: str, namespace: str | None) -> list[tuple[str]]:
    """The stored JSON of every ``kind`` in ``namespace`` (or all), in the store's order."""
    args: tuple[str, ...]
    if namespace is None:
        sql, args = "SELECT body FROM objects WHERE kind = ? ORDER BY namespace, name", (kind,)
    else:
        sql = "SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY name"
        args = (kind, namespace)
    rows: list[tuple[str]] = db.execute(sql, args).fetchall()
    return rows


def _no_gate(evaluation: Mapping[str, Any]) -> str:
    """A run with a gate decision: its line is ``Evaluation.describe``'s, so Typer's path."""
    raise UnsureError
