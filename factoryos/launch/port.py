"""The ``Launcher`` port: start, inspect and stop runner workloads by deterministic name.

A workload is one candidate attempt (``<run>-c<i>-<attempt>``) running
``python -m factoryos.runner``. Every call is idempotent, so a level-based
reconcile may repeat it on every pass: starting an existing workload does
nothing, stopping a finished one does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from factoryos.workloads import (
    EvaluationReport,
    Holdup,
    Sandboxing,
    WorkloadKind,
    WorkloadResult,
    WorkloadSpec,
)


@dataclass(frozen=True)
class WorkloadState:
    """What a launcher observes about one workload."""

    name: str
    candidate: int
    """The candidate (build workloads) or the iteration (evaluation workloads)."""
    attempt: int
    started_at: datetime
    #: None while the workload runs; how it ended otherwise (inferred if the runner died).
    result: WorkloadResult | None
    #: A stop was requested and the workload has not ended yet.
    stopping: bool = False
    kind: WorkloadKind = WorkloadKind.BUILD
    #: Why its pod has not started, while it waits (None when it runs or has ended).
    holdup: Holdup | None = None

    @property
    def running(self) -> bool:
        return self.result is None


class Launcher(Protocol):
    """Runs workloads for the reconcile loop."""

    #: True when the platform itself retries a workload that failed for infrastructure
    #: reasons (a Job's backoffLimit), so the reconcile must not retry it again.
    retries_errors: bool

    @property
    def isolation(self) -> Sandboxing | None:
        """Whether candidates run sandboxed (None: the platform isolates them itself, as a
        cluster's pods with their own volumes do); each Run's ``Isolated`` condition."""
        ...

    def start(self, spec: WorkloadSpec) -> None:
        """Start the workload named ``spec.name`` unless it exists already."""
        ...

    def workloads(self, namespace: str, run: str) -> list[WorkloadState]:
        """Every workload of a run, running or ended, oldest attempt first."""
        ...

    def stop(self, namespace: str, run: str, name: str, grace_seconds: float) -> None:
        """Ask a running workload to stop gracefully; force it once the grace is over."""
        ...

    def blocker(self, spec: WorkloadSpec) -> tuple[str, str] | None:
        """Why ``spec`` cannot start here now, as (CamelCase reason, message), or None."""
        ...

    def evaluations(self, namespace: str, run: str) -> dict[int, EvaluationReport]:
        """The evaluation reports of a run's iterations that have one, by iteration."""
        ...
