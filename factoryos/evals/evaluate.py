"""``EvaluationWorkload``: one iteration's screen, selection, gate and merge, in its own process.

The runner entrypoint starts it for an evaluation workload (``<run>-e<n>-<a>``,
kind ``evaluate``); locally a process of its own, on a cluster a Job. It is
the only workload that reads the holdout folder. For each candidate whose
pipeline succeeded it checks the candidate's branch out afresh, runs the
verifiers (the screen), picks a winner among the survivors on the selection
pool (``spec.selection``), runs the winner on the acceptance pool until the
planned number of trials or until the target is out of reach, decides with
the Clopper-Pearson bound at the iteration's share of alpha, and, when
accepted, merges the winner into the product branch. Every step is an event
in the run's log; the whole story is ``evaluations/i<n>/evaluation.json``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factoryos.errors import FactoryError, InvalidInputError
from factoryos.evals.gate import gate_design, insufficient, oc_curve, run_gate
from factoryos.evals.harness import Harness, ServiceSpec, TrialRecord
from factoryos.evals.merge import MergeError, merge_and_push, merge_winner
from factoryos.evals.scenarios import Pool, Scenario, expand, load_scenarios, pool
from factoryos.evals.selection import select
from factoryos.evals.sequential import Design
from factoryos.evals.verifiers import run_verifiers, screen_reason
from factoryos.events import EventLog, EventType, run_source
from factoryos.git import git
from factoryos.kilroy.sandbox import Sandbox
from factoryos.workloads import (
    EVALUATION_KEY,
    CandidateReport,
    EvaluationPlan,
    EvaluationReport,
    GateReport,
    Outcome,
    ProgressReporter,
    RoundReport,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
    candidate_branch,
)


class _StopRequestedError(Exception):
    """A stop was requested; the evaluation starts afresh on resume."""


class EvaluationWorkload:
    """Runs ``spec.evaluation`` (see the module docstring)."""

    def __init__(
        self,
        spec: WorkloadSpec,
        env: Mapping[str, str],
        progress: ProgressReporter | None = None,
        sandbox_for: Callable[[Path], Sandbox] | None = None,
    ) -> None:
        """``sandbox_for``: the sandbox a candidate's code runs in, given the candidate's
        folder in this evaluation (its checkout and home); None: unsandboxed."""
        if spec.evaluation is None:
            raise InvalidInputError(f"workload {spec.name} has no evaluation plan")
        self.spec = spec
        self.plan: EvaluationPlan = spec.evaluation
        self.env = env
        self.folder = spec.layout.evaluation(self.plan.iteration)
        self.log = EventLog(spec.layout.events, run_source(spec.product, spec.run))
        self._stop = threading.Event()
        self._trials: list[dict[str, Any]] = []
        self._progress = progress
        self._sandbox_for = sandbox_for

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> WorkloadResult:
        try:
            report = self._evaluate()
        except _StopRequestedError:
            return _result(WorkloadStatus.STOPPED, "stopped; the evaluation reruns on resume")
        except InvalidInputError as exc:
            return _result(WorkloadStatus.INVALID, str(exc))
        except FactoryError as exc:
            return _result(WorkloadStatus.ERROR, str(exc))
        report.write(self.folder)
        ok = report.outcome in {Outcome.ACCEPTED, Outcome.UNGATED}
        result = _result(WorkloadStatus.SUCCEEDED if ok else WorkloadStatus.FAILED, report.message)
        if self._progress is not None:  # on a cluster: where the operator reads the report
            summary = report.model_copy(update={"trials": []}).model_dump_json(by_alias=True)
            self._progress.finish(
                result.model_dump(mode="json", exclude_none=True), {EVALUATION_KEY: summary}
            )
        return result

    # -- the steps ---------------------------------------------------------------------

    def _evaluate(self) -> EvaluationReport:
        plan = self.plan
        reports = {c: self._screen(c) for c in plan.candidates}
        screened = [c for c, r in reports.items() if r.screened_out_reason is None]
        feedback = [
            f"c{c}: {r.screened_out_reason}" for c, r in reports.items() if r.screened_out_reason
        ]
        if not screened:
            return self._report(
                Outcome.SCREENED_OUT, "no candidate passed the screen", reports, feedback=feedback
            )
        if plan.holdouts is None:
            winner = screened[0]
            message = f"c{winner} passed the screen; no holdouts, so nothing was gated or merged"
            return self._report(Outcome.UNGATED, message, reports, winner=winner)
        if not plan.holdouts.is_dir():
            raise InvalidInputError(
                f"the holdouts are not available to this evaluation ({plan.holdouts} is missing): "
                "locally they are read from the product's spec.holdouts.path; on a cluster a "
                "Secret, ConfigMap or volume claim is mounted into the evaluation Job only"
            )
        scenarios = load_scenarios(plan.holdouts)
        acceptance = expand(pool(scenarios, Pool.ACCEPTANCE))
        if not acceptance:
            raise InvalidInputError(f"the holdouts in {plan.holdouts} have no acceptance pool")
        design = self._design()
        short = insufficient(len(acceptance), design, plan.acceptance.trials)
        if short is not None:
            return self._report(Outcome.INSUFFICIENT_SCENARIOS, short, reports, feedback=feedback)
        service = (
            ServiceSpec(
                plan.service.command,
                plan.service.ready_path,
                float(plan.service.start_timeout_seconds),
            )
            if plan.service
            else None
        )
        voice = None
        if any(s.needs_voice for s in scenarios):
            from factoryos.voice.chains import default_chains

            stt, tts = default_chains(self.env)
            voice = (tts, stt)
        harnesses = {
            c: Harness(self._checkout(c), self.env, service, voice, self._sandbox(c))
            for c in screened
        }
        with contextlib.ExitStack() as stack:
            sessions = {c: stack.enter_context(h.session(scenarios)) for c, h in harnesses.items()}
            selection = expand(pool(scenarios, Pool.SELECTION))
            winner, rounds = self._select(screened, selection, sessions)
            for r in rounds:
                for c in r.eliminated:
                    reports[c] = reports[c].model_copy(update={"eliminated_in": r.number})
            gate, failed_ids = self._gate(winner, design, acceptance, sessions[winner])
        if not gate.accepted:
            feedback.append(
                f"c{winner} (the best on the selection pool) failed acceptance scenarios: "
                + ", ".join(failed_ids)
            )
            return self._report(
                Outcome.REJECTED, gate.reason, reports, winner, rounds, gate, feedback=feedback
            )
        return self._merge(reports, winner, rounds, gate)

    def _screen(self, candidate: int) -> CandidateReport:
        self._check_stop()
        branch = candidate_branch(self.spec.run, candidate)
        subject = f"candidates/{candidate}"
        self.log.append(EventType.VERIFIER_STARTED, {"candidate": candidate}, subject=subject)
        results = run_verifiers(
            self.plan.verifiers,
            self._checkout(candidate),
            self.folder / f"c{candidate}" / "verifiers",
            self.env,
            self._sandbox(candidate),
        )
        reason = screen_reason(results)
        self.log.append(
            EventType.VERIFIER_FINISHED,
            {
                "candidate": candidate,
                "passed": reason is None,
                "reason": reason,
                "verifiers": [r.model_dump(mode="json", exclude_none=True) for r in results],
            },
            subject=subject,
        )
        return CandidateReport(
            index=candidate, branch=branch, verifiers=results, screened_out_reason=reason
        )

    def _select(
        self,
        screened: list[int],
        selection: list[Scenario],
        sessions: dict[int, Callable[[Scenario, int], TrialRecord]],
    ) -> tuple[int, list[RoundReport]]:
        if len(screened) == 1 or not selection:
            return screened[0], []

        def trial(candidate: int, index: int) -> bool:
            scenario = selection[index % len(selection)]
            return self._trial(candidate, sessions[candidate], scenario, index // len(selection))

        spec = self.plan.selection
        result = select(
            spec.strategy.value,
            screened,
            trial,
            eta=spec.eta,
            trials_per_round=spec.trials_per_round,
            rounds=spec.rounds,
            max_trials=spec.max_trials,
            delta=spec.delta,
        )
        rounds = []
        for r in result.rounds:
            ids = sorted({selection[i % len(selection)].id for i in r.scenarios})
            rounds.append(RoundReport(number=r.number, survivors=r.survivors, scenarios=ids,
                                      eliminated=r.eliminated))  # fmt: skip
            self.log.append(
                EventType.EVAL_ROUND,
                {
                    "round": r.number,
                    "survivors": r.survivors,
                    "eliminated": r.eliminated,
                    "scores": {
                        str(c): [result.scores[c].passes, result.scores[c].trials]
                        for c in r.survivors
                    },
                },
                subject="selection",
            )
        return result.winner, rounds

    def _design(self) -> Design:
        spec = self.plan.acceptance
        return gate_design(spec.method.value, spec.target, spec.alpha, spec.sided.value,
                           spec.power, spec.power_at, self.plan.max_iterations)  # fmt: skip

    def _gate(
        self,
        winner: int,
        design: Design,
        acceptance: list[Scenario],
        session: Callable[[Scenario, int], TrialRecord],
    ) -> tuple[GateReport, list[str]]:
        """Distinct instances in order, until the design decides (repeated trials: the pool
        over again, each repetition of an instance recorded for its flakiness)."""
        spec = self.plan.acceptance
        failed: set[str] = set()
        outcomes: dict[str, set[bool]] = {}

        def trial(i: int) -> bool:
            scenario = acceptance[i % len(acceptance)]
            passed = self._trial(winner, session, scenario, i // len(acceptance))
            outcomes.setdefault(scenario.id, set()).add(passed)
            if not passed:
                failed.add(scenario.setup_key)
            return passed

        run = run_gate(design, trial)
        gate = GateReport(
            candidate=winner, planned=design.max_trials, n=run.trials, k=run.passes,
            lower_bound=run.bound, target=spec.target, alpha=design.alpha, sided=spec.sided.value,
            accepted=run.accepted, reason=run.reason(),
            stopped_early=run.trials < design.max_trials, method=design.method.value,
            power=design.power, power_at=design.power_at, looks_taken=run.looks_taken,
            design=design.to_json(), oc=oc_curve(design), instances=len(acceptance),
            trials_kind=spec.trials.value, flaky=sum(len(o) > 1 for o in outcomes.values()),
        )  # fmt: skip
        self.log.append(EventType.GATE_DECIDED, gate.model_dump(mode="json"), subject="gate")
        return gate, sorted(failed)

    def _merge(
        self,
        reports: dict[int, CandidateReport],
        winner: int,
        rounds: list[RoundReport],
        gate: GateReport,
    ) -> EvaluationReport:
        branch = candidate_branch(self.spec.run, winner)
        if self.plan.merge_into is None and not self.plan.push:
            message = f"c{winner} accepted ({gate.reason}); no repository to merge into"
            return self._report(Outcome.ACCEPTED, message, reports, winner, rounds, gate)
        subject = (
            f"Merge {branch}: {self.spec.goal.splitlines()[0][:60]}\n\n"
            f"Factory OS run {self.spec.run}, iteration {self.plan.iteration}: {gate.reason}."
        )
        clone = self.spec.layout.repo(winner)
        try:
            if self.plan.merge_into is not None:
                commit = merge_winner(
                    self.plan.merge_into, self.plan.product_branch, clone, branch, subject
                )
            else:
                commit = merge_and_push(clone, self.plan.product_branch, branch, subject)
        except MergeError as exc:
            return self._report(
                Outcome.MERGE_FAILED, f"c{winner} was accepted, but the merge failed: {exc}",
                reports, winner, rounds, gate,
            )  # fmt: skip
        message = (
            f"c{winner} accepted ({gate.reason}) and merged into "
            f"{self.plan.product_branch} as {commit[:12]}"
        )
        return self._report(Outcome.ACCEPTED, message, reports, winner, rounds, gate,
                            merged=commit)  # fmt: skip

    # -- helpers ---------------------------------------------------------------------

    def _trial(
        self,
        candidate: int,
        session: Callable[[Scenario, int], TrialRecord],
        scenario: Scenario,
        round_trip: int,
    ) -> bool:
        self._check_stop()
        record = session(scenario, round_trip + 1)
        self._trials.append({"candidate": candidate, **record.to_json()})
        self.log.append(
            EventType.EVAL_TRIAL,
            {"candidate": candidate, "scenario": scenario.id, "pool": scenario.pool.value,
             "passed": record.passed, "seconds": record.seconds},
            subject=f"candidates/{candidate}",
        )  # fmt: skip
        return record.passed

    def _sandbox(self, candidate: int) -> Sandbox | None:
        """Where the candidate's code runs: only its checkout and home are writable there."""
        if self._sandbox_for is None:
            return None
        return self._sandbox_for(self._checkout(candidate).parent)

    def _checkout(self, candidate: int) -> Path:
        """A fresh checkout of the candidate's branch (not Kilroy's worktree)."""
        dest = self.folder / f"c{candidate}" / "worktree"
        if (dest / ".git").exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        branch = candidate_branch(self.spec.run, candidate)
        source = self.spec.layout.repo(candidate)
        cloned = git(source, "clone", "-q", "--branch", branch, str(source), str(dest))
        if cloned.returncode != 0:
            raise FactoryError(f"cannot check out {branch}: {cloned.stderr.strip()}")
        return dest

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _StopRequestedError

    def _report(
        self,
        outcome: Outcome,
        message: str,
        reports: dict[int, CandidateReport],
        winner: int | None = None,
        rounds: list[RoundReport] | None = None,
        gate: GateReport | None = None,
        *,
        merged: str | None = None,
        feedback: list[str] | None = None,
    ) -> EvaluationReport:
        candidates = []
        for c, r in reports.items():
            selection = [
                t for t in self._trials if t["candidate"] == c and t["pool"] == Pool.SELECTION.value
            ]
            passes = sum(bool(t["passed"]) for t in selection)
            candidates.append(r.model_copy(update={"passes": passes, "trials": len(selection)}))
        return EvaluationReport(
            iteration=self.plan.iteration,
            outcome=outcome,
            message=message,
            candidates=candidates,
            winner=winner,
            rounds=rounds or [],
            gate=gate,
            merged_commit=merged,
            feedback=feedback or [],
            trials=list(self._trials),
        )


def _result(status: WorkloadStatus, reason: str) -> WorkloadResult:
    return WorkloadResult(status=status, reason=reason, finished_at=datetime.now(UTC))
