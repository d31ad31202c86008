"""GPU scheduling with the node's advertised ``nvidia.com/gpu: 1`` (scheduling, not CUDA).

A Run with ``gpu.eval`` puts its evaluation Job on the GPU node with the node
selector, the toleration and the limit; its builds take no GPU. A second such
Run, whose evaluation comes while the first holds the GPU (a verifier that
takes 25 s), waits, and its status says why, until the first releases it.
"""

from __future__ import annotations

from typing import Any

from cluster_support import Cluster

RESOURCES = """
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {name: gpu}
spec:
  repo: {path: /opt/examples/smoke}
  engine: {agentProfile: test_shim, agentExecutable: /opt/examples/agents/scripted-agent}
  verifiers:
    unit: [{name: hold-the-gpu, command: "sleep 25"}]
"""


def gpu_run(name: str) -> str:
    return f"""
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: {name}}}
spec: {{productRef: {{name: gpu}}, goal: use the gpu, gpu: {{eval: true}}}}
"""


def evaluation_pod(cluster: Cluster, ns: str, run: str) -> dict[str, Any] | None:
    pods = cluster.json("get", "-n", ns, "pods", "-l", f"job-name={run}-e1-1")["items"]
    return pods[0] if pods else None


def test_the_evaluation_takes_the_gpu_and_a_second_run_waits_for_it(cluster: Cluster) -> None:
    node = cluster.json("get", "node")["items"][0]
    assert node["status"]["capacity"].get("nvidia.com/gpu") == "1"
    assert node["metadata"]["labels"].get("factoryos.dev/gpu") == "true"
    ns = cluster.namespace("gpu")
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=RESOURCES + "---" + gpu_run("first"))
    pod = cluster.wait_for(
        "the first run's evaluation to hold the GPU",
        lambda: (
            (p := evaluation_pod(cluster, ns, "first")) and p["status"]["phase"] == "Running" and p
        ),
        timeout=300,
    )
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"factoryos.dev/gpu": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    build = cluster.json("get", "-n", ns, "pods", "-l", "job-name=first-c0-1")["items"][0]["spec"]
    assert "nvidia.com/gpu" not in build["containers"][0].get("resources", {}).get("limits", {})

    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=gpu_run("second"))

    def waiting_for_the_gpu() -> dict[str, Any] | None:
        run = cluster.json("get", "-n", ns, "run", "second")
        reconciling = [c for c in run["status"].get("conditions", []) if c["type"] == "Reconciling"]
        message = run["status"].get("message") or ""
        if (
            reconciling
            and reconciling[0]["reason"] == "Unschedulable"
            and "Insufficient nvidia.com/gpu" in message
        ):
            return run
        return None

    waiting = cluster.wait_for(
        "the second run to say it waits for the GPU", waiting_for_the_gpu, timeout=120
    )
    assert waiting["status"]["phase"] == "Evaluating"
    assert evaluation_pod(cluster, ns, "second")["status"]["phase"] == "Pending"

    cluster.kubectl("wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/first")
    cluster.kubectl("wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/second")
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
