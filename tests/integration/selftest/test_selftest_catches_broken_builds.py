"""``sf selftest`` passes on a sound factory and fails the matching check on a broken one.

The broken builds are simulated where they would show: a run whose processes
outlive its stop (what a runner that ignores stop leaves behind), and an event
log whose time goes back (what a bad clock or writer leaves behind).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from kilroy_support import sweepers

from factoryos.events import Event, read_events
from factoryos.kilroy.procs import MARKER_ENV
from factoryos.models import RunPhase
from factoryos.selftest import CHECKS, ScratchFactory, run_checks


@pytest.fixture
def env(factory_env: dict[str, str]) -> dict[str, str]:
    return {**factory_env, "PATH": f"{Path(sys.executable).parent}:{factory_env['PATH']}"}


@pytest.fixture
def leftovers() -> Iterator[list[subprocess.Popen[bytes]]]:
    spawned: list[subprocess.Popen[bytes]] = []
    yield spawned
    for proc in spawned:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_sf_selftest_passes_on_this_build(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "factoryos.cli.app", "selftest", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["name"] for c in result["checks"]] == ["smoke", "stop", "resume", "events"]
    assert all(c["passed"] for c in result["checks"])


def test_a_run_that_outlives_its_stop_fails_the_stop_check(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    leftovers: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    real_wait = ScratchFactory.wait_phase

    def stopped_but_still_running(self, name, phase, timeout=120):  # type: ignore[no-untyped-def]
        run = real_wait(self, name, phase, timeout)
        if phase is RunPhase.STOPPED:  # what a runner that ignored the stop leaves
            logs_root = self.layout(name).logs_root(0)
            _sweepers_done(logs_root)  # else the run's own sweeper would end it at once
            leftovers.append(
                subprocess.Popen(
                    ["sleep", "60"],
                    env={**os.environ, MARKER_ENV: str(logs_root)},
                    start_new_session=True,
                )
            )
            time.sleep(0.2)
        return run

    monkeypatch.setattr(ScratchFactory, "wait_phase", stopped_but_still_running)
    (result,) = run_checks(ScratchFactory(tmp_path / "home", env), only=["stop"])
    assert not result.passed
    assert "process(es) of it still run" in result.detail and str(leftovers[0].pid) in result.detail


def _sweepers_done(logs_root: Path) -> None:
    """Wait until no sweeper of the run (``factoryos.kilroy.sweeper``) is still at work."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not sweepers(logs_root):
            return
        time.sleep(0.05)
    raise AssertionError(f"the sweepers of {logs_root} are still running")


@pytest.mark.slow
def test_an_event_whose_time_goes_back_fails_the_events_check(
    env: dict[str, str], tmp_path: Path
) -> None:
    def run_then_break_the_clock(f: ScratchFactory) -> str:
        f.product("st-clock", "selftest", pipeline="resume.dot")
        name = f.run("st-clock", "st-clock-1")
        f.wait_phase(name, RunPhase.SUCCEEDED)
        path = f.layout(name).events
        last = read_events(path)[-1]
        earlier = last.model_copy(
            update={"sequence": last.sequence + 1, "time": last.time - timedelta(seconds=5)}
        )
        with path.open("a") as fh:
            fh.write(Event.model_validate(earlier.model_dump()).to_json_line() + "\n")
        return "ran"

    checks = [("clock", run_then_break_the_clock), *[c for c in CHECKS if c[0] == "events"]]
    results = {r.name: r for r in run_checks(ScratchFactory(tmp_path / "home", env), checks=checks)}
    assert results["clock"].passed
    assert not results["events"].passed
    assert "st-clock-1" in results["events"].detail and "time" in results["events"].detail
