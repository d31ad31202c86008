"""Runs through the embedded control plane: concurrent products, the queue, stop, resume.

Everything is real: ``sf up`` as its own process, ``sf`` commands as a user
types them, runner processes, Kilroy, git.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from factory_support import Factory, marks_step

from factoryos.events import EventType, validate_events
from factoryos.kilroy.procs import pid_alive, run_processes
from factoryos.models import Run, RunPhase, StageState

#: Slow, 7-11 s a test (runs real products through the control plane): not in `make test-fast`.
#: Its pipelines write marks outside their candidate: no sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]


def _phase(phase: RunPhase):  # type: ignore[no-untyped-def]
    return lambda run: run.status.phase is phase


def _stage_running(stage: str):  # type: ignore[no-untyped-def]
    return lambda run: any(
        s.name == stage and s.status is StageState.RUNNING for s in run.status.stages
    )


def _started(factory: Factory, run: str, stage: str) -> int:
    return sum(
        1 for e in factory.events(run) if e.type == EventType.STAGE_STARTED and e.subject == stage
    )


def test_two_products_run_at_once_and_both_succeed(factory: Factory, tmp_path: Path) -> None:
    marks = {p: tmp_path / f"{p}.marks" for p in ("alpha", "beta")}
    for p in ("alpha", "beta"):
        steps = {s: marks_step(marks[p], s, 1) for s in ("one", "two", "three")}
        factory.sf("product", "add", p, "--repo", str(factory.repo(p, {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "alpha", "--goal", "a", "--name", "alpha-1")
    factory.sf("run", "start", "beta", "--goal", "b", "--name", "beta-1")

    done = {r: factory.wait_run(r, _phase(RunPhase.SUCCEEDED)) for r in ("alpha-1", "beta-1")}

    for name, run in done.items():
        assert [s.status for s in run.status.stages if s.name != "start"] == [
            StageState.SUCCEEDED
        ] * 3, name
        events = factory.events(name)
        assert validate_events(factory.raw_events(name)) == [], name
        assert {e.source for e in events} == {f"/products/{run.spec.product_ref.name}/runs/{name}"}
    # They overlapped in time: each started before the other finished.
    a, b = factory.events("alpha-1"), factory.events("beta-1")
    assert a[0].time < b[-1].time and b[0].time < a[-1].time
    for p in ("alpha", "beta"):
        assert marks[p].read_text().split() == ["one", "two", "three"]


def test_product_concurrency_queues_runs_and_says_why(factory: Factory, tmp_path: Path) -> None:
    steps = {"work": marks_step(tmp_path / "marks", "work", 2)}
    factory.sf("product", "add", "solo", "--repo", str(factory.repo("solo", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "solo", "--goal", "first", "--name", "solo-1")
    factory.wait_run("solo-1", _phase(RunPhase.BUILDING))
    factory.sf("run", "start", "solo", "--goal", "second", "--name", "solo-2")

    queued = factory.wait_run("solo-2", lambda r: r.status.phase is RunPhase.PENDING)
    assert "queued" in (queued.status.message or "")
    assert "solo-1" in (queued.status.message or "")
    reconciling = next(c for c in queued.status.conditions if c.type == "Reconciling")
    assert reconciling.reason == "Queued"

    first = factory.wait_run("solo-1", _phase(RunPhase.SUCCEEDED))
    second = factory.wait_run("solo-2", _phase(RunPhase.SUCCEEDED))
    assert first.status.completion_time is not None and second.status.start_time is not None
    assert second.status.start_time >= first.status.completion_time


def test_stop_halts_the_run_and_leaves_no_process(factory: Factory, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    steps = {s: marks_step(marks, s, 3) for s in ("a", "b", "c")}
    factory.sf("product", "add", "slow", "--repo", str(factory.repo("slow", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "slow", "--goal", "g", "--name", "slow-1")
    factory.wait_run("slow-1", _stage_running("b"), timeout=30)

    began = time.monotonic()
    stopped = factory.sf("run", "stop", "slow-1", "--wait", "-o", "json")
    took = time.monotonic() - began

    run = Run.model_validate_json(stopped.stdout)
    assert run.status.phase is RunPhase.STOPPED
    assert took < 5.0 + 3.0, f"stop took {took:.1f}s (grace is 5s)"
    layout = factory.run_dir("slow-1")
    assert run_processes(layout.logs_root(0)) == []
    process = (layout.workload("slow-1-c0-1") / "process.json").read_text()
    assert not pid_alive(int(__import__("json").loads(process)["pid"]))
    assert marks.read_text().split() == ["a"]
    assert {c.type: c.status.value for c in run.status.conditions}["Succeeded"] == "False"


def test_resume_continues_from_the_checkpoint_without_repeating_stages(
    factory: Factory, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    steps = {s: marks_step(marks, s, 2) for s in ("a", "b", "c")}
    factory.sf("product", "add", "res", "--repo", str(factory.repo("res", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "res", "--goal", "g", "--name", "res-1")
    factory.wait_run("res-1", _stage_running("b"), timeout=30)
    factory.sf("run", "stop", "res-1", "--wait")

    resumed = factory.sf("run", "resume", "res-1", "--wait", "-o", "json")

    run = Run.model_validate_json(resumed.stdout)
    assert run.status.phase is RunPhase.SUCCEEDED
    assert marks.read_text().split() == ["a", "b", "c"]
    assert _started(factory, "res-1", "a") == 1  # completed before the stop: not rerun
    assert _started(factory, "res-1", "b") == 2  # interrupted: run again
    assert validate_events(factory.raw_events("res-1")) == []
    workloads = sorted(p.name for p in factory.run_dir("res-1").workloads.iterdir())
    assert workloads == ["res-1-c0-1", "res-1-c0-2", "res-1-e1-1"]
