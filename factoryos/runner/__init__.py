"""The runner: one Kilroy invocation recorded as Factory OS events.

``PipelineRunner`` (``pipeline``) follows one Kilroy run or resume and writes
its events (``sf pipeline run`` uses it directly); ``BuildWorkload`` (``build``)
is a build workload, one candidate attempt, the same code in a Kubernetes Job
pod and a local process (started by ``python -m factoryos.worker``);
``ConfigMapSink`` (``configmap``) carries its progress report on a cluster.
What a workload is told and how it ended are the workload contract,
``factoryos.workloads``.

Each name is imported on first use, so ``sf pipeline run`` loads the pipeline
runner without the build workload and the workload contract behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.runner.build import BuildWorkload
    from factoryos.runner.configmap import ConfigMapSink
    from factoryos.runner.pipeline import PipelineRunner, RunReport, ensure_valid

__all__ = [
    "BuildWorkload",
    "ConfigMapSink",
    "PipelineRunner",
    "RunReport",
    "ensure_valid",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "BuildWorkload": "factoryos.runner.build",
        "ConfigMapSink": "factoryos.runner.configmap",
        "PipelineRunner": "factoryos.runner.pipeline",
        "RunReport": "factoryos.runner.pipeline",
        "ensure_valid": "factoryos.runner.pipeline",
    },
)
