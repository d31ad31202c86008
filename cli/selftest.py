"""``sf selftest``: check the factory's invariants against a real embedded factory.

It runs in a scratch ``FACTORYOS_HOME`` (removed afterwards unless ``--keep``),
so it never touches your products or runs. The checks are in
``factoryos.selftest``; this prints a pass/fail table and exits 1 when any
check failed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit, progress, table
from factoryos.errors import InvalidInputError
from factoryos.selftest import CHECKS, CheckResult, run_selftest
from factoryos.settings import Settings


def selftest(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Run only these checks ({', '.join(n for n, _ in CHECKS)})."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch factory's home to look at.")
    ] = False,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run the factory's self-checks: stop, resume, event stream, smoke product end to end."""
    if Settings.from_env().kube_context is not None:
        raise InvalidInputError(
            "sf selftest checks the embedded factory; against a cluster it is not available yet"
        )
    names = {n for n, _ in CHECKS}
    unknown = sorted(set(only or []) - names)
    if unknown:
        raise InvalidInputError(f"no check named {', '.join(unknown)} (checks: {sorted(names)})")
    home = Path(tempfile.mkdtemp(prefix="factoryos-selftest-"))
    progress(f"sf selftest: a scratch factory in {home}")

    def heard(result: CheckResult) -> None:
        mark = "pass" if result.passed else "FAIL"
        progress(f"  {result.name}: {mark} ({result.seconds:.1f}s) {result.detail}")

    try:
        results = run_selftest(home, dict(os.environ), only=only, on_result=heard)
    finally:
        if keep:
            progress(f"sf selftest: kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    data = {"passed": all(r.passed for r in results), "checks": [r.to_json() for r in results]}
    emit(data, output, _text)
    raise typer.Exit(0 if data["passed"] else 1)


def _text(data: dict[str, Any]) -> str:
    rows = [
        [c["name"], "PASS" if c["passed"] else "FAIL", f"{c['seconds']:.1f}s", c["detail"]]
        for c in data["checks"]
    ]
    verdict = "all checks passed" if data["passed"] else "SOME CHECKS FAILED"
    return table(["check", "result", "took", "detail"], rows) + f"\n{verdict}"
