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


def test_a_workload_added_to_a_run_whose_listing_is_kept_is_seen(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    launcher = LocalProcessLauncher(tmp_path, {}, prewarm=False, sandbox=False)
    workload(tmp_path, "r", "r-c0-1", sleeper(sleepers).pid)
    old(RunDirectory.of(tmp_path, "default", "r").workloads)
    assert [w.name for w in launcher.workloads("default", "r")] == ["r-c0-1"]
    workload(tmp_path, "r", "r-c1-1", sleeper(sleepers).pid)
    assert [w.name for w in launcher.workloads("default", "r")] == ["r-c0-1", "r-c1-1"]
    launcher.close()


def test_a_runner_that_ends_is_seen_ended(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    launcher = LocalProcessLauncher(tmp_path, {}, prewarm=False, sandbox=False)
    runner = sleeper(sleepers)
    old(workload(tmp_path, "r", "r-c0-1", runner.pid).parent)
    [running] = launcher.workloads("default", "r")
    assert running.running
    runner.kill()
    runner.wait()
    [lost] = launcher.workloads("default", "r")
    assert lost.result is not None and "lost" in (lost.result.reason or "")
    launcher.close()


def test_a_run_made_anew_under_the_same_name_is_looked_at_anew(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    launcher = LocalProcessLauncher(tmp_path, {}, prewarm=False, sandbox=False)
    first = sleeper(sleepers)
    old(workload(tmp_path, "r", "r-c0-1", first.pid).parent)
    [running] = launcher.workloads("default", "r")
    assert running.running
    # Deleted and made again while the first runner still ran: same names, another runner.
    subprocess.run(["rm", "-rf", str(RunDirectory.of(tmp_path, "default", "r").path)], check=True)
    second = sleeper(sleepers)
    old(workload(tmp_path, "r", "r-c0-1", second.pid).parent)
    first.kill()
    first.wait()
    [again] = launcher.workloads("default", "r")
    assert again.running  # the second runner's, not the first one's end
    second.kill()
    second.wait()
    [ended] = launcher.workloads("default", "r")
    assert not ended.running
    launcher.close()
