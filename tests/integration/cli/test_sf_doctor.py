"""``sf doctor`` and the local preflight: a product's chosen agent is checked before runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factoryos.launch.processes import LocalProcessLauncher
from factoryos.models.agents import AgentChoice, Credential, Provider
from factoryos.workloads import WorkloadSpec

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SF = [sys.executable, "-m", "factoryos.cli.app"]


def sf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SF, *args], env=env, capture_output=True, text=True, check=False)


def repo(path: Path) -> Path:
    path.mkdir()
    (path / "pipeline.dot").write_text(
        (ROOT / "examples/pipelines/test-shim-agent.dot").read_text()
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "i"], check=True)  # fmt: skip
    return path


def test_doctor_checks_the_machine_and_each_products_agent(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["FACTORYOS_HOME"] = str(tmp_path / "home")
    added = sf(env, "product", "add", "web", "--repo", str(repo(tmp_path / "web")),
               "--provider", "anthropic", "--model", "claude-sonnet-4.5",
               "--credential-env", "TEAM_KEY")  # fmt: skip
    assert added.returncode == 0, added.stderr

    missing = sf(env, "doctor", "web", "-o", "json")
    assert missing.returncode == 1
    rows = {(r["scope"], r["check"]): r for r in json.loads(missing.stdout)}
    assert rows[("web", "anthropic key")]["reason"] == "CredentialMissing"
    assert "TEAM_KEY is not set" in rows[("web", "anthropic key")]["message"]
    assert rows[("machine", "kilroy")]["ok"]
    notifications = rows[("machine", "file notifications")]
    assert notifications["ok"]  # reported, never failed: runners poll past the limit
    assert "fs.inotify.max_user_instances = " in notifications["message"]

    env["TEAM_KEY"] = "sk-dummy"
    done = sf(env, "doctor", "web")
    claude = rows[("web", "claude CLI")]
    assert done.returncode == (0 if claude["ok"] else 1), done.stdout
    assert "anthropic key" in done.stdout and "TEAM_KEY is set" in done.stdout
    assert sf(env, "doctor", "nope").returncode != 0


def test_a_local_run_waits_for_the_agents_key_and_cli(tmp_path: Path) -> None:
    spec = WorkloadSpec(
        name="r-c0-1", namespace="ns", product="p", run="r", candidate=0, attempt=1,
        run_dir=tmp_path / "r", repo_path=tmp_path, goal="g",
        agent=AgentChoice(provider=Provider.ANTHROPIC), credential=Credential(env="TEAM_KEY"),
    )  # fmt: skip
    bare = {"PATH": "/usr/bin:/bin"}
    launcher = LocalProcessLauncher(tmp_path, bare, prewarm=False, tools_dir=tmp_path / "none")
    reason, message = launcher.blocker(spec) or ("", "")
    assert reason == "AgentCliMissing" and "TEAM_KEY is not set" in message
    tools = LocalProcessLauncher(tmp_path, {**bare, "TEAM_KEY": "k"}, prewarm=False,
                                 tools_dir=ROOT / ".tools" / "bin")  # fmt: skip
    if (ROOT / ".tools" / "bin" / "claude").exists():
        assert tools.blocker(spec) is None
    unchosen = spec.model_copy(update={"agent": AgentChoice()})
    assert launcher.blocker(unchosen) is None  # a product that chose no agent runs as before
