"""Run events: the CloudEvents envelope, the append-only event log and its validator.

The runner (and ``sf pipeline run``) append events; the controller, the
dashboard streams and ``sf selftest`` read and validate them.

Each name is imported on first use (``factoryos.imports``): ``EventType`` alone
does not build the envelope's pydantic model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.events.envelope import Event, make_event
    from factoryos.events.eventtype import EventType
    from factoryos.events.log import EventLog, read_events, read_from
    from factoryos.events.mirror import SequenceGapError, last_sequence, mirror_append, run_token
    from factoryos.events.record import EventRecord, run_source
    from factoryos.events.validate import EventProblem, validate_events

__all__ = [
    "Event",
    "EventLog",
    "EventProblem",
    "EventRecord",
    "EventType",
    "SequenceGapError",
    "last_sequence",
    "make_event",
    "mirror_append",
    "read_events",
    "read_from",
    "run_source",
    "run_token",
    "validate_events",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "Event": "factoryos.events.envelope",
        "EventLog": "factoryos.events.log",
        "EventProblem": "factoryos.events.validate",
        "EventRecord": "factoryos.events.record",
        "EventType": "factoryos.events.eventtype",
        "SequenceGapError": "factoryos.events.mirror",
        "last_sequence": "factoryos.events.mirror",
        "make_event": "factoryos.events.envelope",
        "mirror_append": "factoryos.events.mirror",
        "read_events": "factoryos.events.log",
        "read_from": "factoryos.events.log",
        "run_source": "factoryos.events.record",
        "run_token": "factoryos.events.mirror",
        "validate_events": "factoryos.events.validate",
    },
)
