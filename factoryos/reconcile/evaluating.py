"""The evaluating phase: one evaluation workload per iteration, and what its report decides.

When every candidate's pipeline of iteration n has ended, one evaluation
workload (``<run>-e<n>-<a>``) screens the built ones, selects a winner on the
holdout selection pool, gates it on the acceptance pool and merges it when
accepted. A stopped evaluation runs again (the next attempt); one that ended
in an infrastructure error without a report is retried up to
``spec.backoffLimit``. Its report (``evaluations/i<n>/evaluation.json``)
decides: accepted (or no holdouts to gate with) succeeds the run; rejected or
all screened out starts iteration n+1 with feedback, up to
``spec.maxIterations``; a failed merge fails the run; an acceptance pool with
fewer distinct instances than the plan may need stalls it
(``InsufficientScenarios``, the number needed in the message) and is looked at again
with backoff, so the run goes on by itself once the pool grows or the product declares
repeated trials. The reports also fill
in the candidates' screening, scores and the gate in the status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from factoryos.models import (
    AcceptanceMethod,
    CandidatePhase,
    CandidateStatus,
    Evaluation,
    OcPoint,
    Product,
    Run,
    RunPhase,
    RunStatus,
    Sidedness,
    TrialsKind,
)
from factoryos.reconcile.building import Candidate, built_status
from factoryos.reconcile.finishing import finish
from factoryos.reconcile.run_conditions import mark_in_progress, mark_stalled
from factoryos.reconcile.run_types import (
    RESYNC_SECONDS,
    ObservedWorkload,
    RunDecision,
    StartEvaluation,
)
from factoryos.telemetry import TRACEPARENT_ANNOTATION
from factoryos.workloads import (
    HOLDOUTS_MOUNT,
    EvaluationPlan,
    EvaluationReport,
    Outcome,
    RunDirectory,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
    evaluation_name,
)

RECHECK_SECONDS = 15.0
"""The first recheck of an acceptance pool that was too small, after the attempt ended."""
RECHECK_MAX_SECONDS = 300.0


def evaluation_attempts(
    workloads: list[ObservedWorkload], iteration: int
) -> list[ObservedWorkload]:
    """The attempts of this iteration's evaluation, oldest first."""
    return sorted(
        (w for w in workloads if w.kind is WorkloadKind.EVALUATE and w.candidate == iteration),
        key=lambda w: w.attempt,
    )


def evaluate(
    run: Run,
    status: RunStatus,
    iteration: int,
    built: tuple[int, ...],
    evaluations: list[ObservedWorkload],
    report: EvaluationReport | None,
    now: datetime,
) -> RunDecision:
    """After the builds: start, follow and act on this iteration's evaluation."""
    start = _next_evaluation(run, iteration, built, evaluations, report, now)
    last = evaluations[-1] if evaluations else None
    if start is not None or (last is not None and last.running):
        status.phase = RunPhase.EVALUATING
        status.completion_time = None
        status.message = (
            f"iteration {iteration}: evaluating {len(built)} built candidate(s): "
            "screen, selection, gate"
        )
        mark_in_progress(status, run, "Evaluating", status.message, now)
        return RunDecision(status, [start] if start else [], requeue_after=RESYNC_SECONDS)
    assert last is not None
    if report is None:
        why = f"the evaluation {last.result_status or 'ended'}: {last.result_reason}"
        return finish(run, status, RunPhase.FAILED, why, now)
    if report.outcome in {Outcome.ACCEPTED, Outcome.UNGATED}:
        return finish(run, status, RunPhase.SUCCEEDED, report.message, now)
    if report.outcome is Outcome.MERGE_FAILED:
        return finish(run, status, RunPhase.FAILED, report.message, now)
    if report.outcome is Outcome.INSUFFICIENT_SCENARIOS:
        due = _recheck_due(evaluations)
        wait = max(1.0, (due - now).total_seconds())
        status.phase = RunPhase.EVALUATING
        status.message = f"{report.message}; the pool is checked again at {due:%H:%M:%S}Z"
        mark_stalled(status, run, "InsufficientScenarios", status.message, now)
        return RunDecision(status, requeue_after=wait)
    return _iterate_or_fail(run, status, iteration, report.message, now)


def _next_evaluation(
    run: Run,
    iteration: int,
    built: tuple[int, ...],
    evaluations: list[ObservedWorkload],
    report: EvaluationReport | None,
    now: datetime,
) -> StartEvaluation | None:
    """The evaluation attempt to start: the first, a resume after a stop, a retry, or a
    recheck of an acceptance pool that was too small (it may have grown since)."""
    last = evaluations[-1] if evaluations else None
    if last is None:
        return StartEvaluation(iteration, 1, built)
    if last.result_status is WorkloadStatus.STOPPED:
        return StartEvaluation(iteration, last.attempt + 1, built)
    short = report is not None and report.outcome is Outcome.INSUFFICIENT_SCENARIOS
    if short and last.result_status is not None and now >= _recheck_due(evaluations):
        return StartEvaluation(iteration, last.attempt + 1, built)
    if last.result_status is WorkloadStatus.ERROR and report is None:
        errors = sum(1 for w in evaluations if w.result_status is WorkloadStatus.ERROR)
        if errors <= run.spec.backoff_limit:
            return StartEvaluation(iteration, last.attempt + 1, built)
    return None


