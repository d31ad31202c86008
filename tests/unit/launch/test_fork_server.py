"""The fork server and its client: each runner recorded before it is answered, started
lower in priority, and asked for without waiting for the answer (a batch of runs in a
row costs one round trip); a server that is gone leaves no run unstarted."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.kilroy.priority import restore_own_session
from factoryos.launch import LocalProcessLauncher
from factoryos.launch.forkserver import serve
from factoryos.workloads import WorkloadSpec


@pytest.fixture
def signals() -> Iterator[None]:
    """``serve`` ignores SIGCHLD and SIGINT in its process: give them back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGCHLD, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def wait_for(path: Path) -> str:
    while not path.exists() or not path.read_text().endswith("\n"):
        time.sleep(0.01)  # pytest-timeout ends a wait that never ends
    return path.read_text()


def test_each_child_is_recorded_before_the_answer_and_starts_in_a_lower_group(
    tmp_path: Path, signals: None
) -> None:
    def main(argv: list[str]) -> int:  # runs in the forked child
        group = Path("/proc/self/autogroup")
        started = group.read_text().split()[-1] if group.exists() else "3"
        restoring = restore_own_session()  # what a build's runner does once Kilroy runs
        assert restoring is not None  # the child leads its own session
        restoring.done.wait(10)
        now = group.read_text().split()[-1] if group.exists() else "0"
        prio = os.getpriority(os.PRIO_PROCESS, 0)
        seen = f"{prio} {started} {now} {Path.cwd()} {os.environ['MARK']}\n"
        (Path(argv[0]).parent / "seen").write_text(seen)
        return 0

    requests = b""
    for i in range(3):
        folder = tmp_path / f"w{i}"
        folder.mkdir()
        requests += json.dumps({
            "spec": str(folder / "spec.json"), "output": str(folder / "output.log"),
            "process": str(folder / "process.json"), "niceness": 3, "env": {"MARK": f"m{i}"},
        }).encode() + b"\n"  # fmt: skip
    replies = io.BytesIO()
    serve(io.BytesIO(requests), replies, main)
    pids = [int(line) for line in replies.getvalue().split()]
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    for i, pid in enumerate(pids):
        folder = tmp_path / f"w{i}"
        record = json.loads((folder / "process.json").read_text())  # there when answered
        assert record["pid"] == pid and record["startedAt"]
        nice, started, now, cwd, mark = wait_for(folder / "seen").split()
        # The process keeps our nice value (it could not take a raised one back) ...
        assert (int(nice), cwd, mark) == (ours, str(folder), f"m{i}")
        # ... its session's group starts lower (unprivileged, the kernel takes one
        # autogroup change per 100 ms machine-wide, so it may still be on its way) ...
        assert started == "3" or (os.geteuid() != 0 and started == "0")
        # ... and is taken back to the process's own value.
        assert int(now) == ours


FAKE_SERVER = """#!{python}
import json, os, sys
from pathlib import Path
from factoryos.launch.processrecord import write_process_record
if sys.argv[1:] != ["-m", "factoryos.launch.forkserver"]:
    sys.exit(0)  # a runner started as a fresh process: ends at once
asked = [json.loads(sys.stdin.readline()) for _ in range({batch})]
if {answer}:
    for request in asked:  # the runner is this process, for the test
        write_process_record(Path(request["process"]), os.getpid())
        print(os.getpid(), flush=True)
    sys.stdin.read()  # until the launcher closes
"""


def launcher(tmp_path: Path, batch: int, answer: bool) -> LocalProcessLauncher:
    """A launcher whose fork server reads ``batch`` requests before it does anything,
    then answers them all (``answer``) or exits without forking any."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_SERVER.format(python=sys.executable, batch=batch, answer=answer))
    fake.chmod(0o755)
    return LocalProcessLauncher(tmp_path / "runs", {"PATH": os.environ["PATH"]},
                                python=str(fake), sandbox=False)  # fmt: skip


def spec(tmp_path: Path, run: str) -> WorkloadSpec:
    return WorkloadSpec(
        name=f"{run}-c0-1", namespace="default", product="p", run=run, candidate=0, attempt=1,
        run_dir=tmp_path / "runs" / "default" / run, goal="g",
    )  # fmt: skip


def test_runs_started_in_a_row_are_asked_for_without_waiting_for_each_answer(
    tmp_path: Path,
) -> None:
    runs = ["a", "b", "c"]
    started = launcher(tmp_path, batch=len(runs), answer=True)
    try:
        for run in runs:  # waiting for an answer here would wait forever
            started.start(spec(tmp_path, run))
            started.start(spec(tmp_path, run))  # asked for already: not asked again
        for run in runs:
            (seen,) = started.workloads("default", run)  # waits for its answer
            assert seen.name == f"{run}-c0-1" and seen.running
    finally:
        started.close()


def test_runners_the_fork_server_never_forked_are_started_as_fresh_processes(
    tmp_path: Path,
) -> None:
    started = launcher(tmp_path, batch=2, answer=False)
    try:
        started.start(spec(tmp_path, "a"))
        started.start(spec(tmp_path, "b"))
        for run in ("a", "b"):
            (seen,) = started.workloads("default", run)
            assert seen.name == f"{run}-c0-1"
            folder = tmp_path / "runs/default" / run / "workloads" / f"{run}-c0-1"
            record = json.loads((folder / "process.json").read_text())
            assert record["pid"] not in started.helper_pids
    finally:
        started.close()
