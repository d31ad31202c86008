"""What a product's agent choice becomes for Kilroy v0.1.0: run config, stylesheet, env.

``Kilroy.start`` puts ``llm_config`` into the run config, the runner puts
``model_stylesheet`` on the candidate's copy of the pipeline
(``graph_overrides``), and ``agent_env`` into Kilroy's environment, which
Kilroy passes on to the agent CLI. All three are pure.

- The stylesheet's universal rule gives every agent node that names no provider or
  model the engine's; a ``.class`` rule per ``models`` entry overrides it for that
  node class. Kilroy applies a stylesheet only to nodes that lack the attribute, so
  a pipeline that pins a node keeps it.
- Every provider used gets an explicit ``backend`` (Kilroy v0.1.0 refuses a run
  config without one). With ``backend: api`` and a gateway, the gateway is the
  provider's ``api.base_url``; with ``backend: cli`` it reaches the CLI the way that
  CLI takes it (``agent_home``: Codex's config file, claude's and gemini's variables).
- The key is read from the variable the product names (``credential.env``, default
  the provider's own) and handed to Kilroy under the provider's own name, which both
  backends read. Values are never written to a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factoryos.models.agents import (
    KEY_ENV,
    KNOWN_MODELS,
    AgentChoice,
    Backend,
    Provider,
)

__all__ = [
    "agent_env",
    "key_env",
    "llm_config",
    "model_stylesheet",
    "provider_of",
    "providers_used",
    "uses_cli",
]


def provider_of(choice: AgentChoice) -> Provider:
    return choice.provider or Provider.OPENAI


def uses_cli(choice: AgentChoice) -> bool:
    """True when agent nodes run the provider's CLI (``backend: cli``, the default)."""
    return (choice.backend or Backend.CLI) is Backend.CLI


def providers_used(choice: AgentChoice) -> list[Provider]:
    """The engine's provider first, then those only per-class overrides name."""
    found = [provider_of(choice)]
    for override in choice.models:
        if override.provider is not None and override.provider not in found:
            found.append(override.provider)
    return found


def model_stylesheet(choice: AgentChoice) -> str:
    """Kilroy's model stylesheet for ``choice``: a universal rule, then one per class."""
    provider = provider_of(choice)
    model = choice.model or KNOWN_MODELS[provider][0]
    rules = [f"* {{ llm_provider: {provider.value}; llm_model: {model}; }}"]
    for override in choice.models:
        rules.append(
            f".{override.node_class} {{ llm_provider: {(override.provider or provider).value}; "
            f"llm_model: {override.model}; }}"
        )
    return "\n".join(rules)


def llm_config(choice: AgentChoice) -> dict[str, Any]:
    """The run config's ``llm`` section for the ``real`` profile."""
    backend = Backend.CLI if uses_cli(choice) else Backend.API
    providers: dict[str, Any] = {}
    for provider in providers_used(choice):
        entry: dict[str, Any] = {"backend": backend.value}
        if backend is Backend.API:
            entry["api"] = {"api_key_env": KEY_ENV[provider]}
            if choice.base_url is not None and provider is provider_of(choice):
                entry["api"]["base_url"] = choice.base_url
        providers[provider.value] = entry
    return {"cli_profile": "real", "providers": providers}


def key_env(choice: AgentChoice, credential_env: str | None) -> str:
    """Where the engine's provider's key is read from: the named variable, else its own."""
    return credential_env or KEY_ENV[provider_of(choice)]


def agent_env(
    choice: AgentChoice, env: Mapping[str, str], credential_env: str | None = None
) -> dict[str, str]:
    """Each provider's key under its own name (what Kilroy and the CLIs read), taken from
    the variable the product names for the engine's provider."""
    keys: dict[str, str] = {}
    for provider in providers_used(choice):
        source = key_env(choice, credential_env) if provider is provider_of(choice) else None
        value = env.get(source or KEY_ENV[provider])
        if value:
            keys[KEY_ENV[provider]] = value
    return keys
