"""Reconciling a Run: from its spec, product, workloads and events to actions and status.

``reconcile_run`` is pure. It decides which candidate workloads to start
(first attempts, resumes after a stop, retries after an infrastructure
failure up to ``spec.backoffLimit``), which to stop (``desiredState:
Stopped``, deletion), and the whole new status: phase, conditions with
``observedGeneration``, the candidates, the stages table, the artifacts.
The driver executes the actions and writes the status once.

A pass first fills in what the status reports whatever the phase (the
candidates, the artifacts, the latest gate), then the first phase that applies
decides: a hold (``finishing``: the run is being deleted, has finished, lost
its product, was asked to stop, or is blocked), the building phase
(``building``: the iteration's K candidates), or the evaluating phase
(``evaluating``: one evaluation per iteration, whose report succeeds the run,
fails it, or starts the next iteration). The types it takes and returns are
defined in ``run_types`` and exported from here.
"""

from __future__ import annotations

from factoryos.errors import InvalidInputError
from factoryos.models import (
    Artifact,
    ArtifactKind,
    DesiredState,
    Run,
    RunPhase,
    RunStatus,
)
from factoryos.models.agents import merged
from factoryos.reconcile.building import (
    Candidate,
    build,
    built_candidates,
    iteration_candidates,
)
from factoryos.reconcile.evaluating import (
    candidate_status,
    earlier_feedback,
    evaluate,
    evaluation_attempts,
    evaluation_summary,
)
from factoryos.reconcile.finishing import (
    blocked,
    deleting,
    finish,
    finished,
    product_gone,
    stopping,
)
from factoryos.reconcile.run_conditions import isolated, mark_in_progress, mark_stalled
from factoryos.reconcile.run_types import (
    FINALIZER,
    PRODUCT_LABEL,
    RESYNC_SECONDS,
    Action,
    ObservedWorkload,
    RunDecision,
    RunObservation,
    StartEvaluation,
    StartWorkload,
    StopWorkload,
)
from factoryos.workloads import OUTPUT_FILE, READABLE_FILE, REPORT_FILE, EvaluationReport

__all__ = [
    "FINALIZER",
    "PRODUCT_LABEL",
    "RESYNC_SECONDS",
    "Action",
    "ObservedWorkload",
    "RunDecision",
    "RunObservation",
    "StartEvaluation",
    "StartWorkload",
    "StopWorkload",
    "reconcile_run",
]


def reconcile_run(run: Run, seen: RunObservation) -> RunDecision:
    """The actions and the new status for ``run`` (see the module docstring)."""
    iteration = run.status.iteration or 1
    candidates = iteration_candidates(run, seen, iteration)
    evaluations = evaluation_attempts(seen.workloads, iteration)
    report = seen.evaluations.get(iteration)
    status = _observed_status(run, seen, iteration, candidates, evaluations, report)
    held = _held(run, seen, status)
    if held is not None:
        return held
    feedback = earlier_feedback(seen.evaluations, iteration)
    decision = build(run, seen, status, candidates, feedback, iteration)
    if decision is None:
        built = built_candidates(candidates)
        decision = evaluate(run, status, iteration, built, evaluations, report, seen.now)
    return _waiting(run, seen, decision)


def _waiting(run: Run, seen: RunObservation, decision: RunDecision) -> RunDecision:
    """A run in progress whose workload's pod cannot start says why in its status: Stalled
    with the platform's reason when waiting cannot help (an image the node cannot pull),
    still in progress with the reason when it waits for room (no node has a free GPU)."""
    status = decision.status
    held = [w for w in seen.workloads if w.running and w.holdup is not None]
    if not held or status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED}:
        return decision
    holdup = held[0].holdup
    assert holdup is not None
    status.message = f"{held[0].name} waits: {holdup.message}"
    if holdup.stuck:
        mark_stalled(status, run, holdup.reason, status.message, seen.now)
    else:
        mark_in_progress(status, run, holdup.reason, status.message, seen.now)
    return decision


def _held(run: Run, seen: RunObservation, status: RunStatus) -> RunDecision | None:
    """The pass when something keeps the run from progressing (the first that applies)."""
    now = seen.now
    running = [w for w in seen.workloads if w.running]
    if run.metadata.deletion_timestamp is not None:
        return deleting(run, status, running, now)
    if status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED} and not running:
        return finished(run, status, now)
    product = seen.product
    if product is None or product.metadata.deletion_timestamp is not None:
        return product_gone(run, status, product, running, now)
    if run.spec.desired_state is DesiredState.STOPPED:
        return stopping(run, status, running, now)
    try:
        merged(product.spec.engine, run.spec.engine)
    except InvalidInputError as exc:  # the run's model is not its product's provider's
        return finish(run, status, RunPhase.FAILED, str(exc), now)
    if seen.blocked is not None and not running:
        return blocked(run, status, seen.blocked, now)
    return None


def _observed_status(
    run: Run,
    seen: RunObservation,
    iteration: int,
    candidates: list[Candidate],
    evaluations: list[ObservedWorkload],
    report: EvaluationReport | None,
) -> RunStatus:
    """A new status with what holds whatever the phase: the generation observed, the
    stages, the start time, the candidates, the artifacts and the latest gate."""
    # A copy that shares nothing mutable with the run's status once the stages, candidates,
    # artifacts and evaluation are replaced below: the other fields are immutable, save the
    # conditions (models of immutable fields). A deep copy of what is then replaced was the
    # largest part of a pass.
    conditions = [c.model_copy() for c in run.status.conditions]
    status = run.status.model_copy(update={"conditions": conditions})
    status.observed_generation = run.metadata.generation
    status.stages = seen.stages
    if seen.workloads:
        status.start_time = status.start_time or min(w.started_at for w in seen.workloads)
        status.iteration = iteration
    status.candidates = [candidate_status(run, c, report, evaluations) for c in candidates]
    status.artifacts = _artifacts(seen.workloads, sorted(seen.evaluations))
    latest = seen.evaluations.get(max(seen.evaluations)) if seen.evaluations else None
    status.evaluation = evaluation_summary(latest)
    finished = status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED}
    if seen.isolation is not None and not finished:  # a finished run keeps what it ran with
        status.conditions = isolated(status.conditions, run, seen.isolation, seen.now)
    return status


def _artifacts(workloads: list[ObservedWorkload], iterations: list[int]) -> list[Artifact]:
    found = [Artifact(name="events", path="events.ndjson", kind=ArtifactKind.LOG)]
    for w in workloads:
        found.append(
            Artifact(name=w.name, path=f"workloads/{w.name}/{OUTPUT_FILE}", kind=ArtifactKind.LOG)
        )
    for n in iterations:
        folder = f"evaluations/i{n}"
        found.append(
            Artifact(name=f"evaluation-i{n}", path=f"{folder}/{REPORT_FILE}",
                     kind=ArtifactKind.EVALUATION)
        )  # fmt: skip
        found.append(
            Artifact(
                name=f"report-i{n}", path=f"{folder}/{READABLE_FILE}", kind=ArtifactKind.REPORT
            )
        )
    return found
