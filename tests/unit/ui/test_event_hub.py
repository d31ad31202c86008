"""``EventHub`` and ``ResourceFeed``: backlog + live, no gap, no repeat, slow clients cut off."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from factoryos.events import EventLog, EventType, run_source
from factoryos.models import Product, parse_as
from factoryos.store import LocalStore
from factoryos.ui.hub import EventHub, ResourceFeed, SlowConsumerError
from factoryos.workloads import RunDirectory


def _log(runs: Path) -> EventLog:
    return EventLog(RunDirectory.of(runs, "default", "r").events, run_source("p", "r"))


async def _collect(hub: EventHub, after: int, until: int) -> list[int]:
    got: list[int] = []
    async with hub.subscribe("default", "r", after) as stream:
        while not got or got[-1] < until:
            event = await stream.next(5.0)
            assert event is not None, f"stalled after {got}"
            got.append(event.sequence)
    return got


def test_backlog_then_live_while_a_writer_appends(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for _ in range(50):
        log.append(EventType.LOG, {"message": "before"})

    def write() -> None:
        for _ in range(200):
            log.append(EventType.LOG, {"message": "during"})

    async def main() -> tuple[list[int], list[int]]:
        hub = EventHub(tmp_path, interval=0.001)
        writer = asyncio.create_task(asyncio.to_thread(write))
        results = await asyncio.gather(_collect(hub, 0, 250), _collect(hub, 120, 250))
        await writer
        assert hub.followed == 0, "followers stop when their last subscriber leaves"
        return results

    everything, late = asyncio.run(main())
    assert everything == list(range(1, 251))
    assert late == list(range(121, 251))


def test_a_reconnect_from_the_cursor_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for _ in range(10):
        log.append(EventType.LOG, {})

    async def main() -> list[int]:
        hub = EventHub(tmp_path, interval=0.001)
        first = await _collect(hub, 0, 4)
        for _ in range(10):
            log.append(EventType.LOG, {})
        second = await _collect(hub, first[-1], 20)
        return first + second

    assert asyncio.run(main()) == list(range(1, 21))


def test_an_idle_stream_returns_none_for_a_heartbeat(tmp_path: Path) -> None:
    async def main() -> None:
        hub = EventHub(tmp_path, interval=0.001)
        async with hub.subscribe("default", "r", 0) as stream:
            assert await stream.next(0.05) is None
            _log(tmp_path).append(EventType.LOG, {})
            event = await stream.next(2.0)
            assert event is not None and event.sequence == 1

    asyncio.run(main())


def test_a_slow_consumer_is_cut_off(tmp_path: Path) -> None:
    log = _log(tmp_path)

    async def main() -> None:
        hub = EventHub(tmp_path, interval=0.001, queue_limit=5)
        async with hub.subscribe("default", "r", 0) as stream:
            for _ in range(20):
                log.append(EventType.LOG, {})
            await asyncio.sleep(0.1)
            with pytest.raises(SlowConsumerError):
                while True:
                    await stream.next(1.0)

    asyncio.run(main())


def test_the_resource_feed_reports_writes_while_someone_listens(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "db")
    feed = ResourceFeed(store)

    def write_soon() -> None:
        time.sleep(0.2)
        store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"url": "u"}}}))

    async def main() -> dict[str, object]:
        async with feed.subscribe() as changes:
            threading.Thread(target=write_soon).start()
            message = await changes.get(5.0)
            assert message is not None
            return dict(message)

    message = asyncio.run(main())
    feed.close()
    assert message["type"] == "ADDED"
    assert message["resource"] == {
        "kind": "Product",
        "namespace": "default",
        "name": "p",
        "resourceVersion": "1",
        "phase": None,
    }
    store.close()


def test_a_line_reaches_the_client_on_its_notification_not_on_the_timer(tmp_path: Path) -> None:
    """With a one-minute poll and sweep, only inotify can bring the event within a second."""
    log = _log(tmp_path)
    log.append(EventType.LOG, {})

    async def main() -> float:
        hub = EventHub(tmp_path, interval=60, sweep=60)
        async with hub.subscribe("default", "r", 1) as stream:
            assert hub.notified
            await asyncio.sleep(0.1)  # the hub is waiting on its notifications now
            written = time.monotonic()
            await asyncio.to_thread(log.append, EventType.LOG, {})
            event = await stream.next(5.0)
            assert event is not None and event.sequence == 2
            return time.monotonic() - written

    assert asyncio.run(main()) < 1.0


def test_without_notifications_the_hub_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYOS_FILE_NOTIFICATIONS", "0")
    log = _log(tmp_path)

    async def main() -> list[int]:
        hub = EventHub(tmp_path, interval=0.005, sweep=60)
        async with hub.subscribe("default", "r", 0) as stream:
            assert not hub.notified
            await asyncio.to_thread(log.append, EventType.LOG, {})
            event = await stream.next(5.0)
            return [] if event is None else [event.sequence]

    assert asyncio.run(main()) == [1]


def test_a_run_folder_made_after_the_client_came_is_polled_then_watched(tmp_path: Path) -> None:
    async def main() -> list[int]:
        hub = EventHub(tmp_path, interval=0.01, sweep=60)
        got = []
        async with hub.subscribe("default", "r", 0) as stream:
            await asyncio.to_thread(_log(tmp_path).append, EventType.LOG, {})  # makes the folder
            first = await stream.next(5.0)
            assert first is not None
            got.append(first.sequence)
            await asyncio.sleep(0.05)  # a sweep has watched the folder by now
            assert hub._watches is not None and not hub._watches.unwatched
            await asyncio.to_thread(_log(tmp_path).append, EventType.LOG, {})
            second = await stream.next(5.0)
            assert second is not None
            got.append(second.sequence)
        return got

    assert asyncio.run(main()) == [1, 2]
