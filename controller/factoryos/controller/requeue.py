"""Following one object: its passes, when the core asked, and when anything changes.

Every Product and Run has a kopf daemon, an asyncio task that lives as long as
the object (kopf stops it when deletion begins, when the operator stops, or
when a peer takes over). Its loop (``follow``) runs one reconcile pass (in a
thread: passes block on the API), then waits until whichever comes first:

- the pass's ``requeue_after`` (the core asked to look again then),
- the resync (30 s) when it asked for nothing, for what no watch event
  announces (a Job's pod stuck Pending); a settled run needs neither,
- a wake-up: a watch event about the object (its own, its Jobs', its
  product's) calls ``Wakeups.wake``.

Errors of a pass come back as kopf's answers (``error_mapping.translate``): a
temporary one waits its delay (doubling while it repeats) and a wake-up still
cuts it short, since a watch event is news (the write that won a race, an API
server that answers again); a ``StalledError`` is recorded as a Stalled
condition and the object is left alone until its generation changes or its
product's spec does (``wake(..., retry=True)``), so a bad spec costs one pass,
not one per event or per resync.

kopf stops the daemon when deletion begins, but the watch event that says so
reaches the event handlers first, and they wake the follower that is about to
stop. So ``follow`` says whether a wake-up came that no pass answered, and the
caller then reconciles once more itself (as it does for every event once
nothing follows the object).

Why not kopf's own retries: a daemon that raises ``TemporaryError`` is re-run
after the delay, but it sleeps through every watch event meanwhile, and one
that raises ``PermanentError`` never runs again for that object, not even
after its spec is fixed. A per-object timer cannot follow a delay that each
pass chooses. So the loop applies kopf's answers itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import kopf

from factoryos.controller.error_mapping import StalledError, backoff
from factoryos.controlplane import PassResult
from factoryos.errors import FactoryError

#: A followed object: (kind, namespace, name).
Key = tuple[str, str, str]

log = logging.getLogger("factoryos.operator")


class Stopped(Protocol):
    """kopf's ``stopped`` flag of an async daemon (``kopf.DaemonStopped``)."""

    def __bool__(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> Awaitable[object]: ...


@dataclass
class Follower:
    """One followed object's wake-up: set from any thread, awaited in the operator's loop."""

    loop: asyncio.AbstractEventLoop
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    #: Retry even a stalled object: something it depends on changed (its product's spec).
    retry: bool = False


class Wakeups:
    """The followers of the objects that have one, by key (shared by every handler)."""

    def __init__(self) -> None:
        self._followers: dict[Key, Follower] = {}
        self._guard = threading.Lock()

    @contextmanager
    def follow(self, key: Key) -> Iterator[Follower]:
        """Register a follower of ``key`` for the ``with`` block (call it in the event loop)."""
        follower = Follower(asyncio.get_running_loop())
        with self._guard:
            self._followers[key] = follower
        try:
            yield follower
        finally:
            with self._guard:
                if self._followers.get(key) is follower:
                    del self._followers[key]

    def wake(self, key: Key, *, retry: bool = False) -> bool:
        """Tell ``key``'s follower to look again; False when nothing follows it (then the
        caller reconciles it itself: it is being deleted, or its daemon is not up yet)."""
        with self._guard:
            follower = self._followers.get(key)
        if follower is None:
            return False
        if retry:
            follower.retry = True
        follower.loop.call_soon_threadsafe(follower.woken.set)
        return True


def next_wait(result: PassResult, resync: float) -> float | None:
    """How long to wait after ``result`` before the next pass if nothing happens (None:
    until something does)."""
    if result.gone or result.settled:
        return None
    if result.requeue_after is None:
        return resync
    return min(result.requeue_after, resync)


async def follow(
    wakeups: Wakeups,
    key: Key,
    reconcile: Callable[[], PassResult],
    *,
    stopped: Stopped,
    generation: Callable[[], int | None],
    answer: Callable[[FactoryError], kopf.TemporaryError | StalledError | None],
    resync: float,
) -> bool:
    """Reconcile ``key`` until ``stopped`` (see the module docstring); True if a wake-up
    came that no pass answered.

    ``reconcile`` is one pass; ``answer`` turns its ``FactoryError`` into kopf's answer
    (and records a stall); ``generation`` reads the object's live ``metadata.generation``.
    """
    with wakeups.follow(key) as follower:
        await _loop(follower, reconcile, stopped, generation, answer, resync, key)
    await asyncio.sleep(0)  # wake-ups sent before it stopped following land now
    return follower.woken.is_set()


async def _loop(
    follower: Follower,
    reconcile: Callable[[], PassResult],
    stopped: Stopped,
    generation: Callable[[], int | None],
    answer: Callable[[FactoryError], kopf.TemporaryError | StalledError | None],
    resync: float,
    key: Key,
) -> None:
    what = f"{key[0].lower()} {key[1]}/{key[2]}"
    failures = 0
    stalled_at: int | None = None
    stalled = False
    while not stopped:
        follower.woken.clear()  # before reading: a change during the pass wakes the next wait
        if stalled and not follower.retry and generation() == stalled_at:
            await _nap(follower, stopped, None)
            continue
        follower.retry, stalled = False, False
        seen = generation()
        try:
            result = await asyncio.to_thread(reconcile)
        except FactoryError as exc:
            error = await asyncio.to_thread(answer, exc)
            if isinstance(error, StalledError):
                stalled, stalled_at, wait = True, seen, None
            elif error is None:
                wait = resync
            else:
                failures += 1
                wait = backoff(error.delay, failures)
                log.warning("%s: %s (retrying in %gs)", what, exc, wait)
        else:
            failures = 0
            wait = next_wait(result, resync)
        await _nap(follower, stopped, wait)


async def _nap(follower: Follower, stopped: Stopped, timeout: float | None) -> None:
    """Until woken, stopped, or ``timeout`` seconds pass (None: no limit)."""
    if timeout is not None and timeout <= 0:
        return
    woken = asyncio.ensure_future(follower.woken.wait())
    stop = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({woken, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        stop.cancel()
