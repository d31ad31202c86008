"""A sweeper started in standby (``Sweeper.standby``), before its run exists: told its run,
it sweeps as one started beside Kilroy; let go untold, it sweeps nothing; when its starter
dies it sends Kilroy the SIGTERM the parent-death signal would have; and a Kilroy given one
tells it its run instead of starting another, and is spawned without a parent-death signal.

``sf pipeline run`` starts one first of all, so that its Python start is not beside
Kilroy's bootstrap. The sweeper started with its run (``Sweeper.start``) is tested
with the factory's other process guards (``tests/integration/controlplane``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factoryos.kilroy.adapter import Kilroy
from factoryos.kilroy.binary import KilroyBinary
from factoryos.kilroy.procs import MARKER_ENV, pid_alive
from factoryos.kilroy.runspec import RunSpec
from factoryos.kilroy.sweeper import Sweeper
from factoryos.settings import Settings

#: A starter that starts a standby sweeper, tells it the run in argv (marker, the grace,
#: whether it ends Kilroy, Kilroy's pid or "-" for none yet), says the sweeper's pid, and
#: waits to be killed.
STARTER = """
import signal, sys
from factoryos.kilroy.sweeper import Sweeper
marker, grace, ends, pid = sys.argv[1:]
sweeper = Sweeper.standby()
assert sweeper is not None and sweeper.tell(marker, float(grace), ends_kilroy=ends == "1")
assert pid == "-" or sweeper.started(int(pid))
print(sweeper.pid, flush=True)
signal.pause()
"""


def killed_starter(marker: str, grace: float, ends_kilroy: bool, pid: int | None) -> int:
    """Run ``STARTER``, SIGKILL it once its sweeper was told; the sweeper's pid."""
    argv = [marker, str(grace), "1" if ends_kilroy else "0", "-" if pid is None else str(pid)]
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, *argv], stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    sweeper_pid = int(starter.stdout.readline())
    starter.kill()  # the kernel closes its end of the pipe
    starter.wait()
    return sweeper_pid


def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The test's own ``sleep``s, killed at the end whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def sleeper(
    processes: list[subprocess.Popen[bytes]], marker: str | None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if marker is not None:
        name, value = marker.split("=", 1)
        env[name] = value
    proc = subprocess.Popen(["sleep", "300"], env=env)
    processes.append(proc)
    return proc


def a_marker(tmp_path: Path) -> str:
    return f"{MARKER_ENV}={tmp_path / 'logs'}"


