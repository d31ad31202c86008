"""Checks that a run's event stream is well formed.

Used by tests, ``sf selftest`` and the dashboard's stream endpoint: every
event must match the JSON Schema in ``factoryos/schemas/event.schema.json``,
sequences must go 1, 2, 3, ... without gaps or repeats, ``time`` must never
decrease, and all events of one log must share one ``source``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class EventProblem:
    """One finding about one event (``index`` is its 0-based position)."""

    index: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"event #{self.index}: {self.rule}: {self.message}"


@cache
def event_schema() -> dict[str, Any]:
    """The event JSON Schema shipped with the package."""
    text = resources.files("factoryos.schemas").joinpath("event.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_events(events: Iterable[dict[str, Any]], *, start: int = 1) -> list[EventProblem]:
    """Every problem found in a sequence of raw event objects (empty when valid).

    ``start`` is the sequence the first event must carry (1 for a whole log,
    ``after + 1`` for a resumed stream).
    """
    import jsonschema  # deferred: costs ~0.1 s, and only validators need it

    validator_cls = jsonschema.validators.validator_for(event_schema())
    validator = validator_cls(event_schema(), format_checker=validator_cls.FORMAT_CHECKER)
    problems: list[EventProblem] = []
    expected = start
    last_time: datetime | None = None
    source: str | None = None
    for index, event in enumerate(events):
        for error in validator.iter_errors(event):
            where = "/".join(str(p) for p in error.absolute_path) or "(event)"
            problems.append(EventProblem(index, "schema", f"{where}: {error.message}"))
        seq = event.get("sequence")
        if isinstance(seq, int):
            if seq != expected:
                problems.append(
                    EventProblem(index, "sequence", f"expected sequence {expected}, got {seq}")
                )
            expected = seq + 1
        when = _parse_time(event.get("time"))
        if when is not None:
            if last_time is not None and when < last_time:
                problems.append(
                    EventProblem(
                        index,
                        "time",
                        f"time {when.isoformat()} is before the previous {last_time.isoformat()}",
                    )
                )
            last_time = when if last_time is None else max(last_time, when)
        src = event.get("source")
        if isinstance(src, str):
            if source is None:
                source = src
            elif src != source:
                problems.append(
                    EventProblem(index, "source", f"source {src!r} differs from {source!r}")
                )
    return problems


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
