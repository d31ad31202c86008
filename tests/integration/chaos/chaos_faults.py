"""The faults a chaos session plays, each against runs of its own, at seeded moments.

Each fault starts its runs, waits a seeded time into them, does its damage and returns
an ``Injection``: which stages it interrupted (only those may run again) and the message
a user was shown about it (a command's answer, or what ``sf up`` printed). The faults:
SIGKILL of ``sf up`` (then a new one), SIGKILL of a build runner, SIGKILL of Kilroy,
SIGSTOP of the control plane, FACTORYOS_HOME's file system full, and another process
holding the store's write lock. ``GROUPS`` says which are played at the same time: those
that interrupt only their own runs' stages (or none) share a group; killing ``sf up`` and
filling the disk touch every run, so each has a group of its own. Called by
``test_chaos.py``, which starts every run of a group before any of its faults is played
(a fault must not hit another's ``sf run start``).
"""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos_session import PRODUCT, Session
from factory_support import wait_for

#: A line of ``sf up``'s output about a problem (its notices of starts and phases are not).
TROUBLE = re.compile(r"fail|error|lost|retry|space|full|locked|ended the|paused|checkpoint", re.I)
#: The run a line of ``sf up``'s output is about, if any.
ABOUT_RUN = re.compile(r"\brun (\S+):")


@dataclass
class Injection:
    runs: list[str]
    message: str
    #: Stages of each run that the fault interrupted mid-way (may run again, once).
    interrupted: dict[str, set[str]] = field(default_factory=dict)


#: Plays a fault against its runs (already started, waiting in their first stage).
Play = Callable[[Session, random.Random, list[str]], Injection]


@dataclass(frozen=True)
class Fault:
    name: str
    #: Its runs are named ``<slug>-<i>``.
    slug: str
    play: Play
    #: Why it cannot be played here, or None.
    skip: Callable[[Session], str | None] = lambda _s: None


def _into_the_runs(s: Session, rng: random.Random, runs: list[str]) -> None:
    """Once every run waits in its first stage, let them go and wait a seeded moment."""
    wait_for(lambda: all(s.running_stages(r) for r in runs), timeout=60, what=f"{runs} to start")
    for run in runs:
        s.release(run)
    time.sleep(rng.uniform(0.0, 0.5 * s.budget.stages * s.budget.stage_seconds))


def _mid_stage(s: Session, rng: random.Random, run: str) -> set[str]:
    """Let ``run`` go, wait a seeded part of a stage into it; the stages running then."""
    wait_for(lambda: bool(s.running_stages(run)), timeout=60, what=f"{run} to start")
    s.release(run)
    time.sleep(rng.uniform(0.15, 0.6) * s.budget.stage_seconds)
    if not (running := s.running_stages(run)):  # between two stages: the next one
        wait_for(lambda: bool(s.running_stages(run)), timeout=30, what=f"{run}'s next stage")
        running = s.running_stages(run)
    return running


def _await_trouble(s: Session, since: int, runs: list[str] | None) -> str:
    """The first line ``sf up`` printed about a problem after byte ``since`` of its output:
    about one of ``runs``, or (``runs`` None) about no run but the whole control plane."""
    # The faults played beside it may hold the control plane back: a SIGSTOP, or a write
    # lock it waits for before it can act (and print) again.
    deadline = time.monotonic() + s.budget.stop_seconds + s.budget.lock_seconds + 15.0
    while True:
        for line in s.log_since(since).splitlines():
            about = ABOUT_RUN.search(line)
            mine = about is None if runs is None else about is not None and about[1] in runs
            if mine and TROUBLE.search(line):
                return line.strip()
        if time.monotonic() > deadline:
            return "(nothing reported)"
        time.sleep(0.2)


def kill_sf_up(s: Session, rng: random.Random, runs: list[str]) -> Injection:
    """SIGKILL ``sf up`` at seeded moments of its runs' build stages, a new one after each."""
    _into_the_runs(s, rng, runs)
    span = s.budget.stages * s.budget.stage_seconds
    message = ""
    for _ in range(s.budget.sf_up_kills):
        s.factory.down(signal.SIGKILL)
        if not message:
            answer = s.factory.sf("run", "logs", "-f", runs[0], check=False, timeout=30)
            message = answer.stderr.strip().splitlines()[-1] if answer.stderr.strip() else ""
        s.factory.up(dashboard=True, port=s.port)
        time.sleep(rng.uniform(0.0, span / s.budget.sf_up_kills))
    return Injection(runs, message or "(no message)")


