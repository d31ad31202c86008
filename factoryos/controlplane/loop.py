"""``LocalControlPlane``: the local loop that drives the reconcile passes.

Level-based, like controller-runtime: a key (kind, namespace, name) is marked
dirty when something about it may have changed, and reconciling it is one
``Reconciler`` pass (read everything afresh, call the pure function, act,
write status once, only when it differs). Keys become dirty from

- the store's watch (any process's writes: ``sf``, the dashboard, our own; a Run
  version a pass wrote or read already is not marked again when the watch brings it:
  that pass marked what the change moved, and a pass over it would find nothing new);
- the event logs of active runs growing (runners append events; the loop
  folds them into the stages table, incrementally);
- runner processes ending (looked at every ``process_poll`` seconds);
- requeue timers the reconcile asked for, the next step after a pass that started or
  stopped workloads, and a full resync on start.

A change to a Run also marks its product, and, when it moved the run's place in
its product's queue (``reconcile.queue.place``: it started, finished, stopped,
arrived, left), the runs of that product that wait for a slot; a change to a
Product's spec (or its deletion) marks every unfinished run of it. Only those
can decide differently. The loop's ``RunCache`` holds the newest version of
every Run (from the watch and from the passes' own writes); the passes read a
product's runs from it rather than listing the store, so N runs applied at once
cost N passes of constant store work each, not N passes of N parses each. Likewise a
run's pass reads its Product from the loop's copy of the newest version the watch
brought, not from the store (a pass reads a product's spec, never its status).

A reconcile that raises is reported and retried with exponential backoff
(1 s doubling to 60 s); it never stops the loop. A loop that was paused (SIGSTOP,
a suspended machine) says so when it runs again.

Runner processes run in their own sessions: killing the loop leaves them
running, and a new loop adopts them (their pids and start times are on disk)
and folds their events from the start of each log, so nothing is lost or
counted twice. ``shutdown`` (Ctrl-C of ``sf up``) stops them gracefully
instead; their runs resume from their checkpoints on the next start.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from factoryos.admission import repository_problem
from factoryos.controlplane.reconciler import PassResult, Reconciler, retry_delay
from factoryos.controlplane.runcache import RunCache
from factoryos.errors import ConflictError, ExpiredError, WorkspaceError
from factoryos.events import EventType, read_from
from factoryos.launch import Launcher, WorkloadState
from factoryos.models import Product, Run, StageStatus
from factoryos.reconcile.queue import Place, place
from factoryos.store import ResourceStore, WatchEventType
from factoryos.telemetry import Telemetry
from factoryos.workloads import RunDirectory, StageFold

Key = tuple[str, str, str]  # (kind, namespace, name)

#: A reconcile that raised is retried after this delay, doubling up to the maximum.
ERROR_BACKOFF_START, ERROR_BACKOFF_MAX = 1.0, 60.0
#: A pause of the process this long (its watcher woke this much too late) is reported.
PAUSE_CHECK_SECONDS, PAUSE_NOTICE_SECONDS = 0.5, 3.0


@dataclass
class _Tracked:
    """What the loop remembers about one run between passes (rebuilt from disk on start)."""

    #: The run's event log (a string: the loop stats it several times a second).
    events: str
    fold: StageFold = field(default_factory=StageFold)
    offset: int = 0
    size: int = -1
    fingerprint: tuple[tuple[str, bool], ...] = ()


class LocalControlPlane:
    """Reconciles every Product and Run of a store until told to stop."""

    def __init__(
        self,
        store: ResourceStore,
        launcher: Launcher,
        runs_dir: Path,
        *,
        report: Callable[[str], None] = lambda _line: None,
        tick: float = 0.25,
        process_poll: float = 1.0,
        grace_seconds: float = 5.0,
        repo_check: Callable[[Product], str | None] = repository_problem,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._launcher = launcher
        self._runs_dir = runs_dir
        self._report = report
        self._tick = tick
        self._process_poll = process_poll
        self._grace = grace_seconds
        self._cache = RunCache()
        self._reconciler = Reconciler(
            store,
            launcher,
            runs_dir,
            report=lambda notice: report(str(notice)),
            grace_seconds=grace_seconds,
            repo_check=repo_check,
            stages=self._stages,
            telemetry=telemetry,
            runs=self._cache,
            products=lambda ns, name: self._product_copies.get((ns, name)),
        )
        self._dirty: set[Key] = set()
        self._due: dict[Key, float] = {}
        self._runs: dict[Key, _Tracked] = {}
        #: What of each Product its runs depend on (not its status), as last seen.
        self._products: dict[Key, _ProductIdentity] = {}
        #: The newest version of each Product the watch brought, by (namespace, name).
        self._product_copies: dict[tuple[str, str], Product] = {}
        self._failures: dict[Key, int] = {}
        self._since = 0
        self._last_process_poll = 0.0
        #: Reconcile passes done (for tests and benchmarks).
        self.passes = 0

    @property
    def status_writes(self) -> int:
        """Status writes made so far (tests and benchmarks read it)."""
        return self._reconciler.status_writes

    # -- driving -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Reconcile until ``stop`` is set (then return; see ``shutdown``)."""
        threading.Thread(
            target=self._watch_pauses, args=(stop,), name="pause-watch", daemon=True
        ).start()
        self.resync()
        while not stop.is_set():
            self.step(wait=self._tick)

    def resync(self) -> None:
        """Mark everything dirty and watch from now on (start-up, or after an expired watch)."""
        self._since = self._store.version()
        self._products.clear()
        self._product_copies.clear()
        for product in self._store.list(Product):
            self._dirty.add(_key(product))
            self._products[_key(product)] = _identity(product)
            self._product_copies[product.metadata.namespace, product.metadata.name] = product
        runs = self._store.list(Run)
        self._cache.reset(runs)
        self._dirty.update(_key(run) for run in runs)

    def step(self, wait: float = 0.0) -> None:
        """Reconcile what is dirty, then wait up to ``wait`` seconds for the next change."""
        self._reconcile_dirty()
        try:
            changes = self._store.watch(self._since, timeout=wait)
        except ExpiredError:
            self.resync()
            return
        except WorkspaceError as exc:  # the store is busy or unreadable: try again shortly
            self._report(f"watch failed ({exc}); retrying")
            time.sleep(wait or self._tick)
            return
        for change in changes:
            self._since = change.version
            self._mark(change.resource, deleted=change.type is WatchEventType.DELETED)
        self._poll()

    def _watch_pauses(self, stop: threading.Event) -> None:
        """Say so when the process was not run for a while (SIGSTOP, a suspended machine,
        starved of CPU): a thread that wakes every ``PAUSE_CHECK_SECONDS`` sees the gap,
        wherever the loop itself was when it stopped."""
        last = time.monotonic()
        while not stop.wait(PAUSE_CHECK_SECONDS):
            now = time.monotonic()
            late, last = now - last - PAUSE_CHECK_SECONDS, now
            if late >= PAUSE_NOTICE_SECONDS:
                self._report(
                    f"the control plane was paused for {late:.0f}s (stopped, suspended or "
                    "starved of CPU); catching up with what changed meanwhile"
                )

    def shutdown(self) -> int:
        """Stop every running workload gracefully and wait for them; returns how many."""
        stopping: list[tuple[Run, WorkloadState]] = []
        for run in self._store.list(Run):
            meta = run.metadata
            for w in self._launcher.workloads(meta.namespace, meta.name):
                if w.running:
                    stopping.append((run, w))
        deadline = time.monotonic() + self._grace + 15.0
        left = stopping
        while left and time.monotonic() < deadline:
            for run, w in left:
                self._launcher.stop(run.metadata.namespace, run.metadata.name, w.name, self._grace)
            time.sleep(0.2)
            left = [
                (run, w)
                for run, w in left
                if any(
                    x.name == w.name and x.running
                    for x in self._launcher.workloads(run.metadata.namespace, run.metadata.name)
                )
            ]
        return len(stopping)

    # -- marking -------------------------------------------------------------

    def _mark(self, resource: Product | Run, *, deleted: bool = False) -> None:
        key = _key(resource)
        ns, name = resource.metadata.namespace, resource.metadata.name
        if isinstance(resource, Run):
            if not deleted and self._cache.known(resource):
                return  # seen already: the pass that wrote or read it marked what it moved
            self._dirty.add(key)
            before = self._cache.forget(ns, name) if deleted else self._cache.seen(resource)
            self._moved(before, None if deleted else self._cache.get(ns, name))
            self._dirty.add(("Product", ns, resource.spec.product_ref.name))
            return
        self._dirty.add(key)
        if deleted:
            self._product_copies.pop((ns, name), None)
        else:
            self._product_copies[ns, name] = resource
        identity = None if deleted else _identity(resource)
        if self._products.get(key) == identity:
            return  # only its status changed: no run of it decides differently
        if identity is None:
            self._products.pop(key, None)
        else:
            self._products[key] = identity
        for run in self._cache.of_product(ns, name):  # runs waiting on this product
            if not _done(run):
                self._dirty.add(_key(run))

    def _moved(self, before: Run | None, after: Run | None) -> None:
        """Mark the runs waiting in line behind a run whose place in the queue changed
        (``before`` and ``after`` are its versions, None where it did not exist)."""
        if _place(before) == _place(after):
            return
        for run in {r.spec.product_ref.name: r for r in (before, after) if r is not None}.values():
            ns = run.metadata.namespace
            for sibling in self._cache.of_product(ns, run.spec.product_ref.name):
                at = place(sibling)
                if at is not None and not at.holds:
                    self._dirty.add(_key(sibling))

    def _poll(self) -> None:
        now = time.monotonic()
        for key, due in list(self._due.items()):
            if due <= now:
                del self._due[key]
                self._dirty.add(key)
        check_processes = now - self._last_process_poll >= self._process_poll
        if check_processes:
            self._last_process_poll = now
        for key, tracked in self._runs.items():
            _, ns, name = key
            try:
                size = os.stat(tracked.events).st_size  # noqa: PTH116 (hot: no Path per look)
            except FileNotFoundError:
                size = 0
            changed = size != tracked.size and self._progressed(tracked)
            if not changed and check_processes:
                changed = _fingerprint(self._launcher.workloads(ns, name)) != tracked.fingerprint
            if changed:
                self._dirty.add(key)

    def _progressed(self, tracked: _Tracked) -> bool:
        """Fold what the runners appended; True unless it was only heartbeats."""

        def skip(line: bytes, error: Exception) -> None:
            self._report(f"{tracked.events}: skipped a line that is not an event: {line[:80]!r}")

        new, tracked.offset = read_from(Path(tracked.events), tracked.offset, on_bad=skip)
        tracked.size = tracked.offset
        tracked.fold.feed(new)
        return any(e.type != EventType.HEARTBEAT for e in new)

    def _reconcile_dirty(self) -> None:
        while self._dirty:
            key = min(self._dirty)  # Products sort before Runs
            self._dirty.discard(key)
            kind, ns, name = key
            try:
                if kind == "Product":
                    self._reconcile_product(ns, name)
                else:
                    self._reconcile_run(ns, name)
            except ConflictError:
                self._due[key] = time.monotonic()  # someone wrote first: read again
            except Exception as exc:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = retry_delay(ERROR_BACKOFF_START, failures, ERROR_BACKOFF_MAX)
                self._report(
                    f"{kind.lower()} {name}: reconcile failed ({exc}); retry in {delay:g}s"
                )
                self._due[key] = time.monotonic() + delay
            else:
                self._failures.pop(key, None)
            self.passes += 1

    def _reconcile_product(self, ns: str, name: str) -> None:
        result = self._reconciler.product(ns, name)
        self._requeue(("Product", ns, name), result)

    def _reconcile_run(self, ns: str, name: str) -> None:
        key: Key = ("Run", ns, name)
        tracked = self._runs.get(key)
        if tracked is None:
            events = RunDirectory.of(self._runs_dir, ns, name).events
            tracked = self._runs[key] = _Tracked(str(events))
        self._progressed(tracked)
        before = self._cache.get(ns, name)
        result = self._reconciler.run(ns, name)
        after = self._cache.get(ns, name)
        self._moved(before, after)  # its own writes moved it in line
        if after is not None and (before is None or _version(before) != _version(after)):
            # Its product counts its runs: on the next step, once for all the runs of this one.
            self._due[("Product", ns, after.spec.product_ref.name)] = time.monotonic()
        tracked.fingerprint = _fingerprint(result.workloads)
        self._requeue(key, result)
        if result.acted:  # look again on the next step, as the watch of its write did
            self._due[key] = time.monotonic()
        if result.gone or result.settled:
            self._runs.pop(key, None)

    def _requeue(self, key: Key, result: PassResult) -> None:
        if result.requeue_after is not None and not result.gone:
            due = time.monotonic() + result.requeue_after
            self._due[key] = min(self._due.get(key, due), due)

    def _stages(self, ns: str, name: str) -> list[StageStatus]:
        tracked = self._runs.get(("Run", ns, name))
        return tracked.fold.stages() if tracked else []


def _version(run: Run) -> str | None:
    return run.metadata.resource_version


def _key(resource: Product | Run) -> Key:
    return (resource.kind, resource.metadata.namespace, resource.metadata.name)


#: What of a Product its runs' passes read: which product it is, its spec (the generation
#: counts its changes), and whether it is being deleted.
_ProductIdentity = tuple[str | None, int | None, object]


def _identity(product: Product) -> _ProductIdentity:
    meta = product.metadata
    return meta.uid, meta.generation, meta.deletion_timestamp


def _place(run: Run | None) -> Place | None:
    return place(run) if run is not None else None


def _done(run: Run) -> bool:
    phase = run.status.phase
    return phase is not None and phase.finished


def _fingerprint(workloads: list[WorkloadState]) -> tuple[tuple[str, bool], ...]:
    return tuple((w.name, w.running) for w in workloads)
