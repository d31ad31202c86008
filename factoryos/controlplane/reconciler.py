"""``Reconciler``: one reconcile pass for one Product or Run, shared by both drivers.

A pass reads the object and what it owns afresh, calls the pure function
(``factoryos.reconcile``), carries out the actions through the ``Launcher``,
and writes status once, only when it changed. The local loop
(``LocalControlPlane``) and the kopf operator (``factoryos.controller``) only
decide *when* to call it; neither holds state the pass depends on, so any
pass can be repeated or skipped without harm (level-based).

Where a run's stage progress comes from differs by platform, so it is passed
in: the local loop folds the run's event log; on a cluster the runner's
summaries arrive through the launcher. The local loop also passes its
``RunCache``: a product's runs (the queue a waiting run consults, a product's
active runs) are then read from it, and every Run a pass reads or writes is
fed to it; without one (the operator) they are listed from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factoryos.admission import repository_problem
from factoryos.controlplane.runcache import RunCache
from factoryos.errors import NotFoundError
from factoryos.launch import Launcher, WorkloadState
from factoryos.models import Condition, OwnerReference, Product, Run, RunStatus, StageStatus
from factoryos.reconcile import (
    FINALIZER,
    PRODUCT_LABEL,
    Admission,
    ProductObservation,
    RunDecision,
    RunObservation,
    StartEvaluation,
    StartWorkload,
    admit,
    evaluation_spec,
    reconcile_product,
    reconcile_run,
    workload_spec,
)
from factoryos.reconcile.conditions import stalled
from factoryos.reconcile.run import ObservedWorkload
from factoryos.store import ResourceStore
from factoryos.store.port import R
from factoryos.telemetry import TRACEPARENT_ANNOTATION, Telemetry
from factoryos.workloads import WorkloadKind, WorkloadStatus

#: The logger of the control plane's records (exported with the run's trace ids).
LOGGER = "factoryos.controlplane"

#: How long a repository check is trusted before the product is checked again.
REPO_CHECK_SECONDS = 10.0


@dataclass(frozen=True)
class Notice:
    """Something worth telling people about an object: a console line, a Kubernetes Event."""

    kind: str
    namespace: str
    name: str
    #: CamelCase, as a Kubernetes Event's reason.
    reason: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.kind.lower()} {self.name}: {self.message}"


@dataclass(frozen=True)
class PassResult:
    """What a pass tells its driver."""

    #: Look again after this many seconds even if nothing signals a change (None: no need).
    requeue_after: float | None = None
    #: The object is gone (or was released for deletion): forget it.
    gone: bool = False
    #: The pass started or stopped workloads: what they do next is worth a look soon.
    acted: bool = False
    #: The run's workloads as this pass saw them (empty for products).
    workloads: list[WorkloadState] = field(default_factory=list)
    #: The run is finished and nothing of it runs: no need to follow it any more.
    settled: bool = False


def _retrying(kind: WorkloadKind, candidate: int, attempt: int, seen: list[WorkloadState]) -> str:
    """For a retry after an error, how the attempt before it ended (else nothing)."""
    before = [
        w for w in seen
        if w.kind is kind and w.candidate == candidate and w.attempt == attempt - 1
    ]  # fmt: skip
    if (
        not before
        or before[0].result is None
        or before[0].result.status is not (WorkloadStatus.ERROR)
    ):
        return ""
    result = before[0].result
    return f", from its checkpoint: {before[0].name} ended in an error ({result.reason})"


def retry_delay(first: float, failures: int, ceiling: float) -> float:
    """How long a driver waits before passing again over an object whose passes failed
    ``failures`` times in a row (from 1): ``first``, doubled for each failure before the
    last, at most ``ceiling``. The embedded loop and the operator pace retries with it."""
    return min(ceiling, first * 2.0 ** max(0, failures - 1))


class Reconciler:
    """Reconciles single Products and Runs against a store and a launcher."""

    def __init__(
        self,
        store: ResourceStore,
        launcher: Launcher,
        runs_dir: Path,
        *,
        report: Callable[[Notice], None] = lambda _notice: None,
        grace_seconds: float = 5.0,
        repo_check: Callable[[Product], str | None] = repository_problem,
        stages: Callable[[str, str], list[StageStatus]] = lambda _ns, _name: [],
        telemetry: Telemetry | None = None,
        runs: RunCache | None = None,
        products: Callable[[str, str], Product | None] | None = None,
    ) -> None:
        self._store = store
        self._runs = runs
        #: The loop's newest copy of a Product (from its watch), read by run passes.
        self._products = products
        self._launcher = launcher
        self._runs_dir = runs_dir
        self._report = report
        self._grace = grace_seconds
        self._repo_check = repo_check
        self._stages = stages
        self._tracing = telemetry or Telemetry.off()
        self._repo_checked: dict[tuple[str, str], tuple[float, int | None, str | None]] = {}
        #: Status writes made (tests and benchmarks read it).
        self.status_writes = 0

    # -- products --------------------------------------------------------------

    def product(self, ns: str, name: str) -> PassResult:
        try:
            product = self._store.get(Product, name, ns)
        except NotFoundError:
            self._repo_checked.pop((ns, name), None)
            return PassResult(gone=True)
        meta = product.metadata
        if meta.deletion_timestamp is None and FINALIZER not in meta.finalizers:
            meta.finalizers.append(FINALIZER)
            product = self._store.update(product)
        runs = self._runs_of(ns, name)
        decision = reconcile_product(
            product, ProductObservation(runs, self._repository(product), _now())
        )
        for run_name in decision.delete_runs:
            self._store.delete(Run, run_name, ns)
            self._tell(
                Notice("Run", ns, run_name, "Deleting", f"deleting: its product {name} is deleted")
            )
        if decision.release:
            return self._release(product)
        phase = self._write_status(product, decision.status)
        if phase is not None:
            message = f"{phase}: {_condition_message(decision.status.conditions)}"
            self._tell(Notice("Product", ns, name, phase, message, warning=phase == "Failed"))
        deleting = product.metadata.deletion_timestamp is not None
        return PassResult(requeue_after=1.0 if deleting else None)

    def _repository(self, product: Product) -> str | None:
        key = (product.metadata.namespace, product.metadata.name)
        checked = self._repo_checked.get(key)
        now = time.monotonic()
        generation = product.metadata.generation
        if checked and checked[1] == generation and now - checked[0] < REPO_CHECK_SECONDS:
            return checked[2]
        problem = self._repo_check(product)
        self._repo_checked[key] = (now, generation, problem)
        return problem

    # -- stalls ------------------------------------------------------------------

    def stall(self, kind: str, ns: str, name: str, reason: str, message: str) -> None:
        """Record that a pass of ``kind`` ``ns/name`` failed on input it cannot use.

        A driver calls it when a pass raised ``InvalidInputError`` (a spec the core
        refuses, an object the API server calls invalid): the object gets a Stalled
        condition with ``reason`` and ``message`` at its current generation, the rest
        of its status is kept, and people get a warning notice. It is the pass's one
        status write; the next pass at a new generation recomputes every condition.
        """
        try:
            if kind == "Product":
                self._stall(self._store.get(Product, name, ns), reason, message)
            else:
                self._stall(self._store.get(Run, name, ns), reason, message)
        except NotFoundError:
            return  # gone: nothing left to tell

    def _stall(self, resource: R, reason: str, message: str) -> None:
        meta = resource.metadata
        status = resource.status.model_copy(deep=True)
        status.observed_generation = meta.generation
        status.conditions = stalled(
            status.conditions, reason, message, generation=meta.generation, now=_now()
        )
        if isinstance(status, RunStatus):
            status.message = message
        if status != resource.status:
            self._write_status(resource, status)
            notice = Notice(resource.kind, meta.namespace, meta.name, reason, message, warning=True)
            self._tell(notice)

    # -- runs --------------------------------------------------------------------

    def run(self, ns: str, name: str) -> PassResult:
        """One pass: observe the run's world, decide (pure), act, then write status and report."""
        began = datetime.now(UTC)
        try:
            run = self._seen(self._store.get(Run, name, ns))
        except NotFoundError:
            if self._runs is not None:
                self._runs.forget(ns, name)
            return PassResult(gone=True)
        product = self._product(run)
        run = self._own(run, product)
        seen, workloads = self._observe(run, product)
        decision = reconcile_run(run, seen)
        started = self._act(run, product, decision, workloads)
        if decision.release:
            return self._release(run)
        self._report_run(run, decision, workloads, began, started)
        requeue = 0.5 if decision.actions else decision.requeue_after
        phase = run.status.phase
        settled = phase is not None and phase.finished and not any(w.running for w in workloads)
        return PassResult(
            requeue_after=requeue, acted=bool(decision.actions), workloads=workloads,
            settled=settled,
        )  # fmt: skip

    def _observe(
        self, run: Run, product: Product | None
    ) -> tuple[RunObservation, list[WorkloadState]]:
        """Everything the decision reads, read afresh: workloads, stages, the queue."""
        ns, name = run.metadata.namespace, run.metadata.name
        workloads = self._launcher.workloads(ns, name)
        blocked = None
        if product is not None and not any(w.running for w in workloads):
            probe = workload_spec(run, product, 0, 1, self._runs_dir)
            blocked = self._launcher.blocker(probe)
        seen = RunObservation(
            product=product,
            workloads=[_observed(w) for w in workloads],
            stages=self._stages(ns, name),
            admission=self._admission(run, product, workloads),
            now=_now(),
            retry_errors=not self._launcher.retries_errors,
            blocked=blocked,
            evaluations=self._launcher.evaluations(ns, name),
            isolation=self._launcher.isolation,
        )
        return seen, workloads

    def _act(
        self,
        run: Run,
        product: Product | None,
        decision: RunDecision,
        workloads: list[WorkloadState],
    ) -> list[Notice]:
        """Start and stop what the decision says; a notice for each workload started (a
        retry says how the attempt before it ended: a lost runner, Kilroy killed, ...)."""
        ns, name = run.metadata.namespace, run.metadata.name
        notices: list[Notice] = []
        for action in decision.actions:
            if not isinstance(action, StartWorkload | StartEvaluation):
                self._launcher.stop(ns, name, action.name, self._grace)
                continue
            assert product is not None
            spec = (
                workload_spec(
                    run, product, action.candidate, action.attempt, self._runs_dir,
                    action.feedback,
                )
                if isinstance(action, StartWorkload)
                else evaluation_spec(run, product, action, self._runs_dir)
            )  # fmt: skip
            self._launcher.start(spec)
            why = _retrying(spec.kind, spec.candidate, spec.attempt, workloads)
            notices.append(
                Notice("Run", ns, name, "WorkloadStarted", f"started workload {spec.name}{why}")
            )
        return notices

    def _report_run(
        self,
        run: Run,
        decision: RunDecision,
        workloads: list[WorkloadState],
        began: datetime,
        notices: list[Notice],
    ) -> None:
        """Write status (once, if it changed), then measure, trace and tell what the pass did."""
        name = run.metadata.name
        before = run.status.phase
        phase = self._write_status(run, decision.status)
        self._measure(run, decision, workloads, phase)
        traced = run.metadata.annotations.get(TRACEPARENT_ANNOTATION)
        if decision.actions or phase is not None:  # a pass that did something: in the trace
            traced = self._tracing.record(
                "reconcile run", began, datetime.now(UTC), traced,
                factoryos__run=name, factoryos__phase=str(decision.status.phase or before),
                factoryos__actions=len(decision.actions),
            )  # fmt: skip
        if phase is not None:
            detail = f" ({decision.status.message})" if decision.status.message else ""
            notices = [
                *notices,
                Notice(
                    "Run", run.metadata.namespace, name, phase, f"{phase}{detail}",
                    warning=phase == "Failed",
                ),
            ]  # fmt: skip
        for notice in notices:  # logged in the run's trace, on this pass
            self._tell(notice, traced)

    def _measure(
        self, run: Run, decision: RunDecision, workloads: list[WorkloadState], phase: str | None
    ) -> None:
        """The run's metrics: phase transitions, and the queue wait before its first start."""
        product = run.spec.product_ref.name
        if phase is not None:
            self._tracing.count(
                "factory.run.transitions", factory__phase=phase, factory__product=product
            )
        created = run.metadata.creation_timestamp
        first = [a for a in decision.actions if isinstance(a, StartWorkload) and a.attempt == 1]
        if created is not None and first and not workloads:  # the run's very first start
            self._tracing.observe(
                "factory.queue.wait.duration", (datetime.now(UTC) - created).total_seconds(),
                factory__product=product,
            )  # fmt: skip

    def _tell(self, notice: Notice, traceparent: str | None = None) -> None:
        """Report ``notice`` to people and log it (in ``traceparent``'s trace, if given)."""
        self._report(notice)
        self._tracing.log(str(notice), traceparent, warning=notice.warning, logger=LOGGER)

    def _release(self, resource: R) -> PassResult:
        """Let a resource being deleted go: nothing of it is left to clean up.

        Our finalizer may be gone already while another (a tool's own) still holds
        the resource; then there is nothing left for us to do.
        """
        meta = resource.metadata
        if FINALIZER in meta.finalizers:
            meta.finalizers.remove(FINALIZER)
            released = self._store.update(resource)
            if meta.finalizers:  # another finalizer still holds it
                self._seen(released)
            elif self._runs is not None and isinstance(resource, Run):
                self._runs.forget(meta.namespace, meta.name)  # the store removed it
            self._tell(Notice(resource.kind, meta.namespace, meta.name, "Deleted", "deleted"))
        return PassResult(gone=True)

    def _write_status(self, resource: R, status: Any) -> str | None:
        """Write ``status`` if it differs (the one write of a pass); the new phase if it moved."""
        if status == resource.status:
            return None
        old = resource.status.phase
        resource.status = status
        self._seen(self._store.update_status(resource))
        self.status_writes += 1
        new = status.phase
        return str(new.value) if new is not None and new != old else None

    def _admission(
        self, run: Run, product: Product | None, workloads: list[WorkloadState]
    ) -> Admission:
        if product is None:
            return Admission(False, f"product {run.spec.product_ref.name!r} not found")
        if any(w.running for w in workloads):
            return Admission(True)  # under way: it holds its slot, no queue to consult
        runs = self._runs_of(run.metadata.namespace, product.metadata.name)
        queue = admit(runs, product.metadata.name, product.spec.concurrency)
        return queue.get(run.metadata.name, Admission(True))

    def _runs_of(self, ns: str, product: str) -> list[Run]:
        """The product's runs: from the loop's cache when there is one, else the store."""
        if self._runs is not None:
            return self._runs.of_product(ns, product)
        return [r for r in self._store.list(Run, ns) if r.spec.product_ref.name == product]

    def _seen(self, resource: R) -> R:
        """``resource`` as just read or written; a Run goes into the cache, if any."""
        if self._runs is not None and isinstance(resource, Run):
            self._runs.seen(resource)
        return resource

    def _product(self, run: Run) -> Product | None:
        """The run's product (a run's pass reads its spec and identity, never its status):
        the loop's copy when it has one, else the store's."""
        ns, name = run.metadata.namespace, run.spec.product_ref.name
        held = self._products(ns, name) if self._products is not None else None
        if held is not None:
            return held
        try:
            return self._store.get(Product, name, ns)
        except NotFoundError:
            return None

    def _own(self, run: Run, product: Product | None) -> Run:
        """Add the finalizer, the product label and the owner reference the run lacks."""
        if run.metadata.deletion_timestamp is not None:
            return run
        meta, changed = run.metadata, False
        if FINALIZER not in meta.finalizers:
            meta.finalizers.append(FINALIZER)
            changed = True
        if meta.labels.get(PRODUCT_LABEL) != run.spec.product_ref.name:
            meta.labels[PRODUCT_LABEL] = run.spec.product_ref.name
            changed = True
        if (
            product is not None
            and product.metadata.uid
            and not any(o.uid == product.metadata.uid for o in meta.owner_references)
        ):
            meta.owner_references.append(
                OwnerReference(
                    api_version=product.api_version,
                    kind="Product",
                    name=product.metadata.name,
                    uid=product.metadata.uid,
                    controller=True,
                    block_owner_deletion=True,
                )
            )
            changed = True
        return self._seen(self._store.update(run)) if changed else run


def _observed(w: WorkloadState) -> ObservedWorkload:
    result = w.result
    return ObservedWorkload(
        name=w.name,
        candidate=w.candidate,
        attempt=w.attempt,
        started_at=w.started_at,
        result_status=result.status if result else None,
        result_reason=result.reason if result else None,
        run_branch=result.run_branch if result else None,
        finished_at=result.finished_at if result else None,
        kind=w.kind,
        holdup=w.holdup,
    )


def _condition_message(conditions: list[Condition]) -> str:
    ready = next((c for c in conditions if c.type == "Ready"), None)
    return ready.message if ready is not None else ""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
