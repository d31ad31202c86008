"""Reconciling a Run: from its spec, product, workloads and events to actions and status.

``reconcile_run`` is pure. It decides which candidate workloads to start
(first attempts, resumes after a stop, retries after an infrastructure
failure up to ``spec.backoffLimit``), which to stop (``desiredState:
Stopped``, deletion), and the whole new status: phase, conditions with
``observedGeneration``, the candidates, the stages table, the artifacts.
The driver executes the actions and writes the status once.

An iteration builds K candidates (indexes ``(n-1)K .. nK-1``, branches
``factory/<run>/c<i>``). When every candidate's pipeline has ended, one
evaluation workload (``<run>-e<n>-<a>``) screens the built ones, selects a
winner on the holdout selection pool, gates it on the acceptance pool and
merges it when accepted; its report (``evaluations/i<n>/evaluation.json``)
decides: accepted (or no holdouts to gate with) succeeds the run; rejected or
all screened out starts iteration n+1 with feedback, up to
``spec.maxIterations``; a failed merge fails the run. When no candidate's
pipeline succeeds the run fails at once (Kilroy retries stages itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from factoryos.models import (
    Artifact,
    ArtifactKind,
    CandidatePhase,
    CandidateStatus,
    ConditionStatus,
    ConditionType,
    DesiredState,
    Evaluation,
    Product,
    Run,
    RunPhase,
    RunStatus,
    Sidedness,
    StageStatus,
)
from factoryos.reconcile.conditions import set_condition
from factoryos.reconcile.queue import Admission
from factoryos.telemetry import TRACEPARENT_ANNOTATION
from factoryos.workloads import (
    HOLDOUTS_MOUNT,
    OUTPUT_FILE,
    READABLE_FILE,
    REPORT_FILE,
    EvaluationPlan,
    EvaluationReport,
    Outcome,
    RunDirectory,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
    candidate_branch,
    evaluation_name,
    workload_name,
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

    @property
    def running(self) -> bool:
        return self.result_status is None


@dataclass(frozen=True)
class RunDecision:
    """What to do and what to write."""

    status: RunStatus
    actions: list[StartWorkload | StartEvaluation | StopWorkload] = field(default_factory=list)
    #: The run is being deleted and nothing of it runs any more.
    release: bool = False
    #: Look again after this many seconds even if nothing changes (None: only on change).
    requeue_after: float | None = None


@dataclass
class _Candidate:
    index: int
    attempts: list[ObservedWorkload]
    retry_errors: bool = True

    @property
    def last(self) -> ObservedWorkload | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def errors(self) -> int:
        return sum(1 for w in self.attempts if w.result_status is WorkloadStatus.ERROR)


def candidate_count(run: Run, product: Product | None) -> int:
    """K for this run: its own, else its product's, else 1."""
    if run.spec.candidates is not None:
        return run.spec.candidates
    return product.spec.candidates if product is not None else 1


