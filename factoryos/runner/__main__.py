"""``python -m factoryos.runner SPEC.json | --spec-env VAR``: the runner workload's entrypoint.

Started by ``LocalProcessLauncher`` (a local process in its own session, the
spec in a file) and, on a cluster, as the command of a runner Job's pod (the
spec in an environment variable the Job sets). SIGTERM or SIGINT stops Kilroy
gracefully (the run keeps its checkpoint); the result goes to ``result.json``
in the workload's folder of the run directory and into the exit status.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from factoryos.errors import FactoryError
from factoryos.evals.workload import EvaluationWorkload
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.runner.forward import (
    EVENTS_TOKEN_ENV,
    EVENTS_URL_ENV,
    EventForwarder,
    ingest_url,
)
from factoryos.runner.progress import (
    NAMESPACE_ENV,
    PROGRESS_ENV,
    ConfigMapSink,
    ProgressReporter,
)
from factoryos.runner.workload import (
    Workload,
    WorkloadKind,
    WorkloadResult,
    WorkloadStatus,
    load_spec,
    parse_spec,
    write_result,
)
from factoryos.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    if len(args) == 2 and args[0] == "--spec-env" and args[1] in env:
        spec_text, workload_dir = env[args[1]], None
    elif len(args) == 1 and not args[0].startswith("-"):
        spec_path = Path(args[0]).resolve()
        spec_text, workload_dir = None, spec_path.parent
    else:
        print("usage: python -m factoryos.runner SPEC.json | --spec-env VAR", file=sys.stderr)
        return 2
    try:
        spec = load_spec(spec_path) if spec_text is None else parse_spec(spec_text)
        workload_dir = workload_dir or spec.layout.workload(spec.name)
        settings = Settings.from_env(env)
        progress = _progress(env)
        workload: Workload | EvaluationWorkload
        if spec.kind is WorkloadKind.EVALUATE:
            workload = EvaluationWorkload(spec, env, progress)
        else:
            kilroy = Kilroy(find_kilroy(settings, env), settings, env)
            workload = Workload(spec, kilroy, env, progress)
    except FactoryError as exc:
        result = WorkloadResult(
            status=WorkloadStatus.ERROR, reason=str(exc), finished_at=datetime.now(UTC)
        )
        if workload_dir is not None:
            write_result(workload_dir, result)
        print(f"runner: error: {exc}", file=sys.stderr)
        return result.exit_code

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"runner: {signal.Signals(signum).name}: stopping Kilroy gracefully", flush=True)
        workload.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"runner: {spec.name}: candidate {spec.candidate}, attempt {spec.attempt}", flush=True)
    forwarder = _forwarder(env, spec.layout.events, spec.namespace, spec.run)
    result = workload.run()
    write_result(workload_dir, result)
    if forwarder is not None and not forwarder.close():
        print("runner: some events did not reach the dashboard (they stay on the volume)")
    print(f"runner: {spec.name}: {result.status}" + (f": {result.reason}" if result.reason else ""))
    return result.exit_code


def _forwarder(
    env: dict[str, str], events: Path, namespace: str, run: str
) -> EventForwarder | None:
    """On a cluster with a dashboard (the Job sets the variables), send it the events."""
    base, token = env.get(EVENTS_URL_ENV), env.get(EVENTS_TOKEN_ENV)
    if not base or not token:
        return None
    return EventForwarder(events, ingest_url(base, namespace, run), token).start()


def _progress(env: dict[str, str]) -> ProgressReporter | None:
    """On a cluster (the Job sets the variables), report progress into the ConfigMap."""
    name, namespace = env.get(PROGRESS_ENV), env.get(NAMESPACE_ENV)
    if not name or not namespace:
        return None
    try:
        return ProgressReporter(ConfigMapSink(namespace, name))
    except Exception as exc:
        print(f"runner: progress reports are off: {exc}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
