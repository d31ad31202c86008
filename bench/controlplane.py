"""Benchmark: the embedded control plane's start latency and its CPU with many active runs.

Part 1, start latency, side by side in alternating rounds on the same machine:
  - bare Kilroy: from spawning ``kilroy attractor run`` to its first progress event;
  - Factory OS, with ``sf up`` already running, from the Run being written to
    the store (what ``sf run start`` does last) and from invoking ``sf run
    start`` (which adds the CLI's own Python start-up and checks) to (a) the
    runner process being spawned, (b) the runner's first event
    (``run.started``) and (c) Kilroy's first progress event.
  The added latency is (c) from the store write minus the bare figure (goal:
  under 0.2 s). It is measured twice: runners forked from the launcher's warm
  fork server (the default) and started as fresh processes
  (FACTORYOS_RUNNER_PREWARM=0).

Part 2, scale: the ``sf up`` process's CPU time (user + system, from /proc)
over a window while idle, then while N runs (default 200) of a sleeping
stage are all active (goals: all have Kilroy in their stage within 30 s of
``sf apply``; under 10% of one core). Memory per active run: the runner and
its Kilroy, RSS and PSS (``/proc/PID/smaps_rollup``; PSS shares the pages of
forked runners fairly), mean over the runs. The ramp is split into its
milestones: ``sf apply`` returned (admission and the writes), every runner
spawned (``process.json``), every run's status showing its stage Running; and
the CPU seconds ``sf up`` used meanwhile (wall time far above it: starved). Then a
timeline, per milestone of a run's start (stored, spawn requested, forked, clone done,
Kilroy's first event, the runner's run.started, the stage started): seconds after
``sf apply``, median, p90 and last; and the CPU the runs themselves used to start (each
runner's process tree) with the fork server's, over the cores: the part of the ramp that
is not the control plane's to shorten.

Part 2b, bare scale (with part 2): N ``kilroy attractor run`` processes of the
same sleeping pipeline, each in a repository of its own made beforehand,
spawned at once: seconds until every one has logged the start of its stage.
What the machine needs to start that many Kilroys at all, without us.

``--profile FILE`` runs ``sf up`` under cProfile (its main thread: the
reconcile loop) and prints where its CPU time went, after it stops; with
``--profile-part steady`` only over part 2's window of active runs (the bench
switches the profiler on and off with SIGUSR1 and SIGUSR2).

Part 3, listing: ``sf run list`` against a store holding 1,000 finished runs
(16 stages each), fresh interpreter each time (goal: at most 0.25 s).

Each goal is printed with its measurement, met or not, and the machine's core count.

    make bench      # or: .venv/bin/python bench/controlplane.py --runs 200
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SF = [sys.executable, "-m", "factoryos.cli.app"]
sys.path.insert(0, str(ROOT))

from factoryos.models import Run, parse_as  # noqa: E402
from factoryos.store import LocalStore  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count()


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def git_repo(path: Path, files: dict[str, str], env: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    for name, text in files.items():
        (path / name).write_text(text)
    subprocess.run(["git", "-C", str(path), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True, env=env)
    return path


def pipeline(command: str, nodes: int = 1) -> str:
    lines = [
        "digraph bench {",
        '  graph [goal="bench", default_max_retry="0"]',
        "  start [shape=Mdiamond]",
        "  exit [shape=Msquare]",
    ]
    names = [f"n{i}" for i in range(nodes)]
    lines += [f'  {n} [shape=parallelogram, tool_command="{command}"]' for n in names]
    chain = ["start", *names, "exit"]
    lines += [f"  {a} -> {b}" for a, b in itertools.pairwise(chain)]
    return "\n".join([*lines, "}"]) + "\n"


def first_line(path: Path, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if b"\n" in data:
            return dict(json.loads(data.split(b"\n", 1)[0]))
        time.sleep(0.002)
    sys.exit(f"timed out waiting for {path}")


def stamp(value: object) -> float:
    text = str(value)
    if "." in text:  # trim nanoseconds to microseconds for fromisoformat
        head, frac = text.rstrip("Z").split(".", 1)
        text = f"{head}.{frac[:6]}+00:00"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sf(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*SF, *args], env=env, capture_output=True, text=True, input=stdin)
    if done.returncode != 0:
        sys.exit(f"sf {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu() -> float:
    """CPU seconds (user + system) this bench's process has used."""
    times = os.times()
    return times.user + times.system