def reconcile_run(run: Run, seen: RunObservation) -> RunDecision:
    """The actions and the new status for ``run`` (see the module docstring)."""
    now, gen = seen.now, run.metadata.generation
    status = run.status.model_copy(deep=True)
    status.observed_generation = gen
    status.stages = seen.stages
    iteration = status.iteration or 1
    candidates = _candidates(run, seen, iteration)
    evaluations = sorted(
        (w for w in seen.workloads if w.kind is WorkloadKind.EVALUATE and w.candidate == iteration),
        key=lambda w: w.attempt,
    )
    report = seen.evaluations.get(iteration)
    running = [w for w in seen.workloads if w.running]
    if seen.workloads:
        status.start_time = status.start_time or min(w.started_at for w in seen.workloads)
        status.iteration = iteration
    status.candidates = [_candidate_status(run, c, report, evaluations) for c in candidates]
    status.artifacts = _artifacts(seen.workloads, sorted(seen.evaluations))
    latest = seen.evaluations.get(max(seen.evaluations)) if seen.evaluations else None
    status.evaluation = _evaluation(latest)

    if run.metadata.deletion_timestamp is not None:
        stops: list[StartWorkload | StartEvaluation | StopWorkload] = [
            StopWorkload(w.name) for w in running
        ]
        _conditions(status, run, "Deleting", "stopping the run's workloads before deletion", now)
        return RunDecision(status, stops, release=not running)

    if status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED} and not running:
        _finished_conditions(status, run, now)
        return RunDecision(status)

    if seen.product is None or seen.product.metadata.deletion_timestamp is not None:
        gone = seen.product is None
        status.phase = status.phase or RunPhase.PENDING
        product = run.spec.product_ref.name
        status.message = f"product {product!r} " + ("not found" if gone else "is being deleted")
        reason = "ProductNotFound" if gone else "ProductDeleting"
        _stalled(status, run, reason, status.message, now)
        return RunDecision(status, [StopWorkload(w.name) for w in running])

    if run.spec.desired_state is DesiredState.STOPPED:
        return _stopping(run, status, running, now)

    if seen.blocked is not None and not running:
        reason, message = seen.blocked
        status.phase = status.phase if status.phase is RunPhase.STOPPED else RunPhase.PENDING
        status.message = message
        _stalled(status, run, reason, message, now)
        return RunDecision(status)

    feedback = _feedback(seen.evaluations, iteration)
    starts: list[StartWorkload] = []
    may_start = bool(running) or seen.admission.admitted or iteration > 1
    for c in candidates:
        start = _next_attempt(run, c, feedback)
        if start is not None and may_start:
            starts.append(start)
    building = [w for w in running if w.kind is WorkloadKind.BUILD]
    if building or starts:
        status.phase = RunPhase.BUILDING
        status.completion_time = None
        status.message = _building_message(candidates, starts, iteration)
        _conditions(status, run, "Building", status.message, now)
        return RunDecision(status, list(starts), requeue_after=RESYNC_SECONDS)

    if any(_next_attempt(run, c, feedback) is not None for c in candidates):
        status.phase = RunPhase.PENDING
        status.message = seen.admission.reason or "waiting to start"
        _conditions(status, run, "Queued", status.message, now)
        return RunDecision(status)

    # Every candidate's pipeline of this iteration has ended.
    built = tuple(c.index for c in candidates if _ended_as(c, WorkloadStatus.SUCCEEDED))
    if not built:  # a pipeline failure is the pipeline's to retry, not an iteration's
        status.phase = RunPhase.FAILED
        status.completion_time = status.completion_time or now
        status.message = _failure_message(candidates)
        _finished_conditions(status, run, now)
        return RunDecision(status)
    return _evaluate(run, status, iteration, built, evaluations, report, now)


def _evaluate(
    run: Run,
    status: RunStatus,
    iteration: int,
    built: tuple[int, ...],
    evaluations: list[ObservedWorkload],
    report: EvaluationReport | None,
    now: datetime,
) -> RunDecision:
    """After the builds: start, follow and act on this iteration's evaluation."""
    last = evaluations[-1] if evaluations else None
    start: StartEvaluation | None = None
    if last is None:
        start = StartEvaluation(iteration, 1, built)
    elif last.result_status is WorkloadStatus.STOPPED:
        start = StartEvaluation(iteration, last.attempt + 1, built)
    elif last.result_status is WorkloadStatus.ERROR and report is None:
        errors = sum(1 for w in evaluations if w.result_status is WorkloadStatus.ERROR)
        if errors <= run.spec.backoff_limit:
            start = StartEvaluation(iteration, last.attempt + 1, built)
    if start is not None or (last is not None and last.running):
        status.phase = RunPhase.EVALUATING
        status.completion_time = None
        status.message = (
            f"iteration {iteration}: evaluating {len(built)} built candidate(s): "
            "screen, selection, gate"
        )
        _conditions(status, run, "Evaluating", status.message, now)
        actions: list[StartWorkload | StartEvaluation | StopWorkload] = [start] if start else []
        return RunDecision(status, actions, requeue_after=RESYNC_SECONDS)
    assert last is not None
    if report is None:
        status.phase = RunPhase.FAILED
        status.completion_time = status.completion_time or now
        status.message = f"the evaluation {last.result_status or 'ended'}: {last.result_reason}"
        _finished_conditions(status, run, now)
        return RunDecision(status)
    if report.outcome in {Outcome.ACCEPTED, Outcome.UNGATED}:
        status.phase = RunPhase.SUCCEEDED
        status.completion_time = status.completion_time or now
        status.message = report.message
        _finished_conditions(status, run, now)
        return RunDecision(status)
    if report.outcome is Outcome.MERGE_FAILED:
        status.phase = RunPhase.FAILED
        status.completion_time = status.completion_time or now
        status.message = report.message
        _finished_conditions(status, run, now)
        return RunDecision(status)
    return _iterate_or_fail(run, status, iteration, report.message, now)


