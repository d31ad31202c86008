"""The real agent CLIs (codex, claude, gemini from `make agents`) do a scripted task offline.

Each test makes a git repository with a file and a test script, starts the scripted
ModelEndpoint, runs the CLI non-interactively with Kilroy's argv (agent_clis.py)
and checks the file, the exit status and what the endpoint received. Skipped, with the
reason, when the CLI is not installed (Node.js < 20, or `make agents` not run).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from agent_clis import ALL, CLAUDE, CODEX, AgentCLI, agent_env, agent_home
from model_endpoint import ModelEndpoint, Script, coding_script

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOAL = "Make greet() say 'hello, world' (factoryos-goal-7c1e)"
OLD = '    return "hello"\n'
NEW = '    return "hello, world"\n'
TEST_COMMAND = "sh run_tests.sh"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    repo: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    (repo / "greet.py").write_text(f"def greet():\n{OLD}")
    (repo / "run_tests.sh").write_text(
        "#!/bin/sh\n"
        "python3 -c 'import greet; assert greet.greet() == \"hello, world\"' "
        "&& echo TESTS-PASSED > tests.out\n"
    )
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def _run(
    cli: AgentCLI,
    root: Path,
    endpoint: ModelEndpoint,
    repo: Path,
    extra: dict[str, str] | None = None,
) -> Run:
    exe = cli.executable()
    if exe is None:
        pytest.skip(f"{cli.name} is not installed (run `make agents`; it needs Node.js >= 20)")
    home, stage = root / "home", root / "stage"
    home.mkdir()
    stage.mkdir()
    agent_home(cli, home, endpoint.base_url)
    status_path = repo / "status.json"
    env = agent_env(
        cli,
        home,
        endpoint.base_url,
        {"KILROY_STAGE_STATUS_PATH": str(status_path), **(extra or {})},
    )
    argv, stdin = cli.invocation(repo, GOAL, stage)
    started = time.monotonic()
    done = subprocess.run(
        [str(exe), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=repo,
        env=env,
        timeout=180,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started, repo)


def _script() -> Script:
    return coding_script("greet.py", OLD, NEW, TEST_COMMAND, write_status=True, match=GOAL)


@pytest.mark.parametrize("cli", ALL, ids=lambda c: c.name)
def test_cli_does_the_scripted_task(cli: AgentCLI, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with ModelEndpoint(_script()) as endpoint:
        run = _run(cli, tmp_path, endpoint, repo)
    assert run.returncode == 0, run.output[-4000:]
    assert (repo / "greet.py").read_text() == f"def greet():\n{NEW}", run.output[-4000:]
    assert (repo / "tests.out").read_text().strip() == "TESTS-PASSED", "the test step did not run"
    status = json.loads((repo / "status.json").read_text())
    assert status["status"] == "success"  # written at $KILROY_STAGE_STATUS_PATH
    assert endpoint.received(GOAL), "the prompt never reached the model endpoint"
    # read, edit, test, status, final: one model turn each (plus any side requests)
    assert len([r for r in endpoint.model_requests() if GOAL in r.text]) >= 5
    if cli is CODEX:
        final = json.loads((tmp_path / "stage" / "output.json").read_text())
        assert set(final) == {"final", "summary"}  # Kilroy's structured-output contract


@pytest.mark.parametrize("cli", ALL, ids=lambda c: c.name)
def test_cli_exits_nonzero_on_401_with_the_provider_message(cli: AgentCLI, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    message = "scripted-401: the API key is not valid for this endpoint"
    with ModelEndpoint(_script()) as endpoint:
        endpoint.fail_always(401, message)
        # Claude Code retries a 401 ten times with exponential backoff (minutes) by default.
        run = _run(cli, tmp_path, endpoint, repo, {"CLAUDE_CODE_MAX_RETRIES": "1"})
    assert run.returncode != 0, run.output[-4000:]
    assert message in run.output, run.output[-4000:]
    assert (repo / "greet.py").read_text() == f"def greet():\n{OLD}"


@pytest.mark.parametrize("cli", [CODEX, CLAUDE], ids=lambda c: c.name)
def test_cli_retries_a_429_then_succeeds(cli: AgentCLI, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with ModelEndpoint(_script()) as endpoint:
        endpoint.fail_next(429, message="scripted-429: slow down")
        run = _run(cli, tmp_path, endpoint, repo)
    assert run.returncode == 0, run.output[-4000:]
    assert (repo / "greet.py").read_text() == f"def greet():\n{NEW}"
