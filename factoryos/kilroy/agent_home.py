"""The per-user settings and variables the real agent CLIs need to run unattended.

Kilroy v0.1.0 runs ``codex``, ``claude`` and ``gemini`` with its own argv and never
configures them (tools/agents/KILROY_NOTES.md). What each needs to work headless, with
a gateway and without network chatter, proven against the scripted endpoint in
tests/integration/agents:

- Codex 0.169: ``~/.codex/config.toml`` (Kilroy copies it into each stage's own
  CODEX_HOME). ``sandbox_mode = "workspace-write"``: Kilroy passes no sandbox flag and
  Codex's default lets it edit nothing while still exiting 0 (``danger-full-access``
  inside the factory's own sandbox, where Codex's nested one cannot write). A gateway is a model
  provider there (Codex ignores ``OPENAI_BASE_URL``).
- Claude Code 2.1: Kilroy removes ``ANTHROPIC_API_KEY`` from its environment, so the
  key also goes as ``ANTHROPIC_AUTH_TOKEN``; ``IS_SANDBOX=1`` when running as root
  (it refuses ``--dangerously-skip-permissions`` otherwise); updates, telemetry and
  error reports off; ``CLAUDE_CODE_MAX_RETRIES`` bounded; the gateway is
  ``ANTHROPIC_BASE_URL``.
- Gemini CLI 0.61: ``~/.gemini/settings.json`` choosing API-key auth (else exit 41)
  with folder trust off (else ``--yolo`` is ignored); ``GEMINI_CLI_NO_RELAUNCH``; the
  gateway is ``GOOGLE_GEMINI_BASE_URL``.

``home_files`` and ``cli_env`` are pure; the runner writes the files into a home of
the candidate's own (``write_agent_home``) and gives Kilroy ``HOME`` pointing there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from factoryos.errors import WorkspaceError
from factoryos.kilroy.agents import provider_of, providers_used, uses_cli
from factoryos.models.agents import KEY_ENV, AgentChoice, Provider

__all__ = ["cli_env", "home_files", "write_agent_home"]

#: How often Claude Code retries a failed model request before the stage fails.
CLAUDE_MAX_RETRIES = "3"

#: The model provider Factory OS defines in Codex's config for a gateway.
CODEX_PROVIDER = "factoryos-gateway"


def home_files(choice: AgentChoice, *, sandboxed: bool = False) -> dict[str, str]:
    """The files (relative to HOME) the chosen CLIs read, by path; ``sandboxed``: the
    candidate runs in the factory's sandbox (``factoryos.kilroy.sandbox``)."""
    if not uses_cli(choice):
        return {}
    used = providers_used(choice)
    files: dict[str, str] = {}
    if Provider.OPENAI in used:
        files[".codex/config.toml"] = _codex_config(choice, sandboxed)
    if Provider.GOOGLE in used:
        settings = {
            "security": {
                "auth": {"selectedType": "gemini-api-key"},
                "folderTrust": {"enabled": False},
            },
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        }
        files[".gemini/settings.json"] = json.dumps(settings, indent=2) + "\n"
    return files


def _codex_config(choice: AgentChoice, sandboxed: bool) -> str:
    # Codex's own sandbox is a bwrap too, which cannot nest in the factory's (its patch
    # tool fails to write the worktree there): in the factory's sandbox, where only the
    # candidate's folder is writable anyway, it is turned off.
    mode = "danger-full-access" if sandboxed else "workspace-write"
    lines = [f'sandbox_mode = "{mode}"', 'approval_policy = "never"']
    gateway = choice.base_url if provider_of(choice) is Provider.OPENAI else None
    if gateway is not None:
        lines = [f'model_provider = "{CODEX_PROVIDER}"', *lines, ""]
        lines += [
            f"[model_providers.{CODEX_PROVIDER}]",
            'name = "Factory OS gateway"',
            f"base_url = {json.dumps(gateway)}",
            f'env_key = "{KEY_ENV[Provider.OPENAI]}"',
            'wire_api = "responses"',
        ]
    return "\n".join(lines) + "\n"


def cli_env(choice: AgentChoice, key_values: dict[str, str], *, root: bool) -> dict[str, str]:
    """Variables for the chosen CLIs; ``key_values`` are the keys by their own variable."""
    if not uses_cli(choice):
        return {}
    used = providers_used(choice)
    env: dict[str, str] = {}
    gateway = choice.base_url
    engine_provider = provider_of(choice)
    if Provider.ANTHROPIC in used:
        env |= {
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            # A failed request is retried a few times (its own default is 10 with
            # exponential backoff, minutes on a revoked key), then the stage fails
            # and Kilroy's stage retry policy decides.
            "CLAUDE_CODE_MAX_RETRIES": CLAUDE_MAX_RETRIES,
        }
        key = key_values.get(KEY_ENV[Provider.ANTHROPIC])
        if key:
            env["ANTHROPIC_AUTH_TOKEN"] = key
        if root:
            env["IS_SANDBOX"] = "1"
        if gateway is not None and engine_provider is Provider.ANTHROPIC:
            env["ANTHROPIC_BASE_URL"] = gateway
    if Provider.GOOGLE in used:
        env["GEMINI_CLI_NO_RELAUNCH"] = "true"
        if gateway is not None and engine_provider is Provider.GOOGLE:
            env["GOOGLE_GEMINI_BASE_URL"] = gateway
    return env


def write_agent_home(
    home: Path, choice: AgentChoice | None, user_home: Path | None, *, sandboxed: bool = False
) -> Path:
    """Make ``home`` with the CLIs' files (none without a ``choice``) and the user's git
    identity (``~/.gitconfig``: Kilroy commits each stage with git, which reads it from
    HOME)."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)
        files = home_files(choice, sandboxed=sandboxed) if choice is not None else {}
        for relative, text in files.items():
            path = home / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        gitconfig = user_home / ".gitconfig" if user_home is not None else None
        if gitconfig is not None and gitconfig.is_file():
            shutil.copyfile(gitconfig, home / ".gitconfig")
    except OSError as exc:
        raise WorkspaceError(f"cannot write the agent's home {home}: {exc.strerror}") from exc
    return home