def _iterate_or_fail(
    run: Run, status: RunStatus, iteration: int, why: str, now: datetime
) -> RunDecision:
    """This iteration found no acceptable candidate: try again, or fail after the last."""
    if iteration < run.spec.max_iterations:
        status.iteration = iteration + 1
        status.phase = RunPhase.BUILDING
        status.completion_time = None
        status.message = f"iteration {iteration} found nothing to merge ({why}); iterating"
        _conditions(status, run, "Iterating", status.message, now)
        return RunDecision(status, requeue_after=0.2)
    status.phase = RunPhase.FAILED
    status.completion_time = status.completion_time or now
    status.message = f"no acceptable candidate after {iteration} iteration(s): {why}"
    _finished_conditions(status, run, now)
    return RunDecision(status)


def _feedback(reports: dict[int, EvaluationReport], iteration: int) -> tuple[str, ...]:
    """What the earlier iterations' evaluations said (ids and verifier names only)."""
    lines: list[str] = []
    for n in sorted(reports):
        if n < iteration:
            lines += [f"iteration {n}: {line}" for line in reports[n].feedback]
    return tuple(lines)


def _evaluation(report: EvaluationReport | None) -> Evaluation | None:
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
    )


def _candidates(run: Run, seen: RunObservation, iteration: int) -> list[_Candidate]:
    """This iteration's candidates: indexes (iteration-1)*K .. iteration*K-1."""
    k = max(candidate_count(run, seen.product), 1)
    first = (iteration - 1) * k
    builds = [w for w in seen.workloads if w.kind is WorkloadKind.BUILD and w.candidate >= first]
    last = max([first + k - 1, *(w.candidate for w in builds)])
    by_index: dict[int, list[ObservedWorkload]] = {i: [] for i in range(first, last + 1)}
    for w in sorted(builds, key=lambda w: (w.candidate, w.attempt)):
        by_index[w.candidate].append(w)
    return [_Candidate(i, attempts, seen.retry_errors) for i, attempts in by_index.items()]


def _next_attempt(run: Run, c: _Candidate, feedback: tuple[str, ...] = ()) -> StartWorkload | None:
    """The attempt to start for a candidate that should be running and is not."""
    last = c.last
    if last is None:
        return StartWorkload(c.index, 1, feedback)
    if last.running:
        return None
    if last.result_status is WorkloadStatus.STOPPED:
        return StartWorkload(c.index, last.attempt + 1, feedback)
    retry = c.retry_errors and c.errors <= run.spec.backoff_limit
    if last.result_status is WorkloadStatus.ERROR and retry:
        return StartWorkload(c.index, last.attempt + 1, feedback)
    return None


def _ended_as(c: _Candidate, outcome: WorkloadStatus) -> bool:
    return c.last is not None and c.last.result_status is outcome


def _stopping(
    run: Run, status: RunStatus, running: list[ObservedWorkload], now: datetime
) -> RunDecision:
    if running:
        status.message = f"stopping {len(running)} workload(s)"
        _conditions(status, run, "Stopping", status.message, now)
        return RunDecision(status, [StopWorkload(w.name) for w in running], requeue_after=1.0)
    status.phase = RunPhase.STOPPED
    status.message = "stopped on request; `sf run resume` continues from the last checkpoint"
    _set(
        status, run, "Stopped", status.message, now, ready=F, reconciling=F, stalled=F, succeeded=F
    )
    return RunDecision(status)


T, F, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


def _set(
    status: RunStatus,
    run: Run,
    reason: str,
    message: str,
    now: datetime,
    *,
    ready: ConditionStatus,
    reconciling: ConditionStatus,
    stalled: ConditionStatus,
    succeeded: ConditionStatus,
) -> None:
    """Set all four conditions at once, with one reason and message."""
    conds = status.conditions
    for kind, value in (
        (ConditionType.READY, ready),
        (ConditionType.RECONCILING, reconciling),
        (ConditionType.STALLED, stalled),
        (ConditionType.SUCCEEDED, succeeded),
    ):
        conds = set_condition(
            conds, kind, value, reason, message, generation=run.metadata.generation, now=now
        )
    status.conditions = conds


def _conditions(status: RunStatus, run: Run, reason: str, message: str, now: datetime) -> None:
    """In progress: Reconciling, not Ready, not Stalled, outcome Unknown."""
    _set(status, run, reason, message, now, ready=F, reconciling=T, stalled=F, succeeded=U)


