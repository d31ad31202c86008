"""Picking the best screened candidate on the holdout *selection* pool.

Sequential halving (Karnin et al., 2013): every surviving candidate runs the
same fresh ``trials_per_round`` scenarios (paired, so a hard scenario costs
everyone alike), the survivors are ranked by their pass rate so far, and the
best ``ceil(n / eta)`` go on, until one is left. Most of the budget goes to
the strongest candidates instead of evaluating every survivor on the full
pool. A tournament (pairwise matches, the winner of each goes on) is the
alternative for small K. Paired elimination runs every survivor on the same
scenarios round by round and drops a candidate as soon as it trails the leader
by a margin of passes, that is of wins on the scenarios where exactly one of
the two passed (a sequential probability ratio test on those discordant pairs;
see ``paired_elimination``), up to a per-candidate budget, after which the best
survivor by passes wins.
Pure: a trial is a callback, so the eval harness, the tests and the
benchmark's simulation all drive the same code.

The winner's selection score is never used for the gate: the gate runs on the
separate acceptance pool (otherwise the pick would bias the bound upwards).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from factoryos.errors import InvalidInputError

#: ``trial(candidate, scenario_index) -> passed``; scenario indexes count up across rounds.
Trial = Callable[[int, int], bool]


@dataclass
class Score:
    """One candidate's selection record."""

    candidate: int
    passes: int = 0
    trials: int = 0
    eliminated_in: int | None = None

    @property
    def rate(self) -> float:
        return self.passes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class Round:
    """One round: who ran, how many scenarios each, and who was eliminated."""

    number: int
    survivors: list[int]
    scenarios: list[int]
    eliminated: list[int]


@dataclass
class SelectionResult:
    """The winner, every candidate's record, the rounds, and the trials spent."""

    winner: int
    scores: dict[int, Score]
    rounds: list[Round] = field(default_factory=list)

    @property
    def trials_spent(self) -> int:
        return sum(s.trials for s in self.scores.values())


def planned_rounds(survivors: int, eta: int, rounds: int | None = None) -> int:
    """``rounds`` if given, else ceil(log_eta(survivors)) (0 for a single survivor)."""
    if survivors <= 1:
        return 0
    return rounds if rounds is not None else math.ceil(math.log(survivors, eta) - 1e-9)


def sequential_halving(
    candidates: Sequence[int],
    trial: Trial,
    *,
    eta: int = 2,
    trials_per_round: int = 32,
    rounds: int | None = None,
) -> SelectionResult:
    """Halve ``candidates`` (by 1/eta per round) on fresh paired scenarios until one is left."""
    _check(candidates, eta, trials_per_round)
    scores = {c: Score(c) for c in candidates}
    survivors = list(candidates)
    result = SelectionResult(winner=survivors[0], scores=scores)
    total = planned_rounds(len(survivors), eta, rounds)
    next_scenario = 0
    for number in range(1, total + 1):
        if len(survivors) == 1:
            break
        scenarios = list(range(next_scenario, next_scenario + trials_per_round))
        next_scenario += trials_per_round
        for candidate in survivors:
            for scenario in scenarios:
                _record(scores[candidate], trial(candidate, scenario))
        keep = 1 if number == total else max(1, math.ceil(len(survivors) / eta))
        ranked = _ranked(survivors, scores)
        eliminated = ranked[keep:]
        for candidate in eliminated:
            scores[candidate].eliminated_in = number
        result.rounds.append(Round(number, survivors, scenarios, eliminated))
        survivors = ranked[:keep]
    result.winner = _ranked(survivors, scores)[0]
    return result


def elimination_margin(candidates: int, delta: float, theta: float) -> int:
    """Passes a survivor may trail the leader by before ``paired_elimination`` drops it.

    The smallest ``m`` with ``(theta / (1 - theta)) ** m >= (candidates - 1) / delta``: a
    rival that loses each discordant scenario with probability at least ``theta`` leads
    by ``m`` at some point with probability at most ``((1 - theta) / theta) ** m``
    (Ville's inequality), ``delta / (candidates - 1)`` or less.
    """
    if candidates < 2 or not 0 < delta < 1 or not 0.5 < theta < 1:
        raise InvalidInputError(
            f"need at least 2 candidates, 0 < delta < 1 and 1/2 < theta < 1, got "
            f"{candidates}, {delta}, {theta}"
        )
    need = math.log((candidates - 1) / delta) / math.log(theta / (1 - theta))
    return max(1, math.ceil(need - 1e-9))


