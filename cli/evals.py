"""``sf eval plan|bound``: the acceptance gate's arithmetic, for planning and checking by hand.

``plan`` prints how many acceptance scenarios a target needs (all passing, and
with 1..N failures allowed); ``bound`` prints the Clopper-Pearson lower bound
of a result and the gate's decision, and exits 0 only when it accepts. The
work is in ``factoryos.evals.statistics``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit, table
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
