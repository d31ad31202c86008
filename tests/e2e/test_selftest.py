"""``sf selftest --context`` on a real cluster: all four checks pass through the operator.

The dashboard is reached with ``kubectl port-forward``, as the README tells users to.
"""

from __future__ import annotations

import json
from pathlib import Path

from cluster_support import Cluster


def test_sf_selftest_context_passes_its_four_checks(cluster: Cluster, tmp_path: Path) -> None:
    token = cluster.dashboard_token()
    with cluster.port_forward("factoryos-dashboard", 8400) as url:
        done = cluster.sf(
            "selftest", "--context", cluster.context, "-o", "json", timeout=1800,
            env={"FACTORYOS_DASHBOARD_URL": url, "FACTORYOS_DASHBOARD_TOKEN": token,
                 "FACTORYOS_HOME": str(tmp_path / "home")},
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert [c["name"] for c in result["checks"]] == ["smoke", "stop", "resume", "events"]
    assert all(c["passed"] for c in result["checks"]), result
