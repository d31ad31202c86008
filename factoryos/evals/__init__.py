"""Evaluating candidates: verifiers, holdout scenarios, the harness, selection, the gate.

``verifiers`` runs a product's deterministic commands by kind (the screen);
``scenarios`` is the holdout format and its loader; ``harness`` runs scenarios
against one candidate and records every trial; ``selection`` picks a winner
on the selection pool (sequential halving or a tournament); ``statistics``
holds the exact Clopper-Pearson bounds, trial planning, the gate decision,
early (futility) rejection and the split of alpha across iterations.
``sf eval`` and (next) the run lifecycle call them.
"""

from factoryos.evals.statistics import (
    GateDecision,
    cp_interval,
    cp_lower,
    decide,
    futile,
    iteration_alpha,
    min_trials,
)

__all__ = [
    "GateDecision",
    "cp_interval",
    "cp_lower",
    "decide",
    "futile",
    "iteration_alpha",
    "min_trials",
]
