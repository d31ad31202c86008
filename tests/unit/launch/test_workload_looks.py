"""The launcher's repeated looks at its workloads: cheap (a pidfd per running process, a
run's listing and each process record read once), and never stale: a process that ends,
a workload folder added, a run made anew under the same name are all seen."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.kilroy.procs import proc_stat
from factoryos.launch import LocalProcessLauncher
from factoryos.launch.liveness import ProcessLiveness
from factoryos.launch.processrecord import write_process_record
from factoryos.workloads import RunDirectory


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def sleeper(started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "60"])
    started.append(proc)
    return proc


def ticks(pid: int) -> int:
    stat = proc_stat(pid)
    assert stat is not None
    return stat.start_ticks


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_process_found_running_is_watched_through_a_pidfd_until_it_ends(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    proc = sleeper(sleepers)
    liveness = ProcessLiveness()
    before = open_fds()
    assert liveness.alive("w", proc.pid, ticks(proc.pid))
    assert open_fds() == before + 1  # its pidfd
    assert liveness.alive("w", proc.pid, ticks(proc.pid))
    proc.kill()
    proc.wait()
    assert not liveness.alive("w", proc.pid, 0)  # the pidfd answers, not the pid
    liveness.forget("w")
    assert open_fds() == before


def test_a_reused_pid_or_a_zombie_is_not_the_recorded_process(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    proc = sleeper(sleepers)
    liveness = ProcessLiveness()
    assert not liveness.alive("other start", proc.pid, ticks(proc.pid) + 1)
    proc.kill()
    time.sleep(0.2)  # not reaped: a zombie
    assert not liveness.alive("zombie", proc.pid, ticks(proc.pid))
    liveness.close()


def workload(runs: Path, run: str, name: str, pid: int) -> Path:
    folder = RunDirectory.of(runs, "default", run).workload(name)
    folder.mkdir(parents=True)
    write_process_record(folder / "process.json", pid)
    return folder


def old(path: Path) -> None:
    """Date ``path`` two seconds back, as a listing made a while ago finds it."""
    stamp = time.time() - 2
    os.utime(path, (stamp, stamp))


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[LocalProcessLauncher]:
    launcher = LocalProcessLauncher(tmp_path, {}, prewarm=False, sandbox=False)
    yield launcher
    launcher.close()


def running(
    runs: Path, started: list[subprocess.Popen[bytes]], name: str
) -> subprocess.Popen[bytes]:
    """A sleeping process recorded as workload ``name`` of run ``r``, in a folder as a
    listing made a while ago finds it."""
    proc = sleeper(started)
    old(workload(runs, "r", name, proc.pid).parent)
    return proc


def ended(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def test_a_workload_added_to_a_run_whose_listing_is_kept_is_seen(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], launcher: LocalProcessLauncher
) -> None:
    running(tmp_path, sleepers, "r-c0-1")
    assert [w.name for w in launcher.workloads("default", "r")] == ["r-c0-1"]
    workload(tmp_path, "r", "r-c1-1", sleeper(sleepers).pid)  # changes the folder: listed anew
    assert [w.name for w in launcher.workloads("default", "r")] == ["r-c0-1", "r-c1-1"]


def test_a_runner_that_ends_is_seen_ended(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], launcher: LocalProcessLauncher
) -> None:
    runner = running(tmp_path, sleepers, "r-c0-1")
    [state] = launcher.workloads("default", "r")
    assert state.running
    ended(runner)
    [lost] = launcher.workloads("default", "r")
    assert lost.result is not None and "lost" in (lost.result.reason or "")


def test_a_run_made_anew_under_the_same_name_is_looked_at_anew(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], launcher: LocalProcessLauncher
) -> None:
    first = running(tmp_path, sleepers, "r-c0-1")
    [state] = launcher.workloads("default", "r")
    assert state.running
    # Deleted and made again while the first runner still ran: same names, another runner.
    subprocess.run(["rm", "-rf", str(RunDirectory.of(tmp_path, "default", "r").path)], check=True)
    second = running(tmp_path, sleepers, "r-c0-1")
    ended(first)
    [again] = launcher.workloads("default", "r")
    assert again.running  # the second runner's, not the first one's end
    ended(second)
    [done] = launcher.workloads("default", "r")
    assert not done.running