#: ``sf up`` under a profiler that SIGUSR1 switches on and SIGUSR2 off; argv: FILE, ON.
PROFILED_UP = """
import cProfile, signal, sys
from factoryos.cli.app import main
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
if sys.argv[2] == "1":
    profile.enable()
try:
    main(["up", "--no-dashboard"])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
"""


class Plane:
    """``sf up`` in the background for one FACTORYOS_HOME (under cProfile with ``profile``:
    all along, or only between ``profiling(True)`` and ``profiling(False)`` with ``steady``)."""

    def __init__(
        self, base: Path, env: dict[str, str], profile: Path | None = None, steady: bool = False
    ) -> None:
        self.env = env
        self._log = (base / "sf-up.log").open("ab")
        self._profile = profile
        if profile is None:
            argv = [*SF, "up", "--no-dashboard"]
        else:
            argv = [sys.executable, "-c", PROFILED_UP, str(profile), "0" if steady else "1"]
        self._steady = profile is not None and steady
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=self._log)
        time.sleep(1.5)

    def profiling(self, on: bool) -> None:
        """Switch a steady-window profile on or off (nothing otherwise)."""
        if self._steady:
            self.proc.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        if self._profile is not None:
            print_profile(self._profile)


def print_profile(path: Path, top: int = 25) -> None:
    """The functions the control plane spent its (main thread's) CPU in, both ways."""
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\nsf up under cProfile: {total:.1f}s in its main thread ({path})")
    for order in ("tottime", "cumulative"):
        print(f"  top {top} by {order}:")
        stats.sort_stats(order).print_stats(top)


