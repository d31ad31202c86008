"""``LocalStore`` keeps the ``ResourceStore`` contract: versions, generations, finalizers, watch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factoryos.errors import ConflictError, ExpiredError, NotFoundError, WorkspaceError
from factoryos.models import Product, Run, RunPhase, parse_as
from factoryos.store import ApplyResult, LocalStore, WatchEventType, modify
from factoryos.store import sqlite as local_module


def product(name: str = "p", **spec: object) -> Product:
    return parse_as(
        Product, {"metadata": {"name": name}, "spec": {"repo": {"path": "/srv/p"}, **spec}}
    )


def run(
    name: str = "r",
    product: str = "p",
    *,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
) -> Run:
    return parse_as(
        Run,
        {
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"productRef": {"name": product}, "goal": "g"},
        },
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


def names(resources: list[Run] | list[Product]) -> list[str]:
    return [r.metadata.name for r in resources]


def write_many(store: LocalStore, count: int) -> None:
    """``count`` label-only updates of one run (a cheap way to move the store version)."""
    r = store.get(Run, "r")
    for i in range(count):
        r.metadata.labels["i"] = str(i)
        r = store.update(r)


class TestCreateAndRead:
    def test_create_sets_identity_and_versions(self, store: LocalStore) -> None:
        assert store.version() == 0
        before = datetime.now(UTC) - timedelta(seconds=1)
        created = store.create(product())
        meta = created.metadata
        assert meta.uid and meta.creation_timestamp is not None
        assert before <= meta.creation_timestamp <= datetime.now(UTC)
        assert meta.generation == 1
        assert meta.deletion_timestamp is None
        assert store.version() == 1
        assert meta.resource_version == str(store.version())
        assert store.get(Product, "p") == created

    def test_server_fields_sent_by_the_client_are_replaced(self, store: LocalStore) -> None:
        given = run()
        given.metadata.uid = "mine"
        given.metadata.generation = 9
        given.metadata.resource_version = "77"
        given.metadata.deletion_timestamp = datetime(2020, 1, 1, tzinfo=UTC)
        meta = store.create(given).metadata
        assert meta.uid != "mine" and meta.generation == 1
        assert meta.resource_version == "1" and meta.deletion_timestamp is None

    def test_every_resource_gets_its_own_uid(self, store: LocalStore) -> None:
        assert store.create(run("a")).metadata.uid != store.create(run("b")).metadata.uid

    def test_a_taken_name_is_refused_and_nothing_changes(self, store: LocalStore) -> None:
        store.create(product())
        before = store.version()
        with pytest.raises(ConflictError, match="already exists"):
            store.create(product(concurrency=4))
        assert store.version() == before
        assert store.get(Product, "p").spec.concurrency == 1
        # The refused write left no transaction open: the next one goes through.
        assert store.create(product("q")).metadata.resource_version == str(before + 1)

    def test_names_are_per_namespace_and_per_kind(self, store: LocalStore) -> None:
        store.create(run("x"))
        store.create(run("x", namespace="other"))
        store.create(product("x"))
        assert store.get(Run, "x", "other").metadata.namespace == "other"
        assert store.get(Product, "x").kind == "Product"

    def test_missing_is_not_found(self, store: LocalStore) -> None:
        with pytest.raises(NotFoundError, match="run 'ghost' not found"):
            store.get(Run, "ghost")
        store.create(run())
        with pytest.raises(NotFoundError):
            store.get(Run, "r", "other")
        with pytest.raises(NotFoundError, match="product 'r' not found"):
            store.get(Product, "r")

    def test_list_by_namespace_and_labels(self, store: LocalStore) -> None:
        store.create(run("b", labels={"team": "x", "tier": "1"}))
        store.create(run("a"))
        store.create(run("c", namespace="other", labels={"team": "x"}))
        store.create(product("a"))
        assert names(store.list(Run, "default")) == ["a", "b"]
        assert names(store.list(Run, "other")) == ["c"]
        assert names(store.list(Run, "empty")) == []
        assert names(store.list(Run)) == ["a", "b", "c"]
        assert names(store.list(Product)) == ["a"]
        assert names(store.list(Run, labels={"team": "x"})) == ["b", "c"]
        assert names(store.list(Run, labels={"team": "x", "tier": "1"})) == ["b"]
        assert names(store.list(Run, labels={"team": "y"})) == []
        assert names(store.list(Run, "other", labels={"team": "x"})) == ["c"]

    def test_a_second_connection_reads_what_the_first_wrote(
        self, store: LocalStore, other: LocalStore
    ) -> None:
        created = store.create(run())
        assert other.get(Run, "r") == created
        assert other.version() == store.version()

    def test_create_does_not_write_status(self, store: LocalStore) -> None:
        given = run()
        given.status.phase = RunPhase.SUCCEEDED
        given.status.message = "copied from another run"
        assert store.create(given).status.phase is None
        assert store.get(Run, "r").status.phase is None
        applied = run("applied")
        applied.status.phase = RunPhase.SUCCEEDED
        assert store.apply(applied)[0].status.phase is None
        assert store.get(Run, "applied").status.phase is None

    def test_an_unusable_path_is_a_workspace_error(self, tmp_path: Path) -> None:
        (tmp_path / "a-directory").mkdir()
        with pytest.raises(WorkspaceError, match="cannot open the resource store"):
            LocalStore(tmp_path / "a-directory")


class TestOptimisticConcurrency:
    def test_a_stale_update_is_refused(self, store: LocalStore, other: LocalStore) -> None:
        store.create(product())
        mine, theirs = store.get(Product, "p"), other.get(Product, "p")
        theirs.spec.concurrency = 2
        other.update(theirs)
        version = store.version()
        mine.spec.concurrency = 3
        with pytest.raises(ConflictError, match="stale"):
            store.update(mine)
        assert store.version() == version
        assert store.get(Product, "p").spec.concurrency == 2

    def test_an_update_without_a_version_is_refused(self, store: LocalStore) -> None:
        store.create(product())
        with pytest.raises(ConflictError, match="resourceVersion"):
            store.update(product(concurrency=2))
        assert store.get(Product, "p").spec.concurrency == 1

    def test_an_update_of_a_missing_resource_is_not_found(self, store: LocalStore) -> None:
        with pytest.raises(NotFoundError):
            store.update(product())
        with pytest.raises(NotFoundError):
            store.update_status(run())

    def test_a_stale_status_write_is_refused(self, store: LocalStore) -> None:
        stale = store.create(run())
        fresh = store.get(Run, "r")
        fresh.spec.goal = "changed meanwhile"
        store.update(fresh)
        stale.status.phase = RunPhase.BUILDING
        with pytest.raises(ConflictError, match="stale"):
            store.update_status(stale)
        assert store.get(Run, "r").status.phase is None

    def test_a_status_write_without_a_version_is_refused(self, store: LocalStore) -> None:
        store.create(run())
        given = run()
        given.status.phase = RunPhase.BUILDING
        with pytest.raises(ConflictError, match="resourceVersion"):
            store.update_status(given)

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
        assert len(calls) == 2 and calls[0] != calls[1]
        assert result.spec.concurrency == 4 and result.metadata.labels == {"by": "them"}
        assert store.get(Product, "p") == result

    def test_modify_gives_up_after_its_attempts(self, store: LocalStore, other: LocalStore) -> None:
        store.create(product())
        calls = 0

        def always_late(p: Product) -> None:
            nonlocal calls
            calls += 1
            theirs = other.get(Product, "p")
            theirs.metadata.labels["n"] = str(calls)
            other.update(theirs)
            p.spec.concurrency = 9

        with pytest.raises(ConflictError):
            modify(store, Product, "p", "default", always_late, attempts=3)
        assert calls == 3
        assert store.get(Product, "p").spec.concurrency == 1

    def test_modify_of_a_missing_resource_is_not_found(self, store: LocalStore) -> None:
        with pytest.raises(NotFoundError):
            modify(store, Run, "ghost", "default", lambda r: None)


class TestGenerationAndStatus:
    def test_spec_changes_bump_generation_and_metadata_changes_do_not(
        self, store: LocalStore
    ) -> None:
        p = store.create(product())
        p.metadata.labels["x"] = "1"
        p.metadata.annotations["note"] = "n"
        p = store.update(p)
        assert p.metadata.generation == 1 and p.metadata.labels == {"x": "1"}
        p.spec.concurrency = 5
        p = store.update(p)
        assert p.metadata.generation == 2
        p.spec.concurrency = 6
        assert store.update(p).metadata.generation == 3

    def test_each_write_takes_the_next_store_version(self, store: LocalStore) -> None:
        r = store.create(run())
        r.spec.goal = "other"
        r = store.update(r)
        assert r.metadata.resource_version == str(store.version()) == "2"
        r.status.phase = RunPhase.BUILDING
        assert store.update_status(r).metadata.resource_version == "3"

    def test_update_never_writes_status(self, store: LocalStore) -> None:
        r = store.create(run())
        r.status.phase = RunPhase.BUILDING
        r.spec.goal = "other"
        r = store.update(r)
        assert r.status.phase is None and r.spec.goal == "other"
        assert store.get(Run, "r").status.phase is None

    def test_a_status_only_update_is_not_a_write(self, store: LocalStore) -> None:
        r = store.create(run())
        r.status.phase = RunPhase.BUILDING
        assert store.update(r).metadata.resource_version == "1"
        assert store.version() == 1

    def test_update_status_writes_only_status(self, store: LocalStore) -> None:
        r = store.create(run())
        r.status.phase = RunPhase.BUILDING
        r.spec.goal = "ignored"
        r.metadata.labels["ignored"] = "yes"
        r = store.update_status(r)
        assert r.status.phase is RunPhase.BUILDING
        assert r.spec.goal == "g" and r.metadata.labels == {}
        assert r.metadata.generation == 1
        assert store.get(Run, "r") == r

    def test_update_status_never_bumps_generation(self, store: LocalStore) -> None:
        r = store.create(run())
        for phase in (RunPhase.PENDING, RunPhase.BUILDING, RunPhase.SUCCEEDED):
            r.status.phase = phase
            r = store.update_status(r)
        assert r.metadata.generation == 1 and store.version() == 4

    def test_writing_the_same_content_does_not_move_the_version(self, store: LocalStore) -> None:
        r = store.create(run())
        again = store.update_status(r)
        assert again.metadata.resource_version == r.metadata.resource_version
        assert store.update(again).metadata.resource_version == r.metadata.resource_version
        r.status.phase = RunPhase.BUILDING
        r = store.update_status(r)
        version = store.version()
        assert store.update_status(r).metadata.resource_version == str(version)
        assert store.version() == version


class TestApply:
    def test_created_unchanged_configured(self, store: LocalStore) -> None:
        first, what = store.apply(product())
        assert what is ApplyResult.CREATED and first.metadata.generation == 1
        version = store.version()
        again, what = store.apply(product())
        assert what is ApplyResult.UNCHANGED and again == first
        assert store.version() == version
        changed, what = store.apply(product(concurrency=2))
        assert what is ApplyResult.CONFIGURED
        assert changed.metadata.generation == 2 and changed.metadata.uid == first.metadata.uid
        assert changed.metadata.creation_timestamp == first.metadata.creation_timestamp

    def test_labels_alone_configure_without_a_new_generation(self, store: LocalStore) -> None:
        store.apply(run())
        applied, what = store.apply(run(labels={"team": "x"}))
        assert what is ApplyResult.CONFIGURED
        assert applied.metadata.labels == {"team": "x"} and applied.metadata.generation == 1

    def test_apply_keeps_status_and_finalizers(self, store: LocalStore) -> None:
        p = store.create(product())
        p.metadata.finalizers = ["factoryos.dev/cleanup"]
        p = store.update(p)
        p.status.last_run = "r1"
        store.update_status(p)
        applied, _ = store.apply(product(concurrency=3))
        assert applied.status.last_run == "r1"
        assert applied.metadata.finalizers == ["factoryos.dev/cleanup"]
        assert store.get(Product, "p") == applied

    def test_apply_is_seen_as_added_then_modified(self, store: LocalStore) -> None:
        store.apply(product())
        store.apply(product())
        store.apply(product(concurrency=2))
        assert [e.type for e in store.watch(0, timeout=0)] == [
            WatchEventType.ADDED,
            WatchEventType.MODIFIED,
        ]


class TestDeletion:
    def test_without_finalizers_it_goes_at_once(self, store: LocalStore) -> None:
        store.create(run())
        since = store.version()
        assert store.delete(Run, "r") is None
        with pytest.raises(NotFoundError):
            store.get(Run, "r")
        assert store.list(Run) == []
        (event,) = store.watch(since, timeout=0)
        assert event.type is WatchEventType.DELETED and event.resource.metadata.name == "r"
        assert event.version == since + 1 == store.version()

    def test_deleting_a_missing_resource_is_not_found(self, store: LocalStore) -> None:
        with pytest.raises(NotFoundError):
            store.delete(Run, "ghost")

    def test_finalizers_hold_it_until_the_last_is_removed(self, store: LocalStore) -> None:
        r = store.create(run())
        r.metadata.finalizers = ["a", "b"]
        store.update(r)
        marked = store.delete(Run, "r")
        assert marked is not None and marked.metadata.deletion_timestamp is not None
        assert store.get(Run, "r") == marked
        with pytest.raises(ConflictError, match="being deleted"):
            store.apply(run())
        marked.metadata.finalizers = ["b"]
        still = store.update(marked)
        assert store.get(Run, "r").metadata.deletion_timestamp is not None
        since = store.version()
        still.metadata.finalizers = []
        store.update(still)
        with pytest.raises(NotFoundError):
            store.get(Run, "r")
        (gone,) = store.watch(since, timeout=0)
        assert gone.type is WatchEventType.DELETED and gone.resource.metadata.name == "r"

    def test_deleting_again_while_held_writes_nothing(self, store: LocalStore) -> None:
        r = store.create(run())
        r.metadata.finalizers = ["a"]
        store.update(r)
        first = store.delete(Run, "r")
        version = store.version()
        assert store.delete(Run, "r") == first
        assert store.version() == version

    def test_the_deletion_mark_is_not_the_clients_to_set_or_clear(self, store: LocalStore) -> None:
        r = store.create(run())
        r.metadata.finalizers = ["a"]
        r.metadata.deletion_timestamp = datetime(2020, 1, 1, tzinfo=UTC)
        r = store.update(r)
        assert r.metadata.deletion_timestamp is None
        marked = store.delete(Run, "r")
        assert marked is not None
        marked.metadata.deletion_timestamp = None
        marked.spec.goal = "still going"
        assert store.update(marked).metadata.deletion_timestamp is not None

    def test_a_stale_write_cannot_release_a_finalizer(self, store: LocalStore) -> None:
        r = store.create(run())
        r.metadata.finalizers = ["a"]
        store.update(r)
        marked = store.delete(Run, "r")
        assert marked is not None
        fresh = store.get(Run, "r")
        fresh.status.phase = RunPhase.STOPPED
        store.update_status(fresh)
        marked.metadata.finalizers = []
        with pytest.raises(ConflictError, match="stale"):
            store.update(marked)
        assert store.get(Run, "r").metadata.finalizers == ["a"]


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

    def test_every_kind_of_change_in_order_with_the_resource_after_it(
        self, store: LocalStore, other: LocalStore
    ) -> None:
        r = store.create(run())
        r.spec.goal = "next"
        r = other.update(r)
        r.status.phase = RunPhase.BUILDING
        store.update_status(r)
        other.delete(Run, "r")
        events = store.watch(0, timeout=0)
        assert [e.type for e in events] == [
            WatchEventType.ADDED,
            WatchEventType.MODIFIED,
            WatchEventType.MODIFIED,
            WatchEventType.DELETED,
        ]
        assert [e.version for e in events] == [1, 2, 3, 4]
        added, spec_change, status_change, deleted = (e.resource for e in events)
        assert isinstance(spec_change, Run) and spec_change.spec.goal == "next"
        assert isinstance(status_change, Run) and status_change.status.phase is RunPhase.BUILDING
        assert [added.metadata.resource_version, status_change.metadata.resource_version] == [
            "1",
            "3",
        ]
        assert deleted.metadata.name == "r"

    def test_a_watch_continues_from_the_last_version_it_saw(self, store: LocalStore) -> None:
        store.create(run("a"))
        first = store.watch(0, timeout=0)
        store.create(run("b"))
        (event,) = store.watch(first[-1].version, timeout=0)
        assert event.resource.metadata.name == "b"
        assert store.watch(event.version, timeout=0) == []

    def test_nothing_new_returns_empty_after_the_timeout(self, store: LocalStore) -> None:
        store.create(run())
        started = time.monotonic()
        assert store.watch(store.version(), timeout=0.1) == []
        assert time.monotonic() - started >= 0.1

    def test_a_waiting_watch_wakes_for_a_write_from_another_connection(
        self, store: LocalStore, other: LocalStore
    ) -> None:
        since = store.version()
        writer = threading.Timer(0.1, other.create, args=(run("late"),))
        writer.start()
        try:
            started = time.monotonic()
            events = store.watch(since, timeout=5.0)
            waited = time.monotonic() - started
        finally:
            writer.join()
        assert [e.resource.metadata.name for e in events] == ["late"]
        assert 0.05 <= waited < 2.0

    def test_a_long_way_behind_comes_back_in_batches_with_nothing_skipped(
        self, store: LocalStore
    ) -> None:
        store.create(run())
        write_many(store, 1100)
        seen: list[int] = []
        since = 0
        while batch := store.watch(since, timeout=0):
            assert len(batch) <= 1000
            seen.extend(e.version for e in batch)
            since = batch[-1].version
        assert seen == list(range(1, store.version() + 1))

    def test_a_watch_older_than_the_journal_has_expired(
        self, store: LocalStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(local_module, "JOURNAL_KEEP", 10)
        store.create(run())
        write_many(store, 1000)  # pruning happens when the version reaches a multiple of 1000
        assert store.version() == 1001
        # Versions 991..1001 are kept: a watcher that saw 990 misses nothing, one at 989 does.
        with pytest.raises(ExpiredError, match="list again"):
            store.watch(1, timeout=0)
        with pytest.raises(ExpiredError):
            store.watch(989, timeout=0)
        assert [e.version for e in store.watch(990, timeout=0)] == list(range(991, 1002))
        assert store.watch(store.version(), timeout=0) == []


def test_no_new_finalizer_on_a_resource_being_deleted(store: LocalStore) -> None:
    """As the API server: a resource being deleted may only lose finalizers."""
    r = store.create(run())
    r.metadata.finalizers = ["a"]
    store.update(r)
    marked = store.delete(Run, "r")
    assert marked is not None
    marked.metadata.finalizers = ["a", "b"]
    with pytest.raises(ConflictError, match="no new finalizers"):
        store.update(marked)
    assert store.get(Run, "r").metadata.finalizers == ["a"]
