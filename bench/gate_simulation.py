"""Simulation: the acceptance gate's methods side by side, and what selection spends.

Seeded and pure (no processes): the same gate and selection code the factory
runs (``factoryos.evals.gate.run_gate``, ``factoryos.evals.selection``), with
trial outcomes drawn from known pass rates, next to the exact values the design
computes (``factoryos.evals.sequential.operating``).

Part 1, the gate: three methods at the same target and alpha, with one and with
three iterations (a Run's alpha split evenly across its iterations; a run is
accepted when any iteration accepts): the old zero-failure Clopper-Pearson
plan, the fixed Clopper-Pearson plan with the product's power
(``acceptance.method: clopper-pearson``) and the group-sequential test
(``sequential``, the default). Columns: the false-accept rate just below the
target (must stay <= alpha), power at 0.995 and 0.998, expected acceptance
trials at 0.995 (and as a multiple of the smallest fixed plan with the same
power), simulated and exact.

Part 2, selection cost: K candidates of known quality; the selection schemes on
the selection pool versus running every candidate on the full pool. Reported:
trials spent and how often each picks the truly best candidate.

    make bench      # or: .venv/bin/python bench/gate_simulation.py --runs 4000
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factoryos.evals.gate import run_gate
from factoryos.evals.selection import sequential_halving
from factoryos.evals.sequential import Design, design, fixed_design, operating, wald_bound
from factoryos.evals.statistics import iteration_alpha

METHODS: dict[str, Callable[[float, float], Design]] = {
    "zero-failure CP (old)": lambda target, alpha: fixed_design(target, alpha, failures=0),
    "clopper-pearson": lambda target, alpha: fixed_design(target, alpha),
    "sequential": lambda target, alpha: design(target, alpha),
}


def gate_run(rng: random.Random, rate: float, designs: list[Design]) -> tuple[bool, int]:
    """One run's gate attempts, a fresh gate per iteration; (ever accepted, trials spent)."""
    spent = 0
    for d in designs:
        gate = run_gate(d, lambda _i: rng.random() < rate)
        spent += gate.trials
        if gate.accepted:
            return True, spent
    return False, spent


def exact_run(rate: float, designs: list[Design]) -> tuple[float, float]:
    """The same, computed: P(ever accepted) and expected trials over the iterations."""
    reach, accepted, spent = 1.0, 0.0, 0.0
    for d in designs:
        oc = operating(d, rate)
        spent += reach * oc.expected_trials
        accepted += reach * oc.accept_probability
        reach *= 1 - oc.accept_probability
    return accepted, spent


def part1(runs: int, seed: int, target: float, alpha: float, iterations: int) -> None:
    below = round(target - 0.001, 6)
    print(f"-- the gate: target {target}, alpha {alpha}, up to {iterations} iteration(s), "
          f"{runs} seeded runs per rate (simulated / exact)")  # fmt: skip
    head = (
        f"   {'method':<22} {'max n':>6} {'false accept @' + str(below):>22} "
        f"{'power @0.995':>15} {'power @0.998':>15} {'E[trials] @0.995':>18} {'x fixed':>7}"
    )
    print(head)  # fmt: skip
    for name, make in METHODS.items():
        d = make(target, iteration_alpha(alpha, iterations))
        designs = [d] * iterations
        cells = []
        for rate in (below, 0.995, 0.998):
            rng = random.Random(f"{seed}:{name}:{rate}:{iterations}")
            results = [gate_run(rng, rate, designs) for _ in range(runs)]
            share = sum(ok for ok, _ in results) / runs
            exact, trials = exact_run(rate, designs)
            cells.append((share, exact, sum(n for _, n in results) / runs, trials))
        fixed = fixed_design(target, iteration_alpha(alpha, iterations)).max_trials
        fa, p5, p8 = cells
        ok = "ok" if fa[1] <= alpha else "FAIL"
        print(f"   {name:<22} {d.max_trials:>6} {fa[0]:>9.4f} / {fa[1]:.4f} {ok:<4} "
              f"{p5[0]:>6.3f} / {p5[1]:.3f} {p8[0]:>6.3f} / {p8[1]:.3f} "
              f"{p5[2]:>7.1f} / {p5[3]:>6.1f} {p5[3] / fixed:>7.2f}")  # fmt: skip
    wald = wald_bound(target, alpha, 0.9, 0.995)
    print(
        f"   (no test with power 0.9 at 0.995 expects fewer than {wald:.0f} trials there: "
        f"{wald / fixed_design(target, alpha).max_trials:.2f}x the fixed plan, one iteration)"
    )


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
