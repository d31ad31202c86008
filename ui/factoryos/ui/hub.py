"""Live feeds for the dashboard: run events and resource changes, fanned out.

``EventHub`` follows each watched run's ``events.ndjson`` (one follower per
run, however many clients) and hands every new event to each subscriber's
bounded queue. A subscriber is registered *before* its backlog is read from
the file, and events at or below what it has already seen are dropped, so
backlog + live has no gap and no repeat. A subscriber that falls
``queue_limit`` events behind is cut off (``SlowConsumerError``) instead of
slowing the others; its cursor lets it resume losslessly.

A log is read when the file system says it changed (``FolderWatches``:
inotify on each followed run's folder), and every log is also looked at each
``sweep`` seconds in case a notification was missed. Where notifications are
unavailable, or a run's folder does not exist yet, those logs are polled
each ``interval`` instead, as before.

``ResourceFeed`` watches the store (``ResourceStore.watch``) in a thread
while anyone listens, and publishes one small change notice per write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factoryos.errors import ExpiredError, FactoryError
from factoryos.events import Event, read_events
from factoryos.events.log import read_lines
from factoryos.filewatch import FolderWatches
from factoryos.store import ResourceStore
from factoryos.telemetry import Telemetry
from factoryos.workloads import RunDirectory

log = logging.getLogger(__name__)


class SlowConsumerError(Exception):
    """A subscriber fell too far behind and was cut off; it resumes from its cursor."""


class _Subscriber:
    """One client's queue of live items (events or change notices)."""

    def __init__(self, limit: int) -> None:
        self._items: deque[Any] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.lagged = False

    def push(self, item: Any) -> None:
        if self.lagged:
            return
        if len(self._items) >= self._limit:
            self.lagged = True
            self._items.clear()
        else:
            self._items.append(item)
        self._wake.set()

    async def get(self, timeout: float) -> Any | None:
        """The next item, None after ``timeout`` seconds without one."""
        while not self._items:
            if self.lagged:
                raise SlowConsumerError
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        return self._items.popleft()


@dataclass(frozen=True)
class RawEvent:
    """One line of a run's event log, passed through as written (it is valid event JSON)."""

    sequence: int
    type: str
    json: str
    time: str = ""


def read_raw(path: Path, offset: int = 0, after: int = 0) -> tuple[list[RawEvent], int]:
    """Complete lines after byte ``offset`` with ``sequence > after``, and the next offset."""
    lines, next_offset = read_lines(path, offset)
    found = []
    for raw in lines:
        try:
            parsed = json.loads(raw)
            sequence, kind = int(parsed["sequence"]), str(parsed["type"])
            written = str(parsed.get("time", ""))
        except (ValueError, KeyError, TypeError) as exc:
            _skip_bad_line(raw, exc)
            continue
        if sequence > after:
            found.append(RawEvent(sequence, kind, raw.decode(), written))
    return found, next_offset


class EventStream:
    """A run's events for one client: the backlog after its cursor, then live ones."""

    def __init__(self, backlog: list[RawEvent], live: _Subscriber, after: int) -> None:
        self._backlog = deque(backlog)
        self._live = live
        self.last = after

    async def next(self, timeout: float) -> RawEvent | None:
        """The next event in sequence order; None when none came within ``timeout``."""
        while True:
            if self._backlog:
                event: RawEvent | None = self._backlog.popleft()
            else:
                event = await self._live.get(timeout)
                if event is None:
                    return None
            assert event is not None
            if event.sequence <= self.last:
                continue
            self.last = event.sequence
            return event


class _RunFollower:
    """Where one followed run log has been read to, and who wants its new lines."""

    def __init__(self, path: Path, telemetry: Telemetry) -> None:
        self.path = path
        self.subscribers: set[_Subscriber] = set()
        self.offset = _size(path)
        self.telemetry = telemetry

    def poll(self) -> None:
        size = _size(self.path)
        if size < self.offset:  # the log was replaced (a run deleted and made again)
            self.offset = 0
        if size > self.offset:
            events, self.offset = read_raw(self.path, self.offset)
            if events and self.telemetry.on:
                now = datetime.now(UTC)
                for event in events:
                    with contextlib.suppress(ValueError):
                        lag = (now - datetime.fromisoformat(event.time)).total_seconds()
                        self.telemetry.observe("factory.stream.lag", max(lag, 0.0))
            for event in events:
                for sub in list(self.subscribers):
                    sub.push(event)


