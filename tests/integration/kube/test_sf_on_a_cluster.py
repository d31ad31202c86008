"""``sf --context`` works on a cluster's Products and Runs with the same commands and output.

The same checks as the embedded mode where they make sense there (an unknown
product, a taken name, schema errors come back as one line); what only the
local factory can do says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kube_support import Kubectl, TestCluster

#: Slow, about 4 s a test (sf against the API server, runs included): not in `make test-fast`.
pytestmark = pytest.mark.slow

SF = [sys.executable, "-m", "factoryos.cli.app"]


@pytest.fixture
def sf(cluster: TestCluster, namespace: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [*SF, "--context", "test", "--kubeconfig", str(cluster.kubeconfig), *args]
        env = {
            "PATH": "/usr/bin:/bin",
            "FACTORYOS_HOME": str(tmp_path / "home"),
            "HOME": str(tmp_path),
        }
        done = subprocess.run(
            argv, capture_output=True, text=True, input=stdin, env=env, timeout=60
        )
        if check and done.returncode != 0:
            raise AssertionError(f"sf {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    return run


def test_products_and_runs_are_managed_on_the_cluster(sf, kubectl: Kubectl, namespace: str) -> None:  # type: ignore[no-untyped-def]
    ns = ["-n", namespace]
    added = sf("product", "add", "web", "--repo", "https://git.example.invalid/web.git", *ns)
    started = sf("run", "start", "web", "--goal", "ship it", "--name", "web-1", *ns, "-o", "json")
    listed = sf("run", "list", *ns)
    stopped = sf("run", "stop", "web-1", *ns)

    assert added.stdout.strip() == "product.factoryos.dev/web created"
    assert json.loads(started.stdout)["spec"]["goal"] == "ship it"
    assert listed.stdout.splitlines()[1].split()[:2] == ["web-1", "web"]
    assert stopped.stdout.strip() == "run.factoryos.dev/web-1 stopping"
    on_cluster = json.loads(kubectl("get", "run", "web-1", "-o", "json").stdout)
    assert on_cluster["spec"]["desiredState"] == "Stopped"
    products = yaml.safe_load(sf("product", "list", *ns, "-o", "yaml").stdout)
    assert [p["metadata"]["name"] for p in products] == ["web"]


def test_refusals_are_one_line(sf, namespace: str) -> None:  # type: ignore[no-untyped-def]
    ns = ["-n", namespace]
    sf("product", "add", "web", "--repo", "https://git.example.invalid/web.git", *ns)
    taken = sf("product", "add", "web", "--repo", "https://x.invalid/y.git", *ns, check=False)
    unknown = sf("run", "start", "ghost", "--goal", "g", *ns, check=False)
    sf("run", "start", "web", "--goal", "g", "--name", "web-1", *ns)
    logs = sf("run", "logs", "web-1", *ns, check=False)
    up = sf("up", check=False)

    assert (
        taken.returncode == 4 and taken.stderr.count("\n") == 1 and "already exists" in taken.stderr
    )
    assert unknown.returncode == 3 and "product 'ghost' not found" in unknown.stderr
    assert logs.returncode == 2 and "FACTORYOS_DASHBOARD_URL" in logs.stderr
    assert up.returncode == 2 and "operator" in up.stderr
