"""Full-system tests (kind, a Docker engine): skipped, with the reason printed, without one.

Every test collected under tests/e2e gets the ``e2e`` marker. When no Docker
engine answers ``docker info``, each is skipped with the reason, so a machine
without Docker shows exactly what did not run instead of passing silently.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
from kind_support import CONTEXT, ROOT

HERE = Path(__file__).resolve().parent


@cache
def docker_unavailable() -> str | None:
    """Why the e2e tests cannot run here, or None when a Docker engine answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "no Docker engine: the docker CLI is not installed"
    try:
        probe = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "no Docker engine: `docker info` did not answer within 15 s"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"no Docker engine: `docker info` failed: {detail}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            reason = docker_unavailable()
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def kind_cluster() -> str:
    """The kind cluster, brought up as a user does: make kind-up images kind-load deploy."""
    subprocess.run(["make", "kind-up", "images", "kind-load", "deploy"], cwd=ROOT, check=True)
    return CONTEXT
