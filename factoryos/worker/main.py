"""``python -m factoryos.worker SPEC.json | --spec-env VAR``: a workload process's entrypoint.

It reads the ``WorkloadSpec`` and runs it as a build (``factoryos.runner.BuildWorkload``,
one candidate's Kilroy run) or an evaluation (``factoryos.evals.EvaluationWorkload``).
Started by ``LocalProcessLauncher`` (a local process in its own session, the
spec in a file) and, on a cluster, as the command of a runner Job's pod (the
spec in an environment variable the Job sets). SIGTERM or SIGINT stops Kilroy
gracefully (the run keeps its checkpoint); the result goes to ``result.json``
in the workload's folder of the run directory and into the exit status.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from factoryos.errors import FactoryError, ToolMissingError
from factoryos.evals.evaluate import EvaluationWorkload
from factoryos.events import Event, EventType, read_events
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.kilroy.priority import restore_own_session
from factoryos.kilroy.sandbox import Sandbox, find_bwrap
from factoryos.runner import BuildWorkload, ConfigMapSink
from factoryos.runner.forward import (
    EVENTS_TOKEN_ENV,
    EVENTS_URL_ENV,
    EventForwarder,
    ingest_url,
)
from factoryos.runner.sandboxing import candidate_sandbox, evaluation_sandbox
from factoryos.settings import Settings
from factoryos.telemetry import TRACEPARENT_ENV, Telemetry
from factoryos.worker.exchange import CandidateExchange
from factoryos.workloads import (
    NAMESPACE_ENV,
    PROGRESS_ENV,
    ProgressReporter,
    WorkloadKind,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
    load_spec,
    parse_spec,
    write_result,
)
from factoryos.workloads.exchange import EVENTS_STREAM_ENV

#: Exported with the workload span's trace ids when telemetry is on.
log = logging.getLogger("factoryos.runner")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    if len(args) == 2 and args[0] == "--spec-env" and args[1] in env:
        spec_text, workload_dir = env[args[1]], None
    elif len(args) == 1 and not args[0].startswith("-"):
        spec_path = Path(args[0]).resolve()
        spec_text, workload_dir = None, spec_path.parent
    else:
        print("usage: python -m factoryos.worker SPEC.json | --spec-env VAR", file=sys.stderr)
        return 2
    try:
        spec = load_spec(spec_path) if spec_text is None else parse_spec(spec_text)
    except FactoryError as exc:
        return _failed(workload_dir, exc)
    tracing = Telemetry.from_env("factoryos-runner", env)
    what = (
        f"evaluate iteration {spec.candidate}"
        if spec.kind is WorkloadKind.EVALUATE
        else f"candidate c{spec.candidate}"
    )
    try:
        with tracing.span(
            what, spec.traceparent, factoryos__run=spec.run, factoryos__workload=spec.name,
            factoryos__attempt=spec.attempt,
        ) as traceparent:  # fmt: skip
            if traceparent:  # Kilroy and its tool nodes inherit the trace
                env[TRACEPARENT_ENV] = traceparent
            code = _run(spec, workload_dir or spec.layout.workload(spec.name), env)
            if tracing.on:
                record_stages(tracing, spec, traceparent)
        return code
    finally:
        tracing.shutdown()


def _run(spec: WorkloadSpec, workload_dir: Path, env: dict[str, str]) -> int:
    try:
        settings = Settings.from_env(env)
        progress = _progress(env)
        workload: BuildWorkload | EvaluationWorkload
        if spec.kind is WorkloadKind.EVALUATE:
            # Not one of a burst of builds starting: the usual priority from the start
            # (a build's runner takes it back once its Kilroy runs).
            restore_own_session()
            sandbox_for = _evaluation_sandboxes(spec, settings, env) if spec.sandbox else None
            workload = EvaluationWorkload(spec, env, progress, sandbox_for)
        else:
            binary = find_kilroy(settings, env)
            sandbox = _sandbox(spec, settings, binary.path, env) if spec.sandbox else None
            kilroy = Kilroy(binary, settings, env, sandbox=sandbox)
            workload = BuildWorkload(spec, kilroy, env, progress)
    except FactoryError as exc:
        return _failed(workload_dir, exc)

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"runner: {signal.Signals(signum).name}: stopping Kilroy gracefully", flush=True)
        workload.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"runner: {spec.name}: candidate {spec.candidate}, attempt {spec.attempt}", flush=True)
    log.info("workload %s started (run %s, attempt %s)", spec.name, spec.run, spec.attempt)
    forwarder = _forwarder(env, spec.layout.events, spec.namespace, spec.run)
    result = _exchanged(spec, env, workload)
    write_result(workload_dir, result)
    log.info("workload %s ended: %s %s", spec.name, result.status, result.reason or "")
    if forwarder is not None and not forwarder.close():
        print("runner: some events did not reach the dashboard (they stay on the volume)")
    print(f"runner: {spec.name}: {result.status}" + (f": {result.reason}" if result.reason else ""))
    return result.exit_code


def _sandbox(spec: WorkloadSpec, settings: Settings, kilroy: Path, env: dict[str, str]) -> Sandbox:
    """The candidate's sandbox: the launcher found one works here, so its absence is an
    error (never a silent run without one)."""
    return candidate_sandbox(
        spec, bwrap=_bwrap(env), kilroy=kilroy, settings=settings, env=env,
        python_prefixes=_python_prefixes(),
    )  # fmt: skip


def _evaluation_sandboxes(
    spec: WorkloadSpec, settings: Settings, env: dict[str, str]
) -> Callable[[Path], Sandbox]:
    """The sandbox each candidate's code runs in during the evaluation, by its folder."""
    bwrap, prefixes = _bwrap(env), _python_prefixes()

    def sandbox_for(folder: Path) -> Sandbox:
        return evaluation_sandbox(
            folder, spec.run_dir, bwrap=bwrap, settings=settings, env=env,
            python_prefixes=prefixes,
        )  # fmt: skip

    return sandbox_for


