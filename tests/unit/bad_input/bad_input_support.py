"""Running ``sf`` in-process on generated input, and what every refusal must look like.

``Home`` is a scratch ``FACTORYOS_HOME`` with a stand-in Kilroy (it only says its
version) and a product ``p`` stored directly, whose repository does not exist:
every admission check that would need a real repository refuses, so a generated
input never starts anything. ``Home.sf(argv)`` runs ``factoryos.cli.app.main``
and returns the exit status with what it wrote. ``refused_cleanly`` is the rule
each test checks: a documented exit status, one ``sf: error:`` line (or usage
text for a usage mistake), never a traceback, and the store's version unchanged.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from factoryos.cli.app import main
from factoryos.cli.exits import EXIT_STATUSES
from factoryos.models import Product, parse_as
from factoryos.store import LocalStore

#: What ``sf`` may exit with (cli/factoryos/cli/exits.py), 0 included.
DOCUMENTED = {0, *EXIT_STATUSES.values()}


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@dataclass
class Home:
    path: Path
    store: LocalStore

    def sf(self, argv: list[str], stdin: bytes = b"") -> Outcome:
        """``main(argv)`` with the standard streams of a real process (stdout strict UTF-8,
        stderr with backslashreplace) and the environment restored afterwards (``--context``
        writes it)."""
        out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
        out = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
        err = io.TextIOWrapper(
            err_bytes, encoding="utf-8", errors="backslashreplace", write_through=True
        )
        saved_stdin, saved_env = sys.stdin, dict(os.environ)
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            sys.stdin = saved_stdin
            os.environ.clear()
            os.environ.update(saved_env)
        return Outcome(code, out_bytes.getvalue().decode(), err_bytes.getvalue().decode())


def refused_cleanly(outcome: Outcome, before: int, after: int) -> None:
    """A refusal as the CLI documents it, with the store untouched."""
    said = outcome.err + outcome.out
    assert "Traceback" not in said, said
    assert outcome.code in DOCUMENTED, (outcome.code, said)
    if outcome.code == 0:
        return
    assert after == before, f"exit {outcome.code} but the store changed: {said}"
    if "Usage:" in said or "─ Error ─" in said:  # a usage mistake, shown by click/typer
        assert outcome.code == 2, said
        return
    lines = outcome.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sf: error: "), outcome.err


@contextlib.contextmanager
def scratch_home(root: Path) -> Iterator[Home]:
    """The home described in the module docstring, for a whole module of examples."""
    kilroy = root / "kilroy"
    kilroy.write_text("#!/bin/sh\necho 'kilroy 0.1.0'\n")
    kilroy.chmod(0o755)
    home = root / "home"
    store = LocalStore(home / "factoryos.db")
    store.create(
        parse_as(
            Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": str(root / "gone")}}}
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("FACTORYOS_")]:
            patch.delenv(key)
        patch.setenv("FACTORYOS_HOME", str(home))
        patch.setenv("FACTORYOS_KILROY", str(kilroy))
        patch.setenv("KUBECONFIG", str(root / "no-kubeconfig"))  # never the host's
        patch.chdir(root)
        yield Home(home, store)
    store.close()
