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

Part 2, selection cost: K = 4 and 8 candidates of known quality, the best at
0.9 and each next one ``gap`` (0.02, 0.05) lower; every candidate on the full
pool (the baseline), sequential halving (half the pool over its rounds) and
paired elimination, on the same seeded outcomes: independent, and with a
difficulty shared by all candidates. Reported: how often each picks the truly
best candidate, and its trials as a multiple of the full pool's; then what the
goal (<= 0.5x at the full pool's best-pick rate) would take: a top-2 oracle
(told which two are best, it runs only those, n each, ties a coin flip) and a
lower bound for any scheme that treats the candidates alike (the
change-of-measure inequality, ``trials_bound``), both as multiples of the full
pool; and per row met / NOT met and why.

    make bench      # or: .venv/bin/python bench/gate_simulation.py --runs 4000
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factoryos.evals.gate import run_gate
from factoryos.evals.selection import paired_elimination, planned_rounds, sequential_halving
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
        f"{'power @0.995':>15} {'power @0.998':>15} {'E[trials] @0.995':>18} {'/fixed n':>8}"
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
              f"{p5[2]:>7.1f} / {p5[3]:>6.1f} {p5[3] / fixed:>8.2f}")  # fmt: skip
    if iterations == 1:
        goals(target, alpha)


def goals(target: float, alpha: float) -> None:
    """The issue's goals for the sequential test, from the exact values."""
    d, fixed = design(target, alpha), fixed_design(target, alpha)
    worst = max(operating(d, r).accept_probability for r in (target - 0.02, target - 1e-9))
    p5, p8 = (operating(d, r).accept_probability for r in (0.995, 0.998))
    ratio = operating(d, 0.995).expected_trials / fixed.max_trials
    wald = wald_bound(target, alpha, 0.9, 0.995) / fixed.max_trials

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"   goals, sequential (exact): false accept just below the target {worst:.4f} <= "
          f"{alpha} {mark(worst <= alpha)}; power at 0.995 {p5:.3f} >= 0.90 {mark(p5 >= 0.9)}; "
          f"at 0.998 {p8:.4f} >= 0.99 {mark(p8 >= 0.99)}; E[trials] at 0.995 {ratio:.2f}x the "
          f"fixed plan ({fixed.max_trials}) <= 0.6x {mark(ratio <= 0.6)} (no valid test can "
          f"go below {wald:.2f}x: Wald's bound)")  # fmt: skip


def seeded_trials(seed: str, rates: dict[int, float], spread: float) -> Callable[[int, int], bool]:
    """Scenario outcomes drawn once per (candidate, scenario) from the true pass rates.

    ``spread`` 0: independent outcomes. Otherwise a difficulty shared by all candidates
    (item response theory): scenario s has difficulty d_s ~ N(0, spread^2) and candidate c
    passes when a_c - d_s - e_cs > 0 with e_cs ~ N(0, 1), a_c set so its pass rate stays
    rates[c]; a hard scenario is hard for everyone, which pairing exploits."""
    draws: dict[tuple[int, int], bool] = {}
    scale = (1 + spread**2) ** 0.5
    ability = {c: NormalDist().inv_cdf(r) * scale for c, r in rates.items()}

    def trial(candidate: int, scenario: int) -> bool:
        key = (candidate, scenario)
        if key not in draws:
            own = random.Random(f"{seed}:{candidate}:{scenario}")
            if spread == 0:
                draws[key] = own.random() < rates[candidate]
            else:
                hard = random.Random(f"{seed}:d:{scenario}").gauss(0, spread)
                draws[key] = ability[candidate] - hard - own.gauss(0, 1) > 0
        return draws[key]

    return trial


def bern_kl(p: float, q: float) -> float:
    """KL(Bernoulli(p) || Bernoulli(q)) in nats."""
    q = min(max(q, 1e-300), 1 - 1e-16)
    out = p * math.log(p / q) if p > 0 else 0.0
    return out + ((1 - p) * math.log((1 - p) / (1 - q)) if p < 1 else 0.0)


def kl_inverse(p: float, level: float) -> float:
    """The q in (0, p] with bern_kl(p, q) = level (it falls as q rises to p)."""
    lo, hi = 0.0, p
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if bern_kl(p, mid) > level else (lo, mid)
    return hi


def trial_information(rates: list[float], spread: float) -> list[list[float]]:
    """info[a][b]: KL per trial of candidate a when its pass rate is a's against b's.

    With a shared difficulty the difficulty is taken as seen (a genie): that can only
    help a scheme, so a bound computed with it still holds without it."""
    if spread == 0:
        return [[bern_kl(a, b) for b in rates] for a in rates]
    scale = (1 + spread**2) ** 0.5
    ability = [NormalDist().inv_cdf(r) * scale for r in rates]
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    passes = [[NormalDist().cdf(a - spread * x) for x in nodes] for a in ability]
    return [
        [float(sum(w * bern_kl(pa, pb) for w, pa, pb in zip(weights, passes[a], passes[b],
                                                           strict=True)))
         for b in range(len(rates))]
        for a in range(len(rates))
    ]  # fmt: skip


