"""One event as plain data, written and read without pydantic where that gives the same line.

``EventLog`` (``factoryos.events.log``) writes and reads its lines through
these: ``sf pipeline run`` records a whole run without importing pydantic
(0.1 to 0.2 s of CPU beside Kilroy on a 2-core machine). The envelope's model
(``factoryos.events.envelope.Event``) stays the contract: ``line`` returns the
very line ``Event.to_json_line`` writes, or ``None`` for anything it cannot
promise that for (a float JSON spells another way, a value that is not plain
JSON, a time not in UTC, a source or type the model would refuse), and
``parse`` reads only the lines this module writes, returning ``None`` for any
other, which the caller then gives to the model. ``tests/unit/events/
test_event_record.py`` compares both with the model's.

Standard library only.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "SOURCE_PATTERN",
    "TYPE_PATTERN",
    "EventRecord",
    "line",
    "new_id",
    "parse",
    "run_source",
]

#: The envelope's ``source`` and ``type`` (``Event``'s fields use these).
SOURCE_PATTERN = (
    r"^/products/[a-z0-9]([-a-z0-9]*[a-z0-9])?/runs/[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$"
)
TYPE_PATTERN = r"^dev\.factoryos\.[a-z][a-z0-9_.]*[a-z0-9]$"
_SOURCE = re.compile(SOURCE_PATTERN)
_TYPE = re.compile(TYPE_PATTERN)
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
#: What ``parse`` reads: a line with all of these, and nothing else than these and ``subject``.
_REQUIRED = frozenset(
    {"specversion", "id", "source", "type", "time", "sequence", "datacontenttype", "data"}
)
_ALLOWED = _REQUIRED | {"subject"}
_ZERO = timedelta(0)


def new_id() -> str:
    """A fresh event id: ``uuid.uuid4().hex``, made as ``uuid4`` makes it (16 random bytes,
    version 4, RFC 4122 variant) without importing ``uuid`` (10-15 ms on a busy machine)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def run_source(product: str, run: str) -> str:
    """The CloudEvents ``source`` of a run's events."""
    return f"/products/{product}/runs/{run}"


class EventRecord(NamedTuple):
    """An event's envelope fields (as ``Event`` has them) without the model.

    A ``NamedTuple``: ``sf pipeline run`` makes its first while Kilroy starts, and
    ``dataclasses`` would cost that start 9 ms of CPU (docs/decisions.md, issue 19 part 2).
    """

    id: str
    source: str
    type: str
    time: datetime
    sequence: int
    data: dict[str, Any]
    subject: str | None = None
    specversion: str = "1.0"
    datacontenttype: str = "application/json"

    def fields(self) -> dict[str, Any]:
        """The fields, for ``Event(**record.fields())``."""
        return {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "sequence": self.sequence,
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }


def line(record: EventRecord) -> str | None:
    """``Event(**record.fields()).to_json_line()``, or None where it cannot be sure of it."""
    offset = record.time.utcoffset()
    if (
        offset != _ZERO
        or not record.id
        or not _matches(_SOURCE, record.source)
        or not _matches(_TYPE, record.type)
        or record.sequence < 1
        or not _plain(record.data)
    ):
        return None
    subject = "" if record.subject is None else f',"subject":{_dump(record.subject)}'
    return (
        f'{{"specversion":"1.0","id":{_dump(record.id)},"source":{_dump(record.source)},'
        f'"type":{_dump(record.type)},"time":"{_time(record.time)}",'
        f'"sequence":{record.sequence}{subject},"datacontenttype":"application/json",'
        f'"data":{_dump(record.data)}}}'
    )


def parse(raw: bytes) -> EventRecord | None:
    """The record of a line as ``line`` writes it; None for any other (the model decides)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or set(obj) - _ALLOWED or not set(obj) >= _REQUIRED:
        return None
    ident, source, kind, time = obj["id"], obj["source"], obj["type"], obj["time"]
    sequence, subject, data = obj["sequence"], obj.get("subject"), obj["data"]
    if (
        obj["specversion"] != "1.0"
        or obj["datacontenttype"] != "application/json"
        or not (isinstance(ident, str) and ident)
        or not (isinstance(source, str) and _matches(_SOURCE, source))
        or not (isinstance(kind, str) and _matches(_TYPE, kind))
        or not (isinstance(time, str) and _TIME.match(time))
        or type(sequence) is not int
        or sequence < 1
        or not (subject is None or isinstance(subject, str))
        or type(data) is not dict
    ):
        return None
    spelled = "%Y-%m-%dT%H:%M:%S.%f" if "." in time else "%Y-%m-%dT%H:%M:%S"
    try:
        stamp = datetime.strptime(time[:-1], spelled)
    except ValueError:
        return None  # a day or hour out of range: the model says so
    return EventRecord(
        id=ident,
        source=source,
        type=kind,
        time=stamp.replace(tzinfo=UTC),
        sequence=sequence,
        subject=subject,
        data=data,
    )


def _matches(pattern: re.Pattern[str], value: str) -> bool:
    # ``$`` also matches before a final newline in Python, not in the model's regex engine.
    return "\n" not in value and pattern.match(value) is not None


def _time(stamp: datetime) -> str:
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{stamp.microsecond:06d}Z" if stamp.microsecond else f"{text}Z"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> bool:
    """JSON the model writes exactly as ``json.dumps`` does: no float in exponent form
    (or not finite), no other types than JSON's own, string keys."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return value == value and abs(value) != float("inf") and "e" not in repr(value)
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False
