"""``sf pipeline run`` without Typer: its body, and a shortcut that starts it directly.

Kilroy starts only once ``sf`` has imported what parses the command line, and
through Typer that is a quarter of a second of CPU before anything happens:
Typer, and pydantic, which Typer 0.29 imports to coerce every parameter.
``start`` parses this one command's options itself (standard library only)
and runs it; ``factoryos.cli.app.main`` calls it after the read-only
shortcut, before Typer. Like ``factoryos.cli.readonly`` it answers only what
it is sure of and returns ``None`` for anything else, which then goes to
Typer as before: ``--help``, a spelling it does not know (``--workspace=x``,
``-wx``, ``--``), a value that looks like an option, a missing argument or
option, a ``--grace`` or ``-o`` Click would refuse, ``--context``/
``FACTORYOS_CONTEXT``, shell completion. The Typer command
(``factoryos.cli.pipeline.run``) runs the same ``run_pipeline``, so the run,
its output, its errors and its exit status have one source;
``tests/unit/cli/test_pipelinerun.py`` keeps the option table equal to the
Typer command's.

The run's helpers that ``sf pipeline resume`` shares (the runner, the live
progress lines, the summary) live here too, so that this path never imports Typer.
Everything beyond the standard library is imported once the command line is parsed.
"""

from __future__ import annotations

import errno
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from factoryos.cli.emit import OutputFormat, emit, progress
from factoryos.cli.shortcut import UnsureError, parse_words, typer_only

if TYPE_CHECKING:
    from factoryos.events import EventRecord
    from factoryos.kilroy import Kilroy, KilroyBinary
    from factoryos.kilroy.sweeper import Sweeper
    from factoryos.runner import PipelineRunner, RunReport
    from factoryos.settings import Settings

#: How often a running pipeline writes a heartbeat event.
HEARTBEAT_SECONDS = 10.0

#: ``sf pipeline run``'s options: each spelling -> (its parameter, whether it takes a value).
#: Kept equal to the Typer command's options by a unit test.
OPTIONS: Mapping[str, tuple[str, bool]] = {
    "--workspace": ("workspace", True),
    "-w": ("workspace", True),
    "--input": ("inputs", True),
    "-i": ("inputs", True),
    "--run-id": ("run_id", True),
    "--product": ("product", True),
    "--agent-profile": ("agent_profile", True),
    "--agent-executable": ("agent_executable", True),
    "--grace": ("grace", True),
    "--output": ("output", True),
    "-o": ("output", True),
}
#: Its positional arguments.
ARGUMENTS: Sequence[str] = ("graph",)
#: Options that may be given more than once (each value kept, in order).
REPEATED = frozenset({"inputs"})


