"""Which runs of a product may run now: ``Product.spec.concurrency`` as a FIFO queue.

Runs already under way keep their slots (a run is never stopped to make
room); waiting runs are admitted oldest first. A run that is not admitted
gets the reason it waits, which its status shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from factoryos.models import DesiredState, Run, RunPhase

#: Phases in which a run holds one of its product's slots.
ACTIVE_PHASES = frozenset(
    {RunPhase.BUILDING, RunPhase.SCREENING, RunPhase.EVALUATING, RunPhase.GATING}
)


@dataclass(frozen=True)
class Admission:
    """Whether a run may start work now, and if not, why."""

    admitted: bool
    reason: str = ""


def admit(runs: Iterable[Run], product: str, concurrency: int) -> dict[str, Admission]:
    """The admission of every run of ``product`` that wants to run (by run name)."""
    wanting = [
        r
        for r in runs
        if r.spec.product_ref.name == product
        and r.metadata.deletion_timestamp is None
        and r.spec.desired_state is DesiredState.RUNNING
        and r.status.phase not in {RunPhase.SUCCEEDED, RunPhase.FAILED}
    ]
    holders = [r for r in wanting if r.status.phase in ACTIVE_PHASES]
    waiting = sorted((r for r in wanting if r not in holders), key=_age)
    free = max(0, concurrency - len(holders))
    decisions = {r.metadata.name: Admission(True) for r in holders + waiting[:free]}
    active = ", ".join(r.metadata.name for r in holders) or "none"
    for position, r in enumerate(waiting[free:], start=1):
        decisions[r.metadata.name] = Admission(
            False,
            f"queued ({position} of {len(waiting) - free}): product {product} allows "
            f"{concurrency} active run(s) at once; active: {active}",
        )
    return decisions


def _age(run: Run) -> tuple[datetime, str]:
    created = run.metadata.creation_timestamp or datetime.max.replace(tzinfo=UTC)
    return created, run.metadata.name
