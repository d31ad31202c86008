"""The progress report of a runner Job: the ConfigMap it writes, and the stage table read back.

Each Job gets a ConfigMap ``<workload>-progress`` (owned by the Run, labelled
like the Job) that its runner keeps up to date with its stage table and result
(``factoryos.workloads.stages``). ``KubeJobLauncher`` creates it empty next to
the Job and reads the tables back for Run status, so the controller never
depends on the dashboard being up.
"""

from __future__ import annotations

import json
from typing import Any

from factoryos.launch.jobs.manifest import (
    ATTEMPT_LABEL,
    CANDIDATE_LABEL,
    owned_metadata,
    workload_labels,
)
from factoryos.models import Run, StageStatus
from factoryos.workloads import STAGES_KEY, WorkloadSpec, progress_name


def progress_manifest(spec: WorkloadSpec, run: Run) -> dict[str, Any]:
    """The (empty) ConfigMap the workload's runner reports its progress into."""
    name = progress_name(spec.name)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owned_metadata(name, spec.namespace, workload_labels(spec, run), run),
        "data": {},
    }


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
