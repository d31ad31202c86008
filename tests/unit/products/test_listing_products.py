"""Listing and reading products, and finding a product's runs."""

from __future__ import annotations

import pytest
from products_support import stored_product, stored_run

from factoryos.errors import NotFoundError
from factoryos.models import Run
from factoryos.products import get_product, list_products, runs_of
from factoryos.store import LocalStore


def test_products_are_listed_per_namespace_or_all(store: LocalStore) -> None:
    stored_product(store, "a")
    stored_product(store, "b", namespace="team-b")

    assert [p.metadata.name for p in list_products(store, "default")] == ["a"]
    assert sorted(p.metadata.name for p in list_products(store)) == ["a", "b"]


def test_a_product_is_read_by_name_and_namespace(store: LocalStore) -> None:
    stored_product(store, "a", namespace="team-a")

    assert get_product(store, "a", "team-a").metadata.namespace == "team-a"
    with pytest.raises(NotFoundError):
        get_product(store, "a")


def test_the_runs_of_a_product_match_its_name_and_namespace(store: LocalStore) -> None:
    product = stored_product(store, "a")
    stored_run(store, "a-1", "a")
    stored_run(store, "b-1", "b")
    stored_run(store, "a-elsewhere", "a", namespace="team-b")
    stored_run(store, "a-2", "a")

    mine = runs_of(product, store.list(Run))
    assert [r.metadata.name for r in mine] == ["a-1", "a-2"]
