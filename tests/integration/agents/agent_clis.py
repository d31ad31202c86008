"""How to run each real coding-agent CLI the way Kilroy v0.1.0 runs it, against a ModelEndpoint.

The argv is Kilroy's (internal/providerspec/builtin.go and runCLI in
internal/attractor/engine/codergen_router.go at v0.1.0; see tools/agents/KILROY_NOTES.md);
:func:`agent_home` writes the per-user configuration that points each CLI at the
endpoint and turns off login, onboarding, telemetry and update checks, and
:func:`agent_env` is the environment (no network needed, a dummy key).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from factoryos.kilroy.agent_home import cli_env, write_agent_home
from factoryos.models.agents import KEY_ENV, AgentChoice, Provider

ROOT = Path(__file__).resolve().parents[3]
TOOLS_BIN = ROOT / ".tools" / "bin"

CODEX_OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"final": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["final", "summary"],
    "additionalProperties": False,
}
"""The schema Kilroy passes Codex with --output-schema (defaultCodexOutputSchema)."""


@dataclass(frozen=True)
class AgentCLI:
    name: str  # the executable Kilroy runs: codex, claude, gemini
    provider: str  # Kilroy's llm_provider
    model: str

    def executable(self) -> Path | None:
        found = shutil.which(self.name, path=str(TOOLS_BIN))
        return Path(found) if found else None

    def invocation(self, worktree: Path, prompt: str, stage_dir: Path) -> tuple[list[str], str]:
        """Kilroy's argv for this CLI and what it writes to the CLI's stdin."""
        if self.name == "codex":
            schema = stage_dir / "output_schema.json"
            schema.write_text(json.dumps(CODEX_OUTPUT_SCHEMA))
            argv = ["exec", "--json", "-m", self.model, "-C", str(worktree)]
            argv += ["--output-schema", str(schema), "-o", str(stage_dir / "output.json")]
            return argv, prompt  # the prompt goes to stdin
        if self.name == "claude":
            argv = ["-p", prompt, "--dangerously-skip-permissions", "--output-format"]
            argv += ["stream-json", "--verbose", "--model", self.model]
            return argv, "y\n"  # Kilroy answers a confirmation prompt, if any, with y
        argv = ["-p", prompt, "--output-format", "stream-json", "--yolo", "--model", self.model]
        return argv, "y\n"


CODEX = AgentCLI("codex", "openai", "gpt-5.4")
CLAUDE = AgentCLI("claude", "anthropic", "claude-sonnet-4-6")
GEMINI = AgentCLI("gemini", "google", "gemini-2.5-pro")
ALL = (CODEX, CLAUDE, GEMINI)

DUMMY_KEY = "sk-factoryos-test-dummy"


def choice(cli: AgentCLI, base_url: str) -> AgentChoice:
    """The product engine that picks this CLI with the endpoint as its gateway (OpenAI-style
    clients take the ``/v1`` prefix in the URL, as they do with any gateway)."""
    provider = Provider(cli.provider)
    url = base_url + "/v1" if provider is Provider.OPENAI else base_url
    return AgentChoice(provider=provider, model=cli.model, base_url=url)


def agent_home(cli: AgentCLI, home: Path, base_url: str) -> None:
    """Write the CLI's per-user settings under ``home`` as Factory OS's runner does
    (``factoryos.kilroy.agent_home``): the files these tests prove are the product's."""
    write_agent_home(home, choice(cli, base_url), user_home=None)


def agent_env(cli: AgentCLI, home: Path, base_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment: only PATH from the caller, HOME in the test, the endpoint, a dummy key."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # Codex refuses to make its helper links (apply_patch, ...) in a CODEX_HOME
        # under the temporary directory; a TMPDIR of our own keeps HOME outside it.
        "TMPDIR": str(home / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "NO_UPDATE_NOTIFIER": "1",
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    # The key under the provider's own variable, then what the runner adds for the CLI
    # (factoryos.kilroy.agent_home.cli_env). Kilroy hides ANTHROPIC_API_KEY from claude,
    # so claude gets only the token the runner adds.
    keys = {KEY_ENV[Provider(cli.provider)]: DUMMY_KEY}
    env.update(cli_env(choice(cli, base_url), keys, root=os.geteuid() == 0))
    if cli.name != "claude":
        env.update(keys)
    env.update(extra)
    return env


def agent_pipeline(goal: str, test_command: str | None = None) -> str:
    """A pipeline whose one agent node (no provider of its own: the engine's stylesheet
    gives it) works from ``$goal``, then ``test_command`` as a tool node if given; a
    failure of either fails the run."""
    prompt = "$goal\\n\\nWhen done, write your outcome to $KILROY_STAGE_STATUS_PATH."
    fails = '[condition="outcome!=success"]'
    steps = ["implement", "verify"] if test_command else ["implement"]
    verify = (
        f'  verify [shape=parallelogram, tool_command="{test_command}"]\n' if test_command else ""
    )
    edges = "".join(
        f"  {a} -> {b}\n  {a} -> fail_sink {fails}\n"
        for a, b in zip(steps, [*steps[1:], "exit"], strict=True)
    )
    return (
        f'digraph p {{\n  graph [goal="{goal}", default_max_retry="0"]\n'
        "  start [shape=Mdiamond]\n  exit [shape=Msquare]\n"
        f'  implement [shape=box,\n             prompt="{prompt}"]\n'
        f'{verify}  fail_sink [shape=parallelogram, tool_command="exit 1"]\n'
        f"  start -> implement\n{edges}}}\n"
    )