def start_latency(base: Path, env: dict[str, str], kilroy: str, rounds: int) -> dict[str, float]:
    """Median seconds of each measured interval (see the module docstring)."""
    home = Path(env["FACTORYOS_HOME"])
    repo = git_repo(base / "repo", {"pipeline.dot": pipeline("true")}, env)
    sf(env, "product", "add", "lat", "--repo", str(repo), "--concurrency", "5")
    # A warm-up run also gives the run config that bare Kilroy uses.
    sf(env, "run", "start", "lat", "--goal", "warm", "--name", "warm", "--wait")
    config = json.loads((home / "runs/default/warm/c0/logs/run_config.json").read_text())
    kilroy_env = {**env, "XDG_STATE_HOME": str(home / "kilroy-state")}
    store = LocalStore(home / "factoryos.db")
    rows: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    def bare(i: int) -> None:
        ws = git_repo(base / f"bare-ws-{i}", {"pipeline.dot": pipeline("true")}, env)
        cfg = base / f"bare-{i}.json"
        config["repo"]["path"] = str(ws)
        cfg.write_text(json.dumps(config))
        logs = base / f"bare-{i}" / "logs"
        graph = str(ws / "pipeline.dot")
        argv = [kilroy, "attractor", "run", "--graph", graph, "--config", str(cfg),
                "--run-id", f"bare-{i}", "--logs-root", str(logs), "--no-cxdb"]  # fmt: skip
        t0 = time.time()
        proc = subprocess.Popen(argv, env=kilroy_env, cwd=base, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        add("bare", stamp(first_line(logs / "progress.ndjson")["ts"]) - t0)
        proc.wait()

    def follow(name: str, t0: float, via: str) -> None:
        run_dir = home / "runs/default" / name
        runner = first_line(run_dir / "events.ndjson")
        kilroy_first = first_line(run_dir / "c0/logs/progress.ndjson")
        process = json.loads((run_dir / f"workloads/{name}-c0-1/process.json").read_text())
        add(f"{via} spawn", stamp(process["startedAt"]) - t0)
        add(f"{via} runner", stamp(runner["time"]) - t0)
        add(f"{via} kilroy", stamp(kilroy_first["ts"]) - t0)

    def via_store(i: int) -> None:
        name = f"store-{i}"
        run = parse_as(Run, {"metadata": {"name": name},
                             "spec": {"productRef": {"name": "lat"}, "goal": "g"}})  # fmt: skip
        t0 = time.time()
        store.create(run)
        follow(name, t0, "store")

    def via_cli(i: int) -> None:
        name = f"cli-{i}"
        t0 = time.time()
        subprocess.run([*SF, "run", "start", "lat", "--goal", "g", "--name", name], env=env,
                       check=True, capture_output=True)  # fmt: skip
        add("cli returns", time.time() - t0)
        follow(name, t0, "cli")

    order = [bare, via_store, via_cli]
    for i in range(rounds):
        for fn in order[i % 3 :] + order[: i % 3]:
            fn(i)
            time.sleep(0.3)
    store.close()
    return {k: statistics.median(v) for k, v in rows.items()}


def print_latency(results: dict[str, dict[str, float]], rounds: int) -> None:
    modes = list(results)
    print(f"\nStart latency, {rounds} rounds, bare/store/cli order rotating (median seconds)")
    print(f"{'':58}" + "".join(f"{m:>14}" for m in modes))
    labels = [
        ("bare", "bare kilroy: spawn -> Kilroy's first event"),
        ("store spawn", "Run stored -> runner process spawned"),
        ("store runner", "Run stored -> runner's first event"),
        ("store kilroy", "Run stored -> Kilroy's first event"),
        ("cli returns", "`sf run start` -> the command returns"),
        ("cli spawn", "`sf run start` -> runner process spawned"),
        ("cli runner", "`sf run start` -> runner's first event"),
        ("cli kilroy", "`sf run start` -> Kilroy's first event"),
    ]
    for key, label in labels:
        print(f"  {label:56}" + "".join(f"{results[m][key]:14.3f}" for m in modes))
    for m in modes:
        r = results[m]
        added = r["store kilroy"] - r["bare"]
        print(
            f"  {m}: added start latency (Run stored -> Kilroy's first event, minus bare): "
            f"{added:.3f}s (goal < 0.2s: {verdict(added < 0.2)}); from `sf run start`: "
            f"{r['cli kilroy'] - r['bare']:.3f}s"
        )


def active_cpu(
    base: Path, env: dict[str, str], sf_up: Plane, runs: int, window: float
) -> tuple[str, dict[str, object]]:
    """The report of the CPU part (see the module docstring), and a run config for bare
    Kilroy (one of the runs')."""
    home = Path(env["FACTORYOS_HOME"])
    plane = sf_up.proc.pid
    before = cpu_seconds(plane)
    time.sleep(window)
    idle = (cpu_seconds(plane) - before) / window

    repo = git_repo(base / "sleepy", {"pipeline.dot": pipeline("sleep 300", nodes=1)}, env)
    sf(env, "product", "add", "sleepy", "--repo", str(repo), "--concurrency", str(runs))
    docs = [
        f"apiVersion: factoryos.dev/v1alpha1\nkind: Run\nmetadata: {{name: sleepy-{i}}}\n"
        f"spec: {{productRef: {{name: sleepy}}, goal: sleep}}\n"
        for i in range(runs)
    ]
    names = [f"sleepy-{i}" for i in range(runs)]
    cpu_began, own_began = cpu_seconds(plane), own_cpu()
    began, wall_began = time.monotonic(), time.time()
    sf(env, "apply", "-f", "-", stdin="---\n".join(docs))
    applied = time.monotonic() - began
    store = LocalStore(home / "factoryos.db")
    spawned: float | None = None

    def all_spawned() -> bool:
        return all(
            (home / f"runs/default/{n}/workloads/{n}-c0-1/process.json").exists() for n in names
        )

    waiting = set(names)

    def all_running() -> bool:
        waiting.difference_update(in_stage(home / "factoryos.db", waiting, "n0"))
        return not waiting

    while not all_running():
        if time.monotonic() - began > 600:
            sys.exit("the runs did not all start within 600 s")
        if spawned is None and all_spawned():
            spawned = time.monotonic() - began
        time.sleep(0.2)
    ramp = time.monotonic() - began
    ramp_cpu, bench_cpu = cpu_seconds(plane) - cpu_began, own_cpu() - own_began
    timeline = ramp_timeline(home, names, wall_began)
    timeline += start_cpu(home, names, plane, ramp)
    spawned = ramp if spawned is None else spawned
    config = json.loads((home / "runs/default/sleepy-0/c0/logs/run_config.json").read_text())
    time.sleep(2.0)
    sf_up.profiling(True)
    before = cpu_seconds(plane)
    time.sleep(window)
    busy = (cpu_seconds(plane) - before) / window
    sf_up.profiling(False)
    memory = run_memory(home, [f"sleepy-{i}" for i in range(runs)])
    lines = [
        f"\nControl plane with {runs} active runs ({CORES} cores), {window:g}s CPU windows",
        f"  all {runs} runs had Kilroy in their stage {ramp:.1f}s after `sf apply` "
        f"(goal <= 30 s: {verdict(ramp <= 30)})",
        f"    `sf apply` returned after {applied:.1f}s; every runner spawned after "
        f"{spawned:.1f}s (<= 0.2 s late: polled); sf up used {ramp_cpu:.1f}s of CPU meanwhile, "
        f"this bench {bench_cpu:.1f}s",
        *timeline,
        f"  sf up CPU, idle, no runs:           {idle * 100:6.2f}% of one core",
        f"  sf up CPU, {runs} active sleeping runs: {busy * 100:6.2f}% of one core "
        f"(goal < 10%: {verdict(busy < 0.10)})",
        *memory,
    ]
    began = time.monotonic()
    sf(env, "product", "remove", "sleepy", "--force")
    while [r for r in store.list(Run) if r.spec.product_ref.name == "sleepy"]:
        time.sleep(0.5)
    lines.append(
        f"  removing the product stopped and deleted all {runs} runs in "
        f"{time.monotonic() - began:.1f}s"
    )
    store.close()
    return "\n".join(lines), config


def in_stage(db: Path, names: set[str], stage: str) -> set[str]:
    """Which of the Runs ``names`` (namespace default) show ``stage`` Running in the store.

    Read as plain JSON from a read-only connection, not through the models: parsing 200
    Runs five times a second took 4.6 s of CPU in a 39 s ramp, from the 2 cores it measures.
    """
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT name, body FROM objects WHERE kind = 'Run' AND namespace = 'default'"
        ).fetchall()
    return {
        name
        for name, body in rows
        if name in names
        and any(
            s.get("name") == stage and s.get("status") == "Running"
            for s in json.loads(body).get("status", {}).get("stages", [])
        )
    }


