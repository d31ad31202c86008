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
from agent_clis import CLAUDE, CODEX, DUMMY_KEY, GEMINI, AgentCLI, agent_pipeline
from model_endpoint import ModelEndpoint, coding_script

from factoryos.errors import ToolMissingError
from factoryos.events import EventType, read_events
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.models.agents import KNOWN_MODELS, AgentChoice, Credential, Provider
from factoryos.runner.build import BuildWorkload
from factoryos.settings import Settings
from factoryos.workloads import EVENTS_FILE, WorkloadResult, WorkloadSpec, WorkloadStatus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / ".tools" / "bin"
OLD, NEW = '    return "hello"\n', '    return "hello, world"\n'
GOAL = (
    "Make greet() say 'hello, world' (goal-5d2a)\n\nFeedback from earlier attempts (fix these):"
    "\n- iteration 1: holdout scenario greets-world failed"
)
PIPELINE = agent_pipeline("Keep it working and shippable", "sh run_tests.sh")


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


def build(
    cli: AgentCLI, tmp_path: Path, endpoint: ModelEndpoint, base_url: str | None = None
) -> tuple[WorkloadSpec, WorkloadResult]:
    """One candidate of a Run whose engine names ``cli``'s provider and the endpoint."""
    if cli.executable() is None:
        pytest.skip(f"{cli.name} is not installed (run `make agents`; it needs Node.js >= 20)")
    user_home = tmp_path / "user"
    user_home.mkdir()
    provider = Provider(cli.provider)
    agent = AgentChoice(
        provider=provider,
        model=KNOWN_MODELS[provider][0],
        base_url=(base_url or endpoint.base_url) + ("/v1" if cli is CODEX else ""),
    )
    spec = WorkloadSpec(
        name="r-c0-1", namespace="ns", product="p", run="r", candidate=0, attempt=1,
        run_dir=tmp_path / "runs" / "ns" / "r", repo_path=product_repo(tmp_path / "product"),
        goal=GOAL, agent=agent, credential=Credential(env="TEAM_LLM_KEY"),
    )  # fmt: skip
    env = {"PATH": os.environ["PATH"], "HOME": str(user_home), "TEAM_LLM_KEY": DUMMY_KEY}
    return spec, BuildWorkload(spec, kilroy(tmp_path / "factory"), env).run()


SCRIPT = coding_script(
    "greet.py", OLD, NEW, "sh run_tests.sh", write_status=True, match="goal-5d2a"
)


@pytest.mark.parametrize("cli", [CODEX, CLAUDE, GEMINI], ids=lambda c: c.name)
def test_a_real_cli_builds_the_candidate_from_the_runs_goal(cli: AgentCLI, tmp_path: Path) -> None:
    with ModelEndpoint(SCRIPT) as endpoint:
        spec, result = build(cli, tmp_path, endpoint)

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


def test_a_rate_limit_is_retried_by_the_cli_and_reported(tmp_path: Path) -> None:
    with ModelEndpoint(SCRIPT) as endpoint:
        endpoint.fail_next(429, 429, message="Rate limit reached (marker-429)")
        spec, result = build(CLAUDE, tmp_path, endpoint)
    assert result.status is WorkloadStatus.SUCCEEDED, result
    warnings = [e.data["message"] for e in read_events(spec.run_dir / EVENTS_FILE)
                if e.type == EventType.LOG.value and e.data.get("origin") == "agent"]  # fmt: skip
    assert warnings == ["the agent CLI retried 2 model request(s) (last: 429 rate_limit)"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("500", "API Error: 500 upstream exploded (marker-500)"),
        ("unreachable", "Connection refused"),
    ],
)
def test_a_failing_endpoint_fails_the_stage_with_what_the_cli_said(
    fault: str, message: str, tmp_path: Path
) -> None:
    with ModelEndpoint(SCRIPT) as endpoint:
        endpoint.fail_always(500, "upstream exploded (marker-500)")
        nothing = "http://127.0.0.1:9" if fault == "unreachable" else None  # discard port
        spec, result = build(CLAUDE, tmp_path, endpoint, base_url=nothing)
    assert result.status is WorkloadStatus.FAILED
    assert result.failed_node == "implement"
    assert (result.reason or "").startswith("exit status 1: "), result.reason
    assert message in (result.reason or ""), result.reason
    ended = [e for e in read_events(spec.run_dir / EVENTS_FILE)
             if e.type == EventType.STAGE_COMPLETED.value and e.subject == "implement"]  # fmt: skip
    assert message in ended[-1].data["failure_reason"]
