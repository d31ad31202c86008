"""``process.json``: the record of a local runner process (its pid and start time).

Whoever starts the process writes it: the fork server (``launch.forkserver``) right
after each fork, before it answers, and ``LocalProcessLauncher`` for a runner
started as a fresh process. The launcher reads it to see whether the runner still
runs, and a restarted control plane adopts the runner through it (a reused pid
never matches the start time).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from factoryos.kilroy.procs import proc_stat


def write_process_record(path: Path, pid: int) -> None:
    """Record process ``pid`` at ``path``, whole or not at all."""
    stat = proc_stat(pid)
    record = {
        "pid": pid,
        "startTicks": stat.start_ticks if stat else 0,
        "startedAt": datetime.now(UTC).isoformat(),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record) + "\n")
    tmp.replace(path)
