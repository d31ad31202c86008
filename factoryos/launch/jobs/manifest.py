"""The runner Job of one workload and the run's workspace claim, built by small pure builders.

``job_manifest`` composes the Job from the pieces below: the workload's labels,
the runner container (command, environment, mounts, security context, GPU
limit), the pod (service account, user, grace period, volumes, GPU node
selector and tolerations), the pod failure policy and the Job wrapper
(``backoffLimit`` and ``activeDeadlineSeconds`` from the Run). Every object
carries the run's labels and an owner reference to the Run, so deleting the
Run collects them. The builders read nothing but their arguments: the same
inputs give the same manifest, which is how the tests look at them.
``KubeJobLauncher`` sends what they build to the API server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from factoryos.events import run_token
from factoryos.kilroy.agents import key_env
from factoryos.launch.jobs.kube_settings import KubeSettings
from factoryos.launch.jobs.pod_holdups import CREDENTIAL_ANNOTATION
from factoryos.models import Run
from factoryos.reconcile import PRODUCT_LABEL
from factoryos.runner.forward import EVENTS_TOKEN_ENV, EVENTS_URL_ENV
from factoryos.version import API_GROUP, API_VERSION
from factoryos.workloads import (
    EXIT_CODES,
    HOLDOUTS_MOUNT,
    NAMESPACE_ENV,
    PROGRESS_ENV,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
    progress_name,
)
from factoryos.workloads.exchange import (
    EVENTS_STREAM_ENV,
    EXCHANGE_TOKEN_ENV,
    EXCHANGE_URL_ENV,
    volume_id,
)

RUN_LABEL = "factoryos.dev/run"
CANDIDATE_LABEL = "factoryos.dev/candidate"
#: build or evaluate (for an evaluation the candidate label holds the iteration).
KIND_LABEL = "factoryos.dev/workload-kind"
ATTEMPT_LABEL = "factoryos.dev/attempt"
SPEC_ENV = "FACTORYOS_WORKLOAD_SPEC"
#: Where the run's workspace claim is mounted in runner pods.
WORK_MOUNT = "/work"
#: Run directories inside the claim (``workload_spec``'s ``runs_dir`` on a cluster).
RUNS_DIR = PurePosixPath(WORK_MOUNT) / "runs"
#: The one container of a runner pod (the pod failure policy names it).
RUNNER_CONTAINER = "runner"
#: The runner's exits that retrying cannot change: the pipeline failed, the input is
#: invalid, the workload was stopped.
FINAL_EXITS = (WorkloadStatus.FAILED, WorkloadStatus.INVALID, WorkloadStatus.STOPPED)


def exchanges(settings: KubeSettings) -> bool:
    """Workloads hand candidates over through the dashboard's git service and each has its
    own volume: the case whenever runners can reach the dashboard (events forwarding)."""
    return bool(settings.events_url and settings.ingest_key)


def claim_name(spec: WorkloadSpec, settings: KubeSettings) -> str:
    """The workload's volume: ``<run>-c<i>-work`` for candidate i's attempts (a resume finds
    the checkpoint), ``<run>-e<n>-work`` for iteration n's evaluation; without the git
    hand-over, the run's one shared ``<run>-work`` (which holds on a single node only)."""
    if not exchanges(settings):
        return f"{spec.run}-work"
    return f"{spec.run}-{volume_id(spec)}-work"


def owner_reference(run: Run) -> dict[str, Any]:
    """The Run as the controlling owner: its children go when it goes."""
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Run",
        "name": run.metadata.name,
        "uid": run.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def run_labels(run: Run) -> dict[str, str]:
    """The labels of every object made for ``run`` (selectors find its children by them)."""
    return {
        "app.kubernetes.io/name": "factoryos-runner",
        "app.kubernetes.io/managed-by": "factoryos",
        PRODUCT_LABEL: run.spec.product_ref.name,
        RUN_LABEL: run.metadata.name,
    }


def workload_labels(spec: WorkloadSpec, run: Run) -> dict[str, str]:
    """The run's labels plus the workload's candidate (or iteration), attempt and kind."""
    return {
        **run_labels(run),
        CANDIDATE_LABEL: str(spec.candidate),
        ATTEMPT_LABEL: str(spec.attempt),
        KIND_LABEL: spec.kind.value,
    }


