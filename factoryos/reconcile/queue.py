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


@dataclass(frozen=True)
class Place:
    """Where a run that wants to run stands in its product's queue."""

    #: It holds one of the product's slots (it is under way).
    holds: bool
    #: Its place in line while it waits: oldest first.
    age: tuple[datetime, str]


def place(run: Run) -> Place | None:
    """Where ``run`` stands in its product's queue; None when it wants no slot (finished,
    stopped, being deleted). What ``admit`` decides on: a run whose place did not change
    changes no other run's admission (the control plane looks at waiting siblings again
    only when some run's place changed)."""
    if (
        run.metadata.deletion_timestamp is not None
        or run.spec.desired_state is not DesiredState.RUNNING
        or run.status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED}
    ):
        return None
    return Place(run.status.phase in ACTIVE_PHASES, _age(run))


def admit(runs: Iterable[Run], product: str, concurrency: int) -> dict[str, Admission]:
    """The admission of every run of ``product`` that wants to run (by run name)."""
    wanting = [
        (r, at) for r in runs if r.spec.product_ref.name == product and (at := place(r)) is not None
    ]  # fmt: skip
    holders = [r for r, at in wanting if at.holds]
    in_line = sorted((w for w in wanting if not w[1].holds), key=lambda w: w[1].age)
    waiting = [r for r, _ in in_line]
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
