"""``ConfigMapSink``: where a runner's progress report goes on a cluster.

The report itself (``ProgressReporter``, the ConfigMap's name and keys) is part
of the workload contract, ``factoryos.workloads.stages``; this sink patches the
workload's ConfigMap with the pod's own service account. ``factoryos.worker``
builds it when the Job set the variables that name the ConfigMap.
"""

from __future__ import annotations

from typing import Any


class ConfigMapSink:
    """Patches the workload's progress ConfigMap with the pod's own service account."""

    def __init__(self, namespace: str, name: str, api: Any = None) -> None:
        from kubernetes import client, config

        if api is None:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        self._core: Any = client.CoreV1Api(api)
        self._namespace, self._name = namespace, name

    def write(self, data: dict[str, str]) -> None:
        self._core.patch_namespaced_config_map(self._name, self._namespace, {"data": data})
