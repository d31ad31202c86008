"""What a killed ``sf up`` left running, ended by the next ``sf up`` before it starts its own.

``sf up`` records each helper process it starts (the dashboard, the runners'
fork server) in ``$FACTORYOS_HOME/controlplane.children``: one JSON line per
process with its pid and its start time from ``/proc`` (a reused pid never
matches). The helpers end with ``sf up`` however it dies
(``factoryos.parent_death``); this record is the backstop for whatever that
misses (no parent-death signal on this system, a helper that was stopped or
hung). The next ``sf up`` calls ``sweep`` once it holds the control-plane
lock (so the writer is gone) and before it binds the dashboard's port: every
recorded process still running is sent SIGTERM, then SIGKILL after a grace,
and the record starts afresh. Runner workloads are never recorded: they are
meant to outlive ``sf up`` and are adopted by the next one.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from factoryos.kilroy.procs import kill_processes, proc_stat, runs

CHILDREN_FILE = "controlplane.children"


@dataclass(frozen=True)
class Helper:
    """One recorded helper process of a control plane."""

    role: str
    pid: int
    start_ticks: int

    def running(self) -> bool:
        return runs(self.pid, self.start_ticks)


class HelperRecord:
    """The record of one ``$FACTORYOS_HOME``'s control-plane helpers."""

    def __init__(self, home: Path) -> None:
        self.path = home / CHILDREN_FILE

    def add(self, role: str, pid: int) -> None:
        """Record a helper just started (call it as soon as the pid is known)."""
        stat = proc_stat(pid)
        line = {"role": role, "pid": pid, "startTicks": stat.start_ticks if stat else 0}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def sweep(self, grace_seconds: float = 5.0) -> list[Helper]:
        """End every recorded helper still running; returns them. Empties the record."""
        left = [h for h in self._read() if h.running()]
        if left:
            kill_processes(
                lambda: [h.pid for h in left if h.running()], grace_seconds=grace_seconds
            )
        self.clear()
        return left

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _read(self) -> list[Helper]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                raw = json.loads(line)
                found.append(Helper(str(raw["role"]), int(raw["pid"]), int(raw["startTicks"])))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by the kill that left it
        return found
