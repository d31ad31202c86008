"""Stopping ends every process of a run within the grace; resuming skips completed nodes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from kilroy_support import git, live_group_members, pipeline

from factoryos.kilroy import Kilroy, KilroyProcess, RunSpec, follow_progress
from factoryos.kilroy.procs import pid_alive, run_processes

pytestmark = pytest.mark.integration

GRACE = 2.0


def wait_for(path: Path, process: KilroyProcess, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"kilroy exited {process.poll()} before {path.name}"
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def long_pipeline(tmp_path: Path, marks: Path) -> Path:
    """prepare -> slow -> finish; each step records itself in ``marks`` (outside the worktree).

    ``slow`` sleeps in a child of its shell (the case Kilroy alone leaves running)
    for as many seconds as ``marks/sleep-seconds`` says.
    """
    marks.mkdir(parents=True, exist_ok=True)
    (marks / "sleep-seconds").write_text("30")
    m = str(marks)
    return pipeline(
        tmp_path,
        "long",
        {
            "prepare": f"echo x >> {m}/prepare.done; echo prepared > prepared.txt",
            "slow": (
                f"echo x >> {m}/slow.starts; echo $$ > {m}/slow.shell; "
                f"sleep $(cat {m}/sleep-seconds) & echo $! > {m}/slow.child; wait; "
                f"echo x >> {m}/slow.done"
            ),
            "finish": f"echo x >> {m}/finish.done; ls prepared.txt",
        },
    )


def count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def long_run_spec(kilroy: Kilroy, tmp_path: Path, run_id: str) -> RunSpec:
    """A run of ``long_pipeline`` whose marks land in ``tmp_path/marks``."""
    return RunSpec(
        graph=long_pipeline(tmp_path, tmp_path / "marks"),
        workspace=tmp_path / "ws",
        run_id=run_id,
        run_dir=kilroy.settings.runs_dir / run_id,
    )


def test_stop_during_a_long_node_halts_the_run_within_the_grace(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    spec = long_run_spec(kilroy, tmp_path, "stop-1")
    process = kilroy.start(spec)
    wait_for(marks / "slow.child", process)
    shell, child = int((marks / "slow.shell").read_text()), int((marks / "slow.child").read_text())
    assert pid_alive(shell) and pid_alive(child)
    assert os.getpgid(child) == process.pid  # tool nodes share Kilroy's process group
    assert kilroy.status(process.logs_root).state == "running"

    started = time.monotonic()
    result = kilroy.stop(process.logs_root, grace_seconds=GRACE)
    latency = time.monotonic() - started

    assert result.stopped
    assert latency < GRACE, f"stop took {latency:.2f}s"
    assert result.method == "graceful"
    assert child in result.killed  # Kilroy killed the shell; its child was still running
    for pid in (process.pid, shell, child):
        assert not pid_alive(pid), f"pid {pid} survived the stop"
    # Orphans may linger as zombies where PID 1 does not reap; none may still run.
    assert live_group_members(process.pid) == []
    assert run_processes(process.logs_root) == []
    outcome = process.outcome(timeout=5)
    assert outcome.status == "canceled"
    assert outcome.failed_node == "slow"
    assert kilroy.status(process.logs_root).state == "canceled"
    assert not kilroy.stop(process.logs_root).stopped  # stopping again is a no-op


def test_resume_continues_from_the_checkpoint_without_rerunning_completed_nodes(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    spec = long_run_spec(kilroy, tmp_path, "resume-1")
    workspace = spec.workspace
    first = kilroy.start(spec)
    wait_for(marks / "slow.child", first)
    assert kilroy.stop(first.logs_root, grace_seconds=GRACE).stopped
    assert first.outcome(timeout=5).status == "canceled"
    assert (count(marks / "prepare.done"), count(marks / "slow.starts")) == (1, 1)

    (marks / "sleep-seconds").write_text("0.1")
    second = kilroy.resume(first.logs_root)
    assert second.progress_after > 0
    started = [
        ev["node_id"]
        for ev in follow_progress(second.logs_root, second)
        if ev.get("event") == "stage_attempt_start"
    ]
    outcome = second.outcome(timeout=30)

    assert outcome.status == "success", outcome
    assert started == ["slow", "finish"]
    assert count(marks / "prepare.done") == 1  # completed before the stop: not run again
    assert count(marks / "slow.starts") == 2  # interrupted, so run again from its start
    assert count(marks / "slow.done") == 1
    assert count(marks / "finish.done") == 1
    subjects = git(workspace, "log", "--format=%s", "attractor/run/resume-1").splitlines()
    assert [s for s in subjects if "prepare" in s] == ["attractor(resume-1): prepare (success)"]
    assert (first.logs_root / "final.before-resume-1.json").exists()
    assert kilroy.status(first.logs_root).state == "success"


def test_a_detached_run_can_be_stopped(kilroy: Kilroy, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    spec = long_run_spec(kilroy, tmp_path, "detached-1")
    process = kilroy.start(spec, detach=True)
    assert process.detached
    wait_for(marks / "slow.child", process)
    result = kilroy.stop(process.logs_root, grace_seconds=GRACE)
    assert result.stopped and result.elapsed_seconds < GRACE
    assert process.wait(timeout=5) == 1
    assert process.outcome().status == "canceled"
    assert run_processes(process.logs_root) == []


def test_when_kilroy_refuses_to_stop_the_run_is_stopped_with_signals(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    spec = long_run_spec(kilroy, tmp_path, "refused-1")
    process = kilroy.start(spec)
    wait_for(marks / "slow.child", process)
    # A stale final.json (as Kilroy v0.1.0 leaves one behind on resume) makes
    # `attractor stop` believe the run is over.
    (process.logs_root / "final.json").write_text('{"status": "fail", "run_id": "refused-1"}')
    result = kilroy.stop(process.logs_root, grace_seconds=GRACE)
    assert result.stopped
    assert result.method == "signal"
    assert result.kilroy_refusal is not None and "refusing" in result.kilroy_refusal
    assert result.elapsed_seconds < GRACE
    assert run_processes(process.logs_root) == []
    assert live_group_members(process.pid) == []
    assert process.outcome(timeout=5).status == "canceled"
