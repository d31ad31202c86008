"""``StageFold``: the stages table of Run status, folded from the run's events."""

from __future__ import annotations

import pytest
from builders import at, event

from factoryos.events import Event
from factoryos.events import EventType as E
from factoryos.models import StageState
from factoryos.workloads import StageFold


def fold(*events: Event) -> StageFold:
    f = StageFold()
    f.feed(events)
    return f


def table(f: StageFold) -> dict[tuple[int, str], StageState]:
    return {(s.candidate, s.name): s.status for s in f.stages()}


class TestStages:
    def test_stages_run_and_complete_with_times_and_reasons(self) -> None:
        f = fold(
            event(1, E.RUN_STARTED),
            event(2, E.STAGE_STARTED, "build", attempt=1, max=2),
            event(3, E.STAGE_COMPLETED, "build", status="success"),
            event(4, E.STAGE_STARTED, "test", attempt=1),
            event(5, E.STAGE_RETRYING, "test", reason="flaky"),
            event(6, E.STAGE_STARTED, "test", attempt=2),
            event(7, E.STAGE_COMPLETED, "test", status="fail", failure_reason="2 failed"),
        )
        build, test = f.stages()
        assert (build.status, build.start_time, build.completion_time) == (
            StageState.SUCCEEDED,
            at(2),
            at(3),
        )
        assert build.max_attempts == 2
        assert (test.status, test.attempt, test.failure_reason) == (
            StageState.FAILED,
            2,
            "2 failed",
        )
        assert f.sequence == 7 and f.last_event_time == at(7)

    def test_a_started_stage_is_running(self) -> None:
        f = fold(event(1, E.STAGE_STARTED, "build", attempt=1, max=1))
        (stage,) = f.stages()
        assert (stage.candidate, stage.name, stage.status) == (0, "build", StageState.RUNNING)
        assert (stage.attempt, stage.max_attempts, stage.start_time) == (1, 1, at(1))
        assert stage.completion_time is None

    def test_a_retry_is_shown_until_the_stage_starts_again(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "test", attempt=1, max=3),
            event(2, E.STAGE_RETRYING, "test", reason="flaky"),
        )
        (stage,) = f.stages()
        assert (stage.status, stage.failure_reason) == (StageState.RETRYING, "flaky")
        f.feed([event(3, E.STAGE_STARTED, "test", attempt=2, max=3)])
        (stage,) = f.stages()
        assert (stage.status, stage.attempt, stage.failure_reason) == (
            StageState.RUNNING,
            2,
            None,
        )

    @pytest.mark.parametrize(
        ("outcome", "state"),
        [
            ("success", StageState.SUCCEEDED),
            ("partial_success", StageState.SUCCEEDED),
            ("skipped", StageState.SKIPPED),
            ("fail", StageState.FAILED),
            ("failed", StageState.FAILED),
            ("something new", StageState.FAILED),
        ],
    )
    def test_outcomes(self, outcome: str, state: StageState) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_COMPLETED, "x", status=outcome),
        )
        assert table(f) == {(0, "x"): state}

    def test_stages_keep_the_order_they_first_started_in(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "b", attempt=1),
            event(2, E.STAGE_COMPLETED, "b", status="success"),
            event(3, E.STAGE_STARTED, "a", attempt=1),
            event(4, E.STAGE_STARTED, "b", attempt=1),
        )
        assert [s.name for s in f.stages()] == ["b", "a"]

    def test_the_node_may_be_named_in_the_data(self) -> None:
        f = fold(event(1, E.STAGE_STARTED, None, node_id="plan", attempt=1))
        assert table(f) == {(0, "plan"): StageState.RUNNING}

    def test_other_events_move_the_sequence_but_not_the_table(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.HEARTBEAT),
            event(3, E.LOG, "x", line="hello"),
            event(4, E.CHECKPOINT_SAVED, "x"),
        )
        assert table(f) == {(0, "x"): StageState.RUNNING}
        assert f.sequence == 4 and f.last_event_time == at(4)

    def test_the_table_is_a_copy(self) -> None:
        f = fold(event(1, E.STAGE_STARTED, "x", attempt=1))
        f.stages()[0].status = StageState.FAILED
        assert table(f) == {(0, "x"): StageState.RUNNING}