def test_told_its_run_then_let_go_it_ends_the_runs_processes(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    tagged, bystander = sleeper(processes, marker), sleeper(processes, None)
    sweeper = Sweeper.standby()
    assert sweeper is not None

    assert sweeper.tell(marker, 0.2, log=tmp_path / "stderr.log")
    assert sweeper.started(tagged.pid)
    sweeper.close()

    assert tagged.wait(timeout=10) == -signal.SIGTERM
    until(lambda: not pid_alive(sweeper.pid), "the sweeper to exit")
    assert bystander.poll() is None


def test_let_go_untold_it_exits_and_ends_nothing(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    tagged = sleeper(processes, marker)
    sweeper = Sweeper.standby()
    assert sweeper is not None

    sweeper.close()  # the run failed before Kilroy started

    until(lambda: not pid_alive(sweeper.pid), "the sweeper to exit")
    assert tagged.poll() is None
    assert not sweeper.tell(marker, 0.2), "a sweeper let go is told nothing"
    assert not sweeper.started(tagged.pid)


def test_told_its_run_it_ends_it_when_its_starter_is_killed(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    tagged = sleeper(processes, marker)

    sweeper_pid = killed_starter(marker, 0.2, ends_kilroy=False, pid=tagged.pid)

    assert tagged.wait(timeout=10) == -signal.SIGTERM
    until(lambda: not pid_alive(sweeper_pid), "the sweeper to exit")


def test_one_that_ends_kilroy_sends_it_sigterm_when_its_starter_dies_not_after_the_grace(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    kilroy = sleeper(processes, marker)
    started = time.monotonic()

    killed_starter(marker, 60.0, ends_kilroy=True, pid=kilroy.pid)

    assert kilroy.wait(timeout=10) == -signal.SIGTERM
    assert time.monotonic() - started < 30, "it was sent at the close, not after the grace"


def test_one_that_ends_kilroy_spares_a_pid_that_is_no_longer_its_runs(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    stranger = sleeper(processes, None)  # as if Kilroy's pid were taken by another process

    sweeper_pid = killed_starter(marker, 0.2, ends_kilroy=True, pid=stranger.pid)

    until(lambda: not pid_alive(sweeper_pid), "the sweeper to exit")
    assert stranger.poll() is None


def test_told_its_run_but_no_pid_it_sweeps_the_run_when_its_starter_dies(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """The starter died while spawning Kilroy: whatever carries the marker is ended."""
    marker = a_marker(tmp_path)
    tagged, bystander = sleeper(processes, marker), sleeper(processes, None)

    sweeper_pid = killed_starter(marker, 60.0, ends_kilroy=True, pid=None)

    assert tagged.wait(timeout=10) == -signal.SIGTERM
    until(lambda: not pid_alive(sweeper_pid), "the sweeper to exit")
    assert bystander.poll() is None


def test_it_is_told_one_run_only(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    tagged = sleeper(processes, a_marker(tmp_path))
    sweeper = Sweeper.standby()
    assert sweeper is not None
    try:
        assert sweeper.tell(a_marker(tmp_path), 0.2)
        assert not sweeper.tell(f"{MARKER_ENV}={tmp_path / 'other'}", 0.2)
        assert sweeper.started(tagged.pid)
        assert not sweeper.started(tagged.pid)
    finally:
        sweeper.close()
    assert tagged.wait(timeout=10) == -signal.SIGTERM


#: A stand-in Kilroy that leaves a process of its run behind (as a tool's ``bash -c`` whose
#: children outlive Kilroy's cancel), notes its pid in the run directory, and exits.
LEAVES_ONE_BEHIND = "#!/bin/sh\nsleep 300 </dev/null >/dev/null 2>&1 &\necho $! > left\n"


def test_a_kilroy_given_a_standby_sweeper_tells_it_its_run(tmp_path: Path) -> None:
    binary = tmp_path / "kilroy"
    binary.write_text(LEAVES_ONE_BEHIND)
    binary.chmod(0o755)
    graph = tmp_path / "p.dot"
    graph.write_text("digraph p {}\n")
    standby = Sweeper.standby()
    assert standby is not None
    kilroy = Kilroy(
        KilroyBinary(binary, "v0.1.0"), Settings(home=tmp_path / "home"), sweeper=standby
    )
    spec = RunSpec(graph=graph, workspace=tmp_path / "ws", run_id="r1", run_dir=tmp_path / "r1")

    process = kilroy.start(spec)
    assert not standby.tell(a_marker(tmp_path), 0.2), "it was told its run"
    process.wait(timeout=10)  # Kilroy ended: the sweeper is let go

    left = int((tmp_path / "r1" / "left").read_text())
    try:
        until(lambda: not pid_alive(left), "the sweeper to end what Kilroy left")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(left, signal.SIGKILL)


#: A stand-in Kilroy that writes down its parent-death signal (``prctl(PR_GET_PDEATHSIG)``).
SAYS_ITS_PARENT_DEATH_SIGNAL = """#!{python}
import ctypes
sig = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)
open("pdeathsig", "w").write(str(sig.value))
"""


@pytest.mark.parametrize(("given_one", "signal_armed"), [(True, 0), (False, signal.SIGTERM)])
def test_a_kilroy_with_a_standby_sweeper_is_spawned_without_a_parent_death_signal(
    tmp_path: Path, given_one: bool, signal_armed: int
) -> None:
    """The sweeper sends that SIGTERM instead, so the spawn needs no ``preexec_fn``."""
    binary = tmp_path / "kilroy"
    binary.write_text(SAYS_ITS_PARENT_DEATH_SIGNAL.format(python=sys.executable))
    binary.chmod(0o755)
    graph = tmp_path / "p.dot"
    graph.write_text("digraph p {}\n")
    standby = Sweeper.standby() if given_one else None
    settings = Settings(home=tmp_path / "home", build_nice=0)
    kilroy = Kilroy(KilroyBinary(binary, "v0.1.0"), settings, sweeper=standby)
    spec = RunSpec(graph=graph, workspace=tmp_path / "ws", run_id="r1", run_dir=tmp_path / "r1")

    kilroy.start(spec).wait(timeout=30)

    assert int((tmp_path / "r1" / "pdeathsig").read_text()) == signal_armed
