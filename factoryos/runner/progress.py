"""A runner's compact progress report on a cluster: its stage table and result in a ConfigMap.

Locally the controller folds each run's event log itself. On a cluster the log
lives on the run's volume, out of the operator's reach, so each runner keeps a
small child object up to date, as Argo Workflows' executors keep
WorkflowTaskResults: the ConfigMap ``<workload>-progress`` that the launcher
created for it, with ``stages.json`` (the stage table of its own events, at
most one write a second) and, at the end, ``result.json``. The operator reads
them back (``KubeJobLauncher.stages``). Reporting never fails the run: a
write that does not go through is printed and the next one carries it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from factoryos.events import Event

#: Environment variables the runner Job sets for reporting.
PROGRESS_ENV = "FACTORYOS_PROGRESS_CONFIGMAP"
NAMESPACE_ENV = "FACTORYOS_NAMESPACE"
STAGES_KEY, RESULT_KEY = "stages.json", "result.json"
#: An evaluation workload's report (without its trials: a ConfigMap holds 1 MiB at most).
EVALUATION_KEY = "evaluation.json"


def progress_name(workload: str) -> str:
    """The ConfigMap a workload reports into."""
    return f"{workload}-progress"


class ProgressSink(Protocol):
    def write(self, data: dict[str, str]) -> None: ...


class ProgressReporter:
    """Folds the runner's events into a stage table and writes it, throttled."""

    def __init__(
        self,
        sink: ProgressSink,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from factoryos.reconcile.progress import StageFold  # the reconcile side's own fold

        self._sink = sink
        self._fold = StageFold()
        self._interval = min_interval
        self._clock = clock
        self._last = float("-inf")
        self._dirty = False

    def on_event(self, event: Event) -> None:
        before = self._fold.stages()
        self._fold.feed([event])
        self._dirty = self._dirty or self._fold.stages() != before
        if self._dirty and self._clock() - self._last >= self._interval:
            self._flush({})

    def finish(self, result: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        """The last write: the final stage table, the workload's result and ``extra``."""
        self._flush({RESULT_KEY: json.dumps(result), **(extra or {})})

    def _flush(self, extra: dict[str, str]) -> None:
        stages = [s.model_dump(mode="json", exclude_none=True) for s in self._fold.stages()]
        try:
            self._sink.write({STAGES_KEY: json.dumps(stages), **extra})
        except Exception as exc:
            print(f"runner: could not report progress: {exc}", file=sys.stderr, flush=True)
            return
        self._last, self._dirty = self._clock(), False


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
