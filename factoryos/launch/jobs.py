"""``KubeJobLauncher``: each runner workload is a ``batch/v1`` Job on the cluster.

The Job runs the runner image's ``python -m factoryos.worker --spec-env
FACTORYOS_WORKLOAD_SPEC`` with the workload spec in that variable, mounts the
run's workspace claim (``<run>-work``, created with the first Job) at
``/work`` so logs_root and checkpoints survive the pod, takes provider keys
from a Secret by reference, and, when the Run needs a GPU (``spec.gpu``), gets
the GPU node selector, tolerations and ``nvidia.com/gpu`` limit from
``KubeSettings``. Every child carries the run's labels and an owner reference
to the Run. ``backoffLimit`` and ``activeDeadlineSeconds`` come from the Run; a
pod failure policy fails the Job at once for the runner's non-retryable exits
(pipeline failed, invalid input, stopped), so only infrastructure errors use
the backoff.

Each Job also gets a ConfigMap ``<workload>-progress`` (owned by the Run) that
the runner keeps up to date with its stage table and result
(``factoryos.workloads.stages``), through the namespace's ``factoryos-runner``
ServiceAccount, whose Role allows reading and patching ConfigMaps and nothing
else; the launcher creates the three once per namespace. ``stages`` reads the
tables back for Run status.

Stop suspends the Job: the job controller deletes its pod, whose SIGTERM makes
the runner stop Kilroy gracefully within the pod's grace period, and the Job
stays as the record of that attempt (deleting it would lose which attempts
ran). Resume is a new Job (next attempt) that resumes from the claim's
logs_root. ``job_manifest`` and ``claim_manifest`` are pure, for tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from factoryos.errors import ClusterError, NotFoundError
from factoryos.events import run_token
from factoryos.launch.port import WorkloadState
from factoryos.models import Run, StageStatus, parse_as
from factoryos.reconcile import PRODUCT_LABEL
from factoryos.runner.forward import EVENTS_TOKEN_ENV, EVENTS_URL_ENV
from factoryos.version import API_GROUP, API_VERSION
from factoryos.workloads import (
    EVALUATION_KEY,
    EXIT_CODES,
    HOLDOUTS_MOUNT,
    NAMESPACE_ENV,
    PROGRESS_ENV,
    STAGES_KEY,
    EvaluationReport,
    WorkloadKind,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
    progress_name,
)

RUN_LABEL = "factoryos.dev/run"
#: The OpenTelemetry variables an operator passes on to its runners.
OTEL_PASSED = re.compile(
    r"^OTEL_(SDK_DISABLED|EXPORTER_OTLP_((TRACES|METRICS|LOGS)_)?(ENDPOINT|PROTOCOL|INSECURE))$"
)
CANDIDATE_LABEL = "factoryos.dev/candidate"
#: build or evaluate (for an evaluation the candidate label holds the iteration).
KIND_LABEL = "factoryos.dev/workload-kind"
ATTEMPT_LABEL = "factoryos.dev/attempt"
SPEC_ENV = "FACTORYOS_WORKLOAD_SPEC"
#: Where the run's workspace claim is mounted in runner pods.
WORK_MOUNT = "/work"
#: Run directories inside the claim (``workload_spec``'s ``runs_dir`` on a cluster).
RUNS_DIR = PurePosixPath(WORK_MOUNT) / "runs"
_EXIT_IN_MESSAGE = re.compile(r"exit code (\d+)")


@dataclass(frozen=True)
class KubeSettings:
    """How runner Jobs are built; from the operator's environment (Helm values)."""

    runner_image: str = "factoryos-runner:dev"
    image_pull_policy: str = "IfNotPresent"
    #: The runner pods' ServiceAccount, made in each namespace by the launcher; its Role
    #: lets a runner read and patch ConfigMaps (its progress report) and nothing else.
    service_account: str = "factoryos-runner"
    #: Secret holding provider keys; each ``engine.passEnv`` name is read from it (optional).
    secret_name: str = "factoryos-secrets"  # noqa: S105 - a Secret's name, not a secret
    workspace_size: str = "5Gi"
    storage_class: str | None = None
    gpu_node_selector: dict[str, str] = field(default_factory=lambda: {"factoryos.dev/gpu": "true"})
    gpu_tolerations: list[dict[str, str]] = field(
        default_factory=lambda: [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    )
    gpu_resource: str = "nvidia.com/gpu"
    gpu_count: int = 1
    #: FACTORYOS_CXDB_* passed on to runners (a CXDB server runs log to it), if set.
    cxdb_env: dict[str, str] = field(default_factory=dict)
    #: The dashboard runners send their events to, and the key of the per-run tokens
    #: (FACTORYOS_EVENTS_URL, FACTORYOS_INGEST_KEY); both set, or no forwarding.
    events_url: str | None = None
    ingest_key: str | None = None
    #: Where telemetry goes (``OTEL_PASSED``), passed on so the runners continue each run's
    #: trace; headers (credentials) are never copied into a Job.
    otel_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KubeSettings:
        """FACTORYOS_RUNNER_IMAGE, _SERVICE_ACCOUNT, _SECRET_NAME, _WORKSPACE_SIZE,
        _STORAGE_CLASS, _GPU_NODE_SELECTOR (``k=v,k=v``), _GPU_RESOURCE, _GPU_COUNT."""
        base = cls()
        selector = env.get("FACTORYOS_GPU_NODE_SELECTOR")
        return cls(
            runner_image=env.get("FACTORYOS_RUNNER_IMAGE", base.runner_image),
            image_pull_policy=env.get("FACTORYOS_IMAGE_PULL_POLICY", base.image_pull_policy),
            service_account=env.get("FACTORYOS_RUNNER_SERVICE_ACCOUNT", base.service_account),
            secret_name=env.get("FACTORYOS_SECRET_NAME", base.secret_name),
            workspace_size=env.get("FACTORYOS_WORKSPACE_SIZE", base.workspace_size),
            storage_class=env.get("FACTORYOS_STORAGE_CLASS") or None,
            gpu_node_selector=(
                dict(pair.split("=", 1) for pair in selector.split(",") if "=" in pair)
                if selector
                else base.gpu_node_selector
            ),
            gpu_resource=env.get("FACTORYOS_GPU_RESOURCE", base.gpu_resource),
            gpu_count=int(env.get("FACTORYOS_GPU_COUNT", base.gpu_count)),
            cxdb_env={k: v for k, v in env.items() if k.startswith("FACTORYOS_CXDB_") and v},
            events_url=env.get(EVENTS_URL_ENV) or None,
            ingest_key=env.get("FACTORYOS_INGEST_KEY") or None,
            otel_env={k: v for k, v in env.items() if OTEL_PASSED.match(k) and v},
        )


def claim_name(run: str) -> str:
    return f"{run}-work"


def _owner(run: Run) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Run",
        "name": run.metadata.name,
        "uid": run.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(run: Run) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "factoryos-runner",
        "app.kubernetes.io/managed-by": "factoryos",
        PRODUCT_LABEL: run.spec.product_ref.name,
        RUN_LABEL: run.metadata.name,
    }


