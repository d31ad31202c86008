"""Removing a product: refused while runs are active unless forced; the repository is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from products_support import stored_product, stored_run

from factoryos.errors import ConflictError, NotFoundError
from factoryos.models import DesiredState, Product, Run, RunPhase
from factoryos.products import (
    AdmitProduct,
    ProductChoices,
    add_product,
    product_from_repo,
    remove_product,
)
from factoryos.store import LocalStore


def test_a_product_without_active_runs_is_deleted_with_its_run_count(store: LocalStore) -> None:
    stored_product(store, "a")
    stored_run(store, "a-1", "a", RunPhase.SUCCEEDED)
    stored_run(store, "a-2", "a", RunPhase.FAILED)

    removal = remove_product(store, "a")

    assert (removal.runs, removal.deferred) == (2, False)
    assert store.list(Product) == []


def test_active_runs_are_named_and_nothing_changes(store: LocalStore) -> None:
    stored_product(store, "a")
    stored_run(store, "a-1", "a", RunPhase.BUILDING)
    stored_run(store, "a-2", "a")  # not started yet: active too
    stored_run(store, "a-3", "a", RunPhase.SUCCEEDED)

    with pytest.raises(ConflictError) as refused:
        remove_product(store, "a")

    assert str(refused.value) == (
        "product 'a' has 2 active run(s) (a-1, a-2); "
        "stop them first (`sf run stop NAME`) or use --force"
    )
    assert [p.metadata.name for p in store.list(Product)] == ["a"]
    assert {r.spec.desired_state for r in store.list(Run)} == {DesiredState.RUNNING}


def test_forcing_stops_the_active_runs_and_deletes_the_product(store: LocalStore) -> None:
    stored_product(store, "a")
    stored_run(store, "a-1", "a", RunPhase.BUILDING)
    stored_run(store, "a-3", "a", RunPhase.SUCCEEDED)
    stored_run(store, "b-1", "b", RunPhase.BUILDING)

    removal = remove_product(store, "a", force=True)

    desired = {r.metadata.name: r.spec.desired_state for r in store.list(Run)}
    assert desired == {
        "a-1": DesiredState.STOPPED,
        "a-3": DesiredState.RUNNING,
        "b-1": DesiredState.RUNNING,
    }
    assert removal.runs == 2 and store.list(Product) == []


def test_runs_of_another_namespace_do_not_count(store: LocalStore) -> None:
    stored_product(store, "a")
    stored_run(store, "a-1", "a", RunPhase.BUILDING, namespace="team-b")

    assert remove_product(store, "a").runs == 0


def test_a_product_with_a_finalizer_is_only_marked_for_deletion(store: LocalStore) -> None:
    product = stored_product(store, "a")
    product.metadata.finalizers = ["factoryos.dev/runs"]
    store.update(product)

    removal = remove_product(store, "a")

    assert removal.deferred
    assert store.get(Product, "a").metadata.deletion_timestamp is not None


def test_an_unknown_product_is_not_found(store: LocalStore) -> None:
    with pytest.raises(NotFoundError):
        remove_product(store, "ghost")


def test_the_repository_is_never_touched(
    store: LocalStore, admit_here: AdmitProduct, repo: Path
) -> None:
    add_product(store, product_from_repo("app", str(repo), ProductChoices()), admit_here)
    before = sorted(p.name for p in repo.iterdir())

    remove_product(store, "app")

    assert sorted(p.name for p in repo.iterdir()) == before
