"""A run's event log merged from several streams, one per volume (the dashboard's copy).

On a cluster each workload of a run has its own volume and so its own event
log, numbered from 1 (``factoryos.workloads.exchange``). The runner of each
forwards its log as a stream named by its volume (``c0``, ``c1``, ``e1``): the
dashboard keeps a copy of each stream (``streams/<name>.ndjson``, with
``mirror_append``'s continue-the-copy rules, so resends are harmless) and
``merge_streams`` appends what is new in them to the run's log, renumbered so
the run's sequence has no gap or repeat and with times that never go back (an
event stamped before the last merged one, by another pod's clock or a late
batch, takes the last merged time).

``streams/merged.json`` records how far each stream is merged and the run's
last sequence at that moment. The run's log is written first; if the record
was not written after it (a crash between the two), the events past the
recorded sequence are matched to the streams by id and the record repaired, so
no event is merged twice or lost. Callers hold no lock: the run log's own
``flock`` serializes merges.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from factoryos.errors import InvalidInputError
from factoryos.events.envelope import Event
from factoryos.events.log import last_event, read_from
from factoryos.events.mirror import mirror_append

#: A stream's name: the volume's (``c<i>``, ``e<n>``) or another short word.
STREAM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
STREAMS_DIR = "streams"
MERGED_FILE = "merged.json"


def stream_path(events_path: Path, stream: str) -> Path:
    """Where the copy of ``stream`` of the run whose log is ``events_path`` lives."""
    if not STREAM_NAME.fullmatch(stream):
        raise InvalidInputError(f"{stream!r} is not a stream name (like c0 or e1)")
    return events_path.parent / STREAMS_DIR / f"{stream}.ndjson"


def stream_append(events_path: Path, stream: str, run: str, lines: list[bytes]) -> int:
    """Add ``lines`` to the copy of ``stream`` and merge it into the run's log; returns the
    stream's last sequence (what its sender continues from)."""
    last = mirror_append(stream_path(events_path, stream), run, lines)
    merge_streams(events_path)
    return last


def stream_position(events_path: Path, stream: str) -> int:
    """The last sequence of the copy of ``stream`` (0 when there is none)."""
    path = stream_path(events_path, stream)
    try:
        with path.open("rb") as fh:
            tail = last_event(fh)
    except FileNotFoundError:
        return 0
    return tail.sequence if tail else 0


@dataclass
class _Merged:
    """How far each stream is merged (byte offset and count), and the run's last sequence."""

    through: int = 0
    offsets: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> _Merged:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        return cls(int(raw["through"]), {str(k): int(v) for k, v in raw["offsets"].items()})

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"through": self.through, "offsets": self.offsets}))
        temporary.replace(path)


def merge_streams(events_path: Path) -> int:
    """Append every stream's unmerged events to the run's log (see the module docstring);
    returns the run's last sequence."""
    folder = events_path.parent / STREAMS_DIR
    record = folder / MERGED_FILE
    events_path.parent.mkdir(parents=True, exist_ok=True)
    with events_path.open("a+b") as log:
        fcntl.flock(log.fileno(), fcntl.LOCK_EX)
        try:
            merged = _Merged.load(record)
            tail = last_event(log)
            last, last_time = (tail.sequence, tail.time) if tail else (0, None)
            streams = sorted(p.stem for p in folder.glob("*.ndjson"))
            if last > merged.through:
                _repair(merged, events_path, folder, streams)
            fresh: list[Event] = []
            for stream in streams:
                events, offset = read_from(
                    folder / f"{stream}.ndjson", merged.offsets.get(stream, 0)
                )
                for event in events:
                    last += 1
                    time = event.time if last_time is None else max(event.time, last_time)
                    last_time = time
                    fresh.append(event.model_copy(update={"sequence": last, "time": time}))
                merged.offsets[stream] = offset
            if fresh:
                log.seek(0, os.SEEK_END)
                log.write(b"".join(e.to_json_line().encode() + b"\n" for e in fresh))
                log.flush()
                os.fsync(log.fileno())
            merged.through = last
            if fresh or not record.exists():
                merged.save(record)
            return last
        finally:
            fcntl.flock(log.fileno(), fcntl.LOCK_UN)


def _repair(merged: _Merged, events_path: Path, folder: Path, streams: list[str]) -> None:
    """The run's log got events the record does not count (a crash before the record was
    written): move each stream's offset past its events already in the log, by id."""
    logged, _ = read_from(events_path, 0)
    in_log = {e.id for e in logged if e.sequence > merged.through}
    for stream in streams:
        offset = merged.offsets.get(stream, 0)
        with (folder / f"{stream}.ndjson").open("rb") as fh:
            fh.seek(offset)
            for line in fh:
                if not line.endswith(b"\n") or Event.model_validate_json(line).id not in in_log:
                    break
                offset += len(line)
        merged.offsets[stream] = offset
