"""The smoke product (examples/products/smoke) run by ``sf pipeline run`` over real Kilroy.

The product's own tests fail until the pipeline's change (the health feature) is
made; the pipeline makes it with the scripted agent, runs those tests and does
the deploy dry run, and leaves the change and deploy-plan.json on the run branch.
A broken fly.toml fails the run and no deploy plan is produced.

(Named test_smoke_pipeline.py: tests/integration/controlplane/test_smoke_product.py
already exists and these folders are not packages, so the basenames must differ.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kilroy_support import ROOT, SCRIPTED_AGENT, git

from factoryos.events import validate_events
from factoryos.events.log import iter_lines

pytestmark = pytest.mark.integration

SMOKE = ROOT / "examples" / "products" / "smoke"
SF = [sys.executable, "-m", "factoryos.cli.app"]
HEALTH_TEST = "tests/test_health.py::test_health_endpoint_reports_ok"
LEFTOVERS = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".ruff_cache", "deploy-plan.json"
)


def smoke_repo(
    dest: Path, *, edit: dict[str, tuple[str, str]] | None = None, drop: tuple[str, ...] = ()
) -> Path:
    """A copy of the product as its own git repository (one commit), optionally altered first."""
    shutil.copytree(SMOKE, dest, ignore=LEFTOVERS)
    for name, (old, new) in (edit or {}).items():
        text = (dest / name).read_text()
        assert old in text, f"{name} no longer contains {old!r}"
        (dest / name).write_text(text.replace(old, new))
    for name in drop:
        (dest / name).unlink()
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    git(dest, "add", "-A")
    identity = ["-c", "user.name=test", "-c", "user.email=test@factoryos.invalid"]
    git(dest, *identity, "commit", "-qm", "smoke product")
    return dest


def product_tests(repo: Path) -> dict[str, str]:
    """Run the product's tests as its pipeline does; ``{nodeid: "passed" | "failed"}``."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes = {}
    # the -rA summary lines: "PASSED <nodeid>", "FAILED <nodeid> - <message>"
    for line in done.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in {"PASSED", "FAILED", "ERROR"} and rest:
            outcomes[rest.split(" - ")[0]] = "passed" if word == "PASSED" else "failed"
    assert outcomes, done.stdout + done.stderr
    return outcomes


def run_pipeline(env: dict[str, str], repo: Path, run_id: str) -> subprocess.CompletedProcess[str]:
    """``sf pipeline run`` on the product's own pipeline, with the venv's bin first on PATH."""
    venv_bin = str(Path(sys.executable).parent)  # not resolved: the venv's python is a link
    env = {**env, "PATH": os.pathsep.join(filter(None, [venv_bin, env.get("PATH")]))}
    return subprocess.run(
        [*SF, "pipeline", "run", str(repo / "pipeline.dot"), "--workspace", str(repo),
         "--run-id", run_id, "--product", "smoke", "--agent-profile", "test_shim",
         "--agent-executable", str(SCRIPTED_AGENT), "-o", "json"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def completed_stages(events_file: Path) -> list[tuple[str, str]]:
    events = list(iter_lines(events_file))
    assert validate_events(events) == []
    return [
        (e["subject"], e["data"]["status"])
        for e in events
        if e["type"] == "dev.factoryos.stage.completed"
    ]


@pytest.mark.slow
def test_the_health_test_fails_until_the_feature_is_switched_on(tmp_path: Path) -> None:
    repo = smoke_repo(tmp_path / "smoke")
    before = product_tests(repo)
    assert before[HEALTH_TEST] == "failed"
    others = {k: v for k, v in before.items() if k != HEALTH_TEST}
    assert len(others) >= 4 and set(others.values()) == {"passed"}, before

    with (repo / "features.txt").open("a") as features:  # what the agent's @append does
        features.write("health\n")
    after = product_tests(repo)
    assert set(after) == set(before)
    assert set(after.values()) == {"passed"}, after


def test_the_pipeline_implements_tests_and_plans_the_deploy(
    tmp_path: Path, factory_env: dict[str, str]
) -> None:
    repo = smoke_repo(tmp_path / "smoke")
    result = run_pipeline(factory_env, repo, "smoke-ok")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"]["status"] == "success"
    stages = completed_stages(Path(report["events"]))
    assert [s for s in stages if s[0] in {"implement", "test", "deploy_dryrun"}] == [
        ("implement", "success"),
        ("test", "success"),
        ("deploy_dryrun", "success"),
    ]

    branch = report["run_branch"]
    features = git(repo, "show", f"{branch}:features.txt")
    assert "health" in features.split()
    implement = [
        line.split()[0]
        for line in git(repo, "log", "--format=%H %s", branch).splitlines()
        if "implement (success)" in line
    ]
    assert len(implement) == 1
    assert git(repo, "show", "--name-only", "--format=", implement[0]).split() == ["features.txt"]

    plan = json.loads(git(repo, "show", f"{branch}:deploy-plan.json"))
    assert plan["app"] == "factoryos-smoke" and plan["region"] == "ams"
    assert plan["internal_port"] == 8080 and plan["dry_run"] is True
    shipped = {f["path"]: f for f in plan["files"]}
    assert {"app/main.py", "requirements.txt", "Dockerfile", "deploy/fly.toml"} <= set(shipped)
    # the plan describes the changed tree: the dry run ran after the agent's change
    assert shipped["features.txt"]["sha256"] == hashlib.sha256(features.encode()).hexdigest()

    assert git(repo, "status", "--porcelain") == "", "the product checkout is left alone"
    assert "health" not in (repo / "features.txt").read_text().split()


@pytest.mark.parametrize(
    ("drop", "failed_at"),
    [
        pytest.param(("tests/test_dry_run.py",), "deploy_dryrun", id="caught-by-the-dry-run"),
        pytest.param((), "test", id="caught-first-by-the-products-own-dry-run-test"),
    ],
)
def test_a_broken_fly_toml_fails_the_run_without_a_plan(
    tmp_path: Path, factory_env: dict[str, str], drop: tuple[str, ...], failed_at: str
) -> None:
    repo = smoke_repo(
        tmp_path / "smoke",
        edit={"deploy/fly.toml": ("internal_port = 8080", "internal_port = 9090")},
        drop=drop,
    )
    result = run_pipeline(factory_env, repo, "smoke-broken")

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"]["status"] == "fail"
    assert report["outcome"]["failed_node"] == failed_at
    stages = dict(completed_stages(Path(report["events"])))
    assert stages["implement"] == "success"
    assert stages[failed_at] == "fail"
    if failed_at == "deploy_dryrun":
        assert stages["test"] == "success"
        problems = (Path(report["logs_root"]) / "deploy_dryrun" / "stderr.log").read_text()
        assert "fly.toml has internal_port 9090" in problems
    else:
        assert "deploy_dryrun" not in stages
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", f"{report['run_branch']}:deploy-plan.json"],
        capture_output=True,
        check=False,
    )
    assert shown.returncode != 0, "no deploy plan from a broken configuration"
