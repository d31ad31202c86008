"""The build's CPU priority: Kilroy and what it runs yield to the factory's own processes.

A build (Kilroy, its git work, the tools and agents it starts) is batch work;
the runner that follows it, the control plane and the dashboard are what a
user waits on. On a machine with fewer cores than runs, every stage boundary
is a burst (each Kilroy commits and starts its next stage at once), and the
dashboard, one process among dozens, waited tens to hundreds of milliseconds
for a core (docs/decisions.md, "Event delivery to the dashboard").

So ``spawn`` (``factoryos.kilroy.process``) starts Kilroy at ``Settings.build_nice``
(``BUILD_NICE``, 19, unless ``FACTORYOS_BUILD_NICE`` says otherwise):
the nice value, inherited by everything Kilroy starts (``nice_in_child``),
and, where the kernel groups processes by session for scheduling
(``autogroup``, Linux's default without systemd's cgroups), the nice value
of the run's session (``lower_session``). The second matters most: every
Kilroy leads a session of its own, so its processes share one scheduling
group that competes with the dashboard's group as an equal, whatever their
own nice values; the group's nice value is what makes it yield.

A session's nice value can be set only once it exists (a sandboxed Kilroy
makes its own inside ``bwrap``), and an unprivileged process may set one
only every 100 ms machine-wide (``EAGAIN`` otherwise), so ``SessionChange``
retries in a thread for a while. Raising a nice value needs no privilege;
where it cannot be done at all the build simply runs at the usual priority.
Idle machines see no difference: priority only decides who waits in a burst. The
price: a build also yields to anything else running at the usual priority on
the machine (someone's compiler), for as long as that keeps the cores busy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

from factoryos.settings import BUILD_NICE

__all__ = [
    "BUILD_NICE",
    "SessionChange",
    "autogroup_nice",
    "lower_session",
    "nice_in_child",
    "restore_own_session",
]

PROC = Path("/proc")


def nice_in_child(nice: int) -> None:
    """Raise this process's nice value to ``nice`` (a ``preexec_fn`` step; never fails)."""
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if nice > current:
            os.setpriority(os.PRIO_PROCESS, 0, nice)


def autogroup_nice(text: str) -> int | None:
    """The nice value in a ``/proc/<pid>/autogroup`` line (``/autogroup-42 nice 0``)."""
    parts = text.split()
    if len(parts) == 3 and parts[1] == "nice":
        with contextlib.suppress(ValueError):
            return int(parts[2])
    return None


def lower_session(
    pid: int,
    nice: int,
    *,
    proc: Path = PROC,
    session_of: Callable[[int], int] = os.getsid,
) -> bool:
    """Set the scheduling group of ``pid``'s session to ``nice`` if it is higher; True once
    nothing is left to do (done, already so, or impossible here), False to try again later
    (the session is not made yet, or the kernel asked to wait)."""
    try:
        if session_of(pid) != pid:
            return False  # not a session leader yet (bwrap makes the session just before exec)
    except OSError as exc:
        return _settled(exc)
    return _set_group(proc / str(pid) / "autogroup", nice, lambda current: current >= nice)


def restore_session(pid: int, nice: int, *, proc: Path = PROC) -> bool:
    """Take ``pid``'s session's scheduling group back up to ``nice`` (any value from 0 up
    needs no privilege) if it is lower; True or False as for ``lower_session``."""
    return _set_group(proc / str(pid) / "autogroup", nice, lambda current: current <= nice)


def _set_group(autogroup: Path, nice: int, as_wanted: Callable[[int], bool]) -> bool:
    """Write ``nice`` to an ``autogroup`` file unless its value is ``as_wanted`` already."""
    try:
        current = autogroup_nice(autogroup.read_text())
        if current is None or as_wanted(current):
            return True
        autogroup.write_text(str(nice))
    except OSError as exc:
        return _settled(exc)
    return True


def _settled(exc: OSError) -> bool:
    """Whether a failed change is over: EAGAIN (an unprivileged write within 100 ms of
    another, anyone's) is worth another try; the rest (the process is gone, no autogroup in
    this kernel, not ours to change) will not get better."""
    return exc.errno != errno.EAGAIN


def restore_own_session(*, proc: Path = PROC) -> SessionChange | None:
    """A session leader whose group was lowered while it started (a runner forked by
    ``factoryos.launch.forkserver``) takes it back to its own nice value, now that its
    work is following: it is on the path of every event. Any other process (``sf pipeline
    run`` in someone's terminal) leaves its session alone."""
    pid = os.getpid()
    if os.getsid(0) != pid:
        return None
    own = os.getpriority(os.PRIO_PROCESS, 0)
    return SessionChange(pid, own, change=lambda p, n: restore_session(p, n, proc=proc)).start()


class SessionChange:
    """Changes a session's priority in the background, retrying as the change asks:
    ``lower_session`` by default, ``restore_session`` to take it back."""

    def __init__(
        self,
        pid: int,
        nice: int = BUILD_NICE,
        *,
        every: float = 0.05,
        attempts: int = 400,
        change: Callable[[int, int], bool] = lower_session,
    ) -> None:
        self.pid = pid
        self.nice = nice
        self.every = every
        self.attempts = attempts
        self._change = change
        self._stop = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        """Try until done, ``attempts`` tries or ``stop`` (the caller's thread, or ``start``'s)."""
        for _ in range(self.attempts):
            if self._change(self.pid, self.nice):
                self.done.set()
                return
            if self._stop.wait(self.every):
                return

    def start(self) -> SessionChange:
        """Try once now; if that was not enough, go on in a daemon thread."""
        if self._change(self.pid, self.nice):
            self.done.set()
        else:
            threading.Thread(target=self.run, name="build-priority", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
