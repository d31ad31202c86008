"""A Run's four conditions (Ready, Reconciling, Stalled, Succeeded), always set together,
and its ``Isolated`` condition, set on its own.

Every pass sets all four with one reason and message, so GitOps tools and
``kubectl wait`` read one consistent state: in progress (Reconciling),
stalled until something outside the run changes, finished (Succeeded or
Failed) or stopped on request. Each phase module calls one of the ``mark_*``
functions; ``set_conditions`` keeps the transition times.
"""

from __future__ import annotations

from datetime import datetime

from factoryos.models import Condition, ConditionStatus, ConditionType, Run, RunPhase, RunStatus
from factoryos.reconcile.conditions import set_condition, set_conditions
from factoryos.workloads import Sandboxing

T, F, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


def set_run_conditions(
    status: RunStatus,
    run: Run,
    reason: str,
    message: str,
    now: datetime,
    *,
    ready: ConditionStatus,
    reconciling: ConditionStatus,
    stalled: ConditionStatus,
    succeeded: ConditionStatus,
) -> None:
    """Set all four conditions at once, with one reason and message."""
    states = (
        (ConditionType.READY, ready),
        (ConditionType.RECONCILING, reconciling),
        (ConditionType.STALLED, stalled),
        (ConditionType.SUCCEEDED, succeeded),
    )
    status.conditions = set_conditions(
        status.conditions, states, reason, message, generation=run.metadata.generation, now=now
    )


def mark_in_progress(status: RunStatus, run: Run, reason: str, message: str, now: datetime) -> None:
    """In progress: Reconciling, not Ready, not Stalled, outcome Unknown."""
    set_run_conditions(
        status, run, reason, message, now, ready=F, reconciling=T, stalled=F, succeeded=U
    )


def mark_stalled(status: RunStatus, run: Run, reason: str, message: str, now: datetime) -> None:
    """Cannot progress until something outside the run changes."""
    set_run_conditions(
        status, run, reason, message, now, ready=F, reconciling=F, stalled=T, succeeded=U
    )


def mark_stopped(status: RunStatus, run: Run, message: str, now: datetime) -> None:
    """Stopped on request: nothing runs and nothing is decided, until a resume."""
    set_run_conditions(
        status, run, "Stopped", message, now, ready=F, reconciling=F, stalled=F, succeeded=F
    )


def mark_finished(status: RunStatus, run: Run, now: datetime) -> None:
    """Succeeded (Ready) or Failed (Stalled), by ``status.phase``, with ``status.message``."""
    ok = status.phase is RunPhase.SUCCEEDED
    reason = "Succeeded" if ok else "Failed"
    message = status.message or reason
    if ok:
        set_run_conditions(
            status, run, reason, message, now, ready=T, reconciling=F, stalled=F, succeeded=T
        )
    else:
        set_run_conditions(
            status, run, reason, message, now, ready=F, reconciling=F, stalled=T, succeeded=F
        )


def isolated(
    conditions: list[Condition], run: Run, sandboxing: Sandboxing, now: datetime
) -> list[Condition]:
    """``conditions`` with ``Isolated``: whether the run's candidates run sandboxed, and
    if not, why and what it means (they can read the holdouts and the factory's secrets)."""
    message = sandboxing.message
    if not sandboxing.isolated:
        message = (
            f"candidates are NOT sandboxed: {message}; they can read the holdouts, "
            "FACTORYOS_HOME's secrets and other runs (a product with spec.isolation: "
            "required refuses to run here)"
        )
    state = T if sandboxing.isolated else F
    return set_condition(
        conditions, ConditionType.ISOLATED, state, sandboxing.reason, message,
        generation=run.metadata.generation, now=now,
    )  # fmt: skip
