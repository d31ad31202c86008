"""Kilroy progress events become Factory OS events; unknown ones never raise."""

from __future__ import annotations

from typing import Any

import pytest

from factoryos.events import EventType
from factoryos.kilroy import translate_progress

TS = "2026-11-24T21:26:52.081306234Z"


def one(event: dict[str, Any]) -> tuple[EventType, dict[str, Any], str | None]:
    (result,) = translate_progress(event)
    return result


def test_stage_attempt_start_is_stage_started_about_the_node() -> None:
    kind, data, subject = one(
        {
            "event": "stage_attempt_start",
            "node_id": "build",
            "attempt": 1,
            "max": 3,
            "ts": TS,
            "run_id": "r1",
        }
    )
    assert kind is EventType.STAGE_STARTED
    assert subject == "build"
    assert data == {"node_id": "build", "attempt": 1, "max": 3, "kilroy_ts": TS}


def test_stage_attempt_end_keeps_status_reason_and_attempt() -> None:
    kind, data, subject = one(
        {
            "event": "stage_attempt_end",
            "node_id": "test",
            "attempt": 2,
            "max": 2,
            "status": "fail",
            "failure_reason": "exit status 3",
            "ts": TS,
            "id": "a1b2c3d4",
        }
    )
    assert kind is EventType.STAGE_COMPLETED
    assert subject == "test"
    assert data["status"] == "fail"
    assert data["failure_reason"] == "exit status 3"
    assert data["attempt"] == 2
    assert data["kilroy_id"] == "a1b2c3d4"


def test_a_successful_stage_has_no_empty_failure_reason() -> None:
    _, data, _ = one(
        {
            "event": "stage_attempt_end",
            "node_id": "n",
            "attempt": 1,
            "max": 1,
            "status": "success",
            "failure_reason": "",
        }
    )
    assert "failure_reason" not in data


def test_one_retry_is_one_stage_retrying() -> None:
    decision = {
        "event": "retry_decision",
        "node_id": "n",
        "attempt": 1,
        "max_retries": 2,
        "will_retry": True,
        "reason": "exit status 1",
    }
    sleep = {
        "event": "stage_retry_sleep",
        "node_id": "n",
        "attempt": 1,
        "delay_ms": 200,
        "retries": 1,
        "max_retry": 2,
    }
    kinds = [k for ev in (decision, sleep) for k, _, _ in translate_progress(ev)]
    assert kinds == [EventType.STAGE_RETRYING, EventType.ENGINE_EVENT]
    _, data, subject = one(decision)
    assert subject == "n"
    assert data["next_attempt"] == 2
    assert data["reason"] == "exit status 1"


def test_a_decision_not_to_retry_is_not_a_retry() -> None:
    kind, data, _ = one({"event": "retry_decision", "node_id": "n", "will_retry": False})
    assert kind is EventType.ENGINE_EVENT
    assert data["kilroy_event"] == "retry_decision"


def test_edge_selected() -> None:
    kind, data, subject = one(
        {
            "event": "edge_selected",
            "from_node": "a",
            "to_node": "b",
            "label": "",
            "condition": "outcome!=success",
            "selection_method": "condition_match",
            "candidates_evaluated": 2,
        }
    )
    assert kind is EventType.EDGE_SELECTED
    assert subject == "a"
    assert data["from"] == "a" and data["to"] == "b"
    assert data["condition"] == "outcome!=success"
    assert data["selection_method"] == "condition_match"


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ({"event": "run_completed", "status": "success"}, "success"),
        ({"event": "run_failed", "status": "fail", "reason": "boom"}, "fail"),
        ({"event": "run_failed"}, "fail"),
    ],
)
def test_terminal_events_of_later_kilroy_versions_finish_the_run(
    event: dict[str, Any], status: str
) -> None:
    kind, data, subject = one(event)
    assert kind is EventType.RUN_FINISHED
    assert data["status"] == status
    assert subject is None


def test_warning_is_a_log_line() -> None:
    kind, data, _ = one({"event": "warning", "message": "careful"})
    assert kind is EventType.LOG
    assert data["level"] == "warning"
    assert data["message"] == "careful"


def test_heartbeat() -> None:
    kind, data, subject = one({"event": "stage_heartbeat", "node_id": "n", "elapsed_s": 12})
    assert kind is EventType.HEARTBEAT
    assert subject == "n"
    assert data["elapsed_s"] == 12


def test_known_but_uninteresting_events_are_engine_events_with_their_fields() -> None:
    kind, data, subject = one(
        {
            "event": "input_materialization_completed",
            "node_id": "n",
            "resolved_file_count": 0,
            "ts": TS,
            "run_id": "r1",
        }
    )
    assert kind is EventType.ENGINE_EVENT
    assert subject == "n"
    assert data == {
        "kilroy_event": "input_materialization_completed",
        "node_id": "n",
        "resolved_file_count": 0,
        "kilroy_ts": TS,
    }


@pytest.mark.parametrize(
    "event",
    [
        {"event": "something_new", "x": [1, 2]},
        {},
        {"event": 7},
        {"no_event": True},
        {"event": "stage_attempt_start"},
        {"event": "edge_selected", "from_node": "a"},
    ],
)
def test_unknown_or_malformed_events_become_engine_events(event: dict[str, Any]) -> None:
    kind, data, _ = one(event)
    assert kind is EventType.ENGINE_EVENT
    assert isinstance(data["kilroy_event"], str)
