"""The validator rejects malformed envelopes, sequence gaps and time going backwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from factoryos.events import EventLog, EventType, run_source, validate_events
from factoryos.events.log import iter_lines


@pytest.fixture
def good(tmp_path: Path) -> list[dict[str, Any]]:
    log = EventLog(tmp_path / "events.ndjson", run_source("smoke", "r1"))
    log.append(EventType.RUN_STARTED, {"pipeline": "p.dot"})
    log.append(EventType.STAGE_STARTED, {"node_id": "a"}, subject="a")
    log.append(EventType.STAGE_COMPLETED, {"node_id": "a", "status": "success"}, subject="a")
    log.append(EventType.RUN_FINISHED, {"status": "success"})
    return list(iter_lines(log.path))


def rules(events: list[dict[str, Any]], start: int = 1) -> list[str]:
    return [p.rule for p in validate_events(events, start=start)]


def test_a_log_written_by_eventlog_is_valid(good: list[dict[str, Any]]) -> None:
    assert validate_events(good) == []


def test_a_gap_in_sequences_is_reported(good: list[dict[str, Any]]) -> None:
    del good[1]
    assert rules(good) == ["sequence"]


def test_a_repeated_event_is_reported(good: list[dict[str, Any]]) -> None:
    good.insert(2, good[1])
    assert "sequence" in rules(good)


def test_a_resumed_stream_starts_after_the_cursor(good: list[dict[str, Any]]) -> None:
    assert validate_events(good[2:], start=3) == []
    assert rules(good[2:]) == ["sequence"]


def test_time_going_backwards_is_reported(good: list[dict[str, Any]]) -> None:
    good[2] = {**good[2], "time": "2000-01-01T00:00:00Z"}
    assert rules(good) == ["time"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("specversion", "0.3"),
        ("type", "com.example.other"),
        ("source", "/runs/r1"),
        ("time", "yesterday"),
        ("time", "2026-01-01T00:00:00"),
        ("sequence", 0),
        ("data", "not an object"),
        ("surprise", 1),
    ],
)
def test_schema_violations_are_reported(good: list[dict[str, Any]], field: str, value: Any) -> None:
    good[0] = {**good[0], field: value}
    assert "schema" in rules(good)


def test_a_missing_required_field_is_reported(good: list[dict[str, Any]]) -> None:
    del good[0]["id"]
    assert rules(good) == ["schema"]


def test_events_of_two_runs_in_one_log_are_reported(good: list[dict[str, Any]]) -> None:
    good[3] = {**good[3], "source": run_source("smoke", "r2")}
    assert rules(good) == ["source"]


def test_problems_say_which_event_and_what(good: list[dict[str, Any]]) -> None:
    good[1] = {**good[1], "sequence": 7}
    (problem, *_) = validate_events(good)
    assert str(problem) == "event #1: sequence: expected sequence 2, got 7"
    assert json.dumps(good)  # still plain JSON data
