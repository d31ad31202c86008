"""``admit``: Product.spec.concurrency as a FIFO queue of runs."""

from __future__ import annotations

from builders import at, run

from factoryos.models import DesiredState, RunPhase
from factoryos.reconcile import Admission, admit


def admitted(decisions: dict[str, Admission]) -> dict[str, bool]:
    return {name: d.admitted for name, d in decisions.items()}


class TestFifo:
    def test_oldest_waiting_runs_get_the_free_slots(self) -> None:
        runs = [run("c", created=3), run("a", created=1), run("b", created=2)]
        decisions = admit(runs, "p", concurrency=2)
        assert admitted(decisions) == {"a": True, "b": True, "c": False}

    def test_age_not_name_decides(self) -> None:
        runs = [run("aaa", created=2), run("zzz", created=1)]
        assert admitted(admit(runs, "p", concurrency=1)) == {"zzz": True, "aaa": False}

    def test_runs_created_in_the_same_second_go_by_name(self) -> None:
        runs = [run("b", created=1), run("a", created=1)]
        assert admitted(admit(runs, "p", concurrency=1)) == {"a": True, "b": False}

    def test_a_run_without_a_creation_time_goes_last(self) -> None:
        undated = run("a")
        undated.metadata.creation_timestamp = None
        runs = [undated, run("z", created=9)]
        assert admitted(admit(runs, "p", concurrency=1)) == {"z": True, "a": False}

    def test_queued_runs_are_told_their_position(self) -> None:
        runs = [run(n, created=i) for i, n in enumerate(["a", "b", "c", "d"])]
        decisions = admit(runs, "p", concurrency=2)
        assert decisions["c"].reason.startswith("queued (1 of 2)")
        assert decisions["d"].reason.startswith("queued (2 of 2)")
        assert "product p allows 2 active run(s) at once" in decisions["d"].reason
        assert decisions["a"].reason == decisions["b"].reason == ""


class TestSlots:
    def test_runs_under_way_keep_their_slots_and_are_named_in_the_reason(self) -> None:
        runs = [run("new", created=1), run("busy", created=9, phase=RunPhase.BUILDING)]
        decisions = admit(runs, "p", concurrency=1)
        assert decisions["busy"].admitted and not decisions["new"].admitted
        assert "queued (1 of 1)" in decisions["new"].reason
        assert "active: busy" in decisions["new"].reason
        assert "1 active run(s)" in decisions["new"].reason

    def test_every_active_phase_holds_a_slot(self) -> None:
        runs = [
            run("b", phase=RunPhase.BUILDING, created=5),
            run("s", phase=RunPhase.SCREENING, created=6),
            run("e", phase=RunPhase.EVALUATING, created=7),
            run("g", phase=RunPhase.GATING, created=8),
            run("waits", created=1),
        ]
        decisions = admit(runs, "p", concurrency=4)
        assert admitted(decisions) == {"b": True, "s": True, "e": True, "g": True, "waits": False}
        assert "active: b, s, e, g" in decisions["waits"].reason

    def test_a_lowered_limit_never_stops_runs_under_way(self) -> None:
        runs = [
            run("x", phase=RunPhase.BUILDING, created=5),
            run("y", phase=RunPhase.BUILDING, created=6),
            run("z", created=1),
        ]
        decisions = admit(runs, "p", concurrency=1)
        assert admitted(decisions) == {"x": True, "y": True, "z": False}
        assert decisions["z"].reason.startswith("queued (1 of 1)")

    def test_a_pending_run_holds_no_slot(self) -> None:
        runs = [run("older", created=1), run("pending", created=2, phase=RunPhase.PENDING)]
        assert admitted(admit(runs, "p", concurrency=1)) == {"older": True, "pending": False}


class TestWhoCounts:
    def test_finished_stopped_and_other_products_runs_do_not_count(self) -> None:
        runs = [
            run("done", phase=RunPhase.SUCCEEDED),
            run("failed", phase=RunPhase.FAILED),
            run("stopped", phase=RunPhase.STOPPED, desired=DesiredState.STOPPED),
            run("theirs", product="q", phase=RunPhase.BUILDING),
            run("mine", created=5),
        ]
        decisions = admit(runs, "p", concurrency=1)
        assert set(decisions) == {"mine"} and decisions["mine"].admitted

    def test_a_run_asked_to_stop_gives_up_its_slot(self) -> None:
        runs = [
            run("stopping", phase=RunPhase.BUILDING, desired=DesiredState.STOPPED),
            run("next", created=5),
        ]
        assert admitted(admit(runs, "p", concurrency=1)) == {"next": True}

    def test_a_run_being_deleted_gives_up_its_slot(self) -> None:
        going = run("going", phase=RunPhase.BUILDING)
        going.metadata.deletion_timestamp = at(3)
        assert admitted(admit([going, run("next", created=5)], "p", concurrency=1)) == {
            "next": True
        }

    def test_a_resumed_run_queues_by_its_age(self) -> None:
        runs = [
            run("resumed", phase=RunPhase.STOPPED, created=1),
            run("busy", phase=RunPhase.BUILDING, created=2),
            run("newer", created=3),
        ]
        decisions = admit(runs, "p", concurrency=2)
        assert admitted(decisions) == {"busy": True, "resumed": True, "newer": False}

    def test_no_runs_no_decisions(self) -> None:
        assert admit([], "p", concurrency=1) == {}
