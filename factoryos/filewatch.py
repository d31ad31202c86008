"""Waking up when a file in a folder changes: inotify, or polling where there is none.

Two followers wait for appended lines: the runner for Kilroy's
``progress.ndjson`` (``factoryos.kilroy.follow``) and the dashboard's event hub
for each run's ``events.ndjson`` (``factoryos.ui.hub``). Both used to sleep a
fixed interval between reads; with file-system notifications they read as soon
as the writer has written, and sleep otherwise.

``FolderWatch`` (blocking, for a thread) and ``FolderWatches`` (asyncio, many
folders on one inotify handle) watch folders, not files, so a file that does
not exist yet, or is replaced, is still seen. ``FolderWatches`` gets its
notifications through ``asyncinotify`` (asyncio); ``FolderWatch`` through
``inotify_simple`` (blocking, no asyncio: ``sf pipeline run`` follows Kilroy
with it, and importing asyncio cost 50-70 ms of CPU beside the run). Where
notifications cannot work (not Linux, the per-user inotify instance limit
reached, the folder not created yet) they fall back to polling: ``wait`` then
simply sleeps its timeout, so the caller reads on a timer as before. Every
caller also reads on its timeout in any case, so a lost notification delays a
line by at most that, never loses it.

Closing a handle waits for the kernel to free the marks of its watches (an
RCU grace period: 15-25 ms at the end of a run here). ``FolderWatch.stop``
removes them when the notifications are no longer needed (the follower: once
``final.json`` is written, as Kilroy exits) and the kernel frees them
meanwhile, so the close that follows does not wait.

Falling back because the per-user instance limit is reached is logged as a
warning naming the sysctl to raise (each local runner holds one instance, the
dashboard one more); ``instance_limit`` and ``instances_in_use`` tell ``sf
doctor`` and the benchmarks how close a machine is to it. Nothing here changes
the host's settings.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Callable, Collection, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio
    import logging

    from asyncinotify import Inotify, Watch


K = TypeVar("K", bound=Hashable)
H = TypeVar("H")

#: Set to ``0`` to turn notifications off (polling only): for comparing, and for file systems
#: where inotify says nothing (some network mounts).
NOTIFY_ENV = "FACTORYOS_FILE_NOTIFICATIONS"

#: The per-user limit of inotify instances (Linux; 128 by default).
INSTANCE_LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_instances")
INSTANCE_LIMIT_SYSCTL = "fs.inotify.max_user_instances"


def instance_limit(path: Path = INSTANCE_LIMIT_FILE) -> int | None:
    """The per-user limit of inotify instances, None where there is no such setting."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def instances_in_use(uid: int | None = None, proc: Path = Path("/proc")) -> int:
    """How many inotify instances the processes of ``uid`` (default: ours) hold now.

    Each open inotify handle is a file descriptor linked to ``anon_inode:inotify``;
    processes that cannot be looked into (another user's, or gone) are skipped.
    """
    uid = os.getuid() if uid is None else uid
    count = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if str(fd.readlink()) == "anon_inode:inotify":
                        count += 1
        except OSError:
            continue
    return count


def preload() -> None:
    """Import the runner's inotify binding now, for a process that forks many followers
    (the fork server), so that no forked runner does it again. Nothing happens where it
    cannot load."""
    with contextlib.suppress(ImportError, RuntimeError):
        _inotify_simple()


def _inotify() -> Inotify | None:
    """A new ``asyncinotify`` handle (``FolderWatches``), or None where notifications
    cannot work (and why, in the log)."""

    def open_handle() -> Inotify:
        from asyncinotify import Inotify

        return Inotify()

    return _opened(open_handle)


