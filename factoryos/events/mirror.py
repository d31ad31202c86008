"""A run's event log copied to the factory server, and the per-run token that allows it.

On a cluster a run's log is written on the run's volume, which the dashboard
cannot mount; the runner sends its events to the dashboard (``EventForwarder``
in ``factoryos.runner.forward``), which keeps a copy with ``mirror_append``.
The copy takes only the events that continue it (sequence = last + 1); ones it
already has are skipped, so a resend after a lost reply is harmless, and a
gap is refused with the sequence it expects, so the sender can go back.
A runner may write only its own run's copy: ``run_token`` is an HMAC of the
run's namespace and name under a key only the operator and the dashboard hold.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
from pathlib import Path

from factoryos.errors import ConflictError, InvalidInputError
from factoryos.events.envelope import Event
from factoryos.events.log import bad_line, last_event


class SequenceGapError(ConflictError):
    """The batch does not continue the copy; ``expected`` is the next sequence it takes."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the copy continues at sequence {expected}")
        self.expected = expected


def run_token(key: str, namespace: str, run: str) -> str:
    """The token that lets the runner of ``namespace/run`` (and no other) send its events."""
    message = f"factoryos-events:{namespace}/{run}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def last_sequence(path: Path) -> int:
    """The last sequence in the copy (0 when there is none yet)."""
    try:
        with path.open("rb") as fh:
            last = last_event(fh)
    except FileNotFoundError:
        return 0
    return last.sequence if last else 0


def mirror_append(path: Path, run: str, lines: list[bytes]) -> int:
    """Append the events of ``lines`` that continue the copy; returns its last sequence.

    Every line must be an event of run ``run`` (``InvalidInputError`` otherwise,
    and nothing of the batch is written).
    """
    events = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            event = Event.model_validate_json(raw)
        except ValueError as exc:
            raise InvalidInputError(f"line {number} is not an event: {bad_line(exc)}") from None
        if event.source.rsplit("/", 1)[-1] != run:
            raise InvalidInputError(f"line {number} is an event of another run ({event.source})")
        events.append((event.sequence, raw.strip()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            tail = last_event(fh)
            last = tail.sequence if tail else 0
            fresh = [(seq, raw) for seq, raw in events if seq > last]
            if fresh and fresh[0][0] != last + 1:
                raise SequenceGapError(last + 1)
            for expected, (seq, _raw) in enumerate(fresh, last + 1):
                if seq != expected:
                    raise InvalidInputError(f"the batch skips from {expected - 1} to {seq}")
            if fresh:
                fh.seek(0, os.SEEK_END)
                fh.write(b"".join(raw + b"\n" for _, raw in fresh))
                fh.flush()
                os.fsync(fh.fileno())
                last = fresh[-1][0]
            return last
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
