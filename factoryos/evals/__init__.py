"""Evaluating candidates: the statistics of the acceptance gate (and, later, the harness).

``statistics`` holds the exact Clopper-Pearson bounds, trial planning, the gate
decision, early (futility) rejection and the split of alpha across iterations;
``sf eval plan|bound`` and the reconcile's gate call it.
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
