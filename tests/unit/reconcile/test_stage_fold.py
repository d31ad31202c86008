"""``StageFold``: the stages table of Run status, folded from the run's events."""

from __future__ import annotations

from builders import at, event

from factoryos.events import EventType as E
from factoryos.models import StageState
from factoryos.reconcile import StageFold


def fold(*events):  # type: ignore[no-untyped-def]
    f = StageFold()
    f.feed(events)
    return f


def table(f: StageFold) -> dict[tuple[int, str], StageState]:
    return {(s.candidate, s.name): s.status for s in f.stages()}


def test_stages_run_and_complete_with_times_and_reasons() -> None:
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
    assert (test.status, test.attempt, test.failure_reason) == (StageState.FAILED, 2, "2 failed")
    assert f.sequence == 7 and f.last_event_time == at(7)


def test_a_stage_interrupted_by_a_stop_is_pending_not_failed() -> None:
    f = fold(
        event(1, E.STAGE_STARTED, "slow", attempt=1),
        event(2, E.RUN_STOP_REQUESTED),
        event(3, E.STAGE_COMPLETED, "slow", status="fail", failure_reason="stopped by signal"),
    )
    assert table(f) == {(0, "slow"): StageState.PENDING}
    f.feed([event(4, E.RUN_RESUMED), event(5, E.STAGE_STARTED, "slow", attempt=2)])
    f.feed([event(6, E.STAGE_COMPLETED, "slow", status="fail")])
    assert table(f) == {(0, "slow"): StageState.FAILED}


def test_a_finished_run_leaves_no_stage_running() -> None:
    f = fold(
        event(1, E.STAGE_STARTED, "x", attempt=1),
        event(2, E.RUN_FINISHED, status="fail", reason="killed"),
    )
    (stage,) = f.stages()
    assert stage.status is StageState.FAILED and stage.failure_reason == "killed"


def test_seen_events_are_ignored_and_candidates_kept_apart() -> None:
    events = [
        event(1, E.STAGE_STARTED, "x", attempt=1),
        event(2, E.STAGE_STARTED, "x", attempt=1, candidate=1),
        event(3, E.STAGE_COMPLETED, "x", status="success", candidate=1),
    ]
    f = fold(*events)
    f.feed(events)
    assert table(f) == {(0, "x"): StageState.RUNNING, (1, "x"): StageState.SUCCEEDED}
