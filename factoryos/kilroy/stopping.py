"""Stopping a Kilroy run so that nothing of it keeps running.

``Kilroy.stop`` calls ``stop_run``:

1. ``kilroy attractor stop --logs-root ABS --grace-ms N --force`` with the
   binary that started the run (Kilroy checks ``/proc/<pid>/exe`` against its
   own). Kilroy sends SIGTERM, its engine cancels the stage, writes
   ``final.json`` and exits; after the grace it SIGKILLs.
2. If Kilroy refuses (it trusts ``final.json`` over a live pid, and fails on a
   half-written ``live.json``), we do the same ourselves: SIGTERM to the Kilroy
   pid, then SIGKILL to its process group after the grace.
3. Kilroy v0.1.0 kills only the ``bash`` of a running tool node; whatever that
   shell forked keeps running. So, once Kilroy is gone, every remaining process
   of the run (its session, and anything carrying its ``FACTORYOS_LOGS_ROOT``)
   gets SIGTERM, then SIGKILL.
4. ``final.json`` is written only if missing, as Kilroy's own stop does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from factoryos.kilroy.logsroot import LogsRoot
from factoryos.kilroy.procs import PROC, kill_processes, pid_alive, run_processes, signal_group

__all__ = ["StopResult", "is_run_leader", "stop_run", "write_final_if_missing"]


@dataclass(frozen=True)
class StopResult:
    """What ``stop`` did."""

    #: A live run was found and stopped.
    stopped: bool
    #: ``graceful``/``forced`` (by Kilroy), ``signal``/``signal_forced`` (by us), ``not_running``.
    method: str
    pid: int | None
    elapsed_seconds: float
    #: Processes of the run still alive after Kilroy exited, which we killed.
    killed: list[int] = field(default_factory=list)
    #: We wrote final.json because Kilroy had not.
    final_written: bool = False
    #: Kilroy's stderr when it refused to stop the run itself.
    kilroy_refusal: str | None = None


def stop_run(
    binary: Path, logs_root: Path, env: Mapping[str, str], grace_seconds: float = 5.0
) -> StopResult:
    """Stop the run in ``logs_root`` (absolute) and everything it started."""
    started = time.monotonic()
    grace = max(0.0, grace_seconds)
    pid = LogsRoot(logs_root).run_pid()
    leader = pid if pid is not None and is_run_leader(pid, logs_root) else None
    if leader is None:
        leftovers = kill_processes(lambda: run_processes(logs_root), grace_seconds=0.2)
        return StopResult(
            stopped=False,
            method="not_running",
            pid=pid,
            elapsed_seconds=time.monotonic() - started,
            killed=leftovers,
        )
    method, refusal = _kilroy_stop(binary, logs_root, env, grace)
    if method is None:
        method = _signal_stop(leader, grace)
    remaining = max(0.1, grace - (time.monotonic() - started))
    killed = kill_processes(
        lambda: run_processes(logs_root, session=leader), grace_seconds=min(0.5, remaining)
    )
    reason = "stopped_by_operator_forced" if method.endswith("forced") else "stopped_by_operator"
    written = write_final_if_missing(logs_root, reason)
    return StopResult(
        stopped=True,
        method=method,
        pid=leader,
        elapsed_seconds=time.monotonic() - started,
        killed=killed,
        final_written=written,
        kilroy_refusal=refusal,
    )


def is_run_leader(pid: int, logs_root: Path) -> bool:
    """True when ``pid`` is alive and is the ``kilroy attractor run|resume`` of ``logs_root``."""
    if not pid_alive(pid):
        return False
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return not PROC.is_dir()
    return b"attractor" in argv and str(logs_root).encode() in argv


def write_final_if_missing(logs_root: Path, reason: str) -> bool:
    """Write a ``fail`` final.json with ``reason`` unless one exists; True when written."""
    path = logs_root / "final.json"
    if path.exists():
        return False
    root = LogsRoot(logs_root)
    checkpoint = root.checkpoint() or {}
    manifest = root.manifest() or {}
    document = {
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "status": "fail",
        "run_id": manifest.get("run_id", ""),
        "final_git_commit_sha": checkpoint.get("git_commit_sha", ""),
        "failure_reason": reason,
        "cxdb_context_id": "",
        "cxdb_head_turn_id": "",
    }
    tmp = path.with_name(".final.json.factoryos.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
    return True


def _kilroy_stop(
    binary: Path, logs_root: Path, env: Mapping[str, str], grace: float
) -> tuple[str | None, str | None]:
    """Kilroy's own stop: ``(method, None)`` when it stopped the run, ``(None, why)`` if not."""
    argv = [str(binary), "attractor", "stop", "--logs-root", str(logs_root)]
    argv += ["--grace-ms", str(int(grace * 1000)), "--force"]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=dict(env),
            cwd=logs_root,
            stdin=subprocess.DEVNULL,
            timeout=grace + 15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if proc.returncode != 0:
        return None, proc.stderr.strip() or f"exit {proc.returncode}"
    method = "forced" if "stopped=forced" in proc.stdout else "graceful"
    return method, None


def _signal_stop(pid: int, grace: float) -> str:
    """SIGTERM the Kilroy pid, SIGKILL its process group after the grace."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "signal"
    if _wait_gone(pid, grace):
        return "signal"
    signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 2.0)
    return "signal_forced"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
