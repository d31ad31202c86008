"""Benchmark: how fast an event reaches a dashboard client, next to Kilroy's own follower.

N runs of a pipeline of short tool stages stream at once through one ``sf
up`` (control plane + dashboard); each N (default: 20, then 100) is a case of
its own, with a fresh factory. For every Kilroy progress line
written after its client attached, latency = the moment the client received
it minus the line's own timestamp (``ts``, written by Kilroy as it appends
the line; same machine, same clock). Measured side by side on the same runs:

  - Factory OS: a WebSocket client per run on ``/api/runs/<ns>/<run>/events``
    (progress.ndjson -> runner -> events.ndjson -> dashboard -> WebSocket);
  - Kilroy: ``kilroy attractor status --follow --raw`` per run (it tails
    progress.ndjson itself and prints each line).

Next to the latencies, the CPU (user + system over the streaming window, % of
one core) of the dashboard process (``sf up``'s child ``python -m
factoryos.ui``) and of the control plane (the ``sf up`` process itself).

Goals, from Kilroy's line to the client, steady state: p99 <= 50 ms with 20
runs, <= 100 ms with 100 runs; and the dashboard under 25% of one core with 100.
Each is printed met or not, with the machine's core count. ``--polling``
turns file-system notifications off (FACTORYOS_FILE_NOTIFICATIONS=0) to
compare with the polling followers.

What else bounds the numbers, printed with them:

  - the measuring process itself: one asyncio loop here receives every client's
    messages and every follower's lines, so its own lateness (a probe sleeping
    10 ms, how much later it wakes) is in every latency it takes;
  - how many runs streamed at once (at most, and on average while any did):
    runs start as the control plane admits them, so "100 runs" is a count of
    runs, not of runs at once, on a slow machine;
  - inotify: the per-user instance limit and how many this user held when the
    case began (each runner holds one, the dashboard one: past the limit they
    poll, every 50 ms and 20 ms), and how many of our processes said they fell
    back to polling (their warning in the runners' output.log and sf up's log).
    This benchmark needs ``fs.inotify.max_user_instances`` above the runs at
    once plus what else runs as this user; it does not change the setting;
  - Kilroy's follower polls ``progress.ndjson`` every 250 ms (no inotify), so
    its column is that interval plus the machine's scheduling, not a bound on
    Kilroy's writing.

    make bench      # or: .venv/bin/python bench/dashboard_stream.py --runs 20 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from controlplane import SF, cpu_seconds, git_repo, pipeline, sf, stamp
from websockets.asyncio.client import connect

from factoryos.filewatch import INSTANCE_LIMIT_SYSCTL, instance_limit, instances_in_use

#: p99 goal (ms) by number of runs streaming; the CPU goal (% of one core) applies at 100.
P99_GOALS = {20: 50.0, 100: 100.0}
CPU_GOAL = 25.0
CPU_GOAL_RUNS = 100

#: Lines from the first seconds (20 Kilroys, runners and clients starting at once) are
#: reported apart from the steady state.
WARMUP = 2.0
CORES = os.cpu_count()
#: The loop probe's sleep (s): how late it wakes is how late any message here is taken.
PROBE = 0.010
#: What filewatch logs when a process gets no inotify instance.
FALLBACK = "File notifications are unavailable"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(name: str, ms: list[float]) -> str:
    if not ms:
        return f"{name:<34} no samples"
    return (
        f"{name:<40} n={len(ms):<5} p50={percentile(ms, 50):6.1f} ms  "
        f"p99={percentile(ms, 99):6.1f} ms  max={max(ms):6.1f} ms  "
        f"mean={statistics.fmean(ms):6.1f} ms"
    )


Samples = list[tuple[float, float]]  # (Kilroy's line ts, latency in ms)


class Probe:
    """The measuring loop's own lateness, and how many runs are streaming at once."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self.streaming: set[str] = set()
        self.at_once: list[int] = []

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(PROBE)
            self.late_ms.append((time.monotonic() - before - PROBE) * 1000)
            if self.streaming:
                self.at_once.append(len(self.streaming))


