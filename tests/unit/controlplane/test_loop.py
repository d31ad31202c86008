"""The local loop drives the reconcile functions: acts, writes status once, survives bad data.

A real ``LocalStore`` and an in-memory launcher; no processes.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factoryos.controlplane import LocalControlPlane, PassResult, loop
from factoryos.launch import WorkloadState
from factoryos.models import DesiredState, Product, Run, RunPhase, parse_as
from factoryos.reconcile import FINALIZER, PRODUCT_LABEL
from factoryos.store import LocalStore
from factoryos.workloads import (
    EvaluationReport,
    Outcome,
    RunDirectory,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
)


class FakeLauncher:
    retries_errors = False
    isolation = None

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.states: dict[str, WorkloadState] = {}
        self.reports: dict[str, dict[int, EvaluationReport]] = {}

    def start(self, spec: WorkloadSpec) -> None:
        self.started.append(spec.name)
        self.states[spec.name] = WorkloadState(
            spec.name, spec.candidate, spec.attempt, datetime.now(UTC), None, kind=spec.kind
        )

    def workloads(self, namespace: str, run: str) -> list[WorkloadState]:
        return [s for name, s in self.states.items() if name.rsplit("-", 2)[0] == run]

    def stop(self, namespace: str, run: str, name: str, grace_seconds: float) -> None:
        self.stopped.append(name)

    def evaluations(self, namespace: str, run: str) -> dict[int, EvaluationReport]:
        return self.reports.get(run, {})

    def blocker(self, spec: WorkloadSpec) -> tuple[str, str] | None:
        return None

    def finish(self, name: str, status: WorkloadStatus) -> None:
        s = self.states[name]
        result = WorkloadResult(status=status, finished_at=datetime.now(UTC))
        self.states[name] = WorkloadState(
            s.name, s.candidate, s.attempt, s.started_at, result, kind=s.kind
        )

    def evaluated(self, run: str, iteration: int, outcome: Outcome) -> None:
        """The evaluation workload of ``iteration`` ended with ``outcome`` and its report."""
        report = EvaluationReport(
            iteration=iteration, outcome=outcome, message=f"{outcome.value}", candidates=[]
        )
        self.reports.setdefault(run, {})[iteration] = report
        ok = outcome in {Outcome.ACCEPTED, Outcome.UNGATED}
        self.finish(
            f"{run}-e{iteration}-1", WorkloadStatus.SUCCEEDED if ok else WorkloadStatus.FAILED
        )


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def plane(store: LocalStore, launcher: FakeLauncher, tmp_path: Path) -> LocalControlPlane:
    lines: list[str] = []
    plane = LocalControlPlane(
        store, launcher, tmp_path / "runs", report=lines.append, repo_check=lambda _p: None
    )
    plane.reports = lines  # type: ignore[attr-defined]
    plane.resync()
    return plane


def add(store: LocalStore, *names: str) -> None:
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/r"}}}))
    for name in names:
        store.create(
            parse_as(
                Run,
                {"metadata": {"name": name}, "spec": {"productRef": {"name": "p"}, "goal": "g"}},
            )
        )


def settle(plane: LocalControlPlane, steps: int = 4) -> None:
    for _ in range(steps):
        plane.step()


def test_a_new_run_is_owned_started_and_building(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
) -> None:
    add(store, "r")
    settle(plane)
    run = store.get(Run, "r")
    assert launcher.started == ["r-c0-1"]
    assert run.status.phase is RunPhase.BUILDING
    assert FINALIZER in run.metadata.finalizers
    assert run.metadata.labels[PRODUCT_LABEL] == "p"
    assert run.metadata.owner_references[0].name == "p"
    assert store.get(Product, "p").status.active_runs == ["r"]


def test_nothing_changed_means_nothing_written(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
) -> None:
    add(store, "r")
    settle(plane)
    writes, version = plane.status_writes, store.version()
    plane.resync()  # reconcile everything again, with the world unchanged
    settle(plane)
    assert plane.status_writes == writes and store.version() == version
    assert launcher.started == ["r-c0-1"]


def test_our_own_status_write_coming_back_through_the_watch_costs_no_pass(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    add(store, "r")
    settle(plane)
    passes: list[str] = []
    reconcile = plane._reconciler.run

    def counted(ns: str, name: str) -> PassResult:
        passes.append(name)
        return reconcile(ns, name)

    monkeypatch.setattr(plane._reconciler, "run", counted)
    writes, version = plane.status_writes, store.version()
    launcher.finish("r-c0-1", WorkloadStatus.FAILED)
    plane.resync()
    plane.step()  # the pass that sees the failure writes the run's status ...
    assert plane.status_writes > writes and store.version() > version
    assert passes == ["r"]
    plane.step()  # ... and the watch brings the write back: nothing to look at again
    plane.step()
    assert passes == ["r"]
    # Someone else's write is looked at.
    run = store.get(Run, "r")
    run.metadata.labels["team"] = "a"
    store.update(run)
    plane.step()  # the watch brings it ...
    plane.step()  # ... and it is reconciled
    assert passes == ["r", "r"]


def test_a_finished_workload_finishes_the_run(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
) -> None:
    add(store, "r")
    settle(plane)
    launcher.finish("r-c0-1", WorkloadStatus.SUCCEEDED)
    plane.resync()  # what the process poll would notice
    settle(plane)
    assert launcher.started == ["r-c0-1", "r-e1-1"]
    assert store.get(Run, "r").status.phase is RunPhase.EVALUATING
    launcher.evaluated("r", 1, Outcome.UNGATED)
    plane.resync()
    settle(plane)
    assert store.get(Run, "r").status.phase is RunPhase.SUCCEEDED
    assert store.get(Product, "p").status.active_runs == []


def test_an_unreadable_event_line_is_reported_and_skipped(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher, tmp_path: Path
) -> None:
    events = RunDirectory.of(tmp_path / "runs", "default", "r").events
    events.parent.mkdir(parents=True)
    events.write_text("this is not an event\n")
    add(store, "r")
    settle(plane)
    assert launcher.started == ["r-c0-1"]
    assert any("skipped a line" in line for line in plane.reports)  # type: ignore[attr-defined]


def test_a_failing_reconcile_is_reported_retried_later_and_does_not_stop_the_others(
    store: LocalStore, launcher: FakeLauncher, tmp_path: Path
) -> None:
    def check(product: Product) -> str | None:
        raise RuntimeError("disk on fire")

    lines: list[str] = []
    plane = LocalControlPlane(store, launcher, tmp_path / "runs", report=lines.append,
                              repo_check=check)  # fmt: skip
    plane.resync()
    add(store, "r")
    settle(plane)
    assert launcher.started == ["r-c0-1"]  # the run went on
    failures = [line for line in lines if "product p: reconcile failed (disk on fire)" in line]
    assert failures and "retry in 1s" in failures[0]  # changes retry it at once, backing off
    delays = [float(line.rsplit("retry in ", 1)[1].rstrip("s")) for line in failures]
    assert delays == sorted(delays) and len(set(delays)) == len(delays)


def test_a_resource_held_only_by_someone_elses_finalizer_is_left_alone(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
) -> None:
    add(store, "r")
    settle(plane)
    launcher.finish("r-c0-1", WorkloadStatus.STOPPED)
    run = store.get(Run, "r")
    run.metadata.finalizers.append("example.com/other")
    store.update(run)
    store.delete(Run, "r")
    settle(plane)  # releases ours; the other one still holds the run
    held = store.get(Run, "r")
    assert held.metadata.finalizers == ["example.com/other"]
    plane.resync()
    settle(plane)  # nothing left to do, and no error
    assert not any("reconcile failed" in line for line in plane.reports)  # type: ignore[attr-defined]


def test_a_retry_says_how_the_attempt_before_it_ended(
    plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
) -> None:
    add(store, "r")
    settle(plane)
    lost = WorkloadResult(
        status=WorkloadStatus.ERROR, reason="the runner is gone (lost)", finished_at=_now()
    )
    s = launcher.states["r-c0-1"]
    launcher.states["r-c0-1"] = WorkloadState(s.name, 0, 1, s.started_at, lost)
    plane.resync()
    settle(plane)
    assert launcher.started == ["r-c0-1", "r-c0-2"]
    assert (
        "run r: started workload r-c0-2, from its checkpoint: r-c0-1 ended in an error "
        "(the runner is gone (lost))" in plane.reports  # type: ignore[attr-defined]
    )


class _Ticks:
    """A clock that jumps by ``jump`` seconds on its third reading (the process was paused)."""

    def __init__(self, jump: float) -> None:
        self.readings = [0.0, 0.5, 0.5 + jump + 0.5]

    def monotonic(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


class _TwoWakeups(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.left = 2

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        return self.left < 0


@pytest.mark.parametrize(("jump", "told"), [(5.0, True), (1.0, False)])
def test_a_pause_of_the_process_is_reported(
    plane: LocalControlPlane, monkeypatch: pytest.MonkeyPatch, jump: float, told: bool
) -> None:
    monkeypatch.setattr(loop, "time", _Ticks(jump))
    plane._watch_pauses(_TwoWakeups())
    said = [line for line in plane.reports if "paused" in line]  # type: ignore[attr-defined]
    expected = f"the control plane was paused for {jump:.0f}s (stopped, suspended or starved "
    assert [line.startswith(expected) for line in said] == ([True] if told else [])


def _now() -> datetime:
    return datetime.now(UTC)


# -- the concurrency queue, kept incrementally ------------------------------------------


def queued(store: LocalStore, concurrency: int, *names: str) -> None:
    """A product allowing ``concurrency`` active runs, and runs created in ``names``' order."""
    spec = {"repo": {"path": "/r"}, "concurrency": concurrency}
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": spec}))
    for name in names:
        run = {"metadata": {"name": name}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
        store.create(parse_as(Run, run))


def message(store: LocalStore, name: str) -> str:
    return store.get(Run, name).status.message or ""


def stop(store: LocalStore, name: str) -> None:
    run = store.get(Run, name)
    run.spec.desired_state = DesiredState.STOPPED
    store.update(run)


def reconciled_runs(plane: LocalControlPlane, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the runs ``plane`` passes over from now on, in order."""
    seen: list[str] = []
    reconciler = plane._reconciler
    original = reconciler.run

    def run(ns: str, name: str) -> PassResult:
        seen.append(name)
        return original(ns, name)

    monkeypatch.setattr(reconciler, "run", run)
    return seen


class TestQueue:
    def test_only_the_oldest_runs_start_and_the_rest_are_told_their_place(
        self, plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
    ) -> None:
        queued(store, 2, "a", "b", "c", "d")
        settle(plane)
        assert launcher.started == ["a-c0-1", "b-c0-1"]
        assert message(store, "c").startswith("queued (1 of 2)")
        assert message(store, "d").startswith("queued (2 of 2)")
        assert "active: a, b" in message(store, "d")

    def test_a_run_that_stops_lets_the_next_in_line_start(
        self, plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
    ) -> None:
        queued(store, 2, "a", "b", "c", "d")
        settle(plane)
        stop(store, "a")
        settle(plane)
        assert launcher.started == ["a-c0-1", "b-c0-1", "c-c0-1"]
        assert message(store, "d").startswith("queued (1 of 1)")
        assert "active: b, c" in message(store, "d")

    def test_a_deleted_waiting_run_moves_the_ones_behind_it_up(
        self, plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
    ) -> None:
        queued(store, 1, "a", "b", "c")
        settle(plane)
        assert message(store, "c").startswith("queued (2 of 2)")
        store.delete(Run, "b")
        settle(plane)
        assert message(store, "c").startswith("queued (1 of 1)")
        assert launcher.started == ["a-c0-1"]

    def test_raising_the_products_concurrency_starts_waiting_runs(
        self, plane: LocalControlPlane, store: LocalStore, launcher: FakeLauncher
    ) -> None:
        queued(store, 1, "a", "b", "c")
        settle(plane)
        product = store.get(Product, "p")
        product.spec.concurrency = 3
        store.update(product)
        settle(plane)
        assert launcher.started == ["a-c0-1", "b-c0-1", "c-c0-1"]

    def test_a_restarted_control_plane_counts_the_same(
        self, store: LocalStore, launcher: FakeLauncher, tmp_path: Path
    ) -> None:
        queued(store, 2, "a", "b", "c", "d")
        first = LocalControlPlane(store, launcher, tmp_path / "runs", repo_check=lambda _p: None)
        first.resync()
        settle(first)
        told = message(store, "d")
        # A new control plane (the first was killed) adopts the running workloads.
        second = LocalControlPlane(store, launcher, tmp_path / "runs", repo_check=lambda _p: None)
        second.resync()
        settle(second)
        assert launcher.started == ["a-c0-1", "b-c0-1"]
        assert message(store, "d") == told
        stop(store, "b")
        settle(second)
        assert launcher.started == ["a-c0-1", "b-c0-1", "c-c0-1"]

    def test_a_change_to_only_a_products_status_passes_over_no_run(
        self,
        plane: LocalControlPlane,
        store: LocalStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        queued(store, 1, "a", "b")
        settle(plane)
        passed = reconciled_runs(plane, monkeypatch)
        product = store.get(Product, "p")
        product.status.last_run = "another"
        store.update_status(product)
        settle(plane)
        assert passed == []

    def test_runs_arriving_one_by_one_cost_a_few_passes_each_not_one_per_sibling(
        self,
        plane: LocalControlPlane,
        store: LocalStore,
        launcher: FakeLauncher,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        names = [f"r{i:02d}" for i in range(30)]
        passed = reconciled_runs(plane, monkeypatch)
        queued(store, 30)
        for name in names:  # as `sf apply` writes them while the loop goes on
            run = {"metadata": {"name": name}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
            store.create(parse_as(Run, run))
            plane.step()
        settle(plane)
        assert len(launcher.started) == 30
        # Each run is passed over when it arrives, after its own writes and when its start
        # asks to be looked at again; before, every change to a run sent each unfinished
        # sibling through a pass (over 30 each here).
        assert max(passed.count(n) for n in names) <= 5
