"""``RunSnapshot``: where a Kilroy run stands, from ``attractor status --json`` or the files.

``Kilroy.status`` asks Kilroy first (``snapshot_from_kilroy``) and falls back to
reading the logs_root itself (``snapshot_from_files``) when Kilroy cannot
answer, e.g. because it caught ``live.json`` mid-write. Both follow Kilroy's
precedence: ``final.json`` > ``live.json`` > the last progress line > ``run.pid``
liveness. Unlike Kilroy v0.1.0 (which shows a stopped run as ``fail`` and a
``canceled`` final status as ``unknown``), the state here is ``canceled`` for both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from factoryos.kilroy.logsroot import LogsRoot
from factoryos.kilroy.outcome import is_stop_reason
from factoryos.kilroy.procs import pid_alive

__all__ = ["RunSnapshot", "RunState", "snapshot_from_files", "snapshot_from_kilroy"]

RunState = Literal["unknown", "running", "success", "fail", "canceled"]


@dataclass(frozen=True)
class RunSnapshot:
    """A point-in-time view of one run."""

    logs_root: Path
    state: RunState
    run_id: str | None = None
    current_node: str | None = None
    last_event: str | None = None
    last_event_at: str | None = None
    failure_reason: str | None = None
    pid: int | None = None
    pid_alive: bool = False
    attempt: int | None = None
    max_attempts: int | None = None
    #: ``kilroy`` (attractor status) or ``files`` (read directly).
    source: str = "files"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["logs_root"] = str(self.logs_root)
        return out


def snapshot_from_kilroy(doc: dict[str, Any], logs_root: Path) -> RunSnapshot:
    """A snapshot from ``attractor status --json`` output, with our state mapping applied."""
    final = LogsRoot(logs_root).final()
    pid = _int(doc.get("pid"))
    alive = bool(doc.get("pid_alive"))
    return RunSnapshot(
        logs_root=logs_root,
        state=_state(final, alive),
        run_id=_str(doc.get("run_id")),
        current_node=_str(doc.get("current_node_id")),
        last_event=_str(doc.get("last_event")),
        last_event_at=_time(doc.get("last_event_at")),
        failure_reason=_str(doc.get("failure_reason")) or _str((final or {}).get("failure_reason")),
        pid=pid,
        pid_alive=alive,
        attempt=_int(doc.get("current_attempt")),
        max_attempts=_int(doc.get("max_attempts")),
        source="kilroy",
    )


def snapshot_from_files(logs_root: Path) -> RunSnapshot:
    """A snapshot read from the logs_root files alone."""
    root = LogsRoot(logs_root)
    final = root.final()
    last: dict[str, Any] = {}
    if final is None:
        last = root.live() or {}
        if not last:
            progress = root.progress()
            last = progress[-1][1] if progress else {}
    manifest = root.manifest() or {}
    pid = root.run_pid()
    alive = pid is not None and pid_alive(pid)
    run_id = _str((final or {}).get("run_id")) or _str(last.get("run_id"))
    return RunSnapshot(
        logs_root=logs_root,
        state=_state(final, alive),
        run_id=run_id or _str(manifest.get("run_id")),
        current_node=_str(last.get("node_id")),
        last_event=_str(last.get("event")),
        last_event_at=_str(last.get("ts")),
        failure_reason=_str((final or {}).get("failure_reason"))
        or _str(last.get("failure_reason")),
        pid=pid,
        pid_alive=alive,
        attempt=_int(last.get("attempt")),
        max_attempts=_int(last.get("max")),
        source="files",
    )


def _state(final: dict[str, Any] | None, alive: bool) -> RunState:
    if final is not None:
        status = str(final.get("status") or "").lower()
        if status == "success":
            return "success"
        if status in {"canceled", "cancelled"} or is_stop_reason(
            str(final.get("failure_reason") or "")
        ):
            return "canceled"
        if status == "fail":
            return "fail"
        return "unknown"
    return "running" if alive else "unknown"


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _time(value: Any) -> str | None:
    # Go marshals an unset time as 0001-01-01T00:00:00Z.
    text = _str(value)
    return None if text is None or text.startswith("0001-01-01") else text
