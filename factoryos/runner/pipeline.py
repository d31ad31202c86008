"""The pipeline runner: one Kilroy invocation, recorded as Factory OS events.

``PipelineRunner`` starts ``kilroy attractor run`` (or ``resume``), follows its
``progress.ndjson`` as it grows, translates each Kilroy event into Factory OS
events appended to the run's ``events.ndjson``, and returns the outcome read
from ``final.json``. It never writes a resource's status: whoever owns the
status (the controller) derives it from these events. ``sf pipeline run`` uses
it in the foreground; the workload entrypoint (``factoryos.runner.build``)
uses the same class for each candidate of a control-plane run.

An event the log cannot take (a full disk) is retried for a minute while Kilroy
goes on. Interrupting ``run`` (Ctrl-C, or ``request_stop`` from another thread) stops
Kilroy gracefully: ``kilroy attractor stop`` with a grace period, then the
process group is killed. The run keeps its checkpoint and can be resumed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from factoryos.errors import ValidationFailedError, WorkspaceError
from factoryos.events import EventType
from factoryos.kilroy.layout import LOGS_DIR
from factoryos.kilroy.priority import restore_own_session
from factoryos.workloads import EVENTS_FILE

if TYPE_CHECKING:
    from factoryos.events import EventLog, EventRecord
    from factoryos.kilroy import FileValidation, Kilroy, KilroyProcess, RunOutcome, RunSpec
    from factoryos.kilroy.quick import PendingValidation
    from factoryos.kilroy.workspace import PendingWorkspace

#: How long an event that cannot be written (a full disk) is retried before the runner
#: gives up (an infrastructure error: the workload is retried from its checkpoint).
APPEND_PATIENCE_SECONDS = 60.0
APPEND_RETRY_SECONDS = 0.5


class RunReport(NamedTuple):
    """What a finished (or stopped) Kilroy invocation produced."""

    run_id: str
    outcome: RunOutcome
    logs_root: Path
    events: Path
    run_branch: str | None
    stopped: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome._asdict(),
            "logs_root": str(self.logs_root),
            "events": str(self.events),
            "run_branch": self.run_branch,
            "stopped": self.stopped,
        }


class PipelineRunner:
    """Runs Kilroy for one run directory and records its events."""

    def __init__(
        self,
        kilroy: Kilroy,
        *,
        product: str,
        grace_seconds: float = 5.0,
        heartbeat_seconds: float | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        event_fields: dict[str, Any] | None = None,
    ) -> None:
        self._kilroy = kilroy
        self._product = product
        self._grace = grace_seconds
        #: Append a HEARTBEAT event this often while Kilroy runs (None: never); a
        #: supervisor tells a live but quiet run from a dead runner by them.
        self._heartbeat = heartbeat_seconds
        self._on_event = on_event or (lambda _event: None)
        #: Added to every event's data, e.g. which candidate and attempt wrote it.
        self._fields = dict(event_fields or {})
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Ask a running ``run``/``resume`` to stop Kilroy gracefully (thread-safe)."""
        self._stop.set()

    def run(
        self,
        spec: RunSpec,
        log: EventLog | None = None,
        *,
        validation: PendingValidation | None = None,
        workspace: PendingWorkspace | None = None,
    ) -> RunReport:
        """Validate the pipeline, start a new Kilroy run for ``spec`` and follow it to the end.

        Events go to ``log`` (default: ``events.ndjson`` in ``spec.run_dir``,
        with ``spec.run_id`` as the run name). A pipeline that fails validation
        raises ``ValidationFailedError`` before anything is started or written.
        ``validation``: the validation of ``spec.graph`` alone, started earlier
        (``Kilroy.start_validation``: ``sf pipeline run`` starts it before it loads
        the adapter and this module); by default it is started here. ``workspace``: the
        look at ``spec.workspace`` started earlier, for ``Kilroy.start``.
        """
        pending = validation or self._kilroy.start_validation([spec.graph])
        if [Path(f) for f in pending.files] != [Path(spec.graph)]:
            raise ValueError(f"the validation given is of {pending.files}, not {spec.graph}")
        (result,) = pending.result()
        ensure_valid(result)
        process = self._kilroy.start(spec, workspace=workspace)
        if log is None:
            with self._own_event_log(spec.run_dir, spec.run_id) as own:
                return self._started(spec, process, own)
        return self._started(spec, process, log)

    def _started(self, spec: RunSpec, process: KilroyProcess, log: EventLog) -> RunReport:
        self._emit(
            log,
            EventType.RUN_STARTED,
            {
                "run_id": spec.run_id,
                "pipeline": str(spec.graph),
                "workspace": str(spec.workspace),
                "logs_root": str(process.logs_root),
                "pid": process.pid,
            },
        )
        return self._follow(log, spec.run_id, process)

    def resume(
        self,
        run_dir: Path,
        run_id: str,
        log: EventLog | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> RunReport:
        """Resume the run in ``run_dir`` from its last checkpoint and follow it; ``extra_env``
        as the run started with (an agent's key is never written down, so it comes again)."""
        if log is None:
            with self._own_event_log(run_dir, run_id) as own:
                return self._resumed(run_dir, run_id, own, extra_env)
        return self._resumed(run_dir, run_id, log, extra_env)

    def _resumed(
        self, run_dir: Path, run_id: str, log: EventLog, extra_env: Mapping[str, str] | None
    ) -> RunReport:
        logs_root = run_dir / LOGS_DIR
        process = self._kilroy.resume(logs_root, run_dir=run_dir, extra_env=extra_env)
        self._emit(
            log,
            EventType.RUN_RESUMED,
            {"run_id": run_id, "logs_root": str(logs_root), "pid": process.pid},
        )
        return self._follow(log, run_id, process)

    @contextlib.contextmanager
    def _own_event_log(self, run_dir: Path, run_id: str) -> Iterator[EventLog]:
        """The run directory's ``events.ndjson``, synced by a thread of its own (an fsync per
        event would hold up following Kilroy) and completely once the run is over."""
        from factoryos.events import EventLog, run_source

        log = EventLog(
            run_dir / EVENTS_FILE, run_source(self._product, run_id), sync_in_background=True
        )
        try:
            yield log
        finally:
            log.close()

    def _follow(self, log: EventLog, run_id: str, process: KilroyProcess) -> RunReport:
        # Kilroy runs: a runner started at a low priority takes the usual one back, as it
        # is now on the path of every event (``factoryos.kilroy.priority``).
        restore_own_session()
        done = threading.Event()
        beating = self._start_heartbeat(log, process, done)

        def stop_beating() -> None:
            done.set()
            if beating is not None:
                beating.join()

        try:
            return self._follow_until_done(log, run_id, process, stop_beating)
        finally:
            stop_beating()

    def _start_heartbeat(
        self, log: EventLog, process: KilroyProcess, done: threading.Event
    ) -> threading.Thread | None:
        interval = self._heartbeat
        if interval is None:
            return None

        def beat() -> None:
            while not done.wait(interval):
                self._emit(log, EventType.HEARTBEAT, {"source": "runner", "pid": process.pid})

        thread = threading.Thread(target=beat, name=f"heartbeat-{process.pid}", daemon=True)
        thread.start()
        return thread

    def _follow_until_done(
        self,
        log: EventLog,
        run_id: str,
        process: KilroyProcess,
        stop_beating: Callable[[], None],
    ) -> RunReport:
        # Loaded once Kilroy runs (beside its start), not on the way to it; so is the
        # outcome's reader, which ``process.outcome`` uses at the end, where ``sf`` waits.
        import factoryos.kilroy.outcome  # noqa: F401
        from factoryos.kilroy.follow import follow_progress_lines
        from factoryos.kilroy.logsroot import LogsRoot
        from factoryos.kilroy.translate import translate_progress

        stopped = False
        after: int | None = None
        while True:
            try:
                for line_no, line in follow_progress_lines(
                    process.logs_root, process, after=after, should_stop=self._stop.is_set
                ):
                    after = line_no
                    line, retried = _with_agent_report(line, process.logs_root)
                    for kind, data, subject in translate_progress(line):
                        # RUN_FINISHED is written once below, from final.json.
                        if kind is not EventType.RUN_FINISHED:
                            self._emit(log, kind, data, subject)
                    if retried is not None:
                        node = str(line.get("node_id"))
                        note = {"level": "warning", "message": retried, "origin": "agent"}
                        self._emit(log, EventType.LOG, {**note, "node_id": node}, node)
            except KeyboardInterrupt:
                self._stop.set()
            if not self._stop.is_set() or stopped:
                break
            # A stop was requested while Kilroy runs: stop it, then drain what it wrote.
            stopped = True
            self._stop_kilroy(log, process)
        outcome = process.outcome()
        stop_beating()  # the run is over: nothing may follow RUN_FINISHED
        finished: dict[str, Any] = {"status": outcome.status, "exit_code": outcome.exit_code}
        if outcome.failure_reason:
            finished["reason"] = outcome.failure_reason
        if outcome.failed_node:
            finished["failed_node"] = outcome.failed_node
        if stopped:
            finished["stopped"] = True
        self._emit(log, EventType.RUN_FINISHED, finished)
        manifest = LogsRoot(process.logs_root).manifest() or {}
        return RunReport(
            run_id=run_id,
            outcome=outcome,
            logs_root=process.logs_root,
            events=log.path,
            run_branch=manifest.get("run_branch") or None,
            stopped=stopped,
        )

    def _stop_kilroy(self, log: EventLog, process: KilroyProcess) -> None:
        self._emit(log, EventType.RUN_STOP_REQUESTED, {"grace_seconds": self._grace})
        self._kilroy.stop(process.logs_root, grace_seconds=self._grace)

    def _emit(
        self,
        log: EventLog,
        kind: EventType,
        data: dict[str, Any],
        subject: str | None = None,
    ) -> None:
        if self._fields:
            data = {**data, **self._fields}
        self._on_event(self._append(log, kind, data, subject))

    def _append(
        self, log: EventLog, kind: EventType, data: dict[str, Any], subject: str | None
    ) -> EventRecord:
        """Append, waiting up to ``APPEND_PATIENCE_SECONDS`` for a log that cannot take it
        (a full disk): Kilroy goes on meanwhile, and nothing is lost or written twice
        (a failed append leaves nothing behind)."""
        deadline: float | None = None
        while True:
            try:
                return log.append_record(kind, data, subject=subject)
            except WorkspaceError as exc:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + APPEND_PATIENCE_SECONDS
                    _say(f"runner: {exc}; retrying for {APPEND_PATIENCE_SECONDS:g}s")
                if now >= deadline:
                    raise
                time.sleep(APPEND_RETRY_SECONDS)


def _say(line: str) -> None:
    """Print a line if the output can take it (it may be on the full disk too)."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


def ensure_valid(validation: FileValidation) -> None:
    """Raise ``ValidationFailedError`` (one line, findings in ``problems``) unless valid."""
    if validation.parse_error:
        error = validation.parse_error
        if validation.parse_line:
            where = f"{validation.file}:{validation.parse_line}:{validation.parse_column}"
            message = f"{where}: not a valid pipeline: {error}"
        else:
            message = error if str(validation.file) in error else f"{validation.file}: {error}"
        raise ValidationFailedError(message, [error])
    if validation.errors:
        problems = [f"{d.rule}: {d.message}" for d in validation.errors]
        raise ValidationFailedError(
            f"{validation.file}: pipeline has {len(problems)} error(s): " + "; ".join(problems),
            problems,
        )


def _with_agent_report(line: dict[str, Any], logs_root: Path) -> tuple[dict[str, Any], str | None]:
    """A finished stage's progress line with its agent CLI's account added: the
    provider's message in a failure's reason, and what the CLI retried (else None)."""
    from factoryos.kilroy.agent_errors import stage_agent_report

    node = line.get("node_id")
    if line.get("event") != "stage_attempt_end" or not isinstance(node, str) or not node:
        return line, None
    report = stage_agent_report(logs_root / node)
    if report is None:
        return line, None
    if line.get("status") == "fail":
        reason = line.get("failure_reason")
        line = {
            **line,
            "failure_reason": report.failure(reason if isinstance(reason, str) else None),
        }
    return line, report.retry_summary()
