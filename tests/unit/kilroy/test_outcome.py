"""The outcome comes from final.json first, the exit code second; bootstrap failures raise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.errors import (
    ConfigurationError,
    EngineError,
    InvalidInputError,
    ValidationFailedError,
)
from factoryos.kilroy import read_outcome


def logs_root(tmp_path: Path, final: dict[str, object] | None, *events: dict[str, object]) -> Path:
    root = tmp_path / "run" / "logs"
    root.mkdir(parents=True)
    if final is not None:
        (root / "final.json").write_text(json.dumps(final))
    (root / "progress.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    return root


def end(node: str, status: str, reason: str = "") -> dict[str, object]:
    return {
        "event": "stage_attempt_end",
        "node_id": node,
        "status": status,
        "failure_reason": reason,
        "attempt": 1,
        "max": 1,
    }


def edge(a: str, b: str) -> dict[str, object]:
    return {"event": "edge_selected", "from_node": a, "to_node": b}


def test_success(tmp_path: Path) -> None:
    root = logs_root(
        tmp_path, {"status": "success", "final_git_commit_sha": "abc"}, end("a", "success")
    )
    outcome = read_outcome(root, 0)
    assert (outcome.status, outcome.final_commit, outcome.failed_node) == ("success", "abc", None)


def test_a_failure_routed_to_a_fail_sink_blames_the_node_that_failed_first(tmp_path: Path) -> None:
    root = logs_root(
        tmp_path,
        {"status": "fail", "failure_reason": "exit status 1"},
        end("write", "success"),
        edge("write", "verify"),
        end("verify", "fail", "exit status 3"),
        edge("verify", "fail_sink"),
        end("fail_sink", "fail", "exit status 1"),
    )
    outcome = read_outcome(root, 1)
    assert outcome.status == "fail"
    assert outcome.failed_node == "verify"
    assert outcome.failure_reason == "exit status 3"
    assert outcome.kilroy_reason == "exit status 1"


def test_a_failing_node_without_a_failed_predecessor_is_itself_to_blame(tmp_path: Path) -> None:
    root = logs_root(
        tmp_path,
        {"status": "fail", "failure_reason": "boom"},
        end("a", "success"),
        edge("a", "b"),
        end("b", "fail", "boom"),
    )
    assert read_outcome(root, 1).failed_node == "b"


@pytest.mark.parametrize(
    "final",
    [
        {"status": "fail", "failure_reason": "stopped by signal terminated"},
        {"status": "fail", "failure_reason": "stopped_by_operator_forced"},
        {"status": "canceled"},
    ],
)
def test_a_stopped_run_is_canceled(tmp_path: Path, final: dict[str, object]) -> None:
    outcome = read_outcome(logs_root(tmp_path, final), 1)
    assert outcome.status == "canceled"
    assert outcome.kilroy_status == final["status"]


def test_a_failure_the_pipeline_recovered_from_is_not_the_cause(tmp_path: Path) -> None:
    root = logs_root(
        tmp_path,
        {"status": "fail", "failure_reason": "goal gate unsatisfied (b)"},
        end("a", "fail", "exit status 1"),
        edge("a", "fix"),
        end("fix", "success"),
    )
    outcome = read_outcome(root, 1)
    assert outcome.failed_node is None
    assert outcome.failure_reason == "goal gate unsatisfied (b)"


def test_events_before_after_are_ignored(tmp_path: Path) -> None:
    root = logs_root(
        tmp_path,
        {"status": "fail", "failure_reason": "x"},
        end("old", "fail", "stopped by signal terminated"),
        end("new", "fail", "x"),
    )
    assert read_outcome(root, 1, after=1).failed_node == "new"
    assert read_outcome(root, 1, after=2).failed_node is None


def test_exit_1_without_final_json_is_an_engine_error_with_the_stderr_tail(tmp_path: Path) -> None:
    root = logs_root(tmp_path, None)
    (root.parent / "kilroy.stderr.log").write_text(
        "=== factoryos: attractor run --graph at t ===\nold noise\n"
        "=== factoryos: attractor run --graph at t2 ===\nnot a git repo: /x\n"
    )
    with pytest.raises(EngineError) as info:
        read_outcome(root, 1)
    assert "not a git repo: /x" in str(info.value)
    assert "old noise" not in str(info.value)


def test_a_run_config_kilroy_refuses_is_a_configuration_error_with_its_fix(
    tmp_path: Path,
) -> None:
    root = logs_root(tmp_path, None)
    (root.parent / "kilroy.stderr.log").write_text(
        "=== factoryos: attractor run --graph at t ===\n"
        "no providers auto-detected from environment\n"
        "missing llm.providers.openai.backend (Kilroy forbids implicit backend defaults)\n"
        "  hint: add llm.providers.openai.backend: cli (or api) to your run config\n"
    )
    with pytest.raises(ConfigurationError) as info:
        read_outcome(root, 1)
    assert str(info.value) == (
        "Kilroy refused the run's configuration: missing llm.providers.openai.backend "
        "(Kilroy forbids implicit backend defaults) (hint: add llm.providers.openai.backend: "
        "cli (or api) to your run config)"
    )
    assert isinstance(info.value, InvalidInputError)  # the run fails; no retry


def test_a_graph_kilroy_rejects_is_a_validation_error_with_each_finding(tmp_path: Path) -> None:
    root = logs_root(tmp_path, None)
    stderr = tmp_path / "err.log"
    stderr.write_text(
        "validation failed: reachability: node x unreachable\n  hint: connect it; "
        "start_node: no start\n"
    )
    with pytest.raises(ValidationFailedError) as info:
        read_outcome(root, 1, stderr_path=stderr)
    assert info.value.problems == [
        "reachability: node x unreachable hint: connect it",
        "start_node: no start",
    ]


def test_killed_before_final_json(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="signal 9"):
        read_outcome(logs_root(tmp_path, None), -9)


def test_a_dot_syntax_error_at_start_points_at_the_file_line_and_column(tmp_path: Path) -> None:
    root = logs_root(tmp_path, None)
    graph = tmp_path / "p.dot"
    graph.write_text("digraph p {\n  start [shape=Mdiamond\n}\n")
    (root.parent / "launch.json").write_text(json.dumps({"graph": str(graph)}))
    (root.parent / "kilroy.stderr.log").write_text(
        "no providers auto-detected from environment (set API key env vars)\n"
        'dot parse: unexpected token in value: "}" at 36\n'
    )
    with pytest.raises(ValidationFailedError) as info:
        read_outcome(root, 1)
    assert str(info.value).startswith(f"{graph}:3:1: not a valid pipeline: dot parse:")


def test_kilroy_start_up_chatter_is_not_the_reason(tmp_path: Path) -> None:
    root = logs_root(tmp_path, None)
    (root.parent / "kilroy.stderr.log").write_text(
        "no providers auto-detected from environment\nnot a git repo: /x\n"
    )
    with pytest.raises(EngineError) as info:
        read_outcome(root, 1)
    assert str(info.value).splitlines() == [
        f"kilroy exited 1 before the run started (no final.json in {root}): not a git repo: /x"
    ]
