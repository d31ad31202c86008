"""The coding-agent CLIs Kilroy runs for ``backend: cli``, and the preflight that checks them.

``AGENT_CLIS`` names, for each provider, the command Kilroy v0.1.0 runs, the npm
package it comes from and the version Factory OS pins. The versions are installed
from ``tools/agents/package.json`` (``make tools``; a unit test keeps the two the
same) into ``.tools/bin``, and into the runner image.

``preflight`` answers, before anything runs, what would stop a run's agent nodes:
the CLI missing or at another version (``AgentCliMissing``), the key missing
(``CredentialMissing``), each with what to do. The local control plane's launcher
asks it for every Run (a Stalled Run says the same), and ``sf doctor`` prints it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from factoryos.kilroy.agents import key_env, provider_of, providers_used, uses_cli
from factoryos.models.agents import KEY_ENV, AgentChoice, Provider

__all__ = ["AGENT_CLIS", "AgentCli", "Finding", "installed_version", "preflight"]


@dataclass(frozen=True)
class AgentCli:
    """One provider's coding-agent CLI."""

    command: str
    package: str
    version: str


AGENT_CLIS: dict[Provider, AgentCli] = {
    Provider.OPENAI: AgentCli("codex", "@openai/codex", "0.169.0"),
    Provider.ANTHROPIC: AgentCli("claude", "@anthropic-ai/claude-code", "2.1.328"),
    Provider.GOOGLE: AgentCli("gemini", "@google/gemini-cli", "0.61.0"),
}

INSTALL_HINT = (
    "run `make tools` in the Factory OS checkout (it needs Node.js >= 20 and installs the "
    "pinned CLIs into .tools/bin), or choose engine.backend: api"
)


@dataclass(frozen=True)
class Finding:
    """One preflight check: ``reason`` is None when it passed."""

    check: str
    reason: str | None
    message: str

    @property
    def ok(self) -> bool:
        return self.reason is None


def installed_version(path: str) -> str | None:
    """The version ``PATH --version`` prints (the first x.y.z), None when it does not answer;
    asked once per file and modification time (reconcile passes ask again and again)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _version(os.path.realpath(path), stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _version(path: str, _mtime_ns: int) -> str | None:
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\d+\.\d+\.\d+", done.stdout + done.stderr)
    return found.group(0) if found else None


def preflight(
    choice: AgentChoice,
    env: Mapping[str, str],
    credential_env: str | None = None,
    *,
    which: Callable[[str, str], str | None] = lambda cmd, path: shutil.which(cmd, path=path),
    version: Callable[[str], str | None] = installed_version,
) -> list[Finding]:
    """Every check for ``choice`` in ``env`` (the environment Kilroy gets): the CLI of each
    provider (``backend: cli``) at its pinned version, then the engine provider's key."""
    findings: list[Finding] = []
    if uses_cli(choice):
        for provider in providers_used(choice):
            findings.append(_cli_finding(AGENT_CLIS[provider], env.get("PATH", ""), which, version))
    name = key_env(choice, credential_env)
    provider = provider_of(choice)
    if env.get(name):
        findings.append(Finding(f"{provider.value} key", None, f"{name} is set"))
    else:
        passed_as = (
            "" if name == KEY_ENV[provider] else f" (passed to the agent as {KEY_ENV[provider]})"
        )
        findings.append(
            Finding(
                f"{provider.value} key",
                "CredentialMissing",
                f"{name} is not set in the factory's environment{passed_as}: export it where "
                "`sf` (or the embedded factory) runs, then start the run again; on a cluster "
                "name a Secret in engine.credential (secretName, secretKey)",
            )
        )
    return findings


def _cli_finding(
    cli: AgentCli,
    path: str,
    which: Callable[[str, str], str | None],
    version: Callable[[str], str | None],
) -> Finding:
    check = f"{cli.command} CLI"
    found = which(cli.command, path)
    if found is None:
        return Finding(
            check,
            "AgentCliMissing",
            f"{cli.command} ({cli.package} {cli.version}) is not installed: {INSTALL_HINT}",
        )
    got = version(found)
    if got != cli.version:
        return Finding(
            check,
            "AgentCliMissing",
            f"{found} is {cli.package} {got or 'of an unknown version'}, not the pinned "
            f"{cli.version}: {INSTALL_HINT}",
        )
    return Finding(check, None, f"{found} is {cli.package} {got}")
