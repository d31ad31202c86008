"""Reading a logs_root: missing files are None, torn writes are tolerated, corrupt JSON is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.errors import EngineError, InvalidInputError
from factoryos.kilroy import LogsRoot
from factoryos.kilroy.logsroot import ProgressTail


def line(**fields: object) -> str:
    return json.dumps(fields) + "\n"


def test_missing_files_read_as_none(tmp_path: Path) -> None:
    root = LogsRoot(tmp_path / "nope")
    assert root.manifest() is None
    assert root.checkpoint() is None
    assert root.final() is None
    assert root.live() is None
    assert root.run_pid() is None
    assert root.progress() == []
    assert root.node_dirs() == []
    assert root.node_artifacts("a") == []
    assert root.node_status("a") is None


def test_a_partial_last_progress_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "progress.ndjson"
    path.write_text(line(event="a") + line(event="b") + '{"event": "c", "no')
    root = LogsRoot(tmp_path)
    assert [(n, e["event"]) for n, e in root.progress()] == [(1, "a"), (2, "b")]
    assert root.progress_line_count() == 2
    assert [n for n, _ in root.progress(after=1)] == [2]


def test_unknown_events_and_blank_lines_are_kept_or_skipped_not_errors(tmp_path: Path) -> None:
    (tmp_path / "progress.ndjson").write_text(
        line(event="brand_new_event", x=1) + "\n" + line(no_event_name=True) + "[1, 2]\n"
    )
    events = LogsRoot(tmp_path).progress()
    assert [e for _, e in events] == [{"event": "brand_new_event", "x": 1}, {"no_event_name": True}]


def test_a_tail_returns_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "progress.ndjson"
    path.write_text(line(event="a") + '{"event":')
    tail = ProgressTail(path)
    assert [e["event"] for _, e in tail.read()] == ["a"]
    assert tail.read() == []
    with path.open("a") as fh:
        fh.write(' "b"}\n' + line(event="c"))
    assert [(n, e["event"]) for n, e in tail.read()] == [(2, "b"), (3, "c")]


def test_a_corrupt_complete_line_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "progress.ndjson").write_text(line(event="a") + "{not json}\n")
    with pytest.raises(EngineError, match=r"progress\.ndjson: line 2"):
        LogsRoot(tmp_path).progress()


def test_corrupt_json_files_raise_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "final.json").write_text('{"status": "succ')
    with pytest.raises(EngineError, match=r"final\.json"):
        LogsRoot(tmp_path).final()


def test_live_json_caught_mid_write_is_none(tmp_path: Path) -> None:
    (tmp_path / "live.json").write_text('{"event": "stage_att')
    assert LogsRoot(tmp_path).live() is None


def test_run_pid(tmp_path: Path) -> None:
    (tmp_path / "run.pid").write_text("4242")
    assert LogsRoot(tmp_path).run_pid() == 4242
    (tmp_path / "run.pid").write_text("")
    assert LogsRoot(tmp_path).run_pid() is None


def test_node_dirs_in_start_order_and_artifacts_with_sizes(tmp_path: Path) -> None:
    for node, files in {"b": ["stdout.log"], "a": ["status.json"], "worktree": ["x"]}.items():
        (tmp_path / node).mkdir()
        for name in files:
            (tmp_path / node / name).write_text("hello")
    (tmp_path / "a" / "attempt_1").mkdir()
    (tmp_path / "a" / "attempt_1" / "status.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "progress.ndjson").write_text(
        line(event="stage_attempt_start", node_id="b")
        + line(event="stage_attempt_start", node_id="a")
    )
    root = LogsRoot(tmp_path)
    assert root.node_dirs() == ["b", "a"]
    artifacts = root.node_artifacts("a")
    assert [(a.name, a.size) for a in artifacts] == [
        ("attempt_1/status.json", 2),
        ("status.json", 5),
    ]


@pytest.mark.parametrize("bad", ["..", "../etc", "a/b", ""])
def test_node_ids_cannot_escape_the_logs_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        LogsRoot(tmp_path).node_artifacts(bad)
