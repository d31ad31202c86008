"""Picking the best candidate on the selection pool: sequential halving and a tournament."""

from __future__ import annotations

import random

import pytest

from factoryos.errors import InvalidInputError
from factoryos.evals.selection import (
    elimination_margin,
    paired_elimination,
    planned_rounds,
    select,
    sequential_halving,
    tournament,
)


def oracle(rates: dict[int, float], seed: int = 7):  # type: ignore[no-untyped-def]
    """Candidate c passes scenario s with probability rates[c] (the same draw every time)."""

    def trial(candidate: int, scenario: int) -> bool:
        return random.Random(f"{seed}:{candidate}:{scenario}").random() < rates[candidate]

    return trial


def test_halving_keeps_halving_until_one_is_left_and_picks_the_best() -> None:
    rates = {0: 0.5, 1: 0.6, 2: 0.99, 3: 0.7, 4: 0.2, 5: 0.8, 6: 0.4, 7: 0.3}
    result = sequential_halving(list(rates), oracle(rates), eta=2, trials_per_round=32)
    assert result.winner == 2
    assert [len(r.survivors) for r in result.rounds] == [8, 4, 2]
    assert result.trials_spent == 32 * (8 + 4 + 2)
    assert result.scores[2].eliminated_in is None
    assert sorted(c for r in result.rounds for c in r.eliminated) == [0, 1, 3, 4, 5, 6, 7]
    assert {result.scores[c].eliminated_in for c in (4, 6, 7, 0)} == {1}


def test_every_survivor_runs_the_same_fresh_scenarios_each_round() -> None:
    ran: dict[int, set[int]] = {}

    def trial(candidate: int, scenario: int) -> bool:
        ran.setdefault(candidate, set()).add(scenario)
        return candidate == 3

    result = sequential_halving([0, 1, 2, 3], trial, trials_per_round=4)
    assert result.winner == 3
    assert [r.scenarios for r in result.rounds] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    for r in result.rounds:
        for candidate in r.survivors:
            assert set(r.scenarios) <= ran[candidate], "paired: the same scenarios for all"
    assert ran[3] == set(range(8))


def test_odd_counts_rounds_and_a_single_candidate() -> None:
    rates = {i: i / 10 for i in range(5)}
    five = sequential_halving(list(rates), oracle(rates), trials_per_round=16)
    assert [len(r.survivors) for r in five.rounds] == [5, 3, 2]
    one_round = sequential_halving(list(rates), oracle(rates), rounds=1, trials_per_round=8)
    assert len(one_round.rounds) == 1 and len(one_round.rounds[0].eliminated) == 4
    alone = sequential_halving([7], oracle({7: 0.1}))
    assert alone.winner == 7 and alone.trials_spent == 0 and alone.rounds == []
    assert planned_rounds(9, 3) == 2 and planned_rounds(8, 2) == 3 and planned_rounds(1, 2) == 0


def test_ties_go_to_the_lower_index() -> None:
    result = sequential_halving([4, 2, 9], lambda c, s: True, trials_per_round=3)
    assert result.winner == 2


def test_a_tournament_with_a_bye() -> None:
    rates = {0: 0.3, 1: 0.9, 2: 0.6}
    result = tournament([0, 1, 2], oracle(rates), trials_per_round=40)
    assert result.winner == 1
    assert result.rounds[0].eliminated == [0], "2 had a bye"
    assert result.rounds[1].eliminated == [2]
    assert select("tournament", [0, 1, 2], oracle(rates)).winner == 1


