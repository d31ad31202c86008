"""The follower's short waits at the end of a run return at Kilroy's exit (its pidfd)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from factoryos.kilroy.process import KilroyProcess, spawn


def started(tmp_path: Path, seconds: float) -> KilroyProcess:
    argv = [sys.executable, "-c", f"import time; time.sleep({seconds})"]
    popen = spawn(
        argv, cwd=tmp_path, env=os.environ, stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
    )  # fmt: skip
    return KilroyProcess(
        pid=popen.pid, logs_root=tmp_path / "logs", run_dir=tmp_path, command=argv,
        stdout_path=tmp_path / "out.log", stderr_path=tmp_path / "err.log", popen=popen,
    )  # fmt: skip


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_short_wait_returns_when_the_process_exits(tmp_path: Path) -> None:
    process = started(tmp_path, 0.3)
    before = open_fds()
    process.wait_briefly(600)  # not the timeout: the exit ends it
    assert process.poll() == 0
    assert open_fds() == before  # the pidfd went with the process


def test_a_short_wait_on_an_ended_process_is_a_sleep(tmp_path: Path) -> None:
    process = started(tmp_path, 0)
    assert process.wait() == 0
    before = open_fds()
    process.wait_briefly(0.01)
    assert open_fds() == before
