"""The event log assigns gap-free sequences and never-decreasing times, across writers."""

from __future__ import annotations

import errno
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factoryos.errors import WorkspaceError
from factoryos.events import EventLog, EventType, read_events, run_source, validate_events
from factoryos.events.log import iter_lines

SOURCE = run_source("smoke", "r1")


def test_sequences_start_at_one_and_increase_by_one(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    seqs = [log.append(EventType.LOG, {"line": str(i)}).sequence for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert log.last_sequence() == 5


def test_a_reopened_log_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    EventLog(path, SOURCE).append(EventType.RUN_STARTED)
    event = EventLog(path, SOURCE).append(EventType.RUN_FINISHED, {"status": "success"})
    assert event.sequence == 2


def test_time_never_goes_backwards_even_if_the_clock_does(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    now = datetime.now(UTC)
    first = log.append(EventType.LOG, time=now)
    second = log.append(EventType.LOG, time=now - timedelta(seconds=30))
    assert second.time == first.time


def test_a_log_sees_what_another_wrote_since_its_own_last_append(tmp_path: Path) -> None:
    """A log reads nothing back after its own append, but notices anyone else's."""
    path = tmp_path / "events.ndjson"
    ours, theirs = EventLog(path, SOURCE), EventLog(path, SOURCE)
    ours.append(EventType.LOG)
    later = datetime.now(UTC) + timedelta(seconds=30)
    theirs.append(EventType.LOG, time=later)
    third = ours.append(EventType.LOG)
    assert (third.sequence, third.time) == (3, later)
    assert ours.append(EventType.LOG).sequence == 4


def test_read_after_returns_only_newer_events(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    for _ in range(4):
        log.append(EventType.LOG)
    assert [e.sequence for e in read_events(log.path, after=2)] == [3, 4]


def test_a_partial_last_line_is_skipped_by_readers_and_the_writer(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    log.append(EventType.LOG)
    with log.path.open("a") as fh:
        fh.write('{"specversion": "1.0", "id": "x", "seq')
    assert [e.sequence for e in read_events(log.path)] == [1]
    assert len(list(iter_lines(log.path))) == 1


def _append_many(path: str, count: int) -> None:
    log = EventLog(Path(path), SOURCE)
    for i in range(count):
        log.append(EventType.LOG, {"i": i})


def test_concurrent_writers_from_several_processes_leave_no_gaps(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    raw = list(iter_lines(path))
    assert [e["sequence"] for e in raw] == list(range(1, 101))
    assert validate_events(raw) == []


def test_an_append_the_disk_cuts_short_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk mid-line: the half line is cut off, so the next append makes a whole log."""
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    log.append(EventType.RUN_STARTED)
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 1 and data.endswith(b"\n"):
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(WorkspaceError, match="No space left on device"):
        log.append(EventType.LOG, {"line": "x" * 200})
    monkeypatch.undo()

    log.append(EventType.RUN_FINISHED, {"status": "success"})
    events = read_events(log.path)
    assert [e.sequence for e in events] == [1, 2]
    assert [e.type for e in events] == [EventType.RUN_STARTED, EventType.RUN_FINISHED]


def test_a_log_synced_in_the_background_writes_the_same_events(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE, sync_in_background=True)
    seqs = [log.append(EventType.LOG, {"line": str(i)}).sequence for i in range(5)]
    log.close()
    assert seqs == [1, 2, 3, 4, 5]
    assert [e.data["line"] for e in read_events(log.path)] == ["0", "1", "2", "3", "4"]
    assert log.append(EventType.LOG).sequence == 6  # after close, each append syncs its own


def test_a_background_sync_that_fails_is_reported_by_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    log = EventLog(tmp_path / "events.ndjson", SOURCE, sync_in_background=True)
    monkeypatch.setattr(os, "fsync", fail)
    log.append(EventType.LOG)
    with pytest.raises(WorkspaceError, match="cannot sync the event log"):
        log.close()


def test_what_is_wrong_with_a_line_is_said_in_one_line_whatever_its_keys() -> None:
    """An extra key is the line's own: one named "\\n" stays quoted, on the same line."""
    from pydantic import ValidationError

    from factoryos.events.envelope import Event
    from factoryos.events.log import bad_line

    line = {
        "specversion": "1.0",
        "id": "x",
        "source": "/products/p/runs/r",
        "type": "dev.factoryos.run.started",
        "time": "2026-01-01T00:00:00Z",
        "sequence": 1,
        "data": {},
        "\n": 1,
    }
    with pytest.raises(ValidationError) as caught:
        Event.model_validate(line)

    said = bad_line(caught.value)

    assert "\n" not in said
    assert said.startswith('"\\n": ')
