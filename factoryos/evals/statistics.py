"""The acceptance gate's statistics: exact Clopper-Pearson bounds on a pass rate.

N holdout scenarios run, k pass; the gate accepts only when the lower
confidence bound of the true pass rate reaches the target (and every
deterministic verifier passed). One-sided at level 1 - alpha by default;
two-sided is the same bound at alpha/2 (it costs more scenarios for the same
guarantee, see shared/reference/statistics-and-voice.md, A1). It fails
closed: no trials, or no passes, give a bound of 0.

``min_trials`` plans N; ``futile`` stops early once even all remaining trials
passing could not reach the target (stopping to reject never raises the
false-accept rate); ``iteration_alpha`` splits alpha evenly across a run's
planned iterations (Bonferroni), so trying again does not inflate it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from factoryos.errors import InvalidInputError

ONE_SIDED, TWO_SIDED = "one-sided", "two-sided"
#: Planning gives up beyond this many trials (targets too close to 1 for the alpha).
MAX_TRIALS = 1_000_000


def _beta() -> Any:
    """scipy's beta distribution, imported on first use (scipy.stats takes ~1 s to import,
    and every ``sf`` command imports this module)."""
    from scipy.stats import beta

    return beta


def _check(k: int, n: int, alpha: float, sided: str) -> None:
    if not (isinstance(k, int) and isinstance(n, int)) or isinstance(k, bool):
        raise InvalidInputError(f"passes and trials must be whole numbers, got {k!r} and {n!r}")
    if n < 0 or not 0 <= k <= n:
        raise InvalidInputError(f"need 0 <= passes <= trials, got passes={k}, trials={n}")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    if sided not in (ONE_SIDED, TWO_SIDED):
        raise InvalidInputError(f"sided must be {ONE_SIDED} or {TWO_SIDED}, got {sided!r}")


def cp_lower(k: int, n: int, alpha: float = 0.05, sided: str = ONE_SIDED) -> float:
    """The Clopper-Pearson lower bound of the pass rate after ``k`` passes in ``n`` trials."""
    _check(k, n, alpha, sided)
    if n == 0 or k == 0:
        return 0.0  # no evidence, or no passes: fail closed
    level = alpha if sided == ONE_SIDED else alpha / 2
    if k == n:
        return float(level ** (1 / n))  # the closed form, exact where ppf rounds
    return float(_beta().ppf(level, k, n - k + 1))


def cp_interval(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The two-sided Clopper-Pearson interval at level 1 - alpha."""
    _check(k, n, alpha, TWO_SIDED)
    if n == 0:
        return 0.0, 1.0
    low = cp_lower(k, n, alpha, TWO_SIDED)
    high = 1.0 if k == n else float(_beta().ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def min_trials(
    target: float, alpha: float = 0.05, failures: int = 0, sided: str = ONE_SIDED
) -> int:
    """The fewest trials whose lower bound reaches ``target`` with ``failures`` of them failing."""
    if not 0 < target < 1:
        raise InvalidInputError(f"target must be between 0 and 1 (exclusive), got {target}")
    if failures < 0:
        raise InvalidInputError(f"failures must be 0 or more, got {failures}")
    _check(0, 0, alpha, sided)
    level = alpha if sided == ONE_SIDED else alpha / 2
    n = max(failures + 1, math.ceil(math.log(level) / math.log(target)))
    while cp_lower(n - failures, n, alpha, sided) < target:
        n += 1
        if n > MAX_TRIALS:
            raise InvalidInputError(
                f"no plan within {MAX_TRIALS} trials reaches {target} at alpha {alpha}"
            )
    return n


def fixed_plan(
    target: float, alpha: float = 0.05, power: float = 0.9, power_at: float = 0.995,
    sided: str = ONE_SIDED,
) -> tuple[int, int]:  # fmt: skip
    """The smallest fixed plan, (trials, failures allowed), whose Clopper-Pearson gate accepts
    a candidate of true rate ``power_at`` with probability at least ``power``."""
    if not target < power_at <= 1:
        raise InvalidInputError(f"power_at must be above the target {target}, got {power_at}")
    if not 0 < power < 1:
        raise InvalidInputError(f"power must be between 0 and 1 (exclusive), got {power}")
    from scipy.stats import binom

    failures = 0
    while True:
        n = min_trials(target, alpha, failures, sided)
        if float(binom.cdf(failures, n, 1 - power_at)) >= power:
            return n, failures
        failures += 1


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and why."""

    accepted: bool
    lower_bound: float
    reason: str


def decide(
    k: int,
    n: int,
    target: float,
    alpha: float = 0.05,
    sided: str = ONE_SIDED,
    verifiers_passed: bool = True,
) -> GateDecision:
    """Accept iff every verifier passed and the lower bound reaches ``target``."""
    bound = cp_lower(k, n, alpha, sided)
    if not verifiers_passed:
        return GateDecision(False, bound, "a deterministic verifier failed")
    if n == 0:
        return GateDecision(False, bound, "no acceptance trials were run")
    if bound >= target:
        return GateDecision(
            True, bound, f"lower bound {bound:.4f} >= target {target} ({k}/{n} passed)"
        )
    return GateDecision(False, bound, f"lower bound {bound:.4f} < target {target} ({k}/{n} passed)")


def futile(
    passes: int, trials: int, planned: int, target: float, alpha: float = 0.05,
    sided: str = ONE_SIDED,
) -> bool:  # fmt: skip
    """True when even all ``planned - trials`` remaining trials passing cannot reach ``target``."""
    if not 0 <= trials <= planned:
        raise InvalidInputError(f"need 0 <= trials <= planned, got {trials} and {planned}")
    best = passes + (planned - trials)
    return cp_lower(best, planned, alpha, sided) < target


def iteration_alpha(alpha: float, max_iterations: int) -> float:
    """The alpha each of ``max_iterations`` gate attempts may spend (Bonferroni)."""
    if max_iterations < 1:
        raise InvalidInputError(f"max iterations must be at least 1, got {max_iterations}")
    _check(0, 0, alpha, ONE_SIDED)
    return alpha / max_iterations
