"""``KilroyProcess``: one running ``kilroy attractor run|resume``, and how it is spawned.

``Kilroy.start`` and ``Kilroy.resume`` create these; the runner waits on them
and hands them to ``follow_progress``. An attached process is our child
(``subprocess.Popen``), its exit code is Kilroy's, and it is sent SIGTERM when
the process that started it dies, by any signal; a ``Sweeper`` then ends the
tool processes Kilroy's cancel leaves behind. A ``--detach`` run is not
our child: we know its pid from ``run.pid`` and, once it is gone, derive the
exit code Kilroy would have returned from ``final.json`` (0 only for success).

Every spawn appends a header line to the run directory's stdout/stderr logs,
so the logs keep every invocation and ``stderr_tail`` can show the last one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from factoryos.errors import EngineError, ToolMissingError, WorkspaceError
from factoryos.kilroy.layout import INVOCATION_MARK
from factoryos.kilroy.priority import lower_session, nice_in_child
from factoryos.kilroy.procs import pid_alive
from factoryos.kilroy.sweeper import Sweeper

if TYPE_CHECKING:
    from factoryos.kilroy.outcome import RunOutcome

__all__ = ["KilroyProcess", "spawn"]


class KilroyProcess:
    """A Kilroy run or resume invocation, running or finished."""

    def __init__(
        self,
        *,
        pid: int,
        logs_root: Path,
        run_dir: Path,
        command: Sequence[str],
        stdout_path: Path,
        stderr_path: Path,
        progress_after: int = 0,
        popen: subprocess.Popen[bytes] | None = None,
        sweeper: Sweeper | None = None,
    ) -> None:
        self.pid = pid
        self.logs_root = logs_root
        self.run_dir = run_dir
        self.command = list(command)
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        #: progress.ndjson lines written before this invocation (a resume appends).
        self.progress_after = progress_after
        self._popen = popen
        #: Ends the run's leftover processes once Kilroy (or whoever started it) is gone.
        self._sweeper = sweeper
        self._exit_code: int | None = None
        #: A descriptor that becomes readable when an attached process exits (None: not
        #: opened yet, or none to be had), for ``wait_briefly``.
        self._exit_fd: int | None = None

    @property
    def detached(self) -> bool:
        return self._popen is None

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None (reaps an attached child)."""
        if self._exit_code is None:
            if self._popen is not None:
                self._exit_code = self._popen.poll()
            elif not pid_alive(self.pid):
                from factoryos.kilroy.logsroot import LogsRoot

                final = LogsRoot(self.logs_root).final() or {}
                self._exit_code = 0 if final.get("status") == "success" else 1
            if self._exit_code is not None:
                self._ended()
        return self._exit_code

    def wait(self, timeout: float | None = None) -> int:
        """Block until the process ends; ``TimeoutError`` after ``timeout`` seconds."""
        if self._popen is not None:
            try:
                self._exit_code = self._popen.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                raise TimeoutError(f"kilroy pid {self.pid} still running after {timeout}s") from exc
            self._ended()
            return self._exit_code
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"kilroy pid {self.pid} still running after {timeout}s")
            time.sleep(0.05)
        return code

    def wait_briefly(self, timeout: float) -> None:
        """Return when the process ends or ``timeout`` seconds have passed, whichever is first
        (the follower, once ``final.json`` is written: Kilroy exits within milliseconds).

        An attached process is waited for on its pidfd (Linux 5.3), so its exit is seen at
        once rather than on the next look; otherwise, or while the process has not ended,
        this is a sleep. It reaps nothing: ``poll`` does.
        """
        fd = self._open_exit_fd()
        if fd is None:
            time.sleep(timeout)
            return
        import select

        waiting = select.poll()
        waiting.register(fd, select.POLLIN)
        waiting.poll(max(int(timeout * 1000), 0))

    def _open_exit_fd(self) -> int | None:
        if self._exit_fd is None and self._popen is not None and self._exit_code is None:
            pidfd_open = getattr(os, "pidfd_open", None)
            try:
                # Not reaped yet (``poll`` reaps, and it found it running): the pid is ours.
                self._exit_fd = pidfd_open(self.pid) if pidfd_open else -1
            except OSError:  # an older kernel
                self._exit_fd = -1
        return None if self._exit_fd is None or self._exit_fd < 0 else self._exit_fd

    def _ended(self) -> None:
        if self._exit_fd is not None:
            if self._exit_fd >= 0:
                os.close(self._exit_fd)
            self._exit_fd = -1
        if self._sweeper is not None:
            self._sweeper.close()
            self._sweeper = None

    def outcome(self, timeout: float | None = None) -> RunOutcome:
        """Wait, then read how the run ended (``EngineError`` if Kilroy never started it)."""
        from factoryos.kilroy.outcome import read_outcome  # once the run is over

        code = self.wait(timeout)
        return read_outcome(
            self.logs_root, code, after=self.progress_after, stderr_path=self.stderr_path
        )

    def __repr__(self) -> str:
        state = "running" if self._exit_code is None else f"exited {self._exit_code}"
        return f"<KilroyProcess pid={self.pid} {state} logs_root={self.logs_root}>"


def _preexec(arm: Callable[[], None] | None, nice: int) -> Callable[[], None] | None:
    """What the child does before exec: arm its parent-death signal, lower its priority."""
    if not nice:
        return arm

    def prepare() -> None:
        if arm is not None:
            arm()
        nice_in_child(nice)
        # The child leads its new session by now: its group can be lowered at once
        # (the kernel may say wait; the starter's SessionChange tries again).
        lower_session(os.getpid(), nice)

    return prepare


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout_path: Path,
    stderr_path: Path,
    end_with_parent: bool = False,
    pass_fds: Sequence[int] = (),
    label: Sequence[str] | None = None,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` as a new session leader with no stdin, appending to the two logs;
    ``label`` (default ``argv[1:4]``) names the invocation in the logs' header line.
    ``nice``: the process's nice value, and its session's where sessions are scheduled
    as groups (``factoryos.kilroy.priority``).

    ``end_with_parent``: the process gets SIGTERM (Kilroy cancels, keeping its checkpoint)
    when the thread's process that started it dies, SIGKILL included
    (``factoryos.parent_death``, and with it ``ctypes``, loaded only then: the signal is
    asked for between fork and exec, so the whole starter is forked rather than vforked).
    """
    arm = None
    if end_with_parent:
        from factoryos.parent_death import die_with_parent

        arm = die_with_parent(signal.SIGTERM)
    said = " ".join(argv[1:4] if label is None else label)
    header = f"{INVOCATION_MARK}{said} at {datetime.now(UTC).isoformat()} ===\n"
    try:
        with stdout_path.open("ab") as out, stderr_path.open("ab") as err:
            out.write(header.encode())
            err.write(header.encode())
            out.flush()
            err.flush()
            return subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_preexec(arm, nice),
                pass_fds=tuple(pass_fds),
            )
    except FileNotFoundError as exc:
        if exc.filename == argv[0]:
            raise ToolMissingError(f"kilroy binary disappeared: {argv[0]}") from exc
        raise WorkspaceError(f"cannot start kilroy in {cwd}: {exc.strerror}") from exc
    except PermissionError as exc:
        raise WorkspaceError(f"cannot start kilroy in {cwd}: {exc.strerror}") from exc
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc}") from exc
