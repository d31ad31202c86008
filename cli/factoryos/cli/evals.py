"""``sf eval plan|bound|run``: the acceptance gate, for planning, checking and running by hand.

``plan`` prints how many acceptance scenarios a target needs (all passing, and
with 1..N failures allowed); ``bound`` prints the Clopper-Pearson lower bound
of a result and the gate's decision, and exits 0 only when it accepts; ``run``
runs a holdout pool against a candidate's checkout through the eval harness
and gates the result. The work is in ``factoryos.evals``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit, progress, table
from factoryos.errors import InvalidInputError
from factoryos.evals import decide, min_trials
from factoryos.evals.statistics import ONE_SIDED, TWO_SIDED

app = typer.Typer(help="Plan and check the statistical acceptance gate.", no_args_is_help=True)

TargetOption = Annotated[
    float, typer.Option("--target", help="Pass rate the lower bound must reach, in (0, 1).")
]
AlphaOption = Annotated[float, typer.Option("--alpha", help="Error level, in (0, 1).")]
SidedOption = Annotated[str, typer.Option("--sided", help=f"{ONE_SIDED} (default) or {TWO_SIDED}.")]


@app.command()
def plan(
    target: TargetOption = 0.98,
    alpha: AlphaOption = 0.05,
    sided: SidedOption = ONE_SIDED,
    max_failures: Annotated[
        int, typer.Option("--max-failures", help="Also plan for up to this many failures.")
    ] = 3,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The fewest acceptance scenarios that can prove the target, by failures allowed."""
    rows = [
        {"failures": f, "trials": min_trials(target, alpha, f, sided)}
        for f in range(max_failures + 1)
    ]
    data = {"target": target, "alpha": alpha, "sided": sided, "plans": rows}
    emit(data, output, _plan_text)


def _plan_text(data: dict[str, Any]) -> str:
    head = (
        f"Clopper-Pearson {data['sided']} at alpha {data['alpha']}: scenarios needed for a "
        f"lower bound >= {data['target']}"
    )
    body = table(
        ["failures allowed", "scenarios"],
        [[str(r["failures"]), str(r["trials"])] for r in data["plans"]],
    )
    return f"{head}\n{body}"


@app.command()
def bound(
    passes: Annotated[int, typer.Option("--passes", "-k", help="Scenarios that passed.")],
    trials: Annotated[int, typer.Option("--trials", "-n", help="Scenarios run.")],
    target: TargetOption = 0.98,
    alpha: AlphaOption = 0.05,
    sided: SidedOption = ONE_SIDED,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The lower bound of a result and the gate's decision (exit 0 accept, 1 reject)."""
    decision = decide(passes, trials, target, alpha, sided)
    data = {
        "passes": passes,
        "trials": trials,
        "alpha": alpha,
        "sided": sided,
        "target": target,
        "lower_bound": decision.lower_bound,
        "accepted": decision.accepted,
        "reason": decision.reason,
    }
    emit(data, output, lambda d: f"{'accept' if d['accepted'] else 'reject'}: {d['reason']}")
    raise typer.Exit(0 if decision.accepted else 1)


#: The version of the evaluation report ``sf eval run --report`` writes.
REPORT_VERSION = "factoryos.dev/eval-report/v1"


@app.command()
def run(
    worktree: Annotated[
        Path, typer.Argument(help="The candidate's checkout.", exists=True, file_okay=False)
    ],
    holdouts: Annotated[
        Path, typer.Option("--holdouts", help="The holdout folder (outside the product repo).")
    ],
    pool: Annotated[
        str, typer.Option("--pool", help="selection, acceptance (default) or all.")
    ] = "acceptance",
    repetitions: Annotated[
        int, typer.Option("--repetitions", "-r", min=1, help="Runs of each scenario.")
    ] = 1,
    serve: Annotated[
        str | None,
        typer.Option(
            "--serve", help="Command that serves the candidate on $PORT (http scenarios)."
        ),
    ] = None,
    ready_path: Annotated[
        str, typer.Option("--ready-path", help="Path that answers once the service is up.")
    ] = "/",
    start_timeout: Annotated[
        float,
        typer.Option("--start-timeout", min=1, help="Seconds the service gets to answer."),
    ] = 60.0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every trial and the decision as JSON.")
    ] = None,
    target: TargetOption = 0.98,
    alpha: AlphaOption = 0.05,
    sided: SidedOption = ONE_SIDED,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run holdout scenarios against a candidate and gate the result (exit 0 accept, 1 reject)."""
    from factoryos.evals.harness import Harness, ServiceSpec, TrialRecord
    from factoryos.evals.scenarios import Pool, load_scenarios

    if pool not in {"selection", "acceptance", "all"}:
        raise InvalidInputError(f"--pool must be selection, acceptance or all, got {pool!r}")
    scenarios = load_scenarios(holdouts)
    if pool != "all":
        scenarios = [s for s in scenarios if s.pool is Pool(pool)]
    if not scenarios:
        raise InvalidInputError(f"the {pool} pool of {holdouts} is empty")
    service = ServiceSpec(serve, ready_path, start_timeout) if serve else None

    def heard(trial: TrialRecord) -> None:
        mark = "pass" if trial.passed else f"FAIL ({trial.reason})"
        progress(f"{trial.scenario} #{trial.repetition}: {mark} in {trial.seconds:.2f}s")

    trials = Harness(worktree.resolve(), os.environ, service).run(scenarios, repetitions, heard)
    passes = sum(t.passed for t in trials)
    decision = decide(passes, len(trials), target, alpha, sided)
    data: dict[str, Any] = {
        "apiVersion": REPORT_VERSION,
        "pool": pool,
        "scenarios": len(scenarios),
        "repetitions": repetitions,
        "passes": passes,
        "trials": len(trials),
        "target": target,
        "alpha": alpha,
        "sided": sided,
        "lower_bound": decision.lower_bound,
        "accepted": decision.accepted,
        "reason": decision.reason,
        "results": [t.to_json() for t in trials],
    }
    if report is not None:
        report.write_text(json.dumps(data, indent=2) + "\n")
    emit(data, output, _run_text)
    raise typer.Exit(0 if decision.accepted else 1)


def _run_text(data: dict[str, Any]) -> str:
    per: dict[str, list[bool]] = {}
    for trial in data["results"]:
        per.setdefault(trial["scenario"], []).append(trial["passed"])
    body = table(
        ["scenario", "passed"], [[s, f"{sum(r)}/{len(r)}"] for s, r in sorted(per.items())]
    )
    verdict = "accept" if data["accepted"] else "reject"
    return f"{body}\n{verdict}: {data['reason']}"
