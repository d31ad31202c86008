"""The smoke product end to end through real pods: kubectl apply → Job pods → Kilroy → Succeeded.

Nothing here writes status: the operator (a pod) reconciles, the runner image
runs Kilroy with the scripted agent (no network, no LLM), progress reaches the
Run's stages table through the runners' ConfigMaps, and events reach the
dashboard (a pod) through the per-volume streams it merges. The events are read
as users read them, through the dashboard's API behind a port-forward and
through ``sf run logs --context``, and must be one sequence without gap or repeat.
"""

from __future__ import annotations

import json

import httpx
import pytest
from cluster_support import Cluster, smoke_resources

pytestmark = pytest.mark.every_install  # make e2e runs it on the kustomize and the Helm install


def test_the_smoke_product_succeeds_in_job_pods_with_its_stages_and_events(
    cluster: Cluster,
) -> None:
    ns = cluster.namespace("smoke")
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=smoke_resources("smoke-e2e"))
    cluster.kubectl(
        "wait", "-n", ns, "--for=condition=Succeeded", "--timeout=600s", "run/smoke-e2e"
    )

    run = cluster.json("get", "-n", ns, "run", "smoke-e2e")
    assert run["status"]["phase"] == "Succeeded"
    stages = run["status"]["stages"]
    assert stages and all(s["status"] == "Succeeded" for s in stages), stages
    pods = cluster.json("get", "-n", ns, "pods", "-l", "factoryos.dev/run=smoke-e2e")["items"]
    builds = [p for p in pods if p["metadata"]["labels"]["factoryos.dev/workload-kind"] == "build"]
    assert builds and {p["status"]["phase"] for p in builds} == {"Succeeded"}
    assert {c["image"] for p in pods for c in p["spec"]["containers"]} == {"factoryos-runner:dev"}
    claims = cluster.json("get", "-n", ns, "pvc")["items"]
    assert {c["metadata"]["name"] for c in claims} == {"smoke-e2e-c0-work", "smoke-e2e-e1-work"}

    token = cluster.dashboard_token()
    with cluster.port_forward("factoryos-dashboard", 8400) as url:
        answer = httpx.get(f"{url}api/runs/{ns}/smoke-e2e/events", params={"limit": 10000},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        answer.raise_for_status()
        from_api = answer.json()
        reach = {"FACTORYOS_DASHBOARD_URL": url, "FACTORYOS_DASHBOARD_TOKEN": token}
        logs = cluster.sf("run", "logs", "-n", ns, "smoke-e2e", "-o", "json", env=reach)
    assert logs.returncode == 0, logs.stderr
    from_sf = [json.loads(line) for line in logs.stdout.splitlines() if line.strip()]
    events = from_api["events"] if isinstance(from_api, dict) else from_api
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(1, len(sequences) + 1)), "a gap or a repeat in the sequence"
    assert [e["id"] for e in from_sf] == [e["id"] for e in events]
    types = {e["type"] for e in events}
    assert {"dev.factoryos.run.started", "dev.factoryos.stage.completed"} <= types, types
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
