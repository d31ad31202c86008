"""``sf eval plan|bound|run``: the acceptance gate, for planning, checking and running by hand.

``plan`` prints the gate's design (the sequential test or the fixed
Clopper-Pearson plan: looks, boundaries, the operating characteristic, expected
trials, and whether a holdout folder holds enough distinct instances), and the
Clopper-Pearson plans by failures allowed; ``bound`` prints the Clopper-Pearson lower bound
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
    method: Annotated[
        str, typer.Option("--method", help="sequential (default) or clopper-pearson.")
    ] = "sequential",
    power: Annotated[
        float, typer.Option("--power", help="Acceptance probability wanted at --power-at.")
    ] = 0.9,
    power_at: Annotated[
        float | None,
        typer.Option("--power-at", help="True rate power is planned at (default 1-(1-target)/4)."),
    ] = None,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="A run's maxIterations (alpha is split).")
    ] = 1,
    holdouts: Annotated[
        Path | None,
        typer.Option("--holdouts", help="Count this folder's distinct acceptance instances."),
    ] = None,
    max_failures: Annotated[
        int, typer.Option("--max-failures", help="Clopper-Pearson plans for up to this many.")
    ] = 3,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The gate's design: looks, boundaries, operating characteristic and expected trials."""
    from factoryos.evals.gate import gate_design, insufficient, oc_rates
    from factoryos.evals.sequential import operating, wald_bound

    if method not in {"sequential", "clopper-pearson"}:
        raise InvalidInputError(f"--method must be sequential or clopper-pearson, got {method!r}")
    d = gate_design(method, target, alpha, sided, power, power_at, iterations)
    oc = [operating(d, r) for r in sorted({*oc_rates(target), d.power_at})]
    at_power = operating(d, d.power_at)
    data: dict[str, Any] = {
        "design": d.to_json(),
        "sided": sided,
        "iterations": iterations,
        "maxTrials": d.max_trials,
        "earliestAccept": d.earliest_accept,
        "oc": [
            {"rate": o.rate, "accept": o.accept_probability, "expectedTrials": o.expected_trials}
            for o in oc
        ],
        "expectedTrialsAtPowerAt": at_power.expected_trials,
        "fixedPlan": {"trials": d.fixed_trials, "failures": d.fixed_failures},
        "waldBound": wald_bound(d.target, d.alpha, d.power, d.power_at),
        "plans": [
            {"failures": f, "trials": min_trials(target, alpha, f, sided)}
            for f in range(max_failures + 1)
        ],
    }
    if holdouts is not None:
        from factoryos.evals.scenarios import Pool, expand, load_scenarios

        found = expand([s for s in load_scenarios(holdouts) if s.pool is Pool.ACCEPTANCE])
        data["instances"] = len(found)
        data["insufficient"] = insufficient(len(found), d, "distinct")
    emit(data, output, _plan_text)


def _plan_text(data: dict[str, Any]) -> str:
    d = data["design"]
    lines = [
        f"{d['method']} gate: target {d['target']}, alpha {d['alpha']:.4g} per iteration "
        f"({data['iterations']} iteration(s), {data['sided']}), power {d['power']} at "
        f"{d['powerAt']}",
        f"looks: {len(d['looks'])}, every {d['looks'][0]} trial(s), at most "
        f"{data['maxTrials']} trials; the earliest acceptance after {data['earliestAccept']}",
        "",
        "boundaries (failures so far; rows where one changes):",
        table(["after trials", "accept if <=", "reject if >"], _boundary_rows(d)),
        "",
        "operating characteristic (exact):",
        table(
            ["true pass rate", "P(accept)", "expected trials"],
            [
                [f"{o['rate']:g}", f"{o['accept']:.4f}", f"{o['expectedTrials']:.1f}"]
                for o in data["oc"]
            ],
        ),
        "",
        f"expected trials at {d['powerAt']}: {data['expectedTrialsAtPowerAt']:.1f} "
        f"({data['expectedTrialsAtPowerAt'] / d['fixedTrials']:.2f}x the fixed plan with the "
        f"same power: {d['fixedTrials']} trials allowing {d['fixedFailures']} failures; "
        f"no test can expect fewer than {data['waldBound']:.0f})",
    ]
    if "instances" in data:
        enough = (
            f"the acceptance pool holds {data['instances']} distinct instances: enough "
            f"(the plan may need {data['maxTrials']})"
        )
        lines.append(data["insufficient"] or enough)
    lines += [
        "",
        f"Clopper-Pearson {data['sided']}: scenarios needed for a lower bound >= "
        f"{d['target']} at alpha {d['alpha']:.4g}",
        table(
            ["failures allowed", "scenarios"],
            [[str(r["failures"]), str(r["trials"])] for r in data["plans"]],
        ),
    ]
    return "\n".join(lines)