def trials_bound(info: list[list[float]], best: float, pool: int) -> float:
    """Fewest expected trials, as a multiple of the full pool, with which any scheme that
    treats the candidates alike (a relabelling relabels its pick) and runs each at most
    ``pool`` times can pick candidate 0 with probability ``best``.

    The change-of-measure inequality (Kaufmann, Cappé and Garivier, 2016): swapping
    candidates 0 and j makes j the best, and such a scheme then picks 0 with the
    probability q_j it picks j now, so E[N_0] info[0][j] + E[N_j] info[j][0] >=
    kl(best, q_j), with the q_j summing to 1 - best. The smallest sum of E[N] over
    those constraints is a convex program: for each E[N_0] (golden section), the q_j
    are spread by a Lagrange multiplier (bisection; each q_j in closed form). ``inf``:
    no such scheme reaches ``best`` at all (as with best 1, or a few lucky runs)."""
    k = len(info)
    pairs = [(info[0][j], info[j][0]) for j in range(1, k)]

    def least(n0: float) -> float:
        low = [kl_inverse(best, n0 * a + pool * b) for a, b in pairs]
        free = [kl_inverse(best, n0 * a) if n0 * a > 0 else best for a, _ in pairs]
        if sum(low) > 1 - best:
            return math.inf
        if sum(free) <= 1 - best:
            return n0

        def spread_q(mu: float) -> list[float]:
            out = []
            for (_, b), lo, hi in zip(pairs, low, free, strict=True):
                m = mu * b  # (best - q) / (q (1 - q)) = m: the cost's slope meets mu
                q = ((m + 1) - math.sqrt((m + 1) ** 2 - 4 * m * best)) / (2 * m)
                out.append(min(max(q, lo), hi))
            return out

        lo, hi = 1e-12, 1e12
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if sum(spread_q(mid)) > 1 - best else (lo, mid)
        costs = [max(0.0, (bern_kl(best, q) - n0 * a) / b)
                 for q, (a, b) in zip(spread_q(hi), pairs, strict=True)]  # fmt: skip
        return n0 + sum(costs)

    lo, hi, golden = 0.0, float(pool), (math.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = least(a), least(b)
    for _ in range(80):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = least(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = least(b)
    return min(fa, fb, least(0.0), least(float(pool))) / (k * pool)


def part2(runs: int, seed: int, pool: int, spread: float) -> None:
    kind = "independent outcomes" if spread == 0 else f"shared difficulty (spread {spread})"
    print(f"-- selection: the best at 0.9, the others gap apart; full pool {pool} scenarios "
          f"per candidate; {kind}; {runs} seeded runs per row")  # fmt: skip
    print(f"   {'K':>2} {'gap':>5} {'full pool best':>15} {'halving best':>13} {'x full':>7} "
          f"{'elimination best':>17} {'x full':>7} {'top-2 oracle':>13} {'bound':>6}  "
          f"goal (<= 0.5x, best >= full)")  # fmt: skip
    for k in (4, 8):
        for gap in (0.02, 0.05):
            full_best = halving_best = elim_best = 0
            halving_trials = elim_trials = 0
            lead = [0] * (pool + 1)  # twice the runs in which 0 leads 1 after n (a tie: half)
            for run in range(runs):
                # The best sits at a random index: every method breaks ties by index, and
                # with the best always first a tie would count as a right pick.
                rank = random.Random(f"{seed}:{k}:rank:{run}").sample(range(k), k)
                rates = {c: 0.9 - gap * rank[c] for c in range(k)}
                best, second = rank.index(0), rank.index(1)
                trial = seeded_trials(f"{seed}:{k}:{gap}:{spread}:{run}", rates, spread)
                full = {c: sum(trial(c, s) for s in range(pool)) for c in rates}
                full_best += max(full, key=lambda c: (full[c], -c)) == best
                ahead = 0
                for n in range(1, pool + 1):
                    ahead += trial(best, n - 1) - trial(second, n - 1)
                    lead[n] += 2 if ahead > 0 else ahead == 0
                per_round = max(1, pool // planned_rounds(k, 2) // 2)
                halving = sequential_halving(list(rates), trial, trials_per_round=per_round)
                halving_best += halving.winner == best
                halving_trials += halving.trials_spent
                elim = paired_elimination(list(rates), trial, max_trials=pool)
                elim_best += elim.winner == best
                elim_trials += elim.trials_spent
            total = runs * pool * k
            ratio = elim_trials / total
            # The top-2 oracle knows which two are best and runs only them, n each; a tie
            # is a coin flip. Its n
            # is the smallest from which on it picks the best as often as the full pool.
            n_oracle = None
            for n in range(pool, 0, -1):
                if lead[n] < 2 * full_best:
                    break
                n_oracle = n
            oracle = f"{2 * n_oracle / (k * pool):.2f}" if n_oracle else f">{2 / k:.2f}"
            bound = (
                math.inf
                if full_best == runs
                else trials_bound(
                    trial_information(list(rates.values()), spread), full_best / runs, pool
                )
            )
            print(f"   {k:>2} {gap:>5} {full_best / runs:>15.3f} {halving_best / runs:>13.3f} "
                  f"{halving_trials / total:>7.2f} {elim_best / runs:>17.3f} {ratio:>7.2f} "
                  f"{oracle:>13} {bound:>6.2f}  {verdict(ratio, elim_best - full_best, runs)}"
                  )  # fmt: skip


def verdict(ratio: float, ahead: int, runs: int) -> str:
    """met / NOT met, and why: the trials, the best-pick rate, or both."""
    why = []
    if ratio > 0.5:
        why.append(f"{ratio:.2f}x > 0.5x")
    if ahead < 0:
        why.append(f"picks the best {-ahead} run(s) in {runs} less often")
    return "met" if not why else "NOT met: " + ", ".join(why)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--pool", type=int, default=200, help="selection scenarios each")
    args = parser.parse_args()
    part1(args.runs, args.seed, args.target, args.alpha, 1)
    part1(args.runs, args.seed, args.target, args.alpha, args.iterations)
    part2(args.runs // 5, args.seed, args.pool, 0.0)
    part2(args.runs // 5, args.seed, args.pool, 1.0)


if __name__ == "__main__":
    main()
