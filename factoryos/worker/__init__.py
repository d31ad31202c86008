"""The workload process: ``python -m factoryos.worker SPEC.json | --spec-env VAR``.

Above the runner and the evaluation (which meet only in ``factoryos.workloads``)
and below the launchers that start it: a local process or a forked child of
the fork server (``factoryos.launch``), or a runner Job's pod on a cluster.
``main`` reads the spec, runs the build or the evaluation it names, and
returns the workload's exit status.
"""

from factoryos.worker.main import main

__all__ = ["main"]
