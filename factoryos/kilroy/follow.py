"""Following ``progress.ndjson`` while Kilroy writes it.

The runner iterates ``follow_progress`` and translates each event as it comes.
Kilroy v0.1.0 writes no terminal progress event (``final.json`` is the end
signal, and a few events may follow it), so the follower ends when the process
has exited and every complete line has been read. A ``run_completed`` or
``run_failed`` line, which later Kilroy versions write last, also ends it.

Between reads it waits on a file-system notification for ``logs_root``
(``factoryos.filewatch``): a line is read as soon as Kilroy has written it,
and ``final.json`` appearing wakes it for the end. With notifications it
also looks at the process (and ``should_stop``) ``recheck`` seconds after the
last line, then twice as long after each quiet look up to ``RECHECK_MAX`` (a
line resets it: 200 runners waiting for their Kilroys to start took a core
looking every 0.1 s), and every few milliseconds once ``final.json`` is there
(the exit is near: notifications stop there; a ``KilroyProcess`` of ours wakes
it at the exit itself, ``wait_briefly``); without them (no inotify, or none
left) it reads every ``poll_interval``. It wakes at most once per ``SETTLE``:
Kilroy writes many other files in ``logs_root``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from factoryos.filewatch import FolderWatch
from factoryos.kilroy.logsroot import FINAL_FILE, PROGRESS_FILE, ProgressTail
from factoryos.kilroy.translate import TERMINAL_EVENTS

__all__ = ["Pollable", "follow_progress", "follow_progress_lines"]

#: How often the exit is looked for once ``final.json`` is written (it follows at once).
ENDING_POLL = 0.005
#: The least time between two wake-ups on notifications (``FolderWatch``'s ``settle``):
#: each of Kilroy's writes in ``logs_root`` woke the follower, 3-4 ms per stage beside
#: Kilroy on 2 cores; a line is now read at most this late.
SETTLE = 0.01
#: The longest quiet wait between looks at the process with notifications on: how late a
#: Kilroy that died without ``final.json``, or a stop asked for, can be noticed.
RECHECK_MAX = 1.0


class Pollable(Protocol):
    """What the follower needs of a process: ``KilroyProcess`` or a test double."""

    @property
    def progress_after(self) -> int: ...

    def poll(self) -> int | None: ...


def follow_progress(
    logs_root: Path,
    process: Pollable,
    poll_interval: float = 0.05,
    *,
    after: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    recheck: float = 0.1,
) -> Iterator[dict[str, Any]]:
    """Yield each new progress event of ``process`` until it ends.

    ``after`` (default: the lines that predate ``process``) skips older lines.
    ``should_stop`` is checked whenever no line is waiting; when it returns True
    the follower returns early, leaving the process alone: the caller stops it
    and follows again (``follow_progress_lines`` tells it where it left off).
    """
    for _, event in follow_progress_lines(
        logs_root, process, poll_interval, after=after, should_stop=should_stop, recheck=recheck
    ):
        yield event


def follow_progress_lines(
    logs_root: Path,
    process: Pollable,
    poll_interval: float = 0.05,
    *,
    after: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    recheck: float = 0.1,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``follow_progress`` with each event's line number in ``progress.ndjson``."""
    tail = ProgressTail(
        logs_root / PROGRESS_FILE, process.progress_after if after is None else after
    )
    ending_since: float | None = None
    quiet = recheck
    #: ``KilroyProcess.wait_briefly``: a process that can say at once when it exits.
    wait_briefly: Callable[[float], None] | None = getattr(process, "wait_briefly", None)
    with FolderWatch(logs_root, {PROGRESS_FILE, FINAL_FILE}, settle=SETTLE) as watch:
        while True:
            exited = process.poll() is not None
            batch = tail.read()
            for line_no, event in batch:
                yield line_no, event
                if event.get("event") in TERMINAL_EVENTS:
                    return
            if exited:
                # The process had exited before this read, so the read saw its last line.
                return
            if batch:
                quiet = recheck
            else:
                if should_stop is not None and should_stop():
                    return
                # Kilroy exits right after writing final.json, and no file says so:
                # for a second from then its exit is looked for every few milliseconds
                # (notifications off: closing the watch at the end would then wait for
                # the kernel to free it, ``FolderWatch.stop``).
                if ending_since is None and (logs_root / FINAL_FILE).exists():
                    ending_since = time.monotonic()
                    watch.stop()
                if ending_since is not None and time.monotonic() - ending_since < 1.0:
                    if wait_briefly is not None:  # woken by the exit itself
                        wait_briefly(min(poll_interval, ENDING_POLL))
                    else:
                        watch.wait(min(poll_interval, ENDING_POLL))
                elif not watch.notifying:
                    watch.wait(poll_interval)
                elif not watch.wait(quiet):
                    quiet = min(2 * quiet, max(recheck, RECHECK_MAX))
