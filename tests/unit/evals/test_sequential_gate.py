"""The group-sequential gate: exact error and power, checked against seeded simulation.

The exact operating characteristic (a dynamic program over failure counts) is
compared at many true rates with 10^4 simulated gates per rate (vectorized,
an independent implementation of the stopping rule); the real gate runner is
checked against the vectorized rule trial for trial. Properties (hypothesis):
the Clopper-Pearson bound never exceeds the observed rate, and more passes
never turn an acceptance into a rejection.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.errors import InvalidInputError
from factoryos.evals.gate import run_gate
from factoryos.evals.sequential import (
    Design,
    Verdict,
    design,
    fixed_design,
    operating,
    plan,
    wald_bound,
)
from factoryos.evals.statistics import cp_lower, fixed_plan
from factoryos.models import AcceptanceMethod as Method

SIMULATED = 10_000


@pytest.fixture(scope="module")
def d98() -> Design:
    return design(0.98, 0.05)


@pytest.fixture(scope="module")
def d90() -> Design:
    return design(0.9, 0.05)


def simulate(d: Design, rate: float, seed: int, gates: int = SIMULATED) -> tuple[float, float]:
    """(share accepted, mean trials) of ``gates`` seeded gates, all paths at once."""
    rng = np.random.default_rng(seed)
    failed = rng.random((gates, d.max_trials)) >= rate
    at_looks = np.cumsum(failed, axis=1)[:, np.array(d.looks) - 1]
    accept = at_looks <= np.array(d.accept)
    reject = at_looks > np.array(d.reject)
    decided = accept | reject
    first = decided.argmax(axis=1)  # the last look always decides
    accepted = accept[np.arange(gates), first]
    return float(accepted.mean()), float(np.array(d.looks)[first].mean())


class TestExactErrorControl:
    @pytest.mark.parametrize("rate", [0.9, 0.95, 0.97, 0.975, 0.979, 0.9799])
    def test_no_rate_below_the_target_is_accepted_more_often_than_alpha(
        self, d98: Design, rate: float
    ) -> None:
        assert operating(d98, rate).accept_probability <= 0.05

    def test_the_worst_case_is_the_target_itself(self, d98: Design) -> None:
        rates = np.linspace(0.9, 0.98, 17)
        oc = [operating(d98, float(r)).accept_probability for r in rates]
        assert oc == sorted(oc)  # acceptance grows with the true rate
        assert oc[-1] <= 0.05

    @pytest.mark.parametrize("target", [0.9, 0.95, 0.99])
    def test_every_common_target_keeps_alpha_and_power(self, target: float) -> None:
        d = design(target, 0.05)
        assert operating(d, target).accept_probability <= 0.05
        assert operating(d, d.power_at).accept_probability >= 0.9


class TestPowerAndCost:
    def test_the_goals_at_target_098(self, d98: Design) -> None:
        assert operating(d98, 0.995).accept_probability >= 0.90
        assert operating(d98, 0.998).accept_probability >= 0.99

    def test_it_expects_far_fewer_trials_than_the_fixed_plan_with_the_same_power(
        self, d98: Design
    ) -> None:
        expected = operating(d98, 0.995).expected_trials
        assert fixed_plan(0.98, 0.05, 0.9, 0.995) == (d98.fixed_trials, d98.fixed_failures)
        assert expected <= 0.7 * d98.fixed_trials
        assert expected >= wald_bound(0.98, 0.05, 0.9, 0.995)  # no test beats Wald's bound

    def test_a_candidate_that_never_fails_is_accepted_at_the_earliest_look(
        self, d98: Design
    ) -> None:
        run = run_gate(d98, lambda i: True)
        assert run.accepted and run.trials == d98.earliest_accept
        assert 149 <= d98.earliest_accept < d98.fixed_trials  # 149: zero failures, fixed

    def test_the_product_chooses_the_power(self) -> None:
        strict = design(0.95, 0.05, power=0.99, power_at=0.99)
        assert operating(strict, 0.99).accept_probability >= 0.99
        with pytest.raises(InvalidInputError):
            design(0.95, 0.05, power=0.9, power_at=0.94)


class TestAgainstSeededSimulation:
    @pytest.mark.parametrize(
        "rate", [0.96, 0.98, 0.985, 0.99, 0.995, 0.998, 1.0]
    )  # fmt: skip
    def test_exact_acceptance_and_trials_match_10k_simulated_gates(
        self, d98: Design, rate: float
    ) -> None:
        exact = operating(d98, rate)
        share, trials = simulate(d98, rate, seed=int(rate * 1e4))
        band = 4 * np.sqrt(max(exact.accept_probability * (1 - exact.accept_probability),
                               1e-4) / SIMULATED)  # fmt: skip
        assert abs(share - exact.accept_probability) <= band
        assert trials == pytest.approx(exact.expected_trials, rel=0.03)

    @pytest.mark.parametrize("rate", [0.85, 0.9, 0.95, 0.97])
    def test_the_same_at_target_090(self, d90: Design, rate: float) -> None:
        exact = operating(d90, rate)
        share, _ = simulate(d90, rate, seed=int(rate * 1e4) + 1)
        band = 4 * np.sqrt(max(exact.accept_probability * (1 - exact.accept_probability),
                               1e-4) / SIMULATED)  # fmt: skip
        assert abs(share - exact.accept_probability) <= band

    def test_the_gate_runner_decides_as_the_stopping_rule_does(self, d90: Design) -> None:
        rng = np.random.default_rng(7)
        for _ in range(200):
            outcomes = rng.random(d90.max_trials) < 0.96
            run = run_gate(d90, lambda i, o=outcomes: bool(o[i]))  # type: ignore[misc]
            failures = np.cumsum(~outcomes)[np.array(d90.looks) - 1]
            decided = (failures <= np.array(d90.accept)) | (failures > np.array(d90.reject))
            j = int(decided.argmax())
            assert run.trials == d90.looks[j] and run.looks_taken == j + 1
            assert run.accepted == bool(failures[j] <= d90.accept[j])


class TestRecomputing:
    def test_the_recorded_design_and_outcomes_give_the_same_decision(self, d90: Design) -> None:
        recorded = json.loads(json.dumps(d90.to_json()))  # as evaluation.json holds it
        again = Design.from_json(recorded)
        assert again == d90
        outcomes = [i % 9 != 4 for i in range(d90.max_trials)]
        first, second = run_gate(d90, outcomes.__getitem__), run_gate(again, outcomes.__getitem__)
        assert (first.verdict, first.trials, first.looks_taken) == (
            second.verdict, second.trials, second.looks_taken,
        )  # fmt: skip


class TestFixedPlanMethod:
    def test_the_clopper_pearson_plan_is_a_design_too(self) -> None:
        d = plan(Method.CLOPPER_PEARSON, 0.98, 0.05)
        assert (d.max_trials, d.accept[-1]) == (456, 4)
        assert cp_lower(456 - 4, 456) >= 0.98 > cp_lower(456 - 5, 456)
        assert operating(d, 0.98).accept_probability <= 0.05
        run = run_gate(d, lambda i: i % 50 != 0)  # fails at 0, 50, 100, 150, 200: five
        assert run.verdict is Verdict.REJECT and run.trials == 201

    def test_the_fixed_plan_accepts_exactly_when_the_bound_reaches_the_target(self) -> None:
        d = fixed_design(0.9, 0.05)
        for failures in range(d.fixed_failures + 3):
            run = run_gate(d, lambda i, f=failures: i >= f)  # type: ignore[misc]
            expected = cp_lower(d.max_trials - failures, d.max_trials) >= 0.9
            assert run.accepted == expected
            assert run.accepted == (run.bound >= 0.9)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
           st.sampled_from([0.01, 0.05, 0.1]))  # fmt: skip
    def test_the_bound_never_exceeds_the_observed_rate(
        self, counts: tuple[int, int], alpha: float
    ) -> None:
        k, n = counts
        assert cp_lower(k, n, alpha) <= k / n

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.booleans(), min_size=38, max_size=156), st.data())
    def test_more_passes_never_turn_an_accept_into_a_reject(
        self, d90: Design, outcomes: list[bool], data: st.DataObject
    ) -> None:
        outcomes = outcomes + [True] * (d90.max_trials - len(outcomes))
        before = run_gate(d90, lambda i: outcomes[i])
        flip = data.draw(st.integers(0, d90.max_trials - 1))
        better = [*outcomes[:flip], True, *outcomes[flip + 1 :]]
        after = run_gate(d90, lambda i: better[i])
        if before.accepted:
            assert after.accepted and after.trials <= before.trials

    @settings(max_examples=50, deadline=None)
    @given(st.integers(0, 12))
    def test_an_accepted_outcome_bounds_the_rate_at_or_above_the_target(
        self, d90: Design, failures: int
    ) -> None:
        run = run_gate(d90, lambda i: i >= failures)
        assert run.accepted == (run.bound >= 0.9)
