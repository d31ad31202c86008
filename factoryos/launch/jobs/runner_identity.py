"""The runner pods' identity: a ServiceAccount whose Role allows its progress report only.

Runners patch their own progress ConfigMap (``progress_reports``) and need
nothing else from the API server, so the Role grants ``get`` and ``patch`` on
ConfigMaps and nothing more. ``KubeJobLauncher`` creates the three objects once
per namespace, before its first Job there.
"""

from __future__ import annotations

from typing import Any

from factoryos.launch.jobs.kube_settings import KubeSettings


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
