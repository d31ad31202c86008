"""Benchmark: what ``sf pipeline run`` adds on top of bare ``kilroy attractor run``.

Runs the same 10-node tool pipeline through both, alternating which goes first,
several times, on the same kind of fresh git workspace, and prints the wall
times side by side with the ratio of medians and the time ``sf`` adds per run
(goal: at most 0.1 s added, so a ratio of at most 1.02 with 0.5 s nodes), met
or not, with the machine's core count. Next to the wall times, the CPU time of
each (user + system of the process and its children): on a busy machine the
wall time of ``sf``'s Python start stretches with the load, its CPU time does not.
The factory's modules are compiled first, as an installed ``sf`` has them: in a
checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (this project's machines) an
edited module is otherwise compiled from source again at every start.

    make bench            # or: .venv/bin/python bench/pipeline_overhead.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SF = Path(sys.executable).parent / "sf"
NODES = 10
#: Goal: what sf may add to a run, in seconds.
ADDED_GOAL = 0.1


def pipeline(node_seconds: float) -> str:
    """NODES tool nodes in a line, each sleeping ``node_seconds``; failures go to a sink."""
    lines = [
        "digraph bench {",
        '  graph [goal="overhead benchmark", default_max_retry="0"]',
        "  start [shape=Mdiamond]",
        "  exit [shape=Msquare]",
        '  fail_sink [shape=parallelogram, tool_command="exit 1"]',
    ]
    names = [f"n{i:02d}" for i in range(1, NODES + 1)]
    for name in names:
        command = f"sleep {node_seconds}; echo {name} >> trace.txt"
        lines.append(f'  {name} [shape=parallelogram, tool_command="{command}"]')
    lines.append(f"  start -> {names[0]}")
    for a, b in itertools.pairwise([*names, "exit"]):
        lines.append(f"  {a} -> {b}")
        lines.append(f'  {a} -> fail_sink [condition="outcome!=success"]')
    lines.append("}")
    return "\n".join(lines) + "\n"


def git_workspace(path: Path) -> Path:
    path.mkdir(parents=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@local",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@local",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / "README.md").write_text("bench\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True, env=env)
    return path


#: CPU seconds of each timed run, by the argv[0] it ran (sf or kilroy).
CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    CPU.setdefault(Path(argv[0]).name, []).append(_children_cpu() - cpu)
    if proc.returncode != 0:
        sys.exit(f"benchmark run failed ({' '.join(argv[:4])} ...):\n{proc.stderr[-2000:]}")
    return elapsed


def compile_factory() -> None:
    """Write the bytecode of every ``factoryos`` module (each namespace portion)."""
    code = (
        "import compileall, os, sys, factoryos\n"
        "roots = {p for p in factoryos.__path__ if os.path.isdir(p)}\n"
        "ok = all(compileall.compile_dir(p, quiet=1) for p in roots)\n"
        "sys.exit(0 if ok else 1)\n"
    )
    subprocess.run([str(SF.parent / "python"), "-c", code], check=True)


def measure(base: Path, kilroy: str, node_seconds: float, rounds: int) -> dict[str, list[float]]:
    """Wall times of ``rounds`` runs through sf and through bare Kilroy, alternating order."""
    base.mkdir(parents=True)
    graph = base / "bench.dot"
    graph.write_text(pipeline(node_seconds))
    home = base / "home"
    env = {**os.environ, "FACTORYOS_HOME": str(home), "FACTORYOS_KILROY": kilroy}
    sf_run = [str(SF), "pipeline", "run", str(graph), "--workspace"]
    # One warm-up run through sf also produces the run config bare Kilroy will use.
    warm_ws = git_workspace(base / "ws-warm")
    timed([*sf_run, str(warm_ws), "--run-id", "warm"], env, base)
    config = home / "runs" / "warm" / "run_config.json"
    kilroy_env = {**env, "XDG_STATE_HOME": str(home / "kilroy-state")}

    def via_sf(i: int) -> float:
        ws = git_workspace(base / f"ws-sf-{i}")
        return timed([*sf_run, str(ws), "--run-id", f"sf-{i}"], env, base)

    def via_kilroy(i: int) -> float:
        ws = git_workspace(base / f"ws-k-{i}")
        cfg = base / f"k-{i}.json"
        cfg.write_text(config.read_text().replace(str(warm_ws), str(ws)))
        run_dir = base / f"k-{i}"
        run_dir.mkdir()
        argv = [
            kilroy,
            "attractor",
            "run",
            "--graph",
            str(graph),
            "--config",
            str(cfg),
            "--run-id",
            f"k-{i}",
            "--logs-root",
            str(run_dir / "logs"),
            "--no-cxdb",
        ]
        return timed(argv, kilroy_env, run_dir)

    results: dict[str, list[float]] = {"sf pipeline run": [], "kilroy attractor run": []}
    order = [("sf pipeline run", via_sf), ("kilroy attractor run", via_kilroy)]
    for i in range(rounds):
        for name, fn in order if i % 2 == 0 else list(reversed(order)):
            results[name].append(fn(i))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="runs of each (default 9)")
    parser.add_argument(
        "--node-seconds",
        type=float,
        nargs="+",
        default=[0.0, 0.5],
        help="how long each node's command sleeps; one table per value (default 0 0.5)",
    )
    args = parser.parse_args()
    kilroy = shutil.which("kilroy", path=f"{ROOT / '.tools/bin'}:{os.environ.get('PATH', '')}")
    if not kilroy or not SF.exists():
        sys.exit("needs .venv/bin/sf and kilroy: run `make venv tools` first")

    compile_factory()
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        for index, seconds in enumerate(args.node_seconds):
            CPU.clear()
            results = measure(Path(tmp) / f"set-{index}", kilroy, seconds, args.rounds)
            print(
                f"\n{NODES}-node tool pipeline, each node sleeping {seconds}s, "
                f"{args.rounds} alternating rounds, {os.cpu_count()} cores"
            )
            print(f"{'':24}{'median s':>10}{'mean s':>10}{'min s':>10}{'CPU s':>10}")
            for (name, times), tool in zip(results.items(), ("sf", "kilroy"), strict=True):
                cpu = statistics.median(CPU[tool][1:] if tool == "sf" else CPU[tool])
                print(
                    f"{name:24}{statistics.median(times):10.3f}"
                    f"{statistics.mean(times):10.3f}{min(times):10.3f}{cpu:10.3f}"
                )
            sf_median = statistics.median(results["sf pipeline run"])
            kilroy_median = statistics.median(results["kilroy attractor run"])
            added = sf_median - kilroy_median
            verdict = "met" if added <= ADDED_GOAL else "NOT met"
            print(
                f"ratio sf/kilroy (medians): {sf_median / kilroy_median:.3f}; "
                f"added {added:.3f}s per run (goal <= {ADDED_GOAL}s: {verdict}), "
                f"{statistics.median(CPU['sf'][1:]) - statistics.median(CPU['kilroy']):.3f} "
                f"CPU s per run; load average {os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
