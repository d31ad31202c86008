"""The Factory OS event envelope (CloudEvents 1.0 JSON with an integer ``sequence``).

One model is the source of truth: ``make schemas`` writes its JSON Schema to
``factoryos/schemas/event.schema.json`` and a test fails when the two drift.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryos.events.eventtype import EventType
from factoryos.events.record import SOURCE_PATTERN, TYPE_PATTERN, run_source

TYPE_PREFIX = "dev.factoryos."

__all__ = ["TYPE_PREFIX", "Event", "EventType", "event_json_schema", "make_event", "run_source"]


class Event(BaseModel):
    """One entry of a run's event log: a CloudEvents 1.0 structured-mode JSON object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="Unique per source.")
    source: str = Field(pattern=SOURCE_PATTERN, description="/products/<product>/runs/<run>")
    type: str = Field(pattern=TYPE_PATTERN)
    time: datetime = Field(description="RFC 3339; never decreasing within a run.")
    sequence: int = Field(ge=1, description="+1 per event per run, no gaps, starting at 1.")
    subject: str | None = Field(
        default=None, description="What the event is about, e.g. a stage id."
    )
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json_line(self) -> str:
        """The NDJSON line for this event (no trailing newline)."""
        return self.model_dump_json(exclude_none=True)


def make_event(
    *,
    source: str,
    type: EventType | str,
    sequence: int,
    data: dict[str, Any] | None = None,
    subject: str | None = None,
    time: datetime | None = None,
) -> Event:
    """Build an event with a fresh id and (unless given) the current UTC time."""
    return Event(
        id=uuid.uuid4().hex,
        source=source,
        type=str(type),
        time=time or datetime.now(UTC),
        sequence=sequence,
        subject=subject,
        data=data or {},
    )


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope, as written to ``schemas/event.schema.json``."""
    schema = Event.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://factoryos.dev/schemas/event.schema.json"
    schema["title"] = "Factory OS run event (CloudEvents 1.0)"
    # The envelope always carries these on the wire (exclude_none drops only subject).
    schema["required"] = sorted(
        {"specversion", "id", "source", "type", "time", "sequence", "datacontenttype", "data"}
    )
    return schema
