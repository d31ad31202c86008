"""``make demo``'s script as a newcomer runs it: the smoke product, then the whole
self-verifying loop on the quality product (screen, halving, gate, merge)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from factory_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_shows_the_loop_from_screening_to_the_merge(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {
        "FACTORYOS_HOME": str(tmp_path / "home"),
        "FACTORYOS_DEMO_STOP": "1",
        "FACTORYOS_DASHBOARD_PORT": str(free_port()),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / ".tools" / "bin"),
                                 env.get("PATH", "")]),
    }  # fmt: skip
    done = subprocess.run(
        ["bash", str(ROOT / "examples" / "demo.sh")],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "health" in out  # the smoke product's change
    assert "c0  ScreenedOut  verifiers failed: compile" in out
    assert "c1  Eliminated" in out and "c2  Winner" in out
    assert "gate: accepted c2: 54/54 acceptance trials passed (each a distinct instance" in out
    assert "lower bound 0.9270 vs target 0.9" in out and "sequential test, decided at look" in out
    assert "Merge factory/quality-" in out  # git log of main in the product's repository
    assert "/runs/default/quality-" in out  # where to look in the dashboard
