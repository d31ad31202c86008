"""The passes that end or hold a run instead of progressing it.

A run finishes (``finish``: Succeeded or Failed, with its completion time) or
stays finished (``finished``); stops on request (``stopping``: stop what runs,
then Stopped until a resume); is deleted (``deleting``: stop what runs, then
release its finalizer); or stalls until something outside it changes
(``product_gone``, ``blocked``: running workloads are left alone, nothing
starts). ``reconcile_run`` checks the holds before building; the building and
evaluating phases end the run through ``finish``.
"""

from __future__ import annotations

from datetime import datetime

from factoryos.models import Product, Run, RunPhase, RunStatus
from factoryos.reconcile.run_conditions import (
    mark_finished,
    mark_in_progress,
    mark_stalled,
    mark_stopped,
)
from factoryos.reconcile.run_types import Action, ObservedWorkload, RunDecision, StopWorkload


def finish(
    run: Run, status: RunStatus, phase: RunPhase, message: str, now: datetime
) -> RunDecision:
    """End the run as ``phase`` (Succeeded or Failed), keeping a completion time already set."""
    status.phase = phase
    status.completion_time = status.completion_time or now
    status.message = message
    mark_finished(status, run, now)
    return RunDecision(status)


def finished(run: Run, status: RunStatus, now: datetime) -> RunDecision:
    """A run that has ended stays as it ended; its conditions observe the new generation."""
    mark_finished(status, run, now)
    return RunDecision(status)


def deleting(
    run: Run, status: RunStatus, running: list[ObservedWorkload], now: datetime
) -> RunDecision:
    """Stop what still runs; release the run (its finalizer) once nothing does."""
    stops: list[Action] = [StopWorkload(w.name) for w in running]
    mark_in_progress(status, run, "Deleting", "stopping the run's workloads before deletion", now)
    return RunDecision(status, stops, release=not running)


def stopping(
    run: Run, status: RunStatus, running: list[ObservedWorkload], now: datetime
) -> RunDecision:
    """``desiredState: Stopped``: stop what runs, then the run is Stopped until a resume."""
    if running:
        status.message = f"stopping {len(running)} workload(s)"
        mark_in_progress(status, run, "Stopping", status.message, now)
        return RunDecision(status, [StopWorkload(w.name) for w in running], requeue_after=1.0)
    status.phase = RunPhase.STOPPED
    status.message = "stopped on request; `sf run resume` continues from the last checkpoint"
    mark_stopped(status, run, status.message, now)
    return RunDecision(status)


def product_gone(
    run: Run,
    status: RunStatus,
    product: Product | None,
    running: list[ObservedWorkload],
    now: datetime,
) -> RunDecision:
    """The run's product is missing or being deleted: stop what runs and stall."""
    gone = product is None
    status.phase = status.phase or RunPhase.PENDING
    name = run.spec.product_ref.name
    status.message = f"product {name!r} " + ("not found" if gone else "is being deleted")
    reason = "ProductNotFound" if gone else "ProductDeleting"
    mark_stalled(status, run, reason, status.message, now)
    return RunDecision(status, [StopWorkload(w.name) for w in running])


def blocked(run: Run, status: RunStatus, blocker: tuple[str, str], now: datetime) -> RunDecision:
    """Nothing of the run can start (``RunObservation.blocked``): stall with the reason."""
    reason, message = blocker
    status.phase = status.phase if status.phase is RunPhase.STOPPED else RunPhase.PENDING
    status.message = message
    mark_stalled(status, run, reason, message, now)
    return RunDecision(status)
