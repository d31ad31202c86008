"""A Run's ``Isolated`` condition: whether its candidates run sandboxed, from the launcher."""

from __future__ import annotations

from dataclasses import replace

from builders import run, seen

from factoryos.models import Condition, ConditionType, RunPhase
from factoryos.reconcile import reconcile_run
from factoryos.workloads import Sandboxing

SANDBOXED = Sandboxing(True, "Sandboxed", "candidates run in a bubblewrap sandbox")
NONE = Sandboxing(False, "IsolationUnavailable", "bubblewrap (bwrap) is not installed")


def isolated(conditions: list[Condition]) -> Condition | None:
    return next((c for c in conditions if c.type == ConditionType.ISOLATED), None)


def test_a_sandboxed_factory_says_so_next_to_the_four_conditions() -> None:
    decision = reconcile_run(run(), replace(seen(), isolation=SANDBOXED))
    found = isolated(decision.status.conditions)
    assert found is not None and (found.status.value, found.reason) == ("True", "Sandboxed")
    assert len(decision.status.conditions) == 5
    assert decision.status.phase is RunPhase.BUILDING, "the run goes on as before"


def test_without_a_sandbox_the_run_goes_on_and_says_what_it_means() -> None:
    decision = reconcile_run(run(), replace(seen(), isolation=NONE))
    found = isolated(decision.status.conditions)
    assert found is not None and (found.status.value, found.reason) == (
        "False",
        "IsolationUnavailable",
    )
    assert "NOT sandboxed: bubblewrap (bwrap) is not installed" in found.message
    assert "holdouts" in found.message and "spec.isolation: required" in found.message
    assert decision.actions, "a product that does not require isolation still runs"


def test_a_platform_that_isolates_by_itself_sets_no_condition() -> None:
    decision = reconcile_run(run(), seen())
    assert isolated(decision.status.conditions) is None


def test_a_finished_run_keeps_what_it_ran_with() -> None:
    first = reconcile_run(run(), replace(seen(), isolation=SANDBOXED))
    done = run(phase=RunPhase.SUCCEEDED)
    done.status.conditions = first.status.conditions
    later = reconcile_run(done, replace(seen(), isolation=NONE))
    found = isolated(later.status.conditions)
    assert found is not None and found.reason == "Sandboxed"
