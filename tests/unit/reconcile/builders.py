"""Small builders for the reconcile tests: resources, workloads and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from factoryos.events import Event, EventType, make_event
from factoryos.models import DesiredState, Product, Run, RunPhase, parse_as
from factoryos.reconcile import Admission, RunObservation
from factoryos.reconcile.run import ObservedWorkload
from factoryos.workloads import (
    CandidateReport,
    EvaluationReport,
    GateReport,
    Outcome,
    WorkloadKind,
    WorkloadStatus,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def product(name: str = "p", **spec: Any) -> Product:
    p = parse_as(Product, {"metadata": {"name": name}, "spec": {"repo": {"path": "/r"}, **spec}})
    p.metadata.uid, p.metadata.generation = f"uid-{name}", 1
    return p


def run(
    name: str = "r",
    *,
    product: str = "p",
    phase: RunPhase | None = None,
    desired: DesiredState = DesiredState.RUNNING,
    created: float = 0,
    **spec: Any,
) -> Run:
    r = parse_as(
        Run,
        {
            "metadata": {"name": name},
            "spec": {"productRef": {"name": product}, "goal": "g", **spec},
        },
    )
    r.metadata.generation = 1
    r.metadata.creation_timestamp = at(created)
    r.spec.desired_state = desired
    r.status.phase = phase
    return r


def workload(
    candidate: int = 0, attempt: int = 1, result: WorkloadStatus | None = None, reason: str = ""
) -> ObservedWorkload:
    return ObservedWorkload(
        name=f"r-c{candidate}-{attempt}",
        candidate=candidate,
        attempt=attempt,
        started_at=at(attempt),
        result_status=result,
        result_reason=reason or None,
    )


def evaluation(
    iteration: int = 1, attempt: int = 1, result: WorkloadStatus | None = None, reason: str = ""
) -> ObservedWorkload:
    """Iteration ``iteration``'s evaluation workload."""
    return ObservedWorkload(
        name=f"r-e{iteration}-{attempt}",
        candidate=iteration,
        attempt=attempt,
        started_at=at(50 + attempt),
        result_status=result,
        result_reason=reason or None,
        kind=WorkloadKind.EVALUATE,
    )


def report(
    outcome: Outcome = Outcome.UNGATED,
    iteration: int = 1,
    *,
    winner: int | None = 0,
    candidates: list[CandidateReport] | None = None,
    gate: GateReport | None = None,
    feedback: list[str] | None = None,
    message: str = "",
) -> EvaluationReport:
    return EvaluationReport(
        iteration=iteration,
        outcome=outcome,
        message=message or outcome.value,
        candidates=candidates or [CandidateReport(index=0, branch="factory/r/c0")],
        winner=winner,
        gate=gate,
        feedback=feedback or [],
    )


def seen(
    *workloads: ObservedWorkload,
    product_: Product | None = None,
    admitted: bool = True,
    reason: str = "",
    now: float = 100,
    missing_product: bool = False,
    evaluations: dict[int, EvaluationReport] | None = None,
) -> RunObservation:
    return RunObservation(
        product=None if missing_product else (product_ or product()),
        workloads=list(workloads),
        stages=[],
        admission=Admission(admitted, reason),
        now=at(now),
        evaluations=evaluations or {},
    )


def event(seq: int, type: EventType, subject: str | None = None, **data: Any) -> Event:
    return make_event(
        source="/products/p/runs/r",
        type=type,
        sequence=seq,
        data={"candidate": 0, **data},
        subject=subject,
        time=at(seq),
    )