def claim_manifest(run: Run, settings: KubeSettings) -> dict[str, Any]:
    """The run's workspace: one claim for all its Jobs (logs_root and checkpoints)."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": settings.workspace_size}},
    }
    if settings.storage_class:
        spec["storageClassName"] = settings.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim_name(run.metadata.name),
            "namespace": run.metadata.namespace,
            "labels": _labels(run),
            "ownerReferences": [_owner(run)],
        },
        "spec": spec,
    }


def job_manifest(
    spec: WorkloadSpec, run: Run, settings: KubeSettings, grace_seconds: float = 5.0
) -> dict[str, Any]:
    """The Job for one candidate attempt (see the module docstring)."""
    labels = {
        **_labels(run),
        CANDIDATE_LABEL: str(spec.candidate),
        ATTEMPT_LABEL: str(spec.attempt),
        KIND_LABEL: spec.kind.value,
    }
    env: list[dict[str, Any]] = [
        {"name": SPEC_ENV, "value": spec.model_dump_json()},
        {"name": "FACTORYOS_HOME", "value": f"{WORK_MOUNT}/home"},
    ]
    env += [
        {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {"name": settings.secret_name, "key": name, "optional": True}
            },
        }
        for name in spec.pass_env
    ]
    container: dict[str, Any] = {
        "name": "runner",
        "image": settings.runner_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "factoryos.worker", "--spec-env", SPEC_ENV],
        "env": env,
        "volumeMounts": [{"name": "work", "mountPath": WORK_MOUNT}],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }
    env += [
        {"name": PROGRESS_ENV, "value": progress_name(spec.name)},
        {"name": NAMESPACE_ENV, "value": spec.namespace},
    ]
    env += [{"name": k, "value": v} for k, v in sorted(settings.cxdb_env.items())]
    env += [{"name": k, "value": v} for k, v in sorted(settings.otel_env.items())]
    if settings.events_url and settings.ingest_key:
        # A token for this run only: it lets the runner write this run's events, nothing else.
        token = run_token(settings.ingest_key, spec.namespace, spec.run)
        env += [
            {"name": EVENTS_URL_ENV, "value": settings.events_url},
            {"name": EVENTS_TOKEN_ENV, "value": token},
        ]
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.service_account,
        # The image's user; fsGroup makes the workspace claim writable for it.
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
        "terminationGracePeriodSeconds": int(grace_seconds) + 15,
        "containers": [container],
        "volumes": [
            {"name": "work", "persistentVolumeClaim": {"claimName": claim_name(run.metadata.name)}}
        ],
    }
    holdouts = holdouts_volume(spec)
    if holdouts is not None:  # only evaluation Jobs ever see the holdouts, read-only
        pod["volumes"].append(holdouts)
        container["volumeMounts"].append(
            {"name": "holdouts", "mountPath": str(HOLDOUTS_MOUNT), "readOnly": True}
        )
    if run.spec.gpu.voice or run.spec.gpu.eval:
        pod["nodeSelector"] = dict(settings.gpu_node_selector)
        pod["tolerations"] = [dict(t) for t in settings.gpu_tolerations]
        container["resources"] = {"limits": {settings.gpu_resource: str(settings.gpu_count)}}
    final = [EXIT_CODES[s] for s in (WorkloadStatus.FAILED, WorkloadStatus.INVALID,
                                     WorkloadStatus.STOPPED)]  # fmt: skip
    job_spec: dict[str, Any] = {
        "backoffLimit": run.spec.backoff_limit,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {"containerName": "runner", "operator": "In", "values": final},
                }
            ]
        },
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    if run.spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = run.spec.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels,
            "ownerReferences": [_owner(run)],
        },
        "spec": job_spec,
    }


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


def progress_manifest(spec: WorkloadSpec, run: Run) -> dict[str, Any]:
    """The (empty) ConfigMap the workload's runner reports its progress into."""
    labels = {
        **_labels(run),
        CANDIDATE_LABEL: str(spec.candidate),
        ATTEMPT_LABEL: str(spec.attempt),
        KIND_LABEL: spec.kind.value,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": progress_name(spec.name),
            "namespace": spec.namespace,
            "labels": labels,
            "ownerReferences": [_owner(run)],
        },
        "data": {},
    }


