"""``LocalStore``: the ``ResourceStore`` of the embedded mode, one SQLite file.

The file lives in ``$FACTORYOS_HOME`` and is shared by every local process:
``sf up`` (the controller, the only status writer) and each ``sf`` command.
SQLite's write-ahead log lets readers proceed while one writer commits; every
write runs in a ``BEGIN IMMEDIATE`` transaction that takes the next store
version, stores the object with that ``resourceVersion`` and appends the
change to a journal. ``watch`` reads that journal, so a watcher in another
process sees every change, in order, with nothing skipped. The journal keeps
the last ``JOURNAL_KEEP`` changes; a watcher further behind gets
``ExpiredError`` and lists again (as with a Kubernetes watch's 410 Gone).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from factoryos.errors import (
    ConflictError,
    ExpiredError,
    InvalidInputError,
    NotFoundError,
    WorkspaceError,
)
from factoryos.models import Product, Run, dump_resource, parse_as
from factoryos.store.port import ApplyResult, R, WatchEvent, WatchEventType

#: Journal entries kept for watchers.
JOURNAL_KEEP = 10_000
#: How often ``watch`` looks for new changes while it waits.
WATCH_POLL_SECONDS = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  version INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS journal (
  version INTEGER PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (
  id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL
);
INSERT OR IGNORE INTO counter (id, version) VALUES (1, 0);
"""


#: How long a write waits for another process's write lock before it gives up.
BUSY_SECONDS = 30.0