class TestStopsAndEnds:
    def test_a_stage_interrupted_by_a_stop_is_pending_not_failed(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "slow", attempt=1),
            event(2, E.RUN_STOP_REQUESTED),
            event(3, E.STAGE_COMPLETED, "slow", status="fail", failure_reason="stopped by signal"),
        )
        assert table(f) == {(0, "slow"): StageState.PENDING}
        f.feed([event(4, E.RUN_RESUMED), event(5, E.STAGE_STARTED, "slow", attempt=2)])
        f.feed([event(6, E.STAGE_COMPLETED, "slow", status="fail")])
        assert table(f) == {(0, "slow"): StageState.FAILED}

    def test_a_stage_that_succeeds_during_a_stop_has_succeeded(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.RUN_STOP_REQUESTED),
            event(3, E.STAGE_COMPLETED, "x", status="success"),
        )
        assert table(f) == {(0, "x"): StageState.SUCCEEDED}

    def test_a_fresh_start_ends_the_stop(self) -> None:
        f = fold(
            event(1, E.RUN_STOP_REQUESTED),
            event(2, E.RUN_STARTED),
            event(3, E.STAGE_STARTED, "x", attempt=1),
            event(4, E.STAGE_COMPLETED, "x", status="fail"),
        )
        assert table(f) == {(0, "x"): StageState.FAILED}

    def test_a_finished_run_leaves_no_stage_running(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_STARTED, "y", attempt=1),
            event(3, E.STAGE_RETRYING, "y"),
            event(4, E.RUN_FINISHED, status="fail", reason="killed"),
        )
        x, y = f.stages()
        assert x.status is StageState.FAILED and x.failure_reason == "killed"
        assert x.completion_time == at(4)
        assert y.status is StageState.FAILED

    def test_a_run_that_finished_stopped_leaves_its_stages_pending(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.RUN_FINISHED, status="fail", stopped=True),
        )
        (stage,) = f.stages()
        assert stage.status is StageState.PENDING and stage.completion_time is None

    def test_a_finished_run_keeps_the_outcomes_of_ended_stages(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_COMPLETED, "x", status="success"),
            event(3, E.RUN_FINISHED, status="fail", reason="later"),
        )
        assert table(f) == {(0, "x"): StageState.SUCCEEDED}


class TestSequenceAndCandidates:
    def test_seen_events_are_ignored_and_candidates_kept_apart(self) -> None:
        events = [
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_STARTED, "x", attempt=1, candidate=1),
            event(3, E.STAGE_COMPLETED, "x", status="success", candidate=1),
        ]
        f = fold(*events)
        f.feed(events)
        assert table(f) == {(0, "x"): StageState.RUNNING, (1, "x"): StageState.SUCCEEDED}

    def test_feeding_the_same_events_twice_changes_nothing(self) -> None:
        events = [
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.RUN_STOP_REQUESTED),
            event(3, E.STAGE_COMPLETED, "x", status="fail"),
            event(4, E.RUN_RESUMED),
            event(5, E.STAGE_STARTED, "x", attempt=2),
        ]
        f = fold(*events)
        once = (f.stages(), f.sequence, f.last_event_time)
        f.feed(events)
        f.feed(events[2:3])
        assert (f.stages(), f.sequence, f.last_event_time) == once

    def test_an_event_at_or_below_the_last_sequence_is_ignored(self) -> None:
        f = fold(event(5, E.STAGE_STARTED, "x", attempt=1))
        f.feed([event(5, E.STAGE_COMPLETED, "x", status="success")])
        f.feed([event(3, E.STAGE_COMPLETED, "x", status="success")])
        assert table(f) == {(0, "x"): StageState.RUNNING} and f.sequence == 5

    def test_events_may_arrive_in_several_feeds(self) -> None:
        events = [
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_COMPLETED, "x", status="success"),
            event(3, E.STAGE_STARTED, "y", attempt=1),
        ]
        whole = fold(*events)
        parts = StageFold()
        for e in events:
            parts.feed([e])
        assert parts.stages() == whole.stages() and parts.sequence == 3

    def test_a_stop_of_one_candidate_does_not_excuse_another(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_STARTED, "x", attempt=1, candidate=1),
            event(3, E.RUN_STOP_REQUESTED),
            event(4, E.STAGE_COMPLETED, "x", status="fail"),
            event(5, E.STAGE_COMPLETED, "x", status="fail", candidate=1),
        )
        assert table(f) == {(0, "x"): StageState.PENDING, (1, "x"): StageState.FAILED}

    def test_the_end_of_one_candidate_leaves_the_others_running(self) -> None:
        f = fold(
            event(1, E.STAGE_STARTED, "x", attempt=1),
            event(2, E.STAGE_STARTED, "x", attempt=1, candidate=1),
            event(3, E.RUN_FINISHED, status="fail", candidate=1),
        )
        assert table(f) == {(0, "x"): StageState.RUNNING, (1, "x"): StageState.FAILED}
