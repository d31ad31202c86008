"""Running the acceptance gate: trials one after another until the planned design decides.

Pure: a trial is a callback (``trial(i) -> passed`` for the i-th distinct
acceptance instance), so the evaluation workload, the tests and
``bench/gate_simulation.py`` drive the same code. The design comes from
``sequential.plan`` (the group-sequential test or the fixed Clopper-Pearson
plan); after the decision the gate reports the looks it took and an exact lower
confidence bound: Clopper-Pearson on the counts for the fixed plan, the
stagewise bound for the sequential test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from factoryos.evals.sequential import Design, Verdict, lower_bound, operating, plan
from factoryos.evals.statistics import TWO_SIDED, cp_lower, iteration_alpha
from factoryos.models import AcceptanceMethod as Method


@dataclass(frozen=True)
class GateRun:
    """What one pass through the gate did."""

    design: Design
    trials: int
    failures: int
    verdict: Verdict
    looks_taken: int

    @cached_property
    def bound(self) -> float:
        """The lower confidence bound reported with the decision (computed on first use)."""
        return decided_bound(self.design, self.trials, self.failures, self.verdict)

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPT

    @property
    def passes(self) -> int:
        return self.trials - self.failures

    def reason(self) -> str:
        """One line: the decision, where it was taken and the bound."""
        d = self.design
        counts = f"{self.passes}/{self.trials} passed"
        where = (
            f"at look {self.looks_taken} of {len(d.looks)}"
            if d.method is Method.SEQUENTIAL
            else f"of {d.max_trials} planned"
        )
        if self.accepted:
            return (
                f"accepted {where} ({counts}): the pass rate is at least {d.target} with "
                f"confidence {1 - d.alpha:.4g} (lower bound {self.bound:.4f})"
            )
        return (
            f"rejected {where} ({counts}): the target {d.target} is not shown at alpha "
            f"{d.alpha:.3g} (lower bound {self.bound:.4f})"
        )


def gate_design(
    method: str, target: float, alpha: float, sided: str, power: float,
    power_at: float | None, iterations: int,
) -> Design:  # fmt: skip
    """The design one gate attempt uses: the run's alpha split over its iterations (halved
    when two-sided, the Clopper-Pearson interval's convention)."""
    level = iteration_alpha(alpha, iterations) / (2 if sided == TWO_SIDED else 1)
    return plan(Method(method), target, level, power, power_at)


def insufficient(instances: int, design: Design, trials_kind: str) -> str | None:
    """Why ``instances`` distinct acceptance instances cannot carry ``design`` honestly, or None.

    A repeated run of one instance is not an independent trial, so the pool must hold as
    many distinct instances as the plan may need, unless the product declares that it
    bounds per-attempt reliability (``acceptance.trials: repeated``)."""
    if instances >= design.max_trials or trials_kind == "repeated":
        return None
    return (
        f"InsufficientScenarios: the acceptance pool has {instances} distinct instance(s); "
        f"the {design.method.value} plan may need {design.max_trials} (add "
        f"{design.max_trials - instances} more: scenario generators, or declare "
        "acceptance.trials: repeated to bound per-attempt reliability instead)"
    )


def oc_rates(target: float) -> list[float]:
    """The true rates an operating characteristic is shown at: from five times the target's
    failure rate down to none."""
    room = 1 - target
    return [round(max(0.0, 1 - room * m), 6) for m in (5, 4, 3, 2, 1.5, 1.25, 1, 0.75, 0.5,
                                                      0.25, 0.1, 0)]  # fmt: skip


def oc_curve(design: Design) -> list[tuple[float, float]]:
    """(true rate, exact acceptance probability) at ``oc_rates``."""
    return [(r, operating(design, r).accept_probability) for r in oc_rates(design.target)]


def run_gate(design: Design, trial: Callable[[int], bool]) -> GateRun:
    """Run ``trial(0)``, ``trial(1)``, ... until a look decides (the last one always does)."""
    failures = 0
    looks = 0
    for done in range(1, design.max_trials + 1):
        failures += not trial(done - 1)
        verdict = design.verdict(done, failures)
        looks += design.is_look(done)
        if verdict is not Verdict.CONTINUE:
            return GateRun(design, done, failures, verdict, looks)
    raise AssertionError("the last look always decides")  # pragma: no cover


def decided_bound(design: Design, trials: int, failures: int, verdict: Verdict) -> float:
    """The lower confidence bound reported with a decision."""
    if design.method is Method.CLOPPER_PEARSON:
        return cp_lower(trials - failures, trials, design.alpha)
    return lower_bound(design, trials, failures, verdict)
