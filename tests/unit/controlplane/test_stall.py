"""A driver records a pass that failed on bad input as a Stalled condition, through the core.

``Reconciler.stall`` is the one status write of such a pass: Stalled (not Ready,
not Reconciling) with the reason, the message and the generation, written once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factoryos.controlplane import Notice, Reconciler
from factoryos.models import ConditionStatus, Product, Run, parse_as
from factoryos.store import LocalStore


@pytest.fixture
def notices() -> list[Notice]:
    return []


@pytest.fixture
def reconciler(store: LocalStore, notices: list[Notice], tmp_path: Path) -> Reconciler:
    launcher: Any = object()  # a stall launches nothing
    return Reconciler(store, launcher, tmp_path / "runs", report=notices.append)


def add_run(store: LocalStore) -> None:
    store.create(
        parse_as(
            Run, {"metadata": {"name": "r"}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
        )
    )


def test_a_stall_is_written_once_with_reason_message_and_generation(
    reconciler: Reconciler, store: LocalStore, notices: list[Notice]
) -> None:
    add_run(store)

    reconciler.stall("Run", "default", "r", "InvalidInput", "Job r-c0-1 is invalid")
    reconciler.stall("Run", "default", "r", "InvalidInput", "Job r-c0-1 is invalid")

    run = store.get(Run, "r")
    conditions = {c.type: c for c in run.status.conditions}
    assert conditions["Stalled"].status is ConditionStatus.TRUE
    assert conditions["Ready"].status is ConditionStatus.FALSE
    assert conditions["Reconciling"].status is ConditionStatus.FALSE
    assert {c.reason for c in conditions.values()} == {"InvalidInput"}
    assert {c.observed_generation for c in conditions.values()} == {run.metadata.generation}
    assert run.status.observed_generation == run.metadata.generation
    assert run.status.message == "Job r-c0-1 is invalid"
    assert reconciler.status_writes == 1, "the same stall again writes nothing"
    assert [(n.kind, n.reason, n.warning) for n in notices] == [("Run", "InvalidInput", True)]


def test_a_product_can_stall_and_a_missing_object_is_left_alone(
    reconciler: Reconciler, store: LocalStore
) -> None:
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/r"}}}))

    reconciler.stall("Product", "default", "p", "ValidationFailed", "invalid product p")
    reconciler.stall("Run", "default", "ghost", "InvalidInput", "no such run")

    stalled = next(c for c in store.get(Product, "p").status.conditions if c.type == "Stalled")
    assert (stalled.status, stalled.reason) == (ConditionStatus.TRUE, "ValidationFailed")
    assert reconciler.status_writes == 1