def _stalled(status: RunStatus, run: Run, reason: str, message: str, now: datetime) -> None:
    """Cannot progress until something outside the run changes."""
    _set(status, run, reason, message, now, ready=F, reconciling=F, stalled=T, succeeded=U)


def _finished_conditions(status: RunStatus, run: Run, now: datetime) -> None:
    ok = status.phase is RunPhase.SUCCEEDED
    reason = "Succeeded" if ok else "Failed"
    message = status.message or reason
    if ok:
        _set(status, run, reason, message, now, ready=T, reconciling=F, stalled=F, succeeded=T)
    else:
        _set(status, run, reason, message, now, ready=F, reconciling=F, stalled=T, succeeded=F)


def _candidate_status(
    run: Run,
    c: _Candidate,
    report: EvaluationReport | None = None,
    evaluations: list[ObservedWorkload] | None = None,
) -> CandidateStatus:
    built = _built_status(run, c)
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


def _built_status(run: Run, c: _Candidate) -> CandidateStatus:
    branch = candidate_branch(run.metadata.name, c.index)
    last = c.last
    if last is None:
        phase = CandidatePhase.PENDING
    elif last.running:
        phase = CandidatePhase.BUILDING
    elif last.result_status is WorkloadStatus.SUCCEEDED:
        phase = CandidatePhase.BUILT
    elif last.result_status in {WorkloadStatus.STOPPED, WorkloadStatus.ERROR}:
        phase = (
            CandidatePhase.PENDING
            if _next_attempt(run, c) is not None or last.result_status is WorkloadStatus.STOPPED
            else CandidatePhase.FAILED
        )
    else:
        phase = CandidatePhase.FAILED
    return CandidateStatus(index=c.index, branch=branch, phase=phase)


def _building_message(
    candidates: list[_Candidate], starting: list[StartWorkload], iteration: int = 1
) -> str:
    running = sum(1 for c in candidates if c.last is not None and c.last.running)
    done = sum(1 for c in candidates if c.last is not None and not c.last.running)
    parts = [f"{running + len(starting)} of {len(candidates)} candidate(s) building"]
    if iteration > 1:
        parts[0] = f"iteration {iteration}: " + parts[0]
    if done - len(starting) > 0:
        parts.append(f"{done - len(starting)} ended")
    resumed = [s for s in starting if s.attempt > 1]
    if resumed:
        parts.append(
            "resuming " + ", ".join(f"c{s.candidate} (attempt {s.attempt})" for s in resumed)
        )
    return "; ".join(parts)


def _failure_message(candidates: list[_Candidate]) -> str:
    reasons = []
    for c in candidates:
        last = c.last
        if last is not None and last.result_status is not WorkloadStatus.SUCCEEDED:
            what = (last.result_status or "failed").lower()
            reasons.append(f"c{c.index} {what}: {last.result_reason or 'no reason given'}")
    return "; ".join(reasons) or "no candidate succeeded"


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


def workload_spec(
    run: Run,
    product: Product,
    candidate: int,
    attempt: int,
    runs_dir: Path,
    feedback: tuple[str, ...] = (),
) -> WorkloadSpec:
    """The runner workload for one candidate attempt of ``run``."""
    meta, engine = run.metadata, product.spec.engine
    goal = run.spec.goal
    if feedback:
        goal += "\n\nFeedback from earlier attempts (fix these):\n" + "\n".join(
            f"- {line}" for line in feedback
        )
    return WorkloadSpec(
        name=workload_name(meta.name, candidate, attempt),
        namespace=meta.namespace,
        product=product.metadata.name,
        run=meta.name,
        candidate=candidate,
        attempt=attempt,
        run_dir=RunDirectory.of(runs_dir, meta.namespace, meta.name).path,
        repo_path=Path(product.spec.repo.path) if product.spec.repo.path else None,
        repo_url=product.spec.repo.url,
        branch=product.spec.branch,
        pipeline=run.spec.pipeline or product.spec.pipeline,
        goal=goal,
        traceparent=meta.annotations.get(TRACEPARENT_ANNOTATION),
        agent_profile=engine.agent_profile.value,
        agent_executable=Path(engine.agent_executable) if engine.agent_executable else None,
        stage_timeout_seconds=engine.stage_timeout_seconds,
        pass_env=list(engine.pass_env),
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
