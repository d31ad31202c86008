"""Benchmark: what the bubblewrap sandbox adds to starting a candidate's Kilroy.

Side by side, in alternating rounds on the same machine, the time from spawning
``kilroy --version`` to its exit, with the logs and the environment the runner
uses:
  - bare: ``factoryos.kilroy.process.spawn`` (how an unsandboxed candidate starts);
  - sandboxed: ``Sandbox.spawn`` with the sandbox a real candidate gets
    (``factoryos.runner.sandboxing.candidate_sandbox``: the system, the tools
    folder and its agent packages, Python, PATH, the candidate's folder), which
    also waits for bwrap's ``--info-fd`` report of Kilroy's pid.
The added latency is the difference of the medians (goal: under 50 ms).

    .venv/bin/python bench/sandbox_start.py --rounds 40
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factoryos.kilroy import find_kilroy  # noqa: E402
from factoryos.kilroy.process import spawn  # noqa: E402
from factoryos.kilroy.sandbox import find_bwrap  # noqa: E402
from factoryos.runner.sandboxing import candidate_sandbox  # noqa: E402
from factoryos.settings import Settings  # noqa: E402
from factoryos.workloads import WorkloadSpec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    bwrap = find_bwrap(os.environ.get("PATH", ""))
    if bwrap is None:
        print("bwrap is not installed (make tools): nothing to measure")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "FACTORYOS_HOME": str(home)}
        settings = Settings.from_env(env)
        kilroy = find_kilroy(settings, env).path
        spec = WorkloadSpec(
            name="bench-c0-1", namespace="default", product="p", run="bench", candidate=0,
            attempt=1, run_dir=settings.runs_dir / "default" / "bench", goal="bench",
        )  # fmt: skip
        candidate = spec.layout.candidate(0)
        candidate.mkdir(parents=True)
        sandbox = candidate_sandbox(
            spec, bwrap=bwrap, kilroy=kilroy, settings=settings, env=env,
            python_prefixes=[Path(sys.prefix), Path(sys.base_prefix)],
        )  # fmt: skip
        logs = {"stdout_path": candidate / "out.log", "stderr_path": candidate / "err.log"}
        command = [str(kilroy), "--version"]

        def bare() -> float:
            began = time.perf_counter()
            code = spawn(command, cwd=candidate, env=env, **logs).wait()
            assert code == 0, f"kilroy --version exited {code}"
            return time.perf_counter() - began

        def sandboxed() -> float:
            began = time.perf_counter()
            popen, _pid = sandbox.spawn(command, cwd=candidate, env=env, **logs)
            code = popen.wait()
            assert code == 0, f"sandboxed kilroy --version exited {code}: see {logs}"
            return time.perf_counter() - began

        bare(), sandboxed()  # warm the page cache
        times: dict[str, list[float]] = {"bare": [], "sandboxed": []}
        for _ in range(args.rounds):
            times["bare"].append(bare())
            times["sandboxed"].append(sandboxed())
    print(f"{len(sandbox.read_only)} read-only and {len(sandbox.writable)} writable mounts")
    print(f"{'start to exit of kilroy --version':36} {'median ms':>10} {'p90 ms':>8}")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:36} {statistics.median(values) * 1000:10.1f} {p90 * 1000:8.1f}")
    added = statistics.median(times["sandboxed"]) - statistics.median(times["bare"])
    ratio = statistics.median(times["sandboxed"]) / statistics.median(times["bare"])
    print(f"added by the sandbox: {added * 1000:.1f} ms per candidate start ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
