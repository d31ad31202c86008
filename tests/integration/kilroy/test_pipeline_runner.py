"""The pipeline runner records a Kilroy run as events and stops it on request."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kilroy_support import pipeline

from factoryos.events import Event, EventType, validate_events
from factoryos.events.log import iter_lines
from factoryos.kilroy import Kilroy, RunSpec
from factoryos.runner import PipelineRunner, RunReport


def test_request_stop_halts_a_long_stage_and_the_log_stays_well_formed(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    graph = pipeline(tmp_path / "p", "long", {"quick": "true", "slow": "sleep 60", "never": "true"})
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="runner-stop",
        run_dir=kilroy.settings.runs_dir / "runner-stop",
    )
    slow_started = threading.Event()

    def watch(event: Event) -> None:
        if event.type == EventType.STAGE_STARTED and event.subject == "slow":
            slow_started.set()

    runner = PipelineRunner(kilroy, product="demo", grace_seconds=2.0, on_event=watch)
    reports: list[RunReport] = []
    worker = threading.Thread(target=lambda: reports.append(runner.run(spec)))
    worker.start()
    assert slow_started.wait(30), "the slow stage never started"
    requested = time.monotonic()
    runner.request_stop()
    worker.join(30)
    assert not worker.is_alive()
    assert time.monotonic() - requested < 2.0 + 2.0

    (report,) = reports
    assert report.stopped
    assert report.outcome.status == "canceled"
    events = list(iter_lines(report.events))
    assert validate_events(events) == []
    types = [e["type"] for e in events]
    assert types.count(EventType.RUN_STOP_REQUESTED) == 1
    assert types[-1] == EventType.RUN_FINISHED
    assert events[-1]["data"]["stopped"] is True
    started = [e["subject"] for e in events if e["type"] == EventType.STAGE_STARTED]
    assert "never" not in started


def test_heartbeats_are_written_while_kilroy_runs_and_stop_with_it(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    graph = pipeline(tmp_path / "p", "beat", {"wait": "sleep 1"})
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="runner-beat",
        run_dir=kilroy.settings.runs_dir / "runner-beat",
    )
    report = PipelineRunner(kilroy, product="demo", heartbeat_seconds=0.2).run(spec)
    assert report.outcome.status == "success"
    events = list(iter_lines(report.events))
    assert validate_events(events) == []
    types = [e["type"] for e in events]
    assert types.count(EventType.HEARTBEAT) >= 3
    assert types[-1] == EventType.RUN_FINISHED  # no heartbeat after the run finished
