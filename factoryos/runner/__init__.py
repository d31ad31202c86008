"""The runner: one Kilroy invocation recorded as Factory OS events.

``PipelineRunner`` (``pipeline``) follows one Kilroy run or resume and writes
its events; ``Workload`` (``workload``) is the unit the control plane
launches, one candidate attempt, the same code in a Kubernetes Job pod and a
local process (``python -m factoryos.runner <spec.json>``); ``layout`` names
the files of a run directory.
"""

from factoryos.runner.layout import RunDirectory, workload_name
from factoryos.runner.pipeline import EVENTS_FILE, PipelineRunner, RunReport, ensure_valid
from factoryos.runner.workload import (
    Workload,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
    read_result,
    write_result,
)

__all__ = [
    "EVENTS_FILE",
    "PipelineRunner",
    "RunDirectory",
    "RunReport",
    "Workload",
    "WorkloadResult",
    "WorkloadSpec",
    "WorkloadStatus",
    "ensure_valid",
    "read_result",
    "workload_name",
    "write_result",
]
