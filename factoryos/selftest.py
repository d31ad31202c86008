"""``sf selftest``: the factory checks its own invariants against a real embedded factory.

It starts a control plane (``sf up --no-dashboard``) in a scratch home, makes
small products with tool pipelines (and the smoke product when the examples
are there), and runs four checks:

- ``stop``: a run stopped mid-stage reaches Stopped and nothing of it still
  runs (no process carrying its logs_root marker);
- ``resume``: a run interrupted mid-stage and resumed ends like an
  uninterrupted one: the same completed stages in the same order, none
  repeated, the same output;
- ``events``: every event of every run it made is valid against the schema,
  with sequences +1 and times that never go back;
- ``smoke``: the smoke product end to end, including its deploy dry-run.

Each check's logic is a plain function over what the factory left
(``leftover_processes``, ``completed_stages``, ``event_problems``) so a broken
build (a runner that ignores stop, a clock that goes back) fails it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factoryos.controlplane import control_plane_pid
from factoryos.errors import FactoryError
from factoryos.events import EventType, read_events, validate_events
from factoryos.events.log import iter_lines
from factoryos.git import git
from factoryos.kilroy.procs import run_processes
from factoryos.models import Product, Run, RunPhase, StageState, parse_as
from factoryos.runner import RunDirectory
from factoryos.runs import new_run, resume_run, stop_run
from factoryos.store import LocalStore

#: Where the examples are when running from a checkout (the smoke check needs them).
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Factory OS selftest",
    "GIT_AUTHOR_EMAIL": "selftest@factoryos.invalid",
    "GIT_COMMITTER_NAME": "Factory OS selftest",
    "GIT_COMMITTER_EMAIL": "selftest@factoryos.invalid",
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    seconds: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "seconds": self.seconds,
                "detail": self.detail}  # fmt: skip


class CheckFailedError(FactoryError):
    """A check found the invariant broken; the message says how."""


# -- the invariants, as functions over what the factory left ---------------------------


def leftover_processes(logs_root: Path) -> list[int]:
    """Processes still running for the run in ``logs_root`` (should be none once stopped)."""
    return run_processes(logs_root)


def completed_stages(events_path: Path, candidate: int = 0) -> list[str]:
    """The stages that completed successfully, in order (start and exit left out)."""
    return [
        e.subject or ""
        for e in read_events(events_path)
        if e.type == EventType.STAGE_COMPLETED
        and e.data.get("candidate", 0) == candidate
        and e.data.get("status") == "success"
        and e.subject not in {"start", "exit"}
    ]


def event_problems(events_path: Path) -> list[str]:
    """What is wrong with a run's event log (schema, sequence, time), as lines."""
    return [str(p) for p in validate_events(iter_lines(events_path))]


# -- a scratch factory -------------------------------------------------------------------


@dataclass
class ScratchFactory:
    """A control plane in its own home, and helpers to make products and follow runs."""

    home: Path
    env: dict[str, str]
    plane: subprocess.Popen[bytes] | None = None
    runs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = LocalStore(self.home / "factoryos.db")

    def start(self) -> None:
        log = (self.home / "sf-up.log").open("ab")
        self.plane = subprocess.Popen(
            [sys.executable, "-m", "factoryos.cli.app", "up", "--no-dashboard", "--grace", "3"],
            env=self.env, stdout=log, stderr=log,
        )  # fmt: skip
        self._wait(lambda: control_plane_pid(self.home) == self.plane.pid, 30, "sf up")  # type: ignore[union-attr]

    def close(self) -> None:
        if self.plane is not None and self.plane.poll() is None:
            self.plane.terminate()
            self.plane.wait(timeout=60)
        self.store.close()

    def product(self, name: str, steps: dict[str, str] | None = None, **spec: Any) -> Path:
        """A product whose repo has a linear tool pipeline of ``steps`` (or is given)."""
        repo = spec.pop("repo", None) or self.home / "repos" / name
        if steps is not None:
            repo.mkdir(parents=True)
            (repo / "pipeline.dot").write_text(linear_pipeline(name, steps))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        committed = subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", "selftest"],
            env={**os.environ, **IDENTITY}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if committed.returncode != 0:
            raise FactoryError(f"cannot commit {repo}: {committed.stderr.strip()}")
        body = {"metadata": {"name": name}, "spec": {"repo": {"path": str(repo)}, **spec}}
        self.store.create(parse_as(Product, body))
        return repo

    def run(self, product: str, name: str) -> str:
        self.store.create(new_run(product, f"selftest {name}", name=name))
        self.runs.append(name)
        return name

    def get(self, name: str) -> Run:
        return self.store.get(Run, name)

    def wait_phase(self, name: str, phase: RunPhase, timeout: float = 120) -> Run:
        self._wait(lambda: self.get(name).status.phase is phase, timeout, f"{name} {phase.value}")
        return self.get(name)

    def wait_stage(self, name: str, stage: str, timeout: float = 60) -> None:
        def running() -> bool:
            stages = self.get(name).status.stages
            return any(s.name == stage and s.status is StageState.RUNNING for s in stages)

        self._wait(running, timeout, f"{name}: stage {stage} running")

    def layout(self, name: str) -> RunDirectory:
        return RunDirectory.of(self.home / "runs", "default", name)

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.plane is not None and self.plane.poll() is not None:
                raise CheckFailedError(f"the control plane exited while waiting for {what}")
            time.sleep(0.1)
        phase = ""
        if " " in what:
            try:
                run = self.get(what.split(":")[0].split()[0])
                phase = f" (phase {run.status.phase}, {run.status.message})"
            except FactoryError:
                pass
        raise CheckFailedError(f"timed out after {timeout:g}s waiting for {what}{phase}")


