"""``KubeJobLauncher``: each runner workload is a ``batch/v1`` Job on the cluster.

``start`` makes sure of the namespace's runner identity (``runner_identity``),
then creates the run's workspace claim, the workload's progress ConfigMap and
its Job (``manifest``, ``progress_reports``), each create idempotent
("already exists" is done). ``workloads`` reads the run's Jobs back through
``job_state``; ``stages`` and ``evaluations`` read what the runners reported
in their ConfigMaps.

Stop suspends the Job: the job controller deletes its pod, whose SIGTERM makes
the runner stop Kilroy gracefully within the pod's grace period, and the Job
stays as the record of that attempt (deleting it would lose which attempts
ran). Resume is a new Job (next attempt) that resumes from the claim's
logs_root.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from factoryos.apistatus import status_message
from factoryos.errors import ClusterError, NotFoundError, ValidationFailedError
from factoryos.launch.jobs.kube_settings import KubeSettings
from factoryos.launch.jobs.manifest import (
    ATTEMPT_LABEL,
    CANDIDATE_LABEL,
    KIND_LABEL,
    RUN_LABEL,
    claim_manifest,
    job_manifest,
)
from factoryos.launch.jobs.pod_holdups import holdups_by_job
from factoryos.launch.jobs.progress_reports import progress_manifest, progress_stages
from factoryos.launch.jobs.runner_identity import runner_identity
from factoryos.launch.port import WorkloadState
from factoryos.models import Run, StageStatus, parse_as
from factoryos.version import API_GROUP, API_VERSION
from factoryos.workloads import (
    EVALUATION_KEY,
    EvaluationReport,
    Holdup,
    WorkloadKind,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
)

_EXIT_IN_MESSAGE = re.compile(r"exit code (\d+)")


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
    #: Each candidate is a pod with its own volume: nothing to report.
    isolation = None

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
        claim = claim_manifest(spec, run, self._settings)
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
        if any(s.running for s in states):
            holdups = self._holdups(namespace, run)
            states = [replace(s, holdup=holdups.get(s.name)) if s.running else s for s in states]
        return sorted(states, key=lambda s: (s.candidate, s.attempt))

    def _holdups(self, namespace: str, run: str) -> dict[str, Holdup]:
        """Why the run's waiting pods have not started, by Job name."""
        try:
            pods = self._core.list_namespaced_pod(namespace, label_selector=f"{RUN_LABEL}={run}")
        except ApiException as exc:
            raise ClusterError(f"cannot list the pods of run {run!r}: {exc.reason}") from None
        api = client.ApiClient()
        return holdups_by_job(api.sanitize_for_serialization(pod) for pod in pods.items)  # type: ignore[no-untyped-call]

    def blocker(self, spec: WorkloadSpec) -> tuple[str, str] | None:
        """A Job cannot start while the Secret its passEnv names, or one of its keys, is missing.

        The agent's credential is not checked here: reading a Secret the product names
        would need the right to read every Secret. Its Job is made, and a missing key
        shows as the pod's ``CreateContainerConfigError`` (``pod_holdups``: Stalled
        ``CredentialMissing``) until the key is there and the kubelet starts it."""
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
    """Create, treating "already exists" as done (starting is idempotent).

    An object the API server calls invalid (422) is the run's input at fault, e.g. a
    Run name too long for its Job's labels: retrying cannot help, so it is a
    ``ValidationFailedError`` (the operator records it as Stalled), not a ``ClusterError``.
    """
    try:
        call()
    except ApiException as exc:
        if exc.status == 409:
            return
        if exc.status == 422:
            message = status_message(exc.body, exc.reason)
            raise ValidationFailedError(
                f"the API server refused a runner object: {message}", [message]
            ) from None
        raise ClusterError(f"the API server refused a runner object: {exc.body}") from None
