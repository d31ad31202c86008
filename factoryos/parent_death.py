"""Children that end with their parent, however it dies: Linux's parent-death signal.

``die_with_parent(sig)`` is a ``preexec_fn`` for ``subprocess.Popen``: between
fork and exec the child asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for
``sig`` when its parent dies, SIGKILL included, and the setting survives the
exec. If the parent died before the request was made (the race between fork
and prctl) the child sends ``sig`` to itself at once.

Who uses it: ``sf up`` for the dashboard, ``LocalProcessLauncher`` for the
fork server (both SIGKILL: they keep no state of their own), and the Kilroy
adapter for an attached Kilroy run (SIGTERM: Kilroy then cancels its stage
and writes its checkpoint, so a runner killed with SIGKILL takes its Kilroy
along). Runner workloads never get it: they are meant to outlive ``sf up``
and be adopted by the next one. The kernel clears the setting in the
children of a fork, so a process started with it passes nothing on.

The kernel counts the *thread* that started the child as its parent: start
such children from a thread that lives as long as the process (the main
thread), or the child dies when that thread ends. Elsewhere than Linux this
returns None (no such signal); ``sf up``'s record of its children
(``factoryos.controlplane.leftovers``) is the backstop there and everywhere.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this thread's process dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request: too late to be told
            os.kill(os.getpid(), sig)

    return arm
