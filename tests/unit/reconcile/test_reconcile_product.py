"""``reconcile_product``: repository health, active runs, and deletion of its runs first."""

from __future__ import annotations

from builders import at, product, run

from factoryos.models import ProductPhase, RunPhase
from factoryos.reconcile import ProductObservation, reconcile_product


def test_ready_with_its_active_and_last_runs() -> None:
    runs = [run("old", created=1, phase=RunPhase.SUCCEEDED), run("new", created=2)]
    decision = reconcile_product(product(), ProductObservation(runs, None, at(10)))
    status = decision.status
    assert status.phase is ProductPhase.READY
    assert status.active_runs == ["new"] and status.last_run == "new"
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ready.status.value == "True" and ready.observed_generation == 1


def test_a_repository_problem_is_reported_as_stalled() -> None:
    decision = reconcile_product(
        product(), ProductObservation([], "repository /r does not exist", at(10))
    )
    by_type = {c.type: c for c in decision.status.conditions}
    assert decision.status.phase is ProductPhase.FAILED
    assert by_type["Stalled"].status.value == "True"
    assert by_type["Stalled"].message == "repository /r does not exist"


def test_deletion_deletes_runs_first_and_releases_when_none_is_left() -> None:
    p = product()
    p.metadata.deletion_timestamp = at(5)
    going = run("going")
    going.metadata.deletion_timestamp = at(5)
    busy = reconcile_product(p, ProductObservation([run("stay"), going], None, at(10)))
    assert busy.delete_runs == ["stay"] and not busy.release
    done = reconcile_product(p, ProductObservation([], None, at(11)))
    assert done.delete_runs == [] and done.release