def runner_identity(namespace: str, settings: KubeSettings) -> list[dict[str, Any]]:
    """The runner's ServiceAccount, Role (ConfigMaps: get and patch) and RoleBinding."""
    name = settings.service_account
    meta = {"name": name, "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "factoryos"}}  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]


def progress_stages(configmaps: list[dict[str, Any]]) -> list[StageStatus]:
    """The stage table of a run from its workloads' reports; later attempts win per stage."""

    def order(cm: dict[str, Any]) -> tuple[int, int]:
        labels = cm["metadata"].get("labels") or {}
        return int(labels.get(CANDIDATE_LABEL, 0)), int(labels.get(ATTEMPT_LABEL, 0))

    table: dict[tuple[int, str], StageStatus] = {}
    for cm in sorted(configmaps, key=order):
        raw = (cm.get("data") or {}).get(STAGES_KEY)
        if not raw:
            continue
        try:
            stages = [StageStatus.model_validate(s) for s in json.loads(raw)]
        except ValueError:
            continue  # a report we cannot read counts as no report
        for stage in stages:
            table[(stage.candidate, stage.name)] = stage
    return list(table.values())


def job_state(job: dict[str, Any]) -> WorkloadState:
    """What a Job says about its workload (a pure reading of its spec and status)."""
    meta, spec, status = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    labels = meta.get("labels") or {}
    started = meta.get("creationTimestamp")
    started_at = datetime.fromisoformat(str(started)) if started else datetime.now(UTC)
    conditions = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    now = datetime.now(UTC)
    result: WorkloadResult | None = None
    if "Complete" in conditions:
        result = WorkloadResult(status=WorkloadStatus.SUCCEEDED, finished_at=now)
    elif "Failed" in conditions or "FailureTarget" in conditions:
        failed = conditions.get("Failed") or conditions["FailureTarget"]
        message = str(failed.get("message") or failed.get("reason") or "the Job failed")
        code = _EXIT_IN_MESSAGE.search(message)
        if code:
            result = WorkloadResult.from_exit_code(int(code.group(1)), message)
        else:
            result = WorkloadResult(status=WorkloadStatus.ERROR, reason=message, finished_at=now)
    elif spec.get("suspend") and not status.get("active"):
        result = WorkloadResult(
            status=WorkloadStatus.STOPPED, reason="stopped on request", finished_at=now
        )
    return WorkloadState(
        name=meta["name"],
        candidate=int(labels.get(CANDIDATE_LABEL, 0)),
        attempt=int(labels.get(ATTEMPT_LABEL, 1)),
        started_at=started_at,
        result=result,
        stopping=bool(spec.get("suspend")) and result is None,
        kind=WorkloadKind(labels.get(KIND_LABEL, WorkloadKind.BUILD.value)),
    )


class KubeJobLauncher:
    """Starts, reads and stops runner Jobs through the API server."""

    #: A Job retries infrastructure failures itself, up to the Run's backoffLimit.
    retries_errors = True

    def __init__(self, api: client.ApiClient, settings: KubeSettings) -> None:
        # Typed as Any: the client's stubs want its model classes; we pass plain manifests,
        # which it accepts.
        self._batch: Any = client.BatchV1Api(api)
        self._core: Any = client.CoreV1Api(api)
        self._objects = client.CustomObjectsApi(api)
        self._settings = settings
        #: Namespaces where the runner's ServiceAccount, Role and RoleBinding exist.
        self._identities: set[str] = set()

    def start(self, spec: WorkloadSpec) -> None:
        run = self._run(spec.namespace, spec.run)
        self._ensure_runner_identity(spec.namespace)
        claim = claim_manifest(run, self._settings)
        _create(lambda: self._core.create_namespaced_persistent_volume_claim(spec.namespace, claim))
        report = progress_manifest(spec, run)
        _create(lambda: self._core.create_namespaced_config_map(spec.namespace, report))
        job = job_manifest(spec, run, self._settings, spec.grace_seconds)
        _create(lambda: self._batch.create_namespaced_job(spec.namespace, job))

    def workloads(self, namespace: str, run: str) -> list[WorkloadState]:
        try:
            jobs = self._batch.list_namespaced_job(namespace, label_selector=f"{RUN_LABEL}={run}")
        except ApiException as exc:
            raise ClusterError(f"cannot list the Jobs of run {run!r}: {exc.reason}") from None
        api = client.ApiClient()
        states = [job_state(api.sanitize_for_serialization(job)) for job in jobs.items]  # type: ignore[no-untyped-call]
        return sorted(states, key=lambda s: (s.candidate, s.attempt))

    def blocker(self, spec: WorkloadSpec) -> tuple[str, str] | None:
        """A Job cannot start while the Secret its passEnv names, or one of its keys, is missing."""
        if not spec.pass_env:
            return None
        name = self._settings.secret_name
        try:
            secret = self._core.read_namespaced_secret(name, spec.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return (
                    "SecretNotFound",
                    f"Secret {name!r} (holding {', '.join(spec.pass_env)} for the product's "
                    f"engine.passEnv) not found in namespace {spec.namespace!r}",
                )
            raise ClusterError(f"cannot read Secret {name!r}: {exc.reason}") from None
        missing = [k for k in spec.pass_env if k not in (secret.data or {})]
        if missing:
            return ("SecretKeyMissing", f"Secret {name!r} has no key {', '.join(missing)}")
        return None

    def stages(self, namespace: str, run: str) -> list[StageStatus]:
        """The run's stage table, from its runners' progress reports."""
        try:
            found = self._core.list_namespaced_config_map(
                namespace, label_selector=f"{RUN_LABEL}={run}"
            )
        except ApiException as exc:
            raise ClusterError(f"cannot read the progress of run {run!r}: {exc.reason}") from None
        api = client.ApiClient()
        return progress_stages([api.sanitize_for_serialization(cm) for cm in found.items])  # type: ignore[no-untyped-call]

    def evaluations(self, namespace: str, run: str) -> dict[int, EvaluationReport]:
        """The reports evaluation workloads left in their progress ConfigMaps."""
        try:
            found = self._core.list_namespaced_config_map(
                namespace, label_selector=f"{RUN_LABEL}={run},{KIND_LABEL}=evaluate"
            )
        except ApiException as exc:
            raise ClusterError(
                f"cannot read the evaluations of run {run!r}: {exc.reason}"
            ) from None
        reports: dict[int, EvaluationReport] = {}
        for cm in found.items:
            raw = (cm.data or {}).get(EVALUATION_KEY)
            if raw:
                try:
                    report = EvaluationReport.model_validate_json(raw)
                except ValueError:
                    continue
                reports[report.iteration] = report
        return reports

    def _ensure_runner_identity(self, namespace: str) -> None:
        if namespace in self._identities:
            return
        rbac: Any = client.RbacAuthorizationV1Api(self._core.api_client)
        account, role, binding = runner_identity(namespace, self._settings)
        _create(lambda: self._core.create_namespaced_service_account(namespace, account))
        _create(lambda: rbac.create_namespaced_role(namespace, role))
        _create(lambda: rbac.create_namespaced_role_binding(namespace, binding))
        self._identities.add(namespace)

    def stop(self, namespace: str, run: str, name: str, grace_seconds: float) -> None:
        try:
            self._batch.patch_namespaced_job(name, namespace, {"spec": {"suspend": True}})
        except ApiException as exc:
            if exc.status != 404:
                raise ClusterError(f"cannot stop Job {name!r}: {exc.reason}") from None

    def _run(self, namespace: str, name: str) -> Run:
        try:
            body = self._objects.get_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, "runs", name
            )
        except ApiException as exc:
            if exc.status == 404:
                raise NotFoundError(f"run {name!r} not found") from None
            raise ClusterError(f"cannot read run {name!r}: {exc.reason}") from None
        if not isinstance(body, dict):
            raise ClusterError(f"unexpected answer reading run {name!r}")
        return parse_as(Run, body)


def _create(call: Any) -> None:
    """Create, treating "already exists" as done (starting is idempotent)."""
    try:
        call()
    except ApiException as exc:
        if exc.status != 409:
            raise ClusterError(f"the API server refused a runner object: {exc.body}") from None
