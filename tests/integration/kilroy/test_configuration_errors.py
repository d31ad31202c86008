"""Kilroy refusing a run's configuration is the run's failure with Kilroy's message, not an
infrastructure error to retry (real Kilroy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kilroy_support import git

from factoryos.kilroy import Kilroy
from factoryos.models.agents import AgentChoice
from factoryos.runner.build import BuildWorkload
from factoryos.workloads import WorkloadSpec, WorkloadStatus

pytestmark = pytest.mark.integration

# A node pins a provider the product's engine does not configure.
PIPELINE = """digraph p {
  graph [goal="g", default_max_retry="0"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  review [shape=box, llm_provider=anthropic, llm_model="claude-sonnet-4.5", prompt="review"]
  start -> review -> exit
}
"""


def test_a_provider_the_engine_does_not_configure_fails_the_run(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    repo = tmp_path / "product"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pipeline.dot").write_text(PIPELINE)
    git(repo, "add", "pipeline.dot")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    spec = WorkloadSpec(
        name="r-c0-1", namespace="ns", product="p", run="r", candidate=0, attempt=1,
        run_dir=tmp_path / "runs" / "ns" / "r", repo_path=repo, goal="g",
        agent=AgentChoice(model="gpt-5.4"),
    )  # fmt: skip
    result = BuildWorkload(spec, kilroy, {"OPENAI_API_KEY": "k"}).run()
    assert result.status is WorkloadStatus.INVALID, result
    assert result.reason is not None
    assert result.reason.startswith("Kilroy refused the run's configuration: ")
    assert "llm.providers.anthropic" in result.reason
