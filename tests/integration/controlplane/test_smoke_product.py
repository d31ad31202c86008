"""The smoke product (examples/products/smoke) end to end through the embedded factory.

(tests/integration/products/test_smoke_pipeline.py runs the same product through
`sf pipeline run` and checks its own tests before and after the change.) The run
implements the change with the scripted agent, tests it, and leaves a deploy
plan on the run branch; a broken deploy configuration fails the run (the product's own
test of its dry run catches it first) and no deploy plan is produced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from factory_support import Factory
from kilroy_support import SCRIPTED_AGENT, git
from test_controlplane_runs import _phase

from factoryos.models import RunPhase, StageState

#: Slow, 5-6 s a test (the smoke product end to end): not in `make test-fast`.
pytestmark = pytest.mark.slow

SMOKE = Path(__file__).resolve().parents[3] / "examples" / "products" / "smoke"


def _smoke_repo(factory: Factory, name: str = "smoke") -> Path:
    repo = factory.root / "repos" / name
    shutil.copytree(SMOKE, repo, ignore=shutil.ignore_patterns("__pycache__", "deploy-plan.json"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "smoke"], check=True, env=factory.env)
    return repo


def _product(factory: Factory, repo: Path, name: str = "smoke") -> None:
    factory.sf(
        "product", "add", name, "--repo", str(repo),
        "--agent-profile", "test_shim", "--agent-executable", str(SCRIPTED_AGENT),
    )  # fmt: skip


def test_the_factory_implements_tests_and_plans_the_deploy(factory: Factory) -> None:
    repo = _smoke_repo(factory)
    _product(factory, repo)
    factory.up()

    factory.sf("run", "start", "smoke", "--goal", "health endpoint", "--name", "smoke-1", "--wait")

    run = factory.wait_run("smoke-1", _phase(RunPhase.SUCCEEDED))
    stages = {s.name: s.status for s in run.status.stages}
    assert stages["implement"] == stages["test"] == stages["deploy_dryrun"] == StageState.SUCCEEDED
    clone, branch = factory.run_dir("smoke-1").repo(0), "factory/smoke-1/c0"
    assert "health" in git(clone, "show", f"{branch}:features.txt").split()
    plan = json.loads(git(clone, "show", f"{branch}:deploy-plan.json"))
    assert plan["app"] == "factoryos-smoke" and plan["dry_run"] is True
    assert any(f["path"] == "app/main.py" for f in plan["files"])
    assert git(repo, "status", "--porcelain") == "", "the product repository is never touched"
    assert "health" not in (repo / "features.txt").read_text().split()


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [("deploy/fly.toml", "internal_port = 8080", "internal_port = 9090")],
)
def test_a_broken_deploy_configuration_fails_the_run_without_a_plan(
    factory: Factory, file: str, old: str, new: str
) -> None:
    repo = _smoke_repo(factory, "broken")
    (repo / file).write_text((repo / file).read_text().replace(old, new))
    git(repo, "commit", "-qam", "break the deploy config")
    _product(factory, repo, "broken")
    factory.up()

    done = factory.sf(
        "run", "start", "broken", "--goal", "g", "--name", "broken-1", "--wait", check=False
    )

    assert done.returncode == 1
    run = factory.wait_run("broken-1", _phase(RunPhase.FAILED))
    stages = {s.name: s for s in run.status.stages}
    assert stages["test"].status == StageState.FAILED
    assert "deploy_dryrun" not in stages
    assert {c.type: c.status.value for c in run.status.conditions}["Stalled"] == "True"
    assert "c0 failed" in (run.status.message or "")
    clone = factory.run_dir("broken-1").repo(0)
    shown = subprocess.run(
        ["git", "-C", str(clone), "show", "factory/broken-1/c0:deploy-plan.json"],
        capture_output=True,
    )
    assert shown.returncode != 0
