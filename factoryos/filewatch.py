"""Waking up when a file in a folder changes: inotify, or polling where there is none.

Two followers wait for appended lines: the runner for Kilroy's
``progress.ndjson`` (``factoryos.kilroy.follow``) and the dashboard's event hub
for each run's ``events.ndjson`` (``factoryos.ui.hub``). Both used to sleep a
fixed interval between reads; with file-system notifications they read as soon
as the writer has written, and sleep otherwise.

``FolderWatch`` (blocking, for a thread) and ``FolderWatches`` (asyncio, many
folders on one inotify handle) watch folders, not files, so a file that does
not exist yet, or is replaced, is still seen. ``FolderWatches`` gets its
notifications through ``asyncinotify``; ``FolderWatch`` calls libc's three
inotify functions itself (``_Descriptor``, through ``ctypes`` as
``factoryos.parent_death`` does): ``sf pipeline run`` follows Kilroy with it,
and ``asyncinotify``'s import took asyncio and an ``ldconfig -p`` (which
``ctypes.util.find_library`` runs to find libc), 20-30 ms of CPU beside the
run. Where notifications cannot work (not Linux, the per-user inotify
instance limit reached, the folder not created yet) they fall back to
polling: ``wait`` then simply sleeps its timeout, so the caller reads on a
timer as before. Every caller also reads on its timeout in any case, so a
lost notification delays a line by at most that, never loses it.

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
import select
import struct
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
    """Look up libc's inotify functions now, for a process that forks many followers (the
    fork server), so that no forked runner does it again. Nothing happens where there are
    none."""
    with contextlib.suppress(RuntimeError):
        _inotify_functions()


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


def _mask() -> Any:
    from asyncinotify import Mask

    # MODIFY: lines appended; CREATE/MOVED_TO: the file appears or is replaced.
    return Mask.MODIFY | Mask.CREATE | Mask.MOVED_TO | Mask.CLOSE_WRITE


#: <sys/inotify.h>: the same events as ``_mask``, and the flags of a new descriptor.
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
WATCHED = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE
#: An event's header: watch descriptor, mask, cookie, length of the name that follows.
_EVENT = struct.Struct("iIII")

_functions: tuple[Any, Any, Any] | None = None


def _inotify_functions() -> tuple[Any, Any, Any]:
    """libc's ``inotify_init1``, ``inotify_add_watch`` and ``inotify_rm_watch``, looked up
    once in this process's own symbols (libc is loaded already: no ``find_library``, which
    runs ``ldconfig -p``). ``RuntimeError`` where there are none."""
    global _functions
    if _functions is None:
        if not sys.platform.startswith("linux"):
            raise RuntimeError("inotify is a Linux interface")
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        try:
            init1, add, rm = libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch
        except AttributeError as exc:
            raise RuntimeError("this libc has no inotify") from exc
        init1.argtypes = (ctypes.c_int,)
        add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        rm.argtypes = (ctypes.c_int, ctypes.c_int)
        _functions = (init1, add, rm)
    return _functions


def _checked(result: int) -> int:
    if result == -1:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


class _Descriptor:
    """An inotify descriptor that a thread waits on (``FolderWatch``'s)."""

    def __init__(self) -> None:
        init1, self._add, self._rm = _inotify_functions()
        self.fd: int | None = _checked(init1(IN_NONBLOCK | IN_CLOEXEC))
        self._watches: list[int] = []

    def add_watch(self, folder: Path) -> None:
        assert self.fd is not None
        self._watches.append(_checked(self._add(self.fd, os.fsencode(folder), WATCHED)))

    def names(self, timeout: float) -> set[bytes] | None:
        """The names (as the file system spells them) of the files the notifications queued
        within ``timeout`` are about (all of them: one read takes what is there); None when
        none came."""
        assert self.fd is not None
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return None
        names = set()
        with contextlib.suppress(BlockingIOError):
            while data := os.read(self.fd, 64 * 1024):
                offset = 0
                while offset < len(data):
                    _, _, _, length = _EVENT.unpack_from(data, offset)
                    offset += _EVENT.size
                    names.add(data[offset : offset + length].rstrip(b"\0"))
                    offset += length
        return names

    def remove_watches(self) -> None:
        """Stop watching (the kernel frees the watches' marks in the background)."""
        if self.fd is not None:
            for watch in self._watches:
                with contextlib.suppress(OSError):  # the folder is gone: so is its watch
                    _checked(self._rm(self.fd, watch))
        self._watches = []

    def close(self) -> None:
        if self.fd is not None:
            self.remove_watches()
            os.close(self.fd)
            self.fd = None


class FolderWatch:
    """Blocks until a file named in ``names`` changes in ``folder``, or a timeout passes."""

    def __init__(self, folder: Path, names: Collection[str]) -> None:
        self.folder = folder
        self.names = frozenset(names)
        self._spelled = frozenset(os.fsencode(name) for name in self.names)
        self._inotify = _opened(_Descriptor)
        self._watching = False
        self._stopped = False

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
            names = self._inotify.names(left)
            if names is None:
                return False
            if not self._spelled.isdisjoint(names):
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
