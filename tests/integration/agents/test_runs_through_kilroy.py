"""A candidate built by a real coding-agent CLI through Kilroy's ``real`` profile.

Factory OS's runner (``BuildWorkload``) runs the real Kilroy with a product whose
engine names the provider, a gateway (the scripted ModelEndpoint, offline) and the
variable holding the key; the real ``codex`` or ``claude`` (from ``make agents``) does
the scripted task. The endpoint records the prompts: the Run's goal (with the earlier
iteration's feedback) must be in them, whatever the pipeline file's own goal says,
and the change must land on the candidate's branch after the pipeline's test stage.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from agent_clis import CLAUDE, CODEX, DUMMY_KEY, AgentCLI
from model_endpoint import ModelEndpoint, coding_script

from factoryos.errors import ToolMissingError
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.models.agents import AgentChoice, Credential, Provider
from factoryos.runner.build import BuildWorkload
from factoryos.settings import Settings
from factoryos.workloads import WorkloadSpec, WorkloadStatus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
OLD, NEW = '    return "hello"\n', '    return "hello, world"\n'
GOAL = (
    "Make greet() say 'hello, world' (goal-5d2a)\n\nFeedback from earlier attempts (fix these):"
    "\n- iteration 1: holdout scenario greets-world failed"
)
PIPELINE = """digraph p {
  graph [goal="Keep it working and shippable", default_max_retry="0"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  implement [shape=box,
             prompt="$goal\\n\\nWhen done, write your outcome to $KILROY_STAGE_STATUS_PATH."]
  verify [shape=parallelogram, tool_command="sh run_tests.sh"]
  fail_sink [shape=parallelogram, tool_command="exit 1"]
  start -> implement
  implement -> verify
  implement -> fail_sink [condition="outcome!=success"]
  verify -> exit
  verify -> fail_sink [condition="outcome!=success"]
}
"""


def product_repo(path: Path) -> Path:
    path.mkdir()
    (path / "greet.py").write_text(f"def greet():\n{OLD}")
    (path / "run_tests.sh").write_text(
        "#!/bin/sh\npython3 -c 'import greet; assert greet.greet() == \"hello, world\"'\n"
    )
    (path / "pipeline.dot").write_text(PIPELINE)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return path


def kilroy(home: Path) -> Kilroy:
    settings = Settings(home=home, tools_dir=TOOLS, search_path=os.environ.get("PATH", ""))
    try:
        binary = find_kilroy(settings, os.environ)
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return Kilroy(binary, Settings(home=home, kilroy_binary=binary.path, tools_dir=TOOLS), env)


@pytest.mark.parametrize("cli", [CODEX, CLAUDE], ids=lambda c: c.name)
def test_a_real_cli_builds_the_candidate_from_the_runs_goal(cli: AgentCLI, tmp_path: Path) -> None:
    if cli.executable() is None:
        pytest.skip(f"{cli.name} is not installed (run `make agents`; it needs Node.js >= 20)")
    user_home = tmp_path / "user"
    user_home.mkdir()
    script = coding_script(
        "greet.py", OLD, NEW, "sh run_tests.sh", write_status=True, match="goal-5d2a"
    )
    with ModelEndpoint(script) as endpoint:
        openai = cli is CODEX
        agent = AgentChoice(
            provider=Provider.OPENAI if openai else Provider.ANTHROPIC,
            model="gpt-5.4" if openai else "claude-sonnet-4.5",
            base_url=endpoint.base_url + ("/v1" if openai else ""),
        )
        spec = WorkloadSpec(
            name="r-c0-1", namespace="ns", product="p", run="r", candidate=0, attempt=1,
            run_dir=tmp_path / "runs" / "ns" / "r", repo_path=product_repo(tmp_path / "product"),
            goal=GOAL, agent=agent, credential=Credential(env="TEAM_LLM_KEY"),
        )  # fmt: skip
        env = {"PATH": os.environ["PATH"], "HOME": str(user_home), "TEAM_LLM_KEY": DUMMY_KEY}
        result = BuildWorkload(spec, kilroy(tmp_path / "factory"), env).run()

    logs = spec.layout.logs_root(0)
    assert result.status is WorkloadStatus.SUCCEEDED, (result, _tail(logs / "implement"))
    assert endpoint.received(GOAL), "the Run's goal and feedback never reached the model"
    assert not endpoint.received("Keep it working and shippable")
    branch = result.run_branch or ""
    shown = subprocess.run(["git", "-C", str(spec.layout.repo(0)), "show", f"{branch}:greet.py"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert shown.stdout == f"def greet():\n{NEW}"
    # The key reached the CLI under the provider's own name, the value never a file.
    assert DUMMY_KEY not in (spec.layout.candidate(0) / "run_config.json").read_text()
    keep = os.environ.get("FACTORYOS_AGENT_TRANSCRIPTS")  # docs/agent-transcripts.md
    if keep:
        invocation = (logs / "implement" / "cli_invocation.json").read_text()
        stdout = (logs / "implement" / "stdout.log").read_text()
        Path(keep, f"{cli.name}.txt").write_text(f"{invocation}\n---\n{stdout}")


def _tail(stage: Path) -> str:
    parts = []
    for name in ("stderr.log", "stdout.log", "status.json"):
        path = stage / name
        if path.is_file():
            parts.append(f"--- {name}\n{path.read_text()[-3000:]}")
    return "\n".join(parts)
