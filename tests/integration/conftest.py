"""Fixtures for tests that run real processes: the real Kilroy binary and git workspaces.

Kilroy is required, not optional: when it is missing these tests fail with the
install hint instead of skipping, so a green run always means Kilroy was exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory_support import Factory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kilroy_bin() -> Path:
    found = shutil.which("kilroy", path=f"{ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}")
    if not found:
        pytest.fail("kilroy is not installed: run `make tools` (the integration tests need it)")
    return Path(found)


@pytest.fixture
def factory_env(tmp_path: Path, kilroy_bin: Path) -> Iterator[dict[str, str]]:
    """Environment for an ``sf`` subprocess: its own FACTORYOS_HOME and the real Kilroy."""
    env = {
        **os.environ,
        "FACTORYOS_HOME": str(tmp_path / "home"),
        "FACTORYOS_KILROY": str(kilroy_bin),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@factoryos.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@factoryos.invalid",
    }
    for key in [k for k in env if k.endswith("_API_KEY")]:
        del env[key]
    yield env


@pytest.fixture
def factory(
    factory_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Factory]:
    """A real embedded factory per test (see factory_support.py); candidates unsandboxed
    for a test marked ``unsandboxed``."""
    env = {**factory_env, "PYTHONUNBUFFERED": "1"}
    if request.node.get_closest_marker("unsandboxed") is not None:
        env["FACTORYOS_SANDBOX"] = "0"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    f = Factory(env, tmp_path)
    yield f
    f.close()


def make_git_repo(path: Path) -> Path:
    """A git repository with one commit, like a product checkout."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "README.md").write_text("workspace\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(path),
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@factoryos.invalid",
            "commit",
            "-qm",
            "init",
        ],
        check=True,
    )
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "workspace")
