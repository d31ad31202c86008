"""Where tasks are kept: Postgres in production, memory in unit tests.

``open_store`` picks Postgres when ``DATABASE_URL`` is set (on Fly.io,
``fly postgres attach`` sets it; a Supabase connection string works the
same), memory otherwise. The schema comes from ``migrations/`` (app.migrate).
"""

from __future__ import annotations

import os
from typing import Protocol

import psycopg
from psycopg.rows import dict_row

from app.tasks import Task


class TaskNotFoundError(LookupError):
    """No task with that id."""


class TaskStore(Protocol):
    kind: str

    def list(self) -> list[Task]: ...

    def add(self, text: str) -> Task: ...

    def toggle(self, task_id: int) -> Task: ...


class MemoryStore:
    """Tasks in a dict; for tests and for running without a database."""

    kind = "memory"

    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}

    def list(self) -> list[Task]:
        return [self._tasks[k] for k in sorted(self._tasks)]

    def add(self, text: str) -> Task:
        task = Task(id=len(self._tasks) + 1, text=text, done=False)
        self._tasks[task.id] = task
        return task

    def toggle(self, task_id: int) -> Task:
        if task_id not in self._tasks:
            raise TaskNotFoundError(task_id)
        task = self._tasks[task_id].model_copy(update={"done": not self._tasks[task_id].done})
        self._tasks[task_id] = task
        return task


class PostgresStore:
    """Tasks in the ``tasks`` table (migrations/0001_create_tasks.sql)."""

    kind = "postgres"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _connect(self) -> psycopg.Connection[dict[str, object]]:
        return psycopg.connect(self.dsn, row_factory=dict_row)

    def list(self) -> list[Task]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id, text, done FROM tasks ORDER BY id").fetchall()
        return [Task.model_validate(row) for row in rows]

    def add(self, text: str) -> Task:
        with self._connect() as conn:
            row = conn.execute(
                "INSERT INTO tasks (text) VALUES (%s) RETURNING id, text, done", (text,)
            ).fetchone()
        return Task.model_validate(row)

    def toggle(self, task_id: int) -> Task:
        with self._connect() as conn:
            row = conn.execute(
                "UPDATE tasks SET done = NOT done WHERE id = %s RETURNING id, text, done",
                (task_id,),
            ).fetchone()
        if row is None:
            raise TaskNotFoundError(task_id)
        return Task.model_validate(row)


def open_store() -> TaskStore:
    """Postgres when DATABASE_URL is set, else memory."""
    dsn = os.environ.get("DATABASE_URL")
    return PostgresStore(dsn) if dsn else MemoryStore()
