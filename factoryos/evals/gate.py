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

from factoryos.evals.sequential import Design, Method, Verdict, lower_bound
from factoryos.evals.statistics import cp_lower


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