def _recheck_due(evaluations: list[ObservedWorkload]) -> datetime:
    """When a run stalled on too small an acceptance pool looks at the pool again: 15 s
    after the last attempt ended, doubling with each attempt that found it short, at most
    every 5 minutes (each recheck screens the candidates again)."""
    last = evaluations[-1]
    short = sum(1 for w in evaluations if w.result_status is WorkloadStatus.FAILED)
    delay = min(RECHECK_MAX_SECONDS, RECHECK_SECONDS * 2 ** max(0, short - 1))
    return (last.finished_at or last.started_at) + timedelta(seconds=delay)


def _iterate_or_fail(
    run: Run, status: RunStatus, iteration: int, why: str, now: datetime
) -> RunDecision:
    """This iteration found no acceptable candidate: try again, or fail after the last."""
    if iteration < run.spec.max_iterations:
        status.iteration = iteration + 1
        status.phase = RunPhase.BUILDING
        status.completion_time = None
        status.message = f"iteration {iteration} found nothing to merge ({why}); iterating"
        mark_in_progress(status, run, "Iterating", status.message, now)
        return RunDecision(status, requeue_after=0.2)
    message = f"no acceptable candidate after {iteration} iteration(s): {why}"
    return finish(run, status, RunPhase.FAILED, message, now)


def earlier_feedback(reports: dict[int, EvaluationReport], iteration: int) -> tuple[str, ...]:
    """What the earlier iterations' evaluations said (ids and verifier names only)."""
    lines: list[str] = []
    for n in sorted(reports):
        if n < iteration:
            lines += [f"iteration {n}: {line}" for line in reports[n].feedback]
    return tuple(lines)


def evaluation_summary(report: EvaluationReport | None) -> Evaluation | None:
    """The gate of a report, as ``status.evaluation`` shows it (None without a gate)."""
    if report is None or report.gate is None:
        return None
    gate = report.gate
    return Evaluation(
        candidate=gate.candidate,
        n=gate.n,
        k=gate.k,
        lower_bound=round(min(max(gate.lower_bound, 0.0), 1.0), 6),
        target=gate.target,
        alpha=gate.alpha,
        sided=Sidedness(gate.sided),
        accepted=gate.accepted,
        reason=gate.reason,
        method=AcceptanceMethod(gate.method),
        looks_taken=gate.looks_taken,
        looks_planned=len(gate.design.get("looks", [])) or None,
        max_trials=gate.planned,
        instances=gate.instances,
        trials_kind=TrialsKind(gate.trials_kind),
        flaky=gate.flaky if gate.trials_kind == TrialsKind.REPEATED.value else None,
        oc=[OcPoint(rate=r, accept=round(min(max(p, 0.0), 1.0), 6)) for r, p in gate.oc],
    )


def candidate_status(
    run: Run,
    c: Candidate,
    report: EvaluationReport | None = None,
    evaluations: list[ObservedWorkload] | None = None,
) -> CandidateStatus:
    """A candidate's status: its build, then what this iteration's evaluation says of it."""
    built = built_status(run, c)
    if built.phase is not CandidatePhase.BUILT:
        return built
    found = next((r for r in report.candidates if r.index == c.index), None) if report else None
    if found is None:
        evaluating = bool(evaluations) and evaluations[-1].running  # type: ignore[index]
        if evaluating:
            return built.model_copy(update={"phase": CandidatePhase.EVALUATING})
        return built
    assert report is not None
    if found.screened_out_reason is not None:
        phase = CandidatePhase.SCREENED_OUT
    elif report.winner == c.index:
        phase = CandidatePhase.WINNER
    elif found.eliminated_in is not None:
        phase = CandidatePhase.ELIMINATED
    else:
        phase = CandidatePhase.BUILT
    return built.model_copy(
        update={
            "phase": phase,
            "verifiers": list(found.verifiers),
            "screened_out_reason": found.screened_out_reason,
            "passes": found.passes if found.trials else None,
            "trials": found.trials or None,
            "score": round(found.passes / found.trials, 6) if found.trials else None,
        }
    )


def evaluation_spec(
    run: Run, product: Product, action: StartEvaluation, runs_dir: Path
) -> WorkloadSpec:
    """The evaluation workload for one iteration of ``run``."""
    meta, spec = run.metadata, product.spec
    source = spec.holdouts
    holdouts = None if source is None else Path(source.path) if source.path else HOLDOUTS_MOUNT
    return WorkloadSpec(
        kind=WorkloadKind.EVALUATE,
        name=evaluation_name(meta.name, action.iteration, action.attempt),
        namespace=meta.namespace,
        product=product.metadata.name,
        run=meta.name,
        candidate=action.iteration,
        attempt=action.attempt,
        run_dir=RunDirectory.of(runs_dir, meta.namespace, meta.name).path,
        repo_path=Path(spec.repo.path) if spec.repo.path else None,
        repo_url=spec.repo.url,
        branch=spec.branch,
        pipeline=run.spec.pipeline or spec.pipeline,
        goal=run.spec.goal,
        traceparent=meta.annotations.get(TRACEPARENT_ANNOTATION),
        pass_env=list(spec.engine.pass_env),  # git credentials for a push, if any
        image=spec.engine.image,
        evaluation=EvaluationPlan(
            iteration=action.iteration,
            candidates=list(action.candidates),
            verifiers=spec.verifiers,
            holdouts=holdouts,
            holdouts_source=source,
            service=spec.service,
            selection=run.spec.selection,
            acceptance=spec.acceptance,
            max_iterations=run.spec.max_iterations,
            product_branch=spec.branch,
            merge_into=Path(spec.repo.path) if spec.repo.path else None,
            push=spec.repo.url is not None,
        ),
    )
