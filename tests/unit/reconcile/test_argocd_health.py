"""The Argo CD health checks (manifests/argocd) read the status our reconcile writes.

The Lua scripts run in a real Lua runtime (lupa), on statuses produced by the
pure reconcile functions, so a change to the conditions breaks this test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import builders
import lupa
import pytest
import yaml

from factoryos.models import DesiredState, RunPhase, dump_resource
from factoryos.reconcile import ProductObservation, reconcile_product, reconcile_run
from factoryos.workloads import WorkloadStatus as W

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = yaml.safe_load((ROOT / "manifests/argocd/argocd-cm-health.yaml").read_text())["data"]


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def table(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: table(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([table(v) for v in value])
        return value

    script = SCRIPTS[f"resource.customizations.health.factoryos.dev_{kind}"]
    result = lua.eval(f"function(obj) {script} end")(table(obj))
    return result["status"], result["message"]


def run_health(run: Any, seen: Any) -> tuple[str, str]:
    run.status = reconcile_run(run, seen).status
    return health("Run", dump_resource(run))


@pytest.mark.parametrize(
    ("phase", "desired", "workloads", "expected"),
    [
        (None, DesiredState.RUNNING, [], "Progressing"),
        (RunPhase.BUILDING, DesiredState.RUNNING, [builders.workload()], "Progressing"),
        (RunPhase.BUILDING, DesiredState.RUNNING, [builders.workload(result=W.SUCCEEDED)],
         "Progressing"),
        (RunPhase.EVALUATING, DesiredState.RUNNING,
         [builders.workload(result=W.SUCCEEDED), builders.evaluation(result=W.SUCCEEDED)],
         "Healthy"),
        (RunPhase.BUILDING, DesiredState.RUNNING,
         [builders.workload(result=W.FAILED, reason="tests failed")], "Degraded"),
        (RunPhase.BUILDING, DesiredState.STOPPED, [builders.workload(result=W.STOPPED)],
         "Suspended"),
    ],
)  # fmt: skip
def test_run_health_follows_its_conditions(
    phase: RunPhase | None, desired: DesiredState, workloads: list[Any], expected: str
) -> None:
    run = builders.run(phase=phase, desired=desired)
    evaluated = any(w.name == "r-e1-1" for w in workloads)
    reports = {1: builders.report()} if evaluated else {}
    status, _ = run_health(run, builders.seen(*workloads, evaluations=reports))
    assert status == expected


def test_a_run_with_no_status_or_an_unseen_spec_is_progressing() -> None:
    run = builders.run()
    assert health("Run", dump_resource(run))[0] == "Progressing"
    run.status = reconcile_run(run, builders.seen(builders.workload(result=W.SUCCEEDED))).status
    run.metadata.generation = 2  # a spec change the controller has not reconciled yet
    assert health("Run", dump_resource(run)) == (
        "Progressing", "the controller has not seen the latest spec yet"
    )  # fmt: skip


def test_product_health() -> None:
    product = builders.product()
    ready = reconcile_product(product, ProductObservation([], None, builders.at(1))).status
    broken = reconcile_product(
        product, ProductObservation([], "repository /r does not exist", builders.at(1))
    ).status
    product.status = ready
    assert health("Product", dump_resource(product))[0] == "Healthy"
    product.status = broken
    assert health("Product", dump_resource(product)) == (
        "Degraded", "repository /r does not exist"
    )  # fmt: skip
