"""Helpers for the kind tests: the cluster's context and kubectl against it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = os.environ.get("KIND_CONTEXT", "kind-factoryos")


def kubectl(*args: str, stdin: str | None = None) -> str:
    binary = os.environ.get("KUBECTL", "kubectl")
    done = subprocess.run(
        [binary, "--context", CONTEXT, *args], capture_output=True, text=True, input=stdin,
        timeout=1200, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stderr}"
    return done.stdout
