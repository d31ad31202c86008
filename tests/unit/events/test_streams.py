"""A run's log merged from per-volume streams: one sequence, no gap or repeat, no time back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError
from factoryos.events import Event, EventType, make_event, read_events, run_source
from factoryos.events.streams import (
    MERGED_FILE,
    STREAMS_DIR,
    merge_streams,
    stream_append,
    stream_path,
    stream_position,
)

T0 = datetime(2026, 12, 3, tzinfo=UTC)


def events(count: int, first: int = 1, start: float = 0, step: float = 1) -> list[Event]:
    return [
        make_event(
            source=run_source("p", "r"),
            type=EventType.STAGE_STARTED,
            sequence=first + i,
            subject=f"s{first + i}",
            time=T0 + timedelta(seconds=start + step * (first + i)),
        )
        for i in range(count)
    ]


def lines(batch: list[Event]) -> list[bytes]:
    return [e.to_json_line().encode() for e in batch]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "ns" / "r" / "events.ndjson"


def test_streams_interleave_into_one_sequence_without_gap_or_repeat(log: Path) -> None:
    c0, c1 = events(5), events(3, start=0.5)
    stream_append(log, "c0", "r", lines(c0[:2]))
    stream_append(log, "c1", "r", lines(c1))
    stream_append(log, "c0", "r", lines(c0[2:]))
    merged = read_events(log)
    assert [e.sequence for e in merged] == list(range(1, 9))
    assert sorted(e.id for e in merged) == sorted(e.id for e in c0 + c1)
    assert all(a.time <= b.time for a, b in itertools.pairwise(merged))


def test_a_resent_batch_is_merged_once(log: Path) -> None:
    batch = lines(events(3))
    assert stream_append(log, "c0", "r", batch) == 3
    assert stream_append(log, "c0", "r", batch) == 3
    assert [e.sequence for e in read_events(log)] == [1, 2, 3]


def test_an_event_stamped_before_the_last_merged_one_takes_its_time(log: Path) -> None:
    stream_append(log, "c0", "r", lines(events(2, start=100)))
    late = events(1, start=0)
    stream_append(log, "e1", "r", lines(late))
    merged = read_events(log)
    assert merged[-1].id == late[0].id
    assert merged[-1].time == merged[-2].time


def test_a_crash_between_the_log_and_the_record_neither_loses_nor_repeats(log: Path) -> None:
    stream_append(log, "c0", "r", lines(events(2)))
    record = log.parent / STREAMS_DIR / MERGED_FILE
    before = record.read_text()
    stream_append(log, "c0", "r", lines(events(2, first=3)))
    record.write_text(before)  # as if the process died before writing the record
    stream_append(log, "c1", "r", lines(events(1)))
    assert [e.sequence for e in read_events(log)] == [1, 2, 3, 4, 5]
    assert merge_streams(log) == 5


def test_the_position_a_sender_continues_from_is_its_streams_own(log: Path) -> None:
    stream_append(log, "c0", "r", lines(events(4)))
    stream_append(log, "c1", "r", lines(events(1)))
    assert (stream_position(log, "c0"), stream_position(log, "c1")) == (4, 1)
    assert stream_position(log, "e1") == 0


@pytest.mark.parametrize("name", ["../x", "C0", "", "a/b", "x" * 40])
def test_stream_names_are_confined_to_the_runs_folder(log: Path, name: str) -> None:
    with pytest.raises(InvalidInputError):
        stream_path(log, name)
