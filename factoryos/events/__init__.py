"""Run events: the CloudEvents envelope, the append-only event log and its validator.

The runner (and ``sf pipeline run``) append events; the controller, the
dashboard streams and ``sf selftest`` read and validate them.
"""

from factoryos.events.envelope import Event, EventType, make_event, run_source
from factoryos.events.log import EventLog, read_events, read_from
from factoryos.events.mirror import SequenceGapError, last_sequence, mirror_append, run_token
from factoryos.events.validate import EventProblem, validate_events

__all__ = [
    "Event",
    "EventLog",
    "EventProblem",
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