def linear_pipeline(name: str, steps: dict[str, str]) -> str:
    """start -> steps... -> exit, each failure routed to a failing sink."""
    graph = name.replace("-", "_")
    lines = [f"digraph {graph} {{", '  graph [goal="selftest", default_max_retry="0"]',
             "  start [shape=Mdiamond]", "  exit [shape=Msquare]",
             '  fail_sink [shape=parallelogram, tool_command="exit 1"]']  # fmt: skip
    for node, command in steps.items():
        escaped = command.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  {node} [shape=parallelogram, tool_command="{escaped}"]')
    chain = ["start", *steps, "exit"]
    for a, b in itertools.pairwise(chain):
        lines.append(f"  {a} -> {b}")
        if a != "start":
            lines.append(f'  {a} -> fail_sink [condition="outcome!=success"]')
    return "\n".join([*lines, "}"]) + "\n"


# -- the checks ----------------------------------------------------------------------------


def check_stop(f: ScratchFactory) -> str:
    f.product("st-stop", {"a": "echo a >> out.txt", "b": "sleep 60", "c": "echo c >> out.txt"})
    run = f.run("st-stop", "st-stop-1")
    f.wait_stage(run, "b")
    asked = time.monotonic()
    stop_run(f.store, run)
    f.wait_phase(run, RunPhase.STOPPED, timeout=60)
    took = time.monotonic() - asked
    left = leftover_processes(f.layout(run).logs_root(0))
    if left:
        raise CheckFailedError(f"stopped, but {len(left)} process(es) of it still run: {left}")
    return f"stopped mid-stage in {took:.1f}s; no process of the run left"


def check_resume(f: ScratchFactory) -> str:
    steps = {"a": "echo a >> out.txt", "b": "sleep 2; echo b >> out.txt", "c": "echo c >> out.txt"}
    f.product("st-resume", steps)
    whole = f.run("st-resume", "st-resume-1")
    f.wait_phase(whole, RunPhase.SUCCEEDED)
    broken = f.run("st-resume", "st-resume-2")
    f.wait_stage(broken, "b")
    stop_run(f.store, broken)
    f.wait_phase(broken, RunPhase.STOPPED, timeout=60)
    resume_run(f.store, broken)
    f.wait_phase(broken, RunPhase.SUCCEEDED)
    expected = completed_stages(f.layout(whole).events)
    got = completed_stages(f.layout(broken).events)
    if got != expected:
        raise CheckFailedError(f"completed stages differ: {got} after resume, {expected} without")
    outputs = [_output(f, r) for r in (whole, broken)]
    if outputs[0] != outputs[1]:
        raise CheckFailedError(f"outputs differ: {outputs[1]!r} after resume, {outputs[0]!r}")
    return f"resumed run completed {', '.join(got)} once each, output identical"


def check_events(f: ScratchFactory) -> str:
    total = 0
    for run in f.runs:
        path = f.layout(run).events
        problems = event_problems(path)
        if problems:
            raise CheckFailedError(f"run {run}: " + "; ".join(problems[:3]))
        total += sum(1 for _ in iter_lines(path))
    return f"{total} events of {len(f.runs)} run(s) valid: schema, sequence, time"


def check_smoke(f: ScratchFactory) -> str:
    source = EXAMPLES / "products" / "smoke"
    agent = EXAMPLES / "pipelines" / "agents" / "scripted-agent"
    if not source.is_dir() or not agent.exists():
        raise CheckFailedError(f"the smoke product is not here ({source}): run from a checkout")
    repo = f.home / "repos" / "smoke"
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("__pycache__", "deploy-plan.json"))
    f.product("smoke", repo=repo,
              engine={"agentProfile": "test_shim", "agentExecutable": str(agent)})  # fmt: skip
    run = f.run("smoke", "smoke-1")
    done = f.wait_phase(run, RunPhase.SUCCEEDED, timeout=180)
    stages = {s.name: s.status for s in done.status.stages}
    if stages.get("deploy_dryrun") is not StageState.SUCCEEDED:
        raise CheckFailedError(f"the deploy dry-run did not succeed: {stages}")
    shown = git(f.layout(run).repo(0), "show", f"factory/{run}/c0:deploy-plan.json")
    if shown.returncode != 0 or json.loads(shown.stdout).get("dry_run") is not True:
        raise CheckFailedError("no dry-run deploy plan on the run's branch")
    return f"{len(stages)} stages succeeded; deploy-plan.json (dry run) on factory/{run}/c0"


def _output(f: ScratchFactory, run: str) -> str:
    shown = git(f.layout(run).repo(0), "show", f"factory/{run}/c0:out.txt")
    return shown.stdout if shown.returncode == 0 else f"<none: {shown.stderr.strip()}>"


CHECKS: list[tuple[str, Callable[[ScratchFactory], str]]] = [
    ("smoke", check_smoke),
    ("stop", check_stop),
    ("resume", check_resume),
    ("events", check_events),
]


def run_selftest(
    home: Path,
    env: dict[str, str],
    *,
    only: list[str] | None = None,
    on_result: Callable[[CheckResult], None] = lambda _r: None,
) -> list[CheckResult]:
    """Run the checks (``only`` some of them) in a scratch factory in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    factory = ScratchFactory(home, {**env, **IDENTITY, "FACTORYOS_HOME": str(home)})
    results: list[CheckResult] = []
    try:
        factory.start()
        for name, check in CHECKS:
            if only and name not in only:
                continue
            started = time.monotonic()
            try:
                detail, passed = check(factory), True
            except FactoryError as exc:
                detail, passed = str(exc), False
            result = CheckResult(name, passed, round(time.monotonic() - started, 1), detail)
            results.append(result)
            on_result(result)
    finally:
        factory.close()
    return results
