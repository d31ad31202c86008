"""``LocalStore`` keeps the ``ResourceStore`` contract: versions, generations, finalizers, watch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.errors import ConflictError, ExpiredError, NotFoundError
from factoryos.models import Product, Run, RunPhase, parse_as
from factoryos.store import ApplyResult, LocalStore, WatchEventType, modify
from factoryos.store import local as local_module


def product(name: str = "p", **spec: object) -> Product:
    return parse_as(
        Product, {"metadata": {"name": name}, "spec": {"repo": {"path": "/srv/p"}, **spec}}
    )


def run(name: str = "r", product: str = "p") -> Run:
    return parse_as(
        Run, {"metadata": {"name": name}, "spec": {"productRef": {"name": product}, "goal": "g"}}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def other(tmp_path: Path, store: LocalStore) -> Iterator[LocalStore]:
    """A second connection to the same file, as another process would have."""
    s = LocalStore(tmp_path / "store.db")
    yield s
    s.close()


class TestCreateAndRead:
    def test_create_sets_identity_and_versions(self, store: LocalStore) -> None:
        created = store.create(product())
        meta = created.metadata
        assert meta.uid and meta.creation_timestamp is not None
        assert meta.generation == 1
        assert meta.resource_version == str(store.version())
        assert store.get(Product, "p") == created

    def test_a_taken_name_is_refused_and_nothing_changes(self, store: LocalStore) -> None:
        store.create(product())
        before = store.version()
        with pytest.raises(ConflictError, match="already exists"):
            store.create(product())
        assert store.version() == before

    def test_missing_is_not_found(self, store: LocalStore) -> None:
        with pytest.raises(NotFoundError, match="run 'ghost' not found"):
            store.get(Run, "ghost")

    def test_list_by_namespace_and_labels(self, store: LocalStore) -> None:
        store.create(run("a"))
        labelled = run("b")
        labelled.metadata.labels = {"team": "x"}
        store.create(labelled)
        elsewhere = run("c")
        elsewhere.metadata.namespace = "other"
        store.create(elsewhere)
        assert [r.metadata.name for r in store.list(Run, "default")] == ["a", "b"]
        assert [r.metadata.name for r in store.list(Run)] == ["a", "b", "c"]
        assert [r.metadata.name for r in store.list(Run, labels={"team": "x"})] == ["b"]


class TestOptimisticConcurrency:
    def test_a_stale_update_is_refused(self, store: LocalStore, other: LocalStore) -> None:
        store.create(product())
        mine, theirs = store.get(Product, "p"), other.get(Product, "p")
        theirs.spec.concurrency = 2
        other.update(theirs)
        mine.spec.concurrency = 3
        with pytest.raises(ConflictError, match="stale"):
            store.update(mine)
        assert store.get(Product, "p").spec.concurrency == 2

    def test_an_update_without_a_version_is_refused(self, store: LocalStore) -> None:
        store.create(product())
        with pytest.raises(ConflictError, match="resourceVersion"):
            store.update(product())

    def test_a_stale_status_write_is_refused(self, store: LocalStore) -> None:
        stale = store.create(run())
        fresh = store.get(Run, "r")
        fresh.spec.goal = "changed meanwhile"
        store.update(fresh)
        stale.status.phase = RunPhase.BUILDING
        with pytest.raises(ConflictError, match="stale"):
            store.update_status(stale)
        assert store.get(Run, "r").status.phase is None

    def test_modify_retries_after_losing_a_race(self, store: LocalStore, other: LocalStore) -> None:
        store.create(product())
        calls = []

        def change(p: Product) -> None:
            calls.append(p.metadata.resource_version)
            if len(calls) == 1:  # someone else writes between our read and our write
                theirs = other.get(Product, "p")
                theirs.metadata.labels["by"] = "them"
                other.update(theirs)
            p.spec.concurrency = 4

        result = modify(store, Product, "p", "default", change)
        assert len(calls) == 2
        assert result.spec.concurrency == 4 and result.metadata.labels == {"by": "them"}


class TestGenerationAndStatus:
    def test_spec_changes_bump_generation_and_metadata_changes_do_not(
        self, store: LocalStore
    ) -> None:
        p = store.create(product())
        p.metadata.labels["x"] = "1"
        p = store.update(p)
        assert p.metadata.generation == 1
        p.spec.concurrency = 5
        p = store.update(p)
        assert p.metadata.generation == 2

    def test_update_never_writes_status(self, store: LocalStore) -> None:
        r = store.create(run())
        r.status.phase = RunPhase.BUILDING
        r.spec.goal = "other"
        r = store.update(r)
        assert r.status.phase is None and r.spec.goal == "other"

    def test_update_status_writes_only_status(self, store: LocalStore) -> None:
        r = store.create(run())
        r.status.phase = RunPhase.BUILDING
        r.spec.goal = "ignored"
        r = store.update_status(r)
        assert r.status.phase is RunPhase.BUILDING
        assert r.spec.goal == "g" and r.metadata.generation == 1

    def test_writing_the_same_content_does_not_move_the_version(self, store: LocalStore) -> None:
        r = store.create(run())
        again = store.update_status(r)
        assert again.metadata.resource_version == r.metadata.resource_version
        assert store.update(again).metadata.resource_version == r.metadata.resource_version


class TestApply:
    def test_created_unchanged_configured(self, store: LocalStore) -> None:
        first, what = store.apply(product())
        assert what is ApplyResult.CREATED
        assert store.apply(product())[1] is ApplyResult.UNCHANGED
        changed, what = store.apply(product(concurrency=2))
        assert what is ApplyResult.CONFIGURED
        assert changed.metadata.generation == 2 and changed.metadata.uid == first.metadata.uid

    def test_apply_keeps_status_and_finalizers(self, store: LocalStore) -> None:
        p = store.create(product())
        p.metadata.finalizers = ["factoryos.dev/cleanup"]
        p = store.update(p)
        p.status.last_run = "r1"
        store.update_status(p)
        applied, _ = store.apply(product(concurrency=3))
        assert applied.status.last_run == "r1"
        assert applied.metadata.finalizers == ["factoryos.dev/cleanup"]


class TestDeletion:
    def test_without_finalizers_it_goes_at_once(self, store: LocalStore) -> None:
        store.create(run())
        since = store.version()
        assert store.delete(Run, "r") is None
        with pytest.raises(NotFoundError):
            store.get(Run, "r")
        (event,) = store.watch(since, timeout=0)
        assert event.type is WatchEventType.DELETED and event.resource.metadata.name == "r"

    def test_finalizers_hold_it_until_the_last_is_removed(self, store: LocalStore) -> None:
        r = store.create(run())
        r.metadata.finalizers = ["a", "b"]
        store.update(r)
        marked = store.delete(Run, "r")
        assert marked is not None and marked.metadata.deletion_timestamp is not None
        with pytest.raises(ConflictError, match="being deleted"):
            store.apply(run())
        marked.metadata.finalizers = ["b"]
        still = store.update(marked)
        assert store.get(Run, "r").metadata.deletion_timestamp is not None
        still.metadata.finalizers = []
        store.update(still)
        with pytest.raises(NotFoundError):
            store.get(Run, "r")


class TestWatch:
    def test_changes_arrive_in_order_across_connections(
        self, store: LocalStore, other: LocalStore
    ) -> None:
        since = store.version()
        other.create(product())
        other.create(run())
        events = store.watch(since, timeout=1.0)
        assert [(e.type, e.resource.kind) for e in events] == [
            (WatchEventType.ADDED, "Product"),
            (WatchEventType.ADDED, "Run"),
        ]
        assert [e.version for e in events] == [since + 1, since + 2]

    def test_nothing_new_returns_empty_after_the_timeout(self, store: LocalStore) -> None:
        assert store.watch(store.version(), timeout=0.05) == []

    def test_a_watch_older_than_the_journal_has_expired(
        self, store: LocalStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(local_module, "JOURNAL_KEEP", 10)
        r = store.create(run())
        for i in range(1000):  # pruning happens every 1000 versions
            r.metadata.labels["i"] = str(i)
            r = store.update(r)
        with pytest.raises(ExpiredError, match="list again"):
            store.watch(1, timeout=0)
        assert store.watch(store.version() - 5, timeout=0)
