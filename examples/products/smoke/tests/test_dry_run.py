"""The deploy dry run accepts the repository's configuration and refuses broken ones."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    return repo


def _dry_run(repo: Path) -> subprocess.CompletedProcess[str]:
    # Not as the pipeline's stage: this test's plans are not the run's to publish.
    env = {k: v for k, v in os.environ.items() if k != "KILROY_STAGE_LOGS_DIR"}
    return subprocess.run(
        [sys.executable, "deploy/dry_run.py"], cwd=repo, capture_output=True, text=True, env=env
    )


def test_the_repository_passes_and_gets_a_plan(tmp_path: Path) -> None:
    repo = _copy(tmp_path)
    done = _dry_run(repo)
    assert done.returncode == 0, done.stderr
    assert (repo / "deploy-plan.json").is_file()


def test_a_port_mismatch_is_refused_with_one_line_per_problem(tmp_path: Path) -> None:
    repo = _copy(tmp_path)
    fly = repo / "deploy" / "fly.toml"
    fly.write_text(fly.read_text().replace("internal_port = 8080", "internal_port = 9090"))
    done = _dry_run(repo)
    assert done.returncode == 1
    assert "internal_port 9090" in done.stderr
    assert not (repo / "deploy-plan.json").exists()