async def websocket_client(
    base: str, token: str, run: str, out: Samples, hops: dict[str, list[float]], probe: Probe
) -> None:
    """Receive the run's events until run.finished; keep the latency of Kilroy-born ones."""
    url = base.replace("http://", "ws://") + f"api/runs/default/{run}/events?after=0"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        attached = time.time()  # lines written from now on are live for this client
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message["kind"] != "event":
                continue
            event = message["event"]
            kilroy_ts = event["data"].get("kilroy_ts")
            if kilroy_ts is not None:
                probe.streaming.add(run)
            if kilroy_ts is not None and stamp(kilroy_ts) >= attached:
                out.append((stamp(kilroy_ts), (received - stamp(kilroy_ts)) * 1000))
                appended = stamp(event["time"])  # when the runner appended it to events.ndjson
                hops["runner"].append((appended - stamp(kilroy_ts)) * 1000)
                hops["dashboard"].append((received - appended) * 1000)
            if event["type"] == "dev.factoryos.run.finished":
                probe.streaming.discard(run)
                return


async def kilroy_follower(kilroy: str, logs_root: Path, out: Samples) -> None:
    """``kilroy attractor status --follow --raw`` on the same run, from when its logs exist."""
    while not (logs_root / "progress.ndjson").exists():
        await asyncio.sleep(0.005)
    proc = await asyncio.create_subprocess_exec(
        kilroy, "attractor", "status", "--logs-root", str(logs_root), "--follow", "--raw",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    attached = None
    async for line in proc.stdout:
        received = time.time()
        if attached is None:  # it prints the lines already there first; live ones after
            attached = received
        try:
            record = json.loads(line)
        except ValueError:
            continue
        ts = record.get("ts")
        if ts is not None and stamp(ts) >= attached:
            out.append((stamp(ts), (received - stamp(ts)) * 1000))
    await proc.wait()


async def measure(
    base: str, token: str, runs: list[str], home: Path, kilroy: str | None, plane: int
) -> None:
    ours: Samples = []
    theirs: Samples = []
    hops: dict[str, list[float]] = {"runner": [], "dashboard": []}
    probe = Probe()
    probing = asyncio.create_task(probe.run())
    started = time.time()
    dashboard = dashboard_pid(plane)
    plane_before, dashboard_before = cpu_seconds(plane), cpu_seconds(dashboard)
    own_before = cpu_seconds(os.getpid())
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        for run in runs:
            response = await client.post(
                base + "api/runs", json={"product": "stream", "goal": "bench", "name": run}
            )
            response.raise_for_status()
        clients = [
            asyncio.create_task(websocket_client(base, token, run, ours, hops, probe))
            for run in runs
        ]
        followers = [
            asyncio.create_task(
                kilroy_follower(kilroy, home / "runs" / "default" / run / "c0" / "logs", theirs)
            )
            for run in runs
            if kilroy is not None
        ]
        await asyncio.wait_for(asyncio.gather(*clients, *followers), timeout=900)
    probing.cancel()
    window = time.time() - started
    cpu = (cpu_seconds(dashboard) - dashboard_before) / window * 100
    plane_cpu = (cpu_seconds(plane) - plane_before) / window * 100
    own_cpu = (cpu_seconds(os.getpid()) - own_before) / window * 100
    goal = P99_GOALS.get(len(runs))
    for title, since in (
        ("all live lines", 0.0),
        (f"steady state (lines from {WARMUP:g}s after the runs started)", started + WARMUP),
    ):
        mine = [ms for ts, ms in ours if ts >= since]
        kilroys = [ms for ts, ms in theirs if ts >= since]
        print(f"-- {title}")
        print(summary("Factory OS WebSocket client", mine))
        print(summary("kilroy attractor status --follow", kilroys))
        if mine and kilroys:
            p50 = percentile(kilroys, 50) / percentile(mine, 50)
            p99 = percentile(kilroys, 99) / percentile(mine, 99)
            print(f"ratio (Kilroy's follower / ours): p50 {p50:.2f}x, p99 {p99:.2f}x")
        if mine and goal is not None and since:
            ours_p99 = percentile(mine, 99)
            verdict = "met" if ours_p99 <= goal else "NOT met"
            print(
                f"goal p99 <= {goal:g} ms with {len(runs)} runs streaming, {CORES} cores: "
                f"{ours_p99:.1f} ms, {verdict}"
            )
    print("-- our two hops (all live lines)")
    print(summary("Kilroy line -> events.ndjson (runner)", hops["runner"]))
    print(summary("events.ndjson -> client (dashboard)", hops["dashboard"]))
    line = f"-- dashboard CPU while streaming: {cpu:.1f}% of one core ({CORES} cores)"
    if len(runs) == CPU_GOAL_RUNS:
        line += f"; goal < {CPU_GOAL:g}%: {'met' if cpu < CPU_GOAL else 'NOT met'}"
    print(line)
    print(f"-- control plane (sf up) CPU meanwhile: {plane_cpu:.1f}% of one core")
    print(f"-- this benchmark's own CPU meanwhile: {own_cpu:.1f}% of one core")
    print(summary(f"-- this loop's lateness ({PROBE * 1000:g} ms probe)", probe.late_ms))
    if probe.at_once:
        print(
            f"-- runs streaming at once: at most {max(probe.at_once)}, "
            f"mean {statistics.fmean(probe.at_once):.1f} while any did (of {len(runs)})"
        )


def dashboard_pid(plane: int) -> int:
    """The dashboard: the child of ``sf up`` running ``factoryos.ui``."""
    for task in Path(f"/proc/{plane}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"factoryos.ui" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    sys.exit("sf up has no dashboard process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--stages", type=int, default=16)
    parser.add_argument("--stage-seconds", type=float, default=0.5)
    parser.add_argument("--polling", action="store_true", help="file notifications off")
    parser.add_argument(
        "--no-kilroy-follower",
        action="store_true",
        help="skip Kilroy's followers (a process each, read by this loop): ours alone",
    )
    args = parser.parse_args()
    kilroy = os.environ.get("FACTORYOS_KILROY") or shutil.which("kilroy")
    if not kilroy:
        sys.exit("kilroy not found: run `make tools` (or set FACTORYOS_KILROY)")
    for runs in args.runs:
        follower = None if args.no_kilroy_follower else kilroy
        case(runs, args.stages, args.stage_seconds, kilroy, follower, polling=args.polling)


def case(
    runs: int,
    stages: int,
    stage_seconds: float,
    kilroy: str,
    follower: str | None,
    *,
    polling: bool,
) -> None:
    """One measurement with ``runs`` runs streaming, in a fresh factory."""
    with tempfile.TemporaryDirectory(prefix="factoryos-bench-stream-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "FACTORYOS_HOME": str(root / "home"), "FACTORYOS_KILROY": kilroy}
        if polling:
            env["FACTORYOS_FILE_NOTIFICATIONS"] = "0"
        env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x.invalid")
        env.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x.invalid")
        repo = git_repo(
            root / "repo",
            {"pipeline.dot": pipeline(f"sleep {stage_seconds}", stages)},
            env,
        )
        sf(env, "apply", "-f", "-", stdin=(
            "apiVersion: factoryos.dev/v1alpha1\nkind: Product\nmetadata: {name: stream}\n"
            f"spec: {{repo: {{path: {repo}}}, concurrency: {runs}}}\n"
        ))  # fmt: skip
        log = (root / "sf-up.log").open("w")
        # `sf up` leads a session of its own, as when a user starts it in a terminal:
        # where the kernel schedules sessions as groups (autogroup), the dashboard's
        # group is then not shared with this loop and its Kilroy followers.
        up = subprocess.Popen(
            [*SF, "up", "--port", "0"], env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            base = ""
            for _ in range(1200):  # a loaded machine can take a while
                found = re.findall(r"dashboard at (http://\S+/)", (root / "sf-up.log").read_text())
                if found:
                    base = found[-1]
                    break
                time.sleep(0.05)
            if not base:
                sys.exit("sf up did not start its dashboard:\n" + (root / "sf-up.log").read_text())
            token = (root / "home" / "dashboard-token").read_text().strip()
            mode = "polling (notifications off)" if polling else "file notifications"
            print(
                f"\n== {runs} runs x {stages} stages of {stage_seconds}s, {CORES} cores, {mode}; "
                "latency = client receive time - Kilroy's line ts"
            )
            print(
                f"-- inotify: {INSTANCE_LIMIT_SYSCTL} = {instance_limit()}, "
                f"{instances_in_use()} in use by this user as the case begins; load "
                + " ".join(Path("/proc/loadavg").read_text().split()[:3])
            )
            names = [f"stream-{i:03d}" for i in range(runs)]
            asyncio.run(measure(base, token, names, root / "home", follower, up.pid))
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
        runners = sum(
            FALLBACK in log.read_text(errors="replace")
            for log in (root / "home" / "runs").glob("*/*/workloads/*/output.log")
        )
        plane = (root / "sf-up.log").read_text(errors="replace").count(FALLBACK)
        print(f"-- fell back to polling (no inotify instance): {runners} runners, {plane} in sf up")


if __name__ == "__main__":
    main()
