"""Ending what a Kilroy run leaves running once its starter goes away, however it goes.

Kilroy v0.1.0 cancels a tool node by killing its ``bash -c`` only, so whatever
the shell forked lives on (docs/decisions.md), and an attached Kilroy is sent
SIGTERM when the process that started it dies (``factoryos.parent_death``).
For the tool processes, the Kilroy adapter starts a sweeper next to every
attached Kilroy outside a sandbox (``Sweeper.start``, or tells one started in standby
before, see below; inside one, Kilroy is pid 1
of a pid namespace, and the kernel kills what is left in it when Kilroy exits):
this file run by path, standard library only (it starts in milliseconds and
imports nothing of Factory OS), with its stdin the read end of a pipe only the
starter holds. When the pipe closes (the adapter saw Kilroy end and closed it,
or the starter died by any signal, SIGKILL included, and the kernel closed it)
the sweeper waits up to a grace
for Kilroy to finish cancelling, then sends SIGTERM and, half a second later,
SIGKILL to every process whose environment holds the run's marker
(``FACTORYOS_LOGS_ROOT=<logs_root>``, see ``procs``) and that started before the
starter let go (a Kilroy resuming the run afterwards is not its business), and exits.
A starter that lets go writes the moment (clock ticks since boot) into the pipe
before closing it, because a loaded machine may start the sweeper late and a
retry quickly; a starter that died wrote nothing, and the close is the moment.

A sweeper can also be started before its run exists, in standby (``Sweeper.standby``,
no arguments): ``sf pipeline run`` starts one first of all, so that its Python start
runs beside ``sf``'s imports on an idle core rather than beside Kilroy's bootstrap.
Before Kilroy is spawned, ``tell`` writes the marker, the grace and the log down the
pipe (fields ended by NUL, which no path or environment holds); once it is spawned,
``started`` writes its pid, and from then on it is the sweeper above. A standby sweeper
whose pipe closes before it was told its run (the run failed before Kilroy started)
exits and sweeps nothing: no process of its run can have started. One told its run but
no pid (the starter died while spawning Kilroy) waits a tenth of a second, for a child
between its fork and its exec to carry the marker, and sweeps.

A sweeper can also be the one that ends Kilroy when its starter dies (``ends_kilroy``):
it sends Kilroy the SIGTERM that the parent-death signal sends otherwise, at the close,
and then sweeps as above. The adapter asks this of a standby sweeper, told its run
before Kilroy is spawned, so that Kilroy is spawned with no ``preexec_fn`` (which makes
``subprocess`` fork the whole starter instead of using vfork: 4-5 ms, with ``ctypes``'
import for the ``prctl``, on ``sf pipeline run``'s way to Kilroy's start).
"""

# The sweeper's own start reads /proc through ``os`` (see ``PROC``), not pathlib.
# ruff: noqa: PTH112, PTH123, PTH208

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

TYPE_CHECKING = False  # ``typing`` is 32 modules, ~18 ms of the sweeper's start
if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

#: Where the processes are listed. The sweeper starts on the standard library's cheapest
#: modules: ``pathlib``, ``subprocess`` and ``typing`` would add 10, 12 and 18 ms to a
#: Python start made once for every run.
PROC = "/proc"