def owned_metadata(name: str, namespace: str, labels: dict[str, str], run: Run) -> dict[str, Any]:
    """The metadata of a child object of ``run``."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(run)],
    }


def claim_manifest(spec: WorkloadSpec, run: Run, settings: KubeSettings) -> dict[str, Any]:
    """The workload's workspace (clones, logs_root and checkpoints): see ``claim_name``."""
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": settings.workspace_size}},
    }
    if settings.storage_class:
        claim["storageClassName"] = settings.storage_class
    name = claim_name(spec, settings)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owned_metadata(name, run.metadata.namespace, run_labels(run), run),
        "spec": claim,
    }


def job_manifest(
    spec: WorkloadSpec, run: Run, settings: KubeSettings, grace_seconds: float = 5.0
) -> dict[str, Any]:
    """The Job for one workload attempt (see the module docstring)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": owned_metadata(spec.name, spec.namespace, workload_labels(spec, run), run),
        "spec": job_spec(spec, run, settings, grace_seconds),
    }


def job_spec(
    spec: WorkloadSpec, run: Run, settings: KubeSettings, grace_seconds: float
) -> dict[str, Any]:
    """The Job's spec: the Run's retry budget and deadline around the runner pod."""
    job: dict[str, Any] = {
        "backoffLimit": run.spec.backoff_limit,
        "podFailurePolicy": pod_failure_policy(),
        "template": {
            "metadata": {
                "labels": workload_labels(spec, run),
                **credential_annotation(spec),
            },
            "spec": pod_spec(spec, run, settings, grace_seconds),
        },
    }
    if run.spec.active_deadline_seconds is not None:
        job["activeDeadlineSeconds"] = run.spec.active_deadline_seconds
    return job


def pod_failure_policy() -> dict[str, Any]:
    """Fail the Job at once on the runner's final exits, so only infrastructure errors
    (a lost node, an evicted pod) use the Job's backoff."""
    final = [EXIT_CODES[status] for status in FINAL_EXITS]
    exits = {"containerName": RUNNER_CONTAINER, "operator": "In", "values": final}
    return {"rules": [{"action": "FailJob", "onExitCodes": exits}]}


def pod_spec(
    spec: WorkloadSpec, run: Run, settings: KubeSettings, grace_seconds: float
) -> dict[str, Any]:
    """The runner pod: never restarted in place (the Job makes a new pod), its grace
    period longer than the runner's own stop grace, GPU scheduling when the Run asks."""
    return {
        "restartPolicy": "Never",
        "serviceAccountName": settings.service_account,
        # The image's user; fsGroup makes the workspace claim writable for it. With the
        # container's settings this passes the Pod Security "restricted" level.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": int(grace_seconds) + 15,
        "containers": [runner_container(spec, run, settings)],
        "volumes": volumes(spec, settings),
        **gpu_scheduling(spec, run, settings),
    }


def runner_container(spec: WorkloadSpec, run: Run, settings: KubeSettings) -> dict[str, Any]:
    """The runner: ``python -m factoryos.worker`` reading its spec from ``SPEC_ENV``."""
    return {
        "name": RUNNER_CONTAINER,
        "image": spec.image or settings.runner_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "factoryos.worker", "--spec-env", SPEC_ENV],
        "env": runner_env(spec, settings),
        "volumeMounts": volume_mounts(spec),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        **gpu_resources(spec, run, settings),
    }


def runner_env(spec: WorkloadSpec, settings: KubeSettings) -> list[dict[str, Any]]:
    """The runner's environment: its spec and home, the provider keys its product passes,
    where it reports progress, and the CXDB, telemetry and event endpoints it reports to."""
    return [
        {"name": SPEC_ENV, "value": spec.model_dump_json()},
        {"name": "FACTORYOS_HOME", "value": f"{WORK_MOUNT}/home"},
        *secret_env(spec.pass_env, settings.secret_name),
        *credential_env(spec),
        {"name": PROGRESS_ENV, "value": progress_name(spec.name)},
        {"name": NAMESPACE_ENV, "value": spec.namespace},
        *plain_env(settings.cxdb_env),
        *plain_env(settings.otel_env),
        *events_env(spec, settings),
    ]


def secret_env(names: Iterable[str], secret: str) -> list[dict[str, Any]]:
    """Each name read from the same key of ``secret``, by reference (the value never
    appears in the Job); a missing key leaves the variable unset."""
    return [
        {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": name, "optional": True}},
        }
        for name in names
    ]


def credential_secret(spec: WorkloadSpec) -> tuple[str, str, str] | None:
    """(variable, Secret, key) of the agent's key on a cluster, when the product names a
    Secret in ``engine.credential``: the runner reads the variable (``key_env``)."""
    credential = spec.credential
    if credential is None or credential.secret_name is None or spec.agent is None:
        return None
    name = key_env(spec.agent, credential.env)
    return name, credential.secret_name, credential.secret_key or name