def _bwrap(env: dict[str, str]) -> Path:
    bwrap = find_bwrap(env.get("PATH", ""))
    if bwrap is None:
        raise ToolMissingError("the candidate must run sandboxed, and bwrap is gone")
    return bwrap


def _python_prefixes() -> list[Path]:
    return _unique_paths(Path(sys.prefix), Path(sys.base_prefix))


def _unique_paths(*paths: Path) -> list[Path]:
    return list(dict.fromkeys(p.resolve() for p in paths))


def _exchanged(
    spec: WorkloadSpec, env: dict[str, str], workload: BuildWorkload | EvaluationWorkload
) -> WorkloadResult:
    """Run the workload, handing candidates over through git when each workload has its own
    volume (``exchange``): an evaluation first clones the candidates, a build that
    succeeded pushes its branch. A hand-over that fails is an infrastructure error."""
    exchange = CandidateExchange.from_env(env)
    try:
        if exchange is not None and spec.evaluation is not None:
            exchange.fetch_candidates(spec, spec.evaluation.candidates)
        result = workload.run()
        if (
            exchange is not None
            and spec.kind is WorkloadKind.BUILD
            and result.status is (WorkloadStatus.SUCCEEDED)
        ):
            exchange.push_candidate(spec)
    except FactoryError as exc:
        return WorkloadResult(
            status=WorkloadStatus.ERROR, reason=str(exc), finished_at=datetime.now(UTC)
        )
    return result


def _failed(workload_dir: Path | None, exc: FactoryError) -> int:
    result = WorkloadResult(
        status=WorkloadStatus.ERROR, reason=str(exc), finished_at=datetime.now(UTC)
    )
    if workload_dir is not None:
        write_result(workload_dir, result)
    print(f"runner: error: {exc}", file=sys.stderr)
    return result.exit_code


def record_stages(tracing: Telemetry, spec: WorkloadSpec, parent: str | None) -> None:
    """Kilroy's stages (and an evaluation's steps) of this workload as spans, with their times."""
    started: dict[str, Event] = {}
    for event in read_events(spec.layout.events):
        if event.data.get("workload") != spec.name and event.type not in _EVAL_TYPES:
            continue
        key = event.subject or ""
        if event.type in {EventType.STAGE_STARTED, EventType.VERIFIER_STARTED}:
            started[key] = event
        elif event.type in {EventType.STAGE_COMPLETED, EventType.VERIFIER_FINISHED}:
            begin = started.pop(key, None)
            if begin is None or (spec.kind is WorkloadKind.EVALUATE) != (
                event.type == EventType.VERIFIER_FINISHED
            ):
                continue
            ok = event.data.get("status") == "success" or event.data.get("passed") is True
            name = f"stage {key}" if event.type == EventType.STAGE_COMPLETED else f"screen {key}"
            if event.type == EventType.STAGE_COMPLETED:
                tracing.observe(
                    "factory.stage.duration", (event.time - begin.time).total_seconds(),
                    factory__product=spec.product, factory__stage=key,
                    factory__outcome=str(event.data.get("status")),
                )  # fmt: skip
            tracing.record(
                name, begin.time, event.time, parent,
                error=None if ok else str(event.data.get("failure_reason") or "failed"),
                factoryos__stage=key, factoryos__attempt=begin.data.get("attempt"),
            )  # fmt: skip
        elif event.type == EventType.GATE_DECIDED and spec.kind is WorkloadKind.EVALUATE:
            decision = "accept" if event.data.get("accepted") else "reject"
            tracing.count(
                "factory.gate.decisions", factory__product=spec.product,
                factory__gate__decision=decision,
            )  # fmt: skip
            tracing.record(
                "gate", event.time, event.time, parent,
                factoryos__accepted=event.data.get("accepted"),
                factoryos__n=event.data.get("n"), factoryos__k=event.data.get("k"),
                factoryos__lower_bound=event.data.get("lower_bound"),
            )  # fmt: skip


#: Evaluation events carry no workload name (they belong to the iteration).
_EVAL_TYPES = frozenset(
    {EventType.VERIFIER_STARTED, EventType.VERIFIER_FINISHED, EventType.GATE_DECIDED}
)


def _forwarder(
    env: dict[str, str], events: Path, namespace: str, run: str
) -> EventForwarder | None:
    """On a cluster with a dashboard (the Job sets the variables), send it the events."""
    base, token = env.get(EVENTS_URL_ENV), env.get(EVENTS_TOKEN_ENV)
    if not base or not token:
        return None
    url = ingest_url(base, namespace, run, env.get(EVENTS_STREAM_ENV))
    return EventForwarder(events, url, token).start()


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
