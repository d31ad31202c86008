"""No process of a factory outlives what started it, however that dies.

A killed ``sf up`` takes its dashboard and fork server along (only its runners
live on, and the next ``sf up`` adopts them and gets the same port); a killed
runner takes its Kilroy and the tool processes Kilroy started along, and its
retry resumes from the checkpoint. After ``sf up`` stops, nothing of its home
runs. Reported in issue 21: a SIGKILLed ``sf up`` left its dashboard running
forever, and the next one could not bind the port.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from factory_support import (
    SF,
    Factory,
    children_of,
    free_port,
    home_processes,
    marks_step,
    wait_for,
)
from test_controlplane_restart import _each_once
from test_controlplane_runs import _phase, _stage_running, _started

from factoryos.controlplane import HelperRecord
from factoryos.kilroy import LogsRoot
from factoryos.kilroy.procs import pid_alive, run_processes
from factoryos.models import RunPhase

#: Slow (a run restarted mid-way, about 10 s a test): not in `make test-fast`.
# Their pipelines write marks outside their candidates (see conftest's factory).
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]


def test_a_killed_sf_up_leaves_no_dashboard_and_the_next_gets_its_port(
    factory: Factory, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    steps = {s: marks_step(marks, s, 2) for s in ("a", "b", "c")}
    factory.sf("product", "add", "p", "--repo", str(factory.repo("p", {"pipeline": steps})))
    port = free_port()
    first = factory.up(dashboard=True, port=port)
    helpers = children_of(first.pid)  # the dashboard and the fork server
    assert len(helpers) == 2, helpers
    factory.sf("run", "start", "p", "--goal", "g", "--name", "p-1")
    factory.wait_run("p-1", _stage_running("a"), timeout=30)

    factory.down(signal.SIGKILL)
    wait_for(
        lambda: not any(pid_alive(p) for p in helpers),
        timeout=5,
        what="the killed sf up's dashboard and fork server to end with it",
        detail=lambda: str([p for p in helpers if pid_alive(p)]),
    )
    assert run_processes(factory.run_dir("p-1").logs_root(0)), "the runner should outlive it"
    factory.up(dashboard=True, port=port)

    assert factory.dashboard == f"http://127.0.0.1:{port}/"
    factory.wait_run("p-1", _phase(RunPhase.SUCCEEDED))
    assert marks.read_text().split() == ["a", "b", "c"]
    _each_once(factory, "p-1")
    factory.down(signal.SIGINT)
    assert home_processes(factory.home) == []


def test_a_killed_runner_takes_its_kilroy_and_tool_processes_along(
    factory: Factory, tmp_path: Path
) -> None:
    marks, flag = tmp_path / "marks", tmp_path / "blocked-once"
    # The first try of stage b forks a long sleep (Kilroy's cancel kills only the shell);
    # the retry (by the next sf up, which finds the runner lost) finds the flag and completes.
    block_once = f"if [ -e {flag} ]; then echo b >> {marks}; else touch {flag}; sleep 300; fi"
    steps = {"a": marks_step(marks, "a"), "b": block_once, "c": marks_step(marks, "c")}
    factory.sf("product", "add", "p", "--repo", str(factory.repo("p", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "p", "--goal", "g", "--name", "p-1")
    factory.wait_run("p-1", _stage_running("b"), timeout=30)
    wait_for(flag.exists, what="stage b to block")
    workload = factory.run_dir("p-1").workload("p-1-c0-1")
    runner = int(json.loads((workload / "process.json").read_text())["pid"])
    logs_root = factory.run_dir("p-1").logs_root(0)
    kilroy = LogsRoot(logs_root).run_pid()
    assert kilroy is not None and pid_alive(kilroy)

    pids = set(run_processes(logs_root))
    factory.down(signal.SIGKILL)  # nobody is left to notice the runner die, or retry it
    subprocess.run(["kill", "-KILL", str(runner)], check=True)
    wait_for(
        lambda: not any(pid_alive(p) for p in pids),
        timeout=15,
        what="Kilroy and its tool processes to end with their runner",
        detail=lambda: str([p for p in pids if pid_alive(p)]),
    )
    factory.up()

    factory.wait_run("p-1", _phase(RunPhase.SUCCEEDED))
    assert marks.read_text().split() == ["a", "b", "c"]
    _each_once(factory, "p-1")
    started = {s: _started(factory, "p-1", s) for s in "abc"}
    assert started == {"a": 1, "b": 2, "c": 1}, "only the interrupted stage ran again, once"
    factory.down(signal.SIGINT)
    assert home_processes(factory.home) == []


def test_the_next_sf_up_ends_a_helper_left_running_before_it_binds(
    factory: Factory, tmp_path: Path
) -> None:
    """The backstop for a helper the parent-death signal missed: the record in the home."""
    port = free_port()
    squatter = subprocess.Popen(  # stands in for a dashboard a killed sf up left on the port
        [*SF[:1], "-c", f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port}));"
         "s.listen(); time.sleep(300)"],
        env=factory.env,
    )  # fmt: skip
    try:
        factory.home.mkdir(parents=True, exist_ok=True)
        wait_for(lambda: _listening(port), what="the stand-in to listen")
        HelperRecord(factory.home).add("dashboard", squatter.pid)

        factory.up(dashboard=True, port=port)

        assert squatter.wait(timeout=10) == -signal.SIGTERM
        assert factory.dashboard == f"http://127.0.0.1:{port}/"
        log = (tmp_path / "sf-up.log").read_text()
        assert f"ended the dashboard (pid {squatter.pid})" in log
    finally:
        squatter.kill()
        squatter.wait()


def _listening(port: int) -> bool:
    return f":{port:04X} " in Path("/proc/net/tcp").read_text()
