"""``python -m factoryos.runner SPEC.json``: the runner workload's entrypoint.

Started by ``LocalProcessLauncher`` (a local process in its own session) and,
on a cluster, as the command of a runner Job's pod. SIGTERM or SIGINT stops
Kilroy gracefully (the run keeps its checkpoint); the result goes to
``result.json`` next to the spec and into the exit status.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from factoryos.errors import FactoryError
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.runner.workload import (
    Workload,
    WorkloadResult,
    WorkloadStatus,
    load_spec,
    write_result,
)
from factoryos.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m factoryos.runner SPEC.json", file=sys.stderr)
        return 2
    spec_path = Path(args[0]).resolve()
    workload_dir = spec_path.parent
    env = dict(os.environ)
    try:
        spec = load_spec(spec_path)
        settings = Settings.from_env(env)
        workload = Workload(spec, Kilroy(find_kilroy(settings, env), settings, env), env)
    except FactoryError as exc:
        result = WorkloadResult(
            status=WorkloadStatus.ERROR, reason=str(exc), finished_at=datetime.now(UTC)
        )
        write_result(workload_dir, result)
        print(f"runner: error: {exc}", file=sys.stderr)
        return result.exit_code

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"runner: {signal.Signals(signum).name}: stopping Kilroy gracefully", flush=True)
        workload.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"runner: {spec.name}: candidate {spec.candidate}, attempt {spec.attempt}", flush=True)
    result = workload.run()
    write_result(workload_dir, result)
    print(f"runner: {spec.name}: {result.status}" + (f": {result.reason}" if result.reason else ""))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
