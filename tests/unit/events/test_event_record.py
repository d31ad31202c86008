"""Events written and read without pydantic (``factoryos.events.record``) are the model's.

``line`` must write byte for byte what ``Event.to_json_line`` writes, or decline;
``parse`` must read back what the model reads, or decline; declining hands the
event to the model, so a decline is never wrong, only slower.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from factoryos.events import EventLog, EventType, read_events, run_source
from factoryos.events import record as records
from factoryos.events.envelope import Event
from factoryos.events.record import EventRecord

SOURCE = run_source("smoke", "r1")
T = datetime(2026, 12, 4, 13, 0, 5, 120000, tzinfo=UTC)


def _record(**changes: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "id": "abc",
        "source": SOURCE,
        "type": "dev.factoryos.stage.started",
        "time": T,
        "sequence": 3,
        "subject": "build",
        "data": {},
    }
    return EventRecord(**{**fields, **changes})


WRITTEN = [
    {},
    {"run_id": "r1", "pid": 4242, "ok": True, "nothing": None},
    {"text": 'é — ünïcode \u2028 \x7f tab\t quote" backslash\\ nul\x00'},
    {"nested": {"list": [1, "2", [3.5, {"x": None}]], "empty": {}}},
    {"floats": [0.0, -0.0, 0.1, 1.5, 123456789.123, 0.0001, 1e15, 2.5, -7.25]},
    {"big": 2**70, "negative": -(2**40)},
]


@pytest.mark.parametrize("data", WRITTEN, ids=range(len(WRITTEN)))
@pytest.mark.parametrize("subject", ["build", None])
@pytest.mark.parametrize(
    "time", [T, T.replace(microsecond=0), T.replace(microsecond=7)], ids=["ms", "s", "us"]
)
def test_a_line_is_the_models_line(
    data: dict[str, Any], subject: str | None, time: datetime
) -> None:
    record = _record(data=data, subject=subject, time=time)
    assert records.line(record) == Event(**record.fields()).to_json_line()


def test_random_floats_in_positional_form_are_the_models() -> None:
    rng = random.Random(19)
    values = [rng.uniform(-1e6, 1e6) for _ in range(300)] + [rng.random() for _ in range(300)]
    record = _record(data={"values": values})
    assert records.line(record) == Event(**record.fields()).to_json_line()


DECLINED = [
    {"data": {"tiny": 1e-05}},  # the model writes 0.00001
    {"data": {"huge": 1e16}},
    {"data": {"inf": float("inf")}},  # the model writes null
    {"data": {"nan": float("nan")}},
    {"data": {"path": Path("/x")}},
    {"data": {"tuple": (1, 2)}},
    {"data": {1: "int key"}},
    {"data": {"kind": EventType.LOG}},  # a str subclass
    {"time": T.astimezone(timezone(timedelta(hours=2)))},
    {"time": T.replace(tzinfo=None)},
    {"source": "/products/Bad_Name/runs/r1"},
    {"source": SOURCE + "\n"},
    {"type": "not.ours"},
    {"sequence": 0},
    {"id": ""},
]


@pytest.mark.parametrize("changes", DECLINED, ids=range(len(DECLINED)))
def test_what_json_spells_otherwise_or_the_model_refuses_is_declined(
    changes: dict[str, Any],
) -> None:
    assert records.line(_record(**changes)) is None


@pytest.mark.parametrize("data", WRITTEN, ids=range(len(WRITTEN)))
def test_a_written_line_parses_to_what_the_model_reads(data: dict[str, Any]) -> None:
    record = _record(data=data)
    raw = (records.line(record) or "").encode()
    parsed = records.parse(raw)
    assert parsed is not None
    model = Event.model_validate_json(raw)
    assert parsed.fields() == {**model.model_dump(), "time": model.time}
    assert parsed == record


NOT_PARSED = [
    b"not json",
    b"[1, 2]",
    b'{"sequence": 1}',
    # Lines the model may read (or refuse) that EventLog never writes: the model decides.
    b'{"id":"a","source":"/products/p/runs/r","type":"dev.factoryos.log",'
    b'"time":"2026-12-04T13:00:05+00:00","sequence":1,"data":{}}',
    b'{"specversion":"1.0","id":"a","source":"/products/p/runs/r","type":"dev.factoryos.log",'
    b'"time":"2026-12-04T13:00:05Z","sequence":"1","datacontenttype":"application/json",'
    b'"data":{}}',
    b'{"specversion":"1.0","id":"a","source":"/products/p/runs/r","type":"dev.factoryos.log",'
    b'"time":"2026-12-04T13:00:05Z","sequence":1,"datacontenttype":"application/json",'
    b'"data":{},"extra":1}',
    b'{"specversion":"1.0","id":"a","source":"/products/p/runs/r","type":"dev.factoryos.log",'
    b'"time":"2026-02-30T13:00:05Z","sequence":1,"datacontenttype":"application/json",'
    b'"data":{}}',
]


@pytest.mark.parametrize("raw", NOT_PARSED, ids=range(len(NOT_PARSED)))
def test_other_lines_are_left_to_the_model(raw: bytes) -> None:
    assert records.parse(raw) is None


def test_the_log_continues_after_a_line_only_the_model_reads(tmp_path: Path) -> None:
    """A line another writer spelled its own way still counts as the last event."""
    path = tmp_path / "events.ndjson"
    other = {
        "id": "a",
        "source": SOURCE,
        "type": "dev.factoryos.log",
        "time": "2026-12-04T13:00:05+00:00",
        "sequence": 7,
    }
    path.write_text(json.dumps(other) + "\n")
    event = EventLog(path, SOURCE).append_record(EventType.LOG, time=T - timedelta(days=1))
    assert (event.sequence, event.time) == (8, datetime(2026, 12, 4, 13, 0, 5, tzinfo=UTC))
    assert [e.sequence for e in read_events(path)] == [7, 8]


def test_an_event_the_model_must_write_is_written_by_it(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.ndjson", SOURCE)
    event = log.append_record(EventType.LOG, {"tiny": 1e-05, "path": Path("/x")})
    line = log.path.read_text().strip()
    assert json.loads(line)["data"] == {"tiny": 1e-05, "path": "/x"}
    assert event.data == {"tiny": 1e-05, "path": Path("/x")}
    (read,) = read_events(log.path)
    assert read.id == event.id


def test_an_id_is_a_version_4_uuid() -> None:
    ids = {records.new_id() for _ in range(200)}
    assert len(ids) == 200
    for ident in ids:
        parsed = uuid.UUID(hex=ident)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, ident)