def is_pipeline_run(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is an ``sf pipeline run`` command line (``start``'s to answer)."""
    return list(argv[:2]) == ["pipeline", "run"]


def start(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """Run ``sf pipeline run`` and return its exit status, or ``None`` to let Typer run it."""
    if not is_pipeline_run(argv):
        return None
    if typer_only(env):
        return None
    try:
        params = parse(argv[2:])
    except UnsureError:
        return None
    return run_guarded(params)


def parse(words: Sequence[str]) -> dict[str, Any]:
    """The command's parameters, converted as Click converts them, or ``UnsureError``."""
    values = parse_words(words, OPTIONS, ARGUMENTS, REPEATED)
    if "workspace" not in values:
        raise UnsureError  # Click says what is missing
    try:
        grace = float(values.get("grace", "5.0"))  # Click's FLOAT is float()
        output = OutputFormat(values.get("output", "text"))
    except ValueError:
        raise UnsureError from None
    executable = values.get("agent_executable")
    return {
        "graph": Path(values["graph"]),
        "workspace": Path(values["workspace"]),
        "inputs": values.get("inputs"),
        "run_id": values.get("run_id"),
        "product": values.get("product", "adhoc"),
        "agent_profile": values.get("agent_profile", "real"),
        "agent_executable": None if executable is None else Path(executable),
        "grace": grace,
        "output": output,
    }


def run_guarded(params: dict[str, Any]) -> int:
    """``run_pipeline`` ending as through ``factoryos.cli.root.main`` and Typer: our errors
    as one ``sf: error:`` line and the CLI's status; Ctrl-C outside the run (which the
    runner turns into a graceful stop) 130; end of input "Aborted!" and 1; a closed
    output pipe 1, silently."""
    from factoryos.errors import FactoryError

    try:
        return run_pipeline(**params)
    except FactoryError as exc:
        from factoryos.cli.emit import error_line
        from factoryos.cli.exits import exit_status

        sys.stderr.write(error_line(str(exc)) + "\n")
        return exit_status(exc)
    except KeyboardInterrupt:
        return 130
    except EOFError:
        sys.stderr.write("\nAborted!\n")
        return 1
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _Pacified(sys.stdout)
        sys.stderr = _Pacified(sys.stderr)
        return 1


def exit_now(status: int) -> None:
    """End this process with ``status`` at once, without the interpreter's teardown (20-40 ms
    of freeing every module after the run is over); ``factoryos.cli.app.main`` calls it
    after a run of ``sf``'s own command line. The exit handlers run and the output is
    flushed first. It returns, leaving the usual exit to the caller, while another thread
    is alive (the interpreter would wait for it) or when the output cannot be flushed
    (the interpreter's own last flush then says why, and exits 120 as before)."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


class _Pacified:
    """A stream whose flush ignores a closed pipe (Click's ``PacifyFlushWrapper``), so the
    interpreter's last flush at exit does not complain about the reader gone."""

    def __init__(self, wrapped: TextIO) -> None:
        self._wrapped = wrapped

    def flush(self) -> None:
        try:
            self._wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def run_pipeline(
    *,
    graph: Path,
    workspace: Path,
    inputs: list[str] | None,
    run_id: str | None,
    product: str,
    agent_profile: str,
    agent_executable: Path | None,
    grace: float,
    output: OutputFormat,
) -> int:
    """Run a pipeline on a workspace, print its summary, return its status (0 success)."""
    # Ctrl-C (SIGINT) stops the run gracefully, even when sf was started with SIGINT
    # ignored (a background job of a script, some CI runners): Python keeps an inherited
    # SIG_IGN, so the stop would never come. Go CLIs such as Kilroy do the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import os

    from factoryos.kilroy.sweeper import Sweeper

    # First of all, what runs beside the imports below, on the other core: the run's
    # sweeper starts in standby (its Python start, rather than beside Kilroy's bootstrap;
    # Kilroy tells it the run before it is spawned, and a run that never starts lets it go
    # untold); then Kilroy validates the pipeline (a Go start; a file it found valid before,
    # unchanged since, is not validated again) and git looks at the workspace. The runner
    # waits for those two before it writes or starts anything.
    standby = Sweeper.standby()
    try:
        from factoryos.kilroy.binary import find_kilroy
        from factoryos.kilroy.quick import start_validation
        from factoryos.kilroy.validation_cache import VALIDATIONS_FILE
        from factoryos.settings import Settings

        settings = Settings.from_env()
        parsed_inputs = _parse_inputs(inputs or [])
        binary = find_kilroy(settings, os.environ)
        cache = settings.kilroy_state_dir / VALIDATIONS_FILE
        validation = start_validation(binary.path, [graph], settings, os.environ, cache=cache)
        from factoryos.kilroy.workspace import start_workspace

        repo = start_workspace(workspace)
        from factoryos.kilroy.runspec import RunSpec

        kilroy = kilroy_for(settings, binary, standby)
        rid = run_id or _default_run_id(graph)
        spec = RunSpec(
            graph=graph,
            workspace=workspace,
            run_id=rid,
            run_dir=settings.runs_dir / rid,
            inputs=parsed_inputs,
            agent_profile=agent_profile,
            agent_executable=agent_executable,
        )
        report = runner(kilroy, product, grace).run(spec, validation=validation, workspace=repo)
        return report_status(report, output)
    finally:
        if standby is not None:
            standby.close()  # nothing, when Kilroy's end closed it already


def kilroy_for(
    settings: Settings, binary: KilroyBinary | None = None, sweeper: Sweeper | None = None
) -> Kilroy:
    """The Kilroy of this ``sf``: ``binary`` (default: the one ``find_kilroy`` picks), our
    environment, and the usual CPU priority: someone is waiting on this command in the
    foreground (``FACTORYOS_BUILD_NICE`` is for the background runs of ``sf up``);
    ``sweeper``: one started in standby for its run (``Sweeper.standby``)."""
    import os

    from factoryos.kilroy import Kilroy, find_kilroy

    foreground = settings._replace(build_nice=0)
    return Kilroy(binary or find_kilroy(settings, os.environ), foreground, sweeper=sweeper)


def runner(kilroy: Kilroy, product: str, grace: float) -> PipelineRunner:
    """The runner of `sf pipeline run` and `resume`: stages shown live, a heartbeat."""
    from factoryos.runner import PipelineRunner

    return PipelineRunner(
        kilroy,
        product=product,
        grace_seconds=grace,
        heartbeat_seconds=HEARTBEAT_SECONDS,
        on_event=show_event,
    )


def report_status(report: RunReport, output: OutputFormat) -> int:
    """Print the run's summary; its exit status (0 success, 1 anything else)."""
    emit(report.to_dict(), output, report_text)
    return 0 if report.outcome.status == "success" else 1


_INPUT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$", re.DOTALL)


def _parse_inputs(values: list[str]) -> dict[str, str]:
    from factoryos.errors import InvalidInputError

    inputs: dict[str, str] = {}
    for raw in values:
        match = _INPUT.match(raw)
        if not match:
            raise InvalidInputError(f"--input {raw!r}: expected KEY=VALUE")
        inputs[match.group(1)] = match.group(2)
    return inputs


def _default_run_id(graph: Path) -> str:
    from datetime import UTC, datetime

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", graph.stem).strip("-.") or "run"
    return f"{stem}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"


def show_event(event: EventRecord) -> None:
    """One live progress line on stderr for the events people follow."""
    from factoryos.events.eventtype import EventType

    data = event.data
    stamp = event.time.astimezone().strftime("%H:%M:%S")
    if event.type == EventType.RUN_STARTED:
        progress(f"[{stamp}] run {data.get('run_id')} started (logs: {data.get('logs_root')})")
    elif event.type == EventType.RUN_RESUMED:
        progress(f"[{stamp}] run {data.get('run_id')} resumed from its checkpoint")
    elif event.type == EventType.STAGE_STARTED:
        progress(f"[{stamp}] {event.subject}: started (attempt {_attempt(data)})")
    elif event.type == EventType.STAGE_COMPLETED:
        reason = f": {data['failure_reason']}" if data.get("failure_reason") else ""
        progress(f"[{stamp}] {event.subject}: {data.get('status')}{reason}")
    elif event.type == EventType.STAGE_RETRYING:
        progress(f"[{stamp}] {event.subject}: retrying")
    elif event.type == EventType.RUN_STOP_REQUESTED:
        progress(f"[{stamp}] stopping (grace {data.get('grace_seconds')}s)")


def _attempt(data: dict[str, Any]) -> str:
    attempt, limit = data.get("attempt"), data.get("max")
    return f"{attempt}/{limit}" if limit else str(attempt)


def report_text(report: dict[str, Any]) -> str:
    """The run's summary for people."""
    out = report["outcome"]
    head = f"run {report['run_id']}: {out['status']}"
    if out.get("failed_node"):
        head += f" at {out['failed_node']}"
    if out.get("failure_reason"):
        head += f": {out['failure_reason']}"
    return "\n".join(
        [head, f"  events: {report['events']}", f"  logs:   {report['logs_root']}"]
        + ([f"  branch: {report['run_branch']}"] if report.get("run_branch") else [])
    )