class EventHub:
    """Fans out the events of every watched run (see the module docstring).

    One task follows every followed log, however many runs and clients there
    are: it reads a log when notified that it changed, and looks at all of
    them (a ``stat`` per log, a read only when it grew) every ``sweep``
    seconds, or every ``interval`` while any log has to be polled.
    """

    def __init__(
        self,
        runs_dir: Path,
        *,
        interval: float = 0.02,
        sweep: float = 1.0,
        queue_limit: int = 10_000,
        telemetry: Telemetry | None = None,
    ):
        self.runs_dir = runs_dir
        self.telemetry = telemetry or Telemetry.off()
        self.interval = interval
        self.sweep = sweep
        self.queue_limit = queue_limit
        self._followers: dict[Path, _RunFollower] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._watches: FolderWatches[Path] | None = None

    def events_path(self, namespace: str, run: str) -> Path:
        return RunDirectory.of(self.runs_dir, namespace, run).events

    def backlog(self, namespace: str, run: str, after: int) -> list[Event]:
        """The events already in the log with ``sequence > after`` (for pages and polling)."""
        return read_events(self.events_path(namespace, run), after)

    @contextlib.asynccontextmanager
    async def subscribe(self, namespace: str, run: str, after: int) -> AsyncIterator[EventStream]:
        path = self.events_path(namespace, run)
        follower = self._followers.get(path)
        if self._watches is None:
            self._watches = FolderWatches({path.name})
        if follower is None:
            follower = self._followers[path] = _RunFollower(path, self.telemetry)
            self._watches.add(path, path.parent)
        sub = _Subscriber(self.queue_limit)
        follower.subscribers.add(sub)  # before the backlog is read: nothing falls between
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(self._watches), name="event-hub")
        try:
            backlog, _ = await asyncio.to_thread(read_raw, path, 0, after)
            yield EventStream(backlog, sub, after)
        finally:
            follower.subscribers.discard(sub)
            if not follower.subscribers:
                self._followers.pop(path, None)
                self._watches.remove(path)

    async def _tick(self, watches: FolderWatches[Path]) -> None:
        swept = time.monotonic()
        while self._followers:
            period = self.sweep if watches.notifying and not watches.unwatched else self.interval
            changed = await watches.changed(max(swept + period - time.monotonic(), 0.0))
            for path in changed or ():
                follower = self._followers.get(path)
                if follower is not None:
                    follower.poll()
            if time.monotonic() - swept >= period:
                # The safety net, and the polling of logs that cannot be watched (yet).
                watches.retry()
                for follower in list(self._followers.values()):
                    follower.poll()
                swept = time.monotonic()

    @property
    def followed(self) -> int:
        """How many run logs are being followed now."""
        return len(self._followers)

    @property
    def notified(self) -> bool:
        """True when file-system notifications drive the hub (False: it polls every log)."""
        return self._watches is not None and self._watches.notifying

    def close(self) -> None:
        """Let go of the notification handle (the app's shutdown)."""
        if self._watches is not None:
            self._watches.close()


@dataclass(frozen=True)
class Change:
    """A resource was written: enough for a page to know what to refresh."""

    type: str
    kind: str
    namespace: str
    name: str
    resource_version: str
    phase: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "change",
            "type": self.type,
            "resource": {
                "kind": self.kind,
                "namespace": self.namespace,
                "name": self.name,
                "resourceVersion": self.resource_version,
                "phase": self.phase,
            },
        }


class ResourceFeed:
    """Publishes every store write to the listening clients (see the module docstring)."""

    def __init__(self, store: ResourceStore, *, queue_limit: int = 10_000) -> None:
        self.store = store
        self.queue_limit = queue_limit
        self._subscribers: set[_Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[_Subscriber]:
        sub = _Subscriber(self.queue_limit)
        self._subscribers.add(sub)
        self._start(asyncio.get_running_loop())
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._loop = loop
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._watch,
                args=(self.store.version(),),
                name="dashboard-resource-feed",
                daemon=True,
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _watch(self, since: int) -> None:
        """The watch thread: runs while anyone listens, then ends."""
        while not self._stop.is_set():
            with self._lock:
                if not self._subscribers:
                    self._thread = None
                    return
            try:
                changes = self.store.watch(since, 1.0)
            except ExpiredError:
                since = self.store.version()
                self._publish({"kind": "resync"})
                continue
            except FactoryError as exc:
                log.warning("dashboard: watching the store failed (%s); retrying", exc)
                self._stop.wait(1.0)
                continue
            for change in changes:
                since = change.version
                resource = change.resource
                self._publish(
                    Change(
                        change.type.value,
                        resource.kind,
                        resource.metadata.namespace,
                        resource.metadata.name,
                        resource.metadata.resource_version or "",
                        None if resource.status.phase is None else str(resource.status.phase),
                    ).to_json()
                )
        with self._lock:
            self._thread = None

    def _publish(self, message: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for sub in list(self._subscribers):
            loop.call_soon_threadsafe(sub.push, message)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _skip_bad_line(raw: bytes, exc: Exception) -> None:
    log.warning("dashboard: skipping a line that is not an event (%s): %.200r", exc, raw)