class Sweeper:
    """The starter's end: hold the pipe while Kilroy runs, close it when Kilroy ended."""

    def __init__(
        self, write_fd: int, process: subprocess.Popen[bytes], *, told: bool = True
    ) -> None:
        self._fd: int | None = write_fd
        self._process = process
        #: Whether the sweeper knows its run (a standby one is told it by ``tell``), and
        #: Kilroy's pid (``started``).
        self._told = told
        self._started = told

    @property
    def pid(self) -> int:
        """The sweeper's process id."""
        return self._process.pid

    @classmethod
    def start(
        cls,
        marker: str,
        kilroy_pid: int,
        grace_seconds: float,
        log: Path | None = None,
        *,
        ends_kilroy: bool = False,
    ) -> Sweeper | None:
        """A sweeper for the processes tagged ``marker`` (None where there is no /proc);
        ``ends_kilroy``: it sends Kilroy SIGTERM when the starter dies (see above).

        Its stderr (nothing, unless it fails) is appended to ``log``, else dropped: never
        the starter's, which would keep whoever reads the starter's output (a pipe, a
        caller's ``capture_output``) waiting until the sweeper is done.
        """
        import subprocess

        if not os.path.isdir(PROC):
            return None
        read_fd, write_fd = os.pipe()  # not inheritable: Kilroy never holds the write end
        env = {k: v for k, v in os.environ.items() if f"{k}={v}" != marker}
        try:
            with contextlib.ExitStack() as files:
                stderr = (
                    files.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
                )
                # -S -I: no site, no user paths (standard library only, see ``PROC``).
                argv = [sys.executable, "-S", "-I", __file__, marker, str(kilroy_pid)]
                process = subprocess.Popen(
                    [*argv, str(grace_seconds), "1" if ends_kilroy else "0"],
                    stdin=read_fd,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=env,
                    start_new_session=True,  # Ctrl-C in the starter's terminal is not for it
                )
        except OSError:
            os.close(write_fd)
            return None
        finally:
            os.close(read_fd)
        return cls(write_fd, process)

    @classmethod
    def standby(cls) -> Sweeper | None:
        """A sweeper started before its run (None where there is no /proc): ``tell`` gives it
        the run; ``close`` before that lets it go without sweeping anything.

        Its stderr is dropped until it is told its log (see ``start``); its environment is
        this process's, which does not hold the marker of a run not started yet.
        """
        import subprocess

        if not os.path.isdir(PROC):
            return None
        read_fd, write_fd = os.pipe()  # not inheritable: Kilroy never holds the write end
        try:
            process = subprocess.Popen(
                [sys.executable, "-S", "-I", __file__],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            os.close(write_fd)
            return None
        finally:
            os.close(read_fd)
        return cls(write_fd, process, told=False)

    def tell(
        self,
        marker: str,
        grace_seconds: float,
        log: Path | None = None,
        *,
        ends_kilroy: bool = False,
    ) -> bool:
        """Give a standby sweeper its run before Kilroy is spawned (as ``start``'s arguments,
        but the pid, which ``started`` gives): True once it has it; False for a sweeper told
        already, closed, or gone (start another then)."""
        if self._told or not self._say(
            marker, str(grace_seconds), "" if log is None else str(log), "1" if ends_kilroy else "0"
        ):
            return False
        self._told = True
        return True

    def started(self, kilroy_pid: int) -> bool:
        """Give a sweeper told its run (``tell``) Kilroy's pid, once spawned: True once it has
        it; False for one not told its run, told a pid already, closed, or gone."""
        if not self._told or self._started or not self._say(str(kilroy_pid)):
            return False
        self._started = True
        return True

    def _say(self, *fields: str) -> bool:
        """Write ``fields`` down the pipe, each ended by NUL (closed and False: it is gone)."""
        if self._fd is None:
            return False
        said = b"".join(os.fsencode(field) + b"\0" for field in fields)
        try:
            while said:
                said = said[os.write(self._fd, said) :]
        except OSError:
            self.close()
            return False
        return True

    def close(self) -> None:
        """Kilroy ended: let the sweeper end what it left (what started by now), and go."""
        if self._fd is not None:
            with contextlib.suppress(OSError):  # a sweeper that is gone reads nothing
                os.write(self._fd, f"{_ticks_now():.0f}\n".encode())
            os.close(self._fd)
            self._fd = None
            self._process.poll()


def marked(marker: bytes, started_by: float | None = None) -> list[int]:
    """Live processes (not zombies, not this one) whose environment holds ``marker``; with
    ``started_by`` (clock ticks since boot), only those started by then."""
    found = []
    for name in os.listdir(PROC):
        if not name.isdigit() or int(name) == os.getpid() or not _carries(marker, name):
            continue
        try:
            fields = _read(f"{PROC}/{name}/stat").rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] in {b"Z", b"X"}:
            continue
        if started_by is None or int(fields[19]) <= started_by:
            found.append(int(name))
    return found


def _carries(marker: bytes, pid: int | str) -> bool:
    """Whether the process's environment holds ``marker`` (not when it cannot be read)."""
    try:
        return marker in _read(f"{PROC}/{pid}/environ").split(b"\0")
    except OSError:
        return False


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _ticks_now() -> float:
    """Clock ticks since boot, the unit of a process's start time in ``/proc/<pid>/stat``."""
    uptime = float(_read(f"{PROC}/uptime").split()[0])
    return uptime * os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        state = _read(f"{PROC}/{pid}/stat").rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {b"Z", b"X"}


def _log_to(path: bytes) -> None:
    """Append this process's stderr to ``path`` from now on (what ``start`` gives a sweeper)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.dup2(fd, 2)
        os.close(fd)


def end_kilroy(marker: bytes, kilroy_pid: int) -> None:
    """SIGTERM to Kilroy (it cancels, keeping its checkpoint), as its parent-death signal
    would have sent it: only to the process of that pid that carries the run's marker."""
    if _carries(marker, kilroy_pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(kilroy_pid, signal.SIGTERM)


def sweep(marker: bytes, kilroy_pid: int | None, grace_seconds: float, cutoff: float) -> None:
    """End the run's processes started by ``cutoff``, when the starter let go: a Kilroy
    that resumes the same run afterwards (a retry, a resume) carries the marker too. With
    Kilroy's pid, Kilroy gets the grace to end first."""
    deadline = time.monotonic() + grace_seconds
    while kilroy_pid is not None and _alive(kilroy_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # Each look reads every process's environment: one look when nothing is left (the
    # usual end of a run), not one before and after each signal.
    left = marked(marker, cutoff)
    for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 2.0)):
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        until = time.monotonic() + wait
        while (left := marked(marker, cutoff)) and time.monotonic() < until:
            time.sleep(0.02)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    said = b""
    while chunk := sys.stdin.buffer.read(4096):  # until the close
        said += chunk
    kilroy_pid: int | None
    if argv:
        marker, kilroy_pid, grace = argv[0].encode(), int(argv[1]), float(argv[2])
        ends_kilroy = argv[3:] == ["1"]
    else:  # standby: told its run down the pipe, if it ever was
        *told, said = said.split(b"\0")  # NUL ends each field; the let-go has none
        if len(told) < 4:  # closed before it was told its run: nothing of the run is ours
            return 0
        marker, grace, ends_kilroy = told[0], float(told[1]), told[3] == b"1"
        if told[2]:
            _log_to(told[2])
        kilroy_pid = int(told[4]) if len(told) > 4 else None
        if kilroy_pid is None:  # the starter died spawning Kilroy: let its exec come first
            time.sleep(0.1)
    try:
        cutoff = float(said.split()[0])  # the starter let go then
    except (IndexError, ValueError):  # it died: now is when
        cutoff = _ticks_now()
        if ends_kilroy and kilroy_pid is not None:
            end_kilroy(marker, kilroy_pid)
    sweep(marker, kilroy_pid, grace, cutoff)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
