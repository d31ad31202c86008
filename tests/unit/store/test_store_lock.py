"""Another process holding the store's write lock: readers go on, writers say who holds it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.errors import WorkspaceError
from factoryos.models import Product, parse_as
from factoryos.store import LocalStore, sqlite


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store with one product, its write lock held by another connection."""
    monkeypatch.setattr(sqlite, "BUSY_SECONDS", 0.2)
    path = tmp_path / "factoryos.db"
    store = LocalStore(path)
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/r"}}}))
    store.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield path
    holder.execute("ROLLBACK")
    holder.close()


def test_a_held_write_lock_does_not_stop_readers(locked: Path) -> None:
    store = LocalStore(locked)
    assert [p.metadata.name for p in store.list(Product)] == ["p"]
    store.close()


def test_a_write_that_waited_too_long_says_the_store_is_busy(locked: Path) -> None:
    store = LocalStore(locked)
    product = parse_as(Product, {"metadata": {"name": "q"}, "spec": {"repo": {"path": "/r"}}})
    with pytest.raises(WorkspaceError, match="is busy: another process has held its write lock"):
        store.create(product)
    store.close()
