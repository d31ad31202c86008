"""The pure parts of ``factoryos.kilroy.ingest``: Kilroy's argv, the environment, the skill."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import ConfigurationError, InvalidInputError
from factoryos.kilroy.ingest import (
    DEFAULT_MODEL,
    IngestRequest,
    find_skill,
    ingest_argv,
    ingest_env,
    native_model,
    skill_candidates,
)

KILROY = Path("/opt/kilroy")
SKILL = Path("/s/SKILL.md")


def test_catalog_models_become_claudes_names() -> None:
    assert DEFAULT_MODEL == "claude-sonnet-4.5"
    assert native_model("claude-sonnet-4.5") == "claude-sonnet-4-5"
    assert native_model("anthropic/claude-opus-4.6") == "claude-opus-4-6"
    assert native_model("claude-sonnet-4-6") == "claude-sonnet-4-6"


def test_argv_validates_later_and_passes_the_requirements_last(tmp_path: Path) -> None:
    request = IngestRequest("# Spec\nDo it.\n", tmp_path / "p.dot", repo=tmp_path, max_turns=7)
    argv = ingest_argv(KILROY, request, SKILL, tmp_path / "p.dot")
    assert argv[:5] == [str(KILROY), "attractor", "ingest", "--output", str(tmp_path / "p.dot")]
    assert argv[argv.index("--model") + 1] == "claude-sonnet-4-5"
    assert argv[argv.index("--skill") + 1] == str(SKILL)
    assert "--no-validate" in argv
    assert argv[argv.index("--repo") + 1] == str(tmp_path)
    assert argv[argv.index("--max-turns") + 1] == "7"
    assert argv[-1] == "# Spec\nDo it."


def test_requirements_starting_with_a_dash_are_not_taken_for_a_flag() -> None:
    argv = ingest_argv(KILROY, IngestRequest("- item one\n", Path("o.dot")), SKILL, Path("o.dot"))
    assert not argv[-1].startswith("-")
    assert "--repo" not in argv and "--max-turns" not in argv


def test_env_gives_claude_its_own_home_the_key_and_the_gateway(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "TEAM_KEY": "k-1",
        "ANTHROPIC_API_KEY": "developer-key",
        "ANTHROPIC_AUTH_TOKEN": "developer-token",
        "CLAUDE_CONFIG_DIR": "/root/.claude",
    }
    request = IngestRequest("x", Path("o.dot"), base_url="http://gw", credential_env="TEAM_KEY")
    env = ingest_env(base, request, home=tmp_path, state_dir=tmp_path / "s",
                     tools_dir=Path("/t"), root=True)  # fmt: skip
    assert env["HOME"] == str(tmp_path) and env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["ANTHROPIC_API_KEY"] == "k-1"
    assert "ANTHROPIC_AUTH_TOKEN" not in env and "CLAUDE_CONFIG_DIR" not in env
    assert env["ANTHROPIC_BASE_URL"] == "http://gw"
    assert env["IS_SANDBOX"] == "1" and env["DISABLE_AUTOUPDATER"] == "1"
    assert env["PATH"].split(":")[0] == "/t"
    assert env["XDG_STATE_HOME"] == str(tmp_path / "s")


def test_env_without_the_key_names_the_variable(tmp_path: Path) -> None:
    request = IngestRequest("x", Path("o.dot"), credential_env="TEAM_KEY")
    with pytest.raises(ConfigurationError, match="TEAM_KEY"):
        ingest_env({"ANTHROPIC_API_KEY": "other"}, request, home=tmp_path,
                   state_dir=tmp_path, tools_dir=tmp_path, root=False)  # fmt: skip


def test_the_skill_is_found_where_kilroy_looks(tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    cached = home / "go/pkg/mod/github.com/danshapiro/kilroy@v0.1.0/skills/create-dotfile/SKILL.md"
    assert skill_candidates(repo, {"HOME": str(home)}) == [
        repo / "skills/create-dotfile/SKILL.md",
        cached,
    ]
    with pytest.raises(InvalidInputError, match="--skill"):
        find_skill(repo, {"HOME": str(home)})
    cached.parent.mkdir(parents=True)
    cached.write_text("skill")
    assert find_skill(repo, {"HOME": str(home)}) == cached
    own = repo / "skills/create-dotfile/SKILL.md"
    own.parent.mkdir(parents=True)
    own.write_text("skill")
    assert find_skill(repo, {"HOME": str(home)}) == own


def test_sf_pipeline_ingest_asks_for_the_default_model() -> None:
    """The CLI spells the default out (importing the ingest would slow `sf pipeline run`)."""
    from factoryos.cli.pipeline import INGEST_MODEL

    assert INGEST_MODEL == DEFAULT_MODEL
