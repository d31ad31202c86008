"""The group-sequential acceptance test, designed by exact binomial computation.

The gate looks at the winner's acceptance record at planned looks (every
``look_every`` trials, up to a maximum). At look ``j`` after ``n_j`` trials
with ``f`` failures it accepts when ``f <= accept[j]``, rejects when
``f > reject[j]`` and otherwise runs the next group of trials; at the last
look it decides either way. The boundaries are the two lines of Wald's
sequential probability ratio test between the target ``p0`` and the rate the
product wants to see accepted, ``p1`` (``power_at``): every pass adds
``c1 = ln(p1/p0)`` of evidence, every failure takes ``c2 = ln((1-p0)/(1-p1))``
away, and the test accepts once ``n*c1 - f*c2 >= A`` and rejects once
``n*c1 - f*c2 < -B``. Wald's approximate A and B are not used: both are set
by exact computation of the binomial paths (a dynamic program over the
failure count between looks):

- ``A`` is the smallest value for which the probability of ever accepting a
  candidate whose true rate is exactly ``p0`` is at most ``alpha``, computed
  *ignoring the reject line* (non-binding futility: stopping to reject can only
  lower that probability, so the guarantee holds whatever the reject line is,
  even if a rejection were overridden). Because the boundaries are failure
  counts, a worse candidate's failures dominate a better one's path by path,
  so the acceptance probability grows with the true rate and ``p0`` is the
  worst case of every rate below the target.
- ``B`` is the smallest value for which the acceptance probability at ``p1``
  (with the reject line) reaches ``power``.
- the maximum is 1.5 times the smallest fixed (Clopper-Pearson) plan with the
  same power, which keeps the power at rates above ``p1`` close to the fixed
  plan's while the expected trials stay near Wald's lower bound.

After the decision, ``lower_bound`` gives an exact confidence bound for the
rate under the stagewise ordering of outcomes (earlier acceptance is stronger
evidence than later acceptance, which is stronger than any rejection).

Pure and numpy-only: the gate (``gate.py``), ``sf eval plan`` and
``bench/gate_simulation.py`` call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from factoryos.errors import InvalidInputError
from factoryos.evals.statistics import fixed_plan, min_trials
from factoryos.models import AcceptanceMethod as Method

Vector = npt.NDArray[np.float64]

#: The maximum as a multiple of the smallest fixed plan with the same power.
TRUNCATION = 1.5
#: Looks planned by default: about this many over the smallest fixed plan.
LOOKS_PER_FIXED_PLAN = 50
_BISECTIONS = 40


class Verdict(StrEnum):
    """What a look decides."""

    ACCEPT = "accept"
    REJECT = "reject"
    CONTINUE = "continue"


@dataclass(frozen=True)
class Design:
    """A planned test: looks and the failure counts that decide at each.

    The fixed Clopper-Pearson plan is one too: a look after every trial, acceptance
    only at the last with at most ``fixed_failures`` failures, rejection as soon as
    more have failed."""

    method: Method
    target: float
    alpha: float
    power: float
    power_at: float
    looks: tuple[int, ...]
    accept: tuple[int, ...]
    """Accept at look j when failures <= accept[j] (-1: no acceptance possible yet)."""
    reject: tuple[int, ...]
    """Reject at look j when failures > reject[j]; at the last look reject == accept."""
    fixed_trials: int
    """The smallest fixed Clopper-Pearson plan with the same power, for comparison."""
    fixed_failures: int
    accept_intercept: float | None = None
    """Sequential: the evidence ``A`` an acceptance needs (see the module docstring)."""
    reject_intercept: float | None = None
    """Sequential: the evidence ``-B`` below which it rejects."""

    @cached_property
    def _look_index(self) -> dict[int, int]:
        return {n: j for j, n in enumerate(self.looks)}

    @property
    def max_trials(self) -> int:
        return self.looks[-1]

    @property
    def earliest_accept(self) -> int:
        """The fewest trials after which the test can accept (all of them passing)."""
        return next(n for n, a in zip(self.looks, self.accept, strict=True) if a >= 0)

    def is_look(self, trials: int) -> bool:
        return trials in self._look_index

    def verdict(self, trials: int, failures: int) -> Verdict:
        """The decision after ``trials`` trials with ``failures`` failures (a look or not)."""
        j = self._look_index.get(trials)
        if j is None:
            return Verdict.CONTINUE
        if failures <= self.accept[j]:
            return Verdict.ACCEPT
        if failures > self.reject[j]:
            return Verdict.REJECT
        return Verdict.CONTINUE

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Design:
        """The design ``to_json`` wrote (evaluation.json's ``gate.design``)."""
        return cls(
            Method(data["method"]), data["target"], data["alpha"], data["power"],
            data["powerAt"], tuple(data["looks"]), tuple(data["accept"]),
            tuple(data["reject"]), data["fixedTrials"], data["fixedFailures"],
            data.get("acceptIntercept"), data.get("rejectIntercept"),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Everything needed to recompute the design's decisions (evaluation.json)."""
        return {
            "method": self.method.value,
            "target": self.target,
            "alpha": self.alpha,
            "power": self.power,
            "powerAt": self.power_at,
            "looks": list(self.looks),
            "accept": list(self.accept),
            "reject": list(self.reject),
            "acceptIntercept": self.accept_intercept,
            "rejectIntercept": self.reject_intercept,
            "fixedTrials": self.fixed_trials,
            "fixedFailures": self.fixed_failures,
        }


@dataclass(frozen=True)
class Operating:
    """The design's behaviour at one true pass rate, computed exactly."""

    rate: float
    accept_probability: float
    expected_trials: float
    accept_by_look: list[float] = field(repr=False)
    reject_by_look: list[float] = field(repr=False)


def default_power_at(target: float) -> float:
    """A candidate failing a quarter as often as the target allows (0.98 -> 0.995)."""
    return 1 - (1 - target) / 4


def design(
    target: float,
    alpha: float = 0.05,
    power: float = 0.9,
    power_at: float | None = None,
    look_every: int | None = None,
    max_trials: int | None = None,
) -> Design:
    """The design with exact false-accept rate <= ``alpha`` and ``power`` at ``power_at``."""
    p1 = default_power_at(target) if power_at is None else power_at
    _check(target, alpha, power, p1)
    fixed_n, fixed_f = fixed_plan(target, alpha, power, p1)
    step = look_every or max(1, math.ceil(fixed_n / LOOKS_PER_FIXED_PLAN))
    if step < 1:
        raise InvalidInputError(f"look_every must be at least 1, got {step}")
    horizon = max_trials or math.ceil(TRUNCATION * fixed_n)
    for _ in range(8):  # a too-short horizon (a tiny max_trials) is lengthened
        looks = tuple(range(step, horizon + step, step))
        accept, a = _calibrate_accept(looks, target, alpha, p1)
        unbounded = _reject_line(looks, accept, math.inf, target, p1)
        if _operate(looks, accept, unbounded, p1).accept_probability >= power:
            reject, b = _calibrate_reject(looks, accept, target, p1, power)
            end = next(j for j, (x, y) in enumerate(zip(accept, reject, strict=True)) if x >= y)
            looks, accept, reject = looks[: end + 1], accept[: end + 1], reject[: end + 1]
            return Design(Method.SEQUENTIAL, target, alpha, power, p1, looks, accept, reject,
                          fixed_n, fixed_f, a, b)  # fmt: skip
        horizon = math.ceil(horizon * 1.5)
    raise InvalidInputError(
        f"no sequential design within {horizon} trials has power {power} at {p1} "
        f"(target {target}, alpha {alpha})"
    )


def fixed_design(
    target: float, alpha: float = 0.05, power: float = 0.9, power_at: float | None = None,
    failures: int | None = None,
) -> Design:  # fmt: skip
    """The smallest fixed Clopper-Pearson plan with ``power`` at ``power_at``, as a design;
    or, given ``failures``, the smallest plan allowing that many (whatever its power)."""
    p1 = default_power_at(target) if power_at is None else power_at
    _check(target, alpha, power, p1)
    if failures is None:
        n, failures = fixed_plan(target, alpha, power, p1)
    else:
        n = min_trials(target, alpha, failures)
    looks = tuple(range(1, n + 1))
    accept = (*[-1] * (n - 1), failures)
    return Design(Method.CLOPPER_PEARSON, target, alpha, power, p1, looks, accept,
                  (failures,) * n, n, failures)  # fmt: skip


def plan(
    method: Method, target: float, alpha: float = 0.05, power: float = 0.9,
    power_at: float | None = None,
) -> Design:  # fmt: skip
    """The design of ``method``."""
    if method is Method.CLOPPER_PEARSON:
        return fixed_design(target, alpha, power, power_at)
    return design(target, alpha, power, power_at)


def wald_bound(target: float, alpha: float, power: float, power_at: float) -> float:
    """No test with false-accept rate <= ``alpha`` at ``target`` and ``power`` at ``power_at``
    can expect fewer trials at ``power_at`` than this (Wald's information inequality)."""
    p0, p1 = target, power_at
    information = p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
    evidence = power * math.log(power / alpha) + (1 - power) * math.log((1 - power) / (1 - alpha))
    return evidence / information


def operating(d: Design, rate: float) -> Operating:
    """The exact acceptance probability and expected trials of ``d`` at true rate ``rate``."""
    if not 0 <= rate <= 1:
        raise InvalidInputError(f"a pass rate is between 0 and 1, got {rate}")
    return _operate(d.looks, d.accept, d.reject, rate)


def lower_bound(d: Design, trials: int, failures: int, verdict: Verdict) -> float:
    """The exact 1 - alpha lower confidence bound of the rate after a decided test.

    Stagewise ordering: outcomes at least as good as accepting at look j with f
    failures are acceptances at earlier looks or at look j with <= f failures; a
    rejection at look j is beaten by every acceptance, by rejections at later looks
    and by rejections at look j with fewer failures. The bound is the rate at which
    the probability of an outcome at least this good is ``alpha``.
    """
    if verdict is Verdict.CONTINUE or trials not in d.looks:
        raise InvalidInputError(f"no decision after {trials} trials to bound")
    j = d.looks.index(trials)

    def tail(rate: float) -> float:
        return _at_least_as_good(d, j, failures, verdict, rate)

    if tail(0.0) > d.alpha:  # pragma: no cover - every outcome is beaten at rate 0
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if tail(mid) <= d.alpha:
            lo = mid
        else:
            hi = mid
    return lo


# -- the exact computation ----------------------------------------------------------------


def _at_least_as_good(d: Design, j: int, failures: int, verdict: Verdict, rate: float) -> float:
    looks, accept, reject = d.looks, d.accept, d.reject
    total = 0.0
    state = _start(_width(accept, reject))
    previous = 0
    for i, n in enumerate(looks):
        state = _advance(state, n - previous, 1 - rate)
        previous = n
        acc, rej = accept[i], reject[i]
        accepted = float(state[: acc + 1].sum()) if acc >= 0 else 0.0
        if verdict is Verdict.ACCEPT:
            if i < j:
                total += accepted
            elif i == j:
                return total + float(state[: min(failures, acc) + 1].sum())
        else:
            total += accepted
            if i > j:
                total += float(state[rej + 1 :].sum())
            elif i == j:
                total += float(state[max(rej + 1, 0) : failures + 1].sum())
        state[: acc + 1] = 0.0
        state[rej + 1 :] = 0.0
    return total


def _operate(
    looks: tuple[int, ...], accept: tuple[int, ...], reject: tuple[int, ...], rate: float
) -> Operating:
    state = _start(_width(accept, reject))
    by_accept, by_reject = [], []
    expected = 0.0
    previous = 0
    for n, acc, rej in zip(looks, accept, reject, strict=True):
        state = _advance(state, n - previous, 1 - rate)
        previous = n
        accepted = float(state[: acc + 1].sum()) if acc >= 0 else 0.0
        rejected = float(state[rej + 1 :].sum())
        by_accept.append(accepted)
        by_reject.append(rejected)
        expected += n * (accepted + rejected)
        state[: acc + 1] = 0.0
        state[rej + 1 :] = 0.0
    return Operating(rate, float(sum(by_accept)), expected, by_accept, by_reject)


def _width(accept: tuple[int, ...], reject: tuple[int, ...]) -> int:
    """Failure counts tracked one by one; the last cell holds every count beyond them
    (always rejected: no boundary reaches it)."""
    return max(max(accept), max(reject)) + 3


def _start(width: int) -> Vector:
    state = np.zeros(width)
    state[0] = 1.0
    return state


def _advance(state: Vector, trials: int, q: float) -> Vector:
    """``trials`` more trials, each failing with probability ``q``; the last cell absorbs."""
    moved = np.convolve(state, _binomial(trials, q))
    out = moved[: len(state)].copy()
    out[-1] += moved[len(state) :].sum()
    return out


def _binomial(trials: int, q: float) -> Vector:
    """The probabilities of 0..trials failures, each with probability ``q`` (log space)."""
    if q <= 0.0 or q >= 1.0:
        pmf = np.zeros(trials + 1)
        pmf[0 if q <= 0.0 else trials] = 1.0
        return pmf
    k = np.arange(trials + 1)
    logs = np.array([math.lgamma(trials + 1) - math.lgamma(i + 1) - math.lgamma(trials - i + 1)
                     for i in range(trials + 1)])  # fmt: skip
    return np.asarray(np.exp(logs + k * math.log(q) + (trials - k) * math.log1p(-q)))


def _accept_line(looks: tuple[int, ...], a: float, p0: float, p1: float) -> tuple[int, ...]:
    c1, c2 = math.log(p1 / p0), math.log((1 - p0) / (1 - p1))
    return tuple(max(-1, math.floor((n * c1 - a) / c2 + 1e-12)) for n in looks)


def _reject_line(
    looks: tuple[int, ...], accept: tuple[int, ...], b: float, p0: float, p1: float
) -> tuple[int, ...]:
    """The reject boundary for intercept ``b``: never below the accept one, never beyond the
    last acceptance boundary (past it acceptance is impossible), equal to it at the end."""
    c1, c2 = math.log(p1 / p0), math.log((1 - p0) / (1 - p1))
    last = accept[-1]
    out = []
    for n, acc in zip(looks[:-1], accept[:-1], strict=True):
        line = last if math.isinf(b) else math.floor((n * c1 + b) / c2 + 1e-12)
        out.append(max(acc, min(line, last)))
    return (*out, last)


def _calibrate_accept(
    looks: tuple[int, ...], p0: float, alpha: float, p1: float
) -> tuple[tuple[int, ...], float]:
    """The smallest intercept whose accept line alone accepts at ``p0`` with prob <= alpha."""

    def false_accept(a: float) -> float:
        accept = _accept_line(looks, a, p0, p1)
        if max(accept) < 0:
            return 0.0
        # rejecting only what can no longer be accepted leaves P(accept) as it is
        never = tuple(max(acc, accept[-1]) for acc in accept)
        return _operate(looks, accept, never, p0).accept_probability

    lo, hi = 0.0, 1.0
    while false_accept(hi) > alpha:
        lo, hi = hi, hi * 2
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if false_accept(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return _accept_line(looks, hi, p0, p1), hi


def _calibrate_reject(
    looks: tuple[int, ...], accept: tuple[int, ...], p0: float, p1: float, power: float
) -> tuple[tuple[int, ...], float]:
    """The smallest reject intercept (most early rejection) that keeps ``power`` at ``p1``."""

    def powered(b: float) -> bool:
        reject = _reject_line(looks, accept, b, p0, p1)
        return _operate(looks, accept, reject, p1).accept_probability >= power

    lo, hi = 0.0, 1.0
    while not powered(hi):
        lo, hi = hi, hi * 2
        if hi > 1e6:  # pragma: no cover - design() checked that no rejection is powered
            return _reject_line(looks, accept, math.inf, p0, p1), math.inf
    if powered(lo):
        hi = lo
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if powered(mid):
            hi = mid
        else:
            lo = mid
    return _reject_line(looks, accept, hi, p0, p1), hi


def _check(target: float, alpha: float, power: float, power_at: float) -> None:
    if not 0 < target < 1:
        raise InvalidInputError(f"target must be between 0 and 1 (exclusive), got {target}")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    if not alpha < power < 1:
        raise InvalidInputError(f"power must be between alpha and 1 (exclusive), got {power}")
    if not target < power_at < 1:
        raise InvalidInputError(
            f"the rate power is planned at must be between the target {target} and 1 "
            f"(exclusive), got {power_at}"
        )
