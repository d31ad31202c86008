"""A whole Run with a real coding-agent CLI as the builder: goal, feedback, gate, merge.

The embedded factory (``sf up``, a real Kilroy) runs a product whose pipeline has one
agent node, executed by the real ``codex`` or ``claude`` through Kilroy's ``real`` profile against
the scripted ModelEndpoint (offline); the product's verifiers and the quality
example's holdout scenarios judge what it wrote. Iteration 1's agent gets names that
start with a vowel wrong, so the acceptance gate rejects it; iteration 2's prompt
carries that feedback (the failed scenario ids, never their contents), the agent fixes
it, the gate accepts and the winner is merged into ``main``. A revoked key (the
endpoint answers 401) fails the candidate with the provider's message in the Run's
status instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from agent_clis import CLAUDE, CODEX, DUMMY_KEY, AgentCLI, agent_pipeline
from factory_support import QUALITY, QUALITY_HOLDOUTS, Factory
from kilroy_support import git
from model_endpoint import ModelEndpoint, coding_script

from factoryos.models import Run
from factoryos.models.agents import KNOWN_MODELS, Provider

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOAL = "Greet everyone by name, 'Hello, <name>' (greet-7c1e)"
FEEDBACK = "Feedback from earlier attempts"
TODO = 'print("TODO")\n'
VOWELS_WRONG = (
    "import sys\n\nname = sys.argv[1]\n"
    'print(f"Hello, {name}" if name[0] not in "AEIOU" else f"Hi {name}")\n'
)
RIGHT = 'import sys\n\nprint(f"Hello, {sys.argv[1]}")\n'
PIPELINE = agent_pipeline("Keep greeter working")


def greeter(factory: Factory, base_url: str, cli: AgentCLI = CODEX) -> Path:
    """The quality example's greet.py and check, an agent pipeline, ``cli``'s engine."""
    repo = factory.root / "repos" / "greeter"
    repo.mkdir(parents=True)
    for name in ("greet.py", "check.py"):
        (repo / name).write_text((QUALITY / name).read_text())
    (repo / "pipeline.dot").write_text(PIPELINE)
    (repo / ".gitignore").write_text("status.json\n__pycache__/\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-qm", "greeter"], check=True, env=factory.env
    )
    factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: greeter}}
spec:
  repo: {{path: {repo}}}
  verifiers:
    typecheck: [{{name: compile, command: "python3 -m py_compile greet.py"}}]
    unit: [{{name: check, command: "python3 check.py"}}]
  holdouts: {{path: {QUALITY_HOLDOUTS}}}
  acceptance: {{target: 0.9, alpha: 0.05}}
  engine:
    provider: {cli.provider}
    model: {KNOWN_MODELS[Provider(cli.provider)][0]}
    baseUrl: {base_url}{"/v1" if cli is CODEX else ""}
    credential: {{env: TEAM_LLM_KEY}}
""")  # fmt: skip
    return repo


def finished(run: Run) -> bool:
    return run.status.phase in ("Succeeded", "Failed")


@pytest.mark.parametrize("cli", [CODEX, CLAUDE], ids=lambda c: c.name)
def test_the_agent_builds_iterates_on_feedback_and_its_winner_is_merged(
    cli: AgentCLI, factory: Factory
) -> None:
    if cli.executable() is None:
        pytest.skip(f"{cli.name} is not installed (run `make agents`; it needs Node.js >= 20)")
    first = coding_script("greet.py", TODO, VOWELS_WRONG, "python3 check.py", write_status=True,
                          match=GOAL)  # fmt: skip
    fixed = coding_script("greet.py", TODO, RIGHT, "python3 check.py", write_status=True,
                          match=FEEDBACK)  # fmt: skip
    with ModelEndpoint(fixed, first) as endpoint:
        repo = greeter(factory, endpoint.base_url, cli)
        factory.env["TEAM_LLM_KEY"] = DUMMY_KEY
        factory.up()
        factory.sf("run", "start", "greeter", "--goal", GOAL, "--name", "greet-1")
        run = factory.wait_run("greet-1", finished, timeout=300)

    assert run.status.phase == "Succeeded", run.status.model_dump_json(indent=1)[-3000:]
    assert run.status.iteration == 2
    isolated = {c.type: c for c in run.status.conditions}["Isolated"]
    assert isolated.status.value == "True", isolated  # the agent ran in the sandbox
    prompts = [r.text for r in endpoint.model_requests()]
    assert any(GOAL in p and FEEDBACK not in p for p in prompts), "iteration 1 never got the goal"
    second = [p for p in prompts if FEEDBACK in p]
    assert second, "iteration 2's prompt did not carry the feedback"
    assert any("failed acceptance scenarios" in p for p in second)
    # Scenario ids only: what the holdouts check never reaches the agent.
    assert not any("stdout_matches" in p or "interaction:" in p for p in prompts)
    merged = (QUALITY / "greet.py").read_text().replace(TODO, RIGHT)
    assert (repo / "greet.py").read_text() == merged  # the winner, merged into main
    assert git(repo, "status", "--porcelain").strip() == ""


def test_a_revoked_key_fails_the_candidate_with_the_providers_message(factory: Factory) -> None:
    if CODEX.executable() is None:
        pytest.skip("codex is not installed (run `make agents`; it needs Node.js >= 20)")
    script = coding_script("greet.py", TODO, RIGHT, "python3 check.py", match=GOAL)
    with ModelEndpoint(script) as endpoint:
        endpoint.fail_always(401, "Incorrect API key provided: revoked-7f3b")
        greeter(factory, endpoint.base_url)
        factory.env["TEAM_LLM_KEY"] = DUMMY_KEY
        factory.up()
        factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: greet-401}}
spec: {{productRef: {{name: greeter}}, goal: "{GOAL}", maxIterations: 1}}
""")  # fmt: skip
        run = factory.wait_run("greet-401", finished, timeout=180)

    assert run.status.phase == "Failed"
    shown = factory.sf("run", "status", "greet-401", "-o", "json").stdout
    assert "401 Unauthorized: Incorrect API key provided: revoked-7f3b" in shown, shown[-3000:]
    assert DUMMY_KEY not in shown