def _opened(open_handle: Callable[[], H]) -> H | None:
    """``open_handle()``, or None (and why, in the log) where notifications cannot work."""
    if os.environ.get(NOTIFY_ENV, "1") == "0":
        return None
    try:
        return open_handle()
    except (ImportError, RuntimeError) as exc:  # RuntimeError: no inotify in this libc
        log = _logger()
        log.info("File notifications are unavailable (%s); polling instead", exc)
        return None
    except OSError as exc:
        log = _logger()
        if exc.errno == errno.EMFILE:  # the per-user limit of inotify instances
            log.warning(
                "File notifications are unavailable: this user's inotify instances are all "
                "in use (%s = %s); polling instead. Raise it for this many runs at once, "
                "e.g. `sysctl -w %s=1024`",
                INSTANCE_LIMIT_SYSCTL, instance_limit(), INSTANCE_LIMIT_SYSCTL,
            )  # fmt: skip
        else:
            log.warning("File notifications are unavailable (%s); polling instead", exc)
        return None


def _logger() -> logging.Logger:
    """This module's logger: ``logging`` loads only when there is something to say (the
    runner follows Kilroy without it)."""
    import logging

    return logging.getLogger(__name__)


#: <sys/inotify.h>: the events both watches wait for. MODIFY: lines appended;
#: CREATE/MOVED_TO: the file appears or is replaced; CLOSE_WRITE: its writer is done.
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100
WATCHED = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE


def _mask() -> Any:
    """``WATCHED`` as ``asyncinotify`` takes it."""
    from asyncinotify import Mask

    return Mask(WATCHED)


def _inotify_simple() -> Any:
    """The ``inotify_simple`` module, its libc taken from this process's own symbols.

    It looks libc up with ``ctypes.util.find_library``, which runs ``ldconfig -p`` (10-30
    ms of CPU beside every run) to find the library every Python process has loaded
    already; ``ctypes.CDLL(None)`` is that library (``factoryos.parent_death`` uses it
    too). Where the module keeps no ``_libc`` (another version) or these symbols have no
    inotify, it looks libc up itself, as it would anyway. ``RuntimeError`` off Linux.
    """
    if not sys.platform.startswith("linux"):
        raise RuntimeError("inotify is a Linux interface")
    import inotify_simple

    if getattr(inotify_simple, "_libc", False) is None:
        import ctypes

        own = ctypes.CDLL(None, use_errno=True)
        if hasattr(own, "inotify_init1"):
            inotify_simple._libc = own
    return inotify_simple


class _Descriptor:
    """An inotify descriptor that a thread waits on (``FolderWatch``'s): ``inotify_simple``,
    a small maintained binding with no asyncio (``asyncinotify``, the dashboard's, brings
    asyncio: 50-70 ms of CPU to import beside every ``sf pipeline run``)."""

    def __init__(self) -> None:
        self._handle = _inotify_simple().INotify(nonblocking=True)
        self._watches: list[int] = []

    def add_watch(self, folder: Path) -> None:
        self._watches.append(self._handle.add_watch(folder, WATCHED))

    def names(self, timeout: float) -> set[str] | None:
        """The names of the files the notifications queued within ``timeout`` are about
        (all of them: one read takes what is there); None when none came."""
        events = self._handle.read(timeout=max(int(timeout * 1000), 0))
        return {event.name for event in events} if events else None

    def remove_watches(self) -> None:
        """Stop watching (the kernel frees the watches' marks in the background)."""
        for watch in self._watches:
            with contextlib.suppress(OSError):  # the folder is gone: so is its watch
                self._handle.rm_watch(watch)
        self._watches = []

    def close(self) -> None:
        if not self._handle.closed:
            self.remove_watches()
            self._handle.close()