#: The milestones of a run's start, in order, and where each is read (see ``ramp_timeline``).
MILESTONES = (
    ("stored", "Run stored (creationTimestamp, whole seconds)"),
    ("requested", "spawn requested (spec.json written)"),
    ("forked", "runner forked (process.json startedAt)"),
    ("cloned", "runner's clone done (the checkout's pipeline.dot)"),
    ("kilroy", "Kilroy's first progress event"),
    ("runner", "runner's run.started (after validate + Kilroy spawned)"),
    ("stage", "the stage started (events.ndjson)"),
)


def run_milestones(home: Path, name: str) -> dict[str, float]:
    """When (epoch seconds) run ``name`` passed each of ``MILESTONES`` (the ones found)."""
    run_dir = home / "runs/default" / name
    work = run_dir / f"workloads/{name}-c0-1"
    found: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError):
        found["requested"] = (work / "spec.json").stat().st_mtime
        found["forked"] = stamp(json.loads((work / "process.json").read_text())["startedAt"])
        found["cloned"] = (run_dir / "c0/repo/pipeline.dot").stat().st_mtime
        found["kilroy"] = stamp(first_line(run_dir / "c0/logs/progress.ndjson", 1.0)["ts"])
        for line in (run_dir / "events.ndjson").read_text().splitlines():
            event = json.loads(line)
            kind = str(event.get("type", ""))
            if kind.endswith("run.started"):
                found.setdefault("runner", stamp(event["time"]))
            if kind.endswith("stage.started"):
                found.setdefault("stage", stamp(event["time"]))
    return found


