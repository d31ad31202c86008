"""Deterministic verifiers: a product's commands by kind, run in a candidate's worktree.

Kinds run in order (typecheck, lint, unit, integration); every command of a
kind runs, and a kind with a failure ends the screen there (no point running
integration tests on code that does not typecheck). Each command gets its
timeout, the worktree as working directory and a scrubbed environment, in the
candidate's evaluation sandbox where there is one (as in the eval harness);
its combined output is kept as ``<out_dir>/<kind>-<name>.log`` and its exit
status in the result, which
goes into Run status. A candidate with any failed verifier is screened out,
and ``screen_reason`` says why.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from factoryos.evals.harness import candidate_command
from factoryos.models import VerifierResult, Verifiers

if TYPE_CHECKING:
    from factoryos.kilroy.sandbox import Sandbox

#: The tail of a failed verifier's output kept in its result message.
MESSAGE_TAIL = 400


def log_name(kind: str, name: str) -> str:
    """The artifact a verifier's output is kept in."""
    return f"{kind}-{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.log"


def run_verifiers(
    verifiers: Verifiers,
    worktree: Path,
    out_dir: Path,
    env: Mapping[str, str],
    sandbox: Sandbox | None = None,
) -> list[VerifierResult]:
    """Run the screen; results in run order (later kinds are absent after a failing kind)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[VerifierResult] = []
    for kind, commands in verifiers.by_kind().items():
        for verifier in commands:
            log = out_dir / log_name(kind.value, verifier.name)
            argv, clean_env = candidate_command(verifier.command, worktree, env, sandbox)
            started = time.monotonic()
            with log.open("w") as fh:
                try:
                    done = subprocess.run(
                        argv,
                        cwd=worktree,
                        env=clean_env,
                        stdin=subprocess.DEVNULL,
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        timeout=verifier.timeout_seconds,
                        check=False,
                    )
                    code: int | None = done.returncode
                except subprocess.TimeoutExpired:
                    code = None
            took = round(time.monotonic() - started, 3)
            passed = code == 0
            message = None
            if code is None:
                message = f"timed out after {verifier.timeout_seconds}s"
            elif not passed:
                tail = log.read_text(errors="replace")[-MESSAGE_TAIL:].strip()
                message = f"exited {code}" + (f": {tail}" if tail else "")
            results.append(
                VerifierResult(
                    kind=kind,
                    name=verifier.name,
                    passed=passed,
                    exit_code=code,
                    duration_seconds=took,
                    message=message,
                )
            )
        if any(not r.passed for r in results):
            break
    return results


def screen_reason(results: list[VerifierResult]) -> str | None:
    """Why a candidate is screened out (the first failed verifier), or None."""
    for result in results:
        if not result.passed:
            return f"verifier {result.kind.value}/{result.name} failed: {result.message}"
    return None
