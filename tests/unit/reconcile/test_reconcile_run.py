"""``reconcile_run``: from a Run and what was observed to actions and one new status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from builders import at, evaluation, product, report, run, seen, workload

from factoryos.models import CandidatePhase, DesiredState, Run, RunPhase
from factoryos.reconcile import (
    Admission,
    RunDecision,
    RunObservation,
    StartEvaluation,
    StartWorkload,
    StopWorkload,
    reconcile_run,
)
from factoryos.workloads import CandidateReport, GateReport, Holdup, Outcome
from factoryos.workloads import WorkloadStatus as W


def conditions(decision: RunDecision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in decision.status.conditions}


def again(r: Run, decision: RunDecision, observation: RunObservation) -> RunDecision:
    """Reconcile ``r`` once more, with the status the last pass wrote."""
    r = r.model_copy(deep=True)
    r.status = decision.status
    return reconcile_run(r, observation)


class TestStarting:
    def test_an_admitted_run_starts_every_candidate(self) -> None:
        decision = reconcile_run(run(candidates=3), seen())
        assert decision.actions == [StartWorkload(i, 1) for i in range(3)]
        assert decision.status.phase is RunPhase.BUILDING
        assert conditions(decision) == {
            "Ready": ("False", "Building"),
            "Reconciling": ("True", "Building"),
            "Stalled": ("False", "Building"),
            "Succeeded": ("Unknown", "Building"),
        }
        assert decision.status.message == "3 of 3 candidate(s) building"
        assert decision.requeue_after is not None and not decision.release
        assert [c.branch for c in decision.status.candidates] == [
            "factory/r/c0",
            "factory/r/c1",
            "factory/r/c2",
        ]

    def test_k_comes_from_the_product_unless_the_run_says(self) -> None:
        decision = reconcile_run(run(), seen(product_=product(candidates=2)))
        assert decision.actions == [StartWorkload(0, 1), StartWorkload(1, 1)]
        decision = reconcile_run(run(candidates=1), seen(product_=product(candidates=2)))
        assert decision.actions == [StartWorkload(0, 1)]

    def test_a_queued_run_waits_and_says_why(self) -> None:
        decision = reconcile_run(run(), seen(admitted=False, reason="queued (1 of 1)"))
        assert decision.actions == []
        assert decision.status.phase is RunPhase.PENDING
        assert decision.status.message == "queued (1 of 1)"
        assert conditions(decision)["Reconciling"] == ("True", "Queued")
        assert conditions(decision)["Ready"] == ("False", "Queued")
        assert decision.status.start_time is None

    def test_a_running_workload_is_left_alone(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload()))
        assert decision.actions == []
        assert decision.status.phase is RunPhase.BUILDING
        assert decision.status.candidates[0].phase is CandidatePhase.BUILDING
        assert decision.status.start_time == at(1)
        assert decision.status.iteration == 1

    def test_a_run_under_way_starts_its_other_candidates_without_a_new_slot(self) -> None:
        decision = reconcile_run(
            run(candidates=2, phase=RunPhase.BUILDING), seen(workload(0), admitted=False)
        )
        assert decision.actions == [StartWorkload(1, 1)]
        assert decision.status.phase is RunPhase.BUILDING

    def test_workload_logs_are_listed_as_artifacts(self) -> None:
        decision = reconcile_run(run(), seen(workload(0, 1, W.STOPPED), workload(0, 2)))
        assert [a.path for a in decision.status.artifacts] == [
            "events.ndjson",
            "workloads/r-c0-1/output.log",
            "workloads/r-c0-2/output.log",
        ]


class TestEnding:
    def test_success(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.EVALUATING),
            seen(workload(result=W.SUCCEEDED), evaluation(result=W.SUCCEEDED),
                 evaluations={1: report(message="c0 passed the screen")}),
        )  # fmt: skip
        assert decision.actions == []
        assert decision.status.phase is RunPhase.SUCCEEDED
        assert decision.status.completion_time == at(100)
        assert conditions(decision) == {
            "Ready": ("True", "Succeeded"),
            "Reconciling": ("False", "Succeeded"),
            "Stalled": ("False", "Succeeded"),
            "Succeeded": ("True", "Succeeded"),
        }
        assert decision.status.candidates[0].phase is CandidatePhase.WINNER
        assert decision.status.message == "c0 passed the screen"

    def test_every_built_candidate_is_evaluated(self) -> None:
        decision = reconcile_run(
            run(candidates=2, phase=RunPhase.BUILDING),
            seen(workload(0, result=W.SUCCEEDED), workload(1, result=W.SUCCEEDED)),
        )
        assert decision.status.phase is RunPhase.EVALUATING
        assert decision.actions == [StartEvaluation(1, 1, (0, 1))]

    def test_the_run_waits_for_its_last_candidate(self) -> None:
        decision = reconcile_run(
            run(candidates=2, phase=RunPhase.BUILDING),
            seen(workload(0, result=W.SUCCEEDED), workload(1)),
        )
        assert decision.status.phase is RunPhase.BUILDING
        assert decision.status.completion_time is None
        assert "1 ended" in (decision.status.message or "")

    def test_a_failed_pipeline_fails_the_run_with_its_reason(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING), seen(workload(result=W.FAILED, reason="tests failed"))
        )
        assert decision.actions == []
        assert decision.status.phase is RunPhase.FAILED
        assert decision.status.message == "c0 failed: tests failed"
        assert decision.status.completion_time == at(100)
        assert conditions(decision) == {
            "Ready": ("False", "Failed"),
            "Reconciling": ("False", "Failed"),
            "Stalled": ("True", "Failed"),
            "Succeeded": ("False", "Failed"),
        }
        stalled = next(c for c in decision.status.conditions if c.type == "Stalled")
        assert "tests failed" in stalled.message

    def test_invalid_input_is_not_retried(self) -> None:
        decision = reconcile_run(run(), seen(workload(result=W.INVALID, reason="bad pipeline")))
        assert decision.actions == [] and decision.status.phase is RunPhase.FAILED
        assert decision.status.message == "c0 invalid: bad pipeline"
        assert conditions(decision)["Stalled"] == ("True", "Failed")

    def test_a_failure_without_a_reason_says_so(self) -> None:
        decision = reconcile_run(run(), seen(workload(result=W.FAILED)))
        assert decision.status.message == "c0 failed: no reason given"

    def test_every_failed_candidate_is_named(self) -> None:
        decision = reconcile_run(
            run(candidates=2),
            seen(workload(0, result=W.FAILED, reason="x"), workload(1, result=W.INVALID)),
        )
        assert decision.status.message == "c0 failed: x; c1 invalid: no reason given"

    def test_only_built_candidates_are_evaluated(self) -> None:
        decision = reconcile_run(
            run(candidates=2),
            seen(workload(0, result=W.SUCCEEDED), workload(1, result=W.FAILED, reason="x")),
        )
        assert decision.actions == [StartEvaluation(1, 1, (0,))]
        assert [c.phase for c in decision.status.candidates] == [
            CandidatePhase.BUILT,
            CandidatePhase.FAILED,
        ]

    def test_a_finished_run_stays_finished(self) -> None:
        done = run(phase=RunPhase.SUCCEEDED)
        decision = reconcile_run(done, seen(workload(result=W.SUCCEEDED)))
        assert decision.actions == [] and decision.status.phase is RunPhase.SUCCEEDED
        failed = run(phase=RunPhase.FAILED)
        decision = reconcile_run(failed, seen(workload(result=W.STOPPED)))
        assert decision.actions == [] and decision.status.phase is RunPhase.FAILED


class TestRetries:
    @pytest.mark.parametrize("limit", [0, 1, 2])
    def test_infrastructure_errors_are_retried_up_to_the_backoff_limit(self, limit: int) -> None:
        r = run(backoffLimit=limit, phase=RunPhase.BUILDING)
        errors = [workload(attempt=a, result=W.ERROR, reason="oom") for a in range(1, limit + 1)]
        retried = reconcile_run(r, seen(*errors))
        if limit:
            assert retried.actions == [StartWorkload(0, limit + 1)]
            assert retried.status.phase is RunPhase.BUILDING
        last = workload(attempt=limit + 1, result=W.ERROR, reason="oom")
        failed = reconcile_run(r, seen(*errors, last))
        assert failed.actions == []
        assert failed.status.phase is RunPhase.FAILED
        assert failed.status.message == "c0 error: oom"
        assert failed.status.candidates[0].phase is CandidatePhase.FAILED
        assert conditions(failed)["Stalled"] == ("True", "Failed")

    def test_the_default_limit_allows_two_retries(self) -> None:
        twice = [workload(0, 1, W.ERROR), workload(0, 2, W.ERROR)]
        assert reconcile_run(run(), seen(*twice)).actions == [StartWorkload(0, 3)]
        thrice = reconcile_run(run(), seen(*twice, workload(0, 3, W.ERROR)))
        assert thrice.actions == [] and thrice.status.phase is RunPhase.FAILED

    def test_a_candidate_waiting_for_its_retry_is_pending(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING), seen(workload(result=W.ERROR), admitted=False)
        )
        assert decision.status.candidates[0].phase is CandidatePhase.PENDING

    def test_stops_do_not_count_against_the_limit(self) -> None:
        history = seen(
            workload(0, 1, W.STOPPED), workload(0, 2, W.STOPPED), workload(0, 3, W.ERROR)
        )
        assert reconcile_run(run(backoffLimit=1), history).actions == [StartWorkload(0, 4)]

    def test_no_retries_where_the_platform_retried_already(self) -> None:
        observation = RunObservation(
            product=product(),
            workloads=[workload(result=W.ERROR, reason="node lost")],
            stages=[],
            admission=Admission(True),
            now=at(100),
            retry_errors=False,
        )
        decision = reconcile_run(run(), observation)
        assert decision.actions == [] and decision.status.phase is RunPhase.FAILED

    def test_a_failed_candidate_is_not_retried_while_another_retries(self) -> None:
        decision = reconcile_run(
            run(candidates=2, phase=RunPhase.BUILDING),
            seen(workload(0, result=W.FAILED), workload(1, result=W.ERROR)),
        )
        assert decision.actions == [StartWorkload(1, 2)]


class TestStopAndResume:
    def test_stop_asks_running_workloads_to_stop(self) -> None:
        decision = reconcile_run(
            run(candidates=2, phase=RunPhase.BUILDING, desired=DesiredState.STOPPED),
            seen(workload(0), workload(1, result=W.SUCCEEDED)),
        )
        assert decision.actions == [StopWorkload("r-c0-1")]
        assert decision.status.phase is RunPhase.BUILDING
        assert conditions(decision)["Reconciling"] == ("True", "Stopping")

    def test_once_nothing_runs_the_run_is_stopped(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING, desired=DesiredState.STOPPED),
            seen(workload(result=W.STOPPED)),
        )
        assert decision.actions == []
        assert decision.status.phase is RunPhase.STOPPED
        assert conditions(decision) == {
            "Ready": ("False", "Stopped"),
            "Reconciling": ("False", "Stopped"),
            "Stalled": ("False", "Stopped"),
            "Succeeded": ("False", "Stopped"),
        }
        assert decision.status.candidates[0].phase is CandidatePhase.PENDING

    def test_a_run_stopped_before_it_started_is_stopped(self) -> None:
        decision = reconcile_run(run(desired=DesiredState.STOPPED), seen())
        assert decision.actions == [] and decision.status.phase is RunPhase.STOPPED

    def test_a_stopped_run_starts_nothing_even_when_admitted(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.STOPPED, desired=DesiredState.STOPPED),
            seen(workload(result=W.STOPPED)),
        )
        assert decision.actions == [] and decision.status.phase is RunPhase.STOPPED

    def test_resume_starts_the_next_attempt(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.STOPPED), seen(workload(result=W.STOPPED)))
        assert decision.actions == [StartWorkload(0, 2)]
        assert decision.status.phase is RunPhase.BUILDING
        assert "resuming c0 (attempt 2)" in (decision.status.message or "")
        assert conditions(decision)["Reconciling"] == ("True", "Building")

    def test_resume_restarts_only_what_had_not_ended(self) -> None:
        decision = reconcile_run(
            run(candidates=3, phase=RunPhase.STOPPED),
            seen(workload(0, 1, W.SUCCEEDED), workload(1, 2, W.STOPPED)),
        )
        assert decision.actions == [StartWorkload(1, 3), StartWorkload(2, 1)]

    def test_a_resumed_run_waits_for_a_slot_like_any_other(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.STOPPED), seen(workload(result=W.STOPPED), admitted=False)
        )
        assert decision.actions == [] and decision.status.phase is RunPhase.PENDING

    def test_workloads_stopped_by_a_shutdown_are_resumed(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload(result=W.STOPPED)))
        assert decision.actions == [StartWorkload(0, 2)]
        assert decision.status.phase is RunPhase.BUILDING


class TestEdges:
    def test_a_missing_product_stalls_the_run(self) -> None:
        decision = reconcile_run(run(), seen(missing_product=True))
        assert decision.actions == []
        assert conditions(decision)["Stalled"] == ("True", "ProductNotFound")
        assert conditions(decision)["Reconciling"] == ("False", "ProductNotFound")
        assert decision.status.message == "product 'p' not found"
        assert decision.status.phase is RunPhase.PENDING

    def test_a_missing_product_stops_what_still_runs(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING), seen(workload(), missing_product=True)
        )
        assert decision.actions == [StopWorkload("r-c0-1")]
        assert decision.status.phase is RunPhase.BUILDING

    def test_deletion_stops_workloads_and_releases_only_when_none_runs(self) -> None:
        deleting = run(phase=RunPhase.BUILDING)
        deleting.metadata.deletion_timestamp = at(50)
        busy = reconcile_run(deleting, seen(workload()))
        assert busy.actions == [StopWorkload("r-c0-1")] and not busy.release
        assert conditions(busy)["Reconciling"] == ("True", "Deleting")
        idle = reconcile_run(deleting, seen(workload(result=W.STOPPED)))
        assert idle.actions == [] and idle.release

    def test_deletion_never_starts_anything(self) -> None:
        deleting = run(candidates=2)
        deleting.metadata.deletion_timestamp = at(50)
        decision = reconcile_run(deleting, seen(workload(0, result=W.ERROR)))
        assert decision.actions == [] and decision.release
        finished = run(phase=RunPhase.SUCCEEDED)
        finished.metadata.deletion_timestamp = at(50)
        assert reconcile_run(finished, seen(workload(result=W.SUCCEEDED))).release

    def test_the_input_run_is_not_modified(self) -> None:
        r = run()
        before = r.model_copy(deep=True)
        reconcile_run(r, seen(workload(result=W.SUCCEEDED)))
        assert r == before


Scenario = tuple[Run, Callable[[float], RunObservation]]
SCENARIOS: dict[str, Scenario] = {
    "queued": (run(), lambda now: seen(admitted=False, reason="queued", now=now)),
    "building": (run(), lambda now: seen(workload(), now=now)),
    "succeeded": (run(), lambda now: seen(workload(result=W.SUCCEEDED), now=now)),
    "failed": (run(), lambda now: seen(workload(result=W.FAILED, reason="x"), now=now)),
    "stopping": (
        run(phase=RunPhase.BUILDING, desired=DesiredState.STOPPED),
        lambda now: seen(workload(), now=now),
    ),
    "stopped": (run(desired=DesiredState.STOPPED), lambda now: seen(now=now)),
    "no product": (run(), lambda now: seen(missing_product=True, now=now)),
}


class TestBlocked:
    def test_runs_of_a_product_being_deleted_stop_and_start_nothing(self) -> None:
        going = product()
        going.metadata.deletion_timestamp = at(10)
        waiting = reconcile_run(run(), seen(product_=going))
        busy = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload(), product_=going))
        assert waiting.actions == [] and busy.actions == [StopWorkload("r-c0-1")]
        assert conditions(waiting)["Stalled"] == ("True", "ProductDeleting")

    def test_a_blocked_run_stalls_with_the_reason_and_starts_nothing(self) -> None:
        blocked = replace(seen(), blocked=("SecretNotFound", "Secret 'x' not found"))
        decision = reconcile_run(run(), blocked)
        assert decision.actions == [] and decision.status.phase is RunPhase.PENDING
        assert conditions(decision)["Stalled"] == ("True", "SecretNotFound")
        assert decision.status.message == "Secret 'x' not found"
        # A workload already running is not disturbed by it.
        busy = replace(seen(workload()), blocked=("SecretNotFound", "gone"))
        assert reconcile_run(run(phase=RunPhase.BUILDING), busy).status.phase is RunPhase.BUILDING


class TestConditions:
    def test_conditions_carry_the_generation_and_keep_their_transition_time(self) -> None:
        r = run()
        r.metadata.generation = 7
        first = reconcile_run(r, seen(workload(), now=100))
        again_ = again(r, first, seen(workload(), now=200))
        assert again_.status == first.status
        assert {c.observed_generation for c in again_.status.conditions} == {7}
        assert again_.status.observed_generation == 7
        assert {c.last_transition_time for c in again_.status.conditions} == {at(100)}

    @pytest.mark.parametrize("name", list(SCENARIOS))
    def test_the_same_inputs_later_give_the_same_status(self, name: str) -> None:
        r, observe = SCENARIOS[name]
        first = reconcile_run(r, observe(100))
        second = again(r, first, observe(200))
        assert second.status == first.status
        assert second.actions == first.actions

    def test_a_new_generation_is_observed_without_a_transition(self) -> None:
        r = run()
        first = reconcile_run(r, seen(workload(), now=100))
        r.metadata.generation = 2
        second = again(r, first, seen(workload(), now=200))
        assert {c.observed_generation for c in second.status.conditions} == {2}
        assert {c.last_transition_time for c in second.status.conditions} == {at(100)}

    def test_only_conditions_whose_status_changes_move_their_transition_time(self) -> None:
        r = run(phase=RunPhase.BUILDING)
        building = reconcile_run(r, seen(workload(), now=100))
        done = again(
            r, building,
            seen(workload(result=W.SUCCEEDED), evaluation(result=W.SUCCEEDED), now=200,
                 evaluations={1: report()}),
        )  # fmt: skip
        times = {c.type: c.last_transition_time for c in done.status.conditions}
        assert times == {
            "Ready": at(200),
            "Reconciling": at(200),
            "Stalled": at(100),
            "Succeeded": at(200),
        }
        assert done.status.completion_time == at(200)
        later = again(
            r, done,
            seen(workload(result=W.SUCCEEDED), evaluation(result=W.SUCCEEDED), now=300,
                 evaluations={1: report()}),
        )  # fmt: skip
        assert later.status.completion_time == at(200)


class TestEvaluation:
    """After the builds: one evaluation per iteration, and what its report decides."""

    built = (workload(0, result=W.SUCCEEDED), workload(1, result=W.SUCCEEDED))

    def test_a_running_evaluation_is_waited_for(self) -> None:
        decision = reconcile_run(run(candidates=2), seen(*self.built, evaluation()))
        assert decision.actions == [] and decision.status.phase is RunPhase.EVALUATING
        phases = {c.phase for c in decision.status.candidates}
        assert phases == {CandidatePhase.EVALUATING}

    def test_a_stopped_evaluation_runs_again_on_resume(self) -> None:
        decision = reconcile_run(run(candidates=2), seen(*self.built, evaluation(result=W.STOPPED)))
        assert decision.actions == [StartEvaluation(1, 2, (0, 1))]

    def test_stopping_stops_the_evaluation(self) -> None:
        decision = reconcile_run(
            run(candidates=2, desired=DesiredState.STOPPED), seen(*self.built, evaluation())
        )
        assert decision.actions == [StopWorkload("r-e1-1")]

    def test_an_evaluation_error_is_retried_then_fails_the_run(self) -> None:
        once = seen(*self.built, evaluation(result=W.ERROR, reason="disk full"))
        assert reconcile_run(run(candidates=2), once).actions == [StartEvaluation(1, 2, (0, 1))]
        errors = [evaluation(attempt=a, result=W.ERROR, reason="disk full") for a in (1, 2, 3)]
        failed = reconcile_run(run(candidates=2), seen(*self.built, *errors))
        assert failed.status.phase is RunPhase.FAILED and "disk full" in (
            failed.status.message or ""
        )

    def test_the_report_fills_in_candidates_and_the_gate(self) -> None:
        gate = GateReport(candidate=1, planned=149, n=149, k=149, lower_bound=0.9801, target=0.98,
                          alpha=0.05, sided="one-sided", accepted=True, reason="ok")  # fmt: skip
        verdict = report(
            Outcome.ACCEPTED,
            winner=1,
            gate=gate,
            candidates=[
                CandidateReport(
                    index=0, branch="factory/r/c0", passes=10, trials=32, eliminated_in=1
                ),
                CandidateReport(index=1, branch="factory/r/c1", passes=32, trials=32),
            ],
        )
        decision = reconcile_run(
            run(candidates=2),
            seen(*self.built, evaluation(result=W.SUCCEEDED), evaluations={1: verdict}),
        )
        assert decision.status.phase is RunPhase.SUCCEEDED
        c0, c1 = decision.status.candidates
        assert (c0.phase, c0.passes, c0.trials, c0.score) == (
            CandidatePhase.ELIMINATED,
            10,
            32,
            0.3125,
        )
        assert c1.phase is CandidatePhase.WINNER and c1.score == 1.0
        ev = decision.status.evaluation
        assert ev is not None and (ev.candidate, ev.n, ev.k, ev.accepted) == (1, 149, 149, True)
        names = {a.name for a in decision.status.artifacts}
        assert {"evaluation-i1", "report-i1"} <= names

    def test_too_few_distinct_acceptance_instances_stall_the_run(self) -> None:
        message = (
            "InsufficientScenarios: the acceptance pool has 6 distinct instance(s); the "
            "sequential plan may need 650 (add 644 more: ...)"
        )
        verdict = report(Outcome.INSUFFICIENT_SCENARIOS, winner=None, message=message)
        decision = reconcile_run(  # the attempt ended at 51 s: the pool is rechecked at 66 s
            run(candidates=2),
            seen(*self.built, evaluation(result=W.FAILED), evaluations={1: verdict}, now=60),
        )
        assert decision.actions == [] and decision.status.phase is RunPhase.EVALUATING
        assert decision.requeue_after == 6
        stalled = {c.type: c for c in decision.status.conditions}["Stalled"]
        assert stalled.status.value == "True" and stalled.reason == "InsufficientScenarios"
        assert "may need 650" in (stalled.message or "")
        assert "the pool is checked again at 00:01:06Z" in (stalled.message or "")

    def test_a_stalled_pool_is_rechecked_with_backoff_until_it_is_big_enough(self) -> None:
        short = report(Outcome.INSUFFICIENT_SCENARIOS, winner=None, message="too few")
        first = evaluation(result=W.FAILED)  # ended at 51 s
        due = reconcile_run(
            run(candidates=2), seen(*self.built, first, evaluations={1: short}, now=66)
        )
        (start,) = due.actions
        assert isinstance(start, StartEvaluation) and (start.iteration, start.attempt) == (1, 2)
        assert due.status.phase is RunPhase.EVALUATING
        assert conditions(due)["Stalled"][0] == "False"
        # The second attempt found it short too (ended at 52 s): the next look is 30 s later.
        again = evaluation(attempt=2, result=W.FAILED)
        waiting = reconcile_run(
            run(candidates=2), seen(*self.built, first, again, evaluations={1: short}, now=70)
        )
        assert waiting.actions == [] and waiting.requeue_after == 12
        grown = report(Outcome.ACCEPTED)  # the third attempt: the pool had grown
        third = evaluation(attempt=3, result=W.SUCCEEDED)
        done = reconcile_run(
            run(candidates=2),
            seen(*self.built, first, again, third, evaluations={1: grown}, now=200),
        )
        assert done.status.phase is RunPhase.SUCCEEDED

    def test_a_screened_out_candidate_keeps_its_reason(self) -> None:
        verdict = report(
            Outcome.SCREENED_OUT,
            winner=None,
            candidates=[CandidateReport(index=0, branch="factory/r/c0",
                                        screened_out_reason="verifier unit/tests failed")],
        )  # fmt: skip
        decision = reconcile_run(
            run(maxIterations=1),
            seen(
                workload(result=W.SUCCEEDED), evaluation(result=W.FAILED), evaluations={1: verdict}
            ),
        )
        (c0,) = decision.status.candidates
        assert c0.phase is CandidatePhase.SCREENED_OUT
        assert c0.screened_out_reason == "verifier unit/tests failed"
        assert decision.status.phase is RunPhase.FAILED

    def test_a_rejection_starts_the_next_iteration_with_feedback(self) -> None:
        rejected = report(Outcome.REJECTED, feedback=["c1 failed acceptance scenarios: s3, s7"])
        first = reconcile_run(
            run(candidates=2),
            seen(*self.built, evaluation(result=W.FAILED), evaluations={1: rejected}),
        )
        assert first.status.iteration == 2 and first.status.phase is RunPhase.BUILDING
        r2 = run(candidates=2)
        r2.status = first.status
        second = reconcile_run(
            r2, seen(*self.built, evaluation(result=W.FAILED), evaluations={1: rejected})
        )
        hint = ("iteration 1: c1 failed acceptance scenarios: s3, s7",)
        assert second.actions == [StartWorkload(2, 1, hint), StartWorkload(3, 1, hint)]
        assert [c.index for c in second.status.candidates] == [2, 3]

    def test_the_last_rejected_iteration_fails_the_run(self) -> None:
        r = run(maxIterations=1)
        decision = reconcile_run(
            r,
            seen(workload(result=W.SUCCEEDED), evaluation(result=W.FAILED),
                 evaluations={1: report(Outcome.REJECTED, message="lower bound 0.9 < 0.98")}),
        )  # fmt: skip
        assert decision.status.phase is RunPhase.FAILED
        assert decision.status.message == (
            "no acceptable candidate after 1 iteration(s): lower bound 0.9 < 0.98"
        )

    def test_a_failed_merge_fails_the_run_without_iterating(self) -> None:
        decision = reconcile_run(
            run(),
            seen(workload(result=W.SUCCEEDED), evaluation(result=W.FAILED),
                 evaluations={1: report(Outcome.MERGE_FAILED, message="conflicts: app.py")}),
        )  # fmt: skip
        assert decision.status.phase is RunPhase.FAILED and decision.actions == []
        assert decision.status.message == "conflicts: app.py"


class TestPodsThatCannotStart:
    """A workload whose pod waits says why in the run's status (cluster launchers)."""

    def test_an_image_the_node_cannot_pull_stalls_the_run_with_the_kubelets_reason(self) -> None:
        stuck = Holdup("ImagePullBackOff", "ImagePullBackOff: Back-off pulling image", True)
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING), seen(replace(workload(), holdup=stuck))
        )
        assert conditions(decision)["Stalled"] == ("True", "ImagePullBackOff")
        assert decision.status.message == "r-c0-1 waits: ImagePullBackOff: Back-off pulling image"
        assert decision.actions == []

    def test_the_stall_clears_once_the_pod_starts(self) -> None:
        stuck = Holdup("ErrImageNeverPull", "ErrImageNeverPull: image missing", True)
        r = run(phase=RunPhase.BUILDING)
        first = reconcile_run(r, seen(replace(workload(), holdup=stuck)))
        second = again(r, first, seen(workload()))
        assert conditions(second)["Stalled"] == ("False", "Building")
        assert conditions(second)["Reconciling"][0] == "True"

    def test_an_evaluation_waiting_for_a_gpu_stays_in_progress_and_says_why(self) -> None:
        room = Holdup(
            "Unschedulable",
            "Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
            False,
        )
        waiting = replace(evaluation(), holdup=room)
        decision = reconcile_run(
            run(phase=RunPhase.EVALUATING), seen(workload(result=W.SUCCEEDED), waiting)
        )
        assert decision.status.phase is RunPhase.EVALUATING
        assert conditions(decision)["Reconciling"] == ("True", "Unschedulable")
        assert conditions(decision)["Stalled"][0] == "False"
        assert "Insufficient nvidia.com/gpu" in (decision.status.message or "")
