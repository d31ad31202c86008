"""Runner progress reports: folded from the runner's events, throttled, read back per stage."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from factoryos.events import EventType as E
from factoryos.events import make_event
from factoryos.launch.jobs import progress_stages
from factoryos.models import StageState
from factoryos.workloads import RESULT_KEY, STAGES_KEY, ProgressReporter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.writes: list[dict[str, str]] = []

    def write(self, data: dict[str, str]) -> None:
        self.writes.append(data)


def event(seq: int, type: E, subject: str | None = None, **data: Any):  # type: ignore[no-untyped-def]
    return make_event(source="/products/p/runs/r", type=type, sequence=seq,
                      data={"candidate": 0, **data}, subject=subject,
                      time=T0 + timedelta(seconds=seq))  # fmt: skip


def test_stage_changes_are_written_at_most_once_a_second_and_the_end_always() -> None:
    now = [0.0]
    sink = Sink()
    reporter = ProgressReporter(sink, min_interval=1.0, clock=lambda: now[0])
    reporter.on_event(event(1, E.STAGE_STARTED, "build", attempt=1))
    reporter.on_event(event(2, E.HEARTBEAT))  # no stage change: nothing to write
    now[0] = 0.5
    reporter.on_event(event(3, E.STAGE_COMPLETED, "build", status="success"))  # too soon
    assert len(sink.writes) == 1
    reporter.finish({"status": "succeeded"})
    last = sink.writes[-1]
    assert [s["status"] for s in json.loads(last[STAGES_KEY])] == ["Succeeded"]
    assert json.loads(last[RESULT_KEY]) == {"status": "succeeded"}


def test_a_change_the_throttle_held_back_is_written_when_the_interval_ends() -> None:
    sink = Sink()
    reporter = ProgressReporter(sink, min_interval=0.05)
    reporter.on_event(event(1, E.STAGE_STARTED, "a", attempt=1))
    reporter.on_event(event(2, E.STAGE_COMPLETED, "a", status="success"))
    reporter.on_event(event(3, E.STAGE_STARTED, "b", attempt=1))  # b then runs for long
    assert len(sink.writes) == 1
    deadline = time.monotonic() + 5
    while len(sink.writes) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stages = {s["name"]: s["status"] for s in json.loads(sink.writes[-1][STAGES_KEY])}
    assert stages == {"a": "Succeeded", "b": "Running"}
    reporter.finish({"status": "succeeded"})
    assert len(sink.writes) == 3


def test_a_failing_sink_never_stops_the_runner(capsys: Any) -> None:
    class Broken:
        def write(self, data: dict[str, str]) -> None:
            raise OSError("connection refused")

    reporter = ProgressReporter(Broken())
    reporter.on_event(event(1, E.STAGE_STARTED, "build", attempt=1))
    reporter.finish({"status": "failed"})
    assert "could not report progress: connection refused" in capsys.readouterr().err


def report(candidate: int, attempt: int, stages: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"factoryos.dev/candidate": str(candidate), "factoryos.dev/attempt": str(attempt)}
    return {"metadata": {"labels": labels}, "data": {STAGES_KEY: json.dumps(stages)}}


def test_read_back_later_attempts_win_per_stage() -> None:
    first = report(0, 1, [{"candidate": 0, "name": "a", "status": "Succeeded"},
                          {"candidate": 0, "name": "b", "status": "Pending"}])  # fmt: skip
    second = report(0, 2, [{"candidate": 0, "name": "b", "status": "Succeeded", "attempt": 2}])
    unreadable = {"metadata": {"labels": {}}, "data": {STAGES_KEY: "not json"}}
    stages = {s.name: s for s in progress_stages([second, unreadable, first])}
    assert stages["a"].status is StageState.SUCCEEDED
    assert stages["b"].status is StageState.SUCCEEDED and stages["b"].attempt == 2
