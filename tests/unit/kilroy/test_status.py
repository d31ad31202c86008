"""A snapshot read from files follows Kilroy's precedence and reports stopped runs as canceled."""

from __future__ import annotations

import json
import os
from pathlib import Path

from factoryos.kilroy.status import snapshot_from_files, snapshot_from_kilroy


def test_final_json_decides_and_a_stop_is_canceled(tmp_path: Path) -> None:
    (tmp_path / "final.json").write_text(
        json.dumps(
            {"status": "fail", "run_id": "r", "failure_reason": "stopped by signal terminated"}
        )
    )
    snap = snapshot_from_files(tmp_path)
    assert (snap.state, snap.run_id) == ("canceled", "r")


def test_a_live_pid_without_final_json_is_running(tmp_path: Path) -> None:
    (tmp_path / "run.pid").write_text(str(os.getpid()))
    (tmp_path / "progress.ndjson").write_text(
        json.dumps(
            {
                "event": "stage_attempt_start",
                "node_id": "n",
                "attempt": 1,
                "max": 2,
                "ts": "t",
                "run_id": "r",
            }
        )
        + "\n"
    )
    snap = snapshot_from_files(tmp_path)
    assert snap.state == "running"
    assert (snap.current_node, snap.attempt, snap.max_attempts) == ("n", 1, 2)
    assert snap.pid_alive


def test_nothing_running_and_no_final_json_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "run.pid").write_text("999999999")
    assert snapshot_from_files(tmp_path).state == "unknown"


def test_kilroy_json_is_mapped_and_its_zero_time_dropped(tmp_path: Path) -> None:
    (tmp_path / "final.json").write_text(json.dumps({"status": "success"}))
    snap = snapshot_from_kilroy(
        {
            "state": "success",
            "run_id": "r",
            "pid": 5,
            "pid_alive": False,
            "last_event_at": "0001-01-01T00:00:00Z",
        },
        tmp_path,
    )
    assert (snap.state, snap.source, snap.last_event_at, snap.pid) == ("success", "kilroy", None, 5)
