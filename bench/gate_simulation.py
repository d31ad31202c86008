"""Simulation: the acceptance gate's false-accept rate and what sequential halving saves.

Seeded and pure (no processes): the same selection and gate code the factory
runs, with scenario outcomes drawn from known pass rates.

Part 1, false accepts: a winner whose true pass rate is just below the target
(or far below) goes through the gate up to ``max_iterations`` times (fresh
acceptance trials each time, alpha split across the iterations, early
rejection when even all remaining trials passing cannot reach the target).
The rate of runs that were ever accepted must stay at or below alpha.

Part 2, selection cost: K candidates of known quality; sequential halving on
the selection pool versus running every survivor on the full pool (the same
number of scenarios the halving winner ran). Reported: trials spent and how
often each picks the truly best candidate.

    make bench      # or: .venv/bin/python bench/gate_simulation.py --runs 4000
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factoryos.evals.selection import sequential_halving
from factoryos.evals.statistics import cp_lower, futile, iteration_alpha, min_trials


def gate_run(
    rng: random.Random, rate: float, target: float, alpha: float, iterations: int
) -> tuple[bool, int]:
    """One run's gate attempts; (ever accepted, acceptance trials spent)."""
    per_iteration = iteration_alpha(alpha, iterations)
    planned = min_trials(target, per_iteration)
    spent = 0
    for _ in range(iterations):
        passes = 0
        for done in range(1, planned + 1):
            passes += rng.random() < rate
            spent += 1
            if futile(passes, done, planned, target, per_iteration):
                break
        else:
            if cp_lower(passes, planned, per_iteration) >= target:
                return True, spent
    return False, spent


def part1(runs: int, seed: int, target: float, alpha: float, iterations: int) -> None:
    print(f"-- false accepts: target {target}, alpha {alpha}, up to {iterations} iteration(s), "
          f"{runs} seeded runs per true rate")  # fmt: skip
    planned = min_trials(target, iteration_alpha(alpha, iterations))
    print(f"   acceptance trials planned per iteration: {planned}")
    for rate in (target - 0.001, target - 0.01, target - 0.05, target + 0.015):
        rng = random.Random(f"{seed}:{rate}")
        accepted = spent = 0
        for _ in range(runs):
            ok, used = gate_run(rng, rate, target, alpha, iterations)
            accepted += ok
            spent += used
        share = accepted / runs
        verdict = (
            "" if rate >= target else ("  <= alpha: ok" if share <= alpha else "  > alpha: FAIL")
        )
        label = "true rate" if rate < target else "true rate (good)"
        error = 2 * (share * (1 - share) / runs) ** 0.5  # two standard errors
        print(f"   {label} {rate:.3f}: accepted {share:.4f} (+/- {error:.4f}) of runs, "
              f"{spent / runs:.1f} trials per run{verdict}")  # fmt: skip


def seeded_trials(seed: str, rates: dict[int, float]) -> Callable[[int, int], bool]:
    """Scenario outcomes drawn once per (candidate, scenario) from the true pass rates."""
    draws: dict[tuple[int, int], bool] = {}

    def trial(candidate: int, scenario: int) -> bool:
        key = (candidate, scenario)
        if key not in draws:
            draws[key] = random.Random(f"{seed}:{candidate}:{scenario}").random() < rates[candidate]
        return draws[key]

    return trial


def part2(runs: int, seed: int, k: int, per_round: int) -> None:
    print(f"-- selection: K={k} candidates, {per_round} paired scenarios per round, {runs} runs")
    halving_trials = full_trials = halving_best = full_best = 0
    for run in range(runs):
        rng = random.Random(f"{seed}:sel:{run}")
        rates = {c: rng.uniform(0.5, 0.97) for c in range(k)}
        best = max(rates, key=lambda c: rates[c])

        trial = seeded_trials(f"{seed}:{run}", rates)

        halving = sequential_halving(list(rates), trial, trials_per_round=per_round)
        halving_trials += halving.trials_spent
        halving_best += halving.winner == best
        pool = halving.scores[halving.winner].trials  # the full pool: what the winner ran
        full = {c: sum(trial(c, s) for s in range(pool)) for c in rates}
        full_trials += pool * k
        full_best += max(full, key=lambda c: (full[c], -c)) == best
    print(f"   sequential halving: {halving_trials / runs:.0f} trials per run, "
          f"picked the best {halving_best / runs:.1%}")  # fmt: skip
    print(f"   every survivor on the full pool: {full_trials / runs:.0f} trials per run, "
          f"picked the best {full_best / runs:.1%}")  # fmt: skip
    print(f"   halving spends {halving_trials / full_trials:.2f}x the trials of the full pool")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--trials-per-round", type=int, default=32)
    args = parser.parse_args()
    part1(args.runs, args.seed, args.target, args.alpha, 1)
    part1(args.runs, args.seed, args.target, args.alpha, args.iterations)
    part2(args.runs // 4, args.seed, args.candidates, args.trials_per_round)


if __name__ == "__main__":
    main()
