"""The selftest checks' verdicts over a scripted target (no factory runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factoryos.models import Run, RunPhase, StageState, StageStatus
from factoryos.runs import new_run
from factoryos.selftest import CheckFailedError, SelftestTarget
from factoryos.selftest.checks import check_events, check_resume, check_stop
from factoryos.store import LocalStore


class Scripted(SelftestTarget):
    """Runs that do what they are told at once; leftovers as scripted."""

    def __init__(self, tmp: Path, leftovers: list[list[str]] | None = None) -> None:
        super().__init__(LocalStore(tmp / "db"))
        self.phases: dict[str, RunPhase] = {}
        self.scripted_leftovers = leftovers or [[]]
        self.events_of: dict[str, list[dict[str, Any]]] = {}

    def start(self) -> None: ...

    def close(self) -> None: ...

    def product(self, name: str, example: str, **spec: Any) -> None: ...

    def run(self, product: str, name: str, pipeline: str | None = None) -> str:
        self.runs.append(name)
        # The uninterrupted run of the resume check finishes; the others wait in stage b.
        self.phases[name] = RunPhase.SUCCEEDED if name == "st-resume-1" else RunPhase.BUILDING
        return name

    def get(self, name: str) -> Run:
        run = new_run("p", "g", name=name)
        run.status.phase = self.phases[name]
        run.status.stages = [StageStatus(name="b", status=StageState.RUNNING)]
        return run

    def stop(self, name: str) -> None:
        self.phases[name] = RunPhase.STOPPED

    def resume(self, name: str) -> None:
        self.phases[name] = RunPhase.SUCCEEDED

    def leftovers(self, run: str) -> list[str]:
        return (
            self.scripted_leftovers.pop(0)
            if len(self.scripted_leftovers) > 1
            else self.scripted_leftovers[0]
        )

    def raw_events(self, run: str) -> list[dict[str, Any]]:
        return self.events_of.get(run, [])

    def branch_file(self, run: str, path: str, candidate: int = 0) -> str | None:
        return None


def test_stop_fails_naming_what_still_runs_after_the_grace(tmp_path: Path) -> None:
    target = Scripted(tmp_path, [["pod r-1 (Running)"]])
    target.stop_grace_seconds = 0.6
    with pytest.raises(CheckFailedError, match=r"1 process\(es\) of it still run: pod r-1"):
        check_stop(target)


def test_stop_passes_when_leftovers_end_within_the_grace(tmp_path: Path) -> None:
    target = Scripted(tmp_path, [["pod r-1 (Running)"], []])
    target.stop_grace_seconds = 5
    assert "nothing of the run left running" in check_stop(target)


def test_resume_says_when_outputs_cannot_be_compared(tmp_path: Path) -> None:
    target = Scripted(tmp_path)
    assert "branches not readable here" in check_resume(target)


def test_a_run_without_events_fails_the_events_check(tmp_path: Path) -> None:
    target = Scripted(tmp_path)
    target.run("p", "quiet")
    with pytest.raises(CheckFailedError, match="quiet has no events"):
        check_events(target)


def test_waiting_for_a_phase_stops_at_once_when_the_run_failed(tmp_path: Path) -> None:
    target = Scripted(tmp_path)
    target.run("p", "r")
    target.phases["r"] = RunPhase.FAILED
    with pytest.raises(CheckFailedError, match="r failed"):
        target.wait_phase("r", RunPhase.SUCCEEDED, timeout=30)
