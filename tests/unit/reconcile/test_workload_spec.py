"""``workload_spec``: the runner workload for one candidate attempt."""

from __future__ import annotations

from pathlib import Path

from builders import product, run

from factoryos.models import Product, parse_as
from factoryos.reconcile import StartEvaluation, evaluation_spec, workload_spec


def test_names_paths_and_the_pipeline_come_from_the_run_and_product() -> None:
    spec = workload_spec(run(pipeline="other.dot"), product(), 2, 3, Path("/home/runs"))
    assert spec.name == "r-c2-3"
    assert (spec.candidate, spec.attempt) == (2, 3)
    assert spec.run_dir == Path("/home/runs/default/r")
    assert spec.branch_prefix == "factory/r" and spec.run_id == "c2"
    assert spec.pipeline == "other.dot" and spec.repo_path == Path("/r")
    assert workload_spec(run(), product(), 0, 1, Path("/h")).pipeline == "pipeline.dot"


def test_the_run_pipeline_overrides_the_products() -> None:
    p = product(pipeline="factory/main.dot")
    assert workload_spec(run(), p, 0, 1, Path("/h")).pipeline == "factory/main.dot"
    assert workload_spec(run(pipeline="mine.dot"), p, 0, 1, Path("/h")).pipeline == "mine.dot"


def test_every_attempt_has_its_own_name_and_the_same_branch_prefix() -> None:
    first = workload_spec(run("nightly"), product(), 1, 1, Path("/h"))
    resumed = workload_spec(run("nightly"), product(), 1, 2, Path("/h"))
    assert (first.name, resumed.name) == ("nightly-c1-1", "nightly-c1-2")
    assert first.branch_prefix == resumed.branch_prefix == "factory/nightly"
    assert first.run_dir == resumed.run_dir


def test_identity_goal_and_branch() -> None:
    r = run("r", goal="make it fast")
    r.metadata.namespace = "team"
    spec = workload_spec(r, product("shop", branch="develop"), 0, 1, Path("/h"))
    assert (spec.namespace, spec.product, spec.run) == ("team", "shop", "r")
    assert spec.goal == "make it fast" and spec.branch == "develop"
    assert spec.run_dir == Path("/h/team/r")


def test_engine_settings_are_passed_on() -> None:
    p = product(
        engine={
            "agentProfile": "test_shim",
            "agentExecutable": "/bin/fake-agent",
            "stageTimeoutSeconds": 60,
            "passEnv": ["API_KEY"],
        }
    )
    spec = workload_spec(run(), p, 0, 1, Path("/h"))
    assert spec.agent_profile == "test_shim"
    assert spec.agent_executable == Path("/bin/fake-agent")
    assert spec.stage_timeout_seconds == 60 and spec.pass_env == ["API_KEY"]
    default = workload_spec(run(), product(), 0, 1, Path("/h"))
    assert default.agent_profile == "real" and default.agent_executable is None


def test_a_remote_repository_is_cloned_from_its_url() -> None:
    remote = parse_as(
        Product,
        {"metadata": {"name": "p"}, "spec": {"repo": {"url": "https://example.com/p.git"}}},
    )
    spec = workload_spec(run(), remote, 0, 1, Path("/h"))
    assert spec.repo_path is None and spec.repo_url == "https://example.com/p.git"


def test_an_evaluation_carries_everything_the_product_says_about_judging() -> None:
    p = product(
        holdouts={"path": "/secret/holdouts"},
        service={"command": "uvicorn app:app --port $PORT", "readyPath": "/health"},
        acceptance={"target": 0.95, "alpha": 0.01},
        verifiers={"unit": [{"name": "tests", "command": "pytest -q"}]},
    )
    spec = evaluation_spec(run(maxIterations=4), p, StartEvaluation(2, 1, (4, 6)), Path("/h"))
    plan = spec.evaluation
    assert spec.name == "r-e2-1" and spec.kind.value == "evaluate" and plan is not None
    assert plan.iteration == 2 and plan.candidates == [4, 6] and plan.max_iterations == 4
    assert plan.holdouts == Path("/secret/holdouts") and plan.merge_into == Path("/r")
    assert plan.service is not None and plan.service.ready_path == "/health"
    assert plan.acceptance.target == 0.95 and plan.verifiers.unit[0].name == "tests"


def test_feedback_from_earlier_iterations_reaches_the_goal() -> None:
    spec = workload_spec(run(), product(), 4, 1, Path("/h"), ("iteration 1: c1 failed s3",))
    assert spec.goal.startswith("g\n\nFeedback from earlier attempts")
    assert spec.goal.endswith("- iteration 1: c1 failed s3")


def test_the_products_isolation_is_passed_on_and_the_sandbox_is_the_launchers_to_set() -> None:
    spec = workload_spec(run(), product(isolation="required"), 0, 1, Path("/h"))
    assert spec.isolation.value == "required" and spec.sandbox is False
    assert workload_spec(run(), product(), 0, 1, Path("/h")).isolation.value == "preferred"
