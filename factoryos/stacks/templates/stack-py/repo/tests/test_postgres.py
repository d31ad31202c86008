"""The store and the migrations against a real Postgres (``scripts/check integration``)."""

import os

import pytest

from app.migrate import migrate, migration_files
from app.store import PostgresStore

pytestmark = pytest.mark.postgres

DSN = os.environ.get("DATABASE_URL", "")


@pytest.fixture
def store() -> PostgresStore:
    if not DSN:
        pytest.skip("DATABASE_URL is not set (scripts/check integration starts a scratch Postgres)")
    migrate(DSN)
    return PostgresStore(DSN)


def test_migrations_are_idempotent(store: PostgresStore) -> None:
    assert migrate(store.dsn) == []
    assert migration_files()


def test_add_and_toggle_round_trip(store: PostgresStore) -> None:
    task = store.add("water the plants")
    assert store.toggle(task.id).done is True
    assert task.id in [t.id for t in store.list()]
