"""The Run's goal, and the feedback of earlier iterations, are what the agent's prompt
says, whatever the pipeline file's own ``graph[goal]`` is; the product's agent choice
picks the model of nodes that name none (real Kilroy, scripted agent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kilroy_support import SCRIPTED_AGENT, git

from factoryos.kilroy import Kilroy
from factoryos.models.agents import AgentChoice, ModelOverride
from factoryos.runner.build import BuildWorkload
from factoryos.workloads import WorkloadSpec, WorkloadStatus

pytestmark = pytest.mark.integration

PIPELINE = """digraph p {
  graph [goal="Keep it working and shippable", default_max_retry="0"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  implement [shape=box, prompt="GOAL<<$goal>>\\n@write done.txt ok"]
  review [shape=box, class="review", prompt="@write reviewed.txt ok"]
  pinned [shape=box, llm_provider=openai, llm_model="gpt-5.4", prompt="@write pinned.txt ok"]
  start -> implement -> review -> pinned -> exit
}
"""

GOAL = (
    'Add a "health" endpoint\n\nFeedback from earlier attempts (fix these):\n'
    "- iteration 1: holdout scenario greets-by-name failed"
)


REVIEW = ModelOverride(node_class="review", model="gpt-5.2-codex")


def product_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "pipeline.dot").write_text(PIPELINE)
    git(path, "add", "pipeline.dot")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return path


def test_the_prompt_carries_the_runs_goal_and_feedback(kilroy: Kilroy, tmp_path: Path) -> None:
    spec = WorkloadSpec(
        name="r-c0-1", namespace="ns", product="p", run="r", candidate=0, attempt=1,
        run_dir=tmp_path / "runs" / "ns" / "r", repo_path=product_repo(tmp_path / "product"),
        goal=GOAL, agent_profile="test_shim", agent_executable=SCRIPTED_AGENT,
        agent=AgentChoice(model="gpt-5.2", models=[REVIEW]),
    )  # fmt: skip
    result = BuildWorkload(spec, kilroy, {}).run()
    assert result.status is WorkloadStatus.SUCCEEDED, result

    prompt = (spec.layout.logs_root(0) / "implement" / "prompt.md").read_text()
    assert f"GOAL<<{GOAL}>>" in prompt
    assert "Keep it working" not in prompt
    # The copy with the goal is the candidate's own, never committed on its branch.
    repo = spec.layout.repo(0)
    committed = git(repo, "ls-tree", "-r", "--name-only", result.run_branch or "")
    assert committed.split() == ["done.txt", "pinned.txt", "pipeline.dot", "reviewed.txt"]
    assert git(repo, "status", "--porcelain") == ""
    # The model stylesheet: the engine's model, the class override, and a node that pins its own.
    models = {
        node: cli_model(spec.layout.logs_root(0) / node)
        for node in ("implement", "review", "pinned")
    }
    assert models == {"implement": "gpt-5.2", "review": "gpt-5.2-codex", "pinned": "gpt-5.4"}


def cli_model(stage: Path) -> str:
    argv = json.loads((stage / "cli_invocation.json").read_text())["argv"]
    return str(argv[argv.index("-m") + 1])