@pytest.mark.parametrize(
    ("candidates", "eta", "per_round", "message"),
    [
        ([], 2, 1, "at least one"),
        ([1, 1], 2, 1, "repeat"),
        ([1], 1, 1, "eta"),
        ([1], 2, 0, "trials"),
    ],
)
def test_bad_input_is_refused(
    candidates: list[int], eta: int, per_round: int, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sequential_halving(candidates, lambda c, s: True, eta=eta, trials_per_round=per_round)
    with pytest.raises(InvalidInputError, match="unknown selection"):
        select("lottery", [1], lambda c, s: True)


class TestPairedElimination:
    """Every survivor on the same scenarios; a rival drops once it trails the leader by the
    margin of passes, that is of wins on the scenarios only one of the two passed."""

    def test_a_clearly_worse_candidate_is_dropped_early_and_the_best_wins(self) -> None:
        rates = {0: 0.95, 1: 0.5, 2: 0.3}

        def trial(c: int, s: int) -> bool:
            return random.Random(f"{c}:{s}").random() < rates[c]

        result = paired_elimination([0, 1, 2], trial, trials_per_round=8, max_trials=200)
        assert result.winner == 0
        assert result.trials_spent < 3 * 200 / 2
        assert all(result.scores[c].eliminated_in for c in (1, 2))
        for r in result.rounds:  # paired: every survivor ran the round's scenarios
            assert all(result.scores[c].trials >= len(r.scenarios) for c in r.survivors)

    def test_equal_candidates_run_the_whole_pool_and_the_best_by_passes_wins(self) -> None:
        result = paired_elimination([0, 1], lambda c, s: s % 2 == 0, max_trials=40)
        assert result.trials_spent == 80 and result.winner == 0, "ties go to the lower index"

    def test_a_rival_is_dropped_the_round_it_trails_by_the_margin(self) -> None:
        # Two candidates, delta 0.1, theta 0.63: the margin is 5 passes.
        assert elimination_margin(2, 0.1, 0.63) == 5
        result = paired_elimination([0, 1], lambda c, s: c == 0, trials_per_round=1)
        assert result.winner == 0 and result.scores[1].eliminated_in == 5
        assert result.trials_spent == 10 and len(result.rounds) == 5, "stops at one survivor"

    def test_the_margin_is_the_smallest_that_reaches_the_ratio(self) -> None:
        for k, delta, theta in [(4, 0.1, 0.63), (8, 0.1, 0.63), (3, 0.01, 0.55), (2, 0.5, 0.9)]:
            m, odds = elimination_margin(k, delta, theta), theta / (1 - theta)
            assert odds**m >= (k - 1) / delta > odds ** (m - 1)
        assert (elimination_margin(4, 0.1, 0.63), elimination_margin(8, 0.1, 0.63)) == (7, 8)

    def test_the_best_is_eliminated_at_most_delta_when_rivals_are_theta_behind(self) -> None:
        # The guarantee at its edge: each rival's odds of passing are (1 - theta) / theta
        # times the best's, so the best wins a discordant scenario with probability theta
        # exactly; over seeded runs it is eliminated in at most a share delta of them.
        delta, theta, runs = 0.2, 0.63, 300
        best = 0.8
        odds = best / (1 - best) * (1 - theta) / theta
        rates = [best] + [odds / (1 + odds)] * 3
        eliminated = 0
        for run in range(runs):
            rng = random.Random(run)
            draws = {(c, s): rng.random() < rates[c] for c in range(4) for s in range(200)}

            def trial(c: int, s: int, d: dict[tuple[int, int], bool] = draws) -> bool:
                return d[c, s]

            result = paired_elimination(
                [0, 1, 2, 3], trial, trials_per_round=1, max_trials=200, delta=delta,
                theta=theta,
            )  # fmt: skip
            eliminated += result.scores[0].eliminated_in is not None
        assert eliminated / runs <= delta
        assert eliminated > 0, "the edge case does happen: the bound is not vacuous here"

    def test_the_same_outcomes_give_the_same_selection(self) -> None:
        rates = {0: 0.9, 1: 0.85, 2: 0.8, 3: 0.88}
        first = paired_elimination(list(rates), oracle(rates), trials_per_round=4)
        again = paired_elimination(list(rates), oracle(rates), trials_per_round=4)
        assert first == again
        assert first.rounds and first.trials_spent < 4 * 200

    def test_bad_parameters_are_refused(self) -> None:
        with pytest.raises(InvalidInputError):
            paired_elimination([0, 1], lambda c, s: True, delta=1.5)
        with pytest.raises(InvalidInputError):
            paired_elimination([0, 1], lambda c, s: True, theta=0.4)
        with pytest.raises(InvalidInputError, match="max_trials"):
            paired_elimination([0, 1], lambda c, s: True, max_trials=0)
        with pytest.raises(InvalidInputError, match="at least 2 candidates"):
            elimination_margin(1, 0.1, 0.63)
        assert paired_elimination([5], lambda c, s: True).winner == 5
