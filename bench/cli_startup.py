"""Benchmark: how fast ``sf``'s common commands answer, next to a bare Python start.

Each command runs ``--rounds`` times in turn with ``python -c pass`` (the floor
no Python CLI goes under), against an embedded factory whose store holds a
product and a finished run, then ``sf run list`` (and, for comparison, its
``-o json``, which goes through Typer and the models) against a store of
``--finished`` finished runs. Printed per command: wall time (min and median),
CPU time (user + system, median; on a busy machine wall time stretches with
the load, CPU time much less) and the goal, met or not by the minimum wall
time, with the machine's core count and load average.

Goals (issue 19): ``--version`` and ``--help`` <= 0.12 s; ``run list``, ``run
status`` and ``product list`` <= 0.25 s, and ``run list`` with 1,000 finished
runs <= 0.25 s (``bench/controlplane.py --only listing`` times that one too).

    make bench      # or: .venv/bin/python bench/cli_startup.py --rounds 10 --finished 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SF = str(Path(sys.executable).parent / "sf")
sys.path.insert(0, str(ROOT))

from factoryos.models import Product, Run, parse_as  # noqa: E402
from factoryos.store import LocalStore  # noqa: E402

#: (arguments, goal in seconds or None) against the store of ``--finished`` runs.
MANY_RUNS = [(["run", "list"], 0.25), (["run", "list", "-o", "json"], None)]

#: (arguments, goal in seconds)
COMMANDS = [
    (["--version"], 0.12),
    (["--help"], 0.12),
    (["run", "list"], 0.25),
    (["run", "status", "done-1"], 0.25),
    (["product", "list"], 0.25),
]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def factory(home: Path, runs: int = 1) -> None:
    """A store with one product and ``runs`` finished runs of 16 stages (``done-1``...)."""
    store = LocalStore(home / "factoryos.db")
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/x"}}}))
    spec = {"productRef": {"name": "p"}, "goal": "g"}
    stages = [{"name": f"n{i}", "status": "Succeeded"} for i in range(16)]
    status = parse_as(
        Run,
        {
            "metadata": {"name": "x"},
            "spec": spec,
            "status": {"phase": "Succeeded", "stages": stages},
        },
    ).status
    for i in range(1, runs + 1):
        run = store.create(parse_as(Run, {"metadata": {"name": f"done-{i}"}, "spec": spec}))
        run.status = status
        store.update_status(run)
    store.close()


def measure(
    argv: list[str], goal: float | None, env: dict[str, str], rounds: int, label: str = ""
) -> None:
    """Time ``sf argv`` next to ``python -c pass`` and print one row."""
    rows: dict[str, list[tuple[float, float]]] = {"sf": [], "python": []}
    for _ in range(rounds):
        rows["sf"].append(timed([SF, *argv], env))
        rows["python"].append(timed([sys.executable, "-c", "pass"], env))
    walls = [w for w, _ in rows["sf"]]
    cpu = statistics.median(c for _, c in rows["sf"])
    floor = min(w for w, _ in rows["python"])
    verdict = "reported" if goal is None else ("met" if min(walls) <= goal else "NOT met")
    target = "" if goal is None else f"<= {goal:g} s: "
    print(
        f"sf {' '.join(argv) + label:25}{min(walls):10.3f}{statistics.median(walls):10.3f}"
        f"{cpu:10.3f}   {target}{verdict} ({min(walls) / floor:.1f}x `python -c pass`)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--finished", type=int, default=1000, help="runs for the run list case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-bench-cli-") as tmp:
        home, many = Path(tmp) / "home", Path(tmp) / "many"
        factory(home)
        factory(many, args.finished)
        env = {**os.environ, "FACTORYOS_HOME": str(home)}
        print(f"sf start-up, {args.rounds} rounds each, {os.cpu_count()} cores")
        print(f"{'':28}{'wall min':>10}{'wall med':>10}{'CPU med':>10}   goal (by wall min)")
        for argv, goal in COMMANDS:
            measure(argv, goal, env, args.rounds)
        many_env = {**env, "FACTORYOS_HOME": str(many)}
        for argv, maybe in MANY_RUNS:
            measure(argv, maybe, many_env, args.rounds, f" ({args.finished} runs)")
        floor = min(timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.rounds))
        print(f"load average {os.getloadavg()[0]:.1f}; python -c pass: {floor:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
