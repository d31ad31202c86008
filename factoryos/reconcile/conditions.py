"""Setting status conditions the way the Kubernetes API conventions ask.

``lastTransitionTime`` moves only when a condition's ``status`` changes, so a
reconcile that recomputes the same state writes the same status (and the
driver skips the write).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from factoryos.models import Condition, ConditionStatus, ConditionType


def set_condition(
    conditions: list[Condition],
    type: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``conditions`` with ``type`` set; the others kept in order."""
    old = condition(conditions, type)
    changed = old is None or old.status != status
    new = Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if changed or old is None else old.last_transition_time,
        observed_generation=generation,
    )
    if old is None:
        return [*conditions, new]
    return [new if c.type == type else c for c in conditions]


def set_conditions(
    conditions: list[Condition],
    states: Iterable[tuple[ConditionType, ConditionStatus]],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``conditions`` with each ``(type, status)`` of ``states`` set, with one reason and
    message (a resource's conditions say one consistent thing); the others kept."""
    for type, status in states:
        conditions = set_condition(
            conditions, type, status, reason, message, generation=generation, now=now
        )
    return conditions


def condition(conditions: list[Condition], type: ConditionType) -> Condition | None:
    """The condition of ``type``, if set."""
    return next((c for c in conditions if c.type == type), None)


def stalled(
    conditions: list[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``conditions`` saying the object cannot progress with its current spec.

    Stalled, not Ready, not Reconciling (kstatus reads that as Failed); ``Succeeded``
    and any other condition are kept. A later pass at a new generation recomputes them.
    """
    states = (
        (ConditionType.READY, ConditionStatus.FALSE),
        (ConditionType.RECONCILING, ConditionStatus.FALSE),
        (ConditionType.STALLED, ConditionStatus.TRUE),
    )
    return set_conditions(conditions, states, reason, message, generation=generation, now=now)