def _kill_a_process(pid_of: Callable[[Session, str], int | None]) -> Play:
    """A fault that SIGKILLs one process of each of its runs in the middle of a stage."""

    def play(s: Session, rng: random.Random, runs: list[str]) -> Injection:
        since = s.log_size()
        interrupted = {}
        for run in runs:
            interrupted[run] = _mid_stage(s, rng, run)
            pid = pid_of(s, run)
            assert pid is not None, f"{run}: no process to kill"
            os.kill(pid, signal.SIGKILL)
        return Injection(runs, _await_trouble(s, since, runs), interrupted)

    return play


def stop_control_plane(s: Session, rng: random.Random, runs: list[str]) -> Injection:
    _into_the_runs(s, rng, runs)
    plane = s.factory.plane
    assert plane is not None
    since = s.log_size()
    plane.send_signal(signal.SIGSTOP)
    try:
        time.sleep(s.budget.stop_seconds)
    finally:
        plane.send_signal(signal.SIGCONT)
    return Injection(runs, _await_trouble(s, since, None))


def fill_disk(s: Session, rng: random.Random, runs: list[str]) -> Injection:
    _into_the_runs(s, rng, runs)
    since = s.log_size()
    filler = s.factory.home / "chaos-filler"
    # Kilroy cannot checkpoint a stage while the disk is full (its git commit fails), so a
    # stage that ran at any moment of it may run again.
    interrupted: dict[str, set[str]] = {r: s.running_stages(r) for r in runs}
    try:
        _fill(filler)
        until = time.monotonic() + s.budget.fill_seconds
        while time.monotonic() < until:
            for run in runs:
                interrupted[run] |= s.running_stages(run)
            time.sleep(0.1)
    finally:
        filler.unlink(missing_ok=True)
    # A stage that started during the fill says so once its runner can write again.
    until = time.monotonic() + 2.0
    while time.monotonic() < until:
        for run in runs:
            interrupted[run] |= s.running_stages(run)
        time.sleep(0.1)
    return Injection(runs, _await_trouble(s, since, runs), interrupted)


def hold_write_lock(s: Session, rng: random.Random, runs: list[str]) -> Injection:
    _into_the_runs(s, rng, runs)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(s.factory.home / "factoryos.db"),
         str(s.budget.lock_seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    extra = "sqlite-lock-during"
    start = ("run", "start", PRODUCT, "--goal", "during the lock", "--name", extra)
    began = time.monotonic()
    answer = s.factory.sf(*start, check=False, timeout=120)
    waited = time.monotonic() - began
    holder.wait(timeout=60)
    if answer.returncode != 0:
        message = answer.stderr.strip().splitlines()[-1]
        s.factory.sf(*start)  # what the user does next: try again
    s.release(extra)
    if answer.returncode == 0:
        message = f"`sf run start` waited {waited:.1f}s, then: {answer.stdout.strip()}"
    return Injection([*runs, extra], message)


def _fill(filler: os.PathLike[str]) -> None:
    """Write until the file system is full (ENOSPC), in ever smaller pieces."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 14, 1 << 12):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)


#: Holds SQLite's write lock on the store in argv[1] for argv[2] seconds.
_HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def _no_small_fs(s: Session) -> str | None:
    return s.no_small_fs


GROUPS = [
    [Fault("SIGKILL sf up", "kill-sf-up", kill_sf_up)],
    [
        Fault("SIGKILL runner", "kill-runner", _kill_a_process(Session.build_runner_pid)),
        Fault("SIGKILL Kilroy", "kill-kilroy", _kill_a_process(Session.kilroy_pid)),
        Fault("SIGSTOP control plane", "sigstop-plane", stop_control_plane),
        Fault("SQLite write lock", "sqlite-lock", hold_write_lock),
    ],
    [Fault("disk full", "disk-full", fill_disk, _no_small_fs)],
]
#: Runs of one group at once, at most (the product's concurrency).
RUNS_PER_GROUP = 4
