"""The ``populated`` factory (``populated_support``), built once for this folder's tests."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory_support import Factory
from populated_support import CANARY_VARS, Populated, fill


@pytest.fixture(scope="package")
def populated(tmp_path_factory: pytest.TempPathFactory, kilroy_bin: Path) -> Iterator[Populated]:
    root = tmp_path_factory.mktemp("populated")
    canaries = {var: f"canary-{secrets.token_hex(16)}" for var in CANARY_VARS}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {
        "FACTORYOS_HOME": str(root / "home"),
        "FACTORYOS_KILROY": str(kilroy_bin),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@factoryos.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@factoryos.invalid",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **canaries,
    }
    factory = Factory(env, root)
    world = Populated(factory, canaries)
    try:
        fill(world)
        yield world
    finally:
        factory.close()
