"""A sweeper started in standby (``Sweeper.standby``), before its run exists: told its run,
it sweeps as one started beside Kilroy; let go untold, it sweeps nothing; and a Kilroy
given one tells it its run instead of starting another.

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

#: A starter that starts a standby sweeper, tells it the run in argv, says the sweeper's
#: pid, and waits to be killed.
STARTER = """
import signal, sys
from factoryos.kilroy.sweeper import Sweeper
sweeper = Sweeper.standby()
assert sweeper is not None and sweeper.tell(sys.argv[1], int(sys.argv[2]), 0.2)
print(sweeper.pid, flush=True)
signal.pause()
"""


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

    assert sweeper.tell(marker, tagged.pid, 0.2, log=tmp_path / "stderr.log")
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
    assert not sweeper.tell(marker, tagged.pid, 0.2), "a sweeper let go is told nothing"


def test_told_its_run_it_ends_it_when_its_starter_is_killed(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = a_marker(tmp_path)
    tagged = sleeper(processes, marker)
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, marker, str(tagged.pid)], stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    sweeper_pid = int(starter.stdout.readline())

    starter.kill()  # the kernel closes its end of the pipe
    starter.wait()

    assert tagged.wait(timeout=10) == -signal.SIGTERM
    until(lambda: not pid_alive(sweeper_pid), "the sweeper to exit")


def test_it_is_told_one_run_only(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    tagged = sleeper(processes, a_marker(tmp_path))
    sweeper = Sweeper.standby()
    assert sweeper is not None
    try:
        assert sweeper.tell(a_marker(tmp_path), tagged.pid, 0.2)
        assert not sweeper.tell(f"{MARKER_ENV}={tmp_path / 'other'}", tagged.pid, 0.2)
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
    assert not standby.tell(a_marker(tmp_path), process.pid, 0.2), "it was told its run"
    process.wait(timeout=10)  # Kilroy ended: the sweeper is let go

    left = int((tmp_path / "r1" / "left").read_text())
    try:
        until(lambda: not pid_alive(left), "the sweeper to end what Kilroy left")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(left, signal.SIGKILL)
