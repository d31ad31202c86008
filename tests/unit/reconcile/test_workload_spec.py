"""``workload_spec``: the runner workload for one candidate attempt."""

from __future__ import annotations

from pathlib import Path

from builders import product, run

from factoryos.models import Product, parse_as
from factoryos.reconcile import workload_spec


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
