"""What a chaos session checks after each fault, and the table it prints.

For a fault's runs, once they finished (or ``converge_seconds`` passed): did every run
succeed; is every event log gap-free, duplicate-free and valid; which stages started more
than once (only stages the fault interrupted may, and only once more); which processes of
the factory's home outlived them, other than ``sf up`` and its own helpers (5 s grace);
and what ``PRAGMA integrity_check`` says of the store. Called by ``test_chaos.py``.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass

from chaos_faults import Injection
from chaos_session import Session

from factoryos.events import EventType, validate_events
from factoryos.models import Run, RunPhase

#: Seconds a process may take to go after its run finished before it counts as a stray.
STRAY_GRACE_SECONDS = 5.0


@dataclass
class Row:
    fault: str
    converged: str = "-"
    events: str = "-"
    reruns: str = "-"
    strays: str = "-"
    integrity: str = "-"
    message: str = ""
    #: Seconds from the start of the fault's group to its verdict.
    seconds: str = "-"
    ok: bool = True
    skipped: str | None = None

    @classmethod
    def skip(cls, fault: str, reason: str) -> Row:
        return cls(fault, message=f"skipped: {reason}", skipped=reason)


def judge(s: Session, fault: str, injection: Injection) -> Row:
    row = Row(fault, message=injection.message)
    runs = finished(s, injection.runs)
    good = [r for r in runs if r.status.phase is RunPhase.SUCCEEDED]
    row.converged = f"{len(good)}/{len(runs)} succeeded"
    bad = [f"{r.metadata.name}: {r.status.phase} {r.status.message or ''}" for r in runs]
    if len(good) != len(runs):
        row.ok = False
        row.converged += " (" + "; ".join(b for b in bad if "Succeeded" not in b) + ")"
    problems = [p for r in injection.runs for p in _event_problems(s, r)]
    row.events = "ok" if not problems else "; ".join(problems[:2])
    row.ok &= not problems
    reruns, unexpected = _reruns(s, injection)
    row.reruns = ", ".join(reruns) or "none"
    if unexpected:
        row.ok = False
        row.reruns += " UNEXPECTED: " + ", ".join(unexpected)
    strays = _strays(s)
    row.strays = str(len(strays)) + (f" {strays}" if strays else "")
    row.ok &= not strays
    row.integrity = _integrity(s)
    row.ok &= row.integrity == "ok"
    return row


def finished(s: Session, names: list[str]) -> list[Run]:
    """The runs, once all have finished or ``converge_seconds`` passed."""
    deadline = time.monotonic() + s.budget.converge_seconds
    while True:
        runs = [s.factory.run(n) for n in names]
        done = all(r.status.phase is not None and r.status.phase.finished for r in runs)
        if done or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def _event_problems(s: Session, run: str) -> list[str]:
    try:
        events = s.factory.events(run)
    except ValueError as exc:  # a line that is not an event (JSON or schema)
        return [f"{run}: unreadable log: {str(exc).splitlines()[0][:80]}"]
    problems = [f"{run}: {p}" for p in validate_events(s.factory.raw_events(run))[:1]]
    sequences = [e.sequence for e in events]
    if sequences != list(range(1, len(events) + 1)):
        problems.append(f"{run}: sequences are not 1..{len(events)}")
    if len({e.id for e in events}) != len(events):
        problems.append(f"{run}: duplicate event ids")
    return problems


def _reruns(s: Session, injection: Injection) -> tuple[list[str], list[str]]:
    """Stages started more than once: all of them, and those the fault did not allow."""
    seen, unexpected = [], []
    for run in injection.runs:
        try:
            events = s.factory.events(run)
        except ValueError:
            continue  # reported with the events
        starts = Counter(e.subject for e in events if e.type == EventType.STAGE_STARTED)
        allowed = injection.interrupted.get(run, set())
        for stage, count in sorted((k, v) for k, v in starts.items() if k and v > 1):
            seen.append(f"{run}/{stage} x{count}")
            if stage not in allowed or count > 2:
                unexpected.append(f"{run}/{stage} x{count}")
    return seen, unexpected


def _strays(s: Session) -> list[int]:
    deadline = time.monotonic() + STRAY_GRACE_SECONDS
    while (left := s.strays()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _integrity(s: Session) -> str:
    db = sqlite3.connect(f"file:{s.factory.home / 'factoryos.db'}?mode=ro", uri=True)
    try:
        return "; ".join(str(row[0]) for row in db.execute("PRAGMA integrity_check"))
    finally:
        db.close()


COLUMNS = [
    ("fault", "fault"),
    ("converged", "runs converged"),
    ("events", "events gap/dup-free"),
    ("reruns", "stages re-run"),
    ("strays", "stray processes"),
    ("integrity", "store integrity"),
    ("seconds", "s"),
    ("message", "user-facing message"),
]


def table(rows: list[Row], title: str) -> str:
    """The rows as a Markdown table under ``title``."""
    cells = [[label for _, label in COLUMNS]]
    cells += [[str(getattr(row, attr)).replace("|", "/") for attr, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([title, "", line(cells[0]), rule, *(line(c) for c in cells[1:])])