def credential_env(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """The agent's key, from the Secret and key the product's ``engine.credential`` names,
    under the variable the runner reads it from (by reference; not optional, so the pod
    waits for the key instead of running an agent without one)."""
    found = credential_secret(spec)
    if found is None:
        return []
    name, secret, key = found
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}]


def credential_annotation(spec: WorkloadSpec) -> dict[str, Any]:
    """The pod names its credential's Secret, so a missing key reads as ``CredentialMissing``."""
    found = credential_secret(spec)
    if found is None:
        return {}
    _, secret, key = found
    return {"annotations": {CREDENTIAL_ANNOTATION: f"{secret}/{key}"}}


def plain_env(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """``values`` as environment entries, sorted by name (the same settings, the same Job)."""
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


def events_env(spec: WorkloadSpec, settings: KubeSettings) -> list[dict[str, Any]]:
    """Where the runner forwards its events (its volume's stream) and hands candidates over,
    with a token for this run only: it lets the runner write this run's events and
    repository and nothing else. Empty unless forwarding is set up."""
    if not (settings.events_url and settings.ingest_key):
        return []
    token = run_token(settings.ingest_key, spec.namespace, spec.run)
    repository = f"{settings.events_url.rstrip('/')}/git/runs/{spec.namespace}/{spec.run}.git"
    return [
        {"name": EVENTS_URL_ENV, "value": settings.events_url},
        {"name": EVENTS_TOKEN_ENV, "value": token},
        {"name": EVENTS_STREAM_ENV, "value": volume_id(spec)},
        {"name": EXCHANGE_URL_ENV, "value": repository},
        {"name": EXCHANGE_TOKEN_ENV, "value": token},
    ]


def volumes(spec: WorkloadSpec, settings: KubeSettings) -> list[dict[str, Any]]:
    """The workload's workspace claim, and for an evaluation Job its holdouts."""
    work = {"name": "work", "persistentVolumeClaim": {"claimName": claim_name(spec, settings)}}
    holdouts = holdouts_volume(spec)
    return [work] if holdouts is None else [work, holdouts]


def volume_mounts(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """The workspace at ``WORK_MOUNT``; only evaluation Jobs ever see the holdouts, read-only."""
    mounts: list[dict[str, Any]] = [{"name": "work", "mountPath": WORK_MOUNT}]
    if holdouts_volume(spec) is not None:
        mounts.append({"name": "holdouts", "mountPath": str(HOLDOUTS_MOUNT), "readOnly": True})
    return mounts


def holdouts_volume(spec: WorkloadSpec) -> dict[str, Any] | None:
    """The holdouts of an evaluation Job as a volume (a Secret, ConfigMap or claim), or None."""
    plan = spec.evaluation
    if spec.kind is not WorkloadKind.EVALUATE or plan is None or plan.holdouts_source is None:
        return None
    source = plan.holdouts_source
    if source.secret_ref is not None:
        return {"name": "holdouts", "secret": {"secretName": source.secret_ref.name}}
    if source.config_map_ref is not None:
        return {"name": "holdouts", "configMap": {"name": source.config_map_ref.name}}
    if source.volume_claim_ref is not None:
        claim = {"claimName": source.volume_claim_ref.name, "readOnly": True}
        return {"name": "holdouts", "persistentVolumeClaim": claim}
    return None


def needs_gpu(spec: WorkloadSpec, run: Run) -> bool:
    """The workload runs what the Run puts on a GPU: its evaluation (``gpu.eval``), or its
    builds' pipeline stages with voice models (``gpu.voice``)."""
    if spec.kind is WorkloadKind.EVALUATE:
        return run.spec.gpu.eval
    return run.spec.gpu.voice


def gpu_scheduling(spec: WorkloadSpec, run: Run, settings: KubeSettings) -> dict[str, Any]:
    """The pod fields that put a GPU workload on a GPU node (none for the others)."""
    if not needs_gpu(spec, run):
        return {}
    return {
        "nodeSelector": dict(settings.gpu_node_selector),
        "tolerations": [dict(t) for t in settings.gpu_tolerations],
    }


def gpu_resources(spec: WorkloadSpec, run: Run, settings: KubeSettings) -> dict[str, Any]:
    """The container fields that reserve the GPU(s) of a GPU workload (none for the others)."""
    if not needs_gpu(spec, run):
        return {}
    return {"resources": {"limits": {settings.gpu_resource: str(settings.gpu_count)}}}
