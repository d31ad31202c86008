"""The three mechanisms that keep a factory's processes from outliving their starters.

The parent-death signal (a child that dies with its parent, SIGKILL included),
``sf up``'s record of its helpers (the next one ends what is still running,
and only that), and a Kilroy run's sweeper (its tagged processes end once its
starter is gone).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from factory_support import wait_for

from factoryos.controlplane import HelperRecord
from factoryos.kilroy.procs import pid_alive
from factoryos.kilroy.sweeper import Sweeper

#: A parent that starts the command in argv with the given preexec function, says its
#: pid, and waits.
PARENT = """
import signal, subprocess, sys
from factoryos.parent_death import die_with_parent
child = subprocess.Popen(sys.argv[1:], preexec_fn=die_with_parent(signal.SIG{sig}))
print(child.pid, flush=True)
signal.pause()
"""
#: A child that writes which signal ended it into the file in argv.
NOTES_SIGTERM = (
    "import pathlib, signal, sys, time\n"
    "def note(*_): pathlib.Path(sys.argv[1]).write_text('TERM'); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, note)\n"
    "pathlib.Path(sys.argv[1]).write_text('ready')\n"
    "time.sleep(300)\n"
)


def _parent_and_child(sig: str, *child: str) -> tuple[subprocess.Popen[str], int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(sig=sig), *(child or ("sleep", "300"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed() -> None:
    parent, child = _parent_and_child("KILL")
    assert pid_alive(child)
    parent.kill()
    parent.wait()
    wait_for(lambda: not pid_alive(child), timeout=5, what="the child to die with its parent")


def test_the_signal_is_the_one_asked_for(tmp_path: Path) -> None:
    note = tmp_path / "signal"
    parent, child = _parent_and_child("TERM", sys.executable, "-c", NOTES_SIGTERM, str(note))
    wait_for(lambda: note.exists() and note.read_text() == "ready", what="the child's handler")
    parent.kill()
    parent.wait()
    wait_for(lambda: not pid_alive(child), timeout=5, what="the child to get SIGTERM")
    assert note.read_text() == "TERM"


def test_the_next_control_plane_ends_recorded_helpers_still_running(tmp_path: Path) -> None:
    helper = subprocess.Popen(["sleep", "300"])
    record = HelperRecord(tmp_path)
    record.add("dashboard", helper.pid)

    ended = HelperRecord(tmp_path).sweep(grace_seconds=2)

    assert [(h.role, h.pid) for h in ended] == [("dashboard", helper.pid)]
    assert helper.wait(timeout=5) == -signal.SIGTERM
    assert HelperRecord(tmp_path).sweep() == [], "the record starts afresh"


def test_a_reused_pid_is_never_taken_for_a_helper(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        record = HelperRecord(tmp_path)
        record.add("dashboard", bystander.pid)
        line = record.path.read_text().replace('"startTicks": ', '"startTicks": 1')
        record.path.write_text(line)  # the same pid, started at another time

        assert record.sweep(grace_seconds=1) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_sweeper_ends_the_runs_processes_when_its_starter_dies(tmp_path: Path) -> None:
    marker = f"FACTORYOS_LOGS_ROOT={tmp_path / 'logs'}"
    name, value = marker.split("=", 1)
    tagged = subprocess.Popen(["sleep", "300"], env={**os.environ, name: value})
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        sweeper = Sweeper.start(marker, kilroy_pid=tagged.pid, grace_seconds=0.2)
        assert sweeper is not None
        time.sleep(0.5)
        assert tagged.poll() is None, "nothing is swept while the starter holds the pipe"

        sweeper.close()  # what the kernel does when the starter dies

        assert tagged.wait(timeout=5) == -signal.SIGTERM
        assert bystander.poll() is None
    finally:
        for proc in (tagged, bystander):
            proc.kill()
            proc.wait()


def test_a_sweeper_spares_a_process_of_the_run_started_after_its_starter_went(
    tmp_path: Path,
) -> None:
    """A retry resumes the run at once, with the same marker: it is not the sweeper's."""
    marker = f"FACTORYOS_LOGS_ROOT={tmp_path / 'logs'}"
    name, value = marker.split("=", 1)
    env = {**os.environ, name: value}
    old = subprocess.Popen(["sleep", "300"], env=env)
    sweeper = Sweeper.start(marker, kilroy_pid=old.pid, grace_seconds=1.0)
    assert sweeper is not None
    sweeper.close()
    time.sleep(0.1)
    resumed = subprocess.Popen(["sleep", "300"], env=env)
    try:
        assert old.wait(timeout=5) == -signal.SIGTERM
        time.sleep(1.0)
        assert resumed.poll() is None
    finally:
        for proc in (old, resumed):
            proc.kill()
            proc.wait()
