"""The dashboard on a cluster: its own least-privilege identity, runners' events by token.

``python -m factoryos.ui`` runs against a real kube-apiserver as the
dashboard's ServiceAccount (the manifests' RBAC, applied as shipped): it
lists Products and Runs from the cluster, starts, stops and resumes Runs
by their spec, cannot delete or touch status; a runner's ``EventForwarder``
sends a run's events with that run's token and a WebSocket client receives
them in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from kube_support import DASHBOARD_TOKEN as TOKEN
from kube_support import INGEST_KEY as KEY
from kube_support import Kubectl, TestCluster
from websockets.sync.client import connect

from factoryos.events import EventLog, EventType, run_source, run_token
from factoryos.runner.forward import EventForwarder, ingest_url

DASHBOARD_USER = "system:serviceaccount:factoryos-system:factoryos-dashboard"


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _product(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=(
        "apiVersion: factoryos.dev/v1alpha1\nkind: Product\nmetadata: {name: web}\n"
        "spec: {repo: {url: 'https://git.example.invalid/web.git'}}\n"
    ))  # fmt: skip


def test_it_works_on_the_clusters_resources_with_its_own_rights(
    dashboard: str, kubectl: Kubectl, namespace: str
) -> None:
    _product(kubectl)
    api = httpx.Client(base_url=dashboard, headers=_auth(), timeout=30)
    started = api.post(
        "/api/runs",
        json={"product": "web", "goal": "ship", "name": "web-1", "namespace": namespace},
    )
    assert started.status_code == 201, started.text
    assert [
        p["metadata"]["name"] for p in api.get(f"/api/products?namespace={namespace}").json()
    ] == ["web"]
    assert api.post(f"/api/runs/{namespace}/web-1/stop").json()["spec"]["desiredState"] == "Stopped"
    on_cluster = json.loads(kubectl("get", "run", "web-1", "-o", "json").stdout)
    assert on_cluster["spec"]["desiredState"] == "Stopped"
    ghost = api.post("/api/runs", json={"product": "ghost", "goal": "g", "namespace": namespace})
    assert ghost.status_code == 404 and "ghost" in ghost.json()["detail"]
    page = api.get(f"/runs/{namespace}/web-1")
    assert page.status_code == 200 and "web-1" in page.text

    for question in (["delete", "runs"], ["patch", "runs", "--subresource=status"],
                     ["get", "secrets"], ["create", "products"]):  # fmt: skip
        allowed = kubectl(
            "auth", "can-i", *question, f"--as={DASHBOARD_USER}", check=False
        ).stdout.strip()
        assert allowed == "no", f"the dashboard may not {' '.join(question)}"
    allowed = kubectl("auth", "can-i", "update", "runs", f"--as={DASHBOARD_USER}", check=False)
    assert allowed.stdout.strip() == "yes"


@pytest.mark.slow
def test_a_runners_events_reach_websocket_clients_and_sf(
    dashboard: str, kubectl: Kubectl, namespace: str, tmp_path: Path, cluster: TestCluster
) -> None:
    _product(kubectl)
    httpx.post(
        dashboard + "api/runs",
        json={"product": "web", "goal": "ship", "name": "web-2", "namespace": namespace},
        headers=_auth(),
    ).raise_for_status()
    volume_log = EventLog(tmp_path / "volume" / "events.ndjson", run_source("web", "web-2"))
    for i in range(30):
        volume_log.append(EventType.LOG, {"message": f"line {i}"})

    wrong = EventForwarder(
        volume_log.path,
        ingest_url(dashboard, namespace, "web-2"),
        run_token(KEY, namespace, "web-1"),
    ).start()
    assert not wrong.close(timeout=2), "another run's token is refused"
    forwarder = EventForwarder(
        volume_log.path,
        ingest_url(dashboard, namespace, "web-2"),
        run_token(KEY, namespace, "web-2"),
    ).start()
    url = dashboard.replace("http://", "ws://") + f"api/runs/{namespace}/web-2/events?after=0"
    got = []
    with connect(url, additional_headers=_auth(), open_timeout=10) as ws:
        volume_log.append(EventType.RUN_FINISHED, {"status": "success"})
        while not got or got[-1]["type"] != str(EventType.RUN_FINISHED):
            message = json.loads(ws.recv(timeout=30))
            if message["kind"] == "event":
                got.append(message["event"])
    assert forwarder.close(timeout=30)
    assert [e["sequence"] for e in got] == list(range(1, 32))

    logs = subprocess.run(
        [sys.executable, "-m", "factoryos.cli.app", "--context", "test",
         "--kubeconfig", str(cluster.kubeconfig), "run", "logs", "web-2", "-n", namespace,
         "--after", "20", "-o", "json"],
        env={**os.environ, "FACTORYOS_DASHBOARD_URL": dashboard,
             "FACTORYOS_DASHBOARD_TOKEN": TOKEN, "FACTORYOS_HOME": str(tmp_path / "h")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert logs.returncode == 0, logs.stderr
    assert [json.loads(line)["sequence"] for line in logs.stdout.splitlines()] == list(
        range(21, 32)
    )
    assert [e["id"] for e in got] == [
        json.loads(line)["id"] for line in volume_log.path.read_text().splitlines()
    ]
