"""Finding and ending the processes of one Kilroy run, through ``/proc``.

Factory OS starts every Kilroy process as the leader of a new session
(``start_new_session``; ``--detach`` children do ``setsid`` themselves), so the
session id of a run is the Kilroy pid and every process the run spawns stays in
that session: Kilroy v0.1.0's tool nodes (``bash -c``) share Kilroy's process
group, agent CLIs get their own group but the same session. A process survives
Kilroy's own cancellation when ``bash`` forks (``sleep 30; echo done``):
Kilroy kills the shell, the child is orphaned and keeps running. ``Kilroy.stop``
therefore sweeps the run's processes with ``kill_processes`` after Kilroy exits.

A process can also leave the session (``setsid``), so every Kilroy process we
start carries ``FACTORYOS_LOGS_ROOT=<abs logs_root>`` in its environment, which
Kilroy passes on to tool nodes and agent CLIs: ``run_processes`` finds a run's
processes by that marker as well as by session. The marker also keeps a stale
``run.pid`` (a reused pid) from ever pointing us at someone else's processes.

Zombies count as dead, like Kilroy's own liveness check. Linux only (``/proc``);
elsewhere we fall back to signalling the process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "MARKER_ENV",
    "ProcStat",
    "kill_processes",
    "pid_alive",
    "proc_stat",
    "run_processes",
    "runs",
    "signal_group",
]

PROC = Path("/proc")

#: Environment variable that tags every process of a run with its logs_root.
MARKER_ENV = "FACTORYOS_LOGS_ROOT"


class ProcStat(NamedTuple):
    """The fields of ``/proc/<pid>/stat`` we use."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    #: Start time in clock ticks since boot; with the pid, it names one process for good.
    start_ticks: int = 0


def proc_stat(pid: int) -> ProcStat | None:
    """The process's stat record, or None when it does not exist."""
    try:
        with open(f"{PROC}/{pid}/stat", encoding="utf-8") as file:  # noqa: PTH123 (hot: once a second a run)
            raw = file.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    fields = raw[raw.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return ProcStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def runs(pid: int, start_ticks: int) -> bool:
    """True when the process ``pid`` that started at ``start_ticks`` runs (not a zombie):
    a recorded process, never another one that reuses its pid."""
    stat = proc_stat(pid)
    return stat is not None and stat.state not in {"Z", "X"} and stat.start_ticks == start_ticks


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie."""
    if pid <= 0:
        return False
    if PROC.is_dir():
        stat = proc_stat(pid)
        return stat is not None and stat.state not in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_processes(logs_root: Path, session: int | None = None) -> list[int]:
    """Live processes of the run in ``logs_root``: by environment marker, and by ``session``.

    Pass ``session`` only for a session known to be the run's (its leader was checked).
    The caller's own process and session are never included.
    """
    if not PROC.is_dir():
        return []
    me, my_session = os.getpid(), os.getsid(0)
    marker = f"{MARKER_ENV}={logs_root}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        stat = proc_stat(int(entry.name))
        if stat is None or stat.state in {"Z", "X"} or stat.session == my_session:
            continue
        if (session and stat.session == session) or _has_marker(entry, marker):
            found.append(stat.pid)
    return sorted(found)


def kill_processes(find: Callable[[], list[int]], grace_seconds: float = 0.5) -> list[int]:
    """SIGTERM what ``find()`` returns, SIGKILL what is still there after the grace.

    ``find`` is called again after each round, so children spawned meanwhile are
    caught too. Returns every pid that was signalled.
    """
    signalled: list[int] = []
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 2.0)):
        targets = find()
        if not targets:
            break
        for pid in targets:
            _signal(pid, sig)
            if pid not in signalled:
                signalled.append(pid)
        deadline = time.monotonic() + wait
        while find() and time.monotonic() < deadline:
            time.sleep(0.01)
    return signalled


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group, ignoring one that is gone (never the caller's own group)."""
    if pgid > 0 and pgid != os.getpgid(0):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _has_marker(entry: Path, marker: bytes) -> bool:
    try:
        environ = (entry / "environ").read_bytes()
    except OSError:
        return False
    return marker in environ.split(b"\0")


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
