"""``ProcessLiveness``: whether recorded runner processes still run, asked often and cheaply.

``LocalProcessLauncher`` asks it about every running workload each time the control
plane looks at its runs (once a second for every active run: 200 runs, 200 questions a
second). Reading ``/proc/<pid>/stat`` costs ~35 us; once a process was found running
there (its start time matching the record, so a reused pid never counts), it gets a
pidfd, and later questions are a zero-timeout ``select`` on it (~2 us): the kernel makes
a pidfd readable when its process exits (a zombie counts as gone, as in ``/proc``).
Where there are no pidfds (a kernel before 5.3) or none can be opened (out of file
descriptors), every question reads ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Hashable

from factoryos.kilroy.procs import runs


class ProcessLiveness:
    """The liveness of processes known by a key (a workload folder), with a pidfd each."""

    def __init__(self) -> None:
        self._pidfds: dict[Hashable, int] = {}

    def alive(self, key: Hashable, pid: int, start_ticks: int) -> bool:
        """Whether process ``pid``, started at ``start_ticks``, still runs."""
        fd = self._pidfds.get(key)
        if fd is not None:
            return not select.select([fd], [], [], 0)[0]
        if not runs(pid, start_ticks):
            return False
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # no pidfds here, out of descriptors, or it just ended
            return runs(pid, start_ticks)
        if not runs(pid, start_ticks):  # the pid was reused between the two looks
            os.close(fd)
            return False
        self._pidfds[key] = fd
        return True

    def forget(self, key: Hashable) -> None:
        """Close the pidfd of ``key`` (it ended, or nobody asks about it any more)."""
        fd = self._pidfds.pop(key, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        for key in list(self._pidfds):
            self.forget(key)
