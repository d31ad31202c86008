"""The preflight of a product's agent: its CLIs at the pinned versions and its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factoryos.kilroy.agent_clis import AGENT_CLIS, preflight
from factoryos.models.agents import AgentChoice, Backend, ModelOverride, Provider

ROOT = Path(__file__).resolve().parents[3]


PINNED = {cli.command: cli.version for cli in AGENT_CLIS.values()}


def found(*commands: str) -> dict[str, Any]:
    """``which`` and ``version`` for a machine with ``commands`` at their pinned versions."""
    return {
        "which": lambda cmd, path: f"/t/{cmd}" if cmd in commands else None,
        "version": lambda path: PINNED[Path(path).name],
    }


def test_the_pins_are_the_ones_make_tools_installs() -> None:
    pinned = json.loads((ROOT / "tools" / "agents" / "package.json").read_text())["dependencies"]
    assert {cli.package: cli.version for cli in AGENT_CLIS.values()} == pinned


def test_every_provider_used_needs_its_cli_and_the_engines_provider_its_key() -> None:
    review = ModelOverride(node_class="r", provider=Provider.OPENAI, model="gpt-5.2")
    choice = AgentChoice(provider=Provider.ANTHROPIC, models=[review])
    findings = preflight(choice, {"ANTHROPIC_API_KEY": "k"}, **found("claude"))
    assert [(f.check, f.reason) for f in findings] == [
        ("claude CLI", None), ("codex CLI", "AgentCliMissing"), ("anthropic key", None),
    ]  # fmt: skip
    assert "make tools" in findings[1].message and "@openai/codex 0.169.0" in findings[1].message


def test_another_version_is_as_good_as_missing() -> None:
    (cli, _) = preflight(
        AgentChoice(),
        {"OPENAI_API_KEY": "k"},
        which=lambda c, p: "/x/codex",
        version=lambda p: "0.1.0",
    )
    assert cli.reason == "AgentCliMissing"
    assert "is @openai/codex 0.1.0, not the pinned 0.169.0" in cli.message


def test_a_missing_key_names_the_variable_and_what_to_do() -> None:
    (_, key) = preflight(AgentChoice(), {}, "TEAM_KEY", **found("codex"))
    assert key.reason == "CredentialMissing"
    assert key.message.startswith(
        "TEAM_KEY is not set in the factory's environment (passed to the agent as OPENAI_API_KEY)"
    )


def test_the_api_backend_needs_no_cli() -> None:
    findings = preflight(AgentChoice(backend=Backend.API), {"OPENAI_API_KEY": "k"}, **found())
    assert [f.check for f in findings] == ["openai key"] and findings[0].ok
