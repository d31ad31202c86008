"""``KubeSettings``: how runner Jobs are built, read once from the operator's environment.

The operator (``factoryos.controller``) builds them from its environment, which
the Helm values and the kustomize base set; the manifest builders
(``factoryos.launch.jobs.manifest``) and ``KubeJobLauncher`` take them as an
argument and never read the environment themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from factoryos.runner.forward import EVENTS_URL_ENV

#: The OpenTelemetry variables an operator passes on to its runners.
OTEL_PASSED = re.compile(
    r"^OTEL_(SDK_DISABLED|EXPORTER_OTLP_((TRACES|METRICS|LOGS)_)?(ENDPOINT|PROTOCOL|INSECURE))$"
)


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

        def get(name: str, default: str) -> str:  # an empty value (a Helm "") is unset
            return env.get(name) or default

        selector = env.get("FACTORYOS_GPU_NODE_SELECTOR")
        return cls(
            runner_image=get("FACTORYOS_RUNNER_IMAGE", base.runner_image),
            image_pull_policy=get("FACTORYOS_IMAGE_PULL_POLICY", base.image_pull_policy),
            service_account=get("FACTORYOS_RUNNER_SERVICE_ACCOUNT", base.service_account),
            secret_name=get("FACTORYOS_SECRET_NAME", base.secret_name),
            workspace_size=get("FACTORYOS_WORKSPACE_SIZE", base.workspace_size),
            storage_class=env.get("FACTORYOS_STORAGE_CLASS") or None,
            gpu_node_selector=(
                dict(pair.split("=", 1) for pair in selector.split(",") if "=" in pair)
                if selector
                else base.gpu_node_selector
            ),
            gpu_resource=get("FACTORYOS_GPU_RESOURCE", base.gpu_resource),
            gpu_count=int(get("FACTORYOS_GPU_COUNT", str(base.gpu_count))),
            cxdb_env={k: v for k, v in env.items() if k.startswith("FACTORYOS_CXDB_") and v},
            events_url=env.get(EVENTS_URL_ENV) or None,
            ingest_key=env.get("FACTORYOS_INGEST_KEY") or None,
            otel_env={k: v for k, v in env.items() if OTEL_PASSED.match(k) and v},
        )