def paired_elimination(
    candidates: Sequence[int],
    trial: Trial,
    *,
    trials_per_round: int = 8,
    max_trials: int = 200,
    delta: float = 0.1,
    theta: float = 0.63,
) -> SelectionResult:
    """Drop a survivor once it trails the leader by a margin of passes on the same scenarios.

    Each round every survivor runs the same ``trials_per_round`` fresh scenarios, up to
    ``max_trials`` each (the full pool); after the round the margin is checked, and
    selection stops as soon as one survivor is left. As all
    survivors ran the same scenarios, the leader's lead in passes over a rival is its
    wins minus its losses on the scenarios exactly one of the two passed (the discordant
    pairs). A rival is dropped when that lead reaches ``elimination_margin(K, delta,
    theta)`` (7 for K = 4, 8 for K = 8 with the defaults): the sequential probability
    ratio test of "the leader wins a discordant pair with probability ``theta``" against
    "with probability ``1 - theta``". When the pool runs out, the survivor with most
    passes wins (ties to the lower index).

    Guarantee: if on every scenario the best candidate, when exactly one of it and a
    rival passes, is the one with probability at least ``theta`` (when the two outcomes
    are independent given the scenario, as with independent outcomes or a difficulty
    shared by all: its odds of passing on that scenario are at least
    ``theta / (1 - theta)`` times the rival's, 1.7 by default, e.g. 0.9 against 0.84),
    that rival eliminates it with probability at most ``delta / (K - 1)``, so a best
    that is this far ahead of every rival is eliminated with probability at most
    ``delta``, whenever the test is checked (Ville's inequality on the nonnegative
    supermartingale ``(theta / (1 - theta)) ** (the rival's lead)``). Closer rivals are not
    covered: one of them may eliminate the best.
    """
    _check(candidates, 2, trials_per_round)
    if max_trials < 1:
        raise InvalidInputError(f"need max_trials >= 1, got {max_trials}")
    margin = elimination_margin(max(2, len(candidates)), delta, theta)
    scores = {c: Score(c) for c in candidates}
    result = SelectionResult(winner=candidates[0], scores=scores)
    survivors = list(candidates)
    done, number = 0, 0
    while len(survivors) > 1 and done < max_trials:
        number += 1
        scenarios = list(range(done, min(max_trials, done + trials_per_round)))
        done = scenarios[-1] + 1
        for candidate in survivors:
            for scenario in scenarios:
                _record(scores[candidate], trial(candidate, scenario))
        lead = max(scores[c].passes for c in survivors)
        eliminated = [c for c in survivors if lead - scores[c].passes >= margin]
        for candidate in eliminated:
            scores[candidate].eliminated_in = number
        result.rounds.append(Round(number, survivors, scenarios, eliminated))
        survivors = [c for c in survivors if c not in eliminated]
    result.winner = _ranked(survivors, scores)[0]
    return result


def tournament(
    candidates: Sequence[int], trial: Trial, *, trials_per_round: int = 32
) -> SelectionResult:
    """Single elimination: each match is ``trials_per_round`` paired scenarios; a bye goes on."""
    _check(candidates, 2, trials_per_round)
    scores = {c: Score(c) for c in candidates}
    result = SelectionResult(winner=candidates[0], scores=scores)
    alive = list(candidates)
    next_scenario, number = 0, 0
    while len(alive) > 1:
        number += 1
        scenarios = list(range(next_scenario, next_scenario + trials_per_round))
        next_scenario += trials_per_round
        winners, eliminated = [], []
        for i in range(0, len(alive), 2):
            pair = alive[i : i + 2]
            if len(pair) == 1:
                winners.append(pair[0])
                continue
            round_passes = dict.fromkeys(pair, 0)
            for candidate in pair:
                for scenario in scenarios:
                    passed = trial(candidate, scenario)
                    _record(scores[candidate], passed)
                    round_passes[candidate] += passed
            a, b = pair
            best = a if (round_passes[a], -a) >= (round_passes[b], -b) else b
            loser = b if best == a else a
            scores[loser].eliminated_in = number
            winners.append(best)
            eliminated.append(loser)
        result.rounds.append(Round(number, alive, scenarios, eliminated))
        alive = winners
    result.winner = alive[0]
    return result


def select(
    strategy: str,
    candidates: Sequence[int],
    trial: Trial,
    *,
    eta: int = 2,
    trials_per_round: int = 32,
    rounds: int | None = None,
    max_trials: int = 200,
    delta: float = 0.1,
) -> SelectionResult:
    """The Run's ``spec.selection`` applied: ``sequential-halving``, ``tournament`` or
    ``paired-elimination``."""
    if strategy == "paired-elimination":
        return paired_elimination(
            candidates, trial, trials_per_round=trials_per_round, max_trials=max_trials,
            delta=delta,
        )  # fmt: skip
    if strategy == "tournament":
        return tournament(candidates, trial, trials_per_round=trials_per_round)
    if strategy == "sequential-halving":
        return sequential_halving(
            candidates, trial, eta=eta, trials_per_round=trials_per_round, rounds=rounds
        )
    raise InvalidInputError(f"unknown selection strategy {strategy!r}")


def _record(score: Score, passed: bool) -> None:
    score.trials += 1
    score.passes += int(passed)


def _ranked(candidates: Sequence[int], scores: dict[int, Score]) -> list[int]:
    """Best pass rate first; ties go to the lower index (deterministic)."""
    return sorted(candidates, key=lambda c: (-scores[c].rate, c))


def _check(candidates: Sequence[int], eta: int, trials_per_round: int) -> None:
    if not candidates:
        raise InvalidInputError("selection needs at least one screened candidate")
    if len(set(candidates)) != len(candidates):
        raise InvalidInputError(f"candidates repeat: {list(candidates)}")
    if eta < 2:
        raise InvalidInputError(f"eta must be at least 2, got {eta}")
    if trials_per_round < 1:
        raise InvalidInputError(f"trials per round must be at least 1, got {trials_per_round}")
