"""Convergence end to end: K=4 candidates of known quality, verifiers, holdouts, the gate, a merge.

The quality product (examples/products/quality) builds each candidate with a
scripted stand-in for an agent that writes a correct, a partly correct or a
broken greet.py, by candidate index. Everything else is real: ``sf up``,
Kilroy, the evaluation workload, the holdout scenarios in
examples/holdouts/quality (outside the product repo), git.
"""

from __future__ import annotations

import json

import pytest
from factory_support import Factory, quality_product
from kilroy_support import git
from test_controlplane_runs import _phase

from factoryos.evals.gate import gate_design
from factoryos.models import CandidatePhase, Run, RunPhase
from factoryos.workloads import EvaluationReport

#: Slow, 5-9 s a test (four candidates, holdouts and the gate): not in `make test-fast`.
pytestmark = pytest.mark.slow


def _run(factory: Factory, name: str, iterations: int) -> None:
    factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: {name}}}
spec:
  productRef: {{name: quality}}
  goal: Greet people by name
  maxIterations: {iterations}
  selection: {{trialsPerRound: 8}}
""")  # fmt: skip


def _report(factory: Factory, run: str, iteration: int) -> EvaluationReport:
    folder = factory.run_dir(run).path / "evaluations" / f"i{iteration}"
    return EvaluationReport.model_validate_json((folder / "evaluation.json").read_bytes())


def test_the_best_candidate_is_selected_gated_and_merged(factory: Factory) -> None:
    repo, holdouts = quality_product(
        factory, {0: "broken", 1: "partial", 2: "correct", 3: "broken"}
    )
    factory.up()
    _run(factory, "q-1", iterations=2)

    run = factory.wait_run("q-1", _phase(RunPhase.SUCCEEDED), timeout=240)

    phases = {c.index: c.phase for c in run.status.candidates}
    assert phases == {
        0: CandidatePhase.SCREENED_OUT,
        1: CandidatePhase.ELIMINATED,
        2: CandidatePhase.WINNER,
        3: CandidatePhase.SCREENED_OUT,
    }
    c0 = run.status.candidates[0]
    assert c0.screened_out_reason and "typecheck/compile failed" in c0.screened_out_reason
    assert [v.name for v in c0.verifiers] == ["compile"], "the screen stops at the failed kind"
    c1, c2 = run.status.candidates[1], run.status.candidates[2]
    assert (c1.passes, c1.trials) == (6, 8) and (c2.passes, c2.trials) == (8, 8)
    ev = run.status.evaluation
    design = gate_design("sequential", 0.9, 0.05, "one-sided", 0.9, None, iterations=2)
    assert ev is not None and ev.accepted and ev.candidate == 2
    assert ev.k == ev.n == design.earliest_accept, "all passing: accepted at the earliest look"
    assert ev.lower_bound >= 0.9 and ev.alpha == 0.025, "alpha split across 2 iterations"
    assert ev.method.value == "sequential" and ev.instances == 306 and ev.looks_taken
    assert ev.oc and ev.oc[-1].accept == 1.0

    assert "Merge factory/q-1/c2" in git(repo, "log", "-1", "--format=%s", "main")
    assert (repo / "greet.py").read_text().count("Hello, {sys.argv[1]}") == 1
    assert git(repo, "status", "--porcelain") == "", "merged into the clean checkout"
    report = _report(factory, "q-1", 1)
    assert report.merged_commit == git(repo, "rev-parse", "main").strip()
    assert [r.survivors for r in report.rounds] == [[1, 2]]
    assert len(report.trials) == 8 + 8 + ev.n
    assert report.gate is not None and report.gate.design["looks"] == list(design.looks)
    assert len({t["scenario"] for t in report.trials if t["pool"] == "acceptance"}) == ev.n
    assert (factory.run_dir("q-1").path / "evaluations" / "i1" / "report.md").exists()
    types = {
        e.type.rsplit(".", 2)[-2] + "." + e.type.rsplit(".", 1)[-1] for e in factory.events("q-1")
    }
    assert {"verifier.finished", "eval.round", "eval.trial", "gate.decided"} <= types
    for index in range(4):
        probe = git(factory.run_dir("q-1").repo(index), "show", f"factory/q-1/c{index}:probe.txt")
        assert probe == "clean\n", f"c{index} saw the holdouts: {probe}"
    assert str(holdouts) not in (factory.run_dir("q-1").path / "events.ndjson").read_text()


def test_a_weak_best_candidate_is_rejected_and_the_run_iterates(factory: Factory) -> None:
    variants = {0: "broken", 1: "partial", 2: "broken", 3: "partial", 4: "correct"}
    repo, _ = quality_product(factory, {**variants, 5: "broken", 6: "broken", 7: "broken"})
    before = git(repo, "rev-parse", "main")
    factory.up()
    _run(factory, "q-2", iterations=2)

    run = factory.wait_run("q-2", _phase(RunPhase.SUCCEEDED), timeout=300)

    first = _report(factory, "q-2", 1)
    assert first.outcome.value == "rejected" and first.winner == 1
    assert first.gate is not None and first.gate.stopped_early
    assert first.gate.n < first.gate.planned
    assert any("accept-greet-eve" in line for line in first.feedback)
    shown = "\n".join(first.feedback)
    assert "Hello, Eve" not in shown and "stdout_matches" not in shown, "ids, never contents"
    assert run.status.iteration == 2
    assert [c.index for c in run.status.candidates] == [4, 5, 6, 7]
    assert run.status.evaluation is not None and run.status.evaluation.candidate == 4
    spec = json.loads((factory.run_dir("q-2").workloads / "q-2-c4-1" / "spec.json").read_text())
    assert "accept-greet-eve" in spec["goal"], "the next iteration got the feedback"
    assert git(repo, "rev-parse", "main") != before
    assert "Merge factory/q-2/c4" in git(repo, "log", "-1", "--format=%s", "main")


def test_a_product_known_by_url_gets_the_merge_pushed(factory: Factory) -> None:
    bare, _ = quality_product(factory, {0: "partial", 1: "correct"}, by_url=True)
    factory.up()
    _run(factory, "q-3", iterations=1)

    run = factory.wait_run("q-3", _phase(RunPhase.SUCCEEDED), timeout=240)

    assert "Merge factory/q-3/c1" in git(bare, "log", "-1", "--format=%s", "main")
    assert run.status.message and run.status.message.endswith(
        git(bare, "rev-parse", "--short=12", "main").strip()
    )
    assert git(bare, "rev-parse", "factory/q-3/c1").strip()


def test_too_few_distinct_acceptance_instances_stall_the_run_until_the_pool_grows(
    factory: Factory,
) -> None:
    _, holdouts = quality_product(factory, {0: "correct", 1: "correct"})
    generator = holdouts / "acceptance" / "greet-anyone.yaml"
    text = generator.read_text()
    generator.unlink()  # six plain scenarios are left
    factory.up()
    _run(factory, "q-3", iterations=1)

    def stalled(run: Run) -> bool:
        return any(c.type == "Stalled" and c.status.value == "True" for c in run.status.conditions)

    run = factory.wait_run("q-3", stalled, timeout=240)
    condition = next(c for c in run.status.conditions if c.type == "Stalled")
    design = gate_design("sequential", 0.9, 0.05, "one-sided", 0.9, None, iterations=1)
    assert condition.reason == "InsufficientScenarios"
    assert f"has 6 distinct instance(s); the sequential plan may need {design.max_trials}" in (
        condition.message or ""
    )
    assert run.status.phase is RunPhase.EVALUATING and run.status.evaluation is None
    assert "the pool is checked again at" in (condition.message or "")
    report = _report(factory, "q-3", 1)
    assert report.outcome.value == "insufficient-scenarios" and not report.trials

    generator.write_text(text)  # the generator is back: the run goes on by itself
    run = factory.wait_run("q-3", _phase(RunPhase.SUCCEEDED), timeout=240)
    assert run.status.evaluation is not None and run.status.evaluation.accepted
    assert _report(factory, "q-3", 1).outcome.value == "accepted"
