"""What goes into ``reconcile_run`` and what comes out: the observation, the actions, the decision.

They live apart from ``reconcile.run`` (which re-exports them) so the phase
modules (``building``, ``evaluating``, ``finishing``) can build decisions
without importing the dispatcher that imports them. Plain frozen dataclasses:
the drivers construct observations from what they read and execute the
actions they get back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from factoryos.models import Product, RunStatus, StageStatus
from factoryos.reconcile.queue import Admission
from factoryos.workloads import (
    EvaluationReport,
    Holdup,
    Sandboxing,
    WorkloadKind,
    WorkloadStatus,
)

#: Held on every Run until its workloads are stopped.
FINALIZER = "factoryos.dev/cleanup"
#: The label naming a Run's product (set by ``sf``; selectors and dashboards use it).
PRODUCT_LABEL = "factoryos.dev/product"
#: How often an active run is looked at even when nothing signals a change.
RESYNC_SECONDS = 30.0


@dataclass(frozen=True)
class StartWorkload:
    """Start attempt ``attempt`` of candidate ``candidate`` (a resume when attempt > 1)."""

    candidate: int
    attempt: int
    #: What earlier iterations taught (failed verifiers, scenario ids), for the goal.
    feedback: tuple[str, ...] = ()


@dataclass(frozen=True)
class StartEvaluation:
    """Start attempt ``attempt`` of iteration ``iteration``'s evaluation of ``candidates``."""

    iteration: int
    attempt: int
    candidates: tuple[int, ...]


@dataclass(frozen=True)
class StopWorkload:
    """Ask the running workload ``name`` to stop gracefully."""

    name: str


#: One thing a decision asks the driver to do.
Action: TypeAlias = StartWorkload | StartEvaluation | StopWorkload


@dataclass(frozen=True)
class RunObservation:
    """What the driver saw: the product, the run's workloads and stages, its queue slot."""

    product: Product | None
    workloads: list[ObservedWorkload]
    stages: list[StageStatus]
    admission: Admission
    now: datetime
    #: Retry workloads that ended in an infrastructure error (False where the platform's
    #: own retries, a Job's backoffLimit, already did).
    retry_errors: bool = True
    #: Why no workload of this run can start now, as (CamelCase reason, message): e.g. the
    #: Secret its product's passEnv names is missing. Running workloads are left alone.
    blocked: tuple[str, str] | None = None
    #: The evaluation reports written so far, by iteration.
    evaluations: dict[int, EvaluationReport] = field(default_factory=dict)
    #: Whether the launcher sandboxes candidates (None: the platform isolates them).
    isolation: Sandboxing | None = None


@dataclass(frozen=True)
class ObservedWorkload:
    """One workload as the launcher reports it (``launch.WorkloadState``, core-side)."""

    name: str
    candidate: int
    """The candidate (build) or the iteration (evaluate)."""
    attempt: int
    started_at: datetime
    result_status: WorkloadStatus | None
    result_reason: str | None = None
    run_branch: str | None = None
    finished_at: datetime | None = None
    kind: WorkloadKind = WorkloadKind.BUILD
    #: Why it has not started yet, while its pod waits (cluster launchers only).
    holdup: Holdup | None = None

    @property
    def running(self) -> bool:
        return self.result_status is None


@dataclass(frozen=True)
class RunDecision:
    """What to do and what to write."""

    status: RunStatus
    actions: list[Action] = field(default_factory=list)
    #: The run is being deleted and nothing of it runs any more.
    release: bool = False
    #: Look again after this many seconds even if nothing changes (None: only on change).
    requeue_after: float | None = None
