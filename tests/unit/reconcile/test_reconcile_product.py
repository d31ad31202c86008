"""``reconcile_product``: repository health, active runs, and deletion of its runs first."""

from __future__ import annotations

from builders import at, product, run

from factoryos.models import DesiredState, Product, ProductPhase, ProductStatus, RunPhase
from factoryos.reconcile import ProductDecision, ProductObservation, reconcile_product


def conditions(status: ProductStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in status.conditions}


def again(p: Product, decision: ProductDecision, seen: ProductObservation) -> ProductDecision:
    """Reconcile ``p`` once more, with the status the last pass wrote."""
    p = p.model_copy(deep=True)
    p.status = decision.status
    return reconcile_product(p, seen)


class TestHealth:
    def test_ready_with_its_active_and_last_runs(self) -> None:
        runs = [run("old", created=1, phase=RunPhase.SUCCEEDED), run("new", created=2)]
        decision = reconcile_product(product(), ProductObservation(runs, None, at(10)))
        status = decision.status
        assert status.phase is ProductPhase.READY
        assert status.active_runs == ["new"] and status.last_run == "new"
        assert status.observed_generation == 1
        assert conditions(status) == {
            "Ready": ("True", "RepositoryAvailable"),
            "Reconciling": ("False", "RepositoryAvailable"),
            "Stalled": ("False", "RepositoryAvailable"),
        }
        assert {c.message for c in status.conditions} == {"1 active run(s)"}
        assert decision.delete_runs == [] and not decision.release

    def test_a_repository_problem_is_reported_as_stalled(self) -> None:
        decision = reconcile_product(
            product(), ProductObservation([], "repository /r does not exist", at(10))
        )
        by_type = {c.type: c for c in decision.status.conditions}
        assert decision.status.phase is ProductPhase.FAILED
        assert conditions(decision.status) == {
            "Ready": ("False", "RepositoryUnavailable"),
            "Reconciling": ("False", "RepositoryUnavailable"),
            "Stalled": ("True", "RepositoryUnavailable"),
        }
        assert by_type["Stalled"].message == "repository /r does not exist"
        assert not decision.release

    def test_conditions_carry_the_generation(self) -> None:
        p = product()
        p.metadata.generation = 4
        decision = reconcile_product(p, ProductObservation([], None, at(1)))
        assert decision.status.observed_generation == 4
        assert {c.observed_generation for c in decision.status.conditions} == {4}

    def test_the_same_inputs_later_give_the_same_status(self) -> None:
        p, runs = product(), [run("a", created=1)]
        first = reconcile_product(p, ProductObservation(runs, None, at(10)))
        second = again(p, first, ProductObservation(runs, None, at(99)))
        assert second.status == first.status
        assert {c.last_transition_time for c in second.status.conditions} == {at(10)}

    def test_only_conditions_that_change_move_their_transition_time(self) -> None:
        p = product()
        broken = reconcile_product(p, ProductObservation([], "no such repository", at(10)))
        fixed = again(p, broken, ProductObservation([], None, at(20)))
        times = {c.type: c.last_transition_time for c in fixed.status.conditions}
        assert times == {"Ready": at(20), "Reconciling": at(10), "Stalled": at(20)}
        assert fixed.status.phase is ProductPhase.READY


class TestRuns:
    def test_active_runs_are_the_unfinished_ones_by_name(self) -> None:
        runs = [
            run("z-building", phase=RunPhase.BUILDING),
            run("a-new"),
            run("m-pending", phase=RunPhase.PENDING),
            run("done", phase=RunPhase.SUCCEEDED),
            run("failed", phase=RunPhase.FAILED),
            run("stopped", phase=RunPhase.STOPPED, desired=DesiredState.STOPPED),
        ]
        decision = reconcile_product(product(), ProductObservation(runs, None, at(1)))
        assert decision.status.active_runs == ["a-new", "m-pending", "z-building"]
        assert decision.status.conditions[0].message == "3 active run(s)"

    def test_last_run_is_the_newest_by_creation_time(self) -> None:
        runs = [run("b", created=3), run("z", created=1), run("a", created=2)]
        decision = reconcile_product(product(), ProductObservation(runs, None, at(5)))
        assert decision.status.last_run == "b"

    def test_last_run_is_kept_when_no_run_is_left(self) -> None:
        p = product()
        p.status.last_run = "gone"
        decision = reconcile_product(p, ProductObservation([], None, at(5)))
        assert decision.status.last_run == "gone" and decision.status.active_runs == []


class TestDeletion:
    def test_deletion_deletes_runs_first_and_releases_when_none_is_left(self) -> None:
        p = product()
        p.metadata.deletion_timestamp = at(5)
        going = run("going")
        going.metadata.deletion_timestamp = at(5)
        busy = reconcile_product(p, ProductObservation([run("stay"), going], None, at(10)))
        assert busy.delete_runs == ["stay"] and not busy.release
        done = reconcile_product(p, ProductObservation([], None, at(11)))
        assert done.delete_runs == [] and done.release

    def test_runs_already_being_deleted_are_waited_for(self) -> None:
        p = product()
        p.metadata.deletion_timestamp = at(5)
        going = run("going", phase=RunPhase.BUILDING)
        going.metadata.deletion_timestamp = at(6)
        decision = reconcile_product(p, ProductObservation([going], None, at(10)))
        assert decision.delete_runs == [] and not decision.release

    def test_deletion_says_so_in_its_conditions(self) -> None:
        p = product()
        p.metadata.deletion_timestamp = at(5)
        decision = reconcile_product(p, ProductObservation([run("a"), run("b")], None, at(10)))
        assert conditions(decision.status)["Ready"] == ("False", "Deleting")
        assert conditions(decision.status)["Reconciling"] == ("True", "Deleting")
        assert "2 run(s)" in decision.status.conditions[0].message
        assert decision.delete_runs == ["a", "b"]
