"""``SelftestTarget``: the factory a selftest runs against, as the checks see it.

The checks (``factoryos.selftest.checks``) only make products from the
example products, start, stop and resume runs, wait for phases and stages,
and then look at what the factory left: processes or pods of a run, its
events, a file on a candidate's branch. ``ScratchFactory`` (local) and
``ClusterFactory`` (``--context``) answer those questions for their kind of
factory; the waiting and the run bookkeeping are shared here.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from factoryos.errors import FactoryError
from factoryos.events import Event
from factoryos.models import Run, RunPhase, StageState
from factoryos.runs import new_run, resume_run, stop_run
from factoryos.store import ResourceStore

#: The example products a selftest uses (folders of examples/products, baked into the
#: runner image under /opt/examples): ``selftest`` (stop.dot, resume.dot) and ``smoke``.
SELFTEST_PRODUCT = "selftest"
SMOKE_PRODUCT = "smoke"


class CheckFailedError(FactoryError):
    """A check found the invariant broken; the message says how."""


class SelftestTarget(ABC):
    """A factory to check: a store of Products and Runs plus a way to see what runs."""

    #: How long after Stopped a run's processes or pods may take to go away.
    stop_grace_seconds: float = 0.0

    def __init__(self, store: ResourceStore, namespace: str = "default") -> None:
        self.store = store
        self.namespace = namespace
        self.runs: list[str] = []

    # -- what each kind of factory provides ---------------------------------------------

    @abstractmethod
    def start(self) -> None:
        """Get the factory ready (a local control plane; a cluster namespace)."""

    @abstractmethod
    def close(self) -> None:
        """Undo ``start``."""

    @abstractmethod
    def product(self, name: str, example: str, **spec: Any) -> None:
        """Create Product ``name`` from the example product ``example`` (plus ``spec``)."""

    @abstractmethod
    def leftovers(self, run: str) -> list[str]:
        """What of the run still runs (processes, pods), described for people."""

    @abstractmethod
    def raw_events(self, run: str) -> list[dict[str, Any]]:
        """The run's events as written (JSON objects), in order."""

    @abstractmethod
    def branch_file(self, run: str, path: str, candidate: int = 0) -> str | None:
        """A file on the candidate's branch, or None when this factory cannot reach it."""

    # -- shared ----------------------------------------------------------------------------

    def events(self, run: str) -> list[Event]:
        return [Event.model_validate(e) for e in self.raw_events(run)]

    def run(self, product: str, name: str, pipeline: str | None = None) -> str:
        run = new_run(product, f"selftest {name}", name=name, pipeline=pipeline,
                      namespace=self.namespace)  # fmt: skip
        self.store.create(run)
        self.runs.append(name)
        return name

    def get(self, name: str) -> Run:
        return self.store.get(Run, name, self.namespace)

    def stop(self, name: str) -> None:
        stop_run(self.store, name, self.namespace)

    def resume(self, name: str) -> None:
        resume_run(self.store, name, self.namespace)

    def wait_phase(self, name: str, phase: RunPhase, timeout: float = 120) -> Run:
        def reached() -> bool:
            run = self.get(name)
            if run.status.phase is RunPhase.FAILED and phase is not RunPhase.FAILED:
                raise CheckFailedError(f"{name} failed: {run.status.message}")
            return run.status.phase is phase

        self.wait(reached, timeout, f"{name} {phase.value}", run=name)
        return self.get(name)

    def wait_stage(self, name: str, stage: str, timeout: float = 60) -> None:
        def running() -> bool:
            stages = self.get(name).status.stages
            return any(s.name == stage and s.status is StageState.RUNNING for s in stages)

        self.wait(running, timeout, f"{name}: stage {stage} running", run=name)

    def alive(self) -> str | None:
        """Why the factory cannot go on (its control plane exited), or None."""
        return None

    def wait(
        self, check: Callable[[], bool], timeout: float, what: str, run: str | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            dead = self.alive()
            if dead is not None:
                raise CheckFailedError(f"{dead} while waiting for {what}")
            time.sleep(0.1)
        phase = ""
        if run is not None:
            try:
                found = self.get(run)
                phase = f" (phase {found.status.phase}, {found.status.message})"
            except FactoryError:
                pass
        raise CheckFailedError(f"timed out after {timeout:g}s waiting for {what}{phase}")
