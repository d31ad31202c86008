"""What an iteration's evaluation is told to do (``EvaluationPlan``) and what it found.

The plan is part of the evaluation workload's spec (written by the launcher);
the report is ``evaluations/i<n>/evaluation.json`` in the run directory, a
versioned JSON file the evaluation workload writes and the controller folds
into Run status (candidates, scores, the gate). ``report.md`` next to it says
the same for people. Feedback for the next iteration names failed verifiers
and scenario ids only, never what a scenario contains.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryos.models import (
    Acceptance,
    HoldoutSource,
    Selection,
    Service,
    VerifierResult,
    Verifiers,
)

#: Where an evaluation Job finds holdouts mounted from a Secret, ConfigMap or claim.
HOLDOUTS_MOUNT = Path("/holdouts")

REPORT_VERSION = "factoryos.dev/evaluation/v1"
REPORT_FILE = "evaluation.json"
READABLE_FILE = "report.md"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluationPlan(_Frozen):
    """One iteration's evaluation: whom to screen, select among and gate, and how."""

    iteration: int = Field(ge=1)
    candidates: list[int]
    """The candidates whose pipeline succeeded (the others are out already)."""
    verifiers: Verifiers = Field(default_factory=Verifiers)
    holdouts: Path | None = None
    """The holdout folder; None: screen only (no selection pool, no gate, no merge)."""
    holdouts_source: HoldoutSource | None = None
    """The product's holdout source (a cluster launcher mounts a Secret, ConfigMap or claim)."""
    service: Service | None = None
    """How to serve a candidate for http scenarios."""
    selection: Selection = Field(default_factory=Selection)
    acceptance: Acceptance = Field(default_factory=Acceptance)
    max_iterations: int = Field(default=1, ge=1)
    product_branch: str = "main"
    merge_into: Path | None = None
    """The product repository to merge an accepted winner into (a local repository)."""
    push: bool = False
    """The product is known by URL: merge in the winner's clone and push."""


class Outcome(StrEnum):
    """How an iteration's evaluation ended."""

    ACCEPTED = "accepted"
    """The gate accepted the winner and it was merged."""
    REJECTED = "rejected"
    """The gate rejected the winner (or the merge failed): iterate or fail."""
    SCREENED_OUT = "screened-out"
    """No candidate passed the deterministic screen."""
    UNGATED = "ungated"
    """No holdouts: a candidate passed the screen; nothing was gated or merged."""
    MERGE_FAILED = "merge-failed"
    """The gate accepted the winner but merging it failed (a conflict): the run fails."""
    INSUFFICIENT_SCENARIOS = "insufficient-scenarios"
    """The acceptance pool has fewer distinct instances than the plan may need: the run is
    Stalled until the pool grows (generators) or the product declares repeated trials."""


class CandidateReport(_Frozen):
    index: int
    branch: str
    verifiers: list[VerifierResult] = Field(default_factory=list)
    screened_out_reason: str | None = None
    passes: int = 0
    trials: int = 0
    eliminated_in: int | None = None


class RoundReport(_Frozen):
    number: int
    survivors: list[int]
    scenarios: list[str]
    eliminated: list[int]


class GateReport(_Frozen):
    """The gate on the winner: the decision and everything needed to recompute it (the
    design's looks and boundaries here, each trial's outcome in the report's ``trials``)."""

    candidate: int
    planned: int
    """The most trials the plan could need."""
    n: int
    """Trials counted: distinct instances (or attempts, with ``trials_kind`` repeated)."""
    k: int
    lower_bound: float
    target: float
    alpha: float
    """The alpha this iteration spent (the run's alpha split across its iterations)."""
    sided: str
    accepted: bool
    reason: str
    stopped_early: bool = False
    method: str = "clopper-pearson"
    power: float | None = None
    power_at: float | None = None
    looks_taken: int | None = None
    design: dict[str, Any] = Field(default_factory=dict)
    """``Design.to_json``: looks, accept and reject boundaries, the level they were set at."""
    oc: list[tuple[float, float]] = Field(default_factory=list)
    """(true rate, exact acceptance probability): the operating characteristic."""
    instances: int | None = None
    """Distinct instances in the acceptance pool."""
    trials_kind: str = "distinct"
    flaky: int = 0
    """Instances run more than once whose outcomes differed."""


class EvaluationReport(_Frozen):
    """``evaluation.json`` (see the module docstring)."""

    api_version: Literal["factoryos.dev/evaluation/v1"] = Field(
        default="factoryos.dev/evaluation/v1", alias="apiVersion"
    )
    iteration: int
    outcome: Outcome
    message: str
    candidates: list[CandidateReport]
    winner: int | None = None
    rounds: list[RoundReport] = Field(default_factory=list)
    gate: GateReport | None = None
    merged_commit: str | None = None
    feedback: list[str] = Field(default_factory=list)
    trials: list[dict[str, Any]] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPORT_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(by_alias=True, indent=2) + "\n")
        tmp.replace(path)
        (folder / READABLE_FILE).write_text(readable(self))
        return path


def read_report(folder: Path) -> EvaluationReport | None:
    """The report in ``folder``, or None when the evaluation has not written it."""
    try:
        return EvaluationReport.model_validate_json((folder / REPORT_FILE).read_bytes())
    except FileNotFoundError:
        return None


def readable(report: EvaluationReport) -> str:
    """``report.md``: the evaluation for people."""
    lines = [f"# Iteration {report.iteration}: {report.outcome.value}", "", report.message, ""]
    lines += ["| candidate | screen | selection | eliminated in round |", "|---|---|---|---|"]
    for c in report.candidates:
        screen = "passed" if c.screened_out_reason is None else f"out: {c.screened_out_reason}"
        score = f"{c.passes}/{c.trials}" if c.trials else "-"
        lines.append(f"| c{c.index} | {screen} | {score} | {c.eliminated_in or '-'} |")
    if report.gate is not None:
        g = report.gate
        looks = f", {g.looks_taken} look(s)" if g.looks_taken else ""
        lines += [
            "",
            f"Gate on c{g.candidate} ({g.method}): {g.k}/{g.n} acceptance trials passed "
            f"(at most {g.planned}{looks}{', stopped early' if g.stopped_early else ''}; "
            f"{_counted(g)}); {g.sided} lower bound {g.lower_bound:.4f} vs target {g.target} "
            f"at alpha {g.alpha:g}: {'accepted' if g.accepted else 'rejected'}.",
        ]
        if g.oc:
            lines += ["", "| true pass rate | accepted with probability |", "|---|---|"]
            lines += [f"| {rate:g} | {p:.4f} |" for rate, p in g.oc]
    if report.merged_commit:
        lines += ["", f"Merged as {report.merged_commit}."]
    if report.feedback:
        lines += ["", "Feedback for the next iteration:", *[f"- {f}" for f in report.feedback]]
    return "\n".join(lines) + "\n"


def _counted(g: GateReport) -> str:
    """What n counts, in words."""
    if g.trials_kind == "repeated":
        return (
            f"attempts over {g.instances} instance(s), repeated: the bound is on per-attempt "
            f"reliability, {g.flaky} instance(s) flaky"
        )
    return f"each a distinct instance, of {g.instances} in the pool"
