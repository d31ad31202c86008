"""Stored products and runs for the product use-case tests (see conftest.py for fixtures)."""

from __future__ import annotations

from factoryos.models import Product, Run, RunPhase, parse_as
from factoryos.store import LocalStore


def stored_product(store: LocalStore, name: str, namespace: str = "default") -> Product:
    spec = {"repo": {"url": f"https://git.example.invalid/{name}.git"}}
    return store.create(
        parse_as(Product, {"metadata": {"name": name, "namespace": namespace}, "spec": spec})
    )


def stored_run(
    store: LocalStore,
    name: str,
    product: str,
    phase: RunPhase | None = None,
    namespace: str = "default",
) -> Run:
    spec = {"productRef": {"name": product}, "goal": "g"}
    run = store.create(
        parse_as(Run, {"metadata": {"name": name, "namespace": namespace}, "spec": spec})
    )
    if phase is not None:
        run.status.phase = phase
        run = store.update_status(run)
    return run