def ramp_timeline(home: Path, names: list[str], applied_at: float) -> list[str]:
    """Where the ramp's seconds went: for each milestone of a run's start, seconds after
    `sf apply` began (median, 90th percentile, last run), and the median step from the
    milestone before it within a run."""
    store = LocalStore(home / "factoryos.db")
    created = {r.metadata.name: r.metadata.creation_timestamp for r in store.list(Run)}
    store.close()
    rows: dict[str, list[float]] = {key: [] for key, _ in MILESTONES}
    steps: dict[str, list[float]] = {key: [] for key, _ in MILESTONES}
    for name in names:
        at = run_milestones(home, name)
        if created.get(name) is not None:
            at["stored"] = created[name].timestamp()  # type: ignore[union-attr]
        previous: float | None = None
        for key, _ in MILESTONES:
            if key in at:
                rows[key].append(at[key] - applied_at)
                if previous is not None:
                    steps[key].append(at[key] - previous)
                previous = at[key]
    lines = [f"    ramp timeline, seconds after `sf apply` ({len(names)} runs): "
             "median / p90 / last; median step from the milestone before"]  # fmt: skip
    for key, label in MILESTONES:
        got = sorted(rows[key])
        if not got:
            lines.append(f"      {label:56} (not found)")
            continue
        p90 = got[min(len(got) - 1, int(len(got) * 0.9))]
        step = f"{statistics.median(steps[key]):+7.2f}" if steps[key] else "       "
        lines.append(
            f"      {label:56} {statistics.median(got):6.1f} {p90:6.1f} {got[-1]:6.1f}  {step}"
        )
    return lines


def bare_scale(base: Path, env: dict[str, str], kilroy: str, runs: int,
               config: dict[str, object]) -> str:  # fmt: skip
    """Part 2b (see the module docstring)."""
    home = Path(env["FACTORYOS_HOME"])
    kilroy_env = {**env, "XDG_STATE_HOME": str(home / "kilroy-state-bare")}
    root = base / "bare-scale"
    argvs = []
    for i in range(runs):
        ws = git_repo(root / f"ws-{i}", {"pipeline.dot": pipeline("sleep 300")}, env)
        cfg = root / f"cfg-{i}.json"
        repo = {**dict(config["repo"]), "path": str(ws)}  # type: ignore[call-overload]
        cfg.write_text(json.dumps({**config, "repo": repo}))
        argvs.append([kilroy, "attractor", "run", "--graph", str(ws / "pipeline.dot"),
                      "--config", str(cfg), "--run-id", f"bare-{i}",
                      "--logs-root", str(root / f"logs-{i}"), "--no-cxdb"])  # fmt: skip
    began = time.monotonic()
    null = subprocess.DEVNULL
    procs = [
        subprocess.Popen(
            a, env=kilroy_env, cwd=root, stdout=null, stderr=null, start_new_session=True
        )
        for a in argvs
    ]
    spawned = time.monotonic() - began
    waiting = set(range(runs))
    try:
        while waiting:
            if time.monotonic() - began > 600:
                sys.exit("bare Kilroys did not all start their stage within 600 s")
            for i in list(waiting):
                try:
                    text = (root / f"logs-{i}" / "progress.ndjson").read_bytes()
                except FileNotFoundError:
                    continue
                if b'"stage_attempt_start"' in text:
                    waiting.discard(i)
            time.sleep(0.2)
        ramp = time.monotonic() - began
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.wait()
    return (
        f"\nBare Kilroy, {runs} at once ({CORES} cores): all spawned in {spawned:.1f}s, "
        f"all had started their stage {ramp:.1f}s after the first spawn"
    )


