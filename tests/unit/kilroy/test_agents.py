"""A product's agent choice as Kilroy's run config, model stylesheet and environment."""

from __future__ import annotations

from pathlib import Path

from factoryos.kilroy.agent_home import cli_env, home_files
from factoryos.kilroy.agents import agent_env, llm_config, model_stylesheet
from factoryos.kilroy.config import build_run_config
from factoryos.models.agents import AgentChoice, Backend, ModelOverride, Provider


def test_the_default_choice_is_codex_with_an_explicit_backend() -> None:
    assert llm_config(AgentChoice()) == {
        "cli_profile": "real",
        "providers": {"openai": {"backend": "cli"}},
    }
    assert model_stylesheet(AgentChoice()) == "* { llm_provider: openai; llm_model: gpt-5.4; }"


def test_every_provider_a_class_override_uses_gets_a_backend_and_a_rule() -> None:
    choice = AgentChoice(
        provider=Provider.ANTHROPIC,
        model="claude-sonnet-4.5",
        models=[ModelOverride(node_class="review", provider=Provider.OPENAI, model="gpt-5.2")],
    )
    assert set(llm_config(choice)["providers"]) == {"anthropic", "openai"}
    assert model_stylesheet(choice).splitlines() == [
        "* { llm_provider: anthropic; llm_model: claude-sonnet-4.5; }",
        ".review { llm_provider: openai; llm_model: gpt-5.2; }",
    ]


def test_a_gateway_is_the_api_base_url_or_the_clis_own_variable() -> None:
    api = AgentChoice(backend=Backend.API, model="llama", base_url="http://gw:8000/v1")
    assert llm_config(api)["providers"]["openai"] == {
        "backend": "api",
        "api": {"api_key_env": "OPENAI_API_KEY", "base_url": "http://gw:8000/v1"},
    }
    cli = AgentChoice(provider=Provider.ANTHROPIC, base_url="http://gw:4000")
    assert cli_env(cli, {"ANTHROPIC_API_KEY": "k"}, root=False)["ANTHROPIC_BASE_URL"] == (
        "http://gw:4000"
    )
    codex = home_files(AgentChoice(base_url="http://gw:8000/v1"))[".codex/config.toml"]
    assert 'base_url = "http://gw:8000/v1"' in codex and 'env_key = "OPENAI_API_KEY"' in codex
    assert cli_env(api, {}, root=False) == {} and home_files(api) == {}


def test_each_cli_is_set_up_to_run_unattended() -> None:
    codex = home_files(AgentChoice())[".codex/config.toml"]
    assert 'sandbox_mode = "workspace-write"' in codex and "model_provider" not in codex
    claude = cli_env(
        AgentChoice(provider=Provider.ANTHROPIC), {"ANTHROPIC_API_KEY": "k"}, root=True
    )
    assert claude["ANTHROPIC_AUTH_TOKEN"] == "k" and claude["IS_SANDBOX"] == "1"
    assert "IS_SANDBOX" not in cli_env(AgentChoice(provider=Provider.ANTHROPIC), {}, root=False)
    gemini = home_files(AgentChoice(provider=Provider.GOOGLE))[".gemini/settings.json"]
    assert '"selectedType": "gemini-api-key"' in gemini


def test_the_key_is_read_from_the_named_variable_and_passed_under_the_providers() -> None:
    env = {"TEAM_OPENAI_KEY": "sk-team", "OPENAI_API_KEY": "sk-personal", "UNRELATED": "x"}
    assert agent_env(AgentChoice(), env, "TEAM_OPENAI_KEY") == {"OPENAI_API_KEY": "sk-team"}
    assert agent_env(AgentChoice(), env) == {"OPENAI_API_KEY": "sk-personal"}
    assert agent_env(AgentChoice(), {}, "TEAM_OPENAI_KEY") == {}


def test_the_run_config_carries_the_llm_section_only_for_the_real_profile(tmp_path: Path) -> None:
    llm = llm_config(AgentChoice())
    real = build_run_config(workspace=tmp_path, catalog=tmp_path / "c.json", llm=llm)
    assert real["llm"] == llm
    shim = build_run_config(
        workspace=tmp_path, catalog=tmp_path / "c.json", agent_profile="test_shim",
        agent_executable=tmp_path / "agent", llm=llm,
    )  # fmt: skip
    assert shim["llm"]["cli_profile"] == "test_shim"


def test_in_the_factorys_sandbox_codex_does_not_nest_its_own() -> None:
    plain = home_files(AgentChoice())[".codex/config.toml"]
    boxed = home_files(AgentChoice(), sandboxed=True)[".codex/config.toml"]
    assert 'sandbox_mode = "workspace-write"' in plain
    assert 'sandbox_mode = "danger-full-access"' in boxed
