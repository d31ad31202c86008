"""The append-only event log of one run (``events.ndjson``).

``EventLog`` is used by whoever produces a run's events (the runner, ``sf
pipeline run``). It assigns ``sequence`` (+1, no gaps) and keeps ``time``
from going backwards, even across processes: every append takes an exclusive
``flock`` on the file, re-reads the tail (unless the file is as this log's own last
append left it: same inode, size and modification time) and writes one whole line, or
none (a write a full disk cut short is truncated away, and the append raises
``WorkspaceError``).
Each line is flushed to disk (``fsync``) before ``append`` returns, or, for a log opened
with ``sync_in_background`` (``sf pipeline run``'s, where 2-3 ms per event would hold up
following Kilroy), by a thread of its own soon after; ``close`` waits for that last sync.
``read_events`` is for consumers; it skips a partial last line, so a reader
racing a writer never sees half an event, and any line that is not an event (a
damaged file must not take the dashboard down with it). ``read_from`` raises a
``WorkspaceError`` for such a line unless told to skip it (the controller
reports each one). ``bad_line`` says in one line what is wrong with a line.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factoryos.errors import WorkspaceError
from factoryos.events import record as records
from factoryos.events.eventtype import EventType
from factoryos.events.record import EventRecord

if TYPE_CHECKING:
    from factoryos.events.envelope import Event

_TAIL_BYTES = 64 * 1024


class EventLog:
    """Appends events for one run source to one NDJSON file."""

    def __init__(self, path: Path, source: str, *, sync_in_background: bool = False) -> None:
        self.path = path
        self.source = source
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create event log {path}: {exc.strerror}") from exc
        #: Syncs appended lines off the caller's thread (None: each append syncs its line).
        self._syncer = _Syncer(path) if sync_in_background else None
        #: The file as this log's last append left it, and that event: the next append
        #: needs no re-read while nobody else has written (84 re-reads in a 10-node run).
        self._appended: tuple[tuple[int, int, int], EventRecord] | None = None

    def close(self) -> None:
        """Sync what was appended and stop the background sync (a no-op without one);
        ``WorkspaceError`` if a sync failed."""
        if self._syncer is not None:
            syncer, self._syncer = self._syncer, None
            syncer.close()

    def append(
        self,
        type: EventType | str,
        data: dict[str, Any] | None = None,
        *,
        subject: str | None = None,
        time: datetime | None = None,
    ) -> Event:
        """Append one event and return it with its assigned sequence and time."""
        from factoryos.events.envelope import Event

        return Event(**self.append_record(type, data, subject=subject, time=time).fields())

    def append_record(
        self,
        type: EventType | str,
        data: dict[str, Any] | None = None,
        *,
        subject: str | None = None,
        time: datetime | None = None,
    ) -> EventRecord:
        """``append``, returning the event as plain data: pydantic is not imported for an
        event whose line ``factoryos.events.record`` writes as the model would."""
        if self._syncer is not None:
            self._syncer.check()
        # Unbuffered: a write that fails (a full disk) must leave nothing for a close to flush.
        with self.path.open("a+b", buffering=0) as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                appended = self._appended
                if appended is not None and appended[0] == _file_state(fh.fileno()):
                    last: EventRecord | None = appended[1]
                else:
                    last = last_record(fh)
                sequence = last.sequence + 1 if last else 1
                now = time or datetime.now(UTC)
                if last and now < last.time:
                    now = last.time
                event = EventRecord(
                    id=records.new_id(),
                    source=self.source,
                    type=str(type),
                    time=now,
                    sequence=sequence,
                    subject=subject,
                    data=data or {},
                )
                text = records.line(event)
                if text is None:  # the model writes it (or refuses it, as it always did)
                    from factoryos.events.envelope import Event

                    model = Event(**event.fields())
                    text = model.to_json_line()
                    event = event._replace(time=model.time, data=model.data)
                line = text.encode() + b"\n"
                self._appended = None
                _append_line(fh.fileno(), line, self.path, sync=self._syncer is None)
                self._appended = (_file_state(fh.fileno()), event)
                if self._syncer is not None:
                    self._syncer.request()
                return event
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def last_sequence(self) -> int:
        """The sequence of the last complete event (0 when the log is empty)."""
        with self.path.open("rb") as fh:
            last = last_event(fh)
        return last.sequence if last else 0


class _Syncer:
    """A thread that ``fsync``s one file whenever asked, until closed; a failure is kept
    for the next ``check`` (the owner's next append) or ``close``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._wanted = threading.Event()
        self._closing = False
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="event-log-sync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def check(self) -> None:
        if self._error is not None:
            raise WorkspaceError(
                f"cannot sync the event log {self._path}: {self._error.strerror}"
            ) from self._error

    def close(self) -> None:
        self._closing = True
        self._wanted.set()
        self._thread.join()
        try:
            self._sync()
        finally:
            os.close(self._fd)
        self.check()

    def _run(self) -> None:
        while not self._closing:
            self._wanted.wait()
            self._wanted.clear()
            self._sync()

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._error = self._error or exc


def _append_line(fd: int, line: bytes, path: Path, *, sync: bool = True) -> None:
    """Write one whole line at the end of the file, or nothing: a write cut short (the disk
    is full) is cut off again, so the next append does not continue half an event."""
    end = os.lseek(fd, 0, os.SEEK_END)
    written = 0
    try:
        while written < len(line):
            written += os.write(fd, line[written:])
    except OSError as exc:
        os.ftruncate(fd, end)  # we hold the lock: nobody else wrote after ``end``
        raise WorkspaceError(f"cannot append to the event log {path}: {exc.strerror}") from exc
    if not sync:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # the line is whole and readers may have seen it: keep it
        raise WorkspaceError(f"cannot sync the event log {path}: {exc.strerror}") from exc


def last_event(fh: Any) -> Event | None:
    """The last complete event in an open binary file, reading only its tail."""
    from factoryos.events.envelope import Event

    for raw in _tail_lines(fh):
        try:
            return Event.model_validate_json(raw)
        except ValueError:
            continue  # a damaged line: the last good event before it counts
    return None


def last_record(fh: Any) -> EventRecord | None:
    """``last_event`` as plain data: a line as ``EventLog`` writes it is read without the
    model, any other line by the model, as ``last_event`` reads it."""
    for raw in _tail_lines(fh):
        found = records.parse(raw)
        if found is not None:
            return found
        from factoryos.events.envelope import Event

        try:
            event = Event.model_validate_json(raw)
        except ValueError:
            continue  # a damaged line: the last good event before it counts
        return EventRecord(
            id=event.id,
            source=event.source,
            type=event.type,
            time=event.time,
            sequence=event.sequence,
            subject=event.subject,
            data=event.data,
        )
    return None


def _file_state(fd: int) -> tuple[int, int, int]:
    """What changes when anyone writes the file: its inode, size and modification time."""
    st = os.fstat(fd)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _tail_lines(fh: Any) -> Iterator[bytes]:
    """The complete non-blank lines of the file's tail, last first."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - _TAIL_BYTES))
    lines = fh.read().split(b"\n")
    # lines[-1] is b"" after a complete line, or a partial line being written.
    for raw in reversed(lines[:-1]):
        if raw.strip():
            yield raw


def bad_line(exc: ValueError) -> str:
    """What is wrong with a line that is not an event, in one line."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        # A field's name is the line's own (an extra key may be "\n"): quoted unless plain.
        where = ".".join(_field_name(p) for p in first["loc"]) or "the line"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        return " ".join(f"{where}: {first['msg']}{more}".split())
    return " ".join(str(exc).split())


def _field_name(part: object) -> str:
    text = str(part)
    return text if isinstance(part, int) or text.isidentifier() else json.dumps(text)


def iter_lines(path: Path, after: int = 0) -> Iterator[dict[str, Any]]:
    """Complete JSON objects of an NDJSON file whose ``sequence`` is above ``after``.

    A partial last line (a writer mid-append) is skipped, not an error.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        sequence = obj.get("sequence") if isinstance(obj, dict) else None
        if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence > after:
            yield obj


def read_lines(path: Path, offset: int) -> tuple[list[bytes], int]:
    """The complete non-empty lines after byte ``offset``, and the offset to read from next.

    A partial last line (a writer mid-append) is left for the next call.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return [raw for raw in data[:end].split(b"\n") if raw.strip()], offset + end


def read_from(
    path: Path, offset: int, on_bad: Callable[[bytes, Exception], None] | None = None
) -> tuple[list[Event], int]:
    """The complete events after byte ``offset``, and the offset to read from next time.

    A follower (the controller folding stages, ``sf run logs -f``) keeps the
    offset and reads only what was appended; a partial last line is left for
    the next call. A line that is not a valid event raises, unless ``on_bad``
    is given: then it is reported to it and skipped.
    """
    from factoryos.events.envelope import Event

    lines, next_offset = read_lines(path, offset)
    events = []
    for raw in lines:
        try:
            events.append(Event.model_validate_json(raw))
        except ValueError as exc:
            if on_bad is None:
                raise WorkspaceError(f"{path}: a line is not an event: {bad_line(exc)}") from None
            on_bad(raw, exc)
    return events, next_offset


def read_events(path: Path, after: int = 0) -> list[Event]:
    """The complete events of a log with ``sequence > after``, in file order."""
    from factoryos.events.envelope import Event

    events = []
    for obj in iter_lines(path, after):
        try:
            events.append(Event.model_validate(obj))
        except ValueError:
            continue
    return events