class FolderWatch:
    """Blocks until a file named in ``names`` changes in ``folder``, or a timeout passes.

    ``settle``: the least time between two wake-ups. A writer busy in the folder (Kilroy
    writes ``live.json``, checkpoints and their temporary files next to its progress, 550
    notifications in a 10-node run) then wakes the waiting thread once per ``settle`` at
    most, with everything written meanwhile, instead of once or more per file it writes.
    """

    def __init__(self, folder: Path, names: Collection[str], *, settle: float = 0.0) -> None:
        self.folder = folder
        self.names = frozenset(names)
        self.settle = settle
        self._inotify = _opened(_Descriptor)
        self._watching = False
        self._stopped = False
        #: When the last notification woke ``wait`` (monotonic), for ``settle``.
        self._woken: float | None = None

    @property
    def notifying(self) -> bool:
        """True while changes wake ``wait`` up (False: it sleeps its whole timeout)."""
        return self._inotify is not None and not self._stopped and self._ensure_watch()

    def stop(self) -> None:
        """No more notifications: ``wait`` sleeps its timeout from now on. The watch goes now,
        and the kernel frees it meanwhile, so that ``close`` later does not wait for that."""
        self._stopped = True
        if self._inotify is not None:
            self._inotify.remove_watches()

    def _ensure_watch(self) -> bool:
        if self._inotify is None or self._watching:
            return self._watching
        try:
            self._inotify.add_watch(self.folder)
        except OSError:  # not created yet: polled until it is
            return False
        self._watching = True
        return True

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when a watched file changed meanwhile.

        Where notifications are off this sleeps ``timeout`` and returns False:
        the caller reads again either way.
        """
        if not self.notifying:
            time.sleep(timeout)
            return False
        assert self._inotify is not None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            pause = 0.0 if self._woken is None else self._woken + self.settle - time.monotonic()
            if pause > 0:  # woken less than ``settle`` ago: what is written meanwhile queues up
                time.sleep(min(pause, left))
                continue
            names = self._inotify.names(left)
            if names is None:
                return False
            self._woken = time.monotonic()
            if not self.names.isdisjoint(names):
                return True
        return False

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def __enter__(self) -> FolderWatch:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class FolderWatches(Generic[K]):
    """Many folders on one inotify handle, for an asyncio loop (the dashboard's event hub).

    ``add`` starts watching a folder for a key; ``changed`` waits for the
    next notifications and says which keys' files changed. Keys whose folder
    could not be watched (not created yet, or no inotify at all) are
    ``unwatched``: the caller polls those on its timeout, and ``add`` is
    retried for them by ``retry``.
    """

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)
        self._inotify = _inotify()
        self._keys: dict[Path, K] = {}
        self._watches: dict[K, Watch] = {}
        self._folders: dict[K, Path] = {}
        self._pending: set[K] = set()
        import asyncio  # here, not above: a FolderWatch (the runner's) has no loop

        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def notifying(self) -> bool:
        return self._inotify is not None

    def add(self, key: K, folder: Path) -> bool:
        """Watch ``folder`` for ``key``; False when it cannot be (poll that key instead)."""
        self._folders[key] = folder
        if self._inotify is None:
            return False
        try:
            watch = self._inotify.add_watch(folder, _mask())
        except OSError:
            return False
        self._watches[key] = watch
        self._keys[folder] = key
        return True

    def remove(self, key: K) -> None:
        folder = self._folders.pop(key, None)
        watch = self._watches.pop(key, None)
        if folder is not None:
            self._keys.pop(folder, None)
        if watch is not None and self._inotify is not None:
            with contextlib.suppress(OSError, ValueError):  # the folder was removed meanwhile
                self._inotify.rm_watch(watch)

    @property
    def unwatched(self) -> list[K]:
        return [key for key in self._folders if key not in self._watches]

    def retry(self) -> None:
        """Try again to watch the folders that could not be watched before."""
        for key in self.unwatched:
            self.add(key, self._folders[key])

    async def changed(self, timeout: float) -> set[K] | None:
        """The keys whose files changed, as soon as one did; None after ``timeout`` seconds."""
        import asyncio

        if self._inotify is None:
            await asyncio.sleep(timeout)
            return None
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(self._inotify), name="folder-watches")
        if not self._pending:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        found, self._pending = self._pending, set()
        return found

    async def _read(self, inotify: Inotify) -> None:
        """Collect the changed keys as notifications come.

        One task reads the handle for good: a read cancelled by a caller's
        timeout would drop the notifications it had already taken off the handle.
        """
        while True:
            event = await inotify.get()
            if event.name is None or event.name.name not in self.names or event.watch is None:
                continue
            key = self._keys.get(event.watch.path)
            if key is not None:
                self._pending.add(key)
                self._wake.set()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
