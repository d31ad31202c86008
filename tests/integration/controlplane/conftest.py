"""The ``factory`` fixture: a real embedded factory per test (see factory_support.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory_support import Factory


@pytest.fixture
def factory(factory_env: dict[str, str], tmp_path: Path) -> Iterator[Factory]:
    env = {**factory_env, "PYTHONUNBUFFERED": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    f = Factory(env, tmp_path)
    yield f
    f.close()
