"""One control plane per ``$FACTORYOS_HOME``: an exclusive ``flock`` held while ``sf up`` runs.

The lock file holds the owner's pid. The kernel drops the lock when the
process dies, however it dies, so a stale file never blocks a restart and
``control_plane_pid`` never reports a dead one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from factoryos.errors import ConflictError

LOCK_FILE = "controlplane.lock"


class ControlPlaneLock:
    """Held for the life of ``sf up``."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "unknown"
            fh.close()
            raise ConflictError(
                f"a control plane is already running for {self.path.parent} (pid {owner})"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def control_plane_pid(home: Path) -> int | None:
    """The pid of the control plane running for ``home``, or None when none is."""
    path = home / LOCK_FILE
    try:
        fh = path.open("r")
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None
