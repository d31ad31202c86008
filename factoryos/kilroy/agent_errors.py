"""What an agent CLI said went wrong with its model requests, read from its stage logs.

Kilroy v0.1.0 records a failed CLI stage as ``exit status 1`` and reads only the CLI's
stderr, while Codex and Claude Code report the provider's answer (a 401's message, a
429 they retried, a refused connection) as JSON events on stdout
(tools/agents/KILROY_NOTES.md, section 6). The runner calls :func:`stage_agent_report`
for each finished stage of a run it follows, to put the provider's own words into the
stage's failure reason (and so into the Run's status) and to report the requests the
CLI retried; :func:`read_outcome` uses it for the node that ended the run.

The parsing is pure (:func:`agent_report` over the text of ``stdout.log`` and
``stderr.log``). Formats, as the pinned CLIs write them:

- Codex (``exec --json``): ``{"type": "error", "message": "Reconnecting... 2/5 (...)"}``
  for each retry, then ``{"type": "turn.failed", "error": {"message": ...}}``.
- Claude Code (``stream-json``): ``{"type": "system", "subtype": "api_retry",
  "error_status": 429, ...}`` for each retry, then ``{"type": "result", "is_error":
  true, "result": "API Error: 401 ..."}``.
- Gemini CLI and anything else: the last meaningful line of stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["AgentReport", "agent_report", "stage_agent_report"]

#: Kilroy writes this file into the stage directory of every CLI-backed stage.
CLI_INVOCATION = "cli_invocation.json"
#: How much of a long provider message is kept (the stage logs keep all of it).
MAX_MESSAGE = 300
#: How much of each log is read: the end is where a CLI reports why it stopped.
TAIL_BYTES = 256 * 1024

_CODEX_RETRY = re.compile(r"^Reconnecting\.\.\. \d+/\d+ \((?P<why>.*)\)$", re.DOTALL)
#: stderr lines that say nothing about a failure.
_STDERR_NOISE = re.compile(
    r"^(Reading prompt from stdin|Loaded cached credentials|YOLO mode|Data collection)",
    re.IGNORECASE,
)


class AgentReport(NamedTuple):
    """The CLI's own account of its model requests in one stage."""

    #: Why the CLI gave up (the provider's message as the CLI printed it), if it did.
    error: str | None = None
    #: How many model requests the CLI retried, and the last reason it gave.
    retries: int = 0
    retry_reason: str | None = None

    def failure(self, reason: str | None) -> str | None:
        """Kilroy's ``reason`` (``exit status 1``) with the provider's message added."""
        if self.error is None:
            return reason
        return f"{reason}: {self.error}" if reason else self.error

    def retry_summary(self) -> str | None:
        if not self.retries:
            return None
        why = f" (last: {self.retry_reason})" if self.retry_reason else ""
        return f"the agent CLI retried {self.retries} model request(s){why}"


def agent_report(stdout: str, stderr: str) -> AgentReport:
    """Parse a CLI stage's ``stdout.log`` and ``stderr.log`` (pure, never raises)."""
    error: str | None = None
    retries = 0
    retry_reason: str | None = None
    for event in _json_lines(stdout):
        kind = event.get("type")
        if kind == "error" and isinstance(event.get("message"), str):
            retry = _CODEX_RETRY.match(event["message"])
            if retry:
                retries += 1
                retry_reason = retry.group("why")
            else:
                error = event["message"]
        elif kind == "turn.failed":
            error = _message(event.get("error")) or error
        elif kind == "system" and event.get("subtype") == "api_retry":
            retries += 1
            status, what = event.get("error_status"), event.get("error")
            retry_reason = " ".join(str(x) for x in (status, what) if x not in (None, "")) or None
        elif kind == "result" and event.get("is_error") is True:
            error = _message(event.get("result")) or _message(event.get("error")) or error
        elif kind == "result" and event.get("status") == "error":
            error = _message(event.get("error")) or error
    if error is None:
        error = _last_stderr_line(stderr)
    return AgentReport(_clip(error), retries, _clip(retry_reason))


def stage_agent_report(stage_dir: Path) -> AgentReport | None:
    """The report for the stage logged in ``stage_dir``; None when no CLI ran there."""
    if not (stage_dir / CLI_INVOCATION).is_file():
        return None
    return agent_report(_tail(stage_dir / "stdout.log"), _tail(stage_dir / "stderr.log"))


def _json_lines(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _message(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        return _message(value.get("message"))
    return None


def _last_stderr_line(stderr: str) -> str | None:
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not _STDERR_NOISE.match(line.strip())
    ]
    return lines[-1] if lines else None


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
