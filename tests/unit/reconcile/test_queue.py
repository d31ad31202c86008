"""``admit``: Product.spec.concurrency as a FIFO queue of runs."""

from __future__ import annotations

from builders import run

from factoryos.models import DesiredState, RunPhase
from factoryos.reconcile import admit


def test_oldest_waiting_runs_get_the_free_slots() -> None:
    runs = [run("c", created=3), run("a", created=1), run("b", created=2)]
    decisions = admit(runs, "p", concurrency=2)
    assert {n: d.admitted for n, d in decisions.items()} == {"a": True, "b": True, "c": False}


def test_runs_under_way_keep_their_slots_and_are_named_in_the_reason() -> None:
    runs = [run("new", created=1), run("busy", created=9, phase=RunPhase.BUILDING)]
    decisions = admit(runs, "p", concurrency=1)
    assert decisions["busy"].admitted and not decisions["new"].admitted
    assert "queued (1 of 1)" in decisions["new"].reason
    assert "active: busy" in decisions["new"].reason
    assert "1 active run(s)" in decisions["new"].reason


def test_finished_stopped_and_other_products_runs_do_not_count() -> None:
    runs = [
        run("done", phase=RunPhase.SUCCEEDED),
        run("failed", phase=RunPhase.FAILED),
        run("stopped", phase=RunPhase.STOPPED, desired=DesiredState.STOPPED),
        run("theirs", product="q", phase=RunPhase.BUILDING),
        run("mine", created=5),
    ]
    decisions = admit(runs, "p", concurrency=1)
    assert set(decisions) == {"mine"} and decisions["mine"].admitted