def _boundary_rows(d: dict[str, Any]) -> list[list[str]]:
    rows, last = [], None
    for n, acc, rej in zip(d["looks"], d["accept"], d["reject"], strict=True):
        if (acc, rej) != last or n == d["looks"][-1]:
            rows.append([str(n), "-" if acc < 0 else str(acc), str(rej)])
            last = (acc, rej)
    return rows


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
        int,
        typer.Option(
            "--repetitions", "-r", min=1, help="Runs of each instance (flakiness, not more n)."
        ),
    ] = 1,
    trials_kind: Annotated[
        str,
        typer.Option(
            "--trials",
            help="distinct (default: n counts distinct instances) or repeated (n counts "
            "attempts: bounds per-attempt reliability).",
        ),
    ] = "distinct",
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
    from factoryos.evals.scenarios import Pool, expand, load_scenarios

    if pool not in {"selection", "acceptance", "all"}:
        raise InvalidInputError(f"--pool must be selection, acceptance or all, got {pool!r}")
    if trials_kind not in {"distinct", "repeated"}:
        raise InvalidInputError(f"--trials must be distinct or repeated, got {trials_kind!r}")
    scenarios = load_scenarios(holdouts)
    if pool != "all":
        scenarios = [s for s in scenarios if s.pool is Pool(pool)]
    if not scenarios:
        raise InvalidInputError(f"the {pool} pool of {holdouts} is empty")
    scenarios = expand(scenarios)
    service = ServiceSpec(serve, ready_path, start_timeout) if serve else None

    def heard(trial: TrialRecord) -> None:
        mark = "pass" if trial.passed else f"FAIL ({trial.reason})"
        progress(f"{trial.scenario} #{trial.repetition}: {mark} in {trial.seconds:.2f}s")

    trials = Harness(worktree.resolve(), os.environ, service).run(scenarios, repetitions, heard)
    per: dict[str, list[bool]] = {}
    for t in trials:
        per.setdefault(t.scenario, []).append(t.passed)
    flaky = sorted(i for i, r in per.items() if len(set(r)) > 1)
    if trials_kind == "repeated":  # every attempt counts: per-attempt reliability
        passes, counted = sum(t.passed for t in trials), len(trials)
    else:  # an instance counts once, and passes only if every repetition passed
        passes, counted = sum(all(r) for r in per.values()), len(per)
    decision = decide(passes, counted, target, alpha, sided)
    data: dict[str, Any] = {
        "apiVersion": REPORT_VERSION,
        "pool": pool,
        "scenarios": len(scenarios),
        "repetitions": repetitions,
        "trialsKind": trials_kind,
        "passes": passes,
        "trials": counted,
        "attempts": len(trials),
        "flaky": flaky,
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
    counted = (
        f"n = {data['trials']} attempts (repeated: the bound is on per-attempt reliability)"
        if data["trialsKind"] == "repeated"
        else f"n = {data['trials']} distinct instances (repetitions measure flakiness)"
    )
    flaky = f"; flaky: {', '.join(data['flaky'])}" if data["flaky"] else "; none flaky"
    return f"{body}\n{counted}{flaky}\n{verdict}: {data['reason']}"
