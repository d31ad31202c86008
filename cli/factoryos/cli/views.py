"""The text ``sf run list``, ``sf run status`` and ``sf product list`` print, from plain data.

Each view renders the resources' JSON form (``dump_resource``: camelCase keys,
unset optionals left out, defaults filled in) rather than their models, so
that the Typer commands in ``factoryos.cli.run``/``product`` and the
read-only shortcut in ``factoryos.cli.readonly`` (which reads the stored JSON
and never loads pydantic) print through the same code. A key a view indexes
(``data["spec"]["desiredState"]``) is one every dump carries; a row without
it raises ``KeyError``, on which the shortcut hands over to the full command.

Pure functions of the standard library only: importing this module must stay
cheap (``tests/unit/cli/test_import_sets.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

#: How a view turns a run's ``status.evaluation`` into one line (``Evaluation.describe``).
GateLine = Callable[[Mapping[str, Any]], str]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Rows in aligned columns under upper-case headers, as kubectl prints them."""
    cells = [[h.upper() for h in headers], *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def age(then: datetime | None, now: datetime | None = None) -> str:
    """``3s``, ``5m``, ``2h``, ``4d``: how long ago, kubectl style."""
    if then is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def timestamp(value: str | None) -> datetime | None:
    """A dumped datetime (``2026-12-04T10:00:00Z``) back as an aware ``datetime``."""
    return None if value is None else datetime.fromisoformat(value)


def newest_first(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs sorted newest first (stable; no creation time counts as the oldest)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(
        runs,
        key=lambda r: timestamp(r["metadata"].get("creationTimestamp")) or oldest,
        reverse=True,
    )


def runs_table(runs: Sequence[Mapping[str, Any]], namespaces: bool = False) -> str:
    """``sf run list``: one row per run, with its namespace under ``-A``."""
    if not runs:
        return "No runs. Start one with `sf run start PRODUCT --goal TEXT`."
    rows = [
        [
            *([r["metadata"]["namespace"]] if namespaces else []),
            r["metadata"]["name"],
            r["spec"]["productRef"]["name"],
            r["status"].get("phase") or "-",
            r["spec"]["desiredState"],
            _stage_summary(r["status"]["stages"]),
            age(timestamp(r["metadata"].get("creationTimestamp"))),
        ]
        for r in runs
    ]
    headers = ["name", "product", "phase", "desired", "stages", "age"]
    return table(["namespace", *headers] if namespaces else headers, rows)


def _stage_summary(stages: Sequence[Mapping[str, Any]]) -> str:
    done = sum(1 for s in stages if s["status"] in {"Succeeded", "Skipped"})
    return f"{done}/{len(stages)}" if stages else "-"


def status_text(run: Mapping[str, Any], gate: GateLine) -> str:
    """``sf run status``: phase, conditions, candidates, the gate and the stages table."""
    meta, spec, st = run["metadata"], run["spec"], run["status"]
    desired = spec["desiredState"]
    lines = [
        f"Run:      {meta['name']}",
        f"Product:  {spec['productRef']['name']}",
        f"Goal:     {spec['goal']}",
        f"Phase:    {st.get('phase') or 'Pending (not reconciled yet: is `sf up` running?)'}"
        + (f" (desired: {desired})" if desired != "Running" else ""),
    ]
    if st.get("message"):
        lines.append(f"Message:  {st['message']}")
    start = timestamp(st.get("startTime"))
    if start:
        end = timestamp(st.get("completionTime")) or datetime.now(start.tzinfo)
        lines.append(f"Duration: {_seconds((end - start).total_seconds())}")
    if st["conditions"]:
        lines.append("Conditions:")
        conditions = [
            [c["type"], c["status"], c["reason"], age(timestamp(c.get("lastTransitionTime")))]
            for c in st["conditions"]
        ]
        lines.append(_indent(table(["type", "status", "reason", "since"], conditions)))
    if st["candidates"]:
        lines.append(f"Candidates (iteration {st.get('iteration') or 1}):")
        rows = []
        for c in st["candidates"]:
            screen = "-"
            if c["verifiers"]:
                failed = [v for v in c["verifiers"] if not v["passed"]]
                screen = f"failed {failed[0]['kind']}/{failed[0]['name']}" if failed else "passed"
            score = f"{c.get('passes')}/{c['trials']}" if c.get("trials") else "-"
            rows.append([f"c{c['index']}", c["phase"], screen, score, c["branch"]])
        lines.append(_indent(table(["cand", "phase", "screen", "selection", "branch"], rows)))
    if st.get("evaluation") is not None:
        lines.append(f"Gate:     {gate(st['evaluation'])}")
    if st["stages"]:
        lines.append("Stages:")
        rows = []
        for s in st["stages"]:
            took = "-"
            began, ended = timestamp(s.get("startTime")), timestamp(s.get("completionTime"))
            if began and ended:
                took = _seconds((ended - began).total_seconds())
            most = s.get("maxAttempts")
            attempt = f"{s['attempt']}/{most}" if most else str(s["attempt"])
            rows.append(
                [
                    f"c{s['candidate']}",
                    s["name"],
                    s["status"],
                    attempt,
                    took,
                    s.get("failureReason") or "",
                ]
            )
        lines.append(_indent(table(["cand", "stage", "status", "attempt", "took", "reason"], rows)))
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}m"


def products_table(products: Sequence[Mapping[str, Any]]) -> str:
    """``sf product list`` (and ``show``'s text): one row per product."""
    if not products:
        return "No products. Add one with `sf product add NAME --repo PATH`."
    rows = [
        [
            p["metadata"]["name"],
            p["status"].get("phase") or "-",
            str(len(p["status"]["activeRuns"])),
            p["status"].get("lastRun") or "-",
            p["spec"]["repo"].get("path") or p["spec"]["repo"].get("url") or "-",
            p["spec"]["branch"],
            age(timestamp(p["metadata"].get("creationTimestamp"))),
        ]
        for p in products
    ]
    return table(["name", "phase", "active", "last run", "repo", "branch", "age"], rows)
