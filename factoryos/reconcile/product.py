"""Reconciling a Product: is its repository usable, which runs are active, cleanup on delete.

``reconcile_product`` is pure: the driver checks the repository (a file
system and git question) and lists the product's runs, and passes both in.
A product being deleted first has its runs deleted (each stops its own
workloads through its finalizer); its finalizer is released when none is
left. The repository itself is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from factoryos.models import (
    ConditionStatus,
    ConditionType,
    Product,
    ProductPhase,
    ProductStatus,
    Run,
)
from factoryos.reconcile.conditions import set_conditions


@dataclass(frozen=True)
class ProductObservation:
    """What the driver saw: the product's runs and any problem with its repository."""

    runs: list[Run]
    #: Why the repository cannot be used (None: it can, or it is remote and not checked).
    repo_problem: str | None
    now: datetime


@dataclass(frozen=True)
class ProductDecision:
    status: ProductStatus
    #: Runs to delete (the product is being deleted).
    delete_runs: list[str] = field(default_factory=list)
    #: The product is being deleted and no run of it is left.
    release: bool = False


def active_runs(runs: list[Run]) -> list[Run]:
    """Runs that have not finished: pending, queued or under way (stopped ones are not)."""
    return [r for r in runs if r.status.phase is None or not r.status.phase.finished]


def reconcile_product(product: Product, seen: ProductObservation) -> ProductDecision:
    gen, now = product.metadata.generation, seen.now
    status = product.status.model_copy(deep=True)
    status.observed_generation = gen
    status.active_runs = sorted(r.metadata.name for r in active_runs(seen.runs))
    newest = max(seen.runs, key=_created, default=None)
    status.last_run = newest.metadata.name if newest is not None else status.last_run

    if product.metadata.deletion_timestamp is not None:
        message = f"deleting: waiting for {len(seen.runs)} run(s) to be removed"
        deleting = (
            (ConditionType.READY, ConditionStatus.FALSE),
            (ConditionType.RECONCILING, ConditionStatus.TRUE),
        )
        status.conditions = set_conditions(
            status.conditions, deleting, "Deleting", message, generation=gen, now=now
        )
        pending = [r.metadata.name for r in seen.runs if r.metadata.deletion_timestamp is None]
        return ProductDecision(status, delete_runs=pending, release=not seen.runs)

    if seen.repo_problem:
        status.phase = ProductPhase.FAILED
        values = (ConditionStatus.FALSE, ConditionStatus.FALSE, ConditionStatus.TRUE)
        reason, message = "RepositoryUnavailable", seen.repo_problem
    else:
        status.phase = ProductPhase.READY
        values = (ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.FALSE)
        reason = "RepositoryAvailable"
        message = f"{len(status.active_runs)} active run(s)"
    states = zip(
        (ConditionType.READY, ConditionType.RECONCILING, ConditionType.STALLED),
        values,
        strict=True,
    )
    status.conditions = set_conditions(
        status.conditions, states, reason, message, generation=gen, now=now
    )
    return ProductDecision(status)


def _created(run: Run) -> tuple[datetime, str]:
    return run.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC), run.metadata.name
