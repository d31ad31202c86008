"""``KubeStore`` keeps the ``ResourceStore`` contract against a real API server.

The same guarantees ``LocalStore`` gives (tests/unit/store): versions and
conflicts, generation on spec changes only, status through its subresource,
apply results, finalizer-held deletion, watch.
"""

from __future__ import annotations

import pytest

from factoryos.errors import ConflictError, NotFoundError, ValidationFailedError
from factoryos.models import Product, Run, RunPhase, parse_as
from factoryos.store import ApplyResult, WatchEventType, modify
from factoryos.store.apiserver import KubeStore


def product(ns: str, name: str = "p", **spec: object) -> Product:
    return parse_as(
        Product,
        {"metadata": {"name": name, "namespace": ns}, "spec": {"repo": {"path": "/srv/p"}, **spec}},
    )


def run(ns: str, name: str = "r") -> Run:
    return parse_as(
        Run,
        {"metadata": {"name": name, "namespace": ns},
         "spec": {"productRef": {"name": "p"}, "goal": "g"}},
    )  # fmt: skip


def test_create_get_list_and_conflicts(store: KubeStore, namespace: str) -> None:
    created = store.create(product(namespace))
    assert created.metadata.uid and created.metadata.generation == 1
    assert created.spec.concurrency == 1  # defaulted by the API server
    assert store.get(Product, "p", namespace) == created
    assert [p.metadata.name for p in store.list(Product, namespace)] == ["p"]
    with pytest.raises(ConflictError, match="already exists"):
        store.create(product(namespace))
    with pytest.raises(NotFoundError, match="run 'ghost' not found"):
        store.get(Run, "ghost", namespace)


def test_a_stale_update_is_refused(store: KubeStore, namespace: str) -> None:
    store.create(product(namespace))
    mine, theirs = store.get(Product, "p", namespace), store.get(Product, "p", namespace)
    theirs.spec.concurrency = 2
    store.update(theirs)
    mine.spec.concurrency = 3
    with pytest.raises(ConflictError, match="changed by someone else"):
        store.update(mine)
    assert store.get(Product, "p", namespace).spec.concurrency == 2


def test_modify_retries_and_generation_follows_spec_only(store: KubeStore, namespace: str) -> None:
    store.create(product(namespace))

    def label(p: Product) -> None:
        p.metadata.labels["team"] = "x"

    def widen(p: Product) -> None:
        p.spec.concurrency = 4

    assert modify(store, Product, "p", namespace, label).metadata.generation == 1
    assert modify(store, Product, "p", namespace, widen).metadata.generation == 2


def test_status_goes_through_its_subresource_only(store: KubeStore, namespace: str) -> None:
    r = store.create(run(namespace))
    r.status.phase = RunPhase.BUILDING
    r.spec.goal = "ignored by a status write"
    written = store.update_status(r)
    assert written.status.phase is RunPhase.BUILDING and written.spec.goal == "g"
    written.status.phase = RunPhase.FAILED
    written.spec.goal = "new"
    updated = store.update(written)
    assert updated.spec.goal == "new" and updated.status.phase is RunPhase.BUILDING


def test_apply_reports_created_unchanged_configured(store: KubeStore, namespace: str) -> None:
    assert store.apply(product(namespace))[1] is ApplyResult.CREATED
    assert store.apply(product(namespace))[1] is ApplyResult.UNCHANGED
    changed, what = store.apply(product(namespace, concurrency=2))
    assert what is ApplyResult.CONFIGURED and changed.metadata.generation == 2


def test_schema_errors_come_back_as_validation_errors(store: KubeStore, namespace: str) -> None:
    bad = product(namespace, "bad")
    bad.spec.candidates = 0  # the model would refuse it; the API server must too
    with pytest.raises(ValidationFailedError, match=r"spec\.candidates"):
        store.create(bad)


def test_finalizers_hold_deletion(store: KubeStore, namespace: str) -> None:
    r = store.create(run(namespace))
    r.metadata.finalizers = ["factoryos.dev/cleanup"]
    store.update(r)
    held = store.delete(Run, "r", namespace)
    assert held is not None and held.metadata.deletion_timestamp is not None
    held.metadata.finalizers = []
    store.update(held)
    with pytest.raises(NotFoundError):
        store.get(Run, "r", namespace)
    store.create(run(namespace, "plain"))
    assert store.delete(Run, "plain", namespace) is None


def test_watch_returns_changes_after_a_version(store: KubeStore, namespace: str) -> None:
    since = store.version()
    store.create(product(namespace))
    store.create(run(namespace))
    events = store.watch(since, timeout=2)
    mine = [(e.type, e.resource.kind) for e in events if e.resource.metadata.namespace == namespace]
    assert mine == [(WatchEventType.ADDED, "Product"), (WatchEventType.ADDED, "Run")]
    assert [e.version for e in events] == sorted(e.version for e in events)
