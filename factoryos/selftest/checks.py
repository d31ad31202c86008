"""The four invariants ``sf selftest`` checks, over any ``SelftestTarget``.

- ``smoke``: the smoke product end to end, including its deploy dry run;
- ``stop``: a run stopped mid-stage reaches Stopped and nothing of it still
  runs (no process, or no pod, of it);
- ``resume``: a run interrupted mid-stage and resumed ends like an
  uninterrupted one: the same completed stages in the same order, none
  repeated, the same output (where the factory's branches can be read);
- ``events``: every event of every run it made is valid against the schema,
  with sequences +1 and times that never go back.

Each check's verdict is a plain function of what the factory left
(``completed_stages``, ``event_problems``, the target's ``leftovers``), so a
broken build (a runner that ignores stop, a clock that goes back) fails it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from factoryos.errors import FactoryError
from factoryos.events import Event, EventType, validate_events
from factoryos.models import RunPhase, StageState
from factoryos.selftest.target import (
    SELFTEST_PRODUCT,
    SMOKE_PRODUCT,
    CheckFailedError,
    SelftestTarget,
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    seconds: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "seconds": self.seconds,
                "detail": self.detail}  # fmt: skip


def completed_stages(events: Iterable[Event], candidate: int = 0) -> list[str]:
    """The stages that completed successfully, in order (start and exit left out)."""
    return [
        e.subject or ""
        for e in events
        if e.type == EventType.STAGE_COMPLETED
        and e.data.get("candidate", 0) == candidate
        and e.data.get("status") == "success"
        and e.subject not in {"start", "exit"}
    ]


def event_problems(events: Iterable[dict[str, Any]]) -> list[str]:
    """What is wrong with a run's event stream (schema, sequence, time), as lines."""
    return [str(p) for p in validate_events(events)]


def check_smoke(f: SelftestTarget) -> str:
    f.product(SMOKE_PRODUCT, SMOKE_PRODUCT)
    run = f.run(SMOKE_PRODUCT, "smoke-1")
    done = f.wait_phase(run, RunPhase.SUCCEEDED, timeout=300)
    stages = {s.name: s.status for s in done.status.stages}
    if stages.get("deploy_dryrun") is not StageState.SUCCEEDED:
        raise CheckFailedError(f"the deploy dry-run did not succeed: {stages}")
    plan = f.branch_file(run, "deploy-plan.json")
    if plan is None:
        return f"{len(stages)} stages succeeded, deploy_dryrun included"
    if json.loads(plan).get("dry_run") is not True:
        raise CheckFailedError("no dry-run deploy plan on the run's branch")
    return f"{len(stages)} stages succeeded; deploy-plan.json (dry run) on factory/{run}/c0"


def check_stop(f: SelftestTarget) -> str:
    f.product("st-stop", SELFTEST_PRODUCT, pipeline="stop.dot")
    run = f.run("st-stop", "st-stop-1")
    f.wait_stage(run, "b", timeout=180)
    asked = time.monotonic()
    f.stop(run)
    f.wait_phase(run, RunPhase.STOPPED, timeout=120)
    took = time.monotonic() - asked
    deadline = time.monotonic() + f.stop_grace_seconds
    left = f.leftovers(run)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = f.leftovers(run)
    if left:
        raise CheckFailedError(
            f"stopped, but {len(left)} process(es) of it still run: {', '.join(left)}"
        )
    return f"stopped mid-stage in {took:.1f}s; nothing of the run left running"


def check_resume(f: SelftestTarget) -> str:
    f.product("st-resume", SELFTEST_PRODUCT, pipeline="resume.dot")
    whole = f.run("st-resume", "st-resume-1")
    f.wait_phase(whole, RunPhase.SUCCEEDED, timeout=300)
    broken = f.run("st-resume", "st-resume-2")
    f.wait_stage(broken, "b", timeout=180)
    f.stop(broken)
    f.wait_phase(broken, RunPhase.STOPPED, timeout=120)
    f.resume(broken)
    f.wait_phase(broken, RunPhase.SUCCEEDED, timeout=300)
    expected = completed_stages(f.events(whole))
    got = completed_stages(f.events(broken))
    if got != expected:
        raise CheckFailedError(f"completed stages differ: {got} after resume, {expected} without")
    outputs = [f.branch_file(r, "out.txt") for r in (whole, broken)]
    if None in outputs:
        return f"resumed run completed {', '.join(got)} once each (branches not readable here)"
    if outputs[0] != outputs[1]:
        raise CheckFailedError(f"outputs differ: {outputs[1]!r} after resume, {outputs[0]!r}")
    return f"resumed run completed {', '.join(got)} once each, output identical"


def check_events(f: SelftestTarget) -> str:
    total = 0
    for run in f.runs:
        raw = f.raw_events(run)
        problems = event_problems(raw)
        if problems:
            raise CheckFailedError(f"run {run}: " + "; ".join(problems[:3]))
        if not raw:
            raise CheckFailedError(f"run {run} has no events")
        total += len(raw)
    return f"{total} events of {len(f.runs)} run(s) valid: schema, sequence, time"


CHECKS: list[tuple[str, Callable[[SelftestTarget], str]]] = [
    ("smoke", check_smoke),
    ("stop", check_stop),
    ("resume", check_resume),
    ("events", check_events),
]


def run_checks(
    target: SelftestTarget,
    *,
    only: list[str] | None = None,
    on_result: Callable[[CheckResult], None] = lambda _r: None,
    checks: list[tuple[str, Callable[[SelftestTarget], str]]] | None = None,
) -> list[CheckResult]:
    """Run the checks (``only`` some of them) against ``target``, started and closed here."""
    results: list[CheckResult] = []
    try:
        target.start()
        for name, check in checks if checks is not None else CHECKS:
            if only and name not in only:
                continue
            started = time.monotonic()
            try:
                detail, passed = check(target), True
            except FactoryError as exc:
                detail, passed = str(exc), False
            result = CheckResult(name, passed, round(time.monotonic() - started, 1), detail)
            results.append(result)
            on_result(result)
    finally:
        target.close()
    return results
