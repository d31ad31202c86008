"""Full-system tests on a real cluster: the single-node tier here, kind where Docker runs.

Every test collected under tests/e2e gets the ``e2e`` marker. ``make e2e``
(tools/cluster/e2e.sh) brings the cluster up as a user does (``make cluster-up
images deploy`` on the node tier, ``make kind-up images kind-load deploy`` on
kind), runs the tests in parallel workers and takes it down again; run alone,
the session fixture does the same for one worker. Where neither tier can run, each test is skipped
with the reasons, so a machine shows exactly what did not run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import ROOT, Cluster, kubectl_binary, tier

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen, why = tier()
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if chosen is None:
                item.add_marker(pytest.mark.skip(reason=f"no cluster tier can run here: {why}"))


def _make(*targets: str, **variables: str) -> None:
    settings = [f"{k}={v}" for k, v in variables.items()]
    subprocess.run(["make", "--no-print-directory", *targets, *settings], cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The cluster, up, with the images loaded and Factory OS deployed."""
    chosen, context = tier()
    assert chosen is not None, context
    if os.environ.get("FACTORYOS_E2E_MANAGED") == "1":  # tools/cluster/e2e.sh brought it up
        yield Cluster(chosen, context, kubectl_binary())
        return
    if chosen == "kind":
        _make("kind-up", "images", "kind-load", "deploy", CONTEXT=context)
        yield Cluster("kind", context, kubectl_binary())
        return
    was_up = subprocess.run(["bash", "tools/cluster/status.sh"], cwd=ROOT,
                            capture_output=True, check=False).returncode == 0  # fmt: skip
    _make("cluster-up", "images", "deploy", CONTEXT=context)
    try:
        yield Cluster("node", context, kubectl_binary())
    finally:
        if not was_up and os.environ.get("FACTORYOS_E2E_KEEP") != "1":
            _make("cluster-down")
