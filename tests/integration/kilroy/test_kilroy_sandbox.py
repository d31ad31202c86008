"""A sandboxed Kilroy is stopped and resumed like an unsandboxed one: its host pid is the
one in ``run.pid``, ``kilroy attractor stop`` finds it, nothing of it survives the stop
(with no sweeper: the sandbox's pid namespace ends what Kilroy's cancel leaves), and the
resume (in a sandbox again) runs only what was left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kilroy_support import live_group_members, sweepers
from test_kilroy_stop_resume import GRACE, count, long_run_spec, wait_for

from factoryos.kilroy import Kilroy, follow_progress
from factoryos.kilroy.procs import PROC, pid_alive, run_processes
from factoryos.kilroy.sandbox import Sandbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap not installed"),
]


def test_a_sandboxed_run_stops_gracefully_and_resumes(kilroy: Kilroy, tmp_path: Path) -> None:
    spec = long_run_spec(kilroy, tmp_path, "boxed-1")
    state = kilroy.settings.kilroy_state_dir
    writable = [spec.workspace, kilroy.settings.runs_dir, state, tmp_path / "marks"]
    for folder in writable:
        folder.mkdir(parents=True, exist_ok=True)
    bwrap = Path(str(shutil.which("bwrap")))
    boxed = kilroy  # its runs in a sandbox from now on
    boxed.sandbox = Sandbox.on_host(
        bwrap, read_only=[kilroy.binary.path, spec.graph], writable=writable
    )
    marks = tmp_path / "marks"

    first = boxed.start(spec)
    wait_for(marks / "slow.child", first)
    cmdline = (PROC / str(first.pid) / "cmdline").read_bytes().split(b"\0")
    assert cmdline[1:3] == [b"attractor", b"run"], "the host pid of Kilroy, not bwrap's"
    assert (first.logs_root / "run.pid").read_text() == str(first.pid)
    assert sweepers(first.logs_root) == [], "the pid namespace ends the leftovers, not a sweeper"
    assert boxed.status(first.logs_root).state == "running"

    result = boxed.stop(first.logs_root, grace_seconds=GRACE)

    assert result.stopped and result.method == "graceful", result
    assert not pid_alive(first.pid)
    assert live_group_members(first.pid) == [] and run_processes(first.logs_root) == []
    assert first.outcome(timeout=5).status == "canceled"

    (marks / "sleep-seconds").write_text("0.1")
    second = boxed.resume(first.logs_root)
    started = [
        ev["node_id"]
        for ev in follow_progress(second.logs_root, second)
        if ev.get("event") == "stage_attempt_start"
    ]
    assert second.outcome(timeout=30).status == "success"
    assert started == ["slow", "finish"]
    assert (count(marks / "prepare.done"), count(marks / "slow.starts")) == (1, 2)