def smaps(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in KiB, from smaps_rollup."""
    found = {"Rss:": 0, "Pss:": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, value, *_ = line.split()
        if key in found:
            found[key] = int(value)
    return found["Rss:"], found["Pss:"]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid``, the children it reaped and its live
    descendants (and theirs): a runner's clone and validate, its Kilroy and the stage."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(f) for f in fields[11:15]) / TICKS
    return own + sum(tree_cpu(c) for c in children(pid) if Path(f"/proc/{c}").exists())


def start_cpu(home: Path, names: list[str], plane: int, ramp: float) -> list[str]:
    """What starting the runs cost in CPU, theirs and the fork server's, against what the
    machine's cores give in the ramp's time: the floor under the ramp that is not ours."""
    total = 0.0
    for name in names:
        process = json.loads((home / f"runs/default/{name}/workloads/{name}-c0-1/process.json")
                             .read_text())  # fmt: skip
        with contextlib.suppress(OSError):
            total += tree_cpu(int(process["pid"]))
    server = [
        c for c in children(plane) if b"forkserver" in Path(f"/proc/{c}/cmdline").read_bytes()
    ]
    forks = sum(cpu_seconds(c) for c in server)
    cores = CORES or 1
    return [
        f"    CPU the runs used to start (runner, clone, validate, Kilroy and its stage, "
        f"to now): {total:.1f}s, {total / len(names) * 1000:.0f} ms a run; fork server "
        f"{forks:.1f}s; on {cores} cores that alone is {(total + forks) / cores:.1f}s "
        f"of the {ramp:.1f}s ramp",
    ]


def run_memory(home: Path, names: list[str]) -> list[str]:
    """Mean RSS and PSS of each run's runner and of its Kilroy (see the module docstring)."""
    runner: list[tuple[int, int]] = []
    kilroy: list[tuple[int, int]] = []
    for name in names:
        process = json.loads((home / f"runs/default/{name}/workloads/{name}-c0-1/process.json")
                             .read_text())  # fmt: skip
        pid = int(process["pid"])
        try:
            runner.append(smaps(pid))
            # A sandboxed Kilroy is bwrap's child, not the runner's: look down the tree.
            kilroy += [smaps(c) for c in descendants(pid) if "kilroy" in _comm(c)]
        except OSError:  # it ended meanwhile
            continue

    def mean(rows: list[tuple[int, int]], i: int) -> float:
        return statistics.fmean(r[i] for r in rows) / 1024 if rows else float("nan")

    return [
        f"  memory per active run (mean of {len(runner)} runners, {len(kilroy)} Kilroys):",
        f"    runner  RSS {mean(runner, 0):6.1f} MiB   PSS {mean(runner, 1):6.1f} MiB",
        f"    Kilroy  RSS {mean(kilroy, 0):6.1f} MiB   PSS {mean(kilroy, 1):6.1f} MiB",
        f"    both    RSS {mean(runner, 0) + mean(kilroy, 0):6.1f} MiB   "
        f"PSS {mean(runner, 1) + mean(kilroy, 1):6.1f} MiB",
    ]


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def listing(base: Path, runs: int, tries: int) -> str:
    """``sf run list`` against ``runs`` finished runs in a store of their own (no control plane)."""
    home = base / "listing-home"
    store = LocalStore(home / "factoryos.db")
    stages = [{"name": f"n{i}", "status": "Succeeded"} for i in range(16)]
    spec = {"productRef": {"name": "p"}, "goal": "g"}
    status = parse_as(Run, {"metadata": {"name": "x"}, "spec": spec,
                            "status": {"phase": "Succeeded", "stages": stages}}).status  # fmt: skip
    for i in range(runs):
        run = store.create(parse_as(Run, {"metadata": {"name": f"done-{i:04d}"}, "spec": spec}))
        run.status = status
        store.update_status(run)
    store.close()
    env = {**os.environ, "FACTORYOS_HOME": str(home)}
    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).parent / "sf"), "run", "list"], env=env,
                              capture_output=True, text=True)  # fmt: skip
        times.append(time.perf_counter() - t0)
        if done.returncode != 0 or done.stdout.count("\n") != runs + 1:
            sys.exit(f"sf run list failed:\n{done.stderr}")
    best, median = min(times), statistics.median(times)
    return (
        f"\n`sf run list` with {runs} finished runs in the store ({CORES} cores), {tries} tries: "
        f"min {best:.3f}s, median {median:.3f}s (goal <= 0.25 s: {verdict(median <= 0.25)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="latency rounds (default 9)")
    parser.add_argument("--runs", type=int, default=200, help="active runs (default 200)")
    parser.add_argument("--window", type=float, default=20.0, help="CPU window seconds")
    parser.add_argument("--finished", type=int, default=1000, help="finished runs for `run list`")
    parser.add_argument(
        "--only", choices=["latency", "scale", "listing"], action="append",
        help="run only these parts (default: all)",
    )  # fmt: skip
    parser.add_argument("--no-bare", action="store_true", help="skip part 2b (bare Kilroys)")
    parser.add_argument("--profile", type=Path, help="run `sf up` under cProfile into FILE")
    parser.add_argument(
        "--profile-part", choices=["all", "steady"], default="all",
        help="profile all along (default) or only part 2's window of active runs",
    )  # fmt: skip
    args = parser.parse_args()
    kilroy = shutil.which("kilroy", path=f"{ROOT / '.tools/bin'}:{os.environ.get('PATH', '')}")
    if not kilroy:
        sys.exit("needs kilroy: run `make tools` first")
    parts = set(args.only or ["latency", "scale", "listing"])
    print(f"bench/controlplane.py on {CORES} cores: {', '.join(sorted(parts))}")
    with tempfile.TemporaryDirectory(prefix="sf-bench-cp-") as tmp:
        if "listing" in parts:
            print(listing(Path(tmp), args.finished, tries=10))
        results: dict[str, dict[str, float]] = {}
        cpu = ""
        modes = (("forked (default)", "1"), ("fresh process", "0"))
        for mode, prewarm in modes if parts & {"latency", "scale"} else ():
            base = Path(tmp) / ("warm" if prewarm == "1" else "cold")
            base.mkdir()
            env = {
                **os.environ,
                "FACTORYOS_HOME": str(base / "home"),
                "FACTORYOS_KILROY": kilroy,
                "FACTORYOS_RUNNER_PREWARM": prewarm,
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@local",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@local",
            }  # fmt: skip
            if prewarm == "0" and "latency" not in parts:
                continue
            profile = args.profile if prewarm == "1" else None
            plane = Plane(base, env, profile, steady=args.profile_part == "steady")
            config: dict[str, object] | None = None
            try:
                if "latency" in parts:
                    results[mode] = start_latency(base, env, kilroy, args.rounds)
                if prewarm == "1" and "scale" in parts:
                    cpu, config = active_cpu(base, env, plane, args.runs, args.window)
            finally:
                plane.stop()
            if config is not None and not args.no_bare:
                cpu += bare_scale(base, env, kilroy, args.runs, config)
        if results:
            print_latency(results, args.rounds)
        if cpu:
            print(cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
