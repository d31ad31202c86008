"""``sf selftest --context`` on a real cluster (kind): all four checks pass through the operator.

Needs a Docker engine (skipped with the reason otherwise, see conftest.py).
The cluster comes up as a user brings it up (`make kind-up images kind-load
deploy`, which also makes the dashboard's Secret); the dashboard is reached
with `kubectl port-forward`, as the README tells users to.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kind_support import CONTEXT, kubectl


@pytest.fixture
def dashboard(kind_cluster: str) -> Iterator[tuple[str, str]]:
    """The dashboard's URL through a port-forward, and its token from the Secret."""
    secret = json.loads(kubectl("-n", "factoryos-system", "get", "secret",
                                "factoryos-dashboard", "-o", "json"))  # fmt: skip
    token = base64.b64decode(secret["data"]["token"]).decode()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    forward = subprocess.Popen(
        [os.environ.get("KUBECTL", "kubectl"), "--context", CONTEXT, "-n", "factoryos-system",
         "port-forward", "svc/factoryos-dashboard", f"{port}:8400"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", token
    finally:
        forward.terminate()
        forward.wait(timeout=30)


def test_sf_selftest_context_passes_on_kind(dashboard: tuple[str, str], tmp_path: Path) -> None:
    url, token = dashboard
    done = subprocess.run(
        [sys.executable, "-m", "factoryos.cli.app", "selftest", "--context", CONTEXT, "-o", "json"],
        env={**os.environ, "FACTORYOS_DASHBOARD_URL": url, "FACTORYOS_DASHBOARD_TOKEN": token,
             "FACTORYOS_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["name"] for c in result["checks"]] == ["smoke", "stop", "resume", "events"]
    assert all(c["passed"] for c in result["checks"]), result
