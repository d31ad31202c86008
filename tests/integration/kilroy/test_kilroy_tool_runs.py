"""Tool-only pipelines through real Kilroy: success, failure, inputs, and what cannot start."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kilroy_support import EXAMPLES, git, pipeline

from factoryos.errors import InvalidInputError, ValidationFailedError, WorkspaceError
from factoryos.events import EventLog, EventType, read_events, run_source, validate_events
from factoryos.events.log import iter_lines
from factoryos.kilroy import Kilroy, LogsRoot, RunSpec, follow_progress, translate_progress

pytestmark = pytest.mark.integration


def test_a_tool_pipeline_succeeds_and_its_events_validate(kilroy: Kilroy, tmp_path: Path) -> None:
    workspace = tmp_path / "new-workspace"  # does not exist yet: created with one commit
    spec = RunSpec(
        graph=EXAMPLES / "tool-only.dot",
        workspace=workspace,
        run_id="tools-1",
        run_dir=kilroy.settings.runs_dir / "tools-1",
        inputs={"GREETING": "hi"},
    )
    started = time.monotonic()
    process = kilroy.start(spec)
    log = EventLog(spec.run_dir / "events.ndjson", run_source("demo", spec.run_id))
    log.append(EventType.RUN_STARTED, {"run_id": spec.run_id, "pid": process.pid})
    for line in follow_progress(process.logs_root, process):
        for kind, data, subject in translate_progress(line):
            log.append(kind, data, subject=subject)
    outcome = process.outcome()
    log.append(EventType.RUN_FINISHED, {"status": outcome.status})
    elapsed = time.monotonic() - started

    assert outcome.status == "success", outcome
    assert outcome.exit_code == 0
    assert outcome.final_commit == git(workspace, "rev-parse", "attractor/run/tools-1").strip()
    assert git(workspace, "show", f"{outcome.final_commit}:greeting.txt") == "hi from Factory OS\n"
    assert validate_events(iter_lines(log.path)) == []
    events = read_events(log.path)
    stages = [(e.type, e.subject) for e in events if e.type.startswith("dev.factoryos.stage.")]
    assert stages == [
        (EventType.STAGE_STARTED, node) if i % 2 == 0 else (EventType.STAGE_COMPLETED, node)
        for node in ("start", "write", "check", "summarise")
        for i in range(2)
    ]
    edges = [(e.data["from"], e.data["to"]) for e in events if e.type == EventType.EDGE_SELECTED]
    assert edges == [
        ("start", "write"),
        ("write", "check"),
        ("check", "summarise"),
        ("summarise", "exit"),
    ]
    assert kilroy.status(process.logs_root).state == "success"
    artifacts = {a.name for a in LogsRoot(process.logs_root).node_artifacts("check")}
    assert {"stdout.log", "stderr.log", "status.json", "tool_timing.json"} <= artifacts
    assert elapsed < 10


def test_a_failing_tool_node_fails_the_run_at_that_node(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = pipeline(
        tmp_path,
        "fails",
        {
            "write": "echo data > data.txt",
            "check": "echo checking; exit 3",
            "never": "echo should not run > never.txt",
        },
    )
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="fails-1",
        run_dir=kilroy.settings.runs_dir / "fails-1",
    )
    process = kilroy.start(spec)
    outcome = process.outcome(timeout=30)
    assert outcome.status == "fail"
    assert outcome.exit_code == 1
    assert outcome.failed_node == "check"
    assert outcome.failure_reason == "exit status 3"
    assert outcome.kilroy_reason == "exit status 1"  # the fail sink's
    assert LogsRoot(process.logs_root).node_status("never") is None
    assert kilroy.status(process.logs_root).state == "fail"


def test_inputs_reach_tool_nodes_under_both_names(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = pipeline(
        tmp_path,
        "inputs",
        {
            "show": 'printf "%s|%s" "$KILROY_INPUT_TARGET_NAME" '
            '"$FACTORYOS_INPUT_TARGET_NAME" > in.txt',
        },
    )
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="inputs-1",
        run_dir=kilroy.settings.runs_dir / "inputs-1",
        inputs={"target.name": "a b"},
    )
    outcome = kilroy.start(spec).outcome(timeout=30)
    assert outcome.status == "success"
    assert git(tmp_path / "ws", "show", f"{outcome.final_commit}:in.txt") == "a b|a b"


def test_a_pipeline_kilroy_rejects_is_a_validation_error(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = tmp_path / "bad.dot"
    graph.write_text('digraph bad {\n  a [shape=parallelogram, tool_command="true"]\n}\n')
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="bad-1",
        run_dir=kilroy.settings.runs_dir / "bad-1",
    )
    process = kilroy.start(spec)
    with pytest.raises(ValidationFailedError) as info:
        process.outcome(timeout=30)
    assert any(p.startswith("start_node") for p in info.value.problems)


def test_a_syntax_error_found_at_start_names_the_line(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = tmp_path / "syntax.dot"
    graph.write_text("digraph p {\n  start [shape=Mdiamond\n}\n")
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="syntax-1",
        run_dir=kilroy.settings.runs_dir / "syntax-1",
    )
    with pytest.raises(ValidationFailedError) as info:
        kilroy.start(spec).outcome(timeout=30)
    assert str(info.value).startswith(f"{graph}:3:1: not a valid pipeline: dot parse:")


def test_what_cannot_start_is_one_clear_error(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = EXAMPLES / "tool-only.dot"
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    (not_a_repo / "notes.txt").write_text("x")
    runs = kilroy.settings.runs_dir
    with pytest.raises(WorkspaceError, match="not a git repository"):
        kilroy.start(RunSpec(graph=graph, workspace=not_a_repo, run_id="r1", run_dir=runs / "r1"))
    with pytest.raises(InvalidInputError, match="pipeline not found"):
        kilroy.start(
            RunSpec(
                graph=tmp_path / "nope.dot",
                workspace=tmp_path / "ws",
                run_id="r2",
                run_dir=runs / "r2",
            )
        )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(WorkspaceError, match="cannot create run directory"):
        kilroy.start(
            RunSpec(graph=graph, workspace=tmp_path / "ws", run_id="r3", run_dir=blocker / "r3")
        )


def test_a_stage_timeout_fails_a_stage_that_runs_too_long(kilroy: Kilroy, tmp_path: Path) -> None:
    graph = pipeline(tmp_path, "timeout", {"wait": "sleep 20"})
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="timeout-1",
        run_dir=kilroy.settings.runs_dir / "timeout-1",
        stage_timeout=0.5,
    )
    started = time.monotonic()
    outcome = kilroy.start(spec).outcome(timeout=30)
    assert outcome.status == "fail"
    assert outcome.failed_node == "wait"
    assert time.monotonic() - started < 10


def test_a_retried_stage_is_one_stage_retrying_event(kilroy: Kilroy, tmp_path: Path) -> None:
    tries = tmp_path / "tries"
    graph = tmp_path / "flaky.dot"
    graph.write_text(f"""digraph flaky {{
  graph [goal="retry once", default_max_retry="0"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  flaky [shape=parallelogram, max_retries=1,
         tool_command="echo x >> {tries}; test $(wc -l < {tries}) -ge 2"]
  fail_sink [shape=parallelogram, tool_command="exit 1"]
  start -> flaky
  flaky -> exit
  flaky -> fail_sink [condition="outcome!=success"]
}}
""")
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="flaky-1",
        run_dir=kilroy.settings.runs_dir / "flaky-1",
    )
    process = kilroy.start(spec)
    kinds = [
        (kind, subject)
        for line in follow_progress(process.logs_root, process)
        for kind, _, subject in translate_progress(line)
        if kind.startswith("dev.factoryos.stage.")
    ]
    assert process.outcome().status == "success"
    assert kinds == [
        (EventType.STAGE_STARTED, "start"),
        (EventType.STAGE_COMPLETED, "start"),
        (EventType.STAGE_STARTED, "flaky"),
        (EventType.STAGE_COMPLETED, "flaky"),
        (EventType.STAGE_RETRYING, "flaky"),
        (EventType.STAGE_STARTED, "flaky"),
        (EventType.STAGE_COMPLETED, "flaky"),
    ]
