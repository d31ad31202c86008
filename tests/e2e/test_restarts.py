"""The operator's and the dashboard's pods deleted mid-run: both come back and the run converges,
with no duplicate Job and no event lost.

The run is the selftest product's ``pause.dot`` (b takes 23 s). While b runs,
both pods are deleted; their Deployments make new ones, the operator picks the
run up from its status and Jobs (creating nothing twice), and the runner's
forwarder resends what the dashboard missed while it was away.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from cluster_support import SYSTEM, Cluster, start_paused

pytestmark = pytest.mark.disruptive


def test_the_run_converges_across_operator_and_dashboard_restarts(cluster: Cluster) -> None:
    ns = cluster.namespace("restart")
    start_paused(cluster, ns, "restart-e2e")
    before = {
        name: cluster.json("-n", SYSTEM, "get", "pods", "-l", f"app.kubernetes.io/name={name}")[
            "items"
        ][0]["metadata"]["uid"]
        for name in ("factoryos-operator", "factoryos-dashboard")
    }
    cluster.kubectl(
        "-n",
        SYSTEM,
        "delete",
        "pod",
        "-l",
        "app.kubernetes.io/name in (factoryos-operator,factoryos-dashboard)",
        "--wait=false",
    )
    for name in before:

        def replaced(name: str = name) -> bool:
            pods = cluster.json(
                "-n", SYSTEM, "get", "pods", "-l", f"app.kubernetes.io/name={name}"
            )["items"]  # fmt: skip
            return bool(pods) and all(p["metadata"]["uid"] != before[name] for p in pods)

        cluster.wait_for(f"{name}'s old pod to be gone and a new one made", replaced, 180)
        cluster.kubectl("-n", SYSTEM, "rollout", "status", f"deploy/{name}", "--timeout=180s")

    cluster.kubectl(
        "wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/restart-e2e"
    )
    jobs = [j["metadata"]["name"] for j in cluster.json("get", "-n", ns, "jobs")["items"]]
    assert sorted(jobs) == ["restart-e2e-c0-1", "restart-e2e-e1-1"], (
        f"a duplicate or missing Job: {jobs}"
    )

    token = cluster.dashboard_token()
    with cluster.port_forward("factoryos-dashboard", 8400) as url:
        answer = httpx.get(f"{url}api/runs/{ns}/restart-e2e/events", params={"limit": 10000},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    answer.raise_for_status()
    events = answer.json()["events"]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["id"] for e in events}) == len(events), "an event was stored twice"
    completed = Counter(
        e["subject"] for e in events if e["type"] == "dev.factoryos.stage.completed"
    )
    assert all(completed[stage] == 1 for stage in ("a", "b", "c")), completed
    assert any(e["type"] == "dev.factoryos.run.finished" for e in events)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
