"""The operator against a real API server: it looks again when the core asked, and a Run
whose input cannot work stalls once instead of being retried.

Each Run's passes are counted by wrapping ``Reconciler.run`` (the operator runs
embedded, in this process); the wrapper calls the real pass and changes
nothing else, except where a test makes the core ask for a requeue.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from kubernetes import client
from test_operator import EmbeddedOperator, add_product, add_run, eventually, jobs

from factoryos.controlplane import PassResult, Reconciler
from factoryos.models import Condition, Run
from factoryos.store import modify
from factoryos.store.apiserver import KubeStore


class Passes:
    """When the operator's passes of one run began."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def since(self, start: float) -> list[float]:
        return [t for t in self.times if t >= start]


def count_passes(
    monkeypatch: pytest.MonkeyPatch, run: str, requeue_after: float | None = None
) -> Passes:
    """Record every pass of ``run``; with ``requeue_after``, its core asks for that requeue."""
    passes = Passes()
    real = Reconciler.run

    def counted(self: Reconciler, ns: str, name: str) -> PassResult:
        if name != run:
            return real(self, ns, name)
        passes.times.append(time.monotonic())
        result = real(self, ns, name)
        return result if requeue_after is None else replace(result, requeue_after=requeue_after)

    monkeypatch.setattr(Reconciler, "run", counted)
    return passes


@pytest.fixture
def start_operator(
    operator_kubeconfig: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], EmbeddedOperator]]:
    monkeypatch.setenv("KUBECONFIG", str(operator_kubeconfig))
    started: list[EmbeddedOperator] = []

    def start() -> EmbeddedOperator:
        op = EmbeddedOperator(namespace)
        op.start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


def stalled(store: KubeStore, ns: str, name: str) -> Condition | None:
    run = store.get(Run, name, ns)
    found = next((c for c in run.status.conditions if c.type == "Stalled"), None)
    return found if found is not None and found.status.value == "True" else None


@pytest.mark.slow
def test_a_run_is_reconciled_again_when_its_core_asked_not_at_the_resync(
    start_operator: Callable[[], EmbeddedOperator], store: KubeStore, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    passes = count_passes(monkeypatch, "r", requeue_after=2.0)
    start_operator()
    add_run(store, namespace, product="later")  # no product: it stalls and nothing else moves
    eventually(lambda: stalled(store, namespace, "r"), "Stalled ProductNotFound")
    time.sleep(1.0)  # let the passes the run's own writes caused go by

    start = time.monotonic()
    time.sleep(7.0)
    beats = passes.since(start)
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    print(f"passes 2 s apart as asked: measured gaps {[round(g, 2) for g in gaps]}")
    assert len(beats) >= 3, f"only {len(beats)} passes in 7 s (the resync is 30 s)"
    assert all(1.9 <= g <= 3.0 for g in gaps), gaps


@pytest.mark.slow
def test_a_run_the_api_server_calls_invalid_stalls_once_until_its_spec_changes(
    start_operator: Callable[[], EmbeddedOperator], store: KubeStore, namespace: str,
    batch: client.BatchV1Api, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A valid Run name, but too long for its Job's pod label (<run>-c0-1 > 63 characters).
    name = "a-run-whose-name-leaves-no-room-for-the-suffix-of-its-job-xx"
    assert len(name) == 60
    passes = count_passes(monkeypatch, name)
    start_operator()
    add_product(store, namespace)
    add_run(store, namespace, name)

    condition = eventually(lambda: stalled(store, namespace, name), "Stalled")
    run = store.get(Run, name, namespace)
    assert condition.reason == "ValidationFailed"
    assert "must be no more than 63" in condition.message
    assert condition.observed_generation == run.metadata.generation == 1
    assert run.status.observed_generation == 1 and run.status.message == condition.message
    assert jobs(batch, namespace) == []

    time.sleep(1.0)  # the passes its own writes (finalizers, the stall) caused
    settled = len(passes.times)
    time.sleep(6.0)
    assert len(passes.times) == settled, "a stalled run is not retried while nothing changes"

    def new_goal(run: Run) -> None:
        run.spec.goal = "a new goal"

    modify(store, Run, name, namespace, new_goal)
    eventually(
        lambda: (s := stalled(store, namespace, name)) and s.observed_generation == 2,
        "Stalled again at generation 2",
    )
    time.sleep(1.0)
    assert 1 <= len(passes.times) - settled <= 3, "the new spec was tried, once or so"
