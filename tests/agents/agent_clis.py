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

ROOT = Path(__file__).resolve().parents[2]
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


def agent_home(cli: AgentCLI, home: Path, base_url: str) -> None:
    """Write the CLI's per-user settings under ``home`` (the HOME the CLI runs with)."""
    if cli.name == "codex":
        # Codex 0.169 ignores OPENAI_BASE_URL: the endpoint must be a model provider in
        # config.toml. Kilroy copies $HOME/.codex/config.toml (and auth.json) into the
        # isolated CODEX_HOME it makes per stage. Kilroy's argv sets no sandbox, and
        # Codex's default for exec is read-only (no edits), hence sandbox_mode.
        (home / ".codex").mkdir(parents=True, exist_ok=True)
        (home / ".codex" / "config.toml").write_text(
            'model_provider = "factoryos"\n'
            'sandbox_mode = "workspace-write"\n'
            'approval_policy = "never"\n'
            "[model_providers.factoryos]\n"
            'name = "Factory OS model endpoint"\n'
            f'base_url = "{base_url}/v1"\n'
            'env_key = "OPENAI_API_KEY"\n'
            'wire_api = "responses"\n'
            "request_max_retries = 2\n"
            "stream_max_retries = 2\n"
        )
    elif cli.name == "gemini":
        # Without these Gemini CLI stops at "Invalid auth method selected", and in an
        # untrusted folder it turns --yolo back into the default approval mode.
        (home / ".gemini").mkdir(parents=True, exist_ok=True)
        settings = {
            "security": {
                "auth": {"selectedType": "gemini-api-key"},
                "folderTrust": {"enabled": False},
            },
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        }
        (home / ".gemini" / "settings.json").write_text(json.dumps(settings))


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
    if cli.name == "codex":
        env["OPENAI_API_KEY"] = DUMMY_KEY  # the provider's env_key
    elif cli.name == "claude":
        env.update(
            ANTHROPIC_BASE_URL=base_url,
            # Kilroy removes ANTHROPIC_API_KEY from claude's environment, so the key
            # must come another way: ANTHROPIC_AUTH_TOKEN is sent as a Bearer token.
            ANTHROPIC_AUTH_TOKEN=DUMMY_KEY,
            DISABLE_AUTOUPDATER="1",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
            DISABLE_ERROR_REPORTING="1",
        )
        if os.geteuid() == 0:
            # As root, claude refuses --dangerously-skip-permissions unless it is told
            # it runs in a sandbox.
            env["IS_SANDBOX"] = "1"
    else:
        env.update(
            GOOGLE_GEMINI_BASE_URL=base_url,
            GEMINI_API_KEY=DUMMY_KEY,
            GEMINI_CLI_NO_RELAUNCH="true",
        )
    env.update(extra)
    return env
