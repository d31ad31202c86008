"""Killing or stopping the control plane mid-run loses nothing.

A killed control plane leaves its runner processes running; the next one
adopts them. Ctrl-C stops the runners gracefully; the next one resumes them
from their checkpoints. Either way the run converges and its event log has
every event exactly once.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from factory_support import Factory, marks_step
from test_controlplane_runs import _phase, _stage_running

from factoryos.events import EventType, validate_events
from factoryos.kilroy.procs import run_processes
from factoryos.models import RunPhase

#: Slow, about 10 s a test (restarts the control plane mid-run): not in `make test-fast`.
#: Its pipelines write marks (or wait on gates) outside their candidate: no sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]


def _setup(factory: Factory, marks: Path) -> None:
    steps = {s: marks_step(marks, s, 2) for s in ("a", "b", "c")}
    factory.sf("product", "add", "p", "--repo", str(factory.repo("p", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "p", "--goal", "g", "--name", "p-1")
    factory.wait_run("p-1", _stage_running("a"), timeout=30)


def _each_once(factory: Factory, run: str) -> None:
    events = factory.events(run)
    assert validate_events(factory.raw_events(run)) == []
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert len({e.id for e in events}) == len(events)
    finished = [e for e in events if e.type == EventType.RUN_FINISHED]
    assert finished[-1].data["status"] == "success"


def test_a_killed_control_plane_is_adopted_by_the_next(factory: Factory, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    _setup(factory, marks)

    factory.down(signal.SIGKILL)
    assert run_processes(factory.run_dir("p-1").logs_root(0)), "the runner should outlive it"
    factory.up()

    run = factory.wait_run("p-1", _phase(RunPhase.SUCCEEDED))
    assert marks.read_text().split() == ["a", "b", "c"]
    _each_once(factory, "p-1")
    workloads = sorted(p.name for p in factory.run_dir("p-1").workloads.iterdir())
    assert workloads == ["p-1-c0-1", "p-1-e1-1"], "one build, then one evaluation"
    assert all(s.attempt == 1 for s in run.status.stages)


def test_ctrl_c_stops_runs_and_the_next_start_resumes_them(
    factory: Factory, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    _setup(factory, marks)

    factory.down(signal.SIGINT)
    assert run_processes(factory.run_dir("p-1").logs_root(0)) == []
    assert factory.run("p-1").status.phase is RunPhase.BUILDING
    factory.up()

    factory.wait_run("p-1", _phase(RunPhase.SUCCEEDED))
    assert marks.read_text().split() == ["a", "b", "c"]
    _each_once(factory, "p-1")
    assert sorted(p.name for p in factory.run_dir("p-1").workloads.iterdir()) == [
        "p-1-c0-1",
        "p-1-c0-2",
        "p-1-e1-1",
    ]
