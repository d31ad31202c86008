"""GPU scheduling with the node's advertised ``nvidia.com/gpu: 1`` (scheduling, not CUDA).

A Run with ``gpu.eval`` puts its evaluation Job on the GPU node with the node
selector, the toleration and the limit; its builds take no GPU. Of two such
Runs started together, the one whose evaluation comes while the other holds the GPU
(a verifier that takes 25 s) waits, and its status says why, until the GPU is free.
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
  concurrency: 2
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


def waiting_for_the_gpu(cluster: Cluster, ns: str, run: str) -> dict[str, Any] | None:
    """The Run when its status says its evaluation waits for the GPU."""
    found = cluster.json("get", "-n", ns, "run", run).get("status", {})
    reconciling = [c for c in found.get("conditions", []) if c["type"] == "Reconciling"]
    message = found.get("message") or ""
    if (
        reconciling
        and reconciling[0]["reason"] == "Unschedulable"
        and "Insufficient nvidia.com/gpu" in message
    ):
        return found
    return None


def test_the_evaluation_takes_the_gpu_and_a_second_run_waits_for_it(cluster: Cluster) -> None:
    node = cluster.json("get", "node")["items"][0]
    assert node["status"]["capacity"].get("nvidia.com/gpu") == "1"
    assert node["metadata"]["labels"].get("factoryos.dev/gpu") == "true"
    ns = cluster.namespace("gpu")
    # Both at once: the builds take no GPU and run side by side, the evaluations come at
    # about the same time, and whichever is second waits for the GPU the other holds.
    cluster.kubectl(
        "apply", "-n", ns, "-f", "-",
        stdin=RESOURCES + "---" + gpu_run("first") + "---" + gpu_run("second"),
    )  # fmt: skip
    holder, waiter = cluster.wait_for(
        "one run's evaluation to hold the GPU while the other's waits",
        lambda: next(
            (
                (run, other)
                for run, other in (("first", "second"), ("second", "first"))
                if (p := evaluation_pod(cluster, ns, run))
                and p["status"]["phase"] == "Running"
                and waiting_for_the_gpu(cluster, ns, other)
            ),
            None,
        ),
        timeout=300,
    )
    spec = evaluation_pod(cluster, ns, holder)["spec"]  # type: ignore[index]
    assert spec["nodeSelector"] == {"factoryos.dev/gpu": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    build = cluster.json("get", "-n", ns, "pods", "-l", f"job-name={holder}-c0-1")["items"]
    assert "nvidia.com/gpu" not in build[0]["spec"]["containers"][0].get("resources", {}).get(
        "limits", {}
    )
    waiting = cluster.json("get", "-n", ns, "run", waiter)
    assert waiting["status"]["phase"] == "Evaluating"
    assert evaluation_pod(cluster, ns, waiter)["status"]["phase"] == "Pending"  # type: ignore[index]

    cluster.kubectl("wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/first")
    cluster.kubectl("wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/second")
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
