"""How a Kilroy run ended: ``RunOutcome`` and ``read_outcome``.

The runner and the CLI call ``read_outcome`` once the Kilroy process has
exited. ``final.json`` decides first (Kilroy writes it atomically at the end of
every run that got past bootstrap); the exit code decides second. Exit 1 with
no ``final.json`` means Kilroy failed before the run started (bad config, a
graph that does not validate, a preflight check): that is not a run outcome
but an error, raised with the tail of Kilroy's stderr.

Kilroy v0.1.0 has no ``canceled`` final status for a stopped run: ``final.json``
says ``fail`` with ``stopped by signal terminated`` (or ``stopped_by_operator``
when ``attractor stop`` wrote it). We report those as ``canceled`` and keep the
raw status in ``kilroy_status``.

The failing node comes from ``progress.ndjson``: the last ``stage_attempt_end``,
when its status is ``fail``. When that node was only reached because its predecessor
failed (a failure sink behind an ``outcome!=success`` edge), we walk back to the
node whose failure was routed there, since that is the one a user must fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, NamedTuple

from factoryos.errors import ConfigurationError, EngineError, ValidationFailedError
from factoryos.kilroy.layout import INVOCATION_MARK, LAUNCH_FILE, STDERR_FILE
from factoryos.kilroy.logsroot import LogsRoot
from factoryos.kilroy.validation import dot_error_position

__all__ = [
    "STOP_REASONS",
    "RunOutcome",
    "RunStatus",
    "find_failed_node",
    "is_stop_reason",
    "read_outcome",
    "stderr_tail",
]

RunStatus = Literal["success", "fail", "canceled"]

#: final.json failure reasons that mean "an operator or a signal stopped the run".
STOP_REASONS = frozenset(
    {
        "stopped_by_operator",
        "stopped_by_operator_forced",
        "stopped by signal terminated",
        "stopped by signal interrupt",
        "stopped by signal killed",
    }
)

#: Lines Kilroy prints on every start; they never explain a failure.
_NOISE = re.compile(
    r"^(no providers auto-detected|auto-detected provider |Some providers, notably)"
)
#: Kilroy's DOT syntax errors (``dot parse: ... at 43``, ``dot lexer: ...``, ``dot: ...``).
_DOT_ERROR = re.compile(r"^dot( parse| lexer)?: ")
#: Kilroy's bootstrap refusals of the run config or the agent setup (deterministic).
_CONFIG_ERROR = re.compile(
    r"llm\.providers|cli_profile|run config|preflight|backend|executable file not found|"
    r"model not found|unknown field|api[_ ]key",
    re.IGNORECASE,
)


class RunOutcome(NamedTuple):
    """The end state of one Kilroy run (or resumed run)."""

    status: RunStatus
    #: Why it failed: the failed node's own reason (e.g. ``exit status 3``) when there
    #: is one, else the run's reason from ``final.json``.
    failure_reason: str | None
    #: The node whose failure ended the run, when one did.
    failed_node: str | None
    final_commit: str | None
    exit_code: int | None
    #: ``final.json`` as written: the status (``fail`` for a stopped run) and the reason
    #: (for a failure routed to a sink, the sink's reason).
    kilroy_status: str | None = None
    kilroy_reason: str | None = None


def is_stop_reason(reason: str | None) -> bool:
    return bool(reason) and (reason or "").strip() in STOP_REASONS


def read_outcome(
    logs_root: Path,
    exit_code: int | None,
    *,
    after: int = 0,
    stderr_path: Path | None = None,
) -> RunOutcome:
    """The outcome of the run in ``logs_root`` whose Kilroy process exited with ``exit_code``.

    ``after`` skips progress lines of earlier invocations (a resume appends to the
    same file). Raises ``EngineError`` (``ValidationFailedError`` for a graph
    Kilroy rejected) when Kilroy failed before the run started.
    """
    root = LogsRoot(logs_root)
    final = root.final()
    if final is None:
        if exit_code == 0:
            return RunOutcome("success", None, None, None, exit_code)
        raise _bootstrap_error(logs_root, exit_code, stderr_path)
    raw_status = str(final.get("status") or "").strip().lower()
    reason = str(final.get("failure_reason") or "").strip() or None
    status: RunStatus
    if raw_status == "success":
        status = "success"
    elif raw_status in {"canceled", "cancelled"} or is_stop_reason(reason):
        status = "canceled"
    else:
        status = "fail"
    # The progress is read again only for a run that did not succeed (``sf`` waits on this).
    failed = find_failed_node(root.progress(after)) if status != "success" else None
    node, node_reason = failed if failed else (None, None)
    if node is not None:  # an agent CLI's own account of why it gave up
        # Here: the runner loads it once Kilroy runs, not on the way to its start.
        from factoryos.kilroy.agent_errors import stage_agent_report

        report = stage_agent_report(logs_root / node)
        node_reason = report.failure(node_reason) if report else node_reason
    return RunOutcome(
        status=status,
        failure_reason=(node_reason or reason) if status != "success" else None,
        failed_node=node,
        final_commit=str(final.get("final_git_commit_sha") or "") or None,
        exit_code=exit_code,
        kilroy_status=raw_status or None,
        kilroy_reason=reason,
    )


def find_failed_node(events: list[tuple[int, dict[str, Any]]]) -> tuple[str, str | None] | None:
    """``(node, reason)`` of the failure that ended the run, from progress events.

    Only a failed *last* stage counts: a failure the pipeline recovered from is
    not why it ended, and a run that ended after a successful stage (a goal gate,
    a git error) has no failed node.
    """
    last_end: dict[str, dict[str, Any]] = {}
    entered_from: dict[str, str] = {}
    culprit: str | None = None
    for _, ev in events:
        name = ev.get("event")
        if name == "stage_attempt_end" and isinstance(ev.get("node_id"), str):
            last_end[ev["node_id"]] = ev
            culprit = ev["node_id"] if ev.get("status") == "fail" else None
        elif name == "edge_selected":
            target, source = ev.get("to_node"), ev.get("from_node")
            if isinstance(target, str) and isinstance(source, str):
                entered_from[target] = source
    if culprit is None:
        return None
    seen = {culprit}
    while True:
        source = entered_from.get(culprit)
        if source is None or source in seen or last_end.get(source, {}).get("status") != "fail":
            break
        seen.add(source)
        culprit = source
    reason = last_end[culprit].get("failure_reason")
    return culprit, (str(reason).strip() or None) if reason else None


def stderr_tail(path: Path | None, lines: int = 20) -> str:
    """The last lines Kilroy wrote to stderr in its latest invocation ('' when unknown)."""
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    mark = text.rfind(INVOCATION_MARK)
    if mark >= 0:
        text = text[text.find("\n", mark) + 1 :]
    kept = [line for line in text.splitlines() if line.strip() and not _NOISE.match(line)]
    return "\n".join(kept[-lines:])


def _bootstrap_error(logs_root: Path, exit_code: int | None, stderr_path: Path | None) -> Exception:
    run_dir = logs_root.parent
    if stderr_path is None:
        candidates = [run_dir / STDERR_FILE, logs_root / "run.out"]
        stderr_path = next((p for p in candidates if p.is_file()), None)
    tail = stderr_tail(stderr_path)
    problems = _validation_problems(tail)
    if problems:
        return ValidationFailedError("Kilroy rejected the pipeline: validation failed", problems)
    *context, headline = tail.splitlines() or [""]
    if _DOT_ERROR.match(headline):
        graph = _launched_graph(run_dir)
        where = f"{graph}: " if graph else ""
        if graph:
            line, column = dot_error_position(graph, headline)
            where = f"{graph}:{line}:{column}: " if line else where
        return ValidationFailedError(f"{where}not a valid pipeline: {headline}", [headline])
    if headline.strip().startswith("hint:") and context:  # Kilroy's "<error>\n  hint: <fix>"
        headline = f"{context.pop().strip()} ({headline.strip()})"
    if exit_code is not None and exit_code > 0 and _CONFIG_ERROR.search(headline):
        return ConfigurationError(f"Kilroy refused the run's configuration: {headline}")
    if exit_code is None:
        what = "kilroy has not finished and wrote no final.json yet"
    elif exit_code < 0:
        what = f"kilroy was killed by signal {-exit_code} before the run wrote final.json"
    else:
        what = f"kilroy exited {exit_code} before the run started (no final.json in {logs_root})"
    message = f"{what}: {headline}" if headline else what
    return EngineError("\n".join([message, *context]))


def _launched_graph(run_dir: Path) -> Path | None:
    try:
        graph = json.loads((run_dir / LAUNCH_FILE).read_text()).get("graph")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(graph) if isinstance(graph, str) else None


def _validation_problems(tail: str) -> list[str]:
    """Kilroy's ``validation failed: a\\n  hint: ..; b`` message split into findings."""
    start = tail.find("validation failed:")
    if start < 0:
        return []
    body = " ".join(tail[start + len("validation failed:") :].split())
    return [p.strip() for p in body.split("; ") if p.strip()]