class LocalStore:
    """Products and Runs in one SQLite database (WAL), safe for several processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
            if not self._initialised():  # a write: skipped when there is nothing to do, so
                self._db.executescript(_SCHEMA)  # a held write lock does not stop readers
        except sqlite3.Error as exc:
            raise self._failure(exc, "cannot open the resource store") from exc
        except OSError as exc:
            raise WorkspaceError(f"cannot open the resource store {path}: {exc}") from exc

    def _initialised(self) -> bool:
        try:
            return self._db.execute("SELECT 1 FROM counter WHERE id = 1").fetchone() is not None
        except sqlite3.OperationalError:  # no such table yet
            return False

    def _failure(self, exc: sqlite3.Error, what: str = "resource store") -> WorkspaceError:
        """The store's error in words: a lock held too long says who to look for."""
        if "locked" in str(exc):
            return WorkspaceError(
                f"the resource store {self.path} is busy: another process has held its write "
                f"lock for {BUSY_SECONDS:g}s ({exc}); try again once it lets go"
            )
        return WorkspaceError(f"{what} {self.path}: {exc}")

    def close(self) -> None:
        self._db.close()

    # -- reads -------------------------------------------------------------

    def get(self, kind: type[R], name: str, namespace: str = "default") -> R:
        row = self._query_one(
            "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (_kind(kind), namespace, name),
        )
        if row is None:
            raise NotFoundError(f"{_kind(kind).lower()} {name!r} not found")
        return _load(kind, row[0])

    def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> builtins.list[R]:
        if namespace is None:
            rows = self._query(
                "SELECT body FROM objects WHERE kind = ? ORDER BY namespace, name", (_kind(kind),)
            )
        else:
            rows = self._query(
                "SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY name",
                (_kind(kind), namespace),
            )
        found = [_load(kind, body) for (body,) in rows]
        wanted = labels or {}
        return [r for r in found if all(r.metadata.labels.get(k) == v for k, v in wanted.items())]

    def version(self) -> int:
        return int(self._scalar("SELECT version FROM counter WHERE id = 1", ()) or 0)

    def watch(self, since: int, timeout: float) -> builtins.list[WatchEvent]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self._query(
                "SELECT version, type, kind, body FROM journal WHERE version > ? "
                "ORDER BY version LIMIT 1000",
                (since,),
            )
            if rows:
                if rows[0][0] != since + 1:
                    self._check_not_expired(since)
                return [
                    WatchEvent(WatchEventType(t), _load_any(k, body), int(v))
                    for v, t, k, body in rows
                ]
            self._check_not_expired(since)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(WATCH_POLL_SECONDS, remaining))

    def _check_not_expired(self, since: int) -> None:
        oldest = self._scalar("SELECT MIN(version) FROM journal", ())
        if oldest is not None and since < oldest - 1:
            raise ExpiredError(
                f"watch from version {since} is too old (oldest kept: {oldest}); list again"
            )

    # -- writes ------------------------------------------------------------

    def create(self, resource: R) -> R:
        kind = type(resource)
        with self._write() as db:
            if self._stored(db, kind, resource) is not None:
                raise ConflictError(
                    f"{_kind(kind).lower()} {resource.metadata.name!r} already exists"
                )
            new = resource.model_copy(deep=True)
            new.status = type(new.status)()  # status is written only by update_status
            meta = new.metadata
            meta.uid = str(uuid.uuid4())
            meta.generation = 1
            meta.creation_timestamp = _now()
            meta.deletion_timestamp = None
            return self._put(db, new, WatchEventType.ADDED)

    def apply(self, resource: R) -> tuple[R, ApplyResult]:
        kind = type(resource)
        with self._write() as db:
            stored = self._stored(db, kind, resource)
            if stored is None:
                return self.create(resource), ApplyResult.CREATED
            if stored.metadata.deletion_timestamp is not None:
                raise ConflictError(
                    f"{_kind(kind).lower()} {resource.metadata.name!r} is being deleted"
                )
            new = stored.model_copy(deep=True)
            new.spec = resource.spec.model_copy(deep=True)
            new.metadata.labels = dict(resource.metadata.labels)
            new.metadata.annotations = dict(resource.metadata.annotations)
            if _same(new, stored):
                return stored, ApplyResult.UNCHANGED
            self._bump_generation(new, stored)
            return self._put(db, new, WatchEventType.MODIFIED), ApplyResult.CONFIGURED

    def update(self, resource: R) -> R:
        kind = type(resource)
        with self._write() as db:
            stored = self._current(db, kind, resource)
            new = stored.model_copy(deep=True)
            new.spec = resource.spec.model_copy(deep=True)
            meta, given = new.metadata, resource.metadata
            meta.labels = dict(given.labels)
            meta.annotations = dict(given.annotations)
            added = set(given.finalizers) - set(stored.metadata.finalizers)
            if meta.deletion_timestamp is not None and added:
                raise ConflictError(
                    f"{_kind(kind).lower()} {given.name!r} is being deleted: "
                    "no new finalizers can be added"
                )
            meta.finalizers = list(given.finalizers)
            meta.owner_references = [o.model_copy() for o in given.owner_references]
            if meta.deletion_timestamp is not None and not meta.finalizers:
                self._remove(db, stored)
                return new
            if _same(new, stored):
                return stored
            self._bump_generation(new, stored)
            return self._put(db, new, WatchEventType.MODIFIED)

    def update_status(self, resource: R) -> R:
        kind = type(resource)
        with self._write() as db:
            stored = self._current(db, kind, resource)
            # Only the status changes, so only the status is compared; and ``stored`` was
            # parsed just now for this call alone, so it becomes the new version in place
            # (a deep copy of a whole Run cost more than parsing it).
            if _dumped(resource.status) == _dumped(stored.status):
                return stored
            stored.status = resource.status.model_copy(deep=True)
            return self._put(db, stored, WatchEventType.MODIFIED)

    def delete(self, kind: type[R], name: str, namespace: str = "default") -> R | None:
        with self._write() as db:
            stored = self.get(kind, name, namespace)
            if not stored.metadata.finalizers:
                self._remove(db, stored)
                return None
            if stored.metadata.deletion_timestamp is not None:
                return stored
            new = stored.model_copy(deep=True)
            new.metadata.deletion_timestamp = _now()
            return self._put(db, new, WatchEventType.MODIFIED)

    # -- helpers -----------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...]) -> builtins.list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        except UnicodeEncodeError:  # undecodable argv bytes (surrogateescape): no such name
            shown = ", ".join(repr(a) for a in args if isinstance(a, str))
            raise InvalidInputError(f"not valid UTF-8 text: {shown}") from None

    def _query_one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self._query(sql, args)
        return rows[0] if rows else None

    def _scalar(self, sql: str, args: tuple[Any, ...]) -> Any:
        row = self._query_one(sql, args)
        return row[0] if row else None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant within a thread: ``apply`` calls ``create``)."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failure(exc) from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _stored(self, db: sqlite3.Connection, kind: type[R], resource: R) -> R | None:
        meta = resource.metadata
        row = db.execute(
            "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (_kind(kind), meta.namespace, meta.name),
        ).fetchone()
        return None if row is None else _load(kind, row[0])

    def _current(self, db: sqlite3.Connection, kind: type[R], resource: R) -> R:
        """The stored resource, when ``resource`` carries its current resourceVersion."""
        stored = self._stored(db, kind, resource)
        name = f"{_kind(kind).lower()} {resource.metadata.name!r}"
        if stored is None:
            raise NotFoundError(f"{name} not found")
        given = resource.metadata.resource_version
        if given is None:
            raise ConflictError(f"{name}: an update must carry metadata.resourceVersion")
        if given != stored.metadata.resource_version:
            raise ConflictError(
                f"{name} was changed by someone else (resourceVersion {given} is stale, "
                f"now {stored.metadata.resource_version}); read it again and retry"
            )
        return stored

    @staticmethod
    def _bump_generation(new: Product | Run, stored: Product | Run) -> None:
        if new.spec.model_dump(mode="json") != stored.spec.model_dump(mode="json"):
            new.metadata.generation = (stored.metadata.generation or 0) + 1

    def _next_version(self, db: sqlite3.Connection) -> int:
        db.execute("UPDATE counter SET version = version + 1 WHERE id = 1")
        (version,) = db.execute("SELECT version FROM counter WHERE id = 1").fetchone()
        return int(version)

    def _put(self, db: sqlite3.Connection, resource: R, change: WatchEventType) -> R:
        version = self._next_version(db)
        resource.metadata.resource_version = str(version)
        body = json.dumps(dump_resource(resource), separators=(",", ":"))
        meta = resource.metadata
        db.execute(
            "INSERT OR REPLACE INTO objects (kind, namespace, name, version, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (resource.kind, meta.namespace, meta.name, version, body),
        )
        self._journal(db, version, change, resource.kind, body)
        return resource

    def _remove(self, db: sqlite3.Connection, stored: Product | Run) -> None:
        version = self._next_version(db)
        meta = stored.metadata
        db.execute(
            "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (stored.kind, meta.namespace, meta.name),
        )
        body = json.dumps(dump_resource(stored), separators=(",", ":"))
        self._journal(db, version, WatchEventType.DELETED, stored.kind, body)

    @staticmethod
    def _journal(
        db: sqlite3.Connection, version: int, change: WatchEventType, kind: str, body: str
    ) -> None:
        db.execute(
            "INSERT INTO journal (version, type, kind, body) VALUES (?, ?, ?, ?)",
            (version, change.value, kind, body),
        )
        if version % 1000 == 0:
            db.execute("DELETE FROM journal WHERE version <= ?", (version - JOURNAL_KEEP,))


def _kind(kind: type[Product] | type[Run]) -> str:
    return kind.__name__


def _load(kind: type[R], body: str) -> R:
    data: dict[str, Any] = json.loads(body)
    return parse_as(kind, data)


def _load_any(kind: str, body: str) -> Product | Run:
    if kind == "Product":
        return _load(Product, body)
    return _load(Run, body)


def _same(a: Product | Run, b: Product | Run) -> bool:
    return dump_resource(a) == dump_resource(b)


def _dumped(part: BaseModel) -> dict[str, Any]:
    """A part of a resource as ``dump_resource`` writes it."""
    return part.model_dump(mode="json", by_alias=True, exclude_none=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
