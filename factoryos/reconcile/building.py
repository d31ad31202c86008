"""The building phase: this iteration's candidates and their build workloads.

An iteration builds K candidates (indexes ``(n-1)K .. nK-1``, branches
``factory/<run>/c<i>``), one workload attempt at a time each: the first
attempt once the run is admitted (or is under way, or iterating), a resume
(the next attempt, from the last checkpoint) after a stop, a retry after an
infrastructure error up to ``spec.backoffLimit`` unless the platform retried
already. ``build`` decides the pass while any candidate builds or waits to;
once every pipeline has ended it returns None and the run goes on to its
evaluation, unless no candidate built: then the run fails at once (Kilroy
retries stages itself, so a failed pipeline is not retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factoryos.models import CandidatePhase, CandidateStatus, Product, Run, RunPhase, RunStatus
from factoryos.models.agents import merged
from factoryos.reconcile.finishing import finish
from factoryos.reconcile.run_conditions import mark_in_progress
from factoryos.reconcile.run_types import (
    RESYNC_SECONDS,
    ObservedWorkload,
    RunDecision,
    RunObservation,
    StartWorkload,
)
from factoryos.telemetry import TRACEPARENT_ANNOTATION
from factoryos.workloads import (
    RunDirectory,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
    candidate_branch,
    workload_name,
)


@dataclass
class Candidate:
    """One candidate of the iteration and its build attempts so far, oldest first."""

    index: int
    attempts: list[ObservedWorkload]
    retry_errors: bool = True

    @property
    def last(self) -> ObservedWorkload | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def errors(self) -> int:
        return sum(1 for w in self.attempts if w.result_status is WorkloadStatus.ERROR)

    def ended_as(self, outcome: WorkloadStatus) -> bool:
        return self.last is not None and self.last.result_status is outcome


def candidate_count(run: Run, product: Product | None) -> int:
    """K for this run: its own, else its product's, else 1."""
    if run.spec.candidates is not None:
        return run.spec.candidates
    return product.spec.candidates if product is not None else 1


def iteration_candidates(run: Run, seen: RunObservation, iteration: int) -> list[Candidate]:
    """This iteration's candidates: indexes (iteration-1)*K .. iteration*K-1."""
    k = max(candidate_count(run, seen.product), 1)
    first = (iteration - 1) * k
    builds = [w for w in seen.workloads if w.kind is WorkloadKind.BUILD and w.candidate >= first]
    last = max([first + k - 1, *(w.candidate for w in builds)])
    by_index: dict[int, list[ObservedWorkload]] = {i: [] for i in range(first, last + 1)}
    for w in sorted(builds, key=lambda w: (w.candidate, w.attempt)):
        by_index[w.candidate].append(w)
    return [Candidate(i, attempts, seen.retry_errors) for i, attempts in by_index.items()]


def built_candidates(candidates: list[Candidate]) -> tuple[int, ...]:
    """The indexes of the candidates whose pipeline succeeded."""
    return tuple(c.index for c in candidates if c.ended_as(WorkloadStatus.SUCCEEDED))


def next_attempt(run: Run, c: Candidate, feedback: tuple[str, ...] = ()) -> StartWorkload | None:
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


def build(
    run: Run,
    seen: RunObservation,
    status: RunStatus,
    candidates: list[Candidate],
    feedback: tuple[str, ...],
    iteration: int,
) -> RunDecision | None:
    """The pass while this iteration's candidates build or wait to; None once all built."""
    running = [w for w in seen.workloads if w.running]
    may_start = bool(running) or seen.admission.admitted or iteration > 1
    wanted = [s for c in candidates if (s := next_attempt(run, c, feedback)) is not None]
    starts = wanted if may_start else []
    if starts or any(w.kind is WorkloadKind.BUILD for w in running):
        status.phase = RunPhase.BUILDING
        status.completion_time = None
        status.message = _building_message(candidates, starts, iteration)
        mark_in_progress(status, run, "Building", status.message, seen.now)
        return RunDecision(status, list(starts), requeue_after=RESYNC_SECONDS)
    if wanted:
        status.phase = RunPhase.PENDING
        status.message = seen.admission.reason or "waiting to start"
        mark_in_progress(status, run, "Queued", status.message, seen.now)
        return RunDecision(status)
    if not built_candidates(candidates):  # a pipeline failure is the pipeline's to retry
        return finish(run, status, RunPhase.FAILED, _failure_message(candidates), seen.now)
    return None


def built_status(run: Run, c: Candidate) -> CandidateStatus:
    """A candidate's status from its build attempts alone."""
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
            if next_attempt(run, c) is not None or last.result_status is WorkloadStatus.STOPPED
            else CandidatePhase.FAILED
        )
    else:
        phase = CandidatePhase.FAILED
    return CandidateStatus(index=c.index, branch=branch, phase=phase)


def _building_message(
    candidates: list[Candidate], starting: list[StartWorkload], iteration: int = 1
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


def _failure_message(candidates: list[Candidate]) -> str:
    reasons = []
    for c in candidates:
        last = c.last
        if last is not None and last.result_status is not WorkloadStatus.SUCCEEDED:
            what = (last.result_status or "failed").lower()
            reasons.append(f"c{c.index} {what}: {last.result_reason or 'no reason given'}")
    return "; ".join(reasons) or "no candidate succeeded"


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
        agent=merged(engine, run.spec.engine),
        credential=engine.credential,
        stage_timeout_seconds=engine.stage_timeout_seconds,
        pass_env=list(engine.pass_env),
        image=engine.image,
        isolation=product.spec.isolation,
    )
