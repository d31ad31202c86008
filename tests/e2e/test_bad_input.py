"""What goes wrong says so: a runner image the node lacks stalls the Run with the kubelet's
reason, and deleting a namespace mid-run leaves nothing of the run behind."""

from __future__ import annotations

from cluster_support import Cluster, pod_processes, smoke_resources, start_paused

MISSING = "factoryos-runner:not-on-this-node"


def stalled(cluster: Cluster, ns: str, run: str) -> dict[str, str] | None:
    """The Run's Stalled condition while it is True, else None."""
    found = cluster.json("get", "-n", ns, "run", run).get("status", {}).get("conditions", [])
    stall = [c for c in found if c["type"] == "Stalled"]
    return stall[0] if stall and stall[0]["status"] == "True" else None


def test_a_runner_image_the_node_lacks_stalls_the_run_with_the_reason(cluster: Cluster) -> None:
    ns = cluster.namespace("noimage")
    resources = smoke_resources("no-image").replace(
        "agentExecutable: /opt/examples/agents/scripted-agent}",
        f"agentExecutable: /opt/examples/agents/scripted-agent, image: '{MISSING}'}}",
    )
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=resources)

    condition = cluster.wait_for("the run to stall", lambda: stalled(cluster, ns, "no-image"), 180)
    assert condition["reason"] in {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"}
    assert MISSING in condition["message"]
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_missing_agent_key_stalls_the_run_until_the_secret_has_it(cluster: Cluster) -> None:
    ns = cluster.namespace("nokey")
    resources = smoke_resources("no-key").replace(
        "agentExecutable: /opt/examples/agents/scripted-agent}",
        "agentExecutable: /opt/examples/agents/scripted-agent, "
        "credential: {secretName: llm-keys, secretKey: openai}}",
    )
    # The Secret exists, without the key the engine names.
    cluster.kubectl(
        "-n", ns, "create", "secret", "generic", "llm-keys", "--from-literal=anthropic=dummy"
    )  # fmt: skip
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=resources)

    condition = cluster.wait_for("the run to stall", lambda: stalled(cluster, ns, "no-key"), 180)
    assert condition["reason"] == "CredentialMissing", condition
    assert "create secret generic llm-keys --from-literal=openai=<key>" in condition["message"]
    cluster.kubectl(
        "-n", ns, "patch", "secret", "llm-keys", "-p", '{"stringData": {"openai": "dummy"}}'
    )  # fmt: skip
    cluster.kubectl(
        "wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/no-key"
    )  # fmt: skip
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_deleting_the_namespace_mid_run_leaves_nothing_behind(cluster: Cluster) -> None:
    ns = cluster.namespace("gone")
    start_paused(cluster, ns, "gone-e2e")
    pods = [p["metadata"]["uid"] for p in cluster.json("get", "-n", ns, "pods")["items"]]
    cluster.kubectl("delete", "namespace", ns, "--timeout=180s")
    assert cluster.kubectl("get", "namespace", ns, check=False) == ""
    cluster.wait_for(
        "the run's volumes to be released and deleted",
        lambda: not [v for v in cluster.json("get", "pv")["items"]
                     if (v["spec"].get("claimRef") or {}).get("namespace") == ns],
        timeout=60,
    )  # fmt: skip
    if cluster.tier == "node":
        left = [line for uid in pods for line in pod_processes(uid)]
        assert left == [], f"processes of the run's pods survive: {left}"
