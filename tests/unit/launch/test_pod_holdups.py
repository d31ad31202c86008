"""Why a runner pod has not started: stuck (Stalled) or waiting for room (in progress)."""

from __future__ import annotations

from typing import Any

from factoryos.launch.jobs.pod_holdups import (
    CREDENTIAL_ANNOTATION,
    JOB_NAME_LABEL,
    holdups_by_job,
    pod_holdup,
)
from factoryos.workloads import Holdup


def pod(job: str = "r-c0-1", phase: str = "Pending", **status: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {JOB_NAME_LABEL: job}}, "status": {"phase": phase, **status}}


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"image": "factoryos-runner:missing",
            "state": {"waiting": {"reason": reason, "message": message}}}  # fmt: skip


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
}


class TestStuck:
    def test_an_image_the_node_cannot_pull_is_stuck_with_the_kubelets_reason(self) -> None:
        found = pod_holdup(pod(containerStatuses=[waiting("ImagePullBackOff", "Back-off pulling")]))
        assert found == Holdup("ImagePullBackOff", "ImagePullBackOff: Back-off pulling", True)

    def test_without_a_message_the_image_is_named(self) -> None:
        found = pod_holdup(pod(containerStatuses=[waiting("ErrImageNeverPull")]))
        assert found is not None and found.stuck
        assert "factoryos-runner:missing" in found.message

    def test_a_container_the_kubelet_cannot_configure_is_stuck(self) -> None:
        found = pod_holdup(pod(containerStatuses=[waiting("CreateContainerConfigError", "no key")]))
        assert found is not None and found.reason == "CreateContainerConfigError"

    def test_the_agents_key_missing_from_its_secret_says_how_to_add_it(self) -> None:
        keyed = pod(containerStatuses=[waiting(
            "CreateContainerConfigError", "couldn't find key anthropic in Secret team/llm-keys"
        )])  # fmt: skip
        keyed["metadata"] |= {
            "namespace": "team",
            "annotations": {CREDENTIAL_ANNOTATION: "llm-keys/anthropic"},
        }
        found = pod_holdup(keyed)
        assert found is not None and found.stuck and found.reason == "CredentialMissing"
        assert "couldn't find key anthropic" in found.message
        assert (
            "kubectl -n team create secret generic llm-keys --from-literal=anthropic=<key>"
            in found.message
        )
        gone = pod(
            containerStatuses=[waiting("CreateContainerConfigError", 'secret "llm-keys" not found')]
        )
        gone["metadata"]["annotations"] = {CREDENTIAL_ANNOTATION: "llm-keys/anthropic"}
        assert (pod_holdup(gone) or Holdup("", "", False)).reason == "CredentialMissing"

    def test_another_secret_missing_keeps_the_kubelets_reason(self) -> None:
        other = pod(
            containerStatuses=[waiting("CreateContainerConfigError", 'secret "x" not found')]
        )
        other["metadata"]["annotations"] = {CREDENTIAL_ANNOTATION: "llm-keys/anthropic"}
        assert (pod_holdup(other) or Holdup("", "", False)).reason == "CreateContainerConfigError"


class TestWaiting:
    def test_no_node_with_a_free_gpu_waits_with_the_schedulers_message(self) -> None:
        found = pod_holdup(pod(conditions=[UNSCHEDULABLE]))
        assert found == Holdup(
            "Unschedulable", "Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
            False,
        )  # fmt: skip

    def test_a_container_still_being_created_is_no_holdup(self) -> None:
        assert pod_holdup(pod(containerStatuses=[waiting("ContainerCreating")])) is None

    def test_a_running_or_finished_pod_is_no_holdup(self) -> None:
        for phase in ("Running", "Succeeded", "Failed"):
            assert pod_holdup(pod(phase=phase, conditions=[UNSCHEDULABLE])) is None


def test_holdups_are_keyed_by_job_and_the_first_waiting_pod_wins() -> None:
    pods = [
        pod("a", conditions=[UNSCHEDULABLE]),
        pod("a", containerStatuses=[waiting("ErrImagePull")]),
        pod("b", phase="Running"),
        {"metadata": {}, "status": {"phase": "Pending", "conditions": [UNSCHEDULABLE]}},
    ]
    found = holdups_by_job(pods)
    assert list(found) == ["a"] and found["a"].reason == "Unschedulable"
