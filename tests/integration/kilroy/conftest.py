"""Fixtures for the Kilroy adapter's integration tests: the real binary, a private home.

Kilroy must be installed: when it is not, every test here fails with the install
hint (``make tools``) instead of being skipped. Each test gets its own
FACTORYOS_HOME and workspaces under ``tmp_path``, an environment without
provider API keys, and a guard that kills any process a test's run left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.errors import ToolMissingError
from factoryos.kilroy import Kilroy, KilroyBinary, find_kilroy
from factoryos.kilroy.procs import MARKER_ENV, PROC, kill_processes
from factoryos.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def kilroy_binary() -> KilroyBinary:
    settings = Settings(
        home=Path("/nonexistent"),
        tools_dir=ROOT / ".tools" / "bin",
        search_path=os.environ.get("PATH", ""),
    )
    try:
        return find_kilroy(settings, os.environ)
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def settings(
    tmp_path: Path, kilroy_binary: KilroyBinary, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("FACTORYOS_HOME", str(home))
    return Settings(home=home, kilroy_binary=kilroy_binary.path)


@pytest.fixture
def kilroy(kilroy_binary: KilroyBinary, settings: Settings, tmp_path: Path) -> Iterator[Kilroy]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    yield Kilroy(kilroy_binary, settings, env=env)
    leftovers = kill_processes(lambda: _processes_under(tmp_path.resolve()), grace_seconds=0.2)
    assert not leftovers, f"the test left processes of its runs behind: {leftovers}"


def _processes_under(folder: Path) -> list[int]:
    """Processes whose run marker points into ``folder``."""
    prefix = f"{MARKER_ENV}={folder}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(item.startswith(prefix) for item in environ):
            found.append(int(entry.name))
    return found
