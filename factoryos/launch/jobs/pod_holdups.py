"""Why a runner pod has not started, read from the pod's status (pure).

``KubeJobLauncher.workloads`` reads the pods of a run's unfinished Jobs with
``pod_holdup``, so the Run's status says why nothing happens instead of
hanging silently: an image the node cannot pull or a container the kubelet
cannot create is stuck (the run is Stalled with the kubelet's reason until
someone acts); a pod no node has room for (``Insufficient nvidia.com/gpu``)
waits, and the run stays in progress with the scheduler's message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from factoryos.workloads import Holdup

#: The kubelet's waiting reasons that waiting alone does not cure.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
#: The pod annotation naming the agent credential's Secret and key (``secret/key``).
CREDENTIAL_ANNOTATION = "factoryos.dev/credential"
#: The label the job controller puts on its pods.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def pod_holdup(pod: dict[str, Any]) -> Holdup | None:
    """Why ``pod`` has not started, or None when it is not waiting to."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return None
    containers = (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    )
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in STUCK_REASONS:
            detail = waiting.get("message") or f"image {container.get('image')}"
            return _credential_holdup(pod, reason, detail) or Holdup(
                reason=reason, message=f"{reason}: {detail}", stuck=True
            )
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = condition.get("reason") or "Unschedulable"
            message = condition.get("message") or "no node can run the pod"
            return Holdup(reason=reason, message=f"Pending: {message}", stuck=False)
    return None


def _credential_holdup(pod: dict[str, Any], reason: str, detail: str) -> Holdup | None:
    """The agent's key missing from its Secret: what to do, on the cluster."""
    metadata = pod.get("metadata") or {}
    named = (metadata.get("annotations") or {}).get(CREDENTIAL_ANNOTATION)
    if reason != "CreateContainerConfigError" or not named:
        return None
    secret, _, key = named.partition("/")
    if f'"{secret}"' not in detail and f"/{secret}" not in detail:
        return None
    namespace = metadata.get("namespace") or "<namespace>"
    return Holdup(
        reason="CredentialMissing",
        message=(
            f"CredentialMissing: the agent's key (engine.credential) is missing: {detail}; add "
            f"it with kubectl -n {namespace} create secret generic {secret} "
            f"--from-literal={key}=<key> (or patch the Secret) and the run starts by itself"
        ),
        stuck=True,
    )


def holdups_by_job(pods: Iterable[dict[str, Any]]) -> dict[str, Holdup]:
    """Each Job's holdup, by the Job's name, from its pods (the first waiting pod)."""
    found: dict[str, Holdup] = {}
    for pod in pods:
        job = ((pod.get("metadata") or {}).get("labels") or {}).get(JOB_NAME_LABEL)
        holdup = pod_holdup(pod)
        if job and holdup is not None:
            found.setdefault(job, holdup)
    return found
