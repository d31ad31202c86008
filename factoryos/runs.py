"""What people do to runs: start, stop, resume. Shared by ``sf`` and the dashboard.

Both front ends change a Run exactly the same way, through these functions:
``start_run`` admits and creates it, ``stop_run`` and ``resume_run`` only
change ``spec.desiredState`` (the control plane carries it out), so ``sf``,
the dashboard and ``kubectl`` are equivalent. ``settled`` says when a
follower can stop following.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from factoryos.errors import ConflictError
from factoryos.models import DesiredState, Run, RunPhase, parse_as
from factoryos.store import ResourceStore, modify
from factoryos.telemetry import TRACEPARENT_ANNOTATION, Telemetry

#: Admission for a new Run (``factoryos.admission.admit`` bound to its checks).
AdmitRun = Callable[[Run], None]


def list_runs(
    store: ResourceStore, namespace: str | None = None, product: str | None = None
) -> list[Run]:
    """Runs (in ``namespace``, or all; of ``product``, or all), newest first."""
    runs = store.list(Run, namespace)
    if product:
        runs = [r for r in runs if r.spec.product_ref.name == product]
    oldest = datetime.min.replace(tzinfo=UTC)
    runs.sort(key=lambda r: r.metadata.creation_timestamp or oldest, reverse=True)
    return runs


def new_run(
    product: str,
    goal: str,
    *,
    namespace: str = "default",
    name: str | None = None,
    candidates: int | None = None,
    pipeline: str | None = None,
    source: str = "run",
) -> Run:
    """A Run of ``product`` (not stored yet); the name is generated unless given.

    Bad input (an empty goal, K < 1, a bad name) raises ``InvalidInputError``
    naming the field, from the same model checks ``kubectl apply`` gets.
    """
    spec: dict[str, Any] = {"productRef": {"name": product}, "goal": goal}
    if candidates is not None:
        spec["candidates"] = candidates
    if pipeline is not None:
        spec["pipeline"] = pipeline
    run_name = name or f"{product[:50]}-{secrets.token_hex(3)}"
    return parse_as(
        Run, {"metadata": {"name": run_name, "namespace": namespace}, "spec": spec}, source=source
    )


def start_run(
    store: ResourceStore, run: Run, admit: AdmitRun, telemetry: Telemetry | None = None
) -> Run:
    """Admit ``run`` and store it; the control plane starts it.

    With tracing on, this opens the run's trace and leaves its traceparent on
    the Run for the control plane and the runners to continue.
    """
    tracing = telemetry or Telemetry.off()
    with tracing.span(
        "sf run start", run=run.metadata.name, product=run.spec.product_ref.name
    ) as traceparent:
        if traceparent:
            run.metadata.annotations[TRACEPARENT_ANNOTATION] = traceparent
        admit(run)
        return store.create(run)


def stop_run(store: ResourceStore, name: str, namespace: str = "default") -> Run:
    """Ask the control plane to stop a run gracefully (it keeps its checkpoint)."""
    return _set_desired(store, name, namespace, DesiredState.STOPPED)


def resume_run(store: ResourceStore, name: str, namespace: str = "default") -> Run:
    """Ask the control plane to resume a stopped run from its last checkpoint.

    A run that already succeeded or failed cannot be resumed (``ConflictError``).
    """
    current = store.get(Run, name, namespace)
    if current.status.phase in {RunPhase.SUCCEEDED, RunPhase.FAILED}:
        raise ConflictError(
            f"run {name!r} has {current.status.phase.value.lower()}; start a new run instead"
        )
    return _set_desired(store, name, namespace, DesiredState.RUNNING)


def settled(run: Run) -> bool:
    """Whether the run has reached what its spec asks for (stopped, or ended)."""
    phase = run.status.phase
    if run.spec.desired_state is DesiredState.STOPPED:
        return phase is RunPhase.STOPPED or (phase is not None and phase.finished)
    return phase in {RunPhase.SUCCEEDED, RunPhase.FAILED}


def can_stop(run: Run) -> bool:
    """Whether a stop request would change anything."""
    return run.spec.desired_state is DesiredState.RUNNING and run.status.phase not in {
        RunPhase.SUCCEEDED,
        RunPhase.FAILED,
    }


def can_resume(run: Run) -> bool:
    """Whether a resume request would change anything."""
    return run.spec.desired_state is DesiredState.STOPPED and run.status.phase not in {
        RunPhase.SUCCEEDED,
        RunPhase.FAILED,
    }


def _set_desired(store: ResourceStore, name: str, namespace: str, state: DesiredState) -> Run:
    def change(run: Run) -> None:
        run.spec.desired_state = state

    return modify(store, Run, name, namespace, change)
