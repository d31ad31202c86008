"""Stop and resume on real pods: the Job is suspended, its pod and processes go within the
grace period, and attempt 2 continues from the checkpoint on the candidate's volume.

The selftest product's ``pause.dot`` (a → b, 23 s → c) appends each stage's letter to
``out.txt``: after the resume the candidate's branch must hold each letter once (a
completed stage is not run again), read from the dashboard's git service as the
evaluation reads it.
"""

from __future__ import annotations

import time
from pathlib import Path

from cluster_support import Cluster, pod_processes, run_file, start_paused


def test_stop_suspends_the_job_and_resume_continues_on_a_new_pod(
    cluster: Cluster, tmp_path: Path
) -> None:
    ns = cluster.namespace("stop")
    start_paused(cluster, ns, "pause-e2e")
    first = cluster.json("get", "-n", ns, "pods", "-l", "job-name=pause-e2e-c0-1")["items"][0]
    grace = first["spec"]["terminationGracePeriodSeconds"]

    stopped_at = time.monotonic()
    done = cluster.sf("run", "stop", "-n", ns, "pause-e2e")
    assert done.returncode == 0, done.stderr
    job = cluster.wait_for(
        "the Job to be suspended",
        lambda: (
            (j := cluster.json("get", "-n", ns, "job", "pause-e2e-c0-1"))["spec"].get("suspend")
            and j
        ),
        timeout=60,
    )
    assert job["spec"]["suspend"] is True
    cluster.wait_for(
        "the pod to go",
        lambda: not cluster.json("get", "-n", ns, "pods", "-l", "job-name=pause-e2e-c0-1")["items"],
        timeout=grace + 30, interval=0.5,
    )  # fmt: skip
    gone_after = time.monotonic() - stopped_at
    assert gone_after <= grace + 5, (
        f"the pod outlived its grace period ({gone_after:.1f}s > {grace}s)"
    )
    if cluster.tier == "node":
        survivors = pod_processes(first["metadata"]["uid"])
        assert survivors == [], f"a process of the stopped pod survives: {survivors}"
    cluster.kubectl(
        "wait",
        "-n",
        ns,
        "--for=jsonpath={.status.phase}=Stopped",
        "--timeout=120s",
        "run/pause-e2e",
    )

    done = cluster.sf("run", "resume", "-n", ns, "pause-e2e")
    assert done.returncode == 0, done.stderr
    cluster.kubectl(
        "wait", "-n", ns, "--for=condition=Succeeded", "--timeout=300s", "run/pause-e2e"
    )
    second = cluster.json("get", "-n", ns, "pods", "-l", "job-name=pause-e2e-c0-2")["items"][0]
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["status"]["phase"] == "Succeeded"

    with cluster.port_forward("factoryos-dashboard", 8400) as url:
        out = run_file(
            cluster, url, ns, "pause-e2e", "factory/pause-e2e/c0", "out.txt", tmp_path / "c0"
        )
    assert out.split() == ["a", "b", "c"], f"a stage ran twice or not at all: {out!r}"
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
