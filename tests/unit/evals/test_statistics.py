"""The gate's statistics match the exact Clopper-Pearson values (statistics-and-voice.md, A1)."""

from __future__ import annotations

import pytest

from factoryos.errors import InvalidInputError
from factoryos.evals import cp_interval, cp_lower, decide, futile, iteration_alpha, min_trials


@pytest.mark.parametrize(
    ("failures", "one_sided", "two_sided", "strict"),
    [(0, 149, 183, 228), (1, 236, 277, 330), (2, 313, 359, 418), (3, 386, 436, 499)],
)
def test_planned_trials_match_the_exact_table(
    failures: int, one_sided: int, two_sided: int, strict: int
) -> None:
    assert min_trials(0.98, 0.05, failures) == one_sided
    assert min_trials(0.98, 0.05, failures, "two-sided") == two_sided
    assert min_trials(0.98, 0.01, failures) == strict


@pytest.mark.parametrize(
    ("k", "n", "one", "two"),
    [(50, 50, 0.9418, 0.9289), (99, 100, 0.9534, 0.9455), (148, 150, 0.9586, 0.9527),
     (300, 300, 0.9901, 0.9878), (498, 500, 0.9875, 0.9856)],
)  # fmt: skip
def test_lower_bounds_match_the_exact_values(k: int, n: int, one: float, two: float) -> None:
    assert cp_lower(k, n) == pytest.approx(one, abs=5e-5)
    assert cp_lower(k, n, sided="two-sided") == pytest.approx(two, abs=5e-5)


def test_edges_fail_closed() -> None:
    assert cp_lower(0, 10) == 0.0
    assert cp_lower(0, 0) == 0.0
    assert cp_interval(0, 10) == pytest.approx((0.0, 0.3085), abs=5e-5)
    assert cp_interval(10, 10) == pytest.approx((0.6915, 1.0), abs=5e-5)
    assert cp_lower(149, 149) == pytest.approx(0.98009, abs=1e-5)  # = 0.05 ** (1/149)


@pytest.mark.parametrize(
    ("k", "n", "alpha"), [(3, 2, 0.05), (-1, 2, 0.05), (1, 2, 0.0), (1, 2, 1.0)]
)
def test_impossible_inputs_are_refused(k: int, n: int, alpha: float) -> None:
    with pytest.raises(InvalidInputError):
        cp_lower(k, n, alpha)


def test_the_gate_needs_the_bound_and_the_verifiers() -> None:
    assert decide(149, 149, 0.98).accepted
    assert not decide(148, 149, 0.98).accepted
    assert not decide(149, 149, 0.98, verifiers_passed=False).accepted
    empty = decide(0, 0, 0.98)
    assert not empty.accepted and empty.reason == "no acceptance trials were run"


def test_futility_stops_as_soon_as_the_target_is_out_of_reach() -> None:
    # 149 planned, all must pass: one failure already makes it impossible.
    assert not futile(10, 10, 149, 0.98)
    assert futile(9, 10, 149, 0.98)
    # 236 planned allows one failure, not two.
    assert not futile(99, 100, 236, 0.98)
    assert futile(98, 100, 236, 0.98)


def test_alpha_is_split_across_iterations() -> None:
    assert iteration_alpha(0.05, 3) == pytest.approx(0.05 / 3)
    assert min_trials(0.98, iteration_alpha(0.05, 3)) > min_trials(0.98, 0.05)
    with pytest.raises(InvalidInputError):
        iteration_alpha(0.05, 0)


def test_the_bound_is_where_the_binomial_tail_equals_alpha_at_many_points() -> None:
    """An independent check: at the lower bound p, P(X >= k | n, p) = alpha (one-sided)."""
    from scipy.stats import binom

    for n in (1, 2, 5, 17, 40, 149, 150, 500):
        for k in sorted({1, n // 3, n // 2, n - 1, n} - {0}):
            for alpha in (0.01, 0.05, 0.1):
                p = cp_lower(k, n, alpha)
                assert binom.sf(k - 1, n, p) == pytest.approx(alpha, rel=1e-6), (k, n, alpha)
                lower, upper = cp_interval(k, n, alpha)
                assert binom.sf(k - 1, n, lower) == pytest.approx(alpha / 2, rel=1e-6)
                if k < n:
                    assert binom.cdf(k, n, upper) == pytest.approx(alpha / 2, rel=1e-6)


def test_149_of_149_is_accepted_and_148_of_149_is_not() -> None:
    assert decide(149, 149, 0.98, 0.05).accepted
    assert not decide(148, 149, 0.98, 0.05).accepted
