"""``reconcile_run``: from a Run and what was observed to actions and one new status."""

from __future__ import annotations

from builders import at, product, run, seen, workload

from factoryos.models import CandidatePhase, DesiredState, RunPhase
from factoryos.reconcile import StartWorkload, StopWorkload, reconcile_run
from factoryos.runner import WorkloadStatus as W


def conditions(decision) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c.type: (c.status.value, c.reason) for c in decision.status.conditions}


class TestStarting:
    def test_an_admitted_run_starts_every_candidate(self) -> None:
        decision = reconcile_run(run(candidates=3), seen())
        assert decision.actions == [StartWorkload(i, 1) for i in range(3)]
        assert decision.status.phase is RunPhase.BUILDING
        assert conditions(decision)["Reconciling"] == ("True", "Building")
        assert conditions(decision)["Succeeded"] == ("Unknown", "Building")

    def test_k_comes_from_the_product_unless_the_run_says(self) -> None:
        decision = reconcile_run(run(), seen(product_=product(candidates=2)))
        assert decision.actions == [StartWorkload(0, 1), StartWorkload(1, 1)]

    def test_a_queued_run_waits_and_says_why(self) -> None:
        decision = reconcile_run(run(), seen(admitted=False, reason="queued (1 of 1)"))
        assert decision.actions == []
        assert decision.status.phase is RunPhase.PENDING
        assert decision.status.message == "queued (1 of 1)"
        assert conditions(decision)["Reconciling"] == ("True", "Queued")

    def test_a_running_workload_is_left_alone(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload()))
        assert decision.actions == []
        assert decision.status.phase is RunPhase.BUILDING
        assert decision.status.candidates[0].phase is CandidatePhase.BUILDING
        assert decision.status.start_time == at(1)


class TestEnding:
    def test_success(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload(result=W.SUCCEEDED)))
        assert decision.status.phase is RunPhase.SUCCEEDED
        assert decision.status.completion_time == at(100)
        assert conditions(decision)["Ready"] == ("True", "Succeeded")
        assert conditions(decision)["Succeeded"] == ("True", "Succeeded")
        assert decision.status.candidates[0].phase is CandidatePhase.BUILT

    def test_a_failed_pipeline_fails_the_run_with_its_reason(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING), seen(workload(result=W.FAILED, reason="tests failed"))
        )
        assert decision.actions == []
        assert decision.status.phase is RunPhase.FAILED
        assert "tests failed" in (decision.status.message or "")
        assert conditions(decision)["Stalled"] == ("True", "Failed")

    def test_invalid_input_is_not_retried(self) -> None:
        decision = reconcile_run(run(), seen(workload(result=W.INVALID, reason="bad pipeline")))
        assert decision.actions == [] and decision.status.phase is RunPhase.FAILED

    def test_infrastructure_errors_are_retried_up_to_the_backoff_limit(self) -> None:
        once = reconcile_run(run(backoffLimit=1), seen(workload(result=W.ERROR)))
        assert once.actions == [StartWorkload(0, 2)]
        twice = reconcile_run(
            run(backoffLimit=1), seen(workload(result=W.ERROR), workload(attempt=2, result=W.ERROR))
        )
        assert twice.actions == [] and twice.status.phase is RunPhase.FAILED

    def test_one_successful_candidate_of_several_is_enough_for_now(self) -> None:
        decision = reconcile_run(
            run(candidates=2),
            seen(workload(0, result=W.SUCCEEDED), workload(1, result=W.FAILED, reason="x")),
        )
        assert decision.status.phase is RunPhase.SUCCEEDED
        assert [c.phase for c in decision.status.candidates] == [
            CandidatePhase.BUILT,
            CandidatePhase.FAILED,
        ]

    def test_a_finished_run_stays_finished(self) -> None:
        done = run(phase=RunPhase.SUCCEEDED)
        decision = reconcile_run(done, seen(workload(result=W.SUCCEEDED)))
        assert decision.actions == [] and decision.status.phase is RunPhase.SUCCEEDED


class TestStopAndResume:
    def test_stop_asks_running_workloads_to_stop(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.BUILDING, desired=DesiredState.STOPPED), seen(workload())
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
        assert conditions(decision)["Succeeded"] == ("False", "Stopped")

    def test_a_run_stopped_before_it_started_is_stopped(self) -> None:
        decision = reconcile_run(run(desired=DesiredState.STOPPED), seen())
        assert decision.actions == [] and decision.status.phase is RunPhase.STOPPED

    def test_resume_starts_the_next_attempt(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.STOPPED), seen(workload(result=W.STOPPED)))
        assert decision.actions == [StartWorkload(0, 2)]
        assert decision.status.phase is RunPhase.BUILDING
        assert "resuming c0 (attempt 2)" in (decision.status.message or "")

    def test_a_resumed_run_waits_for_a_slot_like_any_other(self) -> None:
        decision = reconcile_run(
            run(phase=RunPhase.STOPPED), seen(workload(result=W.STOPPED), admitted=False)
        )
        assert decision.actions == [] and decision.status.phase is RunPhase.PENDING

    def test_workloads_stopped_by_a_shutdown_are_resumed(self) -> None:
        decision = reconcile_run(run(phase=RunPhase.BUILDING), seen(workload(result=W.STOPPED)))
        assert decision.actions == [StartWorkload(0, 2)]


class TestEdges:
    def test_a_missing_product_stalls_the_run(self) -> None:
        decision = reconcile_run(run(), seen(missing_product=True))
        assert decision.actions == []
        assert conditions(decision)["Stalled"] == ("True", "ProductNotFound")
        assert "not found" in (decision.status.message or "")

    def test_deletion_stops_workloads_and_releases_only_when_none_runs(self) -> None:
        deleting = run(phase=RunPhase.BUILDING)
        deleting.metadata.deletion_timestamp = at(50)
        busy = reconcile_run(deleting, seen(workload()))
        assert busy.actions == [StopWorkload("r-c0-1")] and not busy.release
        idle = reconcile_run(deleting, seen(workload(result=W.STOPPED)))
        assert idle.actions == [] and idle.release

    def test_conditions_carry_the_generation_and_keep_their_transition_time(self) -> None:
        r = run()
        r.metadata.generation = 7
        first = reconcile_run(r, seen(workload(), now=100))
        r.status = first.status
        again = reconcile_run(r, seen(workload(), now=200))
        assert again.status == first.status
        assert {c.observed_generation for c in again.status.conditions} == {7}
        assert again.status.observed_generation == 7
        assert {c.last_transition_time for c in again.status.conditions} == {at(100)}
